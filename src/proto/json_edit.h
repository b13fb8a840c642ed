/* Edits of JSON text that keep every other byte as it was: numbers past 2^53, "12.50",
 * unicode escapes and key order reach subscribers exactly as the publisher wrote them, which
 * re-printing through a parser cannot promise (cJSON turns 1234567890123456789 into
 * 1.2345678901234568e+18 and 12.50 into 12.5). */
#ifndef LC_PROTO_JSON_EDIT_H
#define LC_PROTO_JSON_EDIT_H

#include <stddef.h>

#include "proto/codec.h"
#include "util/buf.h"

/* Remove every member named `key` (compared after unescaping) from the top-level object of
 * the JSON text p[0..n) and append the result to out: the other members, the whitespace and
 * the separators that remain are the input's bytes. *value (may be NULL) gets the raw text of
 * the first removed member's value, pointing into p ({NULL, 0} when none). Returns 1 when a
 * member was removed, 0 when there is none (out untouched), LC_EPARSE when p is not a JSON
 * object, LC_ENOMEM. */
int lc_json_remove_member(const char *p, size_t n, const char *key, lc_buf_t *out, lc_raw_t *value);

#endif
