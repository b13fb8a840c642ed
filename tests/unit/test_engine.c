/* Memory engine: offsets and epochs, history queries (spec §7.2), lifetimes on a fake clock,
 * streams freed without further access, presence, join/leave, delivery order under
 * concurrent publishers, push encoding. A fake sink records every delivery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "engine/memory.h"
#include "util/err.h"

/* --- fake sink and clock ------------------------------------------------------------------- */

typedef struct delivery {
    char channel[64];
    int kind;
    uint64_t offset;
    lc_rcbuf_t *push;
    size_t n_excluded;
    char first_excluded[64];
} delivery_t;

typedef struct sink_rec {
    uv_mutex_t mu;
    delivery_t *d;
    size_t n, cap;
} sink_rec_t;

static void sink_deliver(void *ctx, const char *channel, size_t chlen, int kind, uint64_t offset,
                         lc_rcbuf_t *push, const lc_exclude_t *exclude)
{
    sink_rec_t *r = ctx;
    uv_mutex_lock(&r->mu);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->d = realloc(r->d, r->cap * sizeof(*r->d));
        assert_non_null(r->d);
    }
    delivery_t *d = &r->d[r->n++];
    memset(d, 0, sizeof(*d));
    snprintf(d->channel, sizeof(d->channel), "%.*s", (int)chlen, channel);
    d->kind = kind;
    d->offset = offset;
    d->push = lc_rcbuf_ref(push);
    d->n_excluded = exclude ? exclude->n_clients : 0;
    if (d->n_excluded)
        snprintf(d->first_excluded, sizeof(d->first_excluded), "%s", exclude->clients[0]);
    uv_mutex_unlock(&r->mu);
}

static int64_t fake_now;

static int64_t fake_clock(void)
{
    return fake_now;
}

typedef struct fixture {
    lc_engine_t *e;
    sink_rec_t sink;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_mutex_init(&f->sink.mu), 0);
    f->e = lc_engine_memory_new(NULL);
    assert_non_null(f->e);
    f->e->sink.ctx = &f->sink;
    f->e->sink.deliver = sink_deliver;
    fake_now = 1000000;
    lc_engine_memory_set_clock(f->e, fake_clock);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    f->e->vt->destroy(f->e);
    for (size_t i = 0; i < f->sink.n; i++)
        lc_rcbuf_unref(f->sink.d[i].push);
    free(f->sink.d);
    uv_mutex_destroy(&f->sink.mu);
    free(f);
    return 0;
}

/* --- helpers ------------------------------------------------------------------------------- */

static const lc_chan_opts_t no_history = {0, 0, 0, 0};

static lc_chan_opts_t history_opts(int size, int64_t ttl, int64_t meta_ttl)
{
    return (lc_chan_opts_t){
        .history_size = size, .history_ttl_ms = ttl, .history_meta_ttl_ms = meta_ttl};
}

typedef struct pub_out {
    int calls;
    int err;
    lc_publish_res_t res;
} pub_out_t;

static void on_published(void *arg, int err, const lc_publish_res_t *res)
{
    pub_out_t *o = arg;
    o->calls++;
    o->err = err;
    o->res = *res;
}

static pub_out_t publish_ex(lc_engine_t *e, const char *ch, const char *data, lc_chan_opts_t opts,
                            bool skip_history)
{
    lc_publish_req_t req = {
        .channel = ch,
        .chlen = strlen(ch),
        .pub = {.data = {data, strlen(data)}},
        .opts = opts,
        .skip_history = skip_history,
    };
    pub_out_t o = {0};
    assert_int_equal(lc_engine_publish(e, &req, on_published, &o), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.err, 0);
    return o;
}

static pub_out_t publish(lc_engine_t *e, const char *ch, const char *data, lc_chan_opts_t opts)
{
    return publish_ex(e, ch, data, opts, false);
}

/* Publish n publications {"n":1}..{"n":N} continuing from `from`. */
static void publish_n(lc_engine_t *e, const char *ch, int from, int n, lc_chan_opts_t opts)
{
    for (int i = from; i < from + n; i++) {
        char data[32];
        snprintf(data, sizeof(data), "{\"n\":%d}", i);
        pub_out_t o = publish(e, ch, data, opts);
        assert_int_equal(o.res.offset, (uint64_t)i);
    }
}

typedef struct hist_out {
    int calls;
    int err;
    lc_stream_pos_t top;
    uint64_t first_offset;
    size_t n;
    char pubs[64][64];
} hist_out_t;

static void on_history(void *arg, int err, const lc_history_res_t *res)
{
    hist_out_t *o = arg;
    o->calls++;
    o->err = err;
    assert_non_null(res);
    o->top = res->top;
    o->first_offset = res->first_offset;
    o->n = res->n;
    assert_true(res->n <= 64);
    for (size_t i = 0; i < res->n; i++)
        snprintf(o->pubs[i], sizeof(o->pubs[i]), "%.*s", (int)res->pubs[i]->len,
                 res->pubs[i]->data);
}

static hist_out_t history(lc_engine_t *e, const char *ch, lc_chan_opts_t opts, int limit,
                          const lc_stream_pos_t *since, bool reverse)
{
    lc_history_req_t req = {
        .channel = ch,
        .chlen = strlen(ch),
        .opts = opts,
        .limit = limit,
        .has_since = since != NULL,
        .reverse = reverse,
    };
    if (since)
        req.since = *since;
    hist_out_t o = {0};
    assert_int_equal(e->vt->history(e, &req, on_history, &o), 0);
    assert_int_equal(o.calls, 1);
    return o;
}

/* Assert the returned publications carry exactly these offsets (as published by publish_n). */
static void assert_offsets(const hist_out_t *o, const int *want, size_t n)
{
    assert_int_equal(o->n, n);
    for (size_t i = 0; i < n; i++) {
        char exp[64];
        snprintf(exp, sizeof(exp), "{\"data\":{\"n\":%d},\"offset\":%d}", want[i], want[i]);
        assert_string_equal(o->pubs[i], exp);
    }
}

static lc_stream_pos_t pos(uint64_t offset, const char *epoch)
{
    lc_stream_pos_t p = {.offset = offset};
    snprintf(p.epoch, sizeof(p.epoch), "%s", epoch);
    return p;
}

static void on_done(void *arg, int err)
{
    int *calls = arg;
    assert_int_equal(err, 0);
    (*calls)++;
}

typedef struct stats_out {
    int calls;
    uint64_t clients, users;
} stats_out_t;

static void on_stats(void *arg, int err, uint64_t num_clients, uint64_t num_users)
{
    stats_out_t *o = arg;
    assert_int_equal(err, 0);
    o->calls++;
    o->clients = num_clients;
    o->users = num_users;
}

static stats_out_t presence_stats(lc_engine_t *e, const char *ch)
{
    stats_out_t o = {0};
    assert_int_equal(e->vt->presence_stats(e, ch, strlen(ch), on_stats, &o), 0);
    assert_int_equal(o.calls, 1);
    return o;
}

/* --- publish --------------------------------------------------------------------------------- */

static void test_engine_publish_without_history_offset_zero_delivered_once(void **state)
{
    fixture_t *f = *state;
    const char *excl[] = {"c-1"};
    lc_publish_req_t req = {
        .channel = "news",
        .chlen = 4,
        .pub = {.data = {"{\"x\":1}", 7}},
        .opts = no_history,
        .exclude = {excl, 1},
    };
    pub_out_t o = {0};
    assert_int_equal(lc_engine_publish(f->e, &req, on_published, &o), 0);
    assert_int_equal(o.calls, 1);
    assert_int_equal(o.res.offset, 0);
    assert_string_equal(o.res.epoch, "");

    assert_int_equal(f->sink.n, 1);
    delivery_t *d = &f->sink.d[0];
    assert_string_equal(d->channel, "news");
    assert_int_equal(d->kind, LC_PUSH_PUB);
    assert_int_equal(d->offset, 0);
    assert_int_equal(d->n_excluded, 1);
    assert_string_equal(d->first_excluded, "c-1");
    const char *want = "{\"push\":{\"channel\":\"news\",\"pub\":{\"data\":{\"x\":1}}}}";
    assert_int_equal(d->push->len, strlen(want));
    assert_memory_equal(d->push->data, want, strlen(want));
    assert_int_equal(lc_engine_memory_num_streams(f->e), 0);
}

static void test_engine_publish_with_history_consecutive_offsets_stable_epoch(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(10, 60000, 0);
    pub_out_t a = publish(f->e, "chat", "{}", opts);
    pub_out_t b = publish(f->e, "chat", "{}", opts);
    pub_out_t c = publish(f->e, "chat", "{}", opts);
    assert_int_equal(a.res.offset, 1);
    assert_int_equal(b.res.offset, 2);
    assert_int_equal(c.res.offset, 3);
    assert_int_equal(strlen(a.res.epoch), 8);
    for (const char *p = a.res.epoch; *p; p++)
        assert_non_null(
            strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", *p));
    assert_string_equal(a.res.epoch, b.res.epoch);
    assert_string_equal(a.res.epoch, c.res.epoch);

    assert_int_equal(f->sink.n, 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(f->sink.d[i].offset, i + 1);
    const char *want = "{\"push\":{\"channel\":\"chat\",\"pub\":{\"data\":{},\"offset\":2}}}";
    assert_int_equal(f->sink.d[1].push->len, strlen(want));
    assert_memory_equal(f->sink.d[1].push->data, want, strlen(want));

    /* another channel has its own stream and epoch */
    pub_out_t other = publish(f->e, "chat2", "{}", opts);
    assert_int_equal(other.res.offset, 1);
    assert_int_equal(lc_engine_memory_num_streams(f->e), 2);
}

static void test_engine_publish_skip_history_not_stored_but_delivered(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(10, 60000, 0);
    publish_n(f->e, "ch", 1, 1, opts);
    pub_out_t s = publish_ex(f->e, "ch", "{\"n\":99}", opts, true);
    assert_int_equal(s.res.offset, 0);
    assert_string_equal(s.res.epoch, "");
    assert_int_equal(f->sink.n, 2);
    assert_int_equal(f->sink.d[1].offset, 0);
    publish_n(f->e, "ch", 2, 1, opts);
    hist_out_t h = history(f->e, "ch", opts, -1, NULL, false);
    assert_offsets(&h, (int[]){1, 2}, 2);
}

static void test_engine_publish_channel_needing_escape_encoded_like_codec(void **state)
{
    fixture_t *f = *state;
    const char ch[] = "a\"b\\c\nd";
    publish(f->e, ch, "{\"k\":\"v\"}", history_opts(5, 60000, 0));
    assert_int_equal(f->sink.n, 1);

    lc_publication_t p = {.data = {"{\"k\":\"v\"}", 9}, .offset = 1};
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_proto_push_pub(&b, ch, strlen(ch), &p), 0);
    lc_rcbuf_t *got = f->sink.d[0].push;
    assert_int_equal(got->len, b.len);
    assert_memory_equal(got->data, b.data, b.len);
    assert_non_null(strstr(b.data, "\"channel\":\"a\\\"b\\\\c\\nd\""));
    lc_buf_free(&b);
    assert_string_equal(f->sink.d[0].channel, ch);
}

/* --- history --------------------------------------------------------------------------------- */

static void test_engine_history_size_trims_oldest(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(3, 60000, 0);
    publish_n(f->e, "ch", 1, 5, opts);
    hist_out_t h = history(f->e, "ch", opts, -1, NULL, false);
    assert_int_equal(h.err, 0);
    assert_int_equal(h.top.offset, 5);
    assert_int_equal(h.first_offset, 3);
    assert_offsets(&h, (int[]){3, 4, 5}, 3);

    /* a smaller size takes effect on the next publication */
    lc_chan_opts_t smaller = history_opts(2, 60000, 0);
    publish_n(f->e, "ch", 6, 1, smaller);
    h = history(f->e, "ch", smaller, -1, NULL, false);
    assert_offsets(&h, (int[]){5, 6}, 2);
}

static void test_engine_history_ttl_expires_publications_on_fake_clock(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(10, 1000, 0);
    publish_n(f->e, "ch", 1, 1, opts);
    fake_now += 500;
    publish_n(f->e, "ch", 2, 1, opts);
    hist_out_t h0 = history(f->e, "ch", opts, -1, NULL, false);
    assert_offsets(&h0, (int[]){1, 2}, 2);

    fake_now += 600;
    hist_out_t h1 = history(f->e, "ch", opts, -1, NULL, false);
    assert_offsets(&h1, (int[]){2}, 1);
    assert_int_equal(h1.first_offset, 2);

    fake_now += 500;
    hist_out_t h2 = history(f->e, "ch", opts, -1, NULL, false);
    assert_int_equal(h2.n, 0);
    assert_int_equal(h2.first_offset, 0);
    assert_int_equal(h2.top.offset, 2);
    assert_string_equal(h2.top.epoch, h0.top.epoch);
}

static void test_engine_history_meta_ttl_frees_streams_without_access(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(5, 100, 3000);
    for (int i = 0; i < 1000; i++) {
        char ch[32];
        snprintf(ch, sizeof(ch), "ch%d", i);
        publish_n(f->e, ch, 1, 2, opts);
    }
    assert_int_equal(lc_engine_memory_num_streams(f->e), 1000);

    /* the sweep drops the expired publications; meta still alive, the streams stay */
    fake_now += 1500;
    presence_stats(f->e, "unrelated");
    assert_int_equal(lc_engine_memory_num_streams(f->e), 1000);

    /* meta expired: one call on another channel frees them all */
    fake_now += 2000;
    assert_int_equal(lc_engine_memory_num_streams(f->e), 1000);
    presence_stats(f->e, "unrelated");
    assert_int_equal(lc_engine_memory_num_streams(f->e), 0);
}

static void test_engine_history_meta_ttl_refreshed_by_publish_then_new_epoch(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(5, 100, 1000);
    pub_out_t a = publish(f->e, "ch", "{}", opts);
    fake_now += 900;
    publish(f->e, "ch", "{}", opts);
    fake_now += 900;
    hist_out_t h = history(f->e, "ch", opts, 0, NULL, false);
    assert_int_equal(h.top.offset, 2);
    assert_string_equal(h.top.epoch, a.res.epoch);

    /* meta lost: the stream starts over with a new epoch */
    fake_now += 1001;
    pub_out_t b = publish(f->e, "ch", "{}", opts);
    assert_int_equal(b.res.offset, 1);
    assert_string_not_equal(b.res.epoch, a.res.epoch);
}

static void test_engine_history_position_of_unknown_channel_creates_epoch(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(5, 1000, 0);
    hist_out_t h1 = history(f->e, "fresh", opts, 10, NULL, false);
    assert_int_equal(h1.err, 0);
    assert_int_equal(h1.n, 0);
    assert_int_equal(h1.top.offset, 0);
    assert_int_equal(strlen(h1.top.epoch), 8);
    hist_out_t h2 = history(f->e, "fresh", opts, 0, NULL, false);
    assert_string_equal(h1.top.epoch, h2.top.epoch);
    pub_out_t p = publish(f->e, "fresh", "{}", opts);
    assert_int_equal(p.res.offset, 1);
    assert_string_equal(p.res.epoch, h1.top.epoch);
}

static void test_engine_history_limit_since_reverse_cases(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(100, 60000, 0);
    publish_n(f->e, "ch", 1, 10, opts);
    hist_out_t first = history(f->e, "ch", opts, 0, NULL, false);
    char epoch[LC_EPOCH_MAX];
    snprintf(epoch, sizeof(epoch), "%s", first.top.epoch);

    hist_out_t h = history(f->e, "ch", opts, 0, NULL, false);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.top.offset, 10);
    assert_int_equal(h.first_offset, 1);

    h = history(f->e, "ch", opts, 3, NULL, false);
    assert_offsets(&h, (int[]){1, 2, 3}, 3);
    h = history(f->e, "ch", opts, 3, NULL, true);
    assert_offsets(&h, (int[]){10, 9, 8}, 3);
    h = history(f->e, "ch", opts, -1, NULL, false);
    assert_offsets(&h, (int[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10);
    h = history(f->e, "ch", opts, 50, NULL, true);
    assert_offsets(&h, (int[]){10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10);

    lc_stream_pos_t since = pos(0, epoch);
    h = history(f->e, "ch", opts, 10, &since, false);
    assert_offsets(&h, (int[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 10);
    since = pos(11, epoch);
    h = history(f->e, "ch", opts, 10, &since, true);
    assert_offsets(&h, (int[]){10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 10);
    since = pos(4, epoch);
    h = history(f->e, "ch", opts, 2, &since, false);
    assert_offsets(&h, (int[]){5, 6}, 2);
    since = pos(5, epoch);
    h = history(f->e, "ch", opts, -1, &since, true);
    assert_offsets(&h, (int[]){4, 3, 2, 1}, 4);
    since = pos(1, epoch);
    h = history(f->e, "ch", opts, -1, &since, true);
    assert_int_equal(h.n, 0);

    /* at the top, or beyond it: nothing new */
    since = pos(10, epoch);
    h = history(f->e, "ch", opts, -1, &since, false);
    assert_int_equal(h.err, 0);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.top.offset, 10);
    since = pos(15, epoch);
    h = history(f->e, "ch", opts, -1, &since, false);
    assert_int_equal(h.err, 0);
    assert_int_equal(h.n, 0);

    /* an empty epoch matches any */
    since = pos(8, "");
    h = history(f->e, "ch", opts, -1, &since, false);
    assert_int_equal(h.err, 0);
    assert_offsets(&h, (int[]){9, 10}, 2);

    /* another epoch: unrecoverable, with the current position */
    since = pos(3, "zzzzzzzz");
    h = history(f->e, "ch", opts, -1, &since, false);
    assert_int_equal(h.err, LC_EPOS);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.top.offset, 10);
    assert_string_equal(h.top.epoch, epoch);
}

static void test_engine_history_since_evicted_starts_at_oldest_kept(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(3, 60000, 0);
    publish_n(f->e, "ch", 1, 6, opts);
    hist_out_t top = history(f->e, "ch", opts, 0, NULL, false);
    lc_stream_pos_t since = pos(1, top.top.epoch);
    hist_out_t h = history(f->e, "ch", opts, -1, &since, false);
    assert_offsets(&h, (int[]){4, 5, 6}, 3);
    since = pos(5, top.top.epoch);
    h = history(f->e, "ch", opts, 1, &since, true);
    assert_offsets(&h, (int[]){4}, 1);
}

static void test_engine_history_remove_keeps_position(void **state)
{
    fixture_t *f = *state;
    lc_chan_opts_t opts = history_opts(10, 60000, 0);
    publish_n(f->e, "ch", 1, 3, opts);
    hist_out_t before = history(f->e, "ch", opts, 0, NULL, false);

    int done = 0;
    assert_int_equal(f->e->vt->history_remove(f->e, "ch", 2, on_done, &done), 0);
    assert_int_equal(done, 1);
    hist_out_t after = history(f->e, "ch", opts, -1, NULL, false);
    assert_int_equal(after.n, 0);
    assert_int_equal(after.first_offset, 0);
    assert_int_equal(after.top.offset, 3);
    assert_string_equal(after.top.epoch, before.top.epoch);
    publish_n(f->e, "ch", 4, 1, opts);

    /* removing from a channel without a stream is fine and creates nothing */
    assert_int_equal(f->e->vt->history_remove(f->e, "none", 4, on_done, &done), 0);
    assert_int_equal(done, 2);
    assert_int_equal(lc_engine_memory_num_streams(f->e), 1);
}

/* --- presence -------------------------------------------------------------------------------- */

typedef struct presence_out {
    int calls;
    size_t n;
    char client[8][40], user[8][40], info[8][64];
} presence_out_t;

static void on_presence(void *arg, int err, const lc_presence_res_t *res)
{
    presence_out_t *o = arg;
    assert_int_equal(err, 0);
    o->calls++;
    o->n = res->n;
    assert_true(res->n <= 8);
    for (size_t i = 0; i < res->n; i++) {
        snprintf(o->client[i], sizeof(o->client[i]), "%s", res->entries[i].client);
        snprintf(o->user[i], sizeof(o->user[i]), "%s", res->entries[i].user);
        snprintf(o->info[i], sizeof(o->info[i]), "%.*s", (int)res->entries[i].info->len,
                 res->entries[i].info->data);
    }
}

static void presence_add(lc_engine_t *e, const char *ch, const char *client, const char *user)
{
    char info[64];
    snprintf(info, sizeof(info), "{\"user\":\"%s\",\"client\":\"%s\"}", user, client);
    lc_rcbuf_t *b = lc_rcbuf_from(info, strlen(info));
    int done = 0;
    assert_int_equal(e->vt->presence_add(e, ch, strlen(ch), client, user, b, on_done, &done), 0);
    assert_int_equal(done, 1);
    lc_rcbuf_unref(b); /* the engine keeps its own reference */
}

static void presence_remove(lc_engine_t *e, const char *ch, const char *client)
{
    int done = 0;
    assert_int_equal(e->vt->presence_remove(e, ch, strlen(ch), client, on_done, &done), 0);
    assert_int_equal(done, 1);
}

static const char *info_of(const presence_out_t *o, const char *client)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->client[i], client) == 0)
            return o->info[i];
    return NULL;
}

static void test_engine_presence_add_replace_remove_and_stats(void **state)
{
    fixture_t *f = *state;
    lc_engine_t *e = f->e;
    presence_out_t p = {0};
    assert_int_equal(e->vt->presence(e, "room", 4, on_presence, &p), 0);
    assert_int_equal(p.n, 0);
    stats_out_t s = presence_stats(e, "room");
    assert_int_equal(s.clients, 0);
    assert_int_equal(s.users, 0);

    /* two connections of one user */
    presence_add(e, "room", "c1", "u1");
    presence_add(e, "room", "c2", "u1");
    s = presence_stats(e, "room");
    assert_int_equal(s.clients, 2);
    assert_int_equal(s.users, 1);
    assert_int_equal(lc_engine_memory_num_presence_channels(e), 1);

    presence_add(e, "room", "c3", "u2");
    s = presence_stats(e, "room");
    assert_int_equal(s.clients, 3);
    assert_int_equal(s.users, 2);

    /* replacing c1 with another user moves the count */
    presence_add(e, "room", "c1", "u3");
    s = presence_stats(e, "room");
    assert_int_equal(s.clients, 3);
    assert_int_equal(s.users, 3);
    p = (presence_out_t){0};
    assert_int_equal(e->vt->presence(e, "room", 4, on_presence, &p), 0);
    assert_int_equal(p.calls, 1);
    assert_int_equal(p.n, 3);
    assert_string_equal(info_of(&p, "c1"), "{\"user\":\"u3\",\"client\":\"c1\"}");
    assert_string_equal(info_of(&p, "c2"), "{\"user\":\"u1\",\"client\":\"c2\"}");
    assert_string_equal(info_of(&p, "c3"), "{\"user\":\"u2\",\"client\":\"c3\"}");
    for (size_t i = 0; i < p.n; i++)
        if (strcmp(p.client[i], "c1") == 0)
            assert_string_equal(p.user[i], "u3");

    presence_remove(e, "room", "c2");
    s = presence_stats(e, "room");
    assert_int_equal(s.clients, 2);
    assert_int_equal(s.users, 2);
    presence_remove(e, "room", "nobody");
    presence_remove(e, "elsewhere", "c1");
    presence_remove(e, "room", "c1");
    presence_remove(e, "room", "c3");
    s = presence_stats(e, "room");
    assert_int_equal(s.clients, 0);
    assert_int_equal(s.users, 0);
    assert_int_equal(lc_engine_memory_num_presence_channels(e), 0);

    /* left in place: destroy frees it */
    presence_add(e, "other", "c9", "u9");
}

/* --- join/leave --------------------------------------------------------------------------------
 */

static void test_engine_join_leave_delivered_with_kind_one(void **state)
{
    fixture_t *f = *state;
    const char *msg = "{\"push\":{\"channel\":\"room\",\"join\":{\"info\":{}}}}";
    lc_rcbuf_t *push = lc_rcbuf_from(msg, strlen(msg));
    int done = 0;
    assert_int_equal(f->e->vt->publish_join_leave(f->e, "room", 4, push, on_done, &done), 0);
    assert_int_equal(done, 1);
    assert_int_equal(f->sink.n, 1);
    assert_int_equal(f->sink.d[0].kind, LC_PUSH_JOIN_LEAVE);
    assert_int_equal(f->sink.d[0].offset, 0);
    assert_int_equal(f->sink.d[0].n_excluded, 0);
    assert_ptr_equal(f->sink.d[0].push, push);
    assert_int_equal(lc_engine_memory_num_streams(f->e), 0);
    lc_rcbuf_unref(push);
}

/* --- concurrency -------------------------------------------------------------------------------
 */

#define THREADS 4
#define PER_THREAD 500

typedef struct worker {
    lc_engine_t *e;
    uint64_t offsets[PER_THREAD];
} worker_t;

static void on_published_offset(void *arg, int err, const lc_publish_res_t *res)
{
    assert_int_equal(err, 0);
    *(uint64_t *)arg = res->offset;
}

static void worker_run(void *arg)
{
    worker_t *w = arg;
    lc_publish_req_t req = {
        .channel = "busy",
        .chlen = 4,
        .pub = {.data = {"{}", 2}},
        .opts = history_opts(50, 60000, 0),
    };
    for (int i = 0; i < PER_THREAD; i++)
        assert_int_equal(lc_engine_publish(w->e, &req, on_published_offset, &w->offsets[i]), 0);
}

static void test_engine_concurrent_publishes_unique_offsets_in_order(void **state)
{
    fixture_t *f = *state;
    lc_engine_memory_set_clock(f->e, NULL); /* the fake clock is not for several threads */
    worker_t w[THREADS];
    uv_thread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i].e = f->e;
        assert_int_equal(uv_thread_create(&t[i], worker_run, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(uv_thread_join(&t[i]), 0);

    const size_t total = THREADS * PER_THREAD;
    unsigned char *seen = calloc(total + 1, 1);
    assert_non_null(seen);
    for (int i = 0; i < THREADS; i++) {
        for (int k = 0; k < PER_THREAD; k++) {
            uint64_t off = w[i].offsets[k];
            assert_true(off >= 1 && off <= total);
            assert_int_equal(seen[off], 0);
            seen[off] = 1;
            /* each thread's own publications are ordered too */
            if (k > 0)
                assert_true(off > w[i].offsets[k - 1]);
        }
    }
    free(seen);

    assert_int_equal(f->sink.n, total);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(f->sink.d[i].offset, i + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_engine_publish_without_history_offset_zero_delivered_once),
        T(test_engine_publish_with_history_consecutive_offsets_stable_epoch),
        T(test_engine_publish_skip_history_not_stored_but_delivered),
        T(test_engine_publish_channel_needing_escape_encoded_like_codec),
        T(test_engine_history_size_trims_oldest),
        T(test_engine_history_ttl_expires_publications_on_fake_clock),
        T(test_engine_history_meta_ttl_frees_streams_without_access),
        T(test_engine_history_meta_ttl_refreshed_by_publish_then_new_epoch),
        T(test_engine_history_position_of_unknown_channel_creates_epoch),
        T(test_engine_history_limit_since_reverse_cases),
        T(test_engine_history_since_evicted_starts_at_oldest_kept),
        T(test_engine_history_remove_keeps_position),
        T(test_engine_presence_add_replace_remove_and_stats),
        T(test_engine_join_leave_delivered_with_kind_one),
        T(test_engine_concurrent_publishes_unique_offsets_in_order),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
