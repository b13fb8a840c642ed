/* Shared between the auth sources only: the verified-token core (jwt.c) that both claim
 * readers (jwt_claims.c) sit on. */
#ifndef LC_AUTH_JWT_INTERNAL_H
#define LC_AUTH_JWT_INTERNAL_H

#include <cjson/cJSON.h>

#include "auth/jwt.h"

/* Check size and alphabet, split, pin the algorithm to the keys, verify the signature and
 * parse the signed payload. On LC_JWT_OK *payload is a JSON object the caller deletes; on
 * failure *payload is NULL and *why holds a static reason. */
lc_jwt_status lc__jwt_open(const char *token, size_t len, const lc_jwt_keys_t *keys,
                           cJSON **payload, const char **why);

/* LC_JWT_EXPIRED when exp (if non-zero) is not after now, or nbf is after now. */
lc_jwt_status lc__jwt_check_time(int64_t exp, int64_t nbf, int64_t now, const char **why);

#endif
