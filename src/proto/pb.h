/* Client protocol v2, Protobuf form (spec §1.1, §1.2, §8.1): the messages of client.proto,
 * each prefixed by its length as an unsigned varint.
 *
 * Incoming Commands are decoded into the same lc_cmd_t as JSON ones (lc_cmd_reader_init_pb in
 * codec.h). Outgoing, the session and the engine produce the JSON form of every reply and
 * push; a Protobuf connection's transport turns that into Protobuf messages when it frames
 * it. A publication is framed once per framing kind, so this costs one conversion per
 * publication for all Protobuf subscribers, not one per subscriber. `bytes` fields (data,
 * conn_info, chan_info, ...) carry the raw JSON text of the JSON form, byte for byte. */
#ifndef LC_PROTO_PB_H
#define LC_PROTO_PB_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Longest varint: 10 bytes for a 64-bit value. */
#define LC_PB_VARINT_MAX 10

/* Write v as an unsigned varint into out; returns its length. */
size_t lc_pb_varint_put(uint8_t out[LC_PB_VARINT_MAX], uint64_t v);
/* Read an unsigned varint from p[0..n): its length (> 0) and *v; 0 when p ends inside it;
 * LC_EPARSE when it runs over 10 bytes or 64 bits. */
int lc_pb_varint_get(const uint8_t *p, size_t n, uint64_t *v);

/* Append the Protobuf form of json[0..len) to out: each '\n'-separated JSON Reply becomes one
 * varint-length-delimited Reply. 0, LC_EPARSE (not a Reply in the JSON form), LC_ENOMEM. */
int lc_pb_replies_from_json(lc_buf_t *out, const char *json, size_t len);

/* POST /emulation with application/octet-stream: the EmulationRequest message (not
 * length-prefixed). Strings are NUL-terminated copies; data is the inner varint-delimited
 * Commands. Free with lc_pb_emulation_free. 0, LC_EPARSE, LC_ENOMEM. */
typedef struct lc_pb_emulation {
    char *node;
    char *session;
    uint8_t *data;
    size_t data_len;
} lc_pb_emulation_t;

int lc_pb_emulation_decode(const void *body, size_t len, lc_pb_emulation_t *out);
void lc_pb_emulation_free(lc_pb_emulation_t *e);

#endif
