/* A connection's write queue: references to shared frames (lc_rcbuf) in order, with the
 * count of bytes not yet written. Bounded: a push that would take the queue over `limit`
 * is refused with LC_ESLOW, and the caller disconnects the slow consumer. */
#ifndef LC_UTIL_WQUEUE_H
#define LC_UTIL_WQUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/rcbuf.h"

/* Every connection holds one, so it is kept small (32 bytes): counts are 32-bit, and a frame
 * over 4 GiB is refused like one over the limit. */
typedef struct lc_wqueue {
    union {
        lc_rcbuf_t **items; /* ring of references (allocated when cap > 1) */
        lc_rcbuf_t *one;    /* the ring when cap == 1: one frame queued costs no allocation */
    } u;
    uint32_t cap;      /* ring capacity (power of two, 0 when never used) */
    uint32_t head;     /* index of the oldest item */
    uint32_t count;    /* items in the ring */
    uint32_t head_off; /* bytes of items[head] already written */
    size_t bytes;      /* bytes queued and not yet written */
} lc_wqueue_t;

void lc_wqueue_init(lc_wqueue_t *q);
/* Unrefs everything still queued and frees the ring. */
void lc_wqueue_free(lc_wqueue_t *q);
/* Queue a reference to b (takes a new ref; the caller keeps its own).
 * limit 0 = unbounded. LC_ESLOW when bytes + b->len > limit or b is over 4 GiB (nothing
 * queued), LC_ENOMEM. */
int lc_wqueue_push(lc_wqueue_t *q, lc_rcbuf_t *b, size_t limit);
/* Fill up to max iovecs from the head (the first one starts at head_off); returns the count. */
size_t lc_wqueue_iov(const lc_wqueue_t *q, uv_buf_t *iov, size_t max);
/* n bytes from the head were written: advance, unref fully written buffers. */
void lc_wqueue_consume(lc_wqueue_t *q, size_t n);
static inline size_t lc_wqueue_bytes(const lc_wqueue_t *q)
{
    return q->bytes;
}
static inline int lc_wqueue_empty(const lc_wqueue_t *q)
{
    return q->count == 0;
}

#endif
