/* The admin UI's playground: POST {prefix}/api/playground runs one command of one user through
 * the running server's decision pipeline (its config, its Lua hooks, its proxies) and answers
 * with the trace `lucent explain` prints and the reply the client would get:
 *
 *   {"command":"subscribe","target":"orders.1","user":"42"}
 *   → {"result":{"allowed":true,"exit_code":0,"trace":["channel: ...","lua: ..."],
 *                "user":null,"reply":{"id":1,"subscribe":{}}}}
 *
 * Fields: command (connect, refresh, subscribe, sub_refresh, publish, rpc), target (channel or
 * method), data (any JSON value, kept byte for byte), user, client, claims (an object, signed
 * with the config's HMAC key into the command's token), token, subscribed, no_proxy,
 * at_expiry (refresh, sub_refresh: as the server asks the refresh proxies). Admitted
 * by api_admin.c (login cookie, X-Lucent-Admin header); every field is bounded, and a bad one
 * is 400 with a message naming it.
 *
 * The pipeline runs on the worker that received the request, with that worker's VM and HTTP
 * client; the answer goes out when the verdict arrives, or 504 after PLAYGROUND_TIMEOUT_MS.
 * A peer that leaves first cancels it. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

#define PLAYGROUND_TIMEOUT_MS 10000
#define NAME_MAX_LEN 256   /* user, client, command */
#define TOKEN_MAX_LEN 8192 /* token, claims */
#define DATA_MAX_LEN 65536 /* data */
#define JSON_TYPE "application/json"

typedef struct play {
    uv_timer_t timer;   /* first: freed by its close callback */
    lc_http_req_t *req; /* NULL once answered or the peer left */
    lc_explain_t *run;  /* the pending run, NULL otherwise */
} play_t;

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The request to answer, no longer watched for the peer leaving (answering frees it), or NULL
 * when it is gone. */
static lc_http_req_t *take_req(play_t *p)
{
    lc_http_req_t *req = p->req;
    if (req)
        lc_http_req_set_cancel(req, NULL, NULL);
    p->req = NULL;
    return req;
}

static void play_end(play_t *p)
{
    take_req(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_closed);
}

static void respond(lc_http_req_t *req, const lc_explain_result_t *r)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *res = cJSON_AddObjectToObject(root, "result");
    cJSON_AddBoolToObject(res, "allowed", r->rc == 0);
    cJSON_AddNumberToObject(res, "exit_code", r->rc);
    cJSON *lines = cJSON_AddArrayToObject(res, "trace");
    for (size_t i = 0; i < lc_decide_trace_count(r->trace); i++)
        cJSON_AddItemToArray(lines, cJSON_CreateString(lc_decide_trace_line(r->trace, i)));
    if (r->user)
        cJSON_AddStringToObject(res, "user", r->user);
    else
        cJSON_AddNullToObject(res, "user");
    if (r->reply[0] == '{')
        cJSON_AddRawToObject(res, "reply", r->reply);
    else
        cJSON_AddStringToObject(res, "reply", r->reply);
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (json)
        lc_http_respond(req, 200, JSON_TYPE, json, strlen(json), "Cache-Control: no-store\r\n");
    else
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
    free(json);
}

static void on_explained(void *arg, const lc_explain_result_t *r)
{
    play_t *p = arg;
    p->run = NULL;
    lc_http_req_t *req = take_req(p);
    if (req)
        respond(req, r);
    play_end(p);
}

static void on_timeout(uv_timer_t *t)
{
    play_t *p = t->data;
    lc_explain_cancel(p->run);
    p->run = NULL;
    lc_log_warn("admin playground: the pipeline did not answer within %d ms",
                PLAYGROUND_TIMEOUT_MS);
    lc_http_req_t *req = take_req(p);
    if (req)
        lc__api_admin_error(req, 504, "the decision did not come within 10 s");
    play_end(p);
}

static void on_peer_left(void *arg)
{
    play_t *p = arg;
    p->req = NULL;
    lc_explain_cancel(p->run);
    p->run = NULL;
    play_end(p);
}

/* A string field at most max bytes long; absent or null leaves *out. false after answering
 * 400. */
static bool get_str(lc_http_req_t *req, const cJSON *p, const char *key, size_t max,
                    const char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
    char msg[96];
    if (!v || cJSON_IsNull(v))
        return true;
    if (!cJSON_IsString(v))
        snprintf(msg, sizeof(msg), "%s: expected a string", key);
    else if (strlen(v->valuestring) > max)
        snprintf(msg, sizeof(msg), "%s: longer than %zu bytes", key, max);
    else {
        *out = v->valuestring;
        return true;
    }
    lc__api_admin_error(req, 400, msg);
    return false;
}

static bool get_bool(lc_http_req_t *req, const cJSON *p, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
    if (!v || cJSON_IsNull(v))
        return true;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return true;
    }
    char msg[96];
    snprintf(msg, sizeof(msg), "%s: expected true or false", key);
    lc__api_admin_error(req, 400, msg);
    return false;
}

/* A JSON value field as its raw text, copied (NUL-terminated) into *out; absent leaves it. */
static bool get_raw(lc_http_req_t *req, const char *body, size_t len, const cJSON *p,
                    const char *key, size_t max, char **out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, key);
    if (!v || cJSON_IsNull(v))
        return true;
    lc_raw_t raw;
    char msg[96];
    if (lc__api_get_raw(body, len, key, &raw) != 0 || !raw.p)
        snprintf(msg, sizeof(msg), "%s: not valid JSON", key);
    else if (raw.len > max)
        snprintf(msg, sizeof(msg), "%s: longer than %zu bytes", key, max);
    else if (memchr(raw.p, '\0', raw.len))
        snprintf(msg, sizeof(msg), "%s: holds a NUL byte", key);
    else {
        *out = strndup(raw.p, raw.len);
        if (*out)
            return true;
        snprintf(msg, sizeof(msg), "out of memory");
    }
    lc__api_admin_error(req, 400, msg);
    return false;
}

void lc__api_playground(lc__api_t *a, lc_http_req_t *req, const cJSON *p)
{
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    lc_explain_args_t args = {.client = "playground"};
    char *data = NULL, *claims = NULL;
    int64_t max_target = a->cfg->channel_max_length > 0 ? a->cfg->channel_max_length : 255;
    if (!lc__api_json_ok(body, len)) {
        lc__api_admin_error(req, 400, "body: not valid JSON");
        return;
    }
    if (!get_str(req, p, "command", NAME_MAX_LEN, &args.command) ||
        !get_str(req, p, "target", (size_t)max_target, &args.target) ||
        !get_str(req, p, "user", NAME_MAX_LEN, &args.user) ||
        !get_str(req, p, "client", NAME_MAX_LEN, &args.client) ||
        !get_str(req, p, "token", TOKEN_MAX_LEN, &args.token) ||
        !get_bool(req, p, "subscribed", &args.subscribed) ||
        !get_bool(req, p, "no_proxy", &args.no_proxy) ||
        !get_bool(req, p, "at_expiry", &args.at_expiry) ||
        !get_raw(req, body, len, p, "data", DATA_MAX_LEN, &data) ||
        !get_raw(req, body, len, p, "claims", TOKEN_MAX_LEN, &claims))
        goto done;
    if (!args.command) {
        lc__api_admin_error(req, 400, "command: required");
        goto done;
    }
    if (claims && claims[0] != '{') {
        lc__api_admin_error(req, 400, "claims: expected a JSON object");
        goto done;
    }
    args.data = data;
    args.claims = claims;
    play_t *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        lc__api_admin_error(req, 500, "out of memory");
        goto done;
    }
    lc_worker_t *w = lc_http_req_worker(req);
    uv_timer_init(lc_worker_loop(w), &pl->timer);
    pl->timer.data = pl;
    pl->req = req;
    char err[256] = "out of memory";
    int rc = lc_ops_explain(w, &args, on_explained, pl, &pl->run, err, sizeof(err));
    if (rc != 0) {
        lc__api_admin_error(req, rc == LC_ENOMEM ? 500 : 400, err);
        pl->req = NULL;
        play_end(pl);
    } else if (pl->req) { /* pending: the verdict comes from the loop */
        lc_http_req_set_cancel(req, on_peer_left, pl);
        uv_timer_start(&pl->timer, on_timeout, PLAYGROUND_TIMEOUT_MS, 0);
    }
done:
    free(data);
    free(claims);
}
