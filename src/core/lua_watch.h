/* lua.watch: reload the Lua script when a .lua file in its directory (or in a lua.path
 * directory, where required modules live) changes — the edit-and-try loop of development.
 * Events are debounced (an editor's save is several writes); the reload itself is the one
 * SIGHUP runs. Runs on worker 0's loop. */
#ifndef LC_CORE_LUA_WATCH_H
#define LC_CORE_LUA_WATCH_H

#include <uv.h>

#include "config/config.h"
#include "hooks/script.h"

typedef struct lc_lua_watch lc_lua_watch_t;

/* NULL when nothing could be watched (logged). reload(arg) runs from loop after a change. */
lc_lua_watch_t *lc__lua_watch_start(uv_loop_t *loop, const lc_config_t *cfg,
                                    void (*reload)(void *arg), void *arg);
/* Close the handles (freed once closed). NULL is ignored. */
void lc__lua_watch_stop(lc_lua_watch_t *w);

/* The VM's lucent.rules routes as text ("kind pattern\n" each, malloc'd), and the log lines
 * saying which were added and removed between two such texts. */
char *lc__lua_routes_text(lc_lua_t *vm);
void lc__lua_routes_log_diff(const char *before, const char *after);

#endif
