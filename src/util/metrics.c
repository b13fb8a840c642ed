/* Per-thread metric blocks and their sum; see metrics.h. */
#include "util/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define MAX_BLOCKS 1025 /* workers are at most 1024 (config "workers") */

_Thread_local lc_metrics_block_t *lc__m_own;
lc_metrics_block_t lc__m_shared;

static lc_metrics_block_t *_Atomic blocks[MAX_BLOCKS];
static uv_once_t once = UV_ONCE_INIT;
static uv_mutex_t mu; /* attaching only; never taken on the counting path */

static const char *engine_name = "memory";
static atomic_bool engine_up = true;

static void init_mutex(void)
{
    uv_mutex_init(&mu);
}

void lc_metrics_attach(int worker_index)
{
    if (worker_index < 0 || worker_index >= MAX_BLOCKS) {
        lc__m_own = NULL;
        return;
    }
    uv_once(&once, init_mutex);
    uv_mutex_lock(&mu);
    lc_metrics_block_t *b = atomic_load(&blocks[worker_index]);
    if (!b) {
        /* kept for the process's life: a later node with the same index continues it */
        b = calloc(1, sizeof(*b));
        atomic_store(&blocks[worker_index], b);
    }
    uv_mutex_unlock(&mu);
    lc__m_own = b;
}

void lc_metrics_detach(void)
{
    lc__m_own = NULL;
}

static const double bounds[LC_M_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5};

const double *lc_metrics_bucket_bounds(void)
{
    return bounds;
}

static void observe(lc_metrics_hist_t *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    int i = 0;
    while (i < LC_M_BUCKETS && s > bounds[i])
        i++;
    lc__m_add(&h->le[i], 1);
    lc__m_add(&h->sum_ns, ns);
}

/* Codes 3000-3099 and 3500-3599 each have a slot; application codes share one. */
void lc_metrics_disconnect(uint32_t code)
{
    int slot = code >= 3000 && code < 3100   ? (int)(code - 3000)
               : code >= 3500 && code < 3600 ? 100 + (int)(code - 3500)
               : code >= 4000 && code < 5000 ? 200
                                             : 201;
    lc__m_add(&LC_M()->disconnects[slot], 1);
}

void lc_metrics_disconnect_code(int slot, char *out, size_t outlen)
{
    if (slot < 100)
        snprintf(out, outlen, "%d", 3000 + slot);
    else if (slot < 200)
        snprintf(out, outlen, "%d", 3500 + slot - 100);
    else
        snprintf(out, outlen, "%s", slot == 200 ? "4xxx" : "other");
}

static const char *const api_methods[] = {
    "publish",  "broadcast",      "subscribe", "unsubscribe",    "disconnect", "refresh",
    "presence", "presence_stats", "history",   "history_remove", "channels",   "info",
    "rpc",      "batch",          "other",
};
#define N_API (sizeof(api_methods) / sizeof(api_methods[0]))
_Static_assert(N_API <= LC_M_API_METHODS, "too many API methods for the metric block");

const char *lc_metrics_api_method(int i)
{
    return i >= 0 && (size_t)i < N_API ? api_methods[i] : NULL;
}

void lc_metrics_api(const char *method, bool ok)
{
    size_t i = 0;
    while (i < N_API - 1 && (!method || strcmp(method, api_methods[i]) != 0))
        i++;
    lc__m_add(&LC_M()->api[i][ok ? 0 : 1], 1);
}

void lc_metrics_decision(int kind, int step, int result, uint64_t ns)
{
    if (kind < 0 || kind >= LC_M_KINDS || step < 0 || step >= LC_M_STEPS || result < 0 ||
        result >= LC_M_RESULTS)
        return;
    lc_metrics_block_t *b = LC_M();
    lc__m_add(&b->decisions[kind][step][result], 1);
    observe(&b->decision_latency[kind][step], ns);
}

void lc_metrics_engine(uint64_t ns, bool ok)
{
    lc_metrics_block_t *b = LC_M();
    observe(&b->engine_latency, ns);
    if (!ok)
        lc__m_add(&b->engine_errors, 1);
}

void lc_metrics_set_engine(const char *name, bool up)
{
    engine_name = name;
    atomic_store(&engine_up, up);
}

void lc_metrics_engine_up(bool up)
{
    atomic_store(&engine_up, up);
}

const char *lc_metrics_engine_name(bool *up)
{
    *up = atomic_load(&engine_up);
    return engine_name;
}

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

static void hist_add(uint64_t *out, const lc_metrics_hist_t *h)
{
    for (int i = 0; i <= LC_M_BUCKETS; i++)
        out[i] += LD(h->le[i]);
    out[LC_M_BUCKETS + 1] += LD(h->sum_ns);
}

static void add_block(lc_metrics_sum_t *s, const lc_metrics_block_t *b)
{
    for (int t = 0; t < LC_M_TRANSPORTS; t++) {
        s->conns[t] += LD(b->conns[t]);
        s->accepted[t] += LD(b->accepted[t]);
        s->subs[t] += LD(b->subs[t]);
        s->pubs_out[t] += LD(b->pubs_out[t]);
    }
    s->pubs_in += LD(b->pubs_in);
    s->pubs_dropped += LD(b->pubs_dropped);
    for (int m = 0; m < LC_M_API_METHODS; m++) {
        s->api[m][0] += LD(b->api[m][0]);
        s->api[m][1] += LD(b->api[m][1]);
    }
    for (int k = 0; k < LC_M_KINDS; k++)
        for (int st = 0; st < LC_M_STEPS; st++) {
            for (int r = 0; r < LC_M_RESULTS; r++)
                s->decisions[k][st][r] += LD(b->decisions[k][st][r]);
            hist_add(s->decision_latency[k][st], &b->decision_latency[k][st]);
        }
    s->wq_bytes += LD(b->wq_bytes);
    for (int d = 0; d < LC_M_DISCONNECT_SLOTS; d++)
        s->disconnects[d] += LD(b->disconnects[d]);
    hist_add(s->engine_latency, &b->engine_latency);
    s->engine_errors += LD(b->engine_errors);
}

void lc_metrics_sum(lc_metrics_sum_t *out)
{
    memset(out, 0, sizeof(*out));
    add_block(out, &lc__m_shared);
    for (int i = 0; i < MAX_BLOCKS; i++) {
        const lc_metrics_block_t *b = atomic_load(&blocks[i]);
        if (b)
            add_block(out, b);
    }
}
