/*
 * What libwebsockets reads from a client, seen before it parses it: each client's bytes go
 * through its cv_http_scan (request.c), which finds the header lines libwebsockets would take
 * wrongly (`Content-Length : N` read as an unknown header: request smuggling, docs/http.md).
 *
 * Why this way: libwebsockets 4.1.6 has no hook between its read and its parser, keeps no list
 * of the header lines it could not place that one could walk afterwards, and has no option to
 * refuse them. It reads a plain TCP client with recv() (lws_ssl_capable_read_no_ssl, its only
 * read of one), so camvisor-http defines recv(): the dynamic linker binds libwebsockets' call to
 * the program's own definition before any library's, and this one calls the C library's (through
 * the sanitizer's, in the ASan build). For a client being scanned it looks first (MSG_PEEK),
 * scans up to the end of the first request in what it saw, and takes only that: libwebsockets
 * gets one request per read (given a request with a body and the next one in one read, lws 4.1.6
 * loops for ever). The cost: two system calls per read of a request instead of one, and a pass
 * over each byte. A descriptor not being scanned (the control socket, a WebSocket once upgraded,
 * a connection whose scan ended) goes through untouched. If a later libwebsockets stopped reading
 * with recv(), test_malformed_header_names_are_refused would fail.
 *
 * Process state: the server and the C library's recv(). recv() has no argument to carry a
 * context, so this is camvisor-http's one file-scope variable besides main()'s server.
 */
#include <dlfcn.h> /* RTLD_NEXT: the Makefile defines _GNU_SOURCE */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/base/log.h"
#include "consumers/http/http.h"

static struct {
    struct cv_http_srv *srv; /* not owned: set once libwebsockets is up, before any client */
    ssize_t (*recv)(int, void *, size_t, int);
} cv_http_rawin;

/* libwebsockets' own names (headers with their ':', methods with their ' '), for the scan. */
static int cv_http_rawin_names(struct cv_http_srv *srv)
{
    srv->lws_names = calloc(WSI_TOKEN_COUNT + 1, sizeof(*srv->lws_names));
    if (!srv->lws_names)
        return -ENOMEM;
    size_t n = 0;
    for (int i = 0; i < WSI_TOKEN_COUNT; i++) {
        const char *name = (const char *)lws_token_to_string((enum lws_token_indexes)i);
        if (name && name[0] && strlen(name) < CV_HTTP_SCAN_NAME_MAX)
            srv->lws_names[n++] = name;
        else if (name && name[0])
            cv_warn("libwebsockets' name '%s' is longer than the scan checks", name);
    }
    return 0;
}

int cv_http_rawin_init(struct cv_http_srv *srv)
{
    cv_http_rawin.recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
    if (!cv_http_rawin.recv) {
        cv_err("cannot find the C library's recv(): %s", dlerror());
        return -ENOSYS;
    }
    if (cv_http_rawin_names(srv) < 0)
        return -ENOMEM;
    cv_http_rawin.srv = srv;
    return 0;
}

void cv_http_rawin_fini(struct cv_http_srv *srv)
{
    cv_http_rawin.srv = NULL;
    free(srv->lws_names);
    srv->lws_names = NULL;
    free(srv->by_fd);
    srv->by_fd = NULL;
    srv->by_fd_cap = 0;
}

int cv_http_rawin_watch(struct cv_http_conn *c, int fd)
{
    struct cv_http_srv *srv = c->srv;
    if (fd < 0)
        return -EBADF;
    if ((unsigned)fd >= srv->by_fd_cap) {
        unsigned cap = srv->by_fd_cap ? srv->by_fd_cap : 256;
        while (cap <= (unsigned)fd)
            cap *= 2;
        struct cv_http_conn **t = realloc(srv->by_fd, cap * sizeof(*t));
        if (!t)
            return -ENOMEM;
        memset(t + srv->by_fd_cap, 0, (cap - srv->by_fd_cap) * sizeof(*t));
        srv->by_fd = t;
        srv->by_fd_cap = cap;
    }
    srv->by_fd[fd] = c;
    c->fd = fd;
    cv_http_scan_init(&c->scan, srv->lws_names);
    return 0;
}

void cv_http_rawin_unwatch(struct cv_http_conn *c)
{
    struct cv_http_srv *srv = c->srv;
    if (c->fd >= 0 && (unsigned)c->fd < srv->by_fd_cap && srv->by_fd[c->fd] == c)
        srv->by_fd[c->fd] = NULL;
    c->fd = -1;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    if (!cv_http_rawin.recv) { /* a read before cv_http_rawin_init(): nothing to watch yet */
        cv_http_rawin.recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
        if (!cv_http_rawin.recv) {
            errno = ENOSYS;
            return -1;
        }
    }
    struct cv_http_srv *srv = cv_http_rawin.srv;
    struct cv_http_conn *c =
        srv && !flags && fd >= 0 && (unsigned)fd < srv->by_fd_cap ? srv->by_fd[fd] : NULL;
    if (!c)
        return cv_http_rawin.recv(fd, buf, len, flags);
    /* Looked at first, then taken up to the end of the first request in it. The scan moves on
     * by what was taken: a read that fails or comes short sees the same bytes again next time. */
    ssize_t n = cv_http_rawin.recv(fd, buf, len, MSG_PEEK);
    if (n <= 0)
        return n;
    struct cv_http_scan next = c->scan;
    size_t used = (size_t)n;
    enum cv_http_scan_result r = cv_http_scan_feed(&next, buf, (size_t)n, &used);
    ssize_t got = cv_http_rawin.recv(fd, buf, used, 0);
    if (got <= 0)
        return got;
    if ((size_t)got < used) {
        next = c->scan;
        r = cv_http_scan_feed(&next, buf, (size_t)got, &used);
    }
    c->scan = next;
    if (r == CV_HTTP_SCAN_BAD && next.unanswerable) {
        cv_http_rawin_unwatch(c);
        return 0; /* no callback will come for it (CONNECT): the end of the connection */
    }
    if (r == CV_HTTP_SCAN_BAD)
        c->hdr_bad = true; /* answered 400 at its request's callback */
    if (r != CV_HTTP_SCAN_MORE)
        cv_http_rawin_unwatch(c);
    return got;
}
