/* The session tests' fixture: see session_fx.h. */
#include "session_fx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/memory.h"
#include "util/err.h"

/* --- the stubbed decision step ------------------------------------------------------------- */

fx_stub_t stub;

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

void answer(int i)
{
    lc_decide_t *d = stub.started[i];
    assert_false(d->cancelled);
    lc_verdict_t v;
    allow(&v, d->kind);
    d->cb(d->arg, &v);
}

void stub_reset(void)
{
    for (int i = 0; i < stub.n_started; i++)
        free(stub.started[i]);
    memset(&stub, 0, sizeof(stub));
}

/* --- an engine whose calls answer when the test says ---------------------------------------- */

slow_engine_t *slow;

static held_t *hold_next(int kind, void *arg)
{
    assert_true(slow->n_held < (int)(sizeof(slow->held) / sizeof(slow->held[0])));
    held_t *h = &slow->held[slow->n_held++];
    memset(h, 0, sizeof(*h));
    h->kind = kind;
    h->arg = arg;
    return h;
}

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
    hold_next(HELD_HISTORY, arg)->hcb = cb;
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
    hold_next(HELD_PRESENCE_STATS, arg)->scb = cb;
    return 0;
}

/* The memory engine's answers, kept for later. */
static void keep_read(void *arg, int err, const lc_map_read_res_t *res)
{
    held_t *h = arg;
    h->err = err;
    h->rres = *res;
    if (res->n) {
        lc_rcbuf_t **pubs = calloc(res->n, sizeof(*pubs));
        assert_non_null(pubs);
        for (size_t i = 0; i < res->n; i++)
            pubs[i] = lc_rcbuf_ref(res->pubs[i]);
        h->rres.pubs = pubs;
    }
    h->rres.cursor = res->cursor ? strdup(res->cursor) : NULL;
}

static void keep_write(void *arg, int err, const lc_map_write_res_t *res)
{
    held_t *h = arg;
    h->err = err;
    h->wres = *res; /* suppress_reason: a static string */
}

static int se_map_read(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg)
{
    if (!slow->hold_map)
        return slow->mem->vt->map_read(slow->mem, req, cb, arg);
    held_t *h = hold_next(HELD_MAP_READ, arg);
    h->rcb = cb;
    int rc = slow->mem->vt->map_read(slow->mem, req, keep_read, h);
    if (rc != 0)
        h->err = rc; /* a networked engine answers its errors from the loop too */
    return 0;
}

static int se_map_write(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb,
                        void *arg)
{
    if (!slow->hold_map)
        return slow->mem->vt->map_write(slow->mem, req, cb, arg);
    held_t *h = hold_next(HELD_MAP_WRITE, arg);
    h->wcb = cb;
    int rc = slow->mem->vt->map_write(slow->mem, req, keep_write, h);
    if (rc != 0)
        h->err = rc;
    return 0;
}

static int se_map_clear(lc_engine_t *e, const char *ch, size_t n, lc_done_cb cb, void *arg)
{
    return slow->mem->vt->map_clear(slow->mem, ch, n, cb, arg);
}

static void se_channel_subscribe(lc_engine_t *e, const char *ch, size_t n)
{
    slow->counted++;
}

static void se_channel_unsubscribe(lc_engine_t *e, const char *ch, size_t n)
{
    slow->counted--;
}

static int se_channel_ready(lc_engine_t *e, const char *ch, size_t n, lc_done_cb cb, void *arg)
{
    if (!slow->hold_map) {
        cb(arg, 0);
        return 0;
    }
    hold_next(HELD_READY, arg)->dcb = cb;
    return 0;
}

static void se_destroy(lc_engine_t *e)
{
    slow->mem->vt->destroy(slow->mem);
    free(slow);
    slow = NULL;
}

#define SLOW_VT_ENTRIES                                                                            \
    .publish = se_publish, .publish_join_leave = se_jl, .history = se_history,                     \
    .history_remove = se_history_remove, .presence_add = se_presence_add,                          \
    .presence_remove = se_presence_remove, .presence = se_presence,                                \
    .presence_stats = se_presence_stats, .destroy = se_destroy, .map_write = se_map_write,         \
    .map_read = se_map_read, .map_clear = se_map_clear

static const lc_engine_vt_t slow_vt = {.name = "slow", SLOW_VT_ENTRIES};
static const lc_engine_vt_t linked_vt = {
    .name = "slow-linked",
    SLOW_VT_ENTRIES,
    .channel_subscribe = se_channel_subscribe,
    .channel_unsubscribe = se_channel_unsubscribe,
    .channel_ready = se_channel_ready,
};

void release(int i)
{
    held_t *h = &slow->held[i];
    assert_false(h->released);
    h->released = true;
    switch (h->kind) {
    case HELD_HISTORY: {
        lc_history_res_t res;
        memset(&res, 0, sizeof(res));
        res.top.offset = 7;
        snprintf(res.top.epoch, sizeof(res.top.epoch), "e1");
        h->hcb(h->arg, 0, &res);
        break;
    }
    case HELD_PRESENCE_STATS:
        h->scb(h->arg, 0, 3, 2);
        break;
    case HELD_MAP_READ:
        h->rcb(h->arg, h->err, &h->rres);
        for (size_t k = 0; k < h->rres.n; k++)
            lc_rcbuf_unref(h->rres.pubs[k]);
        free((void *)h->rres.pubs);
        free((char *)h->rres.cursor);
        break;
    case HELD_MAP_WRITE:
        if (h->wcb) /* NULL: nobody asked for the answer */
            h->wcb(h->arg, h->err, &h->wres);
        break;
    default:
        h->dcb(h->arg, 0);
        break;
    }
}

void release_all(void)
{
    int n = slow->n_held; /* what the answers start meanwhile waits for the next call */
    for (int i = 0; i < n; i++)
        if (!slow->held[i].released)
            release(i);
}

int n_pending(void)
{
    int n = 0;
    for (int i = 0; i < slow->n_held; i++)
        n += !slow->held[i].released;
    return n;
}

/* --- a fake transport ------------------------------------------------------------------------ */

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

int fx_setup(void **state, const char *config_json, bool linked)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    lc_config_defaults(&f->cfg);
    char err[256] = "";
    int rc = lc_config_load_string(&f->cfg, config_json, strlen(config_json), err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "config: %s\n", err);
    assert_int_equal(rc, 0);
    slow = calloc(1, sizeof(*slow));
    assert_non_null(slow);
    slow->base.vt = linked ? &linked_vt : &slow_vt;
    slow->mem = lc_engine_memory_new(&f->cfg);
    assert_non_null(slow->mem);
    slow->mem->sink.ctx = slow;
    slow->mem->sink.deliver = fwd_deliver;
    f->node = lc_node_new(&f->cfg, &slow->base);
    assert_non_null(f->node);
    f->c = fx_client(f, &f->ft);
    stub_reset();
    *state = f;
    return 0;
}

lc_client_t *fx_client(fx_t *f, fake_t *ft)
{
    ft->t.vt = &fake_vt;
    ft->t.worker = lc_node_worker(f->node, 0);
    lc_client_t *c = lc_client_new(&ft->t, NULL);
    assert_non_null(c);
    return c;
}

int fx_teardown(void **state)
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

void send_text(fx_t *f, const char *s)
{
    lc_client_on_message(f->c, s, strlen(s));
}

const char *out(fx_t *f)
{
    lc_buf_putc(&f->ft.out, '\0');
    f->ft.out.len--;
    return f->ft.out.data ? f->ft.out.data : "";
}

void connect_now(fx_t *f)
{
    stub.at_once = true;
    send_text(f, "{\"id\":1,\"connect\":{}}");
    assert_non_null(strstr(out(f), "\"id\":1,\"connect\""));
    lc_buf_reset(&f->ft.out);
    stub.at_once = false;
    stub.n_answered_at_once = 0;
}
