/* The client session: one per connection, whatever the transport. A small state machine
 * (connecting → connected → closing) that decodes commands, decides, answers and holds the
 * connection's subscriptions. Transports drive it through these calls; everything runs in the
 * worker's thread. */
#ifndef LC_CORE_CLIENT_H
#define LC_CORE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/transport.h"

typedef struct lc_client lc_client_t;

typedef struct lc_client_header {
    const char *name;
    const char *value;
} lc_client_header_t;

/* How a transport carries the protocol (spec §8). */
enum lc_client_mode {
    LC_CLIENT_BIDI = 0,  /* WebSocket: commands in, replies and pushes out */
    LC_CLIENT_EMULATION, /* SSE / HTTP-stream: replies and pushes on the stream, later commands
                            through POST /emulation; the connect result carries session, node */
    LC_CLIENT_UNI,       /* unidirectional: one connect request in (the transport hands it over
                            as `{"id":1,"connect":<ConnectRequest>}`), then only pushes: the
                            connect result as a `connect` push, connect errors as disconnects,
                            pings without pongs, subscriptions only server-side (and the
                            request's `subs` where a client-side subscribe would be allowed) */
    LC_CLIENT_PUSHER,    /* Pusher protocol 7 (proto/pusher.h): the session speaks first
                            (connection_established), one event per message both ways */
};

struct lc_pusher_app;

typedef struct lc_client_opts {
    enum lc_client_mode mode;
    bool native_ping; /* transport pings with its own frames (?cf_ws_frame_ping_pong=true) */
    /* Commands come in the Protobuf form (proto/pb.h); replies and pushes still leave the
     * session in the JSON form and the transport's frame() converts them. */
    bool protobuf;
    /* The headers of the connection's HTTP request: the session keeps copies of those a proxy
     * forwards (the proxies' http_headers allow-lists), nothing else. Borrowed for the call. */
    const lc_client_header_t *headers;
    size_t n_headers;
    /* LC_CLIENT_PUSHER: the app of the connection's /app/{key} (NULL: no such app), and a
     * Pusher code the connection is refused with at once (0 = none: origin, protocol). */
    const struct lc_pusher_app *pusher_app;
    uint32_t pusher_refuse;
} lc_client_opts_t;

/* Whether sessions of this worker keep any request header (some proxy forwards headers):
 * when not, transports need not hand them over. */
bool lc_client_keeps_headers(struct lc_worker *w);

/* A new session on transport t (t->vt and t->worker set). NULL on OOM. */
lc_client_t *lc_client_new(lc_transport_t *t, const lc_client_opts_t *opts);
/* One complete incoming protocol message (all the '\n'-separated commands of one frame). May
 * call t->vt->send and t->vt->close before returning. */
void lc_client_on_message(lc_client_t *c, const char *data, size_t len);
/* A native pong frame arrived. */
void lc_client_on_pong(lc_client_t *c);
/* The session id of an emulation or unidirectional session ("" otherwise). */
const char *lc_client_session(const lc_client_t *c);

/* The transport is gone. Core drops the session's subscriptions and frees it; the transport
 * must not call the client again and core never touches t afterwards. */
void lc_client_on_close(lc_client_t *c);

#endif
