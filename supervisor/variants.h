/*
 * Variants of a camera's stream: the rings a (camera, variant) subscription can get. `native` is
 * the camera's own stream, which every camera has; `video`, `jpeg[:WxH]` and `h264[:WxH]` are
 * made by its worker while wanted (worker/variants.h). The others (Opus/AAC audio, raw frames) are
 * named here so that a consumer asking for one gets a precise refusal until their producers
 * exist in the worker.
 */
#ifndef CV_SUP_VARIANTS_H
#define CV_SUP_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/config.h"

/*
 * 0 when cam can give variant; -EINVAL (unknown variant) or -EOPNOTSUPP (known, not produced
 * for this camera) with the reason in why, fit for a SUBSCRIBED reply.
 */
int cv_variant_available(const struct cv_camera_config *cam, const char *variant, char *why,
                         size_t why_len);

/*
 * Whether variant makes the camera's worker encode video or audio (what [server] max_transcodes
 * bounds): h264 unless it passes an H.264 camera's stream through (codecs: the camera's last
 * reported, "h264,aac"; "" when not known, counted as a transcode). jpeg pictures are not
 * counted: snapshots of every camera must not be refused for a live view.
 */
bool cv_variant_transcodes(const struct cv_camera_config *cam, const char *variant,
                           const char *codecs);

/*
 * The data bytes of a variant's ring, given the camera's ring's (camera_ring). A frame must fit
 * in half a ring (cv_ring_write): a camera whose ring was sized to a low bitrate (256 KiB and up)
 * would refuse a 1080p JPEG of a detailed scene (150-500 KB), every one of them, so a jpeg ring
 * holds at least CV_VARIANT_JPEG_RING pictures' worth (2 MiB each: a 3840x2160 JPEG at the
 * worker's quality). An h264 ring too: its bitrate is the encoder's, not the camera's. Other
 * variants carry the camera's own frames: its ring's size.
 */
#define CV_VARIANT_JPEG_RING (4u << 20)
uint64_t cv_variant_ring_bytes(const char *variant, uint64_t camera_ring);

#endif
