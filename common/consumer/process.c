/* The consumer process skeleton: see common/consumer/process.h. */
#include "common/consumer/process.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "proto/chan.h"
#include "proto/child.h"

static void cv_consumer_camera_gone(void *ctx, const char *camera)
{
    struct cv_consumer *p = ctx;
    if (p->ops->on_camera_gone)
        p->ops->on_camera_gone(p->ctx, camera);
}

static const struct cv_cameras_ops cv_consumer_cameras_ops = {.on_gone = cv_consumer_camera_gone};

static int cv_consumer_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    struct cv_consumer *p = ctx;
    if (m->type == CV_MSG_SUBSCRIBED)
        return cv_feed_set_on_subscribed(&p->feeds, &m->u.subscribed, nfds == 1 ? fds[0] : -1);
    if (m->type == CV_MSG_PEER) {
        if (nfds == 1)
            cv_peer_adopt(p, (enum cv_role)m->u.peer.role, fds[0]);
        else
            cv_warn("a link to another consumer came without its socket (out of descriptors?)");
        return nfds == 1 ? 1 : 0;
    }
    if (m->type == CV_MSG_CATALOGUE)
        cv_cameras_on_catalogue(&p->cams, &m->u.catalogue);
    else if (m->type == CV_MSG_CAMERA_STATUS)
        cv_cameras_on_status(&p->cams, &m->u.camera_status);
    if (p->ops->on_message)
        return p->ops->on_message(p->ctx, m, fds, nfds);
    cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    return 0;
}

static void cv_consumer_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_consumer *p = arg;
    if (cv_chan_drain(fd, &p->msg, cv_consumer_on_message, p, INT32_MAX, "supervisor") < 0) {
        cv_info("supervisor gone, exiting");
        p->stop = true;
        event_base_loopbreak(p->base);
    }
}

static void cv_consumer_sig_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    struct cv_consumer *p = arg;
    cv_child_term_taken();
    p->stop = true;
    event_base_loopbreak(p->base);
}

static void cv_consumer_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_consumer *p = arg;
    p->ops->on_tick(p->ctx, cv_clock_mono_ms());
}

static void cv_consumer_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_consumer *p = arg;
    if (p->ops->on_reap)
        p->ops->on_reap(p->ctx);
}

int cv_consumer_init(struct cv_consumer *p, const char *ident, const struct cv_consumer_ops *ops,
                     void *ctx, unsigned tick_ms)
{
    memset(p, 0, sizeof(*p));
    cv_log_init(ident, NULL);
    if (cv_child_init() < 0) {
        cv_err("cannot make this process non-dumpable: %s", strerror(errno));
        return -EPERM;
    }
    signal(SIGPIPE, SIG_IGN);
    p->ops = ops;
    p->ctx = ctx;
    p->ctl = CV_CHILD_CTL_FD;
    p->tick_ms = tick_ms;
    p->base = event_base_new();
    /* Two priorities: SIGTERM first, so a stop that came while the process was starting is
     * taken before any other work (a burst of catalogue, subscriptions) is begun. */
    if (!p->base || event_base_priority_init(p->base, 2) < 0)
        return -ENOMEM;
    cv_feed_set_init(&p->feeds, p->base, p->ctl);
    cv_cameras_init(&p->cams, &cv_consumer_cameras_ops, p);
    p->ctl_ev = event_new(p->base, p->ctl, EV_READ | EV_PERSIST, cv_consumer_ctl_cb, p);
    p->sig_ev = evsignal_new(p->base, SIGTERM, cv_consumer_sig_cb, p);
    p->reap_ev = event_new(p->base, -1, 0, cv_consumer_reap_cb, p);
    if (ops->on_tick)
        p->tick_ev = event_new(p->base, -1, EV_PERSIST, cv_consumer_tick_cb, p);
    if (!p->ctl_ev || !p->sig_ev || !p->reap_ev || (ops->on_tick && !p->tick_ev) ||
        event_priority_set(p->sig_ev, 0) < 0) {
        cv_err("cannot set up the event loop");
        return -ENOMEM;
    }
    return 0;
}

int cv_consumer_start(struct cv_consumer *p)
{
    event_add(p->ctl_ev, NULL);
    event_add(p->sig_ev, NULL);
    cv_child_term_ready();
    if (p->tick_ev) {
        struct timeval tv = {p->tick_ms / 1000, (p->tick_ms % 1000) * 1000};
        event_add(p->tick_ev, &tv);
    }
    struct cv_msg hello = {.type = CV_MSG_HELLO};
    hello.u.hello.role = p->ops->role;
    hello.u.hello.pid = (uint32_t)getpid();
    if (cv_chan_send(p->ctl, &hello, NULL, 0) < 0) {
        cv_err("no control socket on fd %d: not started by camvisor?", CV_CHILD_CTL_FD);
        return -ENOTCONN;
    }
    return 0;
}

int cv_consumer_run(struct cv_consumer *p)
{
    int rc = cv_consumer_start(p);
    if (rc < 0)
        return rc;
    event_base_dispatch(p->base);
    return 0;
}

/*
 * libevent does not publish its backend's descriptor, so it is found the way a person would:
 * the one epoll instance among this process's descriptors, looked up before anything else
 * (libwebsockets polls with poll(2), not epoll) creates another.
 */
int cv_consumer_loop_fd(struct cv_consumer *p)
{
    if (strcmp(event_base_get_method(p->base), "epoll") != 0) {
        cv_err("libevent uses %s, not epoll: cannot nest its loop", event_base_get_method(p->base));
        return -ENOTSUP;
    }
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        cv_err("cannot list /proc/self/fd: %s", strerror(errno));
        return -errno;
    }
    int found = -1, count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[64], link[64];
        int fd = atoi(e->d_name);
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d))
            continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n > 0 && (link[n] = '\0', strcmp(link, "anon_inode:[eventpoll]") == 0)) {
            found = fd;
            count++;
        }
    }
    closedir(d);
    if (count != 1) {
        cv_err("expected libevent's one epoll descriptor, found %d", count);
        return -ENOENT;
    }
    int dup_fd = fcntl(found, F_DUPFD_CLOEXEC, 3);
    if (dup_fd < 0) {
        cv_err("cannot duplicate libevent's epoll descriptor: %s", strerror(errno));
        return -errno;
    }
    return dup_fd;
}

bool cv_consumer_step(struct cv_consumer *p)
{
    /* p->stop, not only libevent's break flag: the next event_base_loop() clears that, so a
     * SIGTERM taken by an outer caller's own event_base_loop() would be lost. */
    if (!p->stop)
        event_base_loop(p->base, EVLOOP_NONBLOCK);
    return !p->stop;
}

void cv_consumer_reap_soon(struct cv_consumer *p)
{
    event_active(p->reap_ev, EV_TIMEOUT, 0);
}

void cv_consumer_fini(struct cv_consumer *p)
{
    cv_peer_close_all(p);
    struct event *evs[] = {p->reap_ev, p->tick_ev, p->sig_ev, p->ctl_ev};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    if (p->base)
        event_base_free(p->base);
    memset(p, 0, sizeof(*p));
}
