/*
 * SDP building for our RTSP server's DESCRIBE answers (see sdp.h). The output is what FFmpeg,
 * GStreamer, VLC and Home Assistant expect from go2rtc-like servers: one aggregate control "*",
 * one m= line per selected track with port 0, and a=control:trackID=<ring track index>, which is
 * also what the server matches SETUP URLs against.
 */
#include "common/net/sdp.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/base/base64.h"
#include "common/media/nal.h"

struct out {
    char *buf;
    size_t size;
    size_t n; /* length the text would have; > size means it did not fit */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->n < o->size ? o->buf + o->n : NULL, o->n < o->size ? o->size - o->n : 0,
                      fmt, ap);
    va_end(ap);
    if (w > 0)
        o->n += (size_t)w;
}

/* Writes the base64 of every NAL unit of type type in extradata, comma-separated. */
static unsigned put_sets(struct out *o, const struct cv_track_info *t, unsigned type,
                         const char *prefix)
{
    char b64[CV_BASE64_SIZE(CV_MAX_EXTRADATA)];
    size_t len = t->extradata_len > CV_MAX_EXTRADATA ? 0 : t->extradata_len, pos = 0, n;
    const uint8_t *nal;
    unsigned count = 0;

    while (cv_nal_next(t->extradata, len, &pos, &nal, &n)) {
        if (cv_nal_type((enum cv_codec)t->codec, nal) != (int)type)
            continue;
        if (!cv_base64_encode(b64, sizeof(b64), nal, n))
            continue;
        put(o, "%s%s", count ? "," : prefix, b64);
        count++;
    }
    return count;
}

uint8_t cv_sdp_payload_type(const struct cv_track_info *t)
{
    switch (t->codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265: return 96;
    case CV_CODEC_AAC: return 97;
    case CV_CODEC_OPUS: return 111;
    case CV_CODEC_PCMA: return t->clock_rate == 8000 && t->channels <= 1 ? 8 : 98;
    case CV_CODEC_PCMU: return t->clock_rate == 8000 && t->channels <= 1 ? 0 : 99;
    default: return 0;
    }
}

static void put_h264(struct out *o, const struct cv_track_info *t, unsigned pt)
{
    size_t len = t->extradata_len > CV_MAX_EXTRADATA ? 0 : t->extradata_len, pos = 0, n;
    const uint8_t *nal;

    put(o, "a=rtpmap:%u H264/%" PRIu32 "\r\na=fmtp:%u packetization-mode=1", pt, t->clock_rate, pt);
    while (cv_nal_next(t->extradata, len, &pos, &nal, &n))
        if (cv_nal_type(CV_CODEC_H264, nal) == 7 && n >= 4) {
            /* profile_idc, constraint flags, level_idc: the three bytes after the header. */
            put(o, ";profile-level-id=%02X%02X%02X", nal[1], nal[2], nal[3]);
            break;
        }
    if (put_sets(o, t, 7, ";sprop-parameter-sets="))
        put_sets(o, t, 8, ",");
    put(o, "\r\n");
}

static void put_h265(struct out *o, const struct cv_track_info *t, unsigned pt)
{
    put(o, "a=rtpmap:%u H265/%" PRIu32 "\r\n", pt, t->clock_rate);
    size_t mark = o->n;
    put(o, "a=fmtp:%u ", pt);
    size_t start = o->n;
    if (put_sets(o, t, 32, "sprop-vps=") && put_sets(o, t, 33, ";sprop-sps="))
        put_sets(o, t, 34, ";sprop-pps=");
    if (o->n == start)
        o->n = mark; /* nothing known yet: no fmtp line at all */
    else
        put(o, "\r\n");
    if (o->n < o->size)
        o->buf[o->n] = '\0';
}

static void put_aac(struct out *o, const struct cv_track_info *t, unsigned pt)
{
    put(o,
        "a=rtpmap:%u MPEG4-GENERIC/%" PRIu32 "/%u\r\n"
        "a=fmtp:%u streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;"
        "indexdeltalength=3",
        pt, t->clock_rate, t->channels ? t->channels : 1u, pt);
    if (t->extradata_len > 0 && t->extradata_len <= CV_MAX_EXTRADATA) {
        put(o, ";config=");
        for (size_t i = 0; i < t->extradata_len; i++)
            put(o, "%02X", t->extradata[i]);
    }
    put(o, "\r\n");
}

static int put_track(struct out *o, const struct cv_track_info *t, unsigned index)
{
    unsigned pt = cv_sdp_payload_type(t);
    unsigned ch = t->channels ? t->channels : 1;

    switch (t->codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265:
        put(o, "m=video 0 RTP/AVP %u\r\n", pt);
        if (t->codec == CV_CODEC_H264)
            put_h264(o, t, pt);
        else
            put_h265(o, t, pt);
        if (t->fps_x100)
            put(o, "a=framerate:%u.%02u\r\n", t->fps_x100 / 100u, t->fps_x100 % 100u);
        break;
    case CV_CODEC_AAC:
        put(o, "m=audio 0 RTP/AVP %u\r\n", pt);
        put_aac(o, t, pt);
        break;
    case CV_CODEC_PCMA:
    case CV_CODEC_PCMU:
        put(o, "m=audio 0 RTP/AVP %u\r\na=rtpmap:%u %s/%" PRIu32, pt, pt,
            t->codec == CV_CODEC_PCMA ? "PCMA" : "PCMU", t->clock_rate);
        if (ch > 1)
            put(o, "/%u", ch);
        put(o, "\r\n");
        break;
    case CV_CODEC_OPUS:
        /* RFC 7587: always opus/48000/2; whether the source is stereo goes in the fmtp. */
        put(o, "m=audio 0 RTP/AVP %u\r\na=rtpmap:%u opus/48000/2\r\na=fmtp:%u sprop-stereo=%d\r\n",
            pt, pt, pt, ch > 1);
        break;
    default: return -EINVAL;
    }
    put(o, "a=control:trackID=%u\r\n", index);
    return 0;
}

int cv_sdp_build(const struct cv_stream_info *si, const unsigned *sel, unsigned nsel,
                 uint64_t session_id, char *out, size_t size)
{
    struct out o = {out, size, 0};
    int rc;

    if (size == 0)
        return -E2BIG;
    out[0] = '\0';
    put(&o,
        "v=0\r\no=- %" PRIu64 " 1 IN IP4 0.0.0.0\r\ns=camvisor\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"
        "a=tool:camvisor\r\na=control:*\r\na=range:npt=now-\r\n",
        session_id);
    for (unsigned i = 0; i < nsel; i++) {
        if (sel[i] >= si->track_count || sel[i] >= CV_MAX_TRACKS)
            return -EINVAL;
        if ((rc = put_track(&o, &si->tracks[sel[i]], sel[i])) < 0)
            return rc;
    }
    if (o.n >= size)
        return -E2BIG;
    return (int)o.n;
}
