/* Base64 (RFC 4648): the standard alphabet padded, the URL alphabet unpadded on output. */
#include "util/base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char std_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *encode(const void *p, size_t n, size_t *outlen, const char *alpha, int pad)
{
    const unsigned char *in = p;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        return NULL;
    size_t full = n / 3, rem = n % 3;
    size_t len = full * 4 + (rem == 0 ? 0 : (pad ? 4 : rem + 1));
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    char *o = out;
    for (size_t i = 0; i < full * 3; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        *o++ = alpha[(v >> 6) & 63];
        *o++ = alpha[v & 63];
    }
    if (rem > 0) {
        uint32_t v = (uint32_t)in[full * 3] << 16;
        if (rem == 2)
            v |= (uint32_t)in[full * 3 + 1] << 8;
        *o++ = alpha[v >> 18];
        *o++ = alpha[(v >> 12) & 63];
        if (rem == 2)
            *o++ = alpha[(v >> 6) & 63];
        else if (pad)
            *o++ = '=';
        if (pad)
            *o++ = '=';
    }
    *o = '\0';
    if (outlen != NULL)
        *outlen = len;
    return out;
}

char *lc_base64_encode(const void *p, size_t n, size_t *outlen)
{
    return encode(p, n, outlen, std_alphabet, 1);
}

char *lc_base64url_encode(const void *p, size_t n, size_t *outlen)
{
    return encode(p, n, outlen, url_alphabet, 0);
}

static int sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Standard input must be padded to a multiple of 4; URL input may be padded (then fully) or
 * not. Anything outside the alphabet, including whitespace, is malformed. */
static unsigned char *decode(const char *s, size_t n, size_t *outlen, int url)
{
    const unsigned char *in = (const unsigned char *)s;
    size_t len = n;
    if (n % 4 == 0) {
        if (len > 0 && in[len - 1] == '=')
            len--;
        if (len > 0 && in[len - 1] == '=')
            len--;
    } else if (!url) {
        return NULL;
    }
    if (len % 4 == 1)
        return NULL;
    size_t olen = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    unsigned char *out = malloc(olen + 1);
    if (out == NULL)
        return NULL;
    unsigned char *o = out;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = sextet(in[i], url);
        if (v < 0)
            goto fail;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    out[olen] = '\0';
    if (outlen != NULL)
        *outlen = olen;
    return out;
fail:
    free(out);
    return NULL;
}

unsigned char *lc_base64_decode(const char *s, size_t n, size_t *outlen)
{
    return decode(s, n, outlen, 0);
}

unsigned char *lc_base64url_decode(const char *s, size_t n, size_t *outlen)
{
    return decode(s, n, outlen, 1);
}
