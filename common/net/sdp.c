/*
 * SDP parsing for the camera client (see sdp.h), plus control-URL resolution. The text is walked
 * as [start, end) spans without copying; only the fields a track keeps are decoded into it. Each
 * m= section is scanned once per payload type it lists, which keeps the parser free of
 * per-payload-type tables (sections are a few lines, payload-type lists short).
 */
#include "common/net/sdp.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/base/base64.h"
#include "common/base/hex.h"
#include "common/net/span.h"

static int copy_span(struct cv_span v, char *out, size_t size)
{
    if (cv_span_len(v) + 1 > size)
        return -E2BIG;
    memcpy(out, v.s, cv_span_len(v));
    out[cv_span_len(v)] = '\0';
    return 0;
}

/* Finds "a=<attr>:<pt> <rest>" (pt < 0: "a=<attr>:<rest>") in a section; rest goes to *val. */
static bool find_attr(struct cv_span sec, const char *attr, int pt, struct cv_span *val)
{
    const char *p = sec.s;
    struct cv_span line;
    size_t an = strlen(attr);

    while (cv_span_line(&p, sec.e, &line)) {
        if (cv_span_len(line) < an + 3 || strncmp(line.s, "a=", 2) != 0 ||
            strncasecmp(line.s + 2, attr, an) != 0 || line.s[2 + an] != ':')
            continue;
        struct cv_span v = {line.s + an + 3, line.e}, tok;
        if (pt >= 0) {
            unsigned long n;
            struct cv_span rest = v;
            if (!cv_span_token(&rest, " \t", &tok) || !cv_span_uint(tok, 127, &n) || (int)n != pt)
                continue;
            v = rest;
        }
        cv_span_trim(&v);
        *val = v;
        return true;
    }
    return false;
}

/* Appends one NAL unit to extradata with its 4-byte length; false when it does not fit. */
static bool put_nal(struct cv_track_info *t, const uint8_t *nal, size_t n)
{
    if (n == 0 || n > CV_MAX_EXTRADATA || t->extradata_len + 4 + n > CV_MAX_EXTRADATA)
        return false;
    uint8_t *d = t->extradata + t->extradata_len;
    d[0] = (uint8_t)(n >> 24);
    d[1] = (uint8_t)(n >> 16);
    d[2] = (uint8_t)(n >> 8);
    d[3] = (uint8_t)n;
    memcpy(d + 4, nal, n);
    t->extradata_len = (uint16_t)(t->extradata_len + 4 + n);
    return true;
}

/* Decodes a comma-separated list of base64 NAL units into extradata; false on overflow/junk. */
static bool put_b64_list(struct cv_track_info *t, struct cv_span list)
{
    char b64[CV_MAX_EXTRADATA * 4 / 3 + 8];
    uint8_t nal[CV_MAX_EXTRADATA];
    struct cv_span tok;

    while (cv_span_token(&list, ",", &tok)) {
        cv_span_trim(&tok);
        if (tok.s == tok.e)
            continue;
        if (copy_span(tok, b64, sizeof(b64)) < 0 ||
            CV_BASE64_DECODE_SIZE(cv_span_len(tok)) > sizeof(nal))
            return false;
        int n = cv_base64_decode(nal, b64, sizeof(nal));
        if (n <= 0 || !put_nal(t, nal, (size_t)n))
            return false;
    }
    return true;
}

/* Parses "k=v;k=v" fmtp parameters: calls back for each; values may hold '=' (base64). */
struct fmtp_param {
    struct cv_span key;
    struct cv_span val;
};

static bool next_fmtp(struct cv_span *params, struct fmtp_param *p)
{
    struct cv_span tok;
    while (cv_span_token(params, ";", &tok)) {
        cv_span_trim(&tok);
        const char *eq = memchr(tok.s, '=', cv_span_len(tok));
        if (!eq)
            continue;
        p->key = (struct cv_span){tok.s, eq};
        p->val = (struct cv_span){eq + 1, tok.e};
        cv_span_trim(&p->key);
        cv_span_trim(&p->val);
        return true;
    }
    return false;
}

static bool fmtp_h264(struct cv_sdp_track *tr, struct cv_span params)
{
    struct fmtp_param p;
    unsigned long v;

    while (next_fmtp(&params, &p)) {
        if (cv_span_is(p.key, "packetization-mode")) {
            if (!cv_span_uint(p.val, 255, &v) || v > 1)
                return false; /* interleaved mode (2) is not supported */
            tr->packetization_mode = (uint8_t)v;
        } else if (cv_span_is(p.key, "profile-level-id") && cv_span_len(p.val) == 6) {
            uint32_t x = 0;
            bool ok = true;
            for (const char *c = p.val.s; c < p.val.e; c++) {
                int h = cv_hex_value(*c);
                ok = ok && h >= 0;
                x = x << 4 | (uint32_t)(h & 15);
            }
            if (ok) {
                tr->profile_level_id = x;
                tr->has_profile_level_id = true;
            }
        } else if (cv_span_is(p.key, "sprop-parameter-sets")) {
            if (!put_b64_list(&tr->info, p.val))
                tr->info.extradata_len = 0;
        }
    }
    return true;
}

static bool fmtp_h265(struct cv_sdp_track *tr, struct cv_span params)
{
    static const char *const keys[] = {"sprop-vps", "sprop-sps", "sprop-pps"};
    struct fmtp_param p;
    struct cv_span sets[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}}, all = params;
    unsigned long v;

    while (next_fmtp(&all, &p)) {
        for (int i = 0; i < 3; i++)
            if (cv_span_is(p.key, keys[i]))
                sets[i] = p.val;
        /* Decoding order numbers in the payload: our depacketiser does not read them. */
        if (cv_span_is(p.key, "sprop-max-don-diff") && (!cv_span_uint(p.val, 32767, &v) || v > 0))
            return false;
    }
    /* VPS, SPS, PPS in that order whatever the order in the fmtp line. */
    for (int i = 0; i < 3; i++)
        if (sets[i].s && !put_b64_list(&tr->info, sets[i])) {
            tr->info.extradata_len = 0;
            break;
        }
    return true;
}

static bool fmtp_aac(struct cv_sdp_track *tr, struct cv_span params)
{
    struct fmtp_param p;
    unsigned long v;
    bool hbr = false, lbr = false, have_size = false;
    uint8_t asc[64];
    size_t asc_len = 0;

    while (next_fmtp(&params, &p)) {
        if (cv_span_is(p.key, "mode")) {
            hbr = cv_span_is(p.val, "AAC-hbr");
            lbr = cv_span_is(p.val, "AAC-lbr");
        } else if (cv_span_is(p.key, "sizelength")) {
            if (!cv_span_uint(p.val, 16, &v) || v == 0)
                return false;
            tr->aac_sizelength = (uint8_t)v;
            have_size = true;
        } else if (cv_span_is(p.key, "indexlength") || cv_span_is(p.key, "indexdeltalength")) {
            if (!cv_span_uint(p.val, 8, &v))
                return false;
            if (cv_span_is(p.key, "indexlength"))
                tr->aac_indexlength = (uint8_t)v;
            else
                tr->aac_indexdeltalength = (uint8_t)v;
        } else if (cv_span_is(p.key, "config")) {
            size_t n = cv_span_len(p.val);
            if (n % 2 || n / 2 > sizeof(asc))
                return false;
            for (size_t i = 0; i < n / 2; i++) {
                int hi = cv_hex_value(p.val.s[2 * i]), lo = cv_hex_value(p.val.s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return false;
                asc[i] = (uint8_t)(hi << 4 | lo);
            }
            asc_len = n / 2;
        } else if (cv_span_is(p.key, "constantsize") || cv_span_is(p.key, "ctsdeltalength") ||
                   cv_span_is(p.key, "dtsdeltalength") ||
                   cv_span_is(p.key, "auxiliarydatasizelength")) {
            if (!cv_span_uint(p.val, 255, &v) || v > 0)
                return false; /* header fields our depacketiser does not read */
        }
    }
    if (!hbr && !lbr)
        return false;
    if (!have_size) {
        tr->aac_sizelength = hbr ? 13 : 6;
        tr->aac_indexlength = tr->aac_indexdeltalength = hbr ? 3 : 2;
    }
    memcpy(tr->info.extradata, asc, asc_len);
    tr->info.extradata_len = (uint16_t)asc_len;
    return true;
}

static const struct {
    const char *name;
    uint8_t codec;
    uint8_t kind;
} encodings[] = {
    {"H264", CV_CODEC_H264, CV_TRACK_VIDEO}, {"H265", CV_CODEC_H265, CV_TRACK_VIDEO},
    {"HEVC", CV_CODEC_H265, CV_TRACK_VIDEO}, {"MPEG4-GENERIC", CV_CODEC_AAC, CV_TRACK_AUDIO},
    {"PCMA", CV_CODEC_PCMA, CV_TRACK_AUDIO}, {"PCMU", CV_CODEC_PCMU, CV_TRACK_AUDIO},
    {"OPUS", CV_CODEC_OPUS, CV_TRACK_AUDIO},
};

/* Fills tr for payload type pt of a section; false when pt is not something we can carry. */
static bool parse_payload(struct cv_span sec, uint8_t kind, int pt, struct cv_sdp_track *tr)
{
    struct cv_span map, fmtp = {NULL, NULL}, tok;
    unsigned long v;

    memset(tr, 0, sizeof(*tr));
    tr->payload_type = (uint8_t)pt;
    tr->info.kind = kind;
    if (find_attr(sec, "rtpmap", pt, &map)) {
        if (!cv_span_token(&map, "/", &tok))
            return false;
        cv_span_trim(&tok);
        for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
            if (cv_span_is(tok, encodings[i].name) && encodings[i].kind == kind)
                tr->info.codec = encodings[i].codec;
        if (!tr->info.codec || !cv_span_token(&map, "/", &tok) || !cv_span_uint(tok, 1000000, &v) ||
            v == 0)
            return false;
        tr->info.clock_rate = (uint32_t)v;
        tr->info.channels = 1;
        if (cv_span_token(&map, "/", &tok)) {
            if (!cv_span_uint(tok, 255, &v) || v == 0)
                return false;
            tr->info.channels = (uint16_t)v;
        }
    } else if ((pt == 0 || pt == 8) && kind == CV_TRACK_AUDIO) {
        /* Static payload types (RFC 3551) need no rtpmap. */
        tr->info.codec = pt == 0 ? CV_CODEC_PCMU : CV_CODEC_PCMA;
        tr->info.clock_rate = 8000;
        tr->info.channels = 1;
    } else {
        return false;
    }
    if (kind == CV_TRACK_VIDEO)
        tr->info.channels = 0;
    find_attr(sec, "fmtp", pt, &fmtp);

    switch (tr->info.codec) {
    case CV_CODEC_H264: return fmtp.s ? fmtp_h264(tr, fmtp) : true;
    case CV_CODEC_H265: return fmtp.s ? fmtp_h265(tr, fmtp) : true;
    case CV_CODEC_AAC: return fmtp.s && fmtp_aac(tr, fmtp);
    default: return true;
    }
}

/* a=framerate:25 or 29.97, and the x-dimensions some cameras add. */
static void parse_video_extras(struct cv_span sec, struct cv_sdp_track *tr)
{
    struct cv_span v, tok;
    unsigned long w, h;

    if (find_attr(sec, "framerate", -1, &v)) {
        unsigned long ip = 0, frac = 0, scale = 100;
        struct cv_span rest = v;
        if (cv_span_token(&rest, ".", &tok) && cv_span_uint(tok, 1000, &ip)) {
            const char *c = tok.e < v.e ? tok.e + 1 : v.e;
            for (; c < v.e && scale > 1 && *c >= '0' && *c <= '9'; c++)
                frac += (unsigned long)(*c - '0') * (scale /= 10);
            tr->info.fps_x100 = (uint16_t)(ip * 100 + frac > 65535 ? 0 : ip * 100 + frac);
        }
    }
    if (find_attr(sec, "x-dimensions", -1, &v) && cv_span_token(&v, ",", &tok) &&
        cv_span_uint(tok, 65535, &w) && cv_span_token(&v, ",", &tok) &&
        cv_span_uint(tok, 65535, &h)) {
        tr->info.width = (uint16_t)w;
        tr->info.height = (uint16_t)h;
    }
}

static void parse_media(struct cv_sdp *out, struct cv_span mline, struct cv_span sec, unsigned idx)
{
    struct cv_span v = mline, media, port, proto, fmt, ctl;
    uint8_t kind;
    unsigned long pt;

    if (!cv_span_token(&v, " \t", &media) || !cv_span_token(&v, " \t", &port) ||
        !cv_span_token(&v, " \t", &proto))
        goto skip;
    if (cv_span_is(media, "video"))
        kind = CV_TRACK_VIDEO;
    else if (cv_span_is(media, "audio"))
        kind = CV_TRACK_AUDIO;
    else
        goto skip;
    /* RTP/AVP, RTP/AVPF, TCP/RTP/AVP; SRTP profiles (SAVP) would need keys we do not have. */
    if (!memmem(proto.s, cv_span_len(proto), "RTP/AVP", 7) || out->track_count >= CV_MAX_TRACKS)
        goto skip;

    while (cv_span_token(&v, " \t", &fmt)) {
        struct cv_sdp_track *tr = &out->tracks[out->track_count];
        if (!cv_span_uint(fmt, 127, &pt) || !parse_payload(sec, kind, (int)pt, tr))
            continue;
        tr->media_index = (uint8_t)(idx > 255 ? 255 : idx);
        if (find_attr(sec, "control", -1, &ctl) &&
            copy_span(ctl, tr->control, sizeof(tr->control)) < 0)
            goto skip; /* a truncated control URL would SETUP the wrong thing */
        if (kind == CV_TRACK_VIDEO)
            parse_video_extras(sec, tr);
        out->track_count++;
        return;
    }
skip:
    out->skipped_media++;
}

int cv_sdp_parse(const char *text, size_t len, struct cv_sdp *out)
{
    const char *p = text, *end = text + len, *sec_start = NULL;
    struct cv_span line, mline = {NULL, NULL}, ctl;
    bool have_v = false;
    unsigned idx = 0;

    memset(out, 0, sizeof(*out));
    if (len == 0 || memchr(text, '\0', len))
        return -EBADMSG;
    while (cv_span_line(&p, end, &line)) {
        if (cv_span_starts(line, "v="))
            have_v = true;
        if (!cv_span_starts(line, "m="))
            continue;
        if (sec_start) {
            parse_media(out, mline, (struct cv_span){sec_start, line.s}, idx++);
        } else {
            struct cv_span session = {text, line.s};
            if (find_attr(session, "control", -1, &ctl))
                copy_span(ctl, out->control, sizeof(out->control));
        }
        mline = (struct cv_span){line.s + 2, line.e};
        sec_start = p;
    }
    if (!have_v)
        return -EBADMSG;
    if (sec_start)
        parse_media(out, mline, (struct cv_span){sec_start, end}, idx);
    else if (find_attr((struct cv_span){text, end}, "control", -1, &ctl))
        copy_span(ctl, out->control, sizeof(out->control));
    return 0;
}

static bool is_absolute(const char *url)
{
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    return n > 0 && strncmp(url + n, "://", 3) == 0;
}

int cv_sdp_resolve_control(const char *base, const char *control, char *out, size_t size)
{
    size_t bn = strlen(base), cn = strlen(control);
    const char *sep = "";

    if (size == 0)
        return -E2BIG;
    if (is_absolute(control)) {
        bn = 0;
    } else if (cn == 0 || strcmp(control, "*") == 0) {
        cn = 0;
    } else if (control[0] == '/') {
        /* Keep only scheme://authority of the base. */
        const char *auth = strstr(base, "://");
        if (auth)
            bn = (size_t)(auth + 3 - base) + strcspn(auth + 3, "/?#");
    } else if (bn > 0 && base[bn - 1] != '/') {
        sep = "/";
    }
    if (bn + strlen(sep) + cn + 1 > size)
        return -E2BIG;
    memcpy(out, base, bn);
    memcpy(out + bn, sep, strlen(sep));
    memcpy(out + bn + strlen(sep), control, cn);
    out[bn + strlen(sep) + cn] = '\0';
    return 0;
}

int cv_sdp_track_url(const struct cv_sdp *sdp, unsigned i, const char *base, char *out, size_t size)
{
    if (i >= sdp->track_count || i >= CV_MAX_TRACKS)
        return -EINVAL;
    const char *session = is_absolute(sdp->control) ? sdp->control : base;
    return cv_sdp_resolve_control(session, sdp->tracks[i].control, out, size);
}
