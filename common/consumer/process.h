/*
 * The consumer API, process side: the skeleton every consumer process is built on (camvisor-rtsp
 * today, camvisor-http and camvisor-webrtc next), so that a consumer is only its protocol.
 *
 *   cv_consumer_init()   log identity, non-dumpable (proto/child.h), the event loop, the control
 *                        socket on fd 3, SIGTERM, a periodic tick, a deferred reap
 *   ... the consumer opens its listener on fd 4 and anything else on p->base ...
 *   cv_consumer_run()    takes SIGTERM from now on (cv_child_term_ready), says HELLO, runs the
 *                        loop until SIGTERM or until the supervisor goes away
 *   cv_consumer_fini()
 *
 * Messages: SUBSCRIBED goes to the feeds (common/consumer/feed.h, p->feeds); CATALOGUE and
 * CAMERA_STATUS update the camera table (common/consumer/cameras.h, p->cams: a camera that left
 * is reported to ops->on_camera_gone) and then, like every other message, go to ops->on_message;
 * PEER (a socket to another consumer, common/consumer/peer.h) is taken here.
 * Connections closed from deep inside a callback are freed later, from the loop, by ops->on_reap
 * after cv_consumer_reap_soon(): nobody holds a pointer to them by then.
 *
 * Ownership: p owns its event base, events and message buffer; not the control socket (fd 3,
 * the supervisor's contract).
 */
#ifndef CV_CONSUMER_PROCESS_H
#define CV_CONSUMER_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/consumer/cameras.h"
#include "common/consumer/feed.h"
#include "common/consumer/peer.h"
#include "proto/msg.h"

struct event;
struct event_base;

struct cv_consumer_ops {
    enum cv_role role; /* told to the supervisor in HELLO */
    /* A message other than SUBSCRIBED; returns how many of fds it kept (proto/chan.h). */
    int (*on_message)(void *ctx, struct cv_msg *m, int *fds, int nfds);
    void (*on_tick)(void *ctx, uint64_t now_ms); /* every tick_ms; may be NULL */
    void (*on_reap)(void *ctx);                  /* after cv_consumer_reap_soon(); may be NULL */
    void (*on_camera_gone)(void *ctx, const char *camera); /* left the catalogue; may be NULL */
    /* Another consumer's link (common/consumer/peer.h) came up or went down; may be NULL. */
    void (*on_peer)(void *ctx, enum cv_role role, bool up);
    /* A message from another consumer over its link; may be NULL. */
    void (*on_peer_message)(void *ctx, enum cv_role role, struct cv_msg *m);
};

struct cv_consumer {
    struct event_base *base; /* owned: the process's one loop */
    int ctl;                 /* fd 3, not owned */
    struct cv_feed_set feeds;
    struct cv_cameras cams; /* the catalogue and each camera's last status */
    struct cv_peer_link peers[CV_CONSUMER_MAX_PEERS]; /* links to other consumers */
    const struct cv_consumer_ops *ops;
    void *ctx;
    unsigned tick_ms;
    struct event *ctl_ev, *sig_ev, *tick_ev, *reap_ev; /* owned */
    struct cv_msg msg; /* receive buffer: the catalogue is large, so not on the stack */
    bool stop;         /* SIGTERM came, or the supervisor went away */
};

/* 0, or a negative errno (logged). On failure call cv_consumer_fini() all the same. */
int cv_consumer_init(struct cv_consumer *p, const char *ident, const struct cv_consumer_ops *ops,
                     void *ctx, unsigned tick_ms);
/* Runs until SIGTERM (0) or the supervisor's end of fd 3 closes (0, logged); <0 on set-up. */
int cv_consumer_run(struct cv_consumer *p);
void cv_consumer_reap_soon(struct cv_consumer *p);

/*
 * For a consumer whose loop is another library's (camvisor-http runs libwebsockets' own loop,
 * docs/architecture.md says why): libevent's loop nested inside it.
 *   cv_consumer_start()   what cv_consumer_run() does before it dispatches (SIGTERM, HELLO)
 *   cv_consumer_loop_fd() a duplicate of libevent's epoll descriptor, owned by the caller: it is
 *                         readable whenever one of libevent's events is ready, so the outer loop
 *                         polls it as one descriptor
 *   cv_consumer_step()    runs what is ready without waiting; false once the process should
 *                         stop (SIGTERM, the supervisor gone)
 * libevent timers do not make that descriptor readable: the outer loop must wake at least every
 * tick_ms (libwebsockets: a timer of its own) and step.
 */
int cv_consumer_start(struct cv_consumer *p);
int cv_consumer_loop_fd(struct cv_consumer *p);
bool cv_consumer_step(struct cv_consumer *p);
void cv_consumer_fini(struct cv_consumer *p);

#endif
