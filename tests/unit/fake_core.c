/* The fake session layer and the harness shared by the transport tests (see fake_core.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/client.h"
#include "core/node.h"
#include "core/ops.h"
#include "core/worker.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "transport/sse.h"
#include "transport/uni.h"
#include "transport/ws.h"
#include "util/err.h"
#include "util/list.h"
#include "util/log.h"

#include "fake_core.h"

/* ---- fake worker ---- */

uv_loop_t *lc_worker_loop(lc_worker_t *w)
{
    return &w->loop;
}
int lc_worker_index(const lc_worker_t *w)
{
    return 0;
}
struct lc_node *lc_worker_node(lc_worker_t *w)
{
    return NULL;
}
const lc_config_t *lc_worker_config(const lc_worker_t *w)
{
    return &w->cfg;
}
void lc_worker_read_buf(lc_worker_t *w, uv_buf_t *buf)
{
    *buf = uv_buf_init(w->rbuf, sizeof(w->rbuf));
}
void lc_worker_want_flush(lc_worker_t *w, lc_transport_t *t)
{
    if (t->flush_queued)
        return;
    t->flush_queued = true;
    lc_list_insert_tail(&w->flush_list, &t->flush_node);
}
/* No delay here: the delayed flush of client.write_delay is tested against the real worker. */
void lc_worker_want_flush_delayed(lc_worker_t *w, lc_transport_t *t)
{
    lc_worker_want_flush(w, t);
}
void lc_worker_cancel_flush(lc_worker_t *w, lc_transport_t *t)
{
    if (!t->flush_queued)
        return;
    t->flush_queued = false;
    lc_list_remove(&t->flush_node);
}
/* The fake worker's flushing lives as long as its loop: holding it changes nothing. */
void lc_worker_hold(lc_worker_t *w)
{
    (void)w;
}
void lc_worker_release(lc_worker_t *w)
{
    (void)w;
}
int lc_worker_on_stop(lc_worker_t *w, lc_worker_stop_fn fn, void *arg)
{
    if (w->nstops == 8)
        return LC_ENOMEM;
    w->stops[w->nstops].fn = fn;
    w->stops[w->nstops].arg = arg;
    w->nstops++;
    return 0;
}

static void on_prepare(uv_prepare_t *p)
{
    lc_worker_t *w = p->data;
    lc_list_t batch;
    lc_list_init(&batch);
    /* take the list as it is: a flush may queue again for the next iteration */
    if (!lc_list_empty(&w->flush_list)) {
        batch.next = w->flush_list.next;
        batch.prev = w->flush_list.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        lc_list_init(&w->flush_list);
    }
    while (!lc_list_empty(&batch)) {
        lc_transport_t *t = lc_container_of(batch.next, lc_transport_t, flush_node);
        lc_list_remove(&t->flush_node);
        t->flush_queued = false;
        t->vt->flush(t);
    }
}

/* ---- fake node: one worker, the test's ---- */

static lc_worker_t *the_worker;

const char *lc_node_uid(const lc_node_t *n)
{
    return "fake-node";
}

typedef struct each_op {
    uv_timer_t timer;
    lc_ops_each_fn each, done;
    void *arg;
} each_op_t;

static void on_each_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_each_timer(uv_timer_t *timer)
{
    each_op_t *op = timer->data;
    op->each(the_worker, op->arg);
    op->done(the_worker, op->arg);
    uv_close((uv_handle_t *)&op->timer, on_each_closed);
}

/* never synchronous, like the real one: the next loop iteration */
int lc_ops_each_worker(lc_node_t *n, lc_ops_each_fn each, lc_ops_each_fn done, void *arg)
{
    each_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        return LC_ENOMEM;
    op->each = each;
    op->done = done;
    op->arg = arg;
    uv_timer_init(&the_worker->loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_each_timer, 0, 0);
    return 0;
}

/* ---- fake session: echoes messages, a few words are commands ---- */

struct lc_client {
    lc_transport_t *t;
    int mode;
    char session[16];
    lc_list_t node; /* in sessions */
};

static lc_list_t sessions;

const char *lc_client_session(const lc_client_t *c)
{
    return c->session;
}

bool lc_ops_emulate(lc_worker_t *w, const char *session, const char *data, size_t len)
{
    lc_list_t *pos;
    lc_list_foreach(pos, &sessions)
    {
        lc_client_t *c = lc_container_of(pos, lc_client_t, node);
        if (strcmp(c->session, session) == 0) {
            g.emulated++;
            lc_client_on_message(c, data, len);
            return true;
        }
    }
    return false;
}

fake_state_t g;

static void on_check(uv_check_t *h)
{
    if (g.t == NULL || lc__ws_has_session(g.t) == g.alive)
        return;
    g.alive = !g.alive;
    size_t n = strlen(g.trace);
    if (n + 1 < sizeof(g.trace))
        g.trace[n] = g.alive ? '1' : '0';
}

static void on_ping_timer_closed(uv_handle_t *h)
{
    free(h);
}

/* a native ping sent while the connection is idle */
static void on_ping_timer(uv_timer_t *timer)
{
    if (g.t != NULL)
        g.t->vt->ping(g.t);
    uv_close((uv_handle_t *)timer, on_ping_timer_closed);
}

lc_client_t *lc_client_new(lc_transport_t *t, const lc_client_opts_t *opts)
{
    lc_client_t *c = calloc(1, sizeof(*c));
    c->t = t;
    c->mode = opts->mode;
    g.t = t;
    g.alive = false;
    if (g.created < 4) {
        g.native_ping[g.created] = opts->native_ping;
        g.protobuf[g.created] = opts->protobuf;
        g.mode[g.created] = opts->mode;
    }
    g.created++;
    snprintf(c->session, sizeof(c->session), "s%d", g.created);
    lc_list_insert_tail(&sessions, &c->node);
    return c;
}

void lc_client_on_message(lc_client_t *c, const char *data, size_t len)
{
    g.messages++;
    snprintf(g.msg, sizeof(g.msg), "%.*s", (int)len, data);
    if (len == 5 && memcmp(data, "close", 5) == 0) {
        c->t->vt->close(c->t, 3501, "bad request");
        return;
    }
    if (len == 4 && memcmp(data, "ping", 4) == 0) {
        c->t->vt->ping(c->t);
        return;
    }
    if (len == 9 && memcmp(data, "pinglater", 9) == 0) {
        uv_timer_t *timer = malloc(sizeof(*timer));
        uv_timer_init(lc_worker_loop(c->t->worker), timer);
        uv_timer_start(timer, on_ping_timer, 30, 0);
        return;
    }
    if (len == 5 && memcmp(data, "flood", 5) == 0) {
        char payload[1000];
        memset(payload, 'x', sizeof(payload));
        lc_rcbuf_t *f = c->t->vt->frame(payload, sizeof(payload));
        int rc = LC_ENOMEM;
        while (f != NULL && (rc = c->t->vt->send(c->t, f)) == 0)
            g.flood_ok++;
        g.flood_rc = rc;
        if (f != NULL)
            lc_rcbuf_unref(f);
        c->t->vt->close(c->t, 3008, "slow");
        return;
    }
    if (c->mode == LC_CLIENT_UNI) {
        /* a unidirectional session answers its connect request with pushes only */
        static const char pushes[] = "{\"push\":{\"connect\":{\"client\":\"c1\"}}}\n{}";
        data = pushes;
        len = sizeof(pushes) - 1;
    }
    /* A framing may refuse what it cannot encode (the Protobuf one takes JSON replies only):
     * the real session then disconnects with 3004, and so does this one. */
    lc_rcbuf_t *f = c->t->vt->frame(data, len);
    if (f == NULL) {
        c->t->vt->close(c->t, 3004, "internal server error");
        return;
    }
    assert_int_equal(c->t->vt->send(c->t, f), 0);
    lc_rcbuf_unref(f);
}

void lc_client_on_pong(lc_client_t *c)
{
    g.pongs++;
}

void lc_client_on_close(lc_client_t *c)
{
    g.closed++;
    lc_list_remove(&c->node);
    if (g.t == c->t)
        g.t = NULL;
    free(c);
}

/* ---- HTTP handlers ---- */

static void h_echo(lc_http_req_t *req, void *arg)
{
    char q[64], out[512];
    size_t blen;
    const char *body = lc_http_req_body(req, &blen);
    const char *x = lc_http_req_query_param(req, "x", q, sizeof(q));
    const char *hdr = lc_http_req_header(req, "x-test");
    int n = snprintf(out, sizeof(out), "%s %s q=%s h=%s body=%.*s", lc_http_req_method(req),
                     lc_http_req_path(req), x ? x : "-", hdr ? hdr : "-", (int)blen, body);
    lc_http_respond(req, 200, "text/plain", out, (size_t)n, "X-Extra: 1\r\n");
}

typedef struct async_req {
    uv_timer_t timer;
    lc_http_req_t *req;
} async_req_t;

static void on_async_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_async_timer(uv_timer_t *t)
{
    async_req_t *a = t->data;
    lc_http_respond(a->req, 200, "text/plain", "slow", 4, NULL);
    uv_close((uv_handle_t *)&a->timer, on_async_closed);
}

int cancels;

static void on_async_cancel(void *arg)
{
    async_req_t *a = arg;
    cancels++;
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, on_async_closed);
}

/* answers 50 ms later, to show that a pipelined request waits for it */
static void h_async(lc_http_req_t *req, void *arg)
{
    async_req_t *a = calloc(1, sizeof(*a));
    a->req = req;
    uv_timer_init(lc_worker_loop(lc_http_req_worker(req)), &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, on_async_timer, 50, 0);
    lc_http_req_set_cancel(req, on_async_cancel, a);
}

/* more than the socket takes at once: the write goes on through uv_write */
static void h_big(lc_http_req_t *req, void *arg)
{
    char *body = malloc(BIG_LEN);
    for (size_t i = 0; i < BIG_LEN; i++)
        body[i] = (char)(i % 251);
    lc_http_respond(req, 200, "application/octet-stream", body, BIG_LEN, NULL);
    free(body);
}

static void h_prefix(lc_http_req_t *req, void *arg)
{
    lc_http_respond(req, 200, "text/plain", arg, strlen(arg), NULL);
}

/* ---- raw test client (runs in its own thread) ---- */

tconn_t *tc_connect(int port)
{
    tconn_t *c = calloc(1, sizeof(*c));
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(c->fd);
        c->fd = -1;
    }
    return c;
}

void tc_free(tconn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

void tc_send(tconn_t *c, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t r = send(c->fd, s, n, MSG_NOSIGNAL);
        if (r <= 0)
            return;
        s += r;
        n -= (size_t)r;
    }
}

void tc_sends(tconn_t *c, const char *s)
{
    tc_send(c, s, strlen(s));
}

/* Read more into the buffer; false on EOF, error or timeout. */
bool tc_fill(tconn_t *c)
{
    if (c->len == sizeof(c->buf))
        return false;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

void tc_consume(tconn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* One HTTP response: status, head (NUL-terminated copy) and body. -1 on failure. */
int tc_read_http(tconn_t *c, char *head, size_t headcap, char *body, size_t bodycap)
{
    char *end;
    while ((end = memmem(c->buf, c->len, "\r\n\r\n", 4)) == NULL) {
        if (!tc_fill(c))
            return -1;
    }
    size_t hl = (size_t)(end - c->buf) + 4;
    char h[4096];
    size_t cl = hl < sizeof(h) ? hl : sizeof(h) - 1;
    memcpy(h, c->buf, cl);
    h[cl] = '\0';
    int status = 0;
    sscanf(h, "HTTP/1.1 %d", &status);
    size_t blen = 0;
    char *p = strcasestr(h, "\r\nContent-Length:");
    if (p != NULL)
        blen = strtoul(p + 17, NULL, 10);
    while (c->len < hl + blen) {
        if (!tc_fill(c))
            return -1;
    }
    if (head != NULL)
        snprintf(head, headcap, "%s", h);
    if (body != NULL) {
        size_t n = blen < bodycap - 1 ? blen : bodycap - 1;
        memcpy(body, c->buf + hl, n);
        body[n] = '\0';
    }
    tc_consume(c, hl + blen);
    return status;
}

bool tc_eof(tconn_t *c)
{
    char b[256];
    for (;;) {
        ssize_t r = recv(c->fd, b, sizeof(b), 0);
        if (r == 0)
            return true;
        if (r < 0)
            return false;
    }
}

/* A masked client frame built into f (16 + n bytes at most); returns its length. */
size_t tc_ws_frame(unsigned char *f, size_t cap, int fin, int opcode, const void *p, size_t n)
{
    size_t i = 0;
    f[i++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    if (n < 126) {
        f[i++] = (unsigned char)(0x80 | n);
    } else if (n <= 0xffff) {
        f[i++] = 0x80 | 126;
        f[i++] = (unsigned char)(n >> 8);
        f[i++] = (unsigned char)n;
    } else {
        f[i++] = 0x80 | 127;
        for (int k = 0; k < 8; k++)
            f[i++] = (unsigned char)((uint64_t)n >> (56 - 8 * k));
    }
    const unsigned char mask[4] = {0x12, 0x34, 0x56, 0x78};
    memcpy(f + i, mask, 4);
    i += 4;
    for (size_t k = 0; k < n && i < cap; k++)
        f[i++] = ((const unsigned char *)p)[k] ^ mask[k % 4];
    return i;
}

void tc_ws_send(tconn_t *c, int fin, int opcode, const void *p, size_t n)
{
    unsigned char f[16 + 70000];
    tc_send(c, f, tc_ws_frame(f, sizeof(f), fin, opcode, p, n));
}

/* Send f[0..n) in pieces cut at the given offsets, pausing so each piece arrives in its own
 * read on the server. */
void tc_send_split(tconn_t *c, const unsigned char *f, size_t n, const size_t *cuts, size_t ncuts)
{
    int on = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    size_t off = 0;
    for (size_t i = 0; i <= ncuts; i++) {
        size_t end = i < ncuts ? cuts[i] : n;
        tc_send(c, f + off, end - off);
        off = end;
        usleep(30000);
    }
}

/* One server frame: opcode, payload copied to out (NUL-terminated). -1 on failure. */
int tc_ws_read(tconn_t *c, char *out, size_t cap, size_t *len)
{
    while (c->len < 2)
        if (!tc_fill(c))
            return -1;
    unsigned char *b = (unsigned char *)c->buf;
    int opcode = b[0] & 0x0f;
    size_t n = b[1] & 0x7f, hl = 2;
    if (n == 126) {
        while (c->len < 4)
            if (!tc_fill(c))
                return -1;
        n = ((size_t)b[2] << 8) | b[3];
        hl = 4;
    } else if (n == 127) {
        while (c->len < 10)
            if (!tc_fill(c))
                return -1;
        n = 0;
        for (int k = 0; k < 8; k++)
            n = (n << 8) | b[2 + k];
        hl = 10;
    }
    while (c->len < hl + n)
        if (!tc_fill(c))
            return -1;
    size_t m = n < cap - 1 ? n : cap - 1;
    memcpy(out, c->buf + hl, m);
    out[m] = '\0';
    if (len != NULL)
        *len = n;
    tc_consume(c, hl + n);
    return opcode;
}

/* Upgrade; returns the status and keeps the response head. */
int tc_ws_open(tconn_t *c, const char *path, const char *extra, char *head, size_t cap)
{
    char req[1024];
    snprintf(req, sizeof(req), WS_REQ_FMT, path, extra ? extra : "");
    tc_sends(c, req);
    return tc_read_http(c, head, cap, NULL, 0);
}

/* ---- test harness ---- */

static void run_stop_hooks(lc_worker_t *w)
{
    if (w->stopped)
        return;
    w->stopped = true;
    for (int i = 0; i < w->nstops; i++)
        w->stops[i].fn(w, w->stops[i].arg);
}

static void on_async(uv_async_t *a)
{
    scen_t *s = a->data;
    if (atomic_load(&s->want_stop) || atomic_load(&s->done))
        run_stop_hooks(s->w);
    if (atomic_load(&s->done))
        uv_close((uv_handle_t *)a, NULL);
}

static void *client_thread(void *arg)
{
    scen_t *s = arg;
    s->fn(s);
    atomic_store(&s->done, 1);
    uv_async_send(&s->w->async);
    return NULL;
}

/* Start a server with the test routes, run scenario fn against it, stop, check for leaks. */
void run(scen_t *s, scen_fn fn, cfg_fn tweak)
{
    memset(&g, 0, sizeof(g));
    cancels = 0;
    lc_list_init(&sessions);
    lc_worker_t *w = calloc(1, sizeof(*w));
    the_worker = w;
    s->w = w;
    s->fn = fn;
    assert_int_equal(uv_loop_init(&w->loop), 0);
    lc_config_defaults(&w->cfg);
    w->cfg.address = strdup("127.0.0.1"); /* the default is a static "" */
    if (tweak != NULL)
        tweak(&w->cfg);
    lc_list_init(&w->flush_list);
    uv_prepare_init(&w->loop, &w->prepare);
    w->prepare.data = w;
    uv_prepare_start(&w->prepare, on_prepare);
    uv_unref((uv_handle_t *)&w->prepare);
    uv_check_init(&w->loop, &w->check);
    uv_check_start(&w->check, on_check);
    uv_unref((uv_handle_t *)&w->check);
    uv_async_init(&w->loop, &w->async, on_async);
    w->async.data = s;

    /* reserve a free port; the socket shares it (SO_REUSEPORT) but never listens */
    int rfd = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(rfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    setsockopt(rfd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on));
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(rfd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(rfd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    w->cfg.port = s->port;

    lc_router_t *r = lc_router_new();
    assert_int_equal(lc_router_add(r, "/echo", false, h_echo, NULL), 0);
    assert_int_equal(lc_router_add(r, "/async", false, h_async, NULL), 0);
    assert_int_equal(lc_router_add(r, "/big", false, h_big, NULL), 0);
    assert_int_equal(lc_router_add(r, "/p/", true, h_prefix, "short"), 0);
    assert_int_equal(lc_router_add(r, "/p/longer/", true, h_prefix, "long"), 0);
    assert_int_equal(lc_router_add(r, "/p/exact", false, h_prefix, "exact"), 0);
    assert_int_equal(lc_ws_register(r, &w->cfg), 0);
    assert_int_equal(lc_sse_register(r, &w->cfg), 0);
    assert_int_equal(lc_uni_register(r, &w->cfg), 0);
    assert_int_equal(lc_http_listen(w, r), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_thread, s), 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);

    close(rfd);
    uv_close((uv_handle_t *)&w->prepare, NULL);
    uv_close((uv_handle_t *)&w->check, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    assert_int_equal(g.created, g.closed);
    lc_router_free(r);
    lc_config_free(&w->cfg);
    free(w);
}

bool lc_client_keeps_headers(struct lc_worker *w)
{
    /* the fake sessions look at every header the transport hands over */
    return true;
}
