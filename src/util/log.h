/* One-line logging to stderr: "2026-11-28T13:00:00.123Z level message", or with
 * lc_log_set_json one JSON object per line {"time":..,"level":..,"msg":..}. Thread-safe. */
#ifndef LC_UTIL_LOG_H
#define LC_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum lc_log_level {
    LC_LOG_TRACE,
    LC_LOG_DEBUG,
    LC_LOG_INFO,
    LC_LOG_WARN,
    LC_LOG_ERROR,
    LC_LOG_NONE
};

void lc_log_set_level(int level);
int lc_log_get_level(void);
/* "trace", "debug", "info", "warn" / "warning", "error", "none": the level, or -1 if unknown. */
int lc_log_level_parse(const char *name);
void lc_log_set_json(bool json);
void lc_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with named values: kv holds nkv strings, name then value (a NULL value is left
 * out). Text: `msg name=value name="two words"`; JSON: members of the line's object. */
void lc_log_fields(int level, const char *msg, const char *const *kv, size_t nkv);
/* The one info line of a refused connect, subscribe, publish or RPC (or refresh):
 * `refused subscribe: client=… user=… channel=… step=proxy code=103 reason="…"`. NULL or ""
 * values are left out. Never pass a token, key or cookie in any of them. */
void lc_log_refused(const char *what, const char *client, const char *user, const char *channel,
                    const char *step, unsigned code, const char *reason);

#define lc_log_debug(...) lc_log(LC_LOG_DEBUG, __VA_ARGS__)
#define lc_log_info(...) lc_log(LC_LOG_INFO, __VA_ARGS__)
#define lc_log_warn(...) lc_log(LC_LOG_WARN, __VA_ARGS__)
#define lc_log_error(...) lc_log(LC_LOG_ERROR, __VA_ARGS__)

#endif
