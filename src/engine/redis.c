/* Redis engine: configuration, shards, the workers' connections, publishing.
 *
 * A publication with history is one EVALSHA: the script assigns the offset (HINCRBY on the
 * stream meta), creates the epoch when there is none, appends to the stream with its trimming
 * and lifetimes, and PUBLISHes the delivery to every node, all atomically, so offsets and
 * deliveries are in the same order on every node. The Publication object is encoded here
 * once, in two halves around its offset, and the script joins them: what history keeps and
 * what subscribers get are the same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/rand.h"

static _Thread_local lc__rslot_t *current_slot;

/* --- shards ---------------------------------------------------------------------------------- */

/* Channel → shard as Centrifugo picks it: jump consistent hash (Lamping, Veach) of the FNV-1a
 * 64 hash of the channel, so that nodes agree and adding a shard moves few channels. */
static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int jump_hash(uint64_t key, int buckets)
{
    int64_t b = -1, j = 0;
    while (j < buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (int64_t)((double)(b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1)));
    }
    return (int)b;
}

int lc__redis_shard_of(const lc__redis_t *r, const char *ch, size_t chlen)
{
    if (r->nshards <= 1)
        return 0;
    return jump_hash(fnv1a64(ch, chlen), r->nshards);
}

lc__rslot_t *lc__redis_slot(lc__redis_t *r)
{
    lc__rslot_t *s = current_slot;
    return s && s->r == r ? s : NULL;
}

lc__rconn_t *lc__redis_conn(lc__redis_t *r, const char *ch, size_t chlen, int *err)
{
    lc__rslot_t *s = lc__redis_slot(r);
    if (!s) {
        *err = LC_EINVAL;
        return NULL;
    }
    lc__rconn_t *c = &s->conns[lc__redis_shard_of(r, ch, chlen)];
    if (s->closed || !lc__rconn_ready(c)) {
        *err = LC_EIO;
        return NULL;
    }
    return c;
}

int lc__redis_key(lc__redis_t *r, lc_buf_t *b, const char *kind, const char *ch, size_t chlen)
{
    lc_buf_reset(b);
    if (lc_buf_printf(b, "%s.%s.", r->rc->prefix, kind) != 0 || lc_buf_append(b, ch, chlen) != 0)
        return LC_ENOMEM;
    return 0;
}

void lc__redis_random_epoch(char out[LC__R_EPOCH_LEN + 1])
{
    static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[LC__R_EPOCH_LEN];
    lc_random_bytes(rnd, sizeof(rnd));
    for (int i = 0; i < LC__R_EPOCH_LEN; i++)
        out[i] = abc[rnd[i] % (sizeof(abc) - 1)];
    out[LC__R_EPOCH_LEN] = '\0';
}

/* --- publish --------------------------------------------------------------------------------- */

typedef struct pub_call {
    lc_publish_cb cb;
    void *arg;
    bool history;
    bool wait; /* a WAIT follows the script: answer after it */
    int err;   /* the script's outcome while the WAIT is pending */
    lc_publish_res_t res;
} pub_call_t;

/* With Sentinel a publication kept in history is acknowledged only once a replica has it
 * (WAIT 1): a failover then cannot lose what a publisher was told is stored. */
#define WAIT_REPLICA_MS "1000"

static void on_published(lc__rconn_t *c, redisReply *reply, void *arg)
{
    pub_call_t *p = arg;
    lc_publish_res_t res = {0};
    int err = 0;
    if (!reply) {
        err = LC_EIO;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        lc__redis_script_failed(c, reply, "publish");
        err = LC_EIO;
    } else if (p->history) {
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
            reply->element[0]->type == REDIS_REPLY_INTEGER &&
            reply->element[1]->type == REDIS_REPLY_STRING) {
            res.offset = (uint64_t)reply->element[0]->integer;
            snprintf(res.epoch, sizeof(res.epoch), "%s", reply->element[1]->str);
        } else {
            err = LC_EIO;
        }
    }
    if (p->wait) {
        p->err = err;
        p->res = res;
        return; /* on_replicated answers */
    }
    if (p->cb)
        p->cb(p->arg, err, &res);
    free(p);
}

static void on_replicated(lc__rconn_t *c, redisReply *reply, void *arg)
{
    pub_call_t *p = arg;
    int err = p->err;
    if (!err && (!reply || reply->type != REDIS_REPLY_INTEGER || reply->integer < 1)) {
        lc_log_error("redis publish: no replica confirmed the publication");
        err = LC_EIO;
    }
    if (p->cb)
        p->cb(p->arg, err, &p->res);
    free(p);
}

/* How long a publish result is kept for its idempotency key (Centrifugo's default). */
#define IDEM_TTL_MS "300000"

/* <prefix>.result.<channel>.<idempotency key> */
static int result_key(lc__redis_t *r, lc_buf_t *b, const lc_publish_req_t *req)
{
    int rc = lc__redis_key(r, b, "result", req->channel, req->chlen);
    if (!rc && (lc_buf_putc(b, '.') || lc_buf_append_str(b, req->idempotency_key)))
        rc = LC_ENOMEM;
    return rc;
}

/* The Publication object in two halves around its offset: head ends with `"offset":`. */
static int split_publication(const lc_publication_t *pub, lc_buf_t *head, lc_buf_t *tail)
{
    lc_publication_t h = *pub;
    h.offset = 0;
    h.tags = (lc_raw_t){0};
    int rc = lc_proto_encode_publication(head, &h);
    if (rc < 0)
        return rc;
    head->len--; /* the closing brace */
    if (head->len > 1 && lc_buf_putc(head, ',') < 0)
        return LC_ENOMEM;
    if (lc_buf_append_str(head, "\"offset\":") < 0)
        return LC_ENOMEM;
    lc_publication_t t = {0};
    t.tags = pub->tags;
    rc = lc_proto_encode_publication(tail, &t);
    if (rc < 0)
        return rc;
    if (tail->len > 2)
        tail->data[0] = ','; /* {"tags":..} → ,"tags":..} */
    else
        lc_buf_consume(tail, 1); /* {} → } */
    return 0;
}

int lc__redis_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (!req->channel || req->chlen == 0)
        return LC_EINVAL;
    int err = 0;
    lc__rconn_t *c = lc__redis_conn(r, req->channel, req->chlen, &err);
    if (!c)
        return err;
    bool keep = !req->skip_history && req->opts.history_size > 0 && req->opts.history_ttl_ms > 0;
    pub_call_t *p = malloc(sizeof(*p));
    if (!p)
        return LC_ENOMEM;
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->arg = arg;
    p->history = keep;

    lc_buf_t chan = LC_BUF_INIT, head = LC_BUF_INIT, tail = LC_BUF_INIT, env = LC_BUF_INIT;
    lc_buf_t stream = LC_BUF_INIT, meta = LC_BUF_INIT, result = LC_BUF_INIT;
    bool idem = req->idempotency_key && req->idempotency_key[0];
    int rc = lc__redis_key(r, &chan, "client", req->channel, req->chlen);
    if (rc)
        goto done;
    static const char push_open[] = "{\"push\":{\"channel\":";
    /* A delta namespace: subscribers that negotiated deltas get what core makes from the
     * previous publication, which travels with this one ('D' envelope). */
    bool delta = req->opts.delta != LC_DELTA_OFF;
    const char *delta_arg = !delta ? "0" : req->opts.delta == LC_DELTA_CANDIDATE ? "2" : "1";
    if (!keep) {
        /* No offset: one PUBLISH of the whole delivery. */
        lc_publication_t pub = req->pub;
        pub.offset = 0;
        rc = lc__broker_envelope(&env, delta ? 'D' : 'P', &req->exclude);
        if (!rc)
            rc = lc_proto_push_pub(&env, req->channel, req->chlen, &pub);
        if (rc)
            goto done;
        if (!idem) {
            const char *argv[3] = {"PUBLISH", chan.data, env.data};
            size_t lens[3] = {7, chan.len, env.len};
            rc = lc__rconn_cmd(c, on_published, p, 3, argv, lens);
            goto done;
        }
        rc = lc__redis_key(r, &meta, "meta", req->channel, req->chlen);
        if (!rc)
            rc = result_key(r, &result, req);
        if (rc)
            goto done;
        const char *argv[18] = {meta.data, meta.data, result.data, "",  "", env.data,
                                "",        "",        "",          "",  "", "",
                                "",        chan.data, IDEM_TTL_MS, "0", "", "0"};
        size_t lens[18] = {meta.len, meta.len, result.len,          0, 0, env.len, 0, 0, 0, 0, 0, 0,
                           0,        chan.len, strlen(IDEM_TTL_MS), 1, 0, 1};
        rc = lc__redis_script(c, LC__SCRIPT_PUBLISH, on_published, p, 3, 18, argv, lens);
        goto done;
    }
    rc = split_publication(&req->pub, &head, &tail);
    /* The delivery: envelope with the offset in the middle (and with delta the previous
     * publication's length at the end of its line), then the push around pub. */
    lc_buf_t nums = LC_BUF_INIT, mid = LC_BUF_INIT;
    if (!rc)
        rc = lc__broker_envelope(&env, 'P', &req->exclude);
    /* env is "L1 P 0 <nclients> <nusers>\n<ids>": split after the offset digit and before the
     * newline */
    if (!rc) {
        const char *nl = memchr(env.data, '\n', env.len);
        size_t at = (size_t)(nl - env.data);
        env.data[3] = delta ? 'D' : 'P';
        if (lc_buf_append(&nums, env.data + 6, at - 6) < 0 ||
            lc_buf_append(&mid, nl, env.len - at) < 0 ||
            lc_buf_append(&mid, push_open, sizeof(push_open) - 1) < 0 ||
            lc_buf_append_json_str(&mid, req->channel, req->chlen) < 0 ||
            lc_buf_append_str(&mid, ",\"pub\":") < 0)
            rc = LC_ENOMEM;
        env.len = 5;
    }
    if (!rc)
        rc = lc__redis_key(r, &stream, "stream", req->channel, req->chlen);
    if (!rc)
        rc = lc__redis_key(r, &meta, "meta", req->channel, req->chlen);
    if (!rc) {
        char size[24], ttl[24], mttl[24], now[24], epoch[LC__R_EPOCH_LEN + 1];
        snprintf(size, sizeof(size), "%d", req->opts.history_size);
        snprintf(ttl, sizeof(ttl), "%lld", (long long)req->opts.history_ttl_ms);
        snprintf(mttl, sizeof(mttl), "%lld", (long long)req->opts.history_meta_ttl_ms);
        snprintf(now, sizeof(now), "%lld", (long long)lc_now_ms());
        lc__redis_random_epoch(epoch);
        if (idem)
            rc = result_key(r, &result, req);
        const char *argv[18] = {stream.data, meta.data, idem ? result.data : meta.data,
                                head.data,   tail.data, env.data,
                                nums.data,   "}}",      size,
                                ttl,         mttl,      epoch,
                                now,         chan.data, idem ? IDEM_TTL_MS : "",
                                "1",         mid.data,  delta_arg};
        size_t lens[18] = {stream.len,
                           meta.len,
                           idem ? result.len : meta.len,
                           head.len,
                           tail.len,
                           env.len,
                           nums.len,
                           2,
                           strlen(size),
                           strlen(ttl),
                           strlen(mttl),
                           strlen(epoch),
                           strlen(now),
                           chan.len,
                           strlen(argv[14]),
                           1,
                           mid.len,
                           1};
        p->wait = r->rc->n_sentinel_addresses > 0;
        if (!rc)
            rc = lc__redis_script(c, LC__SCRIPT_PUBLISH, on_published, p, 3, 18, argv, lens);
        if (!rc && p->wait) {
            const char *wv[3] = {"WAIT", "1", WAIT_REPLICA_MS};
            size_t wl[3] = {4, 1, strlen(WAIT_REPLICA_MS)};
            if (lc__rconn_cmd(c, on_replicated, p, 3, wv, wl) != 0) {
                /* the script is on its way: answer from its reply, unconfirmed = error */
                p->wait = false;
                p->cb = NULL;
                if (cb)
                    cb(arg, LC_EIO, &p->res);
            }
        }
    }
    lc_buf_free(&nums);
    lc_buf_free(&mid);
done:
    lc_buf_free(&chan);
    lc_buf_free(&head);
    lc_buf_free(&tail);
    lc_buf_free(&env);
    lc_buf_free(&stream);
    lc_buf_free(&meta);
    lc_buf_free(&result);
    if (rc)
        free(p);
    return rc;
}

static void on_done(lc__rconn_t *c, redisReply *reply, void *arg)
{
    lc__redis_done_t *d = arg;
    int err = !reply || reply->type == REDIS_REPLY_ERROR ? LC_EIO : 0;
    if (d->cb)
        d->cb(d->arg, err);
    free(d);
}

static int redis_publish_join_leave(lc_engine_t *e, const char *ch, size_t chlen, lc_rcbuf_t *push,
                                    lc_done_cb cb, void *arg)
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
    lc_buf_t chan = LC_BUF_INIT, env = LC_BUF_INIT;
    static const lc_exclude_t none = {0};
    int rc = lc__redis_key(r, &chan, "client", ch, chlen);
    if (!rc)
        rc = lc__broker_envelope(&env, 'J', &none);
    if (!rc && lc_buf_append(&env, push->data, push->len) < 0)
        rc = LC_ENOMEM;
    if (!rc) {
        const char *argv[3] = {"PUBLISH", chan.data, env.data};
        size_t lens[3] = {7, chan.len, env.len};
        rc = lc__rconn_cmd(c, on_done, d, 3, argv, lens);
    }
    lc_buf_free(&chan);
    lc_buf_free(&env);
    if (rc)
        free(d);
    return rc;
}

/* --- workers --------------------------------------------------------------------------------- */

static void broker_start(lc__redis_t *r, uv_loop_t *loop)
{
    uv_async_init(loop, &r->broker_async, lc__broker_on_async);
    r->broker_async.data = r;
    uv_timer_init(loop, &r->info_timer);
    r->info_timer.data = r;
    r->broker_on = true;
    uv_mutex_lock(&r->mu);
    r->broker_live = true;
    uv_mutex_unlock(&r->mu);
    for (int i = 0; i < r->nshards; i++) {
        lc__rshard_t *sh = &r->shards[i];
        lc__rconn_init(&sh->ps, r, loop, i, true);
        sh->ps.owner = sh;
        sh->ps.on_ready = lc__broker_ready;
        sh->ps.on_down = lc__broker_down;
        sh->ps.on_message = lc__broker_message;
        lc__rconn_start(&sh->ps);
    }
    uv_timer_start(&r->info_timer, lc__broker_info_tick, 0, 2000);
    lc__sentinel_watch_start(r, loop);
    lc__redis_map_cleanup_start(r, loop);
}

static int redis_attach(lc_engine_t *e, int index, int n, uv_loop_t *loop)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (index == 0 && !r->slots) {
        r->slots = calloc((size_t)n, sizeof(*r->slots));
        if (!r->slots)
            return LC_ENOMEM;
        r->nslots = n;
    }
    if (index < 0 || index >= r->nslots)
        return LC_EINVAL;
    lc__rslot_t *s = &r->slots[index];
    if (s->attached) {
        current_slot = s;
        return 0;
    }
    s->r = r;
    s->index = index;
    s->loop = loop;
    s->conns = calloc((size_t)r->nshards, sizeof(*s->conns));
    if (!s->conns)
        return LC_ENOMEM;
    lc_map_init(&s->presence);
    lc_buf_init(&s->scratch);
    uv_timer_init(loop, &s->presence_timer);
    s->presence_timer.data = s;
    uv_mutex_init(&s->done_mu);
    uv_async_init(loop, &s->done_async, lc__broker_on_done);
    s->done_async.data = s;
    s->done_live = true;
    uint64_t every = (uint64_t)r->rc->presence_ttl_ms / 3;
    uv_timer_start(&s->presence_timer, lc__redis_presence_refresh, every, every);
    lc__redis_map_attach(s);
    for (int i = 0; i < r->nshards; i++) {
        lc__rconn_init(&s->conns[i], r, loop, i, false);
        s->conns[i].owner = s;
        lc__rconn_start(&s->conns[i]);
    }
    s->attached = true;
    current_slot = s;
    if (index == 0)
        broker_start(r, loop);
    return 0;
}

static void redis_detach(lc_engine_t *e, int index)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    if (index < 0 || index >= r->nslots || !r->slots[index].attached || r->slots[index].closed)
        return;
    lc__rslot_t *s = &r->slots[index];
    /* Worker 0 says goodbye on its first connection, closed once Redis took it. */
    bool leaving = index == 0 && r->broker_on && lc__broker_leave(r) == 0;
    s->closed = true;
    for (int i = 0; i < r->nshards; i++) {
        if (i == 0 && leaving)
            lc__rconn_close_after(&s->conns[i]);
        else
            lc__rconn_close(&s->conns[i]);
    }
    uv_close((uv_handle_t *)&s->presence_timer, NULL);
    lc__redis_map_detach(s);
    lc__broker_detach_slot(r, s);
    uv_close((uv_handle_t *)&s->done_async, NULL);
    if (index == 0 && r->broker_on) {
        r->broker_on = false;
        uv_mutex_lock(&r->mu);
        r->broker_live = false;
        uv_mutex_unlock(&r->mu);
        for (int i = 0; i < r->nshards; i++)
            lc__rconn_close(&r->shards[i].ps);
        uv_close((uv_handle_t *)&r->broker_async, NULL);
        uv_close((uv_handle_t *)&r->info_timer, NULL);
        lc__sentinel_watch_stop(r);
        lc__redis_map_cleanup_stop(r);
    }
}

static bool redis_healthy(lc_engine_t *e)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    for (int i = 0; i < r->nshards; i++)
        if (!atomic_load(&r->shards[i].ps_ready))
            return false;
    lc__rslot_t *s = lc__redis_slot(r);
    for (int i = 0; s && i < r->nshards; i++)
        if (!lc__rconn_ready(&s->conns[i]))
            return false;
    return true;
}

static void redis_channel_subscribe(lc_engine_t *e, const char *ch, size_t chlen)
{
    lc__broker_channel(lc_container_of(e, lc__redis_t, base), ch, chlen, 1);
}

static void redis_channel_unsubscribe(lc_engine_t *e, const char *ch, size_t chlen)
{
    lc__broker_channel(lc_container_of(e, lc__redis_t, base), ch, chlen, -1);
}

/* --- lifecycle ------------------------------------------------------------------------------- */

static void redis_destroy(lc_engine_t *e)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    for (int i = 0; r->slots && i < r->nslots; i++) {
        lc__rslot_t *s = &r->slots[i];
        if (!s->attached)
            continue;
        for (int k = 0; k < r->nshards; k++)
            lc__rconn_free(&s->conns[k]);
        free(s->conns);
        lc__redis_presence_free(s);
        lc__redis_map_free(s);
        lc_buf_free(&s->scratch);
        lc__broker_free_done(s);
        uv_mutex_destroy(&s->done_mu);
    }
    free(r->slots);
    free(r->map_cleaning);
    for (int i = 0; r->shards && i < r->nshards; i++) {
        lc__rshard_t *sh = &r->shards[i];
        lc__rconn_free(&sh->ps);
        lc_map_iter_t it = {0};
        const char *k;
        size_t kl;
        void *v;
        while (lc_map_next(&sh->chans, &it, &k, &kl, &v)) {
            lc__rchan_t *c = v;
            while (c->waiters) {
                lc__rwait_t *next = c->waiters->next;
                free(c->waiters);
                c->waiters = next;
            }
            free(c);
        }
        lc_map_free(&sh->chans);
        free(sh->dirty);
        uv_mutex_destroy(&sh->mu);
    }
    free(r->shards);
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&r->nodes, &it, &k, &kl, &v))
        free(v);
    lc_map_free(&r->nodes);
    for (int i = 0; r->hosts && i < r->nshards; i++)
        free(r->hosts[i]);
    free(r->hosts);
    free(r->ports);
    free(r->user);
    free(r->password);
    uv_mutex_destroy(&r->mu);
    free(r);
}

static const lc_engine_vt_t redis_vt = {
    .name = "redis",
    .publish = lc__redis_publish,
    .publish_join_leave = redis_publish_join_leave,
    .history = lc__redis_history,
    .history_remove = lc__redis_history_remove,
    .presence_add = lc__redis_presence_add,
    .presence_remove = lc__redis_presence_remove,
    .presence = lc__redis_presence,
    .presence_stats = lc__redis_presence_stats,
    .destroy = redis_destroy,
    .attach = redis_attach,
    .detach = redis_detach,
    .channel_subscribe = redis_channel_subscribe,
    .channel_unsubscribe = redis_channel_unsubscribe,
    .channel_ready = lc__broker_channel_ready,
    .control = lc__broker_control,
    .healthy = redis_healthy,
    .nodes = lc__broker_nodes,
    .map_write = lc__redis_map_write,
    .map_read = lc__redis_map_read,
    .map_clear = lc__redis_map_clear,
};

/* "host:port", "redis://[user[:password]@]host[:port][/db]" (tcp:// too). The URL's
 * credentials and db apply to every shard (Lucent's shards share them). */
static int parse_address(lc__redis_t *r, int i, const char *addr)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", addr);
    char *p = buf;
    if (strncmp(p, "redis://", 8) == 0)
        p += 8;
    else if (strncmp(p, "tcp://", 6) == 0)
        p += 6;
    else if (strstr(p, "://")) {
        lc_log_error("engine.redis.address %s: only redis:// and host:port are supported", addr);
        return LC_EINVAL;
    }
    char *at = strrchr(p, '@');
    if (at) {
        *at = '\0';
        char *colon = strchr(p, ':');
        if (colon) {
            *colon = '\0';
            free(r->password);
            r->password = strdup(colon + 1);
        }
        if (*p) {
            free(r->user);
            r->user = strdup(p);
        }
        p = at + 1;
    }
    char *slash = strchr(p, '/');
    if (slash) {
        *slash = '\0';
        if (slash[1])
            r->db = (int)strtol(slash + 1, NULL, 10);
    }
    int port = 6379;
    char *colon = strrchr(p, ':');
    if (colon) {
        *colon = '\0';
        port = (int)strtol(colon + 1, NULL, 10);
    }
    if (!*p || port <= 0 || port > 65535) {
        lc_log_error("engine.redis.address %s: expected host:port", addr);
        return LC_EINVAL;
    }
    r->hosts[i] = strdup(p);
    r->ports[i] = port;
    return r->hosts[i] ? 0 : LC_ENOMEM;
}

lc_engine_t *lc_engine_redis_new(const lc_config_t *cfg)
{
    lc__redis_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->base.vt = &redis_vt;
    /* each publication of a delta namespace brings the previous one (redis_pubsub.c) */
    r->base.supports_delta = true;
    r->cfg = cfg;
    r->rc = &cfg->redis;
    lc_uuid4(r->uid); /* tells this process's own messages from other nodes' */
    uv_mutex_init(&r->mu);
    lc_map_init(&r->nodes);
    atomic_init(&r->switch_gen, 0);
    const lc_redis_conf_t *rc = r->rc;
    bool sentinel = rc->n_sentinel_addresses > 0;
    r->nshards = sentinel || rc->n_addresses == 0 ? 1 : (int)rc->n_addresses;
    r->db = rc->db;
    r->user = strdup(rc->user);
    r->password = strdup(rc->password);
    r->hosts = calloc((size_t)r->nshards, sizeof(*r->hosts));
    r->ports = calloc((size_t)r->nshards, sizeof(*r->ports));
    r->shards = calloc((size_t)r->nshards, sizeof(*r->shards));
    if (!r->user || !r->password || !r->hosts || !r->ports || !r->shards)
        goto fail;
    for (int i = 0; i < r->nshards; i++) {
        lc__rshard_t *sh = &r->shards[i];
        uv_mutex_init(&sh->mu);
        lc_map_init(&sh->chans);
        atomic_init(&sh->ps_ready, false);
    }
    for (int i = 0; i < r->nshards; i++) {
        if (sentinel)
            continue;
        if (parse_address(r, i, rc->n_addresses ? rc->addresses[i] : "127.0.0.1:6379") != 0)
            goto fail;
    }
    return &r->base;
fail:
    redis_destroy(&r->base);
    return NULL;
}
