/* Proxy protocol: request bodies for every kind, forwarded headers, Laravel channel names, and
 * whole calls against a one-shot HTTP server on the test's own loop. The backends' answers
 * (lc_proxy_parse, lc_proxy_laravel_parse) are in test_proxy_parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <uv.h>

#include "hooks/proxy.h"
#include "util/err.h"

/* ---- helpers ---- */

static lc_proxy_conf_t conf_default(void)
{
    lc_proxy_conf_t c;

    memset(&c, 0, sizeof(c));
    c.name = "default";
    c.endpoint = "http://127.0.0.1:1/proxy";
    c.timeout_ms = 1000;
    return c;
}

static lc_raw_t raw(const char *s)
{
    lc_raw_t r = {s, s != NULL ? strlen(s) : 0};
    return r;
}

static void assert_encoded(const lc_proxy_req_t *r, const lc_proxy_conf_t *c, const char *want)
{
    lc_buf_t b = LC_BUF_INIT;

    assert_int_equal(lc_proxy_encode(r, c, &b), 0);
    assert_string_equal(b.data, want);
    lc_buf_free(&b);
}

/* ---- encode ---- */

static void test_proxy_encode_connect_full_exact(void **state)
{
    lc_proxy_conf_t c = conf_default();
    const char *chans[] = {"news", "chat:1"};
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_CONNECT;
    r.client = "c1";
    r.transport = "websocket";
    r.user = "ignored";
    r.name = "js";
    r.version = "1.0";
    r.data = raw("{\"big\":12345678901234567890123, \"f\":1.50}");
    r.channels = chans;
    r.n_channels = 2;
    r.meta = raw("{\"m\":1}");
    c.include_connection_meta = true; /* connect never carries meta */
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"data\":{\"big\":12345678901234567890123, "
                   "\"f\":1.50},\"name\":\"js\",\"version\":\"1.0\","
                   "\"channels\":[\"news\",\"chat:1\"]}");
}

static void test_proxy_encode_connect_minimal_omits_empty(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_CONNECT;
    r.client = "c\"2";
    r.transport = "sse";
    r.name = "";
    assert_encoded(&r, &c,
                   "{\"client\":\"c\\\"2\",\"transport\":\"sse\",\"protocol\":\"json\","
                   "\"encoding\":\"json\"}");
}

static void test_proxy_encode_refresh_user_always_meta_optional(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_REFRESH;
    r.client = "c1";
    r.transport = "websocket";
    r.user = NULL;
    r.meta = raw("{\"tenant\":7}");
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"\"}");
    c.include_connection_meta = true;
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"\",\"meta\":{\"tenant\":7}}");
    r.meta = raw(NULL);
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"\"}");
}

static void test_proxy_encode_subscribe_data_byte_for_byte(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_SUBSCRIBE;
    r.client = "c1";
    r.transport = "websocket";
    r.user = "42";
    r.channel = "chat:index";
    r.data = raw("[1e400,\n-0.0,\"\\u00e9\"]");
    r.meta = raw("{\"a\":1}");
    c.include_connection_meta = true;
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"42\",\"channel\":\"chat:index\","
                   "\"data\":[1e400,\n-0.0,\"\\u00e9\"],\"meta\":{\"a\":1}}");
}

static void test_proxy_encode_publish_binary_encoding_b64data(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    c.binary_encoding = true;
    r.kind = LC_PROXY_PUBLISH;
    r.client = "c1";
    r.transport = "http_stream";
    r.user = "";
    r.channel = "ch";
    r.data = raw("{\"x\":1}");
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"http_stream\",\"protocol\":\"json\","
                   "\"encoding\":\"binary\",\"user\":\"\",\"channel\":\"ch\","
                   "\"b64data\":\"eyJ4IjoxfQ==\"}");
}

static void test_proxy_encode_sub_refresh_has_no_data(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_SUB_REFRESH;
    r.client = "c1";
    r.transport = "websocket";
    r.user = "u";
    r.channel = "ch";
    r.data = raw("{}");
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"u\",\"channel\":\"ch\"}");
}

static void test_proxy_encode_rpc_method_and_data(void **state)
{
    lc_proxy_conf_t c = conf_default();
    lc_proxy_req_t r = {0};

    r.kind = LC_PROXY_RPC;
    r.client = "c1";
    r.transport = "websocket";
    r.user = "u";
    r.method = "ns:getUser";
    r.data = raw("{\"id\":9007199254740993}");
    r.channel = "not-sent";
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"u\",\"method\":\"ns:getUser\","
                   "\"data\":{\"id\":9007199254740993}}");
    r.data = raw(NULL);
    assert_encoded(&r, &c,
                   "{\"client\":\"c1\",\"transport\":\"websocket\",\"protocol\":\"json\","
                   "\"encoding\":\"json\",\"user\":\"u\",\"method\":\"ns:getUser\"}");
}

/* ---- headers ---- */

static void test_proxy_headers_allow_lists_and_precedence(void **state)
{
    lc_proxy_conf_t c = conf_default();
    char *allow_http[] = {"cookie", "AUTHORIZATION", "x-real-ip"};
    char *allow_emu[] = {"Authorization", "X-Tenant"};
    char *static_names[] = {"X-Api-Key", "x-tenant", "Authorization"};
    char *static_values[] = {"k", "static-tenant", "static-auth"};
    lc_http_header_t conn[] = {
        {"Cookie", "sid=1"},
        {"User-Agent", "ua"},
        {"Authorization", "Bearer transport"},
        {"Cookie", "b=2"},
    };
    lc_http_header_t emu[] = {
        {"authorization", "Bearer emulated"},
        {"X-TENANT", "emulated-tenant"},
        {"X-Other", "no"},
    };
    lc_proxy_req_t r = {0};
    lc_http_header_t out[16];
    size_t n;

    c.http_headers = allow_http;
    c.n_http_headers = 3;
    c.emulated_headers = allow_emu;
    c.n_emulated_headers = 2;
    c.static_header_names = static_names;
    c.static_header_values = static_values;
    c.n_static_headers = 3;
    r.kind = LC_PROXY_CONNECT;
    r.conn_headers = conn;
    r.n_conn_headers = 4;
    r.emulated_headers = emu;
    r.n_emulated_headers = 3;

    n = lc_proxy_headers(&c, &r, out, 16);
    assert_int_equal(n, 5);
    assert_string_equal(out[0].name, "X-Api-Key"); /* static, never overridden */
    assert_string_equal(out[0].value, "k");
    assert_string_equal(out[1].name, "X-TENANT"); /* emulated replaced the static one */
    assert_string_equal(out[1].value, "emulated-tenant");
    assert_string_equal(out[2].name, "Cookie"); /* transport headers, both Cookie lines kept */
    assert_string_equal(out[2].value, "sid=1");
    assert_string_equal(out[3].name, "Authorization"); /* transport wins over emulated */
    assert_string_equal(out[3].value, "Bearer transport");
    assert_string_equal(out[4].name, "Cookie");
    assert_string_equal(out[4].value, "b=2");

    /* nothing allowed: only the static headers */
    c.n_http_headers = 0;
    c.n_emulated_headers = 0;
    n = lc_proxy_headers(&c, &r, out, 16);
    assert_int_equal(n, 3);
    assert_string_equal(out[2].value, "static-auth");

    /* max bounds the output */
    assert_int_equal(lc_proxy_headers(&c, &r, out, 2), 2);
    assert_int_equal(lc_proxy_headers(&c, &r, out, 0), 0);
}

static void test_proxy_headers_unsafe_dropped(void **state)
{
    lc_proxy_conf_t c = conf_default();
    char *allow_emu[] = {"X-A", "Content-Type", "X-B", "content-length", "Bad Name"};
    lc_http_header_t emu[] = {
        {"X-A", "one\r\nX-Injected: 1"},
        {"Content-Type", "text/plain"},
        {"X-B", "fine"},
        {"Content-Length", "5"},
        {"Bad Name", "v"},
        {"X-A", NULL},
        {NULL, "v"},
    };
    lc_proxy_req_t r = {0};
    lc_http_header_t out[8];
    size_t n;

    c.emulated_headers = allow_emu;
    c.n_emulated_headers = 5;
    r.kind = LC_PROXY_CONNECT;
    r.emulated_headers = emu;
    r.n_emulated_headers = 7;
    n = lc_proxy_headers(&c, &r, out, 8);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].name, "X-B");
    assert_string_equal(out[0].value, "fine");
}

/* ---- Laravel channel names ---- */

static void test_proxy_laravel_channel_mapping(void **state)
{
    static const char *const table[][2] = {
        {"$orders.1", "private-orders.1"},
        {"$presence-chat.1", "presence-chat.1"},
        {"presence-chat.1", "presence-chat.1"},
        {"private-orders.1", "private-orders.1"},
        {"news", "private-news"},
        {"chat:index", "private-chat:index"},
        {"$encrypted-x", "private-encrypted-x"},
        {"presence", "private-presence"},
        {"$$x", "private-$x"},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        lc_buf_t b = LC_BUF_INIT;
        assert_int_equal(lc_proxy_laravel_channel(table[i][0], &b), 0);
        assert_string_equal(b.data, table[i][1]);
        lc_buf_free(&b);
    }
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_proxy_laravel_channel("", &b), LC_EINVAL);
    assert_int_equal(lc_proxy_laravel_channel("$", &b), LC_EINVAL);
    assert_int_equal(lc_proxy_laravel_channel(NULL, &b), LC_EINVAL);
    lc_buf_free(&b);
}

/* ---- whole calls on a loop ---- */

/* A one-connection HTTP server: records the request, answers `response` once it is complete
 * (or never, when response is NULL). */
typedef struct srv {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_tcp_t conn;
    bool accepted;
    uv_write_t wr;
    lc_buf_t req;
    const char *response;
    int port;
} srv_t;

typedef struct outcome {
    int calls;
    int err;
    int type;
    uint32_t code;
    lc_buf_t info;
    long status;
} outcome_t;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char space[65536];
    *buf = uv_buf_init(space, sizeof(space));
}

static void on_written(uv_write_t *w, int status)
{
    srv_t *s = w->data;
    uv_close((uv_handle_t *)&s->conn, NULL);
}

static bool request_complete(const lc_buf_t *b)
{
    const char *end = b->data != NULL ? strstr(b->data, "\r\n\r\n") : NULL;
    const char *cl = b->data != NULL ? strstr(b->data, "\r\nContent-Length:") : NULL;

    if (end == NULL)
        return false;
    size_t body = cl != NULL ? (size_t)strtoul(cl + 17, NULL, 10) : 0;
    return b->len >= (size_t)(end + 4 - b->data) + body;
}

static void on_srv_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    srv_t *s = st->data;

    if (n < 0) {
        uv_close((uv_handle_t *)st, NULL);
        return;
    }
    assert_int_equal(lc_buf_append(&s->req, buf->base, (size_t)n), 0);
    if (s->response != NULL && request_complete(&s->req)) {
        uv_buf_t out = uv_buf_init((char *)s->response, (unsigned)strlen(s->response));
        uv_read_stop(st);
        s->wr.data = s;
        assert_int_equal(uv_write(&s->wr, st, &out, 1, on_written), 0);
    }
}

static void on_srv_conn(uv_stream_t *l, int status)
{
    srv_t *s = l->data;

    assert_int_equal(status, 0);
    assert_false(s->accepted);
    assert_int_equal(uv_tcp_init(s->loop, &s->conn), 0);
    s->conn.data = s;
    s->accepted = true;
    assert_int_equal(uv_accept(l, (uv_stream_t *)&s->conn), 0);
    assert_int_equal(uv_read_start((uv_stream_t *)&s->conn, on_alloc, on_srv_read), 0);
}

static void srv_start(srv_t *s, uv_loop_t *loop, const char *response)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->response = response;
    assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
    s->listener.data = s;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
    assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 4, on_srv_conn), 0);
    assert_int_equal(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len), 0);
    s->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void srv_stop(srv_t *s)
{
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->accepted && !uv_is_closing((uv_handle_t *)&s->conn))
        uv_close((uv_handle_t *)&s->conn, NULL);
}

static void on_reply(void *arg, int err, const lc_proxy_reply_t *reply)
{
    outcome_t *o = arg;

    o->calls++;
    o->err = err;
    if (err == 0) {
        assert_non_null(reply);
        o->type = reply->type;
        o->code = reply->code;
        if (reply->info != NULL)
            assert_int_equal(lc_buf_append(&o->info, reply->info, reply->info_len), 0);
    }
    assert_non_null(reply);
    o->status = reply->status;
}

static void on_hc_closed(void *arg)
{
    *(bool *)arg = true;
}

/* Run until the call has answered, then close everything and check nothing is left. */
static void finish_loop(uv_loop_t *loop, lc_httpc_t *hc, srv_t *s, outcome_t *o)
{
    bool closed = false;

    while (o->calls == 0 && uv_run(loop, UV_RUN_ONCE) != 0)
        ;
    lc_httpc_close(hc, on_hc_closed, &closed);
    srv_stop(s);
    uv_run(loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(uv_loop_close(loop), 0);
}

static lc_proxy_conf_t conf_for(const srv_t *s, char *url, size_t n)
{
    lc_proxy_conf_t c = conf_default();

    snprintf(url, n, "http://127.0.0.1:%d/proxy", s->port);
    c.endpoint = url;
    c.timeout_ms = 5000;
    return c;
}

static void test_proxy_call_posts_json_and_answers(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                               "Content-Length: 29\r\nConnection: close\r\n\r\n"
                               "{\"result\":{\"info\":{\"a\":1}}}  ";
    char *allow[] = {"Cookie"};
    lc_http_header_t conn[] = {{"cookie", "sid=7"}, {"Origin", "x"}};
    uv_loop_t loop;
    srv_t s;
    outcome_t o = {0};
    char url[64];
    lc_proxy_req_t r = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&s, &loop, resp);
    lc_proxy_conf_t c = conf_for(&s, url, sizeof(url));
    c.http_headers = allow;
    c.n_http_headers = 1;
    lc_httpc_t *hc = lc_httpc_new(&loop);
    assert_non_null(hc);
    r.kind = LC_PROXY_SUBSCRIBE;
    r.client = "c1";
    r.transport = "websocket";
    r.user = "u1";
    r.channel = "chat:1";
    r.conn_headers = conn;
    r.n_conn_headers = 2;
    assert_non_null(lc_proxy_call(hc, &c, &r, on_reply, &o));
    assert_int_equal(o.calls, 0); /* never from inside the start call */
    finish_loop(&loop, hc, &s, &o);

    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.type, LC_PROXY_RESULT);
    assert_string_equal(o.info.data, "{\"a\":1}");
    assert_non_null(strstr(s.req.data, "POST /proxy HTTP/1.1\r\n"));
    assert_non_null(strstr(s.req.data, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(s.req.data, "\r\ncookie: sid=7\r\n"));
    assert_null(strstr(s.req.data, "Origin"));
    assert_non_null(strstr(s.req.data,
                           "\r\n\r\n{\"client\":\"c1\",\"transport\":\"websocket\","
                           "\"protocol\":\"json\",\"encoding\":\"json\",\"user\":\"u1\","
                           "\"channel\":\"chat:1\"}"));
    lc_buf_free(&o.info);
    lc_buf_free(&s.req);
}

static void test_proxy_call_non_200_is_eio(void **state)
{
    static const char resp[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n"
                               "Connection: close\r\n\r\n{}";
    uv_loop_t loop;
    srv_t s;
    outcome_t o = {0};
    char url[64];
    lc_proxy_req_t r = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&s, &loop, resp);
    lc_proxy_conf_t c = conf_for(&s, url, sizeof(url));
    lc_httpc_t *hc = lc_httpc_new(&loop);
    assert_non_null(hc);
    r.kind = LC_PROXY_RPC;
    r.client = "c1";
    r.method = "m";
    assert_non_null(lc_proxy_call(hc, &c, &r, on_reply, &o));
    finish_loop(&loop, hc, &s, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err, LC_EIO);
    assert_int_equal(o.status, 404); /* for the decision trace */
    lc_buf_free(&s.req);
}

static void test_proxy_laravel_auth_form_and_presence_info(void **state)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 71\r\nConnection: close\r\n\r\n"
                               "{\"auth\":\"k:s\",\"channel_data\":\"{\\\"user_id\\\":1,\\\"user_"
                               "info\\\":{\\\"n\\\":1}}\"}";
    char *allow[] = {"Cookie", "X-CSRF-TOKEN"};
    lc_http_header_t conn[] = {{"Cookie", "laravel_session=abc"}, {"x-csrf-token", "t"}};
    uv_loop_t loop;
    srv_t s;
    outcome_t o = {0};
    char url[64];
    lc_proxy_req_t r = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&s, &loop, resp);
    lc_proxy_conf_t c = conf_for(&s, url, sizeof(url));
    c.protocol = LC_PROXY_LARAVEL_AUTH;
    c.http_headers = allow;
    c.n_http_headers = 2;
    lc_httpc_t *hc = lc_httpc_new(&loop);
    assert_non_null(hc);
    r.kind = LC_PROXY_SUBSCRIBE;
    r.client = "a/b c+é";
    r.user = "1";
    r.channel = "$presence-room.1";
    r.conn_headers = conn;
    r.n_conn_headers = 2;
    assert_non_null(lc_proxy_laravel_auth(hc, &c, &r, on_reply, &o));
    finish_loop(&loop, hc, &s, &o);

    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.type, LC_PROXY_RESULT);
    assert_string_equal(o.info.data, "{\"n\":1}");
    assert_non_null(strstr(s.req.data, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(s.req.data, "\r\nAccept: application/json\r\n"));
    assert_non_null(strstr(s.req.data, "\r\nX-Requested-With: XMLHttpRequest\r\n"));
    assert_non_null(strstr(s.req.data, "\r\nCookie: laravel_session=abc\r\n"));
    assert_non_null(strstr(s.req.data, "\r\nx-csrf-token: t\r\n"));
    assert_non_null(strstr(s.req.data, "\r\n\r\nchannel_name=presence-room.1&socket_id="
                                       "a%2Fb%20c%2B%C3%A9"));
    lc_buf_free(&o.info);
    lc_buf_free(&s.req);
}

static void test_proxy_laravel_auth_403_denied(void **state)
{
    static const char resp[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
    uv_loop_t loop;
    srv_t s;
    outcome_t o = {0};
    char url[64];
    lc_proxy_req_t r = {0};

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&s, &loop, resp);
    lc_proxy_conf_t c = conf_for(&s, url, sizeof(url));
    lc_httpc_t *hc = lc_httpc_new(&loop);
    assert_non_null(hc);
    r.kind = LC_PROXY_SUBSCRIBE;
    r.client = "c";
    r.channel = "$orders.1";
    assert_non_null(lc_proxy_laravel_auth(hc, &c, &r, on_reply, &o));
    finish_loop(&loop, hc, &s, &o);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err, 0);
    assert_int_equal(o.type, LC_PROXY_ERROR);
    assert_int_equal(o.code, 103);
    assert_non_null(strstr(s.req.data, "channel_name=private-orders.1&socket_id=c"));
    lc_buf_free(&s.req);
}

static void on_cancel_timer(uv_timer_t *t)
{
    lc_proxy_cancel(t->data);
    uv_close((uv_handle_t *)t, NULL);
}

/* A cancelled call never calls back and leaves nothing behind (the sanitizer checks). */
static void test_proxy_cancel_frees_and_never_calls_back(void **state)
{
    uv_loop_t loop;
    uv_timer_t timer;
    srv_t s;
    outcome_t o = {0};
    char url[64];
    lc_proxy_req_t r = {0};
    bool closed = false;

    assert_int_equal(uv_loop_init(&loop), 0);
    srv_start(&s, &loop, NULL); /* never answers */
    lc_proxy_conf_t c = conf_for(&s, url, sizeof(url));
    lc_httpc_t *hc = lc_httpc_new(&loop);
    assert_non_null(hc);
    r.kind = LC_PROXY_PUBLISH;
    r.client = "c";
    r.channel = "ch";
    r.data = raw("{}");
    lc_proxy_call_t *call = lc_proxy_call(hc, &c, &r, on_reply, &o);
    assert_non_null(call);
    assert_int_equal(uv_timer_init(&loop, &timer), 0);
    timer.data = call;
    assert_int_equal(uv_timer_start(&timer, on_cancel_timer, 100, 0), 0);
    while (!uv_is_closing((uv_handle_t *)&timer) && uv_run(&loop, UV_RUN_ONCE) != 0)
        ;
    lc_httpc_close(hc, on_hc_closed, &closed);
    srv_stop(&s);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_true(closed);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_int_equal(o.calls, 0);
    lc_buf_free(&s.req);

    /* and a call that cannot start returns NULL */
    c.endpoint = "";
    assert_null(lc_proxy_call(NULL, &c, &r, on_reply, &o));
    lc_proxy_cancel(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_encode_connect_full_exact),
        cmocka_unit_test(test_proxy_encode_connect_minimal_omits_empty),
        cmocka_unit_test(test_proxy_encode_refresh_user_always_meta_optional),
        cmocka_unit_test(test_proxy_encode_subscribe_data_byte_for_byte),
        cmocka_unit_test(test_proxy_encode_publish_binary_encoding_b64data),
        cmocka_unit_test(test_proxy_encode_sub_refresh_has_no_data),
        cmocka_unit_test(test_proxy_encode_rpc_method_and_data),
        cmocka_unit_test(test_proxy_headers_allow_lists_and_precedence),
        cmocka_unit_test(test_proxy_headers_unsafe_dropped),
        cmocka_unit_test(test_proxy_laravel_channel_mapping),
        cmocka_unit_test(test_proxy_call_posts_json_and_answers),
        cmocka_unit_test(test_proxy_call_non_200_is_eio),
        cmocka_unit_test(test_proxy_laravel_auth_form_and_presence_info),
        cmocka_unit_test(test_proxy_laravel_auth_403_denied),
        cmocka_unit_test(test_proxy_cancel_frees_and_never_calls_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
