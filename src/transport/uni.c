/* Unidirectional transports (spec §8.2). The client sends one ConnectRequest (not wrapped in a
 * command); the session receives it as `{"id":1,"connect":<request>}` and from then on only
 * sends pushes, which these framings strip of their `{"push":…}` wrapper. uni_sse and
 * uni_http_stream are streams (stream.c); uni_websocket is a kind of WebSocket connection
 * (ws.c) whose first message is the request and whose later messages are dropped. */
#include "transport/uni.h"

#include <stdlib.h>
#include <string.h>

#include "core/client.h"
#include "proto/request.h"
#include "transport/conn.h"
#include "transport/stream.h"
#include "util/err.h"
#include "util/log.h"

/* Start a stream whose session gets req's connect request, read by lc_proto_uni_connect
 * (answered 400 when it is not a strictly valid JSON object). */
static void uni_stream_start(lc_http_req_t *req, const lc__stream_kind_t *kind, const char *cors,
                             const char *request, size_t len)
{
    lc_buf_t cmd = LC_BUF_INIT;
    int rc = lc_proto_uni_connect(request, len, &cmd);
    if (rc == LC_EPARSE)
        lc__respond_text(req, 400, "Bad Request: invalid connect request\n", cors);
    else if (rc < 0)
        lc__respond_text(req, 500, "Internal Server Error\n", cors);
    else
        lc__stream_start(req, kind, cors, cmd.data, cmd.len);
    lc_buf_free(&cmd);
}

/* ---- uni_sse and uni_http_stream ---- */

/* GET ?cf_connect=<request JSON> (absent: an empty request) or POST with the request as the
 * body. */
static void on_uni_sse(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    size_t limit = lc__body_limit(cfg->uni_sse_max_request_body_size);
    lc_buf_t cors = LC_BUF_INIT;
    char *query = NULL;
    if (!lc__endpoint_enter(req, "GET, POST", 0, NULL, &cors))
        goto done;
    size_t len = 0;
    const char *request = lc__connect_request(req, "{}", &query, &len, cors.data);
    if (request == NULL)
        goto done;
    if (len > limit)
        lc__respond_text(req, 413, "Request Entity Too Large\n", cors.data);
    else
        uni_stream_start(req, &lc__stream_uni_sse, cors.data, request, len);
done:
    free(query);
    lc_buf_free(&cors);
}

#define UNI_HTTP_PREFLIGHT                                                                         \
    "Access-Control-Allow-Methods: POST, OPTIONS\r\nAccess-Control-Max-Age: 300\r\n"

static void on_uni_http_stream(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    lc_buf_t cors = LC_BUF_INIT;
    if (!lc__endpoint_enter(req, "POST", 204, UNI_HTTP_PREFLIGHT, &cors))
        goto done;
    size_t len;
    const char *request = lc_http_req_body(req, &len);
    if (len > lc__body_limit(cfg->uni_http_stream_max_request_body_size))
        lc__respond_text(req, 413, "Request Entity Too Large\n", cors.data);
    else
        uni_stream_start(req, &lc__stream_uni_http_stream, cors.data, request, len);
done:
    lc_buf_free(&cors);
}

/* ---- uni_websocket ---- */

/* Each push of p[0..n) as its own text frame into out (NULL: only count). Returns the bytes. */
static size_t ws_messages(char *out, const char *p, size_t n)
{
    size_t off = 0;
    for (const char *end = p + n; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        const char *line = p;
        size_t ll = len;
        lc__uni_unwrap(&line, &ll);
        if (ll > 0) {
            uint8_t hdr[10];
            size_t hl = lc__ws_text_header(hdr, ll);
            if (out != NULL) {
                memcpy(out + off, hdr, hl);
                memcpy(out + off + hl, line, ll);
            }
            off += hl + ll;
        }
        p += len + (nl != NULL ? 1 : 0);
    }
    return off;
}

/* Every push its own text message. */
static lc_rcbuf_t *uni_ws_frame(const char *p, size_t n)
{
    lc_rcbuf_t *b = lc_rcbuf_new(ws_messages(NULL, p, n));
    if (b != NULL)
        ws_messages(b->data, p, n);
    return b;
}

/* uni_websocket.join_push_messages: all the pushes of one write in one message. */
static lc_rcbuf_t *uni_ws_join_frame(const char *p, size_t n)
{
    size_t body = lc__stream_lines(NULL, p, n, "", "\n", true);
    size_t len = body > 0 ? body - 1 : 0; /* no '\n' after the last push */
    uint8_t hdr[10];
    size_t hl = body > 0 ? lc__ws_text_header(hdr, len) : 0;
    lc_rcbuf_t *b = lc_rcbuf_new(hl + body);
    if (b == NULL || body == 0)
        return b;
    memcpy(b->data, hdr, hl);
    lc__stream_lines(b->data + hl, p, n, "", "\n", true);
    b->len = hl + len;
    return b;
}

/* The disconnect push (unless uni_websocket.disable_disconnect_push), then the close frame. */
static void uni_ws_close(lc_transport_t *t, uint32_t code, const char *reason)
{
    const lc_config_t *cfg = lc_worker_config(t->worker);
    lc_rcbuf_t *push = NULL;
    if (!cfg->uni_websocket_disable_disconnect_push)
        push = lc__disconnect_frame(t, code, reason); /* NULL on OOM: the close frame alone */
    lc__ws_close(t, code, reason, push);
    lc_rcbuf_unref(push);
}

static const lc_transport_vt_t uni_ws_vt = LC__WS_VT("uni_websocket", uni_ws_frame, uni_ws_close);

static const lc_transport_vt_t uni_ws_join_vt =
    LC__WS_VT("uni_websocket", uni_ws_join_frame, uni_ws_close);

/* The connect request (first message or ?cf_connect=). Not a JSON object: close 3501 with no
 * push, as there is no session to speak of yet. */
static void uni_ws_on_first(lc_transport_t *t, lc_client_t *c, const char *p, size_t n)
{
    lc_buf_t cmd = LC_BUF_INIT;
    int rc = lc_proto_uni_connect(p, n, &cmd);
    if (rc == LC_EPARSE)
        lc__ws_close(t, 3501, "bad request", NULL);
    else if (rc < 0)
        lc__ws_close(t, 3004, "internal server error", NULL);
    else
        lc_client_on_message(c, cmd.data, cmd.len);
    lc_buf_free(&cmd);
}

static const lc__ws_kind_t uni_ws_kind = {
    .vt = &uni_ws_vt,
    .framing = LC_FRAMING_UNI_WS,
    .mode = LC_CLIENT_UNI,
    .native_ping = true,
    .on_first = uni_ws_on_first,
};

static const lc__ws_kind_t uni_ws_join_kind = {
    .vt = &uni_ws_join_vt,
    .framing = LC_FRAMING_UNI_WS,
    .mode = LC_CLIENT_UNI,
    .native_ping = true,
    .on_first = uni_ws_on_first,
};

static void on_uni_ws(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    const lc__ws_kind_t *kind =
        cfg->uni_websocket_join_push_messages ? &uni_ws_join_kind : &uni_ws_kind;
    /* the request is gone once upgraded: the query's connect request is copied out first */
    size_t cap = strlen(lc_http_req_query(req)) + 1;
    char *query = malloc(cap);
    if (query == NULL) {
        lc__respond_text(req, 500, "Internal Server Error\n", NULL);
        return;
    }
    const char *first = lc_http_req_query_param(req, "cf_connect", query, cap);
    if (first != NULL && first[0] == '\0')
        first = NULL;
    lc__ws_accept(req, kind, cfg->uni_websocket_message_size_limit, first,
                  first != NULL ? strlen(first) : 0);
    free(query);
}

/* ---- routes ---- */

static const char *prefix_or(const char *configured, const char *fallback)
{
    return configured != NULL && configured[0] != '\0' ? configured : fallback;
}

int lc_uni_register(lc_router_t *r, const lc_config_t *cfg)
{
    void *arg = (void *)cfg;
    int rc = 0;
    if (cfg->uni_websocket_enabled)
        rc = lc_router_add(r, prefix_or(cfg->uni_websocket_prefix, "/connection/uni_websocket"),
                           false, on_uni_ws, arg);
    if (rc == 0 && cfg->uni_sse_enabled)
        rc = lc_router_add(r, prefix_or(cfg->uni_sse_prefix, "/connection/uni_sse"), false,
                           on_uni_sse, arg);
    if (rc == 0 && cfg->uni_http_stream_enabled)
        rc = lc_router_add(r, prefix_or(cfg->uni_http_stream_prefix, "/connection/uni_http_stream"),
                           false, on_uni_http_stream, arg);
    return rc;
}
