/* Proxy configuration (spec §5.4, §9.3): Proxy objects in every section, named proxies and
 * their resolution, rpc namespaces, flat pre-v6 proxy keys, rules carrying proxy options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"
#include "config_test_util.h"

static void load_ok(lc_config_t *c, const char *json)
{
    if (load(c, json) != 0)
        fail_msg("config %s: %s", json, err);
}

/* {"a": {"b": inner}} for path "a.b" */
static void nest(char *out, size_t n, const char *path, const char *inner)
{
    char head[256] = "", tail[64] = "";
    size_t h = 0, t = 0;
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, ".");
        h += (size_t)snprintf(head + h, sizeof(head) - h, "{\"%.*s\": ", (int)len, p);
        t += (size_t)snprintf(tail + t, sizeof(tail) - t, "}");
        p += len + (p[len] == '.');
    }
    snprintf(out, n, "%s%s%s", head, inner, tail);
}

static const lc_proxy_conf_t *section(const lc_config_t *c, const struct lc__proxy_section *s)
{
    return (const lc_proxy_conf_t *)(const void *)((const char *)c + s->off);
}

static void test_config_proxy_defaults_match_spec(void **state)
{
    lc_config_t c;
    lc_config_defaults(&c);
    size_t n = 0;
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++, n++) {
        const lc_proxy_conf_t *p = section(&c, s);
        assert_string_equal(p->name, "default");
        assert_string_equal(p->endpoint, "");
        assert_int_equal(p->timeout_ms, 1000);
        assert_int_equal(p->n_http_headers + p->n_emulated_headers + p->n_static_headers, 0);
        assert_false(p->binary_encoding || p->include_connection_meta);
        assert_int_equal(p->protocol, LC_PROXY_CENTRIFUGO);
    }
    assert_int_equal(n, 7); /* with channel.proxy.shared_poll_refresh */
    assert_false(c.connect_proxy_enabled || c.refresh_proxy_enabled);
    assert_int_equal(c.n_proxies, 0);
    assert_null(c.without_namespace.subscribe_proxy);
    assert_null(c.without_namespace.publish_proxy);
    assert_null(c.without_namespace.sub_refresh_proxy);
    assert_null(c.rpc_without_namespace.name);
    assert_null(c.rpc_without_namespace.proxy);
    assert_int_equal(c.n_rpc_namespaces, 0);
    assert_string_equal(c.rpc_namespace_boundary, ":");
    assert_false(c.rpc_ping_enabled);
    assert_string_equal(c.rpc_ping_method, "ping");
    assert_ptr_equal(lc_config_rpc_ns(&c, "anything"), &c.rpc_without_namespace);
    assert_null(lc_config_rpc_ns(&c, "ns:method"));
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), 0);
    lc_config_free(&c);
}

#define FULL_PROXY                                                                                 \
    "{\"endpoint\": \"https://app.test/hook\", \"timeout\": \"2500ms\","                           \
    " \"http_headers\": [\"Cookie\", \"Authorization\"], \"emulated_headers\": [\"X-Emu\"],"       \
    " \"grpc_metadata\": [\"md\"], \"binary_encoding\": true, \"include_connection_meta\": true,"  \
    " \"http\": {\"static_headers\": {\"X-B\": \"2\", \"X-A\": \"1\"},"                            \
    " \"tls\": {\"enabled\": true, \"insecure_skip_verify\": true},"                               \
    " \"status_to_code_transforms\": [{\"status_code\": 404, \"to_error\": {\"code\": 404}}]},"    \
    " \"grpc\": {\"compression\": true, \"credentials_key\": \"k\"}, \"name\": \"ignored\"}"

static void check_full(const lc_proxy_conf_t *p, const char *where)
{
    if (strcmp(p->endpoint, "https://app.test/hook") != 0 || p->timeout_ms != 2500 ||
        p->n_http_headers != 2 || strcmp(p->http_headers[1], "Authorization") != 0 ||
        p->n_emulated_headers != 1 || strcmp(p->emulated_headers[0], "X-Emu") != 0 ||
        !p->binary_encoding || !p->include_connection_meta || p->n_static_headers != 2 ||
        strcmp(p->static_header_names[0], "X-B") != 0 ||
        strcmp(p->static_header_values[0], "2") != 0 ||
        strcmp(p->static_header_names[1], "X-A") != 0 ||
        strcmp(p->static_header_values[1], "1") != 0)
        fail_msg("%s: proxy fields not all stored", where);
}

static void test_config_proxy_every_field_stored_in_every_section(void **state)
{
    char json[2048];
    lc_config_t c;
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++) {
        nest(json, sizeof(json), s->path, FULL_PROXY);
        load_ok(&c, json);
        const lc_proxy_conf_t *p = section(&c, s);
        check_full(p, s->path);
        assert_string_equal(p->name, "default"); /* "name" is ignored in sections */
        assert_false(c.connect_proxy_enabled || c.refresh_proxy_enabled);
        lc_config_free(&c);
    }
    /* the same in a named proxy, where "name" counts */
    load_ok(&c, "{\"proxies\": [" FULL_PROXY "]}");
    assert_string_equal(c.proxies[0].name, "ignored");
    check_full(&c.proxies[0], "proxies[0]");
    lc_config_free(&c);
    load_ok(&c, "{\"proxies\": [{\"name\": \"p-1\", \"endpoint\": \"http://x\"},"
                " {\"name\": \"p_2\", \"endpoint\": \"https://app.test/hook\", \"timeout\":"
                " \"2500ms\", \"http_headers\": [\"Cookie\", \"Authorization\"],"
                " \"emulated_headers\": [\"X-Emu\"], \"binary_encoding\": true,"
                " \"include_connection_meta\": true, \"http\": {\"static_headers\":"
                " {\"X-B\": \"2\", \"X-A\": \"1\"}}, \"protocol\": \"centrifugo\"}]}");
    assert_int_equal(c.n_proxies, 2);
    assert_string_equal(c.proxies[0].name, "p-1");
    assert_int_equal(c.proxies[0].timeout_ms, 1000);
    assert_string_equal(c.proxies[1].name, "p_2");
    check_full(&c.proxies[1], "proxies[1]");
    lc_config_free(&c);

    /* client proxies have "enabled" */
    load_ok(&c, "{\"client\": {\"proxy\": {\"connect\": {\"enabled\": true, \"endpoint\":"
                " \"http://a/connect\"}, \"refresh\": {\"enabled\": true, \"endpoint\":"
                " \"http://a/refresh\", \"timeout\": \"3s\"}}}}");
    assert_true(c.connect_proxy_enabled && c.refresh_proxy_enabled);
    assert_string_equal(c.connect_proxy.endpoint, "http://a/connect");
    assert_int_equal(c.refresh_proxy.timeout_ms, 3000);
    lc_config_free(&c);

    /* subscribe_stream, state and cache_empty are read and checked, not stored */
    load_ok(&c, "{\"channel\": {\"proxy\": {\"subscribe_stream\": " FULL_PROXY ","
                " \"state\": {\"endpoint\": \"grpc://x\"}, \"cache_empty\": {}},"
                " \"namespaces\": [{\"name\": \"ss\", \"subscribe_stream_proxy_enabled\": false,"
                " \"subscribe_stream_proxy_name\": \"x\","
                " \"subscribe_stream_proxy_bidirectional\": true}]}}");
    lc_config_free(&c);
    /* "enabled" where it has no meaning is accepted with a warning */
    load_ok(&c, "{\"channel\": {\"proxy\": {\"publish\": {\"enabled\": true}}},"
                " \"rpc\": {\"proxy\": {\"enabled\": false}}}");
    assert_null(c.without_namespace.publish_proxy);
    lc_config_free(&c);
}

static void test_config_proxy_wrong_types_name_key_path(void **state)
{
    static const char *const cases[][2] = {
        {"{\"endpoint\": 5}", "client.proxy.connect.endpoint: expected a string"},
        {"{\"timeout\": 1}", "client.proxy.connect.timeout: expected a duration string"},
        {"{\"timeout\": \"0s\"}", "client.proxy.connect.timeout: must be greater than 0"},
        {"{\"http_headers\": [\"a\", 1]}", "client.proxy.connect.http_headers: expected an array"},
        {"{\"emulated_headers\": \"X\"}", "client.proxy.connect.emulated_headers: expected an"},
        {"{\"grpc_metadata\": {}}", "client.proxy.connect.grpc_metadata: expected an array"},
        {"{\"binary_encoding\": 1}", "client.proxy.connect.binary_encoding: expected true or"},
        {"{\"include_connection_meta\": \"y\"}", "client.proxy.connect.include_connection_meta: "},
        {"{\"enabled\": \"yes\"}", "client.proxy.connect.enabled: expected true or false"},
        {"{\"protocol\": \"soap\"}",
         "client.proxy.connect.protocol: expected one of centrifugo, laravel_auth"},
        {"{\"http\": []}", "client.proxy.connect.http: expected an object"},
        {"{\"http\": {\"static_headers\": [\"X\"]}}",
         "client.proxy.connect.http.static_headers: expected an object"},
        {"{\"http\": {\"static_headers\": {\"X-A\": 1}}}",
         "client.proxy.connect.http.static_headers.X-A: expected a string"},
        {"{\"http\": {\"static_headers\": {\"X-A\": \"a\\r\\nB: c\"}}}",
         "client.proxy.connect.http.static_headers.X-A: expected a string without line breaks"},
        {"{\"http\": {\"static_headers\": {\"X A\": \"v\"}}}",
         "client.proxy.connect.http.static_headers.X A: not a valid HTTP header name"},
        {"{\"http\": {\"tls\": {\"enabled\": 1}}}", "client.proxy.connect.http.tls.enabled: "},
        {"{\"http\": {\"status_to_code_transforms\": {}}}",
         "client.proxy.connect.http.status_to_code_transforms: expected an array"},
        {"{\"grpc\": {\"compression\": \"no\"}}", "client.proxy.connect.grpc.compression: "},
    };
    char json[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        nest(json, sizeof(json), "client.proxy.connect", cases[i][0]);
        expect_error(json, cases[i][1]);
    }
    expect_error("{\"client\": {\"proxy\": {\"connect\": []}}}",
                 "client.proxy.connect: expected an object");
    expect_error("{\"proxies\": {}}", "proxies: expected an array of proxy objects");
    expect_error("{\"proxies\": [1]}", "proxies[0]: expected an object");
    expect_error("{\"proxies\": [{\"name\": \"pp\", \"endpoint\": \"http://a\","
                 " \"timeout\": \"x\"}]}",
                 "proxies[0].timeout: ");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"subscribe_proxy_enabled\":"
                 " \"yes\"}]}}",
                 "channel.namespaces[0].subscribe_proxy_enabled: expected true or false");
    expect_error("{\"channel\": {\"without_namespace\": {\"publish_proxy_name\": 1}}}",
                 "channel.without_namespace.publish_proxy_name: expected a proxy name string");
    expect_error("{\"rpc\": {\"namespaces\": {}}}", "rpc.namespaces: expected an array");
    expect_error("{\"rpc\": {\"namespaces\": [{\"proxy_enabled\": true}]}}",
                 "rpc.namespaces[0].name: expected a string matching");
    expect_error("{\"rpc\": {\"without_namespace\": {\"proxy_enabled\": 1}}}",
                 "rpc.without_namespace.proxy_enabled: expected true or false");
    expect_error("{\"rpc\": {\"ping\": {\"enabled\": 1}}}", "rpc.ping.enabled: expected true");
    expect_error("{\"rpc\": {\"ping\": {\"method\": 1}}}", "rpc.ping.method: expected a string");
    expect_error("{\"rpc\": {\"ping\": {\"enabled\": true, \"method\": \"\"}}}",
                 "rpc.ping.method: must not be empty");
    expect_error("{\"rpc\": {\"namespace_boundary\": \"\"}}",
                 "rpc.namespace_boundary: must not be empty");
}

static void test_config_proxy_endpoints_checked(void **state)
{
    expect_error("{\"client\": {\"proxy\": {\"connect\": {\"enabled\": true}}}}",
                 "client.proxy.connect: enabled without an endpoint");
    expect_error(
        "{\"client\": {\"proxy\": {\"refresh\": {\"enabled\": true, \"endpoint\": \"\"}}}}",
        "client.proxy.refresh: enabled without an endpoint");
    expect_error("{\"client\": {\"proxy\": {\"connect\": {\"endpoint\": \"grpc://app:10001\"}}}}",
                 "client.proxy.connect.endpoint: gRPC proxies are not supported");
    expect_error("{\"channel\": {\"proxy\": {\"publish\": {\"endpoint\": \"GRPC://app:1\"}}}}",
                 "channel.proxy.publish.endpoint: gRPC proxies are not supported");
    expect_error("{\"proxies\": [{\"name\": \"g1\", \"endpoint\": \"grpc://app:1\"}]}",
                 "proxies[0].endpoint: gRPC proxies are not supported");
    expect_error("{\"rpc\": {\"proxy\": {\"endpoint\": \"ftp://x\"}}}",
                 "rpc.proxy.endpoint: expected an http:// or https:// URL");
    expect_error("{\"rpc\": {\"proxy\": {\"endpoint\": \"http://\"}}}",
                 "rpc.proxy.endpoint: expected an http:// or https:// URL");
    expect_error("{\"proxies\": [{\"name\": \"pp\"}]}",
                 "proxies[0].endpoint: required for a named proxy");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"subscribe_proxy_enabled\":"
                 " true}]}}",
                 "channel.namespaces[0].subscribe_proxy_enabled: the subscribe proxy \"default\" "
                 "has no endpoint (set channel.proxy.subscribe.endpoint)");
    expect_error("{\"channel\": {\"proxy\": {\"subscribe\": {\"endpoint\": \"http://a\"}},"
                 " \"without_namespace\": {\"publish_proxy_enabled\": true}}}",
                 "channel.without_namespace.publish_proxy_enabled: the publish proxy");
    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\","
                 " \"subscribe_stream_proxy_enabled\": true}]}}",
                 "channel.namespaces[0].subscribe_stream_proxy_enabled: subscribe stream proxies "
                 "are not supported");

    /* a section without endpoint is fine while nothing enables it */
    lc_config_t c;
    load_ok(&c,
            "{\"client\": {\"proxy\": {\"connect\": {\"enabled\": false, \"timeout\": \"2s\"}}},"
            " \"channel\": {\"proxy\": {\"subscribe\": {\"endpoint\": \"HTTPS://A/sub\"}}}}");
    assert_false(c.connect_proxy_enabled);
    lc_config_free(&c);
}

static void test_config_proxy_laravel_auth_only_for_subscribe(void **state)
{
    lc_config_t c;
    load_ok(&c,
            "{\"channel\": {\"proxy\": {\"subscribe\": {\"endpoint\":"
            " \"http://app/broadcasting/auth\", \"protocol\": \"laravel_auth\","
            " \"http_headers\": [\"Cookie\"]}},"
            " \"namespaces\": [{\"name\": \"private-orders\", \"subscribe_proxy_enabled\": true,"
            " \"publish_proxy_enabled\": true, \"publish_proxy_name\": \"backend\"},"
            " {\"name\": \"presence\", \"subscribe_proxy_enabled\": true,"
            " \"subscribe_proxy_name\": \"lara\"}]},"
            " \"proxies\": [{\"name\": \"backend\", \"endpoint\": \"http://app/pub\"},"
            " {\"name\": \"lara\", \"endpoint\": \"http://app/auth\", \"protocol\":"
            " \"laravel_auth\"}]}");
    assert_int_equal(c.channel_proxy_subscribe.protocol, LC_PROXY_LARAVEL_AUTH);
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.channel_proxy_subscribe);
    assert_ptr_equal(c.namespaces[0].publish_proxy, &c.proxies[0]);
    assert_int_equal(c.namespaces[0].publish_proxy->protocol, LC_PROXY_CENTRIFUGO);
    assert_ptr_equal(c.namespaces[1].subscribe_proxy, &c.proxies[1]);
    assert_int_equal(c.proxies[1].protocol, LC_PROXY_LARAVEL_AUTH);
    lc_config_free(&c);

    static const char *const not_subscribe[] = {"client.proxy.connect", "client.proxy.refresh",
                                                "channel.proxy.publish",
                                                "channel.proxy.sub_refresh", "rpc.proxy"};
    for (size_t i = 0; i < sizeof(not_subscribe) / sizeof(not_subscribe[0]); i++) {
        char json[256], want[128];
        nest(json, sizeof(json), not_subscribe[i],
             "{\"endpoint\": \"http://a\", \"protocol\": \"laravel_auth\"}");
        snprintf(want, sizeof(want),
                 "%s.protocol: \"laravel_auth\" is only supported for subscribe proxies",
                 not_subscribe[i]);
        expect_error(json, want);
    }
    expect_error("{\"proxies\": [{\"name\": \"lara\", \"endpoint\": \"http://a\", \"protocol\":"
                 " \"laravel_auth\"}], \"channel\": {\"without_namespace\":"
                 " {\"publish_proxy_enabled\": true, \"publish_proxy_name\": \"lara\"}}}",
                 "channel.without_namespace.publish_proxy_name: proxy \"lara\" uses protocol "
                 "\"laravel_auth\", which only answers subscribe requests");
    expect_error("{\"proxies\": [{\"name\": \"lara\", \"endpoint\": \"http://a\", \"protocol\":"
                 " \"laravel_auth\"}], \"rpc\": {\"namespaces\": [{\"name\": \"rr\","
                 " \"proxy_enabled\": true, \"proxy_name\": \"lara\"}]}}",
                 "rpc.namespaces[0].proxy_name: proxy \"lara\" uses protocol \"laravel_auth\"");
}

static void test_config_proxy_named_resolution(void **state)
{
    lc_config_t c;
    /* the namespaces come before the proxies they name */
    load_ok(&c, "{\"channel\": {\"without_namespace\": {\"sub_refresh_proxy_enabled\": true,"
                " \"sub_refresh_proxy_name\": \"p2\"},"
                " \"namespaces\": [{\"name\": \"aa\", \"subscribe_proxy_enabled\": true,"
                " \"subscribe_proxy_name\": \"p1\", \"publish_proxy_enabled\": true,"
                " \"publish_proxy_name\": \"default\"},"
                " {\"name\": \"bb\", \"publish_proxy_name\": \"p1\","
                " \"subscribe_proxy_enabled\": true, \"subscribe_proxy_name\": \"\"}],"
                " \"proxy\": {\"publish\": {\"endpoint\": \"http://a/pub\"},"
                " \"subscribe\": {\"endpoint\": \"http://a/sub\"}}},"
                " \"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://p1\"},"
                " {\"name\": \"p2\", \"endpoint\": \"http://p2\", \"timeout\": \"5s\"}]}");
    assert_ptr_equal(c.without_namespace.sub_refresh_proxy, &c.proxies[1]);
    assert_null(c.without_namespace.subscribe_proxy);
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.proxies[0]);
    assert_ptr_equal(c.namespaces[0].publish_proxy, &c.channel_proxy_publish);
    assert_null(c.namespaces[0].sub_refresh_proxy);
    assert_null(c.namespaces[1].publish_proxy); /* named but not enabled */
    assert_ptr_equal(c.namespaces[1].subscribe_proxy, &c.channel_proxy_subscribe);
    assert_int_equal(c.proxies[1].timeout_ms, 5000);
    lc_config_free(&c);

    expect_error("{\"channel\": {\"namespaces\": [{\"name\": \"ab\", \"publish_proxy_enabled\":"
                 " true, \"publish_proxy_name\": \"nope\"}]}}",
                 "channel.namespaces[0].publish_proxy_name: publish proxy \"nope\" is not "
                 "defined in proxies");
    /* an unknown name is an error even when the proxy is off (as in Centrifugo) */
    expect_error("{\"channel\": {\"without_namespace\": {\"sub_refresh_proxy_name\": \"nope\"}}}",
                 "channel.without_namespace.sub_refresh_proxy_name: sub_refresh proxy \"nope\"");
    expect_error("{\"proxies\": [{\"name\": \"default\", \"endpoint\": \"http://a\"}]}",
                 "proxies[0].name: \"default\" is reserved");
    expect_error("{\"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://a\"},"
                 " {\"name\": \"p1\", \"endpoint\": \"http://b\"}]}",
                 "proxies[1].name: duplicate proxy name \"p1\"");
    expect_error("{\"proxies\": [{\"name\": \"p\", \"endpoint\": \"http://a\"}]}",
                 "proxies[0].name: expected a string matching ^[-a-zA-Z0-9_.]{2,}$");
    expect_error("{\"proxies\": [{\"endpoint\": \"http://a\"}]}", "proxies[0].name: ");
}

static void test_config_proxy_flat_keys_mapped(void **state)
{
    lc_config_t c;
    load_ok(&c,
            "{\"proxy_connect_endpoint\": \"http://a/connect\", \"proxy_connect_timeout\":"
            " \"2s\", \"proxy_refresh_endpoint\": \"http://a/refresh\","
            " \"proxy_refresh_timeout\": \"3s\", \"proxy_subscribe_endpoint\": \"http://a/sub\","
            " \"proxy_subscribe_timeout\": \"4s\", \"proxy_publish_endpoint\": \"http://a/pub\","
            " \"proxy_publish_timeout\": \"5s\", \"proxy_sub_refresh_endpoint\":"
            " \"http://a/sr\", \"proxy_sub_refresh_timeout\": \"6s\","
            " \"proxy_rpc_endpoint\": \"http://a/rpc\", \"proxy_rpc_timeout\": \"7s\","
            " \"proxy_subscribe_stream_endpoint\": \"grpc://x\","
            " \"proxy_http_headers\": [\"Cookie\"],"
            " \"proxy_static_http_headers\": {\"X-Lucent\": \"1\"},"
            " \"proxy_binary_encoding\": true, \"proxy_include_connection_meta\": true,"
            " \"proxy_grpc_metadata\": [\"x\"], \"proxy_publish\": true,"
            " \"namespaces\": [{\"name\": \"chat\", \"proxy_subscribe\": true,"
            " \"proxy_sub_refresh\": true}]}");
    assert_true(c.connect_proxy_enabled && c.refresh_proxy_enabled);
    assert_string_equal(c.connect_proxy.endpoint, "http://a/connect");
    assert_int_equal(c.connect_proxy.timeout_ms, 2000);
    assert_string_equal(c.refresh_proxy.endpoint, "http://a/refresh");
    assert_int_equal(c.refresh_proxy.timeout_ms, 3000);
    assert_string_equal(c.channel_proxy_subscribe.endpoint, "http://a/sub");
    assert_int_equal(c.channel_proxy_subscribe.timeout_ms, 4000);
    assert_string_equal(c.channel_proxy_publish.endpoint, "http://a/pub");
    assert_int_equal(c.channel_proxy_publish.timeout_ms, 5000);
    assert_string_equal(c.channel_proxy_sub_refresh.endpoint, "http://a/sr");
    assert_int_equal(c.channel_proxy_sub_refresh.timeout_ms, 6000);
    assert_string_equal(c.rpc_proxy.endpoint, "http://a/rpc");
    assert_int_equal(c.rpc_proxy.timeout_ms, 7000);
    assert_ptr_equal(c.rpc_without_namespace.proxy, &c.rpc_proxy);
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++) {
        const lc_proxy_conf_t *p = section(&c, s);
        if (p->n_http_headers != 1 || strcmp(p->http_headers[0], "Cookie") != 0 ||
            p->n_static_headers != 1 || strcmp(p->static_header_names[0], "X-Lucent") != 0 ||
            !p->binary_encoding || !p->include_connection_meta)
            fail_msg("%s: flat proxy options not applied", s->path);
    }
    assert_ptr_equal(c.without_namespace.publish_proxy, &c.channel_proxy_publish);
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.channel_proxy_subscribe);
    assert_ptr_equal(c.namespaces[0].sub_refresh_proxy, &c.channel_proxy_sub_refresh);
    lc_config_free(&c);

    /* v6 keys win over flat ones, also over the implicit enable and per proxy */
    load_ok(&c, "{\"proxy_connect_endpoint\": \"http://flat\", \"proxy_http_headers\": [\"A\"],"
                " \"client\": {\"proxy\": {\"connect\": {\"enabled\": false,"
                " \"http_headers\": [\"B\"]}}}, \"proxy_rpc_endpoint\": \"\"}");
    assert_false(c.connect_proxy_enabled);
    assert_string_equal(c.connect_proxy.endpoint, "http://flat");
    assert_string_equal(c.connect_proxy.http_headers[0], "B");
    assert_string_equal(c.refresh_proxy.http_headers[0], "A");
    assert_null(c.rpc_without_namespace.proxy); /* an empty endpoint enables nothing */
    lc_config_free(&c);

    expect_error("{\"proxy_connect_endpoint\": 1}", "proxy_connect_endpoint: expected a string");
    expect_error("{\"proxy_http_headers\": \"Cookie\"}", "proxy_http_headers: expected an array");
    expect_error("{\"proxy_connect_endpoint\": \"grpc://x\"}",
                 "client.proxy.connect.endpoint: gRPC proxies are not supported");
    expect_error("{\"proxy_subscribe_stream\": true}",
                 "proxy_subscribe_stream: subscribe stream proxies are not supported");
    expect_error("{\"proxy_publish\": true}", "proxy_publish: the publish proxy \"default\" has "
                                              "no endpoint");
}

static void test_config_proxy_rpc_namespaces_and_lookup(void **state)
{
    lc_config_t c;
    load_ok(&c,
            "{\"rpc\": {\"proxy\": {\"endpoint\": \"http://a/rpc\"},"
            " \"without_namespace\": {\"proxy_enabled\": true},"
            " \"namespaces\": [{\"name\": \"aa\", \"proxy_enabled\": true},"
            " {\"name\": \"bb\"}, {\"name\": \"c.c\", \"proxy_enabled\": true,"
            " \"proxy_name\": \"p1\"}],"
            " \"namespace_boundary\": \"/\", \"ping\": {\"enabled\": true, \"method\": \"hc\"}},"
            " \"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://p1\"}]}");
    assert_int_equal(c.n_rpc_namespaces, 3);
    assert_string_equal(c.rpc_namespace_boundary, "/");
    assert_true(c.rpc_ping_enabled);
    assert_string_equal(c.rpc_ping_method, "hc");
    assert_ptr_equal(c.rpc_without_namespace.proxy, &c.rpc_proxy);
    assert_ptr_equal(lc_config_rpc_ns(&c, "aa/m"), &c.rpc_namespaces[0]);
    assert_ptr_equal(c.rpc_namespaces[0].proxy, &c.rpc_proxy);
    assert_ptr_equal(lc_config_rpc_ns(&c, "bb/x/y"), &c.rpc_namespaces[1]);
    assert_null(c.rpc_namespaces[1].proxy);
    assert_ptr_equal(lc_config_rpc_ns(&c, "c.c/x"), &c.rpc_namespaces[2]);
    assert_ptr_equal(c.rpc_namespaces[2].proxy, &c.proxies[0]);
    assert_null(lc_config_rpc_ns(&c, "zz/x"));
    assert_null(lc_config_rpc_ns(&c, "a/x"));
    assert_ptr_equal(lc_config_rpc_ns(&c, "plain"), &c.rpc_without_namespace);
    assert_ptr_equal(lc_config_rpc_ns(&c, "/x"), &c.rpc_without_namespace);
    assert_ptr_equal(lc_config_rpc_ns(&c, "aa:x"), &c.rpc_without_namespace);
    assert_ptr_equal(lc_config_rpc_ns(&c, ""), &c.rpc_without_namespace);
    lc_config_free(&c);

    /* the flat rpc keys */
    load_ok(&c, "{\"rpc_namespaces\": [{\"name\": \"ns\"}], \"rpc_namespace_boundary\": \".\","
                " \"rpc_ping\": true, \"rpc_ping_method\": \"p\"}");
    assert_ptr_equal(lc_config_rpc_ns(&c, "ns.x"), &c.rpc_namespaces[0]);
    assert_true(c.rpc_ping_enabled);
    assert_string_equal(c.rpc_ping_method, "p");
    lc_config_free(&c);

    expect_error("{\"rpc\": {\"namespaces\": [{\"name\": \"aa\"}, {\"name\": \"aa\"}]}}",
                 "rpc.namespaces[1].name: duplicate rpc namespace \"aa\"");
    expect_error("{\"rpc\": {\"namespaces\": [{\"name\": \"a\"}]}}",
                 "rpc.namespaces[0].name: expected a string matching");
    expect_error("{\"rpc\": {\"namespaces\": [{\"name\": \"aa\", \"proxy_name\": \"nope\"}]}}",
                 "rpc.namespaces[0].proxy_name: rpc proxy \"nope\" is not defined in proxies");
    expect_error("{\"rpc\": {\"without_namespace\": {\"proxy_enabled\": true}}}",
                 "rpc.without_namespace.proxy_enabled: the rpc proxy \"default\" has no endpoint "
                 "(set rpc.proxy.endpoint)");
}

static void test_config_proxy_rules_carry_proxy_options(void **state)
{
    lc_config_t c;
    lc_ns_opts_t s;
    load_ok(&c,
            "{\"channel\": {\"proxy\": {\"subscribe\": {\"endpoint\": \"http://a/sub\"},"
            " \"publish\": {\"endpoint\": \"http://a/pub\"}},"
            " \"without_namespace\": {\"subscribe_proxy_enabled\": true}},"
            " \"channels\": [{\"name\": \"private-orders.{id}\", \"subscribe_proxy_enabled\":"
            " true, \"subscribe_proxy_name\": \"laravel\", \"publish_proxy_enabled\": true},"
            " {\"name\": \"free.*\", \"subscribe_proxy_enabled\": false, \"subscribe\": true}],"
            " \"proxies\": [{\"name\": \"laravel\", \"endpoint\": \"http://app/broadcasting/auth\","
            " \"protocol\": \"laravel_auth\"}]}");
    const lc_ns_opts_t *o = lc_config_resolve_channel(&c, "private-orders.1", 16, "7", &s);
    assert_ptr_equal(o, &s);
    assert_ptr_equal(o->subscribe_proxy, &c.proxies[0]);
    assert_ptr_equal(o->publish_proxy, &c.channel_proxy_publish);
    o = lc_config_resolve_channel(&c, "free.x", 6, "7", &s);
    assert_null(o->subscribe_proxy);
    assert_true(o->allow_subscribe_for_client);
    o = lc_config_resolve_channel(&c, "other", 5, "7", &s);
    assert_ptr_equal(o, &c.without_namespace);
    assert_ptr_equal(o->subscribe_proxy, &c.channel_proxy_subscribe);
    lc_config_free(&c);

    expect_error("{\"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://a\"}],"
                 " \"channels\": [{\"name\": \"x\", \"subscribe_proxy_name\": \"p1\"}]}",
                 "channels[0].subscribe_proxy_name: a rule that sets subscribe_proxy_name must "
                 "also set subscribe_proxy_enabled");
    expect_error("{\"channels\": [{\"name\": \"x\", \"publish_proxy_enabled\": true,"
                 " \"publish_proxy_name\": \"nope\"}]}",
                 "channels[0].publish_proxy_name: publish proxy \"nope\" is not defined");
    expect_error("{\"channels\": [{\"name\": \"x\", \"sub_refresh_proxy_enabled\": true}]}",
                 "channels[0].sub_refresh_proxy_enabled: the sub_refresh proxy \"default\" has no "
                 "endpoint");
    expect_error("{\"channels\": [{\"name\": \"x\", \"subscribe_stream_proxy_enabled\": true}]}",
                 "channels[0].subscribe_stream_proxy_enabled: subscribe stream proxies");
}

static void test_config_proxy_load_twice_rebinds_names(void **state)
{
    lc_config_t c;
    load_ok(&c, "{\"proxies\": [{\"name\": \"p1\", \"endpoint\": \"http://one\"}],"
                " \"channel\": {\"namespaces\": [{\"name\": \"ab\", \"subscribe_proxy_enabled\":"
                " true, \"subscribe_proxy_name\": \"p1\"}]},"
                " \"rpc\": {\"without_namespace\": {\"proxy_enabled\": true, \"proxy_name\":"
                " \"p1\"}}}");
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.proxies[0]);
    /* a second file replaces proxies[]: options loaded earlier follow the name */
    const char *second = "{\"proxies\": [{\"name\": \"p0\", \"endpoint\": \"http://zero\"},"
                         " {\"name\": \"p1\", \"endpoint\": \"http://new\"}]}";
    assert_int_equal(lc_config_load_string(&c, second, strlen(second), err, sizeof(err)), 0);
    assert_ptr_equal(c.namespaces[0].subscribe_proxy, &c.proxies[1]);
    assert_ptr_equal(c.rpc_without_namespace.proxy, &c.proxies[1]);
    assert_string_equal(c.namespaces[0].subscribe_proxy->endpoint, "http://new");
    const char *third = "{\"proxies\": [{\"name\": \"p0\", \"endpoint\": \"http://zero\"}]}";
    assert_int_equal(lc_config_load_string(&c, third, strlen(third), err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "proxy \"p1\" is not defined in proxies"));
    lc_config_free(&c);
}

static void test_config_proxy_validate_checks_code_built_options(void **state)
{
    lc_config_t c;
    lc_config_defaults(&c);
    c.without_namespace.publish_proxy = &c.channel_proxy_publish;
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "channel.without_namespace.publish_proxy_enabled: the proxy "
                                "\"default\" has no endpoint"));
    assert_int_equal(lc_config_set_string(&c.channel_proxy_publish.endpoint, "http://a"), 0);
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), 0);
    c.channel_proxy_publish.protocol = LC_PROXY_LARAVEL_AUTH;
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "channel.proxy.publish.protocol"));
    c.channel_proxy_publish.protocol = LC_PROXY_CENTRIFUGO;
    c.rpc_proxy.timeout_ms = 0;
    assert_int_equal(lc_config_validate(&c, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "rpc.proxy.timeout: must be greater than 0"));
    lc_config_free(&c);
}

static void test_config_proxy_example_file_loads(void **state)
{
    char path[1024];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof(path), "%.*s/../../examples/proxy.json", dir, slash ? __FILE__ : ".");
    lc_config_t c;
    lc_config_defaults(&c);
    if (lc_config_load_file(&c, path, err, sizeof(err)) != 0)
        fail_msg("%s: %s", path, err);
    assert_true(c.connect_proxy_enabled);
    assert_non_null(c.namespaces[0].subscribe_proxy);
    assert_non_null(lc_config_rpc_ns(&c, "app:call"));
    lc_config_free(&c);
}

int main(void)
{
    lc_log_set_level(LC_LOG_ERROR); /* warnings for accepted-but-unused options are expected */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_proxy_defaults_match_spec),
        cmocka_unit_test(test_config_proxy_every_field_stored_in_every_section),
        cmocka_unit_test(test_config_proxy_wrong_types_name_key_path),
        cmocka_unit_test(test_config_proxy_endpoints_checked),
        cmocka_unit_test(test_config_proxy_laravel_auth_only_for_subscribe),
        cmocka_unit_test(test_config_proxy_named_resolution),
        cmocka_unit_test(test_config_proxy_flat_keys_mapped),
        cmocka_unit_test(test_config_proxy_rpc_namespaces_and_lookup),
        cmocka_unit_test(test_config_proxy_rules_carry_proxy_options),
        cmocka_unit_test(test_config_proxy_load_twice_rebinds_names),
        cmocka_unit_test(test_config_proxy_validate_checks_code_built_options),
        cmocka_unit_test(test_config_proxy_example_file_loads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
