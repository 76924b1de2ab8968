/*
 * What a stream is made of: tracks with their codec parameters, and the frame format shared by
 * every process. This is part of the ring's wire format (common/ring/ring-types.h embeds
 * struct cv_stream_info), so changing it means bumping CV_RING_LAYOUT_VERSION.
 *
 * Frame payloads in a ring:
 *   H.264 / H.265: one access unit as NAL units, each prefixed by its 4-byte big-endian length
 *                  (the AVCC/HVCC layout MP4 uses; no start codes, so nobody scans for them).
 *   AAC:           one raw access unit (no ADTS header).
 *   PCMA/PCMU/Opus: one RTP-sized packet's worth of samples, as the camera sent them.
 *   JPEG:          one whole JFIF picture (a keyframe, every one).
 * extradata:
 *   H.264: SPS and PPS; H.265: VPS, SPS and PPS, each length-prefixed like frames.
 *   AAC:   the AudioSpecificConfig.
 */
#ifndef CV_MEDIA_H
#define CV_MEDIA_H

#include <stdint.h>

enum cv_codec {
    CV_CODEC_NONE = 0,
    CV_CODEC_H264 = 1,
    CV_CODEC_H265 = 2,
    CV_CODEC_AAC = 3,
    CV_CODEC_PCMA = 4,
    CV_CODEC_PCMU = 5,
    CV_CODEC_OPUS = 6,
    CV_CODEC_JPEG = 7, /* one JPEG picture per frame (the worker's `jpeg` variant) */
};

enum cv_track_kind {
    CV_TRACK_VIDEO = 1,
    CV_TRACK_AUDIO = 2,
};

#define CV_MAX_TRACKS    4
#define CV_MAX_EXTRADATA 1024

struct cv_track_info {
    uint8_t kind;  /* enum cv_track_kind */
    uint8_t codec; /* enum cv_codec */
    uint16_t extradata_len;
    uint32_t clock_rate; /* RTP clock: 90000 for video, sample rate for audio */
    uint16_t channels;
    uint16_t width;
    uint16_t height;
    uint16_t fps_x100; /* nominal frame rate * 100, 0 when unknown */
    uint8_t extradata[CV_MAX_EXTRADATA];
};

struct cv_stream_info {
    uint32_t track_count;
    uint32_t reserved;
    struct cv_track_info tracks[CV_MAX_TRACKS];
};

_Static_assert(sizeof(struct cv_track_info) == 16 + CV_MAX_EXTRADATA, "cv_track_info layout");
_Static_assert(sizeof(struct cv_stream_info) == 8 + CV_MAX_TRACKS * sizeof(struct cv_track_info),
               "cv_stream_info layout");

const char *cv_codec_name(enum cv_codec codec); /* "h264", "hevc", "aac", ... (FFmpeg names) */
int cv_codec_from_name(const char *name);       /* accepts h264, h265/hevc, aac, pcma, ...; <0 */

#endif
