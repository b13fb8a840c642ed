/* Memory engine streams (spec §7): epoch, top offset and the kept publications of each channel,
 * the expiry heap that frees them without further access, and the history calls. */
#include <stdlib.h>
#include <string.h>

#include "engine/memory_internal.h"
#include "util/err.h"
#include "util/rand.h"

bool lc__history_on(const lc_chan_opts_t *opts)
{
    return opts->history_size > 0 && opts->history_ttl_ms > 0;
}

/* --- expiry heap ----------------------------------------------------------------------------- */

static void heap_set(lc__shard_t *sh, size_t i, lc__stream_t *s)
{
    sh->heap[i] = s;
    s->heap_idx = i;
}

static void heap_up(lc__shard_t *sh, size_t i)
{
    lc__stream_t *s = sh->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (sh->heap[parent]->deadline_ms <= s->deadline_ms)
            break;
        heap_set(sh, i, sh->heap[parent]);
        i = parent;
    }
    heap_set(sh, i, s);
}

static void heap_down(lc__shard_t *sh, size_t i)
{
    lc__stream_t *s = sh->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= sh->heap_len)
            break;
        if (child + 1 < sh->heap_len &&
            sh->heap[child + 1]->deadline_ms < sh->heap[child]->deadline_ms)
            child++;
        if (s->deadline_ms <= sh->heap[child]->deadline_ms)
            break;
        heap_set(sh, i, sh->heap[child]);
        i = child;
    }
    heap_set(sh, i, s);
}

static void heap_fix(lc__shard_t *sh, lc__stream_t *s)
{
    heap_up(sh, s->heap_idx);
    heap_down(sh, s->heap_idx);
}

static int heap_push(lc__shard_t *sh, lc__stream_t *s)
{
    if (sh->heap_len == sh->heap_cap) {
        size_t cap = sh->heap_cap ? sh->heap_cap * 2 : 16;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        lc__stream_t **h = realloc(sh->heap, cap * sizeof(*h));
        if (!h)
            return LC_ENOMEM;
        sh->heap = h;
        sh->heap_cap = cap;
    }
    heap_set(sh, sh->heap_len++, s);
    heap_up(sh, s->heap_idx);
    return 0;
}

static void heap_remove(lc__shard_t *sh, lc__stream_t *s)
{
    size_t i = s->heap_idx;
    lc__stream_t *last = sh->heap[--sh->heap_len];
    if (last == s)
        return;
    heap_set(sh, i, last);
    heap_fix(sh, last);
}

/* --- streams --------------------------------------------------------------------------------- */

static lc__hist_ent_t *ring_at(const lc__stream_t *s, size_t i)
{
    return &s->ring[(s->head + i) % s->cap];
}

static bool meta_expired(const lc__stream_t *s, int64_t now)
{
    return s->meta_ttl_ms > 0 && now - s->touched_ms >= s->meta_ttl_ms;
}

static void update_deadline(lc__shard_t *sh, lc__stream_t *s)
{
    int64_t d = INT64_MAX;
    if (s->meta_ttl_ms > 0)
        d = s->touched_ms + s->meta_ttl_ms;
    if (s->n > 0 && s->pub_ttl_ms > 0) {
        int64_t pub_d = ring_at(s, 0)->time_ms + s->pub_ttl_ms;
        if (pub_d < d)
            d = pub_d;
    }
    if (d != s->deadline_ms) {
        s->deadline_ms = d;
        heap_fix(sh, s);
    }
}

static void drop_front(lc__stream_t *s)
{
    lc_rcbuf_unref(ring_at(s, 0)->pub);
    s->head = (s->head + 1) % s->cap;
    s->n--;
}

static void expire_pubs(lc__stream_t *s, int64_t now)
{
    while (s->n > 0 && now - ring_at(s, 0)->time_ms >= s->pub_ttl_ms)
        drop_front(s);
}

static void stream_free(lc__stream_t *s)
{
    while (s->n > 0)
        drop_front(s);
    free(s->ring);
    free(s);
}

static void stream_unlink(lc__shard_t *sh, lc__stream_t *s)
{
    heap_remove(sh, s);
    lc_map_del(&sh->streams, s->channel, s->chlen);
    stream_free(s);
}

lc__stream_t *lc__stream_find(lc__shard_t *sh, const char *ch, size_t chlen, int64_t now)
{
    lc__stream_t *s = lc_map_get(&sh->streams, ch, chlen);
    if (!s)
        return NULL;
    if (meta_expired(s, now)) {
        stream_unlink(sh, s);
        return NULL;
    }
    expire_pubs(s, now);
    update_deadline(sh, s);
    return s;
}

/* Centrifugo epochs are short random strings of letters and digits; uniform by rejecting the
 * bytes that would bias the modulo. */
int lc__make_epoch(char out[LC__EPOCH_LEN + 1])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    enum { N = sizeof(alphabet) - 1, LIMIT = 256 - 256 % N };
    size_t o = 0;
    while (o < LC__EPOCH_LEN) {
        unsigned char b[16];
        if (lc_random_bytes(b, sizeof(b)) < 0)
            return LC_EIO;
        for (size_t i = 0; i < sizeof(b) && o < LC__EPOCH_LEN; i++) {
            if (b[i] < LIMIT)
                out[o++] = alphabet[b[i] % N];
        }
    }
    out[o] = '\0';
    return 0;
}

int lc__stream_open(lc__shard_t *sh, const char *ch, size_t chlen, const lc_chan_opts_t *opts,
                    int64_t now, lc__stream_t **out)
{
    lc__stream_t *s = lc__stream_find(sh, ch, chlen, now);
    if (!s) {
        s = calloc(1, sizeof(*s) + chlen + 1);
        if (!s)
            return LC_ENOMEM;
        int rc = lc__make_epoch(s->epoch);
        if (rc < 0) {
            free(s);
            return rc;
        }
        memcpy(s->channel, ch, chlen);
        s->chlen = chlen;
        s->deadline_ms = INT64_MAX;
        if (lc_map_put(&sh->streams, ch, chlen, s, NULL) < 0) {
            free(s);
            return LC_ENOMEM;
        }
        if (heap_push(sh, s) < 0) {
            lc_map_del(&sh->streams, ch, chlen);
            free(s);
            return LC_ENOMEM;
        }
    }
    /* A channel whose options no longer keep history keeps its old publication lifetime
     * until they expire. */
    if (lc__history_on(opts))
        s->pub_ttl_ms = opts->history_ttl_ms;
    s->meta_ttl_ms = opts->history_meta_ttl_ms > 0 ? opts->history_meta_ttl_ms : 0;
    s->touched_ms = now;
    update_deadline(sh, s);
    *out = s;
    return 0;
}

int lc__stream_reserve(lc__stream_t *s, int history_size)
{
    size_t want = (size_t)history_size;
    if (s->n < s->cap || s->n >= want)
        return 0; /* room left, or the oldest entry makes room */
    size_t cap = s->cap ? s->cap * 2 : 4;
    if (cap > want)
        cap = want;
    lc__hist_ent_t *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return LC_ENOMEM;
    for (size_t i = 0; s->cap > 0 && i < s->n; i++)
        ring[i] = *ring_at(s, i);
    free(s->ring);
    s->ring = ring;
    s->cap = cap;
    s->head = 0;
    return 0;
}

void lc__stream_append(lc__shard_t *sh, lc__stream_t *s, lc_rcbuf_t *pub, int history_size,
                       int64_t now)
{
    size_t size = (size_t)history_size;
    while (s->n > 0 && (s->n >= size || s->n == s->cap))
        drop_front(s);
    s->top++;
    *ring_at(s, s->n) = (lc__hist_ent_t){.pub = pub, .time_ms = now};
    s->n++;
    update_deadline(sh, s);
}

lc_rcbuf_t *lc__stream_last(const lc__stream_t *s)
{
    return s->n > 0 ? ring_at(s, s->n - 1)->pub : NULL;
}

void lc__stream_clear(lc__shard_t *sh, lc__stream_t *s)
{
    while (s->n > 0)
        drop_front(s);
    free(s->ring);
    s->ring = NULL;
    s->cap = s->head = 0;
    update_deadline(sh, s);
}

void lc__shard_sweep_streams(lc__shard_t *sh, int64_t now)
{
    /* Each round frees a stream or moves its deadline past now, so this ends; the work is
     * paid for by the publications and streams it removes. */
    while (sh->heap_len > 0 && sh->heap[0]->deadline_ms <= now) {
        lc__stream_t *s = sh->heap[0];
        if (meta_expired(s, now)) {
            stream_unlink(sh, s);
            continue;
        }
        expire_pubs(s, now);
        update_deadline(sh, s);
    }
}

void lc__shard_free_streams(lc__shard_t *sh)
{
    for (size_t i = 0; i < sh->heap_len; i++)
        stream_free(sh->heap[i]);
    free(sh->heap);
    sh->heap = NULL;
    sh->heap_len = sh->heap_cap = 0;
    lc_map_free(&sh->streams);
}

/* --- history calls ------------------------------------------------------------------------- */

/* Which kept entries a query returns: `count` entries from index `from`, towards older ones
 * when `backward`. */
typedef struct pick {
    size_t from, count;
    bool backward;
} pick_t;

/* Spec §7.2 over the kept offsets first..top (n = top - first + 1 entries). */
static pick_t pick_entries(const lc_history_req_t *req, const lc__stream_t *s)
{
    pick_t p = {0, 0, false};
    if (req->limit == 0 || s->n == 0)
        return p;
    size_t max = req->limit < 0 || (size_t)req->limit > s->n ? s->n : (size_t)req->limit;
    uint64_t first = s->top - s->n + 1;
    size_t avail;
    if (!req->has_since) {
        /* oldest first, or with reverse the newest first */
        p.from = req->reverse ? s->n - 1 : 0;
        avail = s->n;
    } else if (!req->reverse) {
        /* offsets after since; an evicted since starts at the oldest kept */
        if (req->since.offset >= s->top)
            return p;
        uint64_t start = req->since.offset + 1 < first ? first : req->since.offset + 1;
        p.from = (size_t)(start - first);
        avail = s->n - p.from;
    } else {
        /* offsets before since, newest first */
        if (req->since.offset <= first)
            return p;
        uint64_t end = req->since.offset - 1 > s->top ? s->top : req->since.offset - 1;
        p.from = (size_t)(end - first);
        avail = p.from + 1;
    }
    p.backward = req->reverse;
    p.count = avail < max ? avail : max;
    return p;
}

int lc__memory_history(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    int64_t now = m->now_ms();
    lc__maybe_sweep(m, now);
    lc__shard_t *sh = lc__shard_of(m, req->channel, req->chlen);

    /* Small answers (the usual recovery or paging) need no allocation. */
    lc_rcbuf_t *local[32];
    lc_rcbuf_t **pubs = local;
    lc_history_res_t res = {0};
    int err = 0;

    uv_mutex_lock(&sh->mu);
    lc__stream_t *s;
    int rc = lc__stream_open(sh, req->channel, req->chlen, &req->opts, now, &s);
    if (rc < 0) {
        uv_mutex_unlock(&sh->mu);
        return rc;
    }
    res.top.offset = s->top;
    memcpy(res.top.epoch, s->epoch, sizeof(s->epoch));
    res.first_offset = s->n ? s->top - s->n + 1 : 0;
    if (req->has_since && req->since.epoch[0] && strcmp(req->since.epoch, s->epoch) != 0) {
        err = LC_EPOS;
    } else {
        pick_t p = pick_entries(req, s);
        if (p.count > sizeof(local) / sizeof(local[0])) {
            // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
            pubs = malloc(p.count * sizeof(*pubs));
            if (!pubs) {
                uv_mutex_unlock(&sh->mu);
                return LC_ENOMEM;
            }
        }
        size_t i = p.from;
        for (size_t k = 0; k < p.count; k++) {
            pubs[k] = lc_rcbuf_ref(ring_at(s, i)->pub);
            i = p.backward ? i - 1 : i + 1;
        }
        res.n = p.count;
    }
    uv_mutex_unlock(&sh->mu);

    res.pubs = pubs;
    if (cb)
        cb(arg, err, &res);
    for (size_t k = 0; k < res.n; k++)
        lc_rcbuf_unref(pubs[k]);
    if (pubs != local)
        free(pubs);
    return 0;
}

int lc__memory_history_remove(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb,
                              void *arg)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    int64_t now = m->now_ms();
    lc__maybe_sweep(m, now);
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);

    uv_mutex_lock(&sh->mu);
    lc__stream_t *s = lc__stream_find(sh, ch, chlen, now);
    if (s)
        lc__stream_clear(sh, s);
    uv_mutex_unlock(&sh->mu);
    if (cb)
        cb(arg, 0);
    return 0;
}
