/*
 * Part of camvisor-ffmpeg.so: the `h264` encoder (worker/xcode.h), libx264 through libavcodec,
 * set for live viewing: preset ultrafast and tune zerolatency (no lookahead, no frame threads: a
 * picture in, its packet out), no B-frames, no scene-cut keyframes. Keyframes are IDRs with
 * their SPS and PPS in front (a viewer that joins at one needs nothing else), made when asked
 * (a PLI, a new viewer) and at least every CV_H264_KEY_MAX_S seconds of input time.
 *
 * Output is in ring format: the encoder's Annex B start codes become 4-byte lengths, and the
 * track's extradata (SPS and PPS) is taken from the first keyframe.
 */
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <stdlib.h>
#include <string.h>

#include "common/media/nal.h"
#include "worker/xcode-scale.h"
#include "worker/xcode.h"

#define CV_H264_KEY_MAX_S 2 /* seconds of input between keyframes, at most */

struct cv_h264 {
    AVCodecContext *enc; /* owned */
    struct cv_xscale scale;
    AVPacket *pkt; /* owned */
    uint8_t *out;  /* owned: the access unit in ring format */
    size_t out_cap;
    struct cv_track_info track; /* its extradata once a keyframe came out */
    unsigned bitrate, clock_rate, fps_x100;
    int64_t last_key_pts;
    bool have_key;
};

static void cv_h264_close(void *state)
{
    struct cv_h264 *h = state;
    if (!h)
        return;
    avcodec_free_context(&h->enc);
    cv_xscale_free(&h->scale);
    av_packet_free(&h->pkt);
    free(h->out);
    free(h);
}

static int cv_h264_open(void **state, const struct cv_xcode_enc_params *p)
{
    if (!avcodec_find_encoder_by_name("libx264"))
        return -ENOTSUP;
    struct cv_h264 *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->scale.want_w = p->width;
    h->scale.want_h = p->height;
    h->bitrate = p->bitrate;
    h->clock_rate = p->clock_rate ? p->clock_rate : 90000;
    h->fps_x100 = p->fps_x100 >= 100 && p->fps_x100 <= 12000 ? p->fps_x100 : 0;
    h->pkt = av_packet_alloc();
    if (!h->pkt) {
        cv_h264_close(h);
        return -ENOMEM;
    }
    *state = h;
    return 0;
}

/* The encoder for the scaled picture's size, (re)opened when that size changes. */
static int cv_h264_setup(struct cv_h264 *h, const AVFrame *pic)
{
    avcodec_free_context(&h->enc);
    const AVCodec *codec = avcodec_find_encoder_by_name("libx264");
    h->enc = codec ? avcodec_alloc_context3(codec) : NULL;
    if (!h->enc)
        return -ENOMEM;
    /* Two bits a pixel a second unless told: 4 Mbit/s at 1080p, 1.8 at 720p. */
    unsigned rate = h->bitrate ? h->bitrate : (unsigned)(pic->width * pic->height) * 2u;
    h->enc->width = pic->width;
    h->enc->height = pic->height;
    h->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    h->enc->color_range = AVCOL_RANGE_MPEG;
    h->enc->time_base = (AVRational){1, (int)h->clock_rate};
    /* The bits a frame: without a rate, x264 takes one frame a tick of the time base. */
    h->enc->framerate = (AVRational){h->fps_x100 ? (int)h->fps_x100 : 2500, 100};
    h->enc->bit_rate = rate;
    h->enc->rc_max_rate = rate;
    h->enc->rc_buffer_size = (int)rate; /* a second of VBV: bounded bursts, no added delay */
    h->enc->max_b_frames = 0;
    h->enc->gop_size = 0x7fffffff; /* keyframes come when this file asks for them */
    h->enc->thread_count = 0;      /* zerolatency: sliced threads, which add no delay */
    av_opt_set(h->enc->priv_data, "preset", "ultrafast", 0);
    av_opt_set(h->enc->priv_data, "tune", "zerolatency", 0);
    av_opt_set_int(h->enc->priv_data, "forced-idr", 1, 0);
    av_opt_set(h->enc->priv_data, "x264-params", "scenecut=0:repeat-headers=1", 0);
    /* The level its size needs at 30 fps (the input's rate is not known to the encoder, which
     * would otherwise write the highest, 6.2, that some decoders refuse). */
    int pixels = pic->width * pic->height;
    av_opt_set(h->enc->priv_data, "level",
               pixels <= 1280 * 720    ? "3.1"
               : pixels <= 1920 * 1088 ? "4.1"
                                       : "5.1",
               0);
    if (avcodec_open2(h->enc, codec, NULL) < 0) {
        avcodec_free_context(&h->enc);
        return -EINVAL;
    }
    h->have_key = false;
    h->track.extradata_len = 0;
    return 0;
}

/* Annex B to the ring's format (common/media/nal.h); the SPS and PPS of a keyframe also into the
 * track's extradata. The number of bytes written, or a negative errno. */
static int cv_h264_to_ring(struct cv_h264 *h, const uint8_t *in, size_t len, bool key)
{
    size_t need = len + len / 3 + 16; /* every 3-byte start code may become a 4-byte length */
    if (need > h->out_cap) {
        uint8_t *b = realloc(h->out, need);
        if (!b)
            return -ENOMEM;
        h->out = b;
        h->out_cap = need;
    }
    int n = cv_nal_annexb_to_lp(in, len, h->out, h->out_cap);
    if (n > 0 && key) {
        int e = cv_nal_params(CV_CODEC_H264, h->out, (size_t)n, h->track.extradata,
                              sizeof(h->track.extradata));
        if (e > 0)
            h->track.extradata_len = (uint16_t)e;
    }
    return n;
}

static int cv_h264_encode(void *state, const struct cv_xcode_pic *in, int64_t pts, bool force_key,
                          const uint8_t **out, size_t *out_len, bool *key)
{
    struct cv_h264 *h = state;
    bool changed;
    AVFrame *pic = cv_xscale_run(&h->scale, (const AVFrame *)in, false, &changed);
    if (!pic)
        return -EINVAL;
    if (changed || !h->enc) {
        int rc = cv_h264_setup(h, pic);
        if (rc < 0)
            return rc;
    }
    bool due = !h->have_key ||
               pts - h->last_key_pts >= (int64_t)h->clock_rate * CV_H264_KEY_MAX_S ||
               pts < h->last_key_pts; /* the camera's clock went back */
    pic->pts = pts;
    pic->pict_type = force_key || due ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    int rc = avcodec_send_frame(h->enc, pic);
    pic->pict_type = AV_PICTURE_TYPE_NONE;
    if (rc < 0)
        return -EIO;
    av_packet_unref(h->pkt);
    rc = avcodec_receive_packet(h->enc, h->pkt);
    if (rc == AVERROR(EAGAIN))
        return 0;
    if (rc < 0)
        return -EIO;
    *key = (h->pkt->flags & AV_PKT_FLAG_KEY) != 0;
    int n = cv_h264_to_ring(h, h->pkt->data, (size_t)h->pkt->size, *key);
    if (n <= 0)
        return n < 0 ? n : -EIO;
    if (*key) {
        h->have_key = h->track.extradata_len > 0;
        h->last_key_pts = h->pkt->pts;
    }
    if (!h->have_key)
        return 0; /* nothing decodes before the first keyframe with its parameter sets */
    *out = h->out;
    *out_len = (size_t)n;
    return 1;
}

static bool cv_h264_track(void *state, struct cv_track_info *t)
{
    const struct cv_h264 *h = state;
    if (!h->enc || !h->have_key)
        return false;
    *t = h->track;
    t->kind = CV_TRACK_VIDEO;
    t->codec = CV_CODEC_H264;
    t->clock_rate = h->clock_rate;
    t->width = (uint16_t)h->enc->width;
    t->height = (uint16_t)h->enc->height;
    return true;
}

const struct cv_xcode_enc_ops cv_xcode_h264_ops = {
    .name = "h264",
    .codec = CV_CODEC_H264,
    .open = cv_h264_open,
    .encode = cv_h264_encode,
    .track = cv_h264_track,
    .close = cv_h264_close,
};
