/* `lucent genconfig`: a fresh v6 config file with random secrets. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "util/err.h"
#include "util/rand.h"

static int gen_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int gen_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* The layout of a fresh config. A fixed text rather than a printed cJSON tree: cJSON_Print
 * indents with tabs and aligns values with tabs, which reads badly in an editor. Only hex
 * secrets are substituted, so nothing needs escaping. */
#define TEMPLATE_JSON                                                                              \
    "{\n"                                                                                          \
    "  \"http_server\": {\n"                                                                       \
    "    \"address\": \"\",\n"                                                                     \
    "    \"port\": 8000\n"                                                                         \
    "  },\n"                                                                                       \
    "  \"log\": {\n"                                                                               \
    "    \"level\": \"info\"\n"                                                                    \
    "  },\n"                                                                                       \
    "  \"client\": {\n"                                                                            \
    "    \"token\": {\n"                                                                           \
    "      \"hmac_secret_key\": \"%s\"\n"                                                          \
    "    },\n"                                                                                     \
    "    \"allowed_origins\": [],\n"                                                               \
    "    \"allow_anonymous_connect_without_token\": false\n"                                       \
    "  },\n"                                                                                       \
    "  \"http_api\": {\n"                                                                          \
    "    \"key\": \"%s\"\n"                                                                        \
    "  },\n"                                                                                       \
    "  \"admin\": {\n"                                                                             \
    "    \"enabled\": false,\n"                                                                    \
    "    \"password\": \"%s\",\n"                                                                  \
    "    \"secret\": \"%s\"\n"                                                                     \
    "  },\n"                                                                                       \
    "  \"health\": {\n"                                                                            \
    "    \"enabled\": true\n"                                                                      \
    "  },\n"                                                                                       \
    "  \"channel\": {\n"                                                                           \
    "    \"without_namespace\": {\n"                                                               \
    "      \"allow_subscribe_for_client\": true\n"                                                 \
    "    },\n"                                                                                     \
    "    \"namespaces\": []\n"                                                                     \
    "  }\n"                                                                                        \
    "}\n"

int lc_config_generate(const char *path, char *err, size_t errlen)
{
    bool to_stdout = !path || strcmp(path, "-") == 0;
    char hmac[65], api_key[65], admin_password[33], admin_secret[65];
    char text[sizeof(TEMPLATE_JSON) + (size_t)4 * 64];
    int rc = 0, fd = -1;
    bool created = false;

    lc_random_hex(hmac, 32);
    lc_random_hex(api_key, 32);
    lc_random_hex(admin_password, 16);
    lc_random_hex(admin_secret, 32);
    int n =
        snprintf(text, sizeof(text), TEMPLATE_JSON, hmac, api_key, admin_password, admin_secret);
    if (n < 0 || (size_t)n >= sizeof(text))
        return gen_fail(err, errlen, LC_EINVAL, "config template does not fit");
    size_t len = (size_t)n;
    if (to_stdout) {
        if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
            rc = gen_fail(err, errlen, LC_EIO, "cannot write the config to stdout");
        goto out;
    }
    /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
    // NOLINTBEGIN(concurrency-mt-unsafe)
    /* O_EXCL: never overwrite a config (and its secrets); 0600 because it holds secrets. */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == EEXIST)
            rc = gen_fail(err, errlen, LC_EEXIST, "%s already exists, not overwriting it", path);
        else
            rc = gen_fail(err, errlen, LC_EIO, "cannot create %s: %s", path, strerror(e));
        goto out;
    }
    created = true;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = gen_fail(err, errlen, LC_EIO, "cannot write %s: %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)w;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = gen_fail(err, errlen, LC_EIO, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    // NOLINTEND(concurrency-mt-unsafe)
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && created)
        unlink(path); /* no half-written config left behind */
    return rc;
}
