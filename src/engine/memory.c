/* Memory engine: the whole truth about streams and presence lives in this process, sharded by
 * channel hash so that workers publishing to different channels never share a lock.
 *
 * A publication is encoded once, under its shard's lock (its offset is only known there):
 * the Publication object is kept for history and the push around it is handed to the sink
 * before the lock is released, which keeps one channel's deliveries in offset order. */
#include <stdlib.h>
#include <string.h>

#include "engine/memory_internal.h"
#include "util/clock.h"
#include "util/err.h"

/* How often some call sweeps every shard for expired streams and publications. */
#define SWEEP_INTERVAL_MS 1000
/* How often each worker sweeps its share of the shards for expired map keys: a key TTL is
 * kept to about this precision. */
#define MAP_SWEEP_INTERVAL_MS 200
#define SCRATCH_KEEP LC__SCRATCH_KEEP

lc__shard_t *lc__shard_of(lc__memory_t *m, const char *ch, size_t chlen)
{
    /* The top bits: the shard's maps bucket by the low bits of the same hash. */
    return &m->shards[lc_hash(ch, chlen) >> 58];
}

void lc__maybe_sweep(lc__memory_t *m, int64_t now)
{
    int64_t due = atomic_load_explicit(&m->next_sweep_ms, memory_order_relaxed);
    if (now < due)
        return;
    /* One caller wins the sweep; the others carry on. */
    if (!atomic_compare_exchange_strong(&m->next_sweep_ms, &due, now + SWEEP_INTERVAL_MS))
        return;
    for (size_t i = 0; i < LC__SHARDS; i++) {
        lc__shard_t *sh = &m->shards[i];
        uv_mutex_lock(&sh->mu);
        lc__shard_sweep_streams(sh, now);
        uv_mutex_unlock(&sh->mu);
    }
}

/* `{"push":{"channel":<ch>,"pub":<publication>}}` into b (as lc_proto_push_pub writes it),
 * with the Publication object at b->data[*pub_at .. *pub_at + *pub_len). */
static int encode_push(lc_buf_t *b, const char *ch, size_t chlen, const lc_publication_t *pub,
                       size_t *pub_at, size_t *pub_len)
{
    static const char open[] = "{\"push\":{\"channel\":";
    static const char mid[] = ",\"pub\":";
    if (lc_buf_append(b, open, sizeof(open) - 1) < 0 || lc_buf_append_json_str(b, ch, chlen) < 0 ||
        lc_buf_append(b, mid, sizeof(mid) - 1) < 0)
        return LC_ENOMEM;
    *pub_at = b->len;
    int rc = lc_proto_encode_publication(b, pub);
    if (rc < 0)
        return rc;
    *pub_len = b->len - *pub_at;
    return lc_buf_append(b, "}}", 2) < 0 ? LC_ENOMEM : 0;
}

static int memory_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg)
{
    if (!req->channel || req->chlen == 0)
        return LC_EINVAL;
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    int64_t now = m->now_ms();
    lc__maybe_sweep(m, now);
    lc__shard_t *sh = lc__shard_of(m, req->channel, req->chlen);
    bool keep = !req->skip_history && lc__history_on(&req->opts);
    lc_publication_t pub = req->pub;
    lc_publish_res_t res = {0};
    lc_rcbuf_t *stored = NULL;
    lc_rcbuf_t *push = NULL;
    lc_rcbuf_t *prev = NULL; /* the publication before this one, for a delta */
    lc__stream_t *s = NULL;
    size_t pub_at, pub_len;
    int rc;

    uv_mutex_lock(&sh->mu);
    pub.offset = 0;
    if (keep) {
        rc = lc__stream_open(sh, req->channel, req->chlen, &req->opts, now, &s);
        if (rc < 0)
            goto fail;
        /* taken before making room: with history_size 1 the previous one is dropped */
        lc_rcbuf_t *last = req->opts.delta != LC_DELTA_OFF ? lc__stream_last(s) : NULL;
        prev = last ? lc_rcbuf_ref(last) : NULL;
        rc = lc__stream_reserve(s, req->opts.history_size);
        if (rc < 0)
            goto fail;
        pub.offset = s->top + 1;
    }
    lc_buf_reset(&sh->scratch);
    rc = encode_push(&sh->scratch, req->channel, req->chlen, &pub, &pub_at, &pub_len);
    if (rc < 0)
        goto fail;
    rc = LC_ENOMEM;
    push = lc_rcbuf_from(sh->scratch.data, sh->scratch.len);
    if (!push)
        goto fail;
    if (keep) {
        stored = lc_rcbuf_from(sh->scratch.data + pub_at, pub_len);
        if (!stored)
            goto fail;
        lc__stream_append(sh, s, stored, req->opts.history_size, now);
        res.offset = s->top;
        memcpy(res.epoch, s->epoch, sizeof(s->epoch));
    }
    if (req->opts.delta != LC_DELTA_OFF && e->sink.deliver_delta)
        e->sink.deliver_delta(e->sink.ctx, req->channel, req->chlen, pub.offset, push,
                              &req->exclude, prev, req->opts.delta == LC_DELTA_CANDIDATE);
    else if (e->sink.deliver)
        e->sink.deliver(e->sink.ctx, req->channel, req->chlen, LC_PUSH_PUB, pub.offset, push,
                        &req->exclude);
    if (sh->scratch.cap > SCRATCH_KEEP)
        lc_buf_free(&sh->scratch);
    uv_mutex_unlock(&sh->mu);

    lc_rcbuf_unref(push);
    lc_rcbuf_unref(prev);
    if (cb)
        cb(arg, 0, &res);
    return 0;
fail:
    uv_mutex_unlock(&sh->mu);
    lc_rcbuf_unref(push);
    lc_rcbuf_unref(prev);
    return rc;
}

static int memory_publish_join_leave(lc_engine_t *e, const char *ch, size_t chlen, lc_rcbuf_t *push,
                                     lc_done_cb cb, void *arg)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    lc__maybe_sweep(m, m->now_ms());
    lc__shard_t *sh = lc__shard_of(m, ch, chlen);
    static const lc_exclude_t none = {0};

    /* Under the shard lock: a join/leave keeps its place among the channel's publications. */
    uv_mutex_lock(&sh->mu);
    if (e->sink.deliver)
        e->sink.deliver(e->sink.ctx, ch, chlen, LC_PUSH_JOIN_LEAVE, 0, push, &none);
    uv_mutex_unlock(&sh->mu);
    if (cb)
        cb(arg, 0);
    return 0;
}

static void memory_destroy(lc_engine_t *e)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    for (size_t i = 0; i < LC__SHARDS; i++) {
        lc__shard_t *sh = &m->shards[i];
        lc__shard_free_streams(sh);
        lc__shard_free_presence(sh);
        lc__shard_free_maps(sh);
        lc_buf_free(&sh->scratch);
        uv_mutex_destroy(&sh->mu);
    }
    free(m->sweeps);
    free(m);
}

void lc_engine_memory_sweep_maps(lc_engine_t *e)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    int64_t now = m->now_ms();
    for (size_t i = 0; i < LC__SHARDS; i++) {
        lc__shard_t *sh = &m->shards[i];
        uv_mutex_lock(&sh->mu);
        lc__shard_sweep_maps(e, sh, now);
        uv_mutex_unlock(&sh->mu);
    }
}

static void on_map_sweep(uv_timer_t *t)
{
    lc__msweep_t *sw = lc_container_of(t, lc__msweep_t, timer);
    lc__memory_t *m = lc_container_of(sw->e, lc__memory_t, base);
    int64_t now = m->now_ms();
    for (size_t i = (size_t)sw->index; i < LC__SHARDS; i += (size_t)sw->n) {
        lc__shard_t *sh = &m->shards[i];
        uv_mutex_lock(&sh->mu);
        lc__shard_sweep_maps(sw->e, sh, now);
        uv_mutex_unlock(&sh->mu);
    }
}

/* Worker `index` of n starts: its timer sweeps shards index, index + n, ... (worker 0 is
 * attached before any other worker thread starts, and sizes the array). */
static int memory_attach(lc_engine_t *e, int index, int n, uv_loop_t *loop)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    if (index == 0 && !m->sweeps) {
        m->sweeps = calloc((size_t)n, sizeof(*m->sweeps));
        if (!m->sweeps)
            return LC_ENOMEM;
        m->nsweeps = n;
    }
    if (!m->sweeps || index < 0 || index >= m->nsweeps)
        return LC_EINVAL;
    lc__msweep_t *sw = &m->sweeps[index];
    sw->e = e;
    sw->index = index;
    sw->n = n;
    if (uv_timer_init(loop, &sw->timer) != 0)
        return LC_EIO;
    sw->on = true;
    uv_timer_start(&sw->timer, on_map_sweep, MAP_SWEEP_INTERVAL_MS, MAP_SWEEP_INTERVAL_MS);
    uv_unref((uv_handle_t *)&sw->timer);
    return 0;
}

static void memory_detach(lc_engine_t *e, int index)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    if (!m->sweeps || index < 0 || index >= m->nsweeps || !m->sweeps[index].on)
        return;
    m->sweeps[index].on = false;
    uv_close((uv_handle_t *)&m->sweeps[index].timer, NULL);
}

static const lc_engine_vt_t memory_vt = {
    .name = "memory",
    .publish = memory_publish,
    .publish_join_leave = memory_publish_join_leave,
    .history = lc__memory_history,
    .history_remove = lc__memory_history_remove,
    .presence_add = lc__memory_presence_add,
    .presence_remove = lc__memory_presence_remove,
    .presence = lc__memory_presence,
    .presence_stats = lc__memory_presence_stats,
    .destroy = memory_destroy,
    .attach = memory_attach,
    .detach = memory_detach,
    .map_write = lc__memory_map_write,
    .map_read = lc__memory_map_read,
    .map_clear = lc__memory_map_clear,
};

lc_engine_t *lc_engine_memory_new(const lc_config_t *cfg)
{
    lc__memory_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.vt = &memory_vt;
    m->base.supports_delta = true;
    m->cfg = cfg;
    m->now_ms = lc_mono_ms;
    atomic_init(&m->next_sweep_ms, 0);
    for (size_t i = 0; i < LC__SHARDS; i++) {
        lc__shard_t *sh = &m->shards[i];
        if (uv_mutex_init(&sh->mu) != 0) {
            while (i-- > 0)
                uv_mutex_destroy(&m->shards[i].mu);
            free(m);
            return NULL;
        }
        lc_map_init(&sh->streams);
        lc_map_init(&sh->presence);
        lc_map_init(&sh->maps);
        lc_buf_init(&sh->scratch);
    }
    return &m->base;
}

void lc_engine_memory_set_clock(lc_engine_t *e, int64_t (*now_ms)(void))
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    m->now_ms = now_ms ? now_ms : lc_mono_ms;
    atomic_store(&m->next_sweep_ms, 0);
}

size_t lc_engine_memory_num_streams(lc_engine_t *e)
{
    lc__memory_t *m = lc_container_of(e, lc__memory_t, base);
    size_t n = 0;
    for (size_t i = 0; i < LC__SHARDS; i++) {
        uv_mutex_lock(&m->shards[i].mu);
        n += lc_map_count(&m->shards[i].streams);
        uv_mutex_unlock(&m->shards[i].mu);
    }
    return n;
}
