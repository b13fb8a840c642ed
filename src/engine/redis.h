/* The Redis engine: several Lucent nodes share streams, presence and deliveries through Redis
 * (one or several shards chosen by channel with a jump consistent hash, or a Sentinel-managed
 * primary). Layout of keys and channels (prefix default "centrifugo"):
 *   <prefix>.stream.<ch>          Redis stream: ID <offset>-0, fields d (Publication), t (ms)
 *   <prefix>.meta.<ch>            hash: s (top offset), e (epoch)
 *   <prefix>.presence.data.<ch>   hash: client → "<len(user)>:<user><ClientInfo>"
 *   <prefix>.presence.expire.<ch> sorted set: client scored by its expiry (Unix ms)
 *   <prefix>.map.*.<ch>           map channels: meta, state, index, expire, version, stream,
 *                                 result; <prefix>.map.cleanup (redis_map_scripts.c)
 *   <prefix>.client.<ch>          PUB/SUB channel of the channel's deliveries
 *   <prefix>.control              PUB/SUB channel between nodes (shard 0)
 *
 * Beyond engine.h, the semantics are the memory engine's (memory.h): history with a since
 * epoch that does not match answers LC_EPOS with the current position; reverse paging; meta
 * lifetime restarted by publish and history calls; publications expiring history_ttl after
 * they were stored. Calls while Redis is unreachable return LC_EIO (the callback does not
 * run); calls in flight when the connection breaks or a reply takes longer than io_timeout
 * answer LC_EIO through their callback. Presence entries are refreshed by the worker that
 * added them every presence_ttl / 3 and expire presence_ttl after a node stops refreshing. */
#ifndef LC_ENGINE_REDIS_H
#define LC_ENGINE_REDIS_H

#include "config/config.h"
#include "engine/engine.h"

/* NULL on OOM or an address that cannot be parsed (logged). cfg must outlive the engine. */
lc_engine_t *lc_engine_redis_new(const lc_config_t *cfg);

#endif
