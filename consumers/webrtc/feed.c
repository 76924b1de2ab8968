/*
 * camvisor-webrtc's side of a feed (common/consumer/feed.h): one camera's RTP fan-out, packetised
 * once in packets small enough for SRTP under CV_WEBRTC_MTU, offered to every playing session
 * (session.c protects and sends them), and the offers that wait for the camera's parameters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "consumers/webrtc/webrtc.h"

/* Offers waiting for this feed: answered once its parameters are in, refused if it fails. */
static void cv_feed_wake_waiting(struct cv_webrtc_feed *f)
{
    for (struct cv_webrtc_session *s = f->srv->sessions; s; s = s->next)
        if ((s->feed == f || s->afeed == f) && s->state == CV_WEBRTC_WAIT_FEED && !s->dead)
            cv_webrtc_session_feed_ready(s);
}

static void cv_feed_on_subscribed(struct cv_feed *feed, int status, const char *reason)
{
    struct cv_webrtc_feed *f = cv_feed_ctx(feed);
    if (status < 0) {
        /* Refused, or lost for good: its sessions end (the page's player reconnects); where
         * it is a session's audio variant, that session goes on without audio. */
        for (struct cv_webrtc_session *s = f->srv->sessions; s; s = s->next)
            if (s->afeed == f && !s->dead)
                cv_webrtc_session_audio_refused(s, reason && reason[0] ? reason
                                                                       : "camera unavailable");
        for (struct cv_webrtc_session *s = f->srv->sessions; s; s = s->next)
            if (s->feed == f && !s->dead)
                cv_webrtc_session_refuse(s, status == -ENOENT ? -ENOTSUP : status,
                                         reason && reason[0] ? reason : "camera unavailable");
        return;
    }
    cv_feed_wake_waiting(f);
}

static void cv_feed_on_params(struct cv_feed *feed, const struct cv_stream_info *prev,
                              const struct cv_stream_info *info)
{
    struct cv_webrtc_feed *f = cv_feed_ctx(feed);
    cv_rtp_fanout_params(&f->rtp, prev, info);
    cv_feed_wake_waiting(f);
}

static void cv_feed_on_discontinuity(struct cv_feed *feed, enum cv_feed_discont why)
{
    struct cv_webrtc_feed *f = cv_feed_ctx(feed);
    /* A worker restart continues the same PeerConnection: timestamps rebased, the next
     * keyframe resumes the picture (no renegotiation). */
    cv_rtp_fanout_discontinuity(&f->rtp, why);
}

static void cv_feed_on_frame(struct cv_feed *feed, const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_webrtc_feed *f = cv_feed_ctx(feed);
    cv_rtp_fanout_frame(&f->rtp, fr, data);
}

static const struct cv_feed_ops cv_webrtc_feed_ops = {
    .on_subscribed = cv_feed_on_subscribed,
    .on_params = cv_feed_on_params,
    .on_discontinuity = cv_feed_on_discontinuity,
    .on_frame = cv_feed_on_frame,
};

/* Every live packet, kept by sequence number for a NACK: the browser lost it, we send it again
 * (RFC 4585; on its own SSRC, no RTX stream). */
static void cv_webrtc_feed_keep(struct cv_rtp_fanout *fo, int track, const uint8_t *arena,
                                const struct cv_rtp_pkt *pkts, size_t count)
{
    struct cv_webrtc_feed *f = fo->ctx;
    for (size_t i = 0; i < count && f->hist; i++) {
        if (pkts[i].len < 12 || pkts[i].len > CV_WEBRTC_RTP_MTU)
            continue;
        const uint8_t *p = arena + pkts[i].offset;
        uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
        struct cv_webrtc_hist *h = &f->hist[seq % CV_WEBRTC_HISTORY];
        h->used = true;
        h->track = (uint8_t)track;
        h->seq = seq;
        h->len = (uint16_t)pkts[i].len;
        memcpy(h->data, p, pkts[i].len);
    }
}

const struct cv_webrtc_hist *cv_webrtc_feed_history(const struct cv_webrtc_feed *f, int t,
                                                    uint16_t seq)
{
    const struct cv_webrtc_hist *h = f->hist ? &f->hist[seq % CV_WEBRTC_HISTORY] : NULL;
    return h && h->used && h->seq == seq && h->track == t ? h : NULL;
}

static const struct cv_rtp_fanout_ops cv_webrtc_fanout_ops = {.send = cv_webrtc_session_send,
                                                              .packets = cv_webrtc_feed_keep};
static const struct cv_rtp_fanout_ops cv_webrtc_audio_fanout_ops = {
    .send = cv_webrtc_session_send_audio, .packets = cv_webrtc_feed_keep};

static void cv_webrtc_feed_free(struct cv_webrtc_feed *f)
{
    for (struct cv_webrtc_feed **pp = &f->srv->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->feed)
        cv_feed_close(f->feed);
    cv_rtp_fanout_fini(&f->rtp);
    free(f->hist);
    free(f);
}

struct cv_webrtc_feed *cv_webrtc_feed_get(struct cv_webrtc_srv *srv, const char *camera,
                                          const char *variant, bool joined_audio)
{
    struct cv_feed *have = cv_feed_find(&srv->proc.feeds, camera, variant, &cv_webrtc_feed_ops);
    if (have) {
        struct cv_webrtc_feed *f = cv_feed_ctx(have);
        f->refs++;
        return f;
    }
    struct cv_webrtc_feed *f = calloc(1, sizeof(*f));
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    f->srv = srv;
    f->refs = 1;
    snprintf(f->camera, sizeof(f->camera), "%s", camera);
    f->next = srv->feeds;
    srv->feeds = f;
    errno = ENOMEM;
    f->hist = calloc(CV_WEBRTC_HISTORY, sizeof(*f->hist));
    if (f->hist && cv_rtp_fanout_init(&f->rtp, camera, CV_WEBRTC_RTP_MTU,
                                      joined_audio ? &cv_webrtc_audio_fanout_ops
                                                   : &cv_webrtc_fanout_ops) == 0) {
        f->rtp.ctx = f;
        f->rtp.in_band_params = true; /* browsers read no sprop-parameter-sets */
        f->rtp.g711_20ms = true;
        f->feed = cv_feed_open(&srv->proc.feeds, camera, variant, &cv_webrtc_feed_ops, f);
    }
    if (!f->feed) {
        int err = errno;
        cv_webrtc_feed_free(f);
        errno = err; /* EMFILE: out of descriptors */
        return NULL;
    }
    cv_rtp_fanout_set_feed(&f->rtp, f->feed);
    return f;
}

void cv_webrtc_feed_put(struct cv_webrtc_feed *f)
{
    if (--f->refs == 0)
        cv_webrtc_feed_free(f);
}
