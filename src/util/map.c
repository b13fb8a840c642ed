/* Hash map with separate chaining. Buckets double when the load passes 3/4; deleting never
 * shrinks them, so an iterator's saved position survives deleting the entry it just returned;
 * the owner shrinks explicitly (lc_map_shrink) when no iteration is in progress. */
#include "util/map.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

struct lc_map_entry {
    lc_map_entry_t *next;
    uint64_t hash;
    void *val;
    uint32_t klen;
    bool ref;   /* key[] holds a pointer to the caller's key (lc_map_put_ref) */
    char key[]; /* klen bytes plus a NUL, or the pointer */
};

static const char *entry_key(const lc_map_entry_t *e)
{
    if (!e->ref)
        return e->key;
    const char *k;
    memcpy(&k, e->key, sizeof(k));
    return k;
}

#define MAP_MIN_BUCKETS 16

uint64_t lc_hash(const void *key, size_t len)
{
    /* FNV-1a 64: stable across runs and processes, good enough for channel names */
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void lc_map_init(lc_map_t *m)
{
    m->buckets = NULL;
    m->nbuckets = 0;
    m->count = 0;
}

void lc_map_free(lc_map_t *m)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        lc_map_entry_t *e = m->buckets[i];
        while (e != NULL) {
            lc_map_entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    lc_map_init(m);
}

static lc_map_entry_t **map_slot(const lc_map_t *m, const void *key, size_t klen, uint64_t h)
{
    lc_map_entry_t **pp = &m->buckets[h & (m->nbuckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        lc_map_entry_t *e = *pp;
        if (e->hash == h && e->klen == klen && (klen == 0 || memcmp(entry_key(e), key, klen) == 0))
            return pp;
    }
    return pp;
}

void *lc_map_get(const lc_map_t *m, const void *key, size_t klen)
{
    if (m->nbuckets == 0)
        return NULL;
    lc_map_entry_t *e = *map_slot(m, key, klen, lc_hash(key, klen));
    return e != NULL ? e->val : NULL;
}

static int map_rehash(lc_map_t *m, size_t n)
{
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers, sized by its element
    lc_map_entry_t **nb = calloc(n, sizeof(*nb));
    if (nb == NULL)
        return LC_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        lc_map_entry_t *e = m->buckets[i];
        while (e != NULL) {
            lc_map_entry_t *next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = nb[j];
            nb[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->nbuckets = n;
    return 0;
}

static int map_grow(lc_map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : MAP_MIN_BUCKETS;
    if (n < m->nbuckets)
        return LC_ENOMEM;
    return map_rehash(m, n);
}

void lc_map_shrink(lc_map_t *m)
{
    size_t n = m->nbuckets;
    /* stop at a load of 3/8 at most, so the next inserts do not grow it straight back */
    while (n > MAP_MIN_BUCKETS && m->count * 16 < n * 3)
        n /= 2;
    if (n < m->nbuckets)
        (void)map_rehash(m, n); /* on ENOMEM the map simply stays as it was */
}

static int map_put(lc_map_t *m, const void *key, size_t klen, void *val, void **old, bool ref)
{
    if (old != NULL)
        *old = NULL;
    if (klen > UINT32_MAX)
        return LC_ENOMEM;
    uint64_t h = lc_hash(key, klen);
    if (m->nbuckets > 0) {
        lc_map_entry_t *e = *map_slot(m, key, klen, h);
        if (e != NULL) {
            if (old != NULL)
                *old = e->val;
            e->val = val;
            if (ref && e->ref)
                memcpy(e->key, &key, sizeof(key)); /* the new value's key from now on */
            return 0;
        }
    }
    /* grow before inserting so the load after the insert stays <= 3/4 */
    if (m->nbuckets == 0 || (m->count + 1) * 4 > m->nbuckets * 3) {
        int rc = map_grow(m);
        if (rc < 0)
            return rc;
    }
    lc_map_entry_t *e = malloc(sizeof(*e) + (ref ? sizeof(key) : klen + 1));
    if (e == NULL)
        return LC_ENOMEM;
    e->hash = h;
    e->val = val;
    e->klen = (uint32_t)klen;
    e->ref = ref;
    if (ref) {
        memcpy(e->key, &key, sizeof(key));
    } else {
        if (klen > 0)
            memcpy(e->key, key, klen);
        e->key[klen] = '\0';
    }
    size_t j = h & (m->nbuckets - 1);
    e->next = m->buckets[j];
    m->buckets[j] = e;
    m->count++;
    return 0;
}

int lc_map_put(lc_map_t *m, const void *key, size_t klen, void *val, void **old)
{
    return map_put(m, key, klen, val, old, false);
}

int lc_map_put_ref(lc_map_t *m, const char *key, size_t klen, void *val, void **old)
{
    return map_put(m, key, klen, val, old, true);
}

void *lc_map_del(lc_map_t *m, const void *key, size_t klen)
{
    if (m->nbuckets == 0)
        return NULL;
    lc_map_entry_t **pp = map_slot(m, key, klen, lc_hash(key, klen));
    lc_map_entry_t *e = *pp;
    if (e == NULL)
        return NULL;
    void *val = e->val;
    *pp = e->next;
    free(e);
    m->count--;
    return val;
}

size_t lc_map_count(const lc_map_t *m)
{
    return m->count;
}

int lc_map_next(const lc_map_t *m, lc_map_iter_t *it, const char **key, size_t *klen, void **val)
{
    /* it->next is the entry to return next; when NULL, the scan resumes at it->bucket.
     * The successor is saved before returning, so freeing the returned entry is safe. */
    lc_map_entry_t *e = it->next;
    while (e == NULL) {
        if (it->bucket >= m->nbuckets)
            return 0;
        e = m->buckets[it->bucket++];
    }
    it->next = e->next;
    if (key != NULL)
        *key = entry_key(e);
    if (klen != NULL)
        *klen = e->klen;
    if (val != NULL)
        *val = e->val;
    return 1;
}
