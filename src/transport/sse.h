/* Bidirectional emulation (spec §8.1): SSE and HTTP-streaming connections carrying replies and
 * pushes, and POST /emulation carrying the later commands of their sessions. */
#ifndef LC_TRANSPORT_SSE_H
#define LC_TRANSPORT_SSE_H

#include "transport/http.h"

/* Route sse.handler_prefix (when sse.enabled), http_stream.handler_prefix (when
 * http_stream.enabled) and emulation.handler_prefix (when either is). cfg must outlive the
 * router. 0 or LC_ENOMEM. */
int lc_sse_register(lc_router_t *r, const lc_config_t *cfg);

#endif
