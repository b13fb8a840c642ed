/* Test support for the transport tests: a fake worker and session layer (the functions of
 * core/worker.h and core/client.h the transport calls), HTTP handlers, a raw TCP client and the
 * harness that runs the server on a uv loop in the main thread while a scenario plays the client
 * in a second thread. */
#ifndef LC_TESTS_FAKE_CORE_H
#define LC_TESTS_FAKE_CORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "config/config.h"
#include "core/transport.h"
#include "core/worker.h"
#include "util/list.h"

struct lc_worker {
    uv_loop_t loop;
    lc_config_t cfg;
    char rbuf[65536];
    lc_list_t flush_list;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_async_t async;
    struct {
        lc_worker_stop_fn fn;
        void *arg;
    } stops[8];
    int nstops;
    bool stopped;
};

/* What the fake session saw; reset by run(). */
typedef struct fake_state {
    int created, closed, pongs, messages;
    bool native_ping[4];
    bool protobuf[4]; /* the session was asked for the Protobuf protocol */
    int flood_ok, flood_rc;
    /* the newest WebSocket connection, and whether it held a wslay session at the end of each
     * loop iteration: a '1' or '0' appended at every change */
    lc_transport_t *t;
    bool alive;
    char trace[32];
    /* the modes sessions were created with, and the newest message (NUL-terminated) */
    int mode[4];
    char msg[512];
    int emulated; /* lc_ops_emulate calls that found their session */
} fake_state_t;

extern fake_state_t g;
extern int cancels; /* requests of /async cancelled because the peer went away */

/* /big answers with this many bytes: more than the socket takes at once */
#define BIG_LEN (8u << 20)

typedef struct tconn {
    int fd;
    char buf[1 << 17];
    size_t len;
} tconn_t;

#define WS_REQ_FMT                                                                                 \
    "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"                                 \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"           \
    "Sec-WebSocket-Version: 13\r\n%s\r\n"

typedef struct scen scen_t;
typedef void (*scen_fn)(scen_t *s);

struct scen {
    lc_worker_t *w;
    int port;
    scen_fn fn;
    atomic_int done, want_stop;
    /* what the client saw */
    int status[4];
    char head[4][1024];
    char body[4][1024];
    int op[4];
    size_t plen[4];
    bool eof;
};

typedef void (*cfg_fn)(lc_config_t *cfg);

tconn_t *tc_connect(int port);
void tc_free(tconn_t *c);
void tc_send(tconn_t *c, const void *p, size_t n);
void tc_sends(tconn_t *c, const char *s);
/* Read more into the buffer; false on EOF, error or timeout. */
bool tc_fill(tconn_t *c);
/* Drop the first n buffered bytes. */
void tc_consume(tconn_t *c, size_t n);
/* One HTTP response: status, head (NUL-terminated copy) and body. -1 on failure. */
int tc_read_http(tconn_t *c, char *head, size_t headcap, char *body, size_t bodycap);
bool tc_eof(tconn_t *c);
/* A masked client frame built into f (16 + n bytes at most); returns its length. */
size_t tc_ws_frame(unsigned char *f, size_t cap, int fin, int opcode, const void *p, size_t n);
void tc_ws_send(tconn_t *c, int fin, int opcode, const void *p, size_t n);
/* Send f[0..n) in pieces cut at the given offsets, pausing so each piece arrives in its own
 * read on the server. */
void tc_send_split(tconn_t *c, const unsigned char *f, size_t n, const size_t *cuts, size_t ncuts);
/* One server frame: opcode, payload copied to out (NUL-terminated). -1 on failure. */
int tc_ws_read(tconn_t *c, char *out, size_t cap, size_t *len);
/* Upgrade; returns the status and keeps the response head. */
int tc_ws_open(tconn_t *c, const char *path, const char *extra, char *head, size_t cap);
/* Start a server with the test routes, run scenario fn against it, stop, check for leaks. */
void run(scen_t *s, scen_fn fn, cfg_fn tweak);

#endif
