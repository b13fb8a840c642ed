/* Channel commands of a session: subscribe, unsubscribe, publish, and the channel features
 * that are not enabled yet. Permission decisions follow spec §6.3 in its order. */
#include "core/client_priv.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

bool lc__json_valid(const char *p, size_t n)
{
    cJSON *j = cJSON_ParseWithLength(p, n);
    if (!j)
        return false;
    cJSON_Delete(j);
    return true;
}

static lc_sub_t **find_sub(lc_client_t *c, const char *ch, size_t len)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        size_t l;
        const char *name = lc_hub_sub_channel(c->subs[i], &l);
        if (l == len && memcmp(name, ch, len) == 0)
            return &c->subs[i];
    }
    return NULL;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    return pl > 0 && len >= pl && memcmp(s, prefix, pl) == 0;
}

/* User-limited channel (`dialog#42,43`): is the user among those after the last boundary? */
static bool user_listed(const lc_client_t *c, const char *ch, size_t len)
{
    const char *ub = c->cfg->user_boundary;
    const char *sep = c->cfg->user_separator;
    if (!ub || !*ub || !c->user[0])
        return false;
    size_t ubl = strlen(ub), sepl = sep ? strlen(sep) : 0;
    const char *last = NULL;
    for (const char *p = ch; p + ubl <= ch + len; p++)
        if (memcmp(p, ub, ubl) == 0)
            last = p;
    if (!last)
        return false;
    const char *p = last + ubl, *end = ch + len;
    size_t ul = strlen(c->user);
    while (p <= end) {
        const char *q = p;
        while (q < end && !(sepl && (size_t)(end - q) >= sepl && memcmp(q, sep, sepl) == 0))
            q++;
        if ((size_t)(q - p) == ul && memcmp(p, c->user, ul) == 0)
            return true;
        if (q >= end)
            break;
        p = q + sepl;
    }
    return false;
}

static bool is_user_limited(const lc_client_t *c, const lc_ns_opts_t *o, const char *ch, size_t len)
{
    const char *ub = c->cfg->user_boundary;
    return o->allow_user_limited_channels && ub && *ub && memmem(ch, len, ub, strlen(ub));
}

/* Common checks of every channel command: returns the namespace options, or NULL after
 * answering the error (or disconnecting, for an empty channel). */
static const lc_ns_opts_t *channel_checks(lc_client_t *c, const lc_cmd_t *cmd)
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
    const lc_ns_opts_t *o = lc_config_channel_opts(c->cfg, cmd->channel, len);
    if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_UNKNOWN_CHANNEL);
        return NULL;
    }
    return o;
}

void lc__client_subscribe(lc_client_t *c, const lc_cmd_t *cmd)
{
    const lc_config_t *cfg = c->cfg;
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return;
    }
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    if ((int64_t)len > cfg->channel_max_length) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return;
    }
    if (find_sub(c, ch, len)) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_ALREADY_SUBSCRIBED);
        return;
    }
    if (cfg->channel_limit > 0 && c->nsubs >= (uint32_t)cfg->channel_limit) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_LIMIT_EXCEEDED);
        return;
    }
    const lc_ns_opts_t *o = lc_config_channel_opts(cfg, ch, len);
    if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_UNKNOWN_CHANNEL);
        return;
    }
    bool anon = !c->user[0];
    bool allowed = false;
    if (has_prefix(ch, len, cfg->private_prefix)) {
        /* Private channels need a subscription token; token subscriptions arrive with the
         * channel features, until then a private channel is refused. */
        allowed = false;
    } else if (is_user_limited(c, o, ch, len)) {
        allowed = user_listed(c, ch, len) || cfg->client_insecure;
    } else if (o->allow_subscribe_for_client && (!anon || o->allow_subscribe_for_anonymous)) {
        allowed = true;
    } else if (cfg->client_insecure) {
        allowed = true;
    }
    if (!allowed) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return;
    }

    if (c->nsubs == c->capsubs) {
        uint32_t ncap = c->capsubs ? c->capsubs * 2 : 4;
        lc_sub_t **ns = realloc(c->subs, ncap * sizeof(*ns));
        if (!ns) {
            lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
            return;
        }
        c->subs = ns;
        c->capsubs = ncap;
    }
    lc_sub_t *s;
    if (lc_hub_subscribe(lc__worker_hub(c->w), ch, len, c, &s) != 0) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return;
    }
    c->subs[c->nsubs++] = s;
    lc__worker_count_subs(c->w, 1);
    lc__client_reply_empty(c, cmd->id, "subscribe");
}

void lc__client_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return;
    }
    lc_sub_t **slot = find_sub(c, cmd->channel, strlen(cmd->channel));
    if (slot) {
        lc_hub_unsubscribe(lc__worker_hub(c->w), *slot);
        *slot = c->subs[--c->nsubs];
        lc__worker_count_subs(c->w, -1);
    }
    lc__client_reply_empty(c, cmd->id, "unsubscribe");
}

void lc__client_publish(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0] || !cmd->data.p || cmd->data.len == 0) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel and data required");
        return;
    }
    const lc_ns_opts_t *o = channel_checks(c, cmd);
    if (!o)
        return;
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool anon = !c->user[0];
    bool allowed = false;
    if (o->allow_publish_for_client && (!anon || o->allow_publish_for_anonymous))
        allowed = true;
    else if (o->allow_publish_for_subscriber && find_sub(c, ch, len) &&
             (!anon || o->allow_publish_for_anonymous))
        allowed = true;
    else if (c->cfg->client_insecure)
        allowed = true;
    if (!allowed) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
        return;
    }

    lc_client_info_t info = {
        .user = c->user,
        .client = c->id,
        .conn_info = {c->conn_info, c->conn_info_len},
    };
    lc_publish_req_t req = {
        .channel = ch,
        .chlen = len,
        .pub = {.data = cmd->data, .info = &info},
    };
    /* Replies produced so far (a subscribe to this very channel in the same message) must
     * reach the client before the publication does. */
    lc__client_send_replies(c);
    if (c->state == LC_CLIENT_CLOSING)
        return;
    int rc = lc_node_publish(lc_worker_node(c->w), &req, NULL, NULL);
    if (c->state == LC_CLIENT_CLOSING)
        return;
    if (rc != 0) {
        lc_log_error("client %s: publish to %s failed: %s", c->id, ch, lc_strerror(rc));
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return;
    }
    lc__client_reply_empty(c, cmd->id, "publish");
}

void lc__client_channel_feature(lc_client_t *c, const lc_cmd_t *cmd)
{
    const lc_ns_opts_t *o = channel_checks(c, cmd);
    if (!o)
        return;
    /* Presence and history are not kept by this node yet: the feature is off in every
     * namespace, which the protocol answers with 108. */
    lc__client_reply_error(c, cmd->id, LC_ERROR_NOT_AVAILABLE);
}

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
    /* Only token subscriptions can be refreshed, and there are none yet. */
    lc__client_reply_error(c, cmd->id, LC_ERROR_PERMISSION_DENIED);
}
