/* Server API of map channels (Centrifugo v6.8 "Map subscriptions"): map_publish, map_remove,
 * map_read_state, map_read_stream, map_stats and map_clear. The channel must be of a map
 * subscription_type (map, map_clients or map_users); writes are delivered to its subscribers
 * as publications with their key, like a client's map publish. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

/* The engine's answer, copied into the command's result (engine callbacks may run inside the
 * call or later from this worker). */
static lc_engine_t *engine(lc__api_cmd_t *c)
{
    return lc_node_engine(c->api->node);
}

/* What every map method parses first: its channel, the channel's namespace and its effective
 * map options. */
typedef struct {
    const char *ch;
    const lc_ns_opts_t *ns;
    lc_ns_opts_t scratch;
    lc_ns_map_t mo;
} map_target_t;

/* The `channel` of a map channel and its effective map options. */
static uint32_t map_channel(lc__api_cmd_t *c, const cJSON *p, map_target_t *t, lc_map_opts_t *opts)
{
    t->ch = NULL;
    t->ns = NULL;
    memset(&t->mo, 0, sizeof(t->mo));
    memset(opts, 0, sizeof(*opts));
    uint32_t code = lc__api_get_channel(c->api, p, &t->ch, &t->scratch, &t->ns);
    if (code)
        return code;
    if (!lc_config_map_type(t->ns->subscription_type))
        return lc__api_bad("channel", "not a map channel (its namespace's subscription_type)");
    lc_engine_t *e = engine(c);
    if (!e->vt->map_write || !e->vt->map_read)
        return LC_ERROR_NOT_AVAILABLE;
    lc_config_map_effective(c->api->cfg, t->ns, &t->mo);
    lc_node_map_opts(&t->mo, opts);
    return 0;
}

/* A bad parameter answered: true when the method stops there. */
static bool refused(lc__api_cmd_t *c, uint32_t code)
{
    if (!code)
        return false;
    lc__api_fail(c, code);
    return true;
}

/* An engine call on ch that did not start (rc != 0) is an internal error, logged once. */
static void started(lc__api_cmd_t *c, const char *ch, int rc)
{
    if (rc == 0)
        return;
    lc_log_error("api %s on %s: %s", c->method->name, ch, lc_strerror(rc));
    lc__api_fail(c, LC_ERROR_INTERNAL);
}

static uint32_t get_key(const cJSON *p, const lc_ns_map_t *mo, bool required, const char **key)
{
    *key = NULL;
    uint32_t code = lc__api_get_str(p, "key", key);
    if (code)
        return code;
    if (!*key || !**key)
        return required ? lc__api_bad("key", "required") : 0;
    if (strlen(*key) > (size_t)mo->max_key_length)
        return lc__api_bad("key", "longer than map.max_key_length");
    return 0;
}

/* The map channel and its `key`: required by writes, a filter of map_read_state. */
static uint32_t map_channel_key(lc__api_cmd_t *c, const cJSON *p, map_target_t *t,
                                lc_map_opts_t *opts, bool required, const char **key)
{
    uint32_t code = map_channel(c, p, t, opts);
    return code ? code : get_key(p, &t->mo, required, key);
}

/* Binary payloads cannot reach JSON clients, the only kind Lucent serves: refused, not
 * ignored. */
static uint32_t refuse_binary(const cJSON *p)
{
    static const char *const binary[] = {"b64data", "b64stream_data"};
    for (size_t i = 0; i < sizeof(binary) / sizeof(binary[0]); i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(p, binary[i]);
        if (it && !cJSON_IsNull(it) && !(cJSON_IsString(it) && !it->valuestring[0]))
            return lc__api_bad(binary[i], "binary payloads are not supported by Lucent");
    }
    return 0;
}

/* idempotency_key (map_publish and map_remove): a string of at most LC_MAP_IDEM_KEY_MAX bytes. */
static uint32_t get_idem_key(const cJSON *p, lc_map_write_req_t *req)
{
    uint32_t code = lc__api_get_str(p, "idempotency_key", &req->idempotency_key);
    if (!code && req->idempotency_key && strlen(req->idempotency_key) > LC_MAP_IDEM_KEY_MAX)
        code = lc__api_bad("idempotency_key", "longer than 256 bytes");
    return code;
}

/* map_publish's version, version_epoch, stream_data (raw JSON, byte for byte like data) and
 * delta. delta is a hint: a map channel's subscribers get whole values (see README). */
static uint32_t get_write_extras(const char *params, size_t len, const cJSON *p,
                                 const map_target_t *t, lc_map_write_req_t *req)
{
    int64_t version = 0;
    bool delta = false;
    uint32_t code = get_idem_key(p, req);
    if (!code)
        code = lc__api_get_int(p, "version", 0, INT64_MAX, &version);
    if (!code)
        code = lc__api_get_str(p, "version_epoch", &req->version_epoch);
    if (!code && req->version_epoch && strlen(req->version_epoch) > LC_MAP_IDEM_KEY_MAX)
        code = lc__api_bad("version_epoch", "longer than 256 bytes");
    /* as in Centrifugo: versions need a change stream, which map.mode ephemeral has not */
    if (!code && version > 0 && t->mo.mode == LC_MAP_MODE_EPHEMERAL)
        code = lc__api_bad("version", "needs map.mode durable or persistent");
    /* null is absent, as for every field */
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(p, "stream_data");
    if (!code && sd && !cJSON_IsNull(sd))
        code = lc__api_get_raw(params, len, "stream_data", &req->stream_data);
    if (!code && req->stream_data.p && req->stream_data.len == 0)
        code = lc__api_bad("stream_data", "empty");
    if (!code)
        code = lc__api_get_bool(p, "delta", &delta);
    req->version = (uint64_t)version;
    return code;
}

static void on_written(void *arg, int err, const lc_map_write_res_t *res)
{
    lc__api_cmd_t *c = arg;
    if (err == LC_ETOOBIG) {
        /* an engine answering later (Redis) says so here, not from the call */
        lc__api_fail(c, lc__api_bad("key", "the map holds map.max_keys keys"));
        return;
    }
    lc_buf_t *b = &c->result;
    int rc = lc_buf_printf(b, "{\"offset\":%llu", (unsigned long long)res->pos.offset) < 0;
    if (res->pos.epoch[0]) {
        rc |= lc_buf_append_str(b, ",\"epoch\":") != 0;
        rc |= lc_buf_append_json_str(b, res->pos.epoch, strlen(res->pos.epoch)) != 0;
    }
    if (res->suppressed) {
        rc |= lc_buf_append_str(b, ",\"suppressed\":true,\"suppress_reason\":") != 0;
        rc |= lc_buf_append_json_str(b, res->suppress_reason, strlen(res->suppress_reason)) != 0;
    }
    rc |= lc_buf_putc(b, '}') != 0;
    if (rc || err)
        lc__api_fail(c, LC_ERROR_INTERNAL);
    else
        lc__api_ok(c);
}

/* The write (or removal) of key on ch sent to the engine: map_publish and map_remove differ
 * only in what they fill in req before. */
static void write_key(lc__api_cmd_t *c, const char *ch, const char *key, lc_map_write_req_t *req)
{
    req->channel = ch;
    req->chlen = strlen(ch);
    req->key = key;
    req->keylen = strlen(key);
    lc_engine_t *e = engine(c);
    int rc = e->vt->map_write(e, req, on_written, c);
    if (rc == LC_ETOOBIG)
        lc__api_fail(c, lc__api_bad("key", "the map holds map.max_keys keys"));
    else
        started(c, ch, rc);
}

void lc__api_map_publish(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *key = NULL, *mode = NULL;
    map_target_t t;
    lc_map_write_req_t req;
    memset(&req, 0, sizeof(req));
    int64_t score = 0;
    uint32_t code = map_channel_key(c, p, &t, &req.opts, true, &key);
    if (!code)
        code = refuse_binary(p);
    if (!code)
        code = lc__api_get_raw(params, len, "data", &req.pub.data);
    if (!code && !req.pub.data.p)
        code = lc__api_bad("data", "required");
    if (!code)
        code = lc__api_get_int(p, "score", INT64_MIN / 2, INT64_MAX / 2, &score);
    if (!code)
        code = lc__api_get_str(p, "key_mode", &mode);
    if (!code && mode && *mode) {
        if (strcmp(mode, "if_new") == 0)
            req.key_mode = LC_MAP_KEY_IF_NEW;
        else if (strcmp(mode, "if_exists") == 0)
            req.key_mode = LC_MAP_KEY_IF_EXISTS;
        else
            code = lc__api_bad("key_mode", "expected \"if_new\" or \"if_exists\"");
    }
    if (!code)
        code = get_write_extras(params, len, p, &t, &req);
    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(p, "tags");
    if (!code && tags && !cJSON_IsNull(tags)) {
        const cJSON *tag;
        if (!cJSON_IsObject(tags))
            code = lc__api_bad("tags", "expected an object of strings");
        else
            cJSON_ArrayForEach(tag, tags) if (!cJSON_IsString(tag)) code =
                lc__api_bad("tags", "expected an object of strings");
        if (!code && cJSON_GetArraySize(tags) > 0)
            code = lc__api_get_raw(params, len, "tags", &req.pub.tags);
    }
    if (refused(c, code))
        return;
    req.pub.score = score;
    write_key(c, t.ch, key, &req);
}

void lc__api_map_remove(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *key = NULL;
    map_target_t t;
    lc_map_write_req_t req;
    memset(&req, 0, sizeof(req));
    uint32_t code = map_channel_key(c, p, &t, &req.opts, true, &key);
    if (!code)
        code = get_idem_key(p, &req);
    if (refused(c, code))
        return;
    req.remove = true;
    write_key(c, t.ch, key, &req);
}

/* {"entries":[...],"offset":N,"epoch":"E"[,"cursor":".."]} */
static void on_read(void *arg, int err, const lc_map_read_res_t *res)
{
    lc__api_cmd_t *c = arg;
    if (err == LC_EPOS) {
        lc__api_fail(c, LC_ERROR_UNRECOVERABLE_POSITION);
        return;
    }
    if (err == LC_EINVAL) {
        lc__api_fail(c, lc__api_bad("cursor", "not a cursor of this channel"));
        return;
    }
    if (err) {
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    lc_buf_t *b = &c->result;
    int rc = lc_buf_append_str(b, "{\"entries\":[") != 0;
    for (size_t i = 0; i < res->n; i++) {
        if (i)
            rc |= lc_buf_putc(b, ',') != 0;
        rc |= lc_buf_append(b, res->pubs[i]->data, res->pubs[i]->len) != 0;
    }
    rc |= lc_buf_printf(b, "],\"offset\":%llu,\"epoch\":", (unsigned long long)res->top.offset) < 0;
    rc |= lc_buf_append_json_str(b, res->top.epoch, strlen(res->top.epoch)) != 0;
    if (res->cursor && res->cursor[0]) {
        rc |= lc_buf_append_str(b, ",\"cursor\":") != 0;
        rc |= lc_buf_append_json_str(b, res->cursor, strlen(res->cursor)) != 0;
    }
    rc |= lc_buf_putc(b, '}') != 0;
    if (rc)
        lc__api_fail(c, LC_ERROR_INTERNAL);
    else
        lc__api_ok(c);
}

/* The read req of ch sent to the engine, its answer to cb. */
static void read_channel(lc__api_cmd_t *c, const char *ch, lc_map_read_req_t *req,
                         lc_map_read_cb cb)
{
    req->channel = ch;
    req->chlen = strlen(ch);
    lc_engine_t *e = engine(c);
    started(c, ch, e->vt->map_read(e, req, cb, c));
}

void lc__api_map_read_state(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *key = NULL, *cursor = NULL;
    map_target_t t;
    lc_map_read_req_t req;
    memset(&req, 0, sizeof(req));
    int64_t limit = 0;
    uint32_t code = map_channel_key(c, p, &t, &req.opts, false, &key);
    if (!code)
        code = lc__api_get_str(p, "cursor", &cursor);
    if (!code)
        code = lc__api_get_int(p, "limit", 0, INT32_MAX, &limit);
    if (refused(c, code))
        return;
    req.key = key;
    req.cursor = cursor;
    /* a page is at most map.max_page_size entries, whatever was asked */
    req.limit = limit > 0 && limit < t.mo.max_page_size ? (int)limit : t.mo.max_page_size;
    read_channel(c, t.ch, &req, on_read);
}

void lc__api_map_read_stream(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *epoch = NULL;
    map_target_t t;
    lc_map_read_req_t req;
    memset(&req, 0, sizeof(req));
    int64_t limit = -1, since = -1;
    uint32_t code = map_channel(c, p, &t, &req.opts);
    if (!code)
        code = lc__api_get_int(p, "limit", -1, INT32_MAX, &limit);
    if (!code)
        code = lc__api_get_int(p, "since_offset", 0, INT64_MAX / 2, &since);
    if (!code)
        code = lc__api_get_str(p, "since_epoch", &epoch);
    if (refused(c, code))
        return;
    req.stream = true;
    req.limit = limit < 0 || limit > t.mo.max_page_size ? t.mo.max_page_size : (int)limit;
    if (since >= 0 || (epoch && *epoch)) {
        req.has_since = true;
        req.since.offset = since > 0 ? (uint64_t)since : 0;
        snprintf(req.since.epoch, sizeof(req.since.epoch), "%s", epoch ? epoch : "");
    }
    read_channel(c, t.ch, &req, on_read);
}

static void on_stats(void *arg, int err, const lc_map_read_res_t *res)
{
    lc__api_cmd_t *c = arg;
    if (err || lc_buf_printf(&c->result, "{\"num_keys\":%zu}", res->num_keys) < 0)
        lc__api_fail(c, LC_ERROR_INTERNAL);
    else
        lc__api_ok(c);
}

void lc__api_map_stats(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    map_target_t t;
    lc_map_read_req_t req;
    memset(&req, 0, sizeof(req));
    if (refused(c, map_channel(c, p, &t, &req.opts)))
        return;
    req.stream = true; /* position and size only */
    req.limit = 0;
    read_channel(c, t.ch, &req, on_stats);
}

static void on_cleared(void *arg, int err)
{
    lc__api_cmd_t *c = arg;
    if (err)
        lc__api_fail(c, LC_ERROR_INTERNAL);
    else
        lc__api_ok(c);
}

void lc__api_map_clear(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    map_target_t t;
    lc_map_opts_t opts;
    uint32_t code = map_channel(c, p, &t, &opts);
    lc_engine_t *e = engine(c);
    if (!code && !e->vt->map_clear)
        code = LC_ERROR_NOT_AVAILABLE;
    if (refused(c, code))
        return;
    started(c, t.ch, e->vt->map_clear(e, t.ch, strlen(t.ch), on_cleared, c));
}
