/*
 * The consumer API, data side: how a consumer process (camvisor-rtsp today; camvisor-http and
 * camvisor-webrtc next) follows a camera's ring. docs/architecture.md has the diagram.
 *
 *   cv_feed_open(set, camera, variant,    -> SUBSCRIBE{camera, variant} to the supervisor, with an
 *                ops, ctx)
 *                                            eventfd doorbell for the camera's worker to ring
 *   SUBSCRIBED{status, ring fd}           -> cv_feed_set_on_subscribed(): the ring is mapped
 *                                            read-only, ops->on_subscribed() says so (or why not)
 *   doorbell                              -> every new frame is read once: ops->on_params()
 *                                            before the first frame read after the codec
 *                                            parameters changed, ops->on_discontinuity() before
 *                                            the first frame after a writer restart or a loss,
 *                                            then ops->on_frame() for each frame
 *   cv_feed_replay_frames()               -> a new viewer's catch-up: the frames from the newest
 *                                            keyframe to the live position, read with a copy of
 *                                            the live cursor (no second mapping)
 *   SUBSCRIBED again, same sub_id         -> the ring hand-over: the feed moves onto a new ring
 *                                            (resized, or rebuilt after corruption); viewers
 *                                            stay, ops->on_discontinuity(RING_REPLACED)
 *   SUBSCRIBED granted, its ring fd lost  -> the kernel dropped the descriptor (this process at
 *                                            its RLIMIT_NOFILE): the feed subscribes again (a
 *                                            new sub_id, then UNSUBSCRIBE of the old) a second
 *                                            later, up to CV_FEED_RETRIES times, and takes the
 *                                            answer as a hand-over; then it gives up with
 *                                            ops->on_subscribed(-EMFILE): never stuck silently
 *   cv_feed_close()                       -> UNSUBSCRIBE; the worker forgets the doorbell
 *
 * Each feed keeps its own viewers (cv_feed_viewer, embedded in the consumer's connection), so a
 * frame is offered to the viewers of that camera only, never to every connection of the process.
 * One feed per (camera) a process follows; whatever a protocol needs per feed (packetisers,
 * muxers) lives in the consumer's own struct, reached through cv_feed_ctx().
 *
 * Descriptors. A feed needs CV_FEED_FDS: its doorbell, its ring's fd (held while mapped), and
 * one free for a hand-over (the new ring's fd arrives while the old one is open). When a process
 * is at its RLIMIT_NOFILE the kernel drops the descriptors a message carries (MSG_CTRUNC), and a
 * ring with them, so a consumer keeps room for its feeds before it takes clients:
 * cv_feed_set_limit() once set up, then cv_feed_set_room() before each client, and
 * cv_feed_open() refuses a feed that does not fit (NULL, errno EMFILE) rather than lose rings.
 *
 * Ownership: the set owns its feeds' list links only; a feed is owned by whoever opened it and
 * freed by cv_feed_close(). The feed owns its doorbell, ring fd, reader, frame buffer and retry
 * timer. Single-threaded, on the process's libevent loop.
 */
#ifndef CV_CONSUMER_FEED_H
#define CV_CONSUMER_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"
#include "common/ring/ring.h"
#include "proto/msg.h"

struct event;
struct event_base;
struct cv_feed;

/* One viewer of a feed: embed it in the connection; the feed links it, never frees it. */
struct cv_feed_viewer {
    struct cv_feed_viewer *next, **pprev;
    struct cv_feed *feed; /* NULL while not attached */
};

enum cv_feed_discont {
    CV_FEED_WRITER_RESTART = 1, /* a new worker: its clock and sequence start again */
    CV_FEED_FRAMES_LOST = 2,    /* this reader was lapped or a read was torn: frames skipped */
    CV_FEED_RING_REPLACED = 3,  /* the supervisor moved the feed onto a new ring (resize, repair) */
};

struct cv_feed_ops {
    /* The supervisor answered: status 0 (ring mapped) or a negative errno with its reason. */
    void (*on_subscribed)(struct cv_feed *f, int status, const char *reason);
    /* New codec parameters; prev is what was there before (track_count 0 the first time). */
    void (*on_params)(struct cv_feed *f, const struct cv_stream_info *prev,
                      const struct cv_stream_info *info);
    /* Before the first frame after a discontinuity; that frame is a keyframe of its track. */
    void (*on_discontinuity)(struct cv_feed *f, enum cv_feed_discont why);
    /* One frame, read once for all viewers; data is valid during the call only. */
    void (*on_frame)(struct cv_feed *f, const struct cv_frame *fr, const uint8_t *data);
};

#define CV_FEED_FDS       3 /* descriptors a feed holds or keeps free (see above) */
#define CV_FEED_FDS_SPARE 4 /* feeds' worth kept free of clients: a client can still watch */
#define CV_FEED_FDS_FIXED                                                                          \
    24 /* besides what is open at cv_feed_set_limit(): a file served, a                            \
        * /proc file read, a message's descriptors in flight, ... */
#define CV_FEED_RETRIES  5
#define CV_FEED_RETRY_MS 1000

/* The process's feeds and its control socket (it does not own the socket). */
struct cv_feed_set {
    struct event_base *base;
    int ctl;
    uint32_t next_sub;
    struct cv_feed *feeds;
    unsigned nfeeds;
    unsigned retry_ms;       /* before subscribing again after a lost ring: CV_FEED_RETRY_MS */
    unsigned fd_limit;       /* RLIMIT_NOFILE when set up; 0: not counted */
    unsigned fd_fixed;       /* held whatever the load, slack included */
    const uint32_t *clients; /* the consumer's count of clients (a descriptor each); not owned */
};

void cv_feed_set_init(struct cv_feed_set *s, struct event_base *base, int ctl);
/* Counts descriptors from now: RLIMIT_NOFILE against what is open now (the process's own, fixed)
 * plus CV_FEED_FDS_FIXED, one per client (*clients, the consumer's own counter) and
 * CV_FEED_FDS per feed. Call it once the process is set up, before it takes clients. */
void cv_feed_set_limit(struct cv_feed_set *s, const uint32_t *clients);
/* Whether `clients` more clients and `feeds` more feeds fit in the descriptor limit. A consumer
 * admits a client only with room for it and CV_FEED_FDS_SPARE feeds. */
bool cv_feed_set_room(const struct cv_feed_set *s, unsigned clients, unsigned feeds);
/* A SUBSCRIBED message: returns 1 when ring_fd was kept, 0 when the caller closes it. */
int cv_feed_set_on_subscribed(struct cv_feed_set *s, const struct cv_msg_subscribed *m,
                              int ring_fd);

/* Subscribes to (camera, variant). NULL when it cannot even be asked for: errno EMFILE when its
 * descriptors do not fit (cv_feed_set_room; a consumer answers 503), else logged. */
struct cv_feed *cv_feed_open(struct cv_feed_set *s, const char *camera, const char *variant,
                             const struct cv_feed_ops *ops, void *ctx);
/* The feed of (camera, variant) this consumer opened with ops that is not refused (subscribed or
 * waiting), or NULL: what every consumer's find-or-open starts with, so that one camera's
 * viewers of one kind share one subscription. */
struct cv_feed *cv_feed_find(const struct cv_feed_set *s, const char *camera, const char *variant,
                             const struct cv_feed_ops *ops);
/* A viewer needs a keyframe (RTCP PLI/FIR, a new peer): asks the camera's worker, at most once
 * a second per feed however many viewers ask. */
void cv_feed_request_keyframe(struct cv_feed *f);
/* Unsubscribes and frees. Viewers still attached are detached (not freed). */
void cv_feed_close(struct cv_feed *f);

void *cv_feed_ctx(const struct cv_feed *f);
const char *cv_feed_camera(const struct cv_feed *f);
const char *cv_feed_variant(const struct cv_feed *f);
/* 0 once subscribed, 1 while waiting for the answer, or the refusal's negative errno. */
int cv_feed_status(const struct cv_feed *f, const char **reason);
/* The codec parameters as last loaded (stable pointer for the feed's life). */
const struct cv_stream_info *cv_feed_info(const struct cv_feed *f);
/* Loads new parameters now (calling on_params); true once every video track has its
 * parameter sets, which is what a viewer needs to start (an SDP, an fMP4 init segment). */
bool cv_feed_ready(struct cv_feed *f);
/* Reads whatever is new now, as the doorbell would (before planning a catch-up). */
void cv_feed_pump(struct cv_feed *f);

/*
 * Calls fn for each frame from the newest keyframe up to the last one delivered live, read with
 * a clone of the live cursor. Returns the number of frames, or a negative errno.
 */
typedef void (*cv_feed_replay_fn)(void *arg, const struct cv_frame *fr, const uint8_t *data);
int cv_feed_replay_frames(struct cv_feed *f, cv_feed_replay_fn fn, void *arg);

void cv_feed_viewer_attach(struct cv_feed *f, struct cv_feed_viewer *v);
void cv_feed_viewer_detach(struct cv_feed_viewer *v);
/* The first viewer (then v->next). Detach only outside on_frame, or fetch next first. */
struct cv_feed_viewer *cv_feed_viewers(const struct cv_feed *f);

#endif
