/* The Pusher protocol decoder and the publication mapping: every event read from a message is
 * taken through the path the server gives it — a client event's data published as a Lucent
 * publication and turned back into the Pusher event subscribers get; any string `data` mapped
 * as the HTTP API maps it and back — and what comes out must be strict JSON naming the same
 * event and channel, with the data the sender meant (verbatim for client events, the same
 * string for the others). */
#include <cjson/cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "proto/codec.h"
#include "proto/json_check.h"
#include "proto/pusher.h"
#include "util/buf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

/* The Pusher event for a publication of data with tags {"event":name} on channel. */
static void to_event(const char *channel, const char *name, lc_raw_t data, lc_buf_t *out)
{
    lc_buf_t tags = LC_BUF_INIT, push = LC_BUF_INIT;
    FUZZ_CHECK(lc_pusher_event_tags(&tags, name) == 0);
    lc_client_info_t ci = {.user = "7", .client = "1.2"};
    lc_publication_t pub = {.data = data, .info = &ci, .tags = {tags.data, tags.len}};
    FUZZ_CHECK(lc_proto_push_pub(&push, channel, strlen(channel), &pub) == 0);
    FUZZ_CHECK(lc_pusher_from_push(push.data, push.len, "", out) == 1);
    FUZZ_CHECK(lc_json_check_object(out->data, out->len, NULL));
    lc_buf_free(&tags);
    lc_buf_free(&push);
}

static void client_event(const lc_cmd_t *cmd)
{
    /* an empty channel is nobody's (the session refuses it); the JSON protocol's framing drops
     * raw newlines (codec.h) */
    if (!cmd->data.p || !cmd->channel || !cmd->channel[0] ||
        memchr(cmd->data.p, '\n', cmd->data.len))
        return;
    lc_buf_t out = LC_BUF_INIT;
    to_event(cmd->channel, cmd->name, cmd->data, &out);
    static const char *const data_path[] = {"data"};
    lc_raw_t got = {0};
    FUZZ_CHECK(lc_json_raw_get(out.data, out.len, data_path, 1, &got) == 1);
    FUZZ_CHECK(got.len == cmd->data.len && memcmp(got.p, cmd->data.p, got.len) == 0);
    cJSON *root = cJSON_ParseWithLength(out.data, out.len);
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(root, "channel");
    FUZZ_CHECK(cJSON_IsString(ev) && strcmp(ev->valuestring, cmd->name) == 0);
    FUZZ_CHECK(cJSON_IsString(ch) && strcmp(ch->valuestring, cmd->channel) == 0);
    cJSON_Delete(root);
    lc_buf_free(&out);
}

/* A string `data`, as the HTTP API publishes it: Pusher clients get the same string back. */
static void string_data(const lc_cmd_t *cmd)
{
    if (!cmd->data.p || cmd->data.p[0] != '"')
        return;
    lc_json_check_t chk;
    FUZZ_CHECK(lc_json_check(cmd->data.p, cmd->data.len, &chk));
    if (chk.nul)
        return;
    lc_buf_t pub = LC_BUF_INIT, out = LC_BUF_INIT;
    FUZZ_CHECK(lc_pusher_data_to_pub(cmd->data.p, cmd->data.len, &pub) == 0);
    FUZZ_CHECK(lc_json_check(pub.data, pub.len, NULL));
    if (memchr(pub.data, '\n', pub.len) == NULL) {
        to_event("news", "e", (lc_raw_t){pub.data, pub.len}, &out);
        cJSON *sent = cJSON_ParseWithLength(cmd->data.p, cmd->data.len);
        cJSON *root = cJSON_ParseWithLength(out.data, out.len);
        const cJSON *got = cJSON_GetObjectItemCaseSensitive(root, "data");
        FUZZ_CHECK(cJSON_IsString(sent) && cJSON_IsString(got));
        FUZZ_CHECK(strcmp(sent->valuestring, got->valuestring) == 0);
        cJSON_Delete(sent);
        cJSON_Delete(root);
    }
    lc_buf_free(&pub);
    lc_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lc_cmd_t cmd;
    if (lc_pusher_decode((const char *)data, size, &cmd) != 1)
        return 0;
    FUZZ_CHECK(cmd.data.p == NULL || lc_json_check(cmd.data.p, cmd.data.len, NULL));
    if (cmd.type == LC_CMD_PUSHER_SUBSCRIBE || cmd.type == LC_CMD_PUSHER_UNSUBSCRIBE)
        FUZZ_CHECK(cmd.channel != NULL);
    if (cmd.channel)
        (void)lc_pusher_channel_valid(cmd.channel, strlen(cmd.channel), 200);
    if (cmd.type == LC_CMD_PUSHER_CLIENT)
        client_event(&cmd);
    string_data(&cmd);
    /* the push itself: a join of the channel, as presence channels see it */
    if (cmd.channel) {
        lc_buf_t b = LC_BUF_INIT, out = LC_BUF_INIT;
        lc_client_info_t ci = {.user = cmd.channel, .client = "1.1", .chan_info = cmd.data};
        if (lc_proto_push_join_leave(&b, cmd.channel, strlen(cmd.channel), true, &ci) == 0 &&
            !memchr(b.data, '\n', b.len)) {
            int rc = lc_pusher_from_push(b.data, b.len, "", &out);
            FUZZ_CHECK(rc >= 0);
            if (rc == 1)
                FUZZ_CHECK(lc_json_check_object(out.data, out.len, NULL));
            (void)lc_pusher_push_is_user_event(b.data, b.len, cmd.channel);
        }
        lc_buf_free(&b);
        lc_buf_free(&out);
    }
    lc_cmd_free(&cmd);
    return 0;
}
