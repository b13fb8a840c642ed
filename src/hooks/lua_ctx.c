/* The ctx table a Lua hook receives (docs/lua.md lists its fields per hook): the session's
 * identity, the channel or method, the token and its verified claims, JSON values decoded into
 * Lua tables, forwarded headers, the exclusion list and, for map channels, the key. */
#include <lauxlib.h>
#include <lua.h>

#include "hooks/lua_internal.h"

static void set_str(lua_State *L, const char *key, const char *s)
{
    if (s == NULL)
        return;
    lua_pushstring(L, s);
    lua_setfield(L, -2, key);
}

static void set_json(lua_State *L, const char *key, lc_raw_t raw)
{
    if (raw.p == NULL)
        return;
    if (lc__lua_push_json(L, raw.p, raw.len) != 0)
        luaL_error(L, "ctx.%s: %s", key, lua_tostring(L, -1));
    lua_setfield(L, -2, key);
}

void lc__lua_push_ctx(lua_State *L, lc_hook_kind kind, const lc_hook_ctx_t *x)
{
    luaL_checkstack(L, 8, NULL);
    lua_createtable(L, 0, 12);
    set_str(L, "client", x->client);
    set_str(L, "user", x->user);
    set_str(L, "transport", x->transport);
    set_str(L, "channel", x->channel);
    set_str(L, "method", x->method);
    set_str(L, "token", x->token);
    /* map channels: ctx.key and ctx.removed for a map publish or remove, ctx.type for a
     * subscribe of a map type */
    set_str(L, "key", x->key);
    if (x->removed) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "removed");
    }
    if (x->sub_type > 0) {
        static const char *const types[] = {"stream", "map", "map_clients", "map_users",
                                            "shared_poll"};
        if (x->sub_type < 5)
            set_str(L, "type", types[x->sub_type]);
    }
    if (x->token && x->token[0]) {
        /* ctx.claims: the token's claims when it verifies, absent otherwise */
        lua_pushcfunction(L, lc__lua_jwt_decode);
        lua_pushstring(L, x->token);
        if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1))
            lua_setfield(L, -2, "claims");
        else
            lua_pop(L, 1);
    }
    set_json(L, "data", x->data);
    set_json(L, "info", x->info);
    set_json(L, "meta", x->meta);
    lua_createtable(L, 0, (int)x->n_headers);
    for (size_t i = 0; i < x->n_headers; i++) {
        const lc_http_header_t *h = &x->headers[i];
        if (h->name == NULL)
            continue;
        lua_getfield(L, -1, h->name);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushstring(L, h->value != NULL ? h->value : "");
        } else { /* a repeated header: joined as HTTP does */
            lua_pushliteral(L, ", ");
            lua_pushstring(L, h->value != NULL ? h->value : "");
            lua_concat(L, 3);
        }
        lua_setfield(L, -2, h->name);
    }
    lua_setfield(L, -2, "headers");
    lua_createtable(L, (int)x->n_exclude_clients, 0);
    for (size_t i = 0; i < x->n_exclude_clients; i++) {
        lua_pushstring(L, x->exclude_clients[i] != NULL ? x->exclude_clients[i] : "");
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, -2, "exclude_client");
    if (kind == LC_HOOK_DISCONNECT || kind == LC_HOOK_UNSUBSCRIBE || x->code != 0) {
        lua_pushnumber(L, x->code);
        lua_setfield(L, -2, "code");
    }
}
