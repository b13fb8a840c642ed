/* A map subscribe walk collecting its channel while the engine answers (engines that link
 * nodes: see lc_map_walk in client_map_internal.h). Centrifugo buffers publications during a
 * subscribe the same way: the walk's reads answer later, and a write that lands after a read
 * but is delivered here before the session is in the hub would otherwise never reach it — an
 * ephemeral map would keep a stale entry, a positioned one would see a gap and start over.
 *
 * The walk's hub record (LC_SUB_SYNC) is made at its first read and counts the channel in
 * for this node; the hub hands its publications here, each kept with a reference (the same
 * buffer every subscriber shares) and its offset. Going live takes them over
 * (client_map_live.c). The memory is bounded per walk; past it, or when the engine may have
 * lost deliveries, the walk is lost and ends with 112. An abandoned walk gives everything
 * back after its namespace's subscribe_catch_up_timeout (the session's map sched). */
#include "core/client_map_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* At most this many publications, or this many bytes of them, are kept per walk. */
#ifndef LC_MAP_KEPT_MAX
#define LC_MAP_KEPT_MAX 10000
#endif
#define LC_MAP_KEPT_BYTES ((size_t)4 * 1024 * 1024)
/* how long a walk of a namespace without subscribe_catch_up_timeout may collect */
#define LC_MAP_KEPT_TIMEOUT_MS 5000

void lc__map_kept_free(lc_map_kept_t *kept, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lc_rcbuf_unref(kept[i].push);
    free(kept);
}

void lc__map_walk_take(lc_map_walk_t *w, lc_sub_t **sync, lc_map_kept_t **kept, size_t *n)
{
    *sync = w->sync;
    *kept = w->kept;
    *n = w->n_kept;
    w->sync = NULL;
    w->kept = NULL;
    w->n_kept = w->cap_kept = w->kept_bytes = 0;
}

void lc__map_walk_release(lc_client_t *c, lc_map_walk_t *w)
{
    if (w->sync)
        lc_hub_unsubscribe(lc__worker_hub(c->w), w->sync);
    lc_sub_t *s;
    lc_map_kept_t *kept;
    size_t n;
    lc__map_walk_take(w, &s, &kept, &n);
    lc__map_kept_free(kept, n);
}

/* The walk can no longer tell what it missed: it lets the channel go and ends with 112 at
 * its next step. */
static void walk_lose(lc_client_t *c, lc_map_walk_t *w, const char *why)
{
    lc_log_info("client %s: map subscribe to %.*s: %s", c->id, (int)w->chlen, w->channel, why);
    lc__map_walk_release(c, w);
    w->lost = true;
}

void lc__client_map_sync(void *owner, lc_sub_t *s, lc_rcbuf_t *push, uint64_t offset, bool excluded,
                         void *ctx)
{
    (void)ctx;
    lc_client_t *c = owner;
    size_t len;
    const char *ch = lc_hub_sub_channel(s, &len);
    lc_map_walk_t *w = lc__map_walk_find(c, ch, len);
    if (!w || w->sync != s)
        return; /* not reached: a walk's record goes with it */
    if (w->n_kept == w->cap_kept) {
        size_t cap = w->cap_kept ? w->cap_kept * 2 : 16;
        if (cap > LC_MAP_KEPT_MAX)
            cap = LC_MAP_KEPT_MAX;
        lc_map_kept_t *k = cap > w->cap_kept ? realloc(w->kept, cap * sizeof(*k)) : NULL;
        if (!k) {
            walk_lose(c, w, cap > w->cap_kept ? "no memory" : "too many publications meanwhile");
            return;
        }
        w->kept = k;
        w->cap_kept = cap;
    }
    if (!excluded && w->kept_bytes + push->len > LC_MAP_KEPT_BYTES) {
        walk_lose(c, w, "too many publication bytes meanwhile");
        return;
    }
    w->kept[w->n_kept].push = excluded ? NULL : lc_rcbuf_ref(push);
    w->kept[w->n_kept].offset = offset;
    w->n_kept++;
    if (!excluded)
        w->kept_bytes += push->len;
}

void lc__client_map_lost(lc_client_t *c)
{
    for (lc_map_walk_t *w = c->x ? c->x->map_walks : NULL; w; w = w->next)
        if (w->sync)
            walk_lose(c, w, "the engine may have lost publications");
}

/* --- abandoned walks ---------------------------------------------------------------------- */

/* The session's map sched at the earliest deadline of its collecting walks (none: off). */
static void sweep_arm(lc_client_t *c)
{
    lc_client_x_t *x = c->x;
    int64_t first = 0;
    for (lc_map_walk_t *w = x ? x->map_walks : NULL; w; w = w->next)
        if (w->sync && (first == 0 || w->deadline_ms < first))
            first = w->deadline_ms;
    if (!x)
        return;
    if (first == 0) {
        lc__worker_unsched(c->w, &x->map_sweep);
        return;
    }
    int64_t delay = first - lc_mono_ms();
    lc__worker_sched(c->w, &x->map_sweep, LC_SCHED_MAP_WALK, delay > 0 ? delay : 0);
}

void lc__client_map_sweep_due(lc_client_t *c)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    int64_t now = lc_mono_ms();
    for (lc_map_walk_t *w = c->x ? c->x->map_walks : NULL; w; w = w->next)
        if (w->sync && now >= w->deadline_ms)
            walk_lose(c, w, "catch-up took too long");
    lc__map_walk_sweep(c);
    sweep_arm(c);
}

/* --- collecting ------------------------------------------------------------------------- */

/* The node receives the channel (or could not subscribe it): the walk goes on with st->then. */
static int sync_ready(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st)
{
    int err = st->got.err;
    if (err) {
        lc_log_error("client %s: %s not subscribed on other nodes: %s", c->id, cmd->channel,
                     lc_strerror(err));
        lc__map_step_free(st);
        return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, lc_strerror(err));
    }
    lc__map_got_free(&st->got);
    st->got.done = true;
    return st->then(c, cmd, st);
}

int lc__map_walk_sync(lc_client_t *c, const lc_cmd_t *cmd, lc_map_walk_t *w, lc_map_step_t *st,
                      lc_map_step_fn fn)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    if (w->lost) {
        lc__map_step_free(st);
        return lc__map_walk_fail(c, cmd, LC_ERROR_UNRECOVERABLE_POSITION, LC_MAP_LOST);
    }
    if (!e->vt->channel_ready || w->sync) {
        lc__map_got_free(&st->got);
        st->got.done = true;
        return fn(c, cmd, st);
    }
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
    const char *ch = cmd->channel;
    size_t len = strlen(ch);
    lc_sub_t *s;
    const char *why = !lc__map_opts(c, cmd, &scratch, &mo) ? "the namespace changed"
                      : lc_hub_subscribe(lc__worker_hub(c->w), ch, len, c, &s) != 0 ? "no memory"
                                                                                    : NULL;
    if (why) {
        lc__map_step_free(st);
        return lc__map_walk_fail(c, cmd, LC_ERROR_INTERNAL, why);
    }
    s->flags = LC_SUB_MAP | LC_SUB_SYNC;
    w->sync = s;
    int64_t timeout = mo.subscribe_catch_up_timeout_ms;
    w->deadline_ms = lc_mono_ms() + (timeout > 0 ? timeout : LC_MAP_KEPT_TIMEOUT_MS);
    sweep_arm(c);
    st->then = fn;
    return lc__map_step_ready(c, st, ch, len, sync_ready);
}
