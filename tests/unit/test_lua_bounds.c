/* Bounds of the Lua hook VM that LuaJIT does not give (src/hooks/lua_strlib.c): the bounded
 * pattern functions give LuaJIT's own results (compared case by case against the originals in
 * a plain state), pathological patterns end at the instruction budget or the time limit, and
 * nesting coroutines or callbacks ends with an error instead of overflowing the stack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "hooks/lua_internal.h"
#include "hooks/script.h"

/* ---- the bounded functions against LuaJIT's own, in a plain state ---- */

/* Each case is a Lua expression list evaluated with `S` the bounded string table and `N` the
 * original one; the results (types and values, as a string) must be the same, errors
 * included (their messages may differ). */
static const char *const diff_script =
    "assert(S.find ~= N.find and S.gsub ~= N.gsub and S.gmatch ~= N.gmatch)\n"
    "local cases = {\n"
    "  {'find', 'hello world', 'o w'}, {'find', 'hello world', 'o', 6}, {'find', 'hello', 'l', "
    "-2},\n"
    "  {'find', 'hello', 'l', -100}, {'find', 'hello', 'x', 100}, {'find', 'hello', '', 10},\n"
    "  {'find', 'a.b', '.', 1, true}, {'find', 'a+b', '+', 1, true}, {'find', 'hello', ''},\n"
    "  {'find', 'hello', 'l+'}, {'find', 'hello', '(l)(l)'}, {'find', 'hello', '()ll()'},\n"
    "  {'find', 'hello', '^h'}, {'find', 'hello', '^e'}, {'find', 'hello', 'o$'},\n"
    "  {'find', 'a$b', '$b'}, {'find', 'THE (quick) fox', '%((%a+)%)'},\n"
    "  {'find', 'f(a(b)c)d', '%b()'}, {'find', 'THE quick', '%f[%a]%a+', 4},\n"
    "  {'find', 'x = 10, y=20', '(%w+)%s*=%s*(%d+)'}, {'find', 'aaa', 'a-b'},\n"
    "  {'find', 'aaab', 'a-b'}, {'find', 'abc', '[a-b]+'}, {'find', 'a]b', '[]]'},\n"
    "  {'find', 'a^b', '[%^]'}, {'find', 'abc', '[^a]+'}, {'find', 'abab', '(ab)%1'},\n"
    "  {'find', '\\0a\\0', '%z'}, {'find', 'ab12', '%D+'}, {'find', 'a.b', '%.'},\n"
    "  {'find', 'x', '[a-'}, {'find', 'x', '%'}, {'find', 'x', '(x'}, {'find', 'x', 'x)'},\n"
    "  {'find', 'x', '%1'}, {'find', 'x', '%b'}, {'find', 'x', '%fx'}, {'find', 'aXb', '%u?b'},\n"
    "  {'find', 12345, 3}, {'find', 'abc', 'b', '2'},\n"
    "  {'match', 'key=val', '(%w+)=(%w+)'}, {'match', 'hello', '.-'}, {'match', 'hello', '.*'},\n"
    "  {'match', '  trim  ', '^%s*(.-)%s*$'}, {'match', 'hello', '()'}, {'match', 'hello', 'l', "
    "4},\n"
    "  {'match', 'date: 2024-01-02', '(%d+)-(%d+)-(%d+)'}, {'match', 'abc', '((a)(b))'},\n"
    "  {'match', 'THE (quick) fox', '%f[%a]%a+%f[%A]'}, {'match', '[[x]]', '%[(%b[])%]'},\n"
    "  {'gsub', 'hello world', 'o', '0'}, {'gsub', 'hello world', '(o)', '[%1]'},\n"
    "  {'gsub', 'hello', '', '-'}, {'gsub', 'hello world', '%w+', '%0 %0', 1},\n"
    "  {'gsub', 'abc', '^a', 'x'}, {'gsub', 'abc', '%w', '%%'}, {'gsub', 'abc', '%w', '%2'},\n"
    "  {'gsub', 'abc', '(b)', '%q'}, {'gsub', 'hello', 'l', {l = 'L'}},\n"
    "  {'gsub', 'hello', 'l', {}}, {'gsub', 'hello', '(h)(e)', function(a, b) return b .. a end},\n"
    "  {'gsub', 'hello', 'l', function() return false end},\n"
    "  {'gsub', 'hello', 'l', function() return {} end}, {'gsub', 'hello', 'l', true},\n"
    "  {'gsub', 'abc', '', 'x', 2}, {'gsub', 'a b c', '%s', 1}, {'gsub', 'abc', '.', '%0%0', 0},\n"
    "  {'gsub', 'x=1, y=2', '(%w+)=(%w+)', '%2=%1'}, {'gsub', 'hello', '()', '%1'},\n"
    "}\n"
    "local function show(ok, ...)\n"
    "  if not ok then return 'error' end\n"
    "  local t = {}\n"
    "  for i = 1, select('#', ...) do local v = select(i, ...); t[i] = type(v) .. ':' .. "
    "tostring(v) end\n"
    "  return table.concat(t, ',')\n"
    "end\n"
    "for i, c in ipairs(cases) do\n"
    "  local f = c[1]\n"
    "  local a = show(pcall(S[f], unpack(c, 2, 6)))\n"
    "  local b = show(pcall(N[f], unpack(c, 2, 6)))\n"
    "  if a ~= b then error(('case %d (%s %q %q): %s ~= %s'):format(i, f, tostring(c[2]), "
    "tostring(c[3]), a, b)) end\n"
    "end\n"
    "local function gm(lib, s, p) local t = {} for a, b in lib.gmatch(s, p) do t[#t + 1] = "
    "tostring(a) .. '/' .. tostring(b) end return table.concat(t, ' ') end\n"
    "for _, c in ipairs({{'one two  three', '%a+'}, {'k=v, a=b', '(%w+)=(%w+)'}, {'abc', ''},\n"
    "                    {'abc', '()'}, {'^a^a', '^a'}, {'aaa', 'a*'}}) do\n"
    "  local a, b = gm(S, c[1], c[2]), gm(N, c[1], c[2])\n"
    "  if a ~= b then error(('gmatch %q %q: %s ~= %s'):format(c[1], c[2], a, b)) end\n"
    "end\n"
    "return #cases\n";

static void test_lua_bounded_patterns_match_luajit(void **state)
{
    lua_State *L = luaL_newstate();

    (void)state;
    assert_non_null(L);
    luaL_openlibs(L);
    /* N: a copy of the original string table */
    lua_newtable(L);
    lua_getglobal(L, "string");
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -5);
    }
    lua_pop(L, 1);
    lua_setglobal(L, "N");
    lc__lua_bound_libs(L);
    lua_getglobal(L, "string");
    lua_setglobal(L, "S");
    if (luaL_dostring(L, diff_script) != 0)
        fail_msg("%s", lua_tostring(L, -1));
    assert_true(lua_tonumber(L, -1) > 60);
    lua_close(L);
}

/* ---- the bounds in a hook VM ---- */

typedef struct fx {
    char dir[64];
    char path[96];
    lc_config_t cfg;
    lc_lua_t *vm;
    int calls;
    int type;
    uint32_t code;
    char data[256];
} fx_t;

static void on_decision(void *arg, const lc_decision_t *d)
{
    fx_t *f = arg;

    f->calls++;
    f->type = d->type;
    f->code = d->reply.code;
    snprintf(f->data, sizeof(f->data), "%.*s", (int)d->reply.data_len,
             d->reply.data != NULL ? d->reply.data : "");
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/lucent-luab-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/hooks.lua", f->dir);
    lc_config_defaults(&f->cfg);
    assert_int_equal(lc_config_set_string(&f->cfg.lua_script, f->path), 0);
    f->cfg.lua_instruction_budget = 1000000;
    f->cfg.lua_memory_limit = 16 * 1024 * 1024;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    lc_lua_free(f->vm);
    lc_config_free(&f->cfg);
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void load(fx_t *f, const char *script)
{
    char err[512] = "";
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    fputs(script, fp);
    fclose(fp);
    lc_lua_free(f->vm);
    f->vm = lc_lua_new(&f->cfg, NULL, err, sizeof(err));
    if (f->vm == NULL)
        fail_msg("load failed: %s", err);
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Run rpc method; returns the milliseconds it took. */
static double rpc(fx_t *f, const char *method)
{
    lc_hook_ctx_t c = {.client = "c1", .user = "u1", .method = method};
    double t0 = now_ms();

    f->calls = 0;
    assert_null(lc_lua_call(f->vm, LC_HOOK_RPC, &c, on_decision, f));
    assert_int_equal(f->calls, 1);
    return now_ms() - t0;
}

static void assert_error_100(fx_t *f)
{
    assert_int_equal(f->type, LC_DECIDE_ERROR);
    assert_int_equal(f->code, 100);
}

static const char *const script =
    "local M = {}\n"
    "M.wrap = function() local function f() return coroutine.wrap(f)() end return f() end\n"
    "M.resume = function() local function f() local co = coroutine.create(f)\n"
    "  local ok, e = coroutine.resume(co) if not ok then error(e, 0) end end return f() end\n"
    "M.gsub = function() local function f() return (string.gsub('a', 'a', function() return f() "
    "end)) end return f() end\n"
    "M.sort = function() local function f() table.sort({3, 2, 1}, function(a, b) f() return a < b "
    "end) end return f() end\n"
    "M.format = function() local t = setmetatable({}, {__tostring = function(x) return "
    "string.format('%s', x) end}) return string.format('%s', t) end\n"
    "M.find = function() return {data = {string.rep('a', 3000):find('.-.-.-b')}} end\n"
    "M.find_pcall = function() for i = 1, 10 do pcall(string.find, string.rep('a', 3000), "
    "'.-.-.-b') end return {data = {ok = true}} end\n"
    "M.method = function() local s = string.rep('a', 3000) return {data = {s:match('.-.-.-b')}} "
    "end\n"
    "M.gmatch = function() for x in string.rep('a', 3000):gmatch('.-.-.-b') do end end\n"
    "M.gsubp = function() return {data = {(string.gsub(string.rep('a', 3000), '.-.-.-b', ''))}} "
    "end\n"
    "M.rep = function() return {data = {#string.rep('ab', 1e9)}} end\n"
    "M.loop = function() while true do end end\n"
    "M.disc_big = function() return lucent.disconnect(4294967295) end\n"
    "M.disc_low = function() return lucent.disconnect(1000, 'x') end\n"
    "M.disc_frac = function() return lucent.disconnect(4000.5) end\n"
    "M.disc_long = function() return lucent.disconnect(4000, string.rep('r', 124)) end\n"
    "M.disc_edit = function() local d = lucent.disconnect(4000) d.code = 4294967295 return d end\n"
    "M.disc_raise = function() local d = lucent.disconnect(4000) d.reason = string.rep('r', 200) "
    "error(d) end\n"
    "M.disc_ok = function() return lucent.disconnect(4999, string.rep('r', 123)) end\n"
    /* nesting that is fine: 40 coroutines deep, each resumed once; a sort with a comparator;
     * a gsub callback; each many times in a row (the count must come back down) */
    "M.nest_ok = function()\n"
    "  local function deep(n) if n == 0 then return 0 end\n"
    "    return coroutine.wrap(function() return deep(n - 1) + 1 end)() end\n"
    "  local s = 0\n"
    "  for i = 1, 5 do s = s + deep(40) end\n"
    "  for i = 1, 300 do pcall(coroutine.wrap(function() error('x') end)) end\n"
    "  for i = 1, 300 do pcall(string.gsub, 'ab', '%w', function() error('y') end) end\n"
    "  local t = {5, 3, 9, 1} table.sort(t, function(a, b) return a > b end)\n"
    "  local g = string.gsub('hello', 'l', function(c) return c:upper() end)\n"
    "  return {data = {s = s, t = table.concat(t, ','), g = g}}\n"
    "end\n"
    "return {rpc = function(ctx) return M[ctx.method]() end}\n";

static void test_lua_nesting_bounded_no_crash(void **state)
{
    fx_t *f = *state;
    const char *kinds[] = {"wrap", "resume", "gsub", "sort", "format"};

    load(f, script);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        rpc(f, kinds[i]);
        assert_error_100(f);
        assert_int_equal(f->vm->cdepth, 0);
    }
    rpc(f, "nest_ok");
    assert_int_equal(f->type, LC_DECIDE_ALLOW);
    assert_non_null(strstr(f->data, "\"s\":200"));
    assert_non_null(strstr(f->data, "\"t\":\"9,5,3,1\""));
    assert_non_null(strstr(f->data, "\"g\":\"heLLo\""));
}

static void test_lua_pathological_patterns_end_at_budget(void **state)
{
    fx_t *f = *state;
    const char *kinds[] = {"find", "find_pcall", "method", "gmatch", "gsubp", "rep"};

    load(f, script);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        double ms = rpc(f, kinds[i]);
        assert_error_100(f);
        /* a budget of a million steps: far below a second even under the sanitizers */
        if (ms > 2000)
            fail_msg("%s took %.0f ms", kinds[i], ms);
    }
    rpc(f, "nest_ok"); /* the VM is still usable */
    assert_int_equal(f->type, LC_DECIDE_ALLOW);
}

static void test_lua_time_limit_ends_calls(void **state)
{
    fx_t *f = *state;

    f->cfg.lua_instruction_budget = INT64_MAX / 2; /* only the clock bounds these */
    f->cfg.lua_time_limit_ms = 200;
    load(f, script);
    for (int i = 0; i < 2; i++) {
        const char *k = i == 0 ? "loop" : "find";
        double ms = rpc(f, k);
        assert_error_100(f);
        if (ms < 190 || ms > 1500)
            fail_msg("%s ended after %.0f ms (limit 200)", k, ms);
    }
}

/* lucent.disconnect takes what a close frame can carry: 3000-4999, a reason of 123 bytes. */
static void test_lua_disconnect_code_range(void **state)
{
    fx_t *f = *state;
    const char *bad[] = {"disc_big",  "disc_low",  "disc_frac",
                         "disc_long", "disc_edit", "disc_raise"};

    load(f, script);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rpc(f, bad[i]);
        assert_error_100(f);
    }
    rpc(f, "disc_ok");
    assert_int_equal(f->type, LC_DECIDE_DISCONNECT);
    assert_int_equal(f->code, 4999);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lua_bounded_patterns_match_luajit),
        cmocka_unit_test_setup_teardown(test_lua_nesting_bounded_no_crash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_pathological_patterns_end_at_budget, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lua_time_limit_ends_calls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_disconnect_code_range, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
