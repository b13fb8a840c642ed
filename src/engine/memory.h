/* The embedded memory engine: one process, publications delivered in-process. */
#ifndef LC_ENGINE_MEMORY_H
#define LC_ENGINE_MEMORY_H

#include "config/config.h"
#include "engine/engine.h"

/* NULL on OOM. Destroy with e->vt->destroy(e). */
lc_engine_t *lc_engine_memory_new(const lc_config_t *cfg);

#endif
