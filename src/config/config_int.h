/* Internals shared by the files of the config module: the key tables that describe the v6
 * layout, the table of pre-v6 flat keys, and string ownership helpers. */
#ifndef LC_CONFIG_CONFIG_INT_H
#define LC_CONFIG_CONFIG_INT_H

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
    LC__K_NSARR,    /* channel.namespaces */
    LC__K_RULES,    /* top-level "channels" */
    LC__K_OBJARR,   /* array of objects walked with sub (unused keys only) */
    LC__K_ANYOBJ,   /* any object, contents not checked (maps, PRO sections) */
    LC__K_ANYARR,   /* any array, contents not checked */
    LC__K_ANY,      /* any JSON value */
};

#define LC__NOFIELD ((size_t)-1)

struct lc__key {
    const char *name;
    enum lc__key_kind kind;
    size_t off;
    size_t off2;
    int64_t min, max;
    const struct lc__key *sub; /* LC__K_OBJ, LC__K_OBJARR */
    const char *values;        /* LC__K_ENUM, LC__K_ENUMS: "a|b|c" ("" allowed as "|a") */
};

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
 * (it is then ignored with a warning that shows the hint). */
struct lc__legacy {
    const char *old;
    const char *v6;
    const char *hint;
};

/* The top-level flat key named name, or NULL. */
const struct lc__legacy *lc__config_legacy_find(const char *name);
/* The v6 name of a pre-v6 namespace option (e.g. "proxy_subscribe"), or NULL. */
const char *lc__config_ns_legacy_find(const char *name);
/* Calls fn for every flat key that has a v6 path (used by the table self-check). */
void lc__config_legacy_each(void (*fn)(const struct lc__legacy *l, void *arg), void *arg);

/* Find the key description of a dotted v6 path, and the struct its field lives in (c or
 * c->without_namespace). NULL when the path is not in the tables. */
const struct lc__key *lc__config_resolve(lc_config_t *c, const char *path, void **base);

/* Frees a string field unless it is one of the static defaults (see lc_config_set_string). */
void lc__config_free_str(char *p);

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

#endif
