/*
 * testsrc:// — a built-in camera: a moving pattern with a running clock, encoded with libx264
 * (or libx265 with codec=h265) and paced at real time, so the server shows video with no camera.
 *
 *     testsrc://?width=640&height=360&fps=25&gop=25&codec=h264&bitrate=1000000
 */
#include <errno.h>
#include <event2/event.h>
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/query.h"
#include "common/media/nal.h"
#include "worker/worker.h"

struct cv_testsrc {
    struct cv_worker *w;
    AVCodecContext *enc; /* owned */
    AVFrame *frame;      /* owned */
    AVPacket *pkt;       /* owned */
    struct event *tick;  /* owned */
    enum cv_codec codec;
    int width, height, fps;
    int64_t index;
    uint64_t start_ns;
    struct cv_stream_info info;
    uint8_t *lp; /* owned: length-prefixed copy of the current packet */
    size_t lp_cap;
};

/* Seven-segment digits: bit i lights segment i (a b c d e f g). */
static const uint8_t cv_segments[10] = {0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f};

static void cv_fill(AVFrame *f, int x, int y, int w, int h, uint8_t luma)
{
    for (int j = y; j < y + h && j < f->height; j++)
        if (j >= 0)
            for (int i = x; i < x + w && i < f->width; i++)
                if (i >= 0)
                    f->data[0][j * f->linesize[0] + i] = luma;
}

static void cv_draw_digit(AVFrame *f, int x, int y, int s, int d)
{
    uint8_t m = d < 0 ? 0x40 /* '-' */ : cv_segments[d];
    int t = s / 4 + 1;
    const int seg[7][4] = {
        {t, 0, s, t},     {s, t, t, s}, {s, s + t, t, s}, {t, 2 * s, s, t},
        {0, s + t, t, s}, {0, t, t, s}, {t, s, s, t},
    };
    for (int i = 0; i < 7; i++)
        if (m & (1 << i))
            cv_fill(f, x + seg[i][0], y + seg[i][1], seg[i][2], seg[i][3], 235);
}

/* A diagonal gradient that scrolls, a box that bounces, and HH:MM:SS.mmm of the wall clock. */
static void cv_testsrc_draw(struct cv_testsrc *t)
{
    AVFrame *f = t->frame;
    int shift = (int)(t->index * 4);
    for (int y = 0; y < f->height; y++) {
        uint8_t *row = f->data[0] + y * f->linesize[0];
        for (int x = 0; x < f->width; x++)
            row[x] = (uint8_t)(16 + ((x + y + shift) & 0x7f));
    }
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < f->height / 2; y++)
            memset(f->data[p] + y * f->linesize[p], p == 1 ? 100 + (int)(t->index % 56) : 150,
                   (size_t)f->width / 2);
    int bw = f->width / 8, period = 2 * (f->width - bw);
    int bx = period > 0 ? (int)((t->index * 8) % period) : 0;
    if (bx > f->width - bw)
        bx = period - bx;
    cv_fill(f, bx, f->height / 2, bw, bw, 40);

    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int digits[12] = {tm.tm_hour / 10,
                      tm.tm_hour % 10,
                      -1,
                      tm.tm_min / 10,
                      tm.tm_min % 10,
                      -1,
                      tm.tm_sec / 10,
                      tm.tm_sec % 10,
                      -1,
                      (int)(ts.tv_nsec / 100000000),
                      (int)(ts.tv_nsec / 10000000 % 10),
                      (int)(ts.tv_nsec / 1000000 % 10)};
    int s = f->height / 16 > 4 ? f->height / 16 : 4;
    cv_fill(f, 4, 4, 12 * (s + s / 2) + s, 2 * s + s / 2 + 8, 16);
    for (int i = 0; i < 12; i++)
        cv_draw_digit(f, 8 + i * (s + s / 2), 8, s, digits[i]);
}

static void cv_testsrc_emit(struct cv_testsrc *t, AVPacket *pkt)
{
    if ((size_t)pkt->size + 64 > t->lp_cap) {
        size_t cap = (size_t)pkt->size * 2 + 64;
        uint8_t *p = realloc(t->lp, cap);
        if (!p)
            return;
        t->lp = p;
        t->lp_cap = cap;
    }
    int n = cv_nal_annexb_to_lp(pkt->data, (size_t)pkt->size, t->lp, t->lp_cap);
    if (n <= 0)
        return;
    /* Keep the ring's parameter sets current: late joiners start from them. */
    struct cv_track_info *ti = &t->info.tracks[0];
    uint8_t params[CV_MAX_EXTRADATA];
    int pn = cv_nal_params(t->codec, t->lp, (size_t)n, params, sizeof(params));
    if (pn > 0 && ((size_t)pn != ti->extradata_len || memcmp(params, ti->extradata, (size_t)pn))) {
        memcpy(ti->extradata, params, (size_t)pn);
        ti->extradata_len = (uint16_t)pn;
        cv_worker_set_info(t->w, &t->info);
        cv_worker_set_state(t->w, CV_STATE_STREAMING, NULL);
    }
    if (ti->extradata_len == 0)
        return; /* nothing decodable before the first parameter sets */
    bool key = (pkt->flags & AV_PKT_FLAG_KEY) || cv_nal_is_keyframe(t->codec, t->lp, (size_t)n);
    int64_t pts90 = pkt->pts * 90000 / t->fps, dts90 = pkt->dts * 90000 / t->fps;
    cv_worker_publish(t->w, 0, t->lp, (size_t)n, pts90, dts90, key, cv_clock_mono_ns());
}

static void cv_testsrc_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_testsrc *t = arg;
    /* Catch up on missed ticks rather than drift, but never burst more than a second. */
    uint64_t due = (cv_clock_mono_ns() - t->start_ns) * (uint64_t)t->fps / 1000000000ull;
    if (due > (uint64_t)t->index + (uint64_t)t->fps)
        t->index = (int64_t)due - t->fps;
    while ((uint64_t)t->index <= due) {
        if (av_frame_make_writable(t->frame) < 0)
            return;
        cv_testsrc_draw(t);
        t->frame->pts = t->index++;
        if (avcodec_send_frame(t->enc, t->frame) < 0) {
            cv_err("testsrc: encoder refused a frame");
            return;
        }
        while (avcodec_receive_packet(t->enc, t->pkt) == 0) {
            cv_testsrc_emit(t, t->pkt);
            av_packet_unref(t->pkt);
        }
    }
}

static void cv_testsrc_stop(void *state)
{
    struct cv_testsrc *t = state;
    if (!t)
        return;
    if (t->tick)
        event_free(t->tick);
    av_packet_free(&t->pkt);
    av_frame_free(&t->frame);
    avcodec_free_context(&t->enc);
    free(t->lp);
    free(t);
}

static int cv_testsrc_int(const char *query, const char *key, int def, int lo, int hi)
{
    char v[32];
    int rc = cv_query_get(query, key, v, sizeof(v));
    if (rc == -ENOENT)
        return def;
    if (rc < 0) {
        cv_warn("testsrc: %s: value too long or badly escaped, using %d", key, def);
        return def;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) {
        cv_warn("testsrc: %s=%s out of range %d..%d, using %d", key, v, lo, hi, def);
        return def;
    }
    return (int)n;
}

static int cv_testsrc_start(struct cv_worker *w, const struct cv_msg_camera *cam, void **state)
{
    const char *q = strchr(cam->url, '?');
    q = q ? q + 1 : "";
    char codec[16] = "h264";
    cv_query_get(q, "codec", codec, sizeof(codec));

    struct cv_testsrc *t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->w = w;
    t->width = cv_testsrc_int(q, "width", 640, 16, 3840) & ~1;
    t->height = cv_testsrc_int(q, "height", 360, 16, 2160) & ~1;
    t->fps = cv_testsrc_int(q, "fps", 25, 1, 60);
    int gop = cv_testsrc_int(q, "gop", t->fps, 1, 600);
    int bitrate = cv_testsrc_int(q, "bitrate", 1000000, 10000, 50000000);
    t->codec =
        strcmp(codec, "h265") == 0 || strcmp(codec, "hevc") == 0 ? CV_CODEC_H265 : CV_CODEC_H264;
    const char *encname = t->codec == CV_CODEC_H265 ? "libx265" : "libx264";
    const AVCodec *enc = avcodec_find_encoder_by_name(encname);
    int rc = -ENOENT;
    if (!enc) {
        cv_err("testsrc: encoder %s not available", encname);
        goto fail;
    }
    rc = -ENOMEM;
    t->enc = avcodec_alloc_context3(enc);
    t->frame = av_frame_alloc();
    t->pkt = av_packet_alloc();
    if (!t->enc || !t->frame || !t->pkt)
        goto fail;
    t->enc->width = t->width;
    t->enc->height = t->height;
    t->enc->pix_fmt = AV_PIX_FMT_YUV420P;
    t->enc->time_base = (AVRational){1, t->fps};
    t->enc->framerate = (AVRational){t->fps, 1};
    t->enc->gop_size = gop;
    t->enc->max_b_frames = 0;
    t->enc->bit_rate = bitrate;
    t->enc->thread_count = 1;
    av_opt_set(t->enc->priv_data, "preset", "ultrafast", 0);
    av_opt_set(t->enc->priv_data, "tune", "zerolatency", 0);
    if (t->codec == CV_CODEC_H265)
        av_opt_set(t->enc->priv_data, "x265-params", "log-level=error:repeat-headers=1", 0);
    if ((rc = avcodec_open2(t->enc, enc, NULL)) < 0) {
        cv_err("testsrc: cannot open %s: %s", encname, av_err2str(rc));
        rc = -EINVAL;
        goto fail;
    }
    t->frame->format = AV_PIX_FMT_YUV420P;
    t->frame->width = t->width;
    t->frame->height = t->height;
    if (av_frame_get_buffer(t->frame, 0) < 0)
        goto fail;

    t->info.track_count = 1;
    t->info.tracks[0] = (struct cv_track_info){.kind = CV_TRACK_VIDEO,
                                               .codec = (uint8_t)t->codec,
                                               .clock_rate = 90000,
                                               .width = (uint16_t)t->width,
                                               .height = (uint16_t)t->height,
                                               .fps_x100 = (uint16_t)(t->fps * 100)};
    t->tick = event_new(cv_worker_base(w), -1, EV_PERSIST, cv_testsrc_tick, t);
    if (!t->tick)
        goto fail;
    struct timeval tv = {0, 1000000 / t->fps};
    event_add(t->tick, &tv);
    t->start_ns = cv_clock_mono_ns();
    cv_info("testsrc: %dx%d %d fps %s, GOP %d", t->width, t->height, t->fps, encname, gop);
    *state = t;
    return 0;
fail:
    cv_testsrc_stop(t);
    return rc;
}

const struct cv_source_ops cv_src_testsrc_ops = {
    .scheme = "testsrc",
    .start = cv_testsrc_start,
    .stop = cv_testsrc_stop,
};
