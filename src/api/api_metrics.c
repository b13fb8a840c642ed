/* GET {prometheus.handler_prefix} (default /metrics): the Prometheus text format (version
 * 0.0.4). Counters are summed from the workers' blocks at scrape time (util/metrics.h); node
 * gauges come from lc_node_stats, process figures from /proc. */
#include "api/internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/transport.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

_Static_assert(LC_FRAMING_MAX <= LC_M_TRANSPORTS, "metric blocks have a slot per framing kind");

/* By framing kind (core/transport.h), as Centrifugo names its transports. */
static const char *const transport_names[LC_FRAMING_MAX] = {
    [LC_FRAMING_WS_TEXT] = "websocket",        [LC_FRAMING_SSE] = "sse",
    [LC_FRAMING_HTTP_STREAM] = "http_stream",  [LC_FRAMING_UNI_WS] = "uni_websocket",
    [LC_FRAMING_UNI_SSE] = "uni_sse",          [LC_FRAMING_UNI_HTTP_STREAM] = "uni_http_stream",
    [LC_FRAMING_WS_PB] = "websocket_protobuf", [LC_FRAMING_HTTP_STREAM_PB] = "http_stream_protobuf",
    [LC_FRAMING_PUSHER_WS] = "pusher",
};
static const char *const kind_names[LC_M_KINDS] = {"connect",     "refresh", "subscribe",
                                                   "sub_refresh", "publish", "rpc"};
static const char *const step_names[LC_M_STEPS] = {"token", "lua", "proxy", "rules"};
static const char *const result_names[LC_M_RESULTS] = {"allowed", "refused", "error"};

static int64_t started_s;

static int head(lc_buf_t *b, const char *name, const char *type, const char *help)
{
    return lc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int hist(lc_buf_t *b, const char *name, const char *labels, const uint64_t *h)
{
    const double *bounds = lc_metrics_bucket_bounds();
    uint64_t cum = 0;
    int rc = 0;
    for (int i = 0; i < LC_M_BUCKETS; i++) {
        cum += h[i];
        rc |= lc_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
                            bounds[i], (unsigned long long)cum);
    }
    cum += h[LC_M_BUCKETS];
    rc |= lc_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                        (unsigned long long)cum);
    rc |= lc_buf_printf(b, "%s_sum{%s} %.9f\n", name, labels, (double)h[LC_M_BUCKETS + 1] / 1e9);
    rc |= lc_buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
    return rc;
}

static int process_metrics(lc_buf_t *b)
{
    int rc = 0;
    double cpu = 0, rss = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    if (f) {
        /* fields 14 and 15: utime and stime in clock ticks; the command (2) may hold spaces */
        char line[1024];
        if (fgets(line, sizeof(line), f)) {
            const char *p = strrchr(line, ')');
            unsigned long long ut = 0, st = 0;
            // NOLINTNEXTLINE(cert-err34-c): fields the kernel writes; the count is checked
            if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                            &st) == 2)
                cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
        }
        fclose(f);
    }
    f = fopen("/proc/self/statm", "re");
    if (f) {
        unsigned long long size = 0, res = 0;
        // NOLINTNEXTLINE(cert-err34-c): fields the kernel writes; the count is checked
        if (fscanf(f, "%llu %llu", &size, &res) == 2)
            rss = (double)res * (double)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
    long fds = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                fds++;
        closedir(d);
        fds--; /* the directory stream's own descriptor */
    }
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    /* Lucent's names, then the standard ones every dashboard (Centrifugo's too) charts. */
    for (int std = 0; std < 2; std++) {
        const char *pre = std ? "process" : "lucent_process";
        rc |= lc_buf_printf(b, "# TYPE %s_cpu_seconds_total counter\n%s_cpu_seconds_total %.2f\n",
                            pre, pre, cpu);
        rc |= lc_buf_printf(
            b, "# TYPE %s_resident_memory_bytes gauge\n%s_resident_memory_bytes %.0f\n", pre, pre,
            rss);
        rc |= lc_buf_printf(b, "# TYPE %s_open_fds gauge\n%s_open_fds %ld\n", pre, pre, fds);
        rc |= lc_buf_printf(b, "# TYPE %s_max_fds gauge\n%s_max_fds %llu\n", pre, pre,
                            (unsigned long long)rl.rlim_cur);
        rc |= lc_buf_printf(b, "# TYPE %s_start_time_seconds gauge\n%s_start_time_seconds %lld\n",
                            pre, pre, (long long)started_s);
    }
    return rc;
}

static int render(lc_buf_t *b, lc_node_t *node, const lc_metrics_sum_t *s)
{
    lc_node_stats_t st;
    lc_node_stats(node, &st);
    int rc = 0;
    char lbl[128];

    rc |= head(b, "lucent_build_info", "gauge", "Version of the running binary.");
    rc |= lc_buf_printf(b, "lucent_build_info{version=\"%s\"} 1\n", LUCENT_VERSION);
    rc |= head(b, "lucent_uptime_seconds", "gauge", "Seconds since the node started.");
    rc |= lc_buf_printf(b, "lucent_uptime_seconds %lld\n", (long long)st.uptime_s);
    rc |= head(b, "lucent_node_clients", "gauge", "Connected clients (authenticated sessions).");
    rc |= lc_buf_printf(b, "lucent_node_clients %llu\n", (unsigned long long)st.num_clients);
    rc |= head(b, "lucent_node_users", "gauge", "Distinct users connected (per worker).");
    rc |= lc_buf_printf(b, "lucent_node_users %llu\n", (unsigned long long)st.num_users);
    rc |= head(b, "lucent_channels", "gauge", "Channels with at least one subscriber.");
    rc |= lc_buf_printf(b, "lucent_channels %llu\n", (unsigned long long)st.num_channels);

    rc |= head(b, "lucent_connections", "gauge", "Open client connections by transport.");
    for (int t = 0; t < LC_FRAMING_MAX; t++)
        rc |= lc_buf_printf(b, "lucent_connections{transport=\"%s\"} %lld\n", transport_names[t],
                            (long long)s->conns[t]);
    rc |= head(b, "lucent_connections_accepted_total", "counter",
               "Client connections accepted by transport.");
    for (int t = 0; t < LC_FRAMING_MAX; t++)
        rc |= lc_buf_printf(b, "lucent_connections_accepted_total{transport=\"%s\"} %llu\n",
                            transport_names[t], (unsigned long long)s->accepted[t]);
    rc |= head(b, "lucent_subscriptions", "gauge", "Channel subscriptions by transport.");
    for (int t = 0; t < LC_FRAMING_MAX; t++)
        rc |= lc_buf_printf(b, "lucent_subscriptions{transport=\"%s\"} %lld\n", transport_names[t],
                            (long long)s->subs[t]);

    rc |= head(b, "lucent_publications_in_total", "counter",
               "Publications accepted for publishing (server API and clients).");
    rc |= lc_buf_printf(b, "lucent_publications_in_total %llu\n", (unsigned long long)s->pubs_in);
    rc |= head(b, "lucent_publications_out_total", "counter",
               "Publications queued to subscribers, by transport.");
    for (int t = 0; t < LC_FRAMING_MAX; t++)
        rc |= lc_buf_printf(b, "lucent_publications_out_total{transport=\"%s\"} %llu\n",
                            transport_names[t], (unsigned long long)s->pubs_out[t]);
    rc |= head(b, "lucent_publications_dropped_total", "counter",
               "Publications not delivered because the subscriber's write queue was full.");
    rc |= lc_buf_printf(b, "lucent_publications_dropped_total %llu\n",
                        (unsigned long long)s->pubs_dropped);
    rc |= head(b, "lucent_write_queue_bytes", "gauge",
               "Bytes queued for writing to clients, all connections.");
    rc |= lc_buf_printf(b, "lucent_write_queue_bytes %lld\n", (long long)s->wq_bytes);

    rc |= head(b, "lucent_api_requests_total", "counter",
               "Server API method calls by method and result.");
    for (int m = 0; lc_metrics_api_method(m); m++)
        for (int r = 0; r < 2; r++)
            if (s->api[m][r] || r == 0)
                rc |= lc_buf_printf(
                    b, "lucent_api_requests_total{method=\"%s\",result=\"%s\"} %llu\n",
                    lc_metrics_api_method(m), r ? "error" : "ok", (unsigned long long)s->api[m][r]);

    rc |= head(b, "lucent_decisions_total", "counter",
               "Connect, subscribe, publish, RPC and refresh decisions by step and result.");
    for (int k = 0; k < LC_M_KINDS; k++)
        for (int st2 = 0; st2 < LC_M_STEPS; st2++)
            for (int r = 0; r < LC_M_RESULTS; r++)
                if (s->decisions[k][st2][r])
                    rc |= lc_buf_printf(
                        b, "lucent_decisions_total{kind=\"%s\",step=\"%s\",result=\"%s\"} %llu\n",
                        kind_names[k], step_names[st2], result_names[r],
                        (unsigned long long)s->decisions[k][st2][r]);
    rc |= head(b, "lucent_decision_duration_seconds", "histogram",
               "Time a decision step took (a proxy's round trip, a Lua hook's run).");
    for (int k = 0; k < LC_M_KINDS; k++)
        for (int st2 = 0; st2 < LC_M_STEPS; st2++) {
            uint64_t n = 0;
            for (int r = 0; r < LC_M_RESULTS; r++)
                n += s->decisions[k][st2][r];
            if (!n)
                continue;
            snprintf(lbl, sizeof(lbl), "kind=\"%s\",step=\"%s\"", kind_names[k], step_names[st2]);
            rc |= hist(b, "lucent_decision_duration_seconds", lbl, s->decision_latency[k][st2]);
        }
    rc |= head(b, "lucent_decision_errors_total", "counter",
               "Decisions that failed (backend unreachable, hook error) by kind and step.");
    for (int k = 0; k < LC_M_KINDS; k++)
        for (int st2 = 0; st2 < LC_M_STEPS; st2++)
            if (s->decisions[k][st2][LC_M_FAILED])
                rc |=
                    lc_buf_printf(b, "lucent_decision_errors_total{kind=\"%s\",step=\"%s\"} %llu\n",
                                  kind_names[k], step_names[st2],
                                  (unsigned long long)s->decisions[k][st2][LC_M_FAILED]);

    rc |= head(b, "lucent_disconnects_total", "counter", "Server-initiated disconnects by code.");
    for (int d = 0; d < LC_M_DISCONNECT_SLOTS; d++) {
        if (!s->disconnects[d])
            continue;
        char code[16];
        lc_metrics_disconnect_code(d, code, sizeof(code));
        rc |= lc_buf_printf(b, "lucent_disconnects_total{code=\"%s\"} %llu\n", code,
                            (unsigned long long)s->disconnects[d]);
    }

    bool up = false;
    const char *engine = lc_metrics_engine_name(&up);
    rc |= head(b, "lucent_engine_up", "gauge", "1 when the engine is usable.");
    rc |= lc_buf_printf(b, "lucent_engine_up{engine=\"%s\"} %d\n", engine, up ? 1 : 0);
    snprintf(lbl, sizeof(lbl), "engine=\"%s\"", engine);
    rc |= head(b, "lucent_engine_publish_duration_seconds", "histogram",
               "Time spent in the engine's publish call.");
    rc |= hist(b, "lucent_engine_publish_duration_seconds", lbl, s->engine_latency);
    rc |= head(b, "lucent_engine_errors_total", "counter", "Engine calls that failed.");
    rc |= lc_buf_printf(b, "lucent_engine_errors_total{%s} %llu\n", lbl,
                        (unsigned long long)s->engine_errors);
    return rc | process_metrics(b);
}

static void on_metrics(lc_http_req_t *req, void *arg)
{
    lc__api_t *a = arg;
    if (strcmp(lc_http_req_method(req), "GET") != 0 &&
        strcmp(lc_http_req_method(req), "HEAD") != 0) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18, "Allow: GET\r\n");
        return;
    }
    lc_metrics_sum_t *s = malloc(sizeof(*s));
    lc_buf_t b = LC_BUF_INIT;
    if (!s || (lc_metrics_sum(s), render(&b, a->node, s)) != 0) {
        lc_log_error("metrics: out of memory");
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
    } else {
        lc_http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len, NULL);
    }
    free(s);
    lc_buf_free(&b);
}

int lc__api_metrics_register(lc_router_t *r, lc__api_t *a)
{
    started_s = (int64_t)time(NULL);
    if (!a->cfg->ops.prometheus_enabled)
        return 0;
    return lc_router_add(r, a->cfg->ops.prometheus_prefix, false, on_metrics, a);
}
