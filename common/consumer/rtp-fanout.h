/*
 * The RTP fan-out of one feed, for any consumer that sends RTP (camvisor-rtsp, camvisor-webrtc):
 * each frame the feed reads is packetised once, and the same packets are offered to every
 * playing viewer through the consumer's send op, which only frames them for its transport
 * (interleaved TCP, UDP, SRTP).
 *
 *   cv_rtp_fanout_init()        packet size (a WebRTC sender keeps room for SRTP), send op
 *   feed ops -> cv_rtp_fanout_params / _discontinuity / _frame
 *   new viewer: cv_rtp_fanout_catch_up_plan() (numbers for the reply: RTP-Info), then, once
 *               it plays, cv_rtp_fanout_catch_up_send(): the frames since the newest keyframe,
 *               numbered just before the live packets so that the viewer sees one gapless
 *               sequence and the other viewers' numbering is untouched
 *   cv_rtp_fanout_sr()          a Sender Report's clock mapping for a track (RFC 3550 6.4.1)
 *
 * A writer restart (a new worker) or a new ring rebases each track's RTP timestamps at its next
 * frame, 20 ms after the last one sent: viewers see a gap in time, never a jump back, and stay
 * on their RTP session. New codec parameters re-initialise a track's packetiser.
 *
 * Ownership: the fan-out owns its packet arena; the consumer owns its viewers (struct
 * cv_rtp_viewer embedded in its connection or session) and the feed.
 */
#ifndef CV_CONSUMER_RTP_FANOUT_H
#define CV_CONSUMER_RTP_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/consumer/feed.h"
#include "common/net/rtcp.h"
#include "common/net/rtp.h"
#include "proto/msg.h"

#define CV_RTP_FANOUT_ARENA    (4u << 20) /* RTP bytes of one frame */
#define CV_RTP_FANOUT_MAX_PKTS 4096

/* One viewer: embed it; fv is what the feed links (cv_feed_viewer_attach(feed, &v->fv)). */
struct cv_rtp_viewer {
    struct cv_feed_viewer fv;
    bool playing;  /* set by the consumer: live packets go to it from now on */
    bool need_key; /* it joined with nothing cached: its first packets are a keyframe's */
};

struct cv_rtp_fanout;

struct cv_rtp_fanout_ops {
    /* One frame's packets of feed track `track`, to a playing viewer. Returns < 0 when the
     * viewer is gone (closed meanwhile): a catch-up to it stops. */
    int (*send)(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                const struct cv_rtp_pkt *pkts, size_t count);
    /* Each live frame's packets once, before any viewer's send (a retransmission history
     * keeps them); may be NULL. */
    void (*packets)(struct cv_rtp_fanout *fo, int track, const uint8_t *arena,
                    const struct cv_rtp_pkt *pkts, size_t count);
};

struct cv_rtp_fanout {
    const struct cv_rtp_fanout_ops *ops;
    void *ctx;                         /* the consumer's, for ops->packets */
    struct cv_feed *feed;              /* not owned */
    const struct cv_stream_info *info; /* the feed's codec parameters */
    char camera[CV_NAME_MAX];          /* for the log */
    size_t mtu;                        /* RTP packet size, header included */
    bool in_band_params; /* keyframes without SPS/PPS(/VPS) get the ring's in front of them */
    bool g711_20ms;      /* G.711 frames go out in 20 ms packets (WebRTC receivers expect it) */
    /* G.711 samples short of a whole 20 ms packet, sent with the next frame's (g711_20ms). */
    uint8_t g711_rest[CV_MAX_TRACKS][320];
    uint16_t g711_rest_len[CV_MAX_TRACKS];
    int64_t g711_rest_pts[CV_MAX_TRACKS];
    struct cv_rtp_packer packers[CV_MAX_TRACKS];
    int64_t last_pts[CV_MAX_TRACKS];         /* of the last frame fanned out */
    uint64_t last_arrival_ns[CV_MAX_TRACKS]; /* its arrival (CLOCK_MONOTONIC), for SRs */
    bool rebase[CV_MAX_TRACKS]; /* a new writer: move ts_offset at the track's next frame */
    uint8_t *arena;             /* owned: one frame's packets */
    struct cv_rtp_pkt *pkts;    /* owned */
};

/* 0 or -ENOMEM. mtu 0: CV_RTP_DEFAULT_MTU. Call cv_rtp_fanout_set_feed() once the feed opens.
 * Set fo->in_band_params for receivers that take the parameter sets only in band (a browser
 * over WebRTC; an RTSP client has them in the SDP): a camera that sends them only in its own SDP
 * then still gives a decodable keyframe. */
int cv_rtp_fanout_init(struct cv_rtp_fanout *fo, const char *camera, size_t mtu,
                       const struct cv_rtp_fanout_ops *ops);
void cv_rtp_fanout_set_feed(struct cv_rtp_fanout *fo, struct cv_feed *feed);
void cv_rtp_fanout_fini(struct cv_rtp_fanout *fo);

/* From the feed's ops (common/consumer/feed.h). */
void cv_rtp_fanout_params(struct cv_rtp_fanout *fo, const struct cv_stream_info *prev,
                          const struct cv_stream_info *info);
void cv_rtp_fanout_discontinuity(struct cv_rtp_fanout *fo, enum cv_feed_discont why);
void cv_rtp_fanout_frame(struct cv_rtp_fanout *fo, const struct cv_frame *fr, const uint8_t *data);

/* A new viewer's catch-up. */
struct cv_rtp_catchup {
    uint16_t seq0[CV_MAX_TRACKS]; /* RTP sequence number of its first packet, per track */
    uint32_t ts0[CV_MAX_TRACKS];  /* RTP timestamp of its first packet, per track */
    size_t packets[CV_MAX_TRACKS];
    size_t frames;
};
void cv_rtp_fanout_catch_up_plan(struct cv_rtp_fanout *fo, struct cv_rtp_catchup *plan);
/* Sends the planned frames to v (which must be playing) and sets v->need_key when there were
 * none. Send it before the feed reads another frame: the plan numbers what is cached now. */
void cv_rtp_fanout_catch_up_send(struct cv_rtp_fanout *fo, struct cv_rtp_viewer *v,
                                 struct cv_rtp_catchup *plan);

/* A Sender Report for track t: 0, or -EAGAIN when the track had no frame within max_age_ms
 * (nothing to map: send none). The report's RTP timestamp is the last frame's moved on by the
 * time since it arrived, so every track of a camera is mapped through one (arrival) clock. */
int cv_rtp_fanout_sr(const struct cv_rtp_fanout *fo, int t, uint64_t max_age_ms,
                     struct cv_rtcp_sr *sr);

#endif
