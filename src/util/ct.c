/* Constant-time comparison. */
#include "util/ct.h"

int lc_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    const volatile unsigned char *pa = a;
    const volatile unsigned char *pb = b;
    /* Walk the longer length and read each side modulo its own length, so the loop and the
     * memory access pattern depend only on the lengths. A length mismatch is folded into
     * the same accumulator instead of returning early. */
    size_t n = alen > blen ? alen : blen;
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < n; i++) {
        unsigned char x = alen ? pa[i % alen] : 0;
        unsigned char y = blen ? pb[i % blen] : 0;
        diff |= x ^ y;
    }
    return diff == 0;
}
