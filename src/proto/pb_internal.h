/* Shared by the Protobuf decoder and encoder: a bump allocator that protobuf-c allocates
 * from while one message is decoded or built, released at once afterwards. */
#ifndef LC_PROTO_PB_INTERNAL_H
#define LC_PROTO_PB_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "client.pb-c.h"

typedef struct lc__pb_block lc__pb_block_t;

typedef struct lc__pb_arena {
    ProtobufCAllocator alloc; /* hands out memory from the blocks below */
    lc__pb_block_t *blocks;
    char *p, *end; /* free room in the newest block */
} lc__pb_arena_t;

void lc__pb_arena_init(lc__pb_arena_t *a);
void *lc__pb_arena_alloc(lc__pb_arena_t *a, size_t n);
void lc__pb_arena_free(lc__pb_arena_t *a);

/* lc_cmd_reader_next for a Protobuf reader (pb_decode.c). */
struct lc_cmd_reader;
struct lc_cmd;
int lc__pb_cmd_next(struct lc_cmd_reader *r, struct lc_cmd *cmd);

/* The shared poll fields of a sub_refresh (decode_track.c): type, track, untrack. 0, LC_EPARSE
 * (a field of the wrong shape) or LC_ENOMEM; what was filled is freed by lc_cmd_free. */
struct cJSON;
int lc__decode_track_json(const struct cJSON *req, struct lc_cmd *cmd);
int lc__decode_track_pb(const Lcpb__SubRefreshRequest *m, struct lc_cmd *cmd);
void lc__track_free(struct lc_cmd *cmd);

#endif
