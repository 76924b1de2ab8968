/*
 * RTCP compound packets (see rtcp.h): a walk over the sub-packets for the SR and BYE a camera
 * sends, and writers for the RR (keep-alive) and SR we send.
 */
#include "common/net/rtcp.h"

#include <errno.h>
#include <string.h>

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* The report blocks of an SR (after 28 bytes) or RR (after 8), as many as the count says. */
static int cv_rtcp_blocks(const uint8_t *p, size_t plen, size_t skip, struct cv_rtcp_info *info)
{
    unsigned rc = p[0] & 0x1f;
    if (plen < skip + 24 * (size_t)rc)
        return -EBADMSG;
    for (unsigned i = 0; i < rc; i++) {
        const uint8_t *b = p + skip + 24 * i;
        if (info->rr_count >= CV_RTCP_MAX_RR) {
            info->rr_dropped++;
            continue;
        }
        struct cv_rtcp_report_block *r = &info->rr[info->rr_count++];
        r->ssrc = rd32(b);
        r->fraction_lost = b[4];
        r->cumulative_lost = rd32(b + 4) & 0xffffff;
        r->highest_seq = rd32(b + 8);
        r->jitter = rd32(b + 12);
        r->lsr = rd32(b + 16);
        r->dlsr = rd32(b + 20);
    }
    return 0;
}

/* A generic NACK's entries (after the 12-byte feedback header). */
static void cv_rtcp_nacks(const uint8_t *p, size_t plen, struct cv_rtcp_info *info)
{
    uint32_t media = rd32(p + 8);
    for (size_t off = 12; off + 4 <= plen; off += 4) {
        if (info->nack_count >= CV_RTCP_MAX_NACK) {
            info->nack_dropped++;
            continue;
        }
        struct cv_rtcp_nack *n = &info->nack[info->nack_count++];
        n->media_ssrc = media;
        n->pid = (uint16_t)(p[off] << 8 | p[off + 1]);
        n->blp = (uint16_t)(p[off + 2] << 8 | p[off + 3]);
    }
}

int cv_rtcp_parse(const uint8_t *buf, size_t len, struct cv_rtcp_info *info)
{
    size_t pos = 0;

    memset(info, 0, sizeof(*info));
    if (len < 4)
        return -EBADMSG;
    while (pos < len) {
        if (len - pos < 4 || (buf[pos] >> 6) != 2)
            return -EBADMSG;
        size_t plen = 4 * ((size_t)(buf[pos + 2] << 8 | buf[pos + 3]) + 1);
        if (plen > len - pos)
            return -EBADMSG;
        const uint8_t *p = buf + pos;
        if (p[1] == CV_RTCP_SR) {
            if (plen < 28)
                return -EBADMSG;
            if (!info->has_sr) { /* the first SR's sender info wins; every SR's blocks count */
                info->sr.ssrc = rd32(p + 4);
                info->sr.ntp = (uint64_t)rd32(p + 8) << 32 | rd32(p + 12);
                info->sr.rtp_ts = rd32(p + 16);
                info->sr.packets = rd32(p + 20);
                info->sr.octets = rd32(p + 24);
                info->has_sr = true;
            }
            if (cv_rtcp_blocks(p, plen, 28, info) < 0)
                return -EBADMSG;
        } else if (p[1] == CV_RTCP_RR) {
            if (plen < 8 || cv_rtcp_blocks(p, plen, 8, info) < 0)
                return -EBADMSG;
        } else if (p[1] == CV_RTCP_RTPFB && (p[0] & 0x1f) == 1) {
            if (plen < 12)
                return -EBADMSG;
            cv_rtcp_nacks(p, plen, info);
        } else if (p[1] == CV_RTCP_BYE) {
            info->bye = true;
        } else if (p[1] == CV_RTCP_PSFB && ((p[0] & 0x1f) == 1 || (p[0] & 0x1f) == 4)) {
            if (plen < 12)
                return -EBADMSG;
            info->wants_keyframe = true;
        }
        pos += plen;
    }
    return 0;
}

/* SDES with one chunk holding a CNAME item, padded to 32 bits. Length or -E2BIG. */
static int put_sdes(uint8_t *out, size_t size, uint32_t ssrc, const char *cname)
{
    size_t n = strlen(cname);
    if (n > 255)
        return -E2BIG;
    /* header 4 + ssrc 4 + type 1 + len 1 + text + at least one zero byte, to 4 bytes */
    size_t total = (4 + 4 + 2 + n + 1 + 3) & ~(size_t)3;
    if (total > size)
        return -E2BIG;
    memset(out, 0, total);
    out[0] = 0x81;
    out[1] = CV_RTCP_SDES;
    out[2] = (uint8_t)((total / 4 - 1) >> 8);
    out[3] = (uint8_t)(total / 4 - 1);
    wr32(out + 4, ssrc);
    out[8] = 1; /* CNAME */
    out[9] = (uint8_t)n;
    memcpy(out + 10, cname, n);
    return (int)total;
}

static int finish(uint8_t *out, size_t size, size_t n, uint32_t ssrc, const char *cname)
{
    if (cname) {
        int rc = put_sdes(out + n, size - n, ssrc, cname);
        if (rc < 0)
            return rc;
        n += (size_t)rc;
    }
    return (int)n;
}

int cv_rtcp_build_rr(uint8_t *out, size_t size, uint32_t ssrc,
                     const struct cv_rtcp_report_block *rb, const char *cname)
{
    size_t n = rb ? 32 : 8;

    if (size < n)
        return -E2BIG;
    out[0] = (uint8_t)(0x80 | (rb ? 1 : 0));
    out[1] = CV_RTCP_RR;
    out[2] = 0;
    out[3] = (uint8_t)(n / 4 - 1);
    wr32(out + 4, ssrc);
    if (rb) {
        wr32(out + 8, rb->ssrc);
        wr32(out + 12, (uint32_t)rb->fraction_lost << 24 | (rb->cumulative_lost & 0xffffff));
        wr32(out + 16, rb->highest_seq);
        wr32(out + 20, rb->jitter);
        wr32(out + 24, rb->lsr);
        wr32(out + 28, rb->dlsr);
    }
    return finish(out, size, n, ssrc, cname);
}

int cv_rtcp_build_sr(uint8_t *out, size_t size, const struct cv_rtcp_sr *sr, const char *cname)
{
    if (size < 28)
        return -E2BIG;
    out[0] = 0x80;
    out[1] = CV_RTCP_SR;
    out[2] = 0;
    out[3] = 6;
    wr32(out + 4, sr->ssrc);
    wr32(out + 8, (uint32_t)(sr->ntp >> 32));
    wr32(out + 12, (uint32_t)sr->ntp);
    wr32(out + 16, sr->rtp_ts);
    wr32(out + 20, sr->packets);
    wr32(out + 24, sr->octets);
    return finish(out, size, 28, sr->ssrc, cname);
}

uint64_t cv_rtcp_ntp_from_unix_ns(uint64_t ns)
{
    /* 70 years (17 of them leap) between the NTP and Unix epochs. */
    const uint64_t epoch_delta = 2208988800u;
    uint64_t sec = ns / 1000000000u + epoch_delta, rem = ns % 1000000000u;
    return sec << 32 | (rem << 32) / 1000000000u;
}
