/* The decision trace: the steps one pipeline run went through, as short readable lines
 * ("token: connection token valid, sub \"42\""). Off by default: a pipeline records only when
 * its request carries a trace (`lucent explain`) or when the session's user or client is
 * named in log.trace_users (the lines then go to the log at info). Recording costs one small
 * allocation per step, so it stays out of the hot path. Not thread-safe. */
#ifndef LC_HOOKS_DECIDE_TRACE_H
#define LC_HOOKS_DECIDE_TRACE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lc_decide_trace lc_decide_trace_t;

lc_decide_trace_t *lc_decide_trace_new(void);
void lc_decide_trace_free(lc_decide_trace_t *t);
/* One line: step is "lua", "token", "proxy", "rules" or "outcome". NULL t is ignored; a line
 * that cannot be stored (no memory) is dropped. */
void lc_decide_trace_add(lc_decide_trace_t *t, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t lc_decide_trace_count(const lc_decide_trace_t *t);
/* Line i as "step: text". */
const char *lc_decide_trace_line(const lc_decide_trace_t *t, size_t i);

#endif
