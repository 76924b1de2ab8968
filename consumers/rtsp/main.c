/*
 * camvisor-rtsp: the RTSP restream process, on the consumer skeleton (common/consumer/process.h).
 * Started by the supervisor with its control socket on fd 3 and the listening socket (already
 * bound, so a restart never refuses a client) on fd 4. If it is killed, its sessions are lost,
 * the cameras are not: the supervisor restarts it and the clients reconnect.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base/log.h"
#include "consumers/rtsp/rtsp.h"
#include "proto/child.h"

static void cv_srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int salen, void *arg)
{
    (void)l;
    cv_rtsp_conn_accept(arg, fd, sa, salen);
}

/*
 * accept() failed for a reason other than a client that left (libevent filters those). Out of
 * descriptors (or memory), the listening socket stays readable: without a pause the loop would
 * spin on it at 100 % CPU. Stop accepting for a moment; clients wait in the kernel's backlog.
 */
static void cv_srv_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct cv_rtsp_srv *srv = arg;
    int err = EVUTIL_SOCKET_ERROR();
    cv_warn("cannot accept a client: %s (%u connections open); pausing %d ms",
            evutil_socket_error_to_string(err), srv->conn_count, CV_RTSP_ACCEPT_PAUSE_MS);
    evconnlistener_disable(l);
    struct timeval tv = {0, CV_RTSP_ACCEPT_PAUSE_MS * 1000};
    event_add(srv->resume_ev, &tv);
}

static void cv_srv_accept_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_rtsp_srv *srv = arg;
    evconnlistener_enable(srv->listener);
}

static void cv_srv_on_catalogue(struct cv_rtsp_srv *srv, const struct cv_msg_catalogue *cat)
{
    /* Cameras that left the catalogue lose their sessions; the rest are untouched. */
    if (srv->have_catalogue) {
        for (uint32_t i = 0; i < srv->cat.camera_count; i++) {
            bool kept = false;
            for (uint32_t j = 0; j < cat->camera_count; j++)
                kept |= strcmp(srv->cat.cameras[i].name, cat->cameras[j].name) == 0;
            if (!kept)
                cv_rtsp_feed_drop_all(srv, srv->cat.cameras[i].name);
        }
    }
    srv->cat = *cat;
    srv->have_catalogue = true;
    /* ... and their status: the table holds the cameras of the catalogue, never more. */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < srv->cam_status_count; i++)
        for (uint32_t j = 0; j < cat->camera_count; j++)
            if (strcmp(srv->cam_status[i].camera, cat->cameras[j].name) == 0) {
                srv->cam_status[keep++] = srv->cam_status[i];
                break;
            }
    srv->cam_status_count = keep;
    if (cat->log_level <= CV_LOG_ERR)
        cv_log_set_level((enum cv_log_level)cat->log_level);
    cv_dbg("catalogue: %u cameras", cat->camera_count);
}

const struct cv_msg_camera_status *cv_rtsp_camera_status(const struct cv_rtsp_srv *srv,
                                                         const char *camera)
{
    for (uint32_t i = 0; i < srv->cam_status_count; i++)
        if (strcmp(srv->cam_status[i].camera, camera) == 0)
            return &srv->cam_status[i];
    return NULL;
}

static void cv_srv_on_camera_status(struct cv_rtsp_srv *srv, const struct cv_msg_camera_status *st)
{
    struct cv_msg_camera_status *slot =
        (struct cv_msg_camera_status *)cv_rtsp_camera_status(srv, st->camera);
    if (!slot && srv->cam_status_count < CV_PROTO_MAX_CAMS)
        slot = &srv->cam_status[srv->cam_status_count++];
    if (slot)
        *slot = *st;
    else /* cannot happen while the catalogue is the bound (max_cameras); said if it does */
        cv_warn("camera %s: status table full (%d cameras): status dropped", st->camera,
                CV_PROTO_MAX_CAMS);
}

static int cv_srv_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    struct cv_rtsp_srv *srv = ctx;
    bool ready = srv->have_settings && srv->have_catalogue;
    if (m->type == CV_MSG_CATALOGUE) {
        cv_srv_on_catalogue(srv, &m->u.catalogue);
    } else if (m->type == CV_MSG_RTSP_SETTINGS) {
        srv->settings = m->u.rtsp_settings; /* applies to the next request and tick */
        srv->have_settings = true;
    } else if (m->type == CV_MSG_CAMERA_STATUS) {
        cv_srv_on_camera_status(srv, &m->u.camera_status);
    } else {
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    }
    /*
     * The first clients wait in the kernel's backlog until the settings (connection caps,
     * auth) and the catalogue are in: accepted before them, a client met the default caps
     * (seen: a sixth connection over max_connections_per_client = 5 taken on a busy machine,
     * the process still starting) or a 404 for a camera that exists.
     */
    if (!ready && srv->have_settings && srv->have_catalogue)
        evconnlistener_enable(srv->listener);
    return 0;
}

static void cv_srv_on_tick(void *ctx, uint64_t now_ms)
{
    struct cv_rtsp_srv *srv = ctx;
    for (struct cv_rtsp_conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        cv_rtsp_conn_tick(c, now_ms);
    }
}

static void cv_srv_on_reap(void *ctx)
{
    cv_rtsp_conn_reap(ctx);
}

static const struct cv_consumer_ops cv_srv_ops = {
    .role = CV_ROLE_RTSP,
    .on_message = cv_srv_on_message,
    .on_tick = cv_srv_on_tick,
    .on_reap = cv_srv_on_reap,
};

/*
 * An even/odd UDP port pair for RTP/RTCP to UDP clients, on the RTSP listener's own address:
 * `listen = 127.0.0.1:8554` must not open media ports on every interface.
 */
static int cv_srv_udp_pair(struct cv_rtsp_srv *srv)
{
    struct sockaddr_storage where = {0};
    socklen_t wl = sizeof(where);
    if (getsockname(CV_CHILD_LISTEN_FD, (struct sockaddr *)&where, &wl) < 0 ||
        (where.ss_family != AF_INET && where.ss_family != AF_INET6))
        return -EINVAL;
    int family = where.ss_family;
    /* A listener on [::] takes IPv4 clients too: so must its media sockets. */
    bool dual =
        family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&where)->sin6_addr);
    for (int attempt = 0; attempt < 32; attempt++) {
        int rtp = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int rtcp = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int v6only = !dual;
        uint16_t port = 0;
        if (getrandom(&port, sizeof(port), GRND_NONBLOCK) < 0)
            port = (uint16_t)getpid();
        port = (uint16_t)((20000 + port % 20000) & ~1u); /* even, in 20000..39999 */
        struct sockaddr_storage a = where;
        in_port_t *pp = family == AF_INET ? &((struct sockaddr_in *)&a)->sin_port
                                          : &((struct sockaddr_in6 *)&a)->sin6_port;
        bool ok = rtp >= 0 && rtcp >= 0;
        if (ok && family == AF_INET6)
            ok = setsockopt(rtp, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0 &&
                 setsockopt(rtcp, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0;
        if (ok) {
            *pp = htons(port);
            if (bind(rtp, (struct sockaddr *)&a, wl) == 0) {
                *pp = htons((uint16_t)(port + 1));
                if (bind(rtcp, (struct sockaddr *)&a, wl) == 0) {
                    srv->udp_rtp = rtp;
                    srv->udp_rtcp = rtcp;
                    srv->udp_port = port;
                    return 0;
                }
            }
        }
        if (rtp >= 0)
            close(rtp);
        if (rtcp >= 0)
            close(rtcp);
    }
    return -EADDRINUSE;
}

int main(void)
{
    static struct cv_rtsp_srv srv; /* the process's one server, ~100 KiB of scratch included */
    int rc = 1;
    srv.udp_rtp = srv.udp_rtcp = -1;
    srv.out_budget.max = CV_RTSP_MAX_BACKLOG_ALL;
    if (cv_consumer_init(&srv.proc, "rtsp", &cv_srv_ops, &srv, 500) < 0)
        goto out;
    struct event_base *base = srv.proc.base;
    if (cv_srv_udp_pair(&srv) < 0)
        cv_warn("no UDP ports for RTP: UDP clients get 461 and retry over TCP");
    srv.resume_ev = event_new(base, -1, 0, cv_srv_accept_resume_cb, &srv);
    srv.listener = evconnlistener_new(
        base, cv_srv_accept_cb, &srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, -1, CV_CHILD_LISTEN_FD);
    if (!srv.resume_ev || !srv.listener) {
        cv_err("cannot set up (no listening socket on fd %d?)", CV_CHILD_LISTEN_FD);
        goto out;
    }
    evconnlistener_set_error_cb(srv.listener, cv_srv_accept_error_cb);
    /* Descriptors are counted from here (conn.c admits clients, feeds refuse themselves), so
     * that a ring sent by the supervisor always finds one free. */
    cv_feed_set_limit(&srv.proc.feeds, &srv.conn_count);
    if (cv_consumer_run(&srv.proc) == 0)
        rc = 0;
out:
    while (srv.conns)
        cv_rtsp_conn_close(srv.conns, NULL);
    cv_rtsp_conn_reap(&srv);
    if (srv.listener)
        evconnlistener_free(srv.listener);
    if (srv.resume_ev)
        event_free(srv.resume_ev);
    if (srv.udp_rtp >= 0)
        close(srv.udp_rtp);
    if (srv.udp_rtcp >= 0)
        close(srv.udp_rtcp);
    cv_consumer_fini(&srv.proc);
    return rc;
}
