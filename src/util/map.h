/* Hash map from byte-string keys to pointers. The map copies keys (or borrows them, see
 * lc_map_put_ref); values are the caller's.
 * Not thread-safe: each worker owns its maps. */
#ifndef LC_UTIL_MAP_H
#define LC_UTIL_MAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct lc_map_entry lc_map_entry_t;
typedef struct lc_map {
    lc_map_entry_t **buckets;
    size_t nbuckets;
    size_t count;
} lc_map_t;

typedef struct lc_map_iter {
    size_t bucket;
    lc_map_entry_t *next;
} lc_map_iter_t;

uint64_t lc_hash(const void *key, size_t len); /* FNV-1a 64 (or better), stable across runs */

void lc_map_init(lc_map_t *m);
/* Frees the map's own memory (entries and key copies), not the values. */
void lc_map_free(lc_map_t *m);
void *lc_map_get(const lc_map_t *m, const void *key, size_t klen);
/* Insert or replace. *old (if non-NULL) receives the replaced value or NULL. 0 or LC_ENOMEM. */
int lc_map_put(lc_map_t *m, const void *key, size_t klen, void *val, void **old);
/* Like lc_map_put without copying the key: the entry points at key[0..klen), which must stay
 * valid and unchanged while the entry exists (a key held by the value itself, such as a
 * session's id). Saves the copy in maps with one entry per connection. Replacing the value of
 * an entry made this way points it at the new key. */
int lc_map_put_ref(lc_map_t *m, const char *key, size_t klen, void *val, void **old);
/* Remove; returns the removed value or NULL when absent. */
void *lc_map_del(lc_map_t *m, const void *key, size_t klen);
size_t lc_map_count(const lc_map_t *m);
/* Give back bucket memory after many deletions: halve the buckets while the load stays under
 * 3/16 (never below the minimum). Must not be called while an iteration is in progress. */
void lc_map_shrink(lc_map_t *m);
/* Iteration: lc_map_iter_t it = {0}; while (lc_map_next(m, &it, &k, &kl, &v)) ...
 * Deleting the entry just returned is allowed; other modifications during iteration are not.
 * The key pointer stays valid while the entry exists (a NUL-terminated copy, or the key given
 * to lc_map_put_ref). */
int lc_map_next(const lc_map_t *m, lc_map_iter_t *it, const char **key, size_t *klen, void **val);

#endif
