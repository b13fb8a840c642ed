/* Connection and subscription token verification (spec §3.1–§3.3) on libjwt, and HS256 signing
 * for tests and the CLI.
 *
 * Algorithms are pinned to the configured keys: HS256/384/512 only with an HMAC secret,
 * RS256/384/512 only with an RSA public key (or an RSA key of the JWKS), ES256/384/512 only
 * with an ECDSA public key (or an EC key of the JWKS); "none" and anything else are rejected
 * before the signature is looked at, so a public key is never used as an HMAC secret. The header is
 * parsed by us first so libjwt never chooses the algorithm. Both token kinds go through the same
 * header, algorithm and signature checks; only the claims differ.
 *
 * What the caller answers for each status (as the reference server does):
 *
 *   connect     LC_JWT_EXPIRED → error 109; LC_JWT_INVALID → disconnect 3500.
 *   refresh     LC_JWT_EXPIRED → disconnect 3005; LC_JWT_INVALID → disconnect 3500;
 *               claims.sub != connection user → disconnect 3500.
 *   subscribe   LC_JWT_EXPIRED → error 109; LC_JWT_INVALID → error 103 (a reply, the
 *               connection stays). After LC_JWT_OK, in this order, each mismatch is
 *               disconnect 3500: claims.channel != requested channel; claims.sub !=
 *               connection user; claims.client non-empty and != client id.
 *   sub_refresh LC_JWT_INVALID → disconnect 3500, and the same three mismatches → 3500;
 *               LC_JWT_EXPIRED → the subscription is not prolonged (it then ends at its
 *               current expiry, §3.5).
 *
 * Channel names inside tokens (`channel`, keys of `subs`) are not validated here: namespace
 * lookup (102) and name rules stay with the caller. */
#ifndef LC_AUTH_JWT_H
#define LC_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key of a JWKS (JSON Web Key Set) as PEM, for the verifier to use. */
typedef struct lc_jwk {
    const char *pem;
    bool ec; /* an EC key (ES256/384/512); else RSA (RS256/384/512) */
} lc_jwk_t;

/* The keys and claim checks of one token kind. Strings NULL or "" = not configured. */
typedef struct lc_jwt_keys {
    const char *hmac_secret;      /* HS256/384/512 */
    const char *rsa_public_key;   /* PEM: RS256/384/512 */
    const char *ecdsa_public_key; /* PEM: ES256/384/512 */
    /* A JWKS: when set, RS* and ES* tokens are verified with the set's key named by the
     * header's `kid` (the static PEM keys are then not used). find returns false when the set
     * (as cached now) has no such key: the token is LC_JWT_UNKNOWN_KEY. */
    bool (*jwk_find)(void *ud, const char *kid, lc_jwk_t *out);
    void *jwk_ud;
    /* `aud` (a string or an array of strings) must hold audience / one entry must match
     * audience_re; `iss` must equal issuer / match issuer_re (regex.h, compiled). */
    const char *audience;
    const void *audience_re; /* regex_t * */
    const char *issuer;
    const void *issuer_re; /* regex_t * */
} lc_jwt_keys_t;

typedef enum lc_jwt_status {
    LC_JWT_OK = 0,
    LC_JWT_EXPIRED = 1, /* exp (or nbf) check failed */
    LC_JWT_INVALID = 2, /* malformed, bad signature, wrong/none algorithm, bad claims */
    /* Signed with a `kid` the JWKS does not hold (yet): invalid unless a fresh copy of the
     * set has it, so the caller may refresh the set and verify again. */
    LC_JWT_UNKNOWN_KEY = 3,
} lc_jwt_status;

/* One optional boolean of an `override` object: {"value":bool}. `set` says the key was
 * present (and not null); `value` is then the flag, false when "value" itself is absent. */
typedef struct lc_jwt_opt_bool {
    bool set;
    bool value;
} lc_jwt_opt_bool_t;

/* `override` of a subscription (tokens, proxy results, server API subscribe): each field,
 * when set, replaces the channel option of the same name for this one subscription. */
typedef struct lc_sub_override {
    lc_jwt_opt_bool_t presence;
    lc_jwt_opt_bool_t join_leave;
    lc_jwt_opt_bool_t force_recovery;
    lc_jwt_opt_bool_t force_positioning;
    lc_jwt_opt_bool_t force_push_join_leave;
} lc_sub_override_t;

/* Options of one subscription carried by a token: the body of a subscription token and each
 * entry of a connection token's `subs`. Raw JSON values are compact JSON text; decoded base64
 * values are bytes (NUL-terminated after len for convenience). All NULL when absent; a
 * non-NULL b64 value wins over its JSON twin (b64info over info, b64data over data). */
typedef struct lc_sub_options {
    char *info; /* channel info: presence, join/leave, publications of this client */
    size_t info_len;
    unsigned char *b64info;
    size_t b64info_len;
    char *data; /* sent to the client in SubscribeResult.data / the subscribe push */
    size_t data_len;
    unsigned char *b64data;
    size_t b64data_len;
    lc_sub_override_t override;
} lc_sub_options_t;

/* One entry of a connection token's `subs` map. */
typedef struct lc_conn_sub {
    char *channel;
    lc_sub_options_t opts;
} lc_conn_sub_t;

/* Claims of a connection token. Strings are NUL-terminated and owned by the struct. */
typedef struct lc_conn_claims {
    char *sub;   /* never NULL after OK ("" = anonymous) */
    int64_t exp; /* 0 = no expiry */
    int64_t iat;
    int64_t nbf;
    int64_t expire_at; /* meaningful when has_expire_at: >0 expire then, 0 never expire */
    bool has_expire_at;
    char *info; /* raw JSON text of `info`, NULL when absent */
    size_t info_len;
    unsigned char *b64info; /* decoded `b64info` bytes (wins over info), NULL when absent */
    size_t b64info_len;
    char **channels; /* `channels` claim, NULL when absent */
    size_t n_channels;
    /* `subs` map in token order; a channel named twice keeps its last entry. When n_subs > 0
     * the caller ignores `channels` (an empty `subs` object leaves `channels` in force). */
    lc_conn_sub_t *subs;
    size_t n_subs;
    char *meta; /* raw JSON text of `meta`, NULL when absent */
} lc_conn_claims_t;

/* Claims of a subscription token. */
typedef struct lc_sub_claims {
    char *sub;     /* never NULL after OK ("" = anonymous user) */
    char *channel; /* never NULL and never "" after OK */
    char *client;  /* never NULL after OK; "" = not bound to a client id */
    int64_t exp;   /* 0 = no expiry */
    int64_t iat;
    int64_t nbf;
    int64_t expire_at; /* as in lc_conn_claims_t; 0 with has_expire_at = never expires */
    bool has_expire_at;
    lc_sub_options_t opts;
} lc_sub_claims_t;

/* Verify a connection token with the keys at time now (Unix seconds). On LC_JWT_OK fills
 * *out (free with lc_conn_claims_free); on failure *out is zeroed and, when reason is
 * non-NULL, a static one-line reason for the log is stored there ("bad signature",
 * "algorithm none", ...; NULL on success). out may be NULL to verify only. */
lc_jwt_status lc_jwt_verify_connect(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                    int64_t now, lc_conn_claims_t *out, const char **reason);
void lc_conn_claims_free(lc_conn_claims_t *c);

/* Verify a subscription token; same contract as lc_jwt_verify_connect. A missing or empty
 * `channel` claim is LC_JWT_INVALID; an expired token is LC_JWT_EXPIRED even when it also
 * lacks `channel` (claims of the wrong type are LC_JWT_INVALID before expiry is looked at). */
lc_jwt_status lc_jwt_verify_subscribe(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                      int64_t now, lc_sub_claims_t *out, const char **reason);
void lc_sub_claims_free(lc_sub_claims_t *c);

/* Parse an `override` object given as JSON text (from a proxy result or a server API call).
 * Returns 0 and fills *out, or LC_EPARSE (out zeroed) when the text is not an object or a
 * known key is not {"value":bool}; unknown keys are ignored. */
int lc_jwt_parse_override(const char *json, size_t len, lc_sub_override_t *out);

/* Parse a `subs` map given as JSON text (a connect proxy result's, spec §5.2), read exactly as a
 * connection token's: channel → options object or null, a channel named twice keeps its last
 * entry. Returns 0 with *subs and *n filled (NULL/0 for an empty object; free with
 * lc_conn_subs_free), LC_EPARSE when the text is not an object of that shape, or LC_ENOMEM.
 * On failure *subs is NULL and *n is 0. */
int lc_jwt_parse_subs(const char *json, size_t len, lc_conn_sub_t **subs, size_t *n);
/* Free the n entries of subs and the array itself (NULL with n == 0 is fine). */
void lc_conn_subs_free(lc_conn_sub_t *subs, size_t n);

/* Check that pem is a public key of the kind (ec: an EC key; else RSA) OpenSSL can read, for
 * start-up. 0, or LC_EINVAL with the reason in err. */
int lc_jwt_check_public_key(const char *pem, bool ec, char *err, size_t errlen);

/* Parse a JWKS document ({"keys":[{kty, kid, n, e | crv, x, y, use, alg}...]}) into PEM public
 * keys: *kids, *pems, *ec get n entries (malloc'd; free with lc_jwks_keys_free). Keys of other
 * types, or for use other than "sig", are skipped. 0, LC_EPARSE or LC_ENOMEM. */
int lc_jwks_parse(const char *json, size_t len, char ***kids, char ***pems, bool **ec, size_t *n);
void lc_jwks_keys_free(char **kids, char **pems, bool *ec, size_t n);

/* Sign claims_json with HS256. Returns a malloc'd token or NULL. */
char *lc_jwt_sign_hs256(const char *secret, const char *claims_json);
/* Connection token {"sub":user,"iat":now,"exp":now+ttl} (no exp when ttl <= 0). Returns a
 * malloc'd token or NULL. */
char *lc_jwt_make_connect_token(const char *secret, const char *user, int64_t now, int64_t ttl);
/* Subscription token {"channel":channel,"sub":user,"iat":now,"exp":now+ttl} (no exp when
 * ttl <= 0). channel must be non-empty. Returns a malloc'd token or NULL. */
char *lc_jwt_make_subscribe_token(const char *secret, const char *user, const char *channel,
                                  int64_t now, int64_t ttl);

#endif
