/*
 * JPEG out of camvisor-http: GET /api/frame.jpeg (a snapshot) and GET /api/stream.mjpeg
 * (multipart/x-mixed-replace), both from the camera's `jpeg` variant ring, which the camera's
 * worker produces while someone subscribes (worker/xcode-jpeg.c). This process never decodes.
 *
 * One feed per (camera, size): "jpeg" or "jpeg:WxH" for frame.jpeg?width=&height=. The feed
 * keeps its newest picture, so a snapshot of a camera someone already watches is answered at
 * once; otherwise the worker decodes from the camera's newest keyframe and the snapshot is
 * answered with that first picture (no waiting for the next keyframe, as go2rtc does). A feed
 * nobody used for CV_HTTP_JPEG_IDLE_MS is closed, and the worker stops decoding.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "consumers/http/http.h"

#define CV_HTTP_JPEG_IDLE_MS  3000 /* a snapshot feed stays this long for the next one */
#define CV_HTTP_JPEG_FRESH_MS 1000 /* a kept picture this young answers a snapshot at once */
/* A snapshot with no picture by then: 503 (before libwebsockets' own 10 s request timeout,
 * and Home Assistant's 10 s client timeout). */
#define CV_HTTP_JPEG_WAIT_MS   8000
#define CV_HTTP_MJPEG_BOUNDARY "cvframe"

struct cv_http_jfeed {
    struct cv_http_srv *srv;
    struct cv_http_jfeed *next;
    char camera[CV_NAME_MAX];
    char variant[CV_VARIANT_MAX];
    struct cv_feed *feed; /* owned */
    uint8_t *last;        /* owned: the newest picture */
    size_t last_len, last_cap;
    uint64_t last_ms, used_ms;
};

struct cv_http_jview {
    struct cv_feed_viewer link;
    struct cv_http_conn *c;
    struct cv_http_jfeed *jf;
    bool mjpeg;        /* a stream viewer, else a snapshot waiting for its picture */
    uint64_t since_ms; /* when it came */
    uint64_t bytes;
};

static struct cv_http_jview *cv_http_jview_of(struct cv_feed_viewer *l)
{
    return (struct cv_http_jview *)((char *)l - offsetof(struct cv_http_jview, link));
}

static int cv_http_snapshot_send(struct cv_http_conn *c, const uint8_t *jpg, size_t len)
{
    return cv_http_respond_bytes(c, 200, "image/jpeg", jpg, len, false);
}

static int cv_http_mjpeg_part(struct cv_http_jview *v, const uint8_t *jpg, size_t len)
{
    char head[128];
    int n = snprintf(head, sizeof(head),
                     "--" CV_HTTP_MJPEG_BOUNDARY "\r\nContent-Type: image/jpeg\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     len);
    struct iovec iov[3] = {{head, (size_t)n}, {(void *)jpg, len}, {"\r\n", 2}};
    int rc = cv_http_sendv(v->c, LWS_WRITE_HTTP, iov, 3);
    if (rc == 0)
        v->bytes += len;
    return rc;
}

void cv_http_jpeg_viewer_free(struct cv_http_conn *c)
{
    struct cv_http_jview *v = c->jview;
    if (!v)
        return;
    c->jview = NULL;
    cv_feed_viewer_detach(&v->link);
    v->jf->used_ms = cv_clock_mono_ms();
    if (!v->mjpeg) /* a snapshot answered: back to a keep-alive connection that lws reads */
        cv_http_conn_waiting(c, false);
    free(v);
}

/* ---- the feed ---------------------------------------------------------------------------- */

static void cv_http_jfeed_on_subscribed(struct cv_feed *feed, int status, const char *reason)
{
    if (status == 0)
        return;
    for (struct cv_feed_viewer *l = cv_feed_viewers(feed), *next; l; l = next) {
        next = l->next;
        struct cv_http_conn *c = cv_http_jview_of(l)->c;
        bool mjpeg = cv_http_jview_of(l)->mjpeg;
        cv_http_jpeg_viewer_free(c);
        if (mjpeg)
            cv_http_conn_drop(c, "no JPEG for this camera");
        else
            cv_http_respond_text(c, 503, reason && reason[0] ? reason : "no picture");
    }
}

static void cv_http_jfeed_on_params(struct cv_feed *feed, const struct cv_stream_info *prev,
                                    const struct cv_stream_info *info)
{
    (void)feed;
    (void)prev;
    (void)info;
}

static void cv_http_jfeed_on_discontinuity(struct cv_feed *feed, enum cv_feed_discont why)
{
    (void)feed;
    (void)why;
}

static void cv_http_jfeed_on_frame(struct cv_feed *feed, const struct cv_frame *fr,
                                   const uint8_t *data)
{
    struct cv_http_jfeed *jf = cv_feed_ctx(feed);
    const struct cv_stream_info *info = cv_feed_info(feed);
    if (fr->track >= info->track_count || info->tracks[fr->track].codec != CV_CODEC_JPEG)
        return;
    if (fr->len > jf->last_cap) {
        uint8_t *b = realloc(jf->last, fr->len);
        if (!b)
            return;
        jf->last = b;
        jf->last_cap = fr->len;
    }
    memcpy(jf->last, data, fr->len);
    jf->last_len = fr->len;
    jf->last_ms = cv_clock_mono_ms();
    for (struct cv_feed_viewer *l = cv_feed_viewers(feed), *next; l; l = next) {
        next = l->next;
        struct cv_http_jview *v = cv_http_jview_of(l);
        struct cv_http_conn *c = v->c;
        if (c->closing)
            continue;
        if (!v->mjpeg) {
            cv_http_jpeg_viewer_free(c);
            cv_http_snapshot_send(c, data, fr->len);
        } else if (cv_http_mjpeg_part(v, data, fr->len) < 0) {
            c->srv->dropped_slow++;
            cv_http_conn_drop(c, "too slow: over its output limit");
        }
    }
}

static const struct cv_feed_ops cv_http_jfeed_ops = {
    .on_subscribed = cv_http_jfeed_on_subscribed,
    .on_params = cv_http_jfeed_on_params,
    .on_discontinuity = cv_http_jfeed_on_discontinuity,
    .on_frame = cv_http_jfeed_on_frame,
};

static void cv_http_jfeed_free(struct cv_http_jfeed *jf)
{
    for (struct cv_http_jfeed **pp = &jf->srv->jfeeds; *pp; pp = &(*pp)->next) {
        if (*pp == jf) {
            *pp = jf->next;
            break;
        }
    }
    if (jf->feed)
        cv_feed_close(jf->feed);
    free(jf->last);
    free(jf);
}

static struct cv_http_jfeed *cv_http_jfeed_get(struct cv_http_srv *srv, const char *camera,
                                               const char *variant)
{
    struct cv_feed *have = cv_feed_find(&srv->proc.feeds, camera, variant, &cv_http_jfeed_ops);
    if (have)
        return cv_feed_ctx(have);
    struct cv_http_jfeed *jf = calloc(1, sizeof(*jf));
    if (!jf) {
        errno = ENOMEM;
        return NULL;
    }
    jf->srv = srv;
    snprintf(jf->camera, sizeof(jf->camera), "%s", camera);
    snprintf(jf->variant, sizeof(jf->variant), "%s", variant);
    jf->next = srv->jfeeds;
    srv->jfeeds = jf;
    jf->feed = cv_feed_open(&srv->proc.feeds, camera, variant, &cv_http_jfeed_ops, jf);
    if (!jf->feed) {
        int err = errno;
        cv_http_jfeed_free(jf);
        errno = err; /* EMFILE: out of descriptors */
        return NULL;
    }
    return jf;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* What a client is told when its feed cannot be opened: 0, or -1 to close. */
static int cv_http_jpeg_no_feed(struct cv_http_conn *c, int err)
{
    if (err == EMFILE)
        return cv_http_respond_text(c, 503, "out of descriptors: too many cameras watched at once");
    return cv_http_respond_text(c, 500, "out of memory");
}

static int cv_http_jpeg_attach(struct cv_http_conn *c, struct cv_http_jfeed *jf, bool mjpeg)
{
    struct cv_http_jview *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->c = c;
    v->jf = jf;
    v->mjpeg = mjpeg;
    v->since_ms = jf->used_ms = cv_clock_mono_ms();
    c->jview = v;
    cv_http_conn_waiting(c, true); /* a client that leaves before its picture is let go then */
    cv_feed_viewer_attach(jf->feed, &v->link);
    cv_feed_pump(jf->feed); /* a running ring's newest picture comes now */
    return 0;
}

/* src, width and height of a JPEG request: the camera, with its variant in variant[], or NULL
 * when the request was answered with its error (*rc what that answer returned). */
static const char *cv_http_jpeg_request(struct cv_http_conn *c, const struct cv_http_args *args,
                                        char variant[CV_VARIANT_MAX], int *rc)
{
    const char *src = cv_http_arg(args, "src");
    /* The camera's size, once its worker reported it: requests for one picture share a ring. */
    const struct cv_cam *cam = src ? cv_cameras_find(&c->srv->proc.cams, src) : NULL;
    unsigned cam_w = cam && cam->have_status ? cam->st.width : 0;
    unsigned cam_h = cam && cam->have_status ? cam->st.height : 0;
    if (!src || !src[0])
        *rc = cv_http_respond_text(c, 400, "src is required");
    else if (cv_http_req_jpeg_variant(cv_http_arg(args, "width"), cv_http_arg(args, "height"),
                                      cam_w, cam_h, variant, CV_VARIANT_MAX) < 0)
        *rc = cv_http_respond_text(c, 400, "width and height: 1 to 8192");
    else if (!cv_cameras_exists(&c->srv->proc.cams, src))
        *rc = cv_http_respond_text(c, 404, "stream not found");
    else
        return src;
    return NULL;
}

int cv_http_jpeg_snapshot(struct cv_http_conn *c, const struct cv_http_args *args)
{
    char variant[CV_VARIANT_MAX];
    int rc = 0;
    const char *src = cv_http_jpeg_request(c, args, variant, &rc);
    if (!src)
        return rc;
    /* A camera that cannot be reached has no picture to give: say why at once. */
    const struct cv_cam *cam = cv_cameras_find(&c->srv->proc.cams, src);
    if (cam && cam->have_status && cam->st.state != CV_STATE_STREAMING && cam->st.error[0]) {
        char why[200];
        snprintf(why, sizeof(why), "camera not streaming: %s", cam->st.error);
        return cv_http_respond_text(c, 503, why);
    }
    uint64_t now = cv_clock_mono_ms();
    for (struct cv_http_jfeed *jf = c->srv->jfeeds; jf; jf = jf->next) {
        if (strcmp(jf->camera, src) == 0 && strcmp(jf->variant, variant) == 0 && jf->last_len &&
            now - jf->last_ms < CV_HTTP_JPEG_FRESH_MS) {
            jf->used_ms = now;
            return cv_http_snapshot_send(c, jf->last, jf->last_len);
        }
    }
    struct cv_http_jfeed *jf = cv_http_jfeed_get(c->srv, src, variant);
    if (!jf)
        return cv_http_jpeg_no_feed(c, errno);
    if (cv_http_jpeg_attach(c, jf, false) < 0)
        return cv_http_respond_text(c, 500, "out of memory");
    return 0; /* answered by the feed's first picture, or by the tick's timeout */
}

int cv_http_jpeg_mjpeg(struct cv_http_conn *c, const struct cv_http_args *args)
{
    char variant[CV_VARIANT_MAX];
    int rc = 0;
    const char *src = cv_http_jpeg_request(c, args, variant, &rc);
    if (!src)
        return rc;
    /* HEAD: the headers alone, and no feed (a feed would start the camera's decoder). */
    if (c->head)
        return cv_http_start_stream(
                   c, "multipart/x-mixed-replace; boundary=" CV_HTTP_MJPEG_BOUNDARY, NULL) < 0
                   ? -1
                   : 0;
    /* The feed first: a stream that cannot have one is refused with a status, not cut. */
    struct cv_http_jfeed *jf = cv_http_jfeed_get(c->srv, src, variant);
    if (!jf)
        return cv_http_jpeg_no_feed(c, errno);
    if (cv_http_start_stream(c, "multipart/x-mixed-replace; boundary=" CV_HTTP_MJPEG_BOUNDARY,
                             NULL) < 0)
        return -1;
    snprintf(c->stream_camera, sizeof(c->stream_camera), "%s", src);
    return cv_http_jpeg_attach(c, jf, true) < 0 ? -1 : 0;
}

void cv_http_jpeg_drop_camera(struct cv_http_srv *srv, const char *camera)
{
    for (struct cv_http_jfeed *jf = srv->jfeeds; jf; jf = jf->next) {
        if (strcmp(jf->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *l = cv_feed_viewers(jf->feed), *next; l; l = next) {
            next = l->next;
            struct cv_http_conn *c = cv_http_jview_of(l)->c;
            cv_http_jpeg_viewer_free(c);
            cv_http_conn_drop(c, "camera removed");
        }
    }
}

void cv_http_jpeg_tick(struct cv_http_srv *srv, uint64_t now_ms)
{
    for (struct cv_http_jfeed *jf = srv->jfeeds, *next; jf; jf = next) {
        next = jf->next;
        for (struct cv_feed_viewer *l = cv_feed_viewers(jf->feed), *ln; l; l = ln) {
            ln = l->next;
            struct cv_http_jview *v = cv_http_jview_of(l);
            if (!v->mjpeg && now_ms - v->since_ms > CV_HTTP_JPEG_WAIT_MS) {
                struct cv_http_conn *c = v->c;
                cv_http_jpeg_viewer_free(c);
                cv_http_respond_text(c, 503, "no picture from the camera");
            }
        }
        bool refused = cv_feed_status(jf->feed, NULL) < 0;
        if (!cv_feed_viewers(jf->feed) && (refused || now_ms - jf->used_ms > CV_HTTP_JPEG_IDLE_MS))
            cv_http_jfeed_free(jf);
    }
}

void cv_http_jpeg_fini(struct cv_http_srv *srv)
{
    while (srv->jfeeds)
        cv_http_jfeed_free(srv->jfeeds);
}

unsigned cv_http_jpeg_viewers(const struct cv_http_srv *srv, const char *camera)
{
    unsigned n = 0;
    for (const struct cv_http_jfeed *jf = srv->jfeeds; jf; jf = jf->next) {
        if (strcmp(jf->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *l = cv_feed_viewers(jf->feed); l; l = l->next)
            n += cv_http_jview_of(l)->mjpeg;
    }
    return n;
}
