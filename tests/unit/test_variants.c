/* Which (camera, variant) subscriptions the supervisor grants (supervisor/variants.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/variants.h"

static void test_variants(void **state)
{
    (void)state;
    struct cv_camera_config cam = {.name = "door"};
    char why[128] = "";
    assert_int_equal(cv_variant_available(&cam, "native", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "video", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "jpeg", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "opus", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "aac", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "raw", why, sizeof(why)), -EOPNOTSUPP);
    assert_string_equal(why, "camera door: variant raw is not produced yet");
    /* Scaled JPEG: canonical sizes only, so one size is one ring. */
    assert_int_equal(cv_variant_available(&cam, "jpeg:640x360", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "jpeg:640x0", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "jpeg:0x0", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "jpeg:0640x360", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "jpeg:9000x10", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "jpeg:64x", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "jpeg:64x64x", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "jpeg:-1x64", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "NATIVE", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "", why, sizeof(why)), -EINVAL);
    assert_string_equal(why, "unknown variant ''");
    assert_int_equal(cv_variant_available(&cam, "h264;rm -rf", why, sizeof(why)), -EINVAL);
    /* Transcoded H.264, plain or of a size. */
    assert_int_equal(cv_variant_available(&cam, "h264", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "h264:1280x720", why, sizeof(why)), 0);
    assert_int_equal(cv_variant_available(&cam, "h264:0x0", why, sizeof(why)), -EINVAL);
    assert_int_equal(cv_variant_available(&cam, "h264:1280", why, sizeof(why)), -EINVAL);
}

/* What [server] max_transcodes counts: H.264 made by encoding, not passed through, not JPEG. */
static void test_variant_transcodes(void **state)
{
    (void)state;
    struct cv_camera_config cam = {.name = "door"};
    assert_true(cv_variant_transcodes(&cam, "h264", "hevc,aac"));
    assert_true(cv_variant_transcodes(&cam, "h264", "")); /* not known yet: counted */
    assert_false(cv_variant_transcodes(&cam, "h264", "h264,aac"));
    assert_false(cv_variant_transcodes(&cam, "h264", "aac,h264")); /* the first video codec */
    assert_true(cv_variant_transcodes(&cam, "h264", "aac,hevc,h264"));
    assert_true(cv_variant_transcodes(&cam, "h264:640x0", "h264,aac"));
    assert_false(cv_variant_transcodes(&cam, "jpeg", "hevc"));
    assert_false(cv_variant_transcodes(&cam, "video", "hevc"));
    assert_false(cv_variant_transcodes(&cam, "h264x", "hevc"));
    cam.transcode_size = (struct cv_pic_size){640, 0};
    assert_true(cv_variant_transcodes(&cam, "h264", "h264,aac"));
}

/* A jpeg ring holds pictures whatever bitrate sized the camera's ring. */
static void test_variant_ring_bytes(void **state)
{
    (void)state;
    assert_true(cv_variant_ring_bytes("jpeg", 256u << 10) == CV_VARIANT_JPEG_RING);
    assert_true(cv_variant_ring_bytes("jpeg:640x360", 512u << 10) == CV_VARIANT_JPEG_RING);
    assert_true(cv_variant_ring_bytes("jpeg", 6u << 20) == 6u << 20);
    assert_true(cv_variant_ring_bytes("video", 256u << 10) == 256u << 10);
    assert_true(cv_variant_ring_bytes("jpegx", 256u << 10) == 256u << 10);
    assert_true(cv_variant_ring_bytes("h264", 256u << 10) == CV_VARIANT_JPEG_RING);
    assert_true(cv_variant_ring_bytes("h264:640x0", 256u << 10) == CV_VARIANT_JPEG_RING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_variants),
                                       cmocka_unit_test(test_variant_transcodes),
                                       cmocka_unit_test(test_variant_ring_bytes)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
