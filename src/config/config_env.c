/* Environment overrides (spec §9.1): CENTRIFUGO_ or LUCENT_ followed by a key path upper-cased
 * with '.' → '_' (CENTRIFUGO_HTTP_SERVER_PORT is http_server.port).
 *
 * Key names contain underscores themselves, so a variable name cannot be split back into a
 * path. Instead every key path the tables reach is turned into its variable form and compared.
 * The values become one JSON document with the types the key tables expect, which the loader
 * then applies like a file: type errors, ranges, proxy references and cross-key validation are
 * the loader's, and messages about a path a variable set are rewritten to name the variable. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "util/err.h"
#include "util/log.h"

#define PREFIX_CF "CENTRIFUGO_"
#define PREFIX_LC "LUCENT_"
/* Centrifugo's ${CENTRIFUGO_VAR_X} interpolation values: not config keys, not warned about */
#define PREFIX_CF_VAR "CENTRIFUGO_VAR_"

/* Objects whose keys have their own variables; every other kind is one value. */
static bool descends(const struct lc__key *k)
{
    return k->sub && (k->kind == LC__K_OBJ || k->kind == LC__K_SUBOBJ || k->kind == LC__K_NSOBJ ||
                      k->kind == LC__K_PROXY);
}

typedef bool (*path_fn)(const char *path, const struct lc__key *k, void *arg);

/* Calls fn for every leaf path under table until fn returns true; returns whether it did. */
static bool each_path(const struct lc__key *table, char *path, size_t plen, size_t cap, path_fn fn,
                      void *arg)
{
    for (const struct lc__key *k = table; k->name; k++) {
        int n = snprintf(path + plen, cap - plen, "%s%s", plen ? "." : "", k->name);
        if (n < 0 || (size_t)n >= cap - plen)
            continue;
        bool stop = descends(k) ? each_path(k->sub, path, plen + (size_t)n, cap, fn, arg)
                                : fn(path, k, arg);
        path[plen] = '\0';
        if (stop)
            return true;
    }
    return false;
}

struct paths_arg {
    void (*fn)(const char *path, const struct lc__key *k, void *arg);
    void *arg;
};

static bool call_each(const char *path, const struct lc__key *k, void *arg)
{
    struct paths_arg *a = arg;
    a->fn(path, k, a->arg);
    return false;
}

void lc__config_env_paths(void (*fn)(const char *path, const struct lc__key *k, void *arg),
                          void *arg)
{
    char path[LC__ENV_PATH_MAX] = "";
    struct paths_arg a = {fn, arg};
    each_path(lc__config_root_keys, path, 0, sizeof(path), call_each, &a);
}

/* The variable form of path, without the prefix. */
static void env_form(const char *path, char *out, size_t cap)
{
    size_t i = 0;
    for (; path[i] && i + 1 < cap; i++)
        out[i] = (char)(path[i] == '.' ? '_' : toupper((unsigned char)path[i]));
    out[i] = '\0';
}

/* Whether name (after the prefix, up to '=') is the variable form of path. */
static bool env_form_eq(const char *path, const char *name, size_t nlen)
{
    size_t i = 0;
    for (; path[i] && i < nlen; i++) {
        char want = (char)(path[i] == '.' ? '_' : toupper((unsigned char)path[i]));
        if (name[i] != want)
            return false;
    }
    return !path[i] && i == nlen;
}

struct match {
    const char *name;
    size_t nlen;
    char path[LC__ENV_PATH_MAX];
    const struct lc__key *k;
};

static bool match_one(const char *path, const struct lc__key *k, void *arg)
{
    struct match *m = arg;
    if (!env_form_eq(path, m->name, m->nlen))
        return false;
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->k = k;
    return true;
}

/* ---- values ---- */

/* Go's strconv.ParseBool */
static int parse_bool(const char *s)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(s, yes[i]) == 0)
            return 1;
        if (strcmp(s, no[i]) == 0)
            return 0;
    }
    return -1;
}

/* A decimal integer, or NULL so that the loader reports the expected range. */
static cJSON *int_value(const char *s)
{
    const char *p = s + (*s == '-' || *s == '+');
    if (!*p || strlen(p) > 18)
        return NULL;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return NULL;
    }
    return cJSON_CreateNumber((double)strtoll(s, NULL, 10));
}

/* Whitespace-separated words as a JSON array of strings. */
static cJSON *words_value(const char *s)
{
    cJSON *arr = cJSON_CreateArray();
    while (arr && *s) {
        while (isspace((unsigned char)*s))
            s++;
        size_t n = 0;
        while (s[n] && !isspace((unsigned char)s[n]))
            n++;
        if (n == 0)
            break;
        char *w = strndup(s, n);
        cJSON *item = w ? cJSON_CreateString(w) : NULL;
        free(w);
        if (!item) {
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, item);
        s += n;
    }
    return arr;
}

/* lua.script and lua.path from the environment are relative to the working directory (a file
 * path in the config file is relative to the file's folder; see config_json.c). */
static char *absolute(const char *p)
{
    char cwd[4096];
    if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
        return strdup(p);
    size_t n = strlen(cwd) + 1 + strlen(p) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s", cwd, p);
    return out;
}

static cJSON *lua_path_value(const char *path, const char *s)
{
    bool script = strcmp(path, "lua.script") == 0;
    cJSON *v = script ? NULL : words_value(s), *e;
    if (!script) {
        cJSON_ArrayForEach(e, v)
        {
            char *abs = absolute(e->valuestring);
            if (!abs || !cJSON_SetValuestring(e, abs)) {
                free(abs);
                cJSON_Delete(v);
                return NULL;
            }
            free(abs);
        }
        return v;
    }
    char *abs = s[0] ? absolute(s) : strdup(s);
    v = abs ? cJSON_CreateString(abs) : NULL;
    free(abs);
    return v;
}

/* The JSON value of a variable for key k. NULL with err set (LC_EINVAL) or, err untouched, out
 * of memory. */
static cJSON *env_value(const char *var, const char *path, const struct lc__key *k, const char *s,
                        char *err, size_t errlen, int *rc)
{
    cJSON *v = NULL;
    int b;
    *rc = 0;
    if (strcmp(path, "lua.script") == 0 || strcmp(path, "lua.path") == 0) {
        v = lua_path_value(path, s);
        goto done;
    }
    switch (k->kind) {
    case LC__K_BOOL:
    case LC__K_FALSE:
    case LC__K_PROXY_ON:
    case LC__K_PROXY_ENABLED:
        b = parse_bool(s);
        if (b < 0) {
            *rc = lc__config_fail(err, errlen,
                                  "%s: expected a boolean (1, t, T, TRUE, true, True, 0, f, F, "
                                  "FALSE, false, False)",
                                  var);
            return NULL;
        }
        v = cJSON_CreateBool(b);
        break;
    case LC__K_INT:
    case LC__K_I64:
        v = int_value(s);
        if (!v)
            v = cJSON_CreateString(s);
        break;
    case LC__K_STRS:
    case LC__K_STR_STRS:
    case LC__K_ENUMS:
        v = words_value(s);
        break;
    case LC__K_NSARR:
    case LC__K_RULES:
    case LC__K_PROXIES:
    case LC__K_RPCNSARR:
    case LC__K_PUSHER_APPS:
    case LC__K_ANYARR:
        v = cJSON_Parse(s);
        if (!cJSON_IsArray(v)) {
            cJSON_Delete(v);
            *rc = lc__config_fail(err, errlen,
                                  "%s: expected a JSON array, e.g. [{\"name\":\"ns1\"}]", var);
            return NULL;
        }
        break;
    case LC__K_ANYOBJ:
    case LC__K_HEADERS:
        v = cJSON_Parse(s);
        if (!cJSON_IsObject(v)) {
            cJSON_Delete(v);
            *rc = lc__config_fail(err, errlen,
                                  "%s: expected a JSON object, e.g. {\"key\":\"value\"}", var);
            return NULL;
        }
        break;
    case LC__K_ANY:
        v = cJSON_Parse(s);
        if (!v)
            v = cJSON_CreateString(s);
        break;
    default: /* strings, durations, enums, log level, regex, proxy names */
        v = cJSON_CreateString(s);
        break;
    }
done:
    if (!v)
        *rc = LC_ENOMEM;
    return v;
}

/* ---- collecting the variables ---- */

static struct lc__env_var *find_path(const struct lc__env *e, const char *path)
{
    for (size_t i = 0; i < e->n; i++) {
        if (strcmp(e->v[i].path, path) == 0)
            return &e->v[i];
    }
    return NULL;
}

/* Adds or replaces the variable for path: a v6 name replaces a pre-v6 one, LUCENT_ replaces
 * CENTRIFUGO_, and a second variable of the same rank is ignored. 0 or LC_ENOMEM. */
static int add_var(struct lc__env *e, const char *name, size_t nlen, const char *path,
                   const struct lc__key *k, const char *value, bool lucent, bool legacy)
{
    int rank = (legacy ? 0 : 2) + lucent; /* a v6 name first, then LUCENT_ */
    struct lc__env_var *v = find_path(e, path);
    if (v && v->rank >= rank)
        return 0;
    if (!v) {
        if (e->n == e->cap) {
            size_t cap = e->cap ? e->cap * 2 : 16;
            struct lc__env_var *nv = realloc(e->v, cap * sizeof(*nv));
            if (!nv)
                return LC_ENOMEM;
            e->v = nv;
            e->cap = cap;
        }
        v = &e->v[e->n];
        memset(v, 0, sizeof(*v));
        v->path = strdup(path);
        if (!v->path)
            return LC_ENOMEM;
        e->n++;
    }
    char *n = strndup(name, nlen);
    if (!n)
        return LC_ENOMEM;
    free(v->name);
    v->name = n;
    v->key = k;
    v->value = value;
    v->rank = rank;
    return 0;
}

/* A pre-v6 flat name (CENTRIFUGO_API_KEY): mapped like the flat key of a file when it has one
 * v6 home; otherwise ignored with a hint. Returns whether name was such a key. */
static bool legacy_var(struct lc__env *e, const char *name, size_t nlen, size_t plen,
                       const char *value, bool lucent, int *rc)
{
    char flat[128];
    size_t n = nlen - plen;
    if (n == 0 || n >= sizeof(flat))
        return false;
    for (size_t i = 0; i < n; i++)
        flat[i] = (char)tolower((unsigned char)name[plen + i]);
    flat[n] = '\0';
    const struct lc__legacy *l = lc__config_legacy_find(flat);
    if (!l)
        return false;
    const char *pre = lucent ? PREFIX_LC : PREFIX_CF;
    char v6env[LC__ENV_PATH_MAX], onenv[LC__ENV_PATH_MAX];
    env_form(l->v6 ? l->v6 : "", v6env, sizeof(v6env));
    env_form(l->enable ? l->enable : "", onenv, sizeof(onenv));
    /* Names that stood for several keys are not guessed at. */
    if (!l->v6 || l->each) {
        lc_log_warn("config: %.*s is a pre-v6 name, not applied; use %s", (int)nlen, name,
                    l->hint ? l->hint : "the v6 keys of each proxy");
        return true;
    }
    if (l->enable) {
        lc_log_warn("config: %.*s is a pre-v6 name, not applied; use %s%s with %s%s=true",
                    (int)nlen, name, pre, v6env, pre, onenv);
        return true;
    }
    /* lc__config_resolve only computes a field's address from c: a defaults-only config
     * holds no allocation and needs no free. */
    void *base;
    lc_config_t scratch;
    lc_config_defaults(&scratch);
    const struct lc__key *k = lc__config_resolve(&scratch, l->v6, &base);
    if (!k)
        return false;
    lc_log_warn("config: %.*s is a pre-v6 name, use %s%s", (int)nlen, name, pre, v6env);
    *rc = add_var(e, name, nlen, l->v6, k, value, lucent, true);
    return true;
}

static int read_var(struct lc__env *e, const char *entry)
{
    const char *eq = strchr(entry, '=');
    if (!eq || !eq[1])
        return 0; /* an empty value is unset */
    size_t nlen = (size_t)(eq - entry);
    bool lucent = strncmp(entry, PREFIX_LC, strlen(PREFIX_LC)) == 0;
    if (!lucent && strncmp(entry, PREFIX_CF, strlen(PREFIX_CF)) != 0)
        return 0;
    if (strncmp(entry, PREFIX_CF_VAR, strlen(PREFIX_CF_VAR)) == 0)
        return 0;
    size_t plen = strlen(lucent ? PREFIX_LC : PREFIX_CF);
    struct match m = {.name = entry + plen, .nlen = nlen - plen};
    char path[LC__ENV_PATH_MAX] = "";
    if (each_path(lc__config_root_keys, path, 0, sizeof(path), match_one, &m))
        return add_var(e, entry, nlen, m.path, m.k, eq + 1, lucent, false);
    int rc = 0;
    if (legacy_var(e, entry, nlen, plen, eq + 1, lucent, &rc))
        return rc;
    /* LUCENT_ is also used by tools around the server (LUCENT_BIN in the tests), so only
     * unknown CENTRIFUGO_ names are reported. */
    if (!lucent)
        lc_log_warn("config: unknown environment variable %.*s (ignored)", (int)nlen, entry);
    return 0;
}

/* The object at the dotted parent path of path in doc, created as needed; *leaf is the last
 * segment. NULL when out of memory. */
static cJSON *parent_of(cJSON *doc, char *path, const char **leaf)
{
    cJSON *o = doc;
    char *seg = path, *dot;
    while ((dot = strchr(seg, '.')) != NULL) {
        *dot = '\0';
        cJSON *next = cJSON_GetObjectItemCaseSensitive(o, seg);
        if (!next)
            next = cJSON_AddObjectToObject(o, seg);
        *dot = '.';
        if (!next)
            return NULL;
        o = next;
        seg = dot + 1;
    }
    *leaf = seg;
    return o;
}

int lc__config_env_read(char *const *envp, struct lc__env *e, char *err, size_t errlen)
{
    int rc = 0;
    memset(e, 0, sizeof(*e));
    for (size_t i = 0; envp && envp[i] && rc == 0; i++)
        rc = read_var(e, envp[i]);
    if (rc == 0) {
        e->doc = cJSON_CreateObject();
        if (!e->doc)
            rc = LC_ENOMEM;
    }
    for (size_t i = 0; i < e->n && rc == 0; i++) {
        struct lc__env_var *v = &e->v[i];
        cJSON *val = env_value(v->name, v->path, v->key, v->value, err, errlen, &rc);
        if (!val)
            break;
        const char *leaf;
        cJSON *parent = parent_of(e->doc, v->path, &leaf);
        if (!parent || !cJSON_AddItemToObject(parent, leaf, val)) {
            cJSON_Delete(val);
            rc = LC_ENOMEM;
        }
    }
    if (rc == LC_ENOMEM)
        lc__config_fail(err, errlen, "environment: out of memory");
    if (rc)
        lc__config_env_free(e);
    return rc;
}

/* The last member named name: the walker applies duplicates in order, so the last one wins. */
static cJSON *last_item(cJSON *obj, const char *name)
{
    cJSON *it, *last = NULL;
    cJSON_ArrayForEach(it, obj)
    {
        if (it->string && strcmp(it->string, name) == 0)
            last = it;
    }
    return last;
}

void lc__config_env_merge(cJSON *dst, cJSON *src)
{
    cJSON *it;
    while ((it = src->child) != NULL) {
        cJSON_DetachItemViaPointer(src, it);
        cJSON *d = last_item(dst, it->string);
        if (d && cJSON_IsObject(d) && cJSON_IsObject(it)) {
            lc__config_env_merge(d, it);
            cJSON_Delete(it);
        } else if (d) {
            cJSON_ReplaceItemViaPointer(dst, d, it);
        } else {
            cJSON_AddItemToObject(dst, it->string, it);
        }
    }
}

void lc__config_env_blame(const struct lc__env *e, char *err, size_t errlen)
{
    if (!err || !errlen)
        return;
    for (size_t i = 0; i < e->n; i++) {
        const char *path = e->v[i].path;
        size_t plen = strlen(path);
        if (strncmp(err, path, plen) != 0 || !strchr(":.[", err[plen]) || !err[plen])
            continue;
        char msg[1024];
        if (err[plen] == ':')
            snprintf(msg, sizeof(msg), "%s%s", e->v[i].name, err + plen);
        else
            snprintf(msg, sizeof(msg), "%s: %s", e->v[i].name, err);
        snprintf(err, errlen, "%s", msg);
        return;
    }
}

void lc__config_env_free(struct lc__env *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].name);
        free(e->v[i].path);
    }
    free(e->v);
    cJSON_Delete(e->doc);
    memset(e, 0, sizeof(*e));
}

int lc_config_apply_env(lc_config_t *c, char *const *envp, char *err, size_t errlen)
{
    struct lc__env e;
    if (err && errlen)
        err[0] = '\0';
    int rc = lc__config_env_read(envp, &e, err, errlen);
    if (rc)
        return rc;
    if (e.n > 0) {
        rc = lc__config_load_tree(c, e.doc, err, errlen);
        if (rc)
            lc__config_env_blame(&e, err, errlen);
    }
    lc__config_env_free(&e);
    return rc;
}
