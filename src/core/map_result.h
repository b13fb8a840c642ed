/* A client's map write as its map publish / remove proxy (or the Lua publish hook) shaped it
 * (Centrifugo v6.8 MapPublishResult / MapRemoveResult). */
#ifndef LC_CORE_MAP_RESULT_H
#define LC_CORE_MAP_RESULT_H

#include <stdbool.h>

#include "config/config.h"
#include "engine/engine.h"
#include "hooks/proxy.h"

/* Apply m to req (whose strings then point into m): a write takes the key, tags, score,
 * key_mode, stream_data, idempotency_key, version and version_epoch; a removal the key, tags
 * and idempotency_key. delta is a hint only: map subscribers get whole values. NULL when
 * applied, else what is wrong with m (req is then partly changed and must not be written): a
 * key longer than map.max_key_length (an empty one keeps the key), an idempotency_key or
 * version_epoch over LC_MAP_IDEM_KEY_MAX bytes, a version on a map without a change stream
 * (ephemeral). */
const char *lc__map_result_apply(const lc_map_result_t *m, const lc_ns_map_t *mo, bool remove,
                                 lc_map_write_req_t *req);

#endif
