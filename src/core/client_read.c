/* The reading channel commands of a session: presence, presence_stats and history. The
 * namespace permissions of spec §6.2 decide here; the engine answers through its callback,
 * at once (memory) or later (the session waits, client_wait.c). */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

static void begin_reply(lc_client_t *c)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
}

static void read_failed(lc_client_t *c, int err)
{
    lc_log_error("client %s: engine read failed: %s", c->id, lc_strerror(err));
    lc__client_reply_error(c, c->cmd->id, LC_ERROR_INTERNAL);
}

/* --- presence -------------------------------------------------------------------------- */

static void on_presence(void *arg, int err, const lc_presence_res_t *res)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c && err != 0) {
        read_failed(c, err);
    } else if (c) {
        lc_buf_t *b = &c->replies;
        begin_reply(c);
        lc_buf_printf(b, "{\"id\":%u,\"presence\":{\"presence\":{", c->cmd->id);
        for (size_t i = 0; i < res->n; i++) {
            if (i)
                lc_buf_putc(b, ',');
            lc_buf_append_json_str(b, res->entries[i].client, strlen(res->entries[i].client));
            lc_buf_putc(b, ':');
            lc_buf_append(b, res->entries[i].info->data, res->entries[i].info->len);
        }
        lc_buf_append_str(b, "}}}");
    }
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

static void on_presence_stats(void *arg, int err, uint64_t num_clients, uint64_t num_users)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c && err != 0) {
        read_failed(c, err);
    } else if (c) {
        begin_reply(c);
        lc_buf_printf(&c->replies,
                      "{\"id\":%u,\"presence_stats\":{\"num_clients\":%llu,\"num_users\":%llu}}",
                      c->cmd->id, (unsigned long long)num_clients, (unsigned long long)num_users);
    }
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

static int handle_presence(lc_client_t *c, const lc_cmd_t *cmd, bool stats)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc__client_channel_checks(c, cmd, &scratch);
    if (!o)
        return LC_CMD_DONE;
    size_t len = strlen(cmd->channel);
    if (!o->presence) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return LC_CMD_DONE;
    }
    if (!lc__client_can_presence(c, o, lc__client_find_sub(c, cmd->channel, len) != NULL)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return LC_CMD_DONE;
    }
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = !w      ? LC_ENOMEM
             : stats ? e->vt->presence_stats(e, cmd->channel, len, on_presence_stats, w)
                     : e->vt->presence(e, cmd->channel, len, on_presence, w);
    if (rc != 0)
        read_failed(c, rc);
    return w ? lc__client_engine_started(c, w, rc) : LC_CMD_DONE;
}

/* --- history --------------------------------------------------------------------------- */

static void on_history(void *arg, int err, const lc_history_res_t *res)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c && err == LC_EPOS) {
        lc__client_reply_error(c, c->cmd->id, LC_ERROR_UNRECOVERABLE_POSITION);
    } else if (c && (err != 0 || !res)) {
        lc__client_reply_error(c, c->cmd->id, LC_ERROR_INTERNAL);
    } else if (c) {
        lc_buf_t *b = &c->replies;
        begin_reply(c);
        lc_buf_printf(b, "{\"id\":%u,\"history\":{\"publications\":[", c->cmd->id);
        for (size_t i = 0; i < res->n; i++) {
            if (i)
                lc_buf_putc(b, ',');
            lc_buf_append(b, res->pubs[i]->data, res->pubs[i]->len);
        }
        lc_buf_append_str(b, "],\"epoch\":");
        lc_buf_append_json_str(b, res->top.epoch, strlen(res->top.epoch));
        lc_buf_printf(b, ",\"offset\":%llu}}", (unsigned long long)res->top.offset);
    }
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

static int handle_history(lc_client_t *c, const lc_cmd_t *cmd)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc__client_channel_checks(c, cmd, &scratch);
    if (!o)
        return LC_CMD_DONE;
    size_t len = strlen(cmd->channel);
    if (o->history_size <= 0 || o->history_ttl_ms <= 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
        return LC_CMD_DONE;
    }
    if (!lc__client_can_history(c, o, lc__client_find_sub(c, cmd->channel, len) != NULL)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return LC_CMD_DONE;
    }
    if (cmd->reverse && cmd->has_since && cmd->since_offset == 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return LC_CMD_DONE;
    }
    lc_history_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = cmd->channel;
    req.chlen = len;
    lc_node_chan_opts(lc_worker_node(c->w), o, &req.opts);
    /* Client limits are capped at client.history_max_publication_limit (also for "all"). */
    int cap = lc__ccfg(c)->history_max_publication_limit;
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
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = w ? e->vt->history(e, &req, on_history, w) : LC_ENOMEM;
    if (rc != 0)
        read_failed(c, rc);
    return w ? lc__client_engine_started(c, w, rc) : LC_CMD_DONE;
}

int lc__client_read(lc_client_t *c, lc_cmd_t *cmd)
{
    switch (cmd->type) {
    case LC_CMD_PRESENCE:
        return handle_presence(c, cmd, false);
    case LC_CMD_PRESENCE_STATS:
        return handle_presence(c, cmd, true);
    default:
        return handle_history(c, cmd);
    }
}
