/* Loading a config: walking the v6 key tables over the parsed JSON, mapping the flat keys of
 * older configs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "config/config_walk.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

int lc__walk_bad(struct lc__walk *x, const char *fmt, ...)
{
    if (x->err && x->errlen) {
        int n = snprintf(x->err, x->errlen, "%s: ", x->path);
        if (n >= 0 && (size_t)n < x->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return LC_EINVAL;
}

int lc__walk_nomem(struct lc__walk *x)
{
    if (x->err && x->errlen)
        snprintf(x->err, x->errlen, "%s: out of memory", x->path);
    return LC_ENOMEM;
}

void *lc__walk_new_array(struct lc__walk *x, const cJSON *v, size_t elem, const char *what, int *rc)
{
    if (!cJSON_IsArray(v)) {
        *rc = lc__walk_bad(x, "expected an array of %s", what);
        return NULL;
    }
    size_t n = (size_t)cJSON_GetArraySize(v);
    void *a = calloc(n ? n : 1, elem);
    if (!a)
        *rc = lc__walk_nomem(x);
    return a;
}

/* Append ".key" (or "key" at the root) to the path; returns the mark to restore. Paths too
 * long for the buffer are truncated, which only shortens messages. */
size_t lc__walk_key(struct lc__walk *x, const char *key)
{
    size_t mark = x->plen;
    int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "%s%s", x->plen ? "." : "", key);
    if (n > 0)
        x->plen +=
            (size_t)n < sizeof(x->path) - x->plen ? (size_t)n : sizeof(x->path) - 1 - x->plen;
    return mark;
}

size_t lc__walk_index(struct lc__walk *x, size_t i)
{
    size_t mark = x->plen;
    int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "[%zu]", i);
    if (n > 0)
        x->plen +=
            (size_t)n < sizeof(x->path) - x->plen ? (size_t)n : sizeof(x->path) - 1 - x->plen;
    return mark;
}

void lc__walk_restore(struct lc__walk *x, size_t mark)
{
    x->plen = mark;
    x->path[mark] = '\0';
}

int lc__walk_record(struct lc__walk *x)
{
    if (!x->record)
        return 0;
    if (x->nset == x->capset) {
        size_t cap = x->capset ? x->capset * 2 : 32;
        char **n = realloc(x->set, cap * sizeof(*n));
        if (!n)
            return lc__walk_nomem(x);
        x->set = n;
        x->capset = cap;
    }
    x->set[x->nset] = strdup(x->path);
    if (!x->set[x->nset])
        return lc__walk_nomem(x);
    x->nset++;
    return 0;
}

static bool was_set(const struct lc__walk *x, const char *path)
{
    for (size_t i = 0; i < x->nset; i++) {
        if (strcmp(x->set[i], path) == 0)
            return true;
    }
    return false;
}

static bool get_int(const cJSON *v, int64_t min, int64_t max, int64_t *out)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    if (!(d >= -9.2e18 && d <= 9.2e18))
        return false;
    int64_t n = (int64_t)d;
    if ((double)n != d || n < min || n > max)
        return false;
    *out = n;
    return true;
}

/* values is "a|b|c"; an empty alternative ("|a", "a|") admits "". The index of the match,
 * or -1. */
static int enum_index(const char *values, const char *s)
{
    size_t n = strlen(s);
    int i = 0;
    for (const char *p = values;; i++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, s, n) == 0)
            return i;
        if (!bar)
            return -1;
        p = bar + 1;
    }
}

static int bad_enum(struct lc__walk *x, const char *values)
{
    char list[256];
    size_t o = 0;
    for (const char *p = values; *p && o + 3 < sizeof(list); p++) {
        if (*p != '|') {
            list[o++] = *p;
        } else if (o > 0 && p[1] != '\0') {
            list[o++] = ',';
            list[o++] = ' ';
        }
    }
    list[o] = '\0';
    return lc__walk_bad(x, "expected one of %s", list);
}

static bool is_string_array(const cJSON *v)
{
    const cJSON *e;
    if (!cJSON_IsArray(v))
        return false;
    cJSON_ArrayForEach(e, v)
    {
        if (!cJSON_IsString(e))
            return false;
    }
    return true;
}

static int set_strings(struct lc__walk *x, char ***slot, size_t *count, const cJSON *v)
{
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    char **arr = calloc(n ? n : 1, sizeof(*arr));
    const cJSON *e;
    if (!arr)
        return lc__walk_nomem(x);
    cJSON_ArrayForEach(e, v)
    {
        arr[i] = strdup(e->valuestring);
        if (!arr[i]) {
            lc__config_free_strs(arr, i);
            return lc__walk_nomem(x);
        }
        i++;
    }
    lc__config_free_strs(*slot, *count);
    *slot = arr;
    *count = n;
    return 0;
}

static int load_namespaces(struct lc__walk *x, const cJSON *v);
static int load_rules(struct lc__walk *x, const cJSON *v);

static int apply(struct lc__walk *x, const struct lc__key *k, void *base, const cJSON *v)
{
    bool store = k->off != LC__NOFIELD;
    int64_t n;
    int urc = lc__config_unsupported(x, x->path, k, v);
    if (urc)
        return urc;
    switch (k->kind) {
    case LC__K_BOOL:
        if (!cJSON_IsBool(v))
            return lc__walk_bad(x, "expected true or false");
        if (store)
            *LC__FIELD(bool, base, k) = cJSON_IsTrue(v);
        break;
    case LC__K_INT:
    case LC__K_I64:
        if (!get_int(v, k->min, k->max, &n)) {
            if (k->max == INT64_MAX)
                return lc__walk_bad(x, "expected an integer >= %lld", (long long)k->min);
            return lc__walk_bad(x, "expected an integer from %lld to %lld", (long long)k->min,
                                (long long)k->max);
        }
        if (store && k->kind == LC__K_INT)
            *LC__FIELD(int, base, k) = (int)n;
        else if (store)
            *LC__FIELD(int64_t, base, k) = n;
        break;
    case LC__K_DUR:
    case LC__K_DUR_NEG:
        /* Centrifugo v6 takes durations only as strings; a bare number is ambiguous
         * (seconds? nanoseconds?) and is refused. */
        /* "-1" (no unit) switches off what a DUR_NEG key times, as Centrifugo's docs write it */
        if (cJSON_IsString(v) && k->kind == LC__K_DUR_NEG && strcmp(v->valuestring, "-1") == 0)
            n = -1;
        else if (!cJSON_IsString(v) || lc_duration_parse(v->valuestring, &n) != 0)
            return lc__walk_bad(x, "expected a duration string like \"25s\"");
        if (n < 0 && k->kind == LC__K_DUR)
            return lc__walk_bad(x, "expected a non-negative duration string like \"25s\"");
        if (store)
            *LC__FIELD(int64_t, base, k) = n < 0 ? -1 : n;
        break;
    case LC__K_STR:
        if (!cJSON_IsString(v))
            return lc__walk_bad(x, "expected a string");
        if (store && lc_config_set_string(LC__FIELD(char *, base, k), v->valuestring) != 0)
            return lc__walk_nomem(x);
        break;
    case LC__K_REGEX: {
        char msg[200];
        if (!cJSON_IsString(v))
            return lc__walk_bad(x, "expected a string");
        int rc = lc_config_set_channel_regex(base, v->valuestring, msg, sizeof(msg));
        if (rc == LC_EINVAL)
            return lc__walk_bad(x, "%s", msg);
        if (rc)
            return lc__walk_nomem(x);
        break;
    }
    case LC__K_STRS:
        if (!is_string_array(v))
            return lc__walk_bad(x, "expected an array of strings");
        if (store) {
            size_t *count = (size_t *)(void *)((char *)base + k->off2);
            int rc = set_strings(x, LC__FIELD(char **, base, k), count, v);
            if (rc)
                return rc;
        }
        break;
    case LC__K_STR_STRS:
        if (!cJSON_IsString(v) && !is_string_array(v))
            return lc__walk_bad(x, "expected a string or an array of strings");
        if (store) {
            size_t *count = (size_t *)(void *)((char *)base + k->off2);
            cJSON *arr = cJSON_IsString(v) ? cJSON_CreateArray() : NULL;
            if (arr && v->valuestring[0] &&
                !cJSON_AddItemToArray(arr, cJSON_CreateString(v->valuestring))) {
                cJSON_Delete(arr);
                return lc__walk_nomem(x);
            }
            if (cJSON_IsString(v) && !arr)
                return lc__walk_nomem(x);
            int rc = set_strings(x, LC__FIELD(char **, base, k), count, arr ? arr : v);
            cJSON_Delete(arr);
            if (rc)
                return rc;
        }
        break;
    case LC__K_ENUM: {
        int idx = cJSON_IsString(v) ? enum_index(k->values, v->valuestring) : -1;
        if (idx < 0)
            return bad_enum(x, k->values);
        if (store)
            *LC__FIELD(int, base, k) = v->valuestring[0] ? idx : 0;
        break;
    }
    case LC__K_ENUMS: {
        const cJSON *e;
        unsigned bits = 0;
        if (!cJSON_IsArray(v))
            return lc__walk_bad(x, "expected an array of strings");
        cJSON_ArrayForEach(e, v)
        {
            int idx = cJSON_IsString(e) ? enum_index(k->values, e->valuestring) : -1;
            if (idx < 0)
                return lc__walk_bad(x, "expected an array with elements from: %s", k->values);
            bits |= 1u << idx;
        }
        if (store)
            *LC__FIELD(unsigned, base, k) = bits;
        break;
    }
    case LC__K_LOGLEVEL: {
        int level = cJSON_IsString(v) ? lc_log_level_parse(v->valuestring) : -1;
        if (level < 0)
            return lc__walk_bad(x, "expected one of trace, debug, info, warn, error, none");
        if (store)
            *LC__FIELD(int, base, k) = level;
        break;
    }
    case LC__K_OBJ:
        if (!cJSON_IsObject(v))
            return lc__walk_bad(x, "expected an object");
        return lc__walk_object(x, k->sub, base, v, LC__WALK_PLAIN);
    case LC__K_NSOBJ:
        if (!cJSON_IsObject(v))
            return lc__walk_bad(x, "expected an object");
        return lc__walk_object(x, lc__config_ns_keys, (char *)base + k->off, v, LC__WALK_NS);
    case LC__K_SUBOBJ:
        if (!cJSON_IsObject(v))
            return lc__walk_bad(x, "expected an object");
        return lc__walk_object(x, k->sub, (char *)base + k->off, v, LC__WALK_PLAIN);
    case LC__K_NSARR: {
        int rc = load_namespaces(x, v);
        if (rc)
            return rc;
        break;
    }
    case LC__K_RULES: {
        int rc = load_rules(x, v);
        if (rc)
            return rc;
        break;
    }
    case LC__K_PROXY:
        return lc__walk_proxy(x, k, base, v);
    case LC__K_PROXIES:
        return lc__walk_proxies(x, k, v);
    case LC__K_RPCNSARR:
        return lc__walk_rpc_namespaces(x, k, v);
    case LC__K_PUSHER_APPS:
        return lc__walk_pusher_apps(x, k, v);
    case LC__K_PROXY_ENABLED:
        return lc__walk_proxy_enabled(x, base, v);
    case LC__K_HEADERS:
        return lc__walk_static_headers(x, base, v);
    case LC__K_PROXY_ON:
    case LC__K_PROXY_NAME: {
        bool on = cJSON_IsTrue(v);
        if (k->kind == LC__K_PROXY_ON && !cJSON_IsBool(v))
            return lc__walk_bad(x, "expected true or false");
        if (k->kind == LC__K_PROXY_NAME && !cJSON_IsString(v))
            return lc__walk_bad(x, "expected a proxy name string");
        const lc_proxy_conf_t **slot = LC__FIELD(const lc_proxy_conf_t *, base, k);
        if (lc__config_ref_set(&x->refs, slot, (int)k->min, x->in_rule, x->path,
                               k->kind == LC__K_PROXY_ON ? &on : NULL,
                               k->kind == LC__K_PROXY_NAME ? v->valuestring : NULL) != 0)
            return lc__walk_nomem(x);
        break;
    }
    case LC__K_FALSE:
        if (!cJSON_IsBool(v))
            return lc__walk_bad(x, "expected true or false");
        if (cJSON_IsTrue(v))
            return lc__walk_bad(x, "%s", k->values);
        break;
    case LC__K_ANYOBJ:
        if (!cJSON_IsObject(v))
            return lc__walk_bad(x, "expected an object");
        break;
    case LC__K_ANYARR:
        if (!cJSON_IsArray(v))
            return lc__walk_bad(x, "expected an array");
        break;
    case LC__K_ANY:
        break;
    }
    return lc__walk_record(x);
}

/* A v5 namespace option inside a namespace object: mapped to its v6 name unless the object
 * also has the v6 name. */
static int apply_ns_legacy(struct lc__walk *x, void *base, const cJSON *obj, const char *v6,
                           const cJSON *v)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, v6)) {
        lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"; ignored because \"%s\" is also "
                    "set",
                    x->path, v6, v6);
        return 0;
    }
    lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"", x->path, v6);
    return apply(x, lc__config_key_find(lc__config_ns_keys, v6), base, v);
}

int lc__walk_object(struct lc__walk *x, const struct lc__key *table, void *base, const cJSON *obj,
                    enum lc__walk_mode mode)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        size_t mark = lc__walk_key(x, it->string);
        const struct lc__key *k = lc__config_key_find(table, it->string);
        bool ns = mode == LC__WALK_NS || mode == LC__WALK_NS_ENTRY;
        const char *v6 = ns ? lc__config_ns_legacy_find(it->string) : NULL;
        int rc = 0;
        if (k)
            rc = apply(x, k, base, it);
        else if (v6)
            rc = apply_ns_legacy(x, base, obj, v6, it);
        else if ((mode != LC__WALK_NS_ENTRY && mode != LC__WALK_ENTRY) ||
                 strcmp(it->string, "name") != 0)
            lc__config_unknown(x, table);
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
    }
    return 0;
}

static int load_namespaces(struct lc__walk *x, const cJSON *v)
{
    lc_config_t *c = x->c;
    int rc = 0;
    lc_ns_opts_t *ns = lc__walk_new_array(x, v, sizeof(*ns), "namespace objects", &rc);
    if (!ns)
        return rc;
    /* Install the new array at once: on a later error the config still owns everything. */
    lc__config_refs_drop(&x->refs, c->namespaces, c->n_namespaces * sizeof(*ns));
    for (size_t i = 0; i < c->n_namespaces; i++)
        lc__config_free_ns(&c->namespaces[i]);
    free(c->namespaces);
    c->namespaces = ns;
    c->n_namespaces = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        size_t mark = lc__walk_index(x, i);
        if (!cJSON_IsObject(e))
            return lc__walk_bad(x, "expected an object");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        size_t mark_name = lc__walk_key(x, "name");
        if (!cJSON_IsString(name) || !lc__config_name_ok(name->valuestring))
            return lc__walk_bad(x, "expected a string matching ^[-a-zA-Z0-9_.]{2,}$");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ns[j].name, name->valuestring) == 0)
                return lc__walk_bad(x, "duplicate namespace \"%s\"", name->valuestring);
        }
        lc__walk_restore(x, mark_name);
        ns[i].name = strdup(name->valuestring);
        if (!ns[i].name)
            return lc__walk_nomem(x);
        c->n_namespaces = i + 1;
        rc = lc__walk_object(x, lc__config_ns_keys, &ns[i], e, LC__WALK_NS_ENTRY);
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
        i++;
    }
    return 0;
}

/* Options a rule may set besides those of §6.2, and the option each stands for. */
static const char *const rule_alias[][2] = {
    {"subscribe", "allow_subscribe_for_client"},
    {"publish", "allow_publish_for_client"},
};

static int walk_rule(struct lc__walk *x, struct lc_channel_rule *r, const cJSON *obj)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        if (strcmp(it->string, "name") == 0)
            continue;
        size_t mark = lc__walk_key(x, it->string);
        const char *name = it->string;
        for (size_t i = 0; i < sizeof(rule_alias) / sizeof(rule_alias[0]); i++) {
            if (strcmp(name, rule_alias[i][0]) == 0)
                name = rule_alias[i][1];
        }
        const struct lc__key *k = lc__config_key_find(lc__config_ns_keys, name);
        if (!k) {
            lc__config_unknown(x, lc__config_ns_keys);
        } else {
            uint64_t bit = (uint64_t)1 << (k - lc__config_ns_keys);
            if (k->off != LC__NOFIELD && (r->set & bit))
                return lc__walk_bad(x, "\"%s\" is already set by this rule", name);
            int rc = apply(x, k, &r->opts, it);
            if (rc)
                return rc;
            if (k->off != LC__NOFIELD)
                r->set |= bit;
        }
        lc__walk_restore(x, mark);
    }
    /* In a rule, "join_leave": true means the room's subscribers receive join and leave —
     * server-side subscribers included, which cannot ask for them — as if
     * force_push_join_leave, unless the rule sets that itself. */
    const struct lc__key *jl = lc__config_key_find(lc__config_ns_keys, "join_leave");
    const struct lc__key *fp = lc__config_key_find(lc__config_ns_keys, "force_push_join_leave");
    uint64_t jl_bit = (uint64_t)1 << (jl - lc__config_ns_keys);
    uint64_t fp_bit = (uint64_t)1 << (fp - lc__config_ns_keys);
    if ((r->set & jl_bit) && r->opts.join_leave && !(r->set & fp_bit)) {
        r->opts.force_push_join_leave = true;
        r->set |= fp_bit;
    }
    return 0;
}

static int load_rules(struct lc__walk *x, const cJSON *v)
{
    lc_config_t *c = x->c;
    int rc = 0;
    struct lc_channel_rule *r = lc__walk_new_array(x, v, sizeof(*r), "channel rule objects", &rc);
    if (!r)
        return rc;
    lc__config_refs_drop(&x->refs, c->channel_rules, c->n_channel_rules * sizeof(*r));
    lc__config_free_rules(c->channel_rules, c->n_channel_rules);
    c->channel_rules = r;
    c->n_channel_rules = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        char msg[128];
        size_t mark = lc__walk_index(x, i);
        if (!cJSON_IsObject(e))
            return lc__walk_bad(x, "expected an object");
        c->n_channel_rules = i + 1;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        size_t mark_name = lc__walk_key(x, "name");
        if (!cJSON_IsString(name))
            return lc__walk_bad(x, "expected a channel pattern string");
        rc = lc__config_rule_compile(&r[i], name->valuestring, msg, sizeof(msg));
        if (rc == LC_EINVAL)
            return lc__walk_bad(x, "%s", msg);
        if (rc)
            return lc__walk_nomem(x);
        lc__walk_restore(x, mark_name);
        x->in_rule = true;
        rc = walk_rule(x, &r[i], e);
        x->in_rule = false;
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
        i++;
    }
    return 0;
}

static int apply_v6(struct lc__walk *x, const char *v6, const cJSON *v)
{
    void *base = NULL;
    const struct lc__key *k = lc__config_resolve(x->c, v6, &base);
    if (!k)
        return lc__walk_bad(x, "internal error: no v6 key \"%s\"", v6);
    int rc = lc__config_unsupported(x, v6, k, v);
    return rc ? rc : apply(x, k, base, v);
}

/* A flat key with a single v6 home; enable (may be NULL) is a switch that a non-empty value
 * turns on as well, unless the file sets that switch itself. */
static int apply_legacy(struct lc__walk *x, const char *old, const char *v6, const char *enable,
                        const cJSON *v)
{
    if (was_set(x, v6)) {
        lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"; ignored because \"%s\" is also "
                    "set",
                    old, v6, v6);
        return 0;
    }
    if (enable)
        lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\" with \"%s\": true", old, v6,
                    enable);
    else
        lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"", old, v6);
    int rc = apply_v6(x, v6, v);
    if (rc || !enable || !cJSON_IsString(v) || !v->valuestring[0] || was_set(x, enable))
        return rc;
    cJSON on;
    memset(&on, 0, sizeof(on));
    on.type = cJSON_True;
    return apply_v6(x, enable, &on);
}

/* A flat option of every proxy (proxy_http_headers, ...): set in each section proxy that does
 * not set it in the file. */
static int apply_legacy_each(struct lc__walk *x, const char *old, const char *key, const cJSON *v)
{
    lc_log_warn("config: \"%s\" is a pre-v6 key, use the \"%s\" of each proxy (applied to every "
                "proxy section that does not set it)",
                old, key);
    for (const struct lc__proxy_section *s = lc__config_proxy_sections; s->path; s++) {
        char v6[128];
        snprintf(v6, sizeof(v6), "%s.%s", s->path, key);
        if (was_set(x, v6))
            continue;
        int rc = apply_v6(x, v6, v);
        if (rc)
            return rc;
    }
    return 0;
}

enum root_class { ROOT_V6, ROOT_LEGACY, ROOT_LEGACY_NS, ROOT_UNKNOWN };

/* Some names are both a v6 section and a flat key of older versions ("admin": true,
 * "engine": "redis", "health": true): the value's type decides. */
static enum root_class classify(const cJSON *it, const struct lc__key **k,
                                const struct lc__legacy **l)
{
    *k = lc__config_key_find(lc__config_root_keys, it->string);
    *l = lc__config_legacy_find(it->string);
    if (*k && !(*l && (*k)->kind == LC__K_OBJ && !cJSON_IsObject(it)))
        return ROOT_V6;
    if (*l)
        return ROOT_LEGACY;
    if (lc__config_key_find(lc__config_ns_keys, it->string) ||
        lc__config_ns_legacy_find(it->string))
        return ROOT_LEGACY_NS;
    return ROOT_UNKNOWN;
}

/* Two passes: v6 keys first (recording what they set), then flat keys, so that the v6 key
 * wins whatever the order in the file. */
static int walk_root(struct lc__walk *x, const cJSON *root)
{
    const cJSON *it;
    const struct lc__key *k;
    const struct lc__legacy *l;
    int rc = 0;

    x->record = true;
    cJSON_ArrayForEach(it, root)
    {
        size_t mark = lc__walk_key(x, it->string);
        enum root_class cls = classify(it, &k, &l);
        if (cls == ROOT_V6)
            rc = apply(x, k, x->c, it);
        else if (cls == ROOT_UNKNOWN)
            lc__config_unknown(x, lc__config_root_keys);
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
    }

    x->record = false;
    cJSON_ArrayForEach(it, root)
    {
        char v6[128];
        size_t mark = lc__walk_key(x, it->string);
        enum root_class cls = classify(it, &k, &l);
        if (cls == ROOT_LEGACY && l->each) {
            rc = apply_legacy_each(x, it->string, l->each, it);
        } else if (cls == ROOT_LEGACY && !l->v6) {
            lc_log_warn("config: \"%s\" is a pre-v6 key, use %s (ignored)", it->string, l->hint);
        } else if (cls == ROOT_LEGACY) {
            rc = apply_legacy(x, it->string, l->v6, l->enable, it);
        } else if (cls == ROOT_LEGACY_NS) {
            /* v5 names of namespace options (proxy_subscribe) are renamed as well */
            const char *renamed = lc__config_ns_legacy_find(it->string);
            snprintf(v6, sizeof(v6), "channel.without_namespace.%s",
                     renamed ? renamed : it->string);
            rc = apply_legacy(x, it->string, v6, NULL, it);
        }
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
    }
    return 0;
}

/* audience_regex and issuer_regex of both token kinds, compiled once here (a bad expression
 * stops the load naming the key). */
static int compile_token_regexes(lc_config_t *c, char *err, size_t errlen)
{
    struct {
        const char *key;
        const char *src;
        regex_t **out;
    } res[] = {
        {"client.token.audience_regex", c->token.audience_regex, &c->token.audience_re},
        {"client.token.issuer_regex", c->token.issuer_regex, &c->token.issuer_re},
        {"client.subscription_token.audience_regex", c->sub_token.audience_regex,
         &c->sub_token.audience_re},
        {"client.subscription_token.issuer_regex", c->sub_token.issuer_regex,
         &c->sub_token.issuer_re},
    };

    for (size_t i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
        char msg[160] = "";
        int rc;
        if (*res[i].out != NULL) {
            regfree(*res[i].out);
            free(*res[i].out);
            *res[i].out = NULL;
        }
        if ((rc = lc_config_compile_regex(res[i].src, res[i].out, msg, sizeof(msg))) != 0)
            return rc == LC_EINVAL ? lc__config_fail(err, errlen, "%s: %s", res[i].key, msg) : rc;
    }
    return 0;
}

int lc__config_load_tree(lc_config_t *c, const cJSON *root, char *err, size_t errlen)
{
    struct lc__walk x = {.c = c, .err = err, .errlen = errlen};
    int rc = walk_root(&x, root);
    if (rc == 0)
        rc = lc__config_refs_resolve(c, &x.refs, err, errlen);
    if (rc == 0)
        rc = compile_token_regexes(c, err, errlen);
    if (rc == 0)
        rc = lc_config_validate(c, err, errlen);
    for (size_t i = 0; i < x.nset; i++)
        free(x.set[i]);
    free(x.set);
    lc__config_refs_free(&x.refs);
    return rc;
}

int lc_config_load_string(lc_config_t *c, const char *json, size_t len, char *err, size_t errlen)
{
    cJSON *root = NULL;
    if (err && errlen)
        err[0] = '\0';
    int rc = lc__config_parse(json, len, &root, err, errlen);
    if (rc == 0)
        rc = lc__config_load_tree(c, root, err, errlen);
    cJSON_Delete(root);
    return rc;
}
