/* One control message per SOCK_SEQPACKET datagram, descriptors passed with SCM_RIGHTS. */
#include "proto/chan.h"

#include "common/base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void cv_chan_queued_free(struct cv_chan_queued *e)
{
    free(e->buf);
    for (int i = 0; i < e->nfds; i++)
        close(e->fds[i]);
    *e = (struct cv_chan_queued){0};
}

int cv_chan_pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
        return -errno;
    return 0;
}

/* One encoded datagram with its descriptors: all of it, or -EAGAIN and nothing. */
static int cv_chan_send_raw(int sock, const uint8_t *buf, size_t len, const int *fds, int nfds)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * CV_PROTO_MAX_FDS)];
    } ctl;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == ECONNRESET ? -EPIPE : -errno;
    return 0;
}

int cv_chan_send(int sock, const struct cv_msg *m, const int *fds, int nfds)
{
    uint8_t buf[CV_PROTO_MAX_MSG];
    if (nfds < 0 || nfds > CV_PROTO_MAX_FDS)
        return -EINVAL;
    int len = cv_msg_encode(m, buf, sizeof(buf));
    if (len < 0)
        return len;
    return cv_chan_send_raw(sock, buf, (size_t)len, fds, nfds);
}

int cv_chan_out_send(struct cv_chan_out *o, int sock, const struct cv_msg *m, const int *fds,
                     int nfds)
{
    uint8_t buf[CV_PROTO_MAX_MSG];
    if (nfds < 0 || nfds > CV_PROTO_MAX_FDS)
        return -EINVAL;
    int len = cv_msg_encode(m, buf, sizeof(buf));
    if (len < 0)
        return len;
    if (o->count == 0) {
        int rc = cv_chan_send_raw(sock, buf, (size_t)len, fds, nfds);
        if (rc != -EAGAIN)
            return rc;
    }
    if (o->count == CV_CHAN_QUEUE)
        return -ENOBUFS;
    struct cv_chan_queued *e = &o->q[(o->head + o->count) % CV_CHAN_QUEUE];
    *e = (struct cv_chan_queued){.buf = malloc((size_t)len), .len = (size_t)len};
    if (!e->buf)
        return -ENOMEM;
    memcpy(e->buf, buf, (size_t)len);
    for (int i = 0; i < nfds; i++) {
        e->fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
        if (e->fds[i] < 0) {
            int err = -errno;
            e->nfds = i;
            cv_chan_queued_free(e);
            return err;
        }
    }
    e->nfds = nfds;
    o->count++;
    return 1;
}

int cv_chan_out_flush(struct cv_chan_out *o, int sock)
{
    while (o->count > 0) {
        struct cv_chan_queued *e = &o->q[o->head];
        int rc = cv_chan_send_raw(sock, e->buf, e->len, e->fds, e->nfds);
        if (rc == -EAGAIN)
            return 1;
        if (rc < 0)
            return rc;
        cv_chan_queued_free(e);
        o->head = (o->head + 1) % CV_CHAN_QUEUE;
        o->count--;
    }
    return 0;
}

void cv_chan_out_clear(struct cv_chan_out *o)
{
    while (o->count > 0) {
        cv_chan_queued_free(&o->q[o->head]);
        o->head = (o->head + 1) % CV_CHAN_QUEUE;
        o->count--;
    }
    o->head = 0;
}

int cv_chan_recv(int sock, struct cv_msg *m, int *fds, int *nfds)
{
    uint8_t buf[CV_PROTO_MAX_MSG];
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * CV_PROTO_MAX_FDS)];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl)};
    *nfds = 0;

    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == ECONNRESET ? -EPIPE : -errno;
    if (n == 0)
        return -EPIPE;

    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
            if (*nfds < CV_PROTO_MAX_FDS)
                fds[(*nfds)++] = fd;
            else
                close(fd);
        }
    }

    /*
     * MSG_CTRUNC: the message is whole but the kernel dropped some or all of its descriptors,
     * which it does when this process is at its RLIMIT_NOFILE. The message is still decoded and
     * handed on, flagged, so that its receiver can tell "a ring granted, but lost" from "no
     * ring" (a consumer's feed subscribes again): ignoring it as malformed left a feed following
     * a ring nobody wrote any more, its viewers stuck.
     */
    int rc = -EBADMSG;
    if (!(mh.msg_flags & MSG_TRUNC))
        rc = cv_msg_decode(buf, (size_t)n, m);
    if (rc < 0) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return rc;
    }
    return mh.msg_flags & MSG_CTRUNC ? CV_CHAN_FDS_LOST : 0;
}

int cv_chan_drain(int sock, struct cv_msg *m, cv_chan_handler fn, void *ctx, int budget,
                  const char *peer)
{
    for (; budget > 0; budget--) {
        int fds[CV_PROTO_MAX_FDS], nfds = 0;
        int rc = cv_chan_recv(sock, m, fds, &nfds);
        if (rc == -EAGAIN)
            return 0;
        if (rc == -EBADMSG) {
            cv_warn("%s: malformed control message ignored", peer);
            continue;
        }
        if (rc < 0)
            return rc;
        if (rc == CV_CHAN_FDS_LOST)
            cv_warn("%s: a %s message lost descriptors to this process's descriptor limit (%d "
                    "arrived)",
                    peer, cv_msg_type_name(m->type), nfds);
        int kept = fn(ctx, m, fds, nfds);
        for (int i = kept < 0 ? 0 : kept; i < nfds; i++)
            close(fds[i]);
        if (kept < 0)
            return kept;
    }
    return 0;
}
