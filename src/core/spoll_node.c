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
#include "core/spoll.h"
#include "hooks/proxy_spoll.h"
#include "hooks/script.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"
#include "util/rand.h"
#include "util/rcbuf.h"

#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_BATCH 1000
#define DEFAULT_SHUTDOWN_MS 1000
#define DEFAULT_ABSENCES 2
#define DEFAULT_CONCURRENCY 64

typedef struct sp_item {
    uint32_t refs;    /* trackers on this node, every worker */
    uint64_t version; /* current version, 0 = no data yet */
    uint64_t hash;    /* versionless: the current data's hash */
    int absences;     /* versionless: cycles in a row the backend left it out */
    lc_rcbuf_t *pub;  /* the current Publication (for track replies), NULL before data */
} sp_item_t;

typedef struct sp_call sp_call_t;

typedef struct sp_chan {
    lc_spoll_t *reg;
    char *name;
    size_t len;
    lc_spoll_ns_t opts; /* copied (proxy_name borrowed from the config) */
    const lc_proxy_conf_t *proxy;
    lc_map_t items; /* key → sp_item_t */
    int owner;      /* the worker running the cycle */
    lc_worker_t *ow;
    uv_timer_t timer;
    int64_t empty_since; /* mono ms since which no item is tracked, 0 = some are */
    int inflight;        /* refresh calls out (cycle or cold) */
    bool cold_posted;    /* an early poll for cold keys is queued to the owner */
    bool removed;        /* out of the registry: the timer's close frees it */
    char *epoch;         /* versioned: the backend's epoch, "" before one came */
    sp_call_t *calls;    /* calls out, for cancelling at stop (owner thread) */
} sp_chan_t;

struct sp_call {
    sp_call_t *next, **prev;
    sp_chan_t *ch;
    lc_spoll_call_t *http;
    lc_lua_call_t *lua;
    bool cycle;   /* a timed cycle: absences count */
    char **keys;  /* the keys asked about */
    size_t nkeys;
    char *result; /* the answer's raw result while the Lua hook runs */
};

struct lc_spoll {
    lc_node_t *node;
    uv_mutex_t mu;
    lc_map_t chans; /* name → sp_chan_t */
    char epoch[17]; /* versionless epoch of this node's lifetime */
    uint64_t counter; /* synthetic versions (under mu) */
    atomic_int calls; /* refresh calls out on the node (concurrency_limit) */
    int nworkers;
    lc__spoll_wstate_t **w;
};

static int64_t interval_ms(const sp_chan_t *c)
{
    return c->opts.refresh_interval_ms > 0 ? c->opts.refresh_interval_ms : DEFAULT_INTERVAL_MS;
}

static bool versioned(const lc_spoll_ns_t *o)
{
    return o->mode == LC_SPOLL_VERSIONED;
}

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
    lc_map_init(&s->chans);
    atomic_init(&s->calls, 0);
    /* the versionless epoch: a client's synthetic versions are only good with this node */
    uint8_t r[8];
    lc_random_bytes(r, sizeof(r));
    for (int i = 0; i < 8; i++)
        snprintf(s->epoch + 2 * i, 3, "%02x", r[i]);
    for (int i = 0; i < s->nworkers; i++)
        lc_worker_on_stop(lc_node_worker(n, i), on_worker_stop, s);
    return s;
}

static void item_free(sp_item_t *it)
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
        item_free(v);
    lc_map_free(&c->items);
    free(c->name);
    free(c->epoch);
    free(c);
}

void lc__spoll_free(lc_spoll_t *s)
{
    if (!s)
        return;
    if (s->chans.buckets || s->chans.count) {
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

/* Everything the workers learn from one answer. */
typedef struct fanout {
    lc_spoll_t *reg;
    char *ch;
    size_t len;
    lc__spoll_delivery_t *d;
    size_t n;
    int64_t extra_ms;
    bool reset;
} fanout_t;

static void fan_each(lc_worker_t *w, void *arg)
{
    fanout_t *f = arg;
    lc__spoll_worker_deliver(w, f->ch, f->len, f->d, f->n, f->extra_ms, f->reset);
}

static void fan_done(lc_worker_t *w, void *arg)
{
    fanout_t *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        free(f->d[i].key);
        lc_rcbuf_unref(f->d[i].push);
    }
    free(f->d);
    free(f->ch);
    free(f);
}

/* {"push":{"channel":<ch>,"pub":<pub>}} */
static lc_rcbuf_t *make_push(const char *ch, size_t len, const char *pub, size_t plen)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"push\":{\"channel\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, ch, len);
    rc = rc ? rc : lc_buf_append_str(&b, ",\"pub\":");
    rc = rc ? rc : lc_buf_append(&b, pub, plen);
    rc = rc ? rc : lc_buf_append_str(&b, "}}");
    lc_rcbuf_t *r = rc ? NULL : lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

/* A Publication {"data":..,"key":..,"version":N} or {"key":..,"removed":true}. */
static lc_rcbuf_t *make_pub(const char *key, size_t klen, const char *data, size_t dlen,
                            uint64_t version, bool removed)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_putc(&b, '{');
    if (data) {
        rc = rc ? rc : lc_buf_append_str(&b, "\"data\":");
        rc = rc ? rc : lc_proto_append_raw(&b, data, dlen);
        rc = rc ? rc : lc_buf_putc(&b, ',');
    }
    rc = rc ? rc : lc_buf_append_str(&b, "\"key\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, key, klen);
    if (removed)
        rc = rc ? rc : lc_buf_append_str(&b, ",\"removed\":true");
    else if (version)
        rc = rc ? rc : lc_buf_printf(&b, ",\"version\":%llu", (unsigned long long)version);
    rc = rc ? rc : lc_buf_putc(&b, '}');
    lc_rcbuf_t *r = rc ? NULL : lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

static int add_delivery(fanout_t *f, size_t *cap, const char *key, size_t klen, uint64_t version,
                        bool removed, lc_rcbuf_t *pub)
{
    if (f->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        lc__spoll_delivery_t *nd = realloc(f->d, nc * sizeof(*nd));
        if (!nd)
            return LC_ENOMEM;
        f->d = nd;
        *cap = nc;
    }
    lc_rcbuf_t *push = make_push(f->ch, f->len, pub->data, pub->len);
    char *k = strndup(key, klen);
    if (!push || !k) {
        lc_rcbuf_unref(push);
        free(k);
        return LC_ENOMEM;
    }
    f->d[f->n++] = (lc__spoll_delivery_t){k, version, removed, push};
    return 0;
}

/* Apply one answer under the registry lock; what changed goes to the fan-out. */
static void apply_answer(sp_chan_t *c, sp_call_t *k, const lc_spoll_reply_t *r, fanout_t *f)
{
    lc_spoll_t *s = c->reg;
    size_t cap = 0;
    bool ver = versioned(&c->opts);
    int max_abs =
        c->opts.max_consecutive_absences > 0 ? c->opts.max_consecutive_absences : DEFAULT_ABSENCES;
    uv_mutex_lock(&s->mu);
    if (ver && r->epoch[0] && strcmp(r->epoch, c->epoch) != 0) {
        if (c->epoch[0]) {
            /* the backend restarted its versions: every version held is meaningless */
            lc_log_info("shared poll %.*s: backend epoch changed (%s → %s): subscribers start "
                        "afresh",
                        (int)c->len, c->name, c->epoch, r->epoch);
            lc_map_iter_t it = {0};
            const char *key;
            size_t kl;
            void *v;
            while (lc_map_next(&c->items, &it, &key, &kl, &v)) {
                sp_item_t *item = v;
                item->version = 0;
                lc_rcbuf_unref(item->pub);
                item->pub = NULL;
            }
            f->reset = true;
        }
        char *e = strdup(r->epoch);
        if (e) {
            free(c->epoch);
            c->epoch = e;
        }
    }
    /* versionless: an item the backend leaves out is gone after max_consecutive_absences */
    if (k->cycle && !ver)
        for (size_t i = 0; i < k->nkeys; i++) {
            sp_item_t *item = lc_map_get(&c->items, k->keys[i], strlen(k->keys[i]));
            if (item)
                item->absences++;
        }
    for (size_t i = 0; i < r->n_items; i++) {
        const lc_spoll_item_res_t *e = &r->items[i];
        sp_item_t *item = lc_map_get(&c->items, e->key, e->key_len);
        if (!item)
            continue; /* nobody tracks it any more */
        item->absences = 0;
        if (e->removed) {
            lc_rcbuf_t *pub = make_pub(e->key, e->key_len, NULL, 0, 0, true);
            if (pub && add_delivery(f, &cap, e->key, e->key_len, 0, true, pub) == 0) {
                lc_map_del(&c->items, e->key, e->key_len);
                item_free(item);
            }
            lc_rcbuf_unref(pub);
            continue;
        }
        if (!e->data)
            continue;
        uint64_t version;
        if (ver) {
            if (e->version <= item->version)
                continue;
            version = e->version;
        } else {
            uint64_t h = lc_hash(e->data, e->data_len);
            if (item->version > 0 && h == item->hash)
                continue;
            item->hash = h;
            version = ++s->counter;
        }
        lc_rcbuf_t *pub = make_pub(e->key, e->key_len, e->data, e->data_len, version, false);
        if (!pub || add_delivery(f, &cap, e->key, e->key_len, version, false, pub) != 0) {
            lc_rcbuf_unref(pub);
            continue;
        }
        item->version = version;
        lc_rcbuf_unref(item->pub);
        item->pub = pub;
    }
    if (k->cycle && !ver)
        for (size_t i = 0; i < k->nkeys; i++) {
            size_t kl = strlen(k->keys[i]);
            sp_item_t *item = lc_map_get(&c->items, k->keys[i], kl);
            if (!item || item->absences < max_abs)
                continue;
            lc_rcbuf_t *pub = make_pub(k->keys[i], kl, NULL, 0, 0, true);
            if (pub && add_delivery(f, &cap, k->keys[i], kl, 0, true, pub) == 0) {
                lc_map_del(&c->items, k->keys[i], kl);
                item_free(item);
            }
            lc_rcbuf_unref(pub);
        }
    uv_mutex_unlock(&s->mu);
}

static void fan_out(sp_chan_t *c, fanout_t *f)
{
    lc_spoll_t *s = c->reg;
    f->extra_ms = c->opts.track_expired_extra_delay_ms > 0 ? c->opts.track_expired_extra_delay_ms
                                                           : 25000;
    if (lc_ops_each_worker(s->node, fan_each, fan_done, f) != 0) {
        lc_log_error("shared poll %.*s: fan-out dropped: out of memory", (int)c->len, c->name);
        fan_done(NULL, f);
    }
}

static fanout_t *fanout_new(const sp_chan_t *c)
{
    fanout_t *f = calloc(1, sizeof(*f));
    if (f && !(f->ch = strndup(c->name, c->len))) {
        free(f);
        return NULL;
    }
    if (f) {
        f->reg = c->reg;
        f->len = c->len;
    }
    return f;
}

static void finish_call(sp_call_t *k, int err, const lc_spoll_reply_t *r)
{
    sp_chan_t *c = k->ch;
    c->inflight--;
    atomic_fetch_sub(&c->reg->calls, 1);
    if (err == 0 && r && !r->is_error) {
        fanout_t *f = fanout_new(c);
        if (f) {
            apply_answer(c, k, r, f);
            /* a cycle always reaches the workers: they also drop expired trackers then */
            if (f->n || f->reset || k->cycle)
                fan_out(c, f);
            else
                fan_done(NULL, f);
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
static char *result_json(const lc_spoll_reply_t *r)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"items\":[");
    for (size_t i = 0; rc == 0 && i < r->n_items; i++) {
        const lc_spoll_item_res_t *e = &r->items[i];
        rc = lc_buf_append_str(&b, i ? ",{\"key\":" : "{\"key\":");
        rc = rc ? rc : lc_buf_append_json_str(&b, e->key, e->key_len);
        if (rc == 0 && e->data) {
            rc = lc_buf_append_str(&b, ",\"data\":");
            rc = rc ? rc : lc_proto_append_raw(&b, e->data, e->data_len);
        }
        if (rc == 0 && e->version)
            rc = lc_buf_printf(&b, ",\"version\":%llu", (unsigned long long)e->version);
        if (rc == 0 && e->removed)
            rc = lc_buf_append_str(&b, ",\"removed\":true");
        rc = rc ? rc : lc_buf_putc(&b, '}');
    }
    rc = rc ? rc : lc_buf_append_str(&b, "],\"epoch\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, r->epoch, strlen(r->epoch));
    rc = rc ? rc : lc_buf_putc(&b, '}');
    rc = rc ? rc : lc_buf_putc(&b, '\0');
    if (rc) {
        lc_buf_free(&b);
        return NULL;
    }
    return b.data; /* the buffer's memory, NUL-terminated */
}

static void on_refresh(void *arg, int err, const lc_spoll_reply_t *r)
{
    sp_call_t *k = arg;
    k->http = NULL;
    sp_chan_t *c = k->ch;
    lc_lua_t *vm = lc__worker_lua(c->ow);
    if (err == 0 && !r->is_error && vm && lc_lua_has_hook(vm, LC_HOOK_SPOLL_REFRESH)) {
        k->result = result_json(r);
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
    k->http = lc_proxy_spoll_call(lc__worker_httpc(c->ow), c->proxy, c->name, body.data,
                                  body.len, on_refresh, k);
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

/* Collect the keys to ask about (all, or only cold ones) under the lock, then ask in batches. */
static void poll(sp_chan_t *c, bool cycle)
{
    lc_spoll_t *s = c->reg;
    bool ver = versioned(&c->opts);
    size_t batch = c->opts.refresh_batch_size > 0 ? (size_t)c->opts.refresh_batch_size
                                                  : DEFAULT_BATCH;
    uv_mutex_lock(&s->mu);
    size_t total = lc_map_count(&c->items);
    char **keys = calloc(total ? total : 1, sizeof(char *));
    uint64_t *vers = calloc(total ? total : 1, sizeof(uint64_t));
    size_t n = 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (keys && vers && lc_map_next(&c->items, &it, &k, &kl, &v)) {
        const sp_item_t *item = v;
        if (!cycle && item->version > 0)
            continue;
        if (!(keys[n] = strndup(k, kl)))
            break;
        vers[n++] = item->version;
    }
    uv_mutex_unlock(&s->mu);
    if (!keys || !vers) {
        free(keys);
        free(vers);
        return;
    }
    for (size_t at = 0; at < n; at += batch) {
        size_t m = n - at < batch ? n - at : batch;
        char **bk = malloc(m * sizeof(char *));
        uint64_t *bv = ver ? malloc(m * sizeof(uint64_t)) : NULL;
        if (!bk || (ver && !bv)) {
            free(bk);
            free(bv);
            for (size_t i = at; i < n; i++)
                free(keys[i]);
            break;
        }
        memcpy(bk, keys + at, m * sizeof(char *));
        if (bv)
            memcpy(bv, vers + at, m * sizeof(uint64_t));
        start_call(c, bk, bv, m, cycle);
    }
    free(keys);
    free(vers);
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
    if (lc_map_count(&c->items) == 0) {
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
        lc_log_warn("shared poll %.*s: previous refresh still pending, cycle skipped",
                    (int)c->len, c->name);
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
        if (is_new[i])
            item->refs++;
        *in[i].out_version = in[i].version;
        *in[i].out_pub = NULL;
        if (item->pub && item->version > in[i].version) {
            *in[i].out_version = item->version;
            *in[i].out_pub = lc_rcbuf_ref(item->pub);
        } else if (item->version == 0 && in[i].version == 0) {
            cold = true; /* nobody on this node has its data yet */
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
        if (item && --item->refs == 0) {
            lc_map_del(&c->items, keys[i], kl);
            item_free(item);
        }
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
    snprintf(out, outlen, "%s", c ? c->epoch : "");
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
