/* WebSocket frames: after a fixed upgrade request, the input is the byte stream of frames a
 * client sends (masking, fragments, control frames, close codes, sizes) into the server-side
 * wslay context of transport/ws.c, whose callbacks read from and write to memory. */
#include "fuzz.h"
#include "net.h"

#define UPGRADE                                                                                    \
    "GET /connection/websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"              \
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"                       \
    "Sec-WebSocket-Version: 13\r\n\r\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    net_start();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    net_exchange(UPGRADE, data, size);
    return 0;
}
