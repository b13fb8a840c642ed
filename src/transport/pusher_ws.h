/* The Pusher protocol's WebSocket endpoint: <pusher.handler_prefix>/app/{key} (pusher-js,
 * Laravel Echo with the pusher or reverb broadcaster). */
#ifndef LC_TRANSPORT_PUSHER_WS_H
#define LC_TRANSPORT_PUSHER_WS_H

#include "transport/http.h"

/* Route <pusher.handler_prefix>/app/ when pusher.enabled (nothing otherwise). cfg must outlive
 * the router. 0 or LC_ENOMEM. */
int lc_pusher_ws_register(lc_router_t *r, const lc_config_t *cfg);

#endif
