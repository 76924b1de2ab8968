/*
 * The figures of the latency benchmarks (rtsp_latency.c, webrtc_latency.c): one format for both,
 * so that their RESULT lines compare and lib.sh's latency_runs reads either.
 *
 * A header of static functions, not a .c file: each bench/NAME.c is a program of its own
 * (Makefile), so code two of them share has nowhere else to go.
 */
#ifndef CV_BENCH_LATENCY_REPORT_H
#define CV_BENCH_LATENCY_REPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the latencies (ns) of the got frames measured and of the keys keyframes among them. */
static void latency_sort(uint64_t *lat, int got, uint64_t *klat, int keys)
{
    qsort(lat, (size_t)got, sizeof(*lat), cmp_u64);
    qsort(klat, (size_t)keys, sizeof(*klat), cmp_u64);
}

/* After latency_sort(): the percentiles, the keyframes', and the RESULT line the scripts parse.
 * what: where the time ends, "viewer packet out". */
static void latency_print(const uint64_t *lat, int got, const uint64_t *klat, int keys, int missing,
                          const char *what)
{
#define PCT(q) (lat[(size_t)((got - 1) * (q))] / 1e6)
    printf("added latency camera packet in -> %s: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, "
           "max %.3f ms\n",
           what, PCT(0.5), PCT(0.9), PCT(0.99), lat[got - 1] / 1e6);
    if (keys)
        printf("keyframes only (%d): p50 %.3f ms, max %.3f ms\n", keys, klat[(keys - 1) / 2] / 1e6,
               klat[keys - 1] / 1e6);
    printf("RESULT frames=%d missing=%d p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f\n", got,
           missing, PCT(0.5), PCT(0.9), PCT(0.99), lat[got - 1] / 1e6);
#undef PCT
}

#endif
