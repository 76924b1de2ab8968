/* Base64: RFC 4648 vectors, unpadded camera input, and what must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/base64.h"

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        uint8_t back[16];
        assert_non_null(
            cv_base64_encode(out, sizeof(out), (const uint8_t *)plain[i], strlen(plain[i])));
        assert_string_equal(out, coded[i]);
        int n = cv_base64_decode(back, coded[i], sizeof(back));
        assert_int_equal(n, (int)strlen(plain[i]));
        assert_memory_equal(back, plain[i], (size_t)n);
    }
}

static void test_unpadded_sps(void **state)
{
    (void)state;
    /* An H.264 SPS as cameras write it in sprop-parameter-sets, without padding. */
    uint8_t out[32];
    int n = cv_base64_decode(out, "Z0IAKeKQFAe2AtwEBAaQeJEV", sizeof(out));
    assert_int_equal(n, 18);
    assert_int_equal(out[0], 0x67);
    assert_int_equal(cv_base64_decode(out, "Zg", sizeof(out)), 1);
    assert_int_equal(out[0], 'f');
}

static void test_refused(void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal(cv_base64_decode(out, "Zm9v!", sizeof(out)), -1); /* alphabet */
    assert_int_equal(cv_base64_decode(out, "Z", sizeof(out)), -1);     /* dangling bits */
    assert_int_equal(cv_base64_decode(out, "Zg=x", sizeof(out)), -1);  /* data after = */
    assert_int_equal(cv_base64_decode(out, "Zg===", sizeof(out)), -1); /* too much padding */
    assert_int_equal(cv_base64_decode(out, "Zm9vYmFyYmF6", 8), -1);    /* 9 bytes into 8 */
    assert_int_equal(cv_base64_decode(out, "Zm9vYmFy", 6), 6);
    char small[4];
    assert_null(cv_base64_encode(small, sizeof(small), (const uint8_t *)"foo", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_unpadded_sps),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
