/*
 * A feed is this process's subscription to one camera: the supervisor hands us the camera's ring
 * (read-only) for a doorbell eventfd that the camera's worker rings after each frame. On each
 * ring we read every new frame once, packetise it once, and hand the same packets to every
 * session playing the camera.
 */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/net/sdp.h"
#include "consumers/rtsp/rtsp.h"
#include "proto/chan.h"

/* Loads new codec parameters and (re)initialises the packetisers of tracks that changed. */
static void cv_feed_load_info(struct cv_rtsp_feed *f)
{
    /* Called on every doorbell: the 5 KiB copy only when the parameters changed. */
    if (f->info_seq > 0 && cv_ring_reader_info_seq(f->reader) == (uint64_t)f->info_seq)
        return;
    struct cv_stream_info info;
    int64_t seq = cv_ring_reader_info(f->reader, &info);
    if (seq <= 0 || seq == f->info_seq)
        return;
    for (uint32_t i = 0; i < info.track_count; i++) {
        const struct cv_track_info *t = &info.tracks[i];
        bool same = i < f->info.track_count && f->info.tracks[i].codec == t->codec &&
                    f->info.tracks[i].clock_rate == t->clock_rate;
        if (!same && cv_rtp_packer_init(&f->packers[i], (enum cv_codec)t->codec,
                                        cv_sdp_payload_type(t), 0, 0) < 0)
            cv_warn("camera %s: track %u: no RTP packetiser for %s", f->camera, i,
                    cv_codec_name((enum cv_codec)t->codec));
    }
    f->info = info;
    f->info_seq = seq;
}

bool cv_rtsp_feed_ready(struct cv_rtsp_feed *f)
{
    if (!f->reader)
        return false;
    cv_feed_load_info(f);
    /* Describable once every video track has its parameter sets (audio needs none here). */
    for (uint32_t i = 0; i < f->info.track_count; i++) {
        const struct cv_track_info *t = &f->info.tracks[i];
        if (t->kind == CV_TRACK_VIDEO && t->extradata_len == 0)
            return false;
    }
    return f->info.track_count > 0;
}

/* Packetises the frame in f->frame with packer p; returns the packet count (0 on error). */
static size_t cv_feed_packetize(struct cv_rtsp_feed *f, struct cv_rtp_packer *p,
                                const struct cv_frame *fr)
{
    struct cv_rtp_out out = {.arena = f->arena,
                             .arena_size = CV_RTSP_ARENA,
                             .pkts = f->pkts,
                             .max_pkts = CV_RTSP_MAX_PKTS};
    int rc = cv_rtp_packetize(p, f->frame, fr->len, fr->pts, 0, &out);
    if (rc < 0) {
        cv_warn("camera %s: cannot packetise a %u-byte frame: %s", f->camera, fr->len,
                strerror(-rc));
        return 0;
    }
    return out.count;
}

static void cv_feed_fan_out(struct cv_rtsp_feed *f)
{
    struct cv_frame fr;
    for (;;) {
        int rc = cv_ring_read(f->reader, &fr, f->frame, CV_RING_MAX_FRAME);
        if (rc == CV_RING_EMPTY)
            break;
        if (rc < 0)
            continue; /* skipped (counted by the reader); the next read resyncs */
        f->next_seq = fr.seq + 1;
        if (fr.flags & CV_FRAME_DISCONT)
            cv_feed_load_info(f); /* a restarted worker may have new parameters */
        uint64_t gen = cv_ring_reader_generation(f->reader);
        if (gen != f->generation) {
            /* A restarted worker starts its clock again: rebase each track when it resumes. */
            if (f->generation)
                memset(f->rebase, 1, sizeof(f->rebase));
            f->generation = gen;
        }
        if (fr.track >= f->info.track_count)
            continue;
        if (f->rebase[fr.track]) {
            /*
             * Keep the sessions' RTP timestamps going forward across the restart (20 ms after
             * the last one sent): clients see a gap in time, not a jump back, and stay on their
             * RTP session.
             */
            struct cv_rtp_packer *p = &f->packers[fr.track];
            int64_t step = f->info.tracks[fr.track].clock_rate / 50;
            p->ts_offset = (uint32_t)(p->ts_offset + f->last_pts[fr.track] + step - fr.pts);
            f->rebase[fr.track] = false;
        }
        f->last_pts[fr.track] = fr.pts;
        f->last_arrival_ns[fr.track] = fr.arrival_ns;
        size_t count = cv_feed_packetize(f, &f->packers[fr.track], &fr);
        if (count == 0)
            continue;
        bool key = (fr.flags & CV_FRAME_KEY) != 0;
        for (struct cv_rtsp_conn *c = f->srv->conns, *next; c; c = next) {
            next = c->next;
            if (c->feed != f || c->state != CV_CONN_PLAYING)
                continue;
            if (c->need_key && !(key && f->info.tracks[fr.track].kind == CV_TRACK_VIDEO))
                continue;
            c->need_key = false;
            cv_rtsp_conn_send_rtp(c, (int)fr.track, f->arena, f->pkts, count);
        }
    }
}

/*
 * The doorbell is edge-triggered and never read: every write to an eventfd wakes an EPOLLET
 * waiter again, whatever its counter holds, so the read() would only cost a syscall per frame.
 * (The counter would need 2^64 frames to saturate.)
 */
static void cv_feed_bell_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_rtsp_feed *f = arg;
    if (!f->reader)
        return;
    cv_feed_load_info(f);
    /* A DESCRIBE may be waiting for the first parameters. */
    for (struct cv_rtsp_conn *c = f->srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->feed == f && c->describe_pending)
            cv_rtsp_conn_feed_ready(c);
    }
    cv_feed_fan_out(f);
}

/*
 * Replays the frames from the newest keyframe up to the live position with copies of the live
 * packetisers whose sequence numbers start at plan->seq0; sends them to c when c is not NULL,
 * else only counts them into plan (packets per track, first pts per track).
 */
static void cv_feed_replay(struct cv_rtsp_feed *f, struct cv_rtsp_catchup *plan,
                           struct cv_rtsp_conn *c)
{
    struct cv_ring_reader *r = NULL;
    if (cv_ring_reader_open(f->ring_fd, &r) < 0)
        return;
    struct cv_rtp_packer packers[CV_MAX_TRACKS];
    memcpy(packers, f->packers, sizeof(packers));
    bool seen[CV_MAX_TRACKS] = {false};
    for (uint32_t i = 0; i < f->info.track_count; i++) {
        packers[i].seq = plan->seq0[i];
        plan->packets[i] = 0;
    }
    plan->frames = 0;
    struct cv_frame fr;
    while (cv_ring_read(r, &fr, f->frame, CV_RING_MAX_FRAME) == CV_RING_OK &&
           fr.seq < f->next_seq && !(c && c->dead)) {
        if (fr.track >= f->info.track_count)
            continue;
        size_t n = cv_feed_packetize(f, &packers[fr.track], &fr);
        if (n == 0)
            continue;
        if (!seen[fr.track])
            plan->ts0[fr.track] = (uint32_t)(fr.pts + packers[fr.track].ts_offset);
        seen[fr.track] = true;
        plan->packets[fr.track] += n;
        if (c)
            cv_rtsp_conn_send_rtp(c, (int)fr.track, f->arena, f->pkts, n);
        plan->frames++;
    }
    cv_ring_reader_close(r);
}

/*
 * A new session gets the frames since the newest keyframe at once, so it starts decoding now and
 * reaches the live edge immediately. Those packets are numbered just before the live ones, so the
 * client sees one gapless sequence (which the PLAY reply's RTP-Info announces) and the other
 * sessions' numbering is untouched. Two passes: plan (count) before the PLAY reply, send after.
 */
void cv_rtsp_feed_catch_up_plan(struct cv_rtsp_feed *f, struct cv_rtsp_catchup *plan)
{
    cv_feed_fan_out(f); /* bring the live reader to the head first */
    memset(plan, 0, sizeof(*plan));
    cv_feed_replay(f, plan, NULL);
    for (uint32_t i = 0; i < f->info.track_count; i++) {
        plan->seq0[i] = (uint16_t)(f->packers[i].seq - plan->packets[i]);
        if (plan->packets[i] == 0)
            plan->ts0[i] = (uint32_t)(f->last_pts[i] + f->packers[i].ts_offset);
    }
}

void cv_rtsp_feed_catch_up_send(struct cv_rtsp_feed *f, struct cv_rtsp_conn *c,
                                struct cv_rtsp_catchup *plan)
{
    cv_feed_replay(f, plan, c);
    c->need_key = plan->frames == 0; /* nothing cached (no keyframe yet): start at the next */
    cv_dbg("%s: caught up with %zu cached frames", c->peer, plan->frames);
}

static void cv_feed_free(struct cv_rtsp_feed *f)
{
    struct cv_rtsp_srv *srv = f->srv;
    for (struct cv_rtsp_feed **pp = &srv->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->subscribed || f->sub_status == 0) {
        struct cv_msg m = {.type = CV_MSG_UNSUBSCRIBE};
        m.u.unsubscribe.sub_id = f->sub_id;
        cv_chan_send(srv->ctl, &m, NULL, 0);
    }
    if (f->bell_ev)
        event_free(f->bell_ev);
    if (f->efd >= 0)
        close(f->efd);
    if (f->reader)
        cv_ring_reader_close(f->reader);
    if (f->ring_fd >= 0)
        close(f->ring_fd);
    free(f->frame);
    free(f->arena);
    free(f->pkts);
    free(f);
}

struct cv_rtsp_feed *cv_rtsp_feed_get(struct cv_rtsp_srv *srv, const char *camera)
{
    for (struct cv_rtsp_feed *f = srv->feeds; f; f = f->next) {
        if (strcmp(f->camera, camera) == 0 && f->sub_status == 0) {
            f->refs++;
            return f;
        }
    }
    struct cv_rtsp_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->srv = srv;
    f->refs = 1;
    f->ring_fd = -1;
    f->sub_id = ++srv->next_sub;
    snprintf(f->camera, sizeof(f->camera), "%s", camera);
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->frame = malloc(CV_RING_MAX_FRAME);
    f->arena = malloc(CV_RTSP_ARENA);
    f->pkts = calloc(CV_RTSP_MAX_PKTS, sizeof(*f->pkts));
    if (f->efd >= 0)
        f->bell_ev = event_new(srv->base, f->efd, EV_READ | EV_PERSIST | EV_ET, cv_feed_bell_cb, f);
    f->next = srv->feeds;
    srv->feeds = f;
    if (!f->bell_ev || !f->frame || !f->arena || !f->pkts)
        goto fail;
    event_add(f->bell_ev, NULL);

    struct cv_msg m = {.type = CV_MSG_SUBSCRIBE};
    m.u.subscribe.sub_id = f->sub_id;
    snprintf(m.u.subscribe.camera, sizeof(m.u.subscribe.camera), "%s", camera);
    int rc = cv_chan_send(srv->ctl, &m, &f->efd, 1);
    if (rc < 0) {
        cv_err("camera %s: cannot subscribe: %s", camera, strerror(-rc));
        goto fail;
    }
    return f;
fail:
    f->sub_status = -EIO;
    cv_feed_free(f);
    return NULL;
}

void cv_rtsp_feed_put(struct cv_rtsp_feed *f)
{
    if (--f->refs == 0)
        cv_feed_free(f);
}

void cv_rtsp_feed_on_subscribed(struct cv_rtsp_srv *srv, const struct cv_msg_subscribed *m,
                                int ring_fd)
{
    struct cv_rtsp_feed *f = srv->feeds;
    while (f && f->sub_id != m->sub_id)
        f = f->next;
    if (!f) {
        if (ring_fd >= 0)
            close(ring_fd);
        return;
    }
    if (m->status < 0 || ring_fd < 0) {
        f->sub_status = m->status < 0 ? m->status : -EIO;
        snprintf(f->sub_reason, sizeof(f->sub_reason), "%s", m->reason);
        if (ring_fd >= 0)
            close(ring_fd);
    } else {
        int rc = cv_ring_reader_open(ring_fd, &f->reader);
        if (rc < 0) {
            cv_err("camera %s: cannot map its ring: %s", f->camera, strerror(-rc));
            f->sub_status = rc;
            snprintf(f->sub_reason, sizeof(f->sub_reason), "ring unavailable");
            close(ring_fd);
        } else {
            f->ring_fd = ring_fd;
            f->subscribed = true;
        }
    }
    /* Answer any DESCRIBE waiting on this feed: with the SDP, or with the refusal. */
    for (struct cv_rtsp_conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->feed == f && c->describe_pending)
            cv_rtsp_conn_feed_ready(c);
    }
}

void cv_rtsp_feed_drop_all(struct cv_rtsp_srv *srv, const char *camera)
{
    for (struct cv_rtsp_conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->feed && strcmp(c->feed->camera, camera) == 0)
            cv_rtsp_conn_close(c, "camera removed");
    }
}
