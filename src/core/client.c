/* The client session: connection state, the command dispatch of spec §1.4, pings, and the
 * delivery of publications to this connection. Channel permission decisions are in
 * client_channel.c. */
#include "core/client_priv.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/rand.h"

lc_client_t *lc_client_new(lc_transport_t *t, const lc_client_opts_t *opts)
{
    lc_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->t = t;
    c->w = t->worker;
    c->cfg = lc_worker_config(c->w);
    c->native_ping = opts && opts->native_ping;
    c->state = LC_CLIENT_CONNECTING;
    lc_buf_init(&c->replies);
    lc_list_init(&c->user_node);
    lc__worker_count_session(c->w, 1);
    /* A connection that never authenticates is closed as stale. */
    if (c->cfg->stale_close_delay_ms > 0)
        lc__worker_sched(c->w, &c->sched, LC_SCHED_STALE, c->cfg->stale_close_delay_ms);
    return c;
}

/* Leave every channel and every worker list: after this no publication reaches the client. */
static void client_detach(lc_client_t *c)
{
    while (c->nsubs > 0)
        lc__client_remove_sub(c, c->nsubs - 1);
    lc__worker_unsched(c->w, &c->sched);
    lc__worker_unsched(c->w, &c->pong);
    lc__worker_unsched(c->w, &c->expire);
    lc__worker_unsched(c->w, &c->sub_expire);
    if (c->registered) {
        lc__worker_remove_client(c->w, c->id, c->user, &c->user_node);
        c->registered = false;
    }
}

void lc__client_send_push(lc_client_t *c, const char *p, size_t n)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    lc_rcbuf_t *f = c->t->vt->frame(p, n);
    if (!f)
        return;
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

void lc__client_send_replies(lc_client_t *c)
{
    if (c->replies.len == 0 || c->state == LC_CLIENT_CLOSING) {
        lc_buf_reset(&c->replies);
        return;
    }
    lc_rcbuf_t *f = c->t->vt->frame(c->replies.data, c->replies.len);
    lc_buf_reset(&c->replies);
    if (!f) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

void lc__client_disconnect(lc_client_t *c, uint32_t code, const char *reason)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    /* Replies already produced for this message go out before the close frame. */
    lc__client_send_replies(c);
    if (!reason || !*reason)
        reason = lc_disconnect_reason(code);
    lc_log_debug("client %s (user \"%s\"): disconnect %u %s", c->id[0] ? c->id : "-",
                 c->user ? c->user : "", code, reason);
    c->state = LC_CLIENT_CLOSING;
    client_detach(c);
    c->t->vt->close(c->t, code, reason);
}

void lc__client_shutdown(lc_client_t *c)
{
    lc__client_disconnect(c, LC_DISCONNECT_SHUTDOWN, NULL);
}

void lc_client_on_close(lc_client_t *c)
{
    if (c->state != LC_CLIENT_CLOSING) {
        c->state = LC_CLIENT_CLOSING;
        client_detach(c);
    }
    lc__worker_count_session(c->w, -1);
    lc_buf_free(&c->replies);
    free(c->subs);
    free(c->user);
    free(c->conn_info);
    free(c);
}

/* --- replies --------------------------------------------------------------------------- */

static int reply_begin(lc_client_t *c)
{
    if (c->replies.len > 0)
        return lc_buf_putc(&c->replies, '\n');
    return 0;
}

void lc__client_reply_error(lc_client_t *c, uint32_t id, uint32_t code)
{
    reply_begin(c);
    lc_proto_reply_error(&c->replies, id, code, lc_error_message(code), lc_error_temporary(code));
}

void lc__client_reply_empty(lc_client_t *c, uint32_t id, const char *kind)
{
    reply_begin(c);
    lc_proto_reply_empty(&c->replies, id, kind);
}

/* --- pings ----------------------------------------------------------------------------- */

static void schedule_ping(lc_client_t *c)
{
    if (c->cfg->ping_interval_ms > 0)
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PING, c->cfg->ping_interval_ms);
}

static void send_ping(lc_client_t *c)
{
    if (c->native_ping) {
        c->t->vt->ping(c->t);
        /* Native pongs come from tools (wscat, Postman): allow a whole interval and a bit. */
        if (!c->pong.armed)
            lc__worker_sched(c->w, &c->pong, LC_SCHED_PONG, c->cfg->ping_interval_ms * 10 / 9);
        c->ping_outstanding = true;
        return;
    }
    lc_buf_t b = LC_BUF_INIT;
    lc_proto_ping(&b);
    lc_rcbuf_t *f = c->t->vt->frame(b.data, b.len);
    lc_buf_free(&b);
    if (!f)
        return;
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW) {
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
        return;
    }
    if (c->cfg->pong_timeout_ms > 0 && !c->ping_outstanding) {
        c->ping_outstanding = true;
        lc__worker_sched(c->w, &c->pong, LC_SCHED_PONG, c->cfg->pong_timeout_ms);
    }
}

void lc__client_on_sched(lc_sched_t *s)
{
    lc_client_t *c;
    switch (s->kind) {
    case LC_SCHED_STALE:
        c = lc_container_of(s, lc_client_t, sched);
        lc__client_disconnect(c, LC_DISCONNECT_STALE, NULL);
        break;
    case LC_SCHED_PING:
        c = lc_container_of(s, lc_client_t, sched);
        send_ping(c);
        if (c->state == LC_CLIENT_CONNECTED)
            schedule_ping(c);
        break;
    case LC_SCHED_PONG:
        c = lc_container_of(s, lc_client_t, pong);
        if (c->ping_outstanding)
            lc__client_disconnect(c, LC_DISCONNECT_NO_PONG, NULL);
        break;
    case LC_SCHED_EXPIRE:
        c = lc_container_of(s, lc_client_t, expire);
        /* Not refreshed within client.expired_close_delay after the expiry. */
        if (c->exp > 0 && c->exp <= lc_now_s())
            lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        else
            lc__client_arm_expiry(c);
        break;
    case LC_SCHED_SUB_EXPIRE:
        c = lc_container_of(s, lc_client_t, sub_expire);
        lc__client_check_sub_expiry(c);
        break;
    }
}

static void got_pong(lc_client_t *c)
{
    c->ping_outstanding = false;
    lc__worker_unsched(c->w, &c->pong);
}

void lc_client_on_pong(lc_client_t *c)
{
    if (c->state == LC_CLIENT_CONNECTED)
        got_pong(c);
}

/* --- expiry ---------------------------------------------------------------------------- */

void lc__client_arm_expiry(lc_client_t *c)
{
    if (c->exp <= 0) {
        lc__worker_unsched(c->w, &c->expire);
        return;
    }
    int64_t delay_s = c->exp - lc_now_s();
    int64_t delay = (delay_s > 0 ? delay_s * 1000 : 0) + c->cfg->expired_close_delay_ms;
    lc__worker_sched(c->w, &c->expire, LC_SCHED_EXPIRE, delay);
}

/* --- connect --------------------------------------------------------------------------- */

static int set_conn_info(lc_client_t *c, const lc_conn_claims_t *cl)
{
    const char *p = cl->info;
    size_t n = cl->info_len;
    if (cl->b64info) {
        /* Binary info only fits the JSON protocol when it is itself JSON text. */
        if (lc__json_valid((const char *)cl->b64info, cl->b64info_len)) {
            p = (const char *)cl->b64info;
            n = cl->b64info_len;
        }
    }
    if (!p || n == 0)
        return 0;
    c->conn_info = malloc(n + 1);
    if (!c->conn_info)
        return LC_ENOMEM;
    memcpy(c->conn_info, p, n);
    c->conn_info[n] = '\0';
    c->conn_info_len = n;
    return 0;
}

/* Returns 1 when processing of the message must stop (the connection is unusable). */
static int handle_connect(lc_client_t *c, const lc_cmd_t *cmd)
{
    const lc_config_t *cfg = c->cfg;
    if (c->state == LC_CLIENT_CONNECTED) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "second connect");
        return 1;
    }
    int64_t now = lc_now_s();
    lc_conn_claims_t cl;
    memset(&cl, 0, sizeof(cl));
    const char *user = "";
    bool have_claims = false;

    if (cmd->token && cmd->token[0]) {
        lc_jwt_keys_t keys = {.hmac_secret = cfg->token_hmac_secret_key};
        const char *why = NULL;
        lc_jwt_status st =
            lc_jwt_verify_connect(cmd->token, strlen(cmd->token), &keys, now, &cl, &why);
        if (st == LC_JWT_EXPIRED) {
            lc_log_info("connect refused: token expired");
            lc__client_reply_error(c, cmd->id, LC_ERROR_TOKEN_EXPIRED);
            c->unusable = true;
            return 1;
        }
        if (st != LC_JWT_OK) {
            lc_log_info("connect refused: invalid token (%s)", why ? why : "invalid");
            lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
            return 1;
        }
        have_claims = true;
        user = cl.sub;
        if (!user[0] && cfg->disallow_anonymous_connection_tokens) {
            lc_conn_claims_free(&cl);
            lc__client_disconnect(c, LC_DISCONNECT_PERMISSION_DENIED, NULL);
            return 1;
        }
    } else if (!cfg->client_insecure && !cfg->allow_anonymous_connect_without_token) {
        lc_log_info("connect refused: no token (client.insecure and "
                    "client.allow_anonymous_connect_without_token are off)");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return 1;
    }

    c->user = strdup(user);
    if (!c->user || (have_claims && set_conn_info(c, &cl) != 0)) {
        if (have_claims)
            lc_conn_claims_free(&cl);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return 1;
    }
    int64_t exp = have_claims ? cl.exp : 0;
    if (have_claims && cl.has_expire_at)
        exp = cl.expire_at;
    if (cfg->client_insecure)
        exp = 0; /* insecure mode ignores connection expiry */
    if (have_claims && cl.has_expire_at && exp > 0 && exp <= now) {
        lc_conn_claims_free(&cl);
        lc__client_reply_error(c, cmd->id, LC_ERROR_EXPIRED);
        c->unusable = true;
        return 1;
    }
    c->exp = exp;

    lc_uuid4(c->id);
    if (lc__worker_add_client(c->w, c->id, c->user, c, &c->user_node) != 0) {
        if (have_claims)
            lc_conn_claims_free(&cl);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return 1;
    }
    c->registered = true;
    c->state = LC_CLIENT_CONNECTED;
    lc__worker_unsched(c->w, &c->sched);
    schedule_ping(c);
    lc__client_arm_expiry(c);

    /* Server-side subscriptions: the token's channels / subs, the personal channel. */
    lc_buf_t subs = LC_BUF_INIT;
    uint32_t code = lc__client_server_subs(c, have_claims ? &cl : NULL, cmd, &subs);
    if (have_claims)
        lc_conn_claims_free(&cl);
    if (code) {
        lc_buf_free(&subs);
        lc__client_reply_error(c, cmd->id, code);
        c->unusable = true;
        return 1;
    }

    lc_connect_result_t r;
    memset(&r, 0, sizeof(r));
    r.client = c->id;
    r.version = LUCENT_VERSION;
    if (exp > 0) {
        r.expires = true;
        r.ttl = exp > now ? (uint32_t)(exp - now) : 0;
    }
    if (!c->native_ping && cfg->ping_interval_ms > 0) {
        r.ping = (uint32_t)(cfg->ping_interval_ms / 1000);
        r.pong = cfg->pong_timeout_ms > 0;
    }
    if (cfg->connect_include_server_time)
        r.time_ms = lc_now_ms();
    if (subs.len > 2)
        r.subs = (lc_raw_t){subs.data, subs.len};
    reply_begin(c);
    lc_proto_reply_connect(&c->replies, cmd->id, &r);
    lc_buf_free(&subs);
    lc_log_debug("client %s connected (user \"%s\")", c->id, c->user);
    return 0;
}

static void handle_refresh(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (!cmd->token || !cmd->token[0]) {
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
    reply_begin(c);
    if (c->exp > 0)
        lc_buf_printf(&c->replies, "{\"id\":%u,\"refresh\":{\"expires\":true,\"ttl\":%lld}}",
                      cmd->id, (long long)(c->exp > now ? c->exp - now : 0));
    else
        lc_buf_printf(&c->replies, "{\"id\":%u,\"refresh\":{}}", cmd->id);
}

/* --- dispatch -------------------------------------------------------------------------- */

/* Returns 1 when the rest of the message must not be processed. */
static int dispatch(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (c->unusable) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "connection unusable");
        return 1;
    }
    if (cmd->type == LC_CMD_CONNECT)
        return handle_connect(c, cmd);
    if (c->state != LC_CLIENT_CONNECTED) {
        lc_log_info("command before connect: disconnect");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return 1;
    }
    if (cmd->id == 0 && cmd->type != LC_CMD_SEND) {
        /* An empty command with id 0 is a pong, whatever else it holds. */
        if (!c->ping_outstanding) {
            lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "unexpected pong");
            return 1;
        }
        got_pong(c);
        return 0;
    }
    switch (cmd->type) {
    case LC_CMD_SUBSCRIBE:
        lc__client_subscribe(c, cmd);
        break;
    case LC_CMD_UNSUBSCRIBE:
        lc__client_unsubscribe(c, cmd);
        break;
    case LC_CMD_PUBLISH:
        lc__client_publish(c, cmd);
        break;
    case LC_CMD_PRESENCE:
    case LC_CMD_PRESENCE_STATS:
    case LC_CMD_HISTORY:
        lc__client_channel_feature(c, cmd);
        break;
    case LC_CMD_RPC:
        /* No RPC handler is configured (proxies and Lua come later): not available. */
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        break;
    case LC_CMD_SEND:
        /* Asynchronous message to the server: accepted, nothing handles it yet. */
        break;
    case LC_CMD_REFRESH:
        handle_refresh(c, cmd);
        break;
    case LC_CMD_SUB_REFRESH:
        lc__client_sub_refresh(c, cmd);
        break;
    default:
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "unknown command");
        return 1;
    }
    return c->state == LC_CLIENT_CLOSING;
}

void lc_client_on_message(lc_client_t *c, const char *data, size_t len)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    lc_cmd_reader_t r;
    lc_cmd_reader_init(&r, data, len);
    int n = 0;
    for (;;) {
        lc_cmd_t cmd;
        int rc = lc_cmd_reader_next(&r, &cmd);
        if (rc == 0)
            break;
        if (rc < 0) {
            lc_log_info("client %s: malformed command: disconnect", c->id[0] ? c->id : "-");
            lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
            return;
        }
        n++;
        int stop = dispatch(c, &cmd);
        lc_cmd_free(&cmd);
        if (stop)
            break;
    }
    if (n == 0 && c->state != LC_CLIENT_CLOSING) {
        lc_log_info("client %s: empty message: disconnect", c->id[0] ? c->id : "-");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return;
    }
    lc__client_send_replies(c);
}

/* --- delivery -------------------------------------------------------------------------- */

void lc__client_deliver(void *owner, lc_rcbuf_t *push, lc_rcbuf_t **frames, void *ctx)
{
    lc_client_t *c = owner;
    if (c->state == LC_CLIENT_CLOSING)
        return;
    unsigned k = c->t->framing;
    if (!frames[k]) {
        frames[k] = c->t->vt->frame(push->data, push->len);
        if (!frames[k])
            return;
    }
    if (c->t->vt->send(c->t, frames[k]) == LC_ESLOW) {
        lc_log_info("client %s (user \"%s\"): write queue over client.queue_max_size: "
                    "disconnect slow consumer",
                    c->id, c->user);
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
    }
}
