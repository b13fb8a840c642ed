/* Connect and refresh: credentials from a connection JWT or from the connect proxy (spec §3,
 * §5), anonymous access, the connect result with server-side subscriptions, and connection
 * expiry refreshed by the client (refresh command) or by the refresh proxy. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
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
    if (!r.p || r.len == 0 || r.len > UINT32_MAX)
        return NULL;
    char *p = malloc(r.len + 1);
    if (!p)
        return NULL;
    memcpy(p, r.p, r.len);
    p[r.len] = '\0';
    *len = r.len;
    return p;
}

static int finish_connect(lc_client_t *c, uint32_t id, const lc_cmd_t *cmd, const conn_grant_t *g)
{
    const lc_config_t *cfg = lc__ccfg(c);
    int64_t now = lc_now_s();
    int64_t exp = cfg->client_insecure ? 0 : g->exp; /* insecure mode ignores expiry */
    if (g->expire_at_claim && exp > 0 && exp <= now) {
        lc__client_reply_error(c, id, LC_ERROR_EXPIRED);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    c->user = strdup(g->user ? g->user : "");
    size_t info_len = 0;
    c->conn_info = dup_raw(g->info, &info_len);
    c->conn_info_len = (uint32_t)info_len; /* dup_raw refuses more than 4 GiB */
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
    /* client.user_connection_limit, counted on this node as Centrifugo does (anonymous
     * connections are not limited) */
    if (cfg->user_connection_limit > 0 && c->user[0]) {
        if (!lc__node_user_acquire(lc_worker_node(c->w), c->user, cfg->user_connection_limit)) {
            lc_log_refused("connect", c->id, c->user, NULL, "user_connection_limit",
                           LC_DISCONNECT_CONNECTION_LIMIT, "connection limit");
            lc__client_disconnect(c, LC_DISCONNECT_CONNECTION_LIMIT, NULL);
            return LC_CMD_STOP;
        }
        c->user_counted = true;
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
    lc__client_arm_expiry(c);
    /* Server-side subscriptions (channels / subs from the token or the connect proxy, the
     * personal channel), then the connect result. */
    lc_conn_subs_t subs = {
        .channels = g->channels,
        .n_channels = g->n_channels,
        .subs = g->subs,
        .n_subs = g->n_subs,
        .data = g->data,
        .exp = exp,
    };
    return lc__client_connect_run(c, cmd, &subs);
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
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_CONNECT, &r);
    return lc__client_decide(c, &r);
}

int lc__client_connect_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type == LC_VERDICT_DISCONNECT) {
        lc__client_disconnect(c, v->code, v->message);
        return LC_CMD_STOP;
    }
    if (v->type == LC_VERDICT_ERROR) {
        /* A refused connect makes the connection unusable: the SDK closes it; nothing queued
         * behind the connect is answered. */
        lc__client_reply_verdict(c, cmd->id, v);
        c->unusable = true;
        return LC_CMD_STOP;
    }
    c->server_refresh = v->refresh_by_proxy;
    conn_grant_t g = {
        .user = v->user,
        .info = v->info,
        .exp = v->expire_at,
        .expire_at_claim = v->expire_at_claim,
        .channels = v->channels,
        .n_channels = v->n_channels,
        .subs = v->subs,
        .n_subs = v->n_subs,
        .data = v->data,
        .meta = v->meta,
    };
    return finish_connect(c, cmd->id, cmd, &g);
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

int lc__client_refresh(lc_client_t *c, lc_cmd_t *cmd)
{
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_REFRESH, &r);
    return lc__client_decide(c, &r);
}

int lc__client_refresh_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type != LC_VERDICT_ALLOW) {
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    c->exp = v->expire_at;
    lc__client_arm_expiry(c);
    reply_refresh(c, cmd->id, "refresh", c->exp);
    return LC_CMD_DONE;
}

/* The refresh proxy at expiry: prolong, update info, or close with 3005. A backend that cannot
 * answer gets 60 more seconds before it is asked again (spec §5.3). */
void lc__client_refresh_at_expiry_apply(lc_client_t *c, const lc_verdict_t *v)
{
    if (v->unavailable) {
        c->exp = lc_now_s() + 60;
        lc__client_arm_expiry(c);
        return;
    }
    if (v->type != LC_VERDICT_ALLOW || !v->granted || v->expired) {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        return;
    }
    if (v->info.p && v->info.len) {
        size_t n = 0;
        char *ni = dup_raw(v->info, &n);
        if (ni) {
            free(c->conn_info);
            c->conn_info = ni;
            c->conn_info_len = (uint32_t)n;
        }
    }
    if (v->expire_at > lc_now_s()) {
        c->exp = v->expire_at;
        lc__client_arm_expiry(c);
    } else {
        lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
    }
}

void lc__client_refresh_at_expiry(lc_client_t *c)
{
    /* Called from the expiry check, which lives in the side struct. */
    if (c->state != LC_CLIENT_CONNECTED || c->wait == LC_WAIT_REFRESH)
        return;
    if (c->wait != LC_WAIT_NONE) {
        c->x->refresh_due = true; /* asked when the pending step is over */
        return;
    }
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_REFRESH, &r);
    r.at_expiry = true;
    lc__client_decide_at_expiry(c, &r);
}

void lc__client_reply_verdict(lc_client_t *c, uint32_t id, const lc_verdict_t *v)
{
    if (v->type == LC_VERDICT_DISCONNECT) {
        lc__client_disconnect(c, v->code, v->message);
        return;
    }
    if (c->mode == LC_CLIENT_UNI) {
        lc__client_reply_error(c, id, v->code);
        return;
    }
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    const char *msg = v->message && *v->message ? v->message : lc_error_message(v->code);
    lc_proto_reply_error(&c->replies, id, v->code, msg, v->temporary);
}
