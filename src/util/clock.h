/* Clocks and Go-style durations. */
#ifndef LC_UTIL_CLOCK_H
#define LC_UTIL_CLOCK_H

#include <stdint.h>

int64_t lc_now_ms(void);  /* wall clock, Unix milliseconds */
int64_t lc_now_s(void);   /* wall clock, Unix seconds */
int64_t lc_mono_ms(void); /* monotonic milliseconds */

/* Parse a Go duration string ("25s", "1000ms", "1h30m", "720h", "1.5s", "0", "-1s") into
 * milliseconds. Units: ns, us, µs, ms, s, m, h. 0 or LC_EINVAL. */
int lc_duration_parse(const char *s, int64_t *ms);
/* Format milliseconds as a Go-style duration ("25s", "1m30s", "500ms"); out holds >= 32. */
void lc_duration_format(int64_t ms, char *out, int outlen);

#endif
