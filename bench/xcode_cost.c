/*
 * What the worker's transcoders (worker/xcode-*.c) cost per frame, by picture size: the
 * figures behind the worker's transcoding slices (CV_WORKER_XCODE_SLICE_MS) and the size bound
 * (common/media/scale.h), bench/RESULTS.md §14.
 *
 * For each size, a clip of FRAMES frames (one keyframe, then P-frames; a moving gradient with
 * sensor-like noise, so the encoders have detail to work on) is made with libx264 (veryfast, at
 * 4 Mbit/s for 1080p25 and in proportion, as bench/lib.sh's camera clip), then fed to the
 * decoder as the worker does: every frame decoded, then every frame decoded and encoded as JPEG,
 * then as H.264 (the h264 variant's settings). Prints milliseconds per frame (medians of 3
 * passes) and the mean size of a JPEG and of an H.264 picture; then the audio transcoder on 60 s
 * of G.711 (ms of CPU a second of audio, to Opus and to AAC). Run it from build/ (the
 * optimised build: figures) and build/asan/ (what the tests run).
 *
 *     build/bench/xcode_cost [frames]
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/media/nal.h"
#include "worker/xcode.h"

extern const struct cv_xcode_dec_ops cv_xcode_dec_ops;
extern const struct cv_xcode_enc_ops cv_xcode_jpeg_ops, cv_xcode_h264_ops;
extern const struct cv_xcode_audio_ops cv_xcode_audio_ops;

struct clip {
    uint8_t *data[256]; /* owned: each frame, length-prefixed (the ring's format) */
    size_t len[256];
    int count;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void draw(AVFrame *f, int i)
{
    uint32_t seed = 12345u + (uint32_t)i;
    for (int y = 0; y < f->height; y++) {
        uint8_t *row = f->data[0] + (size_t)y * (size_t)f->linesize[0];
        for (int x = 0; x < f->width; x++) {
            seed = seed * 1103515245u + 12345u;
            row[x] = (uint8_t)((x + y + 4 * i) / 4 + (seed >> 28));
        }
    }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < f->height / 2; y++)
            memset(f->data[p] + (size_t)y * (size_t)f->linesize[p], 96 + 32 * p + i % 16,
                   (size_t)f->width / 2);
}

static int make_clip(int w, int h, int frames, struct clip *c)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    AVCodecContext *enc = codec ? avcodec_alloc_context3(codec) : NULL;
    AVFrame *f = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    int rc = -ENOMEM;
    if (!enc || !f || !pkt)
        goto out;
    enc->width = w;
    enc->height = h;
    enc->pix_fmt = AV_PIX_FMT_YUV420P;
    enc->time_base = (AVRational){1, 25};
    enc->gop_size = frames;
    enc->max_b_frames = 0;
    enc->bit_rate = (int64_t)w * h * 2; /* ~4 Mbit/s at 1080p25 */
    av_opt_set(enc->priv_data, "preset", "veryfast", 0);
    av_opt_set(enc->priv_data, "tune", "zerolatency", 0);
    f->format = enc->pix_fmt;
    f->width = w;
    f->height = h;
    rc = -EINVAL;
    if (avcodec_open2(enc, codec, NULL) < 0 || av_frame_get_buffer(f, 0) < 0)
        goto out;
    c->count = 0;
    for (int i = 0; i <= frames && c->count < frames; i++) {
        if (i < frames) {
            av_frame_make_writable(f);
            draw(f, i);
            f->pts = i;
        }
        if (avcodec_send_frame(enc, i < frames ? f : NULL) < 0)
            goto out;
        while (avcodec_receive_packet(enc, pkt) == 0 && c->count < frames) {
            uint8_t *lp = malloc((size_t)pkt->size + 64);
            int n =
                lp ? cv_nal_annexb_to_lp(pkt->data, (size_t)pkt->size, lp, (size_t)pkt->size + 64)
                   : -ENOMEM;
            if (n < 0) {
                free(lp);
                goto out;
            }
            c->data[c->count] = lp;
            c->len[c->count++] = (size_t)n;
            av_packet_unref(pkt);
        }
    }
    rc = 0;
out:
    av_packet_free(&pkt);
    av_frame_free(&f);
    avcodec_free_context(&enc);
    return rc;
}

/* One pass over the clip: ms per frame, every frame decoded and, with enc, encoded; *bytes the
 * output's mean size a frame. */
static double pass(const struct clip *c, int w, int h, const struct cv_xcode_enc_ops *enc,
                   size_t *bytes)
{
    struct cv_track_info in = {.kind = 1, .codec = 1, .clock_rate = 90000};
    in.width = (uint16_t)w;
    in.height = (uint16_t)h;
    void *dec = NULL, *es = NULL;
    char path[256];
    struct cv_xcode_enc_params p = {.clock_rate = 90000};
    if (cv_xcode_dec_ops.open(&dec, &in, CV_XCODE_HW_NONE, path, sizeof(path)) < 0)
        return -1;
    if (enc && enc->open(&es, &p) < 0) {
        cv_xcode_dec_ops.close(dec);
        return -1;
    }
    double t0 = now_ms();
    for (int i = 0; i < c->count; i++) {
        const struct cv_xcode_pic *pic;
        int64_t pts;
        int rc = cv_xcode_dec_ops.feed(dec, c->data[i], c->len[i], (int64_t)i * 3600, i == 0, &pic,
                                       &pts);
        const uint8_t *out;
        size_t out_len = 0;
        bool key;
        if (rc > 0 && enc &&
            enc->encode(es, pic, (int64_t)i * 3600, false, &out, &out_len, &key) > 0)
            *bytes += out_len;
    }
    double ms = (now_ms() - t0) / c->count;
    *bytes /= (size_t)c->count;
    if (enc)
        enc->close(es);
    cv_xcode_dec_ops.close(dec);
    return ms;
}

static void count_packet(void *ctx, const uint8_t *pkt, size_t len, int64_t pts)
{
    (void)pkt;
    (void)pts;
    *(size_t *)ctx += len;
}

/* The audio transcoder on 60 s of G.711 (8 kHz, 20 ms frames): ms of CPU a second of audio. */
static double audio_pass(enum cv_codec out, size_t *bytes)
{
    struct cv_track_info in = {
        .kind = CV_TRACK_AUDIO, .codec = CV_CODEC_PCMA, .clock_rate = 8000, .channels = 1};
    uint8_t pcma[160];
    void *a = NULL;
    if (cv_xcode_audio_ops.open(&a, &in, out) < 0)
        return -1;
    *bytes = 0;
    double t0 = now_ms();
    for (int i = 0; i < 3000; i++) {
        for (size_t k = 0; k < sizeof(pcma); k++) /* a moving tone of sorts */
            pcma[k] = (uint8_t)(0xd5 ^ ((k * (7 + i % 13)) & 0x7f));
        cv_xcode_audio_ops.feed(a, pcma, sizeof(pcma), (int64_t)i * 160, count_packet, bytes);
    }
    double ms = (now_ms() - t0) / 60;
    cv_xcode_audio_ops.close(a);
    return ms;
}

static double median3(double a, double b, double c)
{
    return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

int main(int argc, char **argv)
{
    av_log_set_level(AV_LOG_ERROR); /* libx264's statistics, each clip */
    int frames = argc > 1 ? atoi(argv[1]) : 25;
    if (frames < 2 || frames > 256)
        frames = 25;
    static const int sizes[][2] = {
        {640, 360}, {1280, 720}, {1920, 1080}, {2560, 1440}, {3840, 2160}};
    printf("%-10s %10s %14s %8s %14s %8s\n", "size", "decode ms", "+jpeg ms", "jpeg kB", "+h264 ms",
           "h264 kB");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int w = sizes[s][0], h = sizes[s][1];
        struct clip c = {0};
        if (make_clip(w, h, frames, &c) < 0) {
            fprintf(stderr, "cannot make a %dx%d clip (libx264?)\n", w, h);
            return 1;
        }
        size_t jpeg = 0, h264 = 0;
        double d[3], e[3], x[3];
        for (int r = 0; r < 3; r++) {
            d[r] = pass(&c, w, h, NULL, &jpeg);
            jpeg = h264 = 0;
            e[r] = pass(&c, w, h, &cv_xcode_jpeg_ops, &jpeg);
            x[r] = pass(&c, w, h, &cv_xcode_h264_ops, &h264);
        }
        char name[16];
        snprintf(name, sizeof(name), "%dx%d", w, h);
        printf("%-10s %10.1f %14.1f %8.0f %14.1f %8.0f\n", name, median3(d[0], d[1], d[2]),
               median3(e[0], e[1], e[2]), jpeg / 1e3, median3(x[0], x[1], x[2]), h264 / 1e3);
        for (int i = 0; i < c.count; i++)
            free(c.data[i]);
    }
    printf("\n%-22s %14s %10s\n", "audio", "ms a second", "kbit/s");
    static const struct {
        const char *name;
        enum cv_codec out;
    } audio[] = {{"G.711 8k -> Opus 48k", CV_CODEC_OPUS}, {"G.711 8k -> AAC 16k", CV_CODEC_AAC}};
    for (size_t k = 0; k < 2; k++) {
        double m[3];
        size_t bytes = 0;
        for (int r = 0; r < 3; r++)
            m[r] = audio_pass(audio[k].out, &bytes);
        printf("%-22s %14.3f %10.1f\n", audio[k].name, median3(m[0], m[1], m[2]),
               bytes * 8 / 60.0 / 1000);
    }
    return 0;
}
