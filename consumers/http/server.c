/*
 * camvisor-http's libwebsockets side: every client socket is accepted by the process (main.c)
 * and adopted here, so limits per client address are ours to keep; then one callback serves
 * HTTP requests (auth, base path, routing to api.c and mse.c, the static www/ files) and the
 * /api/ws WebSocket.
 *
 * Writing: nothing is written outside a writable callback. A response of known length is one
 * buffer, its headers and body, written at once; what a stream has to send waits in its output
 * queue as records (struct cv_http_rec), its headers first, one lws_write() per callback, so a
 * slow client only ever delays itself; one too far behind (CV_HTTP_VIEWER_MAX queued, or
 * CV_HTTP_SLOW_MS behind) is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/base64.h"
#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "consumers/http/http.h"

#define CV_HTTP_WS_MSG_MAX (64u << 10)

/* ---- connections ------------------------------------------------------------------------- */

static unsigned cv_http_conns_from(const struct cv_http_srv *srv, const struct sockaddr_storage *a)
{
    unsigned n = 0;
    for (const struct cv_http_conn *c = srv->conns; c; c = c->next)
        n += cv_sockaddr_same_host(&c->peer, a);
    return n;
}

void cv_http_conn_accepted(struct cv_http_srv *srv, int fd, const struct sockaddr *sa,
                           socklen_t salen)
{
    struct sockaddr_storage peer = {0};
    memcpy(&peer, sa, salen < sizeof(peer) ? salen : sizeof(peer));
    char who[64];
    cv_sockaddr_str(&peer, who, sizeof(who));
    const struct cv_admit_limits lim = {srv->set.max_conns, srv->set.max_conns_per_client};
    const char *why =
        cv_admit_check(&srv->proc, &lim, srv->conn_count, cv_http_conns_from(srv, &peer));
    if (why) {
        /* A polite refusal costs a write; the client learns why instead of timing out. */
        const char *say = strcmp(why, "the descriptor limit") == 0 ? "out of descriptors"
                                                                   : "too many connections";
        char busy[192];
        int n = snprintf(busy, sizeof(busy),
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s\n",
                         strlen(say) + 1, say);
        ssize_t w = write(fd, busy, (size_t)n);
        (void)w;
        close(fd);
        if (cv_admit_log_due(&srv->refused_log_ms, cv_clock_mono_ms()))
            cv_warn("client %s refused: %s (%s reached; %u connections, %u feeds open)", who, say,
                    why, srv->conn_count, srv->proc.feeds.nfeeds);
        return;
    }
    struct cv_http_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    /* Each write goes out when it is made: a response's last piece never waits for the client's
     * (delayed) ACK of the one before, a live fragment never for the one before it. */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->srv = srv;
    c->peer = peer;
    if (cv_http_rawin_watch(c, fd) < 0) {
        close(fd);
        free(c);
        return;
    }
    snprintf(c->peer_str, sizeof(c->peer_str), "%s", who);
    c->loopback = cv_sockaddr_is_loopback(&peer);
    cv_outq_init(&c->out, CV_HTTP_VIEWER_MAX, &srv->budget);
    lws_adopt_desc_t info = {
        .vh = srv->vh, .type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, .fd.sockfd = fd, .opaque = c};
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->pprev = &c->next;
    c->pprev = &srv->conns;
    srv->conns = c;
    srv->conn_count++;
    c->wsi = lws_adopt_descriptor_vhost_via_info(&info);
    /* On failure lws closed the fd; its destroy callback may or may not have run for a wsi
     * that never existed, so the connection is unlinked here only if it is still linked. */
    if (!c->wsi && c->pprev) {
        cv_warn("client %s: cannot adopt its socket", who);
        cv_http_rawin_unwatch(c);
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
        srv->conn_count--;
        cv_outq_free(&c->out);
        free(c);
    }
}

/*
 * A client watched while its answer waits. libwebsockets 4.1.6 reads nothing from an HTTP/1
 * connection while a response is under way (LRS_DOING_TRANSACTION, until the transaction
 * completes) yet leaves POLLIN on: a client's close, or bytes it sends, make lws's poll return at
 * once, for nothing, again and again (a core spinning), and lws never notices the close. An answer
 * that writes finds out at its next write; one with nothing to write yet (stream.mp4 or MJPEG of a
 * camera that is not streaming, a snapshot waiting for its picture, an HLS playlist waiting for a
 * segment) held the socket in CLOSE-WAIT, a slot against the connection limits and a viewer of
 * its camera, for as long as it waited. So while it waits the socket is also in the consumer's
 * libevent loop (whose epoll descriptor lws polls): the hang-up (EPOLLRDHUP) drops it at once,
 * as do bytes it sends meanwhile (a request pipelined behind an answer that waits cannot be read
 * before it, and would keep lws spinning).
 */
static void cv_http_conn_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct cv_http_conn *c = arg;
    cv_http_conn_drop(c, what & EV_CLOSED ? "client left"
                                          : "client sent more while its answer "
                                            "waits");
}

void cv_http_conn_waiting(struct cv_http_conn *c, bool waiting)
{
    if (!waiting || c->closing) {
        if (c->wait_ev) /* before lws closes the socket: libevent must not keep its number */
            event_free(c->wait_ev);
        c->wait_ev = NULL;
        return;
    }
    if (c->wait_ev)
        return;
    c->wait_ev = event_new(c->srv->proc.base, lws_get_socket_fd(c->wsi), EV_READ | EV_CLOSED,
                           cv_http_conn_wait_cb, c);
    if (c->wait_ev)
        event_add(c->wait_ev, NULL);
}

static void cv_http_conn_destroy(struct cv_http_conn *c)
{
    if (!c)
        return;
    cv_http_conn_waiting(c, false);
    cv_http_mse_viewer_free(c);
    cv_http_jpeg_viewer_free(c);
    cv_http_rawin_unwatch(c);
    if (c->pprev) {
        *c->pprev = c->next;
        if (c->next)
            c->next->pprev = c->pprev;
        c->srv->conn_count--;
    }
    cv_outq_free(&c->out);
    free(c->body);
    free(c);
}

void cv_http_conn_drop(struct cv_http_conn *c, const char *why)
{
    if (c->closing)
        return;
    cv_info("client %s dropped: %s", c->peer_str, why);
    c->closing = true;
    cv_http_conn_waiting(c, false);
    cv_http_mse_viewer_free(c);
    cv_http_jpeg_viewer_free(c);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/*
 * WebSockets failed for a protocol error or a message too big: lws sent (or is about to send)
 * their close frame and would wait 5 s for the client's. A tick later, with nothing of theirs
 * left to write (the frame went out in the next turn of the loop after the failure), they are
 * closed.
 */
void cv_http_server_tick(struct cv_http_srv *srv, uint64_t now_ms)
{
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (c->ws_failed_ms && now_ms - c->ws_failed_ms >= CV_HTTP_TICK_MS &&
            !lws_partial_buffered(c->wsi)) {
            c->ws_failed_ms = 0;
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        }
    }
}

/* ---- output ------------------------------------------------------------------------------ */

int cv_http_sendv(struct cv_http_conn *c, enum lws_write_protocol type, const struct iovec *iov,
                  int iovcnt)
{
    if (c->closing)
        return -EPIPE;
    uint8_t pre[LWS_PRE] = {0};
    struct cv_http_rec rec = {0, (uint32_t)type};
    for (int i = 0; i < iovcnt; i++)
        rec.len += (uint32_t)iov[i].iov_len;
    memcpy(pre, &rec, sizeof(rec));
    struct iovec v[8];
    if (iovcnt > 7)
        return -EINVAL;
    v[0] = (struct iovec){pre, sizeof(pre)};
    memcpy(v + 1, iov, (size_t)iovcnt * sizeof(*iov));
    int rc = cv_outq_put(&c->out, v, iovcnt + 1);
    if (rc < 0)
        return rc;
    lws_callback_on_writable(c->wsi);
    return 0;
}

int cv_http_send(struct cv_http_conn *c, enum lws_write_protocol type, const void *data, size_t len)
{
    struct iovec v = {(void *)data, len};
    return cv_http_sendv(c, type, &v, 1);
}

/* One record out per writable callback: 0, or -1 to close. */
static int cv_http_write_record(struct cv_http_conn *c)
{
    if (cv_outq_empty(&c->out))
        return 0;
    uint8_t *head = cv_outq_head(&c->out);
    struct cv_http_rec rec;
    memcpy(&rec, head, sizeof(rec));
    int n = lws_write(c->wsi, head + LWS_PRE, rec.len, (enum lws_write_protocol)rec.type);
    cv_outq_consume(&c->out, LWS_PRE + rec.len);
    if (n < (int)rec.len)
        return -1;
    if (!cv_outq_empty(&c->out))
        lws_callback_on_writable(c->wsi);
    else if (c->end_when_drained) /* a stream that ends (stream.mp4?duration=): all out now */
        return -1;
    return 0;
}

/* ---- responses --------------------------------------------------------------------------- */

static int cv_http_add_header(struct cv_http_conn *c, const char *name, const char *value,
                              unsigned char **p, unsigned char *end)
{
    return lws_add_http_header_by_name(c->wsi, (const unsigned char *)name,
                                       (const unsigned char *)value, (int)strlen(value), p, end);
}

/* Headers every answer carries: CORS when [api] origin = * (or cors: HLS, whose players are
 * often on other origins, as go2rtc does), and no caching of live data. */
static int cv_http_common_headers(struct cv_http_conn *c, unsigned char **p, unsigned char *end,
                                  bool cors)
{
    if ((cors || strcmp(c->srv->set.origin, "*") == 0) &&
        cv_http_add_header(c, "access-control-allow-origin:", "*", p, end))
        return -1;
    return cv_http_add_header(c, "cache-control:", "no-cache", p, end);
}

/*
 * A response of known length: its headers and its body in one buffer, written from the writable
 * callback in one lws_write() (64 KiB at a time). Headers and body written apart cost a keep-alive
 * client 40 ms a request: the body waited in the kernel (Nagle) for the ACK of the headers, which
 * the client delays, waiting for the body. TCP_NODELAY on every client socket (accepting) covers
 * what still goes out in pieces (www/ files, streams).
 */
static int cv_http_respond_copy(struct cv_http_conn *c, unsigned status, const char *ctype,
                                const void *data, size_t len, const char *const *extra, bool cors)
{
    unsigned char hdr[2048];
    unsigned char *p = hdr, *end = hdr + sizeof(hdr) - 1;
    free(c->body);
    c->body = NULL;
    if (lws_add_http_common_headers(c->wsi, status, ctype, len, &p, end) ||
        cv_http_common_headers(c, &p, end, cors))
        return -1;
    for (; extra && extra[0]; extra += 2)
        if (cv_http_add_header(c, extra[0], extra[1], &p, end))
            return -1;
    if ((c->close_after && cv_http_add_header(c, "connection:", "close", &p, end)) ||
        lws_finalize_http_header(c->wsi, &p, end))
        return -1;
    size_t hlen = (size_t)(p - hdr);
    if (c->head) /* HEAD: GET's headers, its Content-Length included, and no body */
        len = 0;
    /* LWS_PRE bytes of headroom first, which lws_write() needs. */
    char *b = malloc(LWS_PRE + hlen + len);
    if (!b)
        return -1;
    memcpy(b + LWS_PRE, hdr, hlen);
    if (len)
        memcpy(b + LWS_PRE + hlen, data, len);
    c->body = b;
    c->body_len = hlen + len;
    c->body_off = 0;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static int cv_http_respond_h(struct cv_http_conn *c, unsigned status, const char *ctype, char *body,
                             size_t len, const char *const *extra)
{
    int rc = cv_http_respond_copy(c, status, ctype, body, len, extra, false);
    free(body);
    return rc;
}

int cv_http_respond(struct cv_http_conn *c, unsigned status, const char *ctype, char *body,
                    size_t len)
{
    return cv_http_respond_h(c, status, ctype, body, len, NULL);
}

int cv_http_start_stream(struct cv_http_conn *c, const char *ctype, const char *disposition)
{
    unsigned char hdr[1024];
    unsigned char *p = hdr, *end = hdr + sizeof(hdr) - 1;
    if (lws_add_http_common_headers(c->wsi, 200, ctype, LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        cv_http_common_headers(c, &p, end, false) ||
        (disposition && cv_http_add_header(c, "content-disposition:", disposition, &p, end)) ||
        lws_finalize_http_header(c->wsi, &p, end))
        return -1;
    if (c->head) { /* the headers alone, as a plain answer; without a length, lws closes after */
        char *b = malloc(LWS_PRE + (size_t)(p - hdr));
        if (!b)
            return -1;
        memcpy(b + LWS_PRE, hdr, (size_t)(p - hdr));
        free(c->body);
        c->body = b;
        c->body_len = (size_t)(p - hdr);
        c->body_off = 0;
        lws_callback_on_writable(c->wsi);
        return 1;
    }
    /* The headers are the stream's first record: they go out with the writes that follow. */
    if (cv_http_send(c, LWS_WRITE_HTTP, hdr, (size_t)(p - hdr)) < 0)
        return -1;
    c->kind = CV_HTTP_CONN_STREAM;
    /* lws armed its 10 s content timeout for this request: a stream has no end to wait for
     * (a reader that stops is dropped by the output queue's limits instead). */
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    return 0;
}

int cv_http_respond_bytes(struct cv_http_conn *c, unsigned status, const char *ctype,
                          const void *data, size_t len, bool cors)
{
    return cv_http_respond_copy(c, status, ctype, data, len, NULL, cors);
}

int cv_http_respond_bytes_h(struct cv_http_conn *c, unsigned status, const char *ctype,
                            const void *data, size_t len, const char *const *extra)
{
    return cv_http_respond_copy(c, status, ctype, data, len, extra, false);
}

int cv_http_respond_text(struct cv_http_conn *c, unsigned status, const char *text)
{
    size_t n = strlen(text);
    char *b = malloc(n + 2);
    if (!b)
        return -1;
    memcpy(b, text, n);
    b[n++] = '\n';
    return cv_http_respond(c, status, "text/plain; charset=utf-8", b, n);
}

/* A plain response (headers and body), in pieces: 0 more to come, 1 done, -1 close. */
static int cv_http_write_body(struct cv_http_conn *c)
{
    size_t left = c->body_len - c->body_off, n = left > 65536 ? 65536 : left;
    enum lws_write_protocol t = n == left ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP;
    if (lws_write(c->wsi, (unsigned char *)c->body + LWS_PRE + c->body_off, n, t) < (int)n)
        return -1;
    c->body_off += n;
    if (c->body_off < c->body_len) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    free(c->body);
    c->body = NULL;
    return 1;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* lws keeps the query %-decoded, one "key=value" fragment per pair. */
static void cv_http_read_args(struct lws *wsi, struct cv_http_args *a)
{
    cv_http_args_init(a);
    char frag[CV_HTTP_ARG_MAX + 40];
    for (int i = 0;; i++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (flen <= 0)
            break;
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0 || cv_http_args_add(a, frag, (size_t)n) < 0) {
            a->overflow = true; /* there, but too long, or too many */
            break;
        }
    }
}

static bool cv_http_consttime_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

enum cv_http_auth { CV_HTTP_AUTH_OK, CV_HTTP_AUTH_NEEDED, CV_HTTP_AUTH_LOCKED };

/* go2rtc's rule: credentials when set, except from loopback unless local_auth. */
static enum cv_http_auth cv_http_check_auth(struct cv_http_conn *c)
{
    struct cv_http_srv *srv = c->srv;
    const struct cv_http_settings *set = &srv->set;
    if (!srv->have_settings)
        return CV_HTTP_AUTH_LOCKED; /* not configured yet: refuse rather than guess */
    if ((!set->username[0] && !set->token[0]) || (c->loopback && !set->local_auth))
        return CV_HTTP_AUTH_OK;
    uint64_t now = cv_clock_mono_ms();
    if (cv_throttle_locked(&srv->throttle, &c->peer, now))
        return CV_HTTP_AUTH_LOCKED;
    char h[512];
    bool ok = false;
    if (lws_hdr_copy(c->wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION) > 0) {
        if (strncasecmp(h, "Basic ", 6) == 0 && set->username[0]) {
            uint8_t dec[400];
            int n = cv_base64_decode(dec, h + 6, sizeof(dec) - 1);
            if (n > 0) {
                dec[n] = '\0';
                char *colon = strchr((char *)dec, ':');
                if (colon) {
                    *colon = '\0';
                    /* Both compared whatever the first says: no timing hint. */
                    bool user_ok = cv_http_consttime_eq((char *)dec, set->username);
                    bool pass_ok = cv_http_consttime_eq(colon + 1, set->password);
                    ok = user_ok && pass_ok;
                }
            }
        } else if (strncasecmp(h, "Bearer ", 7) == 0 && set->token[0]) {
            ok = cv_http_consttime_eq(h + 7, set->token);
        }
        if (!ok) {
            srv->auth_failures++;
            unsigned fails = 0;
            enum cv_throttle_result r = cv_throttle_fail(&srv->throttle, &c->peer, now, &fails);
            if (r == CV_THROTTLE_LOCKED_SHARED)
                cv_warn("client %s: %u bad credentials from addresses the throttle has no "
                        "room for (%u addresses locked out): every such address is locked "
                        "out for %u s",
                        c->peer_str, fails, CV_THROTTLE_ROWS, CV_HTTP_AUTH_LOCK_MS / 1000);
            else if (r == CV_THROTTLE_LOCKED_NOW)
                cv_warn("client %s: %u bad credentials in a row: locked out for %u s", c->peer_str,
                        fails, CV_HTTP_AUTH_LOCK_MS / 1000);
        }
    }
    return ok ? CV_HTTP_AUTH_OK : CV_HTTP_AUTH_NEEDED;
}

static int cv_http_refuse_auth(struct cv_http_conn *c, enum cv_http_auth a)
{
    if (a == CV_HTTP_AUTH_LOCKED) {
        static const char *const retry[] = {"retry-after:", "30", NULL};
        return cv_http_respond_h(c, 429, "text/plain", NULL, 0, retry);
    }
    static const char *const www[] = {"www-authenticate:", "Basic realm=\"camvisor\"", NULL};
    char *b = strdup("unauthorized\n");
    return cv_http_respond_h(c, 401, "text/plain", b, b ? strlen(b) : 0, www);
}

/* The request path with [api] base_path taken off; NULL when it is not under it. */
static const char *cv_http_strip_base(const struct cv_http_srv *srv, const char *uri)
{
    return cv_http_req_strip_base(srv->set.base_path, uri);
}

/* A file of www/ by its plain name (no folders, no dot files): -1 close, 0 going on, 1 none. */
static int cv_http_static(struct cv_http_conn *c, const char *path)
{
    const char *mime = NULL;
    const char *name = cv_http_req_static_name(path, &mime);
    if (!name)
        return 1;
    char full[1024];
    struct stat st;
    snprintf(full, sizeof(full), "%s/%s", c->srv->static_dir, name);
    if (stat(full, &st) < 0 || !S_ISREG(st.st_mode))
        return 1;
    char extra[256];
    unsigned char *p = (unsigned char *)extra, *end = p + sizeof(extra) - 1;
    if (cv_http_common_headers(c, &p, end, false))
        return -1;
    int n = lws_serve_http_file(c->wsi, full, mime, extra, (int)(p - (unsigned char *)extra));
    if (n < 0 || (n > 0 && lws_http_transaction_completed(c->wsi)))
        return -1;
    return 0;
}

static const char *cv_http_method_name(int m)
{
    static const char *const names[] = {"GET",   "POST",   "OPTIONS", "PUT",
                                        "PATCH", "DELETE", "CONNECT", "HEAD"};
    return m >= 0 && m < (int)(sizeof(names) / sizeof(names[0])) ? names[m] : "?";
}

static int cv_http_on_request(struct cv_http_conn *c)
{
    struct cv_http_srv *srv = c->srv;
    srv->requests++;
    char *uri = NULL;
    int uri_len = 0;
    int m = lws_http_get_uri_and_method(c->wsi, &uri, &uri_len);
    if (m < 0 || !uri)
        return cv_http_respond_text(c, 400, "bad request");
    char path[512];
    snprintf(path, sizeof(path), "%.*s", uri_len, uri);
    const char *method = cv_http_method_name(m);
    /* HEAD is GET without the body (RFC 9110 9.3.2): routed as GET, and the answer (or the
     * stream's headers) goes out without its body; libwebsockets does the same for www/ files. */
    c->head = strcmp(method, "HEAD") == 0;
    if (c->head)
        method = "GET";
    const char *rel = cv_http_strip_base(srv, path);
    if (!rel)
        return cv_http_respond_text(c, 404, "not found");
    if (strcmp(method, "OPTIONS") == 0) { /* CORS preflight */
        static const char *const allow[] = {
            "access-control-allow-methods:", "GET, PUT, PATCH, DELETE, POST, OPTIONS",
            "access-control-allow-headers:", "authorization, content-type", NULL};
        return cv_http_respond_h(c, 204, "text/plain", NULL, 0, allow);
    }
    enum cv_http_auth a = cv_http_check_auth(c);
    if (a != CV_HTTP_AUTH_OK)
        return cv_http_refuse_auth(c, a);
    struct cv_http_args *args = malloc(sizeof(*args));
    if (!args)
        return -1;
    cv_http_read_args(c->wsi, args);
    int rc;
    if (args->overflow)
        rc = cv_http_respond_text(c, 400, "query too long");
    else if ((strncmp(rel, "/api", 4) == 0 && (rel[4] == '\0' || rel[4] == '/')) ||
             strcmp(rel, "/metrics") == 0)
        rc =
            cv_http_api_route(c, method, rel, args) ? 0 : cv_http_respond_text(c, 404, "not found");
    else if (strcmp(method, "GET") == 0 && (rc = cv_http_static(c, rel)) <= 0)
        ;
    else
        rc = cv_http_respond_text(c, 404, "not found");
    free(args);
    return rc < 0 ? -1 : 0;
}

/* ---- WebSocket --------------------------------------------------------------------------- */

static bool cv_http_origin_ok(struct cv_http_conn *c)
{
    char origin[256] = "", host[256] = "";
    lws_hdr_copy(c->wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN);
    lws_hdr_copy(c->wsi, host, sizeof(host), WSI_TOKEN_HOST);
    return cv_http_req_origin_ok(c->srv->set.origin, origin, host);
}

/*
 * Whether lws read the request as the client sent it, by the scan of the request's bytes
 * (rawin.c): the same method, the headers camvisor-http acts on, and the same Content-Length.
 * libwebsockets 4.1.6 loses the header that follows an unknown one whose name begins a known
 * one's (X-A, x-auth-token), or the empty line after it, merging the next request into this one
 * (a DELETE ran with the next request's Authorization); and it takes a Content-Length it cannot
 * copy into 32 bytes for none (what the scan counted as body ran as requests). The scan refuses
 * what it knows to cause these; this catches any other way to the same place. Such a request is
 * refused like a malformed one.
 */
static bool cv_http_lws_saw_all(struct cv_http_conn *c)
{
    const struct cv_http_scan *s = &c->scan;
    char *uri = NULL;
    int uri_len = 0;
    const char *method = cv_http_method_name(lws_http_get_uri_and_method(c->wsi, &uri, &uri_len));
    if (strlen(method) != s->mlen || memcmp(method, s->method, s->mlen) != 0)
        return false;
    if (s->seen & CV_HTTP_HDR_CONTENT_LENGTH) {
        char cl[32], *end;
        if (lws_hdr_copy(c->wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
            strtoull(cl, &end, 10) != s->cl || *end)
            return false;
    }
    static const struct {
        enum lws_token_indexes tok;
        uint8_t bit;
    } hdrs[] = {{WSI_TOKEN_HTTP_CONTENT_LENGTH, CV_HTTP_HDR_CONTENT_LENGTH},
                {WSI_TOKEN_UPGRADE, CV_HTTP_HDR_UPGRADE},
                {WSI_TOKEN_HOST, CV_HTTP_HDR_HOST},
                {WSI_TOKEN_ORIGIN, CV_HTTP_HDR_ORIGIN},
                {WSI_TOKEN_HTTP_AUTHORIZATION, CV_HTTP_HDR_AUTHORIZATION}};
    for (size_t i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++)
        if ((lws_hdr_total_length(c->wsi, hdrs[i].tok) > 0) != !!(c->scan.seen & hdrs[i].bit))
            return false;
    return true;
}

/* A request the scan refused (rawin.c): said once a second at most, a flood of them is not a
 * flood of log lines. */
static void cv_http_log_malformed(struct cv_http_conn *c)
{
    uint64_t now = cv_clock_mono_ms();
    if (now - c->srv->malformed_log_ms < 1000)
        return;
    c->srv->malformed_log_ms = now;
    cv_info("client %s: malformed request header (whitespace in a name, a bare CR, "
            "Transfer-Encoding...): 400",
            c->peer_str);
}

/* The upgrade: only to a WebSocket, on /api/ws, authorised, from an allowed origin. 1 when
 * refused with an HTTP answer (the connection is then closed), 0 to let it proceed. */
static int cv_http_ws_filter(struct cv_http_conn *c, const char *protocol)
{
    if (c->hdr_bad || !cv_http_lws_saw_all(c)) {
        cv_http_log_malformed(c);
        lws_return_http_status(c->wsi, 400, "malformed request header");
        return 1;
    }
    /* lws would switch to HTTP/2 on `Upgrade: h2c` and then wait for its preface for ever. */
    if (!protocol || strcasecmp(protocol, "websocket") != 0) {
        lws_return_http_status(c->wsi, 400, "only WebSocket upgrades");
        return 1;
    }
    char path[256];
    const char *rel = NULL;
    if (lws_hdr_copy(c->wsi, path, sizeof(path), WSI_TOKEN_GET_URI) > 0)
        rel = cv_http_strip_base(c->srv, path);
    if (!rel || strcmp(rel, "/api/ws") != 0) {
        lws_return_http_status(c->wsi, 404, "no WebSocket here");
        return 1;
    }
    enum cv_http_auth a = cv_http_check_auth(c);
    if (a != CV_HTTP_AUTH_OK) {
        cv_info("client %s: WebSocket refused: no valid credentials", c->peer_str);
        lws_return_http_status(c->wsi, a == CV_HTTP_AUTH_LOCKED ? 429 : 401, NULL);
        return 1;
    }
    if (!cv_http_origin_ok(c)) {
        cv_info("client %s: WebSocket refused: origin not allowed", c->peer_str);
        lws_return_http_status(c->wsi, 403, "origin not allowed");
        return 1;
    }
    /* The query is read now, while the request's headers are still there. */
    struct cv_http_args *args = malloc(sizeof(*args));
    if (!args)
        return 1;
    cv_http_read_args(c->wsi, args);
    const char *src = args->overflow ? NULL : cv_http_arg(args, "src");
    snprintf(c->ws_camera, sizeof(c->ws_camera), "%s", src && strlen(src) < CV_NAME_MAX ? src : "");
    c->ws_src_given = src != NULL;
    free(args);
    return 0;
}

static void cv_http_ws_established(struct cv_http_conn *c)
{
    c->kind = CV_HTTP_CONN_WS;
    if (!c->ws_src_given) {
        static const char msg[] = "{\"type\":\"error\",\"value\":\"ws: src is required\"}";
        cv_http_send(c, LWS_WRITE_TEXT, msg, sizeof(msg) - 1);
        return;
    }
    cv_http_mse_ws_open(c);
}

struct cv_http_ws_rx {
    char buf[CV_HTTP_WS_MSG_MAX]; /* a text message so far */
    size_t len;                   /* bytes of the message so far, text or binary */
};

/*
 * 0, or -1 to close. A message over CV_HTTP_WS_MSG_MAX, text or binary, is refused with 1009 as
 * soon as it is known to be (RFC 6455 7.4.1): at the first bytes of a frame that declares more,
 * not read and thrown away for as long as the client sends. Binary messages (a browser's own
 * media: WebRTC, later) are counted, not kept.
 */
static int cv_http_ws_receive(struct cv_http_conn *c, const void *in, size_t len)
{
    struct cv_http_ws_rx *rx = (struct cv_http_ws_rx *)c->ws_rx;
    if (!rx && !(rx = c->ws_rx = calloc(1, sizeof(*rx))))
        return -1;
    if (rx->len + len + lws_remaining_packet_payload(c->wsi) > sizeof(rx->buf) - 1) {
        static const unsigned char why[] = "message too large";
        cv_info("client %s: WebSocket message over %u bytes: closed", c->peer_str,
                CV_HTTP_WS_MSG_MAX);
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof(why) - 1);
        return -1;
    }
    bool binary = lws_frame_is_binary(c->wsi);
    if (!binary)
        memcpy(rx->buf + rx->len, in, len);
    rx->len += len;
    if (!lws_is_final_fragment(c->wsi))
        return 0;
    if (binary) {
        rx->len = 0;
        return 0;
    }
    struct cv_ws_msg *m = malloc(sizeof(*m));
    int rc = m ? cv_ws_msg_parse(rx->buf, rx->len, m) : -ENOMEM;
    rx->len = 0;
    if (rc < 0) {
        static const char bad[] = "{\"type\":\"error\",\"value\":\"ws: bad message\"}";
        cv_http_send(c, LWS_WRITE_TEXT, bad, sizeof(bad) - 1);
    } else {
        cv_http_mse_ws_message(c, m);
    }
    free(m);
    return 0;
}

/*
 * A PUT, PATCH or POST without Content-Length has no body (RFC 9112 6.3: no Transfer-Encoding
 * is taken either), but libwebsockets 4.1.6 then waits for one of 100 MiB and keeps the
 * connection until its timeout, `Connection: close` or not. Such a request is answered, and the
 * connection closed right after the answer: whatever the client sends next would be read as that
 * body.
 */
static bool cv_http_body_unframed(struct lws *wsi)
{
    return (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0 ||
            lws_hdr_total_length(wsi, WSI_TOKEN_PATCH_URI) > 0 ||
            lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) &&
           lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0;
}

/* A body declared larger than CV_HTTP_BODY_MAX is refused (POST /api/webrtc reads its own). */
static bool cv_http_body_too_big(struct lws *wsi)
{
    char len[32];
    if (lws_hdr_copy(wsi, len, sizeof(len), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
        return false;
    char *end;
    unsigned long long n = strtoull(len, &end, 10);
    return *end || n > CV_HTTP_BODY_MAX;
}

/* ---- the callback ------------------------------------------------------------------------ */

static int cv_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user;
    struct cv_http_conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        if (!c)
            return -1;
        c->wsi = wsi;
        c->req_start_ms = cv_clock_mono_ms();
        c->body_in = 0;
        c->head = false;
        /* The scan stops at an Upgrade header (a WebSocket's bytes follow): a request with one
         * that comes here was not upgraded, and what follows it is not scanned. */
        c->close_after =
            cv_http_body_unframed(wsi) || lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) > 0;
        if (c->hdr_bad || !cv_http_lws_saw_all(c)) {
            /* Whatever lws made of it (a body taken for the next request), it goes no further. */
            cv_http_log_malformed(c);
            c->close_after = true;
            return cv_http_respond_text(c, 400, "malformed request header") < 0 ? -1 : 0;
        }
        if (cv_http_body_too_big(wsi)) {
            /* Answered and closed now: lws would otherwise swallow the body silently after
             * the answer, re-arming its timeout at every byte, for as long as it comes. */
            cv_info("client %s: request body over %u bytes: 413", c->peer_str, CV_HTTP_BODY_MAX);
            lws_return_http_status(wsi, 413, "request body too large");
            return -1;
        }
        return cv_http_on_request(c);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION: /* a www/ file is out: ready for the next request */
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_BODY:
        /* Only POST /api/webrtc reads its body (webrtc.c); any other small one is ignored, a
         * large or endless one (a client holding a request slot with a byte a second) closes
         * the connection. */
        if (!c)
            return -1;
        c->body_in += len;
        if (c->body_in > CV_HTTP_BODY_MAX ||
            cv_clock_mono_ms() - c->req_start_ms > CV_HTTP_BODY_TIME_MS ||
            cv_http_webrtc_body(c, in, len) < 0) {
            cv_info("client %s: request body too large or too slow: closed", c->peer_str);
            return -1;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return c ? cv_http_webrtc_body_done(c) : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!c || c->closing)
            return -1;
        if (c->body) {
            int r = cv_http_write_body(c);
            if (r < 0 || (r > 0 && c->close_after))
                return -1;
            if (r > 0 && c->kind == CV_HTTP_CONN_PLAIN)
                return lws_http_transaction_completed(wsi) ? -1 : 0;
            return 0;
        }
        if (c->kind == CV_HTTP_CONN_STREAM)
            return cv_http_write_record(c);
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: return c ? cv_http_ws_filter(c, in) : -1;
    case LWS_CALLBACK_ESTABLISHED:
        if (!c)
            return -1;
        c->wsi = wsi;
        cv_http_ws_established(c);
        return 0;
    case LWS_CALLBACK_RECEIVE: return c && !c->closing ? cv_http_ws_receive(c, in, len) : 0;
    case LWS_CALLBACK_WS_SERVER_DROP_PROTOCOL:
        /* The WebSocket is closing. With a close frame to send (a protocol error lws found, a
         * message too big), lws then waits up to 5 s for the client's before it closes the
         * socket. A client that broke the protocol is not waited for (RFC 6455 7.1.7): the tick
         * ends the connection once the frame is out (cv_http_server_tick). */
        if (c && lws_get_close_length(wsi) > 0)
            c->ws_failed_ms = cv_clock_mono_ms();
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c || c->closing)
            return -1;
        return cv_http_write_record(c);
    case LWS_CALLBACK_CLOSED:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            cv_http_conn_waiting(c, false);
            cv_http_mse_viewer_free(c);
            cv_http_jpeg_viewer_free(c);
            cv_http_webrtc_conn_gone(c);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (c) {
            lws_set_opaque_user_data(wsi, NULL);
            free(c->ws_rx);
            cv_http_conn_destroy(c);
        }
        return 0;
    default: return 0;
    }
}

/* libevent's epoll descriptor, adopted as a file: nothing to read, its readiness wakes the
 * loop, and main.c's loop runs libevent right after. */
static int cv_http_loop_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    (void)wsi;
    (void)user;
    (void)in;
    (void)len;
    (void)reason;
    return 0;
}

/* The "http" protocol's per-connection data is unused (connections are struct cv_http_conn, the
 * opaque user data), but lws tells a WebSocket's close (DROP_PROTOCOL) only to one that has some.
 */
static const struct lws_protocols cv_http_protocols[] = {
    {"http", cv_http_cb, sizeof(int), CV_HTTP_WS_MSG_MAX, 0, NULL, 0},
    {"cv-loop", cv_http_loop_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void cv_http_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    cv_log(level & LLL_ERR    ? CV_LOG_ERR
           : level & LLL_WARN ? CV_LOG_WRN
                              : CV_LOG_INF,
           "libwebsockets: %.*s", (int)n, line);
}

int cv_http_server_init(struct cv_http_srv *srv)
{
    lws_set_log_level(LLL_ERR | LLL_WARN, cv_http_lws_log);
    struct lws_context_creation_info info = {0};
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = cv_http_protocols;
    /* UTF-8 checked in every text frame a client sends (RFC 6455 8.1: invalid closes it). */
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DISABLE_IPV6 |
                   LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.max_http_header_data = 4096; /* a request's headers, all together */
    /* Requests being parsed at once; more wait for a table. A connection holds one from its
     * first byte until its headers are in (or its timeout): as many as connections may be
     * open, or a slowloris of 64 idle connections would stall every new client. Tables are
     * allocated when used. */
    unsigned conns = srv->set.max_conns ? srv->set.max_conns : 1024;
    info.max_http_header_pool = (unsigned short)(conns > 4096 ? 4096 : conns < 64 ? 64 : conns);
    /* [api] request_timeout and idle_timeout, as they were when the process started. */
    unsigned req = srv->set.request_timeout_ms, idle = srv->set.idle_timeout_ms;
    info.timeout_secs = req ? (req + 999) / 1000 : 10; /* a request not complete by then */
    info.timeout_secs_ah_idle = info.timeout_secs;     /* headers held without progress */
    info.keepalive_timeout = idle ? (int)((idle + 999) / 1000) : 60;
    info.ka_time = 0;
    info.user = srv;
    int rc = cv_http_rawin_init(srv);
    if (rc < 0)
        return rc;
    srv->lws = lws_create_context(&info);
    if (!srv->lws) {
        cv_err("cannot create the libwebsockets context");
        return -ENOMEM;
    }
    info.vhost_name = "camvisor";
    srv->vh = lws_create_vhost(srv->lws, &info);
    if (!srv->vh) {
        cv_err("cannot create the libwebsockets vhost");
        return -ENOMEM;
    }
    return 0;
}
