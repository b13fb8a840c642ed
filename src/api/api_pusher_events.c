/* POST /apps/{id}/events and /batch_events (spec/pusher-protocol.md §6.3): each event becomes
 * one server API `broadcast` to the app's Lucent channels (channel_prefix + Pusher name), with
 * the event name in the publication's tag `event`, the sender's socket_id as exclude_client (a
 * Pusher connection's client id is its socket_id, so Laravel's toOthers() holds on every node
 * with the Redis engine, where exclusions travel with the publication) and the data mapped as
 * below. `info` counts run beside the publishes, not after them, as Pusher takes them.
 *
 * Data (the mapping the WebSocket side decodes, proto/pusher.h): Pusher's `data` is a string.
 * When its content is JSON other than a string (Laravel sends the payload object) that content
 * is the publication's data byte for byte, so Centrifugo clients get the object; any other
 * string is published as a JSON string holding it. Pusher clients get the same string back. */
#include <stdlib.h>
#include <string.h>

#include "api/api_pusher.h"
#include "proto/pusher.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/err.h"
#include "util/log.h"

/* One info count asked for: attribute attr of channel (Pusher name) of item, by command cmd. */
typedef struct ev_count {
    size_t item;
    char *channel;
    unsigned attr;
    size_t cmd;
} ev_count_t;

typedef struct ev_op {
    lc_http_req_t *req;
    const lc_pusher_app_t *app;
    bool batch;
    bool info; /* some item asked for info */
    size_t n_items;
    lc_buf_t *texts; /* the commands' params, one per command */
    size_t n_texts;
    ev_count_t *counts;
    size_t n_counts;
} ev_op_t;

bool lc__papi_channel_ok(const char *name, size_t len, int max)
{
    return max > 0 && lc_pusher_channel_valid(name, len, (size_t)max);
}

bool lc__papi_is_presence(const char *name)
{
    return strncmp(name, "presence-", 9) == 0;
}

bool lc__papi_info_parse(const char *info, unsigned *bits, char *bad, size_t badlen)
{
    *bits = 0;
    if (!info)
        return true;
    const char *p = info;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 10 && strncmp(p, "user_count", 10) == 0) {
            *bits |= LC__PAPI_USER_COUNT;
        } else if (n == 18 && strncmp(p, "subscription_count", 18) == 0) {
            *bits |= LC__PAPI_SUBSCRIPTION_COUNT;
        } else if (n > 0) {
            snprintf(bad, badlen, "%.*s", (int)(n > 64 ? 64 : n), p);
            return false;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return true;
}

static void op_free(ev_op_t *op)
{
    for (size_t i = 0; i < op->n_texts; i++)
        lc_buf_free(&op->texts[i]);
    free(op->texts);
    for (size_t i = 0; i < op->n_counts; i++)
        free(op->counts[i].channel);
    free(op->counts);
    free(op);
}

/* --- reading the request ------------------------------------------------------------------- */

typedef struct ev_item {
    const char *name;
    const char *data;
    const cJSON *channels; /* array, or NULL with channel set */
    const char *channel;
    const char *socket_id;
    unsigned info;
} ev_item_t;

static bool socket_id_ok(const char *s)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || !dot[1])
        return false;
    for (const char *p = s; *p; p++)
        if (p != dot && (*p < '0' || *p > '9'))
            return false;
    return strlen(s) <= 64;
}

static const char *str_field(const cJSON *o, const char *key, bool *bad)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v))
        return NULL;
    if (!cJSON_IsString(v)) {
        *bad = true;
        return NULL;
    }
    return v->valuestring;
}

/* 0, or the status to answer with why filled. */
static int read_item(const cJSON *o, const lc_pusher_app_t *app, ev_item_t *it, char *why,
                     size_t whylen)
{
    bool bad = false;
    memset(it, 0, sizeof(*it));
    if (!cJSON_IsObject(o)) {
        snprintf(why, whylen, "expected an event object");
        return 400;
    }
    it->name = str_field(o, "name", &bad);
    it->data = str_field(o, "data", &bad);
    it->channel = str_field(o, "channel", &bad);
    it->socket_id = str_field(o, "socket_id", &bad);
    const char *info = str_field(o, "info", &bad);
    const cJSON *chs = cJSON_GetObjectItemCaseSensitive(o, "channels");
    if (bad || (chs && !cJSON_IsNull(chs) && !cJSON_IsArray(chs))) {
        snprintf(why, whylen,
                 "name, data, channel, socket_id and info must be strings, channels "
                 "an array of strings");
        return 400;
    }
    it->channels = cJSON_IsArray(chs) ? chs : NULL;
    if (!it->name || !it->name[0]) {
        snprintf(why, whylen, "name: required");
        return 400;
    }
    if ((int64_t)strlen(it->name) > app->max_event_name_length) {
        snprintf(why, whylen, "name: longer than %d characters", app->max_event_name_length);
        return 400;
    }
    if (!it->data) {
        snprintf(why, whylen, "data: required (a string)");
        return 400;
    }
    if ((int64_t)strlen(it->data) > app->max_event_data_size) {
        snprintf(why, whylen, "data: %zu bytes, over the limit of %d", strlen(it->data),
                 app->max_event_data_size);
        return 413;
    }
    if (it->socket_id && !socket_id_ok(it->socket_id)) {
        snprintf(why, whylen, "socket_id: invalid (expected digits.digits)");
        return 400;
    }
    char attr[80];
    if (!lc__papi_info_parse(info, &it->info, attr, sizeof(attr))) {
        snprintf(why, whylen, "info: unknown attribute \"%s\"", attr);
        return 400;
    }
    int n = it->channels ? cJSON_GetArraySize(it->channels) : it->channel ? 1 : 0;
    if (n == 0) {
        snprintf(why, whylen, "channels: required (channel or a non-empty channels array)");
        return 400;
    }
    if (n > app->max_channels_per_event) {
        snprintf(why, whylen, "channels: %d, over the limit of %d", n, app->max_channels_per_event);
        return 400;
    }
    const cJSON *e;
    if (it->channels) {
        cJSON_ArrayForEach(e, it->channels)
        {
            if (!cJSON_IsString(e) || !lc__papi_channel_ok(e->valuestring, strlen(e->valuestring),
                                                           app->max_channel_name_length)) {
                snprintf(why, whylen, "channels: invalid channel name %.64s",
                         cJSON_IsString(e) ? e->valuestring : "(not a string)");
                return 400;
            }
        }
    } else if (!lc__papi_channel_ok(it->channel, strlen(it->channel),
                                    app->max_channel_name_length)) {
        snprintf(why, whylen, "channel: invalid channel name %.64s", it->channel);
        return 400;
    }
    return 0;
}

/* The publication data for a Pusher data string: the WebSocket side's rule
 * (lc_pusher_data_to_pub), given the string as the JSON value it arrived as. */
static int append_pub_data(lc_buf_t *b, const char *data)
{
    lc_buf_t raw = LC_BUF_INIT;
    int rc = lc_buf_append_json_str(&raw, data, strlen(data));
    if (rc == 0)
        rc = lc_pusher_data_to_pub(raw.data, raw.len, b);
    lc_buf_free(&raw);
    return rc;
}

static int each_channel(const ev_item_t *it, size_t i, const char **out)
{
    if (!it->channels) {
        *out = i == 0 ? it->channel : NULL;
        return *out != NULL;
    }
    const cJSON *e = cJSON_GetArrayItem(it->channels, (int)i);
    *out = e ? e->valuestring : NULL;
    return *out != NULL;
}

/* The broadcast params of one event into b. */
static int broadcast_params(lc_buf_t *b, const lc_pusher_app_t *app, const ev_item_t *it)
{
    int rc = lc_buf_append_str(b, "{\"channels\":[");
    const char *ch;
    for (size_t i = 0; each_channel(it, i, &ch); i++) {
        lc_buf_t name = LC_BUF_INIT;
        rc |= i ? lc_buf_putc(b, ',') : 0;
        rc |= lc_buf_printf(&name, "%s%s", app->channel_prefix, ch);
        rc |= rc ? 0 : lc_buf_append_json_str(b, name.data, name.len);
        lc_buf_free(&name);
    }
    rc |= lc_buf_append_str(b, "],\"data\":");
    rc |= append_pub_data(b, it->data);
    rc |= lc_buf_append_str(b, ",\"tags\":{\"event\":");
    rc |= lc_buf_append_json_str(b, it->name, strlen(it->name));
    rc |= lc_buf_putc(b, '}');
    if (it->socket_id)
        rc |= lc_buf_printf(b, ",\"exclude_client\":\"%s\"", it->socket_id);
    return rc | lc_buf_putc(b, '}');
}

/* --- the answer ------------------------------------------------------------------------------- */

/* The HTTP status for a failed broadcast: 0 when every channel was published. */
static int broadcast_status(const lc__api_cmd_t *c, char *why, size_t whylen)
{
    uint32_t code = c->error;
    if (!code) {
        cJSON *r = cJSON_ParseWithLength(c->result.data, c->result.len);
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "responses"))
        {
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error");
            const cJSON *num = cJSON_GetObjectItemCaseSensitive(err, "code");
            if (cJSON_IsNumber(num) && !code)
                code = (uint32_t)num->valuedouble;
        }
        cJSON_Delete(r);
    }
    if (!code)
        return 0;
    snprintf(why, whylen, "publish failed: %s%s%s", lc__api_error_message(code), c->why ? ": " : "",
             c->why ? c->why : "");
    switch (code) {
    case LC_ERROR_PERMISSION_DENIED:
        return 403;
    case LC_ERROR_BAD_REQUEST:
    case LC_ERROR_UNKNOWN_CHANNEL:
        return 400;
    default:
        return 500;
    }
}

/* Append the counts of item's channels as "name":{"user_count":N,...} (or, for a batch item,
 * the attributes alone). */
static int append_counts(lc_buf_t *b, ev_op_t *op, lc__api_call_t *call, size_t item)
{
    int rc = 0;
    const char *open = NULL; /* the channel whose object is open */
    bool first_ch = true, first_attr = true;
    for (size_t i = 0; i < op->n_counts; i++) {
        ev_count_t *k = &op->counts[i];
        if (k->item != item)
            continue;
        if (!op->batch && (!open || strcmp(open, k->channel) != 0)) {
            rc |= open ? lc_buf_putc(b, '}') : 0;
            rc |= first_ch ? 0 : lc_buf_putc(b, ',');
            rc |= lc_buf_append_json_str(b, k->channel, strlen(k->channel));
            rc |= lc_buf_append_str(b, ":{");
            open = k->channel;
            first_ch = false;
            first_attr = true;
        }
        char lucent[512];
        snprintf(lucent, sizeof(lucent), "%s%s", op->app->channel_prefix, k->channel);
        long long n =
            lc__papi_count_result(lc__api_call_cmd(call, k->cmd), lucent,
                                  k->attr == LC__PAPI_USER_COUNT ? "num_users" : "num_clients");
        if (n < 0)
            return LC_EIO;
        rc |=
            lc_buf_printf(b, "%s\"%s\":%lld", first_attr ? "" : ",",
                          k->attr == LC__PAPI_USER_COUNT ? "user_count" : "subscription_count", n);
        first_attr = false;
    }
    if (open)
        rc |= lc_buf_putc(b, '}');
    return rc;
}

static void on_done(void *arg, lc__api_call_t *call, bool gone)
{
    ev_op_t *op = arg;
    char why[400];
    int status = 0, rc = 0;
    lc_buf_t b = LC_BUF_INIT;
    if (gone)
        goto out;
    for (size_t i = 0; i < op->n_items && !status; i++)
        status = broadcast_status(lc__api_call_cmd(call, i), why, sizeof(why));
    if (status) {
        lc__papi_error(op->req, op->app, status, "%s", why);
        goto out;
    }
    /* Pusher's shapes: {} without info; {"channels":{..}} or {"batch":[{..},..]} with it */
    if (!op->info) {
        rc = lc_buf_append_str(&b, "{}");
    } else if (!op->batch) {
        rc = lc_buf_append_str(&b, "{\"channels\":{");
        rc |= append_counts(&b, op, call, 0);
        rc |= lc_buf_append_str(&b, "}}");
    } else {
        rc = lc_buf_append_str(&b, "{\"batch\":[");
        for (size_t i = 0; i < op->n_items; i++) {
            rc |= lc_buf_append_str(&b, i ? ",{" : "{");
            rc |= append_counts(&b, op, call, i);
            rc |= lc_buf_putc(&b, '}');
        }
        rc |= lc_buf_append_str(&b, "]}");
    }
    if (rc)
        lc__papi_error(op->req, op->app, 500, "counting the channels failed");
    else
        lc__papi_respond(op->req, 200, b.data, b.len);
out:
    lc_buf_free(&b);
    op_free(op);
}

/* --- the request ------------------------------------------------------------------------------ */

/* Give command i the params text texts[i] (parsed; the parse is owned by the command). */
static int set_cmd(lc__api_call_t *call, ev_op_t *op, size_t i, const lc__api_method_t *m)
{
    lc__api_cmd_t *c = lc__api_call_cmd(call, i);
    c->own = cJSON_ParseWithLength(op->texts[i].data, op->texts[i].len);
    if (!c->own)
        return LC_ENOMEM;
    c->method = m;
    c->params = op->texts[i].data;
    c->len = op->texts[i].len;
    c->p = c->own;
    return 0;
}

static int add_count(ev_op_t *op, size_t item, const char *ch, unsigned attr)
{
    ev_count_t *k = realloc(op->counts, (op->n_counts + 1) * sizeof(*k));
    if (!k)
        return LC_ENOMEM;
    op->counts = k;
    k = &op->counts[op->n_counts];
    k->item = item;
    k->attr = attr;
    k->cmd = op->n_items + op->n_counts;
    k->channel = strdup(ch);
    if (!k->channel)
        return LC_ENOMEM;
    op->n_counts++;
    return 0;
}

/* The counts an item asks for: user_count of its presence channels, subscription_count of the
 * others (an attribute that does not apply to a channel's type is left out for it). */
static int plan_counts(ev_op_t *op, size_t item, const ev_item_t *it)
{
    const char *ch;
    for (size_t i = 0; each_channel(it, i, &ch); i++) {
        bool presence = lc__papi_is_presence(ch), seen = false;
        const char *prev;
        for (size_t j = 0; j < i && !seen && each_channel(it, j, &prev); j++)
            seen = strcmp(prev, ch) == 0; /* each channel is counted once */
        if (seen)
            continue;
        int rc = 0;
        if ((it->info & LC__PAPI_USER_COUNT) && presence)
            rc = add_count(op, item, ch, LC__PAPI_USER_COUNT);
        if (!rc && (it->info & LC__PAPI_SUBSCRIPTION_COUNT) && !presence)
            rc = add_count(op, item, ch, LC__PAPI_SUBSCRIPTION_COUNT);
        if (rc)
            return rc;
    }
    return 0;
}

void lc__papi_events(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req, bool batch)
{
    size_t len = 0;
    const char *body = lc_http_req_body(req, &len);
    lc_json_check_t chk;
    if (!body || !len || !lc_json_check_object(body, len, &chk)) {
        lc__papi_error(req, app, 400, "The body is not a JSON object%s%s", body && len ? ": " : "",
                       body && len ? chk.why : "");
        return;
    }
    if (chk.nul) {
        /* names are C strings here, and the data string's content is published as text */
        lc__papi_error(req, app, 400, "Strings holding \\u0000 are not supported");
        return;
    }
    cJSON *root = cJSON_ParseWithLength(body, len);
    const cJSON *items = batch ? cJSON_GetObjectItemCaseSensitive(root, "batch") : NULL;
    size_t n = batch ? (size_t)cJSON_GetArraySize(items) : 1;
    ev_item_t *its = calloc(n ? n : 1, sizeof(*its));
    ev_op_t *op = calloc(1, sizeof(*op));
    lc__api_call_t *call = NULL;
    char why[300];
    int status = 0;
    if (!root || !its || !op) {
        status = 500;
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    if (batch && (!cJSON_IsArray(items) || n == 0)) {
        status = 400;
        snprintf(why, sizeof(why), "batch: required (a non-empty array of events)");
        goto fail;
    }
    if (batch && (int64_t)n > app->max_batch_size) {
        status = 400;
        snprintf(why, sizeof(why), "batch: %zu events, over the limit of %d", n,
                 app->max_batch_size);
        goto fail;
    }
    op->req = req;
    op->app = app;
    op->batch = batch;
    op->n_items = n;
    for (size_t i = 0; i < n; i++) {
        const cJSON *o = batch ? cJSON_GetArrayItem(items, (int)i) : root;
        char w[240];
        if ((status = read_item(o, app, &its[i], w, sizeof(w))) != 0) {
            if (batch)
                snprintf(why, sizeof(why), "batch[%zu]: %s", i, w);
            else
                snprintf(why, sizeof(why), "%s", w);
            goto fail;
        }
        op->info = op->info || its[i].info;
        if (plan_counts(op, i, &its[i]) != 0) {
            status = 500;
            snprintf(why, sizeof(why), "out of memory");
            goto fail;
        }
    }

    size_t ncmd = n + op->n_counts;
    op->texts = calloc(ncmd, sizeof(*op->texts));
    call = op->texts ? lc__api_call_new_internal(a, req, ncmd, NULL, on_done, op) : NULL;
    if (!call) {
        status = 500;
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    op->n_texts = ncmd;
    int rc = 0;
    const lc__api_method_t *bc = lc__api_method_find("broadcast", false);
    for (size_t i = 0; i < n && !rc; i++) {
        rc = broadcast_params(&op->texts[i], app, &its[i]);
        rc = rc ? rc : set_cmd(call, op, i, bc);
    }
    for (size_t i = 0; i < op->n_counts && !rc; i++) {
        ev_count_t *k = &op->counts[i];
        char lucent[512];
        snprintf(lucent, sizeof(lucent), "%s%s", app->channel_prefix, k->channel);
        lc__api_cmd_t *c = lc__api_call_cmd(call, k->cmd);
        lc_buf_t *t = &op->texts[k->cmd];
        rc = k->attr == LC__PAPI_USER_COUNT ? lc__papi_cmd_presence(c, t, lucent, false)
                                            : lc__papi_cmd_subscriptions(c, t, lucent);
    }
    if (rc) {
        lc__api_call_abort(call);
        status = 500;
        snprintf(why, sizeof(why), "out of memory");
        goto fail;
    }
    free(its);
    cJSON_Delete(root); /* the commands have their own texts and parses */
    lc__api_call_run(call, true);
    return;
fail:
    lc__papi_error(req, app, status, "%s", why);
    free(its);
    cJSON_Delete(root);
    if (op)
        op_free(op);
}
