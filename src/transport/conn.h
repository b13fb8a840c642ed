/* Internal to src/transport: one accepted TCP connection, shared by the HTTP server and the
 * protocol it may upgrade to (WebSocket). It owns the socket, the ordered write queue and the
 * close sequence; the protocol on top is a small table of callbacks.
 *
 * Reading: libuv's alloc_cb hands out the worker-wide read buffer; whatever the protocol does
 * not consume is copied into the tail (allocated only while non-empty).
 * Writing: every byte leaves through `wq`, flushed once per loop iteration by the worker
 * (uv_try_write first, then at most one uv_write in flight, its request allocated only while
 * the socket is full). The queue's ring is released whenever everything has been written.
 * Closing: lc__conn_finish drains the queue, half-closes, and waits (bounded) for the peer's
 * EOF; lc__conn_close tears down at once. The protocol's on_close runs exactly once, inside
 * lc__conn_close, and the object is freed in the uv_close callback. */
#ifndef LC_TRANSPORT_CONN_H
#define LC_TRANSPORT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "core/client.h"
#include "core/transport.h"
#include "core/worker.h"
#include "transport/http.h"
#include "util/buf.h"
#include "util/list.h"
#include "util/wqueue.h"

/* Upper bound of every graceful close (WebSocket close handshake, lingering HTTP close). */
#define LC__CLOSE_TIMEOUT_MS 5000

/* Per-connection deadlines, swept by one timer per worker (no timer per connection): each kind
 * has one delay, so its list is in deadline order by construction. */
enum lc__timeout_kind {
    LC__T_NONE = -1,
    LC__T_HEAD,      /* http_server.read_header_timeout: a request head is incomplete */
    LC__T_BODY,      /* http_server.read_body_timeout: a request body is incomplete */
    LC__T_IDLE,      /* http_server.idle_timeout: keep-alive, between requests */
    LC__T_HANDSHAKE, /* websocket.handshake_timeout: upgraded, no first message yet */
    LC__T_MAX
};

typedef struct lc__conn lc__conn_t;
typedef struct lc__server lc__server_t;

typedef struct lc__conn_proto {
    /* Bytes arrived; returns how many were consumed. The rest is kept in the connection's tail
     * and offered again (with what follows) on the next read or lc__conn_resume. When the
     * protocol changes inside this call (upgrade), the remainder goes to the new protocol. */
    size_t (*on_data)(lc__conn_t *c, const char *p, size_t n);
    /* The connection is going away: release the protocol state. Runs exactly once. */
    void (*on_close)(lc__conn_t *c);
    /* The worker stops: begin a graceful close (or close now). */
    void (*on_stop)(lc__conn_t *c);
    /* A deadline set with lc__conn_timeout passed (NULL: close the connection). */
    void (*on_timeout)(lc__conn_t *c, int kind);
} lc__conn_proto_t;

enum {
    LC__CONN_WRITING = 1 << 0,   /* a uv_write is in flight (its request owns itself) */
    LC__CONN_CLOSED = 1 << 1,    /* uv_close called; only the close callback remains */
    LC__CONN_FINISHING = 1 << 2, /* no more output: drain, half-close, wait for EOF */
    LC__CONN_SHUT = 1 << 3,      /* uv_shutdown issued */
    LC__CONN_PAUSED = 1 << 4,    /* reading stopped: too much unconsumed input */
    LC__CONN_IN_DATA = 1 << 5,   /* inside proto->on_data */
    LC__CONN_FAILED = 1 << 6,    /* close at the next flush (error seen inside a vt call) */
    LC__CONN_EOF = 1 << 7,       /* the peer sent FIN: close once the queue is written */
    LC__CONN_OUTFULL = 1 << 8,   /* reading stopped: too much output queued (peer not reading) */
    LC__CONN_SESSION = 1 << 9,   /* counted as a real-time connection (client.connection_limit) */
    LC__CONN_DELAYED = 1 << 10,  /* client.write_delay: queued frames wait for a delayed flush */
};

/* What only a connection with unconsumed input, a pending deadline (HTTP timeouts, the
 * WebSocket handshake) or a close in progress needs: an established WebSocket connection lives
 * without it, so it is allocated on demand and freed once empty. */
typedef struct lc__conn_aux {
    lc_buf_t tail;        /* unconsumed input */
    uv_timer_t *deadline; /* the close deadline, while closing */
    lc__conn_t *conn;     /* back pointer from the server's deadline lists */
    lc_list_t tnode;      /* in srv->timed[tkind] while a deadline is set */
    int64_t due;          /* loop time (ms) of that deadline */
    int8_t tkind;         /* enum lc__timeout_kind, LC__T_NONE when none */
} lc__conn_aux_t;

struct lc__conn {
    uv_tcp_t tcp;
    lc_transport_t t; /* flush target for every connection; the session seam once upgraded */
    lc__server_t *srv;
    const lc__conn_proto_t *proto;
    void *pdata;    /* protocol state */
    lc_list_t node; /* in srv->conns */
    lc_wqueue_t wq;
    lc__conn_aux_t *aux; /* NULL with no tail and no deadline */
    struct lc__tls *tls; /* NULL for plain TCP */
    unsigned flags;
};

/* One per worker: its listener and its connections. The listening socket is polled directly
 * (accept4 here, not uv_listen) so that accepting can pause at the descriptor limit and resume
 * later without losing the kernel's backlog. */
struct lc__server {
    uv_poll_t poll;
    int fd;
    lc_worker_t *w;
    const lc_router_t *router;
    lc_list_t conns;
    uv_timer_t timer; /* the sweep of srv->timed and the accept retry while paused */
    int64_t timer_due;
    lc_list_t timed[LC__T_MAX];
    void *tls_ctx; /* SSL_CTX when http_server.tls is on, shared by the workers */
    int open_handles;
    bool paused; /* accepting stopped: descriptor limit or connection cap */
    bool stopping;
    bool held;         /* lc_worker_hold while connections outlive the stop */
    bool timer_closed; /* closed once stopping and the last connection is gone */
};

static inline lc__conn_t *lc__conn_of(lc_transport_t *t)
{
    return lc_container_of(t, lc__conn_t, t);
}

/* Start a connection on an accepted socket (non-blocking): HTTP, or when `refuse` a fixed 503
 * answer (the connection cap is reached). */
void lc__conn_start(lc__server_t *srv, int fd, bool refuse);
/* Listener side (listen.c): a connection of srv is gone; frees a stopped server at the end. */
void lc__server_conn_gone(lc__server_t *srv);
/* The sweep (listen.c): arm srv's timer for `due` (loop ms) unless it fires earlier already. */
void lc__server_arm(lc__server_t *srv, int64_t due);
/* The configured delay of a deadline kind, 0 = off. */
int64_t lc__timeout_delay(const lc_config_t *cfg, int kind);

/* Set (or with LC__T_NONE clear) the connection's deadline of a kind; the delay comes from the
 * config (0 = that check is off). Replaces any deadline already set. */
void lc__conn_timeout(lc__conn_t *c, int kind);
/* The kind of the deadline set, LC__T_NONE when none. */
static inline int lc__conn_tkind(const lc__conn_t *c)
{
    return c->aux != NULL ? c->aux->tkind : LC__T_NONE;
}
/* Whether the output queued for c exceeds http_server.max_output_buffer: protocols stop
 * consuming input until it drains (the connection resumes them). */
bool lc__conn_out_full(const lc__conn_t *c);
/* client.connection_limit: count c as a real-time connection, or false (nothing counted) when
 * the node is at the limit. The count is released when c closes. */
bool lc__conn_session_admit(lc__conn_t *c);

/* Queue bytes (the connection takes its own reference) and ask for a flush. limit 0 =
 * unbounded. 0, LC_ESLOW (nothing queued), LC_ENOMEM, or LC_ECLOSED when no more output is
 * accepted (closed or finishing). */
int lc__conn_write(lc__conn_t *c, lc_rcbuf_t *b, size_t limit);
/* Same with a private copy of p[0..n). */
int lc__conn_write_copy(lc__conn_t *c, const void *p, size_t n);
/* Write what is queued (the worker's per-iteration flush). May close the connection. */
void lc__conn_flush(lc__conn_t *c);

/* Offer the kept input to the protocol again and restart reading if it was stopped (after
 * an HTTP response to a request answered asynchronously). No-op inside on_data. */
void lc__conn_resume(lc__conn_t *c);

/* Start the close deadline (LC__CLOSE_TIMEOUT_MS) unless one is running. */
void lc__conn_set_deadline(lc__conn_t *c);
/* Graceful close: write what is queued, half-close, discard input until the peer's EOF or
 * the deadline. Never closes synchronously. */
void lc__conn_finish(lc__conn_t *c);
/* Close at the next flush: for errors seen where the caller must not see on_close run. */
void lc__conn_fail(lc__conn_t *c);
/* Close now (runs proto->on_close). Idempotent. */
void lc__conn_close(lc__conn_t *c);

/* HTTP side (http.c). */
extern const lc__conn_proto_t lc__http_proto;
extern const lc_transport_vt_t lc__http_vt;
/* Hand the connection over to another protocol after queuing `head` (e.g. the 101 response).
 * Releases the request and the HTTP parser; input after the request goes to proto. Returns
 * the connection (req is invalid afterwards), or NULL on OOM (then the connection is closing
 * and req was released). */
lc__conn_t *lc__http_upgrade(lc_http_req_t *req, const char *head, size_t len,
                             const lc__conn_proto_t *proto, void *pdata);

/* A streaming response (SSE, HTTP-streaming): queue a 200 head with content_type, chunked
 * transfer encoding and extra_headers ("Name: value\r\n"..., may be NULL), then hand the
 * connection to proto as lc__http_upgrade does; the body that follows is written by proto in
 * chunks. HTTP/1.0 requests are answered 505 (no chunked encoding). NULL when the request was
 * answered instead or on OOM (the connection is then closing); req is invalid either way. */
lc__conn_t *lc__http_stream_start(lc_http_req_t *req, const char *content_type,
                                  const char *extra_headers, const lc__conn_proto_t *proto,
                                  void *pdata);
/* Whether a request's Origin passes client.allowed_origins (spec §1.1): no Origin always
 * passes; patterns may use '*'. */
bool lc__http_origin_allowed(const lc_config_t *cfg, const char *origin);
/* The request's headers in one block (one allocation, free() it) for lc_client_opts_t: the
 * session keeps copies of the few a proxy forwards. NULL when there are none (or no memory:
 * then nothing is forwarded). */
lc_client_header_t *lc__http_copy_headers(const lc_http_req_t *req, size_t *n);

/* WebSocket side (ws.c). The bidirectional endpoint and uni_websocket share the handshake and
 * the wslay session; a kind says what differs. */
typedef struct lc__ws_kind {
    const lc_transport_vt_t *vt; /* send, flush and ping may be the lc__ws_* below */
    uint8_t framing;             /* enum lc_framing */
    int mode;                    /* enum lc_client_mode */
    bool native_ping; /* always ping with frames (else only with ?cf_ws_frame_ping_pong=true) */
    /* When set, the first message goes here instead of lc_client_on_message and later ones are
     * dropped (unidirectional: the connect request). Runs where lc_client_on_message would. */
    void (*on_first)(lc_transport_t *t, lc_client_t *c, const char *p, size_t n);
    /* The session speaks first and checks the origin itself (Pusher: connection_established,
     * the app's allowed origins): no handshake timeout, no client.allowed_origins refusal. */
    bool server_first;
} lc__ws_kind_t;

/* Check req's WebSocket handshake (refusals are answered 4xx), switch the connection to a
 * wslay session of kind and create its client. max_msg: incoming message size limit (0 =
 * none). first[0..first_len) (NULL = none): a first message already known from the request,
 * handed to kind->on_first as soon as the client exists. */
void lc__ws_accept(lc_http_req_t *req, const lc__ws_kind_t *kind, int64_t max_msg,
                   const char *first, size_t first_len);
/* The same with the Pusher fields of the session's options (lc_client_opts_t) taken from
 * extra (NULL = none). */
void lc__ws_accept_opts(lc_http_req_t *req, const lc__ws_kind_t *kind, int64_t max_msg,
                        const char *first, size_t first_len, const lc_client_opts_t *extra);
/* Whether origin matches one of patterns ('*' = any run of characters, case-insensitive); an
 * absent origin (not a browser) always does. */
bool lc__origin_match_any(char *const *patterns, size_t n, const char *origin);
/* A WebSocket transport's vtable: every kind sends, flushes and pings through the same wslay
 * session, only its name, framing and close differ. */
#define LC__WS_VT(name_, frame_, close_)                                                           \
    {                                                                                              \
        .name = (name_), .frame = (frame_), .send = lc__ws_send, .flush = lc__ws_flush,            \
        .close = (close_), .ping = lc__ws_ping,                                                    \
    }
int lc__ws_send(lc_transport_t *t, lc_rcbuf_t *frame);
void lc__ws_flush(lc_transport_t *t);
void lc__ws_ping(lc_transport_t *t);
/* vt->close of a WebSocket: `last` (NULL = none), queued regardless of the write-queue bound,
 * then the close frame. Idempotent. */
void lc__ws_close(lc_transport_t *t, uint32_t code, const char *reason, lc_rcbuf_t *last);
/* Header of an unmasked, final text frame carrying len bytes (2, 4 or 10 bytes); returns its
 * length. */
size_t lc__ws_text_header(uint8_t hdr[10], size_t len);
/* payload[0..len) as one unmasked text frame (the JSON endpoint's and Pusher's framing); NULL
 * when out of memory. */
lc_rcbuf_t *lc__ws_text_frame(const char *payload, size_t len);
/* For tests: whether the WebSocket connection behind t holds a wslay session right now (it
 * exists only while a frame, a fragmented message or a close is in progress). */
bool lc__ws_has_session(lc_transport_t *t);

/* Router lookup (router.c): exact routes first, then the longest prefix. false when none. */
bool lc__router_find(const lc_router_t *r, const char *path, lc_http_handler_fn *fn,
                     lc_http_check_fn *check, void **arg);

#endif
