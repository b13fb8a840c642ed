/* Random identifiers from the kernel CSPRNG (getrandom). */
#ifndef LC_UTIL_RAND_H
#define LC_UTIL_RAND_H

#include <stddef.h>

/* Fill p with n random bytes; 0 or LC_EIO. */
int lc_random_bytes(void *p, size_t n);
/* Random UUID v4 as 36 lowercase characters plus NUL. */
void lc_uuid4(char out[37]);
/* n random bytes as 2n lowercase hex characters plus NUL (out must hold 2n+1). */
void lc_random_hex(char *out, size_t n);

#endif
