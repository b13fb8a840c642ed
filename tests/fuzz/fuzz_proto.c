/* The client protocol decoder, and a round trip through the encoders: every command read from
 * a frame is encoded back as the publication push subscribers would get (channel, data) and
 * as an error reply, and decoding those again gives the same channel and the same data bytes
 * (minus the raw line breaks the newline framing drops). */
#include <cjson/cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "proto/codec.h"
#include "proto/json_check.h"
#include "util/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* data with the bytes lc_proto_append_raw drops removed */
static size_t strip_newlines(const char *p, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] != '\n')
            out[k++] = p[i];
    return k;
}

static void round_trip(const lc_cmd_t *cmd)
{
    lc_buf_t b = LC_BUF_INIT;
    const char *ch = cmd->channel != NULL ? cmd->channel : "";
    lc_client_info_t ci = {.user = cmd->name, .client = cmd->version, .conn_info = cmd->data};
    lc_publication_t pub = {.data = cmd->data, .info = &ci, .offset = cmd->offset};

    if (cmd->data.p == NULL) {
        pub.data = (lc_raw_t){"{}", 2};
        ci.conn_info = (lc_raw_t){0};
    }
    FUZZ_CHECK(lc_proto_push_pub(&b, ch, strlen(ch), &pub) == 0);
    /* what the server writes is itself strict JSON */
    FUZZ_CHECK(lc_json_check(b.data, b.len, NULL));
    FUZZ_CHECK(memchr(b.data, '\n', b.len) == NULL);

    static const char *const data_path[] = {"push", "pub", "data"};
    lc_raw_t got = {0};
    FUZZ_CHECK(lc_json_raw_get(b.data, b.len, data_path, 3, &got) == 1);
    char *want = malloc(pub.data.len + 1);
    FUZZ_CHECK(want != NULL);
    size_t wn = strip_newlines(pub.data.p, pub.data.len, want);
    FUZZ_CHECK(got.len == wn && memcmp(got.p, want, wn) == 0);
    free(want);

    cJSON *root = cJSON_ParseWithLength(b.data, b.len);
    FUZZ_CHECK(root != NULL);
    const cJSON *push = cJSON_GetObjectItemCaseSensitive(root, "push");
    const cJSON *jch = cJSON_GetObjectItemCaseSensitive(push, "channel");
    if (ch[0] != '\0')
        FUZZ_CHECK(cJSON_IsString(jch) && strcmp(jch->valuestring, ch) == 0);
    cJSON_Delete(root);

    lc_buf_reset(&b);
    FUZZ_CHECK(lc_proto_reply_error(&b, cmd->id, 107, cmd->method, true) == 0);
    FUZZ_CHECK(lc_json_check(b.data, b.len, NULL));
    lc_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lc_cmd_reader_t r;
    lc_cmd_t cmd;
    int rc;

    lc_cmd_reader_init(&r, (const char *)data, size);
    for (int i = 0; i < 64 && (rc = lc_cmd_reader_next(&r, &cmd)) != 0; i++) {
        if (rc < 0)
            continue;
        FUZZ_CHECK(cmd.data.p == NULL || lc_json_check(cmd.data.p, cmd.data.len, NULL));
        round_trip(&cmd);
        for (size_t k = 0; k < cmd.n_subs; k++)
            (void)lc_cmd_find_sub(&cmd, cmd.subs[k].channel);
        lc_cmd_free(&cmd);
    }
    return 0;
}
