/* Byte-exact member removal (proto/json_edit.c): what stays is the input's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/json_edit.h"
#include "util/err.h"

/* Remove `key` from `in`; expect `want` (NULL: nothing removed) and the removed value. */
static void check(const char *in, const char *key, const char *want, const char *value)
{
    lc_buf_t out = LC_BUF_INIT;
    lc_raw_t v;
    int rc = lc_json_remove_member(in, strlen(in), key, &out, &v);
    if (!want) {
        assert_int_equal(rc, 0);
        assert_int_equal(out.len, 0);
        assert_null(v.p);
        return;
    }
    assert_int_equal(rc, 1);
    lc_buf_putc(&out, '\0');
    assert_string_equal(out.data, want);
    if (value) {
        assert_int_equal(v.len, strlen(value));
        assert_memory_equal(v.p, value, v.len);
    }
    lc_buf_free(&out);
}

static void test_big_numbers_and_decimals_stay_as_written(void **state)
{
    check("{\"id\":1234567890123456789,\"price\":12.50,\"socket\":\"1\"}", "socket",
          "{\"id\":1234567890123456789,\"price\":12.50}", "\"1\"");
    check("{\"socket\":\"77.88\",\"id\":1234567890123456789,\"x\":1e400,\"y\":-0.0}", "socket",
          "{\"id\":1234567890123456789,\"x\":1e400,\"y\":-0.0}", "\"77.88\"");
}

static void test_unicode_escapes_and_nesting_untouched(void **state)
{
    check("{\"name\":\"caf\\u00e9 \\ud83d\\ude00\",\"socket\":\"s\\u002d1\",\"n\":{\"socket\":"
          "\"inner\",\"a\":[1,{\"b\":\"}\\\"]\"}]}}",
          "socket",
          "{\"name\":\"caf\\u00e9 \\ud83d\\ude00\",\"n\":{\"socket\":\"inner\",\"a\":[1,{\"b\":"
          "\"}\\\"]\"}]}}",
          "\"s\\u002d1\"");
    /* a nested value that is itself an object is removed whole */
    check("{\"a\":1,\"socket\":{\"x\":[1,2,{\"y\":\"}\"}]},\"b\":2}", "socket", "{\"a\":1,\"b\":2}",
          NULL);
    /* an escaped key is the same key */
    check("{\"a\":1,\"so\\u0063ket\":\"z\"}", "socket", "{\"a\":1}", "\"z\"");
}

static void test_position_and_whitespace(void **state)
{
    check("{\"socket\":\"1\"}", "socket", "{}", "\"1\"");
    check("{ \"socket\" : \"1\" , \"a\" : 1 }", "socket", "{ \"a\" : 1 }", NULL);
    check("{\"a\":1, \"socket\":null}", "socket", "{\"a\":1}", "null");
    check("{\"a\":1,\"socket\":1,\"b\":2,\"socket\":2}", "socket", "{\"a\":1,\"b\":2}", "1");
    check("{\"a\":1,\"socket\":1,\"socket\":2}", "socket", "{\"a\":1}", "1");
    check("{\"socket\":1,\"socket\":2}", "socket", "{}", "1");
    check("\n {\"socket\":true,\"a\":[]} \n", "socket", "\n {\"a\":[]} \n", "true");
}

static void test_nothing_to_remove_or_not_an_object(void **state)
{
    check("{\"a\":1,\"n\":{\"socket\":1}}", "socket", NULL, NULL);
    check("{}", "socket", NULL, NULL);
    lc_buf_t out = LC_BUF_INIT;
    const char *bad[] = {"[\"socket\"]",  "\"socket\"", "{\"socket\":}",
                         "{\"socket\":1", "{\"a\":1}x", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(lc_json_remove_member(bad[i], strlen(bad[i]), "socket", &out, NULL),
                         LC_EPARSE);
    assert_int_equal(out.len, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_numbers_and_decimals_stay_as_written),
        cmocka_unit_test(test_unicode_escapes_and_nesting_untouched),
        cmocka_unit_test(test_position_and_whitespace),
        cmocka_unit_test(test_nothing_to_remove_or_not_an_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
