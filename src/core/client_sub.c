/* Subscriptions of a session: the permission decision of spec §6.3 for a client subscribe,
 * private channels with subscription tokens, positioning and recovery (§7.3), presence and
 * join/leave, server-side subscriptions from the connection token, and leaving. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/spoll.h"
#include "proto/codes.h"
#include "proto/tagfilter.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

lc_csub_t *lc__client_find_sub(lc_client_t *c, const char *ch, size_t len)
{
    for (uint32_t i = 0; i < c->nsubs; i++) {
        size_t l;
        const char *name = lc_hub_sub_channel(c->subs[i].s, &l);
        if (l == len && memcmp(name, ch, len) == 0)
            return &c->subs[i];
    }
    return NULL;
}

void lc__client_info(const lc_client_t *c, const lc_csub_t *cs, lc_client_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->user = c->user;
    out->client = c->id;
    out->conn_info.p = c->conn_info;
    out->conn_info.len = c->conn_info_len;
    if (cs) {
        out->chan_info.p = cs->chan_info;
        out->chan_info.len = cs->chan_info_len;
    }
}

static bool anon_ok(const lc_client_t *c, bool allow_anonymous)
{
    return c->user[0] || allow_anonymous;
}

bool lc__client_can_presence(const lc_client_t *c, const lc_ns_opts_t *o, bool subscribed)
{
    if (o->allow_presence_for_client && anon_ok(c, o->allow_presence_for_anonymous))
        return true;
    if (o->allow_presence_for_subscriber && subscribed &&
        anon_ok(c, o->allow_presence_for_anonymous))
        return true;
    return lc__ccfg(c)->client_insecure;
}

bool lc__client_can_history(const lc_client_t *c, const lc_ns_opts_t *o, bool subscribed)
{
    if (o->allow_history_for_client && anon_ok(c, o->allow_history_for_anonymous))
        return true;
    if (o->allow_history_for_subscriber && subscribed && anon_ok(c, o->allow_history_for_anonymous))
        return true;
    return lc__ccfg(c)->client_insecure;
}

const char *lc__channel_name_after_ns(const lc_config_t *cfg, const char *ch)
{
    const char *p = ch;
    size_t pl = cfg->private_prefix ? strlen(cfg->private_prefix) : 0;
    if (pl && strncmp(p, cfg->private_prefix, pl) == 0)
        p += pl;
    const char *b = cfg->namespace_boundary && *cfg->namespace_boundary
                        ? strstr(p, cfg->namespace_boundary)
                        : NULL;
    return b ? b + strlen(cfg->namespace_boundary) : p;
}

/* --- making a subscription ------------------------------------------------------------- */

/* The array holds at least the power of two at or above nsubs (it is not shrunk when
 * subscriptions go), so it is full exactly when nsubs is 0 or a power of two: then it is
 * reallocated to twice that (most sessions hold one or two). */
int lc__client_grow_subs(lc_client_t *c)
{
    uint32_t n = c->nsubs;
    if (n != 0 && (n & (n - 1)) != 0)
        return 0;
    uint32_t ncap = n ? n * 2 : 1;
    if (ncap < n)
        return LC_ENOMEM;
    lc_csub_t *ns = realloc(c->subs, ncap * sizeof(*ns));
    if (!ns)
        return LC_ENOMEM;
    c->subs = ns;
    return 0;
}

static bool ovr(const lc_jwt_opt_bool_t *b, bool dflt)
{
    return b->set ? b->value : dflt;
}

void lc__client_sub_plan(const lc_client_t *c, const lc_sub_spec_t *sp, lc_sub_plan_t *p)
{
    const lc_ns_opts_t *o = sp->o;
    const lc_sub_override_t *ov = sp->override;
    lc_jwt_opt_bool_t none = {0};
    p->presence = ovr(ov ? &ov->presence : &none, o->presence);
    p->join_leave = ovr(ov ? &ov->join_leave : &none, o->join_leave);
    bool force_recovery = ovr(ov ? &ov->force_recovery : &none, o->force_recovery);
    bool force_positioning = ovr(ov ? &ov->force_positioning : &none, o->force_positioning);
    bool force_push_jl = ovr(ov ? &ov->force_push_join_leave : &none, o->force_push_join_leave);
    bool history_on = o->history_size > 0 && o->history_ttl_ms > 0;
    /* The subscriber is about to be subscribed: subscriber-level permissions count. */
    bool hist_access = lc__client_can_history(c, o, true);
    p->recoverable = history_on && (force_recovery ||
                                    (sp->want_recoverable && (o->allow_recovery || hist_access)));
    p->positioned = history_on && (p->recoverable || force_positioning ||
                                   (sp->want_positioned && (o->allow_positioning || hist_access)));
    p->gets_join_leave =
        p->join_leave &&
        (force_push_jl || (sp->want_join_leave && lc__client_can_presence(c, o, true)));
    /* Fossil deltas need the previous publication of a stream the subscriber follows, and
     * every publication: no tag filter (Centrifugo's conditions). */
    p->delta = sp->want_delta && (o->allowed_delta_types & LC_DELTA_FOSSIL) && p->positioned &&
               !sp->tf && lc_node_engine(lc_worker_node(c->w))->supports_delta;
}

void lc__client_stream_req(const lc_client_t *c, const char *ch, size_t len,
                           const lc_sub_spec_t *sp, const lc_sub_plan_t *p, lc_history_req_t *req)
{
    memset(req, 0, sizeof(*req));
    req->channel = ch;
    req->chlen = len;
    lc_node_chan_opts(lc_worker_node(c->w), sp->o, &req->opts);
    if (p->recoverable && sp->recover) {
        req->has_since = true;
        req->since.offset = sp->offset;
        if (sp->epoch)
            snprintf(req->since.epoch, sizeof(req->since.epoch), "%s", sp->epoch);
        int lim = lc__ccfg(c)->recovery_max_publication_limit;
        req->limit = lim > 0 ? lim : -1;
    }
}

int lc__stream_keep(lc_stream_t *h, int err, const lc_history_res_t *res)
{
    h->err = err;
    h->read = true;
    if (!res)
        return h->err;
    h->top = res->top;
    h->first_offset = res->first_offset;
    if (err == 0 && res->n > 0) {
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        h->pubs = malloc(res->n * sizeof(*h->pubs));
        if (!h->pubs) {
            h->err = LC_ENOMEM;
            return h->err;
        }
        for (size_t i = 0; i < res->n; i++)
            h->pubs[i] = lc_rcbuf_ref(res->pubs[i]);
        h->n = res->n;
    }
    return h->err;
}

void lc__stream_free(lc_stream_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        lc_rcbuf_unref(h->pubs[i]);
    free(h->pubs);
    memset(h, 0, sizeof(*h));
}

/* The recovered publications of r that match the tag filter tf: r is pointed at a new array
 * (returned, for the caller to free after encoding; references stay the stream's). */
static lc_rcbuf_t **filter_pubs(const char *tf, lc_subscribe_result_t *r)
{
    lc_tagfilter_t *f = lc_tagfilter_compile(tf, NULL);
    lc_rcbuf_t **kept = f ? malloc(r->n_publications * sizeof(*kept)) : NULL;
    if (!kept) {
        lc_tagfilter_free(f);
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < r->n_publications; i++) {
        lc_rcbuf_t *pub = r->publications[i];
        lc_tags_t *tags = lc_tags_from_pub(pub->data, pub->len);
        if (lc_tagfilter_match(f, tags))
            kept[n++] = pub;
        lc_tags_free(tags);
    }
    lc_tagfilter_free(f);
    r->publications = kept;
    r->n_publications = n;
    return kept;
}

uint32_t lc__client_sub_make(lc_client_t *c, const char *ch, size_t len, const lc_sub_spec_t *sp,
                             const lc_sub_plan_t *p, const lc_stream_t *h, lc_buf_t *out)
{
    /* An expiring subscription needs the expiry check of the side struct. */
    if (lc__client_grow_subs(c) != 0 || (sp->exp > 0 && !lc__client_x(c)))
        return LC_ERROR_INTERNAL;

    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    uint64_t position = 0;
    if (p->positioned) {
        if (h->err != 0 && h->err != LC_EPOS) {
            lc_log_error("client %s: stream of %.*s unavailable: %s", c->id, (int)len, ch,
                         lc_strerror(h->err));
            return LC_ERROR_INTERNAL;
        }
        bool recover = p->recoverable && sp->recover;
        r.positioned = true;
        r.recoverable = p->recoverable;
        r.epoch = h->top.epoch;
        r.offset = h->top.offset;
        position = h->top.offset;
        if (recover) {
            r.was_recovering = true;
            uint64_t missed = h->top.offset >= sp->offset ? h->top.offset - sp->offset : 0;
            bool contiguous = h->err == 0 && h->top.offset >= sp->offset && h->n == missed &&
                              (h->n == 0 || h->first_offset <= sp->offset + 1);
            if (contiguous) {
                r.recovered = true;
                r.offset = sp->offset; /* the client advances through the publications */
                r.publications = h->pubs;
                r.n_publications = h->n;
            } else if (sp->reject_unrecovered) {
                /* the SDK reloads its state (getState) and subscribes afresh */
                return LC_ERROR_UNRECOVERABLE_POSITION;
            }
        }
    }

    lc_sub_t *s;
    if (lc_hub_subscribe(lc__worker_hub(c->w), ch, len, c, &s) != 0)
        return LC_ERROR_INTERNAL;
    if (sp->tf && lc_hub_set_filter(lc__worker_hub(c->w), s, sp->tf) != 0) {
        lc_hub_unsubscribe(lc__worker_hub(c->w), s);
        return LC_ERROR_INTERNAL;
    }
    s->offset = position;
    s->flags = (p->gets_join_leave ? LC_SUB_JOIN_LEAVE : 0) |
               (p->positioned ? LC_SUB_POSITIONED : 0) | (p->recoverable ? LC_SUB_RECOVERABLE : 0) |
               (sp->server_side ? LC_SUB_SERVER_SIDE : 0) | (p->presence ? LC_SUB_PRESENCE : 0) |
               (p->join_leave ? LC_SUB_EMIT_JOIN_LEAVE : 0) | (p->delta ? LC_SUB_DELTA : 0);
    lc_csub_t *cs = &c->subs[c->nsubs++];
    memset(cs, 0, sizeof(*cs));
    cs->s = s;
    cs->exp = sp->exp;
    cs->proxy_refresh = sp->proxy_refresh;
    if (sp->chan_info.p && sp->chan_info.len) {
        cs->chan_info = malloc(sp->chan_info.len + 1);
        if (cs->chan_info) {
            memcpy(cs->chan_info, sp->chan_info.p, sp->chan_info.len);
            cs->chan_info[sp->chan_info.len] = '\0';
            cs->chan_info_len = sp->chan_info.len;
        }
    }
    lc__worker_count_subs(c->w, 1);
    lc_metrics_sub(c->t->framing, 1);

    if (sp->exp > 0) {
        int64_t now = lc_now_s();
        if (!sp->proxy_refresh) {
            /* the client refreshes the token itself (sub_refresh) */
            r.expires = true;
            r.ttl = sp->exp > now ? (uint32_t)(sp->exp - now) : 0;
        }
        lc__client_arm_sub_expiry(c);
    }
    r.data = sp->data;
    r.delta = p->delta;
    if (sp->o->client_publish_debounce_ms > 0)
        r.publish_debounce = sp->o->client_publish_debounce_ms > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)sp->o->client_publish_debounce_ms;
    /* recovered publications pass the subscription's tag filter like live ones */
    lc_rcbuf_t **kept = NULL;
    if (sp->tf && r.n_publications && !(kept = filter_pubs(sp->tf, &r)))
        return LC_ERROR_INTERNAL;
    int erc = lc_proto_encode_subscribe_result(out, &r);
    free(kept);
    if (erc != 0)
        return LC_ERROR_INTERNAL;

    if (p->presence || p->join_leave) {
        lc_client_info_t ci;
        lc__client_info(c, cs, &ci);
        lc_buf_t b = LC_BUF_INIT;
        lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
        if (p->presence && lc_proto_encode_client_info(&b, &ci) == 0) {
            lc_rcbuf_t *info = lc_rcbuf_from(b.data, b.len);
            if (info) {
                e->vt->presence_add(e, ch, len, c->id, c->user, info, NULL, NULL);
                lc_rcbuf_unref(info);
            }
        }
        lc_buf_reset(&b);
        if (p->join_leave && lc_proto_push_join_leave(&b, ch, len, true, &ci) == 0) {
            lc_rcbuf_t *push = lc_rcbuf_from(b.data, b.len);
            if (push) {
                e->vt->publish_join_leave(e, ch, len, push, NULL, NULL);
                lc_rcbuf_unref(push);
            }
        }
        lc_buf_free(&b);
    }
    /* map_clients / map_users presence of this channel (client_map_write.c) */
    lc__client_map_presence_join(c, cs, sp->o);
    return 0;
}

void lc__client_remove_sub(lc_client_t *c, uint32_t i)
{
    lc_csub_t *cs = &c->subs[i];
    lc_sub_t *s = cs->s;
    size_t len;
    const char *ch = lc_hub_sub_channel(s, &len);
    lc__client_notify(c, LC_HOOK_UNSUBSCRIBE, ch, 0);
    if (s->flags & (LC_SUB_MAP_CLEANUP | LC_SUB_MAP_PRESENCE))
        lc__client_map_leave(c, cs);
    if (s->flags & LC_SUB_SPOLL)
        lc__spoll_forget(c, ch, len);
    if (s->flags & (LC_SUB_PRESENCE | LC_SUB_EMIT_JOIN_LEAVE)) {
        lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
        if (s->flags & LC_SUB_PRESENCE)
            e->vt->presence_remove(e, ch, len, c->id, NULL, NULL);
        if (s->flags & LC_SUB_EMIT_JOIN_LEAVE) {
            lc_client_info_t ci;
            lc__client_info(c, cs, &ci);
            lc_buf_t b = LC_BUF_INIT;
            if (lc_proto_push_join_leave(&b, ch, len, false, &ci) == 0) {
                lc_rcbuf_t *push = lc_rcbuf_from(b.data, b.len);
                if (push) {
                    e->vt->publish_join_leave(e, ch, len, push, NULL, NULL);
                    lc_rcbuf_unref(push);
                }
            }
            lc_buf_free(&b);
        }
    }
    lc_hub_unsubscribe(lc__worker_hub(c->w), s);
    free(cs->chan_info);
    c->subs[i] = c->subs[--c->nsubs];
    lc__worker_count_subs(c->w, -1);
    lc_metrics_sub(c->t->framing, -1);
}

/* --- client subscribe ------------------------------------------------------------------ */

/* A tag filter is checked here, before any hook runs; the hub compiles it again when the
 * subscription is made (both are cheap, and the hub keeps one per distinct filter). */
static bool tf_valid(const char *tf, const char **why)
{
    lc_tagfilter_t *f = lc_tagfilter_compile(tf, why);
    lc_tagfilter_free(f);
    return f != NULL;
}

static void client_spec(const lc_cmd_t *cmd, const lc_ns_opts_t *o, lc_sub_spec_t *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->o = o;
    sp->want_positioned = cmd->positioned;
    sp->want_recoverable = cmd->recoverable || cmd->recover;
    sp->want_join_leave = cmd->join_leave;
    sp->recover = cmd->recover;
    sp->offset = cmd->offset;
    sp->epoch = cmd->epoch;
    sp->reject_unrecovered = (cmd->flag & LC_SUB_FLAG_REJECT_UNRECOVERED) != 0;
    sp->want_delta = cmd->delta != NULL;
    sp->tf = cmd->tf;
}

int lc__client_subscribe(lc_client_t *c, lc_cmd_t *cmd)
{
    const lc_config_t *cfg = lc__ccfg(c);
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return LC_CMD_STOP;
    }
    if (cmd->delta && strcmp(cmd->delta, "fossil") != 0) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "unknown delta type");
        return LC_CMD_STOP;
    }
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    if (cmd->sub_type >= 1 && cmd->sub_type <= 3)
        return lc__client_map_subscribe(c, cmd); /* map, map_clients, map_users */
    if (cmd->sub_type != 0 && cmd->sub_type != LC_SPOLL_SUB_TYPE) {
        /* an unknown type: never served as a plain stream */
        lc_log_info("client %s: subscribe to %s with subscription type %d refused: only "
                    "streams are served",
                    c->id, ch, (int)cmd->sub_type);
        lc__client_reply_error(c, cmd->id, LC_ERROR_BAD_REQUEST);
        return LC_CMD_DONE;
    }
    /* §6.3 step 0: name length, duplicates, the per-connection limit */
    uint32_t code = 0;
    const char *why = NULL;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = NULL;
    /* The order of the checks decides which error a client gets; several give 107. */
    if ((int64_t)len > cfg->channel_max_length)
        code = LC_ERROR_BAD_REQUEST; // NOLINT(bugprone-branch-clone)
    else if (lc__client_find_sub(c, ch, len))
        code = LC_ERROR_ALREADY_SUBSCRIBED;
    else if (cfg->channel_limit > 0 && c->nsubs >= (uint32_t)cfg->channel_limit)
        code = LC_ERROR_LIMIT_EXCEEDED;
    /* 1: namespace (and channel rules), channel_regex */
    else if (!(o = lc_config_resolve_channel(cfg, ch, len, c->user, &scratch)))
        code = LC_ERROR_UNKNOWN_CHANNEL;
    else if (!lc_config_channel_regex_ok(o, lc__channel_name_after_ns(cfg, ch)))
        code = LC_ERROR_BAD_REQUEST;
    /* a map channel subscribed to as a stream (Centrifugo: bad request) */
    else if (lc_config_map_type(o->subscription_type) && (why = "a map channel"))
        code = LC_ERROR_BAD_REQUEST;
    /* a tag filter where the namespace does not allow one (Centrifugo: bad request) */
    else if (cmd->tf && !o->allow_tags_filter)
        code = LC_ERROR_BAD_REQUEST;
    else if (cmd->tf && !tf_valid(cmd->tf, &why))
        code = LC_ERROR_BAD_REQUEST;
    /* a shared poll subscription only into a shared poll namespace, and the other way round */
    else if ((cmd->sub_type == LC_SPOLL_SUB_TYPE) !=
             (o->subscription_type == LC_SUB_TYPE_SHARED_POLL))
        code = LC_ERROR_BAD_REQUEST;
    if (code) {
        lc_log_refused("subscribe", c->id, c->user, ch, "rules", code,
                       why ? why : lc_error_message(code));
        lc__client_reply_error(c, cmd->id, code);
        return LC_CMD_DONE;
    }
    /* 2-7: Lua, the subscription token, the subscribe proxy, the namespace permissions */
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_SUBSCRIBE, &r);
    r.ns = o;
    return lc__client_decide(c, &r);
}

int lc__client_subscribe_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (cmd->sub_type >= 1 && cmd->sub_type <= 3)
        return lc__client_map_subscribe_apply(c, cmd, v);
    size_t len = strlen(cmd->channel);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), cmd->channel, len, c->user, &scratch);
    if (v->type != LC_VERDICT_ALLOW) {
        lc__client_reply_verdict(c, cmd->id, v);
    } else if (!o) {
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
    } else if (lc__client_find_sub(c, cmd->channel, len)) {
        /* subscribed meanwhile (a server-side subscription from the API) */
        lc__client_reply_error(c, cmd->id, LC_ERROR_ALREADY_SUBSCRIBED);
    } else if (o->subscription_type == LC_SUB_TYPE_SHARED_POLL) {
        return lc__spoll_subscribe(c, cmd, o, v);
    } else {
        lc_sub_spec_t sp;
        client_spec(cmd, o, &sp);
        sp.chan_info = v->info;
        sp.data = v->data;
        sp.override = v->override;
        sp.exp = v->expire_at;
        sp.proxy_refresh = v->refresh_by_proxy;
        return lc__client_subscribe_run(c, cmd, &sp);
    }
    return LC_CMD_DONE;
}

void lc__client_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd)
{
    if (!cmd->channel || !cmd->channel[0]) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "channel required");
        return;
    }
    lc_csub_t *cs = lc__client_find_sub(c, cmd->channel, strlen(cmd->channel));
    if (cs)
        lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
    else
        lc__client_map_forget(c, cmd->channel); /* a map subscribe given up mid-walk */
    lc__client_reply_empty(c, cmd->id, "unsubscribe");
}
