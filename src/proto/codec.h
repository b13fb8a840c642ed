/* Client protocol v2, JSON (spec §1): commands in, replies and pushes out.
 *
 * Incoming: one WebSocket message holds one or more Command objects separated by '\n'
 * (a trailing '\n' is tolerated). The reader hands them out one at a time so that a
 * malformed later command does not stop the earlier ones from being processed in order.
 *
 * Outgoing: each lc_proto_* encoder appends exactly one JSON object (no newline) to a
 * buffer; callers join several with '\n'. Zero values are omitted exactly as spec §1.3 says.
 * Raw JSON payloads (`data`, `info`, ...) are strict JSON (proto/json_check.h), checked where
 * they enter, and embedded byte for byte except for raw '\n' bytes (whitespace between tokens
 * in valid JSON), which are dropped so the newline framing stays intact. */
#ifndef LC_PROTO_CODEC_H
#define LC_PROTO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/rcbuf.h"

typedef enum lc_cmd_type {
    LC_CMD_NONE = 0, /* no known request field: a pong when id == 0, else bad request */
    LC_CMD_CONNECT,
    LC_CMD_SUBSCRIBE,
    LC_CMD_UNSUBSCRIBE,
    LC_CMD_PUBLISH,
    LC_CMD_PRESENCE,
    LC_CMD_PRESENCE_STATS,
    LC_CMD_HISTORY,
    LC_CMD_RPC,
    LC_CMD_SEND,
    LC_CMD_REFRESH,
    LC_CMD_SUB_REFRESH,
} lc_cmd_type;

/* A raw JSON value taken from the input: points into lc_cmd_t's own storage. */
typedef struct lc_raw {
    const char *p; /* NULL when absent (or JSON null) */
    size_t len;
} lc_raw_t;

/* One entry of connect `subs`: what the client knows of a server-side subscription. */
typedef struct lc_cmd_sub {
    char *channel;
    bool recover;
    uint64_t offset;
    char *epoch;
} lc_cmd_sub_t;

/* sub_refresh of a shared poll subscription (v6.8): an item to track, with the version the
 * client holds (0 = none), and a batch of items signed together. */
typedef struct lc_cmd_item {
    char *key;
    uint64_t version;
} lc_cmd_item_t;

typedef struct lc_cmd_track {
    char *signature; /* "" when absent */
    lc_cmd_item_t *items;
    size_t n_items;
} lc_cmd_track_t;

/* A string pair (connect `headers`). */
typedef struct lc_kv {
    char *key;
    char *value;
} lc_kv_t;

/* One decoded command. Strings are NUL-terminated and owned by the command; NULL = absent.
 * Which fields are filled depends on `type` (the first non-null request field in the order of
 * spec §1.3: connect, subscribe, unsubscribe, publish, presence, presence_stats, history,
 * rpc, send, refresh, sub_refresh). Unknown fields are ignored. */
typedef struct lc_cmd {
    uint32_t id;
    lc_cmd_type type;
    /* connect: token, data, name, version; subscribe: channel, token, recover, epoch, offset,
     * data, positioned, recoverable, join_leave; unsubscribe/presence/presence_stats: channel;
     * publish: channel, data; history: channel, limit, since, reverse; rpc: method, data;
     * send: data; refresh: token; sub_refresh: channel, token. */
    char *token;
    char *channel;
    char *method;
    char *name;
    char *version;
    char *epoch;
    lc_raw_t data;
    uint64_t offset;
    bool recover, positioned, recoverable, join_leave;
    /* subscribe (v6.x+): flag bits (LC_SUB_FLAG_*), delta type wanted ("fossil"), subscription
     * type (0 = stream), tag filter as JSON text of a FilterNode (NULL = none) */
    int64_t flag;
    char *delta;
    int32_t sub_type;
    char *tf;
    /* map subscriptions (v6.8): subscribe phase (0 live, 1 stream, 2 state) and state page
     * cursor (NULL = first page), `limit` below is the page size; publish type (1 = map) with
     * the key and whether it is a removal */
    int32_t phase;
    char *cursor;
    int32_t pub_type;
    char *key;
    bool removed;
    int32_t limit;
    bool has_limit;
    bool reverse;
    bool has_since;
    uint64_t since_offset;
    char *since_epoch;
    /* sub_refresh (v6.8 shared poll): type (1 track, 2 untrack, 0 a token refresh), the
     * signed batches to track and the keys to stop tracking */
    int32_t refresh_type;
    lc_cmd_track_t *track;
    size_t n_track;
    char **untrack;
    size_t n_untrack;
    char *track_json; /* core's: the items as JSON for a Lua track hook (owned, NULL = none) */
    /* connect: subs, headers (headers emulation: forwarded to proxies when allowed) */
    lc_cmd_sub_t *subs;
    size_t n_subs;
    lc_kv_t *headers;
    size_t n_headers;
    /* private storage: a copy of the command text the raw values point into */
    char *storage_;
} lc_cmd_t;

/* Subscribe request flag bits (centrifuge-js sends channel compaction on every subscribe). */
enum {
    LC_SUB_FLAG_COMPACTION = 1 << 0,         /* numeric channel ids in pushes: not offered */
    LC_SUB_FLAG_REJECT_UNRECOVERED = 1 << 1, /* a recovery that fails is error 112 */
};

typedef struct lc_cmd_reader {
    const char *p;
    const char *end;
    bool pb; /* Protobuf: varint-length-delimited Command messages (proto/pb.h) */
} lc_cmd_reader_t;

void lc_cmd_reader_init(lc_cmd_reader_t *r, const char *data, size_t len);
/* The same for a message of the Protobuf protocol: the commands come out as the same lc_cmd_t
 * (a `data` that is not JSON, a malformed varint or a truncated message is LC_EPARSE). */
void lc_cmd_reader_init_pb(lc_cmd_reader_t *r, const char *data, size_t len);
/* Next command: 1 and *cmd filled (free with lc_cmd_free), 0 at the end of the message,
 * LC_EPARSE when the next object is malformed (not JSON, not an object, wrong field type such
 * as a string id, empty line between objects). */
int lc_cmd_reader_next(lc_cmd_reader_t *r, lc_cmd_t *cmd);
void lc_cmd_free(lc_cmd_t *cmd);
/* The connect command's `subs` entry for channel, or NULL. */
const lc_cmd_sub_t *lc_cmd_find_sub(const lc_cmd_t *cmd, const char *channel);

/* ClientInfo (spec §1.7): user and client always written; conn_info / chan_info raw JSON. */
typedef struct lc_client_info {
    const char *user;
    const char *client;
    lc_raw_t conn_info;
    lc_raw_t chan_info;
} lc_client_info_t;

/* Publication (spec §1.7). */
typedef struct lc_publication {
    lc_raw_t data;                /* raw JSON, required */
    const lc_client_info_t *info; /* publisher, NULL for server API publications */
    uint64_t offset;              /* 0 = omitted */
    lc_raw_t tags;                /* raw JSON object of string→string, NULL/empty = omitted */
    /* map channels: the entry's key (NULL = none), a removal, its score (0 = omitted) */
    const char *key;
    size_t keylen;
    bool removed;
    int64_t score;
} lc_publication_t;

typedef struct lc_connect_result {
    const char *client;
    const char *version;
    bool expires;
    uint32_t ttl;
    lc_raw_t data;
    uint32_t ping; /* 0 = omitted */
    bool pong;
    int64_t time_ms;     /* 0 = omitted */
    lc_raw_t subs;       /* pre-encoded object channel → SubscribeResult (server-side subs) */
    const char *session; /* emulation and unidirectional transports */
    const char *node;    /* emulation: the node that owns the session */
} lc_connect_result_t;

typedef struct lc_subscribe_result {
    bool expires;
    uint32_t ttl;
    bool recoverable;
    bool positioned;
    const char *epoch; /* NULL/"" = omitted */
    uint64_t offset;
    bool recovered;
    bool was_recovering;
    lc_raw_t data;
    /* Recovered publications: encoded Publication objects, written as "publications" (with
     * `delta`, in the form lc_proto_pub_as_string gives them). */
    lc_rcbuf_t *const *publications;
    size_t n_publications;
    bool delta;                /* fossil deltas negotiated */
    uint32_t publish_debounce; /* ms the SDK holds client publishes back (0 = omitted) */
    /* map subscriptions: type (1), phase (0 live = omitted, 1 stream, 2 state), the next state
     * page's cursor, and state entries (encoded Publication objects with their keys) */
    int32_t type;
    int32_t phase;
    const char *cursor;
    lc_rcbuf_t *const *state;
    size_t n_state;
} lc_subscribe_result_t;

/* Reply encoders: {"id":N,"<kind>":{...}} */
int lc_proto_reply_error(lc_buf_t *b, uint32_t id, uint32_t code, const char *message,
                         bool temporary);
int lc_proto_reply_connect(lc_buf_t *b, uint32_t id, const lc_connect_result_t *r);
/* The ConnectResult object alone, and the connect push of unidirectional transports
 * ({"push":{"connect":{...}}}: the transport drops the push wrapper). */
int lc_proto_encode_connect_result(lc_buf_t *b, const lc_connect_result_t *r);
int lc_proto_push_connect(lc_buf_t *b, const lc_connect_result_t *r);
int lc_proto_reply_subscribe(lc_buf_t *b, uint32_t id, const lc_subscribe_result_t *r);
/* The SubscribeResult object alone (used in the reply, the subscribe push and connect subs). */
int lc_proto_encode_subscribe_result(lc_buf_t *b, const lc_subscribe_result_t *r);
/* {"push":{"channel":"ch","subscribe":{...}}}: a server-side subscription added at runtime. */
int lc_proto_push_subscribe(lc_buf_t *b, const char *channel, const lc_subscribe_result_t *r);
/* {"push":{"channel":"ch","join":{"info":{...}}}} (or "leave"). */
int lc_proto_push_join_leave(lc_buf_t *b, const char *channel, size_t chlen, bool join,
                             const lc_client_info_t *ci);
/* {"push":{"refresh":{"expires":true,"ttl":N}}} */
int lc_proto_push_refresh(lc_buf_t *b, bool expires, uint32_t ttl);
/* {"id":N,"<kind>":{}} for results that are empty objects (unsubscribe, publish, ...). */
int lc_proto_reply_empty(lc_buf_t *b, uint32_t id, const char *kind);
/* Server ping: {} */
int lc_proto_ping(lc_buf_t *b);

/* Push encoders: {"push":{"channel":"ch","pub":{...}}} etc. */
int lc_proto_push_pub(lc_buf_t *b, const char *channel, size_t chlen, const lc_publication_t *p);
int lc_proto_push_unsubscribe(lc_buf_t *b, const char *channel, uint32_t code, const char *reason);
/* Pieces used by the server API as well. */
int lc_proto_encode_publication(lc_buf_t *b, const lc_publication_t *p);
int lc_proto_encode_client_info(lc_buf_t *b, const lc_client_info_t *ci);
/* Delta compression (spec §1.7): `json` holds a Publication whose `data` sits at `path`
 * (depth keys), and ends with `tail` bytes after the Publication's closing brace (0 for a
 * Publication alone, 2 for a `{"push":{...,"pub":{...}}}` push whose pub is its last
 * member). Appends it to out with data written as a JSON string — of repl[0..repl_len), or of
 * data's own text when repl is NULL — and `"delta":<delta>` added to the Publication. The
 * member `delta` is what tells the Protobuf encoder that data is a string of bytes. 0,
 * LC_EPARSE (no data there, or repl is not UTF-8), LC_ENOMEM. */
int lc_proto_pub_as_string(lc_buf_t *out, const char *json, size_t len, const char *const *path,
                           size_t depth, size_t tail, const char *repl, size_t repl_len,
                           bool delta);

/* Append raw JSON with raw '\n' bytes removed (everything else, '\r' included, kept). */
int lc_proto_append_raw(lc_buf_t *b, const char *p, size_t len);

/* Whether p[0..len) is exactly one strictly valid JSON value (lc_json_check). */
bool lc_json_valid(const char *p, size_t len);

/* Find the raw text of a value inside valid JSON `json` by a path of object keys (e.g.
 * {"publish","data"}). Returns 1 and sets *out when found (JSON null counts as absent:
 * returns 0), 0 when absent, LC_EPARSE when json is not strictly valid (lc_json_check). Used
 * to carry `data` byte for byte (big integers and number formatting survive, as in
 * Centrifugo). */
int lc_json_raw_get(const char *json, size_t len, const char *const *path, size_t depth,
                    lc_raw_t *out);

#endif
