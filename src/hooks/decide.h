/* The decision pipeline: the one place that knows the order of the steps deciding a client's
 * connect, refresh, subscribe, sub_refresh, publish or rpc (DESIGN.md, data flow 2-3):
 *
 *   1. Lua    the script's hook of the kind, when it has one: any answer but nil decides (the
 *             hook sees the raw token in ctx.token and its verified claims in ctx.claims);
 *   2. token  a connection token (connect, refresh) or a subscription token (subscribe,
 *             sub_refresh); a private channel without one is refused;
 *   3. proxy  the proxy configured for the kind (connect, subscribe or Laravel's broadcasting
 *             auth, publish, rpc; refresh and sub_refresh at expiry);
 *   4. rules  the namespace permissions (user-limited channels, allow_*_for_client /
 *             _subscriber / _anonymous, client.insecure, anonymous connect options, rpc ping).
 *
 * The session builds a request from the command and its own state, starts the pipeline, and
 * applies the one verdict that comes back through one callback. It keeps one handle while it
 * waits and drops it (lc_decide_cancel) when it ends first. Checks of the command's shape
 * (channel length, duplicate subscription, namespace, channel_regex) come before, in the
 * session; what a verdict leads to (the subscription, the publication, the reply) after.
 *
 * Not thread-safe: a pipeline runs in the worker that started it. */
#ifndef LC_HOOKS_DECIDE_H
#define LC_HOOKS_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "hooks/decide_trace.h"
#include "hooks/httpc.h"
#include "hooks/proxy.h"
#include "hooks/script.h"
#include "proto/codec.h"

typedef struct lc_decide lc_decide_t;

/* What a session asks. The kinds are those of the Lua hooks (LC_HOOK_CONNECT, REFRESH,
 * SUBSCRIBE, SUB_REFRESH, PUBLISH, RPC). Strings and arrays are borrowed until the callback
 * runs or the pipeline is cancelled (the session keeps the command parked that long). */
typedef struct lc_decide_req {
    lc_hook_kind kind;
    /* refresh / sub_refresh asked by the server when an expiry passes: the refresh or
     * sub_refresh proxy alone decides (no command, no Lua, no token) */
    bool at_expiry;
    const lc_config_t *cfg;
    const lc_ns_opts_t *ns; /* subscribe, publish, sub_refresh at expiry (copied) */
    /* the session: client, transport, user, meta and forwarded headers, as a proxy sends them */
    lc_proxy_req_t session;
    lc_raw_t conn_info; /* the connection's info (Lua ctx.info) */
    /* the command */
    const char *token;
    const char *channel;
    const char *method;
    const char *name, *version;
    lc_raw_t data;
    const lc_cmd_sub_t *subs; /* connect `subs` (their channels go to the connect proxy) */
    size_t n_subs;
    bool subscribed;     /* publish: the client is subscribed to the channel */
    bool server_refresh; /* refresh: the refresh proxy owns this connection's expiry */
    /* The protocol authorized the command already (a Pusher channel signature, the app's
     * client-event policy): only the Lua hook may still refuse it; without one, or when it
     * has no opinion, it is allowed (no token, proxy or namespace permission step). */
    bool preauthorized;
    /* Leave every proxy out, as if none were configured (`lucent explain --no-proxy`, the
     * admin playground): a Lua hook's lucent.proxy answers nil, "proxy skipped". */
    bool no_proxy;
    lc_lua_t *lua;     /* the worker's VM, NULL without a script */
    lc_httpc_t *httpc; /* the worker's HTTP client for proxies */
    /* Records the steps when set (`lucent explain`, the admin playground; borrowed, filled
     * before the callback; such a decision is left out of the metrics and the refusal log).
     * NULL: a trace is kept and logged at info only for users and clients named in
     * log.trace_users. */
    lc_decide_trace_t *trace;
} lc_decide_req_t;

typedef enum lc_verdict_type {
    LC_VERDICT_ALLOW,
    LC_VERDICT_ERROR,      /* reply with code (message, temporary) */
    LC_VERDICT_DISCONNECT, /* close the connection with code (message = reason) */
} lc_verdict_type;

typedef enum lc_decide_step {
    LC_STEP_LUA = 1,
    LC_STEP_TOKEN,
    LC_STEP_PROXY,
    LC_STEP_RULES,
} lc_decide_step;

/* The one answer. Everything it points to is valid during the callback only. */
typedef struct lc_verdict {
    lc_verdict_type type;
    lc_decide_step by;   /* the step that decided */
    uint32_t code;       /* ERROR / DISCONNECT */
    const char *message; /* "" = the code's own text (ERROR) or reason (DISCONNECT) */
    bool temporary;
    /* The step could not be asked or answered (backend down, timeout, nonsense, no memory):
     * ERROR 100. At expiry the session asks again later instead of ending anything. */
    bool unavailable;
    /* ALLOW: a result came with fields (a token's claims, a proxy or Lua result table).
     * connect without it is an anonymous connection; refresh at expiry without it ends. */
    bool granted;
    const char *user;     /* connect; "" = anonymous, never NULL on ALLOW */
    lc_raw_t info;        /* connection info (connect, refresh) or channel info (subscribe, ...) */
    lc_raw_t data;        /* connect / subscribe result data, rpc answer, publish replacement */
    bool data_set;        /* publish: data replaces the client's */
    lc_raw_t meta;        /* connect */
    int64_t expire_at;    /* Unix s, 0 = none */
    bool expire_at_claim; /* connect: from an explicit expire_at (past → 110, not 109) */
    bool expired;         /* refresh / sub_refresh at expiry: the backend ends it */
    /* connect: the refresh proxy prolongs the connection; subscribe: the sub_refresh proxy
     * prolongs the subscription */
    bool refresh_by_proxy;
    const char *const *channels; /* connect: server-side channels */
    size_t n_channels;
    const lc_conn_sub_t *subs; /* connect: server-side subscriptions with options */
    size_t n_subs;
    const lc_sub_override_t *override;  /* subscribe; NULL = none */
    bool skip_history;                  /* publish */
    const lc_map_result_t *map;         /* publish of a map write: what the proxy set; NULL */
    const char *const *exclude_clients; /* publish (Lua): left out of the fan-out */
    size_t n_exclude_clients;
    const char *const *exclude_users;
    size_t n_exclude_users;
} lc_verdict_t;

typedef void (*lc_decide_cb)(void *arg, const lc_verdict_t *v);

/* Run the pipeline for req. cb runs exactly once: before this returns when every step that
 * ran answered at once (then NULL is returned), or later from the loop (a handle is
 * returned), unless lc_decide_cancel(handle) comes first. The callback must not cancel its
 * own pipeline (the handle is spent once the callback starts). */
lc_decide_t *lc_decide_start(const lc_decide_req_t *req, lc_decide_cb cb, void *arg);
/* Abandon a pending pipeline: its callback never runs, the Lua call or proxy request it
 * waits for is cancelled, and its memory freed. NULL is ignored. */
void lc_decide_cancel(lc_decide_t *d);

/* For decide.c and its trace (decide_trace.c). */
const char *lc__decide_kind_name(lc_hook_kind kind);
const char *lc__decide_step_name(lc_decide_step step);
bool lc__decide_traced(const lc_config_t *cfg, const lc_proxy_req_t *session);
/* decide_rules.c: whether ch starts with a non-empty prefix; whether user is among those a
 * user-limited channel names after its last boundary. */
bool lc__decide_has_prefix(const char *s, size_t len, const char *prefix);
bool lc__decide_user_listed(const lc_config_t *cfg, const char *user, const char *ch, size_t len);
/* The first lines: which rule of the top-level `channels` list applies to the channel. */
void lc__decide_trace_start(lc_decide_trace_t *t, const lc_decide_req_t *r);
/* The outcome line; log: the lines go to the log at info (log.trace_users). */
void lc__decide_trace_end(lc_decide_trace_t *t, const lc_decide_req_t *r, const lc_verdict_t *v,
                          bool log);

/* The namespace rules alone for a client subscribe without token or proxy (user-limited
 * channel naming the user, allow_subscribe_for_client with the anonymous option,
 * client.insecure): unidirectional connects subscribe the request's channels by them. */
bool lc_decide_subscribe_rules(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *user,
                               const char *ch, size_t len);
/* Whether ch names a user-limited channel (`dialog#42,43`) in a namespace that allows them. */
bool lc_decide_user_limited(const lc_config_t *cfg, const lc_ns_opts_t *ns, const char *ch,
                            size_t len);

#endif
