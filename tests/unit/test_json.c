/*
 * The JSON writer of API answers (common/base/json.c) and the parser of go2rtc's WebSocket
 * messages (common/net/ws-msg.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base/json.h"
#include "common/net/ws-msg.h"

static void test_writer_shapes(void **state)
{
    (void)state;
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "version", "1.9.14");
    cv_json_key(&j, "list");
    cv_json_arr_open(&j);
    cv_json_u64(&j, 1);
    cv_json_str(&j, NULL);
    cv_json_bool(&j, true);
    cv_json_obj_open(&j);
    cv_json_obj_close(&j);
    cv_json_arr_close(&j);
    cv_json_kv_num(&j, "fps", 24.5);
    cv_json_kv_str(&j, "esc", "a\"b\\c\n\x01");
    cv_json_obj_close(&j);
    size_t n;
    char *s = cv_json_take(&j, &n);
    assert_non_null(s);
    assert_string_equal(s, "{\"version\":\"1.9.14\",\"list\":[1,null,true,{}],\"fps\":24.5,"
                           "\"esc\":\"a\\\"b\\\\c\\u000a\\u0001\"}");
    assert_int_equal(n, strlen(s));
    free(s);
}

static void test_parse_go2rtc_messages(void **state)
{
    (void)state;
    struct cv_ws_msg *m = malloc(sizeof(*m));
    const char *mse = "{\"type\":\"mse\",\"value\":\"avc1.640029,mp4a.40.2\"}";
    assert_int_equal(cv_ws_msg_parse(mse, strlen(mse), m), 0);
    assert_string_equal(m->type, "mse");
    assert_int_equal(m->kind, CV_WS_VALUE_STRING);
    assert_string_equal(m->value, "avc1.640029,mp4a.40.2");
    /* v2 WebRTC: the value is an object, kept as its JSON text. */
    const char *rtc =
        " { \"value\" : {\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}, \"type\":\"webrtc\" } ";
    assert_int_equal(cv_ws_msg_parse(rtc, strlen(rtc), m), 0);
    assert_string_equal(m->type, "webrtc");
    assert_int_equal(m->kind, CV_WS_VALUE_JSON);
    assert_string_equal(m->value, "{\"type\":\"offer\",\"sdp\":\"v=0\\r\\n\"}");
    const char *none = "{\"type\":\"mjpeg\"}";
    assert_int_equal(cv_ws_msg_parse(none, strlen(none), m), 0);
    assert_int_equal(m->kind, CV_WS_VALUE_NONE);
    const char *esc = "{\"type\":\"x\",\"value\":\"\\u00e9\\ud83d\\ude00\\n\",\"extra\":[1,{}]}";
    assert_int_equal(cv_ws_msg_parse(esc, strlen(esc), m), 0);
    assert_string_equal(m->value, "\xc3\xa9\xf0\x9f\x98\x80\n");
    free(m);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    struct cv_ws_msg *m = malloc(sizeof(*m));
    static const char *const bad[] = {
        "",
        "[]",
        "{}",
        "{\"value\":\"x\"}",
        "{\"type\":1}",
        "{\"type\":\"a\"",
        "{\"type\":\"a\"}x",
        "{\"type\":\"a\",}",
        "{\"type\":\"a\\u0000\"}",
        "{\"type\":\"a\\q\"}",
        "{\"type\":\"a\",\"value\":tru}",
        "{\"type\":\"\\ud800\"}",
        "{\"type\":\"a\nb\"}",
        "{\"type\":\"a\",\"value\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_not_equal(cv_ws_msg_parse(bad[i], strlen(bad[i]), m), 0);
    char big[CV_WS_VALUE_MAX + 64];
    memset(big, 'a', sizeof(big));
    memcpy(big, "{\"type\":\"x\",\"value\":\"", 21);
    memcpy(big + sizeof(big) - 2, "\"}", 2);
    assert_int_equal(cv_ws_msg_parse(big, sizeof(big), m), -E2BIG);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_shapes),
        cmocka_unit_test(test_parse_go2rtc_messages),
        cmocka_unit_test(test_parse_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
