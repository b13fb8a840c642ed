/* Base64, standard (RFC 4648 §4, padded) and URL-safe (§5, unpadded on output,
 * padding optional on input). Outputs are NUL-terminated malloc'd strings / buffers. */
#ifndef LC_UTIL_BASE64_H
#define LC_UTIL_BASE64_H

#include <stddef.h>

char *lc_base64_encode(const void *p, size_t n, size_t *outlen);
char *lc_base64url_encode(const void *p, size_t n, size_t *outlen);
/* Decode; NULL on malformed input. Result has an extra NUL after outlen bytes. */
unsigned char *lc_base64_decode(const char *s, size_t n, size_t *outlen);
unsigned char *lc_base64url_decode(const char *s, size_t n, size_t *outlen);

#endif
