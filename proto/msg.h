/*
 * Control messages between the supervisor and its children: msgpack maps over Unix
 * SOCK_SEQPACKET sockets, one message per datagram, file descriptors alongside via SCM_RIGHTS.
 * This header is the contract; docs/architecture.md has the sequence diagrams.
 *
 * Every message is a map with at least {"v": CV_PROTO_VERSION, "t": "<type>"}. Decoders treat
 * every message as untrusted: wrong version, unknown type, missing or mistyped field, oversized
 * string -> -EBADMSG, never a crash. Unknown extra keys are ignored, so a newer peer may add
 * fields without breaking an older one (but a changed meaning needs a new version).
 *
 * Strings are copied into fixed-size fields; nothing in a decoded message points into the
 * receive buffer, so a decoded struct outlives it.
 */
#ifndef CV_PROTO_MSG_H
#define CV_PROTO_MSG_H

#include <stddef.h>
#include <stdint.h>

#define CV_PROTO_VERSION       3
#define CV_PROTO_MAX_MSG       65536
#define CV_PROTO_MAX_FDS       4
#define CV_NAME_MAX            64 /* camera names: [A-Za-z0-9._-]{1,63} */
#define CV_URL_MAX             1024
#define CV_PROTO_MAX_CAMS      256
#define CV_PROTO_MAX_SETTINGS  40 /* keys of one consumer's section, and its peers' addresses */
#define CV_PROTO_SETTING_KEY   48
#define CV_PROTO_SETTING_VALUE 528 /* a path (512) and room */
#define CV_PROTO_SDP_MAX       16384
#define CV_PROTO_SESSION_MAX   40 /* a WebRTC session's id: "w" and hex */

enum cv_msg_type {
    CV_MSG_NONE = 0,
    CV_MSG_HELLO,         /* child -> sup: role, camera, pid */
    CV_MSG_CAMERA,        /* sup -> worker: what to ingest (URL with credentials) */
    CV_MSG_CATALOGUE,     /* sup -> consumer: every camera with its state and codecs */
    CV_MSG_SUBSCRIBE,     /* consumer -> sup: camera, variant, sub_id; fd: doorbell eventfd */
    CV_MSG_SUBSCRIBED,    /* sup -> consumer: sub_id, status; fd: read-only ring */
    CV_MSG_UNSUBSCRIBE,   /* consumer -> sup: sub_id */
    CV_MSG_DOORBELL_ADD,  /* sup -> worker: id; fd: eventfd to ring after each frame */
    CV_MSG_DOORBELL_DEL,  /* sup -> worker: id */
    CV_MSG_STATUS,        /* worker -> sup: state and stream figures */
    CV_MSG_SETTINGS,      /* sup -> consumer: its section's keys and values (see below) */
    CV_MSG_KEYFRAME,      /* consumer -> sup: sub_id; sup -> worker: a keyframe, please */
    CV_MSG_RING,          /* sup -> worker: fd: a new ring to move to; worker -> sup: moved */
    CV_MSG_VARIANT_START, /* sup -> worker: variant; fd: its ring (rw): produce it */
    CV_MSG_VARIANT_STOP,  /* sup -> worker: variant: nobody wants it any more */
    CV_MSG_CAMERA_STATUS, /* sup -> consumers that want it: a worker's status, each second */
    CV_MSG_PEER,          /* sup -> consumer: role; fd: a socket to that consumer process */
    CV_MSG_STREAM_PUT,    /* camvisor-http -> sup: add or replace a camera (PUT /api/streams) */
    CV_MSG_STREAM_DELETE, /* camvisor-http -> sup: remove a camera (DELETE /api/streams) */
    CV_MSG_STREAM_RESULT, /* sup -> camvisor-http: how a put or delete went */
    /* Consumer to consumer, over a CV_MSG_PEER socket (the supervisor never sees them): */
    CV_MSG_WEBRTC_OFFER,     /* http -> webrtc: a client's SDP offer for a camera */
    CV_MSG_WEBRTC_ANSWER,    /* webrtc -> http: the answer (or why not) and the session's id */
    CV_MSG_WEBRTC_CANDIDATE, /* either way: a trickled ICE candidate of a session */
    CV_MSG_WEBRTC_CLOSE,     /* http -> webrtc: end a session (WHEP DELETE, WebSocket gone) */
    CV_MSG_WEBRTC_STATS,     /* webrtc -> http: every session's figures, each second */
    CV_MSG_TYPE_COUNT,
};

enum cv_role {
    CV_ROLE_SUPERVISOR = 0,
    CV_ROLE_WORKER = 1,
    CV_ROLE_RTSP = 2,
    CV_ROLE_HTTP = 3,
    CV_ROLE_WEBRTC = 4,
};

enum cv_worker_state {
    CV_STATE_STOPPED = 0,
    CV_STATE_CONNECTING = 1,
    CV_STATE_STREAMING = 2,
    CV_STATE_RECONNECTING = 3,
};

struct cv_msg_hello {
    uint32_t role; /* enum cv_role */
    uint32_t pid;
    char camera[CV_NAME_MAX];
};

struct cv_msg_camera {
    char name[CV_NAME_MAX];
    char url[CV_URL_MAX]; /* effective URL: may carry credentials, never log it */
    uint32_t transport;   /* 0 tcp, 1 udp */
    uint32_t ring_size;
    uint32_t log_level;      /* enum cv_log_level */
    uint32_t hwaccel;        /* what its decoder may use: worker/xcode.h's enum cv_xcode_hw */
    uint32_t transcode_kbps; /* its encoders' bitrate; 0 for theirs */
    uint32_t transcode_w, transcode_h; /* its h264 variant's size; 0 the camera's */
};

/* One camera as every consumer sees it: its name and what its worker last reported. */
struct cv_msg_camera_entry {
    char name[CV_NAME_MAX];
    uint32_t state;    /* enum cv_worker_state */
    char codecs[64];   /* "h264,aac"; "" until the worker has streamed */
    uint32_t restarts; /* of its worker, since the supervisor started */
};

/*
 * Sent to each consumer when it starts, on every reload and whenever a camera's state or codecs
 * change. The consumer's own settings come in a message of their own (CV_MSG_SETTINGS).
 */
struct cv_msg_catalogue {
    uint32_t camera_count;
    struct cv_msg_camera_entry cameras[CV_PROTO_MAX_CAMS];
    uint32_t log_level; /* enum cv_log_level */
};

/*
 * A consumer's settings: the keys of its section of camvisor.ini (its row of the supervisor's
 * role table names the section) as text, validated and normalised by the supervisor (booleans
 * "1"/"0", durations in milliseconds, addresses "host:port" or "" when off), plus the listen
 * address of every other consumer as "<name>.listen" (camvisor-http links to the RTSP port).
 * Sent before its first catalogue and on every reload. The consumer reads them into its own
 * struct with its own table (common/consumer/settings.h): adding a key touches no message.
 * Values may be secrets (passwords): never log a value.
 */
struct cv_msg_setting {
    char key[CV_PROTO_SETTING_KEY];
    char value[CV_PROTO_SETTING_VALUE];
};

struct cv_msg_settings {
    uint32_t count;
    struct cv_msg_setting items[CV_PROTO_MAX_SETTINGS];
};

/* A socket to another consumer process (the row's peer), one end each, sent again after either
 * restarts: the two exchange their own typed messages over it. */
struct cv_msg_peer {
    uint32_t role; /* enum cv_role of the process at the other end */
};

#define CV_VARIANT_MAX    16
#define CV_VARIANT_NATIVE "native" /* the camera's own stream: every camera has it */

struct cv_msg_subscribe {
    uint32_t sub_id;
    char camera[CV_NAME_MAX];
    char variant[CV_VARIANT_MAX]; /* "native"; an unknown or unavailable one is refused */
};

/* The ring hand-over with a live writer: the worker copies the frames since the newest keyframe
 * into the new ring, writes there from now on, and answers with the same message. */
struct cv_msg_ring {
    uint64_t size; /* data bytes of the new ring */
};

/* consumer -> sup: sub_id names the camera; sup -> worker: sub_id is 0. */
struct cv_msg_keyframe {
    uint32_t sub_id;
    char variant[CV_VARIANT_MAX]; /* sup -> worker: the ring the viewer reads ("": every one) */
};

struct cv_msg_subscribed {
    uint32_t sub_id;
    int32_t status; /* 0 or a negative errno */
    char reason[128];
};

struct cv_msg_unsubscribe {
    uint32_t sub_id;
};

struct cv_msg_doorbell {
    uint32_t id;
    char variant[CV_VARIANT_MAX]; /* add: ring it after each frame of this variant's ring */
};

/* A worker's last status, as the supervisor passes it on (CV_MSG_CAMERA_STATUS). */
struct cv_msg_camera_status {
    char camera[CV_NAME_MAX];
    uint32_t state; /* enum cv_worker_state */
    uint32_t fps_x100;
    uint32_t bitrate;
    uint32_t restarts;
    uint64_t frames;
    char codecs[64];
    char error[128];         /* the camera's last connection error, redacted; "" while streaming */
    uint32_t width, height;  /* of the first video track; 0 when not known yet */
    uint64_t uptime_ms;      /* since the worker last started streaming; 0 when not streaming */
    uint64_t bytes;          /* received from the camera since the worker started */
    char source[CV_URL_MAX]; /* the camera's URL, redacted (no password) */
    char transcode[192];     /* as cv_msg_status's */
    uint32_t encoders;
    uint64_t decoded, xcode_skipped;
    uint32_t xcode_p50_us, xcode_p99_us;
};

/*
 * A camera added or replaced through the API: written to cameras.d/<name>.ini and loaded like a
 * SIGHUP reload. The URL carries the camera's credentials: never log it.
 */
struct cv_msg_stream_put {
    uint32_t req_id;
    char name[CV_NAME_MAX];
    char url[CV_URL_MAX];
};

struct cv_msg_stream_delete {
    uint32_t req_id;
    char name[CV_NAME_MAX];
};

/* status: 0 done, 1 nothing to do (the same definition, or an unknown name on delete), or a
 * negative errno with its reason: -EINVAL a bad definition, -EEXIST defined in a file the API
 * does not own, -EIO the file could not be written. */
struct cv_msg_stream_result {
    uint32_t req_id;
    int32_t status;
    char reason[256];
};

/*
 * WebRTC signalling between camvisor-http (which takes the client's request) and camvisor-webrtc
 * (which owns the sessions). req_id is chosen by http and echoed; session ids by webrtc.
 */
/* flags of a webrtc_offer: a server-made offer is asked for (sdp empty), or sdp is the
 * client's answer to the server-made offer of session. Neither: sdp is the client's offer. */
#define CV_WEBRTC_WANT_OFFER    1u
#define CV_WEBRTC_CLIENT_ANSWER 2u

struct cv_msg_webrtc_offer {
    uint32_t req_id;
    char camera[CV_NAME_MAX];
    char kind[16];   /* how it came: "whep", "json", "ws" (shown in /api/streams) */
    char client[64]; /* the client's address, for caps per address and the log */
    uint32_t flags;  /* CV_WEBRTC_WANT_OFFER, CV_WEBRTC_CLIENT_ANSWER */
    char session[CV_PROTO_SESSION_MAX]; /* with CV_WEBRTC_CLIENT_ANSWER */
    char sdp[CV_PROTO_SDP_MAX];
};

/* status 0 with sdp and session, or a negative errno with its reason (-ENOENT no such camera,
 * -EBUSY too many sessions, -EINVAL an offer that cannot be answered, -ENOTSUP no codec). */
struct cv_msg_webrtc_answer {
    uint32_t req_id;
    int32_t status;
    uint32_t flags; /* CV_WEBRTC_WANT_OFFER: sdp is our offer; CV_WEBRTC_CLIENT_ANSWER: the
                     * client's answer was taken (no sdp) */
    char reason[256];
    char session[CV_PROTO_SESSION_MAX];
    char sdp[CV_PROTO_SDP_MAX];
};

struct cv_msg_webrtc_candidate {
    uint32_t req_id; /* http's request, when the session id is not known to it yet */
    char session[CV_PROTO_SESSION_MAX];
    char candidate[256]; /* "candidate:..." as in SDP, without "a=" */
};

/* with_signalling: the client's signalling went (its WebSocket closed). A session that plays
 * goes on (go2rtc's player closes its socket once WebRTC plays); one still being set up ends. */
struct cv_msg_webrtc_close {
    uint32_t req_id;
    char session[CV_PROTO_SESSION_MAX];
    uint32_t with_signalling;
};

/* One session as /api/streams and /metrics show it. */
#define CV_PROTO_MAX_WEBRTC_STATS 128
struct cv_msg_webrtc_session {
    char session[CV_PROTO_SESSION_MAX];
    char camera[CV_NAME_MAX];
    char kind[16];   /* "whep", "json", "ws" */
    char client[64]; /* the signalling client's address */
    uint32_t state;  /* 0 waiting for the camera, 1 checking, 2 DTLS, 3 playing */
    uint64_t packets, bytes;
    uint32_t lost, jitter; /* from the browser's receiver reports */
    uint64_t nacks, retransmits, keyframe_requests;
};

/* Sent each second while there are sessions, and once when the last one ends. Sessions past
 * CV_PROTO_MAX_WEBRTC_STATS are counted in total, not listed. */
struct cv_msg_webrtc_stats {
    uint32_t total;
    uint32_t count;
    struct cv_msg_webrtc_session sessions[CV_PROTO_MAX_WEBRTC_STATS];
};

struct cv_msg_variant {
    char variant[CV_VARIANT_MAX];
};

struct cv_msg_status {
    uint32_t state; /* enum cv_worker_state */
    uint32_t fps_x100;
    uint32_t bitrate; /* bits per second over the last interval */
    uint64_t frames;
    uint32_t gop_ms;        /* last keyframe interval */
    uint32_t ring_span_ms;  /* how much time the ring holds at the current rate */
    uint32_t gop_bytes;     /* the largest GOP (keyframe to keyframe, all tracks) lately */
    uint32_t width, height; /* of the first video track; 0 when not known yet */
    uint64_t uptime_ms;     /* since it last started streaming; 0 when not streaming */
    uint64_t bytes;         /* received from the camera since the worker started */
    char codecs[64];        /* "h264,aac" */
    char error[128];        /* last connection error, redacted */
    /* Transcoding, while a variant needs it: "h264 640x480, jpeg 320x240; decoder: software
     * (nvdec: no cuda device ...)"; "" when nothing is transcoded. */
    char transcode[192];
    uint32_t encoders;      /* encoders running (one per transcoded variant, whoever watches) */
    uint64_t decoded;       /* access units decoded since the worker started */
    uint64_t xcode_skipped; /* camera frames the decoder skipped to keep up */
    /* Camera frame in -> its transcoded picture in the variant's ring, over each variant's last
     * CV_VARIANTS_LAT_SAMPLES pictures: the median and the 99th percentile of the slowest. */
    uint32_t xcode_p50_us, xcode_p99_us;
};

struct cv_msg {
    uint32_t type; /* enum cv_msg_type */
    union {
        struct cv_msg_hello hello;
        struct cv_msg_camera camera;
        struct cv_msg_catalogue catalogue;
        struct cv_msg_subscribe subscribe;
        struct cv_msg_subscribed subscribed;
        struct cv_msg_unsubscribe unsubscribe;
        struct cv_msg_doorbell doorbell;
        struct cv_msg_status status;
        struct cv_msg_settings settings;
        struct cv_msg_peer peer;
        struct cv_msg_keyframe keyframe;
        struct cv_msg_ring ring;
        struct cv_msg_variant variant;
        struct cv_msg_camera_status camera_status;
        struct cv_msg_stream_put stream_put;
        struct cv_msg_stream_delete stream_delete;
        struct cv_msg_stream_result stream_result;
        struct cv_msg_webrtc_offer webrtc_offer;
        struct cv_msg_webrtc_answer webrtc_answer;
        struct cv_msg_webrtc_candidate webrtc_candidate;
        struct cv_msg_webrtc_close webrtc_close;
        struct cv_msg_webrtc_stats webrtc_stats;
    } u;
};

const char *cv_msg_type_name(uint32_t type);

/* Encodes m into buf; returns the length or a negative errno (-EMSGSIZE). */
int cv_msg_encode(const struct cv_msg *m, uint8_t *buf, size_t cap);
/* Decodes and validates one message. Returns 0 or -EBADMSG. */
int cv_msg_decode(const uint8_t *buf, size_t len, struct cv_msg *m);

#endif
