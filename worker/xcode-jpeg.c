/*
 * Part of camvisor-ffmpeg.so: the `jpeg` transcoder. H.264 or H.265 access units are decoded
 * with libavcodec (software; hardware decoding comes with the transcoding issue), scaled and
 * converted by libswscale to full-range 4:2:0, and encoded as baseline JPEG by FFmpeg's mjpeg
 * encoder. One instance per variant ring: snapshots (/api/frame.jpeg) and MJPEG share it.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/media/scale.h"
#include "worker/xcode.h"

#define CV_JPEG_QSCALE 4 /* 2 (best) .. 31: 4 looks like the camera at a fifth of a BMP */

struct cv_jpeg {
    AVCodecContext *dec, *enc; /* owned */
    struct SwsContext *sws;    /* owned */
    AVFrame *pic, *out_pic;    /* owned */
    AVPacket *pkt, *out_pkt;   /* owned */
    uint8_t *annexb;           /* owned: the access unit with start codes */
    size_t annexb_cap;
    unsigned want_w, want_h; /* asked for (0: follow the source) */
    unsigned out_w, out_h;   /* of the encoder, once open */
    int sws_w, sws_h, sws_fmt;
    bool need_key;
};

/* The ring's 4-byte big-endian lengths become 4-byte start codes: same size, so a copy. */
static int cv_jpeg_to_annexb(uint8_t *dst, const uint8_t *src, size_t len)
{
    size_t off = 0;
    while (off + 4 <= len) {
        uint32_t n = (uint32_t)src[off] << 24 | (uint32_t)src[off + 1] << 16 |
                     (uint32_t)src[off + 2] << 8 | src[off + 3];
        if (n > len - off - 4)
            return -EBADMSG;
        static const uint8_t sc[4] = {0, 0, 0, 1};
        memcpy(dst + off, sc, 4);
        memcpy(dst + off + 4, src + off + 4, n);
        off += 4 + n;
    }
    return off == len ? 0 : -EBADMSG;
}

static void cv_jpeg_close(void *state)
{
    struct cv_jpeg *j = state;
    if (!j)
        return;
    avcodec_free_context(&j->dec);
    avcodec_free_context(&j->enc);
    sws_freeContext(j->sws);
    av_frame_free(&j->pic);
    av_frame_free(&j->out_pic);
    av_packet_free(&j->pkt);
    av_packet_free(&j->out_pkt);
    free(j->annexb);
    free(j);
}

static int cv_jpeg_open(void **state, const struct cv_track_info *in, unsigned width,
                        unsigned height)
{
    *state = NULL;
    if (in->codec != CV_CODEC_H264 && in->codec != CV_CODEC_H265)
        return -ENOTSUP;
    if (width > CV_SCALE_MAX_SIDE || height > CV_SCALE_MAX_SIDE)
        return -EINVAL;
    struct cv_jpeg *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->want_w = width;
    j->want_h = height;
    j->need_key = true;
    const AVCodec *codec =
        avcodec_find_decoder(in->codec == CV_CODEC_H264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_HEVC);
    j->dec = codec ? avcodec_alloc_context3(codec) : NULL;
    j->pic = av_frame_alloc();
    j->out_pic = av_frame_alloc();
    j->pkt = av_packet_alloc();
    j->out_pkt = av_packet_alloc();
    if (!j->dec || !j->pic || !j->out_pic || !j->pkt || !j->out_pkt)
        goto fail_nomem;
    /* One thread and low delay: a picture comes out for the access unit that made it, which is
     * what a snapshot wants (frame threads would hold several back). */
    j->dec->thread_count = 1;
    j->dec->flags |= AV_CODEC_FLAG_LOW_DELAY;
    if (in->extradata_len) {
        j->dec->extradata = av_mallocz(in->extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!j->dec->extradata)
            goto fail_nomem;
        if (cv_jpeg_to_annexb(j->dec->extradata, in->extradata, in->extradata_len) < 0) {
            cv_jpeg_close(j);
            return -EBADMSG;
        }
        j->dec->extradata_size = in->extradata_len;
    }
    if (avcodec_open2(j->dec, codec, NULL) < 0) {
        cv_jpeg_close(j);
        return -EINVAL;
    }
    *state = j;
    return 0;
fail_nomem:
    cv_jpeg_close(j);
    return -ENOMEM;
}

/* The encoder and scaler for the decoded picture's size: the size asked for, fitted to it
 * (common/media/scale.h: never larger, bounded, even). */
static int cv_jpeg_setup_encoder(struct cv_jpeg *j, const AVFrame *src)
{
    unsigned uw, uh;
    if (cv_scale_fit((unsigned)src->width, (unsigned)src->height, j->want_w, j->want_h, &uw, &uh) <
        0)
        return -EINVAL;
    int w = (int)uw, h = (int)uh;
    if (j->enc && uw == j->out_w && uh == j->out_h && j->sws && j->sws_w == src->width &&
        j->sws_h == src->height && j->sws_fmt == src->format)
        return 0;
    avcodec_free_context(&j->enc);
    sws_freeContext(j->sws);
    j->sws = NULL;
    av_frame_unref(j->out_pic);
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    j->enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (!j->enc)
        return -ENOMEM;
    j->enc->width = w;
    j->enc->height = h;
    j->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    j->enc->color_range = AVCOL_RANGE_JPEG;
    j->enc->time_base = (AVRational){1, 90000};
    j->enc->flags |= AV_CODEC_FLAG_QSCALE;
    j->enc->global_quality = FF_QP2LAMBDA * CV_JPEG_QSCALE;
    if (avcodec_open2(j->enc, codec, NULL) < 0)
        return -EINVAL;
    /* Scaled into plain 4:2:0 marked full range (what the deprecated yuvj formats meant, and
     * what JPEG is); the encoder is told the same by its yuvj pixel format. */
    j->sws = sws_getContext(src->width, src->height, src->format, w, h, AV_PIX_FMT_YUV420P,
                            SWS_BILINEAR, NULL, NULL, NULL);
    if (!j->sws)
        return -EINVAL;
    const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(j->sws, coef, src->color_range == AVCOL_RANGE_JPEG, coef, 1, 0,
                             1 << 16, 1 << 16);
    j->out_pic->format = AV_PIX_FMT_YUVJ420P;
    j->out_pic->width = w;
    j->out_pic->height = h;
    if (av_frame_get_buffer(j->out_pic, 0) < 0)
        return -ENOMEM;
    j->out_w = (unsigned)w;
    j->out_h = (unsigned)h;
    j->sws_w = src->width;
    j->sws_h = src->height;
    j->sws_fmt = src->format;
    return 0;
}

static int cv_jpeg_encode(struct cv_jpeg *j, const uint8_t **out, size_t *out_len)
{
    int rc = cv_jpeg_setup_encoder(j, j->pic);
    if (rc < 0)
        return rc;
    if (av_frame_make_writable(j->out_pic) < 0)
        return -ENOMEM;
    sws_scale(j->sws, (const uint8_t *const *)j->pic->data, j->pic->linesize, 0, j->pic->height,
              j->out_pic->data, j->out_pic->linesize);
    j->out_pic->pts = j->pic->pts;
    av_packet_unref(j->out_pkt);
    if (avcodec_send_frame(j->enc, j->out_pic) < 0 ||
        avcodec_receive_packet(j->enc, j->out_pkt) < 0)
        return -EIO;
    *out = j->out_pkt->data;
    *out_len = (size_t)j->out_pkt->size;
    return 1;
}

static int cv_jpeg_feed(void *state, const uint8_t *data, size_t len, int64_t pts, bool key,
                        bool encode, const uint8_t **out, size_t *out_len)
{
    struct cv_jpeg *j = state;
    if (j->need_key && !key)
        return 0;
    if (len + AV_INPUT_BUFFER_PADDING_SIZE > j->annexb_cap) {
        size_t cap = len + AV_INPUT_BUFFER_PADDING_SIZE;
        uint8_t *b = realloc(j->annexb, cap);
        if (!b)
            return -ENOMEM;
        j->annexb = b;
        j->annexb_cap = cap;
    }
    if (cv_jpeg_to_annexb(j->annexb, data, len) < 0) {
        j->need_key = true;
        return -EBADMSG;
    }
    memset(j->annexb + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    av_packet_unref(j->pkt);
    j->pkt->data = j->annexb;
    j->pkt->size = (int)len;
    j->pkt->pts = j->pkt->dts = pts;
    if (key)
        j->pkt->flags |= AV_PKT_FLAG_KEY;
    int rc = avcodec_send_packet(j->dec, j->pkt);
    j->pkt->data = NULL; /* not av_packet's: never freed through it */
    j->pkt->size = 0;
    if (rc < 0) {
        j->need_key = true;
        return rc == AVERROR(EAGAIN) ? 0 : -EBADMSG;
    }
    j->need_key = false;
    int got = 0;
    for (;;) { /* drain: with low delay there is at most one picture */
        rc = avcodec_receive_frame(j->dec, j->pic);
        if (rc < 0)
            break;
        if (encode && !got && j->pic->width > 0 && j->pic->height > 0) {
            int e = cv_jpeg_encode(j, out, out_len);
            if (e < 0) {
                av_frame_unref(j->pic);
                return e;
            }
            got = 1;
        }
        av_frame_unref(j->pic);
    }
    return got;
}

static void cv_jpeg_size(void *state, unsigned *width, unsigned *height)
{
    const struct cv_jpeg *j = state;
    *width = j->out_w;
    *height = j->out_h;
}

const struct cv_xcode_ops cv_xcode_jpeg_ops = {
    .name = "jpeg",
    .open = cv_jpeg_open,
    .feed = cv_jpeg_feed,
    .size = cv_jpeg_size,
    .close = cv_jpeg_close,
};
