/* Protobuf Commands in (spec §1.2): varint-length-delimited Command messages unpacked by
 * protobuf-c, then mapped onto the lc_cmd_t the JSON decoder fills, so the session never knows
 * which encoding a command came in. Application payloads (`data`) must be JSON like on the
 * JSON protocol: they are stored and relayed as JSON text to every kind of subscriber. */
#include <stdlib.h>
#include <string.h>

#include "proto/codec.h"
#include "proto/json_check.h"
#include "proto/pb.h"
#include "proto/pb_internal.h"
#include "util/err.h"

/* ---- varints ---- */

size_t lc_pb_varint_put(uint8_t out[LC_PB_VARINT_MAX], uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        out[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[n++] = (uint8_t)v;
    return n;
}

int lc_pb_varint_get(const uint8_t *p, size_t n, uint64_t *v)
{
    uint64_t r = 0;
    for (size_t i = 0; i < LC_PB_VARINT_MAX; i++) {
        if (i == n)
            return 0;
        uint64_t b = p[i] & 0x7f;
        /* the tenth byte holds the 64th bit only */
        if (i == LC_PB_VARINT_MAX - 1 && b > 1)
            return LC_EPARSE;
        r |= b << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = r;
            return (int)i + 1;
        }
    }
    return LC_EPARSE;
}

/* ---- arena ---- */

struct lc__pb_block {
    lc__pb_block_t *next;
    max_align_t data[];
};

#define BLOCK_MIN 4096

void *lc__pb_arena_alloc(lc__pb_arena_t *a, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if ((size_t)(a->end - a->p) < n) {
        size_t room = n > BLOCK_MIN ? n : BLOCK_MIN;
        lc__pb_block_t *b = malloc(sizeof(*b) + room);
        if (!b)
            return NULL;
        b->next = a->blocks;
        a->blocks = b;
        a->p = (char *)b->data;
        a->end = a->p + room;
    }
    void *r = a->p;
    a->p += n;
    return r;
}

static void *arena_alloc_cb(void *ctx, size_t n)
{
    return lc__pb_arena_alloc(ctx, n);
}

static void arena_free_cb(void *ctx, void *p)
{
    /* released with the whole arena */
}

void lc__pb_arena_init(lc__pb_arena_t *a)
{
    memset(a, 0, sizeof(*a));
    a->alloc.alloc = arena_alloc_cb;
    a->alloc.free = arena_free_cb;
    a->alloc.allocator_data = a;
}

void lc__pb_arena_free(lc__pb_arena_t *a)
{
    lc__pb_block_t *b = a->blocks;
    while (b) {
        lc__pb_block_t *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->p = a->end = NULL;
}

/* ---- Command → lc_cmd_t ---- */

/* A copy of a non-empty string; NULL for "" (proto3 cannot tell empty from absent, and the
 * session treats both alike). 0 or LC_ENOMEM. */
static int dup_str(const char *s, char **out)
{
    *out = NULL;
    if (!s || !*s)
        return 0;
    if (!lc_utf8_valid(s, strlen(s)))
        return LC_EPARSE; /* names, tokens and ids are text */
    *out = strdup(s);
    return *out ? 0 : LC_ENOMEM;
}

/* The command's application payload: must be JSON (it is relayed as JSON text). Copied into
 * the command's storage; empty = absent. */
static int take_data(const ProtobufCBinaryData *d, lc_cmd_t *cmd)
{
    if (d->len == 0)
        return 0;
    if (!lc_json_check((const char *)d->data, d->len, NULL))
        return LC_EPARSE;
    cmd->storage_ = malloc(d->len + 1);
    if (!cmd->storage_)
        return LC_ENOMEM;
    memcpy(cmd->storage_, d->data, d->len);
    cmd->storage_[d->len] = '\0';
    cmd->data.p = cmd->storage_;
    cmd->data.len = d->len;
    return 0;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((rc = (x)) < 0)                                                                        \
            return rc;                                                                             \
    } while (0)

static int map_connect(const Lcpb__ConnectRequest *q, lc_cmd_t *cmd)
{
    int rc;
    TRY(dup_str(q->token, &cmd->token));
    TRY(dup_str(q->name, &cmd->name));
    TRY(dup_str(q->version, &cmd->version));
    TRY(take_data(&q->data, cmd));
    if (q->n_subs) {
        cmd->subs = calloc(q->n_subs, sizeof(*cmd->subs));
        if (!cmd->subs)
            return LC_ENOMEM;
        for (size_t i = 0; i < q->n_subs; i++) {
            const Lcpb__ConnectRequest__SubsEntry *e = q->subs[i];
            if (!e->key || !*e->key)
                return LC_EPARSE;
            lc_cmd_sub_t *s = &cmd->subs[cmd->n_subs++];
            TRY(dup_str(e->key, &s->channel));
            if (e->value) {
                s->recover = e->value->recover;
                s->offset = e->value->offset;
                TRY(dup_str(e->value->epoch, &s->epoch));
            }
        }
    }
    if (q->n_headers) {
        cmd->headers = calloc(q->n_headers, sizeof(*cmd->headers));
        if (!cmd->headers)
            return LC_ENOMEM;
        for (size_t i = 0; i < q->n_headers; i++) {
            const Lcpb__ConnectRequest__HeadersEntry *e = q->headers[i];
            lc_kv_t *kv = &cmd->headers[cmd->n_headers++];
            kv->key = strdup(e->key ? e->key : "");
            kv->value = strdup(e->value ? e->value : "");
            if (!kv->key || !kv->value)
                return LC_ENOMEM;
        }
    }
    return 0;
}

/* A FilterNode as the JSON text the JSON protocol carries it in (members omitted when
 * empty), so both encodings hand the session the same tag filter. */
static int filter_json(const Lcpb__FilterNode *f, lc_buf_t *b, int depth)
{
    if (depth > 32)
        return LC_EPARSE;
    const char *names[4] = {"op", "key", "cmp", "val"};
    const char *vals[4] = {f->op, f->key, f->cmp, f->val};
    bool first = true;
    int rc = lc_buf_putc(b, '{');
    for (int i = 0; i < 4 && rc == 0; i++) {
        if (!vals[i] || !*vals[i])
            continue;
        rc = lc_buf_printf(b, "%s\"%s\":", first ? "" : ",", names[i]);
        if (rc == 0)
            rc = lc_buf_append_json_str(b, vals[i], strlen(vals[i]));
        first = false;
    }
    if (rc == 0 && f->n_vals) {
        rc = lc_buf_printf(b, "%s\"vals\":[", first ? "" : ",");
        for (size_t i = 0; i < f->n_vals && rc == 0; i++) {
            if (i)
                rc = lc_buf_putc(b, ',');
            if (rc == 0)
                rc = lc_buf_append_json_str(b, f->vals[i], strlen(f->vals[i]));
        }
        if (rc == 0)
            rc = lc_buf_putc(b, ']');
        first = false;
    }
    if (rc == 0 && f->n_nodes) {
        rc = lc_buf_printf(b, "%s\"nodes\":[", first ? "" : ",");
        for (size_t i = 0; i < f->n_nodes && rc == 0; i++) {
            if (i)
                rc = lc_buf_putc(b, ',');
            if (rc == 0)
                rc = filter_json(f->nodes[i], b, depth + 1);
        }
        if (rc == 0)
            rc = lc_buf_putc(b, ']');
    }
    if (rc == 0)
        rc = lc_buf_putc(b, '}');
    return rc;
}

static int map_subscribe(const Lcpb__SubscribeRequest *q, lc_cmd_t *cmd)
{
    int rc;
    cmd->flag = q->flag;
    cmd->sub_type = q->type;
    TRY(dup_str(q->delta, &cmd->delta));
    if (q->tf) {
        lc_buf_t b = LC_BUF_INIT;
        rc = filter_json(q->tf, &b, 0);
        if (rc < 0) {
            lc_buf_free(&b);
            return rc;
        }
        cmd->tf = lc_buf_steal(&b);
        if (!cmd->tf)
            return LC_ENOMEM;
    }
    TRY(dup_str(q->channel, &cmd->channel));
    TRY(dup_str(q->token, &cmd->token));
    TRY(dup_str(q->epoch, &cmd->epoch));
    TRY(take_data(&q->data, cmd));
    cmd->recover = q->recover;
    cmd->offset = q->offset;
    cmd->positioned = q->positioned;
    cmd->recoverable = q->recoverable;
    cmd->join_leave = q->join_leave;
    /* map subscriptions (v6.8) */
    cmd->phase = q->phase;
    TRY(dup_str(q->cursor, &cmd->cursor));
    if (q->limit) {
        cmd->limit = q->limit;
        cmd->has_limit = true;
    }
    return 0;
}

static int map_history(const Lcpb__HistoryRequest *q, lc_cmd_t *cmd)
{
    int rc;
    TRY(dup_str(q->channel, &cmd->channel));
    /* proto3: a zero limit is indistinguishable from none, and means the same */
    cmd->limit = q->limit;
    cmd->has_limit = q->limit != 0;
    if (q->since) {
        cmd->has_since = true;
        cmd->since_offset = q->since->offset;
        TRY(dup_str(q->since->epoch, &cmd->since_epoch));
    }
    cmd->reverse = q->reverse;
    return 0;
}

/* The first request present, in the order of spec §1.3. `ping` is no request the server
 * knows: a Command holding only it is a bad request (or a pong with id 0), as in JSON. */
static int map_command(const Lcpb__Command *m, lc_cmd_t *cmd)
{
    int rc;
    cmd->id = m->id;
    if (m->connect) {
        cmd->type = LC_CMD_CONNECT;
        return map_connect(m->connect, cmd);
    }
    if (m->subscribe) {
        cmd->type = LC_CMD_SUBSCRIBE;
        return map_subscribe(m->subscribe, cmd);
    }
    if (m->unsubscribe) {
        cmd->type = LC_CMD_UNSUBSCRIBE;
        return dup_str(m->unsubscribe->channel, &cmd->channel);
    }
    if (m->publish) {
        cmd->type = LC_CMD_PUBLISH;
        TRY(dup_str(m->publish->channel, &cmd->channel));
        /* map publish (v6.8) */
        cmd->pub_type = m->publish->type;
        cmd->removed = m->publish->removed;
        TRY(dup_str(m->publish->key, &cmd->key));
        return take_data(&m->publish->data, cmd);
    }
    if (m->presence) {
        cmd->type = LC_CMD_PRESENCE;
        return dup_str(m->presence->channel, &cmd->channel);
    }
    if (m->presence_stats) {
        cmd->type = LC_CMD_PRESENCE_STATS;
        return dup_str(m->presence_stats->channel, &cmd->channel);
    }
    if (m->history) {
        cmd->type = LC_CMD_HISTORY;
        return map_history(m->history, cmd);
    }
    if (m->rpc) {
        cmd->type = LC_CMD_RPC;
        TRY(dup_str(m->rpc->method, &cmd->method));
        return take_data(&m->rpc->data, cmd);
    }
    if (m->send) {
        cmd->type = LC_CMD_SEND;
        return take_data(&m->send->data, cmd);
    }
    if (m->refresh) {
        cmd->type = LC_CMD_REFRESH;
        return dup_str(m->refresh->token, &cmd->token);
    }
    if (m->sub_refresh) {
        cmd->type = LC_CMD_SUB_REFRESH;
        TRY(dup_str(m->sub_refresh->channel, &cmd->channel));
        TRY(dup_str(m->sub_refresh->token, &cmd->token));
        return lc__decode_track_pb(m->sub_refresh, cmd);
    }
    return 0;
}

#undef TRY

static int decode_command(const uint8_t *p, size_t n, lc_cmd_t *cmd)
{
    lc__pb_arena_t a;
    lc__pb_arena_init(&a);
    Lcpb__Command *m = lcpb__command__unpack(&a.alloc, n, p);
    int rc = m ? map_command(m, cmd) : LC_EPARSE;
    lc__pb_arena_free(&a);
    if (rc < 0) {
        lc_cmd_free(cmd);
        return rc;
    }
    return 1;
}

int lc__pb_cmd_next(lc_cmd_reader_t *r, lc_cmd_t *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    if (r->p >= r->end)
        return 0;
    const uint8_t *p = (const uint8_t *)r->p;
    size_t avail = (size_t)(r->end - r->p);
    uint64_t len;
    int hl = lc_pb_varint_get(p, avail, &len);
    /* a varint cut off by the end of the message, or a length beyond it: truncated */
    if (hl <= 0 || len > avail - (size_t)hl) {
        r->p = r->end;
        return LC_EPARSE;
    }
    r->p += (size_t)hl + (size_t)len;
    return decode_command(p + hl, (size_t)len, cmd);
}

/* ---- EmulationRequest ---- */

int lc_pb_emulation_decode(const void *body, size_t len, lc_pb_emulation_t *out)
{
    memset(out, 0, sizeof(*out));
    lc__pb_arena_t a;
    lc__pb_arena_init(&a);
    Lcpb__EmulationRequest *m = lcpb__emulation_request__unpack(&a.alloc, len, body);
    int rc = LC_EPARSE;
    if (m) {
        rc = LC_ENOMEM;
        out->node = strdup(m->node ? m->node : "");
        out->session = strdup(m->session ? m->session : "");
        out->data = malloc(m->data.len ? m->data.len : 1);
        if (out->node && out->session && out->data) {
            if (m->data.len)
                memcpy(out->data, m->data.data, m->data.len);
            out->data_len = m->data.len;
            rc = 0;
        }
    }
    lc__pb_arena_free(&a);
    if (rc < 0)
        lc_pb_emulation_free(out);
    return rc;
}

void lc_pb_emulation_free(lc_pb_emulation_t *e)
{
    free(e->node);
    free(e->session);
    free(e->data);
    memset(e, 0, sizeof(*e));
}
