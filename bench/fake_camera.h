/*
 * The fake RTSP camera of the latency benchmarks (rtsp_latency.c, webrtc_latency.c), so that both
 * send camvisor the same stream in the same way and their figures compare: a clip's H.264 track
 * as RTP over TCP (interleaved), paced at the clip's frame rate, looped, an SEI holding the
 * frame's index in front of each access unit.
 *
 * A header of static functions, not a .c file: each bench/NAME.c is a program of its own
 * (Makefile), so code two of them share has nowhere else to go. The includer defines die(),
 * declared below, which prints its message and exits with status 2.
 */
#ifndef CV_BENCH_FAKE_CAMERA_H
#define CV_BENCH_FAKE_CAMERA_H

#include <arpa/inet.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavutil/base64.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/media/nal.h"
#include "common/net/rtp.h"
#include "common/net/rtsp-msg.h"

#define SEI_LEN  (3 + 16 + 8 + 1)
#define MAX_PKTS 4096
#define BUF_SIZE (1 << 20)

static void die(const char *what);

static const uint8_t sei_uuid[16] = {'c', 'a', 'm', 'v', 'i', 's', 'o', 'r',
                                     '-', 'l', 'a', 't', 'e', 'n', 'c', 'y'};

struct au {
    uint8_t *data; /* length-prefixed NAL units, SEI slot first */
    size_t len;
    bool key;
};

struct fake_camera {
    /* the clip */
    struct au *aus;
    size_t n_aus;
    int fps;
    uint8_t params[CV_MAX_EXTRADATA]; /* SPS, PPS length-prefixed */
    size_t params_len;
    char sprop[1024];
    /* the worker's connection, once it played */
    int ls, fd;
    uint8_t *buf;
    struct cv_rtp_packer packer;
    uint8_t *arena;
    size_t arena_size;
    struct cv_rtp_pkt *pkts;
    struct iovec *iov;
    uint64_t t0, period;
};

/* ---- clip ---------------------------------------------------------------------------------- */

static void fake_camera_load_clip(struct fake_camera *c, const char *path)
{
    AVFormatContext *fmt = NULL;
    if (avformat_open_input(&fmt, path, NULL, NULL) < 0 || avformat_find_stream_info(fmt, NULL) < 0)
        die("cannot open the clip");
    int vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vs < 0 || fmt->streams[vs]->codecpar->codec_id != AV_CODEC_ID_H264)
        die("the clip needs an H.264 track");
    AVStream *st = fmt->streams[vs];
    int len_size = 4;
    int n = cv_nal_from_mp4_config(CV_CODEC_H264, st->codecpar->extradata,
                                   (size_t)st->codecpar->extradata_size, c->params,
                                   sizeof(c->params), &len_size);
    if (n <= 0)
        die("the clip has no avcC parameter sets");
    c->params_len = (size_t)n;
    c->fps = st->avg_frame_rate.den ? (int)(av_q2d(st->avg_frame_rate) + 0.5) : 25;
    /* sprop-parameter-sets: base64 of each NAL unit, comma separated */
    size_t off = 0, nlen;
    const uint8_t *nal;
    while (cv_nal_next(c->params, c->params_len, &off, &nal, &nlen)) {
        size_t used = strlen(c->sprop);
        if (used)
            c->sprop[used++] = ',';
        av_base64_encode(c->sprop + used, (int)(sizeof(c->sprop) - used), nal, (int)nlen);
    }
    AVPacket *pkt = av_packet_alloc();
    size_t cap = 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vs) {
            if (c->n_aus == cap) {
                cap = cap ? cap * 2 : 256;
                c->aus = realloc(c->aus, cap * sizeof(*c->aus));
            }
            bool key = pkt->flags & AV_PKT_FLAG_KEY;
            size_t need = SEI_LEN + 4 + (key ? c->params_len : 0) + (size_t)pkt->size + 64 * 4;
            struct au *a = &c->aus[c->n_aus];
            a->data = malloc(need);
            a->key = key;
            /* [SEI][SPS PPS on keyframes][the frame]: a camera's layout */
            size_t w = 4 + SEI_LEN;
            if (key) {
                memcpy(a->data + w, c->params, c->params_len);
                w += c->params_len;
            }
            int m = cv_nal_resize_lp(pkt->data, (size_t)pkt->size, len_size, a->data + w, need - w);
            if (m <= 0)
                die("bad packet in the clip");
            a->len = w + (size_t)m;
            c->n_aus++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (!c->n_aus || !c->aus[0].key)
        die("the clip must start with a keyframe");
}

static void fake_camera_free_clip(struct fake_camera *c)
{
    for (size_t i = 0; i < c->n_aus; i++)
        free(c->aus[i].data);
    free(c->aus);
}

static void write_sei(uint8_t *p, int index)
{
    p[0] = 0;
    p[1] = 0;
    p[2] = 0;
    p[3] = SEI_LEN;
    p[4] = 0x06;   /* SEI */
    p[5] = 5;      /* user data unregistered */
    p[6] = 16 + 8; /* payload size */
    memcpy(p + 7, sei_uuid, 16);
    snprintf((char *)p + 23, 9, "%08x", (unsigned)index);
    p[31] = 0x80; /* rbsp trailing bits */
}

/* ---- RTSP helpers (rtsp_latency.c's viewer reads with them too) ---------------------------- */

/* Reads until one RTSP message is complete at the start of buf; '$' frames before it are dropped.
 */
static int read_msg(int fd, uint8_t *buf, size_t *have, struct cv_rtsp_msg *m, size_t *used)
{
    for (;;) {
        while (*have >= 4 && buf[0] == '$') {
            size_t n = 4 + ((size_t)buf[2] << 8 | buf[3]);
            if (*have < n)
                break;
            memmove(buf, buf + n, *have - n);
            *have -= n;
        }
        if (*have && buf[0] != '$') {
            int rc = cv_rtsp_msg_parse(buf, *have, m, used);
            if (rc == 0)
                return 0;
            if (rc != -EAGAIN)
                return rc;
        }
        ssize_t r = recv(fd, buf + *have, BUF_SIZE - *have, 0);
        if (r <= 0)
            return -EPIPE;
        *have += (size_t)r;
    }
}

static void consume(uint8_t *buf, size_t *have, size_t used)
{
    memmove(buf, buf + used, *have - used);
    *have -= used;
}

static void reply(int fd, const struct cv_rtsp_msg *m, const char *extra, const char *body)
{
    char out[4096];
    int n = snprintf(out, sizeof(out), "RTSP/1.0 200 OK\r\nCSeq: %u\r\n%s", m->cseq, extra);
    if (body)
        n += snprintf(out + n, sizeof(out) - (size_t)n,
                      "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
                      strlen(body), body);
    else
        n += snprintf(out + n, sizeof(out) - (size_t)n, "\r\n");
    if (write(fd, out, (size_t)n) != n)
        die("camera: write failed");
}

/* ---- camera -------------------------------------------------------------------------------- */

static void writev_all(int fd, struct iovec *iov, size_t count)
{
    size_t k = 0;
    while (k < count) {
        size_t batch = count - k > 1024 ? 1024 : count - k;
        ssize_t w = writev(fd, iov + k, (int)batch);
        if (w < 0)
            die("camera: the worker went away");
        /* a short write: finish the partial iovec, then go on */
        while (w > 0 && k < count) {
            if ((size_t)w >= iov[k].iov_len) {
                w -= (ssize_t)iov[k].iov_len;
                k++;
            } else {
                iov[k].iov_base = (uint8_t *)iov[k].iov_base + w;
                iov[k].iov_len -= (size_t)w;
                w = 0;
            }
        }
    }
}

/* Listens on 127.0.0.1:port, takes the worker's connection and answers it up to PLAY. Frame 0 is
 * due when it returns. */
static void fake_camera_play(struct fake_camera *c, int port)
{
    int one = 1;
    c->ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(c->ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->ls, 4) < 0)
        die("camera: cannot listen");
    fprintf(stderr, "camera: listening on 127.0.0.1:%d\n", port);
    int fd = c->fd = accept(c->ls, NULL, NULL);
    if (fd < 0)
        die("camera: accept failed");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t *buf = c->buf = malloc(BUF_SIZE);
    size_t have = 0, used;
    static struct cv_rtsp_msg m;
    char sdp[2048];
    snprintf(sdp, sizeof(sdp),
             "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=latency\r\nt=0 0\r\na=control:*\r\n"
             "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
             "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=%s\r\na=control:track0\r\n",
             c->sprop);
    for (bool playing = false; !playing;) {
        if (read_msg(fd, buf, &have, &m, &used) < 0)
            die("camera: the worker went away during set-up");
        switch (m.method) {
        case CV_RTSP_OPTIONS:
            reply(fd, &m, "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n", NULL);
            break;
        case CV_RTSP_DESCRIBE: {
            char base[256];
            snprintf(base, sizeof(base), "Content-Base: rtsp://127.0.0.1:%d/cam/\r\n", port);
            reply(fd, &m, base, sdp);
            break;
        }
        case CV_RTSP_SETUP:
            reply(fd, &m,
                  "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 1;timeout=60\r\n",
                  NULL);
            break;
        case CV_RTSP_PLAY:
            reply(fd, &m, "Session: 1\r\n", NULL);
            playing = true;
            break;
        default: reply(fd, &m, "", NULL); break;
        }
        consume(buf, &have, used);
    }

    cv_rtp_packer_init(&c->packer, CV_CODEC_H264, 96, 1400, CV_RTP_INTERLEAVED_HEADROOM);
    c->arena_size = 8u << 20;
    c->arena = malloc(c->arena_size);
    c->pkts = malloc(MAX_PKTS * sizeof(*c->pkts));
    c->iov = malloc(MAX_PKTS * sizeof(*c->iov));
    c->period = 1000000000ull / (uint64_t)c->fps;
    c->t0 = cv_clock_mono_ns();
}

/* Frame i's pts, in the RTP clock: the packetiser adds its random offset to it. */
static int64_t fake_camera_pts(const struct fake_camera *c, int i)
{
    return (int64_t)i * 90000 / c->fps;
}

/*
 * Sends frame i (the clip's access unit i mod its length, SEI index i) when it is due. Returns
 * t_in: the time just before the write of its marker packet, everything else of it written, so
 * that t_in is taken before the worker can possibly have the frame. *key: a keyframe.
 */
static uint64_t fake_camera_send(struct fake_camera *c, int i, bool *key)
{
    uint64_t due = c->t0 + (uint64_t)i * c->period;
    struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
    /* RTCP and keep-alives from the worker: read and dropped */
    while (recv(c->fd, c->buf, BUF_SIZE, MSG_DONTWAIT) > 0)
        ;
    struct au *a = &c->aus[(size_t)i % c->n_aus];
    write_sei(a->data, i);
    struct cv_rtp_out out = {
        .arena = c->arena, .arena_size = c->arena_size, .pkts = c->pkts, .max_pkts = MAX_PKTS};
    if (cv_rtp_packetize(&c->packer, a->data, a->len, fake_camera_pts(c, i), 0, &out) < 0)
        die("camera: cannot packetise");
    for (size_t k = 0; k < out.count; k++) {
        c->iov[k].iov_base = c->arena + c->pkts[k].offset - 4;
        c->iov[k].iov_len = c->pkts[k].len + 4;
    }
    writev_all(c->fd, c->iov, out.count - 1);
    *key = a->key;
    uint64_t t_in = cv_clock_mono_ns();
    writev_all(c->fd, c->iov + out.count - 1, 1);
    return t_in;
}

/*
 * Sends frames 0 .. n-1, each when due; the viewer thread starts just before frame viewer_at (the
 * warm-up behind it). sent(i, t_in, key) follows each frame; it returns false to stop early. Then
 * sets *done, for the viewer to end, and joins it.
 */
static void fake_camera_run(struct fake_camera *c, int n, int viewer_at, void *(*viewer)(void *),
                            bool (*sent)(int i, uint64_t t_in, bool key), _Atomic int *done)
{
    pthread_t th;
    bool started = false;
    for (int i = 0; i < n; i++) {
        if (i == viewer_at) {
            pthread_create(&th, NULL, viewer, NULL);
            started = true;
        }
        bool key;
        uint64_t t_in = fake_camera_send(c, i, &key);
        if (!sent(i, t_in, key))
            break;
    }
    atomic_store(done, 1);
    if (started)
        pthread_join(th, NULL);
}

static void fake_camera_close(struct fake_camera *c)
{
    close(c->fd);
    close(c->ls);
    free(c->buf);
    free(c->arena);
    free(c->pkts);
    free(c->iov);
}

#endif
