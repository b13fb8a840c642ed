/* Shared poll, the backend's answers: versions (the backend's, or synthetic ones from a hash of
 * the data in versionless mode), the current Publication of each item, removals and the
 * fan-out of what changed to every worker. Runs in the channel's owner worker. */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "core/ops.h"
#include "core/spoll_internal.h"
#include "proto/codec.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

static void fan_done(lc_worker_t *w, void *arg);

static void fan_each(lc_worker_t *w, void *arg)
{
    lc__spoll_fanout_t *f = arg;
    lc__spoll_worker_deliver(w, f->ch, f->len, f->d, f->n, f->extra_ms, f->reset);
}

void lc__spoll_fanout_free(lc__spoll_fanout_t *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->d[i].key);
        lc_rcbuf_unref(f->d[i].push);
    }
    free(f->d);
    free(f->ch);
    free(f);
}

/* {"push":{"channel":<ch>,"pub":<pub>}} */
static lc_rcbuf_t *make_push(const char *ch, size_t len, const char *pub, size_t plen)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"push\":{\"channel\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, ch, len);
    rc = rc ? rc : lc_buf_append_str(&b, ",\"pub\":");
    rc = rc ? rc : lc_buf_append(&b, pub, plen);
    rc = rc ? rc : lc_buf_append_str(&b, "}}");
    lc_rcbuf_t *r = rc ? NULL : lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

lc_rcbuf_t *lc__spoll_make_pub(const char *key, size_t klen, const char *data, size_t dlen,
                               uint64_t version, bool removed)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_putc(&b, '{');
    if (data) {
        rc = rc ? rc : lc_buf_append_str(&b, "\"data\":");
        rc = rc ? rc : lc_proto_append_raw(&b, data, dlen);
        rc = rc ? rc : lc_buf_putc(&b, ',');
    }
    rc = rc ? rc : lc_buf_append_str(&b, "\"key\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, key, klen);
    if (removed)
        rc = rc ? rc : lc_buf_append_str(&b, ",\"removed\":true");
    else if (version)
        rc = rc ? rc : lc_buf_printf(&b, ",\"version\":%llu", (unsigned long long)version);
    rc = rc ? rc : lc_buf_putc(&b, '}');
    lc_rcbuf_t *r = rc ? NULL : lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

int lc__spoll_add_delivery(lc__spoll_fanout_t *f, size_t *cap, const char *key, size_t klen,
                           uint64_t version, bool removed, const lc_rcbuf_t *pub)
{
    if (f->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        lc__spoll_delivery_t *nd = realloc(f->d, nc * sizeof(*nd));
        if (!nd)
            return LC_ENOMEM;
        f->d = nd;
        *cap = nc;
    }
    lc_rcbuf_t *push = make_push(f->ch, f->len, pub->data, pub->len);
    char *k = strndup(key, klen);
    if (!push || !k) {
        lc_rcbuf_unref(push);
        free(k);
        return LC_ENOMEM;
    }
    f->d[f->n++] = (lc__spoll_delivery_t){k, version, removed, push};
    return 0;
}

void lc__spoll_set_epoch(sp_chan_t *c, const char *epoch, lc__spoll_fanout_t *f)
{
    if (strcmp(epoch, c->epoch) == 0)
        return;
    if (c->epoch[0]) {
        /* the publisher restarted its versions: every version held is meaningless */
        lc_log_info("shared poll %.*s: epoch changed (%s → %s): subscribers start afresh",
                    (int)c->len, c->name, c->epoch, epoch);
        lc_map_iter_t it = {0};
        const char *key;
        size_t kl;
        void *v;
        while (lc_map_next(&c->items, &it, &key, &kl, &v)) {
            sp_item_t *item = v;
            item->version = 0;
            item->fresh = false;
            lc_rcbuf_unref(item->pub);
            item->pub = NULL;
        }
        f->reset = true;
    }
    /* (the first epoch a channel meets is adopted quietly: its subscribers were told "-",
     * which their next subscribe reply replaces) */
    char *e = strdup(epoch);
    if (e) {
        free(c->epoch);
        c->epoch = e;
    }
}

/* Apply one answer under the registry lock; what changed goes to the fan-out. */
void lc__spoll_apply_answer(sp_chan_t *c, const sp_call_t *k, const lc_spoll_reply_t *r,
                            lc__spoll_fanout_t *f)
{
    lc_spoll_t *s = c->reg;
    size_t cap = 0;
    bool ver = versioned(&c->opts);
    int max_abs =
        c->opts.max_consecutive_absences > 0 ? c->opts.max_consecutive_absences : DEFAULT_ABSENCES;
    uv_mutex_lock(&s->mu);
    if (ver && r->epoch[0])
        lc__spoll_set_epoch(c, r->epoch, f);
    /* versionless: an item the backend leaves out is gone after max_consecutive_absences */
    if (k->cycle && !ver)
        for (size_t i = 0; i < k->nkeys; i++) {
            sp_item_t *item = lc_map_get(&c->items, k->keys[i], strlen(k->keys[i]));
            if (item)
                item->absences++;
        }
    for (size_t i = 0; i < r->n_items; i++) {
        const lc_spoll_item_res_t *e = &r->items[i];
        sp_item_t *item = lc_map_get(&c->items, e->key, e->key_len);
        if (!item)
            continue; /* nobody tracks it any more */
        item->absences = 0;
        if (e->removed) {
            lc_rcbuf_t *pub = lc__spoll_make_pub(e->key, e->key_len, NULL, 0, 0, true);
            if (pub && lc__spoll_add_delivery(f, &cap, e->key, e->key_len, 0, true, pub) == 0) {
                lc_map_del(&c->items, e->key, e->key_len);
                lc__spoll_item_free(item);
            }
            lc_rcbuf_unref(pub);
            continue;
        }
        if (!e->data)
            continue;
        uint64_t version;
        if (ver) {
            if (e->version <= item->version)
                continue;
            version = e->version;
        } else {
            uint64_t h = lc_hash(e->data, e->data_len);
            if (item->version > 0 && h == item->hash)
                continue;
            item->hash = h;
            version = ++s->counter;
        }
        lc_rcbuf_t *pub =
            lc__spoll_make_pub(e->key, e->key_len, e->data, e->data_len, version, false);
        if (!pub || lc__spoll_add_delivery(f, &cap, e->key, e->key_len, version, false, pub) != 0) {
            lc_rcbuf_unref(pub);
            continue;
        }
        item->version = version;
        lc_rcbuf_unref(item->pub);
        item->pub = pub;
    }
    if (k->cycle && !ver)
        for (size_t i = 0; i < k->nkeys; i++) {
            size_t kl = strlen(k->keys[i]);
            sp_item_t *item = lc_map_get(&c->items, k->keys[i], kl);
            if (!item || item->absences < max_abs)
                continue;
            lc_rcbuf_t *pub = lc__spoll_make_pub(k->keys[i], kl, NULL, 0, 0, true);
            if (pub && lc__spoll_add_delivery(f, &cap, k->keys[i], kl, 0, true, pub) == 0) {
                lc_map_del(&c->items, k->keys[i], kl);
                lc__spoll_item_free(item);
            }
            lc_rcbuf_unref(pub);
        }
    uv_mutex_unlock(&s->mu);
}

void lc__spoll_fan_out(sp_chan_t *c, lc__spoll_fanout_t *f)
{
    f->extra_ms =
        c->opts.track_expired_extra_delay_ms > 0 ? c->opts.track_expired_extra_delay_ms : 25000;
    lc__spoll_fanout_send(f);
}

void lc__spoll_fanout_send(lc__spoll_fanout_t *f)
{
    if (lc_ops_each_worker(f->reg->node, fan_each, fan_done, f) != 0) {
        lc_log_error("shared poll %.*s: fan-out dropped: out of memory", (int)f->len, f->ch);
        lc__spoll_fanout_free(f);
    }
}

lc__spoll_fanout_t *lc__spoll_fanout_new(const sp_chan_t *c)
{
    lc__spoll_fanout_t *f = calloc(1, sizeof(*f));
    if (f && !(f->ch = strndup(c->name, c->len))) {
        free(f);
        return NULL;
    }
    if (f) {
        f->reg = c->reg;
        f->len = c->len;
    }
    return f;
}

static void fan_done(lc_worker_t *w, void *arg)
{
    (void)w;
    lc__spoll_fanout_free(arg);
}

char *lc__spoll_result_json(const lc_spoll_reply_t *r)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"items\":[");
    for (size_t i = 0; rc == 0 && i < r->n_items; i++) {
        const lc_spoll_item_res_t *e = &r->items[i];
        rc = lc_buf_append_str(&b, i ? ",{\"key\":" : "{\"key\":");
        rc = rc ? rc : lc_buf_append_json_str(&b, e->key, e->key_len);
        if (rc == 0 && e->data) {
            rc = lc_buf_append_str(&b, ",\"data\":");
            rc = rc ? rc : lc_proto_append_raw(&b, e->data, e->data_len);
        }
        if (rc == 0 && e->version)
            rc = lc_buf_printf(&b, ",\"version\":%llu", (unsigned long long)e->version);
        if (rc == 0 && e->removed)
            rc = lc_buf_append_str(&b, ",\"removed\":true");
        rc = rc ? rc : lc_buf_putc(&b, '}');
    }
    rc = rc ? rc : lc_buf_append_str(&b, "],\"epoch\":");
    rc = rc ? rc : lc_buf_append_json_str(&b, r->epoch, strlen(r->epoch));
    rc = rc ? rc : lc_buf_putc(&b, '}');
    rc = rc ? rc : lc_buf_putc(&b, '\0');
    if (rc) {
        lc_buf_free(&b);
        return NULL;
    }
    return b.data; /* the buffer's memory, NUL-terminated */
}
