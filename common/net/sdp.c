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

struct span {
    const char *s;
    const char *e;
};

static size_t span_len(struct span v)
{
    return (size_t)(v.e - v.s);
}

static bool span_is(struct span v, const char *word)
{
    size_t n = strlen(word);
    return span_len(v) == n && strncasecmp(v.s, word, n) == 0;
}

static bool span_starts(struct span v, const char *prefix)
{
    size_t n = strlen(prefix);
    return span_len(v) >= n && strncasecmp(v.s, prefix, n) == 0;
}

static void trim(struct span *v)
{
    while (v->s < v->e && (*v->s == ' ' || *v->s == '\t'))
        v->s++;
    while (v->e > v->s && (v->e[-1] == ' ' || v->e[-1] == '\t' || v->e[-1] == '\r'))
        v->e--;
}

/* Next line of [*p, end) without its CR/LF; false at the end. */
static bool next_line(const char **p, const char *end, struct span *line)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    line->s = *p;
    line->e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    while (line->e > line->s && line->e[-1] == '\r')
        line->e--;
    return true;
}

/* Next token of v separated by any of seps (skipping empty ones); false at the end. */
static bool next_token(struct span *v, const char *seps, struct span *tok)
{
    while (v->s < v->e && strchr(seps, *v->s))
        v->s++;
    if (v->s >= v->e)
        return false;
    tok->s = v->s;
    while (v->s < v->e && !strchr(seps, *v->s))
        v->s++;
    tok->e = v->s;
    return true;
}

static int span_uint(struct span v, unsigned long max, unsigned long *out)
{
    unsigned long x = 0;
    if (v.s >= v.e)
        return -EBADMSG;
    for (const char *c = v.s; c < v.e; c++) {
        if (*c < '0' || *c > '9')
            return -EBADMSG;
        x = x * 10 + (unsigned long)(*c - '0');
        if (x > max)
            return -EBADMSG;
    }
    *out = x;
    return 0;
}

static int copy_span(struct span v, char *out, size_t size)
{
    if (span_len(v) + 1 > size)
        return -E2BIG;
    memcpy(out, v.s, span_len(v));
    out[span_len(v)] = '\0';
    return 0;
}

/* Finds "a=<attr>:<pt> <rest>" (pt < 0: "a=<attr>:<rest>") in a section; rest goes to *val. */
static bool find_attr(struct span sec, const char *attr, int pt, struct span *val)
{
    const char *p = sec.s;
    struct span line;
    size_t an = strlen(attr);

    while (next_line(&p, sec.e, &line)) {
        if (span_len(line) < an + 3 || strncmp(line.s, "a=", 2) != 0 ||
            strncasecmp(line.s + 2, attr, an) != 0 || line.s[2 + an] != ':')
            continue;
        struct span v = {line.s + an + 3, line.e}, tok;
        if (pt >= 0) {
            unsigned long n;
            struct span rest = v;
            if (!next_token(&rest, " \t", &tok) || span_uint(tok, 127, &n) < 0 || (int)n != pt)
                continue;
            v = rest;
        }
        trim(&v);
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
static bool put_b64_list(struct cv_track_info *t, struct span list)
{
    char b64[CV_MAX_EXTRADATA * 4 / 3 + 8];
    uint8_t nal[CV_MAX_EXTRADATA];
    struct span tok;

    while (next_token(&list, ",", &tok)) {
        trim(&tok);
        if (tok.s == tok.e)
            continue;
        if (copy_span(tok, b64, sizeof(b64)) < 0 ||
            CV_BASE64_DECODE_SIZE(span_len(tok)) > sizeof(nal))
            return false;
        int n = cv_base64_decode(nal, b64, sizeof(nal));
        if (n <= 0 || !put_nal(t, nal, (size_t)n))
            return false;
    }
    return true;
}

/* Parses "k=v;k=v" fmtp parameters: calls back for each; values may hold '=' (base64). */
struct fmtp_param {
    struct span key;
    struct span val;
};

static bool next_fmtp(struct span *params, struct fmtp_param *p)
{
    struct span tok;
    while (next_token(params, ";", &tok)) {
        trim(&tok);
        const char *eq = memchr(tok.s, '=', span_len(tok));
        if (!eq)
            continue;
        p->key = (struct span){tok.s, eq};
        p->val = (struct span){eq + 1, tok.e};
        trim(&p->key);
        trim(&p->val);
        return true;
    }
    return false;
}

static bool fmtp_h264(struct cv_sdp_track *tr, struct span params)
{
    struct fmtp_param p;
    unsigned long v;

    while (next_fmtp(&params, &p)) {
        if (span_is(p.key, "packetization-mode")) {
            if (span_uint(p.val, 255, &v) < 0 || v > 1)
                return false; /* interleaved mode (2) is not supported */
            tr->packetization_mode = (uint8_t)v;
        } else if (span_is(p.key, "profile-level-id") && span_len(p.val) == 6) {
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
        } else if (span_is(p.key, "sprop-parameter-sets")) {
            if (!put_b64_list(&tr->info, p.val))
                tr->info.extradata_len = 0;
        }
    }
    return true;
}

static bool fmtp_h265(struct cv_sdp_track *tr, struct span params)
{
    static const char *const keys[] = {"sprop-vps", "sprop-sps", "sprop-pps"};
    struct fmtp_param p;
    struct span sets[3] = {{NULL, NULL}, {NULL, NULL}, {NULL, NULL}}, all = params;
    unsigned long v;

    while (next_fmtp(&all, &p)) {
        for (int i = 0; i < 3; i++)
            if (span_is(p.key, keys[i]))
                sets[i] = p.val;
        /* Decoding order numbers in the payload: our depacketiser does not read them. */
        if (span_is(p.key, "sprop-max-don-diff") && (span_uint(p.val, 32767, &v) < 0 || v > 0))
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

static bool fmtp_aac(struct cv_sdp_track *tr, struct span params)
{
    struct fmtp_param p;
    unsigned long v;
    bool hbr = false, lbr = false, have_size = false;
    uint8_t asc[64];
    size_t asc_len = 0;

    while (next_fmtp(&params, &p)) {
        if (span_is(p.key, "mode")) {
            hbr = span_is(p.val, "AAC-hbr");
            lbr = span_is(p.val, "AAC-lbr");
        } else if (span_is(p.key, "sizelength")) {
            if (span_uint(p.val, 16, &v) < 0 || v == 0)
                return false;
            tr->aac_sizelength = (uint8_t)v;
            have_size = true;
        } else if (span_is(p.key, "indexlength") || span_is(p.key, "indexdeltalength")) {
            if (span_uint(p.val, 8, &v) < 0)
                return false;
            if (span_is(p.key, "indexlength"))
                tr->aac_indexlength = (uint8_t)v;
            else
                tr->aac_indexdeltalength = (uint8_t)v;
        } else if (span_is(p.key, "config")) {
            size_t n = span_len(p.val);
            if (n % 2 || n / 2 > sizeof(asc))
                return false;
            for (size_t i = 0; i < n / 2; i++) {
                int hi = cv_hex_value(p.val.s[2 * i]), lo = cv_hex_value(p.val.s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                    return false;
                asc[i] = (uint8_t)(hi << 4 | lo);
            }
            asc_len = n / 2;
        } else if (span_is(p.key, "constantsize") || span_is(p.key, "ctsdeltalength") ||
                   span_is(p.key, "dtsdeltalength") || span_is(p.key, "auxiliarydatasizelength")) {
            if (span_uint(p.val, 255, &v) < 0 || v > 0)
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
static bool parse_payload(struct span sec, uint8_t kind, int pt, struct cv_sdp_track *tr)
{
    struct span map, fmtp = {NULL, NULL}, tok;
    unsigned long v;

    memset(tr, 0, sizeof(*tr));
    tr->payload_type = (uint8_t)pt;
    tr->info.kind = kind;
    if (find_attr(sec, "rtpmap", pt, &map)) {
        if (!next_token(&map, "/", &tok))
            return false;
        trim(&tok);
        for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
            if (span_is(tok, encodings[i].name) && encodings[i].kind == kind)
                tr->info.codec = encodings[i].codec;
        if (!tr->info.codec || !next_token(&map, "/", &tok) || span_uint(tok, 1000000, &v) < 0 ||
            v == 0)
            return false;
        tr->info.clock_rate = (uint32_t)v;
        tr->info.channels = 1;
        if (next_token(&map, "/", &tok)) {
            if (span_uint(tok, 255, &v) < 0 || v == 0)
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
static void parse_video_extras(struct span sec, struct cv_sdp_track *tr)
{
    struct span v, tok;
    unsigned long w, h;

    if (find_attr(sec, "framerate", -1, &v)) {
        unsigned long ip = 0, frac = 0, scale = 100;
        struct span rest = v;
        if (next_token(&rest, ".", &tok) && span_uint(tok, 1000, &ip) == 0) {
            const char *c = tok.e < v.e ? tok.e + 1 : v.e;
            for (; c < v.e && scale > 1 && *c >= '0' && *c <= '9'; c++)
                frac += (unsigned long)(*c - '0') * (scale /= 10);
            tr->info.fps_x100 = (uint16_t)(ip * 100 + frac > 65535 ? 0 : ip * 100 + frac);
        }
    }
    if (find_attr(sec, "x-dimensions", -1, &v) && next_token(&v, ",", &tok) &&
        span_uint(tok, 65535, &w) == 0 && next_token(&v, ",", &tok) &&
        span_uint(tok, 65535, &h) == 0) {
        tr->info.width = (uint16_t)w;
        tr->info.height = (uint16_t)h;
    }
}

static void parse_media(struct cv_sdp *out, struct span mline, struct span sec, unsigned idx)
{
    struct span v = mline, media, port, proto, fmt, ctl;
    uint8_t kind;
    unsigned long pt;

    if (!next_token(&v, " \t", &media) || !next_token(&v, " \t", &port) ||
        !next_token(&v, " \t", &proto))
        goto skip;
    if (span_is(media, "video"))
        kind = CV_TRACK_VIDEO;
    else if (span_is(media, "audio"))
        kind = CV_TRACK_AUDIO;
    else
        goto skip;
    /* RTP/AVP, RTP/AVPF, TCP/RTP/AVP; SRTP profiles (SAVP) would need keys we do not have. */
    if (!memmem(proto.s, span_len(proto), "RTP/AVP", 7) || out->track_count >= CV_MAX_TRACKS)
        goto skip;

    while (next_token(&v, " \t", &fmt)) {
        struct cv_sdp_track *tr = &out->tracks[out->track_count];
        if (span_uint(fmt, 127, &pt) < 0 || !parse_payload(sec, kind, (int)pt, tr))
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
    struct span line, mline = {NULL, NULL}, ctl;
    bool have_v = false;
    unsigned idx = 0;

    memset(out, 0, sizeof(*out));
    if (len == 0 || memchr(text, '\0', len))
        return -EBADMSG;
    while (next_line(&p, end, &line)) {
        if (span_starts(line, "v="))
            have_v = true;
        if (!span_starts(line, "m="))
            continue;
        if (sec_start) {
            parse_media(out, mline, (struct span){sec_start, line.s}, idx++);
        } else {
            struct span session = {text, line.s};
            if (find_attr(session, "control", -1, &ctl))
                copy_span(ctl, out->control, sizeof(out->control));
        }
        mline = (struct span){line.s + 2, line.e};
        sec_start = p;
    }
    if (!have_v)
        return -EBADMSG;
    if (sec_start)
        parse_media(out, mline, (struct span){sec_start, end}, idx);
    else if (find_attr((struct span){text, end}, "control", -1, &ctl))
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
