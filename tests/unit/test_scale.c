/* The size of a scaled picture (common/media/scale.c): never past the source, bounded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/media/scale.h"

static void expect_fit(unsigned sw, unsigned sh, unsigned ww, unsigned wh, unsigned ew, unsigned eh)
{
    unsigned w = 0, h = 0;
    assert_int_equal(cv_scale_fit(sw, sh, ww, wh, &w, &h), 0);
    if (w != ew || h != eh)
        fail_msg("%ux%u asked %ux%u: %ux%u, expected %ux%u", sw, sh, ww, wh, w, h, ew, eh);
}

static void test_scale_never_past_the_source(void **state)
{
    (void)state;
    expect_fit(320, 240, 0, 0, 320, 240);
    expect_fit(320, 240, 8192, 8192, 320, 240); /* the review's request: one ring, no upscale */
    expect_fit(320, 240, 6000, 6000, 320, 240);
    expect_fit(320, 240, 8192, 0, 320, 240); /* one side: the aspect ratio stays */
    expect_fit(320, 240, 0, 4000, 320, 240);
    expect_fit(320, 240, 640, 100, 320, 100); /* both sides: each on its own */
    expect_fit(320, 240, 160, 0, 160, 120);
    expect_fit(320, 240, 0, 120, 160, 120);
    expect_fit(320, 240, 160, 120, 160, 120);
    expect_fit(320, 240, 161, 0, 160, 120); /* even sides */
    expect_fit(320, 240, 1, 1, 2, 2);
    expect_fit(1920, 1080, 640, 0, 640, 360);
    expect_fit(1920, 1080, 0, 0, 1920, 1080);
}

static void test_scale_bounded(void **state)
{
    (void)state;
    unsigned w, h;
    expect_fit(3840, 2160, 0, 0, 3840, 2160); /* UHD is the most */
    assert_int_equal(cv_scale_fit(7680, 4320, 0, 0, &w, &h), 0);
    assert_true(w <= 3840 && h <= 2160 && w >= 3838 && h >= 2158);
    assert_int_equal(cv_scale_fit(8192, 8192, 8192, 8192, &w, &h), 0);
    assert_true((uint64_t)w * h <= CV_SCALE_MAX_PIXELS && w == h);
    assert_int_equal(cv_scale_fit(8192, 64, 0, 0, &w, &h), 0); /* a strip: under the cap */
    assert_true(w == 8192 && h == 64);
    assert_int_equal(cv_scale_fit(0, 240, 100, 0, &w, &h), -EINVAL); /* source unknown */
    assert_int_equal(cv_scale_fit(320, 0, 100, 0, &w, &h), -EINVAL);
    assert_int_equal(cv_scale_fit(320, 240, 9000, 0, &w, &h), -EINVAL);
    assert_int_equal(cv_scale_fit(9000, 240, 0, 0, &w, &h), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_never_past_the_source),
        cmocka_unit_test(test_scale_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
