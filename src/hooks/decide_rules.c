/* The namespace rules of the decision pipeline (decide.h) that need no step of their own:
 * user-limited channels and the subscribe permissions, shared with unidirectional connects. */
#include "hooks/decide.h"

#include <string.h>

static bool anon_ok(const char *user, bool allow_anonymous)
{
    return user[0] || allow_anonymous;
}

bool lc__decide_has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    return pl > 0 && len >= pl && memcmp(s, prefix, pl) == 0;
}

/* User-limited channel (`dialog#42,43`): is the user among those after the last boundary? */
bool lc__decide_user_listed(const lc_config_t *cfg, const char *user, const char *ch, size_t len)
{
    const char *ub = cfg->user_boundary;
    const char *sep = cfg->user_separator;
    if (!ub || !*ub || !user[0])
        return false;
    size_t ubl = strlen(ub), sepl = sep ? strlen(sep) : 0;
    const char *last = NULL;
    for (const char *p = ch; p + ubl <= ch + len; p++)
        if (memcmp(p, ub, ubl) == 0)
            last = p;
    if (!last)
        return false;
    const char *p = last + ubl, *end = ch + len;
    size_t ul = strlen(user);
    while (p <= end) {
        const char *q = p;
        while (q < end && !(sepl && (size_t)(end - q) >= sepl && memcmp(q, sep, sepl) == 0))
            q++;
        if ((size_t)(q - p) == ul && memcmp(p, user, ul) == 0)
            return true;
        if (q >= end)
            break;
        p = q + sepl;
    }
    return false;
}

bool lc_decide_user_limited(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *ch,
                            size_t len)
{
    const char *ub = cfg->user_boundary;
    return ns->allow_user_limited_channels && ub && *ub && memmem(ch, len, ub, strlen(ub));
}

bool lc_decide_subscribe_rules(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *user,
                               const char *ch, size_t len)
{
    bool limited = lc_decide_user_limited(cfg, ns, ch, len);
    if (limited && lc__decide_user_listed(cfg, user, ch, len))
        return true;
    if (!limited && ns->allow_subscribe_for_client &&
        anon_ok(user, ns->allow_subscribe_for_anonymous))
        return true;
    return cfg->client_insecure;
}
