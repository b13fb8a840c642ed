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
    LC_HOOK_MAX
} lc_hook_kind;

/* What a hook sees (its context table). Borrowed for the duration of lc_lua_call; the VM
 * copies what it keeps. */
typedef struct lc_hook_ctx {
    const char *client;    /* "" for broadcast */
    const char *user;
    const char *transport; /* "websocket", ... */
    const char *channel;   /* subscribe, sub_refresh, publish, broadcast, unsubscribe */
    const char *method;    /* rpc */
    lc_raw_t data;         /* raw JSON: decoded into a Lua value for the hook */
    lc_raw_t info;         /* connection info */
    lc_raw_t meta;
    const char *token;     /* connect: the raw token, if any */
    const lc_http_header_t *headers; /* forwarded request headers */
    size_t n_headers;
    const char *const *exclude_clients; /* broadcast: exclude_client given to the API */
    size_t n_exclude_clients;
    uint32_t code; /* disconnect / unsubscribe: the code */
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
 * DISCONNECT → LC_PROXY_DISCONNECT (code, message = reason). Publish / broadcast may also set
 * clients and users to leave out of the fan-out. */
typedef struct lc_decision {
    int type; /* enum lc_decision_type */
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
 * runs the script. NULL on failure, with a message naming file:line in err. */
lc_lua_t *lc_lua_new(const lc_config_t *cfg, const lc_lua_host_t *host, char *err, size_t errlen);
/* Cancel pending calls (their callbacks never run) and close the VM. */
void lc_lua_free(lc_lua_t *L);
/* Load the script again (SIGHUP): the new hooks replace the old ones only when the new script
 * loads and returns a table; otherwise the old ones stay and err says why. 0 or LC_EINVAL. */
int lc_lua_reload(lc_lua_t *L, char *err, size_t errlen);
/* Whether the script defines this hook (cheap; core skips the call otherwise). */
bool lc_lua_has_hook(const lc_lua_t *L, lc_hook_kind kind);

/* The callback gets the decision, valid during the callback only. It runs exactly once: before
 * lc_lua_call returns when the hook finishes without yielding (then lc_lua_call returns NULL),
 * or later from the loop (lc_lua_call returned a handle), unless lc_lua_cancel is called first.
 * A hook that fails, runs past its budget or memory, or returns something that is not a
 * decision gives LC_DECIDE_ERROR 100 (logged with file:line). */
typedef void (*lc_lua_cb)(void *arg, const lc_decision_t *d);
lc_lua_call_t *lc_lua_call(lc_lua_t *L, lc_hook_kind kind, const lc_hook_ctx_t *ctx, lc_lua_cb cb,
                           void *arg);
/* Abandon a pending call: its callback never runs; a proxy or HTTP request it waits for is
 * cancelled. Must not be called from inside the call's callback. */
void lc_lua_cancel(lc_lua_call_t *call);

/* Statistics for tests and the cost benchmark. */
size_t lc_lua_memory(const lc_lua_t *L);

#endif
