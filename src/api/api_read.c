/* Server API reads (spec §4.2, §7.2): presence, presence_stats, history, history_remove from
 * the engine; info from the node's counters (channels: api_channels.c). Engine reads
 * answer from their callback, which may run before the call returns. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/internal.h"
#include "core/ops.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"

static lc_engine_t *engine(lc__api_cmd_t *c)
{
    return lc_node_engine(c->api->node);
}

/* The engine refused the call: its callback will not run. */
static void engine_failed(lc__api_cmd_t *c, const char *ch, int rc)
{
    lc_log_error("api %s on %s: %s", c->method->name, ch, lc_strerror(rc));
    lc__api_fail(c, LC_ERROR_INTERNAL);
}

static void engine_error(lc__api_cmd_t *c, int err)
{
    lc_log_error("api %s: engine error: %s", c->method->name, lc_strerror(err));
    lc__api_fail(c, LC_ERROR_INTERNAL);
}

static void answer(lc__api_cmd_t *c, int rc)
{
    if (rc != 0) {
        lc_log_error("api %s: out of memory", c->method->name);
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    lc__api_ok(c);
}

static bool history_on(const lc_ns_opts_t *ns)
{
    return ns->history_size > 0 && ns->history_ttl_ms > 0;
}

/* --- presence ------------------------------------------------------------------------------ */

static void on_presence(void *arg, int err, const lc_presence_res_t *res)
{
    lc__api_cmd_t *c = arg;
    if (err) {
        engine_error(c, err);
        return;
    }
    lc_buf_t *b = &c->result;
    int rc = lc_buf_append_str(b, "{\"presence\":{");
    for (size_t i = 0; res && i < res->n; i++) {
        const lc_presence_entry_t *e = &res->entries[i];
        if (i)
            rc |= lc_buf_putc(b, ',');
        rc |= lc_buf_append_json_str(b, e->client, strlen(e->client));
        rc |= lc_buf_putc(b, ':');
        rc |= lc_buf_append(b, e->info->data, e->info->len);
    }
    rc |= lc_buf_append_str(b, "}}");
    answer(c, rc);
}

void lc__api_presence(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *ch = NULL;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    uint32_t code = lc__api_get_channel(c->api, p, &ch, &scratch, &ns);
    lc_engine_t *e = engine(c);
    if (!code && (!ns->presence || !e->vt->presence))
        code = LC_ERROR_NOT_AVAILABLE;
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    int rc = e->vt->presence(e, ch, strlen(ch), on_presence, c);
    if (rc != 0)
        engine_failed(c, ch, rc);
}

static void on_presence_stats(void *arg, int err, uint64_t num_clients, uint64_t num_users)
{
    lc__api_cmd_t *c = arg;
    if (err) {
        engine_error(c, err);
        return;
    }
    answer(c, lc_buf_printf(&c->result, "{\"num_clients\":%llu,\"num_users\":%llu}",
                            (unsigned long long)num_clients, (unsigned long long)num_users));
}

void lc__api_presence_stats(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *ch = NULL;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    uint32_t code = lc__api_get_channel(c->api, p, &ch, &scratch, &ns);
    lc_engine_t *e = engine(c);
    if (!code && (!ns->presence || !e->vt->presence_stats))
        code = LC_ERROR_NOT_AVAILABLE;
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    int rc = e->vt->presence_stats(e, ch, strlen(ch), on_presence_stats, c);
    if (rc != 0)
        engine_failed(c, ch, rc);
}

/* --- history ------------------------------------------------------------------------------- */

static void on_history(void *arg, int err, const lc_history_res_t *res)
{
    lc__api_cmd_t *c = arg;
    if (err == LC_EPOS) {
        lc__api_fail(c, LC_ERROR_UNRECOVERABLE_POSITION);
        return;
    }
    if (err) {
        engine_error(c, err);
        return;
    }
    /* publications, epoch and offset are always present (spec §1.3) */
    lc_buf_t *b = &c->result;
    int rc = lc_buf_append_str(b, "{\"publications\":[");
    for (size_t i = 0; i < res->n; i++) {
        if (i)
            rc |= lc_buf_putc(b, ',');
        rc |= lc_buf_append(b, res->pubs[i]->data, res->pubs[i]->len);
    }
    rc |= lc_buf_append_str(b, "],\"epoch\":");
    rc |= lc_buf_append_json_str(b, res->top.epoch, strlen(res->top.epoch));
    rc |= lc_buf_printf(b, ",\"offset\":%llu}", (unsigned long long)res->top.offset);
    answer(c, rc);
}

/* since {offset, epoch} into req. 0, 107, or 112 for an epoch too long to be any stream's. */
static uint32_t get_since(const cJSON *p, lc_history_req_t *req)
{
    const cJSON *since = cJSON_GetObjectItemCaseSensitive(p, "since");
    if (!since || cJSON_IsNull(since))
        return 0;
    if (!cJSON_IsObject(since))
        return lc__api_bad("since", "expected an object {offset, epoch}");
    int64_t offset = 0;
    const char *epoch = NULL;
    uint32_t code = lc__api_get_int(since, "offset", 0, INT64_MAX, &offset);
    if (!code)
        code = lc__api_get_str(since, "epoch", &epoch);
    if (code)
        return code;
    if (epoch && strlen(epoch) >= sizeof(req->since.epoch))
        return LC_ERROR_UNRECOVERABLE_POSITION;
    req->has_since = true;
    req->since.offset = (uint64_t)offset;
    snprintf(req->since.epoch, sizeof(req->since.epoch), "%s", epoch ? epoch : "");
    return 0;
}

/* The server API passes limit, since and reverse through as given: unlike the client
 * protocol it caps no limit and accepts reverse with since.offset 0 (spec §7.2). */
void lc__api_history(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *ch = NULL;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    lc_history_req_t req = {0};
    int64_t limit = 0;
    uint32_t code = lc__api_get_channel(c->api, p, &ch, &scratch, &ns);
    lc_engine_t *e = engine(c);
    if (!code && (!history_on(ns) || !e->vt->history))
        code = LC_ERROR_NOT_AVAILABLE;
    if (!code)
        code = lc__api_get_int(p, "limit", INT32_MIN, INT32_MAX, &limit);
    if (!code)
        code = lc__api_get_bool(p, "reverse", &req.reverse);
    if (!code)
        code = get_since(p, &req);
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    req.channel = ch;
    req.chlen = strlen(ch);
    req.limit = limit < 0 ? -1 : (int)limit;
    lc_node_chan_opts(c->api->node, ns, &req.opts);
    int rc = e->vt->history(e, &req, on_history, c);
    if (rc != 0)
        engine_failed(c, ch, rc);
}

static void on_history_removed(void *arg, int err)
{
    lc__api_cmd_t *c = arg;
    if (err)
        engine_error(c, err);
    else
        lc__api_ok(c);
}

void lc__api_history_remove(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *ch = NULL;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *ns = NULL;
    uint32_t code = lc__api_get_channel(c->api, p, &ch, &scratch, &ns);
    lc_engine_t *e = engine(c);
    if (!code && (!history_on(ns) || !e->vt->history_remove))
        code = LC_ERROR_NOT_AVAILABLE;
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    int rc = e->vt->history_remove(e, ch, strlen(ch), on_history_removed, c);
    if (rc != 0)
        engine_failed(c, ch, rc);
}

/* --- info ---------------------------------------------------------------------------------- */

static void add_node(void *arg, const char *info, size_t len)
{
    lc_buf_t *b = arg;
    lc_buf_putc(b, ',');
    lc_buf_append(b, info, len);
}

/* This node, then every other node the engine has heard of (Redis engine). */
void lc__api_info(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    lc__api_t *a = c->api;
    char self[1024];
    size_t n = lc_node_info_json(a->node, self, sizeof(self));
    lc_buf_t *b = &c->result;
    int rc = n ? 0 : LC_ENOMEM;
    rc |= lc_buf_append_str(b, "{\"nodes\":[");
    rc |= lc_buf_append(b, self, n);
    lc_engine_t *e = engine(c);
    if (e->vt->nodes)
        e->vt->nodes(e, add_node, b);
    rc |= lc_buf_append_str(b, "]}");
    answer(c, rc);
}
