/* One-line logging to stderr, as text or as JSON objects (log.format). Each line is formatted
 * in full, then written with one write(2), so lines from different threads never interleave. */
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
static atomic_bool log_json = false;

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error"};

void lc_log_set_level(int level)
{
    if (level < LC_LOG_TRACE)
        level = LC_LOG_TRACE;
    if (level > LC_LOG_NONE)
        level = LC_LOG_NONE;
    atomic_store_explicit(&log_level, level, memory_order_relaxed);
}

void lc_log_set_json(bool json)
{
    atomic_store_explicit(&log_json, json, memory_order_relaxed);
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

static void write_all(const char *p, size_t len)
{
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

static size_t stamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n =
        snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    return n > 0 ? (size_t)n : 0;
}

/* Append s as a JSON string body (no quotes) within cap, escaping what JSON needs. */
static size_t json_escape(char *out, size_t o, size_t cap, const char *s, size_t n)
{
    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    return o;
}

static bool enabled(int level)
{
    return level >= lc_log_get_level() && level >= LC_LOG_TRACE && level < LC_LOG_NONE;
}

/* One line: the message, then key=value pairs (text) or members (JSON). */
static void emit(int level, const char *msg, size_t mlen, const char *const *kv, size_t nkv)
{
    char line[4096];
    size_t cap = sizeof(line) - 2, o;
    if (atomic_load_explicit(&log_json, memory_order_relaxed)) {
        o = (size_t)snprintf(line, cap, "{\"time\":\"");
        o += stamp(line + o, cap - o);
        o += (size_t)snprintf(line + o, cap - o, "\",\"level\":\"%s\",\"msg\":\"",
                              level_names[level]);
        o = json_escape(line, o, cap, msg, mlen);
        for (size_t i = 0; i + 1 < nkv; i += 2) {
            if (!kv[i + 1] || o + 8 >= cap)
                continue;
            line[o++] = '"';
            line[o++] = ',';
            line[o++] = '"';
            o = json_escape(line, o, cap, kv[i], strlen(kv[i]));
            line[o++] = '"';
            line[o++] = ':';
            line[o++] = '"';
            o = json_escape(line, o, cap, kv[i + 1], strlen(kv[i + 1]));
        }
        if (o + 2 < cap) {
            line[o++] = '"';
            line[o++] = '}';
        }
    } else {
        o = stamp(line, cap);
        o += (size_t)snprintf(line + o, cap - o, " %s ", level_names[level]);
        size_t start = o;
        if (mlen > cap - o)
            mlen = cap - o;
        memcpy(line + o, msg, mlen);
        o += mlen;
        for (size_t i = 0; i + 1 < nkv; i += 2) {
            if (!kv[i + 1] || o >= cap)
                continue;
            /* values with spaces are quoted so that the pairs stay parseable */
            bool q = strpbrk(kv[i + 1], " \"=") != NULL || !*kv[i + 1];
            int w = snprintf(line + o, cap - o, q ? " %s=\"%s\"" : " %s=%s", kv[i], kv[i + 1]);
            if (w > 0)
                o += (size_t)w < cap - o ? (size_t)w : cap - o;
        }
        /* a message must stay one line: control characters would let input forge log lines */
        for (size_t i = start; i < o; i++) {
            if (line[i] == '\n' || line[i] == '\r')
                line[i] = ' ';
        }
    }
    if (o > cap)
        o = cap;
    line[o++] = '\n';
    write_all(line, o);
}

void lc_log(int level, const char *fmt, ...)
{
    if (!enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    emit(level, msg, (size_t)m < sizeof(msg) ? (size_t)m : sizeof(msg) - 1, NULL, 0);
}

void lc_log_fields(int level, const char *msg, const char *const *kv, size_t nkv)
{
    if (!enabled(level))
        return;
    emit(level, msg, strlen(msg), kv, nkv);
}

void lc_log_refused(const char *what, const char *client, const char *user, const char *channel,
                    const char *step, unsigned code, const char *reason)
{
    if (!enabled(LC_LOG_INFO))
        return;
    char msg[64], num[16];
    snprintf(msg, sizeof(msg), "refused %s:", what);
    snprintf(num, sizeof(num), "%u", code);
    const char *kv[] = {"client",  client && *client ? client : NULL,
                        "user",    user && *user ? user : NULL,
                        "channel", channel && *channel ? channel : NULL,
                        "step",    step,
                        "code",    num,
                        "reason",  reason && *reason ? reason : NULL};
    emit(LC_LOG_INFO, msg, strlen(msg), kv, sizeof(kv) / sizeof(kv[0]));
}
