/*
 * Ring throughput: one writer process and 1, 4 or 16 reader processes on a default-sized ring
 * (6 MiB, 1024 slots), against plain memcpy on the same machine.
 *
 * A writer running flat out laps every reader within microseconds (it writes at memcpy speed into
 * a cache-resident ring while each reader must also copy), so the figure worth having is the
 * loss-free rate: this benchmark's writer, and only it, throttles itself to stay at most half a
 * ring ahead of the slowest reader (readers publish their position in a shared page, outside the
 * ring). The ring's own writer never waits for anyone; the throttle just finds the rate readers
 * sustain. Readers busy-poll: on CV_RING_EMPTY they sched_yield() and try again, so with more
 * processes than cores they share the CPU with each other and the writer. Each cell is the
 * median of 3 runs of ~2 s; "skipped" (should stay ~0) is the share of frames readers lost.
 *
 *     build/bench/ring_bench [seconds-per-run]
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/ring/ring.h"

#define RUNS        3
#define MAX_READERS 16

struct counters {
    _Atomic uint64_t frames;
    _Atomic uint64_t bytes;
    _Atomic uint64_t skipped;
    _Atomic uint64_t next_seq; /* reader: the sequence after the last one it delivered */
    uint8_t pad[32];           /* one cache line each: the counters must not be the bottleneck */
};

struct shared {
    _Atomic int stop;
    _Atomic int ready;
    struct counters writer;
    struct counters r[MAX_READERS];
};

static struct shared *g_sh;

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* How far the writer may run ahead of the slowest reader: half the ring, by slots and by bytes. */
static uint64_t max_ahead(size_t frame)
{
    uint64_t by_data = CV_RING_DEFAULT_DATA / 2 / frame, by_slots = CV_RING_DEFAULT_SLOTS / 2;
    return by_data < by_slots ? by_data : by_slots;
}

static uint64_t slowest_reader(int readers)
{
    uint64_t min = UINT64_MAX;
    for (int i = 0; i < readers; i++) {
        uint64_t s = atomic_load_explicit(&g_sh->r[i].next_seq, memory_order_relaxed);
        if (s < min)
            min = s;
    }
    return min;
}

static int writer_main(int fd, size_t frame, int readers)
{
    struct cv_ring_writer *w;
    uint8_t *buf = malloc(frame);
    if (!buf || cv_ring_writer_open(fd, &w) < 0)
        return 1;
    memset(buf, 0x5a, frame);
    atomic_fetch_add(&g_sh->ready, 1);
    uint64_t ahead = max_ahead(frame);
    for (uint64_t n = 0; !atomic_load_explicit(&g_sh->stop, memory_order_relaxed); n++) {
        /* The ring starts at seq 1, so frame n gets seq n + 1. */
        while (n + 1 >= slowest_reader(readers) + ahead &&
               !atomic_load_explicit(&g_sh->stop, memory_order_relaxed))
            sched_yield();
        struct cv_frame f = {.flags = n % 50 == 0 ? CV_FRAME_KEY : 0, .pts = (int64_t)n};
        if (cv_ring_write(w, &f, buf, frame) != 0)
            return 1;
        atomic_fetch_add_explicit(&g_sh->writer.frames, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&g_sh->writer.bytes, frame, memory_order_relaxed);
    }
    cv_ring_writer_close(w);
    free(buf);
    return 0;
}

static int reader_main(int fd, int idx, size_t frame)
{
    struct cv_ring_reader *r;
    uint8_t *buf = malloc(frame);
    if (!buf || cv_ring_reader_open(fd, &r) < 0)
        return 1;
    struct counters *c = &g_sh->r[idx];
    atomic_store(&c->next_seq, 1);
    atomic_fetch_add(&g_sh->ready, 1);
    uint64_t last_skipped = 0;
    while (!atomic_load_explicit(&g_sh->stop, memory_order_relaxed)) {
        struct cv_frame f;
        int rc = cv_ring_read(r, &f, buf, frame);
        if (rc == CV_RING_EMPTY) {
            sched_yield();
            continue;
        }
        if (rc != CV_RING_OK)
            return 1;
        atomic_fetch_add_explicit(&c->frames, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&c->bytes, f.len, memory_order_relaxed);
        atomic_store_explicit(&c->next_seq, f.seq + 1, memory_order_relaxed);
        uint64_t sk = cv_ring_reader_skipped(r);
        atomic_fetch_add_explicit(&c->skipped, sk - last_skipped, memory_order_relaxed);
        last_skipped = sk;
    }
    cv_ring_reader_close(r);
    free(buf);
    return 0;
}

struct result {
    double writer_mbs;
    double reader_mbs; /* median over readers */
    double total_mbs;  /* sum over readers */
    double skipped_pct;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int run_ring(int readers, size_t frame, double seconds, struct result *res)
{
    int fd, ro, rc = cv_ring_create("ring-bench", CV_RING_DEFAULT_DATA, CV_RING_DEFAULT_SLOTS, &fd);
    if (rc < 0)
        return rc;
    ro = cv_ring_reopen_readonly(fd);
    if (ro < 0) {
        close(fd);
        return ro;
    }
    memset(g_sh, 0, sizeof(*g_sh));
    pid_t pids[MAX_READERS + 1];
    int n = 0;
    for (int i = 0; i < readers; i++) {
        pid_t p = fork();
        if (p == 0)
            _exit(reader_main(ro, i, frame));
        pids[n++] = p;
    }
    pid_t p = fork();
    if (p == 0)
        _exit(writer_main(fd, frame, readers));
    pids[n++] = p;

    while (atomic_load(&g_sh->ready) < readers + 1)
        sleep_ms(1);
    sleep_ms(200); /* warm-up: caches, page tables, the scheduler settling */
    uint64_t w0 = atomic_load(&g_sh->writer.bytes), b0[MAX_READERS], s0[MAX_READERS];
    uint64_t f0 = atomic_load(&g_sh->writer.frames);
    for (int i = 0; i < readers; i++) {
        b0[i] = atomic_load(&g_sh->r[i].bytes);
        s0[i] = atomic_load(&g_sh->r[i].skipped);
    }
    uint64_t t0 = cv_clock_mono_ns();
    sleep_ms((long)(seconds * 1000));
    uint64_t t1 = cv_clock_mono_ns();
    uint64_t w1 = atomic_load(&g_sh->writer.bytes), f1 = atomic_load(&g_sh->writer.frames);
    double per[MAX_READERS] = {0}, dt = (double)(t1 - t0) / 1e9, total = 0, skipped = 0;
    for (int i = 0; i < readers; i++) {
        per[i] = (double)(atomic_load(&g_sh->r[i].bytes) - b0[i]) / dt / 1e6;
        total += per[i];
        skipped += (double)(atomic_load(&g_sh->r[i].skipped) - s0[i]);
    }
    atomic_store(&g_sh->stop, 1);

    int failed = 0;
    for (int i = 0; i < n; i++) {
        int status;
        waitpid(pids[i], &status, 0);
        failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    close(ro);
    close(fd);
    res->writer_mbs = (double)(w1 - w0) / dt / 1e6;
    res->reader_mbs = median(per, readers);
    res->total_mbs = total;
    res->skipped_pct = f1 > f0 ? 100.0 * skipped / readers / (double)(f1 - f0) : 0;
    return failed ? -EIO : 0;
}

/* memcpy of frame-sized blocks out of a ring-sized buffer into one frame buffer, as a reader does.
 */
static double run_memcpy(size_t frame, double seconds)
{
    size_t area = CV_RING_DEFAULT_DATA;
    uint8_t *src = malloc(area), *dst = malloc(frame);
    if (!src || !dst)
        return 0;
    memset(src, 1, area);
    memset(dst, 2, frame);
    uint64_t bytes = 0, t0 = cv_clock_mono_ns(), deadline = t0 + (uint64_t)(seconds * 1e9), t1;
    size_t off = 0;
    do {
        for (int i = 0; i < 64; i++) {
            memcpy(dst, src + off, frame);
            off = off + frame + frame > area ? 0 : off + frame;
            /* Keep the copy from being optimised away. */
            __asm__ volatile("" : : "r"(dst) : "memory");
        }
        bytes += 64 * frame;
        t1 = cv_clock_mono_ns();
    } while (t1 < deadline);
    free(src);
    free(dst);
    return (double)bytes / ((double)(t1 - t0) / 1e9) / 1e6;
}

static void print_machine(void)
{
    char line[256], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(model, sizeof(model), "%s", c + 2);
                model[strcspn(model, "\n")] = 0;
            }
            break;
        }
    }
    if (f)
        fclose(f);
    printf("machine: %ld online CPUs, %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    if (seconds <= 0)
        seconds = 2.0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) {
        perror("mmap");
        return 1;
    }

    print_machine();
    printf("ring %u MiB, %u slots; writer throttled to stay <= half a ring ahead of the slowest "
           "reader; readers busy-poll (sched_yield on EMPTY); median of %d runs of %.1f s; "
           "MB = 10^6 bytes\n\n",
           CV_RING_DEFAULT_DATA >> 20, CV_RING_DEFAULT_SLOTS, RUNS, seconds);

    static const size_t frames[] = {16u << 10, 64u << 10};
    static const int readers[] = {1, 4, 16};
    printf("%-7s %-8s %10s %12s %12s %9s %12s %12s\n", "frame", "readers", "writer", "per reader",
           "all readers", "skipped", "reader/cpy", "all/memcpy");
    for (size_t fi = 0; fi < sizeof(frames) / sizeof(frames[0]); fi++) {
        double m[RUNS];
        for (int k = 0; k < RUNS; k++)
            m[k] = run_memcpy(frames[fi], seconds / 2);
        double mcpy = median(m, RUNS);
        printf("%-7s %-8s %10s %12.0f %12s %9s %12s %12s\n",
               frames[fi] == (16u << 10) ? "16 KiB" : "64 KiB", "memcpy", "-", mcpy, "-", "-",
               "1.00", "-");
        for (size_t ri = 0; ri < sizeof(readers) / sizeof(readers[0]); ri++) {
            double wv[RUNS], rv[RUNS], tv[RUNS], sv[RUNS];
            for (int k = 0; k < RUNS; k++) {
                struct result res;
                int rc = run_ring(readers[ri], frames[fi], seconds, &res);
                if (rc < 0) {
                    fprintf(stderr, "run failed: %s\n", strerror(-rc));
                    return 1;
                }
                wv[k] = res.writer_mbs;
                rv[k] = res.reader_mbs;
                tv[k] = res.total_mbs;
                sv[k] = res.skipped_pct;
            }
            double w = median(wv, RUNS), r = median(rv, RUNS), t = median(tv, RUNS);
            double s = median(sv, RUNS);
            printf("%-7s %-8d %10.0f %12.0f %12.0f %8.1f%% %12.2f %12.2f\n", "", readers[ri], w, r,
                   t, s, r / mcpy, t / mcpy);
        }
    }
    printf("\nwriter, per reader (median), all readers (sum): MB/s; skipped: share of the "
           "writer's frames a reader lost to laps; memcpy: one process copying frame-sized blocks "
           "out of a 6 MiB buffer\n");
    munmap(g_sh, sizeof(*g_sh));
    return 0;
}
