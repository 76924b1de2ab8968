/*
 * Added latency of camvisor's WebRTC path: camera packet in -> SRTP packet out.
 *
 *     build/bench/webrtc_latency -c clip.mp4 -p CAMERA_PORT -u http://127.0.0.1:API_PORT -s CAMERA
 *                                [-n frames] [-w warmup-s] [-k skip-ms]
 *
 * One process plays both ends, so both timestamps come from one CLOCK_MONOTONIC:
 *  1. the camera (rtsp_latency.c's, bench/fake_camera.h): listens on 127.0.0.1:CAMERA_PORT (the
 *     camvisor camera's url points there), answers the worker's OPTIONS/DESCRIBE/SETUP/PLAY and
 *     sends the clip's H.264 track as RTP over TCP (interleaved), paced at the clip's frame
 *     rate, looped; frame i has the RTP timestamp i * 90000 / fps (plus the packetiser's random
 *     offset). t_in = just before write() hands the access unit's last packet (the one with the
 *     marker bit) to the kernel, the rest of the access unit already written.
 *  2. the viewer (a second thread, started -w seconds after the camera's PLAY): one light WebRTC
 *     viewer as in webrtc_load.c (bench/whep_viewer.h): a recvonly H.264 offer POSTed as WHEP
 *     to camvisor-http, an ICE check, a DTLS 1.2 handshake with use_srtp (OpenSSL), then SRTP
 *     packets read with recv() and not decrypted (the RTP header is in the clear), a consent
 *     check every 5 s. t_out = when recv() returned an SRTP packet of the video payload type
 *     with the marker bit set; its RTP timestamp is kept with it.
 *
 * Matching: camvisor keeps the camera's timestamp spacing (worker: pts = the unwrapped RTP
 * timestamp from the first access unit; camvisor-webrtc adds its own constant random offset), so
 * out_ts = cam_ts[i] + C (mod 2^32), C unknown. C is learnt after the run from the first marker
 * packet that arrived -k ms (default 500) after the DTLS handshake ended: each candidate is that
 * packet = frame j, for j from the newest frame sent before it arrived back to 3 s older; the
 * first (newest) j under which every following marker packet maps exactly to a frame that the
 * camera had already sent when it arrived (t_in <= t_out) is taken. A wrong, older j would add a
 * whole frame period to every latency; a newer one breaks causality for every frame faster than
 * one period, so the match is exact unless every frame took longer than a period (then it
 * warns). C may change during a run: camvisor-webrtc rebases the timestamps when the feed moves
 * to a new ring (the supervisor resizes an auto ring ~5 s after the camera starts, which falls
 * in the window with -w 3), by a fraction of a frame. So the marker packets are matched in
 * segments: a segment ends at the first packet whose timestamp is off C's grid of frames, and
 * the next one learns its own C the same way. The count of segments is printed.
 * Frames measured: the first -n the camera sent from handshake end + skip on (the catch-up burst of
 * cached frames from the newest keyframe, and what queued behind it, are left out). A frame
 * whose marker packet never came (UDP loss) counts as missing. The figure includes the kernel's
 * loopback both ways and this tool's own reads; the worker's depacketiser, ring write, doorbell,
 * camvisor-webrtc's ring read, packetiser, SRTP protect and sendmmsg are what it measures.
 * Prints p50/p90/p99/max and a RESULT line; exit status 1 when over 1 % of the frames went
 * missing, 2 on errors.
 */
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/fake_camera.h"
#include "bench/latency_report.h"
#include "bench/whep_viewer.h"
#include "common/base/clock.h"

struct mark {
    uint32_t ts; /* RTP timestamp of the marker packet */
    uint64_t t;  /* when recv() returned it */
};

static struct fake_camera cam;

static struct {
    int frames;        /* to measure at most */
    int total;         /* frames sent with a send time: warm-up + frames + 1 s of tail */
    uint64_t *send_ns; /* per frame index; written by the camera, read after the run */
    uint32_t *cam_ts;  /* per frame index: the pts given to the packetiser */
    bool *key;
    struct mark *marks; /* the viewer's marker packets; read after the run */
    size_t n_marks, cap_marks;
    uint64_t rtp_packets, rtp_lost; /* video packets, sequence gaps, after the skip */
    _Atomic uint64_t play_ns;       /* viewer's DTLS handshake done */
    _Atomic int done;
    _Atomic int failed;
    uint64_t skip_ns;
    const char *api_url, *camera;
} g;

static void die(const char *what)
{
    fprintf(stderr, "webrtc_latency: %s\n", what);
    exit(2);
}

/* ---- camera -------------------------------------------------------------------------------- */

static void *viewer_main(void *arg);

static bool sent(int i, uint64_t t_in, bool key)
{
    g.key[i] = key;
    g.cam_ts[i] = (uint32_t)fake_camera_pts(&cam, i);
    g.send_ns[i] = t_in;
    return !atomic_load(&g.failed); /* no viewer: nothing to measure */
}

static void camera(int port, int warmup)
{
    fake_camera_play(&cam, port);
    fake_camera_run(&cam, g.total, warmup * cam.fps, viewer_main, sent, &g.done);
    fake_camera_close(&cam);
}

/* ---- viewer -------------------------------------------------------------------------------- */

static void *viewer_main(void *arg)
{
    (void)arg;
    char host[64] = "127.0.0.1";
    int port = 0;
    struct whep_viewer v = {.fd = -1};
    /* camvisor-http and camvisor-webrtc may still be starting: a few tries. */
    struct whep_opts o = {.rcvbuf = 4 << 20, .tries = 10, .who = "webrtc_latency: "};
    if (sscanf(g.api_url, "http://%63[^:]:%d", host, &port) != 2 ||
        whep_viewer_start(&v, host, port, g.camera, &o) < 0) {
        fprintf(stderr, "webrtc_latency: the viewer did not start\n");
        atomic_store(&g.failed, 1);
        return NULL;
    }
    uint64_t play = cv_clock_mono_ns();
    atomic_store(&g.play_ns, play);
    struct pollfd pfd = {.fd = v.fd, .events = POLLIN};
    uint64_t next_check = play + 5000000000ull;
    uint8_t buf[2048];
    struct rtp_seq seq = {0};
    while (!atomic_load(&g.done)) {
        poll(&pfd, 1, 100);
        ssize_t r;
        while ((r = recv(v.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            uint64_t now = cv_clock_mono_ns();
            /* RTP only (STUN answers, DTLS and RTCP left out), of the video payload type */
            if (!is_rtp(buf, r) || (buf[1] & 0x7f) != WHEP_VIDEO_PT)
                continue;
            unsigned lost = rtp_seq_lost(&seq, (uint16_t)(buf[2] << 8 | buf[3]));
            if (now >= play + g.skip_ns) {
                g.rtp_packets++;
                g.rtp_lost += lost;
            }
            if (!(buf[1] & 0x80))
                continue;
            if (g.n_marks == g.cap_marks) {
                g.cap_marks = g.cap_marks ? 2 * g.cap_marks : 4096;
                g.marks = realloc(g.marks, g.cap_marks * sizeof(*g.marks));
                if (!g.marks)
                    die("out of memory");
            }
            uint32_t ts = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | buf[6] << 8 | buf[7];
            g.marks[g.n_marks++] = (struct mark){.ts = ts, .t = now};
        }
        if (cv_clock_mono_ns() >= next_check) { /* ICE consent: the server closes a silent one */
            stun_check(&v, false);
            next_check += 5000000000ull;
        }
    }
    SSL_shutdown(v.ssl); /* close_notify: the server ends the session now */
    SSL_free(v.ssl);
    close(v.fd);
    return NULL;
}

/* ---- matching ------------------------------------------------------------------------------ */

/* The frame (0 .. total-1) whose camera timestamp is exactly ts - off, or -1: off the grid. */
static int frame_of(uint32_t ts, uint32_t off)
{
    uint32_t d = ts - off;
    if (d > 0x7fffffffu)
        return -1;
    long i = lround((double)d * cam.fps / 90000.0);
    return i >= 0 && i < g.total && g.cam_ts[i] == d ? (int)i : -1;
}

/*
 * One segment: the marker packets from k on that stay on one timestamp offset. Tries the
 * candidates for marker k (the newest frame sent before it arrived, then older ones, 3 s at
 * most) and takes the first under which every marker packet of the segment maps to a frame the
 * camera had sent when it arrived. Sets *off and returns the segment's end, or k on failure.
 */
static size_t match_segment(size_t k, uint32_t *off)
{
    int j = g.total - 1;
    while (j >= 0 && (!g.send_ns[j] || g.send_ns[j] > g.marks[k].t))
        j--;
    for (int c = 0; j >= 0 && c < 3 * cam.fps; j--, c++) {
        uint32_t o = g.marks[k].ts - g.cam_ts[j];
        size_t e = k;
        bool ok = true;
        for (int i; e < g.n_marks && ok && (i = frame_of(g.marks[e].ts, o)) >= 0; e++)
            ok = g.send_ns[i] && g.send_ns[i] <= g.marks[e].t;
        if (ok) {
            *off = o;
            return e;
        }
    }
    return k;
}

int main(int argc, char **argv)
{
    const char *clip = NULL;
    int port = 0, warmup = 3, skip_ms = 500, opt;
    g.frames = 1500;
    const char *usage = "usage: webrtc_latency -c clip.mp4 -p camera-port -u http://HOST:API_PORT "
                        "-s camera [-n frames] [-w s] [-k skip-ms]";
    while ((opt = getopt(argc, argv, "c:p:u:s:n:w:k:")) != -1) {
        switch (opt) {
        case 'c': clip = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': g.api_url = optarg; break;
        case 's': g.camera = optarg; break;
        case 'n': g.frames = atoi(optarg); break;
        case 'w': warmup = atoi(optarg); break;
        case 'k': skip_ms = atoi(optarg); break;
        default: die(usage);
        }
    }
    if (!clip || !port || !g.api_url || !g.camera || g.frames < 1 || warmup < 0 || skip_ms < 0)
        die(usage);
    g.skip_ns = (uint64_t)skip_ms * 1000000ull;
    if (make_ctx("latency") < 0)
        die("cannot make the DTLS certificate");
    fake_camera_load_clip(&cam, clip);
    /* warm-up, the skip, the frames, and one second for the last ones to come through */
    g.total = warmup * cam.fps + (skip_ms * cam.fps + 999) / 1000 + g.frames + cam.fps;
    g.send_ns = calloc((size_t)g.total, sizeof(*g.send_ns));
    g.cam_ts = calloc((size_t)g.total, sizeof(*g.cam_ts));
    g.key = calloc((size_t)g.total, sizeof(*g.key));
    camera(port, warmup);
    if (atomic_load(&g.failed))
        die("no viewer");

    uint64_t from = atomic_load(&g.play_ns) + g.skip_ns;
    size_t first = 0;
    while (first < g.n_marks && g.marks[first].t < from)
        first++;
    if (first == g.n_marks)
        die("no marker packet came after the skip");
    /* Segment by segment: camvisor-webrtc rebases the timestamps when the feed moves to a
     * new ring (the supervisor resizes an auto ring once the stream is measured, ~5 s in). */
    uint64_t *recv_ns = calloc((size_t)g.total, sizeof(*recv_ns));
    int segments = 0;
    bool ambiguous = false;
    for (size_t k = first, e; k < g.n_marks; k = e) {
        uint32_t off;
        e = match_segment(k, &off);
        if (e == k)
            die("no timestamp offset matches the marker packets to the frames sent");
        segments++;
        uint64_t fastest = UINT64_MAX;
        for (size_t m = k; m < e; m++) {
            int i = frame_of(g.marks[m].ts, off);
            if (!recv_ns[i])
                recv_ns[i] = g.marks[m].t;
            if (g.marks[m].t - g.send_ns[i] < fastest)
                fastest = g.marks[m].t - g.send_ns[i];
        }
        if (fastest >= 1000000000ull / (uint64_t)cam.fps)
            ambiguous = true;
    }
    uint64_t *lat = malloc((size_t)g.total * sizeof(*lat));
    uint64_t *klat = malloc((size_t)g.total * sizeof(*klat));
    int live = 0, got = 0, keys = 0;
    for (int i = 0; i < g.total && live < g.frames; i++) {
        if (!g.send_ns[i] || g.send_ns[i] < from)
            continue;
        live++;
        uint64_t r = recv_ns[i];
        if (!r) {
            if (live - got <= 5)
                printf("missing: frame %d%s, sent %.1f ms after the handshake\n", i,
                       g.key[i] ? " (keyframe)" : "",
                       (g.send_ns[i] - atomic_load(&g.play_ns)) / 1e6);
            continue;
        }
        lat[got++] = r - g.send_ns[i];
        if (g.key[i])
            klat[keys++] = r - g.send_ns[i];
    }
    if (!got)
        die("no frame measured");
    latency_sort(lat, got, klat, keys);
    double period_ms = 1000.0 / cam.fps;
    if (ambiguous)
        printf("WARNING: every frame of a segment took over one frame period: the match may be "
               "one frame off\n");
    printf("frames %d live, %d measured, %d missing (clip: %zu frames at %d fps); video RTP "
           "packets %llu, %llu lost; %d timestamp segment(s), fastest frame %.3f ms of a %.1f ms "
           "period\n",
           live, got, live - got, cam.n_aus, cam.fps, (unsigned long long)g.rtp_packets,
           (unsigned long long)g.rtp_lost, segments, lat[0] / 1e6, period_ms);
    latency_print(lat, got, klat, keys, live - got, "SRTP packet out");
    fake_camera_free_clip(&cam);
    free(g.marks);
    free(recv_ns);
    free(lat);
    free(klat);
    free(g.key);
    free(g.send_ns);
    free(g.cam_ts);
    SSL_CTX_free(g_ctx);
    return live - got > live / 100 ? 1 : 0;
}
