/* Unidirectional transports (spec §8.2): uni_websocket, uni_sse and uni_http_stream. The
 * client sends one ConnectRequest and then only receives bare pushes. */
#ifndef LC_TRANSPORT_UNI_H
#define LC_TRANSPORT_UNI_H

#include "transport/http.h"

/* Route the handler_prefix of each of uni_websocket, uni_sse and uni_http_stream that is
 * enabled. cfg must outlive the router. 0 or LC_ENOMEM. */
int lc_uni_register(lc_router_t *r, const lc_config_t *cfg);

#endif
