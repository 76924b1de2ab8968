/*
 * SDP for camvisor-webrtc, an ICE-lite WebRTC sender (camera -> browser): parsing a browser's
 * offer (Chrome, Firefox, Safari, aiortc; Home Assistant relays them as they are), choosing the
 * offered payload type that carries a camera track without transcoding, and building the answer.
 * Pure code, no allocation; the offer is untrusted input (it arrives over HTTP).
 *
 * The three steps:
 *   cv_webrtc_sdp_parse()   offer text -> struct cv_webrtc_sdp_offer (bounded, caller-owned)
 *   cv_webrtc_sdp_choose()  one m-line + one struct cv_track_info -> struct cv_webrtc_sdp_choice
 *   cv_webrtc_sdp_answer()  offer + what we send on each m-line + our ICE/DTLS identity -> text
 *
 * We are always the DTLS server (a=setup:passive), never the ICE controlling side (a=ice-lite),
 * and only send: directions are answered as RFC 3264 requires (recvonly/sendrecv -> sendonly,
 * sendonly/inactive -> inactive). Every offered m-line is answered, in offer order (RFC 8829);
 * one we do not use goes back with port 0 and its mid.
 */
#ifndef CV_SDP_WEBRTC_H
#define CV_SDP_WEBRTC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

/* Bounds of a parsed offer. What goes past them is skipped and counted, never an error. */
#define CV_WEBRTC_SDP_MAX_MEDIA   8   /* m-lines (a camera viewer offers 2 or 3) */
#define CV_WEBRTC_SDP_MAX_FORMATS 64  /* payload types per m-line (Chrome video: ~30) */
#define CV_WEBRTC_SDP_MAX_EXTMAPS 16  /* known header extensions per m-line */
#define CV_WEBRTC_SDP_MAX_MID     64  /* a mid of up to 63 characters; a longer one is -EBADMSG */
#define CV_WEBRTC_SDP_MAX_ICE     256 /* ice-ufrag / ice-pwd characters (RFC 8839) */
#define CV_WEBRTC_SDP_MAX_TOKEN   32  /* m= line media, proto and first format as written */
#define CV_WEBRTC_SDP_WHY_SIZE    160 /* cv_webrtc_sdp_choice.why */

enum cv_webrtc_sdp_media_type {
    CV_WEBRTC_SDP_MEDIA_OTHER = 0, /* text, message, ...: always answered rejected */
    CV_WEBRTC_SDP_MEDIA_AUDIO = 1,
    CV_WEBRTC_SDP_MEDIA_VIDEO = 2,
    CV_WEBRTC_SDP_MEDIA_APPLICATION = 3, /* data channels: we answer them rejected */
};

enum cv_webrtc_sdp_dir {
    CV_WEBRTC_SDP_SENDRECV = 0, /* the default when no direction attribute is given */
    CV_WEBRTC_SDP_SENDONLY = 1,
    CV_WEBRTC_SDP_RECVONLY = 2,
    CV_WEBRTC_SDP_INACTIVE = 3,
};

enum cv_webrtc_sdp_setup {
    CV_WEBRTC_SDP_SETUP_NONE = 0, /* absent: RFC 4145 reads it as active */
    CV_WEBRTC_SDP_SETUP_ACTPASS = 1,
    CV_WEBRTC_SDP_SETUP_ACTIVE = 2,
    CV_WEBRTC_SDP_SETUP_PASSIVE = 3, /* the browser wants to be the DTLS server: we cannot */
    CV_WEBRTC_SDP_SETUP_HOLDCONN = 4,
};

enum cv_webrtc_sdp_hash {
    CV_WEBRTC_SDP_HASH_NONE = 0,
    CV_WEBRTC_SDP_HASH_SHA1 = 1,
    CV_WEBRTC_SDP_HASH_SHA224 = 2,
    CV_WEBRTC_SDP_HASH_SHA256 = 3,
    CV_WEBRTC_SDP_HASH_SHA384 = 4,
    CV_WEBRTC_SDP_HASH_SHA512 = 5,
};

/* Encodings a browser offers (rtpmap name, or a static payload type without one). */
enum cv_webrtc_sdp_codec {
    CV_WEBRTC_CODEC_OTHER = 0, /* unknown name, or no rtpmap for a dynamic payload type */
    CV_WEBRTC_CODEC_H264,
    CV_WEBRTC_CODEC_H265,
    CV_WEBRTC_CODEC_VP8,
    CV_WEBRTC_CODEC_VP9,
    CV_WEBRTC_CODEC_AV1,
    CV_WEBRTC_CODEC_OPUS,
    CV_WEBRTC_CODEC_PCMA,
    CV_WEBRTC_CODEC_PCMU,
    CV_WEBRTC_CODEC_G722,
    CV_WEBRTC_CODEC_RTX,
    CV_WEBRTC_CODEC_RED,
    CV_WEBRTC_CODEC_ULPFEC,
    CV_WEBRTC_CODEC_FLEXFEC,
    CV_WEBRTC_CODEC_CN,
    CV_WEBRTC_CODEC_DTMF, /* telephone-event */
};

/* a=rtcp-fb values offered for a payload type (a=rtcp-fb:* applies to all of the m-line). */
#define CV_WEBRTC_SDP_FB_NACK         0x01u /* "nack" */
#define CV_WEBRTC_SDP_FB_NACK_PLI     0x02u /* "nack pli" */
#define CV_WEBRTC_SDP_FB_CCM_FIR      0x04u /* "ccm fir" */
#define CV_WEBRTC_SDP_FB_GOOG_REMB    0x08u /* "goog-remb" */
#define CV_WEBRTC_SDP_FB_TRANSPORT_CC 0x10u /* "transport-cc" */

/* RTP header extensions (RFC 8285) we know by URI; others are counted, not kept. */
enum cv_webrtc_sdp_ext {
    CV_WEBRTC_SDP_EXT_MID = 0,           /* urn:ietf:params:rtp-hdrext:sdes:mid */
    CV_WEBRTC_SDP_EXT_ABS_SEND_TIME,     /* http://www.webrtc.org/experiments/.../abs-send-time */
    CV_WEBRTC_SDP_EXT_TRANSPORT_CC,      /* ...draft-holmer-rmcat-transport-wide-cc-...-01 */
    CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY,     /* http://www.webrtc.org/experiments/.../playout-delay */
    CV_WEBRTC_SDP_EXT_TOFFSET,           /* urn:ietf:params:rtp-hdrext:toffset */
    CV_WEBRTC_SDP_EXT_VIDEO_ORIENTATION, /* urn:3gpp:video-orientation */
    CV_WEBRTC_SDP_EXT_AUDIO_LEVEL,       /* urn:ietf:params:rtp-hdrext:ssrc-audio-level */
    CV_WEBRTC_SDP_EXT_ABS_CAPTURE_TIME,  /* http://www.webrtc.org/.../abs-capture-time */
    CV_WEBRTC_SDP_EXT_RTP_STREAM_ID,     /* urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id */
    CV_WEBRTC_SDP_EXT_REPAIRED_RTP_STREAM_ID,
    CV_WEBRTC_SDP_EXT_COUNT,
};
#define CV_WEBRTC_SDP_EXT_BIT(e) (1u << (e))

/* The URI of a known extension ("" for an out-of-range value). */
const char *cv_webrtc_sdp_ext_uri(enum cv_webrtc_sdp_ext ext);

/* ICE and DTLS parameters: session-level values, overridden by media-level ones. */
struct cv_webrtc_sdp_transport {
    char ice_ufrag[CV_WEBRTC_SDP_MAX_ICE + 1]; /* "" when absent or not 4..256 ice-chars */
    char ice_pwd[CV_WEBRTC_SDP_MAX_ICE + 1];   /* "" when absent or not 22..256 ice-chars */
    uint8_t setup;                             /* enum cv_webrtc_sdp_setup */
    uint8_t fingerprint_hash;                  /* enum cv_webrtc_sdp_hash; sha-256 preferred */
    uint8_t fingerprint_len;                   /* bytes, matching the hash */
    uint8_t fingerprint[64];                   /* the certificate's digest, decoded */
};

struct cv_webrtc_sdp_format {
    uint8_t pt;          /* payload type, as listed on the m= line */
    uint8_t codec;       /* enum cv_webrtc_sdp_codec */
    uint8_t channels;    /* rtpmap's third field, 1 when absent */
    uint8_t fb;          /* CV_WEBRTC_SDP_FB_* */
    uint32_t clock_rate; /* 0: no rtpmap (a dynamic payload type without one is unusable) */
    char name[16];       /* rtpmap encoding name as written (cut to 15 characters), or "" */
    bool bad_fmtp;       /* a parameter we read had a value we cannot use: never chosen */
    /* fmtp parameters (RFC 6184 H.264, RFC 7798 H.265, RFC 4588 rtx): */
    uint8_t packetization_mode;   /* H.264: 0 when absent; 1 needed for our FU-A packets */
    bool level_asymmetry_allowed; /* H.264 */
    bool has_profile_level_id;    /* H.264: profile_level_id below is 42000a when absent */
    uint32_t profile_level_id;    /* H.264: profile_idc << 16 | constraint flags << 8 | level */
    bool has_profile_id;          /* H.265 (and VP9) profile-id */
    bool has_tier_flag, has_level_id, has_tx_mode;
    uint8_t profile_id, tier_flag, level_id; /* H.265 */
    bool has_apt;
    uint8_t apt; /* rtx: the payload type it repairs */
};

struct cv_webrtc_sdp_extmap {
    uint8_t ext;       /* enum cv_webrtc_sdp_ext */
    uint8_t direction; /* enum cv_webrtc_sdp_dir, from "a=extmap:<id>/<direction>" */
    uint16_t id;       /* 1..255; the answer keeps only 1..14 (one-byte headers) */
};

struct cv_webrtc_sdp_media {
    uint8_t type;      /* enum cv_webrtc_sdp_media_type */
    uint8_t direction; /* enum cv_webrtc_sdp_dir */
    uint16_t port;     /* the m= line's port */
    bool rejected;     /* port 0 and not a bundle-only m-line of the BUNDLE group */
    bool bundle_only;  /* a=bundle-only (RFC 8843: port 0 but not rejected) */
    bool bundled;      /* its mid is in the offer's BUNDLE group */
    bool dtls_srtp;    /* proto is [UDP/|TCP/]TLS/RTP/SAVP[F]: RTP we can answer */
    bool rtcp_mux, rtcp_rsize;
    char media[CV_WEBRTC_SDP_MAX_TOKEN]; /* "video", ... as written */
    char proto[CV_WEBRTC_SDP_MAX_TOKEN]; /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
    char fmt0[CV_WEBRTC_SDP_MAX_TOKEN];  /* first format token: echoed when rejecting */
    char mid[CV_WEBRTC_SDP_MAX_MID];     /* "" when absent */
    struct cv_webrtc_sdp_transport transport;
    unsigned format_count;
    unsigned skipped_formats; /* payload types past CV_WEBRTC_SDP_MAX_FORMATS or malformed */
    struct cv_webrtc_sdp_format formats[CV_WEBRTC_SDP_MAX_FORMATS];
    unsigned extmap_count;
    unsigned other_extmaps; /* unknown URIs, bad ids, or past CV_WEBRTC_SDP_MAX_EXTMAPS */
    struct cv_webrtc_sdp_extmap extmaps[CV_WEBRTC_SDP_MAX_EXTMAPS];
    unsigned candidate_count; /* the browser's a=candidate lines (ICE-lite does not need them) */
};

/* About 30 KiB: the caller keeps it with the session or request, not on a small stack. */
struct cv_webrtc_sdp_offer {
    struct cv_webrtc_sdp_transport transport; /* session-level values */
    bool ice_lite;                            /* the offerer is ICE-lite too (no browser is) */
    unsigned bundle_count;                    /* mids of the first a=group:BUNDLE */
    char bundle[CV_WEBRTC_SDP_MAX_MEDIA][CV_WEBRTC_SDP_MAX_MID];
    unsigned media_count;
    unsigned skipped_media; /* m-lines past CV_WEBRTC_SDP_MAX_MEDIA: the answer refuses them */
    struct cv_webrtc_sdp_media media[CV_WEBRTC_SDP_MAX_MEDIA];
};

/*
 * Parses an offer (need not be NUL-terminated; CRLF or LF). Unknown lines and attributes are
 * ignored, and so are attribute values we cannot use (an ice-ufrag of 3 characters, a fingerprint
 * of the wrong length); counts past the limits above are skipped and counted. Returns 0, or
 * -EBADMSG when the text is empty, holds a NUL byte, has no "v=" line, or has an m= line or mid
 * we could not echo in the answer (fewer than four fields, a bad port, characters outside visible
 * ASCII, a token or mid too long, two m-lines with one mid). On error *out is all zero.
 */
int cv_webrtc_sdp_parse(const char *text, size_t len, struct cv_webrtc_sdp_offer *out);

/* How a chosen payload type relates to the camera's stream. */
enum cv_webrtc_sdp_match {
    CV_WEBRTC_SDP_MATCH_NONE = 0,
    CV_WEBRTC_SDP_MATCH_EXACT,    /* same codec and profile (audio: same clock/channels) */
    CV_WEBRTC_SDP_MATCH_SUPERSET, /* an offered profile that decodes the camera's (Main in High) */
    CV_WEBRTC_SDP_MATCH_BASELINE, /* H.264 above what is offered, negotiated as (Constrained)
                                   * Baseline: Chromium decodes it (tested on this machine) */
    CV_WEBRTC_SDP_MATCH_ANY,      /* H.264: neither; the first packetization-mode=1 format */
    CV_WEBRTC_SDP_MATCH_UNKNOWN,  /* H.264/H.265 without an SPS in extradata: most common one */
};

/* What to send one track with: the product of cv_webrtc_sdp_choose(). */
struct cv_webrtc_sdp_choice {
    bool ok;
    uint8_t pt;   /* offered payload type to send with */
    bool has_rtx; /* an offered rtx payload type repairs pt (RFC 4588) */
    uint8_t rtx_pt;
    uint8_t codec;                    /* enum cv_codec of the track */
    uint8_t match;                    /* enum cv_webrtc_sdp_match */
    char why[CV_WEBRTC_SDP_WHY_SIZE]; /* for the log: why this payload type, or why none */
};

/*
 * Picks the payload type of m-line m that carries track without transcoding. H.264 needs
 * packetization-mode=1; the profile from the SPS in extradata (the first NAL unit of type 7,
 * bytes 1..3) is matched exactly, else by an offered profile that decodes it, else sent as
 * Constrained Baseline 42e01f / Baseline 42001f, else as any mode-1 H.264 (see enum
 * cv_webrtc_sdp_match). H.265 matches profile-id (Main also goes in Main 10). Opus is opus/48000/2;
 * PCMA/PCMU need the track's rate and channels offered (8000/1 in every browser). An rtx payload
 * type whose apt= is the chosen one is picked too. Returns 0 (out->ok), -ENOENT when the m-line
 * offers nothing usable (rejected, other kind, codec not offered, H.264 mode 0 only) or -ENOTSUP
 * for a codec WebRTC cannot carry (AAC, JPEG); out->why says which, e.g. "browser offers no H.265".
 */
int cv_webrtc_sdp_choose(const struct cv_webrtc_sdp_media *m, const struct cv_track_info *track,
                         struct cv_webrtc_sdp_choice *out);

/*
 * For an m-line we have nothing to send on (a camera without audio): the payload type to answer
 * it a=inactive with (struct cv_webrtc_sdp_send's inactive), the first codec of ours it offers.
 * 0 (out->ok), or -ENOENT when it offers none or is not an RTP m-line we can answer.
 */
int cv_webrtc_sdp_choose_inactive(const struct cv_webrtc_sdp_media *m,
                                  struct cv_webrtc_sdp_choice *out);

/*
 * One of our ICE candidates: a host address, UDP or ICE-TCP passive (RFC 6544), or a
 * server-reflexive one (UDP only), the address a STUN server saw our UDP socket's datagrams
 * come from. Written "typ host", or "typ srflx raddr <raddr> rport <rport>" when raddr is set.
 * RFC 8445 priorities: type preference 126 for host UDP, 100 for srflx, 90 for host TCP, so a
 * browser tries them in that order; the local preference falls with the index in the array.
 */
struct cv_webrtc_sdp_candidate {
    const char *ip; /* IPv4 or IPv6 text, borrowed */
    uint16_t port;
    bool tcp;
    /*
     * srflx only: the base, i.e. our host address and port the mapping is of (RFC 8839 §5.1
     * rel-addr, rel-port; browsers write "0.0.0.0" and 0 to hide it). NULL, rport 0: host.
     */
    const char *raddr;
    uint16_t rport;
};

/* Our side of the answer; every pointer is borrowed for the call. */
struct cv_webrtc_sdp_local {
    const char *ice_ufrag;   /* 4..256 ice-chars ([A-Za-z0-9+/]) */
    const char *ice_pwd;     /* 22..256 ice-chars */
    const char *fingerprint; /* sha-256 of our DTLS certificate: 32 hex pairs with colons */
    const char *cname;       /* RTCP CNAME in a=ssrc (1..64 visible ASCII characters) */
    const char *stream_id;   /* a=msid stream id (1..64 visible ASCII characters, no ':') */
    uint64_t session_id;     /* o= line (the top bit is dropped, as JSEP asks) */
    const struct cv_webrtc_sdp_candidate *candidates;
    unsigned candidate_count;
    bool offer; /* a server-made offer (from cv_webrtc_sdp_template()): a=setup:actpass */
};

/* What we do with one offered m-line. */
struct cv_webrtc_sdp_send {
    const struct cv_webrtc_sdp_choice *choice; /* NULL or !ok: answer the m-line with port 0 */
    uint32_t ssrc;                             /* of the media stream */
    uint32_t rtx_ssrc;                         /* of the rtx stream, when choice->has_rtx */
    uint32_t extensions; /* CV_WEBRTC_SDP_EXT_BIT()s to keep where offered with an id 1..14 */
    /* Answered a=inactive with choice's payload type (nothing to send on it: a camera without
     * audio) instead of rejected: aiortc 1.4 refuses an answer with a rejected audio or video
     * m-line, and every browser takes an inactive one. */
    bool inactive;
};

/*
 * Builds the answer to offer, send[i] answering offer->media[i] (nsend == offer->media_count).
 * Accepted m-lines carry our ICE credentials, fingerprint and setup:passive; the candidates and
 * a=end-of-candidates go in the first accepted m-line of the BUNDLE group and in every accepted
 * m-line outside it. Candidate n of the array has foundation n + 1; a srflx candidate with the
 * ip and port of a UDP host one is redundant (RFC 8445 §5.1.3: a server's own public address)
 * and left out. The m= port and c= address are the default candidate's (RFC 8445 §5.1.4): the
 * first UDP srflx, else the first UDP host, else 9 and 0.0.0.0. An accepted m-line writes only
 * the rtcp-fb nack, nack pli and ccm fir the browser offered for the payload type, and
 * a=ssrc/msid lines when it is answered sendonly.
 * Returns the length written (NUL-terminated), -E2BIG when it does not fit, -EINVAL for bad
 * local values (among them a srflx candidate over TCP, a raddr that is no IP address, an rport
 * without raddr) or a choice that is not a payload type of its m-line, -EPROTO for an accepted
 * m-line that cannot be DTLS-SRTP (no ICE credentials or fingerprint in the offer, setup:passive,
 * rejected or not RTP), or -ERANGE when the offer had more m-lines than we keep (they could not
 * be answered, and a short answer is refused by every browser).
 */
int cv_webrtc_sdp_answer(const struct cv_webrtc_sdp_offer *offer,
                         const struct cv_webrtc_sdp_send *send, unsigned nsend,
                         const struct cv_webrtc_sdp_local *local, char *out, size_t size);

/*
 * Server-made offers (go2rtc's WS API and older WHEP drafts let a client ask for one): the offer
 * a browser would make for the camera's tracks, to run through cv_webrtc_sdp_choose() and
 * cv_webrtc_sdp_answer() (with local->offer set) like a real one, so that our offer names exactly
 * what we would answer: one recvonly m-line per video and audio track, in track order, mids "0",
 * "1"...; video offers H.264 under the camera's profile (42e01f without an SPS) and H.265, each
 * with RTX, nack/pli/fir and playout-delay; audio Opus, PCMU and PCMA. Its ICE and DTLS values are
 * placeholders the answer writer needs and never prints. -ENOENT when the camera has no track.
 * The client's answer is then read with cv_webrtc_sdp_parse(): same syntax.
 */
int cv_webrtc_sdp_template(const struct cv_stream_info *info, struct cv_webrtc_sdp_offer *out);

#endif
