/* The results of a map channel's idempotent writes (map_publish / map_remove with an
 * idempotency_key): a repeat within the result's TTL writes nothing and answers the first
 * write's offset. Only writes that changed something are remembered (as in Centrifugo's map
 * brokers), each until its TTL, and at most LC__MAP_IDEM_MAX per channel: beyond that the
 * oldest result is forgotten, so a flood of distinct keys costs bounded memory. Entries are
 * kept in a list in the order they were made, which is their expiry order as long as the TTL
 * stays the same; one with a shorter TTL behind a longer one is found expired on lookup. */
#include <stdlib.h>
#include <string.h>

#include "engine/memory_internal.h"
#include "util/err.h"

struct lc__map_idem_ent {
    lc__map_idem_ent_t *next, *prev;
    uint64_t offset;
    int64_t expire_ms;
    size_t keylen;
    char key[];
};

void lc__map_idem_init(lc__map_idem_t *c)
{
    memset(c, 0, sizeof(*c));
    lc_map_init(&c->by_key);
}

static void unlink_free(lc__map_idem_t *c, lc__map_idem_ent_t *en)
{
    lc_map_del(&c->by_key, en->key, en->keylen);
    if (en->prev)
        en->prev->next = en->next;
    else
        c->head = en->next;
    if (en->next)
        en->next->prev = en->prev;
    else
        c->tail = en->prev;
    free(en);
}

void lc__map_idem_free(lc__map_idem_t *c)
{
    while (c->head)
        unlink_free(c, c->head);
    lc_map_free(&c->by_key);
}

void lc__map_idem_expire(lc__map_idem_t *c, int64_t now)
{
    while (c->head && c->head->expire_ms <= now)
        unlink_free(c, c->head);
    if (!c->head && c->by_key.nbuckets) {
        lc_map_free(&c->by_key); /* nothing left: the buckets go too */
        lc_map_init(&c->by_key);
    }
}

bool lc__map_idem_get(lc__map_idem_t *c, const char *key, size_t len, int64_t now, uint64_t *offset)
{
    lc__map_idem_ent_t *en = lc_map_get(&c->by_key, key, len);
    if (!en)
        return false;
    if (en->expire_ms <= now) {
        unlink_free(c, en);
        return false;
    }
    *offset = en->offset;
    return true;
}

int lc__map_idem_put(lc__map_idem_t *c, const char *key, size_t len, uint64_t offset,
                     int64_t expire_ms)
{
    lc__map_idem_ent_t *old = lc_map_get(&c->by_key, key, len);
    if (old)
        unlink_free(c, old); /* an expired result of the same key made way for this one */
    while (lc_map_count(&c->by_key) >= LC__MAP_IDEM_MAX && c->head)
        unlink_free(c, c->head);
    lc__map_idem_ent_t *en = malloc(sizeof(*en) + len + 1);
    if (!en)
        return LC_ENOMEM;
    en->offset = offset;
    en->expire_ms = expire_ms;
    en->keylen = len;
    memcpy(en->key, key, len);
    en->key[len] = '\0';
    if (lc_map_put_ref(&c->by_key, en->key, len, en, NULL) != 0) {
        free(en);
        return LC_ENOMEM;
    }
    en->next = NULL;
    en->prev = c->tail;
    if (c->tail)
        c->tail->next = en;
    else
        c->head = en;
    c->tail = en;
    return 0;
}
