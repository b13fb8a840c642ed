/* Channel commands of a session other than subscribing and reading: publish, rpc and
 * sub_refresh. Each checks the command's shape, asks the decision pipeline (hooks/decide.h)
 * and applies its verdict. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/spoll.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* Common checks of every channel command: returns the channel's options (in *scratch when a
 * channel rule applies), or NULL after answering the error (or disconnecting, for an empty
 * channel). */
const lc_ns_opts_t *lc__client_channel_checks(lc_client_t *c, const lc_cmd_t *cmd,
                                              lc_ns_opts_t *scratch)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return NULL;
    }
    size_t len = strlen(cmd->channel);
    if ((int64_t)len > lc__ccfg(c)->channel_max_length) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return NULL;
    }
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), cmd->channel, len, c->user, scratch);
    if (!o) {
        lc_log_refused(cmd->type == LC_CMD_PUBLISH ? "publish" : "command", c->id, c->user,
                       cmd->channel, "rules", LC_ERROR_UNKNOWN_CHANNEL, "unknown channel");
        lc__client_reply_error(c, cmd->id, LC_ERROR_UNKNOWN_CHANNEL);
        return NULL;
    }
    if (!lc_config_channel_regex_ok(o, lc__channel_name_after_ns(lc__ccfg(c), cmd->channel))) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return NULL;
    }
    return o;
}

/* --- publish --------------------------------------------------------------------------- */

/* The engine stored (with history) and delivered the publication: answer the command. */
static void on_published(void *arg, int err, const lc_publish_res_t *res)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c && c->state != LC_CLIENT_CLOSING) {
        const lc_cmd_t *cmd = c->cmd;
        if (err != 0) {
            lc_log_error("client %s: publish to %s failed: %s", c->id, cmd->channel,
                         lc_strerror(err));
            lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        } else {
            lc__client_reply_empty(c, cmd->id, "publish");
        }
    }
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

static int do_publish(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o, lc_raw_t data,
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
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = w ? lc_node_publish(lc_worker_node(c->w), &req, on_published, w) : LC_ENOMEM;
    if (rc != 0) {
        lc_log_error("client %s: publish to %s failed: %s", c->id, cmd->channel, lc_strerror(rc));
        if (c->state != LC_CLIENT_CLOSING)
            lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    }
    return w ? lc__client_engine_started(c, w, rc) : LC_CMD_DONE;
}

int lc__client_publish(lc_client_t *c, lc_cmd_t *cmd)
{
    if (cmd->pub_type != 0)
        return lc__client_map_publish(c, cmd); /* a map write (client_map_write.c) */
    if (!cmd->channel || !cmd->channel[0] || !cmd->data.p || cmd->data.len == 0) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel and data required");
        return LC_CMD_STOP;
    }
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc__client_channel_checks(c, cmd, &scratch);
    if (!o)
        return LC_CMD_DONE;
    /* a map channel takes keyed writes only; a shared poll channel's items come from its
     * backend and shared_poll_publish (a keyless publication means nothing to its clients) */
    if (lc_config_map_type(o->subscription_type) ||
        o->subscription_type == LC_SUB_TYPE_SHARED_POLL) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return LC_CMD_DONE;
    }
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_PUBLISH, &r);
    r.ns = o;
    r.subscribed = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel)) != NULL;
    return lc__client_decide(c, &r);
}

int lc__client_publish_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (cmd->pub_type != 0)
        return lc__client_map_publish_apply(c, cmd, v);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), cmd->channel,
                                                      strlen(cmd->channel), c->user, &scratch);
    if (v->type != LC_VERDICT_ALLOW) {
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    /* Lua or the publish proxy may replace what is published; a Lua hook may leave clients or
     * users out of the fan-out. */
    lc_raw_t data = v->data_set ? v->data : cmd->data;
    lc_exclude_t ex = {v->exclude_clients, v->n_exclude_clients, v->exclude_users,
                       v->n_exclude_users};
    return do_publish(c, cmd, o, data, v->skip_history, &ex);
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

int lc__client_rpc(lc_client_t *c, lc_cmd_t *cmd)
{
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_RPC, &r);
    return lc__client_decide(c, &r);
}

int lc__client_rpc_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type != LC_VERDICT_ALLOW)
        lc__client_reply_verdict(c, cmd->id, v);
    else
        reply_rpc(c, cmd->id, v->data.p, v->data.len);
    return LC_CMD_DONE;
}

/* --- sub_refresh ----------------------------------------------------------------------- */

int lc__client_sub_refresh(lc_client_t *c, lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return LC_CMD_STOP;
    }
    if (cmd->refresh_type != 0) /* track / untrack of a shared poll subscription */
        return lc__spoll_sub_refresh(c, cmd);
    if (!cmd->token || !cmd->token[0]) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return LC_CMD_DONE;
    }
    if (!lc__client_find_sub(c, cmd->channel, strlen(cmd->channel))) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return LC_CMD_DONE;
    }
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_SUB_REFRESH, &r);
    return lc__client_decide(c, &r);
}

int lc__client_sub_refresh_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (cmd->refresh_type != 0)
        return lc__spoll_track_apply(c, cmd, v);
    if (v->type != LC_VERDICT_ALLOW) {
        /* an expired token: not prolonged, the subscription ends at its current expiry */
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    lc_csub_t *cs = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel));
    if (!cs) { /* unsubscribed meanwhile */
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return LC_CMD_DONE;
    }
    cs->exp = v->expire_at;
    lc__client_arm_sub_expiry(c);
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    int64_t now = lc_now_s();
    if (cs->exp > 0)
        lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{\"expires\":true,\"ttl\":%lld}}",
                      cmd->id, (long long)(cs->exp > now ? cs->exp - now : 0));
    else
        lc_buf_printf(&c->replies, "{\"id\":%u,\"sub_refresh\":{}}", cmd->id);
    return LC_CMD_DONE;
}
