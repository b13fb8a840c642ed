/* Lua hooks: decisions and transforms written in Lua, run inside the server (DESIGN.md "Lua
 * hooks"). One VM per worker; the user's script returns a table of hook functions; each call
 * runs in its own coroutine, which may yield in lucent.proxy / lucent.http.request (resumed
 * from the HTTP client's callback) so a slow backend never blocks the loop. A hook returning
 * nil has no opinion: the standard path (token, proxy, namespace options) decides.
 *
 * Sandbox: an allow-listed environment (no io, os.execute, os.exit, package.loadlib, debug,
 * ffi, bytecode loading; require only from the search path), an instruction budget per call
 * (needs the JIT off, the default) and a cap on the VM's memory. A failing hook is logged with
 * file:line and a traceback and answered with error 100; it never takes the server down.
 *
 * Not thread-safe: a VM belongs to its worker's thread. */
#ifndef LC_HOOKS_SCRIPT_H
#define LC_HOOKS_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "hooks/decide_trace.h"
#include "hooks/httpc.h"
#include "hooks/proxy.h"
#include "proto/codec.h"

typedef struct lc_lua lc_lua_t;
typedef struct lc_lua_call lc_lua_call_t;

/* The hooks a script may define (the keys of the table it returns). */
typedef enum lc_hook_kind {
    LC_HOOK_CONNECT,
    LC_HOOK_REFRESH,
    LC_HOOK_SUBSCRIBE,
    LC_HOOK_SUB_REFRESH,
    LC_HOOK_PUBLISH,   /* a client's publish */
    LC_HOOK_BROADCAST, /* every server API publish / broadcast, before history and fan-out */
    LC_HOOK_RPC,
    LC_HOOK_DISCONNECT,  /* notification: the return value is ignored */
    LC_HOOK_UNSUBSCRIBE, /* notification */
    /* shared poll (core/spoll.h): a client's track request, after its signature checked
     * (ctx.channel, ctx.data = {{key = .., version = ..}, ...}); the refresh proxy's answer
     * before it is applied (ctx.channel, ctx.data = the result object {items = {...}, epoch}),
     * which the hook may replace by returning {data = {items = {...}}} */
    LC_HOOK_TRACK,
    LC_HOOK_SPOLL_REFRESH,
    LC_HOOK_MAX
} lc_hook_kind;

/* What a hook sees (its context table). Borrowed for the duration of lc_lua_call; the VM
 * copies what it keeps. In Lua: ctx.client, user, transport, channel, method, token (absent
 * when NULL), data / info / meta (the JSON decoded), headers = {name = value} (a repeated name
 * joined with ", "), exclude_client = {ids...} and, for disconnect / unsubscribe, code. Hooks
 * are called hook(ctx); publish and broadcast hook(ctx, pub) with pub = {channel, data}
 * (pub.data is ctx.data): returning pub, changed or not, allows it with pub's fields. */
typedef struct lc_hook_ctx {
    const char *client; /* "" for broadcast */
    const char *user;
    const char *transport; /* "websocket", ... */
    const char *channel;   /* subscribe, sub_refresh, publish, broadcast, unsubscribe */
    const char *method;    /* rpc */
    const char *key;       /* map publish / remove: the key (NULL = not a map write) */
    bool removed;          /* map remove */
    int sub_type;          /* subscribe: 1 map, 2 map_clients, 3 map_users (0 = stream) */
    lc_raw_t data;         /* raw JSON: decoded into a Lua value for the hook */
    lc_raw_t info;         /* connection info */
    lc_raw_t meta;
    const char *token;               /* connect: the raw token, if any */
    const lc_http_header_t *headers; /* forwarded request headers */
    size_t n_headers;
    const char *const *exclude_clients; /* broadcast: exclude_client given to the API */
    size_t n_exclude_clients;
    uint32_t code; /* disconnect / unsubscribe: the code */
    /* the decision's trace: a lucent.rules match and the lucent.proxy calls are noted there */
    lc_decide_trace_t *trace;
    bool no_proxy; /* lucent.proxy asks nobody and answers nil, "proxy skipped (no-proxy)" */
} lc_hook_ctx_t;

typedef enum lc_decision_type {
    LC_DECIDE_NONE = 0,   /* nil: no opinion, the standard path decides */
    LC_DECIDE_ALLOW,      /* true, or a table of result fields (in `reply`) */
    LC_DECIDE_DENY,       /* false: 103 permission denied (connect: disconnect 3500?) */
    LC_DECIDE_ERROR,      /* lucent.error(code, msg), or a failing script: 100 */
    LC_DECIDE_DISCONNECT, /* lucent.disconnect(code, reason) */
} lc_decision_type;

/* A hook's decision. Result fields use the proxy reply's shape (hooks/proxy.h: user,
 * expire_at, expired, info, data + data_set, channels, subs, meta, override, skip_history),
 * so core applies Lua and proxy answers with the same code. reply.type mirrors: ALLOW →
 * LC_PROXY_RESULT with has_result, ERROR → LC_PROXY_ERROR (code, message, temporary),
 * DISCONNECT → LC_PROXY_DISCONNECT (code, message = reason), DENY → LC_PROXY_ERROR 103
 * "permission denied" (core may answer a denied connect otherwise). Publish / broadcast may
 * also set clients and users to leave out of the fan-out (added to those the request named).
 *
 * From Lua: nil → NONE; `nil, reason` → ERROR 100 (logged); true → ALLOW; false → DENY;
 * lucent.error(code [, message [, temporary]]) → ERROR, also when raised with error();
 * lucent.disconnect(code [, reason]) → DISCONNECT; what lucent.proxy returned, as it is → that
 * answer (its result, error or disconnect; a result-less answer is ALLOW without has_result);
 * any other table → ALLOW with the kind's fields read from it:
 *   connect      user (string or number), expire_at, info, data, channels (list), subs
 *                (channel → {info, data, override}), meta
 *   refresh      expire_at, expired, info, meta;   sub_refresh: expire_at, expired, info
 *   subscribe    info, data, override ({presence = true} or {presence = {value = true}}),
 *                expire_at
 *   publish,     data (re-encoded: data_set), skip_history, exclude_client and exclude_user
 *   broadcast    (a string or a list)
 *   rpc          data
 * info, data and meta are any JSON-able Lua value, encoded back to compact JSON (numbers are
 * doubles: integers past 2^53 lose precision). A field of the wrong type is ERROR 100. Hooks
 * of notifications (disconnect, unsubscribe) always give NONE unless they fail. Strings in a
 * decision are never NULL except reply.message after an allocation failure. */
typedef struct lc_decision {
    lc_decision_type type;
    lc_proxy_reply_t reply;
    char **exclude_clients;
    size_t n_exclude_clients;
    char **exclude_users;
    size_t n_exclude_users;
} lc_decision_t;

/* What a VM needs from the server above it (set by core; the calls run in the worker). */
typedef struct lc_lua_host {
    void *ctx;
    /* lucent.publish(channel, data, opts): publish as the server API would. 0 or lc_err. */
    int (*publish)(void *ctx, const char *channel, const char *data_json, size_t len,
                   bool skip_history);
    /* The worker's HTTP client (lucent.http.request, lucent.proxy). */
    lc_httpc_t *(*httpc)(void *ctx);
} lc_lua_host_t;

/* A VM for one worker with cfg's lua settings (script, path, jit, budget, memory). Loads and
 * runs the script. NULL on failure, with a message naming file:line in err. cfg and host are
 * used for the VM's whole life (cfg is read by lucent.proxy, lucent.jwt and require). The
 * script must return a table whose keys are hook names (connect, refresh, subscribe,
 * sub_refresh, publish, broadcast, rpc, disconnect, unsubscribe) and values functions;
 * another key or value is a load error. */
lc_lua_t *lc_lua_new(const lc_config_t *cfg, const lc_lua_host_t *host, char *err, size_t errlen);
/* Cancel pending calls (their callbacks never run) and close the VM. */
void lc_lua_free(lc_lua_t *L);
/* Load the script again (SIGHUP): the new hooks replace the old ones only when the new script
 * loads and returns a table; otherwise the old ones stay and err says why. 0 or LC_EINVAL.
 * The new script gets a fresh environment and module cache (modules are read again);
 * lucent.cache survives; calls in flight finish with the hooks they started with. */
int lc_lua_reload(lc_lua_t *L, char *err, size_t errlen);
/* Whether the script defines this hook (cheap; core skips the call otherwise). */
bool lc_lua_has_hook(const lc_lua_t *L, lc_hook_kind kind);
/* The lucent.rules routes of the loaded script in match order (kind "subscribe", ...,
 * pattern, handler "file:line"); none when it does not use lucent.rules. Returns the count. */
typedef void (*lc_lua_route_cb)(void *arg, const char *kind, const char *pattern,
                                const char *where);
size_t lc_lua_routes(lc_lua_t *L, lc_lua_route_cb cb, void *arg);
/* The hook function's definition as "file:line" (for the decision trace). */
bool lc_lua_hook_where(const lc_lua_t *L, lc_hook_kind kind, char *buf, size_t len);

/* The callback gets the decision, valid during the callback only. It runs exactly once: before
 * lc_lua_call returns when the hook finishes without yielding (then lc_lua_call returns NULL),
 * or later from the loop (lc_lua_call returned a handle), unless lc_lua_cancel is called first.
 * A hook that fails, runs past its budget or memory, or returns something that is not a
 * decision gives LC_DECIDE_ERROR 100 (logged with file:line). */
typedef void (*lc_lua_cb)(void *arg, const lc_decision_t *d);
lc_lua_call_t *lc_lua_call(lc_lua_t *L, lc_hook_kind kind, const lc_hook_ctx_t *ctx, lc_lua_cb cb,
                           void *arg);
/* Abandon a pending call: its callback never runs; a proxy or HTTP request it waits for is
 * cancelled. Must not be called from inside the call's callback. NULL is ignored.
 *
 * Calls may nest: a hook's lucent.publish may run core's publish path, whose broadcast hook
 * runs on the same VM (up to 8 deep; deeper calls get ERROR 100). */
void lc_lua_cancel(lc_lua_call_t *call);

/* Statistics for tests and the cost benchmark: bytes the VM holds now. */
size_t lc_lua_memory(const lc_lua_t *L);

#endif
