/* A decoded picture scaled for one encoder: see worker/xcode-scale.h. */
#include "worker/xcode-scale.h"

#include <libswscale/swscale.h>

#include "common/media/scale.h"

void cv_xscale_free(struct cv_xscale *s)
{
    sws_freeContext(s->sws);
    s->sws = NULL;
    av_frame_free(&s->out);
}

/* A scaler and output frame for src's size and format, fitted to the size asked. */
static int cv_xscale_setup(struct cv_xscale *s, const AVFrame *src, bool full_range)
{
    unsigned uw, uh;
    if (cv_scale_fit((unsigned)src->width, (unsigned)src->height, s->want_w, s->want_h, &uw, &uh) <
        0)
        return -1;
    cv_xscale_free(s);
    /* A scaler even at the same size: the decoder's format (4:2:0 10-bit, 4:2:2, NV12 off a
     * GPU) is not always the encoder's, and the range may need converting. */
    s->sws = sws_getContext(src->width, src->height, src->format, (int)uw, (int)uh,
                            AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
    s->out = av_frame_alloc();
    if (!s->sws || !s->out)
        return -1;
    const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(s->sws, coef, src->color_range == AVCOL_RANGE_JPEG, coef, full_range,
                             0, 1 << 16, 1 << 16);
    /* Full range is what the deprecated yuvj formats meant, and what mjpeg is told by one. */
    s->out->format = full_range ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    s->out->width = (int)uw;
    s->out->height = (int)uh;
    s->out->color_range = full_range ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG;
    if (av_frame_get_buffer(s->out, 0) < 0)
        return -1;
    s->src_w = src->width;
    s->src_h = src->height;
    s->src_fmt = src->format;
    s->src_range = src->color_range;
    return 0;
}

AVFrame *cv_xscale_run(struct cv_xscale *s, const AVFrame *src, bool full_range, bool *changed)
{
    *changed = false;
    if (!s->sws || s->src_w != src->width || s->src_h != src->height || s->src_fmt != src->format ||
        s->src_range != (int)src->color_range) {
        int ow = s->out ? s->out->width : 0, oh = s->out ? s->out->height : 0;
        if (cv_xscale_setup(s, src, full_range) < 0) {
            cv_xscale_free(s);
            return NULL;
        }
        *changed = s->out->width != ow || s->out->height != oh;
    }
    if (av_frame_make_writable(s->out) < 0)
        return NULL;
    sws_scale(s->sws, (const uint8_t *const *)src->data, src->linesize, 0, src->height,
              s->out->data, s->out->linesize);
    s->out->pts = src->pts;
    return s->out;
}
