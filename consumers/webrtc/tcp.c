/*
 * ICE-TCP, passive (RFC 6544), for networks that block UDP: the browser connects to the same port
 * number over TCP (fd 4, bound by the supervisor) and sends the packets it would send over UDP,
 * each after a 16-bit length (RFC 4571). Each packet goes to the same input as the UDP socket's
 * (session.c), with the connection as its way back; a connection whose check passes carries its
 * session's media from then on. A connection that passes no check within CV_WEBRTC_TCP_BIND_MS is
 * closed, and so is one whose queue overflows (the viewer cannot keep up: its packets were being
 * dropped anyway) or that sends a frame larger than any packet of ours.
 */
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "consumers/webrtc/webrtc.h"

void cv_webrtc_tcp_close(struct cv_webrtc_tcp *c, const char *why)
{
    if (c->dead)
        return;
    c->dead = true;
    event_del(c->rd_ev);
    event_del(c->wr_ev);
    if (c->session) {
        struct cv_webrtc_session *s = c->session;
        c->session = NULL;
        s->tcp = NULL;
        cv_webrtc_session_close(s, why ? why : "its ICE-TCP connection closed");
    }
    cv_consumer_reap_soon(&c->srv->proc);
}

void cv_webrtc_tcp_reap(struct cv_webrtc_srv *srv)
{
    for (struct cv_webrtc_tcp **pp = &srv->tcps; *pp;) {
        struct cv_webrtc_tcp *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        srv->tcp_count--;
        event_free(c->rd_ev);
        event_free(c->wr_ev);
        cv_outq_free(&c->out);
        close(c->fd);
        free(c);
    }
}

int cv_webrtc_tcp_send(struct cv_webrtc_tcp *c, const uint8_t *p, size_t n)
{
    if (c->dead || n > 0xffff)
        return -EPIPE;
    uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
    struct iovec iov[2] = {{len, 2}, {(void *)p, n}};
    int rc = cv_outq_writev(&c->out, c->fd, iov, 2);
    if (rc == 1)
        event_add(c->wr_ev, NULL);
    else if (rc < 0)
        cv_webrtc_tcp_close(c, rc == -ENOBUFS ? "ICE-TCP viewer too slow" : "ICE-TCP write failed");
    return rc < 0 ? rc : 0;
}

static void cv_webrtc_tcp_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_webrtc_tcp *c = arg;
    int rc = cv_outq_flush(&c->out, fd);
    if (rc == 0)
        event_del(c->wr_ev);
    else if (rc < 0)
        cv_webrtc_tcp_close(c, "ICE-TCP write failed");
}

static void cv_webrtc_tcp_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_webrtc_tcp *c = arg;
    for (int budget = 64; budget > 0 && !c->dead; budget--) {
        size_t want =
            c->in_len < 2 ? 2 - c->in_len : (size_t)(c->in[0] << 8 | c->in[1]) + 2 - c->in_len;
        ssize_t n = recv(fd, c->in + c->in_len, want, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            cv_webrtc_tcp_close(c, n == 0 ? NULL : "ICE-TCP read failed");
            return;
        }
        if (n < 0)
            return;
        c->in_len += (size_t)n;
        if (c->in_len < 2)
            continue;
        size_t flen = (size_t)(c->in[0] << 8 | c->in[1]);
        if (flen == 0 || flen + 2 > sizeof(c->in)) {
            c->srv->bad_packets++;
            cv_webrtc_tcp_close(c, "ICE-TCP frame too large");
            return;
        }
        if (c->in_len == flen + 2) {
            cv_webrtc_input(c->srv, c->in + 2, flen, &c->peer, c->peerlen, c);
            c->in_len = 0;
        }
    }
}

void cv_webrtc_tcp_accept(void *ctx, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct cv_webrtc_srv *srv = ctx;
    struct cv_webrtc_tcp *c = NULL;
    const struct cv_admit_limits lim = {CV_WEBRTC_TCP_MAX, srv->set.max_sessions_per_client};
    const char *why = cv_admit_check(&srv->proc, &lim, srv->tcp_count, 0);
    if (why || !(c = calloc(1, sizeof(*c)))) {
        if (cv_admit_log_due(&srv->refused_log_ms, cv_clock_mono_ms()))
            cv_warn("ICE-TCP connection refused: %s", why ? why : "out of memory");
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    c->opened_ms = cv_clock_mono_ms();
    if (salen <= sizeof(c->peer)) {
        memcpy(&c->peer, sa, salen);
        c->peerlen = salen;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evutil_make_socket_nonblocking(fd);
    cv_outq_init(&c->out, CV_WEBRTC_TCP_OUT, &srv->tcp_budget);
    if (cv_admit_conn_events(srv->proc.base, fd, cv_webrtc_tcp_read_cb, cv_webrtc_tcp_write_cb, c,
                             &c->rd_ev, &c->wr_ev) < 0) {
        cv_outq_free(&c->out);
        close(fd);
        free(c);
        return;
    }
    c->next = srv->tcps;
    srv->tcps = c;
    srv->tcp_count++;
}

void cv_webrtc_tcp_tick(struct cv_webrtc_srv *srv, uint64_t now_ms)
{
    for (struct cv_webrtc_tcp *c = srv->tcps; c; c = c->next)
        if (!c->dead && !c->session && now_ms - c->opened_ms > CV_WEBRTC_TCP_BIND_MS)
            cv_webrtc_tcp_close(c, "ICE-TCP connection passed no check in time");
}
