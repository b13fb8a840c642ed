/* Shared poll, direct publish (Centrifugo v6.8 shared_poll_publish): the application hands an
 * item's new data and version to the server instead of waiting for the next refresh cycle.
 * Applied to the node's registry like a versioned answer of one item: stale versions are
 * dropped, a new epoch starts the channel afresh, and the item is marked fresh so the next
 * timed cycle does not ask the backend about it.
 *
 * Across nodes (shared_poll.publish_enabled) the publish rides the engine's join/leave path on
 * the channel itself: a pre-encoded message delivered to every node subscribed to the channel
 * (each node with a shared poll subscriber of it is, through its hub), never stored. The
 * message is not a push: the node's sink recognises its first bytes and hands it here before
 * any hub sees it:
 *   "LCSP1 <version> <key length> <epoch length>\n" <key> <epoch> <data> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/ops.h"
#include "core/spoll_internal.h"
#include "util/err.h"
#include "util/log.h"

#define BUS_MAGIC "LCSP1 "
#define BUS_MAGIC_LEN (sizeof(BUS_MAGIC) - 1)

void lc_spoll_publish_apply(lc_node_t *n, const lc_spoll_pub_t *p)
{
    lc_spoll_t *s = lc__node_spoll(n);
    char *epoch = p->epochlen ? strndup(p->epoch, p->epochlen) : NULL;
    if (!s || (p->epochlen && !epoch)) {
        free(epoch);
        return;
    }
    lc__spoll_fanout_t *f = NULL;
    bool stale = false;
    uv_mutex_lock(&s->mu);
    sp_chan_t *c = lc_map_get(&s->chans, p->channel, p->chlen);
    /* nobody tracks anything of the channel here: nothing to deliver, nothing to keep */
    if (!c || !versioned(&c->opts) || !(f = lc__spoll_fanout_new(c)))
        goto out;
    f->extra_ms = -1;
    /* the epoch first, even when the key is not tracked here: the channel's state follows
     * its publisher whatever key it names */
    if (epoch)
        lc__spoll_set_epoch(c, epoch, f);
    sp_item_t *item = lc_map_get(&c->items, p->key, p->keylen);
    if (item && p->version <= item->version) {
        stale = true;
    } else if (item) {
        size_t cap = 0;
        lc_rcbuf_t *pub =
            lc__spoll_make_pub(p->key, p->keylen, p->data, p->datalen, p->version, false);
        if (pub &&
            lc__spoll_add_delivery(f, &cap, p->key, p->keylen, p->version, false, pub) == 0) {
            item->version = p->version;
            item->fresh = true;
            item->absences = 0;
            lc_rcbuf_unref(item->pub);
            item->pub = pub; /* what a client tracking the key later gets in its reply */
            pub = NULL;
        } else {
            lc_log_error("shared poll %.*s: direct publish of %.*s dropped: out of memory",
                         (int)p->chlen, p->channel, (int)p->keylen, p->key);
        }
        lc_rcbuf_unref(pub);
    }
out:
    uv_mutex_unlock(&s->mu);
    if (stale)
        lc_log_debug("shared poll %.*s: direct publish of %.*s at version %llu dropped: not "
                     "newer than the version held",
                     (int)p->chlen, p->channel, (int)p->keylen, p->key,
                     (unsigned long long)p->version);
    if (f && (f->n || f->reset))
        lc__spoll_fanout_send(f);
    else if (f)
        lc__spoll_fanout_free(f);
    free(epoch);
}

int lc_spoll_publish_encode(const lc_spoll_pub_t *p, lc_buf_t *out)
{
    int rc = lc_buf_printf(out, BUS_MAGIC "%llu %zu %zu\n", (unsigned long long)p->version,
                           p->keylen, p->epochlen) < 0;
    rc |= lc_buf_append(out, p->key, p->keylen) != 0;
    rc |= lc_buf_append(out, p->epoch, p->epochlen) != 0;
    rc |= lc_buf_append(out, p->data, p->datalen) != 0;
    return rc ? LC_ENOMEM : 0;
}

/* --- from the engine ----------------------------------------------------------------------- */

typedef struct bus_msg {
    lc_spoll_pub_t p; /* points into bytes */
    char bytes[];     /* channel, then the message */
} bus_msg_t;

static void bus_run(lc_worker_t *w, void *arg)
{
    bus_msg_t *m = arg;
    lc_spoll_publish_apply(lc_worker_node(w), &m->p);
    free(m);
}

static bool parse_num(const char **q, const char *end, char stop, uint64_t *out)
{
    const char *s = *q;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s++ - '0');
    }
    if (s >= end || *s != stop)
        return false;
    *q = s + 1;
    *out = v;
    return true;
}

bool lc__spoll_bus_take(lc_node_t *n, const char *ch, size_t chlen, const lc_rcbuf_t *push)
{
    if (push->len < BUS_MAGIC_LEN || memcmp(push->data, BUS_MAGIC, BUS_MAGIC_LEN) != 0)
        return false;
    bus_msg_t *m = malloc(sizeof(*m) + chlen + push->len);
    if (!m) {
        lc_log_error("shared poll %.*s: direct publish from the engine dropped: out of memory",
                     (int)chlen, ch);
        return true;
    }
    memcpy(m->bytes, ch, chlen);
    memcpy(m->bytes + chlen, push->data, push->len);
    const char *q = m->bytes + chlen + BUS_MAGIC_LEN, *end = m->bytes + chlen + push->len;
    uint64_t version, klen, elen;
    if (!parse_num(&q, end, ' ', &version) || !parse_num(&q, end, ' ', &klen) ||
        !parse_num(&q, end, '\n', &elen) || klen == 0 || klen > (uint64_t)(end - q) ||
        elen > (uint64_t)(end - q) - klen || version == 0) {
        lc_log_warn("shared poll %.*s: malformed direct publish from the engine dropped",
                    (int)chlen, ch);
        free(m);
        return true;
    }
    m->p = (lc_spoll_pub_t){.channel = m->bytes,
                            .chlen = chlen,
                            .key = q,
                            .keylen = (size_t)klen,
                            .version = version,
                            .epoch = q + klen,
                            .epochlen = (size_t)elen,
                            .data = q + klen + elen,
                            .datalen = (size_t)(end - q - klen - elen)};
    /* the sink only queues (it may run under the engine's locks); worker 0 applies */
    if (lc_ops_run_in(n, 0, bus_run, m) != 0) {
        lc_log_error("shared poll %.*s: direct publish from the engine dropped: out of memory",
                     (int)chlen, ch);
        free(m);
    }
    return true;
}
