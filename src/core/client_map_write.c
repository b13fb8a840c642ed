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

/* --- writes nobody waits for ------------------------------------------------------------ */

/* Presence entries and the cleanup at unsubscribe: the session may be gone when the engine
 * answers, so the answer only logs a failure, from a description of its own. */
static void on_background_write(void *arg, int err, const lc_map_write_res_t *res)
{
    char *what = arg;
    if (err != 0)
        lc_log_error("%s failed: %s", what, lc_strerror(err));
    free(what);
}

static void write_background(lc_client_t *c, const lc_map_write_req_t *req, const char *what)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_buf_t b = LC_BUF_INIT;
    lc_buf_printf(&b, "client %s: map %s in %.*s", c->id, what, (int)req->chlen, req->channel);
    char *desc = b.data; /* owned by the callback from here */
    int rc = !desc              ? LC_ENOMEM
             : e->vt->map_write ? e->vt->map_write(e, req, on_background_write, desc)
                                : LC_EINVAL;
    if (rc != 0) { /* the callback never runs */
        lc_log_error("client %s: map %s in %.*s failed: %s", c->id, what, (int)req->chlen,
                     req->channel, lc_strerror(rc));
        free(desc);
    }
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
    write_background(c, &req, join ? "presence entry" : "presence exit");
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
        write_background(c, &req, "cleanup of the client's key");
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

/* The engine's answer to a client's map write: the publish reply (a suppressed write is a
 * success, as upstream answers it). */
static void publish_answer(lc_client_t *c, const lc_cmd_t *cmd, int err)
{
    if (err == LC_ETOOBIG) {
        lc_log_refused("publish", c->id, c->user, cmd->channel, "map", LC_ERROR_LIMIT_EXCEEDED,
                       "the map holds map.max_keys keys");
        lc__client_reply_error(c, cmd->id, LC_ERROR_LIMIT_EXCEEDED);
    } else if (err != 0) {
        lc_log_error("client %s: map write to %s failed: %s", c->id, cmd->channel,
                     lc_strerror(err));
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else {
        lc__client_reply_empty(c, cmd->id, "publish");
    }
}

static void on_publish_written(void *arg, int err, const lc_map_write_res_t *res)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c)
        publish_answer(c, c->cmd, err);
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

/* The write request of an allowed client write: what the client sent, as the decision v left
 * it (the one place the request is built). Pointers into cmd, v, info and key, valid for the
 * engine call. NULL when built, else what is wrong with the decision's result (nothing is
 * written). */
static const char *publish_req(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v,
                               const lc_ns_map_t *mo, const char *key, lc_client_info_t *info,
                               lc_map_write_req_t *req)
{
    size_t len = strlen(cmd->channel);
    lc__client_info(c, lc__client_find_sub(c, cmd->channel, len), info);
    memset(req, 0, sizeof(*req));
    req->channel = cmd->channel;
    req->chlen = len;
    req->key = key;
    req->keylen = strlen(key);
    req->remove = cmd->removed;
    if (!cmd->removed) {
        /* Lua or the publish proxy may replace what is written */
        req->pub.data = v->data_set ? v->data : cmd->data;
        req->pub.info = info;
    }
    /* the map proxy's (or Lua's) key, tags, score, key_mode, version, ... (core/map_result.c) */
    const char *bad = v->map ? lc__map_result_apply(v->map, mo, cmd->removed, req) : NULL;
    if (bad)
        return bad;
    req->exclude.clients = v->exclude_clients;
    req->exclude.n_clients = v->n_exclude_clients;
    req->exclude.users = v->exclude_users;
    req->exclude.n_users = v->n_exclude_users;
    lc_node_map_opts(mo, &req->opts);
    return NULL;
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
    lc_map_write_req_t req;
    const char *bad = publish_req(c, cmd, v, &mo, key, &info, &req);
    if (bad) {
        lc_log_error("client %s: map write to %s: the publish decision's result %s", c->id,
                     cmd->channel, bad);
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    /* the reply follows the engine's answer, at once (memory) or later (the session waits) */
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = !w                 ? LC_ENOMEM
             : e->vt->map_write ? e->vt->map_write(e, &req, on_publish_written, w)
                                : LC_EINVAL;
    if (rc != 0)
        publish_answer(c, cmd, rc);
    return w ? lc__client_engine_started(c, w, rc) : LC_CMD_DONE;
}
