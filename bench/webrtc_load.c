/*
 * WebRTC load client: one process, many light WebRTC viewers of one camera, for the fan-out
 * benchmark (bench/webrtc_fanout.sh). A viewer (bench/whep_viewer.h) does what a browser's
 * network stack does and no more: a recvonly H.264 offer POSTed as WHEP to camvisor-http, an ICE
 * check (USERNAME, PRIORITY, USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT) to the answer's
 * candidate, a DTLS 1.2 client handshake with use_srtp (OpenSSL), then it receives the SRTP
 * packets and counts them without decrypting (the RTP header is clear: sequence numbers give the
 * losses), and sends a consent check every 5 s. Nothing is decoded: the cost measured is the
 * server's.
 *
 *     webrtc_load -u http://127.0.0.1:1984 -s camera [-n viewers] [-d seconds] [-w warmup]
 *                 [-p label=pid[,pid...]]...
 *
 * The last line is machine-readable:
 *     RESULT viewers=50 playing=50 seconds=20.00 mbit_per_viewer=... lost=0 load_cpu=...
 *            cpu_<label>=... pss_<label>=... (CPU in % of one core over the window; PSS in MiB
 *            at its end, the viewers still playing)
 * Exit status: 0 when every viewer played with no loss over 1 %, 1 otherwise, 2 on errors.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
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

#include "bench/whep_viewer.h"

#define MAX_PROBES 8

struct viewer {
    struct whep_viewer w;
    bool playing;
    uint64_t bytes, packets, lost;
    struct rtp_seq seq;
};

struct probe {
    char label[32];
    int pids[16], npids;
    uint64_t t0;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Viewer i's own source address on loopback (127.1.x.y): viewers count as different hosts, as
 * they would be, for the per-address caps and offer rate. */
static struct sockaddr_in source_of(int i)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((i / 250) << 8) | (uint32_t)(i % 250 + 1));
    return a;
}

static int start_viewer(int i, struct viewer *v, const char *host, int port, const char *cam)
{
    struct sockaddr_in src = source_of(i);
    struct whep_opts o = {.src = &src, .rcvbuf = 1 << 20, .tries = 1, .who = ""};
    if (whep_viewer_start(&v->w, host, port, cam, &o) < 0)
        return -1;
    v->playing = true;
    return 0;
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
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
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

/* Proportional set size of pid in MiB (/proc/<pid>/smaps_rollup), 0 when unknown. */
static double pss_mib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    double kb = 0;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "Pss: %lf kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb / 1024;
}

static double rusage_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* Receives for until_ns; counts while counting. */
static void run(int ep, struct viewer *vs, int n, uint64_t until_ns, bool counting)
{
    struct epoll_event evs[64];
    uint64_t next_check = now_ns() + 5000000000ull;
    uint8_t buf[2048];
    while (now_ns() < until_ns) {
        int k = epoll_wait(ep, evs, 64, 100);
        for (int i = 0; i < k; i++) {
            struct viewer *v = &vs[evs[i].data.u32];
            ssize_t r;
            while ((r = recv(v->w.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
                if (!is_rtp(buf, r))
                    continue; /* STUN answers, RTCP */
                unsigned lost = rtp_seq_lost(&v->seq, (uint16_t)(buf[2] << 8 | buf[3]));
                if (counting) {
                    v->bytes += (uint64_t)r;
                    v->packets++;
                    v->lost += lost;
                }
            }
        }
        if (now_ns() >= next_check) { /* ICE consent: the server closes a silent session */
            for (int i = 0; i < n; i++)
                if (vs[i].playing)
                    stun_check(&vs[i].w, false);
            next_check = now_ns() + 5000000000ull;
        }
    }
}

int main(int argc, char **argv)
{
    const char *url = "http://127.0.0.1:1984", *cam = NULL;
    int n = 10, secs = 20, warm = 3, nprobes = 0;
    struct probe probes[MAX_PROBES];
    int opt;
    while ((opt = getopt(argc, argv, "u:s:n:d:w:p:")) != -1) {
        if (opt == 'u')
            url = optarg;
        else if (opt == 's')
            cam = optarg;
        else if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'd')
            secs = atoi(optarg);
        else if (opt == 'w')
            warm = atoi(optarg);
        else if (opt == 'p' && nprobes < MAX_PROBES) {
            struct probe *p = &probes[nprobes++];
            memset(p, 0, sizeof(*p));
            char *eq = strchr(optarg, '=');
            if (!eq)
                return 2;
            snprintf(p->label, sizeof(p->label), "%.*s", (int)(eq - optarg), optarg);
            for (char *s = eq + 1, *save = NULL, *tok; (tok = strtok_r(s, ",", &save)); s = NULL)
                if (p->npids < 16)
                    p->pids[p->npids++] = atoi(tok);
        } else {
            fprintf(stderr, "usage: webrtc_load -u URL -s CAMERA [-n N] [-d S] [-w S] "
                            "[-p label=pid,...]\n");
            return 2;
        }
    }
    char host[64] = "127.0.0.1";
    int port = 1984;
    if (!cam || sscanf(url, "http://%63[^:]:%d", host, &port) != 2 || make_ctx("load") < 0)
        return 2;
    struct viewer *vs = calloc((size_t)n, sizeof(*vs));
    int ep = epoll_create1(0);
    int playing = 0;
    for (int i = 0; i < n; i++) {
        vs[i].w.fd = -1;
        if (start_viewer(i, &vs[i], host, port, cam) < 0) {
            fprintf(stderr, "viewer %d did not start\n", i);
            continue;
        }
        playing++;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, vs[i].w.fd, &ev);
    }
    run(ep, vs, n, now_ns() + (uint64_t)warm * 1000000000ull, false);
    for (int i = 0; i < nprobes; i++)
        probes[i].t0 = probe_ticks(&probes[i]);
    double self0 = rusage_s();
    uint64_t t0 = now_ns();
    run(ep, vs, n, t0 + (uint64_t)secs * 1000000000ull, true);
    double dt = (double)(now_ns() - t0) / 1e9;
    double self = (rusage_s() - self0) / dt * 100;
    uint64_t bytes = 0, packets = 0, lost = 0;
    int got = 0;
    for (int i = 0; i < n; i++) {
        bytes += vs[i].bytes;
        packets += vs[i].packets;
        lost += vs[i].lost;
        got += vs[i].packets > 0;
    }
    long hz = sysconf(_SC_CLK_TCK);
    printf("RESULT viewers=%d playing=%d receiving=%d seconds=%.2f mbit_per_viewer=%.2f "
           "packets=%llu lost=%llu load_cpu=%.1f",
           n, playing, got, dt, n ? bytes * 8 / dt / 1e6 / n : 0.0, (unsigned long long)packets,
           (unsigned long long)lost, self);
    for (int i = 0; i < nprobes; i++) {
        double pss = 0;
        for (int k = 0; k < probes[i].npids; k++)
            pss += pss_mib(probes[i].pids[k]);
        printf(" cpu_%s=%.1f pss_%s=%.1f", probes[i].label,
               (double)(probe_ticks(&probes[i]) - probes[i].t0) / (double)hz / dt * 100,
               probes[i].label, pss);
    }
    printf("\n");
    for (int i = 0; i < n; i++) /* close_notify: the server ends the session now */
        if (vs[i].w.ssl)
            SSL_shutdown(vs[i].w.ssl);
    return playing == n && got == n && lost * 100 <= packets ? 0 : 1;
}
