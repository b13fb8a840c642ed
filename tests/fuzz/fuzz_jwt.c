/* Token verification. The first byte picks the mode: a token as received (connect and
 * subscribe verification), or claims that the harness signs with the configured HMAC key
 * first, so that claim parsing is reached past the signature check; the parsers of `subs`
 * and `override` objects get the same bytes. */
#include <string.h>

#include "auth/jwt.h"
#include "fuzz.h"

#define SECRET "fuzz-secret"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

static void verify(const char *tok, size_t n)
{
    const lc_jwt_keys_t keys = {.hmac_secret = SECRET};
    const int64_t now = 1700000000;
    lc_conn_claims_t cc;
    lc_sub_claims_t sc;
    const char *why = NULL;

    if (lc_jwt_verify_connect(tok, n, &keys, now, &cc, &why) == LC_JWT_OK) {
        FUZZ_CHECK(cc.sub != NULL);
        lc_conn_claims_free(&cc);
    } else {
        FUZZ_CHECK(why != NULL);
    }
    if (lc_jwt_verify_subscribe(tok, n, &keys, now, &sc, &why) == LC_JWT_OK) {
        FUZZ_CHECK(sc.sub != NULL && sc.channel != NULL && sc.channel[0] != '\0');
        lc_sub_claims_free(&sc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    char *text = malloc(n + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, p, n);
    text[n] = '\0';

    switch (data[0] % 3) {
    case 0:
        verify(p, n);
        break;
    case 1: {
        char *tok = lc_jwt_sign_hs256(SECRET, text);
        if (tok != NULL) {
            verify(tok, strlen(tok));
            free(tok);
        }
        break;
    }
    default: {
        lc_conn_sub_t *subs = NULL;
        size_t ns = 0;
        if (lc_jwt_parse_subs(p, n, &subs, &ns) == 0)
            lc_conn_subs_free(subs, ns);
        lc_sub_override_t o;
        memset(&o, 0, sizeof(o));
        (void)lc_jwt_parse_override(p, n, &o);
        break;
    }
    }
    free(text);
    return 0;
}
