/* Strict JSON validation, hand-written on purpose: the JSON library Lucent uses (cJSON) parses
 * leniently and has no strict mode, and no other JSON library is a dependency. The grammar is
 * RFC 8259 §2-§8, UTF-8 follows Unicode's table 3-7 (well-formed byte sequences). The checker
 * is one loop over the bytes with an explicit stack of open containers, so hostile nesting
 * costs LC_JSON_MAX_DEPTH bytes, never C stack. */
#include "proto/json_check.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

typedef const unsigned char *ptr_t;

typedef struct scan {
    ptr_t start, end;
    lc_json_check_t *out;
    bool nul;
} scan_t;

static bool fail(scan_t *s, ptr_t at, const char *why)
{
    if (s->out != NULL) {
        s->out->at = (size_t)(at - s->start);
        s->out->why = why;
        s->out->nul = false;
    }
    return false;
}

static ptr_t skip_ws(ptr_t p, ptr_t end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* Length of the well-formed UTF-8 sequence at p (p[0] >= 0x80), 0 when there is none. */
static size_t utf8_seq(ptr_t p, ptr_t end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0; /* shorter forms are overlong */
        else if (c == 0xED)
            hi = 0x9F; /* ED A0..BF encode the surrogates U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 (overlong ASCII) or F5..FF */
    }
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

bool lc_utf8_valid(const char *s, size_t n)
{
    ptr_t p = (ptr_t)s, end = p + n;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t k = utf8_seq(p, end);
        if (k == 0)
            return false;
        p += k;
    }
    return true;
}

/* The value of four hex digits at p, -1 when they are not. */
static long hex4(ptr_t p, ptr_t end)
{
    long v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = (int)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (int)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (int)(c - 'A' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* *pp at the opening quote; on success *pp is past the closing quote. */
static bool string(scan_t *s, ptr_t *pp)
{
    ptr_t p = *pp + 1, end = s->end;

    for (;;) {
        if (p >= end)
            return fail(s, p, "unterminated string");
        unsigned c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(s, p, "raw control character in string");
        if (c >= 0x80) {
            size_t k = utf8_seq(p, end);
            if (k == 0)
                return fail(s, p, "invalid UTF-8");
            p += k;
            continue;
        }
        if (c != '\\') {
            p++;
            continue;
        }
        if (p + 1 >= end)
            return fail(s, p, "unterminated string");
        c = p[1];
        if (c != 'u') {
            if (!strchr("\"\\/bfnrt", (int)c) || c == '\0')
                return fail(s, p, "invalid escape");
            p += 2;
            continue;
        }
        long cp = hex4(p + 2, end);
        if (cp < 0)
            return fail(s, p, "invalid \\u escape");
        if (cp == 0)
            s->nul = true;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(s, p, "lone low surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            long lo = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8, end) : -1;
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(s, p, "lone high surrogate escape");
            p += 6;
        }
        p += 6;
    }
    *pp = p + 1;
    return true;
}

static ptr_t digits(ptr_t p, ptr_t end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool number(scan_t *s, ptr_t *pp)
{
    ptr_t p = *pp, end = s->end, q;

    if (*p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return fail(s, p, "invalid number");
    p = *p == '0' ? p + 1 : digits(p, end);
    if (p < end && *p == '.') {
        q = digits(p + 1, end);
        if (q == p + 1)
            return fail(s, p, "invalid number");
        p = q;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        q = digits(p, end);
        if (q == p)
            return fail(s, p, "invalid number");
        p = q;
    }
    *pp = p;
    return true;
}

static bool literal(scan_t *s, ptr_t *pp)
{
    static const char *const lits[] = {"true", "false", "null"};
    ptr_t p = *pp;
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(s->end - p) >= n && memcmp(p, lits[i], n) == 0) {
            *pp = p + n;
            return true;
        }
    }
    return fail(s, p, "invalid value");
}

/* A member's key and colon, *pp at the key's quote; *pp ends after the colon's whitespace. */
static bool key(scan_t *s, ptr_t *pp)
{
    ptr_t p = *pp;
    if (p >= s->end || *p != '"')
        return fail(s, p, "object key expected");
    if (!string(s, &p))
        return false;
    p = skip_ws(p, s->end);
    if (p >= s->end || *p != ':')
        return fail(s, p, "':' expected");
    *pp = skip_ws(p + 1, s->end);
    return true;
}

static bool check(const char *text, size_t n, lc_json_check_t *out, bool want_object)
{
    scan_t s = {(ptr_t)text, (ptr_t)text + n, out, false};
    unsigned char stack[LC_JSON_MAX_DEPTH]; /* '{' or '[' per open container */
    size_t depth = 0;
    ptr_t p = skip_ws(s.start, s.end), end = s.end;

    if (text == NULL || p >= end)
        return fail(&s, p, "empty");
    if (want_object && *p != '{')
        return fail(&s, p, "object expected");
    for (;;) {
        /* a value at p */
        if (p >= end)
            return fail(&s, p, "value expected");
        switch (*p) {
        case '{':
        case '[':
            if (depth == LC_JSON_MAX_DEPTH)
                return fail(&s, p, "nested too deeply");
            stack[depth++] = *p;
            p = skip_ws(p + 1, end);
            if (p < end && *p == (stack[depth - 1] == '{' ? '}' : ']')) {
                depth--;
                p++;
                break;
            }
            if (stack[depth - 1] == '{' && !key(&s, &p))
                return false;
            continue;
        case '"':
            if (!string(&s, &p))
                return false;
            break;
        case '-':
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7':
        case '8':
        case '9':
            if (!number(&s, &p))
                return false;
            break;
        default:
            if (!literal(&s, &p))
                return false;
            break;
        }
        /* after a value: close containers, or a comma and the next value */
        for (;;) {
            p = skip_ws(p, end);
            if (depth == 0) {
                if (p != end)
                    return fail(&s, p, "trailing bytes");
                if (out != NULL) {
                    out->at = 0;
                    out->why = NULL;
                    out->nul = s.nul;
                }
                return true;
            }
            if (p >= end)
                return fail(&s, p, "unterminated container");
            unsigned char close = stack[depth - 1] == '{' ? '}' : ']';
            if (*p == close) {
                depth--;
                p++;
                continue;
            }
            if (*p != ',')
                return fail(&s, p, "',' expected");
            p = skip_ws(p + 1, end);
            if (stack[depth - 1] == '{' && !key(&s, &p))
                return false;
            break;
        }
    }
}

bool lc_json_check(const char *p, size_t n, lc_json_check_t *out)
{
    return check(p, n, out, false);
}

bool lc_json_check_object(const char *p, size_t n, lc_json_check_t *out)
{
    return check(p, n, out, true);
}

/* ---- where the NUL escapes are (on text that passed the check) ---- */

/* p at the opening quote of a valid string; *has_nul set when it holds \u0000. Returns the
 * byte after the closing quote. */
static ptr_t string_nul(ptr_t p, ptr_t end, bool *has_nul)
{
    *has_nul = false;
    for (p++; p < end && *p != '"'; p++) {
        if (*p != '\\')
            continue;
        if (p + 5 < end && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
            *has_nul = true;
        p++; /* the escaped byte; a \u's hex digits are plain bytes */
    }
    return p < end ? p + 1 : end;
}

static bool allowed_key(ptr_t ks, ptr_t ke, const char *const *allow)
{
    size_t n = (size_t)(ke - ks) - 2; /* without the quotes */
    for (; allow != NULL && *allow != NULL; allow++)
        if (strlen(*allow) == n && memcmp(ks + 1, *allow, n) == 0)
            return true;
    return false;
}

bool lc_json_nul_outside(const char *text, size_t n, int level, const char *const *allow)
{
    ptr_t p = (ptr_t)text, end = p + n;
    int depth = 0;
    int free_above = INT_MAX; /* strings deeper than this are inside an allowed value */
    bool pending = false;     /* the next value belongs to an allowed key */

    while (p < end) {
        unsigned c = *p;
        if (c == '"') {
            bool has_nul;
            ptr_t ks = p;
            p = string_nul(p, end, &has_nul);
            ptr_t q = skip_ws(p, end);
            bool is_key = q < end && *q == ':';
            if (depth > free_above)
                continue;
            if (is_key) {
                if (has_nul)
                    return true;
                pending = (level <= 0 || depth == level) && allowed_key(ks, p, allow);
            } else {
                if (has_nul && !pending)
                    return true;
                pending = false;
            }
            continue;
        }
        if (c == '{' || c == '[') {
            if (pending && depth <= free_above)
                free_above = depth;
            pending = false;
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
            if (depth == free_above)
                free_above = INT_MAX;
        } else if (c == ',') {
            if (depth <= free_above)
                pending = false;
        }
        p++;
    }
    return false;
}
