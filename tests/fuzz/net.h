/* A transport server for the HTTP and WebSocket fuzz targets: the real HTTP, WebSocket, SSE,
 * HTTP-stream and unidirectional code of src/transport over loopback, on top of the fake
 * session layer of the transport unit tests (tests/unit/fake_core.c), running in a thread of
 * its own for the whole process. Each input is one connection. */
#ifndef LC_FUZZ_NET_H
#define LC_FUZZ_NET_H

#include <stddef.h>

/* Start the server once (later calls return at once). */
void net_start(void);
/* Connect, send prefix then p[0..n), half-close, read until the server closes (bounded),
 * reset the connection. */
void net_exchange(const char *prefix, const void *p, size_t n);

#endif
