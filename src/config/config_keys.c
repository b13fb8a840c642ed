/* The Centrifugo v6 configuration layout as tables (spec §9.2, §6.2, §5.4). Keys that Lucent
 * does not use yet are listed with LC__NOFIELD so a Centrifugo config loads without
 * unknown-key warnings; their values are still type-checked. */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "config/internal.h"

#define CF(f) offsetof(lc_config_t, f)
#define NF(f) offsetof(lc_ns_opts_t, f)
#define PF(f) offsetof(lc_proxy_conf_t, f)
#define RF(f) offsetof(lc_rpc_ns_t, f)
#define SPF(f) offsetof(lc_spoll_ns_t, f)
#define MF(f) offsetof(lc_ns_map_t, f)
#define AF(f) offsetof(lc_pusher_app_t, f)
#define U LC__NOFIELD
#define NOMAX INT64_MAX

#define K_(n, kind, off, off2, lo, hi, sub, vals)                                                  \
    {                                                                                              \
        n, kind, off, off2, lo, hi, sub, vals                                                      \
    }
#define BOOL(n, off) K_(n, LC__K_BOOL, off, 0, 0, 0, NULL, NULL)
#define INT(n, off, lo, hi) K_(n, LC__K_INT, off, 0, lo, hi, NULL, NULL)
#define I64(n, off, lo, hi) K_(n, LC__K_I64, off, 0, lo, hi, NULL, NULL)
#define DUR(n, off) K_(n, LC__K_DUR, off, 0, 0, 0, NULL, NULL)
#define DURN(n, off) K_(n, LC__K_DUR_NEG, off, 0, 0, 0, NULL, NULL)
#define STR(n, off) K_(n, LC__K_STR, off, 0, 0, 0, NULL, NULL)
#define STRS(n, off, off2) K_(n, LC__K_STRS, off, off2, 0, 0, NULL, NULL)
#define STR_STRS(n, off, off2) K_(n, LC__K_STR_STRS, off, off2, 0, 0, NULL, NULL)
#define ENUM(n, vals) K_(n, LC__K_ENUM, U, 0, 0, 0, NULL, vals)
#define ENUMF(n, off, vals) K_(n, LC__K_ENUM, off, 0, 0, 0, NULL, vals)
#define ENUMSF(n, off, vals) K_(n, LC__K_ENUMS, off, 0, 0, 0, NULL, vals)
#define REGEX(n) K_(n, LC__K_REGEX, NF(channel_regex), NF(channel_re), 0, 0, NULL, NULL)
#define RULES(n) K_(n, LC__K_RULES, U, 0, 0, 0, NULL, NULL)
#define LOGLEVEL(n, off) K_(n, LC__K_LOGLEVEL, off, 0, 0, 0, NULL, NULL)
#define OBJ(n, sub) K_(n, LC__K_OBJ, U, 0, 0, 0, sub, NULL)
#define NSOBJ(n, off) K_(n, LC__K_NSOBJ, off, 0, 0, 0, lc__config_ns_keys, NULL)
#define NSARR(n) K_(n, LC__K_NSARR, U, 0, 0, 0, NULL, NULL)
#define SUBOBJ(n, off, sub) K_(n, LC__K_SUBOBJ, off, 0, 0, 0, sub, NULL)
#define PROXY(n, off) K_(n, LC__K_PROXY, off, 0, 0, 0, proxy_keys, NULL)
#define PROXIES(n) K_(n, LC__K_PROXIES, U, 0, 0, 0, proxy_keys, NULL)
#define PROXY_ENABLED(n) K_(n, LC__K_PROXY_ENABLED, U, 0, 0, 0, NULL, NULL)
#define HEADERS(n) K_(n, LC__K_HEADERS, U, 0, 0, 0, NULL, NULL)
#define PROXY_ON(n, off, use) K_(n, LC__K_PROXY_ON, off, 0, use, 0, NULL, NULL)
#define PROXY_NAME(n, off, use) K_(n, LC__K_PROXY_NAME, off, 0, use, 0, NULL, NULL)
#define PUSHER_APPS(n, sub) K_(n, LC__K_PUSHER_APPS, U, 0, 0, 0, sub, NULL)
#define RPCNSARR(n, sub) K_(n, LC__K_RPCNSARR, U, 0, 0, 0, sub, NULL)
#define FALSE_ONLY(n, why) K_(n, LC__K_FALSE, U, 0, 0, 0, NULL, why)
#define ANYOBJ(n) K_(n, LC__K_ANYOBJ, U, 0, 0, 0, NULL, NULL)
#define ANYARR(n) K_(n, LC__K_ANYARR, U, 0, 0, 0, NULL, NULL)
#define ANY(n) K_(n, LC__K_ANY, U, 0, 0, 0, NULL, NULL)
#define END K_(NULL, LC__K_ANY, U, 0, 0, 0, NULL, NULL)

static const struct lc__key tls_keys[] = {
    BOOL("enabled", U),
    STR("cert_pem", U),
    STR("cert_pem_file", U),
    STR("key_pem", U),
    STR("key_pem_file", U),
    STR("server_ca_pem", U),
    STR("server_ca_pem_file", U),
    STR("client_ca_pem", U),
    STR("client_ca_pem_file", U),
    STR("root_ca_pem", U),
    STR("root_ca_pem_file", U),
    STR("server_name", U),
    BOOL("insecure_skip_verify", U),
    DUR("reload_interval", U),
    END,
};

/* http_server.tls: served by Lucent itself (transport/tls.c). */
static const struct lc__key http_tls_keys[] = {
    BOOL("enabled", CF(http_tls_enabled)),
    STR("cert_pem", CF(http_tls_cert)),
    STR("cert_pem_file", CF(http_tls_cert)),
    STR("key_pem", CF(http_tls_key)),
    STR("key_pem_file", CF(http_tls_key)),
    ENUMF("min_version", CF(http_tls_min_version), "1.2|1.3"),
    STR("server_ca_pem", U),
    STR("server_ca_pem_file", U),
    STR("client_ca_pem", CF(http_tls_client_ca)),
    STR("client_ca_pem_file", CF(http_tls_client_ca)),
    STR("root_ca_pem", U),
    STR("root_ca_pem_file", U),
    STR("server_name", U),
    BOOL("insecure_skip_verify", U),
    DUR("reload_interval", U),
    END,
};

static const struct lc__key tls_autocert_keys[] = {
    BOOL("enabled", CF(http_tls_autocert)),
    ANY("host_whitelist"),
    STR("cache_dir", U),
    STR("email", U),
    STR("server_name", U),
    BOOL("http", U),
    STR("http_addr", U),
    END,
};

static const struct lc__key http_server_keys[] = {
    STR("address", CF(address)),
    INT("port", CF(port), 0, 65535),
    STR("internal_address", U),
    ANY("internal_port"), /* a string in Centrifugo ("" = unset), a number in many configs */
    OBJ("tls", http_tls_keys),
    OBJ("tls_autocert", tls_autocert_keys),
    BOOL("tls_external", U),
    OBJ("internal_tls", tls_keys),
    ANYOBJ("http3"),
    I64("max_header_size", CF(http_max_header_size), 1, NOMAX),
    I64("max_body_size", CF(http_max_body_size), 1, NOMAX),
    DUR("read_header_timeout", CF(http_read_header_timeout_ms)),
    DUR("read_body_timeout", CF(http_read_body_timeout_ms)),
    DUR("idle_timeout", CF(http_idle_timeout_ms)),
    I64("max_output_buffer", CF(http_max_output_buffer), 1, NOMAX),
    INT("max_connections", CF(http_max_connections), 0, INT_MAX),
    END,
};

static const struct lc__key log_keys[] = {
    LOGLEVEL("level", CF(log_level)),
    STR("file", CF(ops.log_file)),
    ENUMF("format", CF(ops.log_format), "text|json"),        /* Lucent's own */
    STRS("trace_users", CF(trace_users), CF(n_trace_users)), /* Lucent's own */
    END,
};

/* What Lucent does not do with Redis yet: switched on, start-up stops with the reason. */
static const struct lc__key redis_tls_keys[] = {
    FALSE_ONLY("enabled", "TLS to Redis is not supported yet"),
    STR("cert_pem", U),
    STR("cert_pem_file", U),
    STR("key_pem", U),
    STR("key_pem_file", U),
    STR("server_ca_pem", U),
    STR("server_ca_pem_file", U),
    STR("client_ca_pem", U),
    STR("client_ca_pem_file", U),
    STR("root_ca_pem", U),
    STR("root_ca_pem_file", U),
    STR("server_name", U),
    BOOL("insecure_skip_verify", U),
    DUR("reload_interval", U),
    END,
};

static const struct lc__key redis_keys[] = {
    STR_STRS("address", CF(redis.addresses), CF(redis.n_addresses)),
    STR("prefix", CF(redis.prefix)),
    INT("db", CF(redis.db), 0, INT_MAX),
    STR("user", CF(redis.user)),
    STR("password", CF(redis.password)),
    STR_STRS("cluster_address", CF(redis.cluster_addresses), CF(redis.n_cluster_addresses)),
    STR_STRS("sentinel_address", CF(redis.sentinel_addresses), CF(redis.n_sentinel_addresses)),
    STR("sentinel_master_name", CF(redis.sentinel_master_name)),
    STR("sentinel_user", CF(redis.sentinel_user)),
    STR("sentinel_password", CF(redis.sentinel_password)),
    STR("sentinel_client_name", U),
    OBJ("sentinel_tls", redis_tls_keys),
    STR("client_name", U),
    DUR("connect_timeout", CF(redis.connect_timeout_ms)),
    DUR("io_timeout", CF(redis.io_timeout_ms)),
    BOOL("force_resp2", U), /* Lucent always speaks RESP2 */
    OBJ("tls", redis_tls_keys),
    DUR("presence_ttl", CF(redis.presence_ttl_ms)),
    FALSE_ONLY("presence_hash_field_ttl",
               "engine.redis.presence_hash_field_ttl is not supported yet"),
    FALSE_ONLY("presence_user_mapping", "engine.redis.presence_user_mapping is not supported yet"),
    BOOL("history_use_lists", CF(redis.history_use_lists)),
    FALSE_ONLY("use_sharded_pub_sub", "engine.redis.use_sharded_pub_sub is not supported yet"),
    INT("num_shards", U, 0, INT_MAX),
    FALSE_ONLY("load_sharded_pub_sub", "engine.redis.load_sharded_pub_sub is not supported yet"),
    ANYOBJ("replica_client"),
    ANYOBJ("sharded_pub_sub"),
    END,
};

static const struct lc__key engine_keys[] = {
    ENUMF("type", CF(engine_type), "memory|redis"),
    OBJ("redis", redis_keys),
    END,
};

/* A separate broker or presence manager: the engine does both. */
static const struct lc__key broker_keys[] = {
    BOOL("enabled", U), /* refused when true by config_unsupported.c */
    ENUM("type", "memory|redis|nats|redisnats"),
    ANYOBJ("redis"),
    ANYOBJ("nats"),
    END,
};

static const struct lc__key presence_manager_keys[] = {
    BOOL("enabled", U), /* likewise */
    ENUM("type", "memory|redis"),
    ANYOBJ("redis"),
    END,
};

static const struct lc__key token_keys[] = {
    STR("hmac_secret_key", CF(token_hmac_secret_key)),
    STR("rsa_public_key", CF(token.rsa_public_key)),
    STR("ecdsa_public_key", CF(token.ecdsa_public_key)),
    STR("jwks_public_endpoint", CF(token.jwks_public_endpoint)),
    STR("audience", CF(token.audience)),
    STR("audience_regex", CF(token.audience_regex)),
    STR("issuer", CF(token.issuer)),
    STR("issuer_regex", CF(token.issuer_regex)),
    STR("user_id_claim", U),
    END,
};

static const struct lc__key subscription_token_keys[] = {
    BOOL("enabled", CF(sub_token_enabled)),
    STR("hmac_secret_key", CF(sub_token_hmac_secret_key)),
    STR("rsa_public_key", CF(sub_token.rsa_public_key)),
    STR("ecdsa_public_key", CF(sub_token.ecdsa_public_key)),
    STR("jwks_public_endpoint", CF(sub_token.jwks_public_endpoint)),
    STR("audience", CF(sub_token.audience)),
    STR("audience_regex", CF(sub_token.audience_regex)),
    STR("issuer", CF(sub_token.issuer)),
    STR("issuer_regex", CF(sub_token.issuer_regex)),
    STR("user_id_claim", U),
    END,
};

static const struct lc__key proxy_http_keys[] = {
    OBJ("tls", tls_keys),
    HEADERS("static_headers"),
    ANYARR("status_to_code_transforms"),
    END,
};

static const struct lc__key proxy_grpc_keys[] = {
    OBJ("tls", tls_keys),   STR("credentials_key", U), STR("credentials_value", U),
    BOOL("compression", U), ANYOBJ("static_metadata"), END,
};

/* A namespace's `map` object (map subscription types; core/client_map.c), offsets inside
 * lc_ns_map_t. */
/* map_broker.redis: the Redis map broker works over the engine's Redis connections; its own
 * connection keys are read to be compared with the engine's (config.c) or refused
 * (config_unsupported.c), and the cleanup keys tune it. */
static const struct lc__key map_broker_redis_keys[] = {
    STR_STRS("address", CF(map_redis_addresses), CF(n_map_redis_addresses)),
    DURN("cleanup_interval", CF(map_cleanup_interval_ms)),
    INT("cleanup_batch_size", CF(map_cleanup_batch_size), 1, 100000),
    DUR("idempotent_result_ttl", CF(map_idempotent_result_ttl_ms)),
    STR("prefix", U),
    INT("db", U, 0, INT_MAX),
    STR("user", U),
    STR("password", U),
    STR_STRS("cluster_address", U, U),
    STR_STRS("sentinel_address", U, U),
    STR("sentinel_master_name", U),
    ANYOBJ("tls"),
    END,
};

/* map_broker: which store keeps map channels (config.c checks it against the engine). */
static const struct lc__key map_broker_keys[] = {
    ENUMF("type", CF(map_broker_type), "|memory|redis|postgres"),
    OBJ("redis", map_broker_redis_keys),
    ANYOBJ("postgres"),
    END,
};

static const struct lc__key ns_map_keys[] = {
    ENUMF("mode", MF(mode), "|ephemeral|durable|persistent"),
    DUR("key_ttl", MF(key_ttl_ms)),
    BOOL("ordered", MF(ordered)),
    INT("stream_size", MF(stream_size), 0, 1000000),
    DUR("stream_ttl", MF(stream_ttl_ms)),
    DUR("meta_ttl", MF(meta_ttl_ms)),
    FALSE_ONLY("external_state",
               "external map state is not supported (the map broker keeps the state)"),
    BOOL("remove_client_on_unsubscribe", MF(remove_client_on_unsubscribe)),
    ENUMF("client_key", MF(client_key), "|client_id|user_id"),
    BOOL("allow_publish_for_client", MF(allow_publish_for_client)),
    BOOL("allow_publish_for_subscriber", MF(allow_publish_for_subscriber)),
    BOOL("allow_publish_for_anonymous", MF(allow_publish_for_anonymous)),
    BOOL("allow_remove_for_client", MF(allow_remove_for_client)),
    BOOL("allow_remove_for_subscriber", MF(allow_remove_for_subscriber)),
    BOOL("allow_remove_for_anonymous", MF(allow_remove_for_anonymous)),
    PROXY_ON("publish_proxy_enabled", MF(publish_proxy), LC__USE_PUBLISH),
    PROXY_NAME("publish_proxy_name", MF(publish_proxy), LC__USE_PUBLISH),
    PROXY_ON("remove_proxy_enabled", MF(remove_proxy), LC__USE_PUBLISH),
    PROXY_NAME("remove_proxy_name", MF(remove_proxy), LC__USE_PUBLISH),
    INT("default_page_size", MF(default_page_size), 0, 100000),
    INT("min_page_size", MF(min_page_size), 0, 100000),
    INT("max_page_size", MF(max_page_size), 0, 100000),
    INT("live_transition_max_publication_limit", MF(live_transition_max_publication_limit), 0,
        1000000),
    DURN("subscribe_catch_up_timeout", MF(subscribe_catch_up_timeout_ms)),
    /* Lucent's own bounds */
    INT("max_keys", MF(max_keys), 0, 10000000),
    INT("max_key_length", MF(max_key_length), 0, 1000),
    END,
};

/* One table for every Proxy object (spec §5.4). "name" is read by the proxies[] loader and
 * ignored in the sections (as Centrifugo does); "enabled" belongs to client.proxy.*.
 * "protocol" is Lucent's own: "laravel_auth" for a subscribe proxy that is Laravel's
 * broadcasting auth endpoint. */
static const struct lc__key proxy_keys[] = {
    PROXY_ENABLED("enabled"),
    STR("name", U),
    STR("endpoint", PF(endpoint)),
    DUR("timeout", PF(timeout_ms)),
    STRS("http_headers", PF(http_headers), PF(n_http_headers)),
    STRS("emulated_headers", PF(emulated_headers), PF(n_emulated_headers)),
    STRS("grpc_metadata", U, U),
    BOOL("binary_encoding", PF(binary_encoding)),
    BOOL("include_connection_meta", PF(include_connection_meta)),
    OBJ("http", proxy_http_keys),
    OBJ("grpc", proxy_grpc_keys),
    ENUMF("protocol", PF(protocol), "centrifugo|laravel_auth"),
    END,
};

static const struct lc__key client_proxy_keys[] = {
    PROXY("connect", CF(connect_proxy)),
    PROXY("refresh", CF(refresh_proxy)),
    END,
};

static const struct lc__key personal_keys[] = {
    BOOL("enabled", CF(personal_channel_enabled)),
    STR("personal_channel_namespace", CF(personal_channel_namespace)),
    BOOL("single_connection", CF(personal_single_connection)),
    END,
};

static const struct lc__key uni_disconnect_keys[] = {
    BOOL("enabled", U),
    ANYARR("transforms"),
    END,
};

static const struct lc__key client_keys[] = {
    STRS("allowed_origins", CF(allowed_origins), CF(n_allowed_origins)),
    OBJ("token", token_keys),
    OBJ("subscription_token", subscription_token_keys),
    OBJ("proxy", client_proxy_keys),
    BOOL("insecure", CF(client_insecure)),
    BOOL("insecure_skip_token_signature_verify", U),
    BOOL("allow_anonymous_connect_without_token", CF(allow_anonymous_connect_without_token)),
    BOOL("disallow_anonymous_connection_tokens", CF(disallow_anonymous_connection_tokens)),
    DURN("ping_interval", CF(ping_interval_ms)),
    DURN("pong_timeout", CF(pong_timeout_ms)),
    DUR("expired_close_delay", CF(expired_close_delay_ms)),
    DUR("expired_sub_close_delay", CF(expired_sub_close_delay_ms)),
    DUR("stale_close_delay", CF(stale_close_delay_ms)),
    INT("channel_limit", CF(channel_limit), 0, INT_MAX),
    INT("command_rate_limit", CF(command_rate_limit), 0, INT_MAX),
    BOOL("command_rate_limit_disconnect", CF(command_rate_limit_disconnect)),
    INT("max_queued_commands", CF(max_queued_commands), 1, INT_MAX),
    I64("queue_max_size", CF(queue_max_size), 0, NOMAX),
    DUR("write_delay", CF(write_delay_ms)),
    INT("max_messages_in_frame", CF(max_messages_in_frame), -1, INT_MAX),
    DUR("presence_update_interval", CF(presence_update_interval_ms)),
    INT("concurrency", U, 0, INT_MAX),
    DUR("channel_position_check_delay", U),
    DUR("channel_position_max_time_lag", U),
    INT("connection_limit", CF(connection_limit), 0, INT_MAX),
    INT("user_connection_limit", CF(user_connection_limit), 0, INT_MAX),
    INT("connection_rate_limit", U, 0, INT_MAX),
    BOOL("connect_include_server_time", CF(connect_include_server_time)),
    INT("history_max_publication_limit", CF(history_max_publication_limit), 0, INT_MAX),
    INT("recovery_max_publication_limit", CF(recovery_max_publication_limit), 0, INT_MAX),
    STR("user_id_http_header", U),
    OBJ("subscribe_to_user_personal_channel", personal_keys),
    OBJ("connect_code_to_unidirectional_disconnect", uni_disconnect_keys),
    END,
};

/* a namespace's shared_poll object (offsets inside lc_spoll_ns_t) */
static const struct lc__key spoll_ns_keys[] = {
    STR("proxy_name", SPF(proxy_name)),
    DUR("refresh_interval", SPF(refresh_interval_ms)),
    INT("refresh_batch_size", SPF(refresh_batch_size), 1, 100000),
    INT("max_keys_per_connection", SPF(max_keys_per_connection), 1, 1000000),
    ENUMF("mode", SPF(mode), "|versionless|versioned"),
    DUR("channel_shutdown_delay", SPF(channel_shutdown_delay_ms)),
    DUR("track_expired_extra_delay", SPF(track_expired_extra_delay_ms)),
    INT("max_consecutive_absences", SPF(max_consecutive_absences), 0, 1000000),
    BOOL("publish_enabled", SPF(publish_enabled)),
    BOOL("keep_latest_data", SPF(keep_latest_data)),
    END,
};

const struct lc__key lc__config_ns_keys[] = {
    BOOL("presence", NF(presence)),
    BOOL("join_leave", NF(join_leave)),
    BOOL("force_push_join_leave", NF(force_push_join_leave)),
    INT("history_size", NF(history_size), 0, INT_MAX),
    DUR("history_ttl", NF(history_ttl_ms)),
    DUR("history_meta_ttl", NF(history_meta_ttl_ms)),
    BOOL("force_positioning", NF(force_positioning)),
    BOOL("allow_positioning", NF(allow_positioning)),
    BOOL("force_recovery", NF(force_recovery)),
    BOOL("allow_recovery", NF(allow_recovery)),
    ENUMF("force_recovery_mode", NF(force_recovery_mode), "stream|cache|"),
    BOOL("auto_cache_recover", NF(auto_cache_recover)),
    BOOL("auto_cache_recovery", U), /* its name in later v6 releases */
    ENUMSF("allowed_delta_types", NF(allowed_delta_types), "fossil"),
    BOOL("delta_publish", NF(delta_publish)),
    BOOL("allow_subscribe_for_client", NF(allow_subscribe_for_client)),
    BOOL("allow_subscribe_for_anonymous", NF(allow_subscribe_for_anonymous)),
    BOOL("allow_publish_for_client", NF(allow_publish_for_client)),
    BOOL("allow_publish_for_subscriber", NF(allow_publish_for_subscriber)),
    BOOL("allow_publish_for_anonymous", NF(allow_publish_for_anonymous)),
    BOOL("allow_presence_for_client", NF(allow_presence_for_client)),
    BOOL("allow_presence_for_subscriber", NF(allow_presence_for_subscriber)),
    BOOL("allow_presence_for_anonymous", NF(allow_presence_for_anonymous)),
    BOOL("allow_history_for_client", NF(allow_history_for_client)),
    BOOL("allow_history_for_subscriber", NF(allow_history_for_subscriber)),
    BOOL("allow_history_for_anonymous", NF(allow_history_for_anonymous)),
    BOOL("allow_user_limited_channels", NF(allow_user_limited_channels)),
    REGEX("channel_regex"),
    ENUMF("publication_data_format", NF(publication_data_format), "|json|json_object|binary"),
    BOOL("allow_tags_filter", NF(allow_tags_filter)),
    PROXY_ON("subscribe_proxy_enabled", NF(subscribe_proxy), LC__USE_SUBSCRIBE),
    PROXY_NAME("subscribe_proxy_name", NF(subscribe_proxy), LC__USE_SUBSCRIBE),
    PROXY_ON("publish_proxy_enabled", NF(publish_proxy), LC__USE_PUBLISH),
    PROXY_NAME("publish_proxy_name", NF(publish_proxy), LC__USE_PUBLISH),
    PROXY_ON("sub_refresh_proxy_enabled", NF(sub_refresh_proxy), LC__USE_SUB_REFRESH),
    PROXY_NAME("sub_refresh_proxy_name", NF(sub_refresh_proxy), LC__USE_SUB_REFRESH),
    FALSE_ONLY("subscribe_stream_proxy_enabled",
               "subscribe stream proxies are not supported (they need gRPC)"),
    STR("subscribe_stream_proxy_name", U),
    BOOL("subscribe_stream_proxy_bidirectional", U),
    /* v6.8: streams, the map types and shared poll are served */
    ENUMF("subscription_type", NF(subscription_type),
          "|stream|map|map_clients|map_users|shared_poll"),
    /* lo = the struct's size: a channel rule's overlay copies the whole object */
    K_("map", LC__K_SUBOBJ, NF(map), 0, sizeof(lc_ns_map_t), 0, ns_map_keys, NULL),
    K_("shared_poll", LC__K_SUBOBJ, NF(shared_poll), 0, sizeof(lc_spoll_ns_t), 0, spoll_ns_keys,
       NULL),
    STR("map_clients_presence_channel_prefix", NF(map_clients_prefix)),
    STR("map_users_presence_channel_prefix", NF(map_users_prefix)),
    DUR("client_publish_debounce_interval", NF(client_publish_debounce_ms)),
    END,
};

static const struct lc__key channel_proxy_keys[] = {
    PROXY("subscribe", CF(channel_proxy_subscribe)),
    PROXY("publish", CF(channel_proxy_publish)),
    PROXY("sub_refresh", CF(channel_proxy_sub_refresh)),
    PROXY("shared_poll_refresh", CF(channel_proxy_shared_poll_refresh)),
    PROXY("subscribe_stream", U),
    PROXY("state", U),
    PROXY("cache_empty", U),
    END,
};

static const struct lc__key channel_keys[] = {
    OBJ("proxy", channel_proxy_keys),
    NSOBJ("without_namespace", CF(without_namespace)),
    NSARR("namespaces"),
    DUR("history_meta_ttl", CF(history_meta_ttl_ms)),
    INT("max_length", CF(channel_max_length), 1, INT_MAX),
    STR("private_prefix", CF(private_prefix)),
    STR("namespace_boundary", CF(namespace_boundary)),
    STR("user_boundary", CF(user_boundary)),
    STR("user_separator", CF(user_separator)),
    ENUMF("publication_data_format", CF(publication_data_format), "|json|json_object|binary"),
    END,
};

/* rpc.without_namespace and rpc.namespaces[] ("name" is read by the array loader) */
static const struct lc__key rpc_ns_keys[] = {
    PROXY_ON("proxy_enabled", RF(proxy), LC__USE_RPC),
    PROXY_NAME("proxy_name", RF(proxy), LC__USE_RPC),
    END,
};

static const struct lc__key rpc_ping_keys[] = {
    BOOL("enabled", CF(rpc_ping_enabled)),
    STR("method", CF(rpc_ping_method)),
    END,
};

static const struct lc__key rpc_keys[] = {
    PROXY("proxy", CF(rpc_proxy)),
    SUBOBJ("without_namespace", CF(rpc_without_namespace), rpc_ns_keys),
    RPCNSARR("namespaces", rpc_ns_keys),
    OBJ("ping", rpc_ping_keys),
    STR("namespace_boundary", CF(rpc_namespace_boundary)),
    END,
};

static const struct lc__key http_api_keys[] = {
    BOOL("disabled", CF(http_api_disabled)),
    STR("handler_prefix", CF(http_api_prefix)),
    STR("key", CF(http_api_key)),
    ENUM("error_mode", "|transport"),
    BOOL("external", U),
    BOOL("insecure", CF(http_api_insecure)),
    STR("exclude_client_field", CF(http_api_exclude_client_field)),
    END,
};

/* Lucent's own: one Pusher application (lc_pusher_app_t; defaults in config_pusher.c). */
static const struct lc__key pusher_app_keys[] = {
    STR("id", AF(id)),
    STR("key", AF(key)),
    STR("secret", AF(secret)),
    BOOL("enabled", AF(enabled)),
    STRS("allowed_origins", AF(allowed_origins), AF(n_allowed_origins)),
    ENUMF("client_events", AF(client_events), "members|off|all"),
    STR("channel_prefix", AF(channel_prefix)),
    DUR("activity_timeout", AF(activity_timeout_ms)),
    INT("max_connections", AF(max_connections), 0, INT_MAX),
    INT("max_presence_members", AF(max_presence_members), 1, INT_MAX),
    INT("max_user_info_size", AF(max_user_info_size), 1, INT_MAX),
    INT("max_user_id_length", AF(max_user_id_length), 1, INT_MAX),
    INT("max_channel_name_length", AF(max_channel_name_length), 1, INT_MAX),
    INT("max_event_name_length", AF(max_event_name_length), 1, INT_MAX),
    INT("max_event_data_size", AF(max_event_data_size), 1, INT_MAX),
    INT("max_batch_size", AF(max_batch_size), 1, INT_MAX),
    INT("max_channels_per_event", AF(max_channels_per_event), 1, INT_MAX),
    INT("max_client_events_per_second", AF(max_client_events_per_second), 0, INT_MAX),
    DUR("timestamp_window", AF(timestamp_window_ms)),
    END,
};

/* Lucent's own: the Pusher protocol endpoints. */
static const struct lc__key pusher_keys[] = {
    BOOL("enabled", CF(pusher_enabled)),
    STR("handler_prefix", CF(pusher_prefix)),
    PUSHER_APPS("apps", pusher_app_keys),
    END,
};

/* Lucent's own: the Lua hooks script and its VM's limits. */
static const struct lc__key lua_keys[] = {
    STR("script", CF(lua_script)),
    STRS("path", CF(lua_path), CF(n_lua_path)),
    BOOL("jit", CF(lua_jit)),
    BOOL("watch", CF(lua_watch)),
    I64("instruction_budget", CF(lua_instruction_budget), 1000, NOMAX),
    I64("memory_limit", CF(lua_memory_limit), 1048576, NOMAX),
    DUR("time_limit", CF(lua_time_limit_ms)),
    END,
};

static const struct lc__key grpc_api_keys[] = {
    BOOL("enabled", U),
    STR("address", U),
    INT("port", U, 0, 65535),
    STR("key", U),
    OBJ("tls", tls_keys),
    BOOL("reflection", U),
    I64("max_receive_message_size", U, 0, NOMAX),
    ENUM("error_mode", "|transport"),
    END,
};

static const struct lc__key websocket_keys[] = {
    BOOL("disabled", CF(websocket_disabled)),
    STR("handler_prefix", CF(websocket_prefix)),
    I64("message_size_limit", CF(websocket_message_size_limit), 0, NOMAX),
    DUR("write_timeout", U),
    BOOL("compression", U),
    INT("compression_level", U, -2, 9),
    INT("compression_min_size", U, 0, INT_MAX),
    INT("read_buffer_size", U, 0, INT_MAX),
    INT("write_buffer_size", U, 0, INT_MAX),
    BOOL("use_write_buffer_pool", U),
    BOOL("join_push_messages", U),
    DUR("handshake_timeout", CF(websocket_handshake_timeout_ms)),
    INT("max_fragments", CF(websocket_max_fragments), 1, INT_MAX),
    END,
};

static const struct lc__key uni_websocket_keys[] = {
    BOOL("enabled", CF(uni_websocket_enabled)),
    STR("handler_prefix", CF(uni_websocket_prefix)),
    I64("message_size_limit", CF(uni_websocket_message_size_limit), 0, NOMAX),
    DUR("write_timeout", U),
    BOOL("compression", U),
    INT("compression_level", U, -2, 9),
    INT("compression_min_size", U, 0, INT_MAX),
    INT("read_buffer_size", U, 0, INT_MAX),
    INT("write_buffer_size", U, 0, INT_MAX),
    BOOL("use_write_buffer_pool", U),
    BOOL("join_push_messages", CF(uni_websocket_join_push_messages)),
    BOOL("disable_disconnect_push", CF(uni_websocket_disable_disconnect_push)),
    END,
};

/* The stream sections differ only in where their values go. */
#define STREAM_KEYS(sec)                                                                           \
    BOOL("enabled", CF(sec##_enabled)), STR("handler_prefix", CF(sec##_prefix)),                   \
        I64("max_request_body_size", CF(sec##_max_request_body_size), 0, NOMAX),                   \
        BOOL("join_push_messages", U)

static const struct lc__key sse_keys[] = {STREAM_KEYS(sse), END};
static const struct lc__key http_stream_keys[] = {STREAM_KEYS(http_stream), END};
static const struct lc__key uni_sse_keys[] = {
    STREAM_KEYS(uni_sse),
    ANYOBJ("connect_code_to_http_response"),
    END,
};
static const struct lc__key uni_http_stream_keys[] = {
    STREAM_KEYS(uni_http_stream),
    ANYOBJ("connect_code_to_http_response"),
    END,
};

static const struct lc__key emulation_keys[] = {
    STR("handler_prefix", CF(emulation_prefix)),
    I64("max_request_body_size", CF(emulation_max_request_body_size), 0, NOMAX),
    END,
};

static const struct lc__key webtransport_keys[] = {
    BOOL("enabled", U),
    STR("handler_prefix", U),
    I64("message_size_limit", U, 0, NOMAX),
    END,
};

static const struct lc__key uni_grpc_keys[] = {
    BOOL("enabled", U),       STR("address", U),
    INT("port", U, 0, 65535), I64("max_receive_message_size", U, 0, NOMAX),
    OBJ("tls", tls_keys),     END,
};

static const struct lc__key admin_keys[] = {
    BOOL("enabled", CF(ops.admin_enabled)),
    STR("handler_prefix", CF(ops.admin_prefix)),
    STR("password", CF(ops.admin_password)),
    STR("secret", CF(ops.admin_secret)),
    BOOL("insecure", CF(ops.admin_insecure)),
    BOOL("external", U),
    STR("web_path", U),
    STR("web_proxy_address", U),
    END,
};

static const struct lc__key prometheus_keys[] = {
    BOOL("enabled", CF(ops.prometheus_enabled)),
    STR("handler_prefix", CF(ops.prometheus_prefix)),
    BOOL("instrument_http_handlers", U),
    BOOL("recovered_publications_histogram", U),
    END,
};

static const struct lc__key health_keys[] = {
    BOOL("enabled", CF(health_enabled)),
    STR("handler_prefix", CF(health_prefix)),
    END,
};

/* swagger, debug */
static const struct lc__key endpoint_keys[] = {
    BOOL("enabled", U),
    STR("handler_prefix", U),
    END,
};

static const struct lc__key node_keys[] = {
    STR("name", CF(node_name)),
    DUR("info_metrics_aggregate_interval", U),
    END,
};

static const struct lc__key shutdown_keys[] = {
    DUR("timeout", U),
    END,
};

static const struct lc__key dev_keys[] = {
    BOOL("enabled", U),
    END,
};

static const struct lc__key init_keys[] = {
    BOOL("enabled", U),
    END,
};

/* top-level shared_poll */
static const struct lc__key spoll_keys[] = {
    STR("hmac_secret_key", CF(shared_poll.hmac_secret_key)),
    STR("hmac_previous_secret_key", CF(shared_poll.hmac_previous_secret_key)),
    I64("hmac_previous_secret_key_valid_until",
        CF(shared_poll.hmac_previous_secret_key_valid_until), 0, NOMAX),
    INT("concurrency_limit", CF(shared_poll.concurrency_limit), 0, 1000000),
    END,
};

const struct lc__key lc__config_root_keys[] = {
    OBJ("http_server", http_server_keys),
    OBJ("log", log_keys),
    OBJ("engine", engine_keys),
    OBJ("broker", broker_keys),
    OBJ("presence_manager", presence_manager_keys),
    OBJ("client", client_keys),
    OBJ("channel", channel_keys),
    OBJ("rpc", rpc_keys),
    PROXIES("proxies"),
    OBJ("http_api", http_api_keys),
    OBJ("grpc_api", grpc_api_keys),
    OBJ("websocket", websocket_keys),
    OBJ("sse", sse_keys),
    OBJ("http_stream", http_stream_keys),
    OBJ("emulation", emulation_keys),
    OBJ("uni_websocket", uni_websocket_keys),
    OBJ("uni_sse", uni_sse_keys),
    OBJ("uni_http_stream", uni_http_stream_keys),
    OBJ("uni_grpc", uni_grpc_keys),
    OBJ("webtransport", webtransport_keys),
    OBJ("admin", admin_keys),
    OBJ("prometheus", prometheus_keys),
    OBJ("health", health_keys),
    OBJ("swagger", endpoint_keys),
    OBJ("debug", endpoint_keys),
    OBJ("node", node_keys),
    OBJ("shutdown", shutdown_keys),
    ANYARR("consumers"),
    ANYOBJ("graphite"),
    ANYOBJ("usage_stats"),
    ANYOBJ("opentelemetry"),
    /* v6.8 map subscriptions: only the memory map broker is served (the default) */
    OBJ("map_broker", map_broker_keys),
    /* v6.8 shared poll subscriptions: the HMAC keys of tracked items */
    OBJ("shared_poll", spoll_keys),
    ANYOBJ("controller"),
    OBJ("dev", dev_keys),
    OBJ("init", init_keys),
    STR("pid_file", U),
    BOOL("enable_unreleased_features", U),
    INT("workers", CF(workers), 0, 1024),
    RULES("channels"),
    OBJ("lua", lua_keys),
    OBJ("pusher", pusher_keys),
    END,
};

/* A channel rule records the options it sets as bits of a uint64_t. */
_Static_assert(sizeof(lc__config_ns_keys) / sizeof(lc__config_ns_keys[0]) <= 64,
               "too many channel options for lc_channel_rule.set");

const struct lc__key *lc__config_key_find(const struct lc__key *table, const char *name)
{
    for (const struct lc__key *k = table; k->name; k++) {
        if (strcmp(k->name, name) == 0)
            return k;
    }
    return NULL;
}

const struct lc__key *lc__config_resolve(lc_config_t *c, const char *path, void **base)
{
    const struct lc__key *table = lc__config_root_keys, *k = NULL;
    void *b = c;
    char seg[64];
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (!table || n == 0 || n >= sizeof(seg))
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        k = lc__config_key_find(table, seg);
        if (!k)
            return NULL;
        if (!dot)
            break;
        if (k->kind == LC__K_NSOBJ || k->kind == LC__K_SUBOBJ ||
            (k->kind == LC__K_PROXY && k->off != LC__NOFIELD))
            b = (char *)b + k->off;
        else if (k->kind != LC__K_OBJ)
            return NULL;
        table = k->sub;
        p = dot + 1;
    }
    *base = b;
    return k;
}
