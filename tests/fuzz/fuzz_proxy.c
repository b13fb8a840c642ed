/* Proxy reply parsing: a backend's body for each proxy kind (first byte), the shared poll
 * refresh answers and the Laravel broadcasting-auth answers; what parses carries raw JSON that
 * is strict JSON. */
#include <string.h>

#include "fuzz.h"
#include "hooks/proxy.h"
#include "hooks/proxy_spoll.h"
#include "proto/json_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    lc_proxy_reply_t r;
    unsigned sel = data[0];

    memset(&r, 0, sizeof(r));
    if (sel >= 0xE0 && sel < 0xF0) {
        lc_spoll_reply_t sr;
        memset(&sr, 0, sizeof(sr));
        if (lc_proxy_spoll_parse(body, len, &sr) == 0 && !sr.is_error) {
            for (size_t i = 0; i < sr.n_items; i++) {
                FUZZ_CHECK(sr.items[i].key != NULL);
                if (sr.items[i].data != NULL)
                    FUZZ_CHECK(lc_json_check(sr.items[i].data, sr.items[i].data_len, NULL));
            }
        }
        lc_proxy_spoll_reply_free(&sr);
        return 0;
    }
    if (sel < 0xE0) {
        lc_proxy_kind kind = (lc_proxy_kind)(sel % 6);
        if (lc_proxy_parse(kind, body, len, &r) == 0 && r.type == LC_PROXY_RESULT) {
            /* base64 twins decode to bytes; raw JSON is checked at the door */
            if (r.data != NULL && r.data_len > 0 && memchr(body, 'b', len) == NULL)
                FUZZ_CHECK(lc_json_check(r.data, r.data_len, NULL));
        }
    } else {
        static const long statuses[] = {200, 204, 401, 403, 500, 302};
        (void)lc_proxy_laravel_parse(statuses[sel % 6], body, len, (sel & 1) != 0, &r);
    }
    lc_proxy_reply_free(&r);
    return 0;
}
