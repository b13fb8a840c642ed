/* A hook's return value -> lc_decision_t, and proxy answers -> Lua values, for the hook VM.
 * JSON conversion is in lua_json.c. Everything here may raise Lua errors: callers run it
 * protected. */
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

void lc__lua_decision_free(lc_decision_t *d)
{
    lc_proxy_reply_free(&d->reply);
    for (size_t i = 0; i < d->n_exclude_clients; i++)
        free(d->exclude_clients[i]);
    free(d->exclude_clients);
    for (size_t i = 0; i < d->n_exclude_users; i++)
        free(d->exclude_users[i]);
    free(d->exclude_users);
    memset(d, 0, sizeof(*d));
}

void lc__lua_decision_internal(lc_decision_t *d)
{
    lc__lua_decision_free(d);
    d->type = LC_DECIDE_ERROR;
    d->reply.type = LC_PROXY_ERROR;
    d->reply.code = LC_ERROR_INTERNAL;
    d->reply.message = strdup(lc_error_message(LC_ERROR_INTERNAL));
    d->reply.temporary = true;
}

/* A string of a decision (user, channel, message, ...): these are C strings and go to clients
 * inside JSON, so a NUL (which would cut "bob\0x" to "bob") or invalid UTF-8 is refused. */
static char *dup_or_raise(lua_State *L, const char *s, size_t n)
{
    if (memchr(s, '\0', n) != NULL)
        luaL_error(L, "a string holds a NUL byte");
    if (!lc_utf8_valid(s, n))
        luaL_error(L, "a string is not valid UTF-8");
    char *p = malloc(n + 1);

    if (p == NULL) {
        luaL_error(L, "not enough memory");
        return NULL; /* not reached: luaL_error raises (LuaJIT does not mark it noreturn) */
    }
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* Push t[k] (raw) and return its type. */
static int field(lua_State *L, int t, const char *k)
{
    lua_pushstring(L, k);
    lua_rawget(L, t);
    return lua_type(L, -1);
}

static char *str_field(lua_State *L, int t, const char *k)
{
    int type = field(L, t, k);
    size_t n;
    const char *s;
    char *out = NULL;

    if (type == LUA_TSTRING || type == LUA_TNUMBER) {
        s = lua_tolstring(L, -1, &n);
        out = dup_or_raise(L, s, n);
    } else if (type != LUA_TNIL) {
        luaL_error(L, "field '%s' must be a string", k);
    }
    lua_pop(L, 1);
    return out;
}

static void int_field(lua_State *L, int t, const char *k, int64_t *out)
{
    int type = field(L, t, k);
    lua_Number v;

    if (type == LUA_TNUMBER) {
        v = lua_tonumber(L, -1);
        if (!(v >= 0 && v < LC__LUA_EXACT_INT_MAX) || !lc__lua_exact_int(v))
            luaL_error(L, "field '%s' must be a non-negative integer", k);
        *out = (int64_t)v;
    } else if (type != LUA_TNIL) {
        luaL_error(L, "field '%s' must be a number", k);
    }
    lua_pop(L, 1);
}

static void bool_field(lua_State *L, int t, const char *k, bool *out)
{
    int type = field(L, t, k);

    if (type == LUA_TBOOLEAN)
        *out = lua_toboolean(L, -1);
    else if (type != LUA_TNIL)
        luaL_error(L, "field '%s' must be a boolean", k);
    lua_pop(L, 1);
}

/* A JSON field: the value's compact JSON text. Returns whether the field was present. */
static bool json_field(lua_State *L, int t, const char *k, char **out, size_t *len)
{
    size_t n;
    const char *s;

    if (field(L, t, k) == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    if (lc__lua_to_json(L, -1) != 0)
        luaL_error(L, "field '%s': %s", k, lua_tostring(L, -1));
    s = lua_tolstring(L, -1, &n);
    free(*out);
    *out = NULL;
    *out = dup_or_raise(L, s, n);
    if (len != NULL)
        *len = n;
    lua_pop(L, 2);
    return true;
}

/* A list of strings; a single string too when single_ok. */
static void list_field(lua_State *L, int t, const char *k, bool single_ok, char ***out, size_t *n)
{
    int type = field(L, t, k);
    int v = lua_gettop(L);
    size_t count;

    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (single_ok && (type == LUA_TSTRING || type == LUA_TNUMBER)) {
        *out = calloc(1, sizeof(**out));
        if (*out == NULL) {
            luaL_error(L, "not enough memory");
            return; /* not reached */
        }
        *n = 1;
        (*out)[0] = NULL;
        const char *s = lua_tolstring(L, v, &count);
        (*out)[0] = dup_or_raise(L, s, count);
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TTABLE)
        luaL_error(L, "field '%s' must be a list of strings", k);
    count = lua_objlen(L, v);
    *out = calloc(count > 0 ? count : 1, sizeof(**out));
    if (*out == NULL) {
        luaL_error(L, "not enough memory");
        return; /* not reached */
    }
    for (size_t i = 1; i <= count; i++) {
        size_t len;
        const char *s;
        lua_rawgeti(L, v, (int)i);
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
            luaL_error(L, "field '%s' must be a list of strings", k);
        s = lua_tolstring(L, -1, &len);
        (*out)[i - 1] = dup_or_raise(L, s, len);
        *n = i;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

/* override = {presence = true, join_leave = {value = false}, ...} */
static void override_field(lua_State *L, int t, lc_sub_override_t *o)
{
    static const char *const names[] = {"presence", "join_leave", "force_recovery",
                                        "force_positioning", "force_push_join_leave"};
    lc_jwt_opt_bool_t *slots[] = {&o->presence, &o->join_leave, &o->force_recovery,
                                  &o->force_positioning, &o->force_push_join_leave};
    int type = field(L, t, "override");
    int v = lua_gettop(L);

    if (type == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (type != LUA_TTABLE)
        luaL_error(L, "field 'override' must be a table");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        type = field(L, v, names[i]);
        if (type == LUA_TTABLE) {
            lua_getfield(L, -1, "value");
            lua_remove(L, -2);
            type = lua_type(L, -1);
        }
        if (type == LUA_TBOOLEAN) {
            slots[i]->set = true;
            slots[i]->value = lua_toboolean(L, -1);
        } else if (type != LUA_TNIL) {
            luaL_error(L, "override.%s must be a boolean or {value = boolean}", names[i]);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void subs_field(lua_State *L, int t, lc_proxy_reply_t *r)
{
    const char *json;
    size_t len = 0;
    int rc;

    if (field(L, t, "subs") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    if (lc__lua_to_json(L, -1) != 0)
        luaL_error(L, "field 'subs': %s", lua_tostring(L, -1));
    json = lua_tolstring(L, -1, &len);
    rc = lc_jwt_parse_subs(json, len, &r->subs, &r->n_subs);
    if (rc != 0)
        luaL_error(L, "field 'subs': %s",
                   rc == LC_EPARSE ? "not a map of channel options" : "not enough memory");
    lua_pop(L, 2);
}

/* The result fields of kind from the table at t. */
/* What a publish result table may set for a map write (as a map publish proxy's result). */
static void map_fields(lua_State *L, int t, lc_map_result_t *m)
{
    int64_t version = 0;
    int n = 0;

    m->key = str_field(L, t, "key");
    m->key_mode = str_field(L, t, "key_mode");
    m->idempotency_key = str_field(L, t, "idempotency_key");
    m->version_epoch = str_field(L, t, "version_epoch");
    bool_field(L, t, "delta", &m->delta);
    int_field(L, t, "version", &version);
    m->version = (uint64_t)version;
    if (field(L, t, "score") == LUA_TNUMBER) {
        lua_Number v = lua_tonumber(L, -1);
        if (!(v > -LC__LUA_EXACT_INT_MAX && v < LC__LUA_EXACT_INT_MAX) || !lc__lua_exact_int(v))
            luaL_error(L, "field 'score' must be an integer");
        m->score = (int64_t)v;
        m->has_score = true;
    } else if (lua_type(L, -1) != LUA_TNIL) {
        luaL_error(L, "field 'score' must be a number");
    }
    lua_pop(L, 1);
    /* tags: strings by string (checked before lua_next could see a converted key) */
    if (field(L, t, "tags") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                luaL_error(L, "field 'tags' must be a table of strings by string");
            n++;
            lua_pop(L, 1);
        }
    } else if (lua_type(L, -1) != LUA_TNIL) {
        luaL_error(L, "field 'tags' must be a table");
    }
    lua_pop(L, 1);
    if (n > 0)
        json_field(L, t, "tags", &m->tags, &m->tags_len);
    json_field(L, t, "stream_data", &m->stream_data, &m->stream_data_len);
    if (!lc_map_result_done(m))
        luaL_error(L, "field 'key_mode' must be \"if_new\" or \"if_exists\"");
}

static void result_fields(lua_State *L, int t, lc_hook_kind kind, lc_decision_t *d)
{
    lc_proxy_reply_t *r = &d->reply;

    switch (kind) {
    case LC_HOOK_CONNECT:
        r->user = str_field(L, t, "user");
        int_field(L, t, "expire_at", &r->expire_at);
        json_field(L, t, "info", &r->info, &r->info_len);
        json_field(L, t, "data", &r->data, &r->data_len);
        list_field(L, t, "channels", false, &r->channels, &r->n_channels);
        subs_field(L, t, r);
        json_field(L, t, "meta", &r->meta, NULL);
        break;
    case LC_HOOK_REFRESH:
    case LC_HOOK_SUB_REFRESH:
        int_field(L, t, "expire_at", &r->expire_at);
        bool_field(L, t, "expired", &r->expired);
        json_field(L, t, "info", &r->info, &r->info_len);
        if (kind == LC_HOOK_REFRESH)
            json_field(L, t, "meta", &r->meta, NULL);
        break;
    case LC_HOOK_SUBSCRIBE:
        json_field(L, t, "info", &r->info, &r->info_len);
        json_field(L, t, "data", &r->data, &r->data_len);
        override_field(L, t, &r->override);
        int_field(L, t, "expire_at", &r->expire_at);
        break;
    case LC_HOOK_PUBLISH:
    case LC_HOOK_BROADCAST:
        r->data_set = json_field(L, t, "data", &r->data, &r->data_len);
        bool_field(L, t, "skip_history", &r->skip_history);
        list_field(L, t, "exclude_client", true, &d->exclude_clients, &d->n_exclude_clients);
        list_field(L, t, "exclude_user", true, &d->exclude_users, &d->n_exclude_users);
        if (kind == LC_HOOK_PUBLISH)
            map_fields(L, t, &r->map);
        break;
    case LC_HOOK_RPC:
    case LC_HOOK_SPOLL_REFRESH:
        json_field(L, t, "data", &r->data, &r->data_len);
        break;
    default:
        break;
    }
}

/* A lucent.error value at v. */
static void error_value(lua_State *L, int v, lc_decision_t *d)
{
    int64_t code = 0;

    int_field(L, v, "code", &code);
    d->type = LC_DECIDE_ERROR;
    d->reply.type = LC_PROXY_ERROR;
    d->reply.code = (uint32_t)code;
    d->reply.message = str_field(L, v, "message");
    if (d->reply.message == NULL)
        d->reply.message = dup_or_raise(L, "", 0);
    bool_field(L, v, "temporary", &d->reply.temporary);
}

static void disconnect_value(lua_State *L, int v, lc_decision_t *d)
{
    int64_t code = 0;

    int_field(L, v, "code", &code);
    /* The value's fields are writable: checked again as lucent.disconnect checks them. */
    if (code < LC_DISCONNECT_CODE_MIN || code > LC_DISCONNECT_CODE_MAX)
        luaL_error(L, "disconnect code must be 3000..4999");
    d->type = LC_DECIDE_DISCONNECT;
    d->reply.type = LC_PROXY_DISCONNECT;
    d->reply.code = (uint32_t)code;
    d->reply.message = str_field(L, v, "reason");
    if (d->reply.message == NULL)
        d->reply.message = dup_or_raise(L, "", 0);
    if (strlen(d->reply.message) > LC_DISCONNECT_REASON_MAX)
        luaL_error(L, "disconnect reason longer than 123 bytes");
}

/* A lucent.proxy answer at v returned as it is. */
static void reply_value(lua_State *L, int v, lc_hook_kind kind, lc_decision_t *d)
{
    int top = lua_gettop(L);

    if (field(L, v, "disconnect") == LUA_TTABLE) {
        disconnect_value(L, top + 1, d);
    } else if (field(L, v, "error") == LUA_TTABLE) {
        error_value(L, top + 2, d);
    } else {
        d->type = LC_DECIDE_ALLOW;
        d->reply.type = LC_PROXY_RESULT;
        if (field(L, v, "result") == LUA_TTABLE) {
            d->reply.has_result = true;
            result_fields(L, top + 3, kind, d);
        }
    }
    lua_settop(L, top);
}

void lc__lua_decision(lua_State *L, int nres, lc_hook_kind kind, lc_decision_t *d)
{
    int v = lua_gettop(L) - nres + 1;

    memset(d, 0, sizeof(*d));
    if (kind == LC_HOOK_DISCONNECT || kind == LC_HOOK_UNSUBSCRIBE)
        return; /* notifications: what they return means nothing */
    if (nres == 0 || lua_isnil(L, v)) {
        /* `return nil, err` is Lua's way of failing */
        if (nres >= 2 && !lua_isnil(L, v + 1)) {
            if (lua_type(L, v + 1) == LUA_TSTRING)
                luaL_error(L, "hook returned nil, %s", lua_tostring(L, v + 1));
            luaL_error(L, "hook returned nil and a %s", luaL_typename(L, v + 1));
        }
        return;
    }
    switch (lua_type(L, v)) {
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, v)) {
            d->type = LC_DECIDE_ALLOW;
            d->reply.type = LC_PROXY_RESULT;
            d->reply.has_result = true;
        } else {
            d->type = LC_DECIDE_DENY;
            d->reply.type = LC_PROXY_ERROR;
            d->reply.code = LC_ERROR_PERMISSION_DENIED;
            d->reply.message = dup_or_raise(L, "permission denied", 17);
        }
        return;
    case LUA_TTABLE:
        if (lc__lua_tagged(L, v, &lc__lua_key_error_mt)) {
            error_value(L, v, d);
        } else if (lc__lua_tagged(L, v, &lc__lua_key_disc_mt)) {
            disconnect_value(L, v, d);
        } else if (lc__lua_tagged(L, v, &lc__lua_key_reply_mt)) {
            reply_value(L, v, kind, d);
        } else {
            d->type = LC_DECIDE_ALLOW;
            d->reply.type = LC_PROXY_RESULT;
            d->reply.has_result = true;
            result_fields(L, v, kind, d);
        }
        return;
    default:
        luaL_error(L, "hook returned a %s, not a decision", luaL_typename(L, v));
    }
}

/* ---- values pushed to scripts ---- */

void lc__lua_push_error(lua_State *L, uint32_t code, const char *message, bool temporary)
{
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message != NULL ? message : "");
    lua_setfield(L, -2, "message");
    lua_pushboolean(L, temporary);
    lua_setfield(L, -2, "temporary");
    lc__lua_set_mt(L, &lc__lua_key_error_mt);
}

void lc__lua_push_disconnect(lua_State *L, uint32_t code, const char *reason)
{
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, reason != NULL ? reason : "");
    lua_setfield(L, -2, "reason");
    lc__lua_set_mt(L, &lc__lua_key_disc_mt);
}

static void set_b64(lua_State *L, const char *key, const unsigned char *p, size_t n)
{
    size_t len;
    lc_lua_guard_t *g;

    if (p == NULL)
        return;
    g = lc__lua_guard(L);
    g->release = lc__lua_release_mem;
    g->p = lc_base64_encode(p, n, &len);
    if (g->p == NULL)
        luaL_error(L, "not enough memory");
    lua_pushlstring(L, g->p, len);
    lc__lua_guard_release(g);
    lua_remove(L, -2);
    lua_setfield(L, -2, key);
}

static void push_override(lua_State *L, const lc_sub_override_t *o)
{
    static const char *const names[] = {"presence", "join_leave", "force_recovery",
                                        "force_positioning", "force_push_join_leave"};
    const lc_jwt_opt_bool_t *slots[] = {&o->presence, &o->join_leave, &o->force_recovery,
                                        &o->force_positioning, &o->force_push_join_leave};
    bool any = false;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        any = any || slots[i]->set;
    if (!any)
        return;
    lua_newtable(L);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!slots[i]->set)
            continue;
        lua_createtable(L, 0, 1);
        lua_pushboolean(L, slots[i]->value);
        lua_setfield(L, -2, "value");
        lua_setfield(L, -2, names[i]);
    }
    lua_setfield(L, -2, "override");
}

static void set_json(lua_State *L, const char *key, const char *p, size_t len)
{
    if (p == NULL)
        return;
    lc__lua_push_json_or_string(L, p, len);
    lua_setfield(L, -2, key);
}

void lc__lua_push_subs(lua_State *L, const lc_conn_sub_t *subs, size_t n)
{
    luaL_checkstack(L, 6, NULL);
    lua_createtable(L, 0, (int)n);
    for (size_t i = 0; i < n; i++) {
        const lc_sub_options_t *o = &subs[i].opts;
        lua_newtable(L);
        set_json(L, "info", o->info, o->info_len);
        set_json(L, "data", o->data, o->data_len);
        set_b64(L, "b64info", o->b64info, o->b64info_len);
        set_b64(L, "b64data", o->b64data, o->b64data_len);
        push_override(L, &o->override);
        lua_setfield(L, -2, subs[i].channel);
    }
}

static void set_str(lua_State *L, const char *key, const char *value)
{
    if (value == NULL)
        return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

/* A map publish proxy's own result fields, as a hook may hand them back. */
static void push_map_result(lua_State *L, const lc_map_result_t *m)
{
    set_str(L, "key", m->key);
    set_str(L, "key_mode", m->key_mode);
    set_str(L, "idempotency_key", m->idempotency_key);
    set_str(L, "version_epoch", m->version_epoch);
    set_json(L, "tags", m->tags, m->tags_len);
    set_json(L, "stream_data", m->stream_data, m->stream_data_len);
    if (m->has_score) {
        lua_pushnumber(L, (lua_Number)m->score);
        lua_setfield(L, -2, "score");
    }
    if (m->version) {
        lua_pushnumber(L, (lua_Number)m->version);
        lua_setfield(L, -2, "version");
    }
    if (m->delta) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "delta");
    }
}

void lc__lua_push_reply(lua_State *L, const lc_proxy_reply_t *r)
{
    luaL_checkstack(L, 6, NULL);
    lua_newtable(L);
    if (r->type == LC_PROXY_ERROR) {
        lc__lua_push_error(L, r->code, r->message, r->temporary);
        lua_setfield(L, -2, "error");
    } else if (r->type == LC_PROXY_DISCONNECT) {
        lc__lua_push_disconnect(L, r->code, r->message);
        lua_setfield(L, -2, "disconnect");
    } else if (r->has_result) {
        lua_newtable(L);
        if (r->user != NULL) {
            lua_pushstring(L, r->user);
            lua_setfield(L, -2, "user");
        }
        if (r->expire_at != 0) {
            lua_pushnumber(L, (lua_Number)r->expire_at);
            lua_setfield(L, -2, "expire_at");
        }
        if (r->expired) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "expired");
        }
        set_json(L, "info", r->info, r->info_len);
        set_json(L, "data", r->data, r->data_len);
        set_json(L, "meta", r->meta, r->meta != NULL ? strlen(r->meta) : 0);
        if (r->channels != NULL) {
            lua_createtable(L, (int)r->n_channels, 0);
            for (size_t i = 0; i < r->n_channels; i++) {
                lua_pushstring(L, r->channels[i]);
                lua_rawseti(L, -2, (int)i + 1);
            }
            lua_setfield(L, -2, "channels");
        }
        if (r->n_subs > 0) {
            lc__lua_push_subs(L, r->subs, r->n_subs);
            lua_setfield(L, -2, "subs");
        }
        push_override(L, &r->override);
        if (r->skip_history) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "skip_history");
        }
        if (r->map.set)
            push_map_result(L, &r->map);
        lua_setfield(L, -2, "result");
    }
    lc__lua_set_mt(L, &lc__lua_key_reply_mt);
}
