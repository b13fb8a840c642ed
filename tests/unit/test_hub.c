/* Hub: subscribe, unsubscribe, fan-out with a fake transport that records what each
 * subscriber would write, exclusion, empty channels dropped, one frame shared by all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hub.h"
#include "engine/engine.h"
#include "util/err.h"
#include "util/rcbuf.h"

/* A fake transport endpoint: counts deliveries and remembers the last frame it queued. */
typedef struct fake_conn {
    int received;
    lc_rcbuf_t *last_frame;
    lc_hub_t *hub;
    lc_sub_t *unsubscribe_on_delivery; /* simulates a slow consumer cut off mid fan-out */
} fake_conn_t;

static int frames_built;

static void fake_deliver(void *owner, lc_rcbuf_t *push, lc_rcbuf_t **frames, void *ctx)
{
    fake_conn_t *c = owner;
    if (!frames[LC_FRAMING_WS_TEXT]) {
        frames[LC_FRAMING_WS_TEXT] = lc_rcbuf_from(push->data, push->len);
        frames_built++;
    }
    c->received++;
    lc_rcbuf_unref(c->last_frame);
    c->last_frame = lc_rcbuf_ref(frames[LC_FRAMING_WS_TEXT]);
    if (c->unsubscribe_on_delivery) {
        lc_hub_unsubscribe(c->hub, c->unsubscribe_on_delivery);
        c->unsubscribe_on_delivery = NULL;
    }
}

static lc_rcbuf_t *push_of(const char *s)
{
    return lc_rcbuf_from(s, strlen(s));
}

/* Subscribers with the same filter text share one filter; non-matching tags are not
 * delivered; subscribers without a filter get everything; filters outlive only their users. */
static void test_hub_tag_filters_shared_and_applied(void **state)
{
    (void)state;
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t c[4] = {0};
    lc_sub_t *s[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(lc_hub_subscribe(h, "t", 1, &c[i], &s[i]), 0);
    const char *eq = "{\"key\":\"k\",\"cmp\":\"eq\",\"val\":\"a\"}";
    assert_int_equal(lc_hub_set_filter(h, s[0], eq), 0);
    assert_int_equal(lc_hub_set_filter(h, s[1], eq), 0);
    assert_int_equal(lc_hub_set_filter(h, s[2], "{\"key\":\"k\",\"cmp\":\"nex\"}"), 0);
    assert_ptr_equal(s[0]->filter, s[1]->filter);
    assert_ptr_not_equal(s[0]->filter, s[2]->filter);
    assert_int_equal(lc_hub_set_filter(h, s[3], "{\"cmp\":\"bogus\"}"), LC_EINVAL);
    assert_null(s[3]->filter);

    lc_rcbuf_t *a =
        push_of("{\"push\":{\"channel\":\"t\",\"pub\":{\"data\":1,\"tags\":{\"k\":\"a\"}}}}");
    lc_rcbuf_t *b =
        push_of("{\"push\":{\"channel\":\"t\",\"pub\":{\"data\":2,\"tags\":{\"k\":\"b\"}}}}");
    lc_rcbuf_t *none = push_of("{\"push\":{\"channel\":\"t\",\"pub\":{\"data\":3}}}");
    assert_int_equal(lc_hub_fanout(h, "t", 1, a, LC_PUSH_PUB, 0, NULL, 0), 3);
    assert_int_equal(lc_hub_fanout(h, "t", 1, b, LC_PUSH_PUB, 0, NULL, 0), 1);
    assert_int_equal(lc_hub_fanout(h, "t", 1, none, LC_PUSH_PUB, 0, NULL, 0), 2);
    /* exclusion and filter compose */
    void *ex[] = {&c[0]};
    assert_int_equal(lc_hub_fanout(h, "t", 1, a, LC_PUSH_PUB, 0, ex, 1), 2);
    assert_int_equal(c[0].received, 1);
    assert_int_equal(c[1].received, 2);
    assert_int_equal(c[2].received, 1);
    assert_int_equal(c[3].received, 4);
    lc_hub_unsubscribe(h, s[0]);
    lc_hub_unsubscribe(h, s[2]);
    assert_int_equal(lc_hub_fanout(h, "t", 1, a, LC_PUSH_PUB, 0, NULL, 0), 2);
    lc_rcbuf_unref(a);
    lc_rcbuf_unref(b);
    lc_rcbuf_unref(none);
    for (int i = 0; i < 4; i++)
        lc_rcbuf_unref(c[i].last_frame);
    lc_hub_free(h);
}

static void test_hub_fanout_reaches_every_subscriber_with_one_frame(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t c[3] = {0};
    lc_sub_t *s[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(lc_hub_subscribe(h, "news", 4, &c[i], &s[i]), 0);
    assert_int_equal(lc_hub_num_channels(h), 1);
    assert_int_equal(lc_hub_num_subscribers(h, "news", 4), 3);

    frames_built = 0;
    lc_rcbuf_t *p = push_of("{\"push\":{}}");
    assert_int_equal(lc_hub_fanout(h, "news", 4, p, LC_PUSH_PUB, 0, NULL, 0), 3);
    assert_int_equal(frames_built, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(c[i].received, 1);
        assert_ptr_equal(c[i].last_frame, c[0].last_frame);
    }
    /* The hub released its cache reference: only the three connections hold the frame. */
    assert_int_equal(atomic_load(&c[0].last_frame->refs), 3);
    lc_rcbuf_unref(p);
    for (int i = 0; i < 3; i++)
        lc_rcbuf_unref(c[i].last_frame);
    lc_hub_free(h);
}

static void test_hub_fanout_other_channel_delivers_nothing(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t a = {0};
    lc_sub_t *s;
    assert_int_equal(lc_hub_subscribe(h, "a", 1, &a, &s), 0);
    lc_rcbuf_t *p = push_of("x");
    assert_int_equal(lc_hub_fanout(h, "b", 1, p, LC_PUSH_PUB, 0, NULL, 0), 0);
    assert_int_equal(lc_hub_fanout(h, "ab", 2, p, LC_PUSH_PUB, 0, NULL, 0), 0);
    assert_int_equal(a.received, 0);
    lc_rcbuf_unref(p);
    lc_hub_free(h);
}

static void test_hub_unsubscribe_last_drops_channel(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t a = {0}, b = {0};
    lc_sub_t *sa, *sb;
    assert_int_equal(lc_hub_subscribe(h, "room", 4, &a, &sa), 0);
    assert_int_equal(lc_hub_subscribe(h, "room", 4, &b, &sb), 0);
    size_t len;
    assert_string_equal(lc_hub_sub_channel(sa, &len), "room");
    assert_int_equal(len, 4);
    lc_hub_unsubscribe(h, sa);
    assert_int_equal(lc_hub_num_subscribers(h, "room", 4), 1);
    lc_rcbuf_t *p = push_of("x");
    assert_int_equal(lc_hub_fanout(h, "room", 4, p, LC_PUSH_PUB, 0, NULL, 0), 1);
    assert_int_equal(a.received, 0);
    assert_int_equal(b.received, 1);
    lc_hub_unsubscribe(h, sb);
    assert_int_equal(lc_hub_num_channels(h), 0);
    assert_int_equal(lc_hub_fanout(h, "room", 4, p, LC_PUSH_PUB, 0, NULL, 0), 0);
    lc_rcbuf_unref(p);
    lc_rcbuf_unref(b.last_frame);
    lc_hub_free(h);
}

static void test_hub_exclusion_skips_exactly_the_excluded(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t c[4] = {0};
    lc_sub_t *s;
    for (int i = 0; i < 4; i++)
        assert_int_equal(lc_hub_subscribe(h, "ch", 2, &c[i], &s), 0);
    void *ex[] = {&c[1], &c[3]};
    lc_rcbuf_t *p = push_of("x");
    assert_int_equal(lc_hub_fanout(h, "ch", 2, p, LC_PUSH_PUB, 0, ex, 2), 2);
    assert_int_equal(c[0].received, 1);
    assert_int_equal(c[1].received, 0);
    assert_int_equal(c[2].received, 1);
    assert_int_equal(c[3].received, 0);
    lc_rcbuf_unref(p);
    for (int i = 0; i < 4; i++)
        lc_rcbuf_unref(c[i].last_frame);
    lc_hub_free(h);
}

static void test_hub_unsubscribe_during_fanout_is_safe(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t only = {.hub = NULL};
    lc_sub_t *s;
    assert_int_equal(lc_hub_subscribe(h, "x", 1, &only, &s), 0);
    only.hub = h;
    only.unsubscribe_on_delivery = s; /* the only subscriber leaves while being served */
    lc_rcbuf_t *p = push_of("x");
    assert_int_equal(lc_hub_fanout(h, "x", 1, p, LC_PUSH_PUB, 0, NULL, 0), 1);
    /* The channel emptied during its own fan-out and is dropped afterwards. */
    assert_int_equal(lc_hub_num_channels(h), 0);
    lc_rcbuf_unref(p);
    lc_rcbuf_unref(only.last_frame);
    lc_hub_free(h);
}

static void test_hub_free_with_subscribers_releases_all(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t a = {0};
    lc_sub_t *s;
    char name[16];
    for (int i = 0; i < 100; i++) {
        int n = snprintf(name, sizeof(name), "ch%d", i);
        assert_int_equal(lc_hub_subscribe(h, name, (size_t)n, &a, &s), 0);
    }
    assert_int_equal(lc_hub_num_channels(h), 100);
    lc_hub_free(h); /* ASan reports anything left behind */
}

static void test_hub_join_leave_only_to_subscribers_that_asked(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t wants = {0}, plain = {0};
    lc_sub_t *sw, *sp;
    assert_int_equal(lc_hub_subscribe(h, "room", 4, &wants, &sw), 0);
    assert_int_equal(lc_hub_subscribe(h, "room", 4, &plain, &sp), 0);
    sw->flags |= LC_SUB_JOIN_LEAVE;
    lc_rcbuf_t *p = push_of("{\"push\":{\"channel\":\"room\",\"join\":{}}}");
    assert_int_equal(lc_hub_fanout(h, "room", 4, p, LC_PUSH_JOIN_LEAVE, 0, NULL, 0), 1);
    assert_int_equal(wants.received, 1);
    assert_int_equal(plain.received, 0);
    lc_rcbuf_unref(p);
    lc_rcbuf_unref(wants.last_frame);
    lc_hub_free(h);
}

static void test_hub_offset_at_or_below_position_is_skipped(void **state)
{
    lc_hub_t *h = lc_hub_new(fake_deliver, NULL);
    fake_conn_t recovered = {0}, fresh = {0};
    lc_sub_t *sr, *sf;
    assert_int_equal(lc_hub_subscribe(h, "ch", 2, &recovered, &sr), 0);
    assert_int_equal(lc_hub_subscribe(h, "ch", 2, &fresh, &sf), 0);
    sr->offset = 5; /* its subscribe reply already carried publications up to 5 */
    lc_rcbuf_t *p = push_of("x");
    for (uint64_t off = 4; off <= 7; off++)
        lc_hub_fanout(h, "ch", 2, p, LC_PUSH_PUB, off, NULL, 0);
    assert_int_equal(recovered.received, 2); /* 6 and 7 */
    assert_int_equal(fresh.received, 4);
    assert_int_equal(sr->offset, 7);
    /* a repeated delivery (same offset) is a duplicate for everyone */
    lc_hub_fanout(h, "ch", 2, p, LC_PUSH_PUB, 7, NULL, 0);
    assert_int_equal(fresh.received, 4);
    /* publications without an offset (no history) always go through */
    lc_hub_fanout(h, "ch", 2, p, LC_PUSH_PUB, 0, NULL, 0);
    assert_int_equal(recovered.received, 3);
    lc_rcbuf_unref(p);
    lc_rcbuf_unref(recovered.last_frame);
    lc_rcbuf_unref(fresh.last_frame);
    lc_hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_fanout_reaches_every_subscriber_with_one_frame),
        cmocka_unit_test(test_hub_fanout_other_channel_delivers_nothing),
        cmocka_unit_test(test_hub_unsubscribe_last_drops_channel),
        cmocka_unit_test(test_hub_exclusion_skips_exactly_the_excluded),
        cmocka_unit_test(test_hub_unsubscribe_during_fanout_is_safe),
        cmocka_unit_test(test_hub_free_with_subscribers_releases_all),
        cmocka_unit_test(test_hub_join_leave_only_to_subscribers_that_asked),
        cmocka_unit_test(test_hub_offset_at_or_below_position_is_skipped),
        cmocka_unit_test(test_hub_tag_filters_shared_and_applied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
