/*
 * SRTP and SRTCP of one WebRTC session (libsrtp2), keyed by its DTLS handshake
 * (consumers/webrtc/dtls.h): we protect the RTP and RTCP we send with the server's key and salt,
 * and unprotect the browser's RTCP (receiver reports, NACK, PLI) with the client's.
 *
 * Protection works in place and adds at most CV_SRTP_TRAILER bytes: a caller's buffer must have
 * that much room after the packet. libsrtp2 allocates when a session is made, never per packet.
 *
 * Ownership: a struct cv_srtp owns its two libsrtp2 sessions.
 */
#ifndef CV_WEBRTC_SRTP_H
#define CV_WEBRTC_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumers/webrtc/dtls.h"

#define CV_SRTP_TRAILER 32 /* tag (16 at most here) and the SRTCP index, with room */

struct srtp_ctx_t_;

struct cv_srtp {
    struct srtp_ctx_t_ *out, *in; /* owned */
    size_t tag_len;               /* added to each RTP packet */
};

/* Once per process. 0 or -EIO. */
int cv_srtp_library_init(void);
/* 0, or -EINVAL for a profile we did not offer, -EIO when libsrtp2 refuses the keys. */
int cv_srtp_init(struct cv_srtp *s, const struct cv_srtp_keys *k);
/* In place: *len grows by the tag. 0 or -EIO. */
int cv_srtp_protect(struct cv_srtp *s, uint8_t *pkt, size_t *len);
int cv_srtp_protect_rtcp(struct cv_srtp *s, uint8_t *pkt, size_t *len);
/* The browser's SRTCP, in place: 0 with the plain RTCP in pkt[0..*len), or -EBADMSG (forged,
 * replayed, or not ours). */
int cv_srtp_unprotect_rtcp(struct cv_srtp *s, uint8_t *pkt, size_t *len);
void cv_srtp_fini(struct cv_srtp *s);

#endif
