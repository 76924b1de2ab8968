/*
 * camvisor-webrtc: the WebRTC process (consumers/webrtc/webrtc.h), on the consumer skeleton
 * (common/consumer/process.h). Started by the supervisor with its control socket on fd 3, the
 * ICE-TCP listener on fd 4 and the UDP media socket on fd 5, both bound by the supervisor, so a
 * restart loses no port. Offers come from camvisor-http over its peer link.
 *
 * If it is killed, its sessions end (the page's player reconnects by itself); no camera and no
 * other protocol notices: the supervisor restarts it and hands camvisor-http a new link.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/consumer/settings.h"
#include "consumers/webrtc/webrtc.h"
#include "proto/child.h"

static const struct cv_setting_def cv_webrtc_settings_defs[] = {
    CV_SETTING(struct cv_webrtc_settings, "candidates", CV_SET_STR, candidates),
    CV_SETTING(struct cv_webrtc_settings, "ice_servers", CV_SET_STR, ice_servers),
    CV_SETTING(struct cv_webrtc_settings, "certificate", CV_SET_STR, certificate),
    CV_SETTING(struct cv_webrtc_settings, "max_sessions", CV_SET_U32, max_sessions),
    CV_SETTING(struct cv_webrtc_settings, "max_sessions_per_client", CV_SET_U32,
               max_sessions_per_client),
};

/* ---- our candidates ------------------------------------------------------------------------- */

static void cv_webrtc_add_local(struct cv_webrtc_srv *srv, const char *ip, uint16_t port)
{
    for (unsigned i = 0; i < srv->local_count; i++)
        if (strcmp(srv->local[i].ip, ip) == 0 && srv->local[i].port == port)
            return;
    if (srv->local_count >= CV_WEBRTC_MAX_LOCAL)
        return;
    snprintf(srv->local[srv->local_count].ip, sizeof(srv->local[0].ip), "%s", ip);
    srv->local[srv->local_count].port = port;
    srv->local_count++;
}

/*
 * Host candidates: the configured ones first (a NAT's public address, `candidates = ip:port,
 * ...`), then the address the socket is bound to, or every IPv4 interface address when it is
 * bound to all of them (loopback last: a browser on this machine). Names are not resolved here
 * (that would block the loop): they are said in the log and skipped.
 */
static void cv_webrtc_find_local(struct cv_webrtc_srv *srv)
{
    srv->local_count = 0;
    char list[sizeof(srv->set.candidates)];
    snprintf(list, sizeof(list), "%s", srv->set.candidates);
    for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
         tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : srv->port;
        if (colon)
            *colon = '\0';
        struct in_addr a4;
        if (inet_pton(AF_INET, tok, &a4) == 1 && port > 0 && port < 65536)
            cv_webrtc_add_local(srv, tok, (uint16_t)port);
        else
            cv_warn("[webrtc] candidates: '%s' is not an IPv4 address:port: skipped", tok);
    }
    struct sockaddr_storage where = {0};
    socklen_t wl = sizeof(where);
    if (getsockname(srv->udp, (struct sockaddr *)&where, &wl) == 0 && where.ss_family == AF_INET &&
        ((struct sockaddr_in *)&where)->sin_addr.s_addr != htonl(INADDR_ANY)) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &((struct sockaddr_in *)&where)->sin_addr, ip, sizeof(ip));
        cv_webrtc_add_local(srv, ip, srv->port);
        return;
    }
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) < 0)
        return;
    for (int loop = 0; loop < 2; loop++)
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
                (bool)(i->ifa_flags & IFF_LOOPBACK) != (loop == 1))
                continue;
            char ip[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, ip, sizeof(ip));
            cv_webrtc_add_local(srv, ip, srv->port);
        }
    freeifaddrs(ifa);
}

/* [webrtc] certificate: our DTLS certificate from a PEM file (a fingerprint that outlives
 * restarts), else the one made at start. A file that cannot be used is said once, and the
 * certificate made at start stays: WebRTC keeps working. */
static void cv_webrtc_use_certificate(struct cv_webrtc_srv *srv)
{
    const char *path = srv->set.certificate;
    if (!path[0] || strcmp(path, srv->certificate_loaded) == 0)
        return;
    char why[128];
    if (cv_dtls_ctx_load(&srv->dtls, path, why, sizeof(why)) < 0) {
        cv_err("[webrtc] certificate %s: %s; using a certificate made at start instead", path, why);
    } else {
        cv_info("[webrtc] certificate %s: fingerprint sha-256 %s", path, srv->dtls.fingerprint);
    }
    snprintf(srv->certificate_loaded, sizeof(srv->certificate_loaded), "%s", path);
}

/* ---- the loop ----------------------------------------------------------------------------- */

static void cv_webrtc_udp_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_webrtc_srv *srv = arg;
    /* A budget per wake: a flood on the port cannot starve the control socket and the feeds. */
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(fd, srv->in, sizeof(srv->in), MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fl);
        if (n < 0)
            return;
        if ((size_t)n > sizeof(srv->in)) { /* no packet of ours is this large */
            srv->bad_packets++;
            continue;
        }
        cv_webrtc_input(srv, srv->in, (size_t)n, &from, fl, NULL);
    }
}

static int cv_webrtc_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    (void)fds;
    (void)nfds;
    struct cv_webrtc_srv *srv = ctx;
    if (m->type == CV_MSG_SETTINGS) {
        cv_settings_read(cv_webrtc_settings_defs,
                         sizeof(cv_webrtc_settings_defs) / sizeof(cv_webrtc_settings_defs[0]),
                         &srv->set, &m->u.settings);
        srv->have_settings = true;
        cv_webrtc_use_certificate(srv);
        cv_webrtc_find_local(srv);
        cv_webrtc_srflx_configure(srv);
    } else if (m->type != CV_MSG_CATALOGUE && m->type != CV_MSG_CAMERA_STATUS) {
        cv_warn("unexpected %s message ignored", cv_msg_type_name(m->type));
    }
    return 0;
}

static void cv_webrtc_on_peer_message(void *ctx, enum cv_role role, struct cv_msg *m)
{
    struct cv_webrtc_srv *srv = ctx;
    if (role != CV_ROLE_HTTP) {
        cv_warn("%s from role %u ignored", cv_msg_type_name(m->type), (unsigned)role);
        return;
    }
    if (m->type == CV_MSG_WEBRTC_OFFER && srv->have_settings)
        cv_webrtc_offer(srv, &m->u.webrtc_offer);
    else if (m->type == CV_MSG_WEBRTC_CLOSE)
        cv_webrtc_close_by_id(srv, m->u.webrtc_close.session, m->u.webrtc_close.req_id,
                              m->u.webrtc_close.with_signalling != 0);
    else if (m->type == CV_MSG_WEBRTC_CANDIDATE)
        ; /* ICE-lite: the browser's checks find us; its candidates are not needed */
    else
        cv_warn("unexpected %s from camvisor-http ignored", cv_msg_type_name(m->type));
}

static void cv_webrtc_on_tick(void *ctx, uint64_t now_ms)
{
    cv_webrtc_tick(ctx, now_ms);
    cv_webrtc_tcp_tick(ctx, now_ms);
    cv_webrtc_srflx_tick(ctx, now_ms);
}

static void cv_webrtc_on_reap(void *ctx)
{
    cv_webrtc_reap(ctx);
    cv_webrtc_tcp_reap(ctx);
}

static void cv_webrtc_on_camera_gone(void *ctx, const char *camera)
{
    cv_webrtc_drop_camera(ctx, camera);
}

static const struct cv_consumer_ops cv_webrtc_ops = {
    .role = CV_ROLE_WEBRTC,
    .on_message = cv_webrtc_on_message,
    .on_tick = cv_webrtc_on_tick,
    .on_reap = cv_webrtc_on_reap,
    .on_camera_gone = cv_webrtc_on_camera_gone,
    .on_peer_message = cv_webrtc_on_peer_message,
};

int main(void)
{
    static struct cv_webrtc_srv srv; /* the process's one server */
    int rc = 1;
    srv.udp = CV_CHILD_UDP_FD;
    if (cv_consumer_init(&srv.proc, "webrtc", &cv_webrtc_ops, &srv, CV_WEBRTC_TICK_MS) < 0)
        goto out;
    struct sockaddr_storage where = {0};
    socklen_t wl = sizeof(where);
    if (getsockname(srv.udp, (struct sockaddr *)&where, &wl) < 0 ||
        (where.ss_family != AF_INET && where.ss_family != AF_INET6)) {
        cv_err("no UDP socket on fd %d: not started by camvisor?", CV_CHILD_UDP_FD);
        goto out;
    }
    srv.port = ntohs(where.ss_family == AF_INET ? ((struct sockaddr_in *)&where)->sin_port
                                                : ((struct sockaddr_in6 *)&where)->sin6_port);
    if (cv_srtp_library_init() < 0 || cv_dtls_ctx_init(&srv.dtls) < 0) {
        cv_err("cannot set up DTLS-SRTP");
        goto out;
    }
    srv.udp_ev = event_new(srv.proc.base, srv.udp, EV_READ | EV_PERSIST, cv_webrtc_udp_cb, &srv);
    if (!srv.udp_ev || event_add(srv.udp_ev, NULL) < 0)
        goto out;
    /* ICE-TCP on fd 4 (the same port number, bound by the supervisor too). */
    srv.tcp_budget.max = 64u << 20;
    if (cv_listener_open(&srv.tcp_listen, srv.proc.base, CV_CHILD_LISTEN_FD, "webrtc ICE-TCP", 250,
                         cv_webrtc_tcp_accept, &srv) < 0)
        goto out;
    srv.tcp_listen.conn_count = &srv.tcp_count;
    cv_listener_enable(&srv.tcp_listen);
    cv_feed_set_limit(&srv.proc.feeds, &srv.tcp_count);
    if (cv_consumer_run(&srv.proc) == 0)
        rc = 0;
out:
    for (struct cv_webrtc_session *s = srv.sessions; s; s = s->next)
        cv_webrtc_session_close(s, NULL);
    for (struct cv_webrtc_tcp *c = srv.tcps; c; c = c->next)
        cv_webrtc_tcp_close(c, NULL);
    cv_webrtc_reap(&srv);
    cv_webrtc_tcp_reap(&srv);
    cv_listener_close(&srv.tcp_listen);
    cv_webrtc_srflx_free(&srv);
    if (srv.udp_ev)
        event_free(srv.udp_ev);
    cv_dtls_ctx_fini(&srv.dtls);
    cv_consumer_fini(&srv.proc);
    return rc;
}
