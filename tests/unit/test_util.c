/* Unit tests for src/util: buffers, refcounted buffers, hash map, base64, durations,
 * constant-time compare, random identifiers, error strings, log level names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/ct.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"
#include "util/rand.h"
#include "util/rcbuf.h"

/* ---- buf ---- */

static void test_buf_append_printf_grows_and_terminates(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_buf_append_str(&b, "hello"), 0);
    assert_int_equal(lc_buf_putc(&b, ' '), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(lc_buf_printf(&b, "%d,", i), 0);
    assert_true(b.len < b.cap);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(strncmp(b.data, "hello 0,1,2,", 12), 0);
    assert_int_equal(strlen(b.data), b.len);
    lc_buf_free(&b);
    assert_null(b.data);
}

static void test_buf_printf_long_string_fits(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(lc_buf_printf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    assert_int_equal(b.data[0], '[');
    assert_int_equal(b.data[1000], ']');
    lc_buf_free(&b);
}

static void test_buf_consume_reset_steal_keep_contents_right(void **state)
{
    lc_buf_t b;
    lc_buf_init(&b);
    assert_int_equal(lc_buf_append(&b, "abcdef", 6), 0);
    lc_buf_consume(&b, 2);
    assert_string_equal(b.data, "cdef");
    lc_buf_consume(&b, 4);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(lc_buf_append(&b, "xyz", 3), 0);
    lc_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_true(b.cap > 0);
    assert_int_equal(lc_buf_append(&b, "q", 1), 0);
    char *s = lc_buf_steal(&b);
    assert_string_equal(s, "q");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    assert_null(lc_buf_steal(&b));
}

static void test_buf_json_str_escapes_specials(void **state)
{
    lc_buf_t b = LC_BUF_INIT;
    const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x7f\xc3\xa9/";
    assert_int_equal(lc_buf_append_json_str(&b, in, sizeof(in) - 1), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9/\"");
    lc_buf_free(&b);
}

static void test_buf_json_str_any_bytes_parse_back(void **state)
{
    /* every byte value, NUL included, must come back through a JSON parser unchanged
     * (ASCII only here: cJSON keeps invalid UTF-8 bytes, so test those separately) */
    char in[128];
    for (int i = 0; i < 128; i++)
        in[i] = (char)i;
    lc_buf_t b = LC_BUF_INIT;
    assert_int_equal(lc_buf_append_str(&b, "{\"k\":"), 0);
    assert_int_equal(lc_buf_append_json_str(&b, in + 1, sizeof(in) - 1), 0);
    assert_int_equal(lc_buf_putc(&b, '}'), 0);
    cJSON *j = cJSON_Parse(b.data);
    assert_non_null(j);
    cJSON *k = cJSON_GetObjectItem(j, "k");
    assert_true(cJSON_IsString(k));
    assert_memory_equal(k->valuestring, in + 1, sizeof(in) - 1);
    cJSON_Delete(j);

    lc_buf_reset(&b);
    assert_int_equal(lc_buf_append_json_str(&b, "a\0b", 3), 0);
    assert_string_equal(b.data, "\"a\\u0000b\"");
    lc_buf_reset(&b);
    assert_int_equal(lc_buf_append_json_str(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    lc_buf_free(&b);
}

/* ---- rcbuf ---- */

static void test_rcbuf_ref_unref_counts(void **state)
{
    lc_rcbuf_t *b = lc_rcbuf_from("frame", 5);
    assert_non_null(b);
    assert_int_equal(b->len, 5);
    assert_memory_equal(b->data, "frame", 5);
    assert_int_equal(atomic_load(&b->refs), 1);
    assert_ptr_equal(lc_rcbuf_ref(b), b);
    assert_int_equal(atomic_load(&b->refs), 2);
    lc_rcbuf_unref(b);
    assert_int_equal(atomic_load(&b->refs), 1);
    lc_rcbuf_unref(b); /* frees; ASan reports if it does not */
    lc_rcbuf_unref(NULL);

    lc_rcbuf_t *e = lc_rcbuf_new(0);
    assert_non_null(e);
    assert_int_equal(e->len, 0);
    lc_rcbuf_unref(e);
}

/* ---- map ---- */

static void test_map_put_get_del_basic(void **state)
{
    lc_map_t m;
    lc_map_init(&m);
    int a = 1, b = 2, c = 3;
    void *old = &c;
    assert_null(lc_map_get(&m, "x", 1));
    assert_null(lc_map_del(&m, "x", 1));
    assert_int_equal(lc_map_put(&m, "a", 1, &a, &old), 0);
    assert_null(old);
    assert_int_equal(lc_map_put(&m, "b", 1, &b, NULL), 0);
    assert_ptr_equal(lc_map_get(&m, "a", 1), &a);
    assert_ptr_equal(lc_map_get(&m, "b", 1), &b);
    assert_null(lc_map_get(&m, "ab", 2));
    assert_int_equal(lc_map_put(&m, "a", 1, &c, &old), 0);
    assert_ptr_equal(old, &a);
    assert_ptr_equal(lc_map_get(&m, "a", 1), &c);
    assert_int_equal(lc_map_count(&m), 2);
    /* keys are byte strings: embedded NULs and the empty key are distinct keys */
    assert_int_equal(lc_map_put(&m, "a\0z", 3, &b, NULL), 0);
    assert_int_equal(lc_map_put(&m, "", 0, &a, NULL), 0);
    assert_ptr_equal(lc_map_get(&m, "a\0z", 3), &b);
    assert_ptr_equal(lc_map_get(&m, "", 0), &a);
    assert_ptr_equal(lc_map_del(&m, "a", 1), &c);
    assert_null(lc_map_get(&m, "a", 1));
    assert_int_equal(lc_map_count(&m), 3);
    lc_map_free(&m);
    assert_int_equal(lc_map_count(&m), 0);
}

/* lc_map_put_ref borrows the key: lookups compare the caller's bytes, iteration returns the
 * caller's pointer, and replacing the value moves the entry to the new key's storage. */
static void test_map_put_ref_borrows_the_key(void **state)
{
    lc_map_t m;
    lc_map_init(&m);
    char k1[] = "0b5e2c1a-user-connection-id-000000001";
    char k2[] = "0b5e2c1a-user-connection-id-000000001"; /* same bytes, other storage */
    int a = 1, b = 2;
    void *old = NULL;
    assert_int_equal(lc_map_put_ref(&m, k1, strlen(k1), &a, NULL), 0);
    assert_ptr_equal(lc_map_get(&m, k2, strlen(k2)), &a);
    lc_map_iter_t it = {0};
    const char *key;
    size_t klen;
    void *val;
    assert_true(lc_map_next(&m, &it, &key, &klen, &val));
    assert_ptr_equal(key, k1);
    assert_int_equal(klen, strlen(k1));
    assert_int_equal(lc_map_put_ref(&m, k2, strlen(k2), &b, &old), 0);
    assert_ptr_equal(old, &a);
    memset(k1, 'x', sizeof(k1) - 1); /* the first owner's storage may go now */
    assert_ptr_equal(lc_map_get(&m, k2, strlen(k2)), &b);
    memset(&it, 0, sizeof(it));
    assert_true(lc_map_next(&m, &it, &key, &klen, &val));
    assert_ptr_equal(key, k2);
    /* copied and borrowed keys live side by side, through growth */
    char names[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "k%d", i);
        if (i % 2)
            assert_int_equal(lc_map_put_ref(&m, names[i], strlen(names[i]), &a, NULL), 0);
        else
            assert_int_equal(lc_map_put(&m, names[i], strlen(names[i]), &b, NULL), 0);
    }
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(lc_map_get(&m, names[i], strlen(names[i])), i % 2 ? &a : &b);
    assert_ptr_equal(lc_map_del(&m, k2, strlen(k2)), &b);
    assert_int_equal(lc_map_count(&m), 100);
    lc_map_free(&m);
}

static void test_map_many_keys_grow_keeps_all(void **state)
{
    lc_map_t m;
    lc_map_init(&m);
    enum { N = 5000 };
    char key[32];
    for (intptr_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "channel:%ld", (long)i);
        assert_int_equal(lc_map_put(&m, key, (size_t)n, (void *)(i + 1), NULL), 0);
    }
    assert_int_equal(lc_map_count(&m), N);
    /* load stays at or below 3/4 */
    assert_true(m.count * 4 <= m.nbuckets * 3);
    for (intptr_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "channel:%ld", (long)i);
        assert_ptr_equal(lc_map_get(&m, key, (size_t)n), (void *)(i + 1));
    }
    for (intptr_t i = 0; i < N; i += 2) {
        int n = snprintf(key, sizeof(key), "channel:%ld", (long)i);
        assert_ptr_equal(lc_map_del(&m, key, (size_t)n), (void *)(i + 1));
    }
    assert_int_equal(lc_map_count(&m), N / 2);
    for (intptr_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "channel:%ld", (long)i);
        void *v = lc_map_get(&m, key, (size_t)n);
        if (i % 2 == 0)
            assert_null(v);
        else
            assert_ptr_equal(v, (void *)(i + 1));
    }
    lc_map_free(&m);
}

static void test_map_shrink_after_deletes_keeps_the_rest(void **state)
{
    lc_map_t m;
    lc_map_init(&m);
    enum { N = 10000 };
    char key[32];
    for (intptr_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "c%ld", (long)i);
        assert_int_equal(lc_map_put(&m, key, (size_t)n, (void *)(i + 1), NULL), 0);
    }
    size_t big = m.nbuckets;
    lc_map_shrink(&m); /* full: nothing to give back */
    assert_int_equal(m.nbuckets, big);
    for (intptr_t i = 10; i < N; i++) {
        int n = snprintf(key, sizeof(key), "c%ld", (long)i);
        assert_ptr_equal(lc_map_del(&m, key, (size_t)n), (void *)(i + 1));
    }
    assert_int_equal(m.nbuckets, big); /* deleting alone never shrinks (iterators) */
    lc_map_shrink(&m);
    assert_true(m.nbuckets < big);
    assert_true(m.nbuckets >= 16);
    for (intptr_t i = 0; i < 10; i++) {
        int n = snprintf(key, sizeof(key), "c%ld", (long)i);
        assert_ptr_equal(lc_map_get(&m, key, (size_t)n), (void *)(i + 1));
    }
    /* and it grows again as before */
    for (intptr_t i = 10; i < 1000; i++) {
        int n = snprintf(key, sizeof(key), "c%ld", (long)i);
        assert_int_equal(lc_map_put(&m, key, (size_t)n, (void *)(i + 1), NULL), 0);
    }
    assert_int_equal(lc_map_count(&m), 1000);
    assert_true(m.count * 4 <= m.nbuckets * 3);
    lc_map_free(&m);
}

static void test_map_iterate_with_delete_visits_each_once(void **state)
{
    lc_map_t m;
    lc_map_init(&m);
    enum { N = 300 };
    char key[32];
    int seen[N] = {0};
    for (intptr_t i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_int_equal(lc_map_put(&m, key, (size_t)n, (void *)i, NULL), 0);
    }
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    size_t visited = 0;
    while (lc_map_next(&m, &it, &k, &kl, &v)) {
        intptr_t i = (intptr_t)v;
        assert_true(i >= 0 && i < N);
        /* the key is a NUL-terminated copy */
        assert_int_equal(strlen(k), kl);
        snprintf(key, sizeof(key), "k%ld", (long)i);
        assert_string_equal(k, key);
        seen[i]++;
        visited++;
        if (i % 3 != 0)
            assert_ptr_equal(lc_map_del(&m, k, kl), v);
    }
    assert_int_equal(visited, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(lc_map_count(&m), N / 3);

    lc_map_iter_t it2 = {0};
    visited = 0;
    while (lc_map_next(&m, &it2, NULL, NULL, &v)) {
        assert_int_equal((intptr_t)v % 3, 0);
        visited++;
    }
    assert_int_equal(visited, N / 3);
    lc_map_free(&m);

    lc_map_t empty;
    lc_map_init(&empty);
    lc_map_iter_t it3 = {0};
    assert_int_equal(lc_map_next(&empty, &it3, &k, &kl, &v), 0);
}

static void test_hash_is_fnv1a_stable(void **state)
{
    assert_true(lc_hash("", 0) == 0xcbf29ce484222325ULL);
    assert_true(lc_hash("a", 1) == 0xaf63dc4c8601ec8cULL);
}

/* ---- base64 ---- */

static void test_base64_std_known_vectors(void **state)
{
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        size_t n;
        char *e = lc_base64_encode(vec[i][0], strlen(vec[i][0]), &n);
        assert_non_null(e);
        assert_string_equal(e, vec[i][1]);
        assert_int_equal(n, strlen(vec[i][1]));
        unsigned char *d = lc_base64_decode(e, n, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(vec[i][0]));
        assert_memory_equal(d, vec[i][0], n);
        assert_int_equal(d[n], '\0');
        free(e);
        free(d);
    }
}

static void test_base64_round_trip_all_lengths(void **state)
{
    unsigned char in[260];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t len = 0; len <= sizeof(in); len++) {
        size_t n, dn;
        char *e = lc_base64_encode(in, len, &n);
        assert_non_null(e);
        assert_int_equal(n % 4, 0);
        unsigned char *d = lc_base64_decode(e, n, &dn);
        assert_non_null(d);
        assert_int_equal(dn, len);
        assert_memory_equal(d, in, len);
        free(e);
        free(d);

        e = lc_base64url_encode(in, len, &n);
        assert_non_null(e);
        assert_null(strchr(e, '='));
        assert_null(strchr(e, '+'));
        assert_null(strchr(e, '/'));
        d = lc_base64url_decode(e, n, &dn);
        assert_non_null(d);
        assert_int_equal(dn, len);
        assert_memory_equal(d, in, len);
        free(e);
        free(d);
    }
}

static void test_base64url_accepts_padding_and_url_alphabet(void **state)
{
    size_t n;
    unsigned char *d = lc_base64url_decode("-_8", 3, &n);
    assert_non_null(d);
    assert_int_equal(n, 2);
    assert_int_equal(d[0], 0xfb);
    assert_int_equal(d[1], 0xff);
    free(d);
    d = lc_base64url_decode("-_8=", 4, &n);
    assert_non_null(d);
    assert_int_equal(n, 2);
    free(d);
    d = lc_base64url_decode("Zg==", 4, &n);
    assert_non_null(d);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 'f');
    free(d);
}

static void test_base64_malformed_rejected(void **state)
{
    static const char *const bad_std[] = {"Zg",   "Zg=",  "Z===",     "Zm9v!A==", "Zm 9v",
                                          "-_8=", "=Zg=", "Zg==Zg==", "Zm9",      "A"};
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
        size_t n = 99;
        assert_null(lc_base64_decode(bad_std[i], strlen(bad_std[i]), &n));
    }
    static const char *const bad_url[] = {"A", "+/8=", "Zg=", "Z===", "Zm9v\n", "Zm9vY"};
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
        size_t n = 99;
        assert_null(lc_base64url_decode(bad_url[i], strlen(bad_url[i]), &n));
    }
}

/* ---- durations ---- */

static void test_duration_parse_table(void **state)
{
    static const struct {
        const char *in;
        int64_t ms;
    } ok[] = {
        {"0", 0},
        {"-0", 0},
        {"+0", 0},
        {"0s", 0},
        {"25s", 25000},
        {"1000ms", 1000},
        {"1h30m", 5400000},
        {"720h", 2592000000LL},
        {"1.5s", 1500},
        {".5s", 500},
        {"1.s", 1000},
        {"-1s", -1000},
        {"+2m", 120000},
        {"1h2m3s4ms", 3723004},
        {"1500us", 1},
        {"1500\xc2\xb5s", 1},
        {"2000000ns", 2},
        {"999us", 0},
        {"-1.5ms", -1},
        {"1.0000000000000000000001s", 1000},
        {"2562047h", 2562047LL * 3600000},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int64_t ms = -12345;
        int rc = lc_duration_parse(ok[i].in, &ms);
        if (rc != 0 || ms != ok[i].ms)
            fail_msg("parse %s: rc %d ms %lld, want %lld", ok[i].in, rc, (long long)ms,
                     (long long)ok[i].ms);
    }
    static const char *const bad[] = {"",    "5",   "5x",       "s",    "-",     ".s",
                                      "1.5", "1s5", "3000000h", "1 s",  "1S",    "1sec",
                                      " 1s", "1s ", "--1s",     "1e3s", "0x10s", "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = 7;
        if (lc_duration_parse(bad[i], &ms) != LC_EINVAL)
            fail_msg("parse \"%s\" accepted", bad[i]);
        assert_int_equal(ms, 7);
    }
}

static void test_duration_format_go_style(void **state)
{
    static const struct {
        int64_t ms;
        const char *out;
    } vec[] = {
        {0, "0s"},      {500, "500ms"},      {25000, "25s"},          {90000, "1m30s"},
        {1500, "1.5s"}, {3600000, "1h0m0s"}, {5400250, "1h30m0.25s"}, {-1000, "-1s"},
        {-5, "-5ms"},
    };
    char out[32];
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        lc_duration_format(vec[i].ms, out, sizeof(out));
        assert_string_equal(out, vec[i].out);
    }
    lc_duration_format(INT64_MIN, out, sizeof(out));
    assert_int_equal(out[0], '-');
}

static void test_clock_values_plausible(void **state)
{
    int64_t now = lc_now_ms();
    assert_true(now > 1600000000000LL);
    int64_t s = lc_now_s();
    assert_true(s >= now / 1000 - 1 && s <= now / 1000 + 1);
    int64_t a = lc_mono_ms(), b = lc_mono_ms();
    assert_true(b >= a);
}

/* ---- ct ---- */

static void test_ct_equal_cases(void **state)
{
    assert_int_equal(lc_ct_equal("secret", 6, "secret", 6), 1);
    assert_int_equal(lc_ct_equal("secret", 6, "secreT", 6), 0);
    assert_int_equal(lc_ct_equal("secret", 6, "Secret", 6), 0);
    assert_int_equal(lc_ct_equal("secret", 6, "secret!", 7), 0);
    assert_int_equal(lc_ct_equal("secret!", 7, "secret", 6), 0);
    /* a prefix repeated must not pass through the modulo indexing */
    assert_int_equal(lc_ct_equal("abab", 4, "ab", 2), 0);
    assert_int_equal(lc_ct_equal("", 0, "", 0), 1);
    assert_int_equal(lc_ct_equal("", 0, "x", 1), 0);
    assert_int_equal(lc_ct_equal(NULL, 0, "x", 1), 0);
    assert_int_equal(lc_ct_equal("a\0b", 3, "a\0c", 3), 0);
}

/* ---- rand ---- */

static void test_uuid4_format_and_uniqueness(void **state)
{
    char a[37], b[37];
    lc_uuid4(a);
    lc_uuid4(b);
    assert_int_equal(strlen(a), 36);
    assert_string_not_equal(a, b);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(a[i], '-');
        } else {
            assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
        }
    }
    assert_int_equal(a[14], '4');
    assert_non_null(strchr("89ab", a[19]));
}

static void test_random_hex_and_bytes(void **state)
{
    char hex[2 * 100 + 1];
    lc_random_hex(hex, 100);
    assert_int_equal(strlen(hex), 200);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 200);
    unsigned char buf[4096] = {0};
    assert_int_equal(lc_random_bytes(buf, sizeof(buf)), 0);
    size_t zeros = 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        zeros += buf[i] == 0;
    assert_true(zeros < 100);
    assert_int_equal(lc_random_bytes(buf, 0), 0);
}

/* ---- err, log ---- */

static void test_strerror_known_and_unknown(void **state)
{
    assert_string_equal(lc_strerror(LC_ESLOW), "write queue over its bound");
    assert_string_equal(lc_strerror(LC_ENOMEM), "out of memory");
    assert_string_equal(lc_strerror(0), "ok");
    assert_non_null(lc_strerror(-1000));
}

static void test_log_level_parse_names(void **state)
{
    assert_int_equal(lc_log_level_parse("trace"), LC_LOG_TRACE);
    assert_int_equal(lc_log_level_parse("debug"), LC_LOG_DEBUG);
    assert_int_equal(lc_log_level_parse("info"), LC_LOG_INFO);
    assert_int_equal(lc_log_level_parse("warn"), LC_LOG_WARN);
    assert_int_equal(lc_log_level_parse("warning"), LC_LOG_WARN);
    assert_int_equal(lc_log_level_parse("error"), LC_LOG_ERROR);
    assert_int_equal(lc_log_level_parse("none"), LC_LOG_NONE);
    assert_int_equal(lc_log_level_parse("verbose"), -1);
    assert_int_equal(lc_log_level_parse(""), -1);
    assert_int_equal(lc_log_level_parse(NULL), -1);
    int saved = lc_log_get_level();
    lc_log_set_level(LC_LOG_ERROR);
    assert_int_equal(lc_log_get_level(), LC_LOG_ERROR);
    lc_log_info("filtered out %d", 1);
    lc_log_error("test line with\nnewline %s", "kept on one line");
    lc_log_set_level(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_append_printf_grows_and_terminates),
        cmocka_unit_test(test_buf_printf_long_string_fits),
        cmocka_unit_test(test_buf_consume_reset_steal_keep_contents_right),
        cmocka_unit_test(test_buf_json_str_escapes_specials),
        cmocka_unit_test(test_buf_json_str_any_bytes_parse_back),
        cmocka_unit_test(test_rcbuf_ref_unref_counts),
        cmocka_unit_test(test_map_put_get_del_basic),
        cmocka_unit_test(test_map_put_ref_borrows_the_key),
        cmocka_unit_test(test_map_many_keys_grow_keeps_all),
        cmocka_unit_test(test_map_shrink_after_deletes_keeps_the_rest),
        cmocka_unit_test(test_map_iterate_with_delete_visits_each_once),
        cmocka_unit_test(test_hash_is_fnv1a_stable),
        cmocka_unit_test(test_base64_std_known_vectors),
        cmocka_unit_test(test_base64_round_trip_all_lengths),
        cmocka_unit_test(test_base64url_accepts_padding_and_url_alphabet),
        cmocka_unit_test(test_base64_malformed_rejected),
        cmocka_unit_test(test_duration_parse_table),
        cmocka_unit_test(test_duration_format_go_style),
        cmocka_unit_test(test_clock_values_plausible),
        cmocka_unit_test(test_ct_equal_cases),
        cmocka_unit_test(test_uuid4_format_and_uniqueness),
        cmocka_unit_test(test_random_hex_and_bytes),
        cmocka_unit_test(test_strerror_known_and_unknown),
        cmocka_unit_test(test_log_level_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
