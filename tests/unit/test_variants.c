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
    assert_int_equal(cv_variant_available(&cam, "opus", why, sizeof(why)), -EOPNOTSUPP);
    assert_string_equal(why, "camera door: variant opus is not produced yet");
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_variants)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
