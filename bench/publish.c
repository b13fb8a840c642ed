/* The publisher: keep-alive HTTP connections with several requests in flight on each
 * (pipelined), responses read by llhttp. Flat out, each connection is refilled as responses
 * come back; at a given rate, a 1 ms timer sends what is due. */
#include "bench.h"

#include <llhttp.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "util/buf.h"

typedef struct pub pub_t;

typedef struct pconn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    llhttp_t hp;
    pub_t *p;
    int inflight;
    bool up;
} pconn_t;

struct pub {
    uv_loop_t loop;
    uv_timer_t timer;
    const bench_opts_t *o;
    llhttp_settings_t settings;
    pconn_t *pc;
    int connected;
    long sent, ok, errors;
    int64_t t0;
    int rr;
    bool failed;
};

size_t bench_payload(char *out, size_t cap, long j, int size)
{
    int n = snprintf(out, cap, "{\"seq\":%ld,\"t\":%lld,\"p\":\"", j, (long long)bench_now_us());
    size_t len = (size_t)n;
    while ((int)len < size - 2 && len < cap - 3)
        out[len++] = 'x';
    out[len++] = '"';
    out[len++] = '}';
    out[len] = 0;
    return len;
}

long bench_msgs_for_channel(const bench_opts_t *o, int c)
{
    return o->m / o->channels + (c < o->m % o->channels ? 1 : 0);
}

int bench_conn_channel(const bench_opts_t *o, int i, int k)
{
    return (int)(((int64_t)i * o->subs + k) % o->channels);
}

static void append_request(pub_t *p, lc_buf_t *b, long j)
{
    const bench_opts_t *o = p->o;
    char payload[8192];
    size_t pl = bench_payload(payload, sizeof(payload), j, o->size);
    int ch = (int)(j % o->channels);
    char path[512];
    const char *ph = strstr(o->pub_path, "{ch}");
    if (ph)
        snprintf(path, sizeof(path), "%.*s%s%d%s", (int)(ph - o->pub_path), o->pub_path,
                 o->chan_prefix, ch, ph + 4);
    else
        snprintf(path, sizeof(path), "%s", o->pub_path);
    if (o->proto == PROTO_NCHAN) {
        lc_buf_printf(b, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Length: %zu\r\n\r\n", path,
                      o->pub_host, o->pub_port, pl);
        lc_buf_append(b, payload, pl);
        return;
    }
    char chname[128];
    int cl = snprintf(chname, sizeof(chname), "%s%d", o->chan_prefix, ch);
    size_t body = pl + (size_t)cl + 22; /* {"channel":"","data":} */
    lc_buf_printf(b,
                  "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                  "%s%s%sContent-Length: %zu\r\n\r\n{\"channel\":\"%s\",\"data\":",
                  path, o->pub_host, o->pub_port, o->apikey ? "X-API-Key: " : "",
                  o->apikey ? o->apikey : "", o->apikey ? "\r\n" : "", body, chname);
    lc_buf_append(b, payload, pl);
    lc_buf_putc(b, '}');
}

static void write_done(uv_write_t *w, int status)
{
    free(w);
}

/* Send `count` publications on one connection in one write. */
static void send_batch(pconn_t *c, long count)
{
    pub_t *p = c->p;
    lc_buf_t b = LC_BUF_INIT;
    for (long i = 0; i < count && p->sent < p->o->m; i++) {
        append_request(p, &b, p->sent++);
        c->inflight++;
    }
    if (b.len == 0)
        return;
    uv_write_t *w = malloc(sizeof(*w) + b.len);
    memcpy(w + 1, b.data, b.len);
    uv_buf_t ub = uv_buf_init((char *)(w + 1), (unsigned)b.len);
    lc_buf_free(&b);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &ub, 1, write_done) != 0)
        free(w);
}

static int on_complete(llhttp_t *hp)
{
    pconn_t *c = hp->data;
    if (hp->status_code >= 200 && hp->status_code < 300)
        c->p->ok++;
    else if (c->p->errors++ < 3)
        fprintf(stderr, "bench: publish answered %d\n", hp->status_code);
    c->inflight--;
    return 0;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char buf[256 * 1024];
    *b = uv_buf_init(buf, sizeof(buf));
}

static void check_done(pub_t *p)
{
    if (p->ok + p->errors >= p->o->m || p->failed)
        uv_stop(&p->loop);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    pconn_t *c = s->data;
    pub_t *p = c->p;
    if (n < 0) {
        fprintf(stderr, "bench: publish connection closed: %s\n", uv_strerror((int)n));
        p->errors += c->inflight;
        c->inflight = 0;
        c->up = false;
        p->failed = true;
        uv_close((uv_handle_t *)s, NULL);
        check_done(p);
        return;
    }
    /* A server that leaves Nagle on holds each response until the previous one is
     * acknowledged; acknowledging at once keeps the pipeline from stalling on delayed ACKs. */
    uv_os_fd_t fd;
    int one = 1;
    if (uv_fileno((uv_handle_t *)s, &fd) == 0)
        setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
    if (llhttp_execute(&c->hp, b->base, (size_t)n) != HPE_OK) {
        fprintf(stderr, "bench: bad publish response: %s\n", llhttp_get_error_reason(&c->hp));
        p->failed = true;
    }
    if (p->o->rate <= 0 && c->inflight < p->o->pipeline / 2 + 1)
        send_batch(c, p->o->pipeline - c->inflight);
    check_done(p);
}

static void on_tick(uv_timer_t *t)
{
    pub_t *p = t->data;
    const bench_opts_t *o = p->o;
    long due = (long)floor((bench_now_us() - p->t0) / 1e6 * o->rate) + 1;
    if (due > o->m)
        due = o->m;
    /* Round-robin over the connections; a connection with a full pipeline waits (the achieved
     * rate then falls short of the asked one, which the report shows). */
    while (p->sent < due) {
        pconn_t *best = NULL;
        for (int i = 0; i < o->pub_conns; i++) {
            pconn_t *c = &p->pc[(p->rr + i) % o->pub_conns];
            if (c->up && c->inflight < o->pipeline) {
                best = c;
                break;
            }
        }
        if (!best)
            break;
        p->rr++;
        long k = due - p->sent;
        long room = o->pipeline - best->inflight;
        send_batch(best, k < room ? k : room);
    }
    if (p->sent >= o->m)
        uv_timer_stop(t);
}

static void start_publishing(pub_t *p)
{
    p->t0 = bench_now_us();
    if (p->o->rate > 0) {
        uv_timer_start(&p->timer, on_tick, 0, 1);
        return;
    }
    for (int i = 0; i < p->o->pub_conns; i++)
        send_batch(&p->pc[i], p->o->pipeline);
}

static void on_connect(uv_connect_t *req, int status)
{
    pconn_t *c = req->data;
    pub_t *p = c->p;
    if (status != 0) {
        fprintf(stderr, "bench: publish connect: %s\n", uv_strerror(status));
        p->failed = true;
        uv_stop(&p->loop);
        return;
    }
    c->up = true;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    if (++p->connected == p->o->pub_conns)
        start_publishing(p);
}

static void close_cb(uv_handle_t *h) {}

static void close_all(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, close_cb);
}

int bench_publish(const bench_opts_t *o, pub_result_t *r)
{
    pub_t p;
    memset(&p, 0, sizeof(p));
    p.o = o;
    uv_loop_init(&p.loop);
    uv_timer_init(&p.loop, &p.timer);
    p.timer.data = &p;
    llhttp_settings_init(&p.settings);
    p.settings.on_message_complete = on_complete;
    p.pc = calloc((size_t)o->pub_conns, sizeof(pconn_t));
    struct sockaddr_in dst;
    uv_ip4_addr(o->pub_host, o->pub_port, &dst);
    for (int i = 0; i < o->pub_conns; i++) {
        pconn_t *c = &p.pc[i];
        c->p = &p;
        llhttp_init(&c->hp, HTTP_RESPONSE, &p.settings);
        c->hp.data = c;
        uv_tcp_init(&p.loop, &c->tcp);
        c->tcp.data = c;
        c->creq.data = c;
        uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&dst, on_connect);
    }
    if (o->m > 0)
        uv_run(&p.loop, UV_RUN_DEFAULT);
    int64_t t1 = bench_now_us();
    uv_walk(&p.loop, close_all, NULL);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    free(p.pc);
    r->ok = p.ok;
    r->errors = p.errors + (o->m - p.ok - p.errors);
    r->t0_us = p.t0;
    r->t1_us = t1;
    r->achieved_rate = t1 > p.t0 ? p.ok / ((t1 - p.t0) / 1e6) : 0;
    return p.failed || p.errors ? -1 : 0;
}
