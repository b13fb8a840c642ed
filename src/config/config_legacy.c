/* Flat keys of pre-v6 configs (spec §9.3) and their v6 homes. Top-level channel options
 * (presence, history_size, allow_*, ...) are not listed: the loader maps any key of the
 * namespace table found at the top level to channel.without_namespace.<key>. */
#include <stddef.h>
#include <string.h>

#include "config/internal.h"

#define L(o, n)                                                                                    \
    {                                                                                              \
        o, n, NULL, NULL, NULL                                                                     \
    }
#define HINT(o, h)                                                                                 \
    {                                                                                              \
        o, NULL, h, NULL, NULL                                                                     \
    }
/* a proxy endpoint that also switched its proxy on */
#define ENDPOINT(o, n, on)                                                                         \
    {                                                                                              \
        o, n, NULL, on, NULL                                                                       \
    }
/* an option of every proxy */
#define EACH(o, key)                                                                               \
    {                                                                                              \
        o, NULL, NULL, NULL, key                                                                   \
    }

static const struct lc__legacy legacy[] = {
    L("port", "http_server.port"),
    L("address", "http_server.address"),
    L("internal_port", "http_server.internal_port"),
    L("internal_address", "http_server.internal_address"),
    L("tls", "http_server.tls.enabled"),
    L("tls_cert", "http_server.tls.cert_pem"),
    L("tls_key", "http_server.tls.key_pem"),
    L("log_level", "log.level"),
    L("log_file", "log.file"),
    L("name", "node.name"),
    L("engine", "engine.type"),
    L("redis_address", "engine.redis.address"),
    L("redis_prefix", "engine.redis.prefix"),
    L("redis_password", "engine.redis.password"),
    L("redis_db", "engine.redis.db"),
    L("redis_user", "engine.redis.user"),
    L("redis_cluster_address", "engine.redis.cluster_address"),
    L("redis_sentinel_address", "engine.redis.sentinel_address"),
    L("redis_sentinel_master_name", "engine.redis.sentinel_master_name"),
    L("redis_sentinel_password", "engine.redis.sentinel_password"),
    L("redis_connect_timeout", "engine.redis.connect_timeout"),
    L("redis_io_timeout", "engine.redis.io_timeout"),
    L("redis_tls", "engine.redis.tls.enabled"),
    L("redis_use_lists", "engine.redis.history_use_lists"),
    L("presence_ttl", "engine.redis.presence_ttl"),
    L("global_presence_ttl", "engine.redis.presence_ttl"),
    L("secret", "client.token.hmac_secret_key"),
    L("token_hmac_secret_key", "client.token.hmac_secret_key"),
    L("token_rsa_public_key", "client.token.rsa_public_key"),
    L("token_ecdsa_public_key", "client.token.ecdsa_public_key"),
    L("token_jwks_public_endpoint", "client.token.jwks_public_endpoint"),
    L("token_audience", "client.token.audience"),
    L("token_audience_regex", "client.token.audience_regex"),
    L("token_issuer", "client.token.issuer"),
    L("token_issuer_regex", "client.token.issuer_regex"),
    L("token_user_id_claim", "client.token.user_id_claim"),
    L("separate_subscription_token_config", "client.subscription_token.enabled"),
    L("subscription_token_hmac_secret_key", "client.subscription_token.hmac_secret_key"),
    L("subscription_token_rsa_public_key", "client.subscription_token.rsa_public_key"),
    L("subscription_token_ecdsa_public_key", "client.subscription_token.ecdsa_public_key"),
    L("subscription_token_jwks_public_endpoint", "client.subscription_token.jwks_public_endpoint"),
    L("subscription_token_audience", "client.subscription_token.audience"),
    L("subscription_token_audience_regex", "client.subscription_token.audience_regex"),
    L("subscription_token_issuer", "client.subscription_token.issuer"),
    L("subscription_token_issuer_regex", "client.subscription_token.issuer_regex"),
    L("subscription_token_user_id_claim", "client.subscription_token.user_id_claim"),
    L("api_key", "http_api.key"),
    L("api_insecure", "http_api.insecure"),
    L("api_disable", "http_api.disabled"),
    L("api_handler_prefix", "http_api.handler_prefix"),
    L("api_external", "http_api.external"),
    L("api_error_mode", "http_api.error_mode"),
    L("admin", "admin.enabled"),
    L("admin_password", "admin.password"),
    L("admin_secret", "admin.secret"),
    L("admin_insecure", "admin.insecure"),
    L("admin_external", "admin.external"),
    L("admin_handler_prefix", "admin.handler_prefix"),
    L("allowed_origins", "client.allowed_origins"),
    L("client_insecure", "client.insecure"),
    L("client_anonymous", "client.allow_anonymous_connect_without_token"),
    L("allow_anonymous_connect_without_token", "client.allow_anonymous_connect_without_token"),
    L("disallow_anonymous_connection_tokens", "client.disallow_anonymous_connection_tokens"),
    L("ping_interval", "client.ping_interval"),
    L("pong_timeout", "client.pong_timeout"),
    L("websocket_ping_interval", "client.ping_interval"),
    L("client_channel_limit", "client.channel_limit"),
    L("client_queue_max_size", "client.queue_max_size"),
    L("client_write_delay", "client.write_delay"),
    L("client_max_messages_in_frame", "client.max_messages_in_frame"),
    L("client_user_connection_limit", "client.user_connection_limit"),
    L("client_connection_limit", "client.connection_limit"),
    L("client_connection_rate_limit", "client.connection_rate_limit"),
    L("client_stale_close_delay", "client.stale_close_delay"),
    L("client_expired_close_delay", "client.expired_close_delay"),
    L("client_expired_sub_close_delay", "client.expired_sub_close_delay"),
    L("client_presence_update_interval", "client.presence_update_interval"),
    L("client_concurrency", "client.concurrency"),
    L("client_history_max_publication_limit", "client.history_max_publication_limit"),
    L("client_recovery_max_publication_limit", "client.recovery_max_publication_limit"),
    L("client_user_id_http_header", "client.user_id_http_header"),
    L("client_connect_include_server_time", "client.connect_include_server_time"),
    L("user_subscribe_to_personal", "client.subscribe_to_user_personal_channel.enabled"),
    L("user_personal_channel_namespace",
      "client.subscribe_to_user_personal_channel.personal_channel_namespace"),
    L("user_personal_single_connection",
      "client.subscribe_to_user_personal_channel.single_connection"),
    /* Engine-wide in v3/v4; in v5 the top-level key was the option of channels without
     * namespace, which inherits the global value anyway. */
    L("history_meta_ttl", "channel.history_meta_ttl"),
    L("global_history_meta_ttl", "channel.history_meta_ttl"),
    L("namespaces", "channel.namespaces"),
    L("channel_max_length", "channel.max_length"),
    L("channel_private_prefix", "channel.private_prefix"),
    L("channel_namespace_boundary", "channel.namespace_boundary"),
    L("channel_user_boundary", "channel.user_boundary"),
    L("channel_user_separator", "channel.user_separator"),
    ENDPOINT("proxy_connect_endpoint", "client.proxy.connect.endpoint",
             "client.proxy.connect.enabled"),
    L("proxy_connect_timeout", "client.proxy.connect.timeout"),
    ENDPOINT("proxy_refresh_endpoint", "client.proxy.refresh.endpoint",
             "client.proxy.refresh.enabled"),
    L("proxy_refresh_timeout", "client.proxy.refresh.timeout"),
    L("proxy_subscribe_endpoint", "channel.proxy.subscribe.endpoint"),
    L("proxy_subscribe_timeout", "channel.proxy.subscribe.timeout"),
    L("proxy_publish_endpoint", "channel.proxy.publish.endpoint"),
    L("proxy_publish_timeout", "channel.proxy.publish.timeout"),
    L("proxy_sub_refresh_endpoint", "channel.proxy.sub_refresh.endpoint"),
    L("proxy_sub_refresh_timeout", "channel.proxy.sub_refresh.timeout"),
    HINT(
        "proxy_subscribe_stream_endpoint",
        "\"channel.proxy.subscribe_stream.endpoint\" (subscribe stream proxies are not supported)"),
    HINT("proxy_subscribe_stream_timeout",
         "\"channel.proxy.subscribe_stream.timeout\" (subscribe stream proxies are not supported)"),
    ENDPOINT("proxy_rpc_endpoint", "rpc.proxy.endpoint", "rpc.without_namespace.proxy_enabled"),
    L("proxy_rpc_timeout", "rpc.proxy.timeout"),
    EACH("proxy_http_headers", "http_headers"),
    EACH("proxy_static_http_headers", "http.static_headers"),
    EACH("proxy_binary_encoding", "binary_encoding"),
    EACH("proxy_include_connection_meta", "include_connection_meta"),
    HINT("proxy_grpc_metadata", "the \"grpc_metadata\" of each proxy (gRPC is not supported)"),
    HINT("proxy_http_status_code_transforms",
         "the \"http.status_to_code_transforms\" of each proxy"),
    L("rpc_namespaces", "rpc.namespaces"),
    L("rpc_namespace_boundary", "rpc.namespace_boundary"),
    L("rpc_ping", "rpc.ping.enabled"),
    L("rpc_ping_method", "rpc.ping.method"),
    L("websocket_disable", "websocket.disabled"),
    L("websocket_handler_prefix", "websocket.handler_prefix"),
    L("websocket_compression", "websocket.compression"),
    L("websocket_compression_level", "websocket.compression_level"),
    L("websocket_compression_min_size", "websocket.compression_min_size"),
    L("websocket_message_size_limit", "websocket.message_size_limit"),
    L("websocket_read_buffer_size", "websocket.read_buffer_size"),
    L("websocket_write_buffer_size", "websocket.write_buffer_size"),
    L("websocket_use_write_buffer_pool", "websocket.use_write_buffer_pool"),
    L("websocket_write_timeout", "websocket.write_timeout"),
    L("uni_websocket", "uni_websocket.enabled"),
    L("uni_websocket_handler_prefix", "uni_websocket.handler_prefix"),
    L("uni_websocket_message_size_limit", "uni_websocket.message_size_limit"),
    L("uni_sse", "uni_sse.enabled"),
    L("uni_sse_handler_prefix", "uni_sse.handler_prefix"),
    L("uni_sse_max_request_body_size", "uni_sse.max_request_body_size"),
    L("uni_http_stream", "uni_http_stream.enabled"),
    L("uni_http_stream_handler_prefix", "uni_http_stream.handler_prefix"),
    L("uni_http_stream_max_request_body_size", "uni_http_stream.max_request_body_size"),
    L("uni_grpc", "uni_grpc.enabled"),
    L("uni_grpc_port", "uni_grpc.port"),
    L("sse", "sse.enabled"),
    L("sse_handler_prefix", "sse.handler_prefix"),
    L("sse_max_request_body_size", "sse.max_request_body_size"),
    L("http_stream", "http_stream.enabled"),
    L("http_stream_handler_prefix", "http_stream.handler_prefix"),
    L("http_stream_max_request_body_size", "http_stream.max_request_body_size"),
    L("emulation_handler_prefix", "emulation.handler_prefix"),
    L("emulation_max_request_body_size", "emulation.max_request_body_size"),
    L("webtransport", "webtransport.enabled"),
    L("prometheus", "prometheus.enabled"),
    L("prometheus_handler_prefix", "prometheus.handler_prefix"),
    L("health", "health.enabled"),
    L("health_handler_prefix", "health.handler_prefix"),
    L("swagger", "swagger.enabled"),
    L("swagger_handler_prefix", "swagger.handler_prefix"),
    L("debug", "debug.enabled"),
    L("debug_handler_prefix", "debug.handler_prefix"),
    L("grpc_api", "grpc_api.enabled"),
    L("grpc_api_port", "grpc_api.port"),
    L("grpc_api_key", "grpc_api.key"),
    L("shutdown_timeout", "shutdown.timeout"),
};

/* Namespace options renamed in v6 (v5 names on the left). */
static const struct lc__legacy ns_legacy[] = {
    L("proxy_subscribe", "subscribe_proxy_enabled"),
    L("proxy_publish", "publish_proxy_enabled"),
    L("proxy_sub_refresh", "sub_refresh_proxy_enabled"),
    L("proxy_subscribe_stream", "subscribe_stream_proxy_enabled"),
    L("proxy_subscribe_stream_bidirectional", "subscribe_stream_proxy_bidirectional"),
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const struct lc__legacy *lc__config_legacy_find(const char *name)
{
    for (size_t i = 0; i < COUNT(legacy); i++) {
        if (strcmp(legacy[i].old, name) == 0)
            return &legacy[i];
    }
    return NULL;
}

const char *lc__config_ns_legacy_find(const char *name)
{
    for (size_t i = 0; i < COUNT(ns_legacy); i++) {
        if (strcmp(ns_legacy[i].old, name) == 0)
            return ns_legacy[i].v6;
    }
    return NULL;
}

void lc__config_legacy_each(void (*fn)(const struct lc__legacy *l, void *arg), void *arg)
{
    for (size_t i = 0; i < COUNT(legacy); i++) {
        if (legacy[i].v6 || legacy[i].each)
            fn(&legacy[i], arg);
    }
}
