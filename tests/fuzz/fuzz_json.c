/* The strict JSON validator against cJSON: what the validator accepts, cJSON parses, and what
 * cJSON prints from it is accepted again; the NUL locator never reads past the text. */
#include <cjson/cJSON.h>
#include <string.h>

#include "fuzz.h"
#include "proto/json_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    lc_json_check_t c;
    bool ok = lc_json_check(p, size, &c);

    if (!ok) {
        FUZZ_CHECK(c.why != NULL && c.at <= size);
        return 0;
    }
    FUZZ_CHECK(lc_utf8_valid(p, size));
    FUZZ_CHECK(memchr(p, '\0', size) == NULL);
    cJSON *root = cJSON_ParseWithLength(p, size);
    FUZZ_CHECK(root != NULL);
    char *printed = cJSON_PrintUnformatted(root);
    if (printed != NULL) {
        lc_json_check_t again;
        /* cJSON cuts strings at an escaped NUL, so only texts without one print back */
        if (!c.nul)
            FUZZ_CHECK(lc_json_check(printed, strlen(printed), &again));
        free(printed);
    }
    cJSON_Delete(root);
    static const char *const allow[] = {"data", NULL};
    for (int level = 1; level <= 2; level++) {
        bool outside = lc_json_nul_outside(p, size, level, allow);
        FUZZ_CHECK(c.nul || !outside);
    }
    return 0;
}
