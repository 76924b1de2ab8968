/*
 * RTSP load client: one process, many RTSP/TCP sessions, for the fan-out and many-camera
 * benchmarks (bench/fanout.sh, bench/cameras16.sh).
 *
 * Each session does OPTIONS, DESCRIBE, one SETUP per track of the SDP (RTP/AVP/TCP, interleaved
 * channels 2i-2i+1) and PLAY, then reads and discards the interleaved data. All sockets share one
 * level-triggered epoll loop. Once every session plays (or the set-up timeout passes), a warm-up
 * lets the catch-up burst of each new session drain; then a measured window of D seconds starts.
 * Over the window it counts, per session, bytes, RTP and RTCP packets, RTP sequence jumps and the
 * longest time without any data (window edges included), and it samples its own CPU (getrusage)
 * and that of the processes given with -p (utime+stime from /proc/<pid>/stat, all threads).
 *
 *     rtsp_load [-n sessions-per-url] [-d seconds] [-w warmup] [-t setup-timeout]
 *               [-p label=pid[,pid...]]... [-v] [URL...]
 *
 * With -n 0 or no URL it opens nothing and only samples the -p processes over the window (the
 * "no viewer" baseline). The last line of output is machine-readable:
 *
 *     RESULT sessions=64 playing=64 seconds=20.00 ... load_cpu=1.9 cpu_rtsp=2.4 cpu_worker=0.8
 *
 * CPU figures are in % of one core. Exit status: 0 when every session played and got data with
 * no gap over 1 s and no sequence jump; 1 otherwise; 2 on usage or system errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/net/rtsp-msg.h"

#define MAX_TRACKS   8
#define MAX_PROBES   16
#define INBUF        (256u << 10) /* > one interleaved frame (4 + 65535) with room to spare */
#define KEEPALIVE_NS (20 * 1000000000ull)
#define GAP_FAIL_NS  (1000 * 1000000ull)

enum state { ST_CONNECTING, ST_OPTIONS, ST_DESCRIBE, ST_SETUP, ST_PLAY, ST_PLAYING, ST_FAILED };

struct client {
    int id;
    int fd;
    enum state state;
    const char *url; /* the URL as given (argv) */
    char base[512];  /* Content-Base, or the URL */
    char session[128];
    char control[MAX_TRACKS][512];
    int ntracks, setup_idx;
    uint32_t cseq;
    uint8_t *in; /* owned: INBUF bytes */
    size_t in_len;
    uint64_t last_req_ns;
    /* counters over the measured window */
    uint64_t bytes, rtp, rtcp, seq_jumps;
    uint64_t last_data_ns, max_gap_ns;
    bool closed;
    int32_t next_seq[2 * MAX_TRACKS]; /* expected RTP seq per channel, -1 unknown */
    char why[160];
};

struct probe {
    const char *label;
    int pids[64];
    int npids;
    uint64_t t0;
};

static struct cv_rtsp_msg g_msg; /* ~9 KiB: one, reused */
static bool g_verbose;
static bool g_window; /* inside the measured window */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fail(struct client *c, const char *why)
{
    if (c->state == ST_FAILED)
        return;
    snprintf(c->why, sizeof(c->why), "%s", why);
    if (c->state == ST_PLAYING)
        c->closed = true;
    c->state = ST_FAILED;
    if (c->fd >= 0)
        close(c->fd); /* also removes it from the epoll set */
    c->fd = -1;
    fprintf(stderr, "rtsp_load: session %d (%s): %s\n", c->id, c->url, why);
}

/* rtsp://host[:port]/... -> host, port. No credentials: loopback benchmarks need none. */
static int split_host(const char *url, char *host, size_t hsize, char *port, size_t psize)
{
    if (strncmp(url, "rtsp://", 7) != 0)
        return -EINVAL;
    const char *h = url + 7, *end = h + strcspn(h, "/?");
    const char *colon = memchr(h, ':', (size_t)(end - h));
    const char *hend = colon ? colon : end;
    if (hend == h || (size_t)(hend - h) >= hsize)
        return -EINVAL;
    memcpy(host, h, (size_t)(hend - h));
    host[hend - h] = 0;
    if (colon) {
        size_t n = (size_t)(end - colon - 1);
        if (n == 0 || n >= psize)
            return -EINVAL;
        memcpy(port, colon + 1, n);
        port[n] = 0;
    } else {
        snprintf(port, psize, "554");
    }
    return 0;
}

static int start_connect(struct client *c, int ep)
{
    char host[256], port[16];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
    if (split_host(c->url, host, sizeof(host), port, sizeof(port)) < 0 ||
        getaddrinfo(host, port, &hints, &ai) != 0) {
        fail(c, "bad URL or unknown host");
        return -1;
    }
    c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 || (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS)) {
        freeaddrinfo(ai);
        fail(c, strerror(errno));
        return -1;
    }
    freeaddrinfo(ai);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->state = ST_CONNECTING;
    return 0;
}

static void request(struct client *c, const char *method, const char *url, const char *extra)
{
    char buf[2048];
    int n = snprintf(buf, sizeof(buf),
                     "%s %s RTSP/1.0\r\nCSeq: %u\r\nUser-Agent: camvisor-rtsp_load\r\n%s%s%s%s\r\n",
                     method, url, ++c->cseq, extra ? extra : "", c->session[0] ? "Session: " : "",
                     c->session, c->session[0] ? "\r\n" : "");
    if (n <= 0 || (size_t)n >= sizeof(buf)) {
        fail(c, "request too long");
        return;
    }
    /* A request is a few hundred bytes on a socket whose buffer the server drains: it fits. */
    if (send(c->fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
        fail(c, "short send of a request");
    c->last_req_ns = now_ns();
    if (g_verbose)
        fprintf(stderr, "[%d] > %s %s\n", c->id, method, url);
}

static void setup_next(struct client *c)
{
    char extra[128], url[1100];
    const char *ctl = c->control[c->setup_idx];
    if (strncmp(ctl, "rtsp://", 7) == 0)
        snprintf(url, sizeof(url), "%s", ctl);
    else
        snprintf(url, sizeof(url), "%s%s%s", c->base,
                 c->base[strlen(c->base) - 1] == '/' ? "" : "/", ctl);
    snprintf(extra, sizeof(extra), "Transport: RTP/AVP/TCP;unicast;interleaved=%d-%d\r\n",
             2 * c->setup_idx, 2 * c->setup_idx + 1);
    request(c, "SETUP", url, extra);
}

/* The a=control of each m= section; media without one cannot be set up and are skipped. */
static void parse_sdp(struct client *c, const uint8_t *body, size_t len)
{
    int media = -1; /* index of the current m= section in c->control, -1 at session level */
    c->ntracks = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && body[e] != '\n' && body[e] != '\r')
            e++;
        const char *l = (const char *)body + i;
        size_t ll = e - i;
        if (ll >= 2 && l[0] == 'm' && l[1] == '=') {
            media = c->ntracks < MAX_TRACKS ? c->ntracks : -1;
            if (media >= 0)
                c->control[media][0] = 0;
        } else if (media >= 0 && ll > 10 && memcmp(l, "a=control:", 10) == 0 &&
                   ll - 10 < sizeof(c->control[0]) && !c->control[media][0]) {
            memcpy(c->control[media], l + 10, ll - 10);
            c->control[media][ll - 10] = 0;
            if (media == c->ntracks)
                c->ntracks++;
        }
        i = e;
        while (i < len && (body[i] == '\n' || body[i] == '\r'))
            i++;
    }
}

static void on_response(struct client *c, const struct cv_rtsp_msg *m)
{
    if (c->state == ST_PLAYING)
        return; /* keep-alive answers */
    if (m->status != 200) {
        char why[64];
        snprintf(why, sizeof(why), "status %d in state %d", m->status, (int)c->state);
        fail(c, why);
        return;
    }
    const char *s = cv_rtsp_msg_header(m, "Session");
    if (s && !c->session[0]) {
        unsigned timeout;
        if (cv_rtsp_session_parse(s, c->session, sizeof(c->session), &timeout) < 0) {
            fail(c, "bad Session header");
            return;
        }
    }
    switch (c->state) {
    case ST_OPTIONS:
        c->state = ST_DESCRIBE;
        request(c, "DESCRIBE", c->url, "Accept: application/sdp\r\n");
        break;
    case ST_DESCRIBE: {
        const char *cb = cv_rtsp_msg_header(m, "Content-Base");
        snprintf(c->base, sizeof(c->base), "%s", cb ? cb : c->url);
        parse_sdp(c, m->body, m->body_len);
        if (c->ntracks == 0) {
            fail(c, "SDP without any track to set up");
            return;
        }
        c->state = ST_SETUP;
        c->setup_idx = 0;
        setup_next(c);
        break;
    }
    case ST_SETUP:
        if (++c->setup_idx < c->ntracks) {
            setup_next(c);
        } else {
            c->state = ST_PLAY;
            request(c, "PLAY", c->url, "Range: npt=0.000-\r\n");
        }
        break;
    case ST_PLAY:
        c->state = ST_PLAYING;
        c->last_data_ns = now_ns();
        if (g_verbose)
            fprintf(stderr, "[%d] playing %d tracks\n", c->id, c->ntracks);
        break;
    default: break;
    }
}

static void on_interleaved(struct client *c, uint8_t ch, const uint8_t *p, uint16_t plen)
{
    if (!g_window)
        return;
    if (ch & 1) {
        c->rtcp++;
        return;
    }
    c->rtp++;
    if (plen < 12 || ch >= 2 * MAX_TRACKS)
        return;
    uint16_t seq = (uint16_t)(p[2] << 8 | p[3]);
    if (c->next_seq[ch] >= 0 && seq != (uint16_t)c->next_seq[ch])
        c->seq_jumps++;
    c->next_seq[ch] = (uint16_t)(seq + 1);
}

static void on_readable(struct client *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->in + c->in_len, INBUF - c->in_len);
        if (n == 0) {
            fail(c, "server closed the connection");
            return;
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                break;
            fail(c, strerror(errno));
            return;
        }
        c->in_len += (size_t)n;
        if (g_window) {
            uint64_t t = now_ns();
            if (t - c->last_data_ns > c->max_gap_ns)
                c->max_gap_ns = t - c->last_data_ns;
            c->last_data_ns = t;
            c->bytes += (uint64_t)n;
        } else if (c->state == ST_PLAYING) {
            c->last_data_ns = now_ns();
        }
        size_t off = 0;
        while (off < c->in_len && c->state != ST_FAILED) {
            uint8_t ch;
            uint16_t plen;
            int rc = cv_rtsp_interleaved(c->in + off, c->in_len - off, &ch, &plen);
            if (rc == 0) {
                if (c->in_len - off < 4u + plen)
                    break;
                on_interleaved(c, ch, c->in + off + 4, plen);
                off += 4u + plen;
                continue;
            }
            if (rc == -EAGAIN)
                break;
            size_t used;
            rc = cv_rtsp_msg_parse(c->in + off, c->in_len - off, &g_msg, &used);
            if (rc == -EAGAIN)
                break;
            if (rc < 0 || g_msg.type != CV_RTSP_RESPONSE) {
                fail(c, "unparsable data from the server");
                return;
            }
            on_response(c, &g_msg);
            off += used;
        }
        if (c->state == ST_FAILED)
            return;
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
        if ((size_t)n < INBUF / 2)
            break; /* drained for now; level-triggered epoll brings us back */
    }
}

static void on_event(struct client *c, uint32_t events, int ep)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t sl = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
        if (err) {
            fail(c, strerror(err));
            return;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->state = ST_OPTIONS;
        request(c, "OPTIONS", c->url, NULL);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(c);
}

static uint64_t proc_ticks(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return ut + st;
}

static uint64_t probe_ticks(const struct probe *p)
{
    uint64_t t = 0;
    for (int i = 0; i < p->npids; i++)
        t += proc_ticks(p->pids[i]);
    return t;
}

/* Busy jiffies of the whole machine (all CPUs), to show what else ran during the window. */
static uint64_t machine_busy_ticks(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    if (!f)
        return 0;
    int k = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (k != 8)
        return 0;
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]; /* all but idle and iowait */
}

static double rusage_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Runs the loop until deadline (or, when all_playing_exit, until no session is still setting up).
 */
static void run_loop(int ep, struct client *cl, int n, uint64_t deadline, bool until_playing)
{
    struct epoll_event evs[256];
    for (;;) {
        uint64_t t = now_ns();
        if (t >= deadline)
            return;
        if (until_playing) {
            int busy = 0;
            for (int i = 0; i < n; i++)
                busy += cl[i].state != ST_PLAYING && cl[i].state != ST_FAILED;
            if (!busy)
                return;
        }
        for (int i = 0; i < n; i++) /* keep-alive, well inside the server's 60 s timeout */
            if (cl[i].state == ST_PLAYING && t - cl[i].last_req_ns > KEEPALIVE_NS)
                request(&cl[i], "GET_PARAMETER", cl[i].url, NULL);
        int ms = (int)((deadline - t) / 1000000) + 1;
        int k = epoll_wait(ep, evs, 256, ms > 200 ? 200 : ms);
        for (int i = 0; i < k; i++) {
            struct client *c = evs[i].data.ptr;
            if (c->state != ST_FAILED)
                on_event(c, evs[i].events, ep);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: rtsp_load [-n sessions-per-url] [-d seconds] [-w warmup-seconds] "
                    "[-t setup-timeout] [-p label=pid[,pid...]]... [-v] [URL...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int per_url = 1, nprobes = 0;
    double dur = 20, warm = 2, setup_to = 15;
    struct probe probes[MAX_PROBES];
    int opt;
    while ((opt = getopt(argc, argv, "n:d:w:t:p:v")) != -1) {
        switch (opt) {
        case 'n': per_url = atoi(optarg); break;
        case 'd': dur = atof(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 't': setup_to = atof(optarg); break;
        case 'v': g_verbose = true; break;
        case 'p': {
            if (nprobes == MAX_PROBES)
                usage();
            struct probe *p = &probes[nprobes++];
            char *eq = strchr(optarg, '=');
            if (!eq)
                usage();
            *eq = 0;
            p->label = optarg;
            p->npids = 0;
            for (char *s = strtok(eq + 1, ","); s && p->npids < 64; s = strtok(NULL, ","))
                p->pids[p->npids++] = atoi(s);
            break;
        }
        default: usage();
        }
    }
    int nurls = argc - optind;
    int n = per_url > 0 ? per_url * nurls : 0;
    if (per_url < 0 || dur <= 0)
        usage();

    struct client *cl = calloc((size_t)(n ? n : 1), sizeof(*cl));
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cl || ep < 0)
        return 2;
    for (int i = 0; i < n; i++) {
        struct client *c = &cl[i];
        c->id = i;
        c->fd = -1;
        c->url = argv[optind + i % nurls];
        c->in = malloc(INBUF);
        if (!c->in)
            return 2;
        for (int k = 0; k < 2 * MAX_TRACKS; k++)
            c->next_seq[k] = -1;
        start_connect(c, ep);
    }

    uint64_t t_setup = now_ns();
    run_loop(ep, cl, n, t_setup + (uint64_t)(setup_to * 1e9), true);
    int playing = 0;
    for (int i = 0; i < n; i++)
        playing += cl[i].state == ST_PLAYING;
    double setup_ms = (double)(now_ns() - t_setup) / 1e6;
    fprintf(stderr, "rtsp_load: %d/%d sessions playing after %.0f ms\n", playing, n, setup_ms);
    run_loop(ep, cl, n, now_ns() + (uint64_t)(warm * 1e9), false);

    /* The measured window. */
    for (int i = 0; i < nprobes; i++)
        probes[i].t0 = probe_ticks(&probes[i]);
    uint64_t busy0 = machine_busy_ticks();
    double cpu0 = rusage_s();
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++)
        cl[i].last_data_ns = t0;
    g_window = true;
    run_loop(ep, cl, n, t0 + (uint64_t)(dur * 1e9), false);
    uint64_t t1 = now_ns();
    g_window = false;
    double cpu1 = rusage_s();
    uint64_t busy = machine_busy_ticks() - busy0;
    uint64_t ticks[MAX_PROBES];
    for (int i = 0; i < nprobes; i++)
        ticks[i] = probe_ticks(&probes[i]) - probes[i].t0;
    double secs = (double)(t1 - t0) / 1e9;

    uint64_t tot_bytes = 0, tot_rtp = 0, tot_rtcp = 0, jumps = 0, min_b = UINT64_MAX, max_b = 0;
    uint64_t max_gap = 0;
    int gap_client = -1, bad = 0;
    for (int i = 0; i < n; i++) {
        struct client *c = &cl[i];
        if (c->state == ST_PLAYING) {
            uint64_t tail = t1 - c->last_data_ns;
            if (tail > c->max_gap_ns)
                c->max_gap_ns = tail;
        } else if (!c->closed) {
            c->max_gap_ns = t1 - t0; /* never played */
        }
        tot_bytes += c->bytes;
        tot_rtp += c->rtp;
        tot_rtcp += c->rtcp;
        jumps += c->seq_jumps;
        if (c->bytes < min_b)
            min_b = c->bytes;
        if (c->bytes > max_b)
            max_b = c->bytes;
        if (c->max_gap_ns > max_gap) {
            max_gap = c->max_gap_ns;
            gap_client = i;
        }
        if (c->state != ST_PLAYING || c->bytes == 0 || c->max_gap_ns > GAP_FAIL_NS || c->seq_jumps)
            bad++;
        if (g_verbose)
            fprintf(stderr, "[%d] %s bytes=%llu rtp=%llu rtcp=%llu jumps=%llu max_gap=%.1f ms %s\n",
                    i, c->url, (unsigned long long)c->bytes, (unsigned long long)c->rtp,
                    (unsigned long long)c->rtcp, (unsigned long long)c->seq_jumps,
                    (double)c->max_gap_ns / 1e6, c->why);
    }
    if (n == 0)
        min_b = 0;
    long hz = sysconf(_SC_CLK_TCK);
    double load_cpu = 100.0 * (cpu1 - cpu0) / secs;

    printf("sessions %d, playing %d, window %.2f s (setup %.0f ms, warm-up %.1f s)\n", n, playing,
           secs, setup_ms, warm);
    if (n) {
        printf("  total %.2f Mbit/s, %.0f RTP pkt/s, %.1f RTCP pkt/s; per session %.3f..%.3f "
               "Mbit/s\n",
               (double)tot_bytes * 8 / secs / 1e6, (double)tot_rtp / secs, (double)tot_rtcp / secs,
               (double)min_b * 8 / secs / 1e6, (double)max_b * 8 / secs / 1e6);
        printf("  longest gap %.1f ms (session %d), RTP sequence jumps %llu, bad sessions %d\n",
               (double)max_gap / 1e6, gap_client, (unsigned long long)jumps, bad);
    }
    double machine_cpu = 100.0 * (double)busy / (double)hz / secs;
    printf("  CPU (%% of one core): whole machine %.1f of %ld, load client %.2f", machine_cpu,
           100 * sysconf(_SC_NPROCESSORS_ONLN), load_cpu);
    for (int i = 0; i < nprobes; i++)
        printf(", %s %.2f", probes[i].label, 100.0 * (double)ticks[i] / (double)hz / secs);
    printf("\n");
    printf("RESULT sessions=%d playing=%d seconds=%.2f bytes=%llu rtp=%llu rtcp=%llu "
           "min_bytes=%llu max_bytes=%llu max_gap_ms=%.1f seq_jumps=%llu bad=%d load_cpu=%.2f "
           "machine_cpu=%.1f",
           n, playing, secs, (unsigned long long)tot_bytes, (unsigned long long)tot_rtp,
           (unsigned long long)tot_rtcp, (unsigned long long)min_b, (unsigned long long)max_b,
           (double)max_gap / 1e6, (unsigned long long)jumps, bad, load_cpu, machine_cpu);
    for (int i = 0; i < nprobes; i++)
        printf(" cpu_%s=%.2f", probes[i].label, 100.0 * (double)ticks[i] / (double)hz / secs);
    printf("\n");

    for (int i = 0; i < n; i++) {
        if (cl[i].fd >= 0)
            close(cl[i].fd);
        free(cl[i].in);
    }
    free(cl);
    close(ep);
    return bad ? 1 : 0;
}
