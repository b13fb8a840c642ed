/* The server API (spec §4): POST {http_api.handler_prefix}/<method> for every Centrifugo v6 OSS
 * method plus /batch, the legacy single endpoint POST {http_api.handler_prefix} (spec §4.3),
 * with the key in X-API-Key, `Authorization: apikey KEY` or ?api_key= (compared in constant
 * time), and /health. */
#ifndef LC_API_API_H
#define LC_API_API_H

#include "core/node.h"
#include "transport/http.h"

/* Add the API and health routes to r. The node must outlive the router's use. 0 or LC_ENOMEM. */
int lc_api_register(lc_router_t *r, lc_node_t *node);

#endif
