/* Internal to src/transport: TLS for the HTTP server (http_server.tls) with OpenSSL over memory
 * BIOs, so the libuv loop keeps doing every read and write. Ciphertext arrives through
 * lc__tls_input; plaintext output stays in the connection's write queue (where its limits
 * apply) and is encrypted at flush time, at most TLS_OUT_MAX bytes ahead of the socket. */
#ifndef LC_TRANSPORT_TLS_H
#define LC_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "util/wqueue.h"

typedef struct lc__conn lc__conn_t;

/* The server context for cfg (made once per process, shared by the workers). NULL with a
 * message naming the file in err when the certificate or key cannot be used. */
void *lc__tls_server_ctx(const lc_config_t *cfg, char *err, size_t errlen);
/* Give c a TLS session in server mode. 0, or LC_ENOMEM. */
int lc__tls_attach(lc__conn_t *c);
/* Release c's TLS session (no-op for plain connections). */
void lc__tls_free(lc__conn_t *c);
/* Ciphertext arrived: decrypt and hand the plaintext to deliver(c, p, n) until c closes.
 * 0; 1 when the peer sent close_notify (treat as EOF); LC_EIO on a TLS error. */
int lc__tls_input(lc__conn_t *c, const char *p, size_t n,
                  void (*deliver)(lc__conn_t *c, const char *p, size_t n));
/* Encrypt what c's write queue holds into the ciphertext queue (bounded), and collect what the
 * handshake produced. 0 or LC_EIO. */
int lc__tls_encrypt(lc__conn_t *c);
/* The queue of ciphertext to write to the socket. */
lc_wqueue_t *lc__tls_out(lc__conn_t *c);
/* Whether the handshake is done (plaintext can be encrypted). */
bool lc__tls_ready(const lc__conn_t *c);
/* Queue close_notify once; true when it was queued now (flush it before the FIN). */
bool lc__tls_close_notify(lc__conn_t *c);

#endif
