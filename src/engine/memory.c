/* Memory engine: encodes each publication to its push once and hands it to the sink, which
 * fans it out to every worker. History, positions and presence come with the channel features
 * (they will live here, sharded by channel hash). */
#include "engine/memory.h"

#include <stdlib.h>

#include "util/buf.h"
#include "util/err.h"
#include "util/list.h"

typedef struct lc_memory_engine {
    lc_engine_t base;
    const lc_config_t *cfg;
} lc_memory_engine_t;

static int memory_publish(lc_engine_t *e, const lc_publish_req_t *req, lc_publish_cb cb, void *arg)
{
    lc_buf_t b = LC_BUF_INIT;
    if (lc_proto_push_pub(&b, req->channel, req->chlen, &req->pub) != 0) {
        lc_buf_free(&b);
        return LC_ENOMEM;
    }
    lc_rcbuf_t *push = lc_rcbuf_from(b.data, b.len);
    lc_buf_free(&b);
    if (!push)
        return LC_ENOMEM;
    if (e->sink.deliver)
        e->sink.deliver(e->sink.ctx, req->channel, req->chlen, LC_PUSH_PUB, 0, push,
                        &req->exclude);
    lc_rcbuf_unref(push);

    lc_publish_res_t res = {0};
    if (cb)
        cb(arg, 0, &res);
    return 0;
}

static void memory_destroy(lc_engine_t *e)
{
    free(lc_container_of(e, lc_memory_engine_t, base));
}

static const lc_engine_vt_t memory_vt = {
    .name = "memory",
    .publish = memory_publish,
    .destroy = memory_destroy,
};

lc_engine_t *lc_engine_memory_new(const lc_config_t *cfg)
{
    lc_memory_engine_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->base.vt = &memory_vt;
    m->cfg = cfg;
    return &m->base;
}
