/* Server API: routing, authentication, the request-level call that runs method commands and
 * writes the response, and the helpers every method shares. Every method answers HTTP 200 with
 * {"result":...} or {"error":{"code":N,"message":...}} (or, in the transport error mode, an
 * HTTP status and a bare error object); a body that is not a JSON object gets 400 with error
 * 107 in the body. */
#include "api/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/ct.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

#define JSON_TYPE "application/json"

struct lc__api_call {
    lc__api_t *api;
    lc_http_req_t *req; /* NULL once the peer has gone */
    int kind;           /* enum lc__api_call_kind */
    bool transport;     /* transport error mode */
    bool parallel;
    bool advancing; /* inside call_advance: answers only count, the loop goes on */
    size_t n, started, answered;
    cJSON *own;
    lc__api_done_fn done; /* LC__API_INTERNAL: gets the answers instead of the peer */
    void *done_arg;
    lc__api_cmd_t cmds[];
};

static const lc__api_method_t methods[] = {
    {"publish", 0, lc__api_publish},
    {"broadcast", 1, lc__api_broadcast},
    {"unsubscribe", 2, lc__api_unsubscribe},
    {"disconnect", 3, lc__api_disconnect},
    {"presence", 4, lc__api_presence},
    {"presence_stats", 5, lc__api_presence_stats},
    {"history", 6, lc__api_history},
    {"history_remove", 7, lc__api_history_remove},
    {"channels", 8, lc__api_channels},
    {"info", 9, lc__api_info},
    {"rpc", 10, lc__api_rpc},
    {"subscribe", 11, lc__api_subscribe},
    {"refresh", 12, lc__api_refresh},
    /* v6.8 map channels (api_map.c): no legacy numbers */
    {"map_publish", -1, lc__api_map_publish},
    {"map_remove", -1, lc__api_map_remove},
    {"map_read_state", -1, lc__api_map_read_state},
    {"map_read_stream", -1, lc__api_map_read_stream},
    {"map_stats", -1, lc__api_map_stats},
    {"map_clear", -1, lc__api_map_clear},
};
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

const lc__api_method_t *lc__api_method_find(const char *name, bool ignore_case)
{
    for (size_t i = 0; i < N_METHODS; i++)
        if ((ignore_case ? strcasecmp : strcmp)(name, methods[i].name) == 0)
            return &methods[i];
    return NULL;
}

const lc__api_method_t *lc__api_method_legacy(long num)
{
    for (size_t i = 0; i < N_METHODS && num >= 0; i++)
        if (methods[i].legacy == num)
            return &methods[i];
    return NULL;
}

/* --- errors -------------------------------------------------------------------------------- */

const char *lc__api_error_message(uint32_t code)
{
    /* The server API words 104 differently from the client protocol. */
    return code == LC_ERROR_METHOD_NOT_FOUND ? "not found" : lc_error_message(code);
}

/* The detail of the 107 being answered by this thread's current command. */
static _Thread_local char bad_why[160];

uint32_t lc__api_bad(const char *field, const char *what)
{
    snprintf(bad_why, sizeof(bad_why), "%s: %s", field, what);
    return LC_ERROR_BAD_REQUEST;
}

int lc__api_append_error_why(lc_buf_t *b, uint32_t code, const char *why, bool wrapped)
{
    const char *msg = lc__api_error_message(code);
    int rc = lc_buf_printf(b, "%s{\"code\":%u,\"message\":", wrapped ? "{\"error\":" : "", code);
    if (why && *why) {
        lc_buf_t m = LC_BUF_INIT;
        rc |= lc_buf_printf(&m, "%s: %s", msg, why);
        rc |= lc_buf_append_json_str(b, m.data ? m.data : msg, m.data ? m.len : strlen(msg));
        lc_buf_free(&m);
    } else {
        rc |= lc_buf_append_json_str(b, msg, strlen(msg));
    }
    return rc | lc_buf_append_str(b, wrapped ? "}}" : "}");
}

int lc__api_append_error(lc_buf_t *b, uint32_t code, bool wrapped)
{
    return lc__api_append_error_why(b, code, NULL, wrapped);
}

/* HTTP status of an error in the transport error mode (spec §4.1). */
static int transport_status(uint32_t code)
{
    switch (code) {
    case LC_ERROR_UNKNOWN_CHANNEL:
    case LC_ERROR_METHOD_NOT_FOUND:
        return 404;
    case LC_ERROR_BAD_REQUEST:
    case LC_ERROR_NOT_AVAILABLE:
        return 400;
    case LC_ERROR_UNRECOVERABLE_POSITION:
        return 416;
    default:
        return 500;
    }
}

bool lc__api_transport_mode(lc_http_req_t *req)
{
    const char *m = lc_http_req_header(req, "X-Centrifugo-Error-Mode");
    return m && strcasecmp(m, "transport") == 0;
}

static void respond_buf(lc_http_req_t *req, int status, const lc_buf_t *b)
{
    lc_http_respond(req, status, JSON_TYPE, b->data ? b->data : "", b->len, NULL);
}

void lc__api_respond_error(lc_http_req_t *req, int status, uint32_t code)
{
    lc__api_respond_error_why(req, status, code, NULL);
}

void lc__api_respond_error_why(lc_http_req_t *req, int status, uint32_t code, const char *why)
{
    bool transport = lc__api_transport_mode(req);
    lc_buf_t b = LC_BUF_INIT;
    lc__api_append_error_why(&b, code, why, !transport);
    respond_buf(req, transport ? transport_status(code) : status, &b);
    lc_buf_free(&b);
}

/* --- parameters ---------------------------------------------------------------------------- */

static const cJSON *member(const cJSON *p, const char *key)
{
    const cJSON *it = p ? cJSON_GetObjectItemCaseSensitive(p, key) : NULL;
    return cJSON_IsNull(it) ? NULL : it;
}

uint32_t lc__api_get_str(const cJSON *p, const char *key, const char **out)
{
    const cJSON *it = member(p, key);
    if (!it)
        return 0;
    if (!cJSON_IsString(it))
        return lc__api_bad(key, "expected a string");
    *out = it->valuestring;
    return 0;
}

uint32_t lc__api_get_bool(const cJSON *p, const char *key, bool *out)
{
    const cJSON *it = member(p, key);
    if (!it)
        return 0;
    if (!cJSON_IsBool(it))
        return lc__api_bad(key, "expected true or false");
    *out = cJSON_IsTrue(it);
    return 0;
}

uint32_t lc__api_get_int(const cJSON *p, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const cJSON *it = member(p, key);
    if (!it)
        return 0;
    if (!cJSON_IsNumber(it))
        return lc__api_bad(key, "expected an integer");
    double v = it->valuedouble;
    /* 2^53: the largest magnitude a double holds exactly */
    if (v != floor(v) || fabs(v) > 9007199254740992.0 || v < (double)min || v > (double)max)
        return lc__api_bad(key, "integer out of range");
    *out = (int64_t)v;
    return 0;
}

bool lc__api_json_ok(const char *body, size_t len)
{
    static const char *const data_only[] = {"data", "stream_data", NULL};
    lc_json_check_t chk;
    if (body == NULL || !lc_json_check(body, len, &chk))
        return false;
    return !chk.nul || !lc_json_nul_outside(body, len, 0, data_only);
}

uint32_t lc__api_get_raw(const char *params, size_t len, const char *key, lc_raw_t *out)
{
    out->p = NULL;
    out->len = 0;
    if (!params || !len)
        return 0;
    const char *path[] = {key};
    int rc = lc_json_raw_get(params, len, path, 1, out);
    if (rc < 0)
        return lc__api_bad(key, "not valid JSON");
    if (rc == 0) {
        out->p = NULL;
        out->len = 0;
    }
    return 0;
}

uint32_t lc__api_channel_opts(const lc__api_t *a, const char *ch, lc_ns_opts_t *scratch,
                              const lc_ns_opts_t **opts)
{
    size_t len = strlen(ch);
    if (len == 0)
        return lc__api_bad("channel", "required");
    if ((int64_t)len > a->cfg->channel_max_length)
        return lc__api_bad("channel", "longer than channel.max_length");
    *opts = lc_config_resolve_channel(a->cfg, ch, len, NULL, scratch);
    return *opts ? 0 : LC_ERROR_UNKNOWN_CHANNEL;
}

uint32_t lc__api_get_channel(const lc__api_t *a, const cJSON *p, const char **ch,
                             lc_ns_opts_t *scratch, const lc_ns_opts_t **opts)
{
    const char *s = NULL;
    uint32_t code = lc__api_get_str(p, "channel", &s);
    if (code)
        return code;
    if (!s || !*s)
        return lc__api_bad("channel", "required");
    *ch = s;
    return lc__api_channel_opts(a, s, scratch, opts);
}

/* --- the call ------------------------------------------------------------------------------ */

static void call_advance(lc__api_call_t *call);

static void on_cancel(void *arg)
{
    lc__api_call_t *call = arg;
    lc_log_debug("api: the peer left before the answer (%zu of %zu commands answered)",
                 call->answered, call->n);
    call->req = NULL;
    /* Nothing in flight: nobody else will come back to free it. */
    if (!call->advancing && call->answered == call->started)
        call_advance(call);
}

lc__api_call_t *lc__api_call_new(lc__api_t *a, lc_http_req_t *req, int kind, size_t n, cJSON *own)
{
    lc__api_call_t *call = calloc(1, sizeof(*call) + n * sizeof(call->cmds[0]));
    if (!call)
        return NULL;
    call->api = a;
    call->req = req;
    call->kind = kind;
    call->transport = kind == LC__API_SINGLE && lc__api_transport_mode(req);
    call->n = n;
    call->own = own;
    for (size_t i = 0; i < n; i++) {
        call->cmds[i].call = call;
        call->cmds[i].api = a;
        call->cmds[i].error = LC_ERROR_BAD_REQUEST;
    }
    lc_http_req_set_cancel(req, on_cancel, call);
    return call;
}

lc__api_call_t *lc__api_call_new_internal(lc__api_t *a, lc_http_req_t *req, size_t n, cJSON *own,
                                          lc__api_done_fn done, void *arg)
{
    lc__api_call_t *call = lc__api_call_new(a, req, LC__API_INTERNAL, n, own);
    if (call) {
        call->done = done;
        call->done_arg = arg;
    }
    return call;
}

size_t lc__api_call_size(const lc__api_call_t *call)
{
    return call->n;
}

lc__api_cmd_t *lc__api_call_cmd(lc__api_call_t *call, size_t i)
{
    return &call->cmds[i];
}

static void call_free(lc__api_call_t *call)
{
    for (size_t i = 0; i < call->n; i++) {
        lc_buf_free(&call->cmds[i].result);
        free(call->cmds[i].why);
        cJSON_Delete(call->cmds[i].own);
    }
    cJSON_Delete(call->own);
    free(call);
}

static int append_reply(lc_buf_t *b, const lc__api_cmd_t *c, int kind)
{
    int rc = 0;
    if (kind == LC__API_LEGACY) {
        rc |= lc_buf_putc(b, '{');
        if (c->id)
            rc |= lc_buf_printf(b, "\"id\":%u,", c->id);
        if (c->error) {
            rc |= lc_buf_append_str(b, "\"error\":");
            rc |= lc__api_append_error_why(b, c->error, c->why, false);
        } else {
            rc |= lc_buf_append_str(b, "\"result\":");
            rc |= lc_buf_append(b, c->result.data, c->result.len);
        }
        return rc | lc_buf_putc(b, '}');
    }
    if (c->error)
        return lc__api_append_error_why(b, c->error, c->why, true);
    /* a batch reply is keyed by its method; a single one is the result envelope */
    const char *key = kind == LC__API_BATCH ? c->method->name : "result";
    rc |= lc_buf_printf(b, "{\"%s\":", key);
    rc |= lc_buf_append(b, c->result.data, c->result.len);
    return rc | lc_buf_putc(b, '}');
}

static void call_respond(lc__api_call_t *call)
{
    lc_buf_t b = LC_BUF_INIT;
    int status = 200, rc = 0;
    if (call->kind == LC__API_SINGLE) {
        const lc__api_cmd_t *c = &call->cmds[0];
        if (c->error && call->transport) {
            status = transport_status(c->error);
            rc = lc__api_append_error_why(&b, c->error, c->why, false);
        } else {
            rc = append_reply(&b, c, LC__API_SINGLE);
        }
    } else {
        if (call->kind == LC__API_BATCH)
            rc |= lc_buf_append_str(&b, "{\"result\":{\"replies\":[");
        for (size_t i = 0; i < call->n; i++) {
            if (i)
                rc |= lc_buf_putc(&b, call->kind == LC__API_BATCH ? ',' : '\n');
            rc |= append_reply(&b, &call->cmds[i], call->kind);
        }
        if (call->kind == LC__API_BATCH)
            rc |= lc_buf_append_str(&b, "]}}");
    }
    if (rc != 0) {
        lc_log_error("api: response to %s not built: out of memory", lc_http_req_remote(call->req));
        lc_http_respond(call->req, 500, "text/plain", "", 0, NULL);
    } else {
        respond_buf(call->req, status, &b);
    }
    lc_buf_free(&b);
}

static void cmd_start(lc__api_cmd_t *c)
{
    if (!c->method) {
        lc__api_fail(c, c->error);
        return;
    }
    c->error = 0;
    bad_why[0] = '\0';
    c->method->run(c, c->params, c->len, c->p);
}

/* Start what may start, and respond and free once every started command has answered. */
static void call_advance(lc__api_call_t *call)
{
    if (call->advancing)
        return;
    call->advancing = true;
    while (call->req && call->started < call->n &&
           (call->parallel || call->answered == call->started))
        cmd_start(&call->cmds[call->started++]);
    call->advancing = false;
    if (call->answered < call->started)
        return; /* answers still to come: the last one comes back here */
    if (call->done)
        call->done(call->done_arg, call, call->req == NULL);
    else if (call->req)
        call_respond(call);
    call_free(call);
}

void lc__api_call_abort(lc__api_call_t *call)
{
    lc_http_req_set_cancel(call->req, NULL, NULL);
    call_free(call);
}

void lc__api_call_run(lc__api_call_t *call, bool parallel)
{
    call->parallel = parallel;
    call_advance(call);
}

static void cmd_answered(lc__api_cmd_t *c)
{
    lc__api_call_t *call = c->call;
    lc_metrics_api(c->method ? c->method->name : NULL, c->error == 0);
    if (c->error && c->error != LC_ERROR_INTERNAL) {
        /* internal errors were logged with their cause where they happened */
        lc_log_info("api %s from %s: error %u %s%s%s", c->method ? c->method->name : "command",
                    call->req ? lc_http_req_remote(call->req) : "(gone)", c->error,
                    lc__api_error_message(c->error), c->why ? ": " : "", c->why ? c->why : "");
    }
    call->answered++;
    call_advance(call);
}

void lc__api_ok(lc__api_cmd_t *c)
{
    c->error = 0;
    if (c->result.len == 0 && lc_buf_append_str(&c->result, "{}") != 0)
        c->error = LC_ERROR_INTERNAL;
    cmd_answered(c);
}

void lc__api_fail(lc__api_cmd_t *c, uint32_t code)
{
    c->error = code ? code : LC_ERROR_INTERNAL;
    if (code == LC_ERROR_BAD_REQUEST && bad_why[0] && !c->why)
        c->why = strdup(bad_why);
    bad_why[0] = '\0';
    lc_buf_reset(&c->result);
    cmd_answered(c);
}

/* --- rpc ---------------------------------------------------------------------------------- */

/* No server-side RPC extensions exist: every method is unknown. */
void lc__api_rpc(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *method = NULL;
    uint32_t code = lc__api_get_str(p, "method", &method);
    if (!code && (!method || !*method))
        code = lc__api_bad("method", "required");
    lc__api_fail(c, code ? code : LC_ERROR_METHOD_NOT_FOUND);
}

/* --- routing --------------------------------------------------------------------------------- */

/* X-API-Key, else `Authorization: apikey KEY` (scheme case-insensitive), else ?api_key=.
 * NULL when admitted, else why not (for the 401 body). */
/* Why a request is not admitted: the message, and the whole 401 body (static, so that the
 * header-time check can hand it to the HTTP layer). */
#define NO_KEY "no API key is configured (set http_api.key, or http_api.insecure for local use)"
#define MISSING_KEY                                                                                \
    "missing API key: send it in the X-API-Key header (or Authorization: apikey KEY)"
#define WRONG_KEY "wrong API key: it does not match http_api.key"
#define UNAUTHORIZED_BODY(m) "{\"error\":{\"code\":101,\"message\":\"unauthorized: " m "\"}}"

typedef struct refusal {
    const char *why;
    const char *body;
} refusal_t;

static const refusal_t no_key = {NO_KEY, UNAUTHORIZED_BODY(NO_KEY)};
static const refusal_t missing_key = {MISSING_KEY, UNAUTHORIZED_BODY(MISSING_KEY)};
static const refusal_t wrong_key = {WRONG_KEY, UNAUTHORIZED_BODY(WRONG_KEY)};

static const refusal_t *unauthorized(const lc__api_t *a, lc_http_req_t *req)
{
    if (a->cfg->http_api_insecure)
        return NULL;
    const char *want = a->cfg->http_api_key;
    if (!want || !*want)
        return &no_key;
    const char *got = lc_http_req_header(req, "X-API-Key");
    char qbuf[256];
    if (!got) {
        const char *auth = lc_http_req_header(req, "Authorization");
        if (auth && strncasecmp(auth, "apikey ", 7) == 0) {
            got = auth + 7;
            while (*got == ' ')
                got++;
        }
    }
    if (!got)
        got = lc_http_req_query_param(req, "api_key", qbuf, sizeof(qbuf));
    if (!got)
        return &missing_key;
    if (!lc_ct_equal(got, strlen(got), want, strlen(want)))
        return &wrong_key;
    return NULL;
}

/* The checks every API route makes first: POST only (405 before anything else), then the key
 * (401 with a JSON body saying what is wrong, never the key). True when the request may go
 * on. */
static bool admit(const lc__api_t *a, lc_http_req_t *req)
{
    if (strcmp(lc_http_req_method(req), "POST") != 0) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18, "Allow: POST\r\n");
        return false;
    }
    if (lc_worker_stopping(lc_http_req_worker(req))) {
        /* not acknowledged, so the caller knows to retry elsewhere: what is accepted now could
         * reach a worker that has already closed its sessions */
        static const char body[] = "{\"status\":\"shutting down\"}";
        lc_http_respond(req, 503, JSON_TYPE, body, sizeof(body) - 1, NULL);
        return false;
    }
    const refusal_t *no = unauthorized(a, req);
    if (no) {
        lc_log_info("api: unauthorized request to %s from %s: %s", lc_http_req_path(req),
                    lc_http_req_remote(req), no->why);
        lc_http_respond(req, 401, JSON_TYPE, no->body, strlen(no->body), NULL);
        return false;
    }
    return true;
}

/* admit() on the headers alone, before the body is read (lc_http_check_fn). */
static int api_check(lc_http_req_t *req, void *arg)
{
    const lc__api_t *a = arg;
    if (strcmp(lc_http_req_method(req), "POST") != 0)
        return 405;
    const refusal_t *no = unauthorized(a, req);
    if (no) {
        lc_log_info("api: unauthorized request to %s from %s: %s", lc_http_req_path(req),
                    lc_http_req_remote(req), no->why);
        lc_http_req_reject_body(req, no->body);
        return 401;
    }
    return 0;
}

static void on_api(lc_http_req_t *req, void *arg)
{
    lc__api_t *a = arg;
    const char *path = lc_http_req_path(req);
    const char *name = path + strlen(a->cfg->http_api_prefix);
    while (*name == '/')
        name++;
    if (!admit(a, req))
        return;
    lc__api_run_request(a, req, name);
}

void lc__api_run_request(lc__api_t *a, lc_http_req_t *req, const char *name)
{
    bool batch = strcmp(name, "batch") == 0;
    const lc__api_method_t *m = batch ? NULL : lc__api_method_find(name, false);
    if (!batch && !m) {
        lc_http_respond(req, 404, "text/plain", "Not Found", 9, NULL);
        return;
    }
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    cJSON *root =
        body && len && lc__api_json_ok(body, len) ? cJSON_ParseWithLength(body, len) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        lc_log_info("api %s: malformed JSON body from %s", name, lc_http_req_remote(req));
        cJSON_Delete(root);
        lc__api_respond_error_why(req, 400, LC_ERROR_BAD_REQUEST,
                                  len ? "body: expected a JSON object" : "body: empty");
        return;
    }
    if (batch) {
        lc__api_batch(a, req, body, len, root);
        return;
    }
    lc__api_call_t *call = lc__api_call_new(a, req, LC__API_SINGLE, 1, root);
    if (!call) {
        lc_log_error("api %s: out of memory", name);
        cJSON_Delete(root);
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
        return;
    }
    lc__api_cmd_t *c = lc__api_call_cmd(call, 0);
    c->method = m;
    c->params = body;
    c->len = len;
    c->p = root;
    lc__api_call_run(call, false);
}

static void on_legacy(lc_http_req_t *req, void *arg)
{
    lc__api_t *a = arg;
    if (admit(a, req))
        lc__api_legacy(a, req);
}

/* 503 once the node is shutting down, or while the engine cannot serve (Redis unreachable), so
 * that a load balancer stops sending new clients. */
static void on_health(lc_http_req_t *req, void *arg)
{
    if (lc_worker_stopping(lc_http_req_worker(req))) {
        static const char body[] = "{\"status\":\"shutting down\"}";
        lc_http_respond(req, 503, JSON_TYPE, body, sizeof(body) - 1, NULL);
        return;
    }
    lc_engine_t *e = lc_node_engine(arg);
    if (e->vt->healthy && !e->vt->healthy(e)) {
        static const char body[] = "{\"error\":\"engine unavailable\"}";
        lc_http_respond(req, 503, JSON_TYPE, body, sizeof(body) - 1, NULL);
        return;
    }
    lc_http_respond(req, 200, JSON_TYPE, "{}", 2, NULL);
}

int lc_api_register(lc_router_t *r, lc_node_t *node)
{
    const lc_config_t *cfg = lc_node_config(node);
    /* One context for the router's lifetime: the process's. */
    static lc__api_t ctx;
    ctx.node = node;
    ctx.cfg = cfg;
    if (cfg->health_enabled && lc_router_add(r, cfg->health_prefix, false, on_health, node) != 0)
        return LC_ENOMEM;
    if (lc__api_metrics_register(r, &ctx) != 0 || lc__api_admin_register(r, &ctx) != 0 ||
        lc__api_pusher_register(r, &ctx) != 0)
        return LC_ENOMEM;
    /* Other nodes' session operations and surveys run here even when this node serves no
     * HTTP API: the connections they act on may live here. */
    lc_node_on_control(node, lc__api_on_control, &ctx);
    if (cfg->http_api_disabled)
        return 0;
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/", cfg->http_api_prefix);
    if (lc_router_add_checked(r, prefix, true, on_api, api_check, &ctx) != 0)
        return LC_ENOMEM;
    /* The pre-v5 single endpoint lives at exactly the prefix (still mounted by Centrifugo v6). */
    if (cfg->http_api_prefix[0] &&
        lc_router_add_checked(r, cfg->http_api_prefix, false, on_legacy, api_check, &ctx))
        return LC_ENOMEM;
    return 0;
}
