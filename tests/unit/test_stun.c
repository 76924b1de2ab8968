/*
 * STUN parsing, checking and building. The fixed points are RFC 5769's test vectors (a request
 * with USERNAME, PRIORITY, ICE-CONTROLLED, MESSAGE-INTEGRITY and FINGERPRINT; IPv4 and IPv6
 * responses with XOR-MAPPED-ADDRESS), byte for byte: we parse and verify them, and our writer
 * reproduces their MESSAGE-INTEGRITY and FINGERPRINT exactly. Around them: every single-bit
 * change is caught, every truncation refused, malformed attributes rejected, and what we build
 * (success, error and ICE-check messages) parses back and verifies. Then the client side: our
 * reflexive address read from those responses (and from hand-built ones with their
 * XOR-MAPPED-ADDRESS values, or a plain MAPPED-ADDRESS), everything else told apart, and the
 * ice_servers setting's forms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "common/net/stun.h"

/* --- RFC 5769 ----------------------------------------------------------------------------- */

static const char password[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* 2.1: Binding request, SOFTWARE "STUN test client", USERNAME "evtj:h6vY" padded with spaces. */
static const uint8_t rfc_request[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};
#define REQUEST_MI 76 /* offset of its MESSAGE-INTEGRITY; FINGERPRINT follows at 100 */

/* 2.2: Binding success, SOFTWARE "test vector", XOR-MAPPED-ADDRESS 192.0.2.1:32853. */
static const uint8_t rfc_response4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};
#define RESPONSE4_MI 48

/* 2.3: the same with XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const uint8_t rfc_response6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};
#define RESPONSE6_MI 60

static const uint8_t rfc_tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

static struct cv_stun_msg m, m2;
static uint8_t buf[1024];

static int check(const uint8_t *p, size_t len, const struct cv_stun_msg *pm, const char *key)
{
    return cv_stun_check_integrity(p, len, pm, key, strlen(key));
}

static struct sockaddr_storage addr4(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &a, sizeof(a));
    return ss;
}

static struct sockaddr_storage addr6(const char *ip, uint16_t port)
{
    struct sockaddr_storage ss;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, &a, sizeof(a));
    return ss;
}

static void assert_mapped4(const struct cv_stun_msg *pm, const char *ip, uint16_t port)
{
    struct sockaddr_in a;
    char text[INET_ADDRSTRLEN];
    assert_true(pm->has_mapped);
    assert_int_equal(pm->mapped.ss_family, AF_INET);
    memcpy(&a, &pm->mapped, sizeof(a));
    assert_non_null(inet_ntop(AF_INET, &a.sin_addr, text, sizeof(text)));
    assert_string_equal(text, ip);
    assert_int_equal(ntohs(a.sin_port), port);
}

static void assert_mapped6(const struct cv_stun_msg *pm, const char *ip, uint16_t port)
{
    struct sockaddr_in6 a;
    char text[INET6_ADDRSTRLEN];
    assert_true(pm->has_mapped);
    assert_int_equal(pm->mapped.ss_family, AF_INET6);
    memcpy(&a, &pm->mapped, sizeof(a));
    assert_non_null(inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof(text)));
    assert_string_equal(text, ip);
    assert_int_equal(ntohs(a.sin6_port), port);
}

static void test_is_stun(void **state)
{
    (void)state;
    assert_true(cv_stun_is_stun(rfc_request, sizeof(rfc_request)));
    assert_true(cv_stun_is_stun(rfc_response4, sizeof(rfc_response4)));
    assert_true(cv_stun_is_stun(rfc_response6, sizeof(rfc_response6)));

    memcpy(buf, rfc_request, sizeof(rfc_request));
    assert_false(cv_stun_is_stun(buf, 19));
    assert_false(cv_stun_is_stun(buf, sizeof(rfc_request) - 4)); /* length field too long */
    uint8_t big[sizeof(rfc_request) + 4] = {0};
    memcpy(big, rfc_request, sizeof(rfc_request));
    assert_false(cv_stun_is_stun(big, sizeof(big))); /* trailing bytes */
    buf[3] = 0x57;                                   /* not a multiple of 4 */
    assert_false(cv_stun_is_stun(buf, 20 + 0x57));
    buf[3] = 0x58;
    buf[7] = 0x43; /* cookie */
    assert_false(cv_stun_is_stun(buf, sizeof(rfc_request)));
    buf[7] = 0x42;
    buf[0] = 4; /* RFC 7983: 0..3 is STUN, 20..63 DTLS, 128..191 RTP/RTCP */
    assert_false(cv_stun_is_stun(buf, sizeof(rfc_request)));
    buf[0] = 22;
    assert_false(cv_stun_is_stun(buf, sizeof(rfc_request)));
    buf[0] = 0x80;
    assert_false(cv_stun_is_stun(buf, sizeof(rfc_request)));
    buf[0] = 3; /* a method we do not know is still STUN: 0x081, and C1 set */
    assert_true(cv_stun_is_stun(buf, sizeof(rfc_request)));
    assert_int_equal(cv_stun_parse(buf, sizeof(rfc_request), &m), 0);
    assert_int_equal(m.method, 0x081);
    assert_int_equal(m.cls, CV_STUN_SUCCESS);
}

static void test_rfc5769_request(void **state)
{
    (void)state;
    assert_int_equal(cv_stun_parse(rfc_request, sizeof(rfc_request), &m), 0);
    assert_int_equal(m.method, CV_STUN_BINDING);
    assert_int_equal(m.cls, CV_STUN_REQUEST);
    assert_memory_equal(m.tid, rfc_tid, 12);
    assert_int_equal(m.len, sizeof(rfc_request));
    assert_int_equal(m.username_len, 9);
    assert_memory_equal(m.username, "evtj:h6vY", 9);
    assert_true(m.username == rfc_request + 64); /* into the packet, not a copy */
    assert_true(m.has_priority);
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.ice_controlled);
    assert_false(m.ice_controlling);
    assert_true(m.tiebreaker == 0x932ff9b151263b36ull);
    assert_false(m.use_candidate);
    assert_false(m.has_mapped);
    assert_int_equal(m.unknown_count, 0);
    assert_int_equal(m.integrity_off, REQUEST_MI);
    assert_true(m.has_fingerprint);
    assert_true(m.fingerprint_ok);

    assert_int_equal(check(rfc_request, sizeof(rfc_request), &m, password), 0);
    assert_int_equal(check(rfc_request, sizeof(rfc_request), &m, "VOkJxbRl1RmTxUk/WvJxBT"),
                     -EACCES);
    assert_int_equal(check(rfc_request, sizeof(rfc_request), &m, ""), -EACCES);
    assert_int_equal(cv_stun_check_integrity(rfc_request, sizeof(rfc_request), &m, NULL, 0),
                     -EINVAL);

    struct cv_stun_ufrags u;
    assert_int_equal(cv_stun_split_username(&m, &u), 0);
    assert_int_equal(u.local_len, 4);
    assert_memory_equal(u.local, "evtj", 4);
    assert_int_equal(u.remote_len, 4);
    assert_memory_equal(u.remote, "h6vY", 4);
}

static void test_rfc5769_responses(void **state)
{
    (void)state;
    assert_int_equal(cv_stun_parse(rfc_response4, sizeof(rfc_response4), &m), 0);
    assert_int_equal(m.method, CV_STUN_BINDING);
    assert_int_equal(m.cls, CV_STUN_SUCCESS);
    assert_memory_equal(m.tid, rfc_tid, 12);
    assert_null(m.username);
    assert_int_equal(m.integrity_off, RESPONSE4_MI);
    assert_true(m.has_fingerprint && m.fingerprint_ok);
    assert_mapped4(&m, "192.0.2.1", 32853);
    assert_int_equal(check(rfc_response4, sizeof(rfc_response4), &m, password), 0);
    assert_int_equal(check(rfc_response4, sizeof(rfc_response4), &m, "x"), -EACCES);

    assert_int_equal(cv_stun_parse(rfc_response6, sizeof(rfc_response6), &m), 0);
    assert_int_equal(m.cls, CV_STUN_SUCCESS);
    assert_int_equal(m.integrity_off, RESPONSE6_MI);
    assert_true(m.has_fingerprint && m.fingerprint_ok);
    assert_mapped6(&m, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
    assert_int_equal(check(rfc_response6, sizeof(rfc_response6), &m, password), 0);
}

/* Our writer, given each vector up to its MESSAGE-INTEGRITY, must produce the rest exactly. */
static void test_rfc5769_rebuilt(void **state)
{
    (void)state;
    static const struct {
        const uint8_t *msg;
        size_t len, mi;
    } v[] = {
        {rfc_request, sizeof(rfc_request), REQUEST_MI},
        {rfc_response4, sizeof(rfc_response4), RESPONSE4_MI},
        {rfc_response6, sizeof(rfc_response6), RESPONSE6_MI},
    };
    for (size_t i = 0; i < 3; i++) {
        memset(buf, 0xaa, sizeof(buf));
        memcpy(buf, v[i].msg, v[i].mi);
        assert_int_equal(cv_stun_finish(buf, sizeof(buf), v[i].mi, password, strlen(password)),
                         (int)v[i].len);
        assert_memory_equal(buf, v[i].msg, v[i].len);
        assert_int_equal(buf[v[i].len], 0xaa);
    }
}

/*
 * Every single-bit change of the request is noticed: the message no longer parses, or both its
 * MESSAGE-INTEGRITY and its FINGERPRINT fail; a change to the FINGERPRINT itself fails only it.
 */
static void test_bit_flips(void **state)
{
    (void)state;
    const size_t fp = REQUEST_MI + 24;
    size_t parsed = 0;

    for (size_t bit = 0; bit < 8 * sizeof(rfc_request); bit++) {
        memcpy(buf, rfc_request, sizeof(rfc_request));
        buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
        if (cv_stun_parse(buf, sizeof(rfc_request), &m) < 0)
            continue;
        parsed++;
        bool fp_good = m.has_fingerprint && m.fingerprint_ok;
        assert_false(fp_good);
        if (bit / 8 < fp)
            assert_int_not_equal(check(buf, sizeof(rfc_request), &m, password), 0);
        else if (bit / 8 >= fp + 4)
            assert_int_equal(check(buf, sizeof(rfc_request), &m, password), 0);
    }
    assert_true(parsed > 700); /* most flips still parse: the checks did the catching */

    /* The same for the IPv6 response, whose tid also masks the address. */
    for (size_t bit = 0; bit < 8 * sizeof(rfc_response6); bit++) {
        memcpy(buf, rfc_response6, sizeof(rfc_response6));
        buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
        if (cv_stun_parse(buf, sizeof(rfc_response6), &m) < 0)
            continue;
        assert_false(m.has_fingerprint && m.fingerprint_ok);
        if (bit / 8 < RESPONSE6_MI + 24)
            assert_int_not_equal(check(buf, sizeof(rfc_response6), &m, password), 0);
    }
}

static void test_truncated(void **state)
{
    (void)state;
    const uint8_t *msgs[] = {rfc_request, rfc_response4, rfc_response6};
    const size_t lens[] = {sizeof(rfc_request), sizeof(rfc_response4), sizeof(rfc_response6)};

    for (size_t i = 0; i < 3; i++) {
        for (size_t n = 0; n < lens[i]; n++) {
            assert_false(cv_stun_is_stun(msgs[i], n));
            assert_int_equal(cv_stun_parse(msgs[i], n, &m), -EBADMSG);
        }
        /* Cut at an attribute boundary with the length field fixed: parses, integrity gone. */
        memcpy(buf, msgs[i], lens[i]);
        buf[3] = (uint8_t)(lens[i] - 8 - 20);
        assert_int_equal(cv_stun_parse(buf, lens[i] - 8, &m), 0);
        assert_false(m.has_fingerprint);
        assert_int_equal(check(buf, lens[i] - 8, &m, password), 0); /* M-I alone still holds */
        buf[3] = (uint8_t)(lens[i] - 32 - 20);
        assert_int_equal(cv_stun_parse(buf, lens[i] - 32, &m), 0);
        assert_int_equal(m.integrity_off, 0);
        assert_int_equal(check(buf, lens[i] - 32, &m, password), -ENOENT);
    }
}

/* A message of one attribute with the given raw value (type and length as given). */
static size_t one_attr(uint16_t type, const void *val, size_t n)
{
    int len = cv_stun_begin(buf, sizeof(buf), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    assert_int_equal(len, 20);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, type, val, n);
    assert_true(len > 0);
    return (size_t)len;
}

static void test_malformed(void **state)
{
    (void)state;
    static const uint8_t zeros[600];
    static const struct {
        uint16_t type;
        size_t n;
    } bad[] = {
        {CV_STUN_ATTR_MESSAGE_INTEGRITY, 16}, {CV_STUN_ATTR_MESSAGE_INTEGRITY, 32},
        {CV_STUN_ATTR_FINGERPRINT, 8},        {CV_STUN_ATTR_PRIORITY, 3},
        {CV_STUN_ATTR_PRIORITY, 8},           {CV_STUN_ATTR_USE_CANDIDATE, 4},
        {CV_STUN_ATTR_ICE_CONTROLLING, 4},    {CV_STUN_ATTR_ICE_CONTROLLED, 12},
        {CV_STUN_ATTR_XOR_MAPPED_ADDRESS, 2}, {CV_STUN_ATTR_XOR_MAPPED_ADDRESS, 8}, /* family 0 */
        {CV_STUN_ATTR_ERROR_CODE, 2},         {CV_STUN_ATTR_ERROR_CODE, 4},         /* class 0 */
        {CV_STUN_ATTR_USERNAME, 513},         {CV_STUN_ATTR_MAPPED_ADDRESS, 3},
        {CV_STUN_ATTR_MAPPED_ADDRESS, 8}, /* family 0 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = one_attr(bad[i].type, zeros, bad[i].n);
        assert_int_equal(cv_stun_parse(buf, len, &m), -EBADMSG);
        assert_null(m.username); /* zeroed on error */
    }
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_USERNAME, zeros, 512), &m), 0);
    assert_int_equal(m.username_len, 512);

    uint8_t x4[20] = {0, 1}, x6[20] = {0, 2};
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, x4, 8), &m), 0);
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, x6, 8), &m),
                     -EBADMSG); /* IPv6 in 8 bytes */
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, x4, 20), &m),
                     -EBADMSG); /* IPv4 in 20 */
    x6[1] = 3;
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, x6, 20), &m),
                     -EBADMSG);

    uint8_t ec[8] = {0, 0, 4, 1, 'x'};
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_ERROR_CODE, ec, 5), &m), 0);
    assert_int_equal(m.error_code, 401);
    ec[3] = 100;
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_ERROR_CODE, ec, 5), &m), -EBADMSG);
    ec[3] = 0;
    ec[2] = 7;
    assert_int_equal(cv_stun_parse(buf, one_attr(CV_STUN_ATTR_ERROR_CODE, ec, 5), &m), -EBADMSG);

    /* An attribute length running past the message, and one cutting the next header. */
    size_t len = one_attr(CV_STUN_ATTR_SOFTWARE, "abcd", 4);
    buf[23] = 5;
    assert_int_equal(cv_stun_parse(buf, len, &m), -EBADMSG);
    buf[23] = 0xff;
    buf[22] = 0xff;
    assert_int_equal(cv_stun_parse(buf, len, &m), -EBADMSG);
    len = one_attr(CV_STUN_ATTR_SOFTWARE, "abcdefgh", 8);
    buf[23] = 1; /* 1 + 3 padding, then a 4-byte "header" "efgh": length 0x6768 */
    assert_int_equal(cv_stun_parse(buf, len, &m), -EBADMSG);
}

static void test_attribute_rules(void **state)
{
    (void)state;
    const uint8_t prio1[4] = {0, 0, 0, 1}, prio2[4] = {0, 0, 0, 2};
    const uint8_t tb[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int len = cv_stun_begin(buf, sizeof(buf), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_PRIORITY, prio1, 4);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_PRIORITY, prio2, 4);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, 0xc057, "opt", 3); /* skipped */
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, 0x0003, NULL, 0);  /* CHANGE-REQUEST */
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, 0x001c, tb, 8);    /* M-I-SHA256 */
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_USERNAME, "a:b", 3);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_USERNAME, "c:d", 3);
    len = cv_stun_finish(buf, sizeof(buf), (size_t)len, "k", 1);
    /* After MESSAGE-INTEGRITY: ignored, then FINGERPRINT re-done to cover them. */
    len -= 8;
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_ICE_CONTROLLING, tb, 8);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, 0x0030, NULL, 0);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_PRIORITY, prio1, 3);
    len = cv_stun_finish(buf, sizeof(buf), (size_t)len, NULL, 0);
    assert_true(len > 0);

    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m), 0);
    assert_int_equal(m.priority, 1); /* the first counts */
    assert_memory_equal(m.username, "a:b", 3);
    assert_int_equal(m.unknown_count, 2);
    assert_int_equal(m.unknown[0], 0x0003);
    assert_int_equal(m.unknown[1], 0x001c);
    assert_false(m.use_candidate);
    assert_false(m.ice_controlling);
    assert_true(m.has_fingerprint && m.fingerprint_ok);
    assert_int_equal(check(buf, (size_t)len, &m, "k"), 0); /* its length excludes the rest */

    /* FINGERPRINT must be last. */
    len = cv_stun_begin(buf, sizeof(buf), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    len = cv_stun_finish(buf, sizeof(buf), (size_t)len, NULL, 0);
    len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, CV_STUN_ATTR_SOFTWARE, "x", 1);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m), -EBADMSG);

    /* More unknown attributes than we keep: the first ones are listed. */
    len = cv_stun_begin(buf, sizeof(buf), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    for (uint16_t t = 0x7000; t < 0x7000 + CV_STUN_MAX_UNKNOWN + 3; t++)
        len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, t, NULL, 0);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m), 0);
    assert_int_equal(m.unknown_count, CV_STUN_MAX_UNKNOWN);
    assert_int_equal(m.unknown[CV_STUN_MAX_UNKNOWN - 1], 0x7000 + CV_STUN_MAX_UNKNOWN - 1);
}

/* A browser's connectivity check, built with every attribute ICE puts in one. */
static size_t ice_check(uint8_t *out, size_t size, const char *user, const char *key)
{
    const uint8_t prio[4] = {0x6e, 0x7f, 0x1e, 0xff};
    const uint8_t tb[8] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10};
    const uint8_t net[4] = {0x00, 0x01, 0x00, 0x0a}; /* GOOG-NETWORK-INFO, optional */
    int len = cv_stun_begin(out, size, CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_USERNAME, user, strlen(user));
    len = cv_stun_put_attr(out, size, (size_t)len, 0xc057, net, 4);
    len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_ICE_CONTROLLING, tb, 8);
    len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    len = cv_stun_put_attr(out, size, (size_t)len, CV_STUN_ATTR_PRIORITY, prio, 4);
    len = cv_stun_finish(out, size, (size_t)len, key, strlen(key));
    assert_true(len > 0);
    return (size_t)len;
}

static void test_ice_check(void **state)
{
    (void)state;
    size_t len = ice_check(buf, sizeof(buf), "Ab+/0:xyz9", "server-pwd");
    assert_true(cv_stun_is_stun(buf, len));
    assert_int_equal(cv_stun_parse(buf, len, &m), 0);
    assert_int_equal(m.cls, CV_STUN_REQUEST);
    assert_int_equal(m.priority, 0x6e7f1eff);
    assert_true(m.use_candidate && m.ice_controlling && !m.ice_controlled);
    assert_true(m.tiebreaker == 0xfedcba9876543210ull);
    assert_true(m.fingerprint_ok);
    assert_int_equal(m.unknown_count, 0);
    assert_int_equal(check(buf, len, &m, "server-pwd"), 0);
    assert_int_equal(check(buf, len, &m, "server-pwe"), -EACCES);
    struct cv_stun_ufrags u;
    assert_int_equal(cv_stun_split_username(&m, &u), 0);
    assert_int_equal(u.local_len, 5);
    assert_memory_equal(u.local, "Ab+/0", 5);
    assert_int_equal(u.remote_len, 4);
    assert_memory_equal(u.remote, "xyz9", 4);

    /* m must be the parse of this very packet. */
    m2 = m;
    m2.integrity_off += 4;
    assert_int_equal(check(buf, len, &m2, "server-pwd"), -EINVAL);
    m2 = m;
    assert_int_equal(check(buf, len - 4, &m2, "server-pwd"), -EINVAL);

    /* A message too long to check from the stack. */
    static uint8_t big[CV_STUN_MAX_SIGNED_LEN + 100];
    static const uint8_t pad[CV_STUN_MAX_SIGNED_LEN];
    int n = cv_stun_begin(big, sizeof(big), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    n = cv_stun_put_attr(big, sizeof(big), (size_t)n, CV_STUN_ATTR_SOFTWARE, pad,
                         CV_STUN_MAX_SIGNED_LEN - 20);
    n = cv_stun_finish(big, sizeof(big), (size_t)n, "k", 1);
    assert_true(n > 0);
    assert_int_equal(cv_stun_parse(big, (size_t)n, &m), 0);
    assert_int_equal(check(big, (size_t)n, &m, "k"), -EMSGSIZE);
    n = cv_stun_begin(big, sizeof(big), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    n = cv_stun_put_attr(big, sizeof(big), (size_t)n, CV_STUN_ATTR_SOFTWARE, pad,
                         CV_STUN_MAX_SIGNED_LEN - 24);
    n = cv_stun_finish(big, sizeof(big), (size_t)n, "k", 1);
    assert_int_equal(cv_stun_parse(big, (size_t)n, &m), 0);
    assert_int_equal(check(big, (size_t)n, &m, "k"), 0); /* exactly at the limit */
}

static void test_split_username(void **state)
{
    (void)state;
    static const struct {
        const char *user;
        int rc;
    } cases[] = {
        {"a:b", 0},       {"abcd:efgh:ij", -EBADMSG}, {":b", -EBADMSG},    {"a:", -EBADMSG},
        {"ab", -EBADMSG}, {"a b:c", -EBADMSG},        {"a:b\n", -EBADMSG}, {"", -EBADMSG},
    };
    struct cv_stun_ufrags u;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = one_attr(CV_STUN_ATTR_USERNAME, cases[i].user, strlen(cases[i].user));
        assert_int_equal(cv_stun_parse(buf, len, &m), 0);
        assert_int_equal(cv_stun_split_username(&m, &u), cases[i].rc);
        if (cases[i].rc < 0)
            assert_null(u.local);
    }
    memset(&m, 0, sizeof(m));
    assert_int_equal(cv_stun_split_username(&m, &u), -ENOENT);
}

/* --- our reflexive address ---------------------------------------------------------------- */

/* RFC 5769's XOR-MAPPED-ADDRESS values (2.2, 2.3), as a server puts them after its header. */
static const uint8_t xor4[8] = {0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
static const uint8_t xor6[20] = {0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3,
                                 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9};
/* The same addresses as MAPPED-ADDRESS (RFC 8489 §14.1), in the clear. */
static const uint8_t plain4[8] = {0x00, 0x01, 0x80, 0x55, 192, 0, 2, 1};
static const uint8_t plain6[20] = {0x00, 0x02, 0x80, 0x55, 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34,
                                   0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};

/* A message of the given method and class with tid and up to two attributes (type 0: none). */
static size_t message(uint16_t method, uint8_t cls, const uint8_t *tid, uint16_t t1,
                      const uint8_t *v1, size_t n1, uint16_t t2, const uint8_t *v2, size_t n2)
{
    int len = cv_stun_begin(buf, sizeof(buf), method, cls, tid);
    if (t1)
        len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, t1, v1, n1);
    if (t2)
        len = cv_stun_put_attr(buf, sizeof(buf), (size_t)len, t2, v2, n2);
    assert_true(len >= 20);
    return (size_t)len;
}

static size_t success(uint16_t t1, const uint8_t *v1, size_t n1, uint16_t t2, const uint8_t *v2,
                      size_t n2)
{
    return message(CV_STUN_BINDING, CV_STUN_SUCCESS, rfc_tid, t1, v1, n1, t2, v2, n2);
}

/* Runs cv_stun_read_mapped() and checks what it leaves in a struct cv_stun_msg's terms. */
static int read_mapped(const uint8_t *p, size_t len, const uint8_t *tid)
{
    struct sockaddr_storage out;
    memset(&out, 0xee, sizeof(out));
    int rc = cv_stun_read_mapped(p, len, tid, &out);
    memset(&m, 0, sizeof(m));
    m.has_mapped = rc == 0;
    m.mapped = out;
    if (rc < 0) {
        static const struct sockaddr_storage zero;
        assert_memory_equal(&out, &zero, sizeof(zero)); /* nothing half-written */
    }
    return rc;
}

static void test_read_mapped(void **state)
{
    (void)state;
    static const char v6[] = "2001:db8:1234:5678:11:2233:4455:6677";
    const uint8_t other_tid[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                   0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xaf};

    /* RFC 5769's responses as they are: SOFTWARE, MESSAGE-INTEGRITY (not ours to check). */
    assert_int_equal(read_mapped(rfc_response4, sizeof(rfc_response4), rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    assert_int_equal(read_mapped(rfc_response6, sizeof(rfc_response6), rfc_tid), 0);
    assert_mapped6(&m, v6, 32853);

    /* Their XOR-MAPPED-ADDRESS alone, no FINGERPRINT: what a public server sends. */
    size_t len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, 0, NULL, 0);
    assert_int_equal(len, 32);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor6, 20, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped6(&m, v6, 32853);
    /* With a FINGERPRINT, good and then damaged. */
    int n = cv_stun_finish(buf, sizeof(buf), len, NULL, 0);
    assert_int_equal(read_mapped(buf, (size_t)n, rfc_tid), 0);
    buf[n - 1] ^= 1;
    assert_int_equal(read_mapped(buf, (size_t)n, rfc_tid), -EBADMSG);

    /* The same bytes answer only the transaction they name: the IPv6 address is masked by it. */
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, other_tid), -ENOENT);
    assert_int_equal(read_mapped(rfc_response6, sizeof(rfc_response6), other_tid), -ENOENT);
}

/* What is STUN but not our answer; and what is not STUN at all. */
static void test_read_mapped_others(void **state)
{
    (void)state;
    uint8_t out[128];

    /* An error response to our request (a server that wants credentials). */
    assert_int_equal(cv_stun_build_binding_request(buf, sizeof(buf), rfc_tid), 20);
    assert_int_equal(cv_stun_parse(buf, 20, &m2), 0);
    int n = cv_stun_build_error(out, sizeof(out), &m2, 401, NULL, NULL, 0);
    assert_true(n > 0);
    assert_int_equal(read_mapped(out, (size_t)n, rfc_tid), -ENOENT);
    assert_int_equal(cv_stun_parse(out, (size_t)n, &m2), 0);
    assert_int_equal(m2.error_code, 401); /* what the caller logs */
    /* An error response that carries an address is still an error. */
    size_t len = message(CV_STUN_BINDING, CV_STUN_ERROR, rfc_tid, CV_STUN_ATTR_ERROR_CODE,
                         (const uint8_t *)"\0\0\5\0", 4, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -ENOENT);

    /* A request (ours looped back, or a browser's check), an indication, another method. */
    assert_int_equal(read_mapped(rfc_request, sizeof(rfc_request), rfc_tid), -ENOENT);
    len = message(CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4,
                  8, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -ENOENT);
    len = message(CV_STUN_BINDING, CV_STUN_INDICATION, rfc_tid, CV_STUN_ATTR_XOR_MAPPED_ADDRESS,
                  xor4, 8, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -ENOENT);
    len = message(0x003, CV_STUN_SUCCESS, rfc_tid, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, 0,
                  NULL, 0); /* an Allocate success */
    assert_int_equal(read_mapped(buf, len, rfc_tid), -ENOENT);

    /* Our answer, but no address in it, or a broken one. */
    len = success(CV_STUN_ATTR_SOFTWARE, (const uint8_t *)"x", 1, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -EBADMSG);
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor6, 8, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -EBADMSG);

    /* Every truncation, and bytes that are not STUN (DTLS, RTP, an RFC 3489 reply). */
    for (size_t k = 0; k < sizeof(rfc_response4); k++)
        assert_int_equal(read_mapped(rfc_response4, k, rfc_tid), -EBADMSG);
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, 0, NULL, 0);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(read_mapped(buf, k, rfc_tid), -EBADMSG);
    buf[3] = 4; /* the length field says less than the datagram holds */
    assert_int_equal(read_mapped(buf, len, rfc_tid), -EBADMSG);
    memcpy(buf, rfc_response4, sizeof(rfc_response4));
    buf[0] = 22;
    assert_int_equal(read_mapped(buf, sizeof(rfc_response4), rfc_tid), -EBADMSG);
    buf[0] = 0x80;
    assert_int_equal(read_mapped(buf, sizeof(rfc_response4), rfc_tid), -EBADMSG);
    memcpy(buf, rfc_response4, sizeof(rfc_response4));
    buf[4] = 0; /* no magic cookie */
    assert_int_equal(read_mapped(buf, sizeof(rfc_response4), rfc_tid), -EBADMSG);
}

/* MAPPED-ADDRESS, for servers older than RFC 5389; XOR-MAPPED-ADDRESS first when both. */
static void test_read_mapped_plain(void **state)
{
    (void)state;
    const uint8_t other4[8] = {0x00, 0x01, 0x00, 0x07, 10, 0, 0, 7};

    size_t len = success(CV_STUN_ATTR_MAPPED_ADDRESS, plain4, 8, 0, NULL, 0);
    assert_int_equal(cv_stun_parse(buf, len, &m2), 0);
    assert_true(m2.has_mapped && m2.mapped_plain);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    len = success(CV_STUN_ATTR_MAPPED_ADDRESS, plain6, 20, 0, NULL, 0);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped6(&m, "2001:db8:1234:5678:11:2233:4455:6677", 32853);

    /* A NAT rewrote the plain one; the XOR one, before or after it, is believed. */
    len = success(CV_STUN_ATTR_MAPPED_ADDRESS, other4, 8, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8);
    assert_int_equal(cv_stun_parse(buf, len, &m2), 0);
    assert_false(m2.mapped_plain);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, CV_STUN_ATTR_MAPPED_ADDRESS, other4, 8);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    /* Of two plain ones the first counts. */
    len = success(CV_STUN_ATTR_MAPPED_ADDRESS, plain4, 8, CV_STUN_ATTR_MAPPED_ADDRESS, other4, 8);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
    /* A broken plain one breaks the message, like any known attribute. */
    len = success(CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8, CV_STUN_ATTR_MAPPED_ADDRESS, plain6, 8);
    assert_int_equal(read_mapped(buf, len, rfc_tid), -EBADMSG);

    /* RFC 3489's SOURCE-ADDRESS and CHANGED-ADDRESS beside it: not understood, not fatal. */
    len = success(0x0004, plain4, 8, 0x0005, plain4, 8);
    len = (size_t)cv_stun_put_attr(buf, sizeof(buf), len, CV_STUN_ATTR_XOR_MAPPED_ADDRESS, xor4, 8);
    assert_int_equal(read_mapped(buf, len, rfc_tid), 0);
    assert_mapped4(&m, "192.0.2.1", 32853);
}

/* The request those answers answer: the header alone, ready for any server. */
static void test_binding_request_roundtrip(void **state)
{
    (void)state;
    struct sockaddr_storage a = addr6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    uint8_t out[128];

    assert_int_equal(cv_stun_build_binding_request(buf, sizeof(buf), rfc_tid), 20);
    assert_int_equal(cv_stun_parse(buf, 20, &m2), 0);
    assert_null(m2.username);
    assert_int_equal(m2.integrity_off, 0);
    assert_false(m2.has_fingerprint);
    /* A server's answer (ours, built as for a browser) reads back to the address it saw. */
    int n = cv_stun_build_binding_success(out, sizeof(out), &m2, &a, NULL, 0);
    assert_true(n > 0);
    assert_int_equal(read_mapped(out, (size_t)n, rfc_tid), 0);
    assert_mapped6(&m, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
    assert_memory_equal(out + 20, rfc_response6 + 36, 24); /* RFC 5769's bytes, same tid */
}

/* --- the ice_servers setting -------------------------------------------------------------- */

static void test_server_parse(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        const char *host;
        uint16_t port;
    } cases[] = {
        /* go2rtc's forms */
        {"stun:stun.l.google.com:19302", 0, "stun.l.google.com", 19302},
        {"stun:stun.example.org", 0, "stun.example.org", 3478},
        {"stun:[2001:db8::1]:3479", 0, "2001:db8::1", 3479},
        {"stun:[2001:db8::1]", 0, "2001:db8::1", 3478},
        {"stun:[::ffff:192.0.2.1]:1", 0, "::ffff:192.0.2.1", 1},
        {"stun.example.org:19302", 0, "stun.example.org", 19302},
        {"stun.example.org", 0, "stun.example.org", 3478},
        {"192.0.2.1:65535", 0, "192.0.2.1", 65535},
        {"[2001:db8::1]:5", 0, "2001:db8::1", 5},
        {"STUN:Stun_1.Example-2.org:3478", 0, "Stun_1.Example-2.org", 3478},
        {"stun:192.0.2.1", 0, "192.0.2.1", 3478},
        /* lists: the first usable entry; TURN and STUN over TLS skipped, unchecked */
        {"stun:a.example:1,stun:b.example:2", 0, "a.example", 1},
        {" \t stun:a.example:1 , stun:b.example:2\n", 0, "a.example", 1},
        {"turn:t.example:3478?transport=udp, stun:s.example:3478", 0, "s.example", 3478},
        {"turns:user@t.example:5349 TURN:x stuns:s.example:5349 stun:s.example", 0, "s.example",
         3478},
        {"turn:t.example:3478", -ENOENT, "", 0},
        {"stuns:s.example:5349 turns:t.example", -ENOENT, "", 0},
        {"", -ENOENT, "", 0},
        {" ,, \t\r\n", -ENOENT, "", 0},
        /* malformed, met before any good one */
        {"stun:2001:db8::1:3478", -EINVAL, "", 0}, /* IPv6 without brackets */
        {"2001:db8::1", -EINVAL, "", 0},
        {"stun:bad!host, stun:good.example", -EINVAL, "", 0},
        {"stun:", -EINVAL, "", 0},
        {"stun:host:", -EINVAL, "", 0},
        {"stun::3478", -EINVAL, "", 0},
        {"stun:host:0", -EINVAL, "", 0},
        {"stun:host:65536", -EINVAL, "", 0},
        {"stun:host:123456", -EINVAL, "", 0},
        {"stun:host:34a", -EINVAL, "", 0},
        {"stun:host:+3478", -EINVAL, "", 0},
        {"stun:host:3478?transport=udp", -EINVAL, "", 0},
        {"stun://host:3478", -EINVAL, "", 0},
        {"stun:host/path", -EINVAL, "", 0},
        {"stun:user@host", -EINVAL, "", 0},
        {"stun:[2001:db8::1", -EINVAL, "", 0},
        {"stun:[2001:db8::1]3478", -EINVAL, "", 0},
        {"stun:[2001:db8::1]:", -EINVAL, "", 0},
        {"stun:[fe80::1%eth0]:3478", -EINVAL, "", 0},
        {"stun:[host.example]:3478", -EINVAL, "", 0},
        {"stun:[]:3478", -EINVAL, "", 0},
        {"stun:3478", -EINVAL, "", 0},  /* a port without its host, not 0.0.13.142 */
        {"stun:1.2.3", -EINVAL, "", 0}, /* not a dotted quad */
        {"stun:256.1.1.1", -EINVAL, "", 0},
        {"ftp:host", -EINVAL, "", 0}, /* an unknown scheme reads as host "ftp", port "host" */
    };
    char host[CV_STUN_SERVER_HOST_SIZE];
    uint16_t port;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(host, 'x', sizeof(host));
        port = 7;
        int rc = cv_stun_server_parse(cases[i].text, host, sizeof(host), &port);
        if (rc != cases[i].rc)
            fail_msg("\"%s\": %d, not %d", cases[i].text, rc, cases[i].rc);
        assert_string_equal(host, cases[i].host);
        assert_int_equal(port, cases[i].port);
    }
}

static void test_server_parse_lengths(void **state)
{
    (void)state;
    char text[300], host[CV_STUN_SERVER_HOST_SIZE];
    uint16_t port;

    /* The host and its NUL must fit; "" in a buffer of one byte, nothing in one of none. */
    assert_int_equal(cv_stun_server_parse("stun:abcde:9", host, 6, &port), 0);
    assert_string_equal(host, "abcde");
    assert_int_equal(port, 9);
    assert_int_equal(cv_stun_server_parse("stun:abcde:9", host, 5, &port), -ENAMETOOLONG);
    assert_string_equal(host, "");
    assert_int_equal(port, 0);
    assert_int_equal(cv_stun_server_parse("stun:[::1]", host, 4, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(cv_stun_server_parse("stun:[::1]", host, 3, &port), -ENAMETOOLONG);
    host[0] = 'x';
    assert_int_equal(cv_stun_server_parse("stun:a", host, 0, &port), -ENAMETOOLONG);
    assert_int_equal(host[0], 'x');
    assert_int_equal(cv_stun_server_parse("turn:a", host, 0, &port), -ENOENT);

    /* A DNS name is at most 253 characters, which CV_STUN_SERVER_HOST_SIZE holds. */
    memcpy(text, "stun:", 5);
    memset(text + 5, 'a', 253);
    memcpy(text + 5 + 253, ":1", 3);
    assert_int_equal(cv_stun_server_parse(text, host, sizeof(host), &port), 0);
    assert_int_equal(strlen(host), 253);
    memset(text + 5, 'a', 254);
    memcpy(text + 5 + 254, ":1", 3);
    assert_int_equal(cv_stun_server_parse(text, host, sizeof(host), &port), -EINVAL);
}

/* --- building ----------------------------------------------------------------------------- */

static void test_success_response(void **state)
{
    (void)state;
    struct sockaddr_storage a = addr4("192.0.2.1", 32853);

    assert_int_equal(cv_stun_parse(rfc_request, sizeof(rfc_request), &m), 0);
    int len = cv_stun_build_binding_success(buf, sizeof(buf), &m, &a, password, strlen(password));
    assert_int_equal(len, 20 + 12 + 24 + 8);
    /* XOR-MAPPED-ADDRESS as RFC 5769 encodes it */
    const uint8_t want4[] = {0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
                             0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43};
    assert_memory_equal(buf + 20, want4, sizeof(want4));
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m2), 0);
    assert_int_equal(m2.method, CV_STUN_BINDING);
    assert_int_equal(m2.cls, CV_STUN_SUCCESS);
    assert_memory_equal(m2.tid, rfc_tid, 12);
    assert_mapped4(&m2, "192.0.2.1", 32853);
    assert_true(m2.fingerprint_ok);
    assert_int_equal(check(buf, (size_t)len, &m2, password), 0);
    assert_int_equal(check(buf, (size_t)len, &m2, "other"), -EACCES);

    a = addr6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    len = cv_stun_build_binding_success(buf, sizeof(buf), &m, &a, password, strlen(password));
    assert_int_equal(len, 20 + 24 + 24 + 8);
    assert_memory_equal(buf + 20, rfc_response6 + 36, 24);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m2), 0);
    assert_mapped6(&m2, "2001:db8:1234:5678:11:2233:4455:6677", 32853);
    assert_int_equal(check(buf, (size_t)len, &m2, password), 0);
    assert_true(m2.fingerprint_ok);

    /* A dual-stack socket's IPv4 peer goes back as IPv4. */
    a = addr6("::ffff:198.51.100.7", 1);
    len = cv_stun_build_binding_success(buf, sizeof(buf), &m, &a, NULL, 0);
    assert_int_equal(len, 20 + 12 + 8);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m2), 0);
    assert_mapped4(&m2, "198.51.100.7", 1);
    assert_int_equal(m2.integrity_off, 0);
    assert_true(m2.fingerprint_ok);

    a.ss_family = AF_UNIX;
    assert_int_equal(cv_stun_build_binding_success(buf, sizeof(buf), &m, &a, NULL, 0),
                     -EAFNOSUPPORT);
    a = addr4("1.2.3.4", 5);
    assert_int_equal(cv_stun_parse(rfc_response4, sizeof(rfc_response4), &m2), 0);
    assert_int_equal(cv_stun_build_binding_success(buf, sizeof(buf), &m2, &a, NULL, 0), -EINVAL);
    m2 = m;
    m2.method = 0x003; /* Allocate */
    assert_int_equal(cv_stun_build_binding_success(buf, sizeof(buf), &m2, &a, NULL, 0), -EINVAL);
}

static void test_error_response(void **state)
{
    (void)state;
    assert_int_equal(cv_stun_parse(rfc_request, sizeof(rfc_request), &m), 0);

    int len = cv_stun_build_error(buf, sizeof(buf), &m, 401, NULL, NULL, 0);
    assert_true(len > 0);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m2), 0);
    assert_int_equal(m2.cls, CV_STUN_ERROR);
    assert_int_equal(m2.method, CV_STUN_BINDING);
    assert_memory_equal(m2.tid, rfc_tid, 12);
    assert_int_equal(m2.error_code, 401);
    assert_int_equal(m2.integrity_off, 0);
    assert_true(m2.fingerprint_ok);
    assert_memory_equal(buf + 24, "\0\0\4\1Unauthenticated", 19);

    len = cv_stun_build_error(buf, sizeof(buf), &m, 487, "Role Conflict!", "pw", 2);
    assert_int_equal(cv_stun_parse(buf, (size_t)len, &m2), 0);
    assert_int_equal(m2.error_code, 487);
    assert_memory_equal(buf + 28, "Role Conflict!", 14);
    assert_int_equal(check(buf, (size_t)len, &m2, "pw"), 0);
    assert_true(m2.fingerprint_ok);

    /* 420 names what we did not understand; other codes do not. */
    size_t n = one_attr(0x001c, "0123456789abcdef0123456789abcdef", 32);
    assert_int_equal(cv_stun_parse(buf, n, &m), 0);
    assert_int_equal(m.unknown_count, 1);
    uint8_t out[128];
    len = cv_stun_build_error(out, sizeof(out), &m, 420, NULL, "pw", 2);
    assert_int_equal(cv_stun_parse(out, (size_t)len, &m2), 0);
    assert_int_equal(m2.error_code, 420);
    /* ERROR-CODE "Unknown Attribute" is 4 + 17 bytes, padded to 24 */
    assert_memory_equal(out + 20 + 4 + 24, "\x00\x0a\x00\x02\x00\x1c\x00\x00", 8);
    assert_int_equal(check(out, (size_t)len, &m2, "pw"), 0);
    int len400 = cv_stun_build_error(out, sizeof(out), &m, 400, NULL, NULL, 0);
    assert_int_equal(len400, 20 + 4 + 16 + 8); /* "Bad Request": 4 + 11, padded */

    char longer[600];
    memset(longer, 'r', sizeof(longer));
    longer[509] = 0;
    assert_true(cv_stun_build_error(buf, sizeof(buf), &m, 500, longer, NULL, 0) > 0);
    longer[509] = 'r';
    longer[510] = 0;
    assert_int_equal(cv_stun_build_error(buf, sizeof(buf), &m, 500, longer, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_build_error(buf, sizeof(buf), &m, 299, NULL, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_build_error(buf, sizeof(buf), &m, 700, NULL, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_parse(rfc_response4, sizeof(rfc_response4), &m2), 0);
    assert_int_equal(cv_stun_build_error(buf, sizeof(buf), &m2, 400, NULL, NULL, 0), -EINVAL);
}

static void test_binding_request(void **state)
{
    (void)state;
    const uint8_t tid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    assert_int_equal(cv_stun_build_binding_request(buf, sizeof(buf), tid), 20);
    assert_memory_equal(buf, "\x00\x01\x00\x00\x21\x12\xa4\x42", 8);
    assert_int_equal(cv_stun_parse(buf, 20, &m), 0);
    assert_int_equal(m.method, CV_STUN_BINDING);
    assert_int_equal(m.cls, CV_STUN_REQUEST);
    assert_memory_equal(m.tid, tid, 12);
    assert_false(m.has_fingerprint);

    /*
     * All four classes, and a method with a bit in each of the three method fields, survive the
     * interleaving (methods over 0xff are not STUN to RFC 7983's first-byte test).
     */
    for (uint8_t cls = 0; cls < 4; cls++) {
        assert_int_equal(cv_stun_begin(buf, sizeof(buf), 0x0bc, cls, tid), 20);
        assert_int_equal(cv_stun_parse(buf, 20, &m), 0);
        assert_int_equal(m.method, 0x0bc);
        assert_int_equal(m.cls, cls);
    }
    assert_int_equal(cv_stun_begin(buf, sizeof(buf), 0x1000, 0, tid), -EINVAL);
    assert_int_equal(cv_stun_begin(buf, sizeof(buf), 1, 4, tid), -EINVAL);
    assert_int_equal(cv_stun_put_attr(buf, sizeof(buf), 22, 1, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_put_attr(buf, sizeof(buf), 16, 1, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_put_attr(buf, 20, 24, 1, NULL, 0), -EINVAL);
    assert_int_equal(cv_stun_finish(buf, sizeof(buf), 21, NULL, 0), -EINVAL);
}

/* Every builder, at every size short of what it needs: -ENOSPC and nothing past size. */
static void test_enospc(void **state)
{
    (void)state;
    struct sockaddr_storage a4 = addr4("192.0.2.1", 32853), a6 = addr6("2001:db8::1", 9);
    uint8_t out[256];

    assert_int_equal(cv_stun_parse(rfc_request, sizeof(rfc_request), &m), 0);
    m.unknown_count = 1;
    m.unknown[0] = 0x001c;
    for (int which = 0; which < 6; which++) {
        int need = -1;
        for (size_t size = 0; size <= sizeof(out); size++) {
            memset(out, 0x5a, sizeof(out));
            int rc;
            switch (which) {
            case 0: rc = cv_stun_build_binding_success(out, size, &m, &a4, "k", 1); break;
            case 1: rc = cv_stun_build_binding_success(out, size, &m, &a6, "k", 1); break;
            case 2: rc = cv_stun_build_binding_success(out, size, &m, &a6, NULL, 0); break;
            case 3: rc = cv_stun_build_error(out, size, &m, 420, NULL, "k", 1); break;
            case 4: rc = cv_stun_build_error(out, size, &m, 401, NULL, NULL, 0); break;
            default: rc = cv_stun_build_binding_request(out, size, rfc_tid); break;
            }
            for (size_t i = size; i < sizeof(out); i++)
                assert_int_equal(out[i], 0x5a);
            if (rc == -ENOSPC)
                continue;
            assert_true(rc > 0);
            assert_int_equal(rc, (int)size); /* the first size that fits is exactly enough */
            need = rc;
            break;
        }
        assert_true(need > 0);
    }

    /* The 16-bit length field is a limit of its own. */
    static uint8_t huge[70000];
    static const uint8_t zeros[0xffff];
    int len = cv_stun_begin(huge, sizeof(huge), CV_STUN_BINDING, CV_STUN_REQUEST, rfc_tid);
    len = cv_stun_put_attr(huge, sizeof(huge), (size_t)len, CV_STUN_ATTR_SOFTWARE, zeros, 0xfff0);
    assert_int_equal(len, 20 + 4 + 0xfff0);
    assert_int_equal(cv_stun_put_attr(huge, sizeof(huge), (size_t)len, 0x8000, zeros, 8), -ENOSPC);
    assert_int_equal(cv_stun_finish(huge, sizeof(huge), (size_t)len, "k", 1), -ENOSPC);
    len = cv_stun_finish(huge, sizeof(huge), (size_t)len, NULL, 0);
    assert_int_equal(len, 20 + 0xffff - 3);
    assert_int_equal(cv_stun_parse(huge, (size_t)len, &m), 0);
    assert_true(m.fingerprint_ok);
    assert_int_equal(cv_stun_put_attr(huge, sizeof(huge), 20, 1, zeros, 0x10000), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_stun),           cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_rfc5769_responses), cmocka_unit_test(test_rfc5769_rebuilt),
        cmocka_unit_test(test_bit_flips),         cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),         cmocka_unit_test(test_attribute_rules),
        cmocka_unit_test(test_ice_check),         cmocka_unit_test(test_split_username),
        cmocka_unit_test(test_success_response),  cmocka_unit_test(test_error_response),
        cmocka_unit_test(test_binding_request),   cmocka_unit_test(test_enospc),
        cmocka_unit_test(test_read_mapped),       cmocka_unit_test(test_read_mapped_others),
        cmocka_unit_test(test_read_mapped_plain), cmocka_unit_test(test_binding_request_roundtrip),
        cmocka_unit_test(test_server_parse),      cmocka_unit_test(test_server_parse_lengths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
