/* What camvisor-http reads of a request itself (consumers/http/request.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consumers/http/request.h"

static void test_args(void **state)
{
    (void)state;
    struct cv_http_args *a = malloc(sizeof(*a));
    cv_http_args_init(a);
    assert_int_equal(cv_http_args_add(a, "src=door", 8), 0);
    assert_int_equal(cv_http_args_add(a, "video", 5), 0);
    assert_int_equal(cv_http_args_add(a, "src=ffmpeg:door#audio=opus", 26), 0);
    assert_int_equal(cv_http_args_add(a, "microphone=", 11), 0);
    assert_string_equal(cv_http_arg(a, "src"), "door"); /* the first one */
    assert_string_equal(cv_http_arg(a, "video"), "");
    assert_false(a->a[1].has_val);
    assert_true(a->a[3].has_val);
    assert_string_equal(a->a[2].val, "ffmpeg:door#audio=opus");
    assert_null(cv_http_arg(a, "audio"));
    /* Too long a key or value, an embedded NUL, too many pairs: refused, marked. */
    char big[CV_HTTP_ARG_MAX + 10];
    memset(big, 'v', sizeof(big));
    memcpy(big, "k=", 2);
    assert_int_equal(cv_http_args_add(a, big, sizeof(big)), -E2BIG);
    assert_true(a->overflow);
    cv_http_args_init(a);
    assert_int_equal(cv_http_args_add(a, "a\0b=c", 5), -E2BIG);
    cv_http_args_init(a);
    for (int i = 0; i < CV_HTTP_ARGS_MAX; i++)
        assert_int_equal(cv_http_args_add(a, "x=1", 3), 0);
    assert_int_equal(cv_http_args_add(a, "x=1", 3), -E2BIG);
    free(a);
}

static void test_base_and_static(void **state)
{
    (void)state;
    assert_string_equal(cv_http_req_strip_base("", "/api"), "/api");
    assert_string_equal(cv_http_req_strip_base("/go2rtc/", "/go2rtc/api"), "/api");
    assert_string_equal(cv_http_req_strip_base("/go2rtc", "/go2rtc"), "/");
    assert_null(cv_http_req_strip_base("/go2rtc", "/go2rtcx/api"));
    assert_null(cv_http_req_strip_base("/go2rtc", "/api"));
    const char *mime = NULL;
    assert_string_equal(cv_http_req_static_name("/", &mime), "index.html");
    assert_string_equal(mime, "text/html; charset=utf-8");
    assert_string_equal(cv_http_req_static_name("/video-stream.js", &mime), "video-stream.js");
    assert_string_equal(mime, "text/javascript; charset=utf-8");
    static const char *const bad[] = {"/../etc/passwd", "/.hidden.js", "/a/b.js",
                                      "/x.sh",          "/index",      "",
                                      "x.js",           "/%2e%2e.js",  "/a b.js"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_null(cv_http_req_static_name(bad[i], &mime));
}

static void test_origin(void **state)
{
    (void)state;
    assert_true(cv_http_req_origin_ok("*", "http://evil", "cam:1984"));
    assert_true(cv_http_req_origin_ok("", "", "cam:1984")); /* not a browser */
    assert_true(cv_http_req_origin_ok("", "http://cam:8123", "cam:1984"));
    assert_true(cv_http_req_origin_ok("", "https://CAM", "cam:1984"));
    assert_true(cv_http_req_origin_ok("", "http://[::1]:8123", "[::1]:1984"));
    assert_false(cv_http_req_origin_ok("", "http://evil.example", "cam:1984"));
    assert_false(cv_http_req_origin_ok("", "http://cam.evil", "cam:1984"));
    assert_false(cv_http_req_origin_ok("", "http://ca", "cam:1984"));
    assert_false(cv_http_req_origin_ok("", "http://cam", ""));
    assert_true(cv_http_req_origin_ok("https://ha.local", "https://ha.local", "x"));
    assert_false(cv_http_req_origin_ok("https://ha.local", "https://ha.local.evil", "x"));
}

static void test_jpeg_variant(void **state)
{
    (void)state;
    char v[16];
    /* The camera's size not known yet: as asked. */
    assert_int_equal(cv_http_req_jpeg_variant(NULL, NULL, 0, 0, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg");
    assert_int_equal(cv_http_req_jpeg_variant("640", "", 0, 0, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg:640x0");
    assert_int_equal(cv_http_req_jpeg_variant("640", "360", 0, 0, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg:640x360");
    static const char *const bad[] = {"0", "-1", "+5", "8193", "12abc", " 5", "99999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cv_http_req_jpeg_variant(bad[i], NULL, 0, 0, v, sizeof(v)), -EINVAL);
        assert_int_equal(cv_http_req_jpeg_variant(bad[i], NULL, 320, 240, v, sizeof(v)), -EINVAL);
    }
    /* Known: every request for one picture is one name, and never past the camera's size. */
    static const char *const own[][2] = {{"8192", "8192"}, {"6000", "6000"}, {"8192", NULL},
                                         {NULL, "4000"},   {"320", "240"},   {"320", NULL},
                                         {NULL, NULL}};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        assert_int_equal(cv_http_req_jpeg_variant(own[i][0], own[i][1], 320, 240, v, sizeof(v)), 0);
        assert_string_equal(v, "jpeg");
    }
    static const char *const half[][2] = {{"160", NULL}, {NULL, "120"}, {"160", "120"}};
    for (size_t i = 0; i < sizeof(half) / sizeof(half[0]); i++) {
        assert_int_equal(cv_http_req_jpeg_variant(half[i][0], half[i][1], 320, 240, v, sizeof(v)),
                         0);
        assert_string_equal(v, "jpeg:160x120");
    }
    assert_int_equal(cv_http_req_jpeg_variant("640", "100", 320, 240, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg:320x100");
    /* An 8K camera: its own size is past the bound, so even plain jpeg is scaled (worker). */
    assert_int_equal(cv_http_req_jpeg_variant("7680", NULL, 7680, 4320, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg");
    assert_int_equal(cv_http_req_jpeg_variant("1920", NULL, 7680, 4320, v, sizeof(v)), 0);
    assert_string_equal(v, "jpeg:1920x1080");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_base_and_static),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_jpeg_variant),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
