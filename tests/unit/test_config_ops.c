/* The operations part of the config: the table of recognised-but-unimplemented keys, the
 * "did you mean" suggestion, the secrets lint and the effective config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"
#include "config_test_util.h"

static void expect_loads(const char *json)
{
    lc_config_t c;
    if (load(&c, json) != 0)
        fail_msg("config %s: %s", json, err);
    lc_config_free(&c);
}

static void test_unsupported_keys_refused_when_on(void **state)
{
    lc_config_refuse_unsupported(true);
    expect_error("{\"broker\": {\"enabled\": true}}", "broker.enabled: ");
    expect_error("{\"http_server\": {\"http3\": {\"enabled\": true}}}",
                 "http_server.http3: not supported");
    expect_error("{\"client\": {\"token\": {\"user_id_claim\": \"uid\"}}}",
                 "client.token.user_id_claim: not supported");
    /* channel options wherever they are set: namespaces, rules, flat keys */
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"map\":"
                 " {\"external_state\": true}}]}}",
                 "channel.namespaces[0].map.external_state: external map state is not supported");
    /* the Redis map broker goes with the Redis engine, over its connections */
    expect_error("{\"map_broker\": {\"type\": \"redis\"}}",
                 "map_broker redis needs engine.type redis");
    expect_error("{\"engine\": {\"type\": \"redis\"}, \"map_broker\": {\"type\": \"memory\"}}",
                 "map channels would live on one node only");
    expect_error("{\"engine\": {\"type\": \"redis\", \"redis\": {\"address\": \"r1:6379\"}}, "
                 "\"map_broker\": {\"type\": \"redis\", \"redis\": {\"address\": \"r2:6379\"}}}",
                 "map_broker.redis.address \"r2:6379\" differs from engine.redis.address "
                 "\"r1:6379\"");
    expect_error("{\"engine\": {\"type\": \"redis\"}, \"map_broker\": {\"redis\": "
                 "{\"password\": \"x\"}}}",
                 "map_broker.redis.password: not supported");
    expect_error("{\"map_broker\": {\"type\": \"postgres\"}}", "map_broker.type: not supported");
    expect_error("{\"init\": {\"enabled\": true}}", "init.enabled: not supported");
    /* a map namespace without its mode, or naming a presence channel of no such namespace */
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"cursors\", "
                 "\"subscription_type\": \"map_clients\"}]}}",
                 "map.mode is required");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"game\", "
                 "\"map_clients_presence_channel_prefix\": \"nope:\"}]}}",
                 "must name a namespace of subscription_type \"map_clients\"");
    expect_error("{\"auto_cache_recover\": true}", "not supported");
    expect_error("{\"graphite\": {\"enabled\": true}}", "graphite: not supported");
    expect_error("{\"channel\": {\"proxy\": {\"state\": {\"endpoint\": \"http://a\"}}}}",
                 "channel.proxy.state: not supported");
    /* off, or only tuning: loads */
    expect_loads("{\"engine\": {\"type\": \"memory\"}, \"http_server\": {\"tls\": {\"enabled\":"
                 " false}}, \"graphite\": {\"enabled\": false}, \"channel\": {\"namespaces\":"
                 " [{\"name\": \"ab\", \"allowed_delta_types\": [\"fossil\"], \"history_size\": 1,"
                 " \"history_ttl\": \"1m\", \"delta_publish\": true, \"subscription_type\":"
                 " \"stream\", \"client_publish_debounce_interval\": \"50ms\"}]}, \"websocket\":"
                 " {\"compression\": true}, \"shutdown\": {\"timeout\": \"5s\"}}");
    /* map channels on the Redis engine: map_broker unset or redis, its tuning read */
    expect_loads("{\"engine\": {\"type\": \"redis\", \"redis\": {\"address\": \"r1:6379\"}}, "
                 "\"map_broker\": {\"type\": \"redis\", \"redis\": {\"address\": \"r1:6379\", "
                 "\"cleanup_interval\": \"-1\", \"cleanup_batch_size\": 7, "
                 "\"idempotent_result_ttl\": \"1m\"}}, \"channel\": {\"namespaces\": "
                 "[{\"name\": \"cursors\", \"subscription_type\": \"map\", \"map\": "
                 "{\"mode\": \"persistent\"}}]}}");
    lc_config_t c;
    assert_int_equal(load(&c, "{\"engine\": {\"type\": \"redis\"}, \"map_broker\": {\"redis\": "
                              "{\"cleanup_interval\": \"-1\", \"cleanup_batch_size\": 7, "
                              "\"idempotent_result_ttl\": \"1m\"}}}"),
                     0);
    assert_true(c.map_cleanup_interval_ms < 0);
    assert_int_equal(c.map_cleanup_batch_size, 7);
    assert_int_equal(c.map_idempotent_result_ttl_ms, 60000);
    lc_config_free(&c);
    assert_int_equal(load(&c, "{}"), 0);
    assert_int_equal(c.map_cleanup_interval_ms, 1000);
    assert_int_equal(c.map_cleanup_batch_size, 100);
    lc_config_free(&c);
    lc_config_refuse_unsupported(false);
    expect_loads("{\"grpc_api\": {\"enabled\": true}}");
}

static void test_suggestions(void **state)
{
    char out[256];
    assert_non_null(lc__config_suggest("client.token.hmac_secert_key", NULL, out, sizeof(out)));
    assert_string_equal(out, "client.token.hmac_secret_key");
    assert_non_null(lc__config_suggest("client.ping_intervall", NULL, out, sizeof(out)));
    assert_string_equal(out, "client.ping_interval");
    /* the right name in the wrong section */
    assert_non_null(lc__config_suggest("http_api.allowed_origins", NULL, out, sizeof(out)));
    assert_string_equal(out, "client.allowed_origins");
    assert_null(lc__config_suggest("completely_unrelated_thing", NULL, out, sizeof(out)));

    lc_config_t c;
    lc_log_set_level(LC_LOG_NONE);
    assert_int_equal(load(&c, "{\"client\": {\"pong_timeot\": \"5s\"}, \"zzz\": 1}"), 0);
    assert_int_equal(c.ops.unknown_keys, 2);
    lc_config_free(&c);
    lc_log_set_level(LC_LOG_INFO);
}

static void test_secrets_lint(void **state)
{
    lc_config_t c;
    char out[512];
    assert_int_equal(load(&c, "{\"client\": {\"token\": {\"hmac_secret_key\":"
                              " \"0123456789abcdef0123456789abcdef\"}}, \"http_api\": {\"key\":"
                              " \"0123456789abcdef0123456789abcdef\"}}"),
                     0);
    assert_int_equal(lc_config_lint_secrets(&c, out, sizeof(out)), 0);
    lc_config_free(&c);
    assert_int_equal(load(&c, "{\"client\": {\"token\": {\"hmac_secret_key\": \"abc\"}},"
                              " \"http_api\": {\"key\": \"CHANGE-ME-0123456789abcdef0123456789\"},"
                              " \"admin\": {\"secret\": \"change_me\"}}"),
                     0);
    assert_int_equal(lc_config_lint_secrets(&c, out, sizeof(out)), 3);
    assert_non_null(strstr(out, "client.token.hmac_secret_key: shorter than 32 bytes"));
    assert_non_null(strstr(out, "http_api.key: a placeholder"));
    assert_null(strstr(out, "CHANGE-ME"));
    lc_config_free(&c);
}

static void test_effective_config_masks_secrets(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"client\": {\"token\": {\"hmac_secret_key\": \"topsecret\"},"
                              " \"ping_interval\": \"20s\"}, \"admin\": {\"password\": \"pw1\"},"
                              " \"log\": {\"format\": \"json\"}}"),
                     0);
    char *masked, *shown;
    effective_both(&c, "topsecret", &masked, &shown);
    assert_null(strstr(masked, "pw1"));
    assert_non_null(strstr(masked, "\"20s\""));
    assert_non_null(strstr(masked, "\"json\""));
    free(masked);
    free(shown);
    lc_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsupported_keys_refused_when_on),
        cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_secrets_lint),
        cmocka_unit_test(test_effective_config_masks_secrets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
