/* The Redis map broker: map channels (engine.h map_write / map_read / map_clear) in Redis,
 * so every node serves the same state and stream. Layout and scripts: redis_map_scripts.c.
 *
 * A write is one script call on the channel's shard: idempotency, version and key-mode
 * checks, the next offset, state and index, the key's expiry, the stream, and the PUBLISH of
 * the delivery in the broker's envelope, so the broker (redis_pubsub.c) hands it to every
 * node's subscribers in offset order like any publication. Reads page the state through the
 * index with a cursor "<score>:<key>" (the last entry given) or read the stream.
 *
 * Key expiry: worker 0 runs the cleanup script every map_broker.redis.cleanup_interval on
 * each shard; it removes due keys of the channels in the shard's cleanup set, each removal a
 * change with its offset, atomically (several nodes cleaning at once never remove twice).
 *
 * Presence holds are counted by the worker that took them (its connections' joins and leaves
 * run there), never in Redis: while a key is held here the worker re-touches its expiry every
 * key_ttl / 3, in one script call per shard and round; when the last hold of this worker goes
 * it stops, and the key expires key_ttl after the last holder on any node stopped — also when
 * that node died. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/err.h"
#include "util/log.h"

/* A cursor's key is at most this long (map keys are bounded far below by map.max_key_length). */
#define CURSOR_KEY_MAX 4096
/* Hold refreshes per script call. */
#define TOUCH_BATCH 100
#ifndef LC_MAP_IDEM_KEY_MAX
/* idempotency_key and version_epoch are kept in Redis: bounded as by the memory engine */
#define LC_MAP_IDEM_KEY_MAX 256
#endif

typedef struct mcall {
    lc_map_write_cb wcb;
    lc_map_read_cb rcb;
    lc_done_cb dcb;
    void *arg;
    bool ordered;
    bool bad_cursor; /* answered LC_EINVAL (after a cheap round trip: answers come later) */
    /* With Sentinel a write is acknowledged once a replica has it (WAIT 1, as publications
     * are): the script's outcome waits here for the WAIT's reply. */
    bool wait;
    int err;
    lc_map_write_res_t res;
} mcall_t;

#define WAIT_REPLICA_MS "1000"

/* A key this worker holds (presence): how many holds, and when to refresh it next. */
typedef struct rhold {
    int count;
    int shard;
    int64_t ttl_ms;
    uint64_t next_ms; /* loop time */
    char ttl[24];
    size_t chlen, keylen;
    char ck[]; /* channel NUL key NUL */
} rhold_t;

static int key_of(lc__redis_t *r, lc_buf_t *b, const char *name)
{
    lc_buf_reset(b);
    return lc_buf_printf(b, "%s.map.%s", r->rc->prefix, name) != 0 ? LC_ENOMEM : 0;
}

/* --- writes -------------------------------------------------------------------------------- */

/* The Publication in two halves around its offset, in the encoder's field order (data, info,
 * offset, tags, key, removed, score): head ends with `"offset":`. */
static int split_pub(const lc_publication_t *pub, lc_buf_t *head, lc_buf_t *tail)
{
    lc_publication_t h = {0};
    h.data = pub->data;
    h.info = pub->info;
    int rc = lc_proto_encode_publication(head, &h);
    if (rc < 0)
        return rc;
    head->len--; /* the closing brace */
    if ((head->len > 1 && lc_buf_putc(head, ',') < 0) || lc_buf_append_str(head, "\"offset\":") < 0)
        return LC_ENOMEM;
    lc_publication_t t = *pub;
    t.data = (lc_raw_t){0};
    t.info = NULL;
    t.offset = 0;
    rc = lc_proto_encode_publication(tail, &t);
    if (rc < 0)
        return rc;
    if (tail->len > 2)
        tail->data[0] = ','; /* {"key":..} → ,"key":..} */
    else
        lc_buf_consume(tail, 1);
    return 0;
}

static const char *reason_of(const redisReply *r)
{
    static const char *const known[] = {"key_exists", "key_not_found", "version", "idempotency",
                                        "released"};
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (r->len == strlen(known[i]) && memcmp(r->str, known[i], r->len) == 0)
            return known[i];
    return "suppressed";
}

static void on_written(lc__rconn_t *c, redisReply *reply, void *arg)
{
    mcall_t *m = arg;
    lc_map_write_res_t res;
    memset(&res, 0, sizeof(res));
    int err = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[2]->type != REDIS_REPLY_STRING) {
        lc__redis_script_failed(c, reply, "map write");
        err = LC_EIO;
    } else {
        res.pos.offset = lc__redis_int_of(reply->element[0]);
        snprintf(res.pos.epoch, sizeof(res.pos.epoch), "%s", reply->element[1]->str);
        const redisReply *why = reply->element[2];
        if (why->len == 7 && memcmp(why->str, "too_big", 7) == 0) {
            err = LC_ETOOBIG;
        } else if (why->len > 0) {
            res.suppressed = true;
            res.suppress_reason = reason_of(why);
        }
    }
    if (m->wait) {
        m->err = err;
        m->res = res;
        return; /* on_replicated answers */
    }
    if (m->wcb)
        m->wcb(m->arg, err, &res);
    free(m);
}

static void on_replicated(lc__rconn_t *c, redisReply *reply, void *arg)
{
    (void)c;
    mcall_t *m = arg;
    int err = m->err;
    if (!err && !m->res.suppressed &&
        (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer < 1)) {
        lc_log_error("redis map write: no replica confirmed the write");
        err = LC_EIO;
    }
    if (m->wcb)
        m->wcb(m->arg, err, &m->res);
    free(m);
}

/* The hold bookkeeping of a write: which operation the script does ("w", "r", "x", "h"). */
static const char *hold_op(lc__rslot_t *s, const lc_map_write_req_t *req, int shard)
{
    char stack[512];
    size_t kl = req->chlen + 1 + req->keylen;
    char *k = kl <= sizeof(stack) ? stack : malloc(kl);
    if (!k)
        return req->remove ? "r" : req->hold < 0 ? "x" : "w";
    memcpy(k, req->channel, req->chlen);
    k[req->chlen] = '\0';
    memcpy(k + req->chlen + 1, req->key, req->keylen);
    const char *op = "w";
    rhold_t *h = lc_map_get(&s->map_holds, k, kl);
    if (req->remove) {
        op = "r";
        free(lc_map_del(&s->map_holds, k, kl)); /* the entry goes, whoever held it */
    } else if (req->hold < 0) {
        op = "x";
        if (h && --h->count > 0)
            op = "h"; /* another connection of this worker still holds it */
        else
            free(lc_map_del(&s->map_holds, k, kl));
    } else if (req->hold > 0) {
        if (!h) {
            h = calloc(1, sizeof(*h) + kl + 1);
            if (h) {
                h->shard = shard;
                memcpy(h->ck, k, kl);
                h->chlen = req->chlen;
                h->keylen = req->keylen;
                if (lc_map_put(&s->map_holds, h->ck, kl, h, NULL) != 0) {
                    free(h);
                    h = NULL;
                }
            }
        }
        if (h) {
            h->count += req->hold;
            h->ttl_ms = req->opts.key_ttl_ms;
            snprintf(h->ttl, sizeof(h->ttl), "%lld", (long long)h->ttl_ms);
            h->next_ms = uv_now(s->loop) + (uint64_t)(h->ttl_ms / 3);
            uint64_t tick = h->ttl_ms > 0 ? (uint64_t)h->ttl_ms / 3 : 1000;
            if (tick < 50)
                tick = 50;
            if (tick < s->map_tick_ms) {
                s->map_tick_ms = tick;
                uv_timer_start(&s->map_timer, lc__redis_map_touch_tick, tick, tick);
            }
        }
    }
    if (k != stack)
        free(k);
    return op;
}

int lc__redis_map_write(lc_engine_t *e, const lc_map_write_req_t *req, lc_map_write_cb cb,
                        void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!req->channel || req->chlen == 0 || !req->key || req->keylen == 0 ||
        (req->idempotency_key && strlen(req->idempotency_key) > LC_MAP_IDEM_KEY_MAX) ||
        (req->version_epoch && strlen(req->version_epoch) > LC_MAP_IDEM_KEY_MAX))
        return LC_EINVAL;
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, req->channel, req->chlen, &err);
    if (!c)
        return err;
    mcall_t *m = calloc(1, sizeof(*m));
    if (!m)
        return LC_ENOMEM;
    m->wcb = cb;
    m->arg = arg;
    static const lc_exclude_t none = {0};
    lc_buf_t cl = LC_BUF_INIT, result = LC_BUF_INIT, head = LC_BUF_INIT, shead = LC_BUF_INIT;
    lc_buf_t tail = LC_BUF_INIT, env = LC_BUF_INIT, mid = LC_BUF_INIT;
    bool idem = req->idempotency_key && req->idempotency_key[0];
    bool write = !req->remove && req->hold >= 0;
    lc_publication_t pub = {0};
    if (write) {
        pub = req->pub;
    } else {
        pub.removed = true;
    }
    pub.key = req->key;
    pub.keylen = req->keylen;
    pub.offset = 0;
    int rc = key_of(r, &cl, "cleanup");
    if (!rc && idem) {
        rc = lc__redis_key(r, &result, "map.result", req->channel, req->chlen);
        if (!rc && (lc_buf_putc(&result, '.') || lc_buf_append_str(&result, req->idempotency_key)))
            rc = LC_ENOMEM;
    }
    if (!rc)
        rc = split_pub(&pub, &head, &tail);
    if (!rc && write && req->stream_data.p) {
        lc_publication_t sp = pub;
        sp.data = req->stream_data;
        lc_buf_t stail = LC_BUF_INIT;
        rc = split_pub(&sp, &shead, &stail);
        lc_buf_free(&stail);
    }
    /* the envelope "L1 P 0 <nclients> <nusers>\n<ids>" without its "L1 P 0" (the script
     * puts the offset there), then the push up to the pub */
    if (!rc)
        rc = lc__broker_envelope(&env, 'P', write || req->remove ? &req->exclude : &none);
    if (!rc && (lc_buf_append(&mid, env.data + 6, env.len - 6) < 0 ||
                lc_buf_append_str(&mid, "{\"push\":{\"channel\":") < 0 ||
                lc_buf_append_json_str(&mid, req->channel, req->chlen) < 0 ||
                lc_buf_append_str(&mid, ",\"pub\":") < 0))
        rc = LC_ENOMEM;
    if (rc)
        goto done;
    char score[24], maxk[16], ver[24], ss[16], st[24], mt[24], kt[24], rttl[24];
    char epoch[LC__R_EPOCH_LEN + 1];
    m->ordered = req->opts.ordered;
    snprintf(score, sizeof(score), "%lld", req->opts.ordered ? -(long long)req->pub.score : 0LL);
    snprintf(maxk, sizeof(maxk), "%d", write ? req->opts.max_keys : 0);
    snprintf(ver, sizeof(ver), "%llu", write ? (unsigned long long)req->version : 0ULL);
    snprintf(ss, sizeof(ss), "%d", req->opts.stream_size > 0 ? req->opts.stream_size : 0);
    snprintf(st, sizeof(st), "%lld", (long long)req->opts.stream_ttl_ms);
    snprintf(mt, sizeof(mt), "%lld", (long long)req->opts.meta_ttl_ms);
    snprintf(kt, sizeof(kt), "%lld", (long long)req->opts.key_ttl_ms);
    int64_t ittl =
        req->idempotent_ttl_ms > 0 ? req->idempotent_ttl_ms : r->cfg->map_idempotent_result_ttl_ms;
    snprintf(rttl, sizeof(rttl), "%lld", (long long)(ittl > 0 ? ittl : 300000));
    lc__redis_random_epoch(epoch);
    const char *mode = !write || req->key_mode == LC_MAP_KEY_ANY ? ""
                       : req->key_mode == LC_MAP_KEY_IF_NEW      ? "n"
                                                                 : "e";
    lc__rslot_t *s = lc__redis_slot(r);
    const char *op = hold_op(s, req, c->shard);
    const char *vep = write && req->version_epoch ? req->version_epoch : "";
    const char *argv[21] = {cl.data,
                            idem ? result.data : cl.data,
                            r->rc->prefix,
                            NULL,
                            NULL,
                            op,
                            head.data,
                            shead.len ? shead.data : "",
                            tail.data,
                            score,
                            mode,
                            maxk,
                            ver,
                            vep,
                            ss,
                            st,
                            mt,
                            kt,
                            epoch,
                            mid.data,
                            idem ? rttl : ""};
    size_t lens[21];
    for (int i = 0; i < 21; i++)
        lens[i] = argv[i] ? strlen(argv[i]) : 0;
    argv[3] = req->channel;
    lens[3] = req->chlen;
    argv[4] = req->key;
    lens[4] = req->keylen;
    lens[0] = cl.len;
    lens[1] = idem ? result.len : cl.len;
    lens[6] = head.len;
    lens[7] = shead.len;
    lens[8] = tail.len;
    lens[19] = mid.len;
    m->wait = r->rc->n_sentinel_addresses > 0;
    rc = lc__redis_script(c, LC__SCRIPT_MAP_WRITE, on_written, m, 2, 21, argv, lens);
    if (!rc && m->wait) {
        const char *wv[3] = {"WAIT", "1", WAIT_REPLICA_MS};
        size_t wl[3] = {4, 1, strlen(WAIT_REPLICA_MS)};
        if (lc__rconn_cmd(c, on_replicated, m, 3, wv, wl) != 0) {
            /* the script is on its way: its reply frees m, unconfirmed = an error now */
            m->wait = false;
            m->wcb = NULL;
            if (cb)
                cb(arg, LC_EIO, &m->res);
        }
    }
done:
    lc_buf_free(&cl);
    lc_buf_free(&result);
    lc_buf_free(&head);
    lc_buf_free(&shead);
    lc_buf_free(&tail);
    lc_buf_free(&env);
    lc_buf_free(&mid);
    if (rc)
        free(m);
    return rc;
}

/* --- reads --------------------------------------------------------------------------------- */

static void on_read(lc__rconn_t *c, redisReply *reply, void *arg)
{
    mcall_t *m = arg;
    lc_map_read_res_t res;
    memset(&res, 0, sizeof(res));
    res.cursor = "";
    lc__rpubs_t ps;
    ps.p = ps.local;
    ps.n = 0;
    char cursor[64 + CURSOR_KEY_MAX];
    int err = 0;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements < 6 ||
        reply->element[1]->type != REDIS_REPLY_STRING ||
        reply->element[4]->type != REDIS_REPLY_STRING ||
        reply->element[5]->type != REDIS_REPLY_STRING) {
        lc__redis_script_failed(c, reply, "map read");
        err = LC_EIO;
        goto answer;
    }
    res.top.offset = lc__redis_int_of(reply->element[0]);
    snprintf(res.top.epoch, sizeof(res.top.epoch), "%s", reply->element[1]->str);
    res.num_keys = (size_t)lc__redis_int_of(reply->element[2]);
    if (lc__redis_int_of(reply->element[3]) || m->bad_cursor) {
        err = m->bad_cursor ? LC_EINVAL : LC_EPOS;
        goto answer;
    }
    if ((err = lc__rpubs_take(&ps, reply, 6)) != 0)
        goto answer;
    res.pubs = ps.p;
    res.n = ps.n;
    const redisReply *ck = reply->element[5];
    if (ck->len > 0 && ck->len <= CURSOR_KEY_MAX) {
        /* the index holds -score when ordered, 0 otherwise */
        double idx = strtod(reply->element[4]->str, NULL);
        long long score = m->ordered ? -(long long)(idx < 0 ? idx - 0.5 : idx + 0.5) : 0;
        snprintf(cursor, sizeof(cursor), "%lld:%.*s", score, (int)ck->len, ck->str);
        res.cursor = cursor;
    }
answer:
    if (m->rcb)
        m->rcb(m->arg, err, &res);
    lc__rpubs_release(&ps); /* what this function holds, whatever the callback did to res */
    free(m);
}

/* "<score>:<key>" → the index score (as the index keeps it) and the key. */
static int cursor_parse(const char *cur, bool ordered, char *score, size_t cap, const char **key)
{
    char *end;
    long long v = strtoll(cur, &end, 10);
    if (end == cur || *end != ':' || end[1] == '\0' || strlen(end + 1) > CURSOR_KEY_MAX)
        return LC_EINVAL;
    snprintf(score, cap, "%lld", ordered ? -v : 0LL);
    *key = end + 1;
    return 0;
}

int lc__redis_map_read(lc_engine_t *e, const lc_map_read_req_t *req, lc_map_read_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!req->channel || req->chlen == 0)
        return LC_EINVAL;
    char score[24] = "0", epoch[LC__R_EPOCH_LEN + 1], mt[24], limit[16], maxb[24], maxo[24];
    char st[24];
    const char *after = "", *op = req->stream ? "t" : req->key ? "k" : "s";
    bool has = false, bad = false;
    if (req->stream) {
        has = req->has_since;
        snprintf(score, sizeof(score), "%llu", (unsigned long long)req->since.offset);
        after = req->has_since ? req->since.epoch : "";
    } else if (req->key) {
        after = req->key;
    } else if (req->cursor && req->cursor[0]) {
        has = true;
        if (cursor_parse(req->cursor, req->opts.ordered, score, sizeof(score), &after) != 0) {
            /* not a cursor: a read of no key, answered LC_EINVAL on the loop like any answer */
            bad = true;
            op = "k";
            after = "";
            has = false;
        }
    }
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, req->channel, req->chlen, &err);
    if (!c)
        return err;
    mcall_t *m = calloc(1, sizeof(*m));
    if (!m)
        return LC_ENOMEM;
    m->rcb = cb;
    m->arg = arg;
    m->ordered = req->opts.ordered;
    m->bad_cursor = bad;
    /* a state page is bounded by its limit whatever the caller passed */
    int lim = req->stream ? (req->limit < 0 ? -1 : req->limit)
                          : (req->limit > 0 && req->limit < 10000 ? req->limit : 10000);
    lc__redis_random_epoch(epoch);
    snprintf(mt, sizeof(mt), "%lld", (long long)req->opts.meta_ttl_ms);
    snprintf(limit, sizeof(limit), "%d", lim);
    snprintf(maxb, sizeof(maxb), "%zu", req->max_bytes);
    snprintf(maxo, sizeof(maxo), "%llu", (unsigned long long)req->max_offset);
    snprintf(st, sizeof(st), "%lld", (long long)req->opts.stream_ttl_ms);
    lc_buf_t cl = LC_BUF_INIT;
    int rc = key_of(r, &cl, "cleanup");
    if (!rc) {
        const char *argv[13] = {cl.data, r->rc->prefix, req->channel,    epoch, mt,    op, limit,
                                maxb,    maxo,          has ? "1" : "0", score, after, st};
        size_t lens[13];
        for (int i = 0; i < 13; i++)
            lens[i] = strlen(argv[i]);
        lens[2] = req->chlen;
        rc = lc__redis_script(c, LC__SCRIPT_MAP_READ, on_read, m, 1, 13, argv, lens);
    }
    lc_buf_free(&cl);
    if (rc)
        free(m);
    return rc;
}

/* --- clear ---------------------------------------------------------------------------------- */

static void on_cleared(lc__rconn_t *c, redisReply *reply, void *arg)
{
    mcall_t *m = arg;
    int err = 0;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        lc__redis_script_failed(c, reply, "map clear");
        err = LC_EIO;
    }
    if (m->dcb)
        m->dcb(m->arg, err);
    free(m);
}

int lc__redis_map_clear(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!ch || chlen == 0)
        return LC_EINVAL;
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, ch, chlen, &err);
    if (!c)
        return err;
    mcall_t *m = calloc(1, sizeof(*m));
    if (!m)
        return LC_ENOMEM;
    m->dcb = cb;
    m->arg = arg;
    lc_buf_t cl = LC_BUF_INIT;
    int rc = key_of(r, &cl, "cleanup");
    if (!rc) {
        const char *argv[3] = {cl.data, r->rc->prefix, ch};
        size_t lens[3] = {cl.len, strlen(r->rc->prefix), chlen};
        rc = lc__redis_script(c, LC__SCRIPT_MAP_CLEAR, on_cleared, m, 1, 3, argv, lens);
    }
    lc_buf_free(&cl);
    if (rc)
        free(m);
    return rc;
}

/* --- holds ---------------------------------------------------------------------------------- */

static void on_touched(lc__rconn_t *c, redisReply *reply, void *arg)
{
    (void)arg;
    lc__redis_script_failed(c, reply, "map hold refresh");
}

/* Send the batch gathered for a shard (argv[0] is the cleanup key, argv[1] the prefix). */
static void touch_send(lc__rslot_t *s, int shard, const char **argv, size_t *lens, int argc)
{
    lc__rconn_t *c = &s->conns[shard];
    if (argc > 2 && !s->closed && lc__rconn_ready(c))
        lc__redis_script(c, LC__SCRIPT_MAP_TOUCH, on_touched, NULL, 1, argc, argv, lens);
}

void lc__redis_map_touch_tick(uv_timer_t *t)
{
    lc__rslot_t *s = t->data;
    lc__redis_t *r = s->r;
    if (lc_map_count(&s->map_holds) == 0)
        return;
    uint64_t now = uv_now(s->loop);
    const char *argv[2 + 3 * TOUCH_BATCH];
    size_t lens[2 + 3 * TOUCH_BATCH];
    lc_buf_t cl = LC_BUF_INIT;
    if (key_of(r, &cl, "cleanup") != 0)
        return;
    argv[0] = cl.data;
    lens[0] = cl.len;
    argv[1] = r->rc->prefix;
    lens[1] = strlen(r->rc->prefix);
    for (int shard = 0; shard < r->nshards; shard++) {
        int argc = 2;
        lc_map_iter_t it = {0};
        const char *k;
        size_t kl;
        void *v;
        while (lc_map_next(&s->map_holds, &it, &k, &kl, &v)) {
            rhold_t *h = v;
            if (h->shard != shard || h->ttl_ms <= 0 || h->next_ms > now)
                continue;
            h->next_ms = now + (uint64_t)(h->ttl_ms / 3);
            argv[argc] = h->ck;
            lens[argc++] = h->chlen;
            argv[argc] = h->ck + h->chlen + 1;
            lens[argc++] = h->keylen;
            argv[argc] = h->ttl;
            lens[argc++] = strlen(h->ttl);
            if (argc == 2 + 3 * TOUCH_BATCH) {
                touch_send(s, shard, argv, lens, argc);
                argc = 2;
            }
        }
        touch_send(s, shard, argv, lens, argc);
    }
    lc_buf_free(&cl);
}

void lc__redis_map_attach(lc__rslot_t *s)
{
    lc_map_init(&s->map_holds);
    uv_timer_init(s->loop, &s->map_timer);
    s->map_timer.data = s;
    s->map_tick_ms = 1000;
    uv_timer_start(&s->map_timer, lc__redis_map_touch_tick, 1000, 1000);
}

void lc__redis_map_detach(lc__rslot_t *s)
{
    uv_close((uv_handle_t *)&s->map_timer, NULL);
}

void lc__redis_map_free(lc__rslot_t *s)
{
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&s->map_holds, &it, &k, &kl, &v))
        free(v);
    lc_map_free(&s->map_holds);
}

/* --- cleanup (worker 0) ---------------------------------------------------------------------- */

static void on_cleaned(lc__rconn_t *c, redisReply *reply, void *arg)
{
    lc__redis_t *r = c->r;
    r->map_cleaning[c->shard] = false;
    (void)arg;
    lc__redis_script_failed(c, reply, "map cleanup");
}

static void cleanup_tick(uv_timer_t *t)
{
    lc__redis_t *r = t->data;
    lc__rslot_t *s = &r->slots[0];
    if (s->closed)
        return;
    lc_buf_t cl = LC_BUF_INIT;
    char batch[16];
    snprintf(batch, sizeof(batch), "%d", r->cfg->map_cleanup_batch_size);
    if (key_of(r, &cl, "cleanup") != 0)
        return;
    const char *argv[3] = {cl.data, r->rc->prefix, batch};
    size_t lens[3] = {cl.len, strlen(r->rc->prefix), strlen(batch)};
    for (int i = 0; i < r->nshards; i++) {
        lc__rconn_t *c = &s->conns[i];
        if (r->map_cleaning[i] || !lc__rconn_ready(c))
            continue;
        if (lc__redis_script(c, LC__SCRIPT_MAP_CLEANUP, on_cleaned, NULL, 1, 3, argv, lens) == 0)
            r->map_cleaning[i] = true;
    }
    lc_buf_free(&cl);
}

void lc__redis_map_cleanup_start(lc__redis_t *r, uv_loop_t *loop)
{
    int64_t every = r->cfg->map_cleanup_interval_ms;
    if (every <= 0 || r->map_cleanup_on)
        return;
    r->map_cleaning = calloc((size_t)r->nshards, sizeof(*r->map_cleaning));
    if (!r->map_cleaning) {
        lc_log_error("redis map: no memory for the key cleanup: keys expire only by their "
                     "channel's lifetime");
        return;
    }
    uv_timer_init(loop, &r->map_cleanup_timer);
    r->map_cleanup_timer.data = r;
    uv_timer_start(&r->map_cleanup_timer, cleanup_tick, (uint64_t)every, (uint64_t)every);
    r->map_cleanup_on = true;
}

void lc__redis_map_cleanup_stop(lc__redis_t *r)
{
    if (!r->map_cleanup_on)
        return;
    r->map_cleanup_on = false;
    uv_close((uv_handle_t *)&r->map_cleanup_timer, NULL);
}
