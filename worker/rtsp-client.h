/*
 * One RTSP connection to a camera, as the worker's rtsp/rtsps source (worker/src-rtsp.c) uses it:
 * name resolution, a non-blocking TCP connect (TLS for rtsps), requests with their CSeq, Session
 * and Authorization headers, the 401 challenge answered once with the URL's credentials, and the
 * incoming byte stream split into RTSP responses and interleaved '$' frames. Everything runs on
 * the worker's libevent loop; nothing blocks.
 *
 * The client knows nothing about media: the source decides which requests to send, and gets
 * every response to an awaited request, every interleaved frame and at most one error through
 * callbacks. Only one request is awaited at a time (with a deadline); keep-alives are sent
 * without waiting and their answers dropped.
 *
 * Callbacks may call cv_rtspc_free() on the client that called them: freeing is deferred until
 * the client's own stack frames have returned.
 */
#ifndef CV_RTSP_CLIENT_H
#define CV_RTSP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/net/rtsp-msg.h"

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct cv_rtspc;

struct cv_rtspc_cbs {
    /* The TCP (and TLS) connection is up: send the first request. */
    void (*on_connected)(void *arg);
    /* The answer to the awaited request (never a 401 the client could answer itself). The
     * message and its body are valid only during the call. */
    void (*on_response)(void *arg, enum cv_rtsp_method method, const struct cv_rtsp_msg *m);
    /* One interleaved frame; data is valid only during the call. arrival_ns: CLOCK_MONOTONIC
     * of the read that completed it. */
    void (*on_data)(void *arg, uint8_t channel, const uint8_t *data, size_t len,
                    uint64_t arrival_ns);
    /* The connection is unusable; called once. err is a negative errno (-EACCES: the camera
     * refused our credentials); why is a short reason with no secret in it. */
    void (*on_error)(void *arg, int err, const char *why);
};

struct cv_rtspc_cfg {
    struct event_base *base;
    struct evdns_base *dns; /* borrowed; only needed when host is a name */
    struct ssl_ctx_st *ssl; /* borrowed SSL_CTX for rtsps, NULL for plain TCP */
    const char *host;       /* name or literal, without IPv6 brackets */
    uint16_t port;
    const char *user;    /* "" when the URL has no credentials */
    const char *pass;    /* secret: copied, wiped on free, never logged */
    unsigned timeout_ms; /* connect (with resolution and TLS) and each awaited response */
};

/* Starts connecting. 0 or -ENOMEM / -EINVAL; later failures arrive through on_error. */
int cv_rtspc_new(const struct cv_rtspc_cfg *cfg, const struct cv_rtspc_cbs *cbs, void *arg,
                 struct cv_rtspc **out);

/*
 * Closes the connection, first handing a TEARDOWN for teardown_uri to the socket when a session
 * is open and teardown_uri is not NULL (best effort: written if the socket takes it at once,
 * never waited for).
 */
void cv_rtspc_free(struct cv_rtspc *c, const char *teardown_uri);

/* Request flag: do not await the answer (keep-alives); it is dropped when it comes. */
#define CV_RTSPC_NOWAIT (1u << 0)

/*
 * Sends a request. headers is NULL or extra "Name: value\r\n" lines; CSeq, User-Agent, Session
 * (once known) and Authorization (once challenged) are added here. Without CV_RTSPC_NOWAIT the
 * request is the awaited one (there must be none outstanding) and its answer or a timeout
 * follows. 0 or -E2BIG / -EBUSY / -ENOTCONN.
 */
int cv_rtspc_request(struct cv_rtspc *c, enum cv_rtsp_method method, const char *uri,
                     const char *headers, unsigned flags);

/* Sends an interleaved frame (RTCP over TCP). Dropped when the socket is backed up. */
int cv_rtspc_send_data(struct cv_rtspc *c, uint8_t channel, const uint8_t *data, size_t len);

/* The Session id ("" before the first SETUP answer) and its timeout in seconds (0: unknown). */
const char *cv_rtspc_session(const struct cv_rtspc *c, unsigned *timeout_s);

/* The camera's address, once connected (for UDP media). 0 or -ENOTCONN. */
int cv_rtspc_peer(const struct cv_rtspc *c, struct sockaddr_storage *ss, socklen_t *len);

/* True when host is an IPv4 or IPv6 literal (no resolver needed). */
bool cv_rtspc_host_is_literal(const char *host);

#endif
