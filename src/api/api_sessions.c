/* Server API methods that act on live connections (spec §4.2): subscribe, unsubscribe,
 * disconnect and refresh. Connections belong to their worker's thread, so each method becomes
 * one node-wide operation (core/ops.h): the same request runs in every worker, and the command
 * answers {} from the operation's completion in this worker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "auth/jwt.h"
#include "core/ops.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

/* Longest close reason a WebSocket close frame carries (125 bytes minus the code). */
#define REASON_MAX 123

enum sess_kind { SESS_SUBSCRIBE, SESS_UNSUBSCRIBE, SESS_DISCONNECT, SESS_REFRESH };

/* One operation, read-only while the workers run it. The strings and raw values live in
 * `arena` (copies: the request body may go away before the workers are done). */
typedef struct sess_op {
    lc__api_cmd_t *cmd; /* NULL: the request came from another node, nobody to answer */
    lc__api_t *api;
    int kind;
    lc_target_t target;
    const char *channel;
    lc_api_sub_opts_t sub;
    lc_sub_override_t override;
    const char **whitelist;
    size_t n_whitelist;
    uint32_t code;
    const char *reason;
    bool expired;
    int64_t expire_at;
    lc_raw_t info;
    size_t used, cap;
    bool overflow;
    char arena[];
} sess_op_t;

/* Copy n bytes plus a NUL into the arena. Every copied value is a distinct part of the params
 * text and no longer unescaped than there, so params' length plus one NUL per string is
 * enough; the bound is still checked. */
static const char *keep(sess_op_t *op, const char *s, size_t n)
{
    if (!s)
        return NULL;
    if (op->used + n + 1 > op->cap) {
        op->overflow = true;
        return NULL;
    }
    char *d = op->arena + op->used;
    memcpy(d, s, n);
    d[n] = '\0';
    op->used += n + 1;
    return d;
}

static const char *keep_str(sess_op_t *op, const char *s)
{
    return s ? keep(op, s, strlen(s)) : NULL;
}

static void keep_raw(sess_op_t *op, lc_raw_t *r)
{
    if (r->p)
        r->p = keep(op, r->p, r->len);
}

static void sess_op_free(sess_op_t *op)
{
    free(op->whitelist);
    free(op);
}

static void on_each(lc_worker_t *w, void *arg)
{
    const sess_op_t *op = arg;
    switch (op->kind) {
    case SESS_SUBSCRIBE:
        lc_ops_subscribe(w, &op->target, op->channel, &op->sub);
        break;
    case SESS_UNSUBSCRIBE:
        lc_ops_unsubscribe(w, &op->target, op->channel);
        break;
    case SESS_DISCONNECT:
        lc_ops_disconnect(w, &op->target, op->whitelist, op->n_whitelist, op->code, op->reason);
        break;
    case SESS_REFRESH:
        lc_ops_refresh(w, &op->target, op->expired, op->expire_at, op->info);
        break;
    }
}

static void on_done(lc_worker_t *w, void *arg)
{
    sess_op_t *op = arg;
    lc__api_cmd_t *c = op->cmd;
    sess_op_free(op);
    if (c)
        lc__api_ok(c);
}

/* A raw JSON field with its base64 twin: only the JSON form can reach JSON clients, so the
 * base64 one alone is refused. */
static uint32_t get_json_field(const char *params, size_t len, const cJSON *p, const char *key,
                               const char *b64key, lc_raw_t *out)
{
    const char *b64 = NULL;
    uint32_t code = lc__api_get_raw(params, len, key, out);
    if (!code)
        code = lc__api_get_str(p, b64key, &b64);
    if (!code && !out->p && b64 && *b64)
        code = lc__api_bad(b64key, "binary data is not supported");
    return code;
}

/* recover_since {offset, epoch} of subscribe. */
static uint32_t get_recover_since(sess_op_t *op, const cJSON *p)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(p, "recover_since");
    if (!rs || cJSON_IsNull(rs))
        return 0;
    if (!cJSON_IsObject(rs))
        return lc__api_bad("recover_since", "expected an object {offset, epoch}");
    int64_t offset = 0;
    const char *epoch = NULL;
    uint32_t code = lc__api_get_int(rs, "offset", 0, INT64_MAX, &offset);
    if (!code)
        code = lc__api_get_str(rs, "epoch", &epoch);
    if (code)
        return code;
    op->sub.has_recover_since = true;
    op->sub.recover_offset = (uint64_t)offset;
    op->sub.recover_epoch = keep_str(op, epoch ? epoch : "");
    return 0;
}

/* disconnect: whitelist and the {code, reason} object. */
static uint32_t get_disconnect(sess_op_t *op, const cJSON *p)
{
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(p, "whitelist");
    if (wl && !cJSON_IsNull(wl)) {
        if (!cJSON_IsArray(wl))
            return lc__api_bad("whitelist", "expected an array of strings");
        int n = cJSON_GetArraySize(wl);
        if (n > 0 && !(op->whitelist = calloc((size_t)n, sizeof(*op->whitelist))))
            return LC_ERROR_INTERNAL;
        const cJSON *e;
        cJSON_ArrayForEach(e, wl)
        {
            if (!cJSON_IsString(e))
                return lc__api_bad("whitelist", "expected an array of strings");
            /* whitelist is allocated whenever the array has an element */
            // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
            op->whitelist[op->n_whitelist++] = keep_str(op, e->valuestring);
        }
    }
    op->reason = "";
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "disconnect");
    if (!d || cJSON_IsNull(d))
        return 0;
    if (!cJSON_IsObject(d))
        return lc__api_bad("disconnect", "expected an object {code, reason}");
    int64_t code = 0;
    const char *reason = NULL;
    uint32_t err = lc__api_get_int(d, "code", 0, 4999, &code);
    if (!err)
        err = lc__api_get_str(d, "reason", &reason);
    /* A close frame carries application codes 3000-4999 and a short reason. */
    if (!err && code != 0 && code < 3000)
        err = lc__api_bad("disconnect.code", "expected 3000 to 4999");
    if (!err && reason && strlen(reason) > REASON_MAX)
        err = lc__api_bad("disconnect.reason", "too long");
    if (err)
        return err;
    op->code = (uint32_t)code;
    if (reason)
        op->reason = keep_str(op, reason);
    return 0;
}

/* Fields of one kind of operation into op. 0 or the error code. */
static uint32_t read_params(sess_op_t *op, const char *params, size_t len, const cJSON *p)
{
    /* session (a PRO-only target) is only checked for its type */
    const char *user = NULL, *client = NULL, *session = NULL;
    uint32_t code;
    if ((code = lc__api_get_str(p, "user", &user)) ||
        (code = lc__api_get_str(p, "client", &client)) ||
        (code = lc__api_get_str(p, "session", &session)))
        return code;

    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    const char *channel = NULL;
    if ((op->kind == SESS_SUBSCRIBE || op->kind == SESS_UNSUBSCRIBE) &&
        (code = lc__api_get_channel(op->api, p, &channel, &scratch, &ns)))
        return code;
    /* Nobody to act on. */
    if ((!user || !*user) && (!client || !*client))
        return lc__api_bad("user", "required (or client)");
    /* Map and shared poll channels are subscribed by their clients only (their phases and
     * track): never an ordinary stream subscription in their place. */
    if (op->kind == SESS_SUBSCRIBE && ns &&
        (lc_config_map_type(ns->subscription_type) ||
         ns->subscription_type == LC_SUB_TYPE_SHARED_POLL))
        return lc__api_bad("channel", "map and shared poll channels take no server-side "
                                      "subscription (the client subscribes)");
    op->target.user = keep_str(op, user);
    op->target.client = keep_str(op, client);
    op->channel = keep_str(op, channel);

    switch (op->kind) {
    case SESS_SUBSCRIBE: {
        lc_raw_t ov;
        if ((code = lc__api_get_raw(params, len, "override", &ov)))
            return code;
        if (ov.p) {
            if (lc_jwt_parse_override(ov.p, ov.len, &op->override) != 0)
                return lc__api_bad("override", "expected an object of {value} options");
            op->sub.override = &op->override;
        }
        if ((code = lc__api_get_int(p, "expire_at", 0, INT64_MAX, &op->sub.expire_at)) ||
            (code = get_json_field(params, len, p, "info", "b64info", &op->sub.info)) ||
            (code = get_json_field(params, len, p, "data", "b64data", &op->sub.data)) ||
            (code = get_recover_since(op, p)))
            return code;
        keep_raw(op, &op->sub.info);
        keep_raw(op, &op->sub.data);
        break;
    }
    case SESS_DISCONNECT:
        if ((code = get_disconnect(op, p)))
            return code;
        break;
    case SESS_REFRESH:
        if ((code = lc__api_get_bool(p, "expired", &op->expired)) ||
            (code = lc__api_get_int(p, "expire_at", 0, INT64_MAX, &op->expire_at)) ||
            (code = get_json_field(params, len, p, "info", "b64info", &op->info)))
            return code;
        keep_raw(op, &op->info);
        break;
    default:
        break;
    }
    return op->overflow ? LC_ERROR_INTERNAL : 0;
}

/* A new operation with room for params (see keep(): the params text plus a NUL per string,
 * the fixed fields and each whitelist element). */
static sess_op_t *op_new(lc__api_t *a, lc__api_cmd_t *c, int kind, size_t len, const cJSON *p)
{
    const cJSON *wl = cJSON_GetObjectItemCaseSensitive(p, "whitelist");
    size_t cap = len + 16 + (cJSON_IsArray(wl) ? (size_t)cJSON_GetArraySize(wl) : 0);
    sess_op_t *op = calloc(1, sizeof(*op) + cap);
    if (!op)
        return NULL;
    op->cmd = c;
    op->api = a;
    op->kind = kind;
    op->cap = cap;
    return op;
}

/* The same operation on every other node's connections: "<kind>\n<params>" as control data
 * (the nodes share nothing else about sessions). */
static void forward(lc__api_t *a, int kind, const char *params, size_t len)
{
    lc_buf_t b = LC_BUF_INIT;
    if (lc_buf_printf(&b, "sess %d\n", kind) == 0 && lc_buf_append(&b, params, len) == 0) {
        int rc = lc_node_send_control(a->node, b.data, b.len);
        if (rc != 0)
            lc_log_error("api: operation not sent to other nodes: %s", lc_strerror(rc));
    }
    lc_buf_free(&b);
}

static void run_op(lc__api_cmd_t *c, int kind, const char *params, size_t len, const cJSON *p)
{
    sess_op_t *op = op_new(c->api, c, kind, len, p);
    if (!op) {
        lc_log_error("api %s: out of memory", c->method->name);
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    uint32_t code = read_params(op, params, len, p);
    if (code) {
        if (code == LC_ERROR_INTERNAL)
            lc_log_error("api %s: out of memory", c->method->name);
        sess_op_free(op);
        lc__api_fail(c, code);
        return;
    }
    forward(c->api, kind, params, len);
    int rc = lc_ops_each_worker(c->api->node, on_each, on_done, op);
    if (rc != 0) {
        lc_log_error("api %s: %s", c->method->name, lc_strerror(rc));
        sess_op_free(op);
        lc__api_fail(c, LC_ERROR_INTERNAL);
    }
}

void lc__api_on_control(void *arg, const char *data, size_t len)
{
    lc__api_t *a = arg;
    if (lc__api_channels_control(a, data, len))
        return;
    int kind = -1;
    const char *nl = memchr(data, '\n', len);
    // NOLINTNEXTLINE(cert-err34-c): a line another node wrote; the kind is range-checked
    if (!nl || sscanf(data, "sess %d", &kind) != 1 || kind < SESS_SUBSCRIBE || kind > SESS_REFRESH)
        return;
    const char *params = nl + 1;
    size_t plen = len - (size_t)(params - data);
    cJSON *p = cJSON_ParseWithLength(params, plen);
    sess_op_t *op = p ? op_new(a, NULL, kind, plen, p) : NULL;
    if (!op || read_params(op, params, plen, p) != 0 ||
        lc_ops_each_worker(a->node, on_each, on_done, op) != 0) {
        lc_log_error("api operation from another node not run");
        if (op)
            sess_op_free(op);
    }
    cJSON_Delete(p);
}

void lc__api_subscribe(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    run_op(c, SESS_SUBSCRIBE, params, len, p);
}

void lc__api_unsubscribe(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    run_op(c, SESS_UNSUBSCRIBE, params, len, p);
}

void lc__api_disconnect(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    run_op(c, SESS_DISCONNECT, params, len, p);
}

void lc__api_refresh(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    run_op(c, SESS_REFRESH, params, len, p);
}
