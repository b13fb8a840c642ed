/* One-line logging to stderr. Each line is formatted in full, then written with one write(2),
 * so lines from different threads never interleave. */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = LC_LOG_INFO;

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error"};

void lc_log_set_level(int level)
{
    if (level < LC_LOG_TRACE)
        level = LC_LOG_TRACE;
    if (level > LC_LOG_NONE)
        level = LC_LOG_NONE;
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

int lc_log_get_level(void)
{
    return atomic_load_explicit(&log_level, memory_order_relaxed);
}

int lc_log_level_parse(const char *name)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++) {
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    }
    if (strcasecmp(name, "warning") == 0)
        return LC_LOG_WARN;
    if (strcasecmp(name, "none") == 0)
        return LC_LOG_NONE;
    return -1;
}

void lc_log(int level, const char *fmt, ...)
{
    if (level < lc_log_get_level() || level < LC_LOG_TRACE || level >= LC_LOG_NONE)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level]);
    if (n < 0)
        return;
    size_t len = (size_t)n;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (m > 0)
        len += (size_t)m;
    /* a message too long for the line is cut, keeping room for the newline */
    if (len > sizeof(line) - 1)
        len = sizeof(line) - 1;
    /* a message must stay one line: control characters would let input forge log lines */
    for (size_t i = (size_t)n; i < len; i++) {
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    }
    line[len++] = '\n';
    const char *p = line;
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        len -= (size_t)w;
    }
}
