/* The decision pipeline (hooks/decide.c) with its real steps: a Lua script, HMAC tokens, a
 * proxy backend that cannot be reached and the namespace rules. For each kind the step that
 * decides is the first that has an opinion, in the order Lua, token, proxy, rules; a pending
 * pipeline can be cancelled. */
#include "jwt_test_util.h"

#include <uv.h>

#include "config/config.h"
#include "hooks/decide.h"
#include "hooks/httpc.h"
#include "hooks/script.h"
#include "proto/codes.h"

static const char *config_json =
    "{\"client\":{\"token\":{\"hmac_secret_key\":\"" SECRET "\"},"
    "\"allow_anonymous_connect_without_token\":true,"
    "\"proxy\":{\"connect\":{\"enabled\":true,\"endpoint\":\"http://127.0.0.1:1/c\","
    "\"timeout\":\"2s\"}}},"
    "\"channel\":{\"proxy\":{\"subscribe\":{\"endpoint\":\"http://127.0.0.1:1/s\"},"
    "\"publish\":{\"endpoint\":\"http://127.0.0.1:1/p\"}},"
    "\"namespaces\":[{\"name\":\"px\",\"subscribe_proxy_enabled\":true,"
    "\"publish_proxy_enabled\":true},"
    "{\"name\":\"open\",\"allow_subscribe_for_client\":true,\"allow_publish_for_client\":true}]},"
    "\"rpc\":{\"proxy\":{\"endpoint\":\"http://127.0.0.1:1/r\"},"
    "\"without_namespace\":{\"proxy_enabled\":true}},"
    "\"channels\":[{\"name\":\"open:{x}\",\"presence\":true}]}";

/* Lua has an opinion only about names holding lua_yes / lua_no (and a connect whose data
 * says so). */
static const char *script = "local function pick(ctx)\n"
                            "  local s = ctx.channel or ctx.method or ''\n"
                            "  if s:find('lua_yes') then return true end\n"
                            "  if s:find('lua_no') then return false end\n"
                            "  return nil\n"
                            "end\n"
                            "return {\n"
                            "  connect = function(ctx)\n"
                            "    if ctx.data and ctx.data.lua then return {user = 'lua-user'} end\n"
                            "    return nil\n"
                            "  end,\n"
                            "  subscribe = pick, publish = pick, rpc = pick,\n"
                            "  refresh = function(ctx) return nil end,\n"
                            "  sub_refresh = function(ctx) return nil end,\n"
                            "}\n";

typedef struct fx {
    lc_config_t cfg;
    uv_loop_t loop;
    lc_httpc_t *hc;
    lc_lua_t *vm;
    char dir[64], path[96];
    /* the request of the test under way (one at a time): kept here so that each test does
     * not declare it and its namespace scratch again */
    lc_decide_req_t req;
    lc_ns_opts_t scratch;
} fx_t;

static struct {
    int calls;
    lc_verdict_type type;
    lc_decide_step by;
    uint32_t code;
    bool unavailable;
    char user[64];
} got;

static void on_verdict(void *arg, const lc_verdict_t *v)
{
    got.calls++;
    got.type = v->type;
    got.by = v->by;
    got.code = v->code;
    got.unavailable = v->unavailable;
    snprintf(got.user, sizeof(got.user), "%s", v->type == LC_VERDICT_ALLOW ? v->user : "");
}

static lc_httpc_t *host_httpc(void *ctx)
{
    return ((fx_t *)ctx)->hc;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/lucent-decide-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/hooks.lua", f->dir);
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs(script, fp);
    fclose(fp);
    lc_config_defaults(&f->cfg);
    char err[512] = "";
    if (lc_config_load_string(&f->cfg, config_json, strlen(config_json), err, sizeof(err)) != 0)
        fail_msg("config: %s", err);
    assert_int_equal(lc_config_set_string(&f->cfg.lua_script, f->path), 0);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    f->hc = lc_httpc_new(&f->loop);
    assert_non_null(f->hc);
    lc_lua_host_t host = {f, NULL, host_httpc};
    f->vm = lc_lua_new(&f->cfg, &host, err, sizeof(err));
    if (!f->vm)
        fail_msg("lua: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    lc_lua_free(f->vm);
    lc_httpc_close(f->hc, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    lc_config_free(&f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* A fresh request of kind in the fixture (what it held before is dropped). */
static lc_decide_req_t *base_req(fx_t *f, lc_hook_kind kind)
{
    lc_decide_req_t *r = &f->req;
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->cfg = &f->cfg;
    r->session.client = "c1";
    r->session.transport = "websocket";
    r->session.user = kind == LC_HOOK_CONNECT ? "" : "u1";
    r->lua = f->vm;
    r->httpc = f->hc;
    return r;
}

/* Run the pipeline to its verdict (the loop runs while it waits for the backend). */
static void decide(fx_t *f, const lc_decide_req_t *r)
{
    memset(&got, 0, sizeof(got));
    lc_decide_t *d = lc_decide_start(r, on_verdict, NULL);
    for (int i = 0; d && got.calls == 0 && i < 1000; i++)
        uv_run(&f->loop, UV_RUN_ONCE);
    assert_int_equal(got.calls, 1);
}

/* A fresh request of kind on channel ch, its namespace resolved as the server would. */
static lc_decide_req_t *channel_req(fx_t *f, lc_hook_kind kind, const char *ch)
{
    lc_decide_req_t *r = base_req(f, kind);
    r->channel = ch;
    r->ns = lc_config_resolve_channel(&f->cfg, ch, strlen(ch), "u1", &f->scratch);
    assert_non_null(r->ns);
    r->data = (lc_raw_t){"{}", 2};
    return r;
}

static void test_connect_order(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r;
    char *tok = make_php_token("{\"sub\":\"tok-user\"}");

    /* Lua first, even with a token */
    r = base_req(f, LC_HOOK_CONNECT);
    r->token = tok;
    r->data = (lc_raw_t){"{\"lua\":1}", 9};
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_LUA);
    assert_string_equal(got.user, "lua-user");

    /* Lua without an opinion: the token */
    r->data = (lc_raw_t){NULL, 0};
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_TOKEN);
    assert_string_equal(got.user, "tok-user");

    /* no token: the connect proxy (unreachable: 100, unavailable) */
    r->token = NULL;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_PROXY);
    assert_int_equal(got.type, LC_VERDICT_ERROR);
    assert_int_equal(got.code, LC_ERROR_INTERNAL);
    assert_true(got.unavailable);

    /* no proxy: the anonymous options */
    f->cfg.connect_proxy_enabled = false;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_RULES);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);
    assert_string_equal(got.user, "");
    free(tok);
}

static void test_subscribe_order(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r;
    char *tok = make_php_token("{\"sub\":\"u1\",\"channel\":\"px:lua_yes\"}");

    r = channel_req(f, LC_HOOK_SUBSCRIBE, "px:lua_yes");
    r->token = tok;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_LUA);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);

    char *tok2 = make_php_token("{\"sub\":\"u1\",\"channel\":\"px:a\"}");
    r = channel_req(f, LC_HOOK_SUBSCRIBE, "px:a");
    r->token = tok2;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_TOKEN);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);

    r->token = NULL;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_PROXY);
    assert_true(got.unavailable);

    r = channel_req(f, LC_HOOK_SUBSCRIBE, "open:a");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_RULES);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);

    r = channel_req(f, LC_HOOK_SUBSCRIBE, "closed");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_RULES);
    assert_int_equal(got.type, LC_VERDICT_ERROR);
    assert_int_equal(got.code, LC_ERROR_PERMISSION_DENIED);

    /* Lua's false: 103 from Lua, before the token or the proxy */
    r = channel_req(f, LC_HOOK_SUBSCRIBE, "px:lua_no");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_LUA);
    assert_int_equal(got.code, LC_ERROR_PERMISSION_DENIED);
    free(tok);
    free(tok2);
}

static void test_publish_and_rpc_order(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r = channel_req(f, LC_HOOK_PUBLISH, "px:lua_yes");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_LUA);
    r = channel_req(f, LC_HOOK_PUBLISH, "px:a");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_PROXY);
    r = channel_req(f, LC_HOOK_PUBLISH, "open:a");
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_RULES);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);

    r = base_req(f, LC_HOOK_RPC);
    r->method = "lua_yes";
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_LUA);
    r->method = "m";
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_PROXY);
}

static void test_refresh_and_sub_refresh_tokens(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r;
    char *tok = make_php_token("{\"sub\":\"u1\",\"exp\":4102444800}");
    r = base_req(f, LC_HOOK_REFRESH);
    r->token = tok;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_TOKEN);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);
    /* the token of another user ends the connection */
    r->session.user = "u2";
    decide(f, r);
    assert_int_equal(got.type, LC_VERDICT_DISCONNECT);
    assert_int_equal(got.code, LC_DISCONNECT_INVALID_TOKEN);

    char *stok = make_php_token("{\"sub\":\"u1\",\"channel\":\"open:a\",\"exp\":4102444800}");
    r = channel_req(f, LC_HOOK_SUB_REFRESH, "open:a");
    r->token = stok;
    decide(f, r);
    assert_int_equal(got.by, LC_STEP_TOKEN);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);
    free(tok);
    free(stok);
}

static void test_cancel_pending_proxy(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r = channel_req(f, LC_HOOK_SUBSCRIBE, "px:a");
    memset(&got, 0, sizeof(got));
    lc_decide_t *d = lc_decide_start(r, on_verdict, NULL);
    assert_non_null(d);
    lc_decide_cancel(d);
    for (int i = 0; i < 20; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    assert_int_equal(got.calls, 0);
}

/* The trace line starting with prefix, or NULL. */
static const char *line_with(const lc_decide_trace_t *t, const char *prefix)
{
    for (size_t i = 0; i < lc_decide_trace_count(t); i++)
        if (strncmp(lc_decide_trace_line(t, i), prefix, strlen(prefix)) == 0)
            return lc_decide_trace_line(t, i);
    return NULL;
}

static lc_decide_trace_t *traced(fx_t *f, lc_decide_req_t *r)
{
    lc_decide_trace_t *t = lc_decide_trace_new();
    assert_non_null(t);
    r->trace = t;
    decide(f, r);
    return t;
}

/* With no_proxy no proxy is asked and the namespace rules give the verdict: the traced run. */
static lc_decide_trace_t *traced_no_proxy(fx_t *f, lc_decide_req_t *r)
{
    r->no_proxy = true;
    lc_decide_trace_t *t = traced(f, r);
    assert_int_equal(got.by, LC_STEP_RULES);
    return t;
}

static void test_trace_channels_rule_by_index_and_pattern(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r = channel_req(f, LC_HOOK_SUBSCRIBE, "open:a");
    lc_decide_trace_t *t = traced(f, r);
    const char *l = line_with(t, "rules: channels rule");
    assert_non_null(l);
    assert_string_equal(l, "rules: channels rule 1 \"open:{x}\" matched: presence=true");
    lc_decide_trace_free(t);

    r = channel_req(f, LC_HOOK_PUBLISH, "px:lua_yes");
    t = traced(f, r);
    assert_non_null(line_with(t, "rules: no channels rule matched (1 rule)"));
    assert_null(line_with(t, "rules: channels rule"));
    lc_decide_trace_free(t);
}

static void test_trace_proxy_url_and_time_and_no_proxy(void **state)
{
    fx_t *f = *state;
    lc_decide_req_t *r = channel_req(f, LC_HOOK_SUBSCRIBE, "px:a");
    lc_decide_trace_t *t = traced(f, r);
    assert_non_null(line_with(t, "proxy: POST http://127.0.0.1:1/s (proxy"));
    const char *l = line_with(t, "proxy: http://127.0.0.1:1/s: no answer after ");
    assert_non_null(l);
    assert_non_null(strstr(l, " ms ("));
    lc_decide_trace_free(t);

    /* no_proxy: the namespace rules decide, no proxy is asked */
    t = traced_no_proxy(f, r);
    assert_int_equal(got.code, LC_ERROR_PERMISSION_DENIED);
    assert_null(line_with(t, "proxy:"));
    lc_decide_trace_free(t);

    r = base_req(f, LC_HOOK_CONNECT);
    t = traced_no_proxy(f, r);
    assert_int_equal(got.type, LC_VERDICT_ALLOW);
    lc_decide_trace_free(t);

    r = base_req(f, LC_HOOK_RPC);
    r->method = "m";
    t = traced_no_proxy(f, r);
    assert_int_equal(got.code, LC_ERROR_NOT_AVAILABLE);
    assert_non_null(line_with(t, "rules: rpc method \"m\": proxies left out (no-proxy)"));
    lc_decide_trace_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connect_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subscribe_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_publish_and_rpc_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refresh_and_sub_refresh_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_pending_proxy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_channels_rule_by_index_and_pattern, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trace_proxy_url_and_time_and_no_proxy, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
