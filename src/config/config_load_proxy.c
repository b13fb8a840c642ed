/* Reading the proxy sections of a config: Proxy objects, the named proxies[], rpc namespaces,
 * http.static_headers. Names of proxies are resolved after the walk (config_proxy.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "config/config_walk.h"
#include "util/err.h"
#include "util/log.h"

/* "enabled" of a Proxy object: only client.proxy.connect and refresh have one; the other
 * proxies are used where a namespace (or rpc namespace) enables them. */
int lc__walk_proxy_enabled(struct lc__walk *x, lc_proxy_conf_t *p, const cJSON *v)
{
    if (!cJSON_IsBool(v))
        return lc__walk_bad(x, "expected true or false");
    if (p == &x->c->connect_proxy)
        x->c->connect_proxy_enabled = cJSON_IsTrue(v);
    else if (p == &x->c->refresh_proxy)
        x->c->refresh_proxy_enabled = cJSON_IsTrue(v);
    else
        lc_log_warn("config: \"%s\" is ignored: this proxy is used where a namespace enables it "
                    "(subscribe_proxy_enabled, publish_proxy_enabled, sub_refresh_proxy_enabled, "
                    "rpc proxy_enabled)",
                    x->path);
    return lc__walk_record(x);
}

/* An HTTP header name is a token (RFC 9110); a value must not break the header line. */
static bool header_name_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 32 || ch >= 127 || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

int lc__walk_static_headers(struct lc__walk *x, lc_proxy_conf_t *p, const cJSON *v)
{
    if (!cJSON_IsObject(v))
        return lc__walk_bad(x, "expected an object of header names to string values");
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    char **names = calloc(n ? n : 1, sizeof(*names));
    char **values = calloc(n ? n : 1, sizeof(*values));
    const cJSON *e;
    int rc = 0;
    if (!names || !values) {
        rc = lc__walk_nomem(x);
        goto fail;
    }
    cJSON_ArrayForEach(e, v)
    {
        size_t mark = lc__walk_key(x, e->string);
        if (!header_name_ok(e->string)) {
            rc = lc__walk_bad(x, "not a valid HTTP header name");
            goto fail;
        }
        if (!cJSON_IsString(e) || strpbrk(e->valuestring, "\r\n")) {
            rc = lc__walk_bad(x, "expected a string without line breaks");
            goto fail;
        }
        lc__walk_restore(x, mark);
        names[i] = strdup(e->string);
        values[i] = strdup(e->valuestring);
        i++;
        if (!names[i - 1] || !values[i - 1]) {
            rc = lc__walk_nomem(x);
            goto fail;
        }
    }
    lc__config_free_strs(p->static_header_names, p->n_static_headers);
    lc__config_free_strs(p->static_header_values, p->n_static_headers);
    p->static_header_names = names;
    p->static_header_values = values;
    p->n_static_headers = n;
    return lc__walk_record(x);
fail:
    if (names)
        lc__config_free_strs(names, i);
    if (values)
        lc__config_free_strs(values, i);
    return rc;
}

/* A Proxy object at k->off of base; the sections Lucent does not use (off LC__NOFIELD) are
 * read into a scratch proxy, so that their values are checked all the same. */
int lc__walk_proxy(struct lc__walk *x, const struct lc__key *k, void *base, const cJSON *v)
{
    lc_proxy_conf_t scratch;
    bool unused = k->off == LC__NOFIELD;
    lc_proxy_conf_t *p = unused ? &scratch : LC__FIELD(lc_proxy_conf_t, base, k);
    if (!cJSON_IsObject(v))
        return lc__walk_bad(x, "expected an object");
    if (unused)
        lc__config_proxy_init(&scratch);
    int rc = lc__walk_object(x, k->sub, p, v, LC__WALK_PLAIN);
    if (unused)
        lc__config_free_proxy(&scratch);
    else if (rc == 0)
        lc__config_proxy_warn(x->path, v);
    return rc;
}

/* An entry's "name" (proxies[], rpc.namespaces[]): a string matching the name rule. */
static int entry_name(struct lc__walk *x, const cJSON *e, const char **out)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    size_t mark = lc__walk_key(x, "name");
    *out = ""; /* never NULL for the callers, even on a path the analyzer cannot rule out */
    if (!cJSON_IsString(name) || !lc__config_name_ok(name->valuestring))
        return lc__walk_bad(x, "expected a string matching ^[-a-zA-Z0-9_.]{2,}$");
    lc__walk_restore(x, mark);
    *out = name->valuestring;
    return 0;
}

int lc__walk_proxies(struct lc__walk *x, const struct lc__key *k, const cJSON *v)
{
    lc_config_t *c = x->c;
    int rc = 0;
    lc_proxy_conf_t *p = lc__walk_new_array(x, v, sizeof(*p), "proxy objects", &rc);
    if (!p)
        return rc;
    /* Options loaded earlier may point into the old array: re-reference them by name. */
    if (lc__config_proxies_replaced(c, &x->refs, c->proxies, c->n_proxies) != 0) {
        free(p);
        return lc__walk_nomem(x);
    }
    for (size_t i = 0; i < c->n_proxies; i++)
        lc__config_free_proxy(&c->proxies[i]);
    free(c->proxies);
    c->proxies = p;
    c->n_proxies = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        const char *name = NULL;
        size_t mark = lc__walk_index(x, i);
        if (!cJSON_IsObject(e))
            return lc__walk_bad(x, "expected an object");
        rc = entry_name(x, e, &name);
        if (rc)
            return rc;
        if (strcmp(name, "default") == 0) {
            lc__walk_key(x, "name");
            return lc__walk_bad(x, "\"default\" is reserved for the section proxies "
                                   "(channel.proxy.*, rpc.proxy)");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(p[j].name, name) == 0) {
                lc__walk_key(x, "name");
                return lc__walk_bad(x, "duplicate proxy name \"%s\"", name);
            }
        }
        lc__config_proxy_init(&p[i]);
        c->n_proxies = i + 1;
        if (lc_config_set_string(&p[i].name, name) != 0)
            return lc__walk_nomem(x);
        rc = lc__walk_object(x, k->sub, &p[i], e, LC__WALK_ENTRY);
        if (rc)
            return rc;
        lc__config_proxy_warn(x->path, e);
        lc__walk_restore(x, mark);
        i++;
    }
    return 0;
}

int lc__walk_rpc_namespaces(struct lc__walk *x, const struct lc__key *k, const cJSON *v)
{
    lc_config_t *c = x->c;
    int rc = 0;
    lc_rpc_ns_t *ns = lc__walk_new_array(x, v, sizeof(*ns), "rpc namespace objects", &rc);
    if (!ns)
        return rc;
    lc__config_refs_drop(&x->refs, c->rpc_namespaces, c->n_rpc_namespaces * sizeof(*ns));
    for (size_t i = 0; i < c->n_rpc_namespaces; i++)
        free(c->rpc_namespaces[i].name);
    free(c->rpc_namespaces);
    c->rpc_namespaces = ns;
    c->n_rpc_namespaces = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        const char *name = NULL;
        size_t mark = lc__walk_index(x, i);
        if (!cJSON_IsObject(e))
            return lc__walk_bad(x, "expected an object");
        rc = entry_name(x, e, &name);
        if (rc)
            return rc;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ns[j].name, name) == 0) {
                lc__walk_key(x, "name");
                return lc__walk_bad(x, "duplicate rpc namespace \"%s\"", name);
            }
        }
        ns[i].name = strdup(name);
        if (!ns[i].name)
            return lc__walk_nomem(x);
        c->n_rpc_namespaces = i + 1;
        rc = lc__walk_object(x, k->sub, &ns[i], e, LC__WALK_ENTRY);
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
        i++;
    }
    return 0;
}
