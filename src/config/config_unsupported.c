/* Keys Lucent recognises (a Centrifugo config loads) but does not implement. One table: a key
 * switched on in the file or the environment either stops start-up ("not supported") or, when it
 * only tunes something, gets a warning. When a feature lands, delete its line here.
 *
 * Also the "did you mean" suggestion for unknown keys. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "config/config_walk.h"
#include "util/log.h"

enum when {
    ON_TRUE,     /* a boolean true */
    ON_SET,      /* a non-empty string, a non-zero number, a non-empty array or object, true */
    ON_VALUE,    /* the string equal to `value` */
    ON_ENABLED,  /* an object whose "enabled" member is true */
    ON_ENDPOINT, /* a proxy object with a non-empty "endpoint" */
};

struct unsupported {
    const char *path; /* v6 key path; "*.name" = a channel option anywhere (namespaces, rules) */
    enum when when;
    const char *value;
    bool fatal; /* false: the key only tunes something, a warning is enough */
    const char *why;
};

#define NO(p, w, why)                                                                              \
    {                                                                                              \
        p, w, NULL, true, why                                                                      \
    }
#define NO_VALUE(p, v, why)                                                                        \
    {                                                                                              \
        p, ON_VALUE, v, true, why                                                                  \
    }
#define TUNE(p, why)                                                                               \
    {                                                                                              \
        p, ON_SET, NULL, false, why                                                                \
    }

static const struct unsupported unsupported[] = {
    /* engine, brokers */
    NO("broker.enabled", ON_TRUE, "a separate broker is not supported"),
    NO("presence_manager.enabled", ON_TRUE, "a separate presence manager is not supported"),
    /* TLS and other listeners */
    NO("http_server.tls_autocert", ON_ENABLED, "automatic certificates are not supported"),
    NO("http_server.internal_tls.enabled", ON_TRUE, "the internal port is not supported"),
    NO("http_server.internal_address", ON_SET, "the internal port is not supported"),
    NO("http_server.internal_port", ON_SET, "the internal port is not supported"),
    NO("http_server.http3", ON_ENABLED, "HTTP/3 is not supported"),
    TUNE("http_server.tls_external", "has no effect (no redirects or cookies depend on it)"),
    NO("grpc_api.enabled", ON_TRUE, "the gRPC server API is not supported"),
    NO("uni_grpc.enabled", ON_TRUE, "the unidirectional gRPC transport is not supported"),
    NO("webtransport.enabled", ON_TRUE, "WebTransport is not supported"),
    NO("http_api.external", ON_TRUE, "the internal port is not supported"),
    NO_VALUE("http_api.error_mode", "transport",
             "not supported as a setting: send the header X-Centrifugo-Error-Mode: transport"),
    NO("admin.external", ON_TRUE, "the internal port is not supported"),
    NO("admin.web_path", ON_SET, "a custom admin web app is not supported"),
    NO("admin.web_proxy_address", ON_SET, "a custom admin web app is not supported"),
    NO("swagger.enabled", ON_TRUE, "the Swagger UI is not supported"),
    NO("debug.enabled", ON_TRUE, "the pprof debug endpoints are not supported"),
    /* tokens: checks that would be skipped */
    NO("client.token.user_id_claim", ON_SET, "the user id is always the sub claim"),
    NO("client.subscription_token.user_id_claim", ON_SET, "the user id is always the sub claim"),
    NO("client.insecure_skip_token_signature_verify", ON_TRUE, "is not supported"),
    NO("client.user_id_http_header", ON_SET, "authentication by header is not supported"),
    NO("client.connection_rate_limit", ON_SET, "connection rate limits are not supported"),
    NO("client.connect_code_to_unidirectional_disconnect.enabled", ON_TRUE,
       "code transforms are not supported"),
    TUNE("client.concurrency", "is not applied: commands of a connection run in order"),
    TUNE("client.channel_position_check_delay", "is not applied (single-node engine)"),
    TUNE("client.channel_position_max_time_lag", "is not applied (single-node engine)"),
    /* channel options */
    NO("*.auto_cache_recover", ON_TRUE, "automatic cache recovery is not supported yet"),
    NO("*.auto_cache_recovery", ON_TRUE, "automatic cache recovery is not supported yet"),
    /* map subscriptions: the memory and Redis map brokers are served (config.c matches them
     * with the engine); the Redis one only over the engine's own connections */
    NO_VALUE("map_broker.type", "postgres", "the PostgreSQL map broker is not supported"),
    NO("map_broker.postgres", ON_SET, "the PostgreSQL map broker is not supported"),
    NO("map_broker.redis.prefix", ON_SET,
       "the Redis map broker uses the engine's connection: set engine.redis.prefix"),
    NO("map_broker.redis.db", ON_SET,
       "the Redis map broker uses the engine's connection: set engine.redis.db"),
    NO("map_broker.redis.user", ON_SET,
       "the Redis map broker uses the engine's connection: set engine.redis.user"),
    NO("map_broker.redis.password", ON_SET,
       "the Redis map broker uses the engine's connection: set engine.redis.password"),
    NO("map_broker.redis.cluster_address", ON_SET, "Redis Cluster is not supported yet"),
    NO("map_broker.redis.sentinel_address", ON_SET,
       "the Redis map broker uses the engine's connection: set engine.redis.sentinel_address"),
    NO("map_broker.redis.sentinel_master_name", ON_SET,
       "the Redis map broker uses the engine's connection"),
    NO("map_broker.redis.tls", ON_SET, "the Redis map broker uses the engine's connection"),
    NO("controller", ON_SET,
       "a custom controller is not supported (one node, or the Redis engine)"),
    NO("dev.enabled", ON_TRUE, "the development page is not served"),
    NO("init.enabled", ON_TRUE, "the connection init endpoint is not served"),
    NO("pid_file", ON_SET, "a PID file is not written (the service manager tracks the process)"),
    NO("channel.proxy.state", ON_ENDPOINT, "the state proxy is not supported"),
    NO("channel.proxy.cache_empty", ON_ENDPOINT, "the cache empty proxy is not supported"),
    NO("channel.proxy.subscribe_stream", ON_ENDPOINT, "subscribe stream proxies need gRPC"),
    /* transports: tuning */
    TUNE("websocket.write_timeout", "is not applied (writes are bounded by client.queue_max_size)"),
    TUNE("websocket.compression", "is not applied: messages are sent uncompressed"),
    TUNE("websocket.compression_level", "is not applied"),
    TUNE("websocket.compression_min_size", "is not applied"),
    TUNE("websocket.read_buffer_size", "is not applied"),
    TUNE("websocket.write_buffer_size", "is not applied"),
    TUNE("websocket.use_write_buffer_pool", "is not applied"),
    TUNE("websocket.join_push_messages", "is not applied"),
    TUNE("uni_websocket.write_timeout", "is not applied"),
    TUNE("uni_websocket.compression", "is not applied: messages are sent uncompressed"),
    TUNE("uni_websocket.compression_level", "is not applied"),
    TUNE("uni_websocket.compression_min_size", "is not applied"),
    TUNE("uni_websocket.read_buffer_size", "is not applied"),
    TUNE("uni_websocket.write_buffer_size", "is not applied"),
    TUNE("uni_websocket.use_write_buffer_pool", "is not applied"),
    TUNE("sse.join_push_messages", "is not applied"),
    TUNE("http_stream.join_push_messages", "is not applied"),
    TUNE("uni_sse.join_push_messages", "is not applied"),
    TUNE("uni_http_stream.join_push_messages", "is not applied"),
    NO("uni_sse.connect_code_to_http_response", ON_ENABLED, "code transforms are not supported"),
    NO("uni_http_stream.connect_code_to_http_response", ON_ENABLED,
       "code transforms are not supported"),
    /* observability */
    TUNE("prometheus.instrument_http_handlers", "is not applied"),
    TUNE("prometheus.recovered_publications_histogram", "is not applied"),
    TUNE("node.info_metrics_aggregate_interval", "is not applied"),
    TUNE("shutdown.timeout", "is not applied: clients are disconnected at once on shutdown"),
    NO("consumers", ON_SET, "async consumers are not supported"),
    NO("graphite", ON_ENABLED, "Graphite export is not supported (use prometheus)"),
    NO("opentelemetry", ON_ENABLED, "OpenTelemetry is not supported"),
};

static bool enforce;

void lc_config_refuse_unsupported(bool on)
{
    enforce = on;
}

static bool switched_on(const struct unsupported *u, const cJSON *v)
{
    switch (u->when) {
    case ON_TRUE:
        return cJSON_IsTrue(v);
    case ON_SET:
        if (cJSON_IsString(v))
            return v->valuestring[0] != '\0';
        if (cJSON_IsNumber(v))
            return v->valuedouble != 0;
        if (cJSON_IsArray(v) || cJSON_IsObject(v))
            return v->child != NULL;
        return cJSON_IsTrue(v);
    case ON_VALUE:
        return cJSON_IsString(v) && strcmp(v->valuestring, u->value) == 0;
    case ON_ENABLED:
        return cJSON_IsObject(v) && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "enabled"));
    case ON_ENDPOINT: {
        const cJSON *e = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, "endpoint") : NULL;
        return e && cJSON_IsString(e) && e->valuestring[0];
    }
    }
    return false;
}

static bool is_channel_option(const struct lc__key *k)
{
    size_t n = 0;
    while (lc__config_ns_keys[n].name)
        n++;
    return k >= lc__config_ns_keys && k < lc__config_ns_keys + n;
}

int lc__config_unsupported(struct lc__walk *x, const char *path, const struct lc__key *k,
                           const cJSON *v)
{
    if (!enforce)
        return 0;
    bool opt = k && is_channel_option(k);
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        const struct unsupported *u = &unsupported[i];
        bool match = u->path[0] == '*' ? opt && strcmp(u->path + 2, k->name) == 0
                                       : !opt && strcmp(u->path, path) == 0;
        if (!match || !switched_on(u, v))
            continue;
        if (u->fatal)
            return lc__walk_bad(x, "not supported: %s", u->why);
        lc_log_warn("config: \"%s\" %s", x->path, u->why);
        return 0;
    }
    return 0;
}

/* ---- did you mean ---- */

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 127 || lb > 127)
        return (size_t)-1;
    size_t row[128];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Close enough to be a typo: a third of the name's length, at least 2. */
static size_t max_distance(const char *s)
{
    size_t n = strlen(s) / 3;
    return n < 2 ? 2 : n;
}

struct near {
    const char *want;
    const char *leaf;
    size_t best;
    bool leaf_match;
    char *out;
    size_t outlen;
};

static void near_path(const char *path, const struct lc__key *k, void *arg)
{
    struct near *n = arg;
    size_t d = edit_distance(n->want, path);
    if (d < n->best && d <= max_distance(n->want)) {
        n->best = d;
        snprintf(n->out, n->outlen, "%s", path);
    } else if (n->best == (size_t)-1 && !n->leaf_match && strcmp(k->name, n->leaf) == 0) {
        /* the right name in another section */
        n->leaf_match = true;
        snprintf(n->out, n->outlen, "%s", path);
    }
}

const char *lc__config_suggest(const char *path, const struct lc__key *table, char *out,
                               size_t outlen)
{
    const char *dot = strrchr(path, '.');
    const char *leaf = dot ? dot + 1 : path;
    size_t best = (size_t)-1;
    /* a typo of a key of the same object first */
    for (const struct lc__key *k = table; k && k->name; k++) {
        size_t d = edit_distance(leaf, k->name);
        if (d < best && d <= max_distance(leaf)) {
            best = d;
            snprintf(out, outlen, "%.*s%s", (int)(leaf - path), path, k->name);
        }
    }
    if (best != (size_t)-1)
        return out;
    struct near n = {path, leaf, (size_t)-1, false, out, outlen};
    lc__config_env_paths(near_path, &n);
    return n.best != (size_t)-1 || n.leaf_match ? out : NULL;
}

void lc__config_unknown(struct lc__walk *x, const struct lc__key *table)
{
    char hint[256];
    x->c->ops.unknown_keys++;
    if (lc__config_suggest(x->path, table, hint, sizeof(hint)))
        lc_log_warn("config: unknown key \"%s\" (ignored); did you mean \"%s\"?", x->path, hint);
    else
        lc_log_warn("config: unknown key \"%s\" (ignored)", x->path);
}
