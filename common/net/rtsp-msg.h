/*
 * RTSP/1.0 message framing, shared by the RTSP server (camvisor-rtsp) and the camera RTSP client
 * (worker). Everything here is pure: no sockets, no allocation, no logging. Input is untrusted
 * network data; every function bounds-checks and returns 0 or a negative errno:
 *
 *   -EAGAIN           the buffer holds only part of a message; read more and call again
 *   -EBADMSG          malformed; the connection cannot be resynchronised, close it
 *   -E2BIG            header block, a header count or the body exceeds the limits below
 *   -EPROTONOSUPPORT  well-formed start line, but not RTSP/1.0 (HTTP/1.x, RTSP/2.0); the
 *                     method/uri/version strings are filled so the server can answer 505 or log
 *
 * Related parsers live next door: common/net/rtsp-transport.h (Transport header) and
 * common/net/rtsp-auth.h (Basic/Digest authentication).
 */
#ifndef CV_RTSP_MSG_H
#define CV_RTSP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CV_RTSP_MAX_HEADERS      32
#define CV_RTSP_MAX_HEADER_BYTES 8192  /* start line + headers + blank line */
#define CV_RTSP_MAX_BODY         65536 /* Content-Length limit (an SDP is a few KiB) */

enum cv_rtsp_msg_type {
    CV_RTSP_REQUEST = 1,
    CV_RTSP_RESPONSE = 2,
};

enum cv_rtsp_method {
    CV_RTSP_UNKNOWN = 0, /* any other token: the server answers 501 */
    CV_RTSP_OPTIONS,
    CV_RTSP_DESCRIBE,
    CV_RTSP_SETUP,
    CV_RTSP_PLAY,
    CV_RTSP_PAUSE,
    CV_RTSP_TEARDOWN,
    CV_RTSP_GET_PARAMETER,
    CV_RTSP_SET_PARAMETER,
    CV_RTSP_ANNOUNCE,
    CV_RTSP_RECORD,
};

struct cv_rtsp_header {
    const char *name;  /* NUL-terminated, inside the message's strbuf */
    const char *value; /* NUL-terminated, surrounding whitespace trimmed */
};

/*
 * One parsed message. Lifetimes: every string (method, uri, version, reason, header names and
 * values) is copied, NUL-terminated, into strbuf, so it lives as long as this struct and does not
 * depend on the input buffer. The body is NOT copied: body points into the caller's buffer and is
 * valid until the caller discards or reuses those bytes (consume them only after using the body).
 * The struct is about 9 KiB; keep one per connection rather than on a small stack.
 */
struct cv_rtsp_msg {
    uint8_t type;   /* enum cv_rtsp_msg_type */
    uint8_t method; /* enum cv_rtsp_method; requests only */
    bool has_cseq;
    const char *method_str; /* requests: the method token as sent */
    const char *uri;        /* requests: the request URI as sent */
    const char *version;    /* "RTSP/1.0" unless -EPROTONOSUPPORT */
    int status;             /* responses: 100..999 */
    const char *reason;     /* responses: reason phrase, may be "" */
    uint32_t cseq;
    size_t content_length;
    const uint8_t *body; /* into the caller's buffer, see above; NULL when body_len is 0 */
    size_t body_len;
    unsigned header_count;
    struct cv_rtsp_header headers[CV_RTSP_MAX_HEADERS];
    size_t str_used;
    char strbuf[CV_RTSP_MAX_HEADER_BYTES];
};

/*
 * Parses one message from the start of buf. On 0, *consumed is the size of the whole message
 * (leading blank lines, headers and body) to drop from the input. Line ends may be CRLF or bare
 * LF. Folded (continuation) header lines, NUL or control bytes, a duplicate or malformed
 * Content-Length or CSeq are -EBADMSG. A buffer starting with '$' is interleaved data, not a
 * message: check cv_rtsp_interleaved() first.
 */
int cv_rtsp_msg_parse(const uint8_t *buf, size_t len, struct cv_rtsp_msg *m, size_t *consumed);

/* Value of the first header called name (case-insensitive), or NULL. */
const char *cv_rtsp_msg_header(const struct cv_rtsp_msg *m, const char *name);
/* The n-th (from 0) header called name, for repeated ones such as WWW-Authenticate; or NULL. */
const char *cv_rtsp_msg_header_nth(const struct cv_rtsp_msg *m, const char *name, unsigned n);

enum cv_rtsp_method cv_rtsp_method_from_str(const char *s);
const char *cv_rtsp_method_str(enum cv_rtsp_method method);
/* Standard reason phrase for an RTSP status code ("OK", "Session Not Found", ...). */
const char *cv_rtsp_status_reason(int status);

/*
 * Interleaved binary data on the RTSP TCP connection (RFC 2326 10.12): '$', channel, 16-bit
 * big-endian length, then that many bytes. Returns 0 when the 4-byte header is available and
 * fills channel and plen; the whole frame is 4 + *plen bytes, which the caller must wait for.
 * -EAGAIN: fewer than 4 bytes (or none); -ENOMSG: buf does not start with '$' (an RTSP message).
 */
int cv_rtsp_interleaved(const uint8_t *buf, size_t len, uint8_t *channel, uint16_t *plen);

/* One item of an RTSP TCP connection's input, as cv_rtsp_next_item() finds it. */
struct cv_rtsp_item {
    bool is_data;        /* an interleaved frame; else a message, parsed into the caller's msg */
    uint8_t channel;     /* is_data: the frame's channel */
    const uint8_t *data; /* is_data: its payload, inside the caller's buffer */
    size_t data_len;
    size_t size; /* bytes the whole item takes at the start of the buffer */
};

/*
 * The complete item at the start of buf[0..len), the input of an RTSP connection in either
 * direction: an interleaved frame, or a message parsed into *m (which then points into buf).
 * 0 and *it filled; -EAGAIN: the item is not complete yet, wait for more bytes; -EMSGSIZE: a
 * message still incomplete after max_msg bytes (a peer that never ends its headers or body);
 * else cv_rtsp_msg_parse()'s error for a malformed message. Every caller's input loop is this
 * one, and tests/fuzz's RTSP targets run it.
 */
int cv_rtsp_next_item(const uint8_t *buf, size_t len, size_t max_msg, struct cv_rtsp_msg *m,
                      struct cv_rtsp_item *it);

/*
 * Session header: "id[;timeout=N]". id is copied (bounded by id_size, -E2BIG if longer);
 * *timeout is N in seconds, or 0 when absent (RFC 2326's default is 60).
 */
int cv_rtsp_session_parse(const char *value, char *id, size_t id_size, unsigned *timeout);

/*
 * Range header, npt only: "npt=now-", "npt=0.000-", "npt=10-20.5". *start and *end are seconds, -1
 * for "now" / an open end. -ENOTSUP for smpte/clock ranges, -EBADMSG when malformed.
 */
int cv_rtsp_range_parse(const char *value, double *start, double *end);

/*
 * Splits a request URI into the path (leading and trailing '/' removed, %XX decoded) and the raw
 * query string: "/cam?video=h264&audio=aac" gives "cam" and "video=h264&audio=aac";
 * "rtsp://host:8554/cam/trackID=1" gives "cam/trackID=1" and "". Either output may be NULL.
 * -E2BIG when an output is too small, -EBADMSG for a bad escape or an encoded NUL.
 */
int cv_rtsp_url_split(const char *uri, char *path, size_t path_size, char *query,
                      size_t query_size);

#endif
