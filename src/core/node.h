/* The node: the process-wide service that owns the workers and the engine. Everything that is
 * not per connection goes through here: publishing (server API and clients), statistics. */
#ifndef LC_CORE_NODE_H
#define LC_CORE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/worker.h"
#include "engine/engine.h"

typedef struct lc_node lc_node_t;

/* Create the node and its workers (loops created, threads not started). The node takes the
 * engine (destroyed with the node, or right away when creation fails) and becomes its sink. cfg
 * must outlive the node. NULL on failure (logged). */
lc_node_t *lc_node_new(const lc_config_t *cfg, lc_engine_t *engine);
void lc_node_free(lc_node_t *n);

int lc_node_num_workers(const lc_node_t *n);
lc_worker_t *lc_node_worker(lc_node_t *n, int i);
const lc_config_t *lc_node_config(const lc_node_t *n);
const char *lc_node_uid(const lc_node_t *n);

/* Run every worker (worker 0 in the calling thread) until lc_node_stop and the graceful
 * shutdown finish; SIGINT and SIGTERM stop the node. 0 or negative lc_err. */
int lc_node_run(lc_node_t *n);
/* Ask every worker to stop: clients are disconnected with 3001 "shutdown". Thread-safe. */
void lc_node_stop(lc_node_t *n);

/* The engine, for reads that need no session (history, presence). */
lc_engine_t *lc_node_engine(lc_node_t *n);
/* The engine's view of a channel's options (history size and TTLs, with the namespace's
 * history_meta_ttl falling back to channel.history_meta_ttl). */
void lc_node_chan_opts(const lc_node_t *n, const lc_ns_opts_t *o, lc_chan_opts_t *out);
/* The engine's view of a map channel's effective map options (lc_config_map_effective): one
 * place for the server API and the client's map commands. */
void lc_node_map_opts(const lc_ns_map_t *mo, lc_map_opts_t *out);

/* Publish through the engine; see engine.h for the callback contract. Must be called from a
 * worker thread. */
int lc_node_publish(lc_node_t *n, const lc_publish_req_t *req, lc_publish_cb cb, void *arg);

/* A publication from the server API (publish, broadcast, batch): Laravel's sender field
 * (http_api.exclude_client_field) is taken out of the data and its client left out, the Lua
 * broadcast hook may change or refuse it, then the engine publishes. req is copied. cb runs
 * exactly once — possibly before this returns — with 0 and the engine's result, or a reply
 * error code (103 refused by the hook, 100 engine failure, a hook's own code); never when this
 * returns an error. Must be called from a worker thread. */
typedef void (*lc_api_publish_cb)(void *arg, uint32_t code, const lc_publish_res_t *res);
int lc_node_api_publish(lc_node_t *n, const lc_publish_req_t *req, lc_api_publish_cb cb, void *arg);

/* Totals over all workers, readable from any thread. Users and channels are counted per worker,
 * so one user (or channel) present on two workers counts twice. */
typedef struct lc_node_stats {
    uint64_t num_clients;
    uint64_t num_users;
    uint64_t num_channels;
    uint64_t num_subs;
    int64_t uptime_s;
} lc_node_stats_t;
void lc_node_stats(lc_node_t *n, lc_node_stats_t *out);

/* This node as the server API's `info` lists it ({"uid":..,"name":..,...}), NUL-terminated in
 * out; its length, or 0 when it does not fit. Any thread. */
size_t lc_node_info_json(lc_node_t *n, char *out, size_t outlen);

/* Several nodes: control data (opaque here) sent to every other node, and the handler that
 * receives theirs, called in a worker thread. Without an engine that links nodes, sending
 * does nothing and returns 0. */
typedef void (*lc_node_control_fn)(void *arg, const char *data, size_t len);
void lc_node_on_control(lc_node_t *n, lc_node_control_fn fn, void *arg);
int lc_node_send_control(lc_node_t *n, const char *data, size_t len);

#endif
