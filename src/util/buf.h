/* Growable byte buffer. The buffer owns `data`; lc_buf_free releases it.
 * `data` is always NUL-terminated when cap > 0, so it can be used as a C string. */
#ifndef LC_UTIL_BUF_H
#define LC_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct lc_buf {
    char *data;
    size_t len;
    size_t cap;
} lc_buf_t;

#define LC_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void lc_buf_init(lc_buf_t *b);
void lc_buf_free(lc_buf_t *b);
/* Drop the contents, keep the allocation. */
void lc_buf_reset(lc_buf_t *b);
/* Make room for `extra` more bytes (plus the NUL). 0 or LC_ENOMEM. */
int lc_buf_reserve(lc_buf_t *b, size_t extra);
int lc_buf_append(lc_buf_t *b, const void *p, size_t n);
int lc_buf_append_str(lc_buf_t *b, const char *s);
int lc_buf_putc(lc_buf_t *b, char c);
int lc_buf_printf(lc_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int lc_buf_vprintf(lc_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append `s` (n bytes, may contain NULs) as a JSON string literal with quotes,
 * escaping ", \, control characters (\n, \t, \u00XX, ...). UTF-8 is passed through. */
int lc_buf_append_json_str(lc_buf_t *b, const char *s, size_t n);
/* Remove the first n bytes (n <= len). */
void lc_buf_consume(lc_buf_t *b, size_t n);
/* Hand the allocation to the caller (NUL-terminated, may be NULL when empty) and reset b. */
char *lc_buf_steal(lc_buf_t *b);

#endif
