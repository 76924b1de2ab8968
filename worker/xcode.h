/*
 * Transcoders: what turns the camera's stream into a variant that is not a subset of it (a
 * `jpeg` ring today; h264 and opus with the transcoding issue). Built on FFmpeg, so they live in
 * camvisor-ffmpeg.so and are loaded only by a worker that is asked for such a variant
 * (worker/source.c's cv_worker_plugin_symbol): a camera nobody snapshots never maps libavcodec.
 *
 * A transcoder takes one track's access units (ring format, common/media/media.h) in decode
 * order and gives at most one output frame per input. The worker decides which pictures are
 * worth encoding (a rate limit, only the last of a catch-up): decoding every input keeps the
 * decoder's references right, encoding is what costs.
 */
#ifndef CV_WORKER_XCODE_H
#define CV_WORKER_XCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

struct cv_xcode_ops {
    const char *name;
    /* in: the source track (its codec and parameter sets); width/height: the output size, 0 for
     * the source's (one of them 0: that side follows the aspect ratio). */
    int (*open)(void **state, const struct cv_track_info *in, unsigned width, unsigned height);
    /* One access unit. With encode, a picture it decodes is encoded: 1 and *out (valid until
     * the next call), 0 nothing came out, or a negative errno (the decoder waits for the next
     * keyframe). */
    int (*feed)(void *state, const uint8_t *data, size_t len, int64_t pts, bool key, bool encode,
                const uint8_t **out, size_t *out_len);
    /* The output's size, known once a picture came out (0 before). */
    void (*size)(void *state, unsigned *width, unsigned *height);
    void (*close)(void *state);
};

#endif
