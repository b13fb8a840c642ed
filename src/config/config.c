/* Defaults, ownership, cross-key validation, namespace resolution and the dev config. */
#include "config/config.h"

#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"
#include "util/rand.h"

/* The default strings are these arrays, never heap copies: lc__config_free_str recognises them
 * by address, so defaults cost no allocation and lc_config_defaults cannot fail. */
static const char s_empty[] = "";
static const char s_private_prefix[] = "$";
static const char s_namespace_boundary[] = ":";
static const char s_user_boundary[] = "#";
static const char s_user_separator[] = ",";
static const char s_api_prefix[] = "/api";
static const char s_ws_prefix[] = "/connection/websocket";
static const char s_health_prefix[] = "/health";
static const char s_sse_prefix[] = "/connection/sse";
static const char s_http_stream_prefix[] = "/connection/http_stream";
static const char s_emulation_prefix[] = "/emulation";
static const char s_uni_ws_prefix[] = "/connection/uni_websocket";
static const char s_uni_sse_prefix[] = "/connection/uni_sse";
static const char s_uni_http_stream_prefix[] = "/connection/uni_http_stream";
static const char s_default[] = "default";
static const char s_ping[] = "ping";
static const char s_redis_prefix[] = "centrifugo";

static const char *const s_static[] = {
    s_empty,
    s_private_prefix,
    s_namespace_boundary,
    s_user_boundary,
    s_user_separator,
    s_api_prefix,
    s_ws_prefix,
    s_health_prefix,
    s_default,
    s_ping,
    s_sse_prefix,
    s_http_stream_prefix,
    s_emulation_prefix,
    s_uni_ws_prefix,
    s_uni_sse_prefix,
    s_uni_http_stream_prefix,
    s_redis_prefix,
};

#define MS_S 1000LL

void lc__config_free_str(char *p)
{
    if (lc__config_ops_static(p) || lc__config_pusher_static(p))
        return;
    for (size_t i = 0; i < sizeof(s_static) / sizeof(s_static[0]); i++) {
        if (p == s_static[i])
            return;
    }
    free(p);
}

int lc_config_set_string(char **field, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return LC_ENOMEM;
    lc__config_free_str(*field);
    *field = copy;
    return 0;
}

void lc__config_free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void lc__config_free_ns_regex(lc_ns_opts_t *ns)
{
    if (ns->channel_re) {
        regfree(ns->channel_re);
        free(ns->channel_re);
    }
    free(ns->channel_regex);
    ns->channel_re = NULL;
    ns->channel_regex = NULL;
}

void lc__config_free_ns(lc_ns_opts_t *ns)
{
    free(ns->name);
    ns->name = NULL;
    lc__config_free_str(ns->map_clients_prefix);
    lc__config_free_str(ns->map_users_prefix);
    ns->map_clients_prefix = ns->map_users_prefix = NULL;
    lc__config_free_str(ns->shared_poll.proxy_name);
    ns->shared_poll.proxy_name = NULL;
    lc__config_free_ns_regex(ns);
}

void lc__config_proxy_init(lc_proxy_conf_t *p)
{
    memset(p, 0, sizeof(*p));
    p->name = (char *)s_default;
    p->endpoint = (char *)s_empty;
    p->timeout_ms = 1 * MS_S;
    p->protocol = LC_PROXY_CENTRIFUGO;
}

void lc__config_free_proxy(lc_proxy_conf_t *p)
{
    lc__config_free_str(p->name);
    lc__config_free_str(p->endpoint);
    lc__config_free_strs(p->http_headers, p->n_http_headers);
    lc__config_free_strs(p->emulated_headers, p->n_emulated_headers);
    lc__config_free_strs(p->static_header_names, p->n_static_headers);
    lc__config_free_strs(p->static_header_values, p->n_static_headers);
    memset(p, 0, sizeof(*p));
}

static lc_proxy_conf_t *section_proxy(lc_config_t *c, const struct lc__proxy_section *s)
{
    return (lc_proxy_conf_t *)(void *)((char *)c + s->off);
}

void lc_config_defaults(lc_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->address = (char *)s_empty;
    c->port = 8000;
    c->log_level = LC_LOG_INFO;
    c->workers = 0;

    c->token_hmac_secret_key = (char *)s_empty;
    c->ping_interval_ms = 25 * MS_S;
    c->pong_timeout_ms = 8 * MS_S;
    c->stale_close_delay_ms = 10 * MS_S;
    c->expired_close_delay_ms = 25 * MS_S;
    c->channel_limit = 128;
    c->queue_max_size = 1048576;
    c->max_queued_commands = 512;
    c->max_messages_in_frame = 16;
    c->expired_sub_close_delay_ms = 25 * MS_S;
    c->presence_update_interval_ms = 27 * MS_S;
    c->history_max_publication_limit = 300;
    c->recovery_max_publication_limit = 300;
    c->sub_token_hmac_secret_key = (char *)s_empty;
    c->personal_channel_namespace = (char *)s_empty;

    c->history_meta_ttl_ms = 720LL * 3600 * MS_S;
    c->channel_max_length = 255;
    c->private_prefix = (char *)s_private_prefix;
    c->namespace_boundary = (char *)s_namespace_boundary;
    c->user_boundary = (char *)s_user_boundary;
    c->user_separator = (char *)s_user_separator;

    c->http_api_key = (char *)s_empty;
    c->http_api_prefix = (char *)s_api_prefix;

    c->websocket_prefix = (char *)s_ws_prefix;
    c->websocket_message_size_limit = 65536;

    c->sse_prefix = (char *)s_sse_prefix;
    c->sse_max_request_body_size = 65536;
    c->http_stream_prefix = (char *)s_http_stream_prefix;
    c->http_stream_max_request_body_size = 65536;
    c->emulation_prefix = (char *)s_emulation_prefix;
    c->emulation_max_request_body_size = 65536;
    c->uni_websocket_prefix = (char *)s_uni_ws_prefix;
    c->uni_websocket_message_size_limit = 65536;
    c->uni_sse_prefix = (char *)s_uni_sse_prefix;
    c->uni_sse_max_request_body_size = 65536;
    c->uni_http_stream_prefix = (char *)s_uni_http_stream_prefix;
    c->uni_http_stream_max_request_body_size = 65536;

    c->health_prefix = (char *)s_health_prefix;
    c->node_name = (char *)s_empty;

    c->http_max_header_size = 16384;
    c->http_max_body_size = 1048576;
    c->http_read_header_timeout_ms = 10 * MS_S;
    c->http_read_body_timeout_ms = 30 * MS_S;
    c->http_idle_timeout_ms = 60 * MS_S;
    c->http_max_output_buffer = 262144;
    c->websocket_handshake_timeout_ms = 10 * MS_S;
    c->websocket_max_fragments = 128;
    c->http_tls_cert = (char *)s_empty;
    c->http_tls_key = (char *)s_empty;
    c->http_tls_client_ca = (char *)s_empty;

    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++)
        lc__config_proxy_init(section_proxy(c, s));
    c->rpc_namespace_boundary = (char *)s_namespace_boundary;
    c->rpc_ping_method = (char *)s_ping;
    c->http_api_exclude_client_field = (char *)s_empty;
    c->shared_poll.hmac_secret_key = (char *)s_empty;
    c->shared_poll.hmac_previous_secret_key = (char *)s_empty;
    c->lua_instruction_budget = 10000000;
    c->lua_memory_limit = (int64_t)64 * 1024 * 1024;
    c->lua_time_limit_ms = 1000;
    lc__config_ops_defaults(c);
    lc__config_pusher_defaults(c);

    c->redis.prefix = (char *)s_redis_prefix;
    c->redis.user = (char *)s_empty;
    c->redis.password = (char *)s_empty;
    c->redis.sentinel_master_name = (char *)s_empty;
    c->redis.sentinel_user = (char *)s_empty;
    c->redis.sentinel_password = (char *)s_empty;
    c->redis.connect_timeout_ms = 1 * MS_S;
    c->redis.io_timeout_ms = 4 * MS_S;
    c->redis.presence_ttl_ms = 60 * MS_S;
    c->map_cleanup_interval_ms = 1 * MS_S;
    c->map_cleanup_batch_size = 100;
    c->map_idempotent_result_ttl_ms = 300 * MS_S;
}

static void free_token_conf(lc_token_conf_t *t)
{
    char **strs[] = {&t->rsa_public_key, &t->ecdsa_public_key, &t->jwks_public_endpoint,
                     &t->audience,       &t->audience_regex,   &t->issuer,
                     &t->issuer_regex};
    regex_t **res[] = {&t->audience_re, &t->issuer_re};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        lc__config_free_str(*strs[i]);
        *strs[i] = NULL;
    }
    for (size_t i = 0; i < 2; i++) {
        if (*res[i] != NULL) {
            regfree(*res[i]);
            free(*res[i]);
            *res[i] = NULL;
        }
    }
}

void lc_config_free(lc_config_t *c)
{
    char **strs[] = {&c->address,
                     &c->token_hmac_secret_key,
                     &c->private_prefix,
                     &c->namespace_boundary,
                     &c->user_boundary,
                     &c->user_separator,
                     &c->http_api_key,
                     &c->http_api_prefix,
                     &c->websocket_prefix,
                     &c->sse_prefix,
                     &c->http_stream_prefix,
                     &c->emulation_prefix,
                     &c->uni_websocket_prefix,
                     &c->uni_sse_prefix,
                     &c->uni_http_stream_prefix,
                     &c->health_prefix,
                     &c->node_name,
                     &c->sub_token_hmac_secret_key,
                     &c->personal_channel_namespace,
                     &c->rpc_namespace_boundary,
                     &c->rpc_ping_method,
                     &c->http_api_exclude_client_field,
                     &c->shared_poll.hmac_secret_key,
                     &c->shared_poll.hmac_previous_secret_key,
                     &c->lua_script,
                     &c->http_tls_cert,
                     &c->http_tls_key,
                     &c->http_tls_client_ca,

                     &c->redis.prefix,
                     &c->redis.user,
                     &c->redis.password,
                     &c->redis.sentinel_master_name,
                     &c->redis.sentinel_user,
                     &c->redis.sentinel_password};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        lc__config_free_str(*strs[i]);
        *strs[i] = NULL;
    }
    free_token_conf(&c->token);
    free_token_conf(&c->sub_token);
    lc__config_free_strs(c->allowed_origins, c->n_allowed_origins);
    c->allowed_origins = NULL;
    c->n_allowed_origins = 0;
    lc__config_free_strs(c->redis.addresses, c->redis.n_addresses);
    lc__config_free_strs(c->redis.sentinel_addresses, c->redis.n_sentinel_addresses);
    lc__config_free_strs(c->redis.cluster_addresses, c->redis.n_cluster_addresses);
    c->redis.addresses = c->redis.sentinel_addresses = c->redis.cluster_addresses = NULL;
    c->redis.n_addresses = c->redis.n_sentinel_addresses = c->redis.n_cluster_addresses = 0;
    lc__config_free_strs(c->map_redis_addresses, c->n_map_redis_addresses);
    c->map_redis_addresses = NULL;
    c->n_map_redis_addresses = 0;
    lc__config_free_strs(c->lua_path, c->n_lua_path);
    lc__config_free_strs(c->trace_users, c->n_trace_users);
    c->trace_users = NULL;
    c->n_trace_users = 0;
    c->lua_path = NULL;
    c->n_lua_path = 0;
    lc__config_free_ns(&c->without_namespace);
    for (size_t i = 0; i < c->n_namespaces; i++)
        lc__config_free_ns(&c->namespaces[i]);
    free(c->namespaces);
    c->namespaces = NULL;
    c->n_namespaces = 0;
    lc__config_free_rules(c->channel_rules, c->n_channel_rules);
    c->channel_rules = NULL;
    c->n_channel_rules = 0;
    /* the options above only borrowed these */
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++)
        lc__config_free_proxy(section_proxy(c, s));
    for (size_t i = 0; i < c->n_proxies; i++)
        lc__config_free_proxy(&c->proxies[i]);
    free(c->proxies);
    c->proxies = NULL;
    c->n_proxies = 0;
    for (size_t i = 0; i < c->n_rpc_namespaces; i++)
        free(c->rpc_namespaces[i].name);
    free(c->rpc_namespaces);
    c->rpc_namespaces = NULL;
    c->n_rpc_namespaces = 0;
    c->rpc_without_namespace.proxy = NULL;
    lc__config_ops_free(c);
    lc__config_pusher_free(c);
}

int lc__config_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LC_EINVAL;
}

/* Spec §6.2 startup checks for one namespace; where names it in messages. */
static int validate_ns(const lc_config_t *c, const lc_ns_opts_t *ns, const char *where, char *err,
                       size_t errlen)
{
    bool has_size = ns->history_size > 0, has_ttl = ns->history_ttl_ms > 0;
    if (has_size != has_ttl)
        return lc__config_fail(err, errlen, "%s: history_size and history_ttl must be set together",
                               where);
    bool history = has_size && has_ttl;
    if (!history && (ns->force_positioning || ns->allow_positioning))
        return lc__config_fail(
            err, errlen, "%s: positioning needs history (history_size and history_ttl)", where);
    if (!history && (ns->force_recovery || ns->allow_recovery))
        return lc__config_fail(err, errlen,
                               "%s: recovery needs history (history_size and history_ttl)", where);
    int64_t meta = ns->history_meta_ttl_ms > 0 ? ns->history_meta_ttl_ms : c->history_meta_ttl_ms;
    if (history && meta > 0 && ns->history_ttl_ms > meta)
        return lc__config_fail(err, errlen, "%s: history_ttl must not exceed history_meta_ttl",
                               where);
    /* map, map_clients, map_users: their `map` options (config_map.c) */
    int mrc = lc__config_validate_ns_map(c, ns, where, err, errlen);
    if (mrc != 0)
        return mrc;
    if (ns->subscription_type == LC_SUB_TYPE_SHARED_POLL) {
        /* shared_poll: its options, refresh proxy and HMAC key (config_spoll.c) */
        int rc = lc__config_validate_spoll(c, ns, where, err, errlen);
        if (rc)
            return rc;
    }
    if (ns->channel_regex && !ns->channel_re)
        return lc__config_fail(
            err, errlen, "%s.channel_regex: not compiled (set it with lc_config_set_channel_regex)",
            where);
    return lc__config_validate_ns_proxies(ns, where, err, errlen);
}

/* The options a rule's channels start from, when the pattern fixes the namespace: a literal
 * beginning that contains the namespace boundary (after the private prefix), or a pattern
 * that is all literal. NULL when the namespace depends on what the pattern matches. */
static bool rule_base(const lc_config_t *c, const struct lc_channel_rule *r, lc_ns_opts_t *out)
{
    const struct lc__tok *t = &r->toks[0];
    if (t->kind != LC__TOK_LIT)
        return false;
    const char *text = r->lit + t->off;
    size_t len = t->len;
    if (r->ntoks > 1) {
        size_t plen = c->private_prefix ? strlen(c->private_prefix) : 0;
        size_t skip = plen && len >= plen && memcmp(text, c->private_prefix, plen) == 0 ? plen : 0;
        size_t blen = strlen(c->namespace_boundary);
        const char *b = memmem(text + skip, len - skip, c->namespace_boundary, blen);
        if (!b || b == text + skip)
            return false;
    }
    const lc_ns_opts_t *ns = lc_config_channel_opts(c, text, len);
    if (ns)
        *out = *ns;
    else
        memset(out, 0, sizeof(*out));
    return true;
}

static bool rule_sets(const struct lc_channel_rule *r, const char *key)
{
    const struct lc__key *k = lc__config_key_find(lc__config_ns_keys, key);
    return (r->set >> (k - lc__config_ns_keys)) & 1;
}

/* The §6.2 checks on the options a rule's channels get, when the namespace is known from the
 * pattern; otherwise on what the rule alone can get wrong (history half set, ttl over meta). */
static int validate_rule(const lc_config_t *c, const struct lc_channel_rule *r, size_t i, char *err,
                         size_t errlen)
{
    char where[64];
    lc_ns_opts_t o;
    snprintf(where, sizeof(where), "channels[%zu]", i);
    if (rule_base(c, r, &o)) {
        lc__config_rule_overlay(&o, r);
        return validate_ns(c, &o, where, err, errlen);
    }
    bool size = rule_sets(r, "history_size"), ttl = rule_sets(r, "history_ttl");
    if (size != ttl)
        return lc__config_fail(err, errlen,
                               "%s: history_size and history_ttl must be set together (the pattern "
                               "does not fix the namespace)",
                               where);
    int64_t meta =
        r->opts.history_meta_ttl_ms > 0 ? r->opts.history_meta_ttl_ms : c->history_meta_ttl_ms;
    if (ttl && meta > 0 && r->opts.history_ttl_ms > meta)
        return lc__config_fail(err, errlen, "%s: history_ttl must not exceed history_meta_ttl",
                               where);
    return 0;
}

/* The transport's limits and TLS: what cannot work stops start-up (checkconfig too). */
static int validate_transport(const lc_config_t *c, char *err, size_t errlen)
{
    if (c->http_max_output_buffer <= 0)
        return lc__config_fail(err, errlen,
                               "http_server.max_output_buffer: must be greater than 0");
    if (c->http_tls_autocert)
        return lc__config_fail(err, errlen,
                               "http_server.tls_autocert: automatic certificates (ACME) are not "
                               "supported; set http_server.tls.cert_pem and key_pem, or terminate "
                               "TLS in a proxy in front");
    if (!c->http_tls_enabled)
        return 0;
    if (c->http_tls_client_ca && c->http_tls_client_ca[0])
        return lc__config_fail(err, errlen,
                               "http_server.tls.client_ca_pem: client certificates are not "
                               "supported");
    const char *what[2] = {c->http_tls_cert, c->http_tls_key};
    const char *name[2] = {"cert_pem", "key_pem"};
    for (int i = 0; i < 2; i++) {
        if (!what[i] || !what[i][0])
            return lc__config_fail(err, errlen, "http_server.tls.%s: required when tls is enabled",
                                   name[i]);
        if (strncmp(what[i], "-----BEGIN", 10) == 0)
            continue; /* PEM text */
        FILE *f = fopen(what[i], "rbe");
        /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
        // NOLINTBEGIN(concurrency-mt-unsafe)
        if (!f)
            return lc__config_fail(err, errlen, "http_server.tls.%s: cannot read %s: %s", name[i],
                                   what[i], strerror(errno));
        // NOLINTEND(concurrency-mt-unsafe)
        fclose(f);
    }
    return 0;
}

/* map_broker against the engine: map channels must be where every node sees them. The Redis
 * map broker is served over the engine's own Redis connections, so map_broker.redis may only
 * name the same addresses. */
static int validate_map_broker(const lc_config_t *c, char *err, size_t errlen)
{
    bool redis = c->engine_type == LC_ENGINE_REDIS;
    if (c->map_broker_type == LC_MAP_BROKER_REDIS && !redis)
        return lc__config_fail(err, errlen,
                               "map_broker.type: map_broker redis needs engine.type redis (the "
                               "Redis map broker uses the engine's Redis connections)");
    if (c->map_broker_type == LC_MAP_BROKER_MEMORY && redis)
        return lc__config_fail(err, errlen,
                               "map_broker.type: memory with engine.type redis: map channels "
                               "would live on one node only (leave map_broker unset or use redis)");
    if (c->n_map_redis_addresses == 0)
        return 0;
    if (!redis)
        return lc__config_fail(err, errlen,
                               "map_broker.redis: the Redis map broker needs engine.type redis");
    const lc_redis_conf_t *r = &c->redis;
    bool same = r->n_addresses == c->n_map_redis_addresses;
    for (size_t i = 0; same && i < r->n_addresses; i++)
        same = strcmp(r->addresses[i], c->map_redis_addresses[i]) == 0;
    if (!same) {
        char mine[256] = "", engine[256] = "";
        for (size_t i = 0; i < c->n_map_redis_addresses; i++)
            snprintf(mine + strlen(mine), sizeof(mine) - strlen(mine), "%s%s", i ? "," : "",
                     c->map_redis_addresses[i]);
        for (size_t i = 0; i < r->n_addresses; i++)
            snprintf(engine + strlen(engine), sizeof(engine) - strlen(engine), "%s%s", i ? "," : "",
                     r->addresses[i]);
        return lc__config_fail(err, errlen,
                               "map_broker.redis.address \"%s\" differs from engine.redis.address "
                               "\"%s\": the Redis map broker uses the engine's Redis (a separate "
                               "one is not supported)",
                               mine, r->n_addresses ? engine : "127.0.0.1:6379");
    }
    return 0;
}

int lc_config_validate(const lc_config_t *c, char *err, size_t errlen)
{
    if (c->ping_interval_ms == 0)
        return lc__config_fail(err, errlen,
                               "client.ping_interval: must be positive (a negative value "
                               "disables pings)");
    if (c->ping_interval_ms > 0 && c->pong_timeout_ms > 0 &&
        c->ping_interval_ms <= c->pong_timeout_ms)
        return lc__config_fail(err, errlen,
                               "client.ping_interval: must be greater than client.pong_timeout");
    if (c->websocket_message_size_limit <= 0)
        return lc__config_fail(err, errlen, "websocket.message_size_limit: must be greater than 0");
    if (c->queue_max_size <= 0)
        return lc__config_fail(err, errlen, "client.queue_max_size: must be greater than 0");
    if (c->max_messages_in_frame == 0)
        return lc__config_fail(err, errlen,
                               "client.max_messages_in_frame: must be positive or -1 (no limit)");
    if (c->http_max_header_size <= 0)
        return lc__config_fail(err, errlen, "http_server.max_header_size: must be greater than 0");
    if (c->http_max_body_size <= 0)
        return lc__config_fail(err, errlen, "http_server.max_body_size: must be greater than 0");
    int trc = validate_transport(c, err, errlen);
    if (trc)
        return trc;
    if (!c->namespace_boundary || !c->namespace_boundary[0])
        return lc__config_fail(err, errlen, "channel.namespace_boundary: must not be empty");
    if (!c->user_boundary || !c->user_boundary[0])
        return lc__config_fail(err, errlen, "channel.user_boundary: must not be empty");
    if (!c->user_separator || !c->user_separator[0])
        return lc__config_fail(err, errlen, "channel.user_separator: must not be empty");
    if (c->presence_update_interval_ms <= 0)
        return lc__config_fail(err, errlen,
                               "client.presence_update_interval: must be greater than 0");
    const char *pns = c->personal_channel_namespace;
    if (c->personal_channel_enabled && pns && pns[0]) {
        bool found = false;
        for (size_t i = 0; i < c->n_namespaces && !found; i++)
            found = strcmp(c->namespaces[i].name, pns) == 0;
        if (!found)
            return lc__config_fail(
                err, errlen,
                "client.subscribe_to_user_personal_channel.personal_channel_namespace: "
                "namespace \"%s\" is not defined in channel.namespaces",
                pns);
    }

    if (c->engine_type == LC_ENGINE_REDIS) {
        const lc_redis_conf_t *r = &c->redis;
        if (r->n_cluster_addresses > 0)
            return lc__config_fail(err, errlen,
                                   "engine.redis.cluster_address: Redis Cluster is not supported "
                                   "yet (use several engine.redis.address shards or Sentinel)");
        if (r->history_use_lists)
            return lc__config_fail(err, errlen,
                                   "engine.redis.history_use_lists: not supported yet (history is "
                                   "kept in Redis streams)");
        if (r->n_sentinel_addresses > 0 && !r->sentinel_master_name[0])
            return lc__config_fail(err, errlen,
                                   "engine.redis.sentinel_master_name: required with "
                                   "engine.redis.sentinel_address");
        if (r->n_sentinel_addresses > 0 && r->n_addresses > 0)
            return lc__config_fail(
                err, errlen, "engine.redis: give either address or sentinel_address, not both");
        if (r->presence_ttl_ms < 1000)
            return lc__config_fail(err, errlen, "engine.redis.presence_ttl: at least 1s");
        if (r->connect_timeout_ms <= 0 || r->io_timeout_ms <= 0)
            return lc__config_fail(err, errlen,
                                   "engine.redis: connect_timeout and io_timeout must be positive");
    }

    int rc = validate_map_broker(c, err, errlen);
    if (rc)
        return rc;
    rc = lc__config_ops_validate(c, err, errlen);
    if (rc)
        return rc;
    rc = lc__config_pusher_validate(c, err, errlen);
    if (rc)
        return rc;
    rc = lc__config_validate_proxies(c, err, errlen);
    if (rc)
        return rc;
    rc = validate_ns(c, &c->without_namespace, "channel.without_namespace", err, errlen);
    if (rc)
        return rc;
    for (size_t i = 0; i < c->n_namespaces; i++) {
        char where[64];
        snprintf(where, sizeof(where), "channel.namespaces[%zu]", i);
        rc = validate_ns(c, &c->namespaces[i], where, err, errlen);
        if (rc)
            return rc;
    }
    for (size_t i = 0; i < c->n_channel_rules; i++) {
        rc = validate_rule(c, &c->channel_rules[i], i, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

const char *lc_config_sub_token_secret(const lc_config_t *c)
{
    return c->sub_token_enabled ? c->sub_token_hmac_secret_key : c->token_hmac_secret_key;
}

const lc_token_conf_t *lc_config_sub_token(const lc_config_t *c)
{
    return c->sub_token_enabled ? &c->sub_token : &c->token;
}

const lc_ns_opts_t *lc_config_channel_opts(const lc_config_t *c, const char *channel, size_t len)
{
    size_t plen = c->private_prefix ? strlen(c->private_prefix) : 0;
    if (plen && len >= plen && memcmp(channel, c->private_prefix, plen) == 0) {
        channel += plen;
        len -= plen;
    }
    size_t blen = c->namespace_boundary ? strlen(c->namespace_boundary) : 0;
    const char *b = blen ? memmem(channel, len, c->namespace_boundary, blen) : NULL;
    /* No boundary, or an empty part before it, is the channel without namespace, as in
     * Centrifugo's namespaceName(). */
    if (!b || b == channel)
        return &c->without_namespace;
    size_t nlen = (size_t)(b - channel);
    for (size_t i = 0; i < c->n_namespaces; i++) {
        const char *name = c->namespaces[i].name;
        if (strlen(name) == nlen && memcmp(name, channel, nlen) == 0)
            return &c->namespaces[i];
    }
    return NULL;
}

int lc_config_dev(lc_config_t *c)
{
    char secret[65], key[65];
    int rc = LC_ENOMEM;
    lc_config_defaults(c);
    lc_random_hex(secret, 32);
    lc_random_hex(key, 32);
    /* Loopback only: a development server with "*" origins and printed secrets must not be
     * reachable from the network (CENTRIFUGO_HTTP_SERVER_ADDRESS overrides it). */
    if (lc_config_set_string(&c->token_hmac_secret_key, secret) ||
        lc_config_set_string(&c->http_api_key, key) ||
        lc_config_set_string(&c->address, "127.0.0.1"))
        goto fail;
    /* Dev only: any page may connect, so a demo opened from any local port works. */
    c->allowed_origins = calloc(1, sizeof(char *));
    if (!c->allowed_origins)
        goto fail;
    c->allowed_origins[0] = strdup("*");
    if (!c->allowed_origins[0])
        goto fail;
    c->n_allowed_origins = 1;
    c->health_enabled = true;
    c->without_namespace.allow_subscribe_for_client = true;
    c->without_namespace.allow_publish_for_client = true;
    c->without_namespace.presence = false;
    /* A script given through CENTRIFUGO_LUA_SCRIPT reloads on save. */
    c->lua_watch = true;
    return 0;
fail:
    lc_config_free(c);
    lc_config_defaults(c);
    return rc;
}
