/* Server API publish and broadcast (spec §4.2). One engine publish per channel, each answered
 * from its callback, so a synchronous engine (memory) and an asynchronous one go the same way:
 * the command answers when the last channel has. */
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "core/ops.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

/* What publish and broadcast share. data and tags point into the request body and
 * exclude into the parse tree: all of it is needed only until the engine calls return. */
typedef struct pub_params {
    lc_raw_t data;
    lc_raw_t tags;
    bool skip_history;
    bool delta; /* a fossil delta against the previous publication, where allowed */
    const char *idempotency_key;
    const char **exclude;
    size_t n_exclude;
    const char **exclude_users;
    size_t n_exclude_users;
} pub_params_t;

typedef struct pub_op pub_op_t;

typedef struct pub_slot {
    pub_op_t *op;
    uint32_t error;
    lc_publish_res_t res;
} pub_slot_t;

struct pub_op {
    lc__api_cmd_t *cmd;
    bool broadcast;
    size_t n;
    size_t pending; /* channels not answered yet, plus one while starting */
    pub_slot_t slots[];
};

/* A string or a list of strings; the strings stay in the parse tree. 0 or the error code. */
static uint32_t read_id_list(const cJSON *p, const char *key, const char ***out, size_t *n)
{
    const cJSON *ex = cJSON_GetObjectItemCaseSensitive(p, key);
    if (cJSON_IsString(ex)) {
        if (ex->valuestring[0]) {
            if (!(*out = malloc(sizeof(**out))))
                return LC_ERROR_INTERNAL;
            (*out)[(*n)++] = ex->valuestring;
        }
    } else if (cJSON_IsArray(ex)) {
        int cnt = cJSON_GetArraySize(ex);
        if (cnt > 0 && !(*out = calloc((size_t)cnt, sizeof(**out))))
            return LC_ERROR_INTERNAL;
        const cJSON *e;
        cJSON_ArrayForEach(e, ex)
        {
            if (!cJSON_IsString(e))
                return lc__api_bad(key, "expected a string or an array of strings");
            (*out)[(*n)++] = e->valuestring;
        }
    } else if (ex && !cJSON_IsNull(ex)) {
        return lc__api_bad(key, "expected a string or an array of strings");
    }
    return 0;
}

static void pub_params_free(pub_params_t *pp)
{
    free(pp->exclude);
    free(pp->exclude_users);
}

/* Read the fields other than the channel(s). 0 or the error code. */
static uint32_t read_pub_params(const char *params, size_t len, const cJSON *p, pub_params_t *pp)
{
    memset(pp, 0, sizeof(*pp));
    uint32_t code = lc__api_get_raw(params, len, "data", &pp->data);
    if (code)
        return code;
    /* Binary payloads (b64data) cannot reach JSON clients, the only kind Lucent serves. */
    if (!pp->data.p || pp->data.len == 0)
        return lc__api_bad("data", "required (any JSON value; b64data is not supported)");

    const cJSON *tags = cJSON_GetObjectItemCaseSensitive(p, "tags");
    if (tags && !cJSON_IsNull(tags)) {
        if (!cJSON_IsObject(tags))
            return lc__api_bad("tags", "expected an object of strings");
        const cJSON *t;
        cJSON_ArrayForEach(t, tags) if (!cJSON_IsString(t)) return lc__api_bad(
            "tags", "expected an object of strings");
        if (cJSON_GetArraySize(tags) > 0 &&
            (code = lc__api_get_raw(params, len, "tags", &pp->tags)))
            return code;
    }

    /* Accepted with their types checked; Lucent has no versioned publications, so those change
     * nothing. idempotency_key is kept by the Redis engine. */
    const char *s = NULL;
    int64_t v = 0;
    if ((code = lc__api_get_bool(p, "skip_history", &pp->skip_history)) ||
        (code = lc__api_get_str(p, "b64data", &s)) ||
        (code = lc__api_get_str(p, "idempotency_key", &pp->idempotency_key)) ||
        (code = lc__api_get_bool(p, "delta", &pp->delta)) ||
        (code = lc__api_get_int(p, "version", 0, INT64_MAX, &v)) ||
        (code = lc__api_get_str(p, "version_epoch", &s)))
        return code;

    /* exclude_client and exclude_user (Lucent): one id or a list of them, e.g. the sender of
     * a toOthers() broadcast as X-Socket-ID gave it to the backend. */
    if ((code = read_id_list(p, "exclude_client", &pp->exclude, &pp->n_exclude)) ||
        (code = read_id_list(p, "exclude_user", &pp->exclude_users, &pp->n_exclude_users)))
        return code;
    return 0;
}

/* publication_data_format "json_object": data must be an object. Other formats accept any
 * JSON, and data here always is JSON. */
static bool data_format_ok(const lc__api_t *a, const lc_ns_opts_t *ns, lc_raw_t data)
{
    int fmt =
        ns->publication_data_format ? ns->publication_data_format : a->cfg->publication_data_format;
    return fmt != LC_PUB_FORMAT_JSON_OBJECT || data.p[0] == '{';
}

static int append_pub_result(lc_buf_t *b, const lc_publish_res_t *res)
{
    if (!res->epoch[0])
        return lc_buf_append_str(b, "{}");
    int rc = lc_buf_printf(b, "{\"offset\":%llu,\"epoch\":", (unsigned long long)res->offset);
    rc |= lc_buf_append_json_str(b, res->epoch, strlen(res->epoch));
    return rc | lc_buf_putc(b, '}');
}

static void pub_finish(pub_op_t *op)
{
    lc__api_cmd_t *c = op->cmd;
    int rc = 0;
    if (!op->broadcast) {
        uint32_t error = op->slots[0].error;
        if (!error)
            rc = append_pub_result(&c->result, &op->slots[0].res);
        free(op);
        if (error || rc)
            lc__api_fail(c, error ? error : LC_ERROR_INTERNAL);
        else
            lc__api_ok(c);
        return;
    }
    rc = lc_buf_append_str(&c->result, "{\"responses\":[");
    for (size_t i = 0; i < op->n; i++) {
        if (i)
            rc |= lc_buf_putc(&c->result, ',');
        if (op->slots[i].error) {
            rc |= lc__api_append_error(&c->result, op->slots[i].error, true);
        } else {
            rc |= lc_buf_append_str(&c->result, "{\"result\":");
            rc |= append_pub_result(&c->result, &op->slots[i].res);
            rc |= lc_buf_putc(&c->result, '}');
        }
    }
    rc |= lc_buf_append_str(&c->result, "]}");
    free(op);
    if (rc)
        lc__api_fail(c, LC_ERROR_INTERNAL);
    else
        lc__api_ok(c);
}

static void pub_answered(pub_op_t *op)
{
    if (--op->pending == 0)
        pub_finish(op);
}

static void on_published(void *arg, uint32_t code, const lc_publish_res_t *res)
{
    pub_slot_t *s = arg;
    if (code)
        s->error = code;
    else if (res)
        s->res = *res;
    pub_answered(s->op);
}

/* Publish to one channel into slot i; the slot answers now (bad channel, engine refusal) or
 * from the engine's callback. */
static void pub_start(pub_op_t *op, size_t i, const char *ch, const pub_params_t *pp)
{
    lc__api_t *a = op->cmd->api;
    pub_slot_t *s = &op->slots[i];
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    s->op = op;
    s->error = lc__api_channel_opts(a, ch, &scratch, &ns);
    if (!s->error && !data_format_ok(a, ns, pp->data))
        s->error = lc__api_bad("data", "does not match the channel's publication_data_format");
    if (!s->error && lc_config_map_type(ns->subscription_type)) /* keyed writes only */
        s->error = lc__api_bad("channel", "a map channel: use map_publish");
    /* a shared poll channel's clients take items with keys and versions only */
    if (!s->error && ns->subscription_type == LC_SUB_TYPE_SHARED_POLL)
        s->error = lc__api_bad("channel", "a shared poll channel: use shared_poll_publish");
    if (s->error) {
        if (op->broadcast) /* a single publish is logged with its answer */
            lc_log_info("api broadcast to \"%s\": error %u %s", ch, s->error,
                        lc__api_error_message(s->error));
        pub_answered(op);
        return;
    }
    lc_publish_req_t req = {
        .channel = ch,
        .chlen = strlen(ch),
        .pub = {.data = pp->data, .tags = pp->tags},
        .skip_history = pp->skip_history,
        .idempotency_key = pp->idempotency_key,
        .exclude = {.clients = pp->exclude,
                    .n_clients = pp->n_exclude,
                    .users = pp->exclude_users,
                    .n_users = pp->n_exclude_users},
    };
    lc_node_chan_opts(a->node, ns, &req.opts);
    if (pp->delta && req.opts.delta == LC_DELTA_ALLOWED)
        req.opts.delta = LC_DELTA_CANDIDATE;
    /* The sender field of Laravel apps and the Lua broadcast hook apply on the way. */
    int rc = lc_node_api_publish(a->node, &req, on_published, s);
    if (rc != 0) {
        lc_log_error("api publish to %s failed: %s", ch, lc_strerror(rc));
        s->error = LC_ERROR_INTERNAL;
        pub_answered(op);
    }
}

static pub_op_t *pub_op_new(lc__api_cmd_t *c, bool broadcast, size_t n)
{
    pub_op_t *op = calloc(1, sizeof(*op) + n * sizeof(op->slots[0]));
    if (!op)
        return NULL;
    op->cmd = c;
    op->broadcast = broadcast;
    op->n = n;
    op->pending = n + 1;
    return op;
}

void lc__api_publish(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *ch = NULL;
    uint32_t code = lc__api_get_str(p, "channel", &ch);
    if (!code && (!ch || !*ch))
        code = lc__api_bad("channel", "required");
    pub_params_t pp;
    if (!code)
        code = read_pub_params(params, len, p, &pp);
    else
        memset(&pp, 0, sizeof(pp));
    pub_op_t *op = NULL;
    if (!code && !(op = pub_op_new(c, false, 1)))
        code = LC_ERROR_INTERNAL;
    if (code) {
        pub_params_free(&pp);
        lc__api_fail(c, code);
        return;
    }
    pub_start(op, 0, ch, &pp);
    pub_params_free(&pp);
    pub_answered(op);
}

void lc__api_broadcast(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const cJSON *chs = cJSON_GetObjectItemCaseSensitive(p, "channels");
    uint32_t code = 0;
    if (!cJSON_IsArray(chs) || cJSON_GetArraySize(chs) == 0)
        code = lc__api_bad("channels", "required (a non-empty array of strings)");
    const cJSON *e;
    if (!code)
        cJSON_ArrayForEach(e, chs) if (!cJSON_IsString(e)) code =
            lc__api_bad("channels", "expected an array of strings");
    pub_params_t pp;
    if (!code)
        code = read_pub_params(params, len, p, &pp);
    else
        memset(&pp, 0, sizeof(pp));
    pub_op_t *op = NULL;
    if (!code && !(op = pub_op_new(c, true, (size_t)cJSON_GetArraySize(chs))))
        code = LC_ERROR_INTERNAL;
    if (code) {
        pub_params_free(&pp);
        lc__api_fail(c, code);
        return;
    }
    size_t i = 0;
    cJSON_ArrayForEach(e, chs) pub_start(op, i++, e->valuestring, &pp);
    pub_params_free(&pp);
    /* op->pending counts one more than the channels while starting: pub_start never frees it */
    pub_answered(op); // NOLINT(clang-analyzer-unix.Malloc): see above
} // NOLINT(clang-analyzer-unix.Malloc): freed by the last pub_answered
