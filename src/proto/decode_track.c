/* The shared poll part of a sub_refresh command (Centrifugo v6.8, centrifuge-js
 * SharedPollSubscription): `type` 1 = track, 2 = untrack, `track` = batches of items signed
 * together ({signature, items: [{key, version}]}), `untrack` = keys. The shapes are checked
 * here (a wrong type is a malformed command); what the values mean is core's business. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/pb_internal.h"
#include "util/err.h"

/* Bounds on what one command may carry: far above what the SDK sends in a frame (it splits
 * requests at ~60 KB), low enough that a hostile command cannot make us allocate much. */
#define MAX_BATCHES 1024
#define MAX_ITEMS 100000

void lc__track_free(lc_cmd_t *cmd)
{
    for (size_t i = 0; i < cmd->n_track; i++) {
        lc_cmd_track_t *t = &cmd->track[i];
        free(t->signature);
        for (size_t j = 0; j < t->n_items; j++)
            free(t->items[j].key);
        free(t->items);
    }
    free(cmd->track);
    for (size_t i = 0; i < cmd->n_untrack; i++)
        free(cmd->untrack[i]);
    free(cmd->untrack);
    free(cmd->track_json);
    cmd->track_json = NULL;
    cmd->track = NULL;
    cmd->untrack = NULL;
    cmd->n_track = cmd->n_untrack = 0;
}

static int dup(const char *s, char **out)
{
    *out = strdup(s ? s : "");
    return *out ? 0 : LC_ENOMEM;
}

/* A version: a non-negative integer (a JSON number, or a string of digits as protobuf's JSON
 * mapping writes 64-bit integers). Numbers past 2^53 lose precision in a double; a string
 * keeps them exact. */
static int json_version(const cJSON *v, uint64_t *out)
{
    *out = 0;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (!(d >= 0) || d >= 18446744073709551616.0 || d != (double)(uint64_t)d)
            return LC_EPARSE;
        *out = (uint64_t)d;
        return 0;
    }
    if (cJSON_IsString(v) && v->valuestring[0]) {
        uint64_t x = 0;
        for (const char *p = v->valuestring; *p; p++) {
            if (*p < '0' || *p > '9' || x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                return LC_EPARSE;
            x = x * 10 + (uint64_t)(*p - '0');
        }
        *out = x;
        return 0;
    }
    return LC_EPARSE;
}

static int json_batch(const cJSON *b, lc_cmd_track_t *t)
{
    if (!cJSON_IsObject(b))
        return LC_EPARSE;
    const cJSON *sig = cJSON_GetObjectItemCaseSensitive(b, "signature");
    if (sig && !cJSON_IsNull(sig) && !cJSON_IsString(sig))
        return LC_EPARSE;
    if (dup(cJSON_IsString(sig) ? sig->valuestring : "", &t->signature))
        return LC_ENOMEM;
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(b, "items");
    if (!items || cJSON_IsNull(items))
        return 0;
    if (!cJSON_IsArray(items))
        return LC_EPARSE;
    int n = cJSON_GetArraySize(items);
    if (n > MAX_ITEMS)
        return LC_EPARSE;
    if (n == 0)
        return 0;
    t->items = calloc((size_t)n, sizeof(*t->items));
    if (!t->items)
        return LC_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, items)
    {
        if (!cJSON_IsObject(it))
            return LC_EPARSE;
        const cJSON *key = cJSON_GetObjectItemCaseSensitive(it, "key");
        if (key && !cJSON_IsNull(key) && !cJSON_IsString(key))
            return LC_EPARSE;
        lc_cmd_item_t *e = &t->items[t->n_items];
        if (json_version(cJSON_GetObjectItemCaseSensitive(it, "version"), &e->version))
            return LC_EPARSE;
        if (dup(cJSON_IsString(key) ? key->valuestring : "", &e->key))
            return LC_ENOMEM;
        t->n_items++;
    }
    return 0;
}

int lc__decode_track_json(const cJSON *req, lc_cmd_t *cmd)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(req, "type");
    if (type && !cJSON_IsNull(type)) {
        double d = cJSON_IsNumber(type) ? type->valuedouble : -1;
        if (!(d >= 0) || d > 1000 || d != (double)(int32_t)d)
            return LC_EPARSE;
        cmd->refresh_type = (int32_t)d;
    }
    const cJSON *track = cJSON_GetObjectItemCaseSensitive(req, "track");
    if (track && !cJSON_IsNull(track)) {
        if (!cJSON_IsArray(track))
            return LC_EPARSE;
        int n = cJSON_GetArraySize(track);
        if (n > MAX_BATCHES)
            return LC_EPARSE;
        if (n > 0 && !(cmd->track = calloc((size_t)n, sizeof(*cmd->track))))
            return LC_ENOMEM;
        const cJSON *b;
        cJSON_ArrayForEach(b, track)
        {
            int rc = json_batch(b, &cmd->track[cmd->n_track++]);
            if (rc)
                return rc;
        }
    }
    const cJSON *untrack = cJSON_GetObjectItemCaseSensitive(req, "untrack");
    if (untrack && !cJSON_IsNull(untrack)) {
        if (!cJSON_IsArray(untrack))
            return LC_EPARSE;
        int n = cJSON_GetArraySize(untrack);
        if (n > MAX_ITEMS)
            return LC_EPARSE;
        if (n > 0 && !(cmd->untrack = calloc((size_t)n, sizeof(char *))))
            return LC_ENOMEM;
        const cJSON *k;
        cJSON_ArrayForEach(k, untrack)
        {
            if (!cJSON_IsString(k))
                return LC_EPARSE;
            if (dup(k->valuestring, &cmd->untrack[cmd->n_untrack]))
                return LC_ENOMEM;
            cmd->n_untrack++;
        }
    }
    return 0;
}

int lc__decode_track_pb(const Lcpb__SubRefreshRequest *m, lc_cmd_t *cmd)
{
    if (m->type < 0 || m->n_track > MAX_BATCHES || m->n_untrack > MAX_ITEMS)
        return LC_EPARSE;
    cmd->refresh_type = m->type;
    if (m->n_track && !(cmd->track = calloc(m->n_track, sizeof(*cmd->track))))
        return LC_ENOMEM;
    for (size_t i = 0; i < m->n_track; i++) {
        const Lcpb__TrackBatch *b = m->track[i];
        lc_cmd_track_t *t = &cmd->track[cmd->n_track++];
        if (dup(b->signature, &t->signature))
            return LC_ENOMEM;
        if (b->n_items > MAX_ITEMS)
            return LC_EPARSE;
        if (b->n_items && !(t->items = calloc(b->n_items, sizeof(*t->items))))
            return LC_ENOMEM;
        for (size_t j = 0; j < b->n_items; j++) {
            lc_cmd_item_t *e = &t->items[t->n_items];
            e->version = b->items[j]->version;
            if (dup(b->items[j]->key, &e->key))
                return LC_ENOMEM;
            t->n_items++;
        }
    }
    if (m->n_untrack && !(cmd->untrack = calloc(m->n_untrack, sizeof(char *))))
        return LC_ENOMEM;
    for (size_t i = 0; i < m->n_untrack; i++) {
        if (dup(m->untrack[i], &cmd->untrack[cmd->n_untrack]))
            return LC_ENOMEM;
        cmd->n_untrack++;
    }
    return 0;
}
