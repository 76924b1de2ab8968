/*
 * H.264 and H.265 sequence parameter sets, parsed with bounds checks up to what a muxer (avcC,
 * hvcC, RFC 6381 codecs), a recorder or an SDP answer needs: the picture size, chroma format, bit
 * depths and the profile/tier/level bytes. Input is untrusted (a camera's parameter sets): a
 * malformed SPS is -EBADMSG, never a read out of bounds (tests/fuzz/fuzz_fmp4.c reaches it).
 */
#ifndef CV_MEDIA_SPS_H
#define CV_MEDIA_SPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CV_SPS_MAX_DIM 16384 /* larger pictures are refused as malformed */

/* What an SPS tells: the picture size and what avcC/hvcC, a codecs string or an SDP's
 * profile-level-id need. */
struct cv_sps {
    unsigned width, height;
    unsigned chroma_format, bit_depth_luma_m8, bit_depth_chroma_m8;
    uint8_t ptl[12];       /* H.264: profile_idc, constraint flags, level_idc; H.265: general PTL */
    unsigned sub_layers;   /* H.265: sps_max_sub_layers_minus1 + 1 */
    bool temporal_nesting; /* H.265 */
};

/* A NAL payload without its emulation prevention bytes (00 00 03 -> 00 00); out holds n bytes.
 * Returns the bytes written. */
size_t cv_sps_unescape(const uint8_t *in, size_t n, uint8_t *out);
/* seq_parameter_set_rbsp of H.264 (7.3.2.1.1) and H.265 (7.3.2.2): rbsp is the unescaped payload
 * after the NAL header (1 byte for H.264, 2 for H.265). 0 or -EBADMSG. */
int cv_sps_parse_h264(const uint8_t *rbsp, size_t len, struct cv_sps *s);
int cv_sps_parse_h265(const uint8_t *rbsp, size_t len, struct cv_sps *s);

#endif
