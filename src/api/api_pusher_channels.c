/* The Pusher HTTP API's reads (spec/pusher-protocol.md §6.3): GET /apps/{id}/channels,
 * /channels/{name}, /channels/{name}/users, and POST /users/{id}/terminate_connections.
 *
 * Counts: subscription_count is the number of connections subscribed to the Lucent channel on
 * every node (the server API `channels` survey: Pusher and Centrifugo connections alike);
 * user_count the distinct users of its presence (the engine's presence stats, where Pusher
 * presence members are entries with the Pusher user_id as user, so the count is cluster-wide
 * with the Redis engine). A channel is occupied when it has a subscriber. */
#include <stdlib.h>
#include <string.h>

#include "api/api_pusher.h"
#include "core/node.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

/* --- commands the endpoints run ------------------------------------------------------------ */

static lc_engine_t *engine(lc__api_cmd_t *c)
{
    return lc_node_engine(c->api->node);
}

static const char *cmd_channel(const cJSON *p)
{
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(p, "channel");
    return cJSON_IsString(ch) ? ch->valuestring : "";
}

/* An engine read that failed (to start, ch set, or in its answer): no fault of the request,
 * so one log line and an internal error for every read of this API alike. */
static void fail_read(lc__api_cmd_t *c, int rc, const char *what, const char *ch)
{
    if (ch)
        lc_log_error("pusher api: %s of %s: %s", what, ch, lc_strerror(rc));
    else
        lc_log_error("pusher api: %s failed: %s", what, lc_strerror(rc));
    lc__api_fail(c, LC_ERROR_INTERNAL);
}

static void on_stats(void *arg, int err, uint64_t num_clients, uint64_t num_users)
{
    lc__api_cmd_t *c = arg;
    if (err || lc_buf_printf(&c->result, "{\"num_clients\":%llu,\"num_users\":%llu}",
                             (unsigned long long)num_clients, (unsigned long long)num_users)) {
        fail_read(c, err ? err : LC_ENOMEM, "presence stats", NULL);
        return;
    }
    lc__api_ok(c);
}

/* Presence counts whatever the namespace's presence option: Pusher presence channels keep
 * their members in the engine themselves. */
static void run_presence_stats(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    lc_engine_t *e = engine(c);
    const char *ch = cmd_channel(p);
    int rc =
        e->vt->presence_stats ? e->vt->presence_stats(e, ch, strlen(ch), on_stats, c) : LC_EINVAL;
    if (rc)
        fail_read(c, rc, "presence stats", ch);
}

static int by_user(const void *a, const void *b)
{
    const lc_presence_entry_t *const *x = a, *const *y = b;
    return strcmp((*x)->user, (*y)->user);
}

static void on_presence(void *arg, int err, const lc_presence_res_t *res)
{
    lc__api_cmd_t *c = arg;
    size_t n = res && !err ? res->n : 0;
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    const lc_presence_entry_t **v = calloc(n ? n : 1, sizeof(*v));
    int rc = err ? err : v ? 0 : LC_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; !rc && i < n; i++)
        if (res->entries[i].user[0]) /* an anonymous Centrifugo client is nobody's member */
            v[m++] = &res->entries[i];
    if (v && m > 1)
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        qsort(v, m, sizeof(*v), by_user);
    rc |= rc ? 0 : lc_buf_append_str(&c->result, "{\"users\":[");
    bool first = true;
    for (size_t i = 0; !rc && i < m; i++) {
        if (i > 0 && strcmp(v[i - 1]->user, v[i]->user) == 0)
            continue;
        rc |= lc_buf_append_str(&c->result, first ? "{\"id\":" : ",{\"id\":");
        rc |= lc_buf_append_json_str(&c->result, v[i]->user, strlen(v[i]->user));
        rc |= lc_buf_putc(&c->result, '}');
        first = false;
    }
    rc |= rc ? 0 : lc_buf_append_str(&c->result, "]}");
    free(v);
    if (rc) {
        fail_read(c, rc, "presence", NULL);
        return;
    }
    lc__api_ok(c);
}

static void run_users(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    lc_engine_t *e = engine(c);
    const char *ch = cmd_channel(p);
    int rc = e->vt->presence ? e->vt->presence(e, ch, strlen(ch), on_presence, c) : LC_EINVAL;
    if (rc)
        fail_read(c, rc, "presence", ch);
}

static const lc__api_method_t m_presence_stats = {"pusher_presence_stats", -1, run_presence_stats};
static const lc__api_method_t m_users = {"pusher_users", -1, run_users};

/* Command c runs method m with the params in text (kept by the caller until the call ends). */
static int cmd_set(lc__api_cmd_t *c, const lc_buf_t *text, const lc__api_method_t *m)
{
    c->own = cJSON_ParseWithLength(text->data, text->len);
    if (!c->own)
        return LC_ENOMEM;
    c->method = m;
    c->params = text->data;
    c->len = text->len;
    c->p = c->own;
    return 0;
}

static int cmd_channel_params(lc_buf_t *text, const char *key, const char *value)
{
    int rc = lc_buf_printf(text, "{\"%s\":", key);
    rc |= lc_buf_append_json_str(text, value, strlen(value));
    return rc | lc_buf_putc(text, '}');
}

int lc__papi_cmd_subscriptions(lc__api_cmd_t *c, lc_buf_t *text, const char *ch)
{
    /* Pusher names and channel prefixes hold no glob characters: the pattern is the name */
    if (cmd_channel_params(text, "pattern", ch) != 0)
        return LC_ENOMEM;
    return cmd_set(c, text, lc__api_method_find("channels", false));
}

int lc__papi_cmd_presence(lc__api_cmd_t *c, lc_buf_t *text, const char *ch, bool users)
{
    if (cmd_channel_params(text, "channel", ch) != 0)
        return LC_ENOMEM;
    return cmd_set(c, text, users ? &m_users : &m_presence_stats);
}

long long lc__papi_count_result(const lc__api_cmd_t *c, const char *ch, const char *field)
{
    if (c->error)
        return -1;
    cJSON *r = cJSON_ParseWithLength(c->result.data, c->result.len);
    const cJSON *o = r;
    const cJSON *chans = cJSON_GetObjectItemCaseSensitive(r, "channels");
    if (chans)
        o = cJSON_GetObjectItemCaseSensitive(chans, ch); /* absent: nobody subscribed */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
    long long n = cJSON_IsNumber(v) ? (long long)v->valuedouble : (r && (chans || o) ? 0 : -1);
    cJSON_Delete(r);
    return n;
}

/* --- one operation: commands, their params, and what to answer ------------------------------ */

enum ch_kind { CH_LIST, CH_LIST_USERS, CH_ONE, CH_USERS, CH_TERMINATE };

typedef struct ch_op {
    lc__api_t *api;
    lc_http_req_t *req;
    const lc_pusher_app_t *app;
    enum ch_kind kind;
    unsigned info;
    char *channel; /* CH_ONE, CH_USERS: the Lucent name; CH_LIST*: the pattern */
    lc_buf_t *texts;
    size_t n;
    char **names;     /* CH_LIST_USERS: the Lucent names counted, one per command */
    lc_buf_t listing; /* CH_LIST_USERS: the first survey's result */
} ch_op_t;

static void op_free(ch_op_t *op)
{
    for (size_t i = 0; i < op->n; i++) {
        lc_buf_free(&op->texts[i]);
        if (op->names)
            free(op->names[i]);
    }
    free(op->texts);
    free(op->names);
    free(op->channel);
    lc_buf_free(&op->listing);
    free(op);
}

static ch_op_t *op_new(lc__api_t *a, lc_http_req_t *req, const lc_pusher_app_t *app,
                       enum ch_kind kind, size_t n)
{
    ch_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->api = a;
    op->req = req;
    op->app = app;
    op->kind = kind;
    op->n = n;
    op->texts = calloc(n ? n : 1, sizeof(*op->texts));
    if (!op->texts) {
        free(op);
        return NULL;
    }
    return op;
}

static void on_done(void *arg, lc__api_call_t *call, bool gone);

/* Run the op's call; on OOM answer 500. */
static void start(ch_op_t *op, lc__api_call_t *call, int rc)
{
    if (rc == 0 && call) {
        lc__api_call_run(call, true);
        return;
    }
    if (call)
        lc__api_call_abort(call);
    lc__papi_error(op->req, op->app, 500, "out of memory");
    op_free(op);
}

static void fail_500(ch_op_t *op, const char *what)
{
    lc__papi_error(op->req, op->app, 500, "%s failed", what);
}

/* The channels listing, with the user counts of its presence channels when asked. */
static void answer_list(ch_op_t *op, lc__api_call_t *call)
{
    cJSON *r = cJSON_ParseWithLength(op->listing.data, op->listing.len);
    const cJSON *chans = cJSON_GetObjectItemCaseSensitive(r, "channels"), *e;
    size_t plen = strlen(op->app->channel_prefix), k = 0;
    lc_buf_t b = LC_BUF_INIT;
    int rc = r ? lc_buf_append_str(&b, "{\"channels\":{") : LC_ENOMEM;
    bool first = true;
    cJSON_ArrayForEach(e, chans)
    {
        const char *name = e->string + plen;
        if (strncmp(e->string, op->app->channel_prefix, plen) != 0 ||
            !lc__papi_channel_ok(name, strlen(name), op->app->max_channel_name_length))
            continue; /* a channel of Centrifugo clients only, not a Pusher name */
        rc |= first ? 0 : lc_buf_putc(&b, ',');
        rc |= lc_buf_append_json_str(&b, name, strlen(name));
        rc |= lc_buf_putc(&b, ':');
        first = false;
        const cJSON *nc = cJSON_GetObjectItemCaseSensitive(e, "num_clients");
        bool subs = op->info & LC__PAPI_SUBSCRIPTION_COUNT;
        rc |= lc_buf_putc(&b, '{');
        if (subs)
            rc |= lc_buf_printf(&b, "\"subscription_count\":%lld",
                                cJSON_IsNumber(nc) ? (long long)nc->valuedouble : 0);
        if (op->kind == CH_LIST_USERS && lc__papi_is_presence(name)) {
            long long u = -1;
            for (; k < op->n && u < 0; k++)
                if (strcmp(op->names[k], e->string) == 0)
                    u = lc__papi_count_result(lc__api_call_cmd(call, k), e->string, "num_users");
            rc |= u < 0 ? LC_EIO : lc_buf_printf(&b, "%s\"user_count\":%lld", subs ? "," : "", u);
        }
        rc |= lc_buf_putc(&b, '}');
    }
    rc |= lc_buf_append_str(&b, "}}");
    cJSON_Delete(r);
    if (rc)
        fail_500(op, "listing the channels");
    else
        lc__papi_respond(op->req, 200, b.data, b.len);
    lc_buf_free(&b);
}

/* After the survey of a listing with user_count: count each presence channel found. */
static void count_users(ch_op_t *op, lc__api_call_t *survey)
{
    lc__api_cmd_t *c = lc__api_call_cmd(survey, 0);
    if (c->error || lc_buf_append(&op->listing, c->result.data, c->result.len) != 0) {
        fail_500(op, "listing the channels");
        op_free(op);
        return;
    }
    cJSON *r = cJSON_ParseWithLength(c->result.data, c->result.len);
    const cJSON *e;
    size_t n = 0, plen = strlen(op->app->channel_prefix);
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "channels"))
    {
        n += lc__papi_is_presence(e->string + plen);
    }
    for (size_t i = 0; i < op->n; i++)
        lc_buf_free(&op->texts[i]);
    free(op->texts);
    op->n = 0;
    op->texts = calloc(n ? n : 1, sizeof(*op->texts));
    op->names = calloc(n ? n : 1, sizeof(*op->names));
    lc__api_call_t *call = op->texts && op->names && r
                               ? lc__api_call_new_internal(op->api, op->req, n, NULL, on_done, op)
                               : NULL;
    int rc = call ? 0 : LC_ENOMEM;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(r, "channels"))
    {
        if (rc || !lc__papi_is_presence(e->string + plen))
            continue;
        op->names[op->n] = strdup(e->string);
        rc = op->names[op->n] ? 0 : LC_ENOMEM;
        op->n++;
        if (!rc)
            rc = lc__papi_cmd_presence(lc__api_call_cmd(call, op->n - 1), &op->texts[op->n - 1],
                                       e->string, false);
    }
    cJSON_Delete(r);
    op->kind = CH_LIST_USERS;
    start(op, call, rc);
}

static void answer_one(ch_op_t *op, lc__api_call_t *call)
{
    long long subs = lc__papi_count_result(lc__api_call_cmd(call, 0), op->channel, "num_clients");
    long long users =
        op->info & LC__PAPI_USER_COUNT
            ? lc__papi_count_result(lc__api_call_cmd(call, 1), op->channel, "num_users")
            : 0;
    if (subs < 0 || users < 0) {
        fail_500(op, "counting the channel");
        return;
    }
    char body[160];
    int n = snprintf(body, sizeof(body), "{\"occupied\":%s", subs > 0 ? "true" : "false");
    if (op->info & LC__PAPI_USER_COUNT)
        n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"user_count\":%lld", users);
    if (op->info & LC__PAPI_SUBSCRIPTION_COUNT)
        n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"subscription_count\":%lld", subs);
    n += snprintf(body + n, sizeof(body) - (size_t)n, "}");
    lc__papi_respond(op->req, 200, body, (size_t)n);
}

static void on_done(void *arg, lc__api_call_t *call, bool gone)
{
    ch_op_t *op = arg;
    lc__api_cmd_t *c0 = lc__api_call_size(call) ? lc__api_call_cmd(call, 0) : NULL;
    if (gone || (!c0 && op->kind != CH_LIST_USERS)) {
        op_free(op); /* every kind but the second round of a listing has one command at least */
        return;
    }
    switch (op->kind) {
    case CH_LIST:
        if (op->info & LC__PAPI_USER_COUNT) {
            count_users(op, call); /* a second call, which comes back here */
            return;
        }
        if (c0->error || lc_buf_append(&op->listing, c0->result.data, c0->result.len) != 0)
            fail_500(op, "listing the channels");
        else
            answer_list(op, call);
        break;
    case CH_LIST_USERS:
        answer_list(op, call);
        break;
    case CH_ONE:
        answer_one(op, call);
        break;
    case CH_USERS:
        if (c0->error)
            fail_500(op, "reading the presence");
        else
            lc__papi_respond(op->req, 200, c0->result.data, c0->result.len);
        break;
    case CH_TERMINATE:
        if (c0->error)
            fail_500(op, "disconnecting the user");
        else
            lc__papi_respond(op->req, 200, "{}", 2);
        break;
    }
    op_free(op);
}

/* --- endpoints ------------------------------------------------------------------------------ */

static bool read_info(lc_http_req_t *req, const lc_pusher_app_t *app, const char *info,
                      unsigned *bits)
{
    char bad[80];
    if (lc__papi_info_parse(info, bits, bad, sizeof(bad)))
        return true;
    lc__papi_error(req, app, 400, "info: unknown attribute \"%s\"", bad);
    return false;
}

void lc__papi_channels(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                       const lc__papi_query_t *q)
{
    unsigned info = 0;
    const char *filter = q->filter_by_prefix ? q->filter_by_prefix : "";
    if (!read_info(req, app, q->info, &info))
        return;
    if (filter[0] && !lc__papi_channel_ok(filter, strlen(filter), app->max_channel_name_length)) {
        lc__papi_error(req, app, 400, "filter_by_prefix: not the start of a channel name");
        return;
    }
    if ((info & LC__PAPI_USER_COUNT) && !lc__papi_is_presence(filter)) {
        lc__papi_error(req, app, 400,
                       "info: user_count needs filter_by_prefix starting with presence-");
        return;
    }
    ch_op_t *op = op_new(a, req, app, CH_LIST, 1);
    if (!op) {
        lc__papi_error(req, app, 500, "out of memory");
        return;
    }
    op->info = info;
    lc_buf_t pat = LC_BUF_INIT;
    int rc = lc_buf_printf(&pat, "%s%s*", app->channel_prefix, filter);
    lc__api_call_t *call = rc ? NULL : lc__api_call_new_internal(a, req, 1, NULL, on_done, op);
    if (call)
        rc = lc__papi_cmd_subscriptions(lc__api_call_cmd(call, 0), &op->texts[0], pat.data);
    lc_buf_free(&pat);
    start(op, call, call ? rc : LC_ENOMEM);
}

void lc__papi_channel(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                      const char *name, size_t len, bool users, const lc__papi_query_t *q)
{
    unsigned info = 0;
    if (!lc__papi_channel_ok(name, len, app->max_channel_name_length)) {
        lc__papi_error(req, app, 400, "Invalid channel name %.*s", (int)(len > 64 ? 64 : len),
                       name);
        return;
    }
    bool presence = strncmp(name, "presence-", 9) == 0;
    if (users && !presence) {
        lc__papi_error(req, app, 400, "Users can only be listed for presence channels");
        return;
    }
    if (!users && !read_info(req, app, q->info, &info))
        return;
    if ((info & LC__PAPI_USER_COUNT) && !presence) {
        lc__papi_error(req, app, 400, "info: user_count is only available for presence channels");
        return;
    }
    size_t n = users ? 1 : (info & LC__PAPI_USER_COUNT) ? 2 : 1;
    ch_op_t *op = op_new(a, req, app, users ? CH_USERS : CH_ONE, n);
    lc_buf_t ch = LC_BUF_INIT;
    if (!op || lc_buf_printf(&ch, "%s%.*s", app->channel_prefix, (int)len, name) != 0) {
        lc_buf_free(&ch);
        if (op)
            op_free(op);
        lc__papi_error(req, app, 500, "out of memory");
        return;
    }
    op->info = info;
    op->channel = ch.data; /* taken over */
    lc__api_call_t *call = lc__api_call_new_internal(a, req, n, NULL, on_done, op);
    int rc = call ? 0 : LC_ENOMEM;
    if (!rc && users)
        rc = lc__papi_cmd_presence(lc__api_call_cmd(call, 0), &op->texts[0], op->channel, true);
    if (!rc && !users)
        rc = lc__papi_cmd_subscriptions(lc__api_call_cmd(call, 0), &op->texts[0], op->channel);
    if (!rc && n == 2)
        rc = lc__papi_cmd_presence(lc__api_call_cmd(call, 1), &op->texts[1], op->channel, false);
    start(op, call, rc);
}

void lc__papi_terminate(lc__api_t *a, const lc_pusher_app_t *app, lc_http_req_t *req,
                        const char *user, size_t len)
{
    if (len == 0 || (int64_t)len > app->max_user_id_length) {
        lc__papi_error(req, app, 400, "Invalid user id");
        return;
    }
    /* every connection whose user is that id, Pusher presence members included (their user is
     * the presence user_id), on every node: the server API's disconnect */
    ch_op_t *op = op_new(a, req, app, CH_TERMINATE, 1);
    if (!op) {
        lc__papi_error(req, app, 500, "out of memory");
        return;
    }
    lc_buf_t *t = &op->texts[0];
    int rc = lc_buf_append_str(t, "{\"user\":");
    rc |= lc_buf_append_json_str(t, user, len);
    rc |= lc_buf_putc(t, '}');
    lc__api_call_t *call = rc ? NULL : lc__api_call_new_internal(a, req, 1, NULL, on_done, op);
    if (call)
        rc = cmd_set(lc__api_call_cmd(call, 0), t, lc__api_method_find("disconnect", false));
    start(op, call, call ? rc : LC_ENOMEM);
}
