/* What the files of a session's map subscribe share: client_map.c (the walk, the subscribe
 * command, the state and stream phases) and client_map_live.c (going live). Not for other
 * files.
 *
 * Every engine call of a phase may be answered inside the call (memory engine) or later from
 * the loop (Redis). A phase keeps what its continuation needs in a step (lc_map_step_t) that
 * travels with the session's one engine waiter (client_wait.c): the command stays parked,
 * later commands queue behind it, and a step whose session closed first is freed with the
 * waiter, touching nothing of the session. A continuation finds the walk again by channel
 * (the session's walks die with it), never through a pointer kept across the wait. */
#ifndef LC_CORE_CLIENT_MAP_INTERNAL_H
#define LC_CORE_CLIENT_MAP_INTERNAL_H

#include "core/client_internal.h"

/* Why a walk that lost kept publications ends (with 112). */
#define LC_MAP_LOST "publications of the channel lost while subscribing"

enum { LC_MAP_PHASE_LIVE = 0, LC_MAP_PHASE_STREAM = 1, LC_MAP_PHASE_STATE = 2 };

/* A publication of the walk's channel kept until the live reply went out (push NULL: the
 * session was excluded from it, only its position counts). */
typedef struct lc_map_kept {
    lc_rcbuf_t *push;
    uint64_t offset;
} lc_map_kept_t;

/* A map subscribe walk in progress (the state and stream phases before live).
 *
 * With an engine that links nodes (channel_ready: Redis) the reads answer later and other
 * nodes' writes arrive over another connection, so a write landing after a read but
 * delivered before the session is in the hub would be lost. The walk therefore joins the
 * hub at its first read with a LC_SUB_SYNC record (`sync`, counting the channel in for this
 * node) and waits until the node receives the channel; from then on every publication of the
 * channel is kept here, in order and bounded, and the live reply is followed by the kept ones
 * above what it covered. Past the bound, or when the engine may have lost deliveries, the
 * walk is `lost`: it ends with 112 and the client starts over. */
struct lc_map_walk {
    struct lc_map_walk *next;
    int type;
    bool captured; /* the first state page fixed epoch and offset */
    char epoch[LC_EPOCH_MAX];
    uint64_t offset;
    bool start_captured; /* the first stream page fixed the stream's top */
    uint64_t stream_start;
    int64_t started_ms;
    /* what the walk's decision granted, for the live reply and the subscription */
    int64_t exp;        /* subscription expiry (Unix s), 0 = none */
    bool proxy_refresh; /* the sub_refresh proxy prolongs it */
    char *info;         /* channel info (raw JSON), NULL = none */
    size_t info_len;
    char *data; /* subscribe result data (raw JSON), NULL = none */
    size_t data_len;
    lc_sub_t *sync;      /* the hub's record collecting the channel, NULL = none */
    bool lost;           /* kept publications were dropped (bound, engine reconnect) */
    int64_t deadline_ms; /* with sync: when an abandoned walk gives it back (monotonic) */
    lc_map_kept_t *kept;
    size_t n_kept, cap_kept, kept_bytes;
    size_t chlen;
    char channel[];
};

/* An engine answer, kept (references taken): a map read's, or channel_ready's (err only). */
typedef struct lc_map_got {
    bool done;
    int err;
    lc_stream_pos_t top;
    lc_rcbuf_t **pubs;
    size_t n;
    char *cursor; /* state: the next page's, NULL after the last */
} lc_map_got_t;

typedef struct lc_map_step lc_map_step_t;
/* A continuation: the answer is in st->got; cmd is the parked command (c->cmd). Owns st
 * (frees it, or hands it to the next engine call). Returns like a handler. */
typedef int (*lc_map_step_fn)(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);

struct lc_map_step {
    lc_map_step_fn next;
    lc_map_got_t got;      /* the last call's answer */
    int limit;             /* the page size of this request */
    lc_stream_pos_t since; /* going live: the catch-up starts after this position */
    bool recovery;         /* from the stream phase or a direct live request */
    lc_map_got_t state;    /* going live from the state phase: its last page */
    lc_map_step_fn then;   /* after the node receives the channel (lc__map_walk_sync) */
};

lc_map_step_t *lc__map_step_new(void);
void lc__map_step_free(void *st);
void lc__map_got_free(lc_map_got_t *g);
/* Read q; the answer goes to fn with st (at once or later). Returns like a handler. */
int lc__map_step_read(lc_client_t *c, lc_map_step_t *st, const lc_map_read_req_t *q,
                      lc_map_step_fn fn);
/* Wait until the node receives channel ch (counted in by the walk's hub record); the answer
 * (st->got.err) goes to fn. Only with an engine that has channel_ready. */
int lc__map_step_ready(lc_client_t *c, lc_map_step_t *st, const char *ch, size_t len,
                       lc_map_step_fn fn);
/* With an engine that links nodes: the walk w of cmd's channel collects the channel from
 * now on (made once, then waiting until the node receives it), then fn. Without, or when w
 * collects already: fn at once. Owns st. Returns like a handler. */
int lc__map_walk_sync(lc_client_t *c, const lc_cmd_t *cmd, lc_map_walk_t *w, lc_map_step_t *st,
                      lc_map_step_fn fn);
/* The kept publications of w, handed over (w keeps none and no hub record after it). */
void lc__map_walk_take(lc_map_walk_t *w, lc_sub_t **sync, lc_map_kept_t **kept, size_t *n);
void lc__map_kept_free(lc_map_kept_t *kept, size_t n);

/* The options of the command's map channel for c, re-resolved after a wait (NULL when the
 * channel is no longer of the command's map type). */
const lc_ns_opts_t *lc__map_opts(lc_client_t *c, const lc_cmd_t *cmd, lc_ns_opts_t *scratch,
                                 lc_ns_map_t *mo);
/* A read of channel ch: every phase starts from the same query. */
void lc__map_read_query(lc_map_read_req_t *q, const char *ch, size_t len, const lc_ns_map_t *mo);
lc_map_walk_t *lc__map_walk_find(lc_client_t *c, const char *ch, size_t len);
/* Forget the walks left unfinished past their namespace's subscribe_catch_up_timeout. */
void lc__map_walk_sweep(lc_client_t *c);
/* Give back w's hub record and kept publications (client_map_sync.c). */
void lc__map_walk_release(lc_client_t *c, lc_map_walk_t *w);
void lc__map_walk_drop(lc_client_t *c, const char *ch, size_t len);
/* End the walk of cmd's channel with an error reply (a log line says why). LC_CMD_DONE. */
int lc__map_walk_fail(lc_client_t *c, const lc_cmd_t *cmd, uint32_t code, const char *why);
char *lc__map_dup_raw(lc_raw_t r, size_t *len);
void lc__map_reply_result(lc_client_t *c, uint32_t id, const lc_subscribe_result_t *r);

/* Go live (client_map_live.c): st->since, st->recovery and st->state set; the walk of cmd's
 * channel holds the grant. Owns st. Returns like a handler. */
int lc__map_go_live(lc_client_t *c, const lc_cmd_t *cmd, lc_map_step_t *st);

#endif
