/* Lua marshalling: JSON text → Lua value → JSON text (the conversions hooks see and return),
 * and a decoded value handed over as a hook's return value for every hook kind (the
 * conversion of Lua results into decisions). What comes back out as JSON is strict JSON. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "fuzz.h"
#include "hooks/lua_internal.h"
#include "proto/json_check.h"

static lua_State *L;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    L = luaL_newstate();
    FUZZ_CHECK(L != NULL);
    lc__lua_conv_init(L);
    return 0;
}

typedef struct job {
    const char *p;
    size_t n;
    lc_hook_kind kind;
    lc_decision_t d;
} job_t;

static int run(lua_State *S)
{
    job_t *j = lua_touserdata(S, 1);
    lua_settop(S, 0);
    if (lc__lua_push_json(S, j->p, j->n) < 0)
        return 0;
    int v = lua_gettop(S);
    if (lc__lua_to_json(S, v) == 0) {
        size_t n;
        const char *out = lua_tolstring(S, -1, &n);
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(lc_json_check(out, n, NULL));
        FUZZ_CHECK(lc__lua_push_json(S, out, n) == 0);
        lua_pop(S, 2);
    } else {
        lua_pop(S, 1);
    }
    /* the decoded value as what a hook returned */
    lua_pushvalue(S, v);
    lc__lua_decision(S, 1, j->kind, &j->d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    job_t j;
    memset(&j, 0, sizeof(j));
    j.p = (const char *)data + 1;
    j.n = size - 1;
    j.kind = (lc_hook_kind)(data[0] % LC_HOOK_MAX);
    lua_settop(L, 0);
    lua_pushcfunction(L, run);
    lua_pushlightuserdata(L, &j);
    (void)lua_pcall(L, 1, 0, 0); /* a value that is no decision raises: that is fine */
    lc__lua_decision_free(&j.d);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}
