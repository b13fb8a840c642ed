/* The strict JSON validator (proto/json_check.c): RFC 8259 grammar, UTF-8, depth, NUL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/json_check.h"
#include "proto/request.h"
#include "util/err.h"

/* Checked from an allocation of exactly the input's length so ASan sees any over-read. */
static bool check_n(const char *s, size_t n, lc_json_check_t *out)
{
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    bool ok = lc_json_check(p, n, out);
    free(p);
    return ok;
}

static bool check(const char *s)
{
    return check_n(s, strlen(s), NULL);
}

static void test_json_check_valid_texts_accepted(void **state)
{
    static const char *const ok[] = {"{}",
                                     "[]",
                                     "0",
                                     "-0",
                                     "1.5e10",
                                     "-12.25E-3",
                                     "1E+2",
                                     "\"\"",
                                     "true",
                                     "false",
                                     "null",
                                     " \t\r\n{ \"a\" : [ 1 , 2 , { } ] , \"b\" : null } \r\n",
                                     "{\"a\":{\"b\":{\"c\":[[]]}}}",
                                     "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\uD83D\\uDE00\"",
                                     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
                                     "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
                                     "1234567890123456789012345678901234567890",
                                     "{\"id\":1234567890123456789,\"price\":12.50}",
                                     "\"\x7f\"",
                                     "\"\\u0000\""};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!check(ok[i]))
            fail_msg("refused: %s", ok[i]);
    }
}

static void test_json_check_invalid_texts_refused(void **state)
{
    static const char *const bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\" 1}", "{a:1}", "[1 2]", "01",
        "1.", ".5", "1e", "+1", "-", "0x10", "NaN", "Infinity", "tru", "nul", "truex", "'a'",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\uDE00\"", "\"\\uD800\"",
        "\"\\uD800\\u0041\"", "\"\\uD800x\"", "{} {}", "{}x", "[1]]", "\xef\xbb\xbf{}", "\"\x01\"",
        "\"a\nb\"", "\"a\rb\"", "\"\t\"", "\x0c{}", "{}\x0b",
        /* invalid UTF-8: stray continuation, overlongs, surrogates, above U+10FFFF, cut */
        "\"\x80\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xe0\x9f\xbf\"",
        "\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"", "\"\xf0\x80\x80\xaf\"", "\"\xf4\x90\x80\x80\"",
        "\"\xf5\x80\x80\x80\"", "\"\xff\xfe\"", "\"\xe2\x82\"", "\"\xc3\"", "\"\xe2\x28\xa1\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (check(bad[i]))
            fail_msg("accepted: %s", bad[i]);
    }
    /* a raw NUL byte is a control character, inside or outside strings */
    assert_false(check_n("\"a\0b\"", 5, NULL));
    assert_false(check_n("{}\0", 3, NULL));
    assert_false(lc_json_check(NULL, 0, NULL));
}

static void test_json_check_failure_names_offset_and_reason(void **state)
{
    lc_json_check_t c;
    assert_false(check_n("{\"a\":\"x\x01\"}", 9, &c));
    assert_int_equal(c.at, 7);
    assert_string_equal(c.why, "raw control character in string");
    assert_false(check_n("[\"\xff\xfe\"]", 6, &c));
    assert_int_equal(c.at, 2);
    assert_string_equal(c.why, "invalid UTF-8");
}

static void test_json_check_depth_bounded(void **state)
{
    char buf[2 * (LC_JSON_MAX_DEPTH + 1)];
    lc_json_check_t c;
    size_t d = LC_JSON_MAX_DEPTH;

    memset(buf, '[', d);
    memset(buf + d, ']', d);
    assert_true(check_n(buf, 2 * d, NULL));
    memset(buf, '[', d + 1);
    memset(buf + d + 1, ']', d + 1);
    assert_false(check_n(buf, 2 * (d + 1), &c));
    assert_string_equal(c.why, "nested too deeply");
    /* a million opening brackets cost no stack */
    size_t big = 1000000;
    char *deep = malloc(big);
    assert_non_null(deep);
    memset(deep, '[', big);
    assert_false(lc_json_check(deep, big, NULL));
    free(deep);
}

static void test_json_check_object_only(void **state)
{
    assert_true(lc_json_check_object(" {\"a\":1}", 8, NULL));
    assert_false(lc_json_check_object("[1]", 3, NULL));
    assert_false(lc_json_check_object("\"{}\"", 4, NULL));
}

static void test_json_check_nul_reported(void **state)
{
    lc_json_check_t c;
    assert_true(check_n("{\"a\":\"x\"}", 9, &c));
    assert_false(c.nul);
    assert_true(check_n("{\"a\":\"x\\u0000\"}", 15, &c));
    assert_true(c.nul);
    /* an escaped backslash followed by u0000 is not a NUL */
    assert_true(check_n("{\"a\":\"\\\\u0000\"}", 15, &c));
    assert_false(c.nul);
}

static bool outside(const char *s, int level, const char *const *allow)
{
    return lc_json_nul_outside(s, strlen(s), level, allow);
}

static void test_json_nul_outside_payloads_only(void **state)
{
    static const char *const data[] = {"data", NULL};
    /* a command: the request's data may hold NUL, its channel not */
    assert_false(outside("{\"publish\":{\"channel\":\"a\",\"data\":\"x\\u0000\"}}", 2, data));
    assert_false(outside("{\"publish\":{\"channel\":\"a\",\"data\":{\"k\\u0000\":[\"\\u0000\"]}}}",
                         2, data));
    assert_true(outside("{\"publish\":{\"channel\":\"room\\u0000x\",\"data\":{}}}", 2, data));
    assert_true(outside("{\"publish\":{\"data\":{},\"channel\":\"room\\u0000x\"}}", 2, data));
    assert_true(outside("{\"publish\":{\"channel\\u0000x\":\"a\",\"data\":{}}}", 2, data));
    assert_true(outside("{\"connect\":{\"subs\":{\"a\\u0000\":{}}}}", 2, data));
    assert_true(outside("{\"connect\":{\"headers\":{\"a\":\"b\\u0000\"}}}", 2, data));
    /* data at another level is not a payload */
    assert_true(outside("{\"publish\":{\"x\":{\"data\":\"\\u0000\"}}}", 2, data));
    /* API params: level 1 */
    assert_false(outside("{\"channel\":\"a\",\"data\":[\"\\u0000\"]}", 1, data));
    assert_true(outside("{\"channel\":\"a\\u0000\",\"data\":1}", 1, data));
    assert_true(outside("{\"user\":\"\\u0000\"}", 1, NULL));
    assert_false(outside("{\"user\":\"\\\\u0000\"}", 1, NULL));
}

static void test_utf8_valid(void **state)
{
    assert_true(lc_utf8_valid("abc\xc3\xa9", 5));
    assert_false(lc_utf8_valid("\xff", 1));
    assert_false(lc_utf8_valid("\xed\xa0\x80", 3));
    assert_true(lc_utf8_valid("", 0));
}

static int decode_first(const char *s, size_t n)
{
    lc_cmd_reader_t r;
    lc_cmd_t cmd;
    char *p = malloc(n);
    assert_non_null(p);
    memcpy(p, s, n);
    lc_cmd_reader_init(&r, p, n);
    int rc = lc_cmd_reader_next(&r, &cmd);
    if (rc == 1)
        lc_cmd_free(&cmd);
    free(p);
    return rc;
}

#define DECODE(lit) decode_first(lit, sizeof(lit) - 1)

/* Commands are strict JSON, and NUL is only carried inside data. */
static void test_json_check_commands_strict(void **state)
{
    assert_int_equal(DECODE("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":{\"t\":\"ok\"}}}"),
                     1);
    assert_int_equal(
        DECODE("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":{\"t\":\"\xff\xfe\"}}}"),
        LC_EPARSE);
    assert_int_equal(DECODE("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":\"\x01\"}}"),
                     LC_EPARSE);
    assert_int_equal(DECODE("{\"id\":1,\"publish\":{\"channel\":\"room\\u0000x\",\"data\":{}}}"),
                     LC_EPARSE);
    assert_int_equal(DECODE("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":\"x\\u0000\"}}"), 1);
    assert_int_equal(DECODE("{\"id\":1,\"connect\":{\"token\":\"a\\u0000b\"}}"), LC_EPARSE);
    assert_int_equal(DECODE("{\"id\":1,\"connect\":{\"subs\":{\"c\\u0000\":{}}}}"), LC_EPARSE);
    /* cJSON would take a BOM and stray control bytes as whitespace */
    assert_int_equal(DECODE("\xef\xbb\xbf{\"id\":1}"), LC_EPARSE);
    assert_int_equal(DECODE("{\"id\":1}\x0b"), LC_EPARSE);
    lc_raw_t out;
    static const char *const path[] = {"a"};
    assert_int_equal(lc_json_raw_get("{\"a\":\"\xc0\xaf\"}", 8, path, 1, &out), LC_EPARSE);
}

static void test_json_check_transport_bodies(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_proto_uni_connect("{\"token\":\"t\",\r\n\"data\":{}}", 25, &b), 0);
    assert_string_equal(b.data, "{\"id\":1,\"connect\":{\"token\":\"t\",  \"data\":{}}}");
    lc_buf_reset(&b);
    assert_int_equal(lc_proto_uni_connect("null", 4, &b), 0);
    assert_string_equal(b.data, "{\"id\":1,\"connect\":{}}");
    lc_buf_reset(&b);
    assert_int_equal(lc_proto_uni_connect("[1]", 3, &b), LC_EPARSE);
    assert_int_equal(lc_proto_uni_connect("{\"token\":\"\xff\"}", 13, &b), LC_EPARSE);
    assert_int_equal(lc_proto_uni_connect("{\"token\":\"\\u0000\"}", 19, &b), LC_EPARSE);
    lc_buf_free(&b);

    lc_emulation_req_t er;
    const char *ok = "{\"session\":\"s\",\"node\":\"n\",\"data\":\"{\\\"id\\\":1}\"}";
    assert_int_equal(lc_proto_emulation_parse(ok, strlen(ok), &er), 0);
    assert_string_equal(er.session, "s");
    assert_string_equal(er.node, "n");
    assert_string_equal(er.data, "{\"id\":1}");
    lc_proto_emulation_free(&er);
    const char *nodata = "{\"session\":\"s\",\"data\":5}";
    assert_int_equal(lc_proto_emulation_parse(nodata, strlen(nodata), &er), 0);
    assert_string_equal(er.node, "");
    assert_null(er.data);
    lc_proto_emulation_free(&er);
    const char *nul = "{\"session\":\"s\",\"node\":\"n\",\"data\":\"{}\\u0000{}\"}";
    assert_int_equal(lc_proto_emulation_parse(nul, strlen(nul), &er), LC_EPARSE);
    assert_int_equal(lc_proto_emulation_parse("{\"session\":1}", 13, &er), LC_EPARSE);
    assert_int_equal(lc_proto_emulation_parse("{\"session\":\"\x80\"}", 14, &er), LC_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_check_valid_texts_accepted),
        cmocka_unit_test(test_json_check_invalid_texts_refused),
        cmocka_unit_test(test_json_check_failure_names_offset_and_reason),
        cmocka_unit_test(test_json_check_depth_bounded),
        cmocka_unit_test(test_json_check_object_only),
        cmocka_unit_test(test_json_check_nul_reported),
        cmocka_unit_test(test_json_nul_outside_payloads_only),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_json_check_commands_strict),
        cmocka_unit_test(test_json_check_transport_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
