/* Bidirectional emulation (spec §8.1). The connection request carries the connect command; the
 * stream then carries every reply and push of the session, and the commands that follow arrive
 * on POST /emulation, possibly on another connection handled by another worker: the body names
 * the session, and every worker is asked whether it holds it. */
#include "transport/sse.h"

#include <stdlib.h>
#include <string.h>

#include "core/node.h"
#include "core/ops.h"
#include "proto/pb.h"
#include "proto/request.h"
#include "transport/conn.h"
#include "transport/stream.h"
#include "util/err.h"
#include "util/log.h"

/* ---- the streams ---- */

static bool wants_protobuf(const lc_http_req_t *req)
{
    const char *ct = lc_http_req_header(req, "Content-Type");
    return ct != NULL && strncmp(ct, "application/octet-stream", 24) == 0;
}

/* POST body = the connect command (newline-joined command JSON). */
static void on_http_stream(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    lc_buf_t cors = LC_BUF_INIT;
    if (!lc__endpoint_enter(req, "POST", 200, NULL, &cors))
        goto done;
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    if (len > lc__body_limit(cfg->http_stream_max_request_body_size)) {
        lc__respond_text(req, 413, "Request Entity Too Large\n", cors.data);
    } else {
        lc__stream_start(req, wants_protobuf(req) ? &lc__stream_http_pb : &lc__stream_http,
                         cors.data, body, len);
    }
done:
    lc_buf_free(&cors);
}

/* GET ?cf_connect=<command JSON> (what browsers' EventSource can do), or POST with the command
 * as the body. */
static void on_sse(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    size_t limit = lc__body_limit(cfg->sse_max_request_body_size);
    lc_buf_t cors = LC_BUF_INIT;
    char *query = NULL;
    if (!lc__endpoint_enter(req, "GET, POST", 0, NULL, &cors))
        goto done;
    size_t len = 0;
    const char *msg = lc__connect_request(req, NULL, &query, &len, cors.data);
    if (msg == NULL)
        goto done;
    if (len > limit)
        lc__respond_text(req, 413, "Request Entity Too Large\n", cors.data);
    else
        lc__stream_start(req, &lc__stream_sse, cors.data, msg, len);
done:
    free(query);
    lc_buf_free(&cors);
}

/* ---- POST /emulation ---- */

/* One body's commands on their way through every worker; freed by the completion. */
typedef struct emu_op {
    lc_http_req_t *req; /* NULL once the peer went away */
    char *cors;         /* the response's CORS headers, NULL = none */
    char *session;
    size_t len;
    char data[]; /* the commands (JSON or Protobuf), NUL-terminated */
} emu_op_t;

static void emu_cancel(void *arg)
{
    emu_op_t *op = arg;
    op->req = NULL;
}

/* In each worker's thread: only reads the op. */
static void emu_each(lc_worker_t *w, void *arg)
{
    emu_op_t *op = arg;
    lc_ops_emulate(w, op->session, op->data, op->len);
}

/* Back in the request's worker. The replies travel on the session's stream, so the answer is
 * 204 whether or not a worker held the session (spec §8.1). */
static void emu_done(lc_worker_t *w, void *arg)
{
    emu_op_t *op = arg;
    if (op->req != NULL)
        lc_http_respond(op->req, 204, NULL, NULL, 0, op->cors);
    free(op->cors);
    free(op->session);
    free(op);
}

static emu_op_t *emu_op_new(const char *session, const char *data, size_t len, const lc_buf_t *cors)
{
    emu_op_t *op = malloc(sizeof(*op) + len + 1);
    if (op == NULL)
        return NULL;
    op->req = NULL;
    op->len = len;
    memcpy(op->data, data, len);
    op->data[len] = '\0';
    op->session = strdup(session);
    op->cors = cors->data != NULL ? strdup(cors->data) : NULL;
    if (op->session == NULL || (cors->data != NULL && op->cors == NULL)) {
        free(op->session);
        free(op->cors);
        free(op);
        return NULL;
    }
    return op;
}

/* Body: {"session":"…","node":"…","data":"<commands as a JSON string>"}, read by
 * lc_proto_emulation_parse (strict JSON: 400 when it fails), or the Protobuf EmulationRequest. */
static void on_emulation(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    lc_buf_t cors = LC_BUF_INIT;
    lc_emulation_req_t er = {0};
    lc_pb_emulation_t pbreq = {0};
    if (!lc__endpoint_enter(req, "POST", 200, NULL, &cors))
        goto done;
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    if (len > lc__body_limit(cfg->emulation_max_request_body_size)) {
        lc__respond_text(req, 413, "Request Entity Too Large\n", cors.data);
        goto done;
    }
    const char *session = NULL, *node = NULL, *data = NULL;
    size_t data_len = 0;
    if (wants_protobuf(req)) {
        /* the Protobuf EmulationRequest: its data is the session's Protobuf commands */
        if (lc_pb_emulation_decode(body, len, &pbreq) == 0) {
            session = pbreq.session;
            node = pbreq.node;
            data = (const char *)pbreq.data;
            data_len = pbreq.data_len;
        }
    } else {
        int rc = lc_proto_emulation_parse(body, len, &er);
        if (rc == LC_ENOMEM) {
            lc__respond_text(req, 500, "Internal Server Error\n", cors.data);
            goto done;
        }
        if (rc == 0) {
            session = er.session;
            node = er.node;
            data = er.data;
            data_len = er.data_len;
        }
    }
    if (session == NULL || node == NULL) {
        lc__respond_text(req, 400, "Bad Request\n", cors.data);
        goto done;
    }
    lc_worker_t *w = lc_http_req_worker(req);
    if (strcmp(node, lc_node_uid(lc_worker_node(w))) != 0) {
        lc__respond_text(req, 404, "Not Found: unknown node\n", cors.data);
        goto done;
    }
    if (data == NULL) {
        /* what the owning node does with commands it cannot read: drop them */
        lc_http_respond(req, 204, NULL, NULL, 0, cors.data);
        goto done;
    }
    emu_op_t *op = emu_op_new(session, data, data_len, &cors);
    if (op == NULL) {
        lc__respond_text(req, 500, "Internal Server Error\n", cors.data);
        goto done;
    }
    op->req = req;
    lc_http_req_set_cancel(req, emu_cancel, op);
    if (lc_ops_each_worker(lc_worker_node(w), emu_each, emu_done, op) < 0) {
        lc_http_req_set_cancel(req, NULL, NULL);
        op->req = NULL;
        emu_done(w, op);
        lc__respond_text(req, 500, "Internal Server Error\n", cors.data);
    }
done:
    lc_pb_emulation_free(&pbreq);
    lc_proto_emulation_free(&er);
    lc_buf_free(&cors);
}

/* ---- routes ---- */

static const char *prefix_or(const char *configured, const char *fallback)
{
    return configured != NULL && configured[0] != '\0' ? configured : fallback;
}

int lc_sse_register(lc_router_t *r, const lc_config_t *cfg)
{
    void *arg = (void *)cfg;
    int rc = 0;
    if (cfg->sse_enabled)
        rc = lc_router_add(r, prefix_or(cfg->sse_prefix, "/connection/sse"), false, on_sse, arg);
    if (rc == 0 && cfg->http_stream_enabled)
        rc = lc_router_add(r, prefix_or(cfg->http_stream_prefix, "/connection/http_stream"), false,
                           on_http_stream, arg);
    if (rc == 0 && (cfg->sse_enabled || cfg->http_stream_enabled))
        rc = lc_router_add(r, prefix_or(cfg->emulation_prefix, "/emulation"), false, on_emulation,
                           arg);
    return rc;
}
