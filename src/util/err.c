/* Descriptions of lc_err codes, generated from the one X-macro table in err.h. */
#include "util/err.h"

const char *lc_strerror(int err)
{
    switch (err) {
    case LC_OK:
        return "ok";
#define LC_ERR_CASE(name, code, msg)                                                               \
    case code:                                                                                     \
        return msg;
        LC_ERR_MAP(LC_ERR_CASE)
#undef LC_ERR_CASE
    default:
        return "unknown error";
    }
}
