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
 * subscription ends live in client_map_write.c; going live in client_map_live.c. Every engine
 * call may be answered at once (memory) or later (Redis): see client_map_internal.h. */
#include "core/client_map_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

enum {
    PHASE_LIVE = LC_MAP_PHASE_LIVE,
    PHASE_STREAM = LC_MAP_PHASE_STREAM,
    PHASE_STATE = LC_MAP_PHASE_STATE
};

/* A state page is cut at about this many bytes of entries (the page then holds fewer than
 * `limit`): a page of huge values stays one bounded frame. */
#define STATE_PAGE_BYTES ((size_t)512 * 1024)

static void walk_free(lc_client_t *c, lc_map_walk_t *w)
{
    lc__map_walk_release(c, w);
    free(w->info);
    free(w->data);
    free(w);
}

char *lc__map_dup_raw(lc_raw_t r, size_t *len)
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
    w->info = lc__map_dup_raw(v->info, &w->info_len);
    w->data = lc__map_dup_raw(v->data, &w->data_len);
}

lc_map_walk_t *lc__map_walk_find(lc_client_t *c, const char *ch, size_t len)
{
    for (lc_map_walk_t *w = c->x ? c->x->map_walks : NULL; w; w = w->next)
        if (w->chlen == len && memcmp(w->channel, ch, len) == 0)
            return w;
    return NULL;
}

void lc__map_walk_drop(lc_client_t *c, const char *ch, size_t len)
{
    if (!c->x)
        return;
    for (lc_map_walk_t **p = &c->x->map_walks; *p; p = &(*p)->next) {
        if ((*p)->chlen == len && memcmp((*p)->channel, ch, len) == 0) {
            lc_map_walk_t *w = *p;
            *p = w->next;
            walk_free(c, w);
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
 * or unsubscribed mid-walk): they would hold places of client.channel_limit, and collect
 * their channels. */
void lc__map_walk_sweep(lc_client_t *c)
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
            walk_free(c, w);
        } else {
            p = &w->next;
        }
    }
}

/* A fresh walk for ch (replacing one left over). NULL on OOM. */
static lc_map_walk_t *walk_start(lc_client_t *c, const char *ch, size_t len, int type)
{
    lc__map_walk_drop(c, ch, len);
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
    lc__map_walk_drop(c, channel, strlen(channel));
}

void lc__client_map_free_walks(lc_client_x_t *x)
{
    while (x && x->map_walks) {
        lc_map_walk_t *w = x->map_walks;
        x->map_walks = w->next;
        walk_free(x->c, w);
    }
}

/* The namespace subscription_type of a subscribe `type` (1 map, 2 map_clients, 3 map_users). */
static int ns_type(int32_t wire)
{
    return wire == 1   ? LC_SUB_TYPE_MAP
           : wire == 2 ? LC_SUB_TYPE_MAP_CLIENTS
           : wire == 3 ? LC_SUB_TYPE_MAP_USERS
                       : -1;
}

/* --- engine calls: answered at once or later ------------------------------------------------ */

void lc__map_got_free(lc_map_got_t *g)
{
    for (size_t i = 0; i < g->n; i++)
        lc_rcbuf_unref(g->pubs[i]);
    free(g->pubs);
    free(g->cursor);
    memset(g, 0, sizeof(*g));
}

static void got_keep(lc_map_got_t *g, int err, const lc_map_read_res_t *res)
{
    lc__map_got_free(g);
    g->done = true;
    g->err = err;
    if (!res)
        return;
    g->top = res->top;
    if (err == 0 && res->n) {
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        g->pubs = malloc(res->n * sizeof(*g->pubs));
        if (!g->pubs) {
            g->err = LC_ENOMEM;
            return;
        }
        for (size_t i = 0; i < res->n; i++)
            g->pubs[i] = lc_rcbuf_ref(res->pubs[i]);
        g->n = res->n;
    }
    if (res->cursor && res->cursor[0] && !(g->cursor = strdup(res->cursor)))
        g->err = LC_ENOMEM;
}

lc_map_step_t *lc__map_step_new(void)
{
    return calloc(1, sizeof(lc_map_step_t));
}

void lc__map_step_free(void *arg)
{
    lc_map_step_t *st = arg;
    if (!st)
        return;
    lc__map_got_free(&st->got);
    lc__map_got_free(&st->state);
    free(st);
}

/* The engine answered the step in w->ctx: kept in st->got. At once, the starter goes on
 * (step_started); later, the continuation runs here, or nothing when the session ended (the
 * waiter frees st). */
static void step_answered(lc_engine_wait_t *w, int err, const lc_map_read_res_t *res)
{
    lc_map_step_t *st = w->ctx;
    bool async;
    lc_client_t *c = lc__client_engine_answer(w, &async);
    int r = LC_CMD_DONE;
    if (!async || c) {
        /* the step is the starter's again (at once), or the continuation's */
        w->ctx = NULL;
        w->ctx_free = NULL;
        got_keep(&st->got, err, res);
        if (async)
            r = st->next(c, c->cmd, st);
    }
    lc__client_engine_end(w, r, async);
}

static void on_step_read(void *arg, int err, const lc_map_read_res_t *res)
{
    step_answered(arg, err, res);
}

static void on_step_ready(void *arg, int err)
{
    step_answered(arg, err, NULL);
}

/* After the engine call that got waiter w returned rc. */
static int step_started(lc_client_t *c, lc_map_step_t *st, lc_engine_wait_t *w, int rc)
{
    if (rc != 0) {
        w->ctx = NULL; /* the callback never runs: st stays here */
        w->ctx_free = NULL;
    }
    bool later = rc == 0 && !w->answered;
    int r = lc__client_engine_started(c, w, rc); /* frees w unless the answer is pending */
    if (later)
        return r; /* WAIT; or STOP (no memory to park): st is freed with the waiter */
    if (r == LC_CMD_STOP) {
        lc__map_step_free(st);
        return r;
    }
    if (rc != 0)
        st->got = (lc_map_got_t){.done = true, .err = rc};
    return st->next(c, c->cmd, st);
}

/* A waiter for st, or NULL (no memory: st->got says so). */
static lc_engine_wait_t *step_wait(lc_client_t *c, lc_map_step_t *st, lc_map_step_fn fn)
{
    st->next = fn;
    lc__map_got_free(&st->got);
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    if (!w) {
        st->got = (lc_map_got_t){.done = true, .err = LC_ENOMEM};
        return NULL;
    }
    w->ctx = st;
    w->ctx_free = lc__map_step_free; /* the session may end before the answer */
    return w;
}

int lc__map_step_read(lc_client_t *c, lc_map_step_t *st, const lc_map_read_req_t *q,
                      lc_map_step_fn fn)
{
    lc_engine_wait_t *w = step_wait(c, st, fn);
    if (!w)
        return fn(c, c->cmd, st);
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    int rc = e->vt->map_read ? e->vt->map_read(e, q, on_step_read, w) : LC_EINVAL;
    return step_started(c, st, w, rc);
}

int lc__map_step_ready(lc_client_t *c, lc_map_step_t *st, const char *ch, size_t len,
                       lc_map_step_fn fn)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_engine_wait_t *w = step_wait(c, st, fn);
    if (!w)
        return fn(c, c->cmd, st);
    return step_started(c, st, w, e->vt->channel_ready(e, ch, len, on_step_ready, w));
}

const lc_ns_opts_t *lc__map_opts(lc_client_t *c, const lc_cmd_t *cmd, lc_ns_opts_t *scratch,
                                 lc_ns_map_t *mo)
{
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), cmd->channel,
                                                      strlen(cmd->channel), c->user, scratch);
    if (!o || o->subscription_type != ns_type(cmd->sub_type))
        return NULL;
    lc_config_map_effective(lc__ccfg(c), o, mo);
    return o;
}

void lc__map_read_query(lc_map_read_req_t *q, const char *ch, size_t len, const lc_ns_map_t *mo)
{
    memset(q, 0, sizeof(*q));
    q->channel = ch;
    q->chlen = len;
    lc_node_map_opts(mo, &q->opts);
}

/* --- replies ------------------------------------------------------------------------------ */

void lc__map_reply_result(lc_client_t *c, uint32_t id, const lc_subscribe_result_t *r)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    if (lc_proto_reply_subscribe(&c->replies, id, r) != 0)
        lc__client_reply_error(c, id, LC_ERROR_INTERNAL);
}

/* A page of the state or stream phase answered: both phases reply alike, the state's entries
 * with their cursor, the stream's as publications. Frees st. */
static int reply_page(lc_client_t *c, const lc_cmd_t *cmd, int phase, uint64_t offset,
                      lc_map_step_t *st)
{
    lc_map_got_t *g = &st->got;
    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    r.type = 1;
    r.phase = phase;
    r.epoch = g->top.epoch;
    r.offset = offset;
    if (phase == PHASE_STATE) {
        r.cursor = g->cursor;
        r.state = g->pubs;
        r.n_state = g->n;
    } else {
        r.publications = g->pubs;
        r.n_publications = g->n;
    }
    lc__map_reply_result(c, cmd->id, &r);
    lc__map_step_free(st);
    return LC_CMD_DONE;
}

int lc__map_walk_fail(lc_client_t *c, const lc_cmd_t *cmd, uint32_t code, const char *why)
{
    lc_log_refused("subscribe", c->id, c->user, cmd->channel, "map", code, why);
    lc__map_walk_drop(c, cmd->channel, strlen(cmd->channel));
    lc__client_reply_error(c, cmd->id, code);
    return LC_CMD_DONE;
}

/* The walk fails with st freed. */
static int step_fail(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st, uint32_t code,
                     const char *why)
{
    lc__map_step_free(st);
    return lc__map_walk_fail(c, cmd, code, why);
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

/* --- the state phase ------------------------------------------------------------------------ */

static int state_page(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);
static int state_read(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);

static int state_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_map_t *mo,
                       const lc_verdict_t *v)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool first = !cmd->cursor || !cmd->cursor[0];
    lc_map_walk_t *w =
        first ? walk_start(c, ch, len, cmd->sub_type) : lc__map_walk_find(c, ch, len);
    if (!w)
        return lc__map_walk_fail(c, cmd, first ? LC_ERROR_INTERNAL : LC_ERROR_PERMISSION_DENIED,
                                 first ? "no memory" : "a cursor without a walk");
    if (first)
        walk_grant(w, v);
    lc_map_step_t *st = lc__map_step_new();
    if (!st)
        return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
    st->limit = page_size(cmd, mo);
    /* the first page fixes the snapshot's position: what is written after it is collected */
    if (first)
        return lc__map_walk_sync(c, cmd, w, st, state_read);
    st->got.done = true;
    return state_read(c, cmd, st);
}

static int state_read(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool first = !cmd->cursor || !cmd->cursor[0];
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    if (!lc__map_opts(c, cmd, &scratch, &mo))
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (!w)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    if (w->lost)
        return step_fail(c, cmd, st, LC_ERROR_UNRECOVERABLE_POSITION, LC_MAP_LOST);
    lc_map_read_req_t q;
    lc__map_read_query(&q, ch, len, &mo);
    q.cursor = cmd->cursor;
    q.limit = st->limit;
    q.max_bytes = STATE_PAGE_BYTES;
    /* Later pages leave out entries written after the first page: the stream brings them. */
    if (!first && mo.stream_size > 0 && w->captured)
        q.max_offset = w->offset;
    return lc__map_step_read(c, st, &q, state_page);
}

/* A state page read: answer it, or go live with it as the last. */
static int state_page(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    bool first = !cmd->cursor || !cmd->cursor[0];
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    const lc_map_got_t *g = &st->got;
    if (!lc__map_opts(c, cmd, &scratch, &mo))
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (!w)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    if (g->err == LC_EINVAL)
        return step_fail(c, cmd, st, LC_ERROR_BAD_REQUEST, "not a cursor of this channel");
    if (g->err != 0)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, lc_strerror(g->err));
    if (first) {
        w->captured = true;
        snprintf(w->epoch, sizeof(w->epoch), "%s", g->top.epoch);
        w->offset = g->top.offset;
    } else if ((cmd->epoch && cmd->epoch[0] && strcmp(cmd->epoch, g->top.epoch) != 0) ||
               strcmp(w->epoch, g->top.epoch) != 0) {
        return step_fail(c, cmd, st, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
    }
    bool positioned = mo.stream_size > 0;
    if (!g->cursor && (!positioned || w->offset + (uint64_t)st->limit >= g->top.offset)) {
        /* the last page goes with the live reply */
        st->since.offset = w->offset;
        snprintf(st->since.epoch, sizeof(st->since.epoch), "%s", w->epoch);
        st->state = st->got;
        memset(&st->got, 0, sizeof(st->got));
        return lc__map_go_live(c, cmd, st);
    }
    return reply_page(c, cmd, PHASE_STATE, w->offset, st);
}

/* --- the stream phase ----------------------------------------------------------------------- */

static int stream_begin(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);
static int stream_top(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);
static int stream_go(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);
static int stream_page(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);

static void stream_query(lc_map_read_req_t *q, const lc_cmd_t *cmd, const lc_ns_map_t *mo)
{
    lc__map_read_query(q, cmd->channel, strlen(cmd->channel), mo);
    q->stream = true;
    q->has_since = true;
    q->since.offset = cmd->offset;
    snprintf(q->since.epoch, sizeof(q->since.epoch), "%s", cmd->epoch ? cmd->epoch : "");
}

static int stream_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_map_t *mo,
                        const lc_verdict_t *v)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    if (mo->stream_size <= 0)
        return lc__map_walk_fail(c, cmd, LC_ERROR_BAD_REQUEST, "no stream phase in ephemeral mode");
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    if (!w) {
        if (!cmd->recover)
            return lc__map_walk_fail(c, cmd, LC_ERROR_PERMISSION_DENIED,
                                     "a stream page without a walk");
        /* a reconnect from a known position skips the state phase */
        w = walk_start(c, ch, len, cmd->sub_type);
        if (!w)
            return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
        walk_grant(w, v);
        snprintf(w->epoch, sizeof(w->epoch), "%s", cmd->epoch ? cmd->epoch : "");
    }
    if (cmd->epoch && cmd->epoch[0] && w->epoch[0] && strcmp(cmd->epoch, w->epoch) != 0)
        return lc__map_walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
    lc_map_step_t *st = lc__map_step_new();
    if (!st)
        return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
    st->limit = page_size(cmd, mo);
    /* a reconnect's walk collects the channel from its first read on */
    return lc__map_walk_sync(c, cmd, w, st, stream_begin);
}

static int stream_begin(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    lc_map_walk_t *w = lc__map_walk_find(c, cmd->channel, strlen(cmd->channel));
    if (!lc__map_opts(c, cmd, &scratch, &mo))
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (!w)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    if (w->start_captured)
        return stream_go(c, cmd, st);
    /* the top when the stream phase began: close enough to it, the walk goes live */
    lc_map_read_req_t q;
    stream_query(&q, cmd, &mo);
    q.has_since = false;
    q.limit = 0;
    return lc__map_step_read(c, st, &q, stream_top);
}

static int stream_top(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    lc_map_walk_t *w = lc__map_walk_find(c, cmd->channel, strlen(cmd->channel));
    if (!w)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    if (st->got.err != 0)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, lc_strerror(st->got.err));
    w->stream_start = st->got.top.offset;
    w->start_captured = true;
    lc__map_got_free(&st->got);
    return stream_go(c, cmd, st);
}

/* The stream's top is known: live when close enough to it, else the next page. */
static int stream_go(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    lc_map_walk_t *w = lc__map_walk_find(c, cmd->channel, strlen(cmd->channel));
    if (!lc__map_opts(c, cmd, &scratch, &mo))
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (!w)
        return step_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    if (w->lost)
        return step_fail(c, cmd, st, LC_ERROR_UNRECOVERABLE_POSITION, LC_MAP_LOST);
    lc_map_read_req_t q;
    stream_query(&q, cmd, &mo);
    if (cmd->offset + (uint64_t)st->limit >= w->stream_start) {
        st->since = q.since;
        st->recovery = true;
        return lc__map_go_live(c, cmd, st);
    }
    q.limit = st->limit;
    return lc__map_step_read(c, st, &q, stream_page);
}

static int stream_page(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    int err = st->got.err;
    if (err != 0)
        return step_fail(c, cmd, st,
                         err == LC_EPOS ? LC_ERROR_UNRECOVERABLE_POSITION : LC_ERROR_INTERNAL,
                         err == LC_EPOS ? "the position is no longer kept" : lc_strerror(err));
    /* the last change of the page: the next page's start */
    return reply_page(c, cmd, PHASE_STREAM, cmd->offset + st->got.n, st);
}

/* The phase the request asks for, once it may go on (decided, or a walk continued). */
static int run_phase(lc_client_t *c, const lc_cmd_t *cmd, const lc_ns_opts_t *o,
                     const lc_verdict_t *v)
{
    lc_ns_map_t mo;
    lc_config_map_effective(lc__ccfg(c), o, &mo);
    switch (cmd->phase) {
    case PHASE_STATE:
        return state_phase(c, cmd, &mo, v);
    case PHASE_STREAM:
        return stream_phase(c, cmd, &mo, v);
    default: {
        const char *ch = cmd->channel;
        size_t len = strlen(ch);
        lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
        if (w && cmd->epoch && cmd->epoch[0] && w->epoch[0] && strcmp(cmd->epoch, w->epoch) != 0)
            return lc__map_walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, "the epoch changed");
        if (v) {
            /* a direct live request: its grant waits in a walk of its own while the engine
             * answers (the verdict lives only as long as this call) */
            if (!(w = walk_start(c, ch, len, cmd->sub_type)))
                return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
            walk_grant(w, v);
        }
        lc_map_step_t *st = lc__map_step_new();
        if (!st)
            return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "no memory");
        st->recovery = true;
        st->since.offset = cmd->offset;
        snprintf(st->since.epoch, sizeof(st->since.epoch), "%s", cmd->epoch ? cmd->epoch : "");
        return lc__map_go_live(c, cmd, st);
    }
    }
}

/* --- the subscribe command ---------------------------------------------------------------- */

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
        lc__map_walk_drop(c, ch, len);
        lc__client_reply_error(c, cmd->id, code);
        return LC_CMD_DONE;
    }
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    bool first = cmd->phase == PHASE_STATE ? !cmd->cursor || !cmd->cursor[0] : !w;
    if (first) {
        lc__map_walk_sweep(c); /* this channel's own walk starts afresh anyway */
        w = lc__map_walk_find(c, ch, len);
    }
    if (!first || (cmd->cursor && cmd->cursor[0])) {
        if (!w)
            return lc__map_walk_fail(c, cmd, LC_ERROR_PERMISSION_DENIED, "a page without a walk");
        lc_ns_map_t mo;
        lc_config_map_effective(cfg, o, &mo);
        if (mo.subscribe_catch_up_timeout_ms > 0 &&
            lc_mono_ms() - w->started_ms > mo.subscribe_catch_up_timeout_ms) {
            lc_log_info("client %s: map subscribe to %s: catch-up took too long", c->id, ch);
            lc__map_walk_drop(c, ch, len);
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
        lc__map_walk_drop(c, cmd->channel, len);
        lc__client_reply_verdict(c, cmd->id, v);
        return LC_CMD_DONE;
    }
    if (!o || o->subscription_type != ns_type(cmd->sub_type))
        return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, "the namespace changed");
    if (lc__client_find_sub(c, cmd->channel, len))
        return lc__map_walk_fail(c, cmd, LC_ERROR_ALREADY_SUBSCRIBED, "subscribed meanwhile");
    return run_phase(c, cmd, o, v);
}
