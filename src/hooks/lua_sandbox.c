/* The hook VM's sandbox: the environment scripts and their modules run in, require from the
 * search path, text-only load, and reading sources.
 *
 * Scripts and the modules they require run with an environment (setfenv) holding an
 * allow-list of the base library, copies of string, table, math, bit and coroutine (without
 * coroutine.running, so a script cannot resume a hook's own coroutine), os.time, os.clock
 * and os.date, text-only load/loadstring, require from the search path, print to the log,
 * collectgarbage("count") and `lucent`. io, debug, ffi, jit, package and the rest of os are
 * never opened; string.dump is removed from the state's string table (reachable through the
 * string metatable, which is protected). Each load of the script gets a fresh environment and
 * module cache, so a reload also re-reads the modules. */
#include "hooks/lua_internal.h"

#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define SOURCE_MAX (16u << 20)
#define MODULE_NAME_MAX 200

static const char key_loading = 0; /* module cache mark while a module runs */

/* Open the libraries the sandbox copies from (never io, debug, ffi, jit, package) and take
 * string.dump out of the state's string table, which scripts reach through the string
 * metatable (protected with __metatable, so getmetatable("") is false). */
void lc__lua_open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {{"", luaopen_base},
                                    {LUA_STRLIBNAME, luaopen_string},
                                    {LUA_TABLIBNAME, luaopen_table},
                                    {LUA_MATHLIBNAME, luaopen_math},
                                    {LUA_OSLIBNAME, luaopen_os},
                                    {LUA_BITLIBNAME, luaopen_bit},
                                    {NULL, NULL}};

    for (const luaL_Reg *l = libs; l->func != NULL; l++) {
        lua_pushcfunction(L, l->func);
        lua_pushstring(L, l->name);
        lua_call(L, 1, 0);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushliteral(L, "");
    lua_getmetatable(L, -1);
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 2);
    lc__lua_bound_libs(L);
}

int lc__lua_read_source(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    int rc = LC_EIO;

    *out = NULL;
    if (f == NULL) {
        /* every worker loads its VM in its own thread: strerror's static buffer is not safe */
        int e = errno;
        char msg[128];
        snprintf(err, errlen, "%s: %s", path, strerror_r(e, msg, sizeof(msg)));
        return e == ENOENT ? LC_ENOENT : LC_EIO;
    }
    for (;;) {
        if (n == cap) {
            char *nb;
            if (cap >= SOURCE_MAX) {
                snprintf(err, errlen, "%s: larger than %u bytes", path, SOURCE_MAX);
                rc = LC_ETOOBIG;
                goto fail;
            }
            cap = cap == 0 ? 16384 : cap * 2;
            if ((nb = realloc(buf, cap)) == NULL) {
                snprintf(err, errlen, "%s: out of memory", path);
                rc = LC_ENOMEM;
                goto fail;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        goto fail;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return 0;
fail:
    fclose(f);
    free(buf);
    return rc;
}

void lc__lua_load_text(lua_State *L, const char *text, size_t len, const char *chunkname, int env)
{
    if (luaL_loadbufferx(L, text, len, chunkname, "t") != 0)
        lua_error(L);
    lua_pushvalue(L, env);
    lua_setfenv(L, -2);
}

static bool module_name_ok(const char *name, size_t len)
{
    bool seg_start = true;

    if (len == 0 || len > MODULE_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (seg_start)
                return false;
            seg_start = true;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
        seg_start = false;
    }
    return !seg_start;
}

/* require(name): upvalue 1 is the environment, 2 the module cache. A module is
 * <folder>/<name with '.' as '/'>.lua in lua.path's folders, then the shipped folder. */
static int sandbox_require(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    size_t len, srclen = 0;
    const char *name = luaL_checklstring(L, 1, &len);
    const char *rel, *path = NULL;
    char why[256] = "";
    lc_lua_guard_t *g;
    int rc = LC_ENOENT;

    lua_settop(L, 1);
    lua_pushvalue(L, 1);
    lua_rawget(L, lua_upvalueindex(2));
    if (lua_touserdata(L, -1) == (void *)&key_loading)
        return luaL_error(L, "module '%s': loop or previous error loading it", name);
    if (!lua_isnil(L, -1))
        return 1;
    lua_pop(L, 1);
    if (!module_name_ok(name, len))
        return luaL_error(L,
                          "module '%s': not a module name (letters, digits, '_', '-' "
                          "and '.' between them)",
                          name);
    rel = luaL_gsub(L, name, ".", "/"); /* 2 */
    g = lc__lua_guard(L);               /* 3 */
    size_t n_lib;
    const char *const *lib = lc__lua_lib_dirs(&n_lib);
    size_t n_dirs = vm->cfg->n_lua_path + n_lib;
    for (size_t i = 0; i < n_dirs && rc == LC_ENOENT; i++) {
        const char *dir =
            i < vm->cfg->n_lua_path ? vm->cfg->lua_path[i] : lib[i - vm->cfg->n_lua_path];
        char *text = NULL;
        lua_settop(L, 3);
        path = lua_pushfstring(L, "%s/%s.lua", dir, rel); /* 4 */
        rc = lc__lua_read_source(path, &text, &srclen, why, sizeof(why));
        g->p = text;
        g->release = free;
    }
    if (rc == LC_ENOENT) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (size_t i = 0; i < n_dirs; i++) {
            const char *dir =
                i < vm->cfg->n_lua_path ? vm->cfg->lua_path[i] : lib[i - vm->cfg->n_lua_path];
            lua_pushfstring(L, "%s%s/%s.lua", i ? ", " : "", dir, lua_tostring(L, 2));
            luaL_addvalue(&b);
        }
        luaL_pushresult(&b);
        return luaL_error(L, "module '%s' not found; searched %s", name, lua_tostring(L, -1));
    }
    if (rc != 0)
        return luaL_error(L, "module '%s': %s", name, why);
    lua_pushfstring(L, "@%s", path); /* 5 */
    lc__lua_load_text(L, g->p, srclen, lua_tostring(L, 5), lua_upvalueindex(1));
    lc__lua_guard_release(g);
    lua_pushvalue(L, 1);
    lua_pushlightuserdata(L, (void *)&key_loading);
    lua_rawset(L, lua_upvalueindex(2));
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, -2);
    lua_rawset(L, lua_upvalueindex(2));
    return 1;
}

/* load(s [, chunkname]) and loadstring(s [, chunkname]): strings of Lua text only, run in the
 * sandbox (upvalue 1). nil and a message on errors, bytecode included. */
static int sandbox_load(lua_State *L)
{
    size_t len;
    const char *s;
    const char *name;

    if (lua_type(L, 1) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushliteral(L, "load: only strings of Lua text are allowed");
        return 2;
    }
    s = lua_tolstring(L, 1, &len);
    name = luaL_optstring(L, 2, s);
    if (luaL_loadbufferx(L, s, len, name, "t") != 0) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_setfenv(L, -2);
    return 1;
}

/* Copy the named fields of the table at src into a new table set as env[name]. */
static void copy_lib(lua_State *L, int env, const char *name, const char *const *keys)
{
    lua_getglobal(L, name);
    lua_newtable(L);
    if (keys == NULL) {
        lua_pushnil(L);
        while (lua_next(L, -3) != 0) {
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, -4);
        }
    } else {
        for (; *keys != NULL; keys++) {
            lua_getfield(L, -2, *keys);
            lua_setfield(L, -2, *keys);
        }
    }
    lua_setfield(L, env, name);
    lua_pop(L, 1);
}

void lc__lua_push_env(lua_State *L)
{
    static const char *const base[] = {
        "assert",       "error",        "ipairs",   "next",     "pairs",
        "pcall",        "rawequal",     "rawget",   "rawset",   "select",
        "setmetatable", "getmetatable", "tonumber", "tostring", "type",
        "unpack",       "xpcall",       "_VERSION", NULL};
    static const char *const os_keys[] = {"time", "clock", "date", NULL};
    static const char *const co_keys[] = {"create", "resume", "status", "wrap", "yield", NULL};
    int env;

    lua_newtable(L);
    env = lua_gettop(L);
    for (const char *const *k = base; *k != NULL; k++) {
        lua_getglobal(L, *k);
        lua_setfield(L, env, *k);
    }
    copy_lib(L, env, "string", NULL);
    copy_lib(L, env, "table", NULL);
    copy_lib(L, env, "math", NULL);
    copy_lib(L, env, "bit", NULL);
    copy_lib(L, env, "os", os_keys);
    copy_lib(L, env, "coroutine", co_keys);
    lua_pushvalue(L, env);
    lua_setfield(L, env, "_G");
    lc__lua_set_base_overrides(L);
    lua_pushvalue(L, env);
    lua_pushcclosure(L, sandbox_load, 1);
    lua_pushvalue(L, -1);
    lua_setfield(L, env, "load");
    lua_setfield(L, env, "loadstring");
    lua_pushvalue(L, env);
    lua_newtable(L); /* module cache */
    lua_pushcclosure(L, sandbox_require, 2);
    lua_setfield(L, env, "require");
    lc__lua_push_api(L);
    lua_setfield(L, env, "lucent");
}
