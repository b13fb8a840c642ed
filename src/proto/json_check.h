/* Strict JSON validation (RFC 8259) for everything that enters Lucent as JSON text: client
 * commands, emulation and stream bodies, server API requests, proxy replies and Lua results.
 * A text that passes is relayed and stored byte for byte; one that fails is refused with the
 * protocol's error (107, disconnect 3501 or HTTP 400) and never reaches anyone.
 *
 * cJSON stays the parser (typed access to fields); it is not a validator: it accepts raw
 * control characters and invalid UTF-8 inside strings, any byte <= 32 as whitespace, a
 * leading BOM, and it truncates strings at an escaped NUL. What this module accepts cJSON
 * parses to the same tree, so a text is checked here first and parsed there second. */
#ifndef LC_PROTO_JSON_CHECK_H
#define LC_PROTO_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Deepest nesting of arrays and objects accepted. Checking needs no recursion; the bound
 * keeps cJSON's recursive parse and the scanners that follow it short. */
#define LC_JSON_MAX_DEPTH 128

typedef struct lc_json_check {
    size_t at;       /* on failure: byte offset of the offending input */
    const char *why; /* on failure: a short static reason for the log line */
    bool nul;        /* on success: some string (or key) holds the escape \u0000 */
} lc_json_check_t;

/* Whether p[0..n) is exactly one JSON value, optionally surrounded by JSON whitespace (space,
 * tab, CR, LF): objects, arrays, strings, numbers and the three literals per RFC 8259; strings
 * without raw control characters (< 0x20), escapes among the nine the RFC defines, \uXXXX
 * surrogates only as a high/low pair; valid UTF-8 everywhere (shortest form, no surrogates,
 * at most U+10FFFF); nesting at most LC_JSON_MAX_DEPTH. No BOM, no trailing bytes. `out` may
 * be NULL. */
bool lc_json_check(const char *p, size_t n, lc_json_check_t *out);

/* The same check for a value that must be a JSON object (connect requests, API bodies). */
bool lc_json_check_object(const char *p, size_t n, lc_json_check_t *out);

/* Whether s[0..n) is valid UTF-8 as above (no JSON rules). */
bool lc_utf8_valid(const char *s, size_t n);

/* For text that passed lc_json_check with `nul` set: whether a string holding \u0000 sits
 * anywhere except inside the values of members whose key is one of `allow` (a NULL-terminated
 * list; NULL = none) at nesting level `level` (1 = members of the top-level object, 2 =
 * members of the objects inside it, and so on, arrays counting as a level; 0 = any level). Keys
 * holding \u0000 always count. Names, ids, tokens and info keys are C strings inside Lucent, where
 * a NUL would cut them short ("room\u0000x" would become "room"), so a text for which this is true
 * is refused; payloads (`data`) carry any string byte for byte. */
bool lc_json_nul_outside(const char *p, size_t n, int level, const char *const *allow);

/* p at a JSON string's opening quote: the byte after its closing quote, or NULL when it does
 * not end before `end` (escapes skipped, content not checked). Inline: the scanners of known
 * JSON (Protobuf transcoding, Pusher push reading) call it once per string. */
static inline const char *lc_json_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

#endif
