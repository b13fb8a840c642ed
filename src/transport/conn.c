/* The per-worker listener and its connections: the shared read path, the ordered write queue
 * and the close sequence. */
#include "transport/conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/err.h"
#include "util/log.h"

#define FLUSH_IOV_MAX 64

static void on_conn_closed(uv_handle_t *h);

static void maybe_free_server(lc__server_t *srv)
{
    if (srv->stopping && srv->listener_closed && lc_list_empty(&srv->conns))
        free(srv);
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
        if (c->aux != NULL)
            lc_buf_init(&c->aux->tail);
    }
    return c->aux;
}

/* Drop the tail, and the side state when no deadline needs it either. */
static void tail_free(lc__conn_t *c)
{
    if (c->aux == NULL)
        return;
    lc_buf_free(&c->aux->tail);
    if (c->aux->deadline == NULL) {
        free(c->aux);
        c->aux = NULL;
    }
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
    while (used < len && !(c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING))) {
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
    if (tail_len(c) == 0) {
        tail_free(c);
    } else if (tail_len(c) > tail_limit(c) && !(c->flags & LC__CONN_PAUSED)) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->flags |= LC__CONN_PAUSED;
    }
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    lc__conn_t *c = s->data;
    if (nread == UV_EOF && !(c->flags & LC__CONN_CLOSED) &&
        (!lc_wqueue_empty(&c->wq) || (c->flags & LC__CONN_WRITING))) {
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
    conn_process(c, buf->base, (size_t)nread);
}

void lc__conn_accept(lc__server_t *srv)
{
    lc__conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        lc_log_error("out of memory accepting a connection");
        return;
    }
    uv_loop_t *loop = lc_worker_loop(srv->w);
    if (uv_tcp_init(loop, &c->tcp) < 0) {
        free(c);
        return;
    }
    c->tcp.data = c;
    c->srv = srv;
    c->t.vt = &lc__http_vt;
    c->t.worker = srv->w;
    lc_list_init(&c->t.flush_node);
    c->proto = &lc__http_proto;
    lc_wqueue_init(&c->wq);
    lc_list_insert_tail(&srv->conns, &c->node);

    int rc = uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&c->tcp);
    if (rc == 0) {
        /* frames are coalesced per iteration already; Nagle would only add latency */
        uv_tcp_nodelay(&c->tcp, 1);
        rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    }
    if (rc < 0) {
        lc_log_debug("accept failed: %s", uv_strerror(rc));
        c->flags |= LC__CONN_CLOSED;
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    }
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
    lc_wqueue_consume(&c->wq, len);
    lc__conn_flush(c);
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
    /* client.max_messages_in_frame: a delayed flush writes at most that many queued frames and
     * leaves the rest to the next one (a closing connection drains at once). */
    size_t budget = SIZE_MAX;
    if ((c->flags & LC__CONN_DELAYED) && !(c->flags & LC__CONN_FINISHING)) {
        int max = lc_worker_config(c->t.worker)->max_messages_in_frame;
        if (max > 0)
            budget = (size_t)max;
    }
    while (!lc_wqueue_empty(&c->wq)) {
        if (budget == 0) {
            lc_worker_want_flush_delayed(c->t.worker, &c->t);
            return;
        }
        size_t n = lc_wqueue_iov(&c->wq, iov, budget < FLUSH_IOV_MAX ? budget : FLUSH_IOV_MAX);
        if (n == 0) {
            lc_wqueue_consume(&c->wq, 0); /* only empty frames left */
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
        lc_wqueue_consume(&c->wq, (size_t)r);
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
        n = lc_wqueue_iov(&c->wq, iov, FLUSH_IOV_MAX);
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
    /* everything is written: an idle connection keeps no ring (the next push allocates one) */
    lc_wqueue_free(&c->wq);
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
    if ((c->flags & LC__CONN_PAUSED) && !(c->flags & (LC__CONN_CLOSED | LC__CONN_FINISHING)) &&
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
    lc_list_remove(&c->node);
    free(c);
    maybe_free_server(srv);
}

static void on_listener_closed(uv_handle_t *h)
{
    lc__server_t *srv = h->data;
    srv->listener_closed = true;
    maybe_free_server(srv);
}

static void on_stop(lc_worker_t *w, void *arg)
{
    lc__server_t *srv = arg;
    if (srv->stopping)
        return;
    srv->stopping = true;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    lc_list_t *pos, *tmp;
    lc_list_foreach_safe(pos, tmp, &srv->conns)
    {
        lc__conn_t *c = lc_container_of(pos, lc__conn_t, node);
        if (c->flags & LC__CONN_CLOSED)
            continue;
        if (c->proto != NULL && c->proto->on_stop != NULL)
            c->proto->on_stop(c);
        else
            lc__conn_close(c);
    }
}

static void on_connection(uv_stream_t *listener, int status)
{
    lc__server_t *srv = listener->data;
    if (status < 0) {
        lc_log_warn("accept error: %s", uv_strerror(status));
        return;
    }
    lc__conn_accept(srv);
}

/* Several workers listen on the same port: SO_REUSEPORT lets the kernel spread connections
 * over their sockets. 0 or -errno. */
static int bind_listen(int fd, const struct sockaddr *sa, socklen_t len)
{
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0 || bind(fd, sa, len) < 0 ||
        listen(fd, SOMAXCONN) < 0)
        return -errno;
    return 0;
}

/* "" means every interface: IPv6 dual-stack when the host has it, else IPv4. */
static int open_any(int port, int *fdout)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int off = 0;
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        a6.sin6_addr = in6addr_any;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0 &&
            bind_listen(fd, (struct sockaddr *)&a6, sizeof(a6)) == 0) {
            *fdout = fd;
            return 0;
        }
        close(fd);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    int rc = bind_listen(fd, (struct sockaddr *)&a4, sizeof(a4));
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *fdout = fd;
    return 0;
}

/* A listening socket on host:port (host: "", "0.0.0.0", a name, an IPv4 or IPv6 literal with
 * or without brackets). 0 or -errno; a resolver failure is logged and returns -EINVAL. */
static int open_listener(const char *host, int port, int *fdout)
{
    if (host[0] == '\0')
        return open_any(port, fdout);
    char name[256];
    size_t hl = strlen(host);
    if (hl >= sizeof(name))
        return -EINVAL;
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        memcpy(name, host + 1, hl - 2);
        name[hl - 2] = '\0';
    } else {
        memcpy(name, host, hl + 1);
    }
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(name, portstr, &hints, &res);
    if (gai != 0) {
        lc_log_error("cannot resolve listen address %s: %s", host, gai_strerror(gai));
        return -EINVAL;
    }
    int rc = -EADDRNOTAVAIL;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        rc = bind_listen(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc == 0) {
            *fdout = fd;
            break;
        }
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int lc_http_listen(lc_worker_t *w, const lc_router_t *router)
{
    const lc_config_t *cfg = lc_worker_config(w);
    const char *addr = cfg->address != NULL ? cfg->address : "";
    int fd = -1;
    int rc = open_listener(addr, cfg->port, &fd);
    if (rc < 0) {
        lc_log_error("cannot listen on %s:%d: %s", addr[0] ? addr : "*", cfg->port, strerror(-rc));
        return LC_EIO;
    }
    int port = bound_port(fd);

    lc__server_t *srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        close(fd);
        return LC_ENOMEM;
    }
    srv->w = w;
    srv->router = router;
    lc_list_init(&srv->conns);
    rc = uv_tcp_init(lc_worker_loop(w), &srv->listener);
    if (rc < 0) {
        close(fd);
        free(srv);
        return LC_EIO;
    }
    srv->listener.data = srv;
    const char *why;
    rc = uv_tcp_open(&srv->listener, fd);
    if (rc < 0) {
        close(fd);
        why = uv_strerror(rc);
        goto fail;
    }
    rc = uv_listen((uv_stream_t *)&srv->listener, SOMAXCONN, on_connection);
    if (rc < 0) {
        why = uv_strerror(rc);
        goto fail;
    }
    rc = lc_worker_on_stop(w, on_stop, srv);
    if (rc < 0) {
        why = lc_strerror(rc);
        goto fail;
    }
    lc_log(lc_worker_index(w) == 0 ? LC_LOG_INFO : LC_LOG_DEBUG, "worker %d listening on %s:%d",
           lc_worker_index(w), addr[0] ? addr : "*", port);
    return 0;

fail:
    lc_log_error("cannot listen on %s:%d: %s", addr[0] ? addr : "*", cfg->port, why);
    srv->stopping = true; /* the close callback frees it */
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    return LC_EIO;
}
