/*
 * go2rtc's JSON API (reference/go2rtc.md §1), camvisor's own /api/cameras and /metrics. Paths,
 * parameters and field names are go2rtc's, so Home Assistant, Frigate and go2rtc's player work
 * unchanged. Camera URLs are shown redacted (the supervisor redacts them): no answer carries a
 * password.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/json.h"
#include "common/base/log.h"
#include "common/base/version.h"
#include "proto/chan.h"
#include "consumers/http/http.h"

static const char *const cv_http_state_names[] = {"stopped", "connecting", "streaming",
                                                  "reconnecting"};

static const char *cv_http_state_name(uint32_t s)
{
    return s < sizeof(cv_http_state_names) / sizeof(cv_http_state_names[0]) ? cv_http_state_names[s]
                                                                            : "unknown";
}

static int cv_http_json_reply(struct cv_http_conn *c, struct cv_json *j)
{
    size_t n = 0;
    char *s = cv_json_take(j, &n);
    if (!s)
        return cv_http_respond_text(c, 500, "out of memory");
    return cv_http_respond(c, 200, "application/json", s, n);
}

/* GET /api: go2rtc's shape; `version` is the go2rtc API level (Home Assistant checks it). */
static int cv_http_api_info(struct cv_http_conn *c)
{
    struct cv_json j;
    char host[256] = "";
    lws_hdr_copy(c->wsi, host, sizeof(host), WSI_TOKEN_HOST);
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "version", CV_GO2RTC_API_LEVEL);
    cv_json_kv_str(&j, "revision", "camvisor-" CV_VERSION);
    cv_json_kv_str(&j, "config_path", "");
    cv_json_kv_str(&j, "host", host);
    cv_json_key(&j, "rtsp");
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "listen", c->srv->set.rtsp_listen);
    cv_json_kv_str(&j, "default_query", "video&audio");
    cv_json_obj_close(&j);
    cv_json_key(&j, "camvisor");
    cv_json_obj_open(&j);
    cv_json_kv_str(&j, "version", CV_VERSION);
    cv_json_kv_u64(&j, "uptime_s", (cv_clock_mono_ms() - c->srv->started_ms) / 1000);
    cv_json_obj_close(&j);
    cv_json_obj_close(&j);
    return cv_http_json_reply(c, &j);
}

/* "video, recvonly, H264" for each codec of "h264,aac". */
static void cv_http_medias(struct cv_json *j, const char *codecs, const char *dir)
{
    cv_json_arr_open(j);
    const char *p = codecs;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[16], up[16];
        snprintf(name, sizeof(name), "%.*s", (int)(n < 15 ? n : 15), p);
        for (size_t i = 0; i <= strlen(name); i++)
            up[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 32 : name[i]);
        bool video =
            strcmp(name, "h264") == 0 || strcmp(name, "hevc") == 0 || strcmp(name, "h265") == 0;
        char m[64];
        snprintf(m, sizeof(m), "%s, %s, %s", video ? "video" : "audio", dir,
                 strcmp(up, "HEVC") == 0 ? "H265" : up);
        cv_json_str(j, m);
        p += n;
        if (*p == ',')
            p++;
    }
    cv_json_arr_close(j);
}

static void cv_http_stream_info(struct cv_http_srv *srv, struct cv_json *j, const char *name)
{
    const struct cv_cam *cam = cv_cameras_find(&srv->proc.cams, name);
    cv_json_obj_open(j);
    cv_json_key(j, "producers");
    cv_json_arr_open(j);
    cv_json_obj_open(j);
    bool live = cam && cam->st.state == CV_STATE_STREAMING;
    if (live) {
        cv_json_kv_u64(j, "id", 1);
        cv_json_kv_str(j, "format_name", strncmp(cam->st.source, "rtsp", 4) == 0 ? "rtsp" : "file");
        cv_json_kv_str(j, "protocol", "rtsp+tcp");
        cv_json_key(j, "medias");
        cv_http_medias(j, cam->st.codecs, "recvonly");
        cv_json_kv_u64(j, "bytes_recv", cam->st.bytes);
        /* camvisor's own: what its worker transcodes, on what, and how many encoders run for
         * it (one per variant, whoever watches). */
        if (cam->st.transcode[0]) {
            cv_json_kv_str(j, "transcode", cam->st.transcode);
            cv_json_kv_u64(j, "encoders", cam->st.encoders);
            cv_json_kv_u64(j, "decoded", cam->st.decoded);
            cv_json_kv_u64(j, "skipped", cam->st.xcode_skipped);
            cv_json_kv_num(j, "transcode_p50_ms", cam->st.xcode_p50_us / 1000.0);
            cv_json_kv_num(j, "transcode_p99_ms", cam->st.xcode_p99_us / 1000.0);
        }
    }
    cv_json_kv_str(j, "url", cam ? cam->st.source : "");
    cv_json_obj_close(j);
    cv_json_arr_close(j);
    cv_json_key(j, "consumers");
    cv_json_arr_open(j);
    unsigned id = 2;
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        bool ws = cv_http_mse_viewer_is_ws(c);
        if (!c->viewer || strcmp(ws ? c->ws_camera : c->stream_camera, name) != 0)
            continue;
        cv_json_obj_open(j);
        cv_json_kv_u64(j, "id", id++);
        cv_json_kv_str(j, "format_name", ws ? "mse/fmp4" : "mp4");
        cv_json_kv_str(j, "protocol", ws ? "ws" : "http");
        cv_json_kv_str(j, "remote_addr", c->peer_str);
        cv_json_key(j, "medias");
        cv_http_medias(j, cam ? cam->st.codecs : "", "sendonly");
        cv_json_kv_u64(j, "bytes_send", cv_http_mse_viewer_bytes(c));
        cv_json_obj_close(j);
    }
    cv_http_webrtc_consumers(srv, j, name, &id);
    cv_json_arr_close(j);
    cv_json_obj_close(j);
}

/* A program-execution source: never run by camvisor, whoever asks. */
static bool cv_http_exec_source(const char *src)
{
    return strncmp(src, "exec:", 5) == 0 || strncmp(src, "echo:", 5) == 0 ||
           strncmp(src, "expr:", 5) == 0;
}

/*
 * go2rtc's `ffmpeg:NAME#video=h264#audio=opus...`, Home Assistant's way of asking for a
 * transcoded form of the same camera: accepted as a request for that camera's variants, which
 * its worker produces on demand when a viewer asks. Nothing is run.
 */
static bool cv_http_variant_request(const char *src, const char *name)
{
    if (strncmp(src, "ffmpeg:", 7) != 0)
        return false;
    size_t n = strcspn(src + 7, "#");
    return n == strlen(name) && strncmp(src + 7, name, n) == 0;
}

/* Sends a put/delete to the supervisor; the answer (STREAM_RESULT) completes the request. */
static int cv_http_api_ask_supervisor(struct cv_http_conn *c, struct cv_msg *m, uint32_t *req_id)
{
    struct cv_http_srv *srv = c->srv;
    *req_id = ++srv->next_req ? srv->next_req : ++srv->next_req;
    c->pending_req = *req_id;
    c->pending_since_ms = cv_clock_mono_ms();
    if (cv_chan_send(srv->proc.ctl, m, NULL, 0) < 0) {
        c->pending_req = 0;
        return cv_http_respond_text(c, 503, "the supervisor is not answering");
    }
    return 0;
}

static int cv_http_api_streams_put(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *name = cv_http_arg(args, "name");
    const char *url = NULL;
    if (!name)
        name = cv_http_arg(args, "src"); /* go2rtc: the name defaults to the source */
    if (!name || !name[0])
        return cv_http_respond_text(c, 400, "name is required");
    for (unsigned i = 0; i < args->count; i++) {
        const char *src = args->a[i].val;
        if (strcmp(args->a[i].key, "src") != 0)
            continue;
        if (cv_http_exec_source(src))
            return cv_http_respond_text(c, 400, "exec:, echo: and expr: sources are refused");
        if (cv_http_variant_request(src, name))
            continue;
        if (strncmp(src, "ffmpeg:", 7) == 0 || url)
            return cv_http_respond_text(c, 400,
                                        "only one source per stream: fallback sources "
                                        "and ffmpeg: inputs are not supported yet");
        url = src;
    }
    if (!url) /* only variant requests: fine for a camera that exists */
        return cv_cameras_exists(&c->srv->proc.cams, name)
                   ? cv_http_respond(c, 200, "text/plain", NULL, 0)
                   : cv_http_respond_text(c, 400, "src is required");
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    m->type = CV_MSG_STREAM_PUT;
    if (strlen(name) >= sizeof(m->u.stream_put.name) ||
        strlen(url) >= sizeof(m->u.stream_put.url)) {
        free(m);
        return cv_http_respond_text(c, 400, "name or source too long");
    }
    memcpy(m->u.stream_put.name, name, strlen(name) + 1); /* lengths checked above */
    memcpy(m->u.stream_put.url, url, strlen(url) + 1);
    int rc = cv_http_api_ask_supervisor(c, m, &m->u.stream_put.req_id);
    memset(m, 0, sizeof(*m)); /* the URL may carry a password */
    free(m);
    return rc;
}

static int cv_http_api_streams_delete(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *name = cv_http_arg(args, "src");
    if (!name || !name[0])
        return cv_http_respond_text(c, 400, "src is required");
    struct cv_msg m = {.type = CV_MSG_STREAM_DELETE};
    if (strlen(name) >= sizeof(m.u.stream_delete.name))
        return cv_http_respond(c, 200, "text/plain", NULL, 0); /* no such stream */
    snprintf(m.u.stream_delete.name, sizeof(m.u.stream_delete.name), "%s", name);
    return cv_http_api_ask_supervisor(c, &m, &m.u.stream_delete.req_id);
}

void cv_http_api_on_result(struct cv_http_srv *srv, const struct cv_msg_stream_result *r)
{
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (c->pending_req != r->req_id)
            continue;
        c->pending_req = 0;
        if (r->status >= 0)
            cv_http_respond(c, 200, "text/plain", NULL, 0);
        else
            cv_http_respond_text(c,
                                 r->status == -EEXIST || r->status == -ENOSPC   ? 409
                                 : r->status == -EACCES                         ? 403
                                 : r->status == -EMFILE || r->status == -ENFILE ? 503
                                 : r->status == -EINVAL                         ? 400
                                                                                : 500,
                                 r->reason);
        return;
    }
}

void cv_http_api_tick(struct cv_http_srv *srv, uint64_t now_ms)
{
    for (struct cv_http_conn *c = srv->conns; c; c = c->next) {
        if (c->pending_req && now_ms - c->pending_since_ms > 10000) {
            c->pending_req = 0;
            cv_http_respond_text(c, 504, "the supervisor did not answer");
        }
    }
}

static int cv_http_api_streams(struct cv_http_conn *c, const char *method,
                               const struct cv_http_args *args)
{
    struct cv_http_srv *srv = c->srv;
    if (strcmp(method, "GET") != 0) {
        if (!srv->set.allow_write)
            return cv_http_respond_text(c, 403, "writes are disabled ([api] allow_write)");
        if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
            return cv_http_api_streams_put(c, args);
        if (strcmp(method, "DELETE") == 0)
            return cv_http_api_streams_delete(c, args);
        return cv_http_respond_text(c, 405, "method not allowed");
    }
    const char *src = cv_http_arg(args, "src");
    struct cv_json j;
    cv_json_init(&j);
    if (src) {
        if (!cv_cameras_exists(&srv->proc.cams, src)) {
            cv_json_free(&j);
            return cv_http_respond_text(c, 404, "stream not found");
        }
        cv_http_stream_info(srv, &j, src);
    } else {
        cv_json_obj_open(&j);
        for (uint32_t i = 0; i < srv->proc.cams.cat.camera_count; i++) {
            cv_json_key(&j, srv->proc.cams.cat.cameras[i].name);
            cv_http_stream_info(srv, &j, srv->proc.cams.cat.cameras[i].name);
        }
        cv_json_obj_close(&j);
    }
    return cv_http_json_reply(c, &j);
}

/* camvisor's own: what the web UI shows of each camera. */
static int cv_http_api_cameras(struct cv_http_conn *c)
{
    struct cv_http_srv *srv = c->srv;
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_key(&j, "cameras");
    cv_json_arr_open(&j);
    for (uint32_t i = 0; i < srv->proc.cams.cat.camera_count; i++) {
        const struct cv_msg_camera_entry *e = &srv->proc.cams.cat.cameras[i];
        const struct cv_cam *cam = cv_cameras_find(&srv->proc.cams, e->name);
        const struct cv_msg_camera_status *st = cam ? &cam->st : NULL;
        cv_json_obj_open(&j);
        cv_json_kv_str(&j, "name", e->name);
        cv_json_kv_str(&j, "state", cv_http_state_name(st ? st->state : e->state));
        cv_json_kv_str(&j, "codecs", st ? st->codecs : e->codecs);
        cv_json_kv_u64(&j, "width", st ? st->width : 0);
        cv_json_kv_u64(&j, "height", st ? st->height : 0);
        cv_json_kv_num(&j, "fps", st ? st->fps_x100 / 100.0 : 0);
        cv_json_kv_u64(&j, "bitrate", st ? st->bitrate : 0);
        cv_json_kv_u64(&j, "uptime_s", st ? st->uptime_ms / 1000 : 0);
        cv_json_kv_u64(&j, "restarts", st ? st->restarts : e->restarts);
        cv_json_kv_u64(&j, "bytes_recv", st ? st->bytes : 0);
        cv_json_kv_str(&j, "error", st ? st->error : "");
        cv_json_kv_str(&j, "transcode", st ? st->transcode : "");
        cv_json_key(&j, "viewers");
        cv_json_obj_open(&j);
        cv_json_kv_u64(&j, "mse", cv_http_mse_viewers(srv, e->name, "mse"));
        cv_json_kv_u64(&j, "mp4", cv_http_mse_viewers(srv, e->name, "mp4"));
        cv_json_kv_u64(&j, "mjpeg", cv_http_jpeg_viewers(srv, e->name));
        cv_json_obj_close(&j);
        cv_json_obj_close(&j);
    }
    cv_json_arr_close(&j);
    cv_json_obj_close(&j);
    return cv_http_json_reply(c, &j);
}

static int cv_http_api_schemes(struct cv_http_conn *c)
{
    static const char body[] = "[\"rtsp\",\"file\",\"testsrc\",\"ffmpeg\"]";
    char *b = strdup(body);
    return b ? cv_http_respond(c, 200, "application/json", b, sizeof(body) - 1) : -1;
}

static int cv_http_api_mp4(struct cv_http_conn *c, const struct cv_http_args *args)
{
    const char *src = cv_http_arg(args, "src");
    if (!src || !src[0])
        return cv_http_respond_text(c, 400, "src is required");
    if (!cv_cameras_exists(&c->srv->proc.cams, src))
        return cv_http_respond_text(c, 404, "stream not found");
    /* go2rtc's duration= (seconds) ends the stream; filename= makes it a download. */
    const char *dur = cv_http_arg(args, "duration"), *name = cv_http_arg(args, "filename");
    if (dur && dur[0]) {
        char *endp;
        unsigned long secs = strtoul(dur, &endp, 10);
        if (*endp || dur[0] < '0' || dur[0] > '9' || secs == 0 || secs > 86400)
            return cv_http_respond_text(c, 400, "duration: 1 to 86400 seconds");
        c->stream_until_ms = cv_clock_mono_ms() + secs * 1000;
    }
    static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (name && name[0] &&
        (strlen(name) > 120 || name[0] == '.' || strspn(name, plain) != strlen(name)))
        return cv_http_respond_text(c, 400, "filename: use A-Z a-z 0-9 . _ -");
    /* video=h264 (go2rtc's filter) of a camera that is not H.264: its worker's h264 variant. */
    const char *video = cv_http_arg(args, "video");
    enum cv_codec have = cv_cameras_video_codec(&c->srv->proc.cams, src);
    const char *variant =
        video && strcmp(video, "h264") == 0 && have != CV_CODEC_H264 && have != CV_CODEC_NONE
            ? "h264"
            : CV_VARIANT_NATIVE;
    snprintf(c->stream_camera, sizeof(c->stream_camera), "%s", src);
    return cv_http_mse_start_mp4(c, src, variant, name && name[0] ? name : NULL);
}

/* Prometheus text format: one family per figure, a sample per camera. */
static int cv_http_metrics(struct cv_http_conn *c)
{
    struct cv_http_srv *srv = c->srv;
    struct cv_json j; /* used as a plain growable buffer */
    cv_json_init(&j);
    char line[512];
#define CV_METRIC(fmt, ...)                                                                        \
    do {                                                                                           \
        int n_ = snprintf(line, sizeof(line), fmt "\n", __VA_ARGS__);                              \
        if (n_ > 0)                                                                                \
            cv_json_raw(&j, line, (size_t)n_ < sizeof(line) ? (size_t)n_ : sizeof(line) - 1);      \
    } while (0)
    cv_json_raw(&j, "# TYPE camvisor_camera_state gauge\n", 35);
    for (uint32_t i = 0; i < srv->proc.cams.cat.camera_count; i++) {
        const struct cv_msg_camera_entry *e = &srv->proc.cams.cat.cameras[i];
        const struct cv_cam *cam = cv_cameras_find(&srv->proc.cams, e->name);
        const struct cv_msg_camera_status *st = cam ? &cam->st : NULL;
        uint32_t state = st ? st->state : e->state;
        CV_METRIC("camvisor_camera_up{camera=\"%s\"} %d", e->name, state == CV_STATE_STREAMING);
        CV_METRIC("camvisor_camera_state{camera=\"%s\",state=\"%s\"} 1", e->name,
                  cv_http_state_name(state));
        CV_METRIC("camvisor_camera_restarts_total{camera=\"%s\"} %u", e->name,
                  st ? st->restarts : e->restarts);
        CV_METRIC("camvisor_camera_fps{camera=\"%s\"} %.2f", e->name,
                  st ? st->fps_x100 / 100.0 : 0.0);
        CV_METRIC("camvisor_camera_bitrate_bits{camera=\"%s\"} %u", e->name, st ? st->bitrate : 0);
        CV_METRIC("camvisor_camera_bytes_in_total{camera=\"%s\"} %llu", e->name,
                  (unsigned long long)(st ? st->bytes : 0));
        CV_METRIC("camvisor_camera_frames_total{camera=\"%s\"} %llu", e->name,
                  (unsigned long long)(st ? st->frames : 0));
        CV_METRIC("camvisor_transcode_encoders{camera=\"%s\"} %u", e->name, st ? st->encoders : 0);
        CV_METRIC("camvisor_transcode_decoded_total{camera=\"%s\"} %llu", e->name,
                  (unsigned long long)(st ? st->decoded : 0));
        CV_METRIC("camvisor_transcode_skipped_total{camera=\"%s\"} %llu", e->name,
                  (unsigned long long)(st ? st->xcode_skipped : 0));
        CV_METRIC("camvisor_ring_overruns_total{camera=\"%s\",consumer=\"http\"} %llu", e->name,
                  (unsigned long long)(cam ? cam->frames_lost : 0));
        CV_METRIC("camvisor_viewers{camera=\"%s\",protocol=\"mse\"} %u", e->name,
                  cv_http_mse_viewers(srv, e->name, "mse"));
        CV_METRIC("camvisor_viewers{camera=\"%s\",protocol=\"mp4\"} %u", e->name,
                  cv_http_mse_viewers(srv, e->name, "mp4"));
        CV_METRIC("camvisor_viewers{camera=\"%s\",protocol=\"mjpeg\"} %u", e->name,
                  cv_http_jpeg_viewers(srv, e->name));
        CV_METRIC("camvisor_viewers{camera=\"%s\",protocol=\"webrtc\"} %u", e->name,
                  cv_http_webrtc_viewers(srv, e->name));
    }
    cv_http_metrics_processes(&j);
    CV_METRIC("camvisor_http_connections %u", srv->conn_count);
    CV_METRIC("camvisor_http_requests_total %llu", (unsigned long long)srv->requests);
    CV_METRIC("camvisor_http_auth_failures_total %llu", (unsigned long long)srv->auth_failures);
    CV_METRIC("camvisor_http_dropped_slow_total %llu", (unsigned long long)srv->dropped_slow);
    CV_METRIC("camvisor_webrtc_sessions %u", srv->webrtc.total);
#undef CV_METRIC
    size_t n = 0;
    char *s = cv_json_take(&j, &n);
    if (!s)
        return cv_http_respond_text(c, 500, "out of memory");
    return cv_http_respond(c, 200, "text/plain; version=0.0.4", s, n);
}

int cv_http_api_route(struct cv_http_conn *c, const char *method, const char *path,
                      const struct cv_http_args *args)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    int rc;
    if (strcmp(path, "/api") == 0 && get)
        rc = cv_http_api_info(c);
    else if (strcmp(path, "/api/streams") == 0)
        rc = cv_http_api_streams(c, method, args);
    else if (strcmp(path, "/api/cameras") == 0 && get)
        rc = cv_http_api_cameras(c);
    else if (strcmp(path, "/api/schemes") == 0 && get)
        rc = cv_http_api_schemes(c);
    else if (strcmp(path, "/api/stream.mp4") == 0 && get)
        rc = cv_http_api_mp4(c, args);
    else if (strcmp(path, "/api/ws") == 0)
        rc = cv_http_respond_text(c, 400, "a WebSocket upgrade is expected here");
    else if (strcmp(path, "/metrics") == 0 && get)
        rc = cv_http_metrics(c);
    else if (strcmp(path, "/api/stream.m3u8") == 0 && get)
        rc = cv_http_hls_playlist(c, args);
    else if (strcmp(path, "/api/hls/init.mp4") == 0 && get)
        rc = cv_http_hls_init(c, args);
    else if (strcmp(path, "/api/hls/segment.m4s") == 0 && get)
        rc = cv_http_hls_segment(c, args);
    else if (strcmp(path, "/api/frame.jpeg") == 0 && get)
        rc = cv_http_jpeg_snapshot(c, args);
    else if (strcmp(path, "/api/stream.mjpeg") == 0 && get)
        rc = cv_http_jpeg_mjpeg(c, args);
    else if (strcmp(path, "/api/webrtc") == 0 && strcmp(method, "POST") == 0)
        rc = cv_http_webrtc_post(c, args);
    else if (strcmp(path, "/api/webrtc") == 0 && strcmp(method, "DELETE") == 0)
        rc = cv_http_webrtc_delete(c, args);
    else if (strcmp(path, "/api/webrtc") == 0 && strcmp(method, "PATCH") == 0)
        rc = cv_http_webrtc_patch(c, args);
    else if (strcmp(path, "/api/webrtc") == 0)
        rc = cv_http_respond_text(c, 405,
                                  "POST an offer (or nothing, for ours), PATCH an "
                                  "answer to ours, or DELETE a session");
    else if ((rc = cv_http_api_misc_route(c, method, path, args)) == 1)
        return 0;
    return rc < 0 ? -1 : 1;
}
