/* One Redis connection and its state machine, on one libuv loop:
 *
 *   IDLE → [RESOLVING] → CONNECTING → HANDSHAKE → READY
 *                ↑                                  │ error, timeout, lost
 *                └────────────── BACKOFF ←──────────┘
 *
 * RESOLVING asks the Sentinels for the primary (only with sentinel_address). HANDSHAKE sends
 * AUTH, SELECT, ROLE (with Sentinel: a demoted primary is left at once) and SCRIPT LOAD, then
 * READY. Debian's hiredis 0.14 adapter for libuv has no timeouts, so the deadlines are ours:
 * connect_timeout covers RESOLVING to READY, io_timeout the oldest command awaiting its reply,
 * and an idle connection is PINGed every second so that a silent peer is noticed. BACKOFF
 * waits 50 ms doubling to 1 s, with jitter, so that many workers and nodes do not reconnect
 * in step. */
#include <hiredis/adapters/libuv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/metrics.h"
#include "util/err.h"
#include "util/log.h"
#include "util/rand.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 1000
#define PING_IDLE_MS 1000
#define TICK_MS 250
#define CLOSE_AFTER_MS 300

typedef struct rcmd {
    lc__rcmd_cb cb;
    void *arg;
} rcmd_t;

static void start_attempt(lc__rconn_t *c);

static const char *conn_kind(const lc__rconn_t *c)
{
    return c->pubsub ? "pub/sub" : "command";
}

void lc__rconn_init(lc__rconn_t *c, lc__redis_t *r, uv_loop_t *loop, int shard, bool pubsub)
{
    memset(c, 0, sizeof(*c));
    c->r = r;
    c->loop = loop;
    c->shard = shard;
    c->pubsub = pubsub;
    c->state = LC__RC_IDLE;
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->tick);
    c->timer.data = c->tick.data = c;
    c->handles = true;
}

bool lc__rconn_ready(const lc__rconn_t *c)
{
    return c->state == LC__RC_READY;
}

static void sent_push(lc__rconn_t *c)
{
    if (c->sent_n == c->sent_cap) {
        size_t ncap = c->sent_cap ? c->sent_cap * 2 : 64;
        uint64_t *ns = malloc(ncap * sizeof(*ns));
        if (!ns)
            return; /* the timeout check is then approximate: no worse than none */
        for (size_t i = 0; i < c->sent_n; i++)
            ns[i] = c->sent[(c->sent_head + i) % c->sent_cap];
        free(c->sent);
        c->sent = ns;
        c->sent_cap = ncap;
        c->sent_head = 0;
    }
    c->sent[(c->sent_head + c->sent_n) % c->sent_cap] = uv_now(c->loop);
    c->sent_n++;
}

static void sent_pop(lc__rconn_t *c)
{
    if (c->sent_n == 0)
        return;
    c->sent_head = (c->sent_head + 1) % c->sent_cap;
    c->sent_n--;
}

/* Drop the hiredis context: every pending callback runs with a NULL reply. The state has
 * been moved off READY first, so callbacks that issue new commands get LC_EIO. */
static void drop_context(lc__rconn_t *c)
{
    redisAsyncContext *ac = c->ac, *sac = c->sac;
    c->ac = c->sac = NULL;
    if (sac)
        redisAsyncFree(sac);
    if (ac)
        redisAsyncFree(ac);
    c->sent_n = c->sent_head = 0;
    c->ping_sent_ms = 0;
}

static void on_backoff_done(uv_timer_t *t)
{
    start_attempt(t->data);
}

static void fail(lc__rconn_t *c, const char *why)
{
    if (c->state == LC__RC_CLOSED || c->state == LC__RC_BACKOFF)
        return;
    if (c->closing) {
        lc__rconn_close(c); /* no reconnecting: it was closing anyway */
        return;
    }
    bool was_ready = c->state == LC__RC_READY;
    /* Log the first failure and then every 20th, not every retry of a long outage. */
    if (was_ready || c->attempt % 20 == 0)
        lc_log_warn("redis %s connection to shard %d (%s:%d): %s%s", conn_kind(c), c->shard,
                    c->host[0] ? c->host : "?", c->port, why, was_ready ? "" : " (retrying)");
    c->state = LC__RC_BACKOFF;
    lc_metrics_engine_up(false);
    uv_timer_stop(&c->tick);
    drop_context(c);
    if (was_ready && c->on_down)
        c->on_down(c);
    if (c->state != LC__RC_BACKOFF)
        return; /* on_down closed it */
    uint64_t delay = BACKOFF_MIN_MS << (c->attempt < 5 ? c->attempt : 5);
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    uint32_t jitter = 0;
    lc_random_bytes(&jitter, sizeof(jitter));
    delay += jitter % (delay / 2 + 1);
    c->attempt++;
    uv_timer_start(&c->timer, on_backoff_done, delay, 0);
}

static void on_deadline(uv_timer_t *t)
{
    lc__rconn_t *c = t->data;
    fail(c, c->state == LC__RC_HANDSHAKE ? "handshake timed out" : "connect timed out");
}

static void on_tick(uv_timer_t *t);

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    lc__rconn_t *c = ac->data;
    if (!c || (ac != c->ac && ac != c->sac))
        return; /* our own redisAsyncFree */
    /* hiredis frees the context after this callback */
    if (ac == c->ac)
        c->ac = NULL;
    else
        c->sac = NULL;
    fail(c, ac->errstr[0] ? ac->errstr : "connection closed");
}

static void set_ready(lc__rconn_t *c)
{
    uv_timer_stop(&c->timer);
    c->state = LC__RC_READY;
    lc_metrics_engine_up(true);
    if (c->attempt > 0)
        lc_log_info("redis %s connection to shard %d (%s:%d) ready", conn_kind(c), c->shard,
                    c->host, c->port);
    c->attempt = 0;
    c->switch_gen = atomic_load(&c->r->switch_gen);
    c->last_io_ms = uv_now(c->loop);
    uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS);
    if (c->on_ready)
        c->on_ready(c);
}

/* --- commands -------------------------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    lc__rconn_t *c = ac->data;
    rcmd_t *cmd = privdata;
    if (c && ac == c->ac) {
        sent_pop(c);
        c->last_io_ms = uv_now(c->loop);
    }
    lc__rcmd_cb cb = cmd->cb;
    void *arg = cmd->arg;
    free(cmd);
    redisReply *rp = reply;
    /* A primary demoted by a failover answers writes with READONLY: find the new one. */
    bool demoted =
        rp && rp->type == REDIS_REPLY_ERROR && rp->len >= 8 && memcmp(rp->str, "READONLY", 8) == 0;
    if (cb)
        cb(c, reply, arg);
    if (c && ac == c->ac && c->closing && c->sent_n == 0) {
        lc__rconn_close(c);
        return;
    }
    if (demoted && c && ac == c->ac)
        fail(c, "the primary was demoted (READONLY)");
}

static int send_cmd(lc__rconn_t *c, lc__rcmd_cb cb, void *arg, int argc, const char **argv,
                    const size_t *argvlen)
{
    rcmd_t *cmd = malloc(sizeof(*cmd));
    if (!cmd)
        return LC_ENOMEM;
    cmd->cb = cb;
    cmd->arg = arg;
    if (redisAsyncCommandArgv(c->ac, on_reply, cmd, argc, argv, argvlen) != REDIS_OK) {
        free(cmd);
        return LC_EIO;
    }
    sent_push(c);
    return 0;
}

int lc__rconn_cmd(lc__rconn_t *c, lc__rcmd_cb cb, void *arg, int argc, const char **argv,
                  const size_t *argvlen)
{
    if (c->state != LC__RC_READY || !c->ac)
        return LC_EIO;
    return send_cmd(c, cb, arg, argc, argv, argvlen);
}

static void on_sub_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    lc__rconn_t *c = privdata;
    if (!c || ac != c->ac || !reply)
        return;
    c->last_io_ms = uv_now(c->loop);
    if (c->on_message)
        c->on_message(c, reply);
}

int lc__rconn_sub(lc__rconn_t *c, bool subscribe, int argc, const char **argv, size_t *argvlen)
{
    if (c->state != LC__RC_READY || !c->ac)
        return LC_EIO;
    /* argv[0] is the command name slot, filled here */
    argv[0] = subscribe ? "SUBSCRIBE" : "UNSUBSCRIBE";
    argvlen[0] = strlen(argv[0]);
    if (redisAsyncCommandArgv(c->ac, on_sub_reply, c, argc, argv, argvlen) != REDIS_OK)
        return LC_EIO;
    return 0;
}

/* --- liveness -------------------------------------------------------------------------------- */

static void on_ping(lc__rconn_t *c, redisReply *reply, void *arg)
{
    (void)arg;
    (void)reply;
}

static void on_tick(uv_timer_t *t)
{
    lc__rconn_t *c = t->data;
    if (c->state != LC__RC_READY)
        return;
    if (c->switch_gen != atomic_load(&c->r->switch_gen)) {
        fail(c, "Sentinel switched the primary");
        return;
    }
    uint64_t now = uv_now(c->loop);
    uint64_t limit = (uint64_t)c->r->rc->io_timeout_ms;
    if (c->sent_n > 0 && now - c->sent[c->sent_head] > limit) {
        fail(c, "command timed out");
        return;
    }
    if (c->pubsub && c->ping_sent_ms && now - c->ping_sent_ms > limit) {
        fail(c, "ping timed out");
        return;
    }
    if (now - c->last_io_ms < PING_IDLE_MS || c->sent_n > 0 || c->ping_sent_ms)
        return;
    if (c->pubsub) {
        /* A subscribed connection answers only (UN)SUBSCRIBE in hiredis 0.14: subscribing
         * again to the node's own ping channel is the ping, its reply the pong. */
        lc_buf_t b = LC_BUF_INIT;
        if (lc_buf_printf(&b, "%s.ping.%s", c->r->rc->prefix, c->r->uid) == 0) {
            const char *argv[2] = {NULL, b.data};
            size_t lens[2] = {0, b.len};
            if (lc__rconn_sub(c, true, 2, argv, lens) == 0)
                c->ping_sent_ms = now;
        }
        lc_buf_free(&b);
        return;
    }
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    send_cmd(c, on_ping, NULL, 1, argv, lens);
}

/* The PUB/SUB ping's reply (a "subscribe" to the ping channel) clears the wait. */
void lc__rconn_pong(lc__rconn_t *c)
{
    c->ping_sent_ms = 0;
}

/* --- handshake ------------------------------------------------------------------------------- */

static void hs_step(lc__rconn_t *c, redisReply *reply, void *arg)
{
    const char *what = arg;
    if (c->state != LC__RC_HANDSHAKE)
        return;
    if (!reply) {
        c->hs_failed = true;
        snprintf(c->hs_err, sizeof(c->hs_err), "%s: no reply", what);
    } else if (reply->type == REDIS_REPLY_ERROR) {
        c->hs_failed = true;
        snprintf(c->hs_err, sizeof(c->hs_err), "%s: %.*s", what, (int)reply->len, reply->str);
    } else if (strcmp(what, "ROLE") == 0) {
        /* With Sentinel the address must be the primary's; a demoted one is left. */
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            strcmp(reply->element[0]->str, "master") != 0) {
            c->hs_failed = true;
            snprintf(c->hs_err, sizeof(c->hs_err), "not a primary");
        }
    }
}

static void hs_done(lc__rconn_t *c, redisReply *reply, void *arg)
{
    hs_step(c, reply, arg);
    if (c->state != LC__RC_HANDSHAKE)
        return;
    if (c->hs_failed) {
        fail(c, c->hs_err);
        return;
    }
    set_ready(c);
}

static void hs_send(lc__rconn_t *c, lc__rcmd_cb cb, const char *what, int argc, const char **argv)
{
    size_t lens[4];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    if (send_cmd(c, cb, (void *)what, argc, argv, lens) != 0)
        c->hs_failed = true;
}

static void on_script_loaded(lc__rconn_t *c, redisReply *reply, void *arg)
{
    if (reply && reply->type == REDIS_REPLY_STRING)
        lc__redis_set_sha(c->r, (int)(intptr_t)arg, reply->str, reply->len);
    hs_step(c, reply, "SCRIPT LOAD");
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    lc__rconn_t *c = ac->data;
    if (!c || ac != c->ac)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        c->ac = NULL;
        fail(c, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    c->state = LC__RC_HANDSHAKE;
    c->hs_failed = false;
    lc__redis_t *r = c->r;
    if (r->password && r->password[0]) {
        if (r->user && r->user[0])
            hs_send(c, hs_step, "AUTH", 3, (const char *[]){"AUTH", r->user, r->password});
        else
            hs_send(c, hs_step, "AUTH", 2, (const char *[]){"AUTH", r->password});
    }
    if (r->db > 0) {
        char db[16];
        snprintf(db, sizeof(db), "%d", r->db);
        hs_send(c, hs_step, "SELECT", 2, (const char *[]){"SELECT", db});
    }
    if (r->rc->n_sentinel_addresses > 0)
        hs_send(c, hs_step, "ROLE", 1, (const char *[]){"ROLE"});
    for (int i = 0; !c->pubsub && i < LC__SCRIPTS; i++) {
        const char *argv[3] = {"SCRIPT", "LOAD", lc__redis_scripts[i]};
        size_t lens[3] = {6, 4, strlen(lc__redis_scripts[i])};
        if (send_cmd(c, on_script_loaded, (void *)(intptr_t)i, 3, argv, lens) != 0)
            c->hs_failed = true;
    }
    hs_send(c, hs_done, "PING", 1, (const char *[]){"PING"});
}

static void connect_to(lc__rconn_t *c)
{
    c->state = LC__RC_CONNECTING;
    redisAsyncContext *ac = redisAsyncConnect(c->host, c->port);
    if (!ac) {
        fail(c, "out of memory");
        return;
    }
    if (ac->err) {
        char msg[128];
        snprintf(msg, sizeof(msg), "%s", ac->errstr);
        redisAsyncFree(ac);
        fail(c, msg);
        return;
    }
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        fail(c, "cannot attach to the loop");
        return;
    }
    c->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* --- Sentinel -------------------------------------------------------------------------------- */

/* "host:port" → host, port (port 0 when absent or bad). */
static void split_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= hostlen)
        n = hostlen - 1;
    memcpy(host, s, n);
    host[n] = '\0';
    *port = colon ? (int)strtol(colon + 1, NULL, 10) : 26379;
}

static void on_master_addr(redisAsyncContext *ac, void *reply, void *privdata)
{
    lc__rconn_t *c = privdata;
    if (c->state != LC__RC_RESOLVING || ac != c->sac)
        return;
    redisReply *rp = reply;
    if (!rp || rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
        rp->element[0]->type != REDIS_REPLY_STRING || rp->element[1]->type != REDIS_REPLY_STRING) {
        fail(c, "sentinel does not know the primary");
        return;
    }
    snprintf(c->host, sizeof(c->host), "%s", rp->element[0]->str);
    c->port = (int)strtol(rp->element[1]->str, NULL, 10);
    /* Done with this Sentinel: the free runs after this callback returns. */
    c->sac = NULL;
    ac->data = NULL;
    redisAsyncDisconnect(ac);
    connect_to(c);
}

static void on_sentinel_connect(const redisAsyncContext *ac, int status)
{
    lc__rconn_t *c = ac->data;
    if (!c || ac != c->sac)
        return;
    if (status != REDIS_OK) {
        c->sac = NULL;
        fail(c, "sentinel unreachable");
    }
}

static void resolve(lc__rconn_t *c)
{
    const lc_redis_conf_t *rc = c->r->rc;
    c->state = LC__RC_RESOLVING;
    char host[256];
    int port;
    split_hostport(rc->sentinel_addresses[c->sentinel_next % rc->n_sentinel_addresses], host,
                   sizeof(host), &port);
    c->sentinel_next++;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err) {
        if (ac)
            redisAsyncFree(ac);
        fail(c, "sentinel unreachable");
        return;
    }
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        fail(c, "cannot attach to the loop");
        return;
    }
    c->sac = ac;
    redisAsyncSetConnectCallback(ac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (rc->sentinel_password[0]) {
        if (rc->sentinel_user[0])
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", rc->sentinel_user,
                              rc->sentinel_password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", rc->sentinel_password);
    }
    redisAsyncCommand(ac, on_master_addr, c, "SENTINEL get-master-addr-by-name %s",
                      rc->sentinel_master_name);
}

/* --- lifecycle ------------------------------------------------------------------------------- */

static void start_attempt(lc__rconn_t *c)
{
    if (c->state == LC__RC_CLOSED)
        return;
    uv_timer_start(&c->timer, on_deadline, (uint64_t)c->r->rc->connect_timeout_ms, 0);
    if (c->r->rc->n_sentinel_addresses > 0) {
        resolve(c);
        return;
    }
    snprintf(c->host, sizeof(c->host), "%s", c->r->hosts[c->shard]);
    c->port = c->r->ports[c->shard];
    connect_to(c);
}

void lc__rconn_reset(lc__rconn_t *c, const char *why)
{
    fail(c, why);
}

void lc__rconn_start(lc__rconn_t *c)
{
    if (c->state == LC__RC_IDLE)
        start_attempt(c);
}

void lc__rconn_close(lc__rconn_t *c)
{
    if (!c->handles || c->state == LC__RC_CLOSED)
        return;
    c->state = LC__RC_CLOSED;
    drop_context(c);
    uv_close((uv_handle_t *)&c->timer, NULL);
    uv_close((uv_handle_t *)&c->tick, NULL);
}

static void on_close_deadline(uv_timer_t *t)
{
    lc__rconn_close(t->data);
}

void lc__rconn_close_after(lc__rconn_t *c)
{
    if (c->state != LC__RC_READY || c->sent_n == 0) {
        lc__rconn_close(c);
        return;
    }
    c->closing = true;
    /* A stopping node waits this long at most for a Redis that does not answer. */
    uv_timer_start(&c->timer, on_close_deadline, CLOSE_AFTER_MS, 0);
}

void lc__rconn_free(lc__rconn_t *c)
{
    free(c->sent);
    c->sent = NULL;
}
