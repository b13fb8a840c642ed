/* The failure path of LC_ASSERT: one line on stderr, then abort (a core dump, or the
 * sanitizer's stack trace). */
#include "util/assert.h"

#include <stdio.h>
#include <stdlib.h>

void lc_assert_fail(const char *cond, const char *file, int line)
{
    fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, cond);
    fflush(stderr);
    abort();
}
