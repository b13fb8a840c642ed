/* The Lua hook VM (script.h): the state, its sandbox, loading and reloading the script, and
 * running hook calls as coroutines under an instruction budget and a memory cap.
 *
 * Memory: the state is made with lua_newstate and a counting allocator that refuses to grow
 * past lua.memory_limit while Lua runs protected; the refusal is Lua's "not enough memory"
 * error in the running call, which ends it with error 100, and a full collection follows.
 * Outside protected runs (releasing references, closing) the cap is not enforced, so those
 * never fail. A LuaJIT built without GC64 refuses custom allocators on x86_64: the state then
 * comes from luaL_newstate and the cap is checked against the collector's own count, in the
 * count hook and after every run (coarser: an allocation may overshoot until the next check).
 *
 * Budget: a count hook every HOOK_EVERY instructions adds to the running call's count and
 * raises "instruction budget exceeded" past lua.instruction_budget, or "time limit exceeded"
 * once the call has run (yields to a backend not counted) longer than lua.time_limit. Work
 * done inside C functions is charged by the bounded string functions (lua_strlib.c), which
 * raise the same errors. LuaJIT does not run count
 * hooks inside compiled traces, so the JIT is off unless lua.jit asks for it, and then there
 * is no budget (logged once).
 *
 * The sandbox (environment, require, text-only load) is in lua_sandbox.c, the ctx table a
 * hook receives in lua_ctx.c. */
#include "hooks/script.h"

#include <lauxlib.h>
#include <lua.h>
#include <luajit.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hooks/lua_internal.h"
#include "util/err.h"
#include "util/log.h"

#define HOOK_EVERY 1000
#define NESTED_MAX 8

const char lc__lua_key_vm = 0;
const char lc__lua_key_error_mt = 0;
const char lc__lua_key_disc_mt = 0;
const char lc__lua_key_reply_mt = 0;
const char lc__lua_key_array_mt = 0;
const char lc__lua_key_guard_mt = 0;
const char lc__lua_key_cache = 0;
const char lc__lua_key_cache_exp = 0;

static const char *const hook_names[LC_HOOK_MAX] = {
    "connect",    "refresh",     "subscribe", "sub_refresh",        "publish", "broadcast", "rpc",
    "disconnect", "unsubscribe", "track",     "shared_poll_refresh"};

const char *lc__lua_hook_name(lc_hook_kind kind)
{
    return (unsigned)kind < LC_HOOK_MAX ? hook_names[kind] : "unknown";
}

lc_lua_t *lc__lua_vm(lua_State *L)
{
    lc_lua_t *vm;

    lua_pushlightuserdata(L, (void *)&lc__lua_key_vm);
    lua_rawget(L, LUA_REGISTRYINDEX);
    vm = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return vm;
}

lc_lua_call_t *lc__lua_yieldable_call(lua_State *L)
{
    lc_lua_t *vm = lc__lua_vm(L);

    return vm->running != NULL && vm->running->co == L ? vm->running : NULL;
}

/* ---- memory ---- */

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    lc_lua_t *vm = ud;
    size_t old = ptr != NULL ? osize : 0;
    void *p;

    if (nsize == 0) {
        free(ptr);
        vm->mem_used -= old;
        return NULL;
    }
    if (nsize > old && vm->mem_limit > 0 && vm->protect > 0 && vm->uncapped == 0 &&
        vm->mem_used - old + nsize > vm->mem_limit)
        return NULL;
    p = realloc(ptr, nsize);
    if (p != NULL)
        vm->mem_used = vm->mem_used - old + nsize;
    return p;
}

static size_t gc_bytes(lua_State *L)
{
    return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

size_t lc_lua_memory(const lc_lua_t *vm)
{
    return vm->counting ? vm->mem_used : gc_bytes(vm->L);
}

static bool over_memory(lc_lua_t *vm)
{
    return vm->mem_limit > 0 && lc_lua_memory(vm) > vm->mem_limit;
}

static int vm_panic(lua_State *L)
{
    lc_log_error("lua: unprotected error: %s",
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
    abort();
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Which bound the running call (or the script's load) is past, or NULL. */
static const char *over_bound(lc_lua_t *vm, int64_t add)
{
    int64_t *n = vm->running != NULL ? &vm->running->insns : &vm->load_insns;

    *n += add;
    if (vm->budget_on && *n > vm->budget)
        return "instruction budget exceeded";
    if (vm->time_limit_ns > 0) {
        int64_t now = now_ns();
        int64_t used = vm->running != NULL
                           ? vm->running->used_ns + (now - vm->running->seg_start_ns)
                           : now - vm->load_start_ns;
        if (used > vm->time_limit_ns)
            return "time limit exceeded";
    }
    return NULL;
}

/* Raise what over_bound found, with the position of the Lua code running at level. From now
 * on the hook fires on every instruction: a script catching the error with pcall gets it
 * again at its next instruction, until nothing is left to catch it. */
static void raise_bound(lua_State *L, int level, const char *what)
{
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    luaL_where(L, level);
    lua_pushstring(L, what);
    lua_concat(L, 2);
    lua_error(L);
}

static void count_hook(lua_State *L, lua_Debug *ar)
{
    lc_lua_t *vm = lc__lua_vm(L);
    const char *what;

    (void)ar;
    if ((what = over_bound(vm, HOOK_EVERY)) != NULL)
        raise_bound(L, 0, what); /* level 0 in a hook: the function being run */
    if (!vm->counting && vm->uncapped == 0 && over_memory(vm))
        luaL_error(L, "not enough memory");
}

void lc__lua_charge(lua_State *L, int64_t n)
{
    lc_lua_t *vm = lc__lua_vm(L);
    const char *what;

    if (vm != NULL && vm->uncapped == 0 && (what = over_bound(vm, n)) != NULL)
        raise_bound(L, 1, what); /* level 1 from a C function: its Lua caller */
}

static void arm_hook(lc_lua_t *vm)
{
    /* Re-arming restarts the count, so a run is charged from its own first instruction. */
    if (vm->budget_on || (vm->time_limit_ns > 0 && !vm->cfg->lua_jit) ||
        (!vm->counting && vm->mem_limit > 0))
        lua_sethook(vm->L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

/* lua_cpcall with the cap in force. */
static int vm_pcall(lc_lua_t *vm, lua_CFunction f, void *ud)
{
    int rc;

    vm->protect++;
    rc = lua_cpcall(vm->L, f, ud);
    vm->protect--;
    return rc;
}

static const char *errmsg(lua_State *L)
{
    return lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object is not a string)";
}

/* ---- state ---- */

static void reg_table(lua_State *L, const char *key, bool locked)
{
    lua_pushlightuserdata(L, (void *)key);
    lua_newtable(L);
    if (locked) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_rawset(L, LUA_REGISTRYINDEX);
}

static int vm_setup(lua_State *L)
{
    lc_lua_t *vm = lua_touserdata(L, 1);

    lua_pushlightuserdata(L, (void *)&lc__lua_key_vm);
    lua_pushlightuserdata(L, vm);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lc__lua_open_libs(L);
    reg_table(L, &lc__lua_key_error_mt, true);
    reg_table(L, &lc__lua_key_disc_mt, true);
    reg_table(L, &lc__lua_key_reply_mt, true);
    reg_table(L, &lc__lua_key_cache, false);
    reg_table(L, &lc__lua_key_cache_exp, false);
    lc__lua_conv_init(L);
    return 0;
}

/* ---- loading ---- */

typedef struct load_ud {
    lc_lua_t *vm;
    const char *path;
    const char *text;
    size_t len;
    int refs[LC_HOOK_MAX];
} load_ud_t;

static int load_fn(lua_State *L)
{
    load_ud_t *ld = lua_touserdata(L, 1);

    lua_settop(L, 0);
    lc__lua_push_env(L); /* 1 */
    lua_pushfstring(L, "@%s", ld->path);
    lc__lua_load_text(L, ld->text, ld->len, lua_tostring(L, 2), 1);
    lua_call(L, 0, 1);
    if (!lua_istable(L, -1)) {
        lua_pushfstring(L, "%s: script must return a table of hooks", ld->path);
        return lua_error(L);
    }
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        int k = LC_HOOK_MAX;
        if (lua_type(L, -2) == LUA_TSTRING)
            for (k = 0; k < LC_HOOK_MAX; k++)
                if (strcmp(lua_tostring(L, -2), hook_names[k]) == 0)
                    break;
        if (k == LC_HOOK_MAX) {
            lua_pushfstring(L, "%s: unknown hook '%s' in the returned table", ld->path,
                            lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
            return lua_error(L);
        }
        if (!lua_isfunction(L, -1)) {
            lua_pushfstring(L, "%s: hook '%s' must be a function", ld->path, hook_names[k]);
            return lua_error(L);
        }
        ld->refs[k] = luaL_ref(L, LUA_REGISTRYINDEX); /* pops the function */
    }
    return 0;
}

/* Load the script and swap its hooks in; the old ones stay on failure. */
static int load_script(lc_lua_t *vm, char *err, size_t errlen)
{
    load_ud_t ld = {.vm = vm, .path = vm->cfg->lua_script};
    char *text = NULL;
    lc_lua_call_t *running = vm->running;
    int rc;

    for (int k = 0; k < LC_HOOK_MAX; k++)
        ld.refs[k] = LUA_NOREF;
    if (ld.path == NULL || ld.path[0] == '\0') {
        snprintf(err, errlen, "lua: no script configured");
        return LC_EINVAL;
    }
    if ((rc = lc__lua_read_source(ld.path, &text, &ld.len, err, errlen)) != 0)
        return rc == LC_ENOMEM ? rc : LC_EINVAL;
    ld.text = text;
    vm->running = NULL;
    vm->load_insns = 0;
    vm->load_start_ns = now_ns();
    if (running == NULL)
        vm->cdepth = 0;
    arm_hook(vm);
    rc = vm_pcall(vm, load_fn, &ld);
    vm->running = running;
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "%s", errmsg(vm->L));
        lua_pop(vm->L, 1);
        lc__lua_routes_commit(vm->L, false);
        for (int k = 0; k < LC_HOOK_MAX; k++)
            luaL_unref(vm->L, LUA_REGISTRYINDEX, ld.refs[k]);
        lua_gc(vm->L, LUA_GCCOLLECT, 0);
        return LC_EINVAL;
    }
    for (int k = 0; k < LC_HOOK_MAX; k++) {
        luaL_unref(vm->L, LUA_REGISTRYINDEX, vm->hooks[k]);
        vm->hooks[k] = ld.refs[k];
    }
    lc__lua_routes_commit(vm->L, true);
    return 0;
}

static atomic_bool jit_logged;

lc_lua_t *lc_lua_new(const lc_config_t *cfg, const lc_lua_host_t *host, char *err, size_t errlen)
{
    lc_lua_t *vm = calloc(1, sizeof(*vm));

    if (vm == NULL) {
        snprintf(err, errlen, "lua: out of memory");
        return NULL;
    }
    vm->cfg = cfg;
    if (host != NULL)
        vm->host = *host;
    lc_list_init(&vm->calls);
    for (int k = 0; k < LC_HOOK_MAX; k++)
        vm->hooks[k] = LUA_NOREF;
    vm->mem_limit = cfg->lua_memory_limit > 0 ? (size_t)cfg->lua_memory_limit : 0;
    vm->budget = cfg->lua_instruction_budget;
    vm->budget_on = !cfg->lua_jit && vm->budget > 0;
    vm->time_limit_ns = cfg->lua_time_limit_ms > 0 ? cfg->lua_time_limit_ms * 1000000 : 0;
    vm->counting = true;
    vm->L = lua_newstate(vm_alloc, vm);
    if (vm->L == NULL) {
        vm->counting = false;
        vm->L = luaL_newstate();
        if (vm->L != NULL)
            lc_log_debug("lua: custom allocator refused by this LuaJIT; the memory cap is "
                         "checked against the collector's count");
    }
    if (vm->L == NULL) {
        snprintf(err, errlen, "lua: cannot create a state");
        free(vm);
        return NULL;
    }
    lua_atpanic(vm->L, vm_panic);
    if (vm_pcall(vm, vm_setup, vm) != 0) {
        snprintf(err, errlen, "lua: %s", errmsg(vm->L));
        goto fail;
    }
    if (cfg->lua_jit) {
        luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_ON);
        if (!atomic_exchange(&jit_logged, true))
            lc_log_warn("lua: JIT on (lua.jit): hook calls run without an instruction budget "
                        "or time limit (both are checked inside the string functions only)");
    } else {
        luaJIT_setmode(vm->L, 0, LUAJIT_MODE_ENGINE | LUAJIT_MODE_OFF);
    }
    if (load_script(vm, err, errlen) != 0)
        goto fail;
    return vm;
fail:
    lua_close(vm->L);
    free(vm);
    return NULL;
}

int lc_lua_reload(lc_lua_t *vm, char *err, size_t errlen)
{
    return load_script(vm, err, errlen) == 0 ? 0 : LC_EINVAL;
}

bool lc_lua_has_hook(const lc_lua_t *vm, lc_hook_kind kind)
{
    return (unsigned)kind < LC_HOOK_MAX && vm->hooks[kind] != LUA_NOREF;
}

/* The hook function's file:line (lua_getinfo on the function, no call). */
bool lc_lua_hook_where(const lc_lua_t *vm, lc_hook_kind kind, char *buf, size_t len)
{
    if (!lc_lua_has_hook(vm, kind) || len == 0)
        return false;
    lua_State *L = vm->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, vm->hooks[kind]);
    lua_Debug ar;
    memset(&ar, 0, sizeof(ar));
    bool ok = lua_getinfo(L, ">S", &ar) != 0;
    if (ok)
        snprintf(buf, len, "%s:%d", ar.short_src, ar.linedefined);
    else
        lua_pop(L, 1);
    return ok;
}

/* ---- calls ---- */

typedef struct start_ud {
    lc_lua_call_t *c;
    const lc_hook_ctx_t *ctx;
    int nargs;
} start_ud_t;

/* Make the call's coroutine with the hook and its arguments on its stack. */
static int start_fn(lua_State *L)
{
    start_ud_t *s = lua_touserdata(L, 1);
    lc_lua_call_t *c = s->c;

    lua_settop(L, 0);
    c->co = lua_newthread(L);
    c->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->vm->hooks[c->kind]);
    lc__lua_push_ctx(L, c->kind, s->ctx);
    s->nargs = 1;
    if (c->kind == LC_HOOK_PUBLISH || c->kind == LC_HOOK_BROADCAST) {
        lua_createtable(L, 0, 2);
        if (s->ctx->channel != NULL) {
            lua_pushstring(L, s->ctx->channel);
            lua_setfield(L, -2, "channel");
        }
        lua_getfield(L, -2, "data"); /* the same value as ctx.data */
        lua_setfield(L, -2, "data");
        s->nargs = 2;
    }
    lua_xmove(L, c->co, 1 + s->nargs);
    return 0;
}

static void drop(lc_lua_call_t *c)
{
    lc_list_remove(&c->node);
    luaL_unref(c->vm->L, LUA_REGISTRYINDEX, c->co_ref);
    free(c);
}

static void cancel_wait(lc_lua_call_t *c)
{
    if (c->proxy != NULL)
        lc_proxy_cancel(c->proxy);
    if (c->http != NULL)
        lc_httpc_cancel(c->http);
    c->proxy = NULL;
    c->http = NULL;
}

/* Release the call, collect if memory ran out, then run the callback: the VM is consistent
 * again before it runs (it may start calls, or free the VM). */
static void deliver(lc_lua_call_t *c, lc_decision_t *d, bool collect)
{
    lc_lua_t *vm = c->vm;
    lc_lua_cb cb = c->cb;
    void *arg = c->arg;

    drop(c);
    if (collect || over_memory(vm))
        lua_gc(vm->L, LUA_GCCOLLECT, 0);
    cb(arg, d);
    lc__lua_decision_free(d);
}

typedef struct finish_ud {
    lc_lua_call_t *c;
    lc_decision_t *d;
    int n;
} finish_ud_t;

/* The hook returned: its results → a decision. */
static int decide_fn(lua_State *L)
{
    finish_ud_t *f = lua_touserdata(L, 1);

    lua_settop(L, 0);
    luaL_checkstack(L, f->n + 8, NULL);
    lua_xmove(f->c->co, L, f->n);
    lc__lua_decision(L, f->n, f->c->kind, f->d);
    return 0;
}

/* The hook failed: an error raised with a lucent.error / lucent.disconnect value is that
 * decision; anything else is logged with a traceback (then d stays NONE). */
static int failure_fn(lua_State *L)
{
    finish_ud_t *f = lua_touserdata(L, 1);
    const char *msg;

    lua_settop(L, 0);
    lua_xmove(f->c->co, L, 1);
    if (lc__lua_tagged(L, 1, &lc__lua_key_error_mt) || lc__lua_tagged(L, 1, &lc__lua_key_disc_mt)) {
        lc__lua_decision(L, 1, f->c->kind, f->d);
        return 0;
    }
    if (lua_type(L, 1) == LUA_TSTRING)
        msg = lua_tostring(L, 1);
    else
        msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, f->c->co, msg, 0);
    msg = luaL_gsub(L, luaL_gsub(L, lua_tostring(L, -1), "\n\t", " | "), "\n", " ");
    lc_log_error("lua %s hook%s: %s", lc__lua_hook_name(f->c->kind), f->c->who, msg);
    f->n = -1; /* logged: error 100 */
    return 0;
}

/* End a call whose coroutine returned (st 0) or failed, and run its callback. */
static void finish(lc_lua_call_t *c, int st)
{
    lc_lua_t *vm = c->vm;
    lc_decision_t d;
    finish_ud_t f = {c, &d, 0};
    int rc;

    memset(&d, 0, sizeof(d));
    if (st == 0) {
        f.n = lua_gettop(c->co) > 2 ? 2 : lua_gettop(c->co);
        lua_settop(c->co, f.n);
        if (vm_pcall(vm, decide_fn, &f) != 0) {
            lc_log_error("lua %s hook%s: %s", lc__lua_hook_name(c->kind), c->who, errmsg(vm->L));
            lua_pop(vm->L, 1);
            lc__lua_decision_internal(&d);
        }
    } else {
        /* The report may need memory the failed hook used up: the cap waits meanwhile. */
        vm->uncapped++;
        rc = vm_pcall(vm, failure_fn, &f);
        vm->uncapped--;
        if (rc != 0) {
            lc_log_error("lua %s hook%s failed (%s while reporting it)", lc__lua_hook_name(c->kind),
                         c->who, errmsg(vm->L));
            lua_pop(vm->L, 1);
        }
        if (rc != 0 || f.n < 0)
            lc__lua_decision_internal(&d);
    }
    deliver(c, &d, st == LUA_ERRMEM);
}

/* Run c's coroutine with nargs values pushed. true when the call is over (callback run, or
 * cancelled meanwhile); c is then freed. */
static bool run(lc_lua_call_t *c, int nargs)
{
    lc_lua_t *vm = c->vm;
    lc_lua_call_t *prev = vm->running;
    int st;

    vm->running = c;
    if (vm->depth == 0)
        vm->cdepth = 0; /* what an error unwound past is no longer nested */
    vm->depth++;
    c->active = true;
    c->seg_start_ns = now_ns();
    arm_hook(vm);
    vm->protect++;
    st = lua_resume(c->co, nargs);
    vm->protect--;
    c->used_ns += now_ns() - c->seg_start_ns;
    c->active = false;
    vm->depth--;
    vm->running = prev;
    if (prev != NULL)
        arm_hook(vm); /* back in the outer hook: its period, not what this run left */
    if (c->cancelled) {
        cancel_wait(c);
        drop(c);
        return true;
    }
    if (st == LUA_YIELD) {
        if (c->proxy != NULL || c->http != NULL)
            return false;
        lc_log_error("lua %s hook%s: yielded outside lucent.proxy / lucent.http.request",
                     lc__lua_hook_name(c->kind), c->who);
        lc_decision_t d;
        memset(&d, 0, sizeof(d));
        lc__lua_decision_internal(&d);
        deliver(c, &d, false);
        return true;
    }
    finish(c, st);
    return true;
}

static void fail_call(lc_lua_call_t *c, const char *what)
{
    lc_decision_t d;

    memset(&d, 0, sizeof(d));
    lc_log_error("lua %s hook%s: %s", lc__lua_hook_name(c->kind), c->who, what);
    lc__lua_decision_internal(&d);
    deliver(c, &d, true);
}

/* Who a call is for, for its log lines (no token or data: those may be secret). */
static void describe(lc_lua_call_t *c, const lc_hook_ctx_t *x)
{
    size_t n = 0;

#define WHO(...)                                                                                   \
    do {                                                                                           \
        int w = snprintf(c->who + n, sizeof(c->who) - n, __VA_ARGS__);                             \
        if (w > 0)                                                                                 \
            n = n + (size_t)w < sizeof(c->who) ? n + (size_t)w : sizeof(c->who) - 1;               \
    } while (0)
    if (x->client != NULL && x->client[0] != '\0')
        WHO(" client %s", x->client);
    if (x->user != NULL && (x->client != NULL && x->client[0] != '\0'))
        WHO(" user \"%.64s\"", x->user);
    if (x->channel != NULL)
        WHO(" channel \"%.80s\"", x->channel);
    if (x->method != NULL)
        WHO(" method \"%.64s\"", x->method);
#undef WHO
}

lc_lua_call_t *lc_lua_call(lc_lua_t *vm, lc_hook_kind kind, const lc_hook_ctx_t *ctx, lc_lua_cb cb,
                           void *arg)
{
    lc_lua_call_t *c;
    start_ud_t s;
    lc_decision_t d;

    memset(&d, 0, sizeof(d));
    if (!lc_lua_has_hook(vm, kind)) {
        cb(arg, &d);
        return NULL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        lc__lua_decision_internal(&d);
        cb(arg, &d);
        lc__lua_decision_free(&d);
        return NULL;
    }
    c->vm = vm;
    c->kind = kind;
    c->trace = ctx->trace;
    c->no_proxy = ctx->no_proxy;
    describe(c, ctx);
    c->cb = cb;
    c->arg = arg;
    c->co_ref = LUA_NOREF;
    lc_list_insert_tail(&vm->calls, &c->node);
    if (vm->depth >= NESTED_MAX) {
        fail_call(c, "hooks nested too deeply (a hook publishing into its own hook?)");
        return NULL;
    }
    s.c = c;
    s.ctx = ctx;
    s.nargs = 0;
    if (vm_pcall(vm, start_fn, &s) != 0) {
        lua_State *L = vm->L;
        lc_log_error("lua %s hook%s: %s", lc__lua_hook_name(kind), c->who, errmsg(L));
        lua_pop(L, 1);
        fail_call(c, "could not start");
        return NULL;
    }
    return run(c, s.nargs) ? NULL : c;
}

typedef struct resume_ud {
    lc_lua_call_t *c;
    int (*push)(lua_State *L, void *ud);
    void *ud;
    int n;
} resume_ud_t;

static int resume_fn(lua_State *L)
{
    resume_ud_t *r = lua_touserdata(L, 1);

    lua_settop(L, 0);
    r->n = r->push(L, r->ud);
    /* The yielding function made room on the coroutine's stack for these. */
    lua_xmove(L, r->c->co, r->n);
    return 0;
}

void lc__lua_resume(lc_lua_call_t *c, int (*push)(lua_State *L, void *ud), void *ud)
{
    resume_ud_t r = {c, push, ud, 0};
    lc_lua_t *vm = c->vm;

    if (vm_pcall(vm, resume_fn, &r) != 0) {
        lc_log_error("lua %s hook%s: resuming: %s", lc__lua_hook_name(c->kind), c->who,
                     errmsg(vm->L));
        lua_pop(vm->L, 1);
        fail_call(c, "could not be resumed");
        return;
    }
    run(c, r.n);
}

void lc_lua_cancel(lc_lua_call_t *c)
{
    if (c == NULL)
        return;
    if (c->active) {
        c->cancelled = true;
        return;
    }
    cancel_wait(c);
    drop(c);
}

void lc_lua_free(lc_lua_t *vm)
{
    lc_list_t *pos, *tmp;

    if (vm == NULL)
        return;
    lc_list_foreach_safe(pos, tmp, &vm->calls)
    {
        lc_lua_call_t *c = lc_container_of(pos, lc_lua_call_t, node);
        cancel_wait(c);
        drop(c);
    }
    lua_close(vm->L);
    free(vm);
}
