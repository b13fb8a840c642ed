/* Server API of shared poll channels (Centrifugo v6.8 "Shared poll subscriptions", direct
 * publish): shared_poll_publish gives an item's new data and version to the clients tracking
 * it at once, instead of waiting for the next refresh cycle. Versioned channels only: the
 * version is what keeps a late publish from overwriting newer data.
 *
 * With the namespace's shared_poll.publish_enabled the publish goes through the engine to
 * every node subscribed to the channel (this one included); without, only the trackers of this
 * node get it, as in Centrifugo. */
#include <string.h>

#include "api/internal.h"
#include "core/spoll.h"
#include "proto/codes.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/log.h"

/* Longest epoch accepted (bytes): an epoch names a publisher's lifetime (a UUID, a start
 * time), and subscribe replies carry it. */
#define EPOCH_MAX 64
/* 2^53: the largest integer the JSON body's number holds exactly */
#define VERSION_MAX 9007199254740992LL

typedef struct {
    const char *ch;
    const lc_ns_opts_t *ns;
    lc_ns_opts_t scratch;
    const char *key, *epoch;
    int64_t version;
    lc_raw_t data;
} spoll_params_t;

static uint32_t read_params(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p,
                            spoll_params_t *sp)
{
    memset(sp, 0, sizeof(*sp));
    const char *b64 = NULL;
    uint32_t code = lc__api_get_channel(c->api, p, &sp->ch, &sp->scratch, &sp->ns);
    if (!code && sp->ns->subscription_type != LC_SUB_TYPE_SHARED_POLL)
        code = lc__api_bad("channel", "not a shared poll channel (its namespace's "
                                      "subscription_type)");
    if (!code)
        code = lc__api_get_str(p, "key", &sp->key);
    if (!code && (!sp->key || !sp->key[0]))
        code = lc__api_bad("key", "required");
    if (!code && strlen(sp->key) > LC_SPOLL_KEY_MAX)
        code = lc__api_bad("key", "longer than 512 bytes");
    if (!code)
        code = lc__api_get_int(p, "version", 0, VERSION_MAX, &sp->version);
    if (!code && sp->version == 0)
        code = lc__api_bad("version", "required (a positive integer)");
    if (!code)
        code = lc__api_get_str(p, "epoch", &sp->epoch);
    if (!code && sp->epoch && strlen(sp->epoch) > EPOCH_MAX)
        code = lc__api_bad("epoch", "longer than 64 bytes");
    if (!code)
        code = lc__api_get_raw(params, len, "data", &sp->data);
    if (!code)
        code = lc__api_get_str(p, "b64data", &b64);
    /* Binary payloads cannot reach JSON clients: data is any JSON value, kept byte for byte. */
    if (!code && (!sp->data.p || sp->data.len == 0))
        code = lc__api_bad("data", b64 && b64[0] ? "b64data is not supported (binary data)"
                                                 : "required (any JSON value)");
    return code;
}

static void on_sent(void *arg, int err)
{
    lc__api_cmd_t *c = arg;
    if (err) {
        lc_log_error("api shared_poll_publish: the engine did not take it: %s", lc_strerror(err));
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    lc__api_ok(c);
}

void lc__api_shared_poll_publish(lc__api_cmd_t *c, const char *params, size_t len, const cJSON *p)
{
    spoll_params_t sp;
    uint32_t code = read_params(c, params, len, p, &sp);
    if (code) {
        lc__api_fail(c, code);
        return;
    }
    const lc_spoll_ns_t *o = &sp.ns->shared_poll;
    if (o->mode != LC_SPOLL_VERSIONED) {
        /* Centrifugo answers an internal error here too (its node refuses the publish) */
        lc_log_error("api shared_poll_publish to %s: direct publish needs shared_poll.mode "
                     "\"versioned\" (its versions keep stale data out)",
                     sp.ch);
        lc__api_fail(c, LC_ERROR_INTERNAL);
        return;
    }
    lc_spoll_pub_t pub = {.channel = sp.ch,
                          .chlen = strlen(sp.ch),
                          .key = sp.key,
                          .keylen = strlen(sp.key),
                          .version = (uint64_t)sp.version,
                          .epoch = sp.epoch ? sp.epoch : "",
                          .epochlen = sp.epoch ? strlen(sp.epoch) : 0,
                          .data = sp.data.p,
                          .datalen = sp.data.len};
    if (!o->publish_enabled) {
        lc_spoll_publish_apply(c->api->node, &pub);
        lc__api_ok(c);
        return;
    }
    /* every node subscribed to the channel (this one too, when it has subscribers) */
    lc_engine_t *e = lc_node_engine(c->api->node);
    lc_buf_t b = LC_BUF_INIT;
    int rc = lc_spoll_publish_encode(&pub, &b);
    lc_rcbuf_t *msg = rc ? NULL : lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    rc = msg ? e->vt->publish_join_leave(e, pub.channel, pub.chlen, msg, on_sent, c) : LC_ENOMEM;
    lc_rcbuf_unref(msg);
    if (rc) {
        lc_log_error("api shared_poll_publish to %s: %s", sp.ch, lc_strerror(rc));
        lc__api_fail(c, LC_ERROR_INTERNAL);
    }
}
