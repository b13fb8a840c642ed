/* Shared between the files of shared poll's node side (spoll_node.c, spoll_answer.c). */
#ifndef LC_CORE_SPOLL_INTERNAL_H
#define LC_CORE_SPOLL_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/spoll.h"
#include "hooks/proxy_spoll.h"
#include "hooks/script.h"
#include "util/map.h"
#include "util/rcbuf.h"

#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_BATCH 1000
#define DEFAULT_SHUTDOWN_MS 1000
#define DEFAULT_ABSENCES 2
#define DEFAULT_CONCURRENCY 64

typedef struct sp_item {
    uint32_t refs;      /* trackers on this node, every worker */
    int64_t idle_since; /* mono ms since refs is 0: kept channel_shutdown_delay for returning
                           trackers (a reconnect keeps its versions), not polled */
    uint64_t version;   /* current version, 0 = no data yet */
    uint64_t hash;      /* versionless: the current data's hash */
    int absences;       /* versionless: cycles in a row the backend left it out */
    bool fresh;         /* versioned: a direct publish brought its data since the last timed
                           cycle, which skips it once (the backend would only repeat it) */
    lc_rcbuf_t *pub;    /* the current Publication (for track replies), NULL before data */
} sp_item_t;

typedef struct sp_call sp_call_t;

typedef struct sp_chan {
    lc_spoll_t *reg;
    char *name;
    size_t len;
    lc_spoll_ns_t opts; /* copied (proxy_name borrowed from the config) */
    const lc_proxy_conf_t *proxy;
    lc_map_t items; /* key → sp_item_t */
    int owner;      /* the worker running the cycle */
    lc_worker_t *ow;
    uv_timer_t timer;
    int64_t empty_since; /* mono ms since which no item is tracked, 0 = some are */
    int inflight;        /* refresh calls out (cycle or cold) */
    bool cold_posted;    /* an early poll for cold keys is queued to the owner */
    bool removed;        /* out of the registry: the timer's close frees it */
    char *epoch;         /* versioned: the backend's epoch, "" before one came */
    sp_call_t *calls;    /* calls out, for cancelling at stop (owner thread) */
} sp_chan_t;

struct sp_call {
    sp_call_t *next, **prev;
    sp_chan_t *ch;
    lc_spoll_call_t *http;
    lc_lua_call_t *lua;
    bool cycle;  /* a timed cycle: absences count */
    char **keys; /* the keys asked about */
    size_t nkeys;
    char *result; /* the answer's raw result while the Lua hook runs */
};

struct lc_spoll {
    lc_node_t *node;
    uv_mutex_t mu;
    lc_map_t chans;   /* name → sp_chan_t */
    char epoch[17];   /* versionless epoch of this node's lifetime */
    uint64_t counter; /* synthetic versions (under mu) */
    atomic_int calls; /* refresh calls out on the node (concurrency_limit) */
    bool inited;      /* mu and chans are initialised */
    int nworkers;
    lc__spoll_wstate_t **w;
};

static inline int64_t interval_ms(const sp_chan_t *c)
{
    return c->opts.refresh_interval_ms > 0 ? c->opts.refresh_interval_ms : DEFAULT_INTERVAL_MS;
}

static inline bool versioned(const lc_spoll_ns_t *o)
{
    return o->mode == LC_SPOLL_VERSIONED;
}

void lc__spoll_item_free(sp_item_t *it);

/* What the workers learn from one answer (lc__spoll_worker_deliver in each). */
typedef struct lc__spoll_fanout {
    lc_spoll_t *reg;
    char *ch;
    size_t len;
    lc__spoll_delivery_t *d;
    size_t n;
    int64_t extra_ms; /* < 0: the workers do not look for expired trackers this time (a direct
                         publish: the cycles do it) */
    bool reset;
} lc__spoll_fanout_t;

lc__spoll_fanout_t *lc__spoll_fanout_new(const sp_chan_t *c);
/* Apply one answer to the channel's items (under the registry lock): versions, the current
 * publications, removals; what changed is added to f. */
void lc__spoll_apply_answer(sp_chan_t *c, const sp_call_t *k, const lc_spoll_reply_t *r,
                            lc__spoll_fanout_t *f);
/* A versioned channel meets epoch (non-empty) from its backend or a direct publish: adopted;
 * when it replaces another one, every item's version and data are wiped and f->reset set (the
 * subscribers start afresh). Under the registry lock. */
void lc__spoll_set_epoch(sp_chan_t *c, const char *epoch, lc__spoll_fanout_t *f);
/* A Publication {"data":..,"key":..,"version":N}, or {"key":..,"removed":true} (data NULL). */
lc_rcbuf_t *lc__spoll_make_pub(const char *key, size_t klen, const char *data, size_t dlen,
                               uint64_t version, bool removed);
/* Add to f the push of pub (a Publication) for the trackers of key. 0 or LC_ENOMEM. */
int lc__spoll_add_delivery(lc__spoll_fanout_t *f, size_t *cap, const char *key, size_t klen,
                           uint64_t version, bool removed, const lc_rcbuf_t *pub);
/* Hand f to every worker (frees it afterwards); lc__spoll_fanout_free for one not sent.
 * fan_out (the owner's thread) sets the expiry sweep from the channel's options; fanout_send
 * sends f as it is, needing nothing of the channel (which another thread may free). */
void lc__spoll_fan_out(sp_chan_t *c, lc__spoll_fanout_t *f);
void lc__spoll_fanout_send(lc__spoll_fanout_t *f);
void lc__spoll_fanout_free(lc__spoll_fanout_t *f);
/* The answer's result object as JSON text (the Lua hook's ctx.data), NUL-terminated. */
char *lc__spoll_result_json(const lc_spoll_reply_t *r);

#endif
