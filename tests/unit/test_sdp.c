/*
 * SDP parsing and building. The GStreamer SDPs are real DESCRIBE answers of gst-rtsp-server 1.22
 * (x264enc/x265enc/avenc_aac/opusenc/alawenc pipelines); the Hikvision and Dahua ones follow those
 * cameras' published answers (absolute controls with a query, "; " fmtp separators, ONVIF
 * metadata tracks, sprop order shuffled).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/net/sdp.h"

static struct cv_sdp sdp, sdp2;

static const char gst_h264_pcma[] =
    "v=0\r\n"
    "o=- 5784970968669357599 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:2097\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=framerate:25\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAFdkBQfsBagwMDUoAAAMAAgAAAwBlHixckA=="
    ",aMuMsg==;profile-level-id=42c015;level-asymmetry-allowed=1\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:3127130681 cname:user3240558327@host-313fea63\r\n"
    "m=audio 0 RTP/AVP 8\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:8 PCMA/8000\r\n"
    "a=control:stream=1\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:3400755549 cname:user3240558327@host-313fea63\r\n";

static const char gst_h265[] =
    "v=0\r\n"
    "o=- 2148180376752297434 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "i=rtsp-server\r\n"
    "t=0 0\r\n"
    "a=tool:GStreamer\r\n"
    "a=type:broadcast\r\n"
    "a=control:*\r\n"
    "a=range:npt=now-\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:96 H265/90000\r\n"
    "a=framerate:25\r\n"
    "a=fmtp:96 "
    "sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+SgJA=;sprop-sps=QgEBBAgAAAMAmAgAAAMAAD+QAUEB4ilL"
    "JUkmV/+AAIAAtQYGBgQAAAMABAAAAwBkIA==;sprop-pps=RAHBcoYMRiQ=\r\n"
    "a=control:stream=0\r\n"
    "a=ts-refclk:local\r\n"
    "a=mediaclk:sender\r\n"
    "a=ssrc:812126838 cname:user2584973605@host-cb004239\r\n";

static const char gst_aac_opus_tail[] =
    "v=0\r\n"
    "o=- 8525600620874415344 1 IN IP4 127.0.0.1\r\n"
    "s=Session streamed with GStreamer\r\n"
    "t=0 0\r\n"
    "a=control:*\r\n"
    "m=audio 0 RTP/AVP 97\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=rtpmap:97 MPEG4-GENERIC/44100/1\r\n"
    "a=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;config=120856e500;sizelength=13;"
    "indexlength=3;indexdeltalength=3\r\n"
    "a=control:stream=1\r\n"
    "m=audio 0 RTP/AVP 111\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:64\r\n"
    "a=rtpmap:111 OPUS/48000/2\r\n"
    "a=fmtp:111 sprop-stereo=0;sprop-maxcapturerate=48000\r\n"
    "a=control:stream=2\r\n";

static const char hikvision[] =
    "v=0\r\n"
    "o=- 1109162014219182 1109162014219192 IN IP4 192.168.1.64\r\n"
    "s=Media Presentation\r\n"
    "e=NONE\r\n"
    "b=AS:5050\r\n"
    "t=0 0\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast\r\n"
    "m=video 0 RTP/AVP 96\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:5000\r\n"
    "a=recvonly\r\n"
    "a=x-dimensions:1920,1080\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast\r\n"
    "a=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
    "sprop-parameter-sets=Z00AKpWoHgCJ+WbgICAgQA==,aO48gA==\r\n"
    "a=Media_header:MEDIAINFO=494D4B48010100000400010010710110401F000000FA00000000000000000000;\r\n"
    "a=appversion:1.0\r\n"
    "m=audio 0 RTP/AVP 0\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50\r\n"
    "a=recvonly\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast\r\n"
    "m=application 0 RTP/AVP 107\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "b=AS:50\r\n"
    "a=recvonly\r\n"
    "a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=3?transportmode=unicast\r\n"
    "a=rtpmap:107 isapi-metadata/90000\r\n";

/* Bare LF line ends; sprop order shuffled; a second payload type on the video line. */
static const char dahua[] =
    "v=0\n"
    "o=- 2251938202 2251938202 IN IP4 0.0.0.0\n"
    "s=Media Server\n"
    "c=IN IP4 0.0.0.0\n"
    "t=0 0\n"
    "a=control:*\n"
    "a=packetization-supported:DH\n"
    "a=range:npt=now-\n"
    "m=video 0 RTP/AVP 98 96\n"
    "a=control:trackID=0\n"
    "a=framerate:29.970000\n"
    "a=rtpmap:98 H264/90000\n"
    "a=fmtp:98 packetization-mode=2\n"
    "a=rtpmap:96 H265/90000\n"
    "a=fmtp:96 profile-id=1;sprop-pps=RAHBcoYMRiQ=;sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+SgJA=;"
    "sprop-sps=QgEBBAgAAAMAmAgAAAMAAD+QAUEB4ilLJUkmV/+AAIAAtQYGBgQAAAMABAAAAwBkIA==\n"
    "a=recvonly\n"
    "m=audio 0 RTP/AVP 97\n"
    "a=control:trackID=1\n"
    "a=rtpmap:97 MPEG4-GENERIC/16000/1\n"
    "a=fmtp:97 streamtype=5;profile-level-id=15;mode=AAC-hbr;config=1408;sizelength=13;"
    "indexlength=3;indexdeltalength=3;\n"
    "a=recvonly\n"
    "m=application 0 RTP/AVP 107\n"
    "a=control:trackID=4\n"
    "a=rtpmap:107 vnd.onvif.metadata/90000\n"
    "a=recvonly\n";

static int parse(const char *text, struct cv_sdp *out)
{
    return cv_sdp_parse(text, strlen(text), out);
}

/* Type of the i-th length-prefixed NAL unit of a track's extradata, -1 when absent. */
static int extradata_nal_type(const struct cv_track_info *t, int i)
{
    size_t pos = 0;
    while (pos + 4 <= t->extradata_len) {
        size_t n = (size_t)t->extradata[pos] << 24 | (size_t)t->extradata[pos + 1] << 16 |
                   (size_t)t->extradata[pos + 2] << 8 | t->extradata[pos + 3];
        if (i-- == 0)
            return t->codec == CV_CODEC_H264 ? t->extradata[pos + 4] & 0x1f
                                             : (t->extradata[pos + 4] >> 1) & 0x3f;
        pos += 4 + n;
    }
    return -1;
}

static void test_gstreamer_h264_pcma(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(parse(gst_h264_pcma, &sdp), 0);
    assert_int_equal(sdp.track_count, 2);
    assert_int_equal(sdp.skipped_media, 0);
    assert_string_equal(sdp.control, "*");

    const struct cv_sdp_track *v = &sdp.tracks[0], *a = &sdp.tracks[1];
    assert_int_equal(v->info.kind, CV_TRACK_VIDEO);
    assert_int_equal(v->info.codec, CV_CODEC_H264);
    assert_int_equal(v->info.clock_rate, 90000);
    assert_int_equal(v->info.fps_x100, 2500);
    assert_int_equal(v->payload_type, 96);
    assert_int_equal(v->packetization_mode, 1);
    assert_true(v->has_profile_level_id);
    assert_int_equal(v->profile_level_id, 0x42c015);
    /* SPS (28 bytes) and PPS (4 bytes), each with a 4-byte length. */
    assert_int_equal(v->info.extradata_len, 4 + 28 + 4 + 4);
    static const uint8_t head[] = {0, 0, 0, 28, 0x67, 0x42, 0xc0, 0x15};
    static const uint8_t pps[] = {0, 0, 0, 4, 0x68, 0xcb, 0x8c, 0xb2};
    assert_memory_equal(v->info.extradata, head, sizeof(head));
    assert_memory_equal(v->info.extradata + 32, pps, sizeof(pps));
    assert_string_equal(v->control, "stream=0");

    assert_int_equal(a->info.kind, CV_TRACK_AUDIO);
    assert_int_equal(a->info.codec, CV_CODEC_PCMA);
    assert_int_equal(a->payload_type, 8);
    assert_int_equal(a->info.clock_rate, 8000);
    assert_int_equal(a->info.channels, 1);
    assert_int_equal(a->media_index, 1);

    assert_int_equal(cv_sdp_track_url(&sdp, 0, "rtsp://127.0.0.1:18554/h264/", url, sizeof(url)),
                     0);
    assert_string_equal(url, "rtsp://127.0.0.1:18554/h264/stream=0");
    assert_int_equal(cv_sdp_track_url(&sdp, 1, "rtsp://127.0.0.1:18554/h264", url, sizeof(url)), 0);
    assert_string_equal(url, "rtsp://127.0.0.1:18554/h264/stream=1");
    assert_int_equal(cv_sdp_track_url(&sdp, 2, "rtsp://x/", url, sizeof(url)), -EINVAL);
}

static void test_gstreamer_h265(void **state)
{
    (void)state;
    assert_int_equal(parse(gst_h265, &sdp), 0);
    assert_int_equal(sdp.track_count, 1);
    const struct cv_track_info *t = &sdp.tracks[0].info;
    assert_int_equal(t->codec, CV_CODEC_H265);
    assert_int_equal(extradata_nal_type(t, 0), 32);
    assert_int_equal(extradata_nal_type(t, 1), 33);
    assert_int_equal(extradata_nal_type(t, 2), 34);
    assert_int_equal(extradata_nal_type(t, 3), -1);
    assert_int_equal(t->extradata_len, 4 + 23 + 4 + 49 + 4 + 8);
}

static void test_gstreamer_aac_opus(void **state)
{
    (void)state;
    assert_int_equal(parse(gst_aac_opus_tail, &sdp), 0);
    assert_int_equal(sdp.track_count, 2);
    const struct cv_sdp_track *aac = &sdp.tracks[0], *opus = &sdp.tracks[1];
    assert_int_equal(aac->info.codec, CV_CODEC_AAC);
    assert_int_equal(aac->info.clock_rate, 44100);
    assert_int_equal(aac->info.channels, 1);
    assert_int_equal(aac->payload_type, 97);
    assert_int_equal(aac->aac_sizelength, 13);
    assert_int_equal(aac->aac_indexlength, 3);
    assert_int_equal(aac->aac_indexdeltalength, 3);
    static const uint8_t asc[] = {0x12, 0x08, 0x56, 0xe5, 0x00};
    assert_int_equal(aac->info.extradata_len, sizeof(asc));
    assert_memory_equal(aac->info.extradata, asc, sizeof(asc));
    assert_int_equal(opus->info.codec, CV_CODEC_OPUS);
    assert_int_equal(opus->info.clock_rate, 48000);
    assert_int_equal(opus->info.channels, 2);
    assert_int_equal(opus->payload_type, 111);
}

static void test_hikvision(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(parse(hikvision, &sdp), 0);
    assert_int_equal(sdp.track_count, 2);
    assert_int_equal(sdp.skipped_media, 1); /* the ISAPI metadata track */
    const struct cv_sdp_track *v = &sdp.tracks[0], *a = &sdp.tracks[1];
    assert_int_equal(v->info.codec, CV_CODEC_H264);
    assert_int_equal(v->info.width, 1920);
    assert_int_equal(v->info.height, 1080);
    assert_int_equal(v->profile_level_id, 0x420029);
    assert_int_equal(extradata_nal_type(&v->info, 0), 7);
    assert_int_equal(extradata_nal_type(&v->info, 1), 8);
    /* Static payload type 0 without an rtpmap. */
    assert_int_equal(a->info.codec, CV_CODEC_PCMU);
    assert_int_equal(a->info.clock_rate, 8000);
    assert_int_equal(
        cv_sdp_track_url(&sdp, 0, "rtsp://192.168.1.64/Streaming/Channels/101", url, sizeof(url)),
        0);
    assert_string_equal(
        url, "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast");
}

static void test_dahua(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(parse(dahua, &sdp), 0);
    assert_int_equal(sdp.track_count, 2);
    assert_int_equal(sdp.skipped_media, 1);
    const struct cv_sdp_track *v = &sdp.tracks[0], *a = &sdp.tracks[1];
    /* Payload type 98 (H.264 interleaved mode) is unusable; 96 (H.265) is taken. */
    assert_int_equal(v->payload_type, 96);
    assert_int_equal(v->info.codec, CV_CODEC_H265);
    assert_int_equal(v->info.fps_x100, 2997);
    assert_int_equal(extradata_nal_type(&v->info, 0), 32);
    assert_int_equal(extradata_nal_type(&v->info, 1), 33);
    assert_int_equal(extradata_nal_type(&v->info, 2), 34);
    assert_int_equal(a->info.codec, CV_CODEC_AAC);
    assert_int_equal(a->info.clock_rate, 16000);
    assert_int_equal(a->info.extradata_len, 2);
    assert_int_equal(cv_sdp_track_url(&sdp, 1,
                                      "rtsp://10.0.0.9:554/cam/realmonitor?channel=1&subtype=0/",
                                      url, sizeof(url)),
                     0);
    assert_string_equal(url, "rtsp://10.0.0.9:554/cam/realmonitor?channel=1&subtype=0/trackID=1");
}

static void test_odd_input(void **state)
{
    (void)state;
    assert_int_equal(parse("", &sdp), -EBADMSG);
    assert_int_equal(parse("<html>404</html>", &sdp), -EBADMSG);
    assert_int_equal(cv_sdp_parse("v=0\r\n\0m=video 0 RTP/AVP 96\r\n", 27, &sdp), -EBADMSG);
    /* No media: fine, no tracks. */
    assert_int_equal(parse("v=0\r\ns=x\r\na=control:rtsp://h/s\r\n", &sdp), 0);
    assert_int_equal(sdp.track_count, 0);
    assert_string_equal(sdp.control, "rtsp://h/s");
    /* SRTP, unknown codecs, bad rtpmaps, AAC without mode: skipped. */
    assert_int_equal(parse("v=0\r\n"
                           "m=video 0 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\n"
                           "m=video 0 RTP/AVP 26\r\n"
                           "m=audio 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                           "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/8000\r\n"
                           "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 PCMA/0\r\n"
                           "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 L16/8000/2\r\n"
                           "m=audio 0 RTP/AVP 200\r\n"
                           "m=video\r\n",
                           &sdp),
                     0);
    assert_int_equal(sdp.track_count, 0);
    assert_int_equal(sdp.skipped_media, 8);
    /* More than CV_MAX_TRACKS usable tracks: the rest are skipped. */
    assert_int_equal(parse("v=0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 0 RTP/AVP 8\r\n"
                           "m=audio 0 RTP/AVP 0\r\nm=audio 0 RTP/AVP 8\r\nm=audio 0 RTP/AVP 0\r\n",
                           &sdp),
                     0);
    assert_int_equal(sdp.track_count, CV_MAX_TRACKS);
    assert_int_equal(sdp.skipped_media, 1);
    /* Junk base64 leaves extradata empty but keeps the track. */
    assert_int_equal(parse("v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                           "a=fmtp:96 sprop-parameter-sets=!!!,aMuMsg==\r\n",
                           &sdp),
                     0);
    assert_int_equal(sdp.track_count, 1);
    assert_int_equal(sdp.tracks[0].info.extradata_len, 0);
}

static void test_resolve(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a/", "rtsp://o/x", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://o/x");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a", "*", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://h/a");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a", "", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://h/a");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h:554/a/b?x", "/c/d", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://h:554/c/d");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a", "trackID=1", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://h/a/trackID=1");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a/", "trackID=1", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://h/a/trackID=1");
    assert_int_equal(cv_sdp_resolve_control("rtsp://h/a/", "trackID=1", out, 20), -E2BIG);
}

static struct cv_track_info track_from_sdp(const char *text, unsigned i)
{
    struct cv_sdp s;
    assert_int_equal(parse(text, &s), 0);
    assert_true(i < s.track_count);
    return s.tracks[i].info;
}

static void assert_same_track(const struct cv_track_info *a, const struct cv_track_info *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->codec, b->codec);
    assert_int_equal(a->clock_rate, b->clock_rate);
    if (a->kind == CV_TRACK_AUDIO)
        assert_int_equal(a->codec == CV_CODEC_OPUS ? 2 : a->channels, b->channels);
    assert_int_equal(a->extradata_len, b->extradata_len);
    assert_memory_equal(a->extradata, b->extradata, a->extradata_len);
}

static void test_build_round_trip(void **state)
{
    (void)state;
    static struct cv_stream_info si;
    static char text[8192];
    char url[128];
    memset(&si, 0, sizeof(si));
    si.track_count = 4;
    si.tracks[0] = track_from_sdp(gst_h264_pcma, 0);
    si.tracks[1] = track_from_sdp(gst_h264_pcma, 1);
    si.tracks[2] = track_from_sdp(gst_aac_opus_tail, 0);
    si.tracks[3] = track_from_sdp(gst_aac_opus_tail, 1);

    const unsigned all[] = {0, 1, 2, 3};
    int n = cv_sdp_build(&si, all, 4, 42, text, sizeof(text));
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(text));
    assert_non_null(strstr(text, "s=camvisor\r\n"));
    assert_non_null(strstr(text, "a=control:*\r\n"));
    assert_non_null(strstr(text, "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                                 "a=fmtp:96 packetization-mode=1;profile-level-id=42C015;"
                                 "sprop-parameter-sets=Z0LAFdkBQfsBagwMDUoAAAMAAgAAAwBlHixckA==,"
                                 "aMuMsg==\r\n"));
    assert_non_null(strstr(text, "m=audio 0 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n"));
    assert_non_null(strstr(text, "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;"
                                 "sizelength=13;indexlength=3;indexdeltalength=3;"
                                 "config=120856E500\r\n"));
    assert_non_null(strstr(text, "a=rtpmap:111 opus/48000/2\r\n"));
    assert_non_null(strstr(text, "a=control:trackID=3\r\n"));

    assert_int_equal(parse(text, &sdp2), 0);
    assert_int_equal(sdp2.track_count, 4);
    for (unsigned i = 0; i < 4; i++)
        assert_same_track(&si.tracks[i], &sdp2.tracks[i].info);
    assert_int_equal(sdp2.tracks[2].aac_sizelength, 13);
    assert_int_equal(cv_sdp_track_url(&sdp2, 3, "rtsp://h:8554/cam", url, sizeof(url)), 0);
    assert_string_equal(url, "rtsp://h:8554/cam/trackID=3");

    /* A selection keeps the ring's indices in the control URLs. */
    const unsigned sel[] = {2};
    assert_true(cv_sdp_build(&si, sel, 1, 1, text, sizeof(text)) > 0);
    assert_int_equal(parse(text, &sdp2), 0);
    assert_int_equal(sdp2.track_count, 1);
    assert_string_equal(sdp2.tracks[0].control, "trackID=2");

    /* H.265, and parse -> build -> parse of the Dahua answer. */
    si.track_count = 2;
    si.tracks[0] = track_from_sdp(gst_h265, 0);
    si.tracks[1] = track_from_sdp(dahua, 1);
    const unsigned two[] = {0, 1};
    assert_true(cv_sdp_build(&si, two, 2, 7, text, sizeof(text)) > 0);
    assert_non_null(strstr(text, "a=fmtp:96 sprop-vps=QAEMAf//BAgAAAMAmAgAAAMAAD+SgJA=;"
                                 "sprop-sps="));
    assert_int_equal(parse(text, &sdp2), 0);
    assert_same_track(&si.tracks[0], &sdp2.tracks[0].info);
    assert_same_track(&si.tracks[1], &sdp2.tracks[1].info);

    /* G.711 at 16 kHz needs a dynamic payload type. */
    memset(&si.tracks[0], 0, sizeof(si.tracks[0]));
    si.tracks[0].kind = CV_TRACK_AUDIO;
    si.tracks[0].codec = CV_CODEC_PCMU;
    si.tracks[0].clock_rate = 16000;
    si.tracks[0].channels = 1;
    assert_int_equal(cv_sdp_payload_type(&si.tracks[0]), 99);
    assert_true(cv_sdp_build(&si, two, 1, 7, text, sizeof(text)) > 0);
    assert_int_equal(parse(text, &sdp2), 0);
    assert_same_track(&si.tracks[0], &sdp2.tracks[0].info);

    /* Errors. */
    assert_int_equal(cv_sdp_build(&si, two, 2, 7, text, 100), -E2BIG);
    const unsigned bad[] = {5};
    assert_int_equal(cv_sdp_build(&si, bad, 1, 7, text, sizeof(text)), -EINVAL);
    si.tracks[1].codec = CV_CODEC_NONE;
    assert_int_equal(cv_sdp_build(&si, two, 2, 7, text, sizeof(text)), -EINVAL);
}

static void test_build_without_params(void **state)
{
    (void)state;
    static struct cv_stream_info si;
    char text[1024];
    memset(&si, 0, sizeof(si));
    si.track_count = 1;
    si.tracks[0].kind = CV_TRACK_VIDEO;
    si.tracks[0].codec = CV_CODEC_H265;
    si.tracks[0].clock_rate = 90000;
    const unsigned sel[] = {0};
    assert_true(cv_sdp_build(&si, sel, 1, 1, text, sizeof(text)) > 0);
    assert_null(strstr(text, "a=fmtp"));
    assert_int_equal(parse(text, &sdp2), 0);
    assert_int_equal(sdp2.track_count, 1);
    assert_int_equal(sdp2.tracks[0].info.codec, CV_CODEC_H265);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gstreamer_h264_pcma),
        cmocka_unit_test(test_gstreamer_h265),
        cmocka_unit_test(test_gstreamer_aac_opus),
        cmocka_unit_test(test_hikvision),
        cmocka_unit_test(test_dahua),
        cmocka_unit_test(test_odd_input),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_build_round_trip),
        cmocka_unit_test(test_build_without_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
