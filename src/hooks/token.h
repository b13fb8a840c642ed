/* The keys tokens are verified with, from the configuration (client.token.* for connection
 * tokens, client.subscription_token.* or client.token.* for subscription tokens), and the
 * worker's JWKS cache when jwks_public_endpoint is set.
 *
 * JWKS: the key set is fetched with the worker's HTTP client and kept per worker. A token
 * signed with a `kid` the cached set lacks verifies as LC_JWT_UNKNOWN_KEY; the caller then
 * asks for a refresh (lc_token_jwks_refresh) and verifies again when it is done. Refreshes
 * are shared (callers waiting at the same time share one fetch) and spaced out: a set fetched
 * less than JWKS_MIN_REFETCH_MS ago is not fetched again (a token naming a key nobody has
 * stays invalid without costing a request each time). A failed fetch keeps the previous set.
 *
 * Not thread-safe: everything here runs in the worker owning the HTTP client. */
#ifndef LC_HOOKS_TOKEN_H
#define LC_HOOKS_TOKEN_H

#include <stdbool.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "hooks/httpc.h"

typedef struct lc_token_keys {
    lc_jwt_keys_t keys;
    const char *jwks_url; /* NULL without a JWKS */
} lc_token_keys_t;

/* Fill out for connection tokens (sub false) or subscription tokens (sub true). hc is the
 * worker's HTTP client, which holds the JWKS cache; with hc NULL a configured JWKS has no keys
 * (tokens needing one are LC_JWT_UNKNOWN_KEY). out borrows from cfg and hc. */
void lc_token_keys(const lc_config_t *cfg, bool sub, lc_httpc_t *hc, lc_token_keys_t *out);

typedef struct lc_jwks_wait lc_jwks_wait_t;
/* Fetch url's key set again (or join the fetch under way); done(arg) runs once from the loop
 * when it ends, whatever the outcome, unless cancelled first. NULL when no fetch is due (the
 * set is fresh: the kid is unknown) or none can start; done then never runs. */
lc_jwks_wait_t *lc_token_jwks_refresh(lc_httpc_t *hc, const char *url, void (*done)(void *arg),
                                      void *arg);
void lc_token_jwks_cancel(lc_jwks_wait_t *w);

#endif
