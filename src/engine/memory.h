/* The embedded memory engine: one process, publications delivered in-process, streams and
 * presence kept in memory (lost on restart: a new process starts new epochs).
 *
 * Behaviour beyond engine.h:
 * - history with a since.epoch that does not match answers err = LC_EPOS together with the
 *   stream's current position (res->top, res->first_offset set, n = 0); an empty since.epoch
 *   matches any epoch (spec §7.2). Reverse with since returns offsets below since.offset,
 *   newest first (none when since.offset is 0: core answers 107 for that before asking).
 * - Stream meta lives history_meta_ttl_ms after the last publish or history call on the
 *   channel; publications live history_ttl_ms after they were stored. Expired ones are dropped
 *   on access and by a sweep that some call runs about once a second, so memory stays bounded
 *   without further access to a channel. A channel's presence set is freed with its last
 *   entry.
 * - presence_add / presence_remove with a NULL client return LC_EINVAL. */
#ifndef LC_ENGINE_MEMORY_H
#define LC_ENGINE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "engine/engine.h"

/* NULL on OOM. Destroy with e->vt->destroy(e). cfg may be NULL (nothing in it is needed). */
lc_engine_t *lc_engine_memory_new(const lc_config_t *cfg);

/* For tests: the clock the engine measures lifetimes with (default lc_mono_ms; NULL restores
 * it). Set it before the first call; the next call runs a sweep. */
void lc_engine_memory_set_clock(lc_engine_t *e, int64_t (*now_ms)(void));
/* For tests: how many channels have a stream / a presence set right now. */
size_t lc_engine_memory_num_streams(lc_engine_t *e);
size_t lc_engine_memory_num_presence_channels(lc_engine_t *e);
/* For tests: how many map channels exist; run the map key expiry sweep of every shard now
 * (workers run it from their timers). */
size_t lc_engine_memory_num_maps(lc_engine_t *e);
void lc_engine_memory_sweep_maps(lc_engine_t *e);

#endif
