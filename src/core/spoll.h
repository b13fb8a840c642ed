/* Shared poll subscriptions (Centrifugo v6.8 subscription_type "shared_poll", centrifuge-js
 * SharedPollSubscription): clients subscribe to a channel, then track items by key with signed
 * sub_refresh requests; this node asks the backend's refresh proxy once per cycle and channel
 * for the union of the items tracked on it, and pushes each item that changed (encoded once,
 * shared by all its trackers) to the connections tracking it.
 *
 * One poll per channel and node: the worker where a channel is first tracked owns its cycle
 * (its timer and its HTTP client) for the channel's life; the other workers' trackers are
 * counted in the node-wide registry (one mutex, held only to read or update counts and
 * versions, never across a call), so the owner's request always carries the union. A changed
 * item reaches every worker through the inbox (lc_ops_each_worker) as one refcounted push;
 * each worker hands it to its own trackers whose version is older. A hanging or failing
 * backend stalls only its own channel: each call has the proxy's timeout, a cycle whose
 * previous call is still out is skipped (logged), and other channels keep their timers.
 *
 * Direct publish (the server API's shared_poll_publish, versioned channels only) hands an
 * item's new data straight to its trackers and spares the backend the next cycle's question
 * about it. With shared_poll.publish_enabled it travels through the engine on the channel
 * itself, as a message every node subscribed to the channel receives (spoll_publish.c).
 *
 * Files: spoll_node.c (registry, cycles), spoll_answer.c (answers, fan-out), spoll_publish.c
 * (direct publish), spoll_client.c (subscribe, track, untrack, the session's trackers). */
#ifndef LC_CORE_SPOLL_H
#define LC_CORE_SPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/client.h"
#include "core/node.h"
#include "hooks/decide.h"
#include "proto/codec.h"
#include "util/buf.h"
#include "util/rcbuf.h"

/* A bit of lc_sub_t.flags the hub never reads: the subscription is a shared poll one. */
#define LC_SUB_SPOLL (1u << 15)
/* SubscribeRequest.type of a shared poll subscription (centrifuge-js sends 4). */
#define LC_SPOLL_SUB_TYPE 4
/* sub_refresh types */
#define LC_SPOLL_TRACK 1
#define LC_SPOLL_UNTRACK 2
/* Longest item key accepted (bytes); a longer one is answered 107. */
#define LC_SPOLL_KEY_MAX 512

typedef struct lc_spoll lc_spoll_t;

/* The node's registry (node.c makes it after the workers, and frees it after they stopped).
 * Registers a stop hook in every worker. NULL on OOM. */
lc_spoll_t *lc__spoll_new(lc_node_t *n);
void lc__spoll_free(lc_spoll_t *s);
lc_spoll_t *lc__node_spoll(lc_node_t *n);

/* --- direct publish (spoll_publish.c) ------------------------------------------------------- */

/* A shared_poll_publish: the item key of channel gets data (JSON, kept byte for byte) at
 * version (> 0); epoch "" = no epoch check. Strings need not be NUL-terminated. */
typedef struct lc_spoll_pub {
    const char *channel;
    size_t chlen;
    const char *key;
    size_t keylen;
    uint64_t version;
    const char *epoch;
    size_t epochlen;
    const char *data;
    size_t datalen;
} lc_spoll_pub_t;

/* Apply p on this node: an epoch other than the channel's resets it (subscribers get 2500);
 * a version not above the item's is dropped; else the trackers of the key on this node get
 * the data at once (one push for all) and the next timed cycle does not ask about it. Nothing
 * happens for a channel or key nobody tracks here, or a versionless channel. From a worker
 * thread. */
void lc_spoll_publish_apply(lc_node_t *n, const lc_spoll_pub_t *p);
/* p as the message the engine carries to the nodes subscribed to the channel
 * (publish_join_leave: delivered, never stored), which their sink hands to
 * lc__spoll_bus_take. 0 or LC_ENOMEM. */
int lc_spoll_publish_encode(const lc_spoll_pub_t *p, lc_buf_t *out);
/* The node's sink: push delivered on channel ch is such a message (true): it is applied from
 * worker 0's thread. Any thread; only queues. */
bool lc__spoll_bus_take(lc_node_t *n, const char *ch, size_t chlen, const lc_rcbuf_t *push);

/* --- session side (spoll_client.c) ---------------------------------------------------------- */

/* A subscribe allowed by the decision pipeline into a shared poll namespace: the subscription
 * and its reply (epoch, no stream). Returns like a handler. */
int lc__spoll_subscribe(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                        const lc_verdict_t *v);
/* A sub_refresh with type 1 (track) or 2 (untrack). Returns like a handler. */
int lc__spoll_sub_refresh(lc_client_t *c, lc_cmd_t *cmd);
/* The verdict about a track (the Lua track hook, when the script has one). */
int lc__spoll_track_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* The session's shared poll subscription to ch ended (unsubscribe, disconnect). */
void lc__spoll_forget(lc_client_t *c, const char *ch, size_t len);

/* --- between the two files ------------------------------------------------------------------ */

/* What a worker's trackers learn after an answer: items that changed (push, version) or were
 * removed (push is the removal, removed true). */
typedef struct lc__spoll_delivery {
    char *key;
    uint64_t version;
    bool removed;
    struct lc_rcbuf *push;
} lc__spoll_delivery_t;

/* In worker w: hand the deliveries of channel ch to its trackers, and drop trackers whose
 * signature expired more than extra_ms ago (extra_ms < 0: no such sweep). reset: the channel's
 * versions were reset (a new epoch): its subscribers are unsubscribed with 2500 to start
 * afresh. */
void lc__spoll_worker_deliver(lc_worker_t *w, const char *ch, size_t len,
                              const lc__spoll_delivery_t *d, size_t n, int64_t extra_ms,
                              bool reset);

/* Node registry calls made by the session side (any worker thread). */
typedef struct lc__spoll_track_in {
    const char *key;
    uint64_t version;          /* the client's */
    uint64_t *out_version;     /* the node's version of the item, or the client's */
    struct lc_rcbuf **out_pub; /* a Publication to reply with (ref), NULL = none */
} lc__spoll_track_in_t;

/* Count new trackers of the keys on channel ch (creating the channel, owned by worker w when
 * new): for each, the node's current data when newer than the client's. Cold keys (tracked
 * with version 0, no data on the node and no other tracker here) bring an early poll. 0 or
 * LC_ENOMEM. */
int lc__spoll_node_track(lc_spoll_t *s, lc_worker_t *w, const char *ch, size_t len,
                         const lc_ns_opts_t *o, lc__spoll_track_in_t *in, size_t n,
                         const bool *is_new);
/* Trackers of the keys are gone. */
void lc__spoll_node_untrack(lc_spoll_t *s, const char *ch, size_t len, const char *const *keys,
                            size_t n);
/* The epoch a subscribe reply carries: the backend's (versioned) or this node's. Copied into
 * out (at most outlen bytes). */
void lc__spoll_node_epoch(lc_spoll_t *s, const char *ch, size_t len, const lc_ns_opts_t *o,
                          char *out, size_t outlen);

/* The per-worker tracker index (spoll_client.c), kept in the registry. */
typedef struct lc__spoll_wstate lc__spoll_wstate_t;
lc__spoll_wstate_t *lc__spoll_wstate(lc_spoll_t *s, lc_worker_t *w);
lc__spoll_wstate_t *lc__spoll_wstate_new(void);
void lc__spoll_wstate_free(lc__spoll_wstate_t *ws);

#endif
