/* HTTP request parsing, routing and upgrades: the input is what a client sends on one
 * connection (pipelined requests, bodies, WebSocket upgrades and the frames after them, SSE
 * and HTTP-stream connects, emulation posts) to the real transport code. */
#include "fuzz.h"
#include "net.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    net_start();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    net_exchange(NULL, data, size);
    return 0;
}
