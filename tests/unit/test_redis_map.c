/* The Redis map broker (engine.h map_write / map_read / map_clear on the Redis engine) against
 * a real redis-server started here on a free port: state pages and cursors, one key,
 * max_bytes and max_offset, the change stream with its epoch and LC_EPOS, key_mode, versions,
 * idempotency, stream_data, max_keys, key TTL expiry through the cleanup, presence holds
 * re-touching their key, map_clear, and deliveries through the broker in offset order. The
 * engine runs attached to this thread's loop as worker 0, as a node runs it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "engine/redis.h"
#include "util/err.h"

extern char **environ;

static pid_t redis_pid;
static int redis_port;
static lc_config_t cfg;
static lc_engine_t *eng;
static uv_loop_t loop;

/* --- deliveries ------------------------------------------------------------------------------ */

typedef struct rec {
    char ch[32];
    char push[256];
    uint64_t offset;
} rec_t;

static rec_t recs[64];
static size_t nrecs;

static void sink_deliver(void *ctx, const char *channel, size_t chlen, int kind, uint64_t offset,
                         lc_rcbuf_t *push, const lc_exclude_t *exclude)
{
    (void)ctx;
    (void)kind;
    (void)exclude;
    if (nrecs < sizeof(recs) / sizeof(recs[0])) {
        snprintf(recs[nrecs].ch, sizeof(recs[nrecs].ch), "%.*s", (int)chlen, channel);
        snprintf(recs[nrecs].push, sizeof(recs[nrecs].push), "%.*s", (int)push->len, push->data);
        recs[nrecs++].offset = offset;
    }
}

/* --- the loop --------------------------------------------------------------------------------- */

/* Run the loop until *flag or ms pass. */
static bool run_until(const bool *flag, int ms)
{
    uint64_t end = uv_now(&loop) + (uint64_t)ms;
    while (!*flag && uv_now(&loop) < end) {
        uv_run(&loop, UV_RUN_NOWAIT);
        usleep(2000);
        uv_update_time(&loop);
    }
    return *flag;
}

static void run_for(int ms)
{
    bool never = false;
    run_until(&never, ms);
}

static bool healthy_now(void)
{
    return eng->vt->healthy(eng);
}

/* --- redis-server ------------------------------------------------------------------------------
 */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void redis_start(void)
{
    redis_port = free_port();
    assert_true(redis_port > 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", redis_port);
    char *argv[] = {"redis-server", "--port", port,    "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no",     "--dir", "/tmp",   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&redis_pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        fail_msg("cannot start redis-server (scripts/deps.sh installs it): %s", strerror(rc));
}

static void redis_stop(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static int group_setup(void **state)
{
    (void)state;
    redis_start();
    lc_config_defaults(&cfg);
    cfg.engine_type = LC_ENGINE_REDIS;
    cfg.redis.addresses = calloc(1, sizeof(char *));
    char addr[32];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", redis_port);
    cfg.redis.addresses[0] = strdup(addr);
    cfg.redis.n_addresses = 1;
    cfg.map_cleanup_interval_ms = 100;
    cfg.map_cleanup_batch_size = 2; /* a round removes a few keys: the rest come next rounds */
    uv_loop_init(&loop);
    eng = lc_engine_redis_new(&cfg);
    assert_non_null(eng);
    eng->sink.deliver = sink_deliver;
    assert_int_equal(eng->vt->attach(eng, 0, 1, &loop), 0);
    /* redis-server takes a moment to listen: the engine reconnects until it does */
    uint64_t end = uv_now(&loop) + 10000;
    while (!healthy_now() && uv_now(&loop) < end)
        run_for(20);
    if (!healthy_now())
        fail_msg("the engine did not connect to redis-server on port %d", redis_port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    eng->vt->detach(eng, 0);
    run_for(400);
    uv_run(&loop, UV_RUN_NOWAIT);
    eng->vt->destroy(eng);
    uv_loop_close(&loop);
    lc_config_free(&cfg);
    redis_stop();
    return 0;
}

/* --- calls ---------------------------------------------------------------------------------- */

typedef struct wgot {
    bool done;
    int err;
    lc_map_write_res_t res;
    char reason[32];
} wgot_t;

static void on_write(void *arg, int err, const lc_map_write_res_t *res)
{
    wgot_t *g = arg;
    g->done = true;
    g->err = err;
    g->res = *res;
    snprintf(g->reason, sizeof(g->reason), "%s", res->suppress_reason ? res->suppress_reason : "");
    g->res.suppress_reason = NULL;
}

static lc_map_write_req_t wreq(const char *ch, const char *key, const char *json,
                               const lc_map_opts_t *o)
{
    lc_map_write_req_t r;
    memset(&r, 0, sizeof(r));
    r.channel = ch;
    r.chlen = strlen(ch);
    r.key = key;
    r.keylen = strlen(key);
    r.pub.data.p = json;
    r.pub.data.len = json ? strlen(json) : 0;
    r.opts = *o;
    return r;
}

static wgot_t do_write(const lc_map_write_req_t *r)
{
    wgot_t g = {0};
    int rc = eng->vt->map_write(eng, r, on_write, &g);
    assert_int_equal(rc, 0);
    assert_false(g.done); /* Redis answers later, on the loop */
    assert_true(run_until(&g.done, 3000));
    return g;
}

static wgot_t put(const char *ch, const char *key, const char *json, const lc_map_opts_t *o)
{
    lc_map_write_req_t r = wreq(ch, key, json, o);
    return do_write(&r);
}

static wgot_t del(const char *ch, const char *key, const lc_map_opts_t *o)
{
    lc_map_write_req_t r = wreq(ch, key, NULL, o);
    r.remove = true;
    return do_write(&r);
}

typedef struct rgot {
    bool done;
    int err;
    size_t n;
    char pubs[8][160];
    char cursor[64];
    lc_stream_pos_t top;
    size_t num_keys;
} rgot_t;

static void on_read(void *arg, int err, const lc_map_read_res_t *res)
{
    rgot_t *g = arg;
    g->done = true;
    g->err = err;
    g->n = res->n;
    g->top = res->top;
    g->num_keys = res->num_keys;
    for (size_t i = 0; i < res->n && i < 8; i++)
        snprintf(g->pubs[i], sizeof(g->pubs[i]), "%.*s", (int)res->pubs[i]->len,
                 res->pubs[i]->data);
    snprintf(g->cursor, sizeof(g->cursor), "%s", res->cursor ? res->cursor : "");
}

static rgot_t do_read(const lc_map_read_req_t *q)
{
    rgot_t g = {0};
    assert_int_equal(eng->vt->map_read(eng, q, on_read, &g), 0);
    assert_true(run_until(&g.done, 3000));
    return g;
}

static lc_map_read_req_t rreq(const char *ch, const lc_map_opts_t *o)
{
    lc_map_read_req_t q;
    memset(&q, 0, sizeof(q));
    q.channel = ch;
    q.chlen = strlen(ch);
    q.opts = *o;
    return q;
}

static rgot_t page(const char *ch, const lc_map_opts_t *o, const char *cursor, int limit)
{
    lc_map_read_req_t q = rreq(ch, o);
    q.cursor = cursor;
    q.limit = limit;
    return do_read(&q);
}

static rgot_t stream(const char *ch, const lc_map_opts_t *o, bool has_since, uint64_t since,
                     const char *epoch, int limit)
{
    lc_map_read_req_t q = rreq(ch, o);
    q.stream = true;
    q.has_since = has_since;
    q.since.offset = since;
    snprintf(q.since.epoch, sizeof(q.since.epoch), "%s", epoch ? epoch : "");
    q.limit = limit;
    return do_read(&q);
}

static const lc_map_opts_t durable = {.stream_size = 3,
                                      .stream_ttl_ms = 60000,
                                      .meta_ttl_ms = 60000,
                                      .key_ttl_ms = 60000,
                                      .max_keys = 4};
static const lc_map_opts_t persistent = {.stream_size = 100, .stream_ttl_ms = 60000};

/* --- tests -------------------------------------------------------------------------------------
 */

static void test_state_pages_and_cursors(void **state)
{
    (void)state;
    const char *keys[] = {"e", "a", "d", "b", "c"};
    for (int i = 0; i < 5; i++) {
        char json[32];
        snprintf(json, sizeof(json), "{\"k\":\"%s\"}", keys[i]);
        wgot_t w = put("pages", keys[i], json, &persistent);
        assert_int_equal(w.err, 0);
        assert_int_equal(w.res.pos.offset, (uint64_t)i + 1);
        assert_int_equal(strlen(w.res.pos.epoch), 8);
    }
    rgot_t p1 = page("pages", &persistent, NULL, 2);
    assert_int_equal(p1.err, 0);
    assert_int_equal(p1.n, 2);
    assert_int_equal(p1.num_keys, 5);
    assert_int_equal(p1.top.offset, 5);
    assert_string_equal(p1.pubs[0], "{\"data\":{\"k\":\"a\"},\"offset\":2,\"key\":\"a\"}");
    assert_non_null(strstr(p1.pubs[1], "\"key\":\"b\""));
    assert_string_equal(p1.cursor, "0:b");
    /* a key written meanwhile before the cursor neither repeats nor shifts the pages */
    put("pages", "aa", "{}", &persistent);
    rgot_t p2 = page("pages", &persistent, p1.cursor, 2);
    assert_int_equal(p2.n, 2);
    assert_non_null(strstr(p2.pubs[0], "\"key\":\"c\""));
    assert_non_null(strstr(p2.pubs[1], "\"key\":\"d\""));
    rgot_t p3 = page("pages", &persistent, p2.cursor, 2);
    assert_int_equal(p3.n, 1);
    assert_string_equal(p3.cursor, "");
    /* not a cursor: LC_EINVAL through the callback, with the position */
    rgot_t bad = page("pages", &persistent, "nope", 2);
    assert_int_equal(bad.err, LC_EINVAL);
    assert_int_equal(bad.top.offset, 6);
    /* one key; max_offset leaves out later writes; max_bytes ends a page early */
    lc_map_read_req_t q = rreq("pages", &persistent);
    q.key = "d";
    rgot_t one = do_read(&q);
    assert_int_equal(one.n, 1);
    assert_non_null(strstr(one.pubs[0], "\"key\":\"d\""));
    q.key = NULL;
    q.limit = 10;
    q.max_offset = 3;
    rgot_t early = do_read(&q);
    assert_int_equal(early.n, 3); /* e, a, d: offsets 1..3 */
    q.limit = 3;
    assert_string_equal(do_read(&q).cursor, ""); /* later keys left out: no page follows */
    q.limit = 2;
    rgot_t e1 = do_read(&q);
    assert_string_equal(e1.cursor, "0:d");
    q.cursor = e1.cursor;
    rgot_t e2 = do_read(&q);
    assert_int_equal(e2.n, 1);
    assert_non_null(strstr(e2.pubs[0], "\"key\":\"e\""));
    assert_string_equal(e2.cursor, "");
    q.cursor = NULL;
    q.max_offset = 0;
    q.max_bytes = 10;
    rgot_t small = do_read(&q);
    assert_int_equal(small.n, 1);
    assert_string_not_equal(small.cursor, "");
}

static void test_ordered_pages(void **state)
{
    (void)state;
    lc_map_opts_t o = persistent;
    o.ordered = true;
    const char *keys[] = {"x", "y", "z", "w"};
    const int64_t scores[] = {5, 9, 5, 1};
    for (int i = 0; i < 4; i++) {
        lc_map_write_req_t r = wreq("ranked", keys[i], "{}", &o);
        r.pub.score = scores[i];
        assert_int_equal(do_write(&r).err, 0);
    }
    rgot_t p1 = page("ranked", &o, NULL, 2);
    assert_int_equal(p1.n, 2);
    assert_non_null(strstr(p1.pubs[0], "\"key\":\"y\",\"score\":9"));
    assert_non_null(strstr(p1.pubs[1], "\"key\":\"x\""));
    assert_string_equal(p1.cursor, "5:x");
    rgot_t p2 = page("ranked", &o, p1.cursor, 2);
    assert_int_equal(p2.n, 2);
    assert_non_null(strstr(p2.pubs[0], "\"key\":\"z\""));
    assert_non_null(strstr(p2.pubs[1], "\"key\":\"w\""));
    assert_string_equal(p2.cursor, "");
}

static void test_stream_epoch_and_positions(void **state)
{
    (void)state;
    wgot_t w1 = put("st", "a", "{\"v\":1}", &durable);
    put("st", "b", "{\"v\":2}", &durable);
    del("st", "a", &durable);
    rgot_t all = stream("st", &durable, true, 0, w1.res.pos.epoch, -1);
    assert_int_equal(all.err, 0);
    assert_int_equal(all.n, 3);
    assert_string_equal(all.pubs[2], "{\"offset\":3,\"key\":\"a\",\"removed\":true}");
    rgot_t after1 = stream("st", &durable, true, 1, "", 1);
    assert_int_equal(after1.n, 1);
    assert_non_null(strstr(after1.pubs[0], "\"offset\":2"));
    rgot_t top = stream("st", &durable, false, 0, NULL, 0);
    assert_int_equal(top.err, 0);
    assert_int_equal(top.n, 0);
    assert_int_equal(top.top.offset, 3);
    assert_string_equal(top.top.epoch, w1.res.pos.epoch);
    rgot_t other = stream("st", &durable, true, 1, "another", -1);
    assert_int_equal(other.err, LC_EPOS);
    assert_int_equal(other.top.offset, 3);
    assert_string_equal(other.top.epoch, w1.res.pos.epoch);
    /* stream_size 3: after a fourth change, offset 1 is gone */
    put("st", "c", "{}", &durable);
    assert_int_equal(stream("st", &durable, true, 0, w1.res.pos.epoch, -1).err, LC_EPOS);
    assert_int_equal(stream("st", &durable, true, 1, w1.res.pos.epoch, -1).n, 3);
    assert_int_equal(stream("st", &durable, true, 9, w1.res.pos.epoch, -1).err, LC_EPOS);
    /* ephemeral: no stream, only the top is a position */
    lc_map_opts_t eph = durable;
    eph.stream_size = 0;
    wgot_t e = put("eph", "k", "{}", &eph);
    assert_int_equal(stream("eph", &eph, true, e.res.pos.offset, "", -1).err, 0);
    assert_int_equal(stream("eph", &eph, true, 0, "", -1).err, LC_EPOS);
}

static void test_write_modes(void **state)
{
    (void)state;
    lc_map_write_req_t r = wreq("modes", "k", "{\"v\":1}", &durable);
    r.key_mode = LC_MAP_KEY_IF_NEW;
    assert_false(do_write(&r).res.suppressed);
    wgot_t again = do_write(&r);
    assert_true(again.res.suppressed);
    assert_string_equal(again.reason, "key_exists");
    assert_int_equal(again.res.pos.offset, 1);
    r = wreq("modes", "none", "{}", &durable);
    r.key_mode = LC_MAP_KEY_IF_EXISTS;
    assert_string_equal(do_write(&r).reason, "key_not_found");
    assert_string_equal(del("modes", "none", &durable).reason, "key_not_found");

    /* versions: only above the stored one; another version epoch accepts any; empty compares */
    r = wreq("modes", "v", "{\"v\":10}", &durable);
    r.version = 10;
    r.version_epoch = "e1";
    assert_false(do_write(&r).res.suppressed);
    r.version = 9;
    assert_string_equal(do_write(&r).reason, "version");
    r.version_epoch = "";
    r.version = 10;
    assert_string_equal(do_write(&r).reason, "version");
    r.version = 11;
    assert_false(do_write(&r).res.suppressed);
    r.version = 2;
    r.version_epoch = "e2";
    assert_false(do_write(&r).res.suppressed);
    r.version = 100000000000000000ULL; /* compared as numbers, not as text */
    assert_false(do_write(&r).res.suppressed);

    /* idempotency: a repeat writes nothing and answers the first write's position */
    r = wreq("modes", "i", "{}", &durable);
    r.idempotency_key = "op-1";
    r.idempotent_ttl_ms = 10000;
    wgot_t first = do_write(&r);
    assert_false(first.res.suppressed);
    put("modes", "other", "{}", &durable);
    wgot_t repeat = do_write(&r);
    assert_true(repeat.res.suppressed);
    assert_string_equal(repeat.reason, "idempotency");
    assert_int_equal(repeat.res.pos.offset, first.res.pos.offset);
    assert_string_equal(repeat.res.pos.epoch, first.res.pos.epoch);

    char longkey[300];
    memset(longkey, 'x', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    r.idempotency_key = longkey;
    assert_int_equal(eng->vt->map_write(eng, &r, on_write, NULL), LC_EINVAL);

    /* max_keys 4 (k, v, i, other): a fifth key fails, a known key is still written */
    wgot_t full = put("modes", "fifth", "{}", &durable);
    assert_int_equal(full.err, LC_ETOOBIG);
    assert_int_equal(put("modes", "k", "{}", &durable).err, 0);

    /* stream_data: the stream gets the change, the state the whole value */
    r = wreq("sd", "doc", "{\"whole\":true}", &durable);
    r.stream_data.p = "{\"change\":1}";
    r.stream_data.len = strlen(r.stream_data.p);
    assert_int_equal(do_write(&r).err, 0);
    lc_map_read_req_t q = rreq("sd", &durable);
    q.key = "doc";
    assert_non_null(strstr(do_read(&q).pubs[0], "{\"data\":{\"whole\":true}"));
    assert_non_null(strstr(stream("sd", &durable, false, 0, NULL, -1).pubs[0], "{\"change\":1}"));
}

static bool deliveries_of(const char *ch, size_t want)
{
    size_t n = 0;
    for (size_t i = 0; i < nrecs; i++)
        n += strcmp(recs[i].ch, ch) == 0;
    return n >= want;
}

static void on_done(void *arg, int err)
{
    assert_int_equal(err, 0);
    *(bool *)arg = true;
}

static void subscribe(const char *ch)
{
    bool ready = false;
    eng->vt->channel_subscribe(eng, ch, strlen(ch));
    assert_int_equal(eng->vt->channel_ready(eng, ch, strlen(ch), on_done, &ready), 0);
    assert_true(run_until(&ready, 3000));
}

static void test_deliveries_and_ttl_expiry(void **state)
{
    (void)state;
    subscribe("ttl");
    nrecs = 0;
    lc_map_opts_t o = durable;
    o.key_ttl_ms = 300;
    o.max_keys = 0;
    put("ttl", "k1", "{\"a\":1}", &o);
    put("ttl", "k2", "{}", &o);
    put("ttl", "k3", "{}", &o);
    /* the cleanup removes the three keys (two per round), each a change delivered in order */
    uint64_t end = uv_now(&loop) + 5000;
    while (!deliveries_of("ttl", 6) && uv_now(&loop) < end)
        run_for(20);
    assert_true(deliveries_of("ttl", 6));
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal(recs[i].ch, "ttl");
        assert_int_equal(recs[i].offset, i + 1);
    }
    assert_string_equal(recs[0].push, "{\"push\":{\"channel\":\"ttl\",\"pub\":{\"data\":{\"a\":1},"
                                      "\"offset\":1,\"key\":\"k1\"}}}");
    assert_non_null(strstr(recs[3].push, "\"removed\":true"));
    rgot_t st = page("ttl", &o, NULL, 10);
    assert_int_equal(st.num_keys, 0);
    assert_int_equal(stream("ttl", &o, true, 3, "", -1).n, 3);
}

static void test_holds(void **state)
{
    (void)state;
    lc_map_opts_t o = durable;
    o.key_ttl_ms = 900;
    o.max_keys = 0;
    /* two holds (two connections of a user on this node) */
    lc_map_write_req_t r = wreq("users", "u1", NULL, &o);
    r.key_mode = LC_MAP_KEY_IF_NEW;
    r.hold = 1;
    assert_false(do_write(&r).res.suppressed);
    assert_string_equal(do_write(&r).reason, "key_exists");
    /* held: re-touched every key_ttl / 3, it outlives its TTL several times */
    run_for(2500);
    assert_int_equal(page("users", &o, NULL, 10).num_keys, 1);
    lc_map_write_req_t rel = wreq("users", "u1", NULL, &o);
    rel.hold = -1;
    wgot_t one = do_write(&rel);
    assert_true(one.res.suppressed);
    run_for(1500);
    assert_int_equal(page("users", &o, NULL, 10).num_keys, 1); /* the other hold remains */
    do_write(&rel);
    /* the last hold gone: the key expires its TTL later */
    uint64_t end = uv_now(&loop) + 5000;
    while (page("users", &o, NULL, 10).num_keys != 0 && uv_now(&loop) < end)
        run_for(50);
    assert_int_equal(page("users", &o, NULL, 10).num_keys, 0);
    /* a client entry: held, then removed explicitly */
    lc_map_write_req_t c = wreq("clients", "c1", NULL, &o);
    c.hold = 1;
    do_write(&c);
    wgot_t gone = del("clients", "c1", &o);
    assert_false(gone.res.suppressed);
    assert_int_equal(page("clients", &o, NULL, 10).num_keys, 0);
}

static void test_clear(void **state)
{
    (void)state;
    wgot_t w = put("gone", "k", "{}", &durable);
    bool done = false;
    assert_int_equal(eng->vt->map_clear(eng, "gone", 4, on_done, &done), 0);
    assert_true(run_until(&done, 3000));
    rgot_t st = page("gone", &durable, NULL, 10);
    assert_int_equal(st.num_keys, 0);
    assert_int_equal(st.top.offset, 0);
    assert_string_not_equal(st.top.epoch, w.res.pos.epoch);
    assert_int_equal(stream("gone", &durable, true, 1, w.res.pos.epoch, -1).err, LC_EPOS);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_pages_and_cursors),
        cmocka_unit_test(test_ordered_pages),
        cmocka_unit_test(test_stream_epoch_and_positions),
        cmocka_unit_test(test_write_modes),
        cmocka_unit_test(test_deliveries_and_ttl_expiry),
        cmocka_unit_test(test_holds),
        cmocka_unit_test(test_clear),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
