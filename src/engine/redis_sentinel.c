/* Following a Sentinel failover as it happens: worker 0 keeps one connection to a Sentinel
 * subscribed to +switch-master. Each announcement for our primary bumps the engine's switch
 * generation; every connection compares it on its next tick (within 250 ms) and reconnects,
 * which asks the Sentinels for the new primary. Without the announcement (no Sentinel
 * reachable) connections still leave a demoted primary on its READONLY answer or when it
 * drops them. */
#include <hiredis/adapters/libuv.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/err.h"
#include "util/log.h"

#define RETRY_MS 1000

static void watch_connect(lc__redis_t *r);

static void on_retry(uv_timer_t *t)
{
    watch_connect(t->data);
}

static void watch_lost(lc__redis_t *r)
{
    r->sw_ac = NULL;
    if (r->sw_on)
        uv_timer_start(&r->sw_timer, on_retry, RETRY_MS, 0);
}

static void on_watch_disconnect(const redisAsyncContext *ac, int status)
{
    lc__redis_t *r = ac->data;
    if (r && ac == r->sw_ac)
        watch_lost(r);
}

static void on_watch_connect(const redisAsyncContext *ac, int status)
{
    lc__redis_t *r = ac->data;
    if (r && ac == r->sw_ac && status != REDIS_OK)
        watch_lost(r);
}

/* ["message", "+switch-master", "<name> <old ip> <old port> <new ip> <new port>"] */
static void on_switch(redisAsyncContext *ac, void *reply, void *privdata)
{
    lc__redis_t *r = privdata;
    redisReply *rp = reply;
    if (!rp || ac != r->sw_ac || rp->type != REDIS_REPLY_ARRAY || rp->elements != 3 ||
        rp->element[2]->type != REDIS_REPLY_STRING)
        return;
    const char *name = r->rc->sentinel_master_name;
    size_t n = strlen(name);
    const char *msg = rp->element[2]->str;
    if (strncmp(msg, name, n) != 0 || msg[n] != ' ')
        return;
    lc_log_info("redis: Sentinel switched the primary (%s): reconnecting", msg);
    atomic_fetch_add(&r->switch_gen, 1);
}

static void watch_connect(lc__redis_t *r)
{
    const lc_redis_conf_t *rc = r->rc;
    if (!r->sw_on || rc->n_sentinel_addresses == 0)
        return;
    const char *addr = rc->sentinel_addresses[r->sw_next++ % rc->n_sentinel_addresses];
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t hl = colon ? (size_t)(colon - addr) : strlen(addr);
    if (hl >= sizeof(host))
        hl = sizeof(host) - 1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    int port = colon ? (int)strtol(colon + 1, NULL, 10) : 26379;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac || ac->err || redisLibuvAttach(ac, r->sw_loop) != REDIS_OK) {
        if (ac)
            redisAsyncFree(ac);
        uv_timer_start(&r->sw_timer, on_retry, RETRY_MS, 0);
        return;
    }
    ac->data = r;
    r->sw_ac = ac;
    redisAsyncSetConnectCallback(ac, on_watch_connect);
    redisAsyncSetDisconnectCallback(ac, on_watch_disconnect);
    if (rc->sentinel_password[0]) {
        if (rc->sentinel_user[0])
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s %s", rc->sentinel_user,
                              rc->sentinel_password);
        else
            redisAsyncCommand(ac, NULL, NULL, "AUTH %s", rc->sentinel_password);
    }
    redisAsyncCommand(ac, on_switch, r, "SUBSCRIBE +switch-master");
}

void lc__sentinel_watch_start(lc__redis_t *r, uv_loop_t *loop)
{
    if (r->rc->n_sentinel_addresses == 0)
        return;
    r->sw_loop = loop;
    uv_timer_init(loop, &r->sw_timer);
    r->sw_timer.data = r;
    r->sw_on = true;
    watch_connect(r);
}

void lc__sentinel_watch_stop(lc__redis_t *r)
{
    if (!r->sw_on)
        return;
    r->sw_on = false;
    redisAsyncContext *ac = r->sw_ac;
    r->sw_ac = NULL;
    if (ac) {
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    uv_close((uv_handle_t *)&r->sw_timer, NULL);
}
