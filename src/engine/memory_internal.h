/* Memory engine internals shared by memory.c (engine, publish, sweep), memory_history.c
 * (streams) and memory_presence.c (presence sets).
 *
 * Channel state is split over LC__SHARDS shards by channel hash; each shard has its own mutex
 * and is the only lock a call takes (the periodic sweep takes them one at a time). Everything
 * declared here is called with the shard's mutex held unless it says otherwise. */
#ifndef LC_ENGINE_MEMORY_INTERNAL_H
#define LC_ENGINE_MEMORY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "engine/memory.h"
#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"

#define LC__SHARDS 64
#define LC__EPOCH_LEN 8
/* A shard's encoding buffer is kept between publications up to this size; one huge
 * publication does not pin its size for good. */
#define LC__SCRATCH_KEEP ((size_t)64 * 1024)

typedef struct lc__mapch lc__mapch_t;

/* One kept publication: the encoded Publication object and when it was stored. */
typedef struct lc__hist_ent {
    lc_rcbuf_t *pub;
    int64_t time_ms;
} lc__hist_ent_t;

/* A channel's stream. Kept publications always have consecutive offsets ending at `top`
 * (offsets are only assigned to stored publications and entries leave from the front), so
 * ring[(head + i) % cap] holds offset top - n + 1 + i and no offset is stored per entry. */
typedef struct lc__stream {
    uint64_t top;
    char epoch[LC__EPOCH_LEN + 1];
    int64_t touched_ms;  /* last publish or history call: the meta lifetime starts here */
    int64_t meta_ttl_ms; /* 0 = forever */
    int64_t pub_ttl_ms;
    int64_t deadline_ms; /* next time something of this stream expires (INT64_MAX = never) */
    size_t heap_idx;     /* position in the shard's expiry heap */
    lc__hist_ent_t *ring;
    size_t cap, head, n;
    size_t chlen;
    char channel[]; /* the map key, needed to unlink the stream from the sweep */
} lc__stream_t;

typedef struct lc__shard {
    uv_mutex_t mu;
    lc_map_t streams;  /* channel → lc__stream_t */
    lc_map_t presence; /* channel → lc__presence_t (never empty) */
    lc_map_t maps;     /* map channel → lc__mapch_t (memory_map.c) */
    /* Min-heap of every stream by deadline_ms: the sweep frees what expired without the
     * channel being touched again. */
    lc__stream_t **heap;
    size_t heap_len, heap_cap;
    lc_buf_t scratch; /* push encoding buffer, reused under mu */
} lc__shard_t;

/* A worker's sweep of map key expiries: one timer per worker, each sweeping its share of
 * the shards (memory.c). */
typedef struct lc__msweep {
    uv_timer_t timer;
    lc_engine_t *e;
    int index, n;
    bool on;
} lc__msweep_t;

typedef struct lc__memory {
    lc_engine_t base;
    const lc_config_t *cfg;
    int64_t (*now_ms)(void);
    _Atomic int64_t next_sweep_ms;
    lc__msweep_t *sweeps; /* one per attached worker, freed with the engine */
    int nsweeps;
    lc__shard_t shards[LC__SHARDS];
} lc__memory_t;

/* --- streams (memory_history.c) ----------------------------------------------------------- */

bool lc__history_on(const lc_chan_opts_t *opts);
/* The live stream of ch, NULL when there is none. Drops expired publications and frees the
 * stream when its meta has expired. */
lc__stream_t *lc__stream_find(lc__shard_t *sh, const char *ch, size_t chlen, int64_t now);
/* The live stream of ch, created with a fresh epoch when there is none; its lifetimes are
 * refreshed from opts and its meta lifetime restarts at now. 0, LC_ENOMEM or LC_EIO. */
int lc__stream_open(lc__shard_t *sh, const char *ch, size_t chlen, const lc_chan_opts_t *opts,
                    int64_t now, lc__stream_t **out);
/* Make room for one more publication under history_size. 0 or LC_ENOMEM. */
int lc__stream_reserve(lc__stream_t *s, int history_size);
/* Store pub (the reference is taken over) as offset top + 1; call lc__stream_reserve first. */
void lc__stream_append(lc__shard_t *sh, lc__stream_t *s, lc_rcbuf_t *pub, int history_size,
                       int64_t now);
/* The newest kept publication (offset top), NULL when none is kept. */
lc_rcbuf_t *lc__stream_last(const lc__stream_t *s);
/* Drop every kept publication; epoch and top stay. */
void lc__stream_clear(lc__shard_t *sh, lc__stream_t *s);
/* Free every stream whose deadline has passed or drop its expired publications. */
void lc__shard_sweep_streams(lc__shard_t *sh, int64_t now);
/* Free every stream of the shard (engine teardown). */
void lc__shard_free_streams(lc__shard_t *sh);

/* A new random epoch. 0 or LC_EIO. */
int lc__make_epoch(char out[LC__EPOCH_LEN + 1]);

/* --- map channels (memory_map.c) ---------------------------------------------------------- */

/* The results of a map channel's idempotent writes (memory_map_idem.c): what a repeat of an
 * idempotency_key answers. At most LC__MAP_IDEM_MAX per channel (the oldest goes first). */
#define LC__MAP_IDEM_MAX 1024
/* An idempotent write's result is kept this long when the request names no TTL (Centrifugo's
 * idempotent_result_ttl default). */
#define LC__MAP_IDEM_TTL_MS ((int64_t)5 * 60 * 1000)
typedef struct lc__map_idem_ent lc__map_idem_ent_t;
typedef struct lc__map_idem {
    lc_map_t by_key;                 /* idempotency key → entry */
    lc__map_idem_ent_t *head, *tail; /* oldest first */
} lc__map_idem_t;
void lc__map_idem_init(lc__map_idem_t *c);
void lc__map_idem_free(lc__map_idem_t *c);
/* Forget the results whose TTL has passed (from the oldest on). */
void lc__map_idem_expire(lc__map_idem_t *c, int64_t now);
/* The offset of the live result of key, if any. */
bool lc__map_idem_get(lc__map_idem_t *c, const char *key, size_t len, int64_t now,
                      uint64_t *offset);
/* Remember key's result until expire_ms. 0 or LC_ENOMEM. */
int lc__map_idem_put(lc__map_idem_t *c, const char *key, size_t len, uint64_t offset,
                     int64_t expire_ms);

/* Expire due keys (removals are delivered) and free dead channels of the shard. */
void lc__shard_sweep_maps(lc_engine_t *e, lc__shard_t *sh, int64_t now);
void lc__shard_free_maps(lc__shard_t *sh);
int lc__memory_map_write(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb,
                         void *arg);
int lc__memory_map_read(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg);
int lc__memory_map_clear(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg);

/* --- presence (memory_presence.c) ---------------------------------------------------------- */

typedef struct lc__presence lc__presence_t;
void lc__shard_free_presence(lc__shard_t *sh);

/* --- engine (memory.c) --------------------------------------------------------------------- */

lc__shard_t *lc__shard_of(lc__memory_t *m, const char *ch, size_t chlen);
/* Runs the periodic sweep when it is due; takes the shard locks itself (call unlocked). */
void lc__maybe_sweep(lc__memory_t *m, int64_t now);

/* --- vtable entries, each in the file of its kind (called unlocked) ------------------------ */

int lc__memory_history(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg);
int lc__memory_history_remove(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb,
                              void *arg);
int lc__memory_presence_add(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                            const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg);
int lc__memory_presence_remove(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                               lc_done_cb cb, void *arg);
int lc__memory_presence(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_cb cb, void *arg);
int lc__memory_presence_stats(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_stats_cb cb,
                              void *arg);

#endif
