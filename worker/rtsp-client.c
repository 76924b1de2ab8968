/*
 * The camera RTSP client's connection (see rtsp-client.h): resolution, connect, TLS, requests,
 * authentication, and the split of the incoming stream into responses and interleaved frames.
 *
 * Plain TCP is read with our own recv() into one CV_RTSPC_IN_SIZE buffer, not through a
 * bufferevent: libevent 2.1 reads at most 4 KiB per call and per loop turn, which cost a camera
 * of ~21 kB frames 18 syscalls a frame (bench/RESULTS.md §5); one recv() takes a whole frame,
 * an IDR included. Output goes through an evbuffer written when the socket takes it.
 *
 * Input is parsed in place: an interleaved frame is at most 4 + 65535 bytes and a response at
 * most CV_RTSPC_MAX_IN (common/net/rtsp-msg.h's limits), and every complete item is consumed in the
 * read callback that completed it, so what stays buffered is bounded by one partial item.
 * Anything that is neither a '$' frame nor a well-formed RTSP message is an error: the source
 * drops the connection and reconnects.
 *
 * rtsps:// uses OpenSSL through bufferevent_openssl WITHOUT certificate verification: cameras
 * ship self-signed certificates for their IP address and no CA to check them against, so we
 * encrypt but do not authenticate the camera (go2rtc's rtspx:// and FFmpeg's default do the
 * same). SNI is sent when the host is a name. TLS keeps the bufferevent (its 4 KiB reads are
 * TLS records anyway); what it decrypts is moved into the same input buffer and parsed there.
 */
#include "worker/rtsp-client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/rtsp-auth.h"
#include "common/base/url.h"

#define CV_RTSPC_MAX_IN  (CV_RTSP_MAX_HEADER_BYTES + CV_RTSP_MAX_BODY)
#define CV_RTSPC_MAX_OUT (256u * 1024) /* a camera that reads nothing gets no more RTCP */
#define CV_RTSPC_REQ_MAX 8192
#define CV_RTSPC_IN_SIZE (256u * 1024) /* holds an IDR of a 1080p camera in one recv() */

struct cv_rtspc {
    struct event_base *base;
    struct evdns_base *dns;                    /* borrowed */
    SSL_CTX *ssl_ctx;                          /* borrowed; NULL: plain TCP */
    struct evdns_getaddrinfo_request *dns_req; /* in flight; cancelled by free */
    struct cv_rtspc_dns *dns_ticket;           /* its callback's argument, see cv_rtspc_dns_cb */
    uint8_t *in; /* CV_RTSPC_IN_SIZE bytes, in_len of them not parsed yet; owned */
    size_t in_len;
    /* Plain TCP: our socket, its events, and what it has not sent yet. */
    int fd;
    int connect_err; /* connect() failed at once with this errno */
    struct event *rev, *wev;
    struct evbuffer *out;
    struct bufferevent *bev; /* rtsps only, owned: closes the socket, frees the SSL */
    struct event *timer;     /* owned: connect or response deadline */
    struct cv_rtspc_cbs cbs;
    void *arg;
    char host[256];
    uint16_t port;
    char user[128];
    char pass[128]; /* secret: never logged, wiped on free */
    unsigned timeout_ms;
    bool connected;
    bool failed;   /* on_error was called: nothing more is delivered */
    bool dead;     /* freed while one of our callbacks was on the stack */
    unsigned busy; /* depth of our callbacks on the stack */
    uint32_t cseq;

    /* The awaited request, kept to send it again with credentials after a 401. */
    bool pending;
    uint8_t pending_method; /* enum cv_rtsp_method */
    uint32_t pending_cseq;
    unsigned auth_tries; /* 401s answered for this request */
    char pending_uri[2048];
    char pending_headers[1024];

    bool have_chal; /* every request carries Authorization from then on */
    struct cv_rtsp_challenge chal;
    uint32_t nc;

    char session[256];
    unsigned session_timeout;
    struct cv_rtsp_msg msg; /* parse space (9 KiB) */
};

static void cv_rtspc_destroy(struct cv_rtspc *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->fd >= 0)
        close(c->fd);
    if (c->out)
        evbuffer_free(c->out);
    free(c->in);
    if (c->timer)
        event_free(c->timer);
    OPENSSL_cleanse(c->pass, sizeof(c->pass));
    OPENSSL_cleanse(&c->chal, sizeof(c->chal));
    free(c);
}

static void cv_rtspc_enter(struct cv_rtspc *c)
{
    c->busy++;
}

static void cv_rtspc_leave(struct cv_rtspc *c)
{
    if (--c->busy == 0 && c->dead)
        cv_rtspc_destroy(c);
}

static void cv_rtspc_arm(struct cv_rtspc *c)
{
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

/* Stops every event of the connection (it stays open until destroyed). */
static void cv_rtspc_quiet(struct cv_rtspc *c)
{
    evtimer_del(c->timer);
    if (c->bev)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (c->rev)
        event_del(c->rev);
    if (c->wev)
        event_del(c->wev);
}

__attribute__((format(printf, 3, 4))) static void cv_rtspc_fail(struct cv_rtspc *c, int err,
                                                                const char *fmt, ...)
{
    if (c->failed || c->dead)
        return;
    c->failed = true;
    c->pending = false;
    cv_rtspc_quiet(c);
    char why[192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    c->cbs.on_error(c->arg, err, why);
}

/* ---- output ------------------------------------------------------------------------------- */

static struct evbuffer *cv_rtspc_output(struct cv_rtspc *c)
{
    return c->bev ? bufferevent_get_output(c->bev) : c->out;
}

/*
 * Plain TCP: hands queued output to the socket now and the rest when it becomes writable. A
 * write error is left to the write event, so that on_error never runs inside a caller's
 * cv_rtspc_request().
 */
static void cv_rtspc_flush(struct cv_rtspc *c)
{
    if (c->bev || !c->connected || c->failed || evbuffer_get_length(c->out) == 0)
        return;
    evbuffer_write(c->out, c->fd);
    if (evbuffer_get_length(c->out) > 0)
        event_add(c->wev, NULL);
}

/* ---- requests ----------------------------------------------------------------------------- */

/* Appends to buf[*n..size); false (and *n unchanged) when it does not fit. */
__attribute__((format(printf, 4, 5))) static bool cv_rtspc_put(char *buf, size_t size, size_t *n,
                                                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, size - *n, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= size - *n)
        return false;
    *n += (size_t)w;
    return true;
}

/* Formats and queues one request; returns its CSeq or a negative errno. */
static int cv_rtspc_write(struct cv_rtspc *c, enum cv_rtsp_method method, const char *uri,
                          const char *headers)
{
    char req[CV_RTSPC_REQ_MAX], auth[1024];
    const char *mstr = cv_rtsp_method_str(method);
    uint32_t cseq = c->cseq + 1;
    size_t n = 0;
    bool ok = cv_rtspc_put(req, sizeof(req), &n,
                           "%s %s RTSP/1.0\r\nCSeq: %u\r\n"
                           "User-Agent: camvisor\r\n",
                           mstr, uri, cseq);
    if (ok && c->have_chal) {
        int an = cv_rtsp_auth_build(&c->chal, c->user, c->pass, mstr, uri, &c->nc, NULL, auth,
                                    sizeof(auth));
        if (an < 0) {
            OPENSSL_cleanse(auth, sizeof(auth));
            return an;
        }
        ok = cv_rtspc_put(req, sizeof(req), &n, "Authorization: %s\r\n", auth);
        OPENSSL_cleanse(auth, sizeof(auth)); /* Basic carries the password itself */
    }
    if (ok && c->session[0])
        ok = cv_rtspc_put(req, sizeof(req), &n, "Session: %s\r\n", c->session);
    if (ok)
        ok = cv_rtspc_put(req, sizeof(req), &n, "%s\r\n", headers ? headers : "");
    int rc = ok ? evbuffer_add(cv_rtspc_output(c), req, n) : 0;
    OPENSSL_cleanse(req, sizeof(req));
    if (!ok)
        return -E2BIG;
    if (rc < 0)
        return -ENOMEM;
    c->cseq = cseq;
    cv_rtspc_flush(c);
    char shown[512];
    cv_url_redact(uri, shown, sizeof(shown)); /* a query may carry a camera's password */
    cv_dbg("rtsp: > %s %s (CSeq %u)", mstr, shown, cseq);
    return (int)cseq;
}

int cv_rtspc_request(struct cv_rtspc *c, enum cv_rtsp_method method, const char *uri,
                     const char *headers, unsigned flags)
{
    if (!c->connected || c->failed || c->dead)
        return -ENOTCONN;
    bool await = !(flags & CV_RTSPC_NOWAIT);
    if (await) {
        if (c->pending)
            return -EBUSY;
        if (strlen(uri) >= sizeof(c->pending_uri) ||
            (headers && strlen(headers) >= sizeof(c->pending_headers)))
            return -E2BIG;
    }
    int cseq = cv_rtspc_write(c, method, uri, headers);
    if (cseq < 0 || !await)
        return cseq < 0 ? cseq : 0;
    c->pending = true;
    c->pending_method = (uint8_t)method;
    c->pending_cseq = (uint32_t)cseq;
    c->auth_tries = 0;
    snprintf(c->pending_uri, sizeof(c->pending_uri), "%s", uri);
    snprintf(c->pending_headers, sizeof(c->pending_headers), "%s", headers ? headers : "");
    cv_rtspc_arm(c);
    return 0;
}

int cv_rtspc_send_data(struct cv_rtspc *c, uint8_t channel, const uint8_t *data, size_t len)
{
    if (!c->connected || c->failed || c->dead || len > 65535)
        return -ENOTCONN;
    struct evbuffer *out = cv_rtspc_output(c);
    if (evbuffer_get_length(out) > CV_RTSPC_MAX_OUT)
        return -ENOBUFS;
    uint8_t hdr[4] = {'$', channel, (uint8_t)(len >> 8), (uint8_t)len};
    if (evbuffer_add(out, hdr, 4) < 0 || evbuffer_add(out, data, len) < 0)
        return -ENOMEM;
    cv_rtspc_flush(c);
    return 0;
}

const char *cv_rtspc_session(const struct cv_rtspc *c, unsigned *timeout_s)
{
    if (timeout_s)
        *timeout_s = c->session_timeout;
    return c->session;
}

int cv_rtspc_peer(const struct cv_rtspc *c, struct sockaddr_storage *ss, socklen_t *len)
{
    int fd = c->bev ? bufferevent_getfd(c->bev) : c->fd;
    if (!c->connected || fd < 0)
        return -ENOTCONN;
    *len = sizeof(*ss);
    if (getpeername(fd, (struct sockaddr *)ss, len) < 0)
        return -errno;
    return 0;
}

/* ---- responses ---------------------------------------------------------------------------- */

/* A 401 to the awaited request: answer the challenge once (twice when the nonce went stale). */
static void cv_rtspc_on_401(struct cv_rtspc *c, const struct cv_rtsp_msg *m)
{
    struct cv_rtsp_challenge ch;
    if (!c->user[0]) {
        cv_rtspc_fail(c, -EACCES,
                      "authentication failed: the camera requires credentials and none are "
                      "configured (401)");
        return;
    }
    if (cv_rtsp_auth_challenge_pick(m, &ch) < 0) {
        cv_rtspc_fail(c, -EACCES,
                      "authentication failed: the camera offers no supported scheme (401)");
        return;
    }
    if (c->auth_tries >= 2 || (c->auth_tries == 1 && !ch.stale)) {
        cv_rtspc_fail(c, -EACCES,
                      "authentication failed: the camera rejected the credentials "
                      "(401)");
        return;
    }
    c->auth_tries++;
    c->chal = ch;
    c->have_chal = true;
    c->nc = 0;
    cv_dbg("rtsp: %s challenge, answering", ch.scheme == CV_RTSP_AUTH_DIGEST ? "Digest" : "Basic");
    int cseq = cv_rtspc_write(c, (enum cv_rtsp_method)c->pending_method, c->pending_uri,
                              c->pending_headers[0] ? c->pending_headers : NULL);
    if (cseq < 0) {
        cv_rtspc_fail(c, cseq, "cannot build the authenticated request: %s", strerror(-cseq));
        return;
    }
    c->pending_cseq = (uint32_t)cseq;
    cv_rtspc_arm(c);
}

/* A camera may send us requests (keep-alive OPTIONS, GET_PARAMETER, ANNOUNCE): answer them. */
static void cv_rtspc_on_request(struct cv_rtspc *c, const struct cv_rtsp_msg *m)
{
    bool ok = m->method == CV_RTSP_OPTIONS || m->method == CV_RTSP_GET_PARAMETER ||
              m->method == CV_RTSP_SET_PARAMETER;
    evbuffer_add_printf(cv_rtspc_output(c), "RTSP/1.0 %s\r\nCSeq: %u\r\n\r\n",
                        ok ? "200 OK" : "501 Not Implemented", m->cseq);
    cv_rtspc_flush(c);
}

static void cv_rtspc_on_msg(struct cv_rtspc *c, const struct cv_rtsp_msg *m)
{
    if (m->type == CV_RTSP_REQUEST) {
        cv_rtspc_on_request(c, m);
        return;
    }
    cv_dbg("rtsp: < %d %s (CSeq %u)", m->status, m->reason, m->cseq);
    /* Answers to keep-alives, and stray ones, are dropped. A missing CSeq is tolerated. */
    if (!c->pending || (m->has_cseq && m->cseq != c->pending_cseq))
        return;
    if (m->status == 401) {
        cv_rtspc_on_401(c, m);
        return;
    }
    c->pending = false;
    evtimer_del(c->timer);
    const char *sess = cv_rtsp_msg_header(m, "Session");
    if (sess && m->status / 100 == 2) {
        char id[sizeof(c->session)];
        unsigned timeout;
        if (cv_rtsp_session_parse(sess, id, sizeof(id), &timeout) == 0) {
            memcpy(c->session, id, sizeof(id));
            c->session_timeout = timeout;
        }
    }
    c->cbs.on_response(c->arg, (enum cv_rtsp_method)c->pending_method, m);
}

/*
 * Consumes the complete items at the start of p[0..n): interleaved frames go to on_data,
 * messages to cv_rtspc_on_msg. Returns the bytes consumed; stops early when the client failed
 * or was freed by a callback.
 */
static size_t cv_rtspc_consume(struct cv_rtspc *c, const uint8_t *p, size_t n, uint64_t now)
{
    size_t off = 0;
    while (!c->dead && !c->failed && off < n) {
        struct cv_rtsp_item it;
        int rc = cv_rtsp_next_item(p + off, n - off, CV_RTSPC_MAX_IN, &c->msg, &it);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            cv_rtspc_fail(c, -EBADMSG, "malformed data from the camera (%s)",
                          rc == -EMSGSIZE || rc == -E2BIG ? "message too large"
                          : rc == -EPROTONOSUPPORT        ? "not RTSP/1.0"
                                                          : "bad RTSP message");
            break;
        }
        if (it.is_data)
            c->cbs.on_data(c->arg, it.channel, it.data, it.data_len, now);
        else
            cv_rtspc_on_msg(c, &c->msg);
        off += it.size;
    }
    return off;
}

/* Parses what the buffer holds after `added` new bytes; keeps the partial item at its start. */
static void cv_rtspc_input(struct cv_rtspc *c, size_t added)
{
    c->in_len += added;
    size_t used = cv_rtspc_consume(c, c->in, c->in_len, cv_clock_mono_ns());
    if (!c->dead && used > 0) {
        c->in_len -= used;
        memmove(c->in, c->in + used, c->in_len);
    }
}

/*
 * rtsps: moves the decrypted input into our buffer. Every pass leaves less than one item behind
 * (well under half the buffer), so the loop always makes room and empties the bufferevent.
 */
static void cv_rtspc_bev_read_cb(struct bufferevent *bev, void *arg)
{
    struct cv_rtspc *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    cv_rtspc_enter(c);
    while (!c->dead && !c->failed && evbuffer_get_length(in) > 0) {
        int n = evbuffer_remove(in, c->in + c->in_len, CV_RTSPC_IN_SIZE - c->in_len);
        if (n <= 0)
            break;
        cv_rtspc_input(c, (size_t)n);
    }
    cv_rtspc_leave(c);
}

/* Plain TCP: one recv() per wake-up; level-triggered, so what does not fit comes next turn. */
static void cv_rtspc_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_rtspc *c = arg;
    ssize_t r = recv(fd, c->in + c->in_len, CV_RTSPC_IN_SIZE - c->in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    cv_rtspc_enter(c);
    if (r == 0) {
        cv_rtspc_fail(c, -EPIPE, "the camera closed the connection");
    } else if (r < 0) {
        int err = errno;
        cv_rtspc_fail(c, -err, "connection to %s:%u: %s", c->host, c->port, strerror(err));
    } else {
        cv_rtspc_input(c, (size_t)r);
    }
    cv_rtspc_leave(c);
}

/* Plain TCP: the connect finished (or failed), or the socket takes more output. */
static void cv_rtspc_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_rtspc *c = arg;
    cv_rtspc_enter(c);
    if (!c->connected) {
        int err = c->connect_err;
        socklen_t len = sizeof(err);
        if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err) {
            cv_rtspc_fail(c, -err, "cannot connect to %s:%u: %s", c->host, c->port, strerror(err));
        } else {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            c->connected = true;
            evtimer_del(c->timer);
            event_add(c->rev, NULL);
            c->cbs.on_connected(c->arg);
        }
    } else if (!c->failed && evbuffer_write(c->out, fd) < 0 && errno != EAGAIN && errno != EINTR) {
        int err = errno;
        cv_rtspc_fail(c, -err, "connection to %s:%u: %s", c->host, c->port, strerror(err));
    } else if (!c->failed && evbuffer_get_length(c->out) > 0) {
        event_add(c->wev, NULL);
    }
    cv_rtspc_leave(c);
}

/* ---- connection --------------------------------------------------------------------------- */

/* rtsps: connected (TLS handshake done), closed or failed. */
static void cv_rtspc_bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct cv_rtspc *c = arg;
    cv_rtspc_enter(c);
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->connected = true;
        evtimer_del(c->timer);
        bufferevent_enable(bev, EV_READ | EV_WRITE);
        c->cbs.on_connected(c->arg);
    } else if (what & BEV_EVENT_EOF) {
        cv_rtspc_fail(c, -EPIPE, "the camera closed the connection");
    } else if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        unsigned long ssl_err = c->ssl_ctx ? bufferevent_get_openssl_error(bev) : 0;
        if (ssl_err) {
            const char *r = ERR_reason_error_string(ssl_err);
            cv_rtspc_fail(c, -EPROTO, "TLS with %s:%u failed: %s", c->host, c->port,
                          r ? r : "handshake error");
        } else {
            cv_rtspc_fail(c, err ? -err : -EIO, "%s %s:%u: %s",
                          c->connected ? "connection to" : "cannot connect to", c->host, c->port,
                          err ? strerror(err) : "I/O error");
        }
    }
    cv_rtspc_leave(c);
}

static void cv_rtspc_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_rtspc *c = arg;
    cv_rtspc_enter(c);
    if (!c->connected)
        cv_rtspc_fail(c, -ETIMEDOUT, "no connection to %s:%u within %u ms", c->host, c->port,
                      c->timeout_ms);
    else if (c->pending)
        cv_rtspc_fail(c, -ETIMEDOUT, "no answer to %s within %u ms",
                      cv_rtsp_method_str((enum cv_rtsp_method)c->pending_method), c->timeout_ms);
    cv_rtspc_leave(c);
}

bool cv_rtspc_host_is_literal(const char *host)
{
    struct in6_addr a6;
    struct in_addr a4;
    return evutil_inet_pton(AF_INET, host, &a4) == 1 || evutil_inet_pton(AF_INET6, host, &a6) == 1;
}

static void cv_rtspc_connect_tls(struct cv_rtspc *c, const struct evutil_addrinfo *ai)
{
    SSL *ssl = SSL_new(c->ssl_ctx);
    if (!ssl) {
        cv_rtspc_fail(c, -ENOMEM, "cannot create a TLS session");
        return;
    }
    if (!cv_rtspc_host_is_literal(c->host))
        SSL_set_tlsext_host_name(ssl, c->host);
    c->bev = bufferevent_openssl_socket_new(c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        SSL_free(ssl);
        cv_rtspc_fail(c, -ENOMEM, "cannot create a TLS connection");
        return;
    }
    /* Cameras drop connections without close_notify; that is an EOF, not an attack. */
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, cv_rtspc_bev_read_cb, NULL, cv_rtspc_bev_event_cb, c);
    /* A safety net only: the read callback never leaves more than one partial item behind. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, 2 * CV_RTSPC_MAX_IN);
    if (bufferevent_socket_connect(c->bev, ai->ai_addr, (int)ai->ai_addrlen) < 0)
        cv_rtspc_fail(c, errno ? -errno : -EIO, "cannot connect to %s:%u: %s", c->host, c->port,
                      strerror(errno));
}

/*
 * Plain TCP: a non-blocking connect whose outcome the write event reports, from the loop, even
 * when connect() fails at once (so on_error never runs inside cv_rtspc_new).
 */
static void cv_rtspc_connect_tcp(struct cv_rtspc *c, const struct evutil_addrinfo *ai)
{
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (c->fd < 0) {
        cv_rtspc_fail(c, -errno, "cannot create a socket: %s", strerror(errno));
        return;
    }
    c->out = evbuffer_new();
    c->rev = event_new(c->base, c->fd, EV_READ | EV_PERSIST, cv_rtspc_read_cb, c);
    c->wev = event_new(c->base, c->fd, EV_WRITE, cv_rtspc_write_cb, c);
    if (!c->out || !c->rev || !c->wev) {
        cv_rtspc_fail(c, -ENOMEM, "cannot create a connection");
        return;
    }
    if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
        c->connect_err = errno;
        event_active(c->wev, EV_WRITE, 0);
        return;
    }
    event_add(c->wev, NULL);
}

static void cv_rtspc_connect_to(struct cv_rtspc *c, const struct evutil_addrinfo *ai)
{
    if (c->ssl_ctx)
        cv_rtspc_connect_tls(c, ai);
    else
        cv_rtspc_connect_tcp(c, ai);
}

/*
 * A cancelled lookup still calls back, later, from the loop (libevent defers it): by then the
 * client may be gone. So the callback gets this ticket, which the client detaches when it goes
 * and which the callback always frees. (A lookup still pending when the worker exits is never
 * called back, so its ticket is never freed: a few bytes, at exit, only when a name was being
 * resolved at that moment.)
 */
struct cv_rtspc_dns {
    struct cv_rtspc *c; /* NULL once the client is gone */
};

static void cv_rtspc_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
    struct cv_rtspc_dns *ticket = arg;
    struct cv_rtspc *c = ticket->c;
    free(ticket);
    if (!c || result == EVUTIL_EAI_CANCEL) {
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    c->dns_req = NULL;
    c->dns_ticket = NULL;
    cv_rtspc_enter(c);
    if (result != 0 || !res)
        cv_rtspc_fail(c, -EHOSTUNREACH, "cannot resolve %s: %s", c->host,
                      evutil_gai_strerror(result));
    else
        cv_rtspc_connect_to(c, res);
    if (res)
        evutil_freeaddrinfo(res);
    cv_rtspc_leave(c);
}

int cv_rtspc_new(const struct cv_rtspc_cfg *cfg, const struct cv_rtspc_cbs *cbs, void *arg,
                 struct cv_rtspc **out)
{
    if (strlen(cfg->host) >= sizeof(((struct cv_rtspc *)0)->host) ||
        strlen(cfg->user) >= sizeof(((struct cv_rtspc *)0)->user) ||
        strlen(cfg->pass) >= sizeof(((struct cv_rtspc *)0)->pass))
        return -EINVAL;
    struct cv_rtspc *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->fd = -1;
    c->base = cfg->base;
    c->dns = cfg->dns;
    c->ssl_ctx = cfg->ssl;
    c->cbs = *cbs;
    c->arg = arg;
    c->port = cfg->port;
    c->timeout_ms = cfg->timeout_ms;
    snprintf(c->host, sizeof(c->host), "%s", cfg->host);
    snprintf(c->user, sizeof(c->user), "%s", cfg->user);
    snprintf(c->pass, sizeof(c->pass), "%s", cfg->pass);
    c->timer = evtimer_new(c->base, cv_rtspc_timer_cb, c);
    c->in = malloc(CV_RTSPC_IN_SIZE);
    if (!c->timer || !c->in) {
        cv_rtspc_destroy(c);
        return -ENOMEM;
    }
    cv_rtspc_arm(c);
    *out = c;

    char port[8];
    snprintf(port, sizeof(port), "%u", c->port);
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC,
                                    .ai_socktype = SOCK_STREAM,
                                    .ai_protocol = IPPROTO_TCP,
                                    .ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV};
    struct evutil_addrinfo *res = NULL;
    cv_rtspc_enter(c);
    if (evutil_getaddrinfo(c->host, port, &hints, &res) == 0 && res) {
        cv_rtspc_connect_to(c, res);
        evutil_freeaddrinfo(res);
    } else if (!c->dns) {
        cv_rtspc_fail(c, -EHOSTUNREACH, "cannot resolve %s: no resolver", c->host);
    } else {
        hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
        struct cv_rtspc_dns *ticket = calloc(1, sizeof(*ticket));
        if (!ticket) {
            cv_rtspc_fail(c, -ENOMEM, "cannot resolve %s: out of memory", c->host);
        } else {
            ticket->c = c;
            c->dns_ticket = ticket;
            /* May answer at once (from /etc/hosts), calling back before it returns NULL. */
            struct evdns_getaddrinfo_request *req =
                evdns_getaddrinfo(c->dns, c->host, port, &hints, cv_rtspc_dns_cb, ticket);
            if (req && c->dns_ticket)
                c->dns_req = req;
        }
    }
    cv_rtspc_leave(c);
    return 0;
}

/* Best effort: hands a TEARDOWN to the socket without waiting for anything. */
static void cv_rtspc_teardown(struct cv_rtspc *c, const char *uri)
{
    struct evbuffer *out = cv_rtspc_output(c);
    if (c->bev && evbuffer_get_length(out) > 0)
        return; /* TLS records half written by the bufferevent: not ours to interleave with */
    /* Plain TCP: written here (cv_rtspc_flush), as far as the socket takes it at once. */
    if (cv_rtspc_write(c, CV_RTSP_TEARDOWN, uri, NULL) < 0 || !c->bev)
        return;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    size_t n = evbuffer_get_length(out);
    const void *p = evbuffer_pullup(out, (ev_ssize_t)n);
    if (ssl && p && n)
        SSL_write(ssl, p, (int)n);
    ERR_clear_error();
}

void cv_rtspc_free(struct cv_rtspc *c, const char *teardown_uri)
{
    if (!c)
        return;
    if (teardown_uri && c->connected && !c->failed && !c->dead && c->session[0])
        cv_rtspc_teardown(c, teardown_uri);
    if (c->dns_ticket) {
        c->dns_ticket->c = NULL; /* the callback frees it */
        c->dns_ticket = NULL;
        if (c->dns_req)
            evdns_getaddrinfo_cancel(c->dns_req);
        c->dns_req = NULL;
    }
    if (c->busy) {
        /* One of our callbacks is on the stack: go quiet now, free when it returns. */
        c->failed = true;
        c->dead = true;
        cv_rtspc_quiet(c);
        return;
    }
    cv_rtspc_destroy(c);
}
