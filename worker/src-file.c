/*
 * file: — a recorded clip played as a live camera: looped forever, paced at real time, codecs
 * passed through untouched (H.264/H.265 video, AAC/PCMA/PCMU/Opus audio).
 *
 *     file:/path/to/clip.mp4      (also file:///path and a plain path after "file:")
 */
#include <errno.h>
#include <event2/event.h>
#include <libavformat/avformat.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/media/nal.h"
#include "worker/worker.h"

struct cv_file_track {
    int stream; /* libavformat stream index */
    enum cv_codec codec;
    int len_size;  /* 0: Annex-B input; 1..4: MP4 length-prefixed input */
    AVRational tb; /* stream time base */
};

struct cv_filesrc {
    struct cv_worker *w;
    AVFormatContext *fmt; /* owned */
    AVPacket *pkt;        /* owned */
    struct event *tick;   /* owned */
    struct cv_stream_info info;
    struct cv_file_track tracks[CV_MAX_TRACKS];
    int map[64]; /* stream index -> track, -1 */
    uint64_t start_ns;
    int64_t loop_offset_us; /* added to timestamps after each loop so time keeps going up */
    int64_t last_us;        /* largest timestamp seen in this pass */
    bool pending;           /* pkt holds a packet not yet due */
    uint8_t *buf;           /* owned: converted frame */
    size_t buf_cap;
};

static enum cv_codec cv_file_codec(enum AVCodecID id)
{
    switch (id) {
    case AV_CODEC_ID_H264: return CV_CODEC_H264;
    case AV_CODEC_ID_HEVC: return CV_CODEC_H265;
    case AV_CODEC_ID_AAC: return CV_CODEC_AAC;
    case AV_CODEC_ID_PCM_ALAW: return CV_CODEC_PCMA;
    case AV_CODEC_ID_PCM_MULAW: return CV_CODEC_PCMU;
    case AV_CODEC_ID_OPUS: return CV_CODEC_OPUS;
    default: return CV_CODEC_NONE;
    }
}

static int cv_file_add_track(struct cv_filesrc *s, AVStream *st)
{
    enum cv_codec codec = cv_file_codec(st->codecpar->codec_id);
    if (codec == CV_CODEC_NONE || s->info.track_count == CV_MAX_TRACKS)
        return 0;
    uint32_t i = s->info.track_count;
    struct cv_track_info *ti = &s->info.tracks[i];
    struct cv_file_track *ft = &s->tracks[i];
    const AVCodecParameters *par = st->codecpar;
    *ft = (struct cv_file_track){.stream = st->index, .codec = codec, .tb = st->time_base};
    ti->codec = (uint8_t)codec;
    if (codec == CV_CODEC_H264 || codec == CV_CODEC_H265) {
        ti->kind = CV_TRACK_VIDEO;
        ti->clock_rate = 90000;
        ti->width = (uint16_t)par->width;
        ti->height = (uint16_t)par->height;
        if (st->avg_frame_rate.den)
            ti->fps_x100 = (uint16_t)(av_q2d(st->avg_frame_rate) * 100);
        int n = 0;
        if (par->extradata_size > 0 && par->extradata[0] == 1)
            n = cv_nal_from_mp4_config(codec, par->extradata, (size_t)par->extradata_size,
                                       ti->extradata, sizeof(ti->extradata), &ft->len_size);
        else if (par->extradata_size > 0)
            n = cv_nal_annexb_to_lp(par->extradata, (size_t)par->extradata_size, ti->extradata,
                                    sizeof(ti->extradata));
        if (n < 0)
            return n;
        ti->extradata_len = (uint16_t)n;
    } else {
        ti->kind = CV_TRACK_AUDIO;
        ti->clock_rate = (uint32_t)par->sample_rate;
        ti->channels = (uint16_t)par->ch_layout.nb_channels;
        if (codec == CV_CODEC_OPUS)
            ti->clock_rate = 48000;
        if (codec == CV_CODEC_AAC && par->extradata_size > 0) {
            if ((size_t)par->extradata_size > sizeof(ti->extradata))
                return -EINVAL;
            memcpy(ti->extradata, par->extradata, (size_t)par->extradata_size);
            ti->extradata_len = (uint16_t)par->extradata_size;
        }
    }
    if (st->index < 64)
        s->map[st->index] = (int)i;
    s->info.track_count++;
    return 0;
}

static int cv_file_emit(struct cv_filesrc *s, AVPacket *pkt, int64_t ts_us)
{
    int t = s->map[pkt->stream_index];
    struct cv_file_track *ft = &s->tracks[t];
    struct cv_track_info *ti = &s->info.tracks[t];
    const uint8_t *data = pkt->data;
    size_t len = (size_t)pkt->size;
    bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;

    if (ti->kind == CV_TRACK_VIDEO) {
        size_t need = len + 4 * 64 + 16;
        if (need > s->buf_cap) {
            uint8_t *p = realloc(s->buf, need);
            if (!p)
                return -ENOMEM;
            s->buf = p;
            s->buf_cap = need;
        }
        int n = ft->len_size ? cv_nal_resize_lp(data, len, ft->len_size, s->buf, s->buf_cap)
                             : cv_nal_annexb_to_lp(data, len, s->buf, s->buf_cap);
        if (n <= 0)
            return 0; /* skip a damaged packet, keep playing */
        data = s->buf;
        len = (size_t)n;
        uint8_t params[CV_MAX_EXTRADATA];
        int pn = cv_nal_params(ft->codec, data, len, params, sizeof(params));
        if (pn > 0 &&
            ((size_t)pn != ti->extradata_len || memcmp(params, ti->extradata, (size_t)pn))) {
            memcpy(ti->extradata, params, (size_t)pn);
            ti->extradata_len = (uint16_t)pn;
            cv_worker_set_info(s->w, &s->info);
        }
        key = key || cv_nal_is_keyframe(ft->codec, data, len);
    } else {
        /* Audio is a starting point only without video: the ring's newest keyframe must be a
         * picture a new viewer can decode from. */
        key = s->info.tracks[0].kind != CV_TRACK_VIDEO;
    }
    int64_t pts = ts_us * ti->clock_rate / 1000000;
    int64_t dts = pts;
    if (pkt->dts != AV_NOPTS_VALUE && pkt->pts != AV_NOPTS_VALUE)
        dts = pts - av_rescale_q(pkt->pts - pkt->dts, ft->tb, (AVRational){1, (int)ti->clock_rate});
    cv_worker_publish(s->w, (uint32_t)t, data, len, pts, dts, key, cv_clock_mono_ns());
    return 0;
}

/* Wakes the source again in us microseconds (a one-shot timer: no polling between packets). */
static void cv_file_schedule(struct cv_filesrc *s, int64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000), (suseconds_t)(us % 1000000)};
    event_add(s->tick, &tv);
}

/*
 * Reads and publishes every packet that is due, then sleeps until the first one from the future
 * is.
 */
static void cv_file_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_filesrc *s = arg;
    int64_t now_us = (int64_t)((cv_clock_mono_ns() - s->start_ns) / 1000);
    for (int budget = 256; budget > 0; budget--) {
        if (!s->pending) {
            int rc = av_read_frame(s->fmt, s->pkt);
            if (rc == AVERROR_EOF) {
                s->loop_offset_us += s->last_us + 40000;
                s->last_us = 0;
                if (avformat_seek_file(s->fmt, -1, INT64_MIN, 0, 0, 0) < 0)
                    cv_err("file: cannot loop (seek failed)");
                else
                    cv_file_schedule(s, 0);
                return;
            }
            if (rc < 0) {
                cv_err("file: read error: %s", av_err2str(rc));
                cv_worker_set_state(s->w, CV_STATE_RECONNECTING, "read error");
                return;
            }
            if (s->pkt->stream_index >= 64 || s->map[s->pkt->stream_index] < 0) {
                av_packet_unref(s->pkt);
                continue;
            }
            s->pending = true;
        }
        const struct cv_file_track *ft = &s->tracks[s->map[s->pkt->stream_index]];
        int64_t ts = s->pkt->dts != AV_NOPTS_VALUE ? s->pkt->dts : s->pkt->pts;
        int64_t us =
            ts == AV_NOPTS_VALUE ? s->last_us : av_rescale_q(ts, ft->tb, (AVRational){1, 1000000});
        if (us < 0)
            us = 0;
        if (us + s->loop_offset_us > now_us) {
            cv_file_schedule(s, us + s->loop_offset_us - now_us);
            return;
        }
        if (us > s->last_us)
            s->last_us = us;
        cv_file_emit(s, s->pkt, us + s->loop_offset_us);
        av_packet_unref(s->pkt);
        s->pending = false;
    }
    cv_file_schedule(s, 0); /* budget spent: let the loop breathe, then go on */
}

static void cv_file_stop(void *state)
{
    struct cv_filesrc *s = state;
    if (!s)
        return;
    if (s->tick)
        event_free(s->tick);
    av_packet_free(&s->pkt);
    avformat_close_input(&s->fmt);
    free(s->buf);
    free(s);
}

static int cv_file_start(struct cv_worker *w, const struct cv_msg_camera *cam, void **state)
{
    const char *path = cam->url + strlen("file:");
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    struct cv_filesrc *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->w = w;
    for (int i = 0; i < 64; i++)
        s->map[i] = -1;
    int rc = avformat_open_input(&s->fmt, path, NULL, NULL);
    if (rc < 0) {
        cv_err("file: cannot open %s: %s", path, av_err2str(rc));
        s->fmt = NULL;
        rc = -ENOENT;
        goto fail;
    }
    if ((rc = avformat_find_stream_info(s->fmt, NULL)) < 0) {
        cv_err("file: %s: %s", path, av_err2str(rc));
        rc = -EINVAL;
        goto fail;
    }
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if (s->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            (rc = cv_file_add_track(s, s->fmt->streams[i])) < 0)
            goto fail;
    for (unsigned i = 0; i < s->fmt->nb_streams; i++)
        if (s->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO &&
            (rc = cv_file_add_track(s, s->fmt->streams[i])) < 0)
            goto fail;
    if (s->info.track_count == 0) {
        cv_err("file: %s has no track camvisor can pass through", path);
        rc = -EINVAL;
        goto fail;
    }
    rc = -ENOMEM;
    s->pkt = av_packet_alloc();
    s->tick = event_new(cv_worker_base(w), -1, 0, cv_file_tick, s);
    if (!s->pkt || !s->tick)
        goto fail;
    cv_worker_set_info(w, &s->info);
    cv_worker_set_state(w, CV_STATE_STREAMING, NULL);
    cv_file_schedule(s, 0);
    s->start_ns = cv_clock_mono_ns();
    cv_info("file: playing %s, %u tracks, looped", path, s->info.track_count);
    *state = s;
    return 0;
fail:
    cv_file_stop(s);
    return rc;
}

const struct cv_source_ops cv_src_file_ops = {
    .scheme = "file",
    .start = cv_file_start,
    .stop = cv_file_stop,
};
