/* pusher.apps: defaults, validation messages, environment variables, checkconfig --print and
 * --strict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/err.h"
#include "config_test_util.h"

/* Stricter than expect_error: the message must start with want (the key path comes first). */
static void expect_refused(const char *json, const char *want)
{
    lc_config_t c;
    int rc = load(&c, json);
    if (rc != LC_EINVAL || strncmp(err, want, strlen(want)) != 0)
        fail_msg("config %s: rc %d, err \"%s\", wanted \"%s...\"", json, rc, err, want);
    lc_config_free(&c);
}

#define APP(extra) "{\"id\": \"1\", \"key\": \"k1\", \"secret\": \"s1\"" extra "}"
/* A pusher section with the one app APP(extra): most refusals are about one key of one app. */
#define ONE_APP(extra) "{\"pusher\": {\"apps\": [" APP(extra) "]}}"

static void test_config_pusher_app_defaults_follow_the_spec(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"pusher\": {\"enabled\": true, \"apps\": [" APP("") "]}}"), 0);
    assert_true(c.pusher_enabled);
    assert_string_equal(c.pusher_prefix, "");
    assert_int_equal(c.n_pusher_apps, 1);
    const lc_pusher_app_t *a = &c.pusher_apps[0];
    assert_string_equal(a->id, "1");
    assert_string_equal(a->key, "k1");
    assert_string_equal(a->secret, "s1");
    assert_true(a->enabled);
    assert_int_equal(a->n_allowed_origins, 0);
    assert_int_equal(a->client_events, LC_PUSHER_CLIENT_EVENTS_MEMBERS);
    assert_string_equal(a->channel_prefix, "");
    assert_int_equal(a->activity_timeout_ms, 30000);
    assert_int_equal(a->max_connections, 0);
    assert_int_equal(a->max_presence_members, 100);
    assert_int_equal(a->max_user_info_size, 1024);
    assert_int_equal(a->max_user_id_length, 128);
    assert_int_equal(a->max_channel_name_length, 200);
    assert_int_equal(a->max_event_name_length, 200);
    assert_int_equal(a->max_event_data_size, 10240);
    assert_int_equal(a->max_batch_size, 10);
    assert_int_equal(a->max_channels_per_event, 100);
    assert_int_equal(a->max_client_events_per_second, 10);
    assert_int_equal(a->timestamp_window_ms, 600000);
    assert_ptr_equal(lc_config_pusher_app_by_id(&c, "1", 1), a);
    assert_ptr_equal(lc_config_pusher_app_by_key(&c, "k1xyz", 2), a);
    assert_null(lc_config_pusher_app_by_id(&c, "12", 2));
    assert_null(lc_config_pusher_app_by_key(&c, "k", 1));
    lc_config_free(&c);
}

static void test_config_pusher_every_key_is_read(void **state)
{
    lc_config_t c;
    const char *json =
        "{\"channel\": {\"namespaces\": [{\"name\": \"laravel\"}]},"
        " \"pusher\": {\"enabled\": true, \"handler_prefix\": \"/ws\", \"apps\": ["
        "  {\"id\": 123456, \"key\": \"a-key\", \"secret\": \"a-secret\", \"enabled\": false,"
        "   \"allowed_origins\": [\"https://*.example.com\"], \"client_events\": \"all\","
        "   \"channel_prefix\": \"laravel:\", \"activity_timeout\": \"2m\","
        "   \"max_connections\": 5000, \"max_presence_members\": 7, \"max_user_info_size\": 2048,"
        "   \"max_user_id_length\": 64, \"max_channel_name_length\": 164,"
        "   \"max_event_name_length\": 100, \"max_event_data_size\": 65536,"
        "   \"max_batch_size\": 20, \"max_channels_per_event\": 50,"
        "   \"max_client_events_per_second\": 0, \"timestamp_window\": \"0s\"},"
        "  {\"id\": \"2\", \"key\": \"b\", \"secret\": \"x\", \"client_events\": \"off\"}]}}";
    assert_int_equal(load(&c, json), 0);
    assert_string_equal(c.pusher_prefix, "/ws");
    assert_int_equal(c.n_pusher_apps, 2);
    const lc_pusher_app_t *a = &c.pusher_apps[0];
    assert_string_equal(a->id, "123456"); /* a number is taken as its decimal text */
    assert_false(a->enabled);
    assert_int_equal(a->n_allowed_origins, 1);
    assert_string_equal(a->allowed_origins[0], "https://*.example.com");
    assert_int_equal(a->client_events, LC_PUSHER_CLIENT_EVENTS_ALL);
    assert_string_equal(a->channel_prefix, "laravel:");
    assert_int_equal(a->activity_timeout_ms, 120000);
    assert_int_equal(a->max_connections, 5000);
    assert_int_equal(a->max_presence_members, 7);
    assert_int_equal(a->max_user_info_size, 2048);
    assert_int_equal(a->max_user_id_length, 64);
    assert_int_equal(a->max_channel_name_length, 164);
    assert_int_equal(a->max_event_name_length, 100);
    assert_int_equal(a->max_event_data_size, 65536);
    assert_int_equal(a->max_batch_size, 20);
    assert_int_equal(a->max_channels_per_event, 50);
    assert_int_equal(a->max_client_events_per_second, 0);
    assert_int_equal(a->timestamp_window_ms, 0);
    assert_int_equal(c.pusher_apps[1].client_events, LC_PUSHER_CLIENT_EVENTS_OFF);
    assert_string_equal(c.pusher_apps[1].channel_prefix, "");
    lc_config_free(&c);
}

static void test_config_pusher_bad_apps_are_refused_with_the_key(void **state)
{
    expect_refused("{\"pusher\": {\"enabled\": true}}", "pusher.enabled: needs at least one app");
    expect_refused("{\"pusher\": {\"apps\": {}}}", "pusher.apps: expected an array");
    expect_refused("{\"pusher\": {\"apps\": [3]}}", "pusher.apps[0]: expected an object");
    expect_refused("{\"pusher\": {\"apps\": [{\"key\": \"k\", \"secret\": \"s\"}]}}",
                   "pusher.apps[0].id: required");
    expect_refused("{\"pusher\": {\"apps\": [{\"id\": \"1\", \"secret\": \"s\"}]}}",
                   "pusher.apps[0].key: required");
    expect_refused("{\"pusher\": {\"apps\": [{\"id\": \"1\", \"key\": \"k\"}]}}",
                   "pusher.apps[0].secret: required");
    expect_refused(
        "{\"pusher\": {\"apps\": [{\"id\": \"a/b\", \"key\": \"k\", \"secret\": \"s\"}]}}",
        "pusher.apps[0].id: expected 1 to 128 characters");
    expect_refused(
        "{\"pusher\": {\"apps\": [{\"id\": \"1\", \"key\": \"k?\", \"secret\": \"s\"}]}}",
        "pusher.apps[0].key: expected");
    expect_refused(
        "{\"pusher\": {\"apps\": [" APP("") ", {\"id\": \"1\", \"key\": \"k2\", "
                                            "\"secret\": \"s\", \"channel_prefix\": \"b.\"}]}}",
        "pusher.apps[1].id: duplicate app id \"1\"");
    expect_refused(
        "{\"pusher\": {\"apps\": [" APP("") ", {\"id\": \"2\", \"key\": \"k1\", "
                                            "\"secret\": \"s\", \"channel_prefix\": \"b.\"}]}}",
        "pusher.apps[1].key: duplicate app key \"k1\"");
    expect_refused("{\"pusher\": {\"apps\": [" APP("") ", {\"id\": \"2\", \"key\": \"k2\", "
                                                       "\"secret\": \"s\"}]}}",
                   "pusher.apps[1].channel_prefix: \"\" is also the prefix");
    expect_refused(ONE_APP(", \"client_events\": \"public\""),
                   "pusher.apps[0].client_events: expected one of members, off, all");
    expect_refused(ONE_APP(", \"activity_timeout\": \"0s\""),
                   "pusher.apps[0].activity_timeout: at least 1s");
    expect_refused(ONE_APP(", \"activity_timeout\": 30"),
                   "pusher.apps[0].activity_timeout: expected a duration");
    expect_refused(ONE_APP(", \"max_batch_size\": 0"),
                   "pusher.apps[0].max_batch_size: expected an integer from 1");
    expect_refused(ONE_APP(", \"channel_prefix\": \"nope:\""),
                   "pusher.apps[0].channel_prefix: \"nope:\" puts the app's channels in a "
                   "namespace");
    expect_refused(ONE_APP(", \"channel_prefix\": \"a*\""),
                   "pusher.apps[0].channel_prefix: no spaces or glob characters");
    expect_refused("{\"channel\": {\"max_length\": 100}, \"pusher\": {\"apps\": [" APP("") "]}}",
                   "pusher.apps[0].channel_prefix: with max_channel_name_length 200");
    expect_refused("{\"pusher\": {\"handler_prefix\": \"/ws/\", \"apps\": [" APP("") "]}}",
                   "pusher.handler_prefix:");
    expect_refused("{\"pusher\": {\"handler_prefix\": \"ws\", \"apps\": [" APP("") "]}}",
                   "pusher.handler_prefix:");
}

static void test_config_pusher_apps_from_the_environment(void **state)
{
    char *env[] = {"LUCENT_PUSHER_ENABLED=true",
                   "LUCENT_PUSHER_APPS=[{\"id\":\"42\",\"key\":\"ek\",\"secret\":\"es\","
                   "\"max_event_data_size\":20000}]",
                   NULL};
    lc_config_t c;
    lc_config_defaults(&c);
    assert_int_equal(lc_config_apply_env(&c, env, err, sizeof(err)), 0);
    assert_true(c.pusher_enabled);
    assert_int_equal(c.n_pusher_apps, 1);
    assert_string_equal(c.pusher_apps[0].id, "42");
    assert_string_equal(c.pusher_apps[0].secret, "es");
    assert_int_equal(c.pusher_apps[0].max_event_data_size, 20000);
    assert_int_equal(c.pusher_apps[0].max_batch_size, 10);
    lc_config_free(&c);

    char *bad[] = {"LUCENT_PUSHER_APPS={\"id\":\"1\"}", NULL};
    lc_config_defaults(&c);
    assert_int_equal(lc_config_apply_env(&c, bad, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "LUCENT_PUSHER_APPS: expected a JSON array"));
    lc_config_free(&c);

    char *dup[] = {"LUCENT_PUSHER_APPS=[{\"id\":\"1\",\"key\":\"a\",\"secret\":\"s\"},"
                   "{\"id\":\"1\",\"key\":\"b\",\"secret\":\"s\",\"channel_prefix\":\"x.\"}]",
                   NULL};
    lc_config_defaults(&c);
    assert_int_equal(lc_config_apply_env(&c, dup, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "duplicate app id"));
    lc_config_free(&c);
}

static void test_config_pusher_print_masks_the_secret_and_strict_checks_it(void **state)
{
    lc_config_t c;
    assert_int_equal(load(&c, "{\"pusher\": {\"enabled\": true, \"apps\": [{\"id\": \"1\", "
                              "\"key\": \"public-app-key\", \"secret\": \"tiny-secret\"}, "
                              "{\"id\": \"2\", \"key\": \"k2\", \"channel_prefix\": \"b.\", "
                              "\"secret\": \"0123456789abcdef0123456789abcdef\"}]}}"),
                     0);
    char *masked, *shown;
    effective_both(&c, "tiny-secret", &masked, &shown);
    assert_non_null(strstr(masked, "public-app-key")); /* public: every page holds it */
    assert_non_null(strstr(masked, "\"max_event_data_size\":\t10240"));
    free(masked);
    free(shown);

    char out[512];
    int n = lc_config_lint_secrets(&c, out, sizeof(out));
    assert_int_equal(n, 1);
    assert_non_null(strstr(out, "pusher.apps[0].secret: shorter than 32 bytes"));
    lc_config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_pusher_app_defaults_follow_the_spec),
        cmocka_unit_test(test_config_pusher_every_key_is_read),
        cmocka_unit_test(test_config_pusher_bad_apps_are_refused_with_the_key),
        cmocka_unit_test(test_config_pusher_apps_from_the_environment),
        cmocka_unit_test(test_config_pusher_print_masks_the_secret_and_strict_checks_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
