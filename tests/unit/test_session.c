/* The session (core/client.c and friends) driven through the fixture of session_fx.h (a fake
 * transport, the memory engine behind a wrapper that can hold its answers back, a stubbed
 * decision step):
 * commands queue in order behind a pending decision or engine call, a pending step is dropped
 * when the connection closes, an engine answer arriving after the close finds no session; the
 * server API's subscribe waits for its stream too, behind the pending step, and ends with a
 * subscribe push. */
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "session_fx.h"

static const char *config_json =
    "{\"workers\":1,\"channel\":{\"without_namespace\":{\"allow_subscribe_for_client\":true,"
    "\"presence\":true,\"allow_presence_for_client\":true,\"history_size\":10,"
    "\"history_ttl\":\"60s\",\"allow_history_for_client\":true,\"force_positioning\":true}}}";

static int setup(void **state)
{
    return fx_setup(state, config_json, false);
}

static int teardown(void **state)
{
    return fx_teardown(state);
}

/* --- tests -------------------------------------------------------------------------------------
 */

static void test_commands_wait_in_order_behind_a_pending_decision(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}\n"
                 "{\"id\":4,\"presence_stats\":{\"channel\":\"a\"}}");
    /* one decision at a time: b waits behind a */
    assert_int_equal(stub.n_started, 1);
    assert_string_equal(stub.started[0]->channel, "a");
    assert_string_equal(out(f), "");

    answer(0);
    assert_int_equal(stub.n_started, 2);
    assert_string_equal(stub.started[1]->channel, "b");
    const char *o = out(f);
    assert_non_null(strstr(o, "\"id\":2,\"subscribe\""));
    assert_null(strstr(o, "\"id\":3"));

    answer(1);
    o = out(f);
    const char *r3 = strstr(o, "\"id\":3,\"subscribe\"");
    const char *r4 = strstr(o, "\"id\":4,\"presence_stats\"");
    assert_non_null(r3);
    assert_non_null(r4);
    assert_true(strstr(o, "\"id\":2") < r3 && r3 < r4);
    assert_int_equal(stub.n_cancelled, 0);
}

static void test_decisions_at_once_answer_in_the_same_frame(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    f->ft.sends = 0;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"publish\":{\"channel\":\"a\",\"data\":{\"x\":1}}}");
    assert_int_equal(stub.n_answered_at_once, 2);
    /* both replies in one frame */
    assert_int_equal(f->ft.sends, 1);
    const char *o = out(f);
    const char *r2 = strstr(o, "{\"id\":2,\"subscribe\"");
    const char *r3 = strstr(o, "\n{\"id\":3,\"publish\":{}}");
    assert_non_null(r2);
    assert_non_null(r3);
    assert_true(r2 < r3);
}

static void test_close_mid_decision_cancels_it(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}");
    assert_int_equal(stub.n_started, 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    /* the pending decision was dropped: its callback can never reach the freed session */
    assert_int_equal(stub.n_cancelled, 1);
    assert_true(stub.started[0]->cancelled);
    assert_int_equal(stub.n_started, 1);
}

static void test_pending_connect_then_disconnect_cancels(void **state)
{
    fx_t *f = *state;
    send_text(f, "{\"id\":1,\"connect\":{}}");
    assert_int_equal(stub.n_started, 1);
    assert_int_equal(stub.started[0]->kind, LC_HOOK_CONNECT);
    lc_client_on_close(f->c);
    f->c = NULL;
    assert_int_equal(stub.n_cancelled, 1);
}

static void test_engine_read_answered_later_keeps_order(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold = true;
    send_text(f, "{\"id\":2,\"presence_stats\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"history\":{\"channel\":\"a\",\"limit\":-1}}\n"
                 "{\"id\":4,\"rpc\":{\"method\":\"m\",\"data\":{}}}");
    assert_int_equal(slow->n_held, 1);
    assert_string_equal(out(f), "");
    release(0);
    assert_int_equal(slow->n_held, 2);
    assert_non_null(
        strstr(out(f), "{\"id\":2,\"presence_stats\":{\"num_clients\":3,\"num_users\":2}}"));
    assert_null(strstr(out(f), "\"id\":4"));
    release(1);
    const char *o = out(f);
    const char *r3 = strstr(o, "\"id\":3,\"history\"");
    const char *r4 = strstr(o, "\"id\":4,\"rpc\"");
    assert_non_null(r3);
    assert_non_null(r4);
    assert_true(r3 < r4);
    assert_non_null(strstr(o, "\"epoch\":\"e1\",\"offset\":7"));
}

static void test_engine_answer_after_close_finds_no_session(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    slow->hold = true;
    send_text(f, "{\"id\":2,\"presence_stats\":{\"channel\":\"a\"}}");
    assert_int_equal(slow->n_held, 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    /* the engine answers anyway: the waiter is told the session is gone (ASan: no
     * use after free, no leak) */
    release(0);
}

static void test_positioned_subscribe_waits_for_the_stream(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"presence_stats\":{\"channel\":\"a\"}}");
    assert_int_equal(slow->n_held, 1);
    assert_string_equal(out(f), "");
    slow->hold = false;
    release(0);
    const char *o = out(f);
    const char *r2 = strstr(o, "{\"id\":2,\"subscribe\":{");
    assert_non_null(r2);
    assert_non_null(strstr(r2, "\"positioned\":true"));
    assert_non_null(strstr(r2, "\"epoch\":\"e1\""));
    assert_non_null(strstr(r2, "\"offset\":7"));
    /* the presence_stats behind it sees the subscription's presence entry */
    assert_non_null(strstr(o, "{\"id\":3,\"presence_stats\":{\"num_clients\":1,\"num_users\":1}}"));
}

static void test_positioned_subscribe_closed_before_the_stream(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}");
    assert_int_equal(slow->n_held, 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    release(0); /* the run it would have continued was freed with the waiter */
}

static void test_api_subscribe_with_a_late_engine_answer(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    slow->hold = true;
    /* the server API's subscribe waits for the stream like a client subscribe */
    lc_target_t t = {.user = "u1"};
    assert_int_equal(lc_ops_subscribe(lc_node_worker(f->node, 0), &t, "b", NULL), 1);
    assert_int_equal(slow->n_held, 1);
    assert_string_equal(out(f), "");
    slow->hold = false;
    release(0);
    const char *o = out(f);
    const char *push = strstr(o, "{\"push\":{\"channel\":\"b\",\"subscribe\":{");
    assert_non_null(push);
    assert_non_null(strstr(push, "\"positioned\":true"));
    assert_non_null(strstr(push, "\"epoch\":\"e1\""));
    assert_non_null(strstr(push, "\"offset\":7"));
    /* the subscription is made: a second one finds it (acts on no session), and the client's
     * own is refused */
    lc_buf_reset(&f->ft.out);
    assert_int_equal(lc_ops_subscribe(lc_node_worker(f->node, 0), &t, "b", NULL), 0);
    assert_int_equal(slow->n_held, 1);
    assert_string_equal(out(f), "");
    stub.at_once = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"b\"}}");
    assert_non_null(strstr(out(f), "{\"id\":2,\"error\":{\"code\":105"));
}

static void test_api_subscribe_waits_behind_the_pending_step(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    slow->hold = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\n"
                 "{\"id\":3,\"presence_stats\":{\"channel\":\"b\"}}");
    assert_int_equal(stub.n_started, 1); /* a's decision pending */
    lc_target_t t = {.user = "u1"};
    lc_ops_subscribe(lc_node_worker(f->node, 0), &t, "b", NULL);
    /* nothing read for b while a's step is pending */
    assert_int_equal(slow->n_held, 0);
    answer(0);
    assert_int_equal(slow->n_held, 1); /* a's stream */
    release(0);
    /* a answered; then the server API's run reads b's stream, before the queued command */
    assert_int_equal(slow->n_held, 2);
    assert_null(strstr(out(f), "\"id\":3"));
    release(1);
    /* the presence_stats queued behind it, then held too */
    assert_int_equal(slow->n_held, 3);
    release(2);
    const char *o = out(f);
    const char *r2 = strstr(o, "{\"id\":2,\"subscribe\":{");
    const char *pb = strstr(o, "{\"push\":{\"channel\":\"b\",\"subscribe\":{");
    const char *r3 = strstr(o, "{\"id\":3,\"presence_stats\"");
    assert_non_null(r2);
    assert_non_null(pb);
    assert_non_null(r3);
    assert_true(r2 < pb && pb < r3);
    assert_non_null(strstr(pb, "\"offset\":7"));
}

static void test_api_subscribe_closed_while_pending(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    slow->hold = true;
    lc_target_t t = {.user = "u1"};
    lc_ops_subscribe(lc_node_worker(f->node, 0), &t, "b", NULL);
    assert_int_equal(slow->n_held, 1);
    /* one more waits behind it */
    lc_ops_subscribe(lc_node_worker(f->node, 0), &t, "c", NULL);
    assert_int_equal(slow->n_held, 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    /* the answer finds no session; the waiting run was dropped (ASan: freed once, no leak) */
    release(0);
    assert_int_equal(slow->n_held, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commands_wait_in_order_behind_a_pending_decision,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_decisions_at_once_answer_in_the_same_frame, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_mid_decision_cancels_it, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pending_connect_then_disconnect_cancels, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_read_answered_later_keeps_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_engine_answer_after_close_finds_no_session, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_positioned_subscribe_waits_for_the_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_positioned_subscribe_closed_before_the_stream, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_subscribe_with_a_late_engine_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_subscribe_waits_behind_the_pending_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_api_subscribe_closed_while_pending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
