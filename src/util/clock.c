/* Clocks, and durations parsed and printed the way Go's time package does, since
 * configuration files written for Centrifugo use Go duration strings. */
#include "util/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/err.h"

int64_t lc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t lc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

int64_t lc_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define NS_LIMIT ((uint64_t)1 << 63) /* magnitude of INT64_MIN, as in Go */

static const struct {
    const char *name;
    uint64_t ns;
} duration_units[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000}, /* U+03BC Greek small letter mu */
    {"ms", 1000000},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Mirrors Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ or a bare "0". */
static int parse_ns(const char *s, int64_t *out)
{
    int neg = 0;
    uint64_t d = 0;
    if (*s == '-' || *s == '+') {
        neg = *s == '-';
        s++;
    }
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (*s == '\0')
        return LC_EINVAL;
    while (*s != '\0') {
        uint64_t v = 0, f = 0;
        double scale = 1.0;
        if (!(*s == '.' || is_digit(*s)))
            return LC_EINVAL;
        const char *start = s;
        for (; is_digit(*s); s++) {
            if (v > NS_LIMIT / 10)
                return LC_EINVAL;
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > NS_LIMIT)
                return LC_EINVAL;
        }
        int pre = s != start, post = 0;
        if (*s == '.') {
            s++;
            start = s;
            int overflow = 0;
            /* extra fraction digits are consumed but no longer add precision */
            for (; is_digit(*s); s++) {
                if (overflow)
                    continue;
                if (f > (NS_LIMIT - 1) / 10) {
                    overflow = 1;
                    continue;
                }
                uint64_t y = f * 10 + (uint64_t)(*s - '0');
                if (y > NS_LIMIT) {
                    overflow = 1;
                    continue;
                }
                f = y;
                scale *= 10;
            }
            post = s != start;
        }
        if (!pre && !post)
            return LC_EINVAL;
        size_t ulen = 0;
        while (s[ulen] != '\0' && s[ulen] != '.' && !is_digit(s[ulen]))
            ulen++;
        if (ulen == 0)
            return LC_EINVAL;
        uint64_t unit = 0;
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            if (strlen(duration_units[i].name) == ulen &&
                memcmp(duration_units[i].name, s, ulen) == 0) {
                unit = duration_units[i].ns;
                break;
            }
        }
        if (unit == 0)
            return LC_EINVAL;
        s += ulen;
        if (v > NS_LIMIT / unit)
            return LC_EINVAL;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > NS_LIMIT)
                return LC_EINVAL;
        }
        d += v;
        if (d > NS_LIMIT)
            return LC_EINVAL;
    }
    if (neg) {
        *out = d == NS_LIMIT ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > NS_LIMIT - 1)
        return LC_EINVAL;
    *out = (int64_t)d;
    return 0;
}

int lc_duration_parse(const char *s, int64_t *ms)
{
    int64_t ns;
    if (s == NULL)
        return LC_EINVAL;
    int rc = parse_ns(s, &ns);
    if (rc < 0)
        return rc;
    *ms = ns / 1000000; /* C division truncates toward zero */
    return 0;
}

void lc_duration_format(int64_t ms, char *out, int outlen)
{
    if (outlen <= 0)
        return;
    size_t cap = (size_t)outlen;
    uint64_t u = ms < 0 ? (uint64_t)0 - (uint64_t)ms : (uint64_t)ms;
    const char *sign = ms < 0 ? "-" : "";
    if (u == 0) {
        snprintf(out, cap, "0s");
        return;
    }
    if (u < 1000) {
        snprintf(out, cap, "%s%llums", sign, (unsigned long long)u);
        return;
    }
    uint64_t sec = u / 1000, frac = u % 1000;
    uint64_t h = sec / 3600, m = sec / 60 % 60, s = sec % 60;
    char fracs[8] = "";
    if (frac > 0) {
        /* ".5" not ".500", as Go prints it */
        unsigned digits = (unsigned)frac, width = 3;
        while (digits % 10 == 0) {
            digits /= 10;
            width--;
        }
        snprintf(fracs, sizeof(fracs), ".%0*u", (int)width, digits);
    }
    if (h > 0)
        snprintf(out, cap, "%s%lluh%llum%llu%ss", sign, (unsigned long long)h,
                 (unsigned long long)m, (unsigned long long)s, fracs);
    else if (m > 0)
        snprintf(out, cap, "%s%llum%llu%ss", sign, (unsigned long long)m, (unsigned long long)s,
                 fracs);
    else
        snprintf(out, cap, "%s%llu%ss", sign, (unsigned long long)s, fracs);
}
