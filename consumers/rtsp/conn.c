/*
 * One RTSP client connection: reads requests, answers them, and carries the session's RTP
 * (interleaved on this socket, or UDP to the client's ports).
 *
 * Writes never block: a frame's packets go out with one writev; what the kernel does not take
 * waits in a per-connection backlog, and a client whose backlog passes CV_RTSP_MAX_BACKLOG (or
 * would push the process past CV_RTSP_MAX_BACKLOG_ALL) is dropped so it cannot slow anyone else.
 * A connection's next request is read only once the reply to the previous one has gone out, so
 * a client that pipelines requests and never reads costs one reply, not one per request.
 *
 * Every connection is bounded in time too: a request must be complete within request_timeout
 * of its first byte, and a connection without a playing session closes after idle_timeout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/outq.h"
#include "common/base/query.h"
#include "common/net/rtcp.h"
#include "common/net/rtsp-auth.h"
#include "common/net/rtsp-transport.h"
#include "common/net/sdp.h"
#include "common/base/sockaddr.h"
#include "consumers/rtsp/rtsp.h"

#define CV_RTSP_SERVER "camvisor"
#define CV_RTSP_PUBLIC "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"

static void cv_conn_read_cb(evutil_socket_t fd, short what, void *arg);
static void cv_conn_write_cb(evutil_socket_t fd, short what, void *arg);
static void cv_conn_parse(struct cv_rtsp_conn *c);
static void cv_conn_finish(struct cv_rtsp_conn *c);

/*
 * Reads only while there is room for input and no reply waits in the backlog (or, lingering,
 * to drain what the client still sends): this is what bounds a pipelining client.
 */
static void cv_conn_update_read(struct cv_rtsp_conn *c)
{
    if (c->dead)
        return;
    bool want = c->lingering || (cv_outq_empty(&c->outq) && c->in_len < sizeof(c->in));
    if (want)
        event_add(c->rd_ev, NULL);
    else
        event_del(c->rd_ev);
}

/* ---- output -------------------------------------------------------------------------------- */

/* The client hung up: normal, not worth a log line above debug. */
static bool cv_conn_gone(int err)
{
    return err == -EPIPE || err == -ECONNRESET;
}

/* Writes iov now or queues the rest (common/base/outq.h). 0, or <0 when the conn must go. */
static int cv_conn_writev(struct cv_rtsp_conn *c, struct iovec *iov, int iovcnt)
{
    int rc = cv_outq_writev(&c->outq, c->fd, iov, iovcnt);
    if (rc == 1)
        event_add(c->wr_ev, NULL);
    return rc < 0 ? rc : 0;
}

static void cv_conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_rtsp_conn *c = arg;
    int rc = cv_outq_flush(&c->outq, fd);
    if (rc == 1)
        return;
    if (rc < 0) {
        cv_rtsp_conn_close(c, cv_conn_gone(rc) ? NULL : strerror(-rc));
        return;
    }
    event_del(c->wr_ev);
    if (c->closing) {
        cv_conn_finish(c);
        return;
    }
    /* The reply is out: requests that waited behind it are next. */
    cv_conn_parse(c);
    if (c->closing && !c->dead && cv_outq_empty(&c->outq))
        cv_conn_finish(c);
    else
        cv_conn_update_read(c);
}

/* A UDP client's address: its RTSP connection's peer (kept from accept), at port. */
static int cv_conn_udp_addr(const struct cv_rtsp_conn *c, uint16_t port,
                            struct sockaddr_storage *ss, socklen_t *sl)
{
    *ss = c->peer_sa;
    *sl = c->peer_salen;
    return cv_sockaddr_set_port(ss, port);
}

int cv_rtsp_conn_send_rtp(struct cv_rtsp_conn *c, int feed_track, const uint8_t *arena,
                          const struct cv_rtp_pkt *pkts, size_t count)
{
    if (c->dead)
        return -EPIPE;
    const struct cv_rtsp_track_out *o = NULL;
    for (int i = 0; i < CV_MAX_TRACKS; i++)
        if (c->out[i].setup && c->out[i].feed_track == feed_track)
            o = &c->out[i];
    if (!o || c->state != CV_CONN_PLAYING)
        return 0;

    if (o->udp) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (cv_conn_udp_addr(c, o->client_port, &ss, &sl) < 0)
            return 0;
        for (size_t i = 0; i < count; i++)
            sendto(c->srv->udp_rtp, arena + pkts[i].offset, pkts[i].len, MSG_DONTWAIT,
                   (struct sockaddr *)&ss, sl);
        return 0;
    }

    /* One writev per frame: a 4-byte "$ ch len" header of ours, then the shared packet. */
    uint8_t(*hdr)[4] = c->srv->rtp_hdr;
    struct iovec *iov = c->srv->rtp_iov;
    if (count > CV_RTP_FANOUT_MAX_PKTS)
        count = CV_RTP_FANOUT_MAX_PKTS;
    for (size_t i = 0; i < count; i++) {
        hdr[i][0] = '$';
        hdr[i][1] = o->channel;
        hdr[i][2] = (uint8_t)(pkts[i].len >> 8);
        hdr[i][3] = (uint8_t)pkts[i].len;
        iov[2 * i] = (struct iovec){hdr[i], 4};
        iov[2 * i + 1] = (struct iovec){(void *)(arena + pkts[i].offset), pkts[i].len};
    }
    int rc = cv_conn_writev(c, iov, (int)(2 * count));
    if (rc < 0) {
        cv_rtsp_conn_close(c, rc == -ENOBUFS     ? "client too slow, backlog full"
                              : cv_conn_gone(rc) ? NULL
                                                 : strerror(-rc));
        return -EPIPE;
    }
    return 0;
}

/* ---- responses ----------------------------------------------------------------------------- */

static void cv_conn_reply(struct cv_rtsp_conn *c, int status, uint32_t cseq, const char *headers,
                          const char *body)
{
    char head[2048];
    size_t blen = body ? strlen(body) : 0;
    int n = snprintf(head, sizeof(head),
                     "RTSP/1.0 %d %s\r\nCSeq: %u\r\nServer: " CV_RTSP_SERVER "\r\n%s%s%s", status,
                     cv_rtsp_status_reason(status), cseq, headers ? headers : "",
                     c->session[0] && status < 300 ? "Session: " : "",
                     c->session[0] && status < 300 ? c->session : "");
    if (n < 0 || (size_t)n >= sizeof(head) - 128)
        return;
    if (c->session[0] && status < 300)
        n += snprintf(head + n, sizeof(head) - (size_t)n, ";timeout=%d\r\n",
                      CV_RTSP_SESSION_TIMEOUT);
    if (blen)
        n += snprintf(head + n, sizeof(head) - (size_t)n,
                      "Content-Type: application/sdp\r\nContent-Length: %zu\r\n", blen);
    n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, blen}};
    int rc = cv_conn_writev(c, iov, blen ? 2 : 1);
    if (rc < 0)
        cv_rtsp_conn_close(c, cv_conn_gone(rc) ? NULL : strerror(-rc));
}

static void cv_conn_error(struct cv_rtsp_conn *c, int status, uint32_t cseq, const char *why)
{
    cv_info("%s: %d %s (%s)", c->peer, status, cv_rtsp_status_reason(status), why);
    cv_conn_reply(c, status, cseq, NULL, NULL);
}

/* ---- track selection (go2rtc's query filters) ---------------------------------------------- */

/* "h264,h265" contains the track's codec? An empty list or "all"/"copy" accepts any. */
static bool cv_conn_codec_in(const char *list, enum cv_codec codec)
{
    if (!list[0] || !strcmp(list, "all") || !strcmp(list, "copy") || !strcmp(list, "any"))
        return true;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (cv_codec_from_name(t) == (int)codec)
            return true;
    return false;
}

/*
 * Chooses the feed tracks a client gets. Each video=/audio= parameter adds the first track of
 * that kind matching its codec list ("all" adds every one); "mp4" means H.264/H.265 + AAC.
 * Returns the number chosen.
 */
static int cv_conn_select(struct cv_rtsp_conn *c, const char *query)
{
    const struct cv_stream_info *info = c->feed->info;
    bool used[CV_MAX_TRACKS] = {false};
    c->selected_count = 0;
    if (!query[0])
        query = c->srv->settings.default_query[0] ? c->srv->settings.default_query : "video&audio";
    const char *cur = query;
    char key[32], val[128];
    bool any_filter = false;
    while (cv_query_next(&cur, key, sizeof(key), val, sizeof(val)) == 0) {
        int kind = 0;
        bool all = !strcmp(val, "all");
        if (!strcmp(key, "video"))
            kind = CV_TRACK_VIDEO;
        else if (!strcmp(key, "audio"))
            kind = CV_TRACK_AUDIO;
        else if (!strcmp(key, "mp4")) {
            any_filter = true;
            for (int pass = 0; pass < 2; pass++)
                for (uint32_t i = 0; i < info->track_count; i++) {
                    const struct cv_track_info *t = &info->tracks[i];
                    bool ok = pass == 0 ? (t->codec == CV_CODEC_H264 || t->codec == CV_CODEC_H265)
                                        : t->codec == CV_CODEC_AAC;
                    if (ok && !used[i] && c->selected_count < CV_MAX_TRACKS) {
                        used[i] = true;
                        c->selected[c->selected_count++] = (int)i;
                        break;
                    }
                }
            continue;
        } else
            continue; /* other go2rtc parameters (backchannel, timeout, ...) are not ours */
        any_filter = true;
        for (uint32_t i = 0; i < info->track_count; i++) {
            const struct cv_track_info *t = &info->tracks[i];
            if (t->kind != kind || used[i] || !cv_conn_codec_in(all ? "" : val, t->codec))
                continue;
            used[i] = true;
            c->selected[c->selected_count++] = (int)i;
            if (!all)
                break;
        }
    }
    if (!any_filter) /* only unknown parameters: behave as the default */
        return query == c->srv->settings.default_query ? 0 : cv_conn_select(c, "");
    return c->selected_count;
}

/* ---- requests -------------------------------------------------------------------------------- */

/* Accepts "rtsp://host[:port]/path" and the bare "/path" form some clients put in uri=. */
static bool cv_conn_digest_uri_ok(const char *digest_uri, const char *request_uri)
{
    if (strcmp(digest_uri, request_uri) == 0)
        return true;
    const char *p = strstr(request_uri, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p && digest_uri[0] == '/' && strcmp(digest_uri, p) == 0;
}

/*
 * Checks the request's credentials. Digest nonces are per connection, and the uri a Digest answer
 * covers must be this request's: a captured answer is worth nothing on another connection or for
 * another camera. Three bad passwords close the connection; CV_RTSP_AUTH_ADDR_FAILS from one
 * address within a minute lock that address out for CV_RTSP_AUTH_LOCK_MS (503, whatever it sends).
 */
static bool cv_conn_authorized(struct cv_rtsp_conn *c, uint32_t cseq)
{
    const struct cv_rtsp_settings *cat = &c->srv->settings;
    if (!cat->username[0] || (c->loopback && !cat->local_auth))
        return true;
    uint64_t now = cv_clock_mono_ms();
    uint64_t locked_ms = cv_throttle_locked(&c->srv->throttle, &c->peer_sa, now);
    if (locked_ms) {
        char hdr[64];
        snprintf(hdr, sizeof(hdr), "Retry-After: %llu\r\n",
                 (unsigned long long)(locked_ms / 1000 + 1));
        cv_info("%s: 503 locked out after repeated bad passwords", c->peer);
        cv_conn_reply(c, 503, cseq, hdr, NULL);
        c->closing = true;
        return false;
    }
    if (!c->nonce[0] && cv_rtsp_auth_nonce(c->nonce) < 0) {
        cv_conn_error(c, 500, cseq, "no random nonce");
        c->closing = true;
        return false;
    }
    const char *auth = cv_rtsp_msg_header(&c->msg, "Authorization");
    struct cv_rtsp_credentials cr; /* on the stack and wiped: no password outlives the request */
    int rc = -EACCES;
    if (auth && cv_rtsp_auth_credentials_parse(auth, &cr) == 0) {
        rc = cv_rtsp_auth_verify(&cr, c->msg.method_str, "camvisor", c->nonce, cat->username,
                                 cat->password);
        if (rc == 0 && cr.scheme == CV_RTSP_AUTH_DIGEST &&
            !cv_conn_digest_uri_ok(cr.uri, c->msg.uri))
            rc = -EACCES;
    }
    explicit_bzero(&cr, sizeof(cr));
    if (rc == 0)
        return true;
    /* A stale nonce (another connection's) is no wrong password: just challenge again. */
    bool bad = auth && rc != -ESTALE;
    if (bad) {
        unsigned fails = 0;
        enum cv_throttle_result r = cv_throttle_fail(&c->srv->throttle, &c->peer_sa, now, &fails);
        if (r != CV_THROTTLE_COUNTED)
            cv_warn("%s: %u bad passwords within %u s: logins from %s refused for %u s", c->peer,
                    fails, CV_RTSP_AUTH_WINDOW_MS / 1000,
                    r == CV_THROTTLE_LOCKED_SHARED ? "every address the throttle has no room for"
                                                   : "this address",
                    CV_RTSP_AUTH_LOCK_MS / 1000);
        c->auth_fails++;
    }
    char hdr[512];
    snprintf(hdr, sizeof(hdr),
             "WWW-Authenticate: Digest realm=\"camvisor\", nonce=\"%s\"%s\r\n"
             "WWW-Authenticate: Basic realm=\"camvisor\"\r\n",
             c->nonce, rc == -ESTALE ? ", stale=TRUE" : "");
    cv_info("%s: 401 %s", c->peer,
            !auth ? "credentials required"
            : bad ? "bad credentials"
                  : "stale nonce");
    cv_conn_reply(c, 401, cseq, hdr, NULL);
    if (c->auth_fails >= CV_RTSP_AUTH_CONN_FAILS)
        c->closing = true;
    return false;
}

static void cv_conn_describe_answer(struct cv_rtsp_conn *c, uint32_t cseq, const char *base)
{
    char *sdp = c->srv->sdp;
    unsigned sel[CV_MAX_TRACKS];
    for (int i = 0; i < c->selected_count; i++)
        sel[i] = (unsigned)c->selected[i];
    if (c->selected_count == 0) {
        cv_conn_error(c, 404, cseq, "no track matches the query");
        return;
    }
    int n = cv_sdp_build(c->feed->info, sel, (unsigned)c->selected_count,
                         (uint64_t)cv_clock_mono_ns(), sdp, sizeof(c->srv->sdp));
    if (n < 0) {
        cv_conn_error(c, 500, cseq, "cannot describe the stream");
        return;
    }
    char hdr[640];
    snprintf(hdr, sizeof(hdr), "Content-Base: %s/\r\n", base);
    cv_conn_reply(c, 200, cseq, hdr, sdp);
}

void cv_rtsp_conn_feed_ready(struct cv_rtsp_conn *c)
{
    if (!c->describe_pending)
        return;
    bool ready = cv_feed_ready(c->feed->feed);
    if (!c->describe_pending)
        return; /* loading new parameters answered it already (the feed's on_params) */
    const char *reason;
    int status = cv_feed_status(c->feed->feed, &reason);
    if (!ready) {
        if (status < 0 || cv_clock_mono_ms() >= c->describe_deadline_ms) {
            c->describe_pending = false;
            char why[192];
            /* The worker's own words when it has any: "connect: Connection refused". */
            const struct cv_msg_camera_status *cs =
                cv_cameras_status(&c->srv->proc.cams, c->feed->camera);
            if (status < 0)
                snprintf(why, sizeof(why), "%s", reason);
            else if (cs && cs->error[0])
                snprintf(why, sizeof(why), "camera not streaming: %.150s", cs->error);
            else
                snprintf(why, sizeof(why), "camera sent no codec parameters within 10 s");
            cv_info("%s: 503 %s", c->peer, why);
            char hdr[256];
            snprintf(hdr, sizeof(hdr), "X-Reason: %s\r\n", why);
            cv_conn_reply(c, 503, c->pending_cseq, hdr, NULL);
        }
        return;
    }
    c->describe_pending = false;
    char query[256] = "";
    const char *q = strchr(c->pending_base, '?');
    if (q) {
        snprintf(query, sizeof(query), "%s", q + 1);
        c->pending_base[q - c->pending_base] = '\0';
    }
    cv_conn_select(c, query);
    cv_conn_describe_answer(c, c->pending_cseq, c->pending_base);
}

/* Binds the conn to the camera named by the request path (and keeps the query aside). */
/*
 * The variant a query asks for (go2rtc's filters). A video codec the camera does not have but
 * its worker can make (`?video=h264` on an H.265 camera) is the `h264` variant, transcoded, with
 * the camera's audio beside it; else an audio codec it can make (`?audio=opus` of an AAC camera,
 * `?audio=aac` of a G.711 one) is that audio variant, with the camera's video beside it (one
 * variant carries one transcode: asked both, the video's wins). Video and no audio (`?video`,
 * `?video=h264` on an H.264 camera) is the `video` variant, the camera's video tracks only.
 * Everything else is the camera's own stream. The query then picks tracks from the variant's.
 */
static const char *cv_conn_variant_for(const struct cv_rtsp_srv *srv, const char *camera,
                                       const char *query)
{
    char key[32], val[128];
    bool video = false, other = false, h264 = false, camera_codec = false;
    bool opus = false, aac = false, camera_audio = false;
    enum cv_codec have = cv_cameras_video_codec(&srv->proc.cams, camera);
    enum cv_codec have_audio = cv_cameras_audio_codec(&srv->proc.cams, camera);
    for (const char *cur = query; cv_query_next(&cur, key, sizeof(key), val, sizeof(val)) == 0;) {
        if (!strcmp(key, "video")) {
            video = true;
            h264 |= val[0] && strcmp(val, "all") && cv_conn_codec_in(val, CV_CODEC_H264);
            camera_codec |= have != CV_CODEC_NONE && cv_conn_codec_in(val, have);
        } else if (!strcmp(key, "audio")) {
            other = true;
            bool named = val[0] && strcmp(val, "all") != 0;
            opus |= named && cv_conn_codec_in(val, CV_CODEC_OPUS);
            aac |= named && cv_conn_codec_in(val, CV_CODEC_AAC);
            camera_audio |= have_audio != CV_CODEC_NONE && cv_conn_codec_in(val, have_audio);
        } else if (!strcmp(key, "mp4")) {
            other = true;
        }
    }
    if (h264 && !camera_codec && have != CV_CODEC_NONE)
        return "h264";
    if ((opus || aac) && !camera_audio && have_audio != CV_CODEC_NONE)
        return opus ? "opus" : "aac";
    return video && !other ? "video" : CV_VARIANT_NATIVE;
}

static int cv_conn_bind_feed(struct cv_rtsp_conn *c, const char *uri, char *camera, size_t clen,
                             char *query, size_t qlen)
{
    char path[256];
    if (cv_rtsp_url_split(uri, path, sizeof(path), query, qlen) < 0)
        return 400;
    /* SETUP names ".../<camera>/trackID=N": the camera is the first path element. */
    char *slash = strchr(path, '/');
    if (slash)
        *slash = '\0';
    if (strlen(path) >= clen)
        return 404;
    memcpy(camera, path, strlen(path) + 1);
    if (!cv_cameras_exists(&c->srv->proc.cams, camera))
        return 404;
    if (c->feed && strcmp(c->feed->camera, camera) != 0)
        return 455; /* one camera per session */
    if (!c->feed) {
        c->feed = cv_rtsp_feed_get(c->srv, camera, cv_conn_variant_for(c->srv, camera, query));
        if (!c->feed)
            return errno == EMFILE ? 503 : 500; /* 503: out of descriptors for another feed */
        cv_feed_viewer_attach(c->feed->feed, &c->view.fv);
    }
    return 0;
}

static void cv_conn_describe(struct cv_rtsp_conn *c, uint32_t cseq)
{
    char camera[CV_NAME_MAX], query[256];
    int st = cv_conn_bind_feed(c, c->msg.uri, camera, sizeof(camera), query, sizeof(query));
    if (st) {
        cv_conn_error(c, st, cseq,
                      st == 404   ? "unknown camera"
                      : st == 503 ? "out of descriptors: too many cameras watched at once"
                                  : "bad request URI");
        return;
    }
    snprintf(c->pending_base, sizeof(c->pending_base), "%s", c->msg.uri);
    c->pending_cseq = cseq;
    c->describe_pending = true;
    c->describe_deadline_ms = cv_clock_mono_ms() + CV_RTSP_DESCRIBE_WAIT_MS;
    cv_rtsp_conn_feed_ready(c); /* answers now if the parameters are there */
}

static void cv_conn_new_session(struct cv_rtsp_conn *c)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = cv_clock_mono_ns() ^ (uint64_t)(uintptr_t)c;
    snprintf(c->session, sizeof(c->session), "%016llX", (unsigned long long)r);
}

static void cv_conn_setup(struct cv_rtsp_conn *c, uint32_t cseq)
{
    char camera[CV_NAME_MAX], query[256];
    int st = cv_conn_bind_feed(c, c->msg.uri, camera, sizeof(camera), query, sizeof(query));
    if (st) {
        cv_conn_error(c, st, cseq,
                      st == 503 ? "out of descriptors: too many cameras watched at once"
                                : "SETUP for an unknown camera");
        return;
    }
    if (!cv_feed_ready(c->feed->feed)) {
        cv_conn_error(c, 503, cseq, "SETUP before the camera is ready");
        return;
    }
    if (c->selected_count == 0)
        cv_conn_select(c, query);

    /* Which of the described tracks: "trackID=N" at the end, or the only one. */
    int idx = -1;
    const char *tid = strstr(c->msg.uri, "trackID=");
    if (tid) {
        char *end;
        long v = strtol(tid + 8, &end, 10);
        /* trackID is the camera's track index (the SDP's a=control); find its slot. */
        for (int k = 0; end != tid + 8 && k < c->selected_count; k++)
            if (c->selected[k] == v)
                idx = k;
    } else if (c->selected_count == 1) {
        idx = 0;
    }
    if (idx < 0) {
        cv_conn_error(c, 404, cseq, "no such track");
        return;
    }
    const char *th = cv_rtsp_msg_header(&c->msg, "Transport");
    struct cv_rtsp_transport t;
    int rc =
        th ? cv_rtsp_transport_parse(th, CV_RTSP_ACCEPT_TCP | CV_RTSP_ACCEPT_UDP, &t) : -EBADMSG;
    if (rc < 0 || (t.lower == CV_RTSP_LOWER_UDP && (!t.has_client_port || c->srv->udp_rtp < 0))) {
        cv_conn_error(c, rc == -EBADMSG ? 400 : 461, cseq, "unsupported transport");
        return;
    }
    struct cv_rtsp_track_out *o = &c->out[idx];
    *o = (struct cv_rtsp_track_out){.setup = true, .feed_track = c->selected[idx]};
    struct cv_rtsp_transport reply = {.lower = t.lower};
    if (t.lower == CV_RTSP_LOWER_TCP) {
        o->channel = t.has_interleaved ? t.interleaved[0] : (uint8_t)(2 * idx);
        reply.has_interleaved = true;
        reply.interleaved[0] = o->channel;
        reply.interleaved[1] = (uint8_t)(o->channel + 1);
    } else {
        o->udp = true;
        o->client_port = t.client_port[0];
        reply.has_client_port = reply.has_server_port = true;
        reply.client_port[0] = t.client_port[0];
        reply.client_port[1] = t.client_port[1];
        reply.server_port[0] = c->srv->udp_port;
        reply.server_port[1] = (uint16_t)(c->srv->udp_port + 1);
    }
    reply.has_ssrc = true;
    reply.ssrc = c->feed->rtp.packers[c->selected[idx]].ssrc;
    char tr[256], hdr[320];
    if (cv_rtsp_transport_format(&reply, tr, sizeof(tr)) < 0) {
        cv_conn_error(c, 500, cseq, "transport reply too long");
        return;
    }
    if (!c->session[0])
        cv_conn_new_session(c);
    snprintf(hdr, sizeof(hdr), "Transport: %s\r\n", tr);
    c->state = c->state == CV_CONN_PLAYING ? CV_CONN_PLAYING : CV_CONN_READY;
    cv_conn_reply(c, 200, cseq, hdr, NULL);
}

static bool cv_conn_session_ok(struct cv_rtsp_conn *c, uint32_t cseq)
{
    const char *s = cv_rtsp_msg_header(&c->msg, "Session");
    char id[64];
    unsigned timeout;
    if (!c->session[0] || !s || cv_rtsp_session_parse(s, id, sizeof(id), &timeout) < 0 ||
        strcmp(id, c->session) != 0) {
        cv_conn_error(c, 454, cseq, "session not found");
        return false;
    }
    return true;
}

static void cv_conn_play(struct cv_rtsp_conn *c, uint32_t cseq)
{
    if (!cv_conn_session_ok(c, cseq))
        return;
    if (c->state == CV_CONN_INIT) {
        cv_conn_error(c, 455, cseq, "PLAY before SETUP");
        return;
    }
    if (c->state == CV_CONN_PLAYING) {
        cv_conn_reply(c, 200, cseq, "Range: npt=now-\r\n", NULL);
        return;
    }
    struct cv_rtp_catchup plan;
    cv_rtp_fanout_catch_up_plan(&c->feed->rtp, &plan);

    char base[512];
    snprintf(base, sizeof(base), "%s", c->pending_base[0] ? c->pending_base : c->msg.uri);
    char *q = strchr(base, '?');
    if (q)
        *q = '\0';
    char hdr[2048];
    int n = snprintf(hdr, sizeof(hdr), "Range: npt=now-\r\nRTP-Info: ");
    bool first = true;
    for (int i = 0; i < CV_MAX_TRACKS && n > 0 && (size_t)n < sizeof(hdr) - 600; i++) {
        if (!c->out[i].setup)
            continue;
        int t = c->out[i].feed_track;
        n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "%surl=%s/trackID=%d;seq=%u;rtptime=%u",
                      first ? "" : ",", base, t, plan.seq0[t], plan.ts0[t]);
        first = false;
    }
    snprintf(hdr + n, sizeof(hdr) - (size_t)n, "\r\n");
    cv_conn_reply(c, 200, cseq, hdr, NULL);
    if (c->closing || c->dead)
        return;
    c->state = CV_CONN_PLAYING;
    c->view.playing = true;
    cv_info("%s: playing %s (%d tracks)", c->peer, c->feed->camera, c->selected_count);
    cv_rtp_fanout_catch_up_send(&c->feed->rtp, &c->view, &plan);
    cv_dbg("%s: caught up with %zu cached frames", c->peer, plan.frames);
}

static void cv_conn_handle(struct cv_rtsp_conn *c)
{
    struct cv_rtsp_msg *m = &c->msg;
    uint32_t cseq = m->cseq;
    c->last_seen_ms = cv_clock_mono_ms();
    if (m->type != CV_RTSP_REQUEST) {
        return; /* a response to nothing we asked: ignore */
    }
    if (!m->has_cseq) {
        cv_conn_error(c, 400, 0, "no CSeq");
        c->closing = true;
        return;
    }
    if (m->method != CV_RTSP_OPTIONS && !cv_conn_authorized(c, cseq))
        return;
    switch (m->method) {
    case CV_RTSP_OPTIONS:
        cv_conn_reply(c, 200, cseq, "Public: " CV_RTSP_PUBLIC "\r\n", NULL);
        break;
    case CV_RTSP_DESCRIBE: cv_conn_describe(c, cseq); break;
    case CV_RTSP_SETUP: cv_conn_setup(c, cseq); break;
    case CV_RTSP_PLAY: cv_conn_play(c, cseq); break;
    case CV_RTSP_PAUSE:
        if (cv_conn_session_ok(c, cseq)) {
            c->state = CV_CONN_READY;
            cv_conn_reply(c, 200, cseq, NULL, NULL);
        }
        break;
    case CV_RTSP_TEARDOWN:
        cv_conn_reply(c, 200, cseq, NULL, NULL);
        c->session[0] = '\0';
        c->state = CV_CONN_INIT;
        c->closing = true;
        break;
    case CV_RTSP_GET_PARAMETER:
    case CV_RTSP_SET_PARAMETER: cv_conn_reply(c, 200, cseq, NULL, NULL); break;
    default: cv_conn_error(c, 501, cseq, "method not implemented"); break;
    }
}

/* ---- input --------------------------------------------------------------------------------- */

/*
 * Interleaved data from a client: RTCP on a track's odd channel. Receiver reports are proof of
 * life; a PLI or FIR (the client lost the picture) becomes a keyframe request to the camera's
 * worker, which the feed throttles to one a second.
 */
static void cv_conn_on_rtcp(struct cv_rtsp_conn *c, const struct cv_rtsp_item *it)
{
    c->last_seen_ms = cv_clock_mono_ms();
    bool rtcp = false;
    for (int i = 0; i < CV_MAX_TRACKS; i++)
        rtcp |= c->out[i].setup && !c->out[i].udp && it->channel == c->out[i].channel + 1;
    struct cv_rtcp_info info;
    if (rtcp && c->feed && cv_rtcp_parse(it->data, it->data_len, &info) == 0 &&
        info.wants_keyframe) {
        cv_dbg("%s: keyframe requested (RTCP PLI/FIR)", c->peer);
        cv_feed_request_keyframe(c->feed->feed);
    }
}

static void cv_conn_parse(struct cv_rtsp_conn *c)
{
    size_t off = 0;
    while (off < c->in_len && !c->closing && !c->dead && cv_outq_empty(&c->outq)) {
        struct cv_rtsp_item it;
        int rc = cv_rtsp_next_item(c->in + off, c->in_len - off, sizeof(c->in), &c->msg, &it);
        if (rc == -EAGAIN)
            break;
        if (rc < 0) {
            uint32_t cseq = c->msg.has_cseq ? c->msg.cseq : 0;
            int status = rc == -E2BIG             ? 431 /* start line + headers over 8 KiB */
                         : rc == -EMSGSIZE        ? 413 /* a message over sizeof(c->in) */
                         : rc == -EPROTONOSUPPORT ? 505
                                                  : 400;
            cv_conn_error(c, status, rc == -E2BIG || rc == -EMSGSIZE ? 0 : cseq,
                          status == 431   ? "request headers too large"
                          : status == 413 ? "request too large"
                                          : "malformed request");
            c->closing = true;
            break;
        }
        if (it.is_data)
            cv_conn_on_rtcp(c, &it);
        else
            cv_conn_handle(c);
        off += it.size;
    }
    if (c->dead)
        return;
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (off > 0 && c->in_len > 0)
        c->req_start_ms = cv_clock_mono_ms(); /* the next item's clock starts now */
}

/*
 * An orderly end after a final reply: shut our side once the reply is out and read (discard)
 * what the client still sends until it closes or CV_RTSP_LINGER_MS pass. Closing with unread
 * input would send a reset that can destroy the reply before the client reads it.
 */
static void cv_conn_finish(struct cv_rtsp_conn *c)
{
    if (c->dead || c->lingering)
        return;
    if (!cv_outq_empty(&c->outq)) {
        c->closing = true; /* the write callback comes back here */
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->lingering = true;
    c->linger_deadline_ms = cv_clock_mono_ms() + CV_RTSP_LINGER_MS;
    c->in_len = 0;
    cv_conn_update_read(c);
}

static void cv_conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_rtsp_conn *c = arg;
    if (c->lingering) {
        uint8_t sink[4096];
        ssize_t n = read(fd, sink, sizeof(sink));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            cv_rtsp_conn_close(c, NULL);
        return;
    }
    if (c->in_len == sizeof(c->in)) { /* cannot happen: reading stops when in[] is full */
        cv_conn_update_read(c);
        return;
    }
    ssize_t n = read(fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        cv_rtsp_conn_close(c, n == 0 || cv_conn_gone(-errno) ? NULL : strerror(errno));
        return;
    }
    if (n < 0)
        return;
    if (c->in_len == 0)
        c->req_start_ms = cv_clock_mono_ms();
    c->in_len += (size_t)n;
    cv_conn_parse(c);
    if (c->dead)
        return;
    if (c->closing && cv_outq_empty(&c->outq))
        cv_conn_finish(c);
    else
        cv_conn_update_read(c);
}

/*
 * An RTCP Sender Report for one track (RFC 3550 6.4.1): it ties the track's RTP clock to
 * wallclock, which clients use to line audio up with video. The RTP timestamp is the last
 * frame's, moved on by the time since that frame arrived, so every track of a camera is mapped
 * through the same (arrival) clock. Nothing is sent for a track without a recent frame.
 */
static void cv_conn_send_sr(struct cv_rtsp_conn *c, const struct cv_rtsp_track_out *o)
{
    struct cv_rtcp_sr sr;
    if (!c->feed || cv_rtp_fanout_sr(&c->feed->rtp, o->feed_track, CV_RTSP_SR_MAX_AGE_MS, &sr) < 0)
        return;
    uint8_t buf[4 + 128];
    int n = cv_rtcp_build_sr(buf + 4, sizeof(buf) - 4, &sr, "camvisor");
    if (n < 0)
        return;
    if (o->udp) {
        struct sockaddr_storage ss;
        socklen_t sl;
        if (c->srv->udp_rtcp >= 0 &&
            cv_conn_udp_addr(c, (uint16_t)(o->client_port + 1), &ss, &sl) == 0)
            sendto(c->srv->udp_rtcp, buf + 4, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
        return;
    }
    buf[0] = '$';
    buf[1] = (uint8_t)(o->channel + 1);
    buf[2] = (uint8_t)(n >> 8);
    buf[3] = (uint8_t)n;
    struct iovec iov = {buf, 4 + (size_t)n};
    int rc = cv_conn_writev(c, &iov, 1);
    if (rc < 0)
        cv_rtsp_conn_close(c, rc == -ENOBUFS     ? "client too slow, backlog full"
                              : cv_conn_gone(rc) ? NULL
                                                 : strerror(-rc));
}

void cv_rtsp_conn_tick(struct cv_rtsp_conn *c, uint64_t now_ms)
{
    const struct cv_rtsp_settings *cat = &c->srv->settings;
    if (c->lingering) {
        if (now_ms >= c->linger_deadline_ms)
            cv_rtsp_conn_close(c, NULL);
        return;
    }
    /*
     * Input left over with nothing queued before it is an incomplete request (a complete one
     * would have been handled); input waiting behind an unsent reply is not the client's delay.
     */
    if (cat->request_timeout_ms && c->in_len > 0 && cv_outq_empty(&c->outq) &&
        now_ms - c->req_start_ms > cat->request_timeout_ms) {
        /* Half a request for this long: a slowloris, or a client that lost its way. */
        cv_conn_error(c, 408, 0, "request not complete in time");
        cv_conn_finish(c);
        return;
    }
    if (cat->idle_timeout_ms && c->state != CV_CONN_PLAYING && !c->describe_pending &&
        now_ms - c->last_seen_ms > cat->idle_timeout_ms) {
        cv_rtsp_conn_close(c, "idle, no session playing");
        return;
    }
    if (c->state == CV_CONN_PLAYING && now_ms - c->last_sr_ms >= CV_RTSP_SR_INTERVAL_MS) {
        c->last_sr_ms = now_ms;
        for (int i = 0; i < CV_MAX_TRACKS && !c->dead; i++)
            if (c->out[i].setup)
                cv_conn_send_sr(c, &c->out[i]);
        if (c->dead)
            return;
    }
    if (c->describe_pending)
        cv_rtsp_conn_feed_ready(c);
    /* Interleaved clients prove life by their TCP connection; UDP ones must keep talking. */
    bool udp = false;
    for (int i = 0; i < CV_MAX_TRACKS; i++)
        udp |= c->out[i].setup && c->out[i].udp;
    if (udp && now_ms - c->last_seen_ms > CV_RTSP_SESSION_TIMEOUT * 1000ull)
        cv_rtsp_conn_close(c, "session timed out");
    else if (!cv_outq_empty(&c->outq) && now_ms - c->outq.since_ms > CV_RTSP_MAX_BACKLOG_MS)
        cv_rtsp_conn_close(c, "client too slow, behind for 5 s");
}

/* Connections from the address in sa, against max_connections_per_client. */
static uint32_t cv_conn_count_from(const struct cv_rtsp_srv *srv, const struct sockaddr_storage *sa)
{
    uint32_t n = 0;
    for (const struct cv_rtsp_conn *c = srv->conns; c; c = c->next)
        n += cv_sockaddr_same_host(&c->peer_sa, sa);
    return n;
}

/*
 * Over a connection limit: say so in one non-blocking write and close. No request has been read,
 * so there is no CSeq to echo; clients show the status and Retry-After.
 */
static bool cv_conn_refuse_over_limit(struct cv_rtsp_srv *srv, int fd,
                                      const struct sockaddr_storage *ss)
{
    const struct cv_rtsp_settings *set = &srv->settings;
    const struct cv_admit_limits lim = {set->max_conns, set->max_conns_per_client};
    const char *which =
        cv_admit_check(&srv->proc, &lim, srv->conn_count, cv_conn_count_from(srv, ss));
    if (!which)
        return false;
    static const char busy[] =
        "RTSP/1.0 503 Service Unavailable\r\nCSeq: 0\r\nServer: " CV_RTSP_SERVER
        "\r\nRetry-After: 10\r\nContent-Length: 0\r\n\r\n";
    if (cv_admit_log_due(&srv->refused_log_ms, cv_clock_mono_ms()))
        cv_warn("connection refused: %s reached (%u open)", which, srv->conn_count);
    ssize_t w = send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w;
    close(fd);
    return true;
}

void cv_rtsp_conn_accept(void *ctx, int fd, const struct sockaddr *sa, socklen_t salen)
{
    struct cv_rtsp_srv *srv = ctx;
    struct sockaddr_storage ss = {0};
    if (salen > 0 && (size_t)salen <= sizeof(ss))
        memcpy(&ss, sa, (size_t)salen);
    if (cv_conn_refuse_over_limit(srv, fd, &ss))
        return;
    struct cv_rtsp_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->srv = srv;
    c->fd = fd;
    cv_outq_init(&c->outq, CV_RTSP_MAX_BACKLOG, &srv->out_budget);
    if (salen > 0 && (size_t)salen <= sizeof(c->peer_sa)) {
        memcpy(&c->peer_sa, sa, (size_t)salen);
        c->peer_salen = (socklen_t)salen;
    }
    c->last_seen_ms = cv_clock_mono_ms();
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        c->loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        c->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
                      (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
    snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
    evutil_make_socket_nonblocking(fd);
    /*
     * A fixed send buffer (the kernel doubles it: 2 MiB, a quarter second at 64 Mbit/s) instead
     * of autotuning up to tcp_wmem's 4 MiB+: a stalled client then shows up in our backlog
     * within seconds, where it is measured and dropped.
     */
    int sndbuf = CV_RTSP_SNDBUF;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
    if (cv_admit_conn_events(srv->proc.base, fd, cv_conn_read_cb, cv_conn_write_cb, c, &c->rd_ev,
                             &c->wr_ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->next = srv->conns;
    srv->conns = c;
    srv->conn_count++;
    cv_dbg("%s: connected", c->peer);
}

/*
 * Closing is deferred: a conn may be closed from deep inside a fan-out loop or its own read
 * callback, so here it only leaves the live list and stops I/O; cv_rtsp_conn_reap() frees it
 * from the next loop iteration, when nobody holds a pointer to it.
 */
void cv_rtsp_conn_close(struct cv_rtsp_conn *c, const char *why)
{
    struct cv_rtsp_srv *srv = c->srv;
    if (c->dead)
        return;
    for (struct cv_rtsp_conn **pp = &srv->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    if (why)
        cv_info("%s: closed: %s", c->peer, why);
    else
        cv_dbg("%s: closed", c->peer);
    c->dead = true;
    c->state = CV_CONN_INIT;
    srv->conn_count--;
    cv_outq_free(&c->outq); /* what waited for it counts no more against the process */
    event_del(c->rd_ev);
    event_del(c->wr_ev);
    c->next = srv->dead;
    srv->dead = c;
    cv_consumer_reap_soon(&srv->proc);
}

void cv_rtsp_conn_reap(struct cv_rtsp_srv *srv)
{
    while (srv->dead) {
        struct cv_rtsp_conn *c = srv->dead;
        srv->dead = c->next;
        cv_feed_viewer_detach(&c->view.fv);
        if (c->feed)
            cv_rtsp_feed_put(c->feed);
        event_free(c->rd_ev);
        event_free(c->wr_ev);
        close(c->fd);
        free(c);
    }
}
