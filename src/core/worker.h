/* A worker: one libuv loop in its own thread owning its connections, its part of the hub and
 * its timers. Publications reach every worker through its inbox (uv_async_t). */
#ifndef LC_CORE_WORKER_H
#define LC_CORE_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "config/config.h"
#include "core/transport.h"

typedef struct lc_worker lc_worker_t;
struct lc_node;

uv_loop_t *lc_worker_loop(lc_worker_t *w);
int lc_worker_index(const lc_worker_t *w);
struct lc_node *lc_worker_node(lc_worker_t *w);
const lc_config_t *lc_worker_config(const lc_worker_t *w);

/* The worker-wide read buffer for alloc_cb: no connection holds a read buffer while idle.
 * Whatever read_cb does not consume must be copied before it returns. */
void lc_worker_read_buf(lc_worker_t *w, uv_buf_t *buf);

/* Ask for t->vt->flush(t) once before the loop next waits for I/O (coalesces all writes of
 * one iteration into one writev per connection). Idempotent while pending. */
void lc_worker_want_flush(lc_worker_t *w, lc_transport_t *t);
/* The same after client.write_delay (at once when it is 0): what t queues meanwhile goes out
 * in the same writev. One worker timer serves every delayed transport, in order of request,
 * so a delivery costs no timer operation. A pending immediate flush wins. */
void lc_worker_want_flush_delayed(lc_worker_t *w, lc_transport_t *t);
/* Take t off the flush lists (the transport is being freed). */
void lc_worker_cancel_flush(lc_worker_t *w, lc_transport_t *t);

/* Register a function called in the worker's thread when the node stops (graceful shutdown):
 * close listeners and connections so that the loop ends. At most 8 per worker. */
typedef void (*lc_worker_stop_fn)(lc_worker_t *w, void *arg);
int lc_worker_on_stop(lc_worker_t *w, lc_worker_stop_fn fn, void *arg);
/* While held, a stopping worker keeps its flush and timer handles after its last session:
 * a transport holds it for connections that still finish a request. Worker thread. */
void lc_worker_hold(lc_worker_t *w);
void lc_worker_release(lc_worker_t *w);
/* Whether the node asked this worker to stop (shutting down). Any thread. */
bool lc_worker_stopping(const lc_worker_t *w);

#endif
