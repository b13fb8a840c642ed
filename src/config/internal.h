/* Internals shared by the files of the config module: the key tables that describe the v6
 * layout, the table of pre-v6 flat keys, and string ownership helpers. */
#ifndef LC_CONFIG_INTERNAL_H
#define LC_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* What a key holds. Keys with off == LC__NOFIELD are known but not used by Lucent yet: their
 * value is type-checked and dropped, so a Centrifugo config loads without warnings. */
enum lc__key_kind {
    LC__K_BOOL,
    LC__K_INT,      /* int field, range min..max */
    LC__K_I64,      /* int64_t field, range min..max */
    LC__K_DUR,      /* Go duration string → int64_t ms, must be >= 0 */
    LC__K_DUR_NEG,  /* same, any negative value stored as -1 (disabled) */
    LC__K_STR,      /* char * field */
    LC__K_STRS,     /* array of strings: char ** at off, size_t count at off2 */
    LC__K_STR_STRS, /* a string or an array of strings (unused keys only) */
    LC__K_ENUM,     /* string from a list ("a|b|c"); stored as its index in an int, "" as 0 */
    LC__K_ENUMS,    /* array of strings from a list; stored as unsigned bits (1 << index) */
    LC__K_REGEX,    /* channel_regex: base is an lc_ns_opts_t, see lc_config_set_channel_regex */
    LC__K_LOGLEVEL, /* log level name → int field */
    LC__K_OBJ,      /* object walked with sub, same base */
    LC__K_NSOBJ,    /* object walked with the namespace table, base = field at off */
    LC__K_SUBOBJ,   /* object walked with sub, base = field at off */
    LC__K_NSARR,    /* channel.namespaces */
    LC__K_RULES,    /* top-level "channels" */
    LC__K_PROXY,    /* Proxy object walked with sub, base = the lc_proxy_conf_t at off; with off
                       LC__NOFIELD (sections Lucent does not use) only type-checked */
    LC__K_PROXIES,  /* top-level "proxies": named Proxy objects walked with sub */
    LC__K_PROXY_ENABLED, /* "enabled" of client.proxy.connect / refresh (base: the proxy) */
    LC__K_HEADERS,       /* http.static_headers {name: value} (base: the proxy) */
    LC__K_PROXY_ON,      /* *_proxy_enabled: bool; off = the const lc_proxy_conf_t * slot, min = the
                            enum lc__proxy_use; resolved after the walk (see lc__proxy_ref) */
    LC__K_PROXY_NAME,    /* *_proxy_name: string; same off and min */
    LC__K_RPCNSARR,      /* rpc.namespaces: entries walked with sub */
    LC__K_PUSHER_APPS,   /* pusher.apps: entries walked with sub (config_pusher.c) */
    LC__K_FALSE,         /* a bool that must be false: what Lucent does not support; values = why */
    LC__K_ANYOBJ,        /* any object, contents not checked (maps, PRO sections) */
    LC__K_ANYARR,        /* any array, contents not checked */
    LC__K_ANY,           /* any JSON value */
};

#define LC__NOFIELD ((size_t)-1)

struct lc__key {
    const char *name;
    enum lc__key_kind kind;
    size_t off;
    size_t off2;
    int64_t min, max;
    const struct lc__key *sub; /* tables of the object kinds */
    const char *values;        /* LC__K_ENUM, LC__K_ENUMS: "a|b|c" ("" allowed as "|a") */
};

/* What a namespace proxy option is for: picks the section of the "default" proxy and what the
 * proxy's protocol must allow. */
enum lc__proxy_use {
    LC__USE_SUBSCRIBE,
    LC__USE_PUBLISH,
    LC__USE_SUB_REFRESH,
    LC__USE_RPC,
};

/* A proxy reference met while walking (*_proxy_enabled / *_proxy_name of a namespace, a rule
 * or an rpc namespace). Names can point at proxies[] entries that come later in the file, so
 * references are collected and resolved once the whole file is read. */
struct lc__proxy_ref {
    const lc_proxy_conf_t **slot; /* the pointer field to fill */
    int use;                      /* enum lc__proxy_use */
    bool enabled, has_enabled;
    bool in_rule;                   /* the slot is in a channel rule's options */
    char *name;                     /* NULL or "" = "default" */
    char *enabled_path, *name_path; /* key paths for messages (NULL when the key was not set) */
};

struct lc__proxy_refs {
    struct lc__proxy_ref *v;
    size_t n, cap;
};

/* Record the enabled value (enabled non-NULL) or the name (name non-NULL) for slot; path is
 * the key's path. 0 or LC_ENOMEM. */
int lc__config_ref_set(struct lc__proxy_refs *r, const lc_proxy_conf_t **slot, int use,
                       bool in_rule, const char *path, const bool *enabled, const char *name);
/* Forget the references whose slot lies in [lo, lo + size) (an array being replaced). */
void lc__config_refs_drop(struct lc__proxy_refs *r, const void *lo, size_t size);
void lc__config_refs_free(struct lc__proxy_refs *r);
/* Called before c->proxies is replaced by a new array: every option still pointing into old
 * (from an earlier load into the same config) is cleared and re-referenced by name, so that it
 * points into the new array after resolution. 0 or LC_ENOMEM. */
int lc__config_proxies_replaced(lc_config_t *c, struct lc__proxy_refs *r,
                                const lc_proxy_conf_t *old, size_t n_old);
/* Point every referenced slot at its proxy: the name ("default" = the section of the use, else
 * a proxies[] entry) must exist; an enabled reference needs a proxy with an endpoint and a
 * protocol that serves the use. 0 or LC_EINVAL / LC_ENOMEM with the key path in err. */
int lc__config_refs_resolve(lc_config_t *c, struct lc__proxy_refs *r, char *err, size_t errlen);

/* Warn about the options of a Proxy object that are accepted but not applied (gRPC options,
 * TLS client options, status code transforms). obj is the object's cJSON, path its key path. */
struct cJSON;
void lc__config_proxy_warn(const char *path, const struct cJSON *obj);

/* A proxy with the defaults: name "default", no endpoint, timeout 1s. */
void lc__config_proxy_init(lc_proxy_conf_t *p);
void lc__config_free_proxy(lc_proxy_conf_t *p);
/* The proxies embedded in lc_config_t: key path (e.g. "client.proxy.connect"), offset in
 * lc_config_t, and the enum lc__proxy_use a "default" name stands for (-1: connect and refresh,
 * which are not named). Terminated by an entry with path NULL. */
struct lc__proxy_section {
    const char *path;
    size_t off;
    int use;
};
extern const struct lc__proxy_section lc__config_proxy_sections[];
/* Proxy checks of lc_config_validate: sections, proxies[], rpc, and the proxies an options
 * struct points at (where names it). */
int lc__config_validate_proxies(const lc_config_t *c, char *err, size_t errlen);
int lc__config_validate_ns_proxies(const lc_ns_opts_t *ns, const char *where, char *err,
                                   size_t errlen);
/* The `map` options of a map-type namespace, and the map presence prefixes (config_map.c). */
int lc__config_validate_ns_map(const lc_config_t *c, const lc_ns_opts_t *ns, const char *where,
                               char *err, size_t errlen);
/* Spec §6.1 and §5.4 name rule: ^[-a-zA-Z0-9_.]{2,}$ */
bool lc__config_name_ok(const char *s);

/* Parse a config text (JSON with // and / * * / comments) into a cJSON object. 0, or
 * LC_EINVAL / LC_ENOMEM with a one-line message (line and column for syntax errors). */
int lc__config_parse(const char *json, size_t len, struct cJSON **out, char *err, size_t errlen);

/* A compiled channel rule pattern is a list of tokens (see lc_config_resolve_channel). */
enum lc__tok_kind {
    LC__TOK_LIT,  /* text: lit[off .. off+len) */
    LC__TOK_USER, /* $user */
    LC__TOK_SEG,  /* {name} or #name */
    LC__TOK_REST, /* *, always the last token */
};

struct lc__tok {
    enum lc__tok_kind kind;
    uint32_t off, len;
};

struct lc_channel_rule {
    char *name; /* the pattern as written */
    char *lit;  /* literal text of the pattern, unescaped; LIT tokens point into it */
    struct lc__tok *toks;
    size_t ntoks;
    lc_ns_opts_t opts; /* values of the options the rule sets */
    uint64_t set;      /* bit i: the rule sets lc__config_ns_keys[i] */
};

/* Root of the v6 layout and the channel options of one namespace ("name" excluded: it is only
 * valid inside channel.namespaces[]). Both are terminated by an entry with name NULL. */
extern const struct lc__key lc__config_root_keys[];
extern const struct lc__key lc__config_ns_keys[];

const struct lc__key *lc__config_key_find(const struct lc__key *table, const char *name);

/* A pre-v6 flat key: its v6 path, or NULL with a hint when the value has no single v6 home
 * (it is then ignored with a warning that shows the hint). enable: a switch the old key turned
 * on implicitly (a non-empty proxy endpoint enabled that proxy). each: an option of every
 * section proxy (lc__config_proxy_sections), set where the file does not set it. */
struct lc__legacy {
    const char *old;
    const char *v6;
    const char *hint;
    const char *enable;
    const char *each;
};

/* The top-level flat key named name, or NULL. */
const struct lc__legacy *lc__config_legacy_find(const char *name);
/* The v6 name of a pre-v6 namespace option (e.g. "proxy_subscribe"), or NULL. */
const char *lc__config_ns_legacy_find(const char *name);
/* Calls fn for every flat key that has a v6 path or an "each" option (used by the table
 * self-check). */
void lc__config_legacy_each(void (*fn)(const struct lc__legacy *l, void *arg), void *arg);

/* Find the key description of a dotted v6 path, and the struct its field lives in (c or
 * c->without_namespace). NULL when the path is not in the tables. */
const struct lc__key *lc__config_resolve(lc_config_t *c, const char *path, void **base);

/* ---- config_env.c: environment overrides ---- */

#define LC__ENV_PATH_MAX 256

/* One variable that sets a key. */
struct lc__env_var {
    char *name;                /* the variable's name, for messages */
    char *path;                /* the v6 key path it sets */
    const struct lc__key *key; /* its description */
    const char *value;         /* borrowed from envp */
    int rank;                  /* which of two variables for one path wins */
};

struct lc__env {
    struct cJSON *doc; /* the values as a config document */
    struct lc__env_var *v;
    size_t n, cap;
};

/* Read the CENTRIFUGO_ and LUCENT_ variables of envp (NULL-terminated "NAME=value" strings;
 * NULL = none) into e, warning about unknown CENTRIFUGO_ names. 0, or LC_EINVAL (a value
 * that cannot have its key's type, the variable named in err) / LC_ENOMEM; e is then empty. */
int lc__config_env_read(char *const *envp, struct lc__env *e, char *err, size_t errlen);
/* Move the members of src into dst: objects are merged, anything else replaces. */
void lc__config_env_merge(struct cJSON *dst, struct cJSON *src);
/* A loader message about a path a variable set ("http_server.port: ..." or below it) is
 * rewritten to name the variable. */
void lc__config_env_blame(const struct lc__env *e, char *err, size_t errlen);
void lc__config_env_free(struct lc__env *e);
/* Calls fn for every key path that a variable can set (the leaves of the tables). */
void lc__config_env_paths(void (*fn)(const char *path, const struct lc__key *k, void *arg),
                          void *arg);

/* Apply a parsed config document to c (as lc_config_load_string does after parsing): walk,
 * resolve proxy references, validate. */
int lc__config_load_tree(lc_config_t *c, const struct cJSON *root, char *err, size_t errlen);

/* config_pusher.c: pusher.apps (defaults, walk, validation, effective config, secrets). */
struct lc__walk;
void lc__config_pusher_defaults(lc_config_t *c);
void lc__config_pusher_free(lc_config_t *c);
bool lc__config_pusher_static(const char *p);
int lc__walk_pusher_apps(struct lc__walk *x, const struct lc__key *k, const struct cJSON *v);
int lc__config_pusher_validate(const lc_config_t *c, char *err, size_t errlen);
/* The apps as JSON for checkconfig --print, secrets masked unless show. NULL on OOM. */
struct cJSON *lc__config_pusher_dump(const lc_config_t *c, bool show);
/* Calls fn with "pusher.apps[i].secret" and the secret of every app (checkconfig --strict). */
void lc__config_pusher_secrets(const lc_config_t *c,
                               void (*fn)(const char *path, const char *value, void *arg),
                               void *arg);

/* config_ops.c: defaults and strings of c->ops. */
void lc__config_ops_defaults(lc_config_t *c);
void lc__config_ops_free(lc_config_t *c);
bool lc__config_ops_static(const char *p);
int lc__config_ops_validate(const lc_config_t *c, char *err, size_t errlen);
/* config_unsupported.c: refuse (LC_EINVAL, message via the walker) or warn about a key that is
 * recognised but has no effect here, when the value v switches it on. path is the v6 key
 * path. */
struct lc__walk;
int lc__config_unsupported(struct lc__walk *x, const char *path, const struct lc__key *k,
                           const struct cJSON *v);
/* A warning for an unknown key at x's path, with a "did you mean" when a known key is near;
 * table holds the keys valid at that place (NULL: unknown). Counted in c->ops.unknown_keys. */
void lc__config_unknown(struct lc__walk *x, const struct lc__key *table);
/* Closest known key path to path (edit distance), or NULL. */
const char *lc__config_suggest(const char *path, const struct lc__key *table, char *out,
                               size_t outlen);

/* Frees a string field unless it is one of the static defaults (see lc_config_set_string). */
void lc__config_free_str(char *p);
/* Write a message into err (when given) and return LC_EINVAL. */
int lc__config_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

void lc__config_free_ns(lc_ns_opts_t *ns);
/* Frees channel_regex and channel_re of ns and sets them NULL. */
void lc__config_free_ns_regex(lc_ns_opts_t *ns);
void lc__config_free_strs(char **v, size_t n);
void lc__config_free_rules(struct lc_channel_rule *r, size_t n);

/* Compile pattern into r->name, r->lit and r->toks (r zeroed by the caller; on failure what
 * was allocated stays in r for lc__config_free_rules). 0, LC_EINVAL (message in err) or
 * LC_ENOMEM. */
int lc__config_rule_compile(struct lc_channel_rule *r, const char *pattern, char *err,
                            size_t errlen);

/* Copy into o the options r sets. */
void lc__config_rule_overlay(lc_ns_opts_t *o, const struct lc_channel_rule *r);

/* Whether r matches the whole channel for user (NULL or "" = none). */
bool lc__config_rule_match(const struct lc_channel_rule *r, const char *ch, size_t len,
                           const char *user, size_t ulen);

/* A shared_poll namespace (config_spoll.c): its options, its refresh proxy, the HMAC key. */
int lc__config_validate_spoll(const lc_config_t *c, const lc_ns_opts_t *ns, const char *where,
                              char *err, size_t errlen);

#endif
