/* Reply and push encoders (spec §1.3, §1.5, §1.7). These run for every reply and every
 * publication, so they write straight into the buffer instead of building a cJSON tree.
 * Field order follows the protocol definition; zero values are omitted except where §1.3
 * says a field is always present. A failed call leaves the buffer as it found it. */
#include "proto/codec.h"

#include <string.h>

#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/err.h"

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((rc = (expr)) < 0)                                                                     \
            goto fail;                                                                             \
    } while (0)

/* Append a string literal (key names and punctuation, never escaped). */
#define LIT(b, s) lc_buf_append((b), (s), sizeof(s) - 1)

/* Start a member: a comma unless it is the object's first, then `"name":`. `key` is a
 * literal already carrying its quotes and colon. */
#define FIELD(b, first, key) field((b), (first), (key), sizeof(key) - 1)

static int field(lc_buf_t *b, bool *first, const char *key, size_t n)
{
    if (!*first && lc_buf_putc(b, ',') < 0)
        return LC_ENOMEM;
    *first = false;
    return lc_buf_append(b, key, n);
}

static int append_u64(lc_buf_t *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);

    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return lc_buf_append(b, tmp + i, sizeof(tmp) - i);
}

static int append_i64(lc_buf_t *b, int64_t v)
{
    if (v >= 0)
        return append_u64(b, (uint64_t)v);
    if (lc_buf_putc(b, '-') < 0)
        return LC_ENOMEM;
    return append_u64(b, (uint64_t)0 - (uint64_t)v);
}

static int append_str(lc_buf_t *b, const char *s)
{
    return lc_buf_append_json_str(b, s ? s : "", s ? strlen(s) : 0);
}

static bool str_set(const char *s)
{
    return s && *s;
}

static bool raw_set(const lc_raw_t *r)
{
    return r->p && r->len > 0;
}

/* Whether a raw object is `{}` (possibly with whitespace): Go's omitempty drops empty maps. */
static bool raw_empty_object(const lc_raw_t *r)
{
    size_t i = 0;

    while (i < r->len && (unsigned char)r->p[i] <= 32)
        i++;
    if (i >= r->len || r->p[i++] != '{')
        return false;
    while (i < r->len && (unsigned char)r->p[i] <= 32)
        i++;
    if (i >= r->len || r->p[i++] != '}')
        return false;
    while (i < r->len && (unsigned char)r->p[i] <= 32)
        i++;
    return i == r->len;
}

static int rollback(lc_buf_t *b, size_t start, int rc)
{
    b->len = start;
    if (b->data)
        b->data[start] = '\0';
    return rc;
}

int lc_proto_append_raw(lc_buf_t *b, const char *p, size_t len)
{
    if (len == 0)
        return 0;
    if (memchr(p, '\n', len) == NULL)
        return lc_buf_append(b, p, len);
    /* Payloads are strict JSON (proto/json_check.h), where a raw LF can only be whitespace
     * between tokens: it is dropped so that the newline framing stays intact, as Centrifugo
     * does, and the value is unchanged. Every other byte, CR included, is kept. */
    if (lc_buf_reserve(b, len) < 0)
        return LC_ENOMEM;
    char *out = b->data + b->len;
    for (const char *end = p + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t run = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        memcpy(out, p, run);
        out += run;
        p += run + (nl != NULL ? 1 : 0);
    }
    b->len = (size_t)(out - b->data);
    b->data[b->len] = '\0';
    return 0;
}

int lc_proto_pub_as_string(lc_buf_t *out, const char *json, size_t len, const char *const *path,
                           size_t depth, size_t tail, const char *repl, size_t repl_len, bool delta)
{
    lc_raw_t data;
    size_t start = out->len;
    int rc = lc_json_raw_get(json, len, path, depth, &data);
    if (rc <= 0)
        return rc < 0 ? rc : LC_EPARSE;
    if (len < tail + 1 || json[len - tail - 1] != '}')
        return LC_EPARSE;
    if (!repl) {
        /* the text the plain form carries (newlines dropped), so every encoding agrees */
        lc_buf_t t = LC_BUF_INIT;
        rc = lc_proto_append_raw(&t, data.p, data.len);
        if (rc == 0)
            rc = lc_proto_pub_as_string(out, json, len, path, depth, tail, t.data ? t.data : "",
                                        t.len, delta);
        lc_buf_free(&t);
        return rc;
    }
    if (!lc_utf8_valid(repl, repl_len))
        return LC_EPARSE;
    size_t ds = (size_t)(data.p - json), de = ds + data.len, close = len - tail - 1;
    TRY(lc_buf_append(out, json, ds));
    TRY(lc_buf_append_json_str(out, repl, repl_len));
    TRY(lc_buf_append(out, json + de, close - de));
    TRY(delta ? LIT(out, ",\"delta\":true") : LIT(out, ",\"delta\":false"));
    TRY(lc_buf_append(out, json + close, len - close));
    return 0;
fail:
    return rollback(out, start, rc);
}

/* `{"id":N,"<kind>":` with the id left out when 0. `kind` is a literal key with quotes. */
static int reply_open(lc_buf_t *b, uint32_t id, const char *kind, size_t kind_len)
{
    if (id != 0) {
        if (LIT(b, "{\"id\":") < 0 || append_u64(b, id) < 0 || lc_buf_putc(b, ',') < 0)
            return LC_ENOMEM;
    } else if (lc_buf_putc(b, '{') < 0) {
        return LC_ENOMEM;
    }
    return lc_buf_append(b, kind, kind_len);
}

int lc_proto_reply_error(lc_buf_t *b, uint32_t id, uint32_t code, const char *message,
                         bool temporary)
{
    size_t start = b->len;
    bool first = true;
    int rc;

    if (!message)
        message = lc_error_message(code);
    TRY(reply_open(b, id, "\"error\":{", 9));
    if (code) {
        TRY(FIELD(b, &first, "\"code\":"));
        TRY(append_u64(b, code));
    }
    if (*message) {
        TRY(FIELD(b, &first, "\"message\":"));
        TRY(append_str(b, message));
    }
    if (temporary)
        TRY(FIELD(b, &first, "\"temporary\":true"));
    TRY(LIT(b, "}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_encode_connect_result(lc_buf_t *b, const lc_connect_result_t *r)
{
    size_t start = b->len;
    bool first = true;
    int rc;

    TRY(LIT(b, "{"));
    if (str_set(r->client)) {
        TRY(FIELD(b, &first, "\"client\":"));
        TRY(append_str(b, r->client));
    }
    if (str_set(r->version)) {
        TRY(FIELD(b, &first, "\"version\":"));
        TRY(append_str(b, r->version));
    }
    if (r->expires)
        TRY(FIELD(b, &first, "\"expires\":true"));
    if (r->ttl) {
        TRY(FIELD(b, &first, "\"ttl\":"));
        TRY(append_u64(b, r->ttl));
    }
    if (raw_set(&r->data)) {
        TRY(FIELD(b, &first, "\"data\":"));
        TRY(lc_proto_append_raw(b, r->data.p, r->data.len));
    }
    if (raw_set(&r->subs)) {
        TRY(FIELD(b, &first, "\"subs\":"));
        TRY(lc_buf_append(b, r->subs.p, r->subs.len));
    }
    if (r->ping) {
        TRY(FIELD(b, &first, "\"ping\":"));
        TRY(append_u64(b, r->ping));
    }
    if (r->pong)
        TRY(FIELD(b, &first, "\"pong\":true"));
    if (str_set(r->session)) {
        TRY(FIELD(b, &first, "\"session\":"));
        TRY(append_str(b, r->session));
    }
    if (str_set(r->node)) {
        TRY(FIELD(b, &first, "\"node\":"));
        TRY(append_str(b, r->node));
    }
    if (r->time_ms) {
        TRY(FIELD(b, &first, "\"time\":"));
        TRY(append_i64(b, r->time_ms));
    }
    TRY(LIT(b, "}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_reply_connect(lc_buf_t *b, uint32_t id, const lc_connect_result_t *r)
{
    size_t start = b->len;
    int rc;
    TRY(reply_open(b, id, "\"connect\":", 10));
    TRY(lc_proto_encode_connect_result(b, r));
    TRY(LIT(b, "}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_push_connect(lc_buf_t *b, const lc_connect_result_t *r)
{
    size_t start = b->len;
    int rc;
    TRY(LIT(b, "{\"push\":{\"connect\":"));
    TRY(lc_proto_encode_connect_result(b, r));
    TRY(LIT(b, "}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_encode_subscribe_result(lc_buf_t *b, const lc_subscribe_result_t *r)
{
    size_t start = b->len;
    bool first = true;
    int rc;

    TRY(LIT(b, "{"));
    if (r->expires)
        TRY(FIELD(b, &first, "\"expires\":true"));
    if (r->ttl) {
        TRY(FIELD(b, &first, "\"ttl\":"));
        TRY(append_u64(b, r->ttl));
    }
    if (r->recoverable)
        TRY(FIELD(b, &first, "\"recoverable\":true"));
    if (str_set(r->epoch)) {
        TRY(FIELD(b, &first, "\"epoch\":"));
        TRY(append_str(b, r->epoch));
    }
    if (r->n_publications) {
        static const char *const data_path[1] = {"data"};
        TRY(FIELD(b, &first, "\"publications\":["));
        for (size_t i = 0; i < r->n_publications; i++) {
            const lc_rcbuf_t *p = r->publications[i];
            if (i)
                TRY(LIT(b, ","));
            /* a delta subscriber reads every publication's data as a string */
            if (r->delta)
                TRY(lc_proto_pub_as_string(b, p->data, p->len, data_path, 1, 0, NULL, 0, false));
            else
                TRY(lc_buf_append(b, p->data, p->len));
        }
        TRY(LIT(b, "]"));
    }
    if (r->recovered)
        TRY(FIELD(b, &first, "\"recovered\":true"));
    if (r->offset) {
        TRY(FIELD(b, &first, "\"offset\":"));
        TRY(append_u64(b, r->offset));
    }
    if (r->positioned)
        TRY(FIELD(b, &first, "\"positioned\":true"));
    if (raw_set(&r->data)) {
        TRY(FIELD(b, &first, "\"data\":"));
        TRY(lc_proto_append_raw(b, r->data.p, r->data.len));
    }
    if (r->was_recovering)
        TRY(FIELD(b, &first, "\"was_recovering\":true"));
    if (r->delta)
        TRY(FIELD(b, &first, "\"delta\":true"));
    if (r->publish_debounce) {
        TRY(FIELD(b, &first, "\"publish_debounce\":"));
        TRY(append_u64(b, r->publish_debounce));
    }
    if (r->type) {
        TRY(FIELD(b, &first, "\"type\":"));
        TRY(append_u64(b, (uint64_t)r->type));
    }
    if (r->phase) {
        TRY(FIELD(b, &first, "\"phase\":"));
        TRY(append_u64(b, (uint64_t)r->phase));
    }
    if (str_set(r->cursor)) {
        TRY(FIELD(b, &first, "\"cursor\":"));
        TRY(append_str(b, r->cursor));
    }
    if (r->n_state) {
        TRY(FIELD(b, &first, "\"state\":["));
        for (size_t i = 0; i < r->n_state; i++) {
            if (i)
                TRY(LIT(b, ","));
            TRY(lc_buf_append(b, r->state[i]->data, r->state[i]->len));
        }
        TRY(LIT(b, "]"));
    }
    TRY(LIT(b, "}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_reply_subscribe(lc_buf_t *b, uint32_t id, const lc_subscribe_result_t *r)
{
    size_t start = b->len;
    int rc;
    TRY(reply_open(b, id, "\"subscribe\":", 12));
    TRY(lc_proto_encode_subscribe_result(b, r));
    TRY(LIT(b, "}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_push_subscribe(lc_buf_t *b, const char *channel, const lc_subscribe_result_t *r)
{
    size_t start = b->len;
    int rc;
    TRY(LIT(b, "{\"push\":{\"channel\":"));
    TRY(append_str(b, channel));
    TRY(LIT(b, ",\"subscribe\":"));
    TRY(lc_proto_encode_subscribe_result(b, r));
    TRY(LIT(b, "}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_push_join_leave(lc_buf_t *b, const char *channel, size_t chlen, bool join,
                             const lc_client_info_t *ci)
{
    size_t start = b->len;
    int rc;
    TRY(LIT(b, "{\"push\":{\"channel\":"));
    TRY(lc_buf_append_json_str(b, channel, chlen));
    if (join)
        TRY(LIT(b, ",\"join\":{\"info\":"));
    else
        TRY(LIT(b, ",\"leave\":{\"info\":"));
    TRY(lc_proto_encode_client_info(b, ci));
    TRY(LIT(b, "}}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_push_refresh(lc_buf_t *b, bool expires, uint32_t ttl)
{
    size_t start = b->len;
    bool first = true;
    int rc;
    TRY(LIT(b, "{\"push\":{\"refresh\":{"));
    if (expires)
        TRY(FIELD(b, &first, "\"expires\":true"));
    if (ttl) {
        TRY(FIELD(b, &first, "\"ttl\":"));
        TRY(append_u64(b, ttl));
    }
    TRY(LIT(b, "}}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_reply_empty(lc_buf_t *b, uint32_t id, const char *kind)
{
    size_t start = b->len;
    int rc;

    TRY(reply_open(b, id, "", 0));
    TRY(append_str(b, kind));
    TRY(LIT(b, ":{}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_ping(lc_buf_t *b)
{
    return LIT(b, "{}");
}

int lc_proto_encode_client_info(lc_buf_t *b, const lc_client_info_t *ci)
{
    size_t start = b->len;
    int rc;

    TRY(LIT(b, "{\"user\":"));
    TRY(append_str(b, ci->user));
    TRY(LIT(b, ",\"client\":"));
    TRY(append_str(b, ci->client));
    if (raw_set(&ci->conn_info)) {
        TRY(LIT(b, ",\"conn_info\":"));
        TRY(lc_proto_append_raw(b, ci->conn_info.p, ci->conn_info.len));
    }
    if (raw_set(&ci->chan_info)) {
        TRY(LIT(b, ",\"chan_info\":"));
        TRY(lc_proto_append_raw(b, ci->chan_info.p, ci->chan_info.len));
    }
    TRY(lc_buf_putc(b, '}'));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_encode_publication(lc_buf_t *b, const lc_publication_t *p)
{
    size_t start = b->len;
    bool first = true;
    int rc;

    TRY(lc_buf_putc(b, '{'));
    if (raw_set(&p->data)) {
        TRY(FIELD(b, &first, "\"data\":"));
        TRY(lc_proto_append_raw(b, p->data.p, p->data.len));
    }
    if (p->info) {
        TRY(FIELD(b, &first, "\"info\":"));
        TRY(lc_proto_encode_client_info(b, p->info));
    }
    if (p->offset) {
        TRY(FIELD(b, &first, "\"offset\":"));
        TRY(append_u64(b, p->offset));
    }
    if (raw_set(&p->tags) && !raw_empty_object(&p->tags)) {
        TRY(FIELD(b, &first, "\"tags\":"));
        TRY(lc_proto_append_raw(b, p->tags.p, p->tags.len));
    }
    if (p->key) {
        TRY(FIELD(b, &first, "\"key\":"));
        TRY(lc_buf_append_json_str(b, p->key, p->keylen) < 0 ? LC_ENOMEM : 0);
    }
    if (p->removed)
        TRY(FIELD(b, &first, "\"removed\":true"));
    if (p->score) {
        TRY(FIELD(b, &first, "\"score\":"));
        TRY(lc_buf_printf(b, "%lld", (long long)p->score) < 0 ? LC_ENOMEM : 0);
    }
    TRY(lc_buf_putc(b, '}'));
    return 0;
fail:
    return rollback(b, start, rc);
}

/* `{"push":{"channel":"ch",` — the channel is left out for connection-level pushes. */
static int push_open(lc_buf_t *b, const char *channel, size_t chlen)
{
    if (LIT(b, "{\"push\":{") < 0)
        return LC_ENOMEM;
    if (channel && chlen > 0) {
        if (LIT(b, "\"channel\":") < 0 || lc_buf_append_json_str(b, channel, chlen) < 0 ||
            lc_buf_putc(b, ',') < 0)
            return LC_ENOMEM;
    }
    return 0;
}

int lc_proto_push_pub(lc_buf_t *b, const char *channel, size_t chlen, const lc_publication_t *p)
{
    size_t start = b->len;
    int rc;

    TRY(push_open(b, channel, chlen));
    TRY(LIT(b, "\"pub\":"));
    TRY(lc_proto_encode_publication(b, p));
    TRY(LIT(b, "}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}

int lc_proto_push_unsubscribe(lc_buf_t *b, const char *channel, uint32_t code, const char *reason)
{
    size_t start = b->len;
    bool first = true;
    int rc;

    if (!reason)
        reason = lc_unsubscribe_reason(code);
    TRY(push_open(b, channel, channel ? strlen(channel) : 0));
    TRY(LIT(b, "\"unsubscribe\":{"));
    if (code) {
        TRY(FIELD(b, &first, "\"code\":"));
        TRY(append_u64(b, code));
    }
    if (*reason) {
        TRY(FIELD(b, &first, "\"reason\":"));
        TRY(append_str(b, reason));
    }
    TRY(LIT(b, "}}}"));
    return 0;
fail:
    return rollback(b, start, rc);
}
