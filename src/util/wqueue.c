/* A connection's bounded write queue: a ring of references to shared frames. */
#include "util/wqueue.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "util/assert.h"
#include "util/err.h"
#include "util/metrics.h"

#define WQ_MIN_CAP 8

/* Most connections have one frame queued at a time (an everyday publication rate): it lives in
 * `one`, so a delivery does not allocate a ring and free it again after the write. */
static inline lc_rcbuf_t **slots(lc_wqueue_t *q)
{
    return q->cap == 1 ? &q->u.one : q->u.items;
}

static inline lc_rcbuf_t *const *cslots(const lc_wqueue_t *q)
{
    return q->cap == 1 ? &q->u.one : q->u.items;
}

void lc_wqueue_init(lc_wqueue_t *q)
{
    q->u.items = NULL;
    q->cap = 0;
    q->head = 0;
    q->count = 0;
    q->head_off = 0;
    q->bytes = 0;
}

void lc_wqueue_free(lc_wqueue_t *q)
{
    lc_rcbuf_t **it = slots(q);
    for (uint32_t i = 0; i < q->count; i++)
        lc_rcbuf_unref(it[(q->head + i) & (q->cap - 1)]);
    lc_metrics_wq_bytes(-(int64_t)q->bytes);
    if (q->cap > 1)
        free(q->u.items);
    lc_wqueue_init(q);
}

/* Grow the ring (the inline slot first, then 8, then doubling), unwrapping it so the oldest
 * item lands at index 0. */
static int wqueue_grow(lc_wqueue_t *q)
{
    if (q->cap == 0) {
        q->cap = 1;
        q->head = 0;
        return 0;
    }
    uint32_t ncap = q->cap > 1 ? q->cap * 2 : WQ_MIN_CAP;
    if (ncap < q->cap)
        return LC_ENOMEM;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    lc_rcbuf_t **items = malloc(ncap * sizeof(*items));
    if (items == NULL)
        return LC_ENOMEM;
    lc_rcbuf_t **old = slots(q);
    for (uint32_t i = 0; i < q->count; i++)
        items[i] = old[(q->head + i) & (q->cap - 1)];
    if (q->cap > 1)
        free(q->u.items);
    q->u.items = items;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

int lc_wqueue_push(lc_wqueue_t *q, lc_rcbuf_t *b, size_t limit)
{
    /* written as a subtraction so a huge frame cannot wrap the sum past the limit */
    if ((limit > 0 && (b->len > limit || q->bytes > limit - b->len)) || b->len > UINT32_MAX)
        return LC_ESLOW;
    if (q->count == q->cap) {
        int rc = wqueue_grow(q);
        if (rc < 0)
            return rc;
    }
    slots(q)[(q->head + q->count) & (q->cap - 1)] = lc_rcbuf_ref(b);
    q->count++;
    q->bytes += b->len;
    lc_metrics_wq_bytes((int64_t)b->len);
    return 0;
}

size_t lc_wqueue_iov(const lc_wqueue_t *q, uv_buf_t *iov, size_t max)
{
    size_t n = 0;
    lc_rcbuf_t *const *it = cslots(q);
    for (uint32_t i = 0; i < q->count && n < max; i++) {
        lc_rcbuf_t *b = it[(q->head + i) & (q->cap - 1)];
        size_t off = i == 0 ? q->head_off : 0;
        if (b->len == off)
            continue; /* an empty frame has nothing to write */
        size_t len = b->len - off;
        /* uv_buf_t lengths are unsigned int: a larger frame goes out over several writes */
        if (len > UINT_MAX)
            len = UINT_MAX;
        iov[n++] = uv_buf_init(b->data + off, (unsigned int)len);
    }
    return n;
}

void lc_wqueue_consume(lc_wqueue_t *q, size_t n)
{
    /* the socket wrote at most what was queued */
    LC_ASSERT(n <= q->bytes);
    if (n > q->bytes)
        n = q->bytes;
    q->bytes -= n;
    lc_metrics_wq_bytes(-(int64_t)n);
    lc_rcbuf_t **it = slots(q);
    while (q->count > 0) {
        lc_rcbuf_t *b = it[q->head];
        LC_ASSERT(q->head_off <= b->len);
        size_t left = b->len - q->head_off;
        if (n < left) {
            q->head_off += (uint32_t)n;
            break;
        }
        /* fully written (empty frames included): drop it */
        n -= left;
        lc_rcbuf_unref(b);
        q->head = (q->head + 1) & (q->cap - 1);
        q->count--;
        q->head_off = 0;
    }
    LC_ASSERT(q->count > 0 || (q->bytes == 0 && q->head_off == 0));
    if (q->count == 0)
        q->head = 0;
}
