/* HTTP/1.1 server on libuv + llhttp: keep-alive, pipelining (requests answered strictly in
 * order, the next one parsed only after the previous response), header and body limits
 * (431 / 413), a routing table that transports (WebSocket upgrade, later SSE and
 * HTTP-streaming) and the server API plug into. 404 for unknown paths; handlers answer 405
 * themselves where they take only some methods. */
#ifndef LC_TRANSPORT_HTTP_H
#define LC_TRANSPORT_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/worker.h"

typedef struct lc_http_req lc_http_req_t;
typedef struct lc_router lc_router_t;

/* Called once per complete request (headers and body read). The handler must eventually call
 * lc_http_respond (or take the connection over with an upgrade) exactly once, now or later;
 * the request stays valid until then unless the peer goes away, in which case the request is
 * released by the server and lc_http_req_set_cancel's callback runs instead. */
typedef void (*lc_http_handler_fn)(lc_http_req_t *req, void *arg);

/* Runs when a request's headers are complete, before any body is read: 0 lets the request go
 * on, an HTTP status (401, 405...) answers it at once and closes the connection. */
typedef int (*lc_http_check_fn)(lc_http_req_t *req, void *arg);
/* From a check: the JSON body of the answer to its status (a static string), instead of the
 * plain status line. */
void lc_http_req_reject_body(lc_http_req_t *req, const char *json);

lc_router_t *lc_router_new(void);
void lc_router_free(lc_router_t *r);
/* Route `path` (exact match) or every path starting with `path` (prefix = true; exact
 * routes win, then the longest prefix). The router is read-only once the server runs and is
 * shared by all workers. 0 or LC_ENOMEM. */
int lc_router_add(lc_router_t *r, const char *path, bool prefix, lc_http_handler_fn fn, void *arg);
/* Same with a check run on the headers alone (NULL = none). */
int lc_router_add_checked(lc_router_t *r, const char *path, bool prefix, lc_http_handler_fn fn,
                          lc_http_check_fn check, void *arg);

/* Start listening on the config's http_server.address:port in worker w (SO_REUSEPORT, one
 * listener per worker). Registers its own stop hook with the worker. 0 or negative lc_err
 * (logged with the address). */
int lc_http_listen(lc_worker_t *w, const lc_router_t *router);

/* Request accessors. Strings are NUL-terminated and valid until the response. */
const char *lc_http_req_method(const lc_http_req_t *req); /* "GET", "POST", ... */
const char *lc_http_req_path(const lc_http_req_t *req);   /* without the query */
const char *lc_http_req_query(const lc_http_req_t *req);  /* after '?', "" when none */
/* Value of a query parameter (URL-decoded) copied into out; NULL when absent or when it does
 * not fit in outlen bytes (with its NUL). */
const char *lc_http_req_query_param(const lc_http_req_t *req, const char *name, char *out,
                                    size_t outlen);
/* First header with this name (case-insensitive), or NULL. */
const char *lc_http_req_header(const lc_http_req_t *req, const char *name);
/* Every header, in request order (i < lc_http_req_header_count). */
size_t lc_http_req_header_count(const lc_http_req_t *req);
void lc_http_req_header_at(const lc_http_req_t *req, size_t i, const char **name,
                           const char **value);
const char *lc_http_req_body(const lc_http_req_t *req, size_t *len);
lc_worker_t *lc_http_req_worker(const lc_http_req_t *req);
const char *lc_http_req_remote(const lc_http_req_t *req); /* "127.0.0.1:5555" */

/* Send a response with Content-Length; extra_headers ("Name: value\r\n"...) may be NULL.
 * Ends the request; the connection goes on with the next pipelined request (keep-alive) or is
 * closed (Connection: close, HTTP/1.0 without keep-alive). */
void lc_http_respond(lc_http_req_t *req, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers);

/* Called instead of the response if the peer closes (or the worker stops) before the handler
 * responded; the request is gone when it runs, so the handler must not respond afterwards.
 * Never runs from inside lc_http_respond or the handler call itself. */
void lc_http_req_set_cancel(lc_http_req_t *req, void (*cancel)(void *arg), void *arg);

#endif
