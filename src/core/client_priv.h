/* The session's fields, shared by client.c (state, dispatch, pings, expiry), client_sub.c
 * (subscriptions), client_channel.c (publish, history, presence commands) and client_ops.c
 * (node-wide operations of the server API); not for other modules. */
#ifndef LC_CORE_CLIENT_PRIV_H
#define LC_CORE_CLIENT_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"
#include "hooks/proxy.h"
#include "hooks/script.h"
#include "proto/codec.h"
#include "util/buf.h"

struct lc_conn_claims;
struct lc_sub_override;

enum lc_client_state { LC_CLIENT_CONNECTING, LC_CLIENT_CONNECTED, LC_CLIENT_CLOSING };

/* The session's side of one subscription. */
typedef struct lc_csub {
    lc_sub_t *s;     /* the hub's record (channel, flags, position) */
    char *chan_info; /* raw JSON channel info (subscription token, server API), NULL = none */
    size_t chan_info_len;
    int64_t exp;        /* subscription expiry (Unix s) from a subscription token, 0 = none */
    bool proxy_refresh; /* the sub_refresh proxy prolongs it at expiry */
} lc_csub_t;

/* What a subscription is made from: a client subscribe command, a connection token's
 * channels/subs, the personal channel, or the server API. */
typedef struct lc_sub_spec {
    const lc_ns_opts_t *o;
    bool server_side;
    /* client's wishes (subscribe command, or connect `subs` for server-side recovery) */
    bool want_positioned, want_recoverable, want_join_leave;
    bool recover;
    uint64_t offset;
    const char *epoch;
    bool reject_unrecovered; /* subscribe flag: a failed recovery is error 112 */
    bool want_delta;         /* subscribe delta "fossil" */
    const char *tf;          /* subscribe tag filter (JSON text), NULL = none */
    /* from a subscription token, a connection token's subs entry, or the server API */
    lc_raw_t chan_info;
    lc_raw_t data;
    const struct lc_sub_override *override;
    int64_t exp;
    bool proxy_refresh; /* the sub_refresh proxy prolongs it (no client-side refresh) */
} lc_sub_spec_t;

/* What only some sessions need: a command parked behind a proxy or a Lua hook, the pending
 * calls, connect meta, forwarded headers, the emulation session id, and the expiry checks of
 * expiring tokens. A plain token-authenticated connection never allocates it (lc__client_x
 * makes it when a path first writes one of these; readers take c->x == NULL as "none"). Freed
 * with the session. */
typedef struct lc_client_x {
    lc_client_t *c;                         /* back pointer for the scheds below */
    lc_sched_t expire;                      /* connection expiry check (exp + grace) */
    lc_sched_t sub_expire;                  /* the earliest subscription expiry check */
    lc_cmd_t cur;                           /* the command being decided asynchronously */
    struct lc_proxy_call *call;             /* its proxy call, cancelled if the session ends */
    struct lc_proxy_call *refresh_call;     /* the refresh proxy, asked at expiry */
    struct lc_proxy_call *sub_refresh_call; /* the sub_refresh proxy, for sub_refresh_ch */
    char *sub_refresh_ch;
    struct lc_lua_call *lua_call; /* a pending Lua hook call, cancelled if the session ends */
    char *session;                /* emulation / unidirectional session id, NULL otherwise */
    char *meta;                   /* raw JSON from a token or the connect proxy */
    size_t meta_len;
    lc_http_header_t *headers; /* forwarded request headers (owned copies), lc_client_opts */
    size_t n_headers;
    lc_http_header_t *emulated; /* connect `headers` some proxy forwards (owned copies) */
    size_t n_emulated;
} lc_client_x_t;

struct lc_client {
    lc_transport_t *t;
    lc_worker_t *w;
    const lc_config_t *cfg;
    uint8_t state;         /* enum lc_client_state */
    bool unusable;         /* a connect error was answered: nothing else is accepted */
    bool native_ping;      /* transport-level pings (?cf_ws_frame_ping_pong=true) */
    bool protobuf;         /* commands arrive as Protobuf messages */
    bool ping_outstanding; /* a ping was sent and its pong has not arrived */
    bool registered;       /* in the worker's id → client map */
    uint8_t mode;          /* enum lc_client_mode */
    bool bad_tail;         /* a malformed command followed: disconnect there */
    bool waiting;          /* `x->cur` waits for `x->call` or `x->lua_call` */
    bool server_refresh;   /* the refresh proxy prolongs this connection */
    bool in_hook_call;     /* inside lc_lua_call (the decision may come at once) */
    char id[37];           /* client id (UUID v4), "" before connect */
    char *user;            /* "" = anonymous */
    char *conn_info;       /* raw JSON from the token's info / b64info, NULL when none */
    size_t conn_info_len;
    int64_t exp; /* connection expiry (Unix s), 0 = none */
    /* The client's side of the two-way subscription index: compact records owned by the
     * hub; a small array is enough below client.channel_limit (128 by default). */
    lc_csub_t *subs;
    uint32_t nsubs, capsubs;
    lc_list_t user_node; /* in the worker's list of this user's connections */
    lc_sched_t sched;    /* stale before connect, ping after */
    lc_sched_t pong;
    lc_buf_t replies; /* replies to the message being processed, sent as one frame */
    /* Commands wait here while an asynchronous decision (a proxy call) is in flight: a
     * connection's commands are answered in order. */
    lc_cmd_t *queue;
    uint32_t qhead, qlen, qcap;
    const struct lc_decision *hook; /* the hook's decision while the handler runs */
    lc_client_x_t *x;               /* NULL until a path needs it */
};

/* The session's side struct, made on first use. NULL when out of memory: the caller answers
 * as for any other allocation failure on its path. */
lc_client_x_t *lc__client_x(lc_client_t *c);

/* Run cmd through the Lua hook of its kind when the script has one (the handler then sees the
 * decision in c->hook), else straight to its handler. Returns like a handler. */
int lc__client_hooked(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_handle(lc_client_t *c, lc_cmd_t *cmd);
/* Notifications for the script (disconnect, unsubscribe): fire and forget. */
void lc__client_notify(lc_client_t *c, int kind, const char *channel, uint32_t code);

/* dispatch results */
enum { LC_CMD_DONE = 0, LC_CMD_STOP = 1, LC_CMD_WAIT = 2 };

/* Park cmd (moved into c->x->cur) until call answers; the callback finishes the command and
 * calls lc__client_resume. c->x must exist: the caller makes it before starting call.
 * Returns LC_CMD_WAIT. */
int lc__client_wait(lc_client_t *c, lc_cmd_t *cmd, struct lc_proxy_call *call);
void lc__client_resume(lc_client_t *c);
/* Forget the commands waiting in the queue (a refused connect, a closing session). */
void lc__client_drop_queue(lc_client_t *c);
void lc__client_schedule_ping(lc_client_t *c);
/* The worker's HTTP client and a proxy request filled with this session's common fields. */
lc_httpc_t *lc__client_httpc(lc_client_t *c);
void lc__client_proxy_req(const lc_client_t *c, lc_proxy_kind kind, lc_proxy_req_t *r);
/* Answer a proxy's error reply (its code, message, temporary) or disconnect. */
void lc__client_reply_proxy_error(lc_client_t *c, uint32_t id, const lc_proxy_reply_t *rep);

void lc__client_send_replies(lc_client_t *c);
void lc__client_disconnect(lc_client_t *c, uint32_t code, const char *reason);
void lc__client_reply_error(lc_client_t *c, uint32_t id, uint32_t code);
void lc__client_reply_empty(lc_client_t *c, uint32_t id, const char *kind);

/* Make a subscription and encode its SubscribeResult object into out. 0, or a reply error
 * code (the subscription is then not made). */
uint32_t lc__client_subscribe_core(lc_client_t *c, const char *ch, size_t len,
                                   const lc_sub_spec_t *sp, lc_buf_t *out);
/* Remove subscription i; announce the leave, drop the presence entry. */
void lc__client_remove_sub(lc_client_t *c, uint32_t i);
lc_csub_t *lc__client_find_sub(lc_client_t *c, const char *ch, size_t len);
/* Make the token's / personal server-side subscriptions at connect: writes the connect
 * result's `subs` object into out. 0 or a reply error code. */
/* Unidirectional connect: the request's `subs` where a client-side subscribe would be
 * allowed, added to the connect result's subs object in out (open, without its closing brace
 * handled by the caller). 0 or a disconnect code. */
uint32_t lc__client_uni_subs(lc_client_t *c, const lc_cmd_t *cmd, lc_buf_t *out);
uint32_t lc__client_server_subs(lc_client_t *c, const char *const *channels, size_t n_channels,
                                const lc_conn_sub_t *subs, size_t n_subs, const lc_cmd_t *cmd,
                                lc_buf_t *out);
void lc__client_arm_sub_expiry(lc_client_t *c);
void lc__client_arm_expiry(lc_client_t *c);
/* The subscription expiry check is due (it runs from the sched in c->x). */
void lc__client_check_sub_expiry(lc_client_t *c);
/* Send one pre-encoded message (a push) to this client now. */
void lc__client_send_push(lc_client_t *c, const char *p, size_t n);
/* The ClientInfo of this session (chan_info may be absent). */
void lc__client_info(const lc_client_t *c, const lc_csub_t *cs, lc_client_info_t *out);
/* Presence / history permission in namespace o (spec §6.2 allow_*_for_client / _subscriber /
 * _anonymous, client.insecure). */
bool lc__client_can_presence(const lc_client_t *c, const lc_ns_opts_t *o, bool subscribed);
bool lc__client_can_history(const lc_client_t *c, const lc_ns_opts_t *o, bool subscribed);

int lc__client_subscribe(lc_client_t *c, lc_cmd_t *cmd);
void lc__client_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd);
int lc__client_publish(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_rpc(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_connect(lc_client_t *c, lc_cmd_t *cmd);
void lc__client_refresh(lc_client_t *c, const lc_cmd_t *cmd);
int64_t lc__client_refresh_decision(lc_client_t *c, uint32_t id, const lc_decision_t *d);
/* The refresh proxy's turn at expiry (server-side refresh; from the sched in c->x). */
void lc__client_proxy_refresh(lc_client_t *c);
void lc__client_channel_feature(lc_client_t *c, const lc_cmd_t *cmd);
void lc__client_sub_refresh(lc_client_t *c, const lc_cmd_t *cmd);

bool lc__json_valid(const char *p, size_t n);
/* The part of a channel name channel_regex applies to: after the private prefix and the
 * namespace boundary. */
const char *lc__channel_name_after_ns(const lc_config_t *cfg, const char *ch);

#endif
