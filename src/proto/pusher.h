/* Pusher Channels protocol 7 (shared/spec/pusher-protocol.md): the events a Pusher client sends,
 * decoded into the session's commands, the events Lucent sends back, and the mapping between a
 * Lucent publication and a Pusher event.
 *
 * Mapping (one hub for both protocols, so a Centrifugo and a Pusher client on one channel see
 * each other's publications):
 *   - channel: the Lucent channel is the app's channel_prefix followed by the Pusher name
 *     (config.h lc_pusher_app_t; "" by default: the same name).
 *   - event name: the publication's tag `event`; a publication without one (a Centrifugo
 *     client's, a server API publish without tags) reaches Pusher clients as event "message".
 *   - data: Pusher carries a string. A Pusher `data` string whose content is JSON other than a
 *     string (what Laravel sends: an object) becomes the publication's data as that JSON, byte
 *     for byte, so Centrifugo clients get the object; any other string is kept as the JSON
 *     string itself. Back to Pusher, data that is a JSON string is sent as it is, any other
 *     JSON as a string holding its exact text. Both ways restore the same string.
 *   - client events (`client-*`) carry any JSON value and are relayed verbatim both ways.
 *   - presence: a member is a presence entry whose user is the Pusher user_id (its text) and
 *     whose chan_info is the member's user_info; member_added / member_removed are the join
 *     and leave pushes of a user's first and last connection (core/client_pusher*.c). */
#ifndef LC_PROTO_PUSHER_H
#define LC_PROTO_PUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/codec.h"
#include "util/buf.h"

/* Pusher error and close codes (spec §2). */
enum {
    LC_PUSHER_APP_UNKNOWN = 4001,
    LC_PUSHER_APP_DISABLED = 4003,
    LC_PUSHER_OVER_QUOTA = 4004,
    LC_PUSHER_BAD_PROTOCOL = 4007,
    LC_PUSHER_UNAUTHORIZED = 4009,
    LC_PUSHER_OVER_CAPACITY = 4100,
    LC_PUSHER_RECONNECT = 4200,
    LC_PUSHER_NO_PONG = 4201,
    LC_PUSHER_CLIENT_EVENT_REJECTED = 4301,
};

/* The Pusher close code for a Lucent disconnect code (codes.h), so pusher-js reconnects where
 * a Centrifugo SDK would: shutdown, internal errors and forced reconnects 4200 (at once), a
 * slow consumer or a connection limit 4100 (after a backoff), no pong or stale 4201, a flood
 * 4301, the other terminal codes (3500-3999: bad request, force disconnect, permission) 4009.
 * Codes 4000-4999 are Pusher's already and stay. */
uint32_t lc_pusher_close_code(uint32_t code);

/* Channel kinds by name prefix (spec §3.1). */
typedef enum lc_pusher_chan {
    LC_PUSHER_PUBLIC = 0,
    LC_PUSHER_PRIVATE,
    LC_PUSHER_ENCRYPTED, /* private-encrypted-: authorized like private, data never inspected */
    LC_PUSHER_PRESENCE,
} lc_pusher_chan_t;

/* Whether name[0..len) is a channel name a client may use: 1..max_len bytes of
 * `A-Z a-z 0-9 _ - = @ , . ;` (`#` channels are Pusher-internal and not served). */
bool lc_pusher_channel_valid(const char *name, size_t len, size_t max_len);
lc_pusher_chan_t lc_pusher_channel_kind(const char *name, size_t len);
/* The Pusher name of Lucent channel ch for an app whose channel_prefix is prefix: ch without
 * it, or NULL when ch does not start with it or nothing follows. */
const char *lc_pusher_name_of(const char *ch, size_t len, const char *prefix, size_t *out_len);

/* Decode one Pusher event (one WebSocket text message) into cmd:
 *   pusher:subscribe    LC_CMD_PUSHER_SUBSCRIBE   channel, token = auth, channel_data
 *   pusher:unsubscribe  LC_CMD_PUSHER_UNSUBSCRIBE channel
 *   pusher:ping / pong  LC_CMD_PUSHER_PING / LC_CMD_PUSHER_PONG
 *   client-*            LC_CMD_PUSHER_CLIENT      name = event, channel, data (raw JSON value)
 *   anything else       LC_CMD_PUSHER_OTHER       name = event
 * `data` may be an object or a string holding one (Pusher SDKs differ). 1 and cmd filled
 * (free with lc_cmd_free); LC_EPARSE for a message that is not a strict JSON object with a
 * string `event`, or a subscribe without a string channel; LC_ENOMEM. */
int lc_pusher_decode(const char *msg, size_t len, lc_cmd_t *cmd);

/* The member in a presence subscription's channel_data: a JSON object with user_id (a string,
 * decoded, or a number, as written: 1 and "1" are one user) of 1..max_id bytes and optional
 * user_info (any JSON, at most max_info bytes). NULL with *user (owned) and *info (pointing into
 * cd; p NULL when absent) set, or why it is refused with the Pusher status in *status: 4302
 * malformed, 4301 over a limit (*user may be set then too: free it). */
const char *lc_pusher_member(const char *cd, size_t max_id, size_t max_info, char **user,
                             lc_raw_t *info, int *status);

/* --- events sent to Pusher clients: each appends one JSON object -------------------------- */

int lc_pusher_connection_established(lc_buf_t *b, const char *socket_id, int activity_timeout_s);
/* pusher:error with data {"code":code,"message":msg} as a string; code 0 writes null. */
int lc_pusher_error(lc_buf_t *b, uint32_t code, const char *msg);
/* pusher:subscription_error (Soketi's form, which Echo's .error() sees):
 * {"type":type,"error":msg,"status":status} as an object. */
int lc_pusher_subscription_error(lc_buf_t *b, const char *channel, const char *type,
                                 const char *msg, int status);
/* pusher_internal:subscription_succeeded; presence NULL: data "{}", else the string of
 * presence (the {"presence":{...}} object). */
int lc_pusher_subscription_succeeded(lc_buf_t *b, const char *channel, const char *presence,
                                     size_t presence_len);
/* pusher:ping / pusher:pong with data "{}". */
int lc_pusher_ping(lc_buf_t *b, bool pong);

/* The presence object of subscription_succeeded, built one member at a time. */
typedef struct lc_pusher_members {
    lc_buf_t ids, hash;
    size_t count;
} lc_pusher_members_t;
/* Add user_id with user_info (raw JSON, NULL/empty = null). The caller adds each user once. */
int lc_pusher_members_add(lc_pusher_members_t *m, const char *user_id, const char *info,
                          size_t info_len);
/* {"presence":{"ids":[..],"hash":{..},"count":N}} into out; frees m's buffers. */
int lc_pusher_members_end(lc_pusher_members_t *m, lc_buf_t *out);
void lc_pusher_members_free(lc_pusher_members_t *m);

/* --- publications --------------------------------------------------------------------------- */

/* The Pusher event for an encoded Lucent push (proto/codec.h: a publication, join or leave),
 * for an app whose channel_prefix is prefix: 1 and out filled; 0 when the push has no Pusher
 * form (join/leave of a channel that is not a presence channel or of an anonymous client,
 * unsubscribe and other pushes, a channel outside the app); LC_EPARSE, LC_ENOMEM. */
int lc_pusher_from_push(const char *push, size_t len, const char *prefix, lc_buf_t *out);
/* Whether an encoded push is the join or leave of `user` (a Pusher connection never hears of
 * its own user's connections coming or going). */
bool lc_pusher_push_is_user_event(const char *push, size_t len, const char *user);
/* The publication data for a Pusher event's `data` (the raw JSON value of the event, as sent):
 * for a JSON string holding JSON other than a string, that content; otherwise the value
 * itself. out is appended to. 0, LC_EPARSE (not valid JSON), LC_ENOMEM. */
int lc_pusher_data_to_pub(const char *raw, size_t len, lc_buf_t *out);
/* The publication tags {"event":name}. */
int lc_pusher_event_tags(lc_buf_t *out, const char *name);

#endif
