/*
 * Transcoders: what turns the camera's stream into a variant that is not a subset of it (`jpeg`,
 * `h264` pictures; `opus`, `aac` audio). Built on FFmpeg, so they live in camvisor-ffmpeg.so and
 * are loaded only by a worker that is asked for such a variant (worker/source.c's
 * cv_worker_plugin_symbol): a camera nobody snapshots or transcodes never maps libavcodec.
 *
 * A camera has one decoder however many variants want pictures (a camera watched as H.264 and
 * snapshotted at once decodes once); each variant has an encoder of its own that takes the
 * decoder's pictures. The decoder takes one track's access units (ring format,
 * common/media/media.h) in decode order and gives at most one picture per input (low delay).
 * The worker decides which pictures each encoder gets (a rate, the live edge).
 *
 * A picture (struct cv_xcode_pic) is the decoder's: valid until its next feed, in system memory
 * whatever decoded it (a hardware decoder's surfaces are copied down), read-only for encoders.
 */
#ifndef CV_WORKER_XCODE_H
#define CV_WORKER_XCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

struct cv_xcode_pic; /* an AVFrame, to the plugin */

/* The hardware a decoder may use, as the camera's `hwaccel` key says (supervisor/config.h). */
enum cv_xcode_hw {
    CV_XCODE_HW_AUTO = 0, /* NVDEC, then VAAPI, then software: the first that opens */
    CV_XCODE_HW_NVDEC = 1,
    CV_XCODE_HW_VAAPI = 2,
    CV_XCODE_HW_NONE = 3,
};

struct cv_xcode_dec_ops {
    /* A decoder for in's codec and parameter sets. path (cap bytes) gets what it decodes on and
     * why ("software: no NVIDIA device (cuda: ...)"), for the log and the status report. */
    int (*open)(void **state, const struct cv_track_info *in, enum cv_xcode_hw hw, char *path,
                size_t cap);
    /* New parameters of the same codec (new parameter sets): taken without a reopen; -EINVAL
     * for another codec (the caller reopens). */
    int (*params)(void *state, const struct cv_track_info *in);
    /* One access unit: 1 and *pic (valid until the next feed) with its own pts (*pic_pts: not
     * the access unit's when the camera reorders frames), 0 no picture, or a negative errno
     * (the decoder waits for the next keyframe). A hardware decoder that fails at run time
     * reopens in software by itself (said by -ENOTRECOVERABLE once). */
    int (*feed)(void *state, const uint8_t *data, size_t len, int64_t pts, bool key,
                const struct cv_xcode_pic **pic, int64_t *pic_pts);
    void (*close)(void *state);
};

/* What a variant asks of its encoder. */
struct cv_xcode_enc_params {
    unsigned width, height; /* output size, 0 for the source's (one 0: follow the aspect) */
    unsigned bitrate;       /* bits a second; 0 for the encoder's choice */
    unsigned clock_rate;    /* of the pts given (90000) */
    unsigned fps_x100;      /* the camera's frame rate * 100 where known, 0 if not: the rate
                             * control's frames per second (the pts say when each one is) */
};

struct cv_xcode_enc_ops {
    const char *name;
    enum cv_codec codec;
    int (*open)(void **state, const struct cv_xcode_enc_params *p);
    /* One picture: 1 and *out (valid until the next call; ring format), *key for a keyframe;
     * 0 nothing came out (yet); a negative errno. force_key asks for a keyframe now. */
    int (*encode)(void *state, const struct cv_xcode_pic *pic, int64_t pts, bool force_key,
                  const uint8_t **out, size_t *out_len, bool *key);
    /* The output track (size, parameter sets) once a picture came out; false before. */
    bool (*track)(void *state, struct cv_track_info *out);
    void (*close)(void *state);
};

/*
 * An audio transcoder: one camera audio track (AAC, G.711, Opus) to Opus or AAC. Cheap enough
 * (well under 1 % of a core a stream) to run inline, frame by frame, as the camera's frames come.
 */
typedef void (*cv_xcode_emit_fn)(void *ctx, const uint8_t *pkt, size_t len, int64_t pts);

struct cv_xcode_audio_ops {
    /* -ENOTSUP for a codec or rate it cannot take, or an encoder this FFmpeg lacks. */
    int (*open)(void **state, const struct cv_track_info *in, enum cv_codec out);
    /* One camera frame: each packet that comes out goes to emit (its pts in the output track's
     * clock, valid for the call); a negative errno for a frame that did not decode (lost). */
    int (*feed)(void *state, const uint8_t *data, size_t len, int64_t pts, cv_xcode_emit_fn emit,
                void *ctx);
    /* The output track (codec, rate, channels, AudioSpecificConfig), known from open. */
    bool (*track)(void *state, struct cv_track_info *out);
    void (*close)(void *state);
};

#endif
