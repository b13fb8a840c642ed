/* Reading a config text: the file, comments, and JSON syntax errors with their position. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "util/err.h"

#define MAX_FILE_SIZE (16u << 20)

/* Blank out // and / * * / comments in place, keeping every newline, so that parse error
 * positions still point into the user's file. cJSON_Minify is not used: it shifts positions
 * and misreads a string ending in an escaped backslash ("c:\\") as unterminated. */
static int blank_comments(char *s, size_t n, size_t *bad_at)
{
    size_t i = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
        memset(s, ' ', 3);
        i = 3;
    }
    while (i < n) {
        if (s[i] == '"') {
            for (i++; i < n && s[i] != '"'; i++) {
                if (s[i] == '\\')
                    i++;
            }
            i++;
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '/') {
            while (i < n && s[i] != '\n')
                s[i++] = ' ';
        } else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') {
            size_t start = i;
            s[i++] = ' ';
            s[i++] = ' ';
            while (i < n && !(s[i] == '*' && i + 1 < n && s[i + 1] == '/')) {
                if (s[i] != '\n')
                    s[i] = ' ';
                i++;
            }
            if (i >= n) {
                *bad_at = start;
                return LC_EINVAL;
            }
            s[i++] = ' ';
            s[i++] = ' ';
        } else {
            i++;
        }
    }
    return 0;
}

static void line_col(const char *s, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult): off <= strlen(s)
        if (s[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int lc__config_parse(const char *json, size_t len, cJSON **out, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t bad_at = 0;
    int line, col, rc = 0;

    *out = NULL;
    if (memchr(json, '\0', len))
        return lc__config_fail(err, errlen, "invalid JSON: the text contains a NUL byte");
    buf = malloc(len + 1);
    if (!buf) {
        lc__config_fail(err, errlen, "out of memory");
        return LC_ENOMEM;
    }
    memcpy(buf, json, len);
    buf[len] = '\0';
    if (blank_comments(buf, len, &bad_at) != 0) {
        line_col(json, bad_at, &line, &col);
        rc = lc__config_fail(
            err, errlen, "invalid JSON: unterminated /* comment at line %d, column %d", line, col);
        goto out;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!root) {
        size_t off = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : len;
        line_col(buf, off, &line, &col);
        rc = lc__config_fail(err, errlen, "invalid JSON at line %d, column %d", line, col);
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        rc = lc__config_fail(err, errlen, "invalid config: the top level must be a JSON object");
        goto out;
    }
    *out = root;
out:
    free(buf);
    return rc;
}

/* lua.script and lua.path are relative to the config file's folder, as users expect when
 * they keep rules.lua next to config.json. */
static int resolve_one(char **field, const char *dir, size_t dirlen)
{
    if (!*field || !**field || **field == '/' || dirlen == 0)
        return 0;
    size_t n = dirlen + 1 + strlen(*field) + 1;
    char *p = malloc(n);
    if (!p)
        return LC_ENOMEM;
    snprintf(p, n, "%.*s/%s", (int)dirlen, dir, *field);
    int rc = lc_config_set_string(field, p);
    free(p);
    return rc;
}

static int resolve_lua_paths(lc_config_t *c, const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) : 0;
    if (slash && dirlen == 0)
        dirlen = 1; /* "/config.json" */
    int rc = resolve_one(&c->lua_script, path, dirlen);
    for (size_t i = 0; rc == 0 && i < c->n_lua_path; i++)
        rc = resolve_one(&c->lua_path[i], path, dirlen);
    if (rc != 0)
        lc__config_fail(err, errlen, "out of memory");
    return rc;
}

/* The whole file into *data (malloc'd, *len bytes, not terminated). */
static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
    size_t cap = 0;
    int rc = 0;
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rbe");
    if (!f) {
        int e = errno;
        /* strerror is MT-safe in glibc since 2.32 (Debian 12 has 2.36) */
        // NOLINTBEGIN(concurrency-mt-unsafe)
        lc__config_fail(err, errlen, "cannot open %s: %s", path, strerror(e));
        // NOLINTEND(concurrency-mt-unsafe)
        return e == ENOENT ? LC_ENOENT : LC_EIO;
    }
    for (;;) {
        if (*len == cap) {
            if (cap >= MAX_FILE_SIZE) {
                lc__config_fail(err, errlen, "%s: larger than %u bytes", path, MAX_FILE_SIZE);
                rc = LC_ETOOBIG;
                goto out;
            }
            cap = cap ? cap * 2 : 8192;
            char *n = realloc(*data, cap);
            if (!n) {
                lc__config_fail(err, errlen, "out of memory");
                rc = LC_ENOMEM;
                goto out;
            }
            *data = n;
        }
        size_t got = fread(*data + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        lc__config_fail(err, errlen, "cannot read %s", path);
        rc = LC_EIO;
    }
out:
    fclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

int lc_config_load_file_env(lc_config_t *c, const char *path, char *const *envp, char *err,
                            size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    cJSON *root = NULL;
    struct lc__env env = {0};

    if (err && errlen)
        err[0] = '\0';
    int rc = read_file(path, &data, &len, err, errlen);
    if (rc == 0)
        rc = lc__config_parse(data ? data : "", len, &root, err, errlen);
    if (rc == 0 && envp)
        rc = lc__config_env_read(envp, &env, err, errlen);
    if (rc == 0 && env.doc)
        lc__config_env_merge(root, env.doc);
    /* One walk over the merged document: proxy references and validation see the values of
     * both (an endpoint from the environment for a proxy the file enables). */
    if (rc == 0) {
        rc = lc__config_load_tree(c, root, err, errlen);
        if (rc)
            lc__config_env_blame(&env, err, errlen);
    }
    if (rc == 0)
        rc = resolve_lua_paths(c, path, err, errlen);
    lc__config_env_free(&env);
    cJSON_Delete(root);
    free(data);
    return rc;
}

int lc_config_load_file(lc_config_t *c, const char *path, char *err, size_t errlen)
{
    return lc_config_load_file_env(c, path, NULL, err, errlen);
}
