/* The per-worker listener: binding (one SO_REUSEPORT socket per worker, never shared with
 * another process), accepting under the descriptor limit and the connection cap, and the
 * sweep timer of the connection deadlines.
 *
 * libuv's own accept path logs and retries on EMFILE at full speed, and its spare-descriptor
 * trick does not hold across several loops of one process: with two workers at the limit both
 * spin. Here the listening socket is polled with uv_poll_t and accepted with accept4, so at
 * the limit polling simply stops (the backlog stays in the kernel), existing connections are
 * served, and the sweep timer retries ten times a second. Below the descriptor limit a total
 * cap (http_server.max_connections, by default a margin below RLIMIT_NOFILE) answers excess
 * connections 503 from the margin, so a client sees why. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/conn.h"
#include "transport/tls.h"
#include "util/err.h"
#include "util/log.h"

#define ACCEPT_BATCH 128
#define RETRY_MS 100

static atomic_int g_conns;    /* open TCP connections of the process */
static int g_cap;             /* above this many, new connections are answered 503 */
static int g_hard;            /* at this many, accepting pauses */
static atomic_llong g_log_ms; /* the last rate-limited log line */
static uv_once_t g_limits_once = UV_ONCE_INIT;
static const lc_config_t *g_limits_cfg;

/* A warning at most once per second for the whole process: an attack must not fill the disk
 * with log lines (17 M in 88 s before). */
static void warn_limited(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn_limited(const char *fmt, ...)
{
    long long now = (long long)(uv_hrtime() / 1000000);
    long long last = atomic_load(&g_log_ms);
    if (last != 0 && now - last < 1000)
        return;
    if (!atomic_compare_exchange_strong(&g_log_ms, &last, now))
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    // NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): ap is started on the line above
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lc_log_warn("%s", msg);
}

/* Once per process: raise the soft descriptor limit to the hard one (as Go programs, Centrifugo
 * included, do at start), then size the caps from it. */
static void init_limits(void)
{
    const lc_config_t *cfg = g_limits_cfg;
    struct rlimit rl;
    long nofile = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rlim_t want = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
            struct rlimit up = {want, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                rl.rlim_cur = want;
        }
        nofile = rl.rlim_cur == RLIM_INFINITY ? 1048576 : (long)rl.rlim_cur;
    }
    /* descriptors beyond connections: loops, wakeups, Lua, proxies' HTTP client, log file */
    long reserve = 32 + nofile / 8;
    long cap = cfg->http_max_connections > 0 ? cfg->http_max_connections : nofile - reserve;
    if (cap < 1)
        cap = 1;
    long slack = cap / 16 < 8 ? 8 : cap / 16 > 256 ? 256 : cap / 16;
    if (cfg->http_max_connections > 0 && cap + slack > nofile - 32)
        lc_log_warn("http_server.max_connections %d is above what the descriptor limit %ld "
                    "allows: accepting pauses at the limit instead",
                    cfg->http_max_connections, nofile);
    g_cap = (int)cap;
    g_hard = (int)(cap + slack);
    lc_log_debug("connections: cap %d, accepting pauses at %d (RLIMIT_NOFILE %ld)", g_cap, g_hard,
                 nofile);
}

static void maybe_free(lc__server_t *srv)
{
    if (srv->stopping && srv->open_handles == 0 && lc_list_empty(&srv->conns))
        free(srv);
}

static void on_handle_closed(uv_handle_t *h);

/* While stopping, the sweep goes on as long as connections remain: a request still being read
 * at the stop keeps its header/body timeouts, which bound how long it can hold the shutdown. */
static void close_timer(lc__server_t *srv)
{
    if (srv->timer_closed)
        return;
    srv->timer_closed = true;
    uv_timer_stop(&srv->timer);
    uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
    if (srv->held) {
        srv->held = false;
        lc_worker_release(srv->w);
    }
}

void lc__server_conn_gone(lc__server_t *srv)
{
    atomic_fetch_sub(&g_conns, 1);
    if (srv->stopping && lc_list_empty(&srv->conns))
        close_timer(srv);
    maybe_free(srv);
}

static void on_sweep(uv_timer_t *t);

void lc__server_arm(lc__server_t *srv, int64_t due)
{
    if (srv->timer_closed || (srv->timer_due != 0 && srv->timer_due <= due))
        return;
    int64_t now = (int64_t)uv_now(lc_worker_loop(srv->w));
    srv->timer_due = due;
    uv_timer_start(&srv->timer, on_sweep, (uint64_t)(due > now ? due - now : 0), 0);
}

static void on_ready(uv_poll_t *p, int status, int events);

static void pause_accepting(lc__server_t *srv, const char *why)
{
    if (!srv->paused) {
        uv_poll_stop(&srv->poll);
        srv->paused = true;
    }
    warn_limited("not accepting new connections for now: %s (%d open)", why, atomic_load(&g_conns));
    lc__server_arm(srv, (int64_t)uv_now(lc_worker_loop(srv->w)) + RETRY_MS);
}

static void on_ready(uv_poll_t *p, int status, int events)
{
    lc__server_t *srv = p->data;
    if (status < 0) {
        warn_limited("listener error: %s", uv_strerror(status));
        return;
    }
    for (int i = 0; i < ACCEPT_BATCH && !srv->paused; i++) {
        if (atomic_load(&g_conns) >= g_hard) {
            pause_accepting(srv, "connection cap and its margin reached");
            return;
        }
        int fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK)
                return;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
            // NOLINTBEGIN(concurrency-mt-unsafe)
            if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
                pause_accepting(srv, strerror(e));
                return;
            }
            warn_limited("accept: %s", strerror(e));
            // NOLINTEND(concurrency-mt-unsafe)
            return;
        }
        int n = atomic_fetch_add(&g_conns, 1);
        bool refuse = n >= g_cap;
        if (refuse)
            warn_limited("connection cap %d reached: new connections are answered 503", g_cap);
        lc__conn_start(srv, fd, refuse);
    }
}

static void on_sweep(uv_timer_t *t)
{
    lc__server_t *srv = t->data;
    int64_t now = (int64_t)uv_now(lc_worker_loop(srv->w));
    srv->timer_due = 0;
    for (int k = 0; k < LC__T_MAX; k++) {
        while (!lc_list_empty(&srv->timed[k])) {
            lc__conn_aux_t *a = lc_container_of(srv->timed[k].next, lc__conn_aux_t, tnode);
            if (a->due > now)
                break;
            lc__conn_t *c = a->conn;
            lc__conn_timeout(c, LC__T_NONE);
            if (c->proto != NULL && c->proto->on_timeout != NULL)
                c->proto->on_timeout(c, k);
            else
                lc__conn_close(c);
        }
    }
    if (srv->paused && !srv->stopping) {
        if (atomic_load(&g_conns) < g_hard &&
            uv_poll_start(&srv->poll, UV_READABLE, on_ready) == 0) {
            srv->paused = false;
            lc_log_debug("worker %d accepting again", lc_worker_index(srv->w));
        } else {
            lc__server_arm(srv, now + RETRY_MS);
        }
    }
    for (int k = 0; k < LC__T_MAX; k++) {
        if (!lc_list_empty(&srv->timed[k]))
            lc__server_arm(srv, lc_container_of(srv->timed[k].next, lc__conn_aux_t, tnode)->due);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    lc__server_t *srv = h->data;
    srv->open_handles--;
    maybe_free(srv);
}

static void on_stop(lc_worker_t *w, void *arg)
{
    lc__server_t *srv = arg;
    if (srv->stopping)
        return;
    srv->stopping = true;
    uv_close((uv_handle_t *)&srv->poll, on_handle_closed);
    close(srv->fd);
    /* the worker keeps its write flushing for the connections that outlive this call */
    srv->held = true;
    lc_worker_hold(w);
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
    if (lc_list_empty(&srv->conns))
        close_timer(srv);
}

/* ---- binding ---- */

/* Several workers listen on the same port: SO_REUSEPORT lets the kernel spread connections
 * over their sockets. The probe binds without it first: the kernel then refuses an address
 * another process listens on (with or without SO_REUSEPORT), which SO_REUSEPORT alone would
 * silently share. 0 or -errno. */
static int bind_listen(int fd, const struct sockaddr *sa, socklen_t len, bool probe)
{
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
        (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) < 0) ||
        bind(fd, sa, len) < 0 || (!probe && listen(fd, SOMAXCONN) < 0))
        return -errno;
    return 0;
}

/* "" means every interface: IPv6 dual-stack when the host has it, else IPv4. */
static int open_any(int port, bool probe, int *fdout)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        int off = 0;
        struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        a6.sin6_addr = in6addr_any;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0) {
            int rc = bind_listen(fd, (struct sockaddr *)&a6, sizeof(a6), probe);
            if (rc == 0) {
                *fdout = fd;
                return 0;
            }
            if (rc == -EADDRINUSE) {
                close(fd);
                return rc;
            }
        }
        close(fd);
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a4.sin_addr.s_addr = htonl(INADDR_ANY);
    int rc = bind_listen(fd, (struct sockaddr *)&a4, sizeof(a4), probe);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    *fdout = fd;
    return 0;
}

/* A socket bound to host:port, listening unless probe (host: "", "0.0.0.0", a name, an IPv4 or
 * IPv6 literal with or without brackets). 0 or -errno; a resolver failure is logged and
 * returns -EINVAL. */
static int open_listener(const char *host, int port, bool probe, int *fdout)
{
    if (host[0] == '\0')
        return open_any(port, probe, fdout);
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
        rc = bind_listen(fd, ai->ai_addr, ai->ai_addrlen, probe);
        if (rc == 0) {
            *fdout = fd;
            break;
        }
        close(fd);
        if (rc == -EADDRINUSE)
            break;
    }
    freeaddrinfo(res);
    return rc;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss = {0};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    // NOLINTNEXTLINE(clang-analyzer-core.CallAndMessage): getsockname filled ss
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

int lc_http_listen(lc_worker_t *w, const lc_router_t *router)
{
    const lc_config_t *cfg = lc_worker_config(w);
    const char *addr = cfg->address != NULL ? cfg->address : "";
    const char *shown = addr[0] ? addr : "*";
    g_limits_cfg = cfg;
    uv_once(&g_limits_once, init_limits);

    void *tls_ctx = NULL;
    if (cfg->http_tls_enabled) {
        char err[512];
        tls_ctx = lc__tls_server_ctx(cfg, err, sizeof(err));
        if (tls_ctx == NULL) {
            lc_log_error("http_server.tls: %s", err);
            return LC_EINVAL;
        }
    }

    int fd = -1, rc = 0;
    /* the first worker's probe: is the port free of other processes? */
    if (lc_worker_index(w) == 0 && cfg->port != 0) {
        rc = open_listener(addr, cfg->port, true, &fd);
        if (rc == 0)
            close(fd);
    }
    if (rc == 0)
        rc = open_listener(addr, cfg->port, false, &fd);
    if (rc < 0) {
        /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
        // NOLINTBEGIN(concurrency-mt-unsafe)
        lc_log_error("cannot listen on %s:%d: %s", shown, cfg->port,
                     rc == -EADDRINUSE ? "address already in use" : strerror(-rc));
        // NOLINTEND(concurrency-mt-unsafe)
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
    srv->fd = fd;
    srv->tls_ctx = tls_ctx;
    lc_list_init(&srv->conns);
    for (int k = 0; k < LC__T_MAX; k++)
        lc_list_init(&srv->timed[k]);
    uv_loop_t *loop = lc_worker_loop(w);
    const char *why = NULL;
    rc = uv_poll_init_socket(loop, &srv->poll, fd);
    if (rc < 0) {
        close(fd);
        free(srv);
        lc_log_error("cannot listen on %s:%d: %s", shown, cfg->port, uv_strerror(rc));
        return LC_EIO;
    }
    srv->poll.data = srv;
    uv_timer_init(loop, &srv->timer);
    srv->timer.data = srv;
    srv->open_handles = 2;
    rc = uv_poll_start(&srv->poll, UV_READABLE, on_ready);
    if (rc < 0)
        why = uv_strerror(rc);
    else if ((rc = lc_worker_on_stop(w, on_stop, srv)) < 0)
        why = lc_strerror(rc);
    if (why != NULL) {
        lc_log_error("cannot listen on %s:%d: %s", shown, cfg->port, why);
        on_stop(w, srv); /* the close callbacks free it */
        return LC_EIO;
    }
    lc_log(lc_worker_index(w) == 0 ? LC_LOG_INFO : LC_LOG_DEBUG, "worker %d listening on %s:%d%s",
           lc_worker_index(w), shown, port, tls_ctx != NULL ? " (TLS)" : "");
    return 0;
}
