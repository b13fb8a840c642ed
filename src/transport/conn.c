/* The per-worker listener and its connections: the shared read path, the ordered write queue
 * and the close sequence. */
#include "transport/conn.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/tls.h"
#include "util/err.h"
#include "util/log.h"

#define FLUSH_IOV_MAX 64

static void on_conn_closed(uv_handle_t *h);

/* Every open TCP connection of the process and the real-time ones (client.connection_limit),
 * shared by the workers. */
static atomic_int g_sessions;

static size_t out_limit(const lc__conn_t *c)
{
    int64_t v = lc_worker_config(c->t.worker)->http_max_output_buffer;
    return v > 0 ? (size_t)v : 262144;
}

/* Queued bytes plus what each queued buffer weighs beyond its bytes: a flood of tiny frames
 * (pongs) is counted honestly. */
static size_t out_weight(const lc__conn_t *c)
{
    return lc_wqueue_bytes(&c->wq) + c->wq.count * 48;
}

bool lc__conn_out_full(const lc__conn_t *c)
{
    return out_weight(c) > out_limit(c);
}

bool lc__conn_session_admit(lc__conn_t *c)
{
    int limit = lc_worker_config(c->t.worker)->connection_limit;
    if (c->flags & LC__CONN_SESSION)
        return true;
    int n = atomic_fetch_add(&g_sessions, 1);
    if (limit > 0 && n >= limit) {
        atomic_fetch_sub(&g_sessions, 1);
        return false;
    }
    c->flags |= LC__CONN_SESSION;
    return true;
}

/* Output drained enough: take input again. */
static void out_drained(lc__conn_t *c)
{
    if (!(c->flags & LC__CONN_OUTFULL) || out_weight(c) > out_limit(c) / 2)
        return;
    c->flags &= ~LC__CONN_OUTFULL;
    lc__conn_resume(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    lc__conn_t *c = h->data;
    lc_worker_read_buf(c->t.worker, buf);
}

/* Input the protocol did not take stays here; reading stops when this grows past what one
 * request head may hold, and restarts on lc__conn_resume. */
static size_t tail_limit(const lc__conn_t *c)
{
    int64_t max = lc_worker_config(c->t.worker)->http_max_header_size;
    return max > 0 ? (size_t)max : 16384;
}

static size_t tail_len(const lc__conn_t *c)
{
    return c->aux != NULL ? c->aux->tail.len : 0;
}

static lc__conn_aux_t *conn_aux(lc__conn_t *c)
{
    if (c->aux == NULL) {
        c->aux = calloc(1, sizeof(*c->aux));
        if (c->aux != NULL) {
            lc_buf_init(&c->aux->tail);
            c->aux->conn = c;
            lc_list_init(&c->aux->tnode);
            c->aux->tkind = LC__T_NONE;
        }
    }
    return c->aux;
}

/* Free the side state once nothing in it is in use. */
static void aux_release(lc__conn_t *c)
{
    lc__conn_aux_t *a = c->aux;
    if (a != NULL && a->tail.len == 0 && a->tail.cap == 0 && a->deadline == NULL &&
        a->tkind == LC__T_NONE) {
        free(a);
        c->aux = NULL;
    }
}

/* Drop the tail, and the side state when nothing else needs it either. */
static void tail_free(lc__conn_t *c)
{
    if (c->aux == NULL)
        return;
    lc_buf_free(&c->aux->tail);
    aux_release(c);
}

/* Feed p[0..n) (after whatever is kept) to the protocol, following protocol changes. The tail
 * is not freed while the protocol runs (lc__conn_finish waits for IN_DATA to clear), so data
 * stays valid through the loop. */
static void conn_process(lc__conn_t *c, const char *p, size_t n)
{
    bool from_tail = tail_len(c) > 0;
    if (from_tail && n > 0 && lc_buf_append(&c->aux->tail, p, n) < 0) {
        lc__conn_close(c);
        return;
    }
    const char *data = from_tail ? c->aux->tail.data : p;
    size_t len = from_tail ? c->aux->tail.len : n;
    size_t used = 0;

    c->flags |= LC__CONN_IN_DATA;
    while (used < len && !(c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING)) &&
           !lc__conn_out_full(c)) {
        const lc__conn_proto_t *proto = c->proto;
        used += proto->on_data(c, data + used, len - used);
        if (c->proto == proto)
            break;
    }
    c->flags &= ~LC__CONN_IN_DATA;
    if (c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING)) {
        tail_free(c);
        return;
    }

    if (from_tail) {
        lc_buf_consume(&c->aux->tail, used);
    } else if (used < len &&
               (conn_aux(c) == NULL || lc_buf_append(&c->aux->tail, data + used, len - used) < 0)) {
        lc__conn_close(c);
        return;
    }
    if (tail_len(c) == 0)
        tail_free(c);
    /* a peer that sends without reading what it asked for (pipelined requests, pings) waits
     * until its output drains */
    if (lc__conn_out_full(c))
        c->flags |= LC__CONN_OUTFULL;
    if ((tail_len(c) > tail_limit(c) || (c->flags & LC__CONN_OUTFULL)) &&
        !(c->flags & LC__CONN_PAUSED)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->flags |= LC__CONN_PAUSED;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lc__conn_t *c = s->data;
    if (nread == UV_EOF && !(c->flags & LC__CONN_CLOSED) &&
        (!lc_wqueue_empty(&c->wq) || (c->flags & LC__CONN_WRITING) ||
         (c->tls != NULL && !lc_wqueue_empty(lc__tls_out(c))))) {
        /* the peer is done sending, perhaps still reading: deliver what is queued first
         * (e.g. the reply to a close frame that came with the FIN) */
        c->flags |= LC__CONN_EOF;
        c->flags &= ~LC__CONN_PAUSED;
        lc__conn_finish(c);
        return;
    }
    if (nread < 0) {
        if (nread != UV_EOF)
            lc_log_debug("connection read error: %s", uv_strerror((int)nread));
        lc__conn_close(c);
        return;
    }
    if (nread == 0 || (c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING)))
        return; /* a finishing connection discards input until EOF */
    if (c->tls == NULL) {
        conn_process(c, buf->base, (size_t)nread);
        return;
    }
    int rc = lc__tls_input(c, buf->base, (size_t)nread, conn_process);
    if (rc < 0)
        lc__conn_close(c);
    else if (rc > 0 && !(c->flags & LC__CONN_CLOSED))
        lc__conn_finish(c); /* close_notify: the peer sends nothing more */
}

static size_t refuse_on_data(lc__conn_t *c, const char *p, size_t n)
{
    return n; /* the answer is queued already; input is discarded */
}

static const lc__conn_proto_t refuse_proto = {.on_data = refuse_on_data};

void lc__conn_start(lc__server_t *srv, int fd, bool refuse)
{
    lc__conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        lc_log_error("out of memory accepting a connection");
        close(fd);
        lc__server_conn_gone(srv);
        return;
    }
    uv_loop_t *loop = lc_worker_loop(srv->w);
    if (uv_tcp_init(loop, &c->tcp) < 0) {
        free(c);
        close(fd);
        lc__server_conn_gone(srv);
        return;
    }
    c->tcp.data = c;
    c->srv = srv;
    c->t.vt = &lc__http_vt;
    c->t.worker = srv->w;
    lc_list_init(&c->t.flush_node);
    c->proto = refuse ? &refuse_proto : &lc__http_proto;
    lc_wqueue_init(&c->wq);
    lc_list_insert_tail(&srv->conns, &c->node);

    int rc = uv_tcp_open(&c->tcp, fd);
    if (rc < 0) {
        close(fd);
    } else {
        /* frames are coalesced per iteration already; Nagle would only add latency */
        uv_tcp_nodelay(&c->tcp, 1);
        if (srv->tls_ctx != NULL && lc__tls_attach(c) < 0)
            rc = UV_ENOMEM;
    }
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc < 0) {
        lc_log_debug("accept failed: %s", uv_strerror(rc));
        c->flags |= LC__CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    if (refuse) {
        static const char msg[] = "HTTP/1.1 503 Service Unavailable\r\n"
                                  "Content-Type: text/plain; charset=utf-8\r\n"
                                  "Content-Length: 25\r\nRetry-After: 1\r\n"
                                  "Connection: close\r\n\r\nconnection limit reached\n";
        if (lc__conn_write_copy(c, msg, sizeof(msg) - 1) < 0)
            lc__conn_close(c);
        else
            lc__conn_finish(c);
        return;
    }
    /* a new connection has read_header_timeout for its first request head */
    lc__conn_timeout(c, LC__T_HEAD);
}

int64_t lc__timeout_delay(const lc_config_t *cfg, int kind)
{
    switch (kind) {
    case LC__T_HEAD:
        return cfg->http_read_header_timeout_ms;
    case LC__T_BODY:
        return cfg->http_read_body_timeout_ms;
    case LC__T_IDLE:
        return cfg->http_idle_timeout_ms;
    case LC__T_HANDSHAKE:
        return cfg->websocket_handshake_timeout_ms;
    default:
        return 0;
    }
}

void lc__conn_timeout(lc__conn_t *c, int kind)
{
    lc__conn_aux_t *a = c->aux;
    if (a != NULL && a->tkind != LC__T_NONE) {
        lc_list_remove(&a->tnode);
        lc_list_init(&a->tnode);
        a->tkind = LC__T_NONE;
    }
    int64_t delay = kind == LC__T_NONE || (c->flags & LC__CONN_CLOSED)
                        ? 0
                        : lc__timeout_delay(lc_worker_config(c->t.worker), kind);
    if (delay <= 0) {
        aux_release(c);
        return;
    }
    if ((a = conn_aux(c)) == NULL) {
        lc__conn_fail(c); /* out of memory: no deadline means no bound, so close */
        return;
    }
    a->due = (int64_t)uv_now(lc_worker_loop(c->t.worker)) + delay;
    a->tkind = (int8_t)kind;
    lc_list_insert_tail(&c->srv->timed[kind], &a->tnode);
    lc__server_arm(c->srv, a->due);
}

int lc__conn_write(lc__conn_t *c, lc_rcbuf_t *b, size_t limit)
{
    if (c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING | LC__CONN_FAILED))
        return LC_ECLOSED;
    int rc = lc_wqueue_push(&c->wq, b, limit);
    if (rc < 0)
        return rc;
    if (c->flags & LC__CONN_DELAYED)
        lc_worker_want_flush_delayed(c->t.worker, &c->t);
    else
        lc_worker_want_flush(c->t.worker, &c->t);
    return 0;
}

int lc__conn_write_copy(lc__conn_t *c, const void *p, size_t n)
{
    lc_rcbuf_t *b = lc_rcbuf_from(p, n);
    if (b == NULL)
        return LC_ENOMEM;
    int rc = lc__conn_write(c, b, 0);
    lc_rcbuf_unref(b);
    return rc;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    lc__conn_t *c = req->data;
    free(req);
    if (status < 0 && status != UV_ECANCELED)
        lc__conn_close(c);
}

/* Everything is written and nothing more will be: send FIN, then wait for the peer's EOF so
 * unread input does not turn our close into a reset that could destroy the response. */
static void conn_shutdown(lc__conn_t *c)
{
    if (c->flags & LC__CONN_SHUT)
        return;
    if (c->tls != NULL && lc__tls_close_notify(c)) {
        lc_worker_want_flush(c->t.worker, &c->t); /* the alert first, then the FIN */
        return;
    }
    c->flags |= LC__CONN_SHUT;
    uv_shutdown_t *req = malloc(sizeof(*req));
    if (req == NULL) {
        lc__conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(req);
        lc__conn_close(c);
    }
}

/* What goes to the socket: the write queue, or for TLS the ciphertext made from it. */
static lc_wqueue_t *sock_queue(lc__conn_t *c)
{
    return c->tls != NULL ? lc__tls_out(c) : &c->wq;
}

/* A uv_write waiting for a full socket. Most connections never need one, so it is allocated
 * then and freed by its callback instead of living in every connection. */
typedef struct conn_wreq {
    uv_write_t req;
    size_t len; /* bytes handed to uv_write */
} conn_wreq_t;

static void on_write(uv_write_t *req, int status)
{
    conn_wreq_t *w = lc_container_of(req, conn_wreq_t, req);
    lc__conn_t *c = req->data;
    size_t len = w->len;
    free(w);
    c->flags &= ~LC__CONN_WRITING;
    if (c->flags & LC__CONN_CLOSED)
        return; /* cancelled by uv_close; the queue is freed in the close callback */
    if (status < 0) {
        lc_log_debug("connection write error: %s", uv_strerror(status));
        lc__conn_close(c);
        return;
    }
    lc_wqueue_consume(sock_queue(c), len);
    lc__conn_flush(c);
    if (!(c->flags & LC__CONN_CLOSED))
        out_drained(c);
}

static size_t iov_total(const uv_buf_t *iov, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += iov[i].len;
    return total;
}

void lc__conn_flush(lc__conn_t *c)
{
    if (c->flags & (LC__CONN_CLOSED | LC__CONN_WRITING))
        return;
    if (c->flags & LC__CONN_FAILED) {
        lc__conn_close(c);
        return;
    }
    uv_stream_t *s = (uv_stream_t *)&c->tcp;
    uv_buf_t iov[FLUSH_IOV_MAX];
    lc_wqueue_t *q = sock_queue(c);
    /* client.max_messages_in_frame: a delayed flush writes at most that many queued frames and
     * leaves the rest to the next one (a closing connection drains at once; under TLS the
     * queue holds records, not messages, and is written whole). */
    size_t budget = SIZE_MAX;
    if ((c->flags & LC__CONN_DELAYED) && !(c->flags & LC__CONN_FINISHING) && c->tls == NULL) {
        int max = lc_worker_config(c->t.worker)->max_messages_in_frame;
        if (max > 0)
            budget = (size_t)max;
    }
    for (;;) {
        if (c->tls != NULL && lc__tls_encrypt(c) < 0) {
            lc__conn_close(c);
            return;
        }
        while (!lc_wqueue_empty(q)) {
            if (budget == 0) {
                lc_worker_want_flush_delayed(c->t.worker, &c->t);
                return;
            }
            size_t n = lc_wqueue_iov(q, iov, budget < FLUSH_IOV_MAX ? budget : FLUSH_IOV_MAX);
            if (n == 0) {
                lc_wqueue_consume(q, 0); /* only empty frames left */
                continue;
            }
            size_t total = iov_total(iov, n);
            int r = uv_try_write(s, iov, (unsigned)n);
            if (r == UV_EAGAIN) {
                r = 0;
            } else if (r < 0) {
                lc_log_debug("connection write error: %s", uv_strerror(r));
                lc__conn_close(c);
                return;
            }
            lc_wqueue_consume(q, (size_t)r);
            if ((size_t)r == total) {
                budget -= n;
                continue;
            }
            /* the socket is full: one uv_write for the rest; its callback goes on from there */
            conn_wreq_t *w = malloc(sizeof(*w));
            if (w == NULL) {
                lc__conn_close(c);
                return;
            }
            n = lc_wqueue_iov(q, iov, FLUSH_IOV_MAX);
            w->len = iov_total(iov, n);
            w->req.data = c;
            r = uv_write(&w->req, s, iov, (unsigned)n, on_write);
            if (r < 0) {
                free(w);
                lc__conn_close(c);
                return;
            }
            c->flags |= LC__CONN_WRITING;
            return;
        }
        /* TLS encrypts a bounded amount at a time: go on while plaintext is left */
        if (c->tls == NULL || lc_wqueue_empty(&c->wq) || !lc__tls_ready(c))
            break;
    }
    if (!lc_wqueue_empty(&c->wq))
        return; /* TLS handshake in progress: the plaintext waits */
    /* everything is written: an idle connection keeps no ring (the next push allocates one) */
    lc_wqueue_free(q);
    if (q != &c->wq)
        lc_wqueue_free(&c->wq);
    if (c->flags & LC__CONN_OUTFULL) {
        out_drained(c);
        if (c->flags & LC__CONN_CLOSED)
            return;
        if (!lc_wqueue_empty(&c->wq) && !(c->flags & LC__CONN_WRITING)) {
            lc_worker_want_flush(c->t.worker, &c->t);
            return;
        }
    }
    if (c->flags & LC__CONN_FINISHING) {
        if (c->flags & LC__CONN_EOF)
            lc__conn_close(c); /* both directions are done */
        else
            conn_shutdown(c);
    }
}

void lc__conn_resume(lc__conn_t *c)
{
    if (c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING | LC__CONN_IN_DATA))
        return;
    if (tail_len(c) > 0)
        conn_process(c, NULL, 0);
    if ((c->flags & LC__CONN_PAUSED) &&
        !(c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING | LC__CONN_OUTFULL)) &&
        tail_len(c) <= tail_limit(c)) {
        c->flags &= ~LC__CONN_PAUSED;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
            lc__conn_close(c);
    }
}

static void on_deadline_closed(uv_handle_t *h)
{
    free(h);
}

static void on_deadline(uv_timer_t *timer)
{
    lc__conn_t *c = timer->data;
    lc_log_debug("connection close timed out");
    lc__conn_close(c);
}

void lc__conn_set_deadline(lc__conn_t *c)
{
    if ((c->aux != NULL && c->aux->deadline != NULL) || (c->flags & LC__CONN_CLOSED))
        return;
    uv_timer_t *timer = conn_aux(c) != NULL ? malloc(sizeof(*timer)) : NULL;
    if (timer == NULL) {
        lc__conn_fail(c);
        return;
    }
    uv_timer_init(lc_worker_loop(c->t.worker), timer);
    timer->data = c;
    uv_timer_start(timer, on_deadline, LC__CLOSE_TIMEOUT_MS, 0);
    c->aux->deadline = timer;
}

void lc__conn_finish(lc__conn_t *c)
{
    if (c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING))
        return;
    c->flags |= LC__CONN_FINISHING;
    /* input is discarded from now on, so reading must go on to see the EOF */
    if (!(c->flags & LC__CONN_IN_DATA))
        tail_free(c);
    if (c->flags & LC__CONN_PAUSED) {
        c->flags &= ~LC__CONN_PAUSED;
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
            c->flags |= LC__CONN_FAILED;
    }
    lc__conn_set_deadline(c);
    lc_worker_want_flush(c->t.worker, &c->t);
}

void lc__conn_fail(lc__conn_t *c)
{
    if (c->flags & LC__CONN_CLOSED)
        return;
    c->flags |= LC__CONN_FAILED;
    lc_worker_want_flush(c->t.worker, &c->t);
}

void lc__conn_close(lc__conn_t *c)
{
    if (c->flags & LC__CONN_CLOSED)
        return;
    c->flags |= LC__CONN_CLOSED;
    lc__conn_timeout(c, LC__T_NONE);
    if (c->flags & LC__CONN_SESSION)
        atomic_fetch_sub(&g_sessions, 1);
    if (c->proto != NULL && c->proto->on_close != NULL)
        c->proto->on_close(c);
    c->proto = NULL;
    lc_worker_cancel_flush(c->t.worker, &c->t);
    if (c->aux != NULL && c->aux->deadline != NULL) {
        uv_timer_stop(c->aux->deadline);
        uv_close((uv_handle_t *)c->aux->deadline, on_deadline_closed);
        c->aux->deadline = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_conn_closed(uv_handle_t *h)
{
    lc__conn_t *c = h->data;
    lc__server_t *srv = c->srv;
    lc_wqueue_free(&c->wq);
    tail_free(c);
    lc__tls_free(c);
    lc_list_remove(&c->node);
    free(c);
    lc__server_conn_gone(srv);
}
