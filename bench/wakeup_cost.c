/*
 * What one wake-up costs on this machine: the unit price behind a process per camera.
 *
 * A process that sleeps in epoll_wait and wakes R times a second does no work but still pays for
 * the syscall, the timer or doorbell, and two context switches per wake-up; on a virtual machine
 * these are dearer than on bare metal. Two cases, each for R in 25 (one camera's frames), 200 (a
 * 5 ms poll tick) and 1000:
 *
 *   timer     one process, epoll_wait with a timeout of 1/R s (what a polling tick costs)
 *   doorbell  a writer process paced by clock_nanosleep writes 1 to an eventfd R times a second;
 *             a reader process sleeps in epoll_wait on it and reads it (a worker ringing a
 *             consumer's doorbell once per frame); both sides' CPU is reported
 *
 * CPU is from getrusage (the reader's and the writer's own), in % of one core and in
 * microseconds per wake-up. Medians of 3 runs of the given seconds each (default 2).
 *
 *     build/bench/wakeup_cost [seconds]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"

#define RUNS 3

/* One process waking on an epoll_wait timeout: returns its CPU seconds, counts wake-ups. */
static double run_timer(int rate, double secs, long *wakes)
{
    int ep = epoll_create1(0);
    struct epoll_event ev;
    double c0 = bench_cpu_s(), end = bench_now_s() + secs;
    *wakes = 0;
    while (bench_now_s() < end) {
        epoll_wait(ep, &ev, 1, 1000 / rate);
        (*wakes)++;
    }
    close(ep);
    return bench_cpu_s() - c0;
}

/* Writer child paced at rate, reader (this process) on epoll: CPU seconds of each. */
static void run_doorbell(int rate, double secs, double *reader, double *writer, long *wakes)
{
    int efd = eventfd(0, EFD_NONBLOCK);
    double *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    pid_t pid = fork();
    if (pid == 0) {
        double c0 = bench_cpu_s();
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long n = (long)(secs * rate);
        uint64_t one = 1;
        for (long i = 0; i < n; i++) {
            t.tv_nsec += 1000000000L / rate;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_nsec -= 1000000000L;
                t.tv_sec++;
            }
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
            if (write(efd, &one, sizeof(one)) < 0)
                _exit(1);
        }
        shared[0] = bench_cpu_s() - c0;
        _exit(0);
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
    double c0 = bench_cpu_s(), end = bench_now_s() + secs + 0.2;
    *wakes = 0;
    while (bench_now_s() < end) {
        uint64_t v;
        if (epoll_wait(ep, &ev, 1, 100) > 0 && read(efd, &v, sizeof(v)) == sizeof(v))
            (*wakes)++;
    }
    *reader = bench_cpu_s() - c0;
    waitpid(pid, NULL, 0);
    *writer = shared[0];
    munmap(shared, 4096);
    close(ep);
    close(efd);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2;
    static const int rates[] = {25, 200, 1000};
    printf("wake-up cost, median of %d runs of %.0f s (CPU in %% of one core; us per wake-up)\n\n",
           RUNS, secs);
    printf("| case | wake-ups/s | CPU %% | us/wake-up | writer CPU %% | writer us/write |\n");
    printf("|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        int r = rates[i];
        double cpu[RUNS], per[RUNS];
        for (int k = 0; k < RUNS; k++) {
            long w;
            cpu[k] = run_timer(r, secs, &w);
            per[k] = cpu[k] / (double)(w ? w : 1) * 1e6;
            cpu[k] = cpu[k] / secs * 100;
        }
        qsort(cpu, RUNS, sizeof(double), cmp);
        qsort(per, RUNS, sizeof(double), cmp);
        printf("| timer (epoll_wait timeout) | %d | %.2f | %.1f | | |\n", r, cpu[RUNS / 2],
               per[RUNS / 2]);
    }
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        int r = rates[i];
        double rc[RUNS], rp[RUNS], wc[RUNS], wp[RUNS];
        for (int k = 0; k < RUNS; k++) {
            long w;
            double rd, wr;
            run_doorbell(r, secs, &rd, &wr, &w);
            rc[k] = rd / secs * 100;
            rp[k] = rd / (double)(w ? w : 1) * 1e6;
            wc[k] = wr / secs * 100;
            wp[k] = wr / (secs * r) * 1e6;
        }
        qsort(rc, RUNS, sizeof(double), cmp);
        qsort(rp, RUNS, sizeof(double), cmp);
        qsort(wc, RUNS, sizeof(double), cmp);
        qsort(wp, RUNS, sizeof(double), cmp);
        printf("| doorbell (eventfd, reader on epoll) | %d | %.2f | %.1f | %.2f | %.1f |\n", r,
               rc[RUNS / 2], rp[RUNS / 2], wc[RUNS / 2], wp[RUNS / 2]);
    }
    return 0;
}
