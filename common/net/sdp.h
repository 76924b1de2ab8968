/*
 * SDP (RFC 8866) as RTSP uses it: parsing a camera's DESCRIBE answer into tracks the worker can
 * depacketise (common/net/rtp.h) and describe in a ring (struct cv_stream_info), and building the
 * DESCRIBE answer of our own RTSP server from a ring's stream info. Pure code, no allocation.
 *
 * Payload types our server uses (cv_sdp_payload_type): H.264/H.265 96, AAC 97, Opus 111, PCMU 0
 * and PCMA 8 at 8 kHz mono (98/99 at other rates). A payload type is scoped to its m= line, so two
 * tracks may share one.
 */
#ifndef CV_SDP_H
#define CV_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

#define CV_SDP_MAX_CONTROL 512

struct cv_sdp_track {
    struct cv_track_info info; /* kind, codec, clock, channels, extradata (length-prefixed) */
    uint8_t payload_type;
    uint8_t media_index;              /* which m= line (from 0) this track came from */
    uint8_t packetization_mode;       /* H.264: 0 or 1 */
    bool has_profile_level_id;        /* H.264 */
    uint32_t profile_level_id;        /* H.264: profile_idc, constraints, level_idc */
    uint8_t aac_sizelength;           /* RFC 3640: AU-size bits (13 for AAC-hbr) */
    uint8_t aac_indexlength;          /* AU-Index bits of the first AU header (3) */
    uint8_t aac_indexdeltalength;     /* AU-Index-delta bits of the others (3) */
    char control[CV_SDP_MAX_CONTROL]; /* media-level a=control as written, "" when absent */
};

struct cv_sdp {
    unsigned track_count;
    unsigned skipped_media;           /* m= lines ignored: unknown codec, ONVIF metadata, ... */
    char control[CV_SDP_MAX_CONTROL]; /* session-level a=control ("*", a URL or "") */
    struct cv_sdp_track tracks[CV_MAX_TRACKS];
};

/*
 * Parses an SDP body (need not be NUL-terminated; CRLF or LF). Media that is not audio/video over
 * RTP/AVP, or uses a codec we cannot carry, is skipped and counted, never an error; of an m= line's
 * payload types the first usable one wins; tracks past CV_MAX_TRACKS are skipped. Extradata that
 * does not fit CV_MAX_EXTRADATA is left empty (the parameter sets also come in-band). Returns 0
 * (possibly with no tracks: the caller decides) or -EBADMSG when the text holds a NUL byte or no
 * "v=" line.
 */
int cv_sdp_parse(const char *text, size_t len, struct cv_sdp *out);

/*
 * Resolves a control attribute against a base URL (Content-Base, else Content-Location, else the
 * DESCRIBE URL): an absolute URL is used as is; "" or "*" is the base itself; "/path" replaces the
 * base's path; anything else is appended after a '/', the way FFmpeg, live555 and GStreamer do it
 * (cameras rely on that rather than on RFC 3986, e.g. Dahua's "...?channel=1&subtype=0/" bases).
 * Returns 0 or -E2BIG.
 */
int cv_sdp_resolve_control(const char *base, const char *control, char *out, size_t size);

/*
 * The URL to SETUP track i: its control resolved against the session-level control when that is
 * an absolute URL, else against base. A track with no control uses the session URL.
 */
int cv_sdp_track_url(const struct cv_sdp *sdp, unsigned i, const char *base, char *out,
                     size_t size);

/* The payload type our server announces for a track (see the top of this file). */
uint8_t cv_sdp_payload_type(const struct cv_track_info *t);

/*
 * Builds our DESCRIBE answer for the tracks si->tracks[sel[0..nsel-1]], each with
 * a=control:trackID=<index in si>. session_id goes into the o= line. Returns the length written
 * (NUL-terminated) or -E2BIG, or -EINVAL for a bad index or codec.
 */
int cv_sdp_build(const struct cv_stream_info *si, const unsigned *sel, unsigned nsel,
                 uint64_t session_id, char *out, size_t size);

#endif
