/* The session (core/client.c and friends) driven through a fake transport (the
 * core/transport.h vtable), the memory engine behind a wrapper that can hold its answers back,
 * and a stubbed decision step (hooks/decide.h replaced at link time by the functions below):
 * commands queue in order behind a pending decision or engine call, a pending step is dropped
 * when the connection closes, an engine answer arriving after the close finds no session; the
 * server API's subscribe waits for its stream too, behind the pending step, and ends with a
 * subscribe push. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/client.h"
#include "core/node.h"
#include "core/ops.h"
#include "engine/memory.h"
#include "hooks/decide.h"
#include "util/buf.h"
#include "util/err.h"

/* --- the stubbed decision step ------------------------------------------------------------- */

struct lc_decide {
    lc_hook_kind kind;
    char channel[64];
    lc_decide_cb cb;
    void *arg;
    bool cancelled;
};

static struct {
    bool at_once;             /* answer ALLOW inside lc_decide_start */
    lc_decide_t *started[16]; /* pending ones, in start order */
    int n_started, n_cancelled, n_answered_at_once;
} stub;

static void allow(lc_verdict_t *v, lc_hook_kind kind)
{
    memset(v, 0, sizeof(*v));
    v->type = LC_VERDICT_ALLOW;
    v->by = LC_STEP_RULES;
    v->message = "";
    v->user = kind == LC_HOOK_CONNECT ? "u1" : "";
    v->granted = kind == LC_HOOK_CONNECT;
}

lc_decide_t *lc_decide_start(const lc_decide_req_t *req, lc_decide_cb cb, void *arg)
{
    if (stub.at_once) {
        lc_verdict_t v;
        allow(&v, req->kind);
        stub.n_answered_at_once++;
        cb(arg, &v);
        return NULL;
    }
    lc_decide_t *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->kind = req->kind;
    snprintf(d->channel, sizeof(d->channel), "%s", req->channel ? req->channel : "");
    d->cb = cb;
    d->arg = arg;
    assert_true(stub.n_started < 16);
    stub.started[stub.n_started++] = d;
    return d;
}

void lc_decide_cancel(lc_decide_t *d)
{
    assert_false(d->cancelled);
    d->cancelled = true;
    stub.n_cancelled++;
}

bool lc_decide_subscribe_rules(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *user,
                               const char *ch, size_t len)
{
    return true;
}

bool lc_decide_user_limited(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *ch,
                            size_t len)
{
    return false;
}

/* Answer the i-th pending decision with ALLOW. */
static void answer(int i)
{
    lc_decide_t *d = stub.started[i];
    assert_false(d->cancelled);
    lc_verdict_t v;
    allow(&v, d->kind);
    d->cb(d->arg, &v);
}

static void stub_reset(void)
{
    for (int i = 0; i < stub.n_started; i++)
        free(stub.started[i]);
    memset(&stub, 0, sizeof(stub));
}

/* --- an engine whose reads answer when the test says --------------------------------------- */

typedef struct held {
    int kind; /* 1 history, 2 presence_stats */
    void *arg;
    lc_history_cb hcb;
    lc_presence_stats_cb scb;
} held_t;

typedef struct slow_engine {
    lc_engine_t base;
    lc_engine_t *mem;
    bool hold;
    held_t held[8];
    int n_held;
} slow_engine_t;

static slow_engine_t *slow;

static void fwd_deliver(void *ctx, const char *ch, size_t chlen, int kind, uint64_t offset,
                        lc_rcbuf_t *push, const lc_exclude_t *ex)
{
    slow_engine_t *s = ctx;
    s->base.sink.deliver(s->base.sink.ctx, ch, chlen, kind, offset, push, ex);
}

static int se_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg)
{
    return slow->mem->vt->publish(slow->mem, req, cb, arg);
}

static int se_jl(lc_engine_t *e, const char *ch, size_t n, lc_rcbuf_t *p, lc_done_cb cb, void *arg)
{
    return slow->mem->vt->publish_join_leave(slow->mem, ch, n, p, cb, arg);
}

static int se_history(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg)
{
    if (!slow->hold)
        return slow->mem->vt->history(slow->mem, req, cb, arg);
    slow->held[slow->n_held++] = (held_t){.kind = 1, .arg = arg, .hcb = cb};
    return 0;
}

static int se_history_remove(lc_engine_t *e, const char *ch, size_t n, lc_done_cb cb, void *arg)
{
    return slow->mem->vt->history_remove(slow->mem, ch, n, cb, arg);
}

static int se_presence_add(lc_engine_t *e, const char *ch, size_t n, const char *client,
                           const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg)
{
    return slow->mem->vt->presence_add(slow->mem, ch, n, client, user, info, cb, arg);
}

static int se_presence_remove(lc_engine_t *e, const char *ch, size_t n, const char *client,
                              lc_done_cb cb, void *arg)
{
    return slow->mem->vt->presence_remove(slow->mem, ch, n, client, cb, arg);
}

static int se_presence(lc_engine_t *e, const char *ch, size_t n, lc_presence_cb cb, void *arg)
{
    return slow->mem->vt->presence(slow->mem, ch, n, cb, arg);
}

static int se_presence_stats(lc_engine_t *e, const char *ch, size_t n, lc_presence_stats_cb cb,
                             void *arg)
{
    if (!slow->hold)
        return slow->mem->vt->presence_stats(slow->mem, ch, n, cb, arg);
    slow->held[slow->n_held++] = (held_t){.kind = 2, .arg = arg, .scb = cb};
    return 0;
}

static void se_destroy(lc_engine_t *e)
{
    slow->mem->vt->destroy(slow->mem);
    free(slow);
    slow = NULL;
}

static const lc_engine_vt_t slow_vt = {
    .name = "slow",
    .publish = se_publish,
    .publish_join_leave = se_jl,
    .history = se_history,
    .history_remove = se_history_remove,
    .presence_add = se_presence_add,
    .presence_remove = se_presence_remove,
    .presence = se_presence,
    .presence_stats = se_presence_stats,
    .destroy = se_destroy,
};

/* Answer the i-th held read now (an empty stream at epoch "e1", offset 7; 3 clients, 2 users). */
static void release(int i)
{
    held_t *h = &slow->held[i];
    if (h->kind == 1) {
        lc_history_res_t res;
        memset(&res, 0, sizeof(res));
        res.top.offset = 7;
        snprintf(res.top.epoch, sizeof(res.top.epoch), "e1");
        h->hcb(h->arg, 0, &res);
    } else {
        h->scb(h->arg, 0, 3, 2);
    }
}

/* --- a fake transport ------------------------------------------------------------------------ */

typedef struct fake_t {
    lc_transport_t t;
    lc_buf_t out; /* every frame sent, one per line */
    int sends;    /* frames sent */
    bool closed;
    uint32_t close_code;
} fake_t;

static lc_rcbuf_t *ft_frame(const char *p, size_t n)
{
    return lc_rcbuf_from(p, n);
}

static int ft_send(lc_transport_t *t, lc_rcbuf_t *f)
{
    fake_t *ft = (fake_t *)t;
    if (ft->closed)
        return LC_ECLOSED;
    ft->sends++;
    lc_buf_append(&ft->out, f->data, f->len);
    lc_buf_putc(&ft->out, '\n');
    return 0;
}

static void ft_flush(lc_transport_t *t) {}

static void ft_close(lc_transport_t *t, uint32_t code, const char *reason)
{
    fake_t *ft = (fake_t *)t;
    ft->closed = true;
    ft->close_code = code;
}

static void ft_ping(lc_transport_t *t) {}

static const lc_transport_vt_t fake_vt = {
    .name = "fake",
    .frame = ft_frame,
    .send = ft_send,
    .flush = ft_flush,
    .close = ft_close,
    .ping = ft_ping,
};

/* --- fixture --------------------------------------------------------------------------------- */

typedef struct fx {
    lc_config_t cfg;
    lc_node_t *node;
    fake_t ft;
    lc_client_t *c;
} fx_t;

static const char *config_json =
    "{\"workers\":1,\"channel\":{\"without_namespace\":{\"allow_subscribe_for_client\":true,"
    "\"presence\":true,\"allow_presence_for_client\":true,\"history_size\":10,"
    "\"history_ttl\":\"60s\",\"allow_history_for_client\":true,\"force_positioning\":true}}}";

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    lc_config_defaults(&f->cfg);
    char err[256] = "";
    assert_int_equal(
        lc_config_load_string(&f->cfg, config_json, strlen(config_json), err, sizeof(err)), 0);
    slow = calloc(1, sizeof(*slow));
    assert_non_null(slow);
    slow->base.vt = &slow_vt;
    slow->mem = lc_engine_memory_new(&f->cfg);
    assert_non_null(slow->mem);
    slow->mem->sink.ctx = slow;
    slow->mem->sink.deliver = fwd_deliver;
    f->node = lc_node_new(&f->cfg, &slow->base);
    assert_non_null(f->node);
    f->ft.t.vt = &fake_vt;
    f->ft.t.worker = lc_node_worker(f->node, 0);
    f->c = lc_client_new(&f->ft.t, NULL);
    assert_non_null(f->c);
    stub_reset();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    if (f->c)
        lc_client_on_close(f->c);
    stub_reset();
    lc_node_free(f->node);
    lc_config_free(&f->cfg);
    lc_buf_free(&f->ft.out);
    free(f);
    return 0;
}

static void send_text(fx_t *f, const char *s)
{
    lc_client_on_message(f->c, s, strlen(s));
}

static const char *out(fx_t *f)
{
    lc_buf_putc(&f->ft.out, '\0');
    f->ft.out.len--;
    return f->ft.out.data ? f->ft.out.data : "";
}

/* Connected at once (the stub allows), output cleared. */
static void connect_now(fx_t *f)
{
    stub.at_once = true;
    send_text(f, "{\"id\":1,\"connect\":{}}");
    assert_non_null(strstr(out(f), "\"id\":1,\"connect\""));
    lc_buf_reset(&f->ft.out);
    stub.at_once = false;
    stub.n_answered_at_once = 0;
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
