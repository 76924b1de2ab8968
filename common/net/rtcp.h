/*
 * RTCP (RFC 3550 6.4) as far as camvisor needs it: the camera client reads Sender Reports to map
 * RTP timestamps to wallclock and notices BYE; it sends Receiver Reports so that cameras streaming
 * over UDP keep the session alive. The RTSP server sends Sender Reports and reads its viewers'
 * PLI/FIR (a keyframe request). Pure code.
 */
#ifndef CV_RTCP_H
#define CV_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CV_RTCP_SR       200
#define CV_RTCP_RR       201
#define CV_RTCP_SDES     202
#define CV_RTCP_BYE      203
#define CV_RTCP_RTPFB    205 /* transport-layer feedback (RFC 4585): FMT 1 generic NACK */
#define CV_RTCP_PSFB     206 /* payload-specific feedback (RFC 4585): FMT 1 PLI, FMT 4 FIR (5104) */
#define CV_RTCP_MAX_RR   4   /* report blocks kept from one compound packet */
#define CV_RTCP_MAX_NACK 32  /* NACK entries (a packet id and its bitmask of 16 more) kept */

struct cv_rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp;    /* NTP timestamp: seconds since 1900 << 32 | fraction */
    uint32_t rtp_ts; /* the same instant in the RTP clock */
    uint32_t packets;
    uint32_t octets;
};

struct cv_rtcp_report_block {
    uint32_t ssrc; /* the source reported on */
    uint8_t fraction_lost;
    uint32_t cumulative_lost; /* 24 bits */
    uint32_t highest_seq;     /* extended highest sequence number received */
    uint32_t jitter;
    uint32_t lsr;  /* middle 32 bits of the last SR's NTP timestamp */
    uint32_t dlsr; /* delay since that SR, 1/65536 s */
};

/* One generic NACK entry (RFC 4585 6.2.1): packet pid lost, and pid + i + 1 for each bit i. */
struct cv_rtcp_nack {
    uint32_t media_ssrc;
    uint16_t pid, blp;
};

/* What a compound packet said; the first SR wins when there are several. Report blocks and NACK
 * entries past their limits are counted in *_dropped, not kept. */
struct cv_rtcp_info {
    bool has_sr;
    bool bye;
    bool wants_keyframe; /* a PLI or FIR: a viewer lost the picture and asks for a keyframe */
    struct cv_rtcp_sr sr;
    unsigned rr_count, rr_dropped; /* report blocks of RRs and SRs */
    struct cv_rtcp_report_block rr[CV_RTCP_MAX_RR];
    unsigned nack_count, nack_dropped;
    struct cv_rtcp_nack nack[CV_RTCP_MAX_NACK];
};

/*
 * Walks a compound packet (every sub-packet must be version 2 and fit). 0, or -EBADMSG when a
 * length or version is wrong (what came before the bad sub-packet is still filled in).
 */
int cv_rtcp_parse(const uint8_t *buf, size_t len, struct cv_rtcp_info *info);

/*
 * Receiver Report from ssrc with zero or one report block, followed by an SDES CNAME when cname
 * is not NULL (a compound packet must carry one; cname at most 255 bytes). Returns the length or
 * -E2BIG.
 */
int cv_rtcp_build_rr(uint8_t *out, size_t size, uint32_t ssrc,
                     const struct cv_rtcp_report_block *rb, const char *cname);

/* Sender Report with no report blocks, plus SDES CNAME as above. Length or -E2BIG. */
int cv_rtcp_build_sr(uint8_t *out, size_t size, const struct cv_rtcp_sr *sr, const char *cname);

/* NTP timestamp of a CLOCK_REALTIME instant in nanoseconds since 1970. */
uint64_t cv_rtcp_ntp_from_unix_ns(uint64_t ns);

#endif
