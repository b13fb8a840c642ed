/* The one asynchronous step a session may wait for (DESIGN.md, data flow 2): a decision of the
 * pipeline in hooks/decide.h about a command, an engine call, or the refresh / sub_refresh
 * proxy at an expiry. While it is pending the command waits in x->cur and later commands
 * queue behind it; one handle (x->pending) and one sub-state (c->wait) say what is pending,
 * and lc__client_cancel_wait drops it when the session ends first. Also the Lua
 * notifications (disconnect, unsubscribe), which nobody waits for. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/assert.h"
#include "util/err.h"
#include "util/log.h"

int lc__client_park(lc_client_t *c)
{
    LC_ASSERT(c->cmd != NULL);
    lc_client_x_t *x = lc__client_x(c);
    if (!x)
        return LC_ENOMEM;
    if (c->cmd != &x->cur) {
        x->cur = *c->cmd;
        /* the dispatcher's copy is now empty: freeing it is a no-op */
        memset(c->cmd, 0, sizeof(*c->cmd));
        c->cmd = &x->cur;
    }
    return 0;
}

void lc__client_step_done(lc_client_t *c, int r, bool async)
{
    if (r == LC_CMD_WAIT) {
        LC_ASSERT(c->wait != LC_WAIT_NONE);
        return; /* a further step holds the command */
    }
    if (r == LC_CMD_STOP)
        lc__client_drop_queue(c);
    if (!async)
        return; /* the dispatcher that started the step goes on */
    if (c->x)
        lc_cmd_free(&c->x->cur);
    c->cmd = NULL;
    lc__client_process_queue(c);
    lc__client_send_replies(c);
}

void lc__client_cancel_wait(lc_client_t *c)
{
    lc_client_x_t *x = c->x;
    switch ((enum lc_wait_kind)c->wait) {
    case LC_WAIT_NONE:
        return;
    case LC_WAIT_DECISION:
    case LC_WAIT_REFRESH:
    case LC_WAIT_SUB_REFRESH:
        lc_decide_cancel(x->pending.decide);
        break;
    case LC_WAIT_ENGINE:
        /* An engine cannot take a call back: its answer comes and finds no session. */
        x->pending.engine->c = NULL;
        break;
    }
    x->pending.decide = NULL;
    c->wait = LC_WAIT_NONE;
}

/* --- decisions ----------------------------------------------------------------------------- */

static lc_hook_kind kind_of(const lc_cmd_t *cmd)
{
    switch (cmd->type) {
    case LC_CMD_CONNECT:
        return LC_HOOK_CONNECT;
    case LC_CMD_REFRESH:
        return LC_HOOK_REFRESH;
    case LC_CMD_SUBSCRIBE:
        return LC_HOOK_SUBSCRIBE;
    case LC_CMD_SUB_REFRESH:
        return LC_HOOK_SUB_REFRESH;
    case LC_CMD_PUBLISH:
        return LC_HOOK_PUBLISH;
    default:
        return LC_HOOK_RPC;
    }
}

void lc__client_decide_req(lc_client_t *c, lc_hook_kind kind, lc_decide_req_t *r)
{
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->cfg = lc__ccfg(c);
    r->session.client = c->id;
    r->session.transport = c->t->vt->name;
    r->session.user = c->user ? c->user : "";
    const lc_client_x_t *x = c->x;
    if (x) {
        r->session.meta = (lc_raw_t){x->meta, x->meta_len};
        r->session.conn_headers = x->headers;
        r->session.n_conn_headers = x->n_headers;
        r->session.emulated_headers = x->emulated;
        r->session.n_emulated_headers = x->n_emulated;
    }
    r->conn_info = (lc_raw_t){c->conn_info, c->conn_info_len};
    r->server_refresh = c->server_refresh;
    r->lua = lc__worker_lua(c->w);
    r->httpc = lc__worker_httpc(c->w);
    const lc_cmd_t *cmd = c->cmd;
    if (!cmd)
        return;
    r->token = cmd->token;
    r->channel = cmd->channel;
    r->method = cmd->method;
    r->name = cmd->name;
    r->version = cmd->version;
    r->data = cmd->data;
    r->subs = cmd->subs;
    r->n_subs = cmd->n_subs;
}

static int apply(lc_client_t *c, const lc_verdict_t *v)
{
    const lc_cmd_t *cmd = c->cmd;
    switch (kind_of(cmd)) {
    case LC_HOOK_CONNECT:
        return lc__client_connect_apply(c, cmd, v);
    case LC_HOOK_REFRESH:
        return lc__client_refresh_apply(c, cmd, v);
    case LC_HOOK_SUBSCRIBE:
        return lc__client_subscribe_apply(c, cmd, v);
    case LC_HOOK_SUB_REFRESH:
        return lc__client_sub_refresh_apply(c, cmd, v);
    case LC_HOOK_PUBLISH:
        return lc__client_publish_apply(c, cmd, v);
    default:
        return lc__client_rpc_apply(c, cmd, v);
    }
}

static bool take_decision(lc_client_t *c, enum lc_wait_kind kind)
{
    if (c->wait != kind)
        return false; /* answered inside lc_decide_start */
    c->wait = LC_WAIT_NONE;
    c->x->pending.decide = NULL;
    return true;
}

/* The verdict about the command in c->cmd. */
static void on_verdict(void *arg, const lc_verdict_t *v)
{
    lc_client_t *c = arg;
    bool async = take_decision(c, LC_WAIT_DECISION);
    int r = apply(c, v);
    if (r != LC_CMD_WAIT && c->state == LC_CLIENT_CLOSING)
        r = LC_CMD_STOP;
    lc__client_step_done(c, r, async);
}

static int started(lc_client_t *c, lc_decide_t *d, enum lc_wait_kind kind)
{
    if (!d) /* decided at once: applied already */
        return c->wait != LC_WAIT_NONE         ? LC_CMD_WAIT
               : c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP
                                               : LC_CMD_DONE;
    if (kind == LC_WAIT_DECISION && lc__client_park(c) != 0) {
        lc_decide_cancel(d);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    c->wait = (uint8_t)kind;
    c->x->pending.decide = d;
    return LC_CMD_WAIT;
}

int lc__client_decide(lc_client_t *c, const lc_decide_req_t *r)
{
    LC_ASSERT(c->wait == LC_WAIT_NONE);
    return started(c, lc_decide_start(r, on_verdict, c), LC_WAIT_DECISION);
}

static void on_refresh_verdict(void *arg, const lc_verdict_t *v)
{
    lc_client_t *c = arg;
    bool async = take_decision(c, LC_WAIT_REFRESH);
    lc__client_refresh_at_expiry_apply(c, v);
    lc__client_step_done(c, LC_CMD_DONE, async);
}

static void on_sub_refresh_verdict(void *arg, const lc_verdict_t *v)
{
    lc_client_t *c = arg;
    bool async = take_decision(c, LC_WAIT_SUB_REFRESH);
    lc__client_sub_refresh_at_expiry_apply(c, v);
    lc__client_step_done(c, LC_CMD_DONE, async);
}

/* The refresh / sub_refresh proxy at an expiry (no command): x exists (the expiry checks live
 * in it). */
void lc__client_decide_at_expiry(lc_client_t *c, const lc_decide_req_t *r)
{
    LC_ASSERT(c->wait == LC_WAIT_NONE && c->x != NULL);
    bool refresh = r->kind == LC_HOOK_REFRESH;
    lc_decide_t *d = lc_decide_start(r, refresh ? on_refresh_verdict : on_sub_refresh_verdict, c);
    started(c, d, refresh ? LC_WAIT_REFRESH : LC_WAIT_SUB_REFRESH);
}

/* --- engine calls ---------------------------------------------------------------------------- */

lc_engine_wait_t *lc__client_engine_wait(lc_client_t *c)
{
    lc_engine_wait_t *w = calloc(1, sizeof(*w));
    if (w)
        w->c = c;
    return w;
}

static void engine_wait_free(lc_engine_wait_t *w)
{
    if (w->ctx_free)
        w->ctx_free(w->ctx);
    free(w);
}

int lc__client_engine_started(lc_client_t *c, lc_engine_wait_t *w, int rc)
{
    if (rc != 0 || w->answered) {
        LC_ASSERT(rc == 0 || !w->answered);
        engine_wait_free(w);
        if (rc != 0)
            return LC_CMD_DONE;
        return c->wait != LC_WAIT_NONE         ? LC_CMD_WAIT
               : c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP
                                               : LC_CMD_DONE;
    }
    w->pending = true;
    /* A step without a command (the server API's subscribe) has nothing to park. */
    if (!lc__client_x(c) || (c->cmd && lc__client_park(c) != 0)) {
        w->c = NULL; /* the answer finds no session and is dropped */
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    LC_ASSERT(c->wait == LC_WAIT_NONE);
    c->wait = LC_WAIT_ENGINE;
    c->x->pending.engine = w;
    return LC_CMD_WAIT;
}

lc_client_t *lc__client_engine_answer(lc_engine_wait_t *w, bool *async)
{
    LC_ASSERT(!w->answered);
    w->answered = true;
    lc_client_t *c = w->c;
    *async = w->pending;
    if (w->pending && c) {
        LC_ASSERT(c->wait == LC_WAIT_ENGINE && c->x->pending.engine == w);
        c->wait = LC_WAIT_NONE;
        c->x->pending.engine = NULL;
    }
    return c;
}

void lc__client_engine_end(lc_engine_wait_t *w, int r, bool async)
{
    lc_client_t *c = w->c;
    if (async)
        engine_wait_free(w); /* else the starter frees it */
    if (!c)
        return;
    if (r != LC_CMD_WAIT && c->state == LC_CLIENT_CLOSING)
        r = LC_CMD_STOP;
    lc__client_step_done(c, r, async);
}

/* --- notifications -----------------------------------------------------------------------------
 */

static void on_notified(void *arg, const lc_decision_t *d)
{
    /* notifications have no decision to apply */
}

void lc__client_notify(lc_client_t *c, lc_hook_kind kind, const char *channel, uint32_t code)
{
    lc_lua_t *vm = lc__worker_lua(c->w);
    if (!vm || !lc_lua_has_hook(vm, kind))
        return;
    lc_hook_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.client = c->id;
    ctx.user = c->user ? c->user : "";
    ctx.transport = c->t->vt->name;
    ctx.channel = channel;
    ctx.code = code;
    ctx.info = (lc_raw_t){c->conn_info, c->conn_info_len};
    if (c->x) {
        ctx.meta = (lc_raw_t){c->x->meta, c->x->meta_len};
        ctx.headers = c->x->headers;
        ctx.n_headers = c->x->n_headers;
    }
    /* A notification that waits for the backend runs on by itself; the VM owns it. */
    lc_lua_call(vm, kind, &ctx, on_notified, NULL);
}
