/* Random bytes and identifiers from the kernel CSPRNG. */
#include "util/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>

#include "util/err.h"

int lc_random_bytes(void *p, size_t n)
{
    unsigned char *out = p;
    while (n > 0) {
        /* getrandom returns at most 32 MiB per call and may be interrupted: loop */
        ssize_t r = getrandom(out, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return LC_EIO;
        }
        out += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Identifiers must never repeat: a failing kernel CSPRNG leaves nothing safe to do. */
static void must_random(void *p, size_t n)
{
    if (lc_random_bytes(p, n) < 0) {
        fputs("fatal: getrandom failed\n", stderr);
        abort();
    }
}

static const char hexdigits[] = "0123456789abcdef";

void lc_uuid4(char out[37])
{
    unsigned char b[16];
    must_random(b, sizeof(b));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hexdigits[b[i] >> 4];
        out[o++] = hexdigits[b[i] & 0xf];
    }
    out[o] = '\0';
}

void lc_random_hex(char *out, size_t n)
{
    unsigned char chunk[64];
    size_t o = 0;
    while (n > 0) {
        size_t k = n < sizeof(chunk) ? n : sizeof(chunk);
        must_random(chunk, k);
        for (size_t i = 0; i < k; i++) {
            out[o++] = hexdigits[chunk[i] >> 4];
            out[o++] = hexdigits[chunk[i] & 0xf];
        }
        n -= k;
    }
    out[o] = '\0';
}
