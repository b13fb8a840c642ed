/* pusher.apps (Lucent's own): the Pusher applications served on /app/{key} and /apps/{id}/...
 * Defaults follow spec/pusher-protocol.md §9 (Pusher's limits, Reverb's client-event default);
 * validation names the app by its index and the offending key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config/internal.h"
#include "config/config_walk.h"
#include "util/err.h"
#include "util/log.h"

static const char s_empty[] = "";

bool lc__config_pusher_static(const char *p)
{
    return p == s_empty;
}

void lc__config_pusher_defaults(lc_config_t *c)
{
    c->pusher_enabled = false;
    c->pusher_prefix = (char *)s_empty;
    c->pusher_apps = NULL;
    c->n_pusher_apps = 0;
}

static void app_init(lc_pusher_app_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = (char *)s_empty;
    a->key = (char *)s_empty;
    a->secret = (char *)s_empty;
    a->channel_prefix = (char *)s_empty;
    a->enabled = true;
    a->client_events = LC_PUSHER_CLIENT_EVENTS_MEMBERS;
    a->activity_timeout_ms = 30000;
    a->max_presence_members = 100;
    a->max_user_info_size = 1024;
    a->max_user_id_length = 128;
    a->max_channel_name_length = 200;
    a->max_event_name_length = 200;
    a->max_event_data_size = 10240;
    a->max_batch_size = 10;
    a->max_channels_per_event = 100;
    a->max_client_events_per_second = 10;
    a->timestamp_window_ms = 600000;
}

static void app_free(lc_pusher_app_t *a)
{
    lc__config_free_str(a->id);
    lc__config_free_str(a->key);
    lc__config_free_str(a->secret);
    lc__config_free_str(a->channel_prefix);
    lc__config_free_strs(a->allowed_origins, a->n_allowed_origins);
    memset(a, 0, sizeof(*a));
}

static void free_apps(lc_config_t *c)
{
    for (size_t i = 0; i < c->n_pusher_apps; i++)
        app_free(&c->pusher_apps[i]);
    free(c->pusher_apps);
    c->pusher_apps = NULL;
    c->n_pusher_apps = 0;
}

void lc__config_pusher_free(lc_config_t *c)
{
    lc__config_free_str(c->pusher_prefix);
    c->pusher_prefix = NULL;
    free_apps(c);
}

/* Apps ids are often numbers (Pusher's dashboard, Reverb's 6 random digits): an integer "id"
 * is taken as its decimal text. Returns a copy of e with that done, or NULL (OOM). */
static cJSON *normalised_entry(const cJSON *e)
{
    cJSON *copy = cJSON_Duplicate(e, 1);
    const cJSON *id = copy ? cJSON_GetObjectItemCaseSensitive(copy, "id") : NULL;
    if (id && cJSON_IsNumber(id) && id->valuedouble >= 0 && id->valuedouble < 1e15 &&
        (double)(long long)id->valuedouble == id->valuedouble) {
        char b[32];
        snprintf(b, sizeof(b), "%lld", (long long)id->valuedouble);
        cJSON *s = cJSON_CreateString(b);
        if (!s || !cJSON_ReplaceItemInObjectCaseSensitive(copy, "id", s)) {
            cJSON_Delete(s);
            cJSON_Delete(copy);
            return NULL;
        }
    }
    return copy;
}

int lc__walk_pusher_apps(struct lc__walk *x, const struct lc__key *k, const cJSON *v)
{
    lc_config_t *c = x->c;
    int rc = 0;
    lc_pusher_app_t *apps =
        lc__walk_new_array(x, v, sizeof(*apps), "app objects ({\"id\", \"key\", \"secret\"})", &rc);
    if (!apps)
        return rc;
    /* Install the new array at once: on a later error the config still owns everything. */
    free_apps(c);
    c->pusher_apps = apps;

    const cJSON *e;
    size_t i = 0;
    cJSON_ArrayForEach(e, v)
    {
        size_t mark = lc__walk_index(x, i);
        if (!cJSON_IsObject(e))
            return lc__walk_bad(x, "expected an object");
        app_init(&apps[i]);
        c->n_pusher_apps = i + 1;
        cJSON *entry = normalised_entry(e);
        if (!entry)
            return lc__walk_nomem(x);
        rc = lc__walk_object(x, k->sub, &apps[i], entry, LC__WALK_PLAIN);
        cJSON_Delete(entry);
        if (rc)
            return rc;
        lc__walk_restore(x, mark);
        i++;
    }
    return lc__walk_record(x);
}

/* Ids and keys appear in URL paths: /apps/{id}/events, /app/{key}. */
static bool ident_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 128)
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return false;
    }
    return true;
}

static int validate_app(const lc_config_t *c, size_t i, char *err, size_t errlen)
{
    const lc_pusher_app_t *a = &c->pusher_apps[i];
    if (!a->id[0])
        return lc__config_fail(err, errlen, "pusher.apps[%zu].id: required", i);
    if (!ident_ok(a->id))
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].id: expected 1 to 128 characters from "
                               "A-Z a-z 0-9 _ - .",
                               i);
    if (!a->key[0])
        return lc__config_fail(err, errlen, "pusher.apps[%zu].key: required (app \"%s\")", i,
                               a->id);
    if (!ident_ok(a->key))
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].key: expected 1 to 128 characters from "
                               "A-Z a-z 0-9 _ - .",
                               i);
    if (!a->secret[0])
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].secret: required (app \"%s\"): it signs channel "
                               "authorizations and HTTP API calls",
                               i, a->id);
    for (size_t j = 0; j < i; j++) {
        const lc_pusher_app_t *b = &c->pusher_apps[j];
        if (strcmp(a->id, b->id) == 0)
            return lc__config_fail(err, errlen,
                                   "pusher.apps[%zu].id: duplicate app id \"%s\" (also "
                                   "pusher.apps[%zu])",
                                   i, a->id, j);
        if (strcmp(a->key, b->key) == 0)
            return lc__config_fail(err, errlen,
                                   "pusher.apps[%zu].key: duplicate app key \"%s\" (also "
                                   "pusher.apps[%zu])",
                                   i, a->key, j);
        if (strcmp(a->channel_prefix, b->channel_prefix) == 0)
            return lc__config_fail(err, errlen,
                                   "pusher.apps[%zu].channel_prefix: \"%s\" is also the prefix "
                                   "of pusher.apps[%zu]; each app needs its own, or their "
                                   "channels would be shared",
                                   i, a->channel_prefix, j);
    }
    if (a->activity_timeout_ms < 1000)
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].activity_timeout: at least 1s (pusher-js drops "
                               "a connection told 0)",
                               i);
    if (strpbrk(a->channel_prefix, "*?[]\\ "))
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].channel_prefix: no spaces or glob characters "
                               "(* ? [ ] \\): the channel listing matches names by pattern",
                               i);
    size_t plen = strlen(a->channel_prefix);
    if ((int64_t)plen + a->max_channel_name_length > c->channel_max_length)
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].channel_prefix: with max_channel_name_length "
                               "%d the Lucent channel names would exceed channel.max_length %d",
                               i, a->max_channel_name_length, c->channel_max_length);
    /* The Pusher names of the app land in the namespace the prefix names, which must exist
     * (a channel rule may define it too). */
    char probe[300];
    snprintf(probe, sizeof(probe), "%s%s", a->channel_prefix, "x");
    lc_ns_opts_t scratch;
    if (!lc_config_resolve_channel(c, probe, strlen(probe), NULL, &scratch))
        return lc__config_fail(err, errlen,
                               "pusher.apps[%zu].channel_prefix: \"%s\" puts the app's channels "
                               "in a namespace that channel.namespaces does not define",
                               i, a->channel_prefix);
    return 0;
}

int lc__config_pusher_validate(const lc_config_t *c, char *err, size_t errlen)
{
    const char *p = c->pusher_prefix;
    if (p && p[0] && (p[0] != '/' || p[strlen(p) - 1] == '/' || strpbrk(p, "?#% ")))
        return lc__config_fail(err, errlen,
                               "pusher.handler_prefix: \"\" or a path starting with / and not "
                               "ending with / (e.g. \"/pusher\")");
    if (c->pusher_enabled && c->n_pusher_apps == 0)
        return lc__config_fail(err, errlen,
                               "pusher.enabled: needs at least one app in pusher.apps (id, key, "
                               "secret)");
    for (size_t i = 0; i < c->n_pusher_apps; i++) {
        int rc = validate_app(c, i, err, errlen);
        if (rc)
            return rc;
    }
    if (!c->pusher_enabled && c->n_pusher_apps > 0)
        lc_log_warn("config: pusher.apps lists %zu app(s) but pusher.enabled is false: the Pusher "
                    "endpoints are off",
                    c->n_pusher_apps);
    return 0;
}

static bool lookup_eq(const char *field, const char *s, size_t n)
{
    return strlen(field) == n && memcmp(field, s, n) == 0;
}

const lc_pusher_app_t *lc_config_pusher_app_by_id(const lc_config_t *c, const char *s, size_t n)
{
    for (size_t i = 0; i < c->n_pusher_apps; i++) {
        if (lookup_eq(c->pusher_apps[i].id, s, n))
            return &c->pusher_apps[i];
    }
    return NULL;
}

const lc_pusher_app_t *lc_config_pusher_app_by_key(const lc_config_t *c, const char *s, size_t n)
{
    for (size_t i = 0; i < c->n_pusher_apps; i++) {
        if (lookup_eq(c->pusher_apps[i].key, s, n))
            return &c->pusher_apps[i];
    }
    return NULL;
}

/* ---- checkconfig --print and --strict ---- */

static cJSON *dur(int64_t ms)
{
    char b[32];
    if (ms % 1000 == 0)
        snprintf(b, sizeof(b), "%llds", (long long)(ms / 1000));
    else
        snprintf(b, sizeof(b), "%lldms", (long long)ms);
    return cJSON_CreateString(b);
}

static cJSON *dump_app(const lc_pusher_app_t *a, bool show)
{
    static const char *const policy[] = {"members", "off", "all"};
    cJSON *o = cJSON_CreateObject();
    cJSON *origins = cJSON_CreateArray();
    if (!o || !origins) {
        cJSON_Delete(o);
        cJSON_Delete(origins);
        return NULL;
    }
    /* the key is public (every browser page holds it); only the secret is masked */
    cJSON_AddStringToObject(o, "id", a->id);
    cJSON_AddStringToObject(o, "key", a->key);
    cJSON_AddStringToObject(o, "secret", show || !a->secret[0] ? a->secret : "***");
    cJSON_AddBoolToObject(o, "enabled", a->enabled);
    for (size_t i = 0; i < a->n_allowed_origins; i++)
        cJSON_AddItemToArray(origins, cJSON_CreateString(a->allowed_origins[i]));
    cJSON_AddItemToObject(o, "allowed_origins", origins);
    cJSON_AddStringToObject(o, "client_events", policy[a->client_events % 3]);
    cJSON_AddStringToObject(o, "channel_prefix", a->channel_prefix);
    cJSON_AddItemToObject(o, "activity_timeout", dur(a->activity_timeout_ms));
    cJSON_AddNumberToObject(o, "max_connections", a->max_connections);
    cJSON_AddNumberToObject(o, "max_presence_members", a->max_presence_members);
    cJSON_AddNumberToObject(o, "max_user_info_size", a->max_user_info_size);
    cJSON_AddNumberToObject(o, "max_user_id_length", a->max_user_id_length);
    cJSON_AddNumberToObject(o, "max_channel_name_length", a->max_channel_name_length);
    cJSON_AddNumberToObject(o, "max_event_name_length", a->max_event_name_length);
    cJSON_AddNumberToObject(o, "max_event_data_size", a->max_event_data_size);
    cJSON_AddNumberToObject(o, "max_batch_size", a->max_batch_size);
    cJSON_AddNumberToObject(o, "max_channels_per_event", a->max_channels_per_event);
    cJSON_AddNumberToObject(o, "max_client_events_per_second", a->max_client_events_per_second);
    cJSON_AddItemToObject(o, "timestamp_window", dur(a->timestamp_window_ms));
    return o;
}

cJSON *lc__config_pusher_dump(const lc_config_t *c, bool show)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < c->n_pusher_apps; i++) {
        cJSON *o = dump_app(&c->pusher_apps[i], show);
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

void lc__config_pusher_secrets(const lc_config_t *c,
                               void (*fn)(const char *path, const char *value, void *arg),
                               void *arg)
{
    for (size_t i = 0; i < c->n_pusher_apps; i++) {
        char path[64];
        snprintf(path, sizeof(path), "pusher.apps[%zu].secret", i);
        fn(path, c->pusher_apps[i].secret, arg);
    }
}
