/* Immutable reference-counted byte buffer. */
#include "util/rcbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

lc_rcbuf_t *lc_rcbuf_new(size_t len)
{
    if (len > SIZE_MAX - sizeof(lc_rcbuf_t) - 1)
        return NULL;
    /* one spare byte so a text frame can be NUL-terminated for debugging and logging */
    lc_rcbuf_t *b = malloc(sizeof(*b) + len + 1);
    if (b == NULL)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->data[len] = '\0';
    return b;
}

lc_rcbuf_t *lc_rcbuf_from(const void *p, size_t len)
{
    lc_rcbuf_t *b = lc_rcbuf_new(len);
    if (b != NULL && len > 0)
        memcpy(b->data, p, len);
    return b;
}

lc_rcbuf_t *lc_rcbuf_ref(lc_rcbuf_t *b)
{
    /* taking a reference needs no ordering: the caller already holds one */
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void lc_rcbuf_unref(lc_rcbuf_t *b)
{
    if (b == NULL)
        return;
    /* release on every drop, acquire on the last, so all uses happen before the free */
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}
