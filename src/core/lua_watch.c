/* lua.watch (lua_watch.h). */
#include "core/lua_watch.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"

#define WATCH_MAX 8
#define DEBOUNCE_MS 150

struct lc_lua_watch {
    uv_fs_event_t ev[WATCH_MAX];
    int n;
    uv_timer_t timer;
    int open; /* handles not closed yet */
    void (*reload)(void *arg);
    void *arg;
};

static void on_timer(uv_timer_t *t)
{
    lc_lua_watch_t *w = t->data;
    w->reload(w->arg);
}

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    (void)events;
    lc_lua_watch_t *w = h->data;
    size_t n = filename ? strlen(filename) : 0;
    if (status < 0 || (filename && (n < 4 || strcmp(filename + n - 4, ".lua") != 0)))
        return;
    uv_timer_start(&w->timer, on_timer, DEBOUNCE_MS, 0);
}

static void closed(uv_handle_t *h)
{
    lc_lua_watch_t *w = h->data;
    if (--w->open == 0)
        free(w);
}

/* The directory part of path ("." when none). */
static void dir_of(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, len, ".");
    else if (slash == path)
        snprintf(out, len, "/");
    else
        snprintf(out, len, "%.*s", (int)(slash - path), path);
}

static void watch_dir(lc_lua_watch_t *w, uv_loop_t *loop, const char *dir)
{
    if (w->n >= WATCH_MAX)
        return;
    uv_fs_event_t *h = &w->ev[w->n];
    if (uv_fs_event_init(loop, h) != 0)
        return;
    h->data = w;
    w->open++;
    int rc = uv_fs_event_start(h, on_event, dir, 0);
    if (rc != 0) {
        lc_log_warn("lua.watch: cannot watch %s: %s", dir, uv_strerror(rc));
        uv_close((uv_handle_t *)h, closed);
        return;
    }
    w->n++;
    lc_log_info("lua.watch: reloading on changes to *.lua in %s", dir);
}

lc_lua_watch_t *lc__lua_watch_start(uv_loop_t *loop, const lc_config_t *cfg,
                                    void (*reload)(void *arg), void *arg)
{
    if (!cfg->lua_watch || !cfg->lua_script)
        return NULL;
    lc_lua_watch_t *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->reload = reload;
    w->arg = arg;
    uv_timer_init(loop, &w->timer);
    w->timer.data = w;
    w->open = 1;
    char dir[1024];
    dir_of(cfg->lua_script, dir, sizeof(dir));
    watch_dir(w, loop, dir);
    for (size_t i = 0; i < cfg->n_lua_path; i++)
        watch_dir(w, loop, cfg->lua_path[i]);
    return w;
}

void lc__lua_watch_stop(lc_lua_watch_t *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        uv_close((uv_handle_t *)&w->ev[i], closed);
    uv_close((uv_handle_t *)&w->timer, closed);
}

static void add_route(void *arg, const char *kind, const char *pattern, const char *where)
{
    (void)where;
    lc_buf_printf(arg, "%s %s\n", kind, pattern[0] ? pattern : "(every)");
}

char *lc__lua_routes_text(lc_lua_t *vm)
{
    lc_buf_t b;
    lc_buf_init(&b);
    lc_lua_routes(vm, add_route, &b);
    return b.data; /* NULL when empty or out of memory: no routes */
}

/* Lines of a that b lacks, logged with what. */
static int log_missing(const char *a, const char *b, const char *what)
{
    int n = 0;
    for (const char *p = a; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p + 1) : strlen(p);
        bool found = false;
        for (const char *q = b; q && *q && !found;) {
            const char *f = strchr(q, '\n');
            size_t ql = f ? (size_t)(f - q + 1) : strlen(q);
            found = ql == len && memcmp(p, q, len) == 0;
            q += ql;
        }
        if (!found) {
            lc_log_info("lua: route %s: %.*s", what, (int)(e ? len - 1 : len), p);
            n++;
        }
        p += len;
    }
    return n;
}

void lc__lua_routes_log_diff(const char *before, const char *after)
{
    int n = log_missing(after, before, "added") + log_missing(before, after, "removed");
    if (n == 0)
        lc_log_info("lua: routes unchanged");
}
