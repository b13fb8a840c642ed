/* The session tests' fixture (test_session.c, test_session_map.c): a fake transport (the
 * core/transport.h vtable), the memory engine behind a wrapper that can hold its answers back
 * (the work is done at the call, the answer comes when the test says, as a networked engine
 * answers from the loop), and a stubbed decision step (hooks/decide.h replaced at link time
 * by session_fx.c). */
#ifndef LC_TEST_SESSION_FX_H
#define LC_TEST_SESSION_FX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/client.h"
#include "core/node.h"
#include "core/transport.h"
#include "engine/engine.h"
#include "hooks/decide.h"
#include "util/buf.h"

/* --- the stubbed decision step ------------------------------------------------------------- */

struct lc_decide {
    lc_hook_kind kind;
    char channel[64];
    lc_decide_cb cb;
    void *arg;
    bool cancelled;
};

typedef struct fx_stub {
    bool at_once;             /* answer ALLOW inside lc_decide_start */
    lc_decide_t *started[16]; /* pending ones, in start order */
    int n_started, n_cancelled, n_answered_at_once;
} fx_stub_t;
extern fx_stub_t stub;

/* Answer the i-th pending decision with ALLOW. */
void answer(int i);
void stub_reset(void);

/* --- an engine whose calls answer when the test says ---------------------------------------- */

enum held_kind {
    HELD_HISTORY = 1,
    HELD_PRESENCE_STATS,
    HELD_MAP_READ,
    HELD_MAP_WRITE,
    HELD_READY,
};

typedef struct held {
    int kind; /* enum held_kind */
    void *arg;
    lc_history_cb hcb;
    lc_presence_stats_cb scb;
    lc_map_read_cb rcb;
    lc_map_write_cb wcb;
    lc_done_cb dcb;
    /* map calls: the memory engine's answer, kept */
    int err;
    lc_map_read_res_t rres;
    lc_map_write_res_t wres;
    bool released;
} held_t;

typedef struct slow_engine {
    lc_engine_t base;
    lc_engine_t *mem;
    bool hold;     /* history and presence_stats answer later */
    bool hold_map; /* map reads and writes, and channel_ready, answer later */
    held_t held[32];
    int n_held;
    int counted; /* channel_subscribe minus channel_unsubscribe (linked vtable) */
} slow_engine_t;
extern slow_engine_t *slow;

/* Answer the i-th held call now (history: an empty stream at epoch "e1", offset 7;
 * presence_stats: 3 clients, 2 users; map calls: what the memory engine answered). */
void release(int i);
/* Answer every held call not answered yet, oldest first (those the answers start are held
 * for the next call: one step of a chain at a time). */
void release_all(void);
/* Held calls not answered yet. */
int n_pending(void);

/* --- a fake transport ------------------------------------------------------------------------ */

typedef struct fake_t {
    lc_transport_t t;
    lc_buf_t out; /* every frame sent, one per line */
    int sends;    /* frames sent */
    bool closed;
    uint32_t close_code;
} fake_t;

/* --- fixture --------------------------------------------------------------------------------- */

typedef struct fx {
    lc_config_t cfg;
    lc_node_t *node;
    fake_t ft;
    lc_client_t *c;
} fx_t;

/* A node with config_json over the slow engine (linked: with channel_subscribe /
 * channel_ready, as an engine that links nodes), one session. */
int fx_setup(void **state, const char *config_json, bool linked);
int fx_teardown(void **state);
/* A second session on the same node (the caller closes it). */
lc_client_t *fx_client(fx_t *f, fake_t *ft);
void send_text(fx_t *f, const char *s);
const char *out(fx_t *f);
/* Connected at once (the stub allows), output cleared. */
void connect_now(fx_t *f);

#endif
