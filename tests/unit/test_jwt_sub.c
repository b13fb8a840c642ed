/* Subscription tokens, the `subs` map of connection tokens and `override` objects, as tokens
 * and as JSON text (lc_jwt_parse_subs, lc_jwt_parse_override). */
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

static void test_jwt_conn_subs_map_parsed(void **state)
{
    char *tok = make_php_token(
        "{\"sub\":\"1\",\"channels\":[\"ignored\"],\"subs\":{"
        "\"news\":{\"info\":{\"a\": 1},\"data\":[1, \"x\"],"
        "\"override\":{\"presence\":{\"value\":true},\"force_recovery\":{\"value\":false}}},"
        "\"chat:\\/r\":{\"b64info\":\"AAE=\",\"b64data\":\"/w==\"},"
        "\"empty\":null}}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    /* both claims are returned; preferring `subs` is the caller's rule */
    assert_int_equal(c.n_channels, 1);
    assert_int_equal(c.n_subs, 3);

    assert_string_equal(c.subs[0].channel, "news");
    assert_string_equal(c.subs[0].opts.info, "{\"a\":1}");
    assert_int_equal(c.subs[0].opts.info_len, 7);
    assert_string_equal(c.subs[0].opts.data, "[1,\"x\"]");
    assert_int_equal(c.subs[0].opts.data_len, 7);
    assert_null(c.subs[0].opts.b64info);
    assert_true(c.subs[0].opts.override.presence.set);
    assert_true(c.subs[0].opts.override.presence.value);
    assert_true(c.subs[0].opts.override.force_recovery.set);
    assert_false(c.subs[0].opts.override.force_recovery.value);
    assert_false(c.subs[0].opts.override.join_leave.set);

    assert_string_equal(c.subs[1].channel, "chat:/r");
    assert_null(c.subs[1].opts.info);
    assert_int_equal(c.subs[1].opts.b64info_len, 2);
    assert_memory_equal(c.subs[1].opts.b64info, "\x00\x01", 2);
    assert_int_equal(c.subs[1].opts.b64data_len, 1);
    assert_memory_equal(c.subs[1].opts.b64data, "\xff", 1);

    assert_string_equal(c.subs[2].channel, "empty");
    assert_null(c.subs[2].opts.info);
    assert_null(c.subs[2].opts.data);
    assert_false(c.subs[2].opts.override.presence.set);
    lc_conn_claims_free(&c);
    free(tok);
}

static void test_jwt_conn_subs_edge_cases(void **state)
{
    char *tok = make_php_token("{\"sub\":\"1\",\"subs\":{}}");
    lc_conn_claims_t c;

    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.n_subs, 0);
    assert_null(c.subs);
    lc_conn_claims_free(&c);
    free(tok);

    /* a channel named twice keeps its last entry */
    tok = make_php_token("{\"subs\":{\"a\":{\"info\":1},\"b\":{},\"a\":{\"info\":2}}}");
    assert_int_equal(verify(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.n_subs, 2);
    assert_string_equal(c.subs[0].channel, "a");
    assert_string_equal(c.subs[0].opts.info, "2");
    assert_string_equal(c.subs[1].channel, "b");
    lc_conn_claims_free(&c);
    free(tok);

    expect_php_invalid("{\"sub\":\"1\",\"subs\":[\"a\"]}");
    expect_php_invalid("{\"sub\":\"1\",\"subs\":\"a\"}");
    expect_php_invalid("{\"sub\":\"1\",\"subs\":{\"a\":true}}");
    expect_php_invalid("{\"sub\":\"1\",\"subs\":{\"a\":{\"b64info\":\"%%\"}}}");
    expect_php_invalid("{\"sub\":\"1\",\"subs\":{\"a\":{\"b64data\":7}}}");
    expect_php_invalid("{\"sub\":\"1\",\"subs\":{\"a\":{\"override\":{\"presence\":true}}}}");
}

/* --- subscription tokens ------------------------------------------------------------- */

static lc_jwt_status verify_sub(const char *tok, lc_sub_claims_t *out, const char **reason)
{
    return lc_jwt_verify_subscribe(tok, strlen(tok), &keys, NOW, out, reason);
}

/* Sign payload PHP-style, verify it as a subscription token expecting `want`, check *out was
 * zeroed, and return the reason. */
static const char *expect_sub_status(const char *payload, lc_jwt_status want)
{
    char *tok = make_php_token(payload);
    lc_sub_claims_t c;
    const char *reason = NULL;

    memset(&c, 0xab, sizeof(c));
    assert_int_equal(verify_sub(tok, &c, &reason), want);
    assert_non_null(reason);
    assert_null(c.sub);
    assert_null(c.channel);
    assert_null(c.client);
    assert_null(c.opts.info);
    assert_int_equal(c.exp, 0);
    free(tok);
    return reason;
}

static void test_jwt_sub_php_token_ok(void **state)
{
    /* generatePrivateChannelToken: channel first, then sub, info, exp, iat; `/` escaped */
    char *tok = make_php_token("{\"channel\":\"$private:room\\/1\",\"sub\":\"42\","
                               "\"info\":{\"name\":\"Ren\\u00e9\",\"url\":\"http:\\/\\/x\"},"
                               "\"exp\":1700003600,\"iat\":1700000000}");
    lc_sub_claims_t c;
    const char *reason = "unset";

    assert_int_equal(verify_sub(tok, &c, &reason), LC_JWT_OK);
    assert_null(reason);
    assert_string_equal(c.channel, "$private:room/1");
    assert_string_equal(c.sub, "42");
    assert_string_equal(c.client, "");
    assert_string_equal(c.opts.info, "{\"name\":\"Ren\xc3\xa9\",\"url\":\"http://x\"}");
    assert_int_equal(c.opts.info_len, strlen(c.opts.info));
    assert_null(c.opts.b64info);
    assert_null(c.opts.data);
    assert_null(c.opts.b64data);
    assert_false(c.opts.override.presence.set);
    assert_int_equal(c.exp, 1700003600);
    assert_int_equal(c.iat, 1700000000);
    assert_int_equal(c.nbf, 0);
    assert_false(c.has_expire_at);
    lc_sub_claims_free(&c);
    assert_null(c.channel);
    free(tok);
}

static void test_jwt_make_subscribe_token_roundtrip(void **state)
{
    char *tok = lc_jwt_make_subscribe_token(SECRET, "u\"1", "chat:index", NOW, 300);
    char *forever = lc_jwt_make_subscribe_token(SECRET, NULL, "news", NOW, 0);
    lc_sub_claims_t c;
    const char *reason = NULL;

    assert_non_null(tok);
    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "u\"1");
    assert_string_equal(c.channel, "chat:index");
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.exp, NOW + 300);
    lc_sub_claims_free(&c);

    /* a subscription token is never a valid connection token */
    assert_int_equal(verify(tok, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "channel claim in connection token");

    assert_non_null(forever);
    assert_int_equal(verify_sub(forever, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.sub, "");
    assert_int_equal(c.exp, 0);
    lc_sub_claims_free(&c);

    assert_null(lc_jwt_make_subscribe_token(SECRET, "u", NULL, NOW, 10));
    assert_null(lc_jwt_make_subscribe_token(SECRET, "u", "", NOW, 10));
    assert_null(lc_jwt_make_subscribe_token(NULL, "u", "c", NOW, 10));
    free(tok);
    free(forever);
}

static void test_jwt_sub_missing_channel_invalid(void **state)
{
    char *conn = lc_jwt_make_connect_token(SECRET, "1", NOW, 60);
    const char *reason = NULL;

    assert_string_equal(expect_sub_status("{\"sub\":\"1\"}", LC_JWT_INVALID),
                        "channel claim missing");
    expect_sub_status("{\"sub\":\"1\",\"channel\":\"\"}", LC_JWT_INVALID);
    expect_sub_status("{\"sub\":\"1\",\"channel\":null}", LC_JWT_INVALID);
    assert_string_equal(expect_sub_status("{\"sub\":\"1\",\"channel\":5}", LC_JWT_INVALID),
                        "channel is not a string");
    expect_sub_status("{\"sub\":\"1\",\"channel\":[\"a\"]}", LC_JWT_INVALID);

    /* a connection token is never a valid subscription token */
    assert_non_null(conn);
    assert_int_equal(verify_sub(conn, NULL, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "channel claim missing");
    free(conn);
}

static void test_jwt_sub_expired_expired(void **state)
{
    char buf[160];

    snprintf(buf, sizeof(buf), "{\"channel\":\"c\",\"sub\":\"1\",\"exp\":%lld}",
             (long long)(NOW - 1));
    assert_string_equal(expect_sub_status(buf, LC_JWT_EXPIRED), "expired");
    snprintf(buf, sizeof(buf), "{\"channel\":\"c\",\"exp\":%lld}", (long long)NOW);
    expect_sub_status(buf, LC_JWT_EXPIRED);
    snprintf(buf, sizeof(buf), "{\"channel\":\"c\",\"nbf\":%lld}", (long long)(NOW + 5));
    assert_string_equal(expect_sub_status(buf, LC_JWT_EXPIRED), "not valid yet");
    /* expiry is judged before the missing channel, as the reference does */
    snprintf(buf, sizeof(buf), "{\"sub\":\"1\",\"exp\":%lld}", (long long)(NOW - 1));
    expect_sub_status(buf, LC_JWT_EXPIRED);
    /* a claim of the wrong type still wins over expiry */
    expect_sub_status("{\"channel\":\"c\",\"sub\":1,\"exp\":1}", LC_JWT_INVALID);
}

static void test_jwt_sub_alg_and_key_invalid(void **state)
{
    const char *payload = "{\"channel\":\"c\",\"sub\":\"1\"}";
    char *none = make_unsigned("{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, "c2ln");
    char *wrong =
        make_token_md("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", payload, "other-secret", EVP_sha256());
    char *rsa = make_token_md("{\"alg\":\"RS256\"}", payload, SECRET, EVP_sha256());
    char *good = make_php_token(payload);
    lc_jwt_keys_t nokey = {NULL};
    lc_sub_claims_t c;
    const char *reason = NULL;

    assert_int_equal(verify_sub(none, &c, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "algorithm none");
    assert_null(c.channel);
    assert_int_equal(verify_sub(wrong, &c, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "bad signature");
    assert_int_equal(verify_sub(rsa, &c, &reason), LC_JWT_INVALID);
    assert_string_equal(reason, "algorithm not allowed");
    assert_int_equal(lc_jwt_verify_subscribe(good, strlen(good), &nokey, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_int_equal(lc_jwt_verify_subscribe(good, strlen(good), NULL, NOW, &c, &reason),
                     LC_JWT_INVALID);
    assert_int_equal(lc_jwt_verify_subscribe(NULL, 3, &keys, NOW, &c, &reason), LC_JWT_INVALID);
    assert_int_equal(lc_jwt_verify_subscribe("a.b.c", 5, &keys, NOW, &c, &reason), LC_JWT_INVALID);
    assert_null(c.channel);
    /* HS512 is as good as HS256 */
    {
        char *t512 = make_token_md("{\"alg\":\"HS512\"}", payload, SECRET, EVP_sha512());
        assert_int_equal(verify_sub(t512, NULL, NULL), LC_JWT_OK);
        free(t512);
    }
    free(none);
    free(wrong);
    free(rsa);
    free(good);
}

static void test_jwt_sub_client_and_sub_claims(void **state)
{
    char *tok = make_php_token("{\"channel\":\"c\",\"client\":\"b5f1-client\"}");
    lc_sub_claims_t c;

    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.client, "b5f1-client");
    assert_string_equal(c.sub, ""); /* no sub: anonymous user */
    lc_sub_claims_free(&c);
    free(tok);

    expect_sub_status("{\"channel\":\"c\",\"client\":42}", LC_JWT_INVALID);
    expect_sub_status("{\"channel\":\"c\",\"sub\":42}", LC_JWT_INVALID);
    expect_sub_status("{\"channel\":\"c\",\"sub\":{}}", LC_JWT_INVALID);
}

static void test_jwt_sub_info_data_b64(void **state)
{
    char *tok = make_php_token("{\"channel\":\"c\",\"info\":\"text\",\"b64info\":\"aGk=\","
                               "\"data\":{ \"k\" : [true, null] },\"b64data\":\"AP8A\"}");
    lc_sub_claims_t c;

    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_string_equal(c.opts.info, "\"text\"");
    assert_int_equal(c.opts.b64info_len, 2);
    assert_memory_equal(c.opts.b64info, "hi", 2);
    assert_string_equal(c.opts.data, "{\"k\":[true,null]}");
    assert_int_equal(c.opts.data_len, strlen(c.opts.data));
    assert_int_equal(c.opts.b64data_len, 3);
    assert_memory_equal(c.opts.b64data, "\x00\xff\x00", 3);
    lc_sub_claims_free(&c);
    free(tok);

    /* empty b64 strings and null values count as absent */
    tok = make_php_token("{\"channel\":\"c\",\"b64info\":\"\",\"b64data\":\"\",\"data\":null}");
    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_null(c.opts.b64info);
    assert_null(c.opts.b64data);
    assert_null(c.opts.data);
    lc_sub_claims_free(&c);
    free(tok);

    assert_string_equal(expect_sub_status("{\"channel\":\"c\",\"b64data\":\"*\"}", LC_JWT_INVALID),
                        "malformed b64data");
    assert_string_equal(expect_sub_status("{\"channel\":\"c\",\"b64info\":[]}", LC_JWT_INVALID),
                        "malformed b64info");
}

static void test_jwt_sub_time_claims(void **state)
{
    char *tok = make_php_token("{\"channel\":\"c\",\"exp\":1800000000.0,\"expire_at\":0,"
                               "\"nbf\":1600000000}");
    lc_sub_claims_t c;

    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_int_equal(c.exp, 1800000000);
    assert_true(c.has_expire_at);
    assert_int_equal(c.expire_at, 0);
    assert_int_equal(c.nbf, 1600000000);
    lc_sub_claims_free(&c);
    free(tok);

    assert_string_equal(expect_sub_status("{\"channel\":\"c\",\"exp\":\"soon\"}", LC_JWT_INVALID),
                        "time claim is not a number (expire_at: not an integer)");
    expect_sub_status("{\"channel\":\"c\",\"expire_at\":1.5}", LC_JWT_INVALID);
}

static void test_jwt_sub_override_parsed(void **state)
{
    char *tok = make_php_token(
        "{\"channel\":\"c\",\"override\":{\"presence\":{\"value\":true},"
        "\"join_leave\":{\"value\":false},\"force_recovery\":{\"value\":true},"
        "\"force_positioning\":{},\"force_push_join_leave\":null,\"unknown\":{\"value\":1}}}");
    lc_sub_claims_t c;

    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_true(c.opts.override.presence.set);
    assert_true(c.opts.override.presence.value);
    assert_true(c.opts.override.join_leave.set);
    assert_false(c.opts.override.join_leave.value);
    assert_true(c.opts.override.force_recovery.set);
    assert_true(c.opts.override.force_recovery.value);
    /* {} is present with the default value, null is absent */
    assert_true(c.opts.override.force_positioning.set);
    assert_false(c.opts.override.force_positioning.value);
    assert_false(c.opts.override.force_push_join_leave.set);
    lc_sub_claims_free(&c);
    free(tok);

    tok = make_php_token("{\"channel\":\"c\",\"override\":null}");
    assert_int_equal(verify_sub(tok, &c, NULL), LC_JWT_OK);
    assert_false(c.opts.override.presence.set);
    lc_sub_claims_free(&c);
    free(tok);
}

static void test_jwt_sub_override_wrong_shapes_invalid(void **state)
{
    static const char *bad[] = {
        "{\"channel\":\"c\",\"override\":true}",
        "{\"channel\":\"c\",\"override\":[]}",
        "{\"channel\":\"c\",\"override\":\"presence\"}",
        "{\"channel\":\"c\",\"override\":{\"presence\":true}}",
        "{\"channel\":\"c\",\"override\":{\"join_leave\":[{\"value\":true}]}}",
        "{\"channel\":\"c\",\"override\":{\"force_recovery\":{\"value\":\"yes\"}}}",
        "{\"channel\":\"c\",\"override\":{\"force_positioning\":{\"value\":1}}}",
        "{\"channel\":\"c\",\"override\":{\"force_push_join_leave\":{\"value\":{}}}}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(expect_sub_status(bad[i], LC_JWT_INVALID), "malformed override");
}

static void test_jwt_parse_override_text(void **state)
{
    static const char ok[] = " {\"join_leave\":{\"value\":true},\"presence\":{\"value\":false}}\n";
    lc_sub_override_t ov;

    assert_int_equal(lc_jwt_parse_override(ok, strlen(ok), &ov), 0);
    assert_true(ov.join_leave.set);
    assert_true(ov.join_leave.value);
    assert_true(ov.presence.set);
    assert_false(ov.presence.value);
    assert_false(ov.force_recovery.set);

    /* the length bounds the text: a prefix that is a whole object parses */
    assert_int_equal(lc_jwt_parse_override("{}trailing", 2, &ov), 0);

    assert_int_equal(lc_jwt_parse_override("{}x", 3, &ov), LC_EPARSE);
    assert_int_equal(lc_jwt_parse_override("[]", 2, &ov), LC_EPARSE);
    {
        static const char one[] = "{\"presence\":{\"value\":1}}";
        assert_int_equal(lc_jwt_parse_override(one, strlen(one), &ov), LC_EPARSE);
    }
    assert_false(ov.presence.set);
    assert_int_equal(lc_jwt_parse_override("{\"presence\"", 11, &ov), LC_EPARSE);
    assert_int_equal(lc_jwt_parse_override("", 0, &ov), LC_EPARSE);
    assert_int_equal(lc_jwt_parse_override(NULL, 4, &ov), LC_EPARSE);
}

static void test_jwt_parse_subs_text(void **state)
{
    static const char ok[] = " {\"a\":{\"info\":{\"x\": 1},\"b64data\":\"aGk=\","
                             "\"override\":{\"presence\":{\"value\":true}}},"
                             "\"b\":null,\"a\":{\"data\":[2]}}\n";
    lc_conn_sub_t *subs = NULL;
    size_t n = 0;

    assert_int_equal(lc_jwt_parse_subs(ok, strlen(ok), &subs, &n), 0);
    /* "a" named twice: its place is kept, its options are the last ones */
    assert_int_equal(n, 2);
    assert_string_equal(subs[0].channel, "a");
    assert_null(subs[0].opts.info);
    assert_null(subs[0].opts.b64data);
    assert_false(subs[0].opts.override.presence.set);
    assert_string_equal(subs[0].opts.data, "[2]");
    assert_int_equal(subs[0].opts.data_len, 3);
    assert_string_equal(subs[1].channel, "b");
    assert_null(subs[1].opts.data);
    lc_conn_subs_free(subs, n);

    assert_int_equal(lc_jwt_parse_subs("{}", 2, &subs, &n), 0);
    assert_null(subs);
    assert_int_equal(n, 0);
    lc_conn_subs_free(subs, n);
}

/* Every malformed map fails as a whole and leaves nothing behind (ASan checks the leaks of
 * entries read before the bad one). */
static void test_jwt_parse_subs_text_invalid(void **state)
{
    static const char *const bad[] = {
        "[]",
        "\"a\"",
        "{\"a\":true}",
        "{\"a\":{\"info\":1},\"b\":[]}",
        "{\"a\":{\"info\":1},\"b\":{\"b64info\":\"%%\"}}",
        "{\"a\":{\"data\":1},\"a\":{\"b64data\":7}}",
        "{\"a\":{\"info\":1},\"b\":{\"override\":{\"presence\":true}}}",
        "{\"a\":{}",
        "{}x",
    };
    lc_conn_sub_t sentinel, *subs;
    size_t n;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        subs = &sentinel;
        n = 7;
        assert_int_equal(lc_jwt_parse_subs(bad[i], strlen(bad[i]), &subs, &n), LC_EPARSE);
        assert_null(subs);
        assert_int_equal(n, 0);
    }
    assert_int_equal(lc_jwt_parse_subs("", 0, &subs, &n), LC_EPARSE);
    assert_int_equal(lc_jwt_parse_subs(NULL, 2, &subs, &n), LC_EPARSE);
    assert_null(subs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_conn_subs_map_parsed),
        cmocka_unit_test(test_jwt_conn_subs_edge_cases),
        cmocka_unit_test(test_jwt_sub_php_token_ok),
        cmocka_unit_test(test_jwt_make_subscribe_token_roundtrip),
        cmocka_unit_test(test_jwt_sub_missing_channel_invalid),
        cmocka_unit_test(test_jwt_sub_expired_expired),
        cmocka_unit_test(test_jwt_sub_alg_and_key_invalid),
        cmocka_unit_test(test_jwt_sub_client_and_sub_claims),
        cmocka_unit_test(test_jwt_sub_info_data_b64),
        cmocka_unit_test(test_jwt_sub_time_claims),
        cmocka_unit_test(test_jwt_sub_override_parsed),
        cmocka_unit_test(test_jwt_sub_override_wrong_shapes_invalid),
        cmocka_unit_test(test_jwt_parse_override_text),
        cmocka_unit_test(test_jwt_parse_subs_text),
        cmocka_unit_test(test_jwt_parse_subs_text_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
