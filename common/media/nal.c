/* NAL unit layout conversions. All input is untrusted: every length is checked against the end. */
#include "common/media/nal.h"

#include <errno.h>
#include <string.h>

static void cv_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Returns the offset of the next start code at or after off (or len), and its length. */
static size_t cv_find_start(const uint8_t *p, size_t len, size_t off, size_t *sc_len)
{
    for (size_t i = off; i + 3 <= len; i++) {
        if (p[i] == 0 && p[i + 1] == 0) {
            if (p[i + 2] == 1) {
                *sc_len = 3;
                return i;
            }
            if (i + 4 <= len && p[i + 2] == 0 && p[i + 3] == 1) {
                *sc_len = 4;
                return i;
            }
        }
    }
    *sc_len = 0;
    return len;
}

int cv_nal_annexb_to_lp(const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t sc, pos = cv_find_start(in, len, 0, &sc), w = 0;
    while (pos < len) {
        size_t start = pos + sc, next_sc;
        size_t next = cv_find_start(in, len, start, &next_sc);
        size_t end = next;
        while (end > start && in[end - 1] == 0) /* trailing_zero_8bits */
            end--;
        if (end > start) {
            if (w + 4 + (end - start) > cap)
                return -ENOSPC;
            cv_put_be32(out + w, (uint32_t)(end - start));
            memcpy(out + w + 4, in + start, end - start);
            w += 4 + (end - start);
        }
        pos = next;
        sc = next_sc;
    }
    return (int)w;
}

int cv_nal_resize_lp(const uint8_t *in, size_t len, int len_size, uint8_t *out, size_t cap)
{
    if (len_size < 1 || len_size > 4)
        return -EINVAL;
    size_t r = 0, w = 0;
    while (r < len) {
        if (len - r < (size_t)len_size)
            return -EBADMSG;
        uint32_t n = 0;
        for (int i = 0; i < len_size; i++)
            n = (n << 8) | in[r + (size_t)i];
        r += (size_t)len_size;
        if (n > len - r)
            return -EBADMSG;
        if (w + 4 + n > cap)
            return -ENOSPC;
        cv_put_be32(out + w, n);
        memcpy(out + w + 4, in + r, n);
        w += 4 + n;
        r += n;
    }
    return (int)w;
}

static int cv_nal_append(uint8_t *out, size_t cap, size_t *w, const uint8_t *nal, size_t n)
{
    if (*w + 4 + n > cap)
        return -ENOSPC;
    cv_put_be32(out + *w, (uint32_t)n);
    memcpy(out + *w + 4, nal, n);
    *w += 4 + n;
    return 0;
}

/* Copies count NAL units stored as (16-bit length, bytes) from in[*r..len) to out. */
/* A list of (16-bit length, NAL unit) entries: copied into out, or only read past (out NULL). */
static int cv_nal_copy_u16_list(const uint8_t *in, size_t len, size_t *r, int count, uint8_t *out,
                                size_t cap, size_t *w)
{
    for (int i = 0; i < count; i++) {
        if (len - *r < 2)
            return -EBADMSG;
        size_t n = ((size_t)in[*r] << 8) | in[*r + 1];
        *r += 2;
        if (n > len - *r || (out && cv_nal_append(out, cap, w, in + *r, n) < 0))
            return -EBADMSG;
        *r += n;
    }
    return 0;
}

/* ISO 14496-15: avcC = version, profile, compat, level, 0xfc|lenSizeMinusOne, SPS list, PPS list;
 * hvcC = 22 bytes of header, then arrays of (type, count, [len, nal]...). */
int cv_nal_from_mp4_config(enum cv_codec codec, const uint8_t *in, size_t len, uint8_t *out,
                           size_t cap, int *len_size)
{
    size_t r, w = 0;
    if (codec == CV_CODEC_H264) {
        if (len < 7 || in[0] != 1)
            return -EBADMSG;
        *len_size = (in[4] & 3) + 1;
        r = 5;
        for (int list = 0; list < 2; list++) {
            if (r >= len)
                return -EBADMSG;
            int count = list == 0 ? in[r] & 0x1f : in[r];
            r++;
            if (cv_nal_copy_u16_list(in, len, &r, count, out, cap, &w) < 0)
                return -EBADMSG;
        }
        return (int)w;
    }
    if (codec == CV_CODEC_H265) {
        if (len < 23 || in[0] != 1)
            return -EBADMSG;
        *len_size = (in[21] & 3) + 1;
        int arrays = in[22];
        r = 23;
        for (int a = 0; a < arrays; a++) {
            if (len - r < 3)
                return -EBADMSG;
            int count = (in[r + 1] << 8) | in[r + 2];
            /* Parameter sets only: an encoder's SEI arrays (x265 writes its whole command
             * line, over a kilobyte) are not what a decoder needs to start. */
            bool keep = cv_nal_is_param_set(codec, in[r] & 0x3f);
            r += 3;
            if (cv_nal_copy_u16_list(in, len, &r, count, keep ? out : NULL, cap, &w) < 0)
                return -EBADMSG;
        }
        return (int)w;
    }
    return -EINVAL;
}

bool cv_nal_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **nal, size_t *nlen)
{
    if (*off + 4 > len)
        return false;
    const uint8_t *p = buf + *off;
    size_t n = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
    if (n == 0 || n > len - *off - 4)
        return false;
    *nal = p + 4;
    *nlen = n;
    *off += 4 + n;
    return true;
}

int cv_nal_type(enum cv_codec codec, const uint8_t *nal)
{
    return codec == CV_CODEC_H265 ? (nal[0] >> 1) & 0x3f : nal[0] & 0x1f;
}

bool cv_nal_is_param_set(enum cv_codec codec, int type)
{
    if (codec == CV_CODEC_H265)
        return type >= 32 && type <= 34; /* VPS, SPS, PPS */
    return type == 7 || type == 8;
}

bool cv_nal_is_keyframe(enum cv_codec codec, const uint8_t *frame, size_t len)
{
    size_t off = 0, n;
    const uint8_t *nal;
    while (cv_nal_next(frame, len, &off, &nal, &n)) {
        int t = cv_nal_type(codec, nal);
        if (codec == CV_CODEC_H265 ? (t >= 16 && t <= 21) : t == 5)
            return true;
    }
    return false;
}

int cv_nal_params(enum cv_codec codec, const uint8_t *frame, size_t len, uint8_t *out, size_t cap)
{
    /* VPS, SPS, PPS in that order whatever order the camera sent them in. */
    static const int h264_order[] = {7, 8}, h265_order[] = {32, 33, 34};
    const int *order = codec == CV_CODEC_H265 ? h265_order : h264_order;
    int norder = codec == CV_CODEC_H265 ? 3 : 2;
    size_t w = 0;
    for (int k = 0; k < norder; k++) {
        size_t off = 0, n;
        const uint8_t *nal;
        while (cv_nal_next(frame, len, &off, &nal, &n))
            if (cv_nal_type(codec, nal) == order[k] && cv_nal_append(out, cap, &w, nal, n) < 0)
                return -ENOSPC;
    }
    return (int)w;
}
