/* lucent-bench: a WebSocket fan-out load generator on libuv and wslay (loopback only).
 *
 * One coordinator process publishes through HTTP (keep-alive, pipelined) and forks subscriber
 * processes; each subscriber process runs several threads with one event loop each. Payloads
 * carry the publish time (CLOCK_MONOTONIC, shared by every process of the machine), so every
 * receiver measures publish-to-deliver latency without talking to the coordinator. */
#ifndef LUCENT_BENCH_H
#define LUCENT_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bench_proto { PROTO_CENTRIFUGO, PROTO_NCHAN, PROTO_RAW };

typedef struct bench_opts {
    int proto;
    char host[64];
    int port;
    char ws_path[256]; /* may contain {ch} (Nchan) */
    char pub_host[64];
    int pub_port;
    char pub_path[256]; /* may contain {ch} (Nchan) */
    const char *apikey;
    const char *token;        /* one token for every connection */
    const char *token_secret; /* or an HS256 token per connection (sub = bench<i>) */
    int token_ttl;            /* its exp claim, seconds from now; 0 = no exp */
    const char *chan_prefix;
    int n;        /* connections */
    int channels; /* distinct channels */
    int subs;     /* channels per connection (K) */
    long m;       /* publications */
    double rate;  /* publications per second, 0 = flat out */
    int size;     /* payload bytes (approximate lower bound) */
    int pub_conns;
    int pipeline; /* requests in flight per publishing connection */
    int threads;  /* receiver threads per subscriber process */
    int procs;    /* subscriber processes */
    int src_ips;  /* source addresses 127.0.0.1 .. 127.0.0.<src_ips> */
    int connconc; /* handshakes in flight per thread */
    int settle_ms;
    int drain_s;
    int timeout_s;
    int idle_s;         /* hold the subscribed connections idle before measuring (RSS) */
    int after_close_ms; /* > 0: close every connection, wait, sample server RSS again */
    int batch;          /* self-test: messages per frame */
    bool selftest;
    bool json;
    int npids;
    int pids[16];
} bench_opts_t;

/* Latency histogram in µs: exact below 64 µs, then 32 sub-buckets per power of two (~3%). */
#define HIST_SUB 32
#define HIST_N (64 + 40 * HIST_SUB)

static inline int hist_bucket(int64_t us)
{
    if (us < 64)
        return us < 0 ? 0 : (int)us;
    int msb = 63 - __builtin_clzll((uint64_t)us); /* >= 6 */
    int sub = (int)((us >> (msb - 5)) & (HIST_SUB - 1));
    int b = 64 + (msb - 6) * HIST_SUB + sub;
    return b < HIST_N ? b : HIST_N - 1;
}

/* What one subscriber process reports to the coordinator. */
typedef struct bench_report {
    uint64_t hist[HIST_N];
    uint64_t delivered;
    uint64_t expected;
    uint64_t bad_frames; /* data frames that carried no publication */
    int64_t first_recv_us, last_recv_us;
    int64_t max_lat_us;
    int ready, conn_errors, closed;
    double cpu_ready_s, cpu_report_s; /* process CPU at ready and at report */
    double thread_busy_max;           /* max over threads: thread CPU / wall in publish phase */
    double connect_s;
} bench_report_t;

/* Subscriber side (client.c). Runs in a forked process; returns its exit status. */
int bench_subscriber_main(const bench_opts_t *o, int first, int count, int src_ip, int ctl_fd,
                          int raw_port);

/* Publisher side (publish.c): publishes o->m messages; returns 0 when all were acknowledged. */
typedef struct pub_result {
    long ok, errors;
    int64_t t0_us, t1_us;
    double achieved_rate;
} pub_result_t;
int bench_publish(const bench_opts_t *o, pub_result_t *r);

/* Self-test sender (selftest.c): accepts o->n raw connections on `listen_fd` (NULL on
 * failure), then writes o->m publications to each, o->batch per WebSocket frame, as a
 * coalescing server would. */
int *bench_selftest_accept(const bench_opts_t *o, int listen_fd);
int bench_selftest_rounds(const bench_opts_t *o, int *fds, int64_t *t0_us, int64_t *t1_us);

int64_t bench_now_us(void);
/* Payload of publication j: {"seq":j,"t":<µs>,"p":"xxx.."}; returns its length. */
size_t bench_payload(char *out, size_t cap, long j, int size);
/* Publications channel c receives out of m (publication j goes to channel j % channels). */
long bench_msgs_for_channel(const bench_opts_t *o, int c);
/* The k-th channel connection i subscribes to. */
int bench_conn_channel(const bench_opts_t *o, int i, int k);

/* Control messages between coordinator and subscriber processes. */
enum { CTL_READY = 'r', CTL_DONE = 'd', CTL_REPORT = 'R', CTL_QUIT = 'Q', CTL_STATS = 's' };

#endif
