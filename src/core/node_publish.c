/* Publications from the server API: Laravel's sender field (http_api.exclude_client_field),
 * the Lua broadcast hook, then the engine. Runs in the worker that received the request. */
#include "core/internal.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/script.h"
#include "proto/json_edit.h"
#include "proto/codes.h"
#include "util/err.h"
#include "util/log.h"

typedef struct api_pub {
    lc_node_t *node;
    lc_publish_req_t req; /* points into the fields below once prepared */
    char *channel;
    char *data; /* owned copy (or the rewritten data) */
    size_t data_len;
    char *tags;
    size_t tags_len;
    char *idempotency_key;
    char **clients; /* exclusions, owned */
    size_t n_clients, cap_clients;
    char **users;
    size_t n_users, cap_users;
    lc_api_publish_cb cb;
    void *arg;
} api_pub_t;

static void api_pub_free(api_pub_t *p)
{
    for (size_t i = 0; i < p->n_clients; i++)
        free(p->clients[i]);
    for (size_t i = 0; i < p->n_users; i++)
        free(p->users[i]);
    free(p->clients);
    free(p->users);
    free(p->channel);
    free(p->data);
    free(p->tags);
    free(p->idempotency_key);
    free(p);
}

static int add_id(char ***list, size_t *n, size_t *cap, const char *id)
{
    if (!id || !*id)
        return 0;
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        char **nl = realloc(*list, ncap * sizeof(*nl));
        if (!nl)
            return LC_ENOMEM;
        *list = nl;
        *cap = ncap;
    }
    if (!((*list)[*n] = strdup(id)))
        return LC_ENOMEM;
    (*n)++;
    return 0;
}

static int set_data(api_pub_t *p, const char *d, size_t len)
{
    char *nd = malloc(len + 1);
    if (!nd)
        return LC_ENOMEM;
    memcpy(nd, d, len);
    nd[len] = '\0';
    free(p->data);
    p->data = nd;
    p->data_len = len;
    return 0;
}

/* Laravel's toOthers(): the sender's socket id travels inside the data (laravel-centrifugo
 * leaves X-Socket-ID in `socket`). Take it out and leave that client out of the fan-out. The
 * field is cut out of the text: every other byte reaches subscribers as the backend sent it
 * (a model id past 2^53 stays exact). */
static int apply_sender_field(api_pub_t *p, const char *field)
{
    lc_buf_t out = LC_BUF_INIT;
    lc_raw_t v;
    int rc = lc_json_remove_member(p->data, p->data_len, field, &out, &v);
    if (rc <= 0) {
        lc_buf_free(&out);
        return rc == LC_ENOMEM ? rc : 0; /* no such field, or data that is no object */
    }
    rc = 0;
    cJSON *id = cJSON_ParseWithLength(v.p, v.len);
    if (cJSON_IsString(id))
        rc = add_id(&p->clients, &p->n_clients, &p->cap_clients, id->valuestring);
    cJSON_Delete(id);
    if (!rc)
        rc = set_data(p, out.data ? out.data : "", out.len);
    lc_buf_free(&out);
    return rc;
}

static void on_engine_done(void *arg, int err, const lc_publish_res_t *res)
{
    api_pub_t *p = arg;
    if (err)
        lc_log_error("api publish to %s failed: %s", p->channel, lc_strerror(err));
    p->cb(p->arg, err ? LC_ERROR_INTERNAL : 0, res);
    api_pub_free(p);
}

static void publish_now(api_pub_t *p)
{
    p->req.channel = p->channel;
    p->req.pub.data = (lc_raw_t){p->data, p->data_len};
    p->req.pub.tags = (lc_raw_t){p->tags, p->tags_len};
    p->req.exclude.clients = (const char *const *)p->clients;
    p->req.exclude.n_clients = p->n_clients;
    p->req.exclude.users = (const char *const *)p->users;
    p->req.exclude.n_users = p->n_users;
    if (lc_node_publish(p->node, &p->req, on_engine_done, p) != 0) {
        lc_log_error("api publish to %s failed: engine refused", p->channel);
        p->cb(p->arg, LC_ERROR_INTERNAL, NULL);
        api_pub_free(p);
    }
}

/* The broadcast hook's decision: change the data, skip history, leave clients and users
 * out, refuse, or no opinion. */
static void on_broadcast_hook(void *arg, const lc_decision_t *d)
{
    api_pub_t *p = arg;
    uint32_t code = 0;
    switch (d->type) {
    case LC_DECIDE_DENY:
        code = LC_ERROR_PERMISSION_DENIED;
        break;
    case LC_DECIDE_ERROR:
    case LC_DECIDE_DISCONNECT:
        code = d->reply.code ? d->reply.code : LC_ERROR_INTERNAL;
        break;
    case LC_DECIDE_ALLOW:
        if (d->reply.data_set && set_data(p, d->reply.data, d->reply.data_len) != 0)
            code = LC_ERROR_INTERNAL;
        if (d->reply.skip_history)
            p->req.skip_history = true;
        for (size_t i = 0; !code && i < d->n_exclude_clients; i++)
            if (add_id(&p->clients, &p->n_clients, &p->cap_clients, d->exclude_clients[i]))
                code = LC_ERROR_INTERNAL;
        for (size_t i = 0; !code && i < d->n_exclude_users; i++)
            if (add_id(&p->users, &p->n_users, &p->cap_users, d->exclude_users[i]))
                code = LC_ERROR_INTERNAL;
        break;
    default:
        break;
    }
    if (code) {
        p->cb(p->arg, code, NULL);
        api_pub_free(p);
        return;
    }
    publish_now(p);
}

int lc_node_api_publish(lc_node_t *n, const lc_publish_req_t *req, lc_api_publish_cb cb, void *arg)
{
    api_pub_t *p = calloc(1, sizeof(*p));
    if (!p)
        return LC_ENOMEM;
    p->node = n;
    p->cb = cb;
    p->arg = arg;
    p->req = *req;
    p->channel = strndup(req->channel, req->chlen);
    p->req.idempotency_key = NULL;
    if (req->idempotency_key && req->idempotency_key[0]) {
        p->idempotency_key = strdup(req->idempotency_key);
        p->req.idempotency_key = p->idempotency_key;
        if (!p->idempotency_key) {
            api_pub_free(p);
            return LC_ENOMEM;
        }
    }
    int rc = p->channel ? set_data(p, req->pub.data.p, req->pub.data.len) : LC_ENOMEM;
    if (!rc && req->pub.tags.p && req->pub.tags.len) {
        p->tags = strndup(req->pub.tags.p, req->pub.tags.len);
        p->tags_len = req->pub.tags.len;
        rc = p->tags ? 0 : LC_ENOMEM;
    }
    for (size_t i = 0; !rc && i < req->exclude.n_clients; i++)
        rc = add_id(&p->clients, &p->n_clients, &p->cap_clients, req->exclude.clients[i]);
    for (size_t i = 0; !rc && i < req->exclude.n_users; i++)
        rc = add_id(&p->users, &p->n_users, &p->cap_users, req->exclude.users[i]);
    const char *field = lc_node_config(n)->http_api_exclude_client_field;
    if (!rc && field && *field)
        rc = apply_sender_field(p, field);
    if (rc) {
        api_pub_free(p);
        return rc;
    }

    lc_worker_t *w = lc__worker_current();
    lc_lua_t *vm = w ? lc__worker_lua(w) : NULL;
    if (!vm || !lc_lua_has_hook(vm, LC_HOOK_BROADCAST)) {
        publish_now(p);
        return 0;
    }
    lc_hook_ctx_t ctx;
    memset(&ctx, 0, sizeof(ctx));
    ctx.client = "";
    ctx.user = "";
    ctx.transport = "";
    ctx.channel = p->channel;
    ctx.data = (lc_raw_t){p->data, p->data_len};
    ctx.exclude_clients = (const char *const *)p->clients;
    ctx.n_exclude_clients = p->n_clients;
    /* The callback runs now or from the loop; either way it publishes and answers. */
    lc_lua_call(vm, LC_HOOK_BROADCAST, &ctx, on_broadcast_hook, p);
    return 0;
}
