/* Internals of the Pusher HTTP API (api_pusher*.c): the endpoints, the error answer, and the
 * Pusher ↔ Lucent mapping of names and event data they share. */
#ifndef LC_API_API_PUSHER_H
#define LC_API_API_PUSHER_H

#include <stdbool.h>
#include <stddef.h>

#include "api/internal.h"

/* Query parameters an endpoint uses (percent-decoded; NULL when absent), valid only during the
 * endpoint call: an endpoint copies what it keeps. */
typedef struct lc__papi_query {
    const char *info;
    const char *filter_by_prefix;
} lc__papi_query_t;

/* Answer {"error":"<message>","code":status} with that HTTP status, and log one line. */
void lc__papi_error(lc_http_req_t *req, const lc_pusher_app_t *app, int status, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
/* Answer 200 (or status) with a JSON body. */
void lc__papi_respond(lc_http_req_t *req, int status, const char *body, size_t len);

/* Endpoints of a signed request to an enabled app. Each answers req exactly once. */
/* POST events (batch false) or batch_events (api_pusher_events.c). */
void lc__papi_events(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req, bool batch);
/* GET channels; GET channels/{name} or, users true, channels/{name}/users; POST
 * users/{id}/terminate_connections (api_pusher_channels.c). */
void lc__papi_channels(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                       const lc__papi_query_t *q);
void lc__papi_channel(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                      const char *name, size_t len, bool users, const lc__papi_query_t *q);
void lc__papi_terminate(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                        const char *user, size_t len);

/* --- names and counts ----------------------------------------------------------------------- */

/* Whether name[0..len) is a Pusher channel name an app may publish to: 1..max bytes of
 * A-Z a-z 0-9 _ - = @ , . ; (`#` names are Pusher-internal server-to-user channels, which
 * Lucent does not serve). */
bool lc__papi_channel_ok(const char *name, size_t len, int max);
bool lc__papi_is_presence(const char *name);

/* The info attributes asked for: a comma list of user_count and subscription_count. false for
 * any other attribute (answered 400, as Pusher does). */
#define LC__PAPI_USER_COUNT 1u
#define LC__PAPI_SUBSCRIPTION_COUNT 2u
bool lc__papi_info_parse(const char *info, unsigned *bits, char *bad, size_t badlen);

/* Commands for an internal call, their params written into text (which the caller keeps until
 * the call ends): the server API's `channels` survey of every node for the exact Lucent channel
 * (its subscribers), and the engine's presence of it: stats ({"num_clients","num_users"}), or,
 * users true, the distinct users ({"users":[{"id":..}]}). 0 or LC_ENOMEM. */
int lc__papi_cmd_subscriptions(lc__api_cmd_t *c, lc_buf_t *text, const char *lucent_channel);
int lc__papi_cmd_presence(lc__api_cmd_t *c, lc_buf_t *text, const char *lucent_channel, bool users);
/* A count out of a finished command's result: the survey's num_clients of the channel (0 when
 * not listed), or the presence stats' field ("num_clients", "num_users"). -1 when the command
 * failed. */
long long lc__papi_count_result(const lc__api_cmd_t *c, const char *lucent_channel,
                                const char *field);

#endif
