/* The proxy hooks (spec §5): a decision about connect, refresh, subscribe, publish,
 * sub_refresh or rpc asked of the application's backend over HTTP, and Laravel's own
 * broadcasting auth endpoint reused for subscriptions.
 *
 * Encoding and parsing are pure functions (unit-tested alone); lc_proxy_call ties them to the
 * worker's HTTP client. */
#ifndef LC_HOOKS_PROXY_H
#define LC_HOOKS_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "hooks/httpc.h"
#include "proto/codec.h"
#include "util/buf.h"

typedef enum lc_proxy_kind {
    LC_PROXY_CONNECT,
    LC_PROXY_REFRESH,
    LC_PROXY_SUBSCRIBE,
    LC_PROXY_PUBLISH,
    LC_PROXY_SUB_REFRESH,
    LC_PROXY_RPC,
} lc_proxy_kind;

/* Everything a proxy request may carry (spec §5.1-§5.2); fields a kind does not use are
 * ignored. Borrowed for the duration of the call. */
typedef struct lc_proxy_req {
    lc_proxy_kind kind;
    const char *client;
    const char *transport;       /* "websocket", "sse", "http_stream", ... */
    const char *user;            /* every kind but connect; "" = anonymous */
    const char *name, *version;  /* connect */
    const char *const *channels; /* connect: keys of the ConnectRequest's subs */
    size_t n_channels;
    const char *channel; /* subscribe, publish, sub_refresh */
    /* map channels (v6.8): the key a publish or remove is about (NULL = none), a removal, and
     * the subscription type a subscribe asks for (0 = stream) */
    const char *key;
    bool removed;
    int sub_type;
    const char *method; /* rpc */
    lc_raw_t data;      /* connect, subscribe, publish, rpc */
    lc_raw_t meta;      /* with include_connection_meta */
    /* Headers of the connection's HTTP request (forwarded when in http_headers), and the
     * connect command's `headers` (forwarded when in emulated_headers). */
    const lc_http_header_t *conn_headers;
    size_t n_conn_headers;
    const lc_http_header_t *emulated_headers;
    size_t n_emulated_headers;
} lc_proxy_req_t;

enum lc_proxy_reply_type { LC_PROXY_RESULT, LC_PROXY_ERROR, LC_PROXY_DISCONNECT };

/* What a map publish or remove proxy's result may set besides data (Centrifugo v6.8
 * MapPublishResult: key, data/b64data, tags, score, key_mode, stream_data/b64stream_data,
 * idempotency_key, delta, version, version_epoch; MapRemoveResult: key, tags,
 * idempotency_key), and what a Lua publish hook may return for a map write. Strings and raw
 * JSON are owned by the reply; NULL / false / 0 = not given. */
typedef struct lc_map_result {
    bool set;   /* any field below was given */
    char *key;  /* replaces the key written or removed */
    char *tags; /* raw JSON object of strings */
    size_t tags_len;
    bool has_score;
    int64_t score;
    char *key_mode;    /* "if_new", "if_exists" or "" */
    char *stream_data; /* raw JSON, or decoded b64stream_data */
    size_t stream_data_len;
    char *idempotency_key;
    bool delta; /* a hint: map subscribers get whole values */
    uint64_t version;
    char *version_epoch;
} lc_map_result_t;
void lc_map_result_free(lc_map_result_t *m);
/* Sets m->set from the fields; false when key_mode is none of the modes. */
bool lc_map_result_done(lc_map_result_t *m);

/* A backend's answer. Strings and raw JSON are owned (free with lc_proxy_reply_free). For
 * info and data, a base64 twin in the answer is decoded into the same field and wins. */
typedef struct lc_proxy_reply {
    enum lc_proxy_reply_type type;
    uint32_t code;   /* error / disconnect code */
    char *message;   /* error message / disconnect reason ("" when absent) */
    bool temporary;  /* error */
    bool has_result; /* `result` present and not null */
    /* result fields */
    char *user;        /* connect; NULL when absent */
    int64_t expire_at; /* connect, refresh, subscribe, sub_refresh; 0 = absent */
    bool expired;      /* refresh, sub_refresh */
    char *info;        /* raw JSON or decoded b64info bytes */
    size_t info_len;
    char *data; /* raw JSON or decoded b64data bytes */
    size_t data_len;
    bool data_set;   /* publish: data replaces the client's */
    char **channels; /* connect */
    size_t n_channels;
    lc_conn_sub_t *subs; /* connect `subs` (same shape as the token claim) */
    size_t n_subs;
    char *meta;                 /* connect, refresh */
    lc_sub_override_t override; /* subscribe */
    bool skip_history;          /* publish */
    lc_map_result_t map;        /* publish: used for a map write or removal only */
    long status; /* the HTTP status of the answer, 0 when none came (for the decision trace) */
} lc_proxy_reply_t;

/* The request body for r as JSON (Centrifugo protocol): client, transport, protocol, encoding,
 * then user (every kind but connect, "" included), channel or method, data (raw JSON byte for
 * byte, or b64data with binary_encoding), connect's name/version (when non-empty) and channels
 * (when any), and meta (with include_connection_meta, when present). 0 or LC_ENOMEM. */
/* What a disconnect decided by a hook or a backend may carry: a WebSocket close frame holds an
 * application code 3000-4999 and a reason of at most 123 bytes (the server API's rule). */
#define LC_DISCONNECT_CODE_MIN 3000
#define LC_DISCONNECT_CODE_MAX 4999
#define LC_DISCONNECT_REASON_MAX 123

int lc_proxy_encode(const lc_proxy_req_t *r, const lc_proxy_conf_t *conf, lc_buf_t *out);
/* Parse a 200 response body into *out (free with lc_proxy_reply_free, also after a failure).
 * Like the reference server, `disconnect` wins over `error`, which wins over `result`; a body
 * with none of them (or a null result) is LC_PROXY_RESULT with has_result false. Only the
 * result fields of `kind` are read (others are ignored, unknown keys too); raw JSON values
 * (info, data, meta) are kept byte for byte, while those inside connect `subs` are compact
 * JSON as in lc_sub_options_t. 0, or LC_EPARSE (not JSON, not an object, a field of the
 * wrong type, malformed base64 or override), LC_EINVAL (a disconnect code outside
 * LC_DISCONNECT_CODE_MIN..MAX or a reason longer than LC_DISCONNECT_REASON_MAX) or
 * LC_ENOMEM. */
int lc_proxy_parse(lc_proxy_kind kind, const char *body, size_t len, lc_proxy_reply_t *out);
void lc_proxy_reply_free(lc_proxy_reply_t *r);

/* The headers to send besides Content-Type: the static headers (lowest priority), then the
 * emulated headers named in emulated_headers, then the connection headers named in
 * http_headers. Names are compared case-insensitively; a header of a later group replaces
 * every earlier one of the same name (so a transport value wins over an emulated one), while
 * repeated names within one group are all kept. Content-Type and Content-Length are never
 * forwarded, nor a header whose name is not an HTTP token or whose value holds CR or LF.
 * Entries point into conf and r. Returns the count written (<= max). */
size_t lc_proxy_headers(const lc_proxy_conf_t *conf, const lc_proxy_req_t *r, lc_http_header_t *out,
                        size_t max);

/* err: 0 with a reply; or a negative lc_err when the backend could not be asked or answered
 * nonsense (unreachable, timeout, non-200, invalid JSON) — the caller then answers as spec §5.3
 * says, and of the reply only `status` is set (what the backend said, 0 when nothing came).
 * reply is never NULL and valid during the callback only. */
typedef void (*lc_proxy_cb)(void *arg, int err, const lc_proxy_reply_t *reply);

/* One request in flight; owned by the module until its callback has run or it is cancelled. */
typedef struct lc_proxy_call lc_proxy_call_t;

/* Ask the backend: POST the encoded request to conf->endpoint with conf->timeout_ms. NULL when
 * the request cannot start (cb never runs); otherwise cb runs exactly once, always from the
 * loop (never inside this call), unless lc_proxy_cancel(handle) is called first. The handle
 * is invalid once cb has started. r and conf are only read during this call. Logs one line on
 * failure ("proxy <kind> <endpoint>: <what>"). */
lc_proxy_call_t *lc_proxy_call(lc_httpc_t *hc, const lc_proxy_conf_t *conf, const lc_proxy_req_t *r,
                               lc_proxy_cb cb, void *arg);

/* Abandon a call that has not reached its callback: the HTTP request is cancelled, cb never
 * runs and everything the call held is freed. Not to be used from inside or after cb. Calls
 * still pending when the HTTP client is closed must be cancelled first: lc_httpc_close drops
 * their requests without a callback, so their memory would be lost. NULL is ignored. */
void lc_proxy_cancel(lc_proxy_call_t *c);

/* Laravel's broadcasting auth endpoint for a subscribe decision (conf->protocol ==
 * LC_PROXY_LARAVEL_AUTH): POST form-encoded channel_name=<laravel name>&socket_id=<client id>
 * (r->channel mapped by lc_proxy_laravel_channel, r->client) with the headers of
 * lc_proxy_headers, plus `Accept: application/json` and `X-Requested-With: XMLHttpRequest`
 * unless those names are already sent (so Laravel answers 401/403 rather than redirecting to
 * a login page). The reply is as lc_proxy_laravel_parse makes it; err != 0 for anything else
 * (→ 100 temporary). Same contract as lc_proxy_call otherwise. */
lc_proxy_call_t *lc_proxy_laravel_auth(lc_httpc_t *hc, const lc_proxy_conf_t *conf,
                                       const lc_proxy_req_t *r, lc_proxy_cb cb, void *arg);

/* Laravel's answer to /broadcasting/auth as a reply (free with lc_proxy_reply_free, also after
 * a failure):
 *   2xx      LC_PROXY_RESULT, has_result true. The body may be empty, `true` (Redis driver) or
 *            an object ({"auth":...} of the Pusher driver); for a presence channel the
 *            `user_info` of its `channel_data` (a JSON string holding an object, as the Pusher
 *            driver sends it, or an object, as the Redis driver does) becomes `info`, raw
 *            JSON byte for byte. A non-empty body that is not JSON (a login page, say), or a
 *            malformed channel_data, is LC_EPARSE.
 *   401/403  LC_PROXY_ERROR 103 "permission denied" (as is a 2xx whose body is `false`).
 *   other    LC_EIO. */
int lc_proxy_laravel_parse(long status, const char *body, size_t len, bool presence,
                           lc_proxy_reply_t *out);

/* Channel names between Lucent (Centrifugo) and Laravel forms: `$orders.1` →
 * `private-orders.1`; `$presence-x` → `presence-x`; a name already in Laravel form
 * (`private-…`, `presence-…`) stays as it is; any other name `x` → `private-x`. Writes a
 * NUL-terminated name into out (appended). 0, LC_EINVAL (empty name or a lone `$`) or
 * LC_ENOMEM. */
int lc_proxy_laravel_channel(const char *lucent_channel, lc_buf_t *out);

#endif
