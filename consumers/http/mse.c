/*
 * fMP4 feeds and their viewers: go2rtc's MSE over /api/ws and /api/stream.mp4.
 *
 * One feed per camera (common/consumer/feed.h) with one muxer (fmp4.c): each frame the ring
 * gives is muxed once into one fragment, kept in the feed's GOP cache (the fragments since the
 * newest video keyframe) and written to every started viewer. A viewer starts with the init
 * segment and the GOP cache, so its first picture is the newest keyframe, at once; its copy of
 * each fragment is rebased (the tfdt patched) so its timeline starts near 0, as go2rtc's player
 * expects, without a muxer per viewer.
 *
 * The muxer's output timeline stays continuous over camera reconnects and worker restarts
 * (cv_fmp4_discontinuity): a player does not stall. New codec parameters make a new init
 * segment: WebSocket viewers get a new `mse` message and start over, progressive MP4 viewers
 * (which cannot take a second moov) are closed and reconnect.
 *
 * HLS (hls.c) hangs off the same feed: it is handed every fragment and told of muxer restarts;
 * while its session lasts the feed stays subscribed, viewers or not.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/mux/fmp4.h"
#include "consumers/http/http.h"

#define CV_HTTP_GOP_MAX   (48u << 20) /* a GOP cache larger than this is given up */
#define CV_HTTP_FEED_IDLE 5000        /* ms a feed stays subscribed without viewers */

struct cv_http_frag {
    size_t off, len, tfdt_off;
    uint32_t out_track;
    uint64_t decode_time;
};

struct cv_http_feed {
    struct cv_http_srv *srv;
    struct cv_http_feed *next;
    char camera[CV_NAME_MAX];
    char variant[CV_VARIANT_MAX]; /* native, or video for a browser that cannot play its audio */
    struct cv_feed *feed;         /* owned */
    struct cv_fmp4 *mux;          /* owned; NULL until the parameters are there */
    bool mux_failed;              /* these parameters cannot be muxed: viewers were told */
    bool have_key;                /* the GOP cache starts with a keyframe */
    uint8_t *gop;                 /* owned: the fragments since the newest keyframe */
    size_t gop_len, gop_cap;
    struct cv_http_frag *frags; /* owned */
    size_t nfrags, frags_cap;
    uint64_t idle_since_ms;  /* 0 while it has viewers */
    struct cv_http_hls *hls; /* owned: the HLS session, NULL without one */
};

struct cv_http_viewer {
    struct cv_feed_viewer link; /* first: the feed's list */
    struct cv_http_conn *c;
    struct cv_http_feed *hf;
    bool ws;                      /* MSE over the WebSocket, else progressive MP4 */
    bool started;                 /* init segment sent */
    uint64_t base[CV_MAX_TRACKS]; /* subtracted from each track's decode time */
    uint64_t bytes;
};

static struct cv_http_viewer *cv_http_viewer_of(struct cv_feed_viewer *v)
{
    return (struct cv_http_viewer *)((char *)v - offsetof(struct cv_http_viewer, link));
}

/* ---- sending to one viewer --------------------------------------------------------------- */

static enum lws_write_protocol cv_http_viewer_wtype(const struct cv_http_viewer *v)
{
    return v->ws ? LWS_WRITE_BINARY : LWS_WRITE_HTTP;
}

static int cv_http_viewer_send(struct cv_http_viewer *v, const void *data, size_t len)
{
    int rc = cv_http_send(v->c, cv_http_viewer_wtype(v), data, len);
    if (rc == 0)
        v->bytes += len;
    return rc;
}

/* One fragment, its tfdt rebased for this viewer. */
static int cv_http_viewer_send_frag(struct cv_http_viewer *v, const uint8_t *data, size_t len,
                                    size_t tfdt_off, uint32_t out_track, uint64_t decode_time)
{
    if (tfdt_off + 8 > len || out_track >= CV_MAX_TRACKS)
        return -EINVAL;
    uint64_t t = decode_time > v->base[out_track] ? decode_time - v->base[out_track] : 0;
    uint8_t be[8];
    cv_fmp4_set_decode_time(be, 0, t);
    struct iovec iov[3] = {
        {(void *)data, tfdt_off}, {be, 8}, {(void *)(data + tfdt_off + 8), len - tfdt_off - 8}};
    int rc = cv_http_sendv(v->c, cv_http_viewer_wtype(v), iov, 3);
    if (rc == 0)
        v->bytes += len;
    return rc;
}

void cv_http_ws_text(struct cv_http_conn *c, const char *type, const char *value)
{
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "type", type);
    cv_json_kv_str(&j, "value", value);
    cv_json_obj_close(&j);
    size_t n;
    char *s = cv_json_take(&j, &n);
    if (s && cv_http_send(c, LWS_WRITE_TEXT, s, n) < 0)
        cv_http_conn_drop(c, "too slow");
    free(s);
}

/* go2rtc's error message: "<request type>: <message>". */
void cv_http_ws_error(struct cv_http_conn *c, const char *req, const char *msg)
{
    char v[256];
    snprintf(v, sizeof(v), "%s: %s", req, msg);
    cv_http_ws_text(c, "error", v);
}

/* The init segment and the GOP cache: the viewer sees the newest keyframe now. Only for a
 * viewer not started (new, or restarted by new codec parameters): a second `mse` message makes
 * go2rtc's player start its SourceBuffer over. */
static void cv_http_viewer_start(struct cv_http_viewer *v)
{
    struct cv_http_feed *hf = v->hf;
    if (v->ws) {
        cv_http_ws_text(v->c, "mse", cv_fmp4_mime(hf->mux));
        if (v->c->closing)
            return;
    }
    /* The first cached fragment's time becomes 0 on every track, so they stay in sync. */
    memset(v->base, 0, sizeof(v->base));
    if (hf->nfrags) {
        const struct cv_http_frag *f0 = &hf->frags[0];
        double t0 = (double)f0->decode_time / cv_fmp4_timescale(hf->mux, f0->out_track);
        for (uint32_t t = 0; t < cv_fmp4_track_count(hf->mux) && t < CV_MAX_TRACKS; t++)
            v->base[t] = (uint64_t)(t0 * cv_fmp4_timescale(hf->mux, t));
    }
    size_t init_len;
    const uint8_t *init = cv_fmp4_init(hf->mux, &init_len);
    int rc = cv_http_viewer_send(v, init, init_len);
    for (size_t i = 0; rc == 0 && i < hf->nfrags; i++) {
        const struct cv_http_frag *f = &hf->frags[i];
        rc = cv_http_viewer_send_frag(v, hf->gop + f->off, f->len, f->tfdt_off, f->out_track,
                                      f->decode_time);
    }
    if (rc < 0) {
        cv_http_conn_drop(v->c, "too slow for the first GOP");
        return;
    }
    v->started = true;
    cv_dbg("client %s: %s of %s started with %zu cached fragments", v->c->peer_str,
           v->ws ? "MSE" : "MP4", hf->camera, hf->nfrags);
}

/* ---- the feed ---------------------------------------------------------------------------- */

static void cv_http_gop_reset(struct cv_http_feed *hf)
{
    hf->gop_len = 0;
    hf->nfrags = 0;
    hf->have_key = false;
}

static int cv_http_gop_add(struct cv_http_feed *hf, const struct cv_fmp4_frag *fr)
{
    if (hf->gop_len + fr->len > CV_HTTP_GOP_MAX)
        return -ENOBUFS;
    if (hf->gop_len + fr->len > hf->gop_cap) {
        size_t cap = hf->gop_cap ? hf->gop_cap : (1u << 20);
        while (cap < hf->gop_len + fr->len)
            cap *= 2;
        uint8_t *g = realloc(hf->gop, cap);
        if (!g)
            return -ENOMEM;
        hf->gop = g;
        hf->gop_cap = cap;
    }
    if (hf->nfrags == hf->frags_cap) {
        size_t cap = hf->frags_cap ? hf->frags_cap * 2 : 256;
        struct cv_http_frag *f = realloc(hf->frags, cap * sizeof(*f));
        if (!f)
            return -ENOMEM;
        hf->frags = f;
        hf->frags_cap = cap;
    }
    memcpy(hf->gop + hf->gop_len, fr->data, fr->len);
    hf->frags[hf->nfrags++] =
        (struct cv_http_frag){hf->gop_len, fr->len, fr->tfdt_off, fr->out_track, fr->decode_time};
    hf->gop_len += fr->len;
    return 0;
}

static void cv_http_feed_close_mux(struct cv_http_feed *hf)
{
    if (hf->mux)
        cv_fmp4_close(hf->mux);
    hf->mux = NULL;
    cv_http_gop_reset(hf);
    if (hf->hls)
        cv_http_hls_on_restart(hf->hls);
}

/* Every viewer of the feed: started again (WebSocket) or closed (MP4) after new parameters. */
static void cv_http_feed_restart_viewers(struct cv_http_feed *hf, const char *why)
{
    for (struct cv_feed_viewer *l = cv_feed_viewers(hf->feed), *next; l; l = next) {
        next = l->next;
        struct cv_http_viewer *v = cv_http_viewer_of(l);
        if (!v->started)
            continue;
        if (v->ws)
            v->started = false; /* a new `mse` message and init segment at the next keyframe */
        else
            cv_http_conn_drop(v->c, why);
    }
}

static void cv_http_feed_on_subscribed(struct cv_feed *feed, int status, const char *reason)
{
    struct cv_http_feed *hf = cv_feed_ctx(feed);
    if (status == 0)
        return;
    for (struct cv_feed_viewer *l = cv_feed_viewers(feed), *next; l; l = next) {
        next = l->next;
        struct cv_http_viewer *v = cv_http_viewer_of(l);
        struct cv_http_conn *c = v->c;
        if (!v->ws) {
            cv_http_conn_drop(c, "stream not available");
            continue;
        }
        /* The WebSocket stays, as go2rtc's does: its player reads the reason and tries its
         * next mode (a refused transcode: MJPEG). */
        cv_http_mse_viewer_free(c);
        cv_http_ws_error(c, "mse", reason && reason[0] ? reason : "stream not available");
    }
    cv_info("camera %s: no feed: %s", hf->camera, reason ? reason : "refused");
}

/* What the muxer's init segment is made of (not the measured frame rate). */
static bool cv_http_same_params(const struct cv_stream_info *a, const struct cv_stream_info *b)
{
    if (a->track_count != b->track_count)
        return false;
    for (uint32_t i = 0; i < a->track_count && i < CV_MAX_TRACKS; i++) {
        const struct cv_track_info *x = &a->tracks[i], *y = &b->tracks[i];
        if (x->kind != y->kind || x->codec != y->codec || x->clock_rate != y->clock_rate ||
            x->channels != y->channels || x->width != y->width || x->height != y->height ||
            x->extradata_len != y->extradata_len || x->extradata_len > CV_MAX_EXTRADATA ||
            memcmp(x->extradata, y->extradata, x->extradata_len) != 0)
            return false;
    }
    return true;
}

static void cv_http_feed_on_params(struct cv_feed *feed, const struct cv_stream_info *prev,
                                   const struct cv_stream_info *info)
{
    struct cv_http_feed *hf = cv_feed_ctx(feed);
    if (prev->track_count == 0 && !hf->mux)
        return; /* the first parameters: the muxer opens at the first frame */
    /* A ring hand-over (the first resize comes seconds after a camera starts) or a worker
     * restart republishes the same parameters: the muxer and its viewers go on. */
    if (hf->mux && cv_http_same_params(prev, info))
        return;
    cv_http_feed_close_mux(hf);
    hf->mux_failed = false;
    cv_http_feed_restart_viewers(hf, "codec parameters changed");
}

static void cv_http_feed_on_discontinuity(struct cv_feed *feed, enum cv_feed_discont why)
{
    struct cv_http_feed *hf = cv_feed_ctx(feed);
    struct cv_cam *cam = cv_cameras_find(&hf->srv->proc.cams, hf->camera);
    if (why == CV_FEED_FRAMES_LOST && cam)
        cam->frames_lost++; /* this process fell a ring behind: /metrics counts it */
    if (hf->mux)
        cv_fmp4_discontinuity(hf->mux);
}

static bool cv_http_feed_open_mux(struct cv_http_feed *hf)
{
    if (hf->mux)
        return true;
    if (hf->mux_failed || !cv_feed_ready(hf->feed))
        return false;
    int rc = cv_fmp4_open(&hf->mux, cv_feed_info(hf->feed));
    if (rc < 0) {
        hf->mux = NULL;
        hf->mux_failed = true;
        cv_warn("camera %s: cannot mux it as fMP4: %s", hf->camera, strerror(-rc));
        for (struct cv_feed_viewer *l = cv_feed_viewers(hf->feed), *next; l; l = next) {
            next = l->next;
            struct cv_http_viewer *v = cv_http_viewer_of(l);
            if (v->ws)
                cv_http_ws_error(v->c, "mse",
                                 rc == -ENOTSUP || rc == -EINVAL ? "codecs not supported by MSE"
                                                                 : "cannot mux this stream");
            cv_http_conn_drop(v->c, "cannot mux");
        }
        return false;
    }
    cv_info("camera %s: fMP4 %s", hf->camera, cv_fmp4_mime(hf->mux));
    return true;
}

static void cv_http_feed_on_frame(struct cv_feed *feed, const struct cv_frame *fr,
                                  const uint8_t *data)
{
    struct cv_http_feed *hf = cv_feed_ctx(feed);
    if (!cv_http_feed_open_mux(hf))
        return;
    struct cv_fmp4_frag frag;
    int rc = cv_fmp4_write(hf->mux, fr, data, &frag);
    if (rc < 0) {
        cv_warn("camera %s: fMP4 muxing failed (%s): starting again", hf->camera, strerror(-rc));
        cv_http_feed_close_mux(hf);
        cv_http_feed_restart_viewers(hf, "muxer restarted");
        return;
    }
    if (rc == 0)
        return;
    bool video_key = frag.key;
    if (hf->hls)
        cv_http_hls_on_frag(hf->hls, hf->mux, &frag, video_key);
    if (video_key)
        cv_http_gop_reset(hf);
    if (video_key || hf->have_key) {
        hf->have_key = true;
        if (cv_http_gop_add(hf, &frag) < 0) {
            cv_log(CV_LOG_WRN, "camera %s: GOP over %u MiB: not cached", hf->camera,
                   CV_HTTP_GOP_MAX >> 20);
            cv_http_gop_reset(hf);
        }
    }
    for (struct cv_feed_viewer *l = cv_feed_viewers(feed), *next; l; l = next) {
        next = l->next;
        struct cv_http_viewer *v = cv_http_viewer_of(l);
        if (v->c->closing)
            continue;
        if (!v->started) {
            if (video_key) /* the cache is this very fragment: start from it */
                cv_http_viewer_start(v);
            continue;
        }
        if (cv_http_viewer_send_frag(v, frag.data, frag.len, frag.tfdt_off, frag.out_track,
                                     frag.decode_time) < 0) {
            v->c->srv->dropped_slow++;
            cv_http_conn_drop(v->c, "too slow: over its output limit");
        }
    }
}

static const struct cv_feed_ops cv_http_feed_ops = {
    .on_subscribed = cv_http_feed_on_subscribed,
    .on_params = cv_http_feed_on_params,
    .on_discontinuity = cv_http_feed_on_discontinuity,
    .on_frame = cv_http_feed_on_frame,
};

static void cv_http_feed_free(struct cv_http_feed *hf)
{
    for (struct cv_http_feed **pp = &hf->srv->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == hf) {
            *pp = hf->next;
            break;
        }
    }
    cv_http_hls_free(hf->hls); /* waiting playlist requests get their 503 */
    hf->hls = NULL;
    if (hf->feed)
        cv_feed_close(hf->feed);
    cv_http_feed_close_mux(hf);
    free(hf->gop);
    free(hf->frags);
    free(hf);
}

static struct cv_http_feed *cv_http_feed_get(struct cv_http_srv *srv, const char *camera,
                                             const char *variant)
{
    struct cv_feed *have = cv_feed_find(&srv->proc.feeds, camera, variant, &cv_http_feed_ops);
    if (have)
        return cv_feed_ctx(have);
    struct cv_http_feed *hf = calloc(1, sizeof(*hf));
    if (!hf) {
        errno = ENOMEM;
        return NULL;
    }
    hf->srv = srv;
    snprintf(hf->camera, sizeof(hf->camera), "%s", camera);
    snprintf(hf->variant, sizeof(hf->variant), "%s", variant);
    hf->next = srv->feeds;
    srv->feeds = hf;
    hf->feed = cv_feed_open(&srv->proc.feeds, camera, variant, &cv_http_feed_ops, hf);
    if (!hf->feed) {
        int err = errno;
        cv_http_feed_free(hf);
        errno = err; /* EMFILE: out of descriptors */
        return NULL;
    }
    return hf;
}

/* The HLS session is over: the feed idles out like one whose last viewer left. */
static void cv_http_feed_drop_hls(struct cv_http_feed *hf, uint64_t now_ms)
{
    cv_http_hls_free(hf->hls);
    hf->hls = NULL;
    if (!cv_feed_viewers(hf->feed) && !hf->idle_since_ms)
        hf->idle_since_ms = now_ms;
}

/*
 * HLS carries AAC, as every HLS player plays it (Apple's own take no FLAC or Opus in fMP4): a
 * camera whose audio is G.711 or Opus is muxed from its worker's `aac` variant, the camera's
 * video beside it. Others (AAC, no audio, not known yet) from the camera's own stream.
 */
static const char *cv_http_hls_variant(const struct cv_http_srv *srv, const char *camera)
{
    enum cv_codec a = cv_cameras_audio_codec(&srv->proc.cams, camera);
    return a == CV_CODEC_PCMA || a == CV_CODEC_PCMU || a == CV_CODEC_OPUS ? "aac"
                                                                          : CV_VARIANT_NATIVE;
}

struct cv_http_hls *cv_http_mse_hls(struct cv_http_srv *srv, const char *camera, bool open)
{
    /* A session already made stays on its feed, whatever the camera's codecs say since. */
    for (struct cv_http_feed *f = srv->feeds; f; f = f->next)
        if (f->hls && strcmp(f->camera, camera) == 0)
            return f->hls;
    const char *variant = cv_http_hls_variant(srv, camera);
    struct cv_feed *have = cv_feed_find(&srv->proc.feeds, camera, variant, &cv_http_feed_ops);
    struct cv_http_feed *hf = have ? cv_feed_ctx(have) : NULL;
    if (!open || (!hf && !(hf = cv_http_feed_get(srv, camera, variant))))
        return NULL;
    if (!(hf->hls = cv_http_hls_new(camera)))
        cv_http_feed_drop_hls(hf, cv_clock_mono_ms()); /* so that the feed idles out */
    return hf->hls;
}

/* ---- viewers ----------------------------------------------------------------------------- */

/* c becomes a viewer of hf: 0, or -ENOMEM. */
static int cv_http_viewer_new(struct cv_http_conn *c, struct cv_http_feed *hf, bool ws)
{
    cv_http_mse_viewer_free(c);
    struct cv_http_viewer *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->c = c;
    v->hf = hf;
    v->ws = ws;
    c->viewer = v;
    hf->idle_since_ms = 0;
    cv_feed_viewer_attach(hf->feed, &v->link);
    /* What the ring has that the doorbell has not brought yet is read now. A keyframe in it
     * starts every viewer waiting for one, this one included: the `mse` message and the init
     * segment are sent once, whichever way it starts. */
    cv_feed_pump(hf->feed);
    if (c->viewer != v || c->closing || v->started)
        return 0;
    /* A feed already running has its GOP cache: start now. Otherwise at the first keyframe. */
    if (cv_http_feed_open_mux(hf) && hf->have_key)
        cv_http_viewer_start(v);
    else
        cv_feed_request_keyframe(hf->feed);
    return 0;
}

void cv_http_mse_viewer_free(struct cv_http_conn *c)
{
    if (c->hls_wait) /* server.c calls this when a connection goes: an HLS wait ends too */
        cv_http_hls_conn_gone(c);
    struct cv_http_viewer *v = c->viewer;
    if (!v)
        return;
    c->viewer = NULL;
    cv_feed_viewer_detach(&v->link);
    if (!cv_feed_viewers(v->hf->feed))
        v->hf->idle_since_ms = cv_clock_mono_ms();
    free(v);
}

int cv_http_mse_start_mp4(struct cv_http_conn *c, const char *camera, const char *variant,
                          const char *filename)
{
    char disp[160] = "";
    if (filename)
        snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", filename);
    /* HEAD: the headers alone, and no feed (a feed would start an on-demand camera). */
    if (c->head)
        return cv_http_start_stream(c, "video/mp4", disp[0] ? disp : NULL) < 0 ? -1 : 0;
    /* The feed first: a stream that cannot have one is refused with a status, not cut. */
    struct cv_http_feed *hf = cv_http_feed_get(c->srv, camera, variant);
    if (!hf)
        return cv_http_respond_text(c, errno == EMFILE ? 503 : 500,
                                    errno == EMFILE
                                        ? "out of descriptors: too many cameras watched at once"
                                        : "out of memory");
    if (cv_http_start_stream(c, "video/mp4", disp[0] ? disp : NULL) < 0)
        return -1;
    /* Its first bytes may be long in coming (a camera not streaming): a client that leaves
     * before is let go then, not at the first write. */
    cv_http_conn_waiting(c, true);
    return cv_http_viewer_new(c, hf, false) < 0 ? -1 : 0;
}

int cv_http_mse_ws_open(struct cv_http_conn *c)
{
    if (!cv_cameras_exists(&c->srv->proc.cams, c->ws_camera))
        cv_http_ws_error(c, "ws", "stream not found");
    return 0;
}

/*
 * Whether a browser whose MSE codec list is `codecs` can play the camera's audio as muxed here
 * (AAC as mp4a, G.711 as FLAC, Opus): a SourceBuffer refuses a MIME with a codec it lacks, and
 * the video would not play either. A camera without audio, or whose codecs are not known yet,
 * counts as playable.
 */
static bool cv_http_mse_audio_playable(const struct cv_http_srv *srv, const char *camera,
                                       const char *codecs)
{
    const struct cv_cam *cam = cv_cameras_find(&srv->proc.cams, camera);
    const char *have = cam && cam->have_status ? cam->st.codecs : "";
    static const struct {
        const char *camera_codec, *mse_name;
    } audio[] = {{"aac", "mp4a"}, {"pcm_alaw", "flac"}, {"pcm_mulaw", "flac"}, {"opus", "opus"}};
    for (size_t i = 0; i < sizeof(audio) / sizeof(audio[0]); i++)
        if (strstr(have, audio[i].camera_codec))
            return strstr(codecs, audio[i].mse_name) != NULL;
    return true;
}

void cv_http_mse_ws_message(struct cv_http_conn *c, const struct cv_ws_msg *m)
{
    if (strcmp(m->type, "mse") == 0 || strcmp(m->type, "mp4") == 0) {
        if (!c->ws_camera[0] || !cv_cameras_exists(&c->srv->proc.cams, c->ws_camera)) {
            cv_http_ws_error(c, m->type, "stream not found");
            return;
        }
        /* The browser's codec list decides: the camera's own video where it is listed, else
         * the worker's h264 variant for an H.265 camera (transcoded once for every viewer),
         * else go2rtc's error. No list: the camera's own. */
        bool list = m->kind == CV_WS_VALUE_STRING && m->value[0];
        bool avc = !list || strstr(m->value, "avc1"), hvc = !list || strstr(m->value, "hvc1");
        enum cv_codec have = cv_cameras_video_codec(&c->srv->proc.cams, c->ws_camera);
        if (!avc && (!hvc || have == CV_CODEC_H264)) {
            cv_http_ws_error(c, m->type, "codecs not matched");
            return;
        }
        const char *variant = CV_VARIANT_NATIVE;
        if (have == CV_CODEC_H265 && !hvc)
            variant = "h264"; /* with the camera's audio, as it comes (a variant makes one
                               * transcode: audio the list lacks makes the MIME unplayable,
                               * and the player falls back to its next mode) */
        else if (list && !cv_http_mse_audio_playable(c->srv, c->ws_camera, m->value))
            /* The camera's audio made AAC by its worker where the browser plays AAC (G.711,
             * whose FLAC some players lack); else go2rtc's answer: the video alone. */
            variant = strstr(m->value, "mp4a") ? "aac" : "video";
        struct cv_http_feed *hf = cv_http_feed_get(c->srv, c->ws_camera, variant);
        if (!hf)
            cv_http_ws_error(c, m->type,
                             errno == EMFILE
                                 ? "out of descriptors: too many cameras watched at once"
                                 : "out of memory");
        else if (cv_http_viewer_new(c, hf, true) < 0)
            cv_http_ws_error(c, m->type, "out of memory");
    } else if (strncmp(m->type, "webrtc", 6) == 0) {
        cv_http_webrtc_ws_message(c, m);
    } else if (strcmp(m->type, "hls") == 0 || strcmp(m->type, "mjpeg") == 0) {
        cv_http_ws_error(c, m->type, "not supported by camvisor yet");
    } else {
        cv_http_ws_error(c, m->type, "unknown request");
    }
}

void cv_http_mse_drop_camera(struct cv_http_srv *srv, const char *camera)
{
    for (struct cv_http_feed *hf = srv->feeds; hf; hf = hf->next) {
        if (strcmp(hf->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *l = cv_feed_viewers(hf->feed), *next; l; l = next) {
            next = l->next;
            cv_http_conn_drop(cv_http_viewer_of(l)->c, "camera removed");
        }
        if (hf->hls)
            cv_http_feed_drop_hls(hf, cv_clock_mono_ms());
    }
}

void cv_http_mse_tick(struct cv_http_srv *srv, uint64_t now_ms)
{
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (c->viewer && c->stream_until_ms && now_ms >= c->stream_until_ms) {
            cv_http_mse_viewer_free(c); /* duration= reached: what is queued goes, then close */
            c->end_when_drained = true;
            if (cv_outq_empty(&c->out))
                cv_http_conn_drop(c, "stream.mp4 duration reached");
            else
                lws_callback_on_writable(c->wsi);
            continue;
        }
        if (c->viewer && !cv_outq_empty(&c->out) && now_ms - c->out.since_ms > CV_HTTP_SLOW_MS) {
            srv->dropped_slow++;
            cv_http_conn_drop(c, "too slow: behind for 10 s");
        }
    }
    for (struct cv_http_feed *hf = srv->feeds, *next; hf; hf = next) {
        next = hf->next;
        if (hf->hls && !cv_http_hls_tick(hf->hls, now_ms))
            cv_http_feed_drop_hls(hf, now_ms);
        bool refused = cv_feed_status(hf->feed, NULL) < 0;
        if (!cv_feed_viewers(hf->feed) &&
            (refused ||
             (!hf->hls && hf->idle_since_ms && now_ms - hf->idle_since_ms > CV_HTTP_FEED_IDLE)))
            cv_http_feed_free(hf);
    }
}

void cv_http_mse_fini(struct cv_http_srv *srv)
{
    while (srv->feeds)
        cv_http_feed_free(srv->feeds);
}

unsigned cv_http_mse_viewers(const struct cv_http_srv *srv, const char *camera, const char *kind)
{
    unsigned n = 0;
    bool ws = strcmp(kind, "mse") == 0;
    for (const struct cv_http_feed *hf = srv->feeds; hf; hf = hf->next) {
        if (strcmp(hf->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *l = cv_feed_viewers(hf->feed); l; l = l->next)
            n += cv_http_viewer_of(l)->ws == ws;
    }
    return n;
}

uint64_t cv_http_mse_viewer_bytes(const struct cv_http_conn *c)
{
    return c->viewer ? c->viewer->bytes : 0;
}

bool cv_http_mse_viewer_is_ws(const struct cv_http_conn *c)
{
    return c->viewer && c->viewer->ws;
}
