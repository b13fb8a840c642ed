#include "core/hub.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "proto/tagfilter.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/map.h"

/* A tag filter interned per channel: subscribers with the same filter text share it, and its
 * verdict on the publication being fanned out is computed once (seq tells which one). */
struct lc_hub_filter {
    struct lc_hub_filter *next;
    lc_tagfilter_t *f;
    size_t refs;
    uint64_t seq;
    bool match;
    char text[];
};

struct lc_hub_chan {
    lc_list_t subs;
    struct lc_hub_filter *filters;
    size_t nsubs;
    int fanning; /* a fan-out is walking subs: dropping the channel waits for its end */
    size_t len;
    char name[]; /* NUL-terminated; the channel name interned once per worker */
};

struct lc_hub {
    lc_map_t chans; /* name → lc_hub_chan_t */
    lc_hub_deliver_fn deliver;
    void *ctx;
    void (*watch)(void *ctx, const char *ch, size_t len, int delta);
    void (*gap)(void *owner, const char *ch, size_t len, void *ctx);
    void (*sync)(void *owner, lc_sub_t *s, lc_rcbuf_t *push, uint64_t offset, bool excluded,
                 void *ctx);
    uint64_t fan_seq; /* numbers fan-outs, for the filters' verdict cache */
};

void lc_hub_set_gap(lc_hub_t *h, void (*gap)(void *owner, const char *ch, size_t len, void *ctx))
{
    h->gap = gap;
}

void lc_hub_set_sync(lc_hub_t *h, void (*sync)(void *owner, lc_sub_t *s, lc_rcbuf_t *push,
                                               uint64_t offset, bool excluded, void *ctx))
{
    h->sync = sync;
}

void lc_hub_set_watch(lc_hub_t *h, void (*watch)(void *ctx, const char *ch, size_t len, int delta))
{
    h->watch = watch;
}

lc_hub_t *lc_hub_new(lc_hub_deliver_fn deliver, void *ctx)
{
    lc_hub_t *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    lc_map_init(&h->chans);
    h->deliver = deliver;
    h->ctx = ctx;
    return h;
}

static void filter_unref(lc_hub_chan_t *c, struct lc_hub_filter *hf)
{
    if (!hf || --hf->refs)
        return;
    for (struct lc_hub_filter **pp = &c->filters; *pp; pp = &(*pp)->next)
        if (*pp == hf) {
            *pp = hf->next;
            break;
        }
    lc_tagfilter_free(hf->f);
    free(hf);
}

static void chan_free(lc_hub_chan_t *c)
{
    while (c->filters) {
        struct lc_hub_filter *hf = c->filters;
        c->filters = hf->next;
        lc_tagfilter_free(hf->f);
        free(hf);
    }
    lc_list_t *pos, *tmp;
    lc_list_foreach_safe(pos, tmp, &c->subs)
    {
        lc_list_remove(pos);
        free(lc_container_of(pos, lc_sub_t, node));
    }
    free(c);
}

void lc_hub_compact(lc_hub_t *h)
{
    lc_map_shrink(&h->chans);
}

void lc_hub_free(lc_hub_t *h)
{
    if (!h)
        return;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&h->chans, &it, &k, &kl, &v))
        chan_free(v);
    lc_map_free(&h->chans);
    free(h);
}

int lc_hub_subscribe(lc_hub_t *h, const char *ch, size_t len, void *owner, lc_sub_t **out)
{
    lc_hub_chan_t *c = lc_map_get(&h->chans, ch, len);
    int created = 0;
    if (!c) {
        c = malloc(sizeof(*c) + len + 1);
        if (!c)
            return LC_ENOMEM;
        lc_list_init(&c->subs);
        c->filters = NULL;
        c->nsubs = 0;
        c->fanning = 0;
        c->len = len;
        memcpy(c->name, ch, len);
        c->name[len] = '\0';
        if (lc_map_put(&h->chans, ch, len, c, NULL) != 0) {
            free(c);
            return LC_ENOMEM;
        }
        created = 1;
        if (h->watch)
            h->watch(h->ctx, c->name, len, 1);
    }
    lc_sub_t *s = malloc(sizeof(*s));
    if (!s) {
        if (created) {
            if (h->watch)
                h->watch(h->ctx, c->name, len, -1);
            lc_map_del(&h->chans, ch, len);
            free(c);
        }
        return LC_ENOMEM;
    }
    s->chan = c;
    s->owner = owner;
    s->offset = 0;
    s->flags = 0;
    s->filter = NULL;
    lc_list_insert_tail(&c->subs, &s->node);
    c->nsubs++;
    *out = s;
    return 0;
}

static void chan_drop_if_empty(lc_hub_t *h, lc_hub_chan_t *c)
{
    if (c->nsubs == 0 && !c->fanning) {
        if (h->watch)
            h->watch(h->ctx, c->name, c->len, -1);
        lc_map_del(&h->chans, c->name, c->len);
        free(c);
    }
}

void lc_hub_unsubscribe(lc_hub_t *h, lc_sub_t *s)
{
    lc_hub_chan_t *c = s->chan;
    LC_ASSERT(c->nsubs > 0);
    lc_list_remove(&s->node);
    c->nsubs--;
    filter_unref(c, s->filter);
    free(s);
    chan_drop_if_empty(h, c);
}

const char *lc_hub_sub_channel(const lc_sub_t *s, size_t *len)
{
    if (len)
        *len = s->chan->len;
    return s->chan->name;
}

int lc_hub_set_filter(lc_hub_t *h, lc_sub_t *s, const char *tf)
{
    (void)h;
    lc_hub_chan_t *c = s->chan;
    struct lc_hub_filter *hf = c->filters;
    while (hf && strcmp(hf->text, tf) != 0)
        hf = hf->next;
    if (!hf) {
        size_t n = strlen(tf);
        hf = malloc(sizeof(*hf) + n + 1);
        if (!hf)
            return LC_ENOMEM;
        if (!(hf->f = lc_tagfilter_compile(tf, NULL))) {
            free(hf);
            return LC_EINVAL;
        }
        memcpy(hf->text, tf, n + 1);
        hf->refs = 0;
        hf->seq = 0;
        hf->match = false;
        hf->next = c->filters;
        c->filters = hf;
    }
    hf->refs++;
    filter_unref(c, s->filter);
    s->filter = hf;
    return 0;
}

/* Whether the publication in push passes s's filter: each distinct filter of the channel is
 * evaluated once per fan-out, the tags parsed once on first need. */
static bool filter_pass(lc_hub_t *h, lc_sub_t *s, lc_rcbuf_t *push, lc_tags_t **tags, bool *parsed)
{
    struct lc_hub_filter *hf = s->filter;
    if (hf->seq != h->fan_seq) {
        if (!*parsed) {
            *tags = lc_tags_from_push(push->data, push->len);
            *parsed = true;
        }
        hf->match = lc_tagfilter_match(hf->f, *tags);
        hf->seq = h->fan_seq;
    }
    return hf->match;
}

static int excluded(void *owner, void *const *exclude, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (exclude[i] == owner)
            return 1;
    return 0;
}

size_t lc_hub_fanout(lc_hub_t *h, const char *ch, size_t len, lc_rcbuf_t *push, int kind,
                     uint64_t offset, void *const *exclude, size_t n_exclude)
{
    lc_rcbuf_t *pushes[LC_HUB_VARIANTS] = {push, NULL, NULL};
    return lc_hub_fanout_v(h, ch, len, pushes, kind, offset, exclude, n_exclude);
}

/* The position checks of a publication at offset (not 0) for s: 1 when s takes it, 0 when
 * its subscribe reply covered it already (recovery), -1 after a gap (told to the gap
 * callback, which may end s). */
static inline int position_check(lc_hub_t *h, lc_sub_t *s, uint64_t offset)
{
    if (offset <= s->offset)
        return 0;
    bool gap = (s->flags & LC_SUB_POSITIONED) && offset != s->offset + 1;
    s->offset = offset;
    if (gap && h->gap) {
        h->gap(s->owner, s->chan->name, s->chan->len, h->ctx);
        return -1;
    }
    return 1;
}

/* Which push a subscriber gets. */
static int variant_of(lc_sub_t *s, lc_rcbuf_t *const *pushes, int kind, uint64_t offset)
{
    if (!(s->flags & LC_SUB_DELTA) || kind != LC_PUSH_PUB || !pushes[LC_HUB_DELTA_FULL])
        return LC_HUB_PLAIN;
    if ((s->flags & LC_SUB_DELTA_READY) && pushes[LC_HUB_DELTA_PATCH])
        return LC_HUB_DELTA_PATCH;
    /* It holds this publication whole from now on, which the next delta is made against —
     * unless it was not kept in the stream (skip_history): the next one goes whole too. */
    if (offset)
        s->flags |= LC_SUB_DELTA_READY;
    else
        s->flags &= ~(uint32_t)LC_SUB_DELTA_READY;
    return LC_HUB_DELTA_FULL;
}

size_t lc_hub_fanout_v(lc_hub_t *h, const char *ch, size_t len, lc_rcbuf_t *const *pushes, int kind,
                       uint64_t offset, void *const *exclude, size_t n_exclude)
{
    lc_hub_chan_t *c = lc_map_get(&h->chans, ch, len);
    if (!c)
        return 0;
    lc_rcbuf_t *frames[LC_HUB_VARIANTS][LC_FRAMING_MAX] = {{0}};
    size_t n = 0;
    size_t before = c->nsubs;
    lc_tags_t *tags = NULL;
    bool parsed = false;
    h->fan_seq++;
    c->fanning++;
    /* A delivery may unsubscribe its own owner (slow consumer cut off), which removes the
     * current node: the safe walk has already saved the next one. */
    lc_list_t *pos, *tmp;
    lc_list_foreach_safe(pos, tmp, &c->subs)
    {
        lc_sub_t *s = lc_container_of(pos, lc_sub_t, node);
        if (kind == LC_PUSH_JOIN_LEAVE && !(s->flags & LC_SUB_JOIN_LEAVE))
            continue;
        if (s->flags & LC_SUB_SYNC) { /* the one test a plain subscriber pays */
            if (h->sync)
                h->sync(s->owner, s, pushes[LC_HUB_PLAIN], offset,
                        n_exclude && excluded(s->owner, exclude, n_exclude), h->ctx);
            continue;
        }
        if (offset && position_check(h, s, offset) <= 0)
            continue;
        if (n_exclude && excluded(s->owner, exclude, n_exclude)) {
            /* it misses this publication: a delta against it would not apply */
            if (kind == LC_PUSH_PUB)
                s->flags &= ~(uint32_t)LC_SUB_DELTA_READY;
            continue;
        }
        if (s->filter && kind == LC_PUSH_PUB &&
            !filter_pass(h, s, pushes[LC_HUB_PLAIN], &tags, &parsed))
            continue;
        int v = variant_of(s, pushes, kind, offset);
        h->deliver(s->owner, pushes[v], frames[v], h->ctx);
        n++;
    }
    /* deliveries only ever remove subscribers (a slow consumer cut off), never add any */
    LC_ASSERT(c->fanning > 0 && n <= before && c->nsubs <= before);
    c->fanning--;
    lc_tags_free(tags);
    for (int v = 0; v < LC_HUB_VARIANTS; v++)
        for (int i = 0; i < LC_FRAMING_MAX; i++)
            lc_rcbuf_unref(frames[v][i]);
    chan_drop_if_empty(h, c);
    return n;
}

int lc_hub_replay(lc_hub_t *h, lc_sub_t *s, lc_rcbuf_t *push, uint64_t offset)
{
    lc_hub_chan_t *c = s->chan;
    c->fanning++; /* the gap or a slow consumer may end s: the channel stays until the end */
    int r = offset ? position_check(h, s, offset) : 1;
    if (r == 1 && push) {
        lc_rcbuf_t *frames[LC_FRAMING_MAX] = {0};
        h->deliver(s->owner, push, frames, h->ctx);
        for (int i = 0; i < LC_FRAMING_MAX; i++)
            lc_rcbuf_unref(frames[i]);
    } else if (r == 1) {
        r = 0; /* excluded: only the position moved */
    }
    c->fanning--;
    chan_drop_if_empty(h, c);
    return r;
}

size_t lc_hub_num_channels(const lc_hub_t *h)
{
    return lc_map_count(&h->chans);
}

size_t lc_hub_num_subscribers(const lc_hub_t *h, const char *ch, size_t len)
{
    lc_hub_chan_t *c = lc_map_get(&h->chans, ch, len);
    return c ? c->nsubs : 0;
}

void lc_hub_foreach(const lc_hub_t *h, void (*fn)(void *arg, const char *ch, size_t len, size_t n),
                    void *arg)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&h->chans, &it, &k, &kl, &v)) {
        lc_hub_chan_t *c = v;
        if (c->nsubs)
            fn(arg, c->name, c->len, c->nsubs);
    }
}
