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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
    char *channel_regex; /* NULL when unset */
} lc_ns_opts_t;

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
    int64_t queue_max_size;         /* client.queue_max_size, default 1048576 */
    bool connect_include_server_time;

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

    /* http_api */
    char *http_api_key; /* "" = every API call gets 401 (unless insecure) */
    bool http_api_disabled;
    bool http_api_insecure;
    char *http_api_prefix; /* "/api" */

    /* websocket */
    bool websocket_disabled;
    char *websocket_prefix;               /* "/connection/websocket" */
    int64_t websocket_message_size_limit; /* 65536 */

    /* health */
    bool health_enabled;
    char *health_prefix; /* "/health" */

    /* node */
    char *node_name; /* "" = hostname */

    /* limits of the HTTP server (Lucent's own keys under http_server) */
    int64_t http_max_header_size; /* http_server.max_header_size, default 16384 */
    int64_t http_max_body_size;   /* http_server.max_body_size, default 1048576 (API bodies) */
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
/* Same from a string in memory (used by tests). */
int lc_config_load_string(lc_config_t *c, const char *json, size_t len, char *err, size_t errlen);

/* Cross-key validation (ping_interval > pong_timeout, history_size with history_ttl, ...).
 * channel_regex is checked with POSIX extended regular expressions (regcomp REG_EXTENDED). */
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

/* Namespace resolution (spec §6.1): strip the private prefix, take the part before the first
 * namespace boundary. Returns the options, or NULL when the namespace is not defined (→ 102). */
const lc_ns_opts_t *lc_config_channel_opts(const lc_config_t *c, const char *channel, size_t len);

#endif
