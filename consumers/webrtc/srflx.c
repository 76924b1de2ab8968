/*
 * The server-reflexive candidate: when `[webrtc] ice_servers` names a STUN server, we ask it, from
 * our one ICE socket, which address and port it sees us at (RFC 8445 §5.1.1.2), and put that in
 * every answer after the host candidates. This is for a camvisor behind a NAT that forwards the
 * port (or a 1:1 NAT): ICE-lite sends no checks of its own, so a browser's checks must be let in
 * unasked. Nothing is contacted unless the setting names a server (go2rtc contacts Google's and
 * Cloudflare's by default; we do not).
 *
 * The name is resolved with libevent's asynchronous resolver (the loop never blocks on DNS). A
 * request is retransmitted 0.5, 1, 2, 4 ... 30 s apart until answered; once answered it is asked
 * again every 30 s, which keeps the NAT's mapping alive and notices a new public address.
 * Responses are taken only from the server's address and only with the transaction id we sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/util.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/stun.h"
#include "consumers/webrtc/webrtc.h"

#define CV_SRFLX_FIRST_MS   500
#define CV_SRFLX_MAX_MS     30000
#define CV_SRFLX_REFRESH_MS 30000

static void cv_srflx_resolved(int err, struct evutil_addrinfo *res, void *arg)
{
    struct cv_webrtc_srv *srv = arg;
    struct cv_webrtc_srflx *x = &srv->srflx;
    if (err == EVUTIL_EAI_CANCEL)
        return; /* cv_webrtc_srflx_fini(): x is not ours any more */
    x->resolving = NULL;
    if (err || !res) {
        cv_warn("[webrtc] ice_servers: cannot resolve %s: %s; no server-reflexive candidate",
                x->host, err ? evutil_gai_strerror(err) : "no address");
        x->retry_resolve_ms = cv_clock_mono_ms() + CV_SRFLX_MAX_MS;
        return;
    }
    memcpy(&x->server, res->ai_addr, res->ai_addrlen);
    x->server_len = (socklen_t)res->ai_addrlen;
    evutil_freeaddrinfo(res);
    x->next_ms = 0; /* ask at the next tick */
    x->gap_ms = CV_SRFLX_FIRST_MS;
}

static void cv_srflx_resolve(struct cv_webrtc_srv *srv)
{
    struct cv_webrtc_srflx *x = &srv->srflx;
    if (!x->dns) {
        x->dns = evdns_base_new(srv->proc.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                                    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!x->dns) {
            cv_warn("[webrtc] ice_servers: no resolver (/etc/resolv.conf?): no server-reflexive "
                    "candidate");
            return;
        }
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", x->port);
    struct evutil_addrinfo hints = {.ai_family = AF_INET, /* our ICE socket is IPv4 */
                                    .ai_socktype = SOCK_DGRAM,
                                    .ai_protocol = IPPROTO_UDP};
    x->retry_resolve_ms = 0;
    /* NULL when the callback has run already (a numeric address), as the callback leaves it. */
    x->resolving = evdns_getaddrinfo(x->dns, x->host, port, &hints, cv_srflx_resolved, srv);
}

void cv_webrtc_srflx_configure(struct cv_webrtc_srv *srv)
{
    struct cv_webrtc_srflx *x = &srv->srflx;
    char host[CV_STUN_SERVER_HOST_SIZE];
    uint16_t port = 0;
    int rc = cv_stun_server_parse(srv->set.ice_servers, host, sizeof(host), &port);
    if (x->on && rc == 0 && strcmp(host, x->host) == 0 && port == x->port)
        return; /* the same server: keep what we know */
    cv_webrtc_srflx_fini(srv);
    if (rc == -EINVAL)
        cv_warn("[webrtc] ice_servers: '%s' is not stun:host[:port]: no server-reflexive "
                "candidate",
                srv->set.ice_servers);
    if (rc < 0)
        return;
    snprintf(x->host, sizeof(x->host), "%s", host);
    x->port = port;
    x->on = true;
    cv_info("[webrtc] ice_servers: asking %s:%u for our public address", host, port);
    cv_srflx_resolve(srv);
}

void cv_webrtc_srflx_tick(struct cv_webrtc_srv *srv, uint64_t now_ms)
{
    struct cv_webrtc_srflx *x = &srv->srflx;
    if (!x->on)
        return;
    if (!x->server_len) {
        if (!x->resolving && x->retry_resolve_ms && now_ms >= x->retry_resolve_ms)
            cv_srflx_resolve(srv);
        return;
    }
    if (now_ms < x->next_ms)
        return;
    if (getrandom(x->tid, sizeof(x->tid), 0) != (ssize_t)sizeof(x->tid))
        return;
    x->asked = true;
    uint8_t req[CV_STUN_HEADER_LEN];
    int n = cv_stun_build_binding_request(req, sizeof(req), x->tid);
    if (n > 0)
        sendto(srv->udp, req, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&x->server,
               x->server_len);
    x->next_ms = now_ms + x->gap_ms;
    if (x->gap_ms < CV_SRFLX_MAX_MS)
        x->gap_ms = x->gap_ms * 2 > CV_SRFLX_MAX_MS ? CV_SRFLX_MAX_MS : x->gap_ms * 2;
}

bool cv_webrtc_srflx_input(struct cv_webrtc_srv *srv, const uint8_t *p, size_t n,
                           const struct sockaddr_storage *from)
{
    struct cv_webrtc_srflx *x = &srv->srflx;
    const struct sockaddr_in *a = (const struct sockaddr_in *)from,
                             *b = (const struct sockaddr_in *)&x->server;
    if (!x->on || !x->asked || !x->server_len || from->ss_family != AF_INET ||
        b->sin_family != AF_INET || a->sin_addr.s_addr != b->sin_addr.s_addr ||
        a->sin_port != b->sin_port)
        return false;
    struct sockaddr_storage mapped;
    if (cv_stun_read_mapped(p, n, x->tid, &mapped) < 0 || mapped.ss_family != AF_INET)
        return false; /* not the answer we wait for: the caller treats it as any packet */
    char ip[INET_ADDRSTRLEN];
    const struct sockaddr_in *m = (const struct sockaddr_in *)&mapped;
    inet_ntop(AF_INET, &m->sin_addr, ip, sizeof(ip));
    uint16_t port = ntohs(m->sin_port);
    if (!x->have || strcmp(ip, x->ip) != 0 || port != x->mapped_port)
        cv_info("[webrtc] %s:%u sees us at %s:%u: offered as a server-reflexive candidate", x->host,
                x->port, ip, port);
    snprintf(x->ip, sizeof(x->ip), "%s", ip);
    x->mapped_port = port;
    x->have = true;
    x->asked = false;
    x->gap_ms = CV_SRFLX_FIRST_MS;
    x->next_ms = cv_clock_mono_ms() + CV_SRFLX_REFRESH_MS;
    return true;
}

void cv_webrtc_srflx_fini(struct cv_webrtc_srv *srv)
{
    struct cv_webrtc_srflx *x = &srv->srflx;
    if (x->resolving)
        evdns_getaddrinfo_cancel(x->resolving); /* its callback sees EVUTIL_EAI_CANCEL */
    struct evdns_base *dns = x->dns;
    memset(x, 0, sizeof(*x));
    x->dns = dns; /* kept: one resolver per process, freed by cv_webrtc_srflx_free() */
}

void cv_webrtc_srflx_free(struct cv_webrtc_srv *srv)
{
    cv_webrtc_srflx_fini(srv);
    if (srv->srflx.dns)
        evdns_base_free(srv->srflx.dns, 0);
    srv->srflx.dns = NULL;
}
