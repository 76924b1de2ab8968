/*
 * The RTP fan-out (common/consumer/rtp-fanout.c) on a real feed: a ring written here, a feed
 * subscribed through a socketpair standing in for the supervisor, and two viewers whose send op
 * records what they were sent. Checked: one packetisation for every playing viewer, the catch-up
 * numbered just before the live packets (one gapless sequence), a keyframe's parameter sets put
 * in band when the camera sends them only out of band, G.711 cut into 20 ms packets with what is
 * left carried to the next frame, and timestamps that go on across a writer restart.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/consumer/rtp-fanout.h"
#include "common/net/rtp.h"
#include "proto/chan.h"

#define MAX_SEEN 512

struct viewer {
    struct cv_rtp_viewer v;
    unsigned count;
    uint16_t seq[MAX_SEEN];
    uint32_t ts[MAX_SEEN];
    uint32_t len[MAX_SEEN];
    uint8_t first_nal[MAX_SEEN]; /* H.264 NAL type of each packet (FU-A: its inner type) */
};

static int record(struct cv_rtp_viewer *rv, int track, const uint8_t *arena,
                  const struct cv_rtp_pkt *pkts, size_t count)
{
    (void)track;
    struct viewer *w = (struct viewer *)((char *)rv - offsetof(struct viewer, v));
    for (size_t i = 0; i < count && w->count < MAX_SEEN; i++) {
        struct cv_rtp_header h;
        const uint8_t *p = arena + pkts[i].offset;
        assert_int_equal(cv_rtp_header_parse(p, pkts[i].len, &h), 0);
        w->seq[w->count] = h.seq;
        w->ts[w->count] = h.timestamp;
        w->len[w->count] = (uint32_t)h.payload_len;
        uint8_t nal = p[h.header_len] & 0x1f;
        w->first_nal[w->count] = nal == 28 ? (p[h.header_len + 1] & 0x1f) : nal;
        w->count++;
    }
    return 0;
}

static const struct cv_rtp_fanout_ops fanout_ops = {.send = record};

struct rig {
    struct event_base *base;
    int sup, child, ring_rw, bell;
    struct cv_ring_writer *w;
    struct cv_feed_set set;
    struct cv_rtp_fanout fo;
};

static void on_subscribed(struct cv_feed *f, int status, const char *reason)
{
    (void)f;
    (void)status;
    (void)reason;
}
static void on_params(struct cv_feed *f, const struct cv_stream_info *prev,
                      const struct cv_stream_info *info)
{
    struct rig *r = cv_feed_ctx(f);
    cv_rtp_fanout_params(&r->fo, prev, info);
}
static void on_discont(struct cv_feed *f, enum cv_feed_discont why)
{
    struct rig *r = cv_feed_ctx(f);
    cv_rtp_fanout_discontinuity(&r->fo, why);
}
static void on_frame(struct cv_feed *f, const struct cv_frame *fr, const uint8_t *data)
{
    struct rig *r = cv_feed_ctx(f);
    cv_rtp_fanout_frame(&r->fo, fr, data);
}
static const struct cv_feed_ops feed_ops = {on_subscribed, on_params, on_discont, on_frame};

/* A stream of one track: H.264 whose SPS/PPS are in extradata only, or G.711 at 8 kHz. */
static void set_info(struct rig *r, enum cv_codec codec)
{
    struct cv_stream_info info = {.track_count = 1};
    if (codec == CV_CODEC_H264) {
        static const uint8_t ps[] = {0, 0, 0, 4, 0x67, 0x42, 0xc0, 0x1f,
                                     0, 0, 0, 3, 0x68, 0xce, 0x3c};
        info.tracks[0] = (struct cv_track_info){.kind = CV_TRACK_VIDEO,
                                                .codec = CV_CODEC_H264,
                                                .clock_rate = 90000,
                                                .extradata_len = sizeof(ps)};
        memcpy(info.tracks[0].extradata, ps, sizeof(ps));
    } else {
        info.tracks[0] = (struct cv_track_info){
            .kind = CV_TRACK_AUDIO, .codec = codec, .clock_rate = 8000, .channels = 1};
    }
    assert_int_equal(cv_ring_writer_set_info(r->w, &info), 0);
}

static void publish(struct rig *r, int64_t pts, uint32_t flags, const uint8_t *data, size_t len)
{
    struct cv_frame fr = {.flags = flags, .track = 0, .pts = pts, .dts = pts, .arrival_ns = 1};
    assert_int_equal(cv_ring_write(r->w, &fr, data, len), 0);
    uint64_t one = 1;
    assert_int_equal(write(r->bell, &one, sizeof(one)), sizeof(one));
    event_base_loop(r->base, EVLOOP_NONBLOCK);
}

/* An IDR (or a P frame) of one NAL unit, length-prefixed. */
static void publish_h264(struct rig *r, int64_t pts, bool key)
{
    uint8_t f[64] = {0, 0, 0, 60, key ? 0x65 : 0x41};
    memset(f + 5, 0xaa, sizeof(f) - 5);
    publish(r, pts, key ? CV_FRAME_KEY : 0, f, sizeof(f));
}

static struct rig *start(enum cv_codec codec, bool webrtc)
{
    static struct rig rig;
    struct rig *r = &rig;
    memset(r, 0, sizeof(*r));
    r->base = event_base_new();
    int sv[2];
    assert_int_equal(cv_chan_pair(sv), 0);
    r->sup = sv[0];
    r->child = sv[1];
    assert_int_equal(cv_ring_create("fan", 256 << 10, 64, &r->ring_rw), 0);
    assert_int_equal(cv_ring_writer_open(r->ring_rw, &r->w), 0);
    cv_feed_set_init(&r->set, r->base, r->child);
    assert_int_equal(cv_rtp_fanout_init(&r->fo, "fan", 1184, &fanout_ops), 0);
    r->fo.in_band_params = webrtc;
    r->fo.g711_20ms = webrtc;
    set_info(r, codec);
    struct cv_feed *feed = cv_feed_open(&r->set, "fan", CV_VARIANT_NATIVE, &feed_ops, r);
    assert_non_null(feed);
    cv_rtp_fanout_set_feed(&r->fo, feed);
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds = 0;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), 0);
    r->bell = fds[0];
    struct cv_msg_subscribed ans = {.sub_id = m.u.subscribe.sub_id, .status = 0};
    int ro = cv_ring_reopen_readonly(r->ring_rw);
    if (cv_feed_set_on_subscribed(&r->set, &ans, ro) == 0)
        close(ro);
    return r;
}

static void stop(struct rig *r)
{
    cv_feed_close(r->fo.feed);
    cv_rtp_fanout_fini(&r->fo);
    cv_ring_writer_close(r->w);
    close(r->ring_rw);
    close(r->bell);
    close(r->sup);
    close(r->child);
    event_base_free(r->base);
}

static void test_catch_up_is_numbered_before_the_live_packets(void **state)
{
    (void)state;
    struct rig *r = start(CV_CODEC_H264, false);
    static struct viewer a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    cv_feed_viewer_attach(r->fo.feed, &a.v.fv);
    a.v.playing = true;
    publish_h264(r, 0, true);
    publish_h264(r, 3600, false);
    publish_h264(r, 7200, false);
    assert_int_equal(a.count, 3); /* one packet a frame, in band params off (RTSP) */

    /* b joins: the three frames since the keyframe, numbered right before the next live one. */
    cv_feed_viewer_attach(r->fo.feed, &b.v.fv);
    struct cv_rtp_catchup plan;
    cv_rtp_fanout_catch_up_plan(&r->fo, &plan);
    assert_int_equal(plan.frames, 3);
    b.v.playing = true;
    cv_rtp_fanout_catch_up_send(&r->fo, &b.v, &plan);
    assert_false(b.v.need_key);
    publish_h264(r, 10800, false);
    assert_int_equal(b.count, 4);
    for (unsigned i = 1; i < b.count; i++)
        assert_int_equal((uint16_t)(b.seq[i - 1] + 1), b.seq[i]); /* gapless */
    assert_int_equal(b.seq[3], a.seq[3]); /* and the live packet is the one a got */
    assert_int_equal(b.ts[0], a.ts[0]);
    stop(r);
}

static void test_parameter_sets_go_in_band_for_webrtc(void **state)
{
    (void)state;
    struct rig *r = start(CV_CODEC_H264, true);
    static struct viewer a;
    memset(&a, 0, sizeof(a));
    cv_feed_viewer_attach(r->fo.feed, &a.v.fv);
    a.v.playing = true;
    publish_h264(r, 0, true);
    assert_int_equal(a.count, 3); /* SPS, PPS, IDR: one access unit, one timestamp */
    assert_int_equal(a.first_nal[0], 7);
    assert_int_equal(a.first_nal[1], 8);
    assert_int_equal(a.first_nal[2], 5);
    assert_int_equal(a.ts[0], a.ts[2]);
    publish_h264(r, 3600, false);
    assert_int_equal(a.count, 4); /* a P frame: nothing added */
    assert_int_equal(a.first_nal[3], 1);
    stop(r);
}

static void test_g711_goes_in_20ms_packets(void **state)
{
    (void)state;
    struct rig *r = start(CV_CODEC_PCMA, true);
    static struct viewer a;
    memset(&a, 0, sizeof(a));
    cv_feed_viewer_attach(r->fo.feed, &a.v.fv);
    a.v.playing = true;
    uint8_t s[1024];
    memset(s, 0xd5, sizeof(s));
    /* 1024 samples (128 ms, as GStreamer sends): six 160-sample packets, 64 wait */
    publish(r, 0, CV_FRAME_KEY, s, sizeof(s));
    assert_int_equal(a.count, 6);
    for (unsigned i = 0; i < 6; i++) {
        assert_int_equal(a.len[i], 160);
        assert_int_equal(a.ts[i] - a.ts[0], 160 * i);
    }
    /* the next 1024: the waiting 64 and 96 of these first, then five more, 128 wait */
    publish(r, 1024, CV_FRAME_KEY, s, sizeof(s));
    assert_int_equal(a.count, 12);
    assert_int_equal(a.ts[6] - a.ts[0], 960);
    assert_int_equal(a.ts[11] - a.ts[0], 1760);
    /* a gap: what waited is dropped, the new frame starts its own packets */
    publish(r, 9000, CV_FRAME_KEY, s, 320);
    assert_int_equal(a.count, 14);
    assert_int_equal(a.ts[12] - a.ts[0], 9000);
    stop(r);
}

static void test_a_new_writer_never_sends_time_backwards(void **state)
{
    (void)state;
    struct rig *r = start(CV_CODEC_H264, false);
    static struct viewer a;
    memset(&a, 0, sizeof(a));
    cv_feed_viewer_attach(r->fo.feed, &a.v.fv);
    a.v.playing = true;
    publish_h264(r, 900000, true);
    publish_h264(r, 903600, false);
    cv_rtp_fanout_discontinuity(&r->fo, CV_FEED_WRITER_RESTART);
    publish_h264(r, 0, true); /* the new worker's clock starts again */
    assert_int_equal(a.count, 3);
    assert_int_equal((uint32_t)(a.ts[2] - a.ts[1]), 90000 / 50); /* 20 ms on, not back */
    assert_int_equal((uint16_t)(a.seq[1] + 1), a.seq[2]);
    stop(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catch_up_is_numbered_before_the_live_packets),
        cmocka_unit_test(test_parameter_sets_go_in_band_for_webrtc),
        cmocka_unit_test(test_g711_goes_in_20ms_packets),
        cmocka_unit_test(test_a_new_writer_never_sends_time_backwards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
