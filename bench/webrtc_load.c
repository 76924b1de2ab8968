/*
 * WebRTC load client: one process, many light WebRTC viewers of one camera, for the fan-out
 * benchmark (bench/webrtc_fanout.sh). A viewer does what a browser's network stack does and no
 * more: a recvonly H.264 offer POSTed as WHEP to camvisor-http, an ICE check (USERNAME, PRIORITY,
 * USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT) to the answer's candidate, a DTLS 1.2 client
 * handshake with use_srtp (OpenSSL), then it receives the SRTP packets and counts them without
 * decrypting (the RTP header is clear: sequence numbers give the losses), and sends a consent
 * check every 5 s. Nothing is decoded: the cost measured is the server's.
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
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
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

#include "common/net/sdp-webrtc.h"
#include "common/net/stun.h"

#define MAX_PROBES 8

struct viewer {
    int fd;
    bool playing;
    char lufrag[9], lpwd[25];    /* ours */
    char rufrag[257], rpwd[257]; /* the server's */
    struct sockaddr_in to;
    uint64_t bytes, packets, lost;
    uint16_t last_seq;
    bool have_seq;
    SSL *ssl;
};

struct probe {
    char label[32];
    int pids[16], npids;
    uint64_t t0;
};

static SSL_CTX *g_ctx;
static char g_fp[128];
static struct cv_webrtc_sdp_offer g_answer; /* ~30 KiB: one, reused */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

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
                               (const unsigned char *)"load", -1, -1, 0);
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

/* Viewer i's own source address on loopback (127.1.x.y): viewers count as different hosts, as
 * they would be, for the per-address caps and offer rate. */
static struct sockaddr_in source_of(int i)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((i / 250) << 8) | (uint32_t)(i % 250 + 1));
    return a;
}

/* POSTs the offer (WHEP) and reads the answer into buf. 0 or -1. */
static int whep(int i, const char *host, int port, const char *cam, const char *offer, char *buf,
                size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct sockaddr_in src = source_of(i);
    inet_pton(AF_INET, host, &a.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
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
    uint64_t tie = 0x1122334455667788ull;
    uint8_t tb[8];
    for (int i = 0; i < 8; i++)
        tb[i] = (uint8_t)(tie >> (56 - 8 * i));
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

static int start_viewer(int i, struct viewer *v, const char *host, int port, const char *cam)
{
    static char offer[4096], ans[65536];
    rand_text(v->lufrag, sizeof(v->lufrag));
    rand_text(v->lpwd, sizeof(v->lpwd));
    snprintf(offer, sizeof(offer),
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
             "m=video 9 UDP/TLS/RTP/SAVPF 102\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:%s\r\n"
             "a=ice-pwd:%s\r\na=fingerprint:sha-256 %s\r\na=setup:actpass\r\na=mid:0\r\n"
             "a=recvonly\r\na=rtcp-mux\r\na=rtpmap:102 H264/90000\r\na=rtcp-fb:102 nack\r\n"
             "a=rtcp-fb:102 nack pli\r\na=fmtp:102 level-asymmetry-allowed=1;"
             "packetization-mode=1;profile-level-id=42e01f\r\n",
             v->lufrag, v->lpwd, g_fp);
    if (whep(i, host, port, cam, offer, ans, sizeof(ans)) < 0) {
        fprintf(stderr, "offer refused: %.200s\n", ans);
        return -1;
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
    struct sockaddr_in src = source_of(i);
    if (v->fd < 0 || bind(v->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
        return -1;
    int big = 1 << 20;
    setsockopt(v->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
    struct timeval tv = {2, 0};
    setsockopt(v->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (v->fd < 0 || connect(v->fd, (struct sockaddr *)&v->to, sizeof(v->to)) < 0 ||
        stun_check(v, true) < 0)
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
        fprintf(stderr, "DTLS failed: %s\n", ERR_reason_error_string(ERR_get_error()));
        return -1;
    }
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
            while ((r = recv(v->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
                if (r < 12 || buf[0] < 128 || buf[0] > 191 || (buf[1] >= 192 && buf[1] <= 223))
                    continue; /* STUN answers, RTCP */
                uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
                if (counting) {
                    v->bytes += (uint64_t)r;
                    v->packets++;
                    if (v->have_seq && (uint16_t)(seq - v->last_seq) > 1 &&
                        (uint16_t)(seq - v->last_seq) < 1000)
                        v->lost += (uint16_t)(seq - v->last_seq) - 1u;
                }
                if (!v->have_seq || (int16_t)(seq - v->last_seq) > 0)
                    v->last_seq = seq;
                v->have_seq = true;
            }
        }
        if (now_ns() >= next_check) { /* ICE consent: the server closes a silent session */
            for (int i = 0; i < n; i++)
                if (vs[i].playing)
                    stun_check(&vs[i], false);
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
    if (!cam || sscanf(url, "http://%63[^:]:%d", host, &port) != 2 || make_ctx() < 0)
        return 2;
    struct viewer *vs = calloc((size_t)n, sizeof(*vs));
    int ep = epoll_create1(0);
    int playing = 0;
    for (int i = 0; i < n; i++) {
        vs[i].fd = -1;
        if (start_viewer(i, &vs[i], host, port, cam) < 0) {
            fprintf(stderr, "viewer %d did not start\n", i);
            continue;
        }
        playing++;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, vs[i].fd, &ev);
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
        if (vs[i].ssl)
            SSL_shutdown(vs[i].ssl);
    return playing == n && got == n && lost * 100 <= packets ? 0 : 1;
}
