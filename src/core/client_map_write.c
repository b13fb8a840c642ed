/* Map writes made for a session: a client's map publish and remove (publish with type 1, `key`
 * and `removed`), the entries a subscriber gets in the map_clients / map_users channels its
 * namespace names (map_clients_presence_channel_prefix, map_users_presence_channel_prefix),
 * and the cleanup when a subscription ends.
 *
 * A client's write goes through the publish decision (Lua publish hook and publish proxy see
 * ctx.key and ctx.removed) with the namespace's map permissions (map.allow_publish_for_*,
 * map.allow_remove_for_*) and map proxies (map.publish_proxy_*, map.remove_proxy_*) standing
 * for the stream ones. */
#include "core/client_internal.h"
#include "core/map_result.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

/* The map options of channel ch, resolved for c (NULL when ch is not a map channel). */
static const lc_ns_opts_t *map_ns(const lc_client_t *c, const char *ch, size_t len,
                                  lc_ns_opts_t *scratch, lc_ns_map_t *mo)
{
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), ch, len, c->user, scratch);
    if (!o || !lc_config_map_type(o->subscription_type))
        return NULL;
    lc_config_map_effective(lc__ccfg(c), o, mo);
    return o;
}

static int write_now(lc_client_t *c, const lc_map_write_req_t *req)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    if (!e->vt->map_write)
        return LC_EINVAL;
    return e->vt->map_write(e, req, NULL, NULL);
}

/* --- presence entries --------------------------------------------------------------------- */

/* prefix + channel into buf; 0, or LC_ETOOBIG. */
static int presence_channel(char *buf, size_t cap, const char *prefix, const char *ch, size_t len,
                            size_t *out_len)
{
    size_t pl = strlen(prefix);
    if (pl + len + 1 > cap)
        return LC_ETOOBIG;
    memcpy(buf, prefix, pl);
    memcpy(buf + pl, ch, len);
    buf[pl + len] = '\0';
    *out_len = pl + len;
    return 0;
}

/* One presence write into prefix + ch: the client's entry (with its ClientInfo) or the user's
 * (no payload), taking (hold 1) or giving back (remove / hold -1) its place. */
static void presence_write(lc_client_t *c, lc_csub_t *cs, const char *prefix, const char *ch,
                           size_t len, bool users, bool join)
{
    char pch[1024];
    size_t plen;
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    if (presence_channel(pch, sizeof(pch), prefix, ch, len, &plen) != 0 ||
        !map_ns(c, pch, plen, &scratch, &mo))
        return;
    lc_map_write_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = pch;
    req.chlen = plen;
    req.key = users ? c->user : c->id;
    req.keylen = strlen(req.key);
    if (req.keylen == 0)
        return; /* anonymous: no user entry */
    lc_node_map_opts(&mo, &req.opts);
    req.opts.max_keys = 0; /* presence follows the connections, whatever their number */
    lc_client_info_t ci;
    if (join) {
        req.key_mode = LC_MAP_KEY_IF_NEW; /* a user's second connection: no new entry */
        req.hold = 1;
        if (!users) {
            lc__client_info(c, cs, &ci);
            req.pub.info = &ci;
        }
    } else if (users) {
        req.hold = -1; /* the user's entry stays for key_ttl after its last connection */
    } else {
        req.remove = true;
    }
    int rc = write_now(c, &req);
    if (rc != 0)
        lc_log_error("client %s: map presence %s in %s failed: %s", c->id, join ? "entry" : "exit",
                     pch, lc_strerror(rc));
}

void lc__client_map_presence_join(lc_client_t *c, lc_csub_t *cs, const lc_ns_opts_t *o)
{
    if (!o || (!o->map_clients_prefix && !o->map_users_prefix))
        return;
    size_t len;
    const char *ch = lc_hub_sub_channel(cs->s, &len);
    if (o->map_clients_prefix && o->map_clients_prefix[0])
        presence_write(c, cs, o->map_clients_prefix, ch, len, false, true);
    if (o->map_users_prefix && o->map_users_prefix[0])
        presence_write(c, cs, o->map_users_prefix, ch, len, true, true);
    cs->s->flags |= LC_SUB_MAP_PRESENCE;
}

void lc__client_map_leave(lc_client_t *c, lc_csub_t *cs)
{
    size_t len;
    const char *ch = lc_hub_sub_channel(cs->s, &len);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), ch, len, c->user, &scratch);
    if (!o)
        return;
    if (cs->s->flags & LC_SUB_MAP_PRESENCE) {
        if (o->map_clients_prefix && o->map_clients_prefix[0])
            presence_write(c, cs, o->map_clients_prefix, ch, len, false, false);
        if (o->map_users_prefix && o->map_users_prefix[0])
            presence_write(c, cs, o->map_users_prefix, ch, len, true, false);
    }
    lc_ns_map_t mo;
    if ((cs->s->flags & LC_SUB_MAP_CLEANUP) && lc_config_map_type(o->subscription_type)) {
        /* map.remove_client_on_unsubscribe: the entry keyed by the client's id goes */
        lc_config_map_effective(lc__ccfg(c), o, &mo);
        lc_map_write_req_t req;
        memset(&req, 0, sizeof(req));
        req.channel = ch;
        req.chlen = len;
        req.key = c->id;
        req.keylen = strlen(c->id);
        req.remove = true;
        lc_node_map_opts(&mo, &req.opts);
        write_now(c, &req);
    }
}

/* --- a client's map publish and remove ---------------------------------------------------- */

/* The key a client's write is about: as sent, or its own id (map.client_key). NULL = none. */
static const char *write_key(const lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_map_t *mo)
{
    if (mo->client_key == LC_MAP_KEY_CLIENT_ID)
        return c->id;
    if (mo->client_key == LC_MAP_KEY_USER_ID)
        return c->user && c->user[0] ? c->user : NULL;
    return cmd->key && cmd->key[0] ? cmd->key : NULL;
}

static bool data_fits(const lc_client_t *c, const lc_ns_opts_t *o, lc_raw_t data)
{
    int fmt = o->publication_data_format ? o->publication_data_format
                                         : lc__ccfg(c)->publication_data_format;
    return fmt != LC_PUB_FORMAT_JSON_OBJECT || (data.p && data.len && data.p[0] == '{');
}

int lc__client_map_publish(lc_client_t *c, lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return LC_CMD_STOP;
    }
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc__client_channel_checks(c, cmd, &scratch);
    if (!o)
        return LC_CMD_DONE;
    lc_ns_map_t mo;
    lc_config_map_effective(lc__ccfg(c), o, &mo);
    const char *key = write_key(c, cmd, &mo);
    const char *why = NULL;
    uint32_t code = LC_ERROR_BAD_REQUEST;
    if (cmd->pub_type != 1 || o->subscription_type != LC_SUB_TYPE_MAP)
        why = "not a map channel (map_clients and map_users entries are the server's)";
    else if (!key)
        why = "a key is required";
    else if (strlen(key) > (size_t)mo.max_key_length)
        why = "the key is longer than map.max_key_length";
    else if (!cmd->removed && (!cmd->data.p || cmd->data.len == 0))
        why = "data is required";
    else if (!cmd->removed && !data_fits(c, o, cmd->data))
        why = "data does not match the channel's publication_data_format";
    if (why) {
        lc_log_refused("publish", c->id, c->user, cmd->channel, "map", code, why);
        lc__client_reply_error(c, cmd->id, code);
        return LC_CMD_DONE;
    }
    /* the publish decision with the map permissions and proxies standing for the stream ones */
    lc_ns_opts_t ns = *o;
    ns.allow_publish_for_client =
        cmd->removed ? mo.allow_remove_for_client : mo.allow_publish_for_client;
    ns.allow_publish_for_subscriber =
        cmd->removed ? mo.allow_remove_for_subscriber : mo.allow_publish_for_subscriber;
    ns.allow_publish_for_anonymous =
        cmd->removed ? mo.allow_remove_for_anonymous : mo.allow_publish_for_anonymous;
    ns.publish_proxy = cmd->removed ? mo.remove_proxy : mo.publish_proxy;
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_PUBLISH, &r);
    r.ns = &ns;
    r.subscribed = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel)) != NULL;
    r.session.key = key;
    r.session.removed = cmd->removed;
    if (cmd->removed)
        r.data = (lc_raw_t){0};
    return lc__client_decide(c, &r);
}

int lc__client_map_publish_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type != LC_VERDICT_ALLOW) {
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    size_t len = strlen(cmd->channel);
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    const lc_ns_opts_t *o = map_ns(c, cmd->channel, len, &scratch, &mo);
    const char *key = o ? write_key(c, cmd, &mo) : NULL;
    if (!o || !key) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    lc_client_info_t info;
    lc__client_info(c, lc__client_find_sub(c, cmd->channel, len), &info);
    lc_map_write_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = cmd->channel;
    req.chlen = len;
    req.key = key;
    req.keylen = strlen(key);
    req.remove = cmd->removed;
    if (!cmd->removed) {
        /* Lua or the publish proxy may replace what is written */
        req.pub.data = v->data_set ? v->data : cmd->data;
        req.pub.info = &info;
    }
    /* the map proxy's (or Lua's) key, tags, score, key_mode, version, ... (core/map_result.c) */
    const char *bad = v->map ? lc__map_result_apply(v->map, &mo, cmd->removed, &req) : NULL;
    if (bad) {
        lc_log_error("client %s: map write to %s: the publish decision's result %s", c->id,
                     cmd->channel, bad);
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    req.exclude.clients = v->exclude_clients;
    req.exclude.n_clients = v->n_exclude_clients;
    req.exclude.users = v->exclude_users;
    req.exclude.n_users = v->n_exclude_users;
    lc_node_map_opts(&mo, &req.opts);
    int rc = write_now(c, &req);
    if (rc == LC_ETOOBIG) {
        lc_log_refused("publish", c->id, c->user, cmd->channel, "map", LC_ERROR_LIMIT_EXCEEDED,
                       "the map holds map.max_keys keys");
        lc__client_reply_error(c, cmd->id, LC_ERROR_LIMIT_EXCEEDED);
    } else if (rc != 0) {
        lc_log_error("client %s: map write to %s failed: %s", c->id, cmd->channel, lc_strerror(rc));
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else {
        lc__client_reply_empty(c, cmd->id, "publish");
    }
    return LC_CMD_DONE;
}
