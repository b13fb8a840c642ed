/* The walker that applies a parsed config to an lc_config_t through the key tables, shared by
 * config_load.c (tables, flat keys, namespaces, rules) and config_load_proxy.c (proxies). */
#ifndef LC_CONFIG_CONFIG_WALK_H
#define LC_CONFIG_CONFIG_WALK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "config/internal.h"

enum lc__walk_mode {
    LC__WALK_PLAIN,
    LC__WALK_NS,       /* channel options (channel.without_namespace, top-level options) */
    LC__WALK_NS_ENTRY, /* one channel.namespaces[] entry: "name" is handled by the caller */
    LC__WALK_ENTRY,    /* one proxies[] or rpc.namespaces[] entry: "name" handled by the caller */
};

/* One load in progress. */
struct lc__walk {
    lc_config_t *c;
    char *err;
    size_t errlen;
    char path[512]; /* key path of the value being applied, for messages */
    size_t plen;
    char **set; /* v6 paths set by the file, so that a flat key never overrides them */
    size_t nset, capset;
    bool record;
    bool in_rule;               /* walking a channel rule */
    struct lc__proxy_refs refs; /* resolved once the whole file is read */
};

/* The field a key describes, in the struct at base. */
#define LC__FIELD(type, base, k) ((type *)(void *)((char *)(base) + (k)->off))

/* Error at the current path: writes "path: message" and returns LC_EINVAL. */
int lc__walk_bad(struct lc__walk *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes "path: out of memory" and returns LC_ENOMEM. */
int lc__walk_nomem(struct lc__walk *x);
/* For a key holding an array of objects (namespaces, rules, proxies, Pusher apps): a zeroed
 * array of as many elem-sized entries (at least one, so that an empty list is not taken for a
 * failed allocation). NULL with *rc set when v is no array ("expected an array of <what>",
 * LC_EINVAL) or on LC_ENOMEM. */
void *lc__walk_new_array(struct lc__walk *x, const cJSON *v, size_t elem, const char *what,
                         int *rc);
/* Append ".key" or "[i]" to the path; the returned mark goes to lc__walk_restore. */
size_t lc__walk_key(struct lc__walk *x, const char *key);
size_t lc__walk_index(struct lc__walk *x, size_t i);
void lc__walk_restore(struct lc__walk *x, size_t mark);
/* Remember that the current path was set by the file (first pass only). 0 or LC_ENOMEM. */
int lc__walk_record(struct lc__walk *x);
/* Apply every member of obj through table to the struct at base. */
int lc__walk_object(struct lc__walk *x, const struct lc__key *table, void *base, const cJSON *obj,
                    enum lc__walk_mode mode);

/* config_load_proxy.c: the proxy kinds of the tables (LC__K_PROXY, LC__K_PROXIES,
 * LC__K_RPCNSARR, LC__K_PROXY_ENABLED, LC__K_HEADERS). */
int lc__walk_proxy(struct lc__walk *x, const struct lc__key *k, void *base, const cJSON *v);
int lc__walk_proxies(struct lc__walk *x, const struct lc__key *k, const cJSON *v);
int lc__walk_rpc_namespaces(struct lc__walk *x, const struct lc__key *k, const cJSON *v);
int lc__walk_proxy_enabled(struct lc__walk *x, lc_proxy_conf_t *p, const cJSON *v);
int lc__walk_static_headers(struct lc__walk *x, lc_proxy_conf_t *p, const cJSON *v);

#endif
