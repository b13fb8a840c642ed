/* Pusher channel authorization (shared/spec/pusher-protocol.md §4): a private or presence
 * subscription carries auth = "<app key>:<hex HMAC-SHA256(secret, string to sign)>", made by the
 * application's /broadcasting/auth. The string to sign is "<socket_id>:<channel>" and, for a
 * presence channel, ":<channel_data>" after it, channel_data being the exact bytes the client
 * sent (never re-serialised). */
#ifndef LC_AUTH_PUSHER_AUTH_H
#define LC_AUTH_PUSHER_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Lowercase hex HMAC-SHA256 of msg[0..len) with secret into out (65 bytes with the NUL).
 * 0, or -1 when OpenSSL fails. */
int lc_pusher_hmac_hex(const char *secret, const char *msg, size_t len, char out[65]);

typedef enum lc_pusher_auth_status {
    LC_PUSHER_AUTH_OK = 0,
    LC_PUSHER_AUTH_MISSING, /* no auth, or no ':' in it */
    LC_PUSHER_AUTH_BAD_KEY, /* the part before the first ':' is not the app key */
    LC_PUSHER_AUTH_BAD_SIG, /* the signature does not match */
} lc_pusher_auth_status;

/* Check auth for socket_id and channel (channel_data NULL for private channels). The
 * signature is compared in constant time. */
lc_pusher_auth_status lc_pusher_auth_check(const char *key, const char *secret, const char *auth,
                                           const char *socket_id, const char *channel,
                                           const char *channel_data);

#endif
