/*
 * Part of camvisor-ffmpeg.so: a camera's one video decoder (worker/xcode.h). H.264 or H.265
 * access units in, pictures in system memory out, for every encoder of the camera's variants.
 *
 * Hardware first: hwaccel auto tries NVIDIA's decoder (CUDA device, NVDEC) and then VAAPI (the
 * first /dev/dri render node), else libavcodec's software decoder; nvdec or vaapi named tries that
 * one only. A device that does not open, or a decoder that will not use it, falls back to
 * software with the reason in the path string the worker logs once and reports. Hardware pictures
 * are copied to system memory (av_hwframe_transfer_data): the encoders today are software ones
 * (libx264, mjpeg), and the GPUs this runs on may have no encoder (datacenter cards lack NVENC).
 * A hardware decoder that keeps failing at run time is replaced by the software one.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/hwcontext.h>
#include <libavutil/log.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/xcode.h"

/* Errors in a row from a hardware decoder before it is given up for software. */
#define CV_DEC_HW_FAILS 8

struct cv_dec {
    AVCodecContext *ctx;       /* owned */
    AVBufferRef *hw_dev;       /* owned; NULL in software */
    enum AVPixelFormat hw_fmt; /* the hardware surface format, AV_PIX_FMT_NONE in software */
    AVFrame *hw_pic, *pic;     /* owned: as decoded; in system memory */
    AVPacket *pkt;             /* owned */
    uint8_t *annexb;           /* owned: the access unit with start codes */
    size_t annexb_cap;
    struct cv_track_info in; /* to reopen in software; its extradata, the newest parameter sets */
    bool params_pending;     /* new ones: in front of the next keyframe */
    unsigned hw_fails;
    bool need_key;
};

/* The ring's 4-byte big-endian lengths become 4-byte start codes: same size, so a copy. */
static int cv_dec_to_annexb(uint8_t *dst, const uint8_t *src, size_t len)
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

static enum AVPixelFormat cv_dec_get_format(AVCodecContext *ctx, const enum AVPixelFormat *fmts)
{
    const struct cv_dec *d = ctx->opaque;
    for (const enum AVPixelFormat *p = fmts; *p != AV_PIX_FMT_NONE; p++)
        if (*p == d->hw_fmt)
            return *p;
    /* The hardware cannot take this stream (a profile it lacks): software for it. */
    return avcodec_default_get_format(ctx, fmts);
}

static void cv_dec_free_ctx(struct cv_dec *d)
{
    avcodec_free_context(&d->ctx);
    av_buffer_unref(&d->hw_dev);
    d->hw_fmt = AV_PIX_FMT_NONE;
}

/* The device of one hardware kind, and the surface format its decoder gives for codec: 0, or a
 * negative errno with the reason in why. */
static int cv_dec_hw_device(struct cv_dec *d, const AVCodec *codec, enum AVHWDeviceType type,
                            char *why, size_t cap)
{
    enum AVPixelFormat fmt = AV_PIX_FMT_NONE;
    for (int i = 0;; i++) {
        const AVCodecHWConfig *c = avcodec_get_hw_config(codec, i);
        if (!c)
            break;
        if ((c->methods & AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) && c->device_type == type) {
            fmt = c->pix_fmt;
            break;
        }
    }
    if (fmt == AV_PIX_FMT_NONE) {
        snprintf(why, cap, "this FFmpeg's %s decoder has no %s support", codec->name,
                 av_hwdevice_get_type_name(type));
        return -ENOTSUP;
    }
    /* FFmpeg's own complaints while probing ("Cannot load libcuda.so.1") are not errors here:
     * the reason goes into the one line the worker logs. */
    int level = av_log_get_level();
    av_log_set_level(AV_LOG_QUIET);
    int rc = av_hwdevice_ctx_create(&d->hw_dev, type, NULL, NULL, 0);
    av_log_set_level(level);
    if (rc < 0) {
        char err[64];
        av_strerror(rc, err, sizeof(err));
        snprintf(why, cap, "no %s device (%s)", av_hwdevice_get_type_name(type), err);
        return -ENODEV;
    }
    d->hw_fmt = fmt;
    return 0;
}

/* Opens the decoder, on hardware type (AV_HWDEVICE_TYPE_NONE: software). */
static int cv_dec_open_ctx(struct cv_dec *d, enum AVHWDeviceType type, char *why, size_t cap)
{
    const AVCodec *codec =
        avcodec_find_decoder(d->in.codec == CV_CODEC_H264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_HEVC);
    if (!codec) {
        snprintf(why, cap, "no %s decoder in this FFmpeg", cv_codec_name(d->in.codec));
        return -ENOTSUP;
    }
    if (type != AV_HWDEVICE_TYPE_NONE) {
        int rc = cv_dec_hw_device(d, codec, type, why, cap);
        if (rc < 0)
            return rc;
    }
    d->ctx = avcodec_alloc_context3(codec);
    if (!d->ctx)
        goto fail_nomem;
    /* One thread and low delay: a picture comes out for the access unit that made it (frame
     * threads would hold several back, which is latency for every viewer). */
    d->ctx->thread_count = 1;
    d->ctx->flags |= AV_CODEC_FLAG_LOW_DELAY;
    /* A camera's parameter sets are outside input: no picture larger than 8K UHD is allocated
     * (FFmpeg's own bound is INT_MAX pixels). */
    d->ctx->max_pixels = 7680 * 4320;
    d->ctx->opaque = d;
    if (d->hw_dev) {
        d->ctx->hw_device_ctx = av_buffer_ref(d->hw_dev);
        d->ctx->get_format = cv_dec_get_format;
        if (!d->ctx->hw_device_ctx)
            goto fail_nomem;
    }
    if (d->in.extradata_len) {
        d->ctx->extradata = av_mallocz(d->in.extradata_len + AV_INPUT_BUFFER_PADDING_SIZE);
        if (!d->ctx->extradata)
            goto fail_nomem;
        if (cv_dec_to_annexb(d->ctx->extradata, d->in.extradata, d->in.extradata_len) < 0) {
            snprintf(why, cap, "the camera's parameter sets do not parse");
            cv_dec_free_ctx(d);
            return -EBADMSG;
        }
        d->ctx->extradata_size = d->in.extradata_len;
    }
    if (avcodec_open2(d->ctx, codec, NULL) < 0) {
        snprintf(why, cap, "the %s decoder did not open%s", codec->name,
                 d->hw_dev ? " on this device" : "");
        cv_dec_free_ctx(d);
        return -EINVAL;
    }
    return 0;
fail_nomem:
    cv_dec_free_ctx(d);
    snprintf(why, cap, "out of memory");
    return -ENOMEM;
}

static void cv_dec_close(void *state)
{
    struct cv_dec *d = state;
    if (!d)
        return;
    cv_dec_free_ctx(d);
    av_frame_free(&d->hw_pic);
    av_frame_free(&d->pic);
    av_packet_free(&d->pkt);
    free(d->annexb);
    free(d);
}

static int cv_dec_open(void **state, const struct cv_track_info *in, enum cv_xcode_hw hw,
                       char *path, size_t cap)
{
    *state = NULL;
    snprintf(path, cap, "software");
    if (in->codec != CV_CODEC_H264 && in->codec != CV_CODEC_H265)
        return -ENOTSUP;
    struct cv_dec *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->in = *in;
    d->hw_fmt = AV_PIX_FMT_NONE;
    d->need_key = true;
    d->hw_pic = av_frame_alloc();
    d->pic = av_frame_alloc();
    d->pkt = av_packet_alloc();
    if (!d->hw_pic || !d->pic || !d->pkt) {
        cv_dec_close(d);
        return -ENOMEM;
    }
    static const struct {
        enum cv_xcode_hw hw;
        enum AVHWDeviceType type;
        const char *name;
    } tries[] = {{CV_XCODE_HW_NVDEC, AV_HWDEVICE_TYPE_CUDA, "nvdec"},
                 {CV_XCODE_HW_VAAPI, AV_HWDEVICE_TYPE_VAAPI, "vaapi"}};
    char why[2][160] = {"", ""};
    for (size_t i = 0; i < 2 && hw != CV_XCODE_HW_NONE; i++) {
        if (hw != CV_XCODE_HW_AUTO && hw != tries[i].hw)
            continue;
        if (cv_dec_open_ctx(d, tries[i].type, why[i], sizeof(why[i])) == 0) {
            snprintf(path, cap, "%s", tries[i].name);
            *state = d;
            return 0;
        }
    }
    char reason[400] = "";
    if (hw == CV_XCODE_HW_NONE)
        snprintf(reason, sizeof(reason), "hwaccel = none");
    else
        snprintf(reason, sizeof(reason), "%s%s%s%s%s", why[0][0] ? "nvdec: " : "", why[0],
                 why[0][0] && why[1][0] ? "; " : "", why[1][0] ? "vaapi: " : "", why[1]);
    char swhy[160];
    int rc = cv_dec_open_ctx(d, AV_HWDEVICE_TYPE_NONE, swhy, sizeof(swhy));
    if (rc < 0) {
        snprintf(path, cap, "none: %s", swhy);
        cv_dec_close(d);
        return rc;
    }
    snprintf(path, cap, "software (%s)", reason);
    *state = d;
    return 0;
}

/* The hardware decoder given up: software from the next keyframe. */
static int cv_dec_fall_back(struct cv_dec *d)
{
    char why[160];
    cv_dec_free_ctx(d);
    d->need_key = true;
    d->hw_fails = 0;
    return cv_dec_open_ctx(d, AV_HWDEVICE_TYPE_NONE, why, sizeof(why)) < 0 ? -EIO
                                                                           : -ENOTRECOVERABLE;
}

static int cv_dec_feed(void *state, const uint8_t *data, size_t len, int64_t pts, bool key,
                       const struct cv_xcode_pic **pic, int64_t *pic_pts)
{
    struct cv_dec *d = state;
    if (!d->ctx)
        return -EIO;
    if (d->need_key && !key)
        return 0;
    /* New parameter sets go in band, in front of the keyframe that needs them. */
    size_t pre = key && d->params_pending ? d->in.extradata_len : 0;
    if (pre + len + AV_INPUT_BUFFER_PADDING_SIZE > d->annexb_cap) {
        size_t cap = pre + len + AV_INPUT_BUFFER_PADDING_SIZE;
        uint8_t *b = realloc(d->annexb, cap);
        if (!b)
            return -ENOMEM;
        d->annexb = b;
        d->annexb_cap = cap;
    }
    if ((pre && cv_dec_to_annexb(d->annexb, d->in.extradata, pre) < 0) ||
        cv_dec_to_annexb(d->annexb + pre, data, len) < 0) {
        d->need_key = true;
        return -EBADMSG;
    }
    if (key)
        d->params_pending = false;
    len += pre;
    memset(d->annexb + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
    av_packet_unref(d->pkt);
    d->pkt->data = d->annexb;
    d->pkt->size = (int)len;
    d->pkt->pts = d->pkt->dts = pts;
    if (key)
        d->pkt->flags |= AV_PKT_FLAG_KEY;
    av_frame_unref(d->pic);
    av_frame_unref(d->hw_pic);
    int rc = avcodec_send_packet(d->ctx, d->pkt);
    if (rc == AVERROR(EAGAIN)) {
        /* A picture not taken yet blocks the input (not expected with low delay, one thread):
         * take what is there, keeping the newest, and send again. */
        while (avcodec_receive_frame(d->ctx, d->hw_pic) == 0)
            av_frame_unref(d->hw_pic);
        rc = avcodec_send_packet(d->ctx, d->pkt);
    }
    d->pkt->data = NULL; /* not av_packet's: never freed through it */
    d->pkt->size = 0;
    if (rc < 0) {
        d->need_key = true;
        if (d->hw_dev && ++d->hw_fails >= CV_DEC_HW_FAILS)
            return cv_dec_fall_back(d);
        return -EBADMSG;
    }
    d->need_key = false;
    rc = avcodec_receive_frame(d->ctx, d->hw_pic);
    if (rc < 0) /* with low delay a picture comes for its own access unit, or none */
        return rc == AVERROR(EAGAIN) || rc == AVERROR_EOF ? 0 : -EBADMSG;
    /* Should more than one come, the newest is the one to show. */
    while (avcodec_receive_frame(d->ctx, d->pic) == 0) {
        av_frame_unref(d->hw_pic);
        av_frame_move_ref(d->hw_pic, d->pic);
    }
    AVFrame *out = d->hw_pic;
    if (d->hw_dev && d->hw_pic->format == d->hw_fmt) {
        if (av_hwframe_transfer_data(d->pic, d->hw_pic, 0) < 0) {
            if (++d->hw_fails >= CV_DEC_HW_FAILS)
                return cv_dec_fall_back(d);
            return -EIO;
        }
        d->pic->pts = d->hw_pic->pts;
        d->pic->color_range = d->hw_pic->color_range;
        out = d->pic;
    }
    d->hw_fails = 0;
    if (out->width <= 0 || out->height <= 0)
        return 0;
    *pic = (const struct cv_xcode_pic *)out;
    *pic_pts = out->best_effort_timestamp != AV_NOPTS_VALUE ? out->best_effort_timestamp
               : out->pts != AV_NOPTS_VALUE                 ? out->pts
                                                            : pts;
    return 1;
}

/* The camera's parameter sets changed (a new resolution, a camera reconnected): taken in band
 * at the next keyframe, without reopening the decoder (nor, on a GPU, its device). */
static int cv_dec_params(void *state, const struct cv_track_info *in)
{
    struct cv_dec *d = state;
    if (in->codec != d->in.codec)
        return -EINVAL;
    d->in = *in;
    d->params_pending = in->extradata_len > 0;
    return 0;
}

const struct cv_xcode_dec_ops cv_xcode_dec_ops = {
    .open = cv_dec_open,
    .params = cv_dec_params,
    .feed = cv_dec_feed,
    .close = cv_dec_close,
};
