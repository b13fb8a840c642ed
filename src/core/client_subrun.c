/* Subscriptions that wait for their streams: a positioned subscription starts at the stream's
 * position (and a recovering one with the missed publications), which the engine reads at
 * once (memory) or later (Redis). A run holds what its subscriptions need, owned, and makes
 * them in order — one for a client subscribe, the server-side ones of a connect (the grant's
 * subs and channels, the personal channel, a unidirectional request's channels), one for the
 * server API's subscribe — waiting as the session's one pending step whenever the engine
 * answers later. The server API's runs come from outside the session's commands: they wait
 * in the session's own list until no step is pending, and end with a subscribe push. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/assert.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

typedef struct sub_job {
    char *channel;
    size_t len;
    /* Answered when the run reaches this job, instead of subscribing: a reply error code, or
     * for a unidirectional request's channel a disconnect code. */
    uint32_t code;
    bool uni;
    lc_sub_spec_t sp; /* points into the fields below */
    lc_ns_opts_t o;
    lc_sub_override_t override;
    char *chan_info, *data, *epoch;
} sub_job_t;

enum run_kind { RUN_SUBSCRIBE, RUN_CONNECT, RUN_API };

typedef struct lc_sub_run {
    int kind;                 /* enum run_kind */
    uint32_t id;              /* the command's (RUN_API: none) */
    struct lc_sub_run *later; /* RUN_API: the session's list of runs waiting to start */
    sub_job_t *jobs;
    size_t n, cap, next;
    lc_stream_t stream; /* jobs[next]'s, once read */
    /* With an engine that links nodes (channel_ready): jobs[next]'s channel is counted in
     * for this node (held) and the run waits until the node receives its publications
     * before reading the stream and answering, so nothing published after the answer is
     * missed. */
    lc_engine_t *held;
    bool ready;
    int ready_err;
    lc_buf_t out; /* subscribe: the result; connect: the subs object so far */
    char *data;   /* connect result data */
    size_t data_len;
    int64_t exp;
} sub_run_t;

static char *dup_n(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Give back the count run_hold took on jobs[next]'s channel (the hub holds its own). */
static void run_release(sub_run_t *run)
{
    if (run->held) {
        sub_job_t *j = &run->jobs[run->next];
        run->held->vt->channel_unsubscribe(run->held, j->channel, j->len);
        run->held = NULL;
    }
    run->ready = false;
    run->ready_err = 0;
}

static void run_free(void *arg)
{
    sub_run_t *run = arg;
    if (!run)
        return;
    if (run->held && run->next < run->n)
        run_release(run);
    for (size_t i = 0; i < run->n; i++) {
        sub_job_t *j = &run->jobs[i];
        free(j->channel);
        free(j->chan_info);
        free(j->data);
        free(j->epoch);
    }
    free(run->jobs);
    lc__stream_free(&run->stream);
    lc_buf_free(&run->out);
    free(run->data);
    free(run);
}

/* Add a job for ch with spec sp (copied; NULL for a job that only answers code). */
static int add_job(sub_run_t *run, const char *ch, size_t len, const lc_sub_spec_t *sp,
                   uint32_t code, bool uni)
{
    if (run->n == run->cap) {
        size_t ncap = run->cap ? run->cap * 2 : 2;
        sub_job_t *nj = realloc(run->jobs, ncap * sizeof(*nj));
        if (!nj)
            return LC_ENOMEM;
        run->jobs = nj;
        run->cap = ncap;
    }
    sub_job_t *j = &run->jobs[run->n];
    memset(j, 0, sizeof(*j));
    j->code = code;
    j->uni = uni;
    j->channel = dup_n(ch, len);
    j->len = len;
    if (!j->channel)
        return LC_ENOMEM;
    run->n++;
    if (!sp)
        return 0;
    j->sp = *sp;
    j->o = *sp->o;
    j->sp.o = &j->o;
    if (sp->override) {
        j->override = *sp->override;
        j->sp.override = &j->override;
    }
    if (sp->chan_info.p && sp->chan_info.len) {
        if (!(j->chan_info = dup_n(sp->chan_info.p, sp->chan_info.len)))
            return LC_ENOMEM;
        j->sp.chan_info.p = j->chan_info;
    }
    if (sp->data.p && sp->data.len) {
        if (!(j->data = dup_n(sp->data.p, sp->data.len)))
            return LC_ENOMEM;
        j->sp.data.p = j->data;
    }
    if (sp->epoch) {
        if (!(j->epoch = strdup(sp->epoch)))
            return LC_ENOMEM;
        j->sp.epoch = j->epoch;
    }
    return 0;
}

/* --- the run ------------------------------------------------------------------------------- */

static int run_go(lc_client_t *c, sub_run_t *run);

static void on_stream(void *arg, int err, const lc_history_res_t *res)
{
    lc_engine_wait_t *w = arg;
    sub_run_t *run = w->ctx;
    bool async;
    lc_client_t *c = lc__client_engine_answer(w, &async);
    if (!c) { /* the session ended: run is the waiter's (ctx_free) or already the starter's */
        lc__client_engine_end(w, LC_CMD_DONE, async);
        return;
    }
    lc__stream_keep(&run->stream, err, res);
    int r = LC_CMD_DONE;
    if (async && c) {
        /* the run goes on, owned by itself again */
        w->ctx = NULL;
        w->ctx_free = NULL;
        r = run_go(c, run);
    }
    lc__client_engine_end(w, r, async);
}

static void on_ready(void *arg, int err)
{
    lc_engine_wait_t *w = arg;
    sub_run_t *run = w->ctx;
    bool async;
    lc_client_t *c = lc__client_engine_answer(w, &async);
    if (!c) { /* as in on_stream */
        lc__client_engine_end(w, LC_CMD_DONE, async);
        return;
    }
    run->ready = true;
    run->ready_err = err;
    int r = LC_CMD_DONE;
    if (async && c) {
        w->ctx = NULL;
        w->ctx_free = NULL;
        r = run_go(c, run);
    }
    lc__client_engine_end(w, r, async);
}

/* Count jobs[next]'s channel in for this node and wait until the node receives it. Returns
 * like read_stream; run->ready is set once answered. */
static int wait_ready(lc_client_t *c, sub_run_t *run, const sub_job_t *j)
{
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    e->vt->channel_subscribe(e, j->channel, j->len);
    run->held = e;
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = LC_ENOMEM;
    if (w) {
        w->ctx = run;
        rc = e->vt->channel_ready(e, j->channel, j->len, on_ready, w);
        int r = lc__client_engine_started(c, w, rc);
        if (r == LC_CMD_WAIT) {
            w->ctx_free = run_free;
            return r;
        }
        if (r == LC_CMD_STOP)
            return r;
    }
    if (rc != 0) {
        run->ready = true;
        run->ready_err = rc;
    }
    return LC_CMD_DONE;
}

/* Read jobs[next]'s stream. LC_CMD_WAIT when the answer comes later, LC_CMD_STOP when the
 * session closed, else LC_CMD_DONE with run->stream read. */
static int read_stream(lc_client_t *c, sub_run_t *run, const sub_job_t *j, const lc_sub_plan_t *p)
{
    lc_history_req_t req;
    lc__client_stream_req(c, j->channel, j->len, &j->sp, p, &req);
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc = LC_ENOMEM;
    if (w) {
        w->ctx = run;
        rc = e->vt->history(e, &req, on_stream, w);
        int r = lc__client_engine_started(c, w, rc);
        if (r == LC_CMD_WAIT) {
            w->ctx_free = run_free; /* dropped with the waiter if the session ends first */
            return r;
        }
        if (r == LC_CMD_STOP)
            return r;
    }
    if (rc != 0) {
        run->stream.read = true;
        run->stream.err = rc;
    }
    return LC_CMD_DONE;
}

static void reply_subscribe(lc_client_t *c, uint32_t id, const lc_buf_t *result)
{
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    lc_buf_printf(&c->replies, "{\"id\":%u,\"subscribe\":", id);
    lc_buf_append(&c->replies, result->data, result->len);
    lc_buf_putc(&c->replies, '}');
}

static void reply_connect(lc_client_t *c, sub_run_t *run)
{
    const lc_config_t *cfg = lc__ccfg(c);
    int64_t now = lc_now_s();
    lc_buf_putc(&run->out, '}');
    lc_connect_result_t r;
    memset(&r, 0, sizeof(r));
    r.client = c->id;
    r.version = LUCENT_VERSION;
    /* expires/ttl tell the SDK to refresh itself; the refresh proxy does it for it instead. */
    if (run->exp > 0 && !c->server_refresh) {
        r.expires = true;
        r.ttl = run->exp > now ? (uint32_t)(run->exp - now) : 0;
    }
    r.data = (lc_raw_t){run->data, run->data_len};
    if ((!c->native_ping || c->mode == LC_CLIENT_UNI) && cfg->ping_interval_ms > 0) {
        r.ping = (uint32_t)(cfg->ping_interval_ms / 1000);
        r.pong = cfg->pong_timeout_ms > 0 && c->mode != LC_CLIENT_UNI;
    }
    if (c->mode != LC_CLIENT_BIDI && c->x)
        r.session = c->x->session;
    if (c->mode == LC_CLIENT_EMULATION)
        r.node = lc_node_uid(lc_worker_node(c->w));
    if (cfg->connect_include_server_time)
        r.time_ms = lc_now_ms();
    if (run->out.len > 2)
        r.subs = (lc_raw_t){run->out.data, run->out.len};
    if (c->replies.len > 0)
        lc_buf_putc(&c->replies, '\n');
    if (c->mode == LC_CLIENT_UNI)
        lc_proto_push_connect(&c->replies, &r); /* unidirectional: a push, not a reply */
    else
        lc_proto_reply_connect(&c->replies, run->id, &r);
    /* pings start with the connect result */
    lc__client_schedule_ping(c);
    lc_log_debug("client %s connected (user \"%s\")", c->id, c->user);
}

/* The server API's subscribe, made: the push carries the same result object a subscribe
 * reply would. Replies already produced go out first, in order. */
static void push_subscribe(lc_client_t *c, const sub_job_t *j, const lc_buf_t *result)
{
    lc_buf_t push = LC_BUF_INIT;
    if (lc_buf_append_str(&push, "{\"push\":{\"channel\":") == 0 &&
        lc_buf_append_json_str(&push, j->channel, j->len) == 0 &&
        lc_buf_append_str(&push, ",\"subscribe\":") == 0 &&
        lc_buf_append(&push, result->data, result->len) == 0 &&
        lc_buf_append_str(&push, "}}") == 0) {
        lc__client_send_replies(c);
        lc__client_send_push(c, push.data, push.len);
    }
    lc_buf_free(&push);
}

/* Make the run's subscriptions from run->next on, then answer. Returns like a handler; the
 * run is freed unless it waits (LC_CMD_WAIT). */
static int run_go(lc_client_t *c, sub_run_t *run)
{
    int r = LC_CMD_DONE;
    bool answer = true;
    while (run->next < run->n) {
        sub_job_t *j = &run->jobs[run->next];
        uint32_t code = j->code;
        if (!code && lc__client_find_sub(c, j->channel, j->len)) {
            /* a client subscribe meets a server-side subscription made meanwhile; a
             * connect names a channel twice; the server API's finds it made already */
            if (run->kind == RUN_API) {
                answer = false;
                break;
            }
            code = run->kind == RUN_CONNECT ? 0 : LC_ERROR_ALREADY_SUBSCRIBED;
            if (!code) {
                run->next++;
                continue;
            }
        }
        lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
        if (!code && e->vt->channel_ready && !run->ready) {
            r = wait_ready(c, run, j);
            if (r == LC_CMD_WAIT)
                return r;
            if (r == LC_CMD_STOP)
                break;
        }
        if (!code && run->ready_err) {
            lc_log_error("client %s: %.*s not subscribed on other nodes: %s", c->id, (int)j->len,
                         j->channel, lc_strerror(run->ready_err));
            code = j->uni ? LC_DISCONNECT_INTERNAL : LC_ERROR_INTERNAL;
        }
        if (!code) {
            lc_sub_plan_t p;
            lc__client_sub_plan(c, &j->sp, &p);
            if (p.positioned && !run->stream.read) {
                r = read_stream(c, run, j, &p);
                if (r == LC_CMD_WAIT)
                    return r;
                if (r == LC_CMD_STOP)
                    break;
            }
            if (run->kind == RUN_CONNECT) {
                if (run->out.len > 1)
                    lc_buf_putc(&run->out, ',');
                lc_buf_append_json_str(&run->out, j->channel, j->len);
                lc_buf_putc(&run->out, ':');
            }
            code = lc__client_sub_make(c, j->channel, j->len, &j->sp, &p, &run->stream, &run->out);
            lc__stream_free(&run->stream);
            run_release(run); /* the hub counts the channel now (or the job failed) */
            if (code && j->uni)
                code = LC_DISCONNECT_INTERNAL;
        }
        if (code) {
            if (j->uni) {
                lc__client_disconnect(c, code, NULL);
                r = LC_CMD_STOP;
            } else if (run->kind == RUN_API) {
                /* nobody waits for an answer: the server API answered already */
                lc_log_error("client %s: server API subscribe to %.*s not made: %s", c->id,
                             (int)j->len, j->channel, lc_error_message(code));
            } else {
                lc__client_reply_error(c, run->id, code);
                if (run->kind == RUN_CONNECT) {
                    c->unusable = true;
                    r = LC_CMD_STOP;
                }
            }
            break;
        }
        run->next++;
    }
    if (answer && run->next == run->n && c->state != LC_CLIENT_CLOSING) {
        if (run->kind == RUN_CONNECT)
            reply_connect(c, run);
        else if (run->kind == RUN_API)
            push_subscribe(c, &run->jobs[0], &run->out);
        else if (c->mode == LC_CLIENT_PUSHER)
            r = lc__pusher_subscribed(c);
        else
            reply_subscribe(c, run->id, &run->out);
    }
    run_free(run);
    return r;
}

/* --- client subscribe ------------------------------------------------------------------------ */

int lc__client_subscribe_run(lc_client_t *c, const lc_cmd_t *cmd, const lc_sub_spec_t *sp)
{
    sub_run_t *run = calloc(1, sizeof(*run));
    if (!run || add_job(run, cmd->channel, strlen(cmd->channel), sp, 0, false) != 0) {
        run_free(run);
        lc__client_reply_error(c, cmd->id, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    run->id = cmd->id;
    return run_go(c, run);
}

/* --- connect ---------------------------------------------------------------------------------- */

const char *lc__client_server_side_refusal(const lc_ns_opts_t *o)
{
    if (lc_config_map_type(o->subscription_type))
        return "a map channel is subscribed by its client (state, stream and live phases)";
    if (o->subscription_type == LC_SUB_TYPE_SHARED_POLL)
        return "a shared poll channel is subscribed by its client (track)";
    return NULL;
}

/* Channel ch (options o) may be subscribed server-side; else a log line says why it is
 * skipped (never an ordinary stream subscription in its place). */
static bool server_side_ok(const lc_client_t *c, const char *ch, size_t len, const lc_ns_opts_t *o)
{
    const char *why = lc__client_server_side_refusal(o);
    if (why)
        lc_log_info("client %s: server-side subscription to %.*s skipped: %s", c->id, (int)len, ch,
                    why);
    return !why;
}

/* One server-side channel of a connect. */
static int add_server_job(lc_client_t *c, sub_run_t *run, const char *ch,
                          const lc_sub_options_t *so, const lc_cmd_t *cmd)
{
    size_t len = strlen(ch);
    if (len == 0 || (int64_t)len > lc__ccfg(c)->channel_max_length)
        return add_job(run, ch, len, NULL, LC_ERROR_BAD_REQUEST, false);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), ch, len, c->user, &scratch);
    if (!o)
        return add_job(run, ch, len, NULL, LC_ERROR_UNKNOWN_CHANNEL, false);
    if (!server_side_ok(c, ch, len, o))
        return 0;
    lc_sub_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.o = o;
    sp.server_side = true;
    if (so) {
        if (so->b64info && lc_json_check((const char *)so->b64info, so->b64info_len, NULL))
            sp.chan_info = (lc_raw_t){(const char *)so->b64info, so->b64info_len};
        else if (so->info)
            sp.chan_info = (lc_raw_t){so->info, so->info_len};
        if (so->data)
            sp.data = (lc_raw_t){so->data, so->data_len};
        sp.override = &so->override;
    }
    /* Recovery of server-side subscriptions: the connect command's `subs` map. */
    const lc_cmd_sub_t *want = cmd ? lc_cmd_find_sub(cmd, ch) : NULL;
    if (want) {
        sp.recover = want->recover;
        sp.offset = want->offset;
        sp.epoch = want->epoch;
        sp.want_recoverable = want->recover;
    }
    return add_job(run, ch, len, &sp, 0, false);
}

/* A unidirectional client cannot subscribe, but its connect request may name channels
 * (`subs`): each is subscribed when a client-side subscribe without token or proxy would be
 * allowed (public, regex ok, user-limited naming the user, allow_subscribe_for_client), and
 * skipped otherwise; a bad name or an undefined namespace ends the connection (3501). */
static int add_uni_jobs(lc_client_t *c, sub_run_t *run, const lc_cmd_t *cmd)
{
    const lc_config_t *cfg = lc__ccfg(c);
    int rc = 0;
    for (size_t i = 0; i < cmd->n_subs && !rc; i++) {
        const lc_cmd_sub_t *want = &cmd->subs[i];
        const char *ch = want->channel;
        size_t len = strlen(ch);
        lc_ns_opts_t scratch;
        const lc_ns_opts_t *o = NULL;
        if (len == 0 || (int64_t)len > cfg->channel_max_length ||
            !(o = lc_config_resolve_channel(cfg, ch, len, c->user, &scratch))) {
            rc = add_job(run, ch, len, NULL, LC_DISCONNECT_BAD_REQUEST, true);
            break;
        }
        size_t pl = cfg->private_prefix ? strlen(cfg->private_prefix) : 0;
        bool private = pl > 0 && strncmp(ch, cfg->private_prefix, pl) == 0;
        bool allowed = !private && !o->subscribe_proxy &&
                       lc_config_channel_regex_ok(o, lc__channel_name_after_ns(cfg, ch)) &&
                       lc_decide_subscribe_rules(cfg, o, c->user, ch, len);
        if (!allowed || !server_side_ok(c, ch, len, o))
            continue;
        lc_sub_spec_t sp;
        memset(&sp, 0, sizeof(sp));
        sp.o = o;
        sp.server_side = true;
        sp.recover = want->recover;
        sp.want_recoverable = want->recover;
        sp.offset = want->offset;
        sp.epoch = want->epoch;
        rc = add_job(run, ch, len, &sp, 0, true);
    }
    return rc;
}

int lc__client_connect_run(lc_client_t *c, const lc_cmd_t *cmd, const lc_conn_subs_t *g)
{
    sub_run_t *run = calloc(1, sizeof(*run));
    int rc = run ? 0 : LC_ENOMEM;
    if (run) {
        run->kind = RUN_CONNECT;
        run->id = cmd->id;
        run->exp = g->exp;
        if (g->data.p && g->data.len && !(run->data = dup_n(g->data.p, g->data.len)))
            rc = LC_ENOMEM;
        run->data_len = run->data ? g->data.len : 0;
        lc_buf_putc(&run->out, '{');
    }
    for (size_t i = 0; !rc && i < g->n_subs; i++)
        rc = add_server_job(c, run, g->subs[i].channel, &g->subs[i].opts, cmd);
    for (size_t i = 0; !rc && i < g->n_channels; i++)
        rc = add_server_job(c, run, g->channels[i], NULL, cmd);
    if (!rc && lc__ccfg(c)->personal_channel_enabled && c->user[0]) {
        /* client.subscribe_to_user_personal_channel: `#42`, or `ns:#42` */
        lc_buf_t name = LC_BUF_INIT;
        const char *ns = lc__ccfg(c)->personal_channel_namespace;
        if (ns && *ns)
            lc_buf_printf(&name, "%s%s", ns, lc__ccfg(c)->namespace_boundary);
        lc_buf_printf(&name, "%s%s", lc__ccfg(c)->user_boundary, c->user);
        rc = name.data ? add_server_job(c, run, name.data, NULL, cmd) : LC_ENOMEM;
        lc_buf_free(&name);
    }
    if (!rc && c->mode == LC_CLIENT_UNI)
        rc = add_uni_jobs(c, run, cmd);
    if (rc) {
        run_free(run);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    return run_go(c, run);
}

/* --- the server API's subscribe ------------------------------------------------------------- */

/* Start a run of the server API now: the session has no pending step. */
static int api_start(lc_client_t *c, sub_run_t *run)
{
    LC_ASSERT(c->wait == LC_WAIT_NONE && c->cmd == NULL);
    return run_go(c, run);
}

void lc__client_api_subscribe(lc_client_t *c, const char *ch, size_t len, const lc_sub_spec_t *sp)
{
    sub_run_t *run = calloc(1, sizeof(*run));
    if (!run || add_job(run, ch, len, sp, 0, false) != 0) {
        run_free(run);
        lc_log_error("client %s: server API subscribe to %.*s not made: out of memory", c->id,
                     (int)len, ch);
        return;
    }
    run->kind = RUN_API;
    if (c->state != LC_CLIENT_CONNECTED) {
        run_free(run);
        return;
    }
    if (c->wait == LC_WAIT_NONE && !c->cmd && !(c->x && c->x->api_runs)) {
        if (api_start(c, run) == LC_CMD_STOP)
            lc__client_drop_queue(c);
        return;
    }
    /* Behind the pending step (and the runs already waiting), bounded like commands. */
    lc_client_x_t *x = lc__client_x(c);
    size_t n = 0;
    sub_run_t **tail = x ? &x->api_runs : NULL;
    while (tail && *tail) {
        tail = &(*tail)->later;
        n++;
    }
    if (!tail || n >= (size_t)lc__ccfg(c)->max_queued_commands) {
        lc_log_error("client %s: server API subscribe to %.*s not made: %s", c->id, (int)len, ch,
                     x ? "too many waiting" : "out of memory");
        run_free(run);
        return;
    }
    *tail = run;
}

int lc__client_api_next(lc_client_t *c)
{
    sub_run_t *run = c->x ? c->x->api_runs : NULL;
    if (!run)
        return -1;
    c->x->api_runs = run->later;
    run->later = NULL;
    return api_start(c, run);
}

void lc__client_api_drop(lc_client_t *c)
{
    while (c->x && c->x->api_runs) {
        sub_run_t *run = c->x->api_runs;
        c->x->api_runs = run->later;
        run_free(run);
    }
}
