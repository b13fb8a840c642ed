/* One decision explained (explain.h): the command's request built as a session would build it,
 * the pipeline run with a trace, and its verdict turned into the client's reply. */
#include "hooks/explain.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "hooks/decide.h"
#include "proto/codec.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/clock.h"
#include "util/err.h"

struct lc_explain {
    lc_explain_cb cb;
    void *arg;
    lc_hook_kind kind;
    bool at_expiry;
    lc_decide_t *d;
    lc_decide_trace_t *trace;
    lc_ns_opts_t scratch;
    char *target, *data, *user, *client, *token; /* owned copies the request borrows */
    bool starting, done;
};

static void explain_free(lc_explain_t *e)
{
    lc_decide_trace_free(e->trace);
    free(e->target);
    free(e->data);
    free(e->user);
    free(e->client);
    free(e->token);
    free(e);
}

static void add_raw(cJSON *o, const char *key, lc_raw_t r)
{
    if (!r.p || r.len == 0)
        return;
    char *s = strndup(r.p, r.len);
    if (s)
        cJSON_AddRawToObject(o, key, s);
    free(s);
}

/* The reply a Centrifugo v6 JSON client would receive for the verdict (id 1), as the session
 * writes it (client_connect.c, client_channel.c, client_sub.c). */
static char *client_reply(const lc_explain_t *e, const lc_verdict_t *v)
{
    cJSON *root = cJSON_CreateObject();
    if (v->type == LC_VERDICT_DISCONNECT) {
        cJSON *d = cJSON_AddObjectToObject(root, "disconnect");
        cJSON_AddNumberToObject(d, "code", v->code);
        cJSON_AddStringToObject(d, "reason",
                                v->message[0] ? v->message : lc_disconnect_reason(v->code));
    } else if (v->type == LC_VERDICT_ERROR) {
        cJSON_AddNumberToObject(root, "id", 1);
        cJSON *er = cJSON_AddObjectToObject(root, "error");
        cJSON_AddNumberToObject(er, "code", v->code);
        cJSON_AddStringToObject(er, "message",
                                v->message[0] ? v->message : lc_error_message(v->code));
        if (v->temporary)
            cJSON_AddTrueToObject(er, "temporary");
    } else {
        cJSON_AddNumberToObject(root, "id", 1);
        cJSON *r = cJSON_AddObjectToObject(root, lc__decide_kind_name(e->kind));
        if (e->kind == LC_HOOK_CONNECT) {
            cJSON_AddStringToObject(r, "client", e->client);
            cJSON_AddStringToObject(r, "version", LUCENT_VERSION);
        }
        if (e->kind == LC_HOOK_CONNECT || e->kind == LC_HOOK_SUBSCRIBE || e->kind == LC_HOOK_RPC)
            add_raw(r, "data", v->data);
        if (v->expire_at > 0 && e->kind != LC_HOOK_PUBLISH && e->kind != LC_HOOK_RPC) {
            int64_t ttl = v->expire_at - lc_now_s();
            cJSON_AddTrueToObject(r, "expires");
            cJSON_AddNumberToObject(r, "ttl", (double)(ttl > 0 ? ttl : 0));
        }
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* At expiry nothing is answered: the client sees what the session does with the verdict
 * (client_connect.c, client_expiry.c): nothing while it goes on, or the end. *rc as usual. */
static char *expiry_outcome(const lc_explain_t *e, const lc_verdict_t *v, int *rc)
{
    char text[192];
    int64_t now = lc_now_s();
    bool conn = e->kind == LC_HOOK_REFRESH;
    if (v->unavailable) {
        *rc = 2;
        snprintf(text, sizeof(text), "(nothing sent: the backend is asked again in 60 s)");
    } else if (v->type == LC_VERDICT_ALLOW && v->granted && !v->expired && v->expire_at > now) {
        *rc = 0;
        snprintf(text, sizeof(text), "(nothing sent: the %s now expires in %lld s)",
                 conn ? "connection" : "subscription", (long long)(v->expire_at - now));
    } else {
        *rc = 1;
        if (conn) {
            snprintf(text, sizeof(text), "{\"disconnect\":{\"code\":%u,\"reason\":\"%s\"}}",
                     (unsigned)LC_DISCONNECT_EXPIRED, lc_disconnect_reason(LC_DISCONNECT_EXPIRED));
        } else {
            lc_buf_t b = LC_BUF_INIT;
            int err = lc_proto_push_unsubscribe(&b, e->target, LC_UNSUBSCRIBE_EXPIRED, NULL);
            char *s = err == 0 ? strndup(b.data, b.len) : NULL;
            lc_buf_free(&b);
            return s;
        }
    }
    return strdup(text);
}

static void on_verdict(void *arg, const lc_verdict_t *v)
{
    lc_explain_t *e = arg;
    e->d = NULL;
    e->done = true;
    if (v->type == LC_VERDICT_ALLOW && v->data_set)
        lc_decide_trace_add(e->trace, "publish", "data replaced by %.*s", (int)v->data.len,
                            v->data.p);
    int rc = v->type == LC_VERDICT_ALLOW ? 0 : v->unavailable ? 2 : 1;
    char *reply = e->at_expiry ? expiry_outcome(e, v, &rc) : client_reply(e, v);
    lc_explain_result_t r = {
        .rc = rc,
        .trace = e->trace,
        .user = v->type == LC_VERDICT_ALLOW && e->kind == LC_HOOK_CONNECT ? v->user : NULL,
        .reply = reply ? reply : "(out of memory)",
    };
    e->cb(e->arg, &r);
    free(reply);
    if (!e->starting)
        explain_free(e);
}

/* claims: a token signed with the config's HMAC key, sub and channel filled in when absent. */
static int claims_token(const lc_config_t *cfg, const char *claims, const char *user,
                        const char *channel, char **out, char *err, size_t errlen)
{
    cJSON *c = cJSON_Parse(claims);
    if (!cJSON_IsObject(c)) {
        cJSON_Delete(c);
        snprintf(err, errlen, "claims: not a JSON object");
        return LC_EINVAL;
    }
    if (!cJSON_GetObjectItem(c, "sub"))
        cJSON_AddStringToObject(c, "sub", user);
    if (channel && !cJSON_GetObjectItem(c, "channel"))
        cJSON_AddStringToObject(c, "channel", channel);
    const char *secret = channel ? lc_config_sub_token_secret(cfg) : cfg->token_hmac_secret_key;
    char *json = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    int rc = 0;
    if (!secret || !*secret) {
        snprintf(err, errlen, "claims: the config has no HMAC token key to sign them with");
        rc = LC_EINVAL;
    } else if (!json || !(*out = lc_jwt_sign_hs256(secret, json))) {
        rc = LC_ENOMEM;
    }
    free(json);
    return rc;
}

/* The command's token: claims signed, the one given, or one for the user where the session
 * would hold one (a connection token to connect or refresh, a subscription token to refresh a
 * subscription). NULL without error: no token. */
static int make_token(const lc_config_t *cfg, const lc_explain_args_t *a, lc_hook_kind kind,
                      const char *user, char **out, char *err, size_t errlen)
{
    bool sub = kind == LC_HOOK_SUBSCRIBE || kind == LC_HOOK_SUB_REFRESH;
    *out = NULL;
    if (a->claims)
        return claims_token(cfg, a->claims, user, sub ? a->target : NULL, out, err, errlen);
    if (a->token)
        return (*out = strdup(a->token)) ? 0 : LC_ENOMEM;
    const char *conn_key = cfg->token_hmac_secret_key, *sub_key = lc_config_sub_token_secret(cfg);
    if ((kind == LC_HOOK_CONNECT || kind == LC_HOOK_REFRESH) && user[0] && conn_key && *conn_key)
        *out = lc_jwt_make_connect_token(conn_key, user, lc_now_s(), 3600);
    else if (kind == LC_HOOK_SUB_REFRESH && sub_key && *sub_key)
        *out = lc_jwt_make_subscribe_token(sub_key, user, a->target, lc_now_s(), 3600);
    else
        return 0;
    return *out ? 0 : LC_ENOMEM;
}

/* The kind of a command and whether its words fit it; 0 or LC_EINVAL with err. */
static int parse_command(const lc_explain_args_t *a, lc_hook_kind *kind, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        lc_hook_kind kind;
        bool target, data; /* what the command takes */
        const char *usage;
    } cmds[] = {
        {"connect", LC_HOOK_CONNECT, false, true, "connect [DATA]"},
        {"refresh", LC_HOOK_REFRESH, false, false, "refresh"},
        {"subscribe", LC_HOOK_SUBSCRIBE, true, false, "subscribe CHANNEL"},
        {"sub_refresh", LC_HOOK_SUB_REFRESH, true, false, "sub_refresh CHANNEL"},
        {"publish", LC_HOOK_PUBLISH, true, true, "publish CHANNEL DATA"},
        {"rpc", LC_HOOK_RPC, true, true, "rpc METHOD [DATA]"},
    };
    for (size_t i = 0; a->command && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(a->command, cmds[i].name) != 0)
            continue;
        bool has_target = a->target && a->target[0], has_data = a->data && a->data[0];
        if (has_target != cmds[i].target || (has_data && !cmds[i].data)) {
            snprintf(err, errlen, "command: expected %s", cmds[i].usage);
            return LC_EINVAL;
        }
        *kind = cmds[i].kind;
        if (*kind == LC_HOOK_PUBLISH && !has_data) {
            snprintf(err, errlen, "command: expected %s", cmds[i].usage);
            return LC_EINVAL;
        }
        if (has_data && !lc_json_check(a->data, strlen(a->data), NULL)) {
            snprintf(err, errlen, "data: not valid JSON");
            return LC_EINVAL;
        }
        return 0;
    }
    snprintf(err, errlen,
             "command: expected connect, refresh, subscribe, sub_refresh, publish or rpc");
    return LC_EINVAL;
}

static char *dup_or_null(const char *s, bool *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    *oom |= d == NULL;
    return d;
}

/* What the session answers before any step: an unknown channel's 102, a sub_refresh without
 * a token's 107. */
static void answer_early(lc_explain_t *e, uint32_t code, const char *why)
{
    char reply[160];
    const char *msg = lc_error_message(code);
    lc_decide_trace_add(e->trace, "rules", "%s", why);
    lc_decide_trace_add(e->trace, "outcome", "error %u \"%s\" by rules", (unsigned)code, msg);
    snprintf(reply, sizeof(reply), "{\"id\":1,\"error\":{\"code\":%u,\"message\":\"%s\"}}",
             (unsigned)code, msg);
    lc_explain_result_t r = {.rc = 1, .trace = e->trace, .reply = reply};
    e->cb(e->arg, &r);
    explain_free(e);
}

int lc_explain_start(const lc_config_t *cfg, lc_lua_t *vm, lc_httpc_t *hc,
                     const lc_explain_args_t *a, lc_explain_cb cb, void *arg, lc_explain_t **out,
                     char *err, size_t errlen)
{
    lc_hook_kind kind = LC_HOOK_MAX;
    *out = NULL;
    int rc = parse_command(a, &kind, err, errlen);
    if (rc != 0)
        return rc;
    lc_explain_t *e = calloc(1, sizeof(*e));
    if (!e)
        return LC_ENOMEM;
    bool oom = false;
    e->cb = cb;
    e->arg = arg;
    e->kind = kind;
    e->trace = lc_decide_trace_new();
    e->target = dup_or_null(a->target, &oom);
    e->data = dup_or_null(a->data, &oom);
    e->user = dup_or_null(a->user ? a->user : "", &oom);
    e->client = dup_or_null(a->client ? a->client : "explain", &oom);
    if (oom || !e->trace) {
        explain_free(e);
        return LC_ENOMEM;
    }
    if ((rc = make_token(cfg, a, kind, e->user, &e->token, err, errlen)) != 0) {
        explain_free(e);
        return rc;
    }
    bool channel =
        kind == LC_HOOK_SUBSCRIBE || kind == LC_HOOK_SUB_REFRESH || kind == LC_HOOK_PUBLISH;
    const lc_ns_opts_t *ns = NULL;
    if (channel) {
        ns = lc_config_resolve_channel(cfg, e->target, strlen(e->target), e->user, &e->scratch);
        if (!ns) {
            char why[320];
            snprintf(why, sizeof(why), "channel %.256s: its namespace is not defined", e->target);
            answer_early(e, LC_ERROR_UNKNOWN_CHANNEL, why);
            return 0;
        }
        lc_decide_trace_add(e->trace, "channel", "%s in namespace %s", e->target,
                            ns->name ? ns->name : "(channel.without_namespace)");
    }
    e->at_expiry = a->at_expiry;
    if (a->at_expiry) {
        const char *no = kind != LC_HOOK_REFRESH && kind != LC_HOOK_SUB_REFRESH
                             ? "at expiry: only refresh and sub_refresh"
                         : a->no_proxy ? "at expiry: the refresh proxies decide, no-proxy leaves "
                                         "nothing to ask"
                         : kind == LC_HOOK_REFRESH && !cfg->refresh_proxy_enabled
                             ? "at expiry: no refresh proxy (client.proxy.refresh) is enabled"
                         : kind == LC_HOOK_SUB_REFRESH && !ns->sub_refresh_proxy
                             ? "at expiry: the channel's namespace has no sub_refresh proxy"
                             : NULL;
        if (no) {
            snprintf(err, errlen, "%s", no);
            explain_free(e);
            return LC_EINVAL;
        }
    } else if (kind == LC_HOOK_SUB_REFRESH && !e->token) {
        answer_early(e, LC_ERROR_BAD_REQUEST, "sub_refresh without a subscription token");
        return 0;
    }
    lc_decide_req_t req = {
        .kind = kind,
        .cfg = cfg,
        .ns = ns,
        .session = {.client = e->client,
                    .transport = "websocket",
                    .user = kind == LC_HOOK_CONNECT ? "" : e->user},
        .token = e->token,
        .channel = channel ? e->target : NULL,
        .method = kind == LC_HOOK_RPC ? e->target : NULL,
        .data = {e->data, e->data ? strlen(e->data) : 0},
        .subscribed = a->subscribed,
        .no_proxy = a->no_proxy,
        .at_expiry = a->at_expiry,
        .lua = vm,
        .httpc = hc,
        .trace = e->trace,
    };
    e->starting = true;
    e->d = lc_decide_start(&req, on_verdict, e);
    e->starting = false;
    if (e->done) {
        explain_free(e);
        return 0;
    }
    *out = e;
    return 0;
}

void lc_explain_cancel(lc_explain_t *e)
{
    if (!e)
        return;
    lc_decide_cancel(e->d);
    explain_free(e);
}
