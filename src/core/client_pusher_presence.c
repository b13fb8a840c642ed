/* Pusher presence channels on Lucent's presence (spec §4.5): a member is a presence entry with
 * the connection's socket_id as client, the Pusher user_id as user and user_info as chan_info,
 * so the engine's one list (per node with memory, shared by every node with Redis) is the
 * channel's member list, Centrifugo's presence calls included. Pusher counts users, not
 * connections: member_added goes out (as a join push) only when a user's first connection
 * joins, member_removed (a leave push) only after the user's last connection left — decided
 * from the engine's list, read before the join and after the leave. Two connections of one
 * user joining at the same moment may both announce it (pusher-js counts the user once);
 * missing an announcement would be worse. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "proto/pusher.h"
#include "util/err.h"
#include "util/log.h"

/* --- joining -------------------------------------------------------------------------------- */

static int by_user(const void *a, const void *b)
{
    const lc_presence_entry_t *x = *(const lc_presence_entry_t *const *)a;
    const lc_presence_entry_t *y = *(const lc_presence_entry_t *const *)b;
    return strcmp(x->user, y->user);
}

/* The member list of res (distinct users; an anonymous Centrifugo client is no member) plus
 * this connection's user, as subscription_succeeded's presence object into out. *had: the
 * user had another connection in the list. *users: distinct users before this one. */
static int members_of(lc_client_t *c, const lc_csub_t *cs, const lc_presence_res_t *res,
                      lc_buf_t *out, bool *had, size_t *users)
{
    static const char *const ci_path[] = {"chan_info"};
    // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
    const lc_presence_entry_t **v = calloc(res->n + 1, sizeof(*v));
    if (!v)
        return LC_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < res->n; i++)
        if (res->entries[i].user[0])
            v[n++] = &res->entries[i];
    qsort(v, n, sizeof(*v), by_user); // NOLINT(bugprone-sizeof-expression): pointers
    lc_pusher_members_t m;
    memset(&m, 0, sizeof(m));
    int rc = 0;
    bool self_listed = false;
    *had = false;
    *users = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        bool mine = strcmp(v[i]->user, c->user) == 0;
        if (mine && strcmp(v[i]->client, c->id) != 0)
            *had = true;
        if (i > 0 && strcmp(v[i - 1]->user, v[i]->user) == 0)
            continue; /* the first entry's info stands for the user */
        if (!mine)
            (*users)++;
        lc_raw_t ci = {0};
        lc_json_raw_find(v[i]->info->data, v[i]->info->len, ci_path, 1, &ci);
        if (mine) {
            /* this connection's own info for itself (it may not be listed yet) */
            ci = (lc_raw_t){cs ? cs->chan_info : NULL, cs ? cs->chan_info_len : 0};
            self_listed = true;
        }
        rc = lc_pusher_members_add(&m, v[i]->user, ci.p, ci.len);
    }
    if (rc == 0 && !self_listed)
        rc = lc_pusher_members_add(&m, c->user, cs ? cs->chan_info : NULL,
                                   cs ? cs->chan_info_len : 0);
    free(v);
    if (rc == 0)
        rc = lc_pusher_members_end(&m, out);
    lc_pusher_members_free(&m);
    return rc;
}

typedef struct list_job {
    bool join;
    char *ch; /* the Lucent channel */
    size_t len;
} list_job_t;

static void list_job_free(void *arg)
{
    list_job_t *j = arg;
    if (j) {
        free(j->ch);
        free(j);
    }
}

/* The ClientInfo of this connection's membership, encoded. */
static lc_rcbuf_t *member_info(lc_client_t *c, const lc_csub_t *cs)
{
    lc_client_info_t ci;
    lc__client_info(c, cs, &ci);
    ci.conn_info = (lc_raw_t){0};
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *r = NULL;
    if (lc_proto_encode_client_info(&b, &ci) == 0)
        r = lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    return r;
}

static void announce(lc_client_t *c, const lc_csub_t *cs, const char *ch, size_t len, bool join)
{
    lc_client_info_t ci;
    lc__client_info(c, cs, &ci);
    ci.conn_info = (lc_raw_t){0};
    lc_buf_t b = LC_BUF_INIT;
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    if (lc_proto_push_join_leave(&b, ch, len, join, &ci) == 0) {
        lc_rcbuf_t *push = lc_rcbuf_from(b.data, b.len);
        if (push) {
            e->vt->publish_join_leave(e, ch, len, push, NULL, NULL);
            lc_rcbuf_unref(push);
        }
    }
    lc_buf_free(&b);
}

/* The channel's members are read: join (entry, member_added) and answer. */
static void list_read(lc_client_t *c, list_job_t *j, int err, const lc_presence_res_t *res)
{
    const lc_cmd_t *cmd = c->cmd;
    lc_csub_t *cs = lc__client_find_sub(c, j->ch, j->len);
    if (!cs) /* unsubscribed meanwhile */
        return;
    lc_buf_t list = LC_BUF_INIT;
    bool had = false;
    size_t users = 0;
    int rc = err != 0 ? err : members_of(c, cs, res, &list, &had, &users);
    const lc_pusher_app_t *app = c->x->pusher->app;
    int max = app->max_presence_members > 0 ? app->max_presence_members : 100;
    if (rc == 0 && j->join && !had && users >= (size_t)max) {
        lc_buf_free(&list);
        lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
        lc_buf_t b = LC_BUF_INIT;
        lc_log_info("pusher %s (user \"%s\"): presence channel %s is full (%d members)", c->id,
                    c->user, cmd->channel, max);
        if (lc_pusher_subscription_error(&b, cmd->channel, "LimitReached",
                                         "The presence channel is full", 4100) == 0)
            lc__pusher_send(c, b.data, b.len);
        lc_buf_free(&b);
        return;
    }
    if (rc != 0) {
        lc_log_error("pusher %s: members of %s unavailable: %s", c->id, j->ch, lc_strerror(rc));
        lc_buf_free(&list);
        lc__client_remove_sub(c, (uint32_t)(cs - c->subs));
        lc__pusher_reply_error(c, LC_ERROR_INTERNAL);
        return;
    }
    if (j->join && !(cs->s->flags & LC_SUB_PRESENCE)) {
        lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
        lc_rcbuf_t *info = member_info(c, cs);
        if (info) {
            e->vt->presence_add(e, j->ch, j->len, c->id, c->user, info, NULL, NULL);
            lc_rcbuf_unref(info);
            cs->s->flags |= LC_SUB_PRESENCE; /* its leave is ours to announce */
        }
        if (!had)
            announce(c, cs, j->ch, j->len, true);
    }
    lc_buf_t b = LC_BUF_INIT;
    if (lc_pusher_subscription_succeeded(&b, cmd->channel, list.data, list.len) == 0)
        lc__pusher_send(c, b.data, b.len);
    lc_buf_free(&b);
    lc_buf_free(&list);
}

static void on_list(void *arg, int err, const lc_presence_res_t *res)
{
    lc_engine_wait_t *w = arg;
    list_job_t *j = w->ctx;
    bool async;
    lc_client_t *c = lc__client_engine_answer(w, &async);
    if (c && c->state != LC_CLIENT_CLOSING)
        list_read(c, j, err, res);
    lc__client_engine_end(w, LC_CMD_DONE, async);
}

int lc__pusher_presence_list(lc_client_t *c, bool join)
{
    list_job_t *j = calloc(1, sizeof(*j));
    lc_buf_t ch = LC_BUF_INIT;
    if (!j || lc__pusher_lucent_channel(c, c->cmd->channel, &ch) != 0) {
        free(j);
        lc_buf_free(&ch);
        lc__pusher_reply_error(c, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    j->join = join;
    j->len = ch.len;
    j->ch = lc_buf_steal(&ch);
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    lc_engine_wait_t *w = lc__client_engine_wait(c);
    if (!w) {
        list_job_free(j);
        lc__pusher_reply_error(c, LC_ERROR_INTERNAL);
        return LC_CMD_DONE;
    }
    w->ctx = j;
    w->ctx_free = list_job_free;
    int rc = e->vt->presence(e, j->ch, j->len, on_list, w);
    if (rc != 0) {
        lc_log_error("pusher %s: members of %s unavailable: %s", c->id, j->ch, lc_strerror(rc));
        lc__pusher_reply_error(c, LC_ERROR_INTERNAL);
    }
    return lc__client_engine_started(c, w, rc);
}

/* --- leaving -------------------------------------------------------------------------------- */

/* Outlives the session: the entry goes, then the list tells whether the user is still there. */
typedef struct leave_job {
    lc_engine_t *e;
    char *ch;
    size_t len;
    char *user;
    lc_rcbuf_t *push; /* the leave push, sent when the user has no connection left */
} leave_job_t;

static void leave_free(leave_job_t *j)
{
    free(j->ch);
    free(j->user);
    if (j->push)
        lc_rcbuf_unref(j->push);
    free(j);
}

static void on_leave_list(void *arg, int err, const lc_presence_res_t *res)
{
    leave_job_t *j = arg;
    bool left = err == 0;
    for (size_t i = 0; left && i < res->n; i++)
        if (strcmp(res->entries[i].user, j->user) == 0)
            left = false;
    if (left)
        j->e->vt->publish_join_leave(j->e, j->ch, j->len, j->push, NULL, NULL);
    leave_free(j);
}

static void on_left(void *arg, int err)
{
    leave_job_t *j = arg;
    if (j->e->vt->presence(j->e, j->ch, j->len, on_leave_list, j) != 0)
        leave_free(j);
}

void lc__pusher_presence_leave(lc_client_t *c, const lc_csub_t *cs)
{
    size_t len;
    const char *ch = lc_hub_sub_channel(cs->s, &len);
    lc_engine_t *e = lc_node_engine(lc_worker_node(c->w));
    leave_job_t *j = calloc(1, sizeof(*j));
    lc_client_info_t ci;
    lc__client_info(c, cs, &ci);
    ci.conn_info = (lc_raw_t){0};
    lc_buf_t b = LC_BUF_INIT;
    if (j && (j->ch = malloc(len + 1)) && (j->user = strdup(c->user)) &&
        lc_proto_push_join_leave(&b, ch, len, false, &ci) == 0 &&
        (j->push = lc_rcbuf_from(b.data, b.len))) {
        memcpy(j->ch, ch, len);
        j->ch[len] = '\0';
        j->len = len;
        j->e = e;
        lc_buf_free(&b);
        if (e->vt->presence_remove(e, j->ch, len, c->id, on_left, j) != 0)
            leave_free(j);
        return;
    }
    /* out of memory: the entry still goes, unannounced */
    lc_buf_free(&b);
    if (j)
        leave_free(j);
    e->vt->presence_remove(e, ch, len, c->id, NULL, NULL);
}
