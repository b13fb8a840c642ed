/* Subscription expiry: subscriptions from tokens (or a proxy) with an expiry end when it
 * passes unrefreshed, or are prolonged by the sub_refresh proxy. One scheduled check per
 * session, armed for the earliest expiry. */
#include "core/client_internal.h"

#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "util/clock.h"
#include "util/log.h"

/* --- subscription expiry --------------------------------------------------------------- */

static int64_t sub_deadline(const lc_client_t *c, const lc_csub_t *cs)
{
    /* A client-side refresh gets client.expired_sub_close_delay of grace; the sub_refresh
     * proxy is asked at the expiry itself. */
    return cs->exp * 1000 + (cs->proxy_refresh ? 0 : lc__ccfg(c)->expired_sub_close_delay_ms);
}

void lc__client_arm_sub_expiry(lc_client_t *c)
{
    int64_t first = 0;
    for (uint32_t i = 0; i < c->nsubs; i++) {
        if (c->subs[i].exp <= 0)
            continue;
        int64_t d = sub_deadline(c, &c->subs[i]);
        if (first == 0 || d < first)
            first = d;
    }
    if (first == 0) {
        if (c->x)
            lc__worker_unsched(c->w, &c->x->sub_expire);
        return;
    }
    if (!lc__client_x(c)) {
        /* An expiry nobody would enforce: end the connection instead. */
        lc__client_disconnect(c, LC_DISCONNECT_INTERNAL, NULL);
        return;
    }
    int64_t delay = first - lc_now_ms();
    lc__worker_sched(c->w, &c->x->sub_expire, LC_SCHED_SUB_EXPIRE, delay > 0 ? delay : 0);
}

/* End subscription i because its expiry passed unrefreshed: a client-side one with the
 * unsubscribe push 2501 (the SDK fetches a new token and resubscribes), a server-side one by
 * disconnecting with 3006. Returns false when the session was closed. */
static bool expire_sub(lc_client_t *c, uint32_t i)
{
    if (c->subs[i].s->flags & LC_SUB_SERVER_SIDE) {
        lc__client_disconnect(c, LC_DISCONNECT_SUB_EXPIRED, NULL);
        return false;
    }
    size_t len;
    const char *ch = lc_hub_sub_channel(c->subs[i].s, &len);
    char *name = strndup(ch, len);
    lc__client_remove_sub(c, i);
    lc_buf_t b = LC_BUF_INIT;
    if (name && lc_proto_push_unsubscribe(&b, name, LC_UNSUBSCRIBE_EXPIRED, NULL) == 0)
        lc__client_send_push(c, b.data, b.len);
    free(name);
    lc_buf_free(&b);
    return c->state != LC_CLIENT_CLOSING;
}

/* The sub_refresh proxy answered for the channel in c->x->sub_refresh_ch. */
void lc__client_sub_refresh_at_expiry_apply(lc_client_t *c, const lc_verdict_t *v)
{
    char *ch = c->x->sub_refresh_ch;
    c->x->sub_refresh_ch = NULL;
    lc_csub_t *cs = ch ? lc__client_find_sub(c, ch, strlen(ch)) : NULL;
    free(ch);
    if (!cs) {
        lc__client_arm_sub_expiry(c);
        return;
    }
    int64_t now = lc_now_s();
    if (v->unavailable) {
        cs->exp = now + 60; /* the backend is asked again in a minute (spec §5.3) */
    } else if (v->type != LC_VERDICT_ALLOW || !v->granted || v->expired || v->expire_at <= now) {
        if (!expire_sub(c, (uint32_t)(cs - c->subs)))
            return;
    } else {
        cs->exp = v->expire_at;
        if (v->info.p && v->info.len) {
            char *ni = strndup(v->info.p, v->info.len);
            if (ni) {
                free(cs->chan_info);
                cs->chan_info = ni;
                cs->chan_info_len = v->info.len;
            }
        }
    }
    lc__client_arm_sub_expiry(c);
}

/* Called from the subscription expiry check, which lives in the side struct (c->x). */
static bool ask_sub_refresh_proxy(lc_client_t *c, lc_csub_t *cs)
{
    lc_client_x_t *x = c->x;
    size_t len;
    const char *ch = lc_hub_sub_channel(cs->s, &len);
    lc_ns_opts_t scratch;
    const lc_ns_opts_t *o = lc_config_resolve_channel(lc__ccfg(c), ch, len, c->user, &scratch);
    if (!o || !o->sub_refresh_proxy)
        return false;
    x->sub_refresh_ch = strndup(ch, len);
    if (!x->sub_refresh_ch)
        return false;
    lc_decide_req_t r;
    lc__client_decide_req(c, LC_HOOK_SUB_REFRESH, &r);
    r.at_expiry = true;
    r.ns = o;
    r.channel = x->sub_refresh_ch;
    /* A backend that cannot be asked answers at once as unavailable (+60 s). */
    lc__client_decide_at_expiry(c, &r);
    return true;
}

void lc__client_check_sub_expiry(lc_client_t *c)
{
    int64_t now_ms = lc_now_ms();
    bool deferred = false;
    for (uint32_t i = 0; i < c->nsubs;) {
        lc_csub_t *cs = &c->subs[i];
        if (cs->exp == 0 || sub_deadline(c, cs) > now_ms) {
            i++;
            continue;
        }
        if (cs->proxy_refresh) {
            /* One step at a time: the others wait for the next check, or for the step that
             * is pending to end. */
            if (c->wait == LC_WAIT_NONE) {
                if (!ask_sub_refresh_proxy(c, cs))
                    cs->exp = now_ms / 1000 + 60;
            } else if (c->wait != LC_WAIT_SUB_REFRESH) {
                deferred = true;
            }
            i++;
            continue;
        }
        if (!expire_sub(c, i))
            return;
    }
    if (deferred) {
        c->x->sub_expiry_due = true;
        return;
    }
    if (c->wait != LC_WAIT_SUB_REFRESH)
        lc__client_arm_sub_expiry(c);
}
