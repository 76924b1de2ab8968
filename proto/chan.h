/*
 * Sending and receiving one control message (with up to CV_PROTO_MAX_FDS descriptors) over a
 * SOCK_SEQPACKET socket. Non-blocking sockets are fine: a seqpacket send is all-or-nothing.
 */
#ifndef CV_PROTO_CHAN_H
#define CV_PROTO_CHAN_H

#include "proto/msg.h"

/* fds are borrowed (the kernel duplicates them into the peer). Returns 0 or a negative errno. */
int cv_chan_send(int sock, const struct cv_msg *m, const int *fds, int nfds);
/*
 * Receives one message. Returns 0, CV_CHAN_FDS_LOST, -EAGAIN, -EPIPE on orderly close, -EBADMSG
 * for an invalid or truncated message (received fds are closed). On success the caller owns the
 * fds in *fds and *nfds says how many; fds the message type does not expect are the caller's to
 * close. CV_CHAN_FDS_LOST: the message, but the kernel dropped some or all of its descriptors
 * (MSG_CTRUNC: this process is at its RLIMIT_NOFILE); *nfds says how many came.
 */
#define CV_CHAN_FDS_LOST 1
int cv_chan_recv(int sock, struct cv_msg *m, int *fds, int *nfds);
/*
 * Handles one received message. It owns fds[0 .. return value - 1] (the descriptors it kept);
 * cv_chan_drain closes the rest. A negative return stops the drain and is passed on. A message
 * whose descriptors were lost (logged) comes with fewer than its type carries: the handler
 * must tell that from none.
 */
typedef int (*cv_chan_handler)(void *ctx, struct cv_msg *m, int *fds, int nfds);

/*
 * Receives and handles every message waiting on a non-blocking socket (at most budget of them,
 * so one chatty peer cannot starve an event loop). Malformed messages are logged as from peer and
 * skipped. Returns 0 when the socket is drained or the budget spent, -EPIPE when the peer is gone,
 * another negative errno, or the handler's negative return.
 */
int cv_chan_drain(int sock, struct cv_msg *m, cv_chan_handler fn, void *ctx, int budget,
                  const char *peer);

/* A connected SOCK_SEQPACKET pair, both ends close-on-exec and non-blocking. */
int cv_chan_pair(int sv[2]);

/*
 * What the supervisor sends a child that is slow to read: messages the socket would not take
 * wait here, in order, with their descriptors (duplicated), until the socket is writable again.
 * Nothing is dropped: when CV_CHAN_QUEUE messages wait, the peer is stuck and the sender must
 * treat it as such (the supervisor kills and restarts it), never skip a message.
 */
#define CV_CHAN_QUEUE 64

struct cv_chan_out {
    struct cv_chan_queued {
        uint8_t *buf; /* owned: the encoded message */
        size_t len;
        int fds[CV_PROTO_MAX_FDS]; /* owned duplicates */
        int nfds;
    } q[CV_CHAN_QUEUE];
    unsigned head, count;
};

/*
 * Sends now when nothing waits and the socket takes it, else queues. 0 sent, 1 queued (flush
 * when the socket is writable), -ENOBUFS the queue is full (the peer is stuck), or another
 * negative errno (the peer is gone, the message is invalid).
 */
int cv_chan_out_send(struct cv_chan_out *o, int sock, const struct cv_msg *m, const int *fds,
                     int nfds);
/* Sends what waits. 0 when nothing is left, 1 when the socket filled again, or -errno. */
int cv_chan_out_flush(struct cv_chan_out *o, int sock);
/* Drops what waits (the peer is gone), closing its descriptors. */
void cv_chan_out_clear(struct cv_chan_out *o);

#endif
