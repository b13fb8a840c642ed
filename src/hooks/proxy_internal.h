/* Shared between the proxy sources only: the in-flight call both lc_proxy_call (proxy.c) and
 * lc_proxy_laravel_auth (proxy_laravel.c) run on. */
#ifndef LC_HOOKS_PROXY_INTERNAL_H
#define LC_HOOKS_PROXY_INTERNAL_H

#include <stdbool.h>

#include "hooks/proxy.h"

/* "connect", "refresh", ... for log lines. */
const char *lc__proxy_kind_name(lc_proxy_kind kind);

/* Start the HTTP request o (url, headers and body already set; the timeout is taken from
 * conf) and wrap it in a call whose answer is read as Centrifugo's protocol, or as Laravel's
 * auth endpoint when laravel is true (presence: the channel is a presence channel). r (may be
 * NULL) names the client, user and channel or method in the log lines. NULL
 * when it cannot start (logged; cb never runs). */
lc_proxy_call_t *lc__proxy_start(lc_httpc_t *hc, const lc_proxy_conf_t *conf, lc_proxy_kind kind,
                                 const lc_proxy_req_t *r, bool laravel, bool presence,
                                 lc_httpc_opts_t *o, lc_proxy_cb cb, void *arg);

#endif
