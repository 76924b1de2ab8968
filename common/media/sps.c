/* Sequence parameter sets: see common/media/sps.h. */
#include "common/media/sps.h"

#include <errno.h>
#include <string.h>

#include "common/media/bits.h"

/* NAL payload without its emulation prevention bytes (00 00 03 -> 00 00); out holds n bytes. */
size_t cv_sps_unescape(const uint8_t *in, size_t n, uint8_t *out)
{
    size_t w = 0, zeros = 0;
    for (size_t i = 0; i < n; i++) {
        if (zeros >= 2 && in[i] == 3) {
            zeros = 0;
            continue;
        }
        zeros = in[i] == 0 ? zeros + 1 : 0;
        out[w++] = in[i];
    }
    return w;
}

static void cv_sps_h264_scaling_list(struct cv_bits *b, unsigned size)
{
    int32_t last = 8, next = 8;
    for (unsigned j = 0; j < size && !b->bad; j++) {
        if (next != 0) {
            int32_t delta = cv_bits_se(b);
            if (delta < -128 || delta > 127)
                b->bad = true;
            next = (last + delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
}

/* H.264 seq_parameter_set_rbsp (7.3.2.1.1) up to the cropping window: rbsp starts after the
 * one-byte NAL header. */
int cv_sps_parse_h264(const uint8_t *rbsp, size_t len, struct cv_sps *s)
{
    struct cv_bits b = {rbsp, len, 0, false};
    unsigned profile = cv_bits_u(&b, 8);
    s->ptl[0] = (uint8_t)profile;
    s->ptl[1] = (uint8_t)cv_bits_u(&b, 8);
    s->ptl[2] = (uint8_t)cv_bits_u(&b, 8);
    cv_bits_ue_max(&b, 31);
    s->chroma_format = 1;
    bool separate_planes = false;
    if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 ||
        profile == 83 || profile == 86 || profile == 118 || profile == 128 || profile == 138 ||
        profile == 139 || profile == 134 || profile == 135) {
        s->chroma_format = cv_bits_ue_max(&b, 3);
        if (s->chroma_format == 3)
            separate_planes = cv_bits_u(&b, 1);
        s->bit_depth_luma_m8 = cv_bits_ue_max(&b, 6);
        s->bit_depth_chroma_m8 = cv_bits_ue_max(&b, 6);
        cv_bits_u(&b, 1); /* qpprime_y_zero_transform_bypass_flag */
        if (cv_bits_u(&b, 1))
            for (unsigned i = 0; i < (s->chroma_format != 3 ? 8u : 12u) && !b.bad; i++)
                if (cv_bits_u(&b, 1))
                    cv_sps_h264_scaling_list(&b, i < 6 ? 16 : 64);
    }
    cv_bits_ue_max(&b, 12); /* log2_max_frame_num_minus4 */
    uint32_t poc_type = cv_bits_ue_max(&b, 2);
    if (poc_type == 0) {
        cv_bits_ue_max(&b, 12);
    } else if (poc_type == 1) {
        cv_bits_u(&b, 1);
        cv_bits_se(&b);
        cv_bits_se(&b);
        uint32_t cycle = cv_bits_ue_max(&b, 255);
        for (uint32_t i = 0; i < cycle && !b.bad; i++)
            cv_bits_se(&b);
    }
    cv_bits_ue(&b); /* max_num_ref_frames */
    cv_bits_u(&b, 1);
    uint64_t w_mbs = (uint64_t)cv_bits_ue_max(&b, CV_SPS_MAX_DIM / 16) + 1;
    uint64_t h_units = (uint64_t)cv_bits_ue_max(&b, CV_SPS_MAX_DIM / 16) + 1;
    unsigned frame_mbs_only = cv_bits_u(&b, 1);
    if (!frame_mbs_only)
        cv_bits_u(&b, 1);
    cv_bits_u(&b, 1);
    uint64_t crop[4] = {0, 0, 0, 0};
    if (cv_bits_u(&b, 1))
        for (int i = 0; i < 4; i++)
            crop[i] = cv_bits_ue(&b);
    if (b.bad)
        return -EBADMSG;
    /* Crop units (7-19, 7-20): chroma subsampling, doubled vertically for field coding. */
    unsigned cat = separate_planes ? 0 : s->chroma_format;
    uint64_t ux = cat == 1 || cat == 2 ? 2 : 1;
    uint64_t uy = (cat == 1 ? 2 : 1) * (2 - frame_mbs_only);
    uint64_t w = w_mbs * 16, h = h_units * 16 * (2 - frame_mbs_only);
    uint64_t cw = ux * (crop[0] + crop[1]), ch = uy * (crop[2] + crop[3]);
    if (cw >= w || ch >= h || h > CV_SPS_MAX_DIM)
        return -EBADMSG;
    s->width = (unsigned)(w - cw);
    s->height = (unsigned)(h - ch);
    return 0;
}

/* H.265 seq_parameter_set_rbsp (7.3.2.2) up to the bit depths: rbsp starts after the two-byte
 * NAL header. */
int cv_sps_parse_h265(const uint8_t *rbsp, size_t len, struct cv_sps *s)
{
    struct cv_bits b = {rbsp, len, 0, false};
    cv_bits_u(&b, 4); /* sps_video_parameter_set_id */
    unsigned max_sub = cv_bits_u(&b, 3);
    s->temporal_nesting = cv_bits_u(&b, 1);
    if (max_sub > 6 || len < 13)
        return -EBADMSG;
    s->sub_layers = max_sub + 1;
    /* profile_tier_level(1, max_sub): the 12 general bytes are byte aligned, copied as they are. */
    memcpy(s->ptl, rbsp + 1, 12);
    cv_bits_skip(&b, 96);
    unsigned prof[8] = {0}, lev[8] = {0};
    for (unsigned i = 0; i < max_sub; i++) {
        prof[i] = cv_bits_u(&b, 1);
        lev[i] = cv_bits_u(&b, 1);
    }
    if (max_sub > 0)
        cv_bits_skip(&b, 2 * (8 - max_sub));
    for (unsigned i = 0; i < max_sub; i++)
        cv_bits_skip(&b, (prof[i] ? 88 : 0) + (lev[i] ? 8 : 0));
    cv_bits_ue_max(&b, 15); /* sps_seq_parameter_set_id */
    s->chroma_format = cv_bits_ue_max(&b, 3);
    bool separate_planes = s->chroma_format == 3 && cv_bits_u(&b, 1);
    uint64_t w = cv_bits_ue_max(&b, CV_SPS_MAX_DIM), h = cv_bits_ue_max(&b, CV_SPS_MAX_DIM);
    uint64_t crop[4] = {0, 0, 0, 0};
    if (cv_bits_u(&b, 1))
        for (int i = 0; i < 4; i++)
            crop[i] = cv_bits_ue(&b);
    s->bit_depth_luma_m8 = cv_bits_ue_max(&b, 8);
    s->bit_depth_chroma_m8 = cv_bits_ue_max(&b, 8);
    if (b.bad)
        return -EBADMSG;
    unsigned cf = separate_planes ? 0 : s->chroma_format;
    uint64_t ux = cf == 1 || cf == 2 ? 2 : 1, uy = cf == 1 ? 2 : 1;
    uint64_t cw = ux * (crop[0] + crop[1]), ch = uy * (crop[2] + crop[3]);
    if (cw >= w || ch >= h)
        return -EBADMSG;
    s->width = (unsigned)(w - cw);
    s->height = (unsigned)(h - ch);
    return 0;
}
