/* Memory engine map channels (v6.8 map subscriptions): per channel, the state (each key's
 * latest Publication, with its key, offset and score), the change stream subscribers catch up
 * from, and the epoch. Every write takes the channel's next offset under the shard lock and
 * is delivered there, so a channel's deliveries keep offset order.
 *
 * Keys with a TTL expire from the sweep each worker runs on its own timer over its share of
 * the shards (memory.c), and when their channel is touched: an expiry is a removal like any
 * other, with its offset, so subscribers and the stream see it.
 *
 * Writes may carry a per-key version (a write not above the stored one is suppressed, checked
 * before key_mode), an idempotency key (memory_map_idem.c) and stream_data, which the change
 * stream and the subscribers get while the state keeps the whole value. */
#include <stdlib.h>
#include <string.h>

#include "engine/memory_internal.h"
#include "util/err.h"
#include "util/log.h"

typedef struct mkey {
    lc_rcbuf_t *pub; /* the encoded Publication of the key's latest write */
    uint64_t offset;
    int64_t score;
    int64_t expire_ms; /* 0 = never */
    int holds;         /* presence holds: the key does not expire while > 0 */
    uint64_t version;  /* the last write's version (0 = none) and its epoch (NULL = "") */
    char *vepoch;
    size_t keylen;
    char key[];
} mkey_t;

typedef struct mchange {
    lc_rcbuf_t *pub;
    int64_t time_ms;
} mchange_t;

/* One map channel. Changes kept in the ring have consecutive offsets ending at top. */
struct lc__mapch {
    lc_map_t keys; /* key → mkey_t */
    uint64_t top;
    char epoch[LC__EPOCH_LEN + 1];
    int64_t touched_ms;     /* last write */
    int64_t next_expire_ms; /* earliest key expiry (INT64_MAX = none) */
    lc_map_opts_t opts;     /* of the last call */
    mchange_t *ring;
    size_t cap, head, n;
    lc__map_idem_t idem; /* results of idempotent writes */
    size_t chlen;
    char channel[];
};

static void mkey_free(mkey_t *k)
{
    lc_rcbuf_unref(k->pub);
    free(k->vepoch);
    free(k);
}

static void ring_drop_front(lc__mapch_t *m)
{
    lc_rcbuf_unref(m->ring[m->head].pub);
    m->head = (m->head + 1) % m->cap;
    m->n--;
}

static void mapch_free(lc__mapch_t *m)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&m->keys, &it, &k, &kl, &v))
        mkey_free(v);
    lc_map_free(&m->keys);
    while (m->n)
        ring_drop_front(m);
    free(m->ring);
    lc__map_idem_free(&m->idem);
    free(m);
}

void lc__shard_free_maps(lc__shard_t *sh)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&sh->maps, &it, &k, &kl, &v))
        mapch_free(v);
    lc_map_free(&sh->maps);
}

/* {"push":{"channel":<ch>,"pub":<pub>}} around an encoded Publication. */
static lc_rcbuf_t *make_push(lc__shard_t *sh, const lc__mapch_t *m, const lc_rcbuf_t *pub)
{
    static const char open[] = "{\"push\":{\"channel\":";
    static const char mid[] = ",\"pub\":";
    lc_buf_t *b = &sh->scratch;
    lc_buf_reset(b);
    if (lc_buf_append(b, open, sizeof(open) - 1) < 0 ||
        lc_buf_append_json_str(b, m->channel, m->chlen) < 0 ||
        lc_buf_append(b, mid, sizeof(mid) - 1) < 0 || lc_buf_append(b, pub->data, pub->len) < 0 ||
        lc_buf_append(b, "}}", 2) < 0)
        return NULL;
    return lc_rcbuf_from(b->data, b->len);
}

/* Keep pub (a new reference is taken) as the change at offset top. */
static int stream_append(lc__mapch_t *m, lc_rcbuf_t *pub, int64_t now)
{
    int size = m->opts.stream_size;
    if (size <= 0) {
        while (m->n)
            ring_drop_front(m);
        return 0;
    }
    if (m->cap != (size_t)size) {
        /* the namespace's stream_size changed (a reload): start a ring of the new size */
        mchange_t *nr = calloc((size_t)size, sizeof(*nr));
        if (!nr)
            return LC_ENOMEM;
        size_t keep = m->n < (size_t)size ? m->n : (size_t)size;
        while (m->n > keep)
            ring_drop_front(m);
        for (size_t i = 0; i < keep; i++)
            nr[i] = m->ring[(m->head + i) % m->cap];
        free(m->ring);
        m->ring = nr;
        m->cap = (size_t)size;
        m->head = 0;
        m->n = keep;
    }
    if (m->n == m->cap)
        ring_drop_front(m);
    m->ring[(m->head + m->n) % m->cap] = (mchange_t){lc_rcbuf_ref(pub), now};
    m->n++;
    return 0;
}

static void stream_expire(lc__mapch_t *m, int64_t now)
{
    if (m->opts.stream_ttl_ms <= 0)
        return;
    while (m->n && m->ring[m->head].time_ms + m->opts.stream_ttl_ms <= now)
        ring_drop_front(m);
}

/* The encoded Publication object of pub (NULL: no memory or no encoding). */
static lc_rcbuf_t *encode_pub(const lc_publication_t *pub)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *enc =
        lc_proto_encode_publication(&b, pub) == 0 ? lc_rcbuf_from(b.data, b.len) : NULL;
    lc_buf_free(&b);
    return enc;
}

/* Encode, store as the next offset, deliver. pub->key etc. are filled here. The stored
 * Publication is returned through *out when asked (a reference the caller owns). */
static int emit(lc_engine_t *e, lc__shard_t *sh, lc__mapch_t *m, lc_publication_t *pub,
                const lc_exclude_t *ex, int64_t now, lc_rcbuf_t **out)
{
    static const lc_exclude_t none = {0};
    pub->offset = m->top + 1;
    lc_rcbuf_t *enc = encode_pub(pub);
    if (!enc)
        return LC_ENOMEM;
    lc_rcbuf_t *push = make_push(sh, m, enc);
    if (!push || stream_append(m, enc, now) != 0) {
        lc_rcbuf_unref(push);
        lc_rcbuf_unref(enc);
        return LC_ENOMEM;
    }
    m->top++;
    m->touched_ms = now;
    if (e->sink.deliver)
        e->sink.deliver(e->sink.ctx, m->channel, m->chlen, LC_PUSH_PUB, m->top, push,
                        ex ? ex : &none);
    lc_rcbuf_unref(push);
    if (out)
        *out = enc;
    else
        lc_rcbuf_unref(enc);
    return 0;
}

/* Remove key k (already unlinked from m->keys by the caller) with a removal change, with the
 * tags a remove was given (a map remove proxy's result may stamp them). */
static void emit_removal(lc_engine_t *e, lc__shard_t *sh, lc__mapch_t *m, mkey_t *k,
                         const lc_exclude_t *ex, lc_raw_t tags, int64_t now)
{
    lc_publication_t pub;
    memset(&pub, 0, sizeof(pub));
    pub.key = k->key;
    pub.keylen = k->keylen;
    pub.removed = true;
    pub.tags = tags;
    /* A removal that cannot be encoded (no memory) still removes the key: subscribers then
     * keep a stale entry until they resync, which is what a lost delivery costs anyway. */
    emit(e, sh, m, &pub, ex, now, NULL);
    mkey_free(k);
}

/* Expire the channel's keys whose time has come. */
static void expire_keys(lc_engine_t *e, lc__shard_t *sh, lc__mapch_t *m, int64_t now)
{
    stream_expire(m, now);
    lc__map_idem_expire(&m->idem, now);
    if (now < m->next_expire_ms)
        return;
    int64_t next = INT64_MAX;
    lc_map_iter_t it = {0};
    const char *kk;
    size_t kl;
    void *v;
    while (lc_map_next(&m->keys, &it, &kk, &kl, &v)) {
        mkey_t *k = v;
        if (k->expire_ms == 0)
            continue;
        if (k->expire_ms <= now) {
            lc_map_del(&m->keys, kk, kl);
            emit_removal(e, sh, m, k, NULL, (lc_raw_t){0}, now);
        } else if (k->expire_ms < next) {
            next = k->expire_ms;
        }
    }
    m->next_expire_ms = next;
}

static bool mapch_dead(const lc__mapch_t *m, int64_t now)
{
    return lc_map_count(&m->keys) == 0 && m->n == 0 && m->opts.meta_ttl_ms > 0 &&
           m->touched_ms + m->opts.meta_ttl_ms <= now;
}

/* The channel, after its due expiries; created (with a new epoch) when create is set. */
static lc__mapch_t *mapch_get(lc_engine_t *e, lc__shard_t *sh, const char *ch, size_t chlen,
                              const lc_map_opts_t *opts, int64_t now, bool create, int *err)
{
    *err = 0;
    lc__mapch_t *m = lc_map_get(&sh->maps, ch, chlen);
    if (m) {
        m->opts = *opts;
        expire_keys(e, sh, m, now);
        if (mapch_dead(m, now)) {
            lc_map_del(&sh->maps, ch, chlen);
            mapch_free(m);
            m = NULL;
        }
    }
    if (m || !create)
        return m;
    m = calloc(1, sizeof(*m) + chlen + 1);
    if (!m) {
        *err = LC_ENOMEM;
        return NULL;
    }
    lc_map_init(&m->keys);
    lc__map_idem_init(&m->idem);
    memcpy(m->channel, ch, chlen);
    m->chlen = chlen;
    m->opts = *opts;
    m->touched_ms = now;
    m->next_expire_ms = INT64_MAX;
    if ((*err = lc__make_epoch(m->epoch)) != 0 ||
        (*err = lc_map_put(&sh->maps, ch, chlen, m, NULL)) != 0) {
        lc_map_free(&m->keys);
        lc__map_idem_free(&m->idem);
        free(m);
        return NULL;
    }
    return m;
}

static void set_expiry(lc__mapch_t *m, mkey_t *k, int64_t now)
{
    k->expire_ms = k->holds > 0 || m->opts.key_ttl_ms <= 0 ? 0 : now + m->opts.key_ttl_ms;
    if (k->expire_ms && k->expire_ms < m->next_expire_ms)
        m->next_expire_ms = k->expire_ms;
}

/* Whether a write of version `v` (epoch `ve`, NULL or "" = any) is stale for key k: not above
 * the version stored with the same epoch. Another epoch starts the versions over. */
static bool version_stale(const mkey_t *k, uint64_t v, const char *ve)
{
    if (v == 0 || !k)
        return false;
    bool same_epoch = !ve || !ve[0] || strcmp(ve, k->vepoch ? k->vepoch : "") == 0;
    return same_epoch && v <= k->version;
}

static void suppress(lc_map_write_res_t *res, const char *why)
{
    res->suppressed = true;
    res->suppress_reason = why;
}

/* A write of a key's value (not a removal): new or replacing, version kept with it. */
static int write_value(lc_engine_t *e, lc__shard_t *sh, lc__mapch_t *m, mkey_t *k,
                       const lc_map_write_req_t *req, int64_t now)
{
    if (!k && m->opts.max_keys > 0 && lc_map_count(&m->keys) >= (size_t)m->opts.max_keys)
        return LC_ETOOBIG;
    /* everything that can fail comes before the write is delivered */
    char *vepoch = NULL;
    if (req->version > 0 && !(vepoch = strdup(req->version_epoch ? req->version_epoch : "")))
        return LC_ENOMEM;
    lc_publication_t pub = req->pub;
    pub.key = req->key;
    pub.keylen = req->keylen;
    pub.removed = false;
    lc_rcbuf_t *state_enc = NULL;
    if (req->stream_data.p) {
        /* the state keeps pub.data at the offset the stream's change gets */
        pub.offset = m->top + 1;
        if (!(state_enc = encode_pub(&pub))) {
            free(vepoch);
            return LC_ENOMEM;
        }
        pub.data = req->stream_data;
    }
    bool fresh = k == NULL;
    if (fresh) {
        k = calloc(1, sizeof(*k) + req->keylen + 1);
        if (!k || (memcpy(k->key, req->key, req->keylen),
                   lc_map_put(&m->keys, k->key, req->keylen, k, NULL) != 0)) {
            free(k);
            free(vepoch);
            lc_rcbuf_unref(state_enc);
            return LC_ENOMEM;
        }
        k->keylen = req->keylen;
    }
    pub.key = k->key;
    lc_rcbuf_t *enc = NULL;
    int rc = emit(e, sh, m, &pub, &req->exclude, now, &enc);
    if (rc != 0) {
        if (fresh) {
            lc_map_del(&m->keys, k->key, k->keylen);
            free(k);
        }
        free(vepoch);
        lc_rcbuf_unref(state_enc);
        return rc;
    }
    lc_rcbuf_unref(k->pub);
    if (state_enc) {
        k->pub = state_enc;
        lc_rcbuf_unref(enc);
    } else {
        k->pub = enc;
    }
    k->offset = m->top;
    k->score = req->pub.score;
    k->holds += req->hold > 0 ? req->hold : 0;
    if (vepoch) {
        /* a write without a version keeps the stored one: a late older write stays stale */
        free(k->vepoch);
        k->vepoch = vepoch;
        k->version = req->version;
    }
    set_expiry(m, k, now);
    return 0;
}

/* The write itself, under the shard lock. */
static int map_write_locked(lc_engine_t *e, lc__shard_t *sh, const lc_map_write_req_t *req,
                            int64_t now, lc_map_write_res_t *res)
{
    int rc = 0;
    lc__mapch_t *m = mapch_get(e, sh, req->channel, req->chlen, &req->opts, now, true, &rc);
    if (!m)
        return rc;
    memcpy(res->pos.epoch, m->epoch, sizeof(m->epoch));
    const char *ik = req->idempotency_key && req->idempotency_key[0] ? req->idempotency_key : NULL;
    if (ik && lc__map_idem_get(&m->idem, ik, strlen(ik), now, &res->pos.offset)) {
        suppress(res, "idempotency"); /* a retry: the first write's position */
        return 0;
    }
    uint64_t top = m->top;
    mkey_t *k = lc_map_get(&m->keys, req->key, req->keylen);
    if (req->remove) {
        if (!k) {
            suppress(res, "key_not_found");
        } else {
            lc_map_del(&m->keys, req->key, req->keylen);
            emit_removal(e, sh, m, k, &req->exclude, req->pub.tags, now);
        }
    } else if (req->hold < 0) {
        /* a presence holder left: the key lives its TTL from now (or goes now without one) */
        suppress(res, "released");
        if (k && --k->holds <= 0) {
            k->holds = 0;
            if (m->opts.key_ttl_ms > 0) {
                set_expiry(m, k, now);
            } else {
                lc_map_del(&m->keys, req->key, req->keylen);
                emit_removal(e, sh, m, k, &req->exclude, (lc_raw_t){0}, now);
                res->suppressed = false;
                res->suppress_reason = NULL;
            }
        }
    } else if (version_stale(k, req->version, req->version_epoch)) {
        suppress(res, "version"); /* before key_mode, as Centrifugo's brokers check */
    } else if (k && req->key_mode == LC_MAP_KEY_IF_NEW) {
        suppress(res, "key_exists");
        k->holds += req->hold;
        set_expiry(m, k, now); /* a suppressed write still refreshes the key's lifetime */
    } else if (!k && req->key_mode == LC_MAP_KEY_IF_EXISTS) {
        suppress(res, "key_not_found");
    } else if ((rc = write_value(e, sh, m, k, req, now)) != 0) {
        return rc;
    }
    res->pos.offset = m->top;
    /* only a write that changed something is remembered (a suppressed one may be retried) */
    if (ik && m->top != top) {
        int64_t ttl = req->idempotent_ttl_ms > 0 ? req->idempotent_ttl_ms : LC__MAP_IDEM_TTL_MS;
        if (lc__map_idem_put(&m->idem, ik, strlen(ik), m->top, now + ttl) != 0)
            lc_log_warn("map %.*s: the result of idempotency key %s could not be kept (no memory)",
                        (int)m->chlen, m->channel, ik);
    }
    return 0;
}

/* The shard holding channel ch, and the engine's clock read once before its lock is taken:
 * how a write and a read of a map channel both begin. */
static lc__shard_t *map_shard(lc_engine_t *e, const char *ch, size_t len, int64_t *now)
{
    lc__memory_t *mem = lc_container_of(e, lc__memory_t, base);
    *now = mem->now_ms();
    return lc__shard_of(mem, ch, len);
}

int lc__memory_map_write(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb,
                         void *arg)
{
    if (!req->channel || req->chlen == 0 || !req->key || req->keylen == 0 ||
        (req->idempotency_key && strlen(req->idempotency_key) > LC_MAP_IDEM_KEY_MAX) ||
        (req->version_epoch && strlen(req->version_epoch) > LC_MAP_IDEM_KEY_MAX))
        return LC_EINVAL;
    int64_t now;
    lc__shard_t *sh = map_shard(e, req->channel, req->chlen, &now);
    lc_map_write_res_t res;
    memset(&res, 0, sizeof(res));
    uv_mutex_lock(&sh->mu);
    int rc = map_write_locked(e, sh, req, now, &res);
    if (sh->scratch.cap > LC__SCRATCH_KEEP)
        lc_buf_free(&sh->scratch);
    uv_mutex_unlock(&sh->mu);
    if (rc != 0)
        return rc;
    if (cb)
        cb(arg, 0, &res);
    return 0;
}

/* --- reading ------------------------------------------------------------------------------ */

/* State order: by score, highest first, when ordered; then by key bytes. */
static int key_cmp(const mkey_t *a, const mkey_t *b, bool ordered)
{
    if (ordered && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    size_t n = a->keylen < b->keylen ? a->keylen : b->keylen;
    int c = memcmp(a->key, b->key, n);
    if (c)
        return c;
    return a->keylen < b->keylen ? -1 : a->keylen > b->keylen;
}

static int cmp_by_key(const void *x, const void *y)
{
    return key_cmp(*(mkey_t *const *)x, *(mkey_t *const *)y, false);
}

static int cmp_by_score(const void *x, const void *y)
{
    return key_cmp(*(mkey_t *const *)x, *(mkey_t *const *)y, true);
}

/* A cursor is "<score>:<key>" of the last entry of the previous page: the next page starts
 * after that place, so keys written meanwhile neither repeat nor shift the pages. */
static int cursor_parse(const char *cur, mkey_t *out, size_t cap)
{
    char *end;
    long long score = strtoll(cur, &end, 10);
    if (end == cur || *end != ':')
        return LC_EINVAL;
    size_t kl = strlen(end + 1);
    if (kl == 0 || kl >= cap)
        return LC_EINVAL;
    out->score = score;
    out->keylen = kl;
    memcpy(out->key, end + 1, kl);
    return 0;
}

static int read_state(lc__mapch_t *m, const lc_map_read_req_t *req, lc_map_read_res_t *res,
                      lc_rcbuf_t ***pubs_out, lc_buf_t *cursor)
{
    size_t count = lc_map_count(&m->keys);
    res->num_keys = count;
    if (req->key) {
        mkey_t *k = lc_map_get(&m->keys, req->key, strlen(req->key));
        if (!k)
            return 0;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        lc_rcbuf_t **one = malloc(sizeof(*one));
        if (!one)
            return LC_ENOMEM;
        one[0] = lc_rcbuf_ref(k->pub);
        *pubs_out = one;
        res->n = 1;
        return 0;
    }
    union {
        mkey_t k;
        char space[sizeof(mkey_t) + 1024];
    } after;
    bool has_after = req->cursor && req->cursor[0];
    if (has_after && cursor_parse(req->cursor, &after.k, sizeof(after.space) - sizeof(mkey_t)) < 0)
        return LC_EINVAL;
    if (count == 0)
        return 0;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    mkey_t **all = malloc(count * sizeof(*all));
    if (!all)
        return LC_ENOMEM;
    size_t n = 0;
    lc_map_iter_t it = {0};
    const char *kk;
    size_t kl;
    void *v;
    while (lc_map_next(&m->keys, &it, &kk, &kl, &v))
        if ((!has_after || key_cmp(v, &after.k, m->opts.ordered) > 0) &&
            (req->max_offset == 0 || ((mkey_t *)v)->offset <= req->max_offset))
            all[n++] = v;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    qsort(all, n, sizeof(*all), m->opts.ordered ? cmp_by_score : cmp_by_key);
    size_t limit = req->limit > 0 ? (size_t)req->limit : n;
    size_t take = 0, bytes = 0;
    while (take < n && take < limit && (req->max_bytes == 0 || take == 0 || bytes < req->max_bytes))
        bytes += all[take++]->pub->len;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    lc_rcbuf_t **pubs = take ? malloc(take * sizeof(*pubs)) : NULL;
    if (take && !pubs) {
        free(all);
        return LC_ENOMEM;
    }
    for (size_t i = 0; i < take; i++)
        pubs[i] = lc_rcbuf_ref(all[i]->pub);
    int rc = 0;
    if (take < n) {
        const mkey_t *last = all[take - 1];
        rc = lc_buf_printf(cursor, "%lld:", (long long)last->score) < 0 ||
                     lc_buf_append(cursor, last->key, last->keylen) < 0 ||
                     lc_buf_putc(cursor, 0) < 0
                 ? LC_ENOMEM
                 : 0;
    }
    free(all);
    *pubs_out = pubs;
    res->n = take;
    return rc;
}

static int read_stream(lc__mapch_t *m, const lc_map_read_req_t *req, lc_map_read_res_t *res,
                       lc_rcbuf_t ***pubs_out)
{
    uint64_t first = m->top - m->n; /* the changes kept follow this offset */
    uint64_t since = req->has_since ? req->since.offset : first;
    if (req->has_since && req->since.epoch[0] && strcmp(req->since.epoch, m->epoch) != 0)
        return LC_EPOS;
    if (since < first || since > m->top)
        return LC_EPOS;
    size_t avail = (size_t)(m->top - since);
    size_t take = req->limit < 0 || (size_t)req->limit > avail ? avail : (size_t)req->limit;
    if (take == 0)
        return 0;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    lc_rcbuf_t **pubs = malloc(take * sizeof(*pubs));
    if (!pubs)
        return LC_ENOMEM;
    size_t skip = (size_t)(since - first);
    for (size_t i = 0; i < take; i++)
        pubs[i] = lc_rcbuf_ref(m->ring[(m->head + skip + i) % m->cap].pub);
    *pubs_out = pubs;
    res->n = take;
    return 0;
}

int lc__memory_map_read(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg)
{
    if (!req->channel || req->chlen == 0)
        return LC_EINVAL;
    int64_t now;
    lc__shard_t *sh = map_shard(e, req->channel, req->chlen, &now);
    lc_map_read_res_t res;
    memset(&res, 0, sizeof(res));
    lc_rcbuf_t **pubs = NULL;
    lc_buf_t cursor = LC_BUF_INIT;
    int err;

    uv_mutex_lock(&sh->mu);
    /* reading creates the channel: the position a subscriber starts from must stay its own */
    lc__mapch_t *m = mapch_get(e, sh, req->channel, req->chlen, &req->opts, now, true, &err);
    if (m) {
        res.top.offset = m->top;
        memcpy(res.top.epoch, m->epoch, sizeof(m->epoch));
        res.num_keys = lc_map_count(&m->keys);
        err = req->stream ? read_stream(m, req, &res, &pubs)
                          : read_state(m, req, &res, &pubs, &cursor);
    }
    uv_mutex_unlock(&sh->mu);
    if (!m)
        return err;
    size_t held = pubs ? res.n : 0; /* the references this call owns */
    if (err == 0) {
        res.pubs = pubs;
        res.n = held;
        res.cursor = cursor.len ? cursor.data : "";
        if (cb)
            cb(arg, 0, &res);
    } else if (err != LC_ENOMEM) {
        res.n = 0;
        res.cursor = "";
        if (cb)
            cb(arg, err, &res);
    }
    for (size_t i = 0; i < held; i++)
        lc_rcbuf_unref(pubs[i]);
    free(pubs);
    lc_buf_free(&cursor);
    return err == LC_ENOMEM ? err : 0;
}

int lc__memory_map_clear(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg)
{
    lc__memory_t *mem = lc_container_of(e, lc__memory_t, base);
    lc__shard_t *sh = lc__shard_of(mem, ch, chlen);
    uv_mutex_lock(&sh->mu);
    lc__mapch_t *m = lc_map_del(&sh->maps, ch, chlen);
    uv_mutex_unlock(&sh->mu);
    if (m)
        mapch_free(m);
    if (cb)
        cb(arg, 0);
    return 0;
}

void lc__shard_sweep_maps(lc_engine_t *e, lc__shard_t *sh, int64_t now)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&sh->maps, &it, &k, &kl, &v)) {
        lc__mapch_t *m = v;
        expire_keys(e, sh, m, now);
        if (mapch_dead(m, now)) {
            lc_map_del(&sh->maps, k, kl);
            mapch_free(m);
        }
    }
    if (sh->scratch.cap > LC__SCRATCH_KEEP)
        lc_buf_free(&sh->scratch);
}

size_t lc_engine_memory_num_maps(lc_engine_t *e)
{
    lc__memory_t *mem = lc_container_of(e, lc__memory_t, base);
    size_t n = 0;
    for (size_t i = 0; i < LC__SHARDS; i++) {
        uv_mutex_lock(&mem->shards[i].mu);
        n += lc_map_count(&mem->shards[i].maps);
        uv_mutex_unlock(&mem->shards[i].mu);
    }
    return n;
}
