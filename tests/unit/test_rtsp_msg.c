/*
 * RTSP framing, Transport/Session/Range/URI parsing and Basic/Digest authentication. The requests
 * and responses are real: captured between FFmpeg 5.1 (Lavf59) and GStreamer's rtsp-server 1.22
 * with digest authentication; the digest vectors are RFC 2617's and that capture's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/net/rtsp-auth.h"
#include "common/net/rtsp-msg.h"
#include "common/net/rtsp-transport.h"

static struct cv_rtsp_msg msg; /* 9 KiB: not on the test's stack */

static int parse_str(const char *s, size_t *consumed)
{
    return cv_rtsp_msg_parse((const uint8_t *)s, strlen(s), &msg, consumed);
}

static const char ffmpeg_setup[] =
    "SETUP rtsp://127.0.0.1:19000/secure/stream=0 RTSP/1.0\r\n"
    "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n"
    "CSeq: 4\r\n"
    "User-Agent: Lavf59.27.100\r\n"
    "Authorization: Digest username=\"admin\", realm=\"GStreamer RTSP Server\", "
    "nonce=\"ccfc41bb0393d6c2\", uri=\"rtsp://127.0.0.1:19000/secure/stream=0\", "
    "response=\"147be75572f2c4a1e8d7c671e0f421a6\"\r\n"
    "\r\n";

static const char gst_describe_reply[] = "RTSP/1.0 200 OK\r\n"
                                         "CSeq: 3\r\n"
                                         "Content-Type: application/sdp\r\n"
                                         "Content-Base: rtsp://127.0.0.1:19000/secure/\r\n"
                                         "Server: GStreamer RTSP server\r\n"
                                         "Date: Thu, 26 Nov 2026 05:38:36 GMT\r\n"
                                         "Content-Length: 20\r\n"
                                         "\r\n"
                                         "v=0\r\n"
                                         "s=trimmed sdp\r\n";

static void test_request(void **state)
{
    (void)state;
    size_t used = 0;
    assert_int_equal(parse_str(ffmpeg_setup, &used), 0);
    assert_int_equal(used, strlen(ffmpeg_setup));
    assert_int_equal(msg.type, CV_RTSP_REQUEST);
    assert_int_equal(msg.method, CV_RTSP_SETUP);
    assert_string_equal(msg.method_str, "SETUP");
    assert_string_equal(msg.uri, "rtsp://127.0.0.1:19000/secure/stream=0");
    assert_string_equal(msg.version, "RTSP/1.0");
    assert_true(msg.has_cseq);
    assert_int_equal(msg.cseq, 4);
    assert_int_equal(msg.header_count, 4);
    assert_string_equal(cv_rtsp_msg_header(&msg, "transport"),
                        "RTP/AVP/TCP;unicast;interleaved=0-1");
    assert_string_equal(cv_rtsp_msg_header(&msg, "USER-AGENT"), "Lavf59.27.100");
    assert_null(cv_rtsp_msg_header(&msg, "Session"));
    assert_int_equal(msg.body_len, 0);
    assert_null(msg.body);
}

static void test_response_body(void **state)
{
    (void)state;
    size_t used = 0, len = strlen(gst_describe_reply);
    /* Every prefix is incomplete; strings do not depend on the input buffer afterwards. */
    for (size_t i = 0; i < len; i++)
        assert_int_equal(cv_rtsp_msg_parse((const uint8_t *)gst_describe_reply, i, &msg, &used),
                         -EAGAIN);
    char *copy = strdup(gst_describe_reply);
    assert_int_equal(cv_rtsp_msg_parse((const uint8_t *)copy, len, &msg, &used), 0);
    assert_int_equal(used, len);
    assert_int_equal(msg.type, CV_RTSP_RESPONSE);
    assert_int_equal(msg.status, 200);
    assert_string_equal(msg.reason, "OK");
    assert_int_equal(msg.cseq, 3);
    assert_int_equal(msg.body_len, 20);
    assert_ptr_equal(msg.body, (const uint8_t *)copy + len - 20);
    assert_memory_equal(msg.body, "v=0\r\ns=trimmed sdp\r\n", 20);
    memset(copy, 'x', len);
    free(copy);
    assert_string_equal(cv_rtsp_msg_header(&msg, "content-base"), "rtsp://127.0.0.1:19000/secure/");
}

static void test_pipelined_and_lf(void **state)
{
    (void)state;
    const char two[] = "\r\nOPTIONS * RTSP/1.0\nCSeq: 1\n\nGET_PARAMETER rtsp://h/c RTSP/1.0\r\n"
                       "CSeq: 2\r\nSession:  abc ; timeout=30 \r\n\r\n";
    size_t used = 0, off;
    assert_int_equal(parse_str(two, &used), 0);
    assert_int_equal(msg.method, CV_RTSP_OPTIONS);
    assert_string_equal(msg.uri, "*");
    assert_int_equal(msg.cseq, 1);
    off = used;
    assert_int_equal(cv_rtsp_msg_parse((const uint8_t *)two + off, strlen(two) - off, &msg, &used),
                     0);
    assert_int_equal(off + used, strlen(two));
    assert_int_equal(msg.method, CV_RTSP_GET_PARAMETER);
    assert_string_equal(cv_rtsp_msg_header(&msg, "session"), "abc ; timeout=30");
}

static void test_malformed(void **state)
{
    (void)state;
    size_t used;
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n continued\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
         -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nContent-Length: -5\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nContent-Length: 5x\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n", -E2BIG},
        {"OPTIONS * RTSP/1.0\r\nContent-Length: 65537\r\n\r\n", -E2BIG},
        {"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nCSeq: 2\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nCSeq: 4294967296\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nNoColon\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\n: empty name\r\n\r\n", -EBADMSG},
        {"OPTIONS  * RTSP/1.0\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0 extra\r\n\r\n", -EBADMSG},
        {"OPTIONS *\r\n\r\n", -EBADMSG},
        {"OPT(ONS * RTSP/1.0\r\n\r\n", -EBADMSG},
        {"OPTIONS * RTSP/1.0\r\nX: a\rb\r\n\r\n", -EBADMSG},
        {"RTSP/1.0 20 OK\r\n\r\n", -EBADMSG},
        {"RTSP/1.0 200OK\r\n\r\n", -EBADMSG},
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", -EPROTONOSUPPORT},
        {"OPTIONS * RTSP/2.0\r\n\r\n", -EPROTONOSUPPORT},
        {"HTTP/1.1 200 OK\r\n\r\n", -EPROTONOSUPPORT},
        {"OPTIONS * FOO/1.0\r\n\r\n", -EBADMSG},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = parse_str(cases[i].text, &used);
        if (rc != cases[i].rc)
            fail_msg("case %zu: got %d want %d", i, rc, cases[i].rc);
    }
    /* HTTP is refused but named, so the server can answer or log it. */
    assert_int_equal(parse_str("GET /api HTTP/1.1\r\n\r\n", &used), -EPROTONOSUPPORT);
    assert_string_equal(msg.method_str, "GET");
    assert_string_equal(msg.version, "HTTP/1.1");

    /* A NUL byte in a header. */
    const uint8_t nul[] = "OPTIONS * RTSP/1.0\r\nX: a\0b\r\n\r\n";
    assert_int_equal(cv_rtsp_msg_parse(nul, sizeof(nul) - 1, &msg, &used), -EBADMSG);
}

static void test_limits(void **state)
{
    (void)state;
    size_t used, n;
    char *big = malloc(20000);

    /* No blank line within 8 KiB: too big, not "need more". */
    n = (size_t)sprintf(big, "OPTIONS * RTSP/1.0\r\nX: ");
    memset(big + n, 'a', 9000);
    assert_int_equal(cv_rtsp_msg_parse((uint8_t *)big, n + 9000, &msg, &used), -E2BIG);
    assert_int_equal(cv_rtsp_msg_parse((uint8_t *)big, n + 100, &msg, &used), -EAGAIN);

    /* 33 headers. */
    n = (size_t)sprintf(big, "OPTIONS * RTSP/1.0\r\n");
    for (int i = 0; i < 33; i++)
        n += (size_t)sprintf(big + n, "H%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    assert_int_equal(cv_rtsp_msg_parse((uint8_t *)big, n, &msg, &used), -E2BIG);

    /* 32 headers and a 64 KiB limit body announced: fine, waits for the body. */
    n = (size_t)sprintf(big, "ANNOUNCE rtsp://x/y RTSP/1.0\r\nContent-Length: 65536\r\n");
    for (int i = 0; i < 31; i++)
        n += (size_t)sprintf(big + n, "H%d: v\r\n", i);
    n += (size_t)sprintf(big + n, "\r\n");
    assert_int_equal(cv_rtsp_msg_parse((uint8_t *)big, n, &msg, &used), -EAGAIN);
    assert_int_equal(msg.header_count, 32);
    free(big);
}

static void test_interleaved(void **state)
{
    (void)state;
    const uint8_t pkt[] = {'$', 1, 0x05, 0xdc, 0x80};
    uint8_t ch = 0;
    uint16_t len = 0;
    assert_int_equal(cv_rtsp_interleaved(pkt, 0, &ch, &len), -EAGAIN);
    assert_int_equal(cv_rtsp_interleaved(pkt, 3, &ch, &len), -EAGAIN);
    assert_int_equal(cv_rtsp_interleaved(pkt, 5, &ch, &len), 0);
    assert_int_equal(ch, 1);
    assert_int_equal(len, 1500);
    assert_int_equal(cv_rtsp_interleaved((const uint8_t *)"RTSP/1.0", 8, &ch, &len), -ENOMSG);
}

/* A connection's input as the server and the camera client split it: frames and messages. */
static void test_next_item(void **state)
{
    (void)state;
    static const char resp[] = "RTSP/1.0 200 OK\r\nCSeq: 3\r\nContent-Length: 2\r\n\r\nab";
    uint8_t in[64];
    size_t n = 0;
    const uint8_t frame[] = {'$', 2, 0, 3, 0x80, 0x60, 0x01};
    memcpy(in, frame, sizeof(frame));
    n += sizeof(frame);
    memcpy(in + n, resp, strlen(resp));
    n += strlen(resp);
    struct cv_rtsp_item it;

    /* Each prefix short of the frame's end is incomplete, not an error. */
    for (size_t k = 0; k < sizeof(frame); k++)
        assert_int_equal(cv_rtsp_next_item(in, k, 1024, &msg, &it), -EAGAIN);
    assert_int_equal(cv_rtsp_next_item(in, n, 1024, &msg, &it), 0);
    assert_true(it.is_data);
    assert_int_equal(it.channel, 2);
    assert_ptr_equal(it.data, in + 4);
    assert_int_equal(it.data_len, 3);
    assert_int_equal(it.size, sizeof(frame));

    /* The response behind it, body included; without its last byte it is incomplete. */
    const uint8_t *r = in + it.size;
    size_t rlen = n - it.size;
    assert_int_equal(cv_rtsp_next_item(r, rlen - 1, 1024, &msg, &it), -EAGAIN);
    assert_int_equal(cv_rtsp_next_item(r, rlen, 1024, &msg, &it), 0);
    assert_false(it.is_data);
    assert_int_equal(it.size, rlen);
    assert_int_equal(msg.status, 200);
    assert_int_equal(msg.body_len, 2);

    /* Still incomplete at the caller's limit: a peer that never ends its message. */
    assert_int_equal(cv_rtsp_next_item(r, rlen - 1, rlen - 1, &msg, &it), -EMSGSIZE);
    /* Neither a frame nor RTSP. */
    assert_int_equal(cv_rtsp_next_item((const uint8_t *)"\x01\x02xx\r\n\r\n", 8, 1024, &msg, &it),
                     -EBADMSG);
}

static void test_transport(void **state)
{
    (void)state;
    struct cv_rtsp_transport t;
    char out[256];

    assert_int_equal(
        cv_rtsp_transport_parse("RTP/AVP/TCP;unicast;interleaved=0-1", CV_RTSP_ACCEPT_ANY, &t), 0);
    assert_int_equal(t.lower, CV_RTSP_LOWER_TCP);
    assert_true(t.has_interleaved && !t.multicast && !t.has_client_port);
    assert_int_equal(t.interleaved[0], 0);
    assert_int_equal(t.interleaved[1], 1);

    /* GStreamer's SETUP reply. */
    assert_int_equal(
        cv_rtsp_transport_parse("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0DC475A3;mode=\"PLAY\"",
                                CV_RTSP_ACCEPT_ANY, &t),
        0);
    assert_true(t.has_ssrc);
    assert_int_equal(t.ssrc, 0x0DC475A3);
    assert_int_equal(t.mode, CV_RTSP_MODE_PLAY);
    assert_int_equal(cv_rtsp_transport_format(&t, out, sizeof(out)),
                     (int)strlen("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0DC475A3"));
    assert_string_equal(out, "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0DC475A3");

    /* VLC-style UDP, single port means a pair. */
    assert_int_equal(
        cv_rtsp_transport_parse("RTP/AVP;unicast;client_port=50000", CV_RTSP_ACCEPT_ANY, &t), 0);
    assert_int_equal(t.lower, CV_RTSP_LOWER_UDP);
    assert_int_equal(t.client_port[0], 50000);
    assert_int_equal(t.client_port[1], 50001);
    t.has_server_port = true;
    t.server_port[0] = 6970;
    t.server_port[1] = 6971;
    assert_true(cv_rtsp_transport_format(&t, out, sizeof(out)) > 0);
    assert_string_equal(out, "RTP/AVP;unicast;client_port=50000-50001;server_port=6970-6971");
    assert_int_equal(cv_rtsp_transport_format(&t, out, 10), -E2BIG);

    /* First acceptable of a list: multicast and a bad spec skipped. */
    assert_int_equal(cv_rtsp_transport_parse("RTP/AVP;multicast;port=5000-5001, RTP/SAVP;unicast,"
                                             "RTP/AVP/TCP;interleaved=300,"
                                             " RTP/AVP/TCP;unicast;interleaved=2-3 ",
                                             CV_RTSP_ACCEPT_UDP | CV_RTSP_ACCEPT_TCP, &t),
                     0);
    assert_int_equal(t.lower, CV_RTSP_LOWER_TCP);
    assert_int_equal(t.interleaved[0], 2);
    assert_int_equal(
        cv_rtsp_transport_parse("RTP/AVP;unicast;client_port=1-2", CV_RTSP_ACCEPT_TCP, &t),
        -ENOTSUP);
    assert_int_equal(cv_rtsp_transport_parse("RTP/AVP/TCP;interleaved=255", CV_RTSP_ACCEPT_ANY, &t),
                     -EBADMSG);
    assert_int_equal(cv_rtsp_transport_parse("", CV_RTSP_ACCEPT_ANY, &t), -EBADMSG);
    assert_int_equal(cv_rtsp_transport_parse("RTP/AVP;client_port=0-1", CV_RTSP_ACCEPT_ANY, &t),
                     -EBADMSG);
    assert_int_equal(cv_rtsp_transport_parse("RTP/AVP;ssrc=123456789", CV_RTSP_ACCEPT_ANY, &t),
                     -EBADMSG);
    assert_int_equal(cv_rtsp_transport_parse("RTP/AVP;mode=record", CV_RTSP_ACCEPT_ANY, &t), 0);
    assert_int_equal(t.mode, CV_RTSP_MODE_RECORD);
}

static void test_session_range(void **state)
{
    (void)state;
    char id[32];
    unsigned timeout;
    double s, e;

    assert_int_equal(cv_rtsp_session_parse("8E3M0AG+EbbrZnHo", id, sizeof(id), &timeout), 0);
    assert_string_equal(id, "8E3M0AG+EbbrZnHo");
    assert_int_equal(timeout, 0);
    assert_int_equal(cv_rtsp_session_parse("12345678;timeout=60", id, sizeof(id), &timeout), 0);
    assert_string_equal(id, "12345678");
    assert_int_equal(timeout, 60);
    assert_int_equal(cv_rtsp_session_parse("abc ; Timeout = 5", id, sizeof(id), &timeout), 0);
    assert_int_equal(timeout, 5);
    assert_int_equal(cv_rtsp_session_parse("", id, sizeof(id), &timeout), -EBADMSG);
    assert_int_equal(cv_rtsp_session_parse("abc;timeout=x", id, sizeof(id), &timeout), -EBADMSG);
    assert_int_equal(
        cv_rtsp_session_parse("0123456789012345678901234567890123", id, sizeof(id), &timeout),
        -E2BIG);

    assert_int_equal(cv_rtsp_range_parse("npt=0.000-", &s, &e), 0);
    assert_true(s == 0 && e == -1);
    assert_int_equal(cv_rtsp_range_parse("npt=now-", &s, &e), 0);
    assert_true(s == -1 && e == -1);
    assert_int_equal(cv_rtsp_range_parse("npt=10-20.5", &s, &e), 0);
    assert_true(s == 10 && e == 20.5);
    assert_int_equal(cv_rtsp_range_parse("npt=1:02:03.5-", &s, &e), 0);
    assert_true(s == 3723.5);
    assert_int_equal(cv_rtsp_range_parse("npt=-5", &s, &e), 0);
    assert_true(s == -1 && e == 5);
    assert_int_equal(cv_rtsp_range_parse("clock=19961108T142300Z-", &s, &e), -ENOTSUP);
    assert_int_equal(cv_rtsp_range_parse("npt=abc", &s, &e), -EBADMSG);
}

static void test_url_split(void **state)
{
    (void)state;
    char path[64], query[64];

    assert_int_equal(
        cv_rtsp_url_split("/cam?video=h264&audio=aac", path, sizeof(path), query, sizeof(query)),
        0);
    assert_string_equal(path, "cam");
    assert_string_equal(query, "video=h264&audio=aac");
    assert_int_equal(cv_rtsp_url_split("rtsp://host:8554/front%20door/trackID=1/", path,
                                       sizeof(path), query, sizeof(query)),
                     0);
    assert_string_equal(path, "front door/trackID=1");
    assert_string_equal(query, "");
    assert_int_equal(cv_rtsp_url_split("rtsp://host:8554", path, sizeof(path), NULL, 0), 0);
    assert_string_equal(path, "");
    assert_int_equal(cv_rtsp_url_split("/a%00b", path, sizeof(path), NULL, 0), -EBADMSG);
    assert_int_equal(cv_rtsp_url_split("/a%4", path, sizeof(path), NULL, 0), -EBADMSG);
    assert_int_equal(cv_rtsp_url_split("/abcdef", path, 4, NULL, 0), -E2BIG);
}

static void test_digest_vectors(void **state)
{
    (void)state;
    char out[33];

    /* RFC 2617 section 3.5. */
    struct cv_rtsp_digest_params rfc = {
        .username = "Mufasa",
        .realm = "testrealm@host.com",
        .password = "Circle Of Life",
        .method = "GET",
        .uri = "/dir/index.html",
        .nonce = "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        .qop = "auth",
        .nc = "00000001",
        .cnonce = "0a4f113b",
    };
    assert_int_equal(cv_rtsp_digest_response(&rfc, out), 0);
    assert_string_equal(out, "6629fae49393a05397450978507c4ef1");

    /* GStreamer rtsp-server's challenge answered by FFmpeg (no qop). */
    struct cv_rtsp_digest_params gst = {
        .username = "admin",
        .realm = "GStreamer RTSP Server",
        .password = "secret",
        .method = "DESCRIBE",
        .uri = "rtsp://127.0.0.1:19000/secure",
        .nonce = "ccfc41bb0393d6c2",
    };
    assert_int_equal(cv_rtsp_digest_response(&gst, out), 0);
    assert_string_equal(out, "f3f4d1443e77af36cc96628600b9b6dd");

    gst.qop = "auth";
    assert_int_equal(cv_rtsp_digest_response(&gst, out), -EINVAL); /* qop needs nc, cnonce */
}

static void test_client_auth(void **state)
{
    (void)state;
    struct cv_rtsp_challenge c;
    char out[512];
    uint32_t nc = 0;
    size_t used;

    const char reply401[] = "RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
                            "WWW-Authenticate: Basic realm=\"cam\"\r\n"
                            "WWW-Authenticate: Digest realm=\"GStreamer RTSP Server\", "
                            "nonce=\"ccfc41bb0393d6c2\"\r\n"
                            "Server: GStreamer RTSP server\r\n\r\n";
    assert_int_equal(parse_str(reply401, &used), 0);
    assert_int_equal(msg.status, 401);
    assert_int_equal(cv_rtsp_auth_challenge_pick(&msg, &c), 0);
    assert_int_equal(c.scheme, CV_RTSP_AUTH_DIGEST);
    assert_string_equal(c.realm, "GStreamer RTSP Server");
    assert_string_equal(c.nonce, "ccfc41bb0393d6c2");
    assert_false(c.qop_auth);
    /* Byte for byte what FFmpeg sent. */
    assert_true(cv_rtsp_auth_build(&c, "admin", "secret", "DESCRIBE",
                                   "rtsp://127.0.0.1:19000/secure", &nc, NULL, out,
                                   sizeof(out)) > 0);
    assert_string_equal(out, "Digest username=\"admin\", realm=\"GStreamer RTSP Server\", "
                             "nonce=\"ccfc41bb0393d6c2\", uri=\"rtsp://127.0.0.1:19000/secure\", "
                             "response=\"f3f4d1443e77af36cc96628600b9b6dd\"");
    assert_int_equal(
        cv_rtsp_auth_build(&c, "admin", "secret", "DESCRIBE", "rtsp://x/y", &nc, NULL, out, 40),
        -E2BIG);

    /* RFC 2617's challenge: qop list, opaque. */
    assert_int_equal(
        cv_rtsp_auth_challenge_parse("Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", "
                                     "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
                                     "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
                                     &c),
        0);
    assert_true(c.qop_auth && c.has_opaque && !c.sess);
    assert_true(cv_rtsp_auth_build(&c, "Mufasa", "Circle Of Life", "GET", "/dir/index.html", &nc,
                                   "0a4f113b", out, sizeof(out)) > 0);
    assert_int_equal(nc, 1);
    assert_non_null(strstr(out, "response=\"6629fae49393a05397450978507c4ef1\""));
    assert_non_null(strstr(out, "qop=auth, nc=00000001, cnonce=\"0a4f113b\""));
    assert_non_null(strstr(out, "opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));

    /* Basic. */
    assert_int_equal(cv_rtsp_auth_challenge_parse("Basic realm=\"IP Camera\"", &c), 0);
    assert_true(cv_rtsp_auth_build(&c, "admin", "secret", "DESCRIBE", "rtsp://x", &nc, NULL, out,
                                   sizeof(out)) > 0);
    assert_string_equal(out, "Basic YWRtaW46c2VjcmV0");
    assert_int_equal(
        cv_rtsp_auth_build(&c, "a:b", "s", "DESCRIBE", "rtsp://x", &nc, NULL, out, sizeof(out)),
        -EINVAL);

    /* What we cannot answer. */
    assert_int_equal(cv_rtsp_auth_challenge_parse("Digest realm=\"r\", nonce=\"n\", "
                                                  "algorithm=SHA-256",
                                                  &c),
                     -ENOTSUP);
    assert_int_equal(cv_rtsp_auth_challenge_parse("Digest realm=\"r\", nonce=\"n\", "
                                                  "qop=\"auth-int\"",
                                                  &c),
                     -ENOTSUP);
    assert_int_equal(cv_rtsp_auth_challenge_parse("Digest realm=\"r\"", &c), -EBADMSG);
    assert_int_equal(cv_rtsp_auth_challenge_parse("Digest realm=\"r, nonce=n", &c), -EBADMSG);
    assert_int_equal(cv_rtsp_auth_challenge_parse("Negotiate abc", &c), -ENOTSUP);
    assert_int_equal(cv_rtsp_auth_challenge_parse("Digest realm=\"r\", nonce=\"n\", "
                                                  "algorithm=MD5-sess, stale=TRUE",
                                                  &c),
                     0);
    assert_true(c.sess && c.stale);
}

static void test_server_auth(void **state)
{
    (void)state;
    struct cv_rtsp_credentials cr;
    size_t used;

    assert_int_equal(parse_str(ffmpeg_setup, &used), 0);
    const char *auth = cv_rtsp_msg_header(&msg, "Authorization");
    assert_non_null(auth);
    assert_int_equal(cv_rtsp_auth_credentials_parse(auth, &cr), 0);
    assert_int_equal(cr.scheme, CV_RTSP_AUTH_DIGEST);
    assert_string_equal(cr.username, "admin");
    assert_string_equal(cr.uri, "rtsp://127.0.0.1:19000/secure/stream=0");
    assert_int_equal(cv_rtsp_auth_verify(&cr, "SETUP", "GStreamer RTSP Server", "ccfc41bb0393d6c2",
                                         "admin", "secret"),
                     0);
    assert_int_equal(cv_rtsp_auth_verify(&cr, "SETUP", "GStreamer RTSP Server", "ccfc41bb0393d6c2",
                                         "admin", "Secret"),
                     -EACCES);
    assert_int_equal(cv_rtsp_auth_verify(&cr, "PLAY", "GStreamer RTSP Server", "ccfc41bb0393d6c2",
                                         "admin", "secret"),
                     -EACCES);
    assert_int_equal(
        cv_rtsp_auth_verify(&cr, "SETUP", "GStreamer RTSP Server", "0000", "admin", "secret"),
        -ESTALE);
    assert_int_equal(cv_rtsp_auth_verify(&cr, "SETUP", "GStreamer RTSP Server", "ccfc41bb0393d6c2",
                                         "root", "secret"),
                     -EACCES);

    /* RFC 2617's Authorization, with qop, uppercase hex in the response and an escaped quote. */
    assert_int_equal(cv_rtsp_auth_credentials_parse(
                         "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
                         "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", "
                         "qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
                         "response=\"6629FAE49393A05397450978507C4EF1\", "
                         "opaque=\"5ccc\\\"069c\"",
                         &cr),
                     0);
    assert_string_equal(cr.opaque, "5ccc\"069c");
    assert_int_equal(cv_rtsp_auth_verify(&cr, "GET", "testrealm@host.com",
                                         "dcd98b7102dd2f0e8b11d0f600bfb0c093", "Mufasa",
                                         "Circle Of Life"),
                     0);

    /* Basic. */
    assert_int_equal(cv_rtsp_auth_credentials_parse("Basic YWRtaW46c2VjcmV0", &cr), 0);
    assert_string_equal(cr.username, "admin");
    assert_string_equal(cr.password, "secret");
    assert_int_equal(cv_rtsp_auth_verify(&cr, "DESCRIBE", "r", "n", "admin", "secret"), 0);
    assert_int_equal(cv_rtsp_auth_verify(&cr, "DESCRIBE", "r", "n", "admin", "secre"), -EACCES);
    assert_int_equal(cv_rtsp_auth_credentials_parse("Basic bm9jb2xvbg==", &cr), -EBADMSG);
    assert_int_equal(cv_rtsp_auth_credentials_parse("Basic !!!", &cr), -EBADMSG);
    assert_int_equal(cv_rtsp_auth_credentials_parse("Digest username=\"a\", response=\"12\"", &cr),
                     -EBADMSG);
    assert_int_equal(cv_rtsp_auth_credentials_parse("Bearer x", &cr), -ENOTSUP);

    char nonce[33], nonce2[33];
    assert_int_equal(cv_rtsp_auth_nonce(nonce), 0);
    assert_int_equal(cv_rtsp_auth_nonce(nonce2), 0);
    assert_int_equal(strlen(nonce), 32);
    assert_string_not_equal(nonce, nonce2);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(cv_rtsp_method_from_str("TEARDOWN"), CV_RTSP_TEARDOWN);
    assert_int_equal(cv_rtsp_method_from_str("teardown"), CV_RTSP_UNKNOWN);
    assert_string_equal(cv_rtsp_method_str(CV_RTSP_SET_PARAMETER), "SET_PARAMETER");
    assert_string_equal(cv_rtsp_status_reason(454), "Session Not Found");
    assert_string_equal(cv_rtsp_status_reason(299), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),          cmocka_unit_test(test_response_body),
        cmocka_unit_test(test_pipelined_and_lf), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),           cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_next_item),        cmocka_unit_test(test_transport),
        cmocka_unit_test(test_session_range),    cmocka_unit_test(test_url_split),
        cmocka_unit_test(test_digest_vectors),   cmocka_unit_test(test_client_auth),
        cmocka_unit_test(test_server_auth),      cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
