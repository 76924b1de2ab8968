/*
 * Consumer to consumer: a socket to another consumer process (its role row's peer, e.g.
 * camvisor-http and camvisor-webrtc), handed over by the supervisor in a CV_MSG_PEER message once
 * both processes are up, and again after either restarts. The two exchange typed control messages
 * (proto/msg.h: webrtc_offer, webrtc_answer, ...) directly: the supervisor parses none of them.
 *
 * The process skeleton (common/consumer/process.c) takes CV_MSG_PEER itself: a new socket for a
 * role replaces the old one (the old process is gone), and the consumer hears of both through
 * ops->on_peer (up or down) and gets each message through ops->on_peer_message. A peer that
 * leaves CV_CHAN_QUEUE messages unread is taken as stuck: its link is dropped (down), and the
 * supervisor's next hand-over brings a new one.
 *
 * Ownership: a link owns its socket, events and queued messages.
 */
#ifndef CV_CONSUMER_PEER_H
#define CV_CONSUMER_PEER_H

#include <stdbool.h>

#include "proto/chan.h"
#include "proto/msg.h"

struct event;
struct event_base;
struct cv_consumer;

#define CV_CONSUMER_MAX_PEERS 2

struct cv_peer_link {
    struct cv_consumer *p;
    enum cv_role role; /* of the process at the other end; CV_ROLE_SUPERVISOR: a free slot */
    int fd;            /* owned; -1 when not connected */
    struct event *rd_ev, *wr_ev; /* owned */
    struct cv_chan_out out;      /* what the socket did not take yet */
};

/* A CV_MSG_PEER message with its descriptor (taken: closed on failure). */
void cv_peer_adopt(struct cv_consumer *p, enum cv_role role, int fd);
/* Sends m to the process of role: 0, or -ENOTCONN when none is connected, -ENOBUFS when it is
 * stuck (its link is dropped), another negative errno. */
int cv_consumer_peer_send(struct cv_consumer *p, enum cv_role role, const struct cv_msg *m);
bool cv_consumer_peer_up(const struct cv_consumer *p, enum cv_role role);
void cv_peer_close_all(struct cv_consumer *p);

#endif
