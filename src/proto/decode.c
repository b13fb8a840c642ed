/* Command decoding (spec §1.2–§1.6) and the raw-value finder.
 *
 * A command is checked by the strict validator (proto/json_check.h), then cJSON gives typed
 * access to its fields. Values that must survive
 * byte for byte (`data`, and integers wider than a double's 53 bits such as offsets) are taken
 * from the text itself: a small scanner walks the already validated text to the same member
 * cJSON would return (the first one with that key) and hands out its exact span. */
#include "proto/codec.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json_check.h"
#include "proto/pb_internal.h"
#include "util/err.h"

/* ---- scanner over text that has passed the strict check ---- */

/* Outside strings, valid text holds no byte <= 32 but JSON whitespace. */
static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= 32)
        p++;
    return p;
}

/* p at the opening quote; returns the byte after the closing quote. */
static const char *skip_string(const char *p, const char *end)
{
    p++;
    while (p < end && *p != '"') {
        if (*p == '\\')
            p++;
        p++;
    }
    return p < end ? p + 1 : end;
}

/* Returns the end of the value starting at p (leading whitespace skipped by the caller). */
static const char *skip_value(const char *p, const char *end)
{
    size_t depth = 0;

    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = skip_string(p, end);
            if (depth == 0)
                return p;
        } else if (c == '{' || c == '[') {
            depth++;
            p++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return p;
            p++;
            if (--depth == 0)
                return p;
        } else if (c == ',' || c == ':' || (unsigned char)c <= 32) {
            if (depth == 0)
                return p;
            p++;
        } else {
            p++; /* a byte of a number or literal */
        }
    }
    return p;
}

/* Compare a raw key (with its quotes) with `key` the way cJSON does: on the decoded string,
 * up to its first NUL. Keys with escapes or NUL bytes are rare and decoded by cJSON itself so
 * that both sides always pick the same member. 1 equal, 0 not, LC_ENOMEM. */
static int key_equals(const char *ks, const char *ke, const char *key)
{
    if (ke - ks < 2)
        return 0;

    const char *in = ks + 1;
    size_t n = (size_t)(ke - ks) - 2;

    if (!memchr(in, '\\', n) && !memchr(in, '\0', n))
        return strlen(key) == n && memcmp(in, key, n) == 0;

    cJSON *s = cJSON_ParseWithLength(ks, (size_t)(ke - ks));
    if (!s)
        return LC_ENOMEM; /* the text is valid, so only allocation can fail */
    int eq = cJSON_IsString(s) && strcmp(s->valuestring, key) == 0;
    cJSON_Delete(s);
    return eq;
}

/* p at '{'. Finds the first member named `key`; sets *vs to its value. 1, 0, LC_ENOMEM. */
static int find_member(const char *p, const char *end, const char *key, const char **vs)
{
    p++;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"')
            return 0;
        const char *ks = p;
        p = skip_string(p, end);
        const char *ke = p;
        p = skip_ws(p, end);
        if (p >= end || *p != ':')
            return 0;
        p = skip_ws(p + 1, end);
        int eq = key_equals(ks, ke, key);
        if (eq != 0) {
            *vs = p;
            return eq;
        }
        p = skip_ws(skip_value(p, end), end);
        if (p >= end || *p != ',')
            return 0;
        p++;
    }
}

static int raw_find(const char *json, size_t len, const char *const *path, size_t depth,
                    lc_raw_t *out)
{
    const char *p = json, *end = json + len;

    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* cJSON skips a UTF-8 BOM */
    p = skip_ws(p, end);
    for (size_t i = 0; i < depth; i++) {
        if (p >= end || *p != '{')
            return 0;
        int rc = find_member(p, end, path[i], &p);
        if (rc <= 0)
            return rc;
    }
    const char *ve = skip_value(p, end);
    if (ve == p || (ve - p == 4 && memcmp(p, "null", 4) == 0))
        return 0;
    out->p = p;
    out->len = (size_t)(ve - p);
    return 1;
}

/* Strict JSON (proto/json_check.h): what the JSON protocol relays must be valid JSON and
 * valid UTF-8. */
bool lc_json_valid(const char *p, size_t len)
{
    return lc_json_check(p, len, NULL);
}

int lc_json_raw_get(const char *json, size_t len, const char *const *path, size_t depth,
                    lc_raw_t *out)
{
    if (!lc_json_check(json, len, NULL))
        return LC_EPARSE;
    return raw_find(json, len, path, depth, out);
}

int lc_json_raw_find(const char *json, size_t len, const char *const *path, size_t depth,
                     lc_raw_t *out)
{
    return raw_find(json, len, path, depth, out);
}

/* ---- typed field access ---- */

static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(it) ? NULL : it;
}

static int get_str(const cJSON *obj, const char *key, char **out)
{
    const cJSON *it = member(obj, key);

    if (!it)
        return 0;
    if (!cJSON_IsString(it))
        return LC_EPARSE;
    *out = strdup(it->valuestring);
    return *out ? 0 : LC_ENOMEM;
}

static int get_bool(const cJSON *obj, const char *key, bool *out)
{
    const cJSON *it = member(obj, key);

    if (!it)
        return 0;
    if (!cJSON_IsBool(it))
        return LC_EPARSE;
    *out = cJSON_IsTrue(it);
    return 0;
}

/* An integer from its text: optional '-' (when allowed), then digits only, no fraction or
 * exponent, magnitude <= max. The text is used rather than cJSON's double so that 64-bit
 * offsets keep every digit. */
static int parse_int_text(const lc_raw_t *t, bool allow_neg, uint64_t max, uint64_t *mag, bool *neg)
{
    const char *p = t->p, *end = t->p + t->len;
    uint64_t v = 0;

    *neg = false;
    if (allow_neg && p < end && *p == '-') {
        *neg = true;
        p++;
    }
    if (p >= end)
        return LC_EPARSE;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return LC_EPARSE;
        unsigned d = (unsigned)(*p - '0');
        if (v > (max - d) / 10)
            return LC_EPARSE;
        v = v * 10 + d;
    }
    *mag = v;
    return 0;
}

typedef struct dec {
    const char *text;
    size_t len;
    const char *req; /* name of the request member, first path element */
} dec_t;

/* Unsigned integer member `key` of `obj`, located in the text by `path` (depth elements). */
static int get_uint(const dec_t *d, const cJSON *obj, const char *key, const char *const *path,
                    size_t depth, uint64_t max, uint64_t *out)
{
    const cJSON *it = member(obj, key);
    lc_raw_t t = {0};
    bool neg;

    if (!it)
        return 0;
    if (!cJSON_IsNumber(it))
        return LC_EPARSE;
    int rc = raw_find(d->text, d->len, path, depth, &t);
    if (rc <= 0)
        return rc < 0 ? rc : LC_EPARSE;
    return parse_int_text(&t, false, max, out, &neg);
}

static int get_data(const dec_t *d, lc_raw_t *out)
{
    const char *path[2] = {d->req, "data"};
    int rc = raw_find(d->text, d->len, path, 2, out);
    return rc < 0 ? rc : 0;
}

static int get_u64(const dec_t *d, const cJSON *obj, const char *key, uint64_t *out)
{
    const char *path[2] = {d->req, key};
    return get_uint(d, obj, key, path, 2, UINT64_MAX, out);
}

static int decode_limit(const dec_t *d, const cJSON *req, lc_cmd_t *cmd)
{
    const char *path[2] = {d->req, "limit"};
    const cJSON *it = member(req, "limit");
    lc_raw_t t = {0};
    uint64_t mag;
    bool neg;

    if (!it)
        return 0;
    if (!cJSON_IsNumber(it) || raw_find(d->text, d->len, path, 2, &t) <= 0 ||
        parse_int_text(&t, true, (uint64_t)INT32_MAX + 1, &mag, &neg) < 0)
        return LC_EPARSE;
    if (!neg && mag > INT32_MAX)
        return LC_EPARSE;
    cmd->limit = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    cmd->has_limit = true;
    return 0;
}

static int decode_since(const dec_t *d, const cJSON *req, lc_cmd_t *cmd)
{
    const char *path[3] = {d->req, "since", "offset"};
    const cJSON *since = member(req, "since");
    int rc;

    if (!since)
        return 0;
    if (!cJSON_IsObject(since))
        return LC_EPARSE;
    cmd->has_since = true;
    if ((rc = get_uint(d, since, "offset", path, 3, UINT64_MAX, &cmd->since_offset)) < 0)
        return rc;
    return get_str(since, "epoch", &cmd->since_epoch);
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        if ((rc = (expr)) < 0)                                                                     \
            return rc;                                                                             \
    } while (0)

/* connect `subs`: channel → {recover, offset, epoch} of the client's server-side subs. */
static int decode_connect_subs(const dec_t *d, const cJSON *req, lc_cmd_t *cmd)
{
    const cJSON *subs = member(req, "subs");
    if (!subs)
        return 0;
    if (!cJSON_IsObject(subs))
        return LC_EPARSE;
    int n = cJSON_GetArraySize(subs);
    if (n == 0)
        return 0;
    cmd->subs = calloc((size_t)n, sizeof(*cmd->subs));
    if (!cmd->subs)
        return LC_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, subs)
    {
        if (cJSON_IsNull(it))
            continue;
        if (!cJSON_IsObject(it) || !it->string)
            return LC_EPARSE;
        lc_cmd_sub_t *cs = &cmd->subs[cmd->n_subs++];
        cs->channel = strdup(it->string);
        if (!cs->channel)
            return LC_ENOMEM;
        int rc;
        const char *path[4] = {d->req, "subs", it->string, "offset"};
        if ((rc = get_bool(it, "recover", &cs->recover)) < 0 ||
            (rc = get_str(it, "epoch", &cs->epoch)) < 0 ||
            (rc = get_uint(d, it, "offset", path, 4, UINT64_MAX, &cs->offset)) < 0)
            return rc;
    }
    return 0;
}

/* connect `headers`: a map of strings (headers emulation). */
static int decode_connect_headers(const cJSON *req, lc_cmd_t *cmd)
{
    const cJSON *hs = member(req, "headers");
    if (!hs)
        return 0;
    if (!cJSON_IsObject(hs))
        return LC_EPARSE;
    int n = cJSON_GetArraySize(hs);
    if (n == 0)
        return 0;
    cmd->headers = calloc((size_t)n, sizeof(*cmd->headers));
    if (!cmd->headers)
        return LC_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, hs)
    {
        if (!cJSON_IsString(it) || !it->string)
            return LC_EPARSE;
        lc_kv_t *kv = &cmd->headers[cmd->n_headers++];
        kv->key = strdup(it->string);
        kv->value = strdup(it->valuestring);
        if (!kv->key || !kv->value)
            return LC_ENOMEM;
    }
    return 0;
}

const lc_cmd_sub_t *lc_cmd_find_sub(const lc_cmd_t *cmd, const char *channel)
{
    for (size_t i = 0; i < cmd->n_subs; i++)
        if (strcmp(cmd->subs[i].channel, channel) == 0)
            return &cmd->subs[i];
    return NULL;
}

/* A small integer member (flag bits, subscription type). */
static int get_small_int(const cJSON *obj, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    const cJSON *it = member(obj, key);
    if (!it)
        return 0;
    /* the range first: casting a double beyond int64_t is undefined */
    if (!cJSON_IsNumber(it) || !(it->valuedouble >= (double)lo && it->valuedouble <= (double)hi) ||
        it->valuedouble != (double)(int64_t)it->valuedouble)
        return LC_EPARSE;
    *out = (int64_t)it->valuedouble;
    return 0;
}

/* subscribe `flag`, `delta`, `type` and `tf` (the tag filter kept as compact JSON text). */
static int decode_sub_extras(const cJSON *req, lc_cmd_t *cmd)
{
    int64_t v = 0;
    int rc;
    if ((rc = get_small_int(req, "flag", 0, (int64_t)1 << 52, &v)) < 0)
        return rc;
    cmd->flag = v;
    v = 0;
    if ((rc = get_small_int(req, "type", INT32_MIN, INT32_MAX, &v)) < 0)
        return rc;
    cmd->sub_type = (int32_t)v;
    if ((rc = get_str(req, "delta", &cmd->delta)) < 0)
        return rc;
    const cJSON *tf = member(req, "tf");
    if (tf) {
        if (!cJSON_IsObject(tf))
            return LC_EPARSE;
        char *s = cJSON_PrintUnformatted(tf);
        cmd->tf = s ? strdup(s) : NULL;
        cJSON_free(s);
        if (!cmd->tf)
            return LC_ENOMEM;
    }
    return 0;
}

/* Map subscriptions (v6.8): subscribe `phase`, `cursor`, `limit` (the page size). */
static int decode_map_sub(const dec_t *d, const cJSON *req, lc_cmd_t *cmd)
{
    int64_t v = 0;
    int rc;
    if ((rc = get_small_int(req, "phase", INT32_MIN, INT32_MAX, &v)) < 0)
        return rc;
    cmd->phase = (int32_t)v;
    if ((rc = get_str(req, "cursor", &cmd->cursor)) < 0)
        return rc;
    return decode_limit(d, req, cmd);
}

/* Map publish (v6.8): publish `type` 1 with `key` and `removed`. */
static int decode_map_pub(const cJSON *req, lc_cmd_t *cmd)
{
    int64_t v = 0;
    int rc;
    if ((rc = get_small_int(req, "type", INT32_MIN, INT32_MAX, &v)) < 0)
        return rc;
    cmd->pub_type = (int32_t)v;
    if ((rc = get_str(req, "key", &cmd->key)) < 0)
        return rc;
    return get_bool(req, "removed", &cmd->removed);
}

static int decode_request(const dec_t *d, const cJSON *req, lc_cmd_t *cmd)
{
    int rc;

    switch (cmd->type) {
    case LC_CMD_CONNECT:
        TRY(get_str(req, "token", &cmd->token));
        TRY(get_str(req, "name", &cmd->name));
        TRY(get_str(req, "version", &cmd->version));
        TRY(get_data(d, &cmd->data));
        TRY(decode_connect_subs(d, req, cmd));
        TRY(decode_connect_headers(req, cmd));
        break;
    case LC_CMD_SUBSCRIBE:
        TRY(get_str(req, "channel", &cmd->channel));
        TRY(get_str(req, "token", &cmd->token));
        TRY(get_bool(req, "recover", &cmd->recover));
        TRY(get_str(req, "epoch", &cmd->epoch));
        TRY(get_u64(d, req, "offset", &cmd->offset));
        TRY(get_data(d, &cmd->data));
        TRY(get_bool(req, "positioned", &cmd->positioned));
        TRY(get_bool(req, "recoverable", &cmd->recoverable));
        TRY(get_bool(req, "join_leave", &cmd->join_leave));
        TRY(decode_sub_extras(req, cmd));
        TRY(decode_map_sub(d, req, cmd));
        break;
    case LC_CMD_UNSUBSCRIBE:
    case LC_CMD_PRESENCE:
    case LC_CMD_PRESENCE_STATS:
        TRY(get_str(req, "channel", &cmd->channel));
        break;
    case LC_CMD_PUBLISH:
        TRY(get_str(req, "channel", &cmd->channel));
        TRY(get_data(d, &cmd->data));
        TRY(decode_map_pub(req, cmd));
        break;
    case LC_CMD_HISTORY:
        TRY(get_str(req, "channel", &cmd->channel));
        TRY(decode_limit(d, req, cmd));
        TRY(decode_since(d, req, cmd));
        TRY(get_bool(req, "reverse", &cmd->reverse));
        break;
    case LC_CMD_RPC:
        TRY(get_str(req, "method", &cmd->method));
        TRY(get_data(d, &cmd->data));
        break;
    case LC_CMD_SEND:
        TRY(get_data(d, &cmd->data));
        break;
    case LC_CMD_REFRESH:
        TRY(get_str(req, "token", &cmd->token));
        break;
    case LC_CMD_SUB_REFRESH:
        TRY(get_str(req, "channel", &cmd->channel));
        TRY(get_str(req, "token", &cmd->token));
        TRY(lc__decode_track_json(req, cmd));
        break;
    case LC_CMD_NONE:
    default: /* Pusher events never come from this decoder (proto/pusher.c) */
        break;
    }
    return 0;
}

#undef TRY

/* Request members in the order the server picks them (spec §1.3): the first non-null wins. */
static const struct {
    const char *name;
    lc_cmd_type type;
} requests[] = {
    {"connect", LC_CMD_CONNECT},
    {"subscribe", LC_CMD_SUBSCRIBE},
    {"unsubscribe", LC_CMD_UNSUBSCRIBE},
    {"publish", LC_CMD_PUBLISH},
    {"presence", LC_CMD_PRESENCE},
    {"presence_stats", LC_CMD_PRESENCE_STATS},
    {"history", LC_CMD_HISTORY},
    {"rpc", LC_CMD_RPC},
    {"send", LC_CMD_SEND},
    {"refresh", LC_CMD_REFRESH},
    {"sub_refresh", LC_CMD_SUB_REFRESH},
};

static int decode_line(const char *line, size_t n, lc_cmd_t *cmd)
{
    static const char *const data_only[] = {"data", NULL};
    static const char *const id_path[1] = {"id"};
    dec_t d = {0};
    cJSON *root = NULL;
    const cJSON *req = NULL;
    uint64_t id = 0;
    int rc = LC_ENOMEM;

    /* The raw values handed out point into this copy, so the caller's frame may go away. */
    cmd->storage_ = malloc(n + 1);
    if (!cmd->storage_)
        goto fail;
    memcpy(cmd->storage_, line, n);
    cmd->storage_[n] = '\0';
    d.text = cmd->storage_;
    d.len = n;

    /* Strict JSON, and no \u0000 anywhere but inside `data`: every other string becomes a C
     * string (a channel "room\u0000x" would turn into "room"). */
    rc = LC_EPARSE;
    lc_json_check_t chk;
    if (!lc_json_check_object(d.text, n, &chk))
        goto fail;
    if (chk.nul && lc_json_nul_outside(d.text, n, 2, data_only))
        goto fail;
    root = cJSON_ParseWithLength(d.text, n);
    if (!cJSON_IsObject(root))
        goto fail;
    if ((rc = get_uint(&d, root, "id", id_path, 1, UINT32_MAX, &id)) < 0)
        goto fail;
    cmd->id = (uint32_t)id;

    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        req = member(root, requests[i].name);
        if (req) {
            d.req = requests[i].name;
            cmd->type = requests[i].type;
            break;
        }
    }
    if (req && !cJSON_IsObject(req)) {
        rc = LC_EPARSE;
        goto fail;
    }
    if ((rc = decode_request(&d, req, cmd)) < 0)
        goto fail;
    cJSON_Delete(root);
    return 1;

fail:
    cJSON_Delete(root);
    lc_cmd_free(cmd);
    return rc;
}

void lc_cmd_reader_init(lc_cmd_reader_t *r, const char *data, size_t len)
{
    r->p = data;
    r->end = data ? data + len : data;
    r->pb = false;
}

void lc_cmd_reader_init_pb(lc_cmd_reader_t *r, const char *data, size_t len)
{
    lc_cmd_reader_init(r, data, len);
    r->pb = true;
}

int lc_cmd_reader_next(lc_cmd_reader_t *r, lc_cmd_t *cmd)
{
    if (r->pb)
        return lc__pb_cmd_next(r, cmd);
    memset(cmd, 0, sizeof(*cmd));
    if (r->p >= r->end)
        return 0;

    const char *line = r->p;
    const char *nl = memchr(line, '\n', (size_t)(r->end - line));
    size_t n;
    if (nl) {
        n = (size_t)(nl - line);
        r->p = nl + 1;
    } else {
        n = (size_t)(r->end - line);
        r->p = r->end;
    }
    if (n > 0 && line[n - 1] == '\r')
        n--;
    /* Exactly one '\n' separates objects: an empty line is a framing error. */
    if (n == 0)
        return LC_EPARSE;
    return decode_line(line, n, cmd);
}

void lc_cmd_free(lc_cmd_t *cmd)
{
    free(cmd->token);
    free(cmd->channel);
    free(cmd->method);
    free(cmd->name);
    free(cmd->version);
    free(cmd->epoch);
    free(cmd->since_epoch);
    free(cmd->delta);
    free(cmd->tf);
    free(cmd->cursor);
    free(cmd->key);
    for (size_t i = 0; i < cmd->n_subs; i++) {
        free(cmd->subs[i].channel);
        free(cmd->subs[i].epoch);
    }
    free(cmd->subs);
    for (size_t i = 0; i < cmd->n_headers; i++) {
        free(cmd->headers[i].key);
        free(cmd->headers[i].value);
    }
    free(cmd->headers);
    free(cmd->channel_data);
    lc__track_free(cmd);
    free(cmd->storage_);
    memset(cmd, 0, sizeof(*cmd));
}
