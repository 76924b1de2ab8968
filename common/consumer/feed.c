/*
 * One consumer process's subscription to one camera's ring: see common/consumer/feed.h for the
 * contract. The doorbell is edge-triggered and never read: every write to an eventfd wakes an
 * EPOLLET waiter again whatever its counter holds, so a read() would only cost a syscall per
 * frame (the counter would need 2^64 frames to saturate).
 */
#include "common/consumer/feed.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "proto/chan.h"

struct cv_feed {
    struct cv_feed *next; /* in set->feeds */
    struct cv_feed_set *set;
    const struct cv_feed_ops *ops;
    void *ctx;
    char camera[CV_NAME_MAX];
    char variant[CV_VARIANT_MAX];
    uint32_t sub_id;
    uint64_t keyframe_asked_ms; /* the last keyframe request sent */
    int status;                 /* 1 waiting, 0 subscribed, < 0 refused */
    char reason[128];
    int efd;                       /* doorbell eventfd, owned */
    struct event *bell_ev;         /* owned */
    int ring_fd;                   /* read-only ring, owned; -1 until subscribed */
    struct cv_ring_reader *reader; /* owned: the live cursor */
    int64_t info_seq;              /* of the parameters in info */
    struct cv_stream_info info;
    uint64_t generation;      /* of the writer we last read from; 0 before the first frame */
    uint64_t next_seq;        /* after the last frame delivered live */
    uint64_t last_arrival_ns; /* of the last frame delivered */
    uint64_t skip_until_ns;   /* after a ring hand-over: frames up to here were delivered */
    uint8_t *frame;           /* owned: one frame read from the ring */
    struct cv_feed_viewer *viewers;
    struct event *retry_ev; /* owned: subscribing again after a ring lost; NULL until needed */
    unsigned retries;       /* rings lost in a row */
};

void cv_feed_set_init(struct cv_feed_set *s, struct event_base *base, int ctl)
{
    *s = (struct cv_feed_set){.base = base, .ctl = ctl, .retry_ms = CV_FEED_RETRY_MS};
}

void cv_feed_set_limit(struct cv_feed_set *s, const uint32_t *clients)
{
    struct rlimit rl;
    s->clients = clients;
    s->fd_limit = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return;
    unsigned open_now = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *e; d && (e = readdir(d));)
        open_now += e->d_name[0] >= '0' && e->d_name[0] <= '9';
    if (d) {
        closedir(d);
        open_now--; /* the listing's own */
    } else {
        open_now = 64; /* no /proc: a guess on the safe side */
    }
    s->fd_limit = rl.rlim_cur > UINT32_MAX ? UINT32_MAX : (unsigned)rl.rlim_cur;
    s->fd_fixed = open_now + CV_FEED_FDS_FIXED;
    cv_info("descriptors: %u allowed, %u held by this process and kept spare: room for %u "
            "clients and feeds of %u each",
            s->fd_limit, s->fd_fixed, s->fd_limit > s->fd_fixed ? s->fd_limit - s->fd_fixed : 0,
            CV_FEED_FDS);
}

bool cv_feed_set_room(const struct cv_feed_set *s, unsigned clients, unsigned feeds)
{
    if (!s->fd_limit)
        return true;
    uint64_t held =
        (uint64_t)s->fd_fixed + (s->clients ? *s->clients : 0) + (uint64_t)s->nfeeds * CV_FEED_FDS;
    return held + clients + (uint64_t)feeds * CV_FEED_FDS <= s->fd_limit;
}

void *cv_feed_ctx(const struct cv_feed *f)
{
    return f->ctx;
}

const char *cv_feed_camera(const struct cv_feed *f)
{
    return f->camera;
}

const char *cv_feed_variant(const struct cv_feed *f)
{
    return f->variant;
}

void cv_feed_request_keyframe(struct cv_feed *f)
{
    uint64_t now = cv_clock_mono_ms();
    if (f->status != 0 || (f->keyframe_asked_ms && now - f->keyframe_asked_ms < 1000))
        return;
    f->keyframe_asked_ms = now;
    struct cv_msg m = {.type = CV_MSG_KEYFRAME};
    m.u.keyframe.sub_id = f->sub_id;
    cv_chan_send(f->set->ctl, &m, NULL, 0);
}

int cv_feed_status(const struct cv_feed *f, const char **reason)
{
    if (reason)
        *reason = f->reason;
    return f->status;
}

const struct cv_stream_info *cv_feed_info(const struct cv_feed *f)
{
    return &f->info;
}

/* Loads the ring's codec parameters when their sequence moved, and says so. */
static void cv_feed_load_info(struct cv_feed *f)
{
    /* Called on every doorbell: the 5 KiB copy only when the parameters changed. */
    if (f->info_seq > 0 && cv_ring_reader_info_seq(f->reader) == (uint64_t)f->info_seq)
        return;
    struct cv_stream_info info;
    int64_t seq = cv_ring_reader_info(f->reader, &info);
    if (seq <= 0 || seq == f->info_seq)
        return;
    struct cv_stream_info prev = f->info;
    f->info = info;
    f->info_seq = seq;
    if (f->ops->on_params)
        f->ops->on_params(f, &prev, &f->info);
}

bool cv_feed_ready(struct cv_feed *f)
{
    if (!f->reader)
        return false;
    cv_feed_load_info(f);
    for (uint32_t i = 0; i < f->info.track_count; i++) {
        const struct cv_track_info *t = &f->info.tracks[i];
        if (t->kind == CV_TRACK_VIDEO && t->extradata_len == 0)
            return false;
    }
    return f->info.track_count > 0;
}

void cv_feed_pump(struct cv_feed *f)
{
    if (!f->reader)
        return;
    cv_feed_load_info(f);
    struct cv_frame fr;
    for (;;) {
        int rc = cv_ring_read(f->reader, &fr, f->frame, CV_RING_MAX_FRAME);
        if (rc == CV_RING_EMPTY)
            break;
        if (rc < 0)
            continue; /* skipped (counted by the reader); the next read resyncs */
        f->next_seq = fr.seq + 1;
        if (f->skip_until_ns && fr.arrival_ns <= f->skip_until_ns)
            continue; /* delivered already, from the ring this one replaced */
        f->last_arrival_ns = fr.arrival_ns;
        uint64_t gen = cv_ring_reader_generation(f->reader);
        if (fr.flags & CV_FRAME_DISCONT)
            cv_feed_load_info(f); /* a restarted worker may have new parameters */
        if (f->ops->on_discontinuity && f->generation) {
            if (gen != f->generation)
                f->ops->on_discontinuity(f, CV_FEED_WRITER_RESTART);
            else if (fr.flags & CV_FRAME_DISCONT)
                f->ops->on_discontinuity(f, CV_FEED_FRAMES_LOST);
        }
        f->generation = gen;
        if (fr.track >= f->info.track_count)
            continue;
        f->ops->on_frame(f, &fr, f->frame);
    }
}

static void cv_feed_bell_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cv_feed_pump(arg);
}

int cv_feed_replay_frames(struct cv_feed *f, cv_feed_replay_fn fn, void *arg)
{
    struct cv_ring_reader *r = NULL;
    if (!f->reader)
        return -ENOTCONN;
    int rc = cv_ring_reader_clone(f->reader, &r);
    if (rc < 0)
        return rc;
    int frames = 0;
    struct cv_frame fr;
    while (cv_ring_read(r, &fr, f->frame, CV_RING_MAX_FRAME) == CV_RING_OK &&
           fr.seq < f->next_seq) {
        if (fr.track >= f->info.track_count)
            continue;
        fn(arg, &fr, f->frame);
        frames++;
    }
    cv_ring_reader_close(r);
    return frames;
}

/* ---- subscription --------------------------------------------------------------------------- */

struct cv_feed *cv_feed_open(struct cv_feed_set *s, const char *camera, const char *variant,
                             const struct cv_feed_ops *ops, void *ctx)
{
    if (!cv_feed_set_room(s, 0, 1)) {
        /* The consumer says so to its client (503); one line here would be one per request. */
        cv_dbg("camera %s: no feed: %u open, descriptors for no more", camera, s->nfeeds);
        errno = EMFILE;
        return NULL;
    }
    struct cv_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->set = s;
    f->ops = ops;
    f->ctx = ctx;
    f->ring_fd = -1;
    f->status = 1;
    f->sub_id = ++s->next_sub;
    snprintf(f->camera, sizeof(f->camera), "%s", camera);
    snprintf(f->variant, sizeof(f->variant), "%s", variant);
    f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    f->frame = malloc(CV_RING_MAX_FRAME);
    if (f->efd >= 0)
        f->bell_ev = event_new(s->base, f->efd, EV_READ | EV_PERSIST | EV_ET, cv_feed_bell_cb, f);
    f->next = s->feeds;
    s->feeds = f;
    s->nfeeds++;
    if (!f->bell_ev || !f->frame) {
        cv_err("camera %s: cannot subscribe: out of memory or descriptors", camera);
        goto fail;
    }
    event_add(f->bell_ev, NULL);

    struct cv_msg m = {.type = CV_MSG_SUBSCRIBE};
    m.u.subscribe.sub_id = f->sub_id;
    snprintf(m.u.subscribe.camera, sizeof(m.u.subscribe.camera), "%s", camera);
    snprintf(m.u.subscribe.variant, sizeof(m.u.subscribe.variant), "%s", variant);
    int rc = cv_chan_send(s->ctl, &m, &f->efd, 1);
    if (rc < 0) {
        cv_err("camera %s: cannot subscribe: %s", camera, strerror(-rc));
        goto fail;
    }
    return f;
fail:
    f->status = -EIO;
    cv_feed_close(f);
    return NULL;
}

struct cv_feed *cv_feed_find(const struct cv_feed_set *s, const char *camera, const char *variant,
                             const struct cv_feed_ops *ops)
{
    for (struct cv_feed *f = s->feeds; f; f = f->next)
        if (f->ops == ops && f->status >= 0 && strcmp(f->camera, camera) == 0 &&
            strcmp(f->variant, variant) == 0)
            return f;
    return NULL;
}

void cv_feed_close(struct cv_feed *f)
{
    struct cv_feed_set *s = f->set;
    for (struct cv_feed **pp = &s->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            s->nfeeds--;
            break;
        }
    }
    if (f->retry_ev)
        event_free(f->retry_ev);
    while (f->viewers)
        cv_feed_viewer_detach(f->viewers);
    if (f->status >= 0) { /* asked for, or granted: the supervisor drops the doorbell */
        struct cv_msg m = {.type = CV_MSG_UNSUBSCRIBE};
        m.u.unsubscribe.sub_id = f->sub_id;
        cv_chan_send(s->ctl, &m, NULL, 0);
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
    free(f);
}

/*
 * The ring hand-over (a second SUBSCRIBED for a granted subscription): first read what is left
 * of the old ring, then follow the new one from its newest keyframe. Frames the new ring holds
 * that were already delivered from the old one (a resize copies the frames since the last
 * keyframe) are recognised by their arrival time and skipped, so viewers get each frame once.
 * Viewers stay; the consumer is told with on_discontinuity(CV_FEED_RING_REPLACED).
 */
static void cv_feed_ring_lost(struct cv_feed *f, const char *why);

static int cv_feed_replace_ring(struct cv_feed *f, const struct cv_msg_subscribed *m, int ring_fd)
{
    struct cv_ring_reader *r = NULL;
    int rc = m->status < 0 || ring_fd < 0 ? -EINVAL : cv_ring_reader_open(ring_fd, &r);
    if (rc < 0) {
        /* The old ring is no longer written: staying on it would freeze the viewers. */
        cv_err("camera %s: cannot take over its new ring: %s", f->camera, strerror(-rc));
        cv_feed_ring_lost(f, "could not be mapped");
        return 0;
    }
    cv_feed_pump(f);
    cv_ring_reader_close(f->reader);
    close(f->ring_fd);
    f->reader = r;
    f->ring_fd = ring_fd;
    f->skip_until_ns = f->last_arrival_ns;
    f->info_seq = 0; /* load the new ring's parameters, whatever their sequence number */
    f->generation = 0;
    if (f->ops->on_discontinuity)
        f->ops->on_discontinuity(f, CV_FEED_RING_REPLACED);
    cv_feed_pump(f);
    return 1;
}

/* The feed is over (its viewers are told through on_subscribed): never left waiting. */
static void cv_feed_fail(struct cv_feed *f, int err, const char *reason, bool held)
{
    if (held) { /* the supervisor granted this sub_id: it drops the doorbell and its demand */
        struct cv_msg m = {.type = CV_MSG_UNSUBSCRIBE};
        m.u.unsubscribe.sub_id = f->sub_id;
        cv_chan_send(f->set->ctl, &m, NULL, 0);
    }
    f->status = err;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
    if (f->ops->on_subscribed)
        f->ops->on_subscribed(f, f->status, f->reason);
}

/* A subscription again, under a new sub_id (the old one's answers are then ignored), with the
 * same doorbell; its SUBSCRIBED is taken as a hand-over when the feed has a ring already. */
static void cv_feed_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_feed *f = arg;
    uint32_t old = f->sub_id;
    struct cv_msg m = {.type = CV_MSG_SUBSCRIBE};
    m.u.subscribe.sub_id = ++f->set->next_sub;
    snprintf(m.u.subscribe.camera, sizeof(m.u.subscribe.camera), "%s", f->camera);
    snprintf(m.u.subscribe.variant, sizeof(m.u.subscribe.variant), "%s", f->variant);
    int rc = cv_chan_send(f->set->ctl, &m, &f->efd, 1);
    if (rc < 0) {
        cv_err("camera %s: cannot subscribe again: %s", f->camera, strerror(-rc));
        cv_feed_fail(f, -EIO, "cannot subscribe again", true);
        return;
    }
    f->sub_id = m.u.subscribe.sub_id;
    m = (struct cv_msg){.type = CV_MSG_UNSUBSCRIBE};
    m.u.unsubscribe.sub_id = old;
    cv_chan_send(f->set->ctl, &m, NULL, 0);
}

/*
 * A SUBSCRIBED that granted a ring this process does not get: its descriptor did not arrive (the
 * kernel drops what a message carries when this process is at its descriptor limit, proto/chan.c)
 * or it cannot be mapped. Silently following no ring, or the old one a worker no longer writes,
 * would leave viewers stuck with their connections open; so the feed asks again, and gives up
 * (its viewers told) if it keeps happening.
 */
static void cv_feed_ring_lost(struct cv_feed *f, const char *why)
{
    if (f->retries >= CV_FEED_RETRIES ||
        (!f->retry_ev && !(f->retry_ev = evtimer_new(f->set->base, cv_feed_retry_cb, f)))) {
        cv_err("camera %s: its ring lost %u times in a row: giving up, its viewers are closed",
               f->camera, f->retries + 1);
        cv_feed_fail(f, -EMFILE, "out of descriptors: the camera's ring could not be received",
                     true);
        return;
    }
    f->retries++;
    cv_warn("camera %s: its %s %s: subscribing again in %u ms", f->camera,
            f->status == 0 ? "new ring" : "ring", why, f->set->retry_ms);
    struct timeval tv = {f->set->retry_ms / 1000, (f->set->retry_ms % 1000) * 1000};
    evtimer_add(f->retry_ev, &tv);
}

int cv_feed_set_on_subscribed(struct cv_feed_set *s, const struct cv_msg_subscribed *m, int ring_fd)
{
    struct cv_feed *f = s->feeds;
    while (f && f->sub_id != m->sub_id)
        f = f->next;
    if (!f)
        return 0; /* closed meanwhile, or an answer to a sub_id given up for a new one */
    if (f->status >= 0 && m->status == 0 && ring_fd < 0) {
        cv_feed_ring_lost(f, "came without its descriptor (this process is at its descriptor "
                             "limit)");
        return 0;
    }
    if (f->status == 0 && m->status < 0) { /* a subscription again, refused */
        cv_feed_fail(f, m->status, m->reason, false);
        return 0;
    }
    if (f->status == 0) {
        f->retries = 0;
        return cv_feed_replace_ring(f, m, ring_fd);
    }
    if (f->status != 1)
        return 0; /* refused already: a late answer changes nothing */
    int kept = 0;
    f->retries = 0;
    if (m->status < 0) {
        f->status = m->status;
        snprintf(f->reason, sizeof(f->reason), "%s", m->reason);
    } else {
        int rc = cv_ring_reader_open(ring_fd, &f->reader);
        if (rc < 0) {
            f->reader = NULL;
            cv_err("camera %s: cannot map its ring: %s", f->camera, strerror(-rc));
            cv_feed_fail(f, rc, "ring unavailable", true);
            return 0;
        }
        f->ring_fd = ring_fd;
        f->status = 0;
        kept = 1;
        cv_feed_load_info(f);
    }
    if (f->ops->on_subscribed)
        f->ops->on_subscribed(f, f->status, f->reason);
    return kept;
}

/* ---- viewers -------------------------------------------------------------------------------- */

void cv_feed_viewer_attach(struct cv_feed *f, struct cv_feed_viewer *v)
{
    if (v->feed)
        cv_feed_viewer_detach(v);
    v->feed = f;
    v->next = f->viewers;
    if (v->next)
        v->next->pprev = &v->next;
    v->pprev = &f->viewers;
    f->viewers = v;
}

void cv_feed_viewer_detach(struct cv_feed_viewer *v)
{
    if (!v->feed)
        return;
    *v->pprev = v->next;
    if (v->next)
        v->next->pprev = v->pprev;
    *v = (struct cv_feed_viewer){0};
}

struct cv_feed_viewer *cv_feed_viewers(const struct cv_feed *f)
{
    return f->viewers;
}
