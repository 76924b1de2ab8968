/*
 * Ring stress test across processes: one writer, eight readers, the parent SIGKILLing and
 * restarting all of them at random for a few seconds (argv[1], default 8).
 *
 * The writer publishes frames of 100 B to 64 KiB whose payload carries its own sequence number,
 * length and a 64-bit hash, into a small ring (1 MiB, 256 slots) so laps happen both by slots and
 * by data. Readers (read-only fd, polling with short sleeps; some sleep long enough to be lapped)
 * verify every delivered frame: payload intact, sequence strictly increasing, every gap reported
 * (DISCONT, and counted by the skipped counter to the frame), resyncs landing on keyframes, codec
 * parameters never torn. Counters live in a shared page so a SIGKILLed reader's tallies survive.
 * The parent prints one line per check and ends with exactly one "N passed, N failed" line.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

#define READERS       8
#define RING_DATA     (1u << 20)
#define RING_SLOTS    256u
#define KEY_EVERY     30
#define MAX_FRAME     (64u << 10)
#define SMALL_CAP     (48u << 10) /* the last reader's buffer: some frames do not fit (-ENOBUFS) */
#define PAYLOAD_MAGIC 0x5354524553534652ull

struct payload_hdr {
    uint64_t magic;
    uint64_t seq;
    uint32_t len;
    uint32_t flags;
    uint64_t hash; /* of the body after this header, seeded with seq, len and flags */
};

struct reader_stats {
    _Atomic uint64_t incarnations;
    _Atomic uint64_t delivered;
    _Atomic uint64_t bytes;
    _Atomic uint64_t skipped;  /* cv_ring_reader_skipped, summed over incarnations */
    _Atomic uint64_t disconts; /* delivered frames with CV_FRAME_DISCONT */
    _Atomic uint64_t gen_changes;
    _Atomic uint64_t nobufs;
    _Atomic uint64_t long_sleeps;
    _Atomic uint64_t info_reads;
    /* Failures: all must stay 0. */
    _Atomic uint64_t corrupt;     /* payload or metadata does not match what was written */
    _Atomic uint64_t order;       /* seq not strictly increasing */
    _Atomic uint64_t unaccounted; /* a gap without DISCONT, or skipped count != gap */
    _Atomic uint64_t bad_resync;  /* DISCONT landing on a non-keyframe (other than -ENOBUFS) */
    _Atomic uint64_t bad_start;   /* first frame of a reader not a keyframe, or marked DISCONT */
    _Atomic uint64_t info_torn;   /* codec parameters mixed from two updates */
    _Atomic uint64_t errors;      /* unexpected return codes */
};

/* Shared between the parent and every child (MAP_SHARED|MAP_ANONYMOUS, created before fork). */
struct shared {
    _Atomic int stop;
    _Atomic uint64_t writer_head; /* head_seq after the writer's last completed write */
    _Atomic uint64_t writer_frames;
    _Atomic uint64_t writer_keys;
    _Atomic uint64_t writer_errors;
    _Atomic uint64_t seq_breaks; /* a restarted writer did not continue the sequence */
    struct reader_stats r[READERS];
};

static struct shared *g_sh;

/* ---- payload ------------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint64_t body_hash(const uint8_t *p, size_t n, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_seed(uint64_t seq, uint32_t len, uint32_t flags)
{
    return seq * 0x9e3779b97f4a7c15ull ^ ((uint64_t)len << 32) ^ flags;
}

static void make_payload(uint8_t *buf, uint64_t seq, uint32_t len, uint32_t flags)
{
    struct payload_hdr h = {.magic = PAYLOAD_MAGIC, .seq = seq, .len = len, .flags = flags};
    uint64_t s = seq * 0xd1342543de82ef95ull + 1;
    size_t body = len - sizeof(h);
    uint8_t *p = buf + sizeof(h);
    for (size_t i = 0; i < body; i += 8) {
        uint64_t v = rng_next(&s);
        memcpy(p + i, &v, body - i < 8 ? body - i : 8);
    }
    h.hash = body_hash(p, body, hash_seed(seq, len, flags));
    memcpy(buf, &h, sizeof(h));
}

static bool payload_ok(const uint8_t *buf, const struct cv_frame *f)
{
    struct payload_hdr h;
    if (f->len < sizeof(h))
        return false;
    memcpy(&h, buf, sizeof(h));
    uint32_t key = f->flags & CV_FRAME_KEY;
    if (h.magic != PAYLOAD_MAGIC || h.seq != f->seq || h.len != f->len || h.flags != key)
        return false;
    if (f->pts != (int64_t)f->seq * 3000 || f->arrival_ns != f->seq)
        return false;
    return h.hash == body_hash(buf + sizeof(h), f->len - sizeof(h), hash_seed(h.seq, h.len, key));
}

/* Codec parameters whose every field derives from one tag: a torn copy mixes two tags. */
static void make_info(struct cv_stream_info *info, uint32_t tag)
{
    memset(info, 0, sizeof(*info));
    info->track_count = 1 + tag % CV_MAX_TRACKS;
    for (uint32_t t = 0; t < info->track_count; t++) {
        struct cv_track_info *ti = &info->tracks[t];
        ti->kind = CV_TRACK_VIDEO;
        ti->codec = CV_CODEC_H264;
        ti->clock_rate = tag;
        ti->width = (uint16_t)tag;
        ti->extradata_len = (uint16_t)(1 + tag % CV_MAX_EXTRADATA);
        memset(ti->extradata, (int)(tag & 0xff), ti->extradata_len);
    }
}

static bool info_ok(const struct cv_stream_info *info)
{
    if (info->track_count == 0)
        return true; /* never set, or cleared by a writer restart */
    uint32_t tag = info->tracks[0].clock_rate;
    struct cv_stream_info want;
    make_info(&want, tag);
    return memcmp(&want, info, sizeof(want)) == 0;
}

static void sleep_us(long us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- writer process ------------------------------------------------------------------------ */

static uint32_t frame_size(uint64_t *rng, uint64_t n)
{
    uint64_t r = rng_next(rng) % 100;
    if ((n / 400) % 3 == 2) /* every third phase: tiny frames, so the slots lap before the data */
        return 100 + (uint32_t)(r * 2);
    if (r < 60)
        return 100 + (uint32_t)(rng_next(rng) % 4000);
    if (r < 90)
        return 4096 + (uint32_t)(rng_next(rng) % (28u << 10));
    return (32u << 10) + (uint32_t)(rng_next(rng) % ((32u << 10) + 1));
}

static int writer_main(int fd, uint64_t incarnation)
{
    static uint8_t buf[MAX_FRAME];
    struct cv_ring_writer *w;
    struct cv_ring_reader *peek; /* only to read head_seq: the writer API does not return it */
    if (cv_ring_reader_open(fd, &peek) < 0 || cv_ring_writer_open(fd, &w) < 0) {
        atomic_fetch_add(&g_sh->writer_errors, 1);
        return 1;
    }
    const struct cv_ring_header *h = cv_ring_reader_header(peek);
    uint64_t head = atomic_load(&h->head_seq);
    uint64_t prev = atomic_load(&g_sh->writer_head);
    /* The previous writer may have died between publishing and recording its head. */
    if (head < prev || head > prev + 1 || atomic_load(&h->gen_start_seq) != head ||
        atomic_load(&h->generation) != incarnation)
        atomic_fetch_add(&g_sh->seq_breaks, 1);

    uint64_t rng = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull | 1;
    uint64_t n = 0, first_key = rng_next(&rng) % KEY_EVERY; /* may start mid-GOP */
    uint32_t tag = (uint32_t)(rng_next(&rng) & 0xffffff);
    uint64_t storm_end = 0;
    while (!atomic_load(&g_sh->stop)) {
        int burst = 1 + (int)(rng_next(&rng) % 6);
        for (int i = 0; i < burst; i++, n++) {
            uint64_t seq = atomic_load(&h->head_seq);
            uint32_t len = frame_size(&rng, n);
            uint32_t key = n % KEY_EVERY == first_key ? CV_FRAME_KEY : 0;
            make_payload(buf, seq, len, key);
            struct cv_frame f = {.flags = key, .pts = (int64_t)seq * 3000, .arrival_ns = seq};
            if (cv_ring_write(w, &f, buf, len) != 0)
                atomic_fetch_add(&g_sh->writer_errors, 1);
            atomic_store(&g_sh->writer_head, seq + 1);
            atomic_fetch_add(&g_sh->writer_frames, 1);
            if (key)
                atomic_fetch_add(&g_sh->writer_keys, 1);
            if (n % 97 == 0) {
                struct cv_stream_info info;
                make_info(&info, tag++);
                if (cv_ring_writer_set_info(w, &info) != 0)
                    atomic_fetch_add(&g_sh->writer_errors, 1);
            }
        }
        /*
         * Mostly paced, with storms: flat out for tens of ms, so readers preempted in the middle
         * of a copy find the bytes overwritten under them (the tear the re-check must catch).
         */
        uint64_t now = cv_clock_mono_ms();
        if (now >= storm_end && rng_next(&rng) % 150 == 0)
            storm_end = now + 5 + rng_next(&rng) % 30;
        if (now >= storm_end)
            sleep_us(200 + (long)(rng_next(&rng) % 1500));
    }
    cv_ring_writer_close(w);
    cv_ring_reader_close(peek);
    return 0;
}

/* ---- reader process ------------------------------------------------------------------------ */

static int reader_main(int fd, int idx)
{
    static uint8_t buf[MAX_FRAME];
    struct reader_stats *st = &g_sh->r[idx];
    size_t cap = idx == READERS - 1 ? SMALL_CAP : sizeof(buf);
    struct cv_ring_reader *r;
    if (cv_ring_reader_open(fd, &r) < 0) {
        atomic_fetch_add(&st->errors, 1);
        return 1;
    }
    atomic_fetch_add(&st->incarnations, 1);
    uint64_t rng = (uint64_t)getpid() * 0xd1342543de82ef95ull | 1;
    uint64_t last_seq = 0, last_skipped = 0, gen = cv_ring_reader_generation(r);
    int64_t last_info = 0;
    bool have_last = false;
    uint64_t nobufs_run = 0; /* frames refused with -ENOBUFS since the last delivery */

    while (!atomic_load(&g_sh->stop)) {
        struct cv_frame f;
        int rc = cv_ring_read(r, &f, buf, cap);
        uint64_t g = cv_ring_reader_generation(r);
        if (g != gen) {
            atomic_fetch_add(&st->gen_changes, 1);
            gen = g;
        }
        uint64_t sk = cv_ring_reader_skipped(r);
        if (rc == CV_RING_EMPTY) {
            sleep_us(100 + (long)(rng_next(&rng) % 400));
            continue;
        }
        if (rc == -ENOBUFS) {
            atomic_fetch_add(&st->nobufs, 1);
            nobufs_run++;
            continue;
        }
        if (rc != CV_RING_OK) {
            atomic_fetch_add(&st->errors, 1);
            continue;
        }

        atomic_fetch_add(&st->delivered, 1);
        atomic_fetch_add(&st->bytes, f.len);
        if (!payload_ok(buf, &f))
            atomic_fetch_add(&st->corrupt, 1);
        bool discont = f.flags & CV_FRAME_DISCONT, key = f.flags & CV_FRAME_KEY;
        if (discont)
            atomic_fetch_add(&st->disconts, 1);
        if (!have_last) {
            /* A new reader starts at a keyframe, unless that one did not fit its buffer. */
            if (nobufs_run == 0 && (!key || discont || sk != 0))
                atomic_fetch_add(&st->bad_start, 1);
        } else {
            if (f.seq <= last_seq) {
                atomic_fetch_add(&st->order, 1);
            } else {
                uint64_t gap = f.seq - last_seq - 1;
                /* Every frame not delivered is counted, and a gap is always flagged. */
                if (sk - last_skipped != gap || (gap && !discont))
                    atomic_fetch_add(&st->unaccounted, 1);
                /* A resync lands on a keyframe; only an -ENOBUFS skip resumes mid-GOP. */
                if (discont && !key && nobufs_run == 0)
                    atomic_fetch_add(&st->bad_resync, 1);
            }
        }
        atomic_fetch_add(&st->skipped, sk - last_skipped);
        have_last = true;
        nobufs_run = 0;
        last_seq = f.seq;
        last_skipped = sk;

        if (rng_next(&rng) % 32 == 0) {
            struct cv_stream_info info;
            int64_t s = cv_ring_reader_info(r, &info);
            atomic_fetch_add(&st->info_reads, 1);
            if (s >= 0 && (!info_ok(&info) || s < last_info || s % 2))
                atomic_fetch_add(&st->info_torn, 1);
            else if (s < 0 && s != -EAGAIN) /* -EAGAIN: a writer died mid-update */
                atomic_fetch_add(&st->errors, 1);
            if (s > 0)
                last_info = s;
        }
        /* Now and then fall behind long enough to be lapped (the ring holds ~30-100 ms). */
        if (rng_next(&rng) % 400 == 0) {
            atomic_fetch_add(&st->long_sleeps, 1);
            sleep_us(20000 + (long)(rng_next(&rng) % 60000));
        }
    }
    atomic_fetch_add(&st->skipped, cv_ring_reader_skipped(r) - last_skipped);
    cv_ring_reader_close(r);
    return 0;
}

/* ---- parent -------------------------------------------------------------------------------- */

static int g_passed, g_failed;

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok)
        g_passed++;
    else
        g_failed++;
}

/* Each child closes the fd it must not keep: readers never hold the read-write fd. */
static pid_t spawn_writer(int rw_fd, int ro_fd, uint64_t incarnation)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(ro_fd);
        _exit(writer_main(rw_fd, incarnation));
    }
    return pid;
}

static pid_t spawn_reader(int rw_fd, int ro_fd, int idx)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(rw_fd);
        _exit(reader_main(ro_fd, idx));
    }
    return pid;
}

/* Reaps a child the parent killed; anything but our SIGKILL is a crash. */
static int reap(pid_t pid, int expected_sig)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    if (expected_sig && WIFSIGNALED(status) && WTERMSIG(status) == expected_sig)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    fprintf(stderr, "child %d: %s %d\n", (int)pid, WIFSIGNALED(status) ? "signal" : "exit",
            WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return -1;
}

/* After the storm: a new reader on a quiet ring reads everything from the newest keyframe. */
static void final_check(int ro_fd, int rw_fd)
{
    static uint8_t buf[MAX_FRAME];
    struct cv_ring_reader *r;
    struct cv_ring_writer *w;
    int rc = cv_ring_writer_open(rw_fd, &w); /* one last generation, with a known keyframe */
    bool ok = rc == 0 && cv_ring_reader_open(ro_fd, &r) == 0;
    if (!ok) {
        check(false, "final writer/reader open");
        return;
    }
    const struct cv_ring_header *h = cv_ring_reader_header(r);
    uint64_t first = atomic_load(&h->head_seq);
    for (uint64_t i = 0; i < 20; i++) {
        uint64_t seq = first + i;
        uint32_t len = 1000 + (uint32_t)i * 3000, key = i % 10 == 0 ? CV_FRAME_KEY : 0;
        make_payload(buf, seq, len, key);
        struct cv_frame f = {.flags = key, .pts = (int64_t)seq * 3000, .arrival_ns = seq};
        ok = ok && cv_ring_write(w, &f, buf, len) == 0;
    }
    struct cv_frame f;
    uint64_t n = 0, expect = first + 10;
    while ((rc = cv_ring_read(r, &f, buf, sizeof(buf))) == CV_RING_OK) {
        ok = ok && f.seq == expect++ && payload_ok(buf, &f) && !(f.flags & CV_FRAME_DISCONT);
        n++;
    }
    check(ok && rc == CV_RING_EMPTY && n == 10 && cv_ring_reader_skipped(r) == 0,
          "fresh reader after the run starts at the newest keyframe, reads %llu/10 frames intact",
          (unsigned long long)n);
    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 8.0;
    if (seconds < 2) /* the first writer kill comes within 1.2 s: leave room for a second life */
        seconds = 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (g_sh == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    int rw_fd, rc = cv_ring_create("ring-stress", RING_DATA, RING_SLOTS, &rw_fd);
    int ro_fd = rc == 0 ? cv_ring_reopen_readonly(rw_fd) : -1;
    if (rc < 0 || ro_fd < 0) {
        fprintf(stderr, "ring: %s\n", strerror(rc < 0 ? -rc : -ro_fd));
        printf("0 passed, 1 failed\n");
        return 1;
    }

    uint64_t writer_starts = 1, writer_kills = 0, reader_kills = 0, crashes = 0;
    pid_t writer = spawn_writer(rw_fd, ro_fd, writer_starts);
    pid_t readers[READERS];
    for (int i = 0; i < READERS; i++)
        readers[i] = spawn_reader(rw_fd, ro_fd, i);

    srand((unsigned)getpid());
    uint64_t start = cv_clock_mono_ms(), end = start + (uint64_t)(seconds * 1000);
    uint64_t next_writer_kill = start + 500 + (uint64_t)(rand() % 700);
    while (cv_clock_mono_ms() < end) {
        sleep_us(20000 + rand() % 60000);
        if (rand() % 3 == 0) { /* on average a reader every ~150 ms */
            int i = rand() % READERS;
            kill(readers[i], SIGKILL);
            crashes += reap(readers[i], SIGKILL) < 0;
            readers[i] = spawn_reader(rw_fd, ro_fd, i);
            reader_kills++;
        }
        if (cv_clock_mono_ms() >= next_writer_kill) {
            kill(writer, SIGKILL);
            crashes += reap(writer, SIGKILL) < 0;
            writer = spawn_writer(rw_fd, ro_fd, ++writer_starts);
            writer_kills++;
            next_writer_kill = cv_clock_mono_ms() + 500 + (uint64_t)(rand() % 1000);
        }
    }
    atomic_store(&g_sh->stop, 1);
    crashes += reap(writer, 0) < 0;
    for (int i = 0; i < READERS; i++)
        crashes += reap(readers[i], 0) < 0;

    /* ---- report ---- */
    uint64_t frames = atomic_load(&g_sh->writer_frames);
    printf("ring %u KiB, %u slots, %.1f s: writer %llu frames (%llu keys), %llu writer kills, "
           "%llu reader kills\n",
           RING_DATA >> 10, RING_SLOTS, seconds, (unsigned long long)frames,
           (unsigned long long)atomic_load(&g_sh->writer_keys), (unsigned long long)writer_kills,
           (unsigned long long)reader_kills);
    uint64_t tot_skipped = 0, tot_disc = 0, tot_gen = 0, tot_info = 0, tot_torn = 0;
    for (int i = 0; i < READERS; i++) {
        struct reader_stats *s = &g_sh->r[i];
        uint64_t bad =
            s->corrupt + s->order + s->unaccounted + s->bad_resync + s->bad_start + s->errors;
        check(bad == 0 && s->delivered > 0,
              "reader %d: %llu frames (%.1f MiB) in %llu lives, %llu skipped, %llu DISCONT, "
              "%llu gen changes, %llu -ENOBUFS, %llu naps | corrupt %llu, order %llu, "
              "unaccounted gaps %llu, bad resync %llu, bad start %llu, errors %llu",
              i, (unsigned long long)s->delivered, (double)s->bytes / (1 << 20),
              (unsigned long long)s->incarnations, (unsigned long long)s->skipped,
              (unsigned long long)s->disconts, (unsigned long long)s->gen_changes,
              (unsigned long long)s->nobufs, (unsigned long long)s->long_sleeps,
              (unsigned long long)s->corrupt, (unsigned long long)s->order,
              (unsigned long long)s->unaccounted, (unsigned long long)s->bad_resync,
              (unsigned long long)s->bad_start, (unsigned long long)s->errors);
        tot_skipped += s->skipped;
        tot_disc += s->disconts;
        tot_gen += s->gen_changes;
        tot_info += s->info_reads;
        tot_torn += s->info_torn;
    }
    check(crashes == 0, "no process died other than by our SIGKILL (%llu did)",
          (unsigned long long)crashes);
    check(atomic_load(&g_sh->writer_errors) == 0, "writer: every write and set_info returned 0");
    check(atomic_load(&g_sh->seq_breaks) == 0 && writer_kills > 0,
          "writer: %llu restarts, each continued the sequence in a new generation",
          (unsigned long long)writer_kills);
    check(tot_skipped > 0 && tot_disc > 0,
          "laps exercised: %llu frames skipped, %llu DISCONT deliveries",
          (unsigned long long)tot_skipped, (unsigned long long)tot_disc);
    check(tot_gen > 0, "readers saw %llu writer generation changes", (unsigned long long)tot_gen);
    check(g_sh->r[READERS - 1].nobufs > 0, "-ENOBUFS exercised (%llu)",
          (unsigned long long)g_sh->r[READERS - 1].nobufs);
    check(tot_info > 0 && tot_torn == 0, "codec parameters: %llu reads, %llu torn",
          (unsigned long long)tot_info, (unsigned long long)tot_torn);
    final_check(ro_fd, rw_fd);

    close(ro_fd);
    close(rw_fd);
    munmap(g_sh, sizeof(*g_sh));
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}
