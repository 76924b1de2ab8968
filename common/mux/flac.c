/*
 * G.711 to FLAC (the contract is in flac.h). The expansion is the ITU-T G.711 one (the table
 * FFmpeg's pcm_alaw/pcm_mulaw decoders and Sun's reference g711.c use), built per transcoder from
 * the formula: every byte is a valid sample, so no input can make it fail, and there is no decoder
 * context to keep. The samples go straight into the AVFrame the encoder takes next, which is the
 * only buffer: it is made writable again (a copy only if the encoder still held it) before the
 * first sample of each frame.
 */
#include "common/mux/flac.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/channel_layout.h>
#include <libavutil/frame.h>

struct cv_flac {
    AVCodecContext *enc; /* owned: the FLAC encoder */
    AVFrame *pcm;        /* owned: the frame being filled, frame_size samples of packed s16 */
    AVPacket *pkt;       /* owned: what the encoder gave last; unreferenced after each callback */
    unsigned channels;
    int frame_size; /* samples per FLAC frame */
    int fill;       /* samples in pcm so far */
    int64_t pts;    /* samples given to the encoder */
    int16_t law[256];
};

static int16_t cv_flac_alaw(uint8_t a)
{
    a ^= 0x55;
    int t = a & 0x0f, seg = (a & 0x70) >> 4;
    t = seg ? (t * 2 + 33) << (seg + 2) : (t * 2 + 1) << 3;
    return (int16_t)((a & 0x80) ? t : -t);
}

static int16_t cv_flac_ulaw(uint8_t u)
{
    u = (uint8_t)~u;
    int t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static int cv_flac_averr(int ret)
{
    return ret < 0 && ret > -4096 ? ret : -EIO;
}

int cv_flac_open(struct cv_flac **out, enum cv_codec law, uint32_t rate, unsigned channels)
{
    *out = NULL;
    if ((law != CV_CODEC_PCMA && law != CV_CODEC_PCMU) || rate < 1000 || rate > 48000 ||
        channels == 0 || channels > CV_FLAC_MAX_CHANNELS)
        return -EINVAL;
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_FLAC);
    if (!codec)
        return -ENOTSUP;
    struct cv_flac *f = calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    int ret = -ENOMEM;
    f->channels = channels;
    for (int i = 0; i < 256; i++)
        f->law[i] = law == CV_CODEC_PCMA ? cv_flac_alaw((uint8_t)i) : cv_flac_ulaw((uint8_t)i);
    f->enc = avcodec_alloc_context3(codec);
    f->pcm = av_frame_alloc();
    f->pkt = av_packet_alloc();
    if (!f->enc || !f->pcm || !f->pkt)
        goto fail_close;

    AVCodecContext *c = f->enc;
    f->frame_size = (int)(rate * CV_FLAC_FRAME_MS / 1000);
    c->sample_fmt = AV_SAMPLE_FMT_S16;
    c->sample_rate = (int)rate;
    c->time_base = (AVRational){1, (int)rate};
    c->frame_size = f->frame_size; /* the encoder's block size (16..65535: true for our rates) */
    c->flags |= AV_CODEC_FLAG_BITEXACT;
    av_channel_layout_default(&c->ch_layout, (int)channels);
    if ((ret = avcodec_open2(c, codec, NULL)) < 0) {
        ret = ret == AVERROR(ENOMEM) ? -ENOMEM : -ENOTSUP;
        goto fail_close;
    }
    if (c->frame_size != f->frame_size || c->extradata_size != CV_FLAC_STREAMINFO) {
        ret = -ENOTSUP;
        goto fail_close;
    }
    f->pcm->format = AV_SAMPLE_FMT_S16;
    f->pcm->nb_samples = f->frame_size;
    f->pcm->sample_rate = (int)rate;
    if ((ret = av_channel_layout_copy(&f->pcm->ch_layout, &c->ch_layout)) < 0 ||
        (ret = av_frame_get_buffer(f->pcm, 0)) < 0) {
        ret = cv_flac_averr(ret);
        goto fail_close;
    }
    *out = f;
    return 0;

fail_close:
    cv_flac_close(f);
    return ret;
}

void cv_flac_close(struct cv_flac *f)
{
    if (!f)
        return;
    avcodec_free_context(&f->enc);
    av_frame_free(&f->pcm);
    av_packet_free(&f->pkt);
    free(f);
}

const uint8_t *cv_flac_streaminfo(const struct cv_flac *f)
{
    return f->enc->extradata;
}

unsigned cv_flac_frame_size(const struct cv_flac *f)
{
    return (unsigned)f->frame_size;
}

/* The full frame to the encoder, and what it gives back to out. */
static int cv_flac_encode(struct cv_flac *f, cv_flac_out_fn out, void *ctx)
{
    f->pcm->pts = f->pts;
    f->pts += f->frame_size;
    f->fill = 0;
    int ret = avcodec_send_frame(f->enc, f->pcm);
    if (ret < 0)
        return cv_flac_averr(ret);
    int n = 0;
    while ((ret = avcodec_receive_packet(f->enc, f->pkt)) == 0) {
        ret = out(ctx, f->pkt);
        av_packet_unref(f->pkt);
        if (ret < 0)
            return ret;
        n++;
    }
    return ret == AVERROR(EAGAIN) ? n : cv_flac_averr(ret);
}

int cv_flac_push(struct cv_flac *f, const uint8_t *g711, size_t samples, size_t silence,
                 cv_flac_out_fn out, void *ctx)
{
    size_t total = silence + samples, done = 0;
    const unsigned ch = f->channels;
    int frames = 0, ret;
    while (done < total) {
        if (f->fill == 0 && (ret = av_frame_make_writable(f->pcm)) < 0)
            return cv_flac_averr(ret);
        int16_t *dst = (int16_t *)f->pcm->data[0] + (size_t)f->fill * ch;
        size_t room = (size_t)(f->frame_size - f->fill);
        size_t k = total - done < room ? total - done : room;
        size_t quiet = done < silence ? silence - done : 0;
        if (quiet > k)
            quiet = k;
        memset(dst, 0, quiet * ch * sizeof(*dst));
        if (k > quiet) { /* then done + quiet >= silence: the G.711 part */
            const uint8_t *src = g711 + (done + quiet - silence) * ch;
            for (size_t i = 0; i < (k - quiet) * ch; i++)
                dst[quiet * ch + i] = f->law[src[i]];
        }
        f->fill += (int)k;
        done += k;
        if (f->fill == f->frame_size) {
            if ((ret = cv_flac_encode(f, out, ctx)) < 0)
                return ret;
            frames += ret;
        }
    }
    return frames;
}
