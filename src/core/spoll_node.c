/* Shared poll, the node's side: the registry of tracked items per channel (all workers), the
 * owner worker's refresh cycle, the backend's answers turned into versions and pushes, and
 * their fan-out to every worker. See core/spoll.h for why one worker owns a channel's cycle. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/internal.h"
#include "core/ops.h"
#include "core/spoll_internal.h"
#include "hooks/proxy_spoll.h"
#include "hooks/script.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"
#include "util/rand.h"
#include "util/rcbuf.h"

lc__spoll_wstate_t *lc__spoll_wstate(lc_spoll_t *s, lc_worker_t *w)
{
    return s->w[lc_worker_index(w)];
}

/* --- the registry ------------------------------------------------------------------------- */

static void on_worker_stop(lc_worker_t *w, void *arg);

lc_spoll_t *lc__spoll_new(lc_node_t *n)
{
    lc_spoll_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->node = n;
    s->nworkers = lc_node_num_workers(n);
    s->w = calloc((size_t)s->nworkers, sizeof(*s->w));
    if (!s->w) {
        free(s);
        return NULL;
    }
    for (int i = 0; i < s->nworkers; i++) {
        s->w[i] = lc__spoll_wstate_new();
        if (!s->w[i]) {
            lc__spoll_free(s);
            return NULL;
        }
    }
    uv_mutex_init(&s->mu);
    s->inited = true;
    lc_map_init(&s->chans);
    atomic_init(&s->calls, 0);
    /* the versionless epoch: a client's synthetic versions are only good with this node */
    uint8_t r[8];
    lc_random_bytes(r, sizeof(r));
    for (int i = 0; i < 8; i++)
        snprintf(s->epoch + 2 * i, 3, "%02x", r[i]);
    for (int i = 0; i < s->nworkers; i++)
        if (lc_worker_on_stop(lc_node_worker(n, i), on_worker_stop, s) != 0) {
            lc__spoll_free(s);
            return NULL;
        }
    return s;
}

void lc__spoll_item_free(sp_item_t *it)
{
    lc_rcbuf_unref(it->pub);
    free(it);
}

static void chan_free(sp_chan_t *c)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&c->items, &it, &k, &kl, &v))
        lc__spoll_item_free(v);
    lc_map_free(&c->items);
    free(c->name);
    free(c->epoch);
    free(c);
}

void lc__spoll_free(lc_spoll_t *s)
{
    if (!s)
        return;
    if (s->inited) {
        lc_map_iter_t it = {0};
        const char *k;
        size_t kl;
        void *v;
        while (lc_map_next(&s->chans, &it, &k, &kl, &v))
            chan_free(v);
        lc_map_free(&s->chans);
        uv_mutex_destroy(&s->mu);
    }
    for (int i = 0; s->w && i < s->nworkers; i++)
        lc__spoll_wstate_free(s->w[i]);
    free(s->w);
    free(s);
}

/* --- calls and cycles (the owner's thread) ------------------------------------------------- */

static void call_free(sp_call_t *k)
{
    if (k->prev) {
        *k->prev = k->next;
        if (k->next)
            k->next->prev = k->prev;
    }
    for (size_t i = 0; i < k->nkeys; i++)
        free(k->keys[i]);
    free(k->keys);
    free(k->result);
    free(k);
}

static void on_timer(uv_timer_t *t);

static void arm(sp_chan_t *c, int64_t delay)
{
    uv_timer_start(&c->timer, on_timer, (uint64_t)(delay > 0 ? delay : 0), 0);
}

/* An answer (or a failure) of one call: applied, and what changed fanned out. */
static void finish_call(sp_call_t *k, int err, const lc_spoll_reply_t *r)
{
    sp_chan_t *c = k->ch;
    c->inflight--;
    atomic_fetch_sub(&c->reg->calls, 1);
    if (err == 0 && r && !r->is_error) {
        lc__spoll_fanout_t *f = lc__spoll_fanout_new(c);
        if (f) {
            lc__spoll_apply_answer(c, k, r, f);
            /* a cycle always reaches the workers: they also drop expired trackers then */
            if (f->n || f->reset || k->cycle)
                lc__spoll_fan_out(c, f);
            else
                lc__spoll_fanout_free(f);
        }
    }
    call_free(k);
}

static void on_lua_refresh(void *arg, const lc_decision_t *d)
{
    sp_call_t *k = arg;
    k->lua = NULL;
    sp_chan_t *c = k->ch;
    if (d->type == LC_DECIDE_NONE || (d->type == LC_DECIDE_ALLOW && !d->reply.data)) {
        /* no opinion: the backend's answer as it came */
        lc_buf_t b = LC_BUF_INIT;
        lc_spoll_reply_t r;
        int rc = lc_buf_printf(&b, "{\"result\":%s}", k->result);
        rc = rc ? rc : lc_proxy_spoll_parse(b.data, b.len, &r);
        finish_call(k, rc, rc ? NULL : &r);
        if (rc == 0)
            lc_proxy_spoll_reply_free(&r);
        lc_buf_free(&b);
        return;
    }
    if (d->type != LC_DECIDE_ALLOW) {
        lc_log_info("shared poll %.*s: the shared_poll_refresh hook dropped the answer",
                    (int)c->len, c->name);
        finish_call(k, LC_EINVAL, NULL);
        return;
    }
    lc_buf_t b = LC_BUF_INIT;
    lc_spoll_reply_t r;
    int rc = lc_buf_append_str(&b, "{\"result\":");
    rc = rc ? rc : lc_buf_append(&b, d->reply.data, d->reply.data_len);
    rc = rc ? rc : lc_buf_putc(&b, '}');
    rc = rc ? rc : lc_proxy_spoll_parse(b.data, b.len, &r);
    if (rc)
        lc_log_warn("shared poll %.*s: the shared_poll_refresh hook returned data that is not "
                    "a refresh result",
                    (int)c->len, c->name);
    finish_call(k, rc, rc ? NULL : &r);
    if (rc == 0)
        lc_proxy_spoll_reply_free(&r);
    lc_buf_free(&b);
}

/* The answer's result object re-encoded for the Lua hook's ctx.data. */
static void on_refresh(void *arg, int err, const lc_spoll_reply_t *r)
{
    sp_call_t *k = arg;
    k->http = NULL;
    sp_chan_t *c = k->ch;
    lc_lua_t *vm = lc__worker_lua(c->ow);
    if (err == 0 && !r->is_error && vm && lc_lua_has_hook(vm, LC_HOOK_SPOLL_REFRESH)) {
        k->result = lc__spoll_result_json(r);
        if (k->result) {
            lc_hook_ctx_t ctx;
            memset(&ctx, 0, sizeof(ctx));
            char ch[512];
            snprintf(ch, sizeof(ch), "%.*s", (int)c->len, c->name);
            ctx.client = "";
            ctx.user = "";
            ctx.transport = "";
            ctx.channel = ch;
            ctx.data.p = k->result;
            ctx.data.len = strlen(k->result);
            /* NULL when the hook finished without yielding: the callback ran (and freed k) */
            lc_lua_call_t *h = lc_lua_call(vm, LC_HOOK_SPOLL_REFRESH, &ctx, on_lua_refresh, k);
            if (h)
                k->lua = h;
            return;
        }
    }
    finish_call(k, err, r);
}

/* Ask the backend about keys (owned by the call from now on). */
static void start_call(sp_chan_t *c, char **keys, uint64_t *versions, size_t n, bool cycle)
{
    lc_spoll_t *s = c->reg;
    const lc_config_t *cfg = lc_node_config(s->node);
    int limit = cfg->shared_poll.concurrency_limit > 0 ? cfg->shared_poll.concurrency_limit
                                                       : DEFAULT_CONCURRENCY;
    sp_call_t *k = calloc(1, sizeof(*k));
    lc_buf_t body = LC_BUF_INIT;
    if (!k)
        goto fail;
    k->ch = c;
    k->cycle = cycle;
    k->keys = keys;
    k->nkeys = n;
    keys = NULL;
    if (atomic_load(&s->calls) >= limit) {
        lc_log_warn("shared poll %.*s: %d refresh calls already out (shared_poll."
                    "concurrency_limit): this one waits for the next cycle",
                    (int)c->len, c->name, limit);
        goto fail;
    }
    if (lc_proxy_spoll_encode(c->name, c->len, (const char *const *)k->keys, versions, n, &body))
        goto fail;
    k->http = lc_proxy_spoll_call(lc__worker_httpc(c->ow), c->proxy, c->name, body.data, body.len,
                                  on_refresh, k);
    if (!k->http)
        goto fail;
    atomic_fetch_add(&s->calls, 1);
    c->inflight++;
    k->next = c->calls;
    if (c->calls)
        c->calls->prev = &k->next;
    c->calls = k;
    k->prev = &c->calls;
    free(versions);
    lc_buf_free(&body);
    return;
fail:
    if (k)
        call_free(k);
    else {
        for (size_t i = 0; keys && i < n; i++)
            free(keys[i]);
        free(keys);
    }
    free(versions);
    lc_buf_free(&body);
}

typedef struct keyver {
    char *key;
    uint64_t version;
} keyver_t;

static int by_key(const void *a, const void *b)
{
    return strcmp(((const keyver_t *)a)->key, ((const keyver_t *)b)->key);
}

/* Collect the keys to ask about (all, or only cold ones) under the lock, then ask in batches,
 * keys sorted so a backend sees the same order every cycle. */
static void poll(sp_chan_t *c, bool cycle)
{
    lc_spoll_t *s = c->reg;
    bool ver = versioned(&c->opts);
    size_t batch =
        c->opts.refresh_batch_size > 0 ? (size_t)c->opts.refresh_batch_size : DEFAULT_BATCH;
    uv_mutex_lock(&s->mu);
    size_t total = lc_map_count(&c->items);
    keyver_t *kv = calloc(total ? total : 1, sizeof(*kv));
    size_t n = 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (kv && lc_map_next(&c->items, &it, &k, &kl, &v)) {
        sp_item_t *item = v;
        if (item->refs == 0 || (!cycle && item->version > 0))
            continue;
        if (cycle && item->fresh) {
            /* a direct publish brought its data since the last cycle: asking the backend
             * now would only repeat it; the next cycle asks again (the safety net) */
            item->fresh = false;
            continue;
        }
        if (!(kv[n].key = strndup(k, kl)))
            break;
        kv[n++].version = item->version;
    }
    uv_mutex_unlock(&s->mu);
    if (!kv)
        return;
    qsort(kv, n, sizeof(*kv), by_key);
    size_t at = 0;
    for (; at < n; at += batch) {
        size_t m = n - at < batch ? n - at : batch;
        char **bk = malloc(m * sizeof(char *));
        uint64_t *bv = ver ? malloc(m * sizeof(uint64_t)) : NULL;
        if (!bk || (ver && !bv)) {
            free(bk);
            free(bv);
            break;
        }
        for (size_t i = 0; i < m; i++) {
            bk[i] = kv[at + i].key;
            if (bv)
                bv[i] = kv[at + i].version;
        }
        start_call(c, bk, bv, m, cycle);
    }
    for (; at < n; at++)
        free(kv[at].key);
    free(kv);
}

static void on_closed(uv_handle_t *h)
{
    sp_chan_t *c = h->data;
    if (c->removed)
        chan_free(c);
}

static void on_timer(uv_timer_t *t)
{
    sp_chan_t *c = t->data;
    lc_spoll_t *s = c->reg;
    int64_t now = lc_mono_ms();
    int64_t delay = c->opts.channel_shutdown_delay_ms > 0 ? c->opts.channel_shutdown_delay_ms
                                                          : DEFAULT_SHUTDOWN_MS;
    uv_mutex_lock(&s->mu);
    /* items nobody tracks any more are kept channel_shutdown_delay, then forgotten */
    size_t active = 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&c->items, &it, &k, &kl, &v)) {
        sp_item_t *item = v;
        if (item->refs > 0) {
            active++;
        } else if (now - item->idle_since >= delay) {
            char *key = strndup(k, kl);
            if (key) {
                lc_map_del(&c->items, key, kl);
                lc__spoll_item_free(item);
                free(key);
            }
        }
    }
    if (active == 0) {
        if (lc_map_count(&c->items) > 0) {
            uv_mutex_unlock(&s->mu);
            arm(c, delay < interval_ms(c) ? delay : interval_ms(c));
            return;
        }
        if (c->empty_since == 0)
            c->empty_since = now;
        if (now - c->empty_since >= delay && c->inflight == 0 && !c->cold_posted) {
            lc_map_del(&s->chans, c->name, c->len);
            c->removed = true;
            uv_mutex_unlock(&s->mu);
            uv_close((uv_handle_t *)&c->timer, on_closed);
            return;
        }
        uv_mutex_unlock(&s->mu);
        arm(c, delay < interval_ms(c) ? delay : interval_ms(c));
        return;
    }
    c->empty_since = 0;
    bool busy = c->inflight > 0;
    uv_mutex_unlock(&s->mu);
    arm(c, interval_ms(c));
    if (busy) {
        /* the previous cycle's call is still out (a slow or hanging backend): its timeout ends
         * it; asking again meanwhile would only pile calls up */
        lc_log_warn("shared poll %.*s: previous refresh still pending, cycle skipped", (int)c->len,
                    c->name);
        return;
    }
    poll(c, true);
}

static void cold_run(lc_worker_t *w, void *arg)
{
    sp_chan_t *c = arg;
    lc_spoll_t *s = c->reg;
    uv_mutex_lock(&s->mu);
    c->cold_posted = false;
    uv_mutex_unlock(&s->mu);
    if (!lc_worker_stopping(w))
        poll(c, false);
}

/* --- calls from the sessions (any worker) ------------------------------------------------- */

static sp_chan_t *chan_new(lc_spoll_t *s, lc_worker_t *w, const char *ch, size_t len,
                           const lc_ns_opts_t *o)
{
    /* a worker that is stopping has closed its channels' timers already: none is started */
    if (lc_worker_stopping(w))
        return NULL;
    sp_chan_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->name = strndup(ch, len)) || !(c->epoch = strdup(""))) {
        if (c)
            free(c->name);
        free(c);
        return NULL;
    }
    c->reg = s;
    c->len = len;
    c->opts = o->shared_poll;
    c->proxy = lc_config_spoll_proxy(lc_node_config(s->node), o);
    c->owner = lc_worker_index(w);
    c->ow = w;
    lc_map_init(&c->items);
    if (lc_map_put(&s->chans, ch, len, c, NULL) != 0) {
        chan_free(c);
        return NULL;
    }
    uv_timer_init(lc_worker_loop(w), &c->timer);
    c->timer.data = c;
    arm(c, interval_ms(c));
    return c;
}

int lc__spoll_node_track(lc_spoll_t *s, lc_worker_t *w, const char *ch, size_t len,
                         const lc_ns_opts_t *o, lc__spoll_track_in_t *in, size_t n,
                         const bool *is_new)
{
    int rc = 0;
    bool cold = false;
    uv_mutex_lock(&s->mu);
    sp_chan_t *c = lc_map_get(&s->chans, ch, len);
    if (!c && !(c = chan_new(s, w, ch, len, o))) {
        uv_mutex_unlock(&s->mu);
        return LC_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(in[i].key);
        sp_item_t *item = lc_map_get(&c->items, in[i].key, kl);
        if (!item) {
            item = calloc(1, sizeof(*item));
            if (!item || lc_map_put(&c->items, in[i].key, kl, item, NULL) != 0) {
                free(item);
                rc = LC_ENOMEM;
                break;
            }
        }
        bool first = is_new[i] && item->refs == 0; /* no other connection tracks it here */
        if (is_new[i] && item->refs++ == 0)
            item->idle_since = 0;
        *in[i].out_version = in[i].version;
        *in[i].out_pub = NULL;
        if (item->pub && item->version > in[i].version) {
            *in[i].out_version = item->version;
            *in[i].out_pub = lc_rcbuf_ref(item->pub);
        } else if (item->version == 0 && in[i].version == 0 && first) {
            /* nobody on this node has its data yet, and nobody asked for it: a key other
             * trackers wait for already is on its way (or the backend has nothing for it, and
             * asking again per tracker would not change that before the next cycle) */
            cold = true;
        }
    }
    c->empty_since = 0;
    bool post = cold && !c->cold_posted;
    if (post)
        c->cold_posted = true;
    int owner = c->owner;
    uv_mutex_unlock(&s->mu);
    /* Cold keys get an early poll of their own in the owner's thread rather than waiting up
     * to refresh_interval; the cycle keeps asking for the whole union. */
    if (post && lc_ops_run_in(s->node, owner, cold_run, c) != 0) {
        uv_mutex_lock(&s->mu);
        c->cold_posted = false;
        uv_mutex_unlock(&s->mu);
    }
    return rc;
}

void lc__spoll_node_untrack(lc_spoll_t *s, const char *ch, size_t len, const char *const *keys,
                            size_t n)
{
    uv_mutex_lock(&s->mu);
    sp_chan_t *c = lc_map_get(&s->chans, ch, len);
    for (size_t i = 0; c && i < n; i++) {
        size_t kl = strlen(keys[i]);
        sp_item_t *item = lc_map_get(&c->items, keys[i], kl);
        if (item && item->refs > 0 && --item->refs == 0)
            item->idle_since = lc_mono_ms();
    }
    uv_mutex_unlock(&s->mu);
}

void lc__spoll_node_epoch(lc_spoll_t *s, const char *ch, size_t len, const lc_ns_opts_t *o,
                          char *out, size_t outlen)
{
    if (!versioned(&o->shared_poll)) {
        snprintf(out, outlen, "%s", s->epoch);
        return;
    }
    uv_mutex_lock(&s->mu);
    sp_chan_t *c = lc_map_get(&s->chans, ch, len);
    /* "-" until the backend named one: a client must see the first real epoch change it */
    snprintf(out, outlen, "%s", c && c->epoch[0] ? c->epoch : "-");
    uv_mutex_unlock(&s->mu);
}

/* --- stop ---------------------------------------------------------------------------------- */

static void on_worker_stop(lc_worker_t *w, void *arg)
{
    lc_spoll_t *s = arg;
    int me = lc_worker_index(w);
    uv_mutex_lock(&s->mu);
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&s->chans, &it, &k, &kl, &v)) {
        sp_chan_t *c = v;
        if (c->owner != me)
            continue;
        while (c->calls) {
            sp_call_t *call = c->calls;
            lc_proxy_spoll_cancel(call->http);
            lc_lua_cancel(call->lua);
            atomic_fetch_sub(&s->calls, 1);
            c->inflight--;
            call_free(call);
        }
        uv_timer_stop(&c->timer);
        if (!uv_is_closing((uv_handle_t *)&c->timer))
            uv_close((uv_handle_t *)&c->timer, on_closed);
    }
    uv_mutex_unlock(&s->mu);
}
