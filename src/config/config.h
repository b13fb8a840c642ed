/* Lucent configuration: Centrifugo v6 key layout (JSON, with // and / * * / comments allowed),
 * legacy flat keys mapped with a warning, unknown keys warned about with their path, wrong
 * types or values rejected with the key path and the expected type.
 *
 * The loaded config is immutable after start-up and shared read-only by every worker.
 *
 * Strings and arrays are owned by the config and released by lc_config_free. The default
 * strings are static; replace a string field with lc_config_set_string, never by assigning. */
#ifndef LC_CONFIG_CONFIG_H
#define LC_CONFIG_CONFIG_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* channel option force_recovery_mode ("" is stream) */
enum lc_recovery_mode {
    LC_RECOVERY_MODE_STREAM = 0,
    LC_RECOVERY_MODE_CACHE = 1,
};

/* publication_data_format; DEFAULT ("") in a namespace means channel.publication_data_format,
 * and DEFAULT there means no check. */
enum lc_pub_format {
    LC_PUB_FORMAT_DEFAULT = 0,
    LC_PUB_FORMAT_JSON,
    LC_PUB_FORMAT_JSON_OBJECT,
    LC_PUB_FORMAT_BINARY,
};

/* subscription_type (v6.8): "" and "stream" are streams; map, map_clients and map_users are
 * served on the memory engine (core/client_map.c); shared_poll is served (core/spoll.h). */
enum lc_sub_type {
    LC_SUB_TYPE_DEFAULT = 0,
    LC_SUB_TYPE_STREAM,
    LC_SUB_TYPE_MAP,
    LC_SUB_TYPE_MAP_CLIENTS,
    LC_SUB_TYPE_MAP_USERS,
    LC_SUB_TYPE_SHARED_POLL,
};

/* shared_poll.mode of a namespace (v6.8): how the refresh proxy sees versions */
enum lc_spoll_mode {
    LC_SPOLL_DEFAULT = 0,     /* "": versionless */
    LC_SPOLL_VERSIONLESS = 1, /* Lucent detects changes by content, synthetic versions */
    LC_SPOLL_VERSIONED = 2,   /* the backend's versions decide */
};

/* map.mode (v6.8 map subscriptions): ephemeral keeps no change stream (a snapshot on every
 * subscribe), durable and persistent keep one for catch-up; persistent keys never expire. */
enum lc_map_mode {
    LC_MAP_MODE_UNSET = 0,
    LC_MAP_MODE_EPHEMERAL,
    LC_MAP_MODE_DURABLE,
    LC_MAP_MODE_PERSISTENT,
};

/* map.client_key: the key of a client's map publish or remove (as sent, or its own id). */
enum lc_map_client_key { LC_MAP_KEY_AS_SENT = 0, LC_MAP_KEY_CLIENT_ID, LC_MAP_KEY_USER_ID };

/* The namespace's `map` object (spec: Centrifugo "Map subscriptions"), and Lucent's bounds. */
typedef struct lc_ns_map {
    int mode; /* enum lc_map_mode */
    int64_t key_ttl_ms;
    bool ordered;
    int stream_size;       /* 0 = derived from the mode */
    int64_t stream_ttl_ms; /* 0 = derived from the mode */
    int64_t meta_ttl_ms;   /* 0 = derived */
    bool remove_client_on_unsubscribe;
    int client_key; /* enum lc_map_client_key */
    bool allow_publish_for_client, allow_publish_for_subscriber, allow_publish_for_anonymous;
    bool allow_remove_for_client, allow_remove_for_subscriber, allow_remove_for_anonymous;
    const struct lc_proxy_conf *publish_proxy;           /* map.publish_proxy_enabled (+ name) */
    const struct lc_proxy_conf *remove_proxy;            /* map.remove_proxy_enabled (+ name) */
    int default_page_size, min_page_size, max_page_size; /* 0 = 100, 100, 1000 */
    int live_transition_max_publication_limit;           /* 0 = max_page_size */
    int64_t subscribe_catch_up_timeout_ms;               /* 0 = 5 s, < 0 = none */
    /* Lucent's own bounds (memory stays bounded): keys per channel and key length */
    int max_keys;       /* 0 = 10000 */
    int max_key_length; /* 0 = 256 bytes */
} lc_ns_map_t;

/* bits of allowed_delta_types */
#define LC_DELTA_FOSSIL (1u << 0)

/* What a proxy endpoint speaks. */
enum lc_proxy_protocol {
    LC_PROXY_CENTRIFUGO = 0, /* Centrifugo's proxy protocol (spec §5), JSON over HTTP POST */
    LC_PROXY_LARAVEL_AUTH,   /* Laravel's /broadcasting/auth (form-encoded channel_name and
                                socket_id; 2xx allowed, 403 denied), subscribe only */
};

/* engine.type */
enum lc_engine_type {
    LC_ENGINE_MEMORY = 0,
    LC_ENGINE_REDIS = 1,
};

enum lc_map_broker_type {
    LC_MAP_BROKER_UNSET = 0,
    LC_MAP_BROKER_MEMORY,
    LC_MAP_BROKER_REDIS,
    LC_MAP_BROKER_POSTGRES, /* refused */
};

/* engine.redis (spec §9): Redis shards (channels spread by consistent hashing over them) or a
 * Sentinel-managed primary. */
typedef struct lc_redis_conf {
    char *
        *addresses; /* "host:port", "redis://[user:pass@]host:port[/db]"; default 127.0.0.1:6379 */
    size_t n_addresses;
    char *prefix; /* "centrifugo" */
    int db;
    char *user;
    char *password;
    char **sentinel_addresses;
    size_t n_sentinel_addresses;
    char *sentinel_master_name;
    char *sentinel_user;
    char *sentinel_password;
    int64_t connect_timeout_ms; /* 1s */
    int64_t io_timeout_ms;      /* 4s */
    int64_t presence_ttl_ms;    /* 60s */
    bool history_use_lists;     /* refused: streams only */
    char **cluster_addresses;   /* refused: Redis Cluster is not supported yet */
    size_t n_cluster_addresses;
} lc_redis_conf_t;

/* One HTTP proxy (spec §5.4 Proxy object). */
typedef struct lc_proxy_conf {
    char *name;          /* "default" for the section proxies, else the `proxies[]` name */
    char *endpoint;      /* http:// or https:// URL; "" = not configured */
    int64_t timeout_ms;  /* default 1s */
    char **http_headers; /* allow-list of the connection request's headers to forward */
    size_t n_http_headers;
    char **emulated_headers; /* allow-list of the connect command's `headers` to forward */
    size_t n_emulated_headers;
    char **static_header_names; /* http.static_headers, in file order */
    char **static_header_values;
    size_t n_static_headers;
    bool binary_encoding;
    bool include_connection_meta;
    int protocol; /* enum lc_proxy_protocol; Lucent's own key "protocol": "laravel_auth" */
} lc_proxy_conf_t;

/* A namespace's `shared_poll` object (subscription_type "shared_poll", Centrifugo v6.8). Zero
 * values mean the documented defaults (core/spoll.h applies them). */
typedef struct lc_spoll_ns {
    int64_t refresh_interval_ms;          /* refresh_interval, 10s */
    int refresh_batch_size;               /* items per refresh proxy call, 1000 */
    int max_keys_per_connection;          /* 5000 */
    int mode;                             /* enum lc_spoll_mode */
    int64_t channel_shutdown_delay_ms;    /* 1s */
    int64_t track_expired_extra_delay_ms; /* 25s */
    int max_consecutive_absences;         /* versioned: absent this often = removed, 2 */
    bool publish_enabled;                 /* shared_poll_publish through the engine */
    bool keep_latest_data;                /* Centrifugo PRO: refused */
    char *proxy_name; /* NULL / "" / "default" = channel.proxy.shared_poll_refresh */
} lc_spoll_ns_t;

/* Channel options of one namespace (spec §6.2). Defaults are all false / 0. */
typedef struct lc_ns_opts {
    char *name; /* NULL for channel.without_namespace */
    bool presence;
    bool join_leave;
    bool force_push_join_leave;
    int history_size;
    int64_t history_ttl_ms;
    int64_t history_meta_ttl_ms; /* 0 = inherit channel.history_meta_ttl */
    bool force_positioning, allow_positioning;
    bool force_recovery, allow_recovery;
    bool allow_subscribe_for_client, allow_subscribe_for_anonymous;
    bool allow_publish_for_client, allow_publish_for_subscriber, allow_publish_for_anonymous;
    bool allow_presence_for_client, allow_presence_for_subscriber, allow_presence_for_anonymous;
    bool allow_history_for_client, allow_history_for_subscriber, allow_history_for_anonymous;
    bool allow_user_limited_channels;
    int force_recovery_mode; /* enum lc_recovery_mode */
    bool auto_cache_recover;
    unsigned allowed_delta_types; /* LC_DELTA_* bits */
    bool delta_publish;
    bool allow_tags_filter; /* subscribe `tf` accepted */
    int subscription_type;  /* enum lc_sub_type */
    lc_ns_map_t map;        /* map subscription types */
    /* map_clients_presence_channel_prefix / map_users_presence_channel_prefix: a subscriber of
     * a channel gets an entry in prefix + channel (NULL = none) */
    char *map_clients_prefix;
    char *map_users_prefix;
    int64_t client_publish_debounce_ms; /* told to the SDK in the subscribe result */
    int publication_data_format;        /* enum lc_pub_format */
    /* channel_regex as written (NULL when unset) and its compiled form, made together by
     * lc_config_set_channel_regex (the loader uses it); test names with
     * lc_config_channel_regex_ok. */
    char *channel_regex;
    regex_t *channel_re;
    /* Proxies (spec §5.4): *_proxy_enabled with *_proxy_name (default "default" = the
     * channel.proxy.<kind> section), resolved at load; NULL = no proxy for that kind. */
    const lc_proxy_conf_t *subscribe_proxy;
    const lc_proxy_conf_t *publish_proxy;
    const lc_proxy_conf_t *sub_refresh_proxy;
    lc_spoll_ns_t shared_poll; /* subscription_type "shared_poll" */
} lc_ns_opts_t;

/* An RPC namespace (spec §5.4 rpc.namespaces[] / rpc.without_namespace). */
typedef struct lc_rpc_ns {
    char *name;                   /* NULL for rpc.without_namespace */
    const lc_proxy_conf_t *proxy; /* proxy_enabled + proxy_name resolved; NULL = off */
} lc_rpc_ns_t;

/* log.format */
enum lc_log_format {
    LC_LOG_FORMAT_TEXT = 0,
    LC_LOG_FORMAT_JSON,
};

/* Operations: log output, the admin UI, metrics (defaults and strings owned by config_ops.c). */
typedef struct lc_ops_conf {
    int log_format; /* log.format: "text" (default) or "json", enum lc_log_format */
    char *log_file; /* log.file: "" = stderr */
    bool admin_enabled;
    char *admin_prefix;   /* admin.handler_prefix, default "/admin" */
    char *admin_password; /* admin.password: "" = no login possible (unless insecure) */
    char *admin_secret;   /* admin.secret: HMAC key of the admin session cookie */
    bool admin_insecure;  /* admin.insecure: no login at all (local use only) */
    bool prometheus_enabled;
    char *prometheus_prefix; /* prometheus.handler_prefix, default "/metrics" */
    unsigned unknown_keys;   /* unknown keys and CENTRIFUGO_ variables met while loading */
} lc_ops_conf_t;

/* pusher.apps[].client_events: who may send client events (`client-*`). */
enum lc_pusher_client_events {
    LC_PUSHER_CLIENT_EVENTS_MEMBERS = 0, /* default: subscribers of private and presence channels */
    LC_PUSHER_CLIENT_EVENTS_OFF,         /* nobody (pusher:error 4301) */
    LC_PUSHER_CLIENT_EVENTS_ALL,         /* subscribers of any channel, public ones included */
};

/* One Pusher application (pusher.apps[], config_pusher.c): the credentials Laravel's pusher /
 * reverb driver and pusher-js use (REVERB_APP_ID / KEY / SECRET), and its limits. A Pusher channel
 * `c` of this app is the Lucent channel channel_prefix + c (proto/pusher_map.h). Limits of 0 mean
 * no limit where the comment says so. */
typedef struct lc_pusher_app {
    char *id;               /* the HTTP API's /apps/{id}: [A-Za-z0-9_.-]+, unique */
    char *key;              /* the WebSocket's /app/{key} and auth_key: [A-Za-z0-9_.-]+, unique */
    char *secret;           /* HMAC-SHA256 key of channel auth and HTTP API signatures, required */
    bool enabled;           /* default true; false: connections get 4003, the HTTP API 403 */
    char **allowed_origins; /* Origin patterns as client.allowed_origins; none = any origin */
    size_t n_allowed_origins;
    int client_events;           /* enum lc_pusher_client_events */
    char *channel_prefix;        /* "" (default): prepended to Pusher names to make Lucent's */
    int64_t activity_timeout_ms; /* told to clients in connection_established, default 30s */
    int max_connections;         /* per app and node, 0 = no limit (4004 over it) */
    int max_presence_members;    /* distinct users per presence channel, default 100 */
    int max_user_info_size;      /* bytes of a presence member's user_info, default 1024 */
    int max_user_id_length;      /* default 128 */
    int max_channel_name_length; /* default 200 */
    int max_event_name_length;   /* default 200 */
    int max_event_data_size;     /* bytes of an event's data, HTTP API and client, default 10240 */
    int max_batch_size;          /* items of /batch_events, default 10 */
    int max_channels_per_event;  /* channels of one /events call, default 100 */
    int max_client_events_per_second; /* per connection, default 10, 0 = no limit */
    int64_t timestamp_window_ms;      /* |now - auth_timestamp| of HTTP API calls, 600s; 0 = off */
} lc_pusher_app_t;

/* One rule of the top-level "channels" list; defined in config/internal.h. */
struct lc_channel_rule;

/* Public keys and claim checks of one token kind. Strings NULL or "" = not set. */
typedef struct lc_token_conf {
    char *rsa_public_key;   /* PEM: RS256/384/512 tokens */
    char *ecdsa_public_key; /* PEM: ES256/384/512 tokens */
    char *jwks_public_endpoint;
    char *audience; /* the `aud` claim must hold it */
    char *audience_regex;
    char *issuer; /* the `iss` claim must equal it */
    char *issuer_regex;
    regex_t *audience_re; /* compiled when the config loads (RE2 → POSIX as channel_regex) */
    regex_t *issuer_re;
} lc_token_conf_t;

typedef struct lc_config {
    /* http_server */
    char *address; /* "" = all interfaces */
    int port;      /* default 8000 */

    /* log */
    int log_level; /* enum lc_log_level, default info */

    /* workers: Lucent's own top-level key "workers"; 0 = number of CPUs */
    int workers;

    /* client */
    char *token_hmac_secret_key; /* client.token.hmac_secret_key, "" = none */
    char **allowed_origins;      /* client.allowed_origins */
    size_t n_allowed_origins;
    bool client_insecure; /* client.insecure */
    bool allow_anonymous_connect_without_token;
    bool disallow_anonymous_connection_tokens;
    int64_t ping_interval_ms;       /* client.ping_interval, default 25s; -1 = disabled */
    int64_t pong_timeout_ms;        /* client.pong_timeout, default 8s; -1 = disabled */
    int64_t stale_close_delay_ms;   /* default 10s */
    int64_t expired_close_delay_ms; /* default 25s */
    int channel_limit;              /* default 128 */
    /* client.command_rate_limit: commands a connection may send per second (pongs do not
     * count), 0 = no limit (the default); over it each command is answered with error 111,
     * or with client.command_rate_limit_disconnect the connection closes with 3013. */
    int command_rate_limit;
    bool command_rate_limit_disconnect;
    /* client.max_queued_commands, default 512: commands a connection may have waiting behind
     * the one whose hook decision (proxy, Lua) is pending; one more disconnects with 3013. */
    int max_queued_commands;
    int64_t queue_max_size; /* client.queue_max_size, default 1048576 */
    /* client.write_delay, default 0 (off): a WebSocket connection's pushes are collected this
     * long and written together (one writev), trading latency for fewer system calls. */
    int64_t write_delay_ms;
    /* client.max_messages_in_frame, default 16, -1 = no limit: with write_delay, at most this
     * many queued messages go out per delayed write. */
    int max_messages_in_frame;
    bool connect_include_server_time;
    int64_t expired_sub_close_delay_ms;  /* default 25s */
    int64_t presence_update_interval_ms; /* default 27s, > 0 */
    int history_max_publication_limit;   /* default 300; 0 = no limit */
    int recovery_max_publication_limit;  /* default 300; 0 = no limit */
    int connection_limit;                /* per node, 0 = no limit */
    int user_connection_limit;           /* per user and node, 0 = no limit */
    /* client.subscription_token: when enabled, subscription tokens are checked with their own
     * key (see lc_config_sub_token_secret) */
    bool sub_token_enabled;
    char *sub_token_hmac_secret_key; /* "" = none */
    /* client.token.* and client.subscription_token.* besides the HMAC key (spec §3.3):
     * lc_config_sub_token picks which one subscription tokens use. */
    lc_token_conf_t token;
    lc_token_conf_t sub_token;
    /* client.subscribe_to_user_personal_channel; the namespace, when set, must be defined */
    bool personal_channel_enabled;
    char *personal_channel_namespace; /* "" = channels without namespace */
    bool personal_single_connection;

    /* channel */
    lc_ns_opts_t without_namespace;
    lc_ns_opts_t *namespaces;
    size_t n_namespaces;
    int64_t history_meta_ttl_ms; /* channel.history_meta_ttl, default 720h */
    int channel_max_length;      /* channel.max_length, default 255 */
    char *private_prefix;        /* "$" */
    char *namespace_boundary;    /* ":" */
    char *user_boundary;         /* "#" */
    char *user_separator;        /* "," */
    int publication_data_format; /* channel.publication_data_format, enum lc_pub_format */

    /* Lucent's top-level "channels": declarative rules, first match wins (see
     * lc_config_resolve_channel). */
    struct lc_channel_rule *channel_rules;
    size_t n_channel_rules;

    /* proxies (spec §5.4). Every proxy object is owned here and lives as long as the config;
     * options and namespaces point at them. */
    lc_proxy_conf_t connect_proxy; /* client.proxy.connect */
    bool connect_proxy_enabled;
    lc_proxy_conf_t refresh_proxy; /* client.proxy.refresh */
    bool refresh_proxy_enabled;
    lc_proxy_conf_t channel_proxy_subscribe;           /* channel.proxy.subscribe ("default") */
    lc_proxy_conf_t channel_proxy_publish;             /* channel.proxy.publish */
    lc_proxy_conf_t channel_proxy_sub_refresh;         /* channel.proxy.sub_refresh */
    lc_proxy_conf_t rpc_proxy;                         /* rpc.proxy */
    lc_proxy_conf_t channel_proxy_shared_poll_refresh; /* channel.proxy.shared_poll_refresh */
    lc_proxy_conf_t *proxies;                          /* top-level proxies[] (named) */
    size_t n_proxies;
    lc_rpc_ns_t rpc_without_namespace;
    lc_rpc_ns_t *rpc_namespaces;
    size_t n_rpc_namespaces;
    char *rpc_namespace_boundary; /* ":" */
    bool rpc_ping_enabled;        /* rpc.ping.enabled: built-in method answering {} */
    char *rpc_ping_method;        /* "ping" */

    /* top-level shared_poll (v6.8): the HMAC keys that sign the items a client may track */
    struct {
        char *hmac_secret_key;                        /* "" = none */
        char *hmac_previous_secret_key;               /* "" = none (key rotation) */
        int64_t hmac_previous_secret_key_valid_until; /* Unix s, 0 = no limit */
        int concurrency_limit; /* refresh proxy calls in flight per worker, 64 */
    } shared_poll;

    /* http_api */
    char *http_api_key; /* "" = every API call gets 401 (unless insecure) */
    bool http_api_disabled;
    bool http_api_insecure;
    char *http_api_prefix; /* "/api" */
    /* http_api.exclude_client_field (Lucent's own, "" = off): API publish / broadcast take the
     * sender's client id from this top-level field of the data (Laravel's toOthers() puts the
     * X-Socket-ID value in `socket`), leave that client out and remove the field before
     * history and delivery. */
    char *http_api_exclude_client_field;

    /* lua (Lucent's own): the hooks script, resolved against the config file's folder; NULL =
     * no Lua. lua.path: extra module folders (the shipped lua/ is always searched). */
    char *lua_script;
    char **trace_users; /* log.trace_users: users or client ids whose decisions are traced */
    size_t n_trace_users;
    char **lua_path;
    size_t n_lua_path;
    bool lua_watch; /* lua.watch: reload the script when a .lua file beside it changes */
    bool lua_jit;   /* lua.jit, default false: the budget needs the JIT off */
    int64_t lua_instruction_budget; /* lua.instruction_budget per hook call, default 10000000 */
    int64_t lua_memory_limit;       /* lua.memory_limit bytes per VM, default 64 MiB */
    int64_t lua_time_limit_ms;      /* lua.time_limit: running time per hook call, default 1s */

    /* websocket */
    bool websocket_disabled;
    char *websocket_prefix;               /* "/connection/websocket" */
    int64_t websocket_message_size_limit; /* 65536 */

    /* bidirectional emulation (spec §8.1): sse, http_stream and the emulation endpoint (on
     * when either stream is); max_request_body_size 0 = the default 65536 */
    bool sse_enabled;
    char *sse_prefix; /* "/connection/sse" */
    int64_t sse_max_request_body_size;
    bool http_stream_enabled;
    char *http_stream_prefix; /* "/connection/http_stream" */
    int64_t http_stream_max_request_body_size;
    char *emulation_prefix; /* "/emulation" */
    int64_t emulation_max_request_body_size;

    /* unidirectional transports (spec §8.2) */
    bool uni_websocket_enabled;
    char *uni_websocket_prefix;                 /* "/connection/uni_websocket" */
    int64_t uni_websocket_message_size_limit;   /* 65536 */
    bool uni_websocket_join_push_messages;      /* pushes of one write '\n'-joined in one message */
    bool uni_websocket_disable_disconnect_push; /* only the close frame carries the code */
    bool uni_sse_enabled;
    char *uni_sse_prefix; /* "/connection/uni_sse" */
    int64_t uni_sse_max_request_body_size;
    bool uni_http_stream_enabled;
    char *uni_http_stream_prefix; /* "/connection/uni_http_stream" */
    int64_t uni_http_stream_max_request_body_size;

    /* health */
    bool health_enabled;
    char *health_prefix; /* "/health" */

    /* node */
    char *node_name; /* "" = hostname */

    lc_ops_conf_t ops;

    /* pusher (Lucent's own): the Pusher protocol endpoints, /app/{key} (WebSocket) and
     * /apps/{id}/... (HTTP API), both under handler_prefix; off unless enabled. */
    bool pusher_enabled;
    char *pusher_prefix; /* pusher.handler_prefix: "" (default) or "/path" without a final / */
    lc_pusher_app_t *pusher_apps;
    size_t n_pusher_apps;

    /* engine */
    int engine_type; /* enum lc_engine_type */
    lc_redis_conf_t redis;

    /* map_broker: where map channels live. Unset: the engine's store (memory, or Redis with
     * the Redis engine). The Redis map broker uses the engine's Redis connections. */
    int map_broker_type;        /* enum lc_map_broker_type */
    char **map_redis_addresses; /* map_broker.redis.address: must equal the engine's */
    size_t n_map_redis_addresses;
    int64_t map_cleanup_interval_ms;      /* map_broker.redis.cleanup_interval, 1s; < 0 = off */
    int map_cleanup_batch_size;           /* map_broker.redis.cleanup_batch_size, 100 */
    int64_t map_idempotent_result_ttl_ms; /* map_broker.redis.idempotent_result_ttl, 5m */

    /* limits of the HTTP server (Lucent's own keys under http_server) */
    int64_t http_max_header_size; /* http_server.max_header_size, default 16384 */
    int64_t http_max_body_size;   /* http_server.max_body_size, default 1048576 (API bodies) */

    /* Transport hardening (Lucent's own keys; README "Limits and timeouts"). A timeout of 0
     * switches that check off. */
    int64_t http_read_header_timeout_ms; /* http_server.read_header_timeout, default 10s */
    int64_t http_read_body_timeout_ms;   /* http_server.read_body_timeout, default 30s */
    int64_t http_idle_timeout_ms;        /* http_server.idle_timeout, default 60s */
    int64_t http_max_output_buffer;      /* http_server.max_output_buffer, default 262144 */
    int http_max_connections;            /* http_server.max_connections, 0 = from RLIMIT_NOFILE */
    int64_t websocket_handshake_timeout_ms; /* websocket.handshake_timeout, default 10s */
    int websocket_max_fragments;            /* websocket.max_fragments, default 128 */
    /* http_server.tls: cert_pem / key_pem hold PEM text or a file path (Centrifugo's PEMData;
     * cert_pem_file / key_pem_file are paths); min_version "1.2" (default) or "1.3" */
    bool http_tls_enabled;
    char *http_tls_cert; /* "" = none */
    char *http_tls_key;
    int http_tls_min_version; /* 0 = TLS 1.2, 1 = TLS 1.3 */
    char *http_tls_client_ca; /* client_ca_pem: client certificates are refused when set */
    bool http_tls_autocert;   /* http_server.tls_autocert.enabled: refused */
} lc_config_t;

/* Defaults for everything; no secrets. */
void lc_config_defaults(lc_config_t *c);

/* Load a JSON config file over the defaults. Warnings (legacy and unknown keys) are logged.
 * On failure returns LC_EINVAL and writes a one-line message naming the key path and the
 * expected type into err (e.g. `client.ping_interval: expected a duration string like "25s"`);
 * a file that cannot be read gives LC_ENOENT / LC_EIO / LC_ETOOBIG (over 16 MiB). After a
 * failure c may hold part of the file's values and still needs lc_config_free.
 * On success also validates (lc_config_validate). */
int lc_config_load_file(lc_config_t *c, const char *path, char *err, size_t errlen);
/* Same from a string in memory (used by tests). Loading again into the same config applies
 * the keys of the new text over the values already there; keys it does not name keep them. */
int lc_config_load_string(lc_config_t *c, const char *json, size_t len, char *err, size_t errlen);

/* Environment overrides (spec §9.1). A variable is CENTRIFUGO_ or LUCENT_ followed by a key
 * path upper-cased with '.' → '_' (CENTRIFUGO_HTTP_SERVER_PORT = http_server.port). Values:
 * booleans as Go's strconv.ParseBool (1 t T TRUE true True, 0 f F FALSE false False), decimal
 * integers, durations and strings as written, string arrays space-separated
 * ("https://a https://b"), arrays of objects (channel.namespaces, proxies, channels, ...) and
 * maps as JSON. An empty value is unset. LUCENT_X wins over CENTRIFUGO_X. Pre-v6 flat names
 * (CENTRIFUGO_API_KEY) are mapped with a warning where the file loader maps them; unknown
 * CENTRIFUGO_ names are warned about and ignored (LUCENT_ ones silently: other tools share the
 * prefix). lua.script and lua.path from the environment are relative to the working directory.
 *
 * lc_config_apply_env applies the variables of envp (NULL-terminated "NAME=value" strings, e.g.
 * environ) over c as it is, then validates. lc_config_load_file_env loads a file with envp's
 * variables over it in one pass (the environment wins over the file, the file over defaults),
 * so that validation and proxy references see the final values; envp NULL = the file alone.
 * Errors as for lc_config_load_file, naming the variable when one set the value:
 * `CENTRIFUGO_HTTP_SERVER_PORT: expected an integer from 0 to 65535`. */
int lc_config_apply_env(lc_config_t *c, char *const *envp, char *err, size_t errlen);
int lc_config_load_file_env(lc_config_t *c, const char *path, char *const *envp, char *err,
                            size_t errlen);

/* Cross-key validation (ping_interval > pong_timeout, history_size with history_ttl, the
 * personal channel namespace defined, channel rules, ...). A channel_regex string without its
 * compiled form (assigned in code instead of through lc_config_set_channel_regex) is an error. */
int lc_config_validate(const lc_config_t *c, char *err, size_t errlen);

void lc_config_free(lc_config_t *c);

/* Replace a string field of a config (e.g. &c->address) with a copy of value, freeing the old
 * value unless it is a static default. 0 or LC_ENOMEM (the field is then unchanged). */
int lc_config_set_string(char **field, const char *value);

/* Fill a dev config (c is overwritten, as by lc_config_defaults): defaults plus a random HMAC
 * secret and API key (64 hex characters each; the caller prints them), health enabled,
 * allowed_origins ["*"] (dev only: any page may connect), and channels without namespace open
 * to authenticated subscribe and publish. 0 or LC_ENOMEM (c is then back to defaults). */
int lc_config_dev(lc_config_t *c);

/* Write a fresh v6 config file with random hmac_secret_key, http_api.key, admin password and
 * secret (JSON, pretty). path NULL or "-" = stdout. An existing file is never overwritten
 * (LC_EEXIST); a new file is created with mode 0600. 0 or negative lc_err, message in err. */
int lc_config_generate(const char *path, char *err, size_t errlen);

/* Set o->channel_regex and o->channel_re from a Go RE2 expression; "" clears both. The
 * expression is compiled with POSIX regcomp(REG_EXTENDED | REG_NOSUB) after translating the
 * RE2 shorthands that POSIX lacks, outside bracket expressions only: \d → [0-9],
 * \w → [A-Za-z0-9_], \s → [[:space:]] and \D, \W, \S as their negations. Limitations: a
 * backslash inside [...] stays a literal backslash (POSIX rule; "[\d]" means '\' or 'd', so
 * a warning is logged), and RE2-only syntax such as (?i) or lazy quantifiers fails to compile.
 * 0, LC_EINVAL (message in err, without the key path; o unchanged) or LC_ENOMEM. */
int lc_config_set_channel_regex(lc_ns_opts_t *o, const char *re, char *err, size_t errlen);

/* Whether a channel name without its namespace prefix ("room1" of "chat:room1") satisfies the
 * options' channel_regex; true when none is set. Thread-safe, no allocation. */
bool lc_config_channel_regex_ok(const lc_ns_opts_t *o, const char *name_after_ns);

/* The HMAC key for subscription tokens: client.subscription_token.hmac_secret_key when
 * client.subscription_token.enabled, else the connection key client.token.hmac_secret_key.
 * "" = no HMAC key. */
const char *lc_config_sub_token_secret(const lc_config_t *c);
/* The key settings subscription tokens use: client.subscription_token's when enabled, else
 * client.token's (as lc_config_sub_token_secret). */
const lc_token_conf_t *lc_config_sub_token(const lc_config_t *c);
/* Compile a Go RE2 expression as lc_config_set_channel_regex does into *out (malloc'd; NULL
 * for ""). 0, LC_EINVAL (message in err) or LC_ENOMEM. */
int lc_config_compile_regex(const char *re, regex_t **out, char *err, size_t errlen);

/* The RPC namespace of a method (spec §1.6 rpc): the part before rpc.namespace_boundary, or
 * rpc.without_namespace; NULL when that namespace is undefined (→ 104). */
const lc_rpc_ns_t *lc_config_rpc_ns(const lc_config_t *c, const char *method);

/* Namespace resolution (spec §6.1): strip the private prefix, take the part before the first
 * namespace boundary. Returns the options, or NULL when the namespace is not defined (→ 102). */
const lc_ns_opts_t *lc_config_channel_opts(const lc_config_t *c, const char *channel, size_t len);
/* Whether subscription_type t is one of the map types (map, map_clients, map_users). */
bool lc_config_map_type(int t);
/* The map options of ns with the defaults its mode implies filled in (config_map.c). */
void lc_config_map_effective(const lc_config_t *c, const lc_ns_opts_t *ns, lc_ns_map_t *out);

/* Channel options with the declarative rules of the top-level "channels" list applied.
 *
 * Each rule has a "name" pattern matched against the whole channel name (private prefix and
 * namespace included), plus any channel option of §6.2 and "subscribe" / "publish" (aliases of
 * allow_subscribe_for_client / allow_publish_for_client). Pattern syntax:
 *   $user         the connected user's own id, exactly; never matches for an anonymous user or
 *                 user NULL (server-side calls)
 *   {name}, #name one segment: one or more characters other than '.', ':' and '#' (the
 *                 delimiters of Laravel names like "orders.1" and of Centrifugo's namespace
 *                 and user boundaries). A capture takes the whole run up to the next
 *                 delimiter, so it must be followed by the end of the pattern, by '*', or by
 *                 literal text starting with a delimiter. name is [A-Za-z_][A-Za-z0-9_]*; a
 *                 '#' not followed by a name ("dialog#{u}") is literal
 *   *             the rest of the name, any characters, possibly none; only at the end
 *   \c            the character c literally (e.g. \#x, \*; "\\#x" in JSON)
 *   anything else literal text matching itself; "$" not followed by "user" is literal
 *
 * The first matching rule applies: scratch receives the namespace's options (as returned by
 * lc_config_channel_opts) with only the keys the rule sets overlaid, and scratch is returned.
 * A rule may define a channel in a namespace that channel.namespaces does not list: the
 * overlay then starts from the defaults (everything false / 0, name NULL). No rule matches:
 * the namespace's options, or NULL when the namespace is undefined (→ 102).
 *
 * scratch borrows strings and the compiled regex from the config: never free it, and use it
 * only while the config lives. No allocation; safe from any thread. */
/* The refresh proxy of a shared_poll namespace: its shared_poll.proxy_name among proxies[], or
 * channel.proxy.shared_poll_refresh for none / "default". NULL for an unknown name (refused at
 * start-up by lc_config_validate). */
const lc_proxy_conf_t *lc_config_spoll_proxy(const lc_config_t *c, const lc_ns_opts_t *o);

const lc_ns_opts_t *lc_config_resolve_channel(const lc_config_t *c, const char *channel, size_t len,
                                              const char *user, lc_ns_opts_t *scratch);

/* Which rule of "channels" lc_config_resolve_channel applies to the channel (for the decision
 * trace): its index, or -1 when none does. *family is set when the rule only names the
 * channel's family for another user ("user:$user" and user:7 asked by user 42). */
int lc_config_channel_rule_of(const lc_config_t *c, const char *channel, size_t len,
                              const char *user, bool *family);

/* Rule i of "channels" (in match order): its pattern as written, with the options it sets
 * written to buf as "key=value, ...". NULL past the last rule. */
const char *lc_config_channel_rule(const lc_config_t *c, size_t i, char *buf, size_t len);

/* Whether loads refuse the keys Lucent recognises but does not implement when they are switched
 * on ("engine.type: not supported: ..."; config_unsupported.c has the list) and warn about those
 * that only tune something. The server and checkconfig turn it on before loading; off (the
 * default) the values are only type-checked and stored, which tests of the loader rely on. */
void lc_config_refuse_unsupported(bool on);

/* The app of pusher.apps whose id (or key) is the n bytes at s; NULL when none. */
const lc_pusher_app_t *lc_config_pusher_app_by_id(const lc_config_t *c, const char *s, size_t n);
const lc_pusher_app_t *lc_config_pusher_app_by_key(const lc_config_t *c, const char *s, size_t n);

/* checkconfig --strict: the secrets that are placeholders ("change-me…") or too short to be
 * keys (under 32 bytes), one "key.path: why" per line into out. Returns how many. */
int lc_config_lint_secrets(const lc_config_t *c, char *out, size_t outlen);

/* The effective config as JSON text (every key Lucent uses, with its value after defaults, the
 * file and the environment), secrets replaced by "***" unless show_secrets. Caller frees;
 * NULL on OOM. */
char *lc_config_effective_json(const lc_config_t *c, bool show_secrets);

#endif
