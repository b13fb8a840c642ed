/* Protocol codes (spec §2): reply errors, unsubscribe codes and disconnect codes, in one table
 * each. These are only produced at the protocol edge; inside, modules use lc_err. */
#ifndef LC_PROTO_CODES_H
#define LC_PROTO_CODES_H

#include <stdbool.h>
#include <stdint.h>

/* X(name, code, message, temporary) */
#define LC_ERROR_MAP(X)                                                                            \
    X(INTERNAL, 100, "internal server error", true)                                                \
    X(UNAUTHORIZED, 101, "unauthorized", false)                                                    \
    X(UNKNOWN_CHANNEL, 102, "unknown channel", false)                                              \
    X(PERMISSION_DENIED, 103, "permission denied", false)                                          \
    X(METHOD_NOT_FOUND, 104, "method not found", false)                                            \
    X(ALREADY_SUBSCRIBED, 105, "already subscribed", false)                                        \
    X(LIMIT_EXCEEDED, 106, "limit exceeded", false)                                                \
    X(BAD_REQUEST, 107, "bad request", false)                                                      \
    X(NOT_AVAILABLE, 108, "not available", false)                                                  \
    X(TOKEN_EXPIRED, 109, "token expired", false)                                                  \
    X(EXPIRED, 110, "expired", false)                                                              \
    X(TOO_MANY_REQUESTS, 111, "too many requests", true)                                           \
    X(UNRECOVERABLE_POSITION, 112, "unrecoverable position", false)

/* X(name, code, reason) */
#define LC_DISCONNECT_MAP(X)                                                                       \
    X(SHUTDOWN, 3001, "shutdown")                                                                  \
    X(INTERNAL, 3004, "internal server error")                                                     \
    X(EXPIRED, 3005, "connection expired")                                                         \
    X(SUB_EXPIRED, 3006, "subscription expired")                                                   \
    X(SLOW, 3008, "slow")                                                                          \
    X(WRITE_ERROR, 3009, "write error")                                                            \
    X(INSUFFICIENT_STATE, 3010, "insufficient state")                                              \
    X(FORCE_RECONNECT, 3011, "force reconnect")                                                    \
    X(NO_PONG, 3012, "no pong")                                                                    \
    X(TOO_MANY_REQUESTS, 3013, "too many requests")                                                \
    X(INVALID_TOKEN, 3500, "invalid token")                                                        \
    X(BAD_REQUEST, 3501, "bad request")                                                            \
    X(STALE, 3502, "stale")                                                                        \
    X(FORCE_DISCONNECT, 3503, "force disconnect")                                                  \
    X(CONNECTION_LIMIT, 3504, "connection limit")                                                  \
    X(CHANNEL_LIMIT, 3505, "channel limit")                                                        \
    X(INAPPROPRIATE_PROTOCOL, 3506, "inappropriate protocol")                                      \
    X(PERMISSION_DENIED, 3507, "permission denied")                                                \
    X(NOT_AVAILABLE, 3508, "not available")                                                        \
    X(TOO_MANY_ERRORS, 3509, "too many errors")

/* X(name, code, reason) */
#define LC_UNSUBSCRIBE_MAP(X)                                                                      \
    X(SERVER, 2000, "server unsubscribe")                                                          \
    X(INSUFFICIENT_STATE, 2500, "insufficient state")                                              \
    X(EXPIRED, 2501, "subscription expired")

enum lc_error_code {
#define LC_X(name, code, msg, temp) LC_ERROR_##name = code,
    LC_ERROR_MAP(LC_X)
#undef LC_X
};

enum lc_disconnect_code {
#define LC_X(name, code, reason) LC_DISCONNECT_##name = code,
    LC_DISCONNECT_MAP(LC_X)
#undef LC_X
};

enum lc_unsubscribe_code {
#define LC_X(name, code, reason) LC_UNSUBSCRIBE_##name = code,
    LC_UNSUBSCRIBE_MAP(LC_X)
#undef LC_X
};

/* Message of a reply error code, "" for unknown (custom) codes. */
const char *lc_error_message(uint32_t code);
bool lc_error_temporary(uint32_t code);
/* Reason of a disconnect / unsubscribe code, "" for unknown (custom) codes. */
const char *lc_disconnect_reason(uint32_t code);
const char *lc_unsubscribe_reason(uint32_t code);

#endif
