/* Map subscriptions of a session (Centrifugo v6.8 "Map subscriptions", as centrifuge-js
 * speaks them): a subscribe of type 1 (map), 2 (map_clients) or 3 (map_users) walks phases.
 *
 *   state (2)  pages of the channel's current entries (cursor, limit), each reply carrying the
 *              stream position of the first page, frozen for the whole walk;
 *   stream (1) pages of the changes since that position (positioned modes only);
 *   live (0)   the session joins the channel: the reply carries the last changes, and every
 *              later write arrives as a publication with its key.
 *
 * The server decides when to go live (the last state page when the stream has not moved more
 * than a page, or a stream page close enough to the top). A reconnecting client with a
 * position starts at the stream phase with `recover`. Only the first request of a walk goes
 * through the decision pipeline (Lua, token, proxy, namespace rules); the later ones continue
 * the walk the session remembers (lc_map_walk_t), which also bounds its duration.
 *
 * Map writes by clients (publish type 1, with `key` and `removed`), presence entries in the
 * map_clients / map_users channels named by a namespace's prefixes, and the cleanup when a
 * subscription ends live here too. The engine calls assume an engine that answers at once
 * (the memory engine; the Redis engine keeps no map channels and answers 108). */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

enum { PHASE_LIVE = 0, PHASE_STREAM = 1, PHASE_STATE = 2 };

/* A state page is cut at about this many bytes of entries (the page then holds fewer than
 * `limit`): a page of huge values stays one bounded frame. */
#define STATE_PAGE_BYTES ((size_t)512 * 1024)

/* A map subscribe walk in progress (the state and stream phases before live). */
struct lc_map_walk {
    struct lc_map_walk *next;
    int type;
    bool captured; /* the first state page fixed epoch and offset */
    char epoch[LC_EPOCH_MAX];
    uint64_t offset;
    bool start_captured; /* the first stream page fixed the stream's top */
    uint64_t stream_start;
    int64_t started_ms;
    /* what the walk's decision granted, for the live reply and the subscription */
    int64_t exp;        /* subscription expiry (Unix s), 0 = none */
    bool proxy_refresh; /* the sub_refresh proxy prolongs it */
    char *info;         /* channel info (raw JSON), NULL = none */
    size_t info_len;
    char *data; /* subscribe result data (raw JSON), NULL = none */
    size_t data_len;
    size_t chlen;
    char channel[];
};

static void walk_free(lc_map_walk_t *w)
{
    free(w->info);
    free(w->data);
    free(w);
}

static char *dup_raw(lc_raw_t r, size_t *len)
{
    *len = 0;
    if (!r.p || !r.len)
        return NULL;
    char *p = malloc(r.len + 1);
    if (p) {
        memcpy(p, r.p, r.len);
        p[r.len] = '\0';
        *len = r.len;
    }
    return p;
}

/* Keep what the decision v granted in w (v NULL: a continued walk, nothing new). */
static void walk_grant(lc_map_walk_t *w, const lc_verdict_t *v)
{
    if (!v)
        return;
    w->exp = v->expire_at;
    w->proxy_refresh = v->refresh_by_proxy;
    w->info = dup_raw(v->info, &w->info_len);
    w->data = dup_raw(v->data, &w->data_len);
}

static lc_map_walk_t *walk_find(lc_client_t *c, const char *ch, size_t len)
{
    for (lc_map_walk_t *w = c->x ? c->x->map_walks : NULL; w; w = w->next)
        if (w->chlen == len && memcmp(w->channel, ch, len) == 0)
            return w;
    return NULL;
}

static void walk_drop(lc_client_t *c, const char *ch, size_t len)
{
    if (!c->x)
        return;
    for (lc_map_walk_t **p = &c->x->map_walks; *p; p = &(*p)->next) {
        if ((*p)->chlen == len && memcmp((*p)->channel, ch, len) == 0) {
            lc_map_walk_t *w = *p;
            *p = w->next;
            walk_free(w);
            return;
        }
    }
}

static size_t walk_count(const lc_client_t *c)
{
    size_t n = 0;
    for (lc_map_walk_t *w = c->x ? c->x->map_walks : NULL; w; w = w->next)
        n++;
    return n;
}

/* Forget walks the client left unfinished for longer than their namespace allows (it gave up
 * or unsubscribed mid-walk): they would hold places of client.channel_limit. */
static void walk_sweep(lc_client_t *c)
{
    if (!c->x)
        return;
    int64_t now = lc_mono_ms();
    for (lc_map_walk_t **p = &c->x->map_walks; *p;) {
        lc_map_walk_t *w = *p;
        lc_ns_opts_t scratch;
        lc_ns_map_t mo;
        const lc_ns_opts_t *o =
            lc_config_resolve_channel(lc__ccfg(c), w->channel, w->chlen, c->user, &scratch);
        if (o)
            lc_config_map_effective(lc__ccfg(c), o, &mo);
        if (!o || (mo.subscribe_catch_up_timeout_ms > 0 &&
                   now - w->started_ms > mo.subscribe_catch_up_timeout_ms)) {
            *p = w->next;
            walk_free(w);
        } else {
            p = &w->next;
        }
    }
}

/* A fresh walk for ch (replacing one left over). NULL on OOM. */
static lc_map_walk_t *walk_start(lc_client_t *c, const char *ch, size_t len, int type)
{
    walk_drop(c, ch, len);
    lc_client_x_t *x = lc__client_x(c);
    lc_map_walk_t *w = x ? calloc(1, sizeof(*w) + len + 1) : NULL;
    if (!w)
        return NULL;
    memcpy(w->channel, ch, len);
    w->chlen = len;
    w->type = type;
    w->started_ms = lc_mono_ms();
    w->next = x->map_walks;
    x->map_walks = w;
    return w;
}

void lc__client_map_forget(lc_client_t *c, const char *channel)
{
    walk_drop(c, channel, strlen(channel));
}

void lc__client_map_free_walks(lc_client_x_t *x)
{
    while (x && x->map_walks) {
        lc_map_walk_t *w = x->map_walks;
        x->map_walks = w->next;
        walk_free(w);
    }
}

/* --- engine calls (answered at once) ------------------------------------------------------ */

typedef struct read_now {
    bool done;
    int err;
    lc_stream_pos_t top;
    lc_rcbuf_t **pubs;
    size_t n;
    char *cursor;
} read_now_t;

static void on_read_now(void *arg, int err, const lc_map_read_res_t *res)
{
    read_now_t *r = arg;
    r->done = true;
    r->err = err;
    r->top = res->top;
    if (err == 0 && res->n) {
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        r->pubs = malloc(res->n * sizeof(*r->pubs));
        if (!r->pubs) {
            r->err = LC_ENOMEM;
            return;
        }
        for (size_t i = 0; i < res->n; i++)
            r->pubs[i] = lc_rcbuf_ref(res->pubs[i]);
        r->n = res->n;
    }
    if (res->cursor && res->cursor[0])
        r->cursor = strdup(res->cursor);
}

static void read_free(read_now_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        lc_rcbuf_unref(r->pubs[i]);
    free(r->pubs);
    free(r->cursor);
    memset(r, 0, sizeof(*r));
}

/* A read of channel ch: the state and stream phases and the catch-up before going live all
 * start from the same query, then set what they page by. */
static void read_query(lc_map_read_req_t *q, const char *ch, size_t len, const lc_ns_map_t *mo)
{
    memset(q, 0, sizeof(*q));
    q->channel = ch;
    q->chlen = len;
    lc_node_map_opts(mo, &q->opts);
}

/* 0 with r filled, or an lc_err (LC_EPOS, LC_EINVAL, ...). */
static int map_read(lc_client_t *c, const lc_map_read_req_t *req, read_now_t *r)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    memset(r, 0, sizeof(*r));
    int rc = e->vt->map_read ? e->vt->map_read(e, req, on_read_now, r) : LC_EINVAL;
    if (rc == 0 && !r->done)
        rc = LC_EIO; /* an engine answering later: not served (see the file comment) */
    return rc != 0 ? rc : r->err;
}

/* --- replies ------------------------------------------------------------------------------ */

static void reply_result(lc_client_t *c, uint32_t id, const lc_subscribe_result_t *r)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    if (lc_proto_reply_subscribe(&c->replies, id, r) != 0)
        lc__client_reply_error(c, id, LC_ERROR_INTERNAL);
}

/* A page of the state or stream phase answered, then rd freed: both phases reply alike, the
 * state's entries with their cursor, the stream's as publications. */
static int reply_page(lc_client_t *c, const lc_cmd_t *cmd, int phase, uint64_t offset,
                      read_now_t *rd)
{
    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    r.type = 1;
    r.phase = phase;
    r.epoch = rd->top.epoch;
    r.offset = offset;
    if (phase == PHASE_STATE) {
        r.cursor = rd->cursor;
        r.state = rd->pubs;
        r.n_state = rd->n;
    } else {
        r.publications = rd->pubs;
        r.n_publications = rd->n;
    }
    reply_result(c, cmd->id, &r);
    read_free(rd);
    return LC_CMD_DONE;
}

/* End the walk with an error reply (a log line says why). */
static int walk_fail(lc_client_t *c, const lc_cmd_t *cmd, uint32_t code, const char *why)
{
    lc_log_refused("subscribe", c->id, c->user, cmd->channel, "map", code, why);
    walk_drop(c, cmd->channel, strlen(cmd->channel));
    lc__client_reply_error(c, cmd->id, code);
    return LC_CMD_DONE;
}

static int page_size(const lc_cmd_t *cmd, const lc_ns_map_t *mo)
{
    int limit = cmd->has_limit && cmd->limit > 0 ? cmd->limit : mo->default_page_size;
    if (limit < mo->min_page_size)
        limit = mo->min_page_size;
    if (limit > mo->max_page_size)
        limit = mo->max_page_size;
    return limit;
}

/* --- going live --------------------------------------------------------------------------- */

typedef struct live_params {
    lc_stream_pos_t since;
    lc_rcbuf_t *const *state; /* the last state page (state → live), else none */
    size_t n_state;
    bool recovery;         /* from the stream phase or a direct live request */
    const lc_verdict_t *v; /* the decision when this request was the walk's first */
} live_params_t;

/* What the subscription is granted: the decision of this request, else the walk's. */
typedef struct grant {
    int64_t exp;
    bool proxy_refresh;
    lc_raw_t info, data;
} grant_t;

static void grant_of(const live_params_t *lp, const lc_map_walk_t *w, grant_t *g)
{
    memset(g, 0, sizeof(*g));
    if (lp->v) {
        g->exp = lp->v->expire_at;
        g->proxy_refresh = lp->v->refresh_by_proxy;
        g->info = lp->v->info;
        g->data = lp->v->data;
    } else if (w) {
        g->exp = w->exp;
        g->proxy_refresh = w->proxy_refresh;
        g->info = (lc_raw_t){w->info, w->info_len};
        g->data = (lc_raw_t){w->data, w->data_len};
    }
}

static int go_live(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                   const lc_ns_map_t *mo, const live_params_t *lp)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool positioned = mo->stream_size > 0;
    grant_t g;
    grant_of(lp, walk_find(c, ch, len), &g);
    /* an expiring subscription needs the expiry check of the side struct */
    if (lc__client_grow_subs(c) != 0 || (g.exp > 0 && !lc__client_x(c)))
        return walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
    lc_sub_t *s;
    if (lc_hub_subscribe(lc__worker_hub(c->w), ch, len, c, &s) != 0)
        return walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");

    /* The catch-up since the walk's position: what was written meanwhile arrives with the
     * reply; a later write arrives as a publication above the position given to the hub. */
    read_now_t rd;
    memset(&rd, 0, sizeof(rd));
    uint64_t latest = lp->since.offset;
    const char *epoch = lp->since.epoch;
    if (positioned) {
        lc_map_read_req_t q;
        read_query(&q, ch, len, mo);
        q.stream = true;
        q.has_since = true;
        q.since = lp->since;
        q.limit = mo->live_transition_max_publication_limit + 1;
        int rc = map_read(c, &q, &rd);
        bool epoch_moved = (lp->recovery || lp->since.epoch[0]) && rc == 0 &&
                           strcmp(rd.top.epoch, lp->since.epoch) != 0;
        if (rc != 0 || epoch_moved || rd.n > (size_t)mo->live_transition_max_publication_limit) {
            lc_hub_unsubscribe(lc__worker_hub(c->w), s);
            read_free(&rd);
            if (rc != 0 && rc != LC_EPOS)
                return walk_fail(c, cmd, LC_ERROR_INTERNAL, lc_strerror(rc));
            return walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION,
                             "the stream moved on: a snapshot again");
        }
        latest = lp->since.offset + rd.n;
        if (rd.top.offset > latest && rd.n == 0)
            latest = rd.top.offset;
        epoch = rd.top.epoch;
    }

    s->offset = latest;
    s->flags = LC_SUB_MAP | (positioned ? LC_SUB_POSITIONED | LC_SUB_RECOVERABLE : 0) |
               (o->map.remove_client_on_unsubscribe ? LC_SUB_MAP_CLEANUP : 0);
    lc_csub_t *cs = &c->subs[c->nsubs++];
    memset(cs, 0, sizeof(*cs));
    cs->s = s;
    cs->chan_info = dup_raw(g.info, &cs->chan_info_len);
    cs->exp = g.exp;
    cs->proxy_refresh = g.proxy_refresh;
    lc__worker_count_subs(c->w, 1);
    lc_metrics_sub(c->t->framing, 1);

    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    r.type = 1;
    r.phase = PHASE_LIVE;
    r.epoch = epoch;
    r.offset = latest;
    r.recoverable = positioned;
    r.positioned = positioned;
    r.state = lp->state;
    r.n_state = lp->n_state;
    r.publications = rd.pubs;
    r.n_publications = rd.n;
    if (lp->recovery && cmd->recover) {
        r.was_recovering = true;
        r.recovered = true;
    }
    r.data = g.data;
    if (o->client_publish_debounce_ms > 0) /* the SDK holds map publishes back per key */
        r.publish_debounce = o->client_publish_debounce_ms > UINT32_MAX
                                 ? UINT32_MAX
                                 : (uint32_t)o->client_publish_debounce_ms;
    if (g.exp > 0) {
        int64_t now = lc_now_s();
        if (!g.proxy_refresh) { /* the client refreshes its token itself (sub_refresh) */
            r.expires = true;
            r.ttl = g.exp > now ? (uint32_t)(g.exp - now) : 0;
        }
        lc__client_arm_sub_expiry(c);
    }
    reply_result(c, cmd->id, &r);
    read_free(&rd);
    walk_drop(c, ch, len); /* g pointed into it until here */
    lc__client_map_presence_join(c, cs, o);
    return LC_CMD_DONE;
}

/* --- phases ------------------------------------------------------------------------------- */

static int state_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                       const lc_ns_map_t *mo, const lc_verdict_t *v)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool first = !cmd->cursor || !cmd->cursor[0];
    bool positioned = mo->stream_size > 0;
    lc_map_walk_t *w = first ? walk_start(c, ch, len, cmd->sub_type) : walk_find(c, ch, len);
    if (!w)
        return walk_fail(c, cmd, first ? LC_ERROR_INTERNAL : LC_ERROR_PERMISSION_DENIED,
                         first ? "no memory" : "a cursor without a walk");
    if (first)
        walk_grant(w, v);
    int limit = page_size(cmd, mo);
    lc_map_read_req_t q;
    read_query(&q, ch, len, mo);
    q.cursor = cmd->cursor;
    q.limit = limit;
    q.max_bytes = STATE_PAGE_BYTES;
    /* Later pages leave out entries written after the first page: the stream brings them. */
    if (!first && positioned && w->captured)
        q.max_offset = w->offset;
    read_now_t rd;
    int rc = map_read(c, &q, &rd);
    if (rc == LC_EINVAL) {
        read_free(&rd);
        return walk_fail(c, cmd, LC_ERROR_BAD_REQUEST, "not a cursor of this channel");
    }
    if (rc != 0) {
        read_free(&rd);
        return walk_fail(c, cmd, LC_ERROR_INTERNAL, lc_strerror(rc));
    }
    if (first) {
        w->captured = true;
        snprintf(w->epoch, sizeof(w->epoch), "%s", rd.top.epoch);
        w->offset = rd.top.offset;
    } else if ((cmd->epoch && cmd->epoch[0] && strcmp(cmd->epoch, rd.top.epoch) != 0) ||
               strcmp(w->epoch, rd.top.epoch) != 0) {
        read_free(&rd);
        return walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
    }
    lc_stream_pos_t pos = {.offset = w->offset};
    snprintf(pos.epoch, sizeof(pos.epoch), "%s", w->epoch);
    if (!rd.cursor && (!positioned || pos.offset + (uint64_t)limit >= rd.top.offset)) {
        live_params_t lp = {.since = pos, .state = rd.pubs, .n_state = rd.n, .v = v};
        int r = go_live(c, cmd, o, mo, &lp);
        read_free(&rd);
        return r;
    }
    return reply_page(c, cmd, PHASE_STATE, w->offset, &rd);
}

static int stream_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                        const lc_ns_map_t *mo, const lc_verdict_t *v)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    if (mo->stream_size <= 0)
        return walk_fail(c, cmd, LC_ERROR_BAD_REQUEST, "no stream phase in ephemeral mode");
    lc_map_walk_t *w = walk_find(c, ch, len);
    if (!w) {
        if (!cmd->recover)
            return walk_fail(c, cmd, LC_ERROR_PERMISSION_DENIED, "a stream page without a walk");
        /* a reconnect from a known position skips the state phase */
        w = walk_start(c, ch, len, cmd->sub_type);
        if (!w)
            return walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
        walk_grant(w, v);
        snprintf(w->epoch, sizeof(w->epoch), "%s", cmd->epoch ? cmd->epoch : "");
    }
    if (cmd->epoch && cmd->epoch[0] && w->epoch[0] && strcmp(cmd->epoch, w->epoch) != 0)
        return walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
    int limit = page_size(cmd, mo);
    lc_map_read_req_t q;
    read_query(&q, ch, len, mo);
    q.stream = true;
    q.has_since = true;
    q.since.offset = cmd->offset;
    snprintf(q.since.epoch, sizeof(q.since.epoch), "%s", cmd->epoch ? cmd->epoch : "");
    if (!w->start_captured) {
        /* the top when the stream phase began: close enough to it, the walk goes live */
        read_now_t top;
        lc_map_read_req_t tq = q;
        tq.has_since = false;
        tq.limit = 0;
        int rc = map_read(c, &tq, &top);
        read_free(&top);
        if (rc != 0)
            return walk_fail(c, cmd, LC_ERROR_INTERNAL, lc_strerror(rc));
        w->stream_start = top.top.offset;
        w->start_captured = true;
    }
    if (cmd->offset + (uint64_t)limit >= w->stream_start) {
        live_params_t lp = {.since = q.since, .recovery = true, .v = v};
        return go_live(c, cmd, o, mo, &lp);
    }
    q.limit = limit;
    read_now_t rd;
    int rc = map_read(c, &q, &rd);
    if (rc != 0) {
        read_free(&rd);
        return walk_fail(c, cmd,
                         rc == LC_EPOS ? LC_ERROR_UNRECOVERABLE_POSITION : LC_ERROR_INTERNAL,
                         rc == LC_EPOS ? "the position is no longer kept" : lc_strerror(rc));
    }
    /* the last change of the page: the next page's start */
    return reply_page(c, cmd, PHASE_STREAM, cmd->offset + rd.n, &rd);
}

/* The phase the request asks for, once it may go on (decided, or a walk continued). */
static int run_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                     const lc_verdict_t *v)
{
    lc_ns_map_t mo;
    lc_config_map_effective(lc__ccfg(c), o, &mo);
    switch (cmd->phase) {
    case PHASE_STATE:
        return state_phase(c, cmd, o, &mo, v);
    case PHASE_STREAM:
        return stream_phase(c, cmd, o, &mo, v);
    default: {
        lc_map_walk_t *w = walk_find(c, cmd->channel, strlen(cmd->channel));
        if (w && cmd->epoch && cmd->epoch[0] && w->epoch[0] && strcmp(cmd->epoch, w->epoch) != 0)
            return walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
        live_params_t lp = {.recovery = true, .v = v};
        lp.since.offset = cmd->offset;
        snprintf(lp.since.epoch, sizeof(lp.since.epoch), "%s", cmd->epoch ? cmd->epoch : "");
        return go_live(c, cmd, o, &mo, &lp);
    }
    }
}

/* --- the subscribe command ---------------------------------------------------------------- */

/* The namespace subscription_type of a subscribe `type` (1 map, 2 map_clients, 3 map_users). */
static int ns_type(int32_t wire)
{
    return wire == 1   ? LC_SUB_TYPE_MAP
           : wire == 2 ? LC_SUB_TYPE_MAP_CLIENTS
           : wire == 3 ? LC_SUB_TYPE_MAP_USERS
                       : -1;
}

int lc__client_map_subscribe(lc_client_t *c, lc_cmd_t *cmd)
{
    const lc_config_t *cfg = lc__ccfg(c);
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = NULL;
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    uint32_t code = 0;
    const char *why = NULL;
    if ((int64_t)len > cfg->channel_max_length) {
        code = LC_ERROR_BAD_REQUEST;
        why = "channel name too long";
    } else if (lc__client_find_sub(c, ch, len)) {
        code = LC_ERROR_ALREADY_SUBSCRIBED;
    } else if (!(o = lc_config_resolve_channel(cfg, ch, len, c->user, &scratch))) {
        code = LC_ERROR_UNKNOWN_CHANNEL;
    } else if (!lc_config_channel_regex_ok(o, lc__channel_name_after_ns(cfg, ch))) {
        code = LC_ERROR_BAD_REQUEST;
        why = "channel_regex";
    } else if (o->subscription_type != ns_type(cmd->sub_type)) {
        code = LC_ERROR_BAD_REQUEST;
        why = "the namespace has another subscription_type";
    } else if (!e->vt->map_read || !e->vt->map_write) {
        code = LC_ERROR_NOT_AVAILABLE;
        why = "the engine keeps no map channels";
    } else if (cmd->tf) {
        /* Centrifugo answers 107 where the namespace allows no filter; Lucent filters no map */
        code = LC_ERROR_BAD_REQUEST;
        why = "tag filters are not served on map subscriptions";
    } else if (cmd->phase < PHASE_LIVE || cmd->phase > PHASE_STATE) {
        code = LC_ERROR_BAD_REQUEST;
        why = "unknown phase";
    }
    if (code) {
        lc_log_refused("subscribe", c->id, c->user, ch, "rules", code,
                       why ? why : lc_error_message(code));
        walk_drop(c, ch, len);
        lc__client_reply_error(c, cmd->id, code);
        return LC_CMD_DONE;
    }
    lc_map_walk_t *w = walk_find(c, ch, len);
    bool first = cmd->phase == PHASE_STATE ? !cmd->cursor || !cmd->cursor[0] : !w;
    if (first) {
        walk_sweep(c); /* this channel's own walk starts afresh anyway */
        w = walk_find(c, ch, len);
    }
    if (!first || (cmd->cursor && cmd->cursor[0])) {
        if (!w)
            return walk_fail(c, cmd, LC_ERROR_PERMISSION_DENIED, "a page without a walk");
        lc_ns_map_t mo;
        lc_config_map_effective(cfg, o, &mo);
        if (mo.subscribe_catch_up_timeout_ms > 0 &&
            lc_mono_ms() - w->started_ms > mo.subscribe_catch_up_timeout_ms) {
            lc_log_info("client %s: map subscribe to %s: catch-up took too long", c->id, ch);
            walk_drop(c, ch, len);
            lc__client_disconnect(c, LC_DISCONNECT_SLOW, "map catch-up timeout");
            return LC_CMD_STOP;
        }
        return run_phase(c, cmd, o, NULL);
    }
    if (cfg->channel_limit > 0 &&
        c->nsubs + walk_count(c) >= (size_t)cfg->channel_limit + (w ? 1 : 0)) {
        lc_log_refused("subscribe", c->id, c->user, ch, "rules", LC_ERROR_LIMIT_EXCEEDED,
                       "channel limit");
        lc__client_reply_error(c, cmd->id, LC_ERROR_LIMIT_EXCEEDED);
        return LC_CMD_DONE;
    }
    /* Lua, the subscription token, the subscribe proxy, the namespace permissions */
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_SUBSCRIBE, &r);
    r.ns = o;
    r.session.sub_type = cmd->sub_type;
    return lc__client_decide(c, &r);
}

int lc__client_map_subscribe_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    size_t len = strlen(cmd->channel);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), cmd->channel, len, c->user, &scratch);
    if (v->type != LC_VERDICT_ALLOW) {
        walk_drop(c, cmd->channel, len);
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    if (!o || o->subscription_type != ns_type(cmd->sub_type))
        return walk_fail(c, cmd, LC_ERROR_INTERNAL, "the namespace changed");
    if (lc__client_find_sub(c, cmd->channel, len))
        return walk_fail(c, cmd, LC_ERROR_ALREADY_SUBSCRIBED, "subscribed meanwhile");
    return run_phase(c, cmd, o, v);
}
