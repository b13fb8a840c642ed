/* Memory engine map channels (engine.h map_write / map_read / map_clear): state pages and
 * cursors, the change stream and its limits, key TTL expiry on a fake clock, presence holds,
 * the bounds (max_keys), ordering by score, versions, idempotent retries and stream_data. A
 * fake sink records every delivery. */
#include <setjmp.h>
#include <stdbool.h>
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

typedef struct rec {
    char push[256];
    uint64_t offset;
} rec_t;

static rec_t recs[64];
static size_t nrecs;
static int64_t fake_now;

static void sink_deliver(void *ctx, const char *channel, size_t chlen, int kind, uint64_t offset,
                         lc_rcbuf_t *push, const lc_exclude_t *exclude)
{
    if (nrecs < sizeof(recs) / sizeof(recs[0])) {
        snprintf(recs[nrecs].push, sizeof(recs[nrecs].push), "%.*s", (int)push->len, push->data);
        recs[nrecs++].offset = offset;
    }
}

static int64_t fake_clock(void)
{
    return fake_now;
}

static int setup(void **state)
{
    lc_engine_t *e = lc_engine_memory_new(NULL);
    assert_non_null(e);
    e->sink.deliver = sink_deliver;
    fake_now = 5000000;
    lc_engine_memory_set_clock(e, fake_clock);
    nrecs = 0;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    lc_engine_t *e = *state;
    e->vt->destroy(e);
    return 0;
}

static const lc_map_opts_t durable = {.stream_size = 3, .key_ttl_ms = 10000, .max_keys = 4};

/* A write of key on the test channel "m" with options o; put and del add what they write. */
static lc_map_write_req_t write_m(const char *key, const lc_map_opts_t *o)
{
    lc_map_write_req_t r;
    memset(&r, 0, sizeof(r));
    r.channel = "m";
    r.chlen = 1;
    r.key = key;
    r.keylen = strlen(key);
    r.opts = *o;
    return r;
}

static int put(lc_engine_t *e, const char *key, const char *json, const lc_map_opts_t *o, int hold,
               int mode)
{
    lc_map_write_req_t r = write_m(key, o);
    r.pub.data.p = json;
    r.pub.data.len = json ? strlen(json) : 0;
    r.hold = hold;
    r.key_mode = mode;
    return e->vt->map_write(e, &r, NULL, NULL);
}

static int del(lc_engine_t *e, const char *key, const lc_map_opts_t *o)
{
    lc_map_write_req_t r = write_m(key, o);
    r.remove = true;
    return e->vt->map_write(e, &r, NULL, NULL);
}

/* A read's answer, kept as text. */
typedef struct got {
    int err;
    size_t n;
    char pubs[8][128];
    char cursor[64];
    uint64_t top;
    size_t num_keys;
} got_t;

static void on_read(void *arg, int err, const lc_map_read_res_t *res)
{
    got_t *g = arg;
    g->err = err;
    g->n = res->n;
    g->top = res->top.offset;
    g->num_keys = res->num_keys;
    for (size_t i = 0; i < res->n && i < 8; i++)
        snprintf(g->pubs[i], sizeof(g->pubs[i]), "%.*s", (int)res->pubs[i]->len,
                 res->pubs[i]->data);
    snprintf(g->cursor, sizeof(g->cursor), "%s", res->cursor ? res->cursor : "");
}

/* A read of the test channel "m" with options o; the page helpers set what they page by. */
static lc_map_read_req_t query_m(const lc_map_opts_t *o)
{
    lc_map_read_req_t q;
    memset(&q, 0, sizeof(q));
    q.channel = "m";
    q.chlen = 1;
    q.opts = *o;
    return q;
}

/* The read q run, which must start: the memory engine answers within the call. */
static got_t read_m(lc_engine_t *e, const lc_map_read_req_t *q)
{
    got_t g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(e->vt->map_read(e, q, on_read, &g), 0);
    return g;
}

static got_t state_page(lc_engine_t *e, const lc_map_opts_t *o, const char *cursor, int limit,
                        uint64_t max_offset)
{
    lc_map_read_req_t q = query_m(o);
    q.cursor = cursor;
    q.limit = limit;
    q.max_offset = max_offset;
    return read_m(e, &q);
}

static got_t stream_since(lc_engine_t *e, const lc_map_opts_t *o, uint64_t since, const char *epoch)
{
    lc_map_read_req_t q = query_m(o);
    q.stream = true;
    q.has_since = true;
    q.since.offset = since;
    snprintf(q.since.epoch, sizeof(q.since.epoch), "%s", epoch);
    q.limit = -1;
    return read_m(e, &q);
}

static void test_map_state_pages_follow_the_cursor_in_key_order(void **state)
{
    lc_engine_t *e = *state;
    assert_int_equal(put(e, "c", "{\"v\":3}", &durable, 0, 0), 0);
    assert_int_equal(put(e, "a", "{\"v\":1}", &durable, 0, 0), 0);
    assert_int_equal(put(e, "b", "{\"v\":2}", &durable, 0, 0), 0);
    got_t p1 = state_page(e, &durable, NULL, 2, 0);
    assert_int_equal(p1.err, 0);
    assert_int_equal(p1.n, 2);
    assert_int_equal(p1.top, 3);
    assert_int_equal(p1.num_keys, 3);
    assert_string_equal(p1.pubs[0], "{\"data\":{\"v\":1},\"offset\":2,\"key\":\"a\"}");
    assert_non_null(strstr(p1.pubs[1], "\"key\":\"b\""));
    assert_string_equal(p1.cursor, "0:b");
    got_t p2 = state_page(e, &durable, p1.cursor, 2, 0);
    assert_int_equal(p2.n, 1);
    assert_non_null(strstr(p2.pubs[0], "\"key\":\"c\""));
    assert_string_equal(p2.cursor, "");
    /* a key written after the walk's first page is left out of later pages */
    assert_int_equal(put(e, "c", "{\"v\":33}", &durable, 0, 0), 0);
    got_t p3 = state_page(e, &durable, p1.cursor, 2, 3);
    assert_int_equal(p3.n, 0);
    /* every write was delivered once, with its offset and key */
    assert_int_equal(nrecs, 4);
    assert_int_equal(recs[3].offset, 4);
    assert_string_equal(recs[3].push, "{\"push\":{\"channel\":\"m\",\"pub\":{\"data\":{\"v\":33},"
                                      "\"offset\":4,\"key\":\"c\"}}}");
    /* a cursor that is no cursor */
    got_t bad = state_page(e, &durable, "garbage", 2, 0);
    assert_int_equal(bad.err, LC_EINVAL);
}

static void test_map_stream_catches_up_until_its_changes_are_gone(void **state)
{
    lc_engine_t *e = *state;
    assert_int_equal(put(e, "a", "{}", &durable, 0, 0), 0);
    assert_int_equal(put(e, "b", "{}", &durable, 0, 0), 0);
    assert_int_equal(del(e, "a", &durable), 0);
    got_t top = state_page(e, &durable, NULL, 10, 0);
    got_t s = stream_since(e, &durable, 1, "");
    assert_int_equal(s.err, 0);
    assert_int_equal(s.n, 2);
    assert_non_null(strstr(s.pubs[0], "\"key\":\"b\""));
    assert_string_equal(s.pubs[1], "{\"offset\":3,\"key\":\"a\",\"removed\":true}");
    assert_int_equal(top.n, 1);
    /* another epoch: unrecoverable */
    assert_int_equal(stream_since(e, &durable, 1, "other").err, LC_EPOS);
    /* stream_size 3: after two more writes offset 1's successors are gone */
    assert_int_equal(put(e, "c", "{}", &durable, 0, 0), 0);
    assert_int_equal(put(e, "d", "{}", &durable, 0, 0), 0);
    assert_int_equal(stream_since(e, &durable, 1, "").err, LC_EPOS);
    assert_int_equal(stream_since(e, &durable, 2, "").n, 3);
}

static void test_map_keys_expire_after_their_ttl_with_a_removal(void **state)
{
    lc_engine_t *e = *state;
    assert_int_equal(put(e, "k", "{}", &durable, 0, 0), 0);
    fake_now += 9999;
    lc_engine_memory_sweep_maps(e);
    assert_int_equal(nrecs, 1);
    fake_now += 1;
    lc_engine_memory_sweep_maps(e);
    assert_int_equal(nrecs, 2);
    assert_string_equal(recs[1].push, "{\"push\":{\"channel\":\"m\",\"pub\":{\"offset\":2,\"key\":"
                                      "\"k\",\"removed\":true}}}");
    assert_int_equal(state_page(e, &durable, NULL, 10, 0).n, 0);
}

static void test_map_holds_keep_a_key_until_released_then_its_ttl(void **state)
{
    lc_engine_t *e = *state;
    assert_int_equal(put(e, "u", NULL, &durable, 1, LC_MAP_KEY_IF_NEW), 0);
    assert_int_equal(put(e, "u", NULL, &durable, 1, LC_MAP_KEY_IF_NEW), 0); /* suppressed */
    assert_int_equal(nrecs, 1);
    fake_now += 60000;
    lc_engine_memory_sweep_maps(e);
    assert_int_equal(nrecs, 1); /* held: no expiry */
    lc_map_write_req_t r;
    memset(&r, 0, sizeof(r));
    r.channel = "m";
    r.chlen = 1;
    r.key = "u";
    r.keylen = 1;
    r.hold = -1;
    r.opts = durable;
    assert_int_equal(e->vt->map_write(e, &r, NULL, NULL), 0);
    fake_now += 20000;
    lc_engine_memory_sweep_maps(e);
    assert_int_equal(nrecs, 1); /* one hold left */
    assert_int_equal(e->vt->map_write(e, &r, NULL, NULL), 0);
    fake_now += 10000;
    lc_engine_memory_sweep_maps(e);
    assert_int_equal(nrecs, 2);
    assert_non_null(strstr(recs[1].push, "\"removed\":true"));
}

static void test_map_bounds_and_suppressed_writes(void **state)
{
    lc_engine_t *e = *state;
    for (int i = 0; i < 4; i++) {
        char k[4] = {(char)('a' + i), 0};
        assert_int_equal(put(e, k, "{}", &durable, 0, 0), 0);
    }
    assert_int_equal(put(e, "z", "{}", &durable, 0, 0), LC_ETOOBIG);
    assert_int_equal(put(e, "a", "{\"again\":1}", &durable, 0, 0), 0); /* existing key: fine */
    assert_int_equal(del(e, "nope", &durable), 0);                     /* suppressed */
    assert_int_equal(put(e, "a", "{}", &durable, 0, LC_MAP_KEY_IF_NEW), 0);
    assert_int_equal(put(e, "zz", "{}", &durable, 0, LC_MAP_KEY_IF_EXISTS), 0);
    assert_int_equal(nrecs, 5);
    assert_int_equal(e->vt->map_clear(e, "m", 1, NULL, NULL), 0);
    assert_int_equal(lc_engine_memory_num_maps(e), 0);
}

static void test_map_ordered_pages_by_score(void **state)
{
    lc_engine_t *e = *state;
    lc_map_opts_t o = {.ordered = true};
    const char *keys[] = {"low", "high", "mid"};
    const int64_t scores[] = {1, 30, 20};
    for (int i = 0; i < 3; i++) {
        lc_map_write_req_t r;
        memset(&r, 0, sizeof(r));
        r.channel = "m";
        r.chlen = 1;
        r.key = keys[i];
        r.keylen = strlen(keys[i]);
        r.pub.data.p = "{}";
        r.pub.data.len = 2;
        r.pub.score = scores[i];
        r.opts = o;
        assert_int_equal(e->vt->map_write(e, &r, NULL, NULL), 0);
    }
    got_t p1 = state_page(e, &o, NULL, 2, 0);
    assert_non_null(strstr(p1.pubs[0], "\"key\":\"high\",\"score\":30"));
    assert_non_null(strstr(p1.pubs[1], "\"key\":\"mid\""));
    assert_string_equal(p1.cursor, "20:mid");
    got_t p2 = state_page(e, &o, p1.cursor, 2, 0);
    assert_int_equal(p2.n, 1);
    assert_non_null(strstr(p2.pubs[0], "\"key\":\"low\""));
}

/* A write's answer, kept. */
typedef struct wres {
    int calls;
    bool suppressed;
    char reason[32];
    uint64_t offset;
} wres_t;

static void on_written(void *arg, int err, const lc_map_write_res_t *res)
{
    wres_t *w = arg;
    w->calls++;
    w->suppressed = res->suppressed;
    snprintf(w->reason, sizeof(w->reason), "%s", res->suppress_reason ? res->suppress_reason : "");
    w->offset = res->pos.offset;
}

/* A write of key with the extras: version (epoch), idempotency key, stream_data. */
static wres_t put_x(lc_engine_t *e, const char *key, const char *json, uint64_t version,
                    const char *vepoch, const char *ik, const char *stream_json)
{
    lc_map_write_req_t r = write_m(key, &durable);
    r.pub.data.p = json;
    r.pub.data.len = strlen(json);
    r.version = version;
    r.version_epoch = vepoch;
    r.idempotency_key = ik;
    if (stream_json) {
        r.stream_data.p = stream_json;
        r.stream_data.len = strlen(stream_json);
    }
    wres_t w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_int_equal(w.calls, 1);
    return w;
}

static void test_map_versions_drop_stale_writes_per_key_and_epoch(void **state)
{
    lc_engine_t *e = *state;
    assert_false(put_x(e, "k", "{\"v\":2}", 2, NULL, NULL, NULL).suppressed);
    wres_t stale = put_x(e, "k", "{\"v\":1}", 1, NULL, NULL, NULL);
    assert_true(stale.suppressed);
    assert_string_equal(stale.reason, "version");
    assert_int_equal(stale.offset, 1);
    assert_true(put_x(e, "k", "{\"v\":2}", 2, "", NULL, NULL).suppressed); /* equal: stale */
    /* versions are per key */
    assert_false(put_x(e, "other", "{}", 1, NULL, NULL, NULL).suppressed);
    /* a write without a version replaces the value and keeps the stored version */
    assert_false(put_x(e, "k", "{\"v\":\"plain\"}", 0, NULL, NULL, NULL).suppressed);
    assert_true(put_x(e, "k", "{}", 2, NULL, NULL, NULL).suppressed);
    assert_false(put_x(e, "k", "{\"v\":3}", 3, "e1", NULL, NULL).suppressed);
    /* another epoch starts over; the same epoch compares; an empty one compares with any */
    assert_false(put_x(e, "k", "{\"v\":1}", 1, "e2", NULL, NULL).suppressed);
    assert_true(put_x(e, "k", "{}", 1, "e2", NULL, NULL).suppressed);
    assert_true(put_x(e, "k", "{}", 1, NULL, NULL, NULL).suppressed);
    assert_false(put_x(e, "k", "{\"v\":2}", 2, NULL, NULL, NULL).suppressed);
    /* the version check comes before key_mode: a stale if_new write says "version" */
    lc_map_write_req_t r = write_m("k", &durable);
    r.pub.data.p = "{}";
    r.pub.data.len = 2;
    r.version = 1;
    r.key_mode = LC_MAP_KEY_IF_NEW;
    wres_t w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_string_equal(w.reason, "version");
    got_t st = state_page(e, &durable, NULL, 10, 0);
    assert_non_null(strstr(st.pubs[0], "{\"data\":{\"v\":2}"));
    /* suppressed writes delivered nothing: 6 writes got through */
    assert_int_equal(nrecs, 6);
}

static void test_map_idempotent_retries_write_once(void **state)
{
    lc_engine_t *e = *state;
    wres_t first = put_x(e, "k", "{\"n\":1}", 0, NULL, "op-1", NULL);
    assert_false(first.suppressed);
    assert_false(put_x(e, "j", "{}", 0, NULL, NULL, NULL).suppressed);
    wres_t again = put_x(e, "k", "{\"n\":2}", 0, NULL, "op-1", NULL);
    assert_true(again.suppressed);
    assert_string_equal(again.reason, "idempotency");
    assert_int_equal(again.offset, first.offset); /* the first write's position */
    assert_int_equal(nrecs, 2);
    /* a removal with its own key, retried */
    lc_map_write_req_t r = write_m("k", &durable);
    r.remove = true;
    r.idempotency_key = "op-2";
    wres_t w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_false(w.suppressed);
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_string_equal(w.reason, "idempotency");
    assert_int_equal(w.offset, 3);
    /* the result expires with its TTL (5 minutes by default); then the key is new again */
    fake_now += 5 * 60 * 1000;
    assert_false(put_x(e, "k", "{\"n\":3}", 0, NULL, "op-1", NULL).suppressed);
    /* a suppressed write is not remembered: its retry is tried again */
    r = write_m("gone", &durable);
    r.remove = true;
    r.idempotency_key = "op-3";
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_string_equal(w.reason, "key_not_found");
    assert_int_equal(put(e, "gone", "{}", &durable, 0, 0), 0);
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_false(w.suppressed);
}

static void test_map_idempotency_results_are_bounded_per_channel(void **state)
{
    lc_engine_t *e = *state;
    lc_map_opts_t o = {.stream_size = 0};
    char ik[32];
    for (int i = 0; i < 1100; i++) {
        snprintf(ik, sizeof(ik), "op-%d", i);
        lc_map_write_req_t r = write_m("k", &o);
        r.pub.data.p = "{}";
        r.pub.data.len = 2;
        r.idempotency_key = ik;
        assert_int_equal(e->vt->map_write(e, &r, NULL, NULL), 0);
    }
    /* the oldest results were forgotten to stay within LC__MAP_IDEM_MAX (1024) */
    lc_map_write_req_t r = write_m("k", &o);
    r.pub.data.p = "{}";
    r.pub.data.len = 2;
    r.idempotency_key = "op-0";
    wres_t w;
    memset(&w, 0, sizeof(w));
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_false(w.suppressed);
    r.idempotency_key = "op-1099";
    assert_int_equal(e->vt->map_write(e, &r, on_written, &w), 0);
    assert_string_equal(w.reason, "idempotency");
    assert_int_equal(w.offset, 1100);
}

static void test_map_stream_data_goes_to_the_stream_and_the_state_keeps_data(void **state)
{
    lc_engine_t *e = *state;
    assert_false(put_x(e, "k", "{\"all\":[1,2]}", 0, NULL, NULL, "{\"add\": 2}").suppressed);
    assert_int_equal(nrecs, 1);
    assert_string_equal(recs[0].push, "{\"push\":{\"channel\":\"m\",\"pub\":{\"data\":"
                                      "{\"add\": 2},\"offset\":1,\"key\":\"k\"}}}");
    got_t st = state_page(e, &durable, NULL, 10, 0);
    assert_string_equal(st.pubs[0], "{\"data\":{\"all\":[1,2]},\"offset\":1,\"key\":\"k\"}");
    got_t s = stream_since(e, &durable, 0, "");
    assert_string_equal(s.pubs[0], "{\"data\":{\"add\": 2},\"offset\":1,\"key\":\"k\"}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_map_state_pages_follow_the_cursor_in_key_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_stream_catches_up_until_its_changes_are_gone,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_keys_expire_after_their_ttl_with_a_removal, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_holds_keep_a_key_until_released_then_its_ttl,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_bounds_and_suppressed_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_ordered_pages_by_score, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_versions_drop_stale_writes_per_key_and_epoch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_idempotent_retries_write_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_idempotency_results_are_bounded_per_channel, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_map_stream_data_goes_to_the_stream_and_the_state_keeps_data, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
