/*
 * Part of camvisor-ffmpeg.so: an audio transcoder (worker/xcode.h, cv_xcode_audio_ops). One
 * camera audio track (AAC, G.711, Opus; ring format) decoded by libavcodec, converted by
 * libswresample to what the encoder takes, gathered in a FIFO into the encoder's frame size and
 * encoded: Opus (libopus, 48 kHz, 20 ms packets: what WebRTC carries) or AAC (FFmpeg's encoder,
 * LC: what MSE, HLS and MP4 players all play).
 *
 * Timing: output pts count samples from the first input frame's pts (rescaled to the output
 * rate), so packets are evenly spaced as players want; an input that jumps (a camera that
 * reconnected, frames lost) by more than CV_AUDIO_RESYNC_MS from where the count says starts the
 * count again from the new input, dropping what was pending.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <stdlib.h>
#include <string.h>

#include "worker/xcode.h"

#define CV_AUDIO_RESYNC_MS 200
#define CV_AUDIO_AAC_KBPS  64 /* per channel-pair: transparent enough for a camera microphone */
#define CV_AUDIO_OPUS_KBPS 32

struct cv_audio {
    AVCodecContext *dec, *enc; /* owned */
    SwrContext *swr;           /* owned */
    AVAudioFifo *fifo;         /* owned */
    AVFrame *in, *out;         /* owned */
    AVPacket *pkt, *opkt;      /* owned */
    uint8_t *inbuf;            /* owned: the input with the decoder's padding */
    size_t inbuf_cap;
    struct cv_track_info track; /* the output's */
    uint32_t in_rate;
    /* What swr was built for: a decoder may change format mid-stream (an AAC stream's PCE,
     * mono sent on a stereo config, implicit SBR doubling the rate). */
    AVChannelLayout swr_layout;
    int swr_rate, swr_fmt;
    int64_t next_pts; /* output pts (out rate) of the first sample in the FIFO */
    bool synced;
};

static void cv_audio_close(void *state)
{
    struct cv_audio *a = state;
    if (!a)
        return;
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_frame_free(&a->in);
    av_frame_free(&a->out);
    av_packet_free(&a->pkt);
    av_packet_free(&a->opkt);
    free(a->inbuf);
    free(a);
}

static int cv_audio_open_decoder(struct cv_audio *a, const struct cv_track_info *in)
{
    enum AVCodecID id = in->codec == CV_CODEC_AAC    ? AV_CODEC_ID_AAC
                        : in->codec == CV_CODEC_PCMA ? AV_CODEC_ID_PCM_ALAW
                        : in->codec == CV_CODEC_PCMU ? AV_CODEC_ID_PCM_MULAW
                        : in->codec == CV_CODEC_OPUS ? AV_CODEC_ID_OPUS
                                                     : AV_CODEC_ID_NONE;
    const AVCodec *codec = avcodec_find_decoder(id);
    if (!codec)
        return -ENOTSUP;
    a->dec = avcodec_alloc_context3(codec);
    if (!a->dec)
        return -ENOMEM;
    unsigned ch = in->channels >= 1 && in->channels <= 2 ? in->channels : 1;
    av_channel_layout_default(&a->dec->ch_layout, (int)ch);
    a->dec->sample_rate = (int)in->clock_rate;
    if (in->codec == CV_CODEC_AAC && in->extradata_len) { /* the AudioSpecificConfig */
        a->dec->extradata = av_mallocz(in->extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!a->dec->extradata)
            return -ENOMEM;
        memcpy(a->dec->extradata, in->extradata, in->extradata_len);
        a->dec->extradata_size = in->extradata_len;
    }
    return avcodec_open2(a->dec, codec, NULL) < 0 ? -EINVAL : 0;
}

/* The encoder for `out` at a rate it takes: Opus at 48 kHz; AAC at the input's rate when it is
 * one players commonly take, else 16 kHz (G.711's 8 kHz is below what some decoders accept). */
static int cv_audio_open_encoder(struct cv_audio *a, enum cv_codec out, unsigned channels)
{
    const AVCodec *codec = out == CV_CODEC_OPUS  ? avcodec_find_encoder_by_name("libopus")
                           : out == CV_CODEC_AAC ? avcodec_find_encoder(AV_CODEC_ID_AAC)
                                                 : NULL;
    if (!codec)
        return -ENOTSUP;
    a->enc = avcodec_alloc_context3(codec);
    if (!a->enc)
        return -ENOMEM;
    static const int aac_rates[] = {16000, 22050, 24000, 32000, 44100, 48000};
    int rate = 48000;
    if (out == CV_CODEC_AAC) {
        rate = 16000;
        for (size_t i = 0; i < sizeof(aac_rates) / sizeof(aac_rates[0]); i++)
            if (aac_rates[i] == (int)a->in_rate)
                rate = (int)a->in_rate;
    }
    av_channel_layout_default(&a->enc->ch_layout, (int)channels);
    a->enc->sample_rate = rate;
    a->enc->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    a->enc->bit_rate =
        (out == CV_CODEC_OPUS ? CV_AUDIO_OPUS_KBPS : CV_AUDIO_AAC_KBPS) * 1000 * (int)channels;
    a->enc->time_base = (AVRational){1, rate};
    if (out == CV_CODEC_AAC) /* the AudioSpecificConfig into extradata, not into each frame */
        a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    else
        av_opt_set(a->enc->priv_data, "application", "lowdelay", 0);
    if (avcodec_open2(a->enc, codec, NULL) < 0)
        return -EINVAL;
    a->track.kind = CV_TRACK_AUDIO;
    a->track.codec = (uint8_t)out;
    a->track.clock_rate = (uint32_t)rate;
    a->track.channels = (uint16_t)channels;
    if (out == CV_CODEC_AAC) {
        if (a->enc->extradata_size <= 0 || a->enc->extradata_size > CV_MAX_EXTRADATA)
            return -EINVAL;
        memcpy(a->track.extradata, a->enc->extradata, (size_t)a->enc->extradata_size);
        a->track.extradata_len = (uint16_t)a->enc->extradata_size;
    }
    return 0;
}

static int cv_audio_open(void **state, const struct cv_track_info *in, enum cv_codec out)
{
    *state = NULL;
    if (in->kind != CV_TRACK_AUDIO || in->clock_rate < 8000 || in->clock_rate > 96000)
        return -ENOTSUP;
    struct cv_audio *a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->in_rate = in->clock_rate;
    a->in = av_frame_alloc();
    a->out = av_frame_alloc();
    a->pkt = av_packet_alloc();
    a->opkt = av_packet_alloc();
    int rc = !a->in || !a->out || !a->pkt || !a->opkt ? -ENOMEM : cv_audio_open_decoder(a, in);
    unsigned ch = in->channels == 2 ? 2 : 1;
    if (rc == 0)
        rc = cv_audio_open_encoder(a, out, ch);
    /* The resampler comes with the first decoded frame, which says what the audio is. */
    if (rc == 0 &&
        !(a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, (int)ch,
                                        a->enc->frame_size > 0 ? a->enc->frame_size : 1024)))
        rc = -ENOMEM;
    if (rc < 0) {
        cv_audio_close(a);
        return rc;
    }
    *state = a;
    return 0;
}

/* The resampler for frames of f's layout, rate and format, (re)built when they are not the last
 * one's (f is not const: FFmpeg 5.1's swr_alloc_set_opts2 takes its layout so): 0, or -EINVAL
 * for a format it cannot take (the frame is dropped). */
static int cv_audio_resampler(struct cv_audio *a, AVFrame *f)
{
    if (a->swr && f->sample_rate == a->swr_rate && f->format == a->swr_fmt &&
        av_channel_layout_compare(&f->ch_layout, &a->swr_layout) == 0)
        return 0;
    swr_free(&a->swr);
    av_channel_layout_uninit(&a->swr_layout);
    if (f->ch_layout.nb_channels < 1 || f->ch_layout.nb_channels > 8 || f->sample_rate < 1000 ||
        f->sample_rate > 192000)
        return -EINVAL;
    if (swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt, a->enc->sample_rate,
                            &f->ch_layout, (enum AVSampleFormat)f->format, f->sample_rate, 0,
                            NULL) < 0 ||
        swr_init(a->swr) < 0 || av_channel_layout_copy(&a->swr_layout, &f->ch_layout) < 0) {
        swr_free(&a->swr);
        return -EINVAL;
    }
    a->swr_rate = f->sample_rate;
    a->swr_fmt = f->format;
    return 0;
}

/* Encodes FIFO contents a frame at a time; each packet to emit. */
static int cv_audio_drain(struct cv_audio *a, cv_xcode_emit_fn emit, void *ctx)
{
    int fs = a->enc->frame_size > 0 ? a->enc->frame_size : 1024;
    while (av_audio_fifo_size(a->fifo) >= fs) {
        av_frame_unref(a->out);
        a->out->nb_samples = fs;
        a->out->format = a->enc->sample_fmt;
        a->out->sample_rate = a->enc->sample_rate;
        if (av_channel_layout_copy(&a->out->ch_layout, &a->enc->ch_layout) < 0 ||
            av_frame_get_buffer(a->out, 0) < 0)
            return -ENOMEM;
        if (av_audio_fifo_read(a->fifo, (void **)a->out->data, fs) != fs)
            return -EIO;
        a->out->pts = a->next_pts;
        a->next_pts += fs;
        if (avcodec_send_frame(a->enc, a->out) < 0)
            return -EIO;
        while (avcodec_receive_packet(a->enc, a->opkt) == 0) {
            emit(ctx, a->opkt->data, (size_t)a->opkt->size, a->opkt->pts);
            av_packet_unref(a->opkt);
        }
    }
    return 0;
}

static int cv_audio_feed(void *state, const uint8_t *data, size_t len, int64_t pts,
                         cv_xcode_emit_fn emit, void *ctx)
{
    struct cv_audio *a = state;
    if (len == 0 || len > (1u << 20))
        return -EINVAL;
    if (len + AV_INPUT_BUFFER_PADDING_SIZE > a->inbuf_cap) {
        uint8_t *b = realloc(a->inbuf, len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!b)
            return -ENOMEM;
        a->inbuf = b;
        a->inbuf_cap = len + AV_INPUT_BUFFER_PADDING_SIZE;
    }
    memcpy(a->inbuf, data, len);
    memset(a->inbuf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    av_packet_unref(a->pkt);
    a->pkt->data = a->inbuf;
    a->pkt->size = (int)len;
    a->pkt->pts = a->pkt->dts = pts;
    int rc = avcodec_send_packet(a->dec, a->pkt);
    a->pkt->data = NULL; /* ours, not av_packet's */
    a->pkt->size = 0;
    if (rc < 0)
        return -EBADMSG; /* a bad frame is lost; the next decodes */
    int64_t out_pts = av_rescale(pts, a->enc->sample_rate, a->in_rate);
    while (avcodec_receive_frame(a->dec, a->in) == 0) {
        if (cv_audio_resampler(a, a->in) < 0) {
            av_frame_unref(a->in);
            return -EBADMSG;
        }
        /* Where this input's first sample belongs, against where the count has got to. */
        int64_t pending = av_audio_fifo_size(a->fifo);
        int64_t drift = out_pts - (a->next_pts + pending);
        if (!a->synced || llabs(drift) > (int64_t)a->enc->sample_rate * CV_AUDIO_RESYNC_MS / 1000) {
            av_audio_fifo_reset(a->fifo);
            a->next_pts = out_pts;
            a->synced = true;
        }
        int max_out = swr_get_out_samples(a->swr, a->in->nb_samples);
        uint8_t **buf = NULL;
        if (max_out <= 0 ||
            av_samples_alloc_array_and_samples(&buf, NULL, a->enc->ch_layout.nb_channels, max_out,
                                               a->enc->sample_fmt, 0) < 0) {
            av_frame_unref(a->in);
            return -ENOMEM;
        }
        int n = swr_convert(a->swr, buf, max_out, (const uint8_t **)a->in->extended_data,
                            a->in->nb_samples);
        if (n > 0 && av_audio_fifo_write(a->fifo, (void **)buf, n) < n)
            n = -1;
        av_freep(&buf[0]);
        av_freep(&buf);
        av_frame_unref(a->in);
        if (n < 0)
            return -EIO;
        out_pts += n;
    }
    return cv_audio_drain(a, emit, ctx);
}

static bool cv_audio_track(void *state, struct cv_track_info *out)
{
    const struct cv_audio *a = state;
    *out = a->track;
    return true;
}

const struct cv_xcode_audio_ops cv_xcode_audio_ops = {
    .open = cv_audio_open,
    .feed = cv_audio_feed,
    .track = cv_audio_track,
    .close = cv_audio_close,
};
