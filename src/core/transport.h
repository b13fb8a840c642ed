/* The seam between the client session (core) and a byte-level transport (WebSocket, SSE,
 * HTTP-streaming, and their unidirectional forms). A transport embeds an lc_transport_t in its
 * connection object, fills in the vtable, and calls the lc_client_on_* functions of core/client.h.
 * Core never names a concrete transport. */
#ifndef LC_CORE_TRANSPORT_H
#define LC_CORE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/list.h"
#include "util/rcbuf.h"

struct lc_worker;
typedef struct lc_transport lc_transport_t;

/* Framing kinds: a publication is framed once per kind and the frame shared by every
 * subscriber using that kind. */
enum lc_framing {
    LC_FRAMING_WS_TEXT = 0,
    LC_FRAMING_SSE,         /* bidirectional emulation over SSE: `data: <reply>\n\n` per line */
    LC_FRAMING_HTTP_STREAM, /* bidirectional emulation over chunked HTTP: `<reply>\n` per line */
    LC_FRAMING_UNI_WS,      /* unidirectional: bare pushes (the `{"push":…}` wrapper removed) */
    LC_FRAMING_UNI_SSE,
    LC_FRAMING_UNI_HTTP_STREAM,
    LC_FRAMING_WS_PB,          /* Protobuf over WebSocket: varint-delimited Replies, binary */
    LC_FRAMING_HTTP_STREAM_PB, /* Protobuf emulation over chunked HTTP */
    LC_FRAMING_PUSHER_WS,      /* Pusher protocol 7 over WebSocket: one event per text frame */
    LC_FRAMING_MAX
};

typedef struct lc_transport_vt {
    const char *name; /* "websocket" */
    /* Build a shared frame carrying one protocol message (one or more JSON objects joined by
     * '\n'). Must not depend on the connection: the frame is reused for every subscriber of
     * this framing kind. NULL on OOM. */
    lc_rcbuf_t *(*frame)(const char *payload, size_t len);
    /* Queue a frame (the transport takes its own reference) and ask the worker for a flush.
     * 0; LC_ESLOW when the queue would exceed client.queue_max_size (nothing queued; core
     * then disconnects with 3008); LC_ECLOSED when the transport is closing. */
    int (*send)(lc_transport_t *t, lc_rcbuf_t *frame);
    /* Write what is queued: called by the worker once per loop iteration (uv_prepare_t)
     * after lc_worker_want_flush. */
    void (*flush)(lc_transport_t *t);
    /* Disconnect with a protocol code and reason (WebSocket: close frame after the queued
     * data, then the socket is closed; emulation: a disconnect push, then the response ends;
     * unidirectional: a bare disconnect push, then the end). Idempotent. lc_client_on_close follows
     * later, never from inside this call. */
    void (*close)(lc_transport_t *t, uint32_t code, const char *reason);
    /* Send a native ping frame (only used when the transport asked for native pings). */
    void (*ping)(lc_transport_t *t);
} lc_transport_vt_t;

struct lc_transport {
    const lc_transport_vt_t *vt;
    struct lc_worker *worker;
    uint8_t framing;    /* enum lc_framing */
    bool flush_queued;  /* owned by the worker: on its flush list */
    bool flush_delayed; /* owned by the worker: on its delayed flush list (client.write_delay) */
    lc_list_t flush_node;
    uint64_t flush_due; /* loop time (ms) of the delayed flush */
};

#endif
