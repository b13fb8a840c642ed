/* Protobuf Replies out: the JSON form of a Reply (as proto/encode.c and the engine write it)
 * turned into the Protobuf message by walking both together. JSON member names are the field
 * names of client.proto, so protobuf-c's descriptors drive the walk: one routine serves every
 * reply and push, including publications read back from history. `bytes` fields take the raw
 * JSON text of their member unchanged.
 *
 * The input is our own encoder's output, valid JSON; the walk still checks every step and
 * fails with LC_EPARSE instead of trusting it. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "proto/pb.h"
#include "proto/json_check.h"
#include "proto/pb_internal.h"
#include "util/err.h"

/* Nesting deeper than any Reply has (Reply → ConnectResult → subs → SubscribeResult →
 * Publication → ClientInfo). */
#define MAX_DEPTH 12

typedef struct walk {
    lc__pb_arena_t a;
} walk_t;

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

/* The end of the JSON value at p, or NULL when it does not end before `end`. */
static const char *skip_value(const char *p, const char *end)
{
    size_t depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = lc_json_skip_string(p, end);
            if (!p)
                return NULL;
            if (depth == 0)
                return p;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return p; /* the end of a scalar that closes its container */
            if (--depth == 0)
                return p + 1;
        } else if (depth == 0 &&
                   (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
            return p;
        }
        p++;
    }
    return depth == 0 ? p : NULL;
}

/* Iterate the members of the object at *pp ('{' on the first call). Returns 1 with the key
 * span (quotes included) and the value span, 0 after the last member, LC_EPARSE. */
typedef struct member {
    const char *ks, *ke, *vs, *ve;
} member_t;

static int next_member(const char **pp, const char *end, bool first, member_t *m)
{
    const char *p = skip_ws(*pp, end);
    if (first) {
        if (p >= end || *p != '{')
            return LC_EPARSE;
        p = skip_ws(p + 1, end);
        if (p < end && *p == '}') {
            *pp = p + 1;
            return 0;
        }
    } else {
        if (p < end && *p == '}') {
            *pp = p + 1;
            return 0;
        }
        if (p >= end || *p != ',')
            return LC_EPARSE;
        p = skip_ws(p + 1, end);
    }
    if (p >= end || *p != '"')
        return LC_EPARSE;
    m->ks = p;
    m->ke = lc_json_skip_string(p, end);
    if (!m->ke)
        return LC_EPARSE;
    p = skip_ws(m->ke, end);
    if (p >= end || *p != ':')
        return LC_EPARSE;
    m->vs = skip_ws(p + 1, end);
    m->ve = skip_value(m->vs, end);
    if (!m->ve || m->ve == m->vs)
        return LC_EPARSE;
    *pp = m->ve;
    return 1;
}

/* A JSON string's decoded text in the arena (NUL-terminated), or NULL. */
static char *json_string(walk_t *w, const char *s, const char *e)
{
    if (e - s < 2 || *s != '"')
        return NULL;
    size_t n = (size_t)(e - s) - 2;
    if (!memchr(s + 1, '\\', n)) {
        char *r = lc__pb_arena_alloc(&w->a, n + 1);
        if (r) {
            memcpy(r, s + 1, n);
            r[n] = '\0';
        }
        return r;
    }
    cJSON *j = cJSON_ParseWithLength(s, (size_t)(e - s));
    char *r = NULL;
    if (cJSON_IsString(j)) {
        size_t l = strlen(j->valuestring);
        r = lc__pb_arena_alloc(&w->a, l + 1);
        if (r)
            memcpy(r, j->valuestring, l + 1);
    }
    cJSON_Delete(j);
    return r;
}

static int json_int(const char *s, const char *e, bool is_signed, uint64_t *u, int64_t *i)
{
    char tmp[32];
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= sizeof(tmp))
        return LC_EPARSE;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *stop;
    if (is_signed)
        *i = strtoll(tmp, &stop, 10);
    else
        *u = strtoull(tmp, &stop, 10);
    if (*stop != '\0' || (!is_signed && tmp[0] == '-'))
        return LC_EPARSE;
    return 0;
}

static int fill_message(walk_t *w, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
                        const char *p, const char *end, int depth);

/* One scalar or message value of field f from the JSON span [s, e) into the storage at dst. */
static int set_value(walk_t *w, const ProtobufCFieldDescriptor *f, void *dst, const char *s,
                     const char *e, int depth)
{
    uint64_t u = 0;
    int64_t i = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (e - s == 4 && memcmp(s, "true", 4) == 0)
            *(protobuf_c_boolean *)dst = 1;
        else if (e - s == 5 && memcmp(s, "false", 5) == 0)
            *(protobuf_c_boolean *)dst = 0;
        else
            return LC_EPARSE;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (json_int(s, e, false, &u, &i) < 0 || u > UINT32_MAX)
            return LC_EPARSE;
        *(uint32_t *)dst = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (json_int(s, e, false, &u, &i) < 0)
            return LC_EPARSE;
        *(uint64_t *)dst = u;
        return 0;
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        if (json_int(s, e, true, &u, &i) < 0 || i < INT32_MIN || i > INT32_MAX)
            return LC_EPARSE;
        *(int32_t *)dst = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (json_int(s, e, true, &u, &i) < 0)
            return LC_EPARSE;
        *(int64_t *)dst = i;
        return 0;
    case PROTOBUF_C_TYPE_STRING: {
        char *str = json_string(w, s, e);
        if (!str)
            return LC_EPARSE;
        *(char **)dst = str;
        return 0;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        /* the application payload: the JSON text itself */
        ProtobufCBinaryData *b = dst;
        b->data = (uint8_t *)s;
        b->len = (size_t)(e - s);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return fill_message(w, f->descriptor, (ProtobufCMessage **)dst, s, e, depth + 1);
    default:
        return LC_EPARSE;
    }
}

/* Room for one element of a repeated field holding n elements so far. */
static void *grow(walk_t *w, void **arr, size_t n, size_t size)
{
    /* capacities are powers of two: copy when n reaches one */
    if (n == 0 || (n & (n - 1)) == 0) {
        void *na = lc__pb_arena_alloc(&w->a, (n ? n * 2 : 1) * size);
        if (!na)
            return NULL;
        if (n)
            memcpy(na, *arr, n * size);
        *arr = na;
    }
    return (char *)*arr + n * size;
}

/* A map field: a JSON object whose members become key/value entry messages. */
static int fill_map(walk_t *w, const ProtobufCFieldDescriptor *f, void **arr, size_t *n,
                    const char *p, const char *end, int depth)
{
    const ProtobufCMessageDescriptor *ed = f->descriptor;
    const ProtobufCFieldDescriptor *kf = protobuf_c_message_descriptor_get_field_by_name(ed, "key");
    const ProtobufCFieldDescriptor *vf =
        protobuf_c_message_descriptor_get_field_by_name(ed, "value");
    if (!kf || !vf)
        return LC_EPARSE;
    member_t m;
    int rc;
    for (bool first = true; (rc = next_member(&p, end, first, &m)) == 1; first = false) {
        ProtobufCMessage *entry = lc__pb_arena_alloc(&w->a, ed->sizeof_message);
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        ProtobufCMessage **slot = grow(w, arr, *n, sizeof(*slot));
        if (!entry || !slot)
            return LC_ENOMEM;
        ed->message_init(entry);
        if ((rc = set_value(w, kf, (char *)entry + kf->offset, m.ks, m.ke, depth)) < 0 ||
            (rc = set_value(w, vf, (char *)entry + vf->offset, m.vs, m.ve, depth)) < 0)
            return rc;
        *slot = entry;
        (*n)++;
    }
    return rc;
}

/* A repeated message field: a JSON array of objects. */
static int fill_array(walk_t *w, const ProtobufCFieldDescriptor *f, void **arr, size_t *n,
                      const char *p, const char *end, int depth)
{
    p = skip_ws(p, end);
    if (p >= end || *p != '[')
        return LC_EPARSE;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return 0;
    for (;;) {
        const char *ve = skip_value(p, end);
        if (!ve || ve == p)
            return LC_EPARSE;
        // NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers
        ProtobufCMessage **slot = grow(w, arr, *n, sizeof(*slot));
        if (!slot)
            return LC_ENOMEM;
        int rc = fill_message(w, f->descriptor, slot, p, ve, depth + 1);
        if (rc < 0)
            return rc;
        (*n)++;
        p = skip_ws(ve, end);
        if (p < end && *p == ']')
            return 0;
        if (p >= end || *p != ',')
            return LC_EPARSE;
        p = skip_ws(p + 1, end);
    }
}

/* Whether the object at p has a member named key. */
static bool has_member(const char *p, const char *end, const char *key)
{
    member_t m;
    size_t kl = strlen(key);
    for (bool first = true; next_member(&p, end, first, &m) == 1; first = false)
        if ((size_t)(m.ke - m.ks) == kl + 2 && memcmp(m.ks + 1, key, kl) == 0)
            return true;
    return false;
}

/* A JSON string's bytes as a bytes field (the data of a delta subscriber's publication). */
static int string_bytes(walk_t *w, ProtobufCBinaryData *b, const char *s, const char *e)
{
    char *str = json_string(w, s, e);
    if (!str)
        return LC_EPARSE;
    b->data = (uint8_t *)str;
    b->len = strlen(str);
    return 0;
}

static int fill_message(walk_t *w, const ProtobufCMessageDescriptor *d, ProtobufCMessage **out,
                        const char *p, const char *end, int depth)
{
    if (depth > MAX_DEPTH)
        return LC_EPARSE;
    /* A Publication with `delta` (sent to delta subscribers) carries data as a JSON string of
     * its bytes: the text itself, or a fossil delta. */
    bool string_data = d == &lcpb__publication__descriptor && has_member(p, end, "delta");
    ProtobufCMessage *msg = lc__pb_arena_alloc(&w->a, d->sizeof_message);
    if (!msg)
        return LC_ENOMEM;
    d->message_init(msg);
    member_t m;
    int rc;
    char key[48];
    for (bool first = true; (rc = next_member(&p, end, first, &m)) == 1; first = false) {
        size_t kl = (size_t)(m.ke - m.ks) - 2;
        if (kl >= sizeof(key))
            continue; /* no field has a name this long */
        memcpy(key, m.ks + 1, kl);
        key[kl] = '\0';
        const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field_by_name(d, key);
        if (!f || (m.ve - m.vs == 4 && memcmp(m.vs, "null", 4) == 0))
            continue; /* a field of a later protocol version, or absent */
        char *dst = (char *)msg + f->offset;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_MESSAGE)
                continue; /* no repeated scalar is ever sent */
            size_t *n = (size_t *)((char *)msg + f->quantifier_offset);
            rc = *m.vs == '{' ? fill_map(w, f, (void **)dst, n, m.vs, m.ve, depth)
                              : fill_array(w, f, (void **)dst, n, m.vs, m.ve, depth);
        } else if (string_data && f->type == PROTOBUF_C_TYPE_BYTES &&
                   strcmp(f->name, "data") == 0) {
            rc = string_bytes(w, (ProtobufCBinaryData *)dst, m.vs, m.ve);
        } else {
            rc = set_value(w, f, dst, m.vs, m.ve, depth);
        }
        if (rc < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    *out = msg;
    return 0;
}

static int append_reply(lc_buf_t *out, const char *p, size_t n)
{
    walk_t w;
    lc__pb_arena_init(&w.a);
    ProtobufCMessage *msg = NULL;
    int rc = fill_message(&w, &lcpb__reply__descriptor, &msg, p, p + n, 0);
    if (rc == 0) {
        size_t sz = protobuf_c_message_get_packed_size(msg);
        uint8_t hdr[LC_PB_VARINT_MAX];
        size_t hl = lc_pb_varint_put(hdr, sz);
        rc = LC_ENOMEM;
        if (lc_buf_reserve(out, hl + sz) == 0) {
            memcpy(out->data + out->len, hdr, hl);
            out->len += hl;
            out->len += protobuf_c_message_pack(msg, (uint8_t *)out->data + out->len);
            out->data[out->len] = '\0';
            rc = 0;
        }
    }
    lc__pb_arena_free(&w.a);
    return rc;
}

int lc_pb_replies_from_json(lc_buf_t *out, const char *json, size_t len)
{
    const char *p = json, *end = json + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p) {
            int rc = append_reply(out, p, (size_t)(le - p));
            if (rc < 0)
                return rc;
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}
