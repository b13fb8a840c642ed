/* A client's map write shaped by its map proxy's result (core/map_result.c): what a write and
 * a removal take, and the results refused (too long key, idempotency_key or version_epoch, a
 * version on an ephemeral map); an empty key keeps the client's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "core/map_result.h"

static lc_map_write_req_t client_write(void)
{
    lc_map_write_req_t r;
    memset(&r, 0, sizeof(r));
    r.key = "sent";
    r.keylen = 4;
    r.pub.data = (lc_raw_t){"{}", 2};
    return r;
}

static void test_map_result_shapes_a_write(void **state)
{
    lc_ns_map_t mo = {.mode = LC_MAP_MODE_DURABLE, .max_key_length = 16};
    lc_map_result_t m = {.set = true,
                         .key = "deal-7",
                         .tags = "{\"a\":\"b\"}",
                         .tags_len = 9,
                         .has_score = true,
                         .score = -5,
                         .key_mode = "if_exists",
                         .stream_data = "[1]",
                         .stream_data_len = 3,
                         .idempotency_key = "op",
                         .version = 3,
                         .version_epoch = "e"};
    lc_map_write_req_t r = client_write();
    assert_null(lc__map_result_apply(&m, &mo, false, &r));
    assert_int_equal(r.keylen, 6);
    assert_memory_equal(r.key, "deal-7", 6);
    assert_int_equal(r.pub.tags.len, 9);
    assert_int_equal(r.pub.score, -5);
    assert_int_equal(r.key_mode, LC_MAP_KEY_IF_EXISTS);
    assert_int_equal(r.stream_data.len, 3);
    assert_string_equal(r.idempotency_key, "op");
    assert_int_equal(r.version, 3);
    assert_string_equal(r.version_epoch, "e");
    assert_int_equal(r.pub.data.len, 2); /* data is the verdict's, set by the caller */

    /* a removal takes the key, tags and idempotency_key only */
    r = client_write();
    assert_null(lc__map_result_apply(&m, &mo, true, &r));
    assert_memory_equal(r.key, "deal-7", 6);
    assert_string_equal(r.idempotency_key, "op");
    assert_int_equal(r.version, 0);
    assert_int_equal(r.key_mode, LC_MAP_KEY_ANY);
    assert_null(r.stream_data.p);
}

static void test_map_result_refusals(void **state)
{
    lc_ns_map_t mo = {.mode = LC_MAP_MODE_EPHEMERAL, .max_key_length = 4};
    char long_s[300];
    memset(long_s, 'x', sizeof(long_s) - 1);
    long_s[sizeof(long_s) - 1] = '\0';
    lc_map_result_t long_key = {.set = true, .key = "12345"};
    lc_map_result_t long_ik = {.set = true, .idempotency_key = long_s};
    lc_map_result_t long_ve = {.set = true, .version = 1, .version_epoch = long_s};
    lc_map_result_t eph_version = {.set = true, .version = 1};
    const lc_map_result_t *bad[] = {&long_key, &long_ik, &long_ve, &eph_version};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lc_map_write_req_t r = client_write();
        assert_non_null(lc__map_result_apply(bad[i], &mo, false, &r));
    }
    /* a removal ignores what it does not take; an empty key keeps the client's */
    lc_map_write_req_t r = client_write();
    assert_null(lc__map_result_apply(&eph_version, &mo, true, &r));
    lc_map_result_t empty_key = {.set = true, .key = ""};
    assert_null(lc__map_result_apply(&empty_key, &mo, false, &r));
    assert_int_equal(r.keylen, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_result_shapes_a_write),
        cmocka_unit_test(test_map_result_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
