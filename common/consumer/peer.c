/* Consumer to consumer: see common/consumer/peer.h. */
#include "common/consumer/peer.h"

#include <errno.h>
#include <event2/event.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/consumer/process.h"

static const char *cv_peer_name(enum cv_role role)
{
    switch (role) {
    case CV_ROLE_RTSP: return "camvisor-rtsp";
    case CV_ROLE_HTTP: return "camvisor-http";
    case CV_ROLE_WEBRTC: return "camvisor-webrtc";
    default: return "a consumer";
    }
}

static void cv_peer_down(struct cv_peer_link *l, const char *why)
{
    if (l->fd < 0)
        return;
    cv_info("%s: link down (%s)", cv_peer_name(l->role), why);
    event_free(l->rd_ev);
    event_free(l->wr_ev);
    l->rd_ev = l->wr_ev = NULL;
    cv_chan_out_clear(&l->out);
    close(l->fd);
    l->fd = -1;
    struct cv_consumer *p = l->p;
    if (p->ops->on_peer)
        p->ops->on_peer(p->ctx, l->role, false);
}

static int cv_peer_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds; /* no peer message carries descriptors: cv_chan_drain closes any */
    struct cv_peer_link *l = ctx;
    struct cv_consumer *p = l->p;
    if (p->ops->on_peer_message)
        p->ops->on_peer_message(p->ctx, l->role, m);
    /* The handler may have dropped the link (a send to a stuck peer): stop reading a descriptor
     * that is closed, and whose number may already be another's. */
    return l->fd < 0 ? -EPIPE : 0;
}

static void cv_peer_rd_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_peer_link *l = arg;
    /* The skeleton's message buffer: peer and control messages are never handled nested. */
    int rc = cv_chan_drain(fd, &l->p->msg, cv_peer_on_message, l, 64, cv_peer_name(l->role));
    if (rc < 0)
        cv_peer_down(l, rc == -EPIPE ? "it closed" : strerror(-rc));
}

static void cv_peer_wr_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_peer_link *l = arg;
    int rc = cv_chan_out_flush(&l->out, fd);
    if (rc < 0)
        cv_peer_down(l, strerror(-rc));
    else if (rc == 0)
        event_del(l->wr_ev);
}

static struct cv_peer_link *cv_peer_slot(struct cv_consumer *p, enum cv_role role, bool make)
{
    struct cv_peer_link *free_slot = NULL;
    for (int i = 0; i < CV_CONSUMER_MAX_PEERS; i++) {
        struct cv_peer_link *l = &p->peers[i];
        if (l->role == role)
            return l;
        if (l->role == CV_ROLE_SUPERVISOR && !free_slot)
            free_slot = l;
    }
    if (make && free_slot) {
        *free_slot = (struct cv_peer_link){.p = p, .role = role, .fd = -1};
        return free_slot;
    }
    return NULL;
}

void cv_peer_adopt(struct cv_consumer *p, enum cv_role role, int fd)
{
    struct cv_peer_link *l = cv_peer_slot(p, role, true);
    if (!l || role == CV_ROLE_SUPERVISOR || role == CV_ROLE_WORKER) {
        cv_warn("a link to role %u refused: %s", (unsigned)role, l ? "not a consumer" : "no room");
        close(fd);
        return;
    }
    cv_peer_down(l, "replaced"); /* the process at the other end restarted */
    l->rd_ev = event_new(p->base, fd, EV_READ | EV_PERSIST, cv_peer_rd_cb, l);
    l->wr_ev = event_new(p->base, fd, EV_WRITE | EV_PERSIST, cv_peer_wr_cb, l);
    if (!l->rd_ev || !l->wr_ev) {
        cv_err("%s: cannot watch its link", cv_peer_name(role));
        if (l->rd_ev)
            event_free(l->rd_ev);
        if (l->wr_ev)
            event_free(l->wr_ev);
        l->rd_ev = l->wr_ev = NULL;
        close(fd);
        return;
    }
    l->fd = fd;
    event_add(l->rd_ev, NULL);
    cv_info("%s: link up", cv_peer_name(role));
    if (p->ops->on_peer)
        p->ops->on_peer(p->ctx, role, true);
}

int cv_consumer_peer_send(struct cv_consumer *p, enum cv_role role, const struct cv_msg *m)
{
    struct cv_peer_link *l = cv_peer_slot(p, role, false);
    if (!l || l->fd < 0)
        return -ENOTCONN;
    int rc = cv_chan_out_send(&l->out, l->fd, m, NULL, 0);
    if (rc == 1) {
        event_add(l->wr_ev, NULL);
        return 0;
    }
    if (rc < 0)
        cv_peer_down(l, rc == -ENOBUFS ? "it reads nothing: stuck" : strerror(-rc));
    return rc < 0 ? rc : 0;
}

bool cv_consumer_peer_up(const struct cv_consumer *p, enum cv_role role)
{
    for (int i = 0; i < CV_CONSUMER_MAX_PEERS; i++)
        if (p->peers[i].role == role)
            return p->peers[i].fd >= 0;
    return false;
}

void cv_peer_close_all(struct cv_consumer *p)
{
    for (int i = 0; i < CV_CONSUMER_MAX_PEERS; i++) {
        struct cv_peer_link *l = &p->peers[i];
        if (l->role == CV_ROLE_SUPERVISOR || l->fd < 0)
            continue;
        event_free(l->rd_ev);
        event_free(l->wr_ev);
        cv_chan_out_clear(&l->out);
        close(l->fd);
        l->fd = -1;
    }
}
