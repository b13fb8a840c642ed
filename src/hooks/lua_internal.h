/* Shared between the Lua hook sources only (lua_vm.c, lua_sandbox.c, lua_api.c, lua_conv.c):
 * the VM and call structures and the helpers each file offers the others. Lua headers stay in
 * those files and this header.
 *
 * Memory safety rule of these files: every Lua API call that may allocate runs inside a
 * protected call (lua_cpcall, or a Lua function called by a hook's coroutine), because an
 * allocation refused by the memory cap raises an error, and an error outside protection would
 * end the process. C memory that must outlive a possible error is held by a Lua userdata with
 * a __gc (see lc__lua_guard) or by a struct the protected call's caller frees. */
#ifndef LC_HOOKS_LUA_INTERNAL_H
#define LC_HOOKS_LUA_INTERNAL_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hooks/script.h"
#include "util/list.h"

/* Registry keys (addresses of these bytes, pushed as light userdata). */
extern const char lc__lua_key_vm;        /* → light userdata of the lc_lua_t */
extern const char lc__lua_key_error_mt;  /* metatable of lucent.error values */
extern const char lc__lua_key_disc_mt;   /* metatable of lucent.disconnect values */
extern const char lc__lua_key_reply_mt;  /* metatable of lucent.proxy answers */
extern const char lc__lua_key_array_mt;  /* marks a table as a JSON array (empty ones) */
extern const char lc__lua_key_guard_mt;  /* metatable of C-memory guards (__gc) */
extern const char lc__lua_key_cache;     /* lucent.cache values: key → value */
extern const char lc__lua_key_cache_exp; /* lucent.cache expiries: key → Unix seconds */

struct lc_lua {
    lua_State *L;
    const lc_config_t *cfg;
    lc_lua_host_t host;
    /* memory: counted by our allocator (counting true), or read from the GC's own count when
     * this LuaJIT refused a custom allocator (counting false) */
    bool counting;
    size_t mem_used;
    size_t mem_limit; /* 0 = no cap */
    int protect;      /* > 0 while Lua runs protected: only then is the cap enforced */
    int uncapped;     /* > 0 while an error is being reported (its traceback needs memory) */
    /* instruction budget */
    bool budget_on;
    int64_t budget;
    int64_t load_insns; /* counter while the script itself runs (no call) */
    /* running-time bound per call (lua.time_limit), 0 = none; checked with the budget */
    int64_t time_limit_ns;
    int64_t load_start_ns; /* when the script's load began */
    /* C-level nesting: coroutine.resume / wrap and callbacks from gsub / sort / format each
     * hold a C frame while Lua runs inside them (LuaJIT does not bound these; unbounded they
     * overflow the thread's stack). Counted by lua_strlib.c, reset when a top-level run
     * starts. */
    int cdepth;
    lc_lua_call_t *running; /* the call whose coroutine runs now (nested runs stack) */
    int depth;              /* nested runs (a hook's lucent.publish calling a broadcast hook) */
    /* hooks of the current script: registry refs, LUA_NOREF when not defined */
    int hooks[LC_HOOK_MAX];
    unsigned cache_sets; /* lucent.cache.set calls since the last sweep of expired entries */
    lc_list_t calls;     /* pending (yielded) calls */
};

struct lc_lua_call {
    lc_list_t node; /* in vm->calls while pending */
    lc_lua_t *vm;
    lua_State *co;
    int co_ref; /* registry ref keeping the coroutine alive */
    lc_hook_kind kind;
    char who[256]; /* " client <id> user \"u\" channel \"c\"" for log lines */
    lc_lua_cb cb;
    void *arg;
    int64_t insns;
    int64_t used_ns;      /* running time of earlier segments (before yields) */
    int64_t seg_start_ns; /* when the current segment started */
    bool active;          /* its coroutine runs now */
    bool cancelled;       /* lc_lua_cancel while active: dropped once the run returns */
    /* what the yielded coroutine waits for (at most one) */
    lc_proxy_call_t *proxy;
    lc_httpc_req_t *http;
    lc_decide_trace_t *trace; /* the decision's trace, NULL when untraced */
    bool no_proxy;            /* lucent.proxy answers nil, "proxy skipped" (explain) */
    uint64_t proxy_t0;        /* uv_hrtime() when lucent.proxy asked, for the trace */
    const char *proxy_url;    /* the endpoint it asked (in the config) */
};

/* lua_routes.c: lucent._route / lucent._routes (rules.lua), and keeping the list of a load
 * that succeeded (ok) or dropping that of one that failed. */
int lc__lua_route_matched(lua_State *L);
int lc__lua_routes_register(lua_State *L);
void lc__lua_routes_commit(lua_State *L, bool ok);

/* lua_vm.c */
lc_lua_t *lc__lua_vm(lua_State *L);
const char *lc__lua_hook_name(lc_hook_kind kind);
/* Called from the HTTP / proxy callbacks: resume call's coroutine with the values push(L, ud)
 * pushes (it returns their count, at most 2; it runs protected, on the main state). A push
 * that fails ends the call with error 100. */
void lc__lua_resume(lc_lua_call_t *call, int (*push)(lua_State *L, void *ud), void *ud);
/* The call whose hook coroutine is L itself, or NULL (while the script loads, or inside a
 * coroutine the hook created): lucent.proxy and lucent.http.request yield only from there. */
lc_lua_call_t *lc__lua_yieldable_call(lua_State *L);

/* Charge n units of work done in C (pattern matching steps, bytes copied) to the running
 * call's budget; raises "instruction budget exceeded" or "time limit exceeded" when the call
 * is over either bound (from then on the count hook raises at every instruction, so pcall
 * cannot swallow it). No-op on a state without a VM (tests). */
void lc__lua_charge(lua_State *L, int64_t n);

/* lua_strlib.c */
/* Replace, in the state's own string / table / coroutine tables (the sandbox copies them, and
 * string methods reach them through the string metatable), the functions that can run long in
 * C or nest C frames: string.find, match, gmatch, gsub, rep and format, table.sort,
 * coroutine.resume and wrap. Pattern matching is charged to the budget step by step. */
void lc__lua_bound_libs(lua_State *L);
#define LC__LUA_CDEPTH_MAX 100

/* lua_sandbox.c */
/* Open the libraries the sandbox takes from, hardened (once per VM). */
void lc__lua_open_libs(lua_State *L);
/* Push a fresh sandbox environment (with its own require and module cache). */
void lc__lua_push_env(lua_State *L);
/* Read a whole file into a malloc'd buffer (at most 16 MiB). 0, LC_ENOENT, LC_EIO,
 * LC_ETOOBIG or LC_ENOMEM; err says why. */
/* The folders of the shipped Lua library, in search order (lua_libdir.c). */
const char *const *lc__lua_lib_dirs(size_t *n);
int lc__lua_read_source(const char *path, char **out, size_t *len, char *err, size_t errlen);
/* Load Lua text (never bytecode) as a function whose environment is the table at env. Raises
 * on syntax errors ("file:line: ..."). */
void lc__lua_load_text(lua_State *L, const char *text, size_t len, const char *chunkname, int env);

/* lua_api.c */
/* Push a fresh `lucent` module table. */
void lc__lua_push_api(lua_State *L);
/* Set the sandbox's `print` (to the log) and `collectgarbage` ("count" only) into the
 * environment table at the top of the stack. */
void lc__lua_set_base_overrides(lua_State *L);

/* lua_conv.c */
/* A userdata holding C memory: release(p) runs from its __gc, or at once through
 * lc__lua_guard_release, so memory allocated between Lua calls that may raise is never lost. */
typedef struct lc_lua_guard {
    void *p;
    void (*release)(void *p);
} lc_lua_guard_t;
/* Push an empty guard. */
lc_lua_guard_t *lc__lua_guard(lua_State *L);
/* Release what the guard holds now (the guard stays, empty). */
void lc__lua_guard_release(lc_lua_guard_t *g);
/* Create the metatables of lua_internal.h's keys (guard, array); once per VM. */
void lc__lua_conv_init(lua_State *L);
/* Push the Lua value of the JSON text (null at the top level → nil; nested null →
 * lucent.json.null, a light userdata NULL; arrays carry the array metatable). Returns 0, or -1
 * with an error message pushed instead when the text is not one JSON value. Raises on memory
 * errors. */
int lc__lua_push_json(lua_State *L, const char *json, size_t len);
/* Push the compact JSON text of the value at idx. Returns 0, or -1 with an error message
 * pushed instead (a value JSON cannot hold: function, cycle, key of a wrong type). */
int lc__lua_to_json(lua_State *L, int idx);
/* Convert what a hook returned (nres values on top of the stack) into d for kind. Raises a Lua
 * error naming what is wrong (a field of the wrong type, a value that is no decision); d may
 * then hold part of the fields (free with lc__lua_decision_free). */
void lc__lua_decision(lua_State *L, int nres, lc_hook_kind kind, lc_decision_t *d);
void lc__lua_decision_free(lc_decision_t *d);
/* Error 100 as a decision (a failing hook). */
void lc__lua_decision_internal(lc_decision_t *d);
/* Push a proxy answer as the value lucent.proxy returns: a table tagged with the reply
 * metatable, holding `result` (the result fields), `error` (a lucent.error value) or
 * `disconnect` (a lucent.disconnect value). */
void lc__lua_push_reply(lua_State *L, const lc_proxy_reply_t *r);
/* Push a lucent.error / lucent.disconnect value. */
void lc__lua_push_error(lua_State *L, uint32_t code, const char *message, bool temporary);
void lc__lua_push_disconnect(lua_State *L, uint32_t code, const char *reason);
/* Push a connect `subs` list as a table channel → {info, data, b64info, b64data, override}
 * (override in the JSON shape {presence = {value = true}, ...}). */
void lc__lua_push_subs(lua_State *L, const lc_conn_sub_t *subs, size_t n);
/* Push raw JSON text as its Lua value, or as a string when it is not JSON (decoded base64
 * bytes). */
void lc__lua_push_json_or_string(lua_State *L, const char *p, size_t len);
/* Whether the value at idx has the metatable stored at key. */
bool lc__lua_tagged(lua_State *L, int idx, const char *key);

/* shared by lua_json.c and lua_conv.c */
#define LC__LUA_EXACT_INT_MAX 9007199254740992.0 /* 2^53: doubles hold integers below it */
bool lc__lua_exact_int(double d);
void lc__lua_release_mem(void *p); /* guard release for a malloc'd block */
void lc__lua_set_mt(lua_State *L, const char *key);

/* lucent.jwt.decode(token): the claims of a connection token verified with the configured
 * key, or nil and the reason. Also fills ctx.claims for a connect with a token. */
int lc__lua_jwt_decode(lua_State *L);
/* Push the ctx table of a hook call of kind (lua_ctx.c); raises a Lua error when a JSON value
 * of x cannot be decoded. */
void lc__lua_push_ctx(lua_State *L, lc_hook_kind kind, const lc_hook_ctx_t *x);

#endif
