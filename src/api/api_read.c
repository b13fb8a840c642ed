/* Server API reads (spec §4.2, §7.2): presence, presence_stats, history, history_remove from
 * the engine; channels from every worker's hub; info from the node's counters. Engine reads
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
    strcpy(req->since.epoch, epoch ? epoch : "");
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

/* --- channels ------------------------------------------------------------------------------ */

typedef struct chan_entry {
    size_t off, len; /* name in the slot's names buffer */
    uint64_t n;
} chan_entry_t;

/* What one worker found; written only by that worker. */
typedef struct chan_slot {
    lc_buf_t names;
    chan_entry_t *e;
    size_t n, cap;
    bool oom;
} chan_slot_t;

typedef struct chan_op {
    lc__api_cmd_t *cmd;
    const char *pattern; /* copy, after the slots */
    int nslots;
    chan_slot_t slots[];
} chan_op_t;

static void chan_found(void *arg, const char *ch, size_t len, uint64_t nsubs)
{
    chan_slot_t *s = arg;
    if (s->oom)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        chan_entry_t *e = realloc(s->e, cap * sizeof(*e));
        if (!e) {
            s->oom = true;
            return;
        }
        s->e = e;
        s->cap = cap;
    }
    size_t off = s->names.len;
    if (lc_buf_append(&s->names, ch, len) != 0) {
        s->oom = true;
        return;
    }
    s->e[s->n++] = (chan_entry_t){off, len, nsubs};
}

static void chan_each(lc_worker_t *w, void *arg)
{
    chan_op_t *op = arg;
    lc_ops_channels(w, op->pattern, chan_found, &op->slots[lc_worker_index(w)]);
}

static void chan_op_free(chan_op_t *op)
{
    for (int i = 0; i < op->nslots; i++) {
        lc_buf_free(&op->slots[i].names);
        free(op->slots[i].e);
    }
    free(op);
}

/* Sum each channel's subscribers over the workers into the first slot that saw it; entries
 * merged away get n = 0 (a listed channel has at least one subscriber). Uses a map from name
 * to entry; one worker needs no merge. 0 or LC_ENOMEM. */
static int chan_merge(chan_op_t *op)
{
    if (op->nslots == 1)
        return 0;
    lc_map_t seen;
    lc_map_init(&seen);
    int rc = 0;
    for (int i = 0; i < op->nslots && rc == 0; i++) {
        chan_slot_t *s = &op->slots[i];
        for (size_t j = 0; j < s->n && rc == 0; j++) {
            chan_entry_t *e = &s->e[j];
            const char *name = s->names.data + e->off;
            chan_entry_t *first = lc_map_get(&seen, name, e->len);
            if (first) {
                first->n += e->n;
                e->n = 0;
            } else {
                rc = lc_map_put(&seen, name, e->len, e, NULL);
            }
        }
    }
    lc_map_free(&seen);
    return rc;
}

static void chan_done(lc_worker_t *w, void *arg)
{
    chan_op_t *op = arg;
    lc__api_cmd_t *c = op->cmd;
    int rc = chan_merge(op);
    lc_buf_t *b = &c->result;
    rc |= lc_buf_append_str(b, "{\"channels\":{");
    bool first = true;
    for (int i = 0; i < op->nslots && rc == 0; i++) {
        chan_slot_t *s = &op->slots[i];
        rc |= s->oom ? LC_ENOMEM : 0;
        for (size_t j = 0; j < s->n; j++) {
            if (s->e[j].n == 0)
                continue;
            if (!first)
                rc |= lc_buf_putc(b, ',');
            first = false;
            rc |= lc_buf_append_json_str(b, s->names.data + s->e[j].off, s->e[j].len);
            rc |= lc_buf_printf(b, ":{\"num_clients\":%llu}", (unsigned long long)s->e[j].n);
        }
    }
    rc |= lc_buf_append_str(b, "}}");
    chan_op_free(op);
    answer(c, rc);
}

void lc__api_channels(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    const char *pattern = NULL;
    uint32_t code = lc__api_get_str(p, "pattern", &pattern);
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    if (!pattern)
        pattern = "";
    int n = lc_node_num_workers(c->api->node);
    size_t plen = strlen(pattern);
    chan_op_t *op = calloc(1, sizeof(*op) + (size_t)n * sizeof(op->slots[0]) + plen + 1);
    if (!op) {
        lc_log_error("api channels: out of memory");
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    op->cmd = c;
    op->nslots = n;
    char *pat = (char *)(op->slots + n);
    memcpy(pat, pattern, plen + 1);
    op->pattern = pat;
    int rc = lc_ops_each_worker(c->api->node, chan_each, chan_done, op);
    if (rc != 0) {
        lc_log_error("api channels: %s", lc_strerror(rc));
        chan_op_free(op);
        lc__api_fail(c, LC_ERROR_INTERNAL);
    }
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
