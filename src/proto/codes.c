/* Protocol code lookups, generated from the X-macro tables in codes.h so that a code and its
 * text can never drift apart. */
#include "proto/codes.h"

const char *lc_error_message(uint32_t code)
{
    switch (code) {
#define LC_X(name, c, msg, temp)                                                                   \
    case c:                                                                                        \
        return msg;
        LC_ERROR_MAP(LC_X)
#undef LC_X
    default:
        return "";
    }
}

bool lc_error_temporary(uint32_t code)
{
    switch (code) {
#define LC_X(name, c, msg, temp)                                                                   \
    case c:                                                                                        \
        return temp;
        // NOLINTNEXTLINE(bugprone-branch-clone): one case per code, generated from the table
        LC_ERROR_MAP(LC_X)
#undef LC_X
    default:
        return false;
    }
}

const char *lc_disconnect_reason(uint32_t code)
{
    switch (code) {
#define LC_X(name, c, reason)                                                                      \
    case c:                                                                                        \
        return reason;
        LC_DISCONNECT_MAP(LC_X)
#undef LC_X
    default:
        return "";
    }
}

const char *lc_unsubscribe_reason(uint32_t code)
{
    switch (code) {
#define LC_X(name, c, reason)                                                                      \
    case c:                                                                                        \
        return reason;
        LC_UNSUBSCRIBE_MAP(LC_X)
#undef LC_X
    default:
        return "";
    }
}
