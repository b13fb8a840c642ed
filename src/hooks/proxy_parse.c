/* A backend's answer to a proxy request (spec §5.1-§5.2).
 *
 * Types follow the reference server's typed decoding: a field of the wrong JSON type fails the
 * whole answer (even one that would not be used, such as a bad `result` beside an `error`),
 * JSON null counts as absent and unknown keys are ignored. The strict validator checks the
 * text (proto/json_check.h: RFC 8259, UTF-8, bounded depth, no \u0000 outside payloads), cJSON
 * gives typed access; raw JSON values are then cut from the text itself (lc_json_raw_get) so
 * that big integers and number formatting reach clients unchanged. A body that fails is never
 * relayed: the caller answers with its error. */
#include "hooks/proxy.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json_check.h"
#include "util/base64.h"
#include "util/err.h"

/* null is absent */
static const cJSON *member(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNull(it) ? NULL : it;
}

/* One complete, strictly valid JSON text. Names, ids and channels become C strings, so a
 * \u0000 is only accepted inside the payloads (data, info, meta and what they hold); user
 * "bob\u0000x" would otherwise become "bob". */
static cJSON *parse_whole(const char *json, size_t len)
{
    static const char *const payloads[] = {"data", "info", "meta", "stream_data", NULL};
    lc_json_check_t chk;

    if (!lc_json_check(json, len, &chk))
        return NULL;
    if (chk.nul && lc_json_nul_outside(json, len, 2, payloads))
        return NULL;
    return cJSON_ParseWithLength(json, len);
}

/* An integral number within [lo, hi]; integer-valued floats (1.7e9) are accepted. */
static int get_int(const cJSON *obj, const char *key, double lo, double hi, int64_t *v)
{
    const cJSON *it = member(obj, key);
    double d;

    if (it == NULL)
        return 0;
    if (!cJSON_IsNumber(it))
        return LC_EPARSE;
    d = it->valuedouble;
    /* The range check comes first so the cast is defined; NaN fails both compares. */
    if (!(d >= lo && d <= hi) || (double)(int64_t)d != d)
        return LC_EPARSE;
    *v = (int64_t)d;
    return 0;
}

static int get_bool(const cJSON *obj, const char *key, bool *v)
{
    const cJSON *it = member(obj, key);

    if (it == NULL)
        return 0;
    if (!cJSON_IsBool(it))
        return LC_EPARSE;
    *v = cJSON_IsTrue(it);
    return 0;
}

/* A string copied out; when absent *out is a copy of dflt (or stays NULL for dflt NULL). */
static int get_str(const cJSON *obj, const char *key, const char *dflt, char **out)
{
    const cJSON *it = member(obj, key);
    const char *s = dflt;

    if (it != NULL) {
        if (!cJSON_IsString(it) || it->valuestring == NULL)
            return LC_EPARSE;
        s = it->valuestring;
    }
    if (s == NULL)
        return 0;
    *out = strdup(s);
    return *out != NULL ? 0 : LC_ENOMEM;
}

/* n bytes copied with a NUL after them. */
static int dup_mem(const char *p, size_t n, char **out, size_t *outlen)
{
    *out = malloc(n + 1);
    if (*out == NULL)
        return LC_ENOMEM;
    memcpy(*out, p, n);
    (*out)[n] = '\0';
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

/* A base64 string decoded; absent and "" both leave *out NULL (the reference treats an empty
 * b64 value as not given). */
static int get_b64(const cJSON *obj, const char *key, unsigned char **out, size_t *outlen)
{
    const cJSON *it = member(obj, key);

    if (it == NULL)
        return 0;
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return LC_EPARSE;
    if (it->valuestring[0] == '\0')
        return 0;
    *out = lc_base64_decode(it->valuestring, strlen(it->valuestring), outlen);
    return *out != NULL ? 0 : LC_EPARSE;
}

/* What result fields are read from. */
typedef struct src {
    const char *body;
    size_t len;
    const cJSON *res; /* the `result` object */
} src_t;

/* The exact text of result.<key> (NULL when absent). */
static int get_raw(const src_t *s, const char *key, char **out, size_t *outlen)
{
    const char *path[2] = {"result", key};
    lc_raw_t raw = {NULL, 0};
    int rc;

    if (member(s->res, key) == NULL)
        return 0;
    rc = lc_json_raw_get(s->body, s->len, path, 2, &raw);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return LC_EPARSE; /* cJSON saw it, so the scanner must too */
    return dup_mem(raw.p, raw.len, out, outlen);
}

/* `key` as raw JSON, or its base64 twin decoded, which wins. *set tells whether either was
 * given. */
static int get_payload(const src_t *s, const char *key, const char *b64key, char **out,
                       size_t *outlen, bool *set)
{
    unsigned char *dec = NULL;
    int rc = get_b64(s->res, b64key, &dec, outlen);

    if (rc != 0)
        return rc;
    if (dec != NULL) {
        *out = (char *)dec;
        if (set != NULL)
            *set = true;
        return 0;
    }
    rc = get_raw(s, key, out, outlen);
    if (rc == 0 && *out != NULL && set != NULL)
        *set = true;
    return rc;
}

static int get_channels(const cJSON *obj, lc_proxy_reply_t *out)
{
    const cJSON *arr = member(obj, "channels"), *el;
    int n;

    if (arr == NULL)
        return 0;
    if (!cJSON_IsArray(arr))
        return LC_EPARSE;
    n = cJSON_GetArraySize(arr);
    if (n == 0)
        return 0;
    out->channels = calloc((size_t)n, sizeof(*out->channels));
    if (out->channels == NULL)
        return LC_ENOMEM;
    cJSON_ArrayForEach(el, arr)
    {
        if (!cJSON_IsString(el) || el->valuestring == NULL)
            return LC_EPARSE;
        out->channels[out->n_channels] = strdup(el->valuestring);
        if (out->channels[out->n_channels] == NULL)
            return LC_ENOMEM;
        out->n_channels++;
    }
    return 0;
}

/* The `subs` map (channel → options or null), read by the connection token's own parser so
 * both sources give the same entries. The object is handed over as compact text; nested
 * values are re-printed by that parser anyway, so nothing is lost in the round trip. */
static int get_subs(const cJSON *obj, lc_proxy_reply_t *out)
{
    const cJSON *map = member(obj, "subs");
    char *text;
    int rc;

    if (map == NULL)
        return 0;
    text = cJSON_PrintUnformatted(map);
    if (text == NULL)
        return LC_ENOMEM;
    rc = lc_jwt_parse_subs(text, strlen(text), &out->subs, &out->n_subs);
    cJSON_free(text);
    return rc;
}

/* A map publish / remove result's own fields (lc_map_result_t). Types as the reference
 * decodes them; tags must be an object of strings and key_mode one of the modes. */
static int get_map_result(const src_t *s, lc_map_result_t *m)
{
    const cJSON *tags = member(s->res, "tags"), *t;
    int64_t version = 0;
    int rc;

    if ((rc = get_str(s->res, "key", NULL, &m->key)) != 0 ||
        (rc = get_str(s->res, "key_mode", NULL, &m->key_mode)) != 0 ||
        (rc = get_str(s->res, "idempotency_key", NULL, &m->idempotency_key)) != 0 ||
        (rc = get_str(s->res, "version_epoch", NULL, &m->version_epoch)) != 0 ||
        (rc = get_bool(s->res, "delta", &m->delta)) != 0 ||
        (rc = get_int(s->res, "version", 0, 9007199254740992.0, &version)) != 0 ||
        (rc = get_payload(s, "stream_data", "b64stream_data", &m->stream_data, &m->stream_data_len,
                          NULL)) != 0)
        return rc;
    if (member(s->res, "score") != NULL) {
        if ((rc = get_int(s->res, "score", -4.0e18, 4.0e18, &m->score)) != 0)
            return rc;
        m->has_score = true;
    }
    if (tags != NULL) {
        if (!cJSON_IsObject(tags))
            return LC_EPARSE;
        cJSON_ArrayForEach(t, tags) if (!cJSON_IsString(t)) return LC_EPARSE;
        if (cJSON_GetArraySize(tags) > 0 && (rc = get_raw(s, "tags", &m->tags, &m->tags_len)) != 0)
            return rc;
    }
    m->version = (uint64_t)version;
    return lc_map_result_done(m) ? 0 : LC_EPARSE;
}

bool lc_map_result_done(lc_map_result_t *m)
{
    if (m->key_mode != NULL && m->key_mode[0] != '\0' && strcmp(m->key_mode, "if_new") != 0 &&
        strcmp(m->key_mode, "if_exists") != 0)
        return false;
    m->set = m->key || m->tags || m->has_score || (m->key_mode && m->key_mode[0]) ||
             m->stream_data || m->idempotency_key || m->delta || m->version || m->version_epoch;
    return true;
}

void lc_map_result_free(lc_map_result_t *m)
{
    free(m->key);
    free(m->tags);
    free(m->key_mode);
    free(m->stream_data);
    free(m->idempotency_key);
    free(m->version_epoch);
    memset(m, 0, sizeof(*m));
}

/* The result fields `kind` defines (spec §5.2). */
static int read_result(lc_proxy_kind kind, const src_t *s, lc_proxy_reply_t *out)
{
    const cJSON *res = s->res;
    int rc = 0;

    out->has_result = true;
    switch (kind) {
    case LC_PROXY_CONNECT:
        if ((rc = get_str(res, "user", NULL, &out->user)) != 0 ||
            (rc = get_int(res, "expire_at", -9.0e18, 9.0e18, &out->expire_at)) != 0 ||
            (rc = get_payload(s, "info", "b64info", &out->info, &out->info_len, NULL)) != 0 ||
            (rc = get_payload(s, "data", "b64data", &out->data, &out->data_len, NULL)) != 0 ||
            (rc = get_channels(res, out)) != 0 || (rc = get_subs(res, out)) != 0 ||
            (rc = get_raw(s, "meta", &out->meta, NULL)) != 0)
            return rc;
        break;
    case LC_PROXY_REFRESH:
        if ((rc = get_bool(res, "expired", &out->expired)) != 0 ||
            (rc = get_int(res, "expire_at", -9.0e18, 9.0e18, &out->expire_at)) != 0 ||
            (rc = get_payload(s, "info", "b64info", &out->info, &out->info_len, NULL)) != 0 ||
            (rc = get_raw(s, "meta", &out->meta, NULL)) != 0)
            return rc;
        break;
    case LC_PROXY_SUBSCRIBE: {
        char *ov = NULL;
        size_t ovlen = 0;

        if ((rc = get_int(res, "expire_at", -9.0e18, 9.0e18, &out->expire_at)) != 0 ||
            (rc = get_payload(s, "info", "b64info", &out->info, &out->info_len, NULL)) != 0 ||
            (rc = get_payload(s, "data", "b64data", &out->data, &out->data_len, NULL)) != 0 ||
            (rc = get_raw(s, "override", &ov, &ovlen)) != 0)
            return rc;
        if (ov != NULL)
            rc = lc_jwt_parse_override(ov, ovlen, &out->override);
        free(ov);
        break;
    }
    case LC_PROXY_PUBLISH:
        if ((rc = get_payload(s, "data", "b64data", &out->data, &out->data_len, &out->data_set)) !=
                0 ||
            (rc = get_bool(res, "skip_history", &out->skip_history)) != 0 ||
            (rc = get_map_result(s, &out->map)) != 0)
            return rc;
        break;
    case LC_PROXY_SUB_REFRESH:
        if ((rc = get_bool(res, "expired", &out->expired)) != 0 ||
            (rc = get_int(res, "expire_at", -9.0e18, 9.0e18, &out->expire_at)) != 0 ||
            (rc = get_payload(s, "info", "b64info", &out->info, &out->info_len, NULL)) != 0)
            return rc;
        break;
    case LC_PROXY_RPC:
        rc = get_payload(s, "data", "b64data", &out->data, &out->data_len, NULL);
        break;
    default:
        return LC_EINVAL;
    }
    return rc;
}

/* `error` {code, message, temporary} or `disconnect` {code, reason}: read into out. */
static int read_status(const cJSON *obj, bool is_error, lc_proxy_reply_t *out)
{
    int64_t code = 0;
    int rc;

    out->type = is_error ? LC_PROXY_ERROR : LC_PROXY_DISCONNECT;
    if ((rc = get_int(obj, "code", 0, 4294967295.0, &code)) != 0 ||
        (rc = get_str(obj, is_error ? "message" : "reason", "", &out->message)) != 0)
        return rc;
    if (is_error && (rc = get_bool(obj, "temporary", &out->temporary)) != 0)
        return rc;
    /* A disconnect is a WebSocket close frame: an application code 3000-4999 (the server API
     * checks the same) and a reason that fits the frame. A larger code would be cut to 16
     * bits on the wire and the client would fail with a protocol error instead. */
    if (!is_error && (code < LC_DISCONNECT_CODE_MIN || code > LC_DISCONNECT_CODE_MAX ||
                      strlen(out->message) > LC_DISCONNECT_REASON_MAX))
        return LC_EINVAL;
    out->code = (uint32_t)code;
    return 0;
}

int lc_proxy_parse(lc_proxy_kind kind, const char *body, size_t len, lc_proxy_reply_t *out)
{
    const cJSON *res, *err, *disc;
    lc_proxy_reply_t other;
    cJSON *root;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    memset(&other, 0, sizeof(other));
    if (body == NULL || (root = parse_whole(body, len)) == NULL)
        return LC_EPARSE;
    if (!cJSON_IsObject(root)) {
        rc = LC_EPARSE;
        goto done;
    }
    res = member(root, "result");
    err = member(root, "error");
    disc = member(root, "disconnect");
    if ((res != NULL && !cJSON_IsObject(res)) || (err != NULL && !cJSON_IsObject(err)) ||
        (disc != NULL && !cJSON_IsObject(disc))) {
        rc = LC_EPARSE;
        goto done;
    }
    out->type = LC_PROXY_RESULT;
    if (res != NULL) {
        src_t s = {body, len, res};
        if ((rc = read_result(kind, &s, out)) != 0)
            goto done;
    }
    /* Every part present is checked; the one used is disconnect, else error, else result. */
    if (err != NULL && (rc = read_status(err, true, &other)) != 0)
        goto done;
    if (disc != NULL) {
        lc_proxy_reply_free(&other);
        if ((rc = read_status(disc, false, &other)) != 0)
            goto done;
    }
    if (err != NULL || disc != NULL) {
        lc_proxy_reply_free(out);
        *out = other;
        memset(&other, 0, sizeof(other));
    }
done:
    cJSON_Delete(root);
    lc_proxy_reply_free(&other);
    if (rc != 0)
        lc_proxy_reply_free(out);
    return rc;
}

void lc_proxy_reply_free(lc_proxy_reply_t *r)
{
    if (r == NULL)
        return;
    free(r->message);
    free(r->user);
    free(r->info);
    free(r->data);
    for (size_t i = 0; i < r->n_channels; i++)
        free(r->channels[i]);
    free(r->channels);
    lc_conn_subs_free(r->subs, r->n_subs);
    free(r->meta);
    lc_map_result_free(&r->map);
    memset(r, 0, sizeof(*r));
}
