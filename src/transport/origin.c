/* Allowed origins of the connection endpoints (client.allowed_origins): patterns where '*'
 * stands for any run of characters, compared case-insensitively. */
#include <ctype.h>
#include <stdbool.h>

#include "transport/conn.h"

/* Case-insensitive match where '*' stands for any run of characters. */
static bool glob_match(const char *pat, const char *s)
{
    const char *star = NULL, *resume = NULL;
    while (*s != '\0') {
        if (*pat == '*') {
            star = pat++;
            resume = s;
        } else if (*pat != '\0' && tolower((unsigned char)*pat) == tolower((unsigned char)*s)) {
            pat++;
            s++;
        } else if (star != NULL) {
            pat = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*pat == '*')
        pat++;
    return *pat == '\0';
}

bool lc__origin_match_any(char *const *patterns, size_t n, const char *origin)
{
    if (origin == NULL || origin[0] == '\0')
        return true; /* not a browser: nothing to check */
    for (size_t i = 0; i < n; i++) {
        if (glob_match(patterns[i], origin))
            return true;
    }
    return false;
}

bool lc__http_origin_allowed(const lc_config_t *cfg, const char *origin)
{
    return lc__origin_match_any(cfg->allowed_origins, cfg->n_allowed_origins, origin);
}
