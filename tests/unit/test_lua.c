/* Lua hook VM: loading, the sandbox, every decision form, the budget and memory cap, reload,
 * the lucent module, and the yielding calls (lucent.http.request, lucent.proxy) against a tiny
 * HTTP server on the test's own loop. Scripts are written to a temporary folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "auth/jwt.h"
#include "config/config.h"
#include "hooks/httpc.h"
#include "hooks/script.h"
#include "util/clock.h"
#include "util/err.h"
#include "util/log.h"

/* ---- a tiny HTTP server on the loop ---- */

typedef struct peer {
    uv_tcp_t h;
    struct srv *srv;
    char buf[16384];
    size_t n;
    bool answered;
    uv_write_t w;
    char out[4096];
    struct peer *next;
} peer_t;

typedef struct srv {
    uv_tcp_t tcp;
    int port;
    int requests;
    peer_t *peers;
} srv_t;

static void on_peer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    peer_t *p = h->data;

    b->base = p->buf + p->n;
    b->len = sizeof(p->buf) - 1 - p->n;
}

static void on_written(uv_write_t *w, int status)
{
    /* The peer stays open until the server stops (Connection: close tells the client). */
}

/* The value of header name (lowercase) in the request head, or "". */
static void header_value(const char *head, const char *name, char *out, size_t outlen)
{
    char pat[64];
    const char *s;
    size_t n = 0;

    snprintf(pat, sizeof(pat), "\r\n%s: ", name);
    out[0] = '\0';
    s = strcasestr(head, pat);
    if (s == NULL)
        return;
    s += strlen(pat);
    while (s[n] != '\0' && s[n] != '\r' && n + 1 < outlen)
        n++;
    memcpy(out, s, n);
    out[n] = '\0';
}

static void answer(peer_t *p, const char *head, const char *body, size_t body_len)
{
    char path[128] = "", method[16] = "", xa[64], resp[2048];
    uv_buf_t b;

    sscanf(head, "%15s %127s", method, path);
    if (strcmp(path, "/hold") == 0)
        return; /* never answered: for cancellation */
    if (strcmp(path, "/proxy") == 0) {
        snprintf(resp, sizeof(resp), "{\"result\":{\"user\":\"42\",\"info\":{\"p\":1}}}");
    } else if (strcmp(path, "/proxy-error") == 0) {
        snprintf(resp, sizeof(resp), "{\"error\":{\"code\":4001,\"message\":\"nope\"}}");
    } else {
        header_value(head, "x-a", xa, sizeof(xa));
        snprintf(resp, sizeof(resp), "%s|%.*s|%s", method, (int)body_len, body, xa);
    }
    snprintf(p->out, sizeof(p->out),
             "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s", strlen(resp),
             resp);
    p->answered = true;
    b = uv_buf_init(p->out, (unsigned)strlen(p->out));
    p->w.data = p;
    uv_write(&p->w, (uv_stream_t *)&p->h, &b, 1, on_written);
}

static void on_peer_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    peer_t *p = s->data;
    char *end;
    char cl[32];
    size_t head_len, body_len;

    if (nread < 0) {
        uv_read_stop(s);
        return;
    }
    p->n += (size_t)nread;
    p->buf[p->n] = '\0';
    if (p->answered || (end = strstr(p->buf, "\r\n\r\n")) == NULL)
        return;
    head_len = (size_t)(end - p->buf) + 4;
    header_value(p->buf, "content-length", cl, sizeof(cl));
    body_len = (size_t)strtoul(cl, NULL, 10);
    if (p->n < head_len + body_len)
        return;
    p->srv->requests++;
    p->buf[head_len - 2] = '\0';
    answer(p, p->buf, p->buf + head_len, body_len);
}

static void on_conn(uv_stream_t *server, int status)
{
    srv_t *srv = server->data;
    peer_t *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    p->srv = srv;
    uv_tcp_init(server->loop, &p->h);
    p->h.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->h), 0);
    p->next = srv->peers;
    srv->peers = p;
    uv_read_start((uv_stream_t *)&p->h, peer_alloc, on_peer_read);
}

static void srv_start(srv_t *s, uv_loop_t *loop)
{
    struct sockaddr_in a;
    int len = sizeof(a);

    memset(s, 0, sizeof(*s));
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->tcp, 16, on_conn), 0);
    uv_tcp_getsockname(&s->tcp, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
}

static void srv_stop(srv_t *s)
{
    for (peer_t *p = s->peers, *next; p != NULL; p = next) {
        next = p->next;
        uv_close((uv_handle_t *)&p->h, on_peer_closed);
    }
    s->peers = NULL;
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* ---- fixture ---- */

typedef struct got {
    int calls;
    int type;
    int rtype;
    uint32_t code;
    bool temporary, has_result, data_set, skip_history, expired;
    char message[256], user[128], data[2048], info[256], meta[256];
    int64_t expire_at;
    size_t n_channels, n_subs, n_exc, n_excu;
    char channels[4][64], exc[4][64], excu[4][64], sub0[64];
    bool presence_set, presence;
} got_t;

typedef struct fx {
    char dir[64];
    char path[128];
    lc_config_t cfg;
    uv_loop_t loop;
    lc_httpc_t *hc;
    srv_t srv;
    lc_lua_t *vm;
    got_t got;
    char published[512];
    bool pub_skip;
    int nested; /* broadcast hooks run from lucent.publish: 1 per allow, 100 per other */
} fx_t;

static lc_httpc_t *host_httpc(void *ctx)
{
    return ((fx_t *)ctx)->hc;
}

static void on_nested(void *arg, const lc_decision_t *d)
{
    int *n = arg;

    *n += d->type == LC_DECIDE_ALLOW ? 1 : 100;
}

static int host_publish(void *ctx, const char *channel, const char *data, size_t len, bool skip)
{
    fx_t *f = ctx;

    /* As core does: a server-side publish runs the broadcast hook, on the same VM. */
    if (lc_lua_has_hook(f->vm, LC_HOOK_BROADCAST)) {
        lc_hook_ctx_t c = {.client = "", .channel = channel, .data = {data, len}};
        assert_null(lc_lua_call(f->vm, LC_HOOK_BROADCAST, &c, on_nested, &f->nested));
    }

    snprintf(f->published, sizeof(f->published), "%s %.*s", channel, (int)len, data);
    f->pub_skip = skip;
    return 0;
}

static void copy(char *out, size_t cap, const char *s)
{
    snprintf(out, cap, "%s", s != NULL ? s : "");
}

static void on_decision(void *arg, const lc_decision_t *d)
{
    got_t *g = arg;
    const lc_proxy_reply_t *r = &d->reply;

    g->calls++;
    g->type = d->type;
    g->rtype = r->type;
    g->code = r->code;
    g->temporary = r->temporary;
    g->has_result = r->has_result;
    g->data_set = r->data_set;
    g->skip_history = r->skip_history;
    g->expired = r->expired;
    g->expire_at = r->expire_at;
    copy(g->message, sizeof(g->message), r->message);
    copy(g->user, sizeof(g->user), r->user);
    copy(g->data, sizeof(g->data), r->data);
    copy(g->info, sizeof(g->info), r->info);
    copy(g->meta, sizeof(g->meta), r->meta);
    g->n_channels = r->n_channels;
    for (size_t i = 0; i < r->n_channels && i < 4; i++)
        copy(g->channels[i], 64, r->channels[i]);
    g->n_subs = r->n_subs;
    if (r->n_subs > 0)
        copy(g->sub0, sizeof(g->sub0), r->subs[0].channel);
    g->presence_set = r->override.presence.set;
    g->presence = r->override.presence.value;
    g->n_exc = d->n_exclude_clients;
    for (size_t i = 0; i < d->n_exclude_clients && i < 4; i++)
        copy(g->exc[i], 64, d->exclude_clients[i]);
    g->n_excu = d->n_exclude_users;
    for (size_t i = 0; i < d->n_exclude_users && i < 4; i++)
        copy(g->excu[i], 64, d->exclude_users[i]);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/lucent-lua-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/hooks.lua", f->dir);
    lc_config_defaults(&f->cfg);
    assert_int_equal(lc_config_set_string(&f->cfg.lua_script, f->path), 0);
    f->cfg.lua_instruction_budget = 1000000;
    f->cfg.lua_memory_limit = 16 * 1024 * 1024;
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->hc = lc_httpc_new(&f->loop);
    assert_non_null(f->hc);
    srv_start(&f->srv, &f->loop);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    char cmd[128];

    lc_lua_free(f->vm);
    lc_httpc_close(f->hc, NULL, NULL);
    srv_stop(&f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    lc_config_free(&f->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static lc_lua_t *load(fx_t *f, const char *script)
{
    char err[512] = "";
    lc_lua_host_t host = {f, host_publish, host_httpc};

    write_file(f->path, script);
    lc_lua_free(f->vm);
    f->vm = lc_lua_new(&f->cfg, &host, err, sizeof(err));
    if (f->vm == NULL)
        fail_msg("load failed: %s", err);
    return f->vm;
}

/* A call expected to finish at once. */
static got_t *call(fx_t *f, lc_hook_kind kind, const lc_hook_ctx_t *ctx)
{
    lc_hook_ctx_t empty = {0};

    memset(&f->got, 0, sizeof(f->got));
    assert_null(lc_lua_call(f->vm, kind, ctx != NULL ? ctx : &empty, on_decision, &f->got));
    assert_int_equal(f->got.calls, 1);
    return &f->got;
}

static got_t *rpc(fx_t *f, const char *method, const char *data)
{
    lc_hook_ctx_t c = {.client = "c1", .user = "u1", .method = method};

    if (data != NULL) {
        c.data.p = data;
        c.data.len = strlen(data);
    }
    return call(f, LC_HOOK_RPC, &c);
}

static cJSON *parse(const char *s)
{
    cJSON *j = cJSON_Parse(s);

    assert_non_null(j);
    return j;
}

/* ---- loading ---- */

static void test_lua_syntax_error_load_fails_with_file_line(void **state)
{
    fx_t *f = *state;
    char err[512] = "", want[160];

    write_file(f->path, "return {\n connect = function(c)\n return = 1\n end }\n");
    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    snprintf(want, sizeof(want), "hooks.lua:3:");
    assert_non_null(strstr(err, want));
}

static void test_lua_not_a_table_load_fails(void **state)
{
    fx_t *f = *state;
    char err[512] = "";

    write_file(f->path, "return 42\n");
    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "script must return a table of hooks"));
    write_file(f->path, "return {conect = function() end}\n");
    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "unknown hook 'conect'"));
    write_file(f->path, "return {connect = 1}\n");
    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "hook 'connect' must be a function"));
    write_file(f->path, "while true do end\n");
    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "instruction budget exceeded"));
}

static void test_lua_missing_file_load_fails(void **state)
{
    fx_t *f = *state;
    char err[512] = "";

    assert_null(lc_lua_new(&f->cfg, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "hooks.lua"));
}

static void test_lua_has_hook_only_defined(void **state)
{
    fx_t *f = *state;
    lc_lua_t *vm = load(f, "return {connect = function() return true end}\n");

    assert_true(lc_lua_has_hook(vm, LC_HOOK_CONNECT));
    assert_false(lc_lua_has_hook(vm, LC_HOOK_SUBSCRIBE));
    /* a hook that is not defined: no opinion, at once */
    assert_int_equal(call(f, LC_HOOK_SUBSCRIBE, NULL)->type, LC_DECIDE_NONE);
}

/* ---- decisions ---- */

static const char decisions_lua[] =
    "return {\n"
    "  rpc = function(c)\n"
    "    local m = c.method\n"
    "    if m == 'nil' then return nil end\n"
    "    if m == 'true' then return true end\n"
    "    if m == 'false' then return false end\n"
    "    if m == 'error' then return lucent.error(4003, 'custom') end\n"
    "    if m == 'error-default' then return lucent.error(100) end\n"
    "    if m == 'raise' then error(lucent.error(4004, 'raised')) end\n"
    "    if m == 'disconnect' then return lucent.disconnect(4500, 'bye') end\n"
    "    if m == 'nil-err' then return nil, 'backend down' end\n"
    "    if m == 'number' then return 42 end\n"
    "    if m == 'data' then return {data = {ok = true, n = 1700000000000}} end\n"
    "    if m == 'yield' then coroutine.yield() end\n"
    "    if m == 'co' then\n"
    "      local co = coroutine.wrap(function() coroutine.yield(1) return 2 end)\n"
    "      return {data = {co() + co()}}\n"
    "    end\n"
    "    error('boom')\n"
    "  end,\n"
    "  connect = function(c)\n"
    "    return {user = 42, expire_at = 1900000000, info = {name = 'Ann'}, data = {hi = 1},\n"
    "            channels = {'news', 'chat:1'}, subs = {['user:42'] = {info = {x = 1}}},\n"
    "            meta = {role = 'admin'}}\n"
    "  end,\n"
    "  subscribe = function(c)\n"
    "    return {info = 'i', data = {room = c.channel}, override = {presence = true}, expire_at = "
    "5}\n"
    "  end,\n"
    "  refresh = function(c) return {expire_at = 10, expired = false, info = {a = 1}} end,\n"
    "  publish = function(c, pub)\n"
    "    pub.data.text = pub.data.text:upper()\n"
    "    pub.exclude_client = c.data.socket\n"
    "    pub.exclude_user = {'u7', 'u8'}\n"
    "    pub.skip_history = true\n"
    "    return pub\n"
    "  end,\n"
    "  broadcast = function(c, pub)\n"
    "    if pub.data.drop then return false end\n"
    "    pub.exclude_client = c.exclude_client\n"
    "    return pub\n"
    "  end,\n"
    "  disconnect = function(c) return lucent.error(1) end,\n"
    "}\n";

static void test_lua_decision_plain_values_map(void **state)
{
    fx_t *f = *state;
    got_t *g;

    load(f, decisions_lua);
    assert_int_equal(rpc(f, "nil", NULL)->type, LC_DECIDE_NONE);
    g = rpc(f, "true", NULL);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    assert_int_equal(g->rtype, LC_PROXY_RESULT);
    assert_true(g->has_result);
    g = rpc(f, "false", NULL);
    assert_int_equal(g->type, LC_DECIDE_DENY);
    assert_int_equal(g->code, 103);
    g = rpc(f, "error", NULL);
    assert_int_equal(g->type, LC_DECIDE_ERROR);
    assert_int_equal(g->rtype, LC_PROXY_ERROR);
    assert_int_equal(g->code, 4003);
    assert_string_equal(g->message, "custom");
    assert_false(g->temporary);
    g = rpc(f, "error-default", NULL);
    assert_int_equal(g->code, 100);
    assert_string_equal(g->message, "internal server error");
    assert_true(g->temporary);
    g = rpc(f, "raise", NULL);
    assert_int_equal(g->type, LC_DECIDE_ERROR);
    assert_int_equal(g->code, 4004);
    g = rpc(f, "disconnect", NULL);
    assert_int_equal(g->type, LC_DECIDE_DISCONNECT);
    assert_int_equal(g->rtype, LC_PROXY_DISCONNECT);
    assert_int_equal(g->code, 4500);
    assert_string_equal(g->message, "bye");
    g = rpc(f, "data", NULL);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    cJSON *j = parse(g->data);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
    cJSON_Delete(j);
    assert_non_null(strstr(g->data, "1700000000000")); /* no exponent */
    g = rpc(f, "co", NULL);
    assert_string_equal(g->data, "[3]");
}

static void test_lua_failing_hook_error_100(void **state)
{
    fx_t *f = *state;
    const char *const methods[] = {"boom", "nil-err", "number", "yield"};

    load(f, decisions_lua);
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        got_t *g = rpc(f, methods[i], NULL);
        assert_int_equal(g->type, LC_DECIDE_ERROR);
        assert_int_equal(g->code, 100);
        assert_true(g->temporary);
    }
    assert_int_equal(rpc(f, "true", NULL)->type, LC_DECIDE_ALLOW);
}

static void test_lua_connect_table_fields(void **state)
{
    fx_t *f = *state;
    got_t *g;
    cJSON *j;

    load(f, decisions_lua);
    g = call(f, LC_HOOK_CONNECT, NULL);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    assert_string_equal(g->user, "42");
    assert_int_equal(g->expire_at, 1900000000);
    assert_string_equal(g->info, "{\"name\":\"Ann\"}");
    assert_string_equal(g->data, "{\"hi\":1}");
    assert_string_equal(g->meta, "{\"role\":\"admin\"}");
    assert_int_equal(g->n_channels, 2);
    assert_string_equal(g->channels[0], "news");
    assert_string_equal(g->channels[1], "chat:1");
    assert_int_equal(g->n_subs, 1);
    assert_string_equal(g->sub0, "user:42");
    (void)j;
}

static void test_lua_subscribe_and_refresh_fields(void **state)
{
    fx_t *f = *state;
    lc_hook_ctx_t c = {.client = "c1", .user = "u1", .channel = "room:1"};
    got_t *g;

    load(f, decisions_lua);
    g = call(f, LC_HOOK_SUBSCRIBE, &c);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    assert_string_equal(g->info, "\"i\"");
    assert_string_equal(g->data, "{\"room\":\"room:1\"}");
    assert_true(g->presence_set);
    assert_true(g->presence);
    assert_int_equal(g->expire_at, 5);
    g = call(f, LC_HOOK_REFRESH, &c);
    assert_int_equal(g->expire_at, 10);
    assert_false(g->expired);
    assert_string_equal(g->info, "{\"a\":1}");
}

static void test_lua_publish_transform_and_excludes(void **state)
{
    fx_t *f = *state;
    static const char data[] = "{\"text\":\"hello\",\"socket\":\"c9\"}";
    const char *const exc[] = {"a", "b"};
    lc_hook_ctx_t c = {
        .client = "c1", .user = "u1", .channel = "chat", .data = {data, sizeof(data) - 1}};
    got_t *g;
    cJSON *j;

    load(f, decisions_lua);
    g = call(f, LC_HOOK_PUBLISH, &c);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    assert_true(g->data_set);
    j = parse(g->data);
    assert_string_equal(cJSON_GetObjectItem(j, "text")->valuestring, "HELLO");
    cJSON_Delete(j);
    assert_true(g->skip_history);
    assert_int_equal(g->n_exc, 1); /* a string */
    assert_string_equal(g->exc[0], "c9");
    assert_int_equal(g->n_excu, 2); /* a list */
    assert_string_equal(g->excu[1], "u8");

    c.client = "";
    c.exclude_clients = exc;
    c.n_exclude_clients = 2;
    g = call(f, LC_HOOK_BROADCAST, &c);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    assert_int_equal(g->n_exc, 2);
    assert_string_equal(g->exc[1], "b");
    c.data.p = "{\"drop\":true}";
    c.data.len = strlen(c.data.p);
    assert_int_equal(call(f, LC_HOOK_BROADCAST, &c)->type, LC_DECIDE_DENY);
}

static void test_lua_notification_return_ignored(void **state)
{
    fx_t *f = *state;
    lc_hook_ctx_t c = {.client = "c1", .code = 3000};

    load(f, decisions_lua);
    assert_int_equal(call(f, LC_HOOK_DISCONNECT, &c)->type, LC_DECIDE_NONE);
}

static void test_lua_ctx_fields_visible(void **state)
{
    fx_t *f = *state;
    static const char data[] = "{\"a\":[1,2,{\"b\":null}],\"s\":\"x\"}";
    const lc_http_header_t hdrs[] = {{"x-a", "1"}, {"x-a", "2"}, {"cookie", "k=v"}};
    lc_hook_ctx_t c = {.client = "c1",
                       .user = "u1",
                       .transport = "websocket",
                       .method = "m",
                       .data = {data, sizeof(data) - 1},
                       .info = {"{\"i\":1}", 7},
                       .meta = {"[true]", 6},
                       .token = "tok",
                       .headers = hdrs,
                       .n_headers = 3};
    got_t *g;
    cJSON *j;

    load(f, "return {rpc = function(c)\n"
            "  return {data = {client = c.client, user = c.user, transport = c.transport,\n"
            "    method = c.method, a2 = c.data.a[2], isnull = c.data.a[3].b == lucent.json.null,\n"
            "    s = c.data.s, i = c.info.i, meta = c.meta[1], token = c.token,\n"
            "    xa = c.headers['x-a'], cookie = c.headers.cookie, nexc = #c.exclude_client,\n"
            "    channel = c.channel == nil}}\n"
            "end}\n");
    g = call(f, LC_HOOK_RPC, &c);
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    j = parse(g->data);
    assert_string_equal(cJSON_GetObjectItem(j, "client")->valuestring, "c1");
    assert_string_equal(cJSON_GetObjectItem(j, "user")->valuestring, "u1");
    assert_string_equal(cJSON_GetObjectItem(j, "transport")->valuestring, "websocket");
    assert_string_equal(cJSON_GetObjectItem(j, "method")->valuestring, "m");
    assert_int_equal(cJSON_GetObjectItem(j, "a2")->valueint, 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "isnull")));
    assert_string_equal(cJSON_GetObjectItem(j, "s")->valuestring, "x");
    assert_int_equal(cJSON_GetObjectItem(j, "i")->valueint, 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "meta")));
    assert_string_equal(cJSON_GetObjectItem(j, "token")->valuestring, "tok");
    assert_string_equal(cJSON_GetObjectItem(j, "xa")->valuestring, "1, 2");
    assert_string_equal(cJSON_GetObjectItem(j, "cookie")->valuestring, "k=v");
    assert_int_equal(cJSON_GetObjectItem(j, "nexc")->valueint, 0);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "channel")));
    cJSON_Delete(j);
}

/* ---- sandbox ---- */

static void test_lua_sandbox_escapes_fail(void **state)
{
    fx_t *f = *state;
    const char *const tries[] = {
        "io",           "os_execute", "os_exit",     "os_getenv",     "os_remove", "package",
        "debug",        "ffi",        "jit",         "bytecode",      "dump",      "dump_method",
        "require_path", "require_os", "require_abs", "getfenv",       "setfenv",   "string_mt",
        "collect",      "newproxy",   "running",     "loadstring_bc", "load_fn",   "gcinfo",
        "module",       "dofile",     "loadfile"};

    load(f,
         "local tries = {\n"
         "  io = function() return io.open('/etc/passwd') end,\n"
         "  os_execute = function() return os.execute('true') end,\n"
         "  os_exit = function() os.exit(1) end,\n"
         "  os_getenv = function() return os.getenv('HOME') end,\n"
         "  os_remove = function() return os.remove('/tmp/x') end,\n"
         "  package = function() return package.loadlib('libc.so.6', 'system') end,\n"
         "  debug = function() return debug.getinfo(1) end,\n"
         "  ffi = function() return require('ffi') end,\n"
         "  jit = function() return jit.off() end,\n"
         "  bytecode = function() return assert(load('\\27LJ\\2\\0')) end,\n"
         "  dump = function() return string.dump(function() end) end,\n"
         "  dump_method = function() return ('x'):dump() end,\n"
         "  require_path = function() return require('../../etc/passwd') end,\n"
         "  require_os = function() return require('os') end,\n"
         "  require_abs = function() return require('/etc/passwd') end,\n"
         "  getfenv = function() return getfenv(1) end,\n"
         "  setfenv = function() return setfenv(1, {}) end,\n"
         "  string_mt = function() return getmetatable('').__index.dump end,\n"
         "  collect = function() return collectgarbage('collect') end,\n"
         "  newproxy = function() return newproxy(true) end,\n"
         "  running = function() return coroutine.running() end,\n"
         "  loadstring_bc = function() return assert(loadstring('\\27Lua')) end,\n"
         "  load_fn = function() return assert(load(function() return nil end)) end,\n"
         "  gcinfo = function() return gcinfo() end,\n"
         "  module = function() return module('x') end,\n"
         "  dofile = function() return dofile('/etc/passwd') end,\n"
         "  loadfile = function() return loadfile('/etc/passwd') end,\n"
         "}\n"
         "return {rpc = function(c)\n"
         "  if c.method == 'ok' then\n"
         "    local f = assert(load('return 1 + 1'))\n"
         "    return {data = {f(), collectgarbage('count') > 0, math.floor(1.5), os.time() > 0}}\n"
         "  end\n"
         "  tries[c.method]()\n"
         "  return true\n"
         "end}\n");
    lc_log_set_level(LC_LOG_NONE);
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
        got_t *g = rpc(f, tries[i], NULL);
        if (g->type != LC_DECIDE_ERROR || g->code != 100)
            fail_msg("escape '%s' was not refused", tries[i]);
    }
    lc_log_set_level(LC_LOG_INFO);
    assert_string_equal(rpc(f, "ok", NULL)->data, "[2,true,1,true]");
}

static void test_lua_require_shipped_rules(void **state)
{
    fx_t *f = *state;
    struct stat st;

    if (stat(LUCENT_LUA_DIR "/lucent/rules.lua", &st) != 0)
        skip();
    load(f, "local rules = require('lucent.rules')\n"
            "local again = require('lucent.rules')\n"
            "return {rpc = function() return {data = {rawequal(rules, again)}} end}\n");
    assert_string_equal(rpc(f, "x", NULL)->data, "[true]");
}

static void test_lua_require_from_lua_path(void **state)
{
    fx_t *f = *state;
    char mod[160];

    snprintf(mod, sizeof(mod), "%s/mylib", f->dir);
    assert_int_equal(mkdir(mod, 0700), 0);
    snprintf(mod, sizeof(mod), "%s/mylib/util.lua", f->dir);
    write_file(mod, "return {twice = function(x) return x * 2 end, has_io = io ~= nil}\n");
    f->cfg.lua_path = calloc(1, sizeof(char *));
    f->cfg.lua_path[0] = strdup(f->dir);
    f->cfg.n_lua_path = 1;
    load(f, "local u = require('mylib.util')\n"
            "return {rpc = function() return {data = {u.twice(21), u.has_io}} end}\n");
    assert_string_equal(rpc(f, "x", NULL)->data, "[42,false]");
}

/* ---- budget and memory ---- */

static void test_lua_infinite_loop_error_then_usable(void **state)
{
    fx_t *f = *state;
    int64_t t0 = lc_mono_ms();

    load(f, "return {rpc = function(c)\n"
            "  if c.method == 'spin' then while true do end end\n"
            "  if c.method == 'spin_pcall' then\n"
            "    while true do pcall(function() while true do end end) end\n"
            "  end\n"
            "  return true\n"
            "end}\n");
    assert_int_equal(rpc(f, "spin", NULL)->code, 100);
    assert_int_equal(rpc(f, "spin", NULL)->code, 100); /* each call has its own budget */
    assert_int_equal(rpc(f, "spin_pcall", NULL)->code, 100);
    assert_true(lc_mono_ms() - t0 < 5000);
    assert_int_equal(rpc(f, "ok", NULL)->type, LC_DECIDE_ALLOW);
}

static void test_lua_memory_bomb_error_then_usable(void **state)
{
    fx_t *f = *state;

    f->cfg.lua_instruction_budget = 500000000; /* the memory runs out first */
    f->cfg.lua_memory_limit = 8 * 1024 * 1024;
    load(f, "return {rpc = function(c)\n"
            "  if c.method == 'bomb' then\n"
            "    local t = {}\n"
            "    for i = 1, 1e9 do t[i] = string.rep('x', 64) .. i end\n"
            "  end\n"
            "  if c.method == 'rep' then return {data = string.rep('x', 64 * 1024 * 1024)} end\n"
            "  return {data = {ok = true}}\n"
            "end}\n");
    assert_int_equal(rpc(f, "bomb", NULL)->code, 100);
    assert_true(lc_lua_memory(f->vm) < (size_t)f->cfg.lua_memory_limit);
    assert_int_equal(rpc(f, "rep", NULL)->code, 100);
    assert_string_equal(rpc(f, "ok", NULL)->data, "{\"ok\":true}");
    assert_true(lc_lua_memory(f->vm) < 2 * 1024 * 1024);
}

/* ---- reload ---- */

static void test_lua_reload_replaces_or_keeps(void **state)
{
    fx_t *f = *state;
    char err[512] = "";

    load(f, "return {rpc = function() return {data = 1} end}\n");
    assert_string_equal(rpc(f, "x", NULL)->data, "1");
    write_file(f->path, "return {rpc = function() return {data = 2} end,\n"
                        "        connect = function() return false end}\n");
    assert_int_equal(lc_lua_reload(f->vm, err, sizeof(err)), 0);
    assert_string_equal(rpc(f, "x", NULL)->data, "2");
    assert_true(lc_lua_has_hook(f->vm, LC_HOOK_CONNECT));
    write_file(f->path, "return {rpc = function() return {data = 3} end\n");
    assert_int_equal(lc_lua_reload(f->vm, err, sizeof(err)), LC_EINVAL);
    assert_non_null(strstr(err, "hooks.lua:"));
    assert_string_equal(rpc(f, "x", NULL)->data, "2");
    write_file(f->path, "return 'no'\n");
    assert_int_equal(lc_lua_reload(f->vm, err, sizeof(err)), LC_EINVAL);
    assert_string_equal(rpc(f, "x", NULL)->data, "2");
    assert_true(lc_lua_has_hook(f->vm, LC_HOOK_CONNECT));
}

/* ---- the lucent module ---- */

static void test_lua_json_round_trip(void **state)
{
    fx_t *f = *state;
    got_t *g;
    cJSON *j;

    load(f, "return {rpc = function(c)\n"
            "  local s = lucent.json.encode(c.data)\n"
            "  local back = lucent.json.decode(s)\n"
            "  local bad, err = lucent.json.decode('{nope')\n"
            "  local fn, ferr = lucent.json.encode({f = print})\n"
            "  return {data = {back = back, s = s, bad = bad == nil, err = err, ferr = ferr,\n"
            "    empty = lucent.json.encode({}), arr = lucent.json.encode(lucent.json.array()),\n"
            "    null = lucent.json.encode(lucent.json.null)}}\n"
            "end}\n");
    g = rpc(f, "x", "{\"a\":[1,2.5,\"s\",[],{},null,true],\"u\":\"\\u00e9\\n\"}");
    assert_int_equal(g->type, LC_DECIDE_ALLOW);
    j = parse(g->data);
    cJSON *back = cJSON_GetObjectItem(j, "back");
    cJSON *want = parse("{\"a\":[1,2.5,\"s\",[],{},null,true],\"u\":\"\\u00e9\\n\"}");
    assert_true(cJSON_Compare(back, want, true));
    cJSON_Delete(want);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "bad")));
    assert_string_equal(cJSON_GetObjectItem(j, "err")->valuestring, "invalid JSON");
    assert_non_null(strstr(cJSON_GetObjectItem(j, "ferr")->valuestring, "function"));
    assert_string_equal(cJSON_GetObjectItem(j, "empty")->valuestring, "{}");
    assert_string_equal(cJSON_GetObjectItem(j, "arr")->valuestring, "[]");
    assert_string_equal(cJSON_GetObjectItem(j, "null")->valuestring, "null");
    cJSON_Delete(j);
}

static void test_lua_cache_set_get_expiry(void **state)
{
    fx_t *f = *state;

    load(f, "return {rpc = function(c)\n"
            "  if c.method == 'set' then\n"
            "    lucent.cache.set('short', 'v', 0.05)\n"
            "    lucent.cache.set('long', {n = 1})\n"
            "    lucent.cache.set('gone', 1)\n"
            "    lucent.cache.delete('gone')\n"
            "  end\n"
            "  local l = lucent.cache.get('long')\n"
            "  return {data = {lucent.cache.get('short') or 'nil', l and l.n or 0,\n"
            "    lucent.cache.get('gone') or 'nil'}}\n"
            "end}\n");
    assert_string_equal(rpc(f, "set", NULL)->data, "[\"v\",1,\"nil\"]");
    usleep(100 * 1000);
    assert_string_equal(rpc(f, "get", NULL)->data, "[\"nil\",1,\"nil\"]");
}

static void test_lua_publish_log_now_through_host(void **state)
{
    fx_t *f = *state;

    load(f, "return {rpc = function(c)\n"
            "  local ok = lucent.publish('news', {t = 'hi'}, {skip_history = true})\n"
            "  lucent.log('debug', 'published')\n"
            "  local now = lucent.now()\n"
            "  return {data = {ok, now > 1.7e9 and now < 1e10}}\n"
            "end}\n");
    assert_string_equal(rpc(f, "x", NULL)->data, "[true,true]");
    assert_string_equal(f->published, "news {\"t\":\"hi\"}");
    assert_true(f->pub_skip);
}

static void test_lua_jwt_decode_connection_token(void **state)
{
    fx_t *f = *state;
    char *tok;
    lc_hook_ctx_t c = {.client = "c1", .method = "m"};
    got_t *g;

    assert_int_equal(lc_config_set_string(&f->cfg.token_hmac_secret_key, "secret"), 0);
    tok = lc_jwt_make_connect_token("secret", "u42", lc_now_s(), 3600);
    assert_non_null(tok);
    load(f, "return {rpc = function(c)\n"
            "  local claims, why = lucent.jwt.decode(c.token)\n"
            "  local bad, badwhy = lucent.jwt.decode(c.token .. 'x')\n"
            "  return {data = {claims.sub, claims.exp > 0, bad == nil, type(badwhy)}}\n"
            "end}\n");
    c.token = tok;
    g = call(f, LC_HOOK_RPC, &c);
    assert_string_equal(g->data, "[\"u42\",true,true,\"string\"]");
    free(tok);
}

static void test_lua_nested_publish_runs_broadcast_hook(void **state)
{
    fx_t *f = *state;

    load(f, "return {\n"
            "  rpc = function(c)\n"
            "    local ok = lucent.publish('news', {n = 1})\n"
            "    for i = 1, 3000 do end -- the outer budget is still its own\n"
            "    return {data = {ok}}\n"
            "  end,\n"
            "  broadcast = function(c, pub)\n"
            "    if pub.data.n < 20 then lucent.publish('news', {n = pub.data.n + 1}) end\n"
            "    if pub.data.n == 3 then while true do end end\n"
            "    return pub\n"
            "  end}\n");
    lc_log_set_level(LC_LOG_NONE);
    assert_string_equal(rpc(f, "x", NULL)->data, "[true]");
    lc_log_set_level(LC_LOG_INFO);
    /* n = 1..7 nest under the rpc hook (n = 8 is refused: too deep); n = 3 spins out of its
     * budget after its own nested publish returned */
    assert_int_equal(f->nested, 6 * 1 + 2 * 100);
}

static void test_lua_memory_full_from_cache_never_crashes(void **state)
{
    fx_t *f = *state;
    static const char data[] = "{\"a\":[1,2,3],\"b\":\"some text\"}";
    lc_hook_ctx_t c = {
        .client = "c1", .user = "u1", .method = "m", .data = {data, sizeof(data) - 1}};

    f->cfg.lua_memory_limit = 4 * 1024 * 1024;
    f->cfg.lua_instruction_budget = 100000000;
    load(f,
         "return {rpc = function(c)\n"
         "  if c.method == 'clear' then\n"
         "    for i = 1, 100000 do lucent.cache.delete(i) end\n"
         "    return true\n"
         "  end\n"
         "  for i = 1, 100000 do\n"
         "    if not pcall(function() lucent.cache.set(i, string.rep('x', 4096) .. i) end) then\n"
         "      break\n"
         "    end\n"
         "  end\n"
         "  return {data = c.data}\n"
         "end}\n");
    lc_log_set_level(LC_LOG_NONE);
    for (int i = 0; i < 5; i++) {
        got_t *g = call(f, LC_HOOK_RPC, &c);
        assert_true(g->type == LC_DECIDE_ALLOW || g->type == LC_DECIDE_ERROR);
    }
    lc_log_set_level(LC_LOG_INFO);
    c.method = "clear";
    /* The cache is full; clearing it may itself run out of memory at first, never crash. */
    for (int i = 0; i < 3 && call(f, LC_HOOK_RPC, &c)->type != LC_DECIDE_ALLOW; i++)
        ;
    assert_true(lc_lua_memory(f->vm) <= (size_t)f->cfg.lua_memory_limit + 65536);
}

static void test_lua_jit_on_runs_without_budget(void **state)
{
    fx_t *f = *state;

    f->cfg.lua_jit = true;
    load(f, "return {rpc = function()\n"
            "  local s = 0\n"
            "  for i = 1, 3000000 do s = s + i end\n"
            "  return {data = s}\n"
            "end}\n");
    assert_string_equal(rpc(f, "x", NULL)->data, "4500001500000");
}

/* ---- yielding calls ---- */

static void run_until(fx_t *f, int *calls)
{
    int64_t t0 = lc_mono_ms();

    while (*calls == 0 && lc_mono_ms() - t0 < 5000)
        uv_run(&f->loop, UV_RUN_ONCE);
}

static void test_lua_http_request_yields_and_resumes(void **state)
{
    fx_t *f = *state;
    char url[96];
    lc_hook_ctx_t c = {.client = "c1", .method = "m"};
    lc_lua_call_t *h;

    snprintf(url, sizeof(url), "{\"url\":\"http://127.0.0.1:%d/echo\"}", f->srv.port);
    c.data.p = url;
    c.data.len = strlen(url);
    load(f, "return {rpc = function(c)\n"
            "  local r, err = lucent.http.request{method = 'POST', url = c.data.url,\n"
            "    headers = {['X-A'] = 'va', ['Content-Type'] = 'text/plain'}, body = 'hi',\n"
            "    timeout = 2}\n"
            "  if not r then return nil, err end\n"
            "  return {data = {status = r.status, body = r.body}}\n"
            "end}\n");
    memset(&f->got, 0, sizeof(f->got));
    h = lc_lua_call(f->vm, LC_HOOK_RPC, &c, on_decision, &f->got);
    assert_non_null(h);
    assert_int_equal(f->got.calls, 0);
    run_until(f, &f->got.calls);
    assert_int_equal(f->got.calls, 1);
    assert_int_equal(f->got.type, LC_DECIDE_ALLOW);
    cJSON *j = parse(f->got.data);
    assert_int_equal(cJSON_GetObjectItem(j, "status")->valueint, 200);
    assert_string_equal(cJSON_GetObjectItem(j, "body")->valuestring, "POST|hi|va");
    cJSON_Delete(j);
    assert_int_equal(f->srv.requests, 1);
}

static void test_lua_http_request_outside_hook_coroutine_fails(void **state)
{
    fx_t *f = *state;

    load(f, "return {rpc = function(c)\n"
            "  local co = coroutine.wrap(function() return lucent.http.request{url = 'http://x/'} "
            "end)\n"
            "  return co()\n"
            "end}\n");
    assert_int_equal(rpc(f, "x", NULL)->code, 100);
}

static void test_lua_cancel_pending_no_callback(void **state)
{
    fx_t *f = *state;
    char url[96];
    lc_hook_ctx_t c = {.client = "c1", .method = "m"};
    lc_lua_call_t *h;

    snprintf(url, sizeof(url), "{\"url\":\"http://127.0.0.1:%d/hold\"}", f->srv.port);
    c.data.p = url;
    c.data.len = strlen(url);
    load(f, "return {rpc = function(c)\n"
            "  local r = lucent.http.request{url = c.data.url}\n"
            "  return true\n"
            "end}\n");
    memset(&f->got, 0, sizeof(f->got));
    h = lc_lua_call(f->vm, LC_HOOK_RPC, &c, on_decision, &f->got);
    assert_non_null(h);
    while (f->srv.requests == 0)
        uv_run(&f->loop, UV_RUN_ONCE);
    lc_lua_cancel(h);
    /* a second pending call is left to lc_lua_free */
    assert_non_null(lc_lua_call(f->vm, LC_HOOK_RPC, &c, on_decision, &f->got));
    uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(f->got.calls, 0);
}

static void test_lua_proxy_answer_as_decision(void **state)
{
    fx_t *f = *state;
    char ep[96];
    lc_hook_ctx_t c = {.client = "c1", .transport = "websocket"};

    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/proxy", f->srv.port);
    assert_int_equal(lc_config_set_string(&f->cfg.connect_proxy.endpoint, ep), 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/proxy-error", f->srv.port);
    assert_int_equal(lc_config_set_string(&f->cfg.rpc_proxy.endpoint, ep), 0);
    load(f, "return {\n"
            "  connect = function(c) return lucent.proxy('connect', c) end,\n"
            "  rpc = function(c)\n"
            "    local r = lucent.proxy('rpc', c)\n"
            "    local s, err = lucent.proxy('subscribe', {channel = 'x'})\n"
            "    return {data = {r.error.code, r.error.message, s == nil, err}}\n"
            "  end}\n");
    memset(&f->got, 0, sizeof(f->got));
    assert_non_null(lc_lua_call(f->vm, LC_HOOK_CONNECT, &c, on_decision, &f->got));
    run_until(f, &f->got.calls);
    assert_int_equal(f->got.type, LC_DECIDE_ALLOW);
    assert_string_equal(f->got.user, "42");
    assert_string_equal(f->got.info, "{\"p\":1}");
    memset(&f->got, 0, sizeof(f->got));
    c.method = "m";
    assert_non_null(lc_lua_call(f->vm, LC_HOOK_RPC, &c, on_decision, &f->got));
    run_until(f, &f->got.calls);
    assert_string_equal(f->got.data, "[4001,\"nope\",true,\"no subscribe proxy configured\"]");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lua_syntax_error_load_fails_with_file_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lua_not_a_table_load_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_missing_file_load_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_has_hook_only_defined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_decision_plain_values_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_failing_hook_error_100, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_connect_table_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_subscribe_and_refresh_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_publish_transform_and_excludes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_notification_return_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_ctx_fields_visible, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_sandbox_escapes_fail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_require_shipped_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_require_from_lua_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_infinite_loop_error_then_usable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_memory_bomb_error_then_usable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_reload_replaces_or_keeps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_json_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_cache_set_get_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_publish_log_now_through_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_jwt_decode_connection_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_nested_publish_runs_broadcast_hook, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lua_memory_full_from_cache_never_crashes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lua_jit_on_runs_without_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_http_request_yields_and_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_http_request_outside_hook_coroutine_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lua_cancel_pending_no_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lua_proxy_answer_as_decision, setup, teardown),
    };
    lc_httpc_global_init();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
