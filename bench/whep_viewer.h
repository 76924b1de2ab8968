/*
 * The light WebRTC viewer of the WebRTC benchmarks (webrtc_load.c: many of them, for the fan-out;
 * webrtc_latency.c: one, timed), so that both measure camvisor against the same client. It does
 * what a browser's network stack does and no more: a recvonly H.264 offer POSTed as WHEP to
 * camvisor-http, an ICE check (USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE,
 * MESSAGE-INTEGRITY, FINGERPRINT) to the answer's candidate, a DTLS 1.2 client handshake with
 * use_srtp (OpenSSL). Reading the SRTP packets and the consent checks every 5 s are the
 * includer's: each reads in its own way.
 *
 * A header of static functions, not a .c file: each bench/NAME.c is a program of its own
 * (Makefile), so code two of them share has nowhere else to go.
 */
#ifndef CV_BENCH_WHEP_VIEWER_H
#define CV_BENCH_WHEP_VIEWER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/net/sdp-webrtc.h"
#include "common/net/stun.h"

#define WHEP_VIDEO_PT 102 /* the payload type our offer gives H.264 */

struct whep_viewer {
    int fd;                      /* UDP, connected to the server's candidate */
    char lufrag[9], lpwd[25];    /* ours */
    char rufrag[257], rpwd[257]; /* the server's */
    struct sockaddr_in to;
    SSL *ssl;
};

/* How a viewer starts: where the two benchmarks differ. */
struct whep_opts {
    const struct sockaddr_in *src; /* source address of both sockets; NULL: the kernel's choice */
    int rcvbuf;                    /* SO_RCVBUF of the UDP socket */
    int tries;                     /* WHEP POSTs, 0.5 s apart: camvisor may still be starting */
    const char *who;               /* in front of the error messages */
};

static SSL_CTX *g_ctx;
static char g_fp[128];                      /* our certificate's fingerprint, for the offer */
static struct cv_webrtc_sdp_offer g_answer; /* ~30 KiB: one, reused */

static void rand_text(char *out, size_t n)
{
    static const char a[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[64];
    RAND_bytes(r, (int)n);
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = a[r[i] % (sizeof(a) - 1)];
    out[n - 1] = 0;
}

/* The DTLS client context, with a fresh self-signed certificate (CN cn) whose fingerprint goes
 * into g_fp. 0 or -1. */
static int make_ctx(const char *cn)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    unsigned char md[32];
    unsigned n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(g_fp + 3 * i, sizeof(g_fp) - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
    g_ctx = SSL_CTX_new(DTLS_client_method());
    if (!g_ctx || SSL_CTX_use_certificate(g_ctx, x) != 1 || SSL_CTX_use_PrivateKey(g_ctx, key) != 1)
        return -1;
    SSL_CTX_set_tlsext_use_srtp(g_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
    SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

/* POSTs the offer (WHEP) from src (NULL: any) and reads the answer into buf. 0 or -1. */
static int whep(const struct sockaddr_in *src, const char *host, int port, const char *cam,
                const char *offer, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    buf[0] = 0;
    if (fd < 0 || (src && bind(fd, (const struct sockaddr *)src, sizeof(*src)) < 0) ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        goto fail;
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "POST /api/webrtc?src=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                     "application/sdp\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     cam, host, strlen(offer), offer);
    if (n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
        goto fail;
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fd);
    return strncmp(buf, "HTTP/1.1 201", 12) == 0 ? 0 : -1;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

/* An ICE connectivity check; with use_candidate it nominates the pair, without it is the 5 s
 * consent check that keeps the session (the server closes a silent one). */
static int stun_check(struct whep_viewer *v, bool use_candidate)
{
    uint8_t out[512], tid[12];
    char user[600];
    RAND_bytes(tid, sizeof(tid));
    snprintf(user, sizeof(user), "%s:%s", v->rufrag, v->lufrag);
    int len = cv_stun_begin(out, sizeof(out), CV_STUN_BINDING, CV_STUN_REQUEST, tid);
    uint32_t prio = htonl(0x6e7f00ff);
    uint8_t tb[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}; /* tie-breaker */
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_USERNAME, user,
                               strlen(user));
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_PRIORITY, &prio, 4);
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_ICE_CONTROLLING, tb, 8);
    if (len > 0 && use_candidate)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    if (len > 0)
        len = cv_stun_finish(out, sizeof(out), (size_t)len, v->rpwd, strlen(v->rpwd));
    return len > 0 && send(v->fd, out, (size_t)len, 0) == len ? 0 : -1;
}

/* Offer, answer, ICE check, DTLS handshake: 0 once SRTP flows to v->fd, or -1. Needs make_ctx(). */
static int whep_viewer_start(struct whep_viewer *v, const char *host, int port, const char *cam,
                             const struct whep_opts *o)
{
    static char offer[4096], ans[65536];
    rand_text(v->lufrag, sizeof(v->lufrag));
    rand_text(v->lpwd, sizeof(v->lpwd));
    snprintf(offer, sizeof(offer),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
             "m=video 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\n"
             "a=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\n"
             "a=recvonly\r\na=rtcp-mux\r\na=rtpmap:%d H264/90000\r\na=rtcp-fb:%d nack\r\n"
             "a=rtcp-fb:%d nack pli\r\na=fmtp:%d level-asymmetry-allowed=1;"
             "packetization-mode=1;profile-level-id=42e01f\r\n",
             WHEP_VIDEO_PT, v->lufrag, v->lpwd, g_fp, WHEP_VIDEO_PT, WHEP_VIDEO_PT, WHEP_VIDEO_PT,
             WHEP_VIDEO_PT);
    int tries = 0;
    while (whep(o->src, host, port, cam, offer, ans, sizeof(ans)) < 0) {
        if (++tries >= o->tries) {
            fprintf(stderr, "%soffer refused: %.200s\n", o->who, ans);
            return -1;
        }
        usleep(500000);
    }
    char *body = strstr(ans, "\r\n\r\n");
    if (!body || cv_webrtc_sdp_parse(body + 4, strlen(body + 4), &g_answer) < 0 ||
        !g_answer.media_count)
        return -1;
    const struct cv_webrtc_sdp_media *m = &g_answer.media[0];
    snprintf(v->rufrag, sizeof(v->rufrag), "%s", m->transport.ice_ufrag);
    snprintf(v->rpwd, sizeof(v->rpwd), "%s", m->transport.ice_pwd);
    v->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(m->port)};
    inet_pton(AF_INET, host, &v->to.sin_addr);
    v->fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (v->fd < 0 || (o->src && bind(v->fd, (const struct sockaddr *)o->src, sizeof(*o->src)) < 0))
        return -1;
    setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof(o->rcvbuf));
    struct timeval tv = {2, 0};
    setsockopt(v->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(v->fd, (struct sockaddr *)&v->to, sizeof(v->to)) < 0 || stun_check(v, true) < 0)
        return -1;
    uint8_t buf[2048];
    ssize_t n = recv(v->fd, buf, sizeof(buf), 0); /* the check's answer */
    if (n < 20 || buf[0] > 3)
        return -1;
    v->ssl = SSL_new(g_ctx);
    BIO *bio = BIO_new_dgram(v->fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &v->to);
    SSL_set_bio(v->ssl, bio, bio);
    if (SSL_connect(v->ssl) != 1) {
        fprintf(stderr, "%sDTLS failed: %s\n", o->who, ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    return 0;
}

/* An RTP packet, told from STUN, DTLS and RTCP on the one socket by its first two bytes (RFC
 * 7983, RFC 5761). The header stays in the clear under SRTP. */
static bool is_rtp(const uint8_t *buf, ssize_t len)
{
    return len >= 12 && buf[0] >= 128 && buf[0] <= 191 && !(buf[1] >= 192 && buf[1] <= 223);
}

/* Sequence numbers of one RTP stream. */
struct rtp_seq {
    uint16_t last; /* the newest */
    bool have;
};

/* Takes packet seq; returns how many packets its arrival shows lost (a forward jump; a late or
 * repeated packet, or a jump of 1000 or more, a restart, counts none). */
static unsigned rtp_seq_lost(struct rtp_seq *s, uint16_t seq)
{
    uint16_t gap = (uint16_t)(seq - s->last);
    unsigned lost = s->have && gap > 1 && gap < 1000 ? gap - 1u : 0;
    if (!s->have || (int16_t)(seq - s->last) > 0)
        s->last = seq;
    s->have = true;
    return lost;
}

#endif
