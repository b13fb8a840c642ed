/* The HTTP server and the WebSocket transport over real loopback sockets, against a fake
 * session layer: the worker and client functions of core/worker.h and core/client.h are
 * defined here. The server runs on the test's uv loop in the main thread; each scenario is a
 * raw TCP client in a second thread that records what it saw, checked after the loop ends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
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
#include "core/worker.h"
#include "transport/http.h"
#include "transport/ws.h"
#include "util/err.h"
#include "util/list.h"
#include "util/log.h"

/* ---- fake worker ---- */

struct lc_worker {
    uv_loop_t loop;
    lc_config_t cfg;
    char rbuf[65536];
    lc_list_t flush_list;
    uv_prepare_t prepare;
    uv_async_t async;
    struct {
        lc_worker_stop_fn fn;
        void *arg;
    } stops[8];
    int nstops;
    bool stopped;
};

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
void lc_worker_cancel_flush(lc_worker_t *w, lc_transport_t *t)
{
    if (!t->flush_queued)
        return;
    t->flush_queued = false;
    lc_list_remove(&t->flush_node);
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

/* ---- fake session: echoes messages, a few words are commands ---- */

struct lc_client {
    lc_transport_t *t;
};

static struct {
    int created, closed, pongs, messages;
    bool native_ping[4];
    int flood_ok, flood_rc;
} g;

lc_client_t *lc_client_new(lc_transport_t *t, const lc_client_opts_t *opts)
{
    lc_client_t *c = calloc(1, sizeof(*c));
    c->t = t;
    if (g.created < 4)
        g.native_ping[g.created] = opts->native_ping;
    g.created++;
    return c;
}

void lc_client_on_message(lc_client_t *c, const char *data, size_t len)
{
    g.messages++;
    if (len == 5 && memcmp(data, "close", 5) == 0) {
        c->t->vt->close(c->t, 3501, "bad request");
        return;
    }
    if (len == 4 && memcmp(data, "ping", 4) == 0) {
        c->t->vt->ping(c->t);
        return;
    }
    if (len == 5 && memcmp(data, "flood", 5) == 0) {
        char payload[1000];
        memset(payload, 'x', sizeof(payload));
        lc_rcbuf_t *f = c->t->vt->frame(payload, sizeof(payload));
        int rc;
        while ((rc = c->t->vt->send(c->t, f)) == 0)
            g.flood_ok++;
        g.flood_rc = rc;
        lc_rcbuf_unref(f);
        c->t->vt->close(c->t, 3008, "slow");
        return;
    }
    lc_rcbuf_t *f = c->t->vt->frame(data, len);
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

static int cancels;

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

#define BIG_LEN (8u << 20)

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

typedef struct tconn {
    int fd;
    char buf[1 << 17];
    size_t len;
} tconn_t;

static tconn_t *tc_connect(int port)
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

static void tc_free(tconn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

static void tc_send(tconn_t *c, const void *p, size_t n)
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

static void tc_sends(tconn_t *c, const char *s)
{
    tc_send(c, s, strlen(s));
}

/* Read more into the buffer; false on EOF, error or timeout. */
static bool tc_fill(tconn_t *c)
{
    if (c->len == sizeof(c->buf))
        return false;
    ssize_t r = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (r <= 0)
        return false;
    c->len += (size_t)r;
    return true;
}

static void tc_consume(tconn_t *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* One HTTP response: status, head (NUL-terminated copy) and body. -1 on failure. */
static int tc_read_http(tconn_t *c, char *head, size_t headcap, char *body, size_t bodycap)
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

static bool tc_eof(tconn_t *c)
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

/* A masked client frame. */
static void tc_ws_send(tconn_t *c, int fin, int opcode, const void *p, size_t n)
{
    unsigned char f[16 + 70000];
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
    for (size_t k = 0; k < n && i < sizeof(f); k++)
        f[i++] = ((const unsigned char *)p)[k] ^ mask[k % 4];
    tc_send(c, f, i);
}

/* One server frame: opcode, payload copied to out (NUL-terminated). -1 on failure. */
static int tc_ws_read(tconn_t *c, char *out, size_t cap, size_t *len)
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

#define WS_REQ_FMT                                                                                 \
    "GET %s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"                                 \
    "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"           \
    "Sec-WebSocket-Version: 13\r\n%s\r\n"

/* Upgrade; returns the status and keeps the response head. */
static int tc_ws_open(tconn_t *c, const char *path, const char *extra, char *head, size_t cap)
{
    char req[1024];
    snprintf(req, sizeof(req), WS_REQ_FMT, path, extra ? extra : "");
    tc_sends(c, req);
    return tc_read_http(c, head, cap, NULL, 0);
}

/* ---- test harness ---- */

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

typedef void (*cfg_fn)(lc_config_t *cfg);

/* Start a server with the test routes, run scenario fn against it, stop, check for leaks. */
static void run(scen_t *s, scen_fn fn, cfg_fn tweak)
{
    memset(&g, 0, sizeof(g));
    cancels = 0;
    lc_worker_t *w = calloc(1, sizeof(*w));
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
    assert_int_equal(lc_http_listen(w, r), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, client_thread, s), 0);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);

    close(rfd);
    uv_close((uv_handle_t *)&w->prepare, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&w->loop), 0);
    assert_int_equal(g.created, g.closed);
    lc_router_free(r);
    lc_config_free(&w->cfg);
    free(w);
}

/* ---- HTTP ---- */

static void sc_404(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), s->body[0], 1024);
    tc_free(c);
}

static void test_http_unknown_path_404(void **state)
{
    scen_t s = {0};
    run(&s, sc_404, NULL);
    assert_int_equal(s.status[0], 404);
    assert_string_equal(s.body[0], "404 page not found\n");
}

static void sc_route(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "POST /echo?a=1&x=h%C3%A9llo+w HTTP/1.1\r\nHost: x\r\nX-Test: yes\r\n"
                "Content-Length: 5\r\n\r\nhello");
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), s->body[0], 1024);
    tc_sends(c, "GET /p/longer/z HTTP/1.1\r\n\r\n");
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_sends(c, "GET /p/exact HTTP/1.1\r\n\r\n");
    s->status[2] = tc_read_http(c, NULL, 0, s->body[2], 1024);
    tc_sends(c, "GET /p/other HTTP/1.1\r\n\r\n");
    s->status[3] = tc_read_http(c, NULL, 0, s->body[3], 1024);
    tc_free(c);
}

static void test_http_route_hit_body_and_longest_prefix(void **state)
{
    scen_t s = {0};
    run(&s, sc_route, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "POST /echo q=h\xc3\xa9llo w h=yes body=hello");
    assert_non_null(strstr(s.head[0], "\r\nX-Extra: 1\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nContent-Type: text/plain\r\n"));
    assert_null(strstr(s.head[0], "Connection: close"));
    assert_string_equal(s.body[1], "long");
    assert_string_equal(s.body[2], "exact");
    assert_string_equal(s.body[3], "short");
}

static void sc_keepalive(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    tc_sends(c, "GET /echo?x=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s->status[1] = tc_read_http(c, s->head[1], sizeof(s->head[1]), s->body[1], 1024);
    s->eof = tc_eof(c);
    tc_free(c);
    /* HTTP/1.0 closes unless asked to keep alive */
    c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.0\r\n\r\n");
    s->status[2] = tc_read_http(c, s->head[2], sizeof(s->head[2]), NULL, 0);
    s->op[2] = tc_eof(c);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s->status[3] = tc_read_http(c, s->head[3], sizeof(s->head[3]), NULL, 0);
    tc_sends(c, "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    s->op[3] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_http_keepalive_two_requests_one_connection(void **state)
{
    scen_t s = {0};
    run(&s, sc_keepalive, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "GET /echo q=- h=- body=");
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "GET /echo q=2 h=- body=");
    assert_non_null(strstr(s.head[1], "Connection: close\r\n"));
    assert_true(s.eof);
    assert_int_equal(s.status[2], 200);
    assert_non_null(strstr(s.head[2], "Connection: close\r\n"));
    assert_true(s.op[2]);
    assert_int_equal(s.status[3], 200);
    assert_non_null(strstr(s.head[3], "Connection: keep-alive\r\n"));
    assert_int_equal(s.op[3], 200);
}

static void sc_pipeline(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /async HTTP/1.1\r\n\r\nGET /echo?x=second HTTP/1.1\r\n\r\n"
                "GET /echo?x=third HTTP/1.1\r\n\r\n");
    for (int i = 0; i < 3; i++)
        s->status[i] = tc_read_http(c, NULL, 0, s->body[i], 1024);
    tc_free(c);
}

static void test_http_pipelined_requests_answered_in_order(void **state)
{
    scen_t s = {0};
    run(&s, sc_pipeline, NULL);
    assert_int_equal(s.status[0], 200);
    assert_string_equal(s.body[0], "slow");
    assert_string_equal(s.body[1], "GET /echo q=second h=- body=");
    assert_string_equal(s.body[2], "GET /echo q=third h=- body=");
}

static void sc_big_header(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    char req[8192];
    char big[4000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    snprintf(req, sizeof(req), "GET /echo HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
    tc_sends(c, req);
    s->status[0] = tc_read_http(c, s->head[0], sizeof(s->head[0]), NULL, 0);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_limits(lc_config_t *cfg)
{
    cfg->http_max_header_size = 1024;
    cfg->http_max_body_size = 1024;
}

static void test_http_oversized_headers_431(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_header, small_limits);
    assert_int_equal(s.status[0], 431);
    assert_non_null(strstr(s.head[0], "Connection: close\r\n"));
    assert_true(s.eof);
}

static void sc_big_body(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
    char body[5000];
    memset(body, 'b', sizeof(body));
    tc_send(c, body, sizeof(body));
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    s->eof = tc_eof(c);
    tc_free(c);
    /* chunked: the limit applies to the bytes as they come */
    c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    char chunk[700];
    memset(chunk, 'c', sizeof(chunk));
    for (int i = 0; i < 2; i++) {
        tc_sends(c, "2bc\r\n");
        tc_send(c, chunk, sizeof(chunk));
        tc_sends(c, "\r\n");
    }
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_http_oversized_body_413(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_body, small_limits);
    assert_int_equal(s.status[0], 413);
    assert_true(s.eof);
    assert_int_equal(s.status[1], 413);
}

static void sc_malformed(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GARBAGE\x01 / HTTP/9\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_http_malformed_request_400(void **state)
{
    scen_t s = {0};
    run(&s, sc_malformed, NULL);
    assert_int_equal(s.status[0], 400);
    assert_true(s.eof);
}

static void sc_big_response(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /big HTTP/1.1\r\n\r\nGET /echo HTTP/1.1\r\n\r\n");
    /* read slowly at first so the server's socket fills up */
    usleep(100 * 1000);
    size_t body = 0, bad = 0;
    bool in_body = false;
    while (body < BIG_LEN) {
        if (!in_body) {
            if (!tc_fill(c))
                break;
            char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (end == NULL)
                continue;
            sscanf(c->buf, "HTTP/1.1 %d", &s->status[0]);
            tc_consume(c, (size_t)(end - c->buf) + 4);
            in_body = true;
        } else if (c->len == 0 && !tc_fill(c)) {
            break;
        }
        size_t n = c->len < BIG_LEN - body ? c->len : BIG_LEN - body;
        for (size_t i = 0; i < n; i++)
            bad += c->buf[i] != (char)((body + i) % 251);
        body += n;
        tc_consume(c, n);
    }
    s->plen[0] = body;
    s->plen[1] = bad;
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_free(c);
}

static void test_http_large_response_written_in_order(void **state)
{
    scen_t s = {0};
    run(&s, sc_big_response, NULL);
    assert_int_equal(s.status[0], 200);
    assert_int_equal(s.plen[0], BIG_LEN);
    assert_int_equal(s.plen[1], 0);
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "GET /echo q=- h=- body=");
}

static void sc_long_pipeline(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    /* more pipelined input than one request head may hold, behind a slow request */
    char req[8192] = "GET /async HTTP/1.1\r\n\r\n";
    for (int i = 0; i < 100; i++)
        strcat(req, "GET /echo?x=n HTTP/1.1\r\n\r\n");
    tc_sends(c, req);
    s->status[0] = tc_read_http(c, NULL, 0, s->body[0], 1024);
    int ok = 0;
    for (int i = 0; i < 100; i++)
        ok += tc_read_http(c, NULL, 0, s->body[1], 1024) == 200;
    s->op[0] = ok;
    tc_free(c);
}

static void test_http_long_pipeline_paused_and_resumed(void **state)
{
    scen_t s = {0};
    run(&s, sc_long_pipeline, small_limits);
    assert_string_equal(s.body[0], "slow");
    assert_int_equal(s.op[0], 100);
    assert_string_equal(s.body[1], "GET /echo q=n h=- body=");
}

static void sc_cancel(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /async HTTP/1.1\r\n\r\n");
    usleep(10 * 1000);
    tc_free(c); /* gone before the response */
    usleep(100 * 1000);
    c = tc_connect(s->port);
    tc_sends(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_sends(c, "abc");
    s->status[1] = tc_read_http(c, NULL, 0, s->body[1], 1024);
    tc_free(c);
}

static void test_http_peer_gone_cancels_pending_request(void **state)
{
    scen_t s = {0};
    run(&s, sc_cancel, NULL);
    assert_int_equal(cancels, 1);
    assert_int_equal(s.status[0], 100);
    assert_int_equal(s.status[1], 200);
    assert_string_equal(s.body[1], "POST /echo q=- h=- body=abc");
}

/* ---- WebSocket ---- */

static void sc_ws_upgrade(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket?cf_ws_frame_ping_pong=true",
                              "Sec-WebSocket-Protocol: centrifuge-json\r\n", s->head[0], 1024);
    tc_free(c);
    c = tc_connect(s->port);
    s->status[1] = tc_ws_open(c, "/connection/websocket",
                              "Sec-WebSocket-Protocol: centrifuge-protobuf, centrifuge-json\r\n",
                              s->head[1], 1024);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "POST /connection/websocket HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    s->status[2] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
    c = tc_connect(s->port);
    s->status[3] = tc_ws_open(c, "/connection/websocket",
                              "Sec-WebSocket-Protocol: centrifuge-protobuf\r\n", NULL, 0);
    tc_free(c);
}

static void test_ws_upgrade_101_with_accept_key(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_upgrade, NULL);
    assert_int_equal(s.status[0], 101);
    assert_non_null(
        strstr(s.head[0], "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_non_null(strstr(s.head[0], "\r\nSec-WebSocket-Protocol: centrifuge-json\r\n"));
    assert_true(g.native_ping[0]);
    assert_int_equal(s.status[1], 101);
    assert_non_null(strstr(s.head[1], "\r\nSec-WebSocket-Protocol: centrifuge-json\r\n"));
    assert_false(g.native_ping[1]);
    assert_int_equal(s.status[2], 405);
    assert_int_equal(s.status[3], 400);
    assert_int_equal(g.created, 2);
}

static void sc_ws_version(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    tc_sends(c, "GET /connection/websocket HTTP/1.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                "Sec-WebSocket-Version: 8\r\n\r\n");
    s->status[0] = tc_read_http(c, s->head[0], 1024, NULL, 0);
    tc_free(c);
    c = tc_connect(s->port);
    tc_sends(c, "GET /connection/websocket HTTP/1.1\r\nUpgrade: websocket\r\n"
                "Connection: Upgrade\r\nSec-WebSocket-Key: c2hvcnQ=\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n");
    s->status[1] = tc_read_http(c, NULL, 0, NULL, 0);
    tc_free(c);
}

static void test_ws_bad_version_426_bad_key_400(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_version, NULL);
    assert_int_equal(s.status[0], 426);
    assert_non_null(strstr(s.head[0], "\r\nSec-WebSocket-Version: 13\r\n"));
    assert_int_equal(s.status[1], 400);
    assert_int_equal(g.created, 0);
}

static void sc_ws_origin(scen_t *s)
{
    const char *origins[] = {"Origin: https://evil.com\r\n", "Origin: https://App.Example.com\r\n",
                             "", "Origin: http://example.com\r\n"};
    for (int i = 0; i < 4; i++) {
        tconn_t *c = tc_connect(s->port);
        s->status[i] = tc_ws_open(c, "/connection/websocket", origins[i], NULL, 0);
        tc_free(c);
    }
}

static void origin_patterns(lc_config_t *cfg)
{
    cfg->allowed_origins = calloc(2, sizeof(char *));
    cfg->allowed_origins[0] = strdup("https://*.example.com");
    cfg->n_allowed_origins = 1;
}

static void test_ws_origin_rejected_403_pattern_allowed_101(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_origin, origin_patterns);
    assert_int_equal(s.status[0], 403);
    assert_int_equal(s.status[1], 101);
    assert_int_equal(s.status[2], 101); /* no Origin: not a browser, always allowed */
    assert_int_equal(s.status[3], 403);
}

static void test_ws_origin_empty_list_rejects_every_origin(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_origin, NULL);
    assert_int_equal(s.status[0], 403);
    assert_int_equal(s.status[1], 403);
    assert_int_equal(s.status[2], 101);
    assert_int_equal(s.status[3], 403);
}

static void sc_ws_echo(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    /* the first frame travels in the same write as the handshake */
    char req[1024];
    snprintf(req, sizeof(req), WS_REQ_FMT, "/connection/websocket", "");
    unsigned char frame[] = {0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1};
    char both[1200];
    size_t rl = strlen(req);
    memcpy(both, req, rl);
    memcpy(both + rl, frame, sizeof(frame));
    tc_send(c, both, rl + sizeof(frame));
    s->status[0] = tc_read_http(c, NULL, 0, NULL, 0);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    /* a 300-byte message takes the 16-bit length form both ways */
    char big[300];
    memset(big, 'z', sizeof(big));
    tc_ws_send(c, 1, 1, big, sizeof(big));
    s->op[1] = tc_ws_read(c, s->body[1], 1024, &s->plen[1]);
    /* ping is answered with a pong carrying the same payload; pong reaches the session */
    tc_ws_send(c, 1, 9, "pp", 2);
    s->op[2] = tc_ws_read(c, s->body[2], 1024, &s->plen[2]);
    tc_ws_send(c, 1, 10, "", 0);
    tc_ws_send(c, 1, 1, "ping", 4); /* asks the server for a native ping */
    s->op[3] = tc_ws_read(c, s->body[3], 1024, &s->plen[3]);
    tc_free(c);
}

static void test_ws_masked_text_echoed(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_echo, NULL);
    assert_int_equal(s.status[0], 101);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "hello");
    assert_int_equal(s.op[1], 1);
    assert_int_equal(s.plen[1], 300);
    assert_int_equal(s.op[2], 10);
    assert_string_equal(s.body[2], "pp");
    assert_int_equal(s.op[3], 9);
    assert_int_equal(g.pongs, 1);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_fragments(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 0, 1, "one ", 4);
    tc_ws_send(c, 1, 9, "", 0); /* a control frame may come between fragments */
    tc_ws_send(c, 0, 0, "two ", 4);
    tc_ws_send(c, 1, 0, "three", 5);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, NULL);
    tc_free(c);
}

static void test_ws_fragmented_message_echoed_as_one(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_fragments, NULL);
    assert_int_equal(s.status[0], 101);
    /* the pong may follow the echo when all frames arrive in one read */
    int text = s.op[0] == 1 ? 0 : 1;
    assert_int_equal(s.op[text], 1);
    assert_int_equal(s.op[1 - text], 10);
    assert_string_equal(s.body[text], "one two three");
    assert_int_equal(g.messages, 1);
}

static uint16_t close_code(const char *p)
{
    return (uint16_t)(((unsigned char)p[0] << 8) | (unsigned char)p[1]);
}

static void sc_ws_too_big(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    char big[2000];
    memset(big, 'q', sizeof(big));
    tc_ws_send(c, 1, 1, big, sizeof(big));
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_messages(lc_config_t *cfg)
{
    cfg->websocket_message_size_limit = 1024;
}

static void test_ws_oversized_message_closed_1009(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_too_big, small_messages);
    assert_int_equal(s.op[0], 8);
    assert_true(s.plen[0] >= 2);
    assert_int_equal(close_code(s.body[0]), 1009);
    assert_true(s.eof);
    assert_int_equal(g.messages, 0);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_client_close(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 8,
               "\x03\xe8"
               "bye",
               5);
    shutdown(c->fd, SHUT_WR); /* FIN right behind the close frame: the reply still comes */
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_ws_client_close_answered(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_client_close, NULL);
    assert_int_equal(s.op[0], 8);
    assert_int_equal(close_code(s.body[0]), 1000);
    assert_string_equal(s.body[0] + 2, "bye");
    assert_true(s.eof);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_server_close(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "hi", 2);
    tc_ws_send(c, 1, 1, "close", 5);
    tc_ws_send(c, 1, 1, "late", 4); /* after the close: not delivered */
    s->op[0] = tc_ws_read(c, s->body[0], 1024, NULL);
    s->op[1] = tc_ws_read(c, s->body[1], 1024, &s->plen[1]);
    tc_ws_send(c, 1, 8, s->body[1], 2); /* answer with the same code */
    s->eof = tc_eof(c);
    tc_free(c);
}

static void test_ws_server_close_carries_code_and_reason(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_server_close, NULL);
    assert_int_equal(s.op[0], 1);
    assert_string_equal(s.body[0], "hi");
    assert_int_equal(s.op[1], 8);
    assert_int_equal(close_code(s.body[1]), 3501);
    assert_int_equal(s.plen[1], 2 + strlen("bad request"));
    assert_string_equal(s.body[1] + 2, "bad request");
    assert_true(s.eof);
    assert_int_equal(g.messages, 2);
    assert_int_equal(g.closed, 1);
}

static void sc_ws_flood(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tc_ws_send(c, 1, 1, "flood", 5);
    int frames = 0, op;
    char buf[1024];
    while ((op = tc_ws_read(c, buf, sizeof(buf), &s->plen[1])) == 1)
        frames++;
    s->op[0] = frames;
    s->op[1] = op;
    memcpy(s->body[1], buf, 2);
    tc_ws_send(c, 1, 8, buf, 2);
    s->eof = tc_eof(c);
    tc_free(c);
}

static void small_queue(lc_config_t *cfg)
{
    cfg->queue_max_size = 4500;
}

static void test_ws_queue_over_bound_eslow(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_flood, small_queue);
    assert_int_equal(g.flood_ok, 4); /* 4 frames of 1004 bytes fit in 4500 */
    assert_int_equal(g.flood_rc, LC_ESLOW);
    assert_int_equal(s.op[0], 4);
    assert_int_equal(s.op[1], 8);
    assert_int_equal(close_code(s.body[1]), 3008);
    assert_true(s.eof);
}

static void sc_ws_shutdown(scen_t *s)
{
    tconn_t *c = tc_connect(s->port);
    s->status[0] = tc_ws_open(c, "/connection/websocket", NULL, NULL, 0);
    tconn_t *h = tc_connect(s->port); /* an idle keep-alive HTTP connection too */
    tc_sends(h, "GET /echo HTTP/1.1\r\n\r\n");
    s->status[1] = tc_read_http(h, NULL, 0, NULL, 0);
    atomic_store(&s->want_stop, 1);
    uv_async_send(&s->w->async);
    s->op[0] = tc_ws_read(c, s->body[0], 1024, &s->plen[0]);
    tc_ws_send(c, 1, 8, s->body[0], 2);
    s->eof = tc_eof(c);
    s->op[1] = tc_eof(h);
    tc_free(c);
    tc_free(h);
}

static void test_stop_closes_websocket_with_3001(void **state)
{
    scen_t s = {0};
    run(&s, sc_ws_shutdown, NULL);
    assert_int_equal(s.op[0], 8);
    assert_int_equal(close_code(s.body[0]), 3001);
    assert_string_equal(s.body[0] + 2, "shutdown");
    assert_true(s.eof);
    assert_true(s.op[1]);
    assert_int_equal(g.closed, 1);
}

int main(void)
{
    lc_log_set_level(LC_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_unknown_path_404),
        cmocka_unit_test(test_http_route_hit_body_and_longest_prefix),
        cmocka_unit_test(test_http_keepalive_two_requests_one_connection),
        cmocka_unit_test(test_http_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_http_oversized_headers_431),
        cmocka_unit_test(test_http_oversized_body_413),
        cmocka_unit_test(test_http_malformed_request_400),
        cmocka_unit_test(test_http_large_response_written_in_order),
        cmocka_unit_test(test_http_long_pipeline_paused_and_resumed),
        cmocka_unit_test(test_http_peer_gone_cancels_pending_request),
        cmocka_unit_test(test_ws_upgrade_101_with_accept_key),
        cmocka_unit_test(test_ws_bad_version_426_bad_key_400),
        cmocka_unit_test(test_ws_origin_rejected_403_pattern_allowed_101),
        cmocka_unit_test(test_ws_origin_empty_list_rejects_every_origin),
        cmocka_unit_test(test_ws_masked_text_echoed),
        cmocka_unit_test(test_ws_fragmented_message_echoed_as_one),
        cmocka_unit_test(test_ws_oversized_message_closed_1009),
        cmocka_unit_test(test_ws_client_close_answered),
        cmocka_unit_test(test_ws_server_close_carries_code_and_reason),
        cmocka_unit_test(test_ws_queue_over_bound_eslow),
        cmocka_unit_test(test_stop_closes_websocket_with_3001),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
