/* Pusher Channels protocol 7: events in and out, and the Lucent push ↔ Pusher event mapping
 * (proto/pusher.h). Incoming text is checked by the strict validator first (json_check.h),
 * then read with cJSON; raw values (`data`) are handed out as the exact bytes received. */
#include "proto/pusher.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "proto/codes.h"
#include "proto/json_check.h"
#include "util/err.h"

#define LIT(b, s) lc_buf_append((b), (s), sizeof(s) - 1)

uint32_t lc_pusher_close_code(uint32_t code)
{
    if (code >= 4000 && code <= 4999)
        return code;
    switch (code) {
    case LC_DISCONNECT_SLOW:
    case LC_DISCONNECT_CONNECTION_LIMIT:
    case LC_DISCONNECT_CHANNEL_LIMIT:
        return LC_PUSHER_OVER_CAPACITY;
    case LC_DISCONNECT_NO_PONG:
    case LC_DISCONNECT_STALE:
        return LC_PUSHER_NO_PONG;
    case LC_DISCONNECT_TOO_MANY_REQUESTS:
    case LC_DISCONNECT_TOO_MANY_ERRORS:
        return LC_PUSHER_CLIENT_EVENT_REJECTED;
    default:
        return code >= 3500 && code <= 3999 ? LC_PUSHER_UNAUTHORIZED : LC_PUSHER_RECONNECT;
    }
}

/* --- channel names ------------------------------------------------------------------------- */

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '=' || c == '@' || c == ',' || c == '.' || c == ';';
}

bool lc_pusher_channel_valid(const char *name, size_t len, size_t max_len)
{
    if (len == 0 || len > max_len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!name_char((unsigned char)name[i]))
            return false;
    return true;
}

static bool starts(const char *s, size_t len, const char *prefix)
{
    size_t pl = strlen(prefix);
    return len >= pl && memcmp(s, prefix, pl) == 0;
}

lc_pusher_chan_t lc_pusher_channel_kind(const char *name, size_t len)
{
    if (starts(name, len, "private-encrypted-"))
        return LC_PUSHER_ENCRYPTED;
    if (starts(name, len, "private-"))
        return LC_PUSHER_PRIVATE;
    if (starts(name, len, "presence-"))
        return LC_PUSHER_PRESENCE;
    return LC_PUSHER_PUBLIC;
}

const char *lc_pusher_name_of(const char *ch, size_t len, const char *prefix, size_t *out_len)
{
    size_t pl = prefix ? strlen(prefix) : 0;
    if (len <= pl || (pl && memcmp(ch, prefix, pl) != 0))
        return NULL;
    *out_len = len - pl;
    return ch + pl;
}

/* The content of a JSON string token (NUL-terminated, owned), NULL if it is not one. */
static char *string_of(const char *tok, size_t n)
{
    if (n < 2 || tok[0] != '"')
        return NULL;
    cJSON *v = cJSON_ParseWithLength(tok, n);
    char *s = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    cJSON_Delete(v);
    return s;
}

/* --- decoding ------------------------------------------------------------------------------ */

static int dup_str(const cJSON *it, char **out)
{
    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it))
        return LC_EPARSE;
    *out = strdup(it->valuestring);
    return *out ? 0 : LC_ENOMEM;
}

/* The subscribe / unsubscribe fields from `data`, an object or a string holding one. */
static int decode_sub_data(const cJSON *data, lc_cmd_t *cmd, bool subscribe)
{
    cJSON *own = NULL;
    const cJSON *obj = data;
    int rc = LC_EPARSE;
    if (cJSON_IsString(data)) {
        const char *s = data->valuestring;
        size_t n = strlen(s);
        lc_json_check_t chk;
        if (!lc_json_check_object(s, n, &chk) || chk.nul)
            return LC_EPARSE;
        obj = own = cJSON_ParseWithLength(s, n);
        if (!own)
            return LC_ENOMEM;
    }
    if (!cJSON_IsObject(obj))
        goto done;
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(obj, "channel");
    if (!cJSON_IsString(ch))
        goto done;
    if ((rc = dup_str(ch, &cmd->channel)) < 0)
        goto done;
    if (subscribe) {
        if ((rc = dup_str(cJSON_GetObjectItemCaseSensitive(obj, "auth"), &cmd->token)) < 0)
            goto done;
        rc = dup_str(cJSON_GetObjectItemCaseSensitive(obj, "channel_data"), &cmd->channel_data);
    }
done:
    cJSON_Delete(own);
    return rc;
}

int lc_pusher_decode(const char *msg, size_t len, lc_cmd_t *cmd)
{
    static const char *const data_path[] = {"data"};
    static const char *const data_only[] = {"data", NULL};
    cJSON *root = NULL;
    int rc = LC_ENOMEM;
    memset(cmd, 0, sizeof(*cmd));
    /* the raw values handed out point into this copy */
    cmd->storage_ = malloc(len + 1);
    if (!cmd->storage_)
        goto fail;
    memcpy(cmd->storage_, msg, len);
    cmd->storage_[len] = '\0';
    const char *text = cmd->storage_;

    rc = LC_EPARSE;
    lc_json_check_t chk;
    if (!lc_json_check_object(text, len, &chk))
        goto fail;
    /* names and ids are C strings: a \u0000 would cut them short */
    if (chk.nul && lc_json_nul_outside(text, len, 1, data_only))
        goto fail;
    root = cJSON_ParseWithLength(text, len);
    if (!root) {
        rc = LC_ENOMEM;
        goto fail;
    }
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
    if (!cJSON_IsString(ev))
        goto fail;
    if ((rc = dup_str(cJSON_GetObjectItemCaseSensitive(root, "channel"), &cmd->channel)) < 0)
        goto fail;
    rc = LC_EPARSE;
    if (lc_json_raw_find(text, len, data_path, 1, &cmd->data) < 0)
        goto fail;
    const char *e = ev->valuestring;
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
    /* only a client event's data may carry \u0000 (relayed, never made a C string) */
    if (chk.nul && strncmp(e, "client-", 7) != 0)
        goto fail;
    if (strcmp(e, "pusher:subscribe") == 0 || strcmp(e, "pusher:unsubscribe") == 0) {
        bool sub = e[7] == 's';
        cmd->type = sub ? LC_CMD_PUSHER_SUBSCRIBE : LC_CMD_PUSHER_UNSUBSCRIBE;
        free(cmd->channel); /* the channel is the one inside data */
        cmd->channel = NULL;
        if ((rc = decode_sub_data(data, cmd, sub)) < 0)
            goto fail;
    } else if (strcmp(e, "pusher:ping") == 0) {
        cmd->type = LC_CMD_PUSHER_PING;
    } else if (strcmp(e, "pusher:pong") == 0) {
        cmd->type = LC_CMD_PUSHER_PONG;
    } else {
        cmd->type = strncmp(e, "client-", 7) == 0 ? LC_CMD_PUSHER_CLIENT : LC_CMD_PUSHER_OTHER;
        if (!(cmd->name = strdup(e))) {
            rc = LC_ENOMEM;
            goto fail;
        }
    }
    cJSON_Delete(root);
    return 1;
fail:
    cJSON_Delete(root);
    lc_cmd_free(cmd);
    return rc;
}

const char *lc_pusher_member(const char *cd, size_t max_id, size_t max_info, char **user,
                             lc_raw_t *info, int *status)
{
    static const char *const id_path[] = {"user_id"};
    static const char *const info_path[] = {"user_info"};
    size_t n = cd ? strlen(cd) : 0;
    lc_raw_t id = {0};
    *user = NULL;
    memset(info, 0, sizeof(*info));
    *status = 4302;
    if (!cd || !lc_json_check_object(cd, n, NULL))
        return "channel_data must be a JSON object";
    if (lc_json_raw_find(cd, n, id_path, 1, &id) <= 0)
        return "channel_data has no user_id";
    lc_json_raw_find(cd, n, info_path, 1, info);
    if (id.p[0] == '"') {
        /* the string's text, decoded (PHP writes "\/" for "/"); no NUL inside */
        lc_json_check_t chk;
        if (lc_json_check(id.p, id.len, &chk) && !chk.nul)
            *user = string_of(id.p, id.len);
    } else if ((id.p[0] >= '0' && id.p[0] <= '9') || id.p[0] == '-') {
        *user = strndup(id.p, id.len); /* 1 and "1" are one user */
    }
    if (!*user)
        return "user_id must be a string or a number";
    *status = 4301;
    if (!**user || strlen(*user) > max_id)
        return "user_id empty or too long";
    if (info->p && info->len > max_info)
        return "user_info too big";
    return NULL;
}

/* --- events out ---------------------------------------------------------------------------- */

/* `{"event":"<name>"` plus `,"channel":<ch>` when ch is set. */
static int open_event(lc_buf_t *b, const char *name, const char *ch)
{
    int rc = LIT(b, "{\"event\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(b, name, strlen(name));
    if (rc == 0 && ch) {
        rc = LIT(b, ",\"channel\":");
        if (rc == 0)
            rc = lc_buf_append_json_str(b, ch, strlen(ch));
    }
    return rc;
}

/* `,"data":<the string of inner>}` */
static int close_string_data(lc_buf_t *b, const char *inner, size_t n)
{
    int rc = LIT(b, ",\"data\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(b, inner, n);
    if (rc == 0)
        rc = lc_buf_putc(b, '}');
    return rc;
}

static int rollback(lc_buf_t *b, size_t start, int rc)
{
    b->len = start;
    return rc;
}

int lc_pusher_connection_established(lc_buf_t *b, const char *socket_id, int activity_timeout_s)
{
    size_t start = b->len;
    lc_buf_t in = LC_BUF_INIT;
    int rc = LIT(&in, "{\"socket_id\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(&in, socket_id, strlen(socket_id));
    if (rc == 0)
        rc = lc_buf_printf(&in, ",\"activity_timeout\":%d}", activity_timeout_s);
    if (rc == 0)
        rc = open_event(b, "pusher:connection_established", NULL);
    if (rc == 0)
        rc = close_string_data(b, in.data, in.len);
    lc_buf_free(&in);
    return rc < 0 ? rollback(b, start, rc) : 0;
}

int lc_pusher_error(lc_buf_t *b, uint32_t code, const char *msg)
{
    size_t start = b->len;
    lc_buf_t in = LC_BUF_INIT;
    int rc = code ? lc_buf_printf(&in, "{\"code\":%u,\"message\":", (unsigned)code)
                  : LIT(&in, "{\"code\":null,\"message\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(&in, msg, strlen(msg));
    if (rc == 0)
        rc = lc_buf_putc(&in, '}');
    if (rc == 0)
        rc = open_event(b, "pusher:error", NULL);
    if (rc == 0)
        rc = close_string_data(b, in.data, in.len);
    lc_buf_free(&in);
    return rc < 0 ? rollback(b, start, rc) : 0;
}

int lc_pusher_subscription_error(lc_buf_t *b, const char *channel, const char *type,
                                 const char *msg, int status)
{
    size_t start = b->len;
    int rc = open_event(b, "pusher:subscription_error", channel);
    if (rc == 0)
        rc = LIT(b, ",\"data\":{\"type\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(b, type, strlen(type));
    if (rc == 0)
        rc = LIT(b, ",\"error\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(b, msg, strlen(msg));
    if (rc == 0)
        rc = lc_buf_printf(b, ",\"status\":%d}}", status);
    return rc < 0 ? rollback(b, start, rc) : 0;
}

int lc_pusher_subscription_succeeded(lc_buf_t *b, const char *channel, const char *presence,
                                     size_t presence_len)
{
    size_t start = b->len;
    int rc = open_event(b, "pusher_internal:subscription_succeeded", channel);
    if (rc == 0)
        rc =
            presence ? close_string_data(b, presence, presence_len) : close_string_data(b, "{}", 2);
    return rc < 0 ? rollback(b, start, rc) : 0;
}

int lc_pusher_ping(lc_buf_t *b, bool pong)
{
    return pong ? LIT(b, "{\"event\":\"pusher:pong\",\"data\":\"{}\"}")
                : LIT(b, "{\"event\":\"pusher:ping\",\"data\":\"{}\"}");
}

/* --- presence members ---------------------------------------------------------------------- */

int lc_pusher_members_add(lc_pusher_members_t *m, const char *user_id, const char *info,
                          size_t info_len)
{
    int rc = 0;
    if (m->count > 0) {
        rc = lc_buf_putc(&m->ids, ',');
        if (rc == 0)
            rc = lc_buf_putc(&m->hash, ',');
    }
    if (rc == 0)
        rc = lc_buf_append_json_str(&m->ids, user_id, strlen(user_id));
    if (rc == 0)
        rc = lc_buf_append_json_str(&m->hash, user_id, strlen(user_id));
    if (rc == 0)
        rc = lc_buf_putc(&m->hash, ':');
    if (rc == 0)
        rc = info && info_len ? lc_buf_append(&m->hash, info, info_len) : LIT(&m->hash, "null");
    if (rc == 0)
        m->count++;
    return rc;
}

int lc_pusher_members_end(lc_pusher_members_t *m, lc_buf_t *out)
{
    int rc = LIT(out, "{\"presence\":{\"ids\":[");
    if (rc == 0 && m->ids.len)
        rc = lc_buf_append(out, m->ids.data, m->ids.len);
    if (rc == 0)
        rc = LIT(out, "],\"hash\":{");
    if (rc == 0 && m->hash.len)
        rc = lc_buf_append(out, m->hash.data, m->hash.len);
    if (rc == 0)
        rc = lc_buf_printf(out, "},\"count\":%zu}}", m->count);
    lc_pusher_members_free(m);
    return rc;
}

void lc_pusher_members_free(lc_pusher_members_t *m)
{
    lc_buf_free(&m->ids);
    lc_buf_free(&m->hash);
    m->count = 0;
}

/* --- publications -------------------------------------------------------------------------- */

static bool raw_is(const lc_raw_t *r, const char *tok)
{
    return r->p && r->len == strlen(tok) && memcmp(r->p, tok, r->len) == 0;
}

/* `{"event":"pusher_internal:member_…","channel":…,"data":"{\"user_id\":…}"}` */
static int member_event(lc_buf_t *out, bool join, const char *name, size_t nlen, const char *push,
                        size_t len, const char *const *info_path)
{
    const char *user_path[4] = {info_path[0], info_path[1], info_path[2], "user"};
    const char *ci_path[4] = {info_path[0], info_path[1], info_path[2], "chan_info"};
    lc_raw_t user = {0}, ci = {0};
    if (lc_json_raw_find(push, len, user_path, 4, &user) <= 0 || raw_is(&user, "\"\""))
        return 0; /* an anonymous Centrifugo client is no member */
    lc_json_raw_find(push, len, ci_path, 4, &ci);
    lc_buf_t in = LC_BUF_INIT;
    int rc = LIT(&in, "{\"user_id\":");
    if (rc == 0)
        rc = lc_buf_append(&in, user.p, user.len);
    if (rc == 0 && join) {
        rc = LIT(&in, ",\"user_info\":");
        if (rc == 0)
            rc = ci.p ? lc_buf_append(&in, ci.p, ci.len) : LIT(&in, "null");
    }
    if (rc == 0)
        rc = lc_buf_putc(&in, '}');
    if (rc == 0 && join)
        rc = LIT(out, "{\"event\":\"pusher_internal:member_added\",\"channel\":");
    else if (rc == 0)
        rc = LIT(out, "{\"event\":\"pusher_internal:member_removed\",\"channel\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(out, name, nlen);
    if (rc == 0)
        rc = close_string_data(out, in.data, in.len);
    lc_buf_free(&in);
    return rc < 0 ? rc : 1;
}

int lc_pusher_from_push(const char *push, size_t len, const char *prefix, lc_buf_t *out)
{
    static const char *const ch_path[] = {"push", "channel"};
    static const char *const pub_path[] = {"push", "pub"};
    static const char *const data_path[] = {"push", "pub", "data"};
    static const char *const event_path[] = {"push", "pub", "tags", "event"};
    static const char *const user_path[] = {"push", "pub", "info", "user"};
    static const char *const join_path[] = {"push", "join", "info"};
    static const char *const leave_path[] = {"push", "leave", "info"};
    lc_raw_t chtok, r;
    if (lc_json_raw_find(push, len, ch_path, 2, &chtok) <= 0)
        return 0; /* connection-level pushes have no Pusher form */
    char *ch = string_of(chtok.p, chtok.len);
    if (!ch)
        return LC_EPARSE;
    size_t nlen;
    const char *name = lc_pusher_name_of(ch, strlen(ch), prefix, &nlen);
    if (!name) {
        free(ch);
        return 0;
    }
    bool presence = lc_pusher_channel_kind(name, nlen) == LC_PUSHER_PRESENCE;
    size_t start = out->len;
    int rc = 0;
    if (lc_json_raw_find(push, len, pub_path, 2, &r) <= 0) {
        if (!presence)
            rc = 0;
        else if (lc_json_raw_find(push, len, join_path, 3, &r) > 0)
            rc = member_event(out, true, name, nlen, push, len, join_path);
        else if (lc_json_raw_find(push, len, leave_path, 3, &r) > 0)
            rc = member_event(out, false, name, nlen, push, len, leave_path);
        goto done;
    }
    lc_raw_t data = {0}, ev = {0}, user = {0};
    lc_json_raw_find(push, len, data_path, 3, &data);
    lc_json_raw_find(push, len, event_path, 4, &ev);
    char *evname = ev.p ? string_of(ev.p, ev.len) : NULL;
    bool client = evname && strncmp(evname, "client-", 7) == 0;
    free(evname);
    rc = LIT(out, "{\"event\":");
    if (rc == 0)
        rc = ev.p ? lc_buf_append(out, ev.p, ev.len) : LIT(out, "\"message\"");
    if (rc == 0)
        rc = LIT(out, ",\"channel\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(out, name, nlen);
    if (rc == 0)
        rc = LIT(out, ",\"data\":");
    if (rc == 0) {
        if (!data.p)
            rc = LIT(out, "\"\"");
        else if (client || data.p[0] == '"')
            rc = lc_buf_append(out, data.p, data.len); /* verbatim */
        else
            rc = lc_buf_append_json_str(out, data.p, data.len);
    }
    /* presence channels name the sender of a client event */
    if (rc == 0 && presence && client && lc_json_raw_find(push, len, user_path, 4, &user) > 0 &&
        !raw_is(&user, "\"\"")) {
        rc = LIT(out, ",\"user_id\":");
        if (rc == 0)
            rc = lc_buf_append(out, user.p, user.len);
    }
    if (rc == 0)
        rc = lc_buf_putc(out, '}');
    if (rc == 0)
        rc = 1;
done:
    free(ch);
    if (rc < 0)
        out->len = start;
    return rc;
}

bool lc_pusher_push_is_user_event(const char *push, size_t len, const char *user)
{
    /* Lucent's own layout (proto/encode.c): {"push":{"channel":"…","join":{"info":{"user":"…" */
    static const char head[] = "{\"push\":{\"channel\":";
    static const char join[] = ",\"join\":{\"info\":{\"user\":";
    static const char leave[] = ",\"leave\":{\"info\":{\"user\":";
    const char *p = push, *end = push + len;
    if (!user || !user[0] || len < sizeof(head) || memcmp(p, head, sizeof(head) - 1) != 0)
        return false;
    p = lc_json_skip_string(p + sizeof(head) - 1, end);
    if (!p)
        return false;
    if ((size_t)(end - p) > sizeof(join) && memcmp(p, join, sizeof(join) - 1) == 0)
        p += sizeof(join) - 1;
    else if ((size_t)(end - p) > sizeof(leave) && memcmp(p, leave, sizeof(leave) - 1) == 0)
        p += sizeof(leave) - 1;
    else
        return false;
    const char *q = lc_json_skip_string(p, end);
    if (!q)
        return false;
    char *u = string_of(p, (size_t)(q - p));
    bool same = u && strcmp(u, user) == 0;
    free(u);
    return same;
}

int lc_pusher_data_to_pub(const char *raw, size_t len, lc_buf_t *out)
{
    lc_json_check_t chk;
    if (!lc_json_check(raw, len, &chk))
        return LC_EPARSE;
    /* a string that holds \u0000 stays a string: its content is no C string */
    char *s = raw[0] == '"' && !chk.nul ? string_of(raw, len) : NULL;
    if (s) {
        size_t n = strlen(s);
        /* Whitespace around the JSON, raw newlines (the JSON protocol's framing drops them,
         * codec.h), a JSON string and null would not come back as the same string: those stay
         * strings. */
        bool ws = n > 0 && (strchr(" \t\r\n", s[0]) || strchr(" \t\r\n", s[n - 1]));
        if (n > 0 && !ws && s[0] != '"' && strcmp(s, "null") != 0 && !memchr(s, '\n', n) &&
            lc_json_check(s, n, NULL)) {
            int rc = lc_buf_append(out, s, n);
            free(s);
            return rc;
        }
        free(s);
    }
    return lc_buf_append(out, raw, len);
}

int lc_pusher_event_tags(lc_buf_t *out, const char *name)
{
    int rc = LIT(out, "{\"event\":");
    if (rc == 0)
        rc = lc_buf_append_json_str(out, name, strlen(name));
    if (rc == 0)
        rc = lc_buf_putc(out, '}');
    return rc;
}
