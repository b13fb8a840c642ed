/* The Lua scripts of the Redis map broker (redis_map.c). Keys of a map channel, all on the
 * shard the channel hashes to (<p> = engine.redis.prefix):
 *   <p>.map.meta.<ch>     hash: e (epoch), s (top offset), ss / st / mt / kt (stream size,
 *                         stream ttl, meta ttl, key ttl of the last write: the cleanup needs
 *                         them without the namespace)
 *   <p>.map.state.<ch>    hash: key → "<offset>:<Publication>" (offset for max_offset)
 *   <p>.map.index.<ch>    sorted set: key scored 0 (pages by key) or -score (ordered: highest
 *                         score first, then by key)
 *   <p>.map.expire.<ch>   sorted set: key scored by its expiry (Unix ms, Redis's clock)
 *   <p>.map.version.<ch>  hash: key → "<version>:<version epoch>"
 *   <p>.map.stream.<ch>   Redis stream: ID <offset>-0, fields d (Publication), t (ms)
 *   <p>.map.result.<ch>.<idempotency key>  string "<offset>:<epoch>"
 *   <p>.map.cleanup       sorted set: channels with expiring keys scored by the earliest
 * Every change takes the next offset, goes to the stream and is PUBLISHed on <p>.client.<ch>
 * in the broker's envelope (redis_pubsub.c) within one script, so offsets, stream and
 * deliveries agree on every node. Keys other than KEYS[] are derived inside the scripts from
 * the prefix: one Redis per shard (no Redis Cluster), as the engine requires. */
#include "engine/redis_internal.h"

/* Shared functions, prepended to every script. Strings are compared byte by byte (Lua's
 * comparison follows the server's locale; sorted sets order by bytes). */
#define PRELUDE                                                                                    \
    "local function now_ms()\n"                                                                    \
    "  local t = redis.call('time')\n"                                                             \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                         \
    "end\n"                                                                                        \
    "local function chkeys(p, ch)\n"                                                               \
    "  local b = p .. '.map.'\n"                                                                   \
    "  return {meta = b .. 'meta.' .. ch, state = b .. 'state.' .. ch, idx = b .. 'index.' .. "    \
    "ch,\n"                                                                                        \
    "    exp = b .. 'expire.' .. ch, ver = b .. 'version.' .. ch, stream = b .. 'stream.' .. "     \
    "ch}\n"                                                                                        \
    "end\n"                                                                                        \
    "local function le(a, b)\n"                                                                    \
    "  for i = 1, math.min(#a, #b) do\n"                                                           \
    "    local x, y = string.byte(a, i), string.byte(b, i)\n"                                      \
    "    if x ~= y then return x < y end\n"                                                        \
    "  end\n"                                                                                      \
    "  return #a <= #b\n"                                                                          \
    "end\n"                                                                                        \
    "local function ensure(k, new_epoch)\n"                                                        \
    "  local e = redis.call('hget', k.meta, 'e')\n"                                                \
    "  if e then return e, false end\n"                                                            \
    "  redis.call('del', k.state, k.idx, k.exp, k.ver, k.stream)\n"                                \
    "  redis.call('hset', k.meta, 'e', new_epoch, 's', 0)\n"                                       \
    "  return new_epoch, true\n"                                                                   \
    "end\n" /* lifetimes after a change: an empty channel keeps its position meta ttl; a channel   \
             * whose keys all expire disappears key ttl + meta ttl after its last change at the    \
             * latest (a safety net when no cleanup runs); a persistent one stays */               \
    "local function settle(k, kt, mt)\n"                                                           \
    "  local all = {k.meta, k.state, k.idx, k.exp, k.ver}\n"                                       \
    "  if redis.call('hlen', k.state) == 0 then\n"                                                 \
    "    if mt > 0 then redis.call('pexpire', k.meta, mt) else redis.call('persist', k.meta) "     \
    "end\n"                                                                                        \
    "  elseif kt > 0 and mt > 0 then\n"                                                            \
    "    for i = 1, 5 do redis.call('pexpire', all[i], kt + mt) end\n"                             \
    "  else\n"                                                                                     \
    "    for i = 1, 5 do redis.call('persist', all[i]) end\n"                                      \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function expire_at(k, cl, ch, key, at)\n"                                               \
    "  redis.call('zadd', k.exp, at, key)\n"                                                       \
    "  local cur = redis.call('zscore', cl, ch)\n"                                                 \
    "  if not cur or tonumber(cur) > at then redis.call('zadd', cl, at, ch) end\n"                 \
    "end\n"                                                                                        \
    "local function append(k, off, pub, ss, st, now)\n"                                            \
    "  if ss > 0 then\n"                                                                           \
    "    redis.call('xadd', k.stream, 'MAXLEN', ss, off .. '-0', 'd', pub, 't', now)\n"            \
    "    if st > 0 then redis.call('pexpire', k.stream, st) end\n"                                 \
    "  else\n"                                                                                     \
    "    redis.call('del', k.stream)\n"                                                            \
    "  end\n"                                                                                      \
    "end\n"

/* WRITE. KEYS: cleanup set, idempotency result key (the cleanup set again when none). ARGV:
 * 1 prefix, 2 channel, 3 key, 4 op (w write, r remove, x the last hold released, h a hold
 * released while others remain: nothing to do), 5 Publication head (ends with "offset":),
 * 6 the stream's head (stream_data; "" = the same), 7 Publication tail, 8 index score,
 * 9 key mode ("", n if_new, e if_exists), 10 max keys, 11 version (0 = none), 12 version
 * epoch, 13 stream size, 14 stream ttl, 15 meta ttl, 16 key ttl, 17 new epoch, 18 delivery
 * middle (envelope after its offset, up to the pub), 19 result ttl ("" = no idempotency).
 * Returns {top offset, epoch, suppress reason or "" or "too_big"}. */
const char lc__redis_map_write_lua[] = PRELUDE
    "local p, ch, key, op = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
    "if ARGV[19] ~= '' then\n"
    "  local prev = redis.call('get', KEYS[2])\n"
    "  if prev then\n"
    "    local sep = string.find(prev, ':', 1, true)\n"
    "    return {tonumber(string.sub(prev, 1, sep - 1)), string.sub(prev, sep + 1), "
    "'idempotency'}\n"
    "  end\n"
    "end\n"
    "local k = chkeys(p, ch)\n"
    "local ss, st, mt, kt = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15]), "
    "tonumber(ARGV[16])\n"
    "local epoch = ensure(k, ARGV[17])\n"
    "redis.call('hset', k.meta, 'ss', ss, 'st', st, 'mt', mt, 'kt', kt)\n"
    "local now = now_ms()\n"
    "local top = tonumber(redis.call('hget', k.meta, 's'))\n"
    "if op == 'h' then return {top, epoch, 'released'} end\n"
    "local exists = redis.call('hexists', k.state, key) == 1\n"
    "local why = ''\n"
    "if op == 'w' then\n"
    "  if ARGV[11] ~= '0' then\n"
    "    local pv = redis.call('hget', k.ver, key)\n"
    "    if pv then\n"
    "      local sep = string.find(pv, ':', 1, true)\n"
    "      local v, ve = string.sub(pv, 1, sep - 1), string.sub(pv, sep + 1)\n"
    "      local longer = #ARGV[11] > #v\n"
    "      local above = longer or (#ARGV[11] == #v and not le(ARGV[11], v))\n"
    "      if (ARGV[12] == '' or ARGV[12] == ve) and not above then why = 'version' end\n"
    "    end\n"
    "  end\n"
    "  if why == '' and ARGV[9] == 'n' and exists then\n"
    "    why = 'key_exists'\n"
    "    if kt > 0 then expire_at(k, KEYS[1], ch, key, now + kt) end\n"
    "  elseif why == '' and ARGV[9] == 'e' and not exists then\n"
    "    why = 'key_not_found'\n"
    "  end\n"
    "  if why == '' and not exists and tonumber(ARGV[10]) > 0 and\n"
    "      redis.call('hlen', k.state) >= tonumber(ARGV[10]) then\n"
    "    return {top, epoch, 'too_big'}\n"
    "  end\n"
    "elseif not exists then\n"
    "  if op == 'r' then why = 'key_not_found' else why = 'released' end\n"
    "elseif op == 'x' and kt > 0 then\n"
    "  expire_at(k, KEYS[1], ch, key, now + kt)\n"
    "  why = 'released'\n"
    "end\n"
    "if why ~= '' then\n"
    "  settle(k, kt, mt)\n"
    "  return {top, epoch, why}\n"
    "end\n"
    "top = redis.call('hincrby', k.meta, 's', 1)\n"
    "local pub = ARGV[5] .. top .. ARGV[7]\n"
    "local spub = pub\n"
    "if ARGV[6] ~= '' then spub = ARGV[6] .. top .. ARGV[7] end\n"
    "if op == 'w' then\n"
    "  redis.call('hset', k.state, key, top .. ':' .. pub)\n"
    "  redis.call('zadd', k.idx, ARGV[8], key)\n"
    "  if kt > 0 then expire_at(k, KEYS[1], ch, key, now + kt) else redis.call('zrem', k.exp, "
    "key) end\n"
    "  if ARGV[11] ~= '0' then redis.call('hset', k.ver, key, ARGV[11] .. ':' .. ARGV[12]) end\n"
    "else\n"
    "  redis.call('hdel', k.state, key)\n"
    "  redis.call('zrem', k.idx, key)\n"
    "  redis.call('zrem', k.exp, key)\n"
    "  redis.call('hdel', k.ver, key)\n"
    "end\n"
    "append(k, top, spub, ss, st, now)\n"
    "redis.call('publish', p .. '.client.' .. ch, 'L1 P ' .. top .. ARGV[18] .. spub .. '}}')\n"
    "if ARGV[19] ~= '' then redis.call('set', KEYS[2], top .. ':' .. epoch, 'PX', ARGV[19]) end\n"
    "settle(k, kt, mt)\n"
    "return {top, epoch, ''}\n";

/* READ. KEYS: cleanup set (unused: the shard). ARGV: 1 prefix, 2 channel, 3 new epoch, 4 meta
 * ttl, 5 op (s a state page, k one key, t the stream), 6 limit (t: -1 all), 7 max bytes,
 * 8 max offset, 9 after a cursor / since given (0/1), 10 cursor index score / since offset,
 * 11 cursor key / since epoch / the key, 12 stream ttl. Returns {top, epoch, number of keys,
 * position gone (0/1), next cursor's index score, next cursor's key, Publications...}. */
const char lc__redis_map_read_lua[] = PRELUDE
    "local k = chkeys(ARGV[1], ARGV[2])\n"
    "local epoch, created = ensure(k, ARGV[3])\n"
    "if created and tonumber(ARGV[4]) > 0 then redis.call('pexpire', k.meta, ARGV[4]) end\n"
    "local top = tonumber(redis.call('hget', k.meta, 's') or '0')\n"
    "local res = {top, epoch, redis.call('hlen', k.state), 0, '', ''}\n"
    "local op, limit, maxb, maxoff = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7]), "
    "tonumber(ARGV[8])\n"
    "local function entry(v)\n"
    "  local sep = string.find(v, ':', 1, true)\n"
    "  return tonumber(string.sub(v, 1, sep - 1)), string.sub(v, sep + 1)\n"
    "end\n"
    "if op == 'k' then\n"
    "  local v = redis.call('hget', k.state, ARGV[11])\n"
    "  if v then\n"
    "    local off, pub = entry(v)\n"
    "    if maxoff == 0 or off <= maxoff then res[7] = pub end\n"
    "  end\n"
    "  return res\n"
    "end\n"
    "if op == 's' then\n"
    "  local rank = 0\n"
    "  if ARGV[9] == '1' then\n"
    /* the first entry after (score, key): past the lower scores, then a binary search among
     * the entries of that score */
    "    local lo = redis.call('zcount', k.idx, '-inf', '(' .. ARGV[10])\n"
    "    local hi = redis.call('zcount', k.idx, '-inf', ARGV[10])\n"
    "    while lo < hi do\n"
    "      local mid = math.floor((lo + hi) / 2)\n"
    "      if le(redis.call('zrange', k.idx, mid, mid)[1], ARGV[11]) then lo = mid + 1 else hi "
    "= mid end\n"
    "    end\n"
    "    rank = lo\n"
    "  end\n"
    /* a page, then whether an entry it may give follows (entries written after max_offset
     * are left out: the catch-up brings them) */
    "  local total = redis.call('zcard', k.idx)\n"
    "  local taken, bytes, ls, lk, more = 0, 0, nil, nil, false\n"
    "  while rank < total and not more do\n"
    "    local batch = redis.call('zrange', k.idx, rank, rank + limit - 1, 'WITHSCORES')\n"
    "    if #batch == 0 then break end\n"
    "    local members = {}\n"
    "    for i = 1, #batch, 2 do members[#members + 1] = batch[i] end\n"
    "    local vals = redis.call('hmget', k.state, unpack(members))\n"
    "    for i = 1, #members do\n"
    "      if vals[i] then\n"
    "        local off, pub = entry(vals[i])\n"
    "        if maxoff == 0 or off <= maxoff then\n"
    "          if taken >= limit or (maxb > 0 and bytes >= maxb) then more = true break end\n"
    "          res[#res + 1] = pub\n"
    "          taken, bytes, ls, lk = taken + 1, bytes + #pub, batch[2 * i], members[i]\n"
    "        end\n"
    "      end\n"
    "      rank = rank + 1\n"
    "    end\n"
    "  end\n"
    "  if more then res[5], res[6] = ls, lk end\n"
    "  return res\n"
    "end\n"
    "local st = tonumber(ARGV[12])\n"
    "local f\n"
    "while true do\n"
    "  f = redis.call('xrange', k.stream, '-', '+', 'COUNT', 1)\n"
    "  if #f == 0 or st <= 0 or tonumber(f[1][2][4]) > now_ms() - st then break end\n"
    "  redis.call('xdel', k.stream, f[1][1])\n"
    "end\n"
    "local first = top + 1\n"
    "if #f > 0 then first = tonumber(string.match(f[1][1], '^(%d+)')) end\n"
    "if ARGV[9] == '1' and ARGV[11] ~= '' and ARGV[11] ~= epoch then res[4] = 1 return res end\n"
    "local since = first - 1\n"
    "if ARGV[9] == '1' then since = tonumber(ARGV[10]) end\n"
    "if since < first - 1 or since > top then res[4] = 1 return res end\n"
    "if limit == 0 or since == top then return res end\n"
    "local ents\n"
    "if limit > 0 then ents = redis.call('xrange', k.stream, since + 1, '+', 'COUNT', limit)\n"
    "else ents = redis.call('xrange', k.stream, since + 1, '+') end\n"
    "for i = 1, #ents do res[#res + 1] = ents[i][2][2] end\n"
    "return res\n";

/* CLEANUP. KEYS: cleanup set. ARGV: prefix, batch size. Removes the expired keys of at most
 * batch channels whose earliest expiry has come, at most batch keys each, each removal a
 * change like an explicit one; a channel with more left stays due for the next round. Returns
 * the number of keys removed. */
const char lc__redis_map_cleanup_lua[] = PRELUDE
    "local now = now_ms()\n"
    "local batch = tonumber(ARGV[2])\n"
    "local chans = redis.call('zrangebyscore', KEYS[1], '-inf', now, 'LIMIT', 0, batch)\n"
    "local removed = 0\n"
    "for c = 1, #chans do\n"
    "  local ch = chans[c]\n"
    "  local k = chkeys(ARGV[1], ch)\n"
    "  if not redis.call('hget', k.meta, 'e') then\n"
    "    redis.call('del', k.state, k.idx, k.exp, k.ver, k.stream)\n"
    "    redis.call('zrem', KEYS[1], ch)\n"
    "  else\n"
    "    local m = redis.call('hmget', k.meta, 'ss', 'st', 'mt', 'kt')\n"
    "    local ss, st = tonumber(m[1] or '0'), tonumber(m[2] or '0')\n"
    "    local mt, kt = tonumber(m[3] or '0'), tonumber(m[4] or '0')\n"
    "    local keys = redis.call('zrangebyscore', k.exp, '-inf', now, 'LIMIT', 0, batch)\n"
    "    local mid = ' 0 0\\n{\"push\":{\"channel\":' .. cjson.encode(ch) .. ',\"pub\":'\n"
    "    for i = 1, #keys do\n"
    "      local key = keys[i]\n"
    "      redis.call('zrem', k.exp, key)\n"
    "      if redis.call('hdel', k.state, key) == 1 then\n"
    "        redis.call('zrem', k.idx, key)\n"
    "        redis.call('hdel', k.ver, key)\n"
    "        local off = redis.call('hincrby', k.meta, 's', 1)\n"
    "        local pub = '{\"offset\":' .. off .. ',\"key\":' .. cjson.encode(key) .. "
    "',\"removed\":true}'\n"
    "        append(k, off, pub, ss, st, now)\n"
    "        redis.call('publish', ARGV[1] .. '.client.' .. ch, 'L1 P ' .. off .. mid .. pub .. "
    "'}}')\n"
    "        removed = removed + 1\n"
    "      end\n"
    "    end\n"
    "    local nxt = redis.call('zrange', k.exp, 0, 0, 'WITHSCORES')\n"
    "    if #nxt == 0 then redis.call('zrem', KEYS[1], ch) else redis.call('zadd', KEYS[1], "
    "nxt[2], ch) end\n"
    "    settle(k, kt, mt)\n"
    "  end\n"
    "end\n"
    "return removed\n";

/* TOUCH. KEYS: cleanup set. ARGV: prefix, then (channel, key, key ttl ms) triples: the keys
 * this node holds live key ttl from now (no change, nothing delivered). Returns how many of
 * the keys exist. */
const char lc__redis_map_touch_lua[] =
    PRELUDE "local now = now_ms()\n"
            "local n = 0\n"
            "for i = 2, #ARGV - 2, 3 do\n"
            "  local ch, key, kt = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])\n"
            "  local k = chkeys(ARGV[1], ch)\n"
            "  if redis.call('hexists', k.state, key) == 1 then\n"
            "    expire_at(k, KEYS[1], ch, key, now + kt)\n"
            "    settle(k, kt, tonumber(redis.call('hget', k.meta, 'mt') or '0'))\n"
            "    n = n + 1\n"
            "  end\n"
            "end\n"
            "return n\n";

/* CLEAR. KEYS: cleanup set. ARGV: prefix, channel. Everything of the channel goes; its next
 * write or read starts a new epoch. */
const char lc__redis_map_clear_lua[] = PRELUDE "local k = chkeys(ARGV[1], ARGV[2])\n"
                                               "redis.call('del', k.meta, k.state, k.idx, "
                                               "k.exp, k.ver, k.stream)\n"
                                               "redis.call('zrem', KEYS[1], ARGV[2])\n"
                                               "return 1\n";
