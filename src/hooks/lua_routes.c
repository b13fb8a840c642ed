/* lucent.rules routes seen from C: the list a script's router registers when it builds its
 * hooks (for `lucent routes` and the reload log), and the route that matched a traced call
 * (for the decision trace). rules.lua calls the two hidden functions lucent._routes and
 * lucent._route; only the last successful load's list is kept. */
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "hooks/decide_trace.h"
#include "hooks/lua_internal.h"

#define PENDING "lucent.routes.pending"
#define CURRENT "lucent.routes"

static void where(lua_State *L, int fn, char *buf, size_t len)
{
    lua_Debug ar;
    memset(&ar, 0, sizeof(ar));
    lua_pushvalue(L, fn);
    if (lua_getinfo(L, ">S", &ar))
        snprintf(buf, len, "%s:%d", ar.short_src, ar.linedefined);
    else
        snprintf(buf, len, "?");
}

/* lucent._route(kind, pattern, fn [, names, captures...]): a route matched; noted when the
 * call is traced, with what its {name} parameters captured ({id} = "1"). */
int lc__lua_route_matched(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    lc_lua_call_t *c = vm->running;
    if (c == NULL || c->trace == NULL || !lua_isfunction(L, 3))
        return 0;
    char at[256], caps[512] = "";
    where(L, 3, at, sizeof(at));
    size_t pos = 0;
    if (lua_istable(L, 4)) {
        for (int i = 1; i <= lua_gettop(L) - 4 && pos < sizeof(caps); i++) {
            lua_rawgeti(L, 4, i);
            const char *name = lua_tostring(L, -1);
            const char *val = lua_tostring(L, 4 + i);
            int n = snprintf(caps + pos, sizeof(caps) - pos, ", {%s} = \"%s\"", name ? name : "?",
                             val ? val : "");
            lua_pop(L, 1);
            if (n < 0)
                break;
            pos += (size_t)n;
        }
    }
    lc_decide_trace_add(c->trace, "lua", "lucent.rules %s route \"%s\" matched (handler %s)%s",
                        luaL_optstring(L, 1, "?"), luaL_optstring(L, 2, "?"), at, caps);
    return 0;
}

/* lucent._routes(list): list = {{kind, pattern, fn}, ...} in match order. */
int lc__lua_routes_register(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING);
    return 0;
}

void lc__lua_routes_commit(lua_State *L, bool ok)
{
    if (ok) {
        lua_getfield(L, LUA_REGISTRYINDEX, PENDING);
        lua_setfield(L, LUA_REGISTRYINDEX, CURRENT);
    }
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PENDING);
}

size_t lc_lua_routes(lc_lua_t *vm, lc_lua_route_cb cb, void *arg)
{
    lua_State *L = vm->L;
    size_t n = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, CURRENT);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return 0;
    }
    for (int i = 1;; i++) {
        lua_rawgeti(L, -1, i);
        if (!lua_istable(L, -1)) {
            lua_pop(L, 1);
            break;
        }
        lua_rawgeti(L, -1, 1);
        lua_rawgeti(L, -2, 2);
        lua_rawgeti(L, -3, 3);
        char at[256] = "?";
        if (lua_isfunction(L, -1))
            where(L, lua_gettop(L), at, sizeof(at));
        const char *kind = lua_tostring(L, -3), *pattern = lua_tostring(L, -2);
        if (kind)
            cb(arg, kind, pattern ? pattern : "", at);
        n++;
        lua_pop(L, 4);
    }
    lua_pop(L, 1);
    return n;
}
