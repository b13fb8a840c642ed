/* The admin web UI at {admin.handler_prefix} (default /admin) when admin.enabled: the page and
 * its script (web/admin/, embedded), a login with admin.password that sets a session cookie
 * signed with admin.secret (HMAC-SHA256), failed logins limited per address, and the UI's API:
 * POST {prefix}/api/<method> runs the server API's methods (api.c) plus four of its own:
 * "connections" (a user's live connections on every worker), "stats" (the metric totals, for
 * rates), "tail_token" (tokens for the page's live tail WebSocket) and "playground" (one
 * decision explained, api_playground.c).
 *
 * admin.insecure skips the login (local use only). API calls must carry X-Lucent-Admin: 1,
 * which no cross-site form can send. */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/admin_assets.h"
#include "auth/jwt.h"
#include "core/ops.h"
#include "util/clock.h"
#include "util/ct.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

#define COOKIE "lucent_admin"
#define SESSION_TTL_S 43200 /* 12 hours */
#define LOGIN_MAX_FAILURES 5
#define LOGIN_WINDOW_S 60
#define JSON_TYPE "application/json"

/* ---- session cookie: "<expiry>.<hex HMAC-SHA256(secret, "lucent-admin:<expiry>")>" ---- */

static bool sign(const char *secret, long long exp, char *out, size_t outlen)
{
    char msg[64];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int n = snprintf(msg, sizeof(msg), "lucent-admin:%lld", exp);
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, (size_t)n, mac,
              &maclen) ||
        outlen < (size_t)maclen * 2 + 24)
        return false;
    int o = snprintf(out, outlen, "%lld.", exp);
    for (unsigned i = 0; i < maclen; i++)
        o += snprintf(out + o, outlen - (size_t)o, "%02x", mac[i]);
    return true;
}

/* The cookie's value in the Cookie header, copied into out. */
static bool cookie_value(lc_http_req_t *req, char *out, size_t outlen)
{
    const char *h = lc_http_req_header(req, "Cookie");
    size_t klen = strlen(COOKIE);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > klen && strncmp(h, COOKIE, klen) == 0 && h[klen] == '=') {
            size_t vlen = len - klen - 1;
            if (vlen >= outlen)
                return false;
            memcpy(out, h + klen + 1, vlen);
            out[vlen] = '\0';
            return true;
        }
        h = end;
    }
    return false;
}

static bool logged_in(const lc__api_t *a, lc_http_req_t *req)
{
    if (a->cfg->ops.admin_insecure)
        return true;
    char got[160], want[160];
    if (!cookie_value(req, got, sizeof(got)))
        return false;
    long long exp = strtoll(got, NULL, 10);
    if (exp < lc_now_s() || !sign(a->cfg->ops.admin_secret, exp, want, sizeof(want)))
        return false;
    return lc_ct_equal(got, strlen(got), want, strlen(want));
}

/* ---- failed logins, per remote address (the port stripped) ---- */

static uv_mutex_t login_mu;
static uv_once_t login_once = UV_ONCE_INIT;
static struct {
    char addr[64];
    int64_t since;
    int failures;
} login_slots[64];

static void login_init(void)
{
    uv_mutex_init(&login_mu);
}

static void remote_addr(lc_http_req_t *req, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s", lc_http_req_remote(req));
    char *colon = strrchr(out, ':');
    if (colon)
        *colon = '\0';
}

/* Seconds to wait before another attempt, 0 when one is allowed. */
static int64_t login_blocked(const char *addr, bool failed_now)
{
    uv_once(&login_once, login_init);
    int64_t now = lc_now_s(), wait = 0;
    uv_mutex_lock(&login_mu);
    size_t free_slot = 0, oldest = 0;
    bool found = false;
    size_t i = 0;
    for (; i < sizeof(login_slots) / sizeof(login_slots[0]); i++) {
        if (strcmp(login_slots[i].addr, addr) == 0) {
            found = true;
            break;
        }
        if (login_slots[i].since < login_slots[oldest].since)
            oldest = i;
        if (!login_slots[i].addr[0])
            free_slot = i;
    }
    if (!found && failed_now) {
        i = login_slots[free_slot].addr[0] ? oldest : free_slot;
        snprintf(login_slots[i].addr, sizeof(login_slots[i].addr), "%s", addr);
        login_slots[i].since = now;
        login_slots[i].failures = 0;
        found = true;
    }
    if (found) {
        if (now - login_slots[i].since >= LOGIN_WINDOW_S) {
            login_slots[i].since = now;
            login_slots[i].failures = 0;
        }
        if (failed_now)
            login_slots[i].failures++;
        if (login_slots[i].failures >= LOGIN_MAX_FAILURES)
            wait = login_slots[i].since + LOGIN_WINDOW_S - now;
    }
    uv_mutex_unlock(&login_mu);
    return wait > 0 ? wait : 0;
}

/* ---- responses ---- */

static void respond_json(lc_http_req_t *req, int status, const char *json, const char *extra)
{
    lc_http_respond(req, status, JSON_TYPE, json, strlen(json), extra);
}

void lc__api_admin_error(lc_http_req_t *req, int status, const char *message)
{
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_buf_append_str(&b, "{\"error\":{\"message\":");
    rc |= lc_buf_append_json_str(&b, message, strlen(message));
    rc |= lc_buf_append_str(&b, "}}");
    if (rc)
        lc_http_respond(req, 500, "text/plain", "", 0, NULL);
    else
        lc_http_respond(req, status, JSON_TYPE, b.data, b.len, NULL);
    lc_buf_free(&b);
}

static void serve_asset(lc_http_req_t *req, const char *name)
{
    for (const lc_admin_asset_t *f = lc_admin_assets; f->name; f++) {
        if (strcmp(f->name, name) == 0) {
            lc_http_respond(req, 200, f->type, (const char *)f->data, f->size,
                            "Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\n"
                            "X-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n");
            return;
        }
    }
    lc_http_respond(req, 404, "text/plain", "Not Found", 9, NULL);
}

/* ---- login / logout ---- */

static void on_login(lc__api_t *a, lc_http_req_t *req)
{
    char addr[64];
    remote_addr(req, addr, sizeof(addr));
    int64_t wait = login_blocked(addr, false);
    if (wait > 0) {
        char extra[64];
        snprintf(extra, sizeof(extra), "Retry-After: %lld\r\n", (long long)wait);
        lc_log_warn("admin: login from %s refused: too many failed attempts", addr);
        lc_http_respond(req, 429, JSON_TYPE,
                        "{\"error\":{\"message\":\"too many failed logins, wait a minute\"}}", 62,
                        extra);
        return;
    }
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(root, "password");
    const char *want = a->cfg->ops.admin_password;
    bool ok = cJSON_IsString(pw) && want[0] &&
              lc_ct_equal(pw->valuestring, strlen(pw->valuestring), want, strlen(want));
    cJSON_Delete(root);
    if (!ok) {
        login_blocked(addr, true);
        lc_log_warn("admin: failed login from %s", addr);
        lc__api_admin_error(req, 401, "wrong password");
        return;
    }
    char value[160], extra[320];
    if (!sign(a->cfg->ops.admin_secret, lc_now_s() + SESSION_TTL_S, value, sizeof(value))) {
        lc__api_admin_error(req, 500, "cannot sign the session");
        return;
    }
    snprintf(extra, sizeof(extra),
             "Set-Cookie: " COOKIE "=%s; Path=%s; Max-Age=%d; HttpOnly; SameSite=Strict\r\n", value,
             a->cfg->ops.admin_prefix, SESSION_TTL_S);
    lc_log_info("admin: login from %s", addr);
    respond_json(req, 200, "{}", extra);
}

static void on_logout(lc__api_t *a, lc_http_req_t *req)
{
    char extra[256];
    snprintf(extra, sizeof(extra),
             "Set-Cookie: " COOKIE "=; Path=%s; Max-Age=0; HttpOnly; SameSite=Strict\r\n",
             a->cfg->ops.admin_prefix);
    respond_json(req, 200, "{}", extra);
}

/* ---- the UI's own methods ---- */

typedef struct conns_op {
    lc_http_req_t *req; /* NULL once the peer left */
    char user[256];
    int nworkers;
    lc_buf_t *parts; /* one per worker, written only by that worker */
} conns_op_t;

static void conn_one(void *arg, const char *client, const char *user, const char *transport,
                     const char *const *channels, size_t n)
{
    lc_buf_t *b = arg;
    int rc = lc_buf_append_str(b, b->len ? ",{\"client\":" : "{\"client\":");
    rc |= lc_buf_append_json_str(b, client, strlen(client));
    rc |= lc_buf_append_str(b, ",\"user\":");
    rc |= lc_buf_append_json_str(b, user, strlen(user));
    rc |= lc_buf_append_str(b, ",\"transport\":");
    rc |= lc_buf_append_json_str(b, transport, strlen(transport));
    rc |= lc_buf_append_str(b, ",\"channels\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            rc |= lc_buf_putc(b, ',');
        rc |= lc_buf_append_json_str(b, channels[i], strlen(channels[i]));
    }
    (void)(rc | lc_buf_append_str(b, "]}"));
}

static void conns_each(lc_worker_t *w, void *arg)
{
    conns_op_t *op = arg;
    lc_target_t t = {op->user, NULL};
    lc_ops_connections(w, &t, conn_one, &op->parts[lc_worker_index(w)]);
}

static void conns_cancel(void *arg)
{
    ((conns_op_t *)arg)->req = NULL;
}

static void conns_done(lc_worker_t *w, void *arg)
{
    conns_op_t *op = arg;
    if (op->req) {
        lc_http_req_set_cancel(op->req, NULL, NULL);
        lc_buf_t b = LC_BUF_INIT;
        int rc = lc_buf_append_str(&b, "{\"result\":{\"connections\":[");
        bool first = true;
        for (int i = 0; i < op->nworkers; i++) {
            if (!op->parts[i].len)
                continue;
            if (!first)
                rc |= lc_buf_putc(&b, ',');
            rc |= lc_buf_append(&b, op->parts[i].data, op->parts[i].len);
            first = false;
        }
        rc |= lc_buf_append_str(&b, "]}}");
        if (rc)
            lc_http_respond(op->req, 500, "text/plain", "", 0, NULL);
        else
            lc_http_respond(op->req, 200, JSON_TYPE, b.data, b.len, NULL);
        lc_buf_free(&b);
    }
    for (int i = 0; i < op->nworkers; i++)
        lc_buf_free(&op->parts[i]);
    free(op->parts);
    free(op);
}

static void admin_connections(lc__api_t *a, lc_http_req_t *req, const cJSON *p)
{
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(p, "user");
    if (!cJSON_IsString(user) || !user->valuestring[0] ||
        strlen(user->valuestring) >= sizeof(((conns_op_t *)0)->user)) {
        lc__api_admin_error(req, 400, "user: required");
        return;
    }
    conns_op_t *op = calloc(1, sizeof(*op));
    int n = lc_node_num_workers(a->node);
    if (op)
        op->parts = calloc((size_t)n, sizeof(*op->parts));
    if (!op || !op->parts) {
        free(op);
        lc__api_admin_error(req, 500, "out of memory");
        return;
    }
    op->req = req;
    op->nworkers = n;
    snprintf(op->user, sizeof(op->user), "%s", user->valuestring);
    lc_http_req_set_cancel(req, conns_cancel, op);
    if (lc_ops_each_worker(a->node, conns_each, conns_done, op) != 0) {
        lc_http_req_set_cancel(req, NULL, NULL);
        free(op->parts);
        free(op);
        lc__api_admin_error(req, 500, "out of memory");
    }
}

static void admin_stats(lc_http_req_t *req)
{
    lc_metrics_sum_t *s = malloc(sizeof(*s));
    if (!s) {
        lc__api_admin_error(req, 500, "out of memory");
        return;
    }
    lc_metrics_sum(s);
    uint64_t out = 0, api = 0;
    int64_t conns = 0;
    for (int t = 0; t < LC_M_TRANSPORTS; t++) {
        out += s->pubs_out[t];
        conns += s->conns[t];
    }
    for (int m = 0; m < LC_M_API_METHODS; m++)
        api += s->api[m][0] + s->api[m][1];
    char json[256];
    snprintf(json, sizeof(json),
             "{\"result\":{\"publications_in\":%llu,\"publications_out\":%llu,"
             "\"publications_dropped\":%llu,\"api_requests\":%llu,\"connections\":%lld}}",
             (unsigned long long)s->pubs_in, (unsigned long long)out,
             (unsigned long long)s->pubs_dropped, (unsigned long long)api, (long long)conns);
    free(s);
    respond_json(req, 200, json, NULL);
}

/* A connection token for "lucent-admin" and a subscription token for the channel: the page's
 * live tail connects like any client (client.allowed_origins must admit the admin page). */
static void admin_tail_token(lc__api_t *a, lc_http_req_t *req, const cJSON *p)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(p, "channel");
    const char *secret = a->cfg->token_hmac_secret_key;
    if (!cJSON_IsString(ch) || !ch->valuestring[0]) {
        lc__api_admin_error(req, 400, "channel: required");
        return;
    }
    if (!secret[0] || a->cfg->websocket_disabled) {
        lc__api_admin_error(req, 409,
                            "the live tail needs client.token.hmac_secret_key and the WebSocket "
                            "endpoint");
        return;
    }
    const char *user = "lucent-admin";
    char *tok = lc_jwt_make_connect_token(secret, user, lc_now_s(), 3600);
    char *sub = lc_jwt_make_subscribe_token(lc_config_sub_token_secret(a->cfg), user,
                                            ch->valuestring, lc_now_s(), 3600);
    lc_buf_t b = LC_BUF_INIT;
    int rc = !tok || !sub;
    if (!rc) {
        rc |= lc_buf_append_str(&b, "{\"result\":{\"token\":");
        rc |= lc_buf_append_json_str(&b, tok, strlen(tok));
        rc |= lc_buf_append_str(&b, ",\"sub_token\":");
        rc |= lc_buf_append_json_str(&b, sub, strlen(sub));
        rc |= lc_buf_append_str(&b, ",\"path\":");
        rc |=
            lc_buf_append_json_str(&b, a->cfg->websocket_prefix, strlen(a->cfg->websocket_prefix));
        rc |= lc_buf_append_str(&b, "}}");
    }
    if (rc)
        lc__api_admin_error(req, 500, "cannot sign the tokens");
    else
        lc_http_respond(req, 200, JSON_TYPE, b.data, b.len, "Cache-Control: no-store\r\n");
    lc_buf_free(&b);
    free(tok);
    free(sub);
}

static void on_admin_api(lc__api_t *a, lc_http_req_t *req, const char *name)
{
    if (strcmp(lc_http_req_method(req), "POST") != 0) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18, "Allow: POST\r\n");
        return;
    }
    const char *mark = lc_http_req_header(req, "X-Lucent-Admin");
    if (!mark || strcmp(mark, "1") != 0) {
        lc__api_admin_error(req, 403, "missing X-Lucent-Admin header");
        return;
    }
    if (!logged_in(a, req)) {
        lc__api_admin_error(req, 401, "log in first");
        return;
    }
    bool own = strcmp(name, "connections") == 0 || strcmp(name, "stats") == 0 ||
               strcmp(name, "tail_token") == 0 || strcmp(name, "playground") == 0;
    if (!own) {
        lc__api_run_request(a, req, name);
        return;
    }
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    cJSON *p = body && len ? cJSON_ParseWithLength(body, len) : cJSON_CreateObject();
    if (!cJSON_IsObject(p))
        lc__api_admin_error(req, 400, "body: expected a JSON object");
    else if (strcmp(name, "connections") == 0)
        admin_connections(a, req, p);
    else if (strcmp(name, "stats") == 0)
        admin_stats(req);
    else if (strcmp(name, "playground") == 0)
        lc__api_playground(a, req, p);
    else
        admin_tail_token(a, req, p);
    cJSON_Delete(p);
}

static void on_admin(lc_http_req_t *req, void *arg)
{
    lc__api_t *a = arg;
    const char *rest = lc_http_req_path(req) + strlen(a->cfg->ops.admin_prefix);
    if (*rest == '\0') {
        /* the page's links are relative to the folder */
        char extra[320];
        snprintf(extra, sizeof(extra), "Location: %s/\r\n", a->cfg->ops.admin_prefix);
        lc_http_respond(req, 302, "text/plain", "", 0, extra);
        return;
    }
    if (*rest != '/') {
        lc_http_respond(req, 404, "text/plain", "Not Found", 9, NULL);
        return;
    }
    while (*rest == '/')
        rest++;
    if (strncmp(rest, "api/", 4) == 0) {
        on_admin_api(a, req, rest + 4);
        return;
    }
    bool post = strcmp(lc_http_req_method(req), "POST") == 0;
    if (strcmp(rest, "login") == 0 && post) {
        on_login(a, req);
        return;
    }
    if (strcmp(rest, "logout") == 0 && post) {
        on_logout(a, req);
        return;
    }
    if (strcmp(lc_http_req_method(req), "GET") != 0) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18, "Allow: GET\r\n");
        return;
    }
    serve_asset(req, *rest ? rest : "index.html");
}

int lc__api_admin_register(lc_router_t *r, lc__api_t *a)
{
    if (!a->cfg->ops.admin_enabled)
        return 0;
    if (a->cfg->ops.admin_insecure)
        lc_log_warn("admin: admin.insecure is on: the admin UI at %s needs no login",
                    a->cfg->ops.admin_prefix);
    if (lc_router_add(r, a->cfg->ops.admin_prefix, true, on_admin, a) != 0)
        return LC_ENOMEM;
    return 0;
}
