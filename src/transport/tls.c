/* TLS sessions on memory BIOs (see tls.h). One SSL_CTX for the process; one SSL per connection
 * with SSL_MODE_RELEASE_BUFFERS, so an idle TLS connection keeps no record buffers. */
#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/conn.h"
#include "util/err.h"
#include "util/log.h"

/* Ciphertext made ahead of the socket at most: the plaintext queue stays where the limits
 * (slow consumer, paused reading) look. */
#define TLS_OUT_MAX 65536
#define TLS_READ_CHUNK 16384

struct lc__tls {
    SSL *ssl;
    BIO *rbio; /* ciphertext in (owned by ssl) */
    BIO *wbio; /* ciphertext out (owned by ssl) */
    lc_wqueue_t out;
    bool notify_sent;
};

static SSL_CTX *g_ctx;

static bool is_pem_text(const char *v)
{
    return strncmp(v, "-----BEGIN", 10) == 0;
}

/* The first OpenSSL error as text ("" when none), clearing the queue. */
static const char *ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    buf[0] = '\0';
    if (e != 0)
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

static int load_cert(SSL_CTX *ctx, const char *v)
{
    if (!is_pem_text(v))
        return SSL_CTX_use_certificate_chain_file(ctx, v) == 1 ? 0 : -1;
    BIO *b = BIO_new_mem_buf(v, -1);
    X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
    int ok = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1;
    X509_free(x);
    /* the rest of the text is the chain */
    while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        if (SSL_CTX_add_extra_chain_cert(ctx, x) != 1) {
            X509_free(x);
            ok = 0;
        }
    }
    ERR_clear_error(); /* the end of the chain reads as an error */
    BIO_free(b);
    return ok ? 0 : -1;
}

static int load_key(SSL_CTX *ctx, const char *v)
{
    if (!is_pem_text(v))
        return SSL_CTX_use_PrivateKey_file(ctx, v, SSL_FILETYPE_PEM) == 1 ? 0 : -1;
    BIO *b = BIO_new_mem_buf(v, -1);
    EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    int ok = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    EVP_PKEY_free(k);
    BIO_free(b);
    return ok ? 0 : -1;
}

void *lc__tls_server_ctx(const lc_config_t *cfg, char *err, size_t errlen)
{
    if (g_ctx != NULL)
        return g_ctx;
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context: %s", ssl_error(why, sizeof(why)));
        return NULL;
    }
    const char *cert = cfg->http_tls_cert, *key = cfg->http_tls_key;
    const char *cert_name = is_pem_text(cert) ? "(PEM text in cert_pem)" : cert;
    const char *key_name = is_pem_text(key) ? "(PEM text in key_pem)" : key;
    if (load_cert(ctx, cert) < 0) {
        snprintf(err, errlen, "cannot load the certificate %s: %s", cert_name,
                 ssl_error(why, sizeof(why)));
        goto fail;
    }
    if (load_key(ctx, key) < 0) {
        snprintf(err, errlen, "cannot load the private key %s: %s", key_name,
                 ssl_error(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "the private key %s does not match the certificate %s", key_name,
                 cert_name);
        goto fail;
    }
    SSL_CTX_set_min_proto_version(ctx,
                                  cfg->http_tls_min_version == 1 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    g_ctx = ctx;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int lc__tls_attach(lc__conn_t *c)
{
    struct lc__tls *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return LC_ENOMEM;
    t->ssl = SSL_new(c->srv->tls_ctx);
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (t->ssl == NULL || t->rbio == NULL || t->wbio == NULL) {
        SSL_free(t->ssl);
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        free(t);
        return LC_ENOMEM;
    }
    /* an empty memory BIO means "retry later", not EOF */
    BIO_set_mem_eof_return(t->rbio, -1);
    BIO_set_mem_eof_return(t->wbio, -1);
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    SSL_set_accept_state(t->ssl);
    lc_wqueue_init(&t->out);
    c->tls = t;
    return 0;
}

void lc__tls_free(lc__conn_t *c)
{
    struct lc__tls *t = c->tls;
    if (t == NULL)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    lc_wqueue_free(&t->out);
    free(t);
    c->tls = NULL;
}

lc_wqueue_t *lc__tls_out(lc__conn_t *c)
{
    return &c->tls->out;
}

bool lc__tls_ready(const lc__conn_t *c)
{
    return SSL_is_init_finished(c->tls->ssl) != 0;
}

/* Move what OpenSSL wrote into the ciphertext queue. */
static int collect(lc__conn_t *c)
{
    struct lc__tls *t = c->tls;
    size_t pending;
    while ((pending = BIO_ctrl_pending(t->wbio)) > 0) {
        lc_rcbuf_t *b = lc_rcbuf_new(pending);
        if (b == NULL)
            return LC_ENOMEM;
        int n = BIO_read(t->wbio, b->data, (int)pending);
        if (n <= 0) {
            lc_rcbuf_unref(b);
            return LC_EIO;
        }
        b->len = (size_t)n;
        int rc = lc_wqueue_push(&t->out, b, 0);
        lc_rcbuf_unref(b);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int lc__tls_input(lc__conn_t *c, const char *p, size_t n,
                  void (*deliver)(lc__conn_t *c, const char *p, size_t n))
{
    struct lc__tls *t = c->tls;
    if (n > 0 && BIO_write(t->rbio, p, (int)n) != (int)n)
        return LC_ENOMEM;
    char buf[TLS_READ_CHUNK];
    int rc = 0;
    while (!(c->flags & LC__CONN_CLOSED)) {
        int r = SSL_read(t->ssl, buf, sizeof(buf));
        if (r > 0) {
            deliver(c, buf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            break;
        if (e == SSL_ERROR_ZERO_RETURN) {
            rc = 1;
            break;
        }
        char why[256];
        lc_log_debug("tls: %s", ssl_error(why, sizeof(why)));
        rc = LC_EIO;
        break;
    }
    if (c->flags & LC__CONN_CLOSED)
        return 0;
    /* handshake messages and alerts go out with the next flush */
    if (BIO_ctrl_pending(t->wbio) > 0) {
        if (collect(c) < 0)
            return LC_EIO;
        lc_worker_want_flush(c->t.worker, &c->t);
    }
    return rc;
}

int lc__tls_encrypt(lc__conn_t *c)
{
    struct lc__tls *t = c->tls;
    if (SSL_is_init_finished(t->ssl)) {
        uv_buf_t iov;
        while (!lc_wqueue_empty(&c->wq) && lc_wqueue_bytes(&t->out) < TLS_OUT_MAX) {
            if (lc_wqueue_iov(&c->wq, &iov, 1) == 0) {
                lc_wqueue_consume(&c->wq, 0); /* an empty frame */
                continue;
            }
            size_t len = iov.len < TLS_READ_CHUNK ? iov.len : TLS_READ_CHUNK;
            int r = SSL_write(t->ssl, iov.base, (int)len);
            if (r <= 0) {
                char why[256];
                lc_log_debug("tls write: %s", ssl_error(why, sizeof(why)));
                return LC_EIO;
            }
            lc_wqueue_consume(&c->wq, (size_t)r);
            if (collect(c) < 0)
                return LC_EIO;
        }
    }
    return collect(c) < 0 ? LC_EIO : 0;
}

bool lc__tls_close_notify(lc__conn_t *c)
{
    struct lc__tls *t = c->tls;
    if (t->notify_sent)
        return false;
    t->notify_sent = true;
    if (!SSL_is_init_finished(t->ssl))
        return false;
    SSL_shutdown(t->ssl);
    ERR_clear_error();
    collect(c);
    return !lc_wqueue_empty(&t->out);
}
