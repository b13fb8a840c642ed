/* The HTTP client against a small HTTP/1.1 server running in threads of this test (plain
 * blocking sockets, one thread per connection). The server is the peer, not the code under
 * test; the request path selects its behaviour:
 *   /json          200 {"ok":true}          /status500   500 "oops"
 *   /delay/<ms>    200 "late" after <ms>    /hang        reads the request, never answers
 *   /big           1 MiB + 1 with a Content-Length
 *   /bigchunked    1.5 MiB chunked          /exact       exactly 1 MiB
 *   /echo          the request head, then the request body, as the response body
 *   /close         200 "bye" with Connection: close, then closes the connection */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hooks/httpc.h"
#include "util/err.h"

#define MIB (1024 * 1024)
#define MAX_CONN_THREADS 256
#define MAX_RESULTS 64

/* --- the peer ----------------------------------------------------------------------------- */

typedef struct srv {
    int lfd;
    int port;
    atomic_int stop;
    atomic_int accepted;
    pthread_t acceptor;
    pthread_mutex_t mu;
    pthread_t conns[MAX_CONN_THREADS];
    int n_conns;
} srv_t;

typedef struct conn {
    srv_t *srv;
    int fd;
} conn_t;

/* Wait until fd is readable; false when the server stops. */
static bool wait_readable(srv_t *s, int fd)
{
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) > 0)
            return true;
    }
    return false;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool respond(int fd, int status, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, len);
    return send_all(fd, head, (size_t)n) && send_all(fd, body, len);
}

static bool respond_chunked(int fd, size_t total)
{
    const char *head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    if (!send_all(fd, head, strlen(head)))
        return false;
    static char chunk[64 * 1024];
    memset(chunk, 'c', sizeof(chunk));
    for (size_t sent = 0; sent < total; sent += sizeof(chunk)) {
        char size[32];
        int n = snprintf(size, sizeof(size), "%zx\r\n", sizeof(chunk));
        if (!send_all(fd, size, (size_t)n) || !send_all(fd, chunk, sizeof(chunk)) ||
            !send_all(fd, "\r\n", 2))
            return false;
    }
    return send_all(fd, "0\r\n\r\n", 5);
}

static void sleep_ms(srv_t *s, long ms)
{
    for (long left = ms; left > 0 && !atomic_load(&s->stop); left -= 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Answer one request; false ends the connection. */
static bool serve(srv_t *s, int fd, const char *req, size_t head_len, size_t body_len)
{
    char method[16], path[256];
    if (sscanf(req, "%15s %255s", method, path) != 2)
        return false;
    if (strcmp(path, "/json") == 0)
        return respond(fd, 200, "{\"ok\":true}", 11);
    if (strcmp(path, "/status500") == 0)
        return respond(fd, 500, "oops", 4);
    if (strncmp(path, "/delay/", 7) == 0) {
        sleep_ms(s, atol(path + 7));
        return respond(fd, 200, "late", 4);
    }
    if (strcmp(path, "/hang") == 0) {
        while (wait_readable(s, fd)) {
            char b[256];
            if (recv(fd, b, sizeof(b), 0) <= 0)
                break;
        }
        return false;
    }
    if (strcmp(path, "/big") == 0 || strcmp(path, "/exact") == 0) {
        size_t n = strcmp(path, "/big") == 0 ? MIB + 1 : MIB;
        char *b = malloc(n);
        memset(b, 'b', n);
        bool ok = respond(fd, 200, b, n);
        free(b);
        return ok;
    }
    if (strcmp(path, "/bigchunked") == 0)
        return respond_chunked(fd, MIB + MIB / 2);
    if (strcmp(path, "/close") == 0) {
        const char *r = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye";
        send_all(fd, r, strlen(r));
        return false;
    }
    if (strcmp(path, "/echo") == 0)
        return respond(fd, 200, req, head_len + body_len);
    return respond(fd, 404, "", 0);
}

static void *conn_main(void *p)
{
    conn_t *cn = p;
    srv_t *s = cn->srv;
    int fd = cn->fd;
    free(cn);
    size_t cap = 64 * 1024, len = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        char *end;
        buf[len] = '\0';
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            if (len == cap || !wait_readable(s, fd))
                goto out;
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0)
                goto out;
            len += (size_t)r;
            buf[len] = '\0';
        }
        size_t head_len = (size_t)(end - buf) + 4, body_len = 0;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl && cl < end)
            body_len = (size_t)atol(cl + 17);
        if (head_len + body_len > cap)
            goto out;
        while (len < head_len + body_len) {
            if (!wait_readable(s, fd))
                goto out;
            ssize_t r = recv(fd, buf + len, cap - len, 0);
            if (r <= 0)
                goto out;
            len += (size_t)r;
        }
        if (!serve(s, fd, buf, head_len, body_len))
            goto out;
        memmove(buf, buf + head_len + body_len, len - head_len - body_len);
        len -= head_len + body_len;
    }
out:
    free(buf);
    close(fd);
    return NULL;
}

static void *accept_main(void *p)
{
    srv_t *s = p;
    while (wait_readable(s, s->lfd)) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        atomic_fetch_add(&s->accepted, 1);
        conn_t *cn = malloc(sizeof(*cn));
        cn->srv = s;
        cn->fd = fd;
        pthread_mutex_lock(&s->mu);
        if (s->n_conns == MAX_CONN_THREADS ||
            pthread_create(&s->conns[s->n_conns], NULL, conn_main, cn) != 0) {
            close(fd);
            free(cn);
        } else {
            s->n_conns++;
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 128) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void srv_start(srv_t *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = listen_any(&s->port);
    assert_true(s->lfd >= 0);
    assert_int_equal(pthread_create(&s->acceptor, NULL, accept_main, s), 0);
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, 1);
    pthread_join(s->acceptor, NULL);
    for (int i = 0; i < s->n_conns; i++)
        pthread_join(s->conns[i], NULL);
    close(s->lfd);
    pthread_mutex_destroy(&s->mu);
}

/* --- the client side ---------------------------------------------------------------------- */

typedef struct result {
    int err;
    long status;
    char *body;
    size_t body_len;
    char what[128];
} result_t;

typedef struct ctx {
    srv_t srv;
    uv_loop_t loop;
    lc_httpc_t *c;
    bool closed;     /* lc_httpc_close called */
    bool done_ran;   /* its done callback ran */
    bool in_request; /* inside lc_httpc_request: a callback now would be synchronous */
    int expect;      /* close the client after this many callbacks */
    int n_cb;
    result_t res[MAX_RESULTS];
    /* keep-alive tests: requests still to start from the callback, and their path */
    int chain_left;
    const char *chain_path;
    /* cancel test: the request the next callback cancels */
    lc_httpc_req_t *victim;
} ctx_t;

static void on_done(void *arg)
{
    ctx_t *t = arg;
    assert_false(t->done_ran);
    t->done_ran = true;
}

static void close_client(ctx_t *t)
{
    t->closed = true;
    lc_httpc_close(t->c, on_done, t);
}

static lc_httpc_req_t *start(ctx_t *t, const char *path, const lc_httpc_opts_t *base);

static void on_resp(void *arg, const lc_httpc_resp_t *r)
{
    ctx_t *t = arg;
    assert_false(t->in_request);
    assert_false(t->closed);
    assert_true(t->n_cb < MAX_RESULTS);
    result_t *res = &t->res[t->n_cb++];
    res->err = r->err;
    res->status = r->status;
    if (r->err == 0) {
        assert_non_null(r->body);
        assert_int_equal(r->body[r->body_len], '\0');
        res->body = malloc(r->body_len + 1);
        memcpy(res->body, r->body, r->body_len + 1);
        res->body_len = r->body_len;
    } else {
        assert_non_null(r->what);
        snprintf(res->what, sizeof(res->what), "%s", r->what);
    }
    if (t->victim) {
        lc_httpc_cancel(t->victim);
        t->victim = NULL;
    }
    if (t->chain_left > 0) {
        t->chain_left--;
        assert_non_null(start(t, t->chain_path ? t->chain_path : "/json", NULL));
    }
    if (t->n_cb == t->expect)
        close_client(t);
}

static lc_httpc_req_t *start(ctx_t *t, const char *path, const lc_httpc_opts_t *base)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->srv.port, path);
    lc_httpc_opts_t o = base ? *base : (lc_httpc_opts_t){0};
    o.url = url;
    t->in_request = true;
    lc_httpc_req_t *r = lc_httpc_request(t->c, &o, on_resp, t);
    t->in_request = false;
    return r;
}

/* Run until the client has closed; the loop must then have nothing left. */
static void run(ctx_t *t)
{
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_true(t->closed);
    assert_true(t->done_ran);
    assert_int_equal(uv_loop_close(&t->loop), 0);
}

static int setup(void **state)
{
    ctx_t *t = calloc(1, sizeof(*t));
    srv_start(&t->srv);
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->c = lc_httpc_new(&t->loop);
    assert_non_null(t->c);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *t = *state;
    srv_stop(&t->srv);
    for (int i = 0; i < MAX_RESULTS; i++)
        free(t->res[i].body);
    free(t);
    return 0;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- cases -------------------------------------------------------------------------------- */

static void test_httpc_ok_status_and_body(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    assert_non_null(start(t, "/json", NULL));
    run(t);
    assert_int_equal(t->n_cb, 1);
    assert_int_equal(t->res[0].err, 0);
    assert_int_equal(t->res[0].status, 200);
    assert_string_equal(t->res[0].body, "{\"ok\":true}");
    assert_int_equal(t->res[0].body_len, 11);
}

static void resolve_cases(ctx_t *t, const char *host)
{
    t->expect = 3;
    char url[512];
    snprintf(url, sizeof(url), "http://%s:%d/json", host, t->srv.port);
    lc_httpc_opts_t o = {.url = url};
    for (int i = 0; i < 3; i++)
        assert_non_null(lc_httpc_request(t->c, &o, on_resp, t));
    run(t);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t->res[i].err, 0);
        assert_int_equal(t->res[i].status, 200);
    }
}

static void test_httpc_localhost_ok(void **state)
{
    resolve_cases(*state, "localhost");
}

/* A name other than localhost goes through curl's threaded resolver, whose wake-up socket curl
 * asks us to watch without opening it through our socket callbacks. Skipped when this host's
 * name does not resolve to the loopback address the peer listens on. */
static void test_httpc_host_name_through_resolver_ok(void **state)
{
    ctx_t *t = *state;
    char host[256] = "";
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    bool loopback = false;
    if (gethostname(host, sizeof(host) - 1) == 0 && getaddrinfo(host, NULL, &hints, &ai) == 0) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        loopback = a->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
        freeaddrinfo(ai);
    }
    if (!loopback) {
        close_client(t);
        run(t);
        skip();
    }
    resolve_cases(t, host);
}

static void test_httpc_status_500_reported_not_error(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    assert_non_null(start(t, "/status500", NULL));
    run(t);
    assert_int_equal(t->res[0].err, 0);
    assert_int_equal(t->res[0].status, 500);
    assert_string_equal(t->res[0].body, "oops");
}

static void test_httpc_slow_answer_within_timeout_succeeds(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    assert_non_null(start(t, "/delay/150", NULL));
    run(t);
    assert_int_equal(t->res[0].err, 0);
    assert_string_equal(t->res[0].body, "late");
}

static void test_httpc_no_answer_expires(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    lc_httpc_opts_t o = {.timeout_ms = 200};
    uint64_t t0 = now_ms();
    assert_non_null(start(t, "/hang", &o));
    run(t);
    uint64_t took = now_ms() - t0;
    assert_int_equal(t->res[0].err, LC_EEXPIRED);
    assert_string_equal(t->res[0].what, "timeout");
    assert_int_equal(t->res[0].status, 0);
    assert_true(took >= 150 && took < 2000);
}

static void test_httpc_refused_is_io_error(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    int port;
    int fd = listen_any(&port);
    assert_true(fd >= 0);
    close(fd); /* nothing listens there any more */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/json", port);
    lc_httpc_opts_t o = {.url = url};
    t->in_request = true;
    assert_non_null(lc_httpc_request(t->c, &o, on_resp, t));
    t->in_request = false;
    run(t);
    assert_int_equal(t->res[0].err, LC_EIO);
    assert_true(strlen(t->res[0].what) > 0);
}

static void test_httpc_body_over_limit_too_big(void **state)
{
    ctx_t *t = *state;
    t->expect = 3;
    assert_non_null(start(t, "/big", NULL));
    assert_non_null(start(t, "/bigchunked", NULL));
    assert_non_null(start(t, "/exact", NULL));
    run(t);
    int too_big = 0, exact = 0;
    for (int i = 0; i < 3; i++) {
        if (t->res[i].err == LC_ETOOBIG)
            too_big++;
        else if (t->res[i].err == 0 && t->res[i].body_len == MIB)
            exact++;
    }
    assert_int_equal(too_big, 2);
    assert_int_equal(exact, 1);
}

static void test_httpc_sequential_requests_reuse_one_connection(void **state)
{
    ctx_t *t = *state;
    t->expect = 10;
    t->chain_left = 9;
    assert_non_null(start(t, "/json", NULL));
    run(t);
    assert_int_equal(t->n_cb, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(t->res[i].status, 200);
    assert_int_equal(atomic_load(&t->srv.accepted), 1);
}

static void test_httpc_server_closing_each_connection_reconnects(void **state)
{
    ctx_t *t = *state;
    t->expect = 5;
    t->chain_left = 4;
    t->chain_path = "/close";
    assert_non_null(start(t, "/close", NULL));
    run(t);
    assert_int_equal(t->n_cb, 5);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(t->res[i].err, 0);
        assert_string_equal(t->res[i].body, "bye");
    }
    assert_int_equal(atomic_load(&t->srv.accepted), 5);
}

static const char *head_of(const result_t *r, size_t *head_len)
{
    const char *end = strstr(r->body, "\r\n\r\n");
    assert_non_null(end);
    *head_len = (size_t)(end - r->body) + 4;
    return r->body;
}

static void test_httpc_echo_headers_and_body_sent(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    static const char body[] = "{\"a\":1}\0tail";
    lc_http_header_t hs[] = {
        {"X-Custom", "v1"}, {"X-Empty", ""}, {"Content-Length", "999"}, {"Content-Type", "x/y"}};
    lc_httpc_opts_t o = {.headers = hs, .n_headers = 4, .body = body, .body_len = sizeof(body)};
    assert_non_null(start(t, "/echo", &o));
    run(t);
    result_t *r = &t->res[0];
    assert_int_equal(r->err, 0);
    assert_int_equal(r->status, 200);
    size_t hl;
    const char *head = head_of(r, &hl);
    assert_int_equal(strncmp(head, "POST /echo HTTP/1.1\r\n", 21), 0);
    assert_non_null(strstr(head, "\r\nContent-Type: application/json\r\n"));
    assert_null(strstr(head, "x/y"));
    assert_non_null(strstr(head, "\r\nX-Custom: v1\r\n"));
    assert_non_null(strstr(head, "\r\nX-Empty:"));
    char cl[64];
    snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", sizeof(body));
    assert_non_null(strstr(head, cl));
    assert_null(strstr(head, "Content-Length: 999"));
    assert_null(strcasestr(head, "\r\nExpect:"));
    assert_int_equal(r->body_len, hl + sizeof(body));
    assert_memory_equal(r->body + hl, body, sizeof(body));
}

static void test_httpc_echo_method_and_content_type_honoured(void **state)
{
    ctx_t *t = *state;
    t->expect = 2;
    lc_httpc_opts_t put = {
        .method = "PUT", .content_type = "text/plain", .body = "x", .body_len = 1};
    lc_httpc_opts_t get = {.method = "GET"};
    assert_non_null(start(t, "/echo", &put));
    assert_non_null(start(t, "/echo", &get));
    run(t);
    int seen_put = 0, seen_get = 0;
    for (int i = 0; i < 2; i++) {
        size_t hl;
        const char *head = head_of(&t->res[i], &hl);
        if (strncmp(head, "PUT /echo ", 10) == 0) {
            seen_put++;
            assert_non_null(strstr(head, "\r\nContent-Type: text/plain\r\n"));
            assert_int_equal(t->res[i].body_len, hl + 1);
        } else if (strncmp(head, "GET /echo ", 10) == 0) {
            seen_get++;
            assert_int_equal(t->res[i].body_len, hl);
        }
    }
    assert_int_equal(seen_put, 1);
    assert_int_equal(seen_get, 1);
}

static void test_httpc_bad_input_not_started(void **state)
{
    ctx_t *t = *state;
    lc_http_header_t crlf[] = {{"X-A", "v\r\nX-Injected: 1"}};
    lc_http_header_t badname[] = {{"X A", "v"}};
    lc_httpc_opts_t o1 = {.headers = crlf, .n_headers = 1};
    lc_httpc_opts_t o2 = {.headers = badname, .n_headers = 1};
    lc_httpc_opts_t o3 = {.method = "GET /x HTTP/1.0\r\n"};
    lc_httpc_opts_t o4 = {.content_type = "a\r\nb: c"};
    assert_null(start(t, "/json", &o1));
    assert_null(start(t, "/json", &o2));
    assert_null(start(t, "/json", &o3));
    assert_null(start(t, "/json", &o4));
    lc_httpc_opts_t nourl = {0};
    assert_null(lc_httpc_request(t->c, &nourl, on_resp, t));
    close_client(t);
    run(t);
    assert_int_equal(t->n_cb, 0);
}

static void test_httpc_cancel_no_callback(void **state)
{
    ctx_t *t = *state;
    t->expect = 1;
    /* cancelled before the loop ever ran */
    lc_httpc_req_t *early = start(t, "/json", NULL);
    assert_non_null(early);
    lc_httpc_cancel(early);
    /* cancelled mid-flight, from another request's callback */
    t->victim = start(t, "/hang", NULL);
    assert_non_null(t->victim);
    assert_non_null(start(t, "/delay/100", NULL));
    run(t);
    assert_int_equal(t->n_cb, 1);
    assert_int_equal(t->res[0].status, 200);
    assert_string_equal(t->res[0].body, "late");
    assert_null(t->victim);
}

static void test_httpc_fifty_concurrent_all_complete(void **state)
{
    ctx_t *t = *state;
    t->expect = 50;
    for (int i = 0; i < 50; i++)
        assert_non_null(start(t, "/delay/50", NULL));
    run(t);
    assert_int_equal(t->n_cb, 50);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(t->res[i].err, 0);
        assert_int_equal(t->res[i].status, 200);
    }
}

static void on_close_timer(uv_timer_t *tm)
{
    ctx_t *t = tm->data;
    close_client(t);
    uv_close((uv_handle_t *)tm, NULL);
}

static void test_httpc_close_with_pending_no_callbacks(void **state)
{
    ctx_t *t = *state;
    for (int i = 0; i < 5; i++)
        assert_non_null(start(t, "/hang", NULL));
    assert_non_null(start(t, "/delay/5000", NULL));
    uv_timer_t tm;
    uv_timer_init(&t->loop, &tm);
    tm.data = t;
    uv_timer_start(&tm, on_close_timer, 100, 0);
    run(t);
    assert_int_equal(t->n_cb, 0);
}

static void test_httpc_two_clients_one_loop_independent(void **state)
{
    ctx_t *t = *state;
    /* two clients on one loop share nothing: the second finishes while the first waits */
    lc_httpc_t *other = lc_httpc_new(&t->loop);
    assert_non_null(other);
    lc_httpc_close(other, NULL, NULL);
    t->expect = 2;
    assert_non_null(start(t, "/json", NULL));
    assert_non_null(start(t, "/delay/50", NULL));
    run(t);
    assert_int_equal(t->n_cb, 2);
}

int main(void)
{
    lc_httpc_global_init();
    lc_httpc_global_init();
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_httpc_ok_status_and_body),
        T(test_httpc_localhost_ok),
        T(test_httpc_host_name_through_resolver_ok),
        T(test_httpc_status_500_reported_not_error),
        T(test_httpc_slow_answer_within_timeout_succeeds),
        T(test_httpc_no_answer_expires),
        T(test_httpc_refused_is_io_error),
        T(test_httpc_body_over_limit_too_big),
        T(test_httpc_sequential_requests_reuse_one_connection),
        T(test_httpc_server_closing_each_connection_reconnects),
        T(test_httpc_echo_headers_and_body_sent),
        T(test_httpc_echo_method_and_content_type_honoured),
        T(test_httpc_bad_input_not_started),
        T(test_httpc_cancel_no_callback),
        T(test_httpc_fifty_concurrent_all_complete),
        T(test_httpc_close_with_pending_no_callbacks),
        T(test_httpc_two_clients_one_loop_independent),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
