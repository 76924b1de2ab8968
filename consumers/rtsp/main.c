/*
 * camvisor-rtsp: the RTSP restream process, on the consumer skeleton (common/consumer/process.h).
 * Started by the supervisor with its control socket on fd 3 and the listening socket (already
 * bound, so a restart never refuses a client) on fd 4. If it is killed, its sessions are lost,
 * the cameras are not: the supervisor restarts it and the clients reconnect.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/consumer/settings.h"
#include "consumers/rtsp/rtsp.h"
#include "proto/child.h"

static void cv_srv_on_camera_gone(void *ctx, const char *camera)
{
    cv_rtsp_feed_drop_all(ctx, camera); /* its sessions end; the other cameras' are untouched */
}

static const struct cv_setting_def cv_srv_settings[] = {
    CV_SETTING(struct cv_rtsp_settings, "username", CV_SET_STR, username),
    CV_SETTING(struct cv_rtsp_settings, "password", CV_SET_STR, password),
    CV_SETTING(struct cv_rtsp_settings, "local_auth", CV_SET_BOOL, local_auth),
    CV_SETTING(struct cv_rtsp_settings, "default_query", CV_SET_STR, default_query),
    CV_SETTING(struct cv_rtsp_settings, "max_connections", CV_SET_U32, max_conns),
    CV_SETTING(struct cv_rtsp_settings, "max_connections_per_client", CV_SET_U32,
               max_conns_per_client),
    CV_SETTING(struct cv_rtsp_settings, "request_timeout", CV_SET_U32, request_timeout_ms),
    CV_SETTING(struct cv_rtsp_settings, "idle_timeout", CV_SET_U32, idle_timeout_ms),
};

static int cv_srv_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    struct cv_rtsp_srv *srv = ctx;
    if (m->type == CV_MSG_SETTINGS) {
        /* applies to the next request and tick */
        cv_settings_read(cv_srv_settings, sizeof(cv_srv_settings) / sizeof(cv_srv_settings[0]),
                         &srv->settings, &m->u.settings);
        srv->have_settings = true;
    } else if (m->type != CV_MSG_CATALOGUE && m->type != CV_MSG_CAMERA_STATUS) {
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    }
    /*
     * The first clients wait in the kernel's backlog until the settings (connection caps,
     * auth) and the catalogue are in: accepted before them, a client met the default caps
     * (seen: a sixth connection over max_connections_per_client = 5 taken on a busy machine,
     * the process still starting) or a 404 for a camera that exists.
     */
    if (!srv->accepting && srv->have_settings && srv->proc.cams.have_catalogue) {
        cv_listener_enable(&srv->listen);
        srv->accepting = true;
    }
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
    .on_camera_gone = cv_srv_on_camera_gone,
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
    cv_throttle_init(&srv.throttle, CV_RTSP_AUTH_ADDR_FAILS, CV_RTSP_AUTH_WINDOW_MS,
                     CV_RTSP_AUTH_LOCK_MS);
    if (cv_listener_open(&srv.listen, base, CV_CHILD_LISTEN_FD, "rtsp", CV_RTSP_ACCEPT_PAUSE_MS,
                         cv_rtsp_conn_accept, &srv) < 0)
        goto out;
    srv.listen.conn_count = &srv.conn_count;
    /* Descriptors are counted from here (conn.c admits clients, feeds refuse themselves), so
     * that a ring sent by the supervisor always finds one free. */
    cv_feed_set_limit(&srv.proc.feeds, &srv.conn_count);
    if (cv_consumer_run(&srv.proc) == 0)
        rc = 0;
out:
    while (srv.conns)
        cv_rtsp_conn_close(srv.conns, NULL);
    cv_rtsp_conn_reap(&srv);
    cv_listener_close(&srv.listen);
    if (srv.udp_rtp >= 0)
        close(srv.udp_rtp);
    if (srv.udp_rtcp >= 0)
        close(srv.udp_rtcp);
    cv_consumer_fini(&srv.proc);
    return rc;
}
