/* The Pusher HTTP API (spec/pusher-protocol.md §6) under {pusher.handler_prefix}/apps/{app_id}/:
 * what Laravel's pusher / reverb broadcaster (pusher-http-php) and the npm `pusher` SDK call.
 * This file routes a request, checks its signature and words the answers; the endpoints are in
 * api_pusher_events.c and api_pusher_channels.c. They run the server API's own methods
 * (broadcast, channels) and engine reads inside an internal call (api.c), so a Pusher event goes
 * through the same hub, engine, history, Lua broadcast hook and cross-node exclusion as a server
 * API broadcast.
 *
 * Signature (§6.1): HMAC-SHA256(app secret, METHOD "\n" PATH "\n" QUERY) in lowercase hex as
 * auth_signature, where PATH is /apps/{id}/... without the deployment prefix and QUERY every
 * query parameter except auth_signature, keys lowercased, sorted, values percent-decoded,
 * joined as k=v&k=v. body_md5 is required with a body and must be its MD5. Failures answer 401,
 * an unknown app 404, bad parameters 400, oversized data 413, all as {"error":"...","code":N}. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/api_pusher.h"
#include "util/ct.h"
#include "util/err.h"
#include "util/log.h"

#define JSON_TYPE "application/json"
#define MAX_PARAMS 32
#define MAX_QUERY 8192

void lc__papi_respond(lc_http_req_t *req, int status, const char *body, size_t len)
{
    lc_http_respond(req, status, JSON_TYPE, body, len, NULL);
}

void lc__papi_error(lc_http_req_t *req, const lc_pusher_app_t *app, int status, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* the message may quote what the request sent: printable ASCII only in the log and body */
    for (char *m = msg; *m; m++)
        if ((unsigned char)*m < 0x20 || (unsigned char)*m > 0x7e)
            *m = '?';
    lc_log_info("pusher api %s %s from %s (app %s): %d %s", lc_http_req_method(req),
                lc_http_req_path(req), lc_http_req_remote(req), app ? app->id : "?", status, msg);
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"error\":");
    rc |= lc_buf_append_json_str(&b, msg, strlen(msg));
    rc |= lc_buf_printf(&b, ",\"code\":%d}", status);
    if (rc)
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
    else
        lc__papi_respond(req, status, b.data, b.len);
    lc_buf_free(&b);
}

/* --- query and signature ----------------------------------------------------------------- */

typedef struct qparam {
    char *key; /* lowercased */
    char *val; /* percent-decoded, '+' as space */
} qparam_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode s[0..n) into a new string; NULL for a bad %-escape, a NUL byte or OOM. */
static char *pct_decode(const char *s, size_t n, bool lower)
{
    char *out = malloc(n + 1);
    size_t o = 0;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '+') {
            ch = ' ';
        } else if (ch == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(out);
                return NULL;
            }
            ch = (char)(hi * 16 + lo);
            i += 2;
        }
        if (lower && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        out[o++] = ch;
    }
    out[o] = '\0';
    return out;
}

static void params_free(qparam_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].key);
        free(p[i].val);
    }
}

/* Split the raw query; -1 for a malformed or oversized one. */
static int parse_query(const char *q, qparam_t *out, size_t *n)
{
    *n = 0;
    if (strlen(q) > MAX_QUERY)
        return -1;
    while (*q) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > 0) {
            const char *eq = memchr(q, '=', len);
            size_t klen = eq ? (size_t)(eq - q) : len;
            if (*n == MAX_PARAMS || klen == 0)
                return -1;
            out[*n].key = pct_decode(q, klen, true);
            out[*n].val = eq ? pct_decode(eq + 1, len - klen - 1, false) : strdup("");
            (*n)++;
            if (!out[*n - 1].key || !out[*n - 1].val)
                return -1;
        }
        if (!amp)
            break;
        q = amp + 1;
    }
    return 0;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const qparam_t *)a)->key, ((const qparam_t *)b)->key);
}

static const char *param(const qparam_t *p, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, key) == 0)
            return p[i].val;
    return NULL;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool md5_hex(const char *body, size_t len, char out[33])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (!EVP_Digest(body, len, d, &dl, EVP_md5(), NULL) || dl != 16)
        return false;
    to_hex(d, 16, out);
    return true;
}

/* 0 when the request is signed by app; else the status to answer, with the reason in why. */
static int verify(lc_http_req_t *req, const lc_pusher_app_t *app, const char *signed_path,
                  const qparam_t *p, size_t n, char *why, size_t whylen)
{
    const char *key = param(p, n, "auth_key");
    const char *ts = param(p, n, "auth_timestamp");
    const char *ver = param(p, n, "auth_version");
    const char *sig = param(p, n, "auth_signature");
    const char *md5 = param(p, n, "body_md5");
    size_t blen = 0;
    const char *body = lc_http_req_body(req, &blen);
    if (!key || !ts || !ver || !sig) {
        snprintf(why, whylen,
                 "auth_key, auth_timestamp, auth_version and auth_signature are "
                 "required query parameters");
        return 401;
    }
    if (strcmp(key, app->key) != 0) {
        snprintf(why, whylen, "Unknown auth_key for this app");
        return 401;
    }
    if (strcmp(ver, "1.0") != 0) {
        snprintf(why, whylen, "Unsupported auth_version %.16s (expected 1.0)", ver);
        return 401;
    }
    char *end = NULL;
    long long t = strtoll(ts, &end, 10);
    if (!*ts || *end) {
        snprintf(why, whylen, "auth_timestamp is not a number of seconds");
        return 401;
    }
    long long now = (long long)time(NULL), window = app->timestamp_window_ms / 1000;
    if (window > 0 && (t < now - window || t > now + window)) {
        snprintf(why, whylen,
                 "Timestamp expired: Given timestamp (%lld) not within %llds of server time "
                 "(%lld)",
                 t, window, now);
        return 401;
    }
    if (blen > 0 || md5) {
        char want[33];
        if (!md5_hex(body ? body : "", blen, want))
            return 500;
        if (!md5 || strcmp(md5, want) != 0) {
            snprintf(why, whylen, "body_md5 is %s the MD5 of the body", md5 ? "not" : "missing:");
            return 401;
        }
    }
    /* the string to sign: the parameters but the signature, sorted by (lowercased) key */
    qparam_t sorted[MAX_PARAMS];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(p[i].key, "auth_signature") != 0)
            sorted[m++] = p[i];
    qsort(sorted, m, sizeof(sorted[0]), by_key);
    lc_buf_t s = LC_BUF_INIT;
    int rc = lc_buf_printf(&s, "%s\n%s\n", lc_http_req_method(req), signed_path);
    for (size_t i = 0; i < m; i++)
        rc |= lc_buf_printf(&s, "%s%s=%s", i ? "&" : "", sorted[i].key, sorted[i].val);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (rc || !HMAC(EVP_sha256(), app->secret, (int)strlen(app->secret),
                    (const unsigned char *)s.data, s.len, mac, &mlen)) {
        lc_buf_free(&s);
        return 500;
    }
    lc_buf_free(&s);
    to_hex(mac, mlen, hex);
    if (!lc_ct_equal(hex, strlen(hex), sig, strlen(sig))) {
        snprintf(why, whylen,
                 "Invalid signature: you should have sent HmacSHA256Hex of "
                 "METHOD\\nPATH\\nSORTED_QUERY with your secret");
        return 401;
    }
    return 0;
}

/* --- routing --------------------------------------------------------------------------------- */

static bool method_is(lc_http_req_t *req, const char *want)
{
    return strcmp(lc_http_req_method(req), want) == 0;
}

static void on_pusher(lc_http_req_t *req, void *arg)
{
    lc__api_t *a = arg;
    const lc_config_t *cfg = a->cfg;
    /* path = {prefix}/apps/{id}/{rest}; the signed path starts at /apps/ */
    const char *signed_path = lc_http_req_path(req) + strlen(cfg->pusher_prefix);
    const char *id = signed_path + strlen("/apps/");
    const char *slash = strchr(id, '/');
    const lc_pusher_app_t *app =
        slash ? lc_config_pusher_app_by_id(cfg, id, (size_t)(slash - id)) : NULL;
    if (!app) {
        int idlen = slash ? (int)(slash - id) : (int)strlen(id);
        lc__papi_error(req, NULL, 404, "The app %.*s could not be found", idlen > 128 ? 128 : idlen,
                       id);
        return;
    }
    const char *rest = slash + 1;
    if (!app->enabled) {
        lc__papi_error(req, app, 403, "The app is disabled");
        return;
    }
    if (lc_worker_stopping(lc_http_req_worker(req))) {
        lc__papi_error(req, app, 503, "The server is shutting down");
        return;
    }

    enum { EVENTS, BATCH, CHANNELS, CHANNEL, USERS, TERMINATE, NONE } what = NONE;
    const char *name = NULL, *name_end = NULL;
    if (strcmp(rest, "events") == 0) {
        what = EVENTS;
    } else if (strcmp(rest, "batch_events") == 0) {
        what = BATCH;
    } else if (strcmp(rest, "channels") == 0) {
        what = CHANNELS;
    } else if (strncmp(rest, "channels/", 9) == 0 && rest[9]) {
        name = rest + 9;
        name_end = strchr(name, '/');
        if (!name_end)
            what = CHANNEL, name_end = name + strlen(name);
        else if (strcmp(name_end, "/users") == 0)
            what = USERS;
    } else if (strncmp(rest, "users/", 6) == 0 && rest[6]) {
        name = rest + 6;
        name_end = strchr(name, '/');
        if (name_end && strcmp(name_end, "/terminate_connections") == 0)
            what = TERMINATE;
    }
    if (what == NONE) {
        lc__papi_error(req, app, 404, "Not found");
        return;
    }
    bool post = what == EVENTS || what == BATCH || what == TERMINATE;
    if (!method_is(req, post ? "POST" : "GET")) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18,
                        post ? "Allow: POST\r\n" : "Allow: GET\r\n");
        return;
    }

    qparam_t p[MAX_PARAMS];
    size_t n = 0;
    char why[256];
    int status;
    if (parse_query(lc_http_req_query(req), p, &n) != 0) {
        params_free(p, n);
        lc__papi_error(req, app, 400, "Malformed query string");
        return;
    }
    if ((status = verify(req, app, signed_path, p, n, why, sizeof(why))) != 0) {
        params_free(p, n);
        if (status == 500)
            lc_http_respond(req, 500, "text/plain", "", 0, NULL);
        else
            lc__papi_error(req, app, status, "%s", why);
        return;
    }
    lc__papi_query_t q = {
        .info = param(p, n, "info"),
        .filter_by_prefix = param(p, n, "filter_by_prefix"),
    };
    switch (what) {
    case EVENTS:
        lc__papi_events(a, app, req, false);
        break;
    case BATCH:
        lc__papi_events(a, app, req, true);
        break;
    case CHANNELS:
        lc__papi_channels(a, app, req, &q);
        break;
    case CHANNEL:
    case USERS:
        lc__papi_channel(a, app, req, name, (size_t)(name_end - name), what == USERS, &q);
        break;
    case TERMINATE:
        lc__papi_terminate(a, app, req, name, (size_t)(name_end - name));
        break;
    default:
        break;
    }
    params_free(p, n);
}

int lc__api_pusher_register(lc_router_t *r, lc__api_t *a)
{
    const lc_config_t *cfg = a->cfg;
    if (!cfg->pusher_enabled)
        return 0;
    char path[300];
    snprintf(path, sizeof(path), "%s/apps/", cfg->pusher_prefix);
    return lc_router_add(r, path, true, on_pusher, a);
}
