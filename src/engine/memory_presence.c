/* Memory engine presence (spec §1.6, §4.2): per channel, who is there (client id → user and
 * encoded ClientInfo) and how many distinct users that makes. A channel's set exists only
 * while it has entries. */
#include <stdlib.h>
#include <string.h>

#include "engine/memory_internal.h"
#include "util/err.h"

typedef struct pres_ent {
    lc_rcbuf_t *info;
    size_t userlen;
    char user[];
} pres_ent_t;

struct lc__presence {
    lc_map_t clients; /* client id → pres_ent_t */
    lc_map_t users;   /* user → how many of the channel's clients have it (uintptr_t) */
};

static void presence_free(lc__presence_t *p)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&p->clients, &it, &k, &kl, &v)) {
        pres_ent_t *ent = v;
        lc_rcbuf_unref(ent->info);
        free(ent);
    }
    lc_map_free(&p->clients);
    lc_map_free(&p->users);
    free(p);
}

/* Count one more client of user. 0 or LC_ENOMEM. */
static int user_inc(lc__presence_t *p, const char *user, size_t ulen)
{
    uintptr_t n = (uintptr_t)lc_map_get(&p->users, user, ulen);
    return lc_map_put(&p->users, user, ulen, (void *)(n + 1), NULL);
}

static void user_dec(lc__presence_t *p, const char *user, size_t ulen)
{
    uintptr_t n = (uintptr_t)lc_map_get(&p->users, user, ulen);
    if (n <= 1)
        lc_map_del(&p->users, user, ulen);
    else /* replacing the value of an existing key never allocates */
        lc_map_put(&p->users, user, ulen, (void *)(n - 1), NULL);
}

/* Free a channel's set once its last entry is gone. */
static void drop_if_empty(lc__shard_t *sh, const char *ch, size_t chlen, lc__presence_t *p)
{
    if (lc_map_count(&p->clients) > 0)
        return;
    lc_map_del(&sh->presence, ch, chlen);
    presence_free(p);
}

void lc__shard_free_presence(lc__shard_t *sh)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&sh->presence, &it, &k, &kl, &v))
        presence_free(v);
    lc_map_free(&sh->presence);
}

static int presence_put(lc__shard_t *sh, const char *ch, size_t chlen, const char *client,
                        const char *user, lc_rcbuf_t *info)
{
    size_t clen = strlen(client);
    size_t ulen = strlen(user);
    lc__presence_t *p = lc_map_get(&sh->presence, ch, chlen);
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p)
            return LC_ENOMEM;
        lc_map_init(&p->clients);
        lc_map_init(&p->users);
        if (lc_map_put(&sh->presence, ch, chlen, p, NULL) < 0) {
            free(p);
            return LC_ENOMEM;
        }
    }
    pres_ent_t *ent = malloc(sizeof(*ent) + ulen + 1);
    if (!ent)
        goto fail;
    memcpy(ent->user, user, ulen + 1);
    ent->userlen = ulen;
    ent->info = NULL;
    if (user_inc(p, user, ulen) < 0)
        goto fail;
    void *old;
    if (lc_map_put(&p->clients, client, clen, ent, &old) < 0) {
        user_dec(p, user, ulen);
        goto fail;
    }
    ent->info = info ? lc_rcbuf_ref(info) : NULL;
    if (old) {
        pres_ent_t *prev = old;
        user_dec(p, prev->user, prev->userlen);
        lc_rcbuf_unref(prev->info);
        free(prev);
    }
    return 0;
fail:
    free(ent);
    drop_if_empty(sh, ch, chlen, p);
    return LC_ENOMEM;
}

int lc__memory_presence_add(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                            const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg)
{
    if (!client)
        return LC_EINVAL;
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    lc__maybe_sweep(m, m->now_ms());
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);

    uv_mutex_lock(&sh->mu);
    int rc = presence_put(sh, ch, chlen, client, user ? user : "", info);
    uv_mutex_unlock(&sh->mu);
    if (rc < 0)
        return rc;
    if (cb)
        cb(arg, 0);
    return 0;
}

int lc__memory_presence_remove(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                               lc_done_cb cb, void *arg)
{
    if (!client)
        return LC_EINVAL;
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    lc__maybe_sweep(m, m->now_ms());
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);

    uv_mutex_lock(&sh->mu);
    lc__presence_t *p = lc_map_get(&sh->presence, ch, chlen);
    if (p) {
        pres_ent_t *ent = lc_map_del(&p->clients, client, strlen(client));
        if (ent) {
            user_dec(p, ent->user, ent->userlen);
            lc_rcbuf_unref(ent->info);
            free(ent);
            drop_if_empty(sh, ch, chlen, p);
        }
    }
    uv_mutex_unlock(&sh->mu);
    if (cb)
        cb(arg, 0);
    return 0;
}

/* Copy the set into one allocation (entries, then their strings) holding a reference to each
 * info, so the callback runs without the shard lock. NULL on OOM. */
static lc_presence_entry_t *snapshot(lc__presence_t *p, size_t *n_out)
{
    size_t n = lc_map_count(&p->clients);
    size_t size = n * sizeof(lc_presence_entry_t);
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&p->clients, &it, &k, &kl, &v))
        size += kl + 1 + ((pres_ent_t *)v)->userlen + 1;
    lc_presence_entry_t *out = malloc(size);
    if (!out)
        return NULL;
    char *str = (char *)(out + n);
    size_t i = 0;
    it = (lc_map_iter_t){0};
    while (lc_map_next(&p->clients, &it, &k, &kl, &v)) {
        pres_ent_t *ent = v;
        memcpy(str, k, kl + 1);
        out[i].client = str;
        str += kl + 1;
        memcpy(str, ent->user, ent->userlen + 1);
        out[i].user = str;
        str += ent->userlen + 1;
        out[i].info = ent->info ? lc_rcbuf_ref(ent->info) : NULL;
        i++;
    }
    *n_out = n;
    return out;
}

int lc__memory_presence(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_cb cb, void *arg)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    lc__maybe_sweep(m, m->now_ms());
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);
    lc_presence_res_t res = {0};
    lc_presence_entry_t *entries = NULL;

    uv_mutex_lock(&sh->mu);
    lc__presence_t *p = lc_map_get(&sh->presence, ch, chlen);
    if (p) {
        entries = snapshot(p, &res.n);
        if (!entries) {
            uv_mutex_unlock(&sh->mu);
            return LC_ENOMEM;
        }
    }
    uv_mutex_unlock(&sh->mu);

    res.entries = entries;
    size_t held = res.n; /* what this function holds, whatever the callback does to res */
    if (cb)
        cb(arg, 0, &res);
    for (size_t i = 0; i < held; i++)
        // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): snapshot filled entries[0, held)
        lc_rcbuf_unref(entries[i].info);
    free(entries);
    return 0;
}

int lc__memory_presence_stats(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_stats_cb cb,
                              void *arg)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    lc__maybe_sweep(m, m->now_ms());
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);
    uint64_t clients = 0, users = 0;

    uv_mutex_lock(&sh->mu);
    lc__presence_t *p = lc_map_get(&sh->presence, ch, chlen);
    if (p) {
        clients = lc_map_count(&p->clients);
        users = lc_map_count(&p->users);
    }
    uv_mutex_unlock(&sh->mu);
    if (cb)
        cb(arg, 0, clients, users);
    return 0;
}

size_t lc_engine_memory_num_presence_channels(lc_engine_t *e)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    size_t n = 0;
    for (size_t i = 0; i < LC__SHARDS; i++) {
        uv_mutex_lock(&m->shards[i].mu);
        n += lc_map_count(&m->shards[i].presence);
        uv_mutex_unlock(&m->shards[i].mu);
    }
    return n;
}
