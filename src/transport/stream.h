/* Internal to src/transport: the transports that answer with one long HTTP response (spec §8:
 * SSE and HTTP-streaming, as bidirectional emulation and as unidirectional transports). The
 * response is chunked; every frame is one chunk built once per publication; a disconnect push
 * and the last chunk end it. Also the pieces every connection endpoint shares: CORS, the body
 * limits, and the unidirectional push framing uni_websocket uses too. */
#ifndef LC_TRANSPORT_STREAM_H
#define LC_TRANSPORT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/transport.h"
#include "transport/http.h"
#include "util/buf.h"

/* What differs between the streaming transports. */
typedef struct lc__stream_kind {
    const lc_transport_vt_t *vt;
    uint8_t framing;          /* enum lc_framing */
    int mode;                 /* enum lc_client_mode */
    const char *content_type; /* of the response */
    const char *preamble;     /* first chunk of the body, NULL = none */
    bool protobuf;            /* the Protobuf protocol (varint-delimited messages) */
} lc__stream_kind_t;

extern const lc__stream_kind_t lc__stream_sse;             /* emulation over SSE */
extern const lc__stream_kind_t lc__stream_http;            /* emulation over HTTP-streaming */
extern const lc__stream_kind_t lc__stream_http_pb;         /* the same, Protobuf */
extern const lc__stream_kind_t lc__stream_uni_sse;         /* uni_sse */
extern const lc__stream_kind_t lc__stream_uni_http_stream; /* uni_http_stream */

/* Start the stream on req: the 200 head with extra_headers (may be NULL), then a client of
 * kind->mode whose first message is msg[0..len) (may point into req). Errors are answered
 * (500, or 505 for HTTP/1.0); req is invalid afterwards either way. */
void lc__stream_start(lc_http_req_t *req, const lc__stream_kind_t *kind, const char *extra_headers,
                      const char *msg, size_t len);

/* The common start of a connection endpoint (spec §8 CORS): a request whose Origin fails
 * client.allowed_origins is answered 403; OPTIONS is a preflight answered with
 * preflight_status and preflight_headers (status 0: OPTIONS is not accepted); a method not in
 * `methods` (e.g. "GET, POST") is answered 405. Otherwise returns true with the CORS headers
 * for the response appended to cors (nothing without an Origin); when it returns false the
 * request has been answered. */
bool lc__endpoint_enter(lc_http_req_t *req, const char *methods, int preflight_status,
                        const char *preflight_headers, lc_buf_t *cors);

/* A plain-text answer carrying extra headers (e.g. the CORS ones; "" or NULL = none). */
void lc__respond_text(lc_http_req_t *req, int status, const char *text, const char *extra);

/* A *.max_request_body_size value in bytes (0 = the default, 65536). */
size_t lc__body_limit(int64_t configured);

/* The bare push of a unidirectional transport: `{"push":X}` becomes X, any other line (the
 * ping `{}`) is unchanged. */
void lc__uni_unwrap(const char **line, size_t *len);

/* Write each non-empty '\n'-separated line of p[0..n) as pre + line + post into out, with
 * the push wrapper removed when unwrap; out NULL only counts. Returns the bytes written. */
size_t lc__stream_lines(char *out, const char *p, size_t n, const char *pre, const char *post,
                        bool unwrap);

/* `{"push":{"disconnect":{"code":N,"reason":"..."}}}` through t's framing (unidirectional
 * framings drop the wrapper). NULL on OOM. */
lc_rcbuf_t *lc__disconnect_frame(lc_transport_t *t, uint32_t code, const char *reason);

/* The connect command (or request) of an SSE-style endpoint: the `cf_connect` query parameter
 * of a GET (absent or empty: `empty`, or 400 when empty is NULL), else the POST body. NULL when
 * already answered (400, 500). *query holds the decoded parameter: free it after use. */
const char *lc__connect_request(lc_http_req_t *req, const char *empty, char **query, size_t *len,
                                const char *cors);

#endif
