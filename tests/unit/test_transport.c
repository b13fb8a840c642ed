/* The HTTP server over real loopback sockets, against the fake session layer of fake_core.c:
 * each scenario is a raw TCP client in a second thread that records what it saw, checked
 * after the server's loop ends. */
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

#include "fake_core.h"
#include "util/log.h"

/* ---- HTTP ---- */

static void sc_404(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), s->body[0], 1024);
    tc_free(c);
}

static void test_http_unknown_path_404(void **state)
{
    scen_t s = {0};
    run(&s, sc_404, NULL);
    assert_int_equal(s.status[0], 404);
    assert_string_equal(s.body[0], "404 page not found\n");
}

static void sc_route(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "POST /echo?a=1&x=h%C3%A9llo+w HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n"
                "Content-Length: 5\r\n\r\nhello");
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), s->body[0], 1024);
    tc_sends(c, "GET /p/longer/z HTTP/1.1\r\n\r\n");
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_sends(c, "GET /p/exact HTTP/1.1\r\n\r\n");
    s->status[2] = tc_read_http(c, NULL, 0, s->body[2], 1024);
    tc_sends(c, "GET /p/other HTTP/1.1\r\n\r\n");
    s->status[3] = tc_read_http(c, NULL, 0, s->body[3], 1024);
    tc_free(c);
}

static void test_http_route_hit_body_and_longest_prefix(void **state)
{
    scen_t s = {0};
    run(&s, sc_route, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "POST /echo q=h\xc3\xa9llo w h=yes body=hello");
    assert_non_null(strstr(s.head[0], "\r\nX-Extra: 1\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: text/plain\r\n"));
    assert_null(strstr(s.head[0], "Connection: close"));
    assert_string_equal(s.body[1], "long");
    assert_string_equal(s.body[2], "exact");
    assert_string_equal(s.body[3], "short");
}

static void sc_keepalive(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    tc_sends(c, "GET /echo?x=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s->status[1] = tc_read_http(c, s->head[1], sizeof(s->head[1]), s->body[1], 1024);
    s->eof = tc_eof(c);
    tc_free(c);
    /* HTTP/1.0 closes unless asked to keep alive */
    c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.0\r\n\r\n");
    s->status[2] = tc_read_http(c, s->head[2], sizeof(s->head[2]), NULL, 0);
    s->op[2] = tc_eof(c);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s->status[3] = tc_read_http(c, s->head[3], sizeof(s->head[3]), NULL, 0);
    tc_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s->op[3] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_http_keepalive_two_requests_one_connection(void **state)
{
    scen_t s = {0};
    run(&s, sc_keepalive, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "GET /echo q=- h=- body=");
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "GET /echo q=2 h=- body=");
    assert_non_null(strstr(s.head[1], "Connection: close\r\n"));
    assert_true(s.eof);
    assert_int_equal(s.status[2], 200);
    assert_non_null(strstr(s.head[2], "Connection: close\r\n"));
    assert_true(s.op[2]);
    assert_int_equal(s.status[3], 200);
    assert_non_null(strstr(s.head[3], "Connection: keep-alive\r\n"));
    assert_int_equal(s.op[3], 200);
}

static void sc_pipeline(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /async HTTP/1.1\r\n\r\nGET /echo?x=second HTTP/1.1\r\n\r\n"
                "GET /echo?x=third HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++)
        s->status[i] = tc_read_http(c, NULL, 0, s->body[i], 1024);
    tc_free(c);
}

static void test_http_pipelined_requests_answered_in_order(void **state)
{
    scen_t s = {0};
    run(&s, sc_pipeline, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "slow");
    assert_string_equal(s.body[1], "GET /echo q=second h=- body=");
    assert_string_equal(s.body[2], "GET /echo q=third h=- body=");
}

static void sc_big_header(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    char req[8192];
    char big[4000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    tc_sends(c, req);
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), NULL, 0);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_limits(lc_config_t *cfg)
{
    cfg->http_max_header_size = 1024;
    cfg->http_max_body_size = 1024;
}

static void test_http_oversized_headers_431(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_header, small_limits);
    assert_int_equal(s.status[0], 431);
    assert_non_null(strstr(s.head[0], "Connection: close\r\n"));
    assert_true(s.eof);
}

static void sc_big_body(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    char body[5000];
    memset(body, 'b', sizeof(body));
    tc_send(c, body, sizeof(body));
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    s->eof = tc_eof(c);
    tc_free(c);
    /* chunked: the limit applies to the bytes as they come */
    c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[700];
    memset(chunk, 'c', sizeof(chunk));
    for (int i = 0; i < 2; i++) {
        tc_sends(c, "2bc\r\n");
        tc_send(c, chunk, sizeof(chunk));
        tc_sends(c, "\r\n");
    }
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_http_oversized_body_413(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_body, small_limits);
    assert_int_equal(s.status[0], 413);
    assert_true(s.eof);
    assert_int_equal(s.status[1], 413);
}

static void sc_malformed(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GARBAGE\x01 / HTTP/9\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_http_malformed_request_400(void **state)
{
    scen_t s = {0};
    run(&s, sc_malformed, NULL);
    assert_int_equal(s.status[0], 400);
    assert_true(s.eof);
}

static void sc_big_response(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /big HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    /* read slowly at first so the server's socket fills up */
    usleep(100 * 1000);
    size_t body = 0, bad = 0;
    bool in_body = false;
    while (body < BIG_LEN) {
        if (!in_body) {
            if (!tc_fill(c))
                break;
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (end == NULL)
                continue;
            sscanf(c->buf, "HTTP/1.1 %d", &s->status[0]);
            tc_consume(c, (size_t)(end - c->buf) + 4);
            in_body = true;
        } else if (c->len == 0 && !tc_fill(c)) {
            break;
        }
        size_t n = c->len < BIG_LEN - body ? c->len : BIG_LEN - body;
        for (size_t i = 0; i < n; i++)
            bad += c->buf[i] != (char)((body + i) % 251);
        body += n;
        tc_consume(c, n);
    }
    s->plen[0] = body;
    s->plen[1] = bad;
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_free(c);
}

static void test_http_large_response_written_in_order(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_response, NULL);
    assert_int_equal(s.status[0], 200);
    assert_int_equal(s.plen[0], BIG_LEN);
    assert_int_equal(s.plen[1], 0);
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "GET /echo q=- h=- body=");
}

static void sc_long_pipeline(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    /* more pipelined input than one request head may hold, behind a slow request */
    char req[8192] = "GET /async HTTP/1.1\r\n\r\n";
    for (int i = 0; i < 100; i++)
        strcat(req, "GET /echo?x=n HTTP/1.1\r\n\r\n");
    tc_sends(c, req);
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    int ok = 0;
    for (int i = 0; i < 100; i++)
        ok += tc_read_http(c, NULL, 0, s->body[1], 1024) == 200;
    s->op[0] = ok;
    tc_free(c);
}

static void test_http_long_pipeline_paused_and_resumed(void **state)
{
    scen_t s = {0};
    run(&s, sc_long_pipeline, small_limits);
    assert_string_equal(s.body[0], "slow");
    assert_int_equal(s.op[0], 100);
    assert_string_equal(s.body[1], "GET /echo q=n h=- body=");
}

static void sc_cancel(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /async HTTP/1.1\r\n\r\n");
    usleep(10 * 1000);
    tc_free(c); /* gone before the response */
    usleep(100 * 1000);
    c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_sends(c, "abc");
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_free(c);
}

static void test_http_peer_gone_cancels_pending_request(void **state)
{
    scen_t s = {0};
    run(&s, sc_cancel, NULL);
    assert_int_equal(cancels, 1);
    assert_int_equal(s.status[0], 100);
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "POST /echo q=- h=- body=abc");
}

int main(void)
{
    lc_log_set_level(LC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_unknown_path_404),
        cmocka_unit_test(test_http_route_hit_body_and_longest_prefix),
        cmocka_unit_test(test_http_keepalive_two_requests_one_connection),
        cmocka_unit_test(test_http_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_http_oversized_headers_431),
        cmocka_unit_test(test_http_oversized_body_413),
        cmocka_unit_test(test_http_malformed_request_400),
        cmocka_unit_test(test_http_large_response_written_in_order),
        cmocka_unit_test(test_http_long_pipeline_paused_and_resumed),
        cmocka_unit_test(test_http_peer_gone_cancels_pending_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
