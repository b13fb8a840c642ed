/* The broker: one Redis subscription per channel per node, whatever the number of local
 * subscribers, and the messages between nodes.
 *
 * Workers count a channel in and out (their hub gained its first / lost its last subscriber);
 * the shard's table says which channels the node wants and what Redis was last asked. Worker 0
 * owns the PUB/SUB connections and reconciles wanted with asked: SUBSCRIBE what is wanted
 * and not asked, UNSUBSCRIBE what is asked and no longer wanted, never a second command for a
 * channel whose previous one is unanswered (hiredis 0.14 forgets a channel's callback when an
 * UNSUBSCRIBE reply crosses a new SUBSCRIBE). A reconnect resubscribes everything and tells
 * core that deliveries may have been missed.
 *
 * Every message between nodes starts with an envelope line:
 *   "L1 P <offset> <nclients> <nusers>\n" <ids> <push>   a publication (offset 0 = none)
 *   "L1 D <offset> <nclients> <nusers> <nprev>\n" <ids> <push> <prev>
 *                                      a publication of a delta namespace, with the stream's
 *                                      previous publication (nprev bytes, 0 = none)
 *   "L1 J 0 0 0\n" <push>                                 a join or leave
 *   "L1 C <node uid>\n" <data>                            control data (on <prefix>.control)
 *   "L1 N <node uid>\n" <node info>                       a node's description (likewise)
 *   "L1 L <node uid>\n"                                    a node stopping (likewise)
 * where <ids> are the excluded client ids then user ids, each as "<length>:<bytes>". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define SUB_BATCH 256
/* Other nodes' descriptions are dropped after this long without news (they send every 2 s). */
#define NODE_TTL_MS 6000

/* --- envelopes ------------------------------------------------------------------------------- */

int lc__broker_envelope(lc_buf_t *b, char kind, const lc_exclude_t *ex)
{
    /* (a 'D' written here carries no previous publication: one without offset) */
    int rc = lc_buf_printf(b, "L1 %c 0 %zu %zu%s\n", kind, ex->n_clients, ex->n_users,
                           kind == 'D' ? " 0" : "");
    for (size_t i = 0; rc == 0 && i < ex->n_clients; i++)
        rc = lc_buf_printf(b, "%zu:%s", strlen(ex->clients[i]), ex->clients[i]);
    for (size_t i = 0; rc == 0 && i < ex->n_users; i++)
        rc = lc_buf_printf(b, "%zu:%s", strlen(ex->users[i]), ex->users[i]);
    return rc ? LC_ENOMEM : 0;
}

static bool parse_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    *out = v;
    *p = s;
    return true;
}

static bool expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return false;
    (*p)++;
    return true;
}

/* A publication or join/leave from Redis → the sink (this node's workers). */
static void deliver(lc__redis_t *r, const char *ch, size_t chlen, const char *msg, size_t len)
{
    const char *p = msg + 3, *end = msg + len;
    char kind = 0;
    if (p < end)
        kind = *p++;
    uint64_t offset, nc, nu, nprev = 0;
    if (!expect(&p, end, ' ') || !parse_u64(&p, end, &offset) || !expect(&p, end, ' ') ||
        !parse_u64(&p, end, &nc) || !expect(&p, end, ' ') || !parse_u64(&p, end, &nu) ||
        (kind == 'D' && (!expect(&p, end, ' ') || !parse_u64(&p, end, &nprev))) ||
        !expect(&p, end, '\n') || nc + nu > len || nprev > (uint64_t)(end - p)) {
        lc_log_warn("redis: malformed delivery on %.*s dropped", (int)chlen, ch);
        return;
    }
    /* The ids, NUL-terminated in one copy. */
    size_t n = (size_t)(nc + nu);
    char *stack_ids[16];
    char **ids = n > 16 ? malloc(n * sizeof(*ids)) : stack_ids;
    char *copy = n ? malloc(len) : NULL;
    if ((n > 16 && !ids) || (n && !copy))
        goto oom;
    char *q = copy;
    for (size_t i = 0; i < n; i++) {
        uint64_t l;
        if (!parse_u64(&p, end, &l) || !expect(&p, end, ':') || l > (uint64_t)(end - p)) {
            lc_log_warn("redis: malformed delivery on %.*s dropped", (int)chlen, ch);
            goto out;
        }
        memcpy(q, p, l);
        q[l] = '\0';
        ids[i] = q;
        q += l + 1;
        p += l;
    }
    if (nprev > (uint64_t)(end - p)) {
        lc_log_warn("redis: malformed delivery on %.*s dropped", (int)chlen, ch);
        goto out;
    }
    end -= nprev; /* the previous publication follows the push */
    lc_rcbuf_t *push = lc_rcbuf_from(p, (size_t)(end - p));
    lc_rcbuf_t *prev = nprev ? lc_rcbuf_from(end, (size_t)nprev) : NULL;
    if (!push || (nprev && !prev)) {
        lc_rcbuf_unref(push);
        goto oom;
    }
    lc_exclude_t ex = {(const char *const *)ids, (size_t)nc, (const char *const *)ids + nc,
                       (size_t)nu};
    if (kind == 'D' && r->base.sink.deliver_delta)
        r->base.sink.deliver_delta(r->base.sink.ctx, ch, chlen, offset, push, &ex, prev, true);
    else if (r->base.sink.deliver)
        r->base.sink.deliver(r->base.sink.ctx, ch, chlen,
                             kind == 'J' ? LC_PUSH_JOIN_LEAVE : LC_PUSH_PUB, offset, push, &ex);
    lc_rcbuf_unref(push);
    lc_rcbuf_unref(prev);
    goto out;
oom:
    lc_log_error("redis: delivery on %.*s dropped: out of memory", (int)chlen, ch);
out:
    if (ids != stack_ids)
        free(ids);
    free(copy);
}

/* --- control --------------------------------------------------------------------------------- */

static void on_control(lc__redis_t *r, const char *msg, size_t len)
{
    if (len < 5 + 36 + 1 || memcmp(msg, "L1 ", 3) != 0 || msg[4] != ' ')
        return;
    const char *uid = msg + 5;
    const char *nl = memchr(uid, '\n', len - 5);
    if (!nl)
        return;
    size_t uidlen = (size_t)(nl - uid);
    if (uidlen == strlen(r->uid) && memcmp(uid, r->uid, uidlen) == 0)
        return; /* our own */
    const char *data = nl + 1;
    size_t dlen = len - (size_t)(data - msg);
    if (msg[3] == 'C') {
        if (r->base.sink.control)
            r->base.sink.control(r->base.sink.ctx, data, dlen);
        return;
    }
    if (msg[3] == 'L') {
        /* stopped cleanly: no longer listed nor waited for, without waiting NODE_TTL_MS */
        uv_mutex_lock(&r->mu);
        free(lc_map_del(&r->nodes, uid, uidlen));
        uv_mutex_unlock(&r->mu);
        lc_log_info("redis: node %.*s left", (int)uidlen, uid);
        return;
    }
    if (msg[3] != 'N')
        return;
    lc__rnode_t *node = malloc(sizeof(*node) + dlen + 1);
    if (!node)
        return;
    node->seen_ms = lc_mono_ms();
    node->len = dlen;
    memcpy(node->info, data, dlen);
    node->info[dlen] = '\0';
    void *old = NULL;
    uv_mutex_lock(&r->mu);
    if (lc_map_put(&r->nodes, uid, uidlen, node, &old) != 0) {
        free(node);
        old = NULL;
    }
    uv_mutex_unlock(&r->mu);
    free(old);
}

static void on_control_sent(lc__rconn_t *c, redisReply *reply, void *arg)
{
    (void)c;
    (void)reply;
    (void)arg;
}

static int send_control(lc__redis_t *r, char kind, const char *data, size_t len)
{
    lc__rslot_t *s = lc__redis_slot(r);
    if (!s || s->closed)
        return LC_EINVAL;
    lc__rconn_t *c = &s->conns[0];
    lc_buf_t chan = LC_BUF_INIT, msg = LC_BUF_INIT;
    int rc = lc_buf_printf(&chan, "%s.control", r->rc->prefix) ||
                     lc_buf_printf(&msg, "L1 %c %s\n", kind, r->uid) ||
                     lc_buf_append(&msg, data, len)
                 ? LC_ENOMEM
                 : 0;
    if (!rc) {
        const char *argv[3] = {"PUBLISH", chan.data, msg.data};
        size_t lens[3] = {7, chan.len, msg.len};
        rc = lc__rconn_cmd(c, on_control_sent, NULL, 3, argv, lens);
    }
    lc_buf_free(&chan);
    lc_buf_free(&msg);
    return rc;
}

int lc__broker_leave(lc__redis_t *r)
{
    return send_control(r, 'L', "", 0);
}

int lc__broker_control(lc_engine_t *e, const char *data, size_t len)
{
    return send_control(lc_container_of(e, lc__redis_t, base), 'C', data, len);
}

void lc__broker_nodes(lc_engine_t *e, void (*fn)(void *arg, const char *info, size_t len),
                      void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    int64_t now = lc_mono_ms();
    uv_mutex_lock(&r->mu);
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&r->nodes, &it, &k, &kl, &v)) {
        lc__rnode_t *n = v;
        if (now - n->seen_ms <= NODE_TTL_MS)
            fn(arg, n->info, n->len);
    }
    uv_mutex_unlock(&r->mu);
}

void lc__broker_info_tick(uv_timer_t *t)
{
    lc__redis_t *r = t->data;
    char info[1024];
    size_t n =
        r->base.sink.node_info ? r->base.sink.node_info(r->base.sink.ctx, info, sizeof(info)) : 0;
    if (n > 0)
        send_control(r, 'N', info, n);
    /* Forget nodes gone quiet: collect first, the map is not changed while walked. */
    int64_t now = lc_mono_ms();
    uv_mutex_lock(&r->mu);
    for (;;) {
        lc_map_iter_t it = {0};
        const char *k, *gone = NULL;
        size_t kl, gl = 0;
        void *v;
        while (lc_map_next(&r->nodes, &it, &k, &kl, &v)) {
            if (now - ((lc__rnode_t *)v)->seen_ms > NODE_TTL_MS) {
                gone = k;
                gl = kl;
                break;
            }
        }
        if (!gone)
            break;
        char key[64];
        if (gl >= sizeof(key))
            break;
        memcpy(key, gone, gl);
        free(lc_map_del(&r->nodes, key, gl));
    }
    uv_mutex_unlock(&r->mu);
}

/* --- channel subscriptions ------------------------------------------------------------------- */

/* Hand the waiters of c (removed from it) to their workers, each with err. */
static void finish_waiters(lc__redis_t *r, lc__rwait_t *w, int err)
{
    while (w) {
        lc__rwait_t *next = w->next;
        lc__rslot_t *s = &r->slots[w->slot];
        w->err = err;
        uv_mutex_lock(&s->done_mu);
        if (s->done_live) {
            w->next = s->done;
            s->done = w;
            uv_async_send(&s->done_async);
        } else {
            free(w); /* the worker has stopped: nobody to answer */
        }
        uv_mutex_unlock(&s->done_mu);
        w = next;
    }
}

/* Push the waiters of w onto acc one by one (so w's order is reversed in front of acc); the
 * lists are built newest first, so this restores the order asked where that matters. */
static lc__rwait_t *push_reversed(lc__rwait_t *w, lc__rwait_t *acc)
{
    while (w) {
        lc__rwait_t *next = w->next;
        w->next = acc;
        acc = w;
        w = next;
    }
    return acc;
}

/* Run each waiter's callback once, in list order, and free it. */
static void answer_waiters(lc__rwait_t *w)
{
    while (w) {
        lc__rwait_t *next = w->next;
        if (w->cb)
            w->cb(w->arg, w->err);
        free(w);
        w = next;
    }
}

void lc__broker_on_done(uv_async_t *h)
{
    lc__rslot_t *s = h->data;
    uv_mutex_lock(&s->done_mu);
    lc__rwait_t *w = s->done;
    s->done = NULL;
    uv_mutex_unlock(&s->done_mu);
    /* queued newest first: answer in the order asked */
    answer_waiters(push_reversed(w, NULL));
}

/* Take the waiters of slot out of w (returned; the others stay, in order). */
static lc__rwait_t *take_slot_waiters(lc__rwait_t **w, int slot)
{
    lc__rwait_t *taken = NULL;
    while (*w) {
        if ((*w)->slot == slot) {
            lc__rwait_t *t = *w;
            *w = t->next;
            t->err = LC_EIO;
            t->next = taken;
            taken = t;
        } else {
            w = &(*w)->next;
        }
    }
    return taken;
}

void lc__broker_detach_slot(lc__redis_t *r, lc__rslot_t *s)
{
    /* s->closed is set: no new waiter of this slot joins a channel. Those still waiting
     * for a subscription, then the completions already queued, are answered here (their
     * callbacks run exactly once); afterwards nothing is queued for the slot any more. */
    lc__rwait_t *all = NULL;
    for (int i = 0; i < r->nshards; i++) {
        lc__rshard_t *sh = &r->shards[i];
        uv_mutex_lock(&sh->mu);
        lc_map_iter_t it = {0};
        const char *k;
        size_t kl;
        void *v;
        while (lc_map_next(&sh->chans, &it, &k, &kl, &v)) {
            lc__rwait_t *t = take_slot_waiters(&((lc__rchan_t *)v)->waiters, s->index);
            all = push_reversed(t, all);
        }
        uv_mutex_unlock(&sh->mu);
    }
    uv_mutex_lock(&s->done_mu);
    s->done_live = false;
    lc__rwait_t *done = s->done; /* newest first */
    s->done = NULL;
    uv_mutex_unlock(&s->done_mu);
    /* in the order asked: the queued completions came first */
    answer_waiters(push_reversed(done, all));
}

void lc__broker_free_done(lc__rslot_t *s)
{
    while (s->done) {
        lc__rwait_t *next = s->done->next;
        free(s->done);
        s->done = next;
    }
}

int lc__broker_channel_ready(lc_engine_t *e, const char *ch, size_t chlen, lc_done_cb cb, void *arg)
{
    lc__redis_t *r = lc_container_of(e, lc__redis_t, base);
    lc__rslot_t *slot = lc__redis_slot(r);
    if (!slot)
        return LC_EINVAL;
    if (slot->closed)
        return LC_EIO;
    lc__rshard_t *sh = &r->shards[lc__redis_shard_of(r, ch, chlen)];
    if (!atomic_load(&sh->ps_ready))
        return LC_EIO; /* Redis is away: no waiting without end */
    uv_mutex_lock(&sh->mu);
    lc__rchan_t *c = lc_map_get(&sh->chans, ch, chlen);
    if (!c || c->refs == 0) {
        uv_mutex_unlock(&sh->mu);
        return LC_EINVAL; /* not counted in: nothing to wait for */
    }
    if (c->state == LC__CH_SUBSCRIBED) {
        uv_mutex_unlock(&sh->mu);
        if (cb)
            cb(arg, 0);
        return 0;
    }
    lc__rwait_t *w = calloc(1, sizeof(*w));
    if (!w) {
        uv_mutex_unlock(&sh->mu);
        return LC_ENOMEM;
    }
    w->slot = slot->index;
    w->cb = cb;
    w->arg = arg;
    w->next = c->waiters;
    c->waiters = w;
    uv_mutex_unlock(&sh->mu);
    return 0;
}

static int mark_dirty(lc__rshard_t *sh, lc__rchan_t *c)
{
    if (c->dirty)
        return 0;
    if (sh->n_dirty == sh->cap_dirty) {
        size_t ncap = sh->cap_dirty ? sh->cap_dirty * 2 : 64;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        lc__rchan_t **nd = realloc(sh->dirty, ncap * sizeof(*nd));
        if (!nd)
            return LC_ENOMEM;
        sh->dirty = nd;
        sh->cap_dirty = ncap;
    }
    sh->dirty[sh->n_dirty++] = c;
    c->dirty = true;
    return 0;
}

void lc__broker_channel(lc__redis_t *r, const char *ch, size_t chlen, int delta)
{
    lc__rshard_t *sh = &r->shards[lc__redis_shard_of(r, ch, chlen)];
    bool wake = false;
    uv_mutex_lock(&sh->mu);
    lc__rchan_t *c = lc_map_get(&sh->chans, ch, chlen);
    if (!c && delta > 0) {
        c = calloc(1, sizeof(*c) + chlen + 1);
        if (c && lc_map_put(&sh->chans, ch, chlen, c, NULL) != 0) {
            free(c);
            c = NULL;
        }
        if (c) {
            c->len = chlen;
            memcpy(c->name, ch, chlen);
        }
    }
    if (c) {
        int before = c->refs;
        c->refs += delta;
        if (c->refs < 0)
            c->refs = 0;
        if ((before == 0) != (c->refs == 0)) {
            mark_dirty(sh, c);
            wake = true;
        }
    } else if (delta > 0) {
        lc_log_error("redis: %.*s not subscribed on other nodes: out of memory", (int)chlen, ch);
    }
    uv_mutex_unlock(&sh->mu);
    if (wake)
        lc__broker_wake(r);
}

void lc__broker_wake(lc__redis_t *r)
{
    /* Under the engine's lock: worker 0 closes the handle under it too (detach). */
    uv_mutex_lock(&r->mu);
    if (r->broker_live)
        uv_async_send(&r->broker_async);
    uv_mutex_unlock(&r->mu);
}

/* Worker 0: send what the dirty channels of one shard need. */
static void reconcile(lc__redis_t *r, lc__rshard_t *sh)
{
    const char *sub[SUB_BATCH + 1], *unsub[SUB_BATCH + 1];
    size_t sublen[SUB_BATCH + 1], unsublen[SUB_BATCH + 1];
    lc_buf_t names = LC_BUF_INIT;
    size_t subat[SUB_BATCH], unsubat[SUB_BATCH];
    int ns = 0, nu = 0;
    bool ready = lc__rconn_ready(&sh->ps);
    size_t plen = strlen(r->rc->prefix) + strlen(".client.");

    uv_mutex_lock(&sh->mu);
    size_t i = 0;
    for (; i < sh->n_dirty && ns < SUB_BATCH && nu < SUB_BATCH; i++) {
        lc__rchan_t *c = sh->dirty[i];
        c->dirty = false;
        bool want = c->refs > 0;
        if (want && c->state == LC__CH_NONE && ready) {
            subat[ns] = names.len;
            sublen[ns + 1] = plen + c->len;
            ns++;
            c->state = LC__CH_SUBSCRIBING;
        } else if (!want && c->state == LC__CH_SUBSCRIBED && ready) {
            unsubat[nu] = names.len;
            unsublen[nu + 1] = plen + c->len;
            nu++;
            c->state = LC__CH_UNSUBSCRIBING;
        } else if (!want && c->state == LC__CH_NONE) {
            lc_map_del(&sh->chans, c->name, c->len);
            finish_waiters(r, c->waiters, LC_EIO);
            free(c);
            continue;
        } else {
            continue;
        }
        if (lc_buf_printf(&names, "%s.client.", r->rc->prefix) != 0 ||
            lc_buf_append(&names, c->name, c->len) != 0)
            break; /* out of memory: the state is wrong until the next reconnect */
    }
    /* What is left stays dirty for the next round. */
    if (i > 0) {
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        memmove(sh->dirty, sh->dirty + i, (sh->n_dirty - i) * sizeof(*sh->dirty));
        sh->n_dirty -= i;
    }
    bool more = sh->n_dirty > 0;
    uv_mutex_unlock(&sh->mu);

    for (int k = 0; k < ns; k++)
        sub[k + 1] = names.data + subat[k];
    for (int k = 0; k < nu; k++)
        unsub[k + 1] = names.data + unsubat[k];
    if (ns)
        lc__rconn_sub(&sh->ps, true, ns + 1, sub, sublen);
    if (nu)
        lc__rconn_sub(&sh->ps, false, nu + 1, unsub, unsublen);
    lc_buf_free(&names);
    if (more)
        lc__broker_wake(r);
}

void lc__broker_on_async(uv_async_t *h)
{
    lc__redis_t *r = h->data;
    for (int i = 0; i < r->nshards; i++)
        reconcile(r, &r->shards[i]);
}

/* Every channel back to "not asked" (connection lost) and, when ready, queued again. */
static void reset_all(lc__redis_t *r, lc__rshard_t *sh, bool requeue)
{
    uv_mutex_lock(&sh->mu);
    lc_map_iter_t it = {0};
    const char *k;
    size_t kl;
    void *v;
    while (lc_map_next(&sh->chans, &it, &k, &kl, &v)) {
        lc__rchan_t *c = v;
        c->state = LC__CH_NONE;
        if (requeue) {
            mark_dirty(sh, c);
        } else {
            finish_waiters(r, c->waiters, LC_EIO);
            c->waiters = NULL;
        }
    }
    uv_mutex_unlock(&sh->mu);
}

void lc__broker_ready(lc__rconn_t *c)
{
    lc__redis_t *r = c->r;
    lc__rshard_t *sh = c->owner;
    if (c->shard == 0) {
        lc_buf_t chan = LC_BUF_INIT;
        if (lc_buf_printf(&chan, "%s.control", r->rc->prefix) == 0) {
            const char *argv[2] = {NULL, chan.data};
            size_t lens[2] = {0, chan.len};
            lc__rconn_sub(c, true, 2, argv, lens);
        }
        lc_buf_free(&chan);
    }
    reset_all(r, sh, true);
    atomic_store(&sh->ps_ready, true);
    reconcile(r, sh);
    if (sh->was_ready && r->base.sink.resync) {
        lc_log_info("redis shard %d: pub/sub back, subscriptions renewed", c->shard);
        r->base.sink.resync(r->base.sink.ctx);
    }
    sh->was_ready = true;
}

void lc__broker_down(lc__rconn_t *c)
{
    lc__rshard_t *sh = c->owner;
    atomic_store(&sh->ps_ready, false);
    reset_all(c->r, sh, false);
}

void lc__broker_message(lc__rconn_t *c, redisReply *reply)
{
    lc__redis_t *r = c->r;
    lc__rshard_t *sh = c->owner;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *type = reply->element[0]->str;
    const char *name = reply->element[1]->str;
    size_t nlen = reply->element[1]->len;
    const char *prefix = r->rc->prefix;
    size_t plen = strlen(prefix);
    if (nlen <= plen + 1 || memcmp(name, prefix, plen) != 0 || name[plen] != '.')
        return;
    const char *rest = name + plen + 1;
    size_t rlen = nlen - plen - 1;
    bool client = rlen > 7 && memcmp(rest, "client.", 7) == 0;
    if (strcmp(type, "message") == 0) {
        redisReply *m = reply->element[2];
        if (m->type != REDIS_REPLY_STRING || m->len < 4 || memcmp(m->str, "L1 ", 3) != 0)
            return;
        if (client)
            deliver(r, rest + 7, rlen - 7, m->str, m->len);
        else if (rlen == 7 && memcmp(rest, "control", 7) == 0)
            on_control(r, m->str, m->len);
        return;
    }
    bool subscribed = strcmp(type, "subscribe") == 0;
    if (!subscribed && strcmp(type, "unsubscribe") != 0)
        return;
    if (!client) {
        if (subscribed && rlen > 5 && memcmp(rest, "ping.", 5) == 0)
            lc__rconn_pong(c);
        return;
    }
    uv_mutex_lock(&sh->mu);
    lc__rchan_t *ch = lc_map_get(&sh->chans, rest + 7, rlen - 7);
    bool again = false;
    if (ch) {
        ch->state = subscribed ? LC__CH_SUBSCRIBED : LC__CH_NONE;
        if (subscribed) {
            finish_waiters(r, ch->waiters, 0);
            ch->waiters = NULL;
        }
        /* Wanted changed while Redis was answering, or the entry can go: another round. */
        if ((ch->refs > 0) != subscribed || ch->refs == 0) {
            mark_dirty(sh, ch);
            again = true;
        }
    }
    uv_mutex_unlock(&sh->mu);
    if (again)
        reconcile(r, sh);
}
