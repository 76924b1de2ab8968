/*
 * The RTSP Transport header (RFC 2326 12.39): parsed from a client's SETUP by the server, and from
 * a camera's SETUP reply by the client; formatted for the reply or the request. Pure code.
 */
#ifndef CV_RTSP_TRANSPORT_H
#define CV_RTSP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cv_rtsp_lower {
    CV_RTSP_LOWER_UDP = 1,
    CV_RTSP_LOWER_TCP = 2,
};

enum cv_rtsp_mode {
    CV_RTSP_MODE_PLAY = 0, /* the default when mode= is absent */
    CV_RTSP_MODE_RECORD = 1,
};

/* What cv_rtsp_transport_parse may choose; a spec outside the mask is skipped. */
#define CV_RTSP_ACCEPT_UDP       (1u << 0)
#define CV_RTSP_ACCEPT_TCP       (1u << 1)
#define CV_RTSP_ACCEPT_MULTICAST (1u << 2)
#define CV_RTSP_ACCEPT_ANY       (CV_RTSP_ACCEPT_UDP | CV_RTSP_ACCEPT_TCP | CV_RTSP_ACCEPT_MULTICAST)

struct cv_rtsp_transport {
    uint8_t lower; /* enum cv_rtsp_lower */
    uint8_t mode;  /* enum cv_rtsp_mode */
    bool multicast;
    bool has_interleaved;
    bool has_client_port;
    bool has_server_port;
    bool has_ssrc;
    uint8_t interleaved[2]; /* RTP and RTCP channels; a lone "interleaved=4" means 4-5 */
    uint16_t client_port[2];
    uint16_t server_port[2];
    uint32_t ssrc;
};

/*
 * Parses a comma-separated list of transport specs and keeps the first one that is well formed
 * and allowed by accept (CV_RTSP_ACCEPT_*). Only RTP/AVP profiles are understood. Unknown
 * parameters are ignored. Returns 0; -ENOTSUP when specs parsed but none is acceptable (answer
 * 461 Unsupported Transport); -EBADMSG when none parsed at all.
 */
int cv_rtsp_transport_parse(const char *value, unsigned accept, struct cv_rtsp_transport *t);

/*
 * Formats t as one spec, e.g. "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=0DC475A3" or
 * "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=...". mode= is written only
 * for RECORD. Returns the length written (NUL excluded) or -E2BIG when out is too small.
 */
int cv_rtsp_transport_format(const struct cv_rtsp_transport *t, char *out, size_t size);

#endif
