/* Pusher protocol 7: event decoding, the events Lucent sends, the push → Pusher event mapping
 * and channel authorization signatures (the spec's §4.3 test vectors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/pusher_auth.h"
#include "proto/codec.h"
#include "proto/codes.h"
#include "proto/pusher.h"
#include "util/err.h"

/* Decode s from an allocation of exactly its length (the sanitizer sees any overread). */
static int decode(const char *s, lc_cmd_t *cmd)
{
    size_t n = strlen(s);
    char *p = malloc(n ? n : 1);
    assert_non_null(p);
    memcpy(p, s, n);
    int rc = lc_pusher_decode(p, n, cmd);
    free(p);
    return rc;
}

static void test_decode_subscribe_object_and_string_data(void **state)
{
    lc_cmd_t cmd;
    assert_int_equal(decode("{\"event\":\"pusher:subscribe\",\"data\":{\"auth\":\"k:s\",\"channel_"
                            "data\":\"{\\\"user_id\\\":\\\"1\\\"}\",\"channel\":\"presence-a\"}}",
                            &cmd),
                     1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_SUBSCRIBE);
    assert_string_equal(cmd.channel, "presence-a");
    assert_string_equal(cmd.token, "k:s");
    assert_string_equal(cmd.channel_data, "{\"user_id\":\"1\"}");
    lc_cmd_free(&cmd);
    /* data as a JSON-encoded string (other Pusher SDKs) */
    assert_int_equal(
        decode("{\"event\":\"pusher:subscribe\",\"data\":\"{\\\"channel\\\":\\\"news\\\"}\"}",
               &cmd),
        1);
    assert_string_equal(cmd.channel, "news");
    assert_null(cmd.token);
    lc_cmd_free(&cmd);
    assert_int_equal(
        decode("{\"event\":\"pusher:unsubscribe\",\"data\":{\"channel\":\"news\"}}", &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_UNSUBSCRIBE);
    assert_string_equal(cmd.channel, "news");
    lc_cmd_free(&cmd);
}

static void test_decode_ping_client_event_other(void **state)
{
    lc_cmd_t cmd;
    assert_int_equal(decode("{\"event\":\"pusher:ping\",\"data\":{}}", &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_PING);
    lc_cmd_free(&cmd);
    assert_int_equal(decode("{\"event\":\"pusher:pong\"}", &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_PONG);
    lc_cmd_free(&cmd);
    const char *ev = "{\"event\":\"client-typing\",\"channel\":\"private-c\",\"data\":{\"n\": "
                     "12345678901234567890, \"s\":\"\\u00e9\"}}";
    assert_int_equal(decode(ev, &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_CLIENT);
    assert_string_equal(cmd.name, "client-typing");
    assert_string_equal(cmd.channel, "private-c");
    /* the data's exact bytes */
    const char *want = "{\"n\": 12345678901234567890, \"s\":\"\\u00e9\"}";
    assert_int_equal(cmd.data.len, strlen(want));
    assert_memory_equal(cmd.data.p, want, strlen(want));
    lc_cmd_free(&cmd);
    assert_int_equal(decode("{\"event\":\"pusher:signin\",\"data\":{}}", &cmd), 1);
    assert_int_equal(cmd.type, LC_CMD_PUSHER_OTHER);
    lc_cmd_free(&cmd);
}

static void test_decode_malformed_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[1,2]",
        "{\"event\":1}",
        "{\"data\":{}}",
        "{\"event\":\"pusher:subscribe\"}",
        "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":5}}",
        "{\"event\":\"pusher:subscribe\",\"data\":\"not an object\"}",
        "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\",\"auth\":[]}}",
        "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"a\\u0000b\"}}",
        "{\"event\":\"client-x\",\"channel\":\"a\\u0000b\",\"data\":{}}",
        "{\"event\":\"client-x\",\"data\":\"\xff\"}",
        "{\"event\":\"client-x\"} trailing",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lc_cmd_t cmd;
        assert_int_equal(decode(bad[i], &cmd), LC_EPARSE);
    }
}

static void test_channel_names_and_kinds(void **state)
{
    assert_true(lc_pusher_channel_valid("private-orders.1", 16, 200));
    assert_true(lc_pusher_channel_valid("a-b_c=d@e,f.g;h", 15, 200));
    assert_false(lc_pusher_channel_valid("", 0, 200));
    assert_false(lc_pusher_channel_valid("a b", 3, 200));
    assert_false(lc_pusher_channel_valid("#server-to-user-1", 17, 200));
    assert_false(lc_pusher_channel_valid("ns:chan", 7, 200));
    assert_false(lc_pusher_channel_valid("abcdef", 6, 5));
    assert_int_equal(lc_pusher_channel_kind("news", 4), LC_PUSHER_PUBLIC);
    assert_int_equal(lc_pusher_channel_kind("private-x", 9), LC_PUSHER_PRIVATE);
    assert_int_equal(lc_pusher_channel_kind("private-encrypted-x", 19), LC_PUSHER_ENCRYPTED);
    assert_int_equal(lc_pusher_channel_kind("presence-x", 10), LC_PUSHER_PRESENCE);
    assert_int_equal(lc_pusher_channel_kind("privatex", 8), LC_PUSHER_PUBLIC);
    size_t n;
    const char *p = lc_pusher_name_of("app1:news", 9, "app1:", &n);
    assert_non_null(p);
    assert_int_equal(n, 4);
    assert_memory_equal(p, "news", 4);
    assert_null(lc_pusher_name_of("other:news", 10, "app1:", &n));
    assert_null(lc_pusher_name_of("app1:", 5, "app1:", &n));
}

#define OUT_EQ(call, want)                                                                         \
    do {                                                                                           \
        lc_buf_t b_ = LC_BUF_INIT;                                                                 \
        assert_int_equal((call), 0);                                                               \
        assert_int_equal(b_.len, strlen(want));                                                    \
        assert_memory_equal(b_.data, want, b_.len);                                                \
        lc_buf_free(&b_);                                                                          \
    } while (0)

static void test_events_out_exact(void **state)
{
    OUT_EQ(lc_pusher_connection_established(&b_, "123.456", 30),
           "{\"event\":\"pusher:connection_established\",\"data\":\"{\\\"socket_id\\\":\\\"123."
           "456\\\",\\\"activity_timeout\\\":30}\"}");
    OUT_EQ(lc_pusher_error(&b_, 4001, "Application does not exist"),
           "{\"event\":\"pusher:error\",\"data\":\"{\\\"code\\\":4001,\\\"message\\\":"
           "\\\"Application does not exist\\\"}\"}");
    OUT_EQ(
        lc_pusher_error(&b_, 0, "x"),
        "{\"event\":\"pusher:error\",\"data\":\"{\\\"code\\\":null,\\\"message\\\":\\\"x\\\"}\"}");
    OUT_EQ(lc_pusher_subscription_succeeded(&b_, "news", NULL, 0),
           "{\"event\":\"pusher_internal:subscription_succeeded\",\"channel\":\"news\",\"data\":"
           "\"{}\"}");
    OUT_EQ(lc_pusher_subscription_error(&b_, "private-x", "AuthError", "Invalid signature", 401),
           "{\"event\":\"pusher:subscription_error\",\"channel\":\"private-x\",\"data\":{\"type\":"
           "\"AuthError\",\"error\":\"Invalid signature\",\"status\":401}}");
    OUT_EQ(lc_pusher_ping(&b_, true), "{\"event\":\"pusher:pong\",\"data\":\"{}\"}");
    lc_pusher_members_t m;
    memset(&m, 0, sizeof(m));
    assert_int_equal(lc_pusher_members_add(&m, "1", "{\"name\":\"A\"}", 12), 0);
    assert_int_equal(lc_pusher_members_add(&m, "2", NULL, 0), 0);
    OUT_EQ(lc_pusher_members_end(&m, &b_),
           "{\"presence\":{\"ids\":[\"1\",\"2\"],\"hash\":{\"1\":{\"name\":\"A\"},\"2\":null},"
           "\"count\":2}}");
}

static void test_close_codes(void **state)
{
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_SHUTDOWN), 4200);
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_SLOW), 4100);
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_NO_PONG), 4201);
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_TOO_MANY_REQUESTS), 4301);
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_FORCE_DISCONNECT), 4009);
    assert_int_equal(lc_pusher_close_code(LC_DISCONNECT_FORCE_RECONNECT), 4200);
    assert_int_equal(lc_pusher_close_code(4001), 4001);
}

#define PUSH_EQ(push, prefix, want)                                                                \
    do {                                                                                           \
        lc_buf_t b_ = LC_BUF_INIT;                                                                 \
        assert_int_equal(lc_pusher_from_push((push), strlen(push), (prefix), &b_), 1);             \
        assert_int_equal(b_.len, strlen(want));                                                    \
        assert_memory_equal(b_.data, want, b_.len);                                                \
        lc_buf_free(&b_);                                                                          \
    } while (0)

static void test_push_to_event(void **state)
{
    /* an HTTP API event: data back to the very string Laravel sent */
    PUSH_EQ(
        "{\"push\":{\"channel\":\"private-orders.1\",\"pub\":{\"data\":{\"id\": 1.50,\"s\":"
        "\"a\\\"b\"},\"tags\":{\"event\":\"App\\\\Events\\\\OrderShipped\"}}}}",
        "",
        "{\"event\":\"App\\\\Events\\\\OrderShipped\",\"channel\":\"private-orders.1\",\"data\":"
        "\"{\\\"id\\\": 1.50,\\\"s\\\":\\\"a\\\\\\\"b\\\"}\"}");
    /* a Centrifugo client's publication, in the app's namespace: event "message" */
    PUSH_EQ("{\"push\":{\"channel\":\"app:news\",\"pub\":{\"data\":[1,2],\"info\":{\"user\":\"u\","
            "\"client\":\"c\"}}}}",
            "app:", "{\"event\":\"message\",\"channel\":\"news\",\"data\":\"[1,2]\"}");
    /* a string stays the string */
    PUSH_EQ("{\"push\":{\"channel\":\"news\",\"pub\":{\"data\":\"plain text\"}}}", "",
            "{\"event\":\"message\",\"channel\":\"news\",\"data\":\"plain text\"}");
    /* client events: verbatim, with the sender's user_id on presence channels */
    PUSH_EQ(
        "{\"push\":{\"channel\":\"presence-r\",\"pub\":{\"data\":{\"t\":1},\"info\":{\"user\":"
        "\"7\",\"client\":\"1.2\"},\"tags\":{\"event\":\"client-typing\"}}}}",
        "",
        "{\"event\":\"client-typing\",\"channel\":\"presence-r\",\"data\":{\"t\":1},\"user_id\":"
        "\"7\"}");
    PUSH_EQ("{\"push\":{\"channel\":\"private-r\",\"pub\":{\"data\":{\"t\":1},\"info\":{\"user\":"
            "\"7\",\"client\":\"1.2\"},\"tags\":{\"event\":\"client-typing\"}}}}",
            "", "{\"event\":\"client-typing\",\"channel\":\"private-r\",\"data\":{\"t\":1}}");
    /* presence join and leave */
    PUSH_EQ("{\"push\":{\"channel\":\"presence-r\",\"join\":{\"info\":{\"user\":\"2\",\"client\":"
            "\"1.2\",\"chan_info\":{\"name\":\"B\"}}}}}",
            "",
            "{\"event\":\"pusher_internal:member_added\",\"channel\":\"presence-r\",\"data\":\"{"
            "\\\"user_id\\\":\\\"2\\\",\\\"user_info\\\":{\\\"name\\\":\\\"B\\\"}}\"}");
    PUSH_EQ("{\"push\":{\"channel\":\"presence-r\",\"leave\":{\"info\":{\"user\":\"2\",\"client\":"
            "\"1.2\"}}}}",
            "",
            "{\"event\":\"pusher_internal:member_removed\",\"channel\":\"presence-r\",\"data\":\"{"
            "\\\"user_id\\\":\\\"2\\\"}\"}");
    /* no Pusher form: joins outside presence channels, anonymous members, other apps, other
     * pushes */
    static const char *const none[] = {
        "{\"push\":{\"channel\":\"news\",\"join\":{\"info\":{\"user\":\"2\",\"client\":\"x\"}}}}",
        "{\"push\":{\"channel\":\"presence-r\",\"join\":{\"info\":{\"user\":\"\",\"client\":\"x\"}}"
        "}"
        "}",
        "{\"push\":{\"channel\":\"other:news\",\"pub\":{\"data\":{}}}}",
        "{\"push\":{\"channel\":\"news\",\"unsubscribe\":{\"code\":2000}}}",
        "{\"push\":{\"disconnect\":{\"code\":3001}}}",
    };
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        lc_buf_t b = LC_BUF_INIT;
        assert_int_equal(lc_pusher_from_push(none[i], strlen(none[i]), i == 2 ? "app:" : "", &b),
                         0);
        assert_int_equal(b.len, 0);
        lc_buf_free(&b);
    }
}

static void test_push_is_user_event(void **state)
{
    const char *join = "{\"push\":{\"channel\":\"presence-\\\"r\",\"join\":{\"info\":{\"user\":"
                       "\"7\",\"client\":\"1.2\"}}}}";
    const char *pub = "{\"push\":{\"channel\":\"presence-r\",\"pub\":{\"data\":{\"join\":{\"info\":"
                      "{\"user\":\"7\"}}}}}}";
    assert_true(lc_pusher_push_is_user_event(join, strlen(join), "7"));
    assert_false(lc_pusher_push_is_user_event(join, strlen(join), "8"));
    assert_false(lc_pusher_push_is_user_event(join, strlen(join), ""));
    assert_false(lc_pusher_push_is_user_event(pub, strlen(pub), "7"));
}

static void data_pub_eq(const char *raw, const char *want)
{
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_pusher_data_to_pub(raw, strlen(raw), &b), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    lc_buf_free(&b);
}

static void test_data_to_pub_round_trip(void **state)
{
    /* Laravel's JSON string: the object, byte for byte */
    data_pub_eq("\"{\\\"a\\\": 1.0, \\\"u\\\":\\\"\\\\u00e9\\\"}\"",
                "{\"a\": 1.0, \"u\":\"\\u00e9\"}");
    /* not JSON, a JSON string, a string with a newline, objects: kept as sent */
    data_pub_eq("\"hello\"", "\"hello\"");
    data_pub_eq("\"\\\"quoted\\\"\"", "\"\\\"quoted\\\"\"");
    data_pub_eq("\"{\\n}\"", "\"{\\n}\"");
    data_pub_eq("\" {}\"", "\" {}\"");
    data_pub_eq("\"[1] \"", "\"[1] \"");
    data_pub_eq("\"\"", "\"\"");
    data_pub_eq("\"12\"", "12");
    data_pub_eq("\"null\"", "\"null\"");
    data_pub_eq("{\"x\":1}", "{\"x\":1}");
    data_pub_eq("\"a\\u0000b\"", "\"a\\u0000b\"");
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_pusher_data_to_pub("{bad", 4, &b), LC_EPARSE);
    lc_buf_free(&b);
    b = (lc_buf_t)LC_BUF_INIT;
    assert_int_equal(lc_pusher_event_tags(&b, "App\\Events\\X"), 0);
    assert_memory_equal(b.data, "{\"event\":\"App\\\\Events\\\\X\"}", b.len);
    lc_buf_free(&b);
}

static void member_ok(const char *cd, const char *user, const char *info)
{
    char *u = NULL;
    lc_raw_t i;
    int status = 0;
    assert_null(lc_pusher_member(cd, 128, 1024, &u, &i, &status));
    assert_string_equal(u, user);
    if (info) {
        assert_int_equal(i.len, strlen(info));
        assert_memory_equal(i.p, info, i.len);
    } else {
        assert_null(i.p);
    }
    free(u);
}

static void member_refused(const char *cd, size_t max_id, size_t max_info, int want)
{
    char *u = NULL;
    lc_raw_t i;
    int status = 0;
    assert_non_null(lc_pusher_member(cd, max_id, max_info, &u, &i, &status));
    assert_int_equal(status, want);
    free(u);
}

static void test_presence_member(void **state)
{
    member_ok("{\"user_id\":\"1\",\"user_info\":{\"name\":\"A\"}}", "1", "{\"name\":\"A\"}");
    member_ok("{\"user_id\":1}", "1", NULL);
    member_ok("{\"user_id\":\"a\\/b\\u00e9\"}", "a/b\xc3\xa9", NULL);
    member_ok("{\"user_id\":-2.5e3,\"user_info\":null}", "-2.5e3", NULL);
    member_refused(NULL, 128, 1024, 4302);
    member_refused("not json", 128, 1024, 4302);
    member_refused("[1]", 128, 1024, 4302);
    member_refused("{\"user_info\":{}}", 128, 1024, 4302);
    member_refused("{\"user_id\":true}", 128, 1024, 4302);
    member_refused("{\"user_id\":{\"a\":1}}", 128, 1024, 4302);
    member_refused("{\"user_id\":\"a\\u0000b\"}", 128, 1024, 4302);
    member_refused("{\"user_id\":\"\"}", 128, 1024, 4301);
    member_refused("{\"user_id\":\"abcdef\"}", 5, 1024, 4301);
    member_refused("{\"user_id\":\"a\",\"user_info\":\"0123456789\"}", 128, 10, 4301);
}

/* shared/spec/pusher-protocol.md §4.3 */
static void test_auth_vectors(void **state)
{
    const char *key = "278d425bdf160c739803", *secret = "7ad3773142a6692b25b8";
    char hex[65];
    assert_int_equal(lc_pusher_hmac_hex(secret, "1234.1234:private-foobar", 24, hex), 0);
    assert_string_equal(hex, "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4");
    assert_int_equal(
        lc_pusher_auth_check(key, secret,
                             "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5"
                             "369f135bf843651c3a4",
                             "1234.1234", "private-foobar", NULL),
        LC_PUSHER_AUTH_OK);
    const char *cd = "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Pusher\"}}";
    const char *ok = "278d425bdf160c739803:afaed3695da2ffd16931f457e338e6c9f2921fa133ce7dac49f52979"
                     "2be6304c";
    assert_int_equal(lc_pusher_auth_check(key, secret, ok, "1234.1234", "presence-foobar", cd),
                     LC_PUSHER_AUTH_OK);
    /* the other member's data under this signature, another socket, channel or key */
    const char *cd2 = "{\"user_id\":10,\"user_info\":{\"name\":\"Mr. Channels\"}}";
    assert_int_equal(lc_pusher_auth_check(key, secret, ok, "1234.1234", "presence-foobar", cd2),
                     LC_PUSHER_AUTH_BAD_SIG);
    assert_int_equal(lc_pusher_auth_check(key, secret, ok, "1234.1235", "presence-foobar", cd),
                     LC_PUSHER_AUTH_BAD_SIG);
    assert_int_equal(lc_pusher_auth_check(key, secret, ok, "1234.1234", "presence-foobaz", cd),
                     LC_PUSHER_AUTH_BAD_SIG);
    assert_int_equal(
        lc_pusher_auth_check("otherkey", secret, ok, "1234.1234", "presence-foobar", cd),
        LC_PUSHER_AUTH_BAD_KEY);
    assert_int_equal(lc_pusher_auth_check(key, secret, NULL, "1", "private-a", NULL),
                     LC_PUSHER_AUTH_MISSING);
    assert_int_equal(lc_pusher_auth_check(key, secret, "", "1", "private-a", NULL),
                     LC_PUSHER_AUTH_MISSING);
    assert_int_equal(
        lc_pusher_auth_check(key, secret, "278d425bdf160c739803:", "1", "private-a", NULL),
        LC_PUSHER_AUTH_BAD_SIG);
    /* uppercase hex is not what Pusher signs */
    assert_int_equal(
        lc_pusher_auth_check(key, secret,
                             "278d425bdf160c739803:58DF8B0C36D6982B82C3ECF6B4662E34FE8C25BBA48F5"
                             "369F135BF843651C3A4",
                             "1234.1234", "private-foobar", NULL),
        LC_PUSHER_AUTH_BAD_SIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_subscribe_object_and_string_data),
        cmocka_unit_test(test_decode_ping_client_event_other),
        cmocka_unit_test(test_decode_malformed_refused),
        cmocka_unit_test(test_channel_names_and_kinds),
        cmocka_unit_test(test_events_out_exact),
        cmocka_unit_test(test_close_codes),
        cmocka_unit_test(test_push_to_event),
        cmocka_unit_test(test_push_is_user_event),
        cmocka_unit_test(test_data_to_pub_round_trip),
        cmocka_unit_test(test_presence_member),
        cmocka_unit_test(test_auth_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
