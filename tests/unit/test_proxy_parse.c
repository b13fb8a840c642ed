/* Backend answers: the proxy protocol's answers for every kind (result fields, base64 twins,
 * error, disconnect, precedence, garbage) and Laravel's auth endpoint answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hooks/proxy.h"
#include "util/err.h"

/* ---- helpers ---- */

static int parse(lc_proxy_kind kind, const char *body, lc_proxy_reply_t *out)
{
    return lc_proxy_parse(kind, body, strlen(body), out);
}

static void assert_mem(const char *got, size_t got_len, const char *want)
{
    assert_non_null(got);
    assert_int_equal(got_len, strlen(want));
    assert_memory_equal(got, want, got_len);
}

/* ---- parse: results ---- */

static void test_proxy_parse_connect_every_field(void **state)
{
    lc_proxy_reply_t r;
    const char *body =
        "{\"result\":{\"user\":\"56\",\"expire_at\":1735689600,"
        "\"info\":{\"name\":\"Alex\",\"n\":12345678901234567890},"
        "\"data\": [1, 2.50] ,\"channels\":[\"news\",\"chat:1\"],"
        "\"subs\":{\"a\":{\"info\":{\"x\":1},\"b64data\":\"aGk=\","
        "\"override\":{\"presence\":{\"value\":true},\"join_leave\":{\"value\":false}}},"
        "\"b\":null},\"meta\":{\"tenant\": 7}}}";

    assert_int_equal(parse(LC_PROXY_CONNECT, body, &r), 0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    assert_true(r.has_result);
    assert_string_equal(r.user, "56");
    assert_int_equal(r.expire_at, 1735689600);
    assert_mem(r.info, r.info_len, "{\"name\":\"Alex\",\"n\":12345678901234567890}");
    assert_mem(r.data, r.data_len, "[1, 2.50]");
    assert_int_equal(r.n_channels, 2);
    assert_string_equal(r.channels[0], "news");
    assert_string_equal(r.channels[1], "chat:1");
    assert_int_equal(r.n_subs, 2);
    assert_string_equal(r.subs[0].channel, "a");
    assert_mem(r.subs[0].opts.info, r.subs[0].opts.info_len, "{\"x\":1}");
    assert_null(r.subs[0].opts.data);
    assert_mem((const char *)r.subs[0].opts.b64data, r.subs[0].opts.b64data_len, "hi");
    assert_true(r.subs[0].opts.override.presence.set);
    assert_true(r.subs[0].opts.override.presence.value);
    assert_true(r.subs[0].opts.override.join_leave.set);
    assert_false(r.subs[0].opts.override.join_leave.value);
    assert_false(r.subs[0].opts.override.force_recovery.set);
    assert_string_equal(r.subs[1].channel, "b");
    assert_null(r.subs[1].opts.info);
    assert_string_equal(r.meta, "{\"tenant\": 7}");
    assert_null(r.message);
    lc_proxy_reply_free(&r);
    assert_null(r.user); /* freed and zeroed: a second free is harmless */
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_connect_b64_wins_and_is_decoded(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_CONNECT,
                           "{\"result\":{\"info\":{\"a\":1},\"b64info\":\"AAEC\","
                           "\"data\":{\"d\":1},\"b64data\":\"/w==\"}}",
                           &r),
                     0);
    assert_null(r.user); /* absent user stays NULL */
    assert_int_equal(r.info_len, 3);
    assert_memory_equal(r.info, "\x00\x01\x02", 3);
    assert_int_equal(r.data_len, 1);
    assert_int_equal((unsigned char)r.data[0], 0xff);
    lc_proxy_reply_free(&r);

    /* an empty b64 twin counts as absent */
    assert_int_equal(
        parse(LC_PROXY_CONNECT, "{\"result\":{\"info\":{\"a\":1},\"b64info\":\"\"}}", &r), 0);
    assert_mem(r.info, r.info_len, "{\"a\":1}");
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_connect_subs_duplicate_keeps_last(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_CONNECT,
                           "{\"result\":{\"subs\":{\"a\":{\"info\":1},\"b\":{},"
                           "\"a\":{\"data\":{\"k\":2}}}}}",
                           &r),
                     0);
    assert_int_equal(r.n_subs, 2);
    assert_string_equal(r.subs[0].channel, "a");
    assert_null(r.subs[0].opts.info);
    assert_mem(r.subs[0].opts.data, r.subs[0].opts.data_len, "{\"k\":2}");
    assert_string_equal(r.subs[1].channel, "b");
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_refresh_fields(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_REFRESH,
                           "{\"result\":{\"expired\":true,\"expire_at\":1.7e9,"
                           "\"info\":\"s\",\"meta\":[1],\"user\":5,\"data\":{}}}",
                           &r),
                     0);
    assert_true(r.expired);
    assert_int_equal(r.expire_at, 1700000000);
    assert_mem(r.info, r.info_len, "\"s\"");
    assert_string_equal(r.meta, "[1]");
    assert_null(r.user); /* not a refresh field: ignored, wrong type or not */
    assert_null(r.data);
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_subscribe_fields(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(
        parse(LC_PROXY_SUBSCRIBE,
              "{\"result\":{\"info\":{\"role\":\"admin\"},\"b64data\":\"eyJ4IjoxfQ==\","
              "\"expire_at\":1900000000,\"override\":{\"force_recovery\":"
              "{\"value\":true},\"force_positioning\":{},\"unknown\":1}}}",
              &r),
        0);
    assert_true(r.has_result);
    assert_mem(r.info, r.info_len, "{\"role\":\"admin\"}");
    assert_mem(r.data, r.data_len, "{\"x\":1}");
    assert_int_equal(r.expire_at, 1900000000);
    assert_true(r.override.force_recovery.set);
    assert_true(r.override.force_recovery.value);
    assert_true(r.override.force_positioning.set);
    assert_false(r.override.force_positioning.value);
    assert_false(r.override.presence.set);
    assert_false(r.data_set); /* publish only */
    lc_proxy_reply_free(&r);

    /* empty result: allowed with nothing */
    assert_int_equal(parse(LC_PROXY_SUBSCRIBE, "{\"result\":{}}", &r), 0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    assert_true(r.has_result);
    assert_null(r.info);
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_publish_data_set(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_PUBLISH,
                           "{\"result\":{\"data\":{\"n\":18446744073709551617},"
                           "\"skip_history\":true}}",
                           &r),
                     0);
    assert_true(r.data_set);
    assert_true(r.skip_history);
    assert_mem(r.data, r.data_len, "{\"n\":18446744073709551617}");
    lc_proxy_reply_free(&r);

    assert_int_equal(parse(LC_PROXY_PUBLISH, "{\"result\":{\"b64data\":\"eA==\"}}", &r), 0);
    assert_true(r.data_set);
    assert_mem(r.data, r.data_len, "x");
    lc_proxy_reply_free(&r);

    assert_int_equal(parse(LC_PROXY_PUBLISH, "{\"result\":{\"data\":null,\"b64data\":\"\"}}", &r),
                     0);
    assert_false(r.data_set);
    assert_null(r.data);
    assert_false(r.skip_history);
    lc_proxy_reply_free(&r);
}

/* A map publish / remove proxy's result (v6.8 MapPublishResult / MapRemoveResult). */
static void test_proxy_parse_map_publish_result(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_PUBLISH,
                           "{\"result\":{\"key\":\"deal-7\",\"data\":{\"v\":1},"
                           "\"tags\":{\"role\":\"admin\"},\"score\":-42,\"key_mode\":\"if_new\","
                           "\"stream_data\": {\"d\": 1.50},\"idempotency_key\":\"op-1\","
                           "\"delta\":true,\"version\":9007199254740992,"
                           "\"version_epoch\":\"e1\"}}",
                           &r),
                     0);
    assert_true(r.map.set);
    assert_string_equal(r.map.key, "deal-7");
    assert_mem(r.map.tags, r.map.tags_len, "{\"role\":\"admin\"}");
    assert_true(r.map.has_score);
    assert_int_equal(r.map.score, -42);
    assert_string_equal(r.map.key_mode, "if_new");
    assert_mem(r.map.stream_data, r.map.stream_data_len, "{\"d\": 1.50}");
    assert_string_equal(r.map.idempotency_key, "op-1");
    assert_true(r.map.delta);
    assert_true(r.map.version == 9007199254740992ULL);
    assert_string_equal(r.map.version_epoch, "e1");
    lc_proxy_reply_free(&r);

    /* b64stream_data wins over stream_data; a plain publish result sets nothing of a map */
    assert_int_equal(parse(LC_PROXY_PUBLISH, "{\"result\":{\"b64stream_data\":\"MQ==\"}}", &r), 0);
    assert_mem(r.map.stream_data, r.map.stream_data_len, "1");
    lc_proxy_reply_free(&r);
    assert_int_equal(parse(LC_PROXY_PUBLISH, "{\"result\":{\"data\":1}}", &r), 0);
    assert_false(r.map.set);
    lc_proxy_reply_free(&r);

    /* wrong types and values fail the answer */
    const char *bad[] = {
        "{\"result\":{\"key\":1}}",
        "{\"result\":{\"version\":\"1\"}}",
        "{\"result\":{\"version\":-1}}",
        "{\"result\":{\"score\":1.5}}",
        "{\"result\":{\"tags\":{\"a\":1}}}",
        "{\"result\":{\"tags\":[\"a\"]}}",
        "{\"result\":{\"key_mode\":\"sometimes\"}}",
        "{\"result\":{\"delta\":\"yes\"}}",
        "{\"result\":{\"b64stream_data\":\"!!\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(LC_PROXY_PUBLISH, bad[i], &r), LC_EPARSE);
        lc_proxy_reply_free(&r);
    }
}

static void test_proxy_parse_sub_refresh_and_rpc(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_SUB_REFRESH,
                           "{\"result\":{\"expired\":false,\"expire_at\":0,\"b64info\":\"aQ==\"}}",
                           &r),
                     0);
    assert_false(r.expired);
    assert_int_equal(r.expire_at, 0);
    assert_mem(r.info, r.info_len, "i");
    lc_proxy_reply_free(&r);

    assert_int_equal(parse(LC_PROXY_RPC, "{\"result\":{\"data\":{\"answer\":42}}}", &r), 0);
    assert_mem(r.data, r.data_len, "{\"answer\":42}");
    assert_false(r.data_set);
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_null_or_absent_result_no_credentials(void **state)
{
    lc_proxy_reply_t r;
    const char *bodies[] = {"{\"result\":null}", "{}", " {\"other\":1} \n"};

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        assert_int_equal(parse(LC_PROXY_CONNECT, bodies[i], &r), 0);
        assert_int_equal(r.type, LC_PROXY_RESULT);
        assert_false(r.has_result);
        assert_null(r.user);
        lc_proxy_reply_free(&r);
    }
}

/* ---- parse: error, disconnect, precedence ---- */

static void test_proxy_parse_error_with_temporary(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_SUBSCRIBE,
                           "{\"error\":{\"code\":403,\"message\":\"permission denied\","
                           "\"temporary\":true}}",
                           &r),
                     0);
    assert_int_equal(r.type, LC_PROXY_ERROR);
    assert_int_equal(r.code, 403);
    assert_string_equal(r.message, "permission denied");
    assert_true(r.temporary);
    assert_false(r.has_result);
    lc_proxy_reply_free(&r);

    assert_int_equal(parse(LC_PROXY_RPC, "{\"error\":{\"code\":4294967295}}", &r), 0);
    assert_int_equal(r.code, 4294967295u);
    assert_string_equal(r.message, "");
    assert_false(r.temporary);
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_disconnect(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_CONNECT,
                           "{\"disconnect\":{\"code\":4501,\"reason\":\"unauthorized\","
                           "\"reconnect\":false}}",
                           &r),
                     0);
    assert_int_equal(r.type, LC_PROXY_DISCONNECT);
    assert_int_equal(r.code, 4501);
    assert_string_equal(r.message, "unauthorized");
    lc_proxy_reply_free(&r);
}

/* A close frame holds 3000-4999 and 123 bytes of reason: anything else is refused, not cut to
 * 16 bits on the wire. */
static void test_proxy_parse_disconnect_code_out_of_range(void **state)
{
    static const char *const bad[] = {
        "{\"disconnect\":{\"code\":4294967295,\"reason\":\"x\"}}",
        "{\"disconnect\":{\"code\":65536}}",
        "{\"disconnect\":{\"code\":5000}}",
        "{\"disconnect\":{\"code\":2999}}",
        "{\"disconnect\":{\"code\":0}}",
        "{\"disconnect\":{\"reason\":\"no code\"}}",
        "{\"disconnect\":{\"code\":4000,\"reason\":"
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}}",
    };
    lc_proxy_reply_t r;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(LC_PROXY_CONNECT, bad[i], &r) != LC_EINVAL)
            fail_msg("accepted: %s", bad[i]);
        lc_proxy_reply_free(&r);
    }
    assert_int_equal(parse(LC_PROXY_SUBSCRIBE, "{\"disconnect\":{\"code\":3000}}", &r), 0);
    assert_int_equal(r.code, 3000);
    lc_proxy_reply_free(&r);
    assert_int_equal(parse(LC_PROXY_RPC, "{\"disconnect\":{\"code\":4999}}", &r), 0);
    assert_int_equal(r.code, 4999);
    lc_proxy_reply_free(&r);
}

/* The reference checks disconnect, then error, then result. */
static void test_proxy_parse_precedence_disconnect_error_result(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(parse(LC_PROXY_CONNECT,
                           "{\"result\":{\"user\":\"1\"},\"error\":{\"code\":400},"
                           "\"disconnect\":{\"code\":4000,\"reason\":\"x\"}}",
                           &r),
                     0);
    assert_int_equal(r.type, LC_PROXY_DISCONNECT);
    assert_int_equal(r.code, 4000);
    assert_false(r.has_result);
    assert_null(r.user);
    lc_proxy_reply_free(&r);

    assert_int_equal(
        parse(LC_PROXY_CONNECT, "{\"result\":{\"user\":\"1\"},\"error\":{\"code\":400}}", &r), 0);
    assert_int_equal(r.type, LC_PROXY_ERROR);
    assert_int_equal(r.code, 400);
    assert_null(r.user);
    lc_proxy_reply_free(&r);

    assert_int_equal(parse(LC_PROXY_CONNECT, "{\"result\":{\"user\":\"1\"},\"error\":null}", &r),
                     0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    assert_string_equal(r.user, "1");
    lc_proxy_reply_free(&r);
}

/* ---- parse: garbage ---- */

static void test_proxy_parse_garbage_is_eparse(void **state)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "null",
        "true",
        "\"str\"",
        "{\"result\":{}} trailing",
        "{\"result\":[]}",
        "{\"result\":\"x\"}",
        "{\"error\":1}",
        "{\"disconnect\":[]}",
        "{\"error\":{\"code\":-1}}",
        "{\"error\":{\"code\":1.5}}",
        "{\"error\":{\"code\":4294967296}}",
        "{\"error\":{\"code\":\"400\"}}",
        "{\"error\":{\"code\":400,\"message\":5}}",
        "{\"error\":{\"code\":400,\"temporary\":\"yes\"}}",
        "{\"disconnect\":{\"code\":4000,\"reason\":false}}",
        /* a broken part fails the answer even when another one would be used */
        "{\"error\":{\"code\":400},\"result\":{\"user\":5}}",
        "{\"disconnect\":{\"code\":4000},\"error\":{\"code\":\"x\"}}",
        "{\"result\":{\"user\":5}}",
        "{\"result\":{\"expire_at\":\"1\"}}",
        "{\"result\":{\"expire_at\":1.5}}",
        "{\"result\":{\"expire_at\":1e300}}",
        "{\"result\":{\"channels\":\"news\"}}",
        "{\"result\":{\"channels\":[\"a\",1]}}",
        "{\"result\":{\"subs\":[]}}",
        "{\"result\":{\"subs\":{\"a\":1}}}",
        "{\"result\":{\"subs\":{\"a\":{\"b64info\":\"!!\"}}}}",
        "{\"result\":{\"subs\":{\"a\":{\"override\":{\"presence\":true}}}}}",
        "{\"result\":{\"b64info\":\"not base64\"}}",
        "{\"result\":{\"b64data\":7}}",
        "{\"result\":{\"b64data\":\"QQ=\"}}",
        "{\"result\":{\"info\":{\"a\":}}}",
        "{\"result\":{\"user\":\"a\"}",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lc_proxy_reply_t r;
        int rc = parse(LC_PROXY_CONNECT, bad[i], &r);
        if (rc != LC_EPARSE)
            fail_msg("body %zu (%s): rc %d", i, bad[i], rc);
        assert_null(r.user);
        assert_null(r.message);
        lc_proxy_reply_free(&r);
    }
}

static void test_proxy_parse_wrong_types_per_kind(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(
        parse(LC_PROXY_SUBSCRIBE, "{\"result\":{\"override\":{\"presence\":{\"value\":1}}}}", &r),
        LC_EPARSE);
    assert_int_equal(parse(LC_PROXY_SUBSCRIBE, "{\"result\":{\"override\":[]}}", &r), LC_EPARSE);
    assert_int_equal(parse(LC_PROXY_PUBLISH, "{\"result\":{\"skip_history\":1}}", &r), LC_EPARSE);
    assert_int_equal(parse(LC_PROXY_REFRESH, "{\"result\":{\"expired\":\"no\"}}", &r), LC_EPARSE);
    assert_int_equal(parse(LC_PROXY_SUB_REFRESH, "{\"result\":{\"b64info\":{}}}", &r), LC_EPARSE);
    assert_int_equal(parse(LC_PROXY_RPC, "{\"result\":{\"b64data\":\"%%%%\"}}", &r), LC_EPARSE);
    /* fields another kind defines are not looked at */
    assert_int_equal(parse(LC_PROXY_RPC, "{\"result\":{\"user\":5,\"expire_at\":\"x\"}}", &r), 0);
    lc_proxy_reply_free(&r);
}

static void test_proxy_parse_hostile_inputs_no_crash(void **state)
{
    const char *valid =
        "{\"result\":{\"user\":\"56\",\"expire_at\":1,\"info\":{\"a\":[1,{\"b\":\"c\"}]},"
        "\"b64data\":\"aGk=\",\"channels\":[\"x\"],\"subs\":{\"s\":{\"info\":{},"
        "\"override\":{\"presence\":{\"value\":true}}}},\"meta\":{}},"
        "\"error\":null}";
    size_t n = strlen(valid), depth = 100000;
    lc_proxy_reply_t r;
    char *deep;

    /* every prefix and every single-byte corruption: an answer or LC_EPARSE, never a crash */
    for (size_t i = 0; i < n; i++) {
        char *copy = malloc(n);
        assert_non_null(copy);
        memcpy(copy, valid, n);
        int rc = lc_proxy_parse(LC_PROXY_CONNECT, copy, i, &r);
        assert_true(rc == 0 || rc == LC_EPARSE);
        lc_proxy_reply_free(&r);
        copy[i] = (char)(copy[i] ^ 0x5a);
        rc = lc_proxy_parse(LC_PROXY_CONNECT, copy, n, &r);
        assert_true(rc == 0 || rc == LC_EPARSE);
        lc_proxy_reply_free(&r);
        free(copy);
    }
    /* deep nesting stops at cJSON's limit instead of exhausting the stack */
    deep = malloc(depth * 2 + 32);
    assert_non_null(deep);
    strcpy(deep, "{\"result\":{\"info\":");
    size_t pos = strlen(deep);
    memset(deep + pos, '[', depth);
    memset(deep + pos + depth, ']', depth);
    strcpy(deep + pos + 2 * depth, "}}");
    assert_int_equal(parse(LC_PROXY_CONNECT, deep, &r), LC_EPARSE);
    free(deep);
    /* embedded NUL inside the length */
    assert_int_equal(lc_proxy_parse(LC_PROXY_CONNECT, "{\"result\":{}}\0xx", 16, &r), LC_EPARSE);
    assert_int_equal(lc_proxy_parse(LC_PROXY_CONNECT, NULL, 0, &r), LC_EPARSE);
}

/* ---- Laravel answers ---- */

static int lparse(long status, const char *body, bool presence, lc_proxy_reply_t *r)
{
    return lc_proxy_laravel_parse(status, body, body != NULL ? strlen(body) : 0, presence, r);
}

static void test_proxy_laravel_parse_private_allowed(void **state)
{
    static const char *const ok[] = {
        "{\"auth\":\"key:0123abcd\"}", "true", "", " \n", "{\"auth\":\"k:s\",\"channel_data\":5}",
    };
    lc_proxy_reply_t r;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(lparse(200, ok[i], false, &r), 0);
        assert_int_equal(r.type, LC_PROXY_RESULT);
        assert_true(r.has_result);
        assert_null(r.info);
        lc_proxy_reply_free(&r);
    }
    assert_int_equal(lparse(204, NULL, false, &r), 0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    lc_proxy_reply_free(&r);
}

static void test_proxy_laravel_parse_presence_user_info_string(void **state)
{
    lc_proxy_reply_t r;

    /* Pusher driver: channel_data is a JSON string holding JSON */
    assert_int_equal(lparse(200,
                            "{\"auth\":\"key:sig\",\"channel_data\":\"{\\\"user_id\\\":\\\"1\\\","
                            "\\\"user_info\\\":{\\\"name\\\":\\\"Ann\\\","
                            "\\\"id\\\":12345678901234567890}}\"}",
                            true, &r),
                     0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    assert_mem(r.info, r.info_len, "{\"name\":\"Ann\",\"id\":12345678901234567890}");
    lc_proxy_reply_free(&r);

    /* no user_info: allowed without info */
    assert_int_equal(
        lparse(200, "{\"auth\":\"k:s\",\"channel_data\":\"{\\\"user_id\\\":1}\"}", true, &r), 0);
    assert_null(r.info);
    lc_proxy_reply_free(&r);
}

static void test_proxy_laravel_parse_presence_user_info_object(void **state)
{
    lc_proxy_reply_t r;

    /* Redis driver: channel_data is an object */
    assert_int_equal(lparse(200,
                            "{\"channel_data\":{\"user_id\":1,\"user_info\": {\"name\": \"Bo\"} }}",
                            true, &r),
                     0);
    assert_mem(r.info, r.info_len, "{\"name\": \"Bo\"}");
    lc_proxy_reply_free(&r);

    /* `true` for a presence channel (callback returned true): allowed, no info */
    assert_int_equal(lparse(200, "true", true, &r), 0);
    assert_int_equal(r.type, LC_PROXY_RESULT);
    assert_null(r.info);
    lc_proxy_reply_free(&r);

    /* user_info of a scalar kind is carried as it is */
    assert_int_equal(lparse(200, "{\"channel_data\":{\"user_info\":true}}", true, &r), 0);
    assert_mem(r.info, r.info_len, "true");
    lc_proxy_reply_free(&r);
}

static void test_proxy_laravel_parse_denied_and_failures(void **state)
{
    lc_proxy_reply_t r;

    assert_int_equal(lparse(403, "{\"message\":\"\"}", true, &r), 0);
    assert_int_equal(r.type, LC_PROXY_ERROR);
    assert_int_equal(r.code, 103);
    assert_string_equal(r.message, "permission denied");
    assert_false(r.temporary);
    lc_proxy_reply_free(&r);

    assert_int_equal(lparse(401, "<html>", false, &r), 0);
    assert_int_equal(r.type, LC_PROXY_ERROR);
    assert_int_equal(r.code, 103);
    lc_proxy_reply_free(&r);

    assert_int_equal(lparse(200, "false", false, &r), 0);
    assert_int_equal(r.type, LC_PROXY_ERROR);
    assert_int_equal(r.code, 103);
    lc_proxy_reply_free(&r);

    assert_int_equal(lparse(500, "{}", false, &r), LC_EIO);
    assert_int_equal(lparse(302, "", false, &r), LC_EIO);
    assert_int_equal(lparse(404, "", true, &r), LC_EIO);
    assert_int_equal(lparse(199, "", true, &r), LC_EIO);
    /* a 2xx page that is not JSON is never an approval */
    assert_int_equal(lparse(200, "<!DOCTYPE html><title>Login</title>", false, &r), LC_EPARSE);
    assert_int_equal(lparse(200, "{\"auth\":\"x\"} junk", false, &r), LC_EPARSE);
    /* malformed channel_data of a presence channel */
    assert_int_equal(lparse(200, "{\"channel_data\":\"{not json\"}", true, &r), LC_EPARSE);
    assert_int_equal(lparse(200, "{\"channel_data\":\"[1]\"}", true, &r), LC_EPARSE);
    assert_int_equal(lparse(200, "{\"channel_data\":\"{} x\"}", true, &r), LC_EPARSE);
    assert_int_equal(lparse(200, "{\"channel_data\":5}", true, &r), LC_EPARSE);
    assert_null(r.info);
    assert_null(r.message);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_proxy_parse_connect_every_field),
        cmocka_unit_test(test_proxy_parse_connect_b64_wins_and_is_decoded),
        cmocka_unit_test(test_proxy_parse_connect_subs_duplicate_keeps_last),
        cmocka_unit_test(test_proxy_parse_refresh_fields),
        cmocka_unit_test(test_proxy_parse_subscribe_fields),
        cmocka_unit_test(test_proxy_parse_publish_data_set),
        cmocka_unit_test(test_proxy_parse_sub_refresh_and_rpc),
        cmocka_unit_test(test_proxy_parse_null_or_absent_result_no_credentials),
        cmocka_unit_test(test_proxy_parse_error_with_temporary),
        cmocka_unit_test(test_proxy_parse_disconnect),
        cmocka_unit_test(test_proxy_parse_precedence_disconnect_error_result),
        cmocka_unit_test(test_proxy_parse_disconnect_code_out_of_range),
        cmocka_unit_test(test_proxy_parse_garbage_is_eparse),
        cmocka_unit_test(test_proxy_parse_wrong_types_per_kind),
        cmocka_unit_test(test_proxy_parse_hostile_inputs_no_crash),
        cmocka_unit_test(test_proxy_laravel_parse_private_allowed),
        cmocka_unit_test(test_proxy_parse_map_publish_result),
        cmocka_unit_test(test_proxy_laravel_parse_presence_user_info_string),
        cmocka_unit_test(test_proxy_laravel_parse_presence_user_info_object),
        cmocka_unit_test(test_proxy_laravel_parse_denied_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
