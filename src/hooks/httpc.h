/* An HTTP client on a worker's event loop: libcurl multi driven by libuv (curl's multi-uv
 * pattern). Connections to a backend are reused (HTTP/1.1 keep-alive, one connection cache per
 * client); every request has a timeout; nothing blocks the loop. One client per worker; a
 * client is not thread-safe, but clients on different threads share nothing. No proxy from the
 * environment, no redirects, http and https only. */
#ifndef LC_HOOKS_HTTPC_H
#define LC_HOOKS_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct lc_httpc lc_httpc_t;
typedef struct lc_httpc_req lc_httpc_req_t;

typedef struct lc_http_header {
    const char *name;
    const char *value;
} lc_http_header_t;

typedef struct lc_httpc_opts {
    const char *url;
    const char *method;       /* NULL = "POST" */
    const char *content_type; /* NULL = "application/json" */
    const lc_http_header_t *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    int64_t timeout_ms; /* whole request; <= 0 = 1000 */
} lc_httpc_opts_t;

typedef struct lc_httpc_resp {
    int err;          /* 0, or a negative lc_err: LC_EIO (connect/transfer), LC_EEXPIRED (timeout),
                         LC_ETOOBIG (body over 1 MiB) */
    long status;      /* HTTP status when err == 0 */
    const char *body; /* valid during the callback only; NUL-terminated */
    size_t body_len;
    const char *what; /* short reason for the log when err != 0 */
} lc_httpc_resp_t;

/* Runs exactly once per started request, always from the loop (never inside
 * lc_httpc_request), unless the request was cancelled first. */
typedef void (*lc_httpc_cb)(void *arg, const lc_httpc_resp_t *r);

/* libcurl's process-wide initialisation. Idempotent and thread-safe; lc_httpc_new calls it,
 * but a program should call it once from main before it starts threads. */
void lc_httpc_global_init(void);

/* NULL on allocation failure or when libcurl could not be initialised. */
lc_httpc_t *lc_httpc_new(uv_loop_t *loop);
/* Start a request. NULL when it cannot start (the callback then never runs): no URL, a header
 * name that is not an HTTP token or a value with CR/LF, out of memory, or the client is
 * closing. The options are copied: nothing needs to outlive the call. Entries of o->headers
 * that would change the request's framing are left out (Content-Type, which comes from
 * o->content_type, Content-Length, Transfer-Encoding, Connection, Host, Expect); an empty value
 * is sent as an empty header. */
lc_httpc_req_t *lc_httpc_request(lc_httpc_t *c, const lc_httpc_opts_t *o, lc_httpc_cb cb,
                                 void *arg);
/* Abandon a request: its callback never runs. The handle is invalid afterwards. Safe to call
 * from another request's callback; not with a request whose callback has already run. */
void lc_httpc_cancel(lc_httpc_req_t *r);
/* One value that lives as long as the client (the worker's JWKS cache, hooks/token.c):
 * release(p) runs when the client closes, after its requests are cancelled. Attaching again
 * releases the previous value first. */
void lc_httpc_attach(lc_httpc_t *c, void *p, void (*release)(void *p));
void *lc_httpc_attached(const lc_httpc_t *c);
/* Cancel everything (no callback runs) and close the client's handles; done(arg) runs from the
 * loop once they are closed (the loop can then end). The client is freed by then. May be called
 * from a request's callback. done may be NULL. */
void lc_httpc_close(lc_httpc_t *c, void (*done)(void *arg), void *arg);

#endif
