/* The JSON bodies of the HTTP transports that are not client commands: a unidirectional
 * transport's connect request (spec §8.2) and a POST /emulation body (spec §8.1). Both are
 * checked by the strict validator (proto/json_check.h) before anything is taken from them. */
#ifndef LC_PROTO_REQUEST_H
#define LC_PROTO_REQUEST_H

#include <stddef.h>

#include "util/buf.h"

/* `{"id":1,"connect":<request>}` appended to out for the connect request p[0..n) of a
 * unidirectional transport: a JSON object (`null` counts as `{}`), kept byte for byte (stream
 * offsets survive exactly) except for line breaks, which can only be whitespace in valid JSON
 * and become spaces so that the command stays one line. 0, LC_EPARSE (not strictly valid JSON,
 * not an object, or \u0000 outside `data`) or LC_ENOMEM. */
int lc_proto_uni_connect(const char *p, size_t n, lc_buf_t *out);

/* {"session":"…","node":"…","data":"<commands as a JSON string>"}: session and node are ""
 * when absent; data is NULL when absent or not a string (the commands are then dropped, as the
 * reference does). Strings are owned (free with lc_proto_emulation_free). */
typedef struct lc_emulation_req {
    char *session;
    char *node;
    char *data;
    size_t data_len;
} lc_emulation_req_t;

/* 0, LC_EPARSE (not strictly valid JSON, not an object, session or node not a string, or a
 * \u0000 anywhere: the strings are C strings) or LC_ENOMEM. *out is zeroed on failure. */
int lc_proto_emulation_parse(const char *body, size_t len, lc_emulation_req_t *out);
void lc_proto_emulation_free(lc_emulation_req_t *r);

#endif
