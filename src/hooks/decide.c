/* The decision pipeline (decide.h): Lua, token, proxy, namespace rules, in that order, for
 * every kind; one verdict through one callback. */
#include "hooks/decide.h"

#include <stdlib.h>
#include <string.h>

#include "hooks/token.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

struct lc_decide {
    lc_decide_req_t req;
    lc_ns_opts_t ns; /* req.ns points here */
    lc_decide_cb cb;
    void *arg;
    lc_lua_call_t *lua;     /* the pending Lua call */
    lc_proxy_call_t *proxy; /* the pending proxy request */
    lc_jwks_wait_t *jwks;   /* the pending JWKS refresh (a token named an unknown kid) */
    bool jwks_asked;        /* once per pipeline: a kid still unknown after it is invalid */
    const char **chans;     /* connect proxy: the channels of the command's subs */
    /* token claims the verdict points into, freed with the pipeline */
    lc_conn_claims_t conn_claims;
    lc_sub_claims_t sub_claims;
    bool has_conn_claims, has_sub_claims;
    bool starting; /* inside lc_decide_start: the starter frees after a quick answer */
    bool done;
    uint64_t t0; /* uv_hrtime() at the start, for the latency metric */
    uint64_t proxy_t0;
    const char *proxy_url;    /* the endpoint asked (in the config), for the trace */
    lc_decide_trace_t *trace; /* req.trace, or own_trace (log.trace_users) */
    lc_decide_trace_t *own_trace;
};

#define TRACE(d, step, ...) lc_decide_trace_add((d)->trace, step, __VA_ARGS__)

static void decide_free(lc_decide_t *d)
{
    if (d->has_conn_claims)
        lc_conn_claims_free(&d->conn_claims);
    if (d->has_sub_claims)
        lc_sub_claims_free(&d->sub_claims);
    free(d->chans);
    lc_decide_trace_free(d->own_trace);
    free(d);
}

/* Metrics of every verdict, and the one info line of a refusal (never the token). */
static void account(const lc_decide_t *d, const lc_verdict_t *v)
{
    static const int kinds[LC_HOOK_MAX] = {
        [LC_HOOK_CONNECT] = LC_M_CONNECT,
        [LC_HOOK_REFRESH] = LC_M_REFRESH,
        [LC_HOOK_SUBSCRIBE] = LC_M_SUBSCRIBE,
        [LC_HOOK_SUB_REFRESH] = LC_M_SUB_REFRESH,
        [LC_HOOK_PUBLISH] = LC_M_PUBLISH,
        [LC_HOOK_BROADCAST] = -1,
        [LC_HOOK_RPC] = LC_M_RPC,
        [LC_HOOK_DISCONNECT] = -1,
        [LC_HOOK_UNSUBSCRIBE] = -1,
        [LC_HOOK_TRACK] = -1,
        [LC_HOOK_SPOLL_REFRESH] = -1,
    };
    int step = v->by == LC_STEP_LUA     ? LC_M_LUA
               : v->by == LC_STEP_TOKEN ? LC_M_TOKEN
               : v->by == LC_STEP_PROXY ? LC_M_PROXY
                                        : LC_M_RULES;
    int result = v->type == LC_VERDICT_ALLOW ? LC_M_ALLOWED
                 : v->unavailable            ? LC_M_FAILED
                                             : LC_M_REFUSED;
    const lc_decide_req_t *r = &d->req;
    int kind = r->kind < LC_HOOK_MAX ? kinds[r->kind] : -1;
    if (kind >= 0)
        lc_metrics_decision(kind, step, result, uv_hrtime() - d->t0);
    if (v->type == LC_VERDICT_ALLOW)
        return;
    const char *why = v->message && v->message[0]   ? v->message
                      : v->type == LC_VERDICT_ERROR ? lc_error_message(v->code)
                                                    : lc_disconnect_reason(v->code);
    lc_log_refused(lc__decide_kind_name(r->kind), r->session.client, r->session.user, r->channel,
                   lc__decide_step_name(v->by), v->code, why);
}

static void finish(lc_decide_t *d, lc_verdict_t *v)
{
    LC_ASSERT(!d->done && !d->lua && !d->proxy && !d->jwks);
    if (v->message == NULL)
        v->message = "";
    if (v->type == LC_VERDICT_ALLOW && v->user == NULL)
        v->user = "";
    /* An explained decision (lucent explain, the admin playground) is no client's: it stays
     * out of the decision metrics and the refusal log. */
    if (!d->req.trace)
        account(d, v);
    if (d->trace)
        lc__decide_trace_end(d->trace, &d->req, v, d->own_trace != NULL);
    d->done = true;
    d->cb(d->arg, v);
    if (!d->starting)
        decide_free(d);
}

static void set_error(lc_verdict_t *v, lc_decide_step by, uint32_t code)
{
    memset(v, 0, sizeof(*v));
    v->type = LC_VERDICT_ERROR;
    v->by = by;
    v->code = code;
    v->temporary = lc_error_temporary(code);
}

static void set_disconnect(lc_verdict_t *v, lc_decide_step by, uint32_t code)
{
    memset(v, 0, sizeof(*v));
    v->type = LC_VERDICT_DISCONNECT;
    v->by = by;
    v->code = code;
}

static void set_allow(lc_verdict_t *v, lc_decide_step by)
{
    memset(v, 0, sizeof(*v));
    v->type = LC_VERDICT_ALLOW;
    v->by = by;
}

/* Binary info fits the JSON protocol only when it is itself JSON text; the JSON form is used
 * only when it is strict JSON (proto/json_check.h), so a token never brings invalid UTF-8 to
 * the clients that see the info. */
static lc_raw_t pick_info(const char *json, size_t json_len, const unsigned char *bin,
                          size_t bin_len)
{
    if (bin && lc_json_check((const char *)bin, bin_len, NULL))
        return (lc_raw_t){(const char *)bin, bin_len};
    if (json && !lc_json_check(json, json_len, NULL)) {
        lc_log_info("token info is not valid JSON: left out");
        return (lc_raw_t){NULL, 0};
    }
    return (lc_raw_t){json, json_len};
}

/* --- rules ------------------------------------------------------------------------------- */

/* No credentials at connect: anonymous when the config allows it, else 3501. */
static void connect_anonymous(const lc_decide_t *d, lc_decide_step by, lc_verdict_t *v)
{
    const lc_config_t *cfg = d->req.cfg;
    TRACE(d, "rules",
          "no credentials: client.insecure %d, client.allow_anonymous_connect_without_token %d",
          cfg->client_insecure, cfg->allow_anonymous_connect_without_token);
    if (!cfg->client_insecure && !cfg->allow_anonymous_connect_without_token) {
        lc_log_info("connect refused: no credentials (no token, no connect proxy result; "
                    "client.insecure and client.allow_anonymous_connect_without_token are off)");
        set_disconnect(v, by, LC_DISCONNECT_BAD_REQUEST);
        return;
    }
    set_allow(v, by);
    v->user = "";
}

static void publish_rules(const lc_decide_t *d, lc_verdict_t *v)
{
    const lc_ns_opts_t *o = &d->ns;
    const char *user = d->req.session.user;
    bool anon_allowed = user[0] || o->allow_publish_for_anonymous;
    TRACE(d, "rules",
          "namespace %s: allow_publish_for_client %d, allow_publish_for_subscriber %d "
          "(subscribed %d), allow_publish_for_anonymous %d, client.insecure %d",
          o->name ? o->name : "(none)", o->allow_publish_for_client,
          o->allow_publish_for_subscriber, d->req.subscribed, o->allow_publish_for_anonymous,
          d->req.cfg->client_insecure);
    if ((o->allow_publish_for_client && anon_allowed) ||
        (o->allow_publish_for_subscriber && d->req.subscribed && anon_allowed) ||
        d->req.cfg->client_insecure)
        set_allow(v, LC_STEP_RULES);
    else
        set_error(v, LC_STEP_RULES, LC_ERROR_PERMISSION_DENIED);
}

/* --- answers of a Lua hook or a proxy ------------------------------------------------------ */

static void from_reply(const lc_proxy_reply_t *rep, lc_decide_step by, lc_verdict_t *v)
{
    memset(v, 0, sizeof(*v));
    v->by = by;
    if (rep->type == LC_PROXY_DISCONNECT) {
        v->type = LC_VERDICT_DISCONNECT;
        v->code = rep->code;
        v->message = rep->message;
        return;
    }
    if (rep->type == LC_PROXY_ERROR) {
        v->type = LC_VERDICT_ERROR;
        v->code = rep->code;
        v->message = rep->message;
        v->temporary = rep->temporary;
        return;
    }
    v->type = LC_VERDICT_ALLOW;
    v->granted = rep->has_result;
    v->user = rep->user ? rep->user : "";
    v->info = (lc_raw_t){rep->info, rep->info_len};
    v->data = (lc_raw_t){rep->data, rep->data_len};
    v->data_set = rep->data_set;
    v->meta = (lc_raw_t){rep->meta, rep->meta ? strlen(rep->meta) : 0};
    v->expire_at = rep->expire_at;
    v->expired = rep->expired;
    v->channels = (const char *const *)rep->channels;
    v->n_channels = rep->n_channels;
    v->subs = rep->subs;
    v->n_subs = rep->n_subs;
    v->override = &rep->override;
    v->skip_history = rep->skip_history;
    v->map = rep->map.set ? &rep->map : NULL;
}

/* What an ALLOW from Lua or a proxy means for the kind. */
static void kind_allow(const lc_decide_t *d, lc_verdict_t *v)
{
    const lc_decide_req_t *r = &d->req;
    switch (r->kind) {
    case LC_HOOK_CONNECT:
        if (!v->granted) {
            connect_anonymous(d, v->by, v);
            return;
        }
        v->expire_at_claim = true;
        v->refresh_by_proxy = r->cfg->refresh_proxy_enabled && v->expire_at > 0;
        break;
    case LC_HOOK_REFRESH:
    case LC_HOOK_SUB_REFRESH:
        if (!r->at_expiry && (v->expired || (v->expire_at > 0 && v->expire_at <= lc_now_s())))
            set_disconnect(v, v->by, LC_DISCONNECT_EXPIRED);
        break;
    case LC_HOOK_SUBSCRIBE:
        v->refresh_by_proxy =
            v->by == LC_STEP_PROXY && v->expire_at > 0 && d->ns.sub_refresh_proxy != NULL;
        break;
    default:
        break;
    }
}

/* --- steps 2-4 ----------------------------------------------------------------------------- */

static void on_proxy(void *arg, int err, const lc_proxy_reply_t *rep)
{
    lc_decide_t *d = arg;
    LC_ASSERT(d->proxy != NULL && !d->done);
    d->proxy = NULL;
    lc_verdict_t v;
    double ms = (double)(uv_hrtime() - d->proxy_t0) / 1e6;
    if (err != 0 && rep->status == 0)
        TRACE(d, "proxy", "%s: no answer after %.1f ms (%s)", d->proxy_url, ms, lc_strerror(err));
    else if (err != 0)
        TRACE(d, "proxy", "%s answered HTTP %ld in %.1f ms: not usable (%s)", d->proxy_url,
              rep->status, ms, lc_strerror(err));
    else
        TRACE(d, "proxy", "%s answered HTTP %ld in %.1f ms: %s %u%s%s", d->proxy_url, rep->status,
              ms,
              rep->type == LC_PROXY_RESULT  ? "result"
              : rep->type == LC_PROXY_ERROR ? "error"
                                            : "disconnect",
              (unsigned)rep->code, rep->message && rep->message[0] ? " " : "",
              rep->message ? rep->message : "");
    if (err != 0) {
        set_error(&v, LC_STEP_PROXY, LC_ERROR_INTERNAL);
        v.unavailable = true;
    } else {
        from_reply(rep, LC_STEP_PROXY, &v);
        if (v.type == LC_VERDICT_ALLOW)
            kind_allow(d, &v);
    }
    finish(d, &v);
}

/* Step 3. conf NULL: no proxy for the kind (the caller checked). */
static void ask_proxy(lc_decide_t *d, lc_proxy_kind kind, const lc_proxy_conf_t *conf)
{
    const lc_decide_req_t *q = &d->req;
    lc_proxy_req_t r = q->session;
    r.kind = kind;
    r.channel = q->channel;
    r.method = q->method;
    r.data = q->data;
    r.name = q->name;
    r.version = q->version;
    if (kind == LC_PROXY_CONNECT && q->n_subs > 0) {
        d->chans = calloc(q->n_subs, sizeof(*d->chans));
        for (size_t i = 0; d->chans && i < q->n_subs; i++)
            d->chans[i] = q->subs[i].channel;
        r.channels = d->chans;
        r.n_channels = d->chans ? q->n_subs : 0;
    }
    TRACE(d, "proxy", "POST %s (proxy \"%s\"%s, timeout %lld ms)", conf->endpoint,
          conf->name ? conf->name : "default",
          conf->protocol == LC_PROXY_LARAVEL_AUTH ? ", Laravel broadcasting auth" : "",
          (long long)conf->timeout_ms);
    d->proxy_t0 = uv_hrtime();
    d->proxy_url = conf->endpoint;
    if (conf->protocol == LC_PROXY_LARAVEL_AUTH && kind == LC_PROXY_SUBSCRIBE)
        d->proxy = lc_proxy_laravel_auth(q->httpc, conf, &r, on_proxy, d);
    else
        d->proxy = lc_proxy_call(q->httpc, conf, &r, on_proxy, d);
    if (!d->proxy) {
        lc_verdict_t v;
        set_error(&v, LC_STEP_PROXY, LC_ERROR_INTERNAL);
        v.unavailable = true;
        finish(d, &v);
    }
}

static void later_steps(lc_decide_t *d);

static void on_jwks(void *arg)
{
    lc_decide_t *d = arg;

    d->jwks = NULL;
    later_steps(d); /* the token step again, with the set as it is now */
}

/* A token signed with a kid the worker's JWKS lacks: fetch the set again (once per pipeline)
 * and run the token step again when it is in. True while waiting. */
static bool await_jwks(lc_decide_t *d, lc_jwt_status st, const lc_token_keys_t *tk)
{
    if (st != LC_JWT_UNKNOWN_KEY || tk->jwks_url == NULL || d->jwks_asked)
        return false;
    d->jwks_asked = true;
    d->jwks = lc_token_jwks_refresh(d->req.httpc, tk->jwks_url, on_jwks, d);
    return d->jwks != NULL;
}

static void connect_steps(lc_decide_t *d)
{
    const lc_decide_req_t *q = &d->req;
    lc_verdict_t v;
    if (!q->token || !q->token[0]) {
        TRACE(d, "token", "no connection token");
        if (q->cfg->connect_proxy_enabled && !q->no_proxy) {
            ask_proxy(d, LC_PROXY_CONNECT, &q->cfg->connect_proxy);
            return;
        }
        connect_anonymous(d, LC_STEP_RULES, &v);
        finish(d, &v);
        return;
    }
    lc_token_keys_t tk;
    lc_token_keys(q->cfg, false, q->httpc, &tk);
    const lc_jwt_keys_t keys = tk.keys;
    const char *why = NULL;
    lc_conn_claims_t *cl = &d->conn_claims;
    lc_jwt_status st =
        lc_jwt_verify_connect(q->token, strlen(q->token), &keys, lc_now_s(), cl, &why);
    if (await_jwks(d, st, &tk))
        return;
    if (st == LC_JWT_OK)
        TRACE(d, "token",
              "connection token valid: sub \"%s\", exp %lld%s, info %zu bytes, channels %zu, "
              "subs %zu",
              cl->sub, (long long)(cl->has_expire_at ? cl->expire_at : cl->exp),
              cl->has_expire_at ? " (expire_at)" : "", cl->info_len, cl->n_channels, cl->n_subs);
    else
        TRACE(d, "token", "connection token %s",
              st == LC_JWT_EXPIRED ? "expired"
              : why                ? why
                                   : "invalid");
    if (st == LC_JWT_EXPIRED) {
        lc_log_info("connect refused: token expired");
        set_error(&v, LC_STEP_TOKEN, LC_ERROR_TOKEN_EXPIRED);
    } else if (st != LC_JWT_OK) {
        lc_log_info("connect refused: invalid token (%s)", why ? why : "invalid");
        set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_INVALID_TOKEN);
    } else {
        d->has_conn_claims = true;
        if (!cl->sub[0] && q->cfg->disallow_anonymous_connection_tokens) {
            set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_PERMISSION_DENIED);
        } else {
            set_allow(&v, LC_STEP_TOKEN);
            v.granted = true;
            v.user = cl->sub;
            v.info = pick_info(cl->info, cl->info_len, cl->b64info, cl->b64info_len);
            v.expire_at = cl->has_expire_at ? cl->expire_at : cl->exp;
            v.expire_at_claim = cl->has_expire_at;
            v.meta = (lc_raw_t){cl->meta, cl->meta ? strlen(cl->meta) : 0};
            /* `subs` replaces `channels` when it names any channel. */
            if (cl->n_subs > 0) {
                v.subs = cl->subs;
                v.n_subs = cl->n_subs;
            } else {
                v.channels = (const char *const *)cl->channels;
                v.n_channels = cl->n_channels;
            }
        }
    }
    finish(d, &v);
}

static void refresh_steps(lc_decide_t *d)
{
    const lc_decide_req_t *q = &d->req;
    lc_verdict_t v;
    if (!q->token || !q->token[0] || q->server_refresh) {
        /* An empty token, or a client refresh while the refresh proxy owns expiry. */
        set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_BAD_REQUEST);
        finish(d, &v);
        return;
    }
    lc_token_keys_t tk;
    lc_token_keys(q->cfg, false, q->httpc, &tk);
    const lc_jwt_keys_t keys = tk.keys;
    lc_conn_claims_t *cl = &d->conn_claims;
    lc_jwt_status st =
        lc_jwt_verify_connect(q->token, strlen(q->token), &keys, lc_now_s(), cl, NULL);
    if (await_jwks(d, st, &tk))
        return;
    d->has_conn_claims = st == LC_JWT_OK;
    TRACE(d, "token", "refresh token %s, sub \"%s\"", st == LC_JWT_OK ? "valid" : "refused",
          st == LC_JWT_OK ? cl->sub : "");
    if (st == LC_JWT_EXPIRED) {
        set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_EXPIRED);
    } else if (st != LC_JWT_OK) {
        set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_INVALID_TOKEN);
    } else if (strcmp(cl->sub, q->session.user) != 0) {
        lc_log_info("client %s: refresh token for another user: disconnect", q->session.client);
        set_disconnect(&v, LC_STEP_TOKEN, LC_DISCONNECT_INVALID_TOKEN);
    } else {
        set_allow(&v, LC_STEP_TOKEN);
        v.granted = true;
        v.expire_at = q->cfg->client_insecure ? 0 : cl->has_expire_at ? cl->expire_at : cl->exp;
    }
    finish(d, &v);
}

/* A subscription token for q->channel: 1 with the claims in d, 0 with the verdict written, -1
 * while the JWKS is fetched again (the step runs again then). */
static int sub_token(lc_decide_t *d, lc_verdict_t *v, bool subscribe)
{
    const lc_decide_req_t *q = &d->req;
    lc_token_keys_t tk;
    lc_token_keys(q->cfg, true, q->httpc, &tk);
    const lc_jwt_keys_t keys = tk.keys;
    const char *why = NULL;
    lc_sub_claims_t *cl = &d->sub_claims;
    lc_jwt_status st =
        lc_jwt_verify_subscribe(q->token, strlen(q->token), &keys, lc_now_s(), cl, &why);
    if (await_jwks(d, st, &tk))
        return -1;
    d->has_sub_claims = st == LC_JWT_OK;
    if (st == LC_JWT_OK)
        TRACE(d, "token",
              "subscription token valid: channel %s, sub \"%s\", client \"%s\", exp %lld",
              cl->channel, cl->sub, cl->client, (long long)cl->exp);
    else
        TRACE(d, "token", "subscription token %s",
              st == LC_JWT_EXPIRED ? "expired"
              : why                ? why
                                   : "invalid");
    if (st == LC_JWT_EXPIRED) {
        set_error(v, LC_STEP_TOKEN, LC_ERROR_TOKEN_EXPIRED);
        return 0;
    }
    if (st != LC_JWT_OK && subscribe) {
        lc_log_info("client %s: subscription token for %s refused (%s)", q->session.client,
                    q->channel, why ? why : "invalid");
        set_error(v, LC_STEP_TOKEN, LC_ERROR_PERMISSION_DENIED);
        return 0;
    }
    if (st != LC_JWT_OK || strcmp(cl->channel, q->channel) != 0 ||
        strcmp(cl->sub, q->session.user) != 0 ||
        (cl->client[0] && strcmp(cl->client, q->session.client) != 0)) {
        if (st == LC_JWT_OK && subscribe)
            lc_log_info("client %s: subscription token for %s does not match (channel %s, "
                        "user \"%s\")",
                        q->session.client, q->channel, cl->channel, cl->sub);
        set_disconnect(v, LC_STEP_TOKEN, LC_DISCONNECT_INVALID_TOKEN);
        return 0;
    }
    set_allow(v, LC_STEP_TOKEN);
    v->granted = true;
    v->expire_at = cl->has_expire_at ? cl->expire_at : cl->exp;
    return 1;
}

static void subscribe_steps(lc_decide_t *d)
{
    const lc_decide_req_t *q = &d->req;
    const lc_config_t *cfg = q->cfg;
    const lc_ns_opts_t *o = &d->ns;
    const char *ch = q->channel;
    size_t len = strlen(ch);
    lc_verdict_t v;
    bool have_token = q->token && q->token[0];
    bool laravel = o->subscribe_proxy && o->subscribe_proxy->protocol == LC_PROXY_LARAVEL_AUTH;
    if (lc__decide_has_prefix(ch, len, cfg->private_prefix) && !have_token && !laravel) {
        /* A private channel needs a subscription token — unless Laravel's broadcasting auth
         * decides for the namespace: `$orders.1` is Laravel's `private-orders.1`. */
        TRACE(d, "token", "private channel (prefix \"%s\") without a subscription token",
              cfg->private_prefix);
        set_error(&v, LC_STEP_TOKEN, LC_ERROR_PERMISSION_DENIED);
    } else if (have_token) {
        int r = sub_token(d, &v, true);
        if (r < 0)
            return;
        if (r > 0) {
            const lc_sub_options_t *so = &d->sub_claims.opts;
            v.info = pick_info(so->info, so->info_len, so->b64info, so->b64info_len);
            if (so->data)
                v.data = (lc_raw_t){so->data, so->data_len};
            v.override = &so->override;
        }
    } else if (!lc_decide_user_limited(cfg, o, ch, len) && o->subscribe_proxy) {
        ask_proxy(d, LC_PROXY_SUBSCRIBE, o->subscribe_proxy);
        return;
    } else {
        bool limited = lc_decide_user_limited(cfg, o, ch, len);
        if (limited)
            TRACE(d, "rules", "user-limited channel: user \"%s\" %s", q->session.user,
                  lc__decide_user_listed(cfg, q->session.user, ch, len) ? "listed" : "not listed");
        else
            TRACE(d, "rules",
                  "namespace %s: allow_subscribe_for_client %d, allow_subscribe_for_anonymous %d, "
                  "client.insecure %d",
                  o->name ? o->name : "(none)", o->allow_subscribe_for_client,
                  o->allow_subscribe_for_anonymous, cfg->client_insecure);
        if (lc_decide_subscribe_rules(cfg, o, q->session.user, ch, len))
            set_allow(&v, LC_STEP_RULES);
        else
            set_error(&v, LC_STEP_RULES, LC_ERROR_PERMISSION_DENIED);
    }
    finish(d, &v);
}

/* Spec §1.6 rpc: nothing configured → 108; the method's rpc namespace undefined → 104; found
 * without a proxy → 108; the ping method answers {} itself. */
static void rpc_steps(lc_decide_t *d)
{
    const lc_config_t *cfg = d->req.cfg;
    const char *method = d->req.method ? d->req.method : "";
    lc_verdict_t v;
    if (cfg->rpc_ping_enabled && cfg->rpc_ping_method &&
        strcmp(method, cfg->rpc_ping_method) == 0) {
        TRACE(d, "rules", "rpc ping method \"%s\"", method);
        set_allow(&v, LC_STEP_RULES);
        finish(d, &v);
        return;
    }
    bool any = cfg->rpc_without_namespace.proxy != NULL && !d->req.no_proxy;
    for (size_t i = 0; !any && !d->req.no_proxy && i < cfg->n_rpc_namespaces; i++)
        any = cfg->rpc_namespaces[i].proxy != NULL;
    const lc_rpc_ns_t *ns = any ? lc_config_rpc_ns(cfg, method) : NULL;
    if (ns && ns->proxy) {
        ask_proxy(d, LC_PROXY_RPC, ns->proxy);
        return;
    }
    TRACE(d, "rules", "rpc method \"%s\": %s", method,
          !any && d->req.no_proxy ? "proxies left out (no-proxy)"
          : !any                  ? "no rpc proxy configured"
          : ns                    ? "its rpc namespace has no proxy"
                                  : "no rpc namespace");
    set_error(&v, LC_STEP_RULES, any && !ns ? LC_ERROR_METHOD_NOT_FOUND : LC_ERROR_NOT_AVAILABLE);
    finish(d, &v);
}

/* Everything after the Lua hook (or without one). */
static void later_steps(lc_decide_t *d)
{
    const lc_decide_req_t *q = &d->req;
    lc_verdict_t v;
    if (q->at_expiry) {
        const lc_proxy_conf_t *conf =
            q->kind == LC_HOOK_REFRESH ? &q->cfg->refresh_proxy : d->ns.sub_refresh_proxy;
        LC_ASSERT(conf != NULL);
        ask_proxy(d, q->kind == LC_HOOK_REFRESH ? LC_PROXY_REFRESH : LC_PROXY_SUB_REFRESH, conf);
        return;
    }
    if (q->preauthorized) {
        TRACE(d, "rules", "authorized by the protocol (Pusher)");
        set_allow(&v, LC_STEP_RULES);
        finish(d, &v);
        return;
    }
    switch (q->kind) {
    case LC_HOOK_CONNECT:
        connect_steps(d);
        return;
    case LC_HOOK_REFRESH:
        refresh_steps(d);
        return;
    case LC_HOOK_SUBSCRIBE:
        subscribe_steps(d);
        return;
    case LC_HOOK_SUB_REFRESH:
        if (sub_token(d, &v, false) < 0)
            return;
        finish(d, &v);
        return;
    case LC_HOOK_PUBLISH:
        if (d->ns.publish_proxy) {
            /* The publish proxy decides before any namespace permission (spec §6.3). */
            ask_proxy(d, LC_PROXY_PUBLISH, d->ns.publish_proxy);
            return;
        }
        publish_rules(d, &v);
        finish(d, &v);
        return;
    case LC_HOOK_RPC:
        rpc_steps(d);
        return;
    case LC_HOOK_TRACK:
        /* the signature was verified before: only a Lua hook may still refuse */
        set_allow(&v, LC_STEP_RULES);
        finish(d, &v);
        return;
    default:
        set_error(&v, LC_STEP_RULES, LC_ERROR_INTERNAL);
        finish(d, &v);
        return;
    }
}

/* --- step 1: Lua ----------------------------------------------------------------------------- */

static void on_lua(void *arg, const lc_decision_t *dec)
{
    lc_decide_t *d = arg;
    d->lua = NULL;
    static const char *const answers[] = {"nil (no opinion)", "allow", "false (deny)", "error",
                                          "disconnect"};
    TRACE(d, "lua", "hook answered %s%s",
          (unsigned)dec->type <= LC_DECIDE_DISCONNECT ? answers[dec->type] : "?",
          dec->type == LC_DECIDE_ALLOW && dec->reply.has_result ? " with a result" : "");
    if (dec->type == LC_DECIDE_NONE) {
        later_steps(d);
        return;
    }
    lc_verdict_t v;
    if (dec->type == LC_DECIDE_DENY) {
        switch (d->req.kind) {
        case LC_HOOK_CONNECT:
            /* false: a refusal the SDK does not retry */
            set_disconnect(&v, LC_STEP_LUA, LC_DISCONNECT_PERMISSION_DENIED);
            break;
        case LC_HOOK_REFRESH:
        case LC_HOOK_SUB_REFRESH:
            set_disconnect(&v, LC_STEP_LUA, LC_DISCONNECT_INVALID_TOKEN);
            break;
        default:
            set_error(&v, LC_STEP_LUA, LC_ERROR_PERMISSION_DENIED);
            break;
        }
        finish(d, &v);
        return;
    }
    from_reply(&dec->reply, LC_STEP_LUA, &v);
    if (dec->type == LC_DECIDE_ALLOW) {
        /* A Lua publish hook may leave clients or users out of the fan-out. */
        v.exclude_clients = (const char *const *)dec->exclude_clients;
        v.n_exclude_clients = dec->n_exclude_clients;
        v.exclude_users = (const char *const *)dec->exclude_users;
        v.n_exclude_users = dec->n_exclude_users;
        kind_allow(d, &v);
    }
    finish(d, &v);
}

lc_decide_t *lc_decide_start(const lc_decide_req_t *req, lc_decide_cb cb, void *arg)
{
    lc_decide_t *d = calloc(1, sizeof(*d));
    if (!d) {
        lc_verdict_t v;
        set_error(&v, LC_STEP_RULES, LC_ERROR_INTERNAL);
        v.unavailable = true;
        v.message = "";
        cb(arg, &v);
        return NULL;
    }
    d->req = *req;
    if (req->ns) {
        d->ns = *req->ns;
        d->req.ns = &d->ns;
        if (req->no_proxy)
            d->ns.subscribe_proxy = d->ns.publish_proxy = d->ns.sub_refresh_proxy = NULL;
    }
    if (!d->req.session.user)
        d->req.session.user = "";
    d->cb = cb;
    d->arg = arg;
    d->starting = true;
    d->t0 = uv_hrtime();
    d->trace = req->trace;
    /* A connect is recorded while its user is unknown and logged once the verdict names one
     * of them (log.trace_users is a development setting). */
    if (!d->trace && req->cfg && req->cfg->n_trace_users > 0 &&
        (req->kind == LC_HOOK_CONNECT || lc__decide_traced(req->cfg, &req->session)))
        d->trace = d->own_trace = lc_decide_trace_new();
    if (d->trace)
        lc__decide_trace_start(d->trace, &d->req);
    lc_lua_t *vm = req->lua;
    if (vm && !req->at_expiry && lc_lua_has_hook(vm, req->kind)) {
        lc_hook_ctx_t ctx;
        memset(&ctx, 0, sizeof(ctx));
        ctx.client = req->session.client;
        ctx.user = d->req.session.user;
        ctx.transport = req->session.transport;
        ctx.channel = req->channel;
        ctx.method = req->method;
        ctx.key = req->session.key;
        ctx.removed = req->session.removed;
        ctx.sub_type = req->session.sub_type;
        ctx.data = req->data;
        ctx.info = req->conn_info;
        ctx.token = req->token;
        ctx.meta = req->session.meta;
        ctx.headers = req->session.conn_headers;
        ctx.n_headers = req->session.n_conn_headers;
        ctx.trace = d->trace;
        ctx.no_proxy = req->no_proxy;
        if (d->trace) {
            char where[256] = "?";
            lc_lua_hook_where(vm, req->kind, where, sizeof(where));
            TRACE(d, "lua", "%s hook (%s)", lc__decide_kind_name(req->kind), where);
        }
        lc_lua_call_t *call = lc_lua_call(vm, req->kind, &ctx, on_lua, d);
        if (call)
            d->lua = call; /* on_lua has not run: it runs from the loop */
    } else {
        if (vm && !req->at_expiry)
            TRACE(d, "lua", "the script has no %s hook", lc__decide_kind_name(req->kind));
        later_steps(d);
    }
    /* a quick answer only marks d done while starting: it is still ours here */
    // NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
    d->starting = false;
    if (d->done) {
        decide_free(d);
        return NULL;
    }
    return d;
}

void lc_decide_cancel(lc_decide_t *d)
{
    if (!d)
        return;
    LC_ASSERT(!d->done);
    if (d->lua)
        lc_lua_cancel(d->lua);
    if (d->proxy)
        lc_proxy_cancel(d->proxy);
    lc_token_jwks_cancel(d->jwks);
    decide_free(d);
}
