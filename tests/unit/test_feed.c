/*
 * The consumer API's feed (common/consumer/feed.c) against a real ring, with a socketpair standing
 * in for the supervisor: subscribe, parameters before frames, frames once per doorbell, a writer
 * restart as a discontinuity, the catch-up replay from the newest keyframe on a cloned cursor (no
 * second mapping), a refused subscription, the per-feed viewer list, a ring whose descriptor was
 * lost, and the descriptor limit.
 */
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/consumer/feed.h"
#include "proto/chan.h"

struct seen {
    int subscribed, status, params, restarts, lost, replaced, frames;
    uint64_t last_seq;
    uint32_t params_tracks;
    int order_ok; /* parameters arrived before the first frame */
};

static void on_subscribed(struct cv_feed *f, int status, const char *reason)
{
    (void)reason;
    struct seen *s = cv_feed_ctx(f);
    s->subscribed++;
    s->status = status;
}

static void on_params(struct cv_feed *f, const struct cv_stream_info *prev,
                      const struct cv_stream_info *info)
{
    (void)prev;
    struct seen *s = cv_feed_ctx(f);
    s->params++;
    s->params_tracks = info->track_count;
}

static void on_discont(struct cv_feed *f, enum cv_feed_discont why)
{
    struct seen *s = cv_feed_ctx(f);
    if (why == CV_FEED_WRITER_RESTART)
        s->restarts++;
    else if (why == CV_FEED_RING_REPLACED)
        s->replaced++;
    else
        s->lost++;
}

static void on_frame(struct cv_feed *f, const struct cv_frame *fr, const uint8_t *data)
{
    struct seen *s = cv_feed_ctx(f);
    if (s->frames == 0)
        s->order_ok = s->params > 0;
    s->frames++;
    s->last_seq = fr->seq;
    assert_int_equal(data[0], (uint8_t)fr->pts); /* the payload is the frame's own */
}

static const struct cv_feed_ops ops = {on_subscribed, on_params, on_discont, on_frame};

struct rig {
    struct event_base *base;
    int sup, child; /* socketpair ends: the supervisor's and ours */
    int ring_rw;
    struct cv_ring_writer *w;
    int bell; /* the doorbell the feed sent in SUBSCRIBE */
    struct cv_feed_set set;
    struct seen seen;
    struct cv_feed *feed;
    uint32_t sub_id;
};

static void publish(struct rig *r, int64_t pts, uint32_t flags)
{
    uint8_t data[64];
    memset(data, (uint8_t)pts, sizeof(data));
    struct cv_frame fr = {
        .flags = flags, .track = 0, .pts = pts, .dts = pts, .arrival_ns = 1000 + (uint64_t)pts};
    assert_int_equal(cv_ring_write(r->w, &fr, data, sizeof(data)), 0);
    uint64_t one = 1;
    assert_int_equal(write(r->bell, &one, sizeof(one)), sizeof(one));
}

static void spin(struct rig *r)
{
    event_base_loop(r->base, EVLOOP_NONBLOCK);
}

static void set_info(struct rig *r, uint16_t width)
{
    struct cv_stream_info info = {.track_count = 1};
    info.tracks[0] = (struct cv_track_info){.kind = CV_TRACK_VIDEO,
                                            .codec = CV_CODEC_H264,
                                            .clock_rate = 90000,
                                            .width = width,
                                            .extradata_len = 4,
                                            .extradata = {0, 0, 0, 1}};
    assert_int_equal(cv_ring_writer_set_info(r->w, &info), 0);
}

/* Opens a feed and plays the supervisor's part: takes the SUBSCRIBE, answers with the ring. */
static void subscribe(struct rig *r, bool grant)
{
    r->feed = cv_feed_open(&r->set, "door", CV_VARIANT_NATIVE, &ops, &r->seen);
    assert_non_null(r->feed);
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds = 0;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), 0);
    assert_int_equal(m.type, CV_MSG_SUBSCRIBE);
    assert_string_equal(m.u.subscribe.camera, "door");
    assert_string_equal(m.u.subscribe.variant, "native");
    assert_int_equal(nfds, 1);
    r->bell = fds[0];
    r->sub_id = m.u.subscribe.sub_id;
    struct cv_msg_subscribed ans = {.sub_id = r->sub_id, .status = grant ? 0 : -ENOENT};
    if (!grant)
        snprintf(ans.reason, sizeof(ans.reason), "no such camera");
    int ro = grant ? cv_ring_reopen_readonly(r->ring_rw) : -1;
    if (cv_feed_set_on_subscribed(&r->set, &ans, ro) == 0 && ro >= 0)
        close(ro);
}

static int setup(void **state)
{
    static struct rig rig;
    struct rig *r = &rig;
    memset(r, 0, sizeof(*r));
    r->base = event_base_new();
    int sv[2];
    assert_int_equal(cv_chan_pair(sv), 0);
    r->sup = sv[0];
    r->child = sv[1];
    assert_int_equal(cv_ring_create("door", 256 << 10, 64, &r->ring_rw), 0);
    assert_int_equal(cv_ring_writer_open(r->ring_rw, &r->w), 0);
    cv_feed_set_init(&r->set, r->base, r->child);
    r->bell = -1;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    struct rig *r = *state;
    if (r->feed)
        cv_feed_close(r->feed);
    cv_ring_writer_close(r->w);
    close(r->ring_rw);
    if (r->bell >= 0)
        close(r->bell);
    close(r->sup);
    close(r->child);
    event_base_free(r->base);
    return 0;
}

/* Mappings of this process whose name is the ring's memfd. */
static int ring_mappings(void)
{
    FILE *fp = fopen("/proc/self/maps", "r");
    char line[512];
    int n = 0;
    while (fp && fgets(line, sizeof(line), fp))
        n += strstr(line, "memfd:door") != NULL;
    if (fp)
        fclose(fp);
    return n;
}

static void test_frames_after_params_and_restart(void **state)
{
    struct rig *r = *state;
    set_info(r, 640);
    subscribe(r, true);
    assert_int_equal(r->seen.subscribed, 1);
    assert_int_equal(r->seen.status, 0);
    assert_int_equal(r->seen.params, 1);
    assert_true(cv_feed_ready(r->feed));
    assert_int_equal(cv_feed_info(r->feed)->tracks[0].width, 640);

    publish(r, 1, CV_FRAME_KEY);
    publish(r, 2, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 2);
    assert_true(r->seen.order_ok);

    /* New parameters: delivered before the next frame, once. */
    set_info(r, 320);
    publish(r, 3, 0);
    spin(r);
    assert_int_equal(r->seen.params, 2);
    assert_int_equal(r->seen.frames, 3);
    assert_int_equal(cv_feed_info(r->feed)->tracks[0].width, 320);

    /* A new writer on the same ring (a worker restart): a discontinuity, then its keyframe. */
    cv_ring_writer_close(r->w);
    assert_int_equal(cv_ring_writer_open(r->ring_rw, &r->w), 0);
    publish(r, 4, 0); /* not a keyframe: a restarted stream starts at its first keyframe */
    publish(r, 5, CV_FRAME_KEY);
    spin(r);
    assert_int_equal(r->seen.restarts, 1);
    assert_int_equal(r->seen.lost, 0);
    assert_int_equal(r->seen.frames, 4);
}

static void count_frame(void *arg, const struct cv_frame *fr, const uint8_t *data)
{
    int *pts = arg;
    assert_int_equal(data[0], (uint8_t)fr->pts);
    pts[++pts[0]] = (int)fr->pts;
}

static void test_replay_from_newest_keyframe_without_a_second_mapping(void **state)
{
    struct rig *r = *state;
    set_info(r, 640);
    subscribe(r, true);
    publish(r, 10, CV_FRAME_KEY);
    spin(r); /* the live cursor follows from here on */
    publish(r, 11, 0);
    publish(r, 12, CV_FRAME_KEY);
    publish(r, 13, 0);
    publish(r, 14, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 5);
    int maps = ring_mappings();
    int pts[16] = {0};
    assert_int_equal(cv_feed_replay_frames(r->feed, count_frame, pts), 3);
    assert_int_equal(pts[0], 3);
    assert_int_equal(pts[1], 12);
    assert_int_equal(pts[3], 14);
    assert_int_equal(ring_mappings(), maps);
    /* The live cursor did not move: the next frame is still delivered once. */
    publish(r, 15, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 6);
}

/*
 * The ring hand-over: a second SUBSCRIBED for the same sub_id moves the feed onto a new ring.
 * What the new ring holds that was delivered already (same arrival time) is skipped; what is new
 * is delivered; the consumer hears of it once.
 */
static void test_ring_handover(void **state)
{
    struct rig *r = *state;
    set_info(r, 640);
    subscribe(r, true);
    publish(r, 20, CV_FRAME_KEY);
    spin(r);
    publish(r, 21, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 2);

    /* A new ring holding a copy of the frames since the keyframe, then one more. */
    int fd2;
    struct cv_ring_writer *w2;
    assert_int_equal(cv_ring_create("door", 256 << 10, 64, &fd2), 0);
    assert_int_equal(cv_ring_writer_open(fd2, &w2), 0);
    struct cv_ring_writer *w1 = r->w;
    r->w = w2;
    set_info(r, 640);
    publish(r, 20, CV_FRAME_KEY);
    publish(r, 21, 0);
    struct cv_msg_subscribed again = {.sub_id = r->sub_id, .status = 0};
    int ro = cv_ring_reopen_readonly(fd2);
    assert_int_equal(cv_feed_set_on_subscribed(&r->set, &again, ro), 1);
    assert_int_equal(r->seen.frames, 2); /* the copies were not delivered again */
    publish(r, 22, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 3);
    assert_int_equal(r->seen.replaced, 1);
    cv_ring_writer_close(w1);
    close(r->ring_rw);
    r->ring_rw = fd2;
}

static void test_refused_subscription(void **state)
{
    struct rig *r = *state;
    subscribe(r, false);
    const char *why;
    assert_int_equal(r->seen.subscribed, 1);
    assert_int_equal(cv_feed_status(r->feed, &why), -ENOENT);
    assert_string_equal(why, "no such camera");
    assert_false(cv_feed_ready(r->feed));
    int pts[4] = {0};
    assert_int_equal(cv_feed_replay_frames(r->feed, count_frame, pts), -ENOTCONN);
    /* Closing a refused feed sends no UNSUBSCRIBE. */
    cv_feed_close(r->feed);
    r->feed = NULL;
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), -EAGAIN);
}

/* Takes the next message the feed sent the "supervisor": its type, sub_id, and doorbell (closed
 * here) when it carries one. */
static uint32_t take(struct rig *r, enum cv_msg_type type)
{
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds = 0;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), 0);
    assert_int_equal(m.type, type);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    return type == CV_MSG_SUBSCRIBE ? m.u.subscribe.sub_id : m.u.unsubscribe.sub_id;
}

/*
 * A ring hand-over whose descriptor the kernel dropped (this process at its descriptor limit):
 * the feed subscribes again (a new sub_id, then UNSUBSCRIBE of the old one), takes the answer as
 * the hand-over, and its viewers go on. On 62e75e2 such a message was "malformed", ignored: the
 * feed stayed on the old ring, which its worker no longer wrote, for good.
 */
static void test_lost_ring_subscribes_again(void **state)
{
    struct rig *r = *state;
    r->set.retry_ms = 1;
    set_info(r, 640);
    subscribe(r, true);
    publish(r, 30, CV_FRAME_KEY);
    spin(r);
    assert_int_equal(r->seen.frames, 1);

    struct cv_msg_subscribed lost = {.sub_id = r->sub_id, .status = 0};
    assert_int_equal(cv_feed_set_on_subscribed(&r->set, &lost, -1), 0);
    assert_int_equal(cv_feed_status(r->feed, NULL), 0); /* still following, not refused */
    event_base_loop(r->base, EVLOOP_ONCE);              /* the retry's timer */
    uint32_t again = take(r, CV_MSG_SUBSCRIBE);
    assert_int_not_equal(again, r->sub_id);
    assert_int_equal(take(r, CV_MSG_UNSUBSCRIBE), r->sub_id);

    /* The answer to the old id is ignored; the new one's is the hand-over. */
    int fd2;
    struct cv_ring_writer *w2;
    assert_int_equal(cv_ring_create("door", 256 << 10, 64, &fd2), 0);
    assert_int_equal(cv_ring_writer_open(fd2, &w2), 0);
    cv_ring_writer_close(r->w);
    r->w = w2;
    set_info(r, 640);
    publish(r, 30, CV_FRAME_KEY);
    publish(r, 31, 0);
    int ro = cv_ring_reopen_readonly(fd2);
    struct cv_msg_subscribed stale = {.sub_id = r->sub_id, .status = 0};
    assert_int_equal(cv_feed_set_on_subscribed(&r->set, &stale, ro), 0);
    struct cv_msg_subscribed ok = {.sub_id = again, .status = 0};
    assert_int_equal(cv_feed_set_on_subscribed(&r->set, &ok, ro), 1);
    assert_int_equal(r->seen.replaced, 1);
    assert_int_equal(r->seen.frames, 2); /* 31 is new; 30 was delivered from the old ring */
    publish(r, 32, 0);
    spin(r);
    assert_int_equal(r->seen.frames, 3);
    assert_int_equal(r->seen.subscribed, 1); /* the consumer heard of no failure */
    close(r->ring_rw);
    r->ring_rw = fd2;
    r->sub_id = again;
}

/* Rings lost again and again: the feed gives up, tells its consumer (whose viewers are closed,
 * not left frozen) and says UNSUBSCRIBE for what the supervisor holds. */
static void test_lost_ring_gives_up(void **state)
{
    struct rig *r = *state;
    r->set.retry_ms = 1;
    subscribe(r, true);
    uint32_t id = r->sub_id;
    for (int i = 0; i < CV_FEED_RETRIES; i++) {
        struct cv_msg_subscribed lost = {.sub_id = id, .status = 0};
        assert_int_equal(cv_feed_set_on_subscribed(&r->set, &lost, -1), 0);
        event_base_loop(r->base, EVLOOP_ONCE);
        uint32_t next = take(r, CV_MSG_SUBSCRIBE);
        assert_int_equal(take(r, CV_MSG_UNSUBSCRIBE), id);
        id = next;
    }
    struct cv_msg_subscribed lost = {.sub_id = id, .status = 0};
    assert_int_equal(cv_feed_set_on_subscribed(&r->set, &lost, -1), 0);
    const char *why;
    assert_int_equal(cv_feed_status(r->feed, &why), -EMFILE);
    assert_non_null(strstr(why, "descriptors"));
    assert_int_equal(r->seen.subscribed, 2);
    assert_int_equal(r->seen.status, -EMFILE);
    assert_int_equal(take(r, CV_MSG_UNSUBSCRIBE), id);
    cv_feed_close(r->feed); /* refused now: nothing more to say */
    r->feed = NULL;
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), -EAGAIN);
}

/* A feed whose descriptors do not fit under the limit is refused before it is asked for. */
static void test_feed_refused_past_the_descriptor_limit(void **state)
{
    struct rig *r = *state;
    uint32_t clients = 0;
    cv_feed_set_limit(&r->set, &clients);
    assert_true(r->set.fd_limit > 0);
    r->set.fd_limit = r->set.fd_fixed + 10 + CV_FEED_FDS; /* 10 clients and one feed */
    clients = 10;
    assert_true(cv_feed_set_room(&r->set, 0, 1));
    assert_false(cv_feed_set_room(&r->set, 1, 1));
    subscribe(r, true);
    assert_false(cv_feed_set_room(&r->set, 0, 1));
    errno = 0;
    assert_null(cv_feed_open(&r->set, "door", "jpeg", &ops, &r->seen));
    assert_int_equal(errno, EMFILE);
    clients = 7; /* three clients gone: room for one more feed */
    assert_true(cv_feed_set_room(&r->set, 0, 1));
    r->set.fd_limit = 0;
}

static void test_viewers_per_feed(void **state)
{
    struct rig *r = *state;
    subscribe(r, true);
    struct cv_feed_viewer a = {0}, b = {0}, c = {0};
    cv_feed_viewer_attach(r->feed, &a);
    cv_feed_viewer_attach(r->feed, &b);
    cv_feed_viewer_attach(r->feed, &c);
    cv_feed_viewer_detach(&b);
    cv_feed_viewer_detach(&b); /* twice is harmless */
    int n = 0;
    for (struct cv_feed_viewer *v = cv_feed_viewers(r->feed); v; v = v->next) {
        assert_ptr_not_equal(v, &b);
        assert_ptr_equal(v->feed, r->feed);
        n++;
    }
    assert_int_equal(n, 2);
    /* Closing the feed detaches whoever is left, and says UNSUBSCRIBE with its id. */
    cv_feed_close(r->feed);
    r->feed = NULL;
    assert_null(a.feed);
    assert_null(c.feed);
    struct cv_msg m;
    int fds[CV_PROTO_MAX_FDS], nfds;
    assert_int_equal(cv_chan_recv(r->sup, &m, fds, &nfds), 0);
    assert_int_equal(m.type, CV_MSG_UNSUBSCRIBE);
    assert_int_equal(m.u.unsubscribe.sub_id, r->sub_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_frames_after_params_and_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_from_newest_keyframe_without_a_second_mapping,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ring_handover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_subscription, setup, teardown),
        cmocka_unit_test_setup_teardown(test_viewers_per_feed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_ring_subscribes_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_ring_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feed_refused_past_the_descriptor_limit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
