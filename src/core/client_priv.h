/* The session's fields, shared by client.c (state, dispatch, pings) and client_channel.c
 * (channel commands); not for other modules. */
#ifndef LC_CORE_CLIENT_PRIV_H
#define LC_CORE_CLIENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"
#include "proto/codec.h"
#include "util/buf.h"

enum lc_client_state { LC_CLIENT_CONNECTING, LC_CLIENT_CONNECTED, LC_CLIENT_CLOSING };

struct lc_client {
    lc_transport_t *t;
    lc_worker_t *w;
    const lc_config_t *cfg;
    uint8_t state;         /* enum lc_client_state */
    bool unusable;         /* a connect error was answered: nothing else is accepted */
    bool native_ping;      /* transport-level pings (?cf_ws_frame_ping_pong=true) */
    bool ping_outstanding; /* a ping was sent and its pong has not arrived */
    bool registered;       /* in the worker's id → client map */
    char id[37];           /* client id (UUID v4), "" before connect */
    char *user;            /* "" = anonymous */
    char *conn_info;       /* raw JSON from the token's info / b64info, NULL when none */
    size_t conn_info_len;
    int64_t exp; /* connection expiry (Unix s), 0 = none */
    /* The client's side of the two-way subscription index: compact records owned by the
     * hub; a small array is enough below client.channel_limit (128 by default). */
    lc_sub_t **subs;
    uint32_t nsubs, capsubs;
    lc_sched_t sched; /* stale before connect, ping after */
    lc_sched_t pong;
    lc_buf_t replies; /* replies to the message being processed, sent as one frame */
};

void lc__client_send_replies(lc_client_t *c);
void lc__client_disconnect(lc_client_t *c, uint32_t code, const char *reason);
void lc__client_reply_error(lc_client_t *c, uint32_t id, uint32_t code);
void lc__client_reply_empty(lc_client_t *c, uint32_t id, const char *kind);

void lc__client_subscribe(lc_client_t *c, const lc_cmd_t *cmd);
void lc__client_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd);
void lc__client_publish(lc_client_t *c, const lc_cmd_t *cmd);
void lc__client_channel_feature(lc_client_t *c, const lc_cmd_t *cmd);
void lc__client_sub_refresh(lc_client_t *c, const lc_cmd_t *cmd);

bool lc__json_valid(const char *p, size_t n);

#endif
