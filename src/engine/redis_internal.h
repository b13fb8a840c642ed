/* Redis engine internals shared by redis.c (engine, workers, publish), redis_conn.c (one
 * connection's state machine), redis_pubsub.c (the broker: channel subscriptions, deliveries,
 * control), redis_history.c (streams through Lua scripts) and redis_presence.c.
 *
 * Threads: every worker has its own command connection per shard on its own loop (a call's
 * callback runs on the loop that made it). Worker 0 also holds one PUB/SUB connection per
 * shard and a control timer; other workers reach it only through the shards' channel tables
 * (mutex) and an async handle. hiredis is used only in these files. */
#ifndef LC_ENGINE_REDIS_INTERNAL_H
#define LC_ENGINE_REDIS_INTERNAL_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "engine/redis.h"
#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"

#define LC__R_EPOCH_LEN 8

/* The engine's Lua scripts (redis_scripts.c, redis_map_scripts.c). */
enum {
    LC__SCRIPT_PUBLISH,
    LC__SCRIPT_HISTORY,
    LC__SCRIPT_PRES_ADD,
    LC__SCRIPT_PRES_GET,
    LC__SCRIPT_MAP_WRITE, /* the map broker's (redis_map_scripts.c) */
    LC__SCRIPT_MAP_READ,
    LC__SCRIPT_MAP_CLEANUP,
    LC__SCRIPT_MAP_TOUCH,
    LC__SCRIPT_MAP_CLEAR,
    LC__SCRIPTS
};

/* --- one connection (redis_conn.c) ---------------------------------------------------------- */

enum lc__rconn_state {
    LC__RC_IDLE,       /* not started */
    LC__RC_RESOLVING,  /* asking a Sentinel for the primary's address */
    LC__RC_CONNECTING, /* TCP connect */
    LC__RC_HANDSHAKE,  /* AUTH, SELECT, ROLE, SCRIPT LOAD */
    LC__RC_READY,
    LC__RC_BACKOFF, /* waiting before the next attempt */
    LC__RC_CLOSED,
};

typedef struct lc__redis lc__redis_t;
typedef struct lc__rconn lc__rconn_t;

/* reply NULL: the command failed (connection lost or timed out); the reply is hiredis's. */
typedef void (*lc__rcmd_cb)(lc__rconn_t *c, redisReply *reply, void *arg);

struct lc__rconn {
    lc__redis_t *r;
    uv_loop_t *loop;
    int shard;
    bool pubsub;
    int state;
    redisAsyncContext *ac;
    redisAsyncContext *sac; /* Sentinel connection while resolving */
    uv_timer_t timer;       /* connect / handshake deadline, backoff */
    uv_timer_t tick;        /* command timeouts and PING */
    bool handles;           /* timer and tick initialised */
    int attempt;            /* failed attempts since the last READY */
    int sentinel_next;      /* which Sentinel to ask next */
    char host[256];
    int port;
    bool hs_failed;
    char hs_err[128];
    /* Send times (loop ms) of the commands awaiting a reply, oldest first: Redis answers in
     * order, so the oldest decides the command timeout. */
    uint64_t *sent;
    size_t sent_head, sent_n, sent_cap;
    uint64_t last_io_ms;
    uint64_t ping_sent_ms; /* PUB/SUB: a PING subscription awaiting its reply (0 = none) */
    unsigned switch_gen;   /* the engine's Sentinel switch generation when this got READY */
    bool closing;          /* closes once the commands sent are answered (close_after) */
    void (*on_ready)(lc__rconn_t *c);
    void (*on_down)(lc__rconn_t *c);
    void (*on_message)(lc__rconn_t *c, redisReply *reply); /* PUB/SUB */
    void *owner;
};

void lc__rconn_init(lc__rconn_t *c, lc__redis_t *r, uv_loop_t *loop, int shard, bool pubsub);
void lc__rconn_start(lc__rconn_t *c);
/* Close for good (the loop's thread); pending commands fail. */
void lc__rconn_close(lc__rconn_t *c);
/* The same once the commands already sent have their replies (or fail, or 300 ms passed):
 * what was sent last reaches Redis. Nothing may be sent meanwhile. */
void lc__rconn_close_after(lc__rconn_t *c);
void lc__rconn_free(lc__rconn_t *c); /* after the loop has ended */
bool lc__rconn_ready(const lc__rconn_t *c);
/* 0, or LC_EIO when the connection is not ready (then cb never runs). */
int lc__rconn_cmd(lc__rconn_t *c, lc__rcmd_cb cb, void *arg, int argc, const char **argv,
                  const size_t *argvlen);
/* PUB/SUB connections: SUBSCRIBE / UNSUBSCRIBE the given channels (replies go to on_message). */
int lc__rconn_sub(lc__rconn_t *c, bool subscribe, int argc, const char **argv, size_t *argvlen);
/* PUB/SUB: the ping's reply arrived. */
void lc__rconn_pong(lc__rconn_t *c);
/* Drop the connection and reconnect (after a NOSCRIPT: the handshake loads the scripts). */
void lc__rconn_reset(lc__rconn_t *c, const char *why);

/* --- the engine (redis.c) --------------------------------------------------------------------- */

enum { LC__CH_NONE, LC__CH_SUBSCRIBING, LC__CH_SUBSCRIBED, LC__CH_UNSUBSCRIBING };

/* A worker waiting for a channel's subscription (channel_ready), then a completion queued for
 * that worker. */
typedef struct lc__rwait {
    struct lc__rwait *next;
    int slot;
    int err;
    lc_done_cb cb;
    void *arg;
} lc__rwait_t;

/* A channel this node listens to on one shard (its PUB/SUB state). */
typedef struct lc__rchan {
    int refs;      /* workers whose hub has the channel */
    uint8_t state; /* LC__CH_* */
    bool dirty;    /* queued for the broker's reconcile */
    lc__rwait_t *waiters;
    size_t len;
    char name[];
} lc__rchan_t;

typedef struct lc__rshard {
    uv_mutex_t mu; /* chans, dirty */
    lc_map_t chans;
    lc__rchan_t **dirty;
    size_t n_dirty, cap_dirty;
    lc__rconn_t ps; /* PUB/SUB, worker 0's loop */
    atomic_bool ps_ready;
    bool was_ready; /* a reconnect means deliveries may have been missed */
} lc__rshard_t;

/* One worker's share: its command connections and its presence entries to refresh. */
typedef struct lc__rslot {
    lc__redis_t *r;
    int index;
    uv_loop_t *loop;
    bool attached, closed;
    lc__rconn_t *conns; /* one per shard */
    lc_map_t presence;  /* channel NUL client → lc__rpres_t */
    uv_timer_t presence_timer;
    lc_map_t map_holds;   /* "<channel>\0<key>" → presence holds of map keys (redis_map.c) */
    uv_timer_t map_timer; /* refreshes the held keys' expiry */
    uint64_t map_tick_ms;
    lc_buf_t scratch;
    /* channel_ready completions from worker 0 (under done_mu), run by done_async */
    uv_mutex_t done_mu;
    uv_async_t done_async;
    lc__rwait_t *done;
    bool done_live;
} lc__rslot_t;

/* A node seen through the control channel. */
typedef struct lc__rnode {
    int64_t seen_ms;
    size_t len;
    char info[];
} lc__rnode_t;

struct lc__redis {
    lc_engine_t base;
    const lc_config_t *cfg;
    const lc_redis_conf_t *rc;
    char uid[37];
    int nshards;
    char **hosts; /* per shard, from the config (NULL with Sentinel) */
    int *ports;
    char *user, *password; /* from the address URL or the config */
    int db;
    lc__rshard_t *shards;
    int nslots;
    lc__rslot_t *slots;
    /* Script SHA1s, set by the first connection that loaded them (the same on every Redis). */
    uv_mutex_t mu;
    char sha[LC__SCRIPTS][41];
    /* worker 0: the map broker's key cleanup (redis_map.c), one call in flight per shard */
    uv_timer_t map_cleanup_timer;
    bool map_cleanup_on;
    bool *map_cleaning;
    /* worker 0: the broker */
    uv_async_t broker_async;
    uv_timer_t info_timer;
    bool broker_on;
    bool broker_live; /* broker_async may be signalled (under mu) */
    lc_map_t nodes;   /* uid → lc__rnode_t, under mu */
    /* Sentinel's +switch-master (redis_sentinel.c, worker 0): connections compare the
     * generation on every tick and reconnect when it moved. */
    atomic_uint switch_gen;
    redisAsyncContext *sw_ac;
    uv_loop_t *sw_loop;
    uv_timer_t sw_timer;
    bool sw_on;
    unsigned sw_next;
};

void lc__sentinel_watch_start(lc__redis_t *r, uv_loop_t *loop);
void lc__sentinel_watch_stop(lc__redis_t *r);

/* The slot of the calling worker thread, NULL outside workers. */
lc__rslot_t *lc__redis_slot(lc__redis_t *r);
int lc__redis_shard_of(const lc__redis_t *r, const char *ch, size_t chlen);
/* The calling worker's command connection for ch, NULL (LC_EINVAL/LC_EIO in *err) when none
 * is usable. */
lc__rconn_t *lc__redis_conn(lc__redis_t *r, const char *ch, size_t chlen, int *err);
/* prefix + "." + kind + "." + channel into b (reset first). */
int lc__redis_key(lc__redis_t *r, lc_buf_t *b, const char *kind, const char *ch, size_t chlen);
void lc__redis_random_epoch(char out[LC__R_EPOCH_LEN + 1]);
/* Run a loaded script (EVALSHA, EVAL again on NOSCRIPT). argv[0..] are keys then args. */
int lc__redis_script(lc__rconn_t *c, int which, lc__rcmd_cb cb, void *arg, int nkeys, int argc,
                     const char **argv, const size_t *argvlen);
extern const char *const lc__redis_scripts[LC__SCRIPTS];
extern const char lc__redis_map_write_lua[], lc__redis_map_read_lua[], lc__redis_map_cleanup_lua[],
    lc__redis_map_touch_lua[], lc__redis_map_clear_lua[];
/* A script's SHA1 as SCRIPT LOAD answered it (the handshake loads every script). */
void lc__redis_set_sha(lc__redis_t *r, int which, const char *sha, size_t len);

/* --- broker (redis_pubsub.c) ------------------------------------------------------------------ */

void lc__broker_channel(lc__redis_t *r, const char *ch, size_t chlen, int delta);
int lc__broker_channel_ready(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb,
                             void *arg);
/* The slot's thread: run the completions queued for it. */
void lc__broker_on_done(uv_async_t *h);

/* A done callback and its argument, carried through a Redis command that only succeeds or
 * fails (history_remove, presence add/remove, join/leave). */
typedef struct lc__redis_done {
    lc_done_cb cb;
    void *arg;
} lc__redis_done_t;
/* The slot's worker stops (its thread, s->closed set): answer its channel_ready waiters with
 * LC_EIO and its queued completions, and queue nothing for it afterwards. */
void lc__broker_detach_slot(lc__redis_t *r, lc__rslot_t *s);
/* Drop what a slot still has queued (engine teardown, loops gone). */
void lc__broker_free_done(lc__rslot_t *s);
void lc__broker_on_async(uv_async_t *h);
/* Any thread: have worker 0 reconcile the channel tables. */
void lc__broker_wake(lc__redis_t *r);
void lc__broker_ready(lc__rconn_t *c);
void lc__broker_down(lc__rconn_t *c);
void lc__broker_message(lc__rconn_t *c, redisReply *reply);
void lc__broker_info_tick(uv_timer_t *t);
int lc__broker_control(lc_engine_t *e, const char *data, size_t len);
/* Worker 0, stopping: tell the other nodes this one leaves (they drop it from `info` and
 * `channels` at once). 0 when sent on the slot's first connection, which must then be
 * closed with lc__rconn_close_after. */
int lc__broker_leave(lc__redis_t *r);
void lc__broker_nodes(lc_engine_t *e, void (*fn)(void *arg, const char *info, size_t len),
                      void *arg);
/* The envelope header of a message to other nodes: "L1 <kind> " ... (see redis_pubsub.c). */
int lc__broker_envelope(lc_buf_t *b, char kind, const lc_exclude_t *ex);

/* --- vtable entries in their own files ---------------------------------------------------------
 */

/* Script replies (redis_history.c, shared with redis_map.c): an integer element (integer or
 * decimal string, negatives as 0); a failed script's error logged once, the connection reset
 * after a NOSCRIPT so its scripts are loaded again. */
uint64_t lc__redis_int_of(const redisReply *r);
void lc__redis_script_failed(lc__rconn_t *c, const redisReply *reply, const char *what);
/* The encoded publications elements[first..] of a script's reply, held as rcbufs (in local
 * when they fit). take: 0, or LC_ENOMEM with nothing held; release gives them back. */
typedef struct lc__rpubs {
    lc_rcbuf_t *local[32];
    lc_rcbuf_t **p;
    size_t n;
} lc__rpubs_t;
int lc__rpubs_take(lc__rpubs_t *ps, const redisReply *reply, size_t first);
void lc__rpubs_release(lc__rpubs_t *ps);
int lc__redis_history(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg);
int lc__redis_history_remove(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb,
                             void *arg);
int lc__redis_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg);
int lc__redis_presence_add(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                           const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg);
int lc__redis_presence_remove(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                              lc_done_cb cb, void *arg);
int lc__redis_presence(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_cb cb, void *arg);
int lc__redis_presence_stats(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_stats_cb cb,
                             void *arg);
void lc__redis_presence_refresh(uv_timer_t *t);
int lc__redis_map_write(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb,
                        void *arg);
int lc__redis_map_read(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg);
int lc__redis_map_clear(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg);
/* A worker's map holds: set up with its slot (its thread), timer closed on detach, freed
 * with the engine. */
void lc__redis_map_attach(lc__rslot_t *s);
void lc__redis_map_detach(lc__rslot_t *s);
void lc__redis_map_free(lc__rslot_t *s);
void lc__redis_map_touch_tick(uv_timer_t *t);
/* Worker 0: the periodic key cleanup (map_broker.redis.cleanup_interval). */
void lc__redis_map_cleanup_start(lc__redis_t *r, uv_loop_t *loop);
void lc__redis_map_cleanup_stop(lc__redis_t *r);
void lc__redis_presence_free(lc__rslot_t *s);

#endif
