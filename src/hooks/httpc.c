/* HTTP client: one libcurl multi per client, driven by the client's uv loop the way curl's
 * docs/examples/multi-uv.c does it. curl tells us which sockets to watch (on_curl_socket) and
 * when to wake it (on_curl_timer); we tell it what happened (curl_multi_socket_action) and then
 * collect finished transfers (check_done).
 *
 * Sockets for connections are opened and closed by us (on_open_socket/on_close_socket), so the
 * uv_poll watching a socket is always stopped before its descriptor is closed and epoll never
 * holds a closed fd. Each socket has a sock_t from open to close; sockets curl opens on its own
 * (the threaded resolver's wake-up pipe) get one lazily, closed when curl stops watching them.
 * A sock_t is freed in its poll's close callback; it leaves the live list as soon as the close
 * starts, so a new socket reusing the fd number never finds it. */
#include "hooks/httpc.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/list.h"

#define BODY_MAX ((size_t)1024 * 1024)
#define DEFAULT_TIMEOUT_MS 1000
/* Idle connections the client keeps open for reuse, over all backends. */
#define MAX_CACHED_CONNS 64

typedef struct sock {
    lc_httpc_t *c;
    curl_socket_t fd;
    bool owned; /* opened by on_open_socket: closed by on_close_socket */
    uv_poll_t poll;
    lc_list_t link; /* in c->socks while the poll is not closing */
} sock_t;

struct lc_httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    lc_list_t reqs;       /* started, not finished, not cancelled */
    lc_list_t socks;      /* sock_t with a poll that is not closing */
    unsigned n_handles;   /* uv handles not yet through their close callback */
    unsigned dispatching; /* nesting depth of check_done */
    bool closing;
    void (*done)(void *arg);
    void *done_arg;
    void *attached;
    void (*attached_release)(void *p);
};

struct lc_httpc_req {
    lc_httpc_t *c;
    CURL *easy;
    struct curl_slist *headers;
    lc_buf_t body;
    bool too_big;
    lc_httpc_cb cb;
    void *arg;
    lc_list_t link; /* in c->reqs */
};

static uv_once_t global_once = UV_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init_once(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void lc_httpc_global_init(void)
{
    uv_once(&global_once, global_init_once);
}

/* --- sockets ------------------------------------------------------------------------------ */

static void maybe_done(lc_httpc_t *c)
{
    if (!c->closing || c->multi || c->n_handles)
        return;
    void (*done)(void *) = c->done;
    void *arg = c->done_arg;
    free(c);
    if (done)
        done(arg);
}

static void on_poll_close(uv_handle_t *h)
{
    sock_t *s = lc_container_of((uv_poll_t *)h, sock_t, poll);
    lc_httpc_t *c = s->c;
    free(s);
    c->n_handles--;
    maybe_done(c);
}

/* Stops the poll at once (libuv removes the fd from epoll in uv_close), frees later. */
static void sock_close(sock_t *s)
{
    lc_list_remove(&s->link);
    uv_close((uv_handle_t *)&s->poll, on_poll_close);
}

static sock_t *sock_find(lc_httpc_t *c, curl_socket_t fd)
{
    lc_list_t *pos;
    lc_list_foreach(pos, &c->socks)
    {
        sock_t *s = lc_container_of(pos, sock_t, link);
        if (s->fd == fd)
            return s;
    }
    return NULL;
}

static sock_t *sock_new(lc_httpc_t *c, curl_socket_t fd, bool owned)
{
    sock_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
        free(s);
        return NULL;
    }
    s->c = c;
    s->fd = fd;
    s->owned = owned;
    lc_list_insert_tail(&c->socks, &s->link);
    c->n_handles++;
    return s;
}

static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    lc_httpc_t *c = clientp;
    if (purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd == CURL_SOCKET_BAD)
        return CURL_SOCKET_BAD;
    if (!sock_new(c, fd, true)) {
        close(fd);
        return CURL_SOCKET_BAD;
    }
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    lc_httpc_t *c = clientp;
    sock_t *s = sock_find(c, fd);
    if (s)
        sock_close(s);
    return close(fd);
}

static void check_done(lc_httpc_t *c);

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = lc_container_of(h, sock_t, poll);
    lc_httpc_t *c = s->c;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    check_done(c);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    lc_httpc_t *c = userp;
    sock_t *s = socketp ? socketp : sock_find(c, fd);
    if (what == CURL_POLL_REMOVE) {
        if (!s)
            return 0;
        curl_multi_assign(c->multi, fd, NULL);
        if (s->owned)
            uv_poll_stop(&s->poll); /* the connection may be reused: closed in on_close_socket */
        else
            sock_close(s); /* curl closes it right after telling us */
        return 0;
    }
    if (!s) {
        s = sock_new(c, fd, false);
        if (!s)
            return -1;
    }
    if (!socketp)
        curl_multi_assign(c->multi, fd, s);
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* --- timer -------------------------------------------------------------------------------- */

static void on_timeout(uv_timer_t *t)
{
    lc_httpc_t *c = lc_container_of(t, lc_httpc_t, timer);
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* curl may not be re-entered from here: even a 0 ms timeout goes through the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    lc_httpc_t *c = userp;
    if (timeout_ms < 0)
        return uv_timer_stop(&c->timer) == 0 ? 0 : -1;
    return uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0) == 0 ? 0 : -1;
}

static void on_timer_close(uv_handle_t *h)
{
    lc_httpc_t *c = lc_container_of((uv_timer_t *)h, lc_httpc_t, timer);
    c->n_handles--;
    maybe_done(c);
}

/* --- requests ----------------------------------------------------------------------------- */

static size_t on_write(char *p, size_t size, size_t n, void *userdata)
{
    lc_httpc_req_t *r = userdata;
    size_t len = size * n;
    if (len > BODY_MAX - r->body.len) {
        r->too_big = true;
        return 0; /* makes curl fail the transfer with CURLE_WRITE_ERROR */
    }
    if (lc_buf_append(&r->body, p, len) != 0)
        return 0;
    return len;
}

static void req_free(lc_httpc_req_t *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    lc_buf_free(&r->body);
    free(r);
}

/* Detach from the multi; the connection goes back to the cache when the transfer was done, or
 * is closed when it was not. */
static void req_detach(lc_httpc_req_t *r)
{
    lc_list_remove(&r->link);
    curl_multi_remove_handle(r->c->multi, r->easy);
}

static void req_finish(lc_httpc_req_t *r, CURLcode rc)
{
    lc_httpc_resp_t resp = {0};
    if (rc == CURLE_OK) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &resp.status);
        if (lc_buf_reserve(&r->body, 0) != 0) {
            resp.err = LC_ENOMEM;
            resp.what = "out of memory";
        } else {
            resp.body = r->body.data;
            resp.body_len = r->body.len;
        }
    } else if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        resp.err = LC_ETOOBIG;
        resp.what = "response body over 1 MiB";
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        resp.err = LC_EEXPIRED;
        resp.what = "timeout";
    } else if (rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR) {
        /* a write error that is not too_big is our append failing */
        resp.err = LC_ENOMEM;
        resp.what = "out of memory";
    } else {
        resp.err = LC_EIO;
        resp.what = curl_easy_strerror(rc);
    }
    if (resp.err)
        resp.status = 0;
    r->cb(r->arg, &resp);
}

/* Complete every finished transfer. A callback may start or cancel requests or close the
 * client; closing only frees the multi once the outermost call here returns. */
static void check_done(lc_httpc_t *c)
{
    c->dispatching++;
    CURLMsg *msg;
    int left;
    while (!c->closing && (msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = msg->data.result; /* msg is invalid after remove_handle */
        char *priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        lc_httpc_req_t *r = (lc_httpc_req_t *)(void *)priv;
        req_detach(r);
        req_finish(r, rc);
        req_free(r);
    }
    c->dispatching--;
    if (c->closing && !c->dispatching && c->multi) {
        curl_multi_cleanup(c->multi); /* closes cached connections: on_close_socket */
        c->multi = NULL;
        lc_list_t *pos, *tmp;
        lc_list_foreach_safe(pos, tmp, &c->socks)
        {
            sock_close(lc_container_of(pos, sock_t, link));
        }
        uv_close((uv_handle_t *)&c->timer, on_timer_close);
    }
}

/* RFC 9110 token: what a header name or a method may be made of. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", ch))
            return false;
    }
    return true;
}

static bool is_field_value(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

static bool header_is_ours(const char *name)
{
    static const char *const ours[] = {"Content-Type", "Content-Length", "Transfer-Encoding",
                                       "Connection",   "Host",           "Expect"};
    for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
        if (strcasecmp(name, ours[i]) == 0)
            return true;
    return false;
}

static int header_add(struct curl_slist **list, const char *name, const char *value)
{
    lc_buf_t line = LC_BUF_INIT;
    /* "Name;" is curl's way to send an empty header ("Name:" would remove it) */
    int rc =
        *value ? lc_buf_printf(&line, "%s: %s", name, value) : lc_buf_printf(&line, "%s;", name);
    if (rc == 0) {
        struct curl_slist *n = curl_slist_append(*list, line.data);
        if (n)
            *list = n;
        else
            rc = LC_ENOMEM;
    }
    lc_buf_free(&line);
    return rc;
}

static int build_headers(lc_httpc_req_t *r, const lc_httpc_opts_t *o)
{
    const char *ct = o->content_type ? o->content_type : "application/json";
    if (!is_field_value(ct))
        return LC_EINVAL;
    int rc = header_add(&r->headers, "Content-Type", ct);
    if (rc != 0)
        return rc;
    /* an empty "Expect:" stops curl from waiting for 100-continue before large bodies */
    struct curl_slist *n = curl_slist_append(r->headers, "Expect:");
    if (!n)
        return LC_ENOMEM;
    r->headers = n;
    for (size_t i = 0; i < o->n_headers; i++) {
        const lc_http_header_t *h = &o->headers[i];
        if (!h->name || !is_token(h->name) || !h->value || !is_field_value(h->value))
            return LC_EINVAL;
        if (header_is_ours(h->name))
            continue;
        if ((rc = header_add(&r->headers, h->name, h->value)) != 0)
            return rc;
    }
    return 0;
}

#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                             \
            return LC_EINVAL;                                                                      \
    } while (0)

static int setup_easy(lc_httpc_req_t *r, const lc_httpc_opts_t *o)
{
    CURL *e = r->easy;
    lc_httpc_t *c = r->c;
    long timeout = o->timeout_ms > 0 ? (long)o->timeout_ms : DEFAULT_TIMEOUT_MS;
    const char *method = o->method ? o->method : "POST";
    if (!is_token(method))
        return LC_EINVAL;

    SET(CURLOPT_URL, o->url);
    SET(CURLOPT_PRIVATE, r);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_TIMEOUT_MS, timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, timeout);
    SET(CURLOPT_PROXY, ""); /* never a proxy from http_proxy & co. */
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)BODY_MAX);
    SET(CURLOPT_WRITEFUNCTION, on_write);
    SET(CURLOPT_WRITEDATA, r);
    /* the connection, and with it these callbacks, outlives the request: pass the client */
    SET(CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SET(CURLOPT_OPENSOCKETDATA, c);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    SET(CURLOPT_CLOSESOCKETDATA, c);
    SET(CURLOPT_HTTPHEADER, r->headers);

    if (strcmp(method, "GET") == 0 && o->body_len == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0 && o->body_len == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        SET(CURLOPT_COPYPOSTFIELDS, o->body_len ? o->body : "");
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
    }
    return 0;
}

#undef SET

lc_httpc_req_t *lc_httpc_request(lc_httpc_t *c, const lc_httpc_opts_t *o, lc_httpc_cb cb, void *arg)
{
    if (!c || c->closing || !o || !o->url || !cb || (o->body_len && !o->body))
        return NULL;
    lc_httpc_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    lc_buf_init(&r->body);
    lc_list_init(&r->link);
    if (!(r->easy = curl_easy_init()))
        goto fail;
    if (build_headers(r, o) != 0 || setup_easy(r, o) != 0)
        goto fail;
    /* curl only arms its timer here; the transfer starts from the loop */
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK)
        goto fail;
    lc_list_insert_tail(&c->reqs, &r->link);
    return r;
fail:
    req_free(r);
    return NULL;
}

void lc_httpc_cancel(lc_httpc_req_t *r)
{
    if (!r)
        return;
    req_detach(r);
    req_free(r);
}

lc_httpc_t *lc_httpc_new(uv_loop_t *loop)
{
    lc_httpc_global_init();
    if (global_rc != CURLE_OK)
        return NULL;
    lc_httpc_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->loop = loop;
    lc_list_init(&c->reqs);
    lc_list_init(&c->socks);
    if (!(c->multi = curl_multi_init()))
        goto fail;
    if (curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
        curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)MAX_CACHED_CONNS) != CURLM_OK)
        goto fail;
    if (uv_timer_init(loop, &c->timer) != 0)
        goto fail;
    c->n_handles = 1;
    return c;
fail:
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free(c);
    return NULL;
}

void lc_httpc_close(lc_httpc_t *c, void (*done)(void *arg), void *arg)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->done = done;
    c->done_arg = arg;
    lc_list_t *pos, *tmp;
    lc_list_foreach_safe(pos, tmp, &c->reqs)
    {
        lc_httpc_cancel(lc_container_of(pos, lc_httpc_req_t, link));
    }
    lc_httpc_attach(c, NULL, NULL);
    /* outside a callback this frees the multi and starts closing the handles now */
    check_done(c);
}

void lc_httpc_attach(lc_httpc_t *c, void *p, void (*release)(void *p))
{
    if (c->attached != NULL && c->attached_release != NULL)
        c->attached_release(c->attached);
    c->attached = p;
    c->attached_release = release;
}

void *lc_httpc_attached(const lc_httpc_t *c)
{
    return c->attached;
}
