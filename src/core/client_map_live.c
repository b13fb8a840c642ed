/* A map subscribe goes live (phase 0): from the last state page, from a stream page close to
 * the top, or directly (a reconnect with a position). With an engine that links nodes, the
 * walk collects the channel's publications since its first read (a direct live request
 * starts collecting here and waits until the node receives the channel); then (positioned
 * modes) the changes since the walk's position are read: what was written meanwhile arrives
 * with the reply, and the collected publications above what the reply covered follow it, in
 * order, before any later one. Each of these engine calls may answer later (see
 * client_map_internal.h). */
#include "core/client_map_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

/* What the subscription is granted: the walk's decision. */
typedef struct grant {
    int64_t exp;
    bool proxy_refresh;
    lc_raw_t info, data;
} grant_t;

static void grant_of(const lc_map_walk_t *w, grant_t *g)
{
    memset(g, 0, sizeof(*g));
    if (w) {
        g->exp = w->exp;
        g->proxy_refresh = w->proxy_refresh;
        g->info = (lc_raw_t){w->info, w->info_len};
        g->data = (lc_raw_t){w->data, w->data_len};
    }
}

static int live_fail(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st, uint32_t code,
                     const char *why)
{
    lc__map_step_free(st);
    return lc__map_walk_fail(c, cmd, code, why);
}

static int live_read(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);
static int live_make(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);

int lc__map_go_live(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    lc_map_walk_t *w = lc__map_walk_find(c, cmd->channel, strlen(cmd->channel));
    if (!w)
        return live_fail(c, cmd, st, LC_ERROR_INTERNAL, "the walk ended");
    /* publications of other nodes reach this one before the read */
    return lc__map_walk_sync(c, cmd, w, st, live_read);
}

/* The node receives the channel: the catch-up read (positioned modes). */
static int live_read(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    lc__map_got_free(&st->got);
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    if (!lc__map_opts(c, cmd, &scratch, &mo))
        return live_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (mo.stream_size <= 0)
        return live_make(c, cmd, st); /* ephemeral: no positions, nothing to catch up */
    lc_map_read_req_t q;
    lc__map_read_query(&q, cmd->channel, strlen(cmd->channel), &mo);
    q.stream = true;
    q.has_since = true;
    q.since = st->since;
    q.limit = mo.live_transition_max_publication_limit + 1;
    return lc__map_step_read(c, st, &q, live_make);
}

/* The subscription is made and answered (st->got: the catch-up, when positioned). */
static int live_make(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    const lc_ns_opts_t *o = lc__map_opts(c, cmd, &scratch, &mo);
    if (!o)
        return live_fail(c, cmd, st, LC_ERROR_INTERNAL, "the namespace changed");
    if (lc__client_find_sub(c, ch, len)) /* the server API made one meanwhile */
        return live_fail(c, cmd, st, LC_ERROR_ALREADY_SUBSCRIBED, "subscribed meanwhile");
    bool positioned = mo.stream_size > 0;
    const lc_map_got_t *rd = &st->got;
    uint64_t latest = st->since.offset;
    const char *epoch = st->since.epoch;
    if (positioned) {
        int rc = rd->err;
        bool epoch_moved = (st->recovery || st->since.epoch[0]) && rc == 0 &&
                           strcmp(rd->top.epoch, st->since.epoch) != 0;
        if (rc != 0 && rc != LC_EPOS)
            return live_fail(c, cmd, st, LC_ERROR_INTERNAL, lc_strerror(rc));
        if (rc != 0 || epoch_moved || rd->n > (size_t)mo.live_transition_max_publication_limit)
            return live_fail(c, cmd, st, LC_ERROR_UNRECOVERABLE_POSITION,
                             "the stream moved on: a snapshot again");
        latest = st->since.offset + rd->n;
        if (rd->top.offset > latest && rd->n == 0)
            latest = rd->top.offset;
        epoch = rd->top.epoch;
    }
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    if (w && w->lost)
        return live_fail(c, cmd, st, LC_ERROR_UNRECOVERABLE_POSITION, LC_MAP_LOST);
    grant_t g;
    grant_of(w, &g);
    /* an expiring subscription needs the expiry check of the side struct */
    if (lc__client_grow_subs(c) != 0 || (g.exp > 0 && !lc__client_x(c)))
        return live_fail(c, cmd, st, LC_ERROR_INTERNAL, "no memory");
    /* the walk's record that collected the channel becomes the subscription's */
    lc_sub_t *s = NULL;
    lc_map_kept_t *kept = NULL;
    size_t n_kept = 0;
    if (w)
        lc__map_walk_take(w, &s, &kept, &n_kept);
    if (!s && lc_hub_subscribe(lc__worker_hub(c->w), ch, len, c, &s) != 0)
        return live_fail(c, cmd, st, LC_ERROR_INTERNAL, "no memory");

    s->offset = latest;
    s->flags = LC_SUB_MAP | (positioned ? LC_SUB_POSITIONED | LC_SUB_RECOVERABLE : 0) |
               (o->map.remove_client_on_unsubscribe ? LC_SUB_MAP_CLEANUP : 0);
    lc_csub_t *cs = &c->subs[c->nsubs++];
    memset(cs, 0, sizeof(*cs));
    cs->s = s;
    cs->chan_info = lc__map_dup_raw(g.info, &cs->chan_info_len);
    cs->exp = g.exp;
    cs->proxy_refresh = g.proxy_refresh;
    lc__worker_count_subs(c->w, 1);
    lc_metrics_sub(c->t->framing, 1);

    lc_subscribe_result_t r;
    memset(&r, 0, sizeof(r));
    r.type = 1;
    r.phase = LC_MAP_PHASE_LIVE;
    r.epoch = epoch;
    r.offset = latest;
    r.recoverable = positioned;
    r.positioned = positioned;
    r.state = st->state.pubs;
    r.n_state = st->state.n;
    r.publications = rd->pubs;
    r.n_publications = rd->n;
    if (st->recovery && cmd->recover) {
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
    lc__map_reply_result(c, cmd->id, &r);
    lc__map_step_free(st);
    lc__map_walk_drop(c, ch, len); /* g pointed into it until here */
    lc__client_map_presence_join(c, cs, o);
    if (n_kept) {
        /* after the reply (the SDK drops publications of a subscription it has not seen
         * subscribed), before any later publication: the hub skips what the reply covered */
        lc__client_send_replies(c);
        lc_hub_t *h = lc__worker_hub(c->w);
        for (size_t i = 0; i < n_kept && c->state == LC_CLIENT_CONNECTED; i++)
            if (lc_hub_replay(h, s, kept[i].push, kept[i].offset) < 0)
                break; /* a gap: the subscription left to recover */
        lc__map_kept_free(kept, n_kept);
    }
    return LC_CMD_DONE;
}
