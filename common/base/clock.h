/* Time helpers: monotonic for intervals and deadlines, realtime only for display and RTCP. */
#ifndef CV_CLOCK_H
#define CV_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t cv_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wallclock (CLOCK_REALTIME) in ns since 1970: for display and RTCP's NTP timestamps. */
static inline uint64_t cv_clock_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cv_clock_mono_ms(void)
{
    return cv_clock_mono_ns() / 1000000ull;
}

#endif
