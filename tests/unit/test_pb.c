/* Protobuf client protocol: varints, Commands into lc_cmd_t (including malformed, truncated
 * and oversized input), the Protobuf form of every JSON reply and push, EmulationRequest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client.pb-c.h"
#include "proto/codec.h"
#include "proto/delta.h"
#include "proto/pb.h"
#include "util/err.h"

/* ---- helpers ---- */

/* Append one varint-delimited Command to b. */
static void put_cmd(lc_buf_t *b, const Lcpb__Command *m)
{
    size_t n = lcpb__command__get_packed_size(m);
    uint8_t hdr[LC_PB_VARINT_MAX];
    size_t hl = lc_pb_varint_put(hdr, n);
    assert_int_equal(lc_buf_reserve(b, hl + n), 0);
    memcpy(b->data + b->len, hdr, hl);
    b->len += hl;
    b->len += lcpb__command__pack(m, (uint8_t *)b->data + b->len);
}

/* Read every command of a message (an exact-size copy, so reads past it are caught). Returns
 * the number decoded; *last_rc is the reader's final result (0 or an error). */
static size_t read_all(const void *p, size_t n, lc_cmd_t *out, size_t max, int *last_rc)
{
    char *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    lc_cmd_reader_t r;
    lc_cmd_reader_init_pb(&r, copy, n);
    size_t k = 0;
    int rc;
    while ((rc = lc_cmd_reader_next(&r, &out[k])) == 1) {
        k++;
        assert_true(k < max);
    }
    *last_rc = rc;
    free(copy);
    return k;
}

static Lcpb__Reply *one_reply(const lc_buf_t *b, size_t *off)
{
    uint64_t len;
    int hl = lc_pb_varint_get((const uint8_t *)b->data + *off, b->len - *off, &len);
    assert_true(hl > 0);
    assert_true(len <= b->len - *off - (size_t)hl);
    Lcpb__Reply *r = lcpb__reply__unpack(NULL, len, (const uint8_t *)b->data + *off + hl);
    assert_non_null(r);
    *off += (size_t)hl + len;
    return r;
}

static Lcpb__Reply *convert_one(const char *json, lc_buf_t *b)
{
    lc_buf_init(b);
    assert_int_equal(lc_pb_replies_from_json(b, json, strlen(json)), 0);
    size_t off = 0;
    Lcpb__Reply *r = one_reply(b, &off);
    assert_int_equal(off, b->len);
    return r;
}

static void assert_bytes(ProtobufCBinaryData d, const char *want)
{
    assert_int_equal(d.len, strlen(want));
    assert_memory_equal(d.data, want, d.len);
}

/* ---- varints ---- */

static void test_varint_roundtrip_and_limits(void **state)
{
    const uint64_t values[] = {0, 1, 127, 128, 300, 16384, UINT32_MAX, UINT64_MAX};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint8_t b[LC_PB_VARINT_MAX];
        size_t n = lc_pb_varint_put(b, values[i]);
        uint64_t v = 0;
        assert_int_equal(lc_pb_varint_get(b, n, &v), (int)n);
        assert_true(v == values[i]);
        /* cut short: incomplete, not an error */
        if (n > 1)
            assert_int_equal(lc_pb_varint_get(b, n - 1, &v), 0);
    }
    uint64_t v;
    const uint8_t eleven[11] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(lc_pb_varint_get(eleven, sizeof(eleven), &v), LC_EPARSE);
    /* ten bytes whose last carries more than the 64th bit */
    const uint8_t over[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(lc_pb_varint_get(over, sizeof(over), &v), LC_EPARSE);
}

/* ---- commands ---- */

static void test_commands_decode_like_json(void **state)
{
    lc_buf_t b = LC_BUF_INIT;

    Lcpb__SubscribeRequest known = LCPB__SUBSCRIBE_REQUEST__INIT;
    known.recover = 1;
    known.offset = 7;
    known.epoch = "ep";
    Lcpb__ConnectRequest__SubsEntry se = LCPB__CONNECT_REQUEST__SUBS_ENTRY__INIT;
    se.key = "news";
    se.value = &known;
    Lcpb__ConnectRequest__SubsEntry *sep[] = {&se};
    Lcpb__ConnectRequest__HeadersEntry he = LCPB__CONNECT_REQUEST__HEADERS_ENTRY__INIT;
    he.key = "x-a";
    he.value = "1";
    Lcpb__ConnectRequest__HeadersEntry *hep[] = {&he};
    Lcpb__ConnectRequest conn = LCPB__CONNECT_REQUEST__INIT;
    conn.token = "tok";
    conn.name = "swift";
    conn.data = (ProtobufCBinaryData){7, (uint8_t *)"{\"a\":1}"};
    conn.n_subs = 1;
    conn.subs = sep;
    conn.n_headers = 1;
    conn.headers = hep;
    Lcpb__Command c1 = LCPB__COMMAND__INIT;
    c1.id = 1;
    c1.connect = &conn;
    put_cmd(&b, &c1);

    Lcpb__SubscribeRequest sub = LCPB__SUBSCRIBE_REQUEST__INIT;
    sub.channel = "chat:1";
    sub.recover = 1;
    sub.offset = UINT64_MAX;
    sub.epoch = "E";
    sub.positioned = 1;
    sub.recoverable = 1;
    sub.join_leave = 1;
    sub.flag = 1; /* a later protocol's field: ignored */
    Lcpb__Command c2 = LCPB__COMMAND__INIT;
    c2.id = 2;
    c2.subscribe = &sub;
    put_cmd(&b, &c2);

    Lcpb__StreamPosition since = LCPB__STREAM_POSITION__INIT;
    since.offset = 5;
    since.epoch = "E";
    Lcpb__HistoryRequest hist = LCPB__HISTORY_REQUEST__INIT;
    hist.channel = "chat:1";
    hist.limit = 10;
    hist.since = &since;
    hist.reverse = 1;
    Lcpb__Command c3 = LCPB__COMMAND__INIT;
    c3.id = 3;
    c3.history = &hist;
    put_cmd(&b, &c3);

    Lcpb__RPCRequest rpc = LCPB__RPCREQUEST__INIT;
    rpc.method = "m";
    rpc.data = (ProtobufCBinaryData){4, (uint8_t *)"[1 ]"};
    Lcpb__Command c4 = LCPB__COMMAND__INIT;
    c4.id = 4;
    c4.rpc = &rpc;
    put_cmd(&b, &c4);

    Lcpb__Command pong = LCPB__COMMAND__INIT; /* empty message: a pong */
    put_cmd(&b, &pong);

    lc_cmd_t cmds[8];
    int rc;
    size_t n = read_all(b.data, b.len, cmds, 8, &rc);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 5);

    assert_int_equal(cmds[0].type, LC_CMD_CONNECT);
    assert_int_equal(cmds[0].id, 1);
    assert_string_equal(cmds[0].token, "tok");
    assert_string_equal(cmds[0].name, "swift");
    assert_null(cmds[0].version);
    assert_int_equal(cmds[0].data.len, 7);
    assert_memory_equal(cmds[0].data.p, "{\"a\":1}", 7);
    assert_int_equal(cmds[0].n_subs, 1);
    const lc_cmd_sub_t *s = lc_cmd_find_sub(&cmds[0], "news");
    assert_non_null(s);
    assert_true(s->recover);
    assert_int_equal(s->offset, 7);
    assert_string_equal(s->epoch, "ep");
    assert_int_equal(cmds[0].n_headers, 1);
    assert_string_equal(cmds[0].headers[0].key, "x-a");
    assert_string_equal(cmds[0].headers[0].value, "1");

    assert_int_equal(cmds[1].type, LC_CMD_SUBSCRIBE);
    assert_string_equal(cmds[1].channel, "chat:1");
    assert_true(cmds[1].recover && cmds[1].positioned && cmds[1].recoverable && cmds[1].join_leave);
    assert_true(cmds[1].offset == UINT64_MAX);
    assert_string_equal(cmds[1].epoch, "E");
    assert_null(cmds[1].data.p);

    assert_int_equal(cmds[2].type, LC_CMD_HISTORY);
    assert_true(cmds[2].has_limit);
    assert_int_equal(cmds[2].limit, 10);
    assert_true(cmds[2].has_since);
    assert_int_equal(cmds[2].since_offset, 5);
    assert_string_equal(cmds[2].since_epoch, "E");
    assert_true(cmds[2].reverse);

    assert_int_equal(cmds[3].type, LC_CMD_RPC);
    assert_string_equal(cmds[3].method, "m");
    assert_memory_equal(cmds[3].data.p, "[1 ]", 4); /* byte for byte */

    assert_int_equal(cmds[4].type, LC_CMD_NONE);
    assert_int_equal(cmds[4].id, 0);

    for (size_t i = 0; i < n; i++)
        lc_cmd_free(&cmds[i]);
    lc_buf_free(&b);
}

/* A good command followed by a bad one: the first is still handed out, then LC_EPARSE. */
static void expect_one_then_error(const lc_buf_t *good, const void *bad, size_t bad_len)
{
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_buf_append(&b, good->data, good->len), 0);
    assert_int_equal(lc_buf_append(&b, bad, bad_len), 0);
    lc_cmd_t cmds[4];
    int rc;
    size_t n = read_all(b.data, b.len, cmds, 4, &rc);
    assert_int_equal(n, 1);
    assert_int_equal(rc, LC_EPARSE);
    lc_cmd_free(&cmds[0]);
    lc_buf_free(&b);
}

static void test_malformed_truncated_oversized(void **state)
{
    lc_buf_t good = LC_BUF_INIT;
    Lcpb__PresenceRequest pr = LCPB__PRESENCE_REQUEST__INIT;
    pr.channel = "c";
    Lcpb__Command c = LCPB__COMMAND__INIT;
    c.id = 9;
    c.presence = &pr;
    put_cmd(&good, &c);

    /* a varint that never ends */
    const uint8_t endless[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    expect_one_then_error(&good, endless, sizeof(endless));
    /* a varint cut off by the end of the message */
    const uint8_t cut[1] = {0x80};
    expect_one_then_error(&good, cut, sizeof(cut));
    /* a length beyond the message (truncated body) */
    const uint8_t truncated[4] = {0x05, 0x08, 0x01, 0x42};
    expect_one_then_error(&good, truncated, sizeof(truncated));
    /* an oversized length: 2^40 */
    const uint8_t huge[7] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 0x08};
    expect_one_then_error(&good, huge, sizeof(huge));
    /* a body that is no Command: wire type 7 does not exist */
    const uint8_t garbage[3] = {0x02, 0x0f, 0x00};
    expect_one_then_error(&good, garbage, sizeof(garbage));
    /* a nested message whose length runs past its parent */
    const uint8_t nested[5] = {0x04, 0x42, 0x09, 0x0a, 0x01};
    expect_one_then_error(&good, nested, sizeof(nested));

    /* publish data that is not JSON: refused like invalid JSON on the JSON protocol */
    lc_buf_t bad = LC_BUF_INIT;
    Lcpb__PublishRequest pub = LCPB__PUBLISH_REQUEST__INIT;
    pub.channel = "c";
    pub.data = (ProtobufCBinaryData){3, (uint8_t *)"\x01\x02\x03"};
    Lcpb__Command pc = LCPB__COMMAND__INIT;
    pc.id = 10;
    pc.publish = &pub;
    put_cmd(&bad, &pc);
    expect_one_then_error(&good, bad.data, bad.len);
    lc_buf_reset(&bad);
    pub.data = (ProtobufCBinaryData){9, (uint8_t *)"{\"a\":1} x"};
    put_cmd(&bad, &pc);
    expect_one_then_error(&good, bad.data, bad.len);

    lc_buf_free(&bad);
    lc_buf_free(&good);
}

/* ---- replies and pushes ---- */

static void test_connect_reply_with_subs(void **state)
{
    lc_buf_t b;
    Lcpb__Reply *r =
        convert_one("{\"id\":1,\"connect\":{\"client\":\"c1\",\"version\":\"0.1.0 OSS\","
                    "\"expires\":true,\"ttl\":60,\"data\":{\"x\": [1,2]},\"subs\":{\"news\":"
                    "{\"recoverable\":true,\"positioned\":true,\"epoch\":\"E\",\"offset\":"
                    "18446744073709551615,\"publications\":[{\"data\":\"s\",\"offset\":3}]}},"
                    "\"ping\":25,\"pong\":true,\"session\":\"s1\",\"node\":\"n1\",\"time\":"
                    "1700000000000}}",
                    &b);
    assert_int_equal(r->id, 1);
    Lcpb__ConnectResult *c = r->connect;
    assert_non_null(c);
    assert_string_equal(c->client, "c1");
    assert_string_equal(c->version, "0.1.0 OSS");
    assert_true(c->expires);
    assert_int_equal(c->ttl, 60);
    assert_bytes(c->data, "{\"x\": [1,2]}");
    assert_int_equal(c->ping, 25);
    assert_true(c->pong);
    assert_string_equal(c->session, "s1");
    assert_string_equal(c->node, "n1");
    assert_true(c->time == 1700000000000LL);
    assert_int_equal(c->n_subs, 1);
    assert_string_equal(c->subs[0]->key, "news");
    Lcpb__SubscribeResult *s = c->subs[0]->value;
    assert_true(s->recoverable && s->positioned);
    assert_true(s->offset == UINT64_MAX);
    assert_int_equal(s->n_publications, 1);
    assert_bytes(s->publications[0]->data, "\"s\"");
    assert_int_equal(s->publications[0]->offset, 3);
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);
}

static void test_pushes_and_results(void **state)
{
    lc_buf_t b;
    Lcpb__Reply *r = convert_one(
        "{\"push\":{\"channel\":\"chat:a\",\"pub\":{\"data\":{\"t\":\"\\u00e9\\\"\"},\"info\":"
        "{\"user\":\"42\",\"client\":\"c\",\"conn_info\":{\"n\":1},\"chan_info\":[true]},"
        "\"offset\":9,\"tags\":{\"k\":\"v\",\"k2\":\"a\\nb\"}}}}",
        &b);
    assert_int_equal(r->id, 0);
    Lcpb__Push *p = r->push;
    assert_string_equal(p->channel, "chat:a");
    assert_bytes(p->pub->data, "{\"t\":\"\\u00e9\\\"\"}");
    assert_string_equal(p->pub->info->user, "42");
    assert_bytes(p->pub->info->conn_info, "{\"n\":1}");
    assert_bytes(p->pub->info->chan_info, "[true]");
    assert_int_equal(p->pub->offset, 9);
    assert_int_equal(p->pub->n_tags, 2);
    assert_string_equal(p->pub->tags[1]->value, "a\nb"); /* JSON escapes decoded */
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one("{\"push\":{\"channel\":\"x\",\"join\":{\"info\":{\"user\":\"\",\"client\":"
                    "\"c\"}}}}",
                    &b);
    assert_string_equal(r->push->join->info->client, "c");
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one("{\"push\":{\"disconnect\":{\"code\":3501,\"reason\":\"bad request\"}}}", &b);
    assert_int_equal(r->push->disconnect->code, 3501);
    assert_string_equal(r->push->disconnect->reason, "bad request");
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one(
        "{\"push\":{\"channel\":\"x\",\"unsubscribe\":{\"code\":2000,\"reason\":\"s\"}}}", &b);
    assert_int_equal(r->push->unsubscribe->code, 2000);
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one("{\"id\":4,\"error\":{\"code\":100,\"message\":\"internal server error\","
                    "\"temporary\":true}}",
                    &b);
    assert_int_equal(r->error->code, 100);
    assert_true(r->error->temporary);
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one("{\"id\":5,\"presence\":{\"presence\":{\"c1\":{\"user\":\"u\",\"client\":"
                    "\"c1\"},\"c2\":{\"user\":\"u\",\"client\":\"c2\"}}}}",
                    &b);
    assert_int_equal(r->presence->n_presence, 2);
    assert_string_equal(r->presence->presence[1]->value->client, "c2");
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    r = convert_one("{\"id\":6,\"history\":{\"publications\":[],\"epoch\":\"E\",\"offset\":0}}",
                    &b);
    assert_non_null(r->history);
    assert_string_equal(r->history->epoch, "E");
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);

    /* an empty result is still present (the reply of that kind) */
    r = convert_one("{\"id\":7,\"publish\":{}}", &b);
    assert_non_null(r->publish);
    lcpb__reply__free_unpacked(r, NULL);
    lc_buf_free(&b);
}

static void test_batch_and_ping(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    const char *json = "{\"id\":1,\"rpc\":{\"data\":{\"a\":1}}}\n{}\n{\"id\":2,\"unsubscribe\":{}}";
    assert_int_equal(lc_pb_replies_from_json(&b, json, strlen(json)), 0);
    size_t off = 0;
    Lcpb__Reply *r = one_reply(&b, &off);
    assert_bytes(r->rpc->data, "{\"a\":1}");
    lcpb__reply__free_unpacked(r, NULL);
    /* the ping: an empty Reply, a single zero length byte */
    assert_int_equal((unsigned char)b.data[off], 0);
    r = one_reply(&b, &off);
    assert_int_equal(r->id, 0);
    assert_null(r->push);
    lcpb__reply__free_unpacked(r, NULL);
    r = one_reply(&b, &off);
    assert_non_null(r->unsubscribe);
    lcpb__reply__free_unpacked(r, NULL);
    assert_int_equal(off, b.len);
    lc_buf_free(&b);

    /* not the JSON form of a Reply */
    const char *bad[] = {"[1]", "{\"id\":\"x\"}", "{\"id\":1,", "{\"connect\":{\"ttl\":-1}}",
                         "{\"connect\":{\"pong\":1}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        lc_buf_init(&b);
        assert_int_equal(lc_pb_replies_from_json(&b, bad[i], strlen(bad[i])), LC_EPARSE);
        lc_buf_free(&b);
    }
}

static void test_emulation_request(void **state)
{
    Lcpb__EmulationRequest e = LCPB__EMULATION_REQUEST__INIT;
    e.node = "n";
    e.session = "s";
    e.data = (ProtobufCBinaryData){3, (uint8_t *)"\x02\x08\x01"};
    uint8_t buf[64];
    size_t n = lcpb__emulation_request__pack(&e, buf);
    lc_pb_emulation_t out;
    assert_int_equal(lc_pb_emulation_decode(buf, n, &out), 0);
    assert_string_equal(out.node, "n");
    assert_string_equal(out.session, "s");
    assert_int_equal(out.data_len, 3);
    assert_memory_equal(out.data, "\x02\x08\x01", 3);
    lc_pb_emulation_free(&out);
    const uint8_t junk[2] = {0x0a, 0x05};
    assert_int_equal(lc_pb_emulation_decode(junk, sizeof(junk), &out), LC_EPARSE);
}

/* ---- fossil deltas ---- */

static void check_roundtrip(const char *src, size_t ns, const char *tgt, size_t nt, size_t *dlen)
{
    lc_buf_t d = LC_BUF_INIT, back = LC_BUF_INIT;
    assert_int_equal(lc_delta_fossil(&d, src, ns, tgt, nt), 0);
    assert_int_equal(lc_delta_fossil_apply(&back, src, ns, d.data, d.len), 0);
    assert_int_equal(back.len, nt);
    if (nt)
        assert_memory_equal(back.data, tgt, nt);
    if (dlen)
        *dlen = d.len;
    lc_buf_free(&d);
    lc_buf_free(&back);
}

static void test_fossil_delta_roundtrips(void **state)
{
    /* a 2 KB JSON document changed a few bytes at a time: every delta decodes exactly and is
     * small */
    char doc[2100];
    unsigned seed = 7;
    size_t n = 0;
    n += (size_t)snprintf(doc, sizeof(doc), "{\"items\":[");
    for (int i = 0; n < 2000; i++) {
        seed = seed * 1103515245u + 12345u;
        n += (size_t)snprintf(doc + n, sizeof(doc) - n, "%s{\"id\":%d,\"v\":%u}", i ? "," : "", i,
                              (seed >> 8) % 100000);
    }
    n += (size_t)snprintf(doc + n, sizeof(doc) - n, "]}");
    char prev[2100];
    for (int round = 0; round < 200; round++) {
        memcpy(prev, doc, n);
        seed = seed * 1103515245u + 12345u;
        size_t at = 12 + (seed >> 8) % (n - 20);
        if (doc[at] >= '0' && doc[at] <= '8')
            doc[at]++;
        else if (doc[at] == '9')
            doc[at] = '0';
        size_t dlen;
        check_roundtrip(prev, n, doc, n, &dlen);
        assert_true(dlen < 40);
    }
    /* edges: empty and tiny inputs, unrelated data, growth and shrinkage, binary bytes */
    check_roundtrip("", 0, "", 0, NULL);
    check_roundtrip("abc", 3, "", 0, NULL);
    check_roundtrip("", 0, "hello", 5, NULL);
    check_roundtrip(doc, n, "completely different text that shares nothing at all", 52, NULL);
    check_roundtrip(doc, n, doc + 100, n - 100, NULL);
    char big[4200];
    memcpy(big, doc, n);
    memcpy(big + n, doc, n);
    check_roundtrip(doc, n, big, 2 * n, NULL);
    const char bin[40] = {0,  1,  2,  (char)0xff, (char)0xfe, 10, 13, 0,  0,  0,  5,  6,
                          7,  8,  9,  10,         11,         12, 13, 14, 15, 16, 17, 18,
                          19, 20, 21, 22,         23,         24, 25, 26, 27, 28};
    char bin2[40];
    memcpy(bin2, bin, sizeof(bin));
    bin2[20] = 'x';
    check_roundtrip(bin, sizeof(bin), bin2, sizeof(bin2), NULL);

    /* a known delta from the format description's rules: 5 bytes inserted, checksum */
    lc_buf_t d = LC_BUF_INIT;
    assert_int_equal(lc_delta_fossil(&d, "", 0, "hello", 5), 0);
    char want[32];
    snprintf(want, sizeof(want), "5\n5:hello");
    assert_memory_equal(d.data, want, strlen(want));
    lc_buf_free(&d);
    /* malformed deltas are refused */
    lc_buf_t o = LC_BUF_INIT;
    assert_int_equal(lc_delta_fossil_apply(&o, "abc", 3, "3\n3@1,", 7), LC_EPARSE);
    lc_buf_reset(&o);
    assert_int_equal(lc_delta_fossil_apply(&o, "abc", 3, "3\n3@0,0;", 9), LC_EPARSE);
    lc_buf_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_roundtrip_and_limits),
        cmocka_unit_test(test_commands_decode_like_json),
        cmocka_unit_test(test_malformed_truncated_oversized),
        cmocka_unit_test(test_connect_reply_with_subs),
        cmocka_unit_test(test_pushes_and_results),
        cmocka_unit_test(test_batch_and_ping),
        cmocka_unit_test(test_emulation_request),
        cmocka_unit_test(test_fossil_delta_roundtrips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
