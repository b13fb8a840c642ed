/* Proxies after the walk (spec §5.4): resolving the names that namespaces, rules and rpc
 * namespaces use, validating every proxy, warnings for options that are read but not applied,
 * and the rpc namespace of a method. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"

#define CF(f) offsetof(lc_config_t, f)

const struct lc__proxy_section lc__config_proxy_sections[] = {
    {"client.proxy.connect", CF(connect_proxy), -1},
    {"client.proxy.refresh", CF(refresh_proxy), -1},
    {"channel.proxy.subscribe", CF(channel_proxy_subscribe), LC__USE_SUBSCRIBE},
    {"channel.proxy.publish", CF(channel_proxy_publish), LC__USE_PUBLISH},
    {"channel.proxy.sub_refresh", CF(channel_proxy_sub_refresh), LC__USE_SUB_REFRESH},
    {"rpc.proxy", CF(rpc_proxy), LC__USE_RPC},
    /* named by a shared_poll namespace's proxy_name (config_spoll.c), not by the references */
    {"channel.proxy.shared_poll_refresh", CF(channel_proxy_shared_poll_refresh), -1},
    {NULL, 0, -1},
};

static const lc_proxy_conf_t *section_of(const lc_config_t *c, const struct lc__proxy_section *s)
{
    return (const lc_proxy_conf_t *)(const void *)((const char *)c + s->off);
}

/* The section proxy that "default" means for a use. */
static const struct lc__proxy_section *default_section(int use)
{
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++) {
        if (s->use == use)
            return s;
    }
    return NULL;
}

static const char *const use_option[] = {
    [LC__USE_SUBSCRIBE] = "subscribe",
    [LC__USE_PUBLISH] = "publish",
    [LC__USE_SUB_REFRESH] = "sub_refresh",
    [LC__USE_RPC] = "rpc",
};

bool lc__config_name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char ch = s[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.';
        if (!ok)
            return false;
    }
    return n >= 2;
}

/* ---- references ---- */

static struct lc__proxy_ref *ref_find(struct lc__proxy_refs *r, const lc_proxy_conf_t **slot)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->v[i].slot == slot)
            return &r->v[i];
    }
    return NULL;
}

static void ref_free(struct lc__proxy_ref *f)
{
    free(f->name);
    free(f->enabled_path);
    free(f->name_path);
}

int lc__config_ref_set(struct lc__proxy_refs *r, const lc_proxy_conf_t **slot, int use,
                       bool in_rule, const char *path, const bool *enabled, const char *name)
{
    struct lc__proxy_ref *f = ref_find(r, slot);
    if (!f) {
        if (r->n == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            struct lc__proxy_ref *v = realloc(r->v, cap * sizeof(*v));
            if (!v)
                return LC_ENOMEM;
            r->v = v;
            r->cap = cap;
        }
        f = &r->v[r->n++];
        memset(f, 0, sizeof(*f));
        f->slot = slot;
        f->use = use;
        f->in_rule = in_rule;
    }
    char *p = strdup(path), *n = name ? strdup(name) : NULL;
    if (!p || (name && !n)) {
        free(p);
        free(n);
        return LC_ENOMEM;
    }
    if (enabled) {
        free(f->enabled_path);
        f->enabled_path = p;
        f->enabled = *enabled;
        f->has_enabled = true;
    } else {
        free(f->name_path);
        f->name_path = p;
        free(f->name);
        f->name = n;
    }
    return 0;
}

void lc__config_refs_drop(struct lc__proxy_refs *r, const void *lo, size_t size)
{
    uintptr_t a = (uintptr_t)lo, b = a + size;
    size_t o = 0;
    for (size_t i = 0; i < r->n; i++) {
        uintptr_t s = (uintptr_t)r->v[i].slot;
        if (s >= a && s < b)
            ref_free(&r->v[i]);
        else
            r->v[o++] = r->v[i];
    }
    r->n = o;
}

void lc__config_refs_free(struct lc__proxy_refs *r)
{
    for (size_t i = 0; i < r->n; i++)
        ref_free(&r->v[i]);
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* A slot that points into old gets a reference by the proxy's name (unless the file being
 * loaded already set one) and is cleared until resolution. */
static int rebind(struct lc__proxy_refs *r, const lc_proxy_conf_t **slot, int use, bool in_rule,
                  const lc_proxy_conf_t *old, size_t n_old)
{
    uintptr_t s = (uintptr_t)*slot, a = (uintptr_t)old;
    if (!*slot || n_old == 0 || s < a || s >= a + n_old * sizeof(*old))
        return 0;
    const char *name = (*slot)->name;
    bool on = true;
    *slot = NULL;
    struct lc__proxy_ref *f = ref_find(r, slot);
    if (f && f->name)
        return 0;
    /* read before ref_set, which may move the references */
    bool had_enabled = f && f->has_enabled;
    if (lc__config_ref_set(r, slot, use, in_rule, "proxies", NULL, name) != 0)
        return LC_ENOMEM;
    if (had_enabled)
        return 0;
    return lc__config_ref_set(r, slot, use, in_rule, "proxies", &on, NULL);
}

static int rebind_ns(struct lc__proxy_refs *r, lc_ns_opts_t *o, bool in_rule,
                     const lc_proxy_conf_t *old, size_t n_old)
{
    if (rebind(r, &o->subscribe_proxy, LC__USE_SUBSCRIBE, in_rule, old, n_old) ||
        rebind(r, &o->publish_proxy, LC__USE_PUBLISH, in_rule, old, n_old) ||
        rebind(r, &o->sub_refresh_proxy, LC__USE_SUB_REFRESH, in_rule, old, n_old))
        return LC_ENOMEM;
    return 0;
}

int lc__config_proxies_replaced(lc_config_t *c, struct lc__proxy_refs *r,
                                const lc_proxy_conf_t *old, size_t n_old)
{
    if (n_old == 0)
        return 0;
    int rc = rebind_ns(r, &c->without_namespace, false, old, n_old);
    for (size_t i = 0; rc == 0 && i < c->n_namespaces; i++)
        rc = rebind_ns(r, &c->namespaces[i], false, old, n_old);
    for (size_t i = 0; rc == 0 && i < c->n_channel_rules; i++)
        rc = rebind_ns(r, &c->channel_rules[i].opts, true, old, n_old);
    if (rc == 0)
        rc = rebind(r, &c->rpc_without_namespace.proxy, LC__USE_RPC, false, old, n_old);
    for (size_t i = 0; rc == 0 && i < c->n_rpc_namespaces; i++)
        rc = rebind(r, &c->rpc_namespaces[i].proxy, LC__USE_RPC, false, old, n_old);
    return rc;
}

static int resolve_one(lc_config_t *c, const struct lc__proxy_ref *f, char *err, size_t errlen)
{
    const char *name = f->name && f->name[0] ? f->name : "default";
    const char *opt = use_option[f->use];
    const lc_proxy_conf_t *p = NULL;
    char where[160];

    /* A rule's options replace the namespace's, so a name alone would silently turn the
     * proxy off for the rule's channels. */
    if (f->in_rule && f->name && !f->has_enabled)
        return lc__config_fail(err, errlen,
                               "%s: a rule that sets %s_proxy_name must also set %s_proxy_enabled",
                               f->name_path, opt, opt);
    const struct lc__proxy_section *s = default_section(f->use);
    if (strcmp(name, "default") == 0) {
        p = section_of(c, s);
        snprintf(where, sizeof(where), "%s", s->path);
    }
    for (size_t i = 0; !p && i < c->n_proxies; i++) {
        if (strcmp(c->proxies[i].name, name) == 0) {
            p = &c->proxies[i];
            snprintf(where, sizeof(where), "proxies[%zu]", i);
        }
    }
    if (!p)
        return lc__config_fail(err, errlen, "%s: %s proxy \"%s\" is not defined in proxies",
                               f->name_path, opt, name);
    /* the previous state when this load does not say (an option loaded earlier) */
    bool on = f->has_enabled ? f->enabled : *f->slot != NULL;
    if (!on) {
        *f->slot = NULL;
        return 0;
    }
    const char *path = f->enabled_path ? f->enabled_path : f->name_path;
    if (!p->endpoint[0])
        return lc__config_fail(err, errlen,
                               "%s: the %s proxy \"%s\" has no endpoint (set %s.endpoint)", path,
                               opt, name, where);
    if (p->protocol == LC_PROXY_LARAVEL_AUTH && f->use != LC__USE_SUBSCRIBE)
        return lc__config_fail(
            err, errlen,
            "%s: proxy \"%s\" uses protocol \"laravel_auth\", which only answers "
            "subscribe requests",
            f->name_path ? f->name_path : path, name);
    *f->slot = p;
    return 0;
}

int lc__config_refs_resolve(lc_config_t *c, struct lc__proxy_refs *r, char *err, size_t errlen)
{
    for (size_t i = 0; i < r->n; i++) {
        int rc = resolve_one(c, &r->v[i], err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- warnings ---- */

static bool tls_enabled(const cJSON *obj)
{
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(obj, "tls");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(tls, "enabled"));
}

void lc__config_proxy_warn(const char *path, const struct cJSON *obj)
{
    const cJSON *http = cJSON_GetObjectItemCaseSensitive(obj, "http");
    const cJSON *grpc = cJSON_GetObjectItemCaseSensitive(obj, "grpc");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "grpc_metadata");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(http, "status_to_code_transforms");
    if (cJSON_GetArraySize(md) > 0)
        lc_log_warn("config: \"%s.grpc_metadata\" is ignored: gRPC proxies are not supported",
                    path);
    if (cJSON_GetArraySize(grpc) > 0)
        lc_log_warn("config: \"%s.grpc\" is ignored: gRPC proxies are not supported", path);
    if (tls_enabled(http))
        lc_log_warn("config: \"%s.http.tls\": TLS client options are not supported yet and are "
                    "ignored",
                    path);
    if (cJSON_GetArraySize(tr) > 0)
        lc_log_warn("config: \"%s.http.status_to_code_transforms\" is not applied yet: any "
                    "answer other than 200 is an internal error (100) for the client",
                    path);
}

/* ---- validation ---- */

static int validate_proxy(const lc_proxy_conf_t *p, const char *where, bool named, int use,
                          char *err, size_t errlen)
{
    const char *e = p->endpoint ? p->endpoint : "";
    if (named && !e[0])
        return lc__config_fail(err, errlen, "%s.endpoint: required for a named proxy", where);
    if (e[0]) {
        size_t scheme = strncasecmp(e, "http://", 7) == 0    ? 7
                        : strncasecmp(e, "https://", 8) == 0 ? 8
                                                             : 0;
        if (strncasecmp(e, "grpc://", 7) == 0)
            return lc__config_fail(
                err, errlen,
                "%s.endpoint: gRPC proxies are not supported (use an http:// or https:// "
                "endpoint)",
                where);
        if (!scheme || !e[scheme] || e[scheme] == '/')
            return lc__config_fail(err, errlen, "%s.endpoint: expected an http:// or https:// URL",
                                   where);
    }
    if (p->timeout_ms <= 0)
        return lc__config_fail(err, errlen, "%s.timeout: must be greater than 0", where);
    if (p->protocol == LC_PROXY_LARAVEL_AUTH && !named && use != LC__USE_SUBSCRIBE)
        return lc__config_fail(
            err, errlen, "%s.protocol: \"laravel_auth\" is only supported for subscribe proxies",
            where);
    if (p->protocol != LC_PROXY_CENTRIFUGO && p->protocol != LC_PROXY_LARAVEL_AUTH)
        return lc__config_fail(err, errlen, "%s.protocol: expected one of centrifugo, laravel_auth",
                               where);
    return 0;
}

int lc__config_validate_proxies(const lc_config_t *c, char *err, size_t errlen)
{
    int rc;
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++) {
        rc = validate_proxy(section_of(c, s), s->path, false, s->use, err, errlen);
        if (rc)
            return rc;
    }
    if (c->connect_proxy_enabled && !c->connect_proxy.endpoint[0])
        return lc__config_fail(err, errlen, "client.proxy.connect: enabled without an endpoint");
    if (c->refresh_proxy_enabled && !c->refresh_proxy.endpoint[0])
        return lc__config_fail(err, errlen, "client.proxy.refresh: enabled without an endpoint");
    for (size_t i = 0; i < c->n_proxies; i++) {
        char where[64];
        const char *name = c->proxies[i].name;
        snprintf(where, sizeof(where), "proxies[%zu]", i);
        if (!name || !lc__config_name_ok(name) || strcmp(name, "default") == 0)
            return lc__config_fail(err, errlen,
                                   "%s.name: expected a name matching ^[-a-zA-Z0-9_.]{2,}$ "
                                   "other than \"default\"",
                                   where);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->proxies[j].name, name) == 0)
                return lc__config_fail(err, errlen, "%s.name: duplicate proxy name \"%s\"", where,
                                       name);
        }
        rc = validate_proxy(&c->proxies[i], where, true, -1, err, errlen);
        if (rc)
            return rc;
    }
    if (!c->rpc_namespace_boundary || !c->rpc_namespace_boundary[0])
        return lc__config_fail(err, errlen, "rpc.namespace_boundary: must not be empty");
    if (c->rpc_ping_enabled && (!c->rpc_ping_method || !c->rpc_ping_method[0]))
        return lc__config_fail(err, errlen,
                               "rpc.ping.method: must not be empty when rpc.ping is enabled");
    const lc_proxy_conf_t *rp = c->rpc_without_namespace.proxy;
    if (rp && (!rp->endpoint[0] || rp->protocol != LC_PROXY_CENTRIFUGO))
        return lc__config_fail(err, errlen,
                               "rpc.without_namespace: the rpc proxy needs an endpoint and the "
                               "centrifugo protocol");
    for (size_t i = 0; i < c->n_rpc_namespaces; i++) {
        const lc_rpc_ns_t *ns = &c->rpc_namespaces[i];
        if (!ns->name || !lc__config_name_ok(ns->name))
            return lc__config_fail(err, errlen,
                                   "rpc.namespaces[%zu].name: expected a string matching "
                                   "^[-a-zA-Z0-9_.]{2,}$",
                                   i);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->rpc_namespaces[j].name, ns->name) == 0)
                return lc__config_fail(err, errlen,
                                       "rpc.namespaces[%zu].name: duplicate rpc namespace "
                                       "\"%s\"",
                                       i, ns->name);
        }
        if (ns->proxy && (!ns->proxy->endpoint[0] || ns->proxy->protocol != LC_PROXY_CENTRIFUGO))
            return lc__config_fail(
                err, errlen,
                "rpc.namespaces[%zu]: the rpc proxy needs an endpoint and the centrifugo "
                "protocol",
                i);
    }
    return 0;
}

int lc__config_validate_ns_proxies(const lc_ns_opts_t *ns, const char *where, char *err,
                                   size_t errlen)
{
    const lc_proxy_conf_t *const p[] = {ns->subscribe_proxy, ns->publish_proxy,
                                        ns->sub_refresh_proxy};
    for (int use = LC__USE_SUBSCRIBE; use <= LC__USE_SUB_REFRESH; use++) {
        if (!p[use])
            continue;
        if (!p[use]->endpoint || !p[use]->endpoint[0])
            return lc__config_fail(err, errlen,
                                   "%s.%s_proxy_enabled: the proxy \"%s\" has no endpoint", where,
                                   use_option[use], p[use]->name);
        if (p[use]->protocol == LC_PROXY_LARAVEL_AUTH && use != LC__USE_SUBSCRIBE)
            return lc__config_fail(
                err, errlen,
                "%s.%s_proxy_name: proxy \"%s\" uses protocol \"laravel_auth\", which "
                "only answers subscribe requests",
                where, use_option[use], p[use]->name);
    }
    return 0;
}

/* ---- lookup ---- */

const lc_rpc_ns_t *lc_config_rpc_ns(const lc_config_t *c, const char *method)
{
    const char *b = c->rpc_namespace_boundary;
    const char *at = b && b[0] ? strstr(method, b) : NULL;
    /* No boundary, or nothing before it, is the method without namespace (as in Centrifugo). */
    if (!at || at == method)
        return &c->rpc_without_namespace;
    size_t n = (size_t)(at - method);
    for (size_t i = 0; i < c->n_rpc_namespaces; i++) {
        const char *name = c->rpc_namespaces[i].name;
        if (strlen(name) == n && memcmp(name, method, n) == 0)
            return &c->rpc_namespaces[i];
    }
    return NULL;
}
