/* Fossil delta compression of publications (spec §1.7): what delta subscribers receive is made
 * here, once per publication, for every subscriber of every worker. Two variants of the push
 * exist next to the plain one: the whole data as a JSON string (a subscriber's first
 * publication, and whenever no delta applies), and a fossil delta against the channel's
 * previous publication. Both carry `delta`, from which the Protobuf encoder knows to send the
 * string's bytes. */
#include "core/internal.h"

#include "proto/codec.h"
#include "proto/delta.h"
#include "util/log.h"

static const char *const push_data[3] = {"push", "pub", "data"};
static const char *const pub_data[1] = {"data"};

static lc_rcbuf_t *variant(lc_rcbuf_t *push, const char *repl, size_t repl_len, bool delta)
{
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *r = NULL;
    /* the memory engine's push ends with the Publication and the push's closing braces */
    if (lc_proto_pub_as_string(&b, push->data, push->len, push_data, 3, 2, repl, repl_len, delta) ==
        0)
        r = lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

void lc__delta_variants(lc_rcbuf_t *push, lc_rcbuf_t *prev, bool candidate, lc_rcbuf_t **full,
                        lc_rcbuf_t **patch)
{
    *full = variant(push, NULL, 0, false);
    *patch = NULL;
    if (!*full) {
        lc_log_error("delta: publication not representable as a string: sent whole");
        return;
    }
    if (!candidate || !prev)
        return;
    lc_raw_t now, before;
    if (lc_json_raw_get(push->data, push->len, push_data, 3, &now) <= 0 ||
        lc_json_raw_get(prev->data, prev->len, pub_data, 1, &before) <= 0)
        return;
    /* Both are stored and sent without newlines (lc_proto_append_raw): the delta is made
     * between the texts subscribers hold. */
    lc_buf_t a = LC_BUF_INIT, b = LC_BUF_INIT, d = LC_BUF_INIT;
    if (lc_proto_append_raw(&a, before.p, before.len) == 0 &&
        lc_proto_append_raw(&b, now.p, now.len) == 0 &&
        lc_delta_fossil(&d, a.data ? a.data : "", a.len, b.data ? b.data : "", b.len) == 0 &&
        d.len < b.len) /* a delta not smaller than the data is not worth it */
        *patch = variant(push, d.data, d.len, true);
    lc_buf_free(&a);
    lc_buf_free(&b);
    lc_buf_free(&d);
}
