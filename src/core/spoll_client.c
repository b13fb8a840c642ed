/* Shared poll, the sessions' side: the subscribe reply, track and untrack requests (their
 * checks, signatures and the Lua track hook), and each worker's index of who tracks what, which
 * the node's answers are delivered through. Everything here runs in the session's worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spoll_sig.h"
#include "core/client_internal.h"
#include "core/spoll.h"
#include "proto/codes.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/list.h"
#include "util/log.h"
#include "util/map.h"
#include "util/rcbuf.h"

#define DEFAULT_MAX_KEYS 5000

typedef struct sp_wkey sp_wkey_t;
typedef struct sp_csub sp_csub_t;
typedef struct sp_wchan sp_wchan_t;

typedef struct sp_tracker {
    lc_list_t node; /* in its key's list */
    sp_csub_t *cs;
    sp_wkey_t *wk;
    uint64_t version; /* what the client holds */
    int64_t exp;      /* its signature's expiry (Unix s), 0 = none */
} sp_tracker_t;

struct sp_wkey {
    lc_list_t trackers;
    size_t n;
    size_t klen;
    char key[];
};

/* One session's shared poll subscription on this worker. */
struct sp_csub {
    lc_client_t *c;
    sp_wchan_t *wc;
    lc_map_t tracked; /* key → sp_tracker_t */
};

struct sp_wchan {
    lc_map_t keys; /* key → sp_wkey_t */
    lc_map_t subs; /* client id → sp_csub_t */
};

struct lc__spoll_wstate {
    lc_map_t chans; /* channel → sp_wchan_t */
};

lc__spoll_wstate_t *lc__spoll_wstate_new(void)
{
    lc__spoll_wstate_t *ws = calloc(1, sizeof(*ws));
    if (ws)
        lc_map_init(&ws->chans);
    return ws;
}

static void wchan_free(sp_wchan_t *wc)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&wc->subs, &it, &k, &kl, &v)) {
        sp_csub_t *cs = v;
        lc_map_iter_t jt = {0};
        while (lc_map_next(&cs->tracked, &jt, &k, &kl, &v))
            free(v);
        lc_map_free(&cs->tracked);
        free(cs);
    }
    memset(&it, 0, sizeof(it));
    while (lc_map_next(&wc->keys, &it, &k, &kl, &v))
        free(v);
    lc_map_free(&wc->keys);
    lc_map_free(&wc->subs);
    free(wc);
}

void lc__spoll_wstate_free(lc__spoll_wstate_t *ws)
{
    if (!ws)
        return;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&ws->chans, &it, &k, &kl, &v))
        wchan_free(v);
    lc_map_free(&ws->chans);
    free(ws);
}

static lc__spoll_wstate_t *wstate(lc_client_t *c)
{
    return lc__spoll_wstate(lc__node_spoll(lc_worker_node(c->w)), c->w);
}

static sp_csub_t *csub_find(lc_client_t *c, const char *ch, size_t len)
{
    sp_wchan_t *wc = lc_map_get(&wstate(c)->chans, ch, len);
    return wc ? lc_map_get(&wc->subs, c->id, strlen(c->id)) : NULL;
}

static sp_csub_t *csub_make(lc_client_t *c, const char *ch, size_t len)
{
    lc__spoll_wstate_t *ws = wstate(c);
    sp_wchan_t *wc = lc_map_get(&ws->chans, ch, len);
    if (!wc) {
        wc = calloc(1, sizeof(*wc));
        if (!wc)
            return NULL;
        lc_map_init(&wc->keys);
        lc_map_init(&wc->subs);
        if (lc_map_put(&ws->chans, ch, len, wc, NULL) != 0) {
            free(wc);
            return NULL;
        }
    }
    sp_csub_t *cs = calloc(1, sizeof(*cs));
    if (!cs || lc_map_put(&wc->subs, c->id, strlen(c->id), cs, NULL) != 0) {
        free(cs);
        return NULL;
    }
    cs->c = c;
    cs->wc = wc;
    lc_map_init(&cs->tracked);
    return cs;
}

/* Remove one tracker from this worker's index (not from the node's counts). */
static void tracker_drop(sp_tracker_t *t)
{
    sp_wkey_t *wk = t->wk;
    sp_wchan_t *wc = t->cs->wc;
    lc_map_del(&t->cs->tracked, wk->key, wk->klen);
    lc_list_remove(&t->node);
    if (--wk->n == 0) {
        lc_map_del(&wc->keys, wk->key, wk->klen);
        free(wk);
    }
    free(t);
}

static sp_tracker_t *tracker_add(sp_csub_t *cs, const char *key)
{
    size_t kl = strlen(key);
    sp_wkey_t *wk = lc_map_get(&cs->wc->keys, key, kl);
    if (!wk) {
        wk = calloc(1, sizeof(*wk) + kl + 1);
        if (!wk)
            return NULL;
        memcpy(wk->key, key, kl + 1);
        wk->klen = kl;
        lc_list_init(&wk->trackers);
        if (lc_map_put(&cs->wc->keys, key, kl, wk, NULL) != 0) {
            free(wk);
            return NULL;
        }
    }
    sp_tracker_t *t = calloc(1, sizeof(*t));
    if (!t || lc_map_put(&cs->tracked, key, kl, t, NULL) != 0) {
        free(t);
        if (wk->n == 0) {
            lc_map_del(&cs->wc->keys, key, kl);
            free(wk);
        }
        return NULL;
    }
    t->cs = cs;
    t->wk = wk;
    lc_list_insert_tail(&wk->trackers, &t->node);
    wk->n++;
    return t;
}

/* Untrack keys of cs here and in the node's counts. */
static void untrack_keys(lc_client_t *c, sp_csub_t *cs, const char *ch, size_t len,
                         char *const *keys, size_t n)
{
    const char **gone = malloc((n ? n : 1) * sizeof(char *));
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        sp_tracker_t *t = lc_map_get(&cs->tracked, keys[i], strlen(keys[i]));
        if (!t)
            continue;
        tracker_drop(t);
        if (gone)
            gone[ng++] = keys[i];
    }
    if (ng)
        lc__spoll_node_untrack(lc__node_spoll(lc_worker_node(c->w)), ch, len, gone, ng);
    free(gone);
}

static void csub_end(lc_client_t *c, sp_csub_t *cs, const char *ch, size_t len)
{
    size_t n = lc_map_count(&cs->tracked);
    char **keys = malloc((n ? n : 1) * sizeof(char *));
    size_t m = 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (keys && lc_map_next(&cs->tracked, &it, &k, &kl, &v))
        if ((keys[m] = strndup(k, kl)))
            m++;
    if (keys)
        untrack_keys(c, cs, ch, len, keys, m);
    for (size_t i = 0; i < m; i++)
        free(keys[i]);
    free(keys);
    /* trackers left after an allocation failure: out of the index at least */
    memset(&it, 0, sizeof(it));
    while (lc_map_next(&cs->tracked, &it, &k, &kl, &v))
        tracker_drop(v);
    sp_wchan_t *wc = cs->wc;
    lc_map_del(&wc->subs, c->id, strlen(c->id));
    lc_map_free(&cs->tracked);
    free(cs);
    if (lc_map_count(&wc->subs) == 0 && lc_map_count(&wc->keys) == 0) {
        lc_map_del(&wstate(c)->chans, ch, len);
        wchan_free(wc);
    }
}

void lc__spoll_forget(lc_client_t *c, const char *ch, size_t len)
{
    sp_csub_t *cs = csub_find(c, ch, len);
    if (cs)
        csub_end(c, cs, ch, len);
}

/* --- subscribe ---------------------------------------------------------------------------- */

/* The subscription and its reply, once nothing stands in the way. */
static int subscribe_make(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                          const lc_verdict_t *v)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    lc_sub_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.o = o;
    sp.chan_info = v->info;
    sp.data = v->data;
    sp.exp = v->expire_at;
    sp.proxy_refresh = v->refresh_by_proxy;
    lc_sub_plan_t plan;
    memset(&plan, 0, sizeof(plan)); /* no stream, presence or join/leave: items are the state */
    lc_stream_t h;
    memset(&h, 0, sizeof(h));
    lc_buf_t scratch = LC_BUF_INIT;
    uint32_t code = lc__client_sub_make(c, ch, len, &sp, &plan, &h, &scratch);
    lc_buf_free(&scratch);
    lc_csub_t *cs = code ? NULL : lc__client_find_sub(c, ch, len);
    if (!code && (!cs || !csub_make(c, ch, len))) {
        if (cs)
            lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
        code = LC_ERROR_INTERNAL;
    }
    if (code) {
        lc__client_reply_error(c, cmd->id, code);
        return LC_CMD_DONE;
    }
    cs->s->flags |= LC_SUB_SPOLL;
    char epoch[80];
    lc__spoll_node_epoch(lc__node_spoll(lc_worker_node(c->w)), ch, len, o, epoch, sizeof(epoch));
    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    r.epoch = epoch;
    r.data = v->data;
    if (sp.exp > 0 && !sp.proxy_refresh) {
        int64_t now = lc_now_s();
        r.expires = true;
        r.ttl = sp.exp > now ? (uint32_t)(sp.exp - now) : 0;
    }
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    lc_proto_reply_subscribe(&c->replies, cmd->id, &r);
    return LC_CMD_DONE;
}

/* With publish_enabled on an engine that links nodes, direct publishes come to this node
 * through the channel's engine subscription: the subscribe is answered once the node receives
 * the channel (as a stream subscribe is), so no publish after a track reply is missed. What
 * the wait keeps of the decision: */
typedef struct sp_ready {
    lc_engine_t *held; /* the channel counted in for the wait (the hub counts its own) */
    char *ch;
    size_t len;
    lc_verdict_t v; /* info and data point to the copies below */
    char *info, *data;
    int err;
} sp_ready_t;

static void ready_free(void *arg)
{
    sp_ready_t *r = arg;
    if (!r)
        return;
    if (r->held)
        r->held->vt->channel_unsubscribe(r->held, r->ch, r->len);
    free(r->ch);
    free(r->info);
    free(r->data);
    free(r);
}

/* raw pointed at a copy (in *out); an absent one stays absent. false on OOM. */
static bool copy_raw(lc_raw_t *raw, char **out)
{
    *out = NULL;
    if (!raw->p || raw->len == 0) {
        *raw = (lc_raw_t){NULL, 0};
        return true;
    }
    if (!(*out = malloc(raw->len)))
        return false;
    memcpy(*out, raw->p, raw->len);
    raw->p = *out;
    return true;
}

static int refuse_subscribe(lc_client_t *c, const lc_cmd_t *cmd)
{
    lc_log_error("client %s: subscribe to %s: out of memory", c->id, cmd->channel);
    lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    return LC_CMD_DONE;
}

/* The channel is received (or err): subscribe unless that changed meanwhile. */
static int subscribe_ready(lc_client_t *c, const lc_cmd_t *cmd, sp_ready_t *r)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), r->ch, r->len, c->user, &scratch);
    int res = LC_CMD_DONE;
    if (r->err) {
        lc_log_error("client %s: %s not subscribed on other nodes: %s", c->id, r->ch,
                     lc_strerror(r->err));
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else if (lc__client_find_sub(c, r->ch, r->len)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_ALREADY_SUBSCRIBED);
    } else {
        res = subscribe_make(c, cmd, o, &r->v);
    }
    return res;
}

static void on_ready(void *arg, int err)
{
    lc_engine_wait_t *w = arg;
    sp_ready_t *r = w->ctx;
    bool async;
    lc_client_t *c = lc__client_engine_answer(w, &async);
    if (!c) { /* the session ended: r is the waiter's (ctx_free) or freed by the starter */
        lc__client_engine_end(w, LC_CMD_DONE, async);
        return;
    }
    r->err = err;
    int res = LC_CMD_DONE;
    if (async) {
        w->ctx = NULL;
        w->ctx_free = NULL;
        res = subscribe_ready(c, c->cmd, r);
        ready_free(r); /* after the hub counted the channel itself */
    }
    lc__client_engine_end(w, res, async);
}

int lc__spoll_subscribe(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                        const lc_verdict_t *v)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    if (!o->shared_poll.publish_enabled || !e->vt->channel_ready)
        return subscribe_make(c, cmd, o, v);
    sp_ready_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->len = strlen(cmd->channel);
        r->ch = strndup(cmd->channel, r->len);
        /* what subscribe_make reads of the verdict */
        r->v.type = LC_VERDICT_ALLOW;
        r->v.info = v->info;
        r->v.data = v->data;
        r->v.expire_at = v->expire_at;
        r->v.refresh_by_proxy = v->refresh_by_proxy;
    }
    bool ok = r && r->ch && copy_raw(&r->v.info, &r->info) && copy_raw(&r->v.data, &r->data);
    lc_engine_wait_t *w = ok ? lc__client_engine_wait(c) : NULL;
    if (!w) {
        ready_free(r);
        return refuse_subscribe(c, cmd);
    }
    e->vt->channel_subscribe(e, r->ch, r->len);
    r->held = e;
    w->ctx = r;
    int rc = e->vt->channel_ready(e, r->ch, r->len, on_ready, w);
    int res = lc__client_engine_started(c, w, rc);
    if (res == LC_CMD_WAIT) {
        w->ctx_free = ready_free; /* dropped with the waiter if the session ends first */
        return res;
    }
    if (res != LC_CMD_STOP) {
        /* answered inside the call (r->err set), or not started */
        if (rc)
            r->err = rc;
        res = subscribe_ready(c, cmd, r);
    }
    ready_free(r);
    return res;
}

/* --- track and untrack ------------------------------------------------------------------- */

static int refuse(lc_client_t *c, const lc_cmd_t *cmd, uint32_t code, const char *why)
{
    lc_log_refused("track", c->id, c->user, cmd->channel, "shared poll", code, why);
    lc__client_reply_error(c, cmd->id, code);
    return LC_CMD_DONE;
}

/* Every batch's signature: 0 with the earliest expiry (0 = none), or the error code. */
static uint32_t verify(lc_client_t *c, const lc_cmd_t *cmd, int64_t *min_exp, const char **why)
{
    const lc_config_t *cfg = lc__ccfg(c);
    lc_spoll_keys_t keys = {cfg->shared_poll.hmac_secret_key,
                            cfg->shared_poll.hmac_previous_secret_key,
                            cfg->shared_poll.hmac_previous_secret_key_valid_until};
    int64_t now = lc_now_s();
    *min_exp = 0;
    for (size_t b = 0; b < cmd->n_track; b++) {
        const lc_cmd_track_t *t = &cmd->track[b];
        const char **ks = malloc(t->n_items * sizeof(char *));
        if (!ks)
            return LC_ERROR_INTERNAL;
        for (size_t i = 0; i < t->n_items; i++)
            ks[i] = t->items[i].key;
        int64_t exp = 0;
        int rc = lc_spoll_sig_verify(&keys, c->user ? c->user : "", cmd->channel, ks, t->n_items,
                                     t->signature, now, &exp);
        free(ks);
        if (rc == LC_EEXPIRED) {
            *why = "track signature expired";
            return LC_ERROR_TOKEN_EXPIRED;
        }
        if (rc) {
            *why = "invalid track signature";
            return LC_ERROR_PERMISSION_DENIED;
        }
        if (exp > 0 && (*min_exp == 0 || exp < *min_exp))
            *min_exp = exp;
    }
    return 0;
}

/* The items as JSON for the Lua track hook: [{"key":..,"version":..},...]. */
static char *items_json(const lc_cmd_t *cmd)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_putc(&b, '[');
    bool first = true;
    for (size_t i = 0; rc == 0 && i < cmd->n_track; i++)
        for (size_t j = 0; rc == 0 && j < cmd->track[i].n_items; j++) {
            const lc_cmd_item_t *it = &cmd->track[i].items[j];
            rc = lc_buf_append_str(&b, first ? "{\"key\":" : ",{\"key\":");
            rc = rc ? rc : lc_buf_append_json_str(&b, it->key, strlen(it->key));
            rc = rc ? rc : lc_buf_printf(&b, ",\"version\":%llu}", (unsigned long long)it->version);
            first = false;
        }
    rc = rc ? rc : lc_buf_append(&b, "]", 2); /* with the NUL */
    if (rc) {
        lc_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static int untrack(lc_client_t *c, lc_cmd_t *cmd, sp_csub_t *cs)
{
    if (cmd->n_untrack == 0)
        return refuse(c, cmd, LC_ERROR_BAD_REQUEST, "untrack without keys");
    untrack_keys(c, cs, cmd->channel, strlen(cmd->channel), cmd->untrack, cmd->n_untrack);
    lc__client_reply_empty(c, cmd->id, "sub_refresh");
    return LC_CMD_DONE;
}

int lc__spoll_sub_refresh(lc_client_t *c, lc_cmd_t *cmd)
{
    size_t len = strlen(cmd->channel);
    lc_csub_t *sub = lc__client_find_sub(c, cmd->channel, len);
    if (!sub)
        return refuse(c, cmd, LC_ERROR_PERMISSION_DENIED, "not subscribed");
    sp_csub_t *cs = csub_find(c, cmd->channel, len);
    if (!(sub->s->flags & LC_SUB_SPOLL) || !cs)
        return refuse(c, cmd, LC_ERROR_BAD_REQUEST, "not a shared poll subscription");
    if (cmd->refresh_type == LC_SPOLL_UNTRACK)
        return untrack(c, cmd, cs);
    if (cmd->refresh_type != LC_SPOLL_TRACK)
        return refuse(c, cmd, LC_ERROR_BAD_REQUEST, "unknown sub_refresh type");
    if (cmd->n_track == 0)
        return refuse(c, cmd, LC_ERROR_BAD_REQUEST, "track without items");
    /* shapes first, then the per-connection limit, then the signatures */
    lc_map_t seen;
    lc_map_init(&seen);
    size_t added = 0;
    uint32_t code = 0;
    const char *why = NULL;
    for (size_t b = 0; !code && b < cmd->n_track; b++) {
        if (cmd->track[b].n_items == 0) {
            code = LC_ERROR_BAD_REQUEST;
            why = "track batch without items";
        }
        for (size_t i = 0; !code && i < cmd->track[b].n_items; i++) {
            const char *key = cmd->track[b].items[i].key;
            size_t kl = strlen(key);
            if (kl == 0 || kl > LC_SPOLL_KEY_MAX) {
                code = LC_ERROR_BAD_REQUEST;
                why = kl ? "item key too long" : "empty item key";
            } else if (!lc_map_get(&cs->tracked, key, kl) && !lc_map_get(&seen, key, kl)) {
                if (lc_map_put(&seen, key, kl, (void *)key, NULL) != 0)
                    code = LC_ERROR_INTERNAL;
                added++;
            }
        }
    }
    lc_map_free(&seen);
    if (code)
        return refuse(c, cmd, code, why);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), cmd->channel, len, c->user, &scratch);
    int max = o && o->shared_poll.max_keys_per_connection > 0
                  ? o->shared_poll.max_keys_per_connection
                  : DEFAULT_MAX_KEYS;
    if (lc_map_count(&cs->tracked) + added > (size_t)max)
        return refuse(c, cmd, LC_ERROR_LIMIT_EXCEEDED, "too many tracked items");
    int64_t exp;
    if ((code = verify(c, cmd, &exp, &why)) != 0)
        return refuse(c, cmd, code, why);
    lc_lua_t *vm = lc__worker_lua(c->w);
    if (vm && lc_lua_has_hook(vm, LC_HOOK_TRACK)) {
        if (!(cmd->track_json = items_json(cmd)))
            return refuse(c, cmd, LC_ERROR_INTERNAL, "out of memory");
        lc_decide_req_t r;
        lc__client_decide_req(c, LC_HOOK_TRACK, &r);
        r.data = (lc_raw_t){cmd->track_json, strlen(cmd->track_json)};
        return lc__client_decide(c, &r);
    }
    lc_verdict_t v;
    memset(&v, 0, sizeof(v));
    v.type = LC_VERDICT_ALLOW;
    return lc__spoll_track_apply(c, cmd, &v);
}

int lc__spoll_track_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type != LC_VERDICT_ALLOW) {
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    sp_csub_t *cs = csub_find(c, ch, len);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), ch, len, c->user, &scratch);
    int64_t exp = 0;
    const char *why = NULL;
    if (!cs || !o) /* unsubscribed while the hook ran */
        return refuse(c, cmd, LC_ERROR_PERMISSION_DENIED, "not subscribed");
    uint32_t code = verify(c, cmd, &exp, &why); /* cheap, and the time moved on */
    if (code)
        return refuse(c, cmd, code, why);
    size_t n = 0;
    for (size_t b = 0; b < cmd->n_track; b++)
        n += cmd->track[b].n_items;
    lc__spoll_track_in_t *in = calloc(n, sizeof(*in));
    uint64_t *vers = calloc(n, sizeof(uint64_t));
    lc_rcbuf_t **pubs = calloc(n, sizeof(lc_rcbuf_t *));
    bool *is_new = calloc(n, sizeof(bool));
    sp_tracker_t **ts = calloc(n, sizeof(sp_tracker_t *));
    int rc = in && vers && pubs && is_new && ts ? 0 : LC_ENOMEM;
    size_t m = 0;
    for (size_t b = 0; rc == 0 && b < cmd->n_track; b++)
        for (size_t i = 0; rc == 0 && i < cmd->track[b].n_items; i++) {
            const lc_cmd_item_t *it = &cmd->track[b].items[i];
            sp_tracker_t *t = lc_map_get(&cs->tracked, it->key, strlen(it->key));
            bool fresh = !t; /* else a replay, or the same key twice in the request */
            if (fresh && !(t = tracker_add(cs, it->key))) {
                rc = LC_ENOMEM;
                break;
            }
            ts[m] = t;
            is_new[m] = fresh;
            in[m] = (lc__spoll_track_in_t){it->key, it->version, &vers[m], &pubs[m]};
            m++;
        }
    if (rc == 0)
        rc = lc__spoll_node_track(lc__node_spoll(lc_worker_node(c->w)), c->w, ch, len, o, in, m,
                                  is_new);
    if (rc) {
        /* the node did not count them: take the new trackers back */
        for (size_t i = 0; i < m; i++)
            if (is_new[i])
                tracker_drop(ts[i]);
        free(in);
        free(vers);
        free(pubs);
        free(is_new);
        free(ts);
        return refuse(c, cmd, LC_ERROR_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < m; i++) {
        ts[i]->version = vers[i];
        ts[i]->exp = exp;
    }
    if (cmd->n_untrack)
        untrack_keys(c, cs, ch, len, cmd->untrack, cmd->n_untrack);
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{", cmd->id);
    bool comma = false;
    if (exp > 0) {
        int64_t now = lc_now_s();
        lc_buf_printf(&c->replies, "\"expires\":true,\"ttl\":%lld",
                      (long long)(exp > now ? exp - now : 0));
        comma = true;
    }
    bool any = false;
    for (size_t i = 0; i < m; i++) {
        if (!pubs[i])
            continue;
        /* the item's current data, which this client has not seen */
        lc_buf_append_str(&c->replies, any ? "," : comma ? ",\"items\":[" : "\"items\":[");
        lc_buf_append(&c->replies, pubs[i]->data, pubs[i]->len);
        lc_rcbuf_unref(pubs[i]);
        any = true;
    }
    lc_buf_append_str(&c->replies, any ? "]}}" : "}}");
    free(in);
    free(vers);
    free(pubs);
    free(is_new);
    free(ts);
    return LC_CMD_DONE;
}

/* --- deliveries from the node (this worker's thread) -------------------------------------- */

static void reset_subscribers(lc_worker_t *w, sp_wchan_t *wc, const char *ch, size_t len)
{
    size_t n = lc_map_count(&wc->subs);
    lc_client_t **cl = malloc((n ? n : 1) * sizeof(*cl));
    size_t m = 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (cl && lc_map_next(&wc->subs, &it, &k, &kl, &v))
        cl[m++] = ((sp_csub_t *)v)->c;
    char *name = strndup(ch, len);
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *push = NULL;
    if (name && lc_proto_push_unsubscribe(&b, name, LC_UNSUBSCRIBE_INSUFFICIENT_STATE,
                                          "insufficient state") == 0)
        push = lc_rcbuf_from(b.data, b.len);
    lc_rcbuf_t *frames[LC_FRAMING_MAX] = {0};
    /* wc goes away with the last subscriber: only the clients collected above are used */
    for (size_t i = 0; i < m; i++) {
        lc_client_t *c = cl[i];
        lc_csub_t *cs = lc__client_find_sub(c, ch, len);
        if (push)
            lc__client_deliver(c, push, frames, NULL);
        if (cs)
            lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
    }
    for (int i = 0; i < LC_FRAMING_MAX; i++)
        lc_rcbuf_unref(frames[i]);
    lc_rcbuf_unref(push);
    lc_buf_free(&b);
    free(name);
    free(cl);
    (void)w;
}

static void sweep_expired(lc_worker_t *w, sp_wchan_t *wc, const char *ch, size_t len,
                          int64_t extra_ms)
{
    int64_t now_ms = lc_now_ms();
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    size_t ns = lc_map_count(&wc->subs);
    sp_csub_t **subs = malloc((ns ? ns : 1) * sizeof(*subs));
    size_t m = 0;
    while (subs && lc_map_next(&wc->subs, &it, &k, &kl, &v))
        subs[m++] = v;
    for (size_t i = 0; i < m; i++) {
        sp_csub_t *cs = subs[i];
        size_t nt = lc_map_count(&cs->tracked), e = 0;
        char **gone = malloc((nt ? nt : 1) * sizeof(char *));
        lc_map_iter_t jt = {0};
        while (gone && lc_map_next(&cs->tracked, &jt, &k, &kl, &v)) {
            const sp_tracker_t *t = v;
            if (t->exp > 0 && now_ms > t->exp * 1000 + extra_ms && (gone[e] = strndup(k, kl)))
                e++;
        }
        if (e) {
            /* silently, as the reference does: the SDK refreshes signatures before this */
            lc_log_info("client %s: %zu tracked items of %.*s expired", cs->c->id, e, (int)len, ch);
            untrack_keys(cs->c, cs, ch, len, gone, e);
        }
        for (size_t j = 0; j < e; j++)
            free(gone[j]);
        free(gone);
    }
    free(subs);
    (void)w;
}

void lc__spoll_worker_deliver(lc_worker_t *w, const char *ch, size_t len,
                              const lc__spoll_delivery_t *d, size_t n, int64_t extra_ms, bool reset)
{
    lc__spoll_wstate_t *ws = lc__spoll_wstate(lc__node_spoll(lc_worker_node(w)), w);
    sp_wchan_t *wc = lc_map_get(&ws->chans, ch, len);
    if (!wc)
        return;
    if (reset) {
        reset_subscribers(w, wc, ch, len);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        sp_wkey_t *wk = lc_map_get(&wc->keys, d[i].key, strlen(d[i].key));
        if (!wk)
            continue;
        lc_rcbuf_t *frames[LC_FRAMING_MAX] = {0};
        lc_list_t *pos, *tmp;
        size_t left = wk->n;
        lc_list_foreach_safe(pos, tmp, &wk->trackers)
        {
            sp_tracker_t *t = lc_container_of(pos, sp_tracker_t, node);
            lc_client_t *c = t->cs->c;
            bool last = --left == 0;
            if (d[i].removed) {
                lc__client_deliver(c, d[i].push, frames, NULL);
                tracker_drop(t); /* the node forgot the item already */
            } else if (d[i].version > t->version) {
                t->version = d[i].version;
                lc__client_deliver(c, d[i].push, frames, NULL);
            }
            if (last)
                break; /* wk may be gone with its last tracker */
        }
        for (int f = 0; f < LC_FRAMING_MAX; f++)
            lc_rcbuf_unref(frames[f]);
    }
    if (extra_ms >= 0)
        sweep_expired(w, wc, ch, len, extra_ms);
}
