/*
 * camvisor-http's internals: the process (struct cv_http_srv), its client connections, its
 * feeds. One file per concern:
 *   main.c    the process: consumer skeleton, libwebsockets context, accepting, the loop
 *   server.c  the libwebsockets callback: requests, auth, routing, static files, writing
 *   api.c     go2rtc's JSON API and camvisor's own (/api, /api/streams, /api/cameras, ...)
 *   mse.c     fMP4 feeds (one muxer per camera, fmp4.c) and their viewers: /api/ws MSE and
 *             /api/stream.mp4
 *   hls.c     live HLS from a feed's fragments: /api/stream.m3u8 and its /api/hls/ segments
 *   rawin.c   each client's bytes, scanned (request.c) as libwebsockets reads them
 *
 * One thread. libevent's loop (the consumer skeleton: control socket, ring doorbells) runs
 * nested in libwebsockets' own loop (docs/architecture.md: "camvisor-http's loop").
 */
#ifndef CV_HTTP_H
#define CV_HTTP_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/base/json.h"
#include "common/base/outq.h"
#include "common/consumer/admit.h"
#include "common/consumer/process.h"
#include "common/net/ws-msg.h"
#include "consumers/http/request.h"
#include "proto/msg.h"

#define CV_HTTP_VIEWER_MAX      (8u << 20)   /* queued for one viewer before it is dropped */
#define CV_HTTP_BACKLOG_ALL     (256u << 20) /* queued over every connection */
#define CV_HTTP_SLOW_MS         10000        /* a viewer this long behind is dropped */
#define CV_HTTP_TICK_MS         250
#define CV_HTTP_AUTH_MAX_FAILS  10 /* bad credentials from one address in a window */
#define CV_HTTP_AUTH_WINDOW_MS  60000
#define CV_HTTP_AUTH_LOCK_MS    30000 /* then 429 for this long */
#define CV_HTTP_ACCEPT_PAUSE_MS 100
#define CV_HTTP_BODY_MAX        (64u << 10) /* request bytes no endpoint reads */
#define CV_HTTP_BODY_TIME_MS    10000
#define CV_HTTP_WEBRTC_BODY_MAX (44u << 10) /* a POST /api/webrtc body: a base64 offer fits */
#define CV_HTTP_WEBRTC_WAIT_MS  12000       /* an offer's answer, the camera's start included */
#define CV_HTTP_WS_SESSIONS     4           /* WebRTC sessions one WebSocket may hold */

struct cv_http_feed;
struct cv_http_hls;
struct cv_fmp4;
struct cv_fmp4_frag;

enum cv_http_conn_kind {
    CV_HTTP_CONN_PLAIN = 0, /* request/response */
    CV_HTTP_CONN_STREAM,    /* a long HTTP response: stream.mp4 */
    CV_HTTP_CONN_WS,        /* /api/ws */
};

/* A record in a connection's output queue: this header (LWS_PRE bytes, which lws_write()
 * may overwrite once the header is read), then len bytes. */
struct cv_http_rec {
    uint32_t len;
    uint32_t type; /* enum lws_write_protocol */
};
_Static_assert(sizeof(struct cv_http_rec) <= LWS_PRE, "a record header fits in LWS_PRE");

/* One client socket, from accept to close; libwebsockets' opaque user data of its wsi. */
struct cv_http_conn {
    struct cv_http_srv *srv;
    struct lws *wsi;
    struct cv_http_conn *next, **pprev; /* srv->conns */
    int fd;                             /* its socket (owned by lws); -1 once not scanned */
    struct cv_http_scan scan;           /* its bytes as lws reads them (rawin.c) */
    bool hdr_bad;                       /* the scan found a malformed request: 400, close */
    struct sockaddr_storage peer;
    char peer_str[64];
    bool loopback;
    enum cv_http_conn_kind kind;
    struct cv_outq out; /* records, see struct cv_http_rec; owned */
    /* A plain response waiting for the writable callback. */
    char *body; /* owned */
    size_t body_len, body_off;
    bool closing;          /* drop at the next writable callback */
    bool head;             /* the request being answered is a HEAD: headers only */
    bool close_after;      /* close once the answer is out (`connection: close` in it) */
    uint64_t ws_failed_ms; /* the WebSocket failed then: closed once its close frame is out */
    /* A viewer of an fMP4 feed (mse.c). */
    struct cv_http_viewer *viewer; /* owned */
    struct cv_http_jview *jview;   /* owned: a snapshot waiting, or an MJPEG viewer (jpeg.c) */
    void *ws_rx;                   /* owned: a WebSocket message being received */
    char ws_camera[CV_NAME_MAX];   /* /api/ws?src= */
    bool ws_src_given;
    char stream_camera[CV_NAME_MAX]; /* /api/stream.mp4?src= */
    struct cv_http_hls *hls_wait;    /* not owned: the HLS session a playlist request waits on */
    uint32_t pending_req;            /* a PUT/DELETE waiting for the supervisor's answer */
    uint64_t stream_until_ms;        /* stream.mp4?duration=: when it ends; 0 never */
    uint64_t req_start_ms;           /* the current request's start */
    size_t body_in;                  /* its body bytes so far */
    bool end_when_drained;           /* the stream has ended: close once its queue is out */
    uint64_t pending_since_ms;
    struct event *wait_ev; /* owned: the client watched while its answer waits (server.c) */
    /* WebRTC signalling (webrtc.c). */
    uint8_t webrtc_mode; /* how the offer came (json, WHEP, form, raw, WebSocket v1/v2) */
    char *req_body;      /* owned: a POST /api/webrtc body being read */
    size_t req_body_len;
    uint32_t webrtc_req; /* an offer waiting for camvisor-webrtc's answer; 0 none */
    uint64_t webrtc_since_ms;
    char webrtc_camera[CV_NAME_MAX];
    char webrtc_sessions[CV_HTTP_WS_SESSIONS][CV_PROTO_SESSION_MAX]; /* a WebSocket's */
    char webrtc_offered[CV_PROTO_SESSION_MAX]; /* a server-made offer waiting for an answer:
                                                * its session (PATCH, or a WebSocket's) */
};

/* [api] (consumers/http/config-keys.h), read from the supervisor's settings (main.c). */
struct cv_http_settings {
    char username[128]; /* HTTP basic; empty = none */
    char password[128];
    char token[128]; /* bearer token; empty = none */
    bool local_auth; /* ask loopback clients too */
    bool allow_write;
    char origin[128];     /* CORS and WebSocket origin: "" same host only, "*" any */
    char base_path[128];  /* "" or "/prefix" */
    char static_dir[512]; /* "" = the www/ installed next to the program */
    char rtsp_listen[96]; /* camvisor-rtsp's address, for the links and GET /api; "" off */
    uint32_t max_conns, max_conns_per_client;
    uint32_t request_timeout_ms, idle_timeout_ms;
};

struct cv_http_srv {
    struct cv_consumer proc;     /* the process skeleton: libevent loop, control socket, feeds */
    struct lws_context *lws;     /* owned */
    struct lws_vhost *vh;        /* owned by lws */
    struct cv_listener listen;   /* owned: accepting on fd 4 */
    lws_sorted_usec_list_t wake; /* the tick that lets libevent's timers run */
    bool stopping;
    struct cv_http_settings set;
    bool have_settings;
    char static_dir[512];
    char exe_dir[256];
    uint64_t started_ms;
    struct cv_http_conn *conns;
    uint32_t conn_count;
    struct cv_http_conn **by_fd; /* owned (the array): connections by socket, for rawin.c */
    unsigned by_fd_cap;
    const char **lws_names; /* owned (the array; the names are libwebsockets'): for the scan */
    struct cv_outq_budget budget;
    struct cv_http_feed *feeds;
    struct cv_http_jfeed *jfeeds;      /* jpeg.c: one per (camera, size) */
    struct cv_throttle throttle;       /* bad credentials per address (server.c) */
    struct cv_msg_webrtc_stats webrtc; /* camvisor-webrtc's sessions, as it last said */
    /* Counters for /metrics and /api/cameras. */
    uint64_t requests, auth_failures, dropped_slow;
    uint64_t refused_log_ms, malformed_log_ms;
    uint32_t next_req; /* STREAM_PUT/DELETE request ids */
};

/* server.c */
int cv_http_server_init(struct cv_http_srv *srv);
void cv_http_conn_accepted(struct cv_http_srv *srv, int fd, const struct sockaddr *sa,
                           socklen_t salen);
/* A response: status, content type and a body the connection takes ownership of (free()). */
int cv_http_respond(struct cv_http_conn *c, unsigned status, const char *ctype, char *body,
                    size_t len);
int cv_http_respond_text(struct cv_http_conn *c, unsigned status, const char *text);
/* The same as cv_http_respond_bytes() with extra headers: {"name:", "value", ..., NULL}. */
int cv_http_respond_bytes_h(struct cv_http_conn *c, unsigned status, const char *ctype,
                            const void *data, size_t len, const char *const *extra);
/* A response with no end (stream.mp4, MJPEG): its headers as the first record, the body as
 * records through cv_http_send(); disposition may be NULL. 0, -1 to close, or 1 for a HEAD
 * request: the headers were the whole answer, there is nothing to stream. */
int cv_http_start_stream(struct cv_http_conn *c, const char *ctype, const char *disposition);
/* The same from bytes the caller keeps (copied once); cors adds Access-Control-Allow-Origin: *
 * whatever [api] origin says (HLS answers, as go2rtc's). */
int cv_http_respond_bytes(struct cv_http_conn *c, unsigned status, const char *ctype,
                          const void *data, size_t len, bool cors);
/* Queues a record (WS text/binary, or a chunk of a stream) and asks for the writable callback.
 * -ENOBUFS when the client is too far behind: the caller drops it (cv_http_conn_drop). */
int cv_http_send(struct cv_http_conn *c, enum lws_write_protocol type, const void *data,
                 size_t len);
int cv_http_sendv(struct cv_http_conn *c, enum lws_write_protocol type, const struct iovec *iov,
                  int iovcnt);
void cv_http_conn_drop(struct cv_http_conn *c, const char *why);
/* c's answer waits on something else (a feed's frames, a picture, a segment), or no longer does:
 * while it waits, a client that leaves, or sends more, is dropped at once (server.c says why). */
void cv_http_conn_waiting(struct cv_http_conn *c, bool waiting);
void cv_http_server_tick(struct cv_http_srv *srv, uint64_t now_ms);

/* rawin.c: each client's bytes are scanned (cv_http_scan) as libwebsockets reads them, from
 * watch (before the socket is adopted) to unwatch (when it goes) or the scan's end; a malformed
 * request sets c->hdr_bad. */
int cv_http_rawin_init(struct cv_http_srv *srv);
void cv_http_rawin_fini(struct cv_http_srv *srv);
int cv_http_rawin_watch(struct cv_http_conn *c, int fd);
void cv_http_rawin_unwatch(struct cv_http_conn *c);

/* api.c: 1 when path was one of its routes (and answered), 0 otherwise. */
int cv_http_api_route(struct cv_http_conn *c, const char *method, const char *path,
                      const struct cv_http_args *args);

/* api-misc.c: /api/config, /api/preload, /api/log, /api/ffmpeg/hardware; 1 when not one. */
void cv_http_metrics_processes(struct cv_json *j);
int cv_http_api_misc_route(struct cv_http_conn *c, const char *method, const char *path,
                           const struct cv_http_args *args);
/* The supervisor's answer to a PUT/DELETE; requests it never answers get 504 from the tick. */
void cv_http_api_on_result(struct cv_http_srv *srv, const struct cv_msg_stream_result *r);
void cv_http_api_tick(struct cv_http_srv *srv, uint64_t now_ms);

/* jpeg.c: /api/frame.jpeg and /api/stream.mjpeg, from the worker's jpeg variant. */
int cv_http_jpeg_snapshot(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_jpeg_mjpeg(struct cv_http_conn *c, const struct cv_http_args *args);
void cv_http_jpeg_viewer_free(struct cv_http_conn *c);
void cv_http_jpeg_drop_camera(struct cv_http_srv *srv, const char *camera);
void cv_http_jpeg_tick(struct cv_http_srv *srv, uint64_t now_ms);
void cv_http_jpeg_fini(struct cv_http_srv *srv);
unsigned cv_http_jpeg_viewers(const struct cv_http_srv *srv, const char *camera);

/* mse.c */
/* GET /api/stream.mp4: the connection becomes a viewer of camera's fMP4 (variant: native, or
 * h264 transcoded by its worker); filename (NULL or a plain name) makes it a download. */
int cv_http_mse_start_mp4(struct cv_http_conn *c, const char *camera, const char *variant,
                          const char *filename);
/* The WebSocket is open (/api/ws?src=c->ws_camera); messages come to cv_http_mse_ws_message. */
int cv_http_mse_ws_open(struct cv_http_conn *c);
void cv_http_mse_ws_message(struct cv_http_conn *c, const struct cv_ws_msg *m);
void cv_http_mse_viewer_free(struct cv_http_conn *c);
void cv_http_mse_drop_camera(struct cv_http_srv *srv, const char *camera);
void cv_http_mse_tick(struct cv_http_srv *srv, uint64_t now_ms);
void cv_http_mse_fini(struct cv_http_srv *srv);
/* Viewers per kind ("mse", "mp4") for a camera, for /api/cameras and /metrics. */
unsigned cv_http_mse_viewers(const struct cv_http_srv *srv, const char *camera, const char *kind);
uint64_t cv_http_mse_viewer_bytes(const struct cv_http_conn *c);
bool cv_http_mse_viewer_is_ws(const struct cv_http_conn *c);
/* The HLS session on camera's feed; with open, the feed and the session are made if missing
 * (NULL when they cannot be). The feed owns it; it lasts while cv_http_hls_tick says so. */
struct cv_http_hls *cv_http_mse_hls(struct cv_http_srv *srv, const char *camera, bool open);

/* hls.c: the routes answer like cv_http_api_route's handlers (0, or -1 to close). */
int cv_http_hls_playlist(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_hls_init(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_hls_segment(struct cv_http_conn *c, const struct cv_http_args *args);
/* The feed's side (mse.c): each fragment the muxer makes, gop_start for a video keyframe (a
 * segment ends before it); a muxer restart (a new timeline and init segment). */
struct cv_http_hls *cv_http_hls_new(const char *camera);
void cv_http_hls_on_frag(struct cv_http_hls *h, const struct cv_fmp4 *mux,
                         const struct cv_fmp4_frag *f, bool gop_start);
void cv_http_hls_on_restart(struct cv_http_hls *h);
/* Times out waiting playlist requests (503); false once the session is over (no request for
 * CV_HTTP_HLS_KEEP_MS): the feed then frees it. Waiting requests are answered 503 by free. */
bool cv_http_hls_tick(struct cv_http_hls *h, uint64_t now_ms);
void cv_http_hls_free(struct cv_http_hls *h);
/* c is closing: it stops waiting (c->hls_wait). */
void cv_http_hls_conn_gone(struct cv_http_conn *c);

/* webrtc.c: signalling, passed to camvisor-webrtc over the peer link */
int cv_http_webrtc_post(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_webrtc_delete(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_webrtc_patch(struct cv_http_conn *c, const struct cv_http_args *args);
int cv_http_webrtc_body(struct cv_http_conn *c, const void *in, size_t len);
int cv_http_webrtc_body_done(struct cv_http_conn *c);
void cv_http_webrtc_on_answer(struct cv_http_srv *srv, const struct cv_msg_webrtc_answer *a);
void cv_http_webrtc_peer_down(struct cv_http_srv *srv);
void cv_http_webrtc_tick(struct cv_http_srv *srv, uint64_t now_ms);
void cv_http_webrtc_ws_message(struct cv_http_conn *c, const struct cv_ws_msg *m);
void cv_http_webrtc_conn_gone(struct cv_http_conn *c);
/* The WebRTC sessions of camera as /api/streams consumers (ids from *id on), and their count. */
void cv_http_webrtc_consumers(struct cv_http_srv *srv, struct cv_json *j, const char *camera,
                              unsigned *id);
unsigned cv_http_webrtc_viewers(const struct cv_http_srv *srv, const char *camera);
/* mse.c: a WebSocket text message {"type", "value"}, and an error reply "<req>: <msg>" */
void cv_http_ws_text(struct cv_http_conn *c, const char *type, const char *value);
void cv_http_ws_error(struct cv_http_conn *c, const char *req, const char *msg);

#endif
