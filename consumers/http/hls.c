/*
 * Live HLS (RFC 8216, fMP4 segments) from a camera's fMP4 feed (mse.c):
 *
 *   GET /api/stream.m3u8?src=NAME            the media playlist: the last CV_HTTP_HLS_SEGS
 *                                            segments, one per GOP
 *   GET /api/hls/init.mp4?src=NAME&v=D       the init segment of discontinuity D (the newest
 *                                            without v)
 *   GET /api/hls/segment.m4s?src=NAME&n=SEQ  a segment: every fragment (moof+mdat) of one GOP,
 *                                            concatenated, which is a valid CMAF media segment
 *
 * The playlist's URIs are relative so [api] base_path works. Segments keep the muxer's own
 * timeline (no tfdt rebase): it is continuous over camera reconnects and worker restarts, so the
 * playlist needs no discontinuity for those. A muxer restart (new codec parameters, a muxing
 * error) starts a new timeline and a new init segment: the segments after it carry
 * EXT-X-DISCONTINUITY and an EXT-X-MAP with the next version, and EXT-X-DISCONTINUITY-SEQUENCE
 * counts the ones that slid out of the window. A segment is complete when the next keyframe
 * comes, so the playlist trails the live edge by one GOP, as HLS does.
 *
 * A first playlist request opens the feed and waits, without blocking the loop, for
 * CV_HTTP_HLS_READY complete segments (503 when none comes for CV_HTTP_HLS_WAIT_MS, so a camera
 * with a long GOP is waited for, a stalled one is not). Players poll the playlist: each request
 * keeps the session, and so the feed, for CV_HTTP_HLS_KEEP_MS more. Media sequence numbers
 * start at 0 for each session.
 *
 * Memory: CV_HTTP_HLS_SEGS + 1 buffers per camera (the one being filled), reused from GOP to
 * GOP, so nothing is allocated per fragment once they have grown; a GOP longer or larger than
 * the limits below is not segmented. Each segment keeps its own copy of its init segment (about
 * a kilobyte), so a segment and the init it needs leave the window together.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/mux/fmp4.h"
#include "consumers/http/http.h"

#define CV_HTTP_HLS_SEGS  6
#define CV_HTTP_HLS_SLOTS (CV_HTTP_HLS_SEGS + 1) /* + the one being filled */
/* Segments a first playlist waits for. RFC 8216 6.2.2: a live playlist spans three target
 * durations; Chromium's own HLS player fails with DEMUXER_ERROR_COULD_NOT_PARSE on two. */
#define CV_HTTP_HLS_READY     3
#define CV_HTTP_HLS_WAITERS   16    /* playlist requests waiting, per camera */
#define CV_HTTP_HLS_WAIT_MS   10000 /* without a new segment: a slow GOP is not a dead stream */
#define CV_HTTP_HLS_KEEP_MS   30000 /* a session ends this long after its last request */
#define CV_HTTP_HLS_SEG_BYTES (32u << 20) /* a larger GOP is not segmented */
#define CV_HTTP_HLS_SEG_SECS  20          /* nor a longer one */

struct cv_http_hls_seg {
    uint8_t *data; /* owned: the GOP's fragments */
    size_t len, cap;
    uint8_t *init; /* owned: the init segment they need */
    size_t init_len, init_cap;
    uint64_t seq;
    uint32_t disc;      /* discontinuity sequence number */
    uint32_t track;     /* the video track, whose samples make the duration */
    uint32_t timescale; /* of that track */
    uint64_t ticks;     /* duration, in timescale units */
};

struct cv_http_hls {
    char camera[CV_NAME_MAX];
    struct cv_http_hls_seg slot[CV_HTTP_HLS_SLOTS];
    unsigned head, count; /* the complete segments: slot[head] and count-1 after it */
    bool filling;         /* slot[(head + count) % SLOTS] holds a GOP from its keyframe */
    bool restarted;       /* the muxer restarted since the newest segment began */
    bool warned;          /* an oversized GOP was logged */
    uint64_t next_seq;
    unsigned target; /* EXT-X-TARGETDURATION so far: never lowered, players expect it steady */
    uint64_t last_req_ms;
    uint64_t last_seg_ms; /* when the newest segment was complete */
    struct {
        struct cv_http_conn *c; /* not owned: its c->hls_wait points back here */
        uint64_t since_ms;
    } wait[CV_HTTP_HLS_WAITERS];
    unsigned nwait;
};

/* ---- answers ----------------------------------------------------------------------------- */

/* Every HLS answer carries go2rtc's Access-Control-Allow-Origin: * (players on other origins
 * fetch these). The body is copied once, segments of a megabyte or more included: acceptable
 * for now; a reference-counted segment would avoid it. */
static int cv_http_hls_reply(struct cv_http_conn *c, unsigned status, const char *ctype,
                             const void *data, size_t len)
{
    return cv_http_respond_bytes(c, status, ctype, data, len, true);
}

static int cv_http_hls_text(struct cv_http_conn *c, unsigned status, const char *text)
{
    char line[128];
    int n = snprintf(line, sizeof(line), "%s\n", text);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    return cv_http_hls_reply(c, status, "text/plain; charset=utf-8", line, len);
}

/* ---- segments ---------------------------------------------------------------------------- */

static struct cv_http_hls_seg *cv_http_hls_at(struct cv_http_hls *h, unsigned i)
{
    return &h->slot[(h->head + i) % CV_HTTP_HLS_SLOTS];
}

static int cv_http_hls_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 4096;
    while (n < need)
        n *= 2;
    uint8_t *b = realloc(*buf, n);
    if (!b)
        return -ENOMEM;
    *buf = b;
    *cap = n;
    return 0;
}

/* A keyframe: the slot after the newest segment starts filling with this GOP. */
static void cv_http_hls_begin(struct cv_http_hls *h, const struct cv_fmp4 *mux,
                              const struct cv_fmp4_frag *f)
{
    struct cv_http_hls_seg *s = cv_http_hls_at(h, h->count);
    size_t init_len;
    const uint8_t *init = cv_fmp4_init(mux, &init_len);
    if (f->timescale == 0 || cv_http_hls_grow(&s->init, &s->init_cap, init_len) < 0)
        return;
    memcpy(s->init, init, init_len);
    s->init_len = init_len;
    s->len = 0;
    s->ticks = 0;
    s->track = f->out_track;
    s->timescale = f->timescale;
    /* One more discontinuity only after a segment listed before it, so the count is exact. */
    s->disc = h->count ? cv_http_hls_at(h, h->count - 1)->disc + h->restarted : 0;
    h->restarted = false;
    h->filling = true;
}

static void cv_http_hls_answer_waiters(struct cv_http_hls *h);

/* The next keyframe came: the GOP being filled is a segment. */
static void cv_http_hls_complete(struct cv_http_hls *h)
{
    struct cv_http_hls_seg *s = cv_http_hls_at(h, h->count);
    h->filling = false;
    if (s->len == 0 || s->ticks == 0)
        return;
    s->seq = h->next_seq++;
    h->last_seg_ms = cv_clock_mono_ms();
    unsigned secs = (unsigned)((s->ticks + s->timescale - 1) / s->timescale);
    if (secs > h->target)
        h->target = secs;
    if (h->count == CV_HTTP_HLS_SEGS) { /* the oldest leaves; its buffers fill next */
        h->head = (h->head + 1) % CV_HTTP_HLS_SLOTS;
        h->count--;
    }
    h->count++;
    if (h->nwait && h->count >= CV_HTTP_HLS_READY)
        cv_http_hls_answer_waiters(h);
}

void cv_http_hls_on_frag(struct cv_http_hls *h, const struct cv_fmp4 *mux,
                         const struct cv_fmp4_frag *f, bool gop_start)
{
    if (gop_start) {
        if (h->filling)
            cv_http_hls_complete(h);
        cv_http_hls_begin(h, mux, f);
    }
    if (!h->filling)
        return;
    struct cv_http_hls_seg *s = cv_http_hls_at(h, h->count);
    if (f->out_track == s->track)
        s->ticks += f->duration;
    if (s->len + f->len > CV_HTTP_HLS_SEG_BYTES ||
        s->ticks > (uint64_t)CV_HTTP_HLS_SEG_SECS * s->timescale ||
        cv_http_hls_grow(&s->data, &s->cap, s->len + f->len) < 0) {
        if (!h->warned)
            cv_warn("camera %s: a GOP over %u s or %u MiB: not segmented for HLS", h->camera,
                    CV_HTTP_HLS_SEG_SECS, CV_HTTP_HLS_SEG_BYTES >> 20);
        h->warned = true;
        h->filling = false; /* until the next keyframe */
        return;
    }
    memcpy(s->data + s->len, f->data, f->len);
    s->len += f->len;
}

void cv_http_hls_on_restart(struct cv_http_hls *h)
{
    h->filling = false; /* its fragments belong to the old init */
    h->restarted = true;
}

/* ---- the playlist ------------------------------------------------------------------------ */

/* The playlist into buf: its length, or -ENOBUFS (it cannot happen at these sizes, but a
 * truncated playlist must not go out). */
static int cv_http_hls_playlist_text(struct cv_http_hls *h, char *buf, size_t size)
{
    size_t n = 0;
#define CV_HLS_PUT(...)                                                                            \
    do {                                                                                           \
        int k_ = snprintf(buf + n, size - n, __VA_ARGS__);                                         \
        if (k_ < 0 || (size_t)k_ >= size - n)                                                      \
            return -ENOBUFS;                                                                       \
        n += (size_t)k_;                                                                           \
    } while (0)
    const struct cv_http_hls_seg *first = cv_http_hls_at(h, 0);
    CV_HLS_PUT("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:%u\n"
               "#EXT-X-MEDIA-SEQUENCE:%llu\n#EXT-X-DISCONTINUITY-SEQUENCE:%u\n"
               "#EXT-X-INDEPENDENT-SEGMENTS\n",
               h->target ? h->target : 1, (unsigned long long)first->seq, first->disc);
    for (unsigned i = 0; i < h->count; i++) {
        const struct cv_http_hls_seg *s = cv_http_hls_at(h, i);
        if (i > 0 && s->disc != cv_http_hls_at(h, i - 1)->disc)
            CV_HLS_PUT("#EXT-X-DISCONTINUITY\n");
        if (i == 0 || s->disc != cv_http_hls_at(h, i - 1)->disc)
            CV_HLS_PUT("#EXT-X-MAP:URI=\"hls/init.mp4?src=%s&v=%u\"\n", h->camera, s->disc);
        CV_HLS_PUT("#EXTINF:%.3f,\nhls/segment.m4s?src=%s&n=%llu\n",
                   (double)s->ticks / s->timescale, h->camera, (unsigned long long)s->seq);
    }
#undef CV_HLS_PUT
    return (int)n;
}

static int cv_http_hls_send_playlist(struct cv_http_hls *h, struct cv_http_conn *c)
{
    /* Camera names are [A-Za-z0-9._-]: they go into the URIs as they are. */
    char buf[4096];
    int n = cv_http_hls_playlist_text(h, buf, sizeof(buf));
    if (n < 0) {
        cv_err("camera %s: HLS playlist over %zu bytes", h->camera, sizeof(buf));
        return cv_http_hls_text(c, 500, "playlist too long");
    }
    return cv_http_hls_reply(c, 200, "application/vnd.apple.mpegurl", buf, (size_t)n);
}

static void cv_http_hls_unwait(struct cv_http_hls *h, unsigned i)
{
    h->wait[i].c->hls_wait = NULL;
    cv_http_conn_waiting(h->wait[i].c, false);
    h->wait[i] = h->wait[--h->nwait];
}

static void cv_http_hls_answer_waiters(struct cv_http_hls *h)
{
    while (h->nwait) {
        struct cv_http_conn *c = h->wait[h->nwait - 1].c;
        cv_http_hls_unwait(h, h->nwait - 1);
        if (cv_http_hls_send_playlist(h, c) < 0)
            cv_http_conn_drop(c, "cannot answer its HLS playlist");
    }
}

/* ---- the session ------------------------------------------------------------------------- */

struct cv_http_hls *cv_http_hls_new(const char *camera)
{
    struct cv_http_hls *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    snprintf(h->camera, sizeof(h->camera), "%s", camera);
    h->last_req_ms = cv_clock_mono_ms();
    return h;
}

void cv_http_hls_free(struct cv_http_hls *h)
{
    if (!h)
        return;
    while (h->nwait) {
        struct cv_http_conn *c = h->wait[0].c;
        cv_http_hls_unwait(h, 0);
        if (cv_http_hls_text(c, 503, "stream not available") < 0)
            cv_http_conn_drop(c, "cannot answer its HLS playlist");
    }
    for (unsigned i = 0; i < CV_HTTP_HLS_SLOTS; i++) {
        free(h->slot[i].data);
        free(h->slot[i].init);
    }
    free(h);
}

bool cv_http_hls_tick(struct cv_http_hls *h, uint64_t now_ms)
{
    for (unsigned i = 0; i < h->nwait;) {
        uint64_t since =
            h->wait[i].since_ms > h->last_seg_ms ? h->wait[i].since_ms : h->last_seg_ms;
        if (now_ms - since < CV_HTTP_HLS_WAIT_MS) {
            i++;
            continue;
        }
        struct cv_http_conn *c = h->wait[i].c;
        cv_http_hls_unwait(h, i);
        cv_info("client %s: HLS of %s: no new segment for %u s", c->peer_str, h->camera,
                CV_HTTP_HLS_WAIT_MS / 1000);
        if (cv_http_hls_text(c, 503, "stream not ready") < 0)
            cv_http_conn_drop(c, "cannot answer its HLS playlist");
    }
    return h->nwait || now_ms - h->last_req_ms < CV_HTTP_HLS_KEEP_MS;
}

void cv_http_hls_conn_gone(struct cv_http_conn *c)
{
    struct cv_http_hls *h = c->hls_wait;
    for (unsigned i = 0; h && i < h->nwait; i++) {
        if (h->wait[i].c == c) {
            cv_http_hls_unwait(h, i);
            return;
        }
    }
}

/* ---- requests ---------------------------------------------------------------------------- */

/* src names a camera, or the request is answered (400, 404): NULL then. */
static const char *cv_http_hls_camera(struct cv_http_conn *c, const struct cv_http_args *args,
                                      int *rc)
{
    const char *src = cv_http_arg(args, "src");
    if (!src || !src[0])
        *rc = cv_http_hls_text(c, 400, "src is required");
    else if (!cv_cameras_exists(&c->srv->proc.cams, src))
        *rc = cv_http_hls_text(c, 404, "stream not found");
    else
        return src;
    return NULL;
}

/* A decimal number argument: 1 with *out, 0 when absent, -EINVAL when not a number. */
static int cv_http_hls_num(const struct cv_http_args *args, const char *key, uint64_t *out)
{
    const char *s = cv_http_arg(args, key);
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
        return -EINVAL;
    *out = strtoull(s, NULL, 10);
    return 1;
}

int cv_http_hls_playlist(struct cv_http_conn *c, const struct cv_http_args *args)
{
    int rc = 0;
    const char *cam = cv_http_hls_camera(c, args, &rc);
    if (!cam)
        return rc;
    struct cv_http_hls *h = cv_http_mse_hls(c->srv, cam, true);
    if (!h)
        return cv_http_hls_text(c, 503, "cannot follow this camera now");
    uint64_t now = cv_clock_mono_ms();
    h->last_req_ms = now;
    if (h->count >= CV_HTTP_HLS_READY)
        return cv_http_hls_send_playlist(h, c);
    if (h->nwait == CV_HTTP_HLS_WAITERS || c->hls_wait)
        return cv_http_hls_text(c, 503, "too many requests waiting for this stream");
    /* Answered from the feed when the segments are there, or by the tick (503): so not by
     * libwebsockets' own time-out for a response (timeout_secs), which would close it. */
    lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    h->wait[h->nwait].c = c;
    h->wait[h->nwait].since_ms = now;
    h->nwait++;
    c->hls_wait = h;
    cv_http_conn_waiting(c, true); /* a client that leaves meanwhile is let go at once */
    return 0;
}

int cv_http_hls_init(struct cv_http_conn *c, const struct cv_http_args *args)
{
    int rc = 0;
    const char *cam = cv_http_hls_camera(c, args, &rc);
    if (!cam)
        return rc;
    uint64_t v = 0;
    int has_v = cv_http_hls_num(args, "v", &v);
    if (has_v < 0)
        return cv_http_hls_text(c, 400, "v must be a number");
    struct cv_http_hls *h = cv_http_mse_hls(c->srv, cam, false);
    if (!h)
        return cv_http_hls_text(c, 404, "no HLS session for this stream");
    h->last_req_ms = cv_clock_mono_ms();
    /* Newest first: without v, the init of the newest segment. */
    for (unsigned i = h->count; i-- > 0;) {
        const struct cv_http_hls_seg *s = cv_http_hls_at(h, i);
        if (!has_v || s->disc == v)
            return cv_http_hls_reply(c, 200, "video/mp4", s->init, s->init_len);
    }
    return cv_http_hls_text(c, 404, "no such init segment");
}

int cv_http_hls_segment(struct cv_http_conn *c, const struct cv_http_args *args)
{
    int rc = 0;
    const char *cam = cv_http_hls_camera(c, args, &rc);
    if (!cam)
        return rc;
    uint64_t n = 0;
    if (cv_http_hls_num(args, "n", &n) <= 0)
        return cv_http_hls_text(c, 400, "n (a segment number) is required");
    struct cv_http_hls *h = cv_http_mse_hls(c->srv, cam, false);
    if (!h)
        return cv_http_hls_text(c, 404, "no HLS session for this stream");
    h->last_req_ms = cv_clock_mono_ms();
    for (unsigned i = 0; i < h->count; i++) {
        const struct cv_http_hls_seg *s = cv_http_hls_at(h, i);
        if (s->seq == n)
            return cv_http_hls_reply(c, 200, "video/iso.segment", s->data, s->len);
    }
    return cv_http_hls_text(c, 404, "no such segment (expired?)");
}
