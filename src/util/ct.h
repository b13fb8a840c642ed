/* Constant-time comparison, for secrets such as API keys. */
#ifndef LC_UTIL_CT_H
#define LC_UTIL_CT_H

#include <stddef.h>

/* 1 if a[0..alen) equals b[0..blen), 0 otherwise. Time depends only on the lengths, never on
 * where the contents differ. */
int lc_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
