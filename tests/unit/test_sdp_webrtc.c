/*
 * WebRTC SDP: offers in the shapes browsers send them (written for these tests after Chrome 12x's
 * unified-plan offers with BUNDLE and a data channel, this machine's Chromium whose H.264 list has
 * no High profile, Chrome 136's H.265, Firefox's session-level fingerprint and "/recvonly" extmaps,
 * aiortc 1.4 with LF line ends and its candidates), the codec choice for camera tracks, answers
 * parsed back with our own parser, our host and server-reflexive candidates line by line,
 * malformed and over-limit offers, and -E2BIG.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/net/sdp-webrtc.h"

static struct cv_webrtc_sdp_offer offer, back;
static char text[16384];

#define FP_CHROME                                                                                  \
    "E4:5A:2C:91:0B:7F:33:D8:6A:C2:15:9E:F0:47:B3:28:8D:61:AE:04:5C:F9:72:1B:C6:3E:A8:D0:97:4F:"   \
    "20:E5"
#define FP_OURS                                                                                    \
    "0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:"   \
    "E1:F0"
#define FB_VIDEO(pt)                                                                               \
    "a=rtcp-fb:" pt " goog-remb\r\na=rtcp-fb:" pt " transport-cc\r\na=rtcp-fb:" pt                 \
    " ccm fir\r\na=rtcp-fb:" pt " nack\r\na=rtcp-fb:" pt " nack pli\r\n"
#define H264(pt, rtx, mode, plid)                                                                  \
    "a=rtpmap:" pt                                                                                 \
    " H264/90000\r\n" FB_VIDEO(pt) "a=fmtp:" pt                                                    \
                                   " level-asymmetry-allowed=1;packetization-mode=" mode           \
                                   ";profile-level-id=" plid "\r\n"                                \
                                   "a=rtpmap:" rtx " rtx/90000\r\na=fmtp:" rtx " apt=" pt "\r\n"
#define CHROME_TRANSPORT(mid)                                                                      \
    "c=IN IP4 0.0.0.0\r\n"                                                                         \
    "a=rtcp:9 IN IP4 0.0.0.0\r\n"                                                                  \
    "a=ice-ufrag:Vx3b\r\n"                                                                         \
    "a=ice-pwd:7nKyqJ4mQ0r2mF3bL0vG9zaP\r\n"                                                       \
    "a=ice-options:trickle\r\n"                                                                    \
    "a=fingerprint:sha-256 " FP_CHROME "\r\n"                                                      \
    "a=setup:actpass\r\n"                                                                          \
    "a=mid:" mid "\r\n"

#define CHROME_HEAD                                                                                \
    "v=0\r\n"                                                                                      \
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"                                               \
    "s=-\r\n"                                                                                      \
    "t=0 0\r\n"                                                                                    \
    "a=group:BUNDLE 0 1 2\r\n"                                                                     \
    "a=extmap-allow-mixed\r\n"                                                                     \
    "a=msid-semantic: WMS\r\n"

#define CHROME_VIDEO_EXTMAPS                                                                       \
    "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n"                                            \
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"                    \
    "a=extmap:3 urn:3gpp:video-orientation\r\n"                                                    \
    "a=extmap:4 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"     \
    "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"                    \
    "a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type\r\n"               \
    "a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing\r\n"                     \
    "a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space\r\n"                      \
    "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"                                           \
    "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n"                                \
    "a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id\r\n"

#define CHROME_AUDIO_AND_DATA                                                                      \
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n" CHROME_TRANSPORT(                    \
        "1") "a=extmap:14 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"                         \
             "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"           \
             "a=extmap:4 "                                                                         \
             "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"       \
             "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"                                  \
             "a=recvonly\r\n"                                                                      \
             "a=rtcp-mux\r\n"                                                                      \
             "a=rtpmap:111 opus/48000/2\r\n"                                                       \
             "a=rtcp-fb:111 transport-cc\r\n"                                                      \
             "a=fmtp:111 minptime=10;useinbandfec=1\r\n"                                           \
             "a=rtpmap:63 red/48000/2\r\n"                                                         \
             "a=fmtp:63 111/111\r\n"                                                               \
             "a=rtpmap:9 G722/8000\r\n"                                                            \
             "a=rtpmap:0 PCMU/8000\r\n"                                                            \
             "a=rtpmap:8 PCMA/8000\r\n"                                                            \
             "a=rtpmap:13 CN/8000\r\n"                                                             \
             "a=rtpmap:110 telephone-event/48000\r\n"                                              \
             "a=rtpmap:126 telephone-event/8000\r\n"                                               \
             "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" CHROME_TRANSPORT(              \
                 "2") "a=sctp-port:5000\r\n"                                                       \
                      "a=max-message-size:262144\r\n"

/* Desktop Chrome 12x: recvonly video and audio transceivers plus a data channel. */
static const char chrome[] = CHROME_HEAD
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 99 "
    "100 101 123 122 112 113 116 117 118\r\n" CHROME_TRANSPORT("0") CHROME_VIDEO_EXTMAPS
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n" FB_VIDEO(
        "96") "a=rtpmap:97 rtx/90000\r\n"
              "a=fmtp:97 apt=96\r\n" H264("102", "103", "1", "42001f")
                  H264("104", "105", "0", "42001f") H264("106", "107", "1", "42e01f") H264(
                      "108", "109", "0", "42e01f") H264("127", "125", "1", "4d001f")
                      H264("39", "40", "0", "4d001f") "a=rtpmap:45 AV1/90000\r\n" FB_VIDEO(
                          "45") "a=fmtp:45 level-idx=5;profile=0;tier=0\r\n"
                                "a=rtpmap:46 rtx/90000\r\n"
                                "a=fmtp:46 apt=45\r\n"
                                "a=rtpmap:98 VP9/90000\r\n" FB_VIDEO(
                                    "98") "a=fmtp:98 profile-id=0\r\n"
                                          "a=rtpmap:99 rtx/90000\r\n"
                                          "a=fmtp:99 apt=98\r\n"
                                          "a=rtpmap:100 VP9/90000\r\n" FB_VIDEO(
                                              "100") "a=fmtp:100 profile-id=2\r\n"
                                                     "a=rtpmap:101 rtx/90000\r\n"
                                                     "a=fmtp:101 apt=100\r\n" H264("123", "122",
                                                                                   "1", "640c1f")
                                                         H264("112", "113", "0",
                                                              "640c1f") "a=rtpmap:116 red/90000\r\n"
                                                                        "a=rtpmap:117 rtx/90000\r\n"
                                                                        "a=fmtp:117 apt=116\r\n"
                                                                        "a=rtpmap:118 "
                                                                        "ulpfec/"
                                                                        "90000\r"
                                                                        "\n" CHROME_AUDIO_AND_DATA;

/* The Chromium on this machine: H.264 42001f, 42e01f, 4d001f, f4001f, no High (640c1f). */
static const char chromium_local[] =
    CHROME_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 "
                "35 36\r\n" CHROME_TRANSPORT("0") CHROME_VIDEO_EXTMAPS
    "a=recvonly\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n" FB_VIDEO(
        "96") "a=rtpmap:97 rtx/90000\r\n"
              "a=fmtp:97 apt=96\r\n" H264("102", "103", "1", "42001f")
                  H264("104", "105", "0", "42001f") H264("106", "107", "1", "42e01f")
                      H264("108", "109", "0", "42e01f") H264("127", "125", "1", "4d001f")
                          H264("39", "40", "0", "4d001f") H264("35", "36", "1", "f4001f")
                              CHROME_AUDIO_AND_DATA;

/* Chrome 136 with H.265 (RFC 7798 parameters) and VP8 only. */
static const char chrome_h265[] =
    CHROME_HEAD "m=video 9 UDP/TLS/RTP/SAVPF 96 97 49 50\r\n" CHROME_TRANSPORT(
        "0") "a=recvonly\r\n"
             "a=rtcp-mux\r\n"
             "a=rtpmap:96 VP8/90000\r\n" FB_VIDEO(
                 "96") "a=rtpmap:97 rtx/90000\r\n"
                       "a=fmtp:97 apt=96\r\n"
                       "a=rtpmap:49 H265/90000\r\n" FB_VIDEO(
                           "49") "a=fmtp:49 level-id=156;profile-id=1;tier-flag=0;"
                                 "tx-mode=SRST\r\n"
                                 "a=rtpmap:50 rtx/90000\r\n"
                                 "a=fmtp:50 apt=49\r\n" CHROME_AUDIO_AND_DATA;

/* Firefox: fingerprint at session level, fmtp before rtpmap, extmaps with a direction. */
static const char firefox[] =
    "v=0\r\n"
    "o=mozilla...THIS_IS_SDPARTA-128.0 5508396880163053452 0 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=fingerprint:sha-256 " FP_CHROME "\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-options:trickle\r\n"
    "a=msid-semantic:WMS *\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98 123 122 119\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=recvonly\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
    "a=extmap:5 urn:ietf:params:rtp-hdrext:toffset\r\n"
    "a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n"
    "a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n"
    "a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1\r\n"
    "a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1\r\n"
    "a=fmtp:120 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:124 apt=120\r\n"
    "a=fmtp:121 max-fs=12288;max-fr=60\r\n"
    "a=fmtp:125 apt=121\r\n"
    "a=fmtp:127 apt=126\r\n"
    "a=fmtp:98 apt=97\r\n"
    "a=fmtp:119 apt=122\r\n"
    "a=ice-pwd:4c6bbd7a1f0e2a9d83c6e5b4a7f90d12\r\n"
    "a=ice-ufrag:8a0f3b2c\r\n"
    "a=mid:0\r\n"
    "a=rtcp-fb:120 nack\r\n"
    "a=rtcp-fb:120 nack pli\r\n"
    "a=rtcp-fb:120 ccm fir\r\n"
    "a=rtcp-fb:120 goog-remb\r\n"
    "a=rtcp-fb:120 transport-cc\r\n"
    "a=rtcp-fb:126 nack\r\n"
    "a=rtcp-fb:126 nack pli\r\n"
    "a=rtcp-fb:126 ccm fir\r\n"
    "a=rtcp-fb:126 goog-remb\r\n"
    "a=rtcp-fb:126 transport-cc\r\n"
    "a=rtcp-fb:97 nack\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:120 VP8/90000\r\n"
    "a=rtpmap:124 rtx/90000\r\n"
    "a=rtpmap:121 VP9/90000\r\n"
    "a=rtpmap:125 rtx/90000\r\n"
    "a=rtpmap:126 H264/90000\r\n"
    "a=rtpmap:127 rtx/90000\r\n"
    "a=rtpmap:97 H264/90000\r\n"
    "a=rtpmap:98 rtx/90000\r\n"
    "a=rtpmap:123 ulpfec/90000\r\n"
    "a=rtpmap:122 red/90000\r\n"
    "a=rtpmap:119 rtx/90000\r\n"
    "a=setup:actpass\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=recvonly\r\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"
    "a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level\r\n"
    "a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
    "a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1\r\n"
    "a=fmtp:101 0-15\r\n"
    "a=ice-pwd:4c6bbd7a1f0e2a9d83c6e5b4a7f90d12\r\n"
    "a=ice-ufrag:8a0f3b2c\r\n"
    "a=mid:1\r\n"
    "a=rtcp-mux\r\n"
    "a=rtpmap:109 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000/1\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000/1\r\n"
    "a=setup:actpass\r\n";

/* aiortc 1.4: LF line ends, a real port and host/srflx candidates per m-line, no rtcp-rsize. */
static const char aiortc[] =
    "v=0\n"
    "o=- 3913461274 3913461274 IN IP4 0.0.0.0\n"
    "s=-\n"
    "t=0 0\n"
    "a=group:BUNDLE 0 1\n"
    "a=msid-semantic:WMS *\n"
    "m=video 41075 UDP/TLS/RTP/SAVPF 97 98 99 100 101 102\n"
    "c=IN IP4 192.168.1.31\n"
    "a=recvonly\n"
    "a=mid:0\n"
    "a=rtcp:9 IN IP4 0.0.0.0\n"
    "a=rtcp-mux\n"
    "a=rtcp-fb:97 nack\n"
    "a=rtcp-fb:97 nack pli\n"
    "a=rtcp-fb:97 goog-remb\n"
    "a=rtpmap:97 VP8/90000\n"
    "a=rtpmap:98 rtx/90000\n"
    "a=fmtp:98 apt=97\n"
    "a=rtcp-fb:99 nack\n"
    "a=rtcp-fb:99 nack pli\n"
    "a=rtcp-fb:99 goog-remb\n"
    "a=rtpmap:99 H264/90000\n"
    "a=fmtp:99 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\n"
    "a=rtpmap:100 rtx/90000\n"
    "a=fmtp:100 apt=99\n"
    "a=rtcp-fb:101 nack\n"
    "a=rtcp-fb:101 nack pli\n"
    "a=rtcp-fb:101 goog-remb\n"
    "a=rtpmap:101 H264/90000\n"
    "a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\n"
    "a=rtpmap:102 rtx/90000\n"
    "a=fmtp:102 apt=101\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\n"
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\n"
    "a=candidate:6e2fb1a4a6d3a8b27d1c4e3b0f9a8c71 1 udp 2130706431 192.168.1.31 41075 typ host\n"
    "a=candidate:0c3e5a7f9b1d2c4e6f8a0b2d4c6e8f0a 1 udp 1694498815 203.0.113.7 41075 typ srflx "
    "raddr 192.168.1.31 rport 41075\n"
    "a=end-of-candidates\n"
    "a=ice-ufrag:Qm3v\n"
    "a=ice-pwd:Xq2Lr8Zt0bN6yH4wC1sK9d\n"
    "a=fingerprint:sha-256 " FP_CHROME "\n"
    "a=setup:actpass\n"
    "m=audio 41075 UDP/TLS/RTP/SAVPF 111 0 8\n"
    "c=IN IP4 192.168.1.31\n"
    "a=recvonly\n"
    "a=mid:1\n"
    "a=rtcp:9 IN IP4 0.0.0.0\n"
    "a=rtcp-mux\n"
    "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\n"
    "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\n"
    "a=rtpmap:111 opus/48000/2\n"
    "a=rtpmap:0 PCMU/8000\n"
    "a=rtpmap:8 PCMA/8000\n"
    "a=candidate:6e2fb1a4a6d3a8b27d1c4e3b0f9a8c71 1 udp 2130706431 192.168.1.31 41075 typ host\n"
    "a=candidate:0c3e5a7f9b1d2c4e6f8a0b2d4c6e8f0a 1 udp 1694498815 203.0.113.7 41075 typ srflx "
    "raddr 192.168.1.31 rport 41075\n"
    "a=end-of-candidates\n"
    "a=ice-ufrag:Qm3v\n"
    "a=ice-pwd:Xq2Lr8Zt0bN6yH4wC1sK9d\n"
    "a=fingerprint:sha-256 " FP_CHROME "\n"
    "a=setup:actpass\n";

/* An offer whose H.264 is packetization-mode 0 only (an old SIP-style client). */
static const char mode0_only[] =
    "v=0\r\n"
    "o=- 1 1 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 104 108\r\n" CHROME_TRANSPORT(
        "0") "a=recvonly\r\n"
             "a=rtcp-mux\r\n"
             "a=rtpmap:104 H264/90000\r\n"
             "a=fmtp:104 packetization-mode=0;profile-level-id=42001f\r\n"
             "a=rtpmap:108 H264/90000\r\n"
             "a=fmtp:108 profile-level-id=42e01f\r\n";

static const struct cv_webrtc_sdp_candidate cands[] = {
    {"192.168.1.20", 8555, false},
    {"192.168.1.20", 8555, true},
    {"fd00::20", 8555, false},
};

static const struct cv_webrtc_sdp_local local = {
    .ice_ufrag = "cvU1",
    .ice_pwd = "cvLitePassword0123456789",
    .fingerprint = FP_OURS,
    .cname = "camvisor",
    .stream_id = "cam1",
    .session_id = 0x8000000000003039ull,
    .candidates = cands,
    .candidate_count = 3,
};

static int parse(const char *s, struct cv_webrtc_sdp_offer *o)
{
    return cv_webrtc_sdp_parse(s, strlen(s), o);
}

/* A camera track with an SPS (and a PPS) in extradata, as the ring carries them. */
static void h264_track(struct cv_track_info *t, uint8_t idc, uint8_t flags, uint8_t level)
{
    const uint8_t ed[] = {0, 0, 0, 5, 0x67, idc, flags, level, 0xac, 0, 0, 0, 2, 0x68, 0xee};
    memset(t, 0, sizeof(*t));
    t->kind = CV_TRACK_VIDEO;
    t->codec = CV_CODEC_H264;
    t->clock_rate = 90000;
    memcpy(t->extradata, ed, sizeof(ed));
    t->extradata_len = sizeof(ed);
}

static void h265_track(struct cv_track_info *t, uint8_t profile)
{
    const uint8_t ed[] = {0, 0, 0, 6, 0x42, 0x01, 0x01, profile, 0x60, 0x00};
    memset(t, 0, sizeof(*t));
    t->kind = CV_TRACK_VIDEO;
    t->codec = CV_CODEC_H265;
    t->clock_rate = 90000;
    memcpy(t->extradata, ed, sizeof(ed));
    t->extradata_len = sizeof(ed);
}

static void audio_track(struct cv_track_info *t, uint8_t codec, uint32_t clock, uint16_t ch)
{
    memset(t, 0, sizeof(*t));
    t->kind = CV_TRACK_AUDIO;
    t->codec = codec;
    t->clock_rate = clock;
    t->channels = ch;
}

static const struct cv_webrtc_sdp_format *fmt(const struct cv_webrtc_sdp_media *m, unsigned pt)
{
    for (unsigned i = 0; i < m->format_count; i++)
        if (m->formats[i].pt == pt)
            return &m->formats[i];
    return NULL;
}

static const struct cv_webrtc_sdp_extmap *ext(const struct cv_webrtc_sdp_media *m,
                                              enum cv_webrtc_sdp_ext e)
{
    for (unsigned i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].ext == e)
            return &m->extmaps[i];
    return NULL;
}

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_parse_chrome(void **state)
{
    (void)state;
    assert_int_equal(parse(chrome, &offer), 0);
    assert_int_equal(offer.media_count, 3);
    assert_int_equal(offer.skipped_media, 0);
    assert_int_equal(offer.bundle_count, 3);
    assert_string_equal(offer.bundle[2], "2");
    assert_false(offer.ice_lite);

    const struct cv_webrtc_sdp_media *v = &offer.media[0], *a = &offer.media[1];
    const struct cv_webrtc_sdp_media *d = &offer.media[2];
    assert_int_equal(v->type, CV_WEBRTC_SDP_MEDIA_VIDEO);
    assert_string_equal(v->mid, "0");
    assert_int_equal(v->direction, CV_WEBRTC_SDP_RECVONLY);
    assert_int_equal(v->port, 9);
    assert_false(v->rejected);
    assert_true(v->bundled && v->dtls_srtp && v->rtcp_mux && v->rtcp_rsize);
    assert_string_equal(v->transport.ice_ufrag, "Vx3b");
    assert_string_equal(v->transport.ice_pwd, "7nKyqJ4mQ0r2mF3bL0vG9zaP");
    assert_int_equal(v->transport.setup, CV_WEBRTC_SDP_SETUP_ACTPASS);
    assert_int_equal(v->transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA256);
    assert_int_equal(v->transport.fingerprint_len, 32);
    assert_int_equal(v->transport.fingerprint[0], 0xe4);
    assert_int_equal(v->transport.fingerprint[31], 0xe5);
    assert_int_equal(v->format_count, 27);
    assert_int_equal(v->skipped_formats, 0);

    const struct cv_webrtc_sdp_format *f = fmt(v, 102);
    assert_non_null(f);
    assert_int_equal(f->codec, CV_WEBRTC_CODEC_H264);
    assert_int_equal(f->clock_rate, 90000);
    assert_int_equal(f->packetization_mode, 1);
    assert_true(f->has_profile_level_id && f->level_asymmetry_allowed);
    assert_int_equal(f->profile_level_id, 0x42001f);
    assert_int_equal(f->fb, CV_WEBRTC_SDP_FB_NACK | CV_WEBRTC_SDP_FB_NACK_PLI |
                                CV_WEBRTC_SDP_FB_CCM_FIR | CV_WEBRTC_SDP_FB_GOOG_REMB |
                                CV_WEBRTC_SDP_FB_TRANSPORT_CC);
    assert_int_equal(fmt(v, 104)->packetization_mode, 0);
    assert_int_equal(fmt(v, 123)->profile_level_id, 0x640c1f);
    assert_int_equal(fmt(v, 103)->codec, CV_WEBRTC_CODEC_RTX);
    assert_true(fmt(v, 103)->has_apt);
    assert_int_equal(fmt(v, 103)->apt, 102);
    assert_int_equal(fmt(v, 96)->codec, CV_WEBRTC_CODEC_VP8);
    assert_int_equal(fmt(v, 98)->codec, CV_WEBRTC_CODEC_VP9);
    assert_int_equal(fmt(v, 100)->profile_id, 2);
    assert_int_equal(fmt(v, 45)->codec, CV_WEBRTC_CODEC_AV1);
    assert_int_equal(fmt(v, 116)->codec, CV_WEBRTC_CODEC_RED);
    assert_int_equal(fmt(v, 118)->codec, CV_WEBRTC_CODEC_ULPFEC);
    assert_string_equal(fmt(v, 118)->name, "ulpfec");

    /* 11 extmaps offered, 8 with URIs we know. */
    assert_int_equal(v->extmap_count, 8);
    assert_int_equal(v->other_extmaps, 3);
    assert_int_equal(ext(v, CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY)->id, 5);
    assert_int_equal(ext(v, CV_WEBRTC_SDP_EXT_MID)->id, 9);
    assert_int_equal(ext(v, CV_WEBRTC_SDP_EXT_TRANSPORT_CC)->id, 4);

    assert_int_equal(a->type, CV_WEBRTC_SDP_MEDIA_AUDIO);
    assert_string_equal(a->mid, "1");
    assert_false(a->rtcp_rsize);
    assert_int_equal(a->format_count, 8);
    assert_int_equal(fmt(a, 111)->codec, CV_WEBRTC_CODEC_OPUS);
    assert_int_equal(fmt(a, 111)->channels, 2);
    assert_int_equal(fmt(a, 111)->fb, CV_WEBRTC_SDP_FB_TRANSPORT_CC);
    assert_int_equal(fmt(a, 8)->codec, CV_WEBRTC_CODEC_PCMA);
    assert_int_equal(fmt(a, 0)->codec, CV_WEBRTC_CODEC_PCMU);
    assert_int_equal(fmt(a, 110)->codec, CV_WEBRTC_CODEC_DTMF);
    assert_int_equal(ext(a, CV_WEBRTC_SDP_EXT_AUDIO_LEVEL)->id, 14);

    assert_int_equal(d->type, CV_WEBRTC_SDP_MEDIA_APPLICATION);
    assert_false(d->dtls_srtp);
    assert_int_equal(d->format_count, 0);
    assert_string_equal(d->proto, "UDP/DTLS/SCTP");
    assert_string_equal(d->fmt0, "webrtc-datachannel");
}

static void test_choose_h264(void **state)
{
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    (void)state;

    /* High camera, Chrome offers Constrained High 640c1f: sent as that, with its rtx. */
    assert_int_equal(parse(chrome, &offer), 0);
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_true(c.ok);
    assert_int_equal(c.pt, 123);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_EXACT);
    assert_true(c.has_rtx);
    assert_int_equal(c.rtx_pt, 122);
    assert_int_equal(c.codec, CV_CODEC_H264);
    assert_non_null(strstr(c.why, "640c1f"));

    /* Main camera: 4d001f. Constrained Baseline camera: 42e01f. Baseline: 42001f. */
    h264_track(&t, 0x4d, 0x40, 0x29);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 127);
    assert_int_equal(c.rtx_pt, 125);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_EXACT);
    h264_track(&t, 0x42, 0xe0, 0x1f);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 106);
    h264_track(&t, 0x42, 0x00, 0x1e);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 102);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_EXACT);

    /* No SPS: the most widely decoded profile, Constrained Baseline. */
    h264_track(&t, 0x64, 0, 0x28);
    t.extradata_len = 0;
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 106);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_UNKNOWN);

    /* This machine's Chromium has no High: a High camera goes as 42e01f, not as f4001f. */
    assert_int_equal(parse(chromium_local, &offer), 0);
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 106);
    assert_int_equal(c.rtx_pt, 107);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_BASELINE);
    assert_non_null(strstr(c.why, "42e01f"));
    assert_non_null(strstr(c.why, "Chromium"));

    /* Firefox: only 42e01f in mode 1 (97 is mode 0). */
    assert_int_equal(parse(firefox, &offer), 0);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 126);
    assert_int_equal(c.rtx_pt, 127);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_BASELINE);

    /* aiortc lists 42001f first; Constrained Baseline is still preferred for a High camera. */
    assert_int_equal(parse(aiortc, &offer), 0);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 101);
    assert_int_equal(c.rtx_pt, 102);
}

static void test_choose_superset_and_any(void **state)
{
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    static const char safari[] =
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 98\r\n" CHROME_TRANSPORT(
            "0") "a=recvonly\r\n"
                 "a=rtpmap:96 H264/90000\r\n"
                 "a=fmtp:96 packetization-mode=1;profile-level-id=640c1f\r\n"
                 "a=rtpmap:98 H264/90000\r\n"
                 "a=fmtp:98 packetization-mode=1;profile-level-id=42e01f\r\n";
    static const char main_only[] =
        "v=0\r\ns=-\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n" CHROME_TRANSPORT(
            "0") "a=rtpmap:96 H264/90000\r\n"
                 "a=fmtp:96 packetization-mode=1;profile-level-id=4d001f\r\n";
    (void)state;

    /* A Main camera against High + Constrained Baseline: High decodes Main. */
    assert_int_equal(parse(safari, &offer), 0);
    h264_track(&t, 0x4d, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 96);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_SUPERSET);
    assert_false(c.has_rtx);

    /* A High camera against Main only: the one mode-1 H.264 there is. */
    assert_int_equal(parse(main_only, &offer), 0);
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 96);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_ANY);
}

static void test_choose_refusals(void **state)
{
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    (void)state;

    assert_int_equal(parse(mode0_only, &offer), 0);
    h264_track(&t, 0x42, 0xe0, 0x1f);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), -ENOENT);
    assert_false(c.ok);
    assert_non_null(strstr(c.why, "packetization-mode=0"));

    /* H.265 camera against Chrome without H.265. */
    assert_int_equal(parse(chrome, &offer), 0);
    h265_track(&t, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), -ENOENT);
    assert_string_equal(c.why, "browser offers no H.265");

    /* A video track against the audio and data m-lines. */
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), -ENOENT);
    assert_string_equal(c.why, "m-line is audio, the track is video");
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[2], &t, &c), -ENOENT);

    /* Codecs WebRTC cannot carry. */
    audio_track(&t, CV_CODEC_AAC, 44100, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), -ENOTSUP);
    assert_string_equal(c.why, "AAC cannot be sent over WebRTC");
    t.codec = CV_CODEC_JPEG;
    t.kind = CV_TRACK_VIDEO;
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), -ENOTSUP);

    /* G.711 at 16 kHz: no browser offers it. */
    audio_track(&t, CV_CODEC_PCMA, 16000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), -ENOENT);
    assert_non_null(strstr(c.why, "PCMA/16000/1"));
}

static void test_choose_h265(void **state)
{
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    (void)state;

    assert_int_equal(parse(chrome_h265, &offer), 0);
    const struct cv_webrtc_sdp_format *f = fmt(&offer.media[0], 49);
    assert_true(f->has_profile_id && f->has_level_id && f->has_tier_flag && f->has_tx_mode);
    assert_int_equal(f->level_id, 156);
    assert_false(f->bad_fmtp);
    h265_track(&t, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 49);
    assert_int_equal(c.rtx_pt, 50);
    assert_int_equal(c.match, CV_WEBRTC_SDP_MATCH_EXACT);
    /* Main 10 is not decoded by a Main decoder. */
    h265_track(&t, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), -ENOENT);
    assert_non_null(strstr(c.why, "profile-id 2"));
}

static void test_choose_audio(void **state)
{
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    (void)state;

    assert_int_equal(parse(chrome, &offer), 0);
    audio_track(&t, CV_CODEC_OPUS, 48000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), 0);
    assert_int_equal(c.pt, 111);
    assert_false(c.has_rtx);
    audio_track(&t, CV_CODEC_PCMA, 8000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), 0);
    assert_int_equal(c.pt, 8);
    audio_track(&t, CV_CODEC_PCMU, 8000, 0);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), 0);
    assert_int_equal(c.pt, 0);

    assert_int_equal(parse(firefox, &offer), 0);
    audio_track(&t, CV_CODEC_OPUS, 48000, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c), 0);
    assert_int_equal(c.pt, 109);

    /* Static payload types without an rtpmap. */
    static const char bare[] = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0 8\r\n";
    assert_int_equal(parse(bare, &offer), 0);
    audio_track(&t, CV_CODEC_PCMA, 8000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
    assert_int_equal(c.pt, 8);
}

/* Chooses H.264 (High camera) and opus for the Chrome-shaped offer in `offer`. */
static void choose_chrome(struct cv_webrtc_sdp_choice *c, struct cv_webrtc_sdp_send *s)
{
    struct cv_track_info t;
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c[0]), 0);
    audio_track(&t, CV_CODEC_OPUS, 48000, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c[1]), 0);
    memset(s, 0, 3 * sizeof(*s));
    s[0] = (struct cv_webrtc_sdp_send){&c[0], 0x11111111, 0x22222222,
                                       CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY) |
                                           CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_MID)};
    s[1] = (struct cv_webrtc_sdp_send){&c[1], 0x33333333, 0,
                                       CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_MID)};
}

static void test_answer_chrome(void **state)
{
    struct cv_webrtc_sdp_choice c[2];
    struct cv_webrtc_sdp_send s[3];
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice again;
    (void)state;

    assert_int_equal(parse(chrome, &offer), 0);
    choose_chrome(c, s);
    int n = cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(text));

    /* Session level. */
    assert_non_null(strstr(text, "v=0\r\no=- 12345 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"));
    assert_non_null(strstr(text, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(text, "a=ice-lite\r\n"));
    assert_non_null(strstr(text, "a=msid-semantic: WMS cam1\r\n"));
    /* Video: H.264 640c1f with rtx, only the feedback we answer, the extensions we keep. */
    assert_non_null(strstr(text, "m=video 8555 UDP/TLS/RTP/SAVPF 123 122\r\n"
                                 "c=IN IP4 192.168.1.20\r\n"));
    assert_non_null(strstr(text, "a=fmtp:123 level-asymmetry-allowed=1;packetization-mode=1;"
                                 "profile-level-id=640c1f\r\n"));
    assert_non_null(strstr(text, "a=rtcp-fb:123 nack\r\na=rtcp-fb:123 nack pli\r\n"
                                 "a=rtcp-fb:123 ccm fir\r\n"));
    assert_null(strstr(text, "goog-remb"));
    assert_null(strstr(text, "transport-cc"));
    assert_non_null(strstr(text, "a=rtpmap:122 rtx/90000\r\na=fmtp:122 apt=123\r\n"));
    assert_non_null(strstr(text, "a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/"
                                 "playout-delay\r\n"));
    assert_non_null(strstr(text, "a=extmap:9 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"));
    assert_null(strstr(text, "abs-send-time"));
    assert_non_null(strstr(text, "a=ssrc-group:FID 286331153 572662306\r\n"));
    assert_non_null(strstr(text, "a=ssrc:286331153 cname:camvisor\r\n"));
    assert_non_null(strstr(text, "a=ssrc:572662306 msid:cam1 video0\r\n"));
    assert_non_null(strstr(text, "a=msid:cam1 video0\r\n"));
    assert_int_equal(count(text, "a=rtcp-rsize\r\n"), 1); /* offered for video only */
    assert_int_equal(count(text, "a=rtcp-mux\r\n"), 2);
    assert_int_equal(count(text, "a=setup:passive\r\n"), 2);
    assert_int_equal(count(text, "a=fingerprint:sha-256 " FP_OURS "\r\n"), 2);
    /* Candidates once, in the BUNDLE-tag m-line. */
    assert_int_equal(count(text, "a=end-of-candidates"), 1);
    assert_non_null(strstr(text, "a=candidate:1 1 udp 2130706431 192.168.1.20 8555 typ host\r\n"));
    assert_non_null(strstr(text, "a=candidate:2 1 tcp 1520434943 192.168.1.20 8555 typ host "
                                 "tcptype passive\r\n"));
    assert_non_null(strstr(text, "a=candidate:3 1 udp 2130705919 fd00::20 8555 typ host\r\n"));
    /* Audio: opus, no rtx. The data channel: rejected with its mid. */
    assert_non_null(strstr(text, "m=audio 8555 UDP/TLS/RTP/SAVPF 111\r\n"));
    assert_non_null(strstr(text, "a=rtpmap:111 opus/48000/2\r\n"));
    assert_non_null(strstr(text, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
                                 "c=IN IP4 0.0.0.0\r\na=mid:2\r\n"));

    /* Parsed back with our own parser. */
    assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
    assert_true(back.ice_lite);
    assert_int_equal(back.media_count, 3);
    assert_int_equal(back.bundle_count, 2);
    for (unsigned i = 0; i < 3; i++)
        assert_string_equal(back.media[i].mid, offer.media[i].mid);
    const struct cv_webrtc_sdp_media *v = &back.media[0], *a = &back.media[1];
    assert_int_equal(v->direction, CV_WEBRTC_SDP_SENDONLY);
    assert_int_equal(a->direction, CV_WEBRTC_SDP_SENDONLY);
    assert_true(back.media[2].rejected);
    assert_false(v->rejected || a->rejected);
    assert_int_equal(v->transport.setup, CV_WEBRTC_SDP_SETUP_PASSIVE);
    assert_int_equal(a->transport.setup, CV_WEBRTC_SDP_SETUP_PASSIVE);
    assert_string_equal(v->transport.ice_ufrag, "cvU1");
    assert_string_equal(a->transport.ice_pwd, "cvLitePassword0123456789");
    assert_int_equal(v->transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA256);
    assert_int_equal(v->transport.fingerprint[0], 0x0f);
    assert_int_equal(v->transport.fingerprint[31], 0xf0);
    assert_int_equal(v->candidate_count, 3);
    assert_int_equal(a->candidate_count, 0);
    assert_int_equal(v->format_count, 2);
    assert_int_equal(v->extmap_count, 2);
    assert_int_equal(ext(v, CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY)->id, 5);
    assert_int_equal(ext(a, CV_WEBRTC_SDP_EXT_MID)->id, 9);
    /* The answer offers exactly what we chose: choosing again lands on the same types. */
    h264_track(&t, 0x64, 0x00, 0x28);
    back.media[0].direction = CV_WEBRTC_SDP_RECVONLY;
    assert_int_equal(cv_webrtc_sdp_choose(&back.media[0], &t, &again), 0);
    assert_int_equal(again.pt, 123);
    assert_int_equal(again.rtx_pt, 122);
    assert_int_equal(fmt(v, 123)->fb,
                     CV_WEBRTC_SDP_FB_NACK | CV_WEBRTC_SDP_FB_NACK_PLI | CV_WEBRTC_SDP_FB_CCM_FIR);
    audio_track(&t, CV_CODEC_OPUS, 48000, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&back.media[1], &t, &again), 0);
    assert_int_equal(again.pt, 111);
}

/* The priority of the answer's candidate with foundation f, 0 when it has none. */
static unsigned long priority_of(unsigned f)
{
    char line[32];
    snprintf(line, sizeof(line), "a=candidate:%u 1 ", f);
    const char *p = strstr(text, line);
    unsigned long prio = 0;
    if (p && sscanf(p + strlen(line) + 4, "%lu", &prio) != 1) /* past "udp " or "tcp " */
        prio = 0;
    return prio;
}

/* A STUN server told us our public address: host candidates first, then the reflexive one. */
static void test_answer_srflx(void **state)
{
    struct cv_webrtc_sdp_choice c[2];
    struct cv_webrtc_sdp_send s[3];
    struct cv_webrtc_sdp_local l = local;
    (void)state;
    static const struct cv_webrtc_sdp_candidate with_srflx[] = {
        {"192.168.1.20", 8555, false, NULL, 0},
        {"192.168.1.20", 8555, true, NULL, 0},
        {"fd00::20", 8555, false, NULL, 0},
        {"203.0.113.7", 40123, false, "192.168.1.20", 8555},
        {"2001:db8::20", 8555, false, "fd00::20", 8555},
    };

    assert_int_equal(parse(chrome, &offer), 0);
    choose_chrome(c, s);
    l.candidates = with_srflx;
    l.candidate_count = 5;
    int n = cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text));
    assert_true(n > 0);
    assert_int_equal(count(text, "a=candidate:"), 5);
    assert_int_equal(count(text, "a=end-of-candidates"), 1);
    assert_non_null(strstr(text, "a=candidate:1 1 udp 2130706431 192.168.1.20 8555 typ host\r\n"));
    assert_non_null(strstr(text, "a=candidate:2 1 tcp 1520434943 192.168.1.20 8555 typ host "
                                 "tcptype passive\r\n"));
    assert_non_null(strstr(text, "a=candidate:3 1 udp 2130705919 fd00::20 8555 typ host\r\n"));
    /* (100 << 24) + ((65535 - 3) << 8) + 255; aiortc's srflx above is the same with i = 0 */
    assert_non_null(strstr(text, "a=candidate:4 1 udp 1694498047 203.0.113.7 40123 typ srflx "
                                 "raddr 192.168.1.20 rport 8555\r\n"));
    assert_non_null(strstr(text, "a=candidate:5 1 udp 1694497791 2001:db8::20 8555 typ srflx "
                                 "raddr fd00::20 rport 8555\r\n"));
    /* Tried in this order: host UDP, srflx, ICE-TCP; every priority distinct. */
    assert_true(priority_of(1) > priority_of(3));
    assert_true(priority_of(3) > priority_of(4));
    assert_true(priority_of(4) > priority_of(5));
    assert_true(priority_of(5) > priority_of(2));
    assert_true(priority_of(2) > 0);
    /* The default candidate is the reflexive one (RFC 8445 §5.1.4). */
    assert_non_null(strstr(text, "m=video 40123 UDP/TLS/RTP/SAVPF 123 122\r\n"
                                 "c=IN IP4 203.0.113.7\r\n"));
    assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
    assert_int_equal(back.media[0].candidate_count, 5);

    /* The base hidden as browsers hide it. */
    l.candidates =
        (const struct cv_webrtc_sdp_candidate[]){{"203.0.113.7", 40123, false, "0.0.0.0", 0}};
    l.candidate_count = 1;
    assert_true(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)) > 0);
    assert_non_null(strstr(text, "a=candidate:1 1 udp 1694498815 203.0.113.7 40123 typ srflx "
                                 "raddr 0.0.0.0 rport 0\r\n"));

    /* A server with a public address of its own: the STUN answer repeats a host candidate. */
    l.candidates = (const struct cv_webrtc_sdp_candidate[]){
        {"203.0.113.7", 8555, false, NULL, 0},
        {"203.0.113.7", 8555, true, NULL, 0},
        {"203.0.113.7", 8555, false, "203.0.113.7", 8555},
    };
    l.candidate_count = 3;
    assert_true(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)) > 0);
    assert_int_equal(count(text, "a=candidate:"), 2);
    assert_int_equal(count(text, "typ srflx"), 0);
    assert_non_null(strstr(text, "a=candidate:1 1 udp 2130706431 203.0.113.7 8555 typ host\r\n"));
    assert_non_null(strstr(text, "m=video 8555 UDP/TLS/RTP/SAVPF 123 122\r\n"
                                 "c=IN IP4 203.0.113.7\r\n"));

    /* Refused: srflx over TCP, a raddr that is no address, an rport without raddr. */
    static const struct cv_webrtc_sdp_candidate bad[][1] = {
        {{"203.0.113.7", 40123, true, "192.168.1.20", 8555}},
        {{"203.0.113.7", 40123, false, "", 8555}},
        {{"203.0.113.7", 40123, false, "host.local", 8555}},
        {{"203.0.113.7", 40123, false, "10.0.0.1\r\na=x", 8555}},
        {{"203.0.113.7", 40123, false, NULL, 8555}},
        {{"203.0.113.7", 0, false, "192.168.1.20", 8555}},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        l.candidates = bad[i];
        l.candidate_count = 1;
        assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)), -EINVAL);
    }
}

static void test_answer_firefox_aiortc(void **state)
{
    struct cv_webrtc_sdp_choice c[2];
    struct cv_webrtc_sdp_send s[2];
    struct cv_track_info t;
    (void)state;

    /* Firefox: the session-level fingerprint reaches both m-lines; "/recvonly" is answered
     * "/sendonly". */
    assert_int_equal(parse(firefox, &offer), 0);
    assert_int_equal(offer.transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA256);
    assert_int_equal(offer.media[1].transport.fingerprint_len, 32);
    assert_string_equal(offer.media[0].transport.ice_ufrag, "8a0f3b2c");
    assert_int_equal(ext(&offer.media[0], CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY)->direction,
                     CV_WEBRTC_SDP_RECVONLY);
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c[0]), 0);
    audio_track(&t, CV_CODEC_OPUS, 48000, 2);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c[1]), 0);
    s[0] = (struct cv_webrtc_sdp_send){&c[0], 1, 2,
                                       CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY)};
    s[1] = (struct cv_webrtc_sdp_send){&c[1], 3, 0, 0};
    int n = cv_webrtc_sdp_answer(&offer, s, 2, &local, text, sizeof(text));
    assert_true(n > 0);
    assert_non_null(strstr(text, "a=extmap:6/sendonly http://www.webrtc.org/experiments/"
                                 "rtp-hdrext/playout-delay\r\n"));
    assert_non_null(strstr(text, "a=fmtp:126 level-asymmetry-allowed=1;packetization-mode=1;"
                                 "profile-level-id=42e01f\r\n"));
    assert_non_null(strstr(text, "a=rtpmap:127 rtx/90000\r\na=fmtp:127 apt=126\r\n"));
    assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
    assert_int_equal(back.media_count, 2);
    assert_int_equal(back.media[0].direction, CV_WEBRTC_SDP_SENDONLY);

    /* aiortc, LF only: candidates counted, PCMA on the audio m-line. */
    assert_int_equal(parse(aiortc, &offer), 0);
    assert_int_equal(offer.media_count, 2);
    assert_int_equal(offer.media[0].port, 41075);
    assert_int_equal(offer.media[0].candidate_count, 2);
    assert_int_equal(offer.media[1].candidate_count, 2);
    assert_string_equal(offer.media[1].transport.ice_pwd, "Xq2Lr8Zt0bN6yH4wC1sK9d");
    assert_int_equal(fmt(&offer.media[0], 97)->fb, CV_WEBRTC_SDP_FB_NACK |
                                                       CV_WEBRTC_SDP_FB_NACK_PLI |
                                                       CV_WEBRTC_SDP_FB_GOOG_REMB);
    h264_track(&t, 0x64, 0x00, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c[0]), 0);
    audio_track(&t, CV_CODEC_PCMA, 8000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c[1]), 0);
    assert_int_equal(c[1].pt, 8);
    s[0] = (struct cv_webrtc_sdp_send){&c[0], 10, 11, ~0u};
    s[1] = (struct cv_webrtc_sdp_send){&c[1], 12, 0, ~0u};
    n = cv_webrtc_sdp_answer(&offer, s, 2, &local, text, sizeof(text));
    assert_true(n > 0);
    assert_non_null(strstr(text, "a=rtpmap:8 PCMA/8000\r\n"));
    assert_non_null(strstr(text, "a=rtcp-fb:101 nack\r\na=rtcp-fb:101 nack pli\r\n"));
    assert_null(strstr(text, "ccm fir")); /* not offered by aiortc */
    assert_null(strstr(text, "rtcp-rsize"));
    /* Every known extension asked for: aiortc's mid, abs-send-time and audio level. */
    assert_non_null(strstr(text, "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/"
                                 "abs-send-time\r\n"));
    assert_non_null(strstr(text, "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n"));
    assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
    assert_int_equal(back.bundle_count, 2);
    assert_string_equal(back.media[1].mid, "1");
}

static void test_answer_directions(void **state)
{
    /* In enum cv_webrtc_sdp_dir order. */
    static const char *const offered[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    static const uint8_t answered[] = {CV_WEBRTC_SDP_SENDONLY, CV_WEBRTC_SDP_INACTIVE,
                                       CV_WEBRTC_SDP_SENDONLY, CV_WEBRTC_SDP_INACTIVE};
    char sdp[512];
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    struct cv_webrtc_sdp_send s;
    (void)state;

    audio_track(&t, CV_CODEC_PCMU, 8000, 1);
    for (unsigned i = 0; i < 4; i++) {
        snprintf(sdp, sizeof(sdp),
                 "v=0\r\ns=-\r\na=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                 "a=fingerprint:sha-256 %s\r\na=%s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n",
                 FP_CHROME, offered[i]);
        assert_int_equal(parse(sdp, &offer), 0);
        assert_int_equal(offer.media[0].direction, i);
        assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c), 0);
        s = (struct cv_webrtc_sdp_send){&c, 7, 0, 0};
        int n = cv_webrtc_sdp_answer(&offer, &s, 1, &local, text, sizeof(text));
        assert_true(n > 0);
        assert_null(strstr(text, "a=group:BUNDLE"));
        assert_int_equal(count(text, "a=end-of-candidates"), 1); /* not bundled: its own */
        assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
        assert_int_equal(back.media[0].direction, answered[i]);
        assert_true((strstr(text, "a=ssrc:7 ") != NULL) == (answered[i] == CV_WEBRTC_SDP_SENDONLY));
    }
}

static void test_rejected_and_bundle_only(void **state)
{
    static const char sdp[] = "v=0\r\ns=-\r\na=group:BUNDLE 0 1\r\n"
                              "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
                              "a=fingerprint:sha-256 " FP_CHROME "\r\n"
                              "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"
                              "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"
                              "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\na=mid:1\r\na=bundle-only\r\n"
                              "m=audio 0 UDP/TLS/RTP/SAVPF 8\r\na=mid:2\r\n"
                              "m=text 9 RTP/AVP 98\r\na=mid:3\r\n";
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c[3];
    struct cv_webrtc_sdp_send s[4] = {
        {&c[0], 1, 0, 0}, {&c[1], 2, 0, 0}, {NULL, 0, 0, 0}, {NULL, 0, 0, 0}};
    (void)state;

    assert_int_equal(parse(sdp, &offer), 0);
    assert_int_equal(offer.media_count, 4);
    assert_false(offer.media[1].rejected); /* bundle-only in the group */
    assert_true(offer.media[2].rejected);
    assert_int_equal(offer.media[3].type, CV_WEBRTC_SDP_MEDIA_OTHER);
    h264_track(&t, 0x64, 0, 0x28);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[0], &t, &c[0]), 0);
    /* No profile-level-id: Baseline 42000a (RFC 6184), the fallback for a High camera. */
    assert_int_equal(c[0].match, CV_WEBRTC_SDP_MATCH_BASELINE);
    audio_track(&t, CV_CODEC_PCMU, 8000, 1);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[1], &t, &c[1]), 0);
    assert_int_equal(cv_webrtc_sdp_choose(&offer.media[2], &t, &c[2]), -ENOENT);
    assert_non_null(strstr(c[2].why, "port 0"));

    int n = cv_webrtc_sdp_answer(&offer, s, 4, &local, text, sizeof(text));
    assert_true(n > 0);
    assert_non_null(strstr(text, "a=fmtp:96 packetization-mode=1\r\n"));
    assert_non_null(
        strstr(text, "m=audio 0 UDP/TLS/RTP/SAVPF 8\r\nc=IN IP4 0.0.0.0\r\na=mid:2\r\n"));
    assert_non_null(strstr(text, "m=text 0 RTP/AVP 98\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\n"));
    assert_int_equal(cv_webrtc_sdp_parse(text, (size_t)n, &back), 0);
    assert_int_equal(back.media_count, 4);
    assert_false(back.media[1].rejected);
    assert_true(back.media[2].rejected && back.media[3].rejected);

    /* Accepting what the offer rejected, or the data channel, is refused. */
    s[2].choice = &c[1];
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 4, &local, text, sizeof(text)), -EPROTO);
}

static void test_answer_errors(void **state)
{
    struct cv_webrtc_sdp_choice c[2], bad;
    struct cv_webrtc_sdp_send s[3];
    struct cv_webrtc_sdp_local l;
    (void)state;

    assert_int_equal(parse(chrome, &offer), 0);
    choose_chrome(c, s);
    assert_true(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)) > 0);
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 2, &local, text, sizeof(text)), -EINVAL);

    l = local;
    l.ice_pwd = "short";
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)), -EINVAL);
    l = local;
    l.fingerprint = "AB:CD";
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)), -EINVAL);
    l = local;
    l.cname = "two words";
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)), -EINVAL);
    l = local;
    l.candidates = (const struct cv_webrtc_sdp_candidate[]){{"10.0.0.1\r\na=x", 1, false}};
    l.candidate_count = 1;
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &l, text, sizeof(text)), -EINVAL);

    /* A payload type the m-line does not have; an rtx that is not one; same SSRC twice. */
    bad = c[0];
    bad.pt = 33;
    s[0].choice = &bad;
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EINVAL);
    bad = c[0];
    bad.rtx_pt = 96;
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EINVAL);
    bad = c[0];
    s[0].rtx_ssrc = s[0].ssrc;
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EINVAL);
    /* An audio choice on the video m-line. */
    s[0] = s[1];
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EINVAL);

    /* The browser asking to be the DTLS server, or giving no ICE credentials. */
    choose_chrome(c, s);
    offer.media[0].transport.setup = CV_WEBRTC_SDP_SETUP_PASSIVE;
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EPROTO);
    offer.media[0].transport.setup = CV_WEBRTC_SDP_SETUP_ACTPASS;
    offer.media[1].transport.ice_ufrag[0] = '\0';
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)), -EPROTO);
    s[1].choice = NULL; /* rejecting it instead is fine */
    assert_true(cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text)) > 0);
    assert_non_null(strstr(text, "a=group:BUNDLE 0\r\n"));
}

static void test_e2big(void **state)
{
    static char buf[8192];
    struct cv_webrtc_sdp_choice c[2];
    struct cv_webrtc_sdp_send s[3];
    (void)state;

    assert_int_equal(parse(chrome, &offer), 0);
    choose_chrome(c, s);
    int n = cv_webrtc_sdp_answer(&offer, s, 3, &local, text, sizeof(text));
    assert_true(n > 0 && (size_t)n + 64 < sizeof(buf));
    for (size_t size = 0; size <= (size_t)n + 1; size++) {
        memset(buf, 'X', sizeof(buf));
        int r = cv_webrtc_sdp_answer(&offer, s, 3, &local, buf, size);
        assert_int_equal(r, size == (size_t)n + 1 ? n : -E2BIG);
        for (size_t i = size; i < (size_t)n + 64; i++)
            assert_int_equal(buf[i], 'X');
    }
    assert_memory_equal(buf, text, (size_t)n + 1);
}

static void test_malformed(void **state)
{
    static const char nul[] = "v=0\r\ns=-\0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
    static const char *const bad[] = {
        "",
        "s=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",                      /* no v= */
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF\r\n",                         /* no format */
        "v=0\r\nm=video\r\n",                                             /* nothing */
        "v=0\r\nm=video 70000 UDP/TLS/RTP/SAVPF 96\r\n",                  /* port */
        "v=0\r\nm=video x UDP/TLS/RTP/SAVPF 96\r\n",                      /* port */
        "v=0\r\nm=vid\x01o 9 UDP/TLS/RTP/SAVPF 96\r\n",                   /* control character */
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF/AAAAAAAAAAAAAAAAAAAA 96\r\n", /* proto too long */
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:0 1\r\n",         /* space in mid */
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:\r\n",            /* empty mid */
        "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:"
        "0123456789012345678901234567890123456789012345678901234567890123\r\n", /* 64 chars */
        "v=0\r\nm=video 9 X 96\r\na=mid:a\r\nm=audio 9 X 0\r\na=mid:a\r\n",     /* same mid */
    };
    (void)state;

    assert_int_equal(cv_webrtc_sdp_parse(nul, sizeof(nul) - 1, &offer), -EBADMSG);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        offer.media_count = 99;
        assert_int_equal(parse(bad[i], &offer), -EBADMSG);
        assert_int_equal(offer.media_count, 0); /* cleared on failure */
    }

    /* Junk that is ignored: odd lines, bad attribute values, unknown payload types. */
    static const char odd[] = "v=0\r\n"
                              "garbage\r\n"
                              "=\r\n"
                              "a=group:BUNDLE\r\n"
                              "a=ice-ufrag:ab\r\n" /* too short */
                              "a=ice-pwd:has spaces in it, not ice chars\r\n"
                              "a=fingerprint:sha-256 AB:CD\r\n"     /* too short */
                              "a=fingerprint:md5 " FP_CHROME "\r\n" /* unknown hash */
                              "a=setup:sideways\r\n"
                              "m=video 9 UDP/TLS/RTP/SAVPF 96 97 300 x 96\r\n"
                              "a=rtpmap:96 H264/0\r\n"       /* bad clock */
                              "a=rtpmap:97 H264/90000/0\r\n" /* bad channels */
                              "a=rtpmap:98 H264/90000\r\n"   /* not listed */
                              "a=rtpmap:\r\n"
                              "a=fmtp:96 packetization-mode=7;profile-level-id=zz\r\n"
                              "a=fmtp:97\r\n"
                              "a=rtcp-fb:96\r\n"
                              "a=rtcp-fb:* nack\r\n"
                              "a=extmap:0 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                              "a=extmap:1/sideways urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                              "a=extmap:256 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"
                              "a=extmap:\r\n"
                              "a=mid:v\r\n";
    assert_int_equal(parse(odd, &offer), 0);
    const struct cv_webrtc_sdp_media *m = &offer.media[0];
    assert_int_equal(offer.bundle_count, 0);
    assert_string_equal(m->transport.ice_ufrag, "");
    assert_string_equal(m->transport.ice_pwd, "");
    assert_int_equal(m->transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_NONE);
    assert_int_equal(m->transport.setup, CV_WEBRTC_SDP_SETUP_NONE);
    assert_int_equal(m->format_count, 2);
    assert_int_equal(m->skipped_formats, 3);
    assert_int_equal(m->formats[0].clock_rate, 0);
    assert_int_equal(m->formats[1].clock_rate, 0);
    assert_true(m->formats[0].bad_fmtp);
    assert_int_equal(m->formats[0].fb, CV_WEBRTC_SDP_FB_NACK);
    assert_int_equal(m->extmap_count, 0);
    assert_int_equal(m->other_extmaps, 4);
    struct cv_track_info t;
    struct cv_webrtc_sdp_choice c;
    h264_track(&t, 0x42, 0xe0, 0x1f);
    assert_int_equal(cv_webrtc_sdp_choose(m, &t, &c), -ENOENT);
    assert_string_equal(c.why, "browser offers no H.264");
}

static void test_fingerprints(void **state)
{
    static const char sdp[] =
        "v=0\r\n"
        "a=fingerprint:sha-1 11:22:33:44:55:66:77:88:99:00:11:22:33:44:55:66:77:88:99:00\r\n"
        "a=fingerprint:sha-256 " FP_CHROME "\r\n"
        "a=fingerprint:sha-512 " FP_CHROME ":" FP_CHROME "\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"
        "a=fingerprint:sha-512 " FP_OURS ":" FP_OURS "\r\n";
    (void)state;

    assert_int_equal(parse(sdp, &offer), 0);
    /* Session level: sha-256 preferred over sha-1 before it and sha-512 after it. */
    assert_int_equal(offer.transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA256);
    assert_int_equal(offer.media[0].transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA256);
    /* Media level replaces the session's. */
    assert_int_equal(offer.media[1].transport.fingerprint_hash, CV_WEBRTC_SDP_HASH_SHA512);
    assert_int_equal(offer.media[1].transport.fingerprint_len, 64);
    assert_int_equal(offer.media[1].transport.fingerprint[63], 0xf0);
}

static void test_limits(void **state)
{
    static char big[65536];
    size_t n = 0;
    (void)state;

#define ADD(...) n += (size_t)snprintf(big + n, sizeof(big) - n, __VA_ARGS__)
    ADD("v=0\r\ns=-\r\na=ice-ufrag:");
    for (int i = 0; i < 300; i++)
        ADD("u");
    ADD("\r\n");
    /* 10 m-lines: 8 kept. */
    for (int m = 0; m < 10; m++) {
        ADD("m=video 9 UDP/TLS/RTP/SAVPF");
        for (int pt = 0; pt < (m == 0 ? 100 : 1); pt++)
            ADD(" %d", pt);
        ADD("\r\na=mid:m%d\r\n", m);
        for (int id = 1; m == 0 && id <= 20; id++)
            ADD("a=extmap:%d http://www.webrtc.org/experiments/rtp-hdrext/playout-delay\r\n", id);
    }
    assert_true(n < sizeof(big));
    assert_int_equal(cv_webrtc_sdp_parse(big, n, &offer), 0);
    assert_string_equal(offer.transport.ice_ufrag, ""); /* over 256: ignored */
    assert_int_equal(offer.media_count, CV_WEBRTC_SDP_MAX_MEDIA);
    assert_int_equal(offer.skipped_media, 2);
    assert_string_equal(offer.media[7].mid, "m7");
    assert_int_equal(offer.media[0].format_count, CV_WEBRTC_SDP_MAX_FORMATS);
    assert_int_equal(offer.media[0].skipped_formats, 100 - CV_WEBRTC_SDP_MAX_FORMATS);
    assert_int_equal(offer.media[0].extmap_count, CV_WEBRTC_SDP_MAX_EXTMAPS);
    assert_int_equal(offer.media[0].other_extmaps, 20 - CV_WEBRTC_SDP_MAX_EXTMAPS);

    /* An answer cannot leave m-lines out: refused. */
    struct cv_webrtc_sdp_send s[CV_WEBRTC_SDP_MAX_MEDIA];
    memset(s, 0, sizeof(s));
    assert_int_equal(cv_webrtc_sdp_answer(&offer, s, offer.media_count, &local, text, sizeof(text)),
                     -ERANGE);
#undef ADD
}

/* A server-made offer: the template of a High-profile H.264 + PCMA camera, chosen and written
 * like an answer with local.offer set, is an offer a browser can answer, and reads back. */
static void test_server_offer(void **state)
{
    (void)state;
    struct cv_stream_info info;
    memset(&info, 0, sizeof(info));
    h264_track(&info.tracks[0], 0x64, 0x00, 0x28);
    audio_track(&info.tracks[1], CV_CODEC_PCMA, 8000, 1);
    info.track_count = 2;
    assert_int_equal(cv_webrtc_sdp_template(&info, &offer), 0);
    assert_int_equal(offer.media_count, 2);
    struct cv_webrtc_sdp_choice c[2];
    struct cv_webrtc_sdp_send send[2];
    memset(send, 0, sizeof(send));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(cv_webrtc_sdp_choose(&offer.media[i], &info.tracks[i], &c[i]), 0);
        assert_true(c[i].ok);
        send[i] = (struct cv_webrtc_sdp_send){.choice = &c[i], .ssrc = 1000u + (unsigned)i,
                                              .rtx_ssrc = 2000u + (unsigned)i};
    }
    assert_int_equal(c[0].pt, 96);
    assert_int_equal(c[0].match, CV_WEBRTC_SDP_MATCH_EXACT);
    assert_true(c[0].has_rtx);
    assert_int_equal(c[1].pt, 8);
    send[0].extensions = CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY);
    struct cv_webrtc_sdp_local l = local;
    l.offer = true;
    int n = cv_webrtc_sdp_answer(&offer, send, 2, &l, text, sizeof(text));
    assert_true(n > 0);
    assert_int_equal(count(text, "a=setup:actpass"), 2);
    assert_int_equal(count(text, "a=setup:passive"), 0);
    assert_int_equal(count(text, "a=sendonly"), 2);
    assert_non_null(strstr(text, "a=group:BUNDLE 0 1\r\n"));
    assert_non_null(strstr(text, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n") ||
                    strstr(text, " UDP/TLS/RTP/SAVPF 96 97\r\n"));
    assert_non_null(strstr(text, "profile-level-id=640028"));
    assert_non_null(strstr(text, "a=fmtp:97 apt=96"));
    assert_non_null(strstr(text, "a=ssrc-group:FID 1000 2000"));
    assert_non_null(strstr(text, "a=rtpmap:8 PCMA/8000"));
    assert_non_null(strstr(text, "playout-delay"));
    assert_null(strstr(text, "selfselfself")); /* the placeholders never show */
    assert_int_equal(parse(text, &back), 0);
    assert_int_equal(back.media_count, 2);
    assert_int_equal(back.media[0].transport.setup, CV_WEBRTC_SDP_SETUP_ACTPASS);
    /* No track at all: nothing to offer. */
    memset(&info, 0, sizeof(info));
    assert_int_equal(cv_webrtc_sdp_template(&info, &offer), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_chrome),
        cmocka_unit_test(test_choose_h264),
        cmocka_unit_test(test_choose_superset_and_any),
        cmocka_unit_test(test_choose_refusals),
        cmocka_unit_test(test_choose_h265),
        cmocka_unit_test(test_choose_audio),
        cmocka_unit_test(test_answer_chrome),
        cmocka_unit_test(test_answer_srflx),
        cmocka_unit_test(test_server_offer),
        cmocka_unit_test(test_answer_firefox_aiortc),
        cmocka_unit_test(test_answer_directions),
        cmocka_unit_test(test_rejected_and_bundle_only),
        cmocka_unit_test(test_answer_errors),
        cmocka_unit_test(test_e2big),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fingerprints),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
