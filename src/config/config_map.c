/* Map subscription options of a namespace (Centrifugo v6.8 "Map subscriptions"): start-up
 * checks, and the defaults a map mode implies. */
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

#define MS_S ((int64_t)1000)

bool lc_config_map_type(int t)
{
    return t == LC_SUB_TYPE_MAP || t == LC_SUB_TYPE_MAP_CLIENTS || t == LC_SUB_TYPE_MAP_USERS;
}

void lc_config_map_effective(const lc_config_t *c, const lc_ns_opts_t *ns, lc_ns_map_t *out)
{
    *out = ns->map;
    bool stream = out->mode == LC_MAP_MODE_DURABLE || out->mode == LC_MAP_MODE_PERSISTENT;
    if (!stream) {
        out->stream_size = 0;
        out->stream_ttl_ms = 0;
    } else {
        /* Centrifugo derives 100 changes kept for a minute */
        if (out->stream_size <= 0)
            out->stream_size = 100;
        if (out->stream_ttl_ms <= 0)
            out->stream_ttl_ms = 60 * MS_S;
    }
    if (out->mode == LC_MAP_MODE_PERSISTENT)
        out->key_ttl_ms = 0;
    if (out->meta_ttl_ms <= 0) {
        /* An empty channel keeps its epoch this long after its last write; a subscriber
         * coming back later takes a new snapshot. Bounded, since a subscribe to any name of
         * the namespace makes a channel. */
        out->meta_ttl_ms = 3600 * MS_S;
    }
    if (out->default_page_size <= 0)
        out->default_page_size = 100;
    if (out->min_page_size <= 0)
        out->min_page_size = 100;
    if (out->max_page_size <= 0)
        out->max_page_size = 1000;
    if (out->min_page_size > out->max_page_size)
        out->min_page_size = out->max_page_size;
    if (out->live_transition_max_publication_limit <= 0)
        out->live_transition_max_publication_limit = out->max_page_size;
    if (out->subscribe_catch_up_timeout_ms == 0)
        out->subscribe_catch_up_timeout_ms = 5 * MS_S;
    if (out->max_keys <= 0)
        out->max_keys = 10000;
    if (out->max_key_length <= 0)
        out->max_key_length = 256;
}

/* The namespace a presence prefix writes into must exist and have the matching map type. */
static int check_prefix(const lc_config_t *c, const lc_ns_opts_t *ns, const char *key,
                        const char *prefix, int want, const char *where, char *err, size_t errlen)
{
    if (!prefix || !*prefix)
        return 0;
    char probe[512];
    int n = snprintf(probe, sizeof(probe), "%sx", prefix);
    const lc_ns_opts_t *t =
        n > 0 && (size_t)n < sizeof(probe) ? lc_config_channel_opts(c, probe, (size_t)n) : NULL;
    static const char *const names[] = {"", "stream", "map", "map_clients", "map_users", ""};
    if (!t || t->subscription_type != want)
        return lc__config_fail(err, errlen,
                               "%s: %s \"%s\" must name a namespace of subscription_type \"%s\" "
                               "(prefix + channel is where the entries go)",
                               where, key, prefix, names[want]);
    (void)ns;
    return 0;
}

int lc__config_validate_ns_map(const lc_config_t *c, const lc_ns_opts_t *ns, const char *at,
                               char *err, size_t errlen)
{
    /* messages name the namespace as well as its place in the file */
    char where[320];
    snprintf(where, sizeof(where), "%s%s%s%s", at, ns->name ? " (namespace \"" : "",
             ns->name ? ns->name : "", ns->name ? "\")" : "");
    int rc = check_prefix(c, ns, "map_clients_presence_channel_prefix", ns->map_clients_prefix,
                          LC_SUB_TYPE_MAP_CLIENTS, where, err, errlen);
    if (rc == 0)
        rc = check_prefix(c, ns, "map_users_presence_channel_prefix", ns->map_users_prefix,
                          LC_SUB_TYPE_MAP_USERS, where, err, errlen);
    if (rc != 0)
        return rc;
    const lc_ns_map_t *m = &ns->map;
    if (!lc_config_map_type(ns->subscription_type)) {
        if (m->mode || m->remove_client_on_unsubscribe || m->publish_proxy || m->remove_proxy)
            return lc__config_fail(err, errlen,
                                   "%s: map options need subscription_type map, map_clients or "
                                   "map_users",
                                   where);
        return 0;
    }
    if (m->mode == LC_MAP_MODE_UNSET)
        return lc__config_fail(err, errlen,
                               "%s: map.mode is required for map subscriptions (ephemeral, "
                               "durable or persistent)",
                               where);
    if (m->mode != LC_MAP_MODE_PERSISTENT && m->key_ttl_ms <= 0)
        return lc__config_fail(err, errlen, "%s: map.key_ttl is required in %s mode", where,
                               m->mode == LC_MAP_MODE_EPHEMERAL ? "ephemeral" : "durable");
    if (m->ordered && ns->subscription_type != LC_SUB_TYPE_MAP)
        return lc__config_fail(err, errlen, "%s: map.ordered applies to subscription_type map",
                               where);
    if (ns->presence || ns->join_leave || ns->history_size > 0)
        return lc__config_fail(err, errlen,
                               "%s: presence, join_leave and history are stream options; a map "
                               "channel keeps its own state (use the map presence prefixes)",
                               where);
    const lc_proxy_conf_t *const px[2] = {m->publish_proxy, m->remove_proxy};
    for (int i = 0; i < 2; i++)
        if (px[i] &&
            (!px[i]->endpoint || !px[i]->endpoint[0] || px[i]->protocol == LC_PROXY_LARAVEL_AUTH))
            return lc__config_fail(err, errlen,
                                   "%s.map.%s_proxy_enabled: the proxy \"%s\" has no endpoint "
                                   "speaking Centrifugo's proxy protocol",
                                   where, i ? "remove" : "publish", px[i]->name);
    return 0;
}
