/* Shared poll namespaces (Centrifugo v6.8 subscription_type "shared_poll"): the checks done at
 * start-up, and the refresh proxy a namespace names. Options Lucent reads but does not serve
 * stop start-up here rather than being ignored. */
#include <string.h>

#include "config/internal.h"

const lc_proxy_conf_t *lc_config_spoll_proxy(const lc_config_t *c, const lc_ns_opts_t *o)
{
    const char *name = o->shared_poll.proxy_name;
    if (!name || !name[0] || strcmp(name, "default") == 0)
        return &c->channel_proxy_shared_poll_refresh;
    for (size_t i = 0; i < c->n_proxies; i++) {
        if (c->proxies[i].name && strcmp(c->proxies[i].name, name) == 0)
            return &c->proxies[i];
    }
    return NULL;
}

int lc__config_validate_spoll(const lc_config_t *c, const lc_ns_opts_t *ns, const char *where,
                              char *err, size_t errlen)
{
    const lc_spoll_ns_t *sp = &ns->shared_poll;
    if (sp->keep_latest_data)
        return lc__config_fail(err, errlen,
                               "%s.shared_poll.keep_latest_data: a Centrifugo PRO option, not "
                               "supported by Lucent (the latest data of each tracked item is "
                               "kept anyway, for clients that start tracking it)",
                               where);
    if (!c->shared_poll.hmac_secret_key || !c->shared_poll.hmac_secret_key[0])
        return lc__config_fail(err, errlen,
                               "%s: subscription_type \"shared_poll\" needs "
                               "shared_poll.hmac_secret_key (the key that signs tracked items)",
                               where);
    const lc_proxy_conf_t *p = lc_config_spoll_proxy(c, ns);
    if (!p)
        return lc__config_fail(err, errlen,
                               "%s.shared_poll.proxy_name: no proxy named \"%s\" in proxies", where,
                               sp->proxy_name);
    if (!p->endpoint || !p->endpoint[0])
        return lc__config_fail(err, errlen,
                               "%s: subscription_type \"shared_poll\" needs a refresh proxy "
                               "endpoint (channel.proxy.shared_poll_refresh or "
                               "shared_poll.proxy_name)",
                               where);
    if (p->protocol != LC_PROXY_CENTRIFUGO)
        return lc__config_fail(err, errlen,
                               "%s.shared_poll: the refresh proxy \"%s\" must speak the "
                               "centrifugo protocol",
                               where, p->name);
    if (sp->refresh_interval_ms < 0 || sp->channel_shutdown_delay_ms < 0 ||
        sp->track_expired_extra_delay_ms < 0)
        return lc__config_fail(err, errlen, "%s.shared_poll: durations must not be negative",
                               where);
    return 0;
}
