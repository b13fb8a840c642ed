/* One decision explained: a command of one user (connect, refresh, subscribe, sub_refresh,
 * publish, rpc) run once through the decision pipeline (decide.h) with a trace, and the reply
 * a client would get. Shared by `lucent explain` (its own loop, VM and HTTP client) and the
 * admin UI's playground (the worker's). The real parts run: the Lua hooks of the VM given,
 * token checks with the config's keys, the configured proxies unless no_proxy.
 *
 * Not thread-safe: a run belongs to the loop of the VM and HTTP client it was given. */
#ifndef LC_HOOKS_EXPLAIN_H
#define LC_HOOKS_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "hooks/decide_trace.h"
#include "hooks/httpc.h"
#include "hooks/script.h"

typedef struct lc_explain_args {
    /* "connect", "refresh", "subscribe", "sub_refresh", "publish" or "rpc" */
    const char *command;
    const char *target; /* the channel (subscribe, sub_refresh, publish) or method (rpc) */
    const char *data;   /* JSON: publish (required), rpc (optional), connect (optional) */
    const char *user;   /* NULL = "" (anonymous) */
    const char *client; /* NULL = "explain" */
    /* A JSON object signed with the config's HMAC key into the command's token: a connection
     * token (connect, refresh) or a subscription token (subscribe, sub_refresh; `channel`
     * filled in), `sub` = user unless given. NULL: see token. */
    const char *claims;
    /* The token as it is. Neither: connect and refresh get a connection token for user,
     * sub_refresh a subscription token, when the config has an HMAC key. */
    const char *token;
    bool subscribed; /* publish: the client is subscribed to the channel */
    bool no_proxy;   /* leave every proxy out (decide.h) */
    /* refresh, sub_refresh: what the server does when the connection's (the subscription's)
     * expiry passes and the refresh (sub_refresh) proxy owns it: that proxy alone decides,
     * and the "reply" is what the client then sees (nothing, a disconnect, an unsubscribe). */
    bool at_expiry;
} lc_explain_args_t;

typedef struct lc_explain_result {
    int rc;                         /* 0 allowed, 1 refused, 2 could not decide (unavailable) */
    const lc_decide_trace_t *trace; /* every step, "step: text" lines */
    const char *user;               /* connect allowed: the user ("" = anonymous), else NULL */
    const char *reply;              /* the reply a JSON client gets (id 1), one line */
} lc_explain_result_t;

/* Runs exactly once, with everything valid during the call only. */
typedef void (*lc_explain_cb)(void *arg, const lc_explain_result_t *r);

typedef struct lc_explain lc_explain_t;

/* Start explaining a->command. 0: started; cb runs before this returns (*out = NULL) or later
 * from the loop (*out = a handle), unless lc_explain_cancel(*out) comes first. Otherwise
 * LC_EINVAL (bad arguments: err says which, for the user) or LC_ENOMEM; cb never runs then.
 * vm may be NULL (no script); cfg, vm and hc must outlive the run; a is copied. */
int lc_explain_start(const lc_config_t *cfg, lc_lua_t *vm, lc_httpc_t *hc,
                     const lc_explain_args_t *a, lc_explain_cb cb, void *arg, lc_explain_t **out,
                     char *err, size_t errlen);
/* Abandon a pending run: cb never runs, the pipeline is cancelled. NULL is ignored. */
void lc_explain_cancel(lc_explain_t *e);

#endif
