/* Connection token verification (spec §3.1, §3.3) on libjwt, and HS256 signing for the CLI.
 *
 * Algorithms are pinned to the configured keys: with an HMAC secret only HS256/HS384/HS512
 * are accepted; "none", RS*, ES* and anything unknown are rejected before the signature is
 * looked at. The header is parsed by us first so libjwt never chooses the algorithm. */
#ifndef LC_AUTH_JWT_H
#define LC_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lc_jwt_keys {
    const char *hmac_secret; /* NULL or "" = no HMAC key configured */
} lc_jwt_keys_t;

typedef enum lc_jwt_status {
    LC_JWT_OK = 0,
    LC_JWT_EXPIRED = 1, /* exp (or nbf) check failed: error 109 at connect */
    LC_JWT_INVALID = 2, /* malformed, bad signature, wrong/none algorithm, `channel` claim: 3500 */
} lc_jwt_status;

/* Claims of a connection token. Strings are NUL-terminated and owned by the struct. */
typedef struct lc_conn_claims {
    char *sub;   /* never NULL after OK ("" = anonymous) */
    int64_t exp; /* 0 = no expiry */
    int64_t iat;
    int64_t nbf;
    int64_t expire_at; /* 0 = not set */
    bool has_expire_at;
    char *info; /* raw JSON text of `info` (newlines stripped), NULL when absent */
    size_t info_len;
    unsigned char *b64info; /* decoded `b64info` bytes (wins over info), NULL when absent */
    size_t b64info_len;
    char **channels; /* `channels` claim, NULL when absent */
    size_t n_channels;
    char *meta; /* raw JSON text of `meta`, NULL when absent */
} lc_conn_claims_t;

/* Verify `token` with the keys at time now (Unix seconds). On LC_JWT_OK fills *out (free with
 * lc_conn_claims_free); on failure *out is zeroed and, when reason is non-NULL, a static
 * one-line reason for the log is stored there ("bad signature", "algorithm none", ...). */
lc_jwt_status lc_jwt_verify_connect(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                    int64_t now, lc_conn_claims_t *out, const char **reason);
void lc_conn_claims_free(lc_conn_claims_t *c);

/* Sign a connection token with HS256: claims {"sub":user,"iat":now,"exp":now+ttl} (no exp when
 * ttl <= 0). Returns a malloc'd token or NULL. */
char *lc_jwt_sign_hs256(const char *secret, const char *claims_json);
char *lc_jwt_make_connect_token(const char *secret, const char *user, int64_t now, int64_t ttl);

#endif
