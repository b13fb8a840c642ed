/* The WebSocket transport over real loopback sockets, against the fake session layer of
 * fake_core.c: each scenario is a raw TCP client in a second thread that records what it saw,
 * checked after the server's loop ends. */
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
#include "util/err.h"
#include "util/log.h"

/* ---- WebSocket ---- */

static void sc_ws_upgrade(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket?cf_ws_frame_ping_pong=true",
                              "Sec-WebSocket-Protocol: centrifuge-json\r\n", s->head[0], 1024);
    tc_free(c);
    c = tc_connect(s->port);
    s->status[1] = tc_ws_open(c, "/connection/websocket",
                              "Sec-WebSocket-Protocol: centrifuge-protobuf, centrifuge-json\r\n",
                              s->head[1], 1024);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "POST /connection/websocket HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    s->status[2] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
    c = tc_connect(s->port);
    s->status[3] = tc_ws_open(c, "/connection/websocket",
                              "Sec-WebSocket-Protocol: centrifuge-protobuf\r\n", s->head[3], 1024);
    tc_free(c);
}

static void test_ws_upgrade_101_with_accept_key(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_upgrade, NULL);
    assert_int_equal(s.status[0], 101);
    assert_non_null(
        strstr(s.head[0], "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nSec-WebSocket-Protocol: centrifuge-json\r\n"));
    assert_true(g.native_ping[0]);
    assert_int_equal(s.status[1], 101);
    assert_non_null(strstr(s.head[1], "\r\nSec-WebSocket-Protocol: centrifuge-json\r\n"));
    assert_false(g.native_ping[1]);
    assert_int_equal(s.status[2], 405);
    /* the Protobuf protocol, answered in Sec-WebSocket-Protocol */
    assert_int_equal(s.status[3], 101);
    assert_non_null(strstr(s.head[3], "\r\nSec-WebSocket-Protocol: centrifuge-protobuf\r\n"));
    assert_false(g.protobuf[1]);
    assert_true(g.protobuf[2]);
    assert_int_equal(g.created, 3);
}

static void sc_ws_version(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /connection/websocket HTTP/1.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 8\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "GET /connection/websocket HTTP/1.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n");
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_ws_bad_version_426_bad_key_400(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_version, NULL);
    assert_int_equal(s.status[0], 426);
    assert_non_null(strstr(s.head[0], "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_int_equal(s.status[1], 400);
    assert_int_equal(g.created, 0);
}

static void sc_ws_origin(scen_t *s)
{
    const char *origins[] = {"Origin: https://evil.com\r\n", "Origin: https://App.Example.com\r\n",
                             "", "Origin: http://example.com\r\n"};
    for (int i = 0; i < 4; i++) {
        tconn_t *c = tc_connect(s->port);
        s->status[i] = tc_ws_open(c, "/connection/websocket", origins[i], NULL, 0);
        tc_free(c);
    }
}

static void origin_patterns(lc_config_t *cfg)
{
    cfg->allowed_origins = calloc(2, sizeof(char *));
    cfg->allowed_origins[0] = strdup("https://*.example.com");
    cfg->n_allowed_origins = 1;
}

static void test_ws_origin_rejected_403_pattern_allowed_101(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_origin, origin_patterns);
    assert_int_equal(s.status[0], 403);
    assert_int_equal(s.status[1], 101);
    assert_int_equal(s.status[2], 101); /* no Origin: not a browser, always allowed */
    assert_int_equal(s.status[3], 403);
}

static void test_ws_origin_empty_list_rejects_every_origin(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_origin, NULL);
    assert_int_equal(s.status[0], 403);
    assert_int_equal(s.status[1], 403);
    assert_int_equal(s.status[2], 101);
    assert_int_equal(s.status[3], 403);
}

static void sc_ws_echo(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    /* the first frame travels in the same write as the handshake */
    char req[1024];
    snprintf(req, sizeof(req), WS_REQ_FMT, "/connection/websocket", "");
    unsigned char frame[] = {0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1};
    char both[1200];
    size_t rl = strlen(req);
    memcpy(both, req, rl);
    memcpy(both + rl, frame, sizeof(frame));
    tc_send(c, both, rl + sizeof(frame));
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    /* a 300-byte message takes the 16-bit length form both ways */
    char big[300];
    memset(big, 'z', sizeof(big));
    tc_ws_send(c, 1, 1, big, sizeof(big));
    s->op[1] = tc_ws_read(c, s->body[1], 1024, &s->plen[1]);
    /* ping is answered with a pong carrying the same payload; pong reaches the session */
    tc_ws_send(c, 1, 9, "pp", 2);
    s->op[2] = tc_ws_read(c, s->body[2], 1024, &s->plen[2]);
    tc_ws_send(c, 1, 10, "", 0);
    tc_ws_send(c, 1, 1, "ping", 4); /* asks the server for a native ping */
    s->op[3] = tc_ws_read(c, s->body[3], 1024, &s->plen[3]);
    tc_free(c);
}

static void test_ws_masked_text_echoed(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_echo, NULL);
    assert_int_equal(s.status[0], 101);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "hello");
    assert_int_equal(s.op[1], 1);
    assert_int_equal(s.plen[1], 300);
    assert_int_equal(s.op[2], 10);
    assert_string_equal(s.body[2], "pp");
    assert_int_equal(s.op[3], 9);
    assert_int_equal(g.pongs, 1);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_fragments(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 0, 1, "one ", 4);
    tc_ws_send(c, 1, 9, "", 0); /* a control frame may come between fragments */
    tc_ws_send(c, 0, 0, "two ", 4);
    tc_ws_send(c, 1, 0, "three", 5);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, NULL);
    tc_free(c);
}

static void test_ws_fragmented_message_echoed_as_one(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_fragments, NULL);
    assert_int_equal(s.status[0], 101);
    /* the pong may follow the echo when all frames arrive in one read */
    int text = s.op[0] == 1 ? 0 : 1;
    assert_int_equal(s.op[text], 1);
    assert_int_equal(s.op[1 - text], 10);
    assert_string_equal(s.body[text], "one two three");
    assert_int_equal(g.messages, 1);
}

static uint16_t close_code(const char *p)
{
    return (uint16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
}

static void sc_ws_too_big(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    char big[2000];
    memset(big, 'q', sizeof(big));
    tc_ws_send(c, 1, 1, big, sizeof(big));
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_messages(lc_config_t *cfg)
{
    cfg->websocket_message_size_limit = 1024;
}

static void test_ws_oversized_message_closed_1009(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_too_big, small_messages);
    assert_int_equal(s.op[0], 8);
    assert_true(s.plen[0] >= 2);
    assert_int_equal(close_code(s.body[0]), 1009);
    assert_true(s.eof);
    assert_int_equal(g.messages, 0);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_client_close(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 8,
               "\x03\xe8"
               "bye",
               5);
    shutdown(c->fd, SHUT_WR); /* FIN right behind the close frame: the reply still comes */
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_ws_client_close_answered(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_client_close, NULL);
    assert_int_equal(s.op[0], 8);
    assert_int_equal(close_code(s.body[0]), 1000);
    assert_string_equal(s.body[0] + 2, "bye");
    assert_true(s.eof);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_server_close(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "hi", 2);
    tc_ws_send(c, 1, 1, "close", 5);
    tc_ws_send(c, 1, 1, "late", 4); /* after the close: not delivered */
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, &s->plen[1]);
    tc_ws_send(c, 1, 8, s->body[1], 2); /* answer with the same code */
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_ws_server_close_carries_code_and_reason(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_server_close, NULL);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "hi");
    assert_int_equal(s.op[1], 8);
    assert_int_equal(close_code(s.body[1]), 3501);
    assert_int_equal(s.plen[1], 2 + strlen("bad request"));
    assert_string_equal(s.body[1] + 2, "bad request");
    assert_true(s.eof);
    assert_int_equal(g.messages, 2);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_flood(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "flood", 5);
    int frames = 0, op;
    char buf[1024];
    while ((op = tc_ws_read(c, buf, sizeof(buf), &s->plen[1])) == 1)
        frames++;
    s->op[0] = frames;
    s->op[1] = op;
    memcpy(s->body[1], buf, 2);
    tc_ws_send(c, 1, 8, buf, 2);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_queue(lc_config_t *cfg)
{
    cfg->queue_max_size = 4500;
}

static void test_ws_queue_over_bound_eslow(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_flood, small_queue);
    assert_int_equal(g.flood_ok, 4); /* 4 frames of 1004 bytes fit in 4500 */
    assert_int_equal(g.flood_rc, LC_ESLOW);
    assert_int_equal(s.op[0], 4);
    assert_int_equal(s.op[1], 8);
    assert_int_equal(close_code(s.body[1]), 3008);
    assert_true(s.eof);
}

static void sc_ws_shutdown(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tconn_t *h = tc_connect(s->port); /* an idle keep-alive HTTP connection too */
    tc_sends(h, "GET /echo HTTP/1.1\r\n\r\n");
    s->status[1] = tc_read_http(h, NULL, 0, NULL, 0);
    atomic_store(&s->want_stop, 1);
    uv_async_send(&s->w->async);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    tc_ws_send(c, 1, 8, s->body[0], 2);
    s->eof = tc_eof(c);
    s->op[1] = tc_eof(h);
    tc_free(c);
    tc_free(h);
}

static void test_stop_closes_websocket_with_3001(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_shutdown, NULL);
    assert_int_equal(s.op[0], 8);
    assert_int_equal(close_code(s.body[0]), 3001);
    assert_string_equal(s.body[0] + 2, "shutdown");
    assert_true(s.eof);
    assert_true(s.op[1]);
    assert_int_equal(g.closed, 1);
}

/* ---- the wslay session exists only while something is in progress ---- */

static void sc_ws_idle_gaps(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    const char *msgs[] = {"first", "second", "third"};
    for (int i = 0; i < 3; i++) {
        tc_ws_send(c, 1, 1, msgs[i], strlen(msgs[i]));
        s->op[i] = tc_ws_read(c, s->body[i], 1024, NULL);
        usleep(30000); /* idle between messages */
    }
    tc_ws_send(c, 1, 9, "pp", 2); /* a ping on an idle connection: wslay answers it */
    s->op[3] = tc_ws_read(c, s->body[3], 1024, NULL);
    usleep(30000);
    tc_free(c);
}

static void test_ws_session_freed_between_messages_and_recreated(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_idle_gaps, NULL);
    assert_int_equal(s.status[0], 101);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "first");
    assert_int_equal(s.op[1], 1);
    assert_string_equal(s.body[1], "second");
    assert_int_equal(s.op[2], 1);
    assert_string_equal(s.body[2], "third");
    assert_int_equal(s.op[3], 10);
    assert_string_equal(s.body[3], "pp");
    assert_int_equal(g.messages, 3);
    /* each message (and the pong) was handled by a session freed before the loop went on */
    assert_string_equal(g.trace, "");
}

static void sc_ws_fragment_gap(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    unsigned char f[64];
    size_t n = tc_ws_frame(f, sizeof(f), 0, 1, "one ", 4);
    n += tc_ws_frame(f + n, sizeof(f) - n, 1, 0, "two", 3);
    size_t cut = n - 9; /* between the two fragments: the message is open */
    tc_send_split(c, f, n, &cut, 1);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    usleep(30000);
    tc_free(c);
}

static void test_ws_fragmented_message_split_across_reads(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_fragment_gap, NULL);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "one two");
    assert_int_equal(g.messages, 1);
    assert_string_equal(g.trace, "10"); /* kept while the message was open, then freed */
}

static void sc_ws_header_split(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    unsigned char f[400];
    char text[300];
    memset(text, 's', sizeof(text));
    /* 2-byte header, 16-bit length, mask key: cut after the first byte, inside the extended
     * length, inside the mask key, then inside the payload */
    size_t n = tc_ws_frame(f, sizeof(f), 1, 1, text, sizeof(text));
    const size_t cuts[] = {1, 3, 6, 20};
    tc_send_split(c, f, n, cuts, 4);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    /* and a small frame whose 2-byte header arrives in two reads */
    n = tc_ws_frame(f, sizeof(f), 1, 1, "tiny", 4);
    tc_send_split(c, f, n, cuts, 1);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, NULL);
    usleep(30000);
    tc_free(c);
}

static void test_ws_frame_split_mid_header(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_header_split, NULL);
    assert_int_equal(s.op[0], 1);
    assert_int_equal(s.plen[0], 300);
    assert_int_equal(s.body[0][0], 's');
    assert_int_equal(s.body[0][299], 's');
    assert_int_equal(s.op[1], 1);
    assert_string_equal(s.body[1], "tiny");
    assert_int_equal(g.messages, 2);
    assert_string_equal(g.trace, "1010");
}

static void sc_ws_idle_ping_then_close(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "pinglater", 9); /* the server pings once the connection is idle */
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    tc_ws_send(c, 1, 10, "", 0);
    usleep(30000);
    tc_ws_send(c, 1, 8,
               "\x03\xe8"
               "idle",
               6);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, &s->plen[1]);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_ws_idle_server_ping_and_client_close(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_idle_ping_then_close, NULL);
    assert_int_equal(s.op[0], 9);
    assert_int_equal(s.plen[0], 0);
    assert_int_equal(g.pongs, 1);
    assert_int_equal(s.op[1], 8);
    assert_int_equal(close_code(s.body[1]), 1000);
    assert_string_equal(s.body[1] + 2, "idle");
    assert_true(s.eof);
    assert_int_equal(g.closed, 1);
    assert_string_equal(g.trace, "1"); /* the closing session stays until the socket goes */
}

int main(void)
{
    lc_log_set_level(LC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ws_upgrade_101_with_accept_key),
        cmocka_unit_test(test_ws_bad_version_426_bad_key_400),
        cmocka_unit_test(test_ws_origin_rejected_403_pattern_allowed_101),
        cmocka_unit_test(test_ws_origin_empty_list_rejects_every_origin),
        cmocka_unit_test(test_ws_masked_text_echoed),
        cmocka_unit_test(test_ws_fragmented_message_echoed_as_one),
        cmocka_unit_test(test_ws_oversized_message_closed_1009),
        cmocka_unit_test(test_ws_client_close_answered),
        cmocka_unit_test(test_ws_server_close_carries_code_and_reason),
        cmocka_unit_test(test_ws_queue_over_bound_eslow),
        cmocka_unit_test(test_stop_closes_websocket_with_3001),
        cmocka_unit_test(test_ws_session_freed_between_messages_and_recreated),
        cmocka_unit_test(test_ws_fragmented_message_split_across_reads),
        cmocka_unit_test(test_ws_frame_split_mid_header),
        cmocka_unit_test(test_ws_idle_server_ping_and_client_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
