/* Pusher channel authorization signatures (auth/pusher_auth.h) on OpenSSL's HMAC. */
#include "auth/pusher_auth.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/ct.h"

int lc_pusher_hmac_hex(const char *secret, const char *msg, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, len, md,
              &mdlen) ||
        mdlen != 32)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

lc_pusher_auth_status lc_pusher_auth_check(const char *key, const char *secret, const char *auth,
                                           const char *socket_id, const char *channel,
                                           const char *channel_data)
{
    const char *colon = auth ? strchr(auth, ':') : NULL;
    if (!colon)
        return LC_PUSHER_AUTH_MISSING;
    size_t klen = (size_t)(colon - auth);
    if (!lc_ct_equal(auth, klen, key, strlen(key)))
        return LC_PUSHER_AUTH_BAD_KEY;
    lc_buf_t s = LC_BUF_INIT;
    int rc = lc_buf_printf(&s, "%s:%s", socket_id, channel);
    if (rc == 0 && channel_data) {
        rc = lc_buf_putc(&s, ':');
        if (rc == 0)
            rc = lc_buf_append(&s, channel_data, strlen(channel_data));
    }
    char want[65];
    if (rc == 0)
        rc = lc_pusher_hmac_hex(secret, s.data, s.len, want);
    lc_buf_free(&s);
    if (rc != 0)
        return LC_PUSHER_AUTH_BAD_SIG;
    const char *sig = colon + 1;
    return lc_ct_equal(sig, strlen(sig), want, 64) ? LC_PUSHER_AUTH_OK : LC_PUSHER_AUTH_BAD_SIG;
}
