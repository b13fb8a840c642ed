/* What a map publish / remove proxy's result (or a Lua publish hook's) changes in a client's
 * map write. The proxy is the trust boundary of client writes: its key replaces the one the
 * client sent (or map.client_key made), its tags are the only way tags reach a client write. */
#include "core/map_result.h"

#include <string.h>

const char *lc__map_result_apply(const lc_map_result_t *m, const lc_ns_map_t *mo, bool remove,
                                 lc_map_write_req_t *req)
{
    if (m->key && m->key[0]) { /* "" keeps the key, as the reference reads an empty string */
        size_t n = strlen(m->key);
        if (n > (size_t)mo->max_key_length)
            return "has a key longer than map.max_key_length";
        req->key = m->key;
        req->keylen = n;
    }
    if (m->idempotency_key && strlen(m->idempotency_key) > LC_MAP_IDEM_KEY_MAX)
        return "has an idempotency_key longer than 256 bytes";
    req->idempotency_key = m->idempotency_key;
    if (m->tags)
        req->pub.tags = (lc_raw_t){m->tags, m->tags_len};
    if (remove)
        return NULL;
    if (m->version_epoch && strlen(m->version_epoch) > LC_MAP_IDEM_KEY_MAX)
        return "has a version_epoch longer than 256 bytes";
    /* as in Centrifugo: versions need the change stream an ephemeral map does not keep */
    if (m->version > 0 && mo->mode == LC_MAP_MODE_EPHEMERAL)
        return "has a version, which needs map.mode durable or persistent";
    req->version = m->version;
    req->version_epoch = m->version_epoch;
    if (m->has_score)
        req->pub.score = m->score;
    if (m->key_mode && strcmp(m->key_mode, "if_new") == 0)
        req->key_mode = LC_MAP_KEY_IF_NEW;
    else if (m->key_mode && strcmp(m->key_mode, "if_exists") == 0)
        req->key_mode = LC_MAP_KEY_IF_EXISTS;
    if (m->stream_data)
        req->stream_data = (lc_raw_t){m->stream_data, m->stream_data_len};
    return NULL;
}
