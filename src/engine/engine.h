/* The engine seam: who owns publications' truth (positions, history, presence — later issues)
 * and delivers every publication to every node. Memory: in-process. Redis (later): PUB/SUB
 * and streams in a real Redis. Core talks to an engine only through this vtable, and the
 * engine talks back only through the sink core gave it. */
#ifndef LC_ENGINE_ENGINE_H
#define LC_ENGINE_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "util/rcbuf.h"

typedef struct lc_engine lc_engine_t;

/* Clients that must not receive a publication (the publisher's own connection, the server
 * API's exclude_client). Ids are client ids (UUID strings). */
typedef struct lc_exclude {
    const char *const *clients;
    size_t n_clients;
} lc_exclude_t;

/* A publication handed to the engine. Everything is borrowed for the duration of the call. */
typedef struct lc_publish_req {
    const char *channel;
    size_t chlen;
    lc_publication_t pub; /* offset is assigned by the engine */
    lc_exclude_t exclude;
    int skip_history;
} lc_publish_req_t;

typedef struct lc_publish_res {
    uint64_t offset; /* 0 when the channel keeps no history */
    char epoch[32];  /* "" when the channel keeps no history */
} lc_publish_res_t;

/* Result callback: runs exactly once when publish returned 0, possibly before publish
 * returns (memory engine); never when publish returned an error. */
typedef void (*lc_publish_cb)(void *arg, int err, const lc_publish_res_t *res);

/* How the engine delivers a publication to this node: `push` is the encoded push message
 * ({"push":{"channel":..,"pub":..}}), encoded once for every subscriber of every worker. The
 * sink takes its own references if it keeps anything. May be called from any thread. */
typedef struct lc_engine_sink {
    void *ctx;
    void (*on_publication)(void *ctx, const char *channel, size_t chlen, lc_rcbuf_t *push,
                           const lc_exclude_t *exclude);
} lc_engine_sink_t;

typedef struct lc_engine_vt {
    const char *name;
    int (*publish)(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg);
    void (*destroy)(lc_engine_t *e);
} lc_engine_vt_t;

struct lc_engine {
    const lc_engine_vt_t *vt;
    lc_engine_sink_t sink; /* set by core before the first publish */
};

static inline int lc_engine_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb,
                                    void *arg)
{
    return e->vt->publish(e, req, cb, arg);
}

#endif
