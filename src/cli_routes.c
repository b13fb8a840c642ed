/* lucent routes: the channel permissions a config sets up, in the order they are tried — the
 * lucent.rules routes of its Lua script, then the declarative "channels" rules. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "hooks/script.h"
#include "util/log.h"

static void print_route(void *arg, const char *kind, const char *pattern, const char *where)
{
    (void)arg;
    printf("  %-12s %-32s %s\n", kind, pattern[0] ? pattern : "(every)", where);
}

int lc_cli_routes(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        const char *c = lc_cli_config_arg(argc, argv, &i);
        if (!c) {
            fprintf(stderr, "usage: lucent routes -c FILE\n");
            return 2;
        }
        path = c;
    }
    if (!path) {
        fprintf(stderr, "usage: lucent routes -c FILE\n");
        return 2;
    }
    lc_config_t cfg;
    if (lc_cli_load_config(&cfg, path) != 0)
        return 2;
    lc_log_set_level(LC_LOG_WARN);
    int rc = 0;
    if (cfg.lua_script) {
        char err[512] = "";
        lc_lua_host_t host = {0};
        lc_lua_t *vm = lc_lua_new(&cfg, &host, err, sizeof(err));
        if (!vm) {
            fprintf(stderr, "lucent routes: lua: %s\n", err);
            lc_config_free(&cfg);
            return 2;
        }
        printf("lua %s: lucent.rules routes (first match decides)\n", cfg.lua_script);
        printf("  %-12s %-32s %s\n", "KIND", "PATTERN", "HANDLER");
        if (lc_lua_routes(vm, print_route, NULL) == 0) {
            printf("  (none: the script does not use lucent.rules; its hooks:");
            static const char *const names[] = {"connect",     "refresh",    "subscribe",
                                                "sub_refresh", "publish",    "broadcast",
                                                "rpc",         "disconnect", "unsubscribe"};
            for (int k = 0; k < LC_HOOK_MAX; k++) {
                char where[256];
                if (lc_lua_hook_where(vm, (lc_hook_kind)k, where, sizeof(where)))
                    printf(" %s %s", names[k], where);
            }
            printf(")\n");
        }
        lc_lua_free(vm);
    } else {
        printf("lua: no script (lua.script)\n");
    }
    printf("channels rules (first match overlays its options)\n");
    char opts[1024];
    const char *name;
    size_t i = 0;
    for (; (name = lc_config_channel_rule(&cfg, i, opts, sizeof(opts))) != NULL; i++)
        printf("  %-3zu %-32s %s\n", i + 1, name, opts);
    if (i == 0)
        printf("  (none)\n");
    printf("namespaces: %s", cfg.n_namespaces ? "" : "(none)");
    for (size_t k = 0; k < cfg.n_namespaces; k++)
        printf("%s%s", k ? ", " : "", cfg.namespaces[k].name);
    printf("\n");
    lc_config_free(&cfg);
    return rc;
}
