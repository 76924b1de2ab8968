/*
 * WebRTC SDP for our ICE-lite sender (see sdp-webrtc.h). The offer is read in one pass, line by
 * line, as [start, end) spans of the caller's text: session-level attributes seed each m-line as
 * it starts (RFC 8866 puts them all before the first m=), media-level ones override them, and
 * payload-type attributes (rtpmap, fmtp, rtcp-fb) land on the formats the m= line listed. Every
 * string we may echo into the answer (media, proto, first format, mid) is checked to be visible
 * ASCII when parsed, so the answer cannot carry a stray CR or space from the offer.
 *
 * The answer is written with one bounded printf-style writer that keeps counting past the end of
 * the buffer, so "does it fit" is a single check at the end.
 */
#include "common/net/sdp-webrtc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/base/hex.h"
#include "common/media/nal.h"
#include "common/net/span.h"

/* --- spans ------------------------------------------------------------------------------------ */

/* Next line of [*p, end), without its CR/LF and with its ends trimmed; false at the end. */
static bool line_trimmed(const char **p, const char *end, struct cv_span *line)
{
    if (!cv_span_line(p, end, line))
        return false;
    cv_span_trim(line);
    return true;
}

/* Copies a non-empty token of visible ASCII (safe to echo into our answer) that fits. */
static bool copy_token(struct cv_span v, char *out, size_t size)
{
    if (v.s >= v.e || cv_span_len(v) + 1 > size)
        return false;
    for (const char *c = v.s; c < v.e; c++)
        if (*c < 0x21 || *c > 0x7e)
            return false;
    memcpy(out, v.s, cv_span_len(v));
    out[cv_span_len(v)] = '\0';
    return true;
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839), min..256 of them. */
static bool ice_chars(const char *s, size_t n, size_t min)
{
    if (n < min || n > CV_WEBRTC_SDP_MAX_ICE)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    return true;
}

/* --- tables ----------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    uint8_t codec;
} codec_names[] = {
    {"H264", CV_WEBRTC_CODEC_H264},
    {"H265", CV_WEBRTC_CODEC_H265},
    {"HEVC", CV_WEBRTC_CODEC_H265},
    {"VP8", CV_WEBRTC_CODEC_VP8},
    {"VP9", CV_WEBRTC_CODEC_VP9},
    {"AV1", CV_WEBRTC_CODEC_AV1},
    {"opus", CV_WEBRTC_CODEC_OPUS},
    {"PCMA", CV_WEBRTC_CODEC_PCMA},
    {"PCMU", CV_WEBRTC_CODEC_PCMU},
    {"G722", CV_WEBRTC_CODEC_G722},
    {"rtx", CV_WEBRTC_CODEC_RTX},
    {"red", CV_WEBRTC_CODEC_RED},
    {"ulpfec", CV_WEBRTC_CODEC_ULPFEC},
    {"flexfec-03", CV_WEBRTC_CODEC_FLEXFEC},
    {"flexfec", CV_WEBRTC_CODEC_FLEXFEC},
    {"CN", CV_WEBRTC_CODEC_CN},
    {"telephone-event", CV_WEBRTC_CODEC_DTMF},
};

static const char *const ext_uris[CV_WEBRTC_SDP_EXT_COUNT] = {
    [CV_WEBRTC_SDP_EXT_MID] = "urn:ietf:params:rtp-hdrext:sdes:mid",
    [CV_WEBRTC_SDP_EXT_ABS_SEND_TIME] =
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    [CV_WEBRTC_SDP_EXT_TRANSPORT_CC] =
        "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
    [CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY] =
        "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
    [CV_WEBRTC_SDP_EXT_TOFFSET] = "urn:ietf:params:rtp-hdrext:toffset",
    [CV_WEBRTC_SDP_EXT_VIDEO_ORIENTATION] = "urn:3gpp:video-orientation",
    [CV_WEBRTC_SDP_EXT_AUDIO_LEVEL] = "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    [CV_WEBRTC_SDP_EXT_ABS_CAPTURE_TIME] =
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time",
    [CV_WEBRTC_SDP_EXT_RTP_STREAM_ID] = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
    [CV_WEBRTC_SDP_EXT_REPAIRED_RTP_STREAM_ID] =
        "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
};

const char *cv_webrtc_sdp_ext_uri(enum cv_webrtc_sdp_ext ext)
{
    return (unsigned)ext < CV_WEBRTC_SDP_EXT_COUNT ? ext_uris[ext] : "";
}

static const struct {
    const char *name;
    uint8_t hash;
    uint8_t len;
} hashes[] = {
    {"sha-1", CV_WEBRTC_SDP_HASH_SHA1, 20},     {"sha-224", CV_WEBRTC_SDP_HASH_SHA224, 28},
    {"sha-256", CV_WEBRTC_SDP_HASH_SHA256, 32}, {"sha-384", CV_WEBRTC_SDP_HASH_SHA384, 48},
    {"sha-512", CV_WEBRTC_SDP_HASH_SHA512, 64},
};

static const char *const dir_names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};

/* enum cv_webrtc_sdp_dir of a direction attribute name, -1 for anything else. */
static int direction_of(struct cv_span v)
{
    for (int i = 0; i < 4; i++)
        if (cv_span_is(v, dir_names[i]))
            return i;
    return -1;
}

/* --- offer parsing ---------------------------------------------------------------------------- */

struct parser {
    struct cv_webrtc_sdp_offer *out;
    struct cv_webrtc_sdp_media *cur; /* NULL at session level and in skipped m= sections */
    bool skipping;                   /* inside an m= section past CV_WEBRTC_SDP_MAX_MEDIA */
    bool fp_here;                    /* a fingerprint was taken at the current level */
    uint8_t session_dir;
    unsigned session_ext_count, session_other_ext;
    struct cv_webrtc_sdp_extmap session_ext[CV_WEBRTC_SDP_MAX_EXTMAPS];
};

/*
 * "a=fingerprint:<hash> XX:XX:..." The first one at a level replaces what the level above gave;
 * after it, only a sha-256 replaces a digest of another kind (several may be offered).
 */
static void parse_fingerprint(struct cv_webrtc_sdp_transport *t, struct cv_span val, bool *here)
{
    struct cv_span name, hex, pair;
    uint8_t digest[64];
    size_t n = 0, h;

    if (!cv_span_token(&val, " \t", &name) || !cv_span_token(&val, " \t", &hex))
        return;
    for (h = 0; h < sizeof(hashes) / sizeof(hashes[0]) && !cv_span_is(name, hashes[h].name); h++)
        ;
    if (h == sizeof(hashes) / sizeof(hashes[0]))
        return;
    if (cv_span_len(hex) != (size_t)hashes[h].len * 3 - 1)
        return;
    while (cv_span_token(&hex, ":", &pair)) {
        int hi = cv_hex_value(pair.s[0]),
            lo = cv_span_len(pair) == 2 ? cv_hex_value(pair.s[1]) : -1;
        if (hi < 0 || lo < 0 || n >= hashes[h].len)
            return;
        digest[n++] = (uint8_t)(hi << 4 | lo);
    }
    if (n != hashes[h].len)
        return;
    if (*here && (t->fingerprint_hash == CV_WEBRTC_SDP_HASH_SHA256 ||
                  hashes[h].hash != CV_WEBRTC_SDP_HASH_SHA256))
        return;
    *here = true;
    t->fingerprint_hash = hashes[h].hash;
    t->fingerprint_len = hashes[h].len;
    memcpy(t->fingerprint, digest, n);
}

/* ICE and DTLS attributes, valid at both levels. True when name was one of them. */
static bool transport_attr(struct parser *ps, struct cv_webrtc_sdp_transport *t,
                           struct cv_span name, struct cv_span val)
{
    static const char *const setups[] = {"actpass", "active", "passive", "holdconn"};

    if (cv_span_is(name, "ice-ufrag") || cv_span_is(name, "ice-pwd")) {
        bool ufrag = cv_span_is(name, "ice-ufrag");
        char *dst = ufrag ? t->ice_ufrag : t->ice_pwd;
        if (ice_chars(val.s, cv_span_len(val), ufrag ? 4 : 22)) {
            memcpy(dst, val.s, cv_span_len(val));
            dst[cv_span_len(val)] = '\0';
        }
    } else if (cv_span_is(name, "setup")) {
        for (unsigned i = 0; i < 4; i++)
            if (cv_span_is(val, setups[i]))
                t->setup = (uint8_t)(CV_WEBRTC_SDP_SETUP_ACTPASS + i);
    } else if (cv_span_is(name, "fingerprint")) {
        parse_fingerprint(t, val, &ps->fp_here);
    } else {
        return false;
    }
    return true;
}

/* "a=extmap:<id>[/<direction>] <uri> [<attributes>]": known URIs only, ids 1..255. */
static void parse_extmap(struct cv_webrtc_sdp_extmap *maps, unsigned *count, unsigned *other,
                         struct cv_span val)
{
    struct cv_span idd, uri, id, dir;
    unsigned long n;
    int d = CV_WEBRTC_SDP_SENDRECV;
    unsigned e;

    if (!cv_span_token(&val, " \t", &idd) || !cv_span_token(&val, " \t", &uri) ||
        !cv_span_token(&idd, "/", &id) || !cv_span_uint(id, 255, &n) || n == 0)
        goto skip;
    if (cv_span_token(&idd, "/", &dir) && (d = direction_of(dir)) < 0)
        goto skip;
    for (e = 0; e < CV_WEBRTC_SDP_EXT_COUNT && !cv_span_is(uri, ext_uris[e]); e++)
        ;
    if (e == CV_WEBRTC_SDP_EXT_COUNT || *count >= CV_WEBRTC_SDP_MAX_EXTMAPS)
        goto skip;
    maps[*count] = (struct cv_webrtc_sdp_extmap){(uint8_t)e, (uint8_t)d, (uint16_t)n};
    (*count)++;
    return;
skip:
    (*other)++;
}

static struct cv_webrtc_sdp_format *find_format(struct cv_webrtc_sdp_media *m, unsigned long pt)
{
    for (unsigned i = 0; i < m->format_count; i++)
        if (m->formats[i].pt == pt)
            return &m->formats[i];
    return NULL;
}

/* The payload type at the start of val (consumed), and its format if the m= line listed it. */
static struct cv_webrtc_sdp_format *pt_format(struct cv_webrtc_sdp_media *m, struct cv_span *val)
{
    struct cv_span tok;
    unsigned long pt;
    if (!cv_span_token(val, " \t", &tok) || !cv_span_uint(tok, 127, &pt))
        return NULL;
    cv_span_trim(val);
    return find_format(m, pt);
}

/* "a=rtpmap:<pt> <name>/<clock>[/<channels>]"; the first one for a payload type wins. */
static void parse_rtpmap(struct cv_webrtc_sdp_media *m, struct cv_span val)
{
    struct cv_webrtc_sdp_format *f = pt_format(m, &val);
    struct cv_span name, tok;
    unsigned long clock, ch = 1;

    if (!f || f->clock_rate || !cv_span_token(&val, "/", &name) ||
        !cv_span_token(&val, "/", &tok) || !cv_span_uint(tok, 10000000, &clock) || clock == 0)
        return;
    if (cv_span_token(&val, "/", &tok) && (!cv_span_uint(tok, 255, &ch) || ch == 0))
        return;
    cv_span_trim(&name);
    for (size_t i = 0; i < sizeof(codec_names) / sizeof(codec_names[0]); i++)
        if (cv_span_is(name, codec_names[i].name))
            f->codec = codec_names[i].codec;
    f->clock_rate = (uint32_t)clock;
    f->channels = (uint8_t)ch;
    size_t n = cv_span_len(name) < sizeof(f->name) ? cv_span_len(name) : sizeof(f->name) - 1;
    for (size_t i = 0; i < n; i++)
        f->name[i] = name.s[i] > 0x20 && name.s[i] < 0x7f ? name.s[i] : '?';
    f->name[n] = '\0';
}

/* One fmtp parameter; a value we cannot use marks the format bad (never chosen). */
static void fmtp_param(struct cv_webrtc_sdp_format *f, struct cv_span key, struct cv_span val)
{
    unsigned long v;

    if (cv_span_is(key, "packetization-mode")) {
        if (cv_span_uint(val, 2, &v))
            f->packetization_mode = (uint8_t)v; /* 2 (interleaved) is kept, never chosen */
        else
            f->bad_fmtp = true;
    } else if (cv_span_is(key, "profile-level-id")) {
        uint32_t x = 0;
        bool ok = cv_span_len(val) == 6;
        for (const char *c = val.s; ok && c < val.e; c++) {
            ok = cv_hex_value(*c) >= 0;
            x = x << 4 | (uint32_t)(cv_hex_value(*c) & 15);
        }
        f->bad_fmtp |= !ok;
        f->has_profile_level_id = ok;
        f->profile_level_id = ok ? x : 0x42000a;
    } else if (cv_span_is(key, "level-asymmetry-allowed")) {
        f->level_asymmetry_allowed = cv_span_is(val, "1");
    } else if (cv_span_is(key, "profile-id") || cv_span_is(key, "level-id") ||
               cv_span_is(key, "tier-flag") || cv_span_is(key, "apt")) {
        bool tier = cv_span_is(key, "tier-flag"), apt = cv_span_is(key, "apt");
        if (!cv_span_uint(val, tier ? 1 : apt ? 127 : 255, &v)) {
            f->bad_fmtp = true;
        } else if (tier) {
            f->has_tier_flag = true;
            f->tier_flag = (uint8_t)v;
        } else if (apt) {
            f->has_apt = true;
            f->apt = (uint8_t)v;
        } else if (cv_span_is(key, "profile-id")) {
            f->has_profile_id = true;
            f->profile_id = (uint8_t)v;
        } else {
            f->has_level_id = true;
            f->level_id = (uint8_t)v;
        }
    } else if (cv_span_is(key, "tx-mode")) {
        /* Only single-stream transmission: what one sender on one m-line does. */
        f->has_tx_mode = true;
        f->bad_fmtp |= !cv_span_is(val, "SRST");
    }
}

/* "a=fmtp:<pt> k=v;k=v" (several lines for one payload type add up). */
static void parse_fmtp(struct cv_webrtc_sdp_media *m, struct cv_span val)
{
    struct cv_webrtc_sdp_format *f = pt_format(m, &val);
    struct cv_span tok;

    while (f && cv_span_token(&val, ";", &tok)) {
        cv_span_trim(&tok);
        const char *eq = memchr(tok.s, '=', cv_span_len(tok));
        if (!eq)
            continue; /* red's "111/111", ... */
        struct cv_span key = {tok.s, eq}, v = {eq + 1, tok.e};
        cv_span_trim(&key);
        cv_span_trim(&v);
        fmtp_param(f, key, v);
    }
}

/* "a=rtcp-fb:<pt>|* <type> [<parameter>]" */
static void parse_rtcp_fb(struct cv_webrtc_sdp_media *m, struct cv_span val)
{
    struct cv_span pt, type, param = {NULL, NULL};
    uint8_t bit = 0;
    unsigned long n;

    if (!cv_span_token(&val, " \t", &pt) || !cv_span_token(&val, " \t", &type))
        return;
    bool has_param = cv_span_token(&val, " \t", &param);
    if (cv_span_is(type, "nack"))
        bit = !has_param                 ? CV_WEBRTC_SDP_FB_NACK
              : cv_span_is(param, "pli") ? CV_WEBRTC_SDP_FB_NACK_PLI
                                         : 0;
    else if (cv_span_is(type, "ccm") && has_param && cv_span_is(param, "fir"))
        bit = CV_WEBRTC_SDP_FB_CCM_FIR;
    else if (cv_span_is(type, "goog-remb"))
        bit = CV_WEBRTC_SDP_FB_GOOG_REMB;
    else if (cv_span_is(type, "transport-cc"))
        bit = CV_WEBRTC_SDP_FB_TRANSPORT_CC;
    if (cv_span_is(pt, "*")) {
        for (unsigned i = 0; i < m->format_count; i++)
            m->formats[i].fb |= bit;
    } else if (cv_span_uint(pt, 127, &n)) {
        struct cv_webrtc_sdp_format *f = find_format(m, n);
        if (f)
            f->fb |= bit;
    }
}

/* "m=<media> <port>[/<count>] <proto> <fmt> ..." */
static int start_media(struct parser *ps, struct cv_span v)
{
    static const char *const types[] = {"audio", "video", "application"};
    struct cv_webrtc_sdp_offer *o = ps->out;
    struct cv_span media, port, proto, fmt, p;
    char media_s[CV_WEBRTC_SDP_MAX_TOKEN], proto_s[CV_WEBRTC_SDP_MAX_TOKEN];
    char fmt_s[CV_WEBRTC_SDP_MAX_TOKEN];
    unsigned long n;

    if (!cv_span_token(&v, " \t", &media) || !cv_span_token(&v, " \t", &port) ||
        !cv_span_token(&v, " \t", &proto) || !cv_span_token(&v, " \t", &fmt))
        return -EBADMSG;
    if (!cv_span_token(&port, "/", &p) || !cv_span_uint(p, 65535, &n) ||
        !copy_token(media, media_s, sizeof(media_s)) ||
        !copy_token(proto, proto_s, sizeof(proto_s)) || !copy_token(fmt, fmt_s, sizeof(fmt_s)))
        return -EBADMSG;
    ps->cur = NULL;
    ps->skipping = o->media_count >= CV_WEBRTC_SDP_MAX_MEDIA;
    ps->fp_here = false;
    if (ps->skipping) {
        o->skipped_media++;
        return 0;
    }
    struct cv_webrtc_sdp_media *m = &o->media[o->media_count++];
    ps->cur = m;
    memcpy(m->media, media_s, sizeof(m->media));
    memcpy(m->proto, proto_s, sizeof(m->proto));
    memcpy(m->fmt0, fmt_s, sizeof(m->fmt0));
    m->port = (uint16_t)n;
    for (unsigned i = 0; i < 3; i++)
        if (cv_span_is(media, types[i]))
            m->type = (uint8_t)(CV_WEBRTC_SDP_MEDIA_AUDIO + i);
    m->dtls_srtp = cv_span_ends(proto, "RTP/SAVP") || cv_span_ends(proto, "RTP/SAVPF");
    m->transport = o->transport;
    m->direction = ps->session_dir;
    m->extmap_count = ps->session_ext_count;
    memcpy(m->extmaps, ps->session_ext, sizeof(m->extmaps));
    if (m->type != CV_WEBRTC_SDP_MEDIA_AUDIO && m->type != CV_WEBRTC_SDP_MEDIA_VIDEO)
        return 0; /* formats of a data channel are not payload types */
    v.s = fmt.s;
    while (cv_span_token(&v, " \t", &fmt)) {
        if (!cv_span_uint(fmt, 127, &n) || find_format(m, n) ||
            m->format_count >= CV_WEBRTC_SDP_MAX_FORMATS) {
            m->skipped_formats++;
            continue;
        }
        struct cv_webrtc_sdp_format *f = &m->formats[m->format_count++];
        f->pt = (uint8_t)n;
        f->channels = 1;
        f->profile_level_id = 0x42000a; /* RFC 6184: Baseline level 1 when absent */
    }
    return 0;
}

/* "a=group:BUNDLE <mid> ..." (the first BUNDLE group; other semantics are ignored). */
static void parse_group(struct cv_webrtc_sdp_offer *o, struct cv_span val)
{
    struct cv_span sem, mid;
    if (o->bundle_count || !cv_span_token(&val, " \t", &sem) || !cv_span_is(sem, "BUNDLE"))
        return;
    while (cv_span_token(&val, " \t", &mid) && o->bundle_count < CV_WEBRTC_SDP_MAX_MEDIA)
        if (copy_token(mid, o->bundle[o->bundle_count], sizeof(o->bundle[0])))
            o->bundle_count++;
}

static int parse_attr(struct parser *ps, struct cv_span line)
{
    struct cv_webrtc_sdp_offer *o = ps->out;
    struct cv_webrtc_sdp_media *m = ps->cur;
    struct cv_span name = {line.s + 2, line.e}, val = {line.e, line.e};
    const char *colon = memchr(name.s, ':', cv_span_len(name));
    int dir;

    if (colon) {
        name.e = colon;
        val.s = colon + 1;
        cv_span_trim(&val);
    }
    if (ps->skipping)
        return 0;
    if (!m) { /* session level */
        if (transport_attr(ps, &o->transport, name, val))
            return 0;
        if ((dir = direction_of(name)) >= 0)
            ps->session_dir = (uint8_t)dir;
        else if (cv_span_is(name, "group"))
            parse_group(o, val);
        else if (cv_span_is(name, "ice-lite"))
            o->ice_lite = true;
        else if (cv_span_is(name, "extmap"))
            parse_extmap(ps->session_ext, &ps->session_ext_count, &ps->session_other_ext, val);
        return 0;
    }
    if (transport_attr(ps, &m->transport, name, val))
        return 0;
    if ((dir = direction_of(name)) >= 0)
        m->direction = (uint8_t)dir;
    else if (cv_span_is(name, "mid") && !copy_token(val, m->mid, sizeof(m->mid)))
        return -EBADMSG;
    else if (cv_span_is(name, "rtcp-mux"))
        m->rtcp_mux = true;
    else if (cv_span_is(name, "rtcp-rsize"))
        m->rtcp_rsize = true;
    else if (cv_span_is(name, "bundle-only"))
        m->bundle_only = true;
    else if (cv_span_is(name, "rtpmap"))
        parse_rtpmap(m, val);
    else if (cv_span_is(name, "fmtp"))
        parse_fmtp(m, val);
    else if (cv_span_is(name, "rtcp-fb"))
        parse_rtcp_fb(m, val);
    else if (cv_span_is(name, "extmap"))
        parse_extmap(m->extmaps, &m->extmap_count, &m->other_extmaps, val);
    else if (cv_span_is(name, "candidate"))
        m->candidate_count++;
    return 0;
}

/*
 * After the last line: static payload types, BUNDLE membership, what the offer rejected.
 * -EBADMSG for two m-lines with one mid (RFC 5888): their answers could not be told apart.
 */
static int finish(struct cv_webrtc_sdp_offer *o)
{
    for (unsigned i = 0; i < o->media_count; i++) {
        struct cv_webrtc_sdp_media *m = &o->media[i];
        for (unsigned k = 0; m->mid[0] && k < i; k++)
            if (strcmp(m->mid, o->media[k].mid) == 0)
                return -EBADMSG;
        for (unsigned k = 0; k < m->format_count; k++) {
            struct cv_webrtc_sdp_format *f = &m->formats[k];
            if (f->clock_rate || m->type != CV_WEBRTC_SDP_MEDIA_AUDIO)
                continue;
            /* RFC 3551 static payload types need no rtpmap. */
            if (f->pt == 0 || f->pt == 8 || f->pt == 9) {
                f->codec = f->pt == 0   ? CV_WEBRTC_CODEC_PCMU
                           : f->pt == 8 ? CV_WEBRTC_CODEC_PCMA
                                        : CV_WEBRTC_CODEC_G722;
                f->clock_rate = 8000;
            }
        }
        for (unsigned b = 0; m->mid[0] && b < o->bundle_count; b++)
            m->bundled |= strcmp(m->mid, o->bundle[b]) == 0;
        m->rejected = m->port == 0 && !(m->bundle_only && m->bundled);
    }
    return 0;
}

int cv_webrtc_sdp_parse(const char *text, size_t len, struct cv_webrtc_sdp_offer *out)
{
    struct parser ps = {.out = out};
    const char *p = text, *end = text + len;
    struct cv_span line;
    bool have_v = false;
    int err;

    memset(out, 0, sizeof(*out));
    if (len == 0 || memchr(text, '\0', len))
        return -EBADMSG;
    while (line_trimmed(&p, end, &line)) {
        if (cv_span_len(line) < 2 || line.s[1] != '=')
            continue;
        if (line.s[0] == 'v')
            have_v = true;
        else if (line.s[0] == 'm' && (err = start_media(&ps, (struct cv_span){line.s + 2, line.e})))
            goto fail;
        else if (line.s[0] == 'a' && (err = parse_attr(&ps, line)))
            goto fail;
    }
    if (!have_v) {
        err = -EBADMSG;
        goto fail;
    }
    if ((err = finish(out)) < 0)
        goto fail;
    return 0;
fail:
    memset(out, 0, sizeof(*out));
    return err;
}

/* --- codec choice ----------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int why(struct cv_webrtc_sdp_choice *c, int err,
                                                     const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
    return err;
}

/* H.264 profiles as RFC 6184 (table 5) tells them from profile_idc and the constraint flags. */
enum h264_profile {
    H264_UNKNOWN = 0,
    H264_CB,
    H264_BASELINE,
    H264_MAIN,
    H264_EXTENDED,
    H264_HIGH,
    H264_HIGH10,
    H264_HIGH422,
    H264_HIGH444,
};

static const char *const h264_names[] = {
    "an unknown profile", "Constrained Baseline", "Baseline", "Main", "Extended", "High", "High 10",
    "High 4:2:2",         "High 4:4:4",
};

static enum h264_profile h264_profile(uint32_t plid)
{
    unsigned idc = plid >> 16 & 0xff, flags = plid >> 8 & 0xff;
    switch (idc) {
    case 0x42: return flags & 0x40 ? H264_CB : H264_BASELINE;
    case 0x4d: return flags & 0x80 ? H264_CB : H264_MAIN;
    case 0x58:
        return (flags & 0xc0) == 0xc0 ? H264_CB : flags & 0x80 ? H264_BASELINE : H264_EXTENDED;
    case 0x64: return H264_HIGH; /* 640c.. is Constrained High: decoded as High */
    case 0x6e: return H264_HIGH10;
    case 0x7a: return H264_HIGH422;
    case 0xf4:
    case 0x2c: return H264_HIGH444;
    default: return H264_UNKNOWN;
    }
}

/*
 * The first NAL unit of type `type` in extradata with 4 bytes or more: an H.264 SPS holds
 * profile_idc, the constraint flags and level_idc at bytes 1..3, an H.265 SPS its general profile
 * byte (space, tier, profile_idc) at byte 3, where no emulation-prevention byte can sit yet.
 */
static bool first_sps(const struct cv_track_info *t, int type, const uint8_t **sps)
{
    size_t len = t->extradata_len > CV_MAX_EXTRADATA ? 0 : t->extradata_len, pos = 0, n;
    const uint8_t *nal;
    while (cv_nal_next(t->extradata, len, &pos, &nal, &n))
        if (n >= 4 && cv_nal_type((enum cv_codec)t->codec, nal) == type) {
            *sps = nal;
            return true;
        }
    return false;
}

static bool usable(const struct cv_webrtc_sdp_format *f, uint8_t codec, uint32_t clock)
{
    return f->codec == codec && f->clock_rate == clock && !f->bad_fmtp;
}

/*
 * Scores an offered mode-1 H.264 format for a camera profile (0: unknown): 6 same profile_idc
 * and flags, 5 same profile, 4 a profile that decodes the camera's (High for Main, Main or High
 * for Constrained Baseline; the rarer High 10/4:2:2/4:4:4 are not trusted for that), 3
 * Constrained Baseline, 2 Baseline, 1 anything else.
 */
static int h264_score(uint32_t offered, uint32_t camera)
{
    enum h264_profile o = h264_profile(offered), c = camera ? h264_profile(camera) : H264_UNKNOWN;
    if (c != H264_UNKNOWN && (offered >> 8) == (camera >> 8))
        return 6;
    if (c != H264_UNKNOWN && o == c)
        return 5;
    if ((o == H264_HIGH && (c == H264_MAIN || c == H264_CB)) || (o == H264_MAIN && c == H264_CB))
        return 4;
    return o == H264_CB ? 3 : o == H264_BASELINE ? 2 : 1;
}

static int choose_h264(const struct cv_webrtc_sdp_media *m, const struct cv_track_info *t,
                       struct cv_webrtc_sdp_choice *c)
{
    const struct cv_webrtc_sdp_format *best = NULL;
    const uint8_t *sps;
    uint32_t cam = first_sps(t, 7, &sps) ? (uint32_t)sps[1] << 16 | sps[2] << 8 | sps[3] : 0;
    int best_score = 0, mode0 = 0, any = 0;

    for (unsigned i = 0; i < m->format_count; i++) {
        const struct cv_webrtc_sdp_format *f = &m->formats[i];
        if (!usable(f, CV_WEBRTC_CODEC_H264, 90000))
            continue;
        any++;
        if (f->packetization_mode != 1) {
            mode0 += f->packetization_mode == 0;
            continue;
        }
        int s = h264_score(f->profile_level_id, cam);
        if (s > best_score) {
            best_score = s;
            best = f;
        }
    }
    if (!best && mode0)
        return why(c, -ENOENT,
                   "browser offers H.264 only with packetization-mode=0, which cannot carry our "
                   "FU-A packets");
    if (!best)
        return why(c, -ENOENT, "browser offers no %s",
                   any ? "H.264 packetization-mode=1" : "H.264");
    c->pt = best->pt;
    uint32_t plid = best->profile_level_id;
    const char *offered = h264_names[h264_profile(plid)], *camera = h264_names[h264_profile(cam)];
    if (!cam) {
        c->match = CV_WEBRTC_SDP_MATCH_UNKNOWN;
        return why(c, 0, "H.264 %06" PRIx32 " (%s): no SPS in the camera's extradata", plid,
                   offered);
    }
    switch (best_score) {
    case 6:
    case 5:
        c->match = CV_WEBRTC_SDP_MATCH_EXACT;
        return why(c, 0, "H.264 %06" PRIx32 ": the camera's profile (%s, %06" PRIx32 ")", plid,
                   camera, cam);
    case 4:
        c->match = CV_WEBRTC_SDP_MATCH_SUPERSET;
        return why(c, 0, "H.264 %06" PRIx32 ": %s decodes the camera's %s (%06" PRIx32 ")", plid,
                   offered, camera, cam);
    case 3:
    case 2:
        c->match = CV_WEBRTC_SDP_MATCH_BASELINE;
        return why(c, 0,
                   "H.264 %06" PRIx32 ": browser offers no %s; the camera's %06" PRIx32
                   " goes as %s (Chromium decodes it)",
                   plid, camera, cam, offered);
    default:
        c->match = CV_WEBRTC_SDP_MATCH_ANY;
        return why(c, 0,
                   "H.264 %06" PRIx32 ": browser offers neither %s nor Baseline; the camera's "
                   "%06" PRIx32 " goes as %s",
                   plid, camera, cam, offered);
    }
}

/* RFC 7798: profile-id 1 (Main) when absent; a Main decoder also takes Main Still Picture, a
 * Main 10 one both. */
static int choose_h265(const struct cv_webrtc_sdp_media *m, const struct cv_track_info *t,
                       struct cv_webrtc_sdp_choice *c)
{
    const uint8_t *sps;
    unsigned cam = first_sps(t, 33, &sps) ? sps[3] & 0x1f : 0;
    int any = 0;

    for (int pass = 0; pass < 2; pass++)
        for (unsigned i = 0; i < m->format_count; i++) {
            const struct cv_webrtc_sdp_format *f = &m->formats[i];
            if (!usable(f, CV_WEBRTC_CODEC_H265, 90000))
                continue;
            any++;
            unsigned p = f->has_profile_id ? f->profile_id : 1;
            bool exact = !cam || p == cam;
            bool superset = (cam == 1 && p == 2) || (cam == 3 && (p == 1 || p == 2));
            if (pass == 0 ? !exact : !superset)
                continue;
            c->pt = f->pt;
            c->match = !cam    ? CV_WEBRTC_SDP_MATCH_UNKNOWN
                       : exact ? CV_WEBRTC_SDP_MATCH_EXACT
                               : CV_WEBRTC_SDP_MATCH_SUPERSET;
            return why(c, 0, "H.265 profile-id %u%s", p,
                       cam ? (exact ? ": the camera's profile" : ": decodes the camera's profile")
                           : ": no SPS in the camera's extradata");
        }
    if (any)
        return why(c, -ENOENT, "browser offers H.265 but not the camera's profile-id %u", cam);
    return why(c, -ENOENT, "browser offers no H.265");
}

static int choose_audio(const struct cv_webrtc_sdp_media *m, const struct cv_track_info *t,
                        struct cv_webrtc_sdp_choice *c)
{
    uint8_t codec = t->codec == CV_CODEC_OPUS   ? CV_WEBRTC_CODEC_OPUS
                    : t->codec == CV_CODEC_PCMA ? CV_WEBRTC_CODEC_PCMA
                                                : CV_WEBRTC_CODEC_PCMU;
    /* Opus over RTP is always opus/48000/2 (RFC 7587), whatever the stream's channels. */
    uint32_t clock = codec == CV_WEBRTC_CODEC_OPUS ? 48000 : t->clock_rate;
    unsigned ch = codec == CV_WEBRTC_CODEC_OPUS ? 2 : t->channels ? t->channels : 1;
    const char *name = codec == CV_WEBRTC_CODEC_OPUS   ? "opus"
                       : codec == CV_WEBRTC_CODEC_PCMA ? "PCMA"
                                                       : "PCMU";

    for (unsigned i = 0; i < m->format_count; i++) {
        const struct cv_webrtc_sdp_format *f = &m->formats[i];
        if (usable(f, codec, clock) && f->channels == ch) {
            c->pt = f->pt;
            c->match = CV_WEBRTC_SDP_MATCH_EXACT;
            return why(c, 0, "%s/%" PRIu32 "/%u", name, clock, ch);
        }
    }
    return why(c, -ENOENT, "browser offers no %s/%" PRIu32 "/%u%s", name, clock, ch,
               codec != CV_WEBRTC_CODEC_OPUS && (clock != 8000 || ch != 1)
                   ? " (browsers take G.711 at 8000 Hz mono)"
                   : "");
}

int cv_webrtc_sdp_choose(const struct cv_webrtc_sdp_media *m, const struct cv_track_info *track,
                         struct cv_webrtc_sdp_choice *out)
{
    static const char *const types[] = {"other", "audio", "video", "application"};
    uint8_t want;
    int err;

    memset(out, 0, sizeof(*out));
    out->codec = track->codec;
    switch (track->codec) {
    case CV_CODEC_H264:
    case CV_CODEC_H265: want = CV_WEBRTC_SDP_MEDIA_VIDEO; break;
    case CV_CODEC_OPUS:
    case CV_CODEC_PCMA:
    case CV_CODEC_PCMU: want = CV_WEBRTC_SDP_MEDIA_AUDIO; break;
    case CV_CODEC_AAC: return why(out, -ENOTSUP, "AAC cannot be sent over WebRTC");
    case CV_CODEC_JPEG: return why(out, -ENOTSUP, "JPEG cannot be sent over WebRTC");
    default: return why(out, -ENOTSUP, "codec %u cannot be sent over WebRTC", track->codec);
    }
    if (m->type != want)
        return why(out, -ENOENT, "m-line is %s, the track is %s", types[m->type & 3], types[want]);
    if (m->rejected)
        return why(out, -ENOENT, "m-line rejected by the browser (port 0)");
    if (!m->dtls_srtp)
        return why(out, -ENOENT, "m-line proto %s is not DTLS-SRTP", m->proto);
    err = track->codec == CV_CODEC_H264   ? choose_h264(m, track, out)
          : track->codec == CV_CODEC_H265 ? choose_h265(m, track, out)
                                          : choose_audio(m, track, out);
    if (err < 0)
        return err;
    const struct cv_webrtc_sdp_format *chosen = NULL;
    for (unsigned i = 0; i < m->format_count && !chosen; i++)
        if (m->formats[i].pt == out->pt)
            chosen = &m->formats[i];
    for (unsigned i = 0; i < m->format_count && !out->has_rtx; i++) {
        const struct cv_webrtc_sdp_format *f = &m->formats[i];
        if (usable(f, CV_WEBRTC_CODEC_RTX, chosen->clock_rate) && f->has_apt && f->apt == out->pt) {
            out->has_rtx = true;
            out->rtx_pt = f->pt;
        }
    }
    out->ok = true;
    return 0;
}

/* --- answer ----------------------------------------------------------------------------------- */

struct out {
    char *buf;
    size_t size;
    size_t n; /* length the text would have; >= size means it did not fit */
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->n < o->size ? o->buf + o->n : NULL, o->n < o->size ? o->size - o->n : 0,
                      fmt, ap);
    va_end(ap);
    if (w > 0)
        o->n += (size_t)w;
}

/* 1..64 visible ASCII characters, without colon where colon is false. */
static bool valid_id(const char *s, bool colon)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || (!colon && s[i] == ':'))
            return false;
    return true;
}

/* 32 hex pairs joined by colons. */
static bool valid_fingerprint(const char *s)
{
    if (!s || strlen(s) != 32 * 3 - 1)
        return false;
    for (size_t i = 0; i < 32 * 3 - 1; i++)
        if (i % 3 == 2 ? s[i] != ':' : cv_hex_value(s[i]) < 0)
            return false;
    return true;
}

static bool valid_ip(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 45 || strspn(s, "0123456789abcdefABCDEF.:") != n)
        return false;
    return strchr(s, '.') || strchr(s, ':');
}

/* A reflexive address is learned over STUN, which we only speak over UDP. */
static bool valid_candidate(const struct cv_webrtc_sdp_candidate *c)
{
    if (!valid_ip(c->ip) || c->port == 0)
        return false;
    if (!c->raddr)
        return c->rport == 0;
    return valid_ip(c->raddr) && !c->tcp;
}

static bool valid_local(const struct cv_webrtc_sdp_local *l)
{
    if (!l->ice_ufrag || !ice_chars(l->ice_ufrag, strlen(l->ice_ufrag), 4) || !l->ice_pwd ||
        !ice_chars(l->ice_pwd, strlen(l->ice_pwd), 22) || !valid_fingerprint(l->fingerprint) ||
        !valid_id(l->cname, true) || !valid_id(l->stream_id, false) || l->candidate_count > 32 ||
        (l->candidate_count && !l->candidates))
        return false;
    for (unsigned i = 0; i < l->candidate_count; i++)
        if (!valid_candidate(&l->candidates[i]))
            return false;
    return true;
}

static const struct cv_webrtc_sdp_format *format_of(const struct cv_webrtc_sdp_media *m,
                                                    unsigned pt)
{
    for (unsigned i = 0; i < m->format_count; i++)
        if (m->formats[i].pt == pt)
            return &m->formats[i];
    return NULL;
}

/* A codec our answer can name: the ones we could send. */
static bool nameable(const struct cv_webrtc_sdp_format *f)
{
    return f->codec == CV_WEBRTC_CODEC_H264 || f->codec == CV_WEBRTC_CODEC_H265 ||
           f->codec == CV_WEBRTC_CODEC_OPUS || f->codec == CV_WEBRTC_CODEC_PCMA ||
           f->codec == CV_WEBRTC_CODEC_PCMU;
}

int cv_webrtc_sdp_choose_inactive(const struct cv_webrtc_sdp_media *m,
                                  struct cv_webrtc_sdp_choice *out)
{
    memset(out, 0, sizeof(*out));
    if (m->rejected || !m->dtls_srtp ||
        (m->type != CV_WEBRTC_SDP_MEDIA_AUDIO && m->type != CV_WEBRTC_SDP_MEDIA_VIDEO))
        return -ENOENT;
    for (unsigned f = 0; f < m->format_count; f++) {
        const struct cv_webrtc_sdp_format *fmt = &m->formats[f];
        if (nameable(fmt) && fmt->clock_rate && !fmt->bad_fmtp) {
            out->ok = true;
            out->pt = fmt->pt;
            return 0;
        }
    }
    return -ENOENT;
}

/* Checks an accepted m-line: 0, -EINVAL (the choice does not fit it) or -EPROTO. */
static int check_accepted(const struct cv_webrtc_sdp_media *m, const struct cv_webrtc_sdp_send *s)
{
    const struct cv_webrtc_sdp_choice *c = s->choice;
    const struct cv_webrtc_sdp_format *f = format_of(m, c->pt), *r;
    static const uint8_t codecs[] = {
        [CV_CODEC_H264] = CV_WEBRTC_CODEC_H264, [CV_CODEC_H265] = CV_WEBRTC_CODEC_H265,
        [CV_CODEC_OPUS] = CV_WEBRTC_CODEC_OPUS, [CV_CODEC_PCMA] = CV_WEBRTC_CODEC_PCMA,
        [CV_CODEC_PCMU] = CV_WEBRTC_CODEC_PCMU,
    };
    bool video = c->codec == CV_CODEC_H264 || c->codec == CV_CODEC_H265;

    if (m->rejected || !m->dtls_srtp ||
        (m->type != CV_WEBRTC_SDP_MEDIA_AUDIO && m->type != CV_WEBRTC_SDP_MEDIA_VIDEO))
        return -EPROTO;
    if (!m->transport.ice_ufrag[0] || !m->transport.ice_pwd[0] || !m->transport.fingerprint_hash ||
        m->transport.setup == CV_WEBRTC_SDP_SETUP_PASSIVE)
        return -EPROTO;
    if (s->inactive) /* nothing is sent: any codec of ours the m-line offers names it */
        return f && f->clock_rate && nameable(f) && !c->has_rtx ? 0 : -EINVAL;
    if (c->codec >= sizeof(codecs) || !codecs[c->codec] || !f || f->codec != codecs[c->codec] ||
        (m->type == CV_WEBRTC_SDP_MEDIA_VIDEO) != video || !f->clock_rate)
        return -EINVAL;
    if (c->has_rtx &&
        (c->rtx_pt == c->pt || s->rtx_ssrc == s->ssrc || !(r = format_of(m, c->rtx_pt)) ||
         r->codec != CV_WEBRTC_CODEC_RTX || !r->clock_rate))
        return -EINVAL;
    return 0;
}

static void put_codec(struct out *o, const struct cv_webrtc_sdp_format *f)
{
    switch (f->codec) {
    case CV_WEBRTC_CODEC_H264:
        put(o, "a=rtpmap:%u H264/90000\r\na=fmtp:%u %spacketization-mode=1", f->pt, f->pt,
            f->level_asymmetry_allowed ? "level-asymmetry-allowed=1;" : "");
        if (f->has_profile_level_id)
            put(o, ";profile-level-id=%06" PRIx32, f->profile_level_id);
        put(o, "\r\n");
        break;
    case CV_WEBRTC_CODEC_H265: {
        /* The offer's parameters back, in the order Chrome writes them. */
        const struct {
            bool has;
            const char *key;
            unsigned val;
        } params[] = {
            {f->has_level_id, "level-id=", f->level_id},
            {f->has_profile_id, "profile-id=", f->profile_id},
            {f->has_tier_flag, "tier-flag=", f->tier_flag},
        };
        const char *sep = " ";
        put(o, "a=rtpmap:%u H265/90000\r\n", f->pt);
        if (!f->has_level_id && !f->has_profile_id && !f->has_tier_flag && !f->has_tx_mode)
            break;
        put(o, "a=fmtp:%u", f->pt);
        for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
            if (!params[i].has)
                continue;
            put(o, "%s%s%u", sep, params[i].key, params[i].val);
            sep = ";";
        }
        put(o, "%s\r\n", f->has_tx_mode ? (sep[0] == ';' ? ";tx-mode=SRST" : " tx-mode=SRST") : "");
        break;
    }
    case CV_WEBRTC_CODEC_OPUS:
        put(o, "a=rtpmap:%u opus/48000/2\r\na=fmtp:%u minptime=10;useinbandfec=1\r\n", f->pt,
            f->pt);
        break;
    default: /* PCMA, PCMU */
        put(o, "a=rtpmap:%u %s/%" PRIu32, f->pt, f->codec == CV_WEBRTC_CODEC_PCMA ? "PCMA" : "PCMU",
            f->clock_rate);
        put(o, f->channels > 1 ? "/%u\r\n" : "\r\n", f->channels);
        break;
    }
    if (f->fb & CV_WEBRTC_SDP_FB_NACK)
        put(o, "a=rtcp-fb:%u nack\r\n", f->pt);
    if (f->fb & CV_WEBRTC_SDP_FB_NACK_PLI)
        put(o, "a=rtcp-fb:%u nack pli\r\n", f->pt);
    if (f->fb & CV_WEBRTC_SDP_FB_CCM_FIR)
        put(o, "a=rtcp-fb:%u ccm fir\r\n", f->pt);
}

/* Header extensions we keep: asked for, offered towards the browser, one-byte ids, no repeat. */
static void put_extmaps(struct out *o, const struct cv_webrtc_sdp_media *m, uint32_t keep)
{
    for (unsigned i = 0; i < m->extmap_count && i < CV_WEBRTC_SDP_MAX_EXTMAPS; i++) {
        const struct cv_webrtc_sdp_extmap *x = &m->extmaps[i];
        bool dup = false;
        if (x->ext >= CV_WEBRTC_SDP_EXT_COUNT || !(keep & CV_WEBRTC_SDP_EXT_BIT(x->ext)) ||
            x->id < 1 || x->id > 14 ||
            (x->direction != CV_WEBRTC_SDP_SENDRECV && x->direction != CV_WEBRTC_SDP_RECVONLY))
            continue;
        for (unsigned k = 0; k < i; k++)
            dup |= m->extmaps[k].id == x->id || m->extmaps[k].ext == x->ext;
        if (!dup)
            put(o, "a=extmap:%u%s %s\r\n", x->id,
                x->direction == CV_WEBRTC_SDP_RECVONLY ? "/sendonly" : "", ext_uris[x->ext]);
    }
}

/*
 * RFC 8445 §5.1.2.1: type preference << 24 | local preference << 8 | (256 - component 1). The
 * local preference falls with the index i, so no two candidates share a priority; ICE-TCP
 * splits it as RFC 6544 §4.2 asks (direction "passive" 4 << 13, then the other preference).
 */
static uint32_t candidate_priority(const struct cv_webrtc_sdp_candidate *c, unsigned i)
{
    if (c->tcp)
        return (90u << 24) | (((4u << 13) | (8191u - i)) << 8) | 255u;
    return (c->raddr ? 100u : 126u) << 24 | (65535u - i) << 8 | 255u;
}

/* A srflx candidate that is also a UDP host one: we have a public address of our own. */
static bool redundant(const struct cv_webrtc_sdp_local *l, const struct cv_webrtc_sdp_candidate *c)
{
    if (!c->raddr)
        return false;
    for (unsigned i = 0; i < l->candidate_count; i++) {
        const struct cv_webrtc_sdp_candidate *h = &l->candidates[i];
        if (!h->raddr && !h->tcp && h->port == c->port && strcmp(h->ip, c->ip) == 0)
            return true;
    }
    return false;
}

static void put_candidates(struct out *o, const struct cv_webrtc_sdp_local *l)
{
    for (unsigned i = 0; i < l->candidate_count; i++) {
        const struct cv_webrtc_sdp_candidate *c = &l->candidates[i];
        if (redundant(l, c))
            continue;
        put(o, "a=candidate:%u 1 %s %" PRIu32 " %s %u typ ", i + 1, c->tcp ? "tcp" : "udp",
            candidate_priority(c, i), c->ip, c->port);
        if (c->raddr)
            put(o, "srflx raddr %s rport %u\r\n", c->raddr, c->rport);
        else
            put(o, "host%s\r\n", c->tcp ? " tcptype passive" : "");
    }
    put(o, "a=end-of-candidates\r\n");
}

/* The m= and c= lines' address: the one most likely to work (RFC 8445 §5.1.4), UDP. */
static const struct cv_webrtc_sdp_candidate *default_candidate(const struct cv_webrtc_sdp_local *l)
{
    const struct cv_webrtc_sdp_candidate *host = NULL;

    for (unsigned i = 0; i < l->candidate_count; i++) {
        const struct cv_webrtc_sdp_candidate *c = &l->candidates[i];
        if (c->tcp)
            continue;
        if (c->raddr)
            return c;
        if (!host)
            host = c;
    }
    return host;
}

static bool accepted(const struct cv_webrtc_sdp_send *s)
{
    return s->choice && s->choice->ok;
}

static void put_media(struct out *o, const struct cv_webrtc_sdp_media *m, unsigned index,
                      const struct cv_webrtc_sdp_send *s, const struct cv_webrtc_sdp_local *l,
                      bool candidates)
{
    const struct cv_webrtc_sdp_choice *c = s->choice;
    const struct cv_webrtc_sdp_candidate *def = default_candidate(l);
    bool send = !s->inactive &&
                (m->direction == CV_WEBRTC_SDP_SENDRECV || m->direction == CV_WEBRTC_SDP_RECVONLY);
    const char *kind = m->type == CV_WEBRTC_SDP_MEDIA_VIDEO ? "video" : "audio";

    put(o, "m=%s %u %s %u", m->media, def ? def->port : 9, m->proto, c->pt);
    put(o, c->has_rtx ? " %u\r\n" : "\r\n", c->rtx_pt);
    put(o, "c=IN %s %s\r\n", def && strchr(def->ip, ':') ? "IP6" : "IP4",
        def ? def->ip : "0.0.0.0");
    put(o, "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:%s\r\n",
        l->ice_ufrag, l->ice_pwd, l->fingerprint, l->offer ? "actpass" : "passive");
    if (m->mid[0])
        put(o, "a=mid:%s\r\n", m->mid);
    put_extmaps(o, m, s->extensions);
    put(o, "a=%s\r\n", send ? "sendonly" : "inactive");
    if (send)
        put(o, "a=msid:%s %s%u\r\n", l->stream_id, kind, index);
    if (m->rtcp_mux)
        put(o, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        put(o, "a=rtcp-rsize\r\n");
    put_codec(o, format_of(m, c->pt));
    if (c->has_rtx)
        put(o, "a=rtpmap:%u rtx/%" PRIu32 "\r\na=fmtp:%u apt=%u\r\n", c->rtx_pt,
            format_of(m, c->rtx_pt)->clock_rate, c->rtx_pt, c->pt);
    if (send) {
        if (c->has_rtx)
            put(o, "a=ssrc-group:FID %" PRIu32 " %" PRIu32 "\r\n", s->ssrc, s->rtx_ssrc);
        for (int r = 0; r < (c->has_rtx ? 2 : 1); r++) {
            uint32_t ssrc = r ? s->rtx_ssrc : s->ssrc;
            put(o, "a=ssrc:%" PRIu32 " cname:%s\r\na=ssrc:%" PRIu32 " msid:%s %s%u\r\n", ssrc,
                l->cname, ssrc, l->stream_id, kind, index);
        }
    }
    if (candidates)
        put_candidates(o, l);
}

int cv_webrtc_sdp_answer(const struct cv_webrtc_sdp_offer *offer,
                         const struct cv_webrtc_sdp_send *send, unsigned nsend,
                         const struct cv_webrtc_sdp_local *local, char *out, size_t size)
{
    struct out o = {out, size, 0};
    const struct cv_webrtc_sdp_media *tag = NULL; /* the answer's BUNDLE-tag m-line */
    int err;

    if (offer->skipped_media)
        return -ERANGE;
    if (nsend != offer->media_count || (nsend && !send) || !valid_local(local))
        return -EINVAL;
    for (unsigned i = 0; i < nsend; i++)
        if (accepted(&send[i]) && (err = check_accepted(&offer->media[i], &send[i])) < 0)
            return err;

    put(&o, "v=0\r\no=- %" PRIu64 " 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n",
        local->session_id & INT64_MAX);
    /* Accepted mids of the offer's group, in its order: the first is our BUNDLE-tag. */
    for (unsigned b = 0; b < offer->bundle_count; b++)
        for (unsigned i = 0; i < nsend; i++) {
            const struct cv_webrtc_sdp_media *m = &offer->media[i];
            if (!accepted(&send[i]) || !m->bundled || strcmp(m->mid, offer->bundle[b]) != 0)
                continue;
            put(&o, "%s %s", tag ? "" : "a=group:BUNDLE", m->mid);
            if (!tag)
                tag = m;
            break;
        }
    put(&o, "%sa=ice-lite\r\na=msid-semantic: WMS %s\r\n", tag ? "\r\n" : "", local->stream_id);
    for (unsigned i = 0; i < nsend; i++) {
        const struct cv_webrtc_sdp_media *m = &offer->media[i];
        if (!accepted(&send[i])) {
            put(&o, "m=%s 0 %s %s\r\nc=IN IP4 0.0.0.0\r\n", m->media, m->proto, m->fmt0);
            if (m->mid[0])
                put(&o, "a=mid:%s\r\n", m->mid);
            continue;
        }
        put_media(&o, m, i, &send[i], local, !m->bundled || m == tag);
    }
    if (o.n >= size)
        return -E2BIG;
    return (int)o.n;
}

/* ---- server-made offers ---------------------------------------------------------------------- */

static void template_format(struct cv_webrtc_sdp_media *m, uint8_t pt, uint8_t codec,
                            const char *name, uint32_t clock, uint8_t channels, uint8_t fb)
{
    struct cv_webrtc_sdp_format *f = &m->formats[m->format_count++];
    *f = (struct cv_webrtc_sdp_format){
        .pt = pt, .codec = codec, .channels = channels, .fb = fb, .clock_rate = clock};
    snprintf(f->name, sizeof(f->name), "%s", name);
}

int cv_webrtc_sdp_template(const struct cv_stream_info *info, struct cv_webrtc_sdp_offer *out)
{
    static const uint8_t fp[32] = {1}; /* never checked: the client's answer brings its own */
    const uint8_t fb = CV_WEBRTC_SDP_FB_NACK | CV_WEBRTC_SDP_FB_NACK_PLI | CV_WEBRTC_SDP_FB_CCM_FIR;
    memset(out, 0, sizeof(*out));
    struct cv_webrtc_sdp_transport *t = &out->transport;
    snprintf(t->ice_ufrag, sizeof(t->ice_ufrag), "self");
    snprintf(t->ice_pwd, sizeof(t->ice_pwd), "selfselfselfselfselfself");
    t->setup = CV_WEBRTC_SDP_SETUP_ACTPASS;
    t->fingerprint_hash = CV_WEBRTC_SDP_HASH_SHA256;
    t->fingerprint_len = 32;
    memcpy(t->fingerprint, fp, sizeof(fp));
    for (uint32_t i = 0; i < info->track_count && i < CV_MAX_TRACKS; i++) {
        const struct cv_track_info *k = &info->tracks[i];
        if ((k->kind != CV_TRACK_VIDEO && k->kind != CV_TRACK_AUDIO) ||
            out->media_count == CV_WEBRTC_SDP_MAX_MEDIA)
            continue;
        struct cv_webrtc_sdp_media *m = &out->media[out->media_count];
        bool video = k->kind == CV_TRACK_VIDEO;
        m->type = video ? CV_WEBRTC_SDP_MEDIA_VIDEO : CV_WEBRTC_SDP_MEDIA_AUDIO;
        m->transport = *t; /* as the parser leaves a media's: session values inherited */
        m->direction = CV_WEBRTC_SDP_RECVONLY;
        m->port = 9;
        m->bundled = m->dtls_srtp = m->rtcp_mux = true;
        m->rtcp_rsize = video;
        snprintf(m->media, sizeof(m->media), "%s", video ? "video" : "audio");
        snprintf(m->proto, sizeof(m->proto), "UDP/TLS/RTP/SAVPF");
        snprintf(m->mid, sizeof(m->mid), "%u", out->media_count);
        snprintf(out->bundle[out->bundle_count++], sizeof(out->bundle[0]), "%u", out->media_count);
        if (video) {
            /* H.264 under the camera's own profile (Constrained Baseline when it has no SPS),
             * H.265, each with RTX; playout-delay (what lets a new viewer catch up at once). */
            const uint8_t *sps;
            uint32_t plid = 0x42e01f;
            if (k->codec == CV_CODEC_H264 && first_sps(k, 7, &sps))
                plid = (uint32_t)sps[1] << 16 | (uint32_t)sps[2] << 8 | sps[3];
            template_format(m, 96, CV_WEBRTC_CODEC_H264, "H264", 90000, 1, fb);
            m->formats[0].packetization_mode = 1;
            m->formats[0].level_asymmetry_allowed = true;
            m->formats[0].has_profile_level_id = true;
            m->formats[0].profile_level_id = plid;
            template_format(m, 97, CV_WEBRTC_CODEC_RTX, "rtx", 90000, 1, 0);
            m->formats[1].has_apt = true;
            m->formats[1].apt = 96;
            template_format(m, 98, CV_WEBRTC_CODEC_H265, "H265", 90000, 1, fb);
            template_format(m, 99, CV_WEBRTC_CODEC_RTX, "rtx", 90000, 1, 0);
            m->formats[3].has_apt = true;
            m->formats[3].apt = 98;
            m->extmaps[m->extmap_count++] =
                (struct cv_webrtc_sdp_extmap){.ext = CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY,
                                              .direction = CV_WEBRTC_SDP_SENDRECV,
                                              .id = 6};
        } else {
            template_format(m, 111, CV_WEBRTC_CODEC_OPUS, "opus", 48000, 2, 0);
            template_format(m, 0, CV_WEBRTC_CODEC_PCMU, "PCMU", 8000, 1, 0);
            template_format(m, 8, CV_WEBRTC_CODEC_PCMA, "PCMA", 8000, 1, 0);
        }
        snprintf(m->fmt0, sizeof(m->fmt0), "%u", m->formats[0].pt);
        out->media_count++;
    }
    return out->media_count ? 0 : -ENOENT;
}
