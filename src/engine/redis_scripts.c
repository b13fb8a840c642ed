/* The Lua scripts of the Redis engine and how they are run: loaded by every connection's
 * handshake (SCRIPT LOAD), called with EVALSHA (EVAL until a SHA1 is known); a NOSCRIPT
 * answer (the script cache was flushed) drops the connection, whose handshake loads them
 * again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/redis_internal.h"
#include "util/err.h"

/* --- scripts --------------------------------------------------------------------------------- */

const char *const lc__redis_scripts[LC__SCRIPTS] = {
    /* PUBLISH. KEYS: stream, meta, idempotent result. ARGV: pub head (ends with "offset":),
     * pub tail, delivery head, delivery header rest, delivery tail, history size, history ttl
     * ms, meta ttl ms (0 = forever), new epoch, now ms, PUB/SUB channel, result ttl ms ("" = no
     * idempotency key), history (1) or the whole delivery in ARGV[3] (0), delivery middle
     * (after the header line's numbers, up to the pub), delta: 0 none, 1 a delta namespace, 2
     * a delta asked for. With delta the header line ends with the previous publication's
     * length, and the previous publication (offset - 1, when the stream still has it) follows
     * the push: every node makes the same delta from the stream's truth. */
    "if ARGV[12] ~= '' then\n"
    "  local prev = redis.call('get', KEYS[3])\n"
    "  if prev then\n"
    "    local sep = string.find(prev, ':', 1, true)\n"
    "    return {tonumber(string.sub(prev, 1, sep - 1)), string.sub(prev, sep + 1)}\n"
    "  end\n"
    "end\n"
    "if ARGV[13] == '0' then\n"
    "  redis.call('publish', ARGV[11], ARGV[3])\n"
    "  if ARGV[12] ~= '' then redis.call('set', KEYS[3], '0:', 'PX', ARGV[12]) end\n"
    "  return {0, ''}\n"
    "end\n"
    "local created = redis.call('hsetnx', KEYS[2], 'e', ARGV[9])\n"
    "if created == 1 then redis.call('del', KEYS[1]) end\n"
    "local off = redis.call('hincrby', KEYS[2], 's', 1)\n"
    "local epoch = redis.call('hget', KEYS[2], 'e')\n"
    "if tonumber(ARGV[8]) > 0 then redis.call('pexpire', KEYS[2], ARGV[8]) end\n"
    "local pub = ARGV[1] .. off .. ARGV[2]\n"
    "local prev, plen = '', ''\n"
    "if ARGV[15] ~= '0' then\n"
    "  if ARGV[15] == '2' then\n"
    "    local last = redis.call('xrevrange', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "    if #last > 0 and last[1][1] == (off - 1) .. '-0' then prev = last[1][2][2] end\n"
    "  end\n"
    "  plen = ' ' .. #prev\n"
    "end\n"
    "redis.call('xadd', KEYS[1], 'MAXLEN', ARGV[6], off .. '-0', 'd', pub, 't', ARGV[10])\n"
    "redis.call('pexpire', KEYS[1], ARGV[7])\n"
    "redis.call('publish', ARGV[11], ARGV[3] .. off .. ARGV[4] .. plen .. ARGV[14] .. pub .. "
    "ARGV[5] .. prev)\n"
    "if ARGV[12] ~= '' then redis.call('set', KEYS[3], off .. ':' .. epoch, 'PX', ARGV[12]) end\n"
    "return {off, epoch}\n",
    /* HISTORY. KEYS: stream, meta. ARGV: new epoch, meta ttl ms, now ms, pub ttl ms, since
     * epoch, has since (0/1), since offset, limit (-1 all), reverse (0/1). Returns {top,
     * epoch, first offset, epoch mismatch (0/1), publications...}. */
    "local created = redis.call('hsetnx', KEYS[2], 'e', ARGV[1])\n"
    "if created == 1 then redis.call('del', KEYS[1]) end\n"
    "if tonumber(ARGV[2]) > 0 then redis.call('pexpire', KEYS[2], ARGV[2]) end\n"
    "local top = tonumber(redis.call('hget', KEYS[2], 's') or '0')\n"
    "local epoch = redis.call('hget', KEYS[2], 'e')\n"
    "local cutoff = tonumber(ARGV[3]) - tonumber(ARGV[4])\n"
    "local f\n"
    "while true do\n"
    "  f = redis.call('xrange', KEYS[1], '-', '+', 'COUNT', 1)\n"
    "  if #f == 0 then break end\n"
    "  local t = tonumber(f[1][2][4])\n"
    "  if t == nil or t > cutoff then break end\n"
    "  redis.call('xdel', KEYS[1], f[1][1])\n"
    "end\n"
    "local first = 0\n"
    "if #f > 0 then first = tonumber(string.match(f[1][1], '^(%d+)')) end\n"
    "local res = {top, epoch, first, 0}\n"
    "if ARGV[6] == '1' and ARGV[5] ~= '' and ARGV[5] ~= epoch then res[4] = 1 return res end\n"
    "local limit = tonumber(ARGV[8])\n"
    "if limit == 0 or first == 0 then return res end\n"
    "local since = tonumber(ARGV[7])\n"
    "local cmd, a, b = 'xrange', '-', '+'\n"
    "if ARGV[9] == '1' then cmd, a, b = 'xrevrange', '+', '-' end\n"
    "if ARGV[6] == '1' then\n"
    "  if ARGV[9] == '1' then\n"
    "    if since <= first then return res end\n"
    "    a = tostring(since - 1)\n"
    "  else\n"
    "    if since >= top then return res end\n"
    "    a = tostring(since + 1)\n"
    "  end\n"
    "end\n"
    "local ents\n"
    "if limit > 0 then ents = redis.call(cmd, KEYS[1], a, b, 'COUNT', limit)\n"
    "else ents = redis.call(cmd, KEYS[1], a, b) end\n"
    "for i = 1, #ents do res[#res + 1] = ents[i][2][2] end\n"
    "return res\n",
    /* PRESENCE ADD. KEYS: expiry zset, data hash. ARGV: expires at (Unix ms), client, value,
     * key ttl ms. */
    "redis.call('zadd', KEYS[1], ARGV[1], ARGV[2])\n"
    "redis.call('hset', KEYS[2], ARGV[2], ARGV[3])\n"
    "redis.call('pexpire', KEYS[1], ARGV[4])\n"
    "redis.call('pexpire', KEYS[2], ARGV[4])\n"
    "return 1\n",
    /* PRESENCE GET. KEYS: expiry zset, data hash. ARGV: now (Unix ms). Expired entries are
     * dropped first: a node that died stops refreshing its own. */
    "local exp = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])\n"
    "if #exp > 0 then\n"
    "  for i = 1, #exp do redis.call('hdel', KEYS[2], exp[i]) end\n"
    "  redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[1])\n"
    "end\n"
    "return redis.call('hgetall', KEYS[2])\n",
    [LC__SCRIPT_MAP_WRITE] = lc__redis_map_write_lua,
    [LC__SCRIPT_MAP_READ] = lc__redis_map_read_lua,
    [LC__SCRIPT_MAP_CLEANUP] = lc__redis_map_cleanup_lua,
    [LC__SCRIPT_MAP_TOUCH] = lc__redis_map_touch_lua,
    [LC__SCRIPT_MAP_CLEAR] = lc__redis_map_clear_lua,
};

static char *sha_slot(lc__redis_t *r, int which)
{
    return r->sha[which];
}

void lc__redis_set_sha(lc__redis_t *r, int which, const char *sha, size_t len)
{
    if (len != 40)
        return;
    uv_mutex_lock(&r->mu);
    memcpy(sha_slot(r, which), sha, 40);
    sha_slot(r, which)[40] = '\0';
    uv_mutex_unlock(&r->mu);
}

int lc__redis_script(lc__rconn_t *c, int which, lc__rcmd_cb cb, void *arg, int nkeys, int argc,
                     const char **argv, const size_t *argvlen)
{
    /* the map broker's batches (hold refreshes) take more arguments than fit the stack */
    const char *av_local[24];
    size_t al_local[24];
    const char **av = av_local;
    size_t *al = al_local;
    char nk[8];
    if (argc < 0 || argc > 4096)
        return LC_EINVAL;
    if (argc + 3 > 24) {
        av = malloc((size_t)(argc + 3) * sizeof(*av));
        al = malloc((size_t)(argc + 3) * sizeof(*al));
        if (!av || !al) {
            free(av);
            free(al);
            return LC_ENOMEM;
        }
    }
    uv_mutex_lock(&c->r->mu);
    char sha[41];
    memcpy(sha, sha_slot(c->r, which), sizeof(sha));
    uv_mutex_unlock(&c->r->mu);
    snprintf(nk, sizeof(nk), "%d", nkeys);
    if (sha[0]) {
        av[0] = "EVALSHA";
        av[1] = sha;
        al[1] = 40;
    } else {
        av[0] = "EVAL";
        av[1] = lc__redis_scripts[which];
        al[1] = strlen(av[1]);
    }
    al[0] = strlen(av[0]);
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = argvlen[i];
    }
    int rc = lc__rconn_cmd(c, cb, arg, argc + 3, av, al);
    if (av != av_local) {
        free(av);
        free(al);
    }
    return rc;
}
