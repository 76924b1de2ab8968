/*
 * camvisor-worker <camera>: ingest for one camera. Started by the supervisor with its control
 * socket on fd 3; exits when the supervisor goes away (parent-death signal, or the socket
 * closing), on SIGTERM, and dies on any broken invariant, to be restarted.
 *
 * Per frame, the media path is: source -> cv_ring_write -> one eventfd write per subscribed
 * consumer process. Nothing on it allocates.
 */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/media/scale.h"
#include "common/ring/ring.h"
#include "proto/chan.h"
#include "proto/child.h"
#include "worker/worker.h"
#include "worker/xcode.h"

#define CV_WORKER_MAX_BELLS    16
#define CV_WORKER_STATUS_MS    1000
#define CV_WORKER_MAX_VARIANTS 8  /* as the supervisor's CV_SUP_MAX_VARIANTS */
#define CV_WORKER_JPEG_FPS     15 /* a jpeg ring's most pictures a second: MJPEG, snapshots */
/*
 * Transcoding never holds the loop (the camera's own frames, the control socket, the status that
 * keeps the watchdog away): transcoders run in slices of this much work per loop turn, a frame
 * at a time (bench/RESULTS.md §14: a 4K frame is ~25 ms to decode, ~60 ms to encode as JPEG).
 */
#define CV_WORKER_XCODE_SLICE_MS 40
/* A transcoder with nothing published for this long publishes the picture it has reached: a
 * snapshot never waits for a whole GOP to be decoded (a 2 s 1080p GOP is 0.35 s), and one that
 * cannot keep up still gives pictures. */
#define CV_WORKER_XCODE_LATE_MS 80
/* A transcoder this far behind the camera (slower than it: a big picture, a busy machine) skips
 * to a newer keyframe rather than fall further behind. */
#define CV_WORKER_XCODE_LAG_MS 1000

struct cv_doorbell {
    uint32_t id;
    int fd;      /* eventfd, owned */
    int variant; /* the ring it follows: -1 the camera's own, else an index into variants[] */
};

/*
 * One variant this worker writes besides the camera's own stream, while someone wants it:
 *   video          the camera's video tracks, passed through (a viewer that wants no audio)
 *   jpeg[:WxH]     its first video track decoded and encoded as JPEG pictures (worker/xcode.h),
 *                  at most CV_WORKER_JPEG_FPS a second, optionally scaled
 * Transcoding producers to come (h264, opus) fill the same slot.
 */
struct cv_variant_out {
    char name[CV_VARIANT_MAX];   /* "" = free slot */
    struct cv_ring_writer *ring; /* owned */
    int fd;                      /* owned */
    int map[CV_MAX_TRACKS];      /* camera track -> this ring's track, -1 when not carried */
    struct cv_stream_info info;
    const struct cv_xcode_ops *xc;   /* NULL for a pass-through variant */
    void *xc_state;                  /* owned by xc; NULL until the source track has parameters */
    int src_track;                   /* the camera track xc reads; -1 none (yet) */
    struct cv_track_info src_params; /* its parameters when xc_state was opened */
    unsigned want_w, want_h;         /* jpeg:WxH */
    int64_t last_out_pts;
    bool have_out;
    bool catchup_pending; /* pass-through: started, its catch-up not run yet */
    /* A transcoder reads the camera's ring with a cursor of its own, from the newest keyframe
     * when it starts (its catch-up), in slices (cv_worker_xcode_cb). */
    struct cv_ring_reader *in; /* owned; NULL for a pass-through variant */
    uint64_t skip_until_ns;    /* after a ring move: frames that came up to here were read */
    uint64_t last_in_ns;       /* arrival of the last frame read */
    uint64_t started_ns, published_ns; /* when it started; its last picture (0: none yet) */
    uint64_t skips, skip_logged_ns;    /* times it fell CV_WORKER_XCODE_LAG_MS behind */
    uint64_t drops, drop_logged_ns;    /* pictures its ring refused */
    unsigned decoded;                  /* frames decoded before its first picture */
    bool need_key;                     /* it skipped: nothing decodes before a keyframe */
};

struct cv_worker {
    struct event_base *base;                   /* owned */
    struct event *ctl_ev, *sig_ev, *status_ev; /* owned */
    struct event *catchup_ev; /* owned: runs the catch-ups of pass-through variants started */
    struct event *xcode_ev;   /* owned: a slice of transcoding, once per loop turn while due */
    uint8_t *xcode_buf;       /* owned: a frame read for a transcoder (CV_RING_MAX_FRAME) */
    int xcode_next;           /* the variant whose slice comes first next turn */
    int ctl;                  /* fd 3, owned */
    struct cv_msg_camera cam;
    struct cv_ring_writer *ring; /* owned */
    int ring_fd;                 /* owned: the ring's memfd, to read it back when moving */
    const struct cv_source_ops *src;
    void *src_state; /* owned by src */
    struct cv_stream_info info;
    struct cv_doorbell bells[CV_WORKER_MAX_BELLS];
    int bell_count;
    struct cv_variant_out variants[CV_WORKER_MAX_VARIANTS];

    /* Figures for the status report. */
    enum cv_worker_state state;
    char error[128];
    uint64_t frames, video_frames, bytes;
    uint64_t streaming_since_ns; /* when the state last became STREAMING; 0 otherwise */
    uint64_t last_frames, last_video, last_bytes, last_report_ns;
    uint64_t last_key_ns, gop_ns;
    /* Bytes written since the last video keyframe (every track), and the largest GOP completed
     * since the last report: what the ring must hold for a new viewer to start at once. */
    uint64_t key_bytes, gop_bytes_max;
    bool warned_ring;
    int exit_code; /* 0 unless it could not start: proto/child.h's CV_CHILD_EXIT_* */
};

struct event_base *cv_worker_base(struct cv_worker *w)
{
    return w->base;
}

const char *cv_worker_camera(const struct cv_worker *w)
{
    return w->cam.name;
}

/* A transcoding variant's one track, and its transcoder on the camera's first video track. */
static void cv_variant_derive_xcode(struct cv_variant_out *v, const struct cv_stream_info *in)
{
    int src = -1;
    for (uint32_t i = 0; i < in->track_count && src < 0; i++)
        if (in->tracks[i].kind == CV_TRACK_VIDEO)
            src = (int)i;
    bool same = src >= 0 && src == v->src_track && v->xc_state &&
                v->info.track_count == 1; /* the same source parameters: keep the decoder */
    if (same && memcmp(&v->src_params, &in->tracks[src], sizeof(v->src_params)) == 0)
        return;
    if (v->xc_state)
        v->xc->close(v->xc_state);
    v->xc_state = NULL;
    v->src_track = src;
    memset(&v->info, 0, sizeof(v->info));
    if (src < 0)
        return;
    v->src_params = in->tracks[src];
    int rc = v->xc->open(&v->xc_state, &in->tracks[src], v->want_w, v->want_h);
    if (rc < 0) {
        cv_warn("variant %s: cannot decode the camera's %s: %s", v->name,
                cv_codec_name((enum cv_codec)in->tracks[src].codec), strerror(-rc));
        v->xc_state = NULL;
        return;
    }
    struct cv_track_info *t = &v->info.tracks[0];
    v->info.track_count = 1;
    t->kind = CV_TRACK_VIDEO;
    t->codec = CV_CODEC_JPEG;
    t->clock_rate = in->tracks[src].clock_rate;
    /* What it will be, as far as the camera's parameters say; the first picture says for sure. */
    unsigned ow = 0, oh = 0;
    cv_scale_fit(in->tracks[src].width, in->tracks[src].height, v->want_w, v->want_h, &ow, &oh);
    t->width = (uint16_t)ow;
    t->height = (uint16_t)oh;
    v->have_out = false;
}

/* The variant's tracks out of the camera's: for `video`, its video tracks. */
static void cv_variant_derive(struct cv_variant_out *v, const struct cv_stream_info *in)
{
    if (v->xc) {
        cv_variant_derive_xcode(v, in);
        return;
    }
    memset(&v->info, 0, sizeof(v->info));
    for (uint32_t i = 0; i < CV_MAX_TRACKS; i++)
        v->map[i] = -1;
    for (uint32_t i = 0; i < in->track_count; i++) {
        if (in->tracks[i].kind != CV_TRACK_VIDEO)
            continue;
        v->map[i] = (int)v->info.track_count;
        v->info.tracks[v->info.track_count++] = in->tracks[i];
    }
}

void cv_worker_set_info(struct cv_worker *w, const struct cv_stream_info *info)
{
    if (memcmp(&w->info, info, sizeof(*info)) == 0)
        return;
    w->info = *info;
    int rc = cv_ring_writer_set_info(w->ring, info);
    CV_ASSERT(rc == 0);
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++) {
        struct cv_variant_out *v = &w->variants[i];
        if (!v->name[0])
            continue;
        cv_variant_derive(v, info);
        if (v->info.track_count)
            cv_ring_writer_set_info(v->ring, &v->info);
    }
}

static void cv_worker_ring_bells(struct cv_worker *w, int variant)
{
    static const uint64_t one = 1;
    for (int i = 0; i < w->bell_count; i++) {
        if (w->bells[i].variant != variant)
            continue;
        ssize_t n = write(w->bells[i].fd, &one, sizeof(one));
        (void)n; /* EAGAIN means the counter is already huge: the reader is awake anyway */
    }
}

/*
 * A frame of the transcoder's source track: always decoded (references), encoded when `encode`
 * (cv_worker_xcode_run decides: the rate, the live edge, a picture overdue).
 */
static void cv_worker_xcode_frame(struct cv_worker *w, int vi, const struct cv_frame *f,
                                  const uint8_t *data, bool encode)
{
    struct cv_variant_out *v = &w->variants[vi];
    const uint8_t *out;
    size_t out_len;
    int rc = v->xc->feed(v->xc_state, data, f->len, f->pts, f->flags & CV_FRAME_KEY, encode, &out,
                         &out_len);
    if (!v->published_ns)
        v->decoded++;
    if (rc <= 0) {
        if (rc < 0)
            cv_dbg("variant %s: frame not transcoded: %s", v->name, strerror(-rc));
        return;
    }
    unsigned ow, oh;
    v->xc->size(v->xc_state, &ow, &oh);
    struct cv_track_info *t = &v->info.tracks[0];
    if (t->width != ow || t->height != oh) { /* the real size, once the first picture is out */
        t->width = (uint16_t)ow;
        t->height = (uint16_t)oh;
        cv_ring_writer_set_info(v->ring, &v->info);
    }
    struct cv_frame jf = *f;
    jf.track = 0;
    jf.flags = CV_FRAME_KEY;
    jf.dts = jf.pts;
    jf.len = (uint32_t)out_len;
    rc = cv_ring_write(v->ring, &jf, out, out_len);
    uint64_t now = cv_clock_mono_ns();
    if (rc == 0) {
        cv_worker_ring_bells(w, vi);
    } else if (++v->drops == 1 || now - v->drop_logged_ns > 30000000000ull) {
        cv_warn("variant %s: a %zu-byte picture dropped: %s (%llu so far)", v->name, out_len,
                strerror(-rc), (unsigned long long)v->drops);
        v->drop_logged_ns = now;
    }
    v->last_out_pts = f->pts; /* the rate counts what was encoded, published or not */
    v->have_out = true;
    if (rc < 0)
        return;
    if (!v->published_ns)
        cv_info("variant %s: first picture, %ux%u, after %u frames decoded in %.0f ms", v->name, ow,
                oh, v->decoded, (double)(now - v->started_ns) / 1e6);
    v->published_ns = now;
}

/*
 * One transcoder's share of a turn: frames of its source track read from the camera's ring and
 * decoded until it is at the live edge (false) or the deadline has passed (true: more to do).
 * Encoded: the frame at the live edge, or the one reached once no picture came for
 * CV_WORKER_XCODE_LATE_MS; either at most CV_WORKER_JPEG_FPS a second. Frames on the way are
 * history nobody asked for. Too far behind, it skips to a keyframe.
 */
static bool cv_worker_xcode_run(struct cv_worker *w, int vi, uint64_t deadline_ns)
{
    struct cv_variant_out *v = &w->variants[vi];
    struct cv_frame f;
    for (;;) {
        int rc = cv_ring_read(v->in, &f, w->xcode_buf, CV_RING_MAX_FRAME);
        if (rc == CV_RING_EMPTY)
            return false;
        if (rc < 0 || (int)f.track != v->src_track || !v->xc_state ||
            (v->skip_until_ns && f.arrival_ns <= v->skip_until_ns))
            continue; /* a read error resumes at the newest keyframe by itself */
        v->last_in_ns = f.arrival_ns;
        /* Behind by how long it has had the frame: a catch-up starts a GOP back on purpose. */
        uint64_t now = cv_clock_mono_ns();
        uint64_t had = f.arrival_ns > v->started_ns ? f.arrival_ns : v->started_ns;
        if (now > had + CV_WORKER_XCODE_LAG_MS * 1000000ull && cv_ring_reader_behind(v->in) > 0) {
            /* The newest keyframe if it is ahead, else the next one: frames skipped. */
            cv_ring_reader_seek_key(v->in);
            v->need_key = true;
            v->skips++;
            if (now - v->skip_logged_ns > 30000000000ull) {
                cv_info("variant %s: transcoding is slower than the camera: skipping to its "
                        "next keyframe (%llu times so far)",
                        v->name, (unsigned long long)v->skips);
                v->skip_logged_ns = now;
            }
            continue;
        }
        if (v->need_key && !(f.flags & CV_FRAME_KEY))
            continue;
        v->need_key = false;
        int64_t step = v->info.tracks[0].clock_rate / CV_WORKER_JPEG_FPS;
        bool rate_ok = !v->have_out || f.pts - v->last_out_pts >= step ||
                       f.pts < v->last_out_pts; /* clock went back */
        uint64_t since = v->published_ns ? v->published_ns : v->started_ns;
        bool overdue = now - since >= CV_WORKER_XCODE_LATE_MS * 1000000ull;
        cv_worker_xcode_frame(w, vi, &f, w->xcode_buf,
                              rate_ok && (cv_ring_reader_behind(v->in) == 0 || overdue));
        if (cv_clock_mono_ns() >= deadline_ns)
            return true;
    }
}

/* A turn's slice of transcoding, shared by the transcoders in turn; the next slice comes at the
 * next loop turn (a timer: libevent runs those once per turn, after the sockets), while any has
 * more to do. */
static void cv_worker_xcode_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_worker *w = arg;
    uint64_t deadline = cv_clock_mono_ns() + CV_WORKER_XCODE_SLICE_MS * 1000000ull;
    bool more = false;
    for (int k = 0; k < CV_WORKER_MAX_VARIANTS && !more; k++) {
        int i = (w->xcode_next + k) % CV_WORKER_MAX_VARIANTS;
        if (!w->variants[i].name[0] || !w->variants[i].in)
            continue;
        if (cv_clock_mono_ns() >= deadline) { /* the one before finished late: next turn */
            more = true;
            w->xcode_next = i;
        } else if (cv_worker_xcode_run(w, i, deadline)) {
            more = true;
            w->xcode_next = (i + 1) % CV_WORKER_MAX_VARIANTS;
        }
    }
    if (more) {
        struct timeval now = {0, 0};
        evtimer_add(w->xcode_ev, &now);
    }
}

/* New frames in the camera's ring: the transcoders get a slice at the next loop turn. */
static void cv_worker_xcode_kick(struct cv_worker *w)
{
    struct timeval now = {0, 0};
    if (!evtimer_pending(w->xcode_ev, NULL))
        evtimer_add(w->xcode_ev, &now);
}

/* The frame into every variant that carries its track; transcoders read it from the ring. */
static void cv_worker_publish_variants(struct cv_worker *w, const struct cv_frame *f,
                                       const uint8_t *data)
{
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++) {
        struct cv_variant_out *v = &w->variants[i];
        if (!v->name[0] || v->catchup_pending) /* its catch-up reads this frame from the ring */
            continue;
        if (v->xc) {
            cv_worker_xcode_kick(w);
            continue;
        }
        if (v->map[f->track] < 0)
            continue;
        struct cv_frame vf = *f;
        vf.track = (uint32_t)v->map[f->track];
        if (cv_ring_write(v->ring, &vf, data, f->len) == 0)
            cv_worker_ring_bells(w, i);
    }
}

void cv_worker_publish(struct cv_worker *w, uint32_t track, const uint8_t *data, size_t len,
                       int64_t pts, int64_t dts, bool key, uint64_t arrival_ns)
{
    CV_ASSERT(track < w->info.track_count);
    struct cv_frame f = {.len = (uint32_t)len,
                         .flags = key ? CV_FRAME_KEY : 0,
                         .track = track,
                         .pts = pts,
                         .dts = dts,
                         .arrival_ns = arrival_ns};
    /* The GOP is measured as the camera sends it, frames too big for the ring included: that is
     * how the supervisor learns the ring must grow. */
    if (w->info.tracks[track].kind == CV_TRACK_VIDEO && key) {
        if (w->last_key_ns && w->key_bytes > w->gop_bytes_max)
            w->gop_bytes_max = w->key_bytes;
        w->key_bytes = 0;
    }
    w->key_bytes += len;
    int rc = cv_ring_write(w->ring, &f, data, len);
    if (rc < 0) {
        cv_warn("dropped a %zu-byte frame: %s", len, strerror(-rc));
        return;
    }
    cv_worker_publish_variants(w, &f, data);
    w->frames++;
    w->bytes += len;
    if (w->info.tracks[track].kind == CV_TRACK_VIDEO) {
        w->video_frames++;
        if (key) {
            if (w->last_key_ns)
                w->gop_ns = arrival_ns - w->last_key_ns;
            w->last_key_ns = arrival_ns;
        }
    }
    cv_worker_ring_bells(w, -1);
}

void cv_worker_set_state(struct cv_worker *w, enum cv_worker_state state, const char *error)
{
    if (error)
        snprintf(w->error, sizeof(w->error), "%s", error);
    else if (state == CV_STATE_STREAMING)
        w->error[0] = '\0';
    if (state != CV_STATE_STREAMING)
        w->streaming_since_ns = 0;
    else if (w->state != CV_STATE_STREAMING || !w->streaming_since_ns)
        w->streaming_since_ns = cv_clock_mono_ns();
    w->state = state;
}

/* ---- status ------------------------------------------------------------------------------ */

static void cv_worker_status_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_worker *w = arg;
    uint64_t now = cv_clock_mono_ns();
    uint64_t dt = now - w->last_report_ns;
    if (dt == 0)
        return;
    struct cv_msg m = {.type = CV_MSG_STATUS};
    struct cv_msg_status *st = &m.u.status;
    st->state = w->state;
    st->frames = w->frames;
    st->fps_x100 = (uint32_t)((w->video_frames - w->last_video) * 100000000000ull / dt);
    st->bitrate = (uint32_t)((w->bytes - w->last_bytes) * 8ull * 1000000000ull / dt);
    st->gop_ms = (uint32_t)(w->gop_ns / 1000000);
    uint64_t rate = (w->bytes - w->last_bytes) * 1000000000ull / dt; /* bytes per second */
    uint64_t data = cv_ring_writer_data_size(w->ring);
    st->ring_span_ms = rate ? (uint32_t)(data * 1000 / rate) : 0;
    uint64_t gop_bytes = w->gop_bytes_max > w->key_bytes ? w->gop_bytes_max : w->key_bytes;
    st->gop_bytes = gop_bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)gop_bytes;
    w->gop_bytes_max = 0;
    for (uint32_t i = 0; i < w->info.track_count; i++) {
        size_t n = strlen(st->codecs);
        snprintf(st->codecs + n, sizeof(st->codecs) - n, "%s%s", i ? "," : "",
                 cv_codec_name(w->info.tracks[i].codec));
    }
    snprintf(st->error, sizeof(st->error), "%s", w->error);
    st->bytes = w->bytes;
    st->uptime_ms = w->streaming_since_ns ? (now - w->streaming_since_ns) / 1000000 : 0;
    for (uint32_t i = 0; i < w->info.track_count; i++) {
        if (w->info.tracks[i].kind == CV_TRACK_VIDEO) {
            st->width = w->info.tracks[i].width;
            st->height = w->info.tracks[i].height;
            break;
        }
    }

    /* A GOP must fit, or a new viewer may find no keyframe to start from (the supervisor grows
     * an auto-sized ring before this; a fixed ring_size is the user's to raise). */
    if (st->gop_ms && st->gop_bytes > data && !w->warned_ring) {
        cv_warn("a GOP of this stream (%u ms, %u KiB) no longer fits its %llu KiB ring: new "
                "viewers may wait for a keyframe; raise ring_size",
                st->gop_ms, st->gop_bytes >> 10, (unsigned long long)(data >> 10));
        w->warned_ring = true;
    }
    w->last_report_ns = now;
    w->last_frames = w->frames;
    w->last_video = w->video_frames;
    w->last_bytes = w->bytes;
    int rc = cv_chan_send(w->ctl, &m, NULL, 0);
    if (rc < 0 && rc != -EAGAIN)
        event_base_loopbreak(w->base);
}

/* ---- control ----------------------------------------------------------------------------- */

static int cv_worker_on_camera(struct cv_worker *w, const struct cv_msg_camera *cam, int ring_fd)
{
    if (w->ring) {
        cv_warn("second camera message ignored");
        return 0;
    }
    w->cam = *cam;
    cv_log_init("worker", cam->name);
    if (cam->log_level <= CV_LOG_ERR)
        cv_log_set_level((enum cv_log_level)cam->log_level);
    int rc = cv_ring_writer_open(ring_fd, &w->ring);
    if (rc < 0) {
        cv_err("cannot open ring: %s; asking for a new one", strerror(-rc));
        w->exit_code = CV_CHILD_EXIT_RING_BAD;
        return rc;
    }
    w->ring_fd = ring_fd;
    w->src = cv_source_find(cam->url);
    if (!w->src) {
        cv_err("no source for this URL scheme");
        w->exit_code = CV_CHILD_EXIT_FAILED;
        return -EPROTONOSUPPORT;
    }
    w->state = CV_STATE_CONNECTING;
    rc = w->src->start(w, cam, &w->src_state);
    if (rc < 0) {
        cv_err("%s source failed to start: %s", w->src->scheme, strerror(-rc));
        w->exit_code = CV_CHILD_EXIT_FAILED;
        return rc;
    }
    return 0;
}

/*
 * The ring hand-over with this worker writing (a resize): the frames since the newest keyframe
 * are copied into the new ring first, so a viewer that moves to it can start at once, then every
 * frame goes there. The supervisor hears "moved" only after the last write into the old ring,
 * so the consumers it then moves lose nothing (they skip the copies by arrival time).
 */
static void cv_worker_move_ring(struct cv_worker *w, int fd)
{
    struct cv_ring_writer *next = NULL;
    struct cv_ring_reader *old = NULL;
    uint8_t *buf = malloc(CV_RING_MAX_FRAME);
    int rc = buf ? cv_ring_writer_open(fd, &next) : -ENOMEM;
    if (rc == 0 && w->info.track_count)
        rc = cv_ring_writer_set_info(next, &w->info);
    if (rc < 0) {
        cv_err("cannot move to the new ring: %s; staying on the old one", strerror(-rc));
        goto out;
    }
    unsigned copied = 0;
    struct cv_frame f;
    if (cv_ring_reader_open(w->ring_fd, &old) == 0) {
        while (cv_ring_read(old, &f, buf, CV_RING_MAX_FRAME) == CV_RING_OK) {
            f.flags &= ~(uint32_t)CV_FRAME_DISCONT;
            if (cv_ring_write(next, &f, buf, f.len) == 0)
                copied++;
        }
        cv_ring_reader_close(old);
    }
    cv_ring_writer_close(w->ring);
    close(w->ring_fd);
    w->ring = next;
    w->ring_fd = fd;
    fd = -1;
    next = NULL;
    w->warned_ring = false;
    /* Transcoders follow onto the new ring, from its newest keyframe (frames they read from the
     * old one are skipped by arrival time, as consumers do). */
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++) {
        struct cv_variant_out *v = &w->variants[i];
        if (!v->name[0] || !v->in)
            continue;
        struct cv_ring_reader *r = NULL;
        if (cv_ring_reader_open(w->ring_fd, &r) < 0) {
            cv_err("variant %s: cannot read the new ring: its pictures stop", v->name);
            continue;
        }
        cv_ring_reader_close(v->in);
        v->in = r;
        v->skip_until_ns = v->last_in_ns;
    }
    cv_worker_xcode_kick(w);
    cv_info("moved to a %llu-byte ring (%u frames since the last keyframe copied)",
            (unsigned long long)cv_ring_writer_data_size(w->ring), copied);
    struct cv_msg m = {.type = CV_MSG_RING};
    m.u.ring.size = cv_ring_writer_data_size(w->ring);
    cv_chan_send(w->ctl, &m, NULL, 0);
out:
    if (next)
        cv_ring_writer_close(next);
    if (fd >= 0)
        close(fd);
    free(buf);
}

static int cv_worker_variant_index(const struct cv_worker *w, const char *name)
{
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++)
        if (w->variants[i].name[0] && strcmp(w->variants[i].name, name) == 0)
            return i;
    return -1;
}

/* "video", "jpeg" or "jpeg:WxH" (each side 0..8192, 0 following the aspect ratio). */
static int cv_worker_variant_parse(struct cv_variant_out *v, const char *name)
{
    if (strcmp(name, "video") == 0)
        return 0;
    unsigned vw = 0, vh = 0;
    char tail;
    if (strcmp(name, "jpeg") != 0 &&
        (sscanf(name, "jpeg:%ux%u%c", &vw, &vh, &tail) != 2 || vw > 8192 || vh > 8192))
        return -EINVAL;
    v->xc = cv_worker_plugin_symbol("cv_xcode_jpeg_ops");
    v->want_w = vw;
    v->want_h = vh;
    v->src_track = -1;
    return v->xc ? 0 : -ENOENT;
}

/* A pass-through variant's catch-up: the frames since the newest keyframe of the camera's ring,
 * copied in (a transcoder's is its cursor starting there, cv_worker_xcode_run). */
static unsigned cv_worker_variant_catch_up(struct cv_worker *w, int vi)
{
    struct cv_variant_out *v = &w->variants[vi];
    struct cv_ring_reader *own = NULL;
    uint8_t *buf = malloc(CV_RING_MAX_FRAME);
    unsigned n = 0;
    struct cv_frame f;
    if (buf && cv_ring_reader_open(w->ring_fd, &own) == 0) {
        while (cv_ring_read(own, &f, buf, CV_RING_MAX_FRAME) == CV_RING_OK) {
            if (f.track >= CV_MAX_TRACKS || v->map[f.track] < 0)
                continue;
            f.flags &= ~(uint32_t)CV_FRAME_DISCONT;
            f.track = (uint32_t)v->map[f.track];
            n += cv_ring_write(v->ring, &f, buf, f.len) == 0;
        }
        cv_ring_reader_close(own);
    }
    free(buf);
    return n;
}

/* A transcoder's cursor on the camera's ring, at its newest keyframe. */
static int cv_worker_xcode_attach(struct cv_worker *w, struct cv_variant_out *v)
{
    if (!w->xcode_buf && !(w->xcode_buf = malloc(CV_RING_MAX_FRAME)))
        return -ENOMEM;
    int rc = cv_ring_reader_open(w->ring_fd, &v->in);
    if (rc < 0) {
        v->in = NULL;
        return rc;
    }
    v->started_ns = cv_clock_mono_ns();
    return 0;
}

/*
 * Starts writing a variant into the ring fd (owned from here). Its catch-up first, so its first
 * viewer starts at once: the frames since the newest keyframe of the camera's ring, copied in
 * (pass-through) or decoded (transcoder).
 */
static void cv_worker_variant_start(struct cv_worker *w, const char *name, int fd)
{
    int slot = -1;
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS && slot < 0; i++)
        if (!w->variants[i].name[0])
            slot = i;
    struct cv_variant_out *v = slot >= 0 ? &w->variants[slot] : NULL;
    if (!v || cv_worker_variant_index(w, name) >= 0 || cv_worker_variant_parse(v, name) < 0) {
        cv_warn("variant %s not started (%s)", name,
                !v ? "too many variants" : "unknown here, or running already");
        if (v)
            *v = (struct cv_variant_out){0};
        close(fd);
        return;
    }
    int rc = cv_ring_writer_open(fd, &v->ring);
    if (rc == 0 && v->xc)
        rc = cv_worker_xcode_attach(w, v);
    if (rc < 0) {
        cv_err("variant %s: cannot open its rings: %s", name, strerror(-rc));
        if (v->ring)
            cv_ring_writer_close(v->ring);
        *v = (struct cv_variant_out){0};
        close(fd);
        return;
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->fd = fd;
    cv_variant_derive(v, &w->info);
    if (v->info.track_count)
        cv_ring_writer_set_info(v->ring, &v->info);
    /* The catch-up runs after the messages already waiting, the doorbell_add that follows this
     * variant_start among them: a picture it publishes early then wakes its consumer at once. */
    if (v->xc) {
        cv_worker_xcode_kick(w);
        return;
    }
    v->catchup_pending = true;
    event_active(w->catchup_ev, EV_TIMEOUT, 0);
}

static void cv_worker_catchup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_worker *w = arg;
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++) {
        struct cv_variant_out *v = &w->variants[i];
        if (!v->name[0] || !v->catchup_pending)
            continue;
        v->catchup_pending = false;
        unsigned n = cv_worker_variant_catch_up(w, i);
        cv_info("variant %s: producing (%u tracks; %u frames since the last keyframe copied)",
                v->name, v->info.track_count, n);
    }
}

static void cv_worker_variant_stop(struct cv_worker *w, const char *variant)
{
    int i = cv_worker_variant_index(w, variant);
    if (i < 0)
        return;
    char name[CV_VARIANT_MAX]; /* variant may be the slot's own name, cleared below */
    snprintf(name, sizeof(name), "%s", variant);
    struct cv_variant_out *v = &w->variants[i];
    if (v->xc && v->xc_state)
        v->xc->close(v->xc_state);
    if (v->in)
        cv_ring_reader_close(v->in);
    cv_ring_writer_close(v->ring);
    close(v->fd);
    *v = (struct cv_variant_out){0};
    for (int b = 0; b < w->bell_count; b++)
        if (w->bells[b].variant == i)
            w->bells[b].variant = -2; /* its subscription is gone too: DOORBELL_DEL follows */
    cv_info("variant %s: stopped, nobody wants it", name);
}

static void cv_worker_bell_add(struct cv_worker *w, uint32_t id, int fd, const char *variant)
{
    if (w->bell_count == CV_WORKER_MAX_BELLS) {
        cv_warn("doorbell %u refused: %d already", id, CV_WORKER_MAX_BELLS);
        close(fd);
        return;
    }
    int v = !variant[0] || strcmp(variant, CV_VARIANT_NATIVE) == 0
                ? -1
                : cv_worker_variant_index(w, variant);
    if (v == -1 && variant[0] && strcmp(variant, CV_VARIANT_NATIVE) != 0)
        v = -2; /* a variant not (yet) produced: rung by nothing until it is */
    w->bells[w->bell_count++] = (struct cv_doorbell){.id = id, .fd = fd, .variant = v};
}

static void cv_worker_bell_del(struct cv_worker *w, uint32_t id)
{
    for (int i = 0; i < w->bell_count; i++) {
        if (w->bells[i].id == id) {
            close(w->bells[i].fd);
            w->bells[i] = w->bells[--w->bell_count];
            return;
        }
    }
}

static int cv_worker_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    struct cv_worker *w = ctx;
    if (m->type == CV_MSG_CAMERA && nfds == 1) {
        int rc = cv_worker_on_camera(w, &m->u.camera, fds[0]);
        if (rc < 0 || w->ring_fd != fds[0])
            close(fds[0]);
        return rc < 0 ? rc : 1;
    }
    if (m->type == CV_MSG_RING && nfds == 1) {
        cv_worker_move_ring(w, fds[0]);
        return 1;
    }
    if (m->type == CV_MSG_DOORBELL_ADD && nfds == 1) {
        cv_worker_bell_add(w, m->u.doorbell.id, fds[0], m->u.doorbell.variant);
        return 1;
    }
    if (m->type == CV_MSG_VARIANT_START && nfds == 1) {
        cv_worker_variant_start(w, m->u.variant.variant, fds[0]);
        return 1;
    }
    if (m->type == CV_MSG_VARIANT_STOP) {
        cv_worker_variant_stop(w, m->u.variant.variant);
        return 0;
    }
    if (m->type == CV_MSG_DOORBELL_DEL)
        cv_worker_bell_del(w, m->u.doorbell.id);
    else if (m->type == CV_MSG_KEYFRAME)
        /* Every source today passes the camera's stream through: the next keyframe comes with
         * the camera's GOP. An encoding variant will answer this by coding one at once. */
        cv_info("a viewer asked for a keyframe: this source passes the camera's stream "
                "through, the next one comes with its GOP");
    else
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    return 0;
}

static void cv_worker_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_worker *w = arg;
    struct cv_msg m;
    int rc = cv_chan_drain(fd, &m, cv_worker_on_message, w, INT32_MAX, "supervisor");
    if (rc == -EPIPE)
        cv_info("supervisor gone, exiting");
    if (rc < 0)
        event_base_loopbreak(w->base);
}

static void cv_worker_sig_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct cv_worker *w = arg;
    cv_child_term_taken();
    event_base_loopbreak(w->base);
}

int main(int argc, char **argv)
{
    static struct cv_worker w; /* the process's one worker, with its ~5 KiB of stream info */
    int rc = 1;
    cv_log_init("worker", argc > 1 ? argv[1] : NULL);
    if (cv_child_init() < 0) {
        cv_err("cannot make this process non-dumpable: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    w.ctl = CV_CHILD_CTL_FD;
    w.ring_fd = -1;
    w.base = event_base_new();
    /* Two priorities: SIGTERM first. A stop that came while the worker was starting is taken
     * before it opens its source (a plugin to load, an encoder or a camera to open), so it
     * stops in milliseconds however busy the machine is. */
    if (!w.base || event_base_priority_init(w.base, 2) < 0)
        return 1;
    w.ctl_ev = event_new(w.base, w.ctl, EV_READ | EV_PERSIST, cv_worker_ctl_cb, &w);
    w.sig_ev = evsignal_new(w.base, SIGTERM, cv_worker_sig_cb, &w);
    w.status_ev = event_new(w.base, -1, EV_PERSIST, cv_worker_status_cb, &w);
    w.catchup_ev = event_new(w.base, -1, 0, cv_worker_catchup_cb, &w);
    w.xcode_ev = evtimer_new(w.base, cv_worker_xcode_cb, &w);
    if (!w.ctl_ev || !w.sig_ev || !w.status_ev || !w.catchup_ev || !w.xcode_ev ||
        event_priority_set(w.sig_ev, 0) < 0)
        goto out;
    struct timeval tv = {CV_WORKER_STATUS_MS / 1000, (CV_WORKER_STATUS_MS % 1000) * 1000};
    event_add(w.ctl_ev, NULL);
    event_add(w.sig_ev, NULL);
    cv_child_term_ready();
    event_add(w.status_ev, &tv);
    w.last_report_ns = cv_clock_mono_ns();

    struct cv_msg hello = {.type = CV_MSG_HELLO};
    hello.u.hello.role = CV_ROLE_WORKER;
    hello.u.hello.pid = (uint32_t)getpid();
    snprintf(hello.u.hello.camera, sizeof(hello.u.hello.camera), "%s", argc > 1 ? argv[1] : "");
    if (cv_chan_send(w.ctl, &hello, NULL, 0) < 0) {
        cv_err("no control socket on fd %d: not started by camvisor?", CV_CHILD_CTL_FD);
        goto out;
    }
    event_base_dispatch(w.base);
    rc = w.exit_code;
out:
    if (w.src && w.src_state)
        w.src->stop(w.src_state);
    for (int i = 0; i < w.bell_count; i++)
        close(w.bells[i].fd);
    for (int i = 0; i < CV_WORKER_MAX_VARIANTS; i++)
        if (w.variants[i].name[0])
            cv_worker_variant_stop(&w, w.variants[i].name);
    if (w.ring)
        cv_ring_writer_close(w.ring);
    if (w.ring_fd >= 0)
        close(w.ring_fd);
    if (w.status_ev)
        event_free(w.status_ev);
    if (w.catchup_ev)
        event_free(w.catchup_ev);
    if (w.xcode_ev)
        event_free(w.xcode_ev);
    free(w.xcode_buf);
    if (w.sig_ev)
        event_free(w.sig_ev);
    if (w.ctl_ev)
        event_free(w.ctl_ev);
    event_base_free(w.base);
    return rc;
}
