/*
 * camvisor-rtsp: the RTSP restream server (rtsp://host:8554/<camera>). One process, one libevent
 * loop. Three objects:
 *
 *   srv   the process: control socket, listener, catalogue, feeds, connections
 *   feed  one camera this process subscribes to: its ring reader, its RTP packetisers, and the
 *         sessions playing it. Each frame is read once and packetised once for all of them.
 *   conn  one client TCP connection with its RTSP session (a session lives on its connection)
 *
 * Ownership: srv owns feeds and conns (lists). A conn holds a reference on the feed it described
 * or set up, and is one of its viewers; a feed unsubscribes when its last reference goes.
 */
#ifndef CV_RTSP_H
#define CV_RTSP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "common/base/outq.h"
#include "common/consumer/admit.h"
#include "common/consumer/feed.h"
#include "common/consumer/process.h"
#include "common/consumer/rtp-fanout.h"
#include "common/media/media.h"
#include "common/ring/ring.h"
#include "common/net/rtp.h"
#include "common/net/rtsp-msg.h"
#include "proto/msg.h"

struct event;
struct event_base;
struct evconnlistener;
struct cv_rtsp_srv;
struct cv_rtsp_conn;

#define CV_RTSP_DESCRIBE_WAIT_MS 10000
#define CV_RTSP_SESSION_TIMEOUT  60 /* seconds without a request or RTCP before we drop it */
#define CV_RTSP_MAX_BACKLOG      (4u << 20) /* bytes queued for a slow client before we drop it */
#define CV_RTSP_MAX_BACKLOG_MS   5000       /* ... or time it stays behind without catching up */
#define CV_RTSP_SR_INTERVAL_MS   5000 /* RTCP Sender Reports per track (the first at PLAY's tick) */
#define CV_RTSP_SR_MAX_AGE_MS    2000 /* ... only while the track had a frame this recently */
#define CV_RTSP_SNDBUF           (1u << 20)  /* fixed kernel send buffer: backpressure shows soon */
#define CV_RTSP_MAX_BACKLOG_ALL  (64u << 20) /* queued bytes for all clients of the process */
#define CV_RTSP_ACCEPT_PAUSE_MS  250         /* out of descriptors: stop accepting this long */
#define CV_RTSP_LINGER_MS        2000 /* after an error reply, drain the client's input so long */
#define CV_RTSP_AUTH_CONN_FAILS  3    /* bad credentials on one connection before it is closed */
#define CV_RTSP_AUTH_ADDR_FAILS  10   /* ... from one address within the window: locked out */
#define CV_RTSP_AUTH_WINDOW_MS   60000
#define CV_RTSP_AUTH_LOCK_MS     30000

/* [rtsp] (consumers/rtsp/config-keys.h), read from the supervisor's settings (main.c). */
struct cv_rtsp_settings {
    char username[128]; /* auth; empty = none */
    char password[128];
    bool local_auth;
    char default_query[128];
    uint32_t max_conns, max_conns_per_client;     /* 0 = no limit */
    uint32_t request_timeout_ms, idle_timeout_ms; /* 0 = none */
};

struct cv_rtsp_feed {
    struct cv_rtsp_feed *next; /* in srv->feeds */
    struct cv_rtsp_srv *srv;
    struct cv_feed *feed; /* owned: the subscription (common/consumer/feed.h) */
    char camera[CV_NAME_MAX];
    char variant[CV_VARIANT_MAX];
    const struct cv_stream_info *info; /* the feed's codec parameters */
    int refs;                          /* conns that described or set up this feed */
    struct cv_rtp_fanout rtp;          /* owned: packetised once for all sessions */
};

enum cv_rtsp_conn_state { CV_CONN_INIT, CV_CONN_READY, CV_CONN_PLAYING };

struct cv_rtsp_track_out {
    bool setup;
    int feed_track;  /* index into feed->info.tracks */
    uint8_t channel; /* TCP: interleaved RTP channel (RTCP = channel + 1) */
    bool udp;
    uint16_t client_port; /* UDP: client's RTP port */
};

struct cv_rtsp_conn {
    struct cv_rtsp_conn *next;
    struct cv_rtsp_srv *srv;
    int fd;                      /* owned */
    struct event *rd_ev, *wr_ev; /* owned */
    char peer[64];
    struct sockaddr_storage peer_sa; /* for UDP media: no getpeername() per frame */
    socklen_t peer_salen;
    bool loopback;
    struct cv_rtsp_feed *feed; /* referenced, not owned */
    struct cv_rtp_viewer view; /* in feed->feed's viewers while bound to it */
    enum cv_rtsp_conn_state state;
    char session[32];
    struct cv_rtsp_track_out out[CV_MAX_TRACKS];
    int selected[CV_MAX_TRACKS]; /* feed tracks chosen by the query filter */
    int selected_count;
    uint64_t last_seen_ms;
    uint64_t last_sr_ms;   /* when the last RTCP Sender Reports went out */
    bool describe_pending; /* waiting for the camera's codec parameters */
    uint64_t describe_deadline_ms;
    uint32_t pending_cseq;
    char pending_base[512];
    bool closing;   /* close once the backlog is written */
    bool lingering; /* reply sent, write side shut: reading what is left until EOF */
    bool dead;      /* closed, waiting for cv_rtsp_conn_reap() */
    uint64_t linger_deadline_ms;
    unsigned auth_fails; /* bad credentials on this connection */
    char nonce[33];      /* Digest nonce of this connection's challenges; "" until the first */
    /* input */
    uint8_t in[16384];
    size_t in_len;
    uint64_t req_start_ms;  /* when the incomplete item at the start of in[] began */
    struct cv_outq outq;    /* what the socket did not take yet (common/base/outq.h) */
    struct cv_rtsp_msg msg; /* the request being handled */
};

struct cv_rtsp_srv {
    struct cv_consumer
        proc; /* the process skeleton: loop, control socket, feeds (common/consumer) */
    struct cv_listener listen; /* owned: accepting on fd 4 */
    bool have_settings;        /* clients are accepted only once it and the catalogue have come */
    bool accepting;            /* ... and they have: the listener is enabled */
    struct cv_rtsp_settings settings; /* [rtsp]: auth, default query, limits */
    struct cv_rtsp_feed *feeds;
    struct cv_rtsp_conn *conns;
    struct cv_rtsp_conn *dead; /* closed conns, freed by the skeleton's reap */
    int udp_rtp, udp_rtcp;     /* our UDP pair for RTP/AVP unicast, owned */
    uint16_t udp_port;
    uint32_t conn_count;              /* live conns */
    uint64_t refused_log_ms;          /* the last refusal logged: a flood is one line a second */
    struct cv_outq_budget out_budget; /* queued over all conns, against CV_RTSP_MAX_BACKLOG_ALL */
    struct cv_throttle throttle;      /* bad credentials per address (conn.c) */
    /* Scratch for the fan-out and DESCRIBE: one frame or one reply at a time, never kept. */
    uint8_t rtp_hdr[CV_RTP_FANOUT_MAX_PKTS][4];
    struct iovec rtp_iov[2 * CV_RTP_FANOUT_MAX_PKTS];
    char sdp[16384];
};

/* feed.c */
struct cv_rtsp_feed *cv_rtsp_feed_get(struct cv_rtsp_srv *srv, const char *camera,
                                      const char *variant);
void cv_rtsp_feed_put(struct cv_rtsp_feed *feed);
void cv_rtsp_feed_drop_all(struct cv_rtsp_srv *srv, const char *camera);

/* conn.c */
void cv_rtsp_conn_accept(void *srv, int fd, const struct sockaddr *sa, socklen_t salen);
void cv_rtsp_conn_close(struct cv_rtsp_conn *conn, const char *why);
/* Sends packets of one feed track; drops the conn if it falls too far behind (-EPIPE: gone). */
int cv_rtsp_conn_send_rtp(struct cv_rtsp_conn *conn, int feed_track, const uint8_t *arena,
                          const struct cv_rtp_pkt *pkts, size_t count);
/* The feed's codec parameters arrived (or the wait timed out): answer a waiting DESCRIBE. */
void cv_rtsp_conn_feed_ready(struct cv_rtsp_conn *conn);
void cv_rtsp_conn_tick(struct cv_rtsp_conn *conn, uint64_t now_ms);
void cv_rtsp_conn_reap(struct cv_rtsp_srv *srv);

#endif
