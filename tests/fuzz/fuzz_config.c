/* The configuration loader: any text is loaded, validated and freed without a crash or a
 * leak; a load that fails says why. An input that starts with "ENV\n" is a list of
 * environment variables ("NAME=value" lines) applied over the defaults instead. */
#include <string.h>

#include "config/config.h"
#include "fuzz.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    lc_log_set_level(LC_LOG_NONE);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lc_config_t c;
    char err[256] = "";

    lc_config_defaults(&c);
    int rc;
    if (size >= 4 && memcmp(data, "ENV\n", 4) == 0) {
        char *text = malloc(size - 3);
        char *envp[65];
        size_t n = 0;
        FUZZ_CHECK(text != NULL);
        memcpy(text, data + 4, size - 4);
        text[size - 4] = '\0';
        for (char *line = strtok(text, "\n"); line != NULL && n < 64; line = strtok(NULL, "\n"))
            envp[n++] = line;
        envp[n] = NULL;
        rc = lc_config_apply_env(&c, envp, err, sizeof(err));
        free(text);
    } else {
        rc = lc_config_load_string(&c, (const char *)data, size, err, sizeof(err));
    }
    if (rc < 0)
        FUZZ_CHECK(err[0] != '\0');
    else
        (void)lc_config_validate(&c, err, sizeof(err));
    lc_config_free(&c);
    return 0;
}
