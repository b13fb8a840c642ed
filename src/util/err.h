/* Error codes used inside Lucent (libuv style: 0 = ok, negative = error).
 * Protocol error and disconnect codes live in proto/codes.h; these never reach the wire. */
#ifndef LC_UTIL_ERR_H
#define LC_UTIL_ERR_H

#define LC_ERR_MAP(X)                                                                              \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(NOENT, -3, "not found")                                                                      \
    X(EXIST, -4, "already exists")                                                                 \
    X(TOOBIG, -5, "too large")                                                                     \
    X(SLOW, -6, "write queue over its bound")                                                      \
    X(CLOSED, -7, "connection closed")                                                             \
    X(PARSE, -8, "malformed input")                                                                \
    X(IO, -9, "i/o error")                                                                         \
    X(EXPIRED, -10, "expired")                                                                     \
    X(POS, -11, "unrecoverable position")

typedef enum lc_err {
    LC_OK = 0,
#define LC_ERR_ENUM(name, code, msg) LC_E##name = code,
    LC_ERR_MAP(LC_ERR_ENUM)
#undef LC_ERR_ENUM
} lc_err;

/* Static description of an lc_err code; never NULL. */
const char *lc_strerror(int err);

#endif
