/* Server API `channels` (spec §4.2): the channels with at least one subscriber, each with its
 * number of subscribers (num_clients), optionally filtered by a glob pattern.
 *
 * On one node the workers' hubs are asked (a node-wide operation) and their counts summed.
 * With other nodes (Redis engine) the answer covers every node, as Centrifugo's does: after
 * the local count the node surveys every other live node it knows (the engine's `nodes`)
 * over the engine's control channel; each answers with its own channels and the counts are
 * summed per channel. The answer waits for every node known when the survey started, at most
 * SURVEY_TIMEOUT_MS: a node that does not answer in time makes the call fail with 100 rather
 * than a partial list passed off as complete (Centrifugo fails the same way).
 *
 * Control data (opaque to the engine, which sends it to every other node):
 *   "chan? <origin node uid> <worker>.<id>\n" <pattern>                  the survey
 *   "chan! <origin node uid> <worker>.<id> <node uid>\n" <result>        one node's answer
 * where <result> is {"channels":{..}} as the API answers it. Every node receives every
 * answer; the origin keeps those for itself and hands each to the worker that asked, which
 * alone touches its survey. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/internal.h"
#include "core/ops.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"
#include "util/map.h"

#define SURVEY_TIMEOUT_MS 3000
#define UID_MAX 64

/* --- this node's channels ------------------------------------------------------------------- */

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
    lc__api_t *api;
    lc__api_cmd_t *cmd;  /* the command to answer, or NULL: a survey from another node */
    char *reply;         /* a survey's answer header ("chan! ...\n"), owned */
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
    free(op->reply);
    free(op);
}

/* Sum each channel's subscribers over the workers into the first slot that saw it; entries
 * merged away get n = 0 (a listed channel has at least one subscriber). Uses a map from name
 * to entry; one worker needs no merge. 0 or LC_ENOMEM. */
static int chan_merge(chan_op_t *op)
{
    for (int i = 0; i < op->nslots; i++)
        if (op->slots[i].oom)
            return LC_ENOMEM;
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

/* Call fn for every merged channel. 0 or fn's first error. */
static int chan_walk(chan_op_t *op, int (*fn)(void *arg, const char *ch, size_t len, uint64_t n),
                     void *arg)
{
    for (int i = 0; i < op->nslots; i++) {
        chan_slot_t *s = &op->slots[i];
        for (size_t j = 0; j < s->n; j++) {
            if (s->e[j].n == 0)
                continue;
            int rc = fn(arg, s->names.data + s->e[j].off, s->e[j].len, s->e[j].n);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* {"channels":{..}} is written as one entry after another; first tells whether a comma goes
 * before the next. */
typedef struct json_out {
    lc_buf_t *b;
    bool first;
} json_out_t;

static int json_entry(void *arg, const char *ch, size_t len, uint64_t n)
{
    json_out_t *o = arg;
    int rc = o->first ? 0 : lc_buf_putc(o->b, ',');
    o->first = false;
    rc |= lc_buf_append_json_str(o->b, ch, len);
    rc |= lc_buf_printf(o->b, ":{\"num_clients\":%llu}", (unsigned long long)n);
    return rc ? LC_ENOMEM : 0;
}

static void answer(lc__api_cmd_t *c, int rc)
{
    if (rc != 0) {
        lc_log_error("api channels: out of memory");
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    lc__api_ok(c);
}

/* --- surveys of the other nodes ------------------------------------------------------------ */

typedef struct survey {
    struct survey *next; /* in the registry */
    uint64_t id;
    lc__api_t *api;
    lc__api_cmd_t *cmd; /* NULL once answered */
    uv_timer_t timer;
    lc_map_t counts;        /* channel → its number of subscribers (as a pointer-sized count) */
    char (*nodes)[UID_MAX]; /* node uids expected; "" once answered */
    size_t n_nodes, n_answered;
} survey_t;

/* Surveys in flight, every worker's (each worker touches only its own; the lock guards the
 * list). */
static uv_once_t reg_once = UV_ONCE_INIT;
static uv_mutex_t reg_mu;
static survey_t *reg_head;
static uint64_t reg_next;

static void reg_init(void)
{
    uv_mutex_init(&reg_mu);
}

static void reg_add(survey_t *sv)
{
    uv_once(&reg_once, reg_init);
    uv_mutex_lock(&reg_mu);
    sv->id = ++reg_next;
    sv->next = reg_head;
    reg_head = sv;
    uv_mutex_unlock(&reg_mu);
}

static void reg_del(survey_t *sv)
{
    uv_mutex_lock(&reg_mu);
    for (survey_t **p = &reg_head; *p; p = &(*p)->next) {
        if (*p == sv) {
            *p = sv->next;
            break;
        }
    }
    uv_mutex_unlock(&reg_mu);
}

static survey_t *reg_find(uint64_t id)
{
    uv_once(&reg_once, reg_init);
    uv_mutex_lock(&reg_mu);
    survey_t *sv = reg_head;
    while (sv && sv->id != id)
        sv = sv->next;
    uv_mutex_unlock(&reg_mu);
    return sv;
}

static int add_count(void *arg, const char *ch, size_t len, uint64_t n)
{
    survey_t *sv = arg;
    uintptr_t cur = (uintptr_t)lc_map_get(&sv->counts, ch, len);
    return lc_map_put(&sv->counts, ch, len, (void *)(cur + (uintptr_t)n), NULL);
}

static void survey_free(uv_handle_t *h)
{
    survey_t *sv = h->data;
    lc_map_free(&sv->counts);
    free(sv->nodes);
    free(sv);
}

/* Answer the command (code 0: the summed counts) and let the survey go. */
static void survey_end(survey_t *sv, uint32_t code)
{
    reg_del(sv);
    lc__api_cmd_t *c = sv->cmd;
    sv->cmd = NULL;
    if (code) {
        lc__api_fail(c, code);
    } else {
        lc_buf_t *b = &c->result;
        json_out_t o = {b, true};
        int rc = lc_buf_append_str(b, "{\"channels\":{");
        lc_map_iter_t it = {0};
        const char *k;
        size_t kl;
        void *v;
        while (rc == 0 && lc_map_next(&sv->counts, &it, &k, &kl, &v))
            rc = json_entry(&o, k, kl, (uint64_t)(uintptr_t)v);
        rc |= lc_buf_append_str(b, "}}");
        answer(c, rc);
    }
    uv_timer_stop(&sv->timer);
    uv_close((uv_handle_t *)&sv->timer, survey_free);
}

static void survey_timeout(uv_timer_t *t)
{
    survey_t *sv = t->data;
    const char *missing = "";
    for (size_t i = 0; i < sv->n_nodes && !*missing; i++)
        missing = sv->nodes[i];
    lc_log_error("api channels: %zu of %zu other nodes did not answer within %d ms (%s first)",
                 sv->n_nodes - sv->n_answered, sv->n_nodes, SURVEY_TIMEOUT_MS, missing);
    survey_end(sv, LC_ERROR_INTERNAL);
}

typedef struct uid_list {
    char (*uids)[UID_MAX];
    size_t n;
    bool oom;
} uid_list_t;

/* Engine `nodes`: one other node's description, {"uid":..,...}. */
static void collect_uid(void *arg, const char *info, size_t len)
{
    uid_list_t *l = arg;
    cJSON *j = cJSON_ParseWithLength(info, len);
    const cJSON *uid = j ? cJSON_GetObjectItemCaseSensitive(j, "uid") : NULL;
    if (uid && cJSON_IsString(uid) && strlen(uid->valuestring) < UID_MAX && !l->oom) {
        char(*nu)[UID_MAX] = realloc(l->uids, (l->n + 1) * sizeof(*nu));
        if (nu) {
            l->uids = nu;
            snprintf(l->uids[l->n++], UID_MAX, "%s", uid->valuestring);
        } else {
            l->oom = true;
        }
    }
    cJSON_Delete(j);
}

/* After the local count in worker w: survey the other live nodes. 0 when there are none
 * (answer from op alone), 1 when the survey answers later, or a negative lc_err. */
static int survey_start(chan_op_t *op, lc_worker_t *w)
{
    lc_engine_t *e = lc_node_engine(op->api->node);
    if (!e->vt->nodes)
        return 0;
    uid_list_t l = {0};
    e->vt->nodes(e, collect_uid, &l);
    if (l.oom || l.n == 0 || lc_worker_stopping(w)) {
        free(l.uids);
        /* stopping: the loop a survey would wait on is ending */
        return l.oom ? LC_ENOMEM : l.n ? LC_EIO : 0;
    }
    survey_t *sv = calloc(1, sizeof(*sv));
    if (!sv) {
        free(l.uids);
        return LC_ENOMEM;
    }
    sv->api = op->api;
    sv->cmd = op->cmd;
    sv->nodes = l.uids;
    sv->n_nodes = l.n;
    lc_map_init(&sv->counts);
    int rc = chan_walk(op, add_count, sv);
    if (rc) {
        lc_map_free(&sv->counts);
        free(sv->nodes);
        free(sv);
        return rc;
    }
    uv_timer_init(lc_worker_loop(w), &sv->timer);
    sv->timer.data = sv;
    reg_add(sv);
    lc_buf_t msg = LC_BUF_INIT;
    rc = lc_buf_printf(&msg, "chan? %s %d.%llu\n", lc_node_uid(op->api->node), lc_worker_index(w),
                       (unsigned long long)sv->id) ||
                 lc_buf_append_str(&msg, op->pattern)
             ? LC_ENOMEM
             : 0;
    if (!rc)
        rc = lc_node_send_control(op->api->node, msg.data, msg.len);
    lc_buf_free(&msg);
    if (rc) {
        lc_log_error("api channels: other nodes not asked: %s", lc_strerror(rc));
        survey_end(sv, LC_ERROR_INTERNAL);
        return 1;
    }
    uv_timer_start(&sv->timer, survey_timeout, SURVEY_TIMEOUT_MS, 0);
    return 1;
}

/* One node's answer, in the worker that asked. */
typedef struct reply {
    uint64_t id;
    char uid[UID_MAX];
    size_t len;
    char body[];
} reply_t;

static void on_reply(lc_worker_t *w, void *arg)
{
    (void)w;
    reply_t *r = arg;
    survey_t *sv = reg_find(r->id); /* only this worker frees it: usable after the lock */
    if (!sv || !sv->cmd) {
        free(r);
        return;
    }
    for (size_t i = 0; i < sv->n_nodes; i++) {
        if (strcmp(sv->nodes[i], r->uid) == 0) {
            sv->nodes[i][0] = '\0';
            sv->n_answered++;
            break;
        }
    }
    /* A node that started after the survey answers too: its channels count all the same. */
    cJSON *j = cJSON_ParseWithLength(r->body, r->len);
    const cJSON *chs = j ? cJSON_GetObjectItemCaseSensitive(j, "channels") : NULL;
    int rc = cJSON_IsObject(chs) ? 0 : LC_EINVAL;
    const cJSON *ch;
    cJSON_ArrayForEach(ch, chs)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(ch, "num_clients");
        if (rc == 0 && cJSON_IsNumber(n) && n->valuedouble >= 1 && n->valuedouble < 1e18)
            rc = add_count(sv, ch->string, strlen(ch->string), (uint64_t)n->valuedouble);
    }
    cJSON_Delete(j);
    if (rc) {
        lc_log_error("api channels: node %s answered no channels: %s", r->uid, lc_strerror(rc));
        survey_end(sv, LC_ERROR_INTERNAL);
    } else if (sv->n_answered == sv->n_nodes) {
        survey_end(sv, 0);
    }
    free(r);
}

/* --- the method ----------------------------------------------------------------------------- */

static void chan_done(lc_worker_t *w, void *arg)
{
    chan_op_t *op = arg;
    int rc = chan_merge(op);
    if (op->reply) {
        /* another node's survey: answer it (an error object when the count failed) */
        lc_buf_t msg = LC_BUF_INIT;
        json_out_t o = {&msg, true};
        int mrc = lc_buf_append_str(&msg, op->reply);
        mrc |= lc_buf_append_str(&msg, rc ? "{\"error\":{\"code\":100}}" : "{\"channels\":{");
        if (!rc) {
            mrc |= chan_walk(op, json_entry, &o);
            mrc |= lc_buf_append_str(&msg, "}}");
        }
        if (mrc == 0)
            mrc = lc_node_send_control(op->api->node, msg.data, msg.len);
        if (mrc != 0)
            lc_log_error("api channels: survey of another node not answered: %s", lc_strerror(mrc));
        lc_buf_free(&msg);
        chan_op_free(op);
        return;
    }
    lc__api_cmd_t *c = op->cmd;
    int started = rc ? rc : survey_start(op, w);
    if (started == 1) {
        chan_op_free(op);
        return;
    }
    rc = started;
    lc_buf_t *b = &c->result;
    json_out_t o = {b, true};
    if (!rc) {
        rc = lc_buf_append_str(b, "{\"channels\":{");
        rc |= chan_walk(op, json_entry, &o);
        rc |= lc_buf_append_str(b, "}}");
    }
    chan_op_free(op);
    answer(c, rc);
}

/* Count this node's channels matching pattern (plen bytes); then answer c, or send reply (a
 * survey's answer header) to the other nodes. 0 or a negative lc_err (nothing started). */
static int chan_start(lc__api_t *a, lc__api_cmd_t *c, const char *pattern, size_t plen,
                      const char *reply)
{
    int n = lc_node_num_workers(a->node);
    chan_op_t *op = calloc(1, sizeof(*op) + (size_t)n * sizeof(op->slots[0]) + plen + 1);
    if (!op)
        return LC_ENOMEM;
    op->api = a;
    op->cmd = c;
    op->nslots = n;
    char *pat = (char *)(op->slots + n);
    memcpy(pat, pattern, plen);
    pat[plen] = '\0';
    op->pattern = pat;
    if (reply && !(op->reply = strdup(reply))) {
        free(op);
        return LC_ENOMEM;
    }
    int rc = lc_ops_each_worker(a->node, chan_each, chan_done, op);
    if (rc != 0)
        chan_op_free(op);
    return rc;
}

void lc__api_channels(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    (void)params;
    (void)len;
    const char *pattern = NULL;
    uint32_t code = lc__api_get_str(p, "pattern", &pattern);
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    if (!pattern)
        pattern = "";
    int rc = chan_start(c->api, c, pattern, strlen(pattern), NULL);
    if (rc != 0) {
        lc_log_error("api channels: %s", lc_strerror(rc));
        lc__api_fail(c, LC_ERROR_INTERNAL);
    }
}

bool lc__api_channels_control(lc__api_t *a, const char *data, size_t len)
{
    if (len < 6 || memcmp(data, "chan", 4) != 0 || (data[4] != '?' && data[4] != '!') ||
        data[5] != ' ')
        return false;
    const char *nl = memchr(data, '\n', len);
    char head[256];
    size_t hl = nl ? (size_t)(nl - data) : 0;
    if (!nl || hl >= sizeof(head))
        return true;
    memcpy(head, data, hl);
    head[hl] = '\0';
    const char *body = nl + 1;
    size_t blen = len - hl - 1;
    char origin[UID_MAX], uid[UID_MAX];
    int worker;
    unsigned long long id;
    if (data[4] == '?') {
        // NOLINTNEXTLINE(cert-err34-c): a line another node wrote; a malformed one is dropped
        if (sscanf(head, "chan? %63s %d.%llu", origin, &worker, &id) != 3)
            return true;
        char reply[256];
        snprintf(reply, sizeof(reply), "chan! %s %d.%llu %s\n", origin, worker, id,
                 lc_node_uid(a->node));
        int rc = chan_start(a, NULL, body, blen, reply);
        if (rc != 0)
            lc_log_error("api channels: survey of another node not answered: %s", lc_strerror(rc));
        return true;
    }
    // NOLINTNEXTLINE(cert-err34-c): a line another node wrote; a malformed one is dropped
    if (sscanf(head, "chan! %63s %d.%llu %63s", origin, &worker, &id, uid) != 4 ||
        strcmp(origin, lc_node_uid(a->node)) != 0)
        return true; /* another node's survey */
    reply_t *r = malloc(sizeof(*r) + blen + 1);
    if (!r)
        return true;
    r->id = id;
    snprintf(r->uid, sizeof(r->uid), "%s", uid);
    r->len = blen;
    memcpy(r->body, body, blen);
    r->body[blen] = '\0';
    if (lc_ops_run_in(a->node, worker, on_reply, r) != 0)
        free(r);
    return true;
}
