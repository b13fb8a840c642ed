/* The session's fields, shared by the files of the session: client.c (state, dispatch, pings,
 * expiry), client_wait.c (the one pending asynchronous step: decisions, engine calls),
 * client_connect.c (connect, refresh), client_sub.c (subscriptions), client_expiry.c
 * (subscription expiry), client_channel.c (publish, rpc, sub_refresh), client_read.c
 * (history, presence), client_map*.c (map subscriptions and writes) and ops.c (node-wide
 * operations of the server API); not for other modules. */
#ifndef LC_CORE_CLIENT_INTERNAL_H
#define LC_CORE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"
#include "hooks/decide.h"
#include "hooks/proxy.h"
#include "hooks/script.h"
#include "proto/codec.h"
#include "util/buf.h"

struct lc_conn_claims;
struct lc_sub_override;

enum lc_client_state { LC_CLIENT_CONNECTING, LC_CLIENT_CONNECTED, LC_CLIENT_CLOSING };

/* What a session waits for: at most one asynchronous step at a time (DESIGN.md, data flow 2).
 * Commands queue behind it in order; pongs never wait. */
enum lc_wait_kind {
    LC_WAIT_NONE = 0,
    LC_WAIT_DECISION,    /* the decision pipeline (hooks/decide.h) about the parked command */
    LC_WAIT_ENGINE,      /* an engine call (history, presence, publish, a stream read) */
    LC_WAIT_REFRESH,     /* the refresh proxy at the connection's expiry */
    LC_WAIT_SUB_REFRESH, /* the sub_refresh proxy at a subscription's expiry */
};

struct lc_engine_wait;
struct lc_sub_run;
typedef struct lc_map_walk lc_map_walk_t; /* a map subscribe in its state/stream phases */

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
    /* a Pusher session's subscription: never positioned, no presence or join/leave of its
     * own (client_pusher_presence.c keeps Pusher presence); a presence- channel's gets the
     * join and leave pushes */
    bool pusher, pusher_presence;
} lc_sub_spec_t;

/* What only some sessions need: a command parked behind an asynchronous step and the step's
 * handle, connect meta, forwarded headers, the emulation session id, and the expiry checks of
 * expiring tokens. A plain token-authenticated connection never allocates it (lc__client_x
 * makes it when a path first writes one of these; readers take c->x == NULL as "none"). Freed
 * with the session. */
/* Commands of one message (or several) waiting to be handled in order; allocated when a
 * message arrives and freed once worked through, so an idle session holds none. */
typedef struct lc_cmd_queue {
    uint32_t head, len, cap;
    lc_cmd_t cmds[];
} lc_cmd_queue_t;

typedef struct lc_client_x {
    lc_client_t *c;        /* back pointer for the scheds below */
    uint32_t rate_second;  /* client.command_rate_limit: the second being counted (mono s) */
    uint32_t rate_count;   /* commands dispatched in it */
    lc_sched_t expire;     /* connection expiry check (exp + grace) */
    lc_sched_t sub_expire; /* the earliest subscription expiry check */
    lc_cmd_t cur;          /* the command waiting for the pending step (empty at expiry) */
    /* The pending step's handle (which one: lc_client_t.wait); dropped when the session ends */
    union {
        lc_decide_t *decide;           /* DECISION, REFRESH, SUB_REFRESH */
        struct lc_engine_wait *engine; /* ENGINE */
    } pending;
    char *sub_refresh_ch; /* SUB_REFRESH: the channel asked about */
    /* The server API's subscribes that came while a step was pending, oldest first: each
     * takes its turn before the queued commands once nothing is pending (client_subrun.c). */
    struct lc_sub_run *api_runs;
    bool refresh_due;    /* the connection's expiry passed while another step was pending */
    bool sub_expiry_due; /* likewise for a subscription's */
    char *session;       /* emulation / unidirectional session id, NULL otherwise */
    char *meta;          /* raw JSON from a token or the connect proxy */
    size_t meta_len;
    lc_http_header_t *headers; /* forwarded request headers (owned copies), lc_client_opts */
    size_t n_headers;
    lc_http_header_t *emulated; /* connect `headers` some proxy forwards (owned copies) */
    size_t n_emulated;
    struct lc_pusher_sess *pusher; /* LC_CLIENT_PUSHER sessions (client_pusher.c) */
    lc_map_walk_t *map_walks;      /* map subscribes in progress (core/client_map.c) */
    lc_sched_t map_sweep;          /* their collecting deadline (core/client_map_sync.c) */
} lc_client_x_t;

struct lc_client {
    lc_transport_t *t;
    lc_worker_t *w;
    uint8_t state;         /* enum lc_client_state */
    uint8_t mode;          /* enum lc_client_mode */
    uint8_t wait;          /* enum lc_wait_kind: the pending step, its handle in x */
    bool native_ping;      /* transport-level pings (?cf_ws_frame_ping_pong=true) */
    bool protobuf;         /* commands arrive as Protobuf messages */
    bool ping_outstanding; /* a ping was sent and its pong has not arrived */
    /* Flags read rarely share a byte: every session holds them (keep the address of none). */
    bool unusable : 1;       /* a connect error was answered: nothing else is accepted */
    bool registered : 1;     /* in the worker's id → client map */
    bool user_counted : 1;   /* holds a place of client.user_connection_limit */
    bool bad_tail : 1;       /* a malformed command followed: disconnect there */
    bool starting : 1;       /* inside the call that starts a step (its answer may come at once) */
    bool server_refresh : 1; /* the refresh proxy prolongs this connection */
    char id[37];             /* client id (UUID v4), "" before connect */
    uint32_t conn_info_len;  /* (with nsubs, fills what id leaves of 8-byte words) */
    uint32_t nsubs;          /* entries of subs */
    char *user;              /* "" = anonymous */
    char *conn_info;         /* raw JSON from the token's info / b64info, NULL when none */
    int64_t exp;             /* connection expiry (Unix s), 0 = none */
    /* The client's side of the two-way subscription index: compact records owned by the
     * hub; a small array is enough below client.channel_limit (128 by default). Its capacity
     * is the power of two at or above nsubs (see grow_subs). */
    lc_csub_t *subs;
    lc_list_t user_node; /* in the ring of this user's connections on the worker */
    /* Stale before connect; after it the ping cycle: ping, then the pong deadline, then the
     * rest of the interval (one sched for all three, see lc__client_on_sched). */
    lc_sched_t sched;
    lc_buf_t replies; /* replies to the message being processed, sent as one frame */
    /* Commands wait here while an asynchronous step is pending: a connection's commands
     * are answered in order. NULL while empty. */
    lc_cmd_queue_t *queue;
    lc_cmd_t *cmd;    /* the command being handled (the dispatcher's, or x->cur once parked) */
    lc_client_x_t *x; /* NULL until a path needs it */
};

/* The config, through the worker: one pointer less in every session. */
static inline const lc_config_t *lc__ccfg(const lc_client_t *c)
{
    return lc_worker_config(c->w);
}

/* The session's side struct, made on first use. NULL when out of memory: the caller answers
 * as for any other allocation failure on its path. */
lc_client_x_t *lc__client_x(lc_client_t *c);

/* The command's handler. Returns LC_CMD_DONE, LC_CMD_STOP (drop the rest of the queue) or
 * LC_CMD_WAIT (the command is parked behind a pending step). */
int lc__client_handle(lc_client_t *c, lc_cmd_t *cmd);
/* Notifications for the script (disconnect, unsubscribe): fire and forget. */
void lc__client_notify(lc_client_t *c, lc_hook_kind kind, const char *channel, uint32_t code);

/* dispatch results */
enum lc_cmd_result { LC_CMD_DONE = 0, LC_CMD_STOP = 1, LC_CMD_WAIT = 2 };
/* A handler's result r as the dispatcher returns it: a parked command waits, and a session
 * the handler closed drops the rest of its queue. Shared by both protocols' dispatchers. */
static inline int lc__client_cmd_result(const lc_client_t *c, int r)
{
    if (r == LC_CMD_WAIT)
        return r;
    return c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP : r;
}

/* --- the pending step (client_wait.c) ------------------------------------------------------ */

/* A decision request of kind about c->cmd, filled with the session's fields and the command's. */
void lc__client_decide_req(lc_client_t *c, lc_hook_kind kind, lc_decide_req_t *r);
/* Run the decision pipeline about c->cmd; its verdict goes to the command's apply function
 * (lc__client_*_apply). Returns like a handler: LC_CMD_WAIT while the decision is pending. */
int lc__client_decide(lc_client_t *c, const lc_decide_req_t *r);
/* Keep c->cmd past the dispatcher (moved into x->cur). 0, or LC_ENOMEM. */
int lc__client_park(lc_client_t *c);
/* A step's answer was applied with result r (the callback ran later when async, else inside
 * the call that started it): drop the queue on STOP, and when async go on with the queue. */
void lc__client_step_done(lc_client_t *c, int r, bool async);
/* The pending step is abandoned (the session ends): its answer never reaches the session. */
void lc__client_cancel_wait(lc_client_t *c);
/* Forget the commands waiting in the queue (a refused connect, a closing session). */
void lc__client_drop_queue(lc_client_t *c);
/* Work through the queued commands in order until one waits. */
void lc__client_process_queue(lc_client_t *c);

/* An engine call the session waits for. The engine's callback gets it as its argument and
 * first calls lc__client_engine_answer: NULL means the session ended meanwhile (the answer is
 * dropped). The answer may come inside the engine call (the memory engine) or later. */
typedef struct lc_engine_wait {
    lc_client_t *c; /* NULL once the session ended */
    bool answered;  /* the callback ran */
    bool pending;   /* the engine call returned before its answer: the session waits */
    void *ctx;      /* what the answer is applied with, owned by the caller's path */
    void (*ctx_free)(void *ctx);
} lc_engine_wait_t;
/* A waiter for c, NULL on OOM. */
lc_engine_wait_t *lc__client_engine_wait(lc_client_t *c);
/* After the engine call returned rc: LC_CMD_WAIT when the answer is pending (c->cmd parked),
 * else like a handler (the waiter is freed). rc != 0: the callback never runs; the caller
 * answers the error itself (LC_CMD_DONE is returned). */
int lc__client_engine_started(lc_client_t *c, lc_engine_wait_t *w, int rc);
/* In the engine callback, first: the session to apply the answer to, or NULL when it ended.
 * *async tells whether the answer came from the loop. Last: lc__client_engine_end with the
 * result of applying it (frees the waiter when async, and goes on with the queue). */
lc_client_t *lc__client_engine_answer(lc_engine_wait_t *w, bool *async);
void lc__client_engine_end(lc_engine_wait_t *w, int r, bool async);
/* The refresh / sub_refresh proxy at an expiry (r->at_expiry); c->wait must be NONE. */
void lc__client_decide_at_expiry(lc_client_t *c, const lc_decide_req_t *r);

void lc__client_schedule_ping(lc_client_t *c);
/* Answer a verdict's error (its code, message, temporary) or disconnect. */
void lc__client_reply_verdict(lc_client_t *c, uint32_t id, const lc_verdict_t *v);

void lc__client_send_replies(lc_client_t *c);
void lc__client_disconnect(lc_client_t *c, uint32_t code, const char *reason);
void lc__client_reply_error(lc_client_t *c, uint32_t id, uint32_t code);
void lc__client_reply_empty(lc_client_t *c, uint32_t id, const char *kind);

/* What a subscription gets, from the namespace, the override and the client's wishes. */
typedef struct lc_sub_plan {
    bool presence, join_leave, gets_join_leave, positioned, recoverable;
    bool delta; /* fossil deltas negotiated */
} lc_sub_plan_t;

/* A stream read for a positioned subscription: the engine's answer, kept. */
typedef struct lc_stream {
    bool read; /* the answer came */
    int err;
    lc_stream_pos_t top;
    uint64_t first_offset;
    lc_rcbuf_t **pubs;
    size_t n;
} lc_stream_t;

void lc__client_sub_plan(const lc_client_t *c, const lc_sub_spec_t *sp, lc_sub_plan_t *p);
/* The history request that positions (and maybe recovers) a subscription planned so. */
void lc__client_stream_req(const lc_client_t *c, const char *ch, size_t len,
                           const lc_sub_spec_t *sp, const lc_sub_plan_t *p, lc_history_req_t *req);
/* Keep an engine answer in h (references taken). Returns h->err. */
int lc__stream_keep(lc_stream_t *h, int err, const lc_history_res_t *res);
void lc__stream_free(lc_stream_t *h);
/* Make a subscription planned as p with its stream h (read when p->positioned) and encode
 * its SubscribeResult object into out. 0, or a reply error code (no subscription made). */
uint32_t lc__client_sub_make(lc_client_t *c, const char *ch, size_t len, const lc_sub_spec_t *sp,
                             const lc_sub_plan_t *p, const lc_stream_t *h, lc_buf_t *out);
/* Room for one more subscription record. 0 or LC_ENOMEM. */
int lc__client_grow_subs(lc_client_t *c);
/* Remove subscription i; announce the leave, drop the presence entry. */
void lc__client_remove_sub(lc_client_t *c, uint32_t i);
lc_csub_t *lc__client_find_sub(lc_client_t *c, const char *ch, size_t len);

/* --- subscriptions that wait for their streams (client_subrun.c) ----------------------------- */

/* A client subscribe allowed with spec sp: the reply follows once the stream is read.
 * Returns like a handler. */
int lc__client_subscribe_run(lc_client_t *c, const lc_cmd_t *cmd, const lc_sub_spec_t *sp);
/* What a connect grants beyond the session's own fields: the server-side subscriptions and the
 * rest of the connect result. Borrowed. */
typedef struct lc_conn_subs {
    const char *const *channels;
    size_t n_channels;
    const lc_conn_sub_t *subs;
    size_t n_subs;
    lc_raw_t data; /* connect result data */
    int64_t exp;   /* the connection's expiry (Unix s), 0 = none */
} lc_conn_subs_t;
/* Why a channel with options o takes no server-side subscription (connect channels/subs, the
 * personal channel, a unidirectional request, the server API), or NULL when it does: map and
 * shared poll channels are subscribed by their clients only, as upstream serves them. */
const char *lc__client_server_side_refusal(const lc_ns_opts_t *o);
/* The server-side subscriptions of a connect (the grant's, the personal channel, and for
 * unidirectional connects the request's own), then the connect reply or push. Returns like a
 * handler. */
int lc__client_connect_run(lc_client_t *c, const lc_cmd_t *cmd, const lc_conn_subs_t *g);
/* The server API's subscribe of this session with spec sp (copied): made now when no step is
 * pending, else after the pending step (before the queued commands); the subscribe push
 * follows once the stream is read. A failure is logged (the API answered already); a session
 * that closes first drops it. */
void lc__client_api_subscribe(lc_client_t *c, const char *ch, size_t len, const lc_sub_spec_t *sp);
/* Start the oldest waiting server API subscribe: -1 when none, else like a handler. Only when
 * no step is pending and no command is being handled. */
int lc__client_api_next(lc_client_t *c);
/* Forget the waiting server API subscribes (the session ends). */
void lc__client_api_drop(lc_client_t *c);
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

/* Command handlers: check the command's shape, build the decision request; the apply
 * functions act on the verdict. Both return like lc__client_handle. */
int lc__client_connect(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_connect_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
int lc__client_refresh(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_refresh_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
int lc__client_subscribe(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_subscribe_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
void lc__client_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd);
int lc__client_publish(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_publish_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
int lc__client_rpc(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_rpc_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
int lc__client_sub_refresh(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_sub_refresh_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* presence, presence_stats, history: the engine answers (client_read.c) */
int lc__client_read(lc_client_t *c, lc_cmd_t *cmd);
/* The refresh proxy's turn at expiry (server-side refresh; from the sched in c->x). */
void lc__client_refresh_at_expiry(lc_client_t *c);
void lc__client_refresh_at_expiry_apply(lc_client_t *c, const lc_verdict_t *v);
/* The sub_refresh proxy answered about x->sub_refresh_ch. */
void lc__client_sub_refresh_at_expiry_apply(lc_client_t *c, const lc_verdict_t *v);

/* --- Pusher protocol sessions (client_pusher.c, client_pusher_events.c,
 * client_pusher_presence.c) -------------------------------------------------------------------- */

typedef struct lc_pusher_sess {
    const struct lc_pusher_app *app;
    int64_t last_rx;    /* monotonic ms of the last message or pong frame */
    bool ping_sent;     /* pusher:ping sent for the silence: 4201 when it stays silent */
    bool counted;       /* holds a place of the app's max_connections */
    uint32_t ev_second; /* client events: the second being counted (mono s) */
    uint32_t ev_count;  /* and how many came in it */
} lc_pusher_sess_t;

/* Right after lc_client_new: connection_established, or the refusal (4001, 4003, 4004, ...). */
void lc__pusher_start(lc_client_t *c, const lc_client_opts_t *opts);
/* One incoming message: 1 and cmd filled when it is a command to queue; 0 when it was
 * answered (malformed, pong) or ended the session. */
int lc__pusher_decode(lc_client_t *c, const char *data, size_t len, lc_cmd_t *cmd);
/* A queued Pusher command's turn (in place of the Centrifugo dispatcher). */
int lc__pusher_handle(lc_client_t *c, lc_cmd_t *cmd);
/* The decision about a parked Pusher command. */
int lc__pusher_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* A Pusher subscribe's hub subscription is made: answer it (presence: list, join). */
int lc__pusher_subscribed(lc_client_t *c);
/* The error reply for the command in c->cmd (subscription_error or pusher:error). */
void lc__pusher_reply_error(lc_client_t *c, uint32_t code);
void lc__pusher_deliver(lc_client_t *c, lc_rcbuf_t *push, lc_rcbuf_t **frames);
void lc__pusher_send_push(lc_client_t *c, const char *p, size_t n);
/* Input seen (a message or a pong frame): the connection is alive. */
void lc__pusher_rx(lc_client_t *c);
void lc__pusher_on_activity(lc_client_t *c);
/* The session ends: give back the app's connection place. */
void lc__pusher_end(lc_client_t *c);
/* A non-closing pusher:error. */
void lc__pusher_error(lc_client_t *c, uint32_t code, const char *msg);
/* client-* events (client_pusher_events.c): the checks, then the decision; its application. */
int lc__pusher_client_event(lc_client_t *c, lc_cmd_t *cmd);
int lc__pusher_client_event_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* Send one Pusher event now (its own frame). */
void lc__pusher_send(lc_client_t *c, const char *p, size_t n);
/* The Lucent channel of Pusher channel name: prefix + name into b. 0 or LC_ENOMEM. */
int lc__pusher_lucent_channel(const lc_client_t *c, const char *name, lc_buf_t *b);
/* Presence (client_pusher_presence.c): read the members of the Pusher presence channel of
 * c->cmd and answer subscription_succeeded, joining first when join is set (presence entry,
 * member_added on the user's first connection). Returns like a handler. */
int lc__pusher_presence_list(lc_client_t *c, bool join);
/* A joined presence subscription ends: member_removed after the user's last connection. */
void lc__pusher_presence_leave(lc_client_t *c, const lc_csub_t *cs);

/* The checks every channel command makes (channel given and not too long, namespace,
 * channel_regex): the channel's options (in *scratch when a channel rule applies), or NULL
 * after answering the error (or disconnecting, for an empty channel). */
const lc_ns_opts_t *lc__client_channel_checks(lc_client_t *c, const lc_cmd_t *cmd,
                                              lc_ns_opts_t *scratch);
/* The part of a channel name channel_regex applies to: after the private prefix and the
 * namespace boundary. */
const char *lc__channel_name_after_ns(const lc_config_t *cfg, const char *ch);

/* --- map subscriptions (client_map.c, client_map_write.c) ------------------------------------ */

/* A subscribe of a map type (cmd->sub_type 1..3): the phases of a map subscription. Returns
 * like a handler; the decision's verdict comes back to lc__client_map_subscribe_apply. */
int lc__client_map_subscribe(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_map_subscribe_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* A publish of type 1 (a map write or removal by the client), and its verdict. */
int lc__client_map_publish(lc_client_t *c, lc_cmd_t *cmd);
int lc__client_map_publish_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v);
/* A subscription cs of a channel whose options o name map presence prefixes got made: its
 * entries in the map_clients / map_users channels. */
void lc__client_map_presence_join(lc_client_t *c, lc_csub_t *cs, const lc_ns_opts_t *o);
/* Subscription cs ends (LC_SUB_MAP_* flags): its presence entries and own key go. */
void lc__client_map_leave(lc_client_t *c, lc_csub_t *cs);
/* The session's map walks end (with their hub records and kept publications). */
void lc__client_map_free_walks(lc_client_x_t *x);
/* The engine may have lost deliveries: walks collecting their channels end with 112. */
void lc__client_map_lost(lc_client_t *c);
/* The map sched is due: walks collecting past their deadline end. */
void lc__client_map_sweep_due(lc_client_t *c);
/* An unsubscribe of a channel whose map subscribe has not gone live: its walk ends. */
void lc__client_map_forget(lc_client_t *c, const char *channel);

#endif
