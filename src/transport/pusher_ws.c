/* Pusher protocol 7 over WebSocket (shared/spec/pusher-protocol.md §1): a kind of the WebSocket
 * connection of ws.c whose session (core/client_pusher.c) speaks first. The upgrade always
 * completes: an unknown key, a disabled app, an origin the app does not allow or another
 * protocol version are refused afterwards with pusher:error and the close code, which is what
 * pusher-js acts on (an HTTP error would only make it retry). */
#include "transport/pusher_ws.h"

#include <stdlib.h>
#include <string.h>

#include "core/client.h"
#include "proto/pusher.h"
#include "transport/conn.h"
#include "util/log.h"

/* Pusher caps frames nowhere public; 64 KiB holds any event of the 10 KB data limit. */
#define PUSHER_MAX_MESSAGE 65536

/* Every close is told first as pusher:error with the same code (spec §1.5), Lucent's own
 * disconnect codes turned into Pusher's. */
static void pusher_close(lc_transport_t *t, uint32_t code, const char *reason)
{
    uint32_t pc = lc_pusher_close_code(code);
    lc_buf_t b = LC_BUF_INIT;
    lc_rcbuf_t *last = NULL;
    if (lc_pusher_error(&b, pc, reason && *reason ? reason : "closed") == 0)
        last = lc__ws_text_frame(b.data, b.len);
    lc_buf_free(&b);
    lc__ws_close(t, pc, reason, last);
    if (last)
        lc_rcbuf_unref(last);
}

/* One event per text frame, framed as the JSON endpoint's replies. */
static const lc_transport_vt_t pusher_vt = LC__WS_VT("pusher", lc__ws_text_frame, pusher_close);

static const lc__ws_kind_t pusher_kind = {
    .vt = &pusher_vt,
    .framing = LC_FRAMING_PUSHER_WS,
    .mode = LC_CLIENT_PUSHER,
    .server_first = true,
};

static void on_pusher_app(lc_http_req_t *req, void *arg)
{
    const lc_config_t *cfg = arg;
    /* the route is <handler_prefix>/app/: the key is what follows */
    const char *path = lc_http_req_path(req);
    size_t skip = strlen(cfg->pusher_prefix ? cfg->pusher_prefix : "") + 5;
    const char *key = strlen(path) >= skip ? path + skip : "";
    size_t klen = strlen(key);
    lc_client_opts_t extra = {0};
    extra.pusher_app =
        klen && !memchr(key, '/', klen) ? lc_config_pusher_app_by_key(cfg, key, klen) : NULL;
    char v[16];
    const char *proto = lc_http_req_query_param(req, "protocol", v, sizeof(v));
    const lc_pusher_app_t *app = extra.pusher_app;
    if (app && proto && strcmp(proto, "7") != 0)
        extra.pusher_refuse = LC_PUSHER_BAD_PROTOCOL;
    else if (app &&
             !lc__origin_match_any(app->allowed_origins, app->n_allowed_origins,
                                   lc_http_req_header(req, "Origin")) &&
             app->n_allowed_origins > 0)
        extra.pusher_refuse = LC_PUSHER_UNAUTHORIZED;
    int64_t max = PUSHER_MAX_MESSAGE;
    if (cfg->websocket_message_size_limit > 0 && cfg->websocket_message_size_limit < max)
        max = cfg->websocket_message_size_limit;
    lc__ws_accept_opts(req, &pusher_kind, max, NULL, 0, &extra);
}

int lc_pusher_ws_register(lc_router_t *r, const lc_config_t *cfg)
{
    if (!cfg->pusher_enabled)
        return 0;
    char route[256];
    snprintf(route, sizeof(route), "%s/app/", cfg->pusher_prefix ? cfg->pusher_prefix : "");
    return lc_router_add(r, route, true, on_pusher_app, (void *)cfg);
}
