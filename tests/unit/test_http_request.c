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

/* Feeds s to a new scan in pieces of `step` bytes (0: all at once): the result, and in ends[] the
 * offsets where requests ended (a read given to libwebsockets stops there). */
/* Some of libwebsockets' names, as camvisor-http hands them to its scans. */
static const char *const known[] = {"get ",
                                    "post ",
                                    "host:",
                                    "connection:",
                                    "content-length:",
                                    "upgrade:",
                                    "authorization:",
                                    "x-auth-token:",
                                    "accept:",
                                    "accept-encoding:",
                                    "origin:",
                                    "cache-control:",
                                    "x-forwarded-for:",
                                    NULL};

static enum cv_http_scan_result scan(const char *s, size_t step, size_t *ends, size_t *nends)
{
    struct cv_http_scan sc;
    cv_http_scan_init(&sc, known);
    size_t len = strlen(s), off = 0, n = 0;
    enum cv_http_scan_result r = CV_HTTP_SCAN_MORE;
    while (off < len && r == CV_HTTP_SCAN_MORE) {
        size_t piece = step && len - off > step ? step : len - off, used = 0;
        r = cv_http_scan_feed(&sc, (const uint8_t *)s + off, piece, &used);
        assert_true(used >= 1 && used <= piece);
        off += used;
        if (r == CV_HTTP_SCAN_MORE && used < piece)
            ends[n++] = off; /* stopped early: a request ended */
        else if (r == CV_HTTP_SCAN_MORE && sc.state == 0)
            ends[n++] = off; /* CV_HTTP_SCAN_REQ_START: the piece ended with a request */
    }
    *nends = n;
    return r;
}

static enum cv_http_scan_result scan1(const char *s)
{
    size_t ends[16], n, n1;
    enum cv_http_scan_result all = scan(s, 0, ends, &n);
    /* A byte at a time says the same, with the same ends. */
    size_t ends1[16];
    assert_int_equal(scan(s, 1, ends1, &n1), all);
    if (all == CV_HTTP_SCAN_MORE) {
        assert_int_equal(n, n1);
        assert_memory_equal(ends, ends1, n * sizeof(size_t));
    }
    return all;
}

static void test_scan(void **state)
{
    (void)state;
    /* Requests pass; pipelined ones are split at their ends, a body included. */
    const char *two = "GET /api HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
                      "DELETE /api/streams?src=a HTTP/1.1\r\nContent-Length: 5\r\n\r\n \r\n\r\n"
                      "GET / HTTP/1.1\nHost: x\n\n";
    size_t ends[16], n;
    assert_int_equal(scan(two, 0, ends, &n), CV_HTTP_SCAN_MORE);
    assert_int_equal(n, 3);
    assert_int_equal(ends[0], 43);
    assert_int_equal(ends[1], 43 + 62);
    assert_int_equal(ends[2], strlen(two));
    assert_int_equal(scan1(two), CV_HTTP_SCAN_MORE);
    assert_int_equal(scan1("GET /x HTTP/1.1\r\nContent-Length:  0 \r\nX-Y:\r\n\r\n"),
                     CV_HTTP_SCAN_MORE);
    assert_int_equal(scan1("GET /x HTTP/1.1\r\nX-Odd: caf\xc3\xa9 \x01\r\n\r\n"),
                     CV_HTTP_SCAN_MORE);
    /* libwebsockets' own names, longer ones that begin with them, and others, pass. */
    assert_int_equal(scan1("GET / HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nAccept-Encoding: gzip\r\n"
                           "Accept-Language: en\r\nX-Forwarded-Proto: https\r\n"
                           "Connection-Extra: 1\r\nX-Auth-Token-More: 1\r\nContent-Length: 0\r\n"
                           "Sec-Ch-Ua: x\r\nGetter: 1\r\n\r\n"),
                     CV_HTTP_SCAN_MORE);
    assert_int_equal(scan1("GET / HTTP/1.1\r\nContent-Length: 12345678901234567 \r\n\r\n"),
                     CV_HTTP_SCAN_MORE);
    /* What framing depends on and RFC 9112 refuses. */
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost: x\r\n Content-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nHost: x\r\n\tContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
        "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nX\x01Y: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n",
        "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "GET / HTTP/1.1\r\ntransfer-encoding : chunked\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length:\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "\r\nGET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nBad Name: 1\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\r\n",
        /* Values libwebsockets cannot copy into its 32 bytes: it then sees no body. */
        "GET / HTTP/1.1\r\nContent-Length: 000000000000000000000000000000000000078\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 05\r\n\r\nhello",
        "GET / HTTP/1.1\r\nContent-Length: 5                                        \r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length:\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t5\r\n\r\n",
        /* Names that begin one of libwebsockets' and are not one: it loses what follows. */
        "DELETE /api/streams?src=v HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nConn: close\r\n\r\n",
        "GET / HTTP/1.1\r\nHo: x\r\nContent-Length: 5\r\n\r\nhello",
        "GET / HTTP/1.1\r\nGet: x\r\n\r\n",
        "GET / HTTP/1.1\r\nAccept-Enc: x\r\n\r\n",
        /* CONNECT: a raw connection without timeouts in libwebsockets. */
        "CONNECT x:1 HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (scan1(bad[i]) != CV_HTTP_SCAN_BAD)
            fail_msg("not refused: %s", bad[i]);
    }
    static const char nul[] = "GET / HTTP/1.1\r\nHost: x\0y\r\n\r\n";
    struct cv_http_scan sc;
    size_t used;
    cv_http_scan_init(&sc, NULL);
    assert_int_equal(cv_http_scan_feed(&sc, (const uint8_t *)nul, sizeof(nul) - 1, &used),
                     CV_HTTP_SCAN_BAD);
    /* A body is skipped, whatever it holds; what follows it is a request again. */
    assert_int_equal(scan1("POST /x HTTP/1.1\r\nContent-Length: 13\r\n\r\n Bad Line :\r\n"
                           "GET / HTTP/1.1\r\n Bad: 1\r\n\r\n"),
                     CV_HTTP_SCAN_BAD);
    assert_int_equal(scan1("POST /x HTTP/1.1\r\nContent-Length: 13\r\n\r\n Bad Line :\r\n"),
                     CV_HTTP_SCAN_MORE);
    /* The end of requests: an upgrade, a body without a length (the rest is its body). */
    assert_int_equal(scan1("GET /api/ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\x81\x85garbage"),
                     CV_HTTP_SCAN_END);
    assert_int_equal(scan1("PUT /api/streams HTTP/1.1\r\nHost: x\r\n\r\n Anything : goes"),
                     CV_HTTP_SCAN_END);
    assert_int_equal(scan1("PATCH /x HTTP/1.1\r\n\r\n"), CV_HTTP_SCAN_END);
    /* The headers camvisor-http acts on are noted, whatever their case. */
    cv_http_scan_init(&sc, NULL);
    static const char hdrs[] = "GET / HTTP/1.1\r\nHOST: x\r\nX-A: 1\r\nauthorization: b\r\n"
                               "Content-length: 0\r\nOrigin: o\r\nX-Host: y\r\nUpgrade: \t\r\n\r\n";
    assert_int_equal(cv_http_scan_feed(&sc, (const uint8_t *)hdrs, sizeof(hdrs) - 1, &used),
                     CV_HTTP_SCAN_MORE);
    assert_int_equal(used, sizeof(hdrs) - 1);
    assert_int_equal(sc.seen, CV_HTTP_HDR_HOST | CV_HTTP_HDR_AUTHORIZATION |
                                  CV_HTTP_HDR_CONTENT_LENGTH | CV_HTTP_HDR_ORIGIN);
    /* Once over, it stays over. */
    cv_http_scan_init(&sc, NULL);
    assert_int_equal(
        cv_http_scan_feed(&sc, (const uint8_t *)"GET / HTTP/1.1\r\n x: 1\r\n", 23, &used),
        CV_HTTP_SCAN_BAD);
    assert_int_equal(used, 23);
    assert_int_equal(cv_http_scan_feed(&sc, (const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, &used),
                     CV_HTTP_SCAN_BAD);
    assert_int_equal(used, 18);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args),   cmocka_unit_test(test_base_and_static),
        cmocka_unit_test(test_origin), cmocka_unit_test(test_jpeg_variant),
        cmocka_unit_test(test_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
