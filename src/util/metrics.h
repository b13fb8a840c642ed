/* Process metrics for /metrics. Counters are per thread: each worker attaches its own block
 * (lc_metrics_attach) and bumps it with a relaxed load and store, so the fast path takes no
 * lock and no locked instruction; a scrape sums the blocks (lc_metrics_sum). Threads that never
 * attached share one block updated with atomic adds. Values only grow, except the gauges
 * (connections, subscriptions, write-queue bytes) whose per-thread parts may be negative and
 * add up. */
#ifndef LC_UTIL_METRICS_H
#define LC_UTIL_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LC_M_TRANSPORTS 9 /* >= LC_FRAMING_MAX: indexed by a transport's framing kind */
#define LC_M_BUCKETS 13   /* latency histogram buckets, see lc_metrics_bucket_bounds */
#define LC_M_DISCONNECT_SLOTS 202
#define LC_M_API_METHODS 16

/* What a decision was about, which step took it, and how it came out. */
enum lc_m_kind {
    LC_M_CONNECT,
    LC_M_REFRESH,
    LC_M_SUBSCRIBE,
    LC_M_SUB_REFRESH,
    LC_M_PUBLISH,
    LC_M_RPC,
    LC_M_KINDS
};
enum lc_m_step { LC_M_TOKEN, LC_M_LUA, LC_M_PROXY, LC_M_RULES, LC_M_STEPS };
enum lc_m_result { LC_M_ALLOWED, LC_M_REFUSED, LC_M_FAILED, LC_M_RESULTS };

typedef atomic_uint_fast64_t lc_mctr_t;
typedef atomic_int_fast64_t lc_mgauge_t;

typedef struct lc_metrics_hist {
    lc_mctr_t le[LC_M_BUCKETS + 1]; /* per bucket (not cumulative); the last is +Inf */
    lc_mctr_t sum_ns;
} lc_metrics_hist_t;

typedef struct lc_metrics_block {
    lc_mgauge_t conns[LC_M_TRANSPORTS];
    lc_mctr_t accepted[LC_M_TRANSPORTS];
    lc_mgauge_t subs[LC_M_TRANSPORTS];
    lc_mctr_t pubs_in;
    lc_mctr_t pubs_out[LC_M_TRANSPORTS];
    lc_mctr_t pubs_dropped;
    lc_mctr_t api[LC_M_API_METHODS][2]; /* [method][0 ok, 1 error] */
    lc_mctr_t decisions[LC_M_KINDS][LC_M_STEPS][LC_M_RESULTS];
    lc_metrics_hist_t decision_latency[LC_M_KINDS][LC_M_STEPS];
    lc_mgauge_t wq_bytes;
    lc_mctr_t disconnects[LC_M_DISCONNECT_SLOTS];
    lc_metrics_hist_t engine_latency;
    lc_mctr_t engine_errors;
} lc_metrics_block_t;

extern _Thread_local lc_metrics_block_t *lc__m_own;
extern lc_metrics_block_t lc__m_shared;

/* Give the calling thread its own block (one per worker index, kept for the process's life). */
void lc_metrics_attach(int worker_index);
void lc_metrics_detach(void);

static inline void lc__m_add(lc_mctr_t *c, uint64_t n)
{
    if (lc__m_own)
        atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline void lc__m_gauge(lc_mgauge_t *g, int64_t d)
{
    if (lc__m_own)
        atomic_store_explicit(g, atomic_load_explicit(g, memory_order_relaxed) + d,
                              memory_order_relaxed);
    else
        atomic_fetch_add_explicit(g, d, memory_order_relaxed);
}

/* The calling thread's block. */
#define LC_M() (lc__m_own ? lc__m_own : &lc__m_shared)

static inline unsigned lc__m_t(unsigned transport)
{
    return transport < LC_M_TRANSPORTS ? transport : LC_M_TRANSPORTS - 1;
}

/* A connection of a transport (framing kind) opened (+1) or closed (-1). */
static inline void lc_metrics_conn(unsigned transport, int d)
{
    lc_metrics_block_t *b = LC_M();
    lc__m_gauge(&b->conns[lc__m_t(transport)], d);
    if (d > 0)
        lc__m_add(&b->accepted[lc__m_t(transport)], 1);
}

static inline void lc_metrics_sub(unsigned transport, int d)
{
    lc__m_gauge(&LC_M()->subs[lc__m_t(transport)], d);
}

static inline void lc_metrics_pub_in(void)
{
    lc__m_add(&LC_M()->pubs_in, 1);
}

static inline void lc_metrics_pub_out(unsigned transport)
{
    lc__m_add(&LC_M()->pubs_out[lc__m_t(transport)], 1);
}

static inline void lc_metrics_pub_dropped(void)
{
    lc__m_add(&LC_M()->pubs_dropped, 1);
}

static inline void lc_metrics_wq_bytes(int64_t d)
{
    lc__m_gauge(&LC_M()->wq_bytes, d);
}

void lc_metrics_disconnect(uint32_t code);
/* An API method call answered (method by name; unknown names count as "other"). */
void lc_metrics_api(const char *method, bool ok);
/* A decision taken by a step, with how long it took. */
void lc_metrics_decision(int kind, int step, int result, uint64_t ns);
/* One engine call and how long it took. */
void lc_metrics_engine(uint64_t ns, bool ok);
/* Engine name and state for lucent_engine_up (the engine's owner sets it). */
void lc_metrics_set_engine(const char *name, bool up);
/* The engine's connection came up or went down (Redis). */
void lc_metrics_engine_up(bool up);

/* ---- reading ---- */

typedef struct lc_metrics_sum {
    int64_t conns[LC_M_TRANSPORTS];
    uint64_t accepted[LC_M_TRANSPORTS];
    int64_t subs[LC_M_TRANSPORTS];
    uint64_t pubs_in, pubs_out[LC_M_TRANSPORTS], pubs_dropped;
    uint64_t api[LC_M_API_METHODS][2];
    uint64_t decisions[LC_M_KINDS][LC_M_STEPS][LC_M_RESULTS];
    uint64_t decision_latency[LC_M_KINDS][LC_M_STEPS][LC_M_BUCKETS + 2]; /* + sum_ns */
    int64_t wq_bytes;
    uint64_t disconnects[LC_M_DISCONNECT_SLOTS];
    uint64_t engine_latency[LC_M_BUCKETS + 2];
    uint64_t engine_errors;
} lc_metrics_sum_t;

void lc_metrics_sum(lc_metrics_sum_t *out);
/* Upper bounds of the histogram buckets in seconds (LC_M_BUCKETS of them). */
const double *lc_metrics_bucket_bounds(void);
const char *lc_metrics_api_method(int i); /* NULL past the end */
/* The code a disconnect slot stands for: a number, "4xxx" (application codes) or "other". */
void lc_metrics_disconnect_code(int slot, char *out, size_t outlen);
const char *lc_metrics_engine_name(bool *up);

#endif
