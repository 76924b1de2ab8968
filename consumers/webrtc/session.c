/*
 * One WebRTC session from offer to close: the answer (common/net/sdp-webrtc.h), ICE-lite checks
 * (common/net/stun.h), the DTLS handshake (dtls.c), SRTP (srtp.c), media out through the feed's
 * fan-out and the browser's RTCP in (reports, PLI/FIR, NACK).
 *
 *   offer ──> WAIT_FEED ──(camera parameters)──> answer sent, CHECKING
 *   a STUN check whose integrity holds ──> DTLS (media goes to the address it came from)
 *   handshake done, peer certificate = the offer's fingerprint ──> PLAYING: the frames since the
 *   newest keyframe at once, then live
 *
 * A session that does not reach PLAYING within CV_WEBRTC_CONNECT_MS, or hears no check for
 * CV_WEBRTC_CONSENT_MS once playing, is closed. Closing only marks it: it is freed by the reap,
 * after the current callback, so that the fan-out's and the loop's walks stay valid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "common/net/rtcp.h"
#include "common/net/stun.h"
#include "consumers/webrtc/webrtc.h"

/* ---- small things --------------------------------------------------------------------------- */

static void cv_session_random_text(char *out, size_t n)
{
    static const char ice_chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"; /* ice-char minus +/ */
    uint8_t r[64];
    if (n > sizeof(r) + 1 || getrandom(r, n - 1, 0) != (ssize_t)(n - 1))
        memset(r, 0, sizeof(r)); /* getrandom never fails for small sizes after boot */
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = ice_chars[r[i] % (sizeof(ice_chars) - 1)];
    out[n - 1] = '\0';
}

static bool cv_session_same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return false;
}

static struct cv_webrtc_session *cv_session_by_addr(struct cv_webrtc_srv *srv,
                                                    const struct sockaddr_storage *from)
{
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next)
        if (!s->dead && s->have_addr && !s->tcp && cv_session_same_addr(&s->addr, from))
            return s;
    return NULL;
}

/* One packet to the session's browser: over its ICE-TCP connection, or UDP to its address. */
static int cv_session_xmit(struct cv_webrtc_session *s, const uint8_t *p, size_t n)
{
    if (s->tcp)
        return cv_webrtc_tcp_send(s->tcp, p, n);
    if (sendto(s->srv->udp, p, n, MSG_DONTWAIT, (struct sockaddr *)&s->addr, s->addrlen) < 0)
        return -errno;
    return 0;
}

static void cv_session_answer_error(struct cv_webrtc_srv *srv, uint32_t req_id, int status,
                                    const char *reason)
{
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->type = CV_MSG_WEBRTC_ANSWER;
    m->u.webrtc_answer.req_id = req_id;
    m->u.webrtc_answer.status = status;
    snprintf(m->u.webrtc_answer.reason, sizeof(m->u.webrtc_answer.reason), "%s", reason);
    cv_consumer_peer_send(&srv->proc, CV_ROLE_HTTP, m);
    free(m);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

void cv_webrtc_session_refuse(struct cv_webrtc_session *s, int status, const char *why)
{
    if (s->dead)
        return;
    if (s->state == CV_WEBRTC_WAIT_FEED && s->req_id) {
        cv_session_answer_error(s->srv, s->req_id, status, why);
        s->req_id = 0;
    }
    cv_webrtc_session_close(s, why);
}

void cv_webrtc_session_close(struct cv_webrtc_session *s, const char *why)
{
    if (s->dead)
        return;
    struct cv_webrtc_srv *srv = s->srv;
    if (s->state == CV_WEBRTC_WAIT_FEED && s->req_id)
        cv_session_answer_error(srv, s->req_id, -ETIMEDOUT, why ? why : "closed");
    cv_info("webrtc %s (%s, %s): closed%s%s after %llu packets", s->id, s->camera, s->client,
            why ? ": " : "", why ? why : "", (unsigned long long)s->packets);
    s->dead = true;
    s->view.playing = false;
    s->aview.playing = false;
    if (s->tcp) { /* its connection goes with it */
        struct cv_webrtc_tcp *c = s->tcp;
        s->tcp = NULL;
        c->session = NULL;
        cv_webrtc_tcp_close(c, NULL);
    }
    if (s->view.fv.feed)
        cv_feed_viewer_detach(&s->view.fv);
    if (s->aview.fv.feed)
        cv_feed_viewer_detach(&s->aview.fv);
    cv_consumer_reap_soon(&srv->proc);
}

static void cv_session_free(struct cv_webrtc_session *s)
{
    if (s->view.fv.feed)
        cv_feed_viewer_detach(&s->view.fv);
    if (s->aview.fv.feed)
        cv_feed_viewer_detach(&s->aview.fv);
    if (s->feed)
        cv_webrtc_feed_put(s->feed);
    if (s->afeed)
        cv_webrtc_feed_put(s->afeed);
    if (s->prev_feed)
        cv_webrtc_feed_put(s->prev_feed);
    cv_dtls_conn_fini(&s->dtls);
    cv_srtp_fini(&s->srtp);
    free(s->offer);
    explicit_bzero(s, sizeof(*s)); /* ICE password */
    free(s);
}

void cv_webrtc_reap(struct cv_webrtc_srv *srv)
{
    for (struct cv_webrtc_session **pp = &srv->sessions; *pp;) {
        struct cv_webrtc_session *s = *pp;
        if (!s->dead) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        srv->session_count--;
        cv_session_free(s);
    }
}

void cv_webrtc_close_by_id(struct cv_webrtc_srv *srv, const char *id, uint32_t req_id,
                           bool with_signalling)
{
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next) {
        if (s->dead ||
            !((id[0] && strcmp(s->id, id) == 0) || (!id[0] && req_id && s->req_id == req_id)))
            continue;
        if (with_signalling && s->state == CV_WEBRTC_PLAYING)
            cv_info("webrtc %s: its signalling closed; it plays on until the browser closes it",
                    s->id);
        else
            cv_webrtc_session_close(s, with_signalling ? "its signalling closed before it played"
                                                       : "closed by the client");
    }
}

void cv_webrtc_drop_camera(struct cv_webrtc_srv *srv, const char *camera)
{
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next)
        if (!s->dead && strcmp(s->camera, camera) == 0)
            cv_webrtc_session_close(s, "camera removed");
}

/* ---- offer and answer ----------------------------------------------------------------------- */

/* Too many offers from this address lately (a flood of offers costs a session each). */
static bool cv_session_rate_limited(struct cv_webrtc_srv *srv, const char *client, uint64_t now)
{
    struct sockaddr_storage a = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&a;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a;
    if (inet_pton(AF_INET, client, &in->sin_addr) == 1)
        a.ss_family = AF_INET;
    else if (inet_pton(AF_INET6, client, &in6->sin6_addr) == 1)
        a.ss_family = AF_INET6;
    else
        return false; /* http always says; nothing to count by otherwise */
    size_t n = sizeof(srv->offer_rate) / sizeof(srv->offer_rate[0]), oldest = 0;
    for (size_t i = 0; i < n; i++) {
        if (srv->offer_rate[i].count && cv_sockaddr_same_host(&srv->offer_rate[i].addr, &a)) {
            if (now - srv->offer_rate[i].window_ms > 10000) {
                srv->offer_rate[i].window_ms = now;
                srv->offer_rate[i].count = 0;
            }
            return ++srv->offer_rate[i].count > CV_WEBRTC_OFFERS_PER_10S;
        }
        if (srv->offer_rate[i].window_ms < srv->offer_rate[oldest].window_ms)
            oldest = i;
    }
    srv->offer_rate[oldest].addr = a;
    srv->offer_rate[oldest].window_ms = now;
    srv->offer_rate[oldest].count = 1;
    return false;
}

static unsigned cv_session_count_from(struct cv_webrtc_srv *srv, const char *client)
{
    unsigned n = 0;
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next)
        n += !s->dead && strcmp(s->client, client) == 0;
    return n;
}

static void cv_session_client_answer(struct cv_webrtc_srv *srv,
                                     const struct cv_msg_webrtc_offer *o);

void cv_webrtc_offer(struct cv_webrtc_srv *srv, const struct cv_msg_webrtc_offer *o)
{
    if (o->flags & CV_WEBRTC_CLIENT_ANSWER) {
        cv_session_client_answer(srv, o);
        return;
    }
    uint64_t now = cv_clock_mono_ms();
    const struct cv_webrtc_settings *set = &srv->set;
    if (!cv_cameras_exists(&srv->proc.cams, o->camera)) {
        cv_session_answer_error(srv, o->req_id, -ENOENT, "no such camera");
        return;
    }
    const char *busy = NULL;
    if (set->max_sessions && srv->session_count >= set->max_sessions)
        busy = "too many WebRTC sessions (max_sessions)";
    else if (set->max_sessions_per_client &&
             cv_session_count_from(srv, o->client) >= set->max_sessions_per_client)
        busy = "too many WebRTC sessions from this address (max_sessions_per_client)";
    else if (cv_session_rate_limited(srv, o->client, now))
        busy = "too many offers from this address: try again in a few seconds";
    if (busy) {
        if (cv_admit_log_due(&srv->refused_log_ms, now))
            cv_warn("webrtc offer from %s for %s refused: %s", o->client, o->camera, busy);
        cv_session_answer_error(srv, o->req_id, -EBUSY, busy);
        return;
    }
    struct cv_webrtc_session *s = calloc(1, sizeof(*s));
    struct cv_webrtc_sdp_offer *offer = calloc(1, sizeof(*offer));
    if (!s || !offer) {
        free(s);
        free(offer);
        cv_session_answer_error(srv, o->req_id, -ENOMEM, "out of memory");
        return;
    }
    bool ours = o->flags & CV_WEBRTC_WANT_OFFER; /* made when the camera's tracks are known */
    int rc = ours ? 0 : cv_webrtc_sdp_parse(o->sdp, strnlen(o->sdp, sizeof(o->sdp)), offer);
    if (rc < 0) {
        free(s);
        free(offer);
        cv_session_answer_error(srv, o->req_id, -EINVAL, "the offer is not SDP we can read");
        return;
    }
    s->srv = srv;
    s->offer = offer;
    s->server_offer = ours;
    s->req_id = o->req_id;
    s->state = CV_WEBRTC_WAIT_FEED;
    s->created_ms = s->heard_ms = now;
    snprintf(s->camera, sizeof(s->camera), "%s", o->camera);
    snprintf(s->kind, sizeof(s->kind), "%s", o->kind[0] ? o->kind : "json");
    snprintf(s->client, sizeof(s->client), "%s", o->client);
    char rnd[13];
    cv_session_random_text(rnd, sizeof(rnd));
    snprintf(s->id, sizeof(s->id), "w%u%s", ++srv->next_session, rnd);
    cv_session_random_text(s->ufrag, sizeof(s->ufrag));
    cv_session_random_text(s->pwd, sizeof(s->pwd));
    s->next = srv->sessions;
    srv->sessions = s;
    srv->session_count++;
    s->feed = cv_webrtc_feed_get(srv, o->camera, CV_VARIANT_NATIVE, false);
    if (!s->feed) {
        int err = errno;
        cv_session_answer_error(srv, s->req_id, err == EMFILE ? -EMFILE : -ENOMEM,
                                err == EMFILE ? "out of descriptors" : "cannot follow the camera");
        s->req_id = 0;
        cv_webrtc_session_close(s, "no feed");
        return;
    }
    cv_info("webrtc %s: offer for %s from %s (%s)", s->id, s->camera, s->client, s->kind);
    if (cv_feed_ready(s->feed->feed))
        cv_webrtc_session_feed_ready(s);
}

/* The offer's certificate fingerprint (sha-256, the one every browser sends): session- or first
 * m-line level. */
static bool cv_session_take_fingerprint(const struct cv_webrtc_sdp_offer *o,
                                        struct cv_webrtc_session *s)
{
    const struct cv_webrtc_sdp_transport *t = &o->transport;
    for (unsigned i = 0; t->fingerprint_hash != CV_WEBRTC_SDP_HASH_SHA256 && i < o->media_count;
         i++)
        t = &o->media[i].transport;
    if (t->fingerprint_hash != CV_WEBRTC_SDP_HASH_SHA256 || t->fingerprint_len != 32)
        return false;
    memcpy(s->peer_fp, t->fingerprint, 32);
    s->peer_fp_len = 32;
    return true;
}

/* Which feed track answers m-line m: the first of its kind not taken yet. */
static int cv_session_track_for(const struct cv_stream_info *info,
                                const struct cv_webrtc_sdp_media *m, const bool *taken)
{
    int kind = m->type == CV_WEBRTC_SDP_MEDIA_VIDEO   ? CV_TRACK_VIDEO
               : m->type == CV_WEBRTC_SDP_MEDIA_AUDIO ? CV_TRACK_AUDIO
                                                      : -1;
    for (uint32_t t = 0; kind >= 0 && t < info->track_count && t < CV_MAX_TRACKS; t++)
        if ((int)info->tracks[t].kind == kind && !taken[t])
            return (int)t;
    return -1;
}

/*
 * The camera's audio in a codec the offer does not have (AAC): ask the camera's worker for its
 * opus variant, a feed of its own, and send it on m-line m when it comes. -EAGAIN: wait (the
 * answer goes when the variant is ready or refused); 0: decided, *c and *send filled when the
 * variant is sent, else its refusal appended to why.
 */
static int cv_session_audio_variant(struct cv_webrtc_session *s,
                                    const struct cv_webrtc_sdp_media *m,
                                    struct cv_webrtc_sdp_choice *c, struct cv_webrtc_sdp_send *send,
                                    char *why, size_t why_size)
{
    if (s->audio == CV_WEBRTC_AUDIO_NATIVE) {
        s->afeed = cv_webrtc_feed_get(s->srv, s->camera, "opus", true);
        if (!s->afeed) {
            s->audio = CV_WEBRTC_AUDIO_REFUSED;
            snprintf(s->audio_why, sizeof(s->audio_why), "%s",
                     errno == EMFILE ? "out of descriptors" : "out of memory");
        } else {
            cv_info("webrtc %s: asking camera %s for its opus variant", s->id, s->camera);
            s->audio = CV_WEBRTC_AUDIO_WAITING;
        }
    }
    if (s->audio == CV_WEBRTC_AUDIO_WAITING) {
        if (!cv_feed_ready(s->afeed->feed))
            return -EAGAIN;
        s->audio = CV_WEBRTC_AUDIO_VARIANT;
    }
    size_t n = strlen(why);
    if (s->audio == CV_WEBRTC_AUDIO_REFUSED) {
        snprintf(why + n, why_size - n, "%sno opus variant: %s", n ? "; " : "", s->audio_why);
        return 0;
    }
    const struct cv_stream_info *ai = cv_feed_info(s->afeed->feed);
    int at = -1;
    for (uint32_t t = 0; t < ai->track_count && t < CV_MAX_TRACKS && at < 0; t++)
        if (ai->tracks[t].kind == CV_TRACK_AUDIO)
            at = (int)t;
    struct cv_webrtc_sdp_choice got;
    memset(&got, 0, sizeof(got));
    if (at < 0 || cv_webrtc_sdp_choose(m, &ai->tracks[at], &got) < 0 || !got.ok) {
        snprintf(why + n, why_size - n, "%sthe opus variant: %s", n ? "; " : "",
                 at < 0 ? "no audio track" : got.why);
        return 0;
    }
    *c = got;
    c->has_rtx = false; /* no RTX for audio */
    *send = (struct cv_webrtc_sdp_send){.choice = c, .ssrc = s->afeed->rtp.packers[at].ssrc};
    s->atrack = (struct cv_webrtc_track){.on = true, .pt = c->pt};
    s->atrack_index = at;
    return 0;
}

void cv_webrtc_session_audio_refused(struct cv_webrtc_session *s, const char *why)
{
    if (s->dead)
        return;
    cv_info("webrtc %s: no opus variant of %s: %s", s->id, s->camera, why);
    snprintf(s->audio_why, sizeof(s->audio_why), "%s", why);
    s->atrack.on = false;
    s->aview.playing = false;
    if (s->audio == CV_WEBRTC_AUDIO_WAITING) {
        s->audio = CV_WEBRTC_AUDIO_REFUSED;
        cv_webrtc_session_feed_ready(s); /* answers without audio */
        return;
    }
    s->audio = CV_WEBRTC_AUDIO_REFUSED;
}

void cv_webrtc_session_feed_ready(struct cv_webrtc_session *s)
{
    struct cv_webrtc_srv *srv = s->srv;
    if (s->state != CV_WEBRTC_WAIT_FEED || !s->offer)
        return;
    if (!cv_feed_ready(s->feed->feed))
        return; /* subscribed, parameters not in yet: the next on_params wakes it again */
    const struct cv_stream_info *info = cv_feed_info(s->feed->feed);
    if (s->server_offer && s->offer->media_count == 0 &&
        cv_webrtc_sdp_template(info, s->offer) < 0) {
        cv_session_answer_error(srv, s->req_id, -ENOTSUP, "the camera has no audio or video");
        s->req_id = 0;
        cv_webrtc_session_close(s, "nothing to offer");
        return;
    }
    const struct cv_webrtc_sdp_offer *offer = s->offer;
    struct cv_webrtc_sdp_choice choice[CV_WEBRTC_SDP_MAX_MEDIA];
    struct cv_webrtc_sdp_send send[CV_WEBRTC_SDP_MAX_MEDIA];
    bool taken[CV_MAX_TRACKS] = {false};
    char why[512] = "";
    unsigned accepted = 0;
    int audio_m = -1; /* an offered audio m-line the camera's audio codec cannot go on */
    bool camera_audio = false;
    for (uint32_t t = 0; t < info->track_count; t++)
        camera_audio |= info->tracks[t].kind == CV_TRACK_AUDIO;
    memset(choice, 0, sizeof(choice));
    memset(send, 0, sizeof(send));
    memset(s->mline, -1, sizeof(s->mline));
    for (unsigned i = 0; i < offer->media_count; i++) {
        const struct cv_webrtc_sdp_media *m = &offer->media[i];
        int t = m->rejected ? -1 : cv_session_track_for(info, m, taken);
        if (t >= 0 &&
            (cv_webrtc_sdp_choose(m, &info->tracks[t], &choice[i]) < 0 || !choice[i].ok)) {
            size_t n = strlen(why);
            snprintf(why + n, sizeof(why) - n, "%s%s", n ? "; " : "", choice[i].why);
            t = -1;
        }
        if (t < 0) {
            if (m->type == CV_WEBRTC_SDP_MEDIA_AUDIO && !m->rejected && camera_audio && audio_m < 0)
                audio_m = (int)i;
            memset(&choice[i], 0, sizeof(choice[i]));
            if (cv_webrtc_sdp_choose_inactive(m, &choice[i]) == 0) {
                send[i].choice = &choice[i];
                send[i].inactive = true;
            }
            continue;
        }
        taken[t] = true;
        s->mline[i] = (int8_t)t;
        s->tracks[t] = (struct cv_webrtc_track){.on = true, .pt = choice[i].pt};
        send[i].choice = &choice[i];
        send[i].ssrc = s->feed->rtp.packers[t].ssrc;
        if (choice[i].has_rtx) {
            struct cv_webrtc_track *k = &s->tracks[t];
            uint32_t r[2];
            if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
                r[0] = r[1] = (uint32_t)cv_clock_mono_ms();
            k->rtx = true;
            k->rtx_pt = choice[i].rtx_pt;
            k->rtx_ssrc = r[0] == send[i].ssrc ? r[0] ^ 1 : r[0];
            k->rtx_seq = (uint16_t)r[1];
            send[i].rtx_ssrc = k->rtx_ssrc;
        }
        /* Video with playout-delay 0/0, where the browser offers it: Chrome then renders each
         * frame as it is decoded, and the frames since the keyframe that a new session gets at
         * once are shown at once, instead of at their own pace a GOP behind live. */
        for (unsigned k = 0; k < m->extmap_count && info->tracks[t].kind == CV_TRACK_VIDEO; k++)
            if (m->extmaps[k].ext == CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY && m->extmaps[k].id >= 1 &&
                m->extmaps[k].id <= 14) {
                s->tracks[t].playout_id = (uint8_t)m->extmaps[k].id;
                send[i].extensions |= CV_WEBRTC_SDP_EXT_BIT(CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY);
            }
        accepted++;
    }
    /* The camera's video in a codec the browser does not offer (H.265 in Chromium): ask its
     * worker for the h264 variant (transcoding), and answer once that comes, or pass on the
     * worker's refusal (the variant mechanism: a worker that cannot make it says why). */
    bool video_accepted = false;
    for (unsigned i = 0; i < offer->media_count; i++)
        video_accepted |= send[i].choice && !send[i].inactive &&
                          offer->media[i].type == CV_WEBRTC_SDP_MEDIA_VIDEO;
    bool video_offered = false;
    for (unsigned i = 0; i < offer->media_count; i++)
        video_offered |=
            offer->media[i].type == CV_WEBRTC_SDP_MEDIA_VIDEO && !offer->media[i].rejected;
    bool camera_video = false;
    for (uint32_t t = 0; t < info->track_count; t++)
        camera_video |= info->tracks[t].kind == CV_TRACK_VIDEO;
    if (!video_accepted && video_offered && camera_video && !s->transcoded) {
        struct cv_webrtc_feed *h264 = cv_webrtc_feed_get(srv, s->camera, "h264", false);
        if (h264) {
            cv_info("webrtc %s: %s: asking camera %s for its h264 variant", s->id, why, s->camera);
            s->prev_feed = s->feed; /* we may be in its callback: let go of it later */
            s->feed = h264;
            s->transcoded = true;
            memset(s->tracks, 0, sizeof(s->tracks));
            if (cv_feed_ready(h264->feed))
                cv_webrtc_session_feed_ready(s);
            return;
        }
    }
    if (audio_m >= 0 && cv_session_audio_variant(s, &offer->media[audio_m], &choice[audio_m],
                                                 &send[audio_m], why, sizeof(why)) == -EAGAIN)
        return; /* answered when the opus variant comes, or is refused */
    if (audio_m >= 0 && s->atrack.on) {
        accepted++;
        s->mline[audio_m] = CV_WEBRTC_MLINE_AUDIO;
    }
    /* A client's offer names its certificate now; to ours, its answer will. */
    if (accepted == 0 || (!s->server_offer && !cv_session_take_fingerprint(s->offer, s))) {
        const char *reason = accepted == 0 ? (why[0] ? why : "the offer asks for no media we have")
                                           : "the offer has no sha-256 certificate fingerprint";
        cv_warn("webrtc %s: cannot answer the offer for %s: %s", s->id, s->camera, reason);
        cv_session_answer_error(srv, s->req_id, accepted == 0 ? -ENOTSUP : -EINVAL, reason);
        s->req_id = 0;
        cv_webrtc_session_close(s, "no answer");
        return;
    }
    if (why[0]) /* some media could not be sent: said in the log (and to the client) */
        cv_info("webrtc %s: %s", s->id, why);

    struct cv_webrtc_sdp_candidate cands[2 * CV_WEBRTC_MAX_LOCAL + 1];
    unsigned ncands = 0;
    for (unsigned i = 0; i < srv->local_count; i++)
        cands[ncands++] =
            (struct cv_webrtc_sdp_candidate){srv->local[i].ip, srv->local[i].port, false};
    for (unsigned i = 0; i < srv->local_count && srv->tcp_listen.l; i++) /* ICE-TCP passive */
        cands[ncands++] =
            (struct cv_webrtc_sdp_candidate){srv->local[i].ip, srv->local[i].port, true};
    /* Our public address as a STUN server sees it, based on the first host address. */
    if (srv->srflx.have && srv->local_count && ncands < 32)
        cands[ncands++] = (struct cv_webrtc_sdp_candidate){
            srv->srflx.ip, srv->srflx.mapped_port, false, srv->local[0].ip, srv->local[0].port};
    uint64_t sid = 0;
    if (getrandom(&sid, sizeof(sid), 0) != (ssize_t)sizeof(sid))
        sid = cv_clock_mono_ms();
    struct cv_webrtc_sdp_local local = {.ice_ufrag = s->ufrag,
                                        .ice_pwd = s->pwd,
                                        .fingerprint = srv->dtls.fingerprint,
                                        .cname = "camvisor",
                                        .stream_id = s->camera,
                                        .session_id = sid,
                                        .candidates = cands,
                                        .candidate_count = ncands,
                                        .offer = s->server_offer};
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (!m) {
        cv_webrtc_session_close(s, "out of memory");
        return;
    }
    m->type = CV_MSG_WEBRTC_ANSWER;
    struct cv_msg_webrtc_answer *a = &m->u.webrtc_answer;
    a->req_id = s->req_id;
    int n = cv_webrtc_sdp_answer(offer, send, offer->media_count, &local, a->sdp, sizeof(a->sdp));
    if (n < 0) {
        free(m);
        cv_warn("webrtc %s: cannot build the answer: %s", s->id, strerror(-n));
        cv_session_answer_error(srv, s->req_id, -EINVAL,
                                n == -EPROTO   ? "the offer cannot be answered with DTLS-SRTP"
                                : n == -ERANGE ? "the offer has more media than we can answer"
                                               : "cannot build the answer");
        s->req_id = 0;
        cv_webrtc_session_close(s, "no answer");
        return;
    }
    snprintf(a->session, sizeof(a->session), "%s", s->id);
    snprintf(a->reason, sizeof(a->reason), "%.*s", (int)sizeof(a->reason) - 1, why);
    a->flags = s->server_offer ? CV_WEBRTC_WANT_OFFER : 0;
    s->sent_media = offer->media_count;
    s->await_answer = s->server_offer;
    cv_consumer_peer_send(&srv->proc, CV_ROLE_HTTP, m);
    free(m);
    free(s->offer);
    s->offer = NULL;
    s->req_id = 0;
    s->state = CV_WEBRTC_CHECKING;
    cv_dbg("webrtc %s: answered (%u media)", s->id, accepted);
}

/* ---- media out ------------------------------------------------------------------------------ */

/* Sends msgs[0..n) with sendmmsg(); returns how many went (the rest are lost). */
static unsigned cv_session_sendmmsg(struct cv_webrtc_srv *srv, struct mmsghdr *msgs, unsigned n)
{
    unsigned done = 0;
    while (done < n) {
        int k = sendmmsg(srv->udp, msgs + done, n - done, MSG_DONTWAIT);
        if (k <= 0)
            break;
        done += (unsigned)k;
    }
    return done;
}

/*
 * n protected packets of srv->batch (batch_iov) to the session's address. Runs of equal-sized
 * packets (a frame's FU-A fragments: all full but the last) go as one UDP GSO message each
 * (UDP_SEGMENT: the kernel cuts them into the same datagrams, for a fraction of the work per
 * packet); the runs of a batch go in one sendmmsg(). Non-blocking: a socket buffer that is full
 * loses what did not go, for this session only; nobody waits (the browser asks again with a NACK
 * or a PLI). A kernel that refuses GSO gets plain datagrams from then on.
 */
static void cv_session_flush(struct cv_webrtc_session *s, unsigned n)
{
    struct cv_webrtc_srv *srv = s->srv;
    unsigned nmsg = 0;
    for (unsigned i = 0; i < n;) {
        size_t seg = srv->batch_iov[i].iov_len;
        unsigned j = i + 1;
        /* A GSO message carries at most 64 KiB and 64 segments: runs stop short of both. */
        size_t cap = seg ? 60000 / seg : 1;
        while (!srv->no_gso && j < n && j - i < cap && srv->batch_iov[j].iov_len == seg)
            j++;
        if (!srv->no_gso && j < n && j - i < cap && srv->batch_iov[j].iov_len < seg)
            j++; /* a shorter one may close the run */
        struct msghdr *h = &srv->batch_msg[nmsg].msg_hdr;
        *h = (struct msghdr){.msg_name = &s->addr,
                             .msg_namelen = s->addrlen,
                             .msg_iov = &srv->batch_iov[i],
                             .msg_iovlen = j - i};
        if (j - i > 1) {
            h->msg_control = srv->batch_cmsg[nmsg].buf;
            h->msg_controllen = sizeof(srv->batch_cmsg[nmsg].buf);
            struct cmsghdr *cm = CMSG_FIRSTHDR(h);
            cm->cmsg_level = SOL_UDP;
            cm->cmsg_type = UDP_SEGMENT;
            cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
            uint16_t gso = (uint16_t)seg;
            memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
        }
        srv->batch_msg[nmsg].msg_len = 0;
        nmsg++;
        i = j;
    }
    unsigned sent = cv_session_sendmmsg(srv, srv->batch_msg, nmsg);
    if (sent < nmsg && !srv->no_gso && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT)) {
        cv_warn("UDP GSO refused (%s): sending one datagram at a time", strerror(errno));
        srv->no_gso = true;
        cv_session_flush(s, n); /* again, without GSO: nothing of it went */
        return;
    }
    for (unsigned m = 0; m < nmsg; m++) {
        const struct msghdr *h = &srv->batch_msg[m].msg_hdr;
        if (m >= sent) {
            s->send_errors += h->msg_iovlen;
            continue;
        }
        s->packets += h->msg_iovlen;
        s->bytes += srv->batch_msg[m].msg_len;
    }
}

/* One frame's packets of one track k, protected and sent to s. */
static int cv_session_send_track(struct cv_webrtc_session *s, const struct cv_webrtc_track *k,
                                 const uint8_t *arena, const struct cv_rtp_pkt *pkts, size_t count)
{
    if (s->dead)
        return -EPIPE;
    if (!k->on)
        return 0;
    struct cv_webrtc_srv *srv = s->srv;
    uint8_t ext = k->playout_id;
    unsigned n = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = pkts[i].len;
        const uint8_t *p = arena + pkts[i].offset;
        uint8_t *buf = srv->batch[n];
        if (len < 12 || len + CV_WEBRTC_EXT_ROOM + CV_SRTP_TRAILER > sizeof(srv->batch[0]))
            continue;
        if (ext && !(p[0] & 0x1f)) {
            /* Our packets have no CSRC nor extension: the 12-byte header, then RFC 8285's
             * one-byte extension block with playout-delay min = max = 0, then the payload. */
            memcpy(buf, p, 12);
            buf[0] |= 0x10;
            static const uint8_t block[4] = {0xbe, 0xde, 0x00, 0x01};
            memcpy(buf + 12, block, 4);
            buf[16] = (uint8_t)(ext << 4 | 2); /* id, length - 1 */
            buf[17] = buf[18] = buf[19] = 0;
            memcpy(buf + 20, p + 12, len - 12);
            len += CV_WEBRTC_EXT_ROOM;
        } else {
            memcpy(buf, p, len);
        }
        buf[1] = (uint8_t)((buf[1] & 0x80) | k->pt); /* the browser's number */
        if (cv_srtp_protect(&s->srtp, buf, &len) < 0) {
            s->send_errors++;
            continue;
        }
        if (s->tcp) { /* framed on its connection, one at a time */
            if (cv_webrtc_tcp_send(s->tcp, buf, len) < 0) {
                s->send_errors++;
                if (s->dead)
                    return -EPIPE; /* its connection overflowed and closed it */
                continue;
            }
            s->packets++;
            s->bytes += len;
            continue;
        }
        srv->batch_iov[n] = (struct iovec){buf, len};
        if (++n == CV_WEBRTC_BATCH) {
            cv_session_flush(s, n);
            n = 0;
        }
    }
    if (n)
        cv_session_flush(s, n);
    return 0;
}

int cv_webrtc_session_send(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                           const struct cv_rtp_pkt *pkts, size_t count)
{
    struct cv_webrtc_session *s =
        (struct cv_webrtc_session *)((char *)v - offsetof(struct cv_webrtc_session, view));
    if (track < 0 || track >= CV_MAX_TRACKS)
        return s->dead ? -EPIPE : 0;
    return cv_session_send_track(s, &s->tracks[track], arena, pkts, count);
}

int cv_webrtc_session_send_audio(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                                 const struct cv_rtp_pkt *pkts, size_t count)
{
    struct cv_webrtc_session *s =
        (struct cv_webrtc_session *)((char *)v - offsetof(struct cv_webrtc_session, aview));
    if (track != s->atrack_index)
        return s->dead ? -EPIPE : 0;
    return cv_session_send_track(s, &s->atrack, arena, pkts, count);
}

/* One packet of the history again as RTX (RFC 4588 §4): the RTX payload type, SSRC and sequence
 * number, the original timestamp and marker, and the original sequence number before the
 * payload. */
static void cv_session_send_rtx(struct cv_webrtc_session *s, struct cv_webrtc_track *k,
                                const struct cv_webrtc_hist *h)
{
    uint8_t *buf = s->srv->out;
    size_t len = (size_t)h->len + 2;
    if (h->len < 12 || (h->data[0] & 0x1f) || len + CV_SRTP_TRAILER > sizeof(s->srv->out))
        return; /* ours have no CSRC nor extension */
    memcpy(buf, h->data, 12);
    buf[1] = (uint8_t)((h->data[1] & 0x80) | k->rtx_pt);
    buf[2] = (uint8_t)(k->rtx_seq >> 8);
    buf[3] = (uint8_t)k->rtx_seq;
    k->rtx_seq++;
    for (int i = 0; i < 4; i++)
        buf[8 + i] = (uint8_t)(k->rtx_ssrc >> (24 - 8 * i));
    memcpy(buf + 12, h->data + 2, 2); /* OSN */
    memcpy(buf + 14, h->data + 12, h->len - 12u);
    if (cv_srtp_protect(&s->srtp, buf, &len) < 0 || cv_session_xmit(s, buf, len) < 0) {
        s->send_errors++;
        return;
    }
    s->packets++;
    s->bytes += len;
    s->retransmits++;
}

/* A NACK's packets again, from the feed's history: as RTX where negotiated, else as they were,
 * with this session's payload type and keys (libsrtp2 allows the repeat: the same packet, the
 * same index). At most 17 per entry. */
static void cv_session_retransmit(struct cv_webrtc_session *s, const struct cv_rtcp_nack *n)
{
    /* Whose packets: a camera track of the session's feed, or the opus variant's. */
    struct cv_webrtc_feed *f = NULL;
    struct cv_webrtc_track *k = NULL;
    int t = -1;
    for (int i = 0; i < CV_MAX_TRACKS && !k; i++)
        if (s->tracks[i].on && s->feed->rtp.packers[i].ssrc == n->media_ssrc)
            f = s->feed, k = &s->tracks[i], t = i;
    if (!k && s->atrack.on && s->afeed->rtp.packers[s->atrack_index].ssrc == n->media_ssrc)
        f = s->afeed, k = &s->atrack, t = s->atrack_index;
    for (int b = -1; k && b < 16; b++) {
        if (b >= 0 && !(n->blp & (1u << b)))
            continue;
        const struct cv_webrtc_hist *h = cv_webrtc_feed_history(f, t, (uint16_t)(n->pid + (b + 1)));
        if (!h)
            continue;
        if (k->rtx) {
            cv_session_send_rtx(s, k, h);
            continue;
        }
        struct cv_rtp_pkt pkt = {.offset = 0, .len = h->len};
        uint64_t before = s->packets;
        cv_session_send_track(s, k, h->data, &pkt, 1);
        s->retransmits += s->packets - before;
    }
}

/* RTCP Sender Reports, one per track the session receives (A/V sync in the browser). */
static void cv_session_send_one_sr(struct cv_webrtc_session *s, struct cv_rtp_fanout *fo, int t)
{
    struct cv_webrtc_srv *srv = s->srv;
    struct cv_rtcp_sr sr;
    if (cv_rtp_fanout_sr(fo, t, 2000, &sr) < 0)
        return;
    int n = cv_rtcp_build_sr(srv->out, sizeof(srv->out) - CV_SRTP_TRAILER, &sr, "camvisor");
    size_t len = n > 0 ? (size_t)n : 0;
    if (n > 0 && cv_srtp_protect_rtcp(&s->srtp, srv->out, &len) == 0)
        cv_session_xmit(s, srv->out, len);
}

static void cv_session_send_sr(struct cv_webrtc_session *s)
{
    for (int t = 0; t < CV_MAX_TRACKS; t++)
        if (s->tracks[t].on)
            cv_session_send_one_sr(s, &s->feed->rtp, t);
    if (s->atrack.on) /* the opus variant's track, on its own feed */
        cv_session_send_one_sr(s, &s->afeed->rtp, s->atrack_index);
}

/* ---- packets in ----------------------------------------------------------------------------- */

static int cv_session_dtls_send(void *arg, const uint8_t *p, size_t n)
{
    return cv_session_xmit(arg, p, n);
}

/* The handshake is done: check who it was with, make the SRTP keys, and start the media. */
static void cv_session_start_media(struct cv_webrtc_session *s)
{
    char fp[CV_DTLS_FINGERPRINT_MAX], want[CV_DTLS_FINGERPRINT_MAX];
    for (unsigned i = 0; i < s->peer_fp_len; i++)
        snprintf(want + 3 * i, sizeof(want) - 3 * i, "%02X%s", s->peer_fp[i],
                 i + 1 < s->peer_fp_len ? ":" : "");
    if (cv_dtls_conn_peer_fingerprint(&s->dtls, fp, sizeof(fp)) < 0 || strcasecmp(fp, want) != 0) {
        cv_webrtc_session_close(s, "the DTLS certificate is not the one the offer named");
        return;
    }
    struct cv_srtp_keys keys;
    int rc = cv_dtls_conn_srtp_keys(&s->dtls, &keys);
    if (rc == 0)
        rc = cv_srtp_init(&s->srtp, &keys);
    explicit_bzero(&keys, sizeof(keys));
    if (rc < 0) {
        cv_webrtc_session_close(s, "no SRTP keys from the handshake");
        return;
    }
    s->state = CV_WEBRTC_PLAYING;
    s->playing_ms = cv_clock_mono_ms();
    cv_feed_viewer_attach(s->feed->feed, &s->view.fv);
    /* The frames since the newest keyframe at once: the browser decodes now, whatever the GOP. */
    struct cv_rtp_catchup plan;
    cv_rtp_fanout_catch_up_plan(&s->feed->rtp, &plan);
    s->view.playing = true;
    cv_rtp_fanout_catch_up_send(&s->feed->rtp, &s->view, &plan);
    if (plan.frames == 0) /* nothing cached: ask for a keyframe rather than wait a GOP */
        cv_feed_request_keyframe(s->feed->feed);
    if (s->atrack.on) { /* the opus variant: live from now (audio needs no keyframe) */
        cv_feed_viewer_attach(s->afeed->feed, &s->aview.fv);
        s->aview.playing = true;
    }
    cv_info("webrtc %s: playing %s to %s over %s (%zu cached frames at once)", s->id, s->camera,
            s->client, s->tcp ? "ICE-TCP" : "UDP", plan.frames);
}

static void cv_session_stun(struct cv_webrtc_srv *srv, const uint8_t *p, size_t n,
                            const struct sockaddr_storage *from, socklen_t fromlen,
                            struct cv_webrtc_tcp *via)
{
    struct cv_stun_msg m;
    struct cv_stun_ufrags u;
    if (cv_stun_parse(p, n, &m) < 0 || m.method != CV_STUN_BINDING || m.cls != CV_STUN_REQUEST ||
        !m.integrity_off || !m.has_fingerprint || !m.fingerprint_ok ||
        cv_stun_split_username(&m, &u) < 0) {
        srv->bad_packets++;
        return; /* never answered: no amplification towards a forged address */
    }
    struct cv_webrtc_session *s = srv->sessions;
    while (s && (s->dead || s->state == CV_WEBRTC_WAIT_FEED || strlen(s->ufrag) != u.local_len ||
                 memcmp(s->ufrag, u.local, u.local_len) != 0))
        s = s->next;
    if (!s || cv_stun_check_integrity(p, n, &m, s->pwd, strlen(s->pwd)) != 0) {
        srv->bad_packets++;
        return;
    }
    int len =
        cv_stun_build_binding_success(srv->out, sizeof(srv->out), &m, from, s->pwd, strlen(s->pwd));
    if (len > 0 && via)
        cv_webrtc_tcp_send(via, srv->out, (size_t)len);
    else if (len > 0)
        sendto(srv->udp, srv->out, (size_t)len, MSG_DONTWAIT, (const struct sockaddr *)from,
               fromlen);
    if (s->dead)
        return;
    s->heard_ms = cv_clock_mono_ms();
    if (via && via->session && via->session != s)
        return; /* a connection carries one session */
    /* The browser (controlling) nominates with USE-CANDIDATE; until then the first path that
     * holds is used, so that DTLS can start as soon as it arrives. */
    bool same = via ? s->tcp == via : !s->tcp && cv_session_same_addr(&s->addr, from);
    if (!s->have_addr || (m.use_candidate && !same)) {
        if (s->tcp && s->tcp != via) {
            s->tcp->session = NULL; /* left for another path: it times out unbound */
            s->tcp = NULL;
        }
        s->addr = *from;
        s->addrlen = fromlen;
        s->have_addr = true;
        if (via) {
            s->tcp = via;
            via->session = s;
        }
    }
    if (s->state == CV_WEBRTC_CHECKING) {
        if (cv_dtls_conn_init(&s->dtls, &srv->dtls, cv_session_dtls_send, s) < 0) {
            cv_webrtc_session_close(s, "out of memory for DTLS");
            return;
        }
        s->state = CV_WEBRTC_DTLS;
    }
}

static void cv_session_dtls(struct cv_webrtc_session *s, const uint8_t *p, size_t n)
{
    if (s->state != CV_WEBRTC_DTLS && s->state != CV_WEBRTC_PLAYING)
        return;
    int rc = cv_dtls_conn_input(&s->dtls, p, n);
    if (rc < 0)
        cv_webrtc_session_close(s, s->state == CV_WEBRTC_PLAYING ? "the browser closed DTLS"
                                                                 : "the DTLS handshake failed");
    else if (rc == 1 && s->await_answer)
        s->dtls_done = true; /* the answer to our offer (its fingerprint) has not come yet */
    else if (rc == 1)
        cv_session_start_media(s);
}

/* A track of ours the client's answer m-line m turned down: it stays off. */
static void cv_session_answered(struct cv_webrtc_track *k, const struct cv_webrtc_sdp_media *m)
{
    bool have_pt = false, have_rtx = false, have_playout = false;
    for (unsigned f = 0; f < m->format_count; f++) {
        have_pt |= m->formats[f].pt == k->pt;
        have_rtx |= k->rtx && m->formats[f].pt == k->rtx_pt;
    }
    for (unsigned x = 0; x < m->extmap_count; x++)
        have_playout |= m->extmaps[x].ext == CV_WEBRTC_SDP_EXT_PLAYOUT_DELAY &&
                        m->extmaps[x].id == k->playout_id;
    if (m->rejected || !have_pt || m->direction == CV_WEBRTC_SDP_SENDONLY ||
        m->direction == CV_WEBRTC_SDP_INACTIVE)
        k->on = false;
    k->rtx = have_rtx;
    if (!have_playout)
        k->playout_id = 0;
}

/*
 * The client's answer to our offer: each m-line keeps what it accepted (our payload type, RTX,
 * playout-delay), its certificate's fingerprint is taken, and we must stay the DTLS server. Then
 * media starts as soon as the handshake is (or was) done.
 */
static void cv_session_client_answer(struct cv_webrtc_srv *srv, const struct cv_msg_webrtc_offer *o)
{
    struct cv_webrtc_session *s = srv->sessions;
    while (s && (s->dead || !s->await_answer || strcmp(s->id, o->session) != 0))
        s = s->next;
    if (!s) {
        cv_session_answer_error(srv, o->req_id, -ENOENT, "no offer of ours waits for this answer");
        return;
    }
    struct cv_webrtc_sdp_offer *a = calloc(1, sizeof(*a));
    const char *bad = NULL;
    if (!a)
        bad = "out of memory";
    else if (cv_webrtc_sdp_parse(o->sdp, strnlen(o->sdp, sizeof(o->sdp)), a) < 0)
        bad = "the answer is not SDP we can read";
    else if (a->media_count != s->sent_media)
        bad = "the answer's m-lines are not our offer's";
    else if (!cv_session_take_fingerprint(a, s))
        bad = "the answer has no sha-256 certificate fingerprint";
    else if (a->transport.setup == CV_WEBRTC_SDP_SETUP_PASSIVE ||
             a->media[0].transport.setup == CV_WEBRTC_SDP_SETUP_PASSIVE)
        bad = "the answer wants us to be the DTLS client (setup:passive): we are the server";
    unsigned on = 0;
    for (unsigned i = 0; !bad && i < a->media_count; i++) {
        struct cv_webrtc_track *k = s->mline[i] == CV_WEBRTC_MLINE_AUDIO ? &s->atrack
                                    : s->mline[i] >= 0                   ? &s->tracks[s->mline[i]]
                                                                         : NULL;
        if (!k)
            continue;
        cv_session_answered(k, &a->media[i]);
        on += k->on;
    }
    if (!bad && on == 0)
        bad = "the answer accepts none of the media we offered";
    free(a);
    if (bad) {
        cv_warn("webrtc %s: %s", s->id, bad);
        cv_session_answer_error(srv, o->req_id, -EINVAL, bad);
        cv_webrtc_session_close(s, "a bad answer to our offer");
        return;
    }
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (m) {
        m->type = CV_MSG_WEBRTC_ANSWER;
        m->u.webrtc_answer.req_id = o->req_id;
        m->u.webrtc_answer.flags = CV_WEBRTC_CLIENT_ANSWER;
        snprintf(m->u.webrtc_answer.session, sizeof(m->u.webrtc_answer.session), "%s", s->id);
        cv_consumer_peer_send(&srv->proc, CV_ROLE_HTTP, m);
        free(m);
    }
    s->await_answer = false;
    cv_info("webrtc %s: the client answered our offer (%u media)", s->id, on);
    if (s->dtls_done)
        cv_session_start_media(s);
}

static void cv_session_rtcp(struct cv_webrtc_session *s, uint8_t *p, size_t n)
{
    if (s->state != CV_WEBRTC_PLAYING || cv_srtp_unprotect_rtcp(&s->srtp, p, &n) < 0) {
        s->srv->bad_packets++;
        return;
    }
    struct cv_rtcp_info info;
    cv_rtcp_parse(p, n, &info); /* what parsed before an error still counts */
    s->heard_ms = cv_clock_mono_ms();
    for (unsigned i = 0; i < info.rr_count; i++) {
        s->fraction_lost = info.rr[i].fraction_lost;
        s->lost = info.rr[i].cumulative_lost;
        s->jitter = info.rr[i].jitter;
    }
    s->nacks += info.nack_count;
    for (unsigned i = 0; i < info.nack_count; i++)
        cv_session_retransmit(s, &info.nack[i]);
    if (info.wants_keyframe) {
        s->keyframe_requests++;
        cv_feed_request_keyframe(s->feed->feed); /* at most one a second per feed */
    }
    if (info.bye)
        cv_webrtc_session_close(s, "the browser said BYE");
}

void cv_webrtc_input(struct cv_webrtc_srv *srv, const uint8_t *p, size_t n,
                     const struct sockaddr_storage *from, socklen_t fromlen,
                     struct cv_webrtc_tcp *via)
{
    if (n == 0)
        return;
    uint8_t b = p[0];
    if (b <= 3) { /* RFC 7983: STUN */
        if (!via && cv_webrtc_srflx_input(srv, p, n, from))
            return;
        cv_session_stun(srv, p, n, from, fromlen, via);
        return;
    }
    struct cv_webrtc_session *s = via ? via->session : cv_session_by_addr(srv, from);
    if (!s) {
        srv->bad_packets++; /* from nobody we checked: dropped, never answered */
        return;
    }
    if (b >= 20 && b <= 63)
        cv_session_dtls(s, p, n);
    else if (b >= 128 && b <= 191 && n >= 8 && p[1] >= 192 && p[1] <= 223)
        cv_session_rtcp(s, (uint8_t *)p, n);
    /* RTP from the browser (it sends none: recvonly) and anything else: dropped */
}

/* ---- time ----------------------------------------------------------------------------------- */

/* Every session's figures to camvisor-http (/api/streams, /metrics), each second while there are
 * any, and once more when the last one goes. */
static void cv_webrtc_send_stats(struct cv_webrtc_srv *srv)
{
    if (!srv->session_count && !srv->stats_nonzero)
        return;
    struct cv_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return;
    m->type = CV_MSG_WEBRTC_STATS;
    struct cv_msg_webrtc_stats *w = &m->u.webrtc_stats;
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next) {
        if (s->dead)
            continue;
        w->total++;
        if (w->count >= CV_PROTO_MAX_WEBRTC_STATS)
            continue;
        struct cv_msg_webrtc_session *o = &w->sessions[w->count++];
        snprintf(o->session, sizeof(o->session), "%s", s->id);
        snprintf(o->camera, sizeof(o->camera), "%s", s->camera);
        snprintf(o->kind, sizeof(o->kind), "%s", s->kind);
        snprintf(o->client, sizeof(o->client), "%s", s->client);
        o->state = (uint32_t)s->state;
        o->packets = s->packets;
        o->bytes = s->bytes;
        o->lost = s->lost;
        o->jitter = s->jitter;
        o->nacks = s->nacks;
        o->retransmits = s->retransmits;
        o->keyframe_requests = s->keyframe_requests;
    }
    srv->stats_nonzero = w->total > 0;
    cv_consumer_peer_send(&srv->proc, CV_ROLE_HTTP, m);
    free(m);
}

void cv_webrtc_tick(struct cv_webrtc_srv *srv, uint64_t now_ms)
{
    if (now_ms - srv->stats_ms >= 1000) {
        srv->stats_ms = now_ms;
        cv_webrtc_send_stats(srv);
    }
    for (struct cv_webrtc_session *s = srv->sessions; s; s = s->next) {
        if (s->dead)
            continue;
        if (s->prev_feed) {
            cv_webrtc_feed_put(s->prev_feed);
            s->prev_feed = NULL;
        }
        if (s->state == CV_WEBRTC_WAIT_FEED && now_ms - s->created_ms > CV_WEBRTC_FEED_WAIT_MS)
            cv_webrtc_session_close(s, "the camera sent no picture in time");
        else if (s->state != CV_WEBRTC_PLAYING && now_ms - s->created_ms > CV_WEBRTC_CONNECT_MS)
            cv_webrtc_session_close(s, "ICE and DTLS did not complete in time");
        else if (s->state == CV_WEBRTC_PLAYING && now_ms - s->heard_ms > CV_WEBRTC_CONSENT_MS)
            cv_webrtc_session_close(s, "the browser went silent (no ICE consent)");
        if (s->dead)
            continue;
        if (s->state == CV_WEBRTC_DTLS)
            cv_dtls_conn_timer(&s->dtls);
        if (s->state == CV_WEBRTC_PLAYING && now_ms - s->last_sr_ms >= CV_WEBRTC_SR_MS) {
            s->last_sr_ms = now_ms;
            cv_session_send_sr(s);
        }
    }
}
