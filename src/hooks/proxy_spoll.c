/* The shared poll refresh proxy: request encoding, answer parsing (raw `data` kept byte for
 * byte, so big integers and number formatting survive as for every other payload) and the
 * HTTP call on the worker's client. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/proxy.h"
#include "hooks/proxy_spoll.h"
#include "proto/codec.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/log.h"

int lc_proxy_spoll_encode(const char *channel, size_t chlen, const char *const *keys,
                          const uint64_t *versions, size_t n, lc_buf_t *out)
{
    int rc = lc_buf_append_str(out, "{\"channel\":");
    rc = rc ? rc : lc_buf_append_json_str(out, channel, chlen);
    rc = rc ? rc : lc_buf_append_str(out, ",\"items\":[");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = lc_buf_append_str(out, i ? ",{\"key\":" : "{\"key\":");
        rc = rc ? rc : lc_buf_append_json_str(out, keys[i], strlen(keys[i]));
        if (rc == 0 && versions && versions[i])
            rc = lc_buf_printf(out, ",\"version\":%llu", (unsigned long long)versions[i]);
        rc = rc ? rc : lc_buf_putc(out, '}');
    }
    rc = rc ? rc : lc_buf_append_str(out, "]}");
    return rc ? LC_ENOMEM : 0;
}

/* --- a raw walk over strictly valid JSON ------------------------------------------------ */

static const char *ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* The end of the value at p (valid JSON assumed). */
static const char *value_end(const char *p, const char *e)
{
    int depth = 0;
    bool str = false;
    for (; p < e; p++) {
        char c = *p;
        if (str) {
            if (c == '\\')
                p++;
            else if (c == '"') {
                str = false;
                if (depth == 0)
                    return p + 1;
            }
            continue;
        }
        if (c == '"')
            str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (depth == 0)
                return p;
            if (--depth == 0)
                return p + 1;
        } else if (depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'))
            return p;
    }
    return p;
}

typedef struct span {
    const char *p, *e;
} span_t;

/* Next member of the object whose '{' was consumed: 1 with key (quotes excluded, escapes
 * kept) and value, 0 at '}'. *pp moves past it. */
static int next_member(const char **pp, const char *e, span_t *k, span_t *v)
{
    const char *p = ws(*pp, e);
    if (p < e && *p == ',')
        p = ws(p + 1, e);
    if (p >= e || *p != '"')
        return 0;
    k->p = p + 1;
    k->e = value_end(p, e) - 1;
    p = ws(k->e + 1, e);
    p = ws(p + 1, e); /* ':' */
    v->p = p;
    v->e = value_end(p, e);
    *pp = v->e;
    return 1;
}

static int next_elem(const char **pp, const char *e, span_t *v)
{
    const char *p = ws(*pp, e);
    if (p < e && *p == ',')
        p = ws(p + 1, e);
    if (p >= e || *p == ']')
        return 0;
    v->p = p;
    v->e = value_end(p, e);
    *pp = v->e;
    return 1;
}

static bool key_is(const span_t *k, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(k->e - k->p) == n && memcmp(k->p, name, n) == 0;
}

static bool is_null(const span_t *v)
{
    return v->e - v->p == 4 && memcmp(v->p, "null", 4) == 0;
}

/* A JSON string value without escapes worth decoding (keys, epochs, messages): copied with
 * \" and \\ resolved; other escapes kept as written. */
static char *str_dup(const span_t *v)
{
    if (v->e - v->p < 2 || *v->p != '"')
        return NULL;
    size_t n = (size_t)(v->e - v->p - 2);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    size_t o = 0;
    for (const char *p = v->p + 1; p < v->e - 1; p++) {
        if (*p == '\\' && p + 1 < v->e - 1 && (p[1] == '"' || p[1] == '\\' || p[1] == '/'))
            p++;
        s[o++] = *p;
    }
    s[o] = '\0';
    return s;
}

static int uint_of(const span_t *v, uint64_t *out)
{
    uint64_t x = 0;
    if (v->p >= v->e)
        return LC_EPARSE;
    for (const char *p = v->p; p < v->e; p++) {
        if (*p < '0' || *p > '9' || x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return LC_EPARSE;
        x = x * 10 + (uint64_t)(*p - '0');
    }
    *out = x;
    return 0;
}

/* Everything the items point at is kept in one arena of owned copies. */
typedef struct arena {
    char **v;
    size_t n, cap;
} arena_t;

static char *keep(arena_t *a, char *s)
{
    if (!s)
        return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 16;
        char **nv = realloc(a->v, cap * sizeof(*nv));
        if (!nv) {
            free(s);
            return NULL;
        }
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = s;
    return s;
}

static int parse_item(const span_t *obj, lc_spoll_item_res_t *it, arena_t *a, char **b64)
{
    if (*obj->p != '{')
        return LC_EPARSE;
    const char *p = obj->p + 1;
    span_t k, v;
    bool have_key = false;
    while (next_member(&p, obj->e, &k, &v)) {
        if (key_is(&k, "key")) {
            char *s = keep(a, str_dup(&v));
            if (!s)
                return LC_EPARSE;
            it->key = s;
            it->key_len = strlen(s);
            have_key = true;
        } else if (key_is(&k, "data") && !is_null(&v)) {
            it->data = v.p;
            it->data_len = (size_t)(v.e - v.p);
        } else if (key_is(&k, "b64data") && !is_null(&v)) {
            char *s = str_dup(&v);
            size_t n = 0;
            unsigned char *d = s ? lc_base64_decode(s, strlen(s), &n) : NULL;
            free(s);
            if (!d || !lc_json_valid((const char *)d, n)) {
                free(d);
                return LC_EPARSE;
            }
            *b64 = keep(a, (char *)d);
            if (!*b64)
                return LC_ENOMEM;
            it->data = *b64;
            it->data_len = n;
        } else if (key_is(&k, "version") && !is_null(&v)) {
            if (uint_of(&v, &it->version))
                return LC_EPARSE;
        } else if (key_is(&k, "removed")) {
            it->removed = v.e - v.p == 4 && memcmp(v.p, "true", 4) == 0;
        }
    }
    return have_key && it->key_len > 0 ? 0 : LC_EPARSE;
}

int lc_proxy_spoll_parse(const char *body, size_t len, lc_spoll_reply_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!lc_json_valid(body, len))
        return LC_EPARSE;
    const char *e = body + len;
    const char *p = ws(body, e);
    if (p >= e || *p != '{')
        return LC_EPARSE;
    p++;
    arena_t a = {0};
    span_t k, v, result = {0}, error = {0};
    while (next_member(&p, e, &k, &v)) {
        if (key_is(&k, "result"))
            result = v;
        else if (key_is(&k, "error"))
            error = v;
    }
    int rc = 0;
    /* the text the items point into: a copy, so the HTTP body may go */
    char *copy = malloc(len + 1);
    if (!copy)
        return LC_ENOMEM;
    memcpy(copy, body, len);
    copy[len] = '\0';
    out->storage_ = copy;
    ptrdiff_t shift = copy - body;
    if (error.p && !is_null(&error) && *error.p == '{') {
        out->is_error = true;
        const char *q = error.p + 1;
        while (next_member(&q, error.e, &k, &v)) {
            uint64_t code = 0;
            if (key_is(&k, "code") && uint_of(&v, &code) == 0)
                out->code = code > UINT32_MAX ? UINT32_MAX : (uint32_t)code;
            else if (key_is(&k, "message") && !out->message)
                out->message = str_dup(&v);
        }
        goto done;
    }
    if (!result.p || is_null(&result) || *result.p != '{')
        goto done; /* no result: nothing changed */
    const char *q = result.p + 1;
    span_t items = {0};
    while (next_member(&q, result.e, &k, &v)) {
        if (key_is(&k, "items"))
            items = v;
        else if (key_is(&k, "epoch") && !out->epoch && *v.p == '"')
            out->epoch = str_dup(&v);
    }
    if (items.p && !is_null(&items)) {
        if (*items.p != '[') {
            rc = LC_EPARSE;
            goto done;
        }
        size_t cap = 0;
        const char *r = items.p + 1;
        span_t el;
        while (next_elem(&r, items.e, &el))
            cap++;
        out->items = calloc(cap ? cap : 1, sizeof(*out->items));
        if (!out->items) {
            rc = LC_ENOMEM;
            goto done;
        }
        r = items.p + 1;
        while (rc == 0 && next_elem(&r, items.e, &el)) {
            lc_spoll_item_res_t *it = &out->items[out->n_items];
            char *b64 = NULL;
            rc = parse_item(&el, it, &a, &b64);
            if (rc == 0 && it->data && it->data != b64)
                it->data += shift; /* into the copy */
            if (rc == 0)
                out->n_items++;
        }
    }
done:
    out->arena_ = a.v;
    out->n_arena_ = a.n;
    if (!out->epoch)
        out->epoch = strdup("");
    if (!out->epoch && rc == 0)
        rc = LC_ENOMEM;
    return rc;
}

void lc_proxy_spoll_reply_free(lc_spoll_reply_t *r)
{
    for (size_t i = 0; i < r->n_arena_; i++)
        free(r->arena_[i]);
    free(r->arena_);
    free(r->items);
    free(r->message);
    free(r->epoch);
    free(r->storage_);
    memset(r, 0, sizeof(*r));
}

/* --- the call ----------------------------------------------------------------------------- */

struct lc_spoll_call {
    lc_httpc_req_t *req;
    lc_spoll_cb cb;
    void *arg;
    char what[300]; /* endpoint and channel for the log line */
};

static void on_response(void *arg, const lc_httpc_resp_t *r)
{
    lc_spoll_call_t *c = arg;
    lc_spoll_reply_t reply;
    memset(&reply, 0, sizeof(reply));
    int err = r->err;
    if (err)
        lc_log_warn("shared poll refresh proxy %s: %s", c->what, r->what ? r->what : "failed");
    else if (r->status != 200) {
        lc_log_warn("shared poll refresh proxy %s: HTTP status %ld", c->what, r->status);
        err = LC_EIO;
    } else if ((err = lc_proxy_spoll_parse(r->body, r->body_len, &reply)) != 0) {
        lc_log_warn("shared poll refresh proxy %s: malformed answer (%s)", c->what,
                    lc_strerror(err));
    } else if (reply.is_error) {
        lc_log_warn("shared poll refresh proxy %s: backend error %u %s", c->what, reply.code,
                    reply.message ? reply.message : "");
    }
    c->cb(c->arg, err, err ? NULL : &reply);
    lc_proxy_spoll_reply_free(&reply);
    free(c);
}

lc_spoll_call_t *lc_proxy_spoll_call(lc_httpc_t *hc, const lc_proxy_conf_t *conf,
                                     const char *channel, const char *body, size_t len,
                                     lc_spoll_cb cb, void *arg)
{
    lc_spoll_call_t *c = calloc(1, sizeof(*c));
    size_t max = conf->n_static_headers;
    lc_http_header_t *hdrs = calloc(max ? max : 1, sizeof(*hdrs));
    if (!c || !hdrs) {
        free(c);
        free(hdrs);
        return NULL;
    }
    snprintf(c->what, sizeof(c->what), "%s (channel %s)", conf->endpoint, channel);
    c->cb = cb;
    c->arg = arg;
    lc_proxy_req_t r;
    memset(&r, 0, sizeof(r));
    lc_httpc_opts_t o;
    memset(&o, 0, sizeof(o));
    o.url = conf->endpoint;
    o.content_type = "application/json";
    o.headers = hdrs;
    o.n_headers = lc_proxy_headers(conf, &r, hdrs, max);
    o.body = body;
    o.body_len = len;
    o.timeout_ms = conf->timeout_ms;
    c->req = lc_httpc_request(hc, &o, on_response, c);
    free(hdrs);
    if (!c->req) {
        lc_log_warn("shared poll refresh proxy %s: cannot start the request", c->what);
        free(c);
        return NULL;
    }
    return c;
}

void lc_proxy_spoll_cancel(lc_spoll_call_t *c)
{
    if (!c)
        return;
    lc_httpc_cancel(c->req);
    free(c);
}
