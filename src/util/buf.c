/* Growable byte buffer. */
#include "util/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

void lc_buf_init(lc_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void lc_buf_free(lc_buf_t *b)
{
    free(b->data);
    lc_buf_init(b);
}

void lc_buf_reset(lc_buf_t *b)
{
    b->len = 0;
    if (b->cap > 0)
        b->data[0] = '\0';
}

int lc_buf_reserve(lc_buf_t *b, size_t extra)
{
    /* cap counts the NUL, so the data fits when len + extra + 1 <= cap */
    if (extra > SIZE_MAX - b->len - 1)
        return LC_ENOMEM;
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : 64;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2) {
            ncap = need;
            break;
        }
        ncap *= 2;
    }
    char *p = realloc(b->data, ncap);
    if (p == NULL)
        return LC_ENOMEM;
    b->data = p;
    b->cap = ncap;
    b->data[b->len] = '\0';
    return 0;
}

int lc_buf_append(lc_buf_t *b, const void *p, size_t n)
{
    int rc = lc_buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int lc_buf_append_str(lc_buf_t *b, const char *s)
{
    return lc_buf_append(b, s, strlen(s));
}

int lc_buf_putc(lc_buf_t *b, char c)
{
    return lc_buf_append(b, &c, 1);
}

int lc_buf_vprintf(lc_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    /* first try in the room already there; measure and retry only when it does not fit */
    int rc = lc_buf_reserve(b, 64);
    if (rc < 0)
        return rc;
    va_copy(ap2, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        b->data[b->len] = '\0';
        return LC_EINVAL;
    }
    if ((size_t)n >= room) {
        rc = lc_buf_reserve(b, (size_t)n);
        if (rc < 0) {
            b->data[b->len] = '\0';
            return rc;
        }
        va_copy(ap2, ap);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
        va_end(ap2);
        if (n < 0) {
            b->data[b->len] = '\0';
            return LC_EINVAL;
        }
    }
    b->len += (size_t)n;
    return 0;
}

int lc_buf_printf(lc_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = lc_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

int lc_buf_append_json_str(lc_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = b->len;
    /* the common case has nothing to escape: reserve once for it */
    int rc = lc_buf_reserve(b, n + 2);
    if (rc < 0)
        return rc;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the pending run of bytes copied verbatim */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t elen = 0;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            elen = 2;
        } else if (c < 0x20) {
            esc[0] = '\\';
            elen = 2;
            switch (c) {
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xf];
                elen = 6;
                break;
            }
        } else {
            continue;
        }
        if ((rc = lc_buf_append(b, s + run, i - run)) < 0 || (rc = lc_buf_append(b, esc, elen)) < 0)
            goto fail;
        run = i + 1;
    }
    if ((rc = lc_buf_append(b, s + run, n - run)) < 0 || (rc = lc_buf_putc(b, '"')) < 0)
        goto fail;
    return 0;
fail:
    b->len = start;
    b->data[b->len] = '\0';
    return rc;
}

void lc_buf_consume(lc_buf_t *b, size_t n)
{
    if (n >= b->len) {
        lc_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *lc_buf_steal(lc_buf_t *b)
{
    char *p = b->data;
    lc_buf_init(b);
    return p;
}
