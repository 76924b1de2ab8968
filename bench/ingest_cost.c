/*
 * What one camera frame costs the processes that carry it, taken apart: the price list behind
 * bench/cameras16.sh's figure (bench/RESULTS.md §8).
 *
 * One sender process plays 16 "cameras": a 21 kB frame (the 1080p25 4 Mbit/s clip's average)
 * to each of 16 loopback TCP connections at 25 fps, out of phase (a frame every 2.5 ms in all).
 * 16 receiver processes, one per connection, each sleep in epoll_wait and on every wake-up do
 * what the case says:
 *
 *   recv        recv() the frame into a 256 KiB buffer (a worker's socket read)
 *   ring        + copy it into a 6 MiB shared memfd ring (the worker's ring write)
 *   ring+bell   + write an eventfd that one consumer process waits on (edge-triggered, as
 *               camvisor-rtsp does) and, on each wake-up, copies the frame out of that ring
 *
 * CPU comes from getrusage of each process; reported in % of one core for the 16 receivers
 * together and in microseconds per frame, plus the consumer's share in the last case. Medians
 * of 3 runs of the given seconds (default 5). The sender's CPU is not counted.
 *
 *     build/bench/ingest_cost [seconds]
 *     taskset -c 0 build/bench/ingest_cost   # every wake-up on one CPU: no cross-CPU wake-ups
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"

#define CAMS      16
#define FPS       25
#define FRAME     21000
#define RING_SIZE (6u << 20)
#define IN_SIZE   (256u << 10)
#define RUNS      3
#define CASE_RECV 0
#define CASE_RING 1
#define CASE_BELL 2

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/*
 * A memfd ring of RING_SIZE. Each process that maps it takes a page fault per page on its first
 * lap (a fork does not copy a shared mapping's page table): each one touches its rings once
 * before the clock starts, so that the figures are the steady state.
 */
static uint8_t *ring_new(void)
{
    int fd = memfd_create("ingest_cost", 0);
    if (fd < 0 || ftruncate(fd, RING_SIZE) < 0)
        die("memfd");
    uint8_t *p = mmap(NULL, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        die("mmap");
    close(fd);
    return p;
}

/* Paces FRAME bytes to each socket at FPS, the cameras spread evenly over a frame interval. */
static void sender(const int *tx, double secs)
{
    static uint8_t buf[FRAME];
    memset(buf, 0x5a, sizeof(buf));
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long frames = (long)(secs * FPS * CAMS);
    for (long k = 0; k < frames; k++) {
        t.tv_nsec += 1000000000L / (FPS * CAMS);
        if (t.tv_nsec >= 1000000000L) {
            t.tv_nsec -= 1000000000L;
            t.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
        if (write(tx[k % CAMS], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
            _exit(1);
    }
    _exit(0);
}

static double receiver(int sock, int what, uint8_t *ring, int bell, double secs)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    uint8_t *in = malloc(IN_SIZE);
    if (ep < 0 || !in || epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0)
        die("receiver");
    memset(in, 0, IN_SIZE);
    if (ring)
        memset(ring, 0, RING_SIZE);
    size_t pos = 0;
    double c0 = bench_cpu_s(), end = bench_now_s() + secs;
    while (bench_now_s() < end) {
        if (epoll_wait(ep, &ev, 1, 100) <= 0)
            continue;
        ssize_t n = recv(sock, in, IN_SIZE, 0);
        if (n <= 0 || what == CASE_RECV)
            continue;
        if (pos + (size_t)n > RING_SIZE)
            pos = 0;
        memcpy(ring + pos, in, (size_t)n);
        pos += (size_t)n;
        uint64_t one = 1;
        if (what == CASE_BELL && write(bell, &one, sizeof(one)) < 0)
            die("bell");
    }
    return bench_cpu_s() - c0;
}

/* The consumer: one edge-triggered eventfd per camera, a copy of FRAME bytes per wake-up. */
static double consumer(const int *bells, uint8_t *const *rings, double secs)
{
    int ep = epoll_create1(0);
    static uint8_t frame[FRAME];
    for (int i = 0; i < CAMS; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.u32 = (uint32_t)i};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, bells[i], &ev) < 0)
            die("consumer");
    }
    size_t pos[CAMS] = {0};
    volatile uint8_t sink = 0;
    for (int i = 0; i < CAMS; i++)
        for (size_t off = 0; off < RING_SIZE; off += 4096)
            sink ^= rings[i][off];
    (void)sink;
    double c0 = bench_cpu_s(), end = bench_now_s() + secs;
    while (bench_now_s() < end) {
        struct epoll_event evs[CAMS];
        int n = epoll_wait(ep, evs, CAMS, 100);
        for (int j = 0; j < n; j++) {
            uint32_t i = evs[j].data.u32;
            if (pos[i] + FRAME > RING_SIZE)
                pos[i] = 0;
            memcpy(frame, rings[i] + pos[i], FRAME);
            pos[i] += FRAME;
        }
    }
    return bench_cpu_s() - c0;
}

/* One run: CPU seconds of the 16 receivers together (*recv) and of the consumer (*cons). */
static void run(int what, double secs, double *recv_cpu, double *cons_cpu)
{
    double *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    if (shared == MAP_FAILED || lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) < 0 || listen(lfd, CAMS) < 0)
        die("listen");
    int tx[CAMS], rx[CAMS], bells[CAMS];
    uint8_t *rings[CAMS];
    for (int i = 0; i < CAMS; i++) {
        tx[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (tx[i] < 0 || connect(tx[i], (struct sockaddr *)&a, sizeof(a)) < 0)
            die("connect");
        rx[i] = accept(lfd, NULL, NULL);
        bells[i] = eventfd(0, EFD_NONBLOCK);
        rings[i] = what == CASE_RECV ? NULL : ring_new();
        if (rx[i] < 0 || bells[i] < 0)
            die("accept");
    }
    pid_t pids[CAMS + 2];
    int np = 0;
    for (int i = 0; i < CAMS; i++) {
        if ((pids[np++] = fork()) == 0) {
            shared[i] = receiver(rx[i], what, rings[i], bells[i], secs);
            _exit(0);
        }
    }
    if (what == CASE_BELL && (pids[np++] = fork()) == 0) {
        shared[CAMS] = consumer(bells, rings, secs);
        _exit(0);
    }
    if ((pids[np++] = fork()) == 0)
        sender(tx, secs + 0.5);
    for (int i = 0; i < np; i++)
        waitpid(pids[i], NULL, 0);
    *recv_cpu = 0;
    for (int i = 0; i < CAMS; i++)
        *recv_cpu += shared[i];
    *cons_cpu = what == CASE_BELL ? shared[CAMS] : 0;
    for (int i = 0; i < CAMS; i++) {
        close(tx[i]);
        close(rx[i]);
        close(bells[i]);
        if (rings[i])
            munmap(rings[i], RING_SIZE);
    }
    close(lfd);
    munmap(shared, 4096);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 5;
    static const char *names[] = {"recv", "recv + ring copy", "recv + ring copy + doorbell"};
    double frames = secs * FPS * CAMS;
    printf("ingest cost: %d cameras x %d fps x %d bytes over loopback TCP, median of %d runs of "
           "%.0f s\n\n",
           CAMS, FPS, FRAME, RUNS, secs);
    printf("| case | %d receivers, %% of one core | us per frame | consumer %% | consumer us per "
           "frame |\n|---|---|---|---|---|\n",
           CAMS);
    for (int what = CASE_RECV; what <= CASE_BELL; what++) {
        double r[RUNS], c[RUNS];
        for (int k = 0; k < RUNS; k++)
            run(what, secs, &r[k], &c[k]);
        qsort(r, RUNS, sizeof(double), cmp);
        qsort(c, RUNS, sizeof(double), cmp);
        double rm = r[RUNS / 2], cm = c[RUNS / 2];
        if (what == CASE_BELL)
            printf("| %s | %.2f | %.1f | %.2f | %.1f |\n", names[what], rm / secs * 100,
                   rm / frames * 1e6, cm / secs * 100, cm / frames * 1e6);
        else
            printf("| %s | %.2f | %.1f | | |\n", names[what], rm / secs * 100, rm / frames * 1e6);
    }
    return 0;
}
