/*
 * H.264/H.265 NAL unit helpers for the ring's frame format (4-byte big-endian length prefixes):
 * conversion from Annex-B and from MP4 (avcC/hvcC) layouts, keyframe detection, and extraction
 * of parameter sets so late joiners get SPS/PPS(/VPS) from the ring's codec parameters.
 */
#ifndef CV_NAL_H
#define CV_NAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

/* Annex-B (start codes) -> length-prefixed. Returns bytes written or -ENOSPC. */
int cv_nal_annexb_to_lp(const uint8_t *in, size_t len, uint8_t *out, size_t cap);
/* Length-prefixed with len_size (1..4) -> 4-byte length prefixes. Returns bytes or <0. */
int cv_nal_resize_lp(const uint8_t *in, size_t len, int len_size, uint8_t *out, size_t cap);
/* avcC / hvcC extradata -> length-prefixed parameter sets; *len_size gets the NAL length size. */
int cv_nal_from_mp4_config(enum cv_codec codec, const uint8_t *in, size_t len, uint8_t *out,
                           size_t cap, int *len_size);

/* Iterates a length-prefixed buffer: returns false at the end or on a malformed length. */
bool cv_nal_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **nal, size_t *nlen);

int cv_nal_type(enum cv_codec codec, const uint8_t *nal);
bool cv_nal_is_param_set(enum cv_codec codec, int type);
/* True when the frame holds an IDR (H.264) or IRAP (H.265) picture. */
bool cv_nal_is_keyframe(enum cv_codec codec, const uint8_t *frame, size_t len);
/*
 * Copies the parameter-set NAL units of a frame (length-prefixed) into out, in VPS, SPS, PPS
 * order. Returns bytes written (0: the frame has none) or -ENOSPC.
 */
int cv_nal_params(enum cv_codec codec, const uint8_t *frame, size_t len, uint8_t *out, size_t cap);

#endif
