/*
 * The fMP4 muxer on any bytes: the camera controls the parameter sets and frames that reach it
 * (through the worker and the ring). Checked beyond "no crash": every fragment's tfdt is where
 * it says and holds its decode time, and each output track's timeline is continuous (a decode
 * time is the previous one plus the previous duration) whatever the timestamps and
 * discontinuities; cv_fmp4_write never fails.
 *
 * Input:
 *   [0]    mode: bit 0 H.265 (else H.264); bit 1 extradata from the input (else a real camera-like
 *          set built in); bit 2 an AAC track; bit 3 a PCMA track (8 kHz mono); bits 4-5 video clock
 *          (90000, 0, 1000, 4294967295); bit 6 width/height in the info; bit 7 the byte below
 *   if bit 7: [1] bits 0-1 one more audio track: PCMA, PCMU, Opus, or none and the video track
 *          of kind audio; bits 2-4 its clock (8000, 16000, 48000, 0, 1000, 44100, 90000,
 *          4294967295); bits 5-7 its channels (0..7). G.711 is re-encoded as FLAC (chosen when
 *          there is no AAC that parses, no Opus, and for PCMU no PCMA), Opus goes as it is: any
 *          payload is then a G.711 packet or an Opus packet as a hostile camera may send them.
 *   if bit 1: [2] extradata length (big endian), the bytes
 *   if bit 2: [1] AudioSpecificConfig length (0..15), the bytes, [1] AAC clock choice
 *   frames until the input ends: [1] op (bits 0-1 ring track 0..3, 3 meaning 7 when there are
 *          fewer than four tracks; bit 2 CV_FRAME_KEY; bit 3 discontinuity first), [2] length,
 *          [4] signed dts step, [2] signed pts - dts, the payload (what is left when shorter)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "common/base/log.h"
#include "common/mux/fmp4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* 64x48 4:2:0 from libx264 and libx265, in the ring's layout: what a camera usually sends. */
static const uint8_t h264_params[] = {0,    0,    0,    21,   0x67, 0x42, 0xc0, 0x0a, 0xda,
                                      0x11, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40,
                                      0x00, 0x00, 0x05, 0x03, 0xc4, 0x89, 0xa8, 0,    0,
                                      0,    4,    0x68, 0xce, 0x0f, 0xc8};
static const uint8_t h265_params[] = {
    0,    0,    0,    24,   0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00,
    0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x1e, 0xba, 0x02, 0x40,
    0,    0,    0,    39,   0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90,
    0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x1e, 0xa0, 0x20, 0x83, 0x16, 0x5b, 0xa4,
    0xa4, 0xc2, 0xf0, 0x16, 0x80, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x05,
    0x04, 0,    0,    0,    6,    0x44, 0x01, 0xc0, 0x73, 0xc0, 0x89};

struct input {
    const uint8_t *p;
    size_t n;
};

static unsigned take(struct input *in, size_t bytes)
{
    unsigned v = 0;
    for (size_t i = 0; i < bytes; i++) {
        v = v << 8 | (in->n ? *in->p : 0);
        if (in->n) {
            in->p++;
            in->n--;
        }
    }
    return v;
}

static size_t take_bytes(struct input *in, uint8_t *out, size_t want)
{
    size_t k = want < in->n ? want : in->n;
    memcpy(out, in->p, k);
    in->p += k;
    in->n -= k;
    return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    av_log_set_level(AV_LOG_QUIET);
    cv_log_set_level(CV_LOG_ERR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t vclocks[4] = {90000, 0, 1000, 4294967295u};
    static const uint32_t aclocks[8] = {48000, 44100, 16000, 8000, 0, 90000, 1, 384001};
    static const uint32_t xclocks[8] = {8000, 16000, 48000, 0, 1000, 44100, 90000, 4294967295u};
    static const uint8_t xcodecs[4] = {CV_CODEC_PCMA, CV_CODEC_PCMU, CV_CODEC_OPUS, CV_CODEC_NONE};
    struct input in = {data, size};
    struct cv_stream_info info;
    memset(&info, 0, sizeof(info));

    unsigned mode = take(&in, 1);
    unsigned extra = (mode & 0x80) ? take(&in, 1) : 0;
    struct cv_track_info *v = &info.tracks[info.track_count++];
    v->kind = (mode & 0x80) && (extra & 3) == 3 ? CV_TRACK_AUDIO : CV_TRACK_VIDEO;
    v->codec = (mode & 1) ? CV_CODEC_H265 : CV_CODEC_H264;
    v->clock_rate = vclocks[(mode >> 4) & 3];
    v->fps_x100 = 1000;
    if (mode & 0x40) {
        v->width = 64;
        v->height = 48;
    }
    if (mode & 2) {
        size_t n = take(&in, 2) % (CV_MAX_EXTRADATA + 1);
        v->extradata_len = (uint16_t)take_bytes(&in, v->extradata, n);
    } else {
        const uint8_t *p = (mode & 1) ? h265_params : h264_params;
        size_t n = (mode & 1) ? sizeof(h265_params) : sizeof(h264_params);
        memcpy(v->extradata, p, n);
        v->extradata_len = (uint16_t)n;
    }
    if (mode & 4) {
        struct cv_track_info *a = &info.tracks[info.track_count++];
        a->kind = CV_TRACK_AUDIO;
        a->codec = CV_CODEC_AAC;
        a->extradata_len = (uint16_t)take_bytes(&in, a->extradata, take(&in, 1) & 15);
        a->clock_rate = aclocks[take(&in, 1) & 7];
        a->channels = 1;
    }
    if (mode & 8) {
        struct cv_track_info *g = &info.tracks[info.track_count++];
        g->kind = CV_TRACK_AUDIO;
        g->codec = CV_CODEC_PCMA;
        g->clock_rate = 8000;
    }
    if ((mode & 0x80) && (extra & 3) != 3) {
        struct cv_track_info *x = &info.tracks[info.track_count++];
        x->kind = CV_TRACK_AUDIO;
        x->codec = xcodecs[extra & 3];
        x->clock_rate = xclocks[(extra >> 2) & 7];
        x->channels = (uint16_t)(extra >> 5);
    }

    struct cv_fmp4 *m = NULL;
    if (cv_fmp4_open(&m, &info) < 0) {
        if (m)
            abort();
        return 0;
    }
    size_t init_len;
    const uint8_t *init = cv_fmp4_init(m, &init_len);
    if (!init || init_len < 8 || !cv_fmp4_codecs(m)[0] || cv_fmp4_track_count(m) == 0)
        abort();

    uint64_t dts = 0;
    uint64_t next[2] = {0, 0};
    uint8_t *payload = malloc(65536);
    if (!payload)
        abort();
    for (int frames = 0; in.n > 0 && frames < 256; frames++) {
        unsigned op = take(&in, 1);
        size_t len = take(&in, 2);
        dts += (uint64_t)(int64_t)(int32_t)take(&in, 4); /* wraps, as a hostile source may */
        int16_t cts = (int16_t)take(&in, 2);
        len = take_bytes(&in, payload, len);
        if (op & 8)
            cv_fmp4_discontinuity(m);
        struct cv_frame fr = {.len = (uint32_t)len,
                              .flags = (op & 4) ? CV_FRAME_KEY : 0,
                              .track = (op & 3) == 3 && info.track_count < 4 ? 7 : op & 3,
                              .dts = (int64_t)dts,
                              .pts = (int64_t)(dts + (uint64_t)(int64_t)cts)};
        struct cv_fmp4_frag f;
        int r = cv_fmp4_write(m, &fr, payload, &f);
        if (r < 0 || r > 1)
            abort();
        if (r == 0)
            continue;
        if (f.out_track >= cv_fmp4_track_count(m) ||
            (int)f.out_track != cv_fmp4_out_track(m, fr.track))
            abort();
        if (f.len < 20 || f.tfdt_off < 12 || f.tfdt_off > f.len - 8 ||
            memcmp(f.data + f.tfdt_off - 8, "tfdt", 4) != 0)
            abort();
        uint64_t t = 0;
        for (int i = 0; i < 8; i++)
            t = t << 8 | f.data[f.tfdt_off + (size_t)i];
        if (t != f.decode_time || t != next[f.out_track] || f.duration == 0 ||
            f.duration > (uint64_t)f.timescale * 10)
            abort();
        next[f.out_track] = t + f.duration;
    }
    free(payload);
    cv_fmp4_close(m);
    return 0;
}
