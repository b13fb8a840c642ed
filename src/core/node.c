/* The node: workers, the engine, and the path of a publication from the engine to every
 * worker's hub. The engine's sink wraps the encoded push in one shared delivery; the calling
 * worker fans out at once, the others get a reference through their inbox. */
#include "core/internal.h"
#include "core/lua_watch.h"
#include "core/spoll.h"
#include "hooks/httpc.h"
#include "hooks/script.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/map.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/rand.h"

struct lc_delivery {
    atomic_uint refs;
    int kind;        /* enum lc_push_kind */
    uint64_t offset; /* publication offset, 0 = none */
    lc_rcbuf_t *push;
    lc_rcbuf_t *variants[2]; /* delta subscribers' pushes: whole data as a string, delta */
    size_t chlen;
    char *channel;
    size_t n_exclude;
    char **exclude;
    size_t n_exclude_users;
    char **exclude_users;
    /* channel and exclusion strings follow in the same allocation */
};

struct lc_node {
    const lc_config_t *cfg;
    lc_engine_t *engine;
    int nworkers;
    lc_worker_t **workers;
    char uid[37];
    int64_t started_ms;
    uv_signal_t sigint, sigterm, sighup;
    bool signals;
    lc_lua_watch_t *watch; /* lua.watch */
    /* Every name in some proxy's http_headers allow-list: what a session keeps of its
     * connection request's headers. Borrowed from the config. */
    const char **fwd_headers;
    size_t n_fwd_headers;
    const char **fwd_emulated; /* likewise for emulated_headers */
    size_t n_fwd_emulated;
    /* Control data from other nodes goes to this handler (the server API's), worker 0. */
    lc_node_control_fn control_fn;
    void *control_arg;
    /* client.user_connection_limit: connections per user on this node, over all workers
     * (user → count as a pointer-sized integer). Touched only at connect and close, and
     * only when the limit is set. */
    uv_mutex_t users_mu;
    lc_map_t user_conns;
    lc_spoll_t *spoll; /* shared poll subscriptions (core/spoll.h) */
};

static bool in_names(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(names[i], name) == 0)
            return true;
    return false;
}

/* Add the allow-list src to the union *dst (names borrowed from the config). */
static void add_names(const char ***dst, size_t *n, size_t *cap, char *const *src, size_t ns)
{
    for (size_t i = 0; i < ns; i++) {
        if (in_names(*dst, *n, src[i]))
            continue;
        if (*n == *cap) {
            size_t ncap = *cap ? *cap * 2 : 8;
            const char **nh = realloc(*dst, ncap * sizeof(*nh));
            if (!nh)
                return;
            *dst = nh;
            *cap = ncap;
        }
        (*dst)[(*n)++] = src[i];
    }
}

static void collect_forwarded_headers(lc_node_t *n)
{
    const lc_config_t *c = n->cfg;
    const lc_proxy_conf_t *fixed[] = {&c->connect_proxy,
                                      &c->refresh_proxy,
                                      &c->channel_proxy_subscribe,
                                      &c->channel_proxy_publish,
                                      &c->channel_proxy_sub_refresh,
                                      &c->rpc_proxy};
    size_t cap_h = 0, cap_e = 0;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + c->n_proxies; i++) {
        const lc_proxy_conf_t *p =
            i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : &c->proxies[i - 6];
        add_names(&n->fwd_headers, &n->n_fwd_headers, &cap_h, p->http_headers, p->n_http_headers);
        add_names(&n->fwd_emulated, &n->n_fwd_emulated, &cap_e, p->emulated_headers,
                  p->n_emulated_headers);
    }
}

bool lc__node_keeps_headers(const lc_node_t *n)
{
    return n->n_fwd_headers > 0;
}

bool lc__node_forwards_header(const lc_node_t *n, const char *name)
{
    return in_names(n->fwd_headers, n->n_fwd_headers, name);
}

bool lc__node_forwards_emulated(const lc_node_t *n, const char *name)
{
    return in_names(n->fwd_emulated, n->n_fwd_emulated, name);
}

static lc_delivery_t *delivery_new(const char *ch, size_t chlen, int kind, uint64_t offset,
                                   lc_rcbuf_t *push, const lc_exclude_t *ex, unsigned refs)
{
    size_t n = ex ? ex->n_clients : 0, nu = ex ? ex->n_users : 0;
    size_t size = sizeof(lc_delivery_t) + (n + nu) * sizeof(char *) + chlen + 1;
    for (size_t i = 0; i < n; i++)
        size += strlen(ex->clients[i]) + 1;
    for (size_t i = 0; i < nu; i++)
        size += strlen(ex->users[i]) + 1;
    lc_delivery_t *d = malloc(size);
    if (!d)
        return NULL;
    atomic_init(&d->refs, refs);
    d->kind = kind;
    d->offset = offset;
    d->push = lc_rcbuf_ref(push);
    d->variants[0] = d->variants[1] = NULL;
    d->chlen = chlen;
    d->n_exclude = n;
    d->exclude = (char **)(d + 1);
    d->n_exclude_users = nu;
    d->exclude_users = d->exclude + n;
    char *p = (char *)(d->exclude_users + nu);
    d->channel = p;
    memcpy(p, ch, chlen);
    p[chlen] = '\0';
    p += chlen + 1;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(ex->clients[i]);
        memcpy(p, ex->clients[i], l + 1);
        d->exclude[i] = p;
        p += l + 1;
    }
    for (size_t i = 0; i < nu; i++) {
        size_t l = strlen(ex->users[i]);
        memcpy(p, ex->users[i], l + 1);
        d->exclude_users[i] = p;
        p += l + 1;
    }
    return d;
}

void lc__delivery_unref(lc_delivery_t *d)
{
    if (atomic_fetch_sub(&d->refs, 1) == 1) {
        lc_rcbuf_unref(d->push);
        lc_rcbuf_unref(d->variants[0]);
        lc_rcbuf_unref(d->variants[1]);
        free(d);
    }
}

void lc__delivery_run(lc_worker_t *w, lc_delivery_t *d)
{
    lc_exclude_t ex = {(const char *const *)d->exclude, d->n_exclude,
                       (const char *const *)d->exclude_users, d->n_exclude_users};
    lc__worker_deliver(w, d->channel, d->chlen, d->kind, d->offset, d->push,
                       d->variants[0] ? d->variants : NULL, &ex);
}

/* Engine sink: every publication and join/leave event of the node passes here once. The engine
 * may call it under its own locks (that is how one channel's deliveries keep their order), so
 * it only queues: every worker, this one included, fans out from its inbox. */
static void sink_deliver(void *ctx, const char *ch, size_t chlen, int kind, uint64_t offset,
                         lc_rcbuf_t *push, const lc_exclude_t *ex)
{
    lc_node_t *n = ctx;
    /* A shared poll direct publish travels as a join/leave of its channel, which the shared
     * poll layer takes here before any hub (core/spoll_publish.c). */
    if (kind == LC_PUSH_JOIN_LEAVE && lc__spoll_bus_take(n, ch, chlen, push))
        return;
    lc_delivery_t *d = delivery_new(ch, chlen, kind, offset, push, ex, (unsigned)n->nworkers);
    if (!d) {
        lc_log_error("publication to %.*s not delivered: out of memory", (int)chlen, ch);
        return;
    }
    for (int i = 0; i < n->nworkers; i++)
        lc__worker_post(n->workers[i], d, i);
}

/* A publication of a delta namespace: the delta is made once here for every worker. */
static void sink_deliver_delta(void *ctx, const char *ch, size_t chlen, uint64_t offset,
                               lc_rcbuf_t *push, const lc_exclude_t *ex, lc_rcbuf_t *prev,
                               bool candidate)
{
    lc_node_t *n = ctx;
    lc_delivery_t *d =
        delivery_new(ch, chlen, LC_PUSH_PUB, offset, push, ex, (unsigned)n->nworkers);
    if (!d) {
        lc_log_error("publication to %.*s not delivered: out of memory", (int)chlen, ch);
        return;
    }
    lc__delta_variants(push, prev, candidate, &d->variants[0], &d->variants[1]);
    for (int i = 0; i < n->nworkers; i++)
        lc__worker_post(n->workers[i], d, i);
}

/* --- several nodes ------------------------------------------------------------------------- */

void lc__node_watch_channel(void *ctx, const char *ch, size_t len, int delta)
{
    lc_worker_t *w = ctx;
    lc_engine_t *e = lc_node_engine(lc_worker_node(w));
    if (delta > 0 && e->vt->channel_subscribe)
        e->vt->channel_subscribe(e, ch, len);
    else if (delta < 0 && e->vt->channel_unsubscribe)
        e->vt->channel_unsubscribe(e, ch, len);
}

static void resync_worker(lc_worker_t *w, void *arg)
{
    (void)arg;
    lc__worker_each_client(w, lc__client_resync, NULL);
}

static void resync_done(lc_worker_t *w, void *arg)
{
    (void)w;
    (void)arg;
}

/* Engine sink: deliveries may have been lost. Positioned subscriptions recover from history. */
static void sink_resync(void *ctx)
{
    lc_node_t *n = ctx;
    if (lc_ops_each_worker(n, resync_worker, resync_done, NULL) != 0)
        lc_log_error("resync after an engine reconnect not started: out of memory");
}

typedef struct control_msg {
    lc_node_t *node;
    size_t len;
    char data[];
} control_msg_t;

static void control_run(lc_worker_t *w, void *arg)
{
    (void)w;
    (void)arg;
}

static void control_done(lc_worker_t *w, void *arg)
{
    control_msg_t *m = arg;
    if (m->node->control_fn)
        m->node->control_fn(m->node->control_arg, m->data, m->len);
    free(m);
}

/* Engine sink: another node's control data, handed to the handler in the calling worker's
 * thread through a node operation (the sink only queues). */
static void sink_control(void *ctx, const char *data, size_t len)
{
    lc_node_t *n = ctx;
    control_msg_t *m = malloc(sizeof(*m) + len + 1);
    if (!m)
        return;
    m->node = n;
    m->len = len;
    memcpy(m->data, data, len);
    m->data[len] = '\0';
    if (lc_ops_each_worker(n, control_run, control_done, m) != 0)
        free(m);
}

size_t lc_node_info_json(lc_node_t *n, char *out, size_t outlen)
{
    lc_node_stats_t st;
    lc_node_stats(n, &st);
    char host[256] = "";
    const char *name = n->cfg->node_name;
    if (!name || !*name) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            strcpy(host, "lucent");
        name = host;
    }
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"uid\":");
    rc |= lc_buf_append_json_str(&b, n->uid, strlen(n->uid));
    rc |= lc_buf_append_str(&b, ",\"name\":");
    rc |= lc_buf_append_json_str(&b, name, strlen(name));
    rc |= lc_buf_printf(&b,
                        ",\"version\":\"%s\",\"num_clients\":%llu,\"num_users\":%llu,"
                        "\"num_channels\":%llu,\"num_subs\":%llu,\"uptime\":%lld}",
                        LUCENT_VERSION, (unsigned long long)st.num_clients,
                        (unsigned long long)st.num_users, (unsigned long long)st.num_channels,
                        (unsigned long long)st.num_subs, (long long)st.uptime_s);
    size_t len = 0;
    if (rc == 0 && b.len < outlen) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
        len = b.len;
    }
    lc_buf_free(&b);
    return len;
}

static size_t sink_node_info(void *ctx, char *out, size_t outlen)
{
    return lc_node_info_json(ctx, out, outlen);
}

void lc_node_on_control(lc_node_t *n, lc_node_control_fn fn, void *arg)
{
    n->control_fn = fn;
    n->control_arg = arg;
}

int lc_node_send_control(lc_node_t *n, const char *data, size_t len)
{
    lc_engine_t *e = n->engine;
    return e->vt->control ? e->vt->control(e, data, len) : 0;
}

static void engine_detach(lc_worker_t *w, void *arg)
{
    lc_engine_t *e = arg;
    e->vt->detach(e, lc_worker_index(w));
}

static int engine_attach(lc_node_t *n, int i)
{
    lc_engine_t *e = n->engine;
    if (!e->vt->attach)
        return 0;
    int rc = e->vt->attach(e, i, n->nworkers, lc_worker_loop(n->workers[i]));
    if (rc != 0)
        lc_log_error("worker %d: engine %s not started: %s", i, e->vt->name, lc_strerror(rc));
    return rc;
}

lc_node_t *lc_node_new(const lc_config_t *cfg, lc_engine_t *engine)
{
    lc_node_t *n = calloc(1, sizeof(*n));
    if (!n) {
        engine->vt->destroy(engine);
        return NULL;
    }
    n->cfg = cfg;
    n->engine = engine;
    uv_mutex_init(&n->users_mu);
    lc_map_init(&n->user_conns);
    n->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (n->nworkers < 1)
        n->nworkers = 1;
    lc_uuid4(n->uid);
    n->started_ms = lc_now_ms();
    collect_forwarded_headers(n);
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    n->workers = calloc((size_t)n->nworkers, sizeof(*n->workers));
    if (!n->workers)
        goto fail;
    for (int i = 0; i < n->nworkers; i++) {
        n->workers[i] = lc__worker_new(n, i);
        if (!n->workers[i]) {
            lc_log_error("cannot create worker %d", i);
            goto fail;
        }
        char err[512] = "";
        if (lc__worker_start_lua(n->workers[i], err, sizeof(err)) != 0) {
            lc_log_error("lua: %s", err);
            goto fail;
        }
    }
    if (!(n->spoll = lc__spoll_new(n)))
        goto fail;
    engine->sink.ctx = n;
    engine->sink.deliver = sink_deliver;
    engine->sink.deliver_delta = sink_deliver_delta;
    engine->sink.resync = sink_resync;
    engine->sink.control = sink_control;
    engine->sink.node_info = sink_node_info;
    if (engine->vt->detach)
        for (int i = 0; i < n->nworkers; i++)
            lc_worker_on_stop(n->workers[i], engine_detach, engine);
    return n;
fail:
    lc_node_free(n);
    return NULL;
}

void lc_node_free(lc_node_t *n)
{
    if (!n)
        return;
    /* Queued operations may complete on another worker: drain everyone before freeing. */
    for (int i = 0; n->workers && i < n->nworkers; i++)
        if (n->workers[i])
            lc__worker_drain(n->workers[i]);
    for (int i = 0; n->workers && i < n->nworkers; i++)
        lc__worker_free(n->workers[i]);
    lc__spoll_free(n->spoll);
    free(n->workers);
    free(n->fwd_headers);
    free(n->fwd_emulated);
    if (n->engine)
        n->engine->vt->destroy(n->engine);
    lc_map_free(&n->user_conns);
    uv_mutex_destroy(&n->users_mu);
    free(n);
}

lc_spoll_t *lc__node_spoll(lc_node_t *n)
{
    return n->spoll;
}

bool lc__node_user_acquire(lc_node_t *n, const char *user, int limit)
{
    size_t ul = strlen(user);
    uv_mutex_lock(&n->users_mu);
    uintptr_t count = (uintptr_t)lc_map_get(&n->user_conns, user, ul);
    bool ok = count < (uintptr_t)limit &&
              lc_map_put(&n->user_conns, user, ul, (void *)(count + 1), NULL) == 0;
    uv_mutex_unlock(&n->users_mu);
    return ok;
}

void lc__node_user_release(lc_node_t *n, const char *user)
{
    size_t ul = strlen(user);
    uv_mutex_lock(&n->users_mu);
    uintptr_t count = (uintptr_t)lc_map_get(&n->user_conns, user, ul);
    if (count <= 1)
        lc_map_del(&n->user_conns, user, ul);
    else
        lc_map_put(&n->user_conns, user, ul, (void *)(count - 1), NULL); /* replaces: no alloc */
    uv_mutex_unlock(&n->users_mu);
}

int lc_node_num_workers(const lc_node_t *n)
{
    return n->nworkers;
}

lc_worker_t *lc_node_worker(lc_node_t *n, int i)
{
    return n->workers[i];
}

const lc_config_t *lc_node_config(const lc_node_t *n)
{
    return n->cfg;
}

const char *lc_node_uid(const lc_node_t *n)
{
    return n->uid;
}

lc_engine_t *lc_node_engine(lc_node_t *n)
{
    return n->engine;
}

void lc_node_chan_opts(const lc_node_t *n, const lc_ns_opts_t *o, lc_chan_opts_t *out)
{
    out->history_size = o->history_size;
    out->history_ttl_ms = o->history_ttl_ms;
    out->history_meta_ttl_ms =
        o->history_meta_ttl_ms > 0 ? o->history_meta_ttl_ms : n->cfg->history_meta_ttl_ms;
    out->delta = !(o->allowed_delta_types & LC_DELTA_FOSSIL) ? LC_DELTA_OFF
                 : o->delta_publish                          ? LC_DELTA_CANDIDATE
                                                             : LC_DELTA_ALLOWED;
}

void lc_node_map_opts(const lc_ns_map_t *mo, lc_map_opts_t *out)
{
    memset(out, 0, sizeof(*out));
    out->stream_size = mo->stream_size;
    out->stream_ttl_ms = mo->stream_ttl_ms;
    out->meta_ttl_ms = mo->meta_ttl_ms;
    out->key_ttl_ms = mo->key_ttl_ms;
    out->max_keys = mo->max_keys;
    out->ordered = mo->ordered;
}

int lc_node_publish(lc_node_t *n, const lc_publish_req_t *req, lc_publish_cb cb, void *arg)
{
    uint64_t t0 = uv_hrtime();
    int rc = lc_engine_publish(n->engine, req, cb, arg);
    lc_metrics_engine(uv_hrtime() - t0, rc == 0);
    lc_metrics_pub_in();
    return rc;
}

void lc_node_stats(lc_node_t *n, lc_node_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < n->nworkers; i++) {
        lc_worker_stats_t ws;
        lc__worker_stats(n->workers[i], &ws);
        out->num_clients += ws.clients;
        out->num_users += ws.users;
        out->num_subs += ws.subs;
        out->num_channels += ws.channels;
    }
    out->uptime_s = (lc_now_ms() - n->started_ms) / 1000;
}

void lc_node_stop(lc_node_t *n)
{
    /* Every worker counts as stopping before any starts closing its sessions: a worker that
     * still accepts a publication then has not begun to close the sessions it goes to. */
    for (int i = 0; i < n->nworkers; i++)
        lc__worker_mark_stopping(n->workers[i]);
    for (int i = 0; i < n->nworkers; i++)
        lc__worker_stop(n->workers[i]);
}

static void close_signals(lc_worker_t *w, void *arg)
{
    lc_node_t *n = arg;
    if (!n->signals)
        return;
    n->signals = false;
    uv_close((uv_handle_t *)&n->sigint, NULL);
    uv_close((uv_handle_t *)&n->sigterm, NULL);
    uv_close((uv_handle_t *)&n->sighup, NULL);
    lc__lua_watch_stop(n->watch);
    n->watch = NULL;
}

/* SIGHUP: every worker reloads its Lua script; a script that fails to load leaves the old
 * hooks in place, and the reload is reported as failed, never as finished. */
static atomic_int reload_failures;

static void reload_worker(lc_worker_t *w, void *arg)
{
    lc_lua_t *vm = lc__worker_lua(w);
    if (!vm)
        return;
    char err[512] = "";
    /* Worker 0 says which lucent.rules routes the new script added or removed. */
    char *before = lc_worker_index(w) == 0 ? lc__lua_routes_text(vm) : NULL;
    if (lc_lua_reload(vm, err, sizeof(err)) != 0) {
        atomic_fetch_add(&reload_failures, 1);
        lc_log_error("worker %d: lua reload failed, keeping the previous hooks: %s",
                     lc_worker_index(w), err);
    } else if (lc_worker_index(w) == 0) {
        char *after = lc__lua_routes_text(vm);
        lc__lua_routes_log_diff(before, after);
        free(after);
    }
    free(before);
}

static void reload_done(lc_worker_t *w, void *arg)
{
    int failed = atomic_exchange(&reload_failures, 0);
    if (failed)
        lc_log_error("lua: reload failed on %d worker(s); the previous hooks stay", failed);
    else
        lc_log_info("lua: reload finished");
}

static void reload_lua(lc_node_t *n, const char *why)
{
    if (!n->cfg->lua_script) {
        lc_log_info("%s: no lua.script configured, nothing to reload", why);
        return;
    }
    lc_log_info("%s: reloading %s", why, n->cfg->lua_script);
    if (lc_ops_each_worker(n, reload_worker, reload_done, NULL) != 0)
        lc_log_error("%s: reload not started: out of memory", why);
}

static void on_sighup(uv_signal_t *h, int signum)
{
    reload_lua(h->data, "SIGHUP");
}

static void on_lua_change(void *arg)
{
    reload_lua(arg, "lua.watch");
}

static void on_signal(uv_signal_t *h, int signum)
{
    lc_node_t *n = h->data;
    lc_log_info("signal %d: shutting down", signum);
    lc_node_stop(n);
}

static void worker_thread(void *arg)
{
    lc_worker_t *w = arg;
    if (engine_attach(lc_worker_node(w), lc_worker_index(w)) != 0)
        lc_node_stop(lc_worker_node(w));
    lc__worker_run(w);
}

int lc_node_run(lc_node_t *n)
{
    /* libcurl's global state is set up once, before any worker thread can use it. */
    lc_httpc_global_init();
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop0 = lc_worker_loop(n->workers[0]);
    uv_signal_init(loop0, &n->sigint);
    uv_signal_init(loop0, &n->sigterm);
    uv_signal_init(loop0, &n->sighup);
    n->sigint.data = n->sigterm.data = n->sighup.data = n;
    uv_signal_start(&n->sighup, on_sighup, SIGHUP);
    uv_signal_start(&n->sigint, on_signal, SIGINT);
    uv_signal_start(&n->sigterm, on_signal, SIGTERM);
    n->signals = true;
    n->watch = lc__lua_watch_start(loop0, n->cfg, on_lua_change, n);
    /* The signal handles live on worker 0's loop: close them when it stops, whatever stopped
     * it, so that the loop can end. */
    lc_worker_on_stop(n->workers[0], close_signals, n);

    uv_thread_t *threads = calloc((size_t)n->nworkers, sizeof(*threads));
    if (!threads)
        return LC_ENOMEM;
    /* Worker 0 runs in this thread: the engine starts on its loop before any other worker
     * can call it. */
    if (engine_attach(n, 0) != 0)
        lc_node_stop(n);
    int started = 1;
    for (int i = 1; i < n->nworkers; i++) {
        if (uv_thread_create(&threads[i], worker_thread, n->workers[i]) != 0) {
            lc_log_error("cannot start worker thread %d", i);
            lc_node_stop(n);
            break;
        }
        started++;
    }
    lc__worker_run(n->workers[0]);
    for (int i = 1; i < started; i++)
        uv_thread_join(&threads[i]);
    free(threads);
    return 0;
}
