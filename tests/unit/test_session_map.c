/* Map subscriptions of a session (core/client_map*.c) with an engine whose map calls answer
 * later, as the Redis engine answers from the loop (session_fx.h: the memory engine does the
 * work at the call, the answer comes when the test releases it): the state → live and
 * stream → live walks chain their reads, a client map write is answered after the engine's
 * answer, commands queue behind a pending map read, and a session that closes mid-chain
 * leaves nothing behind (ASan: no use after free, no leak; the node count of an engine that
 * links nodes is given back). With an engine that links nodes a walk collects its channel
 * from its first read: a publication delivered before the live reply follows the reply once,
 * the collection is bounded (112), and closing or abandoning the walk gives it all back.
 * Deliveries reach the session through the worker's inbox, run by pump(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <unistd.h>
#include <uv.h>

#include "core/worker.h"
#include "session_fx.h"

static const char *config_json =
    "{\"workers\":1,\"channel\":{\"namespaces\":["
    "{\"name\":\"board\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"map\":{\"mode\":\"durable\",\"key_ttl\":\"300s\",\"min_page_size\":2,"
    "\"default_page_size\":2,\"max_page_size\":3,\"stream_size\":50}},"
    "{\"name\":\"tiny\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"map\":{\"mode\":\"persistent\",\"allow_publish_for_client\":true,\"max_keys\":2}},"
    "{\"name\":\"game\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"map_clients_presence_channel_prefix\":\"clients:\","
    "\"map_users_presence_channel_prefix\":\"users:\","
    "\"map\":{\"mode\":\"ephemeral\",\"key_ttl\":\"60s\"}},"
    "{\"name\":\"eph\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"map\":{\"mode\":\"ephemeral\",\"key_ttl\":\"60s\",\"min_page_size\":2}},"
    "{\"name\":\"quick\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"map\":{\"mode\":\"durable\",\"key_ttl\":\"60s\",\"stream_size\":50,"
    "\"min_page_size\":2,\"subscribe_catch_up_timeout\":\"50ms\"}},"
    "{\"name\":\"fossil\",\"subscription_type\":\"map\",\"allow_subscribe_for_client\":true,"
    "\"allowed_delta_types\":[\"fossil\"],\"delta_publish\":true,"
    "\"map\":{\"mode\":\"durable\",\"key_ttl\":\"60s\"}},"
    "{\"name\":\"clients\",\"subscription_type\":\"map_clients\","
    "\"allow_subscribe_for_client\":true,\"map\":{\"mode\":\"durable\",\"key_ttl\":\"60s\"}},"
    "{\"name\":\"users\",\"subscription_type\":\"map_users\",\"allow_subscribe_for_client\":true,"
    "\"map\":{\"mode\":\"durable\",\"key_ttl\":\"60s\"}}]}}";

static int setup(void **state)
{
    return fx_setup(state, config_json, false);
}

static int setup_linked(void **state)
{
    return fx_setup(state, config_json, true);
}

static int teardown(void **state)
{
    return fx_teardown(state);
}

/* The reply to command id in the output so far (parsed), or NULL. */
static cJSON *reply_of(fx_t *f, int id)
{
    char head[32];
    snprintf(head, sizeof(head), "{\"id\":%d,", id);
    const char *o = out(f);
    for (const char *p = o; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, head, strlen(head)) == 0)
            return cJSON_ParseWithLength(p, n);
        p = nl ? nl + 1 : NULL;
    }
    return NULL;
}

/* Where the reply to id starts in the output (NULL: none yet). */
static const char *reply_at(fx_t *f, int id)
{
    char head[32];
    snprintf(head, sizeof(head), "{\"id\":%d,", id);
    return strstr(out(f), head);
}

static cJSON *sub_result(fx_t *f, int id)
{
    cJSON *r = reply_of(f, id);
    assert_non_null(r);
    assert_null(cJSON_GetObjectItem(r, "error"));
    return r;
}

static int count_of(const cJSON *obj, const char *name)
{
    const cJSON *a = cJSON_GetObjectItem(obj, name);
    return a ? cJSON_GetArraySize(a) : 0;
}

/* Key key written into ch by another session at once (engine not held): the session under
 * test may be waiting. */
static void write_key(fx_t *f, const char *ch, const char *key)
{
    bool held = slow->hold_map, at_once = stub.at_once;
    slow->hold_map = false;
    stub.at_once = true;
    fake_t ft;
    memset(&ft, 0, sizeof(ft));
    lc_client_t *c = fx_client(f, &ft);
    char msg[256];
    snprintf(msg, sizeof(msg),
             "{\"id\":1,\"connect\":{}}\n"
             "{\"id\":2,\"publish\":{\"channel\":\"%s\",\"type\":1,\"key\":\"%s\","
             "\"data\":{\"v\":1}}}",
             ch, key);
    lc_client_on_message(c, msg, strlen(msg));
    lc_buf_putc(&ft.out, '\0');
    assert_non_null(strstr(ft.out.data, "{\"id\":2,\"publish\":{}}"));
    lc_client_on_close(c);
    lc_buf_free(&ft.out);
    slow->hold_map = held;
    stub.at_once = at_once;
}

/* n keys k1..kn written into ch by the session at once (engine not held). */
static void write_keys(fx_t *f, const char *ch, int n, int first_id)
{
    bool held = slow->hold_map;
    slow->hold_map = false;
    stub.at_once = true;
    for (int i = 1; i <= n; i++) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "{\"id\":%d,\"publish\":{\"channel\":\"%s\",\"type\":1,\"key\":\"k%d\","
                 "\"data\":{\"v\":%d}}}",
                 first_id + i - 1, ch, i, i);
        send_text(f, msg);
    }
    assert_null(strstr(out(f), "error"));
    lc_buf_reset(&f->ft.out);
    slow->hold_map = held;
}

/* The epoch of map channel ch, from a first state page of the session (its walk given up). */
static char *epoch_of(fx_t *f, const char *ch)
{
    bool held = slow->hold_map;
    slow->hold_map = false;
    stub.at_once = true;
    char msg[256];
    snprintf(msg, sizeof(msg),
             "{\"id\":900,\"subscribe\":{\"channel\":\"%s\",\"type\":1,\"phase\":2,\"limit\":2}}\n"
             "{\"id\":901,\"unsubscribe\":{\"channel\":\"%s\"}}",
             ch, ch);
    send_text(f, msg);
    cJSON *r = sub_result(f, 900);
    const cJSON *sub = cJSON_GetObjectItem(r, "subscribe");
    char *epoch = strdup(cJSON_GetObjectItem(sub, "epoch")->valuestring);
    cJSON_Delete(r);
    lc_buf_reset(&f->ft.out);
    slow->hold_map = held;
    return epoch;
}

static void test_state_to_live_with_late_answers(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:a", 3, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:a\",\"type\":1,\"phase\":2,"
                 "\"limit\":2}}");
    assert_int_equal(n_pending(), 1);
    assert_string_equal(out(f), "");
    release_all();
    cJSON *r = sub_result(f, 2);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    assert_int_equal(cJSON_GetObjectItem(s, "phase")->valueint, 2);
    assert_int_equal(count_of(s, "state"), 2);
    assert_int_equal((int)cJSON_GetObjectItem(s, "offset")->valuedouble, 3);
    char msg[512];
    snprintf(msg, sizeof(msg),
             "{\"id\":3,\"subscribe\":{\"channel\":\"board:a\",\"type\":1,\"phase\":2,"
             "\"limit\":2,\"cursor\":\"%s\",\"epoch\":\"%s\",\"offset\":3}}",
             cJSON_GetObjectItem(s, "cursor")->valuestring,
             cJSON_GetObjectItem(s, "epoch")->valuestring);
    cJSON_Delete(r);
    send_text(f, msg);
    /* the last page, then the catch-up read of going live: one at a time */
    assert_int_equal(n_pending(), 1);
    /* a write after the page was read arrives with the live reply */
    write_key(f, "board:a", "k4");
    release_all();
    assert_null(reply_at(f, 3));
    assert_int_equal(n_pending(), 1);
    release_all();
    r = sub_result(f, 3);
    s = cJSON_GetObjectItem(r, "subscribe");
    assert_null(cJSON_GetObjectItem(s, "phase"));     /* 0: live */
    assert_int_equal(count_of(s, "state"), 1);        /* k3 */
    assert_int_equal(count_of(s, "publications"), 1); /* k4, offset 4 */
    assert_int_equal((int)cJSON_GetObjectItem(s, "offset")->valuedouble, 4);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "positioned")));
    cJSON_Delete(r);
    /* the subscription is made */
    lc_buf_reset(&f->ft.out);
    send_text(f, "{\"id\":4,\"subscribe\":{\"channel\":\"board:a\",\"type\":1,\"phase\":2}}");
    assert_non_null(strstr(out(f), "{\"id\":4,\"error\":{\"code\":105"));
}

static void test_stream_to_live_with_late_answers(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:s", 6, 10);
    char *epoch = epoch_of(f, "board:s");
    slow->hold_map = true;
    stub.at_once = true;
    char msg[512];
    /* a reconnect from offset 1: the stream's top, then a page */
    snprintf(msg, sizeof(msg),
             "{\"id\":2,\"subscribe\":{\"channel\":\"board:s\",\"type\":1,\"phase\":1,"
             "\"recover\":true,\"offset\":1,\"epoch\":\"%s\",\"limit\":2}}",
             epoch);
    send_text(f, msg);
    assert_int_equal(n_pending(), 1);
    release_all();
    assert_null(reply_at(f, 2));
    assert_int_equal(n_pending(), 1);
    release_all();
    cJSON *r = sub_result(f, 2);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    assert_int_equal(cJSON_GetObjectItem(s, "phase")->valueint, 1);
    assert_int_equal(count_of(s, "publications"), 2);
    assert_int_equal((int)cJSON_GetObjectItem(s, "offset")->valuedouble, 3);
    cJSON_Delete(r);
    /* the next page from 3: 3 + 2 < 6, one more page (the top is known: one read) */
    snprintf(msg, sizeof(msg),
             "{\"id\":3,\"subscribe\":{\"channel\":\"board:s\",\"type\":1,\"phase\":1,"
             "\"recover\":true,\"offset\":3,\"epoch\":\"%s\",\"limit\":2}}",
             epoch);
    send_text(f, msg);
    assert_int_equal(n_pending(), 1);
    release_all();
    r = sub_result(f, 3);
    assert_int_equal(
        (int)cJSON_GetObjectItem(cJSON_GetObjectItem(r, "subscribe"), "offset")->valuedouble, 5);
    cJSON_Delete(r);
    /* from 5: close to the top, live with the catch-up read */
    snprintf(msg, sizeof(msg),
             "{\"id\":4,\"subscribe\":{\"channel\":\"board:s\",\"type\":1,\"phase\":1,"
             "\"recover\":true,\"offset\":5,\"epoch\":\"%s\",\"limit\":2}}",
             epoch);
    send_text(f, msg);
    assert_int_equal(n_pending(), 1);
    release_all();
    r = sub_result(f, 4);
    s = cJSON_GetObjectItem(r, "subscribe");
    assert_null(cJSON_GetObjectItem(s, "phase"));
    assert_int_equal(count_of(s, "publications"), 1);
    assert_int_equal((int)cJSON_GetObjectItem(s, "offset")->valuedouble, 6);
    assert_string_equal(cJSON_GetObjectItem(s, "epoch")->valuestring, epoch);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(s, "recovered")));
    cJSON_Delete(r);
    free(epoch);
}

static void test_write_reply_follows_the_late_answer(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"publish\":{\"channel\":\"tiny:x\",\"type\":1,\"key\":\"a\","
                 "\"data\":{\"a\":1}}}\n"
                 "{\"id\":3,\"rpc\":{\"method\":\"m\",\"data\":{}}}");
    assert_int_equal(n_pending(), 1);
    assert_string_equal(out(f), "");
    release_all();
    const char *r2 = reply_at(f, 2);
    const char *r3 = reply_at(f, 3);
    assert_non_null(r2);
    assert_non_null(r3);
    assert_true(r2 < r3);
    assert_non_null(strstr(out(f), "{\"id\":2,\"publish\":{}}"));
    /* a suppressed write (nothing changed) is a success too; a new key beyond map.max_keys
     * is refused with 106 once the engine said so */
    send_text(f, "{\"id\":4,\"publish\":{\"channel\":\"tiny:x\",\"type\":1,\"key\":\"b\","
                 "\"data\":{\"b\":1}}}\n"
                 "{\"id\":5,\"publish\":{\"channel\":\"tiny:x\",\"type\":1,\"key\":\"c\","
                 "\"data\":{\"c\":1}}}");
    release_all();
    assert_null(reply_at(f, 5));
    release_all();
    assert_non_null(strstr(out(f), "{\"id\":4,\"publish\":{}}"));
    assert_non_null(strstr(out(f), "{\"id\":5,\"error\":{\"code\":106"));
}

static void test_commands_queue_behind_a_pending_map_read(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:q", 1, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:q\",\"type\":1,\"phase\":2}}\n"
                 "{\"id\":3,\"rpc\":{\"method\":\"m\",\"data\":{}}}\n"
                 "{\"id\":4,\"publish\":{\"channel\":\"board:q\",\"type\":1,\"key\":\"z\","
                 "\"data\":{\"z\":1}}}\n"
                 "{\"id\":5,\"unsubscribe\":{\"channel\":\"board:q\"}}");
    /* the state page is pending: nothing else ran */
    assert_int_equal(n_pending(), 1);
    assert_string_equal(out(f), "");
    release(0);
    /* the last page goes live: the catch-up read is pending, still nothing answered */
    assert_int_equal(n_pending(), 1);
    assert_string_equal(out(f), "");
    release(1);
    /* subscribed; the rpc answered; the publish waits for its write */
    assert_non_null(reply_at(f, 3));
    assert_null(reply_at(f, 4));
    assert_int_equal(n_pending(), 1);
    release(2);
    const char *r2 = reply_at(f, 2), *r3 = reply_at(f, 3), *r4 = reply_at(f, 4),
               *r5 = reply_at(f, 5);
    assert_non_null(r2);
    assert_non_null(r5);
    assert_true(r2 < r3 && r3 < r4 && r4 < r5);
    assert_non_null(strstr(r4, "{\"id\":4,\"publish\":{}}"));
    assert_null(strstr(out(f), "error"));
}

static void test_close_while_a_map_read_is_pending(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:c", 3, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:c\",\"type\":1,\"phase\":2,"
                 "\"limit\":2}}\n"
                 "{\"id\":3,\"publish\":{\"channel\":\"board:c\",\"type\":1,\"key\":\"z\","
                 "\"data\":{\"z\":1}}}");
    assert_int_equal(n_pending(), 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    /* the answer finds no session: the step and the walk are gone with it */
    release_all();
    assert_int_equal(n_pending(), 0);
}

static void test_close_mid_chain_between_two_reads(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:m", 1, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:m\",\"type\":1,\"phase\":2}}");
    release_all(); /* the last state page: the catch-up read is pending now */
    assert_int_equal(n_pending(), 1);
    assert_string_equal(out(f), "");
    lc_client_on_close(f->c);
    f->c = NULL;
    release_all(); /* the kept state page is freed with the step */
}

/* An engine that links nodes: the walk's first read waits until the node receives the
 * channel (its hub record counts it in), going live does not wait again. */
static void test_linked_engine_waits_for_the_channel(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:l", 2, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:l\",\"type\":1,\"phase\":2,"
                 "\"limit\":3}}");
    assert_int_equal(n_pending(), 1);
    assert_int_equal(slow->held[0].kind, HELD_READY);
    assert_int_equal(slow->counted, 1);
    release_all(); /* ready: the state page */
    assert_int_equal(n_pending(), 1);
    assert_int_equal(slow->held[1].kind, HELD_MAP_READ);
    release_all(); /* the only state page: going live, the catch-up read */
    assert_int_equal(n_pending(), 1);
    assert_int_equal(slow->held[2].kind, HELD_MAP_READ);
    release_all();
    cJSON *r = sub_result(f, 2);
    assert_int_equal(count_of(cJSON_GetObjectItem(r, "subscribe"), "state"), 2);
    cJSON_Delete(r);
    /* the walk's record is the subscription's now */
    assert_int_equal(slow->counted, 1);
    send_text(f, "{\"id\":3,\"unsubscribe\":{\"channel\":\"board:l\"}}");
    assert_int_equal(slow->counted, 0);
}

static void test_linked_engine_close_while_waiting_for_the_channel(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"board:w\",\"type\":1,\"phase\":2}}");
    assert_int_equal(slow->held[0].kind, HELD_READY);
    assert_int_equal(slow->counted, 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    assert_int_equal(slow->counted, 0); /* the walk's record went with the session */
    release_all();                      /* no session: the step is freed */
    assert_int_equal(slow->counted, 0);
}

/* Deliveries queued for the worker are fanned out (its loop runs once or twice). */
static void pump(fx_t *f)
{
    uv_loop_t *loop = lc_worker_loop(lc_node_worker(f->node, 0));
    for (int i = 0; i < 3; i++)
        uv_run(loop, UV_RUN_NOWAIT);
}

/* How many times s occurs in the output. */
static int occurrences(fx_t *f, const char *s)
{
    int n = 0;
    for (const char *p = strstr(out(f), s); p; p = strstr(p + 1, s))
        n++;
    return n;
}

/* A walk of ch (limit 2) on the linked engine, its first page answered: the walk collects. */
static void first_page(fx_t *f, const char *ch)
{
    stub.at_once = true;
    slow->hold_map = true;
    char msg[256];
    snprintf(msg, sizeof(msg),
             "{\"id\":2,\"subscribe\":{\"channel\":\"%s\",\"type\":1,\"phase\":2,\"limit\":2}}",
             ch);
    send_text(f, msg);
    assert_int_equal(slow->held[slow->n_held - 1].kind, HELD_READY);
    release_all(); /* ready: the first page */
    release_all();
    cJSON *r = sub_result(f, 2);
    assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "subscribe"), "phase")->valueint,
                     2);
    cJSON_Delete(r);
    assert_int_equal(n_pending(), 0);
}

/* The request of the walk's next page (from the first page's reply). */
static void next_page(fx_t *f, int id, const char *ch)
{
    cJSON *r = sub_result(f, 2);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    char msg[512];
    snprintf(msg, sizeof(msg),
             "{\"id\":%d,\"subscribe\":{\"channel\":\"%s\",\"type\":1,\"phase\":2,\"limit\":2,"
             "\"cursor\":\"%s\",\"epoch\":\"%s\",\"offset\":%d}}",
             id, ch, cJSON_GetObjectItem(s, "cursor")->valuestring,
             cJSON_GetObjectItem(s, "epoch")->valuestring,
             (int)cJSON_GetObjectItem(s, "offset")->valuedouble);
    cJSON_Delete(r);
    send_text(f, msg);
}

/* A durable map: a write delivered while the catch-up read is answered (after the read took
 * place) is not in the reply; it follows the reply, once, before later publications. One
 * written between the pages is in the catch-up, and is not delivered again. */
static void test_linked_write_before_the_live_reply_follows_it(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:d", 3, 10);
    pump(f);
    first_page(f, "board:d");
    write_key(f, "board:d", "k9"); /* offset 4 */
    pump(f);
    assert_int_equal(occurrences(f, "\"push\""), 0); /* kept, not delivered */
    next_page(f, 3, "board:d");
    release_all(); /* the last page: going live, the catch-up read took place */
    assert_int_equal(n_pending(), 1);
    write_key(f, "board:d", "k10"); /* offset 5, after the catch-up read */
    pump(f);
    assert_null(reply_at(f, 3));
    release_all();
    const char *rep = reply_at(f, 3);
    assert_non_null(rep);
    cJSON *r = sub_result(f, 3);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    assert_null(cJSON_GetObjectItem(s, "phase"));
    assert_int_equal(count_of(s, "publications"), 1); /* k9 */
    assert_int_equal((int)cJSON_GetObjectItem(s, "offset")->valuedouble, 4);
    cJSON_Delete(r);
    const char *k10 = strstr(out(f), "\"key\":\"k10\"");
    assert_non_null(k10);
    assert_true(rep < k10);
    assert_int_equal(occurrences(f, "\"key\":\"k9\""), 1);
    assert_int_equal(occurrences(f, "\"key\":\"k10\""), 1);
    /* later publications as usual, once */
    write_key(f, "board:d", "k11");
    pump(f);
    assert_int_equal(occurrences(f, "\"key\":\"k10\""), 1);
    assert_int_equal(occurrences(f, "\"key\":\"k11\""), 1);
    assert_int_equal(occurrences(f, "\"push\""), 2);
    assert_null(strstr(out(f), "unsubscribe"));
}

/* An ephemeral map has no stream to catch up from: a write after the first page whose key
 * the snapshot already gave follows the live reply (without it the client keeps the old
 * value). */
static void test_linked_ephemeral_write_during_the_walk_follows_the_reply(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "eph:a", 3, 10);
    pump(f);
    first_page(f, "eph:a"); /* k1, k2 at offset 3 */
    write_key(f, "eph:a", "k1");
    pump(f);
    next_page(f, 3, "eph:a");
    release_all(); /* the last page goes live at once (no catch-up read) */
    assert_int_equal(n_pending(), 0);
    const char *rep = reply_at(f, 3);
    assert_non_null(rep);
    cJSON *r = sub_result(f, 3);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    assert_null(cJSON_GetObjectItem(s, "phase"));
    assert_int_equal(count_of(s, "state"), 1); /* k3 */
    cJSON_Delete(r);
    const char *push = strstr(rep, "{\"push\"");
    assert_non_null(push);
    assert_non_null(strstr(push, "\"offset\":4,"));
    assert_non_null(strstr(push, "\"key\":\"k1\""));
    assert_int_equal(occurrences(f, "\"push\""), 1);
}

/* Past the bound of kept publications the walk lets the channel go and ends with 112. */
static void test_linked_collection_bound_ends_the_walk_with_112(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:b", 3, 10);
    pump(f);
    first_page(f, "board:b");
    assert_int_equal(slow->counted, 1);
    /* 10,001 writes of the session itself, in batches */
    slow->hold_map = false;
    stub.at_once = true;
    lc_buf_t b = LC_BUF_INIT;
    for (int i = 0; i < 10001; i++) {
        lc_buf_printf(&b,
                      "%s{\"id\":%d,\"publish\":{\"channel\":\"board:b\",\"type\":1,"
                      "\"key\":\"k%d\",\"data\":{\"v\":%d}}}",
                      b.len ? "\n" : "", 100 + i, i % 5, i);
        if (i % 100 == 99 || i == 10000) {
            lc_client_on_message(f->c, b.data, b.len);
            lc_buf_reset(&b);
            pump(f);
        }
    }
    lc_buf_free(&b);
    assert_int_equal(slow->counted, 0); /* the channel is given back at once */
    lc_buf_reset(&f->ft.out);
    send_text(f, "{\"id\":3,\"subscribe\":{\"channel\":\"board:b\",\"type\":1,\"phase\":2,"
                 "\"limit\":2,\"cursor\":\"x\"}}");
    assert_non_null(strstr(out(f), "{\"id\":3,\"error\":{\"code\":112"));
    assert_null(strstr(out(f), "\"push\""));
    /* the client starts over */
    send_text(f, "{\"id\":4,\"subscribe\":{\"channel\":\"board:b\",\"type\":1,\"phase\":2,"
                 "\"limit\":3}}");
    cJSON *r = sub_result(f, 4);
    cJSON_Delete(r);
}

/* A session that closes while its walk collects frees the kept publications and the record. */
static void test_linked_close_while_collecting(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "board:x", 3, 10);
    pump(f);
    first_page(f, "board:x");
    write_key(f, "board:x", "k7");
    write_key(f, "board:x", "k8");
    pump(f);
    next_page(f, 3, "board:x"); /* its last page read is pending */
    assert_int_equal(n_pending(), 1);
    lc_client_on_close(f->c);
    f->c = NULL;
    assert_int_equal(slow->counted, 0);
    release_all();
    write_key(f, "board:x", "k9");
    pump(f);
}

/* A walk the client abandons gives the channel back after subscribe_catch_up_timeout. */
static void test_linked_abandoned_walk_gives_the_channel_back(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "quick:a", 3, 10);
    pump(f);
    first_page(f, "quick:a");
    write_key(f, "quick:a", "k7");
    pump(f);
    assert_int_equal(slow->counted, 1);
    usleep(120 * 1000);
    pump(f); /* the session's map sched */
    assert_int_equal(slow->counted, 0);
    next_page(f, 3, "quick:a");
    assert_non_null(strstr(out(f), "{\"id\":3,\"error\":"));
}

/* Presence entries are written without waiting; their answers never reach the session, which
 * may be gone by then. */
static void test_presence_writes_answered_after_the_close(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"game:1\",\"type\":1,\"phase\":2}}");
    release_all(); /* the state page (ephemeral: live at once) */
    assert_non_null(reply_at(f, 2));
    assert_int_equal(n_pending(), 2); /* clients:game:1 and users:game:1 entries */
    lc_client_on_close(f->c);
    f->c = NULL;
    assert_int_equal(n_pending(), 4); /* and their exits */
    release_all();
    /* the entry went and came back: nothing is left in clients:game:1 */
    slow->hold_map = false;
    f->ft.closed = false;
    lc_buf_reset(&f->ft.out);
    f->c = fx_client(f, &f->ft);
    connect_now(f);
    stub.at_once = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"clients:game:1\",\"type\":2,"
                 "\"phase\":2}}");
    cJSON *r = sub_result(f, 2);
    assert_int_equal(count_of(cJSON_GetObjectItem(r, "subscribe"), "state"), 0);
    cJSON_Delete(r);
}

/* Fossil deltas are not served on map subscriptions, even where the namespace allows them:
 * the replies never claim one, so the SDK takes every value whole. */
static void test_map_replies_claim_no_delta(void **state)
{
    fx_t *f = *state;
    connect_now(f);
    write_keys(f, "fossil:a", 3, 10);
    stub.at_once = true;
    slow->hold_map = true;
    send_text(f, "{\"id\":2,\"subscribe\":{\"channel\":\"fossil:a\",\"type\":1,\"phase\":2,"
                 "\"delta\":\"fossil\"}}");
    release_all(); /* the only state page */
    release_all(); /* the catch-up of going live */
    cJSON *r = sub_result(f, 2);
    const cJSON *s = cJSON_GetObjectItem(r, "subscribe");
    assert_null(cJSON_GetObjectItem(s, "phase")); /* live */
    assert_null(cJSON_GetObjectItem(s, "delta"));
    /* values as written, not escaped into strings for a delta base */
    const cJSON *st = cJSON_GetObjectItem(s, "state");
    assert_int_equal(cJSON_GetArraySize(st), 3);
    assert_true(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetArrayItem(st, 0), "data")));
    cJSON_Delete(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_to_live_with_late_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_to_live_with_late_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_reply_follows_the_late_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_queue_behind_a_pending_map_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_close_while_a_map_read_is_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_mid_chain_between_two_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked_engine_waits_for_the_channel, setup_linked,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_linked_engine_close_while_waiting_for_the_channel,
                                        setup_linked, teardown),
        cmocka_unit_test_setup_teardown(test_linked_write_before_the_live_reply_follows_it,
                                        setup_linked, teardown),
        cmocka_unit_test_setup_teardown(
            test_linked_ephemeral_write_during_the_walk_follows_the_reply, setup_linked, teardown),
        cmocka_unit_test_setup_teardown(test_linked_collection_bound_ends_the_walk_with_112,
                                        setup_linked, teardown),
        cmocka_unit_test_setup_teardown(test_linked_close_while_collecting, setup_linked, teardown),
        cmocka_unit_test_setup_teardown(test_linked_abandoned_walk_gives_the_channel_back,
                                        setup_linked, teardown),
        cmocka_unit_test_setup_teardown(test_presence_writes_answered_after_the_close, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_map_replies_claim_no_delta, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
