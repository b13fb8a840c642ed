/* The long-response transports (see stream.h): chunk framing of SSE and HTTP-streaming, the
 * connection they own once the head is sent, and the CORS start shared by the endpoints.
 *
 * Once streaming, the connection expects no more input: whatever the peer sends is dropped,
 * and its EOF ends the session like a closed WebSocket. Closing writes the disconnect push and
 * the last chunk, then finishes the connection (drain, half-close, bounded wait for EOF). */
#include "transport/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/client.h"
#include "proto/codes.h"
#include "proto/pb.h"
#include "transport/conn.h"
#include "util/err.h"
#include "util/log.h"

#define DEFAULT_BODY_LIMIT 65536
#define LAST_CHUNK "0\r\n\r\n"
#define PUSH_OPEN "{\"push\":"

typedef struct stream_conn {
    lc__conn_t *conn;
    lc_client_t *client;
    size_t limit; /* write queue bound (client.queue_max_size) */
    bool closing; /* the disconnect push and the last chunk are queued */
} stream_conn_t;

/* ---- framing ---- */

void lc__uni_unwrap(const char **line, size_t *len)
{
    size_t ol = sizeof(PUSH_OPEN) - 1;
    if (*len > ol && memcmp(*line, PUSH_OPEN, ol) == 0 && (*line)[*len - 1] == '}') {
        *line += ol;
        *len -= ol + 1;
    }
}

static size_t put(char *out, size_t off, const char *p, size_t n)
{
    if (out != NULL && n > 0)
        memcpy(out + off, p, n);
    return off + n;
}

/* An event stream reads a lone CR as a line end. Inside a message it can only be JSON
 * whitespace (payloads are strict JSON), so the event goes on in a new "data:" line, which
 * EventSource joins back with LF: the value the client parses is unchanged. Without a prefix
 * (HTTP-stream) the line is written as it is. */
static size_t put_line(char *out, size_t off, const char *line, size_t ll, const char *pre,
                       size_t prel)
{
    const char *end = line + ll;
    const char *cr;
    while (prel > 0 && (cr = memchr(line, '\r', (size_t)(end - line))) != NULL) {
        off = put(out, off, line, (size_t)(cr - line));
        off = put(out, off, "\n", 1);
        off = put(out, off, pre, prel);
        line = cr + 1;
    }
    return put(out, off, line, (size_t)(end - line));
}

size_t lc__stream_lines(char *out, const char *p, size_t n, const char *pre, const char *post,
                        bool unwrap)
{
    size_t off = 0, prel = strlen(pre), postl = strlen(post);
    const char *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        size_t ll = len;
        if (unwrap)
            lc__uni_unwrap(&line, &ll);
        if (ll > 0) {
            off = put(out, off, pre, prel);
            off = put_line(out, off, line, ll, pre, prel);
            off = put(out, off, post, postl);
        }
        p += len + (nl != NULL ? 1 : 0);
    }
    return off;
}

/* One chunk holding every line as pre + line + post. A message without lines gives an empty
 * buffer, never a zero-size chunk (that would end the response). */
static lc_rcbuf_t *chunk_frame(const char *p, size_t n, const char *pre, const char *post,
                               bool unwrap)
{
    size_t body = lc__stream_lines(NULL, p, n, pre, post, unwrap);
    if (body == 0)
        return lc_rcbuf_new(0);
    char hdr[24];
    int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", body);
    lc_rcbuf_t *b = lc_rcbuf_new((size_t)hl + body + 2);
    if (b == NULL)
        return NULL;
    memcpy(b->data, hdr, (size_t)hl);
    lc__stream_lines(b->data + hl, p, n, pre, post, unwrap);
    memcpy(b->data + (size_t)hl + body, "\r\n", 2);
    return b;
}

static lc_rcbuf_t *sse_frame(const char *p, size_t n)
{
    return chunk_frame(p, n, "data: ", "\n\n", false);
}

static lc_rcbuf_t *http_stream_frame(const char *p, size_t n)
{
    return chunk_frame(p, n, "", "\n", false);
}

/* Protobuf emulation: the replies as varint-delimited Protobuf Replies, one chunk. */
static lc_rcbuf_t *http_stream_pb_frame(const char *p, size_t n)
{
    lc_buf_t pb = LC_BUF_INIT;
    lc_rcbuf_t *b = NULL;
    int rc = lc_pb_replies_from_json(&pb, p, n);
    if (rc < 0) {
        lc_log_error("protobuf encoding failed: %s", lc_strerror(rc));
    } else if (pb.len == 0) {
        b = lc_rcbuf_new(0);
    } else {
        char hdr[24];
        int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", pb.len);
        b = lc_rcbuf_new((size_t)hl + pb.len + 2);
        if (b != NULL) {
            memcpy(b->data, hdr, (size_t)hl);
            memcpy(b->data + hl, pb.data, pb.len);
            memcpy(b->data + (size_t)hl + pb.len, "\r\n", 2);
        }
    }
    lc_buf_free(&pb);
    return b;
}

static lc_rcbuf_t *uni_sse_frame(const char *p, size_t n)
{
    return chunk_frame(p, n, "data: ", "\n\n", true);
}

static lc_rcbuf_t *uni_http_stream_frame(const char *p, size_t n)
{
    return chunk_frame(p, n, "", "\n", true);
}

lc_rcbuf_t *lc__disconnect_frame(lc_transport_t *t, uint32_t code, const char *reason)
{
    if (reason == NULL)
        reason = "";
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_printf(&b, PUSH_OPEN "{\"disconnect\":{\"code\":%u,\"reason\":", code);
    if (rc == 0)
        rc = lc_buf_append_json_str(&b, reason, strlen(reason));
    if (rc == 0)
        rc = lc_buf_append_str(&b, "}}}");
    lc_rcbuf_t *f = rc == 0 ? t->vt->frame(b.data, b.len) : NULL;
    lc_buf_free(&b);
    return f;
}

/* ---- the streaming connection ---- */

static size_t stream_on_data(lc__conn_t *c, const char *p, size_t n)
{
    return n; /* nothing more is expected from the peer */
}

static void stream_on_close(lc__conn_t *c)
{
    stream_conn_t *st = c->pdata;
    c->pdata = NULL;
    if (st == NULL)
        return;
    if (st->client != NULL)
        lc_client_on_close(st->client);
    free(st);
}

static void stream_on_stop(lc__conn_t *c)
{
    c->t.vt->close(&c->t, 3001, "shutdown");
}

static const lc__conn_proto_t stream_proto = {
    .on_data = stream_on_data,
    .on_close = stream_on_close,
    .on_stop = stream_on_stop,
};

static int stream_send(lc_transport_t *t, lc_rcbuf_t *frame)
{
    lc__conn_t *c = lc__conn_of(t);
    stream_conn_t *st = c->pdata;
    if ((c->flags & LC__CONN_CLOSED) || st == NULL || st->closing)
        return LC_ECLOSED;
    return lc__conn_write(c, frame, st->limit);
}

static void stream_flush(lc_transport_t *t)
{
    lc__conn_flush(lc__conn_of(t));
}

/* The disconnect push and the last chunk go past the queue bound: a slow consumer still learns
 * why it was dropped. */
static void stream_close(lc_transport_t *t, uint32_t code, const char *reason)
{
    lc__conn_t *c = lc__conn_of(t);
    stream_conn_t *st = c->pdata;
    if ((c->flags & LC__CONN_CLOSED) || st == NULL || st->closing)
        return;
    st->closing = true;
    lc_rcbuf_t *f = lc__disconnect_frame(t, code, reason);
    int rc = f != NULL ? lc__conn_write(c, f, 0) : LC_ENOMEM;
    lc_rcbuf_unref(f);
    if (rc == 0)
        rc = lc__conn_write_copy(c, LAST_CHUNK, sizeof(LAST_CHUNK) - 1);
    if (rc < 0) {
        lc__conn_fail(c);
        return;
    }
    lc__conn_finish(c);
}

/* Only native-ping transports are pinged by the session; these ping in-band. */
static void stream_ping(lc_transport_t *t) {}

#define STREAM_VT(vname, fn)                                                                       \
    {                                                                                              \
        .name = vname, .frame = fn, .send = stream_send, .flush = stream_flush,                    \
        .close = stream_close, .ping = stream_ping,                                                \
    }

static const lc_transport_vt_t sse_vt = STREAM_VT("sse", sse_frame);
static const lc_transport_vt_t http_stream_vt = STREAM_VT("http_stream", http_stream_frame);
static const lc_transport_vt_t http_stream_pb_vt = STREAM_VT("http_stream", http_stream_pb_frame);
static const lc_transport_vt_t uni_sse_vt = STREAM_VT("uni_sse", uni_sse_frame);
static const lc_transport_vt_t uni_http_stream_vt =
    STREAM_VT("uni_http_stream", uni_http_stream_frame);

#define SSE_TYPE "text/event-stream; charset=utf-8"
#define JSON_TYPE "application/json"

const lc__stream_kind_t lc__stream_sse = {&sse_vt,  LC_FRAMING_SSE, LC_CLIENT_EMULATION,
                                          SSE_TYPE, "\r\n",         false};
const lc__stream_kind_t lc__stream_http = {
    &http_stream_vt, LC_FRAMING_HTTP_STREAM, LC_CLIENT_EMULATION, JSON_TYPE, NULL, false};
const lc__stream_kind_t lc__stream_http_pb = {&http_stream_pb_vt,
                                              LC_FRAMING_HTTP_STREAM_PB,
                                              LC_CLIENT_EMULATION,
                                              "application/octet-stream",
                                              NULL,
                                              true};
const lc__stream_kind_t lc__stream_uni_sse = {
    &uni_sse_vt, LC_FRAMING_UNI_SSE, LC_CLIENT_UNI, SSE_TYPE, "\r\n", false};
const lc__stream_kind_t lc__stream_uni_http_stream = {
    &uni_http_stream_vt, LC_FRAMING_UNI_HTTP_STREAM, LC_CLIENT_UNI, JSON_TYPE, NULL, false};

/* Responses that must not be cached or buffered on the way (spec §8.1). */
#define NO_CACHE                                                                                   \
    "Cache-Control: private, no-cache, no-store, must-revalidate, max-age=0\r\n"                   \
    "Pragma: no-cache\r\nExpire: 0\r\nX-Accel-Buffering: no\r\n"

/* The head's extra headers: no caching, then the caller's. 0 or LC_ENOMEM. */
static int stream_extra(const char *extra, lc_buf_t *out)
{
    int rc = lc_buf_append_str(out, NO_CACHE);
    if (rc == 0 && extra != NULL)
        rc = lc_buf_append_str(out, extra);
    return rc;
}

static void respond_oom(lc_http_req_t *req)
{
    lc__respond_text(req, 500, "Internal Server Error\n", NULL);
}

void lc__stream_start(lc_http_req_t *req, const lc__stream_kind_t *kind, const char *extra_headers,
                      const char *msg, size_t len)
{
    const lc_config_t *cfg = lc_worker_config(lc_http_req_worker(req));
    lc_buf_t extra = LC_BUF_INIT;
    size_t n_hdrs = 0;
    /* the request goes away with the head: keep what the session needs from it */
    lc_client_header_t *hdrs = lc__http_copy_headers(req, &n_hdrs);
    char *first = malloc(len + 1);
    stream_conn_t *st = calloc(1, sizeof(*st));
    if (first == NULL || st == NULL || stream_extra(extra_headers, &extra) < 0) {
        respond_oom(req);
        goto done;
    }
    memcpy(first, msg, len);
    st->limit = cfg->queue_max_size > 0 ? (size_t)cfg->queue_max_size : 0;
    lc__conn_t *c = lc__http_stream_start(req, kind->content_type, extra.data, &stream_proto, st);
    if (c == NULL)
        goto done;
    st->conn = c;
    c->t.vt = kind->vt;
    c->t.framing = kind->framing;
    if (!lc__conn_session_admit(c)) {
        lc_log_info("%s connection refused: client.connection_limit %d reached", kind->vt->name,
                    cfg->connection_limit);
        st = NULL; /* the connection's */
        c->t.vt->close(&c->t, LC_DISCONNECT_CONNECTION_LIMIT, "connection limit");
        goto done;
    }
    lc_client_opts_t opts = {
        .mode = kind->mode, .protobuf = kind->protobuf, .headers = hdrs, .n_headers = n_hdrs};
    int rc = 0;
    if (kind->preamble != NULL) {
        char pre[32];
        int n = snprintf(pre, sizeof(pre), "%zx\r\n%s\r\n", strlen(kind->preamble), kind->preamble);
        rc = lc__conn_write_copy(c, pre, (size_t)n);
    }
    if (rc == 0)
        st->client = lc_client_new(&c->t, &opts);
    if (st->client == NULL)
        lc__conn_close(c); /* frees st */
    else
        lc_client_on_message(st->client, first, len);
    st = NULL; /* the connection's from here on */

done:
    lc_buf_free(&extra);
    free(hdrs);
    free(first);
    free(st);
}

/* ---- endpoints ---- */

void lc__respond_text(lc_http_req_t *req, int status, const char *text, const char *extra)
{
    lc_http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text), extra);
}

size_t lc__body_limit(int64_t configured)
{
    return configured > 0 ? (size_t)configured : DEFAULT_BODY_LIMIT;
}

/* Whether method is one of the comma-separated list. */
static bool method_listed(const char *methods, const char *method)
{
    size_t ml = strlen(method);
    for (const char *p = methods; *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == ml && memcmp(p, method, n) == 0)
            return true;
        p += n;
    }
    return false;
}

bool lc__endpoint_enter(lc_http_req_t *req, const char *methods, int preflight_status,
                        const char *preflight_headers, lc_buf_t *cors)
{
    const lc_config_t *cfg = lc_worker_config(lc_http_req_worker(req));
    const char *origin = lc_http_req_header(req, "Origin");
    const char *method = lc_http_req_method(req);
    if (!lc__http_origin_allowed(cfg, origin)) {
        lc_log_info("%s %s from %s refused: origin %s not allowed", method, lc_http_req_path(req),
                    lc_http_req_remote(req), origin);
        lc__respond_text(req, 403, "Forbidden\n", NULL);
        return false;
    }
    int rc = 0;
    if (origin != NULL && origin[0] != '\0') {
        rc = lc_buf_printf(cors,
                           "Access-Control-Allow-Origin: %s\r\n"
                           "Access-Control-Allow-Credentials: true\r\n",
                           origin);
        const char *asked = lc_http_req_header(req, "Access-Control-Request-Headers");
        if (rc == 0 && asked != NULL && asked[0] != '\0')
            rc = lc_buf_printf(cors, "Access-Control-Allow-Headers: %s\r\n", asked);
    }
    bool preflight = strcmp(method, "OPTIONS") == 0 && preflight_status != 0;
    if (rc == 0 && preflight && preflight_headers != NULL)
        rc = lc_buf_append_str(cors, preflight_headers);
    if (rc < 0) {
        respond_oom(req);
        return false;
    }
    if (preflight) {
        lc_http_respond(req, preflight_status, NULL, NULL, 0, cors->data);
        return false;
    }
    if (!method_listed(methods, method)) {
        lc_buf_t allow = LC_BUF_INIT;
        if (lc_buf_printf(&allow, "Allow: %s\r\n%s", methods, cors->data ? cors->data : "") < 0) {
            respond_oom(req);
            return false;
        }
        lc__respond_text(req, 405, "Method Not Allowed\n", allow.data);
        lc_buf_free(&allow);
        return false;
    }
    return true;
}

const char *lc__connect_request(lc_http_req_t *req, const char *empty, char **query, size_t *len,
                                const char *cors)
{
    *query = NULL;
    if (strcmp(lc_http_req_method(req), "GET") != 0)
        return lc_http_req_body(req, len);
    /* decoding never makes the value longer than the query */
    size_t cap = strlen(lc_http_req_query(req)) + 1;
    *query = malloc(cap);
    if (*query == NULL) {
        lc__respond_text(req, 500, "Internal Server Error\n", cors);
        return NULL;
    }
    const char *v = lc_http_req_query_param(req, "cf_connect", *query, cap);
    if (v == NULL || v[0] == '\0') {
        if (empty == NULL) {
            lc__respond_text(req, 400, "Bad Request: cf_connect required\n", cors);
            return NULL;
        }
        v = empty;
    }
    *len = strlen(v);
    return v;
}
