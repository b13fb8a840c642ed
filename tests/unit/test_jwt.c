/* Connection token verification: libjwt-signed and hand-built (PHP-style) tokens, signing,
 * algorithm pinning, tampering, claim types and hostile input. Subscription tokens, `subs` and
 * `override` are in test_jwt_sub.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "jwt_test_util.h"
#include "util/base64.h"
#include "util/err.h"

static void test_jwt_sign_hs256_valid_ok(void **state)
{
    char *tok = lc_jwt_sign_hs256(SECRET, "{\"sub\":\"u1\",\"exp\":1700003600,\"iat\":1700000000}");
    lc_conn_claims_t c;
    const char *reason = "unset";

    assert_non_null(tok);
    assert_int_equal(verify(tok, &c, &reason), LC_JWT_OK);
    assert_string_equal(c.sub, "u1");
    assert_int_equal(c.exp, 1700003600);
    assert_int_equal(c.iat, 1700000000);
    assert_false(c.has_expire_at);
    assert_null(c.info);
    assert_null(c.b64info);
    assert_null(c.channels);
    assert_null(c.meta);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_make_connect_token_ttl_sets_exp(void **state)
{
    char *tok = lc_jwt_make_connect_token(SECRET, "alice \"q\"", NOW, 600);
    lc_conn_claims_t c;

    assert_non_null(tok);
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "alice \"q\"");
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.exp, NOW + 600);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_make_connect_token_no_ttl_no_exp(void **state)
{
    char *tok = lc_jwt_make_connect_token(SECRET, "bob", NOW, 0);
    lc_conn_claims_t c;

    assert_non_null(tok);
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "bob");
    assert_int_equal(c.exp, 0);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_sign_bad_input_null(void **state)
{
    char *tok;

    assert_null(lc_jwt_sign_hs256(NULL, "{}"));
    assert_null(lc_jwt_sign_hs256("", "{}"));
    assert_null(lc_jwt_sign_hs256(SECRET, NULL));
    tok = lc_jwt_sign_hs256(SECRET, "not json");
    assert_null(tok);
    assert_null(lc_jwt_make_connect_token(NULL, "u", NOW, 10));
}

static void test_jwt_sign_escaped_claims_ok(void **state)
{
    char *tok = lc_jwt_sign_hs256(SECRET, "{\"sub\":\"a\\/b\",\"info\":{\"u\":\"\\u00e9\"}}");
    lc_conn_claims_t c;

    assert_non_null(tok);
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "a/b");
    assert_string_equal(c.info, "{\"u\":\"\xc3\xa9\"}");
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_php_token_escapes_ok(void **state)
{
    char *tok = make_php_token("{\"sub\":\"42\",\"info\":{\"url\":\"http:\\/\\/x\",\"name\":"
                               "\"Ren\\u00e9\"},\"channels\":[\"news\",\"chat:\\/room\"],"
                               "\"exp\":1700003600,\"iat\":1700000000}");
    lc_conn_claims_t c;
    const char *expect_info = "{\"url\":\"http://x\",\"name\":\"Ren\xc3\xa9\"}";

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "42");
    assert_string_equal(c.info, expect_info);
    assert_int_equal(c.info_len, strlen(expect_info));
    assert_int_equal(c.n_channels, 2);
    assert_string_equal(c.channels[0], "news");
    assert_string_equal(c.channels[1], "chat:/room");
    assert_int_equal(c.exp, 1700003600);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_hs384_hs512_ok(void **state)
{
    const char *payload = "{\"sub\":\"7\",\"exp\":1700000100}";
    char *t384 =
        make_token_md("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", payload, SECRET, EVP_sha384());
    char *t512 = make_token_md("{\"alg\":\"HS512\"}", payload, SECRET, EVP_sha512());
    lc_conn_claims_t c;

    assert_int_equal(verify(t384, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "7");
    lc_conn_claims_free(&c);
    assert_int_equal(verify(t512, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.exp, 1700000100);
    lc_conn_claims_free(&c);
    free(t384);
    free(t512);
}

static void test_jwt_header_alg_differs_from_signature_invalid(void **state)
{
    /* HS384 header, HS256 signature: the signature does not verify under the pinned alg. */
    char *tok = make_token_md("{\"alg\":\"HS384\"}", "{\"sub\":\"1\"}", SECRET, EVP_sha256());
    expect_status(tok, LC_JWT_INVALID);
    free(tok);
}

static void test_jwt_expired_exp_expired(void **state)
{
    char buf[128];
    char *tok;
    const char *reason = NULL;

    snprintf(buf, sizeof(buf), "{\"sub\":\"1\",\"exp\":%lld}", (long long)(NOW - 1));
    tok = make_php_token(buf);
    expect_status(tok, LC_JWT_EXPIRED);
    assert_int_equal(verify(tok, NULL, &reason), LC_JWT_EXPIRED);
    assert_string_equal(reason, "expired");
    free(tok);

    /* exp == now is already expired */
    snprintf(buf, sizeof(buf), "{\"sub\":\"1\",\"exp\":%lld}", (long long)NOW);
    tok = make_php_token(buf);
    expect_status(tok, LC_JWT_EXPIRED);
    free(tok);
}

static void test_jwt_no_exp_ok_zero(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\"}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.exp, 0);
    assert_int_equal(c.nbf, 0);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_missing_sub_anonymous(void **state)
{
    char *tok = make_php_token("{\"exp\":1700000100}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_non_null(c.sub);
    assert_string_equal(c.sub, "");
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_wrong_key_invalid(void **state)
{
    char *tok = make_token_md("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", "{\"sub\":\"1\"}", "other",
                              EVP_sha256());
    const char *reason = NULL;

    expect_status(tok, LC_JWT_INVALID);
    assert_int_equal(verify(tok, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "bad signature");
    free(tok);
}

static void test_jwt_alg_none_invalid(void **state)
{
    const char *reason = NULL;
    char *empty = make_unsigned("{\"alg\":\"none\"}", "{\"sub\":\"1\"}", "");
    char *fake = make_unsigned("{\"alg\":\"none\"}", "{\"sub\":\"1\"}", "c2lnbmF0dXJl");
    char *upper = make_unsigned("{\"alg\":\"NoNe\",\"typ\":\"JWT\"}", "{\"sub\":\"1\"}", "eA");

    expect_status(empty, LC_JWT_INVALID);
    expect_status(fake, LC_JWT_INVALID);
    assert_int_equal(verify(fake, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "algorithm none");
    expect_status(upper, LC_JWT_INVALID);
    free(empty);
    free(fake);
    free(upper);
}

static void test_jwt_asymmetric_or_unknown_alg_invalid(void **state)
{
    static const char *headers[] = {
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"ES256\"}",
        "{\"alg\":\"hs256\"}",
        "{\"alg\":\"HS1024\"}",
        "{\"alg\":256}",
        "{\"typ\":\"JWT\"}",
    };
    const char *reason = NULL;

    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        /* signed with the shared secret, so only the pinning can reject it */
        char *tok = make_token_md(headers[i], "{\"sub\":\"1\"}", SECRET, EVP_sha256());
        expect_status(tok, LC_JWT_INVALID);
        free(tok);
    }
    {
        char *tok = make_token_md(headers[0], "{\"sub\":\"1\"}", SECRET, EVP_sha256());
        assert_int_equal(verify(tok, NULL, &reason), LC_JWT_INVALID);
        assert_string_equal(reason, "algorithm not allowed");
        free(tok);
    }
}

static void test_jwt_no_key_configured_invalid(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\"}");
    lc_jwt_keys_t none = {.hmac_secret = NULL}, empty = {.hmac_secret = ""};
    lc_conn_claims_t c;
    const char *reason = NULL;

    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &none, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_non_null(reason);
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), &empty, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_int_equal(lc_jwt_verify_connect(tok, strlen(tok), NULL, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_null(c.sub);
    free(tok);
}

static void test_jwt_tampered_payload_invalid(void **state)
{
    char *tok = make_php_token("{\"sub\":\"user-1\",\"exp\":1700003600}");
    char *dot = strchr(tok, '.');
    char *c = dot + 5;

    /* Swap one payload character for another base64url character. */
    *c = (*c == 'A') ? 'B' : 'A';
    expect_status(tok, LC_JWT_INVALID);
    free(tok);
}

static void test_jwt_tampered_signature_invalid(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\"}");
    char *sig = strrchr(tok, '.') + 1;

    sig[0] = (sig[0] == 'A') ? 'B' : 'A';
    expect_status(tok, LC_JWT_INVALID);
    free(tok);
}

static void test_jwt_channel_claim_invalid(void **state)
{
    char *tok = make_php_token("{\"channel\":\"private-x\",\"sub\":\"1\"}");
    const char *reason = NULL;

    expect_status(tok, LC_JWT_INVALID);
    assert_int_equal(verify(tok, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "channel claim in connection token");
    free(tok);
}

static void test_jwt_garbage_inputs_invalid(void **state)
{
    static const char *garbage[] = {
        "",
        ".",
        "..",
        "...",
        "abc",
        "abc.def",
        "abc.def.",
        ".def.ghi",
        "abc..ghi",
        "a.b.c.d",
        "!!!!.def.ghi",
        "eyJhbGciOiJIUzI1NiJ9.e30.sig.extra",
        "eyJhbGciOiJIUzI1NiJ9.e30=.c2ln",
        "eyJhbGciOiJIUzI1NiJ9 .e30.c2ln",
        "bm90IGpzb24.e30.c2ln",          /* header "not json" */
        "WzFd.e30.c2ln",                 /* header [1] */
        "A.e30.c2ln",                    /* a lone base64 character */
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln", /* {"alg":"HS256"}.{} with a wrong signature */
    };
    lc_conn_claims_t c;
    const char *reason = NULL;

    for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
        expect_status(garbage[i], LC_JWT_INVALID);

    /* NULL and a length that reaches past an embedded NUL */
    assert_int_equal(lc_jwt_verify_connect(NULL, 10, &keys, NOW, &c, &reason), LC_JWT_INVALID);
    assert_int_equal(lc_jwt_verify_connect("abc\0.def.ghi", 12, &keys, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_null(c.sub);
}

static void test_jwt_payload_not_object_invalid(void **state)
{
    expect_php_invalid("[1,2]");
    expect_php_invalid("\"sub\"");
    expect_php_invalid("{\"sub\":\"1\"} trailing");
    expect_php_invalid("{\"sub\":");
}

/* \u0000 would cut the string where C code reads it: refused, not truncated. */
static void test_jwt_nul_escape_invalid(void **state)
{
    expect_php_invalid("{\"sub\":\"room\\u0000x\"}");
    expect_php_invalid("{\"sub\":\"1\",\"info\":{\"a\":\"x\\u0000\"}}");
}

/* An escaped backslash followed by "u0000" is plain text, not a NUL. */
static void test_jwt_escaped_backslash_u0000_ok(void **state)
{
    lc_conn_claims_t c;
    char *tok = make_php_token("{\"sub\":\"a\\\\u0000\"}");

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "a\\u0000");
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_embedded_nul_in_payload_invalid(void **state)
{
    /* {"sub":"1"}\0{"channel":"x"} : the bytes after the NUL are signed but would be unseen. */
    static const char payload[] = "{\"sub\":\"1\"}\0{\"channel\":\"x\"}";
    size_t pl = 0, hl = 0, sl = 0;
    const char *header = "{\"alg\":\"HS256\"}";
    char *h = lc_base64url_encode(header, strlen(header), &hl);
    char *p = lc_base64url_encode(payload, sizeof(payload) - 1, &pl);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    char signing[256], tok[320];
    const char *reason = NULL;
    char *s;

    snprintf(signing, sizeof(signing), "%s.%s", h, p);
    HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)signing, strlen(signing),
         mac, &maclen);
    s = lc_base64url_encode(mac, maclen, &sl);
    snprintf(tok, sizeof(tok), "%s.%s", signing, s);
    expect_status(tok, LC_JWT_INVALID);
    assert_int_equal(verify(tok, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "malformed token payload");
    free(h);
    free(p);
    free(s);
}

static void test_jwt_huge_token_invalid(void **state)
{
    size_t n = 70 * 1024;
    char *big = malloc(n + 1);
    char *payload = malloc(n + 64);
    char *tok;
    lc_conn_claims_t c;

    assert_non_null(big);
    assert_non_null(payload);
    memset(big, 'a', n);
    big[n] = '\0';

    /* raw junk above the limit */
    assert_int_equal(lc_jwt_verify_connect(big, n, &keys, NOW, &c, NULL), LC_JWT_INVALID);

    /* a correctly signed token above the limit is still refused */
    snprintf(payload, n + 64, "{\"sub\":\"1\",\"info\":\"%s\"}", big);
    tok = make_php_token(payload);
    expect_status(tok, LC_JWT_INVALID);
    free(tok);

    /* and one just under it is accepted */
    big[40 * 1024] = '\0';
    snprintf(payload, n + 64, "{\"sub\":\"1\",\"info\":\"%s\"}", big);
    tok = make_php_token(payload);
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.info_len, 40 * 1024 + 2);
    lc_conn_claims_free(&c);
    free(tok);
    free(payload);
    free(big);
}

static void test_jwt_b64info_decoded(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\",\"b64info\":\"AAEC/w==\"}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_non_null(c.b64info);
    assert_int_equal(c.b64info_len, 4);
    assert_memory_equal(c.b64info, "\x00\x01\x02\xff", 4);
    lc_conn_claims_free(&c);
    free(tok);

    expect_php_invalid("{\"sub\":\"1\",\"b64info\":\"%%%not base64\"}");
    expect_php_invalid("{\"sub\":\"1\",\"b64info\":42}");
}

static void test_jwt_channels_array(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\",\"channels\":[\"a\",\"b:c\",\"\\u00e9\"]}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.n_channels, 3);
    assert_string_equal(c.channels[0], "a");
    assert_string_equal(c.channels[1], "b:c");
    assert_string_equal(c.channels[2], "\xc3\xa9");
    lc_conn_claims_free(&c);
    free(tok);

    tok = make_php_token("{\"sub\":\"1\",\"channels\":[]}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.n_channels, 0);
    lc_conn_claims_free(&c);
    free(tok);

    expect_php_invalid("{\"sub\":\"1\",\"channels\":[\"a\",2]}");
    expect_php_invalid("{\"sub\":\"1\",\"channels\":\"a\"}");
}

static void test_jwt_info_meta_raw_compact(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\",\"info\": { \"z\" : 1 ,\n \"a\":[1, 2, \"x\"] },"
                               "\"meta\":{\"role\": \"admin\"}}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.info, "{\"z\":1,\"a\":[1,2,\"x\"]}");
    assert_int_equal(c.info_len, strlen(c.info));
    assert_string_equal(c.meta, "{\"role\":\"admin\"}");
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_nbf_future_expired(void **state)
{
    char buf[128];
    char *tok;
    lc_conn_claims_t c;

    snprintf(buf, sizeof(buf), "{\"sub\":\"1\",\"nbf\":%lld}", (long long)(NOW + 60));
    tok = make_php_token(buf);
    expect_status(tok, LC_JWT_EXPIRED);
    free(tok);

    snprintf(buf, sizeof(buf), "{\"sub\":\"1\",\"nbf\":%lld}", (long long)(NOW - 60));
    tok = make_php_token(buf);
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.nbf, NOW - 60);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_claim_types(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\",\"exp\":1.7e9,\"iat\":null,\"expire_at\":0}");
    lc_conn_claims_t c;

    /* 1.7e9 == NOW: already expired, but accepted as an integer */
    expect_status(tok, LC_JWT_EXPIRED);
    free(tok);

    tok = make_php_token("{\"sub\":\"1\",\"exp\":1800000000.0,\"expire_at\":1700000500}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.exp, 1800000000);
    assert_true(c.has_expire_at);
    assert_int_equal(c.expire_at, 1700000500);
    lc_conn_claims_free(&c);
    free(tok);

    tok = make_php_token("{\"sub\":\"1\",\"expire_at\":0}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_true(c.has_expire_at);
    assert_int_equal(c.expire_at, 0);
    lc_conn_claims_free(&c);
    free(tok);

    expect_php_invalid("{\"sub\":42}");
    expect_php_invalid("{\"sub\":[\"1\"]}");
    expect_php_invalid("{\"sub\":\"1\",\"exp\":\"1800000000\"}");
    /* a fractional NumericDate is valid, as the reference reads it (the fraction dropped) */
    tok = make_php_token("{\"sub\":\"1\",\"exp\":1800000000.5,\"iat\":1600000000.25}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.exp, 1800000000);
    assert_int_equal(c.iat, 1600000000);
    lc_conn_claims_free(&c);
    free(tok);
    tok = make_php_token("{\"sub\":\"1\",\"exp\":1600000000.5}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_EXPIRED);
    free(tok);
    expect_php_invalid("{\"sub\":\"1\",\"exp\":1e300}");
    expect_php_invalid("{\"sub\":\"1\",\"iat\":true}");
    expect_php_invalid("{\"sub\":\"1\",\"nbf\":{}}");
    expect_php_invalid("{\"sub\":\"1\",\"expire_at\":1e300}");
}

static void test_jwt_invalid_claims_before_expiry(void **state)
{
    /* a wrong claim type wins over expiry: the token is broken, not just old */
    expect_php_invalid("{\"sub\":5,\"exp\":1}");
}

static void test_jwt_conn_empty_or_null_channel_ok(void **state)
{
    /* The reference only refuses a non-empty channel in a connection token. */
    char *tok = make_php_token("{\"sub\":\"1\",\"channel\":\"\"}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    lc_conn_claims_free(&c);
    free(tok);
    tok = make_php_token("{\"sub\":\"1\",\"channel\":null}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    lc_conn_claims_free(&c);
    free(tok);
    expect_php_invalid("{\"sub\":\"1\",\"channel\":5}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_sign_hs256_valid_ok),
        cmocka_unit_test(test_jwt_make_connect_token_ttl_sets_exp),
        cmocka_unit_test(test_jwt_make_connect_token_no_ttl_no_exp),
        cmocka_unit_test(test_jwt_sign_bad_input_null),
        cmocka_unit_test(test_jwt_sign_escaped_claims_ok),
        cmocka_unit_test(test_jwt_php_token_escapes_ok),
        cmocka_unit_test(test_jwt_hs384_hs512_ok),
        cmocka_unit_test(test_jwt_header_alg_differs_from_signature_invalid),
        cmocka_unit_test(test_jwt_expired_exp_expired),
        cmocka_unit_test(test_jwt_no_exp_ok_zero),
        cmocka_unit_test(test_jwt_missing_sub_anonymous),
        cmocka_unit_test(test_jwt_wrong_key_invalid),
        cmocka_unit_test(test_jwt_alg_none_invalid),
        cmocka_unit_test(test_jwt_asymmetric_or_unknown_alg_invalid),
        cmocka_unit_test(test_jwt_no_key_configured_invalid),
        cmocka_unit_test(test_jwt_tampered_payload_invalid),
        cmocka_unit_test(test_jwt_tampered_signature_invalid),
        cmocka_unit_test(test_jwt_channel_claim_invalid),
        cmocka_unit_test(test_jwt_garbage_inputs_invalid),
        cmocka_unit_test(test_jwt_payload_not_object_invalid),
        cmocka_unit_test(test_jwt_embedded_nul_in_payload_invalid),
        cmocka_unit_test(test_jwt_nul_escape_invalid),
        cmocka_unit_test(test_jwt_escaped_backslash_u0000_ok),
        cmocka_unit_test(test_jwt_huge_token_invalid),
        cmocka_unit_test(test_jwt_b64info_decoded),
        cmocka_unit_test(test_jwt_channels_array),
        cmocka_unit_test(test_jwt_info_meta_raw_compact),
        cmocka_unit_test(test_jwt_nbf_future_expired),
        cmocka_unit_test(test_jwt_claim_types),
        cmocka_unit_test(test_jwt_invalid_claims_before_expiry),
        cmocka_unit_test(test_jwt_conn_empty_or_null_channel_ok),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
