/*
 * One media track of a camera RTSP session, receiving side: the depacketiser (common/net/rtp.h),
 * the UDP port pair when the camera sends over UDP, RTCP in (Sender Reports, for the receiver
 * reports' LSR/DLSR) and RTCP receiver reports out. Over TCP the packets come from the RTSP
 * connection (worker/rtsp-client.h) and are handed in by the source; over UDP the track reads
 * its own sockets on the worker's event loop. Owned by worker/src-rtsp.c, one per track per
 * connection; everything is released by cv_rtsp_track_close().
 */
#ifndef CV_RTSP_TRACK_H
#define CV_RTSP_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/net/rtp.h"
#include "common/net/sdp.h"

struct event;
struct event_base;
struct cv_rtspc;
struct cv_rtsp_track;
struct cv_src_rtsp_conn;

struct cv_rtsp_track_cbs {
    /* An access unit completed by the packet that arrived at arrival_ns (CLOCK_MONOTONIC). */
    void (*on_au)(struct cv_rtsp_track *t, const struct cv_rtp_au *au, uint64_t arrival_ns);
    /* The track cannot go on (a UDP socket failed); why holds no secret. */
    void (*on_error)(struct cv_rtsp_track *t, int err, const char *why);
};

struct cv_rtsp_track {
    /* The owner's, untouched here. */
    struct cv_src_rtsp_conn *conn;
    unsigned index;     /* in the ring's stream info */
    unsigned sdp_index; /* in the camera's SDP */
    bool ready;         /* SETUP answered */
    bool held_logged;
    bool have_base; /* timeline anchor, see src-rtsp.c */
    int64_t base_ext, base_pts;

    const struct cv_rtsp_track_cbs *cbs;
    struct cv_rtp_depack *depack; /* owned */
    uint64_t arrival_ns;          /* of the packet being depacketised */
    uint8_t payload_type;
    uint8_t codec; /* enum cv_codec */
    uint8_t *au;   /* owned: an access unit rewritten by cv_rtsp_track_dedupe */
    size_t au_cap;
    uint8_t ch[2]; /* TCP: interleaved channels for RTP and RTCP */

    /* UDP */
    int fd[2];                       /* owned: RTP and RTCP sockets, -1 */
    struct event *ev[2];             /* owned */
    uint16_t local_port[2];          /* even, odd */
    struct sockaddr_storage peer[2]; /* the camera's RTP and RTCP ports */
    socklen_t peer_len;
    bool peer_ports; /* server_port known */
    uint8_t *buf;    /* owned: one datagram */

    /* Receiver statistics for RTCP RR (RFC 3550 A.3). */
    bool have_ssrc;
    uint32_t ssrc;
    uint16_t max_seq;
    uint32_t cycles;
    uint32_t rr_ssrc; /* ours */
    uint32_t last_sr; /* middle 32 bits of the last SR's NTP time, 0: none */
    uint64_t last_sr_ns;
    uint64_t bad_logged;
};

/* Resets t to hold nothing (every fd -1), so cv_rtsp_track_close() is always safe. */
void cv_rtsp_track_init(struct cv_rtsp_track *t);

/*
 * Creates the depacketiser for st, seeded with the parameter sets in info->extradata (which may
 * be the SDP's or those of an earlier connection). 0 or a negative errno.
 */
int cv_rtsp_track_open(struct cv_rtsp_track *t, const struct cv_sdp_track *st,
                       const struct cv_track_info *info, const struct cv_rtsp_track_cbs *cbs);

/*
 * Binds an even/odd UDP port pair (local_port) in the family of camera, reading on base, and
 * accepting datagrams only from camera's address. 0 or a negative errno.
 */
int cv_rtsp_track_udp_open(struct cv_rtsp_track *t, struct event_base *base,
                           const struct sockaddr_storage *camera, socklen_t len);
/* The camera's server_port pair from SETUP: sends the NAT-opening packets to both. */
void cv_rtsp_track_udp_connect(struct cv_rtsp_track *t, const uint16_t server_port[2]);
void cv_rtsp_track_udp_close(struct cv_rtsp_track *t);
void cv_rtsp_track_close(struct cv_rtsp_track *t);

/* One RTP or RTCP packet from the camera. */
void cv_rtsp_track_rtp(struct cv_rtsp_track *t, const uint8_t *pkt, size_t len,
                       uint64_t arrival_ns);
void cv_rtsp_track_rtcp(struct cv_rtsp_track *t, const uint8_t *pkt, size_t len,
                        uint64_t arrival_ns);

/* Sends a receiver report: over UDP to the camera's RTCP port, else interleaved on client. */
void cv_rtsp_track_send_rr(struct cv_rtsp_track *t, struct cv_rtspc *client, uint64_t now_ns);

#endif
