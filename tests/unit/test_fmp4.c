/*
 * Fragmented MP4 (common/mux/fmp4.c) against real streams: frames are encoded here with
 * libx264, libx265, FFmpeg's AAC and G.711 encoders and libopus, converted to the ring's layout,
 * muxed (G.711 re-encoded as FLAC by common/mux/flac.c), and the init segment plus fragments
 * are demuxed and decoded back with libavformat/libavcodec. What is checked is what a player
 * sees: tracks, sizes, codecs strings, one packet per frame with the same bytes (FLAC: the same
 * samples), keyframes, a timeline that stays continuous across a worker restart (input time back
 * to 0) and hostile timestamps, tfdt where the fragment says it is, and hostile parameter sets
 * refused.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#include "common/base/log.h"
#include "common/media/nal.h"
#include "common/ring/ring-types.h"
#include "common/mux/fmp4.h"

#define W 160
#define H 120

/* ---- encoding ------------------------------------------------------------------------------ */

struct frame {
    uint8_t *data; /* ring layout: length-prefixed NAL units, one raw AAC access unit, ... */
    size_t len;
    int16_t *pcm;     /* G.711: the samples libavcodec's decoder makes of data (len of them) */
    int64_t pts, dts; /* in the track's clock */
    bool key;
};

struct stream {
    uint8_t extra[CV_MAX_EXTRADATA]; /* ring layout */
    size_t extra_len;
    struct frame f[128];
    int n;
};

static void stream_free(struct stream *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->f[i].data);
        free(s->f[i].pcm);
    }
    free(s);
}

static void add_packet(struct stream *s, const AVPacket *pkt, bool video, int64_t scale)
{
    assert_true(s->n < 128);
    struct frame *f = &s->f[s->n++];
    f->data = malloc((size_t)pkt->size + 64);
    assert_non_null(f->data);
    if (video) {
        int n = cv_nal_annexb_to_lp(pkt->data, (size_t)pkt->size, f->data, (size_t)pkt->size + 64);
        assert_true(n > 0);
        f->len = (size_t)n;
    } else {
        memcpy(f->data, pkt->data, (size_t)pkt->size);
        f->len = (size_t)pkt->size;
    }
    f->pts = pkt->pts * scale;
    f->dts = pkt->dts * scale;
    f->key = pkt->flags & AV_PKT_FLAG_KEY;
}

/* nframes pictures of W x H at 25 fps, timestamps in 90 kHz; opts are the encoder's options. */
static struct stream *encode_video(const char *encoder, int nframes, int bframes,
                                   const char *const *opts)
{
    const AVCodec *codec = avcodec_find_encoder_by_name(encoder);
    if (!codec)
        return NULL;
    struct stream *s = calloc(1, sizeof(*s));
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    assert_true(s && c && fr && pkt);
    c->width = W;
    c->height = H;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = (AVRational){1, 25};
    c->framerate = (AVRational){25, 1};
    c->gop_size = 10;
    c->max_b_frames = bframes;
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    for (int i = 0; opts && opts[i]; i += 2)
        assert_int_equal(av_opt_set(c->priv_data, opts[i], opts[i + 1], 0), 0);
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);

    uint8_t lp[65536]; /* x265 puts a long SEI next to its parameter sets */
    int n = cv_nal_annexb_to_lp(c->extradata, (size_t)c->extradata_size, lp, sizeof(lp));
    assert_true(n > 0);
    n = cv_nal_params(codec->id == AV_CODEC_ID_HEVC ? CV_CODEC_H265 : CV_CODEC_H264, lp, (size_t)n,
                      s->extra, sizeof(s->extra));
    assert_true(n > 0);
    s->extra_len = (size_t)n;

    fr->format = c->pix_fmt;
    fr->width = W;
    fr->height = H;
    assert_int_equal(av_frame_get_buffer(fr, 0), 0);
    for (int i = 0; i <= nframes; i++) {
        AVFrame *in = NULL;
        if (i < nframes) {
            assert_int_equal(av_frame_make_writable(fr), 0);
            /* A moving pattern, so predicted frames have something to predict. */
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    fr->data[0][y * fr->linesize[0] + x] = (uint8_t)(x * 2 + y + i * 5);
            for (int y = 0; y < H / 2; y++)
                for (int x = 0; x < W / 2; x++) {
                    fr->data[1][y * fr->linesize[1] + x] = (uint8_t)(128 + x - i);
                    fr->data[2][y * fr->linesize[2] + x] = (uint8_t)(64 + y + i);
                }
            fr->pts = i;
            in = fr;
        }
        assert_int_equal(avcodec_send_frame(c, in), 0);
        while (avcodec_receive_packet(c, pkt) == 0) {
            add_packet(s, pkt, true, 3600);
            av_packet_unref(pkt);
        }
    }
    assert_int_equal(s->n, nframes);
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&c);
    return s;
}

/* nframes AAC-LC frames of 1024 samples, 48 kHz mono; extradata is the AudioSpecificConfig. */
static struct stream *encode_aac(int nframes)
{
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    assert_non_null(codec);
    struct stream *s = calloc(1, sizeof(*s));
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    assert_true(s && c && fr && pkt);
    c->sample_rate = 48000;
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_default(&c->ch_layout, 1);
    c->time_base = (AVRational){1, 48000};
    c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    assert_true(c->extradata_size >= 2);
    memcpy(s->extra, c->extradata, (size_t)c->extradata_size);
    s->extra_len = (size_t)c->extradata_size;

    fr->format = c->sample_fmt;
    fr->nb_samples = c->frame_size;
    fr->sample_rate = 48000;
    av_channel_layout_copy(&fr->ch_layout, &c->ch_layout);
    assert_int_equal(av_frame_get_buffer(fr, 0), 0);
    for (int i = 0; s->n < nframes; i++) {
        assert_true(i < nframes + 8);
        assert_int_equal(av_frame_make_writable(fr), 0);
        float *p = (float *)fr->data[0];
        for (int k = 0; k < fr->nb_samples; k++)
            p[k] = (float)((k * 7 + i * 13) % 200 - 100) / 400.0f;
        fr->pts = (int64_t)i * c->frame_size;
        assert_int_equal(avcodec_send_frame(c, fr), 0);
        while (s->n < nframes && avcodec_receive_packet(c, pkt) == 0) {
            add_packet(s, pkt, false, 1);
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&c);
    return s;
}

/* A 440 Hz sine at 8 kHz mono, `samples` per packet, encoded by libavcodec's pcm_alaw or pcm_mulaw
 * encoder; each packet is decoded back by the matching decoder into pcm (the reference). */
static struct stream *encode_g711(enum AVCodecID id, int npackets, int samples)
{
    const AVCodec *codec = avcodec_find_encoder(id);
    const AVCodec *dcodec = avcodec_find_decoder(id);
    assert_true(codec && dcodec);
    struct stream *s = calloc(1, sizeof(*s));
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVCodecContext *dc = avcodec_alloc_context3(dcodec);
    AVFrame *fr = av_frame_alloc(), *out = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    assert_true(s && c && dc && fr && out && pkt);
    c->sample_rate = dc->sample_rate = 8000;
    c->sample_fmt = AV_SAMPLE_FMT_S16;
    c->time_base = (AVRational){1, 8000};
    av_channel_layout_default(&c->ch_layout, 1);
    av_channel_layout_default(&dc->ch_layout, 1);
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    assert_int_equal(avcodec_open2(dc, dcodec, NULL), 0);
    fr->format = AV_SAMPLE_FMT_S16;
    fr->nb_samples = samples;
    fr->sample_rate = 8000;
    av_channel_layout_copy(&fr->ch_layout, &c->ch_layout);
    assert_int_equal(av_frame_get_buffer(fr, 0), 0);
    for (int i = 0; i < npackets; i++) {
        assert_int_equal(av_frame_make_writable(fr), 0);
        int16_t *p = (int16_t *)fr->data[0];
        for (int k = 0; k < samples; k++)
            p[k] = (int16_t)(8000.0 * sin(2 * M_PI * 440 * (i * samples + k) / 8000.0));
        fr->pts = (int64_t)i * samples;
        assert_int_equal(avcodec_send_frame(c, fr), 0);
        assert_int_equal(avcodec_receive_packet(c, pkt), 0);
        assert_int_equal(pkt->size, samples);
        if (i == 2 || i == 3) { /* every one of the 256 codes, decoded by both */
            assert_int_equal(av_packet_make_writable(pkt), 0);
            for (int k = 0; k < samples; k++)
                pkt->data[k] = (uint8_t)((i - 2) * samples + k);
        }
        add_packet(s, pkt, false, 1);
        struct frame *f = &s->f[s->n - 1];
        f->key = false; /* the ring marks no audio frame a keyframe */
        assert_int_equal(avcodec_send_packet(dc, pkt), 0);
        assert_int_equal(avcodec_receive_frame(dc, out), 0);
        assert_int_equal(out->nb_samples, samples);
        f->pcm = malloc(sizeof(int16_t) * (size_t)samples);
        assert_non_null(f->pcm);
        memcpy(f->pcm, out->data[0], sizeof(int16_t) * (size_t)samples);
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    av_frame_free(&fr);
    av_frame_free(&out);
    avcodec_free_context(&c);
    avcodec_free_context(&dc);
    return s;
}

/* 20 ms Opus packets from libopus at 48 kHz, `channels` channels; NULL without libopus. */
static struct stream *encode_opus(int npackets, int channels)
{
    const AVCodec *codec = avcodec_find_encoder_by_name("libopus");
    if (!codec)
        return NULL;
    struct stream *s = calloc(1, sizeof(*s));
    AVCodecContext *c = avcodec_alloc_context3(codec);
    AVFrame *fr = av_frame_alloc();
    AVPacket *pkt = av_packet_alloc();
    assert_true(s && c && fr && pkt);
    c->sample_rate = 48000;
    c->sample_fmt = AV_SAMPLE_FMT_S16;
    c->bit_rate = 32000;
    c->time_base = (AVRational){1, 48000};
    av_channel_layout_default(&c->ch_layout, channels);
    assert_int_equal(avcodec_open2(c, codec, NULL), 0);
    assert_int_equal(c->frame_size, 960);
    fr->format = AV_SAMPLE_FMT_S16;
    fr->nb_samples = 960;
    fr->sample_rate = 48000;
    av_channel_layout_copy(&fr->ch_layout, &c->ch_layout);
    assert_int_equal(av_frame_get_buffer(fr, 0), 0);
    for (int i = 0; s->n < npackets; i++) {
        assert_true(i < npackets + 8);
        assert_int_equal(av_frame_make_writable(fr), 0);
        int16_t *p = (int16_t *)fr->data[0];
        for (int k = 0; k < 960 * channels; k++)
            p[k] = (int16_t)(6000.0 * sin(2 * M_PI * 330 * (i * 960 + k / channels) / 48000.0));
        fr->pts = (int64_t)i * 960;
        assert_int_equal(avcodec_send_frame(c, fr), 0);
        while (s->n < npackets && avcodec_receive_packet(c, pkt) == 0) {
            add_packet(s, pkt, false, 1);
            s->f[s->n - 1].key = false;
            av_packet_unref(pkt);
        }
    }
    av_packet_free(&pkt);
    av_frame_free(&fr);
    avcodec_free_context(&c);
    return s;
}

/* ---- muxing into one buffer ---------------------------------------------------------------- */

struct buf {
    uint8_t *p;
    size_t len;
};

static void buf_add(struct buf *b, const uint8_t *p, size_t n)
{
    b->p = realloc(b->p, b->len + n);
    assert_non_null(b->p);
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void video_info(struct cv_stream_info *info, enum cv_codec codec, const struct stream *s)
{
    memset(info, 0, sizeof(*info));
    info->track_count = 1;
    struct cv_track_info *t = &info->tracks[0];
    t->kind = CV_TRACK_VIDEO;
    t->codec = codec;
    t->clock_rate = 90000;
    t->fps_x100 = 2500;
    /* width/height left 0: they must come from the SPS */
    memcpy(t->extradata, s->extra, s->extra_len);
    t->extradata_len = (uint16_t)s->extra_len;
}

static struct fmp4_out {
    struct cv_fmp4_frag frag[256];
    int n;
} fo;

/* Feeds one frame; a fragment is appended to b, checked against its own tfdt, and kept. */
static int feed(struct cv_fmp4 *m, uint32_t track, const struct frame *f, int64_t shift,
                struct buf *b)
{
    struct cv_frame fr = {.len = (uint32_t)f->len,
                          .flags = f->key ? CV_FRAME_KEY : 0,
                          .track = track,
                          .pts = f->pts + shift,
                          .dts = f->dts + shift};
    struct cv_fmp4_frag frag;
    int r = cv_fmp4_write(m, &fr, f->data, &frag);
    assert_true(r == 0 || r == 1);
    if (r == 1) {
        assert_true(frag.tfdt_off >= 12 && frag.tfdt_off + 8 <= frag.len);
        assert_memory_equal(frag.data + frag.tfdt_off - 8, "tfdt", 4);
        assert_int_equal(frag.data[frag.tfdt_off - 4], 1); /* version 1: 64-bit */
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | frag.data[frag.tfdt_off + (size_t)i];
        assert_int_equal(v, frag.decode_time);
        assert_int_equal(frag.timescale, cv_fmp4_timescale(m, frag.out_track));
        if (b)
            buf_add(b, frag.data, frag.len);
        assert_true(fo.n < 256);
        fo.frag[fo.n++] = frag;
        fo.frag[fo.n - 1].data = NULL; /* valid only until the next write */
    }
    return r;
}

/* ---- demuxing and decoding back ------------------------------------------------------------ */

struct mem_reader {
    const uint8_t *p;
    size_t len, pos;
};

static int mem_read(void *opaque, uint8_t *buf, int n)
{
    struct mem_reader *r = opaque;
    size_t left = r->len - r->pos;
    if (left == 0)
        return AVERROR_EOF;
    size_t k = (size_t)n < left ? (size_t)n : left;
    memcpy(buf, r->p + r->pos, k);
    r->pos += k;
    return (int)k;
}

static int64_t mem_seek(void *opaque, int64_t off, int whence)
{
    struct mem_reader *r = opaque;
    if (whence & AVSEEK_SIZE)
        return (int64_t)r->len;
    whence &= ~AVSEEK_FORCE;
    int64_t base = whence == SEEK_CUR ? (int64_t)r->pos : whence == SEEK_END ? (int64_t)r->len : 0;
    if (base + off < 0 || base + off > (int64_t)r->len)
        return -1;
    r->pos = (size_t)(base + off);
    return (int64_t)r->pos;
}

struct pkt_rec {
    int stream;
    int64_t pts, dts, dur;
    bool key;
    uint8_t *data;
    int size;
};

struct demuxed {
    int nb_streams;
    enum AVCodecID codec[2];
    uint32_t tag[2];
    int width, height, sample_rate, channels;
    AVRational tb[2];
    int profile, level; /* of stream 0, from its decoder */
    int npkt;
    struct pkt_rec pkt[256];
    int decoded[2];       /* frames out of the decoders */
    int decode_errors[2]; /* packets a decoder refused */
    int16_t *pcm;         /* the audio decoder's samples when they are s16 (FLAC), interleaved */
    size_t pcm_n;         /* samples (per channel) */
};

static void demuxed_free(struct demuxed *d)
{
    for (int i = 0; i < d->npkt; i++)
        free(d->pkt[i].data);
    free(d->pcm);
    free(d);
}

static void drain(AVCodecContext *dec, AVFrame *f, int *count, struct demuxed *d)
{
    while (avcodec_receive_frame(dec, f) == 0) {
        (*count)++;
        int ch = f->ch_layout.nb_channels;
        if (dec->codec_type != AVMEDIA_TYPE_AUDIO || f->format != AV_SAMPLE_FMT_S16)
            continue;
        d->pcm = realloc(d->pcm, sizeof(int16_t) * (d->pcm_n + (size_t)f->nb_samples) * (size_t)ch);
        assert_non_null(d->pcm);
        memcpy(d->pcm + d->pcm_n * (size_t)ch, f->data[0],
               sizeof(int16_t) * (size_t)f->nb_samples * (size_t)ch);
        d->pcm_n += (size_t)f->nb_samples;
    }
}

/* Demuxes buf with libavformat's mp4 reader and decodes every packet of every stream. */
static struct demuxed *demux(const struct buf *b)
{
    struct demuxed *d = calloc(1, sizeof(*d));
    struct mem_reader r = {b->p, b->len, 0};
    uint8_t *iobuf = av_malloc(4096);
    AVIOContext *pb = avio_alloc_context(iobuf, 4096, 0, &r, mem_read, NULL, mem_seek);
    AVFormatContext *ic = avformat_alloc_context();
    assert_true(d && iobuf && pb && ic);
    ic->pb = pb;
    assert_int_equal(avformat_open_input(&ic, NULL, av_find_input_format("mp4"), NULL), 0);
    d->nb_streams = (int)ic->nb_streams;
    assert_true(d->nb_streams >= 1 && d->nb_streams <= 2);
    AVCodecContext *dec[2] = {NULL, NULL};
    AVFrame *f = av_frame_alloc();
    for (int i = 0; i < d->nb_streams; i++) {
        AVCodecParameters *par = ic->streams[i]->codecpar;
        d->codec[i] = par->codec_id;
        d->tag[i] = par->codec_tag;
        d->tb[i] = ic->streams[i]->time_base;
        if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
            d->width = par->width;
            d->height = par->height;
        } else {
            d->sample_rate = par->sample_rate;
            d->channels = par->ch_layout.nb_channels;
        }
        dec[i] = avcodec_alloc_context3(avcodec_find_decoder(par->codec_id));
        assert_non_null(dec[i]);
        assert_int_equal(avcodec_parameters_to_context(dec[i], par), 0);
        assert_int_equal(avcodec_open2(dec[i], NULL, NULL), 0);
    }
    AVPacket *pkt = av_packet_alloc();
    while (av_read_frame(ic, pkt) >= 0) {
        assert_true(d->npkt < 256);
        struct pkt_rec *p = &d->pkt[d->npkt++];
        p->stream = pkt->stream_index;
        p->pts = pkt->pts;
        p->dts = pkt->dts;
        p->dur = pkt->duration;
        p->key = pkt->flags & AV_PKT_FLAG_KEY;
        p->size = pkt->size;
        p->data = malloc((size_t)pkt->size);
        memcpy(p->data, pkt->data, (size_t)pkt->size);
        int s = pkt->stream_index;
        if (avcodec_send_packet(dec[s], pkt) < 0)
            d->decode_errors[s]++;
        drain(dec[s], f, &d->decoded[s], d);
        av_packet_unref(pkt);
    }
    for (int i = 0; i < d->nb_streams; i++) {
        avcodec_send_packet(dec[i], NULL);
        drain(dec[i], f, &d->decoded[i], d);
    }
    d->profile = dec[0]->profile;
    d->level = dec[0]->level;
    for (int i = 0; i < d->nb_streams; i++)
        avcodec_free_context(&dec[i]);
    av_frame_free(&f);
    av_packet_free(&pkt);
    avformat_close_input(&ic);
    av_freep(&pb->buffer);
    avio_context_free(&pb);
    return d;
}

static struct cv_fmp4 *open_muxer(const struct cv_stream_info *info, struct buf *b)
{
    struct cv_fmp4 *m = NULL;
    assert_int_equal(cv_fmp4_open(&m, info), 0);
    cv_fmp4_set_name(m, "test/main");
    size_t n;
    const uint8_t *init = cv_fmp4_init(m, &n);
    assert_true(n > 0 && memcmp(init + 4, "ftyp", 4) == 0);
    buf_add(b, init, n);
    fo.n = 0;
    return m;
}

/* ---- tests --------------------------------------------------------------------------------- */

/* 20 frames, a restart of the worker (time back to 0), the same 20 again: 40 packets on one
 * continuous, strictly increasing timeline, each with the bytes fed, all decodable. */
static void test_h264_restart(void **state)
{
    (void)state;
    struct stream *s = encode_video(
        "libx264", 20, 0,
        (const char *const[]){"preset", "veryfast", "profile", "high", "level", "3.1", NULL});
    assert_non_null(s);
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, s);
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.64001F");
    assert_string_equal(cv_fmp4_mime(m), "video/mp4; codecs=\"avc1.64001F\"");
    assert_int_equal(cv_fmp4_track_count(m), 1);
    assert_int_equal(cv_fmp4_out_track(m, 0), 0);
    assert_int_equal(cv_fmp4_out_track(m, 1), -1);
    assert_int_equal(cv_fmp4_timescale(m, 0), 90000);

    /* Before the first keyframe: nothing. */
    assert_false(s->f[1].key);
    assert_int_equal(feed(m, 0, &s->f[1], 0, &b), 0);
    for (int run = 0; run < 2; run++) {
        for (int i = 0; i < s->n; i++)
            assert_int_equal(feed(m, 0, &s->f[i], 0, &b), 1);
        cv_fmp4_discontinuity(m);
    }
    /* After a discontinuity video waits for a keyframe again. */
    assert_int_equal(feed(m, 0, &s->f[1], 0, &b), 0);
    assert_int_equal(fo.n, 40);
    for (int i = 0; i < fo.n; i++) {
        assert_int_equal(fo.frag[i].duration, 3600);
        assert_int_equal(fo.frag[i].decode_time, (uint64_t)i * 3600);
        assert_int_equal(fo.frag[i].key, s->f[i % 20].key);
    }

    struct demuxed *d = demux(&b);
    assert_int_equal(d->nb_streams, 1);
    assert_int_equal(d->codec[0], AV_CODEC_ID_H264);
    assert_int_equal(d->width, W);
    assert_int_equal(d->height, H);
    assert_int_equal(d->tb[0].den, 90000);
    assert_int_equal(d->npkt, 40);
    for (int i = 0; i < d->npkt; i++) {
        const struct frame *f = &s->f[i % 20];
        assert_int_equal(d->pkt[i].dts, (int64_t)fo.frag[i].decode_time);
        assert_int_equal(d->pkt[i].dur, 3600);
        if (i > 0)
            assert_true(d->pkt[i].dts > d->pkt[i - 1].dts);
        assert_int_equal(d->pkt[i].key, f->key);
        assert_int_equal(d->pkt[i].size, (int)f->len);
        assert_memory_equal(d->pkt[i].data, f->data, f->len);
    }
    assert_true(d->pkt[0].key && d->pkt[10].key && d->pkt[20].key && !d->pkt[21].key);
    assert_int_equal(d->decode_errors[0], 0);
    assert_int_equal(d->decoded[0], 40);
    assert_int_equal(d->profile, FF_PROFILE_H264_HIGH);
    assert_int_equal(d->level, 31);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(s);
}

/* B-frames: the composition offsets of the input (pts - dts) survive, and so does the order. */
static void test_h264_bframes(void **state)
{
    (void)state;
    struct stream *s =
        encode_video("libx264", 30, 2, (const char *const[]){"preset", "ultrafast", NULL});
    assert_non_null(s);
    bool reordered = false;
    for (int i = 0; i < s->n; i++)
        reordered |= s->f[i].pts != s->f[i].dts + s->f[0].pts - s->f[0].dts;
    assert_true(reordered);
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, s);
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.4D400B"); /* B-frames: Main profile */
    for (int i = 0; i < s->n; i++)
        assert_int_equal(feed(m, 0, &s->f[i], 0, &b), 1);
    struct demuxed *d = demux(&b);
    assert_int_equal(d->npkt, 30);
    for (int i = 0; i < d->npkt; i++) {
        assert_int_equal(d->pkt[i].pts - d->pkt[i].dts, s->f[i].pts - s->f[i].dts);
        assert_int_equal(d->pkt[i].dts, (int64_t)i * 3600);
    }
    assert_int_equal(d->decode_errors[0], 0);
    assert_int_equal(d->decoded[0], 30);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(s);
}

static void test_h265(void **state)
{
    (void)state;
    struct stream *s =
        encode_video("libx265", 12, 2,
                     (const char *const[]){
                         "preset", "ultrafast", "x265-params",
                         "log-level=error:open-gop=0:keyint=10:min-keyint=10:scenecut=0", NULL});
    if (!s)
        skip();
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H265, s);
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    for (int i = 0; i < s->n; i++)
        assert_int_equal(feed(m, 0, &s->f[i], 0, &b), 1);
    struct demuxed *d = demux(&b);
    assert_int_equal(d->codec[0], AV_CODEC_ID_HEVC);
    assert_int_equal(d->tag[0], MKTAG('h', 'v', 'c', '1'));
    assert_int_equal(d->width, W);
    assert_int_equal(d->height, H);
    assert_int_equal(d->npkt, 12);
    for (int i = 0; i < d->npkt; i++)
        assert_int_equal(d->pkt[i].pts - d->pkt[i].dts, s->f[i].pts - s->f[i].dts);
    assert_int_equal(d->decode_errors[0], 0);
    assert_int_equal(d->decoded[0], 12);
    /* Main profile: compatibility flags 1 and 2 (reversed: 0x6); progressive, frame only. */
    char want[64];
    snprintf(want, sizeof(want), "hvc1.1.6.L%d.90", d->level);
    assert_int_equal(d->profile, FF_PROFILE_HEVC_MAIN);
    assert_string_equal(cv_fmp4_codecs(m), want);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(s);
}

/* Video plus AAC; a G.711 track next to them is left out (AAC comes first). Audio before the
 * first video keyframe is dropped, so the two tracks start together. */
static void test_audio(void **state)
{
    (void)state;
    struct stream *v =
        encode_video("libx264", 10, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct stream *a = encode_aac(24);
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, v);
    info.track_count = 3;
    struct cv_track_info *pcma = &info.tracks[1], *aac = &info.tracks[2];
    pcma->kind = aac->kind = CV_TRACK_AUDIO;
    pcma->codec = CV_CODEC_PCMA;
    pcma->clock_rate = 8000;
    aac->codec = CV_CODEC_AAC;
    aac->clock_rate = 48000;
    aac->channels = 1;
    memcpy(aac->extradata, a->extra, a->extra_len);
    aac->extradata_len = (uint16_t)a->extra_len;

    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.42C00B,mp4a.40.2");
    assert_int_equal(cv_fmp4_track_count(m), 2);
    assert_int_equal(cv_fmp4_out_track(m, 1), -1);
    assert_int_equal(cv_fmp4_out_track(m, 2), 1);
    assert_int_equal(cv_fmp4_timescale(m, 1), 48000);

    /* The audio's 90 kHz-equivalent time lines up with the video's: interleave by time. The
     * first audio frame comes before the video. */
    struct frame pcm = {.data = (uint8_t[]){0xd5, 0xd5}, .len = 2};
    assert_int_equal(feed(m, 1, &pcm, 0, &b), 0);
    assert_int_equal(feed(m, 2, &a->f[0], 0, &b), 0);
    int ai = 1, written_audio = 0;
    for (int i = 0; i < v->n; i++) {
        assert_int_equal(feed(m, 0, &v->f[i], 0, &b), 1);
        if (i == 0) {
            /* ADTS where a raw frame belongs: dropped (libavformat would refuse it as the first
             * AAC packet, and be unusable after). */
            struct frame adts = {.data =
                                     (uint8_t[]){0xff, 0xf1, 0x4c, 0x80, 0x01, 0x7f, 0xfc, 0x21},
                                 .len = 8,
                                 .dts = a->f[0].dts};
            assert_int_equal(feed(m, 2, &adts, 0, &b), 0);
        }
        while (ai < a->n && a->f[ai].dts * 90000 / 48000 < v->f[i].dts + 3600) {
            assert_int_equal(feed(m, 2, &a->f[ai++], 0, &b), 1);
            written_audio++;
        }
    }
    int64_t next_audio = 0;
    for (int i = 0; i < fo.n; i++)
        if (fo.frag[i].out_track == 1) {
            assert_false(fo.frag[i].key);
            assert_int_equal(fo.frag[i].timescale, 48000);
            assert_int_equal(fo.frag[i].decode_time, next_audio);
            assert_int_equal(fo.frag[i].duration, 1024);
            next_audio += 1024;
        }

    struct demuxed *d = demux(&b);
    assert_int_equal(d->nb_streams, 2);
    assert_int_equal(d->codec[1], AV_CODEC_ID_AAC);
    assert_int_equal(d->sample_rate, 48000);
    assert_int_equal(d->tb[1].den, 48000);
    int na = 0;
    for (int i = 0; i < d->npkt; i++)
        if (d->pkt[i].stream == 1) {
            assert_int_equal(d->pkt[i].dts, (int64_t)na * 1024);
            assert_true(d->pkt[i].key);
            na++;
        }
    assert_int_equal(na, written_audio);
    assert_int_equal(d->npkt - na, 10);
    assert_int_equal(d->decode_errors[1], 0);
    assert_int_equal(d->decoded[1], na);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(v);
    stream_free(a);
}

/* A viewer joining at the second keyframe gets copies rebased to 0 through tfdt_off. */
static void test_rebase(void **state)
{
    (void)state;
    struct stream *s =
        encode_video("libx264", 20, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, s);
    struct buf all = {NULL, 0}, late = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &all);
    size_t n;
    const uint8_t *init = cv_fmp4_init(m, &n);
    buf_add(&late, init, n);
    uint64_t base = 0;
    for (int i = 0; i < s->n; i++) {
        struct cv_frame fr = {.len = (uint32_t)s->f[i].len,
                              .flags = s->f[i].key ? CV_FRAME_KEY : 0,
                              .pts = s->f[i].pts,
                              .dts = s->f[i].dts};
        struct cv_fmp4_frag frag;
        assert_int_equal(cv_fmp4_write(m, &fr, s->f[i].data, &frag), 1);
        if (i < 10)
            continue;
        if (i == 10) {
            assert_true(frag.key);
            base = frag.decode_time;
        }
        uint8_t *copy = malloc(frag.len);
        memcpy(copy, frag.data, frag.len);
        cv_fmp4_set_decode_time(copy, frag.tfdt_off, frag.decode_time - base);
        buf_add(&late, copy, frag.len);
        free(copy);
    }
    assert_int_equal(base, 36000);
    struct demuxed *d = demux(&late);
    assert_int_equal(d->npkt, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(d->pkt[i].dts, (int64_t)i * 3600);
    assert_true(d->pkt[0].key);
    assert_int_equal(d->decoded[0], 10);
    demuxed_free(d);

    uint8_t b8[10] = {0};
    cv_fmp4_set_decode_time(b8, 1, 0x0102030405060708ull);
    assert_memory_equal(b8, "\0\1\2\3\4\5\6\7\10\0", 10);
    cv_fmp4_close(m);
    free(all.p);
    free(late.p);
    stream_free(s);
}

/* Timestamps that go back, repeat, jump an hour or sit at the ends of int64 give no error and
 * no hole: every fragment starts where the one before ended. */
static void test_hostile_timestamps(void **state)
{
    (void)state;
    struct stream *s =
        encode_video("libx264", 10, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, s);
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    const int64_t dts[] = {1000,
                           4600,
                           8200,
                           8200,
                           3000,
                           INT64_MAX,
                           6600,
                           INT64_MIN,
                           INT64_MIN + 3600,
                           (int64_t)324000000};
    for (int i = 0; i < 10; i++) {
        struct frame f = s->f[i];
        f.dts = dts[i];
        f.pts = i == 4 ? dts[i] - 5 : dts[i] + (i == 8 ? INT64_MAX : 0); /* pts < dts; overflow */
        assert_int_equal(feed(m, 0, &f, 0, &b), 1);
    }
    uint64_t next = 0;
    for (int i = 0; i < fo.n; i++) {
        assert_int_equal(fo.frag[i].decode_time, next);
        assert_true(fo.frag[i].duration >= 1 && fo.frag[i].duration <= 90000 * 10);
        next += fo.frag[i].duration;
    }
    assert_int_equal(fo.frag[1].duration, 3600); /* a real step */
    assert_int_equal(fo.frag[3].duration, 3600); /* a repeat keeps the last one */
    struct demuxed *d = demux(&b);
    assert_int_equal(d->npkt, 10);
    for (int i = 1; i < d->npkt; i++)
        assert_true(d->pkt[i].dts > d->pkt[i - 1].dts && d->pkt[i].pts >= d->pkt[i].dts);
    demuxed_free(d);

    /* A malformed frame (a length past its end) is dropped and video waits for a keyframe. */
    struct frame bad = s->f[1];
    uint8_t *copy = malloc(bad.len);
    memcpy(copy, bad.data, bad.len);
    copy[0] = 0x7f; /* the first NAL unit now runs far past the end */
    bad.data = copy;
    int before = fo.n;
    assert_int_equal(feed(m, 0, &bad, 0, NULL), 0);
    assert_int_equal(feed(m, 0, &s->f[2], 0, NULL), 0);
    assert_int_equal(feed(m, 0, &s->f[0], 0, NULL), 1);
    assert_int_equal(fo.n, before + 1);
    free(copy);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(s);
}

static int open_with(enum cv_codec codec, const uint8_t *ed, size_t len)
{
    struct cv_stream_info info;
    memset(&info, 0, sizeof(info));
    info.track_count = 1;
    info.tracks[0].kind = CV_TRACK_VIDEO;
    info.tracks[0].codec = codec;
    info.tracks[0].clock_rate = 90000;
    memcpy(info.tracks[0].extradata, ed, len);
    info.tracks[0].extradata_len = (uint16_t)len;
    struct cv_fmp4 *m = NULL;
    int r = cv_fmp4_open(&m, &info);
    assert_true(r < 0 ? m == NULL : m != NULL);
    cv_fmp4_close(m);
    return r;
}

/* Parameter sets a camera (or whoever controls its stream) might send. */
static void test_hostile_params(void **state)
{
    (void)state;
    struct stream *s =
        encode_video("libx264", 1, 0, (const char *const[]){"preset", "ultrafast", NULL});
    const uint8_t *sps = s->extra + 4;
    size_t sps_len = ((size_t)s->extra[2] << 8) | s->extra[3];
    const uint8_t *pps = sps + sps_len + 4;
    size_t pps_len = s->extra_len - sps_len - 8;
    uint8_t ed[CV_MAX_EXTRADATA] = {0};
    assert_int_equal(open_with(CV_CODEC_H264, s->extra, s->extra_len), 0);

    assert_int_equal(open_with(CV_CODEC_H264, ed, 0), -EBADMSG);
    /* SPS without a PPS, PPS without an SPS */
    assert_int_equal(open_with(CV_CODEC_H264, s->extra, sps_len + 4), -EBADMSG);
    assert_int_equal(open_with(CV_CODEC_H264, pps - 4, pps_len + 4), -EBADMSG);
    /* Every truncation of the SPS: refused while it cuts into what we read (up to the cropping
     * window); the VUI after it is not ours to check. */
    int first_ok = 0;
    for (size_t cut = 1; cut < sps_len; cut++) {
        size_t n = 0;
        ed[n++] = 0, ed[n++] = 0, ed[n++] = 0, ed[n++] = (uint8_t)cut;
        memcpy(ed + n, sps, cut);
        n += cut;
        memcpy(ed + n, pps - 4, pps_len + 4);
        n += pps_len + 4;
        int r = open_with(CV_CODEC_H264, ed, n);
        assert_true(r == -EBADMSG || (r == 0 && cut > 5));
        assert_true(r == 0 || first_ok == 0);
        if (r == 0 && first_ok == 0)
            first_ok = (int)cut;
    }
    /* a zero length, a length past the end, a cut-off length prefix */
    memcpy(ed, s->extra, s->extra_len);
    memset(ed + s->extra_len, 0, 4);
    assert_int_equal(open_with(CV_CODEC_H264, ed, s->extra_len + 4), -EBADMSG);
    ed[s->extra_len + 3] = 9;
    assert_int_equal(open_with(CV_CODEC_H264, ed, s->extra_len + 4), -EBADMSG);
    assert_int_equal(open_with(CV_CODEC_H264, ed, s->extra_len + 3), -EBADMSG);
    ed[3] = 0xff;
    assert_int_equal(open_with(CV_CODEC_H264, ed, s->extra_len), -EBADMSG);
    /* the SPS from tests/unit/test_nal.c: three bytes of header and one of body */
    const uint8_t tiny[] = {0, 0, 0, 5, 0x67, 0x42, 0x00, 0x1f, 0xe9,
                            0, 0, 0, 4, 0x68, 0xce, 0x38, 0x80};
    assert_int_equal(open_with(CV_CODEC_H264, tiny, sizeof(tiny)), -EBADMSG);
    /* a width of 2^31 macroblocks */
    const uint8_t huge[] = {0,    0,    0,    13,   0x67, 0x42, 0x00, 0x1f, 0xf4,
                            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0,
                            0,    0,    4,    0x68, 0xce, 0x38, 0x80};
    assert_int_equal(open_with(CV_CODEC_H264, huge, sizeof(huge)), -EBADMSG);
    /* H.264 parameter sets given as H.265: no VPS, and their headers read as other types */
    assert_int_equal(open_with(CV_CODEC_H265, s->extra, s->extra_len), -EBADMSG);
    const uint8_t h265_trunc[] = {0,    0,    0,    3,    0x40, 0x01, 0x0c, 0, 0,    0,    4,
                                  0x42, 0x01, 0x01, 0x01, 0,    0,    0,    3, 0x44, 0x01, 0xc1};
    assert_int_equal(open_with(CV_CODEC_H265, h265_trunc, sizeof(h265_trunc)), -EBADMSG);

    /* Tracks: none, none video, video that cannot be muxed, AAC with a broken config. */
    struct cv_stream_info info;
    memset(&info, 0, sizeof(info));
    struct cv_fmp4 *m = NULL;
    assert_int_equal(cv_fmp4_open(&m, &info), -EINVAL);
    info.track_count = 9;
    assert_int_equal(cv_fmp4_open(&m, &info), -EINVAL);
    info.track_count = 1;
    info.tracks[0].kind = CV_TRACK_AUDIO;
    info.tracks[0].codec = CV_CODEC_AAC;
    assert_int_equal(cv_fmp4_open(&m, &info), -EINVAL);
    info.tracks[0].kind = CV_TRACK_VIDEO;
    assert_int_equal(cv_fmp4_open(&m, &info), -ENOTSUP);
    assert_null(m);
    video_info(&info, CV_CODEC_H264, s);
    info.track_count = 2;
    info.tracks[1].kind = CV_TRACK_AUDIO;
    info.tracks[1].codec = CV_CODEC_AAC;
    info.tracks[1].extradata_len = 1;
    assert_int_equal(cv_fmp4_open(&m, &info), 0);
    assert_int_equal(cv_fmp4_track_count(m), 1);
    assert_int_equal(cv_fmp4_out_track(m, 1), -1);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.42C00B");
    cv_fmp4_close(m);
    stream_free(s);
}

/* The codecs string of H.265 in go2rtc's form, on a libx265 SPS with its profile_tier_level
 * edited: non_packed_constraint set (B0) and level 3.1 (93). */
static void test_h265_codecs(void **state)
{
    (void)state;
    const uint8_t ed[] = {0,    0,    0,    24,   0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x01, 0x60,
                          0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
                          0x1e, 0xba, 0x02, 0x40, 0,    0,    0,    39,   0x42, 0x01, 0x01, 0x01,
                          0x60, 0x00, 0x00, 0x03, 0x00, 0xb0, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
                          0x00, 0x5d, 0xa0, 0x20, 0x83, 0x16, 0x5b, 0xa4, 0xa4, 0xc2, 0xf0, 0x16,
                          0x80, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x05, 0x04, 0,
                          0,    0,    6,    0x44, 0x01, 0xc0, 0x73, 0xc0, 0x89};
    struct cv_stream_info info;
    memset(&info, 0, sizeof(info));
    info.track_count = 1;
    info.tracks[0].kind = CV_TRACK_VIDEO;
    info.tracks[0].codec = CV_CODEC_H265;
    info.tracks[0].clock_rate = 90000;
    memcpy(info.tracks[0].extradata, ed, sizeof(ed));
    info.tracks[0].extradata_len = sizeof(ed);
    struct cv_fmp4 *m = NULL;
    struct buf b = {NULL, 0};
    assert_int_equal(cv_fmp4_open(&m, &info), 0);
    assert_string_equal(cv_fmp4_codecs(m), "hvc1.1.6.L93.B0");
    size_t n;
    const uint8_t *init = cv_fmp4_init(m, &n);
    buf_add(&b, init, n);
    struct demuxed *d = demux(&b);
    assert_int_equal(d->tag[0], MKTAG('h', 'v', 'c', '1'));
    assert_int_equal(d->width, 64); /* from the SPS */
    assert_int_equal(d->height, 48);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
}

/* ---- G.711 and Opus ----------------------------------------------------------------------- */

struct given {
    int idx[256]; /* audio frames in the order given: index into the stream, -1 - index if lost */
    int r[256];   /* what cv_fmp4_write said */
    int n;
};

/*
 * Two runs of video v with audio a (ring track 1, clock aclock) interleaved by time, and a
 * discontinuity between them with the input time back to 0 (a worker restart). Each run starts
 * with an audio frame before the video (dropped: audio waits for the video); its frame `lost`
 * (-1: none) never comes, as if the network lost it.
 */
static void interleave(struct cv_fmp4 *m, const struct stream *v, const struct stream *a,
                       int64_t aclock, int lost, struct buf *b, struct given *g)
{
    g->n = 0;
    for (int run = 0; run < 2; run++) {
        if (run)
            cv_fmp4_discontinuity(m);
        assert_int_equal(feed(m, 1, &a->f[0], 0, b), 0);
        int ai = 1;
        for (int i = 0; i < v->n; i++) {
            assert_int_equal(feed(m, 0, &v->f[i], 0, b), 1);
            while (ai < a->n && a->f[ai].pts * 90000 / aclock < v->f[i].dts + 3600) {
                assert_true(g->n < 256);
                g->idx[g->n] = ai == lost ? -1 - ai : ai;
                g->r[g->n++] = ai == lost ? 0 : feed(m, 1, &a->f[ai], 0, b);
                ai++;
            }
        }
    }
}

/* Each output track's fragments follow each other without a hole; returns the audio's total. */
static uint64_t check_timelines(void)
{
    uint64_t next[2] = {0, 0};
    for (int i = 0; i < fo.n; i++) {
        const struct cv_fmp4_frag *f = &fo.frag[i];
        assert_true(f->out_track < 2);
        assert_int_equal(f->decode_time, next[f->out_track]);
        assert_true(f->duration > 0);
        if (f->out_track == 1)
            assert_false(f->key);
        next[f->out_track] += f->duration;
    }
    return next[1];
}

/*
 * G.711 from libavcodec's encoder, `samples` per packet, re-encoded as FLAC: the demuxed track is
 * FLAC at 8 kHz mono, its timeline continuous over the restart, and its samples, decoded, are the
 * G.711 decoder's exactly (FLAC is lossless), with the lost packet's place silent, up to the last
 * frame not yet complete.
 */
static void run_g711(enum cv_codec codec, enum AVCodecID id, int samples)
{
    struct stream *v =
        encode_video("libx264", 10, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct stream *a = encode_g711(id, 400 * 8 / samples + 1, samples);
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, v);
    info.track_count = 2;
    struct cv_track_info *g = &info.tracks[1];
    g->kind = CV_TRACK_AUDIO;
    g->codec = codec;
    g->clock_rate = 8000;
    g->channels = 1;
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.42C00B,flac");
    assert_string_equal(cv_fmp4_mime(m), "video/mp4; codecs=\"avc1.42C00B,flac\"");
    assert_int_equal(cv_fmp4_out_track(m, 1), 1);
    assert_int_equal(cv_fmp4_timescale(m, 1), 8000);

    struct given gv;
    interleave(m, v, a, 8000, 5, &b, &gv);
    int16_t *ref = calloc((size_t)gv.n * (size_t)samples, sizeof(int16_t));
    size_t ref_n = 0;
    for (int i = 0; i < gv.n; i++) {
        const struct frame *f = &a->f[gv.idx[i] < 0 ? -1 - gv.idx[i] : gv.idx[i]];
        if (gv.idx[i] >= 0) /* a lost one's place is left 0: silence */
            memcpy(ref + ref_n, f->pcm, f->len * sizeof(int16_t));
        ref_n += f->len;
    }
    uint64_t audio = check_timelines();
    assert_int_equal(audio, ref_n / 160 * 160); /* whole 20 ms frames */
    for (int i = 0; i < fo.n; i++)
        if (fo.frag[i].out_track == 1)
            assert_int_equal(fo.frag[i].duration % 160, 0);

    struct demuxed *d = demux(&b);
    assert_int_equal(d->nb_streams, 2);
    assert_int_equal(d->codec[1], AV_CODEC_ID_FLAC);
    assert_int_equal(d->tag[1], MKTAG('f', 'L', 'a', 'C'));
    assert_int_equal(d->sample_rate, 8000);
    assert_int_equal(d->channels, 1);
    assert_int_equal(d->tb[1].den, 8000);
    int na = 0;
    int64_t dur = 0;
    for (int i = 0; i < d->npkt; i++)
        if (d->pkt[i].stream == 1) {
            /* libavformat's FLAC parser leaves the packets' durations unset: the steps tell. */
            assert_int_equal(d->pkt[i].dts, dur);
            assert_true(d->pkt[i].key);
            dur += 160;
            na++;
        }
    assert_int_equal(dur, (int64_t)audio);
    assert_int_equal(d->decode_errors[1], 0);
    assert_int_equal(d->decoded[1], na);
    assert_int_equal(d->pcm_n, audio);
    assert_true(ref_n - d->pcm_n < 160);
    assert_memory_equal(d->pcm, ref, d->pcm_n * sizeof(int16_t));
    free(ref);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(v);
    stream_free(a);
}

/* 160-sample packets: each one a FLAC frame and a fragment. */
static void test_pcma(void **state)
{
    (void)state;
    run_g711(CV_CODEC_PCMA, AV_CODEC_ID_PCM_ALAW, 160);
}

/* 240-sample packets: FLAC frames cut across them, one or two to a fragment. */
static void test_pcmu(void **state)
{
    (void)state;
    run_g711(CV_CODEC_PCMU, AV_CODEC_ID_PCM_MULAW, 240);
}

/* Opus from libopus goes as it is: an 'Opus' track at 48 kHz whose packets are the input's. */
static void test_opus(void **state)
{
    (void)state;
    struct stream *o = encode_opus(21, 2);
    if (!o)
        skip();
    struct stream *v =
        encode_video("libx264", 10, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct cv_stream_info info;
    video_info(&info, CV_CODEC_H264, v);
    info.track_count = 2;
    struct cv_track_info *t = &info.tracks[1];
    t->kind = CV_TRACK_AUDIO;
    t->codec = CV_CODEC_OPUS;
    t->clock_rate = 48000;
    t->channels = 2;
    struct buf b = {NULL, 0};
    struct cv_fmp4 *m = open_muxer(&info, &b);
    assert_string_equal(cv_fmp4_codecs(m), "avc1.42C00B,opus");
    assert_int_equal(cv_fmp4_timescale(m, 1), 48000);
    struct given gv;
    interleave(m, v, o, 48000, -1, &b, &gv);
    for (int i = 0; i < gv.n; i++)
        assert_int_equal(gv.r[i], 1);
    assert_int_equal(check_timelines(), (uint64_t)gv.n * 960);

    struct demuxed *d = demux(&b);
    assert_int_equal(d->nb_streams, 2);
    assert_int_equal(d->codec[1], AV_CODEC_ID_OPUS);
    assert_int_equal(d->tag[1], MKTAG('O', 'p', 'u', 's'));
    assert_int_equal(d->sample_rate, 48000);
    assert_int_equal(d->channels, 2);
    int na = 0;
    for (int i = 0; i < d->npkt; i++)
        if (d->pkt[i].stream == 1) {
            const struct frame *f = &o->f[gv.idx[na]];
            assert_int_equal(d->pkt[i].dts, (int64_t)na * 960);
            assert_int_equal(d->pkt[i].size, (int)f->len);
            assert_memory_equal(d->pkt[i].data, f->data, f->len);
            na++;
        }
    assert_int_equal(na, gv.n);
    assert_int_equal(d->decode_errors[1], 0);
    assert_int_equal(d->decoded[1], na);
    demuxed_free(d);
    cv_fmp4_close(m);
    free(b.p);
    stream_free(v);
    stream_free(o);
}

/* Which audio track: AAC, Opus, PCMA, PCMU in that order, among those that can be muxed. */
static void test_audio_choice(void **state)
{
    (void)state;
    struct stream *v =
        encode_video("libx264", 1, 0, (const char *const[]){"preset", "ultrafast", NULL});
    struct cv_stream_info info;
    struct cv_fmp4 *m = NULL;
    static const struct {
        uint8_t codec[3];
        uint32_t clock[3];
        uint16_t channels[3];
        int chosen; /* ring track, or -1 */
        const char *codecs;
        uint32_t timescale;
    } cases[] = {
        {{CV_CODEC_PCMU, CV_CODEC_PCMA, CV_CODEC_OPUS},
         {8000, 8000, 48000},
         {1, 1, 2},
         3,
         "opus",
         48000},
        /* an AAC config that does not parse gives way */
        {{CV_CODEC_AAC, CV_CODEC_PCMU, CV_CODEC_PCMA},
         {8000, 8000, 8000},
         {1, 1, 1},
         3,
         "flac",
         8000},
        /* unknown channels: mono */
        {{CV_CODEC_PCMU, CV_CODEC_NONE, CV_CODEC_NONE}, {16000, 0, 0}, {0, 0, 0}, 1, "flac", 16000},
        /* a G.711 rate FLAC cannot take, Opus with more channels than family 0 has */
        {{CV_CODEC_PCMA, CV_CODEC_OPUS, CV_CODEC_NONE}, {0, 48000, 0}, {1, 6, 0}, -1, "", 0},
        /* an Opus clock that makes no sense: 48 kHz */
        {{CV_CODEC_OPUS, CV_CODEC_PCMA, CV_CODEC_NONE}, {0, 8000, 0}, {0, 1, 0}, 1, "opus", 48000},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        video_info(&info, CV_CODEC_H264, v);
        info.track_count = 4;
        for (int i = 0; i < 3; i++) {
            struct cv_track_info *t = &info.tracks[i + 1];
            t->kind = CV_TRACK_AUDIO;
            t->codec = cases[k].codec[i];
            t->clock_rate = cases[k].clock[i];
            t->channels = cases[k].channels[i];
            t->extradata_len = t->codec == CV_CODEC_AAC ? 1 : 0;
        }
        assert_int_equal(cv_fmp4_open(&m, &info), 0);
        char want[64];
        snprintf(want, sizeof(want), "avc1.42C00B%s%s", cases[k].codecs[0] ? "," : "",
                 cases[k].codecs);
        assert_string_equal(cv_fmp4_codecs(m), want);
        assert_int_equal(cv_fmp4_track_count(m), cases[k].chosen < 0 ? 1 : 2);
        for (uint32_t i = 1; i < 4; i++)
            assert_int_equal(cv_fmp4_out_track(m, i), (int)i == cases[k].chosen ? 1 : -1);
        assert_int_equal(cv_fmp4_timescale(m, 1), cases[k].timescale);
        cv_fmp4_close(m);
    }
    stream_free(v);
}

int main(void)
{
    av_log_set_level(AV_LOG_ERROR);
    cv_log_set_level(CV_LOG_WRN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h264_restart),   cmocka_unit_test(test_h264_bframes),
        cmocka_unit_test(test_h265),           cmocka_unit_test(test_audio),
        cmocka_unit_test(test_rebase),         cmocka_unit_test(test_hostile_timestamps),
        cmocka_unit_test(test_hostile_params), cmocka_unit_test(test_h265_codecs),
        cmocka_unit_test(test_pcma),           cmocka_unit_test(test_pcmu),
        cmocka_unit_test(test_opus),           cmocka_unit_test(test_audio_choice),
    };
    return cmocka_run_group_tests_name("fmp4", tests, NULL, NULL);
}
