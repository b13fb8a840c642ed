/* Token keys from the configuration and the per-worker JWKS cache (token.h). */
#include "hooks/token.h"

#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/err.h"
#include "util/list.h"
#include "util/log.h"

#define JWKS_MIN_REFETCH_MS 1000
#define JWKS_TIMEOUT_MS 5000

/* The key set of one endpoint in one worker. */
typedef struct jwks_set {
    struct jwks_set *next;
    lc_httpc_t *hc;
    char *url;
    char **kids;
    char **pems;
    bool *ec;
    size_t n;
    int64_t fetched_ms;  /* when the last fetch ended (monotonic), 0 = never */
    lc_httpc_req_t *req; /* the fetch under way */
    lc_list_t waiters;
} jwks_set_t;

struct lc_jwks_wait {
    lc_list_t node; /* in set->waiters */
    void (*done)(void *arg);
    void *arg;
};

static void set_free(jwks_set_t *s)
{
    lc_list_t *pos, *tmp;

    /* the fetch was cancelled with the client; waiters are dropped without a callback (their
     * owners are gone or going with the worker) */
    lc_list_foreach_safe(pos, tmp, &s->waiters)
    {
        lc_list_remove(pos);
        free(lc_container_of(pos, lc_jwks_wait_t, node));
    }
    lc_jwks_keys_free(s->kids, s->pems, s->ec, s->n);
    free(s->url);
    free(s);
}

/* The client's attachment: the list of sets. */
static void cache_release(void *p)
{
    jwks_set_t *s = p;

    while (s != NULL) {
        jwks_set_t *next = s->next;
        set_free(s);
        s = next;
    }
}

static jwks_set_t *set_of(lc_httpc_t *hc, const char *url)
{
    jwks_set_t *head = lc_httpc_attached(hc), *s;

    for (s = head; s != NULL; s = s->next)
        if (strcmp(s->url, url) == 0)
            return s;
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->url = strdup(url)) == NULL) {
        free(s);
        return NULL;
    }
    s->hc = hc;
    lc_list_init(&s->waiters);
    if (head != NULL) { /* the head stays attached: the new set goes after it */
        s->next = head->next;
        head->next = s;
    } else {
        lc_httpc_attach(hc, s, cache_release);
    }
    return s;
}

static bool start_fetch(jwks_set_t *s);

static bool jwk_find(void *ud, const char *kid, lc_jwk_t *out)
{
    const jwks_set_t *s = ud;

    if (s == NULL)
        return false;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->kids[i], kid) == 0) {
            out->pem = s->pems[i];
            out->ec = s->ec[i];
            return true;
        }
    }
    return false;
}

void lc_token_keys(const lc_config_t *cfg, bool sub, lc_httpc_t *hc, lc_token_keys_t *out)
{
    const lc_token_conf_t *t = sub ? lc_config_sub_token(cfg) : &cfg->token;

    memset(out, 0, sizeof(*out));
    out->keys.hmac_secret = sub ? lc_config_sub_token_secret(cfg) : cfg->token_hmac_secret_key;
    out->keys.rsa_public_key = t->rsa_public_key;
    out->keys.ecdsa_public_key = t->ecdsa_public_key;
    out->keys.audience = t->audience;
    out->keys.audience_re = t->audience_re;
    out->keys.issuer = t->issuer;
    out->keys.issuer_re = t->issuer_re;
    if (t->jwks_public_endpoint != NULL && t->jwks_public_endpoint[0] != '\0') {
        out->jwks_url = t->jwks_public_endpoint;
        out->keys.jwk_find = jwk_find;
        out->keys.jwk_ud = hc != NULL ? set_of(hc, t->jwks_public_endpoint) : NULL;
        /* The first look at a set fetches it, so it is usually there before a token needs it
         * (a Lua hook's ctx.claims reads the cache without waiting). */
        jwks_set_t *s = out->keys.jwk_ud;
        if (s != NULL && s->fetched_ms == 0)
            start_fetch(s);
    }
}

static void on_fetched(void *arg, const lc_httpc_resp_t *r)
{
    jwks_set_t *s = arg;
    lc_list_t ready;

    s->req = NULL;
    s->fetched_ms = lc_mono_ms();
    if (r->err != 0) {
        lc_log_error("jwks %s: %s", s->url, r->what != NULL ? r->what : lc_strerror(r->err));
    } else if (r->status != 200) {
        lc_log_error("jwks %s: unexpected status %ld", s->url, r->status);
    } else {
        char **kids, **pems;
        bool *ec;
        size_t n;
        int rc = lc_jwks_parse(r->body, r->body_len, &kids, &pems, &ec, &n);
        if (rc != 0) {
            lc_log_error("jwks %s: unusable key set: %s", s->url, lc_strerror(rc));
        } else {
            lc_jwks_keys_free(s->kids, s->pems, s->ec, s->n);
            s->kids = kids;
            s->pems = pems;
            s->ec = ec;
            s->n = n;
            lc_log_debug("jwks %s: %zu keys", s->url, n);
        }
    }
    /* Waiters may start or cancel others from their callbacks: take them out first. */
    lc_list_init(&ready);
    while (!lc_list_empty(&s->waiters)) {
        lc_list_t *n = s->waiters.next;
        lc_list_remove(n);
        lc_list_insert_tail(&ready, n);
    }
    while (!lc_list_empty(&ready)) {
        lc_jwks_wait_t *w = lc_container_of(ready.next, lc_jwks_wait_t, node);
        void (*done)(void *) = w->done;
        void *warg = w->arg;
        lc_list_remove(&w->node);
        free(w);
        done(warg);
    }
}

static bool start_fetch(jwks_set_t *s)
{
    lc_httpc_opts_t o = {.url = s->url, .method = "GET", .timeout_ms = JWKS_TIMEOUT_MS};

    if (s->req == NULL && (s->req = lc_httpc_request(s->hc, &o, on_fetched, s)) == NULL)
        lc_log_error("jwks %s: the request could not start", s->url);
    return s->req != NULL;
}

lc_jwks_wait_t *lc_token_jwks_refresh(lc_httpc_t *hc, const char *url, void (*done)(void *arg),
                                      void *arg)
{
    jwks_set_t *s;
    lc_jwks_wait_t *w;

    if (hc == NULL || url == NULL || (s = set_of(hc, url)) == NULL)
        return NULL;
    if (s->req == NULL && s->fetched_ms != 0 && lc_mono_ms() - s->fetched_ms < JWKS_MIN_REFETCH_MS)
        return NULL;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    if (!start_fetch(s)) {
        free(w);
        return NULL;
    }
    w->done = done;
    w->arg = arg;
    lc_list_insert_tail(&s->waiters, &w->node);
    return w;
}

void lc_token_jwks_cancel(lc_jwks_wait_t *w)
{
    if (w == NULL)
        return;
    lc_list_remove(&w->node);
    free(w);
}
