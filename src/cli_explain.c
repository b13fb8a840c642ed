/* lucent explain: run the decision pipeline (hooks/decide.h) once, offline, for one command of
 * one user, and print the steps it went through and the answer a client would get. The real
 * parts run: the config's Lua script in its own VM, token checks with the config's keys, and
 * the configured proxies (unless --no-proxy), on a private libuv loop. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "auth/jwt.h"
#include "hooks/decide.h"
#include "hooks/httpc.h"
#include "hooks/script.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct explain {
    lc_decide_trace_t *trace;
    bool done;
    int rc;
    char *reply; /* the client's answer as JSON */
    lc_hook_kind kind;
    const char *client;
    char *user; /* connect: the user the verdict names */
} explain_t;

static lc_httpc_t *host_httpc(void *ctx)
{
    return ctx;
}

static int host_publish(void *ctx, const char *channel, const char *data, size_t len, bool skip)
{
    (void)ctx, (void)data, (void)len, (void)skip;
    fprintf(stderr, "lucent explain: lucent.publish(%s) is not run offline\n", channel);
    return 0;
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

/* The reply a Centrifugo v6 JSON client would receive for the verdict (id 1). */
static char *client_reply(const explain_t *e, const lc_verdict_t *v)
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
        static const char *const keys[LC_HOOK_MAX] = {
            [LC_HOOK_CONNECT] = "connect",     [LC_HOOK_REFRESH] = "refresh",
            [LC_HOOK_SUBSCRIBE] = "subscribe", [LC_HOOK_SUB_REFRESH] = "sub_refresh",
            [LC_HOOK_PUBLISH] = "publish",     [LC_HOOK_RPC] = "rpc",
        };
        cJSON_AddNumberToObject(root, "id", 1);
        cJSON *r = cJSON_AddObjectToObject(root, keys[e->kind] ? keys[e->kind] : "result");
        if (e->kind == LC_HOOK_CONNECT) {
            cJSON_AddStringToObject(r, "client", e->client);
            cJSON_AddStringToObject(r, "version", LUCENT_VERSION);
        }
        if (e->kind != LC_HOOK_PUBLISH)
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

static void on_verdict(void *arg, const lc_verdict_t *v)
{
    explain_t *e = arg;
    e->done = true;
    e->reply = client_reply(e, v);
    if (v->type == LC_VERDICT_ALLOW && e->kind == LC_HOOK_CONNECT)
        e->user = strdup(v->user);
    if (v->type == LC_VERDICT_ALLOW && v->data_set)
        lc_decide_trace_add(e->trace, "publish", "data replaced by %.*s", (int)v->data.len,
                            v->data.p);
    e->rc = v->type == LC_VERDICT_ALLOW ? 0 : v->unavailable ? 2 : 1;
}

static void no_proxies(lc_config_t *cfg)
{
    cfg->connect_proxy_enabled = false;
    cfg->refresh_proxy_enabled = false;
    cfg->rpc_without_namespace.proxy = NULL;
    for (size_t i = 0; i < cfg->n_rpc_namespaces; i++)
        cfg->rpc_namespaces[i].proxy = NULL;
}

/* --claims: a token signed with the config's HMAC key, sub and channel filled in when absent. */
static char *claims_token(const lc_config_t *cfg, const char *claims, const char *user,
                          const char *channel)
{
    cJSON *c = cJSON_Parse(claims);
    if (!cJSON_IsObject(c)) {
        fprintf(stderr, "lucent explain: --claims is not a JSON object\n");
        cJSON_Delete(c);
        return NULL;
    }
    if (!cJSON_GetObjectItem(c, "sub"))
        cJSON_AddStringToObject(c, "sub", user);
    if (channel && !cJSON_GetObjectItem(c, "channel"))
        cJSON_AddStringToObject(c, "channel", channel);
    const char *secret = channel ? lc_config_sub_token_secret(cfg) : cfg->token_hmac_secret_key;
    char *json = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    char *tok = NULL;
    if (!secret || !*secret)
        fprintf(stderr, "lucent explain: --claims needs an HMAC token key in the config\n");
    else if (json)
        tok = lc_jwt_sign_hs256(secret, json);
    free(json);
    return tok;
}

static void usage_explain(void)
{
    fprintf(stderr, "usage: lucent explain -c FILE [--user USER] [--client ID] [--claims JSON] "
                    "[--token JWT] [--subscribed] [--no-proxy]\n"
                    "                      connect | subscribe CHANNEL | publish CHANNEL DATA | "
                    "rpc METHOD DATA\n");
}

static void httpc_closed(void *arg)
{
    (void)arg;
}

int lc_cli_explain(int argc, char **argv)
{
    const char *path = NULL, *user = "", *client = "explain", *claims = NULL, *token = NULL;
    bool proxies = true, subscribed = false;
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *c = lc_cli_config_arg(argc, argv, &i);
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (c)
            path = c;
        else if ((strcmp(a, "--user") == 0 || strcmp(a, "-u") == 0) && more)
            user = argv[++i];
        else if (strcmp(a, "--client") == 0 && more)
            client = argv[++i];
        else if (strcmp(a, "--claims") == 0 && more)
            claims = argv[++i];
        else if (strcmp(a, "--token") == 0 && more)
            token = argv[++i];
        else if (strcmp(a, "--no-proxy") == 0)
            proxies = false;
        else if (strcmp(a, "--subscribed") == 0)
            subscribed = true;
        else {
            fprintf(stderr, "lucent explain: unknown option %s\n", a);
            usage_explain();
            return 2;
        }
    }
    const char *cmd = i < argc ? argv[i++] : NULL;
    const char *arg1 = i < argc ? argv[i++] : NULL;
    const char *arg2 = i < argc ? argv[i++] : NULL;
    lc_hook_kind kind;
    if (!path || !cmd || i < argc) {
        usage_explain();
        return 2;
    }
    if (strcmp(cmd, "connect") == 0 && !arg1)
        kind = LC_HOOK_CONNECT;
    else if (strcmp(cmd, "subscribe") == 0 && arg1 && !arg2)
        kind = LC_HOOK_SUBSCRIBE;
    else if (strcmp(cmd, "publish") == 0 && arg1 && arg2)
        kind = LC_HOOK_PUBLISH;
    else if (strcmp(cmd, "rpc") == 0 && arg1)
        kind = LC_HOOK_RPC;
    else {
        usage_explain();
        return 2;
    }
    if (arg2) {
        cJSON *j = cJSON_Parse(arg2);
        cJSON_Delete(j);
        if (!j) {
            fprintf(stderr, "lucent explain: DATA is not JSON: %s\n", arg2);
            return 2;
        }
    }

    lc_config_t cfg;
    if (lc_cli_load_config(&cfg, path) != 0)
        return 2;
    if (!proxies)
        no_proxies(&cfg);
    /* The trace says what the info lines of a refusal would; warnings and Lua errors stay. */
    lc_log_set_level(LC_LOG_WARN);
    int rc = 2;
    char *tok = NULL;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lc_httpc_t *httpc = lc_httpc_new(&loop);
    lc_lua_t *vm = NULL;
    explain_t e = {.trace = lc_decide_trace_new(), .kind = kind, .client = client};
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    if (!httpc || !e.trace) {
        fprintf(stderr, "lucent explain: out of memory\n");
        goto done;
    }
    if (claims)
        tok = claims_token(&cfg, claims, user, kind == LC_HOOK_SUBSCRIBE ? arg1 : NULL);
    else if (token)
        tok = strdup(token);
    else if (kind == LC_HOOK_CONNECT && user[0] && cfg.token_hmac_secret_key &&
             cfg.token_hmac_secret_key[0])
        tok = lc_jwt_make_connect_token(cfg.token_hmac_secret_key, user, lc_now_s(), 3600);
    if ((claims || token) && !tok)
        goto done;
    if (cfg.lua_script) {
        char err[512] = "";
        lc_lua_host_t host = {.ctx = httpc, .publish = host_publish, .httpc = host_httpc};
        vm = lc_lua_new(&cfg, &host, err, sizeof(err));
        if (!vm) {
            fprintf(stderr, "lucent explain: lua: %s\n", err);
            goto done;
        }
    }
    if (kind == LC_HOOK_SUBSCRIBE || kind == LC_HOOK_PUBLISH) {
        ns = lc_config_resolve_channel(&cfg, arg1, strlen(arg1), user, &scratch);
        if (!ns) {
            printf("rules: channel %s: its namespace is not defined\n", arg1);
            printf("reply: {\"id\":1,\"error\":{\"code\":102,\"message\":\"unknown channel\"}}\n");
            rc = 1;
            goto done;
        }
        if (!proxies) {
            scratch = *ns;
            scratch.subscribe_proxy = scratch.publish_proxy = scratch.sub_refresh_proxy = NULL;
            ns = &scratch;
        }
        printf("channel: %s in namespace %s\n", arg1,
               ns->name ? ns->name : "(channel.without_namespace)");
    }
    lc_decide_req_t req = {
        .kind = kind,
        .cfg = &cfg,
        .ns = ns,
        .session = {.client = client,
                    .transport = "websocket",
                    .user = kind == LC_HOOK_CONNECT ? "" : user},
        .token = tok,
        .channel = kind == LC_HOOK_SUBSCRIBE || kind == LC_HOOK_PUBLISH ? arg1 : NULL,
        .method = kind == LC_HOOK_RPC ? arg1 : NULL,
        .data = {arg2, arg2 ? strlen(arg2) : 0},
        .subscribed = subscribed,
        .lua = vm,
        .httpc = httpc,
        .trace = e.trace,
    };
    lc_decide_t *d = lc_decide_start(&req, on_verdict, &e);
    while (!e.done && uv_run(&loop, UV_RUN_ONCE))
        ;
    if (!e.done) {
        lc_decide_cancel(d);
        fprintf(stderr, "lucent explain: the pipeline did not answer\n");
        goto done;
    }
    for (size_t k = 0; k < lc_decide_trace_count(e.trace); k++)
        printf("%s\n", lc_decide_trace_line(e.trace, k));
    if (e.user)
        printf("user: \"%s\"%s\n", e.user, e.user[0] ? "" : " (anonymous)");
    printf("reply: %s\n", e.reply ? e.reply : "(out of memory)");
    rc = e.rc;
done:
    lc_lua_free(vm);
    if (httpc) {
        lc_httpc_close(httpc, httpc_closed, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    lc_decide_trace_free(e.trace);
    free(e.reply);
    free(e.user);
    free(tok);
    lc_config_free(&cfg);
    return rc;
}
