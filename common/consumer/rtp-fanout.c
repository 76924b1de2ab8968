/* The RTP fan-out of one feed: see common/consumer/rtp-fanout.h. */
#include "common/consumer/rtp-fanout.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/media/nal.h"
#include "common/net/sdp.h"

int cv_rtp_fanout_init(struct cv_rtp_fanout *fo, const char *camera, size_t mtu,
                       const struct cv_rtp_fanout_ops *ops)
{
    memset(fo, 0, sizeof(*fo));
    snprintf(fo->camera, sizeof(fo->camera), "%s", camera);
    fo->mtu = mtu;
    fo->ops = ops;
    fo->arena = malloc(CV_RTP_FANOUT_ARENA);
    fo->pkts = calloc(CV_RTP_FANOUT_MAX_PKTS, sizeof(*fo->pkts));
    if (!fo->arena || !fo->pkts) {
        cv_rtp_fanout_fini(fo);
        return -ENOMEM;
    }
    return 0;
}

void cv_rtp_fanout_set_feed(struct cv_rtp_fanout *fo, struct cv_feed *feed)
{
    fo->feed = feed;
    fo->info = cv_feed_info(feed);
}

void cv_rtp_fanout_fini(struct cv_rtp_fanout *fo)
{
    free(fo->arena);
    free(fo->pkts);
    fo->arena = NULL;
    fo->pkts = NULL;
}

void cv_rtp_fanout_params(struct cv_rtp_fanout *fo, const struct cv_stream_info *prev,
                          const struct cv_stream_info *info)
{
    for (uint32_t i = 0; i < info->track_count; i++) {
        const struct cv_track_info *t = &info->tracks[i];
        bool same = i < prev->track_count && prev->tracks[i].codec == t->codec &&
                    prev->tracks[i].clock_rate == t->clock_rate;
        if (!same && cv_rtp_packer_init(&fo->packers[i], (enum cv_codec)t->codec,
                                        cv_sdp_payload_type(t), fo->mtu, 0) < 0)
            cv_warn("camera %s: track %u: no RTP packetiser for %s", fo->camera, i,
                    cv_codec_name((enum cv_codec)t->codec));
    }
}

void cv_rtp_fanout_discontinuity(struct cv_rtp_fanout *fo, enum cv_feed_discont why)
{
    /* A restarted worker starts its clock again, and a new ring may come with a new worker
     * (for a resized ring of the same worker this only evens out one frame interval). */
    if (why == CV_FEED_WRITER_RESTART || why == CV_FEED_RING_REPLACED)
        memset(fo->rebase, 1, sizeof(fo->rebase));
}

/* A video keyframe without parameter sets of its own, whose track has them (extradata). */
static bool cv_fanout_needs_params(const struct cv_rtp_fanout *fo, const struct cv_frame *fr,
                                   const uint8_t *data)
{
    const struct cv_track_info *t = &fo->info->tracks[fr->track];
    if (!fo->in_band_params || !(fr->flags & CV_FRAME_KEY) || t->kind != CV_TRACK_VIDEO ||
        !t->extradata_len || (t->codec != CV_CODEC_H264 && t->codec != CV_CODEC_H265))
        return false;
    const uint8_t *nal;
    size_t off = 0, n;
    while (cv_nal_next(data, fr->len, &off, &nal, &n))
        if (n > 0 &&
            cv_nal_is_param_set((enum cv_codec)t->codec, cv_nal_type((enum cv_codec)t->codec, nal)))
            return false;
    return true;
}

/*
 * G.711 in 20 ms packets: a camera may send 128 ms in one packet, and a WebRTC receiver wants
 * 20 ms (aiortc refuses anything else). What does not fill a packet waits for the next frame,
 * unless that frame does not follow on (a gap: the rest is dropped). One byte per sample and
 * channel. Only the live packer keeps the rest: a catch-up starts at its own frames.
 */
static int cv_fanout_g711(struct cv_rtp_fanout *fo, struct cv_rtp_packer *p,
                          const struct cv_frame *fr, const uint8_t *data, struct cv_rtp_out *out)
{
    const struct cv_track_info *ti = &fo->info->tracks[fr->track];
    size_t spp = ti->clock_rate / 50, ch = ti->channels ? ti->channels : 1, step = spp * ch;
    bool live = p == &fo->packers[fr->track];
    uint8_t *rest = fo->g711_rest[fr->track];
    uint16_t *rest_len = &fo->g711_rest_len[fr->track];
    if (step > sizeof(fo->g711_rest[0]))
        return cv_rtp_packetize(p, data, fr->len, fr->pts, 0, out);
    size_t off = 0;
    int rc = 0;
    if (live && *rest_len) {
        if (fo->g711_rest_pts[fr->track] + (int64_t)(*rest_len / ch) != fr->pts) {
            *rest_len = 0; /* not contiguous: the short rest is dropped */
        } else {
            size_t take = step - *rest_len < fr->len ? step - *rest_len : fr->len;
            memcpy(rest + *rest_len, data, take);
            *rest_len = (uint16_t)(*rest_len + take);
            off = take;
            if (*rest_len == step) {
                rc = cv_rtp_packetize(p, rest, step, fo->g711_rest_pts[fr->track], 0, out);
                *rest_len = 0;
            }
        }
    }
    for (; rc == 0 && fr->len - off >= step; off += step)
        rc = cv_rtp_packetize(p, data + off, step, fr->pts + (int64_t)(off / ch), 0, out);
    if (rc == 0 && live && off < fr->len && *rest_len == 0) {
        memcpy(rest, data + off, fr->len - off);
        *rest_len = (uint16_t)(fr->len - off);
        fo->g711_rest_pts[fr->track] = fr->pts + (int64_t)(off / ch);
    }
    return rc;
}

/* Packetises one frame with packer p; returns the packet count (0 on error). */
static size_t cv_fanout_packetize(struct cv_rtp_fanout *fo, struct cv_rtp_packer *p,
                                  const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_rtp_out out = {.arena = fo->arena,
                             .arena_size = CV_RTP_FANOUT_ARENA,
                             .pkts = fo->pkts,
                             .max_pkts = CV_RTP_FANOUT_MAX_PKTS};
    if (cv_fanout_needs_params(fo, fr, data)) {
        const struct cv_track_info *t = &fo->info->tracks[fr->track];
        /* Same timestamp, no marker: the parameter sets open the keyframe's access unit. */
        if (cv_rtp_packetize(p, t->extradata, t->extradata_len, fr->pts, CV_RTP_PACK_MORE, &out) <
            0)
            out.count = out.used = 0;
    }
    const struct cv_track_info *ti = &fo->info->tracks[fr->track];
    int rc = 0;
    if (fo->g711_20ms && (ti->codec == CV_CODEC_PCMA || ti->codec == CV_CODEC_PCMU) &&
        ti->clock_rate >= 50)
        rc = cv_fanout_g711(fo, p, fr, data, &out);
    else
        rc = cv_rtp_packetize(p, data, fr->len, fr->pts, 0, &out);
    if (rc < 0) {
        cv_warn("camera %s: cannot packetise a %u-byte frame: %s", fo->camera, fr->len,
                strerror(-rc));
        return 0;
    }
    return out.count;
}

static struct cv_rtp_viewer *cv_fanout_viewer(struct cv_feed_viewer *fv)
{
    return (struct cv_rtp_viewer *)((char *)fv - offsetof(struct cv_rtp_viewer, fv));
}

void cv_rtp_fanout_frame(struct cv_rtp_fanout *fo, const struct cv_frame *fr, const uint8_t *data)
{
    if (fr->track >= CV_MAX_TRACKS)
        return;
    if (fo->rebase[fr->track]) {
        struct cv_rtp_packer *p = &fo->packers[fr->track];
        int64_t step = fo->info->tracks[fr->track].clock_rate / 50;
        p->ts_offset = (uint32_t)(p->ts_offset + fo->last_pts[fr->track] + step - fr->pts);
        fo->rebase[fr->track] = false;
    }
    fo->last_pts[fr->track] = fr->pts;
    fo->last_arrival_ns[fr->track] = fr->arrival_ns;
    size_t count = cv_fanout_packetize(fo, &fo->packers[fr->track], fr, data);
    if (count == 0)
        return;
    if (fo->ops->packets)
        fo->ops->packets(fo, (int)fr->track, fo->arena, fo->pkts, count);
    bool key = (fr->flags & CV_FRAME_KEY) && fo->info->tracks[fr->track].kind == CV_TRACK_VIDEO;
    /* A viewer closed from inside send stays linked until its consumer reaps it: the walk
     * takes next first all the same. */
    for (struct cv_feed_viewer *fv = cv_feed_viewers(fo->feed), *next; fv; fv = next) {
        next = fv->next;
        struct cv_rtp_viewer *v = cv_fanout_viewer(fv);
        if (!v->playing || (v->need_key && !key))
            continue;
        v->need_key = false;
        fo->ops->send(v, (int)fr->track, fo->arena, fo->pkts, count);
    }
}

/*
 * A catch-up: the frames since the newest keyframe, packetised with copies of the live
 * packetisers whose sequence numbers start at plan->seq0, sent to v (or, without one, only
 * counted into plan: packets per track, first timestamp per track).
 */
struct cv_fanout_replay {
    struct cv_rtp_fanout *fo;
    struct cv_rtp_catchup *plan;
    struct cv_rtp_viewer *v;
    bool gone;
    struct cv_rtp_packer packers[CV_MAX_TRACKS];
    bool seen[CV_MAX_TRACKS];
};

static void cv_fanout_replay_frame(void *arg, const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_fanout_replay *r = arg;
    if (r->gone || fr->track >= CV_MAX_TRACKS)
        return;
    size_t n = cv_fanout_packetize(r->fo, &r->packers[fr->track], fr, data);
    if (n == 0)
        return;
    if (!r->seen[fr->track])
        r->plan->ts0[fr->track] = (uint32_t)(fr->pts + r->packers[fr->track].ts_offset);
    r->seen[fr->track] = true;
    r->plan->packets[fr->track] += n;
    if (r->v && r->fo->ops->send(r->v, (int)fr->track, r->fo->arena, r->fo->pkts, n) < 0)
        r->gone = true;
    r->plan->frames++;
}

static void cv_fanout_replay(struct cv_rtp_fanout *fo, struct cv_rtp_catchup *plan,
                             struct cv_rtp_viewer *v)
{
    struct cv_fanout_replay r = {.fo = fo, .plan = plan, .v = v};
    memcpy(r.packers, fo->packers, sizeof(r.packers));
    for (uint32_t i = 0; i < fo->info->track_count; i++) {
        r.packers[i].seq = plan->seq0[i];
        plan->packets[i] = 0;
    }
    plan->frames = 0;
    cv_feed_replay_frames(fo->feed, cv_fanout_replay_frame, &r);
}

void cv_rtp_fanout_catch_up_plan(struct cv_rtp_fanout *fo, struct cv_rtp_catchup *plan)
{
    cv_feed_pump(fo->feed); /* bring the live reader to the head first */
    memset(plan, 0, sizeof(*plan));
    cv_fanout_replay(fo, plan, NULL);
    for (uint32_t i = 0; i < fo->info->track_count; i++) {
        plan->seq0[i] = (uint16_t)(fo->packers[i].seq - plan->packets[i]);
        if (plan->packets[i] == 0)
            plan->ts0[i] = (uint32_t)(fo->last_pts[i] + fo->packers[i].ts_offset);
    }
}

void cv_rtp_fanout_catch_up_send(struct cv_rtp_fanout *fo, struct cv_rtp_viewer *v,
                                 struct cv_rtp_catchup *plan)
{
    cv_fanout_replay(fo, plan, v);
    v->need_key = plan->frames == 0; /* nothing cached (no keyframe yet): start at the next */
}

int cv_rtp_fanout_sr(const struct cv_rtp_fanout *fo, int t, uint64_t max_age_ms,
                     struct cv_rtcp_sr *sr)
{
    if (!fo->info || t < 0 || (uint32_t)t >= fo->info->track_count || fo->last_arrival_ns[t] == 0)
        return -EAGAIN;
    uint64_t now = cv_clock_mono_ns(), since = now - fo->last_arrival_ns[t];
    if (now < fo->last_arrival_ns[t] || since > max_age_ms * 1000000ull)
        return -EAGAIN;
    const struct cv_rtp_packer *p = &fo->packers[t];
    uint64_t ticks = since * fo->info->tracks[t].clock_rate / 1000000000ull;
    *sr = (struct cv_rtcp_sr){.ssrc = p->ssrc,
                              .ntp = cv_rtcp_ntp_from_unix_ns(cv_clock_real_ns()),
                              .rtp_ts = (uint32_t)(fo->last_pts[t] + p->ts_offset + (int64_t)ticks),
                              .packets = p->packets,
                              .octets = p->octets};
    return 0;
}
