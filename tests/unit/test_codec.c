/* Client protocol JSON codec: command reader, raw value finder, reply/push encoders, codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/codec.h"
#include "proto/codes.h"
#include "util/err.h"

/* Inputs are copied to an allocation of exactly their length (no NUL after them) so that the
 * sanitizer catches any read past the end of a frame. */
typedef struct frame {
    char *p;
    size_t len;
} frame_t;

static frame_t frame_of(const char *s)
{
    frame_t f = {malloc(strlen(s) + 1), strlen(s)};
    assert_non_null(f.p);
    memcpy(f.p, s, f.len);
    return f;
}

/* Decode a frame holding exactly one command. */
static void decode_one(const char *s, lc_cmd_t *cmd)
{
    frame_t f = frame_of(s);
    lc_cmd_reader_t r;
    lc_cmd_t extra;

    lc_cmd_reader_init(&r, f.p, f.len);
    assert_int_equal(lc_cmd_reader_next(&r, cmd), 1);
    assert_int_equal(lc_cmd_reader_next(&r, &extra), 0);
    /* the command owns a copy: the frame may go away */
    memset(f.p, 'x', f.len);
    free(f.p);
}

/* The result of the first reader call on a one-line frame. */
static int first_result(const char *s)
{
    frame_t f = frame_of(s);
    lc_cmd_reader_t r;
    lc_cmd_t cmd;

    lc_cmd_reader_init(&r, f.p, f.len);
    int rc = lc_cmd_reader_next(&r, &cmd);
    if (rc == 1)
        lc_cmd_free(&cmd);
    free(f.p);
    return rc;
}

static void assert_raw(const lc_raw_t *raw, const char *want)
{
    assert_non_null(raw->p);
    assert_int_equal(raw->len, strlen(want));
    assert_memory_equal(raw->p, want, raw->len);
}

/* ---- reader ---- */

static void test_reader_single_command_decoded(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":1,\"subscribe\":{\"channel\":\"chat:index\"}}", &cmd);
    assert_int_equal(cmd.id, 1);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_string_equal(cmd.channel, "chat:index");
    assert_null(cmd.token);
    assert_null(cmd.data.p);
    lc_cmd_free(&cmd);
}

static void check_connect_and_two_subscribes(const char *s)
{
    frame_t f = frame_of(s);
    lc_cmd_reader_t r;
    lc_cmd_t cmd;

    lc_cmd_reader_init(&r, f.p, f.len);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_CONNECT);
    assert_int_equal(cmd.id, 1);
    assert_string_equal(cmd.token, "eyJ");
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_int_equal(cmd.id, 2);
    assert_string_equal(cmd.channel, "a");
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_int_equal(cmd.id, 3);
    assert_string_equal(cmd.channel, "b");
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 0);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 0);
    free(f.p);
}

static void test_reader_multi_command_frame_processed_in_order(void **state)
{
    check_connect_and_two_subscribes("{\"id\":1,\"connect\":{\"token\":\"eyJ\",\"name\":\"js\"}}\n"
                                     "{\"id\":2,\"subscribe\":{\"channel\":\"a\",\"flag\":1}}\n"
                                     "{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}");
    check_connect_and_two_subscribes("{\"id\":1,\"connect\":{\"token\":\"eyJ\",\"name\":\"js\"}}\n"
                                     "{\"id\":2,\"subscribe\":{\"channel\":\"a\",\"flag\":1}}\n"
                                     "{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}\n");
}

static void test_reader_crlf_separator_tolerated(void **state)
{
    check_connect_and_two_subscribes("{\"id\":1,\"connect\":{\"token\":\"eyJ\"}}\r\n"
                                     "{\"id\":2,\"subscribe\":{\"channel\":\"a\"}}\r\n"
                                     "{\"id\":3,\"subscribe\":{\"channel\":\"b\"}}\r\n");
}

static void test_reader_empty_message_returns_end(void **state)
{
    lc_cmd_reader_t r;
    lc_cmd_t cmd;

    lc_cmd_reader_init(&r, NULL, 0);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 0);
    lc_cmd_reader_init(&r, "", 0);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 0);
}

static void test_reader_connect_fields_decoded(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":7,\"connect\":{\"token\":\"t.k.n\",\"name\":\"js\",\"version\":\"1.2\","
               "\"data\":{\"a\": [1, 2]},\"subs\":{\"x\":{\"recover\":true}},\"headers\":{}}}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_CONNECT);
    assert_int_equal(cmd.id, 7);
    assert_string_equal(cmd.token, "t.k.n");
    assert_string_equal(cmd.name, "js");
    assert_string_equal(cmd.version, "1.2");
    assert_raw(&cmd.data, "{\"a\": [1, 2]}");
    lc_cmd_free(&cmd);
}

static void test_reader_subscribe_fields_decoded(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":2,\"subscribe\":{\"channel\":\"news\",\"token\":\"st\",\"recover\":true,"
               "\"epoch\":\"qFhv\",\"offset\":18446744073709551615,\"data\":\"hello\","
               "\"positioned\":true,\"recoverable\":true,\"join_leave\":true,\"flag\":1,"
               "\"tf\":{\"x\":1},\"delta\":\"fossil\"}}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_string_equal(cmd.channel, "news");
    assert_string_equal(cmd.token, "st");
    assert_true(cmd.recover);
    assert_string_equal(cmd.epoch, "qFhv");
    assert_true(cmd.offset == UINT64_MAX);
    assert_raw(&cmd.data, "\"hello\"");
    assert_true(cmd.positioned);
    assert_true(cmd.recoverable);
    assert_true(cmd.join_leave);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":2,\"subscribe\":{\"channel\":\"n\",\"offset\":9007199254740993,"
               "\"recover\":false}}",
               &cmd);
    assert_true(cmd.offset == 9007199254740993ull);
    assert_false(cmd.recover);
    assert_false(cmd.positioned);
    lc_cmd_free(&cmd);
}

static void test_reader_channel_requests_decoded(void **state)
{
    static const struct {
        const char *json;
        lc_cmd_type type;
    } cases[] = {
        {"{\"id\":3,\"unsubscribe\":{\"channel\":\"c1\"}}", LC_CMD_UNSUBSCRIBE},
        {"{\"id\":3,\"presence\":{\"channel\":\"c1\"}}", LC_CMD_PRESENCE},
        {"{\"id\":3,\"presence_stats\":{\"channel\":\"c1\"}}", LC_CMD_PRESENCE_STATS},
    };
    lc_cmd_t cmd;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        decode_one(cases[i].json, &cmd);
        assert_int_equal(cmd.type, cases[i].type);
        assert_int_equal(cmd.id, 3);
        assert_string_equal(cmd.channel, "c1");
        lc_cmd_free(&cmd);
    }
}

static void test_reader_publish_data_preserved_byte_for_byte(void **state)
{
    static const char data[] = "{\"n\":12345678901234567890,\"f\":1.50,\"e\":1E+2,"
                               "\"s\":\"a\\\"}\\\\\\u00e9\",\"l\":[ {\"data\":0}, [], {} ],"
                               "\"z\":null}";
    char json[512];
    lc_cmd_t cmd;

    snprintf(json, sizeof(json), "{\"id\":4,\"publish\":{\"channel\":\"c\",\"data\":%s }}", data);
    decode_one(json, &cmd);
    assert_int_equal(cmd.type, LC_CMD_PUBLISH);
    assert_string_equal(cmd.channel, "c");
    assert_raw(&cmd.data, data);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":4,\"publish\":{\"data\":-0.000e-5,\"channel\":\"c\"}}", &cmd);
    assert_raw(&cmd.data, "-0.000e-5");
    lc_cmd_free(&cmd);
}

static void test_reader_null_data_absent(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":4,\"publish\":{\"channel\":\"c\",\"data\":null}}", &cmd);
    assert_null(cmd.data.p);
    assert_int_equal(cmd.data.len, 0);
    lc_cmd_free(&cmd);
}

static void test_reader_history_fields_decoded(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":5,\"history\":{\"channel\":\"h\",\"limit\":10,"
               "\"since\":{\"offset\":42,\"epoch\":\"ep\"},\"reverse\":true}}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_HISTORY);
    assert_string_equal(cmd.channel, "h");
    assert_true(cmd.has_limit);
    assert_int_equal(cmd.limit, 10);
    assert_true(cmd.has_since);
    assert_int_equal(cmd.since_offset, 42);
    assert_string_equal(cmd.since_epoch, "ep");
    assert_true(cmd.reverse);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":5,\"history\":{\"channel\":\"h\",\"limit\":-2147483648}}", &cmd);
    assert_true(cmd.has_limit);
    assert_int_equal(cmd.limit, INT32_MIN);
    assert_false(cmd.has_since);
    assert_false(cmd.reverse);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":5,\"history\":{\"channel\":\"h\",\"since\":null}}", &cmd);
    assert_false(cmd.has_limit);
    assert_false(cmd.has_since);
    lc_cmd_free(&cmd);
}

static void test_reader_rpc_send_refresh_decoded(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":6,\"rpc\":{\"method\":\"getUser\",\"data\":[1,\"x\"]}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_RPC);
    assert_string_equal(cmd.method, "getUser");
    assert_raw(&cmd.data, "[1,\"x\"]");
    lc_cmd_free(&cmd);

    decode_one("{\"send\":{\"data\":{\"k\":true}}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_SEND);
    assert_int_equal(cmd.id, 0);
    assert_raw(&cmd.data, "{\"k\":true}");
    lc_cmd_free(&cmd);

    decode_one("{\"id\":8,\"refresh\":{\"token\":\"new\"}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_REFRESH);
    assert_string_equal(cmd.token, "new");
    lc_cmd_free(&cmd);

    decode_one("{\"id\":9,\"sub_refresh\":{\"channel\":\"c\",\"token\":\"st2\"}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_SUB_REFRESH);
    assert_string_equal(cmd.channel, "c");
    assert_string_equal(cmd.token, "st2");
    lc_cmd_free(&cmd);
}

static void test_reader_empty_command_is_none(void **state)
{
    lc_cmd_t cmd;

    decode_one("{}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_NONE);
    assert_int_equal(cmd.id, 0);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":5}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_NONE);
    assert_int_equal(cmd.id, 5);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":4294967295,\"ping\":{}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_NONE);
    assert_int_equal(cmd.id, UINT32_MAX);
    lc_cmd_free(&cmd);
}

static void test_reader_unknown_fields_ignored(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"type\":3,\"id\":2,\"tf\":[1],\"subscribe\":{\"channel\":\"c\",\"flag\":3,"
               "\"type\":0,\"extra\":{\"channel\":5}},\"flag\":1}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_int_equal(cmd.id, 2);
    assert_string_equal(cmd.channel, "c");
    /* subscribe's own v6.x fields are read: flag bits, type, delta, tf */
    assert_int_equal(cmd.flag, 3);
    assert_int_equal(cmd.sub_type, 0);
    lc_cmd_free(&cmd);
    decode_one("{\"id\":3,\"subscribe\":{\"channel\":\"c\",\"delta\":\"fossil\",\"type\":2,"
               "\"tf\":{\"key\":\"k\",\"cmp\":\"eq\",\"val\":\"v\"}}}",
               &cmd);
    assert_string_equal(cmd.delta, "fossil");
    assert_int_equal(cmd.sub_type, 2);
    assert_string_equal(cmd.tf, "{\"key\":\"k\",\"cmp\":\"eq\",\"val\":\"v\"}");
    lc_cmd_free(&cmd);
}

static void test_reader_two_requests_first_in_order_wins(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":1,\"subscribe\":{\"channel\":\"s\"},\"connect\":{\"token\":\"t\"}}", &cmd);
    assert_int_equal(cmd.type, LC_CMD_CONNECT);
    assert_string_equal(cmd.token, "t");
    assert_null(cmd.channel);
    lc_cmd_free(&cmd);

    decode_one("{\"id\":1,\"connect\":null,\"publish\":{\"channel\":\"p\",\"data\":1},"
               "\"subscribe\":{\"channel\":\"s\"}}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_SUBSCRIBE);
    assert_string_equal(cmd.channel, "s");
    assert_null(cmd.data.p);
    lc_cmd_free(&cmd);
}

static void test_reader_duplicate_keys_first_wins(void **state)
{
    lc_cmd_t cmd;

    decode_one("{\"id\":1,\"publish\":{\"channel\":\"a\",\"data\":1,\"data\":2},"
               "\"publish\":{\"channel\":\"b\",\"data\":3}}",
               &cmd);
    assert_string_equal(cmd.channel, "a");
    assert_raw(&cmd.data, "1");
    lc_cmd_free(&cmd);

    /* an escaped key is the same key once decoded */
    decode_one("{\"id\":1,\"publish\":{\"channel\":\"a\",\"d\\u0061ta\":[1],\"data\":2}}", &cmd);
    assert_raw(&cmd.data, "[1]");
    lc_cmd_free(&cmd);
}

static void test_reader_malformed_input_parse_error(void **state)
{
    static const char *const bad[] = {
        "not json",
        "[1,2]",
        "\"str\"",
        "42",
        "{\"id\":\"1\",\"connect\":{}}",
        "{\"id\":-1,\"connect\":{}}",
        "{\"id\":1.5,\"connect\":{}}",
        "{\"id\":1e2,\"connect\":{}}",
        "{\"id\":4294967296,\"connect\":{}}",
        "{\"id\":true}",
        "{\"id\":1,\"subscribe\":5}",
        "{\"id\":1,\"connect\":[]}",
        "{\"id\":1,\"subscribe\":{\"channel\":\"c\"}",
        "{\"id\":1,\"subscribe\":{\"channel\":5}}",
        "{\"id\":1,\"subscribe\":{\"channel\":\"c\",\"offset\":\"5\"}}",
        "{\"id\":1,\"subscribe\":{\"channel\":\"c\",\"offset\":-5}}",
        "{\"id\":1,\"subscribe\":{\"channel\":\"c\",\"offset\":18446744073709551616}}",
        "{\"id\":1,\"subscribe\":{\"channel\":\"c\",\"recover\":1}}",
        "{\"id\":1,\"connect\":{\"token\":{}}}",
        "{\"id\":1,\"history\":{\"channel\":\"c\",\"limit\":2147483648}}",
        "{\"id\":1,\"history\":{\"channel\":\"c\",\"limit\":1.5}}",
        "{\"id\":1,\"history\":{\"channel\":\"c\",\"since\":5}}",
        "{\"id\":1,\"history\":{\"channel\":\"c\",\"since\":{\"offset\":\"1\"}}}",
        "{\"id\":1,\"history\":{\"channel\":\"c\",\"reverse\":\"yes\"}}",
        "{\"id\":1} {\"id\":2}",
        "{\"id\":1}x",
        "{\"id\":1,}",
        "{\"id\":01x}",
        " ",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = first_result(bad[i]);
        if (rc != LC_EPARSE)
            fail_msg("input %zu accepted (%d): %s", i, rc, bad[i]);
    }
}

static void test_reader_empty_line_between_objects_parse_error(void **state)
{
    frame_t f = frame_of("{\"id\":1}\n\n{\"id\":2}");
    lc_cmd_reader_t r;
    lc_cmd_t cmd;

    lc_cmd_reader_init(&r, f.p, f.len);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 1);
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), LC_EPARSE);
    free(f.p);

    /* a frame made of a newline alone has one empty object */
    assert_int_equal(first_result("\n"), LC_EPARSE);
}

static void test_reader_garbage_after_valid_line_first_returned(void **state)
{
    frame_t f = frame_of("{\"id\":1,\"connect\":{}}\n{\"id\":2,\"subscr");
    lc_cmd_reader_t r;
    lc_cmd_t cmd;

    lc_cmd_reader_init(&r, f.p, f.len);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_CONNECT);
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), LC_EPARSE);
    /* the failed command holds nothing; freeing it again is harmless */
    lc_cmd_free(&cmd);
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), 0);
    free(f.p);
}

/* ---- raw value finder ---- */

static void test_raw_get_nested_path_exact_span(void **state)
{
    static const char json[] = " { \"a\" : \"}\\\"{\" , \"b\":{\"x\":[{\"c\":1}],\"c\" :  "
                               "{\"d\": 1.50 } } } ";
    const char *path[] = {"b", "c", "d"};
    lc_raw_t out = {0};

    assert_int_equal(lc_json_raw_get(json, strlen(json), path, 2, &out), 1);
    assert_raw(&out, "{\"d\": 1.50 }");
    assert_int_equal(lc_json_raw_get(json, strlen(json), path, 3, &out), 1);
    assert_raw(&out, "1.50");
    assert_int_equal(lc_json_raw_get(json, strlen(json), path, 0, &out), 1);
    assert_int_equal(out.p[0], '{');
    assert_int_equal(out.p[out.len - 1], '}');
    const char *a[] = {"a"};
    assert_int_equal(lc_json_raw_get(json, strlen(json), a, 1, &out), 1);
    assert_raw(&out, "\"}\\\"{\"");
}

static void test_raw_get_absent_or_null_returns_zero(void **state)
{
    static const char json[] = "{\"a\":null,\"b\":5,\"c\":{\"d\":true}}";
    const char *p1[] = {"a"};
    const char *p2[] = {"b", "x"};
    const char *p3[] = {"c", "e"};
    const char *p4[] = {"zz"};
    lc_raw_t out = {0};

    assert_int_equal(lc_json_raw_get(json, strlen(json), p1, 1, &out), 0);
    assert_int_equal(lc_json_raw_get(json, strlen(json), p2, 2, &out), 0);
    assert_int_equal(lc_json_raw_get(json, strlen(json), p3, 2, &out), 0);
    assert_int_equal(lc_json_raw_get(json, strlen(json), p4, 1, &out), 0);
}

static void test_raw_get_invalid_json_parse_error(void **state)
{
    const char *p[] = {"a"};
    lc_raw_t out = {0};

    assert_int_equal(lc_json_raw_get("{\"a\":1", 6, p, 1, &out), LC_EPARSE);
    assert_int_equal(lc_json_raw_get("{\"a\":1}}", 8, p, 1, &out), LC_EPARSE);
    assert_int_equal(lc_json_raw_get("", 0, p, 1, &out), LC_EPARSE);
    /* the length bounds the input: a valid prefix followed by more bytes */
    assert_int_equal(lc_json_raw_get("{\"a\":12}", 7, p, 1, &out), LC_EPARSE);
    assert_int_equal(lc_json_raw_get("{\"a\":12} garbage", 8, p, 1, &out), 1);
    assert_raw(&out, "12");
}

/* ---- encoders ---- */

static void assert_buf(lc_buf_t *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_string_equal(b->data, want);
    lc_buf_reset(b);
}

static lc_raw_t raw(const char *s)
{
    lc_raw_t r = {s, s ? strlen(s) : 0};
    return r;
}

static void test_encode_error_reply_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;

    assert_int_equal(lc_proto_reply_error(&b, 3, 103, "permission denied", false), 0);
    assert_buf(&b, "{\"id\":3,\"error\":{\"code\":103,\"message\":\"permission denied\"}}");
    assert_int_equal(lc_proto_reply_error(&b, 4294967295u, 100, "internal server error", true), 0);
    assert_buf(&b, "{\"id\":4294967295,\"error\":{\"code\":100,\"message\":\"internal server "
                   "error\",\"temporary\":true}}");
    assert_int_equal(lc_proto_reply_error(&b, 9, 111, NULL, lc_error_temporary(111)), 0);
    assert_buf(&b, "{\"id\":9,\"error\":{\"code\":111,\"message\":\"too many "
                   "requests\",\"temporary\":true}}");
    assert_int_equal(lc_proto_reply_error(&b, 0, 400, "custom \"x\"", false), 0);
    assert_buf(&b, "{\"error\":{\"code\":400,\"message\":\"custom \\\"x\\\"\"}}");
    lc_buf_free(&b);
}

static void test_encode_connect_reply_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_connect_result_t r = {.client = "9f3c",
                             .version = "6.1.0 OSS",
                             .expires = true,
                             .ttl = 3599,
                             .ping = 25,
                             .pong = true};

    assert_int_equal(lc_proto_reply_connect(&b, 1, &r), 0);
    assert_buf(&b, "{\"id\":1,\"connect\":{\"client\":\"9f3c\",\"version\":\"6.1.0 "
                   "OSS\",\"expires\":true,\"ttl\":3599,\"ping\":25,\"pong\":true}}");

    lc_connect_result_t plain = {.client = "c", .version = "v"};
    assert_int_equal(lc_proto_reply_connect(&b, 1, &plain), 0);
    assert_buf(&b, "{\"id\":1,\"connect\":{\"client\":\"c\",\"version\":\"v\"}}");

    lc_connect_result_t full = {.client = "c",
                                .version = "v",
                                .data = raw("{\"a\":\n1}"),
                                .ping = 25,
                                .time_ms = 1700000000123};
    assert_int_equal(lc_proto_reply_connect(&b, 2, &full), 0);
    assert_buf(&b, "{\"id\":2,\"connect\":{\"client\":\"c\",\"version\":\"v\",\"data\":{\"a\":1},"
                   "\"ping\":25,\"time\":1700000000123}}");
    lc_buf_free(&b);
}

static void test_encode_subscribe_reply_zero_omitted(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_subscribe_result_t empty = {0};
    lc_subscribe_result_t pos = {
        .recoverable = true, .epoch = "qFhv", .offset = 4, .positioned = true};
    lc_subscribe_result_t all = {.expires = true,
                                 .ttl = 60,
                                 .recoverable = true,
                                 .epoch = "e",
                                 .offset = 18446744073709551615ull,
                                 .recovered = true,
                                 .was_recovering = true,
                                 .positioned = true,
                                 .data = raw("[1]")};
    lc_subscribe_result_t empty_epoch = {.epoch = ""};

    assert_int_equal(lc_proto_reply_subscribe(&b, 2, &empty), 0);
    assert_buf(&b, "{\"id\":2,\"subscribe\":{}}");
    assert_int_equal(lc_proto_reply_subscribe(&b, 2, &empty_epoch), 0);
    assert_buf(&b, "{\"id\":2,\"subscribe\":{}}");
    assert_int_equal(lc_proto_reply_subscribe(&b, 2, &pos), 0);
    assert_buf(&b, "{\"id\":2,\"subscribe\":{\"recoverable\":true,\"epoch\":\"qFhv\",\"offset\":4,"
                   "\"positioned\":true}}");
    assert_int_equal(lc_proto_reply_subscribe(&b, 3, &all), 0);
    assert_buf(&b, "{\"id\":3,\"subscribe\":{\"expires\":true,\"ttl\":60,\"recoverable\":true,"
                   "\"epoch\":\"e\",\"recovered\":true,\"offset\":18446744073709551615,"
                   "\"positioned\":true,\"data\":[1],\"was_recovering\":true}}");
    lc_buf_free(&b);
}

static void test_encode_empty_reply_and_ping_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;

    assert_int_equal(lc_proto_reply_empty(&b, 5, "unsubscribe"), 0);
    assert_buf(&b, "{\"id\":5,\"unsubscribe\":{}}");
    assert_int_equal(lc_proto_reply_empty(&b, 0, "publish"), 0);
    assert_buf(&b, "{\"publish\":{}}");
    assert_int_equal(lc_proto_ping(&b), 0);
    assert_buf(&b, "{}");
    lc_buf_free(&b);
}

static void test_encode_pub_push_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_publication_t p = {.data = raw("{\"text\":\"hi\"}"), .offset = 5};

    assert_int_equal(lc_proto_push_pub(&b, "chat:index", 10, &p), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"chat:index\",\"pub\":{\"data\":{\"text\":\"hi\"},"
                   "\"offset\":5}}}");

    lc_client_info_t ci = {.user = "42", .client = "b1c2"};
    lc_publication_t q = {.data = raw("{\"x\":1}"), .info = &ci, .tags = raw("{\"k\":\"v\"}")};
    assert_int_equal(lc_proto_push_pub(&b, "chat:index", 10, &q), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"chat:index\",\"pub\":{\"data\":{\"x\":1},\"info\":{"
                   "\"user\":\"42\",\"client\":\"b1c2\"},\"tags\":{\"k\":\"v\"}}}}");

    lc_client_info_t ci2 = {
        .user = "", .client = "c", .conn_info = raw("{\"n\":1}"), .chan_info = raw("[2]")};
    lc_publication_t r = {.data = raw("7"), .info = &ci2, .offset = 1, .tags = raw(" { } ")};
    /* channel length bounds the name: "abc" from a longer string */
    assert_int_equal(lc_proto_push_pub(&b, "abcdef", 3, &r), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"abc\",\"pub\":{\"data\":7,\"info\":{\"user\":\"\","
                   "\"client\":\"c\",\"conn_info\":{\"n\":1},\"chan_info\":[2]},\"offset\":1}}}");
    lc_buf_free(&b);
}

/* LF, only whitespace in strict JSON, is dropped for the newline framing; CR is kept. */
static void test_encode_raw_newlines_stripped(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_publication_t p = {.data = raw("{\n  \"a\": [1,\r\n 2]\n}\n")};

    assert_int_equal(lc_proto_push_pub(&b, "c", 1, &p), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"c\",\"pub\":{\"data\":{  \"a\": [1,\r 2]}}}}");
    assert_int_equal(lc_proto_append_raw(&b, "\n\n", 2), 0);
    assert_int_equal(b.len, 0);
    assert_int_equal(lc_proto_append_raw(&b, "[1]", 3), 0);
    assert_buf(&b, "[1]");
    lc_buf_free(&b);
}

static void test_encode_strings_escaped(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_connect_result_t r = {.client = "q\"b\\s\x01\n\t/é€", .version = "v"};

    assert_int_equal(lc_proto_reply_connect(&b, 1, &r), 0);
    assert_buf(&b, "{\"id\":1,\"connect\":{\"client\":\"q\\\"b\\\\s\\u0001\\n\\t/é€\","
                   "\"version\":\"v\"}}");

    assert_int_equal(lc_proto_push_unsubscribe(&b, "ch\"1", 2000, "server unsubscribe"), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"ch\\\"1\",\"unsubscribe\":{\"code\":2000,"
                   "\"reason\":\"server unsubscribe\"}}}");
    assert_int_equal(lc_proto_push_unsubscribe(&b, "c", 2500, NULL), 0);
    assert_buf(&b, "{\"push\":{\"channel\":\"c\",\"unsubscribe\":{\"code\":2500,"
                   "\"reason\":\"insufficient state\"}}}");
    lc_buf_free(&b);
}

static void test_encode_appends_after_existing_content(void **state)
{
    lc_buf_t b = LC_BUF_INIT;

    assert_int_equal(lc_proto_reply_empty(&b, 1, "publish"), 0);
    assert_int_equal(lc_buf_putc(&b, '\n'), 0);
    assert_int_equal(lc_proto_ping(&b), 0);
    assert_buf(&b, "{\"id\":1,\"publish\":{}}\n{}");
    lc_buf_free(&b);
}

/* ---- codes ---- */

static void test_codes_messages_and_reasons(void **state)
{
    assert_string_equal(lc_error_message(LC_ERROR_PERMISSION_DENIED), "permission denied");
    assert_string_equal(lc_error_message(112), "unrecoverable position");
    assert_string_equal(lc_error_message(400), "");
    assert_true(lc_error_temporary(100));
    assert_true(lc_error_temporary(111));
    assert_false(lc_error_temporary(103));
    assert_false(lc_error_temporary(400));
    assert_string_equal(lc_disconnect_reason(LC_DISCONNECT_BAD_REQUEST), "bad request");
    assert_string_equal(lc_disconnect_reason(3012), "no pong");
    assert_string_equal(lc_disconnect_reason(3000), "");
    assert_string_equal(lc_unsubscribe_reason(2000), "server unsubscribe");
    assert_string_equal(lc_unsubscribe_reason(2501), "subscription expired");
    assert_string_equal(lc_unsubscribe_reason(0), "");
}

static void test_reader_connect_subs_decoded(void **state)
{
    lc_cmd_t cmd;
    decode_one("{\"id\":1,\"connect\":{\"token\":\"t\",\"subs\":{\"news\":{\"recover\":true,"
               "\"offset\":18446744073709551615,\"epoch\":\"ab\"},\"#42\":{}}}}",
               &cmd);
    assert_int_equal(cmd.type, LC_CMD_CONNECT);
    assert_int_equal(cmd.n_subs, 2);
    const lc_cmd_sub_t *n = lc_cmd_find_sub(&cmd, "news");
    assert_non_null(n);
    assert_true(n->recover);
    assert_true(n->offset == UINT64_MAX);
    assert_string_equal(n->epoch, "ab");
    const lc_cmd_sub_t *p = lc_cmd_find_sub(&cmd, "#42");
    assert_non_null(p);
    assert_false(p->recover);
    assert_null(lc_cmd_find_sub(&cmd, "other"));
    lc_cmd_free(&cmd);

    lc_cmd_reader_t r;
    const char *bad = "{\"id\":1,\"connect\":{\"subs\":{\"news\":5}}}";
    lc_cmd_reader_init(&r, bad, strlen(bad));
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), LC_EPARSE);
    const char *bad2 = "{\"id\":1,\"connect\":{\"subs\":[1]}}";
    lc_cmd_reader_init(&r, bad2, strlen(bad2));
    assert_int_equal(lc_cmd_reader_next(&r, &cmd), LC_EPARSE);
}

static void test_encode_subscribe_with_publications_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *p1 = lc_rcbuf_from("{\"data\":1,\"offset\":4}", 21);
    lc_rcbuf_t *p2 = lc_rcbuf_from("{\"data\":2,\"offset\":5}", 21);
    lc_rcbuf_t *pubs[] = {p1, p2};
    lc_subscribe_result_t r = {.recoverable = true,
                               .positioned = true,
                               .epoch = "xyz",
                               .offset = 3,
                               .recovered = true,
                               .was_recovering = true,
                               .publications = pubs,
                               .n_publications = 2};
    assert_int_equal(lc_proto_reply_subscribe(&b, 2, &r), 0);
    assert_string_equal(b.data, "{\"id\":2,\"subscribe\":{\"recoverable\":true,\"epoch\":\"xyz\","
                                "\"publications\":[{\"data\":1,\"offset\":4},{\"data\":2,"
                                "\"offset\":5}],\"recovered\":true,\"offset\":3,"
                                "\"positioned\":true,\"was_recovering\":true}}");
    lc_buf_reset(&b);
    lc_subscribe_result_t plain = {0};
    assert_int_equal(lc_proto_push_subscribe(&b, "news", &plain), 0);
    assert_string_equal(b.data, "{\"push\":{\"channel\":\"news\",\"subscribe\":{}}}");
    lc_rcbuf_unref(p1);
    lc_rcbuf_unref(p2);
    lc_buf_free(&b);
}

static void test_encode_join_leave_refresh_pushes_exact(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_client_info_t ci = {.user = "42", .client = "c1", .conn_info = {"{\"n\":1}", 7}};
    assert_int_equal(lc_proto_push_join_leave(&b, "room", 4, true, &ci), 0);
    assert_string_equal(b.data, "{\"push\":{\"channel\":\"room\",\"join\":{\"info\":{\"user\":"
                                "\"42\",\"client\":\"c1\",\"conn_info\":{\"n\":1}}}}}");
    lc_buf_reset(&b);
    lc_client_info_t anon = {.user = "", .client = "c2"};
    assert_int_equal(lc_proto_push_join_leave(&b, "room", 4, false, &anon), 0);
    assert_string_equal(b.data, "{\"push\":{\"channel\":\"room\",\"leave\":{\"info\":{\"user\":"
                                "\"\",\"client\":\"c2\"}}}}");
    lc_buf_reset(&b);
    assert_int_equal(lc_proto_push_refresh(&b, true, 600), 0);
    assert_string_equal(b.data, "{\"push\":{\"refresh\":{\"expires\":true,\"ttl\":600}}}");
    lc_buf_reset(&b);
    lc_connect_result_t r = {.client = "c", .subs = {"{\"news\":{}}", 11}};
    assert_int_equal(lc_proto_reply_connect(&b, 1, &r), 0);
    assert_string_equal(b.data, "{\"id\":1,\"connect\":{\"client\":\"c\",\"subs\":{\"news\":{}}}}");
    lc_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader_single_command_decoded),
        cmocka_unit_test(test_reader_multi_command_frame_processed_in_order),
        cmocka_unit_test(test_reader_crlf_separator_tolerated),
        cmocka_unit_test(test_reader_empty_message_returns_end),
        cmocka_unit_test(test_reader_connect_fields_decoded),
        cmocka_unit_test(test_reader_subscribe_fields_decoded),
        cmocka_unit_test(test_reader_channel_requests_decoded),
        cmocka_unit_test(test_reader_publish_data_preserved_byte_for_byte),
        cmocka_unit_test(test_reader_null_data_absent),
        cmocka_unit_test(test_reader_history_fields_decoded),
        cmocka_unit_test(test_reader_rpc_send_refresh_decoded),
        cmocka_unit_test(test_reader_empty_command_is_none),
        cmocka_unit_test(test_reader_unknown_fields_ignored),
        cmocka_unit_test(test_reader_two_requests_first_in_order_wins),
        cmocka_unit_test(test_reader_duplicate_keys_first_wins),
        cmocka_unit_test(test_reader_malformed_input_parse_error),
        cmocka_unit_test(test_reader_empty_line_between_objects_parse_error),
        cmocka_unit_test(test_reader_garbage_after_valid_line_first_returned),
        cmocka_unit_test(test_raw_get_nested_path_exact_span),
        cmocka_unit_test(test_raw_get_absent_or_null_returns_zero),
        cmocka_unit_test(test_raw_get_invalid_json_parse_error),
        cmocka_unit_test(test_encode_error_reply_exact),
        cmocka_unit_test(test_encode_connect_reply_exact),
        cmocka_unit_test(test_encode_subscribe_reply_zero_omitted),
        cmocka_unit_test(test_encode_empty_reply_and_ping_exact),
        cmocka_unit_test(test_encode_pub_push_exact),
        cmocka_unit_test(test_encode_raw_newlines_stripped),
        cmocka_unit_test(test_encode_strings_escaped),
        cmocka_unit_test(test_encode_appends_after_existing_content),
        cmocka_unit_test(test_codes_messages_and_reasons),
        cmocka_unit_test(test_reader_connect_subs_decoded),
        cmocka_unit_test(test_encode_subscribe_with_publications_exact),
        cmocka_unit_test(test_encode_join_leave_refresh_pushes_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
