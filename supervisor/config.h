/*
 * The configuration: one global INI (etc/camvisor.ini) and a folder with one INI per camera
 * (cameras.d/<name>.ini), read into an immutable generation.
 *
 * cv_config_load() parses and validates every file into a new struct cv_config that owns all of
 * its memory; nothing is ever modified in place. A reload loads a second generation and diffs the
 * two (cv_config_camera_find + cv_config_camera_equal), then frees the old one. The loader never
 * logs: every problem goes into the caller's buffer as "file:line: message", one per line.
 * docs/config.md documents every key and the INI rules.
 */
#ifndef CV_CONFIG_H
#define CV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/base/log.h"

#define CV_CONFIG_NAME_MAX    64   /* camera name: 1..63 of [A-Za-z0-9._-], plus the NUL */
#define CV_CONFIG_URL_MAX     1024 /* effective camera URL, credentials included */
#define CV_CONFIG_PATH_MAX    512
#define CV_CONFIG_CRED_MAX    128  /* user names and passwords */
#define CV_CONFIG_MAX_LINE    1000 /* bytes in one INI line, without the newline */
#define CV_CONFIG_MAX_VALUE   1024 /* bytes in one value after ${ENV} expansion */
#define CV_CONFIG_MAX_CAMERAS 1024 /* camera files in the folder, enabled or not */
/* Enabled cameras: [server] max_cameras, at most this (what a catalogue message carries, see
 * CV_PROTO_MAX_CAMS) and by default this. */
#define CV_CONFIG_CAMERAS_LIMIT 256
/* [server] max_transcodes by default: a 1080p software transcode takes most of a core. */
#define CV_CONFIG_MAX_TRANSCODES 4
/*
 * The first line of a camera file the API wrote (PUT /api/streams). Such a file is the API's to
 * replace or remove, and its values are taken literally: a ${VAR} in a URL that came over the
 * network is never expanded from the supervisor's environment, now or when the file is read
 * back at the next start. Without this line a file is the administrator's, never touched.
 */
#define CV_CONFIG_API_MARK     "; written by camvisor's API"
#define CV_CONFIG_MAX_ERRORS   20 /* messages written to the caller's buffer; the rest counted */
#define CV_CONFIG_FILE_MAX     (256 << 10) /* bytes in one INI file; a camera file is ~200 */
#define CV_CONFIG_RING_MIN     (256ull << 10)
#define CV_CONFIG_RING_MAX     (256ull << 20)
#define CV_CONFIG_RING_DEFAULT (6ull << 20) /* an auto ring's first size, before it is measured */
#define CV_CONFIG_RING_AUTO    0            /* ring_size = auto: sized to the stream */

enum cv_camera_mode {
    CV_MODE_ALWAYS,    /* worker runs whenever the camera is enabled */
    CV_MODE_ON_DEMAND, /* worker runs while some consumer wants it, plus idle_timeout_ms */
};

enum cv_transport {
    CV_TRANSPORT_TCP, /* RTSP interleaved over the control connection */
    CV_TRANSPORT_UDP,
};

enum cv_hwaccel {
    CV_HWACCEL_AUTO, /* best available: NVDEC, then VAAPI, then software */
    CV_HWACCEL_NVDEC,
    CV_HWACCEL_VAAPI,
    CV_HWACCEL_NONE, /* software only */
};

/* A picture size; a side 0 follows the aspect ratio (0x0: the source's). */
struct cv_pic_size {
    uint16_t width, height;
};

/* A listening address. host "" means every interface (getaddrinfo with a NULL node). */
struct cv_listen {
    char host[64]; /* without the brackets of an IPv6 literal */
    uint16_t port;
    bool enabled; /* false when the key was set to "" */
};

/*
 * One camera. Plain data with no pointers, so that holders may copy it by value (the supervisor
 * keeps a copy per running camera).
 */
struct cv_camera_config {
    char name[CV_CONFIG_NAME_MAX];
    char url[CV_CONFIG_URL_MAX];          /* effective URL, credentials included: never print */
    char url_redacted[CV_CONFIG_URL_MAX]; /* the same with the password masked, for printing */
    enum cv_camera_mode mode;
    uint32_t idle_timeout_ms;
    enum cv_transport transport;
    enum cv_hwaccel hwaccel;
    uint32_t transcode_kbps;           /* its encoders' bitrate, 0 for theirs */
    struct cv_pic_size transcode_size; /* of its h264 variant; 0x0 the camera's */
    bool enabled;
    uint64_t ring_size; /* bytes, CV_CONFIG_RING_MIN..CV_CONFIG_RING_MAX, or CV_CONFIG_RING_AUTO */
    char file[CV_CONFIG_PATH_MAX]; /* where it was defined, for messages */
    int line;                      /* line of its name key, else of its [camera] header */
    bool api_file; /* its file starts with CV_CONFIG_API_MARK: read literally, the API's own */
};

/* What one consumer's listener allows; every consumer has its own ([rtsp] ... keys). */
struct cv_conn_limits {
    uint32_t max_conns;            /* connections in all; more are refused politely */
    uint32_t max_conns_per_client; /* from one client address */
    uint32_t request_timeout_ms;   /* a request not complete this long after its first byte */
    uint32_t idle_timeout_ms;      /* a connection without a playing session, this long idle */
};

/* One generation. Owns everything it points to; free it with cv_config_free(). */
struct cv_config {
    char path[CV_CONFIG_PATH_MAX];        /* the global file, as given */
    char cameras_dir[CV_CONFIG_PATH_MAX]; /* resolved against the global file's folder */
    char user[64];                        /* [server] user: the account children run as */
    enum cv_log_level log_level;
    uint32_t max_cameras;    /* enabled cameras, 1..CV_CONFIG_CAMERAS_LIMIT */
    uint32_t max_transcodes; /* video/audio variants encoding at once, all cameras together */
    enum cv_hwaccel hwaccel; /* cameras' hwaccel unless their file sets it */

    struct cv_listen rtsp_listen, api_listen, webrtc_listen;

    char rtsp_username[CV_CONFIG_CRED_MAX], rtsp_password[CV_CONFIG_CRED_MAX]; /* "" = no auth */
    bool rtsp_local_auth; /* also ask loopback clients for credentials */
    char rtsp_default_query[128];
    struct cv_conn_limits rtsp_limits;

    char api_username[CV_CONFIG_CRED_MAX], api_password[CV_CONFIG_CRED_MAX];
    char api_token[CV_CONFIG_CRED_MAX]; /* bearer token; "" = none */
    bool api_local_auth, api_allow_write;
    char api_origin[128];    /* CORS / WebSocket origin: "" same host, "*" any */
    char api_base_path[128]; /* "" or "/prefix" */
    char api_static_dir[CV_CONFIG_PATH_MAX];
    char api_media_dir[CV_CONFIG_PATH_MAX]; /* file: sources the API may name; "" = none */
    struct cv_conn_limits api_limits;

    char webrtc_candidates[512];  /* "192.168.1.10:8555, my.host:8555": announced besides ours */
    char webrtc_ice_servers[256]; /* "stun:host:port", asked for our public address; "" none */
    char webrtc_certificate[256]; /* PEM file: DTLS certificate and key; "" = made at start */
    uint32_t webrtc_max_sessions, webrtc_max_sessions_per_client;

    size_t camera_count;
    struct cv_camera_config *cameras; /* owned; sorted by file name */
};

/*
 * Reads path and every cameras.d/<name>.ini into a new generation. Returns 0 and sets *out, or a
 * negative errno (-ENOENT: the global file is missing, -ENOMEM, -EINVAL for everything else)
 * with *out NULL and err holding every error found (up to CV_CONFIG_MAX_ERRORS of them, one per
 * line, in file order, then "(N more errors)"), each as "file:line: message". err may be NULL.
 */
int cv_config_load(const char *path, struct cv_config **out, char *err, size_t errlen);

/*
 * A consumer's section ("rtsp", "api", "webrtc") as text, the way CV_MSG_SETTINGS carries it:
 * emit(ctx, key, value) for each of its keys, booleans "1"/"0", counts and durations (ms) in
 * decimal, listen addresses "host:port" ("[v6]:port", "" when off), text as it is (secrets
 * included: never log a value). Returns the number of keys, or -ENOENT for no such section.
 */
typedef void (*cv_config_emit_fn)(void *ctx, const char *key, const char *value);
int cv_config_section_values(const struct cv_config *cfg, const char *section,
                             cv_config_emit_fn emit, void *ctx);
/* The section's `listen` address, or NULL when it has none. */
const struct cv_listen *cv_config_section_listen(const struct cv_config *cfg, const char *section);
/* "host:port", "[v6]:port", or "" when off. */
void cv_config_listen_str(const struct cv_listen *l, char *buf, size_t len);

/* Frees a generation and wipes the secrets it held. NULL is a no-op. */
void cv_config_free(struct cv_config *cfg);

const struct cv_camera_config *cv_config_camera_find(const struct cv_config *cfg, const char *name);

/*
 * True when two camera definitions would run the same worker: every field but where they were
 * written (file, line) and the derived url_redacted. A changed password counts as a change.
 */
bool cv_config_camera_equal(const struct cv_camera_config *a, const struct cv_camera_config *b);

/* What `camvisor --check-config` prints: settings and cameras, URLs redacted, no secrets. */
void cv_config_print_summary(const struct cv_config *cfg, FILE *fp);

const char *cv_config_mode_name(enum cv_camera_mode mode);
const char *cv_config_transport_name(enum cv_transport transport);
const char *cv_config_hwaccel_name(enum cv_hwaccel hwaccel);

/*
 * For tests and fuzzing: parses one file's text from memory through the same reader. kind says
 * which file it is; name is used in messages and, for a camera, as the file name the default
 * camera name comes from. A global file's cameras folder is resolved but not read; a camera
 * file gives a generation with default globals and that one camera.
 */
enum cv_config_kind {
    CV_CONFIG_GLOBAL,
    CV_CONFIG_CAMERA,
};
int cv_config_load_buffer(enum cv_config_kind kind, const char *name, const char *data, size_t len,
                          struct cv_config **out, char *err, size_t errlen);

#endif
