/* lucent-bench: the coordinator. Forks the subscriber processes, publishes, samples the
 * server's /proc figures around the publish phase and prints one report.
 *
 *   lucent-bench --proto=centrifugo --ws=ws://127.0.0.1:8000/connection/websocket \
 *       --pub=http://127.0.0.1:8000/api/publish --apikey=KEY --n=1000 --m=1000 --pid=PID
 *   lucent-bench --proto=nchan --n=1000 --m=1000 --rate=200 --pid=PID
 *   lucent-bench --selftest --n=100 --m=200000 --batch=64     (receive capacity, no server) */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct srv_sample {
    double cpu_s;
    long rss_kb;
    int64_t at_us;
} srv_sample_t;

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* CPU of every thread of the process in ns (schedstat), falling back to stat's ticks. */
static double pid_cpu_s(int pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    double v = 0;
    if (fgets(line, sizeof(line), f)) {
        char *p = strrchr(line, ')');
        unsigned long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
            v = (ut + st) / (double)sysconf(_SC_CLK_TCK);
    }
    fclose(f);
    return v;
}

static long pid_rss_kb(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long v = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            v = atol(line + 6);
    fclose(f);
    return v;
}

static srv_sample_t sample(const bench_opts_t *o)
{
    srv_sample_t s = {0, 0, bench_now_us()};
    for (int i = 0; i < o->npids; i++) {
        s.cpu_s += pid_cpu_s(o->pids[i]);
        s.rss_kb += pid_rss_kb(o->pids[i]);
    }
    return s;
}

/* A JSON number, or null for a figure that does not exist (NaN). */
static const char *jnum(char *buf, size_t cap, double v)
{
    if (isnan(v) || isinf(v))
        snprintf(buf, cap, "null");
    else
        snprintf(buf, cap, "%.3f", v);
    return buf;
}

static int parse_url(const char *url, const char *scheme, char *host, int *port, char *path)
{
    size_t sl = strlen(scheme);
    if (strncmp(url, scheme, sl) != 0)
        return -1;
    const char *h = url + sl, *slash = strchr(h, '/'), *colon = strchr(h, ':');
    if (!slash)
        slash = h + strlen(h);
    if (colon && colon < slash) {
        snprintf(host, 64, "%.*s", (int)(colon - h), h);
        *port = atoi(colon + 1);
    } else {
        snprintf(host, 64, "%.*s", (int)(slash - h), h);
        *port = 80;
    }
    snprintf(path, 256, "%s", *slash ? slash : "/");
    if (strcmp(host, "localhost") == 0)
        snprintf(host, 64, "127.0.0.1");
    if (strncmp(host, "127.", 4) != 0) {
        fprintf(stderr, "bench: refusing a non-loopback target %s\n", url);
        return -1;
    }
    return 0;
}

static const char *opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && a[n] == '=' ? a + n + 1 : NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: lucent-bench [--proto=centrifugo|nchan] [--ws=URL] [--pub=URL] [--apikey=K]\n"
            "  [--token=JWT | --token-secret=S [--token-ttl=0]] [--n=1000] [--channels=1] "
            "[--subs=1] [--m=1000]\n"
            "  [--rate=0] [--size=64] [--pub-conns=1] [--pipeline=16] [--threads=1] [--procs=0]\n"
            "  [--src-ips=0] [--connconc=256] [--settle=500] [--drain=15] [--idle=0]\n"
            "  [--after-close=0] [--pid=PID,..] [--json] | --selftest [--batch=64]\n");
}

static int parse_opts(int argc, char **argv, bench_opts_t *o)
{
    const char *ws = NULL, *pub = NULL, *v;
    memset(o, 0, sizeof(*o));
    o->proto = PROTO_CENTRIFUGO;
    o->chan_prefix = "bench";
    o->n = 1000, o->channels = 1, o->subs = 1, o->m = 1000, o->size = 64;
    o->pub_conns = 1, o->pipeline = 16, o->threads = 1, o->connconc = 256;
    o->settle_ms = 500, o->drain_s = 15, o->batch = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((v = opt(a, "--proto"))) {
            if (strcmp(v, "nchan") == 0)
                o->proto = PROTO_NCHAN;
            else if (strcmp(v, "centrifugo") != 0)
                return -1;
        } else if ((v = opt(a, "--ws")))
            ws = v;
        else if ((v = opt(a, "--pub")))
            pub = v;
        else if ((v = opt(a, "--apikey")))
            o->apikey = v;
        else if ((v = opt(a, "--token")))
            o->token = v;
        else if ((v = opt(a, "--token-secret")))
            o->token_secret = v;
        else if ((v = opt(a, "--token-ttl")))
            o->token_ttl = atoi(v);
        else if ((v = opt(a, "--chan-prefix")))
            o->chan_prefix = v;
        else if ((v = opt(a, "--n")))
            o->n = atoi(v);
        else if ((v = opt(a, "--channels")))
            o->channels = atoi(v);
        else if ((v = opt(a, "--subs")))
            o->subs = atoi(v);
        else if ((v = opt(a, "--m")))
            o->m = atol(v);
        else if ((v = opt(a, "--rate")))
            o->rate = atof(v);
        else if ((v = opt(a, "--size")))
            o->size = atoi(v);
        else if ((v = opt(a, "--pub-conns")))
            o->pub_conns = atoi(v);
        else if ((v = opt(a, "--pipeline")))
            o->pipeline = atoi(v);
        else if ((v = opt(a, "--threads")))
            o->threads = atoi(v);
        else if ((v = opt(a, "--procs")))
            o->procs = atoi(v);
        else if ((v = opt(a, "--src-ips")))
            o->src_ips = atoi(v);
        else if ((v = opt(a, "--connconc")))
            o->connconc = atoi(v);
        else if ((v = opt(a, "--settle")))
            o->settle_ms = atoi(v);
        else if ((v = opt(a, "--drain")))
            o->drain_s = atoi(v);
        else if ((v = opt(a, "--idle")))
            o->idle_s = atoi(v);
        else if ((v = opt(a, "--after-close")))
            o->after_close_ms = atoi(v);
        else if ((v = opt(a, "--batch")))
            o->batch = atoi(v);
        else if ((v = opt(a, "--pid"))) {
            char *end;
            while (*v && o->npids < 16) {
                o->pids[o->npids++] = (int)strtol(v, &end, 10);
                v = *end == ',' ? end + 1 : end;
                if (end == v && *v)
                    return -1;
            }
        } else if (strcmp(a, "--selftest") == 0)
            o->selftest = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else
            return -1;
    }
    if (o->selftest)
        o->proto = PROTO_RAW;
    if (!ws)
        ws = o->proto == PROTO_NCHAN ? "ws://127.0.0.1:8101/sub/{ch}"
                                     : "ws://127.0.0.1:8000/connection/websocket";
    if (!pub)
        pub = o->proto == PROTO_NCHAN ? "http://127.0.0.1:8101/pub/{ch}"
                                      : "http://127.0.0.1:8000/api/publish";
    if (parse_url(ws, "ws://", o->host, &o->port, o->ws_path) != 0 ||
        parse_url(pub, "http://", o->pub_host, &o->pub_port, o->pub_path) != 0)
        return -1;
    if (o->n < 0 || o->channels < 1 || o->subs < 1 || o->subs > o->channels || o->m < 0 ||
        o->pub_conns < 1 || o->pipeline < 1 || o->threads < 1 || o->connconc < 1)
        return -1;
    if (o->proto == PROTO_NCHAN && o->subs != 1) {
        fprintf(stderr, "bench: Nchan connections subscribe to one channel each (--subs=1)\n");
        return -1;
    }
    /* One process holds at most ~20,000 descriptors here; one address ~28,000 ports. */
    if (o->procs <= 0)
        o->procs = (o->n + 17999) / 18000;
    if (o->procs < 1)
        o->procs = 1;
    if (o->src_ips <= 0)
        o->src_ips = o->n > 25000 ? (o->n + 24999) / 25000 : 1;
    return 0;
}

static double hist_value(int b)
{
    if (b < 64)
        return b;
    int msb = 6 + (b - 64) / HIST_SUB, sub = (b - 64) % HIST_SUB;
    double lo = (double)((HIST_SUB + sub) * (1LL << (msb - 5)));
    return lo + (1LL << (msb - 5)) / 2.0;
}

static double pct(const uint64_t *h, uint64_t total, double p)
{
    uint64_t want = (uint64_t)ceil(total * p), acc = 0;
    for (int b = 0; b < HIST_N; b++) {
        acc += h[b];
        if (acc >= want && acc)
            return hist_value(b);
    }
    return NAN;
}

/* Read one message of `want` type from a subscriber process; a DONE on the way is noted. */
static int ctl_read(int fd, int want, bench_report_t *rep, bool *done, int timeout_ms)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout_ms) <= 0)
            return -1;
        char c;
        if (read(fd, &c, 1) != 1)
            return -1;
        if (c == CTL_DONE) {
            *done = true;
            if (want == CTL_DONE)
                return 0;
            continue;
        }
        size_t got = 0;
        while (got < sizeof(*rep)) {
            ssize_t r = read(fd, (char *)rep + got, sizeof(*rep) - got);
            if (r <= 0)
                return -1;
            got += (size_t)r;
        }
        if (c == want)
            return 0;
    }
}

static void ctl_send(int fd, char c)
{
    if (write(fd, &c, 1) != 1)
        perror("bench: control");
}

int main(int argc, char **argv)
{
    bench_opts_t o;
    if (parse_opts(argc, argv, &o) != 0) {
        usage();
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int P = o.procs;
    int raw_port = 0, listen_fd = -1;
    if (o.selftest) {
        listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        socklen_t al = sizeof(a);
        if (bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listen_fd, 4096) ||
            getsockname(listen_fd, (struct sockaddr *)&a, &al) != 0) {
            perror("bench: self-test listener");
            return 1;
        }
        raw_port = ntohs(a.sin_port);
    }
    srv_sample_t s0 = sample(&o);
    int *ctl = calloc((size_t)P, sizeof(int));
    pid_t *kids = calloc((size_t)P, sizeof(pid_t));
    bool *done = calloc((size_t)P, sizeof(bool));
    int64_t tc0 = bench_now_us();
    for (int k = 0; k < P; k++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
            return 1;
        int first = (int)((int64_t)o.n * k / P), last = (int)((int64_t)o.n * (k + 1) / P);
        kids[k] = fork();
        if (kids[k] == 0) {
            close(sv[0]);
            if (listen_fd >= 0)
                close(listen_fd);
            _exit(
                bench_subscriber_main(&o, first, last - first, 1 + k % o.src_ips, sv[1], raw_port));
        }
        close(sv[1]);
        ctl[k] = sv[0];
    }
    int *raw_fds = NULL;
    if (o.selftest && !(raw_fds = bench_selftest_accept(&o, listen_fd)))
        return 1;
    bench_report_t *reps = calloc((size_t)P, sizeof(*reps));
    int ready = 0, conn_errors = 0;
    double connect_s = 0, sub_cpu_ready = 0;
    uint64_t expected = 0;
    for (int k = 0; k < P; k++) {
        if (ctl_read(ctl[k], CTL_READY, &reps[k], &done[k], 180000) != 0) {
            fprintf(stderr, "bench: subscriber process %d did not report\n", k);
            return 1;
        }
        int cnt = (int)((int64_t)o.n * (k + 1) / P) - (int)((int64_t)o.n * k / P);
        ready += reps[k].ready;
        conn_errors += reps[k].conn_errors;
        sub_cpu_ready += reps[k].cpu_ready_s;
        if (cnt)
            expected += reps[k].expected * (uint64_t)reps[k].ready / (uint64_t)cnt;
        if (reps[k].connect_s > connect_s)
            connect_s = reps[k].connect_s;
    }
    (void)tc0;
    if (o.idle_s > 0)
        sleep((unsigned)o.idle_s);
    usleep((useconds_t)o.settle_ms * 1000);
    srv_sample_t s1 = sample(&o);
    double pub_cpu0 = self_cpu_s();
    pub_result_t pr;
    memset(&pr, 0, sizeof(pr));
    if (o.selftest) {
        pr.ok = o.m;
        if (bench_selftest_rounds(&o, raw_fds, &pr.t0_us, &pr.t1_us) != 0)
            fprintf(stderr, "bench: self-test sender failed\n");
    } else if (o.m > 0 && ready > 0) {
        bench_publish(&o, &pr);
    }
    double pub_cpu = self_cpu_s() - pub_cpu0;
    int64_t drain_end = bench_now_us() + (int64_t)o.drain_s * 1000000;
    if (o.m > 0 && ready > 0)
        for (int k = 0; k < P; k++)
            while (!done[k]) {
                int left = (int)((drain_end - bench_now_us()) / 1000);
                bench_report_t tmp;
                if (left <= 0 || ctl_read(ctl[k], CTL_DONE, &tmp, &done[k], left) != 0)
                    break;
            }
    srv_sample_t s2 = sample(&o);
    bench_report_t all;
    memset(&all, 0, sizeof(all));
    double sub_cpu = 0, busy = 0;
    for (int k = 0; k < P; k++) {
        ctl_send(ctl[k], CTL_REPORT);
        if (ctl_read(ctl[k], CTL_STATS, &reps[k], &done[k], 10000) != 0) {
            fprintf(stderr, "bench: subscriber process %d gave no figures\n", k);
            continue;
        }
        bench_report_t *r = &reps[k];
        for (int b = 0; b < HIST_N; b++)
            all.hist[b] += r->hist[b];
        all.delivered += r->delivered;
        all.bad_frames += r->bad_frames;
        all.closed += r->closed;
        if (r->last_recv_us > all.last_recv_us)
            all.last_recv_us = r->last_recv_us;
        if (r->max_lat_us > all.max_lat_us)
            all.max_lat_us = r->max_lat_us;
        sub_cpu += r->cpu_report_s;
        if (r->thread_busy_max > busy)
            busy = r->thread_busy_max;
    }
    sub_cpu -= sub_cpu_ready;
    srv_sample_t s3 = s2;
    for (int k = 0; k < P; k++)
        ctl_send(ctl[k], CTL_QUIT);
    for (int k = 0; k < P; k++)
        waitpid(kids[k], NULL, 0);
    if (o.after_close_ms > 0) {
        usleep((useconds_t)o.after_close_ms * 1000);
        s3 = sample(&o);
    }

    /* ---- figures ---- */
    uint64_t d = all.delivered;
    double span = all.last_recv_us > pr.t0_us ? (all.last_recv_us - pr.t0_us) / 1e6 : NAN;
    double rate = d && span > 0 ? d / span : 0;
    double p50 = pct(all.hist, d, 0.5) / 1000, p99 = pct(all.hist, d, 0.99) / 1000;
    double p999 = pct(all.hist, d, 0.999) / 1000, mx = all.max_lat_us / 1000.0;
    double srv_cpu = s2.cpu_s - s1.cpu_s, srv_wall = (s2.at_us - s1.at_us) / 1e6;
    double us_per = d ? srv_cpu * 1e6 / d : NAN;
    double rss_conn = ready ? (s1.rss_kb - s0.rss_kb) / (double)ready : NAN;
    double pub_rate = pr.t1_us > pr.t0_us ? pr.ok / ((pr.t1_us - pr.t0_us) / 1e6) : 0;
    /* Who was saturated: a receiver thread busy >= 90% of the delivery span, a publisher
     * short of the asked rate, or deliveries missing, mean the figures are the generator's. */
    char behind[256] = "";
    if (busy >= 0.9)
        snprintf(behind + strlen(behind), sizeof(behind) - strlen(behind),
                 "receiver thread %.0f%% busy; ", busy * 100);
    if (o.rate > 0 && pr.ok > 1 && pub_rate < o.rate * 0.95 * (pr.ok - 1) / pr.ok)
        snprintf(behind + strlen(behind), sizeof(behind) - strlen(behind),
                 "publisher reached %.0f/s of %.0f/s; ", pub_rate, o.rate);
    if (o.m > 0 && d < expected)
        snprintf(behind + strlen(behind), sizeof(behind) - strlen(behind),
                 "%llu deliveries missing; ", (unsigned long long)(expected - d));
    const char *proto = o.selftest ? "selftest" : o.proto == PROTO_NCHAN ? "nchan" : "centrifugo";
    if (o.json) {
        char b1[32], b2[32], b3[32], b4[32], b5[32], b6[32];
        printf("{\"proto\":\"%s\",\"n\":%d,\"channels\":%d,\"subs\":%d,\"m\":%ld,\"rate\":%g,"
               "\"size\":%d,\"procs\":%d,\"threads\":%d,\"ready\":%d,\"connect_errors\":%d,"
               "\"connect_s\":%.3f,\"connect_per_s\":%.0f,\"published\":%ld,\"publish_errors\":%ld,"
               "\"publish_rate\":%.1f,\"expected\":%llu,\"delivered\":%llu,\"span_s\":%s,"
               "\"delivered_per_s\":%.0f,\"p50_ms\":%s,\"p99_ms\":%s,\"p999_ms\":%s,"
               "\"max_ms\":%.3f,\"closed\":%d,\"bad_frames\":%llu,\"server_cpu_s\":%.3f,"
               "\"server_cpu_pct\":%.1f,\"server_us_per_delivery\":%s,\"rss0_kb\":%ld,"
               "\"rss_subscribed_kb\":%ld,\"rss_after_kb\":%ld,\"rss_closed_kb\":%ld,"
               "\"rss_per_conn_kb\":%s,\"gen_sub_cpu_s\":%.3f,\"gen_busy_max\":%.3f,"
               "\"gen_pub_cpu_s\":%.3f,\"gen_msgs_per_cpu_s\":%.0f,\"behind\":\"%s\"}\n",
               proto, o.n, o.channels, o.subs, o.m, o.rate, o.size, P, o.threads, ready,
               conn_errors, connect_s, ready / (connect_s > 0 ? connect_s : 1), pr.ok, pr.errors,
               pub_rate, (unsigned long long)expected, (unsigned long long)d,
               jnum(b1, sizeof(b1), span), rate, jnum(b2, sizeof(b2), p50),
               jnum(b3, sizeof(b3), p99), jnum(b4, sizeof(b4), p999), mx, all.closed,
               (unsigned long long)all.bad_frames, srv_cpu,
               srv_wall > 0 ? srv_cpu / srv_wall * 100 : 0, jnum(b5, sizeof(b5), us_per), s0.rss_kb,
               s1.rss_kb, s2.rss_kb, s3.rss_kb, jnum(b6, sizeof(b6), rss_conn), sub_cpu, busy,
               pub_cpu, sub_cpu > 0 ? d / sub_cpu : 0, behind);
    } else {
        printf("%s N=%d channels=%d subs/conn=%d M=%ld rate=%s size=%dB procs=%d threads=%d\n",
               proto, o.n, o.channels, o.subs, o.m, o.rate > 0 ? "" : "max", o.size, P, o.threads);
        if (o.rate > 0)
            printf("  asked rate %.0f pubs/s\n", o.rate);
        printf("connect: %d/%d ready in %.2fs (%.0f conn/s), %d errors\n", ready, o.n, connect_s,
               ready / (connect_s > 0 ? connect_s : 1), conn_errors);
        printf("publish: %ld ok, %ld errors, %.0f pubs/s\n", pr.ok, pr.errors, pub_rate);
        printf("deliver: %llu/%llu in %.3fs => %.0f msgs/s; closed %d; frames without a "
               "publication %llu\n",
               (unsigned long long)d, (unsigned long long)expected, span, rate, all.closed,
               (unsigned long long)all.bad_frames);
        printf("latency ms: p50 %.3f  p99 %.3f  p99.9 %.3f  max %.3f\n", p50, p99, p999, mx);
        if (o.npids)
            printf("server: CPU %.2fs (%.0f%% of one core) = %.3f us/delivery; RSS %ld -> %ld KB "
                   "subscribed (%.2f KB/conn), %ld KB after%s%ld KB\n",
                   srv_cpu, srv_wall > 0 ? srv_cpu / srv_wall * 100 : 0, us_per, s0.rss_kb,
                   s1.rss_kb, rss_conn, s2.rss_kb, o.after_close_ms > 0 ? ", closed: " : " ",
                   o.after_close_ms > 0 ? s3.rss_kb : 0);
        printf("generator: subscribers CPU %.2fs (busiest receiver thread %.0f%% of the "
               "delivery span; %.2f M msgs per CPU second), publisher CPU %.2fs\n",
               sub_cpu, busy * 100, sub_cpu > 0 ? d / sub_cpu / 1e6 : 0, pub_cpu);
        printf("%s%s\n", *behind ? "GENERATOR LIMITED OR INCOMPLETE: " : "generator kept up",
               behind);
    }
    return 0;
}
