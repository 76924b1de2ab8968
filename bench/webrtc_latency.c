/*
 * Added latency of camvisor's WebRTC path: camera packet in -> SRTP packet out.
 *
 *     build/bench/webrtc_latency -c clip.mp4 -p CAMERA_PORT -u http://127.0.0.1:API_PORT -s CAMERA
 *                                [-n frames] [-w warmup-s] [-k skip-ms]
 *
 * One process plays both ends, so both timestamps come from one CLOCK_MONOTONIC:
 *  1. the camera (copied from rtsp_latency.c): listens on 127.0.0.1:CAMERA_PORT (the camvisor
 *     camera's url points there), answers the worker's OPTIONS/DESCRIBE/SETUP/PLAY and sends the
 *     clip's H.264 track as RTP over TCP (interleaved), paced at the clip's frame rate, looped;
 *     frame i has the RTP timestamp i * 90000 / fps (plus the packetiser's random offset).
 *     t_in = just before write() hands the access unit's last packet (the one with the marker
 *     bit) to the kernel, the rest of the access unit already written.
 *  2. the viewer (a second thread, started -w seconds after the camera's PLAY): one light WebRTC
 *     viewer as in webrtc_load.c: a recvonly H.264 offer POSTed as WHEP to camvisor-http, an ICE
 *     check, a DTLS 1.2 handshake with use_srtp (OpenSSL), then SRTP packets read with recv() and
 *     not decrypted (the RTP header is in the clear), a consent check every 5 s. t_out = when
 *     recv() returned an SRTP packet of the video payload type with the marker bit set; its RTP
 *     timestamp is kept with it.
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
#include <arpa/inet.h>
#include <errno.h>
#include <libavformat/avformat.h>
#include <libavutil/base64.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
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
#include "common/net/sdp-webrtc.h"
#include "common/net/stun.h"

#define SEI_LEN  (3 + 16 + 8 + 1)
#define MAX_PKTS 4096
#define BUF_SIZE (1 << 20)
#define VIDEO_PT 102 /* the payload type our offer gives H.264 */

static const uint8_t sei_uuid[16] = {'c', 'a', 'm', 'v', 'i', 's', 'o', 'r',
                                     '-', 'l', 'a', 't', 'e', 'n', 'c', 'y'};

struct au {
    uint8_t *data; /* length-prefixed NAL units, SEI slot first */
    size_t len;
    bool key;
};

struct mark {
    uint32_t ts; /* RTP timestamp of the marker packet */
    uint64_t t;  /* when recv() returned it */
};

static struct {
    struct au *aus;
    size_t n_aus;
    int fps;
    uint8_t params[CV_MAX_EXTRADATA]; /* SPS, PPS length-prefixed */
    size_t params_len;
    char sprop[1024];

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

/* ---- clip (as rtsp_latency.c) -------------------------------------------------------------- */

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

/* The same SEI as rtsp_latency.c's, so that both benchmarks send the same stream (here it is
 * not read back: the payload stays encrypted). */
static void write_sei(uint8_t *p, int index)
{
    p[0] = 0;
    p[1] = 0;
    p[2] = 0;
    p[3] = SEI_LEN;
    p[4] = 0x06;
    p[5] = 5;
    p[6] = 16 + 8;
    memcpy(p + 7, sei_uuid, 16);
    snprintf((char *)p + 23, 9, "%08x", (unsigned)index);
    p[31] = 0x80;
}

/* ---- RTSP camera (as rtsp_latency.c) ------------------------------------------------------- */

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

static void writev_all(int fd, struct iovec *iov, size_t count)
{
    size_t k = 0;
    while (k < count) {
        size_t batch = count - k > 1024 ? 1024 : count - k;
        ssize_t w = writev(fd, iov + k, (int)batch);
        if (w < 0)
            die("camera: the worker went away");
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
        memmove(buf, buf + used, have - used);
        have -= used;
    }

    struct cv_rtp_packer p;
    cv_rtp_packer_init(&p, CV_CODEC_H264, 96, 1400, CV_RTP_INTERLEAVED_HEADROOM);
    size_t arena_size = 8u << 20;
    uint8_t *arena = malloc(arena_size);
    struct cv_rtp_pkt *pkts = malloc(MAX_PKTS * sizeof(*pkts));
    struct iovec *iov = malloc(MAX_PKTS * sizeof(*iov));
    uint64_t period = 1000000000ull / (uint64_t)g.fps, t0 = cv_clock_mono_ns();
    pthread_t viewer;
    bool viewer_started = false;
    for (int i = 0; i < g.total && !atomic_load(&g.failed); i++) {
        if (i == warmup * g.fps) {
            pthread_create(&viewer, NULL, viewer_main, NULL);
            viewer_started = true;
        }
        uint64_t due = t0 + (uint64_t)i * period;
        struct timespec ts = {(time_t)(due / 1000000000ull), (long)(due % 1000000000ull)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        while (recv(fd, buf, BUF_SIZE, MSG_DONTWAIT) > 0) /* RTCP, keep-alives: dropped */
            ;
        struct au *a = &g.aus[(size_t)i % g.n_aus];
        write_sei(a->data, i);
        int64_t pts = (int64_t)i * 90000 / g.fps;
        struct cv_rtp_out out = {
            .arena = arena, .arena_size = arena_size, .pkts = pkts, .max_pkts = MAX_PKTS};
        if (cv_rtp_packetize(&p, a->data, a->len, pts, 0, &out) < 0)
            die("camera: cannot packetise");
        for (size_t k = 0; k < out.count; k++) {
            iov[k].iov_base = arena + pkts[k].offset - 4;
            iov[k].iov_len = pkts[k].len + 4;
        }
        /* Everything but the marker packet, then t_in, then the marker packet. */
        writev_all(fd, iov, out.count - 1);
        g.key[i] = a->key;
        g.cam_ts[i] = (uint32_t)pts;
        g.send_ns[i] = cv_clock_mono_ns();
        writev_all(fd, iov + out.count - 1, 1);
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

/* ---- WebRTC viewer (as webrtc_load.c, one viewer) ------------------------------------------ */

struct viewer {
    int fd;
    char lufrag[9], lpwd[25];    /* ours */
    char rufrag[257], rpwd[257]; /* the server's */
    struct sockaddr_in to;
    SSL *ssl;
};

static SSL_CTX *g_ctx;
static char g_fp[128];
static struct cv_webrtc_sdp_offer g_answer;

static void rand_text(char *out, size_t n)
{
    static const char a[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[64];
    RAND_bytes(r, (int)n);
    for (size_t i = 0; i + 1 < n; i++)
        out[i] = a[r[i] % (sizeof(a) - 1)];
    out[n - 1] = 0;
}

static int make_ctx(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!key || !x)
        return -1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"latency", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_sign(x, key, EVP_sha256());
    unsigned char md[32];
    unsigned n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(g_fp + 3 * i, sizeof(g_fp) - 3 * i, "%02X%s", md[i], i + 1 < n ? ":" : "");
    g_ctx = SSL_CTX_new(DTLS_client_method());
    if (!g_ctx || SSL_CTX_use_certificate(g_ctx, x) != 1 || SSL_CTX_use_PrivateKey(g_ctx, key) != 1)
        return -1;
    SSL_CTX_set_tlsext_use_srtp(g_ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80");
    SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL);
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
}

/* POSTs the offer (WHEP) and reads the answer into buf. 0 or -1. */
static int whep(const char *host, int port, const char *cam, const char *offer, char *buf,
                size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    buf[0] = 0;
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
        goto fail;
    char req[8192];
    int n = snprintf(req, sizeof(req),
                     "POST /api/webrtc?src=%s HTTP/1.1\r\nHost: %s\r\nContent-Type: "
                     "application/sdp\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     cam, host, strlen(offer), offer);
    if (n <= 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n)
        goto fail;
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = 0;
    close(fd);
    return strncmp(buf, "HTTP/1.1 201", 12) == 0 ? 0 : -1;
fail:
    if (fd >= 0)
        close(fd);
    return -1;
}

static int stun_check(struct viewer *v, bool use_candidate)
{
    uint8_t out[512], tid[12];
    char user[600];
    RAND_bytes(tid, sizeof(tid));
    snprintf(user, sizeof(user), "%s:%s", v->rufrag, v->lufrag);
    int len = cv_stun_begin(out, sizeof(out), CV_STUN_BINDING, CV_STUN_REQUEST, tid);
    uint32_t prio = htonl(0x6e7f00ff);
    uint8_t tb[8] = {0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88};
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_USERNAME, user,
                               strlen(user));
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_PRIORITY, &prio, 4);
    if (len > 0)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_ICE_CONTROLLING, tb, 8);
    if (len > 0 && use_candidate)
        len = cv_stun_put_attr(out, sizeof(out), (size_t)len, CV_STUN_ATTR_USE_CANDIDATE, NULL, 0);
    if (len > 0)
        len = cv_stun_finish(out, sizeof(out), (size_t)len, v->rpwd, strlen(v->rpwd));
    return len > 0 && send(v->fd, out, (size_t)len, 0) == len ? 0 : -1;
}

static int start_viewer(struct viewer *v, const char *host, int port, const char *cam)
{
    static char offer[4096], ans[65536];
    rand_text(v->lufrag, sizeof(v->lufrag));
    rand_text(v->lpwd, sizeof(v->lpwd));
    snprintf(offer, sizeof(offer),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
             "m=video 9 UDP/TLS/RTP/SAVPF %d\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\n"
             "a=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\n"
             "a=recvonly\r\na=rtcp-mux\r\na=rtpmap:%d H264/90000\r\na=rtcp-fb:%d nack\r\n"
             "a=rtcp-fb:%d nack pli\r\na=fmtp:%d level-asymmetry-allowed=1;"
             "packetization-mode=1;profile-level-id=42e01f\r\n",
             VIDEO_PT, v->lufrag, v->lpwd, g_fp, VIDEO_PT, VIDEO_PT, VIDEO_PT, VIDEO_PT);
    /* camvisor-http and camvisor-webrtc may still be starting: a few tries. */
    int tries = 0;
    while (whep(host, port, cam, offer, ans, sizeof(ans)) < 0) {
        if (++tries == 10) {
            fprintf(stderr, "webrtc_latency: offer refused: %.200s\n", ans);
            return -1;
        }
        usleep(500000);
    }
    char *body = strstr(ans, "\r\n\r\n");
    if (!body || cv_webrtc_sdp_parse(body + 4, strlen(body + 4), &g_answer) < 0 ||
        !g_answer.media_count)
        return -1;
    const struct cv_webrtc_sdp_media *m = &g_answer.media[0];
    snprintf(v->rufrag, sizeof(v->rufrag), "%s", m->transport.ice_ufrag);
    snprintf(v->rpwd, sizeof(v->rpwd), "%s", m->transport.ice_pwd);
    v->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(m->port)};
    inet_pton(AF_INET, host, &v->to.sin_addr);
    v->fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (v->fd < 0)
        return -1;
    int big = 4 << 20;
    setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    struct timeval tv = {2, 0};
    setsockopt(v->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(v->fd, (struct sockaddr *)&v->to, sizeof(v->to)) < 0 || stun_check(v, true) < 0)
        return -1;
    uint8_t buf[2048];
    ssize_t n = recv(v->fd, buf, sizeof(buf), 0); /* the check's answer */
    if (n < 20 || buf[0] > 3)
        return -1;
    v->ssl = SSL_new(g_ctx);
    BIO *bio = BIO_new_dgram(v->fd, BIO_NOCLOSE);
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_CONNECTED, 0, &v->to);
    SSL_set_bio(v->ssl, bio, bio);
    if (SSL_connect(v->ssl) != 1) {
        fprintf(stderr, "webrtc_latency: DTLS failed: %s\n",
                ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
    return 0;
}

static void *viewer_main(void *arg)
{
    (void)arg;
    char host[64] = "127.0.0.1";
    int port = 0;
    struct viewer v = {.fd = -1};
    if (sscanf(g.api_url, "http://%63[^:]:%d", host, &port) != 2 ||
        start_viewer(&v, host, port, g.camera) < 0) {
        fprintf(stderr, "webrtc_latency: the viewer did not start\n");
        atomic_store(&g.failed, 1);
        return NULL;
    }
    uint64_t play = cv_clock_mono_ns();
    atomic_store(&g.play_ns, play);
    struct pollfd pfd = {.fd = v.fd, .events = POLLIN};
    uint64_t next_check = play + 5000000000ull;
    uint8_t buf[2048];
    uint16_t last_seq = 0;
    bool have_seq = false;
    while (!atomic_load(&g.done)) {
        poll(&pfd, 1, 100);
        ssize_t r;
        while ((r = recv(v.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
            uint64_t now = cv_clock_mono_ns();
            /* RTP only (STUN answers, DTLS and RTCP left out), of the video payload type */
            if (r < 12 || buf[0] < 128 || buf[0] > 191 || (buf[1] >= 192 && buf[1] <= 223) ||
                (buf[1] & 0x7f) != VIDEO_PT)
                continue;
            uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
            if (now >= play + g.skip_ns) {
                g.rtp_packets++;
                uint16_t gap = (uint16_t)(seq - last_seq);
                if (have_seq && gap > 1 && gap < 1000)
                    g.rtp_lost += gap - 1u;
            }
            if (!have_seq || (int16_t)(seq - last_seq) > 0)
                last_seq = seq;
            have_seq = true;
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
    long i = lround((double)d * g.fps / 90000.0);
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
    for (int c = 0; j >= 0 && c < 3 * g.fps; j--, c++) {
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

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
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
    if (make_ctx() < 0)
        die("cannot make the DTLS certificate");
    load_clip(clip);
    /* warm-up, the skip, the frames, and one second for the last ones to come through */
    g.total = warmup * g.fps + (skip_ms * g.fps + 999) / 1000 + g.frames + g.fps;
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
        if (fastest >= 1000000000ull / (uint64_t)g.fps)
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
    qsort(lat, (size_t)got, sizeof(*lat), cmp_u64);
    qsort(klat, (size_t)keys, sizeof(*klat), cmp_u64);
    double period_ms = 1000.0 / g.fps;
    if (ambiguous)
        printf("WARNING: every frame of a segment took over one frame period: the match may be "
               "one frame off\n");
#define PCT(q) (lat[(size_t)((got - 1) * (q))] / 1e6)
    printf("frames %d live, %d measured, %d missing (clip: %zu frames at %d fps); video RTP "
           "packets %llu, %llu lost; %d timestamp segment(s), fastest frame %.3f ms of a %.1f ms "
           "period\n",
           live, got, live - got, g.n_aus, g.fps, (unsigned long long)g.rtp_packets,
           (unsigned long long)g.rtp_lost, segments, lat[0] / 1e6, period_ms);
    printf("added latency camera packet in -> SRTP packet out: p50 %.3f ms, p90 %.3f ms, "
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
