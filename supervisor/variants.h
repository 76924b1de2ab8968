/*
 * Variants of a camera's stream: the rings a (camera, variant) subscription can get. `native` is
 * the camera's own stream, which every camera has. The others (transcoded video, Opus/AAC audio,
 * JPEG, raw frames) are named here so that a consumer asking for one gets a precise refusal
 * until their producers exist in the worker.
 */
#ifndef CV_SUP_VARIANTS_H
#define CV_SUP_VARIANTS_H

#include <stddef.h>

#include "supervisor/config.h"

/*
 * 0 when cam can give variant; -EINVAL (unknown variant) or -EOPNOTSUPP (known, not produced
 * for this camera) with the reason in why, fit for a SUBSCRIBED reply.
 */
int cv_variant_available(const struct cv_camera_config *cam, const char *variant, char *why,
                         size_t why_len);

#endif
