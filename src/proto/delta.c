/* Fossil delta encoder and decoder (see delta.h for the format).
 *
 * The encoder indexes the source by a rolling hash of every NHASH-byte block at block-aligned
 * offsets, then slides the same hash over the target one byte at a time. A hash hit is checked
 * byte by byte and grown forwards and backwards; the longest match that costs less than the
 * bytes it replaces becomes a copy, and the target bytes before it a literal insert. */
#include "proto/delta.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

#define NHASH 16
/* Candidates examined per target position: bounds the work on repetitive sources. */
#define MAX_CANDIDATES 64

static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~";

static int put_int(lc_buf_t *b, uint64_t v)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = digits[v & 63];
        v >>= 6;
    } while (v);
    char rev[16];
    for (int i = 0; i < n; i++)
        rev[i] = tmp[n - 1 - i];
    return lc_buf_append(b, rev, (size_t)n);
}

static size_t int_len(uint64_t v)
{
    size_t n = 1;
    while (v >>= 6)
        n++;
    return n;
}

static uint32_t checksum(const unsigned char *p, size_t n)
{
    uint32_t sum = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        sum += ((uint32_t)p[i] << 24) | ((uint32_t)p[i + 1] << 16) | ((uint32_t)p[i + 2] << 8) |
               p[i + 3];
    uint32_t last = 0;
    for (int shift = 24; i < n; i++, shift -= 8)
        last |= (uint32_t)p[i] << shift;
    return sum + last;
}

/* Rolling hash over an NHASH window: a = sum of the bytes, b = sum weighted by distance from
 * the window's end, so moving the window one byte costs two subtractions and additions. */
typedef struct roll {
    uint16_t a, b;
    const unsigned char *w; /* window start */
} roll_t;

static void roll_init(roll_t *r, const unsigned char *w)
{
    uint16_t a = 0, b = 0;
    for (int i = 0; i < NHASH; i++) {
        a += w[i];
        b += (uint16_t)((NHASH - i) * w[i]);
    }
    r->a = a;
    r->b = b;
    r->w = w;
}

static void roll_next(roll_t *r)
{
    unsigned char out = r->w[0], in = r->w[NHASH];
    r->a = (uint16_t)(r->a - out + in);
    r->b = (uint16_t)(r->b - NHASH * out + r->a);
    r->w++;
}

static uint32_t roll_value(const roll_t *r)
{
    return (uint32_t)r->a | ((uint32_t)r->b << 16);
}

static int put_insert(lc_buf_t *out, const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    if (put_int(out, n) < 0 || lc_buf_putc(out, ':') < 0)
        return LC_ENOMEM;
    return lc_buf_append(out, p, n);
}

int lc_delta_fossil(lc_buf_t *out, const char *srcc, size_t ns, const char *tgtc, size_t nt)
{
    const unsigned char *src = (const unsigned char *)srcc, *tgt = (const unsigned char *)tgtc;
    if (put_int(out, nt) < 0 || lc_buf_putc(out, '\n') < 0)
        return LC_ENOMEM;
    if (ns <= NHASH || nt <= NHASH) {
        if (put_insert(out, tgt, nt) < 0 || put_int(out, checksum(tgt, nt)) < 0 ||
            lc_buf_putc(out, ';') < 0)
            return LC_ENOMEM;
        return 0;
    }

    /* the source's blocks by hash: head[h] is the last block with that hash, next[] chains */
    size_t nblocks = ns / NHASH;
    int64_t *head = malloc(nblocks * sizeof(*head));
    int64_t *next = malloc(nblocks * sizeof(*next));
    if (!head || !next) {
        free(head);
        free(next);
        return LC_ENOMEM;
    }
    for (size_t i = 0; i < nblocks; i++)
        head[i] = -1;
    for (size_t blk = 0; blk < nblocks; blk++) {
        roll_t r;
        roll_init(&r, src + blk * NHASH);
        size_t h = roll_value(&r) % nblocks;
        next[blk] = head[h];
        head[h] = (int64_t)blk;
    }

    int rc = 0;
    size_t base = 0; /* target bytes before base are written */
    while (rc == 0 && base + NHASH < nt) {
        roll_t r;
        roll_init(&r, tgt + base);
        size_t i = 0; /* window at tgt[base + i] */
        for (;;) {
            size_t best_cnt = 0, best_src = 0, best_tgt = 0;
            int64_t blk = head[roll_value(&r) % nblocks];
            for (int tries = 0; blk >= 0 && tries < MAX_CANDIDATES; tries++, blk = next[blk]) {
                size_t q = (size_t)blk * NHASH, p = base + i;
                size_t f = 0;
                while (q + f < ns && p + f < nt && src[q + f] == tgt[p + f])
                    f++;
                if (f < NHASH / 2)
                    continue; /* a hash collision, or too short to pay */
                size_t back = 0;
                while (back < q && back < i && src[q - back - 1] == tgt[p - back - 1])
                    back++;
                size_t cnt = f + back, ofst = q - back;
                /* a copy command costs its digits and two punctuation bytes */
                if (cnt > int_len(cnt) + int_len(ofst) + 2 && cnt > best_cnt) {
                    best_cnt = cnt;
                    best_src = ofst;
                    best_tgt = p - back;
                }
            }
            if (best_cnt > 0) {
                rc = put_insert(out, tgt + base, best_tgt - base);
                if (rc == 0 && (put_int(out, best_cnt) < 0 || lc_buf_putc(out, '@') < 0 ||
                                put_int(out, best_src) < 0 || lc_buf_putc(out, ',') < 0))
                    rc = LC_ENOMEM;
                base = best_tgt + best_cnt;
                break;
            }
            if (base + i + NHASH >= nt)
                goto tail; /* no match before the end: the rest is a literal insert */
            roll_next(&r);
            i++;
        }
    }
tail:
    if (rc == 0 && base < nt)
        rc = put_insert(out, tgt + base, nt - base);
    if (rc == 0 && (put_int(out, checksum(tgt, nt)) < 0 || lc_buf_putc(out, ';') < 0))
        rc = LC_ENOMEM;
    free(head);
    free(next);
    return rc;
}

/* ---- decoder ---- */

static int value_of(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    if (c == '_')
        return 36;
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 37;
    if (c == '~')
        return 63;
    return -1;
}

static int get_int(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    const unsigned char *s = *p;
    int d;
    while (*p < end && (d = value_of(**p)) >= 0) {
        if (r >> 58)
            return LC_EPARSE;
        r = (r << 6) | (uint64_t)d;
        (*p)++;
    }
    if (*p == s)
        return LC_EPARSE;
    *v = r;
    return 0;
}

int lc_delta_fossil_apply(lc_buf_t *out, const char *srcc, size_t ns, const char *delta, size_t nd)
{
    const unsigned char *p = (const unsigned char *)delta, *end = p + nd;
    const unsigned char *src = (const unsigned char *)srcc;
    uint64_t limit, cnt, ofst;
    size_t start = out->len;
    if (get_int(&p, end, &limit) < 0 || p >= end || *p++ != '\n')
        return LC_EPARSE;
    while (p < end) {
        if (get_int(&p, end, &cnt) < 0 || p >= end)
            return LC_EPARSE;
        switch (*p++) {
        case '@':
            if (get_int(&p, end, &ofst) < 0 || p >= end || *p++ != ',')
                return LC_EPARSE;
            if (out->len - start + cnt > limit || ofst > ns || cnt > ns - ofst)
                return LC_EPARSE;
            if (lc_buf_append(out, src + ofst, (size_t)cnt) < 0)
                return LC_ENOMEM;
            break;
        case ':':
            if (out->len - start + cnt > limit || cnt > (uint64_t)(end - p))
                return LC_EPARSE;
            if (lc_buf_append(out, p, (size_t)cnt) < 0)
                return LC_ENOMEM;
            p += cnt;
            break;
        case ';':
            if (out->len - start != limit ||
                cnt != checksum((const unsigned char *)out->data + start, out->len - start))
                return LC_EPARSE;
            return 0;
        default:
            return LC_EPARSE;
        }
    }
    return LC_EPARSE;
}
