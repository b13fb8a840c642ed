/* Pusher protocol 7 sessions (shared/spec/pusher-protocol.md): a client session whose commands
 * are Pusher events. It shares everything below the protocol with Centrifugo sessions: the
 * command queue and its one pending step, the decision pipeline (the Lua subscribe and publish
 * hooks; the channel signature and the app's client-event policy stand for the token, proxy
 * and namespace steps), the hub, the engine, presence, exclusions and metrics. The socket_id
 * is the session's client id, so `toOthers()` exclusion is the engine's exclude_client and
 * holds across nodes.
 *
 * Presence channels live in client_pusher_presence.c, client events and the delivery of pushes
 * in client_pusher_events.c, the events' encoding in proto/pusher.c. */
#include "core/client_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/pusher_auth.h"
#include "proto/codes.h"
#include "proto/json_check.h"
#include "proto/pusher.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/rand.h"

#define PONG_WAIT_MS 30000 /* after our pusher:ping, as Pusher recommends */
#define DEFAULT_ACTIVITY_MS 30000

static lc_pusher_sess_t *sess(const lc_client_t *c)
{
    return c->x ? c->x->pusher : NULL;
}

/* --- sending ------------------------------------------------------------------------------- */

void lc__pusher_send(lc_client_t *c, const char *p, size_t n)
{
    if (c->state == LC_CLIENT_CLOSING || n == 0)
        return;
    lc_rcbuf_t *f = c->t->vt->frame(p, n);
    if (!f) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    int rc = c->t->vt->send(c->t, f);
    lc_rcbuf_unref(f);
    if (rc == LC_ESLOW)
        lc__client_disconnect(c, LC_DISCONNECT_SLOW, NULL);
}

static void send_buf(lc_client_t *c, lc_buf_t *b)
{
    lc__pusher_send(c, b->data, b->len);
    lc_buf_free(b);
}

void lc__pusher_error(lc_client_t *c, uint32_t code, const char *msg)
{
    lc_buf_t b = LC_BUF_INIT;
    if (lc_pusher_error(&b, code, msg) == 0)
        send_buf(c, &b);
    lc_buf_free(&b);
}

static void sub_error(lc_client_t *c, const char *channel, const char *type, const char *msg,
                      int status)
{
    lc_log_info("pusher %s (user \"%s\"): subscription to %s refused: %s", c->id, c->user, channel,
                msg);
    lc_buf_t b = LC_BUF_INIT;
    if (lc_pusher_subscription_error(&b, channel, type, msg, status) == 0)
        send_buf(c, &b);
    lc_buf_free(&b);
}

void lc__pusher_reply_error(lc_client_t *c, uint32_t code)
{
    const lc_cmd_t *cmd = c->cmd;
    if (cmd && cmd->type == LC_CMD_PUSHER_SUBSCRIBE && cmd->channel)
        sub_error(c, cmd->channel, "ServerError", lc_error_message(code), 500);
    else
        lc__pusher_error(c, LC_PUSHER_RECONNECT, lc_error_message(code));
}

int lc__pusher_lucent_channel(const lc_client_t *c, const char *name, lc_buf_t *b)
{
    const lc_pusher_sess_t *s = sess(c);
    const char *prefix = s && s->app && s->app->channel_prefix ? s->app->channel_prefix : "";
    lc_buf_reset(b);
    if (lc_buf_append_str(b, prefix) < 0 || lc_buf_append_str(b, name) < 0)
        return LC_ENOMEM;
    return 0;
}

/* --- start and end ------------------------------------------------------------------------- */

/* Connections per app on this node (max_connections), indexed like cfg->pusher_apps: one array
 * for the process (the config does not change while it runs), made by the first connection of
 * any worker. */
typedef struct app_conns {
    size_t n;
    _Atomic(int) count[];
} app_conns_t;
static _Atomic(app_conns_t *) app_conns;

static _Atomic(int) *app_counter(const lc_client_t *c, const lc_pusher_app_t *app)
{
    app_conns_t *arr = atomic_load(&app_conns);
    if (!arr) {
        size_t n = lc__ccfg(c)->n_pusher_apps;
        app_conns_t *fresh = calloc(1, sizeof(*fresh) + n * sizeof(fresh->count[0]));
        app_conns_t *none = NULL;
        if (!fresh)
            return NULL;
        fresh->n = n;
        if (atomic_compare_exchange_strong(&app_conns, &none, fresh)) {
            arr = fresh;
        } else {
            free(fresh);
            arr = none;
        }
    }
    size_t i = (size_t)(app - lc__ccfg(c)->pusher_apps);
    return i < arr->n ? &arr->count[i] : NULL;
}

/* "<per-thread random>.<per-thread counter>": digits only (the HTTP SDKs check ^\d+\.\d+$),
 * unique on the node, and across nodes unless two threads drew the same 9-digit random. */
static void make_socket_id(char out[37])
{
    static _Thread_local uint32_t base, next;
    if (base == 0) {
        uint32_t r[2] = {0, 0};
        lc_random_bytes(r, sizeof(r));
        base = 1 + r[0] % 999999999u;
        next = r[1] % 1000000u;
    }
    snprintf(out, 37, "%u.%u", (unsigned)base, (unsigned)++next);
}

static void refuse(lc_client_t *c, uint32_t code, const char *why)
{
    lc_log_info("pusher connection refused: %u %s", (unsigned)code, why);
    /* the transport sends pusher:error with the code, then closes with it */
    lc__client_disconnect(c, code, why);
}

static int64_t activity_ms(const lc_pusher_sess_t *s)
{
    return s->app && s->app->activity_timeout_ms > 0 ? s->app->activity_timeout_ms
                                                     : DEFAULT_ACTIVITY_MS;
}

/* The wait for an answer to our ping: 30 s, or the activity timeout when that is shorter. */
static int64_t pong_wait_ms(const lc_pusher_sess_t *s)
{
    int64_t a = activity_ms(s);
    return a < PONG_WAIT_MS ? a : PONG_WAIT_MS;
}

void lc__pusher_start(lc_client_t *c, const lc_client_opts_t *opts)
{
    lc__worker_unsched(c->w, &c->sched); /* no connect to wait for */
    make_socket_id(c->id);
    c->user = strdup("");
    lc_client_x_t *x = lc__client_x(c);
    lc_pusher_sess_t *s = x ? calloc(1, sizeof(*s)) : NULL;
    if (!s || !c->user) {
        free(s);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    x->pusher = s;
    s->app = opts->pusher_app;
    s->last_rx = lc_mono_ms();
    const lc_pusher_app_t *app = s->app;
    if (!app) {
        refuse(c, LC_PUSHER_APP_UNKNOWN, "Application does not exist");
        return;
    }
    if (!app->enabled) {
        refuse(c, LC_PUSHER_APP_DISABLED, "Application disabled");
        return;
    }
    if (opts->pusher_refuse) {
        refuse(c, opts->pusher_refuse,
               opts->pusher_refuse == LC_PUSHER_UNAUTHORIZED ? "Origin not allowed"
                                                             : "Unsupported protocol version");
        return;
    }
    _Atomic(int) *cnt = app_counter(c, app);
    if (cnt) {
        int now = atomic_fetch_add(cnt, 1) + 1;
        s->counted = true;
        if (app->max_connections > 0 && now > app->max_connections) {
            refuse(c, LC_PUSHER_OVER_QUOTA, "Application is over connection quota");
            return;
        }
    }
    if (lc__worker_add_client(c->w, c->id, c->user, c, &c->user_node) != 0) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    c->registered = true;
    c->state = LC_CLIENT_CONNECTED;
    lc_buf_t b = LC_BUF_INIT;
    int64_t act = activity_ms(s);
    if (lc_pusher_connection_established(&b, c->id, (int)((act + 999) / 1000)) == 0)
        send_buf(c, &b);
    lc_buf_free(&b);
    lc__worker_sched(c->w, &c->sched, LC_SCHED_PUSHER, act + pong_wait_ms(s));
    lc_log_debug("pusher %s connected (app %s)", c->id, app->id);
}

void lc__pusher_end(lc_client_t *c)
{
    lc_pusher_sess_t *s = sess(c);
    if (s && s->counted) {
        _Atomic(int) *cnt = app_counter(c, s->app);
        if (cnt)
            atomic_fetch_sub(cnt, 1);
        s->counted = false;
    }
}

/* --- liveness ------------------------------------------------------------------------------ */

void lc__pusher_rx(lc_client_t *c)
{
    lc_pusher_sess_t *s = sess(c);
    if (s) {
        s->last_rx = lc_mono_ms();
        s->ping_sent = false;
    }
}

/* Silent for activity_timeout + 30 s: pusher:ping; still silent 30 s later: 4201 (30 s, or the
 * activity timeout when shorter). Input only stamps the time; this check moves itself to the
 * next possible deadline. */
void lc__pusher_on_activity(lc_client_t *c)
{
    lc_pusher_sess_t *s = sess(c);
    if (!s || c->state != LC_CLIENT_CONNECTED)
        return;
    int64_t wait = pong_wait_ms(s);
    int64_t now = lc_mono_ms(), idle = now - s->last_rx, limit = activity_ms(s) + wait;
    if (s->ping_sent) {
        if (idle >= limit + wait) {
            lc_log_info("pusher %s: no answer to pusher:ping: disconnect", c->id);
            lc__client_disconnect(c, LC_PUSHER_NO_PONG, "Pong reply not received");
            return;
        }
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PUSHER, limit + wait - idle);
        return;
    }
    if (idle >= limit) {
        lc_buf_t b = LC_BUF_INIT;
        if (lc_pusher_ping(&b, false) == 0)
            send_buf(c, &b);
        lc_buf_free(&b);
        s->ping_sent = true;
        lc__worker_sched(c->w, &c->sched, LC_SCHED_PUSHER, wait);
        return;
    }
    lc__worker_sched(c->w, &c->sched, LC_SCHED_PUSHER, limit - idle);
}

/* --- input --------------------------------------------------------------------------------- */

int lc__pusher_decode(lc_client_t *c, const char *data, size_t len, lc_cmd_t *cmd)
{
    lc__pusher_rx(c);
    int rc = lc_pusher_decode(data, len, cmd);
    if (rc == LC_ENOMEM) {
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return 0;
    }
    if (rc < 0) {
        /* Reverb's answer: the connection stays */
        lc_log_info("pusher %s: malformed message (%zu bytes)", c->id, len);
        lc__pusher_error(c, LC_PUSHER_RECONNECT, "Invalid message format");
        return 0;
    }
    if (cmd->type == LC_CMD_PUSHER_PONG) {
        lc_cmd_free(cmd);
        return 0;
    }
    return 1;
}

static int handle_subscribe(lc_client_t *c, lc_cmd_t *cmd);

static void handle_unsubscribe(lc_client_t *c, const lc_cmd_t *cmd)
{
    lc_buf_t ch = LC_BUF_INIT;
    if (cmd->channel[0] && lc__pusher_lucent_channel(c, cmd->channel, &ch) == 0) {
        lc_csub_t *cs = lc__client_find_sub(c, ch.data, ch.len);
        if (cs)
            lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
    }
    lc_buf_free(&ch);
}

int lc__pusher_handle(lc_client_t *c, lc_cmd_t *cmd)
{
    c->cmd = cmd;
    int r = LC_CMD_DONE;
    lc_buf_t b = LC_BUF_INIT;
    switch (cmd->type) {
    case LC_CMD_PUSHER_SUBSCRIBE:
        r = handle_subscribe(c, cmd);
        break;
    case LC_CMD_PUSHER_UNSUBSCRIBE:
        handle_unsubscribe(c, cmd);
        break;
    case LC_CMD_PUSHER_PING:
        if (lc_pusher_ping(&b, true) == 0)
            send_buf(c, &b);
        break;
    case LC_CMD_PUSHER_CLIENT:
        r = lc__pusher_client_event(c, cmd);
        break;
    default:
        lc_log_info("pusher %s: event %s not served", c->id, cmd->name ? cmd->name : "?");
        lc__pusher_error(c, LC_PUSHER_RECONNECT, "Unsupported event");
        break;
    }
    lc_buf_free(&b);
    return lc__client_cmd_result(c, r);
}

/* --- subscribe ----------------------------------------------------------------------------- */

/* c->user becomes the presence user of the connection (one per connection). Takes user. */
static bool take_user(lc_client_t *c, char *user)
{
    if (c->user[0]) {
        bool same = strcmp(c->user, user) == 0;
        free(user);
        return same;
    }
    char *old = c->user;
    lc__worker_remove_client(c->w, c->id, old, &c->user_node);
    c->user = user;
    if (lc__worker_add_client(c->w, c->id, c->user, c, &c->user_node) != 0) {
        c->registered = false;
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
    }
    free(old);
    return true;
}

static int handle_subscribe(lc_client_t *c, lc_cmd_t *cmd)
{
    const lc_pusher_app_t *app = sess(c)->app;
    const char *name = cmd->channel;
    size_t len = strlen(name);
    size_t max = app->max_channel_name_length > 0 ? (size_t)app->max_channel_name_length : 200;
    if (!lc_pusher_channel_valid(name, len, max)) {
        sub_error(c, name, "InvalidChannel", "Invalid channel name", LC_PUSHER_UNAUTHORIZED);
        return LC_CMD_DONE;
    }
    lc_pusher_chan_t kind = lc_pusher_channel_kind(name, len);
    lc_buf_t ch = LC_BUF_INIT;
    if (lc__pusher_lucent_channel(c, name, &ch) != 0) {
        lc_buf_free(&ch);
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return LC_CMD_STOP;
    }
    int r = LC_CMD_DONE;
    char *user = NULL;
    if (lc__client_find_sub(c, ch.data, ch.len)) {
        /* subscribed already: answered again, without a new member_added */
        if (kind == LC_PUSHER_PRESENCE) {
            r = lc__pusher_presence_list(c, false);
        } else {
            lc_buf_t b = LC_BUF_INIT;
            if (lc_pusher_subscription_succeeded(&b, name, NULL, 0) == 0)
                send_buf(c, &b);
            lc_buf_free(&b);
        }
        goto done;
    }
    if ((int64_t)ch.len > lc__ccfg(c)->channel_max_length) {
        sub_error(c, name, "LimitReached", "Channel name too long", LC_PUSHER_OVER_CAPACITY);
        goto done;
    }
    if (lc__ccfg(c)->channel_limit > 0 && c->nsubs >= (uint32_t)lc__ccfg(c)->channel_limit) {
        sub_error(c, name, "LimitReached", "Too many channels", LC_PUSHER_OVER_CAPACITY);
        goto done;
    }
    if (kind != LC_PUSHER_PUBLIC) {
        const char *cd =
            kind == LC_PUSHER_PRESENCE ? (cmd->channel_data ? cmd->channel_data : "") : NULL;
        lc_pusher_auth_status st =
            lc_pusher_auth_check(app->key, app->secret, cmd->token, c->id, name, cd);
        if (st != LC_PUSHER_AUTH_OK) {
            sub_error(c, name, "AuthError",
                      st == LC_PUSHER_AUTH_MISSING   ? "Auth info required to subscribe"
                      : st == LC_PUSHER_AUTH_BAD_KEY ? "Invalid key in subscription auth data"
                                                     : "Invalid signature",
                      401);
            goto done;
        }
    }
    if (kind == LC_PUSHER_PRESENCE) {
        lc_raw_t info;
        int status;
        size_t max_id = app->max_user_id_length > 0 ? (size_t)app->max_user_id_length : 128;
        size_t max_info = app->max_user_info_size > 0 ? (size_t)app->max_user_info_size : 1024;
        const char *why =
            lc_pusher_member(cmd->channel_data, max_id, max_info, &user, &info, &status);
        if (why) {
            sub_error(c, name, status == 4302 ? "ServerError" : "LimitReached", why, status);
            goto done;
        }
        bool mine = take_user(c, user);
        user = NULL; /* taken */
        if (!mine) {
            sub_error(c, name, "AuthError", "Another user_id on this connection",
                      LC_PUSHER_UNAUTHORIZED);
            goto done;
        }
        if (c->state == LC_CLIENT_CLOSING) {
            r = LC_CMD_STOP;
            goto done;
        }
    }
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        lc_config_resolve_channel(lc__ccfg(c), ch.data, ch.len, c->user, &scratch);
    if (!o) {
        sub_error(c, name, "InvalidChannel", "Unknown namespace", LC_PUSHER_UNAUTHORIZED);
        goto done;
    }
    /* the signature stood for the token, proxy and namespace steps: the Lua hook decides */
    lc_decide_req_t req;
    lc__client_decide_req(c, LC_HOOK_SUBSCRIBE, &req);
    req.token = NULL;
    req.data = (lc_raw_t){0};
    req.ns = o;
    req.preauthorized = true;
    /* the command's channel is the Pusher name: the decision sees Lucent's, kept in the
     * command (method) while the decision may run */
    cmd->method = lc_buf_steal(&ch);
    req.channel = cmd->method;
    req.method = NULL;
    r = lc__client_decide(c, &req);
done:
    free(user);
    lc_buf_free(&ch);
    return r;
}

static int subscribe_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (v->type == LC_VERDICT_DISCONNECT) {
        lc__client_disconnect(c, v->code, v->message);
        return LC_CMD_STOP;
    }
    if (v->type != LC_VERDICT_ALLOW) {
        sub_error(c, cmd->channel, "AuthError",
                  v->message && v->message[0] ? v->message : lc_error_message(v->code), 403);
        return LC_CMD_DONE;
    }
    const char *ch = cmd->method; /* the Lucent channel */
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o =
        ch ? lc_config_resolve_channel(lc__ccfg(c), ch, strlen(ch), c->user, &scratch) : NULL;
    if (!o) {
        lc__pusher_reply_error(c, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    lc_pusher_chan_t kind = lc_pusher_channel_kind(cmd->channel, strlen(cmd->channel));
    lc_sub_spec_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.o = o;
    sp.pusher = true;
    sp.pusher_presence = kind == LC_PUSHER_PRESENCE;
    if (sp.pusher_presence) {
        static const char *const info_path[] = {"user_info"};
        lc_json_raw_find(cmd->channel_data, strlen(cmd->channel_data), info_path, 1, &sp.chan_info);
    }
    lc_cmd_t run = {.channel = (char *)ch};
    return lc__client_subscribe_run(c, &run, &sp);
}

int lc__pusher_subscribed(lc_client_t *c)
{
    const lc_cmd_t *cmd = c->cmd;
    if (lc_pusher_channel_kind(cmd->channel, strlen(cmd->channel)) == LC_PUSHER_PRESENCE)
        return lc__pusher_presence_list(c, true);
    lc_buf_t b = LC_BUF_INIT;
    if (lc_pusher_subscription_succeeded(&b, cmd->channel, NULL, 0) == 0)
        send_buf(c, &b);
    lc_buf_free(&b);
    return LC_CMD_DONE;
}

int lc__pusher_apply(lc_client_t *c, const lc_cmd_t *cmd, const lc_verdict_t *v)
{
    if (cmd->type == LC_CMD_PUSHER_SUBSCRIBE)
        return subscribe_apply(c, cmd, v);
    return lc__pusher_client_event_apply(c, cmd, v);
}
