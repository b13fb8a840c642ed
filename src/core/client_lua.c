/* Lua hooks in a session's commands: the script's decision comes first and the standard path
 * (token, proxy, namespace options) decides when it has no opinion. A hook may answer at once
 * or later (it waits for the backend inside lucent.proxy / lucent.http.request); later
 * commands of the connection wait in order behind it, as they do behind a proxy. */
#include "core/client_priv.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/log.h"

static int hook_kind(const lc_cmd_t *cmd)
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
    case LC_CMD_RPC:
        return LC_HOOK_RPC;
    default:
        return -1;
    }
}

static void fill_ctx(const lc_client_t *c, const lc_cmd_t *cmd, lc_hook_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->client = c->id;
    ctx->user = c->user ? c->user : "";
    ctx->transport = c->t->vt->name;
    ctx->channel = cmd ? cmd->channel : NULL;
    ctx->method = cmd ? cmd->method : NULL;
    if (cmd)
        ctx->data = cmd->data;
    ctx->info = (lc_raw_t){c->conn_info, c->conn_info_len};
    ctx->token = cmd ? cmd->token : NULL;
    if (c->x) {
        ctx->meta = (lc_raw_t){c->x->meta, c->x->meta_len};
        ctx->headers = c->x->headers;
        ctx->n_headers = c->x->n_headers;
    }
}

/* The hook answered: run the command's handler with the decision in view. */
static void on_hook(void *arg, const lc_decision_t *d)
{
    lc_client_t *c = arg;
    c->x->lua_call = NULL;
    c->hook = d;
    int r = lc__client_handle(c, &c->x->cur);
    c->hook = NULL;
    if (r == LC_CMD_WAIT)
        return; /* the handler now waits for a proxy: its callback resumes */
    if (r == LC_CMD_STOP)
        lc__client_drop_queue(c);
    if (c->in_hook_call) {
        /* answered at once: the dispatcher goes on with the queue itself */
        lc_cmd_free(&c->x->cur);
        c->waiting = false;
        return;
    }
    lc__client_resume(c);
}

int lc__client_hooked(lc_client_t *c, lc_cmd_t *cmd)
{
    lc_lua_t *vm = lc__worker_lua(c->w);
    int kind = hook_kind(cmd);
    if (!vm || kind < 0 || !lc_lua_has_hook(vm, (lc_hook_kind)kind))
        return lc__client_handle(c, cmd);
    /* The command waits in c->x->cur, as it would behind a proxy call. */
    lc_client_x_t *x = lc__client_x(c);
    if (!x) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    x->cur = *cmd;
    memset(cmd, 0, sizeof(*cmd));
    c->waiting = true;
    lc_hook_ctx_t ctx;
    fill_ctx(c, &x->cur, &ctx);
    c->in_hook_call = true;
    lc_lua_call_t *call = lc_lua_call(vm, (lc_hook_kind)kind, &ctx, on_hook, c);
    c->in_hook_call = false;
    if (call) {
        x->lua_call = call;
        return LC_CMD_WAIT;
    }
    /* decided at once: on_hook has run the handler (which may itself wait for a proxy) */
    if (c->waiting)
        return LC_CMD_WAIT;
    return c->state == LC_CLIENT_CLOSING ? LC_CMD_STOP : LC_CMD_DONE;
}

static void on_notified(void *arg, const lc_decision_t *d)
{
    /* notifications have no decision to apply */
}

void lc__client_notify(lc_client_t *c, int kind, const char *channel, uint32_t code)
{
    lc_lua_t *vm = lc__worker_lua(c->w);
    if (!vm || !lc_lua_has_hook(vm, (lc_hook_kind)kind))
        return;
    lc_hook_ctx_t ctx;
    fill_ctx(c, NULL, &ctx);
    ctx.channel = channel;
    ctx.code = code;
    /* A notification that waits for the backend runs on by itself; the VM owns it. */
    lc_lua_call(vm, (lc_hook_kind)kind, &ctx, on_notified, NULL);
}
