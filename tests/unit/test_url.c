/* Camera URLs: parse, redact and build with credentials, including hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/url.h"

static void test_parse_full(void **state)
{
    (void)state;
    struct cv_url u;
    assert_int_equal(cv_url_parse("RTSP://admin:s%40cr%2Ft@cam.local:8554/Streaming/101?a=1#f", &u),
                     0);
    assert_string_equal(u.scheme, "rtsp");
    assert_string_equal(u.user, "admin");
    assert_string_equal(u.password, "s@cr/t");
    assert_true(u.has_user && u.has_password && u.has_port && !u.ipv6);
    assert_string_equal(u.host, "cam.local");
    assert_int_equal(u.port, 8554);
    assert_string_equal(u.path, "/Streaming/101?a=1#f");
}

static void test_parse_defaults(void **state)
{
    (void)state;
    struct cv_url u;
    assert_int_equal(cv_url_parse("rtsp://10.0.0.5", &u), 0);
    assert_int_equal(u.port, 554);
    assert_false(u.has_user || u.has_password || u.has_port);
    assert_string_equal(u.path, "");
    assert_int_equal(cv_url_parse("rtsps://cam/x", &u), 0);
    assert_int_equal(u.port, 322);
    assert_int_equal(cv_url_parse("rtsp://cam:/x", &u), 0); /* empty port = default */
    assert_int_equal(u.port, 554);
    assert_false(u.has_port);
    assert_int_equal(cv_url_parse("testsrc://?width=640&height=360&fps=25", &u), 0);
    assert_string_equal(u.scheme, "testsrc");
    assert_string_equal(u.host, "");
    assert_int_equal(u.port, 0);
    assert_string_equal(u.path, "?width=640&height=360&fps=25");
    assert_int_equal(cv_url_parse("file:///srv/clip.mp4", &u), 0);
    assert_string_equal(u.host, "");
    assert_string_equal(u.path, "/srv/clip.mp4");
}

static void test_parse_userinfo(void **state)
{
    (void)state;
    struct cv_url u;
    /* The userinfo ends at the last '@' of the authority: an '@' in a password works. */
    assert_int_equal(cv_url_parse("rtsp://user:p@ss@host/s", &u), 0);
    assert_string_equal(u.user, "user");
    assert_string_equal(u.password, "p@ss");
    assert_string_equal(u.host, "host");
    assert_int_equal(cv_url_parse("rtsp://user@host", &u), 0);
    assert_true(u.has_user);
    assert_false(u.has_password);
    assert_string_equal(u.user, "user");
    assert_int_equal(cv_url_parse("rtsp://user:@host", &u), 0);
    assert_true(u.has_password);
    assert_string_equal(u.password, "");
    assert_int_equal(cv_url_parse("rtsp://:pw@host", &u), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "pw");
    /* A second ':' belongs to the password. */
    assert_int_equal(cv_url_parse("rtsp://u:a:b@host", &u), 0);
    assert_string_equal(u.password, "a:b");
}

static void test_parse_ipv6(void **state)
{
    (void)state;
    struct cv_url u;
    assert_int_equal(cv_url_parse("rtsp://u:p@[fe80::1]:10554/live", &u), 0);
    assert_true(u.ipv6);
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 10554);
    assert_string_equal(u.path, "/live");
    assert_int_equal(cv_url_parse("rtsp://[::1]", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 554);
    assert_int_equal(cv_url_parse("rtsp://[::1", &u), -EINVAL);
    assert_int_equal(cv_url_parse("rtsp://[zz::1]/", &u), -EINVAL);
    assert_int_equal(cv_url_parse("rtsp://[::1]x/", &u), -EINVAL);
    assert_int_equal(cv_url_parse("rtsp://::1/", &u), -EINVAL);
}

static void test_parse_rejects(void **state)
{
    (void)state;
    struct cv_url u;
    const char *bad[] = {
        "",
        "rtsp",
        "rtsp:",
        "rtsp:/host",
        "://host",
        "1rtsp://host",
        "rtsp://host:0/",
        "rtsp://host:65536/",
        "rtsp://host:99999999999999999999/",
        "rtsp://host:5a4/",
        "rtsp://ho st/",
        "rtsp://host/a b",
        "rtsp://host/\x01",
        "rtsp://host/\x7f",
        "rtsp://h\xc3\xa9/",
        "rtsp://u:p%zz@host/",
        "rtsp://u:p%4@host/",
        "rtsp://u:p%@host/",
        "rtsp://u:p%00@host/",
        "rtsp://user:pa/ss@host/", /* unencoded '/' in a password: the "port" is not a number */
        "rtsp://h%41st/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u.password[0] = 'x';
        int rc = cv_url_parse(bad[i], &u);
        if (rc == 0)
            fail_msg("accepted '%s'", bad[i]);
        assert_string_equal(u.password, ""); /* nothing half-decoded left behind */
    }
    assert_int_equal(cv_url_parse(NULL, &u), -EINVAL);
}

static void test_parse_too_long(void **state)
{
    (void)state;
    struct cv_url u;
    char url[2048];
    memset(url, 0, sizeof(url));
    memcpy(url, "rtsp://host/", 12);
    memset(url + 12, 'a', 1500);
    assert_int_equal(cv_url_parse(url, &u), -ENAMETOOLONG);
    memcpy(url, "rtsp://", 7);
    memset(url + 7, 'b', 300);
    url[307] = '\0';
    assert_int_equal(cv_url_parse(url, &u), -ENAMETOOLONG); /* host */
    snprintf(url, sizeof(url), "abcdefghijklmnopq://host/");
    assert_int_equal(cv_url_parse(url, &u), -ENAMETOOLONG); /* scheme */
}

static void redact_is(const char *in, const char *want)
{
    char out[512];
    assert_int_equal(cv_url_redact(in, out, sizeof(out)), 0);
    if (strcmp(out, want) != 0)
        fail_msg("redact '%s' gave '%s', want '%s'", in ? in : "(null)", out, want);
}

static void test_redact(void **state)
{
    (void)state;
    redact_is("rtsp://user:secret@host/path", "rtsp://user:***@host/path");
    redact_is("rtsp://user:secret@host:554/p?x=1", "rtsp://user:***@host:554/p?x=1");
    redact_is("rtsp://user@host/path", "rtsp://user@host/path");
    redact_is("rtsp://host/path", "rtsp://host/path");
    redact_is("rtsp://:secret@host", "rtsp://:***@host");
    redact_is("rtsp://user:@host", "rtsp://user:***@host");
    redact_is("rtsp://user:p@ss@host/x", "rtsp://user:***@host/x");
    redact_is("rtsp://user:a:b@[::1]:554/x", "rtsp://user:***@[::1]:554/x");
    redact_is("rtsp://[::1]:554/x", "rtsp://[::1]:554/x");
    redact_is("testsrc://?width=640", "testsrc://?width=640");
    redact_is("", "");
    redact_is(NULL, "");
    /* Query parameters that carry secrets. */
    redact_is("rtsp://host/s?user=a&password=b&x=1", "rtsp://host/s?user=a&password=***&x=1");
    redact_is("rtsp://host/s?PWD=b#frag", "rtsp://host/s?PWD=***#frag");
    redact_is("rtsp://host/s?token=abc;pass=x", "rtsp://host/s?token=***;pass=***");
    /* Garbage: whatever might hide a password is masked, never copied. */
    redact_is("rtsp://user:pa/ss@host/x", "rtsp://***@host/x");
    redact_is("user:secret@host", "***");
    redact_is("@@@", "***");
    redact_is("rtsp://@@@", "rtsp://@@@"); /* userinfo "@@", no ':' */
    redact_is("rtsp://a:b@@c", "rtsp://a:***@c");
    redact_is("not a url", "not a url");
}

static void test_redact_small_buffer(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(cv_url_redact("rtsp://user:secretsecret@host/path", out, sizeof(out)),
                     -ENOSPC);
    assert_string_equal(out, "rtsp://user:***");
    assert_null(strstr(out, "secret"));
    char one[1] = {'x'};
    assert_int_equal(cv_url_redact("rtsp://a:b@c", one, 1), -ENOSPC);
    assert_int_equal(one[0], '\0');
    assert_int_equal(cv_url_redact("rtsp://a:b@c", NULL, 0), -ENOSPC);
}

static void test_with_credentials(void **state)
{
    (void)state;
    char out[256];
    assert_int_equal(
        cv_url_with_credentials("rtsp://cam/s1", "admin", "p@ss/w:rd %", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://admin:p%40ss%2Fw%3Ard%20%25@cam/s1");
    struct cv_url u;
    assert_int_equal(cv_url_parse(out, &u), 0);
    assert_string_equal(u.user, "admin");
    assert_string_equal(u.password, "p@ss/w:rd %");
    assert_string_equal(u.host, "cam");

    assert_int_equal(cv_url_with_credentials("rtsp://cam/s1", "us:er", NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://us%3Aer@cam/s1");
    assert_int_equal(cv_url_with_credentials("rtsp://[::1]:8554/x", "a", "b", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://a:b@[::1]:8554/x");
    assert_int_equal(cv_url_with_credentials("rtsp://cam/s1", NULL, NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://cam/s1");
    assert_int_equal(cv_url_with_credentials("rtsp://cam/s1", "", "", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://cam/s1");
    /* UTF-8 is percent-encoded byte by byte. */
    assert_int_equal(cv_url_with_credentials("rtsp://cam", "\xc3\xa9", "x", out, sizeof(out)), 0);
    assert_string_equal(out, "rtsp://%C3%A9:x@cam");
}

static void test_with_credentials_errors(void **state)
{
    (void)state;
    char out[32];
    assert_int_equal(cv_url_with_credentials("rtsp://a:b@cam/", "u", "p", out, sizeof(out)),
                     -EEXIST);
    assert_string_equal(out, "");
    assert_int_equal(cv_url_with_credentials("rtsp://cam/", NULL, "p", out, sizeof(out)), -EINVAL);
    assert_int_equal(cv_url_with_credentials("garbage", "u", "p", out, sizeof(out)), -EINVAL);
    assert_int_equal(cv_url_with_credentials(NULL, "u", "p", out, sizeof(out)), -EINVAL);
    /* Too small: nothing half-written (a partial secret) is left in out. */
    assert_int_equal(
        cv_url_with_credentials("rtsp://camera.example/", "user", "secretsecret", out, sizeof(out)),
        -ENOSPC);
    for (size_t i = 0; i < sizeof(out); i++)
        assert_int_equal(out[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full),       cmocka_unit_test(test_parse_defaults),
        cmocka_unit_test(test_parse_userinfo),   cmocka_unit_test(test_parse_ipv6),
        cmocka_unit_test(test_parse_rejects),    cmocka_unit_test(test_parse_too_long),
        cmocka_unit_test(test_redact),           cmocka_unit_test(test_redact_small_buffer),
        cmocka_unit_test(test_with_credentials), cmocka_unit_test(test_with_credentials_errors),
    };
    return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
