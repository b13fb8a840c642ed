/* Operations on the sessions of a whole node, for the server API: subscribe, unsubscribe,
 * disconnect and refresh a user's (or one client's) live connections, and list channels.
 *
 * Sessions belong to their worker's thread, so a node-wide operation runs a function in every
 * worker (lc_ops_each_worker), each touching only its own sessions, then a completion in the
 * caller's thread. The lc_ops_* functions below taking a worker must be called in its thread, i.e.
 * from inside an lc_ops_each_worker callback. */
#ifndef LC_CORE_OPS_H
#define LC_CORE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/node.h"
#include "core/worker.h"
#include "hooks/explain.h"
#include "proto/codec.h"

typedef void (*lc_ops_each_fn)(lc_worker_t *w, void *arg);

/* Run each(w, arg) once in every worker's thread (the calling worker's too, from its inbox,
 * never synchronously), then done(w_caller, arg) in the calling worker's thread after the last
 * one. Must be called from a worker thread. 0 or LC_ENOMEM (then nothing runs). arg must stay
 * valid until done. Workers run concurrently: each must only write its own part of arg. */
int lc_ops_each_worker(lc_node_t *n, lc_ops_each_fn each, lc_ops_each_fn done, void *arg);

/* Run fn(w, arg) once in worker `index`'s thread (from its inbox, never synchronously). Any
 * thread. 0, LC_EINVAL (no such worker) or LC_ENOMEM (then fn never runs). */
int lc_ops_run_in(lc_node_t *n, int index, lc_ops_each_fn fn, void *arg);

/* Target of a session operation: every connection of `user`, or only the connection `client`
 * (client non-empty wins; both given: the client must belong to the user). */
typedef struct lc_target {
    const char *user;   /* NULL or "" = none */
    const char *client; /* NULL or "" = none */
} lc_target_t;

/* Options of a server-side subscription made through the API (spec §4.2 subscribe). */
struct lc_sub_override;

typedef struct lc_api_sub_opts {
    lc_raw_t info;                          /* chan_info */
    lc_raw_t data;                          /* data in the subscribe push */
    const struct lc_sub_override *override; /* auth/jwt.h lc_jwt_parse_override, NULL = none */
    int64_t expire_at;                      /* subscription expiry (Unix s), 0 = none */
    bool has_recover_since;
    uint64_t recover_offset;
    const char *recover_epoch;
} lc_api_sub_opts_t;

/* Each returns how many sessions it acted on in this worker. */
size_t lc_ops_subscribe(lc_worker_t *w, const lc_target_t *t, const char *channel,
                        const lc_api_sub_opts_t *o);
/* Sends the unsubscribe push (code 2000 "server unsubscribe"). */
size_t lc_ops_unsubscribe(lc_worker_t *w, const lc_target_t *t, const char *channel);
/* whitelist: client ids to keep. code 0 → 3503 "force disconnect". */
size_t lc_ops_disconnect(lc_worker_t *w, const lc_target_t *t, const char *const *whitelist,
                         size_t n_whitelist, uint32_t code, const char *reason);
/* expired → disconnect 3005; expire_at > 0 → new expiry (refresh push {expires, ttl});
 * info (raw JSON, may be absent) replaces the connection info. */
size_t lc_ops_refresh(lc_worker_t *w, const lc_target_t *t, bool expired, int64_t expire_at,
                      lc_raw_t info);

/* The live connections of a target in this worker (the admin UI's user page): fn gets each
 * one's client id, user, transport name and channels (n of them). */
typedef void (*lc_conn_fn)(void *arg, const char *client, const char *user, const char *transport,
                           const char *const *channels, size_t n);
size_t lc_ops_connections(lc_worker_t *w, const lc_target_t *t, lc_conn_fn fn, void *arg);

/* Hand one POST /emulation body's commands (`data`, the newline-joined command JSON) to the
 * emulation session `session` if it lives on this worker. Returns true when it did. */
bool lc_ops_emulate(lc_worker_t *w, const char *session, const char *data, size_t len);

/* Channels with at least one subscriber in this worker whose name matches pattern (glob: `*`
 * any run, `?` one character, `[...]` classes; "" = all): calls fn for each with this
 * worker's subscriber count. */
void lc_ops_channels(lc_worker_t *w, const char *pattern,
                     void (*fn)(void *arg, const char *ch, size_t len, uint64_t nsubs), void *arg);

/* Explain one decision (hooks/explain.h) with this worker's config, Lua VM and HTTP client, as
 * its sessions would decide it (the admin UI's playground). Worker thread; same contract as
 * lc_explain_start, cb runs in this thread. A hook's lucent.publish publishes for real. */
int lc_ops_explain(lc_worker_t *w, const lc_explain_args_t *a, lc_explain_cb cb, void *arg,
                   lc_explain_t **out, char *err, size_t errlen);

#endif
