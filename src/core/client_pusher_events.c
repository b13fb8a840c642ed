/* Pusher sessions (client_pusher.c): client events (`client-*`, Echo's whisper) under the app's
 * policy and the Lua publish hook, published as tagged publications without history and with
 * the sender excluded on every node; and the delivery of pushes to Pusher connections, framed
 * once per fan-out for all of them. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "proto/pusher.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"

static lc_pusher_sess_t *sess(const lc_client_t *c)
{
    return c->x ? c->x->pusher : NULL;
}

/* --- client events ------------------------------------------------------------------------- */

static void client_event_refused(lc_client_t *c, const lc_cmd_t *cmd, uint32_t code,
                                 const char *msg)
{
    lc_log_info("pusher %s (user \"%s\"): client event %s on %s refused: %s", c->id, c->user,
                cmd->name, cmd->channel ? cmd->channel : "-", msg);
    lc__pusher_error(c, code, msg);
}

int lc__pusher_client_event(lc_client_t *c, lc_cmd_t *cmd)
{
    lc_pusher_sess_t *s = sess(c);
    const lc_pusher_app_t *app = s->app;
    if (app->client_events == LC_PUSHER_CLIENT_EVENTS_OFF) {
        client_event_refused(c, cmd, LC_PUSHER_CLIENT_EVENT_REJECTED,
                             "The app does not have client messaging enabled");
        return LC_CMD_DONE;
    }
    size_t max_name = app->max_event_name_length > 0 ? (size_t)app->max_event_name_length : 200;
    size_t max_data = app->max_event_data_size > 0 ? (size_t)app->max_event_data_size : 10240;
    if (!cmd->channel || !cmd->channel[0] || !cmd->data.p) {
        client_event_refused(c, cmd, LC_PUSHER_RECONNECT, "Client event needs channel and data");
        return LC_CMD_DONE;
    }
    if (strlen(cmd->name) > max_name || cmd->data.len > max_data) {
        client_event_refused(c, cmd, LC_PUSHER_CLIENT_EVENT_REJECTED,
                             "Client event name or data too big");
        return LC_CMD_DONE;
    }
    int limit = app->max_client_events_per_second;
    if (limit > 0) {
        uint32_t now = (uint32_t)(lc_mono_ms() / 1000);
        if (now != s->ev_second) {
            s->ev_second = now;
            s->ev_count = 0;
        }
        if (++s->ev_count > (uint32_t)limit) {
            client_event_refused(c, cmd, LC_PUSHER_CLIENT_EVENT_REJECTED,
                                 "Client event rejected due to rate limit");
            return LC_CMD_DONE;
        }
    }
    size_t len = strlen(cmd->channel);
    lc_pusher_chan_t kind = lc_pusher_channel_kind(cmd->channel, len);
    if (kind == LC_PUSHER_PUBLIC && app->client_events != LC_PUSHER_CLIENT_EVENTS_ALL) {
        client_event_refused(c, cmd, LC_PUSHER_CLIENT_EVENT_REJECTED,
                             "Client events only on private and presence channels");
        return LC_CMD_DONE;
    }
    lc_buf_t ch = LC_BUF_INIT;
    const lc_ns_opts_t *o = NULL;
    lc_ns_opts_t scratch;
    bool member = false;
    if (lc__pusher_lucent_channel(c, cmd->channel, &ch) == 0) {
        member = lc__client_find_sub(c, ch.data, ch.len) != NULL;
        o = member ? lc_config_resolve_channel(lc__ccfg(c), ch.data, ch.len, c->user, &scratch)
                   : NULL;
    }
    if (!member || !o) {
        lc_buf_free(&ch);
        client_event_refused(c, cmd, LC_PUSHER_UNAUTHORIZED,
                             "The client is not a member of the specified channel");
        return LC_CMD_DONE;
    }
    cmd->method = lc_buf_steal(&ch); /* the Lucent channel, while the decision may run */
    /* the app's policy stood for the namespace rules: the Lua publish hook decides */
    lc_decide_req_t req;
    lc__client_decide_req(c, LC_HOOK_PUBLISH, &req);
    req.ns = o;
    req.subscribed = true;
    req.preauthorized = true;
    req.channel = cmd->method;
    req.method = NULL;
    req.name = NULL;
    return lc__client_decide(c, &req);
}

static void on_client_event_published(void *arg, int err, const lc_publish_res_t *res)
{
    bool async;
    lc_client_t *c = lc__client_engine_answer(arg, &async);
    if (c && err != 0)
        lc_log_error("pusher %s: client event on %s failed: %s", c->id, c->cmd->channel,
                     lc_strerror(err));
    lc__client_engine_end(arg, LC_CMD_DONE, async);
}

int lc__pusher_client_event_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type == LC_VERDICT_DISCONNECT) {
        lc__client_disconnect(c, v->code, v->message);
        return LC_CMD_STOP;
    }
    if (v->type != LC_VERDICT_ALLOW) {
        client_event_refused(c, cmd, LC_PUSHER_UNAUTHORIZED,
                             v->message && v->message[0] ? v->message : lc_error_message(v->code));
        return LC_CMD_DONE;
    }
    const char *ch = cmd->method; /* the Lucent channel */
    size_t chlen = ch ? strlen(ch) : 0;
    lc_buf_t tags = LC_BUF_INIT;
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = NULL;
    if (ch && lc_pusher_event_tags(&tags, cmd->name) == 0)
        o = lc_config_resolve_channel(lc__ccfg(c), ch, chlen, c->user, &scratch);
    lc_csub_t *cs = o ? lc__client_find_sub(c, ch, chlen) : NULL;
    if (!cs) { /* unsubscribed meanwhile */
        lc_buf_free(&tags);
        return LC_CMD_DONE;
    }
    lc_client_info_t info;
    lc__client_info(c, cs, &info);
    /* the sender never gets its own event back, on any node */
    const char *self[1] = {c->id};
    size_t nx = v->n_exclude_clients;
    const char **ex = calloc(nx + 1, sizeof(*ex));
    lc_publish_req_t req;
    memset(&req, 0, sizeof(req));
    req.channel = ch;
    req.chlen = chlen;
    req.pub.data = v->data_set ? v->data : cmd->data; /* verbatim */
    req.pub.info = &info;
    req.pub.tags = (lc_raw_t){tags.data, tags.len};
    req.skip_history = true; /* client events are not kept (Pusher) */
    if (ex) {
        ex[0] = c->id;
        for (size_t i = 0; i < nx; i++)
            ex[i + 1] = v->exclude_clients[i];
        req.exclude.clients = ex;
        req.exclude.n_clients = nx + 1;
    } else {
        req.exclude.clients = self;
        req.exclude.n_clients = 1;
    }
    req.exclude.users = v->exclude_users;
    req.exclude.n_users = v->n_exclude_users;
    lc_node_chan_opts(lc_worker_node(c->w), o, &req.opts);
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    int rc =
        w ? lc_node_publish(lc_worker_node(c->w), &req, on_client_event_published, w) : LC_ENOMEM;
    if (rc != 0)
        lc_log_error("pusher %s: client event on %s failed: %s", c->id, cmd->channel,
                     lc_strerror(rc));
    free(ex);
    lc_buf_free(&tags);
    return w ? lc__client_engine_started(c, w, rc) : LC_CMD_DONE;
}

/* --- delivery ------------------------------------------------------------------------------ */

/* The fan-out's Pusher frame: built once from the push for every Pusher subscriber. An empty
 * frame stands for "nothing to send" so the push is looked at once. */
static lc_rcbuf_t *pusher_frame(lc_client_t *c, const char *push, size_t len)
{
    const lc_pusher_sess_t *s = sess(c);
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_pusher_from_push(push, len, s->app->channel_prefix, &b);
    lc_rcbuf_t *f = NULL;
    if (rc > 0)
        f = c->t->vt->frame(b.data, b.len);
    else if (rc == 0)
        f = lc_rcbuf_new(0);
    else
        lc_log_error("pusher %s: a push could not be converted: %s", c->id, lc_strerror(rc));
    lc_buf_free(&b);
    return f;
}

/* The app prefix the current fan-out's Pusher frame (frames[LC_FRAMING_PUSHER_WS]) was made
 * for: only Pusher sessions fill that slot, each fan-out starts with it empty and runs in one
 * thread without another inside it (engine sinks only queue). */
static _Thread_local const char *frame_prefix;

void lc__pusher_deliver(lc_client_t *c, lc_rcbuf_t *push, lc_rcbuf_t **frames)
{
    if (!sess(c) || !sess(c)->app)
        return;
    /* the connections of one user do not hear of each other (member events are per user) */
    if (c->user[0] && lc_pusher_push_is_user_event(push->data, push->len, c->user))
        return;
    unsigned k = c->t->framing;
    const char *prefix = sess(c)->app->channel_prefix;
    lc_rcbuf_t *own = NULL, *f;
    if (!frames[k]) {
        if (!(frames[k] = pusher_frame(c, push->data, push->len)))
            return;
        frame_prefix = prefix;
        f = frames[k];
    } else if (frame_prefix == prefix || strcmp(frame_prefix, prefix) == 0) {
        f = frames[k];
    } else {
        /* another app reaching the channel under another prefix: its own frame */
        if (!(f = own = pusher_frame(c, push->data, push->len)))
            return;
    }
    if (f->len == 0) {
        if (own)
            lc_rcbuf_unref(own);
        return;
    }
    int sent = c->t->vt->send(c->t, f);
    if (own)
        lc_rcbuf_unref(own);
    if (sent == 0)
        lc_metrics_pub_out(k);
    if (sent == LC_ESLOW) {
        lc_metrics_pub_dropped();
        lc_log_info("pusher %s (user \"%s\"): write queue over client.queue_max_size: "
                    "disconnect slow consumer",
                    c->id, c->user);
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
    }
}

void lc__pusher_send_push(lc_client_t *c, const char *p, size_t n)
{
    if (!sess(c) || !sess(c)->app)
        return;
    lc_buf_t b = LC_BUF_INIT;
    if (lc_pusher_from_push(p, n, sess(c)->app->channel_prefix, &b) > 0)
        lc__pusher_send(c, b.data, b.len);
    lc_buf_free(&b);
}
