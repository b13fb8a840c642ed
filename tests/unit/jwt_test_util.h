/* Helpers shared by the token tests (test_jwt.c, test_jwt_sub.c): hand-built tokens signed
 * with OpenSSL's HMAC so the header bytes are exactly what a PHP SDK sends, and verification
 * wrappers at a fixed clock. */
#ifndef LC_TEST_JWT_TEST_UTIL_H
#define LC_TEST_JWT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "util/base64.h"

#define SECRET "test-secret-key"
#define NOW ((int64_t)1700000000)

static const lc_jwt_keys_t keys = {.hmac_secret = SECRET};

/* header.payload.signature with the signature made by `md` over the first two parts. */
static inline char *make_token_md(const char *header, const char *payload, const char *key,
                                  const EVP_MD *md)
{
    size_t hl = 0, pl = 0, sl = 0;
    char *h = lc_base64url_encode(header, strlen(header), &hl);
    char *p = lc_base64url_encode(payload, strlen(payload), &pl);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char *signing, *s, *tok;

    assert_non_null(h);
    assert_non_null(p);
    signing = malloc(hl + pl + 2);
    assert_non_null(signing);
    snprintf(signing, hl + pl + 2, "%s.%s", h, p);
    assert_non_null(
        HMAC(md, key, (int)strlen(key), (const unsigned char *)signing, hl + 1 + pl, mac, &maclen));
    s = lc_base64url_encode(mac, maclen, &sl);
    assert_non_null(s);
    tok = malloc(hl + pl + sl + 3);
    assert_non_null(tok);
    snprintf(tok, hl + pl + sl + 3, "%s.%s", signing, s);
    free(h);
    free(p);
    free(s);
    free(signing);
    return tok;
}

/* A token exactly as the PHP SDK builds it: this header, in this key order, HS256. */
static inline char *make_php_token(const char *payload)
{
    return make_token_md("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", payload, SECRET, EVP_sha256());
}

/* header.payload.<sig> with a signature given verbatim (possibly empty). */
static inline char *make_unsigned(const char *header, const char *payload, const char *sig)
{
    size_t hl = 0, pl = 0, n;
    char *h = lc_base64url_encode(header, strlen(header), &hl);
    char *p = lc_base64url_encode(payload, strlen(payload), &pl);
    char *tok;

    assert_non_null(h);
    assert_non_null(p);
    n = hl + pl + strlen(sig) + 3;
    tok = malloc(n);
    assert_non_null(tok);
    snprintf(tok, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return tok;
}

static inline lc_jwt_status verify(const char *tok, lc_conn_claims_t *out, const char **reason)
{
    return lc_jwt_verify_connect(tok, strlen(tok), &keys, NOW, out, reason);
}

/* Verify a token expected to fail; checks *out was left zeroed and the reason is set. */
static inline void expect_status(const char *tok, lc_jwt_status want)
{
    lc_conn_claims_t c;
    const char *reason = NULL;

    memset(&c, 0xab, sizeof(c));
    assert_int_equal(verify(tok, &c, &reason), want);
    assert_non_null(reason);
    assert_null(c.sub);
    assert_null(c.info);
    assert_null(c.channels);
    assert_int_equal(c.exp, 0);
}

static inline void expect_php_invalid(const char *payload)
{
    char *tok = make_php_token(payload);
    expect_status(tok, LC_JWT_INVALID);
    free(tok);
}

#endif
