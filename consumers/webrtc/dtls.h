/*
 * DTLS 1.2 for camvisor-webrtc (OpenSSL): the server side of the DTLS-SRTP handshake of RFC 5764,
 * with the browser as the DTLS client (our answer says a=setup:passive).
 *
 *   cv_dtls_ctx_init()   one per process: an ECDSA P-256 key and a self-signed certificate made
 *                        at start (its SHA-256 fingerprint goes into every answer), DTLS server,
 *                        use_srtp with AEAD_AES_128_GCM and AES_CM_128_HMAC_SHA1_80
 *   cv_dtls_ctx_load()   or the certificate and key of a PEM file ([webrtc] certificate), for a
 *                        fingerprint that stays the same across restarts
 *   cv_dtls_conn_*       one per session: datagrams in (cv_dtls_conn_input) and out (the send
 *                        function, one call per datagram, through a BIO of ours so that the
 *                        session decides the transport: UDP, or ICE-TCP framing), retransmission
 *                        timers (cv_dtls_conn_timer), and once the handshake is done the peer's
 *                        certificate fingerprint (checked against the offer's a=fingerprint) and
 *                        the SRTP keys.
 *
 * Input is untrusted: anything the handshake refuses fails the session (never the process).
 *
 * Ownership: the ctx owns its SSL_CTX, key and certificate; a conn its SSL (and BIOs).
 */
#ifndef CV_WEBRTC_DTLS_H
#define CV_WEBRTC_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;
typedef struct bio_method_st BIO_METHOD;

#define CV_DTLS_FINGERPRINT_MAX 100 /* "AB:CD:...", 32 bytes of SHA-256 */
#define CV_DTLS_MTU             1200
#define CV_SRTP_MATERIAL_MAX    (2 * (32 + 14)) /* client and server key and salt */

struct cv_dtls_ctx {
    SSL_CTX *ctx;                              /* owned */
    BIO_METHOD *meth;                          /* owned: our datagram-out BIO */
    char fingerprint[CV_DTLS_FINGERPRINT_MAX]; /* of our certificate, "sha-256 " not included */
};

/* Sends one datagram of a session's handshake; returns 0 or a negative errno. */
typedef int (*cv_dtls_send_fn)(void *arg, const uint8_t *p, size_t n);

struct cv_dtls_conn {
    SSL *ssl;  /* owned, with its BIOs */
    BIO *rbio; /* the datagram being read (a memory BIO, owned by ssl) */
    cv_dtls_send_fn send;
    void *arg;
    bool done;   /* the handshake completed */
    bool failed; /* it failed: the session ends */
};

/* The SRTP protection profile and the keys the handshake made (RFC 5764 4.2). */
enum cv_srtp_profile {
    CV_SRTP_NONE = 0,
    CV_SRTP_AES128_CM_SHA1_80 = 1,
    CV_SRTP_AEAD_AES_128_GCM = 7,
};

struct cv_srtp_keys {
    enum cv_srtp_profile profile;
    size_t key_len, salt_len;
    /* client_key, server_key, client_salt, server_salt, as exported */
    uint8_t material[CV_SRTP_MATERIAL_MAX];
};

int cv_dtls_ctx_init(struct cv_dtls_ctx *d);
/* Our certificate and private key from the PEM file at path (both in it, either order; the key
 * unencrypted) from now on: sessions under way keep theirs. 0, or -EINVAL with why (the context
 * unchanged). */
int cv_dtls_ctx_load(struct cv_dtls_ctx *d, const char *path, char *why, size_t why_len);
void cv_dtls_ctx_fini(struct cv_dtls_ctx *d);

int cv_dtls_conn_init(struct cv_dtls_conn *c, struct cv_dtls_ctx *d, cv_dtls_send_fn send,
                      void *arg);
/* One DTLS datagram from the peer: 1 when the handshake completed with it, 0 while it goes on (or
 * after it, for an alert or application data, which we ignore), -EPROTO when it failed. */
int cv_dtls_conn_input(struct cv_dtls_conn *c, const uint8_t *p, size_t n);
/* Retransmits the last flight when its timer ran out (call on the process's tick). */
void cv_dtls_conn_timer(struct cv_dtls_conn *c);
/* The peer certificate's SHA-256 fingerprint as "AB:CD:..."; -ENOENT without one. */
int cv_dtls_conn_peer_fingerprint(struct cv_dtls_conn *c, char *out, size_t len);
/* The negotiated profile and keys; -EPROTO without a profile. */
int cv_dtls_conn_srtp_keys(struct cv_dtls_conn *c, struct cv_srtp_keys *k);
void cv_dtls_conn_fini(struct cv_dtls_conn *c);

#endif
