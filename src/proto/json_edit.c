/* Byte-exact edits of JSON text (json_edit.h): a small scanner finds where each member of the
 * top-level object begins and ends; what is removed is cut out, nothing is re-printed. */
#include "proto/json_edit.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

static size_t skip_ws(const char *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* p[i] is '"': the index after the closing quote, or 0 when unterminated. */
static size_t skip_string(const char *p, size_t i, size_t n)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return 0;
}

/* The index after the value starting at p[i], or 0 when malformed. Nested arrays and objects
 * are skipped by counting brackets outside strings (the text's validity is checked elsewhere;
 * this only has to find the end). */
static size_t skip_value(const char *p, size_t i, size_t n)
{
    if (i >= n)
        return 0;
    if (p[i] == '"')
        return skip_string(p, i, n);
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        while (i < n) {
            char ch = p[i];
            if (ch == '"') {
                i = skip_string(p, i, n);
                if (!i)
                    return 0;
                continue;
            }
            if (ch == '{' || ch == '[')
                depth++;
            else if (ch == '}' || ch == ']')
                depth--;
            i++;
            if (depth == 0)
                return i;
        }
        return 0;
    }
    size_t start = i;
    while (i < n && !strchr(",}] \t\r\n", p[i]))
        i++;
    return i > start ? i : 0;
}

/* Whether the key literal p[a..b) (quotes included) names key. */
static bool key_is(const char *p, size_t a, size_t b, const char *key)
{
    size_t kl = strlen(key);
    if (!memchr(p + a, '\\', b - a))
        return b - a == kl + 2 && memcmp(p + a + 1, key, kl) == 0;
    /* an escaped key: compare what it means */
    cJSON *s = cJSON_ParseWithLength(p + a, b - a);
    bool same = cJSON_IsString(s) && strcmp(s->valuestring, key) == 0;
    cJSON_Delete(s);
    return same;
}

typedef struct span {
    size_t from, to; /* bytes to drop */
} span_t;

int lc_json_remove_member(const char *p, size_t n, const char *key, lc_buf_t *out, lc_raw_t *value)
{
    if (value)
        *value = (lc_raw_t){NULL, 0};
    size_t i = skip_ws(p, 0, n);
    if (i >= n || p[i] != '{')
        return LC_EPARSE;
    i = skip_ws(p, i + 1, n);
    span_t *drop = NULL;
    size_t ndrop = 0, cap = 0;
    size_t kept_end = 0; /* end of the last member kept */
    bool first = true;   /* no member kept yet */
    int rc = 0;
    if (i < n && p[i] == '}') {
        i++;
    } else {
        for (;;) {
            if (i >= n || p[i] != '"') {
                rc = LC_EPARSE;
                break;
            }
            size_t kstart = i, kend = skip_string(p, i, n);
            if (!kend) {
                rc = LC_EPARSE;
                break;
            }
            i = skip_ws(p, kend, n);
            if (i >= n || p[i] != ':') {
                rc = LC_EPARSE;
                break;
            }
            size_t vstart = skip_ws(p, i + 1, n);
            size_t vend = skip_value(p, vstart, n);
            if (!vend) {
                rc = LC_EPARSE;
                break;
            }
            i = skip_ws(p, vend, n);
            bool more = i < n && p[i] == ',';
            if (!more && (i >= n || p[i] != '}')) {
                rc = LC_EPARSE;
                break;
            }
            if (key_is(p, kstart, kend, key)) {
                if (value && !value->p)
                    *value = (lc_raw_t){p + vstart, vend - vstart};
                span_t s;
                if (more) /* the member, its comma and the space up to the next key */
                    s = (span_t){kstart, skip_ws(p, i + 1, n)};
                else if (!first) /* the last one: from the end of the last member kept */
                    s = (span_t){kept_end, vend};
                else /* the only one */
                    s = (span_t){kstart, vend};
                if (ndrop == cap) {
                    size_t ncap = cap ? cap * 2 : 2;
                    span_t *nd = realloc(drop, ncap * sizeof(*nd));
                    if (!nd) {
                        rc = LC_ENOMEM;
                        break;
                    }
                    drop = nd;
                    cap = ncap;
                }
                /* the last member's span swallows those dropped after the last kept one */
                while (ndrop > 0 && drop[ndrop - 1].from >= s.from)
                    ndrop--;
                drop[ndrop++] = s;
            } else {
                first = false;
                kept_end = vend;
            }
            if (!more) {
                i++;
                break;
            }
            i = skip_ws(p, i + 1, n);
        }
    }
    if (!rc && skip_ws(p, i, n) != n)
        rc = LC_EPARSE;
    if (!rc && ndrop > 0) {
        size_t at = 0;
        for (size_t k = 0; !rc && k < ndrop; k++) {
            rc = lc_buf_append(out, p + at, drop[k].from - at);
            at = drop[k].to;
        }
        if (!rc)
            rc = lc_buf_append(out, p + at, n - at);
        rc = rc ? LC_ENOMEM : 1;
    }
    free(drop);
    return rc;
}
