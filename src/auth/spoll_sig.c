/* Shared poll track signatures: HMAC-SHA256 over the keys' SHA-256 (OpenSSL's one-shot EVP
 * calls), compared in constant time. */
#include <inttypes.h>
#include <stdbool.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spoll_sig.h"
#include "util/ct.h"
#include "util/err.h"

static void hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* hex(HMAC-SHA256(secret, "iat:exp:user:channel:keys_hash")) into out[65]. */
static int mac_hex(const char *secret, const char *user, const char *channel,
                   const char *const *keys, size_t n, int64_t iat, int64_t exp, char out[65])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char kh[EVP_MAX_MD_SIZE];
    unsigned int khlen = 0;
    int ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < n; i++) {
        if (i > 0)
            ok = EVP_DigestUpdate(md, "", 1); /* the NUL separator */
        if (ok)
            ok = EVP_DigestUpdate(md, keys[i], strlen(keys[i]));
    }
    ok = ok && EVP_DigestFinal_ex(md, kh, &khlen);
    EVP_MD_CTX_free(md);
    if (!ok)
        return LC_ENOMEM;
    char khex[65];
    hex(kh, 32, khex);
    size_t plen = strlen(user) + strlen(channel) + 64 + 64;
    char *payload = malloc(plen);
    if (!payload)
        return LC_ENOMEM;
    int len =
        snprintf(payload, plen, "%" PRId64 ":%" PRId64 ":%s:%s:%s", iat, exp, user, channel, khex);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    ok = len > 0 &&
         EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
                   (const unsigned char *)payload, (size_t)len, mac, sizeof(mac), &maclen) != NULL;
    free(payload);
    if (!ok || maclen != 32)
        return LC_ENOMEM;
    hex(mac, 32, out);
    return 0;
}

static int parse_i64(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return LC_EINVAL;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return LC_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int lc_spoll_sig_verify(const lc_spoll_keys_t *k, const char *user, const char *channel,
                        const char *const *keys, size_t n, const char *sig, int64_t now,
                        int64_t *exp)
{
    const char *c1 = sig ? strchr(sig, ':') : NULL;
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    int64_t iat, ex;
    if (!c2 || parse_i64(sig, (size_t)(c1 - sig), &iat) ||
        parse_i64(c1 + 1, (size_t)(c2 - c1 - 1), &ex) || strlen(c2 + 1) != 64)
        return LC_EINVAL;
    const char *given = c2 + 1;
    char want[65];
    bool match = false;
    if (k->secret && k->secret[0] && mac_hex(k->secret, user, channel, keys, n, iat, ex, want) == 0)
        match = lc_ct_equal(want, 64, given, 64);
    if (!match && k->prev_secret && k->prev_secret[0] &&
        (k->prev_valid_until == 0 || iat <= k->prev_valid_until) &&
        mac_hex(k->prev_secret, user, channel, keys, n, iat, ex, want) == 0)
        match = lc_ct_equal(want, 64, given, 64);
    if (!match)
        return LC_EINVAL;
    if (ex > 0 && now > ex + LC_SPOLL_SIG_GRACE_S)
        return LC_EEXPIRED;
    *exp = ex;
    return 0;
}

int lc_spoll_sig_make(const char *secret, const char *user, const char *channel,
                      const char *const *keys, size_t n, int64_t iat, int64_t exp, char *out,
                      size_t outlen)
{
    char mac[65];
    int rc = mac_hex(secret, user, channel, keys, n, iat, exp, mac);
    if (rc)
        return rc;
    int len = snprintf(out, outlen, "%" PRId64 ":%" PRId64 ":%s", iat, exp, mac);
    return len > 0 && (size_t)len < outlen ? 0 : LC_EINVAL;
}
