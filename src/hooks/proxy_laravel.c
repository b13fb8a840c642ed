/* Laravel's broadcasting auth endpoint as a subscribe proxy: the channel name in Laravel's
 * form, the form-encoded request pusher-js would send, and the answers of Laravel's drivers
 * (spec laravel.md §2.2-§2.3). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hooks/proxy.h"
#include "hooks/proxy_internal.h"
#include "util/err.h"
#include "util/log.h"

#define PRIVATE_PREFIX "private-"
#define PRESENCE_PREFIX "presence-"

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int lc_proxy_laravel_channel(const char *lucent_channel, lc_buf_t *out)
{
    const char *name = lucent_channel;

    if (name == NULL || name[0] == '\0')
        return LC_EINVAL;
    if (name[0] == '$') {
        /* `$` is Lucent's private prefix: Laravel's private- (or presence-, already named). */
        name++;
        if (name[0] == '\0')
            return LC_EINVAL;
        if (starts_with(name, PRESENCE_PREFIX))
            return lc_buf_append_str(out, name);
    } else if (starts_with(name, PRESENCE_PREFIX) || starts_with(name, PRIVATE_PREFIX)) {
        return lc_buf_append_str(out, name);
    }
    if (lc_buf_append_str(out, PRIVATE_PREFIX) != 0)
        return LC_ENOMEM;
    return lc_buf_append_str(out, name);
}

/* application/x-www-form-urlencoded value: RFC 3986 unreserved bytes kept, the rest %XX. */
static int append_urlencoded(lc_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '-' || c == '.' || c == '_' || c == '~';
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

        if ((keep ? lc_buf_putc(b, (char)c) : lc_buf_append(b, esc, sizeof(esc))) != 0)
            return LC_ENOMEM;
    }
    return 0;
}

/* user_info of a channel_data object (parsed as cd from text json/len), raw, into out->info. */
static int take_user_info(const cJSON *cd, const char *json, size_t len, const char *const *path,
                          size_t depth, lc_proxy_reply_t *out)
{
    const cJSON *ui;
    lc_raw_t raw = {NULL, 0};
    int rc;

    if (!cJSON_IsObject(cd))
        return LC_EPARSE;
    ui = cJSON_GetObjectItemCaseSensitive(cd, "user_info");
    if (ui == NULL || cJSON_IsNull(ui))
        return 0;
    rc = lc_json_raw_get(json, len, path, depth, &raw);
    if (rc <= 0)
        return rc < 0 ? rc : LC_EPARSE;
    out->info = malloc(raw.len + 1);
    if (out->info == NULL)
        return LC_ENOMEM;
    memcpy(out->info, raw.p, raw.len);
    out->info[raw.len] = '\0';
    out->info_len = raw.len;
    return 0;
}

/* channel_data of a presence answer: a string holding JSON (Pusher driver) or an object
 * (Redis driver). */
static int read_channel_data(const cJSON *root, const char *body, size_t len, lc_proxy_reply_t *out)
{
    const cJSON *cd = cJSON_GetObjectItemCaseSensitive(root, "channel_data");
    static const char *const outer[2] = {"channel_data", "user_info"};
    static const char *const inner[1] = {"user_info"};
    const char *text, *end = NULL;
    size_t tlen;
    cJSON *parsed;
    int rc;

    if (cd == NULL || cJSON_IsNull(cd))
        return 0;
    if (cJSON_IsObject(cd))
        return take_user_info(cd, body, len, outer, 2, out);
    if (!cJSON_IsString(cd) || cd->valuestring == NULL)
        return LC_EPARSE;
    text = cd->valuestring;
    tlen = strlen(text);
    parsed = cJSON_ParseWithLengthOpts(text, tlen, &end, 0);
    if (parsed == NULL)
        return LC_EPARSE;
    while (end < text + tlen && (unsigned char)*end <= 32)
        end++;
    rc = end == text + tlen ? take_user_info(parsed, text, tlen, inner, 1, out) : LC_EPARSE;
    cJSON_Delete(parsed);
    return rc;
}

int lc_proxy_laravel_parse(long status, const char *body, size_t len, bool presence,
                           lc_proxy_reply_t *out)
{
    const char *end = NULL, *p;
    cJSON *root;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (status == 401 || status == 403)
        goto denied;
    if (status < 200 || status > 299)
        return LC_EIO;
    out->type = LC_PROXY_RESULT;
    out->has_result = true;
    if (body == NULL)
        return 0;
    for (p = body; p < body + len && (unsigned char)*p <= 32; p++)
        ;
    if (p == body + len)
        return 0; /* an empty 2xx is an approval too */
    /* A body that is not JSON is never taken as an approval: it may be a login page. */
    root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (root == NULL)
        return LC_EPARSE;
    while (end < body + len && (unsigned char)*end <= 32)
        end++;
    if (end != body + len) {
        rc = LC_EPARSE;
    } else if (cJSON_IsFalse(root)) {
        cJSON_Delete(root);
        goto denied; /* no Laravel driver says this, but it can only mean no */
    } else if (presence && cJSON_IsObject(root)) {
        rc = read_channel_data(root, body, len, out);
    }
    cJSON_Delete(root);
    if (rc != 0)
        lc_proxy_reply_free(out);
    return rc;

denied:
    out->type = LC_PROXY_ERROR;
    out->code = 103;
    out->message = strdup("permission denied");
    return out->message != NULL ? 0 : LC_ENOMEM;
}

static bool has_header(const lc_http_header_t *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(h[i].name, name) == 0)
            return true;
    }
    return false;
}

lc_proxy_call_t *lc_proxy_laravel_auth(lc_httpc_t *hc, const lc_proxy_conf_t *conf,
                                       const lc_proxy_req_t *r, lc_proxy_cb cb, void *arg)
{
    lc_buf_t name = LC_BUF_INIT, form = LC_BUF_INIT;
    size_t max = conf->n_static_headers + r->n_emulated_headers + r->n_conn_headers;
    lc_http_header_t *hdrs = calloc(max + 2, sizeof(*hdrs));
    lc_proxy_call_t *c = NULL;
    lc_httpc_opts_t o;
    size_t n;
    int rc;

    rc = hdrs == NULL ? LC_ENOMEM : lc_proxy_laravel_channel(r->channel, &name);
    if (rc == 0 &&
        (lc_buf_append_str(&form, "channel_name=") != 0 ||
         append_urlencoded(&form, name.data) != 0 || lc_buf_append_str(&form, "&socket_id=") != 0 ||
         append_urlencoded(&form, r->client != NULL ? r->client : "") != 0))
        rc = LC_ENOMEM;
    if (rc != 0) {
        lc_log_error("proxy subscribe %s: %s", conf->endpoint != NULL ? conf->endpoint : "",
                     rc == LC_EINVAL ? "no channel name" : lc_strerror(rc));
        goto done;
    }
    n = lc_proxy_headers(conf, r, hdrs, max);
    /* Without these Laravel's auth middleware redirects an unauthenticated request to the
     * login page instead of answering 401; configured values of the same names win. */
    if (!has_header(hdrs, n, "Accept"))
        hdrs[n++] = (lc_http_header_t){"Accept", "application/json"};
    if (!has_header(hdrs, n, "X-Requested-With"))
        hdrs[n++] = (lc_http_header_t){"X-Requested-With", "XMLHttpRequest"};
    memset(&o, 0, sizeof(o));
    o.content_type = "application/x-www-form-urlencoded";
    o.headers = hdrs;
    o.n_headers = n;
    o.body = form.data;
    o.body_len = form.len;
    c = lc__proxy_start(hc, conf, LC_PROXY_SUBSCRIBE, r, true,
                        starts_with(name.data, PRESENCE_PREFIX), &o, cb, arg);
done:
    free(hdrs);
    lc_buf_free(&name);
    lc_buf_free(&form);
    return c;
}
