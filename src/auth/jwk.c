/* Public keys for token verification: checking a configured PEM key at start-up, and turning a
 * JWKS document (RFC 7517/7518: RSA keys as n/e, EC keys as crv/x/y) into PEM keys, the form
 * libjwt verifies with. The conversion is OpenSSL's (EVP_PKEY_fromdata, PEM_write_bio_PUBKEY);
 * nothing cryptographic is done here. */
#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "util/base64.h"
#include "util/err.h"

#define JWKS_MAX_KEYS 64

int lc_jwt_check_public_key(const char *pem, bool ec, char *err, size_t errlen)
{
    BIO *bio;
    EVP_PKEY *key;
    int rc = 0;

    if (pem == NULL || pem[0] == '\0') {
        snprintf(err, errlen, "empty key");
        return LC_EINVAL;
    }
    if ((bio = BIO_new_mem_buf(pem, -1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return LC_EINVAL;
    }
    key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (key == NULL) {
        snprintf(err, errlen, "not a PEM public key (\"-----BEGIN PUBLIC KEY-----\" ...)");
        return LC_EINVAL;
    }
    if (EVP_PKEY_get_base_id(key) != (ec ? EVP_PKEY_EC : EVP_PKEY_RSA)) {
        snprintf(err, errlen, "not an %s public key", ec ? "ECDSA" : "RSA");
        rc = LC_EINVAL;
    }
    EVP_PKEY_free(key);
    return rc;
}

/* A base64url member decoded (NULL when absent or malformed). */
static unsigned char *member_b64(const cJSON *k, const char *name, size_t *len)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(k, name);

    if (!cJSON_IsString(it) || it->valuestring == NULL || it->valuestring[0] == '\0')
        return NULL;
    return lc_base64url_decode(it->valuestring, strlen(it->valuestring), len);
}

static char *pem_of(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out = NULL;
    long n;

    if (bio == NULL)
        return NULL;
    if (PEM_write_bio_PUBKEY(bio, key) == 1 && (n = BIO_get_mem_data(bio, &data)) > 0 &&
        (out = malloc((size_t)n + 1)) != NULL) {
        memcpy(out, data, (size_t)n);
        out[n] = '\0';
    }
    BIO_free(bio);
    return out;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *key = NULL;

    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return key;
}

static char *rsa_pem(const cJSON *k)
{
    size_t nlen = 0, elen = 0;
    unsigned char *n = member_b64(k, "n", &nlen), *e = member_b64(k, "e", &elen);
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *key = NULL;
    char *pem = NULL;

    if (n == NULL || e == NULL || nlen > 1024 || elen > 16)
        goto done;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (bn == NULL || be == NULL || bld == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1)
        goto done;
    if ((key = from_params("RSA", bld)) != NULL)
        pem = pem_of(key);
done:
    EVP_PKEY_free(key);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pem;
}

static char *ec_pem(const cJSON *k)
{
    static const struct {
        const char *crv;
        const char *group;
        size_t size;
    } curves[] = {
        {"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}};
    const cJSON *crv = cJSON_GetObjectItemCaseSensitive(k, "crv");
    size_t xlen = 0, ylen = 0, c;
    unsigned char *x = member_b64(k, "x", &xlen), *y = member_b64(k, "y", &ylen);
    unsigned char point[1 + 2 * 66];
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *key = NULL;
    char *pem = NULL;

    if (x == NULL || y == NULL || !cJSON_IsString(crv))
        goto done;
    for (c = 0; c < sizeof(curves) / sizeof(curves[0]); c++)
        if (strcmp(crv->valuestring, curves[c].crv) == 0)
            break;
    if (c == sizeof(curves) / sizeof(curves[0]) || xlen != curves[c].size || ylen != curves[c].size)
        goto done;
    /* the uncompressed point: 0x04 || x || y */
    point[0] = 0x04;
    memcpy(point + 1, x, xlen);
    memcpy(point + 1 + xlen, y, ylen);
    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[c].group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + xlen + ylen) != 1)
        goto done;
    if ((key = from_params("EC", bld)) != NULL)
        pem = pem_of(key);
done:
    EVP_PKEY_free(key);
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pem;
}

void lc_jwks_keys_free(char **kids, char **pems, bool *ec, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kids[i]);
        free(pems[i]);
    }
    free(kids);
    free(pems);
    free(ec);
}

int lc_jwks_parse(const char *json, size_t len, char ***kids, char ***pems, bool **ec, size_t *n)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    const cJSON *keys = cJSON_GetObjectItemCaseSensitive(root, "keys"), *k;
    size_t cap = 0;
    int rc = LC_EPARSE;

    *kids = NULL;
    *pems = NULL;
    *ec = NULL;
    *n = 0;
    if (!cJSON_IsArray(keys))
        goto done;
    cap = (size_t)cJSON_GetArraySize(keys);
    if (cap > JWKS_MAX_KEYS)
        cap = JWKS_MAX_KEYS;
    rc = LC_ENOMEM;
    if (cap > 0 && ((*kids = calloc(cap, sizeof(char *))) == NULL ||
                    (*pems = calloc(cap, sizeof(char *))) == NULL ||
                    (*ec = calloc(cap, sizeof(bool))) == NULL))
        goto done;
    cJSON_ArrayForEach(k, keys)
    {
        const cJSON *kty = cJSON_GetObjectItemCaseSensitive(k, "kty");
        const cJSON *kid = cJSON_GetObjectItemCaseSensitive(k, "kid");
        const cJSON *use = cJSON_GetObjectItemCaseSensitive(k, "use");
        bool is_ec;
        char *pem;

        if (*n == cap || *kids == NULL)
            break;
        if (!cJSON_IsString(kty) || !cJSON_IsString(kid) || kid->valuestring[0] == '\0')
            continue;
        if (use != NULL && (!cJSON_IsString(use) || strcmp(use->valuestring, "sig") != 0))
            continue;
        is_ec = strcmp(kty->valuestring, "EC") == 0;
        if (!is_ec && strcmp(kty->valuestring, "RSA") != 0)
            continue;
        if ((pem = is_ec ? ec_pem(k) : rsa_pem(k)) == NULL)
            continue; /* a malformed key is skipped: the others stay usable */
        if (((*kids)[*n] = strdup(kid->valuestring)) == NULL) {
            free(pem);
            goto done;
        }
        (*pems)[*n] = pem;
        (*ec)[*n] = is_ec;
        (*n)++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc != 0) {
        lc_jwks_keys_free(*kids, *pems, *ec, *n);
        *kids = NULL;
        *pems = NULL;
        *ec = NULL;
        *n = 0;
    }
    return rc;
}
