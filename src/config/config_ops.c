/* The operations part of the config (log output, admin UI, metrics), the secrets check of
 * `checkconfig --strict` and the effective config that `checkconfig --print` shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "util/log.h"

static const char s_empty[] = "";
static const char s_admin_prefix[] = "/admin";
static const char s_metrics_prefix[] = "/metrics";

bool lc__config_ops_static(const char *p)
{
    return p == s_empty || p == s_admin_prefix || p == s_metrics_prefix;
}

static void free_str(char **p)
{
    lc__config_free_str(*p);
    *p = NULL;
}

void lc__config_ops_defaults(lc_config_t *c)
{
    lc_ops_conf_t *o = &c->ops;
    memset(o, 0, sizeof(*o));
    o->log_file = (char *)s_empty;
    o->admin_prefix = (char *)s_admin_prefix;
    o->admin_password = (char *)s_empty;
    o->admin_secret = (char *)s_empty;
    o->prometheus_prefix = (char *)s_metrics_prefix;
}

void lc__config_ops_free(lc_config_t *c)
{
    lc_ops_conf_t *o = &c->ops;
    free_str(&o->log_file);
    free_str(&o->admin_prefix);
    free_str(&o->admin_password);
    free_str(&o->admin_secret);
    free_str(&o->prometheus_prefix);
}

static bool prefix_ok(const char *p)
{
    return p && p[0] == '/' && p[1] != '\0';
}

int lc__config_ops_validate(const lc_config_t *c, char *err, size_t errlen)
{
    const lc_ops_conf_t *o = &c->ops;
    if (o->admin_enabled && !o->admin_insecure && (!o->admin_password[0] || !o->admin_secret[0]))
        return lc__config_fail(err, errlen,
                               "admin: admin.enabled needs admin.password and admin.secret (or "
                               "admin.insecure for local use)");
    if (o->admin_enabled && !prefix_ok(o->admin_prefix))
        return lc__config_fail(err, errlen,
                               "admin.handler_prefix: must start with / and name a path");
    if (o->prometheus_enabled && !prefix_ok(o->prometheus_prefix))
        return lc__config_fail(err, errlen,
                               "prometheus.handler_prefix: must start with / and name a path");
    return 0;
}

/* ---- checkconfig --strict ---- */

static bool placeholder(const char *s)
{
    return strncasecmp(s, "change-me", 9) == 0 || strncasecmp(s, "change_me", 9) == 0 ||
           strncasecmp(s, "changeme", 8) == 0;
}

struct lint {
    char *out;
    size_t outlen, used;
    int n;
};

static void lint_one(const char *path, const char *v, void *arg)
{
    struct lint *l = arg;
    const char *why = NULL;
    if (!v || !*v)
        return;
    if (placeholder(v))
        why = "a placeholder (\"change-me...\"): generate one with `lucent genconfig`";
    else if (strlen(v) < 32)
        why = "shorter than 32 bytes";
    if (!why)
        return;
    l->n++;
    if (l->used < l->outlen) {
        int w = snprintf(l->out + l->used, l->outlen - l->used, "%s: %s\n", path, why);
        if (w > 0)
            l->used += (size_t)w < l->outlen - l->used ? (size_t)w : l->outlen - l->used - 1;
    }
}

int lc_config_lint_secrets(const lc_config_t *c, char *out, size_t outlen)
{
    struct {
        const char *path;
        const char *value;
    } secrets[] = {
        {"client.token.hmac_secret_key", c->token_hmac_secret_key},
        {"client.subscription_token.hmac_secret_key", c->sub_token_hmac_secret_key},
        {"http_api.key", c->http_api_key},
        {"admin.password", c->ops.admin_password},
        {"admin.secret", c->ops.admin_secret},
    };
    struct lint l = {.out = out, .outlen = outlen};
    if (outlen)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        lint_one(secrets[i].path, secrets[i].value, &l);
    /* Reverb's installer makes 20-character secrets: checkconfig --strict names them too */
    lc__config_pusher_secrets(c, lint_one, &l);
    return l.n;
}

/* ---- checkconfig --print ---- */

static bool is_secret(const char *name)
{
    return strstr(name, "secret") || strstr(name, "password") || strcmp(name, "key") == 0;
}

static cJSON *duration(int64_t ms)
{
    char b[32];
    if (ms < 0)
        snprintf(b, sizeof(b), "-1s");
    else if (ms % 1000 == 0)
        snprintf(b, sizeof(b), "%llds", (long long)(ms / 1000));
    else
        snprintf(b, sizeof(b), "%lldms", (long long)ms);
    return cJSON_CreateString(b);
}

/* The idx-th alternative of "a|b|c". */
static cJSON *enum_name(const char *values, int idx)
{
    const char *p = values;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p)
            p++;
    }
    if (!p)
        return cJSON_CreateNumber(idx);
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    char b[64];
    snprintf(b, sizeof(b), "%.*s", (int)n, p);
    return cJSON_CreateString(b);
}

static cJSON *dump(const lc_config_t *c, const struct lc__key *t, const void *base, bool show);

static cJSON *dump_proxy_entry(const lc_config_t *c, const struct lc__key *t,
                               const lc_proxy_conf_t *p, bool show)
{
    cJSON *o = dump(c, t, p, show);
    if (o)
        cJSON_AddStringToObject(o, "name", p->name ? p->name : "");
    return o;
}

#define AT(type, base, k) (*(const type *)(const void *)((const char *)(base) + (k)->off))

static cJSON *dump_key(const lc_config_t *c, const struct lc__key *k, const void *base, bool show)
{
    bool field = k->off != LC__NOFIELD;
    switch (k->kind) {
    case LC__K_BOOL:
        return field ? cJSON_CreateBool(AT(bool, base, k)) : NULL;
    case LC__K_INT:
        return field ? cJSON_CreateNumber(AT(int, base, k)) : NULL;
    case LC__K_I64:
        return field ? cJSON_CreateNumber((double)AT(int64_t, base, k)) : NULL;
    case LC__K_DUR:
    case LC__K_DUR_NEG:
        return field ? duration(AT(int64_t, base, k)) : NULL;
    case LC__K_STR:
    case LC__K_REGEX: {
        if (!field)
            return NULL;
        const char *s = AT(char *, base, k);
        if (s && *s && !show && is_secret(k->name))
            s = "***";
        return cJSON_CreateString(s ? s : "");
    }
    case LC__K_STRS: {
        if (!field)
            return NULL;
        char *const *v = *(char **const *)(const void *)((const char *)base + k->off);
        size_t n = *(const size_t *)(const void *)((const char *)base + k->off2);
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < n; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
        return a;
    }
    case LC__K_ENUM:
        return field ? enum_name(k->values, AT(int, base, k)) : NULL;
    case LC__K_ENUMS: {
        if (!field)
            return NULL;
        unsigned bits = AT(unsigned, base, k);
        cJSON *a = cJSON_CreateArray();
        for (int i = 0; a && i < 32; i++)
            if (bits & (1u << i))
                cJSON_AddItemToArray(a, enum_name(k->values, i));
        return a;
    }
    case LC__K_LOGLEVEL: {
        static const char *const names[] = {"trace", "debug", "info", "warn", "error", "none"};
        int l = AT(int, base, k);
        return cJSON_CreateString(l >= 0 && l <= 5 ? names[l] : "?");
    }
    case LC__K_OBJ:
        return dump(c, k->sub, base, show);
    case LC__K_NSOBJ:
    case LC__K_SUBOBJ:
        return dump(c, k->sub, (const char *)base + k->off, show);
    case LC__K_PROXY:
        return field ? dump(c, k->sub, (const char *)base + k->off, show) : NULL;
    case LC__K_NSARR: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < c->n_namespaces; i++) {
            cJSON *o = dump(c, lc__config_ns_keys, &c->namespaces[i], show);
            if (o)
                cJSON_AddStringToObject(o, "name", c->namespaces[i].name);
            cJSON_AddItemToArray(a, o ? o : cJSON_CreateObject());
        }
        return a;
    }
    case LC__K_PROXIES: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < c->n_proxies; i++)
            cJSON_AddItemToArray(a, dump_proxy_entry(c, k->sub, &c->proxies[i], show));
        return a;
    }
    case LC__K_RPCNSARR: {
        cJSON *a = cJSON_CreateArray();
        for (size_t i = 0; a && i < c->n_rpc_namespaces; i++) {
            cJSON *o = dump(c, k->sub, &c->rpc_namespaces[i], show);
            if (o)
                cJSON_AddStringToObject(o, "name", c->rpc_namespaces[i].name);
            cJSON_AddItemToArray(a, o ? o : cJSON_CreateObject());
        }
        return a;
    }
    case LC__K_PROXY_ON:
        return cJSON_CreateBool(AT(lc_proxy_conf_t *, base, k) != NULL);
    case LC__K_PROXY_NAME: {
        const lc_proxy_conf_t *p = AT(lc_proxy_conf_t *, base, k);
        return p ? cJSON_CreateString(p->name) : NULL;
    }
    case LC__K_RULES:
        return c->n_channel_rules ? cJSON_CreateString("(see the config file)") : NULL;
    case LC__K_PUSHER_APPS:
        return lc__config_pusher_dump(c, show);
    default:
        return NULL;
    }
}

static cJSON *dump(const lc_config_t *c, const struct lc__key *t, const void *base, bool show)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (const struct lc__key *k = t; k->name; k++) {
        cJSON *v = dump_key(c, k, base, show);
        if (!v)
            continue;
        if ((cJSON_IsObject(v) || cJSON_IsArray(v)) && !v->child && k->kind != LC__K_STRS &&
            k->kind != LC__K_NSARR && k->kind != LC__K_PUSHER_APPS) {
            cJSON_Delete(v);
            continue;
        }
        cJSON_AddItemToObject(o, k->name, v);
    }
    return o;
}

char *lc_config_effective_json(const lc_config_t *c, bool show_secrets)
{
    cJSON *root = dump(c, lc__config_root_keys, c, show_secrets);
    if (!root)
        return NULL;
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}
