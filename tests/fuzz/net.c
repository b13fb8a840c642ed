/* See net.h. */
#include "net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "fake_core.h"
#include "fuzz.h"
#include "util/log.h"

static scen_t scen;
static atomic_int ready;
static pthread_mutex_t forever = PTHREAD_MUTEX_INITIALIZER;

/* The scenario thread of fake_core's run(): says the server is up, then never returns. */
static void serve_forever(scen_t *s)
{
    atomic_store(&ready, 1);
    pthread_mutex_lock(&forever);
    pthread_mutex_lock(&forever);
}

static void tweak(lc_config_t *cfg)
{
    cfg->sse_enabled = true;
    cfg->http_stream_enabled = true;
    cfg->uni_sse_enabled = true;
    cfg->uni_http_stream_enabled = true;
    cfg->uni_websocket_enabled = true;
}

static void *server_thread(void *arg)
{
    run(&scen, serve_forever, tweak);
    return NULL;
}

void net_start(void)
{
    static bool started;
    pthread_t th;
    if (started)
        return;
    started = true;
    /* as in the server (main.c) and the transport tests: a write to a peer that reset the
     * connection is an error to handle, not a signal that ends the process */
    signal(SIGPIPE, SIG_IGN);
    lc_log_set_level(LC_LOG_NONE);
    FUZZ_CHECK(pthread_create(&th, NULL, server_thread, NULL) == 0);
    while (!atomic_load(&ready))
        usleep(1000);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return; /* the server may close early: that is an answer too */
        p += k;
        n -= (size_t)k;
    }
}

void net_exchange(const char *prefix, const void *p, size_t n)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)scen.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    if (prefix != NULL)
        send_all(fd, prefix, strlen(prefix));
    send_all(fd, p, n);
    shutdown(fd, SHUT_WR);
    /* read what the server answers until it closes; a stream it keeps open ends the wait */
    char buf[65536];
    for (int rounds = 0; rounds < 64; rounds++) {
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, 500) <= 0)
            break;
        ssize_t k = recv(fd, buf, sizeof(buf), 0);
        if (k <= 0)
            break;
    }
    /* a reset, so that thousands of connections leave no TIME_WAIT behind */
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}
