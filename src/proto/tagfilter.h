/* Publication tag filters (subscribe `tf`, Centrifugo's FilterNode): compiled once at
 * subscribe time from the JSON text both encodings carry, matched against a publication's
 * tags. Semantics follow Centrifugo v6: leaf `cmp` eq/neq/in/nin/ex/nex/sw/ew/ct/lt/lte/gt/gte
 * on tag `key`, `op` and/or/not over `nodes`. */
#ifndef LC_PROTO_TAGFILTER_H
#define LC_PROTO_TAGFILTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lc_tagfilter lc_tagfilter_t;

/* Bounds on what a client may send: nesting depth and total nodes / values. */
#define LC_TAGFILTER_MAX_DEPTH 16
#define LC_TAGFILTER_MAX_NODES 256

/* Compile the JSON text of a FilterNode. NULL when it is malformed or out of bounds (the
 * subscribe is refused), with a reason in *why. */
lc_tagfilter_t *lc_tagfilter_compile(const char *json, const char **why);
void lc_tagfilter_free(lc_tagfilter_t *f);

/* A publication's tags (string → string), read from the encoded push or Publication. */
typedef struct lc_tags lc_tags_t;
/* Parse the tags of an encoded push ({"push":{..,"pub":{..,"tags":{..}}}}) or Publication
 * ({..,"tags":{..}}); NULL when there are none or on error (then no tag exists). */
lc_tags_t *lc_tags_from_push(const char *p, size_t len);
lc_tags_t *lc_tags_from_pub(const char *p, size_t len);
void lc_tags_free(lc_tags_t *t);

bool lc_tagfilter_match(const lc_tagfilter_t *f, const lc_tags_t *tags);

#endif
