/* The client session: connection state, the command queue of spec §1.4 (commands answered in
 * order, later ones waiting behind a pending step: client_wait.c), pings, expiry, and the
 * delivery of publications to this connection. Connect and refresh are in client_connect.c,
 * subscriptions in client_sub.c, the other channel commands in client_channel.c and
 * client_read.c. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "proto/codes.h"
#include "proto/pusher.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/rand.h"

/* Keep the request headers some proxy forwards (its http_headers allow-list); only those. */
static int copy_forwarded_headers(lc_client_t *c, const lc_client_opts_t *opts)
{
    size_t keep = 0;
    for (size_t i = 0; i < opts->n_headers; i++)
        if (lc__node_forwards_header(lc_worker_node(c->w), opts->headers[i].name))
            keep++;
    if (keep == 0)
        return 0;
    lc_client_x_t *x = lc__client_x(c);
    if (!x)
        return LC_ENOMEM;
    x->headers = calloc(keep, sizeof(*x->headers));
    if (!x->headers)
        return LC_ENOMEM;
    for (size_t i = 0; i < opts->n_headers; i++) {
        if (!lc__node_forwards_header(lc_worker_node(c->w), opts->headers[i].name))
            continue;
        lc_http_header_t *h = &x->headers[x->n_headers++];
        h->name = strdup(opts->headers[i].name);
        h->value = strdup(opts->headers[i].value);
        if (!h->name || !h->value)
            return LC_ENOMEM;
    }
    return 0;
}

static void free_headers(lc_http_header_t *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)h[i].name);
        free((char *)h[i].value);
    }
    free(h);
}

lc_client_x_t *lc__client_x(lc_client_t *c)
{
    if (!c->x) {
        c->x = calloc(1, sizeof(*c->x));
        if (c->x)
            c->x->c = c;
    }
    return c->x;
}

/* The side struct's memory; its scheds and calls are already gone (client_detach). */
static void free_x(lc_client_x_t *x)
{
    if (!x)
        return;
    lc_cmd_free(&x->cur);
    free(x->sub_refresh_ch);
    free(x->session);
    free(x->meta);
    free_headers(x->headers, x->n_headers);
    free_headers(x->emulated, x->n_emulated);
    free(x->pusher);
    lc__client_map_free_walks(x);
    free(x);
}

lc_client_t *lc_client_new(lc_transport_t *t, const lc_client_opts_t *opts)
{
    lc_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->t = t;
    c->w = t->worker;
    c->native_ping = opts && opts->native_ping;
    c->protobuf = opts && opts->protobuf;
    c->mode = opts ? (uint8_t)opts->mode : LC_CLIENT_BIDI;
    c->state = LC_CLIENT_CONNECTING;
    lc_buf_init(&c->replies);
    lc_list_init(&c->user_node);
    if (opts && copy_forwarded_headers(c, opts) != 0) {
        free_x(c->x);
        free(c);
        return NULL;
    }
    lc__worker_count_session(c->w, 1);
    lc_metrics_conn(c->t->framing, 1);
    /* A connection that never authenticates is closed as stale. */
    if (lc__ccfg(c)->stale_close_delay_ms > 0)
        lc__worker_sched(c->w, &c->sched, LC_SCHED_STALE, lc__ccfg(c)->stale_close_delay_ms);
    if (c->mode == LC_CLIENT_PUSHER)
        lc__pusher_start(c, opts);
    return c;
}

/* Leave every channel and every worker list: after this no publication reaches the client. */
static void client_detach(lc_client_t *c)
{
    if (c->registered)
        lc__client_notify(c, LC_HOOK_DISCONNECT, NULL, 0);
    lc_client_x_t *x = c->x;
    /* A step still pending is abandoned: its answer never reaches the session. */
    lc__client_cancel_wait(c);
    lc__client_api_drop(c);
    while (c->nsubs > 0)
        lc__client_remove_sub(c, c->nsubs - 1);
    lc__worker_unsched(c->w, &c->sched);
    if (x) {
        lc__worker_unsched(c->w, &x->expire);
        lc__worker_unsched(c->w, &x->sub_expire);
        lc__client_map_free_walks(x); /* their hub records and kept publications */
        lc__worker_unsched(c->w, &x->map_sweep);
    }
    if (c->mode == LC_CLIENT_PUSHER)
        lc__pusher_end(c);
    if (c->user_counted) {
        lc__node_user_release(lc_worker_node(c->w), c->user);
        c->user_counted = false;
    }
    if (c->registered) {
        lc__worker_remove_client(c->w, c->id, c->user, &c->user_node);
        if (c->mode == LC_CLIENT_EMULATION && x && x->session)
            lc__worker_remove_session(c->w, x->session);
        c->registered = false;
    }
    if (!x)
        return;
    free(x->sub_refresh_ch);
    x->sub_refresh_ch = NULL;
}

void lc__client_send_push(lc_client_t *c, const char *p, size_t n)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    if (c->mode == LC_CLIENT_PUSHER) {
        lc__pusher_send_push(c, p, n);
        return;
    }
    lc_rcbuf_t *f = c->t->vt->frame(p, n);
    if (!f)
        return;
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

void lc__client_send_replies(lc_client_t *c)
{
    /* a Pusher session sends each event as it is made (one per frame) */
    if (c->replies.len == 0 || c->state == LC_CLIENT_CLOSING || c->mode == LC_CLIENT_PUSHER) {
        lc_buf_reset(&c->replies);
        return;
    }
    lc_rcbuf_t *f = c->t->vt->frame(c->replies.data, c->replies.len);
    /* Replies are rare next to pushes: an idle session keeps no reply buffer. */
    lc_buf_free(&c->replies);
    if (!f) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

void lc__client_disconnect(lc_client_t *c, uint32_t code, const char *reason)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    /* Replies already produced for this message go out before the close frame. */
    lc__client_send_replies(c);
    if (!reason || !*reason)
        reason = lc_disconnect_reason(code);
    lc_log_debug("client %s (user \"%s\"): disconnect %u %s", c->id[0] ? c->id : "-",
                 c->user ? c->user : "", code, reason);
    c->state = LC_CLIENT_CLOSING;
    lc_metrics_disconnect(code);
    client_detach(c);
    c->t->vt->close(c->t, code, reason);
}

void lc__client_shutdown(lc_client_t *c)
{
    lc__client_disconnect(c, LC_DISCONNECT_SHUTDOWN, NULL);
}

void lc_client_on_close(lc_client_t *c)
{
    if (c->state != LC_CLIENT_CLOSING) {
        c->state = LC_CLIENT_CLOSING;
        client_detach(c);
    }
    lc__worker_count_session(c->w, -1);
    lc_metrics_conn(c->t->framing, -1);
    lc_buf_free(&c->replies);
    lc__client_drop_queue(c);
    free(c->subs);
    free(c->user);
    free(c->conn_info);
    free_x(c->x);
    free(c);
}

/* --- replies --------------------------------------------------------------------------- */

static int reply_begin(lc_client_t *c)
{
    if (c->replies.len > 0)
        return lc_buf_putc(&c->replies, '\n');
    return 0;
}

/* Unidirectional clients cannot receive error replies: a connect error becomes a disconnect
 * (spec §5.3 default mapping). */
static uint32_t uni_disconnect_code(uint32_t code)
{
    switch (code) {
    case LC_ERROR_TOKEN_EXPIRED:
    case LC_ERROR_EXPIRED:
        return LC_DISCONNECT_EXPIRED;
    case LC_ERROR_TOO_MANY_REQUESTS:
        return LC_DISCONNECT_TOO_MANY_REQUESTS;
    case LC_ERROR_PERMISSION_DENIED:
        return LC_DISCONNECT_PERMISSION_DENIED;
    default:
        return LC_DISCONNECT_INTERNAL;
    }
}

void lc__client_reply_error(lc_client_t *c, uint32_t id, uint32_t code)
{
    if (c->mode == LC_CLIENT_PUSHER) {
        lc__pusher_reply_error(c, code);
        return;
    }
    if (c->mode == LC_CLIENT_UNI) {
        lc__client_disconnect(c, uni_disconnect_code(code), NULL);
        return;
    }
    reply_begin(c);
    lc_proto_reply_error(&c->replies, id, code, lc_error_message(code), lc_error_temporary(code));
}

void lc__client_reply_empty(lc_client_t *c, uint32_t id, const char *kind)
{
    if (c->mode == LC_CLIENT_PUSHER)
        return; /* Pusher acknowledges nothing */
    reply_begin(c);
    lc_proto_reply_empty(&c->replies, id, kind);
}

/* --- pings ----------------------------------------------------------------------------- */

void lc__client_schedule_ping(lc_client_t *c)
{
    if (lc__ccfg(c)->ping_interval_ms > 0)
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PING, lc__ccfg(c)->ping_interval_ms);
}

static void send_ping(lc_client_t *c)
{
    if (c->native_ping) {
        c->t->vt->ping(c->t);
        c->ping_outstanding = true; /* answered by a pong frame before the next ping */
        if (c->mode != LC_CLIENT_UNI)
            return; /* uni_websocket pings both ways (spec §8.2) */
    }
    lc_buf_t b = LC_BUF_INIT;
    lc_proto_ping(&b);
    lc_rcbuf_t *f = c->t->vt->frame(b.data, b.len);
    lc_buf_free(&b);
    if (!f)
        return;
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

/* One sched runs the whole ping cycle of a session, so that a session carries one timer entry:
 * PING sends a ping; with client.pong_timeout the sched then waits PONG (the deadline) and
 * PING_REST (the rest of the interval), each kind with one fixed delay as the worker's lists
 * need. A pong only clears ping_outstanding. Native ping frames (tools such as wscat answer
 * them at once) have their whole interval to be answered: the next ping checks. */
static void ping_cycle(lc_client_t *c, int kind)
{
    const lc_config_t *cfg = lc__ccfg(c);
    if (kind == LC_SCHED_PONG) {
        if (c->ping_outstanding) {
            lc__client_disconnect(c, LC_DISCONNECT_NO_PONG, NULL);
            return;
        }
        int64_t rest = cfg->ping_interval_ms - cfg->pong_timeout_ms;
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PING_REST, rest > 0 ? rest : 0);
        return;
    }
    if (c->native_ping && c->ping_outstanding) {
        lc__client_disconnect(c, LC_DISCONNECT_NO_PONG, NULL);
        return;
    }
    send_ping(c);
    if (c->state != LC_CLIENT_CONNECTED)
        return;
    if (!c->native_ping && c->mode != LC_CLIENT_UNI && cfg->pong_timeout_ms > 0) {
        c->ping_outstanding = true;
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PONG, cfg->pong_timeout_ms);
        return;
    }
    lc__client_schedule_ping(c);
}

void lc__client_on_sched(lc_sched_t *s)
{
    lc_client_t *c;
    switch (s->kind) {
    case LC_SCHED_STALE:
        c = lc_container_of(s, lc_client_t, sched);
        lc__client_disconnect(c, LC_DISCONNECT_STALE, NULL);
        break;
    case LC_SCHED_PING:
    case LC_SCHED_PONG:
    case LC_SCHED_PING_REST:
        c = lc_container_of(s, lc_client_t, sched);
        if (c->state == LC_CLIENT_CONNECTED)
            ping_cycle(c, s->kind);
        break;
    case LC_SCHED_EXPIRE:
        c = lc_container_of(s, lc_client_x_t, expire)->c;
        if (c->server_refresh) {
            /* The refresh proxy decides whether the connection goes on. */
            lc__client_refresh_at_expiry(c);
        } else if (c->exp > 0 && c->exp <= lc_now_s()) {
            /* Not refreshed within client.expired_close_delay after the expiry. */
            lc__client_disconnect(c, LC_DISCONNECT_EXPIRED, NULL);
        } else {
            lc__client_arm_expiry(c);
        }
        break;
    case LC_SCHED_SUB_EXPIRE:
        c = lc_container_of(s, lc_client_x_t, sub_expire)->c;
        lc__client_check_sub_expiry(c);
        break;
    case LC_SCHED_PUSHER:
        lc__pusher_on_activity(lc_container_of(s, lc_client_t, sched));
        break;
    case LC_SCHED_MAP_WALK:
        lc__client_map_sweep_due(lc_container_of(s, lc_client_x_t, map_sweep)->c);
        break;
    }
}

static void got_pong(lc_client_t *c)
{
    c->ping_outstanding = false;
}

void lc_client_on_pong(lc_client_t *c)
{
    if (c->mode == LC_CLIENT_PUSHER)
        lc__pusher_rx(c);
    else if (c->state == LC_CLIENT_CONNECTED)
        got_pong(c);
}

/* --- expiry ---------------------------------------------------------------------------- */

void lc__client_arm_expiry(lc_client_t *c)
{
    if (c->exp <= 0) {
        if (c->x)
            lc__worker_unsched(c->w, &c->x->expire);
        return;
    }
    if (!lc__client_x(c)) {
        /* An expiry nobody would enforce: end the connection instead. */
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    int64_t delay_s = c->exp - lc_now_s();
    /* Client-side refresh gets client.expired_close_delay of grace; the refresh proxy is asked
     * at the expiry itself. */
    int64_t grace = c->server_refresh ? 0 : lc__ccfg(c)->expired_close_delay_ms;
    int64_t delay = (delay_s > 0 ? delay_s * 1000 : 0) + grace;
    lc__worker_sched(c->w, &c->x->expire, LC_SCHED_EXPIRE, delay);
}

/* --- dispatch ---------------------------------------------------------------------------- */

int lc__client_handle(lc_client_t *c, lc_cmd_t *cmd)
{
    c->cmd = cmd;
    if (cmd->type == LC_CMD_CONNECT)
        return lc__client_connect(c, cmd);
    int r = LC_CMD_DONE;
    switch (cmd->type) {
    case LC_CMD_SUBSCRIBE:
        r = lc__client_subscribe(c, cmd);
        break;
    case LC_CMD_UNSUBSCRIBE:
        lc__client_unsubscribe(c, cmd);
        break;
    case LC_CMD_PUBLISH:
        r = lc__client_publish(c, cmd);
        break;
    case LC_CMD_PRESENCE:
    case LC_CMD_PRESENCE_STATS:
    case LC_CMD_HISTORY:
        r = lc__client_read(c, cmd);
        break;
    case LC_CMD_RPC:
        r = lc__client_rpc(c, cmd);
        break;
    case LC_CMD_SEND:
        /* Asynchronous message to the server: accepted, nothing handles it yet. */
        break;
    case LC_CMD_REFRESH:
        r = lc__client_refresh(c, cmd);
        break;
    case LC_CMD_SUB_REFRESH:
        r = lc__client_sub_refresh(c, cmd);
        break;
    default:
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "unknown command");
        return LC_CMD_STOP;
    }
    return lc__client_cmd_result(c, r);
}

/* client.command_rate_limit: whether this command is one too many in the current second. */
static bool over_rate(lc_client_t *c)
{
    int limit = lc__ccfg(c)->command_rate_limit;
    if (limit <= 0)
        return false;
    /* the counters live in the side struct: only sessions under a limit pay for them */
    lc_client_x_t *x = lc__client_x(c);
    if (!x)
        return false;
    uint32_t now = (uint32_t)(lc_mono_ms() / 1000);
    if (now != x->rate_second) {
        x->rate_second = now;
        x->rate_count = 0;
    }
    return ++x->rate_count > (uint32_t)limit;
}

/* A Pusher session's command: client.command_rate_limit holds for it too. */
static int dispatch_pusher(lc_client_t *c, lc_cmd_t *cmd)
{
    if (cmd->type != LC_CMD_PUSHER_PING && over_rate(c)) {
        lc_log_info("pusher %s: over client.command_rate_limit", c->id);
        if (lc__ccfg(c)->command_rate_limit_disconnect) {
            lc__client_disconnect(c, LC_DISCONNECT_TOO_MANY_REQUESTS, NULL);
            return LC_CMD_STOP;
        }
        lc_buf_t b = LC_BUF_INIT;
        if (lc_pusher_error(&b, LC_PUSHER_CLIENT_EVENT_REJECTED, "Rate limit exceeded") == 0)
            lc__pusher_send(c, b.data, b.len);
        lc_buf_free(&b);
        return LC_CMD_DONE;
    }
    if (c->state != LC_CLIENT_CONNECTED)
        return LC_CMD_STOP;
    return lc__pusher_handle(c, cmd);
}

static int dispatch(lc_client_t *c, lc_cmd_t *cmd)
{
    if (c->mode == LC_CLIENT_PUSHER)
        return dispatch_pusher(c, cmd);
    /* pongs (id 0) are not commands; an asynchronous send has no reply to refuse with */
    bool pong = cmd->type != LC_CMD_CONNECT && cmd->type != LC_CMD_SEND && cmd->id == 0;
    if (!pong && over_rate(c)) {
        if (cmd->type == LC_CMD_SEND)
            return LC_CMD_DONE;
        if (lc__ccfg(c)->command_rate_limit_disconnect || cmd->type == LC_CMD_CONNECT) {
            lc_log_info("client %s: over client.command_rate_limit: disconnect",
                        c->id[0] ? c->id : "-");
            lc__client_disconnect(c, LC_DISCONNECT_TOO_MANY_REQUESTS, NULL);
            return LC_CMD_STOP;
        }
        /* answered in order, like any other reply */
        lc__client_reply_error(c, cmd->id, LC_ERROR_TOO_MANY_REQUESTS);
        return LC_CMD_DONE;
    }
    if (c->unusable) {
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "connection unusable");
        return LC_CMD_STOP;
    }
    if (cmd->type == LC_CMD_CONNECT) {
        if (c->state == LC_CLIENT_CONNECTED || c->id[0]) {
            lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "second connect");
            return LC_CMD_STOP;
        }
        /* The id exists from now on: hooks and the connect proxy are told it. */
        lc_uuid4(c->id);
        return lc__client_handle(c, cmd);
    }
    if (c->state != LC_CLIENT_CONNECTED) {
        lc_log_info("command before connect: disconnect");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        return LC_CMD_STOP;
    }
    if (cmd->id == 0 && cmd->type != LC_CMD_SEND) {
        /* An empty command with id 0 is a pong, whatever else it holds. */
        if (!c->ping_outstanding) {
            lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, "unexpected pong");
            return LC_CMD_STOP;
        }
        got_pong(c);
        return LC_CMD_DONE;
    }
    return lc__client_handle(c, cmd);
}

/* An empty queue keeps no array: an idle session holds no command slots (each is as large as
 * a decoded command), and commands are rare next to the pushes a session receives. */
static void release_queue(lc_client_t *c)
{
    free(c->queue);
    c->queue = NULL;
}

static uint32_t queued(const lc_client_t *c)
{
    return c->queue ? c->queue->len - c->queue->head : 0;
}

void lc__client_drop_queue(lc_client_t *c)
{
    lc_cmd_queue_t *q = c->queue;
    for (uint32_t i = q ? q->head : 0; q && i < q->len; i++)
        lc_cmd_free(&q->cmds[i]);
    release_queue(c);
    c->bad_tail = false;
}

/* Expiry work that came while another step was pending takes its turn first. */
static void run_due(lc_client_t *c)
{
    lc_client_x_t *x = c->x;
    if (x->refresh_due) {
        x->refresh_due = false;
        lc__client_refresh_at_expiry(c);
    } else if (x->sub_expiry_due) {
        x->sub_expiry_due = false;
        lc__client_check_sub_expiry(c);
    }
}

void lc__client_process_queue(lc_client_t *c)
{
    while (c->wait == LC_WAIT_NONE && c->state != LC_CLIENT_CLOSING) {
        if (c->x && (c->x->refresh_due || c->x->sub_expiry_due)) {
            run_due(c);
            continue;
        }
        if (c->x && c->x->api_runs) {
            if (lc__client_api_next(c) == LC_CMD_STOP) {
                lc__client_drop_queue(c);
                return;
            }
            continue;
        }
        if (queued(c) == 0) {
            release_queue(c);
            if (c->bad_tail) {
                c->bad_tail = false;
                lc_log_info("client %s: malformed command: disconnect", c->id[0] ? c->id : "-");
                lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
            }
            return;
        }
        lc_cmd_t cmd = c->queue->cmds[c->queue->head++];
        int r = dispatch(c, &cmd);
        /* parked when it waits: then this copy is empty */
        lc_cmd_free(&cmd);
        c->cmd = r == LC_CMD_WAIT && c->x ? &c->x->cur : NULL;
        if (r == LC_CMD_STOP) {
            lc__client_drop_queue(c);
            return;
        }
    }
    if (c->state == LC_CLIENT_CLOSING)
        lc__client_drop_queue(c);
}

static int queue_push(lc_client_t *c, lc_cmd_t *cmd);

/* Queue cmd unless too many wait already (client.max_queued_commands: a flood). False when
 * the session ended. */
static bool enqueue(lc_client_t *c, lc_cmd_t *cmd)
{
    if (queued(c) >= (uint32_t)lc__ccfg(c)->max_queued_commands) {
        lc_cmd_free(cmd);
        lc_log_info("client %s: more than client.max_queued_commands (%d) commands "
                    "waiting: disconnect",
                    c->id[0] ? c->id : "-", lc__ccfg(c)->max_queued_commands);
        lc__client_disconnect(c, LC_DISCONNECT_TOO_MANY_REQUESTS, NULL);
        lc__client_drop_queue(c);
        return false;
    }
    if (queue_push(c, cmd) != 0) {
        lc_cmd_free(cmd);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        lc__client_drop_queue(c);
        return false;
    }
    return true;
}

static int queue_push(lc_client_t *c, lc_cmd_t *cmd)
{
    lc_cmd_queue_t *q = c->queue;
    if (!q || q->len == q->cap) {
        uint32_t ncap = q ? q->cap * 2 : 4;
        if (q && ncap < q->cap)
            return LC_ENOMEM;
        lc_cmd_queue_t *nq = realloc(q, sizeof(*nq) + ncap * sizeof(nq->cmds[0]));
        if (!nq)
            return LC_ENOMEM;
        if (!q)
            nq->head = nq->len = 0;
        nq->cap = ncap;
        c->queue = q = nq;
    }
    q->cmds[q->len++] = *cmd;
    return 0;
}

void lc_client_on_message(lc_client_t *c, const char *data, size_t len)
{
    if (c->state == LC_CLIENT_CLOSING)
        return;
    if (c->mode == LC_CLIENT_PUSHER) {
        /* one event per message */
        lc_cmd_t cmd;
        if (lc__pusher_decode(c, data, len, &cmd) && enqueue(c, &cmd))
            lc__client_process_queue(c);
        return;
    }
    lc_cmd_reader_t r;
    if (c->protobuf)
        lc_cmd_reader_init_pb(&r, data, len);
    else
        lc_cmd_reader_init(&r, data, len);
    int n = 0;
    for (;;) {
        lc_cmd_t cmd;
        int rc = lc_cmd_reader_next(&r, &cmd);
        if (rc == 0)
            break;
        if (rc < 0) {
            /* The commands before it are still answered, in order. */
            c->bad_tail = true;
            n++;
            break;
        }
        if (c->wait != LC_WAIT_NONE && cmd.id == 0 && cmd.type == LC_CMD_NONE &&
            c->state == LC_CLIENT_CONNECTED && c->ping_outstanding) {
            /* A pong is not a command to answer: it must not wait behind a slow proxy. */
            got_pong(c);
            lc_cmd_free(&cmd);
            n++;
            continue;
        }
        /* Commands waiting behind an unanswered hook decision (client.max_queued_commands):
         * more is a flood. */
        if (!enqueue(c, &cmd))
            return;
        n++;
    }
    if (n == 0) {
        lc_log_info("client %s: empty message: disconnect", c->id[0] ? c->id : "-");
        lc__client_disconnect(c, LC_DISCONNECT_BAD_REQUEST, NULL);
        lc__client_drop_queue(c);
        return;
    }
    lc__client_process_queue(c);
    lc__client_send_replies(c);
}

/* --- delivery -------------------------------------------------------------------------- */

void lc__client_deliver(void *owner, lc_rcbuf_t *push, lc_rcbuf_t **frames, void *ctx)
{
    lc_client_t *c = owner;
    if (c->state == LC_CLIENT_CLOSING)
        return;
    if (c->mode == LC_CLIENT_PUSHER) {
        lc__pusher_deliver(c, push, frames);
        return;
    }
    unsigned k = c->t->framing;
    if (!frames[k]) {
        frames[k] = c->t->vt->frame(push->data, push->len);
        if (!frames[k])
            return;
    }
    int sent = c->t->vt->send(c->t, frames[k]);
    if (sent == 0)
        lc_metrics_pub_out(k);
    if (sent == LC_ESLOW) {
        lc_metrics_pub_dropped();
        lc_log_info("client %s (user \"%s\"): write queue over client.queue_max_size: "
                    "disconnect slow consumer",
                    c->id, c->user);
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
    }
}

const char *lc_client_session(const lc_client_t *c)
{
    return c->x && c->x->session ? c->x->session : "";
}

lc_client_t *lc__client_of_user_node(lc_list_t *node)
{
    return lc_container_of(node, lc_client_t, user_node);
}

const char *lc__client_user_of_node(lc_list_t *node)
{
    return lc_container_of(node, lc_client_t, user_node)->user;
}

bool lc_client_keeps_headers(lc_worker_t *w)
{
    return lc__node_keeps_headers(lc_worker_node(w));
}
