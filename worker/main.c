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
#include "worker/variants.h"

#define CV_WORKER_MAX_BELLS 16
#define CV_WORKER_STATUS_MS 1000
struct cv_doorbell {
    uint32_t id;
    int fd;      /* eventfd, owned */
    int variant; /* the ring it follows: -1 the camera's own, else an index into variants[] */
};

struct cv_worker {
    struct event_base *base;                   /* owned */
    struct event *ctl_ev, *sig_ev, *status_ev; /* owned */
    int ctl;                                   /* fd 3, owned */
    struct cv_msg_camera cam;
    struct cv_ring_writer *ring; /* owned */
    int ring_fd;                 /* owned: the ring's memfd, to read it back when moving */
    const struct cv_source_ops *src;
    void *src_state; /* owned by src */
    struct cv_stream_info info;
    struct cv_doorbell bells[CV_WORKER_MAX_BELLS];
    int bell_count;
    struct cv_variants variants;

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

int cv_worker_ring_fd(const struct cv_worker *w)
{
    return w->ring_fd;
}

const struct cv_stream_info *cv_worker_info(const struct cv_worker *w)
{
    return &w->info;
}

void cv_worker_set_info(struct cv_worker *w, const struct cv_stream_info *info)
{
    if (memcmp(&w->info, info, sizeof(*info)) == 0)
        return;
    w->info = *info;
    int rc = cv_ring_writer_set_info(w->ring, info);
    CV_ASSERT(rc == 0);
    cv_variants_set_info(&w->variants, info);
}

void cv_worker_ring_bells(struct cv_worker *w, int variant)
{
    static const uint64_t one = 1;
    for (int i = 0; i < w->bell_count; i++) {
        if (w->bells[i].variant != variant)
            continue;
        ssize_t n = write(w->bells[i].fd, &one, sizeof(one));
        (void)n; /* EAGAIN means the counter is already huge: the reader is awake anyway */
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
    cv_variants_publish(&w->variants, &f, data);
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
    cv_variants_status(&w->variants, st);
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
    cv_variants_configure(&w->variants, cam);
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
    cv_variants_ring_moved(&w->variants);
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

static void cv_worker_variant_stop(struct cv_worker *w, const char *variant)
{
    int i = cv_variants_stop(&w->variants, variant);
    for (int b = 0; b < w->bell_count && i >= 0; b++)
        if (w->bells[b].variant == i)
            w->bells[b].variant = -2; /* its subscription is gone too: DOORBELL_DEL follows */
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
                : cv_variants_index(&w->variants, variant);
    if (v == -1 && variant[0] && strcmp(variant, CV_VARIANT_NATIVE) != 0)
        v = -2; /* a variant not (yet) produced: rung by nothing until it is */
    if (v >= 0) /* a viewer joining a running encoder starts at a keyframe made for it */
        cv_variants_keyframe(&w->variants, variant);
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
        cv_variants_start(&w->variants, m->u.variant.variant, fds[0]);
        return 1;
    }
    if (m->type == CV_MSG_VARIANT_STOP) {
        cv_worker_variant_stop(w, m->u.variant.variant);
        return 0;
    }
    if (m->type == CV_MSG_DOORBELL_DEL)
        cv_worker_bell_del(w, m->u.doorbell.id);
    else if (m->type == CV_MSG_KEYFRAME && m->u.keyframe.variant[0] &&
             strcmp(m->u.keyframe.variant, CV_VARIANT_NATIVE) != 0)
        cv_variants_keyframe(&w->variants, m->u.keyframe.variant);
    else if (m->type == CV_MSG_KEYFRAME)
        /* The camera's own stream is passed through: its next keyframe comes with its GOP. */
        cv_info("a viewer asked for a keyframe: the camera's stream is passed through, the "
                "next one comes with its GOP");
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
    if (!w.ctl_ev || !w.sig_ev || !w.status_ev || cv_variants_init(&w.variants, &w) < 0 ||
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
    cv_variants_fini(&w.variants);
    if (w.ring)
        cv_ring_writer_close(w.ring);
    if (w.ring_fd >= 0)
        close(w.ring_fd);
    if (w.status_ev)
        event_free(w.status_ev);
    if (w.sig_ev)
        event_free(w.sig_ev);
    if (w.ctl_ev)
        event_free(w.ctl_ev);
    event_base_free(w.base);
    return rc;
}
