/* Server API: authentication, request decoding and the publish family of methods. Every
 * method answers HTTP 200 with {"result":...} or {"error":{"code":N,"message":...}}; a body
 * that is not JSON gets 400 with error 107 in the body. */
#include "api/api.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto/codec.h"
#include "proto/codes.h"
#include "util/buf.h"
#include "util/ct.h"
#include "util/err.h"
#include "util/log.h"

#define JSON_TYPE "application/json"

typedef struct api_ctx {
    lc_node_t *node;
    const lc_config_t *cfg;
} api_ctx_t;

static void respond_buf(lc_http_req_t *req, int status, lc_buf_t *b)
{
    lc_http_respond(req, status, JSON_TYPE, b->data ? b->data : "", b->len, NULL);
}

static void append_error(lc_buf_t *b, uint32_t code)
{
    lc_buf_printf(b, "{\"error\":{\"code\":%u,\"message\":", code);
    lc_buf_append_json_str(b, lc_error_message(code), strlen(lc_error_message(code)));
    lc_buf_append_str(b, "}}");
}

static void respond_error(lc_http_req_t *req, int status, uint32_t code)
{
    lc_buf_t b = LC_BUF_INIT;
    append_error(&b, code);
    respond_buf(req, status, &b);
    lc_buf_free(&b);
}

/* X-API-Key, else `Authorization: apikey KEY` (scheme case-insensitive), else ?api_key=. */
static bool authorized(const api_ctx_t *a, lc_http_req_t *req)
{
    if (a->cfg->http_api_insecure)
        return true;
    const char *want = a->cfg->http_api_key;
    if (!want || !*want)
        return false;
    const char *got = lc_http_req_header(req, "X-API-Key");
    char qbuf[256];
    if (!got) {
        const char *auth = lc_http_req_header(req, "Authorization");
        if (auth && strncasecmp(auth, "apikey ", 7) == 0) {
            got = auth + 7;
            while (*got == ' ')
                got++;
        }
    }
    if (!got)
        got = lc_http_req_query_param(req, "api_key", qbuf, sizeof(qbuf));
    if (!got)
        return false;
    return lc_ct_equal(got, strlen(got), want, strlen(want));
}

/* --- publish and broadcast ------------------------------------------------------------- */

typedef struct pub_params {
    lc_raw_t data;
    lc_raw_t tags;
    const char **exclude;
    size_t n_exclude;
    char *tags_text;
} pub_params_t;

static void pub_params_free(pub_params_t *p)
{
    free(p->exclude);
    free(p->tags_text);
}

/* Read data, tags and exclude_client of a publish or broadcast body. Returns 0 or the
 * error code to answer. */
static uint32_t read_pub_params(const char *body, size_t len, const cJSON *root, pub_params_t *p)
{
    memset(p, 0, sizeof(*p));
    const char *path[] = {"data"};
    if (lc_json_raw_get(body, len, path, 1, &p->data) != 1 || p->data.len == 0)
        return LC_ERROR_BAD_REQUEST;

    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
    if (tags && !cJSON_IsNull(tags)) {
        if (!cJSON_IsObject(tags))
            return LC_ERROR_BAD_REQUEST;
        const cJSON *t;
        cJSON_ArrayForEach(t, tags) if (!cJSON_IsString(t)) return LC_ERROR_BAD_REQUEST;
        if (cJSON_GetArraySize(tags) > 0) {
            p->tags_text = cJSON_PrintUnformatted(tags);
            if (!p->tags_text)
                return LC_ERROR_INTERNAL;
            p->tags.p = p->tags_text;
            p->tags.len = strlen(p->tags_text);
        }
    }

    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(root, "skip_history");
    if (sh && !cJSON_IsNull(sh) && !cJSON_IsBool(sh))
        return LC_ERROR_BAD_REQUEST;

    /* exclude_client: one client id, or a list of them (the sender of a toOthers()
     * broadcast, as X-Socket-ID gave it to the backend). */
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(root, "exclude_client");
    if (ex && cJSON_IsString(ex)) {
        if (ex->valuestring[0]) {
            p->exclude = malloc(sizeof(*p->exclude));
            if (!p->exclude)
                return LC_ERROR_INTERNAL;
            p->exclude[0] = ex->valuestring;
            p->n_exclude = 1;
        }
    } else if (ex && cJSON_IsArray(ex)) {
        int n = cJSON_GetArraySize(ex);
        if (n > 0) {
            p->exclude = calloc((size_t)n, sizeof(*p->exclude));
            if (!p->exclude)
                return LC_ERROR_INTERNAL;
        }
        const cJSON *e;
        cJSON_ArrayForEach(e, ex)
        {
            if (!cJSON_IsString(e))
                return LC_ERROR_BAD_REQUEST;
            p->exclude[p->n_exclude++] = e->valuestring;
        }
    } else if (ex && !cJSON_IsNull(ex)) {
        return LC_ERROR_BAD_REQUEST;
    }
    return 0;
}

typedef struct pub_result {
    int err;
    lc_publish_res_t res;
} pub_result_t;

static void on_published(void *arg, int err, const lc_publish_res_t *res)
{
    pub_result_t *r = arg;
    r->err = err;
    if (res)
        r->res = *res;
}

/* Publish one channel and append its {"result":..} or {"error":..} to out. */
static void publish_one(api_ctx_t *a, const char *ch, const pub_params_t *p, lc_buf_t *out)
{
    size_t len = strlen(ch);
    if (len == 0 || (int64_t)len > a->cfg->channel_max_length) {
        append_error(out, LC_ERROR_BAD_REQUEST);
        return;
    }
    if (!lc_config_channel_opts(a->cfg, ch, len)) {
        append_error(out, LC_ERROR_UNKNOWN_CHANNEL);
        return;
    }
    lc_publish_req_t req = {
        .channel = ch,
        .chlen = len,
        .pub = {.data = p->data, .tags = p->tags},
        .exclude = {.clients = p->exclude, .n_clients = p->n_exclude},
    };
    /* The memory engine answers synchronously; an asynchronous engine will resume the
     * request from the callback instead. */
    pub_result_t r = {.err = 1};
    int rc = lc_node_publish(a->node, &req, on_published, &r);
    if (rc != 0 || r.err != 0) {
        lc_log_error("api publish to %s failed: %s", ch, lc_strerror(rc ? rc : r.err));
        append_error(out, LC_ERROR_INTERNAL);
        return;
    }
    lc_buf_append_str(out, "{\"result\":{");
    if (r.res.epoch[0]) {
        lc_buf_printf(out, "\"offset\":%llu,\"epoch\":", (unsigned long long)r.res.offset);
        lc_buf_append_json_str(out, r.res.epoch, strlen(r.res.epoch));
    }
    lc_buf_append_str(out, "}}");
}

static void api_publish(api_ctx_t *a, lc_http_req_t *req, const char *body, size_t len,
                        const cJSON *root)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "channel");
    if (!cJSON_IsString(ch) || !ch->valuestring[0]) {
        respond_error(req, 200, LC_ERROR_BAD_REQUEST);
        return;
    }
    pub_params_t p;
    uint32_t code = read_pub_params(body, len, root, &p);
    if (code) {
        pub_params_free(&p);
        respond_error(req, 200, code);
        return;
    }
    lc_buf_t out = LC_BUF_INIT;
    publish_one(a, ch->valuestring, &p, &out);
    pub_params_free(&p);
    respond_buf(req, 200, &out);
    lc_buf_free(&out);
}

static void api_broadcast(api_ctx_t *a, lc_http_req_t *req, const char *body, size_t len,
                          const cJSON *root)
{
    const cJSON *chs = cJSON_GetObjectItemCaseSensitive(root, "channels");
    if (!cJSON_IsArray(chs) || cJSON_GetArraySize(chs) == 0) {
        respond_error(req, 200, LC_ERROR_BAD_REQUEST);
        return;
    }
    const cJSON *c;
    cJSON_ArrayForEach(c, chs) if (!cJSON_IsString(c))
    {
        respond_error(req, 200, LC_ERROR_BAD_REQUEST);
        return;
    }
    pub_params_t p;
    uint32_t code = read_pub_params(body, len, root, &p);
    if (code) {
        pub_params_free(&p);
        respond_error(req, 200, code);
        return;
    }
    lc_buf_t out = LC_BUF_INIT;
    lc_buf_append_str(&out, "{\"result\":{\"responses\":[");
    int i = 0;
    cJSON_ArrayForEach(c, chs)
    {
        if (i++)
            lc_buf_putc(&out, ',');
        publish_one(a, c->valuestring, &p, &out);
    }
    lc_buf_append_str(&out, "]}}");
    pub_params_free(&p);
    respond_buf(req, 200, &out);
    lc_buf_free(&out);
}

/* --- info -------------------------------------------------------------------------------- */

static void api_info(api_ctx_t *a, lc_http_req_t *req, const char *body, size_t len,
                     const cJSON *root)
{
    lc_node_stats_t st;
    lc_node_stats(a->node, &st);
    char host[256] = "";
    const char *name = a->cfg->node_name;
    if (!name || !*name) {
        if (gethostname(host, sizeof(host) - 1) != 0)
            strcpy(host, "lucent");
        name = host;
    }
    lc_buf_t out = LC_BUF_INIT;
    lc_buf_append_str(&out, "{\"result\":{\"nodes\":[{\"uid\":");
    lc_buf_append_json_str(&out, lc_node_uid(a->node), strlen(lc_node_uid(a->node)));
    lc_buf_append_str(&out, ",\"name\":");
    lc_buf_append_json_str(&out, name, strlen(name));
    lc_buf_printf(&out,
                  ",\"version\":\"%s\",\"num_clients\":%llu,\"num_users\":%llu,"
                  "\"num_channels\":%llu,\"num_subs\":%llu,\"uptime\":%lld}]}}",
                  LUCENT_VERSION, (unsigned long long)st.num_clients,
                  (unsigned long long)st.num_users, (unsigned long long)st.num_channels,
                  (unsigned long long)st.num_subs, (long long)st.uptime_s);
    respond_buf(req, 200, &out);
    lc_buf_free(&out);
}

/* --- routing ----------------------------------------------------------------------------- */

typedef void (*api_method_fn)(api_ctx_t *a, lc_http_req_t *req, const char *body, size_t len,
                              const cJSON *root);

static const struct {
    const char *name;
    api_method_fn fn;
} methods[] = {
    {"publish", api_publish},
    {"broadcast", api_broadcast},
    {"info", api_info},
};

static void on_api(lc_http_req_t *req, void *arg)
{
    api_ctx_t *a = arg;
    const char *path = lc_http_req_path(req);
    const char *name = path + strlen(a->cfg->http_api_prefix);
    while (*name == '/')
        name++;

    api_method_fn fn = NULL;
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(name, methods[i].name) == 0)
            fn = methods[i].fn;
    if (strcmp(lc_http_req_method(req), "POST") != 0) {
        lc_http_respond(req, 405, "text/plain", "Method Not Allowed", 18, "Allow: POST\r\n");
        return;
    }
    if (!authorized(a, req)) {
        lc_log_info("api: unauthorized request to %s from %s", path, lc_http_req_remote(req));
        lc_http_respond(req, 401, "text/plain", "", 0, NULL);
        return;
    }
    if (!fn) {
        lc_http_respond(req, 404, "text/plain", "Not Found", 9, NULL);
        return;
    }
    size_t len;
    const char *body = lc_http_req_body(req, &len);
    cJSON *root = body && len ? cJSON_ParseWithLength(body, len) : NULL;
    if (!root || !cJSON_IsObject(root)) {
        lc_log_info("api %s: malformed JSON body from %s", name, lc_http_req_remote(req));
        cJSON_Delete(root);
        respond_error(req, 400, LC_ERROR_BAD_REQUEST);
        return;
    }
    fn(a, req, body, len, root);
    cJSON_Delete(root);
}

static void on_health(lc_http_req_t *req, void *arg)
{
    lc_http_respond(req, 200, JSON_TYPE, "{}", 2, NULL);
}

int lc_api_register(lc_router_t *r, lc_node_t *node)
{
    const lc_config_t *cfg = lc_node_config(node);
    if (cfg->health_enabled && lc_router_add(r, cfg->health_prefix, false, on_health, NULL) != 0)
        return LC_ENOMEM;
    if (cfg->http_api_disabled)
        return 0;
    /* One context for the router's lifetime: the process's. */
    static api_ctx_t ctx;
    ctx.node = node;
    ctx.cfg = cfg;
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/", cfg->http_api_prefix);
    return lc_router_add(r, prefix, true, on_api, &ctx);
}
