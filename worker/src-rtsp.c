/*
 * rtsp:// and rtsps:// — a network camera, through camvisor's own RTSP/RTP client rather than
 * libavformat's: FFmpeg's demuxer hides the RTP marker bit, so it only knows a frame has ended
 * when the next one starts, a whole frame of latency for every viewer. Here each access unit is
 * published to the ring the moment the packet carrying its marker bit is read.
 *
 *     rtsp://user:pass@192.168.1.10:554/Streaming/Channels/101     (transport = tcp | udp)
 *
 * One connection at a time, driven by the worker's event loop (see docs/architecture.md):
 *
 *     WAIT --timer--> CONNECT --> OPTIONS --> DESCRIBE --> SETUP xN --> PLAY --> PLAYING
 *       ^                                                                          |
 *       +-------- any error, timeout (5 s per step), stall (no media for 5 s) ------+
 *
 * The connection itself (resolution, TLS, requests, 401 answers, interleaved framing) is
 * worker/rtsp-client.c; this file chooses the tracks, sets up TCP-interleaved or UDP transport,
 * depacketises (common/net/rtp.h), times and publishes access units, sends RTCP receiver reports
 * and keep-alives, and reconnects with backoff: 0.5, 1, 2, 4, 8, 10, 10 ... s, back to 0.5 s once a
 * connection has delivered frames. The first connection failing is retried the same way: a camera
 * that is down when camvisor starts is picked up when it appears.
 *
 * Timestamps: pts is the track's unwrapped RTP timestamp from the first access unit of the
 * connection on, placed on one timeline that runs on the worker's monotonic clock: the first
 * access unit of each track in a connection gets pts = (its arrival - the first arrival ever) in
 * the track's clock. So pts starts near 0, audio and video line up to within their first packets'
 * arrival jitter (RTCP SR mapping is not used: cameras send their first SR seconds late), and a
 * reconnect continues the timeline instead of jumping back to 0, which RTSP viewers that stay
 * connected through it would see as time going backwards. dts = pts: cameras do not send
 * B-frames.
 */
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/net/rtcp.h"
#include "common/net/rtp.h"
#include "common/net/rtsp-transport.h"
#include "common/net/sdp.h"
#include "common/base/url.h"
#include "worker/rtsp-client.h"
#include "worker/rtsp-track.h"
#include "worker/worker.h"

#define CV_SRC_RTSP_TIMEOUT_MS 5000 /* connect (resolve, TCP, TLS), and each answer */
#define CV_SRC_RTSP_STALL_MS   5000 /* playing but no access unit for this long: reconnect */
#define CV_SRC_RTSP_TICK_MS    500  /* stall, keep-alive and receiver-report checks */
#define CV_SRC_RTSP_RR_MS      5000 /* RTCP receiver reports over UDP */
/*
 * ... and over TCP, much less often. GStreamer's RTSP server (and the cameras built on it)
 * holds a TCP client's next frame back by one frame interval each time it receives RTCP from
 * that client: with a report every 5 s, a 25 fps stream lost 40 ms every 5 s, through camvisor
 * and just as much straight to GStreamer's own client, which sends them too (bench/camera_gaps.py,
 * bench/RESULTS.md §11). Over TCP the RTSP keep-alive holds the session; the report stays, for
 * cameras that watch RTCP for liveness, at a cadence well inside their 60 s session timeout.
 */
#define CV_SRC_RTSP_RR_TCP_MS      30000
#define CV_SRC_RTSP_BACKOFF_MIN_MS 500
#define CV_SRC_RTSP_BACKOFF_MAX_MS 10000
#define CV_SRC_RTSP_LOUD_TRIES     3     /* failed attempts logged as warnings, then debug ... */
#define CV_SRC_RTSP_REMIND_MS      30000 /* ... with a reminder this often */
#define CV_SRC_RTSP_URL_MAX        2048

enum cv_src_rtsp_phase {
    CV_PH_CONNECT,
    CV_PH_OPTIONS,
    CV_PH_DESCRIBE,
    CV_PH_SETUP,
    CV_PH_PLAY,
    CV_PH_PLAYING,
};

/* One connection attempt; cv_src_rtsp_conn_free() releases all of it. */
struct cv_src_rtsp_conn {
    struct cv_src_rtsp *s;
    struct cv_rtspc *client; /* owned */
    enum cv_src_rtsp_phase phase;
    bool failing; /* an error is being handled: ignore everything else */
    int err;      /* that error */
    bool udp;
    bool get_parameter; /* the camera lists GET_PARAMETER in Public */
    bool published;     /* a frame of this connection reached the ring */
    unsigned setup_next;
    unsigned track_count;
    struct cv_rtsp_track tracks[CV_MAX_TRACKS]; /* in ring order: video first */
    struct cv_stream_info info;                 /* what PLAY publishes */
    struct cv_sdp sdp;
    char base[CV_SRC_RTSP_URL_MAX]; /* Content-Base, for the controls */
    char play_url[CV_SRC_RTSP_URL_MAX];
    uint64_t play_ns, last_au_ns, next_rr_ns, next_ka_ns;
};

struct cv_src_rtsp {
    struct cv_worker *w;
    struct cv_url url;      /* holds the password: never print it */
    char request_url[1400]; /* scheme://host[:port]/path, no credentials */
    char log_url[1400];     /* the same, query secrets masked */
    bool udp;
    SSL_CTX *ssl;                  /* owned; rtsps only */
    struct evdns_base *dns;        /* owned; created when the host is a name */
    struct event *retry_ev;        /* owned: backoff before the next attempt */
    struct event *fail_ev;         /* owned: tears a failed connection down from the loop */
    struct event *tick_ev;         /* owned: stall, keep-alive, RR */
    struct cv_src_rtsp_conn *conn; /* owned; NULL while waiting */

    unsigned failures; /* consecutive attempts that delivered no frame */
    int last_err;
    uint64_t last_warn_ns;
    char reason[192];

    struct cv_stream_info info; /* as last given to the worker */
    bool have_epoch;
    uint64_t epoch_ns;
    bool have_last[CV_MAX_TRACKS];
    int64_t last_pts[CV_MAX_TRACKS];
};

static void cv_src_rtsp_setup(struct cv_src_rtsp_conn *c);

/* ---- failure and reconnect ---------------------------------------------------------------- */

static uint64_t cv_src_rtsp_rr_ms(const struct cv_src_rtsp_conn *c)
{
    return c->udp ? CV_SRC_RTSP_RR_MS : CV_SRC_RTSP_RR_TCP_MS;
}

__attribute__((format(printf, 3, 4))) static void cv_src_rtsp_fail(struct cv_src_rtsp *s, int err,
                                                                   const char *fmt, ...)
{
    if (!s->conn || s->conn->failing)
        return;
    s->conn->failing = true;
    s->conn->err = err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
    va_end(ap);
    /* Torn down from the loop, never under a callback of the client or a depacketiser. */
    event_active(s->fail_ev, EV_TIMEOUT, 1);
}

static void cv_src_rtsp_conn_free(struct cv_src_rtsp_conn *c, bool teardown)
{
    for (unsigned i = 0; i < c->track_count; i++)
        cv_rtsp_track_close(&c->tracks[i]);
    cv_rtspc_free(c->client, teardown ? c->play_url : NULL);
    free(c);
}

static unsigned cv_src_rtsp_backoff_ms(unsigned failures)
{
    unsigned ms = CV_SRC_RTSP_BACKOFF_MIN_MS;
    for (unsigned i = 1; i < failures && ms < CV_SRC_RTSP_BACKOFF_MAX_MS; i++)
        ms *= 2;
    return ms < CV_SRC_RTSP_BACKOFF_MAX_MS ? ms : CV_SRC_RTSP_BACKOFF_MAX_MS;
}

static void cv_src_rtsp_fail_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_src_rtsp *s = arg;
    struct cv_src_rtsp_conn *c = s->conn;
    if (!c)
        return;
    bool streamed = c->published;
    int err = c->err;
    s->conn = NULL;
    evtimer_del(s->tick_ev);
    cv_src_rtsp_conn_free(c, true);

    if (streamed)
        s->failures = 0;
    unsigned delay = cv_src_rtsp_backoff_ms(++s->failures);
    uint64_t now = cv_clock_mono_ns();
    if (streamed) {
        cv_warn("camera lost: %s; reconnecting", s->reason);
        s->last_warn_ns = now;
    } else if (s->failures <= CV_SRC_RTSP_LOUD_TRIES || err != s->last_err) {
        cv_log(err == -EACCES ? CV_LOG_ERR : CV_LOG_WRN, "%s: %s (attempt %u, next in %.1f s)",
               s->log_url, s->reason, s->failures, delay / 1000.0);
        s->last_warn_ns = now;
    } else if (now - s->last_warn_ns >= CV_SRC_RTSP_REMIND_MS * 1000000ull) {
        cv_warn("%s: still failing after %u attempts: %s", s->log_url, s->failures, s->reason);
        s->last_warn_ns = now;
    } else {
        cv_dbg("%s: %s (attempt %u, next in %.1f s)", s->log_url, s->reason, s->failures,
               delay / 1000.0);
    }
    s->last_err = err;
    cv_worker_set_state(s->w, CV_STATE_RECONNECTING, s->reason);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(s->retry_ev, &tv);
}

/* ---- media -------------------------------------------------------------------------------- */

/* pts on the source's timeline (see the top of this file). */
static int64_t cv_src_rtsp_pts(struct cv_src_rtsp *s, struct cv_rtsp_track *t, int64_t ext,
                               uint64_t now)
{
    unsigned i = t->index;
    if (!t->have_base) {
        if (!s->have_epoch) {
            s->epoch_ns = now;
            s->have_epoch = true;
        }
        uint64_t d = now - s->epoch_ns, clock = s->info.tracks[i].clock_rate;
        int64_t pts0 =
            (int64_t)(d / 1000000000ull * clock + d % 1000000000ull * clock / 1000000000ull);
        if (s->have_last[i] && pts0 <= s->last_pts[i])
            pts0 = s->last_pts[i] + 1;
        t->base_pts = pts0;
        t->base_ext = ext;
        t->have_base = true;
        cv_dbg("track %u: first pts %lld (%.3f s)", i, (long long)pts0, (double)pts0 / clock);
    }
    int64_t pts = t->base_pts + (ext - t->base_ext);
    s->last_pts[i] = pts;
    s->have_last[i] = true;
    return pts;
}

static void cv_src_rtsp_on_au(struct cv_rtsp_track *t, const struct cv_rtp_au *au, uint64_t now)
{
    struct cv_src_rtsp_conn *c = t->conn;
    struct cv_src_rtsp *s = c->s;
    if (c->failing || c->phase < CV_PH_PLAY)
        return;
    c->last_au_ns = now;
    struct cv_track_info *ti = &s->info.tracks[t->index];
    bool video = ti->kind == CV_TRACK_VIDEO;
    if (video && au->params_changed && au->params_len > 0 && au->params_len <= CV_MAX_EXTRADATA &&
        (au->params_len != ti->extradata_len ||
         memcmp(au->params, ti->extradata, au->params_len))) {
        memcpy(ti->extradata, au->params, au->params_len);
        ti->extradata_len = (uint16_t)au->params_len;
        cv_worker_set_info(s->w, &s->info);
        cv_dbg("new %s parameter sets in band (%zu bytes)", cv_codec_name((enum cv_codec)ti->codec),
               au->params_len);
    }
    if (video && ti->extradata_len == 0) {
        /* Not decodable by anyone joining now: wait for SPS/PPS. */
        if (!t->held_logged)
            cv_info("holding video back until the camera sends its parameter sets");
        t->held_logged = true;
        return;
    }
    int64_t pts = cv_src_rtsp_pts(s, t, au->ext_timestamp, now);
    /* Audio frames are starting points only when there is no video to start from. */
    bool key = video ? au->keyframe : s->info.tracks[0].kind != CV_TRACK_VIDEO;
    cv_worker_publish(s->w, t->index, au->data, au->len, pts, pts, key, now);
    if (!c->published) {
        c->published = true;
        s->failures = 0;
        s->last_err = 0;
        cv_worker_set_state(s->w, CV_STATE_STREAMING, NULL);
        char codecs[64] = "";
        for (unsigned i = 0; i < s->info.track_count; i++)
            snprintf(codecs + strlen(codecs), sizeof(codecs) - strlen(codecs), "%s%s", i ? "+" : "",
                     cv_codec_name((enum cv_codec)s->info.tracks[i].codec));
        cv_info("streaming %s from %s over %s", codecs, s->log_url, c->udp ? "udp" : "tcp");
    }
}

static void cv_src_rtsp_media_error(struct cv_rtsp_track *t, int err, const char *why)
{
    cv_src_rtsp_fail(t->conn->s, err, "%s", why);
}

static const struct cv_rtsp_track_cbs cv_src_rtsp_track_cbs = {
    .on_au = cv_src_rtsp_on_au,
    .on_error = cv_src_rtsp_media_error,
};

/* ---- the RTSP exchange -------------------------------------------------------------------- */

static void cv_src_rtsp_request(struct cv_src_rtsp_conn *c, enum cv_rtsp_method m, const char *uri,
                                const char *headers)
{
    int rc = cv_rtspc_request(c->client, m, uri, headers, 0);
    if (rc < 0)
        cv_src_rtsp_fail(c->s, rc, "cannot send %s: %s", cv_rtsp_method_str(m), strerror(-rc));
}

/* Picks the first video and the first audio track of the SDP and prepares their receivers. */
static int cv_src_rtsp_tracks(struct cv_src_rtsp_conn *c)
{
    struct cv_src_rtsp *s = c->s;
    int video = -1, audio = -1;
    for (unsigned i = 0; i < c->sdp.track_count; i++) {
        uint8_t kind = c->sdp.tracks[i].info.kind;
        if (kind == CV_TRACK_VIDEO && video < 0)
            video = (int)i;
        else if (kind == CV_TRACK_AUDIO && audio < 0)
            audio = (int)i;
    }
    int pick[2] = {video, audio};
    for (int k = 0; k < 2; k++) {
        if (pick[k] < 0)
            continue;
        const struct cv_sdp_track *st = &c->sdp.tracks[pick[k]];
        unsigned idx = c->track_count;
        struct cv_track_info *ti = &c->info.tracks[idx];
        *ti = st->info;
        /* A camera that sends parameter sets only in band keeps those of the last connection. */
        const struct cv_track_info *old = &s->info.tracks[idx];
        if (ti->kind == CV_TRACK_VIDEO && ti->extradata_len == 0 && idx < s->info.track_count &&
            old->codec == ti->codec && old->extradata_len > 0) {
            memcpy(ti->extradata, old->extradata, old->extradata_len);
            ti->extradata_len = old->extradata_len;
        }
        int rc = cv_rtsp_track_open(&c->tracks[idx], st, ti, &cv_src_rtsp_track_cbs);
        if (rc < 0)
            return rc;
        c->tracks[idx].conn = c;
        c->tracks[idx].index = idx;
        c->tracks[idx].sdp_index = (unsigned)pick[k];
        c->track_count++;
        c->info.track_count = c->track_count;
    }
    return c->track_count ? 0 : -ENOTSUP;
}

static void cv_src_rtsp_on_describe(struct cv_src_rtsp_conn *c, const struct cv_rtsp_msg *m)
{
    struct cv_src_rtsp *s = c->s;
    if (m->status != 200) {
        cv_src_rtsp_fail(s, -EPROTO, "DESCRIBE answered %d %s", m->status, m->reason);
        return;
    }
    if (!m->body_len || cv_sdp_parse((const char *)m->body, m->body_len, &c->sdp) < 0) {
        cv_src_rtsp_fail(s, -EPROTO, "DESCRIBE answer holds no valid SDP");
        return;
    }
    const char *base = cv_rtsp_msg_header(m, "Content-Base");
    if (!base)
        base = cv_rtsp_msg_header(m, "Content-Location");
    snprintf(c->base, sizeof(c->base), "%s", base ? base : s->request_url);
    if (cv_sdp_resolve_control(c->base, c->sdp.control, c->play_url, sizeof(c->play_url)) < 0) {
        cv_src_rtsp_fail(s, -EPROTO, "session control URL too long");
        return;
    }
    int rc = cv_src_rtsp_tracks(c);
    if (rc == -ENOTSUP) {
        cv_src_rtsp_fail(s, rc,
                         "no H.264/H.265 video or AAC/G.711/Opus audio in the camera's "
                         "SDP (%u media skipped)",
                         c->sdp.skipped_media);
        return;
    }
    if (rc < 0) {
        cv_src_rtsp_fail(s, rc, "cannot set up the tracks: %s", strerror(-rc));
        return;
    }
    c->phase = CV_PH_SETUP;
    c->setup_next = 0;
    cv_src_rtsp_setup(c);
}

static void cv_src_rtsp_setup(struct cv_src_rtsp_conn *c)
{
    struct cv_rtsp_track *t = &c->tracks[c->setup_next];
    char url[sizeof(c->base)], hdr[128];
    if (cv_sdp_track_url(&c->sdp, t->sdp_index, c->base, url, sizeof(url)) < 0) {
        cv_src_rtsp_fail(c->s, -EPROTO, "track control URL too long");
        return;
    }
    if (c->udp) {
        struct sockaddr_storage peer;
        socklen_t len;
        int rc = cv_rtspc_peer(c->client, &peer, &len);
        if (rc == 0)
            rc = cv_rtsp_track_udp_open(t, cv_worker_base(c->s->w), &peer, len);
        if (rc < 0) {
            cv_src_rtsp_fail(c->s, rc, "cannot open UDP ports: %s", strerror(-rc));
            return;
        }
        snprintf(hdr, sizeof(hdr), "Transport: RTP/AVP;unicast;client_port=%u-%u\r\n",
                 t->local_port[0], t->local_port[1]);
    } else {
        t->ch[0] = (uint8_t)(2 * c->setup_next);
        t->ch[1] = (uint8_t)(2 * c->setup_next + 1);
        snprintf(hdr, sizeof(hdr), "Transport: RTP/AVP/TCP;unicast;interleaved=%u-%u\r\n", t->ch[0],
                 t->ch[1]);
    }
    cv_src_rtsp_request(c, CV_RTSP_SETUP, url, hdr);
}

static void cv_src_rtsp_on_setup(struct cv_src_rtsp_conn *c, const struct cv_rtsp_msg *m)
{
    struct cv_src_rtsp *s = c->s;
    struct cv_rtsp_track *t = &c->tracks[c->setup_next];
    if (m->status == 461 && c->udp) {
        cv_warn("the camera refuses UDP (461): using TCP");
        for (unsigned i = 0; i < c->track_count; i++)
            cv_rtsp_track_udp_close(&c->tracks[i]);
        c->udp = false;
        c->setup_next = 0;
        cv_src_rtsp_setup(c);
        return;
    }
    if (m->status != 200) {
        cv_src_rtsp_fail(s, -EPROTO, "SETUP answered %d %s", m->status, m->reason);
        return;
    }
    /* No Transport in the answer: what we asked for (cameras that omit it send just that). */
    const char *value = cv_rtsp_msg_header(m, "Transport");
    struct cv_rtsp_transport tr;
    memset(&tr, 0, sizeof(tr));
    if (value &&
        cv_rtsp_transport_parse(value, c->udp ? CV_RTSP_ACCEPT_UDP : CV_RTSP_ACCEPT_TCP, &tr) < 0) {
        cv_src_rtsp_fail(s, -EPROTO, "SETUP answered with a transport we did not ask for");
        return;
    }
    if (!cv_rtspc_session(c->client, NULL)[0]) {
        cv_src_rtsp_fail(s, -EPROTO, "SETUP answer without a Session");
        return;
    }
    if (c->udp) {
        /* Without server_port we still receive; only NAT opening and RRs need it. */
        if (tr.has_server_port)
            cv_rtsp_track_udp_connect(t, tr.server_port);
    } else if (tr.has_interleaved) {
        t->ch[0] = tr.interleaved[0];
        t->ch[1] = tr.interleaved[1];
    }
    t->ready = true;
    if (++c->setup_next < c->track_count) {
        cv_src_rtsp_setup(c);
        return;
    }
    /* Tracks and codec parameters reach the ring before the first frame, which may come
     * before the PLAY answer does. */
    s->info = c->info;
    cv_worker_set_info(s->w, &s->info);
    c->phase = CV_PH_PLAY;
    c->play_ns = cv_clock_mono_ns();
    cv_src_rtsp_request(c, CV_RTSP_PLAY, c->play_url, "Range: npt=0.000-\r\n");
}

static void cv_src_rtsp_on_play(struct cv_src_rtsp_conn *c, const struct cv_rtsp_msg *m)
{
    struct cv_src_rtsp *s = c->s;
    if (m->status != 200) {
        cv_src_rtsp_fail(s, -EPROTO, "PLAY answered %d %s", m->status, m->reason);
        return;
    }
    unsigned timeout;
    cv_rtspc_session(c->client, &timeout);
    uint64_t now = cv_clock_mono_ns();
    c->phase = CV_PH_PLAYING;
    c->next_rr_ns = now + cv_src_rtsp_rr_ms(c) * 1000000ull;
    c->next_ka_ns = now + (uint64_t)(timeout ? timeout : 60) * 500000000ull;
    cv_dbg("playing %s, %u tracks over %s", s->log_url, c->track_count, c->udp ? "udp" : "tcp");
}

static void cv_src_rtsp_on_connected(void *arg)
{
    struct cv_src_rtsp_conn *c = arg;
    c->phase = CV_PH_OPTIONS;
    cv_src_rtsp_request(c, CV_RTSP_OPTIONS, c->s->request_url, NULL);
}

static void cv_src_rtsp_on_response(void *arg, enum cv_rtsp_method method,
                                    const struct cv_rtsp_msg *m)
{
    struct cv_src_rtsp_conn *c = arg;
    if (c->failing)
        return;
    switch (method) {
    case CV_RTSP_OPTIONS:
        if (c->phase != CV_PH_OPTIONS)
            return;
        /* Whatever the answer: some cameras get OPTIONS wrong and DESCRIBE right. */
        const char *pub = cv_rtsp_msg_header(m, "Public");
        c->get_parameter = pub && strcasestr(pub, "GET_PARAMETER");
        c->phase = CV_PH_DESCRIBE;
        cv_src_rtsp_request(c, CV_RTSP_DESCRIBE, c->s->request_url, "Accept: application/sdp\r\n");
        break;
    case CV_RTSP_DESCRIBE: cv_src_rtsp_on_describe(c, m); break;
    case CV_RTSP_SETUP: cv_src_rtsp_on_setup(c, m); break;
    case CV_RTSP_PLAY: cv_src_rtsp_on_play(c, m); break;
    default: break;
    }
}

static void cv_src_rtsp_on_data(void *arg, uint8_t channel, const uint8_t *data, size_t len,
                                uint64_t arrival_ns)
{
    struct cv_src_rtsp_conn *c = arg;
    if (c->failing)
        return;
    for (unsigned i = 0; i < c->track_count; i++) {
        struct cv_rtsp_track *t = &c->tracks[i];
        if (!t->ready || c->udp)
            continue;
        if (channel == t->ch[0])
            cv_rtsp_track_rtp(t, data, len, arrival_ns);
        else if (channel == t->ch[1])
            cv_rtsp_track_rtcp(t, data, len, arrival_ns);
    }
}

static void cv_src_rtsp_on_error(void *arg, int err, const char *why)
{
    struct cv_src_rtsp_conn *c = arg;
    cv_src_rtsp_fail(c->s, err, "%s", why);
}

static const struct cv_rtspc_cbs cv_src_rtsp_client_cbs = {
    .on_connected = cv_src_rtsp_on_connected,
    .on_response = cv_src_rtsp_on_response,
    .on_data = cv_src_rtsp_on_data,
    .on_error = cv_src_rtsp_on_error,
};

/* ---- timers ------------------------------------------------------------------------------- */

static void cv_src_rtsp_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_src_rtsp *s = arg;
    struct cv_src_rtsp_conn *c = s->conn;
    if (!c || c->failing || c->phase < CV_PH_PLAY)
        return;
    uint64_t now = cv_clock_mono_ns();
    uint64_t since = c->last_au_ns > c->play_ns ? c->last_au_ns : c->play_ns;
    if (now - since > CV_SRC_RTSP_STALL_MS * 1000000ull) {
        cv_src_rtsp_fail(s, -ETIMEDOUT, "no media from the camera for %u s",
                         CV_SRC_RTSP_STALL_MS / 1000);
        return;
    }
    if (c->phase != CV_PH_PLAYING)
        return;
    if (now >= c->next_rr_ns) {
        for (unsigned i = 0; i < c->track_count; i++)
            cv_rtsp_track_send_rr(&c->tracks[i], c->client, now);
        c->next_rr_ns = now + cv_src_rtsp_rr_ms(c) * 1000000ull;
    }
    if (now >= c->next_ka_ns) {
        unsigned timeout;
        cv_rtspc_session(c->client, &timeout);
        if (c->get_parameter)
            cv_rtspc_request(c->client, CV_RTSP_GET_PARAMETER, c->play_url, NULL, CV_RTSPC_NOWAIT);
        else
            cv_rtspc_request(c->client, CV_RTSP_OPTIONS, s->request_url, NULL, CV_RTSPC_NOWAIT);
        c->next_ka_ns = now + (uint64_t)(timeout ? timeout : 60) * 500000000ull;
    }
}

static void cv_src_rtsp_connect(struct cv_src_rtsp *s)
{
    struct cv_src_rtsp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        struct timeval tv = {1, 0};
        evtimer_add(s->retry_ev, &tv);
        return;
    }
    c->s = s;
    c->udp = s->udp;
    c->phase = CV_PH_CONNECT;
    for (unsigned i = 0; i < CV_MAX_TRACKS; i++)
        cv_rtsp_track_init(&c->tracks[i]);
    s->conn = c;
    struct timeval tick = {0, CV_SRC_RTSP_TICK_MS * 1000};
    evtimer_add(s->tick_ev, &tick);
    if (!s->dns && s->url.host[0] && !cv_rtspc_host_is_literal(s->url.host))
        s->dns = evdns_base_new(cv_worker_base(s->w), EVDNS_BASE_INITIALIZE_NAMESERVERS);
    struct cv_rtspc_cfg cfg = {.base = cv_worker_base(s->w),
                               .dns = s->dns,
                               .ssl = s->ssl,
                               .host = s->url.host,
                               .port = s->url.port,
                               .user = s->url.user,
                               .pass = s->url.password,
                               .timeout_ms = CV_SRC_RTSP_TIMEOUT_MS};
    int rc = cv_rtspc_new(&cfg, &cv_src_rtsp_client_cbs, c, &c->client);
    if (rc < 0)
        cv_src_rtsp_fail(s, rc, "cannot start a connection: %s", strerror(-rc));
}

static void cv_src_rtsp_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cv_src_rtsp_connect(arg);
}

/* ---- source ops --------------------------------------------------------------------------- */

static void cv_src_rtsp_stop(void *state)
{
    struct cv_src_rtsp *s = state;
    if (!s)
        return;
    if (s->conn)
        cv_src_rtsp_conn_free(s->conn, true);
    if (s->retry_ev)
        event_free(s->retry_ev);
    if (s->fail_ev)
        event_free(s->fail_ev);
    if (s->tick_ev)
        event_free(s->tick_ev);
    if (s->dns)
        evdns_base_free(s->dns, 0);
    if (s->ssl)
        SSL_CTX_free(s->ssl);
    OPENSSL_cleanse(&s->url, sizeof(s->url));
    free(s);
}

static int cv_src_rtsp_start(struct cv_worker *w, const struct cv_msg_camera *cam, void **state)
{
    struct cv_src_rtsp *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->w = w;
    s->udp = cam->transport == 1;
    int rc = cv_url_parse(cam->url, &s->url);
    if (rc < 0 || !s->url.host[0]) {
        char shown[512];
        cv_url_redact(cam->url, shown, sizeof(shown));
        cv_err("not a camera URL: %s", shown);
        rc = -EINVAL;
        goto fail;
    }
    if (s->url.ipv6)
        snprintf(s->request_url, sizeof(s->request_url), "%s://[%s]", s->url.scheme, s->url.host);
    else
        snprintf(s->request_url, sizeof(s->request_url), "%s://%s", s->url.scheme, s->url.host);
    size_t n = strlen(s->request_url);
    if (s->url.has_port)
        snprintf(s->request_url + n, sizeof(s->request_url) - n, ":%u", s->url.port);
    n = strlen(s->request_url);
    snprintf(s->request_url + n, sizeof(s->request_url) - n, "%s",
             s->url.path[0] == '/' ? s->url.path : "/");
    if (s->url.path[0] && s->url.path[0] != '/') /* "?query" straight after the authority */
        snprintf(s->request_url + n + 1, sizeof(s->request_url) - n - 1, "%s", s->url.path);
    s->request_url[strcspn(s->request_url, "#")] = '\0';
    cv_url_redact(s->request_url, s->log_url, sizeof(s->log_url));

    rc = -ENOMEM;
    if (strcmp(s->url.scheme, "rtsps") == 0) {
        /* No certificate verification: see worker/rtsp-client.c. */
        if (!(s->ssl = SSL_CTX_new(TLS_client_method())))
            goto fail;
        SSL_CTX_set_verify(s->ssl, SSL_VERIFY_NONE, NULL);
    }
    struct event_base *base = cv_worker_base(w);
    s->retry_ev = evtimer_new(base, cv_src_rtsp_retry_cb, s);
    s->fail_ev = event_new(base, -1, 0, cv_src_rtsp_fail_cb, s);
    s->tick_ev = event_new(base, -1, EV_PERSIST, cv_src_rtsp_tick, s);
    if (!s->retry_ev || !s->fail_ev || !s->tick_ev)
        goto fail;
    cv_info("rtsp: connecting to %s over %s", s->log_url, s->udp ? "udp" : "tcp");
    *state = s;
    cv_src_rtsp_connect(s);
    return 0;
fail:
    cv_src_rtsp_stop(s);
    return rc;
}

const struct cv_source_ops cv_src_rtsp_ops = {
    .scheme = "rtsp",
    .start = cv_src_rtsp_start,
    .stop = cv_src_rtsp_stop,
};

const struct cv_source_ops cv_src_rtsps_ops = {
    .scheme = "rtsps",
    .start = cv_src_rtsp_start,
    .stop = cv_src_rtsp_stop,
};
