/* The engine seam: who owns the truth about publications (stream positions, history) and
 * presence, and who delivers every publication and join/leave event to every node. Memory:
 * in-process. Redis: PUB/SUB and streams in a real Redis. Core talks to an engine only
 * through this vtable, and the engine talks back only through the sink core gave it.
 *
 * Callback contract for every asynchronous call below: when the call returns 0 its callback
 * runs exactly once, possibly before the call returns (the memory engine answers at once);
 * when the call returns a negative lc_err the callback never runs. Everything passed in is
 * borrowed for the duration of the call; results passed to a callback are valid only during
 * the callback. Calls may come from any worker thread concurrently.
 *
 * An engine that talks to a server (Redis) does its I/O on the loop of the worker that made
 * the call, and runs the callback later from that same worker's thread. Such an engine needs
 * `attach` to have run in the calling worker's thread; a call from anywhere else returns
 * LC_EINVAL.
 *
 * The session takes both forms through the same callback path (core/client_wait.c): history,
 * presence, presence_stats, publish, the stream read of a positioned subscription, and a map
 * subscription's reads and client map writes make it wait as its one pending step, with later
 * commands queued behind; an answer that comes after the connection closed finds no session
 * and is dropped. An engine never needs to cancel. */
#ifndef LC_ENGINE_ENGINE_H
#define LC_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "proto/codec.h"
#include "util/rcbuf.h"

typedef struct lc_engine lc_engine_t;

#define LC_EPOCH_MAX 32

/* A position in a channel's stream (spec §7.1). */
typedef struct lc_stream_pos {
    uint64_t offset;
    char epoch[LC_EPOCH_MAX]; /* "" when the channel keeps no stream */
} lc_stream_pos_t;

/* The channel options an engine needs, resolved by core from the namespace (or rule). History
 * is kept only when both history_size > 0 and history_ttl_ms > 0. */
/* Delta compression (fossil, spec §1.7) for a publication: its namespace allows deltas, and
 * whether the publisher asked for one (publish `delta`, namespace `delta_publish`). */
enum lc_delta_mode { LC_DELTA_OFF = 0, LC_DELTA_ALLOWED, LC_DELTA_CANDIDATE };

typedef struct lc_chan_opts {
    int history_size;
    int64_t history_ttl_ms;
    int64_t history_meta_ttl_ms; /* stream meta (epoch, top offset) lifetime; 0 = forever */
    int delta;                   /* publish only: enum lc_delta_mode */
} lc_chan_opts_t;

/* Clients that must not receive a publication (the publisher's own connection, the server
 * API's exclude_client / exclude_user, a hook's decision). Ids are client ids (UUID strings)
 * and user ids. */
typedef struct lc_exclude {
    const char *const *clients;
    size_t n_clients;
    const char *const *users; /* every connection of these users */
    size_t n_users;
} lc_exclude_t;

/* --- publish ------------------------------------------------------------------------------ */

typedef struct lc_publish_req {
    const char *channel;
    size_t chlen;
    lc_publication_t pub; /* offset is assigned by the engine */
    lc_chan_opts_t opts;
    bool skip_history;
    lc_exclude_t exclude;
    /* NULL or "" = none. An engine that keeps results (Redis) answers a repeat of the key on
     * the channel within 5 minutes with the first publish's result and publishes nothing. */
    const char *idempotency_key;
} lc_publish_req_t;

typedef struct lc_publish_res {
    uint64_t offset;          /* 0 when the channel keeps no history */
    char epoch[LC_EPOCH_MAX]; /* "" when the channel keeps no history */
} lc_publish_res_t;

typedef void (*lc_publish_cb)(void *arg, int err, const lc_publish_res_t *res);

/* --- history ------------------------------------------------------------------------------ */

typedef struct lc_history_req {
    const char *channel;
    size_t chlen;
    lc_chan_opts_t opts;
    int limit;      /* 0 = position only, < 0 = everything kept, > 0 = at most that many */
    bool has_since; /* return publications after since.offset (since.epoch must match) */
    lc_stream_pos_t since;
    bool reverse; /* newest first */
} lc_history_req_t;

typedef struct lc_history_res {
    lc_stream_pos_t top; /* the stream's current position (epoch created if none yet) */
    /* Encoded Publication objects ({"data":..,"info":..,"offset":N,"tags":..}) in the order
     * asked for. References are borrowed for the callback (take one to keep it). */
    lc_rcbuf_t *const *pubs;
    size_t n;
    uint64_t first_offset; /* offset of the oldest publication still kept (0 = none) */
} lc_history_res_t;

/* err: 0; LC_EPOS when since.epoch does not match the stream's epoch (→ 112). */
typedef void (*lc_history_cb)(void *arg, int err, const lc_history_res_t *res);

/* --- presence ----------------------------------------------------------------------------- */

typedef struct lc_presence_entry {
    const char *client;
    const char *user;
    lc_rcbuf_t *info; /* encoded ClientInfo object */
} lc_presence_entry_t;

typedef struct lc_presence_res {
    const lc_presence_entry_t *entries;
    size_t n;
} lc_presence_res_t;

typedef void (*lc_presence_cb)(void *arg, int err, const lc_presence_res_t *res);
typedef void (*lc_presence_stats_cb)(void *arg, int err, uint64_t num_clients, uint64_t num_users);
typedef void (*lc_done_cb)(void *arg, int err);

/* --- map channels (v6.8 map subscriptions) ------------------------------------------------ */

/* A map channel holds a key-value state (each key's latest Publication) and, unless it is
 * ephemeral, a change stream for catch-up. Every write (publish, remove, a key's expiry) gets
 * the next offset of the channel and is delivered like a publication, with its key. */
typedef struct lc_map_opts {
    int stream_size;       /* changes kept for catch-up; 0 = none (ephemeral: snapshots only) */
    int64_t stream_ttl_ms; /* how long a change is kept; 0 = while it fits */
    int64_t meta_ttl_ms;   /* epoch and offsets live this long after the channel's last write
                              once its state is empty; 0 = forever */
    int64_t key_ttl_ms;    /* a key expires this long after its last write; 0 = never */
    int max_keys;          /* a write of a new key beyond this fails with LC_ETOOBIG; 0 = none */
    bool ordered;          /* state pages by score, highest first, then by key */
} lc_map_opts_t;

enum lc_map_key_mode { LC_MAP_KEY_ANY = 0, LC_MAP_KEY_IF_NEW, LC_MAP_KEY_IF_EXISTS };

/* Bounds of a map write's idempotency_key and version_epoch (they are kept with the channel). */
#define LC_MAP_IDEM_KEY_MAX 256

typedef struct lc_map_write_req {
    const char *channel;
    size_t chlen;
    const char *key; /* non-empty */
    size_t keylen;
    bool remove;
    lc_publication_t pub; /* data, info, tags, score; key and offset are set by the engine */
    int key_mode;         /* enum lc_map_key_mode (writes only) */
    /* Presence entries: +1 takes a hold on the key, -1 releases one. A held key never
     * expires; its key TTL starts when the last hold is released (a user with several
     * connections stays while any remains). A suppressed write still takes its hold. */
    int hold;
    lc_map_opts_t opts;
    lc_exclude_t exclude;
    /* Safe retries (publish and remove): a repeat of idempotency_key within idempotent_ttl_ms
     * (0 = 5 minutes) writes nothing and answers the first write's result. NULL or "" = none;
     * at most LC_MAP_IDEM_KEY_MAX bytes, as version_epoch (longer: LC_EINVAL). */
    const char *idempotency_key;
    int64_t idempotent_ttl_ms;
    /* Writes only. version > 0: the write is suppressed ("version", checked before key_mode)
     * unless it is above the key's stored version; a version_epoch other than the stored one
     * accepts any version, an empty one compares with whatever is stored. */
    uint64_t version;
    const char *version_epoch;
    /* Writes only. Set: what the change stream and the subscribers get, while the state keeps
     * pub.data (the state is the whole value, the stream carries a change). */
    lc_raw_t stream_data;
} lc_map_write_req_t;

typedef struct lc_map_write_res {
    lc_stream_pos_t pos;         /* the channel's position after the write */
    bool suppressed;             /* nothing changed, nothing delivered */
    const char *suppress_reason; /* "key_exists", "key_not_found", "version",
                                    "idempotency" (the first write's position) */
} lc_map_write_res_t;

typedef void (*lc_map_write_cb)(void *arg, int err, const lc_map_write_res_t *res);

typedef struct lc_map_read_req {
    const char *channel;
    size_t chlen;
    lc_map_opts_t opts;
    bool stream; /* false: a page of the state; true: the change stream */
    /* state: the cursor a previous page returned (NULL or "" = first page), one key only
     * (NULL = all), at most limit entries (> 0) and about max_bytes of them (0 = no cap) */
    const char *cursor;
    const char *key;
    size_t max_bytes;
    uint64_t max_offset; /* > 0: leave out entries written after this offset */
    /* stream: changes after since (its epoch must match, "" matches any); limit < 0 = all */
    bool has_since;
    lc_stream_pos_t since;
    int limit;
} lc_map_read_req_t;

typedef struct lc_map_read_res {
    lc_stream_pos_t top; /* the channel's current position (epoch created if none yet) */
    /* Encoded Publication objects with their keys: state entries, or stream changes in offset
     * order. Borrowed for the callback. */
    lc_rcbuf_t *const *pubs;
    size_t n;
    const char *cursor; /* state: the next page's cursor, "" after the last page */
    size_t num_keys;    /* the state's size */
} lc_map_read_res_t;

/* err: 0; LC_EPOS when since does not match the stream (another epoch, or changes after
 * since.offset are no longer kept), with res->top set; LC_EINVAL for a cursor that is not one.
 * map_write fails with LC_ETOOBIG for a new key beyond opts.max_keys. */
typedef void (*lc_map_read_cb)(void *arg, int err, const lc_map_read_res_t *res);

/* --- delivery back to this node ------------------------------------------------------------ */

/* What a delivered message is: the hub gives join/leave only to subscribers that asked for
 * them, and skips publications a subscriber has already seen (offset <= its position). */
enum lc_push_kind { LC_PUSH_PUB = 0, LC_PUSH_JOIN_LEAVE = 1 };

/* How the engine delivers to this node: `push` is the encoded push message
 * ({"push":{"channel":..,"pub":..}}), encoded once for every subscriber of every worker. The
 * sink takes its own references if it keeps anything. May be called from any thread,
 * including under the engine's locks: it must only queue, never call back into the engine.
 * For one channel, calls come in offset order. */
typedef struct lc_engine_sink {
    void *ctx;
    void (*deliver)(void *ctx, const char *channel, size_t chlen, int kind, uint64_t offset,
                    lc_rcbuf_t *push, const lc_exclude_t *exclude);
    /* A publication of a channel whose namespace allows deltas (req->delta != LC_DELTA_OFF),
     * instead of deliver: also the previous publication of the channel's stream (its encoded
     * Publication, offset - 1; NULL when not kept) and whether a delta against it was asked
     * for. Core computes the delta once here. Called by engines with supports_delta only. */
    void (*deliver_delta)(void *ctx, const char *channel, size_t chlen, uint64_t offset,
                          lc_rcbuf_t *push, const lc_exclude_t *exclude, lc_rcbuf_t *prev,
                          bool candidate);
    /* Deliveries may have been lost (the engine lost its subscription to other nodes for a
     * while): every positioned subscription of this node must re-establish its position.
     * Any thread; only queues. NULL = ignored. */
    void (*resync)(void *ctx);
    /* Control data another node sent with lc_engine_vt.control (opaque to the engine). Any
     * thread; only queues. NULL = ignored. */
    void (*control)(void *ctx, const char *data, size_t len);
    /* This node's description for other nodes (a JSON object, as the server API's `info`
     * lists nodes), written into out (size outlen), NUL-terminated; returns its length or 0.
     * Any thread. */
    size_t (*node_info)(void *ctx, char *out, size_t outlen);
} lc_engine_sink_t;

typedef struct lc_engine_vt {
    const char *name;
    /* Assign the next offset (when the channel keeps history), store, deliver. */
    int (*publish)(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg);
    /* Deliver a pre-encoded join/leave push to every node; nothing is stored. */
    int (*publish_join_leave)(lc_engine_t *e, const char *ch, size_t chlen, lc_rcbuf_t *push,
                              lc_done_cb cb, void *arg);
    int (*history)(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg);
    /* Drop the publications; the stream's position (epoch and top offset) is kept. */
    int (*history_remove)(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg);
    /* Add or replace client's presence entry in ch; info is an encoded ClientInfo object. */
    int (*presence_add)(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                        const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg);
    int (*presence_remove)(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                           lc_done_cb cb, void *arg);
    int (*presence)(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_cb cb, void *arg);
    int (*presence_stats)(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_stats_cb cb,
                          void *arg);
    void (*destroy)(lc_engine_t *e);

    /* --- several nodes (every entry below may be NULL: a single-process engine) ---------- */
    /* Worker `index` (of n) starts: called in that worker's thread before its loop runs, and
     * for worker 0 before any other worker thread starts. 0 or negative lc_err. */
    int (*attach)(lc_engine_t *e, int index, int n, uv_loop_t *loop);
    /* Worker `index` stops (its thread): close what the engine keeps on its loop. Calls from
     * that worker afterwards fail with LC_EIO. */
    void (*detach)(lc_engine_t *e, int index);
    /* This node needs (or no longer needs) the channel's publications from other nodes: a
     * worker's hub gained its first / lost its last subscriber of ch. Counted per node; any
     * worker thread. */
    void (*channel_subscribe)(lc_engine_t *e, const char *ch, size_t chlen);
    void (*channel_unsubscribe)(lc_engine_t *e, const char *ch, size_t chlen);
    /* cb(arg, 0) once this node receives ch's publications from every node — the channel
     * counted in with channel_subscribe first — or cb(arg, LC_EIO) when the engine lost its
     * connection before. Callback contract as above (the calling worker's thread). A session
     * that awaits this before answering a subscribe misses nothing published after its
     * answer. */
    int (*channel_ready)(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg);
    /* Send data to every other node's sink.control. 0 or negative lc_err (not connected). */
    int (*control)(lc_engine_t *e, const char *data, size_t len);
    /* false while the engine cannot serve (no connection to Redis). */
    bool (*healthy)(lc_engine_t *e);
    /* Call fn with the node_info text of every other live node. Any thread. */
    void (*nodes)(lc_engine_t *e, void (*fn)(void *arg, const char *info, size_t len), void *arg);

    /* --- map channels (NULL: the engine keeps none; map subscriptions answer 108) -------- */
    int (*map_write)(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb, void *arg);
    int (*map_read)(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg);
    /* Drop the channel's state and stream; its next write starts a new epoch. */
    int (*map_clear)(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg);
} lc_engine_vt_t;

struct lc_engine {
    const lc_engine_vt_t *vt;
    lc_engine_sink_t sink; /* set by core before the first call */
    /* Hands publications of delta namespaces to sink.deliver_delta with the previous
     * publication: subscribers may negotiate fossil deltas only then. */
    bool supports_delta;
};

static inline int lc_engine_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb,
                                    void *arg)
{
    return e->vt->publish(e, req, cb, arg);
}

#endif
