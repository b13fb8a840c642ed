/* The decision trace (decide_trace.h): a growing list of formatted lines. */
#include "hooks/decide_trace.h"

#include "hooks/decide.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/log.h"

struct lc_decide_trace {
    char **lines;
    size_t n, cap;
};

lc_decide_trace_t *lc_decide_trace_new(void)
{
    return calloc(1, sizeof(lc_decide_trace_t));
}

void lc_decide_trace_free(lc_decide_trace_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        free(t->lines[i]);
    free(t->lines);
    free(t);
}

void lc_decide_trace_add(lc_decide_trace_t *t, const char *step, const char *fmt, ...)
{
    if (!t)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **l = realloc(t->lines, cap * sizeof(*l));
        if (!l)
            return;
        t->lines = l;
        t->cap = cap;
    }
    char text[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    size_t n = strlen(step) + 2 + strlen(text) + 1;
    char *line = malloc(n);
    if (!line)
        return;
    snprintf(line, n, "%s: %s", step, text);
    t->lines[t->n++] = line;
}

size_t lc_decide_trace_count(const lc_decide_trace_t *t)
{
    return t ? t->n : 0;
}

const char *lc_decide_trace_line(const lc_decide_trace_t *t, size_t i)
{
    return t && i < t->n ? t->lines[i] : NULL;
}

/* --- the pipeline's side (decide.c) --------------------------------------------------------- */

static const char *const k_kind_names[LC_HOOK_MAX] = {
    [LC_HOOK_CONNECT] = "connect",
    [LC_HOOK_REFRESH] = "refresh",
    [LC_HOOK_SUBSCRIBE] = "subscribe",
    [LC_HOOK_SUB_REFRESH] = "sub_refresh",
    [LC_HOOK_PUBLISH] = "publish",
    [LC_HOOK_BROADCAST] = "broadcast",
    [LC_HOOK_RPC] = "rpc",
    [LC_HOOK_DISCONNECT] = "disconnect",
    [LC_HOOK_UNSUBSCRIBE] = "unsubscribe",
    [LC_HOOK_TRACK] = "track",
    [LC_HOOK_SPOLL_REFRESH] = "shared_poll_refresh",
};

const char *lc__decide_kind_name(lc_hook_kind kind)
{
    return (unsigned)kind < LC_HOOK_MAX ? k_kind_names[kind] : "?";
}

const char *lc__decide_step_name(lc_decide_step step)
{
    static const char *const names[] = {"?", "lua", "token", "proxy", "rules"};
    return step >= LC_STEP_LUA && step <= LC_STEP_RULES ? names[step] : "?";
}

bool lc__decide_traced(const lc_config_t *cfg, const lc_proxy_req_t *s)
{
    for (size_t i = 0; i < cfg->n_trace_users; i++)
        if ((s->user && strcmp(s->user, cfg->trace_users[i]) == 0) ||
            (s->client && strcmp(s->client, cfg->trace_users[i]) == 0))
            return true;
    return false;
}

void lc__decide_trace_start(lc_decide_trace_t *t, const lc_decide_req_t *r)
{
    const lc_config_t *cfg = r->cfg;
    if (!t || !r->channel || cfg->n_channel_rules == 0)
        return;
    bool family = false;
    int i =
        lc_config_channel_rule_of(cfg, r->channel, strlen(r->channel), r->session.user, &family);
    char opts[256];
    const char *pattern =
        i >= 0 ? lc_config_channel_rule(cfg, (size_t)i, opts, sizeof(opts)) : NULL;
    if (!pattern)
        lc_decide_trace_add(t, "rules", "no channels rule matched (%zu rule%s)",
                            cfg->n_channel_rules, cfg->n_channel_rules == 1 ? "" : "s");
    else if (family)
        lc_decide_trace_add(t, "rules",
                            "channels rule %d \"%s\" names this channel for another user: none "
                            "of its options apply",
                            i + 1, pattern);
    else
        lc_decide_trace_add(t, "rules", "channels rule %d \"%s\" matched: %s", i + 1, pattern,
                            opts[0] ? opts : "(no options)");
}

void lc__decide_trace_end(lc_decide_trace_t *t, const lc_decide_req_t *r, const lc_verdict_t *v,
                          bool log)
{
    const char *by = lc__decide_step_name(v->by);
    bool conn = r->kind == LC_HOOK_CONNECT;
    if (v->type == LC_VERDICT_ALLOW)
        lc_decide_trace_add(t, "outcome", "allow by %s%s%s%s", by, conn ? " as user \"" : "",
                            conn ? v->user : "", conn ? "\"" : "");
    else
        lc_decide_trace_add(t, "outcome", "%s %u \"%s\" by %s%s",
                            v->type == LC_VERDICT_ERROR ? "error" : "disconnect", (unsigned)v->code,
                            v->message[0]                 ? v->message
                            : v->type == LC_VERDICT_ERROR ? lc_error_message(v->code)
                                                          : lc_disconnect_reason(v->code),
                            by, v->unavailable ? " (step unavailable)" : "");
    if (log && r->kind == LC_HOOK_CONNECT && !lc__decide_traced(r->cfg, &r->session)) {
        lc_proxy_req_t named = r->session;
        named.user = v->type == LC_VERDICT_ALLOW ? v->user : "";
        log = named.user[0] && lc__decide_traced(r->cfg, &named);
    }
    if (!log)
        return;
    for (size_t i = 0; i < t->n; i++)
        lc_log_info("trace %s client %s user \"%s\"%s%s: %s", lc__decide_kind_name(r->kind),
                    r->session.client ? r->session.client : "", r->session.user,
                    r->channel ? " channel " : "", r->channel ? r->channel : "", t->lines[i]);
}
