/* NAL layout conversions: Annex-B and avcC/hvcC into the ring's length-prefixed form. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/media/nal.h"

static const uint8_t sps[] = {0x67, 0x42, 0x00, 0x1f, 0xe9};
static const uint8_t pps[] = {0x68, 0xce, 0x38, 0x80};
static const uint8_t idr[] = {0x65, 0x88, 0x84, 0x00};

static void test_annexb_to_lp(void **state)
{
    (void)state;
    /* 4- and 3-byte start codes, and trailing zero bytes after a NAL unit. */
    const uint8_t in[] = {0,    0,    0,    1, 0x67, 0x42, 0x00, 0x1f, 0xe9, 0,    0,    1,   0x68,
                          0xce, 0x38, 0x80, 0, 0,    0,    0,    1,    0x65, 0x88, 0x84, 0x00};
    uint8_t out[64];
    int n = cv_nal_annexb_to_lp(in, sizeof(in), out, sizeof(out));
    assert_int_equal(n, 4 + 5 + 4 + 4 + 4 + 3);
    assert_memory_equal(out, "\0\0\0\5", 4);
    assert_memory_equal(out + 4, sps, sizeof(sps));
    assert_true(cv_nal_is_keyframe(CV_CODEC_H264, out, (size_t)n));
    uint8_t params[64];
    int pn = cv_nal_params(CV_CODEC_H264, out, (size_t)n, params, sizeof(params));
    assert_int_equal(pn, 4 + 5 + 4 + 4);
    assert_int_equal(cv_nal_annexb_to_lp(in, sizeof(in), out, 8), -ENOSPC);
}

static void test_avcc(void **state)
{
    (void)state;
    uint8_t avcc[64] = {1, 0x42, 0x00, 0x1f, 0xff, 0xe1, 0, sizeof(sps)};
    size_t len = 8;
    memcpy(avcc + len, sps, sizeof(sps));
    len += sizeof(sps);
    avcc[len++] = 1;
    avcc[len++] = 0;
    avcc[len++] = sizeof(pps);
    memcpy(avcc + len, pps, sizeof(pps));
    len += sizeof(pps);
    uint8_t out[64];
    int ls = 0;
    int n = cv_nal_from_mp4_config(CV_CODEC_H264, avcc, len, out, sizeof(out), &ls);
    assert_int_equal(ls, 4);
    assert_int_equal(n, 4 + sizeof(sps) + 4 + sizeof(pps));
    assert_memory_equal(out + 4 + sizeof(sps) + 4, pps, sizeof(pps));
    /* A PPS length pointing past the end is refused, not read. */
    avcc[len - sizeof(pps) - 1] = 0x40;
    assert_int_equal(cv_nal_from_mp4_config(CV_CODEC_H264, avcc, len, out, sizeof(out), &ls),
                     -EBADMSG);
}

static void test_hvcc(void **state)
{
    (void)state;
    /* 22 header bytes (lengthSizeMinusOne = 3), then one array with one VPS. */
    uint8_t hvcc[64] = {1};
    hvcc[21] = 0x03;
    hvcc[22] = 1;
    const uint8_t vps[] = {0x40, 0x01, 0x0c};
    size_t len = 23;
    hvcc[len++] = 32;
    hvcc[len++] = 0;
    hvcc[len++] = 1;
    hvcc[len++] = 0;
    hvcc[len++] = sizeof(vps);
    memcpy(hvcc + len, vps, sizeof(vps));
    len += sizeof(vps);
    uint8_t out[64];
    int ls = 0;
    int n = cv_nal_from_mp4_config(CV_CODEC_H265, hvcc, len, out, sizeof(out), &ls);
    assert_int_equal(n, 4 + sizeof(vps));
    assert_int_equal(ls, 4);
    assert_int_equal(cv_nal_type(CV_CODEC_H265, out + 4), 32);
    assert_int_equal(cv_nal_from_mp4_config(CV_CODEC_H265, hvcc, len - 1, out, sizeof(out), &ls),
                     -EBADMSG);
    /* A second array of a prefix SEI (type 39, as x265 writes its settings): read past, not
     * copied, so a long one cannot overflow the track's extradata. */
    hvcc[22] = 2;
    const uint8_t sei[] = {39 << 1, 0x01, 0x05, 0x10, 0x80};
    hvcc[len++] = 39;
    hvcc[len++] = 0;
    hvcc[len++] = 1;
    hvcc[len++] = 0;
    hvcc[len++] = sizeof(sei);
    memcpy(hvcc + len, sei, sizeof(sei));
    len += sizeof(sei);
    assert_int_equal(cv_nal_from_mp4_config(CV_CODEC_H265, hvcc, len, out, sizeof(out), &ls),
                     4 + sizeof(vps));
    assert_int_equal(cv_nal_from_mp4_config(CV_CODEC_H265, hvcc, len - 1, out, sizeof(out), &ls),
                     -EBADMSG);
}

static void test_resize_and_walk(void **state)
{
    (void)state;
    /* Two-byte lengths (as some MP4s have) become four-byte ones. */
    const uint8_t in[] = {0, sizeof(idr), 0x65, 0x88, 0x84, 0x00};
    uint8_t out[16];
    int n = cv_nal_resize_lp(in, sizeof(in), 2, out, sizeof(out));
    assert_int_equal(n, 8);
    size_t off = 0, nlen;
    const uint8_t *nal;
    assert_true(cv_nal_next(out, (size_t)n, &off, &nal, &nlen));
    assert_int_equal(nlen, sizeof(idr));
    assert_false(cv_nal_next(out, (size_t)n, &off, &nal, &nlen));
    assert_int_equal(cv_nal_resize_lp(in, sizeof(in) - 1, 2, out, sizeof(out)), -EBADMSG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_annexb_to_lp),
        cmocka_unit_test(test_avcc),
        cmocka_unit_test(test_hvcc),
        cmocka_unit_test(test_resize_and_walk),
    };
    return cmocka_run_group_tests_name("nal", tests, NULL, NULL);
}
