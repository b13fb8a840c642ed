/* WebSocket transport (RFC 6455) for the client protocol: the upgrade handshake on the HTTP
 * server, then a wslay session per connection. uni_websocket (uni.c) is a kind of the same
 * connection with its own vtable and framing.
 *
 * Outgoing data frames never go through wslay: vt->frame builds one unmasked frame (header and
 * payload in one shared buffer) that any number of connections queue as is. wslay only
 * produces control frames (pong replies, close), and its send callback appends them to the
 * same ordered write queue, so every byte leaves in the order it was queued. */
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "core/client.h"
#include "proto/codes.h"
#include "transport/conn.h"
#include "transport/ws.h"
#include "proto/pb.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/log.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_CLOSE_REASON_MAX 123
/* What wslay keeps per received fragment beyond its payload (a chunk record and its list
 * node): counted against the message size limit so that many tiny fragments cost what they
 * weigh (65,000 one-byte fragments were ~14x their size before). */
#define WS_FRAGMENT_COST 64
/* Control frames wslay may hold answered (pongs) before they are moved to the write queue. */
#define WS_QUEUED_MAX 64

/* The wslay session (its event and frame contexts hold about 8 KiB of fixed buffers) exists only
 * while something is in progress: it is created when bytes arrive or a control frame must be
 * sent, and freed once the connection is back between messages. An idle connection keeps
 * just ws_conn_t. */
typedef struct ws_session {
    wslay_event_context_ptr ctx;
    const char *in; /* the read chunk wslay is consuming */
    size_t in_len;
    bool in_recv;     /* inside wslay_event_recv: sending waits until it returns */
    uint8_t pend[16]; /* a frame header wslay announced more data for */
    uint8_t pend_len;
    /* Frame boundaries of the input, followed only to know when the session may go (wslay
     * keeps a partial header or message inside it). wslay still does every check; input it
     * refuses ends the connection, so this need not agree with it past that point. */
    uint8_t hdr[14]; /* the current frame header, while incomplete */
    uint8_t hdr_len;
    bool frag_open;        /* a fragmented data message has not seen its final frame */
    uint64_t payload_left; /* payload bytes of the current frame not yet seen */
    uint32_t frags;        /* data frames of the message in progress */
    uint64_t msg_cost;     /* its payload plus WS_FRAGMENT_COST per fragment after the first */
} ws_session_t;

typedef struct ws_conn {
    ws_session_t *s; /* NULL while idle */
    lc__conn_t *conn;
    lc_client_t *client;
    const lc__ws_kind_t *kind;
    /* Every connection holds one of these, so what the config says is read from it rather
     * than copied here (client.queue_max_size, websocket.max_fragments). */
    uint32_t max_msg; /* incoming message size limit, 0 = none (a limit over 4 GiB is 4 GiB) */
    bool closing;     /* the session asked to close (or the worker stops) */
    bool first_done;  /* kind->on_first has had its message */
    bool got_message; /* a data message arrived (the handshake timeout is over) */
    bool too_big;     /* the message in progress broke a limit: close 1009 */
} ws_conn_t;

static const lc_config_t *ws_config(const ws_conn_t *ws)
{
    return lc_worker_config(ws->conn->t.worker);
}

/* ---- frames ---- */

size_t lc__ws_text_header(uint8_t hdr[10], size_t len)
{
    hdr[0] = 0x81; /* FIN, text */
    if (len < 126) {
        hdr[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        hdr[1] = 126;
        hdr[2] = (uint8_t)(len >> 8);
        hdr[3] = (uint8_t)len;
        return 4;
    }
    hdr[1] = 127;
    for (int i = 0; i < 8; i++)
        hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

lc_rcbuf_t *lc__ws_text_frame(const char *payload, size_t len)
{
    uint8_t hdr[10];
    size_t hl = lc__ws_text_header(hdr, len);
    lc_rcbuf_t *b = lc_rcbuf_new(hl + len);
    if (b == NULL)
        return NULL;
    memcpy(b->data, hdr, hl);
    if (len > 0)
        memcpy(b->data + hl, payload, len);
    return b;
}

/* The Protobuf protocol: the session's JSON replies and pushes become varint-delimited
 * Protobuf Replies in one binary message (once per publication for every such subscriber). */
static lc_rcbuf_t *ws_pb_frame(const char *payload, size_t len)
{
    lc_buf_t pb = LC_BUF_INIT;
    lc_rcbuf_t *b = NULL;
    int rc = lc_pb_replies_from_json(&pb, payload, len);
    if (rc == 0) {
        uint8_t hdr[10];
        size_t hl = lc__ws_text_header(hdr, pb.len);
        hdr[0] = 0x82; /* FIN, binary */
        b = lc_rcbuf_new(hl + pb.len);
        if (b != NULL) {
            memcpy(b->data, hdr, hl);
            if (pb.len > 0)
                memcpy(b->data + hl, pb.data, pb.len);
        }
    } else {
        lc_log_error("protobuf encoding failed: %s", lc_strerror(rc));
    }
    lc_buf_free(&pb);
    return b;
}

/* Header length announced by the first bytes of a frame header: 2, plus the 16- or 64-bit
 * extended length, plus the 4-byte mask key. */
static size_t header_len(const uint8_t *h, size_t have)
{
    if (have < 2)
        return 2;
    uint8_t len7 = h[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

/* Move the frame boundary tracker over p[0..n). False when the message in progress has too
 * many fragments or weighs more than the size limit. */
static bool track_frames(ws_conn_t *ws, ws_session_t *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (s->payload_left > 0) {
            size_t skip = s->payload_left < n ? (size_t)s->payload_left : n;
            s->payload_left -= skip;
            p += skip;
            n -= skip;
            continue;
        }
        s->hdr[s->hdr_len++] = *p++;
        n--;
        if (s->hdr_len < header_len(s->hdr, s->hdr_len))
            continue;
        uint64_t len = s->hdr[1] & 0x7f;
        if (len == 126) {
            len = ((uint64_t)s->hdr[2] << 8) | s->hdr[3];
        } else if (len == 127) {
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | s->hdr[2 + i];
        }
        /* data and continuation frames (opcodes below 8) open or close a fragmented message;
         * control frames may come between its fragments and change nothing */
        uint8_t opcode = s->hdr[0] & 0x0f;
        if (opcode < 8) {
            if (opcode != 0 || !s->frag_open) {
                s->frags = 0;
                s->msg_cost = 0;
            }
            s->frags++;
            s->msg_cost += len + (s->frags > 1 ? WS_FRAGMENT_COST : 0);
            s->frag_open = !(s->hdr[0] & 0x80);
            int max_frags = ws_config(ws)->websocket_max_fragments;
            if ((max_frags > 0 && s->frags > (uint32_t)max_frags) ||
                (ws->max_msg > 0 && s->msg_cost > ws->max_msg))
                return false;
        }
        s->payload_left = len;
        s->hdr_len = 0;
    }
    return true;
}

/* ---- wslay callbacks ---- */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    ws_conn_t *ws = user;
    ws_session_t *s = ws->s;
    /* answers (pongs) wait in wslay until ws_on_data moves them out: stop there */
    if (s->in_len == 0 || wslay_event_get_queued_msg_count(ctx) >= WS_QUEUED_MAX) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < s->in_len ? len : s->in_len;
    if (!track_frames(ws, s, (const uint8_t *)s->in, n)) {
        /* wslay gets none of it: it stays consistent while we queue the close */
        ws->too_big = true;
        s->in_len = 0;
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    memcpy(buf, s->in, n);
    s->in += n;
    s->in_len -= n;
    return (ssize_t)n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    ws_conn_t *ws = user;
    ws_session_t *s = ws->s;
    /* wslay hands a frame header and its payload separately: keep them in one buffer */
    if ((flags & WSLAY_MSG_MORE) && s->pend_len == 0 && len <= sizeof(s->pend)) {
        memcpy(s->pend, data, len);
        s->pend_len = (uint8_t)len;
        return (ssize_t)len;
    }
    lc_rcbuf_t *b = lc_rcbuf_new(s->pend_len + len);
    if (b == NULL) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    memcpy(b->data, s->pend, s->pend_len);
    memcpy(b->data + s->pend_len, data, len);
    s->pend_len = 0;
    int rc = lc__conn_write(ws->conn, b, 0);
    lc_rcbuf_unref(b);
    if (rc < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return (ssize_t)len;
}

static void ws_on_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                         void *user)
{
    ws_conn_t *ws = user;
    if (ws->closing || ws->client == NULL)
        return;
    const char *msg = arg->msg != NULL ? (const char *)arg->msg : "";
    switch (arg->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
        if (!ws->got_message) {
            ws->got_message = true;
            lc__conn_timeout(ws->conn, LC__T_NONE);
        }
        if (ws->kind->on_first == NULL) {
            lc_client_on_message(ws->client, msg, arg->msg_length);
        } else if (!ws->first_done) {
            ws->first_done = true;
            ws->kind->on_first(&ws->conn->t, ws->client, msg, arg->msg_length);
        }
        break;
    case WSLAY_PONG:
        lc_client_on_pong(ws->client);
        break;
    default:
        break; /* pings are answered and close frames handled by wslay */
    }
}

static const struct wslay_event_callbacks ws_callbacks = {
    .recv_callback = ws_recv_cb,
    .send_callback = ws_send_cb,
    .on_msg_recv_callback = ws_on_msg_cb,
};

/* ---- the session's lifetime ---- */

/* The wslay session, created if the connection was idle. NULL on OOM. A fresh one equals the
 * one freed between messages: the callbacks and user data are the same, the message size
 * limit is set again, and nothing else outlives a message. */
static ws_session_t *ws_session(ws_conn_t *ws)
{
    if (ws->s != NULL)
        return ws->s;
    ws_session_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (wslay_event_context_server_init(&s->ctx, &ws_callbacks, ws) != 0) {
        free(s);
        return NULL;
    }
    if (ws->max_msg > 0)
        wslay_event_config_set_max_recv_msg_length(s->ctx, ws->max_msg);
    ws->s = s;
    return s;
}

static void ws_session_free(ws_conn_t *ws)
{
    if (ws->s == NULL)
        return;
    wslay_event_context_free(ws->s->ctx);
    free(ws->s);
    ws->s = NULL;
}

/* Free the session when nothing is in progress: no partial frame or fragmented message
 * inside wslay, no control frame waiting to be sent (a pong included), no close begun. */
static void ws_session_release(ws_conn_t *ws)
{
    ws_session_t *s = ws->s;
    if (s == NULL || ws->closing || s->in_recv || s->hdr_len > 0 || s->payload_left > 0 ||
        s->frag_open || s->pend_len > 0)
        return;
    if (!wslay_event_get_read_enabled(s->ctx) || !wslay_event_get_write_enabled(s->ctx) ||
        wslay_event_get_close_received(s->ctx) || wslay_event_get_close_sent(s->ctx) ||
        wslay_event_get_queued_msg_count(s->ctx) > 0)
        return;
    ws_session_free(ws);
}

bool lc__ws_has_session(lc_transport_t *t)
{
    ws_conn_t *ws = lc__conn_of(t)->pdata;
    return ws != NULL && ws->s != NULL;
}

/* ---- the session's progress ---- */

/* Hand wslay's pending control frames to the write queue and move the close sequence on. */
static void ws_pump(lc__conn_t *c, ws_conn_t *ws)
{
    ws_session_t *s = ws->s;
    if (s->in_recv || (c->flags & LC__CONN_CLOSED))
        return;
    if (wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) != 0) {
        lc__conn_fail(c);
        return;
    }
    bool reading = wslay_event_get_read_enabled(s->ctx) != 0;
    if (wslay_event_get_close_sent(s->ctx)) {
        if (reading)
            lc__conn_set_deadline(c); /* wait, bounded, for the peer's close frame */
        else
            lc__conn_finish(c); /* both close frames exchanged, or input refused */
    } else if (!reading) {
        lc__conn_fail(c);
    }
}

/* A limit of the message in progress was broken: close 1009 (centrifuge-js then stops
 * reconnecting with "message size limit"), reading no further. */
static void ws_refuse_message(lc__conn_t *c, ws_conn_t *ws)
{
    lc_log_info("%s connection closed: incoming message over the size or fragment limit",
                ws->kind->vt->name);
    ws->closing = true;
    wslay_event_shutdown_read(ws->s->ctx);
    static const char reason[] = "message too big";
    int r = wslay_event_queue_close(ws->s->ctx, 1009, (const uint8_t *)reason, sizeof(reason) - 1);
    if (r != 0 && r != WSLAY_ERR_NO_MORE_MSG)
        lc__conn_fail(c);
}

static size_t ws_on_data(lc__conn_t *c, const char *p, size_t n)
{
    ws_conn_t *ws = c->pdata;
    ws_session_t *s = ws_session(ws);
    if (s == NULL) {
        lc__conn_close(c);
        return n;
    }
    if (!wslay_event_get_read_enabled(s->ctx))
        return n;
    s->in = p;
    s->in_len = n;
    /* input is taken while its answers can be queued: a peer that does not read what it asks
     * for (pings) waits once its output is over http_server.max_output_buffer */
    int stalled = 0;
    while (s->in_len > 0 && !lc__conn_out_full(c)) {
        size_t before = s->in_len;
        s->in_recv = true;
        int r = wslay_event_recv(s->ctx);
        s->in_recv = false;
        if (c->flags & LC__CONN_CLOSED)
            return n;
        if (r == WSLAY_ERR_NOMEM) {
            lc__conn_close(c);
            return n;
        }
        if (ws->too_big) {
            ws->too_big = false;
            s->in_len = 0;
            ws_refuse_message(c, ws);
        }
        /* other errors (a protocol violation) leave a close frame queued and reading off */
        ws_pump(c, ws);
        if ((c->flags & LC__CONN_CLOSED) || !wslay_event_get_read_enabled(s->ctx)) {
            s->in_len = 0;
            break;
        }
        /* nothing taken twice in a row (the pump could not make room): wait for more */
        if (s->in_len != before)
            stalled = 0;
        else if (++stalled >= 2)
            break;
    }
    size_t used = n - s->in_len;
    s->in = NULL;
    s->in_len = 0;
    if (!(c->flags & LC__CONN_CLOSED))
        ws_session_release(ws);
    return used;
}

static void ws_on_close(lc__conn_t *c)
{
    ws_conn_t *ws = c->pdata;
    c->pdata = NULL;
    if (ws == NULL)
        return;
    if (ws->client != NULL)
        lc_client_on_close(ws->client);
    ws_session_free(ws);
    free(ws);
}

/* ---- the transport vtable ---- */

int lc__ws_send(lc_transport_t *t, lc_rcbuf_t *frame)
{
    lc__conn_t *c = lc__conn_of(t);
    ws_conn_t *ws = c->pdata;
    if ((c->flags & LC__CONN_CLOSED) || ws == NULL || ws->closing)
        return LC_ECLOSED;
    /* without a session no close frame was received or sent */
    if (ws->s != NULL &&
        (wslay_event_get_close_received(ws->s->ctx) || wslay_event_get_close_sent(ws->s->ctx)))
        return LC_ECLOSED;
    int64_t limit = ws_config(ws)->queue_max_size;
    return lc__conn_write(c, frame, limit > 0 ? (size_t)limit : 0);
}

void lc__ws_flush(lc_transport_t *t)
{
    lc__conn_flush(lc__conn_of(t));
}

/* Longest prefix of s that fits a close frame without cutting a UTF-8 sequence. */
static size_t reason_len(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n <= WS_CLOSE_REASON_MAX)
        return n;
    n = WS_CLOSE_REASON_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    return n;
}

void lc__ws_close(lc_transport_t *t, uint32_t code, const char *reason, lc_rcbuf_t *last)
{
    lc__conn_t *c = lc__conn_of(t);
    ws_conn_t *ws = c->pdata;
    if ((c->flags & LC__CONN_CLOSED) || ws == NULL || ws->closing)
        return;
    ws->closing = true; /* keeps the session until the connection goes */
    /* no data frame may follow a close frame, the peer's answered one included */
    bool open = ws->s == NULL || (!wslay_event_get_close_received(ws->s->ctx) &&
                                  !wslay_event_get_close_sent(ws->s->ctx));
    if (last != NULL && open && lc__conn_write(c, last, 0) < 0) {
        lc__conn_fail(c);
        return;
    }
    ws_session_t *s = ws_session(ws);
    if (s == NULL) {
        lc__conn_fail(c);
        return;
    }
    int r = wslay_event_queue_close(s->ctx, (uint16_t)code, (const uint8_t *)reason,
                                    reason_len(reason));
    if (r != 0 && r != WSLAY_ERR_NO_MORE_MSG) {
        lc__conn_fail(c);
        return;
    }
    ws_pump(c, ws);
}

static void ws_close(lc_transport_t *t, uint32_t code, const char *reason)
{
    lc__ws_close(t, code, reason, NULL);
}

void lc__ws_ping(lc_transport_t *t)
{
    lc__conn_t *c = lc__conn_of(t);
    ws_conn_t *ws = c->pdata;
    if ((c->flags & LC__CONN_CLOSED) || ws == NULL || ws->closing)
        return;
    ws_session_t *s = ws_session(ws);
    if (s == NULL)
        return; /* no ping this time: the pong deadline decides */
    struct wslay_event_msg msg = {WSLAY_PING, NULL, 0};
    if (wslay_event_queue_msg(s->ctx, &msg) == 0)
        ws_pump(c, ws);
    if (!(c->flags & LC__CONN_CLOSED))
        ws_session_release(ws);
}

static const lc_transport_vt_t ws_vt = LC__WS_VT("websocket", lc__ws_text_frame, ws_close);

static const lc_transport_vt_t ws_pb_vt = LC__WS_VT("websocket", ws_pb_frame, ws_close);

static void ws_on_stop(lc__conn_t *c)
{
    c->t.vt->close(&c->t, 3001, "shutdown");
}

/* websocket.handshake_timeout: upgraded, and no complete first message since. */
static void ws_on_timeout(lc__conn_t *c, int kind)
{
    lc_log_debug("websocket: no first message within websocket.handshake_timeout");
    c->t.vt->close(&c->t, LC_DISCONNECT_STALE, "stale");
}

static const lc__conn_proto_t ws_proto = {
    .on_data = ws_on_data,
    .on_close = ws_on_close,
    .on_stop = ws_on_stop,
    .on_timeout = ws_on_timeout,
};

/* ---- the upgrade handshake ---- */

/* Whether a comma-separated header value lists token (case-insensitive). */
static bool has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        size_t trimmed = len;
        while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t'))
            trimmed--;
        if (trimmed == tl && strncasecmp(p, token, tl) == 0)
            return true;
        p = end;
    }
    return false;
}

static void respond_text(lc_http_req_t *req, int status, const char *text, const char *extra)
{
    lc_http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text), extra);
}

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + GUID)). NULL on OOM. */
static char *accept_value(const char *key)
{
    char buf[128];
    size_t kl = strlen(key);
    if (kl + sizeof(WS_GUID) > sizeof(buf))
        return NULL;
    /* hashed with its length, never read as a string */
    memcpy(buf, key, kl); // NOLINT(bugprone-not-null-terminated-result)
    memcpy(buf + kl, WS_GUID, sizeof(WS_GUID) - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, kl + sizeof(WS_GUID) - 1, md);
    return lc_base64_encode(md, sizeof(md), NULL);
}

static bool key_valid(const char *key)
{
    if (key == NULL)
        return false;
    size_t n = 0;
    unsigned char *raw = lc_base64_decode(key, strlen(key), &n);
    free(raw);
    return raw != NULL && n == 16;
}

static const lc__ws_kind_t ws_kind = {
    .vt = &ws_vt,
    .framing = LC_FRAMING_WS_TEXT,
    .mode = LC_CLIENT_BIDI,
};

static const lc__ws_kind_t ws_pb_kind = {
    .vt = &ws_pb_vt,
    .framing = LC_FRAMING_WS_PB,
    .mode = LC_CLIENT_BIDI,
};

static bool wants_protobuf(lc_http_req_t *req, const char *protocols)
{
    char v[32];
    if (protocols != NULL && has_token(protocols, "centrifuge-protobuf") &&
        !has_token(protocols, "centrifuge-json"))
        return true;
    const char *q = lc_http_req_query_param(req, "cf_protocol", v, sizeof(v));
    if (q == NULL)
        q = lc_http_req_query_param(req, "format", v, sizeof(v));
    return q != NULL && strcmp(q, "protobuf") == 0;
}

void lc__ws_accept(lc_http_req_t *req, const lc__ws_kind_t *kind, int64_t max_msg,
                   const char *first, size_t first_len)
{
    lc__ws_accept_opts(req, kind, max_msg, first, first_len, NULL);
}

void lc__ws_accept_opts(lc_http_req_t *req, const lc__ws_kind_t *kind, int64_t max_msg,
                        const char *first, size_t first_len, const lc_client_opts_t *extra)
{
    const lc_config_t *cfg = lc_worker_config(lc_http_req_worker(req));
    if (strcmp(lc_http_req_method(req), "GET") != 0) {
        respond_text(req, 405, "Method Not Allowed\n", "Allow: GET\r\n");
        return;
    }
    const char *upgrade = lc_http_req_header(req, "Upgrade");
    const char *connection = lc_http_req_header(req, "Connection");
    if (upgrade == NULL || !has_token(upgrade, "websocket") || connection == NULL ||
        !has_token(connection, "upgrade")) {
        respond_text(req, 400, "Bad Request: not a WebSocket handshake\n", NULL);
        return;
    }
    const char *version = lc_http_req_header(req, "Sec-WebSocket-Version");
    if (version == NULL || strcmp(version, "13") != 0) {
        respond_text(req, 426, "Upgrade Required: unsupported WebSocket version\n",
                     "Sec-WebSocket-Version: 13\r\n");
        return;
    }
    const char *key = lc_http_req_header(req, "Sec-WebSocket-Key");
    if (!key_valid(key)) {
        respond_text(req, 400, "Bad Request: invalid Sec-WebSocket-Key\n", NULL);
        return;
    }
    const char *origin = lc_http_req_header(req, "Origin");
    if (!kind->server_first && !lc__http_origin_allowed(cfg, origin)) {
        lc_log_info("%s upgrade from %s refused: origin %s not allowed", kind->vt->name,
                    lc_http_req_remote(req), origin);
        respond_text(req, 403, "Forbidden\n", NULL);
        return;
    }
    const char *protocols = lc_http_req_header(req, "Sec-WebSocket-Protocol");
    bool pb = wants_protobuf(req, protocols);
    if (pb && kind != &ws_kind) {
        /* uni_websocket speaks JSON only, as in Centrifugo */
        lc_log_info("%s upgrade from %s refused: protobuf encoding is not supported there",
                    kind->vt->name, lc_http_req_remote(req));
        respond_text(req, 400, "Bad Request: protobuf encoding is not supported\n", NULL);
        return;
    }
    if (pb)
        kind = &ws_pb_kind;
    const char *answer = NULL; /* the subprotocol answered, as the client listed it */
    if (protocols != NULL && pb && has_token(protocols, "centrifuge-protobuf"))
        answer = "Sec-WebSocket-Protocol: centrifuge-protobuf\r\n";
    else if (protocols != NULL && !pb && has_token(protocols, "centrifuge-json"))
        answer = "Sec-WebSocket-Protocol: centrifuge-json\r\n";
    char v[16];
    const char *ping = lc_http_req_query_param(req, "cf_ws_frame_ping_pong", v, sizeof(v));
    lc_client_opts_t opts = {
        .mode = kind->mode,
        .native_ping = kind->native_ping || (ping != NULL && strcmp(ping, "true") == 0),
        .protobuf = pb,
        .pusher_app = extra ? extra->pusher_app : NULL,
        .pusher_refuse = extra ? extra->pusher_refuse : 0,
    };

    /* The request is gone after the upgrade: the session gets the headers from a copy. */
    size_t n_hdrs = 0;
    lc_client_header_t *hdrs = lc__http_copy_headers(req, &n_hdrs);
    char *acc = accept_value(key);
    ws_conn_t *ws = calloc(1, sizeof(*ws));
    if (acc == NULL || ws == NULL) {
        free(acc);
        free(ws);
        free(hdrs);
        respond_text(req, 500, "Internal Server Error\n", NULL);
        return;
    }
    ws->kind = kind;
    ws->max_msg = max_msg <= 0 ? 0 : max_msg > UINT32_MAX ? UINT32_MAX : (uint32_t)max_msg;

    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
                      acc, answer != NULL ? answer : "");
    free(acc);
    lc__conn_t *c = lc__http_upgrade(req, head, (size_t)hl, &ws_proto, ws);
    if (c == NULL) {
        free(ws);
        free(hdrs);
        return;
    }
    ws->conn = c;
    if (cfg->write_delay_ms > 0)
        c->flags |= LC__CONN_DELAYED;
    c->t.vt = kind->vt;
    c->t.framing = kind->framing;
    if (!lc__conn_session_admit(c)) {
        lc_log_info("%s connection refused: client.connection_limit %d reached", kind->vt->name,
                    cfg->connection_limit);
        free(hdrs);
        c->t.vt->close(&c->t, LC_DISCONNECT_CONNECTION_LIMIT, "connection limit");
        return;
    }
    /* the first message may have come with the request (uni_websocket's cf_connect) */
    if (first == NULL && !kind->server_first)
        lc__conn_timeout(c, LC__T_HANDSHAKE);
    ws->got_message = first != NULL;
    opts.headers = hdrs;
    opts.n_headers = n_hdrs;
    ws->client = lc_client_new(&c->t, &opts);
    free(hdrs);
    if (ws->client == NULL) {
        lc__conn_close(c);
        return;
    }
    if (first != NULL && kind->on_first != NULL) {
        ws->first_done = true;
        kind->on_first(&c->t, ws->client, first, first_len);
    }
}

static void on_upgrade_request(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    lc__ws_accept(req, &ws_kind, cfg->websocket_message_size_limit, NULL, 0);
}

int lc_ws_register(lc_router_t *r, const lc_config_t *cfg)
{
    if (cfg->websocket_disabled)
        return 0;
    const char *prefix = cfg->websocket_prefix != NULL && cfg->websocket_prefix[0] != '\0'
                             ? cfg->websocket_prefix
                             : "/connection/websocket";
    return lc_router_add(r, prefix, true, on_upgrade_request, (void *)cfg);
}
