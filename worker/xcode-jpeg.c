/*
 * Part of camvisor-ffmpeg.so: the `jpeg` encoder (worker/xcode.h). The camera's decoded pictures
 * scaled to the size asked (worker/xcode-scale.h) as full-range 4:2:0 and encoded as baseline
 * JPEG by FFmpeg's mjpeg encoder. One per jpeg variant: snapshots (/api/frame.jpeg) and MJPEG
 * share it.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <stdlib.h>
#include <string.h>

#include "worker/xcode-scale.h"
#include "worker/xcode.h"

#define CV_JPEG_QSCALE 4 /* 2 (best) .. 31: 4 looks like the camera at a fifth of a BMP */

struct cv_jpeg {
    AVCodecContext *enc; /* owned */
    struct cv_xscale scale;
    AVPacket *pkt; /* owned */
    unsigned clock_rate;
};

static void cv_jpeg_close(void *state)
{
    struct cv_jpeg *j = state;
    if (!j)
        return;
    avcodec_free_context(&j->enc);
    cv_xscale_free(&j->scale);
    av_packet_free(&j->pkt);
    free(j);
}

static int cv_jpeg_open(void **state, const struct cv_xcode_enc_params *p)
{
    struct cv_jpeg *j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    j->scale.want_w = p->width;
    j->scale.want_h = p->height;
    j->clock_rate = p->clock_rate;
    j->pkt = av_packet_alloc();
    if (!j->pkt) {
        cv_jpeg_close(j);
        return -ENOMEM;
    }
    *state = j;
    return 0;
}

/* The encoder for the scaled picture's size (re)opened when that size changes. */
static int cv_jpeg_setup(struct cv_jpeg *j, const AVFrame *pic)
{
    avcodec_free_context(&j->enc);
    const AVCodec *codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    j->enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (!j->enc)
        return -ENOMEM;
    j->enc->width = pic->width;
    j->enc->height = pic->height;
    j->enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
    j->enc->color_range = AVCOL_RANGE_JPEG;
    j->enc->time_base = (AVRational){1, (int)j->clock_rate};
    j->enc->flags |= AV_CODEC_FLAG_QSCALE;
    j->enc->global_quality = FF_QP2LAMBDA * CV_JPEG_QSCALE;
    if (avcodec_open2(j->enc, codec, NULL) < 0) {
        avcodec_free_context(&j->enc);
        return -EINVAL;
    }
    return 0;
}

static int cv_jpeg_encode(void *state, const struct cv_xcode_pic *in, int64_t pts, bool force_key,
                          const uint8_t **out, size_t *out_len, bool *key)
{
    (void)force_key; /* every JPEG is a keyframe */
    struct cv_jpeg *j = state;
    bool changed;
    AVFrame *pic = cv_xscale_run(&j->scale, (const AVFrame *)in, true, &changed);
    if (!pic)
        return -EINVAL;
    if (changed || !j->enc) {
        int rc = cv_jpeg_setup(j, pic);
        if (rc < 0)
            return rc;
    }
    pic->pts = pts;
    av_packet_unref(j->pkt);
    if (avcodec_send_frame(j->enc, pic) < 0 || avcodec_receive_packet(j->enc, j->pkt) < 0)
        return -EIO;
    *out = j->pkt->data;
    *out_len = (size_t)j->pkt->size;
    *key = true;
    return 1;
}

static bool cv_jpeg_track(void *state, struct cv_track_info *t)
{
    const struct cv_jpeg *j = state;
    if (!j->enc)
        return false;
    memset(t, 0, sizeof(*t));
    t->kind = CV_TRACK_VIDEO;
    t->codec = CV_CODEC_JPEG;
    t->clock_rate = j->clock_rate;
    t->width = (uint16_t)j->enc->width;
    t->height = (uint16_t)j->enc->height;
    return true;
}

const struct cv_xcode_enc_ops cv_xcode_jpeg_ops = {
    .name = "jpeg",
    .codec = CV_CODEC_JPEG,
    .open = cv_jpeg_open,
    .encode = cv_jpeg_encode,
    .track = cv_jpeg_track,
    .close = cv_jpeg_close,
};
