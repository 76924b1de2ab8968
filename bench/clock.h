/*
 * The two clocks of the micro-benchmarks (wakeup_cost, ingest_cost): wall time and the calling
 * process's own CPU time (user + system), both in seconds.
 */
#ifndef CV_BENCH_CLOCK_H
#define CV_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double bench_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

#endif
