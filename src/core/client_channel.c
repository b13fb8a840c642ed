/* Channel commands of a session other than subscribing: publish, presence, presence_stats,
 * history and sub_refresh. Permission decisions follow spec §6.2-§6.3. */
#include "core/client_priv.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* Common checks of every channel command: returns the channel's options (in *scratch when a
 * channel rule applies), or NULL after answering the error (or disconnecting, for an empty
 * channel). */
static const lc_ns_opts_t *channel_checks(lc_client_t *c, const lc_cmd_t *cmd,
                                          lc_ns_opts_t *scratch)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return NULL;
    }
    size_t len = strlen(cmd->channel);
    if ((int64_t)len > c->cfg->channel_max_length) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return NULL;
    }
    const lc_ns_opts_t *o = lc_config_resolve_channel(c->cfg, cmd->channel, len, c->user, scratch);
    if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_UNKNOWN_CHANNEL);
        return NULL;
    }
    if (!lc_config_channel_regex_ok(o, lc__channel_name_after_ns(c->cfg, cmd->channel))) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return NULL;
    }
    return o;
}

/* --- publish --------------------------------------------------------------------------- */

static void do_publish(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o, lc_raw_t data,
                       bool skip_history, const lc_exclude_t *ex)
{
    size_t len = strlen(cmd->channel);
    lc_client_info_t info;
    lc__client_info(c, lc__client_find_sub(c, cmd->channel, len), &info);
    lc_publish_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = cmd->channel;
    req.chlen = len;
    req.pub.data = data;
    req.pub.info = &info;
    req.skip_history = skip_history;
    if (ex)
        req.exclude = *ex;
    lc_node_chan_opts(lc_worker_node(c->w), o, &req.opts);
    int rc = lc_node_publish(lc_worker_node(c->w), &req, NULL, NULL);
    if (c->state == LC_CLIENT_CLOSING)
        return;
    if (rc != 0) {
        lc_log_error("client %s: publish to %s failed: %s", c->id, cmd->channel, lc_strerror(rc));
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return;
    }
    lc__client_reply_empty(c, cmd->id, "publish");
}

static void on_publish_proxy(void *arg, int err, const lc_proxy_reply_t *rep)
{
    lc_client_t *c = arg;
    c->x->call = NULL;
    const lc_cmd_t *cmd = &c->x->cur;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(c->cfg, cmd->channel, strlen(cmd->channel), c->user, &scratch);
    if (err != 0 || !o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else if (rep->type != LC_PROXY_RESULT) {
        lc__client_reply_proxy_error(c, cmd->id, rep);
    } else {
        /* The backend may replace what is published. */
        lc_raw_t data = rep->data_set ? (lc_raw_t){rep->data, rep->data_len} : cmd->data;
        do_publish(c, cmd, o, data, rep->skip_history, NULL);
    }
    lc__client_resume(c);
}

int lc__client_publish(lc_client_t *c, lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0] || !cmd->data.p || cmd->data.len == 0) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel and data required");
        return LC_CMD_STOP;
    }
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = channel_checks(c, cmd, &scratch);
    if (!o)
        return LC_CMD_DONE;
    const lc_decision_t *d = c->hook;
    if (d && d->type != LC_DECIDE_NONE) {
        /* A Lua publish hook decides first; it may change the data and leave clients or
         * users out of the fan-out. */
        if (d->type == LC_DECIDE_DENY) {
            lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        } else if (d->type != LC_DECIDE_ALLOW) {
            lc__client_reply_proxy_error(c, cmd->id, &d->reply);
        } else {
            lc_raw_t data =
                d->reply.data_set ? (lc_raw_t){d->reply.data, d->reply.data_len} : cmd->data;
            lc_exclude_t ex = {(const char *const *)d->exclude_clients, d->n_exclude_clients,
                               (const char *const *)d->exclude_users, d->n_exclude_users};
            do_publish(c, cmd, o, data, d->reply.skip_history, &ex);
        }
        return c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP : LC_CMD_DONE;
    }
    if (o->publish_proxy) {
        /* The publish proxy decides before any namespace permission (spec §6.3). */
        lc_proxy_req_t r;
        lc__client_proxy_req(c, LC_PROXY_PUBLISH, &r);
        r.channel = cmd->channel;
        r.data = cmd->data;
        /* The command waits in the side struct: without it the call is not made. */
        lc_proxy_call_t *call =
            lc__client_x(c)
                ? lc_proxy_call(lc__client_httpc(c), o->publish_proxy, &r, on_publish_proxy, c)
                : NULL;
        if (!call) {
            lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
            return LC_CMD_DONE;
        }
        return lc__client_wait(c, cmd, call);
    }
    bool anon = !c->user[0];
    bool subscribed = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel)) != NULL;
    bool allowed = false;
    if (o->allow_publish_for_client && (!anon || o->allow_publish_for_anonymous))
        allowed = true;
    else if (o->allow_publish_for_subscriber && subscribed &&
             (!anon || o->allow_publish_for_anonymous))
        allowed = true;
    else if (c->cfg->client_insecure)
        allowed = true;
    if (!allowed) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return LC_CMD_DONE;
    }
    do_publish(c, cmd, o, cmd->data, false, NULL);
    return LC_CMD_DONE;
}

/* --- rpc ------------------------------------------------------------------------------- */

static void reply_rpc(lc_client_t *c, uint32_t id, const char *data, size_t len)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    lc_buf_printf(&c->replies, "{\"id\":%u,\"rpc\":{", id);
    if (data && len) {
        lc_buf_append_str(&c->replies, "\"data\":");
        lc_proto_append_raw(&c->replies, data, len);
    }
    lc_buf_append_str(&c->replies, "}}");
}

static void on_rpc_proxy(void *arg, int err, const lc_proxy_reply_t *rep)
{
    lc_client_t *c = arg;
    c->x->call = NULL;
    const lc_cmd_t *cmd = &c->x->cur;
    if (err != 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else if (rep->type != LC_PROXY_RESULT) {
        lc__client_reply_proxy_error(c, cmd->id, rep);
    } else {
        reply_rpc(c, cmd->id, rep->data, rep->data_len);
    }
    lc__client_resume(c);
}

/* Spec §1.6 rpc: nothing configured → 108; the method's rpc namespace undefined → 104; found
 * without a proxy → 108; rpc.ping answers {} itself. */
int lc__client_rpc(lc_client_t *c, lc_cmd_t *cmd)
{
    const lc_config_t *cfg = c->cfg;
    const char *method = cmd->method ? cmd->method : "";
    const lc_decision_t *d = c->hook;
    if (d && d->type != LC_DECIDE_NONE) {
        /* an RPC method answered in Lua */
        if (d->type == LC_DECIDE_DENY)
            lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        else if (d->type != LC_DECIDE_ALLOW)
            lc__client_reply_proxy_error(c, cmd->id, &d->reply);
        else
            reply_rpc(c, cmd->id, d->reply.data, d->reply.data_len);
        return c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP : LC_CMD_DONE;
    }
    if (cfg->rpc_ping_enabled && cfg->rpc_ping_method &&
        strcmp(method, cfg->rpc_ping_method) == 0) {
        lc__client_reply_empty(c, cmd->id, "rpc");
        return LC_CMD_DONE;
    }
    bool any = cfg->rpc_without_namespace.proxy != NULL;
    for (size_t i = 0; !any && i < cfg->n_rpc_namespaces; i++)
        any = cfg->rpc_namespaces[i].proxy != NULL;
    if (!any) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return LC_CMD_DONE;
    }
    const lc_rpc_ns_t *ns = lc_config_rpc_ns(cfg, method);
    if (!ns) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_METHOD_NOT_FOUND);
        return LC_CMD_DONE;
    }
    if (!ns->proxy) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return LC_CMD_DONE;
    }
    lc_proxy_req_t r;
    lc__client_proxy_req(c, LC_PROXY_RPC, &r);
    r.method = method;
    r.data = cmd->data;
    lc_proxy_call_t *call =
        lc__client_x(c) ? lc_proxy_call(lc__client_httpc(c), ns->proxy, &r, on_rpc_proxy, c) : NULL;
    if (!call) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    return lc__client_wait(c, cmd, call);
}

/* --- presence -------------------------------------------------------------------------- */

typedef struct read_ctx {
    lc_client_t *c;
    uint32_t id;
    bool answered;
} read_ctx_t;

static void begin_reply(lc_client_t *c)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
}

static void on_presence(void *arg, int err, const lc_presence_res_t *res)
{
    read_ctx_t *r = arg;
    r->answered = true;
    if (err != 0) {
        lc__client_reply_error(r->c, r->id, LC_ERROR_INTERNAL);
        return;
    }
    lc_buf_t *b = &r->c->replies;
    begin_reply(r->c);
    lc_buf_printf(b, "{\"id\":%u,\"presence\":{\"presence\":{", r->id);
    for (size_t i = 0; i < res->n; i++) {
        if (i)
            lc_buf_putc(b, ',');
        lc_buf_append_json_str(b, res->entries[i].client, strlen(res->entries[i].client));
        lc_buf_putc(b, ':');
        lc_buf_append(b, res->entries[i].info->data, res->entries[i].info->len);
    }
    lc_buf_append_str(b, "}}}");
}

static void on_presence_stats(void *arg, int err, uint64_t num_clients, uint64_t num_users)
{
    read_ctx_t *r = arg;
    r->answered = true;
    if (err != 0) {
        lc__client_reply_error(r->c, r->id, LC_ERROR_INTERNAL);
        return;
    }
    begin_reply(r->c);
    lc_buf_printf(&r->c->replies,
                  "{\"id\":%u,\"presence_stats\":{\"num_clients\":%llu,\"num_users\":%llu}}", r->id,
                  (unsigned long long)num_clients, (unsigned long long)num_users);
}

/* Engines that answer later are not supported by the session yet: the memory engine answers
 * before the call returns. */
static void check_answered(lc_client_t *c, const read_ctx_t *r, int rc)
{
    if (rc != 0 || !r->answered) {
        lc_log_error("client %s: engine read failed: %s", c->id, lc_strerror(rc ? rc : LC_EIO));
        if (!r->answered)
            lc__client_reply_error(c, r->id, LC_ERROR_INTERNAL);
    }
}

static void handle_presence(lc_client_t *c, const lc_cmd_t *cmd, bool stats)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = channel_checks(c, cmd, &scratch);
    if (!o)
        return;
    size_t len = strlen(cmd->channel);
    if (!o->presence) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return;
    }
    if (!lc__client_can_presence(c, o, lc__client_find_sub(c, cmd->channel, len) != NULL)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return;
    }
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    read_ctx_t r = {.c = c, .id = cmd->id};
    int rc = stats ? e->vt->presence_stats(e, cmd->channel, len, on_presence_stats, &r)
                   : e->vt->presence(e, cmd->channel, len, on_presence, &r);
    check_answered(c, &r, rc);
}

/* --- history --------------------------------------------------------------------------- */

static void on_history(void *arg, int err, const lc_history_res_t *res)
{
    read_ctx_t *r = arg;
    r->answered = true;
    if (err == LC_EPOS) {
        lc__client_reply_error(r->c, r->id, LC_ERROR_UNRECOVERABLE_POSITION);
        return;
    }
    if (err != 0 || !res) {
        lc__client_reply_error(r->c, r->id, LC_ERROR_INTERNAL);
        return;
    }
    lc_buf_t *b = &r->c->replies;
    begin_reply(r->c);
    lc_buf_printf(b, "{\"id\":%u,\"history\":{\"publications\":[", r->id);
    for (size_t i = 0; i < res->n; i++) {
        if (i)
            lc_buf_putc(b, ',');
        lc_buf_append(b, res->pubs[i]->data, res->pubs[i]->len);
    }
    lc_buf_append_str(b, "],\"epoch\":");
    lc_buf_append_json_str(b, res->top.epoch, strlen(res->top.epoch));
    lc_buf_printf(b, ",\"offset\":%llu}}", (unsigned long long)res->top.offset);
}

static void handle_history(lc_client_t *c, const lc_cmd_t *cmd)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = channel_checks(c, cmd, &scratch);
    if (!o)
        return;
    size_t len = strlen(cmd->channel);
    if (o->history_size <= 0 || o->history_ttl_ms <= 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return;
    }
    if (!lc__client_can_history(c, o, lc__client_find_sub(c, cmd->channel, len) != NULL)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return;
    }
    if (cmd->reverse && cmd->has_since && cmd->since_offset == 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return;
    }
    lc_history_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = cmd->channel;
    req.chlen = len;
    lc_node_chan_opts(lc_worker_node(c->w), o, &req.opts);
    /* Client limits are capped at client.history_max_publication_limit (also for "all"). */
    int cap = c->cfg->history_max_publication_limit;
    req.limit = cmd->limit;
    if (cap > 0 && (req.limit < 0 || req.limit > cap))
        req.limit = cap;
    req.reverse = cmd->reverse;
    if (cmd->has_since) {
        req.has_since = true;
        req.since.offset = cmd->since_offset;
        if (cmd->since_epoch)
            snprintf(req.since.epoch, sizeof(req.since.epoch), "%s", cmd->since_epoch);
    }
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    read_ctx_t r = {.c = c, .id = cmd->id};
    int rc = e->vt->history(e, &req, on_history, &r);
    check_answered(c, &r, rc);
}

void lc__client_channel_feature(lc_client_t *c, const lc_cmd_t *cmd)
{
    switch (cmd->type) {
    case LC_CMD_PRESENCE:
        handle_presence(c, cmd, false);
        break;
    case LC_CMD_PRESENCE_STATS:
        handle_presence(c, cmd, true);
        break;
    default:
        handle_history(c, cmd);
        break;
    }
}

/* --- sub_refresh ----------------------------------------------------------------------- */

void lc__client_sub_refresh(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return;
    }
    if (!cmd->token || !cmd->token[0]) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return;
    }
    lc_csub_t *cs = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel));
    if (!cs) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return;
    }
    if (c->hook && c->hook->type != LC_DECIDE_NONE) {
        int64_t exp = lc__client_refresh_decision(c, cmd->id, c->hook);
        if (exp < 0)
            return;
        cs->exp = exp;
        lc__client_arm_sub_expiry(c);
        if (c->replies.len > 0)
            lc_buf_putc(&c->replies, '\n');
        int64_t now = lc_now_s();
        if (exp > 0)
            lc_buf_printf(&c->replies,
                          "{\"id\":%u,\"sub_refresh\":{\"expires\":true,\"ttl\":%lld}}", cmd->id,
                          (long long)(exp > now ? exp - now : 0));
        else
            lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{}}", cmd->id);
        return;
    }
    lc_jwt_keys_t keys = {.hmac_secret = lc_config_sub_token_secret(c->cfg)};
    lc_sub_claims_t cl;
    int64_t now = lc_now_s();
    lc_jwt_status st =
        lc_jwt_verify_subscribe(cmd->token, strlen(cmd->token), &keys, now, &cl, NULL);
    if (st == LC_JWT_EXPIRED) {
        /* Not prolonged: the subscription ends at its current expiry. */
        lc__client_reply_error(c, cmd->id, LC_ERROR_TOKEN_EXPIRED);
        return;
    }
    if (st != LC_JWT_OK || strcmp(cl.channel, cmd->channel) != 0 || strcmp(cl.sub, c->user) != 0 ||
        (cl.client[0] && strcmp(cl.client, c->id) != 0)) {
        if (st == LC_JWT_OK)
            lc_sub_claims_free(&cl);
        lc__client_disconnect(c, LC_DISCONNECT_INVALID_TOKEN, NULL);
        return;
    }
    cs->exp = cl.has_expire_at ? cl.expire_at : cl.exp;
    lc_sub_claims_free(&cl);
    lc__client_arm_sub_expiry(c);
    begin_reply(c);
    if (cs->exp > 0)
        lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{\"expires\":true,\"ttl\":%lld}}",
                      cmd->id, (long long)(cs->exp > now ? cs->exp - now : 0));
    else
        lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{}}", cmd->id);
}
