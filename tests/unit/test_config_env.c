/* Environment overrides: variable names to key paths (keys with underscores), values of every
 * kind, empty = unset, precedence (LUCENT_ over CENTRIFUGO_, environment over file over
 * defaults), errors naming the variable, unknown names warned about, loading over a loaded
 * config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "util/err.h"

static char err[512];

/* Defaults plus the variables of env (a NULL-terminated list). */
static int env_load(lc_config_t *c, char *const *env)
{
    lc_config_defaults(c);
    err[0] = '\0';
    return lc_config_apply_env(c, env, err, sizeof(err));
}

/* Expects LC_EINVAL with an error starting with want. */
static void expect_env_error(char *const *env, const char *want)
{
    lc_config_t c;
    int rc = env_load(&c, env);
    if (rc != LC_EINVAL || strncmp(err, want, strlen(want)) != 0)
        fail_msg("%s: rc %d, err \"%s\", wanted \"%s...\"", env[0], rc, err, want);
    lc_config_free(&c);
}

/* A config file in a fresh temporary folder; the caller unlinks path and rmdirs dir. */
static void write_file(char *dir, char *path, size_t cap, const char *text)
{
    assert_non_null(mkdtemp(dir));
    snprintf(path, cap, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* stderr into a temporary file while fn runs; returns what was written (caller frees). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char tmpl[] = "/tmp/lucent-env-log-XXXXXX";
    int fd = mkstemp(tmpl);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    fn(arg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(pread(fd, out, (size_t)n, 0), n);
    close(fd);
    unlink(tmpl);
    return out;
}

static void test_config_env_keys_with_underscores_map_to_their_paths(void **state)
{
    char *env[] = {"CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=s3cret",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_SUBSCRIBE_FOR_CLIENT=true",
                   "CENTRIFUGO_CLIENT_SUBSCRIBE_TO_USER_PERSONAL_CHANNEL_ENABLED=true",
                   "CENTRIFUGO_HTTP_SERVER_PORT=9000",
                   "CENTRIFUGO_HTTP_API_KEY=api-key",
                   "CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_ENDPOINT=http://127.0.0.1:1/sub",
                   "CENTRIFUGO_CLIENT_SUBSCRIPTION_TOKEN_HMAC_SECRET_KEY=sub-key",
                   "PATH=/usr/bin",
                   "HOME=/root",
                   NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_string_equal(c.token_hmac_secret_key, "s3cret");
    assert_true(c.without_namespace.allow_subscribe_for_client);
    assert_true(c.personal_channel_enabled);
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.http_api_key, "api-key");
    assert_string_equal(c.channel_proxy_subscribe.endpoint, "http://127.0.0.1:1/sub");
    assert_string_equal(c.sub_token_hmac_secret_key, "sub-key");
    assert_false(c.sub_token_enabled);
    lc_config_free(&c);
}

struct names {
    char **v;
    size_t n;
};

static void collect_name(const char *path, const struct lc__key *k, void *arg)
{
    struct names *n = arg;
    char name[LC__ENV_PATH_MAX];
    size_t i = 0;
    for (; path[i] && i + 1 < sizeof(name); i++)
        name[i] = path[i] == '.'
                      ? '_'
                      : (char)(path[i] >= 'a' && path[i] <= 'z' ? path[i] - 32 : path[i]);
    name[i] = '\0';
    n->v = realloc(n->v, (n->n + 1) * sizeof(*n->v));
    assert_non_null(n->v);
    n->v[n->n++] = strdup(name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Two key paths with one variable name would make one of them unreachable. */
static void test_config_env_every_key_path_has_a_distinct_variable_name(void **state)
{
    struct names n = {0};
    lc__config_env_paths(collect_name, &n);
    assert_true(n.n > 300);
    qsort(n.v, n.n, sizeof(*n.v), cmp_str);
    for (size_t i = 1; i < n.n; i++) {
        if (strcmp(n.v[i - 1], n.v[i]) == 0)
            fail_msg("two key paths share the variable name %s", n.v[i]);
    }
    bool found = false;
    for (size_t i = 0; i < n.n; i++) {
        found = found || strcmp(n.v[i], "CHANNEL_WITHOUT_NAMESPACE_HISTORY_TTL") == 0;
        free(n.v[i]);
    }
    free(n.v);
    assert_true(found);
}

static void test_config_env_bool_forms_follow_go_parsebool(void **state)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    char var[128];
    char *env[] = {var, NULL};
    lc_config_t c;
    for (size_t i = 0; i < 6; i++) {
        snprintf(var, sizeof(var), "CENTRIFUGO_CLIENT_INSECURE=%s", yes[i]);
        assert_int_equal(env_load(&c, env), 0);
        assert_true(c.client_insecure);
        lc_config_free(&c);
        /* false over a true value */
        snprintf(var, sizeof(var), "CENTRIFUGO_HEALTH_ENABLED=%s", no[i]);
        lc_config_defaults(&c);
        c.health_enabled = true;
        assert_int_equal(lc_config_apply_env(&c, env, err, sizeof(err)), 0);
        assert_false(c.health_enabled);
        lc_config_free(&c);
    }
    static const char *const bad[] = {"yes", "on", "2", "tRuE", " true"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(var, sizeof(var), "CENTRIFUGO_CLIENT_INSECURE=%s", bad[i]);
        expect_env_error(env, "CENTRIFUGO_CLIENT_INSECURE: expected a boolean (1, t, T, TRUE");
    }
}

static void test_config_env_integers_are_range_checked_with_the_variable_name(void **state)
{
    char *ok[] = {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT=7",
                  "CENTRIFUGO_CLIENT_QUEUE_MAX_SIZE=5000000000", "CENTRIFUGO_WORKERS=3", NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, ok), 0);
    assert_int_equal(c.channel_limit, 7);
    assert_int_equal(c.queue_max_size, 5000000000LL);
    assert_int_equal(c.workers, 3);
    lc_config_free(&c);

    char *big[] = {"CENTRIFUGO_HTTP_SERVER_PORT=65536", NULL};
    expect_env_error(big, "CENTRIFUGO_HTTP_SERVER_PORT: expected an integer from 0 to 65535");
    char *word[] = {"CENTRIFUGO_HTTP_SERVER_PORT=eighty", NULL};
    expect_env_error(word, "CENTRIFUGO_HTTP_SERVER_PORT: expected an integer from 0 to 65535");
    char *frac[] = {"CENTRIFUGO_HTTP_SERVER_PORT=80.5", NULL};
    expect_env_error(frac, "CENTRIFUGO_HTTP_SERVER_PORT: expected an integer from 0 to 65535");
    char *neg[] = {"CENTRIFUGO_CLIENT_CHANNEL_LIMIT=-1", NULL};
    expect_env_error(neg, "CENTRIFUGO_CLIENT_CHANNEL_LIMIT: expected an integer from 0 to");
}

static void test_config_env_durations_strings_and_enums(void **state)
{
    char *env[] = {"CENTRIFUGO_CLIENT_PING_INTERVAL=30s",
                   "CENTRIFUGO_CLIENT_PONG_TIMEOUT=-1s",
                   "CENTRIFUGO_CHANNEL_HISTORY_META_TTL=2h",
                   "CENTRIFUGO_LOG_LEVEL=debug",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_RECOVERY_MODE=cache",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_CHANNEL_REGEX=^[a-z]+$",
                   "CENTRIFUGO_HTTP_SERVER_ADDRESS=127.0.0.1",
                   "CENTRIFUGO_HTTP_SERVER_INTERNAL_PORT=9001",
                   NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_int_equal(c.ping_interval_ms, 30000);
    assert_int_equal(c.pong_timeout_ms, -1);
    assert_int_equal(c.history_meta_ttl_ms, 2 * 3600 * 1000);
    assert_int_equal(c.log_level, 1); /* LC_LOG_DEBUG */
    assert_int_equal(c.without_namespace.force_recovery_mode, LC_RECOVERY_MODE_CACHE);
    assert_true(lc_config_channel_regex_ok(&c.without_namespace, "abc"));
    assert_false(lc_config_channel_regex_ok(&c.without_namespace, "ABC"));
    assert_string_equal(c.address, "127.0.0.1");
    lc_config_free(&c);

    char *dur[] = {"CENTRIFUGO_CLIENT_PING_INTERVAL=30", NULL};
    expect_env_error(dur, "CENTRIFUGO_CLIENT_PING_INTERVAL: expected a duration string");
    char *lvl[] = {"CENTRIFUGO_LOG_LEVEL=loud", NULL};
    expect_env_error(lvl, "CENTRIFUGO_LOG_LEVEL: expected one of trace");
    char *en[] = {"CENTRIFUGO_ENGINE_TYPE=nats", NULL};
    expect_env_error(en, "CENTRIFUGO_ENGINE_TYPE: expected one of memory, redis");
}

static void test_config_env_string_arrays_are_space_separated(void **state)
{
    char *env[] = {"CENTRIFUGO_CLIENT_ALLOWED_ORIGINS=https://a  https://b\thttps://c ",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOWED_DELTA_TYPES=fossil",
                   "CENTRIFUGO_CLIENT_PROXY_CONNECT_HTTP_HEADERS=Cookie Authorization", NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_int_equal(c.n_allowed_origins, 3);
    assert_string_equal(c.allowed_origins[0], "https://a");
    assert_string_equal(c.allowed_origins[1], "https://b");
    assert_string_equal(c.allowed_origins[2], "https://c");
    assert_int_equal(c.without_namespace.allowed_delta_types, LC_DELTA_FOSSIL);
    assert_int_equal(c.connect_proxy.n_http_headers, 2);
    assert_string_equal(c.connect_proxy.http_headers[1], "Authorization");
    lc_config_free(&c);
}

static void test_config_env_arrays_of_objects_and_maps_are_json(void **state)
{
    char *env[] = {
        "CENTRIFUGO_CHANNEL_NAMESPACES=[{\"name\":\"ns1\",\"presence\":true},{\"name\":\"ns2\"}]",
        "CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_HTTP_STATIC_HEADERS={\"X-Env\":\"1\"}",
        "CENTRIFUGO_PROXIES=[{\"name\":\"p1\",\"endpoint\":\"http://127.0.0.1:2/x\"}]",
        "CENTRIFUGO_CLIENT_SUBSCRIBE_TO_USER_PERSONAL_CHANNEL_PERSONAL_CHANNEL_NAMESPACE=ns2",
        NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_int_equal(c.n_namespaces, 2);
    assert_string_equal(c.namespaces[0].name, "ns1");
    assert_true(c.namespaces[0].presence);
    assert_int_equal(c.channel_proxy_subscribe.n_static_headers, 1);
    assert_string_equal(c.channel_proxy_subscribe.static_header_names[0], "X-Env");
    assert_int_equal(c.n_proxies, 1);
    assert_string_equal(c.personal_channel_namespace, "ns2");
    lc_config_free(&c);

    char *bad[] = {"CENTRIFUGO_CHANNEL_NAMESPACES=ns1 ns2", NULL};
    expect_env_error(bad, "CENTRIFUGO_CHANNEL_NAMESPACES: expected a JSON array");
    char *obj[] = {"CENTRIFUGO_CHANNEL_NAMESPACES={\"name\":\"ns1\"}", NULL};
    expect_env_error(obj, "CENTRIFUGO_CHANNEL_NAMESPACES: expected a JSON array");
    char *inner[] = {"CENTRIFUGO_CHANNEL_NAMESPACES=[{\"name\":\"ns1\",\"presence\":\"yes\"}]",
                     NULL};
    expect_env_error(inner, "CENTRIFUGO_CHANNEL_NAMESPACES: channel.namespaces[0].presence: "
                            "expected true or false");
    char *map[] = {"CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_HTTP_STATIC_HEADERS=[1]", NULL};
    expect_env_error(map, "CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_HTTP_STATIC_HEADERS: expected a "
                          "JSON object");
}

static void test_config_env_empty_value_is_unset(void **state)
{
    char *env[] = {"CENTRIFUGO_HTTP_SERVER_PORT=", "LUCENT_HTTP_API_KEY=",
                   "CENTRIFUGO_HTTP_API_KEY=from-cf", "CENTRIFUGO_CLIENT_INSECURE=", NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_int_equal(c.port, 8000);
    assert_string_equal(c.http_api_key, "from-cf");
    assert_false(c.client_insecure);
    lc_config_free(&c);
}

static void test_config_env_lucent_prefix_wins_over_centrifugo(void **state)
{
    char *env[] = {"LUCENT_HTTP_SERVER_PORT=9100",    "CENTRIFUGO_HTTP_SERVER_PORT=9000",
                   "CENTRIFUGO_HTTP_API_KEY=cf",      "LUCENT_HTTP_API_KEY=lc",
                   "LUCENT_UNRELATED_TOOL_SETTING=x", NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    assert_int_equal(c.port, 9100);
    assert_string_equal(c.http_api_key, "lc");
    lc_config_free(&c);
}

/* The loader applied twice into one config: only the keys of the second document change. */
static void test_config_env_over_a_loaded_config_keeps_other_keys(void **state)
{
    const char *json = "{\"http_server\":{\"port\":8100,\"address\":\"10.0.0.1\"},"
                       "\"http_api\":{\"key\":\"file-key\"},"
                       "\"client\":{\"allowed_origins\":[\"https://file\"]},"
                       "\"channel\":{\"without_namespace\":{\"presence\":true},"
                       "\"namespaces\":[{\"name\":\"chat\",\"join_leave\":true}]}}";
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_string(&c, json, strlen(json), err, sizeof(err)), 0);
    char *env[] = {"CENTRIFUGO_HTTP_SERVER_PORT=9000",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_SIZE=10",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_TTL=60s", NULL};
    assert_int_equal(lc_config_apply_env(&c, env, err, sizeof(err)), 0);
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.address, "10.0.0.1");
    assert_string_equal(c.http_api_key, "file-key");
    assert_int_equal(c.n_allowed_origins, 1);
    assert_true(c.without_namespace.presence);
    assert_int_equal(c.without_namespace.history_size, 10);
    assert_int_equal(c.without_namespace.history_ttl_ms, 60000);
    assert_int_equal(c.n_namespaces, 1);
    assert_true(c.namespaces[0].join_leave);

    /* no variables: nothing changes */
    char *none[] = {"HOME=/root", NULL};
    assert_int_equal(lc_config_apply_env(&c, none, err, sizeof(err)), 0);
    assert_int_equal(c.port, 9000);
    assert_int_equal(lc_config_apply_env(&c, NULL, err, sizeof(err)), 0);
    lc_config_free(&c);
}

static void test_config_env_wins_over_the_file_which_wins_over_defaults(void **state)
{
    char dir[] = "/tmp/lucent-env-XXXXXX", path[256];
    write_file(dir, path, sizeof(path),
               "{\"http_server\": {\"port\": 8100}, \"http_api\": {\"key\": \"file-key\"},\n"
               " \"token_hmac_secret_key\": \"legacy-file\",\n"
               " \"client\": {\"channel_limit\": 5}}");
    char *env[] = {"CENTRIFUGO_HTTP_SERVER_PORT=9000",
                   "CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=env-secret", NULL};
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file_env(&c, path, env, err, sizeof(err)), 0);
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.http_api_key, "file-key");
    /* a v6 variable wins over the file's flat key */
    assert_string_equal(c.token_hmac_secret_key, "env-secret");
    assert_int_equal(c.channel_limit, 5);
    assert_int_equal(c.queue_max_size, 1048576);
    lc_config_free(&c);

    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file_env(&c, path, NULL, err, sizeof(err)), 0);
    assert_int_equal(c.port, 8100);
    lc_config_free(&c);
    unlink(path);
    rmdir(dir);
}

/* File and environment are one document: validation and proxy references see both. */
static void test_config_env_file_and_env_are_validated_together(void **state)
{
    char dir[] = "/tmp/lucent-env-XXXXXX", path[256];
    write_file(dir, path, sizeof(path),
               "{\"client\": {\"ping_interval\": \"5s\"},\n"
               " \"channel\": {\"without_namespace\": {\"subscribe_proxy_enabled\": true}}}");
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file(&c, path, err, sizeof(err)), LC_EINVAL);
    lc_config_free(&c);

    char *env[] = {"CENTRIFUGO_CLIENT_PONG_TIMEOUT=2s",
                   "CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_ENDPOINT=http://127.0.0.1:1/sub", NULL};
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file_env(&c, path, env, err, sizeof(err)), 0);
    assert_int_equal(c.ping_interval_ms, 5000);
    assert_int_equal(c.pong_timeout_ms, 2000);
    assert_ptr_equal(c.without_namespace.subscribe_proxy, &c.channel_proxy_subscribe);
    lc_config_free(&c);

    /* an error about a key the file set keeps the key path */
    char *late[] = {"CENTRIFUGO_CHANNEL_PROXY_SUBSCRIBE_ENDPOINT=http://127.0.0.1:1/sub", NULL};
    lc_config_defaults(&c);
    assert_int_equal(lc_config_load_file_env(&c, path, late, err, sizeof(err)), LC_EINVAL);
    assert_string_equal(err, "client.ping_interval: must be greater than client.pong_timeout");
    lc_config_free(&c);
    unlink(path);
    rmdir(dir);
}

/* The CI setup of the Laravel broadcaster's test suite, environment only. */
static void test_config_env_laravel_ci_set_loads(void **state)
{
    char *env[] = {"CENTRIFUGO_CLIENT_TOKEN_HMAC_SECRET_KEY=secret",
                   "CENTRIFUGO_HTTP_API_KEY=api-key",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_PRESENCE=1",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_JOIN_LEAVE=true",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_PUSH_JOIN_LEAVE=true",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_SIZE=100",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_HISTORY_TTL=300s",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_FORCE_RECOVERY=true",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PUBLISH_FOR_SUBSCRIBER=true",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_PRESENCE_FOR_SUBSCRIBER=true",
                   "CENTRIFUGO_CHANNEL_WITHOUT_NAMESPACE_ALLOW_HISTORY_FOR_SUBSCRIBER=true",
                   "CENTRIFUGO_CLIENT_SUBSCRIBE_TO_USER_PERSONAL_CHANNEL_ENABLED=true",
                   NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    const lc_ns_opts_t *o = &c.without_namespace;
    assert_true(o->presence && o->join_leave && o->force_push_join_leave && o->force_recovery);
    assert_int_equal(o->history_size, 100);
    assert_int_equal(o->history_ttl_ms, 300000);
    assert_true(o->allow_publish_for_subscriber && o->allow_presence_for_subscriber &&
                o->allow_history_for_subscriber);
    assert_true(c.personal_channel_enabled);
    assert_string_equal(c.token_hmac_secret_key, "secret");
    assert_string_equal(c.http_api_key, "api-key");
    lc_config_free(&c);
}

static void apply_unknown(void *arg)
{
    lc_config_t *c = arg;
    char *env[] = {"CENTRIFUGO_FOO=1",
                   "CENTRIFUGO_HTTP_SERVER_PORTT=1",
                   "CENTRIFUGO_VAR_DB_PASSWORD=x",
                   "LUCENT_BIN=/x/lucent",
                   "CENTRIFUGO_API_KEY=old-key",
                   "CENTRIFUGO_PROXY_CONNECT_ENDPOINT=http://x/",
                   NULL};
    lc_config_defaults(c);
    assert_int_equal(lc_config_apply_env(c, env, err, sizeof(err)), 0);
}

static void test_config_env_unknown_names_are_warned_about(void **state)
{
    lc_config_t c;
    char *log = capture_stderr(apply_unknown, &c);
    assert_non_null(strstr(log, "unknown environment variable CENTRIFUGO_FOO (ignored)"));
    assert_non_null(strstr(log, "unknown environment variable CENTRIFUGO_HTTP_SERVER_PORTT"));
    assert_null(strstr(log, "CENTRIFUGO_VAR_DB_PASSWORD"));
    assert_null(strstr(log, "LUCENT_BIN"));
    /* a pre-v6 name is mapped with a warning, or ignored with the v6 name to use */
    assert_non_null(
        strstr(log, "CENTRIFUGO_API_KEY is a pre-v6 name, use CENTRIFUGO_HTTP_API_KEY"));
    assert_non_null(strstr(log, "CENTRIFUGO_PROXY_CONNECT_ENDPOINT is a pre-v6 name, not applied"));
    assert_string_equal(c.http_api_key, "old-key");
    assert_string_equal(c.connect_proxy.endpoint, "");
    assert_int_equal(c.port, 8000);
    free(log);
    lc_config_free(&c);

    /* the v6 name wins over the pre-v6 one whatever the order */
    char *both[] = {"CENTRIFUGO_HTTP_API_KEY=new", "CENTRIFUGO_API_KEY=old", NULL};
    assert_int_equal(env_load(&c, both), 0);
    assert_string_equal(c.http_api_key, "new");
    lc_config_free(&c);
}

static void test_config_env_lua_paths_are_relative_to_the_working_directory(void **state)
{
    char cwd[1024], want[1100];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char *env[] = {"LUCENT_LUA_SCRIPT=hooks.lua", "LUCENT_LUA_PATH=/abs lib", NULL};
    lc_config_t c;
    assert_int_equal(env_load(&c, env), 0);
    snprintf(want, sizeof(want), "%s/hooks.lua", cwd);
    assert_string_equal(c.lua_script, want);
    assert_int_equal(c.n_lua_path, 2);
    assert_string_equal(c.lua_path[0], "/abs");
    snprintf(want, sizeof(want), "%s/lib", cwd);
    assert_string_equal(c.lua_path[1], want);
    lc_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_env_keys_with_underscores_map_to_their_paths),
        cmocka_unit_test(test_config_env_every_key_path_has_a_distinct_variable_name),
        cmocka_unit_test(test_config_env_bool_forms_follow_go_parsebool),
        cmocka_unit_test(test_config_env_integers_are_range_checked_with_the_variable_name),
        cmocka_unit_test(test_config_env_durations_strings_and_enums),
        cmocka_unit_test(test_config_env_string_arrays_are_space_separated),
        cmocka_unit_test(test_config_env_arrays_of_objects_and_maps_are_json),
        cmocka_unit_test(test_config_env_empty_value_is_unset),
        cmocka_unit_test(test_config_env_lucent_prefix_wins_over_centrifugo),
        cmocka_unit_test(test_config_env_over_a_loaded_config_keeps_other_keys),
        cmocka_unit_test(test_config_env_wins_over_the_file_which_wins_over_defaults),
        cmocka_unit_test(test_config_env_file_and_env_are_validated_together),
        cmocka_unit_test(test_config_env_laravel_ci_set_loads),
        cmocka_unit_test(test_config_env_unknown_names_are_warned_about),
        cmocka_unit_test(test_config_env_lua_paths_are_relative_to_the_working_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
