/* Shared poll track signatures (Centrifugo v6.8): the backend signs the keys a client may
 * track as "iat:exp:hmac_hex" with
 *   hmac_hex = hex(HMAC-SHA256(secret, "iat:exp:user:channel:" + hex(SHA-256(keys joined by
 *              NUL bytes, in the order sent))))
 * and the client presents the signature with every track request. */
#ifndef LC_AUTH_SPOLL_SIG_H
#define LC_AUTH_SPOLL_SIG_H

#include <stddef.h>
#include <stdint.h>

/* The keys that verify a signature: the current one, and during a rotation the previous one,
 * accepted for signatures issued (iat) up to prev_valid_until (0 = no limit). */
typedef struct lc_spoll_keys {
    const char *secret;      /* required */
    const char *prev_secret; /* NULL or "" = none */
    int64_t prev_valid_until;
} lc_spoll_keys_t;

/* Grace after exp during which a signature is still accepted (the SDK refreshes meanwhile). */
#define LC_SPOLL_SIG_GRACE_S 30

/* Verify sig for (user, channel, keys[0..n)) at time now (Unix s). 0 with *exp set (0 = never
 * expires); LC_EINVAL when malformed or not signed by either key; LC_EEXPIRED when exp +
 * LC_SPOLL_SIG_GRACE_S has passed. */
int lc_spoll_sig_verify(const lc_spoll_keys_t *k, const char *user, const char *channel,
                        const char *const *keys, size_t n, const char *sig, int64_t now,
                        int64_t *exp);

/* Make a signature (tests, tools): out gets "iat:exp:hex", NUL-terminated, at most outlen
 * bytes. 0, or LC_EINVAL when out is too small. */
int lc_spoll_sig_make(const char *secret, const char *user, const char *channel,
                      const char *const *keys, size_t n, int64_t iat, int64_t exp, char *out,
                      size_t outlen);

#endif
