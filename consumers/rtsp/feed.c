/*
 * camvisor-rtsp's side of a feed (common/consumer/feed.h): one camera's RTP fan-out
 * (common/consumer/rtp-fanout.h), whose packets go to each playing session over TCP or UDP
 * (conn.c), and the DESCRIBEs that wait for the camera's parameters.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base/log.h"
#include "common/net/sdp.h"
#include "consumers/rtsp/rtsp.h"

static struct cv_rtsp_conn *cv_feed_conn(struct cv_feed_viewer *fv)
{
    return (struct cv_rtsp_conn *)((char *)fv - offsetof(struct cv_rtsp_conn, view.fv));
}

/* A DESCRIBE may be waiting for the subscription or the first parameters: answer it now. */
static void cv_feed_answer_describes(struct cv_rtsp_feed *f)
{
    for (struct cv_feed_viewer *v = cv_feed_viewers(f->feed), *next; v; v = next) {
        next = v->next;
        struct cv_rtsp_conn *c = cv_feed_conn(v);
        if (c->describe_pending)
            cv_rtsp_conn_feed_ready(c);
    }
}

static void cv_feed_on_subscribed(struct cv_feed *feed, int status, const char *reason)
{
    cv_feed_answer_describes(cv_feed_ctx(feed));
    if (status >= 0)
        return;
    /* A feed that fails once granted (its ring lost to the descriptor limit again and again,
     * common/consumer/feed.h): its sessions end, and their clients reconnect, rather than freeze
     * on a ring nobody writes. Closing defers the unlinking: the list stays walkable. */
    for (struct cv_feed_viewer *v = cv_feed_viewers(feed); v; v = v->next) {
        struct cv_rtsp_conn *c = cv_feed_conn(v);
        if (!c->describe_pending)
            cv_rtsp_conn_close(c, reason);
    }
}

static void cv_feed_on_params(struct cv_feed *feed, const struct cv_stream_info *prev,
                              const struct cv_stream_info *info)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    cv_rtp_fanout_params(&f->rtp, prev, info);
    cv_feed_answer_describes(f);
}

static void cv_feed_on_discontinuity(struct cv_feed *feed, enum cv_feed_discont why)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    cv_rtp_fanout_discontinuity(&f->rtp, why);
}

static void cv_feed_on_frame(struct cv_feed *feed, const struct cv_frame *fr, const uint8_t *data)
{
    struct cv_rtsp_feed *f = cv_feed_ctx(feed);
    cv_rtp_fanout_frame(&f->rtp, fr, data);
}

static const struct cv_feed_ops cv_rtsp_feed_ops = {
    .on_subscribed = cv_feed_on_subscribed,
    .on_params = cv_feed_on_params,
    .on_discontinuity = cv_feed_on_discontinuity,
    .on_frame = cv_feed_on_frame,
};

static int cv_feed_send(struct cv_rtp_viewer *v, int track, const uint8_t *arena,
                        const struct cv_rtp_pkt *pkts, size_t count)
{
    return cv_rtsp_conn_send_rtp(cv_feed_conn(&v->fv), track, arena, pkts, count);
}

static const struct cv_rtp_fanout_ops cv_rtsp_fanout_ops = {.send = cv_feed_send};

static void cv_rtsp_feed_free(struct cv_rtsp_feed *f)
{
    struct cv_rtsp_srv *srv = f->srv;
    for (struct cv_rtsp_feed **pp = &srv->feeds; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->feed)
        cv_feed_close(f->feed);
    cv_rtp_fanout_fini(&f->rtp);
    free(f);
}

struct cv_rtsp_feed *cv_rtsp_feed_get(struct cv_rtsp_srv *srv, const char *camera,
                                      const char *variant)
{
    struct cv_feed *have = cv_feed_find(&srv->proc.feeds, camera, variant, &cv_rtsp_feed_ops);
    if (have) {
        struct cv_rtsp_feed *f = cv_feed_ctx(have);
        f->refs++;
        return f;
    }
    struct cv_rtsp_feed *f = calloc(1, sizeof(*f));
    if (!f)
        return NULL;
    f->srv = srv;
    f->refs = 1;
    snprintf(f->camera, sizeof(f->camera), "%s", camera);
    snprintf(f->variant, sizeof(f->variant), "%s", variant);
    f->next = srv->feeds;
    srv->feeds = f;
    errno = ENOMEM;
    if (cv_rtp_fanout_init(&f->rtp, camera, 0, &cv_rtsp_fanout_ops) == 0)
        f->feed = cv_feed_open(&srv->proc.feeds, camera, variant, &cv_rtsp_feed_ops, f);
    if (!f->feed) {
        int err = errno;
        cv_rtsp_feed_free(f);
        errno = err; /* EMFILE: out of descriptors */
        return NULL;
    }
    f->info = cv_feed_info(f->feed);
    cv_rtp_fanout_set_feed(&f->rtp, f->feed);
    return f;
}

void cv_rtsp_feed_put(struct cv_rtsp_feed *f)
{
    if (--f->refs == 0)
        cv_rtsp_feed_free(f);
}

void cv_rtsp_feed_drop_all(struct cv_rtsp_srv *srv, const char *camera)
{
    for (struct cv_rtsp_feed *f = srv->feeds; f; f = f->next) {
        if (strcmp(f->camera, camera) != 0)
            continue;
        for (struct cv_feed_viewer *v = cv_feed_viewers(f->feed), *next; v; v = next) {
            next = v->next;
            cv_rtsp_conn_close(cv_feed_conn(v), "camera removed");
        }
    }
}
