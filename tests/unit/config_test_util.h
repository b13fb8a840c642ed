/* Helpers shared by the config tests (test_config*.c): load a JSON config from a string into
 * fresh defaults, expect it refused, and take the effective config both ways, so that each
 * file checks what it is about rather than carrying its own copy of these. */
#ifndef LC_TEST_CONFIG_TEST_UTIL_H
#define LC_TEST_CONFIG_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "util/err.h"

/* The error text of the last load(). */
static char err[512];

/* Defaults, then json over them (what the server does with a config file). */
static inline int load(lc_config_t *c, const char *json)
{
    lc_config_defaults(c);
    err[0] = '\0';
    return lc_config_load_string(c, json, strlen(json), err, sizeof(err));
}

/* Loads json expecting LC_EINVAL with an error that contains want. */
static inline void expect_error(const char *json, const char *want)
{
    lc_config_t c;
    int rc = load(&c, json);
    if (rc != LC_EINVAL || !strstr(err, want))
        fail_msg("config %s: rc %d, err \"%s\", wanted \"%s\"", json, rc, err, want);
    lc_config_free(&c);
}

/* The effective config of c as `checkconfig --print` gives it: *masked without secrets,
 * *shown with them (--show-secrets). secret must be in the second only. The caller frees both. */
static inline void effective_both(const lc_config_t *c, const char *secret, char **masked,
                                  char **shown)
{
    *masked = lc_config_effective_json(c, false);
    *shown = lc_config_effective_json(c, true);
    assert_non_null(*masked);
    assert_non_null(*shown);
    assert_null(strstr(*masked, secret));
    assert_non_null(strstr(*shown, secret));
}

#endif
