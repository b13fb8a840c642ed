/* Loading a JSON config: comments, parsing, walking the v6 key tables, mapping the flat keys
 * of older configs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/config_int.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define MAX_FILE_SIZE (16u << 20)

enum walk_mode {
    WALK_PLAIN,
    WALK_NS,       /* channel options (channel.without_namespace, top-level options) */
    WALK_NS_ENTRY, /* one channel.namespaces[] entry: "name" is handled by the caller */
};

struct ctx {
    lc_config_t *c;
    char *err;
    size_t errlen;
    char path[512]; /* key path of the value being applied, for messages */
    size_t plen;
    char **set; /* v6 paths set by the file, so that a flat key never overrides them */
    size_t nset, capset;
    bool record;
};

static int bad(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct ctx *x, const char *fmt, ...)
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

static int nomem(struct ctx *x)
{
    if (x->err && x->errlen)
        snprintf(x->err, x->errlen, "%s: out of memory", x->path);
    return LC_ENOMEM;
}

/* Append ".key" (or "key" at the root) to the path; returns the mark to restore. Paths too
 * long for the buffer are truncated, which only shortens messages. */
static size_t path_key(struct ctx *x, const char *key)
{
    size_t mark = x->plen;
    int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "%s%s", x->plen ? "." : "", key);
    if (n > 0)
        x->plen +=
            (size_t)n < sizeof(x->path) - x->plen ? (size_t)n : sizeof(x->path) - 1 - x->plen;
    return mark;
}

static size_t path_index(struct ctx *x, size_t i)
{
    size_t mark = x->plen;
    int n = snprintf(x->path + x->plen, sizeof(x->path) - x->plen, "[%zu]", i);
    if (n > 0)
        x->plen +=
            (size_t)n < sizeof(x->path) - x->plen ? (size_t)n : sizeof(x->path) - 1 - x->plen;
    return mark;
}

static void path_restore(struct ctx *x, size_t mark)
{
    x->plen = mark;
    x->path[mark] = '\0';
}

static int record_set(struct ctx *x)
{
    if (!x->record)
        return 0;
    if (x->nset == x->capset) {
        size_t cap = x->capset ? x->capset * 2 : 32;
        char **n = realloc(x->set, cap * sizeof(*n));
        if (!n)
            return nomem(x);
        x->set = n;
        x->capset = cap;
    }
    x->set[x->nset] = strdup(x->path);
    if (!x->set[x->nset])
        return nomem(x);
    x->nset++;
    return 0;
}

static bool was_set(const struct ctx *x, const char *path)
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

static int bad_enum(struct ctx *x, const char *values)
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
    return bad(x, "expected one of %s", list);
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

static int set_strings(struct ctx *x, char ***slot, size_t *count, const cJSON *v)
{
    size_t n = (size_t)cJSON_GetArraySize(v), i = 0;
    char **arr = calloc(n ? n : 1, sizeof(*arr));
    const cJSON *e;
    if (!arr)
        return nomem(x);
    cJSON_ArrayForEach(e, v)
    {
        arr[i] = strdup(e->valuestring);
        if (!arr[i]) {
            lc__config_free_strs(arr, i);
            return nomem(x);
        }
        i++;
    }
    lc__config_free_strs(*slot, *count);
    *slot = arr;
    *count = n;
    return 0;
}

static int walk_object(struct ctx *x, const struct lc__key *table, void *base, const cJSON *obj,
                       enum walk_mode mode);
static int load_namespaces(struct ctx *x, const cJSON *v);
static int load_rules(struct ctx *x, const cJSON *v);

#define FIELD(type, base, k) ((type *)(void *)((char *)(base) + (k)->off))

static int apply(struct ctx *x, const struct lc__key *k, void *base, const cJSON *v)
{
    bool store = k->off != LC__NOFIELD;
    int64_t n;
    switch (k->kind) {
    case LC__K_BOOL:
        if (!cJSON_IsBool(v))
            return bad(x, "expected true or false");
        if (store)
            *FIELD(bool, base, k) = cJSON_IsTrue(v);
        break;
    case LC__K_INT:
    case LC__K_I64:
        if (!get_int(v, k->min, k->max, &n)) {
            if (k->max == INT64_MAX)
                return bad(x, "expected an integer >= %lld", (long long)k->min);
            return bad(x, "expected an integer from %lld to %lld", (long long)k->min,
                       (long long)k->max);
        }
        if (store && k->kind == LC__K_INT)
            *FIELD(int, base, k) = (int)n;
        else if (store)
            *FIELD(int64_t, base, k) = n;
        break;
    case LC__K_DUR:
    case LC__K_DUR_NEG:
        /* Centrifugo v6 takes durations only as strings; a bare number is ambiguous
         * (seconds? nanoseconds?) and is refused. */
        if (!cJSON_IsString(v) || lc_duration_parse(v->valuestring, &n) != 0)
            return bad(x, "expected a duration string like \"25s\"");
        if (n < 0 && k->kind == LC__K_DUR)
            return bad(x, "expected a non-negative duration string like \"25s\"");
        if (store)
            *FIELD(int64_t, base, k) = n < 0 ? -1 : n;
        break;
    case LC__K_STR:
        if (!cJSON_IsString(v))
            return bad(x, "expected a string");
        if (store && lc_config_set_string(FIELD(char *, base, k), v->valuestring) != 0)
            return nomem(x);
        break;
    case LC__K_REGEX: {
        char msg[200];
        if (!cJSON_IsString(v))
            return bad(x, "expected a string");
        int rc = lc_config_set_channel_regex(base, v->valuestring, msg, sizeof(msg));
        if (rc == LC_EINVAL)
            return bad(x, "%s", msg);
        if (rc)
            return nomem(x);
        break;
    }
    case LC__K_STRS:
        if (!is_string_array(v))
            return bad(x, "expected an array of strings");
        if (store) {
            size_t *count = (size_t *)(void *)((char *)base + k->off2);
            int rc = set_strings(x, FIELD(char **, base, k), count, v);
            if (rc)
                return rc;
        }
        break;
    case LC__K_STR_STRS:
        if (!cJSON_IsString(v) && !is_string_array(v))
            return bad(x, "expected a string or an array of strings");
        break;
    case LC__K_ENUM: {
        int idx = cJSON_IsString(v) ? enum_index(k->values, v->valuestring) : -1;
        if (idx < 0)
            return bad_enum(x, k->values);
        if (store)
            *FIELD(int, base, k) = v->valuestring[0] ? idx : 0;
        break;
    }
    case LC__K_ENUMS: {
        const cJSON *e;
        unsigned bits = 0;
        if (!cJSON_IsArray(v))
            return bad(x, "expected an array of strings");
        cJSON_ArrayForEach(e, v)
        {
            int idx = cJSON_IsString(e) ? enum_index(k->values, e->valuestring) : -1;
            if (idx < 0)
                return bad(x, "expected an array with elements from: %s", k->values);
            bits |= 1u << idx;
        }
        if (store)
            *FIELD(unsigned, base, k) = bits;
        break;
    }
    case LC__K_LOGLEVEL: {
        int level = cJSON_IsString(v) ? lc_log_level_parse(v->valuestring) : -1;
        if (level < 0)
            return bad(x, "expected one of trace, debug, info, warn, error, none");
        if (store)
            *FIELD(int, base, k) = level;
        break;
    }
    case LC__K_OBJ:
        if (!cJSON_IsObject(v))
            return bad(x, "expected an object");
        return walk_object(x, k->sub, base, v, WALK_PLAIN);
    case LC__K_NSOBJ:
        if (!cJSON_IsObject(v))
            return bad(x, "expected an object");
        return walk_object(x, lc__config_ns_keys, (char *)base + k->off, v, WALK_NS);
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
    case LC__K_OBJARR: {
        const cJSON *e;
        size_t i = 0;
        if (!cJSON_IsArray(v))
            return bad(x, "expected an array of objects");
        cJSON_ArrayForEach(e, v)
        {
            size_t mark = path_index(x, i++);
            if (!cJSON_IsObject(e))
                return bad(x, "expected an object");
            int rc = walk_object(x, k->sub, base, e, WALK_PLAIN);
            if (rc)
                return rc;
            path_restore(x, mark);
        }
        break;
    }
    case LC__K_ANYOBJ:
        if (!cJSON_IsObject(v))
            return bad(x, "expected an object");
        break;
    case LC__K_ANYARR:
        if (!cJSON_IsArray(v))
            return bad(x, "expected an array");
        break;
    case LC__K_ANY:
        break;
    }
    return record_set(x);
}

/* A v5 namespace option inside a namespace object: mapped to its v6 name unless the object
 * also has the v6 name. */
static int apply_ns_legacy(struct ctx *x, void *base, const cJSON *obj, const char *v6,
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

static int walk_object(struct ctx *x, const struct lc__key *table, void *base, const cJSON *obj,
                       enum walk_mode mode)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        size_t mark = path_key(x, it->string);
        const struct lc__key *k = lc__config_key_find(table, it->string);
        const char *v6 = mode != WALK_PLAIN ? lc__config_ns_legacy_find(it->string) : NULL;
        int rc = 0;
        if (k)
            rc = apply(x, k, base, it);
        else if (v6)
            rc = apply_ns_legacy(x, base, obj, v6, it);
        else if (mode != WALK_NS_ENTRY || strcmp(it->string, "name") != 0)
            lc_log_warn("config: unknown key \"%s\" (ignored)", x->path);
        if (rc)
            return rc;
        path_restore(x, mark);
    }
    return 0;
}

/* Spec §6.1: ^[-a-zA-Z0-9_.]{2,}$ */
static bool ns_name_ok(const char *s)
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

static int load_namespaces(struct ctx *x, const cJSON *v)
{
    lc_config_t *c = x->c;
    if (!cJSON_IsArray(v))
        return bad(x, "expected an array of namespace objects");
    size_t n = (size_t)cJSON_GetArraySize(v);
    lc_ns_opts_t *ns = calloc(n ? n : 1, sizeof(*ns));
    if (!ns)
        return nomem(x);
    /* Install the new array at once: on a later error the config still owns everything. */
    for (size_t i = 0; i < c->n_namespaces; i++)
        lc__config_free_ns(&c->namespaces[i]);
    free(c->namespaces);
    c->namespaces = ns;
    c->n_namespaces = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        size_t mark = path_index(x, i);
        if (!cJSON_IsObject(e))
            return bad(x, "expected an object");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        size_t mark_name = path_key(x, "name");
        if (!cJSON_IsString(name) || !ns_name_ok(name->valuestring))
            return bad(x, "expected a string matching ^[-a-zA-Z0-9_.]{2,}$");
        for (size_t j = 0; j < i; j++) {
            if (strcmp(ns[j].name, name->valuestring) == 0)
                return bad(x, "duplicate namespace \"%s\"", name->valuestring);
        }
        path_restore(x, mark_name);
        ns[i].name = strdup(name->valuestring);
        if (!ns[i].name)
            return nomem(x);
        c->n_namespaces = i + 1;
        int rc = walk_object(x, lc__config_ns_keys, &ns[i], e, WALK_NS_ENTRY);
        if (rc)
            return rc;
        path_restore(x, mark);
        i++;
    }
    return 0;
}

/* Options a rule may set besides those of §6.2, and the option each stands for. */
static const char *const rule_alias[][2] = {
    {"subscribe", "allow_subscribe_for_client"},
    {"publish", "allow_publish_for_client"},
};

static int walk_rule(struct ctx *x, struct lc_channel_rule *r, const cJSON *obj)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        if (strcmp(it->string, "name") == 0)
            continue;
        size_t mark = path_key(x, it->string);
        const char *name = it->string;
        for (size_t i = 0; i < sizeof(rule_alias) / sizeof(rule_alias[0]); i++) {
            if (strcmp(name, rule_alias[i][0]) == 0)
                name = rule_alias[i][1];
        }
        const struct lc__key *k = lc__config_key_find(lc__config_ns_keys, name);
        if (!k) {
            lc_log_warn("config: unknown key \"%s\" (ignored)", x->path);
        } else {
            uint64_t bit = (uint64_t)1 << (k - lc__config_ns_keys);
            if (k->off != LC__NOFIELD && (r->set & bit))
                return bad(x, "\"%s\" is already set by this rule", name);
            int rc = apply(x, k, &r->opts, it);
            if (rc)
                return rc;
            if (k->off != LC__NOFIELD)
                r->set |= bit;
        }
        path_restore(x, mark);
    }
    return 0;
}

static int load_rules(struct ctx *x, const cJSON *v)
{
    lc_config_t *c = x->c;
    if (!cJSON_IsArray(v))
        return bad(x, "expected an array of channel rule objects");
    size_t n = (size_t)cJSON_GetArraySize(v);
    struct lc_channel_rule *r = calloc(n ? n : 1, sizeof(*r));
    if (!r)
        return nomem(x);
    lc__config_free_rules(c->channel_rules, c->n_channel_rules);
    c->channel_rules = r;
    c->n_channel_rules = 0;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        char msg[128];
        size_t mark = path_index(x, i);
        if (!cJSON_IsObject(e))
            return bad(x, "expected an object");
        c->n_channel_rules = i + 1;
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        size_t mark_name = path_key(x, "name");
        if (!cJSON_IsString(name))
            return bad(x, "expected a channel pattern string");
        int rc = lc__config_rule_compile(&r[i], name->valuestring, msg, sizeof(msg));
        if (rc == LC_EINVAL)
            return bad(x, "%s", msg);
        if (rc)
            return nomem(x);
        path_restore(x, mark_name);
        rc = walk_rule(x, &r[i], e);
        if (rc)
            return rc;
        path_restore(x, mark);
        i++;
    }
    return 0;
}

static int apply_legacy(struct ctx *x, const char *old, const char *v6, const cJSON *v)
{
    void *base = NULL;
    const struct lc__key *k = lc__config_resolve(x->c, v6, &base);
    if (!k)
        return bad(x, "internal error: no v6 key \"%s\"", v6);
    if (was_set(x, v6)) {
        lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"; ignored because \"%s\" is also "
                    "set",
                    old, v6, v6);
        return 0;
    }
    lc_log_warn("config: \"%s\" is a pre-v6 key, use \"%s\"", old, v6);
    return apply(x, k, base, v);
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
    if (lc__config_key_find(lc__config_ns_keys, it->string))
        return ROOT_LEGACY_NS;
    return ROOT_UNKNOWN;
}

/* Two passes: v6 keys first (recording what they set), then flat keys, so that the v6 key
 * wins whatever the order in the file. */
static int walk_root(struct ctx *x, const cJSON *root)
{
    const cJSON *it;
    const struct lc__key *k;
    const struct lc__legacy *l;
    int rc = 0;

    x->record = true;
    cJSON_ArrayForEach(it, root)
    {
        size_t mark = path_key(x, it->string);
        enum root_class cls = classify(it, &k, &l);
        if (cls == ROOT_V6)
            rc = apply(x, k, x->c, it);
        else if (cls == ROOT_UNKNOWN)
            lc_log_warn("config: unknown key \"%s\" (ignored)", x->path);
        if (rc)
            return rc;
        path_restore(x, mark);
    }

    x->record = false;
    cJSON_ArrayForEach(it, root)
    {
        char v6[128];
        size_t mark = path_key(x, it->string);
        enum root_class cls = classify(it, &k, &l);
        if (cls == ROOT_LEGACY && !l->v6) {
            lc_log_warn("config: \"%s\" is a pre-v6 key, use %s (ignored)", it->string, l->hint);
        } else if (cls == ROOT_LEGACY) {
            rc = apply_legacy(x, it->string, l->v6, it);
        } else if (cls == ROOT_LEGACY_NS) {
            snprintf(v6, sizeof(v6), "channel.without_namespace.%s", it->string);
            rc = apply_legacy(x, it->string, v6, it);
        }
        if (rc)
            return rc;
        path_restore(x, mark);
    }
    return 0;
}

/* Blank out // and / * * / comments in place, keeping every newline, so that parse error
 * positions still point into the user's file. cJSON_Minify is not used: it shifts positions
 * and misreads a string ending in an escaped backslash ("c:\\") as unterminated. */
static int blank_comments(char *s, size_t n, size_t *bad_at)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        memset(s, ' ', 3);
        i = 3;
    }
    while (i < n) {
        if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\')
                    i++;
            }
            i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                s[i++] = ' ';
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            size_t start = i;
            s[i++] = ' ';
            s[i++] = ' ';
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/')) {
                if (s[i] != '\n')
                    s[i] = ' ';
                i++;
            }
            if (i >= n) {
                *bad_at = start;
                return LC_EINVAL;
            }
            s[i++] = ' ';
            s[i++] = ' ';
        } else {
            i++;
        }
    }
    return 0;
}

static void line_col(const char *s, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static int parse_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int parse_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return LC_EINVAL;
}

int lc_config_load_string(lc_config_t *c, const char *json, size_t len, char *err, size_t errlen)
{
    struct ctx x = {.c = c, .err = err, .errlen = errlen};
    cJSON *root = NULL;
    char *buf = NULL;
    size_t bad_at = 0;
    int line, col, rc;

    if (err && errlen)
        err[0] = '\0';
    if (memchr(json, '\0', len)) {
        rc = parse_fail(err, errlen, "invalid JSON: the text contains a NUL byte");
        goto out;
    }
    buf = malloc(len + 1);
    if (!buf) {
        parse_fail(err, errlen, "out of memory");
        rc = LC_ENOMEM;
        goto out;
    }
    memcpy(buf, json, len);
    buf[len] = '\0';
    if (blank_comments(buf, len, &bad_at) != 0) {
        line_col(json, bad_at, &line, &col);
        rc = parse_fail(err, errlen, "invalid JSON: unterminated /* comment at line %d, column %d",
                        line, col);
        goto out;
    }
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len;
        line_col(buf, off, &line, &col);
        rc = parse_fail(err, errlen, "invalid JSON at line %d, column %d", line, col);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = parse_fail(err, errlen, "invalid config: the top level must be a JSON object");
        goto out;
    }
    rc = walk_root(&x, root);
    if (rc == 0)
        rc = lc_config_validate(c, err, errlen);
out:
    for (size_t i = 0; i < x.nset; i++)
        free(x.set[i]);
    free(x.set);
    cJSON_Delete(root);
    free(buf);
    return rc;
}

int lc_config_load_file(lc_config_t *c, const char *path, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0, cap = 0;
    int rc;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        parse_fail(err, errlen, "cannot open %s: %s", path, strerror(e));
        return e == ENOENT ? LC_ENOENT : LC_EIO;
    }
    for (;;) {
        if (len == cap) {
            if (cap >= MAX_FILE_SIZE) {
                parse_fail(err, errlen, "%s: larger than %u bytes", path, MAX_FILE_SIZE);
                rc = LC_ETOOBIG;
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            char *n = realloc(data, cap);
            if (!n) {
                parse_fail(err, errlen, "out of memory");
                rc = LC_ENOMEM;
                goto out;
            }
            data = n;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        parse_fail(err, errlen, "cannot read %s", path);
        rc = LC_EIO;
        goto out;
    }
    rc = lc_config_load_string(c, data ? data : "", len, err, errlen);
out:
    fclose(f);
    free(data);
    return rc;
}
