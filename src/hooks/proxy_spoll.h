/* The shared poll refresh proxy (Centrifugo v6.8 channel.proxy.shared_poll_refresh): one POST
 * per channel and cycle asking the backend for the current state of the items tracked on this
 * node.
 *   → {"channel":"votes:feed","items":[{"key":"post_1"},{"key":"post_2","version":5}]}
 *   ← {"result":{"items":[{"key":"post_1","data":{...},"version":6},{"key":"x","removed":true}],
 *                "epoch":"…"}}  |  {"error":{"code":..,"message":..}}
 * Versions go out only in versioned mode (0 is left out: "no data yet"). */
#ifndef LC_HOOKS_PROXY_SPOLL_H
#define LC_HOOKS_PROXY_SPOLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "hooks/httpc.h"
#include "util/buf.h"

typedef struct lc_spoll_item_res {
    const char *key; /* points into the reply's storage */
    size_t key_len;
    const char *data; /* raw JSON byte for byte (from data, or b64data decoded); NULL = none */
    size_t data_len;
    uint64_t version; /* 0 = absent */
    bool removed;
} lc_spoll_item_res_t;

/* A parsed answer. is_error: the backend answered {"error":...} (code, message). */
typedef struct lc_spoll_reply {
    bool is_error;
    uint32_t code;
    char *message;
    char *epoch; /* "" when absent */
    lc_spoll_item_res_t *items;
    size_t n_items;
    char *storage_; /* owned copy of the body the items point into */
    char **arena_;  /* owned strings the items point into (keys, decoded b64data) */
    size_t n_arena_;
} lc_spoll_reply_t;

/* The request body. versions NULL (versionless) or one per key. 0 or LC_ENOMEM. */
int lc_proxy_spoll_encode(const char *channel, size_t chlen, const char *const *keys,
                          const uint64_t *versions, size_t n, lc_buf_t *out);
/* Parse a 200 body (strict JSON object). Items without a string key, data that is not JSON,
 * b64data that is not base64 of JSON: LC_EPARSE for the whole answer (nothing half-applied).
 * 0, LC_EPARSE, LC_ENOMEM; free with lc_proxy_spoll_reply_free also after a failure. */
int lc_proxy_spoll_parse(const char *body, size_t len, lc_spoll_reply_t *out);
void lc_proxy_spoll_reply_free(lc_spoll_reply_t *r);

/* One refresh call in flight. cb runs exactly once from the loop (never inside the start
 * call) with err 0 and the reply, or a negative lc_err (unreachable, timeout, non-200,
 * malformed answer: logged once with the channel), unless cancelled first. */
typedef struct lc_spoll_call lc_spoll_call_t;
typedef void (*lc_spoll_cb)(void *arg, int err, const lc_spoll_reply_t *reply);
/* NULL when it cannot start (cb never runs). body is copied. */
lc_spoll_call_t *lc_proxy_spoll_call(lc_httpc_t *hc, const lc_proxy_conf_t *conf,
                                     const char *channel, const char *body, size_t len,
                                     lc_spoll_cb cb, void *arg);
void lc_proxy_spoll_cancel(lc_spoll_call_t *c);

#endif
