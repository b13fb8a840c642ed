/* The streaming transports (SSE and HTTP-streaming emulation, POST /emulation) and the
 * unidirectional ones (uni_sse, uni_http_stream, uni_websocket) over real loopback sockets,
 * against the fake session layer of fake_core.c (it echoes what it is given; a unidirectional
 * session answers with a connect push and a ping). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/client.h"
#include "fake_core.h"
#include "util/err.h"
#include "util/log.h"

#define LAST_CHUNK "0\r\n\r\n"

/* ---- helpers (client thread) ---- */

static void post(tconn_t *c, const char *path, const char *extra, const char *body)
{
    char req[4096];
    snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Length: %zu\r\n\r\n%s",
             path, extra != NULL ? extra : "", strlen(body), body);
    tc_sends(c, req);
}

/* Status of a request answered on a fresh connection; keeps the head in head. */
static int request(scen_t *s, const char *raw, char *head, size_t cap)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, raw);
    int st = tc_read_http(c, head, cap, NULL, 0);
    tc_free(c);
    return st;
}

/* Wait until the buffered body holds n bytes, then copy them out (NUL-terminated). */
static bool take(tconn_t *c, size_t n, char *out)
{
    while (c->len < n)
        if (!tc_fill(c))
            return false;
    memcpy(out, c->buf, n);
    out[n] = '\0';
    tc_consume(c, n);
    return true;
}

/* Everything up to the peer's EOF. */
static void take_rest(tconn_t *c, char *out, size_t cap)
{
    while (tc_fill(c))
        ;
    size_t n = c->len < cap - 1 ? c->len : cap - 1;
    memcpy(out, c->buf, n);
    out[n] = '\0';
    tc_consume(c, c->len);
}

/* The chunk carrying body (as the server frames it). */
static void chunk(char *out, size_t cap, const char *body)
{
    snprintf(out, cap, "%zx\r\n%s\r\n", strlen(body), body);
}

static void enable_all(lc_config_t *cfg)
{
    cfg->sse_enabled = true;
    cfg->http_stream_enabled = true;
    cfg->uni_sse_enabled = true;
    cfg->uni_http_stream_enabled = true;
    cfg->uni_websocket_enabled = true;
}

/* ---- HTTP-streaming emulation ---- */

#define CONNECT_REPLY "{\"id\":1,\"connect\":{\"client\":\"c\",\"session\":\"s1\"}}"
#define PUB_PUSH "{\"push\":{\"channel\":\"ch\",\"pub\":{\"data\":1}}}"

static void sc_http_stream(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/http_stream", NULL, CONNECT_REPLY "\n" PUB_PUSH);
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    char want[512];
    chunk(want, sizeof(want), CONNECT_REPLY "\n" PUB_PUSH "\n");
    take(c, strlen(want), s->body[0]);
    tc_free(c); /* the peer going away ends the session */
    usleep(50000);
}

static void test_http_stream_reply_and_push_one_chunk(void **state)
{
    scen_t s = {0};
    run(&s, sc_http_stream, enable_all);
    assert_int_equal(s.status[0], 200);
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nTransfer-Encoding: chunked\r\n"));
    assert_non_null(
        strstr(s.head[0],
               "\r\nCache-Control: private, no-cache, no-store, must-revalidate, max-age=0\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nPragma: no-cache\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nX-Accel-Buffering: no\r\n"));
    assert_null(strstr(s.head[0], "Content-Length"));
    char want[512];
    chunk(want, sizeof(want), CONNECT_REPLY "\n" PUB_PUSH "\n");
    assert_string_equal(s.body[0], want);
    assert_int_equal(g.mode[0], LC_CLIENT_EMULATION);
    assert_string_equal(g.msg, CONNECT_REPLY "\n" PUB_PUSH);
    assert_int_equal(g.closed, 1);
}

static void sc_http_stream_refusals(scen_t *s)
{
    s->status[0] = request(s, "GET /connection/http_stream HTTP/1.1\r\n\r\n", s->head[0], 1024);
    s->status[1] = request(s, "OPTIONS /connection/http_stream HTTP/1.1\r\n\r\n", NULL, 0);
    tconn_t *c = tc_connect(s->port);
    char big[200];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    post(c, "/connection/http_stream", NULL, big);
    s->status[2] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
    s->status[3] =
        request(s, "POST /connection/http_stream HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}", NULL, 0);
}

static void small_bodies(lc_config_t *cfg)
{
    enable_all(cfg);
    cfg->http_stream_max_request_body_size = 100;
    cfg->sse_max_request_body_size = 100;
    cfg->emulation_max_request_body_size = 100;
    cfg->uni_http_stream_max_request_body_size = 100;
}

static void test_http_stream_405_200_413_505(void **state)
{
    scen_t s = {0};
    run(&s, sc_http_stream_refusals, small_bodies);
    assert_int_equal(s.status[0], 405);
    assert_non_null(strstr(s.head[0], "\r\nAllow: POST\r\n"));
    assert_int_equal(s.status[1], 200);
    assert_int_equal(s.status[2], 413);
    assert_int_equal(s.status[3], 505);
    assert_int_equal(g.created, 0);
}

/* ---- SSE emulation ---- */

static void sc_sse(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /connection/sse?cf_connect=%7B%22id%22%3A1%2C%22connect%22%3A%7B%7D%7D"
                "%0A%7B%7D HTTP/1.1\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    char want[256];
    chunk(want, sizeof(want), "data: {\"id\":1,\"connect\":{}}\n\ndata: {}\n\n");
    take(c, strlen("2\r\n\r\n\r\n") + strlen(want), s->body[0]);
    tc_free(c);
    s->status[1] = request(s, "GET /connection/sse HTTP/1.1\r\n\r\n", NULL, 0);
    s->status[2] = request(s, "OPTIONS /connection/sse HTTP/1.1\r\n\r\n", NULL, 0);
    c = tc_connect(s->port);
    post(c, "/connection/sse", NULL, "{\"id\":1,\"connect\":{}}");
    s->status[3] = tc_read_http(c, NULL, 0, NULL, 0);
    take(c, strlen("2\r\n\r\n\r\n"), s->body[1]);
    tc_free(c);
    usleep(50000);
}

static void test_sse_events_per_line_after_crlf_preamble(void **state)
{
    scen_t s = {0};
    run(&s, sc_sse, enable_all);
    assert_int_equal(s.status[0], 200);
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nTransfer-Encoding: chunked\r\n"));
    char want[256] = "2\r\n\r\n\r\n";
    chunk(want + strlen(want), sizeof(want) - strlen(want),
          "data: {\"id\":1,\"connect\":{}}\n\ndata: {}\n\n");
    assert_string_equal(s.body[0], want);
    assert_int_equal(s.status[1], 400); /* no cf_connect */
    assert_int_equal(s.status[2], 405); /* SSE takes GET and POST only */
    assert_int_equal(s.status[3], 200);
    assert_string_equal(s.body[1], "2\r\n\r\n\r\n");
    assert_int_equal(g.mode[0], LC_CLIENT_EMULATION);
    assert_int_equal(g.created, 2);
    assert_int_equal(g.closed, 2);
}

/* ---- POST /emulation ---- */

static void sc_emulation(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/http_stream", NULL, "{}");
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    char want[256];
    chunk(want, sizeof(want), "{}\n");
    take(c, strlen(want), s->body[0]);

    tconn_t *e = tc_connect(s->port);
    post(e, "/emulation", NULL,
         "{\"session\":\"s1\",\"node\":\"fake-node\",\"data\":\"{\\\"id\\\":2,\\\"rpc\\\":{}}\"}");
    s->status[1] = tc_read_http(e, s->head[1], 1024, NULL, 0);
    chunk(want, sizeof(want), "{\"id\":2,\"rpc\":{}}\n");
    take(c, strlen(want), s->body[1]);

    post(e, "/emulation", NULL, "{\"session\":\"s1\",\"node\":\"other\",\"data\":\"x\"}");
    s->op[0] = tc_read_http(e, NULL, 0, NULL, 0);
    post(e, "/emulation", NULL, "{\"session\":");
    s->op[1] = tc_read_http(e, NULL, 0, NULL, 0);
    post(e, "/emulation", NULL, "{\"session\":\"s1\",\"node\":\"fake-node\",\"data\":5}");
    s->op[2] = tc_read_http(e, NULL, 0, NULL, 0);
    char big[200];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    post(e, "/emulation", NULL, big);
    s->op[3] = tc_read_http(e, NULL, 0, NULL, 0);
    tc_free(e);

    /* the session closes: disconnect push, last chunk, end of the connection */
    e = tc_connect(s->port);
    post(e, "/emulation", NULL, "{\"session\":\"s1\",\"node\":\"fake-node\",\"data\":\"close\"}");
    s->status[2] = tc_read_http(e, NULL, 0, NULL, 0);
    tc_free(e);
    take_rest(c, s->body[2], 1024);
    tc_free(c);
}

static void test_emulation_commands_reach_session_stream(void **state)
{
    scen_t s = {0};
    run(&s, sc_emulation, small_bodies);
    assert_int_equal(s.status[0], 200);
    assert_int_equal(s.status[1], 204);
    assert_null(strstr(s.head[1], "Content-Length"));
    char want[256];
    chunk(want, sizeof(want), "{\"id\":2,\"rpc\":{}}\n");
    assert_string_equal(s.body[1], want);
    assert_int_equal(s.op[0], 404); /* another node */
    assert_int_equal(s.op[1], 400); /* not JSON */
    assert_int_equal(s.op[2], 204); /* data not a string: dropped */
    assert_int_equal(s.op[3], 413);
    assert_int_equal(s.status[2], 204);
    chunk(want, sizeof(want),
          "{\"push\":{\"disconnect\":{\"code\":3501,\"reason\":\"bad request\"}}}\n");
    strcat(want, LAST_CHUNK);
    assert_string_equal(s.body[2], want);
    assert_int_equal(g.emulated, 2);
    assert_int_equal(g.closed, 1);
}

/* ---- CORS ---- */

static void sc_cors(scen_t *s)
{
    s->status[0] = request(s,
                           "OPTIONS /emulation HTTP/1.1\r\nOrigin: https://a.example.com\r\n"
                           "Access-Control-Request-Headers: content-type\r\n\r\n",
                           s->head[0], 1024);
    s->status[1] = request(s,
                           "POST /connection/http_stream HTTP/1.1\r\nOrigin: https://evil.com\r\n"
                           "Content-Length: 2\r\n\r\n{}",
                           NULL, 0);
    s->status[2] = request(s,
                           "OPTIONS /connection/uni_http_stream HTTP/1.1\r\n"
                           "Origin: https://b.example.com\r\n\r\n",
                           s->head[2], 1024);
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/http_stream", "Origin: https://b.example.com\r\n", "{}");
    s->status[3] = tc_read_http(c, s->head[3], 1024, NULL, 0);
    tc_free(c);
    usleep(50000);
}

static void cors_origins(lc_config_t *cfg)
{
    enable_all(cfg);
    cfg->allowed_origins = calloc(2, sizeof(char *));
    cfg->allowed_origins[0] = strdup("https://*.example.com");
    cfg->n_allowed_origins = 1;
}

static void test_cors_origin_echoed_or_403(void **state)
{
    scen_t s = {0};
    run(&s, sc_cors, cors_origins);
    assert_int_equal(s.status[0], 200);
    assert_non_null(
        strstr(s.head[0], "\r\nAccess-Control-Allow-Origin: https://a.example.com\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nAccess-Control-Allow-Credentials: true\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nAccess-Control-Allow-Headers: content-type\r\n"));
    assert_int_equal(s.status[1], 403);
    assert_int_equal(s.status[2], 204);
    assert_non_null(strstr(s.head[2], "\r\nAccess-Control-Allow-Methods: POST, OPTIONS\r\n"));
    assert_non_null(strstr(s.head[2], "\r\nAccess-Control-Max-Age: 300\r\n"));
    assert_int_equal(s.status[3], 200);
    assert_non_null(
        strstr(s.head[3], "\r\nAccess-Control-Allow-Origin: https://b.example.com\r\n"));
    assert_int_equal(g.created, 1);
}

/* ---- the end of a stream ---- */

static void sc_stream_stop(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/http_stream", NULL, "{}");
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    take(c, strlen("3\r\n{}\n\r\n"), s->body[0]);
    atomic_store(&s->want_stop, 1);
    uv_async_send(&s->w->async);
    take_rest(c, s->body[1], 1024);
    tc_free(c);
}

static void test_stop_ends_stream_with_disconnect_push_and_last_chunk(void **state)
{
    scen_t s = {0};
    run(&s, sc_stream_stop, enable_all);
    assert_string_equal(s.body[0], "3\r\n{}\n\r\n");
    char want[256];
    chunk(want, sizeof(want),
          "{\"push\":{\"disconnect\":{\"code\":3001,\"reason\":\"shutdown\"}}}\n");
    strcat(want, LAST_CHUNK);
    assert_string_equal(s.body[1], want);
    assert_int_equal(g.closed, 1);
}

static void sc_stream_flood(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/http_stream", NULL, "flood");
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    while (tc_fill(c))
        ;
    s->plen[0] = c->len;
    size_t tail = c->len < 200 ? c->len : 200;
    memcpy(s->body[0], c->buf + c->len - tail, tail);
    s->body[0][tail] = '\0';
    tc_free(c);
}

static void small_queue(lc_config_t *cfg)
{
    enable_all(cfg);
    cfg->queue_max_size = 4500;
}

static void test_stream_queue_over_bound_eslow_then_3008(void **state)
{
    scen_t s = {0};
    run(&s, sc_stream_flood, small_queue);
    /* a frame is "3e9\r\n" + 1000 bytes + "\n" + "\r\n" = 1008 bytes: 4 fit in 4500 */
    assert_int_equal(g.flood_ok, 4);
    assert_int_equal(g.flood_rc, LC_ESLOW);
    char want[256];
    chunk(want, sizeof(want), "{\"push\":{\"disconnect\":{\"code\":3008,\"reason\":\"slow\"}}}\n");
    strcat(want, LAST_CHUNK);
    assert_int_equal(s.plen[0], 4 * 1008 + strlen(want));
    assert_non_null(strstr(s.body[0], want));
    assert_int_equal(g.closed, 1);
}

/* ---- unidirectional streams ---- */

#define UNI_PUSHES "{\"connect\":{\"client\":\"c1\"}}"

static void sc_uni_http_stream(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    post(c, "/connection/uni_http_stream", NULL, "{\n  \"token\": \"t\"\n}");
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    char want[256];
    chunk(want, sizeof(want), UNI_PUSHES "\n{}\n");
    take(c, strlen(want), s->body[0]);
    tc_free(c);
    c = tc_connect(s->port);
    post(c, "/connection/uni_http_stream", NULL, "[1]");
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
    s->status[2] = request(s, "GET /connection/uni_http_stream HTTP/1.1\r\n\r\n", NULL, 0);
    usleep(50000);
}

static void test_uni_http_stream_bare_pushes(void **state)
{
    scen_t s = {0};
    run(&s, sc_uni_http_stream, enable_all);
    assert_int_equal(s.status[0], 200);
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: application/json\r\n"));
    char want[256];
    chunk(want, sizeof(want), UNI_PUSHES "\n{}\n");
    assert_string_equal(s.body[0], want);
    assert_int_equal(g.mode[0], LC_CLIENT_UNI);
    /* line breaks of the request become spaces: the command stays one line */
    assert_string_equal(g.msg, "{\"id\":1,\"connect\":{   \"token\": \"t\" }}");
    assert_int_equal(s.status[1], 400);
    assert_int_equal(s.status[2], 405);
    assert_int_equal(g.created, 1);
}

static void sc_uni_sse(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /connection/uni_sse HTTP/1.1\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    char want[256] = "2\r\n\r\n\r\n";
    chunk(want + strlen(want), sizeof(want) - strlen(want), "data: " UNI_PUSHES "\n\ndata: {}\n\n");
    take(c, strlen(want), s->body[0]);
    tc_free(c);
    usleep(50000);
    c = tc_connect(s->port);
    post(c, "/connection/uni_sse", NULL, "null");
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    take(c, strlen(want), s->body[1]);
    tc_free(c);
    s->status[2] =
        request(s, "GET /connection/uni_sse?cf_connect=%5B%5D HTTP/1.1\r\n\r\n", NULL, 0);
    usleep(50000);
}

static void test_uni_sse_empty_request_and_null(void **state)
{
    scen_t s = {0};
    run(&s, sc_uni_sse, enable_all);
    assert_int_equal(s.status[0], 200);
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: text/event-stream; charset=utf-8\r\n"));
    char want[256] = "2\r\n\r\n\r\n";
    chunk(want + strlen(want), sizeof(want) - strlen(want), "data: " UNI_PUSHES "\n\ndata: {}\n\n");
    assert_string_equal(s.body[0], want);
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], want);
    assert_string_equal(g.msg, "{\"id\":1,\"connect\":{}}"); /* null is an empty request */
    assert_int_equal(s.status[2], 400);
    assert_int_equal(g.created, 2);
}

/* ---- uni_websocket ---- */

static uint16_t close_code(const char *p)
{
    return (uint16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
}

static void sc_uni_ws(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/uni_websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "{\"token\":\"t\"}", 13);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, NULL);
    tc_ws_send(c, 1, 1, "dropped", 7);
    usleep(30000);
    atomic_store(&s->want_stop, 1);
    uv_async_send(&s->w->async);
    s->op[2] = tc_ws_read(c, s->body[2], 1024, NULL);
    s->op[3] = tc_ws_read(c, s->body[3], 1024, &s->plen[3]);
    tc_ws_send(c, 1, 8, s->body[3], 2);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_uni_ws_connect_request_then_pushes_and_disconnect(void **state)
{
    scen_t s = {0};
    run(&s, sc_uni_ws, enable_all);
    assert_int_equal(s.status[0], 101);
    assert_true(g.native_ping[0]);
    assert_int_equal(g.mode[0], LC_CLIENT_UNI);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], UNI_PUSHES);
    assert_int_equal(s.op[1], 1);
    assert_string_equal(s.body[1], "{}");
    assert_int_equal(g.messages, 1); /* later messages are dropped */
    assert_string_equal(g.msg, "{\"id\":1,\"connect\":{\"token\":\"t\"}}");
    assert_int_equal(s.op[2], 1);
    assert_string_equal(s.body[2], "{\"disconnect\":{\"code\":3001,\"reason\":\"shutdown\"}}");
    assert_int_equal(s.op[3], 8);
    assert_int_equal(close_code(s.body[3]), 3001);
    assert_true(s.eof);
    assert_int_equal(g.closed, 1);
}

static void sc_uni_ws_bad(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/uni_websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "nope", 4);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    tc_ws_send(c, 1, 8, s->body[0], 2);
    s->eof = tc_eof(c);
    tc_free(c);
    c = tc_connect(s->port);
    s->status[1] =
        tc_ws_open(c, "/connection/uni_websocket?cf_connect=%7B%22token%22%3A1%7D", NULL, NULL, 0);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, NULL);
    tc_free(c);
}

static void uni_ws_join(lc_config_t *cfg)
{
    enable_all(cfg);
    cfg->uni_websocket_join_push_messages = true;
}

static void test_uni_ws_bad_request_3501_and_query_connect_joined(void **state)
{
    scen_t s = {0};
    run(&s, sc_uni_ws_bad, uni_ws_join);
    assert_int_equal(s.status[0], 101);
    assert_int_equal(s.op[0], 8); /* the close frame alone: no session spoke yet */
    assert_int_equal(close_code(s.body[0]), 3501);
    assert_string_equal(s.body[0] + 2, "bad request");
    assert_true(s.eof);
    assert_int_equal(s.status[1], 101);
    assert_int_equal(s.op[1], 1);
    assert_string_equal(s.body[1], UNI_PUSHES "\n{}");
    assert_string_equal(g.msg, "{\"id\":1,\"connect\":{\"token\":1}}");
    assert_int_equal(g.messages, 1);
}

static void test_disabled_endpoints_not_routed(void **state)
{
    scen_t s = {0};
    run(&s, sc_http_stream_refusals, NULL);
    assert_int_equal(s.status[0], 404);
    assert_int_equal(s.status[1], 404);
}

int main(void)
{
    lc_log_set_level(LC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_stream_reply_and_push_one_chunk),
        cmocka_unit_test(test_http_stream_405_200_413_505),
        cmocka_unit_test(test_sse_events_per_line_after_crlf_preamble),
        cmocka_unit_test(test_emulation_commands_reach_session_stream),
        cmocka_unit_test(test_cors_origin_echoed_or_403),
        cmocka_unit_test(test_stop_ends_stream_with_disconnect_push_and_last_chunk),
        cmocka_unit_test(test_stream_queue_over_bound_eslow_then_3008),
        cmocka_unit_test(test_uni_http_stream_bare_pushes),
        cmocka_unit_test(test_uni_sse_empty_request_and_null),
        cmocka_unit_test(test_uni_ws_connect_request_then_pushes_and_disconnect),
        cmocka_unit_test(test_uni_ws_bad_request_3501_and_query_connect_joined),
        cmocka_unit_test(test_disabled_endpoints_not_routed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
