/* Shared poll pieces that need no server: the refresh proxy's request and answers (data kept
 * byte for byte, b64data, error, garbage) and track signatures (auth/spoll_sig.h: the
 * documented payload, both keys of a rotation, expiry with its grace, tampering). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/spoll_sig.h"
#include "hooks/proxy_spoll.h"
#include "util/buf.h"
#include "util/err.h"

static int parse(const char *body, lc_spoll_reply_t *r)
{
    return lc_proxy_spoll_parse(body, strlen(body), r);
}

static void test_spoll_encode_versionless_and_versioned(void **state)
{
    (void)state;
    const char *keys[] = {"a", "b\"x"};
    uint64_t vers[] = {0, 7};
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_proxy_spoll_encode("v:1", 3, keys, NULL, 2, &b), 0);
    lc_buf_putc(&b, '\0');
    assert_string_equal(b.data,
                        "{\"channel\":\"v:1\",\"items\":[{\"key\":\"a\"},{\"key\":\"b\\\"x\"}]}");
    lc_buf_reset(&b);
    assert_int_equal(lc_proxy_spoll_encode("v:1", 3, keys, vers, 2, &b), 0);
    lc_buf_putc(&b, '\0');
    /* version 0 ("no data yet") is left out */
    assert_string_equal(b.data,
                        "{\"channel\":\"v:1\",\"items\":[{\"key\":\"a\"},{\"key\":\"b\\\"x\","
                        "\"version\":7}]}");
    lc_buf_free(&b);
}

static void test_spoll_parse_items_data_bytes_kept(void **state)
{
    (void)state;
    lc_spoll_reply_t r;
    assert_int_equal(parse("{\"result\":{\"epoch\":\"e1\",\"items\":["
                           "{\"key\":\"p1\",\"data\": {\"n\":12345678901234567890,\"f\":1.50} },"
                           "{\"key\":\"p2\",\"b64data\":\"eyJ4IjoxfQ==\",\"version\":9},"
                           "{\"key\":\"p3\",\"removed\":true}]}}",
                           &r),
                     0);
    assert_false(r.is_error);
    assert_string_equal(r.epoch, "e1");
    assert_int_equal(r.n_items, 3);
    assert_string_equal(r.items[0].key, "p1");
    assert_int_equal(r.items[0].data_len, strlen("{\"n\":12345678901234567890,\"f\":1.50}"));
    assert_memory_equal(r.items[0].data, "{\"n\":12345678901234567890,\"f\":1.50}",
                        r.items[0].data_len);
    assert_memory_equal(r.items[1].data, "{\"x\":1}", 7);
    assert_int_equal(r.items[1].version, 9);
    assert_true(r.items[2].removed);
    assert_null(r.items[2].data);
    lc_proxy_spoll_reply_free(&r);
}

static void test_spoll_parse_error_and_empty(void **state)
{
    (void)state;
    lc_spoll_reply_t r;
    assert_int_equal(parse("{\"error\":{\"code\":1000,\"message\":\"backend unavailable\"}}", &r),
                     0);
    assert_true(r.is_error);
    assert_int_equal(r.code, 1000);
    assert_string_equal(r.message, "backend unavailable");
    lc_proxy_spoll_reply_free(&r);
    assert_int_equal(parse("{\"result\":{}}", &r), 0);
    assert_int_equal(r.n_items, 0);
    assert_string_equal(r.epoch, "");
    lc_proxy_spoll_reply_free(&r);
    assert_int_equal(parse("{}", &r), 0);
    lc_proxy_spoll_reply_free(&r);
}

static void test_spoll_parse_garbage_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not json",
        "[1]",
        "{\"result\":{\"items\":{}}}",
        "{\"result\":{\"items\":[{\"data\":1}]}}",   /* no key */
        "{\"result\":{\"items\":[{\"key\":\"\"}]}}", /* empty key */
        "{\"result\":{\"items\":[{\"key\":\"k\",\"version\":-1}]}}",
        "{\"result\":{\"items\":[{\"key\":\"k\",\"b64data\":\"!!\"}]}}",
        "{\"result\":{\"items\":[{\"key\":\"k\",\"b64data\":\"bm90IGpzb24=\"}]}}", /* not JSON */
        "{\"result\":{\"items\":[1]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lc_spoll_reply_t r;
        assert_int_equal(parse(bad[i], &r), LC_EPARSE);
        lc_proxy_spoll_reply_free(&r);
    }
}

static void test_spoll_sig_documented_payload(void **state)
{
    (void)state;
    /* the documentation's recipe (Node's crypto, run by hand):
     *   keys_hash = sha256("a\0b"), mac = hmac_sha256("s3cret",
     *   "1700000000:1700003600:42:votes:feed:" + keys_hash) */
    const char *keys[] = {"a", "b"};
    char sig[200];
    assert_int_equal(lc_spoll_sig_make("s3cret", "42", "votes:feed", keys, 2, 1700000000,
                                       1700003600, sig, sizeof(sig)),
                     0);
    assert_string_equal(sig, "1700000000:1700003600:"
                             "aa7ce4c520d34e670b648cd221c90f9f74fa9173ddd01594df968cb33ee4eefd");
    lc_spoll_keys_t k = {"s3cret", NULL, 0};
    int64_t exp = -1;
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", keys, 2, sig, 1700000100, &exp),
                     0);
    assert_int_equal(exp, 1700003600);
    /* another user, channel, order, key or a touched mac */
    const char *swapped[] = {"b", "a"};
    assert_int_equal(lc_spoll_sig_verify(&k, "43", "votes:feed", keys, 2, sig, 1700000100, &exp),
                     LC_EINVAL);
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:x", keys, 2, sig, 1700000100, &exp),
                     LC_EINVAL);
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", swapped, 2, sig, 1700000100, &exp),
                     LC_EINVAL);
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", keys, 1, sig, 1700000100, &exp),
                     LC_EINVAL);
    lc_spoll_keys_t other = {"other", NULL, 0};
    assert_int_equal(
        lc_spoll_sig_verify(&other, "42", "votes:feed", keys, 2, sig, 1700000100, &exp), LC_EINVAL);
    char bad[200];
    snprintf(bad, sizeof(bad), "%s", sig);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", keys, 2, bad, 1700000100, &exp),
                     LC_EINVAL);
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", keys, 2, "1:2", 0, &exp),
                     LC_EINVAL);
    assert_int_equal(lc_spoll_sig_verify(&k, "42", "votes:feed", keys, 2, "", 0, &exp), LC_EINVAL);
}

static void test_spoll_sig_expiry_grace_and_rotation(void **state)
{
    (void)state;
    const char *keys[] = {"k"};
    char sig[200];
    assert_int_equal(lc_spoll_sig_make("old", "", "c", keys, 1, 1000, 2000, sig, sizeof(sig)), 0);
    lc_spoll_keys_t k = {"new", "old", 0};
    int64_t exp;
    /* the previous key during a rotation; the grace after exp; then expired */
    assert_int_equal(
        lc_spoll_sig_verify(&k, "", "c", keys, 1, sig, 2000 + LC_SPOLL_SIG_GRACE_S, &exp), 0);
    assert_int_equal(
        lc_spoll_sig_verify(&k, "", "c", keys, 1, sig, 2001 + LC_SPOLL_SIG_GRACE_S, &exp),
        LC_EEXPIRED);
    /* signatures issued after hmac_previous_secret_key_valid_until need the new key */
    lc_spoll_keys_t until = {"new", "old", 999};
    assert_int_equal(lc_spoll_sig_verify(&until, "", "c", keys, 1, sig, 1500, &exp), LC_EINVAL);
    /* exp 0: never expires */
    assert_int_equal(lc_spoll_sig_make("new", "", "c", keys, 1, 1000, 0, sig, sizeof(sig)), 0);
    assert_int_equal(lc_spoll_sig_verify(&k, "", "c", keys, 1, sig, INT64_C(1) << 40, &exp), 0);
    assert_int_equal(exp, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spoll_encode_versionless_and_versioned),
        cmocka_unit_test(test_spoll_parse_items_data_bytes_kept),
        cmocka_unit_test(test_spoll_parse_error_and_empty),
        cmocka_unit_test(test_spoll_parse_garbage_refused),
        cmocka_unit_test(test_spoll_sig_documented_payload),
        cmocka_unit_test(test_spoll_sig_expiry_grace_and_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
