/*
 * Part of camvisor-ffmpeg.so: a decoded picture scaled and converted for one encoder (libswscale).
 * The size asked is fitted to the picture's (common/media/scale.h: never larger, bounded, even),
 * so a camera that changes resolution gets the same rule at its new size. Each encoder owns one.
 */
#ifndef CV_WORKER_XCODE_SCALE_H
#define CV_WORKER_XCODE_SCALE_H

#include <libavutil/frame.h>
#include <stdbool.h>

struct cv_xscale {
    struct SwsContext *sws; /* owned */
    AVFrame *out;           /* owned */
    int src_w, src_h, src_fmt, src_range;
    unsigned want_w, want_h; /* asked (0: follow the source) */
};

/* The picture src as planar 4:2:0 (full range, marked as such in out, for JPEG; else limited
 * range, as video encoders want); the result is the scaler's (the caller may set its pts), valid
 * until the next call. *changed
 * when the output size is not the last call's. NULL on a size that cannot be made or no memory. */
AVFrame *cv_xscale_run(struct cv_xscale *s, const AVFrame *src, bool full_range, bool *changed);
void cv_xscale_free(struct cv_xscale *s);

#endif
