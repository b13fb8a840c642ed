/* The verified-token core shared by connection and subscription tokens, and HS256 signing
 * (spec §3.3).
 *
 * A token is checked in this order: size and alphabet, exactly three parts, our own parse of
 * the header to pin the algorithm to the configured key, libjwt's signature check, then our
 * own parse of the payload. The payload is read from the signed bytes themselves rather than
 * from libjwt's re-encoded grants, so what we trust is exactly what was signed and `info`
 * keeps the sender's key order. Claims and time checks are in jwt_claims.c. */
#include "auth/jwt.h"
#include "auth/jwt_internal.h"

#include <cjson/cJSON.h>
#include <jwt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/base64.h"

/* Far above any real token; bounds the work done on hostile input. */
#define LC_JWT_MAX_LEN ((size_t)64 * 1024)

typedef struct token_parts {
    const char *part[3];
    size_t len[3];
} token_parts_t;

static bool is_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* Split header.payload.signature. Only the unpadded base64url alphabet is allowed, which also
 * keeps NULs and whitespace out of the string handed to libjwt. */
static bool split_token(const char *tok, size_t len, token_parts_t *tp)
{
    size_t start = 0;
    int idx = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && tok[i] != '.') {
            if (!is_b64url_char((unsigned char)tok[i]))
                return false;
            continue;
        }
        if (idx >= 3 || i == start)
            return false; /* a fourth part, or an empty one */
        tp->part[idx] = tok + start;
        tp->len[idx] = i - start;
        idx++;
        start = i + 1;
    }
    return idx == 3;
}

/* Whether a JSON text holds the escape \u0000 in a string. cJSON keeps strings as C strings
 * and cuts them there: "room\u0000x" would become "room" (a sub, a channel) or an info that
 * no longer matches the signed bytes, so such a token is refused rather than altered. A
 * backslash only occurs inside strings in valid JSON; each escape is stepped over whole, so an
 * escaped backslash followed by "u0000" is not taken for one. */
static bool has_nul_escape(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u' && n - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
            return true;
        i++; /* the escaped character */
    }
    return false;
}

/* base64url-decode one part and parse it as a JSON object; NULL when either step fails. */
static cJSON *decode_json_part(const char *s, size_t n)
{
    size_t outlen = 0;
    unsigned char *raw = lc_base64url_decode(s, n, &outlen);
    cJSON *json = NULL;

    if (raw == NULL)
        return NULL;
    /* An embedded NUL would let cJSON stop early and ignore the rest of the signed bytes. */
    if (memchr(raw, '\0', outlen) == NULL && !has_nul_escape(raw, outlen))
        json = cJSON_ParseWithOpts((const char *)raw, NULL, 1);
    free(raw);
    if (json != NULL && !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        json = NULL;
    }
    return json;
}

/* The algorithm a token may use and the key that verifies it. */
typedef struct pinned {
    jwt_alg_t alg;
    const char *key;
} pinned_t;

static const struct {
    const char *name;
    jwt_alg_t alg;
    char family; /* 'H' HMAC secret, 'R' RSA key, 'E' EC key */
} known_algs[] = {
    {"HS256", JWT_ALG_HS256, 'H'}, {"HS384", JWT_ALG_HS384, 'H'}, {"HS512", JWT_ALG_HS512, 'H'},
    {"RS256", JWT_ALG_RS256, 'R'}, {"RS384", JWT_ALG_RS384, 'R'}, {"RS512", JWT_ALG_RS512, 'R'},
    {"ES256", JWT_ALG_ES256, 'E'}, {"ES384", JWT_ALG_ES384, 'E'}, {"ES512", JWT_ALG_ES512, 'E'},
};

static bool set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* Map the header's `alg` to the key of its family: an HMAC secret verifies HS* only, an RSA
 * key RS* only, an EC key ES* only, so a public key is never taken for an HMAC secret. With a
 * JWKS, RS* and ES* use the set's key named by `kid`, of the matching type. */
static lc_jwt_status pin_algorithm(const cJSON *header, const lc_jwt_keys_t *keys, pinned_t *p,
                                   const char **reason)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(header, "alg");
    const char *name;
    size_t i;

    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        *reason = "algorithm missing";
        return LC_JWT_INVALID;
    }
    name = item->valuestring;
    if (strcasecmp(name, "none") == 0) {
        *reason = "algorithm none";
        return LC_JWT_INVALID;
    }
    if (keys == NULL || (!set(keys->hmac_secret) && !set(keys->rsa_public_key) &&
                         !set(keys->ecdsa_public_key) && keys->jwk_find == NULL)) {
        *reason = "no token key configured";
        return LC_JWT_INVALID;
    }
    for (i = 0; i < sizeof(known_algs) / sizeof(known_algs[0]); i++)
        if (strcmp(name, known_algs[i].name) == 0)
            break;
    if (i == sizeof(known_algs) / sizeof(known_algs[0])) {
        *reason = "algorithm not allowed";
        return LC_JWT_INVALID;
    }
    p->alg = known_algs[i].alg;
    if (known_algs[i].family == 'H') {
        p->key = keys->hmac_secret;
    } else if (keys->jwk_find != NULL) {
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(header, "kid");
        lc_jwk_t k = {0};
        if (!cJSON_IsString(kid) || kid->valuestring == NULL || kid->valuestring[0] == '\0') {
            *reason = "kid missing (keys come from a JWKS)";
            return LC_JWT_INVALID;
        }
        if (!keys->jwk_find(keys->jwk_ud, kid->valuestring, &k)) {
            *reason = "kid not in the JWKS";
            return LC_JWT_UNKNOWN_KEY;
        }
        if (k.ec != (known_algs[i].family == 'E')) {
            *reason = "algorithm does not fit the key type";
            return LC_JWT_INVALID;
        }
        p->key = k.pem;
    } else {
        p->key = known_algs[i].family == 'R' ? keys->rsa_public_key : keys->ecdsa_public_key;
    }
    if (!set(p->key)) {
        *reason = "algorithm not allowed";
        return LC_JWT_INVALID;
    }
    return LC_JWT_OK;
}

static lc_jwt_status check_signature(const char *tok, size_t len, const char *key, jwt_alg_t alg,
                                     const char **reason)
{
    size_t keylen = strlen(key);
    char *copy;
    jwt_t *jwt = NULL;
    lc_jwt_status st = LC_JWT_INVALID;
    int rc;

    if (keylen > INT_MAX) {
        *reason = "token key too long";
        return LC_JWT_INVALID;
    }
    copy = malloc(len + 1); /* libjwt wants a NUL-terminated token */
    if (copy == NULL) {
        *reason = "out of memory";
        return LC_JWT_INVALID;
    }
    memcpy(copy, tok, len);
    copy[len] = '\0';

    rc = jwt_decode(&jwt, copy, (const unsigned char *)key, (int)keylen);
    if (rc != 0 || jwt == NULL) {
        *reason = "bad signature";
        goto done;
    }
    /* libjwt reads the algorithm from the header on its own; make sure it used ours. */
    if (jwt_get_alg(jwt) != alg) {
        *reason = "algorithm mismatch";
        goto done;
    }
    st = LC_JWT_OK;
done:
    if (jwt != NULL)
        jwt_free(jwt);
    free(copy);
    return st;
}

lc_jwt_status lc__jwt_open(const char *token, size_t len, const lc_jwt_keys_t *keys,
                           cJSON **payload, const char **why)
{
    token_parts_t tp;
    cJSON *header = NULL;
    pinned_t pin = {JWT_ALG_NONE, NULL};
    lc_jwt_status st = LC_JWT_INVALID;

    *payload = NULL;
    *why = "malformed token";
    if (token == NULL || len == 0 || len > LC_JWT_MAX_LEN || !split_token(token, len, &tp))
        return LC_JWT_INVALID;
    header = decode_json_part(tp.part[0], tp.len[0]);
    if (header == NULL) {
        *why = "malformed token header";
        return LC_JWT_INVALID;
    }
    st = pin_algorithm(header, keys, &pin, why);
    cJSON_Delete(header);
    if (st != LC_JWT_OK)
        return st;
    st = check_signature(token, len, pin.key, pin.alg, why);
    if (st != LC_JWT_OK)
        return st;

    *payload = decode_json_part(tp.part[1], tp.len[1]);
    if (*payload == NULL) {
        *why = "malformed token payload";
        return LC_JWT_INVALID;
    }
    *why = NULL;
    return LC_JWT_OK;
}

lc_jwt_status lc__jwt_check_time(int64_t exp, int64_t nbf, int64_t now, const char **why)
{
    if (exp > 0 && exp <= now) {
        *why = "expired";
        return LC_JWT_EXPIRED;
    }
    if (nbf > now) {
        *why = "not valid yet";
        return LC_JWT_EXPIRED;
    }
    return LC_JWT_OK;
}

char *lc_jwt_sign_hs256(const char *secret, const char *claims_json)
{
    jwt_t *jwt = NULL;
    char *tok = NULL;
    size_t keylen;

    if (secret == NULL || secret[0] == '\0' || claims_json == NULL)
        return NULL;
    keylen = strlen(secret);
    if (keylen > INT_MAX)
        return NULL;
    if (jwt_new(&jwt) != 0)
        return NULL;
    if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)keylen) != 0)
        goto done;
    if (jwt_add_grants_json(jwt, claims_json) != 0)
        goto done;
    /* libjwt allocates with plain malloc, so the caller's free() matches. */
    tok = jwt_encode_str(jwt);
done:
    jwt_free(jwt);
    return tok;
}

/* {"channel":channel,"sub":user,"iat":now,"exp":now+ttl}, channel only when non-NULL: the
 * key order of the PHP SDK's subscription tokens. */
static char *make_token(const char *secret, const char *user, const char *channel, int64_t now,
                        int64_t ttl)
{
    cJSON *claims = cJSON_CreateObject();
    char *json = NULL, *tok = NULL;

    if (claims == NULL)
        return NULL;
    if (channel != NULL && cJSON_AddStringToObject(claims, "channel", channel) == NULL)
        goto done;
    if (cJSON_AddStringToObject(claims, "sub", user != NULL ? user : "") == NULL ||
        cJSON_AddNumberToObject(claims, "iat", (double)now) == NULL)
        goto done;
    if (ttl > 0) {
        if (now > INT64_MAX - ttl)
            goto done;
        if (cJSON_AddNumberToObject(claims, "exp", (double)(now + ttl)) == NULL)
            goto done;
    }
    json = cJSON_PrintUnformatted(claims);
    if (json != NULL)
        tok = lc_jwt_sign_hs256(secret, json);
done:
    cJSON_free(json);
    cJSON_Delete(claims);
    return tok;
}

char *lc_jwt_make_connect_token(const char *secret, const char *user, int64_t now, int64_t ttl)
{
    return make_token(secret, user, NULL, now, ttl);
}

char *lc_jwt_make_subscribe_token(const char *secret, const char *user, const char *channel,
                                  int64_t now, int64_t ttl)
{
    /* A token without a channel could never be accepted. */
    if (channel == NULL || channel[0] == '\0')
        return NULL;
    return make_token(secret, user, channel, now, ttl);
}
