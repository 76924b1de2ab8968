/*
 * camvisor-webrtc: live video to browsers, tablets and Home Assistant over WebRTC. One process,
 * one libevent loop, one UDP port (fd 5, [webrtc] listen, default 8555) for every session:
 * ICE-lite (we answer the browser's STUN checks, we never send any), DTLS 1.2 server, SRTP.
 * Signalling does not reach it from the network: camvisor-http takes the client's offer (POST
 * /api/webrtc, WHEP, /api/ws) and passes it over its peer link (common/consumer/peer.h); the
 * answer goes back the same way. Four objects:
 *
 *   srv      the process: the UDP socket, the DTLS context, feeds, sessions
 *   feed     one camera this process subscribes to: its RTP fan-out (common/consumer/
 *            rtp-fanout.h), each frame packetised once for every session
 *   session  one PeerConnection: ICE credentials, the address its checks came from, DTLS, SRTP,
 *            the payload types the browser chose, and its place among the feed's viewers
 *
 * Packets on the one port are told apart by their first byte (RFC 7983): 0-3 STUN, 20-63 DTLS,
 * 128-191 SRTP/SRTCP. STUN finds its session by the USERNAME (our ufrag) and is answered only
 * when its MESSAGE-INTEGRITY holds; DTLS and SRTCP find theirs by the address a valid check came
 * from. Nothing unauthenticated is ever answered, so the port cannot be used to amplify.
 *
 * Ownership: srv owns feeds and sessions (lists). A session holds a reference on its feed.
 */
#ifndef CV_WEBRTC_H
#define CV_WEBRTC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <event2/dns.h>

#include "common/base/outq.h"
#include "common/consumer/admit.h"
#include "common/consumer/process.h"
#include "common/consumer/rtp-fanout.h"
#include "common/net/sdp-webrtc.h"
#include "consumers/webrtc/dtls.h"
#include "consumers/webrtc/srtp.h"
#include "proto/msg.h"

#define CV_WEBRTC_TICK_MS      100
#define CV_WEBRTC_CONNECT_MS   30000 /* a session must complete ICE and DTLS within this */
#define CV_WEBRTC_CONSENT_MS   30000 /* ... and then hear a check this often (RFC 7675) */
#define CV_WEBRTC_FEED_WAIT_MS 10000 /* an offer waits this long for the camera's parameters */
#define CV_WEBRTC_MTU          1200  /* an SRTP packet, header and tag included, at most */
#define CV_WEBRTC_EXT_ROOM     8     /* a one-byte header extension: playout-delay */
/* The RTP packet as packetised, before its header extension and SRTP tag. */
#define CV_WEBRTC_RTP_MTU        (CV_WEBRTC_MTU - 16 - CV_WEBRTC_EXT_ROOM)
#define CV_WEBRTC_SR_MS          1000 /* RTCP Sender Reports per track */
#define CV_WEBRTC_OFFERS_PER_10S 20   /* offers from one address in 10 s before it gets -EBUSY */
#define CV_WEBRTC_MAX_LOCAL      16   /* host candidates (interface addresses and configured) */
#define CV_WEBRTC_HISTORY        512  /* packets a camera's feed keeps for NACKs (~0.6 MiB) */
#define CV_WEBRTC_TCP_MAX        256  /* ICE-TCP connections at once */
#define CV_WEBRTC_BATCH          64   /* packets per sendmmsg() */
#define CV_WEBRTC_TCP_OUT        (1u << 20) /* bytes one ICE-TCP connection may have queued */
#define CV_WEBRTC_TCP_BIND_MS    10000      /* an ICE-TCP connection must pass a check by then */

#define CV_WEBRTC_MLINE_AUDIO (-2)

enum cv_webrtc_state {
    CV_WEBRTC_WAIT_FEED, /* the offer waits for the camera's parameters */
    CV_WEBRTC_CHECKING,  /* answered: waiting for a STUN check that holds */
    CV_WEBRTC_DTLS,      /* checks hold: the DTLS handshake goes on */
    CV_WEBRTC_PLAYING,   /* SRTP keys made: media flows */
};

/* [webrtc] (consumers/webrtc/config-keys.h), read from the supervisor's settings. */
struct cv_webrtc_settings {
    char candidates[512];
    char ice_servers[256];
    char certificate[256];
    uint32_t max_sessions, max_sessions_per_client;
};

/* One packet kept for retransmission, as packetised (before its payload type is written). */
struct cv_webrtc_hist {
    bool used;
    uint8_t track;
    uint16_t seq;
    uint16_t len;
    uint8_t data[CV_WEBRTC_RTP_MTU];
};

struct cv_webrtc_feed {
    struct cv_webrtc_feed *next; /* in srv->feeds */
    struct cv_webrtc_srv *srv;
    struct cv_feed *feed; /* owned */
    char camera[CV_NAME_MAX];
    int refs;                    /* sessions on this feed */
    struct cv_rtp_fanout rtp;    /* owned */
    struct cv_webrtc_hist *hist; /* owned: CV_WEBRTC_HISTORY packets, by sequence number */
};

/* How one feed track goes to one session: the payload type the browser picked. */
struct cv_webrtc_track {
    bool on;
    uint8_t pt;
    uint8_t playout_id; /* the browser's id for playout-delay (min = max = 0); 0: none */
    /* RTX (RFC 4588), when the browser offered it for pt: retransmissions go on their own SSRC
     * and payload type, numbered apart, so the receiver's loss and jitter figures stay true. */
    bool rtx;
    uint8_t rtx_pt;
    uint16_t rtx_seq;
    uint32_t rtx_ssrc;
};

/*
 * One ICE-TCP connection (RFC 6544, passive: the browser connects to our port): RFC 4571 framing,
 * a 16-bit length before each STUN, DTLS or SRTP packet. It is bound to the session whose check
 * first passes on it; media for that session then goes here, framed, through a bounded queue.
 */
struct cv_webrtc_tcp {
    struct cv_webrtc_tcp *next; /* in srv->tcps */
    struct cv_webrtc_srv *srv;
    int fd;                      /* owned */
    struct event *rd_ev, *wr_ev; /* owned */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    uint8_t in[2 + 2048]; /* a frame being read */
    size_t in_len;
    struct cv_outq out;                /* owned */
    struct cv_webrtc_session *session; /* bound after a check passed on it; not owned */
    uint64_t opened_ms;
    bool dead;
};

struct cv_webrtc_session {
    struct cv_webrtc_session *next; /* in srv->sessions */
    struct cv_webrtc_srv *srv;
    enum cv_webrtc_state state;
    char id[CV_PROTO_SESSION_MAX];
    char camera[CV_NAME_MAX];
    char kind[16];          /* "whep", "json", "ws": how the offer came */
    char client[64];        /* the signalling client's address */
    uint32_t req_id;        /* camvisor-http's request, answered once */
    char ufrag[9], pwd[33]; /* ours */
    uint8_t peer_fp[64];    /* the offer's certificate fingerprint (sha-256) */
    uint8_t peer_fp_len;
    struct sockaddr_storage addr; /* where its valid checks came from: media goes there */
    struct cv_webrtc_tcp *tcp;    /* or over this ICE-TCP connection; not owned */
    socklen_t addrlen;
    bool have_addr;
    struct cv_dtls_conn dtls;
    struct cv_srtp srtp;
    struct cv_webrtc_feed *feed; /* referenced */
    bool transcoded;             /* it asked for the camera's h264 variant: no codec in common */
    /* The camera's audio in a codec WebRTC cannot carry (AAC): the session asks for the
     * camera's opus variant, a feed of its own with a viewer and a track of its own. */
    enum {
        CV_WEBRTC_AUDIO_NATIVE,
        CV_WEBRTC_AUDIO_WAITING,
        CV_WEBRTC_AUDIO_REFUSED,
        CV_WEBRTC_AUDIO_VARIANT
    } audio;
    struct cv_webrtc_feed *afeed; /* referenced: the opus variant's feed */
    struct cv_rtp_viewer aview;   /* in afeed's viewers while playing */
    struct cv_webrtc_track atrack;
    int atrack_index;                 /* afeed's track that atrack sends */
    char audio_why[128];              /* why the variant was refused */
    struct cv_webrtc_feed *prev_feed; /* referenced: the native feed it left, released at the
                                       * next tick (not from inside that feed's callback) */
    struct cv_rtp_viewer view;        /* in feed's viewers while playing */
    struct cv_webrtc_track tracks[CV_MAX_TRACKS];
    struct cv_webrtc_sdp_offer *offer; /* owned while WAIT_FEED: answered when the feed is ready */
    /* A server-made offer (the client asked for ours): what each of our m-lines sends (a feed
     * track, CV_WEBRTC_MLINE_AUDIO for the opus variant's, or -1), until its answer comes. */
    bool server_offer, await_answer, dtls_done;
    unsigned sent_media;
    int8_t mline[CV_WEBRTC_SDP_MAX_MEDIA];
    uint64_t created_ms, heard_ms, last_sr_ms, playing_ms;
    /* Figures for /api/streams: what went out, what the browser's reports say. */
    uint64_t packets, bytes, keyframe_requests, nacks, retransmits, send_errors;
    uint32_t lost, jitter;
    uint8_t fraction_lost;
    bool dead;
};

/* The server-reflexive candidate, when [webrtc] ice_servers names a STUN server (srflx.c). */
struct cv_webrtc_srflx {
    bool on;        /* a server is configured */
    char host[256]; /* as configured */
    uint16_t port;
    struct evdns_base *dns;                      /* owned: created on first use */
    struct evdns_getaddrinfo_request *resolving; /* not owned: the lookup under way */
    uint64_t retry_resolve_ms;                   /* a failed lookup is tried again then */
    struct sockaddr_storage server;              /* resolved; server_len 0 until then */
    socklen_t server_len;
    uint8_t tid[12];          /* of the request in flight */
    bool asked;               /* a request is in flight */
    uint64_t next_ms, gap_ms; /* the next request, and the retransmission gap */
    bool have;                /* an answer came: ip:mapped_port is our public address */
    char ip[64];
    uint16_t mapped_port;
};

struct cv_webrtc_srv {
    struct cv_consumer proc;       /* the process skeleton: loop, control socket, feeds, peers */
    int udp;                       /* fd 5, not owned (the supervisor's contract) */
    struct cv_listener tcp_listen; /* owned: ICE-TCP on fd 4 */
    struct cv_webrtc_tcp *tcps;
    uint32_t tcp_count;
    struct cv_outq_budget tcp_budget;
    struct event *udp_ev; /* owned */
    uint16_t port;
    struct cv_webrtc_srflx srflx;
    struct cv_webrtc_settings set;
    bool have_settings;
    char certificate_loaded[256]; /* the PEM file our certificate came from; "" made at start */
    struct cv_dtls_ctx dtls;
    struct cv_webrtc_feed *feeds;
    struct cv_webrtc_session *sessions;
    uint32_t session_count;
    uint32_t next_session;
    /* Our host candidates: every interface address with the port, and the configured ones. */
    struct {
        char ip[64];
        uint16_t port;
    } local[CV_WEBRTC_MAX_LOCAL];
    unsigned local_count;
    /* Offers per address, for the rate limit. */
    struct {
        struct sockaddr_storage addr;
        uint64_t window_ms;
        unsigned count;
    } offer_rate[64];
    uint64_t refused_log_ms, bad_packets;
    uint64_t stats_ms;  /* the last stats sent to camvisor-http */
    bool stats_nonzero; /* they listed sessions: an empty list is owed when the last goes */
    /* Scratch: one packet at a time, never kept. */
    uint8_t in[2048];
    uint8_t out[2048];
    /* A frame's packets for one session, protected and sent with one sendmmsg() per batch. */
    uint8_t batch[CV_WEBRTC_BATCH][CV_WEBRTC_MTU + 64];
    struct iovec batch_iov[CV_WEBRTC_BATCH];
    struct mmsghdr batch_msg[CV_WEBRTC_BATCH];
    /* UDP GSO (UDP_SEGMENT): a run of equal-sized packets goes down the stack as one; the
     * control message of each run, and whether the kernel refused it once (then never again). */
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } batch_cmsg[CV_WEBRTC_BATCH];
    bool no_gso;
};

/* session.c */
void cv_webrtc_offer(struct cv_webrtc_srv *srv, const struct cv_msg_webrtc_offer *o);
/* The client ends a session (WHEP DELETE), or its signalling went (with_signalling: a session
 * that plays goes on, one still being set up ends). */
void cv_webrtc_close_by_id(struct cv_webrtc_srv *srv, const char *id, uint32_t req_id,
                           bool with_signalling);
/* One packet from the UDP socket (via NULL) or an ICE-TCP connection. */
void cv_webrtc_input(struct cv_webrtc_srv *srv, const uint8_t *p, size_t n,
                     const struct sockaddr_storage *from, socklen_t fromlen,
                     struct cv_webrtc_tcp *via);
/* srflx.c */
/* (Re)reads srv->set.ice_servers: starts asking a new STUN server, or stops. */
void cv_webrtc_srflx_configure(struct cv_webrtc_srv *srv);
void cv_webrtc_srflx_tick(struct cv_webrtc_srv *srv, uint64_t now_ms);
/* True when p is the STUN server's answer to our request (taken); false: not for us. */
bool cv_webrtc_srflx_input(struct cv_webrtc_srv *srv, const uint8_t *p, size_t n,
                           const struct sockaddr_storage *from);
void cv_webrtc_srflx_fini(struct cv_webrtc_srv *srv);
void cv_webrtc_srflx_free(struct cv_webrtc_srv *srv);

/* tcp.c */
void cv_webrtc_tcp_accept(void *srv, int fd, const struct sockaddr *sa, socklen_t salen);
/* Sends one packet framed on c: 0, or -ENOBUFS when its queue is full (the packet is dropped). */
int cv_webrtc_tcp_send(struct cv_webrtc_tcp *c, const uint8_t *p, size_t n);
void cv_webrtc_tcp_close(struct cv_webrtc_tcp *c, const char *why);
void cv_webrtc_tcp_tick(struct cv_webrtc_srv *srv, uint64_t now_ms);
void cv_webrtc_tcp_reap(struct cv_webrtc_srv *srv);
void cv_webrtc_session_close(struct cv_webrtc_session *s, const char *why);
/* Closes s; an offer still waiting gets status and why as its answer. */
void cv_webrtc_session_refuse(struct cv_webrtc_session *s, int status, const char *why);
void cv_webrtc_tick(struct cv_webrtc_srv *srv, uint64_t now_ms);
void cv_webrtc_reap(struct cv_webrtc_srv *srv);
void cv_webrtc_drop_camera(struct cv_webrtc_srv *srv, const char *camera);
/* The feed it waits on is ready (or failed): answer the offer. */
void cv_webrtc_session_feed_ready(struct cv_webrtc_session *s);
/* The fan-out's send op: protect and send one frame's packets to a playing session. */
int cv_webrtc_session_send(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                           const struct cv_rtp_pkt *pkts, size_t count);
/* The same for an audio variant's feed (its viewers are sessions' aview). */
int cv_webrtc_session_send_audio(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                                 const struct cv_rtp_pkt *pkts, size_t count);
/* The audio variant's feed refused the session, or went for good: audio stops, video goes on. */
void cv_webrtc_session_audio_refused(struct cv_webrtc_session *s, const char *why);

/* feed.c */
/* The feed of (camera, variant) this process has, or a new one. NULL with errno (EMFILE).
 * joined_audio: a feed joined to sessions for their audio (the opus variant): its viewers are
 * the sessions' aview, sent with cv_webrtc_session_send_audio(). */
struct cv_webrtc_feed *cv_webrtc_feed_get(struct cv_webrtc_srv *srv, const char *camera,
                                          const char *variant, bool joined_audio);
/* A packet of track t with sequence number seq if the history still has it, else NULL. */
const struct cv_webrtc_hist *cv_webrtc_feed_history(const struct cv_webrtc_feed *f, int t,
                                                    uint16_t seq);
void cv_webrtc_feed_put(struct cv_webrtc_feed *f);

#endif
