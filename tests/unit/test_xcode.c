/*
 * The transcoders of camvisor-ffmpeg.so (worker/xcode-*.c), linked in directly: what the h264
 * encoder promises viewers (keyframes when asked and at least every 2 s, parameter sets, the
 * ring's format, the size asked), the decoder's round trip, and the audio transcoder's output
 * track and timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>

#include "common/media/nal.h"
#include "worker/xcode.h"

extern const struct cv_xcode_dec_ops cv_xcode_dec_ops;
extern const struct cv_xcode_enc_ops cv_xcode_jpeg_ops, cv_xcode_h264_ops;
extern const struct cv_xcode_audio_ops cv_xcode_audio_ops;

/* A 320x240 picture that changes with i (so the encoder has something to code). */
static AVFrame *picture(AVFrame *f, int i)
{
    if (!f) {
        f = av_frame_alloc();
        f->format = AV_PIX_FMT_YUV420P;
        f->width = 320;
        f->height = 240;
        assert_int_equal(av_frame_get_buffer(f, 0), 0);
    }
    assert_int_equal(av_frame_make_writable(f), 0);
    for (int p = 0; p < 3; p++)
        for (int y = 0; y < (p ? 120 : 240); y++)
            for (int x = 0; x < (p ? 160 : 320); x++)
                f->data[p][y * f->linesize[p] + x] = (uint8_t)(x + y + 7 * i + 40 * p);
    return f;
}

static void test_h264_keyframes_and_format(void **state)
{
    (void)state;
    void *h = NULL;
    struct cv_xcode_enc_params p = {.width = 160, .clock_rate = 90000, .fps_x100 = 2500};
    assert_int_equal(cv_xcode_h264_ops.open(&h, &p), 0);
    struct cv_track_info t;
    assert_false(cv_xcode_h264_ops.track(h, &t)); /* nothing known before a picture */
    AVFrame *f = NULL;
    int keys[80] = {0}, outs = 0;
    void *dec = NULL;
    char path[256];
    for (int i = 0; i < 80; i++) {
        f = picture(f, i);
        const uint8_t *out;
        size_t len;
        bool key = false;
        /* A keyframe asked for at frame 10; 25 fps: the 2 s rule makes one at frame 50. */
        int rc = cv_xcode_h264_ops.encode(h, (const struct cv_xcode_pic *)f, (int64_t)i * 3600,
                                          i == 10, &out, &len, &key);
        assert_int_equal(rc, 1); /* zerolatency: a picture in, its packet out */
        keys[i] = key;
        outs++;
        size_t off = 0, nlen;
        const uint8_t *nal;
        while (cv_nal_next(out, len, &off, &nal, &nlen))
            ;
        assert_int_equal(off, len); /* the ring's 4-byte lengths, to the end */
        if (i == 0) {
            /* The first is an IDR with its parameter sets, and the track says what it is. */
            assert_true(key);
            assert_true(cv_xcode_h264_ops.track(h, &t));
            assert_int_equal(t.codec, CV_CODEC_H264);
            assert_int_equal(t.width, 160);
            assert_int_equal(t.height, 120);
            assert_true(t.extradata_len > 8);
            assert_int_equal(cv_nal_type(CV_CODEC_H264, t.extradata + 4), 7); /* SPS first */
            assert_int_equal(cv_xcode_dec_ops.open(&dec, &t, CV_XCODE_HW_NONE, path, sizeof(path)),
                             0);
        }
        /* What it made decodes, at the size asked. */
        const struct cv_xcode_pic *pic = NULL;
        int64_t pts = -1;
        assert_int_equal(cv_xcode_dec_ops.feed(dec, out, len, (int64_t)i * 3600, key, &pic, &pts),
                         1);
        assert_int_equal(pts, (int64_t)i * 3600);
        assert_int_equal(((const AVFrame *)pic)->width, 160);
    }
    assert_int_equal(outs, 80);
    for (int i = 1; i < 80; i++)
        assert_int_equal(keys[i], i == 10 || i == 60); /* 10 asked; 60: 2 s after it */
    cv_xcode_dec_ops.close(dec);
    cv_xcode_h264_ops.close(h);
    av_frame_free(&f);
}

static void test_jpeg_size(void **state)
{
    (void)state;
    void *j = NULL;
    struct cv_xcode_enc_params p = {.width = 0, .height = 60, .clock_rate = 90000};
    assert_int_equal(cv_xcode_jpeg_ops.open(&j, &p), 0);
    AVFrame *f = picture(NULL, 0);
    const uint8_t *out;
    size_t len;
    bool key;
    assert_int_equal(
        cv_xcode_jpeg_ops.encode(j, (const struct cv_xcode_pic *)f, 0, false, &out, &len, &key), 1);
    assert_true(key && len > 100 && out[0] == 0xff && out[1] == 0xd8);
    struct cv_track_info t;
    assert_true(cv_xcode_jpeg_ops.track(j, &t));
    assert_int_equal(t.width, 80); /* 60 high, the aspect ratio kept */
    assert_int_equal(t.height, 60);
    cv_xcode_jpeg_ops.close(j);
    av_frame_free(&f);
}

struct got {
    int packets;
    int64_t first_pts, last_pts;
};

static void emit(void *ctx, const uint8_t *pkt, size_t len, int64_t pts)
{
    struct got *g = ctx;
    assert_non_null(pkt);
    assert_true(len > 0);
    if (g->packets++ == 0)
        g->first_pts = pts;
    else
        assert_true(pts > g->last_pts);
    g->last_pts = pts;
}

/* G.711 (8 kHz, 20 ms packets from pts 16000) to Opus and to AAC: tracks a player takes, and
 * output time that starts where the input did and keeps the input's pace. */
static void test_audio(void **state)
{
    (void)state;
    struct cv_track_info in = {
        .kind = CV_TRACK_AUDIO, .codec = CV_CODEC_PCMA, .clock_rate = 8000, .channels = 1};
    static const struct {
        enum cv_codec codec;
        uint32_t rate;
    } outs[] = {{CV_CODEC_OPUS, 48000}, {CV_CODEC_AAC, 16000}};
    uint8_t pcma[160];
    for (size_t k = 0; k < sizeof(pcma); k++)
        pcma[k] = (uint8_t)(0xd5 ^ (k * 37)); /* a tone of sorts */
    for (size_t o = 0; o < 2; o++) {
        void *a = NULL;
        assert_int_equal(cv_xcode_audio_ops.open(&a, &in, outs[o].codec), 0);
        struct cv_track_info t;
        assert_true(cv_xcode_audio_ops.track(a, &t));
        assert_int_equal(t.codec, outs[o].codec);
        assert_int_equal(t.clock_rate, outs[o].rate);
        assert_int_equal(t.channels, 1);
        if (outs[o].codec == CV_CODEC_AAC)
            assert_true(t.extradata_len >= 2); /* the AudioSpecificConfig */
        struct got g = {0};
        for (int i = 0; i < 100; i++) /* 2 s */
            assert_int_equal(
                cv_xcode_audio_ops.feed(a, pcma, sizeof(pcma), 16000 + i * 160, emit, &g), 0);
        assert_true(g.packets >= 25); /* 2 s: 100 Opus packets of 20 ms, 31 AAC of 1024 */
        /* 16000 at 8 kHz is 2 s: the same instant in the output's clock, within a frame. */
        assert_true(g.first_pts >= 2 * (int64_t)outs[o].rate - 2048 &&
                    g.first_pts <= 2 * (int64_t)outs[o].rate + 2048);
        assert_true(g.last_pts - g.first_pts >= (int64_t)outs[o].rate * 3 / 2);
        /* A jump (the camera reconnected): output time follows, no gap filled, no going back. */
        int64_t before = g.last_pts;
        for (int i = 0; i < 20; i++)
            cv_xcode_audio_ops.feed(a, pcma, sizeof(pcma), 800000 + i * 160, emit, &g);
        assert_true(g.last_pts > before + 90 * (int64_t)outs[o].rate);
        /* Garbage is a lost frame, not a crash. */
        cv_xcode_audio_ops.feed(a, pcma, 0, 0, emit, &g);
        cv_xcode_audio_ops.close(a);
    }
    struct cv_track_info video = {
        .kind = CV_TRACK_VIDEO, .codec = CV_CODEC_H264, .clock_rate = 90000};
    void *a = NULL;
    assert_true(cv_xcode_audio_ops.open(&a, &video, CV_CODEC_OPUS) < 0);
    in.clock_rate = 1000; /* no such audio */
    assert_true(cv_xcode_audio_ops.open(&a, &in, CV_CODEC_AAC) < 0);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_h264_keyframes_and_format),
                                       cmocka_unit_test(test_jpeg_size),
                                       cmocka_unit_test(test_audio)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
