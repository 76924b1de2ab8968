/*
 * The tree's one query-string parser (common/base/query.c), its one %-decoder
 * (cv_url_pct_decode) and its one hex decoder (common/base/hex.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/hex.h"
#include "common/base/query.h"
#include "common/base/url.h"

static void test_query_next(void **state)
{
    (void)state;
    char k[16], v[16];
    const char *cur = "video=h264&&audio&x=%41";
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), 0);
    assert_string_equal(k, "video");
    assert_string_equal(v, "h264");
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), 0);
    assert_string_equal(k, "audio");
    assert_string_equal(v, "");
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), 0);
    assert_string_equal(k, "x");
    assert_string_equal(v, "A");
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), -ENOENT);
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), -ENOENT);

    cur = "a=%zz";
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), -EBADMSG);
    cur = "a=%00";
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), -EBADMSG);
    cur = "a=0123456789abcdef";
    assert_int_equal(cv_query_next(&cur, k, sizeof(k), v, sizeof(v)), -E2BIG);
}

static void test_query_get(void **state)
{
    (void)state;
    char v[8];
    const char *q = "width=640&name=front%20door&fps=25&width=320";
    assert_int_equal(cv_query_get(q, "width", v, sizeof(v)), 0);
    assert_string_equal(v, "640"); /* the first one */
    assert_int_equal(cv_query_get(q, "fps", v, sizeof(v)), 0);
    assert_string_equal(v, "25");
    assert_int_equal(cv_query_get(q, "name", v, sizeof(v)), -E2BIG);
    assert_int_equal(cv_query_get(q, "height", v, sizeof(v)), -ENOENT);
    assert_int_equal(cv_query_get("", "a", v, sizeof(v)), -ENOENT);
    /* A malformed or overlong pair that is not the one asked for does not matter. */
    assert_int_equal(cv_query_get("x=%zz&y=0123456789abcdef&codec=h265", "codec", v, sizeof(v)), 0);
    assert_string_equal(v, "h265");
    assert_int_equal(cv_query_get("codec=%zz", "codec", v, sizeof(v)), -EBADMSG);
    assert_int_equal(cv_query_get("co%64ec=h264", "codec", v, sizeof(v)), 0);
}

static void test_pct_decode(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(cv_url_pct_decode("a%2Fb%2f", 8, out, sizeof(out)), 0);
    assert_string_equal(out, "a/b/");
    assert_int_equal(cv_url_pct_decode("%4", 2, out, sizeof(out)), -EBADMSG);
    assert_int_equal(cv_url_pct_decode("%", 1, out, sizeof(out)), -EBADMSG);
    assert_int_equal(cv_url_pct_decode("abcdefgh", 8, out, sizeof(out)), -E2BIG);
    assert_int_equal(cv_url_pct_decode("", 0, out, 0), -E2BIG);
    assert_int_equal(cv_url_pct_decode("", 0, out, 1), 0);
    assert_string_equal(out, "");
}

static void test_hex(void **state)
{
    (void)state;
    assert_int_equal(cv_hex_value('0'), 0);
    assert_int_equal(cv_hex_value('9'), 9);
    assert_int_equal(cv_hex_value('a'), 10);
    assert_int_equal(cv_hex_value('F'), 15);
    assert_int_equal(cv_hex_value('g'), -1);
    assert_int_equal(cv_hex_value('@'), -1); /* 'A' - 1 */
    assert_int_equal(cv_hex_value('`'), -1); /* 'a' - 1 */
    assert_true(cv_hex_is("00ffA9", 6));
    assert_false(cv_hex_is("00ffA9", 5));
    assert_false(cv_hex_is("00fg", 4));
    char out[9];
    cv_hex_encode((const uint8_t *)"\x01\xab\xff\x00", 4, out);
    assert_string_equal(out, "01abff00");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_next),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
