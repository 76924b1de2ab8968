/*
 * Added latency of camvisor's camera path: camera packet in -> viewer packet out.
 *
 *     build/bench/rtsp_latency -c clip.mp4 -p CAMERA_PORT [-n frames] [-w warmup-s] VIEWER_URL
 *
 * One process plays both ends, so both timestamps come from one CLOCK_MONOTONIC:
 *  1. the camera (bench/fake_camera.h): listens on 127.0.0.1:CAMERA_PORT (the camvisor
 *     camera's url points there), answers the worker's OPTIONS/DESCRIBE/SETUP/PLAY and sends the
 *     clip's H.264 track as RTP over TCP (interleaved), paced at the clip's frame rate, looped.
 *     In front of each access unit goes an SEI (user data unregistered) holding the frame's
 *     index, which camvisor passes through untouched. t_in = just before write() hands the AU's
 *     last packet (the one with the marker bit) to the kernel, the rest of the AU already
 *     written.
 *  2. the viewer (a second thread, started -w seconds after the camera's PLAY): plays VIEWER_URL,
 *     camvisor's restream of that camera, over TCP. t_out = when recv() returned the packet with
 *     the marker bit of the access unit whose SEI carries that index.
 * Frames sent before the viewer's PLAY answer (the cached GOP it gets at once) are left out. The
 * figure includes the kernel's loopback both ways and this tool's own reads; the worker's
 * depacketiser, ring write, doorbell, camvisor-rtsp's ring read, packetiser and write are what
 * it measures. Prints p50/p90/p99/max and a RESULT line; exit status 1 when frames went missing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/fake_camera.h"
#include "bench/latency_report.h"
#include "common/base/clock.h"
#include "common/net/rtp.h"
#include "common/net/rtsp-msg.h"
#include "common/net/sdp.h"

static struct fake_camera cam;

static struct {
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

/* ---- camera -------------------------------------------------------------------------------- */

static void *viewer_main(void *arg);

/* Frame i went at t_in: kept while it is one of the frames timed. */
static bool sent(int i, uint64_t t_in, bool key)
{
    if (i < g.total) {
        g.key[i] = key;
        g.send_ns[i] = t_in;
    }
    atomic_store(&g.sent, i + 1);
    return true;
}

static void camera(int port, int warmup)
{
    fake_camera_play(&cam, port);
    /* one second past the frames timed, for the last of them to come through */
    fake_camera_run(&cam, g.total + cam.fps, warmup * cam.fps, viewer_main, sent, &g.done);
    fake_camera_close(&cam);
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
    fake_camera_load_clip(&cam, clip);
    int total = g.total = g.frames + warmup * cam.fps;
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
    latency_sort(lat, got, klat, keys);
    printf("frames %d live, %d measured, %d missing (clip: %zu frames at %d fps)\n", live, got,
           live - got, cam.n_aus, cam.fps);
    latency_print(lat, got, klat, keys, live - got, "viewer packet out");
    fake_camera_free_clip(&cam);
    free(lat);
    free(klat);
    free(g.key);
    free(g.send_ns);
    free(g.recv_ns);
    return live - got > live / 100 ? 1 : 0;
}
