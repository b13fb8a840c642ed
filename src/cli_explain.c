/* lucent explain: run the decision pipeline (hooks/decide.h) once, offline, for one command of
 * one user, and print the steps it went through and the answer a client would get. The real
 * parts run: the config's Lua script in its own VM, token checks with the config's keys, and
 * the configured proxies (unless --no-proxy), on a private libuv loop. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "hooks/explain.h"
#include "hooks/httpc.h"
#include "hooks/script.h"
#include "util/log.h"

typedef struct explain {
    bool done;
    int rc;
} explain_t;

static lc_httpc_t *host_httpc(void *ctx)
{
    return ctx;
}

static int host_publish(void *ctx, const char *channel, const char *data, size_t len, bool skip)
{
    (void)ctx, (void)data, (void)len, (void)skip;
    fprintf(stderr, "lucent explain: lucent.publish(%s) is not run offline\n", channel);
    return 0;
}

static void on_explained(void *arg, const lc_explain_result_t *r)
{
    explain_t *e = arg;
    e->done = true;
    e->rc = r->rc;
    for (size_t k = 0; k < lc_decide_trace_count(r->trace); k++)
        printf("%s\n", lc_decide_trace_line(r->trace, k));
    if (r->user)
        printf("user: \"%s\"%s\n", r->user, r->user[0] ? "" : " (anonymous)");
    printf("reply: %s\n", r->reply);
}

static void usage_explain(void)
{
    fprintf(stderr, "usage: lucent explain -c FILE [--user USER] [--client ID] [--claims JSON] "
                    "[--token JWT] [--subscribed] [--no-proxy] [--at-expiry]\n"
                    "                      connect | refresh | subscribe CHANNEL | "
                    "sub_refresh CHANNEL |\n"
                    "                      publish CHANNEL DATA | rpc METHOD [DATA]\n");
}

static void httpc_closed(void *arg)
{
    (void)arg;
}

int lc_cli_explain(int argc, char **argv)
{
    const char *path = NULL;
    lc_explain_args_t args = {.client = "explain"};
    int i = 2;
    for (; i < argc && argv[i][0] == '-'; i++) {
        const char *c = lc_cli_config_arg(argc, argv, &i);
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (c)
            path = c;
        else if ((strcmp(a, "--user") == 0 || strcmp(a, "-u") == 0) && more)
            args.user = argv[++i];
        else if (strcmp(a, "--client") == 0 && more)
            args.client = argv[++i];
        else if (strcmp(a, "--claims") == 0 && more)
            args.claims = argv[++i];
        else if (strcmp(a, "--token") == 0 && more)
            args.token = argv[++i];
        else if (strcmp(a, "--no-proxy") == 0)
            args.no_proxy = true;
        else if (strcmp(a, "--subscribed") == 0)
            args.subscribed = true;
        else if (strcmp(a, "--at-expiry") == 0)
            args.at_expiry = true;
        else {
            fprintf(stderr, "lucent explain: unknown option %s\n", a);
            usage_explain();
            return 2;
        }
    }
    args.command = i < argc ? argv[i++] : NULL;
    /* rpc and connect take DATA without a target first only for connect */
    if (args.command && strcmp(args.command, "connect") == 0)
        args.data = i < argc ? argv[i++] : NULL;
    else if (i < argc)
        args.target = argv[i++];
    if (!args.data && i < argc)
        args.data = argv[i++];
    if (!path || !args.command || i < argc) {
        usage_explain();
        return 2;
    }

    lc_config_t cfg;
    if (lc_cli_load_config(&cfg, path) != 0)
        return 2;
    /* The trace says what the info lines of a refusal would; warnings and Lua errors stay. */
    lc_log_set_level(LC_LOG_WARN);
    int rc = 2;
    uv_loop_t loop;
    uv_loop_init(&loop);
    lc_httpc_t *httpc = lc_httpc_new(&loop);
    lc_lua_t *vm = NULL;
    explain_t e = {0};
    char err[256] = "out of memory";
    lc_explain_t *run = NULL;
    if (!httpc) {
        fprintf(stderr, "lucent explain: out of memory\n");
        goto done;
    }
    if (cfg.lua_script) {
        char lerr[512] = "";
        lc_lua_host_t host = {.ctx = httpc, .publish = host_publish, .httpc = host_httpc};
        vm = lc_lua_new(&cfg, &host, lerr, sizeof(lerr));
        if (!vm) {
            fprintf(stderr, "lucent explain: lua: %s\n", lerr);
            goto done;
        }
    }
    if (lc_explain_start(&cfg, vm, httpc, &args, on_explained, &e, &run, err, sizeof(err)) != 0) {
        fprintf(stderr, "lucent explain: %s\n", err);
        if (strncmp(err, "command:", 8) == 0)
            usage_explain();
        goto done;
    }
    while (!e.done && uv_run(&loop, UV_RUN_ONCE))
        ;
    if (!e.done) {
        lc_explain_cancel(run);
        fprintf(stderr, "lucent explain: the pipeline did not answer\n");
        goto done;
    }
    rc = e.rc;
done:
    lc_lua_free(vm);
    if (httpc) {
        lc_httpc_close(httpc, httpc_closed, NULL);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(&loop);
    lc_config_free(&cfg);
    return rc;
}
