/* A worker's variants: see worker/variants.h. */
#include "worker/variants.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/media/scale.h"

/*
 * Transcoding never holds the loop (the camera's own frames, the control socket, the status that
 * keeps the watchdog away): the decoder runs in slices of this much work per loop turn, a frame
 * at a time (bench/RESULTS.md §14: a 4K frame is ~25 ms to decode, ~60 ms to encode as JPEG).
 */
#define CV_VARIANTS_SLICE_MS 40
/* A picture variant with nothing published for this long publishes the picture the decoder has
 * reached: a snapshot never waits for a whole GOP to be decoded (a 2 s 1080p GOP is 0.35 s), and
 * one that cannot keep up still gives pictures. */
#define CV_VARIANTS_LATE_MS 80
/* The decoder this far behind the camera (slower than it: a big picture, a busy machine) skips
 * to a newer keyframe rather than build latency for every viewer. */
#define CV_VARIANTS_LAG_MS 500
/* ... except on its catch-up, which starts up to a GOP back on purpose: decoding a 2 s GOP of 4K
 * takes ~1.5 s here (bench/RESULTS.md §14), and a skip would wait for the next keyframe. */
#define CV_VARIANTS_CATCHUP_MS 3000

static void cv_variants_xcode_cb(evutil_socket_t fd, short what, void *arg);
static void cv_variants_catchup_cb(evutil_socket_t fd, short what, void *arg);

int cv_variants_init(struct cv_variants *vs, struct cv_worker *w)
{
    memset(vs, 0, sizeof(*vs));
    vs->w = w;
    vs->dec.src_track = -1;
    vs->catchup_ev = event_new(cv_worker_base(w), -1, 0, cv_variants_catchup_cb, vs);
    vs->xcode_ev = evtimer_new(cv_worker_base(w), cv_variants_xcode_cb, vs);
    return vs->catchup_ev && vs->xcode_ev ? 0 : -ENOMEM;
}

void cv_variants_configure(struct cv_variants *vs, const struct cv_msg_camera *cam)
{
    vs->hw = cam->hwaccel <= CV_XCODE_HW_NONE ? (enum cv_xcode_hw)cam->hwaccel : CV_XCODE_HW_AUTO;
    vs->bitrate = cam->transcode_kbps * 1000u;
    vs->size_w = cam->transcode_w <= CV_SCALE_MAX_SIDE ? cam->transcode_w : 0;
    vs->size_h = cam->transcode_h <= CV_SCALE_MAX_SIDE ? cam->transcode_h : 0;
}

int cv_variants_index(const struct cv_variants *vs, const char *name)
{
    for (int i = 0; i < CV_VARIANTS_MAX; i++)
        if (vs->v[i].name[0] && strcmp(vs->v[i].name, name) == 0)
            return i;
    return -1;
}

static bool cv_variants_any_encoder(const struct cv_variants *vs)
{
    for (int i = 0; i < CV_VARIANTS_MAX; i++)
        if (vs->v[i].name[0] && vs->v[i].enc)
            return true;
    return false;
}

/* ---- the decoder ------------------------------------------------------------------------- */

static void cv_variants_dec_close(struct cv_variants_dec *d)
{
    if (d->state)
        d->ops->close(d->state);
    d->state = NULL;
    if (d->in)
        cv_ring_reader_close(d->in);
    d->in = NULL;
    d->src_track = -1;
}

/*
 * The decoder for the camera's first video track while an encoder wants pictures: opened at
 * the newest keyframe of the camera's ring (its catch-up), reopened when the track's parameters
 * change, closed when nobody wants pictures (a variant nobody watches costs nothing).
 */
static void cv_variants_dec_update(struct cv_variants *vs)
{
    struct cv_variants_dec *d = &vs->dec;
    const struct cv_stream_info *in = cv_worker_info(vs->w);
    int src = -1;
    for (uint32_t i = 0; i < in->track_count && src < 0; i++)
        if (in->tracks[i].kind == CV_TRACK_VIDEO)
            src = (int)i;
    if (!cv_variants_any_encoder(vs) || src < 0) {
        cv_variants_dec_close(d);
        return;
    }
    if (d->state && src == d->src_track &&
        memcmp(&d->src_params, &in->tracks[src], sizeof(d->src_params)) == 0)
        return;
    /* The same track with new parameter sets (or size, rate) keeps its decoder: a camera that
     * changes them often must not cost a reopen (on a GPU, a device) each time. */
    if (d->state && src == d->src_track && d->ops->params(d->state, &in->tracks[src]) == 0) {
        d->src_params = in->tracks[src];
        return;
    }
    if (d->state)
        d->ops->close(d->state);
    d->state = NULL;
    if (!d->ops && !(d->ops = cv_worker_plugin_symbol("cv_xcode_dec_ops")))
        return;
    if (!vs->buf && !(vs->buf = malloc(CV_RING_MAX_FRAME)))
        return;
    if (!d->in) {
        if (cv_ring_reader_open(cv_worker_ring_fd(vs->w), &d->in) < 0) {
            d->in = NULL;
            cv_err("cannot read the camera's ring to decode it");
            return;
        }
        d->started_ns = cv_clock_mono_ns();
        d->need_key = true;
        d->caught_up = false;
    }
    d->src_track = src;
    d->src_params = in->tracks[src];
    char path[sizeof(d->path)];
    int rc = d->ops->open(&d->state, &in->tracks[src], vs->hw, path, sizeof(path));
    if (rc < 0) {
        cv_warn("cannot decode the camera's %s: %s (%s)",
                cv_codec_name((enum cv_codec)in->tracks[src].codec), strerror(-rc), path);
        d->state = NULL;
        return;
    }
    /* Said once per decision, not per reopen: the same path for the same reason is no news. */
    if (strcmp(path, d->path) != 0)
        cv_info("decoding the camera's %s on %s",
                cv_codec_name((enum cv_codec)in->tracks[src].codec), path);
    snprintf(d->path, sizeof(d->path), "%s", path);
}

/* ---- tracks ------------------------------------------------------------------------------ */

/*
 * A variant's tracks out of the camera's: pass-through tracks map to its ring's, and a
 * transcoder's video track comes first, once its encoder has said what it is. An h264 variant
 * of an H.264 camera with no size asked passes the camera's stream through (nothing to do).
 */
/*
 * An audio variant's audio: the camera's first audio track, passed through when it is in the
 * variant's codec already, else through an audio transcoder (re)opened for its parameters. The
 * camera track it takes, or -1 (no audio).
 */
static int cv_variant_derive_audio(struct cv_variants *vs, struct cv_variant_out *v,
                                   const struct cv_stream_info *in)
{
    int src = -1;
    for (uint32_t i = 0; i < in->track_count && src < 0; i++)
        if (in->tracks[i].kind == CV_TRACK_AUDIO)
            src = (int)i;
    bool same = src >= 0 && src == v->asrc &&
                memcmp(&v->asrc_params, &in->tracks[src], sizeof(v->asrc_params)) == 0;
    bool want = src >= 0 && in->tracks[src].codec != v->audio_to;
    if (v->astate && (!same || !want)) {
        vs->aops->close(v->astate);
        v->astate = NULL;
    }
    v->asrc = src;
    if (src >= 0)
        v->asrc_params = in->tracks[src];
    if (!want || v->astate)
        return src;
    if (!vs->aops && !(vs->aops = cv_worker_plugin_symbol("cv_xcode_audio_ops")))
        return src;
    int rc = vs->aops->open(&v->astate, &in->tracks[src], v->audio_to);
    if (rc < 0) {
        cv_warn("variant %s: cannot make the camera's %s audio into %s: %s", v->name,
                cv_codec_name((enum cv_codec)in->tracks[src].codec), cv_codec_name(v->audio_to),
                strerror(-rc));
        v->astate = NULL;
        return -1;
    }
    cv_info("variant %s: transcoding the camera's %s audio to %s", v->name,
            cv_codec_name((enum cv_codec)in->tracks[src].codec), cv_codec_name(v->audio_to));
    return src;
}

static void cv_variant_derive(struct cv_variants *vs, struct cv_variant_out *v)
{
    const struct cv_stream_info *in = cv_worker_info(vs->w);
    const struct cv_track_info *video = NULL;
    for (uint32_t i = 0; i < in->track_count && !video; i++)
        if (in->tracks[i].kind == CV_TRACK_VIDEO)
            video = &in->tracks[i];
    const struct cv_xcode_enc_ops *enc = v->kind;
    /* The camera's video goes in as it is for `video`, and for h264 of an H.264 camera with no
     * size asked; never otherwise (an encoder that would not open leaves the ring without
     * video rather than give a client the codec it said it cannot play). */
    bool pass_video = !enc;
    if (enc && enc->codec != CV_CODEC_JPEG && video && video->codec == enc->codec &&
        !v->params.width && !v->params.height) {
        enc = NULL;
        pass_video = true;
    }
    if (!video && enc)
        enc = v->enc; /* no video (yet): keep what it was */
    if (enc != v->enc && v->enc_state) {
        v->enc->close(v->enc_state);
        v->enc_state = NULL;
    }
    if (enc && !v->enc_state) {
        v->params.fps_x100 = video ? video->fps_x100 : 0;
        int rc = enc->open(&v->enc_state, &v->params);
        if (rc < 0) {
            cv_warn("variant %s: no %s encoder: %s", v->name, enc->name, strerror(-rc));
            v->enc_state = NULL;
            enc = NULL;
        } else {
            cv_info("variant %s: transcoding to %s", v->name, enc->name);
        }
        v->live = false;
        v->force_key = true;
        v->have_out = false;
    }
    v->enc = enc;
    struct cv_stream_info info = {0};
    for (uint32_t i = 0; i < CV_MAX_TRACKS; i++)
        v->map[i] = -1;
    bool have_video = false;
    if (v->enc) {
        have_video = v->enc->track(v->enc_state, &info.tracks[0]);
        info.track_count = 1;
    }
    int audio_src = v->audio_to ? cv_variant_derive_audio(vs, v, in) : -1;
    for (uint32_t i = 0; i < in->track_count && info.track_count < CV_MAX_TRACKS; i++) {
        bool is_video = in->tracks[i].kind == CV_TRACK_VIDEO;
        if ((is_video && !pass_video) || (!is_video && !v->audio))
            continue;
        if (v->audio_to && !is_video && (int)i != audio_src)
            continue;                           /* an audio variant carries one audio track */
        if ((int)i == audio_src && v->astate) { /* the transcoder's output in its place */
            v->aout = (int)info.track_count;
            vs->aops->track(v->astate, &info.tracks[info.track_count++]);
            continue;
        }
        v->map[i] = (int)info.track_count;
        info.tracks[info.track_count++] = in->tracks[i];
    }
    /* A transcoder's ring gets its tracks once its first picture says what the video is, and a
     * video variant's not before the camera has video (its first tracks may come without): a
     * consumer that reads them then has everything it needs to start. */
    bool ready = v->enc ? have_video : !(v->kind && !video);
    if (ready && info.track_count && (!v->info_set || memcmp(&info, &v->info, sizeof(info)) != 0)) {
        cv_ring_writer_set_info(v->ring, &info);
        v->info_set = true;
    }
    v->info = info;
    if (!ready)
        v->info_set = false;
}

void cv_variants_set_info(struct cv_variants *vs, const struct cv_stream_info *info)
{
    (void)info; /* the worker's, read through cv_worker_info */
    for (int i = 0; i < CV_VARIANTS_MAX; i++)
        if (vs->v[i].name[0])
            cv_variant_derive(vs, &vs->v[i]);
    cv_variants_dec_update(vs);
}

/* ---- transcoding ------------------------------------------------------------------------- */

/* One picture out of an encoder into its ring, with the picture's time and its camera frame's
 * arrival (so audio passed through stays in sync, and the latency figures measure the
 * transcode). */
static void cv_variants_publish_picture(struct cv_variants *vs, int vi, const struct cv_frame *f,
                                        int64_t pts, const uint8_t *out, size_t out_len, bool key)
{
    struct cv_variant_out *v = &vs->v[vi];
    if (!v->info_set || key) { /* its first picture, or a new size: the track says so */
        struct cv_track_info t;
        if (v->enc->track(v->enc_state, &t) &&
            (!v->info_set || memcmp(&t, &v->info.tracks[0], sizeof(t)) != 0))
            cv_variant_derive(vs, v);
    }
    if (!v->info_set)
        return;
    struct cv_frame of = *f;
    of.track = 0;
    of.flags = key ? CV_FRAME_KEY : 0;
    of.pts = of.dts = pts; /* no B-frames out: decode order is presentation order */
    of.len = (uint32_t)out_len;
    int rc = cv_ring_write(v->ring, &of, out, out_len);
    uint64_t now = cv_clock_mono_ns();
    v->encoded++;
    uint64_t lat = now > f->arrival_ns ? (now - f->arrival_ns) / 1000 : 0;
    v->lat_us[v->lat_next] = lat > UINT32_MAX ? UINT32_MAX : (uint32_t)lat;
    v->lat_next = (v->lat_next + 1) % CV_VARIANTS_LAT_SAMPLES;
    if (v->lat_count < CV_VARIANTS_LAT_SAMPLES)
        v->lat_count++;
    if (rc == 0) {
        cv_worker_ring_bells(vs->w, vi);
    } else if (++v->drops == 1 || now - v->drop_logged_ns > 30000000000ull) {
        cv_warn("variant %s: a %zu-byte picture dropped: %s (%llu so far)", v->name, out_len,
                strerror(-rc), (unsigned long long)v->drops);
        v->drop_logged_ns = now;
    }
    if (rc < 0)
        return;
    if (!v->published_ns)
        cv_info("variant %s: first picture, %ux%u, after %llu frames decoded in %.0f ms", v->name,
                v->info.tracks[0].width, v->info.tracks[0].height,
                (unsigned long long)(vs->dec.decoded - v->decoded_at_start),
                (double)(now - v->started_ns) / 1e6);
    v->published_ns = now;
}

/*
 * Whether variant v encodes the picture of frame f. A picture variant (jpeg) takes the one at
 * the live edge, or the one reached once nothing came for CV_VARIANTS_LATE_MS, at its rate; a
 * video variant every one from the live edge on (the GOP before it is history: decoded for its
 * references, not sent), its first as a keyframe.
 */
static bool cv_variant_wants(struct cv_variant_out *v, const struct cv_frame *f, bool edge,
                             uint64_t now)
{
    if (!v->name[0] || !v->enc || !v->enc_state)
        return false;
    if (!v->live && edge && !v->max_fps)
        v->live = true;
    if (!v->max_fps)
        return v->live;
    int64_t step = (int64_t)v->params.clock_rate / v->max_fps;
    bool rate_ok = !v->have_out || f->pts - v->last_out_pts >= step ||
                   f->pts < v->last_out_pts; /* clock went back */
    uint64_t since = v->published_ns ? v->published_ns : v->started_ns;
    bool overdue = now - since >= CV_VARIANTS_LATE_MS * 1000000ull;
    return rate_ok && (edge || overdue);
}

/* A frame of the decoder's track: decoded, and its picture encoded by the variants that want
 * it. */
static void cv_variants_decode(struct cv_variants *vs, const struct cv_frame *f, bool edge)
{
    struct cv_variants_dec *d = &vs->dec;
    uint64_t now = cv_clock_mono_ns();
    bool want[CV_VARIANTS_MAX], any = false;
    for (int i = 0; i < CV_VARIANTS_MAX; i++)
        any |= want[i] = cv_variant_wants(&vs->v[i], f, edge, now);
    const struct cv_xcode_pic *pic = NULL;
    int64_t pts = f->pts;
    int rc = d->ops->feed(d->state, vs->buf, f->len, f->pts, f->flags & CV_FRAME_KEY, &pic, &pts);
    d->decoded++;
    if (rc == -ENOTRECOVERABLE)
        cv_warn("the hardware decoder failed: decoding in software from the next keyframe");
    if (rc <= 0) {
        if (rc < 0)
            cv_dbg("frame not decoded: %s", strerror(-rc));
        return;
    }
    if (!any)
        return;
    for (int i = 0; i < CV_VARIANTS_MAX; i++) {
        struct cv_variant_out *v = &vs->v[i];
        if (!want[i])
            continue;
        const uint8_t *out;
        size_t out_len;
        bool key = false;
        /* The picture's own time: a camera that reorders frames (B-frames) sends them out of
         * presentation order, and the encoders' output is in it. */
        rc = v->enc->encode(v->enc_state, pic, pts, v->force_key, &out, &out_len, &key);
        v->last_out_pts = f->pts; /* the rate counts what was encoded, published or not */
        v->have_out = true;
        if (rc < 0)
            cv_dbg("variant %s: picture not encoded: %s", v->name, strerror(-rc));
        if (rc <= 0)
            continue;
        if (key)
            v->force_key = false;
        cv_variants_publish_picture(vs, i, f, pts, out, out_len, key);
    }
}

/*
 * The decoder's share of a turn: frames of its track read from the camera's ring and decoded
 * until it is at the live edge (false) or the deadline has passed (true: more to do). Too far
 * behind, it skips to a keyframe (counted: the frames no variant got).
 */
static bool cv_variants_dec_run(struct cv_variants *vs, uint64_t deadline_ns)
{
    struct cv_variants_dec *d = &vs->dec;
    struct cv_frame f;
    while (d->in && d->state) {
        int rc = cv_ring_read(d->in, &f, vs->buf, CV_RING_MAX_FRAME);
        if (rc == CV_RING_EMPTY)
            return false;
        if (rc < 0 || (int)f.track != d->src_track ||
            (d->skip_until_ns && f.arrival_ns <= d->skip_until_ns))
            continue; /* a read error resumes at the newest keyframe by itself */
        d->last_in_ns = f.arrival_ns;
        /* Behind by how long it has had the frame: a catch-up starts a GOP back on purpose. */
        uint64_t now = cv_clock_mono_ns();
        uint64_t had = f.arrival_ns > d->started_ns ? f.arrival_ns : d->started_ns;
        uint64_t behind = cv_ring_reader_behind(d->in);
        uint64_t lag_ms = d->caught_up ? CV_VARIANTS_LAG_MS : CV_VARIANTS_CATCHUP_MS;
        /* The live edge: nothing after it, or only what came since (audio between pictures). */
        bool edge = behind == 0 || now - f.arrival_ns < CV_VARIANTS_LATE_MS * 1000000ull;
        if (now > had + lag_ms * 1000000ull && behind > 0) {
            cv_ring_reader_seek_key(d->in);
            d->need_key = true;
            d->skipped += 1 + behind;
            if (now - d->skip_logged_ns > 30000000000ull) {
                cv_info("transcoding is slower than the camera: skipping to its next keyframe "
                        "(%llu frames skipped so far)",
                        (unsigned long long)d->skipped);
                d->skip_logged_ns = now;
            }
            continue;
        }
        if (d->need_key && !(f.flags & CV_FRAME_KEY)) {
            d->skipped++;
            continue;
        }
        d->need_key = false;
        d->caught_up |= edge;
        cv_variants_decode(vs, &f, edge);
        if (cv_clock_mono_ns() >= deadline_ns)
            return true;
    }
    return false;
}

/* A turn's slice of transcoding; the next comes at the next loop turn (a timer: libevent runs
 * those once per turn, after the sockets) while there is more to do. */
static void cv_variants_xcode_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_variants *vs = arg;
    uint64_t deadline = cv_clock_mono_ns() + CV_VARIANTS_SLICE_MS * 1000000ull;
    if (cv_variants_dec_run(vs, deadline)) {
        struct timeval now = {0, 0};
        evtimer_add(vs->xcode_ev, &now);
    }
}

static void cv_variants_xcode_kick(struct cv_variants *vs)
{
    struct timeval now = {0, 0};
    if (!evtimer_pending(vs->xcode_ev, NULL))
        evtimer_add(vs->xcode_ev, &now);
}

/* ---- frames ------------------------------------------------------------------------------ */

struct cv_variants_emit {
    struct cv_variants *vs;
    int vi;
    const struct cv_frame *f; /* the camera frame it came from */
};

/* A packet of an audio transcoder into its variant's ring, with the camera frame's arrival. */
static void cv_variants_emit_audio(void *ctx, const uint8_t *pkt, size_t len, int64_t pts)
{
    struct cv_variants_emit *e = ctx;
    struct cv_variant_out *v = &e->vs->v[e->vi];
    struct cv_frame of = *e->f;
    of.track = (uint32_t)v->aout;
    /* A keyframe only in a ring without video (the sources' rule): a viewer of one with video
     * starts at its picture's keyframe. */
    of.flags = v->info.tracks[0].kind == CV_TRACK_VIDEO ? 0 : CV_FRAME_KEY;
    of.pts = of.dts = pts;
    of.len = (uint32_t)len;
    if (cv_ring_write(v->ring, &of, pkt, len) == 0)
        cv_worker_ring_bells(e->vs->w, e->vi);
}

void cv_variants_publish(struct cv_variants *vs, const struct cv_frame *f, const uint8_t *data)
{
    for (int i = 0; i < CV_VARIANTS_MAX; i++) {
        struct cv_variant_out *v = &vs->v[i];
        if (!v->name[0] || v->catchup_pending) /* its catch-up reads this frame from the ring */
            continue;
        if (v->enc && (int)f->track == vs->dec.src_track)
            cv_variants_xcode_kick(vs);
        if (v->astate && (int)f->track == v->asrc && v->info_set) {
            struct cv_variants_emit e = {vs, i, f};
            int rc = vs->aops->feed(v->astate, data, f->len, f->pts, cv_variants_emit_audio, &e);
            if (rc < 0)
                cv_dbg("variant %s: an audio frame lost: %s", v->name, strerror(-rc));
            continue;
        }
        if (f->track >= CV_MAX_TRACKS || v->map[f->track] < 0 || !v->info_set)
            continue;
        struct cv_frame vf = *f;
        vf.track = (uint32_t)v->map[f->track];
        if (cv_ring_write(v->ring, &vf, data, f->len) == 0)
            cv_worker_ring_bells(vs->w, i);
    }
}

/* The decoder follows the camera onto its new ring, from its newest keyframe (frames it read
 * from the old one are skipped by arrival time, as consumers do). */
void cv_variants_ring_moved(struct cv_variants *vs)
{
    struct cv_variants_dec *d = &vs->dec;
    if (!d->in)
        return;
    struct cv_ring_reader *r = NULL;
    if (cv_ring_reader_open(cv_worker_ring_fd(vs->w), &r) < 0) {
        cv_err("cannot read the camera's new ring: transcoded pictures stop");
        return;
    }
    cv_ring_reader_close(d->in);
    d->in = r;
    d->skip_until_ns = d->last_in_ns;
    cv_variants_xcode_kick(vs);
}

/* ---- start and stop ---------------------------------------------------------------------- */

/* "video", "jpeg[:WxH]" or "h264[:WxH]" (each side 0..8192, 0 following the aspect ratio). */
static int cv_variant_parse(struct cv_variants *vs, struct cv_variant_out *v, const char *name)
{
    v->asrc = -1;
    if (strcmp(name, "video") == 0)
        return 0;
    if (strcmp(name, "opus") == 0 || strcmp(name, "aac") == 0) {
        v->audio = true;
        v->audio_to = name[0] == 'o' ? CV_CODEC_OPUS : CV_CODEC_AAC;
        return 0;
    }
    static const struct {
        const char *prefix, *symbol;
        unsigned max_fps;
        bool audio;
    } kinds[] = {{"jpeg", "cv_xcode_jpeg_ops", CV_VARIANTS_JPEG_FPS, false},
                 {"h264", "cv_xcode_h264_ops", 0, true}};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        size_t n = strlen(kinds[k].prefix);
        if (strncmp(name, kinds[k].prefix, n) != 0 || (name[n] && name[n] != ':'))
            continue;
        /* A plain h264 is the camera's transcode_size (a jpeg, the camera's size). */
        unsigned vw = kinds[k].audio ? vs->size_w : 0, vh = kinds[k].audio ? vs->size_h : 0;
        char tail;
        if (name[n] && (sscanf(name + n, ":%ux%u%c", &vw, &vh, &tail) != 2 ||
                        vw > CV_SCALE_MAX_SIDE || vh > CV_SCALE_MAX_SIDE))
            return -EINVAL;
        v->kind = cv_worker_plugin_symbol(kinds[k].symbol);
        v->params = (struct cv_xcode_enc_params){
            .width = vw, .height = vh, .bitrate = vs->bitrate, .clock_rate = 90000};
        v->max_fps = kinds[k].max_fps;
        v->audio = kinds[k].audio;
        return v->kind ? 0 : -ENOENT;
    }
    return -EINVAL;
}

/* A pass-through variant's catch-up: the frames since the newest keyframe of the camera's ring,
 * copied in (a transcoder's is the decoder's cursor starting there). */
static unsigned cv_variants_catch_up(struct cv_variants *vs, int vi)
{
    struct cv_variant_out *v = &vs->v[vi];
    struct cv_ring_reader *own = NULL;
    uint8_t *buf = malloc(CV_RING_MAX_FRAME);
    unsigned n = 0;
    struct cv_frame f;
    if (buf && cv_ring_reader_open(cv_worker_ring_fd(vs->w), &own) == 0) {
        while (cv_ring_read(own, &f, buf, CV_RING_MAX_FRAME) == CV_RING_OK) {
            if (f.track >= CV_MAX_TRACKS || v->map[f.track] < 0)
                continue;
            f.flags &= ~(uint32_t)CV_FRAME_DISCONT;
            f.track = (uint32_t)v->map[f.track];
            n += cv_ring_write(v->ring, &f, buf, f.len) == 0;
        }
        cv_ring_reader_close(own);
    }
    free(buf);
    return n;
}

static void cv_variants_catchup_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_variants *vs = arg;
    for (int i = 0; i < CV_VARIANTS_MAX; i++) {
        struct cv_variant_out *v = &vs->v[i];
        if (!v->name[0] || !v->catchup_pending)
            continue;
        v->catchup_pending = false;
        unsigned n = cv_variants_catch_up(vs, i);
        cv_info("variant %s: producing (%u tracks; %u frames since the last keyframe copied)",
                v->name, v->info.track_count, n);
    }
}

/*
 * Its catch-up first, so its first viewer starts at once: the frames since the newest keyframe of
 * the camera's ring, copied in (pass-through), or decoded from there by the decoder (which, if
 * it runs already, is at the live edge: the next picture comes as a keyframe).
 */
void cv_variants_start(struct cv_variants *vs, const char *name, int fd)
{
    int slot = -1;
    for (int i = 0; i < CV_VARIANTS_MAX && slot < 0; i++)
        if (!vs->v[i].name[0])
            slot = i;
    struct cv_variant_out *v = slot >= 0 ? &vs->v[slot] : NULL;
    if (!v || cv_variants_index(vs, name) >= 0 || cv_variant_parse(vs, v, name) < 0) {
        cv_warn("variant %s not started (%s)", name,
                !v ? "too many variants" : "unknown here, or running already");
        if (v)
            *v = (struct cv_variant_out){0};
        close(fd);
        return;
    }
    int rc = cv_ring_writer_open(fd, &v->ring);
    if (rc < 0) {
        cv_err("variant %s: cannot open its ring: %s", name, strerror(-rc));
        *v = (struct cv_variant_out){0};
        close(fd);
        return;
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    v->fd = fd;
    v->started_ns = cv_clock_mono_ns();
    v->decoded_at_start = vs->dec.decoded;
    cv_variant_derive(vs, v);
    cv_variants_dec_update(vs);
    if (v->enc) {
        cv_variants_xcode_kick(vs);
        return;
    }
    /* The catch-up runs after the messages already waiting, the doorbell_add that follows this
     * variant_start among them. */
    v->catchup_pending = true;
    event_active(vs->catchup_ev, EV_TIMEOUT, 0);
}

int cv_variants_stop(struct cv_variants *vs, const char *name)
{
    int i = cv_variants_index(vs, name);
    if (i < 0)
        return -1;
    struct cv_variant_out *v = &vs->v[i];
    cv_info("variant %s: stopped, nobody wants it (%llu pictures encoded)", v->name,
            (unsigned long long)v->encoded);
    if (v->enc_state)
        v->enc->close(v->enc_state);
    if (v->astate)
        vs->aops->close(v->astate);
    cv_ring_writer_close(v->ring);
    close(v->fd);
    *v = (struct cv_variant_out){0};
    cv_variants_dec_update(vs); /* the last transcoder gone: the decoder too */
    return i;
}

void cv_variants_keyframe(struct cv_variants *vs, const char *variant)
{
    for (int i = 0; i < CV_VARIANTS_MAX; i++) {
        struct cv_variant_out *v = &vs->v[i];
        if (v->name[0] && v->enc && (!variant || !variant[0] || strcmp(variant, v->name) == 0))
            v->force_key = true;
    }
}

static int cv_variants_cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The slowest variant's median and 99th percentile over its last pictures. */
static void cv_variants_latency(const struct cv_variants *vs, struct cv_msg_status *st)
{
    for (int i = 0; i < CV_VARIANTS_MAX; i++) {
        const struct cv_variant_out *v = &vs->v[i];
        if (!v->name[0] || !v->enc || !v->lat_count)
            continue;
        uint32_t s[CV_VARIANTS_LAT_SAMPLES];
        memcpy(s, v->lat_us, v->lat_count * sizeof(s[0]));
        qsort(s, v->lat_count, sizeof(s[0]), cv_variants_cmp_u32);
        uint32_t p50 = s[v->lat_count / 2], p99 = s[(v->lat_count * 99) / 100];
        if (p50 > st->xcode_p50_us)
            st->xcode_p50_us = p50;
        if (p99 > st->xcode_p99_us)
            st->xcode_p99_us = p99;
    }
}

void cv_variants_status(const struct cv_variants *vs, struct cv_msg_status *st)
{
    cv_variants_latency(vs, st);
    unsigned encoders = 0;
    char *p = st->transcode;
    size_t left = sizeof(st->transcode);
    for (int i = 0; i <= CV_VARIANTS_MAX && left > 1; i++) {
        int k;
        if (i == CV_VARIANTS_MAX) { /* last: what the pictures are decoded on */
            if (!vs->dec.state)
                break;
            k = snprintf(p, left, "; decoder: %s", vs->dec.path);
        } else {
            const struct cv_variant_out *v = &vs->v[i];
            if (!v->name[0] || !v->enc)
                continue;
            const struct cv_track_info *t = &v->info.tracks[0];
            if (v->info_set) /* its size, once its first picture said */
                k = snprintf(p, left, "%s%s %ux%u", p != st->transcode ? ", " : "", v->name,
                             t->width, t->height);
            else
                k = snprintf(p, left, "%s%s", p != st->transcode ? ", " : "", v->name);
        }
        if (k < 0 || (size_t)k >= left) /* cut short: what fitted stays */
            break;
        p += k;
        left -= (size_t)k;
    }
    for (int i = 0; i < CV_VARIANTS_MAX; i++)
        encoders += vs->v[i].name[0] && vs->v[i].enc;
    st->encoders = encoders;
    st->xcode_skipped = vs->dec.skipped;
    st->decoded = vs->dec.decoded;
}

void cv_variants_fini(struct cv_variants *vs)
{
    for (int i = 0; i < CV_VARIANTS_MAX && vs->w; i++)
        if (vs->v[i].name[0])
            cv_variants_stop(vs, vs->v[i].name);
    cv_variants_dec_close(&vs->dec);
    if (vs->catchup_ev)
        event_free(vs->catchup_ev);
    if (vs->xcode_ev)
        event_free(vs->xcode_ev);
    free(vs->buf);
}
