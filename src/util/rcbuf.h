/* Immutable, reference-counted byte buffer shared between threads and write queues.
 * A publication is encoded and framed once into one of these, then referenced by every
 * subscriber's write queue. The count is atomic; the last unref frees it. */
#ifndef LC_UTIL_RCBUF_H
#define LC_UTIL_RCBUF_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct lc_rcbuf {
    atomic_uint refs;
    size_t len;
    char data[];
} lc_rcbuf_t;

/* New buffer with refs = 1 and `len` bytes of room (contents uninitialised). NULL on OOM. */
lc_rcbuf_t *lc_rcbuf_new(size_t len);
/* New buffer holding a copy of p[0..len). */
lc_rcbuf_t *lc_rcbuf_from(const void *p, size_t len);
lc_rcbuf_t *lc_rcbuf_ref(lc_rcbuf_t *b);
void lc_rcbuf_unref(lc_rcbuf_t *b); /* NULL is a no-op */

#endif
