/* Presence in Redis: per channel a hash (client → user and ClientInfo) and a sorted set of
 * expiry times. Each worker remembers the entries its connections added and refreshes them
 * every presence_ttl / 3; entries of a node that stopped (even SIGKILL) expire presence_ttl
 * after its last refresh and are dropped by the next read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* One entry this worker keeps alive. The map key is channel NUL client. */
typedef struct lc__rpres {
    size_t chlen;
    char *value; /* "<len(user)>:<user><info>" as stored */
    size_t vlen;
} lc__rpres_t;

static void on_done(lc__rconn_t *c, redisReply *reply, void *arg)
{
    lc__redis_done_t *d = arg;
    if (d) {
        if (d->cb)
            d->cb(d->arg, !reply || reply->type == REDIS_REPLY_ERROR ? LC_EIO : 0);
        free(d);
    }
}

static int send_add(lc__redis_t *r, lc__rconn_t *c, const char *ch, size_t chlen,
                    const char *client, size_t clen, const char *value, size_t vlen,
                    lc__redis_done_t *d)
{
    lc_buf_t zkey = LC_BUF_INIT, hkey = LC_BUF_INIT;
    int rc = lc__redis_key(r, &zkey, "presence.expire", ch, chlen);
    if (!rc)
        rc = lc__redis_key(r, &hkey, "presence.data", ch, chlen);
    if (!rc) {
        char exp[24], ttl[24];
        int64_t t = r->rc->presence_ttl_ms;
        snprintf(exp, sizeof(exp), "%" PRId64, lc_now_ms() + t);
        /* The keys outlive their entries a little: a read drops the expired ones. */
        snprintf(ttl, sizeof(ttl), "%" PRId64, 2 * t);
        const char *argv[6] = {zkey.data, hkey.data, exp, client, value, ttl};
        size_t lens[6] = {zkey.len, hkey.len, strlen(exp), clen, vlen, strlen(ttl)};
        rc = lc__redis_script(c, LC__SCRIPT_PRES_ADD, on_done, d, 2, 6, argv, lens);
    }
    lc_buf_free(&zkey);
    lc_buf_free(&hkey);
    return rc;
}

static int entry_key(lc_buf_t *b, const char *ch, size_t chlen, const char *client)
{
    lc_buf_reset(b);
    if (lc_buf_append(b, ch, chlen) || lc_buf_putc(b, '\0') || lc_buf_append_str(b, client))
        return LC_ENOMEM;
    return 0;
}

static void entry_free(lc__rpres_t *p)
{
    if (p) {
        free(p->value);
        free(p);
    }
}

int lc__redis_presence_add(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                           const char *user, lc_rcbuf_t *info, lc_done_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!client || !user || !info)
        return LC_EINVAL;
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, ch, chlen, &err);
    lc__rslot_t *s = lc__redis_slot(r);
    if (!s)
        return LC_EINVAL;
    /* Remembered even while Redis is away: the next refresh stores it. */
    lc__rpres_t *p = malloc(sizeof(*p));
    lc_buf_t v = LC_BUF_INIT;
    if (!p || lc_buf_printf(&v, "%zu:%s", strlen(user), user) ||
        lc_buf_append(&v, info->data, info->len)) {
        free(p);
        lc_buf_free(&v);
        return LC_ENOMEM;
    }
    p->chlen = chlen;
    p->vlen = v.len;
    p->value = lc_buf_steal(&v);
    void *old = NULL;
    if (!p->value || entry_key(&s->scratch, ch, chlen, client) ||
        lc_map_put(&s->presence, s->scratch.data, s->scratch.len, p, &old)) {
        entry_free(p);
        return LC_ENOMEM;
    }
    entry_free(old);
    if (!c)
        return err;
    lc__redis_done_t *d = malloc(sizeof(*d));
    if (!d)
        return LC_ENOMEM;
    d->cb = cb;
    d->arg = arg;
    int rc = send_add(r, c, ch, chlen, client, strlen(client), p->value, p->vlen, d);
    if (rc)
        free(d);
    return rc;
}

typedef struct rem_call {
    lc__redis_done_t d;
    int left;
    int err;
} rem_call_t;

static void on_removed(lc__rconn_t *c, redisReply *reply, void *arg)
{
    rem_call_t *rc = arg;
    if (!reply || reply->type == REDIS_REPLY_ERROR)
        rc->err = LC_EIO;
    if (--rc->left > 0)
        return;
    if (rc->d.cb)
        rc->d.cb(rc->d.arg, rc->err);
    free(rc);
}

int lc__redis_presence_remove(lc_engine_t *e, const char *ch, size_t chlen, const char *client,
                              lc_done_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!client)
        return LC_EINVAL;
    lc__rslot_t *s = lc__redis_slot(r);
    if (!s)
        return LC_EINVAL;
    if (entry_key(&s->scratch, ch, chlen, client) == 0)
        entry_free(lc_map_del(&s->presence, s->scratch.data, s->scratch.len));
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, ch, chlen, &err);
    if (!c)
        return err;
    rem_call_t *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return LC_ENOMEM;
    rc->d.cb = cb;
    rc->d.arg = arg;
    lc_buf_t zkey = LC_BUF_INIT, hkey = LC_BUF_INIT;
    int res = lc__redis_key(r, &zkey, "presence.expire", ch, chlen);
    if (!res)
        res = lc__redis_key(r, &hkey, "presence.data", ch, chlen);
    if (!res) {
        const char *za[3] = {"ZREM", zkey.data, client};
        size_t zl[3] = {4, zkey.len, strlen(client)};
        const char *ha[3] = {"HDEL", hkey.data, client};
        size_t hl[3] = {4, hkey.len, strlen(client)};
        rc->left = 2;
        res = lc__rconn_cmd(c, on_removed, rc, 3, za, zl);
        if (!res && lc__rconn_cmd(c, on_removed, rc, 3, ha, hl) != 0)
            rc->left = 1; /* the first answers alone */
        else if (res)
            rc->left = 0;
    }
    lc_buf_free(&zkey);
    lc_buf_free(&hkey);
    if (res) {
        free(rc);
        return res;
    }
    return 0;
}

/* --- reads ----------------------------------------------------------------------------------- */

typedef struct get_call {
    lc_presence_cb cb;
    lc_presence_stats_cb stats_cb;
    void *arg;
} get_call_t;

static void on_presence(lc__rconn_t *c, redisReply *reply, void *arg)
{
    get_call_t *g = arg;
    if (!reply || reply->type != REDIS_REPLY_ARRAY) {
        if (reply && reply->type == REDIS_REPLY_ERROR)
            lc_log_error("redis presence: %.*s", (int)reply->len, reply->str);
        if (g->cb)
            g->cb(g->arg, LC_EIO, NULL);
        else
            g->stats_cb(g->arg, LC_EIO, 0, 0);
        free(g);
        return;
    }
    size_t n = reply->elements / 2, k = 0;
    lc_presence_entry_t *ents = calloc(n ? n : 1, sizeof(*ents));
    char *strs = NULL;
    size_t total = 0;
    for (size_t i = 0; i < reply->elements; i++)
        total += reply->element[i]->len + 1;
    strs = malloc(total ? total : 1);
    int err = ents && strs ? 0 : LC_ENOMEM;
    char *q = strs;
    for (size_t i = 0; !err && i < n; i++) {
        redisReply *id = reply->element[2 * i], *val = reply->element[2 * i + 1];
        if (id->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
            continue;
        const char *colon = memchr(val->str, ':', val->len);
        size_t ulen = colon ? strtoull(val->str, NULL, 10) : 0;
        if (!colon || ulen > val->len - (size_t)(colon - val->str) - 1)
            continue;
        lc_presence_entry_t *pe = &ents[k];
        memcpy(q, id->str, id->len);
        q[id->len] = '\0';
        pe->client = q;
        q += id->len + 1;
        memcpy(q, colon + 1, ulen);
        q[ulen] = '\0';
        pe->user = q;
        q += ulen + 1;
        const char *info = colon + 1 + ulen;
        pe->info = lc_rcbuf_from(info, val->len - (size_t)(info - val->str));
        if (!pe->info) {
            err = LC_ENOMEM;
            break;
        }
        k++;
    }
    if (g->cb) {
        lc_presence_res_t res = {ents, err ? 0 : k};
        g->cb(g->arg, err, &res);
    } else {
        /* Distinct users: a small map over this answer. */
        lc_map_t users;
        lc_map_init(&users);
        for (size_t i = 0; !err && i < k; i++)
            if (lc_map_put(&users, ents[i].user, strlen(ents[i].user), (void *)1, NULL) != 0)
                err = LC_ENOMEM;
        g->stats_cb(g->arg, err, err ? 0 : k, err ? 0 : lc_map_count(&users));
        lc_map_free(&users);
    }
    for (size_t i = 0; ents && i < k; i++)
        lc_rcbuf_unref(ents[i].info);
    free(ents);
    free(strs);
    free(g);
}

static int presence_get(lc__redis_t *r, const char *ch, size_t chlen, get_call_t *g)
{
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, ch, chlen, &err);
    if (!c)
        return err;
    lc_buf_t zkey = LC_BUF_INIT, hkey = LC_BUF_INIT;
    int rc = lc__redis_key(r, &zkey, "presence.expire", ch, chlen);
    if (!rc)
        rc = lc__redis_key(r, &hkey, "presence.data", ch, chlen);
    if (!rc) {
        char now[24];
        snprintf(now, sizeof(now), "%lld", (long long)lc_now_ms());
        const char *argv[3] = {zkey.data, hkey.data, now};
        size_t lens[3] = {zkey.len, hkey.len, strlen(now)};
        rc = lc__redis_script(c, LC__SCRIPT_PRES_GET, on_presence, g, 2, 3, argv, lens);
    }
    lc_buf_free(&zkey);
    lc_buf_free(&hkey);
    return rc;
}

int lc__redis_presence(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_cb cb, void *arg)
{
    get_call_t *g = calloc(1, sizeof(*g));
    if (!g)
        return LC_ENOMEM;
    g->cb = cb;
    g->arg = arg;
    int rc = presence_get(lc_container_of(e, lc__redis_t, base), ch, chlen, g);
    if (rc)
        free(g);
    // NOLINTNEXTLINE(clang-analyzer-unix.Malloc): on success the script call owns g (on_presence)
    return rc;
}

int lc__redis_presence_stats(lc_engine_t *e, const char *ch, size_t chlen, lc_presence_stats_cb cb,
                             void *arg)
{
    get_call_t *g = calloc(1, sizeof(*g));
    if (!g)
        return LC_ENOMEM;
    g->stats_cb = cb;
    g->arg = arg;
    int rc = presence_get(lc_container_of(e, lc__redis_t, base), ch, chlen, g);
    if (rc)
        free(g);
    // NOLINTNEXTLINE(clang-analyzer-unix.Malloc): on success the script call owns g (on_presence)
    return rc;
}

/* --- refresh --------------------------------------------------------------------------------- */

void lc__redis_presence_refresh(uv_timer_t *t)
{
    lc__rslot_t *s = t->data;
    lc__redis_t *r = s->r;
    if (s->closed)
        return;
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&s->presence, &it, &k, &kl, &v)) {
        lc__rpres_t *p = v;
        lc__rconn_t *c = &s->conns[lc__redis_shard_of(r, k, p->chlen)];
        if (!lc__rconn_ready(c))
            continue;
        const char *client = k + p->chlen + 1;
        send_add(r, c, k, p->chlen, client, kl - p->chlen - 1, p->value, p->vlen, NULL);
    }
}

void lc__redis_presence_free(lc__rslot_t *s)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&s->presence, &it, &k, &kl, &v))
        entry_free(v);
    lc_map_free(&s->presence);
}
