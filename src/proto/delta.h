/* Fossil deltas (the delta format of the Fossil SCM, which Centrifugo's delta compression and
 * every official SDK use): a target expressed as copies from a source plus literal inserts,
 * followed by a checksum of the target.
 *
 * The format, as published (www/delta_format.wiki): integers are written in base 64 with the
 * digits 0-9 A-Z _ a-z ~. A delta is `<target length>\n`, then commands — `<n>@<offset>,`
 * copies n bytes of the source from offset, `<n>:` followed by n bytes inserts them — and ends
 * with `<checksum>;`, the 32-bit sum of the target read as big-endian words (a last partial
 * word padded with zeros). */
#ifndef LC_PROTO_DELTA_H
#define LC_PROTO_DELTA_H

#include <stddef.h>

#include "util/buf.h"

/* Append the fossil delta that turns src[0..ns) into tgt[0..nt) to out. 0 or LC_ENOMEM. */
int lc_delta_fossil(lc_buf_t *out, const char *src, size_t ns, const char *tgt, size_t nt);

/* Apply a fossil delta: out receives the target. 0, LC_EPARSE (malformed, or the checksum or
 * length does not match), LC_ENOMEM. Used by the tests and to check deltas. */
int lc_delta_fossil_apply(lc_buf_t *out, const char *src, size_t ns, const char *delta, size_t nd);

#endif
