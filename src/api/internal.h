/* Internals of the server API shared by its files: the request-level call that runs one or more
 * method commands (a single /api/<method> request, a batch, or a legacy /api body), the
 * method table, and the parameter helpers.
 *
 * Life of a request: the router hands it to api.c, which authenticates it, decodes the body
 * and makes one lc__api_call_t holding a command per method call. Commands are started in
 * order; each method handler answers exactly once through lc__api_ok or lc__api_fail, now or
 * from a later callback (engine, node-wide operation). When every command has answered, the
 * call writes the response and frees itself. If the peer leaves first, the call is marked
 * cancelled, starts nothing more, and frees itself once the commands in flight have answered.
 *
 * Everything runs in the worker thread that received the request: engine callbacks and the
 * `done` of lc_ops_each_worker come back to that thread. */
#ifndef LC_API_INTERNAL_H
#define LC_API_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "proto/codec.h"
#include "util/buf.h"

/* The API service: one per process, read-only once the server runs. */
typedef struct lc__api {
    lc_node_t *node;
    const lc_config_t *cfg;
} lc__api_t;

typedef struct lc__api_call lc__api_call_t;
typedef struct lc__api_cmd lc__api_cmd_t;

/* A method handler. params/len is the raw text of the params object and p its parse; both
 * are valid only during the call, so a handler that answers later copies what it needs. */
typedef void (*lc__api_run_fn)(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);

typedef struct lc__api_method {
    const char *name;
    int legacy; /* number in the legacy method enum (spec §4.3) */
    lc__api_run_fn run;
} lc__api_method_t;

/* One method call of a request. */
struct lc__api_cmd {
    lc__api_call_t *call;
    lc__api_t *api;
    const lc__api_method_t *method; /* NULL: answered with `error` without running */
    const char *params;             /* input, valid until the command starts */
    size_t len;
    const cJSON *p;
    cJSON *own;      /* parse tree this command owns (legacy bodies), or NULL */
    uint32_t id;     /* legacy command id, 0 = none */
    uint32_t error;  /* 0 = success */
    char *why;       /* for 107: which field and what is wrong with it (owned), or NULL */
    lc_buf_t result; /* the result object's JSON text, "{}" when left empty */
};

enum lc__api_call_kind {
    LC__API_SINGLE,   /* POST /api/<method>: {"result":..} or {"error":..} */
    LC__API_BATCH,    /* POST /api/batch: {"result":{"replies":[{"<method>":..}|{"error":..}]}} */
    LC__API_LEGACY,   /* POST /api: one {"id":..,"result"|"error":..} line per command */
    LC__API_INTERNAL, /* the answers go to a done callback (lc__api_call_new_internal) */
};

/* A call with n commands (n may be 0 for an empty batch), every command answered with 107
 * until set up. NULL on OOM. own (may be NULL) is freed with the call. */
lc__api_call_t *lc__api_call_new(lc__api_t *a, lc_http_req_t *req, int kind, size_t n, cJSON *own);
lc__api_cmd_t *lc__api_call_cmd(lc__api_call_t *call, size_t i);
size_t lc__api_call_size(const lc__api_call_t *call);
/* A call whose commands answer to done rather than to the peer: the Pusher HTTP API runs the
 * server API's methods (broadcast, channels, ...) and words the response itself. done runs once,
 * when every started command has answered, with gone = the peer left (then nothing may be
 * written to req); the call is freed right after done returns. NULL on OOM. */
typedef void (*lc__api_done_fn)(void *arg, lc__api_call_t *call, bool gone);
lc__api_call_t *lc__api_call_new_internal(lc__api_t *a, lc_http_req_t *req, size_t n, cJSON *own,
                                          lc__api_done_fn done, void *arg);
/* Give up on a call that was never run (its request is answered by the caller). */
void lc__api_call_abort(lc__api_call_t *call);
/* Start the commands: all at once (parallel), or each after the previous one answered. The
 * call responds and frees itself when done; it must not be used after this. */
void lc__api_call_run(lc__api_call_t *call, bool parallel);

/* Answer a command: with c->result ("{}" when empty), or with an error code. Exactly once. */
void lc__api_ok(lc__api_cmd_t *c);
void lc__api_fail(lc__api_cmd_t *c, uint32_t code);

/* Control data from another node (lc_node_on_control): a session operation to run here. */
void lc__api_on_control(void *arg, const char *data, size_t len);
/* Control data of the `channels` survey (api_channels.c): handled when it is one (true). */
bool lc__api_channels_control(lc__api_t *a, const char *data, size_t len);

/* Method lookup by name (exact, or ignoring case for legacy bodies) and by legacy number. */
const lc__api_method_t *lc__api_method_find(const char *name, bool ignore_case);
const lc__api_method_t *lc__api_method_legacy(long num);

/* A bad request that names its field: records "field: what" for the message of the command
 * being run (this thread's), returns 107. */
uint32_t lc__api_bad(const char *field, const char *what);

/* Error code → message as the server API words it ("not found" for 104). */
const char *lc__api_error_message(uint32_t code);
/* {"error":{"code":N,"message":".."}} or, inner only, {"code":N,"message":".."} */
int lc__api_append_error(lc_buf_t *b, uint32_t code, bool wrapped);
/* The same with a detail after the message ("bad request: channel: required"); why may be NULL. */
int lc__api_append_error_why(lc_buf_t *b, uint32_t code, const char *why, bool wrapped);
/* Whether the request asked for the "transport" error mode (X-Centrifugo-Error-Mode): errors
 * then get an HTTP status from their code and a bare {"code","message"} body. */
bool lc__api_transport_mode(lc_http_req_t *req);
/* Respond to a request that never became a call (malformed body, ...): HTTP `status` with
 * {"error":{..}}, or in transport mode the code's status with the bare error. */
void lc__api_respond_error(lc_http_req_t *req, int status, uint32_t code);
void lc__api_respond_error_why(lc_http_req_t *req, int status, uint32_t code, const char *why);

/* --- parameters: each returns 0 or the error code to answer (107) --------------------------
 * JSON null counts as absent, as in Centrifugo. Outputs are untouched when absent. */
uint32_t lc__api_get_str(const cJSON *p, const char *key, const char **out);
uint32_t lc__api_get_bool(const cJSON *p, const char *key, bool *out);
/* An integer within [min, max] (exact in a double, so |v| <= 2^53). */
uint32_t lc__api_get_int(const cJSON *p, const char *key, int64_t min, int64_t max, int64_t *out);
/* Whether a request body (or one legacy command) is strict JSON (proto/json_check.h) with
 * \u0000 only inside `data` (and map_publish `stream_data`) values: channels, users and the
 * other names are C strings. */
bool lc__api_json_ok(const char *body, size_t len);
/* Raw JSON text of a field, or absent (out->p NULL). */
uint32_t lc__api_get_raw(const char *params, size_t len, const char *key, lc_raw_t *out);
/* The options of one channel name, declarative rules applied (lc_config_resolve_channel, with
 * no user: the server API acts for nobody): 107 for an empty or too long name, 102 when the
 * channel is defined nowhere. *opts may point to scratch, which must outlive its use. */
uint32_t lc__api_channel_opts(const lc__api_t *a, const char *ch, lc_ns_opts_t *scratch,
                              const lc_ns_opts_t **opts);
/* The `channel` field: a string (else 107), then as lc__api_channel_opts. */
uint32_t lc__api_get_channel(const lc__api_t *a, const cJSON *p, const char **ch,
                             lc_ns_opts_t *scratch, const lc_ns_opts_t **opts);

/* Methods, one file per topic. */
void lc__api_publish(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_broadcast(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_subscribe(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_unsubscribe(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_disconnect(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_refresh(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_presence(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_presence_stats(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_history(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_history_remove(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_channels(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_info(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_rpc(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_publish(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_remove(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_read_state(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_read_stream(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_stats(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);
void lc__api_map_clear(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p);

/* Run the method `name` (or "batch") of an admitted POST request with a JSON body; answers
 * 404 for unknown names. Shared by the server API and the admin UI's API. */
void lc__api_run_request(lc__api_t *a, lc_http_req_t *req, const char *name);

/* GET /metrics when prometheus.enabled (api_metrics.c); the admin UI when admin.enabled
 * (api_admin.c). 0 or LC_ENOMEM. */
int lc__api_metrics_register(lc_router_t *r, lc__api_t *a);
int lc__api_admin_register(lc_router_t *r, lc__api_t *a);

/* The Pusher HTTP API under {pusher.handler_prefix}/apps/ when pusher.enabled (api_pusher.c).
 * 0 or LC_ENOMEM. */
int lc__api_pusher_register(lc_router_t *r, lc__api_t *a);

/* The admin UI's API (api_admin.c): an error answer {"error":{"message":..}} with status; the
 * playground method (api_playground.c), p being the parsed body of an admitted request. */
void lc__api_admin_error(lc_http_req_t *req, int status, const char *message);
void lc__api_playground(lc__api_t *a, lc_http_req_t *req, const cJSON *p);

/* POST /api/batch (api_legacy.c): root is the parsed body, given to the call. */
void lc__api_batch(lc__api_t *a, lc_http_req_t *req, const char *body, size_t len, cJSON *root);
/* POST {prefix} exactly: the legacy single-endpoint API. */
void lc__api_legacy(lc__api_t *a, lc_http_req_t *req);

#endif
