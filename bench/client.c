/* Subscriber processes: several threads, one libuv loop each, every connection a WebSocket
 * client whose frames wslay's frame layer reads. The receive path does no allocation and no
 * per-message system call: one clock read per socket read, one scan per publication. */
#include "bench.h"

#include <errno.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <wslay/wslay.h>

#include "auth/jwt.h"
#include "util/buf.h"

enum { ST_CONNECTING, ST_HANDSHAKE, ST_COMMANDS, ST_READY, ST_FAILED, ST_CLOSED };

typedef struct thr thr_t;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    thr_t *t;
    int idx;
    uint8_t state;
    bool mid;        /* inside a frame */
    bool accumulate; /* the frame spans reads: its payload goes to acc */
    uint8_t opcode;
    int replies;
    uint64_t remaining;
    const uint8_t *in; /* the read chunk wslay is consuming */
    size_t inlen;
    wslay_frame_context_ptr wf;
    llhttp_t *hp; /* during the upgrade only */
    lc_buf_t acc;
    lc_buf_t out; /* frames built by wslay before one uv_write */
} conn_t;

struct thr {
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t async;
    const bench_opts_t *o;
    int first, count, src_ip, raw_port;
    conn_t *conns;
    int next, inflight;
    _Atomic int finished, ready, errors, closed;
    _Atomic uint64_t delivered_pub;
    _Atomic int snap_req, snap_done;
    uint64_t hist[HIST_N];
    uint64_t delivered, bad_frames;
    int64_t first_recv_us, last_recv_us, max_lat_us, now_us;
    double cpu_first_recv, busy;
    uint8_t rbuf[256 * 1024];
};

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* ---- publications in a frame ---- */

/* Count the publications in a text payload ("seq":J,"t":T per publication) and record their
 * latency; a Centrifugo ping ({} alone on a line) is answered. Returns publications seen. */
static void send_frame(conn_t *c, int opcode, const void *p, size_t n);

static int scan_payload(conn_t *c, const uint8_t *p, size_t n)
{
    thr_t *t = c->t;
    const uint8_t *end = p + n, *q = p;
    int found = 0;
    while (q < end) {
        const uint8_t *s = memmem(q, (size_t)(end - q), "\"seq\":", 6);
        if (!s)
            break;
        s += 6;
        while (s < end && *s >= '0' && *s <= '9')
            s++;
        if (end - s < 6 || memcmp(s, ",\"t\":", 5) != 0) {
            q = s;
            continue;
        }
        s += 5;
        int64_t ts = 0;
        while (s < end && *s >= '0' && *s <= '9')
            ts = ts * 10 + (*s++ - '0');
        int64_t lat = t->now_us - ts;
        t->hist[hist_bucket(lat)]++;
        if (lat > t->max_lat_us)
            t->max_lat_us = lat;
        found++;
        q = s;
    }
    return found;
}

static bool has_ping_line(const uint8_t *p, size_t n)
{
    if (n == 2)
        return p[0] == '{' && p[1] == '}';
    if (n > 2 && p[0] == '{' && p[1] == '}' && p[2] == '\n')
        return true;
    return n > 2 && (memmem(p, n, "\n{}\n", 4) || (p[n - 3] == '\n' && p[n - 2] == '{'));
}

/* Replies to the connect and subscribe commands: the connection is ready after 1 + K. */
static void on_replies(conn_t *c, const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        size_t ll = (size_t)(le - p);
        if (memmem(p, ll, "\"id\":", 5)) {
            if (memmem(p, ll, "\"error\":", 8)) {
                if (c->t->errors < 5)
                    fprintf(stderr, "bench: command refused: %.*s\n", (int)(ll > 300 ? 300 : ll),
                            (const char *)p);
                c->state = ST_FAILED;
                return;
            }
            c->replies++;
        }
        p = le + 1;
    }
}

static void conn_finished(conn_t *c, bool ok);

static void on_frame(conn_t *c, const uint8_t *p, size_t n)
{
    thr_t *t = c->t;
    switch (c->opcode) {
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
    case WSLAY_CONTINUATION_FRAME:
        if (c->state == ST_COMMANDS) {
            on_replies(c, p, n);
            if (c->state == ST_FAILED)
                conn_finished(c, false);
            else if (c->replies >= 1 + t->o->subs)
                conn_finished(c, true);
            return;
        }
        int got = scan_payload(c, p, n);
        if (got) {
            if (t->delivered == 0) {
                t->first_recv_us = t->now_us;
                t->cpu_first_recv = thread_cpu_s();
            }
            t->delivered += (uint64_t)got;
            t->last_recv_us = t->now_us;
        } else if (t->o->proto == PROTO_CENTRIFUGO && has_ping_line(p, n)) {
            send_frame(c, WSLAY_TEXT_FRAME, "{}", 2);
        } else {
            t->bad_frames++;
        }
        break;
    case WSLAY_PING:
        send_frame(c, WSLAY_PONG, p, n);
        break;
    case WSLAY_CONNECTION_CLOSE:
        if (c->state == ST_READY) {
            c->state = ST_CLOSED;
            t->closed++;
        }
        break;
    default:
        break;
    }
}

/* ---- wslay frame layer ---- */

static ssize_t wf_recv(uint8_t *buf, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    size_t n = len < c->inlen ? len : c->inlen;
    if (n == 0)
        return 0; /* wslay reads this as WSLAY_ERR_WANT_READ */
    memcpy(buf, c->in, n);
    c->in += n;
    c->inlen -= n;
    return (ssize_t)n;
}

static ssize_t wf_send(const uint8_t *data, size_t len, int flags, void *ud)
{
    conn_t *c = ud;
    return lc_buf_append(&c->out, data, len) == 0 ? (ssize_t)len : WSLAY_ERR_INVALID_CALLBACK;
}

static int wf_mask(uint8_t *buf, size_t len, void *ud)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)rand();
    return 0;
}

static const struct wslay_frame_callbacks wf_callbacks = {wf_send, wf_recv, wf_mask};

static void write_done(uv_write_t *w, int status)
{
    free(w);
}

/* Write c->out as it is (one uv_write; the request and the bytes in one allocation). */
static void flush_out(conn_t *c)
{
    if (c->out.len == 0 || c->state == ST_FAILED)
        return;
    uv_write_t *w = malloc(sizeof(*w) + c->out.len);
    if (!w)
        abort();
    char *copy = (char *)(w + 1);
    memcpy(copy, c->out.data, c->out.len);
    uv_buf_t b = uv_buf_init(copy, (unsigned)c->out.len);
    lc_buf_reset(&c->out);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_done) != 0)
        free(w);
}

static void send_frame(conn_t *c, int opcode, const void *p, size_t n)
{
    struct wslay_frame_iocb io = {.fin = 1,
                                  .opcode = (uint8_t)opcode,
                                  .mask = 1,
                                  .payload_length = n,
                                  .data = p,
                                  .data_length = n};
    while (io.data_length > 0 || n == 0) {
        ssize_t r = wslay_frame_send(c->wf, &io);
        if (r < 0)
            break;
        io.data += r;
        io.data_length -= (size_t)r;
        if (n == 0)
            break;
    }
    flush_out(c);
}

/* Feed bytes to wslay until it wants more. */
static void feed(conn_t *c, const uint8_t *p, size_t n)
{
    c->in = p;
    c->inlen = n;
    for (;;) {
        struct wslay_frame_iocb io;
        memset(&io, 0, sizeof(io));
        ssize_t r = wslay_frame_recv(c->wf, &io);
        if (r == WSLAY_ERR_WANT_READ)
            return;
        if (r < 0) {
            c->t->bad_frames++;
            return;
        }
        if (!c->mid) {
            c->mid = true;
            c->opcode = io.opcode;
            c->remaining = io.payload_length;
            c->accumulate = io.data_length < io.payload_length;
        }
        c->remaining -= io.data_length;
        if (c->accumulate)
            lc_buf_append(&c->acc, io.data, io.data_length);
        if (c->remaining == 0) {
            c->mid = false;
            if (c->accumulate) {
                on_frame(c, (const uint8_t *)c->acc.data, c->acc.len);
                lc_buf_reset(&c->acc);
                c->accumulate = false;
            } else {
                on_frame(c, io.data, io.data_length);
            }
            if (c->state == ST_FAILED)
                return;
        }
    }
}

/* ---- connection set-up ---- */

static void start_next(thr_t *t);

static void on_close(uv_handle_t *h) {}

static void conn_finished(conn_t *c, bool ok)
{
    thr_t *t = c->t;
    if (ok) {
        c->state = ST_READY;
        t->ready++;
    } else {
        c->state = ST_FAILED;
        t->errors++;
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_close);
    }
    t->finished++;
    t->inflight--;
    start_next(t);
}

static void on_upgraded(conn_t *c, const uint8_t *rest, size_t n)
{
    thr_t *t = c->t;
    const bench_opts_t *o = t->o;
    if (o->proto == PROTO_NCHAN) {
        c->state = ST_READY;
        conn_finished(c, true);
        c->state = ST_READY;
    } else {
        lc_buf_t cmd = LC_BUF_INIT;
        char *tok = NULL;
        if (o->token_secret) {
            char user[32];
            snprintf(user, sizeof(user), "bench%d", c->idx);
            tok = lc_jwt_make_connect_token(o->token_secret, user, time(NULL), o->token_ttl);
        }
        const char *token = tok ? tok : o->token;
        if (token)
            lc_buf_printf(&cmd, "{\"id\":1,\"connect\":{\"token\":\"%s\"}}", token);
        else
            lc_buf_printf(&cmd, "{\"id\":1,\"connect\":{}}");
        free(tok);
        for (int k = 0; k < o->subs; k++)
            lc_buf_printf(&cmd, "\n{\"id\":%d,\"subscribe\":{\"channel\":\"%s%d\"}}", k + 2,
                          o->chan_prefix, bench_conn_channel(o, c->idx, k));
        c->state = ST_COMMANDS;
        send_frame(c, WSLAY_TEXT_FRAME, cmd.data, cmd.len);
        lc_buf_free(&cmd);
    }
    if (n)
        feed(c, rest, n);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    conn_t *c = h->data;
    *b = uv_buf_init((char *)c->t->rbuf, sizeof(c->t->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn_t *c = s->data;
    thr_t *t = c->t;
    if (n < 0) {
        if (c->state == ST_READY) {
            c->state = ST_CLOSED;
            t->closed++;
        }
        if (c->state < ST_READY) {
            if (t->errors < 3)
                fprintf(stderr, "bench: connection %d lost before it was ready: %s\n", c->idx,
                        uv_strerror((int)n));
            conn_finished(c, false);
        }
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0)
        return;
    t->now_us = bench_now_us();
    const uint8_t *p = (const uint8_t *)b->base;
    if (c->state == ST_HANDSHAKE) {
        llhttp_errno_t e = llhttp_execute(c->hp, (const char *)p, (size_t)n);
        if (e == HPE_OK)
            return;
        bool ok = e == HPE_PAUSED_UPGRADE && c->hp->status_code == 101;
        const char *pos = llhttp_get_error_pos(c->hp);
        free(c->hp->settings);
        free(c->hp);
        c->hp = NULL;
        if (!ok) {
            if (t->errors < 3)
                fprintf(stderr, "bench: upgrade refused (%s)\n", llhttp_errno_name(e));
            conn_finished(c, false);
            return;
        }
        size_t used = pos ? (size_t)(pos - (const char *)p) : (size_t)n;
        on_upgraded(c, p + used, (size_t)n - used);
    } else {
        feed(c, p, (size_t)n);
    }
    atomic_store_explicit(&t->delivered_pub, t->delivered, memory_order_relaxed);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    thr_t *t = c->t;
    if (status != 0) {
        if (t->errors < 3)
            fprintf(stderr, "bench: connect: %s\n", uv_strerror(status));
        conn_finished(c, false);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    if (t->o->proto == PROTO_RAW) {
        conn_finished(c, true);
        return;
    }
    char path[512];
    const char *tpl = t->o->ws_path, *ph = strstr(tpl, "{ch}");
    if (ph)
        snprintf(path, sizeof(path), "%.*s%s%d%s", (int)(ph - tpl), tpl, t->o->chan_prefix,
                 bench_conn_channel(t->o, c->idx, 0), ph + 4);
    else
        snprintf(path, sizeof(path), "%s", tpl);
    lc_buf_printf(
        &c->out,
        "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        path, t->o->host, t->o->port);
    c->hp = calloc(1, sizeof(*c->hp));
    llhttp_settings_t *st = calloc(1, sizeof(*st));
    llhttp_settings_init(st);
    llhttp_init(c->hp, HTTP_RESPONSE, st);
    c->state = ST_HANDSHAKE;
    flush_out(c);
}

static void start_one(thr_t *t, conn_t *c)
{
    const bench_opts_t *o = t->o;
    c->t = t;
    c->tcp.data = c;
    c->creq.data = c;
    c->state = ST_CONNECTING;
    wslay_frame_context_init(&c->wf, &wf_callbacks, c);
    t->inflight++;
    uv_tcp_init(&t->loop, &c->tcp);
    struct sockaddr_in dst;
    uv_ip4_addr(o->host, o->proto == PROTO_RAW ? t->raw_port : o->port, &dst);
    if (t->src_ip > 1) {
        /* Several source addresses: the port is chosen at connect time, so each address has
         * its own ephemeral range (IP_BIND_ADDRESS_NO_PORT). */
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)t->src_ip);
        if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0 ||
            uv_tcp_open(&c->tcp, fd) != 0) {
            fprintf(stderr, "bench: bind 127.0.0.%d: %s\n", t->src_ip, strerror(errno));
            if (fd >= 0)
                close(fd);
            conn_finished(c, false);
            return;
        }
    }
    int r = uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&dst, on_connect);
    if (r != 0) {
        if (t->errors < 3)
            fprintf(stderr, "bench: connect: %s\n", uv_strerror(r));
        conn_finished(c, false);
    }
}

static void start_next(thr_t *t)
{
    while (t->inflight < t->o->connconc && t->next < t->count) {
        conn_t *c = &t->conns[t->next];
        c->idx = t->first + t->next;
        t->next++;
        start_one(t, c);
    }
}

static void on_async(uv_async_t *a)
{
    thr_t *t = a->data;
    if (atomic_load(&t->snap_req) && !atomic_load(&t->snap_done)) {
        t->busy = t->delivered && t->last_recv_us > t->first_recv_us
                      ? (thread_cpu_s() - t->cpu_first_recv) /
                            ((t->last_recv_us - t->first_recv_us) / 1e6)
                      : 0;
        atomic_store(&t->snap_done, 1);
    }
}

static void *thread_main(void *arg)
{
    thr_t *t = arg;
    uv_run(&t->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* ---- the subscriber process ---- */

static int ctl_wait(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return 0;
    char c;
    return read(fd, &c, 1) == 1 ? c : CTL_QUIT;
}

int bench_subscriber_main(const bench_opts_t *o, int first, int count, int src_ip, int ctl_fd,
                          int raw_port)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int nt = o->threads < 1 ? 1 : o->threads;
    if (nt > count && count > 0)
        nt = count;
    thr_t **ts = calloc((size_t)nt, sizeof(*ts));
    uint64_t expected = 0;
    for (int i = first; i < first + count; i++)
        for (int k = 0; k < o->subs; k++)
            expected += (uint64_t)bench_msgs_for_channel(o, bench_conn_channel(o, i, k));
    int64_t t0 = bench_now_us();
    for (int i = 0; i < nt; i++) {
        thr_t *t = ts[i] = calloc(1, sizeof(thr_t));
        t->o = o;
        t->first = first + (int)((int64_t)count * i / nt);
        t->count = first + (int)((int64_t)count * (i + 1) / nt) - t->first;
        t->src_ip = src_ip;
        t->raw_port = raw_port;
        t->conns = calloc((size_t)t->count + 1, sizeof(conn_t));
        uv_loop_init(&t->loop);
        uv_async_init(&t->loop, &t->async, on_async);
        t->async.data = t;
        start_next(t);
        pthread_create(&t->tid, NULL, thread_main, t);
    }
    int64_t deadline = t0 + 120 * 1000000LL;
    for (;;) {
        int fin = 0;
        for (int i = 0; i < nt; i++)
            fin += atomic_load(&ts[i]->finished);
        if (fin >= count || bench_now_us() > deadline)
            break;
        usleep(2000);
    }
    bench_report_t *rep = calloc(1, sizeof(*rep));
    rep->connect_s = (bench_now_us() - t0) / 1e6;
    for (int i = 0; i < nt; i++) {
        rep->ready += atomic_load(&ts[i]->ready);
        rep->conn_errors += atomic_load(&ts[i]->errors);
    }
    rep->cpu_ready_s = process_cpu_s();
    rep->expected = expected;
    char m = CTL_READY;
    if (write(ctl_fd, &m, 1) != 1 || write(ctl_fd, rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
        _exit(1);
    bool done_sent = false;
    for (;;) {
        int cmd = ctl_wait(ctl_fd, 2);
        if (cmd == CTL_QUIT)
            _exit(0);
        if (!done_sent) {
            uint64_t d = 0;
            for (int i = 0; i < nt; i++)
                d += atomic_load_explicit(&ts[i]->delivered_pub, memory_order_relaxed);
            if (d >= expected * (uint64_t)rep->ready / (count ? (uint64_t)count : 1) &&
                expected > 0 && d > 0) {
                m = CTL_DONE;
                done_sent = write(ctl_fd, &m, 1) == 1;
            }
        }
        if (cmd != CTL_REPORT)
            continue;
        /* Each loop answers between two reads, so its counters are a consistent snapshot. */
        for (int i = 0; i < nt; i++) {
            atomic_store(&ts[i]->snap_done, 0);
            atomic_store(&ts[i]->snap_req, 1);
            uv_async_send(&ts[i]->async);
        }
        for (int i = 0; i < nt; i++)
            while (!atomic_load(&ts[i]->snap_done))
                usleep(500);
        rep->cpu_report_s = process_cpu_s();
        memset(rep->hist, 0, sizeof(rep->hist));
        rep->delivered = rep->bad_frames = 0;
        rep->closed = 0;
        rep->first_recv_us = rep->last_recv_us = rep->max_lat_us = 0;
        rep->thread_busy_max = 0;
        for (int i = 0; i < nt; i++) {
            thr_t *t = ts[i];
            for (int b = 0; b < HIST_N; b++)
                rep->hist[b] += t->hist[b];
            rep->delivered += t->delivered;
            rep->bad_frames += t->bad_frames;
            rep->closed += t->closed;
            if (t->delivered && (!rep->first_recv_us || t->first_recv_us < rep->first_recv_us))
                rep->first_recv_us = t->first_recv_us;
            if (t->last_recv_us > rep->last_recv_us)
                rep->last_recv_us = t->last_recv_us;
            if (t->max_lat_us > rep->max_lat_us)
                rep->max_lat_us = t->max_lat_us;
            if (t->busy > rep->thread_busy_max)
                rep->thread_busy_max = t->busy;
            atomic_store(&t->snap_req, 0);
        }
        m = CTL_STATS;
        if (write(ctl_fd, &m, 1) != 1 || write(ctl_fd, rep, sizeof(*rep)) != (ssize_t)sizeof(*rep))
            _exit(1);
    }
}
