/*
 * RTSP authentication, Basic (RFC 7617) and Digest (RFC 2617, MD5 and MD5-sess, with or without
 * qop=auth), for both ends: the camera client answers a camera's WWW-Authenticate challenge, the
 * RTSP server checks a viewer's Authorization header. MD5 comes from OpenSSL's EVP; comparisons
 * of secrets are constant-time. Only authentication-time code: nothing here is on the media path.
 */
#ifndef CV_RTSP_AUTH_H
#define CV_RTSP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net/rtsp-msg.h"

enum cv_rtsp_auth_scheme {
    CV_RTSP_AUTH_NONE = 0,
    CV_RTSP_AUTH_BASIC = 1,
    CV_RTSP_AUTH_DIGEST = 2,
};

/* One WWW-Authenticate challenge, as the client needs it. */
struct cv_rtsp_challenge {
    uint8_t scheme; /* enum cv_rtsp_auth_scheme */
    bool qop_auth;  /* the server offered qop=auth: answer with qop, nc, cnonce */
    bool sess;      /* algorithm=MD5-sess */
    bool stale;     /* stale=true: the old nonce expired, the password was fine */
    bool has_opaque;
    char realm[128];
    char nonce[128];
    char opaque[128];
};

/*
 * Parses one challenge. -ENOTSUP for other schemes, algorithms other than MD5/MD5-sess, or a qop
 * list without "auth"; -EBADMSG when malformed or a Digest nonce is missing; -E2BIG when a field
 * does not fit.
 */
int cv_rtsp_auth_challenge_parse(const char *value, struct cv_rtsp_challenge *c);

/* Picks the best usable challenge of a 401 (Digest over Basic); -ENOENT when none is usable. */
int cv_rtsp_auth_challenge_pick(const struct cv_rtsp_msg *m, struct cv_rtsp_challenge *c);

/* An Authorization header, as the server needs it. All strings are unquoted copies. */
struct cv_rtsp_credentials {
    uint8_t scheme; /* enum cv_rtsp_auth_scheme */
    bool sess;
    char username[128];
    char password[128]; /* Basic only */
    char realm[128];
    char nonce[128];
    char uri[1024];
    char response[33]; /* 32 hex digits, lowercased */
    char opaque[128];
    char qop[16]; /* "" or "auth" */
    char nc[9];   /* 8 hex digits when qop is set */
    char cnonce[128];
};

/* -ENOTSUP for other schemes or algorithms, -EBADMSG malformed, -E2BIG a field too long. */
int cv_rtsp_auth_credentials_parse(const char *value, struct cv_rtsp_credentials *cr);

/* RFC 2617 3.2.2.1. qop is NULL or "auth"; nc and cnonce are needed with qop or sess. */
struct cv_rtsp_digest_params {
    const char *username;
    const char *realm;
    const char *password;
    const char *method;
    const char *uri;
    const char *nonce;
    const char *qop;
    const char *nc;
    const char *cnonce;
    bool sess;
};

/* Writes the 32 lowercase hex digits of the response, NUL-terminated. 0, -EINVAL, -ENOMEM. */
int cv_rtsp_digest_response(const struct cv_rtsp_digest_params *p, char out[33]);

/*
 * Server side: checks credentials against the configured user and password. For Digest, realm
 * and nonce are what the server put in its challenge, and the digest is computed over the uri the
 * client sent in its header (clients differ in the URL form they use; a server that cares can
 * compare cr->uri with the request URI itself). Returns 0 when valid; -ESTALE when a Digest
 * answer is for another nonce (challenge again with stale=TRUE); -EACCES otherwise.
 */
int cv_rtsp_auth_verify(const struct cv_rtsp_credentials *cr, const char *method, const char *realm,
                        const char *nonce, const char *user, const char *pass);

/*
 * Client side: builds the Authorization header value for one request. *nc is the nonce count,
 * incremented when qop=auth is in use (reset it to 0 on a new nonce). cnonce NULL means a random
 * one. Returns the length or -E2BIG / -EINVAL (a ':' in a Basic user name).
 */
int cv_rtsp_auth_build(const struct cv_rtsp_challenge *c, const char *user, const char *pass,
                       const char *method, const char *uri, uint32_t *nc, const char *cnonce,
                       char *out, size_t size);

/* A fresh random nonce for the server's challenges: 32 hex digits. 0 or -EIO. */
int cv_rtsp_auth_nonce(char out[33]);

#endif
