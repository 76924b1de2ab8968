/*
 * The camera's decoder and the encoders behind it (worker/xcode-*.c) on any bytes: a hostile
 * camera's access units reach the decoder through the worker's ring, and a decoder that crashed
 * would take its camera's worker down with it (and only that one, which restarts; this target
 * keeps the crash from happening at all). Checked beyond "no crash": a picture that comes out
 * has a size, and what an encoder makes of it is in the ring's format (length-prefixed NAL units
 * that walk to the end for H.264, a JPEG's SOI for jpeg).
 *
 * Input:
 *   [0]  mode: bit 0 H.265 (else H.264); bit 1 extradata follows; bits 2-3 encoders: 0 none,
 *        1 jpeg, 2 h264, 3 both; bit 4 keyframe requests on every fourth picture; bit 5 an
 *        audio track instead (the audio transcoder, worker/xcode-audio.c): then bits 6-7 its
 *        codec (AAC, PCMA, PCMU, Opus) and bit 0 the output (AAC, else Opus); its extradata
 *        (bit 1) is the AudioSpecificConfig; bits 2-4 the rate (8000, 16000, 44100, 48000,
 *        11025, 96000, 1000, 0) and a second channel when bit 4 is set
 *   if bit 1: [2] extradata length (big endian, at most 1024), the bytes (ring format)
 *   access units until the input ends: [1] flags (bit 0 key), [2] length, the bytes (ring
 *        format: 4-byte big-endian lengths, what the decoder converts back to start codes)
 * The seeds are real 64x48 streams from libx264 and libx265 in this layout, and AAC and G.711
 * audio from ffmpeg.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <libavutil/log.h>

#include "common/base/log.h"
#include "common/media/nal.h"
#include "worker/xcode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

extern const struct cv_xcode_dec_ops cv_xcode_dec_ops;
extern const struct cv_xcode_enc_ops cv_xcode_jpeg_ops, cv_xcode_h264_ops;
extern const struct cv_xcode_audio_ops cv_xcode_audio_ops;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    cv_log_set_level(CV_LOG_ERR);
    return 0;
}

static void check_output(const struct cv_xcode_enc_ops *enc, const uint8_t *out, size_t len)
{
    if (enc->codec == CV_CODEC_JPEG) {
        if (len < 2 || out[0] != 0xff || out[1] != 0xd8)
            __builtin_trap();
        return;
    }
    size_t off = 0;
    const uint8_t *nal;
    size_t nlen;
    while (cv_nal_next(out, len, &off, &nal, &nlen))
        ;
    if (off != len || len == 0)
        __builtin_trap();
}

static void emit(void *ctx, const uint8_t *pkt, size_t len, int64_t pts)
{
    (void)pts; /* its pace is test_xcode's to check, with a camera's clock that makes sense */
    unsigned *packets = ctx;
    if (!pkt || !len)
        __builtin_trap();
    ++*packets;
}

static int audio(uint8_t mode, struct cv_track_info *in, const uint8_t *data, size_t size)
{
    static const enum cv_codec codecs[4] = {CV_CODEC_AAC, CV_CODEC_PCMA, CV_CODEC_PCMU,
                                            CV_CODEC_OPUS};
    static const uint32_t rates[8] = {8000, 16000, 44100, 48000, 11025, 96000, 1000, 0};
    in->kind = CV_TRACK_AUDIO;
    in->codec = (uint8_t)codecs[mode >> 6];
    in->clock_rate = rates[(mode >> 2) & 7];
    in->channels = mode & 16 ? 2 : 1;
    void *a = NULL;
    if (cv_xcode_audio_ops.open(&a, in, mode & 1 ? CV_CODEC_AAC : CV_CODEC_OPUS) < 0)
        return 0;
    int64_t pts = 0;
    unsigned packets = 0;
    size_t r = 0;
    while (size - r >= 3) {
        size_t n = (size_t)data[r + 1] << 8 | data[r + 2];
        int64_t step = (int8_t)data[r]; /* a camera's clock may jump, or go back */
        r += 3;
        if (n > size - r)
            n = size - r;
        cv_xcode_audio_ops.feed(a, data + r, n, pts, emit, &packets);
        pts += step * 160;
        r += n;
    }
    cv_xcode_audio_ops.close(a);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t r = 1;
    struct cv_track_info in = {.kind = CV_TRACK_VIDEO,
                               .codec = mode & 1 ? CV_CODEC_H265 : CV_CODEC_H264,
                               .clock_rate = 90000};
    if (mode & 2) {
        if (size - r < 2)
            return 0;
        size_t n = (size_t)data[r] << 8 | data[r + 1];
        r += 2;
        if (n > sizeof(in.extradata) || n > size - r)
            return 0;
        memcpy(in.extradata, data + r, n);
        in.extradata_len = (uint16_t)n;
        r += n;
    }
    if (mode & 32)
        return audio(mode, &in, data + r, size - r);
    const struct cv_xcode_enc_ops *encs[2] = {(mode & 4) ? &cv_xcode_jpeg_ops : NULL,
                                              (mode & 8) ? &cv_xcode_h264_ops : NULL};
    void *dec = NULL, *es[2] = {NULL, NULL};
    char path[256];
    if (cv_xcode_dec_ops.open(&dec, &in, CV_XCODE_HW_NONE, path, sizeof(path)) < 0)
        return 0;
    /* Small pictures whatever the stream says: the point is the parsing, not the pixels. */
    struct cv_xcode_enc_params p = {.width = 64, .height = 0, .clock_rate = 90000};
    for (int e = 0; e < 2; e++)
        if (encs[e] && encs[e]->open(&es[e], &p) < 0)
            es[e] = NULL;
    int64_t pts = 0;
    unsigned pictures = 0;
    while (size - r >= 3) {
        bool key = data[r] & 1;
        size_t n = (size_t)data[r + 1] << 8 | data[r + 2];
        r += 3;
        if (n > size - r)
            n = size - r;
        const struct cv_xcode_pic *pic = NULL;
        int64_t pic_pts;
        int rc = cv_xcode_dec_ops.feed(dec, data + r, n, pts, key, &pic, &pic_pts);
        r += n;
        pts += 3600;
        if (rc <= 0)
            continue;
        if (!pic)
            __builtin_trap();
        pictures++;
        for (int e = 0; e < 2; e++) {
            if (!es[e])
                continue;
            const uint8_t *out;
            size_t len;
            bool k;
            bool force = (mode & 16) && pictures % 4 == 0;
            if (encs[e]->encode(es[e], pic, pts, force, &out, &len, &k) > 0)
                check_output(encs[e], out, len);
        }
    }
    for (int e = 0; e < 2; e++)
        if (es[e])
            encs[e]->close(es[e]);
    cv_xcode_dec_ops.close(dec);
    return 0;
}
