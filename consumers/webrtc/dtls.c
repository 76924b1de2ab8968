/* DTLS for camvisor-webrtc: see consumers/webrtc/dtls.h. */
#include "consumers/webrtc/dtls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "common/base/log.h"

/* ---- our datagram-out BIO ------------------------------------------------------------------- */

static int cv_dtls_bio_write(BIO *b, const char *data, int len)
{
    struct cv_dtls_conn *c = BIO_get_data(b);
    if (!c || len <= 0)
        return len <= 0 ? 0 : -1;
    c->send(c->arg, (const uint8_t *)data, (size_t)len); /* a datagram lost is retransmitted */
    return len;
}

static long cv_dtls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
    case BIO_CTRL_DGRAM_GET_FALLBACK_MTU: return CV_DTLS_MTU;
    case BIO_CTRL_WPENDING:
    case BIO_CTRL_PENDING: return 0;
    default: return 0;
    }
}

static int cv_dtls_bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- the process's context ---------------------------------------------------------------- */

/* Accepts any certificate here: the peer's is checked against the offer's fingerprint once the
 * handshake is done (a self-signed certificate is what browsers send). */
static int cv_dtls_verify(int ok, X509_STORE_CTX *store)
{
    (void)ok;
    (void)store;
    return 1;
}

static int cv_dtls_fingerprint(X509 *cert, char *out, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    if (!X509_digest(cert, EVP_sha256(), md, &n) || n * 3 > len)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++)
        snprintf(out + 3 * i, len - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return 0;
}

/* A self-signed ECDSA P-256 certificate, valid from yesterday (clocks differ) for 30 days. */
static X509 *cv_dtls_make_cert(EVP_PKEY *key)
{
    X509 *x = X509_new();
    X509_NAME *name = NULL;
    unsigned char serial[8];
    if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
        goto fail;
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        BN_free(bn);
        goto fail;
    }
    BN_free(bn);
    if (!X509_set_version(x, 2) || !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) || !X509_set_pubkey(x, key))
        goto fail;
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"camvisor", -1,
                                    -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_sign(x, key, EVP_sha256()))
        goto fail;
    return x;
fail:
    X509_free(x);
    return NULL;
}

/* A DTLS server context with cert and key (references taken), its fingerprint into fp. */
static SSL_CTX *cv_dtls_new_ctx(X509 *cert, EVP_PKEY *key, char *fp, size_t fplen)
{
    SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
    if (!ctx || SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1 ||
        SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1 ||
        /* 0 is success for this one */
        SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0 ||
        cv_dtls_fingerprint(cert, fp, fplen) < 0) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, cv_dtls_verify);
    SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
    SSL_CTX_set_read_ahead(ctx, 1);
    return ctx;
}

int cv_dtls_ctx_init(struct cv_dtls_ctx *d)
{
    memset(d, 0, sizeof(*d));
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *cert = key ? cv_dtls_make_cert(key) : NULL;
    d->meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cv-dtls-out");
    if (!key || !cert || !d->meth ||
        !(d->ctx = cv_dtls_new_ctx(cert, key, d->fingerprint, sizeof(d->fingerprint))))
        goto fail;
    BIO_meth_set_write(d->meth, cv_dtls_bio_write);
    BIO_meth_set_ctrl(d->meth, cv_dtls_bio_ctrl);
    BIO_meth_set_create(d->meth, cv_dtls_bio_create);
    X509_free(cert);
    EVP_PKEY_free(key);
    return 0;
fail:
    cv_err("cannot set up DTLS: %s", ERR_reason_error_string(ERR_get_error()));
    X509_free(cert);
    EVP_PKEY_free(key);
    cv_dtls_ctx_fini(d);
    return -EIO;
}

int cv_dtls_ctx_load(struct cv_dtls_ctx *d, const char *path, char *why, size_t why_len)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    char fp[CV_DTLS_FINGERPRINT_MAX];
    SSL_CTX *ctx = NULL;
    BIO *in = BIO_new_file(path, "r");
    if (in)
        cert = PEM_read_bio_X509(in, NULL, NULL, NULL);
    if (in && cert && BIO_reset(in) == 0)
        key = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    if (cert && key)
        ctx = cv_dtls_new_ctx(cert, key, fp, sizeof(fp));
    if (!ctx)
        snprintf(why, why_len, "%s",
                 !in     ? "cannot open it"
                 : !cert ? "no PEM certificate in it"
                 : !key  ? "no PEM private key in it (unencrypted, after or before the certificate)"
                         : "the key is not the certificate's, or OpenSSL refused them");
    BIO_free(in);
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!ctx)
        return -EINVAL;
    SSL_CTX_free(d->ctx); /* sessions under way hold their own reference */
    d->ctx = ctx;
    memcpy(d->fingerprint, fp, sizeof(fp));
    return 0;
}

void cv_dtls_ctx_fini(struct cv_dtls_ctx *d)
{
    SSL_CTX_free(d->ctx);
    BIO_meth_free(d->meth);
    d->ctx = NULL;
    d->meth = NULL;
}

/* ---- one session's handshake ---------------------------------------------------------------- */

int cv_dtls_conn_init(struct cv_dtls_conn *c, struct cv_dtls_ctx *d, cv_dtls_send_fn send,
                      void *arg)
{
    memset(c, 0, sizeof(*c));
    c->send = send;
    c->arg = arg;
    c->ssl = SSL_new(d->ctx);
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(d->meth);
    if (!c->ssl || !rbio || !wbio) {
        BIO_free(rbio);
        BIO_free(wbio);
        SSL_free(c->ssl);
        c->ssl = NULL;
        return -ENOMEM;
    }
    BIO_set_mem_eof_return(rbio, -1); /* empty: "try again", not end of file */
    BIO_set_data(wbio, c);
    SSL_set_bio(c->ssl, rbio, wbio); /* ssl owns both */
    c->rbio = rbio;
    SSL_set_mtu(c->ssl, CV_DTLS_MTU);
    DTLS_set_link_mtu(c->ssl, CV_DTLS_MTU);
    SSL_set_accept_state(c->ssl);
    return 0;
}

static int cv_dtls_step(struct cv_dtls_conn *c)
{
    if (c->done) {
        /* After the handshake: an alert (close_notify) or data we do not use. */
        uint8_t sink[2048];
        int n = SSL_read(c->ssl, sink, sizeof(sink));
        if (n <= 0 && SSL_get_error(c->ssl, n) == SSL_ERROR_ZERO_RETURN)
            c->failed = true; /* the peer closed: the session ends */
        return c->failed ? -EPROTO : 0;
    }
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        c->done = true;
        return 1;
    }
    int err = SSL_get_error(c->ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
        return 0;
    unsigned long e = ERR_get_error();
    cv_dbg("DTLS handshake failed: %s", e ? ERR_reason_error_string(e) : "closed");
    ERR_clear_error();
    c->failed = true;
    return -EPROTO;
}

int cv_dtls_conn_input(struct cv_dtls_conn *c, const uint8_t *p, size_t n)
{
    if (c->failed || !c->ssl)
        return -EPROTO;
    if (n == 0 || n > 16384 || BIO_write(c->rbio, p, (int)n) != (int)n)
        return 0;
    int rc = cv_dtls_step(c);
    (void)BIO_reset(c->rbio); /* a datagram the handshake did not take is dropped whole */
    return rc;
}

void cv_dtls_conn_timer(struct cv_dtls_conn *c)
{
    if (c->ssl && !c->done && !c->failed)
        DTLSv1_handle_timeout(c->ssl);
}

int cv_dtls_conn_peer_fingerprint(struct cv_dtls_conn *c, char *out, size_t len)
{
    X509 *peer = c->ssl ? SSL_get1_peer_certificate(c->ssl) : NULL;
    if (!peer)
        return -ENOENT;
    int rc = cv_dtls_fingerprint(peer, out, len);
    X509_free(peer);
    return rc;
}

int cv_dtls_conn_srtp_keys(struct cv_dtls_conn *c, struct cv_srtp_keys *k)
{
    memset(k, 0, sizeof(*k));
    const SRTP_PROTECTION_PROFILE *pp = c->ssl ? SSL_get_selected_srtp_profile(c->ssl) : NULL;
    if (!pp)
        return -EPROTO;
    if (pp->id == SRTP_AEAD_AES_128_GCM) {
        k->profile = CV_SRTP_AEAD_AES_128_GCM;
        k->key_len = 16;
        k->salt_len = 12;
    } else if (pp->id == SRTP_AES128_CM_SHA1_80) {
        k->profile = CV_SRTP_AES128_CM_SHA1_80;
        k->key_len = 16;
        k->salt_len = 14;
    } else {
        return -EPROTO;
    }
    size_t total = 2 * (k->key_len + k->salt_len);
    static const char label[] = "EXTRACTOR-dtls_srtp";
    if (SSL_export_keying_material(c->ssl, k->material, total, label, sizeof(label) - 1, NULL, 0,
                                   0) != 1)
        return -EPROTO;
    return 0;
}

void cv_dtls_conn_fini(struct cv_dtls_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    c->rbio = NULL;
}
