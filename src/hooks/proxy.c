/* Proxy requests (spec §5.1-§5.2): the JSON body, the forwarded headers, and the call on the
 * worker's HTTP client that turns the backend's answer into a reply.
 *
 * A call owns a small context (the caller's callback and what the log line needs) from the
 * moment the request starts until either its callback has run or the caller cancels it;
 * since a cancelled HTTP request never calls back, lc_proxy_cancel frees the context itself. */
#include "hooks/proxy.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hooks/proxy_internal.h"
#include "proto/json_check.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/log.h"

struct lc_proxy_call {
    lc_httpc_req_t *req;
    lc_proxy_kind kind;
    bool laravel;  /* the answer is Laravel's auth endpoint's */
    bool presence; /* laravel: a presence channel, whose user_info is read */
    lc_proxy_cb cb;
    void *arg;
    char who[200];   /* client, user and channel or method, for the log lines */
    char endpoint[]; /* copied for the log line: the config may be reloaded meanwhile */
};

const char *lc__proxy_kind_name(lc_proxy_kind kind)
{
    switch (kind) {
    case LC_PROXY_CONNECT:
        return "connect";
    case LC_PROXY_REFRESH:
        return "refresh";
    case LC_PROXY_SUBSCRIBE:
        return "subscribe";
    case LC_PROXY_PUBLISH:
        return "publish";
    case LC_PROXY_SUB_REFRESH:
        return "sub_refresh";
    case LC_PROXY_RPC:
        return "rpc";
    }
    return "unknown";
}

/* ---- request body ---- */

static const char *str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* ,"key":"value" */
static int put_str(lc_buf_t *b, const char *key, const char *value)
{
    if (lc_buf_printf(b, ",\"%s\":", key) != 0)
        return LC_ENOMEM;
    value = str_or_empty(value);
    return lc_buf_append_json_str(b, value, strlen(value));
}

/* ,"key":<raw JSON as it came> */
static int put_raw(lc_buf_t *b, const char *key, const lc_raw_t *raw)
{
    if (lc_buf_printf(b, ",\"%s\":", key) != 0)
        return LC_ENOMEM;
    return lc_buf_append(b, raw->p, raw->len);
}

/* `data` as it came, or `b64data` holding its bytes in base64 with binary_encoding. */
static int put_data(lc_buf_t *b, const lc_raw_t *data, bool b64)
{
    char *enc;
    size_t n = 0;
    int rc;

    if (data->p == NULL)
        return 0;
    if (!b64)
        return put_raw(b, "data", data);
    enc = lc_base64_encode(data->p, data->len, &n);
    if (enc == NULL)
        return LC_ENOMEM;
    rc = lc_buf_append_str(b, ",\"b64data\":\"");
    if (rc == 0)
        rc = lc_buf_append(b, enc, n);
    if (rc == 0)
        rc = lc_buf_putc(b, '"');
    free(enc);
    return rc;
}

static int put_channels(lc_buf_t *b, const char *const *channels, size_t n)
{
    if (n == 0)
        return 0;
    if (lc_buf_append_str(b, ",\"channels\":[") != 0)
        return LC_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *ch = str_or_empty(channels[i]);
        if ((i > 0 && lc_buf_putc(b, ',') != 0) || lc_buf_append_json_str(b, ch, strlen(ch)) != 0)
            return LC_ENOMEM;
    }
    return lc_buf_putc(b, ']');
}

/* Field order follows the reference's request messages: common fields, user, channel or
 * method, data, then connect's name/version/channels, then meta. */
int lc_proxy_encode(const lc_proxy_req_t *r, const lc_proxy_conf_t *conf, lc_buf_t *out)
{
    bool connect = r->kind == LC_PROXY_CONNECT;
    bool has_data = connect || r->kind == LC_PROXY_SUBSCRIBE || r->kind == LC_PROXY_PUBLISH ||
                    r->kind == LC_PROXY_RPC;
    const char *client = str_or_empty(r->client);

    if (lc_buf_append_str(out, "{\"client\":") != 0 ||
        lc_buf_append_json_str(out, client, strlen(client)) != 0 ||
        put_str(out, "transport", r->transport) != 0 || put_str(out, "protocol", "json") != 0 ||
        put_str(out, "encoding", conf->binary_encoding ? "binary" : "json") != 0)
        return LC_ENOMEM;
    if (!connect && put_str(out, "user", r->user) != 0)
        return LC_ENOMEM;
    switch (r->kind) {
    case LC_PROXY_SUBSCRIBE:
    case LC_PROXY_PUBLISH:
    case LC_PROXY_SUB_REFRESH:
        if (put_str(out, "channel", r->channel) != 0)
            return LC_ENOMEM;
        break;
    case LC_PROXY_RPC:
        if (put_str(out, "method", r->method) != 0)
            return LC_ENOMEM;
        break;
    default:
        break;
    }
    /* map channels: the key is what a map publish or remove proxy decides about */
    if (r->key && put_str(out, "key", r->key) != 0)
        return LC_ENOMEM;
    if (r->removed && lc_buf_append_str(out, ",\"removed\":true") != 0)
        return LC_ENOMEM;
    if (r->sub_type > 0 && lc_buf_printf(out, ",\"type\":%d", r->sub_type) < 0)
        return LC_ENOMEM;
    if (has_data && !r->removed && put_data(out, &r->data, conf->binary_encoding) != 0)
        return LC_ENOMEM;
    if (connect) {
        if ((r->name != NULL && r->name[0] != '\0' && put_str(out, "name", r->name) != 0) ||
            (r->version != NULL && r->version[0] != '\0' &&
             put_str(out, "version", r->version) != 0) ||
            put_channels(out, r->channels, r->n_channels) != 0)
            return LC_ENOMEM;
    } else if (conf->include_connection_meta && r->meta.p != NULL) {
        /* A connect request has no meta: the connection has none yet. */
        if (put_raw(out, "meta", &r->meta) != 0)
            return LC_ENOMEM;
    }
    return lc_buf_putc(out, '}');
}

/* ---- headers ---- */

static bool in_list(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i] != NULL && strcasecmp(list[i], name) == 0)
            return true;
    }
    return false;
}

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";

    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              strchr(extra, c) != NULL))
            return false;
    }
    return true;
}

/* Emulated headers come from a client's JSON, so a value could try to smuggle a second
 * header line; Content-Type and Content-Length belong to the request being made. */
static bool forwardable(const char *name, const char *value)
{
    return name != NULL && value != NULL && is_token(name) && strpbrk(value, "\r\n") == NULL &&
           strcasecmp(name, "Content-Type") != 0 && strcasecmp(name, "Content-Length") != 0;
}

typedef struct hdr_acc {
    lc_http_header_t *out;
    size_t max;
    size_t n;
    size_t group; /* index where the current group starts */
} hdr_acc_t;

/* Append name: value, first dropping every header of that name an earlier group set. */
static void hdr_add(hdr_acc_t *a, const char *name, const char *value)
{
    if (!forwardable(name, value))
        return;
    for (size_t i = 0; i < a->group;) {
        if (strcasecmp(a->out[i].name, name) == 0) {
            memmove(&a->out[i], &a->out[i + 1], (a->n - i - 1) * sizeof(a->out[0]));
            a->n--;
            a->group--;
        } else {
            i++;
        }
    }
    if (a->n < a->max) {
        a->out[a->n].name = name;
        a->out[a->n].value = value;
        a->n++;
    }
}

size_t lc_proxy_headers(const lc_proxy_conf_t *conf, const lc_proxy_req_t *r, lc_http_header_t *out,
                        size_t max)
{
    hdr_acc_t a = {out, max, 0, 0};

    for (size_t i = 0; i < conf->n_static_headers; i++)
        hdr_add(&a, conf->static_header_names[i], conf->static_header_values[i]);
    a.group = a.n;
    for (size_t i = 0; i < r->n_emulated_headers; i++) {
        const lc_http_header_t *h = &r->emulated_headers[i];
        if (h->name != NULL && in_list(conf->emulated_headers, conf->n_emulated_headers, h->name))
            hdr_add(&a, h->name, h->value);
    }
    a.group = a.n;
    for (size_t i = 0; i < r->n_conn_headers; i++) {
        const lc_http_header_t *h = &r->conn_headers[i];
        if (h->name != NULL && in_list(conf->http_headers, conf->n_http_headers, h->name))
            hdr_add(&a, h->name, h->value);
    }
    return a.n;
}

/* ---- the call ---- */

/* What a result carries to clients goes out inside JSON: raw values were checked by the parser,
 * and decoded b64data/b64info must be JSON text too (every session speaks JSON), or the answer
 * is not used at all rather than relayed as invalid JSON. */
static bool payloads_json(const lc_proxy_reply_t *r)
{
    return (r->data == NULL || lc_json_check(r->data, r->data_len, NULL)) &&
           (r->info == NULL || lc_json_check(r->info, r->info_len, NULL)) &&
           (r->meta == NULL || lc_json_check(r->meta, strlen(r->meta), NULL)) &&
           (r->map.stream_data == NULL ||
            lc_json_check(r->map.stream_data, r->map.stream_data_len, NULL));
}

/* What a backend's unexpected status usually means, for the log line. */
static const char *status_hint(long status, bool laravel)
{
    switch (status) {
    case 419:
        return " (Laravel answered 419: the route is behind CSRF protection; exclude it from "
               "CSRF checks, e.g. validateCsrfTokens(except: ['centrifugo/*']) in "
               "bootstrap/app.php)";
    case 301:
    case 302:
    case 303:
    case 307:
    case 308:
        return " (a redirect, usually to a login page: the request carried no session the "
               "backend accepts; forward the Cookie header with http_headers and check the "
               "route's auth middleware)";
    case 401:
        return laravel ? "" /* a plain refusal */
                       : " (the backend refused the request's credentials: forward Cookie or "
                         "Authorization with http_headers)";
    case 404:
        return " (no route at this URL: check the proxy endpoint's path)";
    case 405:
        return " (the route does not accept POST)";
    default:
        return "";
    }
}

static void on_response(void *arg, const lc_httpc_resp_t *resp)
{
    lc_proxy_call_t *c = arg;
    const char *kind = lc__proxy_kind_name(c->kind);
    const char *body = resp->body != NULL ? resp->body : "";
    lc_proxy_reply_t reply;
    int err;

    memset(&reply, 0, sizeof(reply));
    if (resp->err != 0) {
        err = resp->err;
        lc_log_error("proxy %s %s%s: %s", kind, c->endpoint, c->who,
                     resp->what != NULL ? resp->what : lc_strerror(err));
    } else if (c->laravel) {
        err = lc_proxy_laravel_parse(resp->status, body, resp->body_len, c->presence, &reply);
        if (err == LC_EIO)
            lc_log_error("proxy %s %s%s: unexpected status %ld%s", kind, c->endpoint, c->who,
                         resp->status, status_hint(resp->status, true));
        else if (err != 0)
            lc_log_error("proxy %s %s%s: status %ld with an unusable body: %s", kind, c->endpoint,
                         c->who, resp->status, lc_strerror(err));
    } else if (resp->status != 200) {
        err = LC_EIO;
        lc_log_error("proxy %s %s%s: unexpected status %ld%s", kind, c->endpoint, c->who,
                     resp->status, status_hint(resp->status, false));
    } else {
        err = lc_proxy_parse(c->kind, body, resp->body_len, &reply);
        if (err != 0)
            lc_log_error("proxy %s %s%s: unusable answer: %s", kind, c->endpoint, c->who,
                         err == LC_EINVAL ? "disconnect code outside 3000..4999 or reason "
                                            "longer than 123 bytes"
                                          : lc_strerror(err));
    }
    if (err == 0 && !payloads_json(&reply)) {
        err = LC_EPARSE;
        lc_log_error("proxy %s %s%s: result data, info or stream_data is not valid JSON", kind,
                     c->endpoint, c->who);
    }
    if (err != 0) {
        lc_proxy_reply_free(&reply);
        memset(&reply, 0, sizeof(reply));
    }
    reply.status = resp->err != 0 ? 0 : resp->status;
    c->cb(c->arg, err, &reply);
    lc_proxy_reply_free(&reply);
    free(c);
}

/* " (client X user "u" channel "c")" for the log lines of a call: who the answer was for. */
static void describe(char *out, size_t len, const lc_proxy_req_t *r)
{
    out[0] = '\0';
    if (r == NULL)
        return;
    const char *what = r->channel ? " channel" : r->method ? " method" : "";
    const char *name = r->channel ? r->channel : r->method ? r->method : "";
    snprintf(out, len, " (client %s user \"%s\"%s%s%s%s)", r->client ? r->client : "",
             r->user ? r->user : "", what, *what ? " \"" : "", name, *what ? "\"" : "");
}

lc_proxy_call_t *lc__proxy_start(lc_httpc_t *hc, const lc_proxy_conf_t *conf, lc_proxy_kind kind,
                                 const lc_proxy_req_t *r, bool laravel, bool presence,
                                 lc_httpc_opts_t *o, lc_proxy_cb cb, void *arg)
{
    const char *endpoint = str_or_empty(conf->endpoint);
    size_t elen = strlen(endpoint);
    lc_proxy_call_t *c;

    if (elen == 0) {
        lc_log_error("proxy %s: no endpoint configured", lc__proxy_kind_name(kind));
        return NULL;
    }
    c = malloc(sizeof(*c) + elen + 1);
    if (c == NULL) {
        lc_log_error("proxy %s %s: out of memory", lc__proxy_kind_name(kind), endpoint);
        return NULL;
    }
    c->kind = kind;
    c->laravel = laravel;
    c->presence = presence;
    c->cb = cb;
    c->arg = arg;
    describe(c->who, sizeof(c->who), r);
    memcpy(c->endpoint, endpoint, elen + 1);
    o->url = endpoint;
    o->method = "POST";
    o->timeout_ms = conf->timeout_ms;
    c->req = lc_httpc_request(hc, o, on_response, c);
    if (c->req == NULL) {
        lc_log_error("proxy %s %s: request could not start", lc__proxy_kind_name(kind), endpoint);
        free(c);
        return NULL;
    }
    return c;
}

lc_proxy_call_t *lc_proxy_call(lc_httpc_t *hc, const lc_proxy_conf_t *conf, const lc_proxy_req_t *r,
                               lc_proxy_cb cb, void *arg)
{
    lc_buf_t body = LC_BUF_INIT;
    size_t max = conf->n_static_headers + r->n_emulated_headers + r->n_conn_headers;
    lc_http_header_t *hdrs = calloc(max > 0 ? max : 1, sizeof(*hdrs));
    lc_httpc_opts_t o;
    lc_proxy_call_t *c = NULL;

    if (hdrs == NULL || lc_proxy_encode(r, conf, &body) != 0) {
        lc_log_error("proxy %s %s: out of memory", lc__proxy_kind_name(r->kind),
                     str_or_empty(conf->endpoint));
        goto done;
    }
    memset(&o, 0, sizeof(o));
    o.content_type = "application/json";
    o.headers = hdrs;
    o.n_headers = lc_proxy_headers(conf, r, hdrs, max);
    o.body = body.data;
    o.body_len = body.len;
    c = lc__proxy_start(hc, conf, r->kind, r, false, false, &o, cb, arg);
done:
    free(hdrs);
    lc_buf_free(&body);
    return c;
}

void lc_proxy_cancel(lc_proxy_call_t *c)
{
    if (c == NULL)
        return;
    lc_httpc_cancel(c->req);
    free(c);
}
