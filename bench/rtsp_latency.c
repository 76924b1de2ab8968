/*
 * Added latency of camvisor's camera path: camera packet in -> viewer packet out.
 *
 *     build/bench/rtsp_latency -c clip.mp4 -p CAMERA_PORT [-n frames] [-w warmup-s] VIEWER_URL
 *
 * One process plays both ends, so both timestamps come from one CLOCK_MONOTONIC:
 *  1. the camera: listens on 127.0.0.1:CAMERA_PORT (the camvisor camera's url points there),
 *     answers the worker's OPTIONS/DESCRIBE/SETUP/PLAY and sends the clip's H.264 track as RTP
 *     over TCP (interleaved), paced at the clip's frame rate, looped. In front of each access unit
 *     goes an SEI (user data unregistered) holding the frame's index, which camvisor passes
 *     through untouched. t_in = just before write() hands the AU's last packet (the one with the
 *     marker bit) to the kernel, the rest of the AU already written.
 *  2. the viewer (a second thread, started -w seconds after the camera's PLAY): plays VIEWER_URL,
 *     camvisor's restream of that camera, over TCP. t_out = when recv() returned the packet with
 *     the marker bit of the access unit whose SEI carries that index.
 * Frames sent before the viewer's PLAY answer (the cached GOP it gets at once) are left out. The
 * figure includes the kernel's loopback both ways and this tool's own reads; the worker's
 * depacketiser, ring write, doorbell, camvisor-rtsp's ring read, packetiser and write are what
 * it measures. Prints p50/p90/p99/max and a RESULT line; exit status 1 when frames went missing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavutil/base64.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
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
#include "common/net/sdp.h"

#define SEI_LEN  (3 + 16 + 8 + 1)
#define MAX_PKTS 4096
#define BUF_SIZE (1 << 20)

static const uint8_t sei_uuid[16] = {'c', 'a', 'm', 'v', 'i', 's', 'o', 'r',
                                     '-', 'l', 'a', 't', 'e', 'n', 'c', 'y'};

struct au {
    uint8_t *data; /* length-prefixed NAL units, SEI slot first */
    size_t len;
    bool key;
};

static struct {
    struct au *aus;
    size_t n_aus;
    int fps;
    uint8_t params[CV_MAX_EXTRADATA]; /* SPS, PPS length-prefixed */
    size_t params_len;
    char sprop[1024];

    int frames;        /* to measure */
    int total;         /* sent with a send time: warm-up + frames */
    uint64_t *send_ns; /* per frame index */
    bool *key;         /* per frame index: a keyframe (~20x larger than the others) */
    _Atomic uint64_t *recv_ns;
    _Atomic uint64_t play_ns; /* viewer's PLAY answer */
    _Atomic int sent;         /* frames sent so far */
    _Atomic int done;
    const char *viewer_url;
} g;

static void die(const char *what)
{
    fprintf(stderr, "rtsp_latency: %s\n", what);
    exit(2);
}

/* ---- clip ---------------------------------------------------------------------------------- */

static void load_clip(const char *path)
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
                                   (size_t)st->codecpar->extradata_size, g.params, sizeof(g.params),
                                   &len_size);
    if (n <= 0)
        die("the clip has no avcC parameter sets");
    g.params_len = (size_t)n;
    g.fps = st->avg_frame_rate.den ? (int)(av_q2d(st->avg_frame_rate) + 0.5) : 25;
    /* sprop-parameter-sets: base64 of each NAL unit, comma separated */
    size_t off = 0, nlen;
    const uint8_t *nal;
    while (cv_nal_next(g.params, g.params_len, &off, &nal, &nlen)) {
        size_t used = strlen(g.sprop);
        if (used)
            g.sprop[used++] = ',';
        av_base64_encode(g.sprop + used, (int)(sizeof(g.sprop) - used), nal, (int)nlen);
    }
    AVPacket *pkt = av_packet_alloc();
    size_t cap = 0;
    while (av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vs) {
            if (g.n_aus == cap) {
                cap = cap ? cap * 2 : 256;
                g.aus = realloc(g.aus, cap * sizeof(*g.aus));
            }
            bool key = pkt->flags & AV_PKT_FLAG_KEY;
            size_t need = SEI_LEN + 4 + (key ? g.params_len : 0) + (size_t)pkt->size + 64 * 4;
            struct au *a = &g.aus[g.n_aus];
            a->data = malloc(need);
            a->key = key;
            /* [SEI][SPS PPS on keyframes][the frame]: a camera's layout */
            size_t w = 4 + SEI_LEN;
            if (key) {
                memcpy(a->data + w, g.params, g.params_len);
                w += g.params_len;
            }
            int m = cv_nal_resize_lp(pkt->data, (size_t)pkt->size, len_size, a->data + w, need - w);
            if (m <= 0)
                die("bad packet in the clip");
            a->len = w + (size_t)m;
            g.n_aus++;
        }
        av_packet_unref(pkt);
    }
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (!g.n_aus || !g.aus[0].key)
        die("the clip must start with a keyframe");
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

/* ---- RTSP helpers -------------------------------------------------------------------------- */

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

static void *viewer_main(void *arg);

static void camera(int port, int warmup)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 4) < 0)
        die("camera: cannot listen");
    fprintf(stderr, "camera: listening on 127.0.0.1:%d\n", port);
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
        die("camera: accept failed");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t *buf = malloc(BUF_SIZE);
    size_t have = 0, used;
    static struct cv_rtsp_msg m;
    char sdp[2048];
    snprintf(sdp, sizeof(sdp),
             "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=latency\r\nt=0 0\r\na=control:*\r\n"
             "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
             "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=%s\r\na=control:track0\r\n",
             g.sprop);
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

    struct cv_rtp_packer p;
    cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 1400, CV_RTP_INTERLEAVED_HEADROOM);
    size_t arena_size = 8u << 20;
    uint8_t *arena = malloc(arena_size);
    struct cv_rtp_pkt *pkts = malloc(MAX_PKTS * sizeof(*pkts));
    struct iovec *iov = malloc(MAX_PKTS * sizeof(*iov));
    int total = g.total;
    uint64_t period = 1000000000ull / (uint64_t)g.fps, t0 = cv_clock_mono_ns();
    pthread_t viewer;
    bool viewer_started = false;
    for (int i = 0; i < total + g.fps; i++) {
        if (i == warmup * g.fps) {
            pthread_create(&viewer, NULL, viewer_main, NULL);
            viewer_started = true;
        }
        uint64_t due = t0 + (uint64_t)i * period;
        struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        /* RTCP and keep-alives from the worker: read and dropped */
        while (recv(fd, buf, BUF_SIZE, MSG_DONTWAIT) > 0)
            ;
        struct au *a = &g.aus[(size_t)i % g.n_aus];
        write_sei(a->data, i);
        struct cv_rtp_out out = {
            .arena = arena, .arena_size = arena_size, .pkts = pkts, .max_pkts = MAX_PKTS};
        if (cv_rtp_packetize(&p, a->data, a->len, (int64_t)i * 90000 / g.fps, 0, &out) < 0)
            die("camera: cannot packetise");
        for (size_t k = 0; k < out.count; k++) {
            iov[k].iov_base = arena + pkts[k].offset - 4;
            iov[k].iov_len = pkts[k].len + 4;
        }
        /* Everything but the marker packet, then t_in, then the marker packet: t_in is taken
         * before the worker can possibly have it. */
        writev_all(fd, iov, out.count - 1);
        if (i < total) {
            g.key[i] = a->key;
            g.send_ns[i] = cv_clock_mono_ns();
        }
        writev_all(fd, iov + out.count - 1, 1);
        atomic_store(&g.sent, i + 1);
    }
    atomic_store(&g.done, 1);
    if (viewer_started)
        pthread_join(viewer, NULL);
    close(fd);
    close(ls);
    free(buf);
    free(arena);
    free(pkts);
    free(iov);
}

/* ---- viewer -------------------------------------------------------------------------------- */

static void *viewer_main(void *arg)
{
    (void)arg;
    char host[64];
    int port;
    if (sscanf(g.viewer_url, "rtsp://%63[^:]:%d/", host, &port) != 2)
        die("viewer: URL must be rtsp://127.0.0.1:PORT/camera");
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        die("viewer: cannot connect to camvisor");
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t *buf = malloc(BUF_SIZE);
    size_t have = 0, used;
    static struct cv_rtsp_msg m;
    static struct cv_sdp sdp;
    char req[4096], url[1024], session[128] = "";
    int n = snprintf(req, sizeof(req),
                     "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n",
                     g.viewer_url);
    if (write(fd, req, (size_t)n) != n || read_msg(fd, buf, &have, &m, &used) < 0 ||
        m.status != 200)
        die("viewer: DESCRIBE failed");
    const char *base = cv_rtsp_msg_header(&m, "Content-Base");
    char base_copy[1024];
    snprintf(base_copy, sizeof(base_copy), "%s", base ? base : g.viewer_url);
    if (cv_sdp_parse((const char *)m.body, m.body_len, &sdp) < 0 || sdp.track_count < 1 ||
        cv_sdp_track_url(&sdp, 0, base_copy, url, sizeof(url)) < 0)
        die("viewer: bad SDP");
    consume(buf, &have, used);
    n = snprintf(
        req, sizeof(req),
        "SETUP %s RTSP/1.0\r\nCSeq: 2\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n",
        url);
    if (write(fd, req, (size_t)n) != n || read_msg(fd, buf, &have, &m, &used) < 0 ||
        m.status != 200)
        die("viewer: SETUP failed");
    unsigned timeout;
    if (cv_rtsp_session_parse(cv_rtsp_msg_header(&m, "Session"), session, sizeof(session),
                              &timeout) < 0)
        die("viewer: no session");
    consume(buf, &have, used);
    n = snprintf(req, sizeof(req), "PLAY %s RTSP/1.0\r\nCSeq: 3\r\nSession: %s\r\n\r\n", base_copy,
                 session);
    if (write(fd, req, (size_t)n) != n)
        die("viewer: PLAY failed");
    /* The answer may be preceded by nothing and followed by the catch-up burst: parse in place. */
    for (;;) {
        ssize_t r = recv(fd, buf + have, BUF_SIZE - have, 0);
        if (r <= 0)
            die("viewer: camvisor closed the connection");
        have += (size_t)r;
        if (buf[0] != '$' && cv_rtsp_msg_parse(buf, have, &m, &used) == 0) {
            atomic_store(&g.play_ns, cv_clock_mono_ns());
            consume(buf, &have, used);
            break;
        }
    }
    int cur = -1;
    for (;;) {
        uint64_t now = cv_clock_mono_ns();
        size_t off = 0;
        while (have - off >= 4) {
            if (buf[off] != '$')
                die("viewer: lost the interleaved framing");
            size_t plen = (size_t)buf[off + 2] << 8 | buf[off + 3];
            if (have - off < 4 + plen)
                break;
            const uint8_t *pkt = buf + off + 4;
            struct cv_rtp_header h;
            if (buf[off + 1] == 0 && cv_rtp_header_parse(pkt, plen, &h) == 0) {
                const uint8_t *pl = pkt + h.header_len;
                if (h.payload_len >= SEI_LEN && (pl[0] & 0x1f) == 6 && pl[1] == 5 &&
                    memcmp(pl + 3, sei_uuid, 16) == 0) {
                    char hex[9];
                    memcpy(hex, pl + 19, 8);
                    hex[8] = '\0';
                    cur = (int)strtol(hex, NULL, 16);
                }
                if (h.marker && cur >= 0) {
                    if (cur < g.total && atomic_load(&g.recv_ns[cur]) == 0)
                        atomic_store(&g.recv_ns[cur], now);
                    cur = -1;
                }
            }
            off += 4 + plen;
        }
        consume(buf, &have, off);
        if (atomic_load(&g.done))
            break;
        ssize_t r = recv(fd, buf + have, BUF_SIZE - have, 0);
        if (r <= 0)
            break;
        have += (size_t)r;
    }
    close(fd);
    free(buf);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *clip = NULL;
    int port = 0, warmup = 3, opt;
    g.frames = 1500;
    while ((opt = getopt(argc, argv, "c:p:n:w:")) != -1) {
        switch (opt) {
        case 'c': clip = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'n': g.frames = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        default: die("usage: rtsp_latency -c clip.mp4 -p camera-port [-n frames] [-w s] URL");
        }
    }
    if (!clip || !port || optind >= argc || g.frames < 1)
        die("usage: rtsp_latency -c clip.mp4 -p camera-port [-n frames] [-w s] URL");
    g.viewer_url = argv[optind];
    load_clip(clip);
    int total = g.total = g.frames + warmup * g.fps;
    g.send_ns = calloc((size_t)total, sizeof(*g.send_ns));
    g.key = calloc((size_t)total, sizeof(*g.key));
    g.recv_ns = calloc((size_t)total, sizeof(*g.recv_ns));
    camera(port, warmup);

    uint64_t play = atomic_load(&g.play_ns);
    uint64_t *lat = malloc((size_t)total * sizeof(*lat));
    uint64_t *klat = malloc((size_t)total * sizeof(*klat));
    int live = 0, got = 0, keys = 0;
    for (int i = 0; i < total; i++) {
        if (!g.send_ns[i] || g.send_ns[i] <= play)
            continue;
        live++;
        uint64_t r = atomic_load(&g.recv_ns[i]);
        if ((!r || r < g.send_ns[i]) && live - got <= 5)
            printf("missing: frame %d%s, sent %.1f ms after the PLAY answer\n", i,
                   g.key[i] ? " (keyframe)" : "", (g.send_ns[i] - play) / 1e6);
        if (r && r >= g.send_ns[i]) {
            lat[got++] = r - g.send_ns[i];
            if (g.key[i])
                klat[keys++] = r - g.send_ns[i];
        }
    }
    if (!got)
        die("no frame measured");
    qsort(lat, (size_t)got, sizeof(*lat), cmp_u64);
    qsort(klat, (size_t)keys, sizeof(*klat), cmp_u64);
#define PCT(q) (lat[(size_t)((got - 1) * (q))] / 1e6)
    printf("frames %d live, %d measured, %d missing (clip: %zu frames at %d fps)\n", live, got,
           live - got, g.n_aus, g.fps);
    printf("added latency camera packet in -> viewer packet out: p50 %.3f ms, p90 %.3f ms, "
           "p99 %.3f ms, max %.3f ms\n",
           PCT(0.5), PCT(0.9), PCT(0.99), lat[got - 1] / 1e6);
    if (keys)
        printf("keyframes only (%d): p50 %.3f ms, max %.3f ms\n", keys, klat[(keys - 1) / 2] / 1e6,
               klat[keys - 1] / 1e6);
    printf("RESULT frames=%d missing=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", got,
           live - got, PCT(0.5), PCT(0.9), PCT(0.99), lat[got - 1] / 1e6);
    for (size_t i = 0; i < g.n_aus; i++)
        free(g.aus[i].data);
    free(g.aus);
    free(lat);
    free(klat);
    free(g.key);
    free(g.send_ns);
    free(g.recv_ns);
    return live - got > live / 100 ? 1 : 0;
}
