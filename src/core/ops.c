/* Node-wide operations (core/ops.h): a function run in every worker, and the server API's
 * operations on each worker's sessions: subscribe, unsubscribe, disconnect and refresh a
 * user's or one client's connections; list channels. */
#include "core/client_internal.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* --- running in every worker ------------------------------------------------------------- */

int lc_ops_each_worker(lc_node_t *n, lc_ops_each_fn each, lc_ops_each_fn done, void *arg)
{
    lc_worker_t *self = lc__worker_current();
    if (!self)
        return LC_EINVAL;
    int nw = lc_node_num_workers(n);
    lc_each_op_t *op = lc__each_op_new(self, nw, each, done, arg);
    if (!op)
        return LC_ENOMEM;
    /* Once posted to one worker the op is live; a failure to post to the others must still
     * count them down, so it is posted first and accounted for afterwards. */
    int posted = 0;
    for (int i = 0; i < nw; i++) {
        if (lc__worker_post_each(lc_node_worker(n, i), op) != 0) {
            lc_log_error("node operation: worker %d not reached: out of memory", i);
            if (posted == 0 && i == 0) {
                free(op);
                return LC_ENOMEM;
            }
            lc__each_op_skip(op);
            continue;
        }
        posted++;
    }
    return 0;
}

static void run_nothing(lc_worker_t *w, void *arg)
{
    (void)w;
    (void)arg;
}

/* An operation of one worker whose origin is that worker: its `done` is fn. */
int lc_ops_run_in(lc_node_t *n, int index, lc_ops_each_fn fn, void *arg)
{
    if (index < 0 || index >= lc_node_num_workers(n))
        return LC_EINVAL;
    lc_worker_t *w = lc_node_worker(n, index);
    lc_each_op_t *op = lc__each_op_new(w, 1, run_nothing, fn, arg);
    if (!op)
        return LC_ENOMEM;
    if (lc__worker_post_each(w, op) != 0) {
        free(op);
        return LC_ENOMEM;
    }
    return 0;
}

/* --- the sessions of a target ---------------------------------------------------------- */

/* Call fn for every connected session the target names on this worker. fn may disconnect
 * the session it is given (and only that one): a disconnected session stays allocated until
 * its transport has closed, which never happens inside fn. */
static size_t for_target(lc_worker_t *w, const lc_target_t *t,
                         void (*fn)(lc_client_t *c, void *arg), void *arg)
{
    bool has_client = t->client && t->client[0];
    bool has_user = t->user && t->user[0];
    if (has_client) {
        lc_client_t *c = lc__worker_find_client(w, t->client);
        if (!c || c->state != LC_CLIENT_CONNECTED)
            return 0;
        if (has_user && strcmp(c->user, t->user) != 0)
            return 0;
        fn(c, arg);
        return 1;
    }
    if (!has_user)
        return 0;
    /* fn may disconnect any of them, which changes the user's ring: take the sessions out of
     * it first. */
    size_t n = lc__worker_user_clients(w, t->user, NULL, 0);
    if (n == 0)
        return 0;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    void **all = malloc(n * sizeof(*all));
    if (!all) {
        lc_log_error("server API operation on user %s: out of memory", t->user);
        return 0;
    }
    lc__worker_user_clients(w, t->user, all, n);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        lc_client_t *c = all[i];
        if (c->state != LC_CLIENT_CONNECTED)
            continue;
        done++;
        fn(c, arg);
    }
    free(all);
    return done;
}

/* --- subscribe ------------------------------------------------------------------------- */

typedef struct sub_arg {
    const char *channel;
    const lc_api_sub_opts_t *o;
    size_t done;
} sub_arg_t;

static void do_subscribe(lc_client_t *c, void *arg)
{
    sub_arg_t *a = arg;
    size_t len = strlen(a->channel);
    if (lc__client_find_sub(c, a->channel, len))
        return;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), a->channel, len, c->user, &scratch);
    if (!o)
        return;
    const char *why = lc__client_server_side_refusal(o); /* the API refused it already */
    if (why) {
        lc_log_info("client %s: server API subscribe to %s not made: %s", c->id, a->channel, why);
        return;
    }
    lc_sub_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.o = o;
    sp.server_side = true;
    sp.chan_info = a->o ? a->o->info : (lc_raw_t){0};
    sp.data = a->o ? a->o->data : (lc_raw_t){0};
    sp.override = a->o ? a->o->override : NULL;
    if (a->o && a->o->expire_at > 0)
        sp.exp = a->o->expire_at;
    if (a->o && a->o->has_recover_since) {
        sp.recover = true;
        sp.want_recoverable = true;
        sp.offset = a->o->recover_offset;
        sp.epoch = a->o->recover_epoch;
    }
    /* The stream is read (Redis: later) as for a client subscribe; the push follows. */
    lc__client_api_subscribe(c, a->channel, len, &sp);
    a->done++;
}

size_t lc_ops_subscribe(lc_worker_t *w, const lc_target_t *t, const char *channel,
                        const lc_api_sub_opts_t *o)
{
    sub_arg_t a = {.channel = channel, .o = o};
    for_target(w, t, do_subscribe, &a);
    return a.done;
}

/* --- unsubscribe ----------------------------------------------------------------------- */

static void do_unsubscribe(lc_client_t *c, void *arg)
{
    const char *ch = arg;
    lc_csub_t *cs = lc__client_find_sub(c, ch, strlen(ch));
    if (!cs)
        return;
    lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
    lc_buf_t b = LC_BUF_INIT;
    if (lc_proto_push_unsubscribe(&b, ch, LC_UNSUBSCRIBE_SERVER, NULL) == 0)
        lc__client_send_push(c, b.data, b.len);
    lc_buf_free(&b);
}

size_t lc_ops_unsubscribe(lc_worker_t *w, const lc_target_t *t, const char *channel)
{
    return for_target(w, t, do_unsubscribe, (void *)channel);
}

/* --- resync (the engine may have lost deliveries) ------------------------------------------ */

/* Leave subscription i because deliveries were missed: 2500 for a client-side one (the SDK
 * resubscribes and recovers), 3010 for the session when it is server-side. Returns false when
 * the session was disconnected. */
static bool resync_sub(lc_client_t *c, uint32_t i)
{
    lc_sub_t *s = c->subs[i].s;
    if (s->flags & LC_SUB_SERVER_SIDE) {
        lc__client_disconnect(c, LC_DISCONNECT_INSUFFICIENT_STATE, NULL);
        return false;
    }
    size_t len;
    const char *ch = lc_hub_sub_channel(s, &len);
    char *name = strndup(ch, len);
    lc__client_remove_sub(c, i); /* the last one moves into slot i */
    lc_buf_t b = LC_BUF_INIT;
    if (name && lc_proto_push_unsubscribe(&b, name, LC_UNSUBSCRIBE_INSUFFICIENT_STATE, NULL) == 0)
        lc__client_send_push(c, b.data, b.len);
    free(name);
    lc_buf_free(&b);
    return true;
}

void lc__client_resync(lc_client_t *c, void *arg)
{
    (void)arg;
    lc__client_map_lost(c); /* a walk's kept publications may miss some too */
    uint32_t i = 0;
    while (i < c->nsubs && c->state == LC_CLIENT_CONNECTED) {
        if (!(c->subs[i].s->flags & LC_SUB_POSITIONED)) {
            i++;
            continue;
        }
        if (!resync_sub(c, i))
            return;
    }
}

void lc__client_gap(void *owner, const char *ch, size_t len, void *ctx)
{
    (void)ctx;
    lc_client_t *c = owner;
    if (c->state != LC_CLIENT_CONNECTED)
        return;
    lc_csub_t *cs = lc__client_find_sub(c, ch, len);
    if (cs)
        resync_sub(c, (uint32_t)(cs - c->subs));
}

/* --- disconnect ------------------------------------------------------------------------ */

typedef struct disc_arg {
    const char *const *whitelist;
    size_t n_whitelist;
    uint32_t code;
    const char *reason;
} disc_arg_t;

static void do_disconnect(lc_client_t *c, void *arg)
{
    disc_arg_t *a = arg;
    for (size_t i = 0; i < a->n_whitelist; i++)
        if (strcmp(a->whitelist[i], c->id) == 0)
            return;
    lc__client_disconnect(c, a->code, a->reason);
}

size_t lc_ops_disconnect(lc_worker_t *w, const lc_target_t *t, const char *const *whitelist,
                         size_t n_whitelist, uint32_t code, const char *reason)
{
    disc_arg_t a = {whitelist, n_whitelist, code ? code : LC_DISCONNECT_FORCE_DISCONNECT,
                    reason && *reason ? reason : NULL};
    return for_target(w, t, do_disconnect, &a);
}

/* --- refresh --------------------------------------------------------------------------- */

typedef struct refresh_arg {
    bool expired;
    int64_t expire_at;
    lc_raw_t info;
} refresh_arg_t;

static void do_refresh(lc_client_t *c, void *arg)
{
    refresh_arg_t *a = arg;
    if (a->expired) {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        return;
    }
    if (a->info.p && a->info.len && a->info.len <= UINT32_MAX) {
        char *ni = malloc(a->info.len + 1);
        if (ni) {
            memcpy(ni, a->info.p, a->info.len);
            ni[a->info.len] = '\0';
            free(c->conn_info);
            c->conn_info = ni;
            c->conn_info_len = (uint32_t)a->info.len;
        }
    }
    if (a->expire_at > 0) {
        c->exp = a->expire_at;
        lc__client_arm_expiry(c);
        int64_t now = lc_now_s();
        lc_buf_t b = LC_BUF_INIT;
        if (lc_proto_push_refresh(&b, true, (uint32_t)(c->exp > now ? c->exp - now : 0)) == 0)
            lc__client_send_push(c, b.data, b.len);
        lc_buf_free(&b);
    }
}

size_t lc_ops_refresh(lc_worker_t *w, const lc_target_t *t, bool expired, int64_t expire_at,
                      lc_raw_t info)
{
    refresh_arg_t a = {expired, expire_at, info};
    return for_target(w, t, do_refresh, &a);
}

/* --- channels -------------------------------------------------------------------------- */

typedef struct chan_arg {
    const char *pattern;
    void (*fn)(void *arg, const char *ch, size_t len, uint64_t nsubs);
    void *arg;
} chan_arg_t;

static void each_channel(void *arg, const char *ch, size_t len, size_t n)
{
    chan_arg_t *a = arg;
    /* Hub names are NUL-terminated. gobwas/glob's `*`, `?` and `[...]` match as in fnmatch. */
    if (a->pattern && *a->pattern && fnmatch(a->pattern, ch, 0) != 0)
        return;
    a->fn(a->arg, ch, len, n);
}

void lc_ops_channels(lc_worker_t *w, const char *pattern,
                     void (*fn)(void *arg, const char *ch, size_t len, uint64_t nsubs), void *arg)
{
    chan_arg_t a = {pattern, fn, arg};
    lc_hub_foreach(lc__worker_hub(w), each_channel, &a);
}

/* --- listing (admin UI) ---------------------------------------------------------------- */

typedef struct conn_arg {
    lc_conn_fn fn;
    void *arg;
} conn_arg_t;

static void do_list(lc_client_t *c, void *arg)
{
    conn_arg_t *a = arg;
    const char *small[16] = {0};
    const char **chs = c->nsubs <= 16 ? small : malloc(c->nsubs * sizeof(*chs));
    size_t n = 0;
    if (chs) {
        for (uint32_t i = 0; i < c->nsubs; i++) {
            size_t len;
            chs[n++] = lc_hub_sub_channel(c->subs[i].s, &len);
        }
    }
    a->fn(a->arg, c->id, c->user, c->t->vt->name, chs ? chs : small, n);
    if (chs != small)
        free(chs);
}

size_t lc_ops_connections(lc_worker_t *w, const lc_target_t *t, lc_conn_fn fn, void *arg)
{
    conn_arg_t a = {fn, arg};
    return for_target(w, t, do_list, &a);
}

/* --- the admin playground ------------------------------------------------------------------ */

int lc_ops_explain(lc_worker_t *w, const lc_explain_args_t *a, lc_explain_cb cb, void *arg,
                   lc_explain_t **out, char *err, size_t errlen)
{
    return lc_explain_start(lc_worker_config(w), lc__worker_lua(w), lc__worker_httpc(w), a, cb, arg,
                            out, err, errlen);
}
