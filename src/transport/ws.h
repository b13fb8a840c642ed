/* WebSocket transport (RFC 6455 on wslay) for the Centrifugo client protocol. */
#ifndef LC_TRANSPORT_WS_H
#define LC_TRANSPORT_WS_H

#include "transport/http.h"

/* Route the configured websocket.handler_prefix to the WebSocket upgrade handler
 * (nothing when websocket.disabled). 0 or LC_ENOMEM. */
int lc_ws_register(lc_router_t *r, const lc_config_t *cfg);

#endif
