/* JWKS documents into PEM keys (auth/jwk.c) and tokens verified with them: keys made by
 * OpenSSL in the test, their public parts written as JWK members, tokens signed by libjwt
 * with the private keys; a JWKS that is not one, and keys that are malformed, skipped or of
 * another use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "util/base64.h"
#include "util/err.h"

#define NOW ((int64_t)1700000000)

static char *b64url_bn(EVP_PKEY *k, const char *param)
{
    BIGNUM *bn = NULL;
    unsigned char buf[1024];
    int n;
    char *out;

    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    n = BN_bn2bin(bn, buf);
    BN_free(bn);
    out = lc_base64url_encode(buf, (size_t)n, NULL);
    assert_non_null(out);
    return out;
}

static char *private_pem(EVP_PKEY *k)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long n;

    assert_int_equal(PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(bio, &data);
    out = strndup(data, (size_t)n);
    BIO_free(bio);
    return out;
}

static char *sign(const char *priv_pem, jwt_alg_t alg, const char *kid, const char *claims)
{
    jwt_t *jwt = NULL;
    char *tok;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)priv_pem, (int)strlen(priv_pem)),
                     0);
    assert_int_equal(jwt_add_header(jwt, "kid", kid), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims), 0);
    tok = jwt_encode_str(jwt);
    jwt_free(jwt);
    assert_non_null(tok);
    return tok;
}

typedef struct set {
    char **kids, **pems;
    bool *ec;
    size_t n;
} set_t;

static bool find(void *ud, const char *kid, lc_jwk_t *out)
{
    set_t *s = ud;

    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->kids[i], kid) == 0) {
            out->pem = s->pems[i];
            out->ec = s->ec[i];
            return true;
        }
    }
    return false;
}

static void test_jwks_rsa_and_ec_keys_verify_tokens(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    char *n = b64url_bn(rsa, OSSL_PKEY_PARAM_RSA_N), *e = b64url_bn(rsa, OSSL_PKEY_PARAM_RSA_E);
    char *x = b64url_bn(ec, OSSL_PKEY_PARAM_EC_PUB_X), *y = b64url_bn(ec, OSSL_PKEY_PARAM_EC_PUB_Y);
    char doc[4096], *rsa_priv = private_pem(rsa), *ec_priv = private_pem(ec), *tok;
    set_t s;
    lc_jwt_keys_t keys = {.jwk_find = find, .jwk_ud = &s};
    lc_conn_claims_t c;
    const char *why = NULL;

    (void)state;
    snprintf(doc, sizeof(doc),
             "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"use\":\"sig\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
             "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"},"
             "{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"},"
             "{\"kty\":\"RSA\",\"kid\":\"broken\",\"n\":\"!!\",\"e\":\"AQAB\"},"
             "{\"kty\":\"EC\",\"kid\":\"short\",\"crv\":\"P-256\",\"x\":\"AQ\",\"y\":\"AQ\"}]}",
             n, e, x, y, n, e);
    assert_int_equal(lc_jwks_parse(doc, strlen(doc), &s.kids, &s.pems, &s.ec, &s.n), 0);
    assert_int_equal(s.n, 2); /* enc, oct, broken and short are skipped */
    assert_string_equal(s.kids[0], "r");
    assert_false(s.ec[0]);
    assert_string_equal(s.kids[1], "e");
    assert_true(s.ec[1]);

    tok = sign(rsa_priv, JWT_ALG_RS256, "r", "{\"sub\":\"1\"}");
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &keys, NOW, &c, &why), LC_JWT_OK);
    assert_string_equal(c.sub, "1");
    lc_conn_claims_free(&c);
    free(tok);
    tok = sign(ec_priv, JWT_ALG_ES256, "e", "{\"sub\":\"2\"}");
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &keys, NOW, &c, &why), LC_JWT_OK);
    assert_string_equal(c.sub, "2");
    lc_conn_claims_free(&c);
    free(tok);
    /* a kid the set lacks, and a kid of the other key type */
    tok = sign(rsa_priv, JWT_ALG_RS256, "later", "{\"sub\":\"1\"}");
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &keys, NOW, NULL, &why),
                     LC_JWT_UNKNOWN_KEY);
    free(tok);
    tok = sign(rsa_priv, JWT_ALG_RS256, "e", "{\"sub\":\"1\"}");
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &keys, NOW, NULL, &why),
                     LC_JWT_INVALID);
    assert_string_equal(why, "algorithm does not fit the key type");
    free(tok);

    lc_jwks_keys_free(s.kids, s.pems, s.ec, s.n);
    free(n);
    free(e);
    free(x);
    free(y);
    free(rsa_priv);
    free(ec_priv);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);
}

static void test_jwks_not_a_set_is_eparse(void **state)
{
    static const char *const bad[] = {"", "[]", "{}", "{\"keys\":{}}", "{\"keys\":1}", "nope"};
    set_t s;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lc_jwks_parse(bad[i], strlen(bad[i]), &s.kids, &s.pems, &s.ec, &s.n),
                         LC_EPARSE);
        assert_null(s.kids);
        assert_int_equal(s.n, 0);
    }
    assert_int_equal(lc_jwks_parse("{\"keys\":[]}", 11, &s.kids, &s.pems, &s.ec, &s.n), 0);
    assert_int_equal(s.n, 0);
    lc_jwks_keys_free(s.kids, s.pems, s.ec, s.n);
}

static void test_public_key_check(void **state)
{
    EVP_PKEY *rsa = EVP_RSA_gen(2048);
    BIO *bio = BIO_new(BIO_s_mem());
    char *data, *pem, err[160];
    long n;

    (void)state;
    assert_int_equal(PEM_write_bio_PUBKEY(bio, rsa), 1);
    n = BIO_get_mem_data(bio, &data);
    pem = strndup(data, (size_t)n);
    assert_int_equal(lc_jwt_check_public_key(pem, false, err, sizeof(err)), 0);
    assert_int_equal(lc_jwt_check_public_key(pem, true, err, sizeof(err)), LC_EINVAL);
    assert_string_equal(err, "not an ECDSA public key");
    assert_int_equal(lc_jwt_check_public_key("garbage", false, err, sizeof(err)), LC_EINVAL);
    free(pem);
    BIO_free(bio);
    EVP_PKEY_free(rsa);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwks_rsa_and_ec_keys_verify_tokens),
        cmocka_unit_test(test_jwks_not_a_set_is_eparse),
        cmocka_unit_test(test_public_key_check),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
