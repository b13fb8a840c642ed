/* Connect and refresh: credentials from a connection JWT or from the connect proxy (spec §3,
 * §5), anonymous access, the connect result with server-side subscriptions, and connection
 * expiry refreshed by the client (refresh command) or by the refresh proxy. */
#include "core/client_priv.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/rand.h"

/* What a successful authentication grants, whatever decided it. Borrowed. */
typedef struct conn_grant {
    const char *user;
    lc_raw_t info;
    int64_t exp;          /* Unix s, 0 = never */
    bool expire_at_claim; /* exp comes from an explicit expire_at (past → 110, not 109) */
    const char *const *channels;
    size_t n_channels;
    const lc_conn_sub_t *subs;
    size_t n_subs;
    lc_raw_t data; /* connect result data (connect proxy) */
    lc_raw_t meta;
} conn_grant_t;

static char *dup_raw(lc_raw_t r, size_t *len)
{
    if (!r.p || r.len == 0)
        return NULL;
    char *p = malloc(r.len + 1);
    if (!p)
        return NULL;
    memcpy(p, r.p, r.len);
    p[r.len] = '\0';
    *len = r.len;
    return p;
}

/* Binary info fits the JSON protocol only when it is itself JSON text. */
static lc_raw_t pick_info(const char *json, size_t json_len, const unsigned char *bin,
                          size_t bin_len)
{
    if (bin && lc_json_check((const char *)bin, bin_len, NULL))
        return (lc_raw_t){(const char *)bin, bin_len};
    return (lc_raw_t){json, json_len};
}

static int finish_connect(lc_client_t *c, uint32_t id, const lc_cmd_t *cmd, const conn_grant_t *g)
{
    const lc_config_t *cfg = c->cfg;
    int64_t now = lc_now_s();
    int64_t exp = cfg->client_insecure ? 0 : g->exp; /* insecure mode ignores expiry */
    if (g->expire_at_claim && exp > 0 && exp <= now) {
        lc__client_reply_error(c, id, LC_ERROR_EXPIRED);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    c->user = strdup(g->user ? g->user : "");
    c->conn_info = dup_raw(g->info, &c->conn_info_len);
    /* Meta, a session id and an expiry check live in the side struct; a connection with
     * none of them goes without it. */
    bool want_meta = g->meta.p && g->meta.len > 0;
    lc_client_x_t *x = want_meta || exp > 0 || c->mode != LC_CLIENT_BIDI ? lc__client_x(c) : c->x;
    if (!c->user || (exp > 0 && !x)) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    if (x && want_meta)
        x->meta = dup_raw(g->meta, &x->meta_len);
    c->exp = exp;
    if (x && c->mode != LC_CLIENT_BIDI) {
        x->session = malloc(37);
        if (x->session)
            lc_uuid4(x->session);
    }
    if (lc__worker_add_client(c->w, c->id, c->user, c, &c->user_node) != 0) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    c->registered = true;
    if (c->mode == LC_CLIENT_EMULATION &&
        (!x || !x->session || lc__worker_add_session(c->w, x->session, c) != 0)) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    c->state = LC_CLIENT_CONNECTED;
    lc__worker_unsched(c->w, &c->sched);
    lc__client_schedule_ping(c);
    lc__client_arm_expiry(c);

    /* Server-side subscriptions: channels / subs from the token or the connect proxy, and the
     * personal channel. */
    lc_buf_t subs = LC_BUF_INIT;
    uint32_t code =
        lc__client_server_subs(c, g->channels, g->n_channels, g->subs, g->n_subs, cmd, &subs);
    if (!code && c->mode == LC_CLIENT_UNI) {
        uint32_t dc = lc__client_uni_subs(c, cmd, &subs);
        if (dc) {
            lc_buf_free(&subs);
            lc__client_disconnect(c, dc, NULL);
            return LC_CMD_STOP;
        }
    }
    if (code) {
        lc_buf_free(&subs);
        lc__client_reply_error(c, id, code);
        c->unusable = true;
        return LC_CMD_STOP;
    }

    lc_connect_result_t r;
    memset(&r, 0, sizeof(r));
    r.client = c->id;
    r.version = LUCENT_VERSION;
    /* expires/ttl tell the SDK to refresh itself; the refresh proxy does it for it instead. */
    if (exp > 0 && !c->server_refresh) {
        r.expires = true;
        r.ttl = exp > now ? (uint32_t)(exp - now) : 0;
    }
    r.data = g->data;
    if ((!c->native_ping || c->mode == LC_CLIENT_UNI) && cfg->ping_interval_ms > 0) {
        r.ping = (uint32_t)(cfg->ping_interval_ms / 1000);
        r.pong = cfg->pong_timeout_ms > 0 && c->mode != LC_CLIENT_UNI;
    }
    if (c->mode != LC_CLIENT_BIDI && x)
        r.session = x->session;
    if (c->mode == LC_CLIENT_EMULATION)
        r.node = lc_node_uid(lc_worker_node(c->w));
    if (cfg->connect_include_server_time)
        r.time_ms = lc_now_ms();
    if (subs.len > 2)
        r.subs = (lc_raw_t){subs.data, subs.len};
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    if (c->mode == LC_CLIENT_UNI)
        lc_proto_push_connect(&c->replies, &r); /* unidirectional: a push, not a reply */
    else
        lc_proto_reply_connect(&c->replies, id, &r);
    lc_buf_free(&subs);
    lc_log_debug("client %s connected (user \"%s\")", c->id, c->user);
    return LC_CMD_DONE;
}

/* No credentials: anonymous when the config allows it, else 3501. */
static int connect_anonymous(lc_client_t *c, uint32_t id, const lc_cmd_t *cmd)
{
    if (!c->cfg->client_insecure && !c->cfg->allow_anonymous_connect_without_token) {
        lc_log_info("connect refused: no credentials (no token, no connect proxy result; "
                    "client.insecure and client.allow_anonymous_connect_without_token are off)");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return LC_CMD_STOP;
    }
    conn_grant_t g = {.user = ""};
    return finish_connect(c, id, cmd, &g);
}

static int connect_token(lc_client_t *c, const lc_cmd_t *cmd)
{
    lc_jwt_keys_t keys = {.hmac_secret = c->cfg->token_hmac_secret_key};
    const char *why = NULL;
    lc_conn_claims_t cl;
    lc_jwt_status st =
        lc_jwt_verify_connect(cmd->token, strlen(cmd->token), &keys, lc_now_s(), &cl, &why);
    if (st == LC_JWT_EXPIRED) {
        lc_log_info("connect refused: token expired");
        lc__client_reply_error(c, cmd->id, LC_ERROR_TOKEN_EXPIRED);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    if (st != LC_JWT_OK) {
        lc_log_info("connect refused: invalid token (%s)", why ? why : "invalid");
        lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
        return LC_CMD_STOP;
    }
    if (!cl.sub[0] && c->cfg->disallow_anonymous_connection_tokens) {
        lc_conn_claims_free(&cl);
        lc__client_disconnect(c, LC_DISCONNECT_PERMISSION_DENIED, NULL);
        return LC_CMD_STOP;
    }
    conn_grant_t g = {
        .user = cl.sub,
        .info = pick_info(cl.info, cl.info_len, cl.b64info, cl.b64info_len),
        .exp = cl.has_expire_at ? cl.expire_at : cl.exp,
        .expire_at_claim = cl.has_expire_at,
        .meta = {cl.meta, cl.meta ? strlen(cl.meta) : 0},
    };
    /* `subs` replaces `channels` when it names any channel. */
    if (cl.n_subs > 0) {
        g.subs = cl.subs;
        g.n_subs = cl.n_subs;
    } else {
        g.channels = (const char *const *)cl.channels;
        g.n_channels = cl.n_channels;
    }
    int r = finish_connect(c, cmd->id, cmd, &g);
    lc_conn_claims_free(&cl);
    return r;
}

/* --- the connect proxy ----------------------------------------------------------------- */

/* A decision about a connect from the connect proxy or a Lua hook. Returns LC_CMD_DONE or
 * LC_CMD_STOP (the connection is unusable or closing). */
static int connect_with_reply(lc_client_t *c, const lc_cmd_t *cmd, const lc_proxy_reply_t *rep)
{
    if (rep->type == LC_PROXY_DISCONNECT) {
        lc__client_disconnect(c, rep->code, rep->message);
        return LC_CMD_STOP;
    }
    if (rep->type == LC_PROXY_ERROR) {
        lc__client_reply_proxy_error(c, cmd->id, rep);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    if (!rep->has_result)
        return connect_anonymous(c, cmd->id, cmd);
    c->server_refresh = c->cfg->refresh_proxy_enabled && rep->expire_at > 0;
    conn_grant_t g = {
        .user = rep->user ? rep->user : "",
        .info = {rep->info, rep->info_len},
        .exp = rep->expire_at,
        .expire_at_claim = true,
        .channels = (const char *const *)rep->channels,
        .n_channels = rep->n_channels,
        .subs = rep->subs,
        .n_subs = rep->n_subs,
        .data = {rep->data, rep->data_len},
        .meta = {rep->meta, rep->meta ? strlen(rep->meta) : 0},
    };
    return finish_connect(c, cmd->id, cmd, &g);
}

static void drop_waiting_connect(lc_client_t *c)
{
    /* A refused connect makes the connection unusable: the SDK closes it; nothing queued
     * behind the connect is answered. */
    c->unusable = true;
    lc__client_drop_queue(c);
}

static void on_connect_proxy(void *arg, int err, const lc_proxy_reply_t *rep)
{
    lc_client_t *c = arg;
    c->x->call = NULL;
    const lc_cmd_t *cmd = &c->x->cur;
    if (err != 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        drop_waiting_connect(c);
    } else if (connect_with_reply(c, cmd, rep) == LC_CMD_STOP) {
        drop_waiting_connect(c);
    }
    lc__client_resume(c);
}

/* Keep the connect command's headers that some proxy forwards (emulated_headers). */
static void keep_emulated(lc_client_t *c, const lc_cmd_t *cmd)
{
    size_t keep = 0;
    for (size_t i = 0; i < cmd->n_headers; i++)
        if (lc__node_forwards_emulated(lc_worker_node(c->w), cmd->headers[i].key))
            keep++;
    if (keep == 0)
        return;
    lc_client_x_t *x = lc__client_x(c);
    if (!x)
        return;
    x->emulated = calloc(keep, sizeof(*x->emulated));
    if (!x->emulated)
        return;
    for (size_t i = 0; i < cmd->n_headers; i++) {
        if (!lc__node_forwards_emulated(lc_worker_node(c->w), cmd->headers[i].key))
            continue;
        char *n = strdup(cmd->headers[i].key), *v = strdup(cmd->headers[i].value);
        if (!n || !v) {
            free(n);
            free(v);
            continue;
        }
        x->emulated[x->n_emulated++] = (lc_http_header_t){n, v};
    }
}

int lc__client_connect(lc_client_t *c, lc_cmd_t *cmd)
{
    keep_emulated(c, cmd);
    /* A Lua connect hook with an opinion decides before anything else. */
    if (c->hook && c->hook->type != LC_DECIDE_NONE) {
        if (c->hook->type == LC_DECIDE_DENY) {
            /* false: a refusal the SDK does not retry */
            lc__client_disconnect(c, LC_DISCONNECT_PERMISSION_DENIED, NULL);
            return LC_CMD_STOP;
        }
        return connect_with_reply(c, cmd, &c->hook->reply);
    }
    /* Precedence (spec §3.4): a token, else the connect proxy, else anonymous options. */
    if (cmd->token && cmd->token[0])
        return connect_token(c, cmd);
    if (!c->cfg->connect_proxy_enabled)
        return connect_anonymous(c, cmd->id, cmd);

    lc_proxy_req_t r;
    lc__client_proxy_req(c, LC_PROXY_CONNECT, &r);
    r.name = cmd->name;
    r.version = cmd->version;
    r.data = cmd->data;
    const char **chans = NULL;
    if (cmd->n_subs > 0) {
        chans = calloc(cmd->n_subs, sizeof(*chans));
        for (size_t i = 0; chans && i < cmd->n_subs; i++)
            chans[i] = cmd->subs[i].channel;
        r.channels = chans;
        r.n_channels = chans ? cmd->n_subs : 0;
    }
    /* The command waits in the side struct: without it the call is not made. */
    lc_proxy_call_t *call =
        lc__client_x(c)
            ? lc_proxy_call(lc__client_httpc(c), &c->cfg->connect_proxy, &r, on_connect_proxy, c)
            : NULL;
    free(chans);
    if (!call) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    return lc__client_wait(c, cmd, call);
}

/* --- refresh ------------------------------------------------------------------------------ */

static void reply_refresh(lc_client_t *c, uint32_t id, const char *kind, int64_t exp)
{
    int64_t now = lc_now_s();
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    if (exp > 0)
        lc_buf_printf(&c->replies, "{\"id\":%u,\"%s\":{\"expires\":true,\"ttl\":%lld}}", id, kind,
                      (long long)(exp > now ? exp - now : 0));
    else
        lc_buf_printf(&c->replies, "{\"id\":%u,\"%s\":{}}", id, kind);
}

/* A Lua refresh / sub_refresh hook's decision: prolong (expire_at), end (expired), refuse.
 * Returns the new expiry (0 = none), or -1 when the decision was answered otherwise. */
int64_t lc__client_refresh_decision(lc_client_t *c, uint32_t id, const lc_decision_t *d)
{
    if (d->type == LC_DECIDE_DENY) {
        lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
        return -1;
    }
    if (d->type != LC_DECIDE_ALLOW) {
        lc__client_reply_proxy_error(c, id, &d->reply);
        return -1;
    }
    if (d->reply.expired || (d->reply.expire_at > 0 && d->reply.expire_at <= lc_now_s())) {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        return -1;
    }
    return d->reply.expire_at;
}

void lc__client_refresh(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (c->hook && c->hook->type != LC_DECIDE_NONE) {
        int64_t exp = lc__client_refresh_decision(c, cmd->id, c->hook);
        if (exp < 0)
            return;
        c->exp = exp;
        lc__client_arm_expiry(c);
        reply_refresh(c, cmd->id, "refresh", exp);
        return;
    }
    if (!cmd->token || !cmd->token[0] || c->server_refresh) {
        /* An empty token, or a client refresh while the refresh proxy owns expiry. */
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return;
    }
    lc_jwt_keys_t keys = {.hmac_secret = c->cfg->token_hmac_secret_key};
    lc_conn_claims_t cl;
    int64_t now = lc_now_s();
    lc_jwt_status st = lc_jwt_verify_connect(cmd->token, strlen(cmd->token), &keys, now, &cl, NULL);
    if (st == LC_JWT_EXPIRED) {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        return;
    }
    if (st != LC_JWT_OK) {
        lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
        return;
    }
    if (strcmp(cl.sub, c->user) != 0) {
        lc_conn_claims_free(&cl);
        lc_log_info("client %s: refresh token for another user: disconnect", c->id);
        lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
        return;
    }
    c->exp = c->cfg->client_insecure ? 0 : cl.has_expire_at ? cl.expire_at : cl.exp;
    lc_conn_claims_free(&cl);
    lc__client_arm_expiry(c);
    reply_refresh(c, cmd->id, "refresh", c->exp);
}

/* The refresh proxy at expiry: prolong, update info, or close with 3005. A backend that cannot
 * answer gets 60 more seconds before it is asked again (spec §5.3). */
static void on_refresh_proxy(void *arg, int err, const lc_proxy_reply_t *rep)
{
    lc_client_t *c = arg;
    c->x->refresh_call = NULL;
    if (err != 0) {
        c->exp = lc_now_s() + 60;
        lc__client_arm_expiry(c);
        return;
    }
    if (rep->type != LC_PROXY_RESULT || !rep->has_result || rep->expired) {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        return;
    }
    if (rep->info && rep->info_len) {
        size_t n = 0;
        char *ni = dup_raw((lc_raw_t){rep->info, rep->info_len}, &n);
        if (ni) {
            free(c->conn_info);
            c->conn_info = ni;
            c->conn_info_len = n;
        }
    }
    if (rep->expire_at > lc_now_s()) {
        c->exp = rep->expire_at;
        lc__client_arm_expiry(c);
    } else {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
    }
}

void lc__client_proxy_refresh(lc_client_t *c)
{
    /* Called from the expiry check, which lives in the side struct. */
    lc_client_x_t *x = c->x;
    if (x->refresh_call || c->state != LC_CLIENT_CONNECTED)
        return;
    lc_proxy_req_t r;
    lc__client_proxy_req(c, LC_PROXY_REFRESH, &r);
    x->refresh_call =
        lc_proxy_call(lc__client_httpc(c), &c->cfg->refresh_proxy, &r, on_refresh_proxy, c);
    if (!x->refresh_call) {
        c->exp = lc_now_s() + 60;
        lc__client_arm_expiry(c);
    }
}

/* --- shared proxy plumbing ----------------------------------------------------------------- */

lc_httpc_t *lc__client_httpc(lc_client_t *c)
{
    return lc__worker_httpc(c->w);
}

void lc__client_proxy_req(const lc_client_t *c, lc_proxy_kind kind, lc_proxy_req_t *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->client = c->id;
    r->transport = c->t->vt->name;
    r->user = c->user ? c->user : "";
    const lc_client_x_t *x = c->x;
    if (!x)
        return; /* no meta, no forwarded headers */
    r->meta = (lc_raw_t){x->meta, x->meta_len};
    r->conn_headers = x->headers;
    r->n_conn_headers = x->n_headers;
    r->emulated_headers = x->emulated;
    r->n_emulated_headers = x->n_emulated;
}

void lc__client_reply_proxy_error(lc_client_t *c, uint32_t id, const lc_proxy_reply_t *rep)
{
    if (rep->type == LC_PROXY_DISCONNECT) {
        lc__client_disconnect(c, rep->code, rep->message);
        return;
    }
    if (c->mode == LC_CLIENT_UNI) {
        lc__client_reply_error(c, id, rep->code);
        return;
    }
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    const char *msg = rep->message && *rep->message ? rep->message : lc_error_message(rep->code);
    lc_proto_reply_error(&c->replies, id, rep->code, msg, rep->temporary);
}
