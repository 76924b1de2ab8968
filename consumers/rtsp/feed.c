/*
 * camvisor-rtsp's side of a feed (common/consumer/feed.h): the RTP packetisers of one camera.
 * Each frame the feed reads is packetised once here and the same packets go to every session of
 * the feed's viewers that is playing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/net/sdp.h"
#include "consumers/rtsp/rtsp.h"

static struct cv_rtsp_conn *cv_feed_conn(struct cv_feed_viewer *v)
{
    return (struct cv_rtsp_conn *)((char *)v - offsetof(struct cv_rtsp_conn, view));
}

/* A DESCRIBE may be waiting for the subscription or the first parameters: answer it now. */
static void cv_feed_answer_describes(struct cv_rtsp_feed *f)
{
    for (struct cv_feed_viewer *v = cv_feed_viewers(f->feed), *next; v; v = next) {
        next = v->next;
        struct cv_rtsp_conn *c = cv_feed_conn(v);
        if (c->describe_pending)
            cv_rtsp_conn_feed_ready(c);
    }
}

static void cv_feed_on_subscribed(struct cv_feed *feed, int status, const char *reason)
{
    cv_feed_answer_describes(cv_feed_ctx(feed));
    if (status >= 0)
        return;
    /* A feed that fails once granted (its ring lost to the descriptor limit again and again,
     * common/consumer/feed.h): its sessions end, and their clients reconnect, rather than freeze
     * on a ring nobody writes. Closing defers the unlinking: the list stays walkable. */
    for (struct cv_feed_viewer *v = cv_feed_viewers(feed); v; v = v->next) {
        struct cv_rtsp_conn *c = cv_feed_conn(v);
        if (!c->describe_pending)
            cv_rtsp_conn_close(c, reason);
    }
}

/* (Re)initialises the packetisers of tracks whose codec or clock changed. */
static void cv_feed_on_params(struct cv_feed *feed, const struct cv_stream_info *prev,
                              const struct cv_stream_info *info)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    for (uint32_t i = 0; i < info->track_count; i++) {
        const struct cv_track_info *t = &info->tracks[i];
        bool same = i < prev->track_count && prev->tracks[i].codec == t->codec &&
                    prev->tracks[i].clock_rate == t->clock_rate;
        if (!same && cv_rtp_packer_init(&f->packers[i], (enum cv_codec)t->codec,
                                        cv_sdp_payload_type(t), 0, 0) < 0)
            cv_warn("camera %s: track %u: no RTP packetiser for %s", f->camera, i,
                    cv_codec_name((enum cv_codec)t->codec));
    }
    cv_feed_answer_describes(f);
}

static void cv_feed_on_discontinuity(struct cv_feed *feed, enum cv_feed_discont why)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    /*
     * A restarted worker starts its clock again, and a new ring may come with a new worker:
     * rebase each track when it resumes (for a resized ring of the same worker this only evens
     * out one frame interval).
     */
    if (why == CV_FEED_WRITER_RESTART || why == CV_FEED_RING_REPLACED)
        memset(f->rebase, 1, sizeof(f->rebase));
}

/* Packetises one frame with packer p; returns the packet count (0 on error). */
static size_t cv_feed_packetize(struct cv_rtsp_feed *f, struct cv_rtp_packer *p,
                                const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_rtp_out out = {.arena = f->arena,
                             .arena_size = CV_RTSP_ARENA,
                             .pkts = f->pkts,
                             .max_pkts = CV_RTSP_MAX_PKTS};
    int rc = cv_rtp_packetize(p, data, fr->len, fr->pts, 0, &out);
    if (rc < 0) {
        cv_warn("camera %s: cannot packetise a %u-byte frame: %s", f->camera, fr->len,
                strerror(-rc));
        return 0;
    }
    return out.count;
}

static void cv_feed_on_frame(struct cv_feed *feed, const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    if (f->rebase[fr->track]) {
        /*
         * Keep the sessions' RTP timestamps going forward across the restart (20 ms after the
         * last one sent): clients see a gap in time, not a jump back, and stay on their RTP
         * session.
         */
        struct cv_rtp_packer *p = &f->packers[fr->track];
        int64_t step = f->info->tracks[fr->track].clock_rate / 50;
        p->ts_offset = (uint32_t)(p->ts_offset + f->last_pts[fr->track] + step - fr->pts);
        f->rebase[fr->track] = false;
    }
    f->last_pts[fr->track] = fr->pts;
    f->last_arrival_ns[fr->track] = fr->arrival_ns;
    size_t count = cv_feed_packetize(f, &f->packers[fr->track], fr, data);
    if (count == 0)
        return;
    bool key = (fr->flags & CV_FRAME_KEY) && f->info->tracks[fr->track].kind == CV_TRACK_VIDEO;
    for (struct cv_feed_viewer *v = cv_feed_viewers(feed), *next; v; v = next) {
        next = v->next;
        struct cv_rtsp_conn *c = cv_feed_conn(v);
        if (c->state != CV_CONN_PLAYING || (c->need_key && !key))
            continue;
        c->need_key = false;
        cv_rtsp_conn_send_rtp(c, (int)fr->track, f->arena, f->pkts, count);
    }
}

static const struct cv_feed_ops cv_rtsp_feed_ops = {
    .on_subscribed = cv_feed_on_subscribed,
    .on_params = cv_feed_on_params,
    .on_discontinuity = cv_feed_on_discontinuity,
    .on_frame = cv_feed_on_frame,
};

/*
 * A new session's catch-up: the frames since the newest keyframe, packetised with copies of the
 * live packetisers whose sequence numbers start at plan->seq0, sent to conn (or, without one,
 * only counted into plan: packets per track, first timestamp per track).
 */
struct cv_feed_replay {
    struct cv_rtsp_feed *f;
    struct cv_rtsp_catchup *plan;
    struct cv_rtsp_conn *conn;
    struct cv_rtp_packer packers[CV_MAX_TRACKS];
    bool seen[CV_MAX_TRACKS];
};

static void cv_feed_replay_frame(void *arg, const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_feed_replay *r = arg;
    if (r->conn && r->conn->dead)
        return;
    size_t n = cv_feed_packetize(r->f, &r->packers[fr->track], fr, data);
    if (n == 0)
        return;
    if (!r->seen[fr->track])
        r->plan->ts0[fr->track] = (uint32_t)(fr->pts + r->packers[fr->track].ts_offset);
    r->seen[fr->track] = true;
    r->plan->packets[fr->track] += n;
    if (r->conn)
        cv_rtsp_conn_send_rtp(r->conn, (int)fr->track, r->f->arena, r->f->pkts, n);
    r->plan->frames++;
}

static void cv_feed_replay(struct cv_rtsp_feed *f, struct cv_rtsp_catchup *plan,
                           struct cv_rtsp_conn *c)
{
    struct cv_feed_replay r = {.f = f, .plan = plan, .conn = c};
    memcpy(r.packers, f->packers, sizeof(r.packers));
    for (uint32_t i = 0; i < f->info->track_count; i++) {
        r.packers[i].seq = plan->seq0[i];
        plan->packets[i] = 0;
    }
    plan->frames = 0;
    cv_feed_replay_frames(f->feed, cv_feed_replay_frame, &r);
}

/*
 * A new session gets the frames since the newest keyframe at once, so it starts decoding now and
 * reaches the live edge immediately. Those packets are numbered just before the live ones, so the
 * client sees one gapless sequence (which the PLAY reply's RTP-Info announces) and the other
 * sessions' numbering is untouched. Two passes: plan (count) before the PLAY reply, send after.
 */
void cv_rtsp_feed_catch_up_plan(struct cv_rtsp_feed *f, struct cv_rtsp_catchup *plan)
{
    cv_feed_pump(f->feed); /* bring the live reader to the head first */
    memset(plan, 0, sizeof(*plan));
    cv_feed_replay(f, plan, NULL);
    for (uint32_t i = 0; i < f->info->track_count; i++) {
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

static void cv_rtsp_feed_free(struct cv_rtsp_feed *f)
{
    struct cv_rtsp_srv *srv = f->srv;
    for (struct cv_rtsp_feed **pp = &srv->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->feed)
        cv_feed_close(f->feed);
    free(f->arena);
    free(f->pkts);
    free(f);
}

struct cv_rtsp_feed *cv_rtsp_feed_get(struct cv_rtsp_srv *srv, const char *camera,
                                      const char *variant)
{
    for (struct cv_rtsp_feed *f = srv->feeds; f; f = f->next) {
        if (strcmp(f->camera, camera) == 0 && strcmp(f->variant, variant) == 0 &&
            cv_feed_status(f->feed, NULL) >= 0) {
            f->refs++;
            return f;
        }
    }
    struct cv_rtsp_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->srv = srv;
    f->refs = 1;
    snprintf(f->camera, sizeof(f->camera), "%s", camera);
    snprintf(f->variant, sizeof(f->variant), "%s", variant);
    f->next = srv->feeds;
    srv->feeds = f;
    f->arena = malloc(CV_RTSP_ARENA);
    f->pkts = calloc(CV_RTSP_MAX_PKTS, sizeof(*f->pkts));
    errno = ENOMEM;
    if (f->arena && f->pkts)
        f->feed = cv_feed_open(&srv->proc.feeds, camera, variant, &cv_rtsp_feed_ops, f);
    if (!f->feed) {
        int err = errno;
        cv_rtsp_feed_free(f);
        errno = err; /* EMFILE: out of descriptors */
        return NULL;
    }
    f->info = cv_feed_info(f->feed);
    return f;
}

void cv_rtsp_feed_put(struct cv_rtsp_feed *f)
{
    if (--f->refs == 0)
        cv_rtsp_feed_free(f);
}

void cv_rtsp_feed_drop_all(struct cv_rtsp_srv *srv, const char *camera)
{
    for (struct cv_rtsp_feed *f = srv->feeds; f; f = f->next) {
        if (strcmp(f->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *v = cv_feed_viewers(f->feed), *next; v; v = next) {
            next = v->next;
            cv_rtsp_conn_close(cv_feed_conn(v), "camera removed");
        }
    }
}
