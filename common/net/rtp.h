/*
 * RTP (RFC 3550) for camvisor's two directions, both allocation-free on the media path:
 *
 *  - the packetiser (server side) turns one ring frame into RTP packets in a caller-provided
 *    arena: H.264 (RFC 6184: single NAL unit or FU-A), H.265 (RFC 7798: single or FU), AAC
 *    (RFC 3640 AAC-hbr, one AU per packet), G.711 and Opus (payload as is);
 *  - the depacketiser (camera side) rebuilds access units from a camera's packets: H.264 single,
 *    STAP-A, FU-A; H.265 single, AP, FU; RFC 3640 with any number of AUs per packet or one AU
 *    fragmented over several; G.711 and Opus. An access unit is handed out the moment the packet
 *    carrying the RTP marker bit arrives, not when the next frame starts.
 *
 * Frame formats are those of common/media/media.h: video frames are NAL units with 4-byte
 * big-endian length prefixes; audio frames are raw AUs.
 *
 * RTCP lives in common/net/rtcp.h.
 */
#ifndef CV_RTP_H
#define CV_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

#define CV_RTP_HEADER_SIZE          12
#define CV_RTP_DEFAULT_MTU          1400       /* RTP packet size (header + payload) we send */
#define CV_RTP_MAX_AU               (4u << 20) /* depacketiser's default access-unit limit */
#define CV_RTP_INTERLEAVED_HEADROOM 4          /* '$', channel, 16-bit length */

struct cv_rtp_header {
    uint8_t version;
    bool padding;
    bool extension;
    bool marker;
    uint8_t csrc_count;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    size_t header_len;  /* fixed header + CSRC list + extension: where the payload starts */
    size_t payload_len; /* without the padding */
};

/* -EBADMSG unless version 2 and the CSRC list, extension and padding fit in len. */
int cv_rtp_header_parse(const uint8_t *pkt, size_t len, struct cv_rtp_header *h);
/* Writes a 12-byte header: version 2, no padding, extension or CSRCs. */
void cv_rtp_header_write(uint8_t *out, bool marker, uint8_t payload_type, uint16_t seq,
                         uint32_t timestamp, uint32_t ssrc);

/* --- packetiser -------------------------------------------------------------------------- */

/*
 * Per-track sender state; small and plain, so a server may keep one per (viewer, track) or share
 * one across viewers that receive the same packets. Fields may be read (RTP-Info needs seq and
 * the timestamp mapping) and, before the first packet, set.
 */
struct cv_rtp_packer {
    uint8_t codec; /* enum cv_codec */
    uint8_t payload_type;
    uint16_t seq; /* sequence number of the next packet */
    uint32_t ssrc;
    uint32_t ts_offset; /* RTP timestamp = (pts + ts_offset) mod 2^32 */
    uint16_t mtu;       /* largest RTP packet written, header included */
    uint16_t headroom;  /* bytes reserved before each packet, see cv_rtp_packetize */
    uint32_t packets;   /* sent counters, for a Sender Report */
    uint32_t octets;
};

/*
 * Sets up a packer with a random SSRC, first sequence number and timestamp offset (RFC 3550
 * 5.1). mtu 0 means CV_RTP_DEFAULT_MTU; it must be 64..65531. 0 or -EINVAL / -EIO.
 */
int cv_rtp_packer_init(struct cv_rtp_packer *p, enum cv_codec codec, uint8_t payload_type,
                       size_t mtu, size_t headroom);

/* Where one packet lies in the arena: the RTP header starts at arena + offset. */
struct cv_rtp_pkt {
    uint32_t offset;
    uint32_t len; /* RTP header + payload, headroom not included */
};

/* The caller's output space; packetize appends to it (used and count advance). */
struct cv_rtp_out {
    uint8_t *arena;
    size_t arena_size;
    size_t used;
    struct cv_rtp_pkt *pkts;
    size_t max_pkts;
    size_t count;
};

/* More NAL units of the same access unit follow in another call: no marker bit on this one. */
#define CV_RTP_PACK_MORE (1u << 0)

/*
 * Appends the packets of one frame (pts in the track's clock units) to out. Video: one packet
 * per NAL unit, or FU fragments for NAL units larger than the MTU; the marker bit goes on the
 * last packet of the access unit unless flags has CV_RTP_PACK_MORE (so a server can send the
 * ring's SPS/PPS in front of a keyframe that lacks them: call with the extradata and
 * CV_RTP_PACK_MORE, then with the frame, same pts). Audio: one packet per frame, marker set.
 *
 * TCP interleaving: with headroom >= 4, the 4 bytes before each packet hold '$', channel 0 and
 * the packet's length, so a sender whose viewers all use the same channel can send
 * arena + offset - 4 as is (patching byte 1 for another channel). A sender that fans one packet
 * out to viewers on different channels must not patch shared bytes while an earlier send is
 * queued: it should writev() a 4-byte header of its own and the packet instead (headroom 0).
 *
 * Returns 0; on error nothing is appended and the sequence number is unchanged: -ENOSPC when out
 * is full (see cv_rtp_packetize_bound), -EBADMSG for a malformed frame, -EMSGSIZE for an audio
 * frame larger than one packet, -EINVAL for an empty frame or unsupported codec.
 */
int cv_rtp_packetize(struct cv_rtp_packer *p, const uint8_t *frame, size_t len, int64_t pts,
                     unsigned flags, struct cv_rtp_out *out);

/* Upper bounds on the arena bytes (returned) and packets (*max_pkts) a frame of len can take. */
size_t cv_rtp_packetize_bound(const struct cv_rtp_packer *p, size_t len, size_t *max_pkts);

/* --- depacketiser ------------------------------------------------------------------------ */

struct cv_rtp_depack_cfg {
    uint8_t codec;        /* enum cv_codec */
    int16_t payload_type; /* packets of other types (comfort noise, FEC) are ignored; -1: any */
    uint32_t max_au;      /* access-unit limit in bytes; 0: CV_RTP_MAX_AU */
    /* RFC 3640 (AAC), from the SDP's fmtp: 13/3/3 for AAC-hbr */
    uint8_t aac_sizelength;
    uint8_t aac_indexlength;
    uint8_t aac_indexdeltalength;
};

/* One access unit, valid only during the callback. */
struct cv_rtp_au {
    const uint8_t *data; /* video: length-prefixed NAL units; audio: one raw AU */
    size_t len;
    uint32_t timestamp;    /* RTP timestamp */
    int64_t ext_timestamp; /* the same, unwrapped: keeps counting across the 2^32 wrap */
    bool keyframe;         /* H.264 IDR, H.265 IRAP; always true for audio */
    bool discont;          /* packets or AUs were lost since the previous AU handed out */
    bool params_changed;   /* in-band parameter sets differ from the known ones: see params */
    const uint8_t *params; /* current SPS/PPS (VPS) set, length-prefixed like extradata */
    size_t params_len;
};

typedef void (*cv_rtp_au_fn)(void *opaque, const struct cv_rtp_au *au);

struct cv_rtp_depack_stats {
    uint64_t packets;     /* accepted */
    uint64_t ignored;     /* other payload types */
    uint64_t bad;         /* malformed or unsupported packets */
    uint64_t lost;        /* sequence numbers never seen */
    uint64_t late;        /* reordered or duplicated packets, dropped */
    uint64_t aus;         /* access units handed out */
    uint64_t dropped_aus; /* access units discarded: loss inside, malformed, too large */
    uint64_t oversize;    /* of those, too large */
};

struct cv_rtp_depack;

/*
 * Creates a depacketiser; its access-unit buffer (cfg->max_au, or 64 KiB for AAC) is allocated
 * here, once. fn is called from cv_rtp_depack_push, zero or more times per packet. -EINVAL for an
 * unsupported codec or AAC parameters, -ENOMEM.
 */
int cv_rtp_depack_new(struct cv_rtp_depack **out, const struct cv_rtp_depack_cfg *cfg,
                      cv_rtp_au_fn fn, void *opaque);
void cv_rtp_depack_free(struct cv_rtp_depack *d);

/*
 * Seeds the known parameter sets (from the SDP), so that the same sets arriving in-band do not
 * count as a change. Video only; -EINVAL for malformed extradata, -E2BIG when too large.
 */
int cv_rtp_depack_set_params(struct cv_rtp_depack *d, const uint8_t *extradata, size_t len);

/*
 * Consumes one RTP packet. Calls fn for every access unit it completes: the one the marker bit
 * closes, one that a timestamp change closes when a sender forgot the marker, each AU of an
 * RFC 3640 packet. An access unit that lost a packet, or held a malformed one, is dropped and
 * counted, and the next one handed out carries discont. After a loss the depacketiser cannot know
 * whether the next video AU lost its head, so it drops that AU too, except when exactly one packet
 * went missing between an AU that never saw its marker and a new timestamp (it was the marker
 * packet). Late and duplicate packets are dropped: there is no jitter buffer, so a UDP receiver
 * that sees reordering loses the AU. A new SSRC starts the stream afresh. An AU made only of
 * parameter sets/SEI is prepended to the next AU instead of being handed out alone.
 * Returns 0; -EBADMSG / -ENOTSUP for a malformed or unsupported packet, -E2BIG when an access
 * unit outgrew max_au (AUs completed before the error are still handed out).
 */
int cv_rtp_depack_push(struct cv_rtp_depack *d, const uint8_t *pkt, size_t len);

/* Hands out a video AU still open (no marker seen yet), e.g. at the end of a stream. */
void cv_rtp_depack_flush(struct cv_rtp_depack *d);
/* Forgets the stream (sequence, AU in progress) but keeps the parameter sets; for reconnects. */
void cv_rtp_depack_reset(struct cv_rtp_depack *d);
const struct cv_rtp_depack_stats *cv_rtp_depack_stats(const struct cv_rtp_depack *d);

#endif
