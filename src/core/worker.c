/* A worker: one libuv loop and everything it owns — its sessions, its part of the hub, its
 * flush list (writes coalesced once per iteration), its session timers and its inbox of
 * publications from other threads. */
#include "core/internal.h"
#include "hooks/httpc.h"
#include "hooks/script.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/map.h"

#define LC_READ_BUF_SIZE 65536
#define LC_MAX_STOP_HOOKS 8

/* What other threads hand a worker: a publication to fan out, or a node-wide operation to
 * run on this worker's sessions (or its completion, on the worker that started it). */
enum { INBOX_DELIVERY, INBOX_EACH, INBOX_DONE };

typedef struct inbox_item {
    lc_list_t node;
    int type;
    void *ptr;
} inbox_item_t;

struct lc_worker {
    int index;
    lc_node_t *node;
    const lc_config_t *cfg;
    uv_loop_t loop;
    uv_thread_t thread;

    lc_hub_t *hub;
    lc_map_t clients;   /* id → lc_client_t, connected sessions */
    uint64_t nsessions; /* every session, connected or not */
    lc_map_t users;     /* user id → this worker's connections of that user */
    lc_map_t sessions;  /* emulation session id → lc_client_t */
    /* Written by the worker, read by any thread for statistics (the maps are not). */
    atomic_uint_fast64_t stat_clients, stat_users, stat_subs, stat_channels;

    char *readbuf;
    lc_httpc_t *httpc; /* proxies' HTTP client, created on first use */
    lc_lua_t *lua;     /* the hook VM when lua.script is set */

    uv_prepare_t flush_prep;
    lc_list_t flush_list;
    /* client.write_delay: transports in order of their due time (all delays are equal, so
     * appending keeps the order), one timer armed for the head. */
    lc_list_t delay_list;
    uv_timer_t delay_timer;
    /* Memory returned: armed when sessions or subscriptions go, trims the heap once quiet. */
    uv_timer_t trim_timer;
    uint64_t last_trim; /* loop time of the last trim, 0 = none yet */

    uv_timer_t timer;
    int64_t timer_due; /* 0 = not armed */
    lc_list_t sched[LC_SCHED_MAX];

    uv_async_t inbox_async;
    uv_mutex_t inbox_mu;
    lc_list_t inbox;

    uv_async_t stop_async;
    atomic_bool stop_requested;
    atomic_bool stop_sent;
    bool stopping;
    bool closed;
    int holds; /* lc_worker_hold: connections still finishing a request while stopping */
    struct {
        lc_worker_stop_fn fn;
        void *arg;
    } stop_hooks[LC_MAX_STOP_HOOKS];
    int n_stop_hooks;
};

static _Thread_local lc_worker_t *current_worker;

lc_worker_t *lc__worker_current(void)
{
    return current_worker;
}

uv_loop_t *lc_worker_loop(lc_worker_t *w)
{
    return &w->loop;
}

int lc_worker_index(const lc_worker_t *w)
{
    return w->index;
}

lc_node_t *lc_worker_node(lc_worker_t *w)
{
    return w->node;
}

const lc_config_t *lc_worker_config(const lc_worker_t *w)
{
    return w->cfg;
}

lc_hub_t *lc__worker_hub(lc_worker_t *w)
{
    return w->hub;
}

lc_lua_t *lc__worker_lua(lc_worker_t *w)
{
    return w->lua;
}

/* lucent.publish from a hook: published as the server API would, broadcast hook included
 * (the VM bounds how deep hooks may nest). */
static void on_lua_published(void *arg, uint32_t code, const lc_publish_res_t *res)
{
    if (code)
        lc_log_info("lua: lucent.publish failed with error %u", code);
}

static int lua_host_publish(void *ctx, const char *channel, const char *data, size_t len,
                            bool skip_history)
{
    lc_worker_t *w = ctx;
    size_t chlen = strlen(channel);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(w->cfg, channel, chlen, NULL, &scratch);
    if (!o)
        return LC_ENOENT;
    if (lc_config_map_type(o->subscription_type))
        return LC_EINVAL; /* a map channel takes keyed writes only (map_publish) */
    if (o->subscription_type == LC_SUB_TYPE_SHARED_POLL)
        return LC_EINVAL; /* items with keys and versions only (shared_poll_publish) */
    lc_publish_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = channel;
    req.chlen = chlen;
    req.pub.data = (lc_raw_t){data, len};
    req.skip_history = skip_history;
    lc_node_chan_opts(w->node, o, &req.opts);
    return lc_node_api_publish(w->node, &req, on_lua_published, NULL);
}

static lc_httpc_t *lua_host_httpc(void *ctx)
{
    return lc__worker_httpc(ctx);
}

int lc__worker_start_lua(lc_worker_t *w, char *err, size_t errlen)
{
    if (!w->cfg->lua_script)
        return 0;
    lc_lua_host_t host = {.ctx = w, .publish = lua_host_publish, .httpc = lua_host_httpc};
    w->lua = lc_lua_new(w->cfg, &host, err, errlen);
    if (!w->lua)
        return LC_EINVAL;
    lc_log_info("lua: worker %d loaded %s (VM memory %.1f KiB)", w->index, w->cfg->lua_script,
                (double)lc_lua_memory(w->lua) / 1024.0);
    return 0;
}

lc_httpc_t *lc__worker_httpc(lc_worker_t *w)
{
    if (!w->httpc && !w->closed)
        w->httpc = lc_httpc_new(&w->loop);
    return w->httpc;
}

void lc_worker_read_buf(lc_worker_t *w, uv_buf_t *buf)
{
    buf->base = w->readbuf;
    buf->len = LC_READ_BUF_SIZE;
}

/* --- coalesced writes ------------------------------------------------------------------ */

void lc_worker_want_flush(lc_worker_t *w, lc_transport_t *t)
{
    if (t->flush_queued)
        return;
    if (t->flush_delayed) {
        t->flush_delayed = false;
        lc_list_remove(&t->flush_node);
    }
    t->flush_queued = true;
    lc_list_insert_tail(&w->flush_list, &t->flush_node);
}

static void on_delay_timer(uv_timer_t *h)
{
    lc_worker_t *w = lc_container_of(h, lc_worker_t, delay_timer);
    uint64_t now = uv_now(&w->loop);
    /* A flush may ask for another delayed one: it lands behind, due later than now. */
    while (!lc_list_empty(&w->delay_list)) {
        lc_transport_t *t = lc_container_of(w->delay_list.next, lc_transport_t, flush_node);
        if (t->flush_due > now) {
            uv_timer_start(&w->delay_timer, on_delay_timer, t->flush_due - now, 0);
            return;
        }
        lc_list_remove(&t->flush_node);
        t->flush_delayed = false;
        t->vt->flush(t);
    }
}

void lc_worker_want_flush_delayed(lc_worker_t *w, lc_transport_t *t)
{
    uint64_t delay = w->cfg->write_delay_ms > 0 ? (uint64_t)w->cfg->write_delay_ms : 0;
    if (delay == 0 || w->stopping) {
        lc_worker_want_flush(w, t);
        return;
    }
    if (t->flush_queued || t->flush_delayed)
        return;
    t->flush_delayed = true;
    t->flush_due = uv_now(&w->loop) + delay;
    bool was_empty = lc_list_empty(&w->delay_list);
    lc_list_insert_tail(&w->delay_list, &t->flush_node);
    if (was_empty)
        uv_timer_start(&w->delay_timer, on_delay_timer, delay, 0);
}

void lc_worker_cancel_flush(lc_worker_t *w, lc_transport_t *t)
{
    if (!t->flush_queued && !t->flush_delayed)
        return;
    t->flush_queued = false;
    t->flush_delayed = false;
    lc_list_remove(&t->flush_node);
}

static void close_own_handles(lc_worker_t *w);

static void on_prepare(uv_prepare_t *h)
{
    lc_worker_t *w = lc_container_of(h, lc_worker_t, flush_prep);
    /* A flush may queue more (a close frame after the data): loop until the list is empty. */
    while (!lc_list_empty(&w->flush_list)) {
        lc_list_t *n = w->flush_list.next;
        lc_list_remove(n);
        lc_transport_t *t = lc_container_of(n, lc_transport_t, flush_node);
        t->flush_queued = false;
        t->vt->flush(t);
    }
    if (w->stopping && w->nsessions == 0 && w->holds == 0)
        close_own_handles(w);
}

/* --- session timers -------------------------------------------------------------------- */

static void on_timer(uv_timer_t *h);

static void rearm(lc_worker_t *w)
{
    int64_t due = 0;
    for (int k = 0; k < LC_SCHED_MAX; k++) {
        if (lc_list_empty(&w->sched[k]))
            continue;
        lc_sched_t *s = lc_container_of(w->sched[k].next, lc_sched_t, node);
        if (due == 0 || s->due < due)
            due = s->due;
    }
    if (due == w->timer_due)
        return;
    w->timer_due = due;
    if (due == 0) {
        uv_timer_stop(&w->timer);
        return;
    }
    int64_t now = (int64_t)uv_now(&w->loop);
    uv_timer_start(&w->timer, on_timer, (uint64_t)(due > now ? due - now : 0), 0);
}

static void on_timer(uv_timer_t *h)
{
    lc_worker_t *w = lc_container_of(h, lc_worker_t, timer);
    int64_t now = (int64_t)uv_now(&w->loop);
    w->timer_due = 0;
    for (int k = 0; k < LC_SCHED_MAX; k++) {
        while (!lc_list_empty(&w->sched[k])) {
            lc_sched_t *s = lc_container_of(w->sched[k].next, lc_sched_t, node);
            if (s->due > now)
                break;
            lc_list_remove(&s->node);
            s->armed = false;
            lc__client_on_sched(s);
        }
    }
    rearm(w);
}

void lc__worker_sched(lc_worker_t *w, lc_sched_t *s, int kind, int64_t delay_ms)
{
    if (s->armed)
        lc_list_remove(&s->node);
    s->kind = (uint8_t)kind;
    s->due = (int64_t)uv_now(&w->loop) + delay_ms;
    s->armed = true;
    /* Same delay for every entry of a kind keeps each list in deadline order; the walk back
     * from the tail only matters when the configured delay changed under us. */
    lc_list_t *pos = w->sched[kind].prev;
    while (pos != &w->sched[kind] && lc_container_of(pos, lc_sched_t, node)->due > s->due)
        pos = pos->prev;
    lc_list_insert_tail(pos->next, &s->node);
    rearm(w);
}

void lc__worker_unsched(lc_worker_t *w, lc_sched_t *s)
{
    if (!s->armed)
        return;
    lc_list_remove(&s->node);
    s->armed = false;
}

/* --- sessions -------------------------------------------------------------------------- */

/* A user's connections on this worker, for the server API's user-targeted operations and the
 * exclusion of a user's sessions, form a ring through lc_client_t.user_node without a head of
 * its own: the users map points at one member, whose user string is also the map's (borrowed)
 * key. A user then costs one map entry, nothing else, which matters with one entry per
 * connection. The client id map borrows the session's id the same way. */
int lc__worker_add_client(lc_worker_t *w, const char *id, const char *user, lc_client_t *c,
                          lc_list_t *user_node)
{
    size_t ul = strlen(user);
    if (lc_map_put_ref(&w->clients, id, strlen(id), c, NULL) != 0)
        return LC_ENOMEM;
    lc_list_t *anchor = lc_map_get(&w->users, user, ul);
    if (anchor) {
        lc_list_insert_tail(anchor, user_node);
    } else {
        lc_list_init(user_node);
        if (lc_map_put_ref(&w->users, user, ul, user_node, NULL) != 0) {
            lc_map_del(&w->clients, id, strlen(id));
            return LC_ENOMEM;
        }
    }
    atomic_store(&w->stat_clients, lc_map_count(&w->clients));
    atomic_store(&w->stat_users, lc_map_count(&w->users));
    return 0;
}

void lc__worker_remove_client(lc_worker_t *w, const char *id, const char *user,
                              lc_list_t *user_node)
{
    if (!lc_map_del(&w->clients, id, strlen(id)))
        return;
    size_t ul = strlen(user);
    if (user_node->next == user_node) {
        lc_map_del(&w->users, user, ul); /* the user's last connection here */
    } else {
        lc_list_t *next = user_node->next;
        lc_list_remove(user_node);
        /* the map's key is the anchor's string: hand both to another member (no allocation) */
        if (lc_map_get(&w->users, user, ul) == user_node)
            (void)lc_map_put_ref(&w->users, lc__client_user_of_node(next), ul, next, NULL);
    }
    lc_list_init(user_node);
    atomic_store(&w->stat_clients, lc_map_count(&w->clients));
    atomic_store(&w->stat_users, lc_map_count(&w->users));
}

int lc__worker_add_session(lc_worker_t *w, const char *session, lc_client_t *c)
{
    return lc_map_put(&w->sessions, session, strlen(session), c, NULL);
}

void lc__worker_remove_session(lc_worker_t *w, const char *session)
{
    lc_map_del(&w->sessions, session, strlen(session));
}

bool lc_ops_emulate(lc_worker_t *w, const char *session, const char *data, size_t len)
{
    lc_client_t *c = lc_map_get(&w->sessions, session, strlen(session));
    if (!c)
        return false;
    lc_client_on_message(c, data, len);
    return true;
}

size_t lc__worker_user_clients(lc_worker_t *w, const char *user, void **out, size_t max)
{
    lc_list_t *anchor = lc_map_get(&w->users, user, strlen(user));
    if (!anchor)
        return 0;
    size_t n = 0;
    lc_list_t *pos = anchor;
    do {
        if (n < max)
            out[n] = lc__client_of_user_node(pos);
        n++;
        pos = pos->next;
    } while (pos != anchor);
    return n;
}

size_t lc__worker_each_client(lc_worker_t *w, void (*fn)(lc_client_t *c, void *arg), void *arg)
{
    /* fn may end the session: walk a copy of the map's values. */
    size_t n = lc_map_count(&w->clients), i = 0;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    lc_client_t **all = malloc((n ? n : 1) * sizeof(*all));
    if (!all)
        return 0;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (i < n && lc_map_next(&w->clients, &it, &k, &kl, &v))
        all[i++] = v;
    for (size_t j = 0; j < i; j++)
        fn(all[j], arg);
    free(all);
    return i;
}

lc_client_t *lc__worker_find_client(lc_worker_t *w, const char *id)
{
    return lc_map_get(&w->clients, id, strlen(id));
}

/* glibc keeps freed memory in its arenas (one per worker thread) and gives back only what
 * lies at the top of a heap: after many sessions or channels went, most of it would stay
 * resident. malloc_trim returns every free page of every arena; it walks the free lists and
 * holds each arena's lock meanwhile, so it runs LC_TRIM_DELAY_MS after departures, and under
 * steady churn at most once per LC_TRIM_EVERY_MS per worker, never per operation. */
#define LC_TRIM_DELAY_MS 1000
#define LC_TRIM_EVERY_MS 10000

static void on_trim(uv_timer_t *h)
{
    lc_worker_t *w = lc_container_of(h, lc_worker_t, trim_timer);
    w->last_trim = uv_now(&w->loop);
    lc_hub_compact(w->hub);
    lc_map_shrink(&w->clients);
    lc_map_shrink(&w->users);
    /* under ASan / TSan the allocator is theirs: glibc's malloc_trim would walk unused arenas */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    malloc_trim(0);
#endif
}

static void want_trim(lc_worker_t *w)
{
    if (w->stopping || uv_is_active((uv_handle_t *)&w->trim_timer))
        return;
    uint64_t since = uv_now(&w->loop) - w->last_trim, delay = LC_TRIM_DELAY_MS;
    if (w->last_trim && since + delay < LC_TRIM_EVERY_MS)
        delay = LC_TRIM_EVERY_MS - since;
    uv_timer_start(&w->trim_timer, on_trim, delay, 0);
}

void lc__worker_count_session(lc_worker_t *w, int delta)
{
    w->nsessions += (uint64_t)(int64_t)delta;
    if (delta < 0)
        want_trim(w);
}

void lc__worker_count_subs(lc_worker_t *w, int delta)
{
    if (delta < 0)
        want_trim(w);
    atomic_fetch_add(&w->stat_subs, (uint_fast64_t)(int_fast64_t)delta);
    atomic_store(&w->stat_channels, lc_hub_num_channels(w->hub));
}

void lc__worker_stats(lc_worker_t *w, lc_worker_stats_t *out)
{
    out->clients = atomic_load(&w->stat_clients);
    out->users = atomic_load(&w->stat_users);
    out->subs = atomic_load(&w->stat_subs);
    out->channels = atomic_load(&w->stat_channels);
}

/* --- fan-out ----------------------------------------------------------------------------- */

#define LC_MAX_EXCLUDE_STACK 16

void lc__worker_deliver(lc_worker_t *w, const char *ch, size_t chlen, int kind, uint64_t offset,
                        lc_rcbuf_t *push, lc_rcbuf_t *const *variants, const lc_exclude_t *ex)
{
    /* Exclusions are resolved to this worker's sessions once, so the per-subscriber check is a
     * pointer comparison over a handful of entries. */
    void *stack[LC_MAX_EXCLUDE_STACK] = {0};
    void **owners = stack;
    size_t n = 0, cap = LC_MAX_EXCLUDE_STACK;
    size_t want = ex->n_clients;
    for (size_t i = 0; i < ex->n_users; i++)
        want += lc__worker_user_clients(w, ex->users[i], NULL, 0);
    if (want > cap) {
        owners = malloc(want * sizeof(*owners));
        if (!owners) {
            lc_log_error("fan-out to %.*s dropped: out of memory", (int)chlen, ch);
            return;
        }
    }
    for (size_t i = 0; i < ex->n_clients; i++) {
        lc_client_t *c = lc__worker_find_client(w, ex->clients[i]);
        if (c)
            owners[n++] = c;
    }
    for (size_t i = 0; i < ex->n_users; i++)
        n += lc__worker_user_clients(w, ex->users[i], owners + n, want - n);
    lc_rcbuf_t *pushes[LC_HUB_VARIANTS] = {push, variants ? variants[0] : NULL,
                                           variants ? variants[1] : NULL};
    lc_hub_fanout_v(w->hub, ch, chlen, pushes, kind, offset, owners, n);
    if (owners != stack)
        free(owners);
}

static int inbox_push(lc_worker_t *w, int type, void *ptr)
{
    inbox_item_t *it = malloc(sizeof(*it));
    if (!it)
        return LC_ENOMEM;
    it->type = type;
    it->ptr = ptr;
    uv_mutex_lock(&w->inbox_mu);
    lc_list_insert_tail(&w->inbox, &it->node);
    uv_mutex_unlock(&w->inbox_mu);
    uv_async_send(&w->inbox_async);
    return 0;
}

void lc__worker_post(lc_worker_t *w, lc_delivery_t *d, int slot)
{
    if (inbox_push(w, INBOX_DELIVERY, d) != 0) {
        lc_log_error("worker %d: delivery dropped: out of memory", w->index);
        lc__delivery_unref(d);
    }
}

/* --- node-wide operations ---------------------------------------------------------------- */

struct lc_each_op {
    atomic_int remaining;
    lc_ops_each_fn each, done;
    void *arg;
    lc_worker_t *origin;
};

int lc__worker_post_each(lc_worker_t *w, lc_each_op_t *op)
{
    return inbox_push(w, INBOX_EACH, op);
}

lc_each_op_t *lc__each_op_new(lc_worker_t *origin, int nworkers, lc_ops_each_fn each,
                              lc_ops_each_fn done, void *arg)
{
    lc_each_op_t *op = malloc(sizeof(*op));
    if (!op)
        return NULL;
    atomic_init(&op->remaining, nworkers);
    op->each = each;
    op->done = done;
    op->arg = arg;
    op->origin = origin;
    return op;
}

/* One worker finished its part; the last one hands the completion to the origin. When the
 * node is going down (live == false) the completion runs here and now: every thread has been
 * joined by then, so there is nobody to race with. */
static void each_finished(lc_each_op_t *op, bool live)
{
    if (atomic_fetch_sub(&op->remaining, 1) != 1)
        return;
    if (live && inbox_push(op->origin, INBOX_DONE, op) == 0)
        return;
    op->done(op->origin, op->arg);
    free(op);
}

void lc__each_op_skip(lc_each_op_t *op)
{
    each_finished(op, true);
}

static void inbox_run(lc_worker_t *w, inbox_item_t *it, bool live)
{
    switch (it->type) {
    case INBOX_DELIVERY:
        if (live)
            lc__delivery_run(w, it->ptr);
        lc__delivery_unref(it->ptr);
        break;
    case INBOX_EACH: {
        lc_each_op_t *op = it->ptr;
        if (live)
            op->each(w, op->arg);
        each_finished(op, live);
        break;
    }
    case INBOX_DONE: {
        lc_each_op_t *op = it->ptr;
        op->done(w, op->arg);
        free(op);
        break;
    }
    }
}

static void drain_inbox(lc_worker_t *w, bool live)
{
    lc_list_t batch;
    lc_list_init(&batch);
    uv_mutex_lock(&w->inbox_mu);
    if (!lc_list_empty(&w->inbox)) {
        /* Move the whole inbox to a local list under the lock, run it outside. */
        batch.next = w->inbox.next;
        batch.prev = w->inbox.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        lc_list_init(&w->inbox);
    }
    uv_mutex_unlock(&w->inbox_mu);
    lc_list_t *pos, *tmp;
    lc_list_foreach_safe(pos, tmp, &batch)
    {
        inbox_item_t *it = lc_container_of(pos, inbox_item_t, node);
        inbox_run(w, it, live);
        free(it);
    }
}

void lc__worker_drain(lc_worker_t *w)
{
    /* Completions may be queued by the drain of another worker: run until empty. */
    while (!lc_list_empty(&w->inbox))
        drain_inbox(w, false);
}

static void on_inbox(uv_async_t *h)
{
    drain_inbox(lc_container_of(h, lc_worker_t, inbox_async), true);
}

/* --- start and stop ---------------------------------------------------------------------- */

int lc_worker_on_stop(lc_worker_t *w, lc_worker_stop_fn fn, void *arg)
{
    if (w->n_stop_hooks >= LC_MAX_STOP_HOOKS)
        return LC_ENOMEM;
    w->stop_hooks[w->n_stop_hooks].fn = fn;
    w->stop_hooks[w->n_stop_hooks].arg = arg;
    w->n_stop_hooks++;
    return 0;
}

static void on_stop(uv_async_t *h)
{
    lc_worker_t *w = lc_container_of(h, lc_worker_t, stop_async);
    if (w->stopping)
        return;
    w->stopping = true;
    lc_log_debug("worker %d: stopping (%llu sessions)", w->index, (unsigned long long)w->nsessions);
    /* What other workers queued before they saw the stop (publications the API acknowledged)
     * reaches the sessions' write queues, which are flushed before their close frames. */
    drain_inbox(w, true);
    /* Transports close their listeners and connections; sessions leave through
     * lc_client_on_close, and the last one lets on_prepare close the worker's own handles. */
    for (int i = 0; i < w->n_stop_hooks; i++)
        w->stop_hooks[i].fn(w, w->stop_hooks[i].arg);
    uv_prepare_start(&w->flush_prep, on_prepare);
    if (w->nsessions == 0 && w->holds == 0)
        close_own_handles(w);
}

static void close_own_handles(lc_worker_t *w)
{
    if (w->closed)
        return;
    w->closed = true;
    /* Every session is gone, so no proxy call can still be cancelled by one. The VM goes
     * first: its pending calls hold HTTP requests. */
    if (w->lua) {
        lc_lua_free(w->lua);
        w->lua = NULL;
    }
    if (w->httpc) {
        lc_httpc_close(w->httpc, NULL, NULL);
        w->httpc = NULL;
    }
    uv_prepare_stop(&w->flush_prep);
    uv_close((uv_handle_t *)&w->flush_prep, NULL);
    uv_close((uv_handle_t *)&w->delay_timer, NULL);
    uv_close((uv_handle_t *)&w->trim_timer, NULL);
    uv_close((uv_handle_t *)&w->timer, NULL);
    uv_close((uv_handle_t *)&w->inbox_async, NULL);
    uv_close((uv_handle_t *)&w->stop_async, NULL);
}

lc_worker_t *lc__worker_new(lc_node_t *node, int index)
{
    lc_worker_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->index = index;
    w->node = node;
    w->cfg = lc_node_config(node);
    lc_map_init(&w->clients);
    lc_map_init(&w->users);
    lc_map_init(&w->sessions);
    lc_list_init(&w->flush_list);
    lc_list_init(&w->delay_list);
    lc_list_init(&w->inbox);
    for (int k = 0; k < LC_SCHED_MAX; k++)
        lc_list_init(&w->sched[k]);
    w->readbuf = malloc(LC_READ_BUF_SIZE);
    w->hub = lc_hub_new(lc__client_deliver, w);
    if (!w->readbuf || !w->hub)
        goto fail;
    lc_hub_set_watch(w->hub, lc__node_watch_channel);
    lc_hub_set_gap(w->hub, lc__client_gap);
    lc_hub_set_sync(w->hub, lc__client_map_sync);
    if (uv_loop_init(&w->loop) != 0)
        goto fail;
    uv_mutex_init(&w->inbox_mu);
    uv_prepare_init(&w->loop, &w->flush_prep);
    uv_prepare_start(&w->flush_prep, on_prepare);
    uv_timer_init(&w->loop, &w->timer);
    uv_timer_init(&w->loop, &w->delay_timer);
    uv_timer_init(&w->loop, &w->trim_timer);
    uv_unref((uv_handle_t *)&w->trim_timer);
    uv_async_init(&w->loop, &w->inbox_async, on_inbox);
    uv_async_init(&w->loop, &w->stop_async, on_stop);
    return w;
fail:
    lc_hub_free(w->hub);
    free(w->readbuf);
    lc_map_free(&w->clients);
    lc_map_free(&w->users);
    lc_map_free(&w->sessions);
    free(w);
    return NULL;
}

int lc__worker_run(lc_worker_t *w)
{
    current_worker = w;
    lc_metrics_attach(w->index);
    int rc = uv_run(&w->loop, UV_RUN_DEFAULT);
    current_worker = NULL;
    return rc;
}

void lc_worker_hold(lc_worker_t *w)
{
    w->holds++;
}

/* The last release lets on_prepare close the worker's handles on its next turn. */
void lc_worker_release(lc_worker_t *w)
{
    w->holds--;
}

bool lc_worker_stopping(const lc_worker_t *w)
{
    return atomic_load(&w->stop_requested);
}

void lc__worker_mark_stopping(lc_worker_t *w)
{
    atomic_store(&w->stop_requested, true);
}

void lc__worker_stop(lc_worker_t *w)
{
    atomic_store(&w->stop_requested, true);
    if (!atomic_exchange(&w->stop_sent, true))
        uv_async_send(&w->stop_async);
}

void lc__worker_free(lc_worker_t *w)
{
    if (!w)
        return;
    if (!w->closed) {
        close_own_handles(w);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    }
    lc__worker_drain(w);
    if (uv_loop_close(&w->loop) != 0)
        lc_log_warn("worker %d: loop closed with handles still open", w->index);
    uv_mutex_destroy(&w->inbox_mu);
    lc_hub_free(w->hub);
    lc_map_free(&w->clients);
    lc_map_free(&w->users);
    lc_map_free(&w->sessions);
    free(w->readbuf);
    free(w);
}
