/* Unit tests for the bounded write queue: ordering, partial writes, the bound, and that
 * every reference taken is released. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/err.h"
#include "util/wqueue.h"

static unsigned refs(lc_rcbuf_t *b)
{
    return atomic_load(&b->refs);
}

/* Concatenate what lc_wqueue_iov offers, as a writev would send it. */
static size_t gather(const lc_wqueue_t *q, char *out, size_t max_iov)
{
    uv_buf_t iov[64];
    size_t n = lc_wqueue_iov(q, iov, max_iov);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(out + len, iov[i].base, iov[i].len);
        len += iov[i].len;
    }
    return len;
}

static void test_wqueue_push_iov_consume_partial_writes_in_order(void **state)
{
    lc_wqueue_t q;
    lc_wqueue_init(&q);
    assert_true(lc_wqueue_empty(&q));
    lc_rcbuf_t *a = lc_rcbuf_from("hello", 5);
    lc_rcbuf_t *b = lc_rcbuf_from(" ", 1);
    lc_rcbuf_t *c = lc_rcbuf_from("world!", 6);
    assert_int_equal(lc_wqueue_push(&q, a, 0), 0);
    assert_int_equal(lc_wqueue_push(&q, b, 0), 0);
    assert_int_equal(lc_wqueue_push(&q, c, 0), 0);
    assert_int_equal(lc_wqueue_bytes(&q), 12);
    assert_int_equal(refs(a), 2);

    char out[64];
    uv_buf_t iov[8];
    assert_int_equal(lc_wqueue_iov(&q, iov, 8), 3);
    assert_int_equal(lc_wqueue_iov(&q, iov, 2), 2);
    assert_int_equal(lc_wqueue_iov(&q, iov, 0), 0);
    size_t n = gather(&q, out, 8);
    assert_int_equal(n, 12);
    assert_memory_equal(out, "hello world!", 12);

    /* a short write ending inside the first buffer */
    lc_wqueue_consume(&q, 3);
    assert_int_equal(lc_wqueue_bytes(&q), 9);
    assert_int_equal(refs(a), 2);
    n = gather(&q, out, 8);
    assert_memory_equal(out, "lo world!", 9);
    assert_int_equal(lc_wqueue_iov(&q, iov, 8), 3);
    assert_int_equal(iov[0].len, 2);

    /* a write crossing two buffers and ending inside the third */
    lc_wqueue_consume(&q, 5);
    assert_int_equal(refs(a), 1);
    assert_int_equal(refs(b), 1);
    assert_int_equal(refs(c), 2);
    assert_int_equal(lc_wqueue_bytes(&q), 4);
    n = gather(&q, out, 8);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "rld!", 4);

    lc_wqueue_consume(&q, 4);
    assert_true(lc_wqueue_empty(&q));
    assert_int_equal(lc_wqueue_bytes(&q), 0);
    assert_int_equal(refs(c), 1);
    assert_int_equal(lc_wqueue_iov(&q, iov, 8), 0);

    lc_wqueue_free(&q);
    lc_rcbuf_unref(a);
    lc_rcbuf_unref(b);
    lc_rcbuf_unref(c);
}

static void test_wqueue_many_pushes_grow_and_wrap_keep_order(void **state)
{
    lc_wqueue_t q;
    lc_wqueue_init(&q);
    enum { N = 1000 };
    lc_rcbuf_t *bufs[N];
    for (int i = 0; i < N; i++) {
        unsigned char v = (unsigned char)i;
        bufs[i] = lc_rcbuf_from(&v, 1);
        assert_non_null(bufs[i]);
    }
    /* interleave pushes and consumes so the head moves and the ring wraps before growing */
    int next_push = 0, next_check = 0;
    while (next_check < N) {
        for (int k = 0; k < 7 && next_push < N; k++)
            assert_int_equal(lc_wqueue_push(&q, bufs[next_push++], 0), 0);
        assert_int_equal(q.cap & (q.cap - 1), 0);
        for (int k = 0; k < 5 && next_check < next_push; k++) {
            uv_buf_t iov[1];
            assert_int_equal(lc_wqueue_iov(&q, iov, 1), 1);
            assert_int_equal(iov[0].len, 1);
            assert_int_equal((unsigned char)iov[0].base[0], (unsigned char)next_check);
            lc_wqueue_consume(&q, 1);
            next_check++;
        }
        if (next_push == N && next_check < N) {
            /* drain the rest in one write spanning many buffers */
            size_t left = lc_wqueue_bytes(&q);
            assert_int_equal(left, (size_t)(N - next_check));
            uv_buf_t iov[64];
            size_t cnt = lc_wqueue_iov(&q, iov, 64);
            assert_int_equal(cnt, left < 64 ? left : 64);
            for (size_t i = 0; i < cnt; i++)
                assert_int_equal((unsigned char)iov[i].base[0], (unsigned char)(next_check + i));
            lc_wqueue_consume(&q, cnt);
            next_check += (int)cnt;
        }
    }
    assert_true(lc_wqueue_empty(&q));
    for (int i = 0; i < N; i++) {
        assert_int_equal(refs(bufs[i]), 1);
        lc_rcbuf_unref(bufs[i]);
    }
    lc_wqueue_free(&q);
}

static void test_wqueue_push_over_limit_returns_slow_and_leaves_queue(void **state)
{
    lc_wqueue_t q;
    lc_wqueue_init(&q);
    lc_rcbuf_t *a = lc_rcbuf_from("0123456789", 10);
    lc_rcbuf_t *b = lc_rcbuf_from("abcdef", 6);
    assert_int_equal(lc_wqueue_push(&q, a, 16), 0);
    assert_int_equal(lc_wqueue_push(&q, b, 16), 0); /* exactly at the limit is allowed */
    assert_int_equal(lc_wqueue_bytes(&q), 16);

    lc_rcbuf_t *c = lc_rcbuf_from("x", 1);
    assert_int_equal(lc_wqueue_push(&q, c, 16), LC_ESLOW);
    assert_int_equal(refs(c), 1);
    assert_int_equal(q.count, 2);
    assert_int_equal(lc_wqueue_bytes(&q), 16);
    uv_buf_t iov[8];
    assert_int_equal(lc_wqueue_iov(&q, iov, 8), 2);
    assert_ptr_equal(iov[1].base, b->data);

    /* a single frame bigger than the limit is refused even on an empty queue */
    lc_wqueue_t e;
    lc_wqueue_init(&e);
    assert_int_equal(lc_wqueue_push(&e, a, 5), LC_ESLOW);
    assert_true(lc_wqueue_empty(&e));
    assert_int_equal(refs(a), 2);
    lc_wqueue_free(&e);

    /* writing frees room under the bound */
    lc_wqueue_consume(&q, 10);
    assert_int_equal(refs(a), 1);
    assert_int_equal(lc_wqueue_push(&q, c, 16), 0);
    assert_int_equal(lc_wqueue_bytes(&q), 7);

    lc_wqueue_free(&q);
    lc_rcbuf_unref(a);
    lc_rcbuf_unref(b);
    lc_rcbuf_unref(c);
}

static void test_wqueue_free_unrefs_everything_queued(void **state)
{
    lc_wqueue_t q;
    lc_wqueue_init(&q);
    lc_rcbuf_t *a = lc_rcbuf_from("shared", 6);
    for (int i = 0; i < 20; i++)
        assert_int_equal(lc_wqueue_push(&q, a, 0), 0);
    assert_int_equal(refs(a), 21);
    lc_wqueue_consume(&q, 9); /* one whole frame plus half of the next */
    assert_int_equal(refs(a), 20);
    lc_wqueue_free(&q);
    assert_int_equal(refs(a), 1);
    assert_null(q.u.items);
    assert_int_equal(lc_wqueue_bytes(&q), 0);
    lc_wqueue_free(&q); /* freeing an empty queue again is harmless */
    lc_rcbuf_unref(a);
}

static void test_wqueue_empty_frames_skipped_in_iov_and_dropped(void **state)
{
    lc_wqueue_t q;
    lc_wqueue_init(&q);
    lc_rcbuf_t *z = lc_rcbuf_new(0);
    lc_rcbuf_t *a = lc_rcbuf_from("ab", 2);
    assert_int_equal(lc_wqueue_push(&q, z, 0), 0);
    assert_int_equal(lc_wqueue_push(&q, a, 0), 0);
    assert_int_equal(lc_wqueue_push(&q, z, 0), 0);
    uv_buf_t iov[4];
    assert_int_equal(lc_wqueue_iov(&q, iov, 4), 1);
    assert_int_equal(iov[0].len, 2);
    lc_wqueue_consume(&q, 2);
    assert_true(lc_wqueue_empty(&q));
    assert_int_equal(refs(z), 1);
    assert_int_equal(refs(a), 1);
    lc_wqueue_free(&q);
    lc_rcbuf_unref(z);
    lc_rcbuf_unref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wqueue_push_iov_consume_partial_writes_in_order),
        cmocka_unit_test(test_wqueue_many_pushes_grow_and_wrap_keep_order),
        cmocka_unit_test(test_wqueue_push_over_limit_returns_slow_and_leaves_queue),
        cmocka_unit_test(test_wqueue_free_unrefs_everything_queued),
        cmocka_unit_test(test_wqueue_empty_frames_skipped_in_iov_and_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
