/* Functions shared between the files of core (lc__ prefix); not for other modules. */
#ifndef LC_CORE_INTERNAL_H
#define LC_CORE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/client.h"
#include "core/hub.h"
#include "core/node.h"
#include "core/ops.h"
#include "core/worker.h"
#include "util/list.h"

/* Session timers: the worker keeps one list per kind, each sorted by deadline because every
 * entry of a kind is scheduled with the same delay, and one uv_timer_t armed for the earliest
 * deadline. No timer per connection. */
enum lc_sched_kind {
    LC_SCHED_STALE,
    LC_SCHED_PING,      /* client.ping_interval after connect or the previous ping */
    LC_SCHED_PONG,      /* client.pong_timeout after a ping */
    LC_SCHED_PING_REST, /* the rest of the interval after the pong deadline */
    LC_SCHED_EXPIRE,
    LC_SCHED_SUB_EXPIRE,
    LC_SCHED_PUSHER,   /* a Pusher connection's activity check */
    LC_SCHED_MAP_WALK, /* the earliest deadline of a session's collecting map walks */
    LC_SCHED_MAX
};

typedef struct lc_sched {
    lc_list_t node;
    int64_t due; /* monotonic ms */
    uint8_t kind;
    bool armed;
} lc_sched_t;

/* Worker side. */
lc_worker_t *lc__worker_new(lc_node_t *node, int index);
void lc__worker_free(lc_worker_t *w);
int lc__worker_run(lc_worker_t *w);
void lc__worker_stop(lc_worker_t *w); /* thread-safe */
/* lc_worker_stopping true from now on, without the stop itself yet. Thread-safe. */
void lc__worker_mark_stopping(lc_worker_t *w);
lc_worker_t *lc__worker_current(void); /* the worker of the calling thread, or NULL */
lc_hub_t *lc__worker_hub(lc_worker_t *w);
/* Connected clients by id, for exclusions and (later) server API targeting. */
int lc__worker_add_client(lc_worker_t *w, const char *id, const char *user, lc_client_t *c,
                          lc_list_t *user_node);
void lc__worker_remove_client(lc_worker_t *w, const char *id, const char *user,
                              lc_list_t *user_node);
/* Emulation sessions by session id (POST /emulation finds its session through these). */
int lc__worker_add_session(lc_worker_t *w, const char *session, lc_client_t *c);
void lc__worker_remove_session(lc_worker_t *w, const char *session);
/* A user's sessions on this worker: fills out[0..max) with their lc_client_t pointers and
 * returns how many there are (call with max 0 to count). id and user must be the session's own
 * strings (c->id, c->user): the worker's maps borrow them until lc__worker_remove_client. */
size_t lc__worker_user_clients(lc_worker_t *w, const char *user, void **out, size_t max);
lc_client_t *lc__worker_find_client(lc_worker_t *w, const char *id);
/* Call fn for every connected session of the worker (fn may end the one it is given). */
size_t lc__worker_each_client(lc_worker_t *w, void (*fn)(lc_client_t *c, void *arg), void *arg);
/* The hub's channel watch (ctx is the worker): the node tells the engine. */
void lc__node_watch_channel(void *ctx, const char *ch, size_t len, int delta);
/* Positioned subscriptions of the session are re-established: client-side ones get the
 * unsubscribe push 2500 (the SDK resubscribes and recovers), a server-side one disconnects
 * the session with 3010. */
void lc__client_resync(lc_client_t *c, void *arg);
/* The hub's gap callback: the same for the one channel ch of the session `owner`. */
void lc__client_gap(void *owner, const char *ch, size_t len, void *ctx);
/* Hub sync callback: a publication for a map subscribe walk collecting its channel
 * (client_map_sync.c). */
void lc__client_map_sync(void *owner, lc_sub_t *s, lc_rcbuf_t *push, uint64_t offset, bool excluded,
                         void *ctx);
void lc__worker_count_session(lc_worker_t *w, int delta);
/* A subscription was added (+1) or removed (-1): keeps the statistics current. */
void lc__worker_count_subs(lc_worker_t *w, int delta);
/* Schedule s at now + delay_ms on the list of its kind (removing it first if armed). */
void lc__worker_sched(lc_worker_t *w, lc_sched_t *s, int kind, int64_t delay_ms);
void lc__worker_unsched(lc_worker_t *w, lc_sched_t *s);
/* The delta subscribers' variants of a publication push (delta.c): *full always (NULL on
 * failure), *patch when candidate and prev give a delta worth sending. */
void lc__delta_variants(lc_rcbuf_t *push, lc_rcbuf_t *prev, bool candidate, lc_rcbuf_t **full,
                        lc_rcbuf_t **patch);
/* A publication for this worker's subscribers: fan out now (called in the worker's thread).
 * variants: the delta subscribers' pushes (LC_HUB_DELTA_FULL, LC_HUB_DELTA_PATCH), or NULL. */
void lc__worker_deliver(lc_worker_t *w, const char *ch, size_t chlen, int kind, uint64_t offset,
                        lc_rcbuf_t *push, lc_rcbuf_t *const *variants, const lc_exclude_t *ex);
/* Queue a delivery for another worker (any thread). The delivery is shared and refcounted. */
typedef struct lc_delivery lc_delivery_t;
void lc__worker_post(lc_worker_t *w, lc_delivery_t *d, int slot);
typedef struct lc_worker_stats {
    uint64_t clients, users, subs, channels;
} lc_worker_stats_t;
/* Any thread. */
void lc__worker_stats(lc_worker_t *w, lc_worker_stats_t *out);
/* Node-wide operations (core/ops.h): an op runs `each` in every worker, then `done` in the
 * origin worker. */
typedef struct lc_each_op lc_each_op_t;
lc_each_op_t *lc__each_op_new(lc_worker_t *origin, int nworkers, lc_ops_each_fn each,
                              lc_ops_each_fn done, void *arg);
int lc__worker_post_each(lc_worker_t *w, lc_each_op_t *op);
/* Count a worker the op could not be posted to as done. */
void lc__each_op_skip(lc_each_op_t *op);
/* Run (without delivering) whatever is left in the inbox; for shutdown, threads joined. */
void lc__worker_drain(lc_worker_t *w);

/* Client side, called by the worker. */
void lc__client_on_sched(lc_sched_t *s); /* s is due: its kind says which */
void lc__client_deliver(void *owner, lc_rcbuf_t *push, lc_rcbuf_t **frames, void *ctx);
void lc__client_shutdown(lc_client_t *c);
/* The session a worker's user list node belongs to. */
lc_client_t *lc__client_of_user_node(lc_list_t *node);
/* The user string of the session whose user_node this is (the worker's users map borrows it). */
const char *lc__client_user_of_node(lc_list_t *node);

/* Node side. */
/* client.user_connection_limit: take one of user's places on this node (false when all
 * `limit` are taken); lc__node_user_release gives it back. Any thread. */
bool lc__node_user_acquire(lc_node_t *n, const char *user, int limit);
void lc__node_user_release(lc_node_t *n, const char *user);
bool lc__node_forwards_header(const lc_node_t *n, const char *name);
bool lc__node_keeps_headers(const lc_node_t *n);
bool lc__node_forwards_emulated(const lc_node_t *n, const char *name);
/* The worker's Lua VM (hooks/script.h), NULL when no lua.script is configured. */
struct lc_lua *lc__worker_lua(lc_worker_t *w);
/* Load lua.script into a VM for this worker. 0, or LC_EINVAL with file:line in err. */
int lc__worker_start_lua(lc_worker_t *w, char *err, size_t errlen);
/* The worker's HTTP client for proxies (hooks/httpc.h). */
struct lc_httpc *lc__worker_httpc(lc_worker_t *w);
/* Node side, called by workers. */
void lc__delivery_run(lc_worker_t *w, lc_delivery_t *d);
void lc__delivery_unref(lc_delivery_t *d);

#endif
