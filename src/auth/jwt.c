/* Connection token verification and HS256 signing (spec §3.1, §3.3).
 *
 * A token is checked in this order: size and alphabet, exactly three parts, our own parse of
 * the header to pin the algorithm to the configured key, libjwt's signature check, then our
 * own parse of the payload and the time checks. The payload is read from the signed bytes
 * themselves rather than from libjwt's re-encoded grants, so what we trust is exactly what was
 * signed and `info` keeps the sender's key order. */
#include "auth/jwt.h"

#include <cjson/cJSON.h>
#include <jwt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/base64.h"

/* Far above any real connection token; bounds the work done on hostile input. */
#define LC_JWT_MAX_LEN (64 * 1024)

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

/* base64url-decode one part and parse it as a JSON object; NULL when either step fails. */
static cJSON *decode_json_part(const char *s, size_t n)
{
    size_t outlen = 0;
    unsigned char *raw = lc_base64url_decode(s, n, &outlen);
    cJSON *json = NULL;

    if (raw == NULL)
        return NULL;
    /* An embedded NUL would let cJSON stop early and ignore the rest of the signed bytes. */
    if (memchr(raw, '\0', outlen) == NULL)
        json = cJSON_ParseWithOpts((const char *)raw, NULL, 1);
    free(raw);
    if (json != NULL && !cJSON_IsObject(json)) {
        cJSON_Delete(json);
        json = NULL;
    }
    return json;
}

/* Map the header's `alg` to the only algorithms an HMAC secret can verify. */
static lc_jwt_status pin_algorithm(const cJSON *header, const lc_jwt_keys_t *keys, jwt_alg_t *alg,
                                   const char **reason)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(header, "alg");
    const char *name;

    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        *reason = "algorithm missing";
        return LC_JWT_INVALID;
    }
    name = item->valuestring;
    if (strcasecmp(name, "none") == 0) {
        *reason = "algorithm none";
        return LC_JWT_INVALID;
    }
    if (keys == NULL || keys->hmac_secret == NULL || keys->hmac_secret[0] == '\0') {
        *reason = "no token key configured";
        return LC_JWT_INVALID;
    }
    if (strcmp(name, "HS256") == 0)
        *alg = JWT_ALG_HS256;
    else if (strcmp(name, "HS384") == 0)
        *alg = JWT_ALG_HS384;
    else if (strcmp(name, "HS512") == 0)
        *alg = JWT_ALG_HS512;
    else {
        *reason = "algorithm not allowed";
        return LC_JWT_INVALID;
    }
    return LC_JWT_OK;
}

static lc_jwt_status check_signature(const char *tok, size_t len, const char *secret, jwt_alg_t alg,
                                     const char **reason)
{
    size_t keylen = strlen(secret);
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

    rc = jwt_decode(&jwt, copy, (const unsigned char *)secret, (int)keylen);
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

/* Claims are looked up case-sensitively. JSON null counts as absent, as it does for the
 * reference server's typed claim decoding. */
static const cJSON *claim(const cJSON *payload, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(payload, name);
    return cJSON_IsNull(item) ? NULL : item;
}

/* An integer claim; integer-valued floats ("exp": 1.7e9) are accepted. */
static int claim_int(const cJSON *payload, const char *name, int64_t *v, bool *present)
{
    const cJSON *item = claim(payload, name);
    double d;

    if (present != NULL)
        *present = false;
    if (item == NULL)
        return 0;
    if (!cJSON_IsNumber(item))
        return -1;
    d = item->valuedouble;
    /* The range check comes first so the cast below is defined; NaN fails both compares. */
    if (!(d >= -9.0e18 && d <= 9.0e18) || (double)(int64_t)d != d)
        return -1;
    *v = (int64_t)d;
    if (present != NULL)
        *present = true;
    return 0;
}

/* Compact JSON text of a claim, in memory the caller frees with free(). */
static int claim_raw_json(const cJSON *item, char **out, size_t *outlen)
{
    char *printed = cJSON_PrintUnformatted(item);
    size_t n;

    if (printed == NULL)
        return -1;
    n = strlen(printed);
    /* Copied so the claims never depend on which allocator cJSON was set up with. */
    *out = malloc(n + 1);
    if (*out != NULL)
        memcpy(*out, printed, n + 1);
    cJSON_free(printed);
    if (*out == NULL)
        return -1;
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

static int claim_channels(const cJSON *item, lc_conn_claims_t *out)
{
    const cJSON *el;
    size_t i = 0;
    int n;

    if (!cJSON_IsArray(item))
        return -1;
    n = cJSON_GetArraySize(item);
    if (n == 0)
        return 0;
    out->channels = calloc((size_t)n, sizeof(*out->channels));
    if (out->channels == NULL)
        return -1;
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsString(el) || el->valuestring == NULL)
            return -1;
        out->channels[i] = strdup(el->valuestring);
        if (out->channels[i] == NULL)
            return -1;
        out->n_channels = ++i;
    }
    return 0;
}

/* Fill *out from the verified payload. On failure *out may hold partial results: the caller
 * frees them. */
static lc_jwt_status read_claims(const cJSON *payload, lc_conn_claims_t *out, const char **reason)
{
    const cJSON *item;

    *reason = "malformed claims";
    if (cJSON_GetObjectItemCaseSensitive(payload, "channel") != NULL) {
        *reason = "channel claim in connection token";
        return LC_JWT_INVALID;
    }

    item = claim(payload, "sub");
    if (item != NULL && (!cJSON_IsString(item) || item->valuestring == NULL)) {
        *reason = "sub is not a string";
        return LC_JWT_INVALID;
    }
    out->sub = strdup(item != NULL ? item->valuestring : "");
    if (out->sub == NULL)
        return LC_JWT_INVALID;

    if (claim_int(payload, "exp", &out->exp, NULL) != 0 ||
        claim_int(payload, "iat", &out->iat, NULL) != 0 ||
        claim_int(payload, "nbf", &out->nbf, NULL) != 0 ||
        claim_int(payload, "expire_at", &out->expire_at, &out->has_expire_at) != 0) {
        *reason = "time claim is not an integer";
        return LC_JWT_INVALID;
    }

    item = claim(payload, "info");
    if (item != NULL && claim_raw_json(item, &out->info, &out->info_len) != 0)
        return LC_JWT_INVALID;

    item = claim(payload, "b64info");
    if (item != NULL) {
        if (!cJSON_IsString(item) || item->valuestring == NULL) {
            *reason = "malformed b64info";
            return LC_JWT_INVALID;
        }
        if (item->valuestring[0] != '\0') {
            out->b64info =
                lc_base64_decode(item->valuestring, strlen(item->valuestring), &out->b64info_len);
            if (out->b64info == NULL) {
                *reason = "malformed b64info";
                return LC_JWT_INVALID;
            }
        }
    }

    item = claim(payload, "channels");
    if (item != NULL && claim_channels(item, out) != 0) {
        *reason = "malformed channels";
        return LC_JWT_INVALID;
    }

    item = claim(payload, "meta");
    if (item != NULL && claim_raw_json(item, &out->meta, NULL) != 0)
        return LC_JWT_INVALID;

    return LC_JWT_OK;
}

lc_jwt_status lc_jwt_verify_connect(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                    int64_t now, lc_conn_claims_t *out, const char **reason)
{
    lc_conn_claims_t scratch;
    token_parts_t tp;
    cJSON *header = NULL, *payload = NULL;
    jwt_alg_t alg = JWT_ALG_NONE;
    const char *why = "malformed token";
    lc_jwt_status st = LC_JWT_INVALID;

    if (out == NULL)
        out = &scratch; /* verification only: claims are read, then dropped */
    memset(out, 0, sizeof(*out));

    if (token == NULL || len == 0 || len > LC_JWT_MAX_LEN || !split_token(token, len, &tp))
        goto done;
    header = decode_json_part(tp.part[0], tp.len[0]);
    if (header == NULL) {
        why = "malformed token header";
        goto done;
    }
    st = pin_algorithm(header, keys, &alg, &why);
    if (st != LC_JWT_OK)
        goto done;
    st = check_signature(token, len, keys->hmac_secret, alg, &why);
    if (st != LC_JWT_OK)
        goto done;

    st = LC_JWT_INVALID;
    payload = decode_json_part(tp.part[1], tp.len[1]);
    if (payload == NULL) {
        why = "malformed token payload";
        goto done;
    }
    st = read_claims(payload, out, &why);
    if (st != LC_JWT_OK)
        goto done;

    if (out->exp > 0 && out->exp <= now) {
        why = "expired";
        st = LC_JWT_EXPIRED;
    } else if (out->nbf > now) {
        why = "not valid yet";
        st = LC_JWT_EXPIRED;
    } else {
        why = NULL;
    }

done:
    cJSON_Delete(header);
    cJSON_Delete(payload);
    if (st != LC_JWT_OK || out == &scratch)
        lc_conn_claims_free(out);
    if (reason != NULL)
        *reason = why;
    return st;
}

void lc_conn_claims_free(lc_conn_claims_t *c)
{
    if (c == NULL)
        return;
    free(c->sub);
    free(c->info);
    free(c->b64info);
    for (size_t i = 0; i < c->n_channels; i++)
        free(c->channels[i]);
    free(c->channels);
    free(c->meta);
    memset(c, 0, sizeof(*c));
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

char *lc_jwt_make_connect_token(const char *secret, const char *user, int64_t now, int64_t ttl)
{
    cJSON *claims = cJSON_CreateObject();
    char *json = NULL, *tok = NULL;

    if (claims == NULL)
        return NULL;
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
