/* lucent: the command line. Serving is the default; helper commands generate a config or a
 * connection token, check a config, and print the version. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "cli.h"
#include "auth/jwt.h"
#include "config/config.h"
#include "core/node.h"
#include "engine/memory.h"
#include "engine/redis.h"
#include "hooks/script.h"
#include "transport/http.h"
#include "transport/sse.h"
#include "transport/uni.h"
#include "transport/pusher_ws.h"
#include "transport/ws.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/metrics.h"

extern char **environ;

static void usage(FILE *f)
{
    fprintf(
        f,
        "lucent %s — real-time messaging server (Centrifugo v6 compatible)\n"
        "\n"
        "Usage:\n"
        "  lucent                          serve a development config on 127.0.0.1:8000\n"
        "  lucent -c FILE | --config FILE  serve with a JSON config (Centrifugo v6 keys)\n"
        "  lucent genconfig [FILE]         write a config with fresh random secrets\n"
        "  lucent checkconfig -c FILE [--strict] [--print [--show-secrets]]\n"
        "                                  load and validate a config, then exit;\n"
        "                                  --strict: also fail on unknown keys and on\n"
        "                                  placeholder or short secrets (< 32 bytes);\n"
        "                                  --print: the effective config, secrets masked\n"
        "  lucent gentoken -c FILE -u USER [--ttl SECONDS]\n"
        "                                  print a connection JWT signed with the\n"
        "                                  config's client.token.hmac_secret_key\n"
        "                                  (--secret KEY instead of -c; default ttl 7 days)\n"
        "  lucent gensubtoken -c FILE -u USER -s CHANNEL [--ttl SECONDS]\n"
        "                                  print a subscription JWT for CHANNEL (key:\n"
        "                                  client.subscription_token.hmac_secret_key when\n"
        "                                  enabled, else client.token.hmac_secret_key)\n"
        "  lucent explain -c FILE [--user USER] [--claims JSON] [--no-proxy] [--at-expiry]\n"
        "                 connect | refresh | subscribe CHANNEL | sub_refresh CHANNEL | publish\n"
        "                 CHANNEL DATA | rpc METHOD [DATA]\n"
        "                                  run the permission checks once, offline, and\n"
        "                                  print each step and the client's answer\n"
        "                                  (exit 0 allowed, 1 refused, 2 error)\n"
        "  lucent routes -c FILE           list the lucent.rules routes and the channels\n"
        "                                  rules in match order\n"
        "  lucent version                  print the version\n"
        "  lucent --help                   this help\n"
        "\n"
        "Environment: CENTRIFUGO_<KEY_PATH> (or LUCENT_<KEY_PATH>, which wins) overrides a\n"
        "config key, e.g. CENTRIFUGO_HTTP_SERVER_PORT=9000, CENTRIFUGO_HTTP_API_KEY=...,\n"
        "CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=\"https://a https://b\".\n",
        LUCENT_VERSION);
}

/* Matches "-c FILE", "--config FILE" and "--config=FILE"; advances *i past the value. */
static const char *config_arg(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strncmp(a, "--config=", 9) == 0)
        return a + 9;
    if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
        /* argv[argc] is NULL: the second test only tells the analyzer so */
        if (*i + 1 >= argc || argv[*i + 1] == NULL) {
            fprintf(stderr, "lucent: %s needs a file name\n", a);
            exit(2); // NOLINT(concurrency-mt-unsafe): command-line parsing, before any thread
        }
        return argv[++*i];
    }
    return NULL;
}

const char *lc_cli_config_arg(int argc, char **argv, int *i)
{
    return config_arg(argc, argv, i);
}

/* Public keys and the JWKS address are checked when the config loads, so a key that cannot be
 * read stops start-up naming it rather than turning every token away. */
static int check_token_keys(const lc_config_t *cfg, char *err, size_t errlen)
{
    const struct {
        const char *name;
        const lc_token_conf_t *t;
    } kinds[] = {{"client.token", &cfg->token}, {"client.subscription_token", &cfg->sub_token}};

    for (size_t i = 0; i < 2; i++) {
        const lc_token_conf_t *t = kinds[i].t;
        char why[160];
        if (t->rsa_public_key && t->rsa_public_key[0] &&
            lc_jwt_check_public_key(t->rsa_public_key, false, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s.rsa_public_key: %s", kinds[i].name, why);
            return -1;
        }
        if (t->ecdsa_public_key && t->ecdsa_public_key[0] &&
            lc_jwt_check_public_key(t->ecdsa_public_key, true, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s.ecdsa_public_key: %s", kinds[i].name, why);
            return -1;
        }
        if (t->jwks_public_endpoint && t->jwks_public_endpoint[0] &&
            strncmp(t->jwks_public_endpoint, "http://", 7) != 0 &&
            strncmp(t->jwks_public_endpoint, "https://", 8) != 0) {
            snprintf(err, errlen, "%s.jwks_public_endpoint: not an http:// or https:// URL",
                     kinds[i].name);
            return -1;
        }
    }
    return 0;
}

/* The config file (path NULL: the defaults) with the environment's CENTRIFUGO_ / LUCENT_
 * variables over it. */
static int load_config(lc_config_t *cfg, const char *path)
{
    char err[512] = "";
    int rc;
    lc_config_defaults(cfg);
    if (path)
        rc = lc_config_load_file_env(cfg, path, environ, err, sizeof(err));
    else
        rc = lc_config_apply_env(cfg, environ, err, sizeof(err));
    if (rc == 0)
        rc = check_token_keys(cfg, err, sizeof(err));
    if (rc != 0) {
        if (path)
            fprintf(stderr, "lucent: config %s: %s\n", path, err);
        else
            fprintf(stderr, "lucent: config: %s\n", err);
        lc_config_free(cfg);
        return -1;
    }
    return 0;
}

int lc_cli_load_config(lc_config_t *cfg, const char *path)
{
    return load_config(cfg, path);
}

static int cmd_genconfig(int argc, char **argv)
{
    const char *path = argc > 2 ? argv[2] : "config.json";
    char err[512] = "";
    if (lc_config_generate(path, err, sizeof(err)) != 0) {
        fprintf(stderr, "lucent genconfig: %s\n", err);
        return 1;
    }
    if (strcmp(path, "-") != 0)
        fprintf(stderr, "lucent: wrote %s\n", path);
    return 0;
}

static int cmd_checkconfig(int argc, char **argv)
{
    const char *path = NULL;
    bool strict = false, print = false, show_secrets = false;
    for (int i = 2; i < argc; i++) {
        const char *c = config_arg(argc, argv, &i);
        if (c)
            path = c;
        else if (strcmp(argv[i], "--strict") == 0)
            strict = true;
        else if (strcmp(argv[i], "--print") == 0)
            print = true;
        else if (strcmp(argv[i], "--show-secrets") == 0)
            print = show_secrets = true;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "lucent checkconfig: unknown option %s\n", argv[i]);
            return 2;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "lucent checkconfig: -c FILE required\n");
        return 2;
    }
    lc_config_t cfg;
    if (load_config(&cfg, path) != 0)
        return 1;
    /* A Lua script that does not load fails the check as it would fail start-up. */
    if (cfg.lua_script) {
        char err[512] = "";
        lc_lua_host_t host = {0};
        lc_lua_t *vm = lc_lua_new(&cfg, &host, err, sizeof(err));
        if (!vm) {
            fprintf(stderr, "lucent: lua: %s\n", err);
            lc_config_free(&cfg);
            return 1;
        }
        lc_lua_free(vm);
    }
    int rc = 0;
    if (strict) {
        char msg[1024];
        int bad = lc_config_lint_secrets(&cfg, msg, sizeof(msg));
        if (bad)
            fprintf(stderr, "%s", msg);
        if (cfg.ops.unknown_keys)
            fprintf(stderr, "%u unknown key%s (see the warnings above)\n", cfg.ops.unknown_keys,
                    cfg.ops.unknown_keys == 1 ? "" : "s");
        rc = bad || cfg.ops.unknown_keys ? 1 : 0;
    }
    if (print) {
        char *text = lc_config_effective_json(&cfg, show_secrets);
        if (text)
            printf("%s\n", text);
        free(text);
    }
    lc_config_free(&cfg);
    if (rc)
        fprintf(stderr, "%s: failed the strict check\n", path);
    else
        fprintf(print ? stderr : stdout, "%s: ok\n", path);
    return rc;
}

/* gentoken and gensubtoken: the key comes from --secret, or from the config (-c FILE, or the
 * environment alone when neither is given). */
static int cmd_token(int argc, char **argv, bool sub)
{
    const char *cmd = sub ? "gensubtoken" : "gentoken";
    const char *path = NULL, *user = NULL, *secret = NULL, *channel = NULL;
    long long ttl = 7LL * 24 * 3600;
    for (int i = 2; i < argc; i++) {
        const char *c = config_arg(argc, argv, &i);
        if (c) {
            path = c;
        } else if ((strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "--user") == 0) && i + 1 < argc) {
            user = argv[++i];
        } else if (sub && (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--channel") == 0) &&
                   i + 1 < argc) {
            channel = argv[++i];
        } else if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc) {
            secret = argv[++i];
        } else if ((strcmp(argv[i], "--ttl") == 0 || strcmp(argv[i], "-t") == 0) && i + 1 < argc) {
            char *end;
            errno = 0;
            ttl = strtoll(argv[++i], &end, 10);
            if (errno || *end || ttl < 0) {
                fprintf(stderr, "lucent %s: --ttl expects a number of seconds\n", cmd);
                return 2;
            }
        } else {
            fprintf(stderr, "lucent %s: unexpected argument %s\n", cmd, argv[i]);
            return 2;
        }
    }
    if (!user || (sub && (!channel || !*channel))) {
        fprintf(stderr, "usage: lucent %s -c FILE -u USER%s [--ttl SECONDS]\n", cmd,
                sub ? " -s CHANNEL" : "");
        return 2;
    }
    lc_config_t cfg;
    bool have_cfg = false;
    if (!secret) {
        if (load_config(&cfg, path) != 0)
            return 1;
        have_cfg = true;
        secret = sub ? lc_config_sub_token_secret(&cfg) : cfg.token_hmac_secret_key;
        if (!secret || !*secret) {
            const char *key = sub && cfg.sub_token_enabled
                                  ? "client.subscription_token.hmac_secret_key"
                                  : "client.token.hmac_secret_key";
            fprintf(stderr,
                    "lucent %s: no %s (give -c FILE, --secret KEY or set it in the environment)\n",
                    cmd, key);
            lc_config_free(&cfg);
            return 1;
        }
    }
    char *tok = sub ? lc_jwt_make_subscribe_token(secret, user, channel, lc_now_s(), ttl)
                    : lc_jwt_make_connect_token(secret, user, lc_now_s(), ttl);
    if (have_cfg)
        lc_config_free(&cfg);
    if (!tok) {
        fprintf(stderr, "lucent %s: cannot sign the token\n", cmd);
        return 1;
    }
    printf("%s\n", tok);
    free(tok);
    return 0;
}

/* log.file: stderr becomes the file (appended), so every line goes there. */
static int log_to_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
        // NOLINTBEGIN(concurrency-mt-unsafe)
        fprintf(stderr, "lucent: log.file %s: %s\n", path, strerror(errno));
        // NOLINTEND(concurrency-mt-unsafe)
        return -1;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    return 0;
}

static void print_dev_banner(const lc_config_t *cfg)
{
    char *tok = lc_jwt_make_connect_token(cfg->token_hmac_secret_key, "1", lc_now_s(), 86400);
    const char *host = cfg->address && *cfg->address ? cfg->address : "127.0.0.1";
    fprintf(stderr,
            "\n"
            "  WARNING: development mode. The secret and API key below are random (unless set\n"
            "  through CENTRIFUGO_ variables) and live only as long as this process;\n"
            "  allowed_origins is \"*\". Use `lucent genconfig` and `lucent -c config.json` for\n"
            "  anything else.\n"
            "\n"
            "  client.token.hmac_secret_key: %s\n"
            "  http_api.key:                 %s\n"
            "\n"
            "  A connection token for user \"1\" (24 h):\n"
            "    %s\n"
            "  More tokens: lucent gentoken --secret %s -u USER\n"
            "\n"
            "  Connect:  ws://%s:%d%s\n"
            "  Publish:  curl -X POST -H 'X-API-Key: %s' \\\n"
            "              -d '{\"channel\":\"news\",\"data\":{\"text\":\"hi\"}}' \\\n"
            "              http://%s:%d%s/publish\n"
            "\n",
            cfg->token_hmac_secret_key, cfg->http_api_key, tok ? tok : "(unavailable)",
            cfg->token_hmac_secret_key, host, cfg->port, cfg->websocket_prefix, cfg->http_api_key,
            host, cfg->port, cfg->http_api_prefix);
    free(tok);
}

static int serve(lc_config_t *cfg, bool dev)
{
    int rc = 1;
    lc_node_t *node = NULL;
    lc_router_t *router = NULL;
    lc_engine_t *engine =
        cfg->engine_type == LC_ENGINE_REDIS ? lc_engine_redis_new(cfg) : lc_engine_memory_new(cfg);
    if (!engine)
        goto done;
    if (cfg->engine_type == LC_ENGINE_REDIS && cfg->map_broker_type == LC_MAP_BROKER_UNSET)
        lc_log_info("map channels live in the engine's Redis (map_broker unset: the Redis map "
                    "broker)");
    lc_metrics_set_engine(engine->vt->name, cfg->engine_type != LC_ENGINE_REDIS);
    node = lc_node_new(cfg, engine); /* takes the engine, also when it fails */
    if (!node)
        goto done;
    router = lc_router_new();
    if (!router || lc_ws_register(router, cfg) != 0 || lc_pusher_ws_register(router, cfg) != 0 ||
        lc_sse_register(router, cfg) != 0 || lc_uni_register(router, cfg) != 0 ||
        lc_api_register(router, node) != 0) {
        lc_log_error("cannot set up HTTP routes: out of memory");
        goto done;
    }
    for (int i = 0; i < lc_node_num_workers(node); i++)
        if (lc_http_listen(lc_node_worker(node, i), router) != 0)
            goto done;
    if (dev)
        print_dev_banner(cfg);
    lc_log_info("lucent %s listening on %s:%d (%d workers, %s engine)", LUCENT_VERSION,
                cfg->address && *cfg->address ? cfg->address : "*", cfg->port,
                lc_node_num_workers(node), engine->vt->name);
    rc = lc_node_run(node) == 0 ? 0 : 1;
    lc_log_info("stopped");
done:
    if (rc != 0 && node) {
        /* Listeners that did start are closed by the workers' stop hooks. */
        lc_node_stop(node);
        lc_node_run(node);
    }
    lc_node_free(node);
    lc_router_free(router);
    return rc;
}

int main(int argc, char **argv)
{
    lc_config_refuse_unsupported(true);
    if (argc > 1) {
        const char *cmd = argv[1];
        if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
            printf("lucent %s\n", LUCENT_VERSION);
            return 0;
        }
        if (strcmp(cmd, "genconfig") == 0)
            return cmd_genconfig(argc, argv);
        if (strcmp(cmd, "gentoken") == 0)
            return cmd_token(argc, argv, false);
        if (strcmp(cmd, "gensubtoken") == 0)
            return cmd_token(argc, argv, true);
        if (strcmp(cmd, "checkconfig") == 0)
            return cmd_checkconfig(argc, argv);
        if (strcmp(cmd, "explain") == 0)
            return lc_cli_explain(argc, argv);
        if (strcmp(cmd, "routes") == 0)
            return lc_cli_routes(argc, argv);
    }

    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "serve") == 0 && i == 1)
            continue;
        const char *c = config_arg(argc, argv, &i);
        if (!c) {
            fprintf(stderr, "lucent: unknown argument %s (see lucent --help)\n", argv[i]);
            return 2;
        }
        path = c;
    }

    lc_config_t cfg;
    bool dev = path == NULL;
    if (dev) {
        char err[512] = "";
        if (lc_config_dev(&cfg) != 0) {
            fprintf(stderr, "lucent: cannot build the development config\n");
            return 1;
        }
        if (lc_config_apply_env(&cfg, environ, err, sizeof(err)) != 0) {
            fprintf(stderr, "lucent: config: %s\n", err);
            lc_config_free(&cfg);
            return 1;
        }
    } else if (load_config(&cfg, path) != 0) {
        return 1;
    }
    lc_log_set_level(cfg.log_level);
    lc_log_set_json(cfg.ops.log_format == LC_LOG_FORMAT_JSON);
    if (cfg.ops.log_file[0] && log_to_file(cfg.ops.log_file) != 0) {
        lc_config_free(&cfg);
        return 1;
    }
    int rc = serve(&cfg, dev);
    lc_config_free(&cfg);
    return rc;
}
