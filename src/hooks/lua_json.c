/* JSON text <-> Lua values for the hook VM (cJSON).
 *
 * Objects and arrays are tables; arrays carry a private metatable so an empty array stays `[]`
 * when encoded again; null inside a value is lucent.json.null (a light userdata NULL), null at
 * the top is nil. Numbers are Lua numbers (doubles): integers beyond 2^53 lose precision.
 * Encoding: a table is an array when it carries the array metatable or its keys are exactly
 * 1..n (n > 0); otherwise an object, whose keys must be strings or numbers. Integral numbers
 * are written without exponent.
 *
 * Everything here may raise Lua errors (memory, wrong types): callers run it protected. Tables
 * are read with raw access, so a script's metamethods never run from C. */
#include "hooks/lua_internal.h"
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth/jwt.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/err.h"

#define JSON_DEPTH_MAX CJSON_NESTING_LIMIT

/* Whether d is an integer that a double holds exactly (no libm needed). */
bool lc__lua_exact_int(double d)
{
    return d > -LC__LUA_EXACT_INT_MAX && d < LC__LUA_EXACT_INT_MAX && d == (double)(int64_t)d;
}

/* ---- guards ---- */

static int guard_gc(lua_State *L)
{
    lc__lua_guard_release(lua_touserdata(L, 1));
    return 0;
}

lc_lua_guard_t *lc__lua_guard(lua_State *L)
{
    lc_lua_guard_t *g = lua_newuserdata(L, sizeof(*g));

    g->p = NULL;
    g->release = NULL;
    lua_pushlightuserdata(L, (void *)&lc__lua_key_guard_mt);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
    return g;
}

void lc__lua_guard_release(lc_lua_guard_t *g)
{
    if (g != NULL && g->p != NULL && g->release != NULL)
        g->release(g->p);
    if (g != NULL)
        g->p = NULL;
}

static void release_tree(void *p)
{
    cJSON_Delete(p);
}

void lc__lua_release_mem(void *p)
{
    free(p);
}

static void new_mt(lua_State *L, const char *key)
{
    lua_pushlightuserdata(L, (void *)key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

void lc__lua_conv_init(lua_State *L)
{
    new_mt(L, &lc__lua_key_array_mt);
    lua_pushlightuserdata(L, (void *)&lc__lua_key_guard_mt);
    lua_newtable(L);
    lua_pushcfunction(L, guard_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_rawset(L, LUA_REGISTRYINDEX);
}

bool lc__lua_tagged(lua_State *L, int idx, const char *key)
{
    bool same;

    if (!lua_getmetatable(L, idx))
        return false;
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    same = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return same;
}

void lc__lua_set_mt(lua_State *L, const char *key)
{
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
}

/* ---- JSON → Lua ---- */

static void push_item(lua_State *L, const cJSON *it)
{
    int i = 1;

    luaL_checkstack(L, 4, "JSON nested too deeply");
    if (cJSON_IsFalse(it) || cJSON_IsTrue(it)) {
        lua_pushboolean(L, cJSON_IsTrue(it));
    } else if (cJSON_IsNumber(it)) {
        lua_pushnumber(L, it->valuedouble);
    } else if (cJSON_IsString(it)) {
        lua_pushstring(L, it->valuestring);
    } else if (cJSON_IsArray(it)) {
        lua_createtable(L, cJSON_GetArraySize(it), 0);
        for (const cJSON *c = it->child; c != NULL; c = c->next) {
            push_item(L, c);
            lua_rawseti(L, -2, i++);
        }
        lc__lua_set_mt(L, &lc__lua_key_array_mt);
    } else if (cJSON_IsObject(it)) {
        lua_createtable(L, 0, cJSON_GetArraySize(it));
        for (const cJSON *c = it->child; c != NULL; c = c->next) {
            lua_pushstring(L, c->string);
            push_item(L, c);
            lua_rawset(L, -3);
        }
    } else {
        lua_pushlightuserdata(L, NULL); /* null */
    }
}

int lc__lua_push_json(lua_State *L, const char *json, size_t len)
{
    lc_lua_guard_t *g = lc__lua_guard(L);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);

    if (root != NULL) {
        g->p = root;
        g->release = release_tree;
        while (end < json + len && (unsigned char)*end <= 32)
            end++;
    }
    if (root == NULL || end != json + len) {
        lc__lua_guard_release(g);
        lua_pop(L, 1);
        lua_pushliteral(L, "invalid JSON");
        return -1;
    }
    if (cJSON_IsNull(root))
        lua_pushnil(L);
    else
        push_item(L, root);
    lc__lua_guard_release(g);
    lua_remove(L, -2);
    return 0;
}

void lc__lua_push_json_or_string(lua_State *L, const char *p, size_t len)
{
    if (lc__lua_push_json(L, p, len) != 0) {
        lua_pop(L, 1);
        lua_pushlstring(L, p, len);
    }
}

/* ---- Lua → JSON ---- */

static bool is_array(lua_State *L, int idx, size_t *n)
{
    size_t count = 0;
    bool ok = true;

    *n = lua_objlen(L, idx);
    if (lc__lua_tagged(L, idx, &lc__lua_key_array_mt))
        return true;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_Number k;
        lua_pop(L, 1);
        count++;
        /* two tests so that lua_tonumber only sees numbers */
        if (!ok || lua_type(L, -1) != LUA_TNUMBER)
            ok = false; // NOLINT(bugprone-branch-clone)
        else if ((k = lua_tonumber(L, -1)) < 1 || k > (lua_Number)*n || !lc__lua_exact_int(k))
            ok = false;
    }
    return ok && count > 0 && count == *n;
}

/* A scalar's node, or an empty container for a table. NULL reason on success. */
static const char *make_node(lua_State *L, int idx, bool *array, size_t *n, cJSON **out)
{
    lc_buf_t b = LC_BUF_INIT;
    const char *s;
    size_t len;
    double d;

    *out = NULL;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        *out = cJSON_CreateNull();
        break;
    case LUA_TBOOLEAN:
        *out = cJSON_CreateBool(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        d = lua_tonumber(L, idx);
        if (d != d || d - d != 0)
            return "cannot encode NaN or infinity";
        if (lc__lua_exact_int(d)) {
            char num[32];
            snprintf(num, sizeof(num), "%.0f", d);
            *out = cJSON_CreateRaw(num);
        } else {
            *out = cJSON_CreateNumber(d);
        }
        break;
    case LUA_TSTRING:
        /* Escaped by us so that bytes after a NUL survive (cJSON strings stop at NUL). */
        s = lua_tolstring(L, idx, &len);
        if (lc_buf_append_json_str(&b, s, len) == 0)
            *out = cJSON_CreateRaw(b.data);
        lc_buf_free(&b);
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)
            return "cannot encode a userdata";
        *out = cJSON_CreateNull();
        break;
    case LUA_TTABLE:
        *array = is_array(L, idx, n);
        *out = *array ? cJSON_CreateArray() : cJSON_CreateObject();
        break;
    default:
        return lua_typename(L, lua_type(L, idx)); /* reported as "cannot encode a <type>" */
    }
    return *out != NULL ? NULL : "out of memory";
}

static const char *encode_value(lua_State *L, int idx, cJSON *parent, const char *key, int depth,
                                cJSON **root);

static const char *fill(lua_State *L, int idx, cJSON *node, bool array, size_t n, int depth)
{
    const char *why = NULL;
    char numkey[32];

    if (depth > JSON_DEPTH_MAX)
        return "nested too deeply (a cycle?)";
    luaL_checkstack(L, 4, "JSON nested too deeply");
    if (array) {
        for (size_t i = 1; i <= n && why == NULL; i++) {
            lua_rawgeti(L, idx, (int)i);
            why = encode_value(L, lua_gettop(L), node, NULL, depth, NULL);
            lua_pop(L, 1);
        }
        return why;
    }
    lua_pushnil(L);
    while (why == NULL && lua_next(L, idx) != 0) {
        const char *k;
        if (lua_type(L, -2) == LUA_TSTRING) {
            k = lua_tostring(L, -2);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
            snprintf(numkey, sizeof(numkey), "%.14g", lua_tonumber(L, -2));
            k = numkey;
        } else {
            lua_pop(L, 2);
            return "object keys must be strings or numbers";
        }
        why = encode_value(L, lua_gettop(L), node, k, depth, NULL);
        lua_pop(L, 1);
    }
    if (why != NULL)
        lua_pop(L, 1); /* the key left by the interrupted traversal */
    return why;
}

static const char *encode_value(lua_State *L, int idx, cJSON *parent, const char *key, int depth,
                                cJSON **root)
{
    cJSON *node;
    bool array = false;
    size_t n = 0;
    const char *why = make_node(L, idx, &array, &n, &node);

    if (why != NULL)
        return why;
    if (parent == NULL) {
        /* only the top-level call has no parent, and it passes root */
        // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
        *root = node;
    } else if (key != NULL ? !cJSON_AddItemToObject(parent, key, node)
                           : !cJSON_AddItemToArray(parent, node)) {
        cJSON_Delete(node);
        return "out of memory";
    }
    if (lua_type(L, idx) == LUA_TTABLE)
        return fill(L, idx, node, array, n, depth + 1);
    return NULL;
}

int lc__lua_to_json(lua_State *L, int idx)
{
    lc_lua_guard_t *g;
    const char *why;
    cJSON *root = NULL;
    char *text;

    idx = idx < 0 && idx > LUA_REGISTRYINDEX ? lua_gettop(L) + idx + 1 : idx;
    g = lc__lua_guard(L);
    g->release = release_tree;
    /* The root is held by the guard from the moment it exists: a raise while children are
     * added (memory, stack) leaves it to the guard's __gc. */
    why = encode_value(L, idx, NULL, NULL, 0, (cJSON **)&g->p);
    root = g->p;
    if (why != NULL) {
        lc__lua_guard_release(g);
        lua_pop(L, 1);
        if (strcmp(why, "out of memory") == 0 || strchr(why, ' ') != NULL)
            lua_pushstring(L, why);
        else
            lua_pushfstring(L, "cannot encode a %s", why);
        return -1;
    }
    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    g->p = text;
    g->release = lc__lua_release_mem;
    if (text == NULL)
        return luaL_error(L, "not enough memory");
    /* Lua strings are bytes: what leaves a hook as JSON must be strict JSON like any other
     * input (proto/json_check.h), or it would reach clients as invalid UTF-8. */
    if (!lc_json_check(text, strlen(text), NULL)) {
        lc__lua_guard_release(g);
        lua_pop(L, 1);
        lua_pushstring(L, "cannot encode a string that is not valid UTF-8");
        return -1;
    }
    lua_pushstring(L, text);
    lc__lua_guard_release(g);
    lua_remove(L, -2);
    return 0;
}

/* ---- decisions ---- */
