/*
 * A camera track's receiving side (see rtsp-track.h): depacketiser, UDP ports, RTCP in and out.
 *
 * UDP: the RTP/RTCP pair is bound on the wildcard address (the camera sends to whatever address
 * it sees us on) and only datagrams from the camera's own address are taken, so a worker reads
 * nothing but its camera. After SETUP a dummy RTP packet and an empty receiver report go to the
 * camera's server ports, which opens NAT and stateful firewalls in front of us the way FFmpeg
 * does. There is no jitter buffer: a reordered UDP packet costs its access unit (see rtp.h), which
 * on the LANs cameras live on is rare; use transport = tcp where it is not.
 */
#include "worker/rtsp-track.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "common/media/nal.h"
#include "common/net/rtcp.h"
#include "worker/rtsp-client.h"

#define CV_RTSP_TRACK_DGRAM  16384      /* largest datagram taken; RTP stays under the MTU */
#define CV_RTSP_TRACK_RCVBUF (1u << 20) /* a 1080p keyframe in flight */
#define CV_RTSP_TRACK_CNAME  "camvisor"

void cv_rtsp_track_init(struct cv_rtsp_track *t)
{
    memset(t, 0, sizeof(*t));
    t->fd[0] = t->fd[1] = -1;
}

/* Whether nal repeats one of the first n parameter sets in seen. */
static bool cv_rtsp_track_seen(const uint8_t *const *seen, const size_t *seen_len, int n,
                               const uint8_t *nal, size_t nlen)
{
    for (int i = 0; i < n; i++)
        if (seen_len[i] == nlen && memcmp(seen[i], nal, nlen) == 0)
            return true;
    return false;
}

/*
 * Drops parameter sets repeated inside one access unit. rtph264pay/rtph265pay with
 * config-interval=-1, and cameras built on them, put SPS/PPS in front of every slice of an IDR
 * picture: after the first slice they start a new access unit by the H.264/H.265 rules, so
 * decoders (FFmpeg's parser) split the picture in two frames with one timestamp. Returns the
 * access unit to publish: data itself (no repeats, the usual case, nothing copied) or a compacted
 * copy in t->au.
 */
static const uint8_t *cv_rtsp_track_dedupe(struct cv_rtsp_track *t, const uint8_t *data, size_t len,
                                           size_t *out_len)
{
    enum cv_codec codec = (enum cv_codec)t->codec;
    const uint8_t *seen[8], *nal;
    size_t seen_len[8], off = 0, nlen;
    int n = 0;
    bool repeat = false;
    while (!repeat && cv_nal_next(data, len, &off, &nal, &nlen)) {
        if (!cv_nal_is_param_set(codec, cv_nal_type(codec, nal)))
            continue;
        repeat = cv_rtsp_track_seen(seen, seen_len, n, nal, nlen);
        if (n < 8) {
            seen[n] = nal;
            seen_len[n++] = nlen;
        }
    }
    *out_len = len;
    if (!repeat)
        return data;
    if (len > t->au_cap) {
        uint8_t *p = realloc(t->au, len);
        if (!p)
            return data;
        t->au = p;
        t->au_cap = len;
    }
    size_t w = 0;
    n = 0;
    off = 0;
    while (cv_nal_next(data, len, &off, &nal, &nlen)) {
        if (cv_nal_is_param_set(codec, cv_nal_type(codec, nal))) {
            if (cv_rtsp_track_seen(seen, seen_len, n, nal, nlen))
                continue;
            if (n < 8) {
                seen[n] = nal;
                seen_len[n++] = nlen;
            }
        }
        memcpy(t->au + w, nal - 4, 4 + nlen);
        w += 4 + nlen;
    }
    *out_len = w;
    return t->au;
}

static void cv_rtsp_track_au(void *opaque, const struct cv_rtp_au *au)
{
    struct cv_rtsp_track *t = opaque;
    if (t->codec == CV_CODEC_H264 || t->codec == CV_CODEC_H265) {
        struct cv_rtp_au copy = *au;
        copy.data = cv_rtsp_track_dedupe(t, au->data, au->len, &copy.len);
        t->cbs->on_au(t, &copy, t->arrival_ns);
        return;
    }
    t->cbs->on_au(t, au, t->arrival_ns);
}

int cv_rtsp_track_open(struct cv_rtsp_track *t, const struct cv_sdp_track *st,
                       const struct cv_track_info *info, const struct cv_rtsp_track_cbs *cbs)
{
    struct cv_rtp_depack_cfg cfg = {
        .codec = st->info.codec,
        .payload_type = st->payload_type,
        .aac_sizelength = st->aac_sizelength,
        .aac_indexlength = st->aac_indexlength,
        .aac_indexdeltalength = st->aac_indexdeltalength,
    };
    int rc = cv_rtp_depack_new(&t->depack, &cfg, cv_rtsp_track_au, t);
    if (rc < 0)
        return rc;
    if (info->kind == CV_TRACK_VIDEO && info->extradata_len > 0 &&
        cv_rtp_depack_set_params(t->depack, info->extradata, info->extradata_len) < 0)
        cv_dbg("track %u: parameter sets from the SDP refused", st->media_index);
    t->cbs = cbs;
    t->payload_type = st->payload_type;
    t->codec = st->info.codec;
    evutil_secure_rng_get_bytes(&t->rr_ssrc, sizeof(t->rr_ssrc));
    return 0;
}

/* ---- UDP ---------------------------------------------------------------------------------- */

/* A non-blocking UDP socket on the wildcard address and port (0: any); 0 or -errno. */
static int cv_rtsp_track_bind(int family, uint16_t port, int *fd_out, uint16_t *bound)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    cv_sockaddr_set_port(&ss, port);
    socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    *bound = family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                                : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    return 0;
}

static void cv_rtsp_track_udp_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_rtsp_track *t = arg;
    bool rtcp = fd == t->fd[1];
    for (int budget = 64; budget > 0; budget--) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n =
            recvfrom(fd, t->buf, CV_RTSP_TRACK_DGRAM, MSG_TRUNC, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNREFUSED)
                return;
            t->cbs->on_error(t, -errno, "UDP receive failed");
            return;
        }
        if (n > CV_RTSP_TRACK_DGRAM || !cv_sockaddr_same_host(&from, &t->peer[0]))
            continue; /* oversized, or not from our camera */
        uint64_t now = cv_clock_mono_ns();
        if (rtcp)
            cv_rtsp_track_rtcp(t, t->buf, (size_t)n, now);
        else
            cv_rtsp_track_rtp(t, t->buf, (size_t)n, now);
    }
}

int cv_rtsp_track_udp_open(struct cv_rtsp_track *t, struct event_base *base,
                           const struct sockaddr_storage *camera, socklen_t len)
{
    int family = camera->ss_family;
    if (family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    cv_rtsp_track_udp_close(t);
    if (!t->buf && !(t->buf = malloc(CV_RTSP_TRACK_DGRAM)))
        return -ENOMEM;
    int rc = -EADDRINUSE;
    for (int attempt = 0; attempt < 64; attempt++) {
        int a, b;
        uint16_t pa, pb;
        if ((rc = cv_rtsp_track_bind(family, 0, &a, &pa)) < 0)
            return rc;
        if (pa & 1 || pa == 65535) { /* RTP wants the even port of the pair */
            close(a);
            rc = -EADDRINUSE;
            continue;
        }
        if ((rc = cv_rtsp_track_bind(family, (uint16_t)(pa + 1), &b, &pb)) < 0) {
            close(a);
            continue;
        }
        t->fd[0] = a;
        t->fd[1] = b;
        t->local_port[0] = pa;
        t->local_port[1] = pb;
        break;
    }
    if (t->fd[0] < 0)
        return rc;
    int size = CV_RTSP_TRACK_RCVBUF;
    setsockopt(t->fd[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    memcpy(&t->peer[0], camera, len);
    memcpy(&t->peer[1], camera, len);
    t->peer_len = len;
    t->peer_ports = false;
    for (int i = 0; i < 2; i++) {
        t->ev[i] = event_new(base, t->fd[i], EV_READ | EV_PERSIST, cv_rtsp_track_udp_cb, t);
        if (!t->ev[i] || event_add(t->ev[i], NULL) < 0) {
            cv_rtsp_track_udp_close(t);
            return -ENOMEM;
        }
    }
    return 0;
}

void cv_rtsp_track_udp_connect(struct cv_rtsp_track *t, const uint16_t server_port[2])
{
    if (t->fd[0] < 0)
        return;
    cv_sockaddr_set_port(&t->peer[0], server_port[0]);
    cv_sockaddr_set_port(&t->peer[1], server_port[1]);
    t->peer_ports = true;
    uint8_t rtp[CV_RTP_HEADER_SIZE], rr[64];
    cv_rtp_header_write(rtp, false, t->payload_type, 0, 0, t->rr_ssrc);
    int n = cv_rtcp_build_rr(rr, sizeof(rr), t->rr_ssrc, NULL, CV_RTSP_TRACK_CNAME);
    for (int i = 0; i < 2; i++) { /* two of each: one may be lost */
        sendto(t->fd[0], rtp, sizeof(rtp), 0, (struct sockaddr *)&t->peer[0], t->peer_len);
        if (n > 0)
            sendto(t->fd[1], rr, (size_t)n, 0, (struct sockaddr *)&t->peer[1], t->peer_len);
    }
}

void cv_rtsp_track_udp_close(struct cv_rtsp_track *t)
{
    for (int i = 0; i < 2; i++) {
        if (t->ev[i])
            event_free(t->ev[i]);
        t->ev[i] = NULL;
        if (t->fd[i] >= 0)
            close(t->fd[i]);
        t->fd[i] = -1;
    }
    t->peer_ports = false;
}

void cv_rtsp_track_close(struct cv_rtsp_track *t)
{
    cv_rtsp_track_udp_close(t);
    cv_rtp_depack_free(t->depack);
    t->depack = NULL;
    free(t->buf);
    t->buf = NULL;
    free(t->au);
    t->au = NULL;
    t->au_cap = 0;
}

/* ---- packets ------------------------------------------------------------------------------ */

void cv_rtsp_track_rtp(struct cv_rtsp_track *t, const uint8_t *pkt, size_t len, uint64_t arrival_ns)
{
    struct cv_rtp_header h;
    if (cv_rtp_header_parse(pkt, len, &h) == 0 && h.payload_type == t->payload_type) {
        if (!t->have_ssrc || h.ssrc != t->ssrc) {
            t->have_ssrc = true;
            t->ssrc = h.ssrc;
            t->max_seq = h.seq;
            t->cycles = 0;
            t->last_sr = 0;
        } else {
            uint16_t ahead = (uint16_t)(h.seq - t->max_seq);
            if (ahead && ahead < 0x8000) {
                if (h.seq < t->max_seq)
                    t->cycles += 0x10000;
                t->max_seq = h.seq;
            }
        }
    }
    t->arrival_ns = arrival_ns;
    int rc = cv_rtp_depack_push(t->depack, pkt, len);
    if (rc < 0 && t->bad_logged < 3) {
        t->bad_logged++;
        cv_dbg("track %u: RTP packet refused: %s", t->index, strerror(-rc));
    }
}

void cv_rtsp_track_rtcp(struct cv_rtsp_track *t, const uint8_t *pkt, size_t len,
                        uint64_t arrival_ns)
{
    struct cv_rtcp_info info;
    memset(&info, 0, sizeof(info));
    cv_rtcp_parse(pkt, len, &info); /* what parsed before an error still counts */
    if (info.has_sr && (!t->have_ssrc || info.sr.ssrc == t->ssrc)) {
        t->last_sr = (uint32_t)(info.sr.ntp >> 16);
        t->last_sr_ns = arrival_ns;
    }
    if (info.bye)
        cv_dbg("track %u: the camera sent RTCP BYE", t->index); /* the stall check decides */
}

void cv_rtsp_track_send_rr(struct cv_rtsp_track *t, struct cv_rtspc *client, uint64_t now_ns)
{
    if (!t->ready || !t->depack)
        return;
    const struct cv_rtp_depack_stats *st = cv_rtp_depack_stats(t->depack);
    struct cv_rtcp_report_block rb = {
        .ssrc = t->ssrc,
        .cumulative_lost = st->lost > 0xffffff ? 0xffffff : (uint32_t)st->lost,
        .highest_seq = t->cycles + t->max_seq,
        .lsr = t->last_sr,
        .dlsr = t->last_sr ? (uint32_t)((now_ns - t->last_sr_ns) * 65536 / 1000000000ull) : 0,
    };
    uint8_t buf[128];
    int n = cv_rtcp_build_rr(buf, sizeof(buf), t->rr_ssrc, t->have_ssrc ? &rb : NULL,
                             CV_RTSP_TRACK_CNAME);
    if (n <= 0)
        return;
    if (t->fd[1] >= 0 && t->peer_ports)
        sendto(t->fd[1], buf, (size_t)n, 0, (struct sockaddr *)&t->peer[1], t->peer_len);
    else if (t->fd[1] < 0)
        cv_rtspc_send_data(client, t->ch[1], buf, (size_t)n);
}
