/* The hub: this worker's channel → local subscribers index. Each subscription is one compact
 * record (lc_sub_t) linked into its channel's list; the owner (a client) keeps the pointer, so
 * the index is two-way. A channel is dropped when its last subscriber leaves.
 *
 * Fan-out takes one encoded push and hands it to every subscriber through the deliver
 * callback, together with a per-fan-out cache of framed buffers (one per framing kind), so a
 * publication is framed once and the same bytes are queued on every socket. Owned by one
 * worker; not thread-safe. */
#ifndef LC_CORE_HUB_H
#define LC_CORE_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/transport.h"
#include "util/list.h"
#include "util/rcbuf.h"

typedef struct lc_hub lc_hub_t;
typedef struct lc_hub_chan lc_hub_chan_t;

/* Subscription flags. */
enum {
    LC_SUB_JOIN_LEAVE = 1 << 0, /* receives join/leave pushes */
    LC_SUB_POSITIONED = 1 << 1, /* tracks the stream position (offset below) */
    LC_SUB_RECOVERABLE = 1 << 2,
    LC_SUB_SERVER_SIDE = 1 << 3,     /* from the token or the server API, not a client subscribe */
    LC_SUB_PRESENCE = 1 << 4,        /* has a presence entry to remove when it ends */
    LC_SUB_EMIT_JOIN_LEAVE = 1 << 5, /* announces its join and leave to the channel */
    LC_SUB_DELTA = 1 << 6,           /* negotiated fossil deltas */
    LC_SUB_DELTA_READY = 1 << 7,     /* has the whole previous publication: deltas apply */
    /* map subscriptions (core/client_map.c) */
    LC_SUB_MAP = 1 << 12,          /* a map-type subscription */
    LC_SUB_MAP_CLEANUP = 1 << 13,  /* its client's own key goes when it ends */
    LC_SUB_MAP_PRESENCE = 1 << 14, /* has map_clients / map_users entries to take back */
    /* its subscribe is still being answered: publications go to the hub's sync callback
     * (kept for after the reply), never to the deliver callback, with no position check */
    LC_SUB_SYNC = 1 << 15,
};

/* The pushes of one publication: the plain one, and for delta subscribers the whole data as a
 * string (their first publication, or when no delta is made) and the delta. */
enum { LC_HUB_PLAIN = 0, LC_HUB_DELTA_FULL, LC_HUB_DELTA_PATCH, LC_HUB_VARIANTS };

typedef struct lc_sub {
    lc_list_t node; /* in the channel's subscriber list */
    lc_hub_chan_t *chan;
    void *owner;
    /* Offset of the last publication this subscriber has been given (or that its subscribe
     * reply covered): a delivery at or below it is a duplicate and is skipped. */
    uint64_t offset;
    uint32_t flags;
    struct lc_hub_filter *filter; /* its tag filter, shared per channel; NULL = none */
} lc_sub_t;

/* Deliver `push` to `owner`; frames[LC_FRAMING_MAX] is the fan-out's frame cache: fill a slot
 * with a new reference when empty, reuse it otherwise (the hub unrefs them after the fan-out).
 * The callback may unsubscribe its own owner from any channel, including the one being fanned
 * out, but no other subscriber. */
typedef void (*lc_hub_deliver_fn)(void *owner, lc_rcbuf_t *push, lc_rcbuf_t **frames, void *ctx);

lc_hub_t *lc_hub_new(lc_hub_deliver_fn deliver, void *ctx);
/* Tell watch(ctx, ch, len, +1) when a channel gets its first subscriber and (.., -1) when it
 * is dropped (the node subscribes to other nodes' publications per channel). */
void lc_hub_set_watch(lc_hub_t *h, void (*watch)(void *ctx, const char *ch, size_t len, int delta));
/* A positioned subscriber whose next publication is not the one after its position missed
 * some (another node's delivery lost while the broker reconnected, or published before this
 * node's subscription to the channel took effect): it gets gap(owner, ch, len, ctx) instead
 * of the publication, and must leave the channel (to resubscribe and recover). */
void lc_hub_set_gap(lc_hub_t *h, void (*gap)(void *owner, const char *ch, size_t len, void *ctx));
/* A LC_SUB_SYNC subscriber gets sync(owner, s, push, offset, excluded, ctx) for each
 * publication instead of a delivery (join/leave pushes only when it takes them): excluded
 * tells that its owner is among the publication's exclusions (it keeps only the position).
 * The callback may unsubscribe s itself, no other subscriber. */
void lc_hub_set_sync(lc_hub_t *h, void (*sync)(void *owner, lc_sub_t *s, lc_rcbuf_t *push,
                                               uint64_t offset, bool excluded, void *ctx));
/* Frees every channel and subscription record still present. */
void lc_hub_free(lc_hub_t *h);

/* Add owner to channel. *out receives the record (owned by the hub until unsubscribe).
 * 0 or LC_ENOMEM. The caller checks for duplicates (a client knows its channels). */
int lc_hub_subscribe(lc_hub_t *h, const char *ch, size_t len, void *owner, lc_sub_t **out);
/* Remove and free the record; the channel is dropped when it becomes empty. */
void lc_hub_unsubscribe(lc_hub_t *h, lc_sub_t *s);
const char *lc_hub_sub_channel(const lc_sub_t *s, size_t *len);
/* Give s the tag filter tf (its JSON text, already checked with lc_tagfilter_compile):
 * subscribers of a channel with the same text share one compiled filter, evaluated once per
 * publication. Publications whose tags do not match are not delivered to s. 0 or LC_ENOMEM /
 * LC_EINVAL. */
int lc_hub_set_filter(lc_hub_t *h, lc_sub_t *s, const char *tf);

/* Deliver push to every subscriber of ch except the owners listed in exclude. kind is an
 * enum lc_push_kind (engine.h): join/leave pushes go only to LC_SUB_JOIN_LEAVE subscribers;
 * a publication with an offset skips subscribers already at or past it. Returns the number of
 * deliveries. */
size_t lc_hub_fanout(lc_hub_t *h, const char *ch, size_t len, lc_rcbuf_t *push, int kind,
                     uint64_t offset, void *const *exclude, size_t n_exclude);
/* The same with the variants of a publication (pushes[LC_HUB_PLAIN] required, the others
 * NULL when absent): a delta subscriber gets the delta once it holds the previous
 * publication, the whole data as a string otherwise; each variant is framed once per kind. */
size_t lc_hub_fanout_v(lc_hub_t *h, const char *ch, size_t len, lc_rcbuf_t *const *pushes, int kind,
                       uint64_t offset, void *const *exclude, size_t n_exclude);

/* Hand s one publication kept while it was LC_SUB_SYNC (push NULL: it was excluded, only its
 * position counts), with the checks of a fan-out: at or below s's offset it is skipped; after
 * a gap the gap callback runs instead and s must be taken as gone. 1 delivered, 0 skipped or
 * excluded, -1 after a gap. The deliver callback may end s too (a slow consumer cut off):
 * the caller checks its owner. */
int lc_hub_replay(lc_hub_t *h, lc_sub_t *s, lc_rcbuf_t *push, uint64_t offset);

size_t lc_hub_num_channels(const lc_hub_t *h);
/* Give back the channel table's spare memory after many channels went (not during a fan-out). */
void lc_hub_compact(lc_hub_t *h);
/* Call fn for every channel with its subscriber count (the hub must not change meanwhile). */
void lc_hub_foreach(const lc_hub_t *h, void (*fn)(void *arg, const char *ch, size_t len, size_t n),
                    void *arg);
size_t lc_hub_num_subscribers(const lc_hub_t *h, const char *ch, size_t len);

#endif
