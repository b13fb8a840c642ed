/* Bounded replacements for the library functions that can run long inside C or nest C frames
 * (lua_internal.h lc__lua_bound_libs). The count hook only sees Lua instructions: LuaJIT's own
 * string.find("a" x 3000, ".-.-.-b") backtracks for minutes inside one C call, and
 * coroutine.wrap / gsub callbacks recursing into themselves overflow the thread's stack.
 *
 * Pattern matching (find, match, gmatch, gsub) is therefore done here, with Lua 5.1's pattern
 * language and results (the same algorithm as LuaJIT's lib_string.c, which cannot be
 * interrupted), charging every matching step to the call's budget through lc__lua_charge, so
 * a pathological pattern ends with "instruction budget exceeded" or "time limit exceeded"
 * like a Lua loop. Plain searches use memmem (linear). string.rep refuses results larger than
 * the VM's memory cap up front. Callbacks (gsub's function, sort's comparator, format's
 * __tostring) and coroutine.resume / wrap count their nesting in vm->cdepth, refused past
 * LC__LUA_CDEPTH_MAX with "C stack overflow"; each runs protected so the count stays exact
 * when an error passes through. */
/* memmem: _GNU_SOURCE comes from the build */
#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#include "hooks/lua_internal.h"

#define L_ESC '%'
#define SPECIALS "^$*+?.([%-"
#define MAXCAPTURES 32
#define MAXDEPTH 200    /* nested match() calls: LuaJIT's LJ_MAX_XLEVEL */
#define STEP_CHUNK 1024 /* matching steps charged at once */
#define CAP_UNFINISHED (-1)
#define CAP_POSITION (-2)

/* Registry keys of the original functions the wrappers call. */
static const char key_orig_rep = 0;
static const char key_orig_format = 0;
static const char key_orig_sort = 0;
static const char key_orig_resume = 0;
static const char key_orig_wrap = 0;

typedef struct match_state {
    const char *src_init;
    const char *src_end;
    lua_State *L;
    int level;
    int depth;
    int steps;
    struct {
        const char *init;
        ptrdiff_t len;
    } capture[MAXCAPTURES];
} match_state_t;

static void tick(match_state_t *ms)
{
    if (++ms->steps >= STEP_CHUNK) {
        ms->steps = 0;
        lc__lua_charge(ms->L, STEP_CHUNK);
    }
}

static const char *match(match_state_t *ms, const char *s, const char *p);

static int check_capture(match_state_t *ms, int l)
{
    l -= '1';
    if (l < 0 || l >= ms->level || ms->capture[l].len == CAP_UNFINISHED)
        return luaL_error(ms->L, "invalid capture index");
    return l;
}

static int capture_to_close(match_state_t *ms)
{
    int level = ms->level;

    for (level--; level >= 0; level--)
        if (ms->capture[level].len == CAP_UNFINISHED)
            return level;
    return luaL_error(ms->L, "invalid pattern capture");
}

static const char *class_end(match_state_t *ms, const char *p)
{
    switch (*p++) {
    case L_ESC:
        if (*p == '\0')
            luaL_error(ms->L, "malformed pattern (ends with '%%')");
        return p + 1;
    case '[':
        if (*p == '^')
            p++;
        do { /* look for a ']' */
            if (*p == '\0')
                luaL_error(ms->L, "malformed pattern (missing ']')");
            if (*(p++) == L_ESC && *p != '\0')
                p++; /* skip escapes (e.g. '%]') */
        } while (*p != ']');
        return p + 1;
    default:
        return p;
    }
}

static int match_class(int c, int cl)
{
    int res;

    switch (tolower(cl)) {
    case 'a':
        res = isalpha(c);
        break;
    case 'c':
        res = iscntrl(c);
        break;
    case 'd':
        res = isdigit(c);
        break;
    case 'l':
        res = islower(c);
        break;
    case 'p':
        res = ispunct(c);
        break;
    case 's':
        res = isspace(c);
        break;
    case 'u':
        res = isupper(c);
        break;
    case 'w':
        res = isalnum(c);
        break;
    case 'x':
        res = isxdigit(c);
        break;
    case 'z':
        res = (c == 0);
        break;
    default:
        return cl == c;
    }
    if (isupper(cl))
        res = !res;
    return res != 0;
}

static int match_bracket_class(int c, const char *p, const char *ec)
{
    int sig = 1;

    if (*(p + 1) == '^') {
        sig = 0;
        p++; /* skip the '^' */
    }
    while (++p < ec) {
        if (*p == L_ESC) {
            p++;
            if (match_class(c, (unsigned char)*p))
                return sig;
        } else if (*(p + 1) == '-' && p + 2 < ec) {
            p += 2;
            if ((unsigned char)*(p - 2) <= c && c <= (unsigned char)*p)
                return sig;
        } else if ((unsigned char)*p == c) {
            return sig;
        }
    }
    return !sig;
}

static int single_match(int c, const char *p, const char *ep)
{
    switch (*p) {
    case '.':
        return 1;
    case L_ESC:
        return match_class(c, (unsigned char)*(p + 1));
    case '[':
        return match_bracket_class(c, p, ep - 1);
    default:
        return (unsigned char)*p == c;
    }
}

static const char *match_balance(match_state_t *ms, const char *s, const char *p)
{
    int b, e, cont = 1;

    if (*p == '\0' || *(p + 1) == '\0')
        luaL_error(ms->L, "unbalanced pattern");
    if (s >= ms->src_end || *s != *p)
        return NULL;
    /* compared with *s below, also a plain char: no cast, as in Lua's lstrlib */
    b = *p;       // NOLINT(bugprone-signed-char-misuse,cert-str34-c)
    e = *(p + 1); // NOLINT(bugprone-signed-char-misuse,cert-str34-c)
    while (++s < ms->src_end) {
        tick(ms);
        if (*s == e) {
            if (--cont == 0)
                return s + 1;
        } else if (*s == b) {
            cont++;
        }
    }
    return NULL;
}

static const char *max_expand(match_state_t *ms, const char *s, const char *p, const char *ep)
{
    ptrdiff_t i = 0;

    while (s + i < ms->src_end && single_match((unsigned char)*(s + i), p, ep)) {
        tick(ms);
        i++;
    }
    while (i >= 0) { /* try with the most repetitions first */
        const char *res = match(ms, s + i, ep + 1);
        if (res != NULL)
            return res;
        i--;
    }
    return NULL;
}

static const char *min_expand(match_state_t *ms, const char *s, const char *p, const char *ep)
{
    for (;;) {
        const char *res = match(ms, s, ep + 1);
        if (res != NULL)
            return res;
        if (s < ms->src_end && single_match((unsigned char)*s, p, ep))
            s++;
        else
            return NULL;
    }
}

static const char *start_capture(match_state_t *ms, const char *s, const char *p, int what)
{
    const char *res;
    int level = ms->level;

    if (level >= MAXCAPTURES)
        luaL_error(ms->L, "too many captures");
    ms->capture[level].init = s;
    ms->capture[level].len = what;
    ms->level = level + 1;
    if ((res = match(ms, s, p)) == NULL)
        ms->level--; /* undo the capture */
    return res;
}

static const char *end_capture(match_state_t *ms, const char *s, const char *p)
{
    int l = capture_to_close(ms);
    const char *res;

    ms->capture[l].len = s - ms->capture[l].init;
    if ((res = match(ms, s, p)) == NULL)
        ms->capture[l].len = CAP_UNFINISHED;
    return res;
}

static const char *match_capture(match_state_t *ms, const char *s, int l)
{
    size_t len;

    l = check_capture(ms, l);
    len = (size_t)ms->capture[l].len;
    if ((size_t)(ms->src_end - s) >= len && memcmp(ms->capture[l].init, s, len) == 0)
        return s + len;
    return NULL;
}

static const char *do_match(match_state_t *ms, const char *s, const char *p)
{
init: /* goto instead of tail calls */
    tick(ms);
    switch (*p) {
    case '(':
        if (*(p + 1) == ')')
            return start_capture(ms, s, p + 2, CAP_POSITION);
        return start_capture(ms, s, p + 1, CAP_UNFINISHED);
    case ')':
        return end_capture(ms, s, p + 1);
    case '\0':
        return s; /* end of pattern: a match */
    case L_ESC:
        if (*(p + 1) == 'b') {
            s = match_balance(ms, s, p + 2);
            if (s == NULL)
                return NULL;
            p += 4;
            goto init;
        }
        if (*(p + 1) == 'f') { /* frontier */
            const char *ep;
            char previous;
            p += 2;
            if (*p != '[')
                luaL_error(ms->L, "missing '[' after '%%f' in pattern");
            ep = class_end(ms, p);
            previous = '\0';
            if (s != ms->src_init)
                previous = *(s - 1);
            if (match_bracket_class((unsigned char)previous, p, ep - 1) ||
                !match_bracket_class(s < ms->src_end ? (unsigned char)*s : 0, p, ep - 1))
                return NULL;
            p = ep;
            goto init;
        }
        if (isdigit((unsigned char)*(p + 1))) { /* back reference %1-%9 */
            s = match_capture(ms, s, (unsigned char)*(p + 1));
            if (s == NULL)
                return NULL;
            p += 2;
            goto init;
        }
        goto dflt;
    case '$':
        if (*(p + 1) == '\0')
            return s == ms->src_end ? s : NULL;
        goto dflt;
    default:
    dflt : {
        const char *ep = class_end(ms, p);
        int m = s < ms->src_end && single_match((unsigned char)*s, p, ep);
        switch (*ep) {
        case '?': {
            const char *res;
            if (m && (res = match(ms, s + 1, ep + 1)) != NULL)
                return res;
            p = ep + 1;
            goto init;
        }
        case '*':
            return max_expand(ms, s, p, ep);
        case '+':
            return m ? max_expand(ms, s + 1, p, ep) : NULL;
        case '-':
            return min_expand(ms, s, p, ep);
        default:
            if (!m)
                return NULL;
            s++;
            p = ep;
            goto init;
        }
    }
    }
}

static const char *match(match_state_t *ms, const char *s, const char *p)
{
    const char *res;

    if (++ms->depth > MAXDEPTH)
        luaL_error(ms->L, "pattern too complex");
    res = do_match(ms, s, p);
    ms->depth--;
    return res;
}

static void push_onecapture(match_state_t *ms, int i, const char *s, const char *e)
{
    if (i >= ms->level) {
        if (i != 0)
            luaL_error(ms->L, "invalid capture index");
        lua_pushlstring(ms->L, s, (size_t)(e - s)); /* the whole match */
        return;
    }
    if (ms->capture[i].len == CAP_UNFINISHED)
        luaL_error(ms->L, "unfinished capture");
    if (ms->capture[i].len == CAP_POSITION)
        lua_pushinteger(ms->L, ms->capture[i].init - ms->src_init + 1);
    else
        lua_pushlstring(ms->L, ms->capture[i].init, (size_t)ms->capture[i].len);
}

static int push_captures(match_state_t *ms, const char *s, const char *e)
{
    int nlevels = (ms->level == 0 && s != NULL) ? 1 : ms->level;

    luaL_checkstack(ms->L, nlevels, "too many captures");
    for (int i = 0; i < nlevels; i++)
        push_onecapture(ms, i, s, e);
    return nlevels;
}

static void ms_init(match_state_t *ms, lua_State *L, const char *s, size_t len)
{
    ms->L = L;
    ms->src_init = s;
    ms->src_end = s + len;
    ms->steps = 0;
}

static void ms_reset(match_state_t *ms)
{
    ms->level = 0;
    ms->depth = 0;
}

/* find and match: LuaJIT's argument handling (init negative from the end, clamped). */
static int find_aux(lua_State *L, int find)
{
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    lua_Integer init = luaL_optinteger(L, 3, 1);
    match_state_t ms;
    const char *s1;
    int anchor;

    if (init < 0)
        init += (lua_Integer)ls;
    else
        init--;
    if (init < 0)
        init = 0;
    if ((size_t)init > ls)
        init = (lua_Integer)ls;
    if (find && (lua_toboolean(L, 4) || strpbrk(p, SPECIALS) == NULL)) {
        /* a plain search: memmem is linear; charged by the bytes it may scan */
        const char *q;
        lc__lua_charge(L, (int64_t)((ls - (size_t)init) / 16));
        q = lp == 0 ? s + init : memmem(s + init, ls - (size_t)init, p, lp);
        if (q != NULL) {
            lua_pushinteger(L, q - s + 1);
            lua_pushinteger(L, q - s + (lua_Integer)lp);
            return 2;
        }
        lua_pushnil(L);
        return 1;
    }
    ms_init(&ms, L, s, ls);
    s1 = s + init;
    anchor = *p == '^';
    if (anchor)
        p++;
    do {
        const char *res;
        ms_reset(&ms);
        if ((res = match(&ms, s1, p)) != NULL) {
            if (find) {
                lua_pushinteger(L, s1 - s + 1);
                lua_pushinteger(L, res - s);
                return push_captures(&ms, NULL, NULL) + 2;
            }
            return push_captures(&ms, s1, res);
        }
    } while (s1++ < ms.src_end && !anchor);
    lua_pushnil(L);
    return 1;
}

static int str_find(lua_State *L)
{
    return find_aux(L, 1);
}

static int str_match(lua_State *L)
{
    return find_aux(L, 0);
}

/* Upvalues: the subject, the pattern, the position to go on from. */
static int gmatch_aux(lua_State *L)
{
    size_t ls;
    const char *s = lua_tolstring(L, lua_upvalueindex(1), &ls);
    const char *p = lua_tostring(L, lua_upvalueindex(2));
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
    match_state_t ms;

    ms_init(&ms, L, s, ls);
    for (const char *src = s + pos; src <= ms.src_end; src++) {
        const char *e;
        ms_reset(&ms);
        if ((e = match(&ms, src, p)) != NULL) {
            lua_Integer next = e - s;
            if (e == src)
                next++; /* an empty match: move on at least one position */
            lua_pushinteger(L, next);
            lua_replace(L, lua_upvalueindex(3));
            return push_captures(&ms, src, e);
        }
    }
    return 0;
}

static int str_gmatch(lua_State *L)
{
    luaL_checkstring(L, 1);
    luaL_checkstring(L, 2);
    lua_settop(L, 2);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_aux, 3);
    return 1;
}

/* Call the function below the top nargs values with them, protected, counting the nesting;
 * an error is raised again once the count is back. */
static void nested_call(lua_State *L, int nargs, int nres)
{
    lc_lua_t *vm = lc__lua_vm(L);
    int rc;

    if (vm != NULL && vm->cdepth >= LC__LUA_CDEPTH_MAX)
        luaL_error(L, "C stack overflow (callbacks or coroutines nested more than %d deep)",
                   LC__LUA_CDEPTH_MAX);
    if (vm != NULL)
        vm->cdepth++;
    rc = lua_pcall(L, nargs, nres, 0);
    if (vm != NULL)
        vm->cdepth--;
    if (rc != 0)
        lua_error(L);
}

static void add_s(match_state_t *ms, luaL_Buffer *b, const char *s, const char *e)
{
    size_t l;
    const char *news = lua_tolstring(ms->L, 3, &l);

    for (size_t i = 0; i < l; i++) {
        if (news[i] != L_ESC) {
            luaL_addchar(b, news[i]);
            continue;
        }
        i++; /* skip the escape */
        if (!isdigit((unsigned char)news[i])) {
            luaL_addchar(b, news[i]);
        } else if (news[i] == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else {
            push_onecapture(ms, news[i] - '1', s, e);
            luaL_addvalue(b);
        }
    }
}

static void add_value(match_state_t *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;

    switch (lua_type(L, 3)) {
    case LUA_TNUMBER:
    case LUA_TSTRING:
        add_s(ms, b, s, e);
        return;
    case LUA_TFUNCTION: {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(ms, s, e);
        nested_call(L, n, 1);
        break;
    }
    default: /* a table */
        push_onecapture(ms, 0, s, e);
        lua_gettable(L, 3);
        break;
    }
    if (!lua_toboolean(L, -1)) { /* nil or false: keep the original text */
        lua_pop(L, 1);
        lua_pushlstring(L, s, (size_t)(e - s));
    } else if (!lua_isstring(L, -1)) {
        luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    }
    luaL_addvalue(b);
}

static int str_gsub(lua_State *L)
{
    size_t srcl;
    const char *src = luaL_checklstring(L, 1, &srcl);
    const char *p = luaL_checkstring(L, 2);
    int tr = lua_type(L, 3);
    lua_Integer max_s = luaL_optinteger(L, 4, (lua_Integer)srcl + 1);
    int anchor = *p == '^';
    lua_Integer n = 0;
    match_state_t ms;
    luaL_Buffer b;

    luaL_argcheck(L,
                  tr == LUA_TNUMBER || tr == LUA_TSTRING || tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                  3, "string/function/table expected");
    if (anchor)
        p++;
    luaL_buffinit(L, &b);
    ms_init(&ms, L, src, srcl);
    while (n < max_s) {
        const char *e;
        ms_reset(&ms);
        e = match(&ms, src, p);
        if (e != NULL) {
            n++;
            add_value(&ms, &b, src, e);
        }
        if (e != NULL && e > src)
            src = e;
        else if (src < ms.src_end)
            // NOLINTNEXTLINE(clang-analyzer-core.NullDereference): b was set up by luaL_buffinit
            luaL_addchar(&b, *src++);
        else
            break;
        if (anchor)
            break;
    }
    luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
    luaL_pushresult(&b);
    lua_pushinteger(L, n);
    return 2;
}

/* The original function stored at key, called with this call's arguments. */
static int call_orig(lua_State *L, const char *key, bool nested)
{
    int n = lua_gettop(L);

    lua_pushlightuserdata(L, (void *)key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_insert(L, 1);
    if (nested)
        nested_call(L, n, LUA_MULTRET);
    else
        lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* string.rep(s, n [, sep]): a result past the memory cap is refused before it is built (it
 * would only fail later, after copying); the copy is charged by its size. */
static int str_rep(lua_State *L)
{
    size_t l = 0, lsep = 0;
    lc_lua_t *vm = lc__lua_vm(L);
    double n;
    double total;

    luaL_checklstring(L, 1, &l);
    n = luaL_checknumber(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    total = n > 0 ? (double)l * n + (double)lsep * (n - 1) : 0;
    if (total > 2147483647.0 || (vm != NULL && vm->mem_limit > 0 && total > (double)vm->mem_limit))
        return luaL_error(L, "resulting string too large");
    lc__lua_charge(L, (int64_t)(total / 16));
    return call_orig(L, &key_orig_rep, false);
}

/* string.format: "%s" of a value with __tostring calls Lua from C. */
static int str_format(lua_State *L)
{
    return call_orig(L, &key_orig_format, true);
}

/* table.sort with a comparator (or __lt) calls Lua from C. */
static int tab_sort(lua_State *L)
{
    return call_orig(L, &key_orig_sort, true);
}

/* coroutine.resume runs the coroutine on a nested C frame. */
static int co_resume(lua_State *L)
{
    return call_orig(L, &key_orig_resume, true);
}

/* The function coroutine.wrap returns: upvalue 1 is the original wrapped function. */
static int co_wrapped(lua_State *L)
{
    int n = lua_gettop(L);

    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    nested_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

static int co_wrap(lua_State *L)
{
    call_orig(L, &key_orig_wrap, false);
    lua_settop(L, 1);
    lua_pushcclosure(L, co_wrapped, 1);
    return 1;
}

static void replace(lua_State *L, const char *lib, const char *name, lua_CFunction f,
                    const char *key)
{
    lua_getglobal(L, lib);
    if (key != NULL) {
        lua_pushlightuserdata(L, (void *)key);
        lua_getfield(L, -2, name);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_pushcfunction(L, f);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

void lc__lua_bound_libs(lua_State *L)
{
    replace(L, "string", "find", str_find, NULL);
    replace(L, "string", "match", str_match, NULL);
    replace(L, "string", "gmatch", str_gmatch, NULL);
    replace(L, "string", "gsub", str_gsub, NULL);
    replace(L, "string", "rep", str_rep, &key_orig_rep);
    replace(L, "string", "format", str_format, &key_orig_format);
    replace(L, "table", "sort", tab_sort, &key_orig_sort);
    replace(L, "coroutine", "resume", co_resume, &key_orig_resume);
    replace(L, "coroutine", "wrap", co_wrap, &key_orig_wrap);
}
