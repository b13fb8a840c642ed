/* The `lucent` module a hook script sees:
 *
 *   lucent.error(code [, message [, temporary]])   a decision: reply error (message and
 *                                                   temporary default to the code's own)
 *   lucent.disconnect(code [, reason])             a decision: disconnect
 *   lucent.proxy(kind, ctx)                        ask the configured proxy (yields)
 *   lucent.http.request{method, url, headers, body, timeout}
 *                                                   HTTP request (yields); timeout in seconds
 *   lucent.cache.get(key) / set(key, value [, ttl]) / delete(key)
 *                                                   per-worker values, ttl in seconds
 *   lucent.publish(channel, data [, {skip_history = bool}])
 *   lucent.json.encode(v) / decode(s) / null / array([t])
 *   lucent.log(level, message)                     "debug", "info", "warn", "error"
 *   lucent.now()                                   Unix seconds, millisecond precision
 *   lucent.jwt.decode(token)                       a connection token verified with the
 *                                                   configured key: its claims
 *
 * Functions that can fail return nil and a message; wrong arguments raise. The yielding ones
 * may only be called from the hook function's own coroutine (not while the script loads, not
 * inside a coroutine the script made): the VM resumes that coroutine when the answer comes. */
#include "hooks/lua_internal.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/jwt.h"
#include "hooks/token.h"
#include "proto/codes.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

#define CACHE_SWEEP_EVERY 1024
#define STACK_ROOM 24

static double now_s(void)
{
    return (double)lc_now_ms() / 1000.0;
}

static uint32_t check_code(lua_State *L, int arg)
{
    lua_Number n = luaL_checknumber(L, arg);

    if (!(n >= 0 && n <= 4294967295.0) || n != (lua_Number)(uint32_t)n)
        luaL_argerror(L, arg, "code must be an integer 0..4294967295");
    return (uint32_t)n;
}

/* ---- decisions ---- */

static int l_error(lua_State *L)
{
    uint32_t code = check_code(L, 1);
    const char *msg = luaL_optstring(L, 2, lc_error_message(code));
    bool temporary = lua_isnoneornil(L, 3) ? lc_error_temporary(code) : lua_toboolean(L, 3);

    lc__lua_push_error(L, code, msg, temporary);
    return 1;
}

/* A close frame's code and reason (hooks/proxy.h): anything else would be cut on the wire. */
static int l_disconnect(lua_State *L)
{
    lua_Number n = luaL_checknumber(L, 1);
    uint32_t code;
    size_t len;
    const char *reason;

    if (!(n >= LC_DISCONNECT_CODE_MIN && n <= LC_DISCONNECT_CODE_MAX) || n != (lua_Number)(int)n)
        luaL_argerror(L, 1, "code must be an integer 3000..4999");
    code = (uint32_t)n;
    reason = luaL_optlstring(L, 2, lc_disconnect_reason(code), &len);
    luaL_argcheck(L, len <= LC_DISCONNECT_REASON_MAX, 2, "reason longer than 123 bytes");

    lc__lua_push_disconnect(L, code, reason);
    return 1;
}

/* ---- yielding calls ---- */

static lc_lua_call_t *check_yieldable(lua_State *L, const char *fn)
{
    lc_lua_call_t *c = lc__lua_yieldable_call(L);

    if (c == NULL)
        luaL_error(L,
                   "%s: only from a hook function itself (not while the script loads, not "
                   "inside a coroutine of the script)",
                   fn);
    return c;
}

static lc_httpc_t *host_httpc(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);

    return vm->host.httpc != NULL ? vm->host.httpc(vm->host.ctx) : NULL;
}

static int fail(lua_State *L, const char *msg)
{
    lua_pushnil(L);
    lua_pushstring(L, msg);
    return 2;
}

/* Yield until the answer's callback resumes the coroutine. The callers made room on the
 * coroutine's stack (luaL_checkstack) for the values it will be resumed with. */
static int yield_for_answer(lua_State *L)
{
    return lua_yield(L, 0);
}

/* t[k] as a string kept on the stack (numbers converted), NULL when nil. */
static const char *opt_str(lua_State *L, int t, const char *k, const char *what)
{
    int type;

    lua_getfield(L, t, k);
    type = lua_type(L, -1);
    if (type == LUA_TNIL)
        return NULL;
    if (type != LUA_TSTRING && type != LUA_TNUMBER)
        luaL_error(L, "%s.%s must be a string", what, k);
    return lua_tostring(L, -1);
}

/* A table name → value at t[k] as headers in a userdata array kept on the stack. Returns the
 * count; a Content-Type entry goes to *ctype instead when ctype is not NULL. */
static size_t headers_of(lua_State *L, int t, const char *k, const char *what,
                         lc_http_header_t **out, const char **ctype)
{
    size_t n = 0, i = 0;
    int h;

    *out = NULL;
    lua_getfield(L, t, k);
    if (lua_isnil(L, -1))
        return 0;
    if (!lua_istable(L, -1))
        luaL_error(L, "%s.%s must be a table of name = value", what, k);
    h = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, h) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s.%s: names and values must be strings", what, k);
        lua_pop(L, 1);
        n++;
    }
    *out = lua_newuserdata(L, (n > 0 ? n : 1) * sizeof(**out));
    lua_pushnil(L);
    while (lua_next(L, h) != 0) {
        /* Strings stay alive: the table holding them is on the stack. */
        const char *name = lua_tostring(L, -2), *value = lua_tostring(L, -1);
        lua_pop(L, 1);
        if (ctype != NULL && strcasecmp(name, "content-type") == 0) {
            *ctype = value;
            continue;
        }
        (*out)[i].name = name;
        (*out)[i].value = value;
        i++;
    }
    return i;
}

static const char *const proxy_kinds[] = {"connect",     "refresh", "subscribe", "publish",
                                          "sub_refresh", "rpc",     NULL};
static const lc_proxy_kind proxy_kind_of[] = {LC_PROXY_CONNECT,     LC_PROXY_REFRESH,
                                              LC_PROXY_SUBSCRIBE,   LC_PROXY_PUBLISH,
                                              LC_PROXY_SUB_REFRESH, LC_PROXY_RPC};

static const lc_proxy_conf_t *usable(const lc_proxy_conf_t *p)
{
    return p != NULL && p->endpoint != NULL && p->endpoint[0] != '\0' ? p : NULL;
}

/* The proxy core would use for this request: the namespace's (channel kinds, rpc), else the
 * section's default one. NULL when none is configured. */
static const lc_proxy_conf_t *proxy_conf(const lc_config_t *cfg, const lc_proxy_req_t *r)
{
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = NULL;
    const lc_proxy_conf_t *p = NULL;
    const lc_rpc_ns_t *ns;

    if (r->channel != NULL)
        o = lc_config_resolve_channel(cfg, r->channel, strlen(r->channel), r->user, &scratch);
    switch (r->kind) {
    case LC_PROXY_CONNECT:
        return usable(&cfg->connect_proxy);
    case LC_PROXY_REFRESH:
        return usable(&cfg->refresh_proxy);
    case LC_PROXY_SUBSCRIBE:
        p = usable(o != NULL ? o->subscribe_proxy : NULL);
        return p != NULL ? p : usable(&cfg->channel_proxy_subscribe);
    case LC_PROXY_PUBLISH:
        p = usable(o != NULL ? o->publish_proxy : NULL);
        return p != NULL ? p : usable(&cfg->channel_proxy_publish);
    case LC_PROXY_SUB_REFRESH:
        p = usable(o != NULL ? o->sub_refresh_proxy : NULL);
        return p != NULL ? p : usable(&cfg->channel_proxy_sub_refresh);
    case LC_PROXY_RPC:
        ns = r->method != NULL ? lc_config_rpc_ns(cfg, r->method) : NULL;
        p = usable(ns != NULL ? ns->proxy : NULL);
        return p != NULL ? p : usable(&cfg->rpc_proxy);
    }
    return NULL;
}

typedef struct proxy_answer {
    int err;
    const lc_proxy_reply_t *reply;
} proxy_answer_t;

static int push_proxy_answer(lua_State *L, void *ud)
{
    const proxy_answer_t *a = ud;

    if (a->err != 0) {
        lua_pushnil(L);
        lua_pushfstring(L, "proxy request failed: %s", lc_strerror(a->err));
        return 2;
    }
    lc__lua_push_reply(L, a->reply);
    return 1;
}

static void on_proxy(void *arg, int err, const lc_proxy_reply_t *reply)
{
    lc_lua_call_t *c = arg;
    proxy_answer_t a = {err, reply};
    double ms = (double)(uv_hrtime() - c->proxy_t0) / 1e6;

    c->proxy = NULL;
    if (err != 0 && reply->status == 0)
        lc_decide_trace_add(c->trace, "lua", "lucent.proxy: %s: no answer after %.1f ms (%s)",
                            c->proxy_url, ms, lc_strerror(err));
    else if (err != 0)
        lc_decide_trace_add(c->trace, "lua",
                            "lucent.proxy: %s answered HTTP %ld in %.1f ms: not usable (%s)",
                            c->proxy_url, reply->status, ms, lc_strerror(err));
    else
        lc_decide_trace_add(c->trace, "lua",
                            "lucent.proxy: %s answered HTTP %ld in %.1f ms: %s %u%s%s",
                            c->proxy_url, reply->status, ms,
                            reply->type == LC_PROXY_RESULT  ? "result"
                            : reply->type == LC_PROXY_ERROR ? "error"
                                                            : "disconnect",
                            (unsigned)reply->code, reply->message && reply->message[0] ? " " : "",
                            reply->message ? reply->message : "");
    lc__lua_resume(c, push_proxy_answer, &a);
}

/* lucent.proxy(kind, ctx): ctx is a hook's context table (client, user, transport, channel,
 * method, data, meta, headers; channels for connect). */
static int l_proxy(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    int k = luaL_checkoption(L, 1, NULL, proxy_kinds);
    lc_proxy_req_t r = {0};
    const lc_proxy_conf_t *conf;
    lc_proxy_call_t *pc;
    lc_httpc_t *hc;
    lc_lua_call_t *c;

    luaL_checktype(L, 2, LUA_TTABLE);
    c = check_yieldable(L, "lucent.proxy");
    lua_settop(L, 2);
    luaL_checkstack(L, STACK_ROOM, NULL);
    r.kind = proxy_kind_of[k];
    r.client = opt_str(L, 2, "client", "ctx");
    r.transport = opt_str(L, 2, "transport", "ctx");
    r.user = opt_str(L, 2, "user", "ctx");
    r.channel = opt_str(L, 2, "channel", "ctx");
    r.key = opt_str(L, 2, "key", "ctx");
    r.method = opt_str(L, 2, "method", "ctx");
    r.name = opt_str(L, 2, "name", "ctx");
    r.version = opt_str(L, 2, "version", "ctx");
    lua_getfield(L, 2, "data");
    if (!lua_isnil(L, -1)) {
        if (lc__lua_to_json(L, -1) != 0)
            return luaL_error(L, "lucent.proxy: ctx.data: %s", lua_tostring(L, -1));
        r.data.p = lua_tolstring(L, -1, &r.data.len);
    }
    lua_getfield(L, 2, "meta");
    if (!lua_isnil(L, -1)) {
        if (lc__lua_to_json(L, -1) != 0)
            return luaL_error(L, "lucent.proxy: ctx.meta: %s", lua_tostring(L, -1));
        r.meta.p = lua_tolstring(L, -1, &r.meta.len);
    }
    r.n_conn_headers =
        headers_of(L, 2, "headers", "ctx", (lc_http_header_t **)&r.conn_headers, NULL);
    lua_getfield(L, 2, "channels");
    if (lua_istable(L, -1)) {
        int t = lua_gettop(L);
        size_t n = lua_objlen(L, t);
        const char **list = lua_newuserdata(L, (n > 0 ? n : 1) * sizeof(*list));
        for (size_t i = 0; i < n; i++) {
            lua_rawgeti(L, t, (int)i + 1);
            if (lua_type(L, -1) != LUA_TSTRING)
                return luaL_error(L, "lucent.proxy: ctx.channels must be a list of strings");
            list[i] = lua_tostring(L, -1);
            lua_pop(L, 1); /* kept alive by the list table */
        }
        r.channels = list;
        r.n_channels = n;
    }
    conf = proxy_conf(vm->cfg, &r);
    if (conf == NULL || c->no_proxy) {
        lc_decide_trace_add(c->trace, "lua", "lucent.proxy %s: %s", proxy_kinds[k],
                            conf == NULL ? "no proxy configured" : "skipped (no-proxy)");
        lua_pushnil(L);
        lua_pushfstring(L, conf == NULL ? "no %s proxy configured" : "%s proxy skipped (no-proxy)",
                        proxy_kinds[k]);
        return 2;
    }
    lc_decide_trace_add(c->trace, "lua", "lucent.proxy %s: POST %s (timeout %lld ms)",
                        proxy_kinds[k], conf->endpoint, (long long)conf->timeout_ms);
    c->proxy_t0 = uv_hrtime();
    c->proxy_url = conf->endpoint;
    if ((hc = host_httpc(L)) == NULL)
        return fail(L, "no HTTP client");
    if (conf->protocol == LC_PROXY_LARAVEL_AUTH) {
        if (r.kind != LC_PROXY_SUBSCRIBE)
            return fail(L, "a laravel_auth proxy answers subscribe only");
        pc = lc_proxy_laravel_auth(hc, conf, &r, on_proxy, c);
    } else {
        pc = lc_proxy_call(hc, conf, &r, on_proxy, c);
    }
    if (pc == NULL)
        return fail(L, "proxy request could not start");
    c->proxy = pc;
    return yield_for_answer(L);
}

static int push_http_answer(lua_State *L, void *ud)
{
    const lc_httpc_resp_t *r = ud;

    if (r->err != 0) {
        lua_pushnil(L);
        lua_pushstring(L, r->what != NULL ? r->what : lc_strerror(r->err));
        return 2;
    }
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, (lua_Number)r->status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, r->body != NULL ? r->body : "", r->body_len);
    lua_setfield(L, -2, "body");
    return 1;
}

static void on_http(void *arg, const lc_httpc_resp_t *r)
{
    lc_lua_call_t *c = arg;

    c->http = NULL;
    lc__lua_resume(c, push_http_answer, (void *)r);
}

/* lucent.http.request{method = "GET", url = ..., headers = {name = value}, body = string or
 * table (sent as JSON), timeout = seconds}: {status = n, body = s} or nil, err. */
static int l_http_request(lua_State *L)
{
    lc_httpc_opts_t o = {0};
    lc_lua_call_t *c;
    lc_httpc_t *hc;
    lc_httpc_req_t *req;
    lc_http_header_t *hdrs;
    lua_Number timeout;

    luaL_checktype(L, 1, LUA_TTABLE);
    c = check_yieldable(L, "lucent.http.request");
    lua_settop(L, 1);
    luaL_checkstack(L, STACK_ROOM, NULL);
    o.url = opt_str(L, 1, "url", "request");
    if (o.url == NULL)
        return luaL_error(L, "lucent.http.request: url is required");
    o.method = opt_str(L, 1, "method", "request");
    if (o.method == NULL)
        o.method = "GET";
    lua_getfield(L, 1, "body");
    if (lua_istable(L, -1)) {
        if (lc__lua_to_json(L, -1) != 0)
            return luaL_error(L, "lucent.http.request: body: %s", lua_tostring(L, -1));
    } else if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
        return luaL_error(L, "lucent.http.request: body must be a string or a table");
    }
    if (!lua_isnil(L, -1))
        o.body = lua_tolstring(L, -1, &o.body_len);
    lua_getfield(L, 1, "timeout");
    timeout = lua_isnil(L, -1) ? 0 : luaL_checknumber(L, -1);
    if (timeout > 0)
        o.timeout_ms = timeout > 3600 ? 3600000 : (int64_t)(timeout * 1000.0 + 0.999);
    o.n_headers = headers_of(L, 1, "headers", "request", &hdrs, &o.content_type);
    o.headers = hdrs;
    if ((hc = host_httpc(L)) == NULL)
        return fail(L, "no HTTP client");
    req = lc_httpc_request(hc, &o, on_http, c);
    if (req == NULL)
        return fail(L, "request could not start");
    c->http = req;
    return yield_for_answer(L);
}

/* ---- cache ---- */

static void push_reg(lua_State *L, const char *key)
{
    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
}

static void check_key(lua_State *L)
{
    if (lua_type(L, 1) != LUA_TSTRING && lua_type(L, 1) != LUA_TNUMBER)
        luaL_argerror(L, 1, "cache keys are strings or numbers");
}

static void cache_drop(lua_State *L, int key, int vals, int exps)
{
    lua_pushvalue(L, key);
    lua_pushnil(L);
    lua_rawset(L, vals);
    lua_pushvalue(L, key);
    lua_pushnil(L);
    lua_rawset(L, exps);
}

static int l_cache_get(lua_State *L)
{
    check_key(L);
    lua_settop(L, 1);
    push_reg(L, &lc__lua_key_cache);     /* 2 */
    push_reg(L, &lc__lua_key_cache_exp); /* 3 */
    lua_pushvalue(L, 1);
    lua_rawget(L, 3);
    if (lua_isnumber(L, -1) && lua_tonumber(L, -1) <= now_s()) {
        cache_drop(L, 1, 2, 3);
        lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, 1);
    lua_rawget(L, 2);
    return 1;
}

/* Drop every expired entry (assigning nil to a present key is allowed while traversing). */
static void cache_sweep(lua_State *L, int vals, int exps)
{
    double now = now_s();

    lua_pushnil(L);
    while (lua_next(L, exps) != 0) {
        if (lua_tonumber(L, -1) <= now)
            cache_drop(L, lua_gettop(L) - 1, vals, exps);
        lua_pop(L, 1);
    }
}

/* set(key, value [, ttl seconds]): nil deletes; no ttl (or <= 0) keeps the value until the
 * worker stops or the key is set again. */
static int l_cache_set(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    lua_Number ttl = luaL_optnumber(L, 3, 0);

    check_key(L);
    luaL_checkany(L, 2);
    lua_settop(L, 2);
    push_reg(L, &lc__lua_key_cache);     /* 3 */
    push_reg(L, &lc__lua_key_cache_exp); /* 4 */
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_rawset(L, 3);
    lua_pushvalue(L, 1);
    if (ttl > 0 && !lua_isnil(L, 2))
        lua_pushnumber(L, now_s() + ttl);
    else
        lua_pushnil(L);
    lua_rawset(L, 4);
    if (++vm->cache_sets >= CACHE_SWEEP_EVERY) {
        vm->cache_sets = 0;
        cache_sweep(L, 3, 4);
    }
    return 0;
}

static int l_cache_delete(lua_State *L)
{
    check_key(L);
    lua_settop(L, 1);
    push_reg(L, &lc__lua_key_cache);
    push_reg(L, &lc__lua_key_cache_exp);
    cache_drop(L, 1, 2, 3);
    return 0;
}

/* ---- the rest ---- */

static int l_publish(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    const char *channel = luaL_checkstring(L, 1);
    bool skip_history = false;
    const char *json;
    size_t len;
    int rc;

    luaL_checkany(L, 2);
    if (!lua_isnoneornil(L, 3)) {
        luaL_checktype(L, 3, LUA_TTABLE);
        lua_getfield(L, 3, "skip_history");
        skip_history = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    if (lc__lua_to_json(L, 2) != 0)
        return fail(L, lua_tostring(L, -1));
    json = lua_tolstring(L, -1, &len);
    if (vm->host.publish == NULL)
        return fail(L, "publish is not available");
    rc = vm->host.publish(vm->host.ctx, channel, json, len, skip_history);
    if (rc != 0)
        return fail(L, lc_strerror(rc));
    lua_pushboolean(L, 1);
    return 1;
}

static int l_json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lc__lua_to_json(L, 1) != 0)
        return fail(L, lua_tostring(L, -1));
    return 1;
}

static int l_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);

    if (lc__lua_push_json(L, s, len) != 0)
        return fail(L, lua_tostring(L, -1));
    return 1;
}

/* lucent.json.array([t]): t (or a new table) marked to encode as a JSON array even when
 * empty. */
static int l_json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_pushlightuserdata(L, (void *)&lc__lua_key_array_mt);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, 1);
    return 1;
}

static int l_log(lua_State *L)
{
    int level = lc_log_level_parse(luaL_checkstring(L, 1));
    const char *msg = luaL_checkstring(L, 2);

    if (level < 0 || level >= LC_LOG_NONE)
        return luaL_argerror(L, 1, "level must be debug, info, warn or error");
    lc_log(level, "lua: %s", msg);
    return 0;
}

static int l_now(lua_State *L)
{
    lua_pushnumber(L, now_s());
    return 1;
}

static void release_claims(void *p)
{
    lc_conn_claims_free(p);
    free(p);
}

static void set_int(lua_State *L, const char *k, int64_t v)
{
    lua_pushnumber(L, (lua_Number)v);
    lua_setfield(L, -2, k);
}

int lc__lua_jwt_decode(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);
    size_t len;
    const char *token = luaL_checklstring(L, 1, &len);
    lc_token_keys_t tk;
    const char *reason = NULL;
    lc_lua_guard_t *g = lc__lua_guard(L);
    lc_conn_claims_t *cl;
    lc_jwt_status st;

    g->release = release_claims;
    g->p = cl = calloc(1, sizeof(*cl));
    if (cl == NULL)
        return luaL_error(L, "not enough memory");
    lc_token_keys(vm->cfg, false, vm->host.httpc != NULL ? vm->host.httpc(vm->host.ctx) : NULL,
                  &tk);
    st = lc_jwt_verify_connect(token, len, &tk.keys, lc_now_s(), cl, &reason);
    if (st != LC_JWT_OK)
        return fail(L, st == LC_JWT_EXPIRED ? "token expired"
                                            : (reason != NULL ? reason : "invalid token"));
    lua_newtable(L);
    lua_pushstring(L, cl->sub);
    lua_setfield(L, -2, "sub");
    if (cl->exp != 0)
        set_int(L, "exp", cl->exp);
    if (cl->iat != 0)
        set_int(L, "iat", cl->iat);
    if (cl->nbf != 0)
        set_int(L, "nbf", cl->nbf);
    if (cl->has_expire_at)
        set_int(L, "expire_at", cl->expire_at);
    if (cl->info != NULL) {
        lc__lua_push_json_or_string(L, cl->info, cl->info_len);
        lua_setfield(L, -2, "info");
    }
    if (cl->b64info != NULL) {
        lua_pushlstring(L, (const char *)cl->b64info, cl->b64info_len);
        lua_setfield(L, -2, "b64info");
    }
    if (cl->meta != NULL) {
        lc__lua_push_json_or_string(L, cl->meta, strlen(cl->meta));
        lua_setfield(L, -2, "meta");
    }
    if (cl->channels != NULL) {
        lua_createtable(L, (int)cl->n_channels, 0);
        for (size_t i = 0; i < cl->n_channels; i++) {
            lua_pushstring(L, cl->channels[i]);
            lua_rawseti(L, -2, (int)i + 1);
        }
        lua_setfield(L, -2, "channels");
    }
    if (cl->n_subs > 0) {
        lc__lua_push_subs(L, cl->subs, cl->n_subs);
        lua_setfield(L, -2, "subs");
    }
    lc__lua_guard_release(g);
    return 1;
}

/* print(...): one info line in the server's log. */
static int l_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;

    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        if (lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER) {
            lua_pushvalue(L, i);
            luaL_addvalue(&b);
        } else if (lua_type(L, i) == LUA_TBOOLEAN) {
            luaL_addstring(&b, lua_toboolean(L, i) ? "true" : "false");
        } else {
            luaL_addstring(&b, luaL_typename(L, i));
        }
    }
    luaL_pushresult(&b);
    lc_log_info("lua: %s", lua_tostring(L, -1));
    return 0;
}

/* collectgarbage("count") only: the VM's memory in KiB (the cap is the server's business). */
static int l_collectgarbage(lua_State *L)
{
    const char *opt = luaL_optstring(L, 1, "count");

    if (strcmp(opt, "count") != 0)
        return luaL_argerror(L, 1, "only \"count\" is allowed");
    lua_pushnumber(L, lua_gc(L, LUA_GCCOUNT, 0) + lua_gc(L, LUA_GCCOUNTB, 0) / 1024.0);
    return 1;
}

void lc__lua_set_base_overrides(lua_State *L)
{
    lua_pushcfunction(L, l_print);
    lua_setfield(L, -2, "print");
    lua_pushcfunction(L, l_collectgarbage);
    lua_setfield(L, -2, "collectgarbage");
}

static void sub_module(lua_State *L, const char *name, const luaL_Reg *fns)
{
    lua_newtable(L);
    luaL_setfuncs(L, fns, 0);
    lua_setfield(L, -2, name);
}

void lc__lua_push_api(lua_State *L)
{
    static const luaL_Reg top[] = {{"error", l_error},
                                   {"disconnect", l_disconnect},
                                   {"proxy", l_proxy},
                                   {"publish", l_publish},
                                   {"log", l_log},
                                   {"now", l_now},
                                   {"_route", lc__lua_route_matched},
                                   {"_routes", lc__lua_routes_register},
                                   {NULL, NULL}};
    static const luaL_Reg http[] = {{"request", l_http_request}, {NULL, NULL}};
    static const luaL_Reg cache[] = {
        {"get", l_cache_get}, {"set", l_cache_set}, {"delete", l_cache_delete}, {NULL, NULL}};
    static const luaL_Reg json[] = {{"encode", l_json_encode},
                                    {"decode", l_json_decode},
                                    {"array", l_json_array},
                                    {NULL, NULL}};
    static const luaL_Reg jwt[] = {{"decode", lc__lua_jwt_decode}, {NULL, NULL}};

    lua_newtable(L);
    luaL_setfuncs(L, top, 0);
    sub_module(L, "http", http);
    sub_module(L, "cache", cache);
    sub_module(L, "json", json);
    lua_getfield(L, -1, "json");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_pop(L, 1);
    sub_module(L, "jwt", jwt);
}
