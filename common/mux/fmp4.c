/*
 * Fragmented MP4 from ring frames (the contract is in fmp4.h). Three parts:
 *
 *   parameter sets -> sample entry: the ring carries SPS/PPS (VPS) as length-prefixed NAL units,
 *     not an avcC/hvcC record. We build the record here from a bounds-checked parse of the SPS
 *     (which also gives width/height when the track info has none, and the RFC 6381 codecs
 *     string). Handing libavformat Annex-B extradata instead would make its mov muxer treat every
 *     packet as Annex-B too and rescan it for start codes, and a 4-byte length of 256..511 reads
 *     as one; with a record it copies our length-prefixed frames as they are.
 *   the timeline: every track's output decode time is the sum of the durations written before,
 *     so it is continuous and strictly increasing by construction, whatever the input does. A
 *     sample's duration is the input's last dts step (the next frame is not there yet); steps that
 *     are not plausible (backwards, zero, over CV_FMP4_MAX_STEP_S) and the first frame after a
 *     discontinuity take the previous duration instead. Since the guess lags by one frame the
 *     output never drifts from the input by more than one step's error.
 *   audio: AAC and Opus (with an OpusHead built from the track info) are copied as they are;
 *     PCMA/PCMU goes through flac.c's transcoder and its FLAC frames are the samples, timed by
 *     counting them (cv_fmp4_write_g711).
 *   libavformat: "mp4" with empty_moov+default_base_moof+frag_custom into a growable memory buffer;
 *     av_write_frame then av_write_frame(NULL) writes one moof+mdat per frame (frag_custom: the
 *     muxer never cuts fragments on its own). FFmpeg 5.1 writes tfdt as version 1 (64-bit); we
 *     find it by walking the boxes and refuse anything else rather than guess an offset.
 */
#include "common/mux/fmp4.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/mathematics.h>

#include "common/base/log.h"
#include "common/media/bits.h"
#include "common/media/nal.h"
#include "common/media/sps.h"
#include "common/ring/ring-types.h"
#include "common/mux/flac.h"

#define CV_FMP4_MAX_OUT_TRACKS 2    /* one video track, at most one audio track */
#define CV_FMP4_IOBUF          4096 /* libavformat's write buffer; ours grows behind it */
#define CV_FMP4_MAX_OUT        (64u << 20)
#define CV_FMP4_MAX_STEP_S     10 /* a dts step above this is a jump, not a frame interval */
#define CV_FMP4_RECORD_MAX     (CV_MAX_EXTRADATA + 64)
#define CV_FMP4_MAX_FILL_S     1 /* G.711: a longer hole is a jump, not lost packets */
#define CV_FMP4_OPUS_HEAD      19

struct cv_fmp4_track {
    uint32_t in_track; /* ring track index */
    uint8_t codec;     /* enum cv_codec of the input */
    bool video;
    uint32_t clock;       /* of the input timestamps */
    uint32_t timescale;   /* of the output track (libavformat's choice, read after the header) */
    unsigned channels;    /* G.711: bytes per sample of the input */
    struct cv_flac *flac; /* owned: G.711 tracks' transcoder to FLAC, NULL for the others */
    bool live;            /* video: a keyframe written since open or the last discontinuity */
    bool have_prev;       /* prev_dts is valid: the next frame's step can be measured */
    int64_t prev_dts;     /* previous input dts, in timescale units (G.711: the next pts due) */
    int64_t next_dts;     /* output decode time of the next sample: the sum of durations so far */
    int64_t last_dur;     /* duration of the last sample written; 0 before the first */
    int64_t def_dur;      /* used when no step is known yet */
};

struct cv_fmp4 {
    AVFormatContext *fc; /* owned; its streams are tracks[] in order */
    AVIOContext *pb;     /* owned, with its buffer (av_malloc'd, freed through pb->buffer) */
    AVPacket *pkt;       /* owned; only ever points at the caller's data, never refcounted */
    uint8_t *out;        /* owned: what the muxer wrote since the last reset (the fragment) */
    size_t out_len, out_cap;
    uint8_t *init; /* owned copy of the init segment */
    size_t init_len;
    int err; /* sticky: the first error of cv_fmp4_write, returned again after it */
    uint32_t ntracks;
    struct cv_fmp4_track tracks[CV_FMP4_MAX_OUT_TRACKS];
    int out_of_in[CV_MAX_TRACKS];
    unsigned steps_replaced, frames_malformed, gaps_filled; /* the first of each is logged */
    char name[64];
    char codecs[96];
    char mime[128];
};

/* ---- parameter sets ------------------------------------------------------------------------ */

static void cv_fmp4_put16(uint8_t *p, size_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/*
 * Length-prefixed parameter sets -> avcC (ISO 14496-15 5.3.3.1) or hvcC (8.3.3.1.2), parsing the
 * first SPS. Every NAL unit of extradata must be well formed; those that are not parameter sets
 * are left out. The record's lengthSizeMinusOne is 3, the ring's own prefix size. Returns the
 * record's length.
 */
static int cv_fmp4_record(uint8_t codec, const uint8_t *ed, size_t len, uint8_t *rec,
                          struct cv_sps *sps)
{
    const bool hevc = codec == CV_CODEC_H265;
    /* Types in record order; H.264 has two arrays, H.265 three. */
    const int types[3] = {hevc ? 32 : 7, hevc ? 33 : 8, 34};
    const int ntypes = hevc ? 3 : 2, sps_type = hevc ? 33 : 7;
    const size_t hdr = hevc ? 2 : 1;
    const uint8_t *nal;
    size_t off = 0, n;
    unsigned count[3] = {0, 0, 0};
    bool have_sps = false;
    uint8_t rbsp[CV_MAX_EXTRADATA];

    while (cv_nal_next(ed, len, &off, &nal, &n)) {
        int t = cv_nal_type(codec, nal);
        if (n <= hdr || (nal[0] & 0x80))
            return -EBADMSG;
        if (!cv_nal_is_param_set(codec, t))
            continue; /* an SEI next to them has no place in the record */
        for (int k = 0; k < ntypes; k++)
            count[k] += types[k] == t;
        if (t == sps_type && !have_sps) {
            size_t rn = cv_sps_unescape(nal + hdr, n - hdr, rbsp);
            int r = hevc ? cv_sps_parse_h265(rbsp, rn, sps) : cv_sps_parse_h264(rbsp, rn, sps);
            if (r < 0)
                return r;
            have_sps = true;
        }
    }
    if (off != len || !have_sps)
        return -EBADMSG;
    for (int k = 0; k < ntypes; k++)
        if (count[k] == 0 || count[k] > (hevc ? 0xffffu : k == 0 ? 31u : 255u))
            return -EBADMSG;

    size_t w;
    if (hevc) {
        rec[0] = 1;
        memcpy(rec + 1, sps->ptl, 12);
        rec[13] = 0xf0; /* min_spatial_segmentation_idc 0: not signalled */
        rec[14] = 0x00;
        rec[15] = 0xfc; /* parallelismType 0: unknown */
        rec[16] = (uint8_t)(0xfc | sps->chroma_format);
        rec[17] = (uint8_t)(0xf8 | sps->bit_depth_luma_m8);
        rec[18] = (uint8_t)(0xf8 | sps->bit_depth_chroma_m8);
        rec[19] = rec[20] = 0; /* avgFrameRate unknown */
        rec[21] = (uint8_t)((sps->sub_layers << 3) | (sps->temporal_nesting << 2) | 3);
        rec[22] = 3;
        w = 23;
    } else {
        rec[0] = 1;
        memcpy(rec + 1, sps->ptl, 3);
        rec[4] = 0xff; /* lengthSizeMinusOne 3 */
        w = 5;
    }
    for (int k = 0; k < ntypes; k++) {
        if (hevc) {
            rec[w++] = (uint8_t)(0x80 | types[k]); /* array_completeness: all of them are here */
            cv_fmp4_put16(rec + w, count[k]);
            w += 2;
        } else {
            rec[w++] = (uint8_t)(k == 0 ? 0xe0 | count[k] : count[k]);
        }
        off = 0;
        while (cv_nal_next(ed, len, &off, &nal, &n)) {
            if (cv_nal_type(codec, nal) != types[k])
                continue;
            cv_fmp4_put16(rec + w, n);
            memcpy(rec + w + 2, nal, n);
            w += 2 + n;
        }
    }
    /* High profiles carry chroma format and bit depths (14496-15 5.3.3.1.2). */
    unsigned p = sps->ptl[0];
    if (!hevc && (p == 100 || p == 110 || p == 122 || p == 144)) {
        rec[w++] = (uint8_t)(0xfc | sps->chroma_format);
        rec[w++] = (uint8_t)(0xf8 | sps->bit_depth_luma_m8);
        rec[w++] = (uint8_t)(0xf8 | sps->bit_depth_chroma_m8);
        rec[w++] = 0;
    }
    return (int)w;
}

/* RFC 6381 / ISO 14496-15 annex E: avc1.PPCCLL, hvc1.[A-C]P.COMPAT.TLL.CC[.CC...]. */
static void cv_fmp4_video_codecs(uint8_t codec, const struct cv_sps *s, char *out, size_t cap)
{
    if (codec == CV_CODEC_H264) {
        snprintf(out, cap, "avc1.%02X%02X%02X", s->ptl[0], s->ptl[1], s->ptl[2]);
        return;
    }
    static const char *const space[4] = {"", "A", "B", "C"};
    uint32_t compat = ((uint32_t)s->ptl[1] << 24) | ((uint32_t)s->ptl[2] << 16) |
                      ((uint32_t)s->ptl[3] << 8) | s->ptl[4];
    uint32_t rev = 0;
    for (int i = 0; i < 32; i++)
        rev |= ((compat >> i) & 1u) << (31 - i);
    int n = snprintf(out, cap, "hvc1.%s%u.%" PRIX32 ".%c%u", space[s->ptl[0] >> 6],
                     s->ptl[0] & 0x1fu, rev, (s->ptl[0] & 0x20) ? 'H' : 'L', s->ptl[11]);
    int last = 5;
    while (last >= 0 && s->ptl[5 + last] == 0)
        last--;
    for (int i = 0; i <= last && n > 0 && (size_t)n < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, ".%X", s->ptl[5 + i]);
}

/* AudioSpecificConfig (ISO 14496-3 1.6.2.1): object type, sampling rate, channel configuration. */
static int cv_fmp4_asc(const uint8_t *p, size_t len, unsigned *aot, unsigned *rate, unsigned *chans)
{
    static const unsigned rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                       22050, 16000, 12000, 11025, 8000,  7350};
    struct cv_bits b = {p, len, 0, false};
    *aot = cv_bits_u(&b, 5);
    if (*aot == 31)
        *aot = 32 + cv_bits_u(&b, 6);
    unsigned idx = cv_bits_u(&b, 4);
    *rate = idx == 15 ? cv_bits_u(&b, 24) : idx < 13 ? rates[idx] : 0;
    *chans = cv_bits_u(&b, 4);
    return b.bad || *aot == 0 || *rate == 0 ? -EBADMSG : 0;
}

/* ---- output buffer and boxes -------------------------------------------------------------- */

#if LIBAVFORMAT_VERSION_MAJOR < 61
typedef uint8_t cv_fmp4_io_byte;
#else
typedef const uint8_t cv_fmp4_io_byte;
#endif

/* libavformat's AVIOContext writes here: everything since the last reset is one output unit. */
static int cv_fmp4_io_write(void *opaque, cv_fmp4_io_byte *buf, int n)
{
    struct cv_fmp4 *m = opaque;
    if (n <= 0)
        return 0;
    if ((size_t)n > CV_FMP4_MAX_OUT - m->out_len)
        return AVERROR(EMSGSIZE);
    if (m->out_len + (size_t)n > m->out_cap) {
        size_t cap = m->out_cap ? m->out_cap : 65536;
        while (cap < m->out_len + (size_t)n)
            cap *= 2;
        uint8_t *p = realloc(m->out, cap);
        if (!p)
            return AVERROR(ENOMEM);
        m->out = p;
        m->out_cap = cap;
    }
    memcpy(m->out + m->out_len, buf, (size_t)n);
    m->out_len += (size_t)n;
    return n;
}

static uint32_t cv_fmp4_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t cv_fmp4_be64(const uint8_t *p)
{
    return ((uint64_t)cv_fmp4_be32(p) << 32) | cv_fmp4_be32(p + 4);
}

/*
 * The next box of buf[*off, end): its type, payload start and end. False at the end or at a box
 * whose size does not fit (then *off is left short of end, which callers treat as malformed).
 */
static bool cv_fmp4_box(const uint8_t *buf, size_t end, size_t *off, const uint8_t **type,
                        size_t *body, size_t *box_end)
{
    if (end - *off < 8)
        return false;
    const uint8_t *p = buf + *off;
    uint64_t size = cv_fmp4_be32(p);
    size_t hdr = 8;
    if (size == 1) {
        if (end - *off < 16)
            return false;
        size = cv_fmp4_be64(p + 8);
        hdr = 16;
    } else if (size == 0) {
        size = end - *off;
    }
    if (size < hdr || size > end - *off)
        return false;
    *type = p + 4;
    *body = *off + hdr;
    *box_end = *off + (size_t)size;
    *off = *box_end;
    return true;
}

/* Offset of the 64-bit baseMediaDecodeTime of track_id's traf in the fragment, or -EPROTO. */
static int cv_fmp4_find_tfdt(const uint8_t *buf, size_t len, uint32_t track_id, size_t *tfdt_off)
{
    const uint8_t *type;
    size_t off = 0, body, end;
    while (cv_fmp4_box(buf, len, &off, &type, &body, &end)) {
        if (memcmp(type, "moof", 4) != 0)
            continue;
        size_t t_off = body, t_body, t_end;
        while (cv_fmp4_box(buf, end, &t_off, &type, &t_body, &t_end)) {
            if (memcmp(type, "traf", 4) != 0)
                continue;
            size_t b_off = t_body, b_body, b_end, tfdt = 0;
            bool ours = false;
            while (cv_fmp4_box(buf, t_end, &b_off, &type, &b_body, &b_end)) {
                if (memcmp(type, "tfhd", 4) == 0 && b_end - b_body >= 8)
                    ours = cv_fmp4_be32(buf + b_body + 4) == track_id;
                /* version 1 = 64-bit; version 0 would leave no room for the 8 bytes promised. */
                else if (memcmp(type, "tfdt", 4) == 0 && b_end - b_body >= 12 && buf[b_body] == 1)
                    tfdt = b_body + 4;
            }
            if (ours && tfdt) {
                *tfdt_off = tfdt;
                return 0;
            }
        }
    }
    return -EPROTO;
}

/* FFmpeg's codes are -errno on our platforms, or tags of their own. */
static int cv_fmp4_averr(int ret)
{
    if (ret == AVERROR_INVALIDDATA)
        return -EBADMSG;
    return ret < 0 && ret > -4096 ? ret : -EIO;
}

/* ---- open ---------------------------------------------------------------------------------- */

static int cv_fmp4_add_video(struct cv_fmp4 *m, uint32_t in, const struct cv_track_info *ti,
                             char *codecs, size_t cap)
{
    struct cv_sps sps;
    uint8_t rec[CV_FMP4_RECORD_MAX];
    memset(&sps, 0, sizeof(sps));
    if (ti->extradata_len > CV_MAX_EXTRADATA)
        return -EBADMSG;
    int n = cv_fmp4_record(ti->codec, ti->extradata, ti->extradata_len, rec, &sps);
    if (n < 0) {
        cv_dbg("%s: track %" PRIu32 ": %s parameter sets do not parse", m->name, in,
               cv_codec_name(ti->codec));
        return n;
    }
    AVStream *st = avformat_new_stream(m->fc, NULL);
    if (!st)
        return -ENOMEM;
    AVCodecParameters *par = st->codecpar;
    par->extradata = av_mallocz((size_t)n + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return -ENOMEM;
    memcpy(par->extradata, rec, (size_t)n);
    par->extradata_size = n;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = ti->codec == CV_CODEC_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
    /* hvc1, not libavformat's default hev1: Safari plays only hvc1, and our record holds every
     * parameter set as hvc1 requires. */
    par->codec_tag = ti->codec == CV_CODEC_H265 ? MKTAG('h', 'v', 'c', '1') : 0;
    par->width = (int)sps.width;
    par->height = (int)sps.height;
    st->time_base = (AVRational){1, 90000};
    cv_fmp4_video_codecs(ti->codec, &sps, codecs, cap);

    struct cv_fmp4_track *t = &m->tracks[m->ntracks];
    t->in_track = in;
    t->codec = ti->codec;
    t->video = true;
    t->clock = ti->clock_rate ? ti->clock_rate : 90000;
    m->out_of_in[in] = (int)m->ntracks++;
    return 0;
}

/* An audio stream with a copy of its codec configuration; NULL when out of memory. */
static AVStream *cv_fmp4_audio_stream(struct cv_fmp4 *m, enum AVCodecID id, const uint8_t *config,
                                      size_t len, uint32_t rate, unsigned chans)
{
    AVStream *st = avformat_new_stream(m->fc, NULL);
    if (!st)
        return NULL;
    AVCodecParameters *par = st->codecpar;
    par->extradata = av_mallocz(len + AV_INPUT_BUFFER_PADDING_SIZE);
    if (!par->extradata)
        return NULL;
    memcpy(par->extradata, config, len);
    par->extradata_size = (int)len;
    par->codec_type = AVMEDIA_TYPE_AUDIO;
    par->codec_id = id;
    par->sample_rate = (int)rate;
    av_channel_layout_default(&par->ch_layout, (int)chans);
    st->time_base = (AVRational){1, (int)rate};
    return st;
}

static struct cv_fmp4_track *cv_fmp4_audio_track(struct cv_fmp4 *m, uint32_t in, uint8_t codec,
                                                 uint32_t clock, int64_t def_dur)
{
    struct cv_fmp4_track *t = &m->tracks[m->ntracks];
    t->in_track = in;
    t->codec = codec;
    t->clock = clock;
    t->def_dur = def_dur; /* in clock units until the header gives the timescale */
    m->out_of_in[in] = (int)m->ntracks++;
    return t;
}

/* An AAC track; a missing or malformed AudioSpecificConfig leaves the audio out, not the video. */
static int cv_fmp4_add_aac(struct cv_fmp4 *m, uint32_t in, const struct cv_track_info *ti,
                           char *codecs, size_t cap)
{
    unsigned aot, asc_rate, asc_chans;
    if (ti->extradata_len > CV_MAX_EXTRADATA ||
        cv_fmp4_asc(ti->extradata, ti->extradata_len, &aot, &asc_rate, &asc_chans) < 0) {
        /* Debug level: the caller's line with the MIME type shows the audio is missing. */
        cv_dbg("%s: track %" PRIu32 ": AAC without a valid AudioSpecificConfig, left out", m->name,
               in);
        return 0;
    }
    /* The ring's clock is what its timestamps count; for HE-AAC it is the output rate where
     * the config names the core rate, so it wins when it is plausible. */
    uint32_t rate = ti->clock_rate >= 1000 && ti->clock_rate <= 384000 ? ti->clock_rate : asc_rate;
    if (rate < 1000 || rate > 384000)
        return 0;
    unsigned chans = ti->channels ? ti->channels : asc_chans == 7 ? 8 : asc_chans;
    if (chans == 0 || chans > 8)
        chans = 2;

    AVStream *st =
        cv_fmp4_audio_stream(m, AV_CODEC_ID_AAC, ti->extradata, ti->extradata_len, rate, chans);
    if (!st)
        return -ENOMEM;
    st->codecpar->frame_size = 1024;
    snprintf(codecs, cap, "mp4a.40.%u", aot);
    /* 1024 samples at the config's rate. */
    cv_fmp4_audio_track(m, in, CV_CODEC_AAC, rate, (int64_t)1024 * rate / asc_rate);
    return 0;
}

/*
 * Opus as it comes ('Opus' sample entry, "opus"): the ring has no OpusHead, so one is built from
 * the track info: the channel count (RTP says 2 whatever the camera codes), mapping family 0,
 * which covers 1 or 2 channels and so every camera, and a pre-skip of 0: a viewer joins a live
 * stream in its middle, where there is nothing to skip. The timescale is Opus' 48 kHz.
 */
static int cv_fmp4_add_opus(struct cv_fmp4 *m, uint32_t in, const struct cv_track_info *ti,
                            char *codecs, size_t cap)
{
    unsigned chans = ti->channels ? ti->channels : 2;
    if (chans > 2) {
        cv_dbg("%s: track %" PRIu32 ": Opus with %u channels, left out", m->name, in, chans);
        return 0;
    }
    uint32_t clock = ti->clock_rate >= 1000 && ti->clock_rate <= 384000 ? ti->clock_rate : 48000;
    uint8_t head[CV_FMP4_OPUS_HEAD] = {'O', 'p', 'u',  's',  'H', 'e', 'a', 'd', 1, (uint8_t)chans,
                                       0,   0,   0x80, 0xbb, 0,   0,   0,   0,   0};
    if (!cv_fmp4_audio_stream(m, AV_CODEC_ID_OPUS, head, sizeof(head), 48000, chans))
        return -ENOMEM;
    snprintf(codecs, cap, "opus");
    cv_fmp4_audio_track(m, in, CV_CODEC_OPUS, clock, clock / 50); /* 20 ms until a step is known */
    return 0;
}

/* PCMA/PCMU re-encoded as FLAC ('fLaC' sample entry, "flac"; flac.h says why and how). */
static int cv_fmp4_add_g711(struct cv_fmp4 *m, uint32_t in, const struct cv_track_info *ti,
                            char *codecs, size_t cap)
{
    unsigned chans = ti->channels ? ti->channels : 1;
    struct cv_flac *fl;
    int ret = cv_flac_open(&fl, ti->codec, ti->clock_rate, chans);
    if (ret == -ENOMEM)
        return ret;
    if (ret < 0) {
        cv_dbg("%s: track %" PRIu32 ": %s at %" PRIu32 " Hz, %u channels: no FLAC (%s), left out",
               m->name, in, cv_codec_name(ti->codec), ti->clock_rate, chans, strerror(-ret));
        return 0;
    }
    AVStream *st = cv_fmp4_audio_stream(m, AV_CODEC_ID_FLAC, cv_flac_streaminfo(fl),
                                        CV_FLAC_STREAMINFO, ti->clock_rate, chans);
    if (!st) {
        cv_flac_close(fl);
        return -ENOMEM;
    }
    st->codecpar->frame_size = (int)cv_flac_frame_size(fl);
    st->codecpar->bits_per_raw_sample = 16; /* the sample entry's samplesize */
    snprintf(codecs, cap, "flac");
    struct cv_fmp4_track *t =
        cv_fmp4_audio_track(m, in, ti->codec, ti->clock_rate, cv_flac_frame_size(fl));
    t->channels = chans;
    t->flac = fl;
    return 0;
}

/*
 * The audio track: the first of the first codec in this order that can be muxed (a broken AAC
 * config gives way to the next codec rather than leaving the stream silent). AAC and Opus go as
 * they are; G.711 is re-encoded.
 */
static int cv_fmp4_add_audio(struct cv_fmp4 *m, const struct cv_stream_info *info, char *codecs,
                             size_t cap)
{
    static const struct {
        uint8_t codec;
        int (*add)(struct cv_fmp4 *, uint32_t, const struct cv_track_info *, char *, size_t);
    } order[] = {
        {CV_CODEC_AAC, cv_fmp4_add_aac},
        {CV_CODEC_OPUS, cv_fmp4_add_opus},
        {CV_CODEC_PCMA, cv_fmp4_add_g711},
        {CV_CODEC_PCMU, cv_fmp4_add_g711},
    };
    uint32_t before = m->ntracks;
    for (size_t k = 0; k < sizeof(order) / sizeof(order[0]) && m->ntracks == before; k++) {
        uint32_t a = 0;
        while (a < info->track_count &&
               !(info->tracks[a].kind == CV_TRACK_AUDIO && info->tracks[a].codec == order[k].codec))
            a++;
        int ret;
        if (a < info->track_count && (ret = order[k].add(m, a, &info->tracks[a], codecs, cap)) < 0)
            return ret;
    }
    return 0;
}

static int cv_fmp4_start(struct cv_fmp4 *m, const struct cv_stream_info *info)
{
    AVDictionary *opts = NULL;
    int ret = avformat_alloc_output_context2(&m->fc, NULL, "mp4", NULL);
    if (ret < 0 || !m->fc)
        return ret < 0 ? cv_fmp4_averr(ret) : -ENOMEM;
    uint8_t *iobuf = av_malloc(CV_FMP4_IOBUF);
    if (!iobuf)
        return -ENOMEM;
    m->pb = avio_alloc_context(iobuf, CV_FMP4_IOBUF, 1, m, NULL, cv_fmp4_io_write, NULL);
    if (!m->pb) {
        av_free(iobuf);
        return -ENOMEM;
    }
    m->fc->pb = m->pb;
    /* Bit-exact: no encoder string or creation time, so equal parameters give equal init
     * segments. */
    m->fc->flags |= AVFMT_FLAG_CUSTOM_IO | AVFMT_FLAG_BITEXACT;
    m->pkt = av_packet_alloc();
    if (!m->pkt)
        return -ENOMEM;

    /* The first H.264/H.265 video track, then one audio track: one SourceBuffer plays one of
     * each. */
    uint32_t v = 0;
    while (v < info->track_count &&
           !(info->tracks[v].kind == CV_TRACK_VIDEO &&
             (info->tracks[v].codec == CV_CODEC_H264 || info->tracks[v].codec == CV_CODEC_H265)))
        v++;
    if (v == info->track_count)
        return -ENOTSUP;
    char vcodecs[48] = "", acodecs[24] = "";
    if ((ret = cv_fmp4_add_video(m, v, &info->tracks[v], vcodecs, sizeof(vcodecs))) < 0)
        return ret;
    if ((ret = cv_fmp4_add_audio(m, info, acodecs, sizeof(acodecs))) < 0)
        return ret;
    /* FFmpeg 5.1 refuses FLAC in MP4 ("flac in MP4 support is experimental") unless told to be
     * experimental, and older versions said the same of Opus; the boxes it writes are those of
     * the published mappings (dfLa, dOps) that browsers read. */
    if (m->ntracks > 1 && (m->tracks[1].flac || m->tracks[1].codec == CV_CODEC_OPUS))
        m->fc->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL;
    snprintf(m->codecs, sizeof(m->codecs), "%s%s%s", vcodecs, acodecs[0] ? "," : "", acodecs);
    snprintf(m->mime, sizeof(m->mime), "video/mp4; codecs=\"%s\"", m->codecs);

    av_dict_set(&opts, "movflags", "empty_moov+default_base_moof+frag_custom", 0);
    ret = avformat_write_header(m->fc, &opts);
    /* An option left in opts was not taken: a libavformat without one of these flags. */
    if (ret >= 0 && av_dict_count(opts) > 0)
        ret = AVERROR(ENOTSUP);
    av_dict_free(&opts);
    if (ret < 0)
        return cv_fmp4_averr(ret);
    /* ftyp+moov must be all out before the first fragment is cut from the same buffer.
     * libavformat 59.27 flushes after the header (and after each fragment) by itself; these
     * flushes keep that true for a version that leaves it in the AVIOContext's buffer. */
    avio_flush(m->pb);
    if (m->pb->error < 0)
        return cv_fmp4_averr(m->pb->error);
    if (m->out_len == 0)
        return -EPROTO;
    m->init = malloc(m->out_len);
    if (!m->init)
        return -ENOMEM;
    memcpy(m->init, m->out, m->out_len);
    m->init_len = m->out_len;
    m->out_len = 0;

    for (uint32_t i = 0; i < m->ntracks; i++) {
        struct cv_fmp4_track *t = &m->tracks[i];
        AVRational tb = m->fc->streams[i]->time_base;
        if (tb.num != 1 || tb.den <= 0)
            return -EPROTO;
        t->timescale = (uint32_t)tb.den;
        /* FLAC frames are counted in samples: the timescale must be the sample rate. */
        if (t->flac && t->timescale != t->clock)
            return -EPROTO;
        if (t->video) {
            unsigned fps = info->tracks[t->in_track].fps_x100;
            t->def_dur =
                fps >= 100 && fps <= 24000 ? (int64_t)t->timescale * 100 / fps : t->timescale / 25;
        } else {
            t->def_dur = av_rescale(t->def_dur, t->timescale, t->clock);
        }
        /* An AAC config may claim any rate; a sample of more than a second is not one. */
        if (t->def_dur < 1 || t->def_dur > t->timescale)
            t->def_dur = t->def_dur < 1 ? 1 : t->timescale;
    }
    return 0;
}

int cv_fmp4_open(struct cv_fmp4 **out, const struct cv_stream_info *info)
{
    *out = NULL;
    if (!info || info->track_count == 0 || info->track_count > CV_MAX_TRACKS)
        return -EINVAL;
    bool any_video = false;
    for (uint32_t i = 0; i < info->track_count; i++)
        any_video |= info->tracks[i].kind == CV_TRACK_VIDEO;
    if (!any_video)
        return -EINVAL;

    struct cv_fmp4 *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    snprintf(m->name, sizeof(m->name), "fmp4");
    for (int i = 0; i < CV_MAX_TRACKS; i++)
        m->out_of_in[i] = -1;
    int ret = cv_fmp4_start(m, info);
    if (ret < 0)
        goto fail_close;
    *out = m;
    return 0;

fail_close:
    cv_fmp4_close(m);
    return ret;
}

void cv_fmp4_close(struct cv_fmp4 *m)
{
    if (!m)
        return;
    /* No trailer: it would only write an mfra nobody reads. Freeing the context runs the
     * muxer's deinit, which frees what it holds. */
    avformat_free_context(m->fc);
    for (uint32_t i = 0; i < m->ntracks; i++)
        cv_flac_close(m->tracks[i].flac);
    if (m->pb)
        av_freep(&m->pb->buffer);
    avio_context_free(&m->pb);
    av_packet_free(&m->pkt);
    free(m->out);
    free(m->init);
    free(m);
}

void cv_fmp4_set_name(struct cv_fmp4 *m, const char *name)
{
    snprintf(m->name, sizeof(m->name), "%s", name);
}

const uint8_t *cv_fmp4_init(const struct cv_fmp4 *m, size_t *len)
{
    *len = m->init_len;
    return m->init;
}

const char *cv_fmp4_mime(const struct cv_fmp4 *m)
{
    return m->mime;
}

const char *cv_fmp4_codecs(const struct cv_fmp4 *m)
{
    return m->codecs;
}

int cv_fmp4_out_track(const struct cv_fmp4 *m, uint32_t track)
{
    return track < CV_MAX_TRACKS ? m->out_of_in[track] : -1;
}

uint32_t cv_fmp4_track_count(const struct cv_fmp4 *m)
{
    return m->ntracks;
}

uint32_t cv_fmp4_timescale(const struct cv_fmp4 *m, uint32_t out_track)
{
    return out_track < m->ntracks ? m->tracks[out_track].timescale : 0;
}

/* ---- frames -------------------------------------------------------------------------------- */

/* The first anomaly of a kind gets a line; the rest are counted (frames come 25+ a second). */
static void cv_fmp4_note(const struct cv_fmp4 *m, unsigned *count, uint32_t track, const char *what)
{
    if ((*count)++ == 0)
        cv_info("%s: track %" PRIu32 ": %s (the next ones are logged at debug level)", m->name,
                track, what);
    else
        cv_dbg("%s: track %" PRIu32 ": %s (%u so far)", m->name, track, what, *count);
}

static int64_t cv_fmp4_rescale(int64_t v, uint32_t from, uint32_t to)
{
    return from == to ? v : av_rescale(v, to, from);
}

/* This sample's duration: the input's last dts step when it is plausible (see the top). */
static int64_t cv_fmp4_duration(struct cv_fmp4 *m, struct cv_fmp4_track *t, int64_t dts)
{
    int64_t step;
    if (t->have_prev) {
        if (!__builtin_sub_overflow(dts, t->prev_dts, &step) && step > 0 &&
            step <= (int64_t)t->timescale * CV_FMP4_MAX_STEP_S)
            return step;
        cv_fmp4_note(m, &m->steps_replaced, t->in_track,
                     "timestamp went backwards or jumped; the output timeline continues");
    }
    return t->last_dur > 0 ? t->last_dur : t->def_dur;
}

/* Composition offset (pts - dts) in output units; 0 when missing, negative or absurd. */
static int64_t cv_fmp4_cts(const struct cv_frame *fr, const struct cv_fmp4_track *t)
{
    int64_t d;
    if (__builtin_sub_overflow(fr->pts, fr->dts, &d) || d <= 0 ||
        d > (int64_t)t->clock * CV_FMP4_MAX_STEP_S)
        return 0;
    return cv_fmp4_rescale(d, t->clock, t->timescale);
}

static bool cv_fmp4_well_formed(uint8_t codec, const uint8_t *data, size_t len)
{
    size_t off = 0, n;
    const uint8_t *nal;
    /* An ADTS sync word: not a raw access unit (which cannot start with ID_END and ones), and
     * as the first AAC packet libavformat refuses it and is unusable after. */
    if (codec == CV_CODEC_AAC)
        return len < 2 || (data[0] != 0xff || (data[1] & 0xf0) != 0xf0);
    /* Opus goes as it is: the muxer does not read it, and the browser's decoder is the one
     * that must cope with any bytes. */
    if (codec != CV_CODEC_H264 && codec != CV_CODEC_H265)
        return true;
    while (cv_nal_next(data, len, &off, &nal, &n))
        ;
    return off == len;
}

/*
 * What av_write_frame took since out_len was reset (ret: how that went) cut into one fragment,
 * moof+mdat, described in *frag: 1, or the error, then sticky.
 */
static int cv_fmp4_cut(struct cv_fmp4 *m, int out, int ret, bool key, int64_t dur,
                       struct cv_fmp4_frag *frag)
{
    const struct cv_fmp4_track *t = &m->tracks[out];
    const char *why = "muxing failed";
    if (ret >= 0)
        ret = av_write_frame(m->fc, NULL); /* cut the fragment */
    if (ret >= 0) {
        avio_flush(m->pb);
        ret = m->pb->error;
    }
    size_t tfdt_off = 0;
    if (ret >= 0 && cv_fmp4_find_tfdt(m->out, m->out_len, (uint32_t)out + 1, &tfdt_off) < 0) {
        why = "the muxer wrote no fragment with a 64-bit tfdt";
        ret = AVERROR(EPROTO);
    }
    if (ret < 0) {
        m->err = cv_fmp4_averr(ret);
        cv_err("%s: track %" PRIu32 ": %s (%s)", m->name, t->in_track, why, strerror(-m->err));
        return m->err;
    }
    *frag = (struct cv_fmp4_frag){
        .data = m->out,
        .len = m->out_len,
        .key = key,
        .out_track = (uint32_t)out,
        .timescale = t->timescale,
        .decode_time = cv_fmp4_be64(m->out + tfdt_off),
        .duration = (uint64_t)dur,
        .tfdt_off = tfdt_off,
    };
    return 1;
}

/* The transcoder's FLAC frames, each a sample of the fragment being made, back to back. */
struct cv_fmp4_flac_out {
    struct cv_fmp4 *m;
    int out;
};

static int cv_fmp4_flac_packet(void *ctx, AVPacket *pkt)
{
    struct cv_fmp4_flac_out *o = ctx;
    struct cv_fmp4_track *t = &o->m->tracks[o->out];
    pkt->stream_index = o->out;
    pkt->dts = pkt->pts = t->next_dts;
    pkt->duration = cv_flac_frame_size(t->flac);
    pkt->flags = AV_PKT_FLAG_KEY; /* every FLAC frame is a sync sample */
    pkt->pos = -1;
    int ret = av_write_frame(o->m->fc, pkt);
    if (ret < 0)
        return ret;
    t->last_dur = pkt->duration;
    t->next_dts += pkt->duration;
    return 0;
}

/*
 * A G.711 packet: its samples are decoded and pushed to the FLAC encoder, and the frames they
 * complete (none, one, or a few when packets are larger than a frame) make one fragment. The
 * output timeline counts samples, so it is continuous by construction. A hole in the input
 * timestamps up to CV_FMP4_MAX_FILL_S (packets lost) is filled with silence so that the audio
 * stays in step with the video, whose timeline keeps such holes; anything else (a step back, a
 * jump, the first packet after a discontinuity) is not filled.
 */
static int cv_fmp4_write_g711(struct cv_fmp4 *m, int out, const struct cv_frame *fr,
                              const uint8_t *data, struct cv_fmp4_frag *frag)
{
    struct cv_fmp4_track *t = &m->tracks[out];
    size_t samples = fr->len / t->channels;
    int64_t gap = 0, end;
    if (t->have_prev && (__builtin_sub_overflow(fr->pts, t->prev_dts, &gap) || gap < 0 ||
                         gap > (int64_t)t->clock * CV_FMP4_MAX_FILL_S)) {
        cv_fmp4_note(m, &m->steps_replaced, t->in_track,
                     "timestamp went backwards or jumped; the output timeline continues");
        gap = 0;
    }
    /* Measured between packets, written or not, as for the other tracks. */
    t->have_prev = !__builtin_add_overflow(fr->pts, (int64_t)samples, &end);
    t->prev_dts = end;
    if (!m->tracks[0].live || samples == 0)
        return 0;
    if (samples > t->clock) { /* over a second: not one RTP packet */
        cv_fmp4_note(m, &m->frames_malformed, t->in_track, "malformed frame dropped");
        return 0;
    }
    if (gap > 0)
        cv_fmp4_note(m, &m->gaps_filled, t->in_track,
                     "audio lost; the hole is filled with silence");
    if (t->next_dts > INT64_MAX / 4) {
        m->err = -EOVERFLOW;
        return m->err;
    }
    m->out_len = 0;
    int64_t first = t->next_dts;
    struct cv_fmp4_flac_out o = {m, out};
    int n = cv_flac_push(t->flac, data, samples, (size_t)gap, cv_fmp4_flac_packet, &o);
    if (n <= 0) {
        if (n < 0) {
            m->err = cv_fmp4_averr(n);
            cv_err("%s: track %" PRIu32 ": FLAC encoding or muxing failed (%s)", m->name,
                   t->in_track, strerror(-m->err));
        }
        return n;
    }
    return cv_fmp4_cut(m, out, 0, false, t->next_dts - first, frag);
}

int cv_fmp4_write(struct cv_fmp4 *m, const struct cv_frame *fr, const uint8_t *data,
                  struct cv_fmp4_frag *frag)
{
    if (m->err)
        return m->err;
    int out = cv_fmp4_out_track(m, fr->track);
    if (out < 0 || fr->len == 0 || fr->len > INT_MAX)
        return 0;
    struct cv_fmp4_track *t = &m->tracks[out];
    if (t->flac)
        return cv_fmp4_write_g711(m, out, fr, data, frag);
    bool key = t->video && (fr->flags & CV_FRAME_KEY);
    /* Steps are measured between input frames, written or not: a keyframe after dropped frames
     * gets a frame interval, not the time spent waiting for it. */
    int64_t dts = cv_fmp4_rescale(fr->dts, t->clock, t->timescale);
    int64_t dur = cv_fmp4_duration(m, t, dts);
    t->prev_dts = dts;
    t->have_prev = true;
    /* Video starts at a keyframe; audio waits for the video so the two start together. */
    if (t->video ? !t->live && !key : !m->tracks[0].live)
        return 0;
    if (!cv_fmp4_well_formed(t->codec, data, fr->len)) {
        cv_fmp4_note(m, &m->frames_malformed, t->in_track,
                     t->video ? "malformed frame dropped; waiting for a keyframe"
                              : "malformed frame dropped");
        if (t->video)
            t->live = false;
        return 0;
    }
    if (t->next_dts > INT64_MAX / 4) {
        m->err = -EOVERFLOW;
        return m->err;
    }

    AVPacket *pkt = m->pkt;
    pkt->data = (uint8_t *)data; /* read only: av_write_frame copies it into its fragment */
    pkt->size = (int)fr->len;
    pkt->stream_index = out;
    pkt->dts = t->next_dts;
    pkt->pts = t->next_dts + cv_fmp4_cts(fr, t);
    pkt->duration = dur;
    pkt->flags = key || !t->video ? AV_PKT_FLAG_KEY : 0; /* every audio frame is a sync sample */
    pkt->pos = -1;
    m->out_len = 0;
    int ret = av_write_frame(m->fc, pkt);
    pkt->data = NULL;
    pkt->size = 0;
    if ((ret = cv_fmp4_cut(m, out, ret, key, dur, frag)) < 0)
        return ret;
    t->live = true;
    t->last_dur = dur;
    t->next_dts += dur;
    return 1;
}

void cv_fmp4_discontinuity(struct cv_fmp4 *m)
{
    /* next_dts is kept: that is what continues the timeline. A step across the gap means
     * nothing, and video needs a keyframe to be decodable again. */
    for (uint32_t i = 0; i < m->ntracks; i++) {
        m->tracks[i].have_prev = false;
        if (m->tracks[i].video)
            m->tracks[i].live = false;
    }
}

void cv_fmp4_set_decode_time(uint8_t *frag_copy, size_t tfdt_off, uint64_t decode_time)
{
    for (int i = 0; i < 8; i++)
        frag_copy[tfdt_off + (size_t)i] = (uint8_t)(decode_time >> (56 - 8 * i));
}
