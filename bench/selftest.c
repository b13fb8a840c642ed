/* Self-test: how many publications per second the receive path takes, with no server in the
 * way. A sender (the coordinator process, on its own core) writes WebSocket frames holding
 * `batch` Centrifugo publications each, the same shared frame to every connection, as a server
 * that coalesces does; the subscriber processes read them exactly as they read a server. */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "util/buf.h"

static ssize_t st_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    return lc_buf_append(ud, data, len) == 0 ? (ssize_t)len : WSLAY_ERR_INVALID_CALLBACK;
}

static ssize_t st_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int *bench_selftest_accept(const bench_opts_t *o, int listen_fd)
{
    struct timeval tv = {.tv_sec = 30};
    setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int *fds = calloc((size_t)o->n + 1, sizeof(int));
    for (int i = 0; i < o->n; i++) {
        fds[i] = accept(listen_fd, NULL, NULL);
        if (fds[i] < 0) {
            perror("bench: self-test accept");
            free(fds);
            return NULL;
        }
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    return fds;
}

int bench_selftest_rounds(const bench_opts_t *o, int *fds, int64_t *t0_us, int64_t *t1_us)
{
    struct wslay_frame_callbacks cb = {st_send, st_recv, NULL};
    lc_buf_t payload = LC_BUF_INIT, frame = LC_BUF_INIT;
    wslay_frame_context_ptr wf;
    wslay_frame_context_init(&wf, &cb, &frame);
    int batch = o->batch < 1 ? 1 : o->batch;
    *t0_us = bench_now_us();
    for (long j = 0; j < o->m;) {
        lc_buf_reset(&payload);
        lc_buf_reset(&frame);
        for (int b = 0; b < batch && j < o->m; b++, j++) {
            char pl[4096];
            bench_payload(pl, sizeof(pl), j, o->size);
            lc_buf_printf(&payload,
                          "%s{\"push\":{\"channel\":\"%s0\",\"pub\":{\"data\":%s,"
                          "\"offset\":%ld}}}",
                          b ? "\n" : "", o->chan_prefix, pl, j + 1);
        }
        struct wslay_frame_iocb io = {.fin = 1,
                                      .opcode = WSLAY_TEXT_FRAME,
                                      .payload_length = payload.len,
                                      .data = (const uint8_t *)payload.data,
                                      .data_length = payload.len};
        while (io.data_length > 0) {
            ssize_t r = wslay_frame_send(wf, &io);
            if (r < 0)
                return -1;
            io.data += r;
            io.data_length -= (size_t)r;
        }
        for (int i = 0; i < o->n; i++)
            if (write_all(fds[i], frame.data, frame.len) != 0)
                return -1;
    }
    *t1_us = bench_now_us();
    wslay_frame_context_free(wf);
    lc_buf_free(&payload);
    lc_buf_free(&frame);
    return 0;
}
