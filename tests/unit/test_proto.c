/*
 * Control messages: every type round-trips and keeps its golden bytes (tests/unit/golden-msg.inc),
 * and the decoder refuses what it must refuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>
#include <msgpack.h>

#include "proto/chan.h"
#include "proto/msg.h"

static void roundtrip(const struct cv_msg *in, struct cv_msg *out)
{
    uint8_t buf[CV_PROTO_MAX_MSG];
    int n = cv_msg_encode(in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(cv_msg_decode(buf, (size_t)n, out), 0);
    assert_int_equal(out->type, in->type);
}

static void test_roundtrip_status(void **state)
{
    (void)state;
    struct cv_msg in = {.type = CV_MSG_STATUS}, out;
    in.u.status.state = CV_STATE_STREAMING;
    in.u.status.fps_x100 = 2500;
    in.u.status.frames = 1ull << 40;
    strcpy(in.u.status.codecs, "h264,aac");
    roundtrip(&in, &out);
    assert_int_equal(out.u.status.state, CV_STATE_STREAMING);
    assert_int_equal(out.u.status.fps_x100, 2500);
    assert_true(out.u.status.frames == 1ull << 40);
    assert_string_equal(out.u.status.codecs, "h264,aac");
}

static void test_roundtrip_catalogue(void **state)
{
    (void)state;
    static struct cv_msg in = {.type = CV_MSG_CATALOGUE}, out;
    in.u.catalogue.camera_count = CV_PROTO_MAX_CAMS; /* a full one fits a datagram */
    for (uint32_t i = 0; i < CV_PROTO_MAX_CAMS; i++) {
        struct cv_msg_camera_entry *e = &in.u.catalogue.cameras[i];
        snprintf(e->name, sizeof(e->name), "camera_%03u_with_a_long_name_for_the_size_test", i);
        e->state = CV_STATE_STREAMING;
        strcpy(e->codecs, "h265,pcm_alaw");
        e->restarts = i;
    }
    roundtrip(&in, &out);
    assert_int_equal(out.u.catalogue.camera_count, CV_PROTO_MAX_CAMS);
    assert_memory_equal(&in, &out, sizeof(in));
}

/*
 * One sample of every message type, each field set: every type must round-trip to the same bytes
 * of the struct, and its encoding must stay the golden bytes pinned below. A renamed struct field
 * or key, a reordered table or a changed type changes them: that is a new protocol version, and
 * the golden bytes are regenerated deliberately (print them with CV_PROTO_PRINT_GOLDEN=1).
 */
static void sample(uint32_t type, struct cv_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    switch (type) {
    case CV_MSG_HELLO: m->u.hello = (struct cv_msg_hello){2, 4242, "door"}; break;
    case CV_MSG_CAMERA:
        strcpy(m->u.camera.name, "door");
        strcpy(m->u.camera.url, "rtsp://u:p@cam/s1");
        m->u.camera.transport = 1;
        m->u.camera.ring_size = 6u << 20;
        m->u.camera.log_level = 1;
        break;
    case CV_MSG_CATALOGUE:
        m->u.catalogue.camera_count = 2;
        m->u.catalogue.cameras[0] = (struct cv_msg_camera_entry){"door", 2, "h264,aac", 1};
        m->u.catalogue.cameras[1] = (struct cv_msg_camera_entry){"yard", 1, "", 0};
        m->u.catalogue.log_level = 1;
        break;
    case CV_MSG_SUBSCRIBE: m->u.subscribe = (struct cv_msg_subscribe){7, "door", "native"}; break;
    case CV_MSG_SUBSCRIBED:
        m->u.subscribed = (struct cv_msg_subscribed){7, -95, "variant jpeg is not produced"};
        break;
    case CV_MSG_UNSUBSCRIBE: m->u.unsubscribe.sub_id = 7; break;
    case CV_MSG_DOORBELL_ADD:
        m->u.doorbell.id = 3;
        strcpy(m->u.doorbell.variant, "video");
        break;
    case CV_MSG_DOORBELL_DEL: m->u.doorbell.id = 3; break;
    case CV_MSG_STATUS:
        /* Field by field: a struct literal may leave its padding undefined. */
        m->u.status.state = 2;
        m->u.status.fps_x100 = 2500;
        m->u.status.bitrate = 4000000;
        m->u.status.frames = 1ull << 40;
        m->u.status.gop_ms = 2000;
        m->u.status.ring_span_ms = 4100;
        m->u.status.gop_bytes = 1048576;
        strcpy(m->u.status.codecs, "h264,aac");
        strcpy(m->u.status.error, "timeout");
        m->u.status.width = 1920;
        m->u.status.height = 1080;
        m->u.status.uptime_ms = 1ull << 35;
        m->u.status.bytes = 1ull << 41;
        break;
    case CV_MSG_SETTINGS:
        m->u.settings.count = 3;
        strcpy(m->u.settings.items[0].key, "username");
        strcpy(m->u.settings.items[0].value, "viewer");
        strcpy(m->u.settings.items[1].key, "max_connections");
        strcpy(m->u.settings.items[1].value, "512");
        strcpy(m->u.settings.items[2].key, "rtsp.listen");
        strcpy(m->u.settings.items[2].value, "[::]:8554");
        break;
    case CV_MSG_KEYFRAME: m->u.keyframe.sub_id = 7; break;
    case CV_MSG_RING: m->u.ring.size = 1u << 20; break;
    case CV_MSG_CAMERA_STATUS:
        strcpy(m->u.camera_status.camera, "door");
        m->u.camera_status.state = 3;
        m->u.camera_status.fps_x100 = 2500;
        m->u.camera_status.bitrate = 4000000;
        m->u.camera_status.restarts = 2;
        m->u.camera_status.frames = 1ull << 33;
        strcpy(m->u.camera_status.codecs, "h264");
        strcpy(m->u.camera_status.error, "connect: Connection refused");
        m->u.camera_status.width = 1280;
        m->u.camera_status.height = 720;
        m->u.camera_status.uptime_ms = 90000;
        m->u.camera_status.bytes = 1ull << 34;
        strcpy(m->u.camera_status.source, "rtsp://admin:***@10.0.0.5/main");
        break;
    case CV_MSG_STREAM_PUT:
        m->u.stream_put.req_id = 9;
        strcpy(m->u.stream_put.name, "camera.front_door");
        strcpy(m->u.stream_put.url, "rtsp://u:p@cam/s1");
        break;
    case CV_MSG_STREAM_DELETE:
        m->u.stream_delete.req_id = 10;
        strcpy(m->u.stream_delete.name, "door");
        break;
    case CV_MSG_STREAM_RESULT:
        m->u.stream_result.req_id = 9;
        m->u.stream_result.status = -17;
        strcpy(m->u.stream_result.reason, "door is defined in /etc/camvisor/cameras.d/x.ini");
        break;
    case CV_MSG_PEER: m->u.peer.role = CV_ROLE_WEBRTC; break;
    case CV_MSG_WEBRTC_OFFER:
        m->u.webrtc_offer.req_id = 11;
        strcpy(m->u.webrtc_offer.camera, "door");
        strcpy(m->u.webrtc_offer.kind, "whep");
        strcpy(m->u.webrtc_offer.client, "192.0.2.7");
        strcpy(m->u.webrtc_offer.sdp, "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n");
        m->u.webrtc_offer.flags = CV_WEBRTC_CLIENT_ANSWER;
        strcpy(m->u.webrtc_offer.session, "w0123abcd");
        break;
    case CV_MSG_WEBRTC_ANSWER:
        m->u.webrtc_answer.req_id = 11;
        m->u.webrtc_answer.status = -95;
        strcpy(m->u.webrtc_answer.reason, "browser offers no H.265");
        strcpy(m->u.webrtc_answer.session, "w0123abcd");
        strcpy(m->u.webrtc_answer.sdp, "v=0\r\n");
        m->u.webrtc_answer.flags = CV_WEBRTC_WANT_OFFER;
        break;
    case CV_MSG_WEBRTC_CANDIDATE:
        m->u.webrtc_candidate.req_id = 11;
        strcpy(m->u.webrtc_candidate.session, "w0123abcd");
        strcpy(m->u.webrtc_candidate.candidate,
               "candidate:1 1 udp 2130706431 192.0.2.7 50000 typ host");
        break;
    case CV_MSG_WEBRTC_STATS: {
        struct cv_msg_webrtc_stats *w = &m->u.webrtc_stats;
        w->total = 1;
        w->count = 1;
        strcpy(w->sessions[0].session, "w0123abcd");
        strcpy(w->sessions[0].camera, "door");
        strcpy(w->sessions[0].kind, "ws");
        strcpy(w->sessions[0].client, "192.0.2.7");
        w->sessions[0].state = 3;
        w->sessions[0].packets = 1ull << 33;
        w->sessions[0].bytes = 1ull << 40;
        w->sessions[0].lost = 12;
        w->sessions[0].jitter = 40;
        w->sessions[0].nacks = 3;
        w->sessions[0].retransmits = 2;
        w->sessions[0].keyframe_requests = 1;
        break;
    }
    case CV_MSG_WEBRTC_CLOSE:
        m->u.webrtc_close.req_id = 11;
        strcpy(m->u.webrtc_close.session, "w0123abcd");
        m->u.webrtc_close.with_signalling = 1;
        break;
    case CV_MSG_VARIANT_START:
    case CV_MSG_VARIANT_STOP: strcpy(m->u.variant.variant, "video"); break;
    default: fail_msg("message type %u has no sample: add one (and its golden bytes)", type);
    }
}

static const char *const golden[CV_MSG_TYPE_COUNT] = {
#include "golden-msg.inc"
};

static void hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_every_type_roundtrips_to_golden_bytes(void **state)
{
    (void)state;
    static struct cv_msg in, out;
    static uint8_t buf[CV_PROTO_MAX_MSG];
    static char text[2 * CV_PROTO_MAX_MSG + 1];
    bool print = getenv("CV_PROTO_PRINT_GOLDEN") != NULL;
    for (uint32_t t = CV_MSG_NONE + 1; t < CV_MSG_TYPE_COUNT; t++) {
        sample(t, &in);
        int n = cv_msg_encode(&in, buf, sizeof(buf));
        assert_true(n > 0);
        assert_int_equal(cv_msg_decode(buf, (size_t)n, &out), 0);
        assert_memory_equal(&in, &out, sizeof(in));
        hex(buf, (size_t)n, text);
        if (print) {
            printf("    [%u] = /* %s */ \"%s\",\n", t, cv_msg_type_name(t), text);
            continue;
        }
        if (!golden[t] || strcmp(golden[t], text) != 0)
            fail_msg("%s: wire bytes changed:\n got %s\nwant %s", cv_msg_type_name(t), text,
                     golden[t] ? golden[t] : "(none pinned)");
    }
}

static void test_roundtrip_subscribed_negative(void **state)
{
    (void)state;
    struct cv_msg in = {.type = CV_MSG_SUBSCRIBED}, out;
    in.u.subscribed.sub_id = 7;
    in.u.subscribed.status = -ENOENT;
    strcpy(in.u.subscribed.reason, "no such camera");
    roundtrip(&in, &out);
    assert_int_equal(out.u.subscribed.status, -ENOENT);
    assert_string_equal(out.u.subscribed.reason, "no such camera");
}

/* Builds a message by hand so the test can produce what our encoder never would. */
static size_t pack_custom(uint8_t *buf, size_t cap, int version, const char *type, int extra)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, extra == 3 ? 4 : 3);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "v", 1);
    msgpack_pack_int(&pk, version);
    msgpack_pack_str(&pk, 1);
    msgpack_pack_str_body(&pk, "t", 1);
    msgpack_pack_str(&pk, strlen(type));
    msgpack_pack_str_body(&pk, type, strlen(type));
    msgpack_pack_str(&pk, 6);
    msgpack_pack_str_body(&pk, "sub_id", 6);
    if (extra == 1)
        msgpack_pack_str(&pk, 1), msgpack_pack_str_body(&pk, "x", 1); /* wrong type */
    else if (extra == 2)
        msgpack_pack_int(&pk, -1); /* negative where unsigned expected */
    else
        msgpack_pack_uint32(&pk, 5);
    if (extra == 3) { /* the same key twice */
        msgpack_pack_str(&pk, 6);
        msgpack_pack_str_body(&pk, "sub_id", 6);
        msgpack_pack_uint32(&pk, 6);
    }
    assert_true(sb.size <= cap);
    memcpy(buf, sb.data, sb.size);
    size_t n = sb.size;
    msgpack_sbuffer_destroy(&sb);
    return n;
}

static void test_decode_rejects(void **state)
{
    (void)state;
    uint8_t buf[256];
    struct cv_msg m;
    size_t n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "unsubscribe", 0);
    assert_int_equal(cv_msg_decode(buf, n, &m), 0);
    assert_int_equal(m.u.unsubscribe.sub_id, 5);

    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION + 1, "unsubscribe", 0);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "format_disk", 0);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "unsubscribe", 1);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "unsubscribe", 2);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "unsubscribe", 3);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    /* missing required field */
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "subscribe", 0);
    assert_int_equal(cv_msg_decode(buf, n, &m), -EBADMSG);
    /* trailing garbage and truncation */
    n = pack_custom(buf, sizeof(buf), CV_PROTO_VERSION, "unsubscribe", 0);
    buf[n] = 0xc0;
    assert_int_equal(cv_msg_decode(buf, n + 1, &m), -EBADMSG);
    assert_int_equal(cv_msg_decode(buf, n - 1, &m), -EBADMSG);
    assert_int_equal(cv_msg_decode(buf, 0, &m), -EBADMSG);
}

/* Sizes a message declares but does not carry are refused before msgpack allocates for them. */
static void test_declared_sizes_bounded(void **state)
{
    (void)state;
    struct cv_msg m;
    const uint8_t huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01};
    const uint8_t huge_array[] = {0x81, 0xa1, 't', 0xdd, 0x10, 0x00, 0x00, 0x00, 0x00};
    const uint8_t huge_str[] = {0x81, 0xa1, 't', 0xdb, 0x7f, 0x00, 0x00, 0x00, 'x'};
    const uint8_t reserved[] = {0x81, 0xa1, 't', 0xc1};
    assert_int_equal(cv_msg_decode(huge_map, sizeof(huge_map), &m), -EBADMSG);
    assert_int_equal(cv_msg_decode(huge_array, sizeof(huge_array), &m), -EBADMSG);
    assert_int_equal(cv_msg_decode(huge_str, sizeof(huge_str), &m), -EBADMSG);
    assert_int_equal(cv_msg_decode(reserved, sizeof(reserved), &m), -EBADMSG);
}

static void test_string_too_long(void **state)
{
    (void)state;
    struct cv_msg in = {.type = CV_MSG_SUBSCRIBE}, out;
    in.u.subscribe.sub_id = 1;
    memset(in.u.subscribe.camera, 'a', sizeof(in.u.subscribe.camera));
    /* Encoder stops at the buffer; decoder refuses a string that would not fit with its NUL. */
    uint8_t buf[512];
    int n = cv_msg_encode(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(cv_msg_decode(buf, (size_t)n, &out), -EBADMSG);
}

static void test_chan_fds(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(cv_chan_pair(sv), 0);
    int efd = eventfd(0, EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct cv_msg m = {.type = CV_MSG_DOORBELL_ADD};
    m.u.doorbell.id = 42;
    assert_int_equal(cv_chan_send(sv[0], &m, &efd, 1), 0);

    struct cv_msg r;
    int fds[CV_PROTO_MAX_FDS], nfds = -1;
    assert_int_equal(cv_chan_recv(sv[1], &r, fds, &nfds), 0);
    assert_int_equal(r.type, CV_MSG_DOORBELL_ADD);
    assert_int_equal(r.u.doorbell.id, 42);
    assert_int_equal(nfds, 1);
    /* The received descriptor is the same eventfd: a write on one is read on the other. */
    uint64_t one = 1, got = 0;
    assert_int_equal(write(efd, &one, 8), 8);
    assert_int_equal(read(fds[0], &got, 8), 8);
    assert_true(got == 1);
    close(fds[0]);
    close(efd);

    assert_int_equal(cv_chan_recv(sv[1], &r, fds, &nfds), -EAGAIN);
    close(sv[0]);
    assert_int_equal(cv_chan_recv(sv[1], &r, fds, &nfds), -EPIPE);
    close(sv[1]);
}

/*
 * A receiver at its descriptor limit: the kernel drops the descriptor (MSG_CTRUNC). The message
 * itself still arrives, flagged, with no descriptor: a consumer must be able to tell "a ring
 * granted, but lost" (it subscribes again) from a refusal. Before, it was "malformed" and
 * dropped, and a feed waited for a ring that never came.
 */
static void test_chan_fds_lost(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(cv_chan_pair(sv), 0);
    int efd = eventfd(0, EFD_CLOEXEC);
    assert_true(efd >= 0);
    struct cv_msg m = {.type = CV_MSG_SUBSCRIBED};
    m.u.subscribed.sub_id = 7;
    assert_int_equal(cv_chan_send(sv[0], &m, &efd, 1), 0);
    close(efd);

    struct rlimit was;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
    int lowest = dup(0); /* the lowest free descriptor: a limit there leaves none free */
    assert_true(lowest >= 0);
    close(lowest);
    struct rlimit full = {.rlim_cur = (rlim_t)lowest, .rlim_max = was.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &full), 0);
    struct cv_msg r;
    int fds[CV_PROTO_MAX_FDS], nfds = -1;
    int rc = cv_chan_recv(sv[1], &r, fds, &nfds);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
    assert_int_equal(rc, CV_CHAN_FDS_LOST);
    assert_int_equal(nfds, 0);
    assert_int_equal(r.type, CV_MSG_SUBSCRIBED);
    assert_int_equal(r.u.subscribed.sub_id, 7);
    assert_int_equal(r.u.subscribed.status, 0);
    close(sv[0]);
    close(sv[1]);
}

/* A slow reader: what the socket will not take waits, in order, with its descriptors; a full
 * queue says so instead of dropping anything. */
static void test_chan_out_queue(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(cv_chan_pair(sv), 0);
    static struct cv_chan_out out;
    memset(&out, 0, sizeof(out));
    int efd = eventfd(0, EFD_CLOEXEC);
    struct cv_msg m = {.type = CV_MSG_DOORBELL_ADD};
    uint32_t sent = 0, queued = 0;
    int rc;
    for (;;) { /* until the kernel's buffer is full and ours too */
        m.u.doorbell.id = ++sent;
        rc = cv_chan_out_send(&out, sv[0], &m, &efd, 1);
        if (rc == -ENOBUFS)
            break;
        assert_true(rc == 0 || rc == 1);
        queued += rc == 1;
        assert_true(sent < 100000);
    }
    sent--; /* the refused one */
    assert_int_equal(queued, CV_CHAN_QUEUE);
    close(efd); /* the queued ones hold their own duplicates */
    uint32_t got = 0;
    struct cv_msg r;
    int fds[CV_PROTO_MAX_FDS], nfds;
    for (;;) {
        rc = cv_chan_recv(sv[1], &r, fds, &nfds);
        if (rc == -EAGAIN) { /* the reader caught up: what waited goes now */
            if (out.count == 0)
                break;
            int f = cv_chan_out_flush(&out, sv[0]);
            assert_true(f == 0 || f == 1);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(r.u.doorbell.id, ++got); /* in order, none lost */
        assert_int_equal(nfds, 1);
        uint64_t one = 1;
        assert_int_equal(write(fds[0], &one, 8), 8); /* a live descriptor */
        close(fds[0]);
    }
    assert_int_equal(got, sent);
    cv_chan_out_clear(&out);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_status),
        cmocka_unit_test(test_roundtrip_catalogue),
        cmocka_unit_test(test_every_type_roundtrips_to_golden_bytes),
        cmocka_unit_test(test_roundtrip_subscribed_negative),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_declared_sizes_bounded),
        cmocka_unit_test(test_string_too_long),
        cmocka_unit_test(test_chan_fds),
        cmocka_unit_test(test_chan_fds_lost),
        cmocka_unit_test(test_chan_out_queue),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
