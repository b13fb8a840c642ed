/* History in Redis streams: one script call reads the position (creating the epoch when the
 * channel has none, as the memory engine does), drops publications older than history_ttl,
 * checks the since epoch and pages through the stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

typedef struct hist_call {
    lc_history_cb cb;
    void *arg;
} hist_call_t;

uint64_t lc__redis_int_of(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer > 0 ? (uint64_t)r->integer : 0;
    if (r->type == REDIS_REPLY_STRING)
        return strtoull(r->str, NULL, 10);
    return 0;
}

void lc__redis_script_failed(lc__rconn_t *c, const redisReply *reply, const char *what)
{
    if (!reply || reply->type != REDIS_REPLY_ERROR)
        return;
    lc_log_error("redis %s: %.*s", what, (int)reply->len, reply->str);
    if (reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0)
        lc__rconn_reset(c, "script cache flushed: reloading");
}

int lc__rpubs_take(lc__rpubs_t *ps, const redisReply *reply, size_t first)
{
    ps->p = ps->local;
    ps->n = 0;
    size_t n = reply->elements > first ? reply->elements - first : 0;
    if (n > sizeof(ps->local) / sizeof(ps->local[0])) {
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        ps->p = malloc(n * sizeof(*ps->p));
        if (!ps->p) {
            ps->p = ps->local;
            return LC_ENOMEM;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = reply->element[first + i];
        ps->p[i] = e->type == REDIS_REPLY_STRING ? lc_rcbuf_from(e->str, e->len) : NULL;
        if (!ps->p[i]) {
            ps->n = i;
            lc__rpubs_release(ps);
            return LC_ENOMEM;
        }
    }
    ps->n = n;
    return 0;
}

void lc__rpubs_release(lc__rpubs_t *ps)
{
    for (size_t k = 0; k < ps->n; k++)
        lc_rcbuf_unref(ps->p[k]);
    if (ps->p != ps->local)
        free(ps->p);
    ps->p = ps->local;
    ps->n = 0;
}

static void on_history(lc__rconn_t *c, redisReply *reply, void *arg)
{
    hist_call_t *h = arg;
    lc_history_res_t res = {0};
    lc__rpubs_t ps;
    ps.p = ps.local;
    ps.n = 0;
    int err = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 4 ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        lc__redis_script_failed(c, reply, "history");
        err = LC_EIO;
    } else {
        res.top.offset = lc__redis_int_of(reply->element[0]);
        snprintf(res.top.epoch, sizeof(res.top.epoch), "%s", reply->element[1]->str);
        res.first_offset = lc__redis_int_of(reply->element[2]);
        if (lc__redis_int_of(reply->element[3]))
            err = LC_EPOS;
        else if ((err = lc__rpubs_take(&ps, reply, 4)) == 0) {
            res.pubs = ps.p;
            res.n = ps.n;
        }
    }
    if (h->cb)
        h->cb(h->arg, err, &res);
    lc__rpubs_release(&ps); /* what this function holds, whatever the callback did to res */
    free(h);
}

int lc__redis_history(lc_engine_t *e, const lc_history_req_t *req, lc_history_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!req->channel || req->chlen == 0)
        return LC_EINVAL;
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, req->channel, req->chlen, &err);
    if (!c)
        return err;
    hist_call_t *h = malloc(sizeof(*h));
    if (!h)
        return LC_ENOMEM;
    h->cb = cb;
    h->arg = arg;
    lc_buf_t stream = LC_BUF_INIT, meta = LC_BUF_INIT;
    int rc = lc__redis_key(r, &stream, "stream", req->channel, req->chlen);
    if (!rc)
        rc = lc__redis_key(r, &meta, "meta", req->channel, req->chlen);
    if (!rc) {
        char epoch[LC__R_EPOCH_LEN + 1], mttl[24], now[24], ttl[24], since[24], limit[24];
        lc__redis_random_epoch(epoch);
        snprintf(mttl, sizeof(mttl), "%lld", (long long)req->opts.history_meta_ttl_ms);
        snprintf(now, sizeof(now), "%lld", (long long)lc_now_ms());
        snprintf(ttl, sizeof(ttl), "%lld", (long long)req->opts.history_ttl_ms);
        snprintf(since, sizeof(since), "%llu", (unsigned long long)req->since.offset);
        snprintf(limit, sizeof(limit), "%d", req->limit < 0 ? -1 : req->limit);
        const char *sep = req->has_since ? req->since.epoch : "";
        const char *argv[11] = {stream.data,
                                meta.data,
                                epoch,
                                mttl,
                                now,
                                ttl,
                                sep,
                                req->has_since ? "1" : "0",
                                since,
                                limit,
                                req->reverse ? "1" : "0"};
        size_t lens[11];
        lens[0] = stream.len;
        lens[1] = meta.len;
        for (int i = 2; i < 11; i++)
            lens[i] = strlen(argv[i]);
        rc = lc__redis_script(c, LC__SCRIPT_HISTORY, on_history, h, 2, 11, argv, lens);
    }
    lc_buf_free(&stream);
    lc_buf_free(&meta);
    if (rc)
        free(h);
    return rc;
}

static void on_removed(lc__rconn_t *c, redisReply *reply, void *arg)
{
    lc__redis_done_t *d = arg;
    if (d->cb)
        d->cb(d->arg, !reply || reply->type == REDIS_REPLY_ERROR ? LC_EIO : 0);
    free(d);
}

int lc__redis_history_remove(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, ch, chlen, &err);
    if (!c)
        return err;
    lc__redis_done_t *d = malloc(sizeof(*d));
    if (!d)
        return LC_ENOMEM;
    d->cb = cb;
    d->arg = arg;
    lc_buf_t stream = LC_BUF_INIT;
    int rc = lc__redis_key(r, &stream, "stream", ch, chlen);
    if (!rc) {
        /* The position (meta) stays: only the publications go. */
        const char *argv[2] = {"DEL", stream.data};
        size_t lens[2] = {3, stream.len};
        rc = lc__rconn_cmd(c, on_removed, d, 2, argv, lens);
    }
    lc_buf_free(&stream);
    if (rc)
        free(d);
    return rc;
}
