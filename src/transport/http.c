/* HTTP/1.1 on llhttp: one request at a time per connection. The parser pauses at the end of
 * every request (on_message_complete returns HPE_PAUSED), so a pipelined request N+1 is not
 * even parsed before request N has its response; whatever follows stays in the connection's
 * input tail. The parser state exists only while a connection has something in progress: it
 * is allocated when bytes arrive and freed once the connection is idle or upgraded. */
#include <llhttp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/client.h"
#include "transport/conn.h"
#include "util/err.h"
#include "util/log.h"

#define NO_VALUE UINT32_MAX
#define RESPONSE_HEAD "HTTP/1.1 %d %s\r\n%s%s%s%s\r\n"
#define STREAM_HEAD                                                                                \
    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n"                        \
    "Connection: keep-alive\r\n%s\r\n"

typedef struct hdr {
    uint32_t name, value; /* offsets into head; value NO_VALUE when the header was empty */
} hdr_t;

struct lc_http_req {
    lc__conn_t *conn;
    lc_buf_t head; /* the URL, then each header name and value, NUL-terminated */
    hdr_t *hdrs;
    size_t nhdrs, caphdrs;
    size_t query_off; /* SIZE_MAX when the URL has no '?' */
    const char *method;
    lc_buf_t body;
    bool keep_alive;
    bool upgrade; /* the request asked for a protocol switch */
    bool http10;
    lc_http_handler_fn fn; /* the route, found when the headers were complete */
    void *fn_arg;
    void (*cancel)(void *arg);
    void *cancel_arg;
    char remote[64];
};

typedef struct http_conn {
    llhttp_t parser;
    lc_http_req_t req;
    size_t raw_head;        /* bytes fed while the current request head was incomplete */
    int error_status;       /* status chosen by a callback that rejected the request */
    const char *error_body; /* static JSON body for that answer, or NULL (a check's choice) */
    bool in_message;
    bool headers_done;
    bool field_open;  /* a header name is being read */
    bool dispatched;  /* the handler has the request and has not responded yet */
    bool in_dispatch; /* inside the handler call */
    bool closing;     /* a final response is queued: ignore further input */
} http_conn_t;

static const lc_config_t *conn_cfg(const lc__conn_t *c)
{
    return lc_worker_config(c->t.worker);
}

static size_t max_head(const lc__conn_t *c)
{
    int64_t v = conn_cfg(c)->http_max_header_size;
    return v > 0 ? (size_t)v : SIZE_MAX;
}

static size_t max_body(const lc__conn_t *c)
{
    int64_t v = conn_cfg(c)->http_max_body_size;
    return v > 0 ? (size_t)v : SIZE_MAX;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

/* ---- request state ---- */

static void req_reset(lc_http_req_t *req)
{
    lc_buf_reset(&req->head);
    req->nhdrs = 0;
    req->query_off = SIZE_MAX;
    req->method = NULL;
    lc_buf_free(&req->body);
    req->keep_alive = false;
    req->upgrade = false;
    req->http10 = false;
    req->fn = NULL;
    req->fn_arg = NULL;
    req->cancel = NULL;
    req->cancel_arg = NULL;
    req->remote[0] = '\0';
}

static void http_conn_free(http_conn_t *h)
{
    if (h == NULL)
        return;
    lc_buf_free(&h->req.head);
    lc_buf_free(&h->req.body);
    free(h->req.hdrs);
    free(h);
}

static int reject_cb(http_conn_t *h, int status)
{
    if (h->error_status == 0)
        h->error_status = status;
    return -1;
}

static int head_append(http_conn_t *h, const char *at, size_t n)
{
    lc_http_req_t *req = &h->req;
    if (req->head.len + n > max_head(req->conn))
        return reject_cb(h, 431);
    if (lc_buf_append(&req->head, at, n) < 0)
        return reject_cb(h, 500);
    return 0;
}

static http_conn_t *parser_conn(llhttp_t *p)
{
    return lc_container_of(p, http_conn_t, parser);
}

/* ---- llhttp callbacks, in the order they run ---- */

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *h = parser_conn(p);
    req_reset(&h->req);
    h->in_message = true;
    /* a request head has read_header_timeout from its first byte (a new connection's from the
     * accept) */
    if (lc__conn_tkind(h->req.conn) != LC__T_HEAD)
        lc__conn_timeout(h->req.conn, LC__T_HEAD);
    h->headers_done = false;
    h->field_open = false;
    h->raw_head = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n)
{
    return head_append(parser_conn(p), at, n);
}

static int on_url_complete(llhttp_t *p)
{
    return head_append(parser_conn(p), "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    if (h->headers_done)
        return 0; /* trailers of a chunked body are not kept */
    if (!h->field_open) {
        if (req->nhdrs == req->caphdrs) {
            size_t ncap = req->caphdrs ? req->caphdrs * 2 : 16;
            hdr_t *hdrs = realloc(req->hdrs, ncap * sizeof(*hdrs));
            if (hdrs == NULL)
                return reject_cb(h, 500);
            req->hdrs = hdrs;
            req->caphdrs = ncap;
        }
        req->hdrs[req->nhdrs++] = (hdr_t){(uint32_t)req->head.len, NO_VALUE};
        h->field_open = true;
    }
    return head_append(h, at, n);
}

static int on_header_field_complete(llhttp_t *p)
{
    http_conn_t *h = parser_conn(p);
    if (h->headers_done)
        return 0;
    h->field_open = false;
    return head_append(h, "", 1);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    if (h->headers_done || req->nhdrs == 0)
        return 0;
    hdr_t *hd = &req->hdrs[req->nhdrs - 1];
    if (hd->value == NO_VALUE)
        hd->value = (uint32_t)req->head.len;
    return head_append(h, at, n);
}

static int on_header_value_complete(llhttp_t *p)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    if (h->headers_done || req->nhdrs == 0)
        return 0;
    hdr_t *hd = &req->hdrs[req->nhdrs - 1];
    if (hd->value == NO_VALUE)
        hd->value = (uint32_t)req->head.len;
    return head_append(h, "", 1);
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    h->headers_done = true;
    if (req->head.len == 0)
        return reject_cb(h, 400);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > max_body(req->conn))
        return reject_cb(h, 413);
    /* route and credentials are known now: refuse before reading any body */
    char *q = strchr(req->head.data, '?');
    if (q != NULL) {
        *q = '\0';
        req->query_off = (size_t)(q + 1 - req->head.data);
    }
    lc_http_check_fn check = NULL;
    if (!lc__router_find(req->conn->srv->router, req->head.data, &req->fn, &check, &req->fn_arg))
        return reject_cb(h, 404);
    if (check != NULL) {
        req->method = llhttp_method_name((llhttp_method_t)p->method);
        int status = check(req, req->fn_arg);
        if (status != 0)
            return reject_cb(h, status);
    }
    lc__conn_timeout(req->conn, LC__T_BODY);
    /* clients that wait for permission before sending a body (curl does above 1 KiB) */
    const char *expect = lc_http_req_header(req, "Expect");
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0 && p->http_minor >= 1) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (lc__conn_write_copy(req->conn, cont, sizeof(cont) - 1) < 0)
            return reject_cb(h, 500);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    if (req->body.len + n > max_body(req->conn))
        return reject_cb(h, 413);
    if (lc_buf_append(&req->body, at, n) < 0)
        return reject_cb(h, 500);
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *h = parser_conn(p);
    lc_http_req_t *req = &h->req;
    req->keep_alive = llhttp_should_keep_alive(p) != 0;
    req->upgrade = p->upgrade != 0;
    req->http10 = p->http_major == 1 && p->http_minor == 0;
    req->method = llhttp_method_name((llhttp_method_t)p->method);
    h->in_message = false;
    /* one request at a time: the next one is parsed only after this one's response */
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static http_conn_t *http_conn_new(lc__conn_t *c)
{
    http_conn_t *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return NULL;
    llhttp_init(&h->parser, HTTP_REQUEST, &settings);
    h->req.conn = c;
    lc_buf_init(&h->req.head);
    lc_buf_init(&h->req.body);
    req_reset(&h->req);
    return h;
}

/* ---- responses ---- */

static lc_rcbuf_t *build_response(const lc_http_req_t *req, int status, const char *ctype,
                                  const char *body, size_t len, const char *extra, bool close)
{
    const char *conn_hdr = close                        ? "Connection: close\r\n"
                           : req != NULL && req->http10 ? "Connection: keep-alive\r\n"
                                                        : "";
    char ct[256] = "";
    if (ctype != NULL)
        snprintf(ct, sizeof(ct), "Content-Type: %s\r\n", ctype);
    /* a 1xx, 204 or 304 response has no body and must not announce one (RFC 9110 8.6) */
    char cl[48] = "";
    if (status >= 200 && status != 204 && status != 304)
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", len);
    else
        len = 0;
    const char *reason = reason_phrase(status);
    if (extra == NULL)
        extra = "";
    int hl = snprintf(NULL, 0, RESPONSE_HEAD, status, reason, ct, cl, conn_hdr, extra);
    if (hl < 0)
        return NULL;
    lc_rcbuf_t *b = lc_rcbuf_new((size_t)hl + 1 + len);
    if (b == NULL)
        return NULL;
    snprintf(b->data, (size_t)hl + 1, RESPONSE_HEAD, status, reason, ct, cl, conn_hdr, extra);
    if (len > 0)
        memcpy(b->data + hl, body, len);
    b->len = (size_t)hl + len; /* the NUL snprintf needed is not sent */
    return b;
}

/* Answer a request that could not be parsed or was over a limit, and close. */
static void http_reject(lc__conn_t *c, http_conn_t *h, int status)
{
    char body[64];
    int n = status == 404 ? snprintf(body, sizeof(body), "404 page not found\n")
                          : snprintf(body, sizeof(body), "%d %s\n", status, reason_phrase(status));
    lc_log_debug("http request rejected with %d (%s)", status,
                 llhttp_errno_name(llhttp_get_errno(&h->parser)));
    const char *json = h->error_status == status ? h->error_body : NULL;
    h->error_body = NULL;
    lc_rcbuf_t *b =
        json ? build_response(NULL, status, "application/json", json, strlen(json), NULL, true)
             : build_response(NULL, status, "text/plain; charset=utf-8", body, (size_t)n, NULL,
                              true);
    h->closing = true;
    if (b == NULL) {
        lc__conn_close(c);
        return;
    }
    lc__conn_write(c, b, 0);
    lc_rcbuf_unref(b);
    lc__conn_finish(c);
}

void lc_http_req_reject_body(lc_http_req_t *req, const char *json)
{
    lc_container_of(req, http_conn_t, req)->error_body = json;
}

void lc_http_respond(lc_http_req_t *req, int status, const char *content_type, const char *body,
                     size_t len, const char *extra_headers)
{
    http_conn_t *h = lc_container_of(req, http_conn_t, req);
    lc__conn_t *c = req->conn;
    if (!h->dispatched)
        return;
    bool close = !req->keep_alive || req->upgrade || c->srv->stopping;
    lc_rcbuf_t *b = build_response(req, status, content_type, body, len, extra_headers, close);
    h->dispatched = false;
    req_reset(req);
    if (b == NULL) {
        h->closing = true;
        lc__conn_fail(c);
        return;
    }
    lc__conn_write(c, b, 0);
    lc_rcbuf_unref(b);
    if (close) {
        h->closing = true;
        lc__conn_finish(c);
        return;
    }
    lc__conn_timeout(c, LC__T_IDLE);
    if (!h->in_dispatch) {
        /* answered later: the parser sits at a request boundary, so it can go; what arrived
         * meanwhile is in the connection's tail and gets a fresh parser */
        http_conn_free(h);
        c->pdata = NULL;
        lc__conn_resume(c);
    }
}

void lc_http_req_set_cancel(lc_http_req_t *req, void (*cancel)(void *arg), void *arg)
{
    req->cancel = cancel;
    req->cancel_arg = arg;
}

/* ---- dispatch and the connection protocol ---- */

static void http_dispatch(lc__conn_t *c, http_conn_t *h)
{
    lc_http_req_t *req = &h->req;
    if (req->head.len == 0 || req->method == NULL || req->fn == NULL) {
        http_reject(c, h, 400);
        return;
    }
    if (c->srv->stopping) {
        /* no handler runs once the worker stops: its sessions, hooks and clients are going */
        h->error_status = 503;
        h->error_body = "{\"status\":\"shutting down\"}";
        http_reject(c, h, 503);
        return;
    }
    lc__conn_timeout(c, LC__T_NONE); /* the handler has it now */
    h->dispatched = true;
    h->in_dispatch = true;
    req->fn(req, req->fn_arg);
    /* the handler may have upgraded or closed the connection, releasing h */
    if (c->proto == &lc__http_proto && c->pdata == h)
        h->in_dispatch = false;
}

static size_t http_on_data(lc__conn_t *c, const char *p, size_t n)
{
    http_conn_t *h = c->pdata;
    if (h == NULL) {
        h = http_conn_new(c);
        if (h == NULL) {
            lc__conn_close(c);
            return n;
        }
        c->pdata = h;
    }
    size_t off = 0;
    while (off < n && !h->dispatched && !h->closing) {
        bool head_phase = !h->in_message || !h->headers_done;
        enum llhttp_errno e = llhttp_execute(&h->parser, p + off, n - off);
        size_t used = n - off;
        if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
            used = (size_t)(llhttp_get_error_pos(&h->parser) - (p + off));
        } else if (e != HPE_OK) {
            http_reject(c, h, h->error_status ? h->error_status : 400);
            return n;
        }
        /* a head that never ends is refused even when llhttp skips bytes without a callback */
        if (head_phase && h->in_message && !h->headers_done) {
            h->raw_head += used;
            if (h->raw_head > max_head(c)) {
                http_reject(c, h, 431);
                return n;
            }
        }
        off += used;
        if (e == HPE_OK)
            break;
        http_dispatch(c, h);
        if (c->flags & LC__CONN_CLOSED)
            return n;
        if (c->proto != &lc__http_proto)
            return off; /* upgraded: the rest belongs to the new protocol */
        if (!h->dispatched && !h->closing)
            llhttp_resume(&h->parser);
        /* pipelined requests wait while their answers are not read */
        if (lc__conn_out_full(c))
            break;
    }
    if (h->closing)
        return n;
    if (!h->in_message && !h->dispatched && off == n) {
        http_conn_free(h); /* idle keep-alive connections hold no parser */
        c->pdata = NULL;
    }
    return off;
}

static void http_on_close(lc__conn_t *c)
{
    http_conn_t *h = c->pdata;
    c->pdata = NULL;
    if (h == NULL)
        return;
    if (h->dispatched && h->req.cancel != NULL) {
        h->dispatched = false;
        h->req.cancel(h->req.cancel_arg);
    }
    http_conn_free(h);
}

static void http_on_timeout(lc__conn_t *c, int kind)
{
    http_conn_t *h = c->pdata;
    if (h != NULL && h->dispatched)
        return; /* the handler's own timeouts apply */
    if (kind == LC__T_IDLE || h == NULL || !h->in_message) {
        lc__conn_finish(c); /* nothing begun: just close */
        return;
    }
    lc_log_debug("http: %s timed out from %s", kind == LC__T_HEAD ? "request head" : "request body",
                 lc_http_req_remote(&h->req));
    http_reject(c, h, 408);
}

static void http_on_stop(lc__conn_t *c)
{
    http_conn_t *h = c->pdata;
    if (h == NULL || (!h->dispatched && !h->in_message)) {
        if (lc_wqueue_empty(&c->wq))
            lc__conn_close(c);
        else
            lc__conn_finish(c);
        return;
    }
    /* A request still being read is read to its end (within its header/body timeouts, which
     * the sweep keeps enforcing) and answered 503 by http_dispatch, as Go's Shutdown lets an
     * active connection finish: a load balancer probing /health then sees the shutdown. */
    if (!h->dispatched)
        return;
    lc__conn_close(c); /* a request the handler has is cancelled */
}

const lc__conn_proto_t lc__http_proto = {
    .on_data = http_on_data,
    .on_close = http_on_close,
    .on_stop = http_on_stop,
    .on_timeout = http_on_timeout,
};

static void http_vt_flush(lc_transport_t *t)
{
    lc__conn_flush(lc__conn_of(t));
}

const lc_transport_vt_t lc__http_vt = {
    .name = "http",
    .flush = http_vt_flush,
};

lc__conn_t *lc__http_upgrade(lc_http_req_t *req, const char *head, size_t len,
                             const lc__conn_proto_t *proto, void *pdata)
{
    http_conn_t *h = lc_container_of(req, http_conn_t, req);
    lc__conn_t *c = req->conn;
    int rc = lc__conn_write_copy(c, head, len);
    h->dispatched = false;
    http_conn_free(h);
    c->pdata = NULL;
    if (rc < 0) {
        c->proto = NULL;
        lc__conn_close(c);
        return NULL;
    }
    c->proto = proto;
    c->pdata = pdata;
    return c;
}

lc__conn_t *lc__http_stream_start(lc_http_req_t *req, const char *content_type,
                                  const char *extra_headers, const lc__conn_proto_t *proto,
                                  void *pdata)
{
    if (req->http10) {
        /* chunked framing is shared by every connection of a stream kind: no HTTP/1.0 */
        static const char msg[] = "HTTP/1.1 required\n";
        lc_http_respond(req, 505, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, NULL);
        return NULL;
    }
    if (extra_headers == NULL)
        extra_headers = "";
    int hl = snprintf(NULL, 0, STREAM_HEAD, content_type, extra_headers);
    char *head = hl >= 0 ? malloc((size_t)hl + 1) : NULL;
    if (head == NULL) {
        static const char msg[] = "Internal Server Error\n";
        lc_http_respond(req, 500, "text/plain; charset=utf-8", msg, sizeof(msg) - 1, NULL);
        return NULL;
    }
    snprintf(head, (size_t)hl + 1, STREAM_HEAD, content_type, extra_headers);
    lc__conn_t *c = lc__http_upgrade(req, head, (size_t)hl, proto, pdata);
    free(head);
    return c;
}

/* ---- helpers of the connection endpoints ---- */

lc_client_header_t *lc__http_copy_headers(const lc_http_req_t *req, size_t *n)
{
    /* Only proxies forward request headers: without them the session keeps none, and the
     * copy (one allocation per connection) is not worth making. */
    if (!lc_client_keeps_headers(req->conn->t.worker)) {
        *n = 0;
        return NULL;
    }
    size_t cnt = lc_http_req_header_count(req), bytes = 0;
    const char *name, *value;
    for (size_t i = 0; i < cnt; i++) {
        lc_http_req_header_at(req, i, &name, &value);
        bytes += strlen(name) + strlen(value) + 2;
    }
    *n = 0;
    if (cnt == 0)
        return NULL;
    lc_client_header_t *h = malloc(cnt * sizeof(*h) + bytes);
    if (h == NULL)
        return NULL;
    char *p = (char *)(h + cnt);
    for (size_t i = 0; i < cnt; i++) {
        lc_http_req_header_at(req, i, &name, &value);
        size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
        memcpy(p, name, nl);
        h[i].name = p;
        p += nl;
        memcpy(p, value, vl);
        h[i].value = p;
        p += vl;
    }
    *n = cnt;
    return h;
}

/* ---- request accessors ---- */

const char *lc_http_req_method(const lc_http_req_t *req)
{
    return req->method;
}

const char *lc_http_req_path(const lc_http_req_t *req)
{
    return req->head.data;
}

const char *lc_http_req_query(const lc_http_req_t *req)
{
    return req->query_off == SIZE_MAX ? "" : req->head.data + req->query_off;
}

const char *lc_http_req_header(const lc_http_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nhdrs; i++) {
        if (strcasecmp(req->head.data + req->hdrs[i].name, name) == 0)
            return req->hdrs[i].value == NO_VALUE ? "" : req->head.data + req->hdrs[i].value;
    }
    return NULL;
}

size_t lc_http_req_header_count(const lc_http_req_t *req)
{
    return req->nhdrs;
}

void lc_http_req_header_at(const lc_http_req_t *req, size_t i, const char **name,
                           const char **value)
{
    *name = req->head.data + req->hdrs[i].name;
    *value = req->hdrs[i].value == NO_VALUE ? "" : req->head.data + req->hdrs[i].value;
}

const char *lc_http_req_body(const lc_http_req_t *req, size_t *len)
{
    *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}

lc_worker_t *lc_http_req_worker(const lc_http_req_t *req)
{
    return req->conn->t.worker;
}

const char *lc_http_req_remote(const lc_http_req_t *req)
{
    lc_http_req_t *r = (lc_http_req_t *)req; /* the address is looked up once, on demand */
    if (r->remote[0] != '\0')
        return r->remote;
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "";
    if (uv_tcp_getpeername(&r->conn->tcp, (struct sockaddr *)&ss, &len) < 0)
        return "";
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(r->remote, sizeof(r->remote), "[%s]:%d", ip, ntohs(a->sin6_port));
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(r->remote, sizeof(r->remote), "%s:%d", ip, ntohs(a->sin_port));
    }
    return r->remote;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* URL-decode s[0..n) into out (outlen >= 1); false when it does not fit. */
static bool url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= outlen)
            return false;
        out[o++] = ch;
    }
    out[o] = '\0';
    return true;
}

const char *lc_http_req_query_param(const lc_http_req_t *req, const char *name, char *out,
                                    size_t outlen)
{
    const char *q = lc_http_req_query(req);
    char key[128];
    while (*q != '\0') {
        const char *end = strchr(q, '&');
        size_t len = end != NULL ? (size_t)(end - q) : strlen(q);
        const char *eq = memchr(q, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - q) : len;
        if (url_decode(q, klen, key, sizeof(key)) && strcmp(key, name) == 0) {
            if (outlen == 0)
                return NULL;
            const char *v = eq != NULL ? eq + 1 : q + len;
            size_t vlen = (size_t)(q + len - v);
            return url_decode(v, vlen, out, outlen) ? out : NULL;
        }
        q += len;
        if (*q == '&')
            q++;
    }
    return NULL;
}
