/* Claims of connection and subscription tokens (spec §3.1, §3.2), read from a payload that
 * jwt.c has already verified.
 *
 * Claim types follow the reference server's typed decoding: a claim of the wrong JSON type
 * makes the whole token invalid, JSON null counts as absent, unknown claims are ignored.
 * Claim errors are reported before expiry, so a broken token is never mistaken for an old
 * one. */
#include <math.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "auth/jwt_internal.h"
#include "util/base64.h"
#include "util/err.h"
#include "util/map.h"

/* Claims are looked up case-sensitively; null is absent. */
static const cJSON *claim(const cJSON *obj, const char *name)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsNull(item) ? NULL : item;
}

/* An integer claim; integer-valued floats ("exp": 1.7e9) are accepted. */
static int claim_int(const cJSON *obj, const char *name, int64_t *v, bool *present)
{
    const cJSON *item = claim(obj, name);
    double d;

    if (present != NULL)
        *present = false;
    if (item == NULL)
        return 0;
    if (!cJSON_IsNumber(item))
        return LC_EPARSE;
    d = item->valuedouble;
    /* The range check comes first so the cast below is defined; NaN fails both compares. */
    if (!(d >= -9.0e18 && d <= 9.0e18) || (double)(int64_t)d != d)
        return LC_EPARSE;
    *v = (int64_t)d;
    if (present != NULL)
        *present = true;
    return 0;
}

/* A string claim copied out; absent is "" so the result is never NULL on success. */
static int claim_string(const cJSON *obj, const char *name, char **out)
{
    const cJSON *item = claim(obj, name);

    if (item != NULL && (!cJSON_IsString(item) || item->valuestring == NULL))
        return LC_EPARSE;
    *out = strdup(item != NULL ? item->valuestring : "");
    return *out != NULL ? 0 : LC_ENOMEM;
}

/* Compact JSON text of a claim (NULL when absent), in memory the caller frees with free(). */
static int claim_raw_json(const cJSON *obj, const char *name, char **out, size_t *outlen)
{
    const cJSON *item = claim(obj, name);
    char *printed;
    size_t n;

    if (item == NULL)
        return 0;
    printed = cJSON_PrintUnformatted(item);
    if (printed == NULL)
        return LC_ENOMEM;
    n = strlen(printed);
    /* Copied so the claims never depend on which allocator cJSON was set up with. */
    *out = malloc(n + 1);
    if (*out != NULL)
        memcpy(*out, printed, n + 1);
    cJSON_free(printed);
    if (*out == NULL)
        return LC_ENOMEM;
    if (outlen != NULL)
        *outlen = n;
    return 0;
}

/* A standard-base64 string claim, decoded. Absent and "" both leave *out NULL, as the
 * reference treats an empty b64 claim as not given. */
static int claim_b64(const cJSON *obj, const char *name, unsigned char **out, size_t *outlen)
{
    const cJSON *item = claim(obj, name);

    if (item == NULL)
        return 0;
    if (!cJSON_IsString(item) || item->valuestring == NULL)
        return LC_EPARSE;
    if (item->valuestring[0] == '\0')
        return 0;
    *out = lc_base64_decode(item->valuestring, strlen(item->valuestring), outlen);
    return *out != NULL ? 0 : LC_EPARSE;
}

/* One override flag: absent or null leaves it unset; otherwise it must be an object whose
 * "value", when present, is a bool. */
static int read_override_flag(const cJSON *ov, const char *name, lc_jwt_opt_bool_t *out)
{
    const cJSON *item = claim(ov, name), *v;

    if (item == NULL)
        return 0;
    if (!cJSON_IsObject(item))
        return LC_EPARSE;
    v = claim(item, "value");
    if (v != NULL && !cJSON_IsBool(v))
        return LC_EPARSE;
    out->set = true;
    out->value = v != NULL && cJSON_IsTrue(v);
    return 0;
}

static int read_override(const cJSON *ov, lc_sub_override_t *out)
{
    if (!cJSON_IsObject(ov))
        return LC_EPARSE;
    if (read_override_flag(ov, "presence", &out->presence) != 0 ||
        read_override_flag(ov, "join_leave", &out->join_leave) != 0 ||
        read_override_flag(ov, "force_recovery", &out->force_recovery) != 0 ||
        read_override_flag(ov, "force_positioning", &out->force_positioning) != 0 ||
        read_override_flag(ov, "force_push_join_leave", &out->force_push_join_leave) != 0)
        return LC_EPARSE;
    return 0;
}

/* One complete JSON text of len bytes. cJSON's own end check wants a NUL inside len, so
 * trailing bytes (whitespace allowed) are checked here. NULL when the text is not one value. */
static cJSON *parse_text(const char *json, size_t len)
{
    const char *end = NULL;
    cJSON *root;

    if (json == NULL || len == 0)
        return NULL;
    root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL)
        return NULL;
    while (end < json + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end != json + len) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

int lc_jwt_parse_override(const char *json, size_t len, lc_sub_override_t *out)
{
    cJSON *ov;
    int rc;

    memset(out, 0, sizeof(*out));
    ov = parse_text(json, len);
    if (ov == NULL)
        return LC_EPARSE;
    rc = read_override(ov, out);
    cJSON_Delete(ov);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

static void sub_options_free(lc_sub_options_t *o)
{
    free(o->info);
    free(o->b64info);
    free(o->data);
    free(o->b64data);
    memset(o, 0, sizeof(*o));
}

/* info, b64info, data, b64data and override of one subscription. On failure *o may hold
 * partial results that the caller frees. */
static int read_sub_options(const cJSON *obj, lc_sub_options_t *o, const char **why)
{
    const cJSON *ov;
    int rc;

    if ((rc = claim_raw_json(obj, "info", &o->info, &o->info_len)) != 0 ||
        (rc = claim_raw_json(obj, "data", &o->data, &o->data_len)) != 0)
        return rc;
    if ((rc = claim_b64(obj, "b64info", &o->b64info, &o->b64info_len)) != 0) {
        *why = "malformed b64info";
        return rc;
    }
    if ((rc = claim_b64(obj, "b64data", &o->b64data, &o->b64data_len)) != 0) {
        *why = "malformed b64data";
        return rc;
    }
    ov = claim(obj, "override");
    if (ov != NULL && (rc = read_override(ov, &o->override)) != 0) {
        *why = "malformed override";
        return rc;
    }
    return 0;
}

static int read_channels(const cJSON *item, lc_conn_claims_t *out)
{
    const cJSON *el;
    size_t i = 0;
    int n;

    if (!cJSON_IsArray(item))
        return LC_EPARSE;
    n = cJSON_GetArraySize(item);
    if (n == 0)
        return 0;
    out->channels = calloc((size_t)n, sizeof(*out->channels));
    if (out->channels == NULL)
        return LC_ENOMEM;
    cJSON_ArrayForEach(el, item)
    {
        if (!cJSON_IsString(el) || el->valuestring == NULL)
            return LC_EPARSE;
        out->channels[i] = strdup(el->valuestring);
        if (out->channels[i] == NULL)
            return LC_ENOMEM;
        out->n_channels = ++i;
    }
    return 0;
}

/* The `subs` map: channel → options object (null = default options), in the order given. A
 * channel named twice keeps its last entry, like the reference's map decoding; the index of
 * each channel's entry (plus one) is kept in a map so that stays linear. On failure nothing is
 * left allocated and *subs is NULL and *nsubs 0. */
static int read_subs(const cJSON *item, lc_conn_sub_t **subs, size_t *nsubs, const char **why)
{
    lc_conn_sub_t *arr;
    const cJSON *el;
    lc_map_t seen;
    size_t n = 0;
    int count, rc = 0;

    *subs = NULL;
    *nsubs = 0;
    if (!cJSON_IsObject(item))
        return LC_EPARSE;
    count = cJSON_GetArraySize(item);
    if (count == 0)
        return 0;
    arr = calloc((size_t)count, sizeof(*arr));
    if (arr == NULL)
        return LC_ENOMEM;
    lc_map_init(&seen);
    cJSON_ArrayForEach(el, item)
    {
        lc_conn_sub_t *s;
        size_t klen, idx;

        if (el->string == NULL || (!cJSON_IsNull(el) && !cJSON_IsObject(el))) {
            rc = LC_EPARSE;
            goto fail;
        }
        klen = strlen(el->string);
        idx = (size_t)(uintptr_t)lc_map_get(&seen, el->string, klen);
        if (idx != 0) {
            s = &arr[idx - 1];
            sub_options_free(&s->opts);
        } else {
            s = &arr[n];
            s->channel = strdup(el->string);
            if (s->channel == NULL) {
                rc = LC_ENOMEM;
                goto fail;
            }
            n++;
            if ((rc = lc_map_put(&seen, el->string, klen, (void *)(uintptr_t)n, NULL)) != 0)
                goto fail;
        }
        /* counted before its options are read, so a partial entry is freed below */
        if (cJSON_IsObject(el) && (rc = read_sub_options(el, &s->opts, why)) != 0)
            goto fail;
    }
    lc_map_free(&seen);
    *subs = arr;
    *nsubs = n;
    return 0;

fail:
    lc_map_free(&seen);
    lc_conn_subs_free(arr, n);
    return rc;
}

int lc_jwt_parse_subs(const char *json, size_t len, lc_conn_sub_t **subs, size_t *n)
{
    const char *why = NULL; /* the reason only matters to token verification */
    cJSON *map;
    int rc;

    *subs = NULL;
    *n = 0;
    map = parse_text(json, len);
    if (map == NULL)
        return LC_EPARSE;
    rc = read_subs(map, subs, n, &why);
    cJSON_Delete(map);
    return rc;
}

void lc_conn_subs_free(lc_conn_sub_t *subs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(subs[i].channel);
        sub_options_free(&subs[i].opts);
    }
    free(subs);
}

/* Map a reader's lc_err to the token status, keeping the specific reason when one was set. */
static lc_jwt_status claim_error(int rc, const char **why, const char *fallback)
{
    if (rc == LC_ENOMEM)
        *why = "out of memory";
    else if (*why == NULL)
        *why = fallback;
    return LC_JWT_INVALID;
}

/* A NumericDate claim (exp, iat, nbf): seconds, a fraction allowed ("exp": 1700000000.5) as
 * the reference's JWT library reads it; kept as whole seconds (the fraction dropped). */
static int claim_time(const cJSON *obj, const char *name, int64_t *v)
{
    const cJSON *item = claim(obj, name);
    double d;

    if (item == NULL)
        return 0;
    if (!cJSON_IsNumber(item))
        return LC_EPARSE;
    d = item->valuedouble;
    if (!(d >= -9.0e18 && d <= 9.0e18))
        return LC_EPARSE;
    *v = (int64_t)floor(d);
    return 0;
}

static lc_jwt_status read_times(const cJSON *payload, int64_t *exp, int64_t *iat, int64_t *nbf,
                                int64_t *expire_at, bool *has_expire_at, const char **why)
{
    if (claim_time(payload, "exp", exp) != 0 || claim_time(payload, "iat", iat) != 0 ||
        claim_time(payload, "nbf", nbf) != 0 ||
        claim_int(payload, "expire_at", expire_at, has_expire_at) != 0) {
        *why = "time claim is not a number (expire_at: not an integer)";
        return LC_JWT_INVALID;
    }
    return LC_JWT_OK;
}

/* Fill *out from a verified connection payload. On failure *out may hold partial results: the
 * caller frees them. */
static lc_jwt_status read_conn_claims(const cJSON *payload, lc_conn_claims_t *out, const char **why)
{
    const cJSON *item;
    int rc;

    /* Only subscription tokens name a channel; the reference accepts an empty one. */
    item = claim(payload, "channel");
    if (item != NULL &&
        (!cJSON_IsString(item) || item->valuestring == NULL || item->valuestring[0] != '\0')) {
        *why = "channel claim in connection token";
        return LC_JWT_INVALID;
    }
    *why = NULL;
    if ((rc = claim_string(payload, "sub", &out->sub)) != 0)
        return claim_error(rc, why, "sub is not a string");
    if (read_times(payload, &out->exp, &out->iat, &out->nbf, &out->expire_at, &out->has_expire_at,
                   why) != LC_JWT_OK)
        return LC_JWT_INVALID;
    if ((rc = claim_raw_json(payload, "info", &out->info, &out->info_len)) != 0)
        return claim_error(rc, why, "malformed info");
    if ((rc = claim_b64(payload, "b64info", &out->b64info, &out->b64info_len)) != 0)
        return claim_error(rc, why, "malformed b64info");
    item = claim(payload, "channels");
    if (item != NULL && (rc = read_channels(item, out)) != 0)
        return claim_error(rc, why, "malformed channels");
    item = claim(payload, "subs");
    if (item != NULL && (rc = read_subs(item, &out->subs, &out->n_subs, why)) != 0)
        return claim_error(rc, why, "malformed subs");
    if ((rc = claim_raw_json(payload, "meta", &out->meta, NULL)) != 0)
        return claim_error(rc, why, "malformed meta");
    return LC_JWT_OK;
}

static lc_jwt_status read_sub_claims(const cJSON *payload, lc_sub_claims_t *out, const char **why)
{
    int rc;

    *why = NULL;
    if ((rc = claim_string(payload, "sub", &out->sub)) != 0)
        return claim_error(rc, why, "sub is not a string");
    if ((rc = claim_string(payload, "channel", &out->channel)) != 0)
        return claim_error(rc, why, "channel is not a string");
    if ((rc = claim_string(payload, "client", &out->client)) != 0)
        return claim_error(rc, why, "client is not a string");
    if (read_times(payload, &out->exp, &out->iat, &out->nbf, &out->expire_at, &out->has_expire_at,
                   why) != LC_JWT_OK)
        return LC_JWT_INVALID;
    if ((rc = read_sub_options(payload, &out->opts, why)) != 0)
        return claim_error(rc, why, "malformed claims");
    return LC_JWT_OK;
}

static bool str_matches(const char *s, const char *want, const void *re)
{
    if (want != NULL && want[0] != '\0' && strcmp(s, want) != 0)
        return false;
    return re == NULL || regexec((const regex_t *)re, s, 0, NULL, 0) == 0;
}

/* `aud` and `iss` against the configured audience / issuer (exact or regex), when set. aud
 * is a string or an array of strings, one of which must pass. */
static lc_jwt_status check_aud_iss(const cJSON *payload, const lc_jwt_keys_t *keys,
                                   const char **why)
{
    bool want_aud =
        (keys->audience != NULL && keys->audience[0] != '\0') || keys->audience_re != NULL;
    bool want_iss = (keys->issuer != NULL && keys->issuer[0] != '\0') || keys->issuer_re != NULL;

    if (want_aud) {
        const cJSON *aud = claim(payload, "aud"), *it;
        bool ok = false;
        if (cJSON_IsString(aud)) {
            ok = str_matches(aud->valuestring, keys->audience, keys->audience_re);
        } else if (cJSON_IsArray(aud)) {
            cJSON_ArrayForEach(it, aud)
            {
                if (!cJSON_IsString(it)) {
                    *why = "aud is not a string or a list of strings";
                    return LC_JWT_INVALID;
                }
                ok = ok || str_matches(it->valuestring, keys->audience, keys->audience_re);
            }
        } else if (aud != NULL) {
            *why = "aud is not a string or a list of strings";
            return LC_JWT_INVALID;
        }
        if (!ok) {
            *why = "invalid audience";
            return LC_JWT_INVALID;
        }
    }
    if (want_iss) {
        const cJSON *iss = claim(payload, "iss");
        if (!cJSON_IsString(iss) || !str_matches(iss->valuestring, keys->issuer, keys->issuer_re)) {
            *why = "invalid issuer";
            return LC_JWT_INVALID;
        }
    }
    return LC_JWT_OK;
}

lc_jwt_status lc_jwt_verify_connect(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                    int64_t now, lc_conn_claims_t *out, const char **reason)
{
    lc_conn_claims_t scratch;
    cJSON *payload = NULL;
    const char *why = NULL;
    lc_jwt_status st;

    if (out == NULL)
        out = &scratch; /* verification only: claims are read, then dropped */
    memset(out, 0, sizeof(*out));

    st = lc__jwt_open(token, len, keys, &payload, &why);
    if (st == LC_JWT_OK)
        st = read_conn_claims(payload, out, &why);
    if (st == LC_JWT_OK)
        st = check_aud_iss(payload, keys, &why);
    if (st == LC_JWT_OK)
        st = lc__jwt_check_time(out->exp, out->nbf, now, &why);

    cJSON_Delete(payload);
    if (st != LC_JWT_OK || out == &scratch)
        lc_conn_claims_free(out);
    if (reason != NULL)
        *reason = st == LC_JWT_OK ? NULL : why;
    return st;
}

lc_jwt_status lc_jwt_verify_subscribe(const char *token, size_t len, const lc_jwt_keys_t *keys,
                                      int64_t now, lc_sub_claims_t *out, const char **reason)
{
    lc_sub_claims_t scratch;
    cJSON *payload = NULL;
    const char *why = NULL;
    lc_jwt_status st;

    if (out == NULL)
        out = &scratch;
    memset(out, 0, sizeof(*out));

    st = lc__jwt_open(token, len, keys, &payload, &why);
    if (st == LC_JWT_OK)
        st = read_sub_claims(payload, out, &why);
    if (st == LC_JWT_OK)
        st = check_aud_iss(payload, keys, &why);
    /* Expiry is judged before the channel requirement, in the reference's order. */
    if (st == LC_JWT_OK)
        st = lc__jwt_check_time(out->exp, out->nbf, now, &why);
    if (st == LC_JWT_OK && out->channel[0] == '\0') {
        why = "channel claim missing";
        st = LC_JWT_INVALID;
    }

    cJSON_Delete(payload);
    if (st != LC_JWT_OK || out == &scratch)
        lc_sub_claims_free(out);
    if (reason != NULL)
        *reason = st == LC_JWT_OK ? NULL : why;
    return st;
}

void lc_conn_claims_free(lc_conn_claims_t *c)
{
    if (c == NULL)
        return;
    free(c->sub);
    free(c->info);
    free(c->b64info);
    for (size_t i = 0; i < c->n_channels; i++)
        free(c->channels[i]);
    free(c->channels);
    lc_conn_subs_free(c->subs, c->n_subs);
    free(c->meta);
    memset(c, 0, sizeof(*c));
}

void lc_sub_claims_free(lc_sub_claims_t *c)
{
    if (c == NULL)
        return;
    free(c->sub);
    free(c->channel);
    free(c->client);
    sub_options_free(&c->opts);
    memset(c, 0, sizeof(*c));
}
