/* Config loading: v6 keys, comments, durations, legacy flat keys, errors with key paths,
 * validation, namespace resolution, genconfig round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"
#include "config_test_util.h"

static void test_config_defaults_match_spec(void **state)
{
    lc_config_t c;
    lc_config_defaults(&c);
    assert_string_equal(c.address, "");
    assert_int_equal(c.port, 8000);
    assert_int_equal(c.log_level, LC_LOG_INFO);
    assert_int_equal(c.workers, 0);
    assert_string_equal(c.token_hmac_secret_key, "");
    assert_int_equal(c.n_allowed_origins, 0);
    assert_false(c.client_insecure);
    assert_int_equal(c.ping_interval_ms, 25000);
    assert_int_equal(c.pong_timeout_ms, 8000);
    assert_int_equal(c.stale_close_delay_ms, 10000);
    assert_int_equal(c.expired_close_delay_ms, 25000);
    assert_int_equal(c.channel_limit, 128);
    assert_int_equal(c.queue_max_size, 1048576);
    assert_int_equal(c.write_delay_ms, 0);
    assert_int_equal(c.max_messages_in_frame, 16);
    assert_int_equal(c.history_meta_ttl_ms, 720LL * 3600 * 1000);
    assert_int_equal(c.channel_max_length, 255);
    assert_string_equal(c.private_prefix, "$");
    assert_string_equal(c.namespace_boundary, ":");
    assert_string_equal(c.user_boundary, "#");
    assert_string_equal(c.user_separator, ",");
    assert_string_equal(c.http_api_key, "");
    assert_string_equal(c.http_api_prefix, "/api");
    assert_false(c.http_api_disabled);
    assert_false(c.websocket_disabled);
    assert_string_equal(c.websocket_prefix, "/connection/websocket");
    assert_int_equal(c.websocket_message_size_limit, 65536);
    assert_false(c.health_enabled);
    assert_string_equal(c.health_prefix, "/health");
    assert_string_equal(c.node_name, "");
    assert_int_equal(c.http_max_header_size, 16384);
    assert_int_equal(c.http_max_body_size, 1048576);
    assert_null(c.without_namespace.name);
    assert_null(c.without_namespace.channel_regex);
    assert_int_equal(c.n_namespaces, 0);
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), 0);

    /* a static default and then a heap copy are both replaced without leaking */
    assert_int_equal(lc_config_set_string(&c.address, "10.0.0.1"), 0);
    assert_int_equal(lc_config_set_string(&c.address, "10.0.0.2"), 0);
    assert_string_equal(c.address, "10.0.0.2");
    lc_config_free(&c);
}

static const char full_v6[] =
    "// Lucent test config\n"
    "{\n"
    "  /* the server */\n"
    "  \"http_server\": {\"address\": \"127.0.0.1\", \"port\": 9000, // trailing comment\n"
    "                  \"max_header_size\": 8192, \"max_body_size\": 2048},\n"
    "  \"log\": {\"level\": \"debug\"},\n"
    "  \"workers\": 3,\n"
    "  \"client\": {\n"
    "    \"token\": {\"hmac_secret_key\": \"s3cr/*t*/\"},\n"
    "    \"allowed_origins\": [\"http://localhost:3000\", \"https://*.example.com\"],\n"
    "    \"insecure\": true,\n"
    "    \"allow_anonymous_connect_without_token\": true,\n"
    "    \"disallow_anonymous_connection_tokens\": true,\n"
    "    \"ping_interval\": \"20s\", \"pong_timeout\": \"5s\",\n"
    "    \"stale_close_delay\": \"3s\", \"expired_close_delay\": \"1m\",\n"
    "    \"channel_limit\": 16, \"queue_max_size\": 4096,\n"
    "    \"connect_include_server_time\": true\n"
    "  },\n"
    "  \"http_api\": {\"key\": \"api//key\", \"disabled\": true, \"insecure\": true,\n"
    "               \"handler_prefix\": \"/v2/api\"},\n"
    "  \"websocket\": {\"disabled\": true, \"handler_prefix\": \"/ws\",\n"
    "                \"message_size_limit\": 1024},\n"
    "  \"health\": {\"enabled\": true, \"handler_prefix\": \"/healthz\"},\n"
    "  \"node\": {\"name\": \"node-1\"},\n"
    "  \"channel\": {\n"
    "    \"history_meta_ttl\": \"48h\", \"max_length\": 100,\n"
    "    \"private_prefix\": \"!\", \"namespace_boundary\": \"/\",\n"
    "    \"user_boundary\": \"@\", \"user_separator\": \";\",\n"
    "    \"without_namespace\": {\"presence\": true, \"allow_subscribe_for_client\": true},\n"
    "    \"namespaces\": [\n"
    "      {\"name\": \"chat\", \"presence\": true, \"join_leave\": true,\n"
    "       \"force_push_join_leave\": true, \"history_size\": 100, \"history_ttl\": \"300s\",\n"
    "       \"history_meta_ttl\": \"1h\", \"force_positioning\": true, \"allow_positioning\": "
    "true,\n"
    "       \"force_recovery\": true, \"allow_recovery\": true,\n"
    "       \"allow_subscribe_for_client\": true, \"allow_subscribe_for_anonymous\": true,\n"
    "       \"allow_publish_for_client\": true, \"allow_publish_for_subscriber\": true,\n"
    "       \"allow_publish_for_anonymous\": true, \"allow_presence_for_client\": true,\n"
    "       \"allow_presence_for_subscriber\": true, \"allow_presence_for_anonymous\": true,\n"
    "       \"allow_history_for_client\": true, \"allow_history_for_subscriber\": true,\n"
    "       \"allow_history_for_anonymous\": true, \"allow_user_limited_channels\": true,\n"
    "       \"channel_regex\": \"^[a-z]+$\"},\n"
    "      {\"name\": \"news.feed\"}\n"
    "    ]\n"
    "  }\n"
    "}\n";

static void test_config_full_v6_with_comments_loads(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, full_v6), 0);
    assert_string_equal(c.address, "127.0.0.1");
    assert_int_equal(c.port, 9000);
    assert_int_equal(c.http_max_header_size, 8192);
    assert_int_equal(c.http_max_body_size, 2048);
    assert_int_equal(c.log_level, LC_LOG_DEBUG);
    assert_int_equal(c.workers, 3);
    assert_string_equal(c.token_hmac_secret_key, "s3cr/*t*/");
    assert_int_equal(c.n_allowed_origins, 2);
    assert_string_equal(c.allowed_origins[0], "http://localhost:3000");
    assert_string_equal(c.allowed_origins[1], "https://*.example.com");
    assert_true(c.client_insecure);
    assert_true(c.allow_anonymous_connect_without_token);
    assert_true(c.disallow_anonymous_connection_tokens);
    assert_int_equal(c.ping_interval_ms, 20000);
    assert_int_equal(c.pong_timeout_ms, 5000);
    assert_int_equal(c.stale_close_delay_ms, 3000);
    assert_int_equal(c.expired_close_delay_ms, 60000);
    assert_int_equal(c.channel_limit, 16);
    assert_int_equal(c.queue_max_size, 4096);
    assert_true(c.connect_include_server_time);
    assert_string_equal(c.http_api_key, "api//key");
    assert_true(c.http_api_disabled);
    assert_true(c.http_api_insecure);
    assert_string_equal(c.http_api_prefix, "/v2/api");
    assert_true(c.websocket_disabled);
    assert_string_equal(c.websocket_prefix, "/ws");
    assert_int_equal(c.websocket_message_size_limit, 1024);
    assert_true(c.health_enabled);
    assert_string_equal(c.health_prefix, "/healthz");
    assert_string_equal(c.node_name, "node-1");
    assert_int_equal(c.history_meta_ttl_ms, 48LL * 3600 * 1000);
    assert_int_equal(c.channel_max_length, 100);
    assert_string_equal(c.private_prefix, "!");
    assert_string_equal(c.namespace_boundary, "/");
    assert_string_equal(c.user_boundary, "@");
    assert_string_equal(c.user_separator, ";");
    assert_true(c.without_namespace.presence);
    assert_true(c.without_namespace.allow_subscribe_for_client);
    assert_false(c.without_namespace.join_leave);

    assert_int_equal(c.n_namespaces, 2);
    const lc_ns_opts_t *ns = &c.namespaces[0];
    assert_string_equal(ns->name, "chat");
    assert_true(ns->presence && ns->join_leave && ns->force_push_join_leave);
    assert_int_equal(ns->history_size, 100);
    assert_int_equal(ns->history_ttl_ms, 300000);
    assert_int_equal(ns->history_meta_ttl_ms, 3600000);
    assert_true(ns->force_positioning && ns->allow_positioning);
    assert_true(ns->force_recovery && ns->allow_recovery);
    assert_true(ns->allow_subscribe_for_client && ns->allow_subscribe_for_anonymous);
    assert_true(ns->allow_publish_for_client && ns->allow_publish_for_subscriber &&
                ns->allow_publish_for_anonymous);
    assert_true(ns->allow_presence_for_client && ns->allow_presence_for_subscriber &&
                ns->allow_presence_for_anonymous);
    assert_true(ns->allow_history_for_client && ns->allow_history_for_subscriber &&
                ns->allow_history_for_anonymous);
    assert_true(ns->allow_user_limited_channels);
    assert_string_equal(ns->channel_regex, "^[a-z]+$");
    ns = &c.namespaces[1];
    assert_string_equal(ns->name, "news.feed");
    assert_false(ns->presence);
    assert_int_equal(ns->history_size, 0);
    assert_null(ns->channel_regex);
    lc_config_free(&c);
}

static void test_config_strings_with_comment_markers_survive(void **state)
{
    lc_config_t c;
    /* a string ending in an escaped backslash, then a line comment and a block comment */
    assert_int_equal(load(&c, "{\"node\": {\"name\": \"c:\\\\\"}, // x \"y\n"
                              "/* \"z */ \"http_api\": {\"key\": \"http://x/*y*/\"}}"),
                     0);
    assert_string_equal(c.node_name, "c:\\");
    assert_string_equal(c.http_api_key, "http://x/*y*/");
    lc_config_free(&c);

    assert_int_equal(load(&c, "\xEF\xBB\xBF{\"http_api\": {\"key\": \"q\\\"//\"}}"), 0);
    assert_string_equal(c.http_api_key, "q\"//");
    lc_config_free(&c);
}

static void test_config_durations_parsed(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"client\": {\"ping_interval\": \"1h30m\", \"pong_timeout\": "
                              "\"1500ms\", \"stale_close_delay\": \"0\"}}"),
                     0);
    assert_int_equal(c.ping_interval_ms, 90 * 60 * 1000);
    assert_int_equal(c.pong_timeout_ms, 1500);
    assert_int_equal(c.stale_close_delay_ms, 0);
    lc_config_free(&c);

    /* any negative ping/pong disables them */
    assert_int_equal(
        load(&c, "{\"client\": {\"ping_interval\": \"-1s\", \"pong_timeout\": \"-5m\"}}"), 0);
    assert_int_equal(c.ping_interval_ms, -1);
    assert_int_equal(c.pong_timeout_ms, -1);
    lc_config_free(&c);

    assert_int_equal(load(&c, "{\"channel\": {\"history_meta_ttl\": \"720h\"}}"), 0);
    assert_int_equal(c.history_meta_ttl_ms, 720LL * 3600 * 1000);
    lc_config_free(&c);

    expect_error("{\"client\": {\"ping_interval\": 25}}",
                 "client.ping_interval: expected a duration string like \"25s\"");
    expect_error("{\"client\": {\"pong_timeout\": \"8 seconds\"}}", "client.pong_timeout: ");
    expect_error("{\"client\": {\"stale_close_delay\": \"-1s\"}}", "client.stale_close_delay: ");
}

static void test_config_unknown_key_still_loads(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"client\": {\"tokn\": {\"x\": 1}, \"insecure\": true},"
                              " \"bogus\": 1, \"channel\": {\"namespaces\": [{\"name\": \"ab\","
                              " \"alow_history\": true}]}}"),
                     0);
    assert_true(c.client_insecure);
    assert_int_equal(c.n_namespaces, 1);
    lc_config_free(&c);
}

static void test_config_known_unused_keys_accepted(void **state)
{
    lc_config_t c;
    const char *json =
        "{\"engine\": {\"type\": \"redis\", \"redis\": {\"address\": [\"redis://r:6379\"],"
        " \"prefix\": \"x\", \"presence_ttl\": \"60s\"}},"
        " \"broker\": {\"enabled\": false}, \"admin\": {\"enabled\": true, \"password\": \"p\","
        " \"secret\": \"s\"}, \"prometheus\": {\"enabled\": true},"
        " \"sse\": {\"enabled\": true}, \"http_stream\": {\"enabled\": true},"
        " \"uni_websocket\": {\"enabled\": true}, \"uni_grpc\": {\"port\": 11000},"
        " \"grpc_api\": {\"enabled\": false, \"port\": 10000},"
        " \"rpc\": {\"proxy\": {\"endpoint\": \"http://a/rpc\"}, \"without_namespace\":"
        " {\"proxy_enabled\": true}, \"namespaces\": [{\"name\": \"rr\", \"proxy_enabled\": "
        "true}]},"
        " \"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://a\", \"timeout\": \"1s\","
        " \"http\": {\"static_headers\": {\"X\": \"y\"}}}],"
        " \"client\": {\"proxy\": {\"connect\": {\"enabled\": true, \"endpoint\": \"http://a\","
        " \"http_headers\": [\"Cookie\"]}}, \"token\": {\"rsa_public_key\": \"\"},"
        " \"subscription_token\": {\"enabled\": true}},"
        " \"channel\": {\"proxy\": {\"subscribe\": {\"endpoint\": \"http://a/sub\"}},"
        " \"namespaces\": [{\"name\": \"chat\", \"subscribe_proxy_enabled\": true,"
        " \"force_recovery_mode\": \"cache\", \"allowed_delta_types\": [\"fossil\"]}]},"
        " \"shutdown\": {\"timeout\": \"30s\"}, \"swagger\": {\"enabled\": false},"
        " \"debug\": {\"enabled\": false}, \"emulation\": {\"handler_prefix\": \"/emulation\"}}";
    assert_int_equal(load(&c, json), 0);
    lc_config_free(&c);

    expect_error("{\"engine\": {\"type\": \"mongo\"}}",
                 "engine.type: expected one of memory, redis");
    expect_error("{\"admin\": {\"enabled\": \"yes\"}}", "admin.enabled: expected true or false");
    expect_error("{\"proxies\": [{\"name\": \"pp\", \"endpoint\": \"http://a\"},"
                 " {\"name\": \"qq\", \"timeout\": 1}]}",
                 "proxies[1].timeout: ");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ch\", \"allowed_delta_types\":"
                 " [\"xdelta\"]}]}}",
                 "channel.namespaces[0].allowed_delta_types: ");
}

static void test_config_wrong_type_names_key_path(void **state)
{
    expect_error("{\"http_server\": {\"port\": \"80\"}}",
                 "http_server.port: expected an integer from 0 to 65535");
    expect_error("{\"http_server\": {\"port\": 70000}}", "http_server.port: ");
    expect_error("{\"http_server\": {\"port\": 80.5}}", "http_server.port: ");
    expect_error("{\"log\": {\"level\": \"loud\"}}",
                 "log.level: expected one of trace, debug, info, warn, error, none");
    expect_error("{\"client\": {\"token\": {\"hmac_secret_key\": 5}}}",
                 "client.token.hmac_secret_key: expected a string");
    expect_error("{\"client\": {\"allowed_origins\": [\"a\", 1]}}", "client.allowed_origins: ");
    expect_error("{\"client\": {\"insecure\": 1}}", "client.insecure: expected true or false");
    expect_error("{\"client\": []}", "client: expected an object");
    expect_error("{\"workers\": -1}", "workers: ");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ok\"}, {\"name\": \"a b\"}]}}",
                 "channel.namespaces[1].name: expected a string matching ^[-a-zA-Z0-9_.]{2,}$");
    expect_error("{\"channel\": {\"namespaces\": [{\"presence\": true}]}}",
                 "channel.namespaces[0].name: ");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\"}, {\"name\": \"cd\", "
                 "\"presence\": \"yes\"}]}}",
                 "channel.namespaces[1].presence: expected true or false");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\"}, {\"name\": \"ab\"}]}}",
                 "channel.namespaces[1].name: duplicate namespace \"ab\"");
    expect_error("{\"channel\": {\"namespaces\": {}}}", "channel.namespaces: ");
    expect_error("{\"channel\": {\"without_namespace\": {\"history_ttl\": 300}}}",
                 "channel.without_namespace.history_ttl: ");
    expect_error("[1, 2]", "top level must be a JSON object");
}

static void test_config_legacy_flat_keys_mapped(void **state)
{
    lc_config_t c;
    const char *json =
        "{\"token_hmac_secret_key\": \"hs\", \"api_key\": \"ak\", \"admin_password\": \"p\","
        " \"admin_secret\": \"s\", \"admin\": true, \"allowed_origins\": [\"http://a\"],"
        " \"port\": 8100, \"address\": \"0.0.0.0\", \"log_level\": \"error\","
        " \"client_insecure\": true, \"api_insecure\": true, \"engine\": \"memory\","
        " \"name\": \"legacy-node\", \"health\": true, \"ping_interval\": \"30s\","
        " \"pong_timeout\": \"10s\", \"client_channel_limit\": 7, \"client_queue_max_size\": 99,"
        " \"presence\": true, \"history_size\": 10, \"history_ttl\": \"60s\","
        " \"allow_subscribe_for_client\": true, \"channel_regex\": \"^x\","
        " \"namespaces\": [{\"name\": \"chat\", \"proxy_subscribe\": true, \"join_leave\": true}],"
        " \"websocket_disable\": true, \"history_meta_ttl\": \"100h\","
        " \"proxy_subscribe_endpoint\": \"http://app/sub\"}";
    assert_int_equal(load(&c, json), 0);
    assert_string_equal(c.token_hmac_secret_key, "hs");
    assert_string_equal(c.http_api_key, "ak");
    assert_int_equal(c.n_allowed_origins, 1);
    assert_string_equal(c.allowed_origins[0], "http://a");
    assert_int_equal(c.port, 8100);
    assert_string_equal(c.address, "0.0.0.0");
    assert_int_equal(c.log_level, LC_LOG_ERROR);
    assert_true(c.client_insecure);
    assert_true(c.http_api_insecure);
    assert_string_equal(c.node_name, "legacy-node");
    assert_true(c.health_enabled);
    assert_int_equal(c.ping_interval_ms, 30000);
    assert_int_equal(c.pong_timeout_ms, 10000);
    assert_int_equal(c.channel_limit, 7);
    assert_int_equal(c.queue_max_size, 99);
    assert_true(c.without_namespace.presence);
    assert_int_equal(c.without_namespace.history_size, 10);
    assert_int_equal(c.without_namespace.history_ttl_ms, 60000);
    assert_true(c.without_namespace.allow_subscribe_for_client);
    assert_string_equal(c.without_namespace.channel_regex, "^x");
    assert_int_equal(c.n_namespaces, 1);
    assert_string_equal(c.namespaces[0].name, "chat");
    assert_true(c.namespaces[0].join_leave);
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.channel_proxy_subscribe);
    assert_true(c.websocket_disabled);
    assert_int_equal(c.history_meta_ttl_ms, 100LL * 3600 * 1000);
    lc_config_free(&c);

    /* errors in flat keys name the key as written */
    expect_error("{\"port\": \"x\"}", "port: expected an integer from 0 to 65535");
    expect_error("{\"namespaces\": [{\"name\": \"!\"}]}", "namespaces[0].name: ");
}

static void test_config_v6_wins_over_flat(void **state)
{
    lc_config_t c;
    /* the flat key comes after the v6 one in the first case and before it in the second */
    assert_int_equal(load(&c,
                          "{\"http_api\": {\"key\": \"v6\"}, \"api_key\": \"flat\","
                          " \"client\": {\"ping_interval\": \"40s\"}, \"ping_interval\": \"50s\"}"),
                     0);
    assert_string_equal(c.http_api_key, "v6");
    assert_int_equal(c.ping_interval_ms, 40000);
    lc_config_free(&c);

    assert_int_equal(load(&c, "{\"namespaces\": [{\"name\": \"old\"}], \"presence\": true,"
                              " \"channel\": {\"namespaces\": [{\"name\": \"new\"}],"
                              " \"without_namespace\": {\"presence\": false}}}"),
                     0);
    assert_int_equal(c.n_namespaces, 1);
    assert_string_equal(c.namespaces[0].name, "new");
    assert_false(c.without_namespace.presence);
    lc_config_free(&c);

    /* inside a namespace: the v6 option name wins over the v5 one */
    assert_int_equal(load(&c, "{\"channel\": {\"namespaces\": [{\"name\": \"ab\","
                              " \"proxy_subscribe\": \"not checked\","
                              " \"subscribe_proxy_enabled\": true}],"
                              " \"proxy\": {\"subscribe\": {\"endpoint\": \"http://a\"}}}}"),
                     0);
    lc_config_free(&c);
}

static void legacy_resolves(const struct lc__legacy *l, void *arg)
{
    lc_config_t *c = arg;
    void *base = NULL;
    if (l->v6 && !lc__config_resolve(c, l->v6, &base))
        fail_msg("flat key \"%s\" maps to unknown v6 key \"%s\"", l->old, l->v6);
    if (l->enable && !lc__config_resolve(c, l->enable, &base))
        fail_msg("flat key \"%s\" enables unknown v6 key \"%s\"", l->old, l->enable);
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; l->each && s->path; s++) {
        char path[128];
        snprintf(path, sizeof(path), "%s.%s", s->path, l->each);
        if (!lc__config_resolve(c, path, &base))
            fail_msg("flat key \"%s\" maps to unknown v6 key \"%s\"", l->old, path);
    }
}

static void test_config_legacy_table_all_paths_resolve(void **state)
{
    lc_config_t c;
    lc_config_defaults(&c);
    lc__config_legacy_each(legacy_resolves, &c);
    lc_config_free(&c);
}

static void test_config_channel_opts_resolution(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"channel\": {\"namespaces\": [{\"name\": \"chat\"},"
                              " {\"name\": \"news\"}]}}"),
                     0);
#define OPTS(s) lc_config_channel_opts(&c, s, strlen(s))
    assert_ptr_equal(OPTS("index"), &c.without_namespace);
    assert_ptr_equal(OPTS("chat:index"), &c.namespaces[0]);
    assert_ptr_equal(OPTS("news:a:b"), &c.namespaces[1]);
    assert_ptr_equal(OPTS("$chat:secret"), &c.namespaces[0]);
    assert_ptr_equal(OPTS("$index"), &c.without_namespace);
    assert_ptr_equal(OPTS("#42"), &c.without_namespace);
    assert_ptr_equal(OPTS("chat:user#42"), &c.namespaces[0]);
    assert_ptr_equal(OPTS(":x"), &c.without_namespace);
    assert_null(OPTS("unknown:index"));
    assert_null(OPTS("$unknown:index"));
    assert_null(OPTS("cha:x"));
    assert_null(OPTS("chatty:x"));
    /* the length bounds the name: "chat:index" cut before the boundary has no namespace */
    assert_ptr_equal(lc_config_channel_opts(&c, "chat:index", 4), &c.without_namespace);
#undef OPTS
    lc_config_free(&c);
}

static void test_config_validate_failures(void **state)
{
    expect_error("{\"client\": {\"ping_interval\": \"8s\", \"pong_timeout\": \"8s\"}}",
                 "client.ping_interval");
    expect_error("{\"client\": {\"ping_interval\": \"0s\"}}", "client.ping_interval");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"history_size\": 10}]}}",
                 "channel.namespaces[0]: history_size and history_ttl must be set together");
    expect_error("{\"channel\": {\"without_namespace\": {\"history_ttl\": \"10s\"}}}",
                 "channel.without_namespace: history_size and history_ttl");
    expect_error("{\"channel\": {\"without_namespace\": {\"force_recovery\": true}}}",
                 "channel.without_namespace: recovery needs history");
    expect_error("{\"channel\": {\"without_namespace\": {\"allow_positioning\": true}}}",
                 "channel.without_namespace: positioning needs history");
    expect_error("{\"channel\": {\"history_meta_ttl\": \"1h\", \"without_namespace\":"
                 " {\"history_size\": 1, \"history_ttl\": \"2h\"}}}",
                 "history_ttl must not exceed history_meta_ttl");
    expect_error("{\"channel\": {\"without_namespace\": {\"history_size\": 1, \"history_ttl\":"
                 " \"2h\", \"history_meta_ttl\": \"1h\"}}}",
                 "history_ttl must not exceed history_meta_ttl");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"channel_regex\": \"(\"}]}}",
                 "channel.namespaces[0].channel_regex: invalid regular expression");
    expect_error("{\"websocket\": {\"message_size_limit\": 0}}", "websocket.message_size_limit");
    expect_error("{\"client\": {\"queue_max_size\": 0}}", "client.queue_max_size");

    /* disabled pings skip the ping/pong comparison */
    lc_config_t c;
    assert_int_equal(load(&c, "{\"client\": {\"ping_interval\": \"-1s\"}}"), 0);
    lc_config_free(&c);
}

static void test_config_malformed_json_reports_position(void **state)
{
    expect_error("{\n  \"http_server\": {\"port\": 80,}\n}", "line 2");
    expect_error("{\"a\": 1", "invalid JSON");
    expect_error("", "invalid JSON");
    expect_error("{} trailing", "invalid JSON");
    expect_error("{\"a\": 1} /* open", "unterminated /* comment at line 1");

    lc_config_t c;
    const char nul[] = "{\"a\": 1}\0{";
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_string(&c, nul, sizeof(nul) - 1, err, sizeof(err)), LC_EINVAL);
    lc_config_free(&c);
}

static void test_config_generate_round_trip(void **state)
{
    char dir[] = "/tmp/lc_config_test_XXXXXX";
    char path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/config.json", dir);

    assert_int_equal(lc_config_generate(path, err, sizeof(err)), 0);
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file(&c, path, err, sizeof(err)), 0);
    assert_int_equal(strlen(c.token_hmac_secret_key), 64);
    assert_int_equal(strlen(c.http_api_key), 64);
    assert_string_not_equal(c.token_hmac_secret_key, c.http_api_key);
    assert_int_equal(c.n_allowed_origins, 0);
    assert_true(c.without_namespace.allow_subscribe_for_client);
    lc_config_free(&c);

    /* admin secrets are there too (Lucent does not load the admin section yet) */
    char text[4096];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *pw = strstr(text, "\"password\": \"");
    assert_non_null(pw);
    assert_int_equal(strspn(pw + 13, "0123456789abcdef"), 32);
    assert_non_null(strstr(text, "\"secret\": \""));

    /* never overwrites */
    assert_int_equal(lc_config_generate(path, err, sizeof(err)), LC_EEXIST);
    assert_non_null(strstr(err, "already exists"));

    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);

    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file(&c, path, err, sizeof(err)), LC_ENOENT);
    lc_config_free(&c);
}

static void test_config_dev_has_secrets_and_open_origins(void **state)
{
    lc_config_t c;
    assert_int_equal(lc_config_dev(&c), 0);
    assert_int_equal(strlen(c.token_hmac_secret_key), 64);
    assert_int_equal(strlen(c.http_api_key), 64);
    assert_int_equal(c.n_allowed_origins, 1);
    assert_string_equal(c.allowed_origins[0], "*");
    assert_string_equal(c.address, "127.0.0.1"); /* never reachable from the network */
    assert_true(c.health_enabled);
    assert_true(c.without_namespace.allow_subscribe_for_client);
    assert_true(c.without_namespace.allow_publish_for_client);
    assert_false(c.without_namespace.presence);
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), 0);
    lc_config_free(&c);
}

static void test_config_load_twice_replaces_values(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, full_v6), 0);
    const char *second = "{\"client\": {\"allowed_origins\": []}, \"channel\": {\"namespaces\":"
                         " [{\"name\": \"zz\", \"channel_regex\": \"\"}]}, \"node\": {\"name\": "
                         "\"n2\"}}";
    assert_int_equal(lc_config_load_string(&c, second, strlen(second), err, sizeof(err)), 0);
    assert_int_equal(c.n_allowed_origins, 0);
    assert_int_equal(c.n_namespaces, 1);
    assert_null(c.namespaces[0].channel_regex);
    assert_string_equal(c.node_name, "n2");
    lc_config_free(&c);
}

static void test_config_client_channel_keys_defaults_and_parse(void **state)
{
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(c.history_max_publication_limit, 300);
    assert_int_equal(c.recovery_max_publication_limit, 300);
    assert_int_equal(c.expired_sub_close_delay_ms, 25000);
    assert_int_equal(c.presence_update_interval_ms, 27000);
    assert_false(c.personal_channel_enabled || c.personal_single_connection || c.sub_token_enabled);
    assert_string_equal(c.personal_channel_namespace, "");
    assert_int_equal(c.user_connection_limit + c.connection_limit, 0);
    assert_string_equal(c.sub_token_hmac_secret_key, "");
    assert_int_equal(c.publication_data_format, LC_PUB_FORMAT_DEFAULT);
    lc_config_free(&c);

    assert_int_equal(
        load(&c, "{\"client\": {\"history_max_publication_limit\": 50,"
                 " \"recovery_max_publication_limit\": 0, \"expired_sub_close_delay\": \"5s\","
                 " \"presence_update_interval\": \"1m\", \"user_connection_limit\": 3,"
                 " \"connection_limit\": 1000, \"token\": {\"hmac_secret_key\": \"conn\"},"
                 " \"subscription_token\": {\"enabled\": true, \"hmac_secret_key\": \"sub\"},"
                 " \"subscribe_to_user_personal_channel\": {\"enabled\": true,"
                 " \"personal_channel_namespace\": \"personal\", \"single_connection\": true}},"
                 " \"channel\": {\"namespaces\": [{\"name\": \"personal\"}]}}"),
        0);
    assert_int_equal(c.history_max_publication_limit, 50);
    assert_int_equal(c.recovery_max_publication_limit, 0);
    assert_int_equal(c.expired_sub_close_delay_ms, 5000);
    assert_int_equal(c.presence_update_interval_ms, 60000);
    assert_int_equal(c.user_connection_limit, 3);
    assert_int_equal(c.connection_limit, 1000);
    assert_true(c.sub_token_enabled);
    assert_string_equal(lc_config_sub_token_secret(&c), "sub");
    assert_true(c.personal_channel_enabled && c.personal_single_connection);
    assert_string_equal(c.personal_channel_namespace, "personal");
    c.sub_token_enabled = false; /* without the separate config the connection key is used */
    assert_string_equal(lc_config_sub_token_secret(&c), "conn");
    lc_config_free(&c);

    /* flat keys of older configs */
    assert_int_equal(load(&c, "{\"client_expired_sub_close_delay\": \"7s\","
                              " \"client_user_connection_limit\": 2,"
                              " \"separate_subscription_token_config\": true,"
                              " \"subscription_token_hmac_secret_key\": \"s2\","
                              " \"user_subscribe_to_personal\": true}"),
                     0);
    assert_int_equal(c.expired_sub_close_delay_ms, 7000);
    assert_int_equal(c.user_connection_limit, 2);
    assert_string_equal(lc_config_sub_token_secret(&c), "s2");
    assert_true(c.personal_channel_enabled);
    lc_config_free(&c);

    expect_error("{\"client\": {\"history_max_publication_limit\": \"300\"}}",
                 "client.history_max_publication_limit: expected an integer");
    expect_error("{\"client\": {\"recovery_max_publication_limit\": -1}}",
                 "client.recovery_max_publication_limit: ");
    expect_error("{\"client\": {\"expired_sub_close_delay\": 25}}",
                 "client.expired_sub_close_delay: expected a duration string");
    expect_error("{\"client\": {\"presence_update_interval\": \"0s\"}}",
                 "client.presence_update_interval: must be greater than 0");
    expect_error("{\"client\": {\"max_messages_in_frame\": 0}}",
                 "client.max_messages_in_frame: must be positive or -1");
    expect_error("{\"client\": {\"max_messages_in_frame\": -2}}", "client.max_messages_in_frame: ");
    expect_error("{\"client\": {\"write_delay\": 20}}",
                 "client.write_delay: expected a duration string");
    expect_error("{\"client\": {\"user_connection_limit\": 1.5}}",
                 "client.user_connection_limit: ");
    expect_error("{\"client\": {\"connection_limit\": true}}", "client.connection_limit: ");
    expect_error("{\"client\": {\"subscription_token\": {\"enabled\": 1}}}",
                 "client.subscription_token.enabled: expected true or false");
    expect_error("{\"client\": {\"subscription_token\": {\"hmac_secret_key\": 5}}}",
                 "client.subscription_token.hmac_secret_key: expected a string");
    expect_error("{\"client\": {\"subscribe_to_user_personal_channel\": {\"enabled\": \"y\"}}}",
                 "client.subscribe_to_user_personal_channel.enabled: ");
    expect_error("{\"client\": {\"subscribe_to_user_personal_channel\":"
                 " {\"single_connection\": 0}}}",
                 "client.subscribe_to_user_personal_channel.single_connection: ");
    expect_error("{\"client\": {\"subscribe_to_user_personal_channel\": {\"enabled\": true,"
                 " \"personal_channel_namespace\": \"nope\"}}}",
                 "personal_channel_namespace: namespace \"nope\" is not defined");
}

static void test_config_channel_option_values_stored(void **state)
{
    lc_config_t c;
    assert_int_equal(
        load(&c, "{\"channel\": {\"publication_data_format\": \"binary\", \"namespaces\": ["
                 "{\"name\": \"aa\", \"force_recovery_mode\": \"cache\", \"allowed_delta_types\":"
                 " [\"fossil\"], \"delta_publish\": true, \"publication_data_format\": \"json\","
                 " \"auto_cache_recover\": true},"
                 "{\"name\": \"bb\", \"force_recovery_mode\": \"stream\", \"allowed_delta_types\":"
                 " [], \"publication_data_format\": \"json_object\"},"
                 "{\"name\": \"cc\", \"force_recovery_mode\": \"\", \"publication_data_format\":"
                 " \"\"}]}}"),
        0);
    assert_int_equal(c.publication_data_format, LC_PUB_FORMAT_BINARY);
    const lc_ns_opts_t *a = &c.namespaces[0], *b = &c.namespaces[1], *cc = &c.namespaces[2];
    assert_int_equal(a->force_recovery_mode, LC_RECOVERY_MODE_CACHE);
    assert_int_equal(a->allowed_delta_types, LC_DELTA_FOSSIL);
    assert_true(a->delta_publish && a->auto_cache_recover);
    assert_int_equal(a->publication_data_format, LC_PUB_FORMAT_JSON);
    assert_int_equal(b->force_recovery_mode, LC_RECOVERY_MODE_STREAM);
    assert_int_equal(b->allowed_delta_types, 0);
    assert_false(b->delta_publish);
    assert_int_equal(b->publication_data_format, LC_PUB_FORMAT_JSON_OBJECT);
    assert_int_equal(cc->force_recovery_mode, LC_RECOVERY_MODE_STREAM);
    assert_int_equal(cc->publication_data_format, LC_PUB_FORMAT_DEFAULT);
    lc_config_free(&c);

    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"force_recovery_mode\":"
                 " \"fast\"}]}}",
                 "channel.namespaces[0].force_recovery_mode: expected one of stream, cache");
    expect_error("{\"channel\": {\"without_namespace\": {\"allowed_delta_types\": \"fossil\"}}}",
                 "channel.without_namespace.allowed_delta_types: expected an array");
    expect_error("{\"channel\": {\"without_namespace\": {\"delta_publish\": 1}}}",
                 "channel.without_namespace.delta_publish: expected true or false");
    expect_error("{\"channel\": {\"without_namespace\": {\"publication_data_format\": \"xml\"}}}",
                 "channel.without_namespace.publication_data_format: expected one of json, "
                 "json_object, binary");
    expect_error("{\"channel\": {\"publication_data_format\": 1}}",
                 "channel.publication_data_format: ");
    expect_error("{\"channels\": [{\"name\": \"x\", \"force_recovery_mode\": \"x\"}]}",
                 "channels[0].force_recovery_mode: ");
}

/* Loads pre "key": value post, expecting the option at k to be set. */
static void check_option_wired(const char *pre, const char *post, const struct lc__key *k,
                               const char *value, const char *where)
{
    char json[512];
    lc_config_t c;
    lc_ns_opts_t scratch;
    snprintf(json, sizeof(json), "%s\"%s\": %s%s", pre, k->name, value, post);
    if (load(&c, json) != 0)
        fail_msg("%s: %s", json, err);
    const lc_ns_opts_t *o = NULL;
    if (strcmp(where, "ns") == 0)
        o = &c.namespaces[0];
    else if (strcmp(where, "rule") == 0)
        o = lc_config_resolve_channel(&c, "x", 1, NULL, &scratch);
    else
        o = &c.without_namespace;
    assert_non_null(o);
    const char *f = (const char *)o + k->off;
    bool set = k->kind == LC__K_BOOL                           ? *(const bool *)f
               : k->kind == LC__K_INT || k->kind == LC__K_ENUM ? *(const int *)f != 0
               : k->kind == LC__K_ENUMS                        ? *(const unsigned *)f != 0
               : k->kind == LC__K_REGEX                        ? o->channel_re != NULL
                                                               : *(const int64_t *)f != 0;
    if (!set)
        fail_msg("%s: option %s not stored (%s)", json, k->name, where);
    lc_config_free(&c);
}

static void test_config_every_channel_option_wired_everywhere(void **state)
{
#define HIST "\"history_size\": 5, \"history_ttl\": \"1m\", "
    static const char *const wrap[4][2] = {
        {"{\"channel\": {\"without_namespace\": {" HIST, "}}}"},
        {"{\"channel\": {\"namespaces\": [{\"name\": \"ab\", " HIST, "}]}}"},
        {"{\"channels\": [{\"name\": \"x\", " HIST, "}]}"},
        {"{" HIST, "}"}, /* flat keys of older configs */
    };
#undef HIST
    const char *where[] = {"without", "ns", "rule", "flat"};
    size_t checked = 0;
    for (const struct lc__key *k = lc__config_ns_keys; k->name; k++) {
        char alt[64] = "";
        if (k->kind == LC__K_ENUMS) { /* ["fossil"] */
            snprintf(alt, sizeof(alt), "[\"%s\"]", k->values);
        } else if (k->kind == LC__K_ENUM) { /* the second alternative, never stored as 0 */
            const char *a = strchr(k->values, '|') + 1;
            snprintf(alt, sizeof(alt), "\"%.*s\"", (int)strcspn(a, "|"), a);
        }
        const char *value = k->kind == LC__K_BOOL    ? "true"
                            : k->kind == LC__K_INT   ? "7"
                            : k->kind == LC__K_DUR   ? "\"1h\""
                            : k->kind == LC__K_REGEX ? "\"^a\""
                            : alt[0]                 ? alt
                                                     : NULL;
        if (k->off == LC__NOFIELD || !value || strcmp(k->name, "history_size") == 0 ||
            strcmp(k->name, "history_ttl") == 0)
            continue;
        for (int i = 0; i < 4; i++) {
            /* the flat history_meta_ttl is channel.history_meta_ttl (legacy table) */
            if (i == 3 && strcmp(k->name, "history_meta_ttl") == 0)
                continue;
            check_option_wired(wrap[i][0], wrap[i][1], k, value, where[i]);
        }
        checked++;
    }
    assert_int_equal(checked, 29); /* every stored option but history_size and history_ttl */
}

static bool re_ok(const char *re, const char *name)
{
    lc_ns_opts_t o;
    memset(&o, 0, sizeof(o));
    assert_int_equal(lc_config_set_channel_regex(&o, re, err, sizeof(err)), 0);
    bool ok = lc_config_channel_regex_ok(&o, name);
    lc__config_free_ns(&o);
    return ok;
}

static void test_config_channel_regex_translated_and_kept_compiled(void **state)
{
    assert_true(re_ok("^\\d+$", "123"));
    assert_false(re_ok("^\\d+$", "12a"));
    assert_true(re_ok("^\\w+-\\D$", "a_1-x"));
    assert_false(re_ok("^\\w+$", "a-b"));
    assert_true(re_ok("^a\\sb\\S$", "a b!"));
    assert_true(re_ok("^[[:digit:]]{2}\\.x$", "42.x"));
    assert_false(re_ok("^[[:digit:]]{2}\\.x$", "42yx"));
    assert_true(re_ok("^\\\\d$", "\\d")); /* an escaped backslash then a plain d */
    assert_true(re_ok("^[]\\d]$", "]"));  /* ']' first in brackets is a member */
    /* known limitation: inside brackets the backslash is literal, as in POSIX */
    assert_true(re_ok("^[\\d]$", "d"));
    assert_false(re_ok("^[\\d]$", "1"));

    lc_ns_opts_t o;
    memset(&o, 0, sizeof(o));
    assert_true(lc_config_channel_regex_ok(&o, "anything"));
    assert_int_equal(lc_config_set_channel_regex(&o, "(?i)abc", err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "invalid regular expression"));
    assert_null(o.channel_re);
    assert_int_equal(lc_config_set_channel_regex(&o, "^a$", err, sizeof(err)), 0);
    assert_int_equal(lc_config_set_channel_regex(&o, "^b$", err, sizeof(err)), 0);
    assert_true(lc_config_channel_regex_ok(&o, "b"));
    assert_false(lc_config_channel_regex_ok(&o, "a"));
    assert_int_equal(lc_config_set_channel_regex(&o, "", err, sizeof(err)), 0);
    assert_null(o.channel_regex);
    assert_null(o.channel_re);

    lc_config_t c;
    assert_int_equal(load(&c, "{\"channel\": {\"without_namespace\": {\"channel_regex\":"
                              " \"^\\\\d+$\"}}, \"channel_regex\": \"^x$\"}"),
                     0);
    assert_string_equal(c.without_namespace.channel_regex, "^\\d+$"); /* v6 key wins */
    assert_true(lc_config_channel_regex_ok(&c.without_namespace, "7"));
    /* a regex string assigned in code without its compiled form is refused */
    free(c.without_namespace.channel_regex);
    c.without_namespace.channel_regex = strdup("^x$");
    regfree(c.without_namespace.channel_re);
    free(c.without_namespace.channel_re);
    c.without_namespace.channel_re = NULL;
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "channel.without_namespace.channel_regex: not compiled"));
    lc_config_free(&c);

    expect_error("{\"channel\": {\"without_namespace\": {\"channel_regex\": \"a{\"}}}",
                 "channel.without_namespace.channel_regex: invalid regular expression");
    expect_error("{\"channels\": [{\"name\": \"a\", \"channel_regex\": \"[\"}]}",
                 "channels[0].channel_regex: invalid regular expression");
    expect_error("{\"channel_regex\": \"(\"}", "channel_regex: invalid regular expression");
}

static const char rules_json[] =
    "{\"channel\": {\"namespaces\": [{\"name\": \"chat\", \"allow_subscribe_for_client\": true,"
    "  \"history_size\": 10, \"history_ttl\": \"60s\", \"channel_regex\": \"^[a-z0-9-]+$\"},"
    "  {\"name\": \"orders\"}]},"
    " \"channels\": ["
    "  {\"name\": \"news\", \"publish\": true, \"subscribe\": true, \"history_size\": 100,"
    "   \"history_ttl\": \"5m\"},"
    "  {\"name\": \"user:$user\", \"subscribe\": true, \"publish\": false},"
    "  {\"name\": \"chat:room-#rooms\", \"presence\": true, \"join_leave\": true},"
    "  {\"name\": \"orders.{id}\", \"subscribe\": true},"
    "  {\"name\": \"orders:{id}.items\", \"presence\": true},"
    "  {\"name\": \"dialog#{users}\", \"allow_publish_for_subscriber\": true},"
    "  {\"name\": \"lit\\\\#x\\\\*\", \"presence\": true},"
    "  {\"name\": \"chat:*\", \"subscribe\": false},"
    "  {\"name\": \"chat:room-1\", \"presence\": false}"
    " ]}";

static void test_config_channel_rules_match_table(void **state)
{
    lc_config_t c;
    lc_ns_opts_t s;
    assert_int_equal(load(&c, rules_json), 0);
    assert_int_equal(c.n_channel_rules, 9);
    const lc_ns_opts_t *chat = &c.namespaces[0], *orders = &c.namespaces[1], *o;
#define R(ch, user) lc_config_resolve_channel(&c, ch, strlen(ch), user, &s)

    /* literal; no match falls back to the namespace */
    o = R("news", NULL);
    assert_ptr_equal(o, &s);
    assert_true(o->allow_subscribe_for_client && o->allow_publish_for_client);
    assert_int_equal(o->history_size, 100);
    assert_int_equal(o->history_ttl_ms, 300000);
    assert_null(o->name);
    assert_ptr_equal(R("news2", NULL), &c.without_namespace);
    assert_ptr_equal(R("new", NULL), &c.without_namespace);

    /* $user: own id only, never anonymous; another user's channel of the rule's family is
     * known but allows nothing (103, not 102); an undefined namespace without a rule is NULL */
    o = R("user:42", "42");
    assert_ptr_equal(o, &s);
    assert_true(o->allow_subscribe_for_client);
    assert_false(o->allow_publish_for_client || o->presence);
    assert_null(o->name);
    const char *family[][2] = {
        {"user:43", "42"}, {"user:42x", "42"}, {"user:4", "42"}, {"user:42", NULL}};
    for (size_t i = 0; i < 4; i++) {
        o = R(family[i][0], family[i][1]);
        assert_ptr_equal(o, &s);
        assert_false(o->allow_subscribe_for_client || o->allow_publish_for_client ||
                     o->allow_subscribe_for_anonymous || o->presence);
    }
    assert_null(R("user:", ""));
    assert_null(R("user:1:2", "42"));
    assert_null(R("unknown:x", "42"));

    /* #name captures one segment; the overlay keeps the namespace keys it does not set */
    o = R("chat:room-1", "42");
    assert_ptr_equal(o, &s);
    assert_true(o->presence && o->join_leave);
    assert_true(o->allow_subscribe_for_client);
    assert_int_equal(o->history_size, 10);
    assert_string_equal(o->name, "chat");
    assert_ptr_equal(o->channel_re, chat->channel_re);
    assert_true(lc_config_channel_regex_ok(o, "room-1"));
    /* not one segment, or an empty one: the later chat:* rule applies */
    const char *rest[] = {"chat:room-1.2", "chat:room-", "chat:room-1#42",
                          "chat:room-1:x", "chat:",      "chat:lobby"};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        o = R(rest[i], NULL);
        assert_ptr_equal(o, &s);
        assert_false(o->allow_subscribe_for_client);
        assert_false(o->presence);
        assert_int_equal(o->history_size, 10);
    }
    /* patterns see the whole name: the private prefix is not stripped */
    assert_ptr_equal(R("$chat:room-1", NULL), chat);

    /* {name} with Laravel dots */
    o = R("orders.5", NULL);
    assert_ptr_equal(o, &s);
    assert_true(o->allow_subscribe_for_client);
    assert_null(o->name);
    assert_ptr_equal(R("orders.5.6", NULL), &c.without_namespace);
    assert_ptr_equal(R("orders.", NULL), &c.without_namespace);
    o = R("orders:5.items", NULL);
    assert_ptr_equal(o, &s);
    assert_true(o->presence);
    assert_string_equal(o->name, "orders");
    assert_ptr_equal(R("orders:5:x.items", NULL), orders);

    /* '#' before '{' is literal; ',' is inside a segment; escapes */
    o = R("dialog#1,2", NULL);
    assert_true(o == &s && o->allow_publish_for_subscriber);
    assert_ptr_equal(R("dialog1", NULL), &c.without_namespace);
    assert_ptr_equal(R("lit#x*", NULL), &s);
    assert_ptr_equal(R("lit#xy", NULL), &c.without_namespace);

    /* the length bounds the name */
    assert_ptr_equal(lc_config_resolve_channel(&c, "newsroom", 4, NULL, &s), &s);
    assert_ptr_equal(lc_config_resolve_channel(&c, "chat:room-1", 4, NULL, &s),
                     &c.without_namespace);
    /* lc_config_channel_opts ignores the rules */
    assert_ptr_equal(lc_config_channel_opts(&c, "chat:room-1", 11), chat);
    assert_null(lc_config_channel_opts(&c, "user:42", 7));
#undef R
    /* loading again replaces the rules */
    const char *again = "{\"channels\": [{\"name\": \"solo\"}]}";
    assert_int_equal(lc_config_load_string(&c, again, strlen(again), err, sizeof(err)), 0);
    assert_int_equal(c.n_channel_rules, 1);
    assert_ptr_equal(lc_config_resolve_channel(&c, "news", 4, NULL, &s), &c.without_namespace);
    lc_config_free(&c);
}

static void test_config_channel_rules_bad_input_names_path(void **state)
{
    expect_error("{\"channels\": {}}", "channels: expected an array");
    expect_error("{\"channels\": [\"news\"]}", "channels[0]: expected an object");
    expect_error("{\"channels\": [{\"subscribe\": true}]}",
                 "channels[0].name: expected a channel pattern string");
    const char *bad[][2] = {
        {"", "expected a non-empty channel pattern"},
        {"a*b", "'*' is only allowed at the end"},
        {"chat:{", "'{' must be followed by a name and '}'"},
        {"chat:{1}", "'{' must be followed"},
        {"chat:{a", "'{' must be followed"},
        {"chat:{a}b", "a capture must be followed by"},
        {"chat:#a{b}", "a capture must be followed by"},
        {"chat:#a$user", "a capture must be followed by"},
        {"chat:x\\\\", "a backslash must be followed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char json[256], want[128];
        snprintf(json, sizeof(json), "{\"channels\": [{\"name\": \"ok\"}, {\"name\": \"%s\"}]}",
                 bad[i][0]);
        snprintf(want, sizeof(want), "channels[1].name: %s", bad[i][1]);
        expect_error(json, want);
    }
    expect_error("{\"channels\": [{\"name\": \"a\", \"presence\": \"yes\"}]}",
                 "channels[0].presence: expected true or false");
    expect_error("{\"channels\": [{\"name\": \"a\", \"subscribe\": 1}]}",
                 "channels[0].subscribe: expected true or false");
    expect_error("{\"channels\": [{\"name\": \"a\", \"history_ttl\": 60}]}",
                 "channels[0].history_ttl: expected a duration");
    expect_error("{\"channels\": [{\"name\": \"a\", \"subscribe\": true,"
                 " \"allow_subscribe_for_client\": false}]}",
                 "channels[0].allow_subscribe_for_client: \"allow_subscribe_for_client\" is "
                 "already set");
    /* checks on the overlaid options when the pattern fixes the namespace */
    expect_error("{\"channels\": [{\"name\": \"news\", \"history_size\": 10}]}",
                 "channels[0]: history_size and history_ttl must be set together");
    expect_error("{\"channels\": [{\"name\": \"chat:{x}\", \"allow_recovery\": true}]}",
                 "channels[0]: recovery needs history");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"chat\", \"history_size\": 5,"
                 " \"history_ttl\": \"1m\"}]}, \"channels\": [{\"name\": \"chat:{x}\","
                 " \"history_ttl\": \"1000h\"}]}",
                 "channels[0]: history_ttl must not exceed history_meta_ttl");
    /* otherwise on the rule alone */
    expect_error("{\"channels\": [{\"name\": \"{ns}:x\", \"history_ttl\": \"1m\"}]}",
                 "channels[0]: history_size and history_ttl must be set together");

    lc_config_t c;
    lc_ns_opts_t s;
    assert_int_equal(load(&c, "{\"channel\": {\"namespaces\": [{\"name\": \"chat\","
                              " \"history_size\": 5, \"history_ttl\": \"1m\"}]},"
                              " \"channels\": [{\"name\": \"$chat:{x}\", \"allow_recovery\": true},"
                              " {\"name\": \"{ns}:x\", \"allow_recovery\": true}]}"),
                     0);
    const lc_ns_opts_t *o = lc_config_resolve_channel(&c, "$chat:a", 7, "u", &s);
    assert_true(o == &s && o->allow_recovery && o->history_size == 5);
    lc_config_free(&c);
}

static void test_config_example_rules_file_loads(void **state)
{
    /* examples/ relative to this source file */
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof(path), "%.*s/../../examples/rules.json", dir, slash ? __FILE__ : ".");
    lc_config_t c;
    lc_ns_opts_t s;
    lc_config_defaults(&c);
    if (lc_config_load_file(&c, path, err, sizeof(err)) != 0)
        fail_msg("%s: %s", path, err);
    assert_int_equal(c.n_channel_rules, 3);
    const lc_ns_opts_t *o = lc_config_resolve_channel(&c, "news", 4, "7", &s);
    assert_true(o->allow_subscribe_for_client && o->allow_publish_for_client);
    assert_int_equal(o->history_size, 100);
    o = lc_config_resolve_channel(&c, "user:7", 6, "7", &s);
    assert_true(o && o->allow_subscribe_for_client && !o->allow_publish_for_client);
    /* another user's channel of the family: known, nothing allowed */
    o = lc_config_resolve_channel(&c, "user:8", 6, "7", &s);
    assert_true(o && !o->allow_subscribe_for_client);
    o = lc_config_resolve_channel(&c, "chat:room-9", 11, "7", &s);
    assert_true(o->presence && o->join_leave && o->allow_publish_for_subscriber);
    /* a rule's join_leave reaches every subscriber (server-side ones cannot ask) */
    assert_true(o->force_push_join_leave);
    assert_ptr_equal(lc_config_resolve_channel(&c, "chat:lobby", 10, "7", &s), &c.namespaces[0]);
    lc_config_free(&c);
}

int main(void)
{
    lc_log_set_level(LC_LOG_ERROR); /* the warnings for unknown and flat keys are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_match_spec),
        cmocka_unit_test(test_config_full_v6_with_comments_loads),
        cmocka_unit_test(test_config_strings_with_comment_markers_survive),
        cmocka_unit_test(test_config_durations_parsed),
        cmocka_unit_test(test_config_unknown_key_still_loads),
        cmocka_unit_test(test_config_known_unused_keys_accepted),
        cmocka_unit_test(test_config_wrong_type_names_key_path),
        cmocka_unit_test(test_config_legacy_flat_keys_mapped),
        cmocka_unit_test(test_config_v6_wins_over_flat),
        cmocka_unit_test(test_config_legacy_table_all_paths_resolve),
        cmocka_unit_test(test_config_channel_opts_resolution),
        cmocka_unit_test(test_config_validate_failures),
        cmocka_unit_test(test_config_malformed_json_reports_position),
        cmocka_unit_test(test_config_generate_round_trip),
        cmocka_unit_test(test_config_dev_has_secrets_and_open_origins),
        cmocka_unit_test(test_config_load_twice_replaces_values),
        cmocka_unit_test(test_config_client_channel_keys_defaults_and_parse),
        cmocka_unit_test(test_config_channel_option_values_stored),
        cmocka_unit_test(test_config_every_channel_option_wired_everywhere),
        cmocka_unit_test(test_config_channel_regex_translated_and_kept_compiled),
        cmocka_unit_test(test_config_channel_rules_match_table),
        cmocka_unit_test(test_config_channel_rules_bad_input_names_path),
        cmocka_unit_test(test_config_example_rules_file_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
