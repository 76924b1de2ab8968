/*
 * A camera's RTP and RTCP on any bytes. The input is a packet sequence in RFC 4571 framing (a
 * 16-bit length before each packet, as GStreamer's rtpstreampay writes it), pushed through the
 * H.264, H.265, AAC (hbr and lbr), G.711 depacketisers and the RTCP parser. Checked beyond "no
 * crash": every access unit handed out is well-formed length-prefixed NAL units (video) within
 * the AU limit, its parameter sets too, and a plain video AU survives our packetiser and
 * depacketiser unchanged.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/rtcp.h"
#include "common/net/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_AU (64u << 10) /* small, so the fuzzer reaches the limit */

static struct cv_rtp_depack *deps[6], *inner[2];
static uint8_t arena[MAX_AU * 2];
static struct cv_rtp_pkt pkts[MAX_AU / 8];
static const uint8_t *want;
static size_t want_len;
static int matched;

static int nal_type(uint8_t codec, const uint8_t *nal)
{
    return codec == CV_CODEC_H264 ? (nal[0] & 0x1f) : ((nal[0] >> 1) & 0x3f);
}

/* Walks length-prefixed NAL units; -1 when malformed, else a mask: 1 plain, 2 has a VCL unit. */
static int walk(uint8_t codec, const uint8_t *d, size_t len)
{
    size_t pos = 0;
    int plain = 1, vcl = 0;
    while (pos < len) {
        if (len - pos < 4)
            return -1;
        size_t n =
            (size_t)d[pos] << 24 | (size_t)d[pos + 1] << 16 | (size_t)d[pos + 2] << 8 | d[pos + 3];
        if (n == 0 || n > len - pos - 4)
            return -1;
        const uint8_t *nal = d + pos + 4;
        int t = nal_type(codec, nal);
        if (codec == CV_CODEC_H265 && n < 2)
            return -1;
        /* Only NAL units a packetiser may send as themselves round-trip unchanged. */
        if ((nal[0] & 0x80) || (codec == CV_CODEC_H264 ? (t == 0 || t > 23) : t > 47))
            plain = 0;
        if (codec == CV_CODEC_H264 ? (t >= 1 && t <= 5) : t <= 31)
            vcl = 2;
        pos += 4 + n;
    }
    return plain | vcl;
}

static void on_inner(void *opaque, const struct cv_rtp_au *au)
{
    (void)opaque;
    if (au->len != want_len || memcmp(au->data, want, want_len) != 0)
        abort();
    matched++;
}

static void on_au(void *opaque, const struct cv_rtp_au *au)
{
    uint8_t codec = (uint8_t)(uintptr_t)opaque;
    if (au->len == 0 || au->len > MAX_AU)
        abort();
    if (codec != CV_CODEC_H264 && codec != CV_CODEC_H265)
        return;
    int w = walk(codec, au->data, au->len);
    if (w < 0 || walk(codec, au->params, au->params_len) < 0 || au->params_len > CV_MAX_EXTRADATA)
        abort();
    if (w != 3)
        return;

    /* Round trip through our packetiser. */
    struct cv_rtp_packer p;
    struct cv_rtp_out out = {arena, sizeof(arena), 0, pkts, sizeof(pkts) / sizeof(pkts[0]), 0};
    struct cv_rtp_depack *d = inner[codec == CV_CODEC_H265];
    if (cv_rtp_packer_init(&p, codec, 96, 200, 0) < 0 ||
        cv_rtp_packetize(&p, au->data, au->len, au->timestamp, 0, &out) < 0)
        abort();
    want = au->data;
    want_len = au->len;
    matched = 0;
    cv_rtp_depack_reset(d);
    for (size_t i = 0; i < out.count; i++)
        if (cv_rtp_depack_push(d, arena + pkts[i].offset, pkts[i].len) < 0)
            abort();
    if (matched != 1)
        abort();
}

static void init(void)
{
    static const struct cv_rtp_depack_cfg cfgs[6] = {
        {.codec = CV_CODEC_H264, .payload_type = -1, .max_au = MAX_AU},
        {.codec = CV_CODEC_H265, .payload_type = -1, .max_au = MAX_AU},
        {.codec = CV_CODEC_AAC,
         .payload_type = -1,
         .aac_sizelength = 13,
         .aac_indexlength = 3,
         .aac_indexdeltalength = 3},
        {.codec = CV_CODEC_AAC,
         .payload_type = -1,
         .aac_sizelength = 6,
         .aac_indexlength = 2,
         .aac_indexdeltalength = 2},
        {.codec = CV_CODEC_PCMA, .payload_type = 8},
        {.codec = CV_CODEC_OPUS, .payload_type = -1},
    };
    for (int i = 0; i < 6; i++)
        if (cv_rtp_depack_new(&deps[i], &cfgs[i], on_au, (void *)(uintptr_t)cfgs[i].codec) < 0)
            abort();
    for (int i = 0; i < 2; i++)
        if (cv_rtp_depack_new(&inner[i], &cfgs[i], on_inner, NULL) < 0)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    if (!deps[0])
        init();
    for (int i = 0; i < 6; i++)
        cv_rtp_depack_reset(deps[i]);
    while (size - pos >= 2) {
        size_t len = (size_t)(data[pos] << 8 | data[pos + 1]);
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        const uint8_t *pkt = data + pos;
        struct cv_rtcp_info info;
        uint8_t copy[64];
        if (cv_rtcp_parse(pkt, len, &info) == 0 && info.has_sr) {
            struct cv_rtcp_info again;
            int n = cv_rtcp_build_sr(copy, sizeof(copy), &info.sr, "x");
            if (n < 0 || cv_rtcp_parse(copy, (size_t)n, &again) < 0 || !again.has_sr ||
                again.sr.ntp != info.sr.ntp || again.sr.rtp_ts != info.sr.rtp_ts)
                abort();
        }
        for (int i = 0; i < 6; i++)
            cv_rtp_depack_push(deps[i], pkt, len);
        pos += len;
    }
    for (int i = 0; i < 6; i++)
        cv_rtp_depack_flush(deps[i]);
    return 0;
}
