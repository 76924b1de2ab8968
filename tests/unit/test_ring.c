/*
 * The shared-memory ring in one process: creation and validation, order, late join at a keyframe,
 * laps (by slots and by data), wrap-around, size limits, the params seqlock, writer restarts, the
 * read-only mapping, and refusing a corrupt header. The cross-process races are
 * tests/stress/ring_stress.c's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ring/ring.h"

#define DATA_64K (64u << 10)

/* A payload whose every byte depends on seq, so a frame from the wrong slot or lap shows. */
static void fill(uint8_t *p, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static int check_payload(const uint8_t *p, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seq * 131u + i * 7u + (i >> 8)))
            return -1;
    return 0;
}

/* Writes one frame whose content and pts derive from the sequence the ring will assign. */
static void put(struct cv_ring_writer *w, uint64_t seq, size_t len, int key)
{
    static uint8_t buf[CV_RING_MAX_FRAME];
    fill(buf, len, seq);
    struct cv_frame f = {.flags = key ? CV_FRAME_KEY : 0,
                         .track = (uint32_t)(seq % 3),
                         .pts = (int64_t)seq * 3600,
                         .dts = (int64_t)seq * 3600 - 1,
                         .arrival_ns = seq * 1000};
    assert_int_equal(cv_ring_write(w, &f, buf, len), 0);
}

/* Reads one frame and checks it is seq, intact, with the given flags. */
static void get(struct cv_ring_reader *r, uint64_t seq, size_t len, uint32_t flags)
{
    static uint8_t buf[CV_RING_MAX_FRAME];
    struct cv_frame f;
    memset(&f, 0xaa, sizeof(f));
    assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), CV_RING_OK);
    assert_int_equal(f.seq, seq);
    assert_int_equal(f.len, len);
    assert_int_equal(f.flags, flags);
    assert_int_equal(f.track, seq % 3);
    assert_true(f.pts == (int64_t)seq * 3600);
    assert_true(f.dts == (int64_t)seq * 3600 - 1);
    assert_int_equal(f.arrival_ns, seq * 1000);
    assert_int_equal(check_payload(buf, len, seq), 0);
}

static void expect_empty(struct cv_ring_reader *r)
{
    uint8_t buf[16];
    struct cv_frame f;
    assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), CV_RING_EMPTY);
}

static uint64_t head_of(struct cv_ring_reader *r)
{
    return atomic_load(&cv_ring_reader_header(r)->head_seq);
}

static void test_create_validates(void **state)
{
    (void)state;
    int fd = -1;
    assert_int_equal(cv_ring_create(NULL, DATA_64K, 16, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("", DATA_64K, 16, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, NULL), -EINVAL);
    assert_int_equal(cv_ring_create("r", DATA_64K, 0, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", DATA_64K, 1, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", DATA_64K, 24, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", 0, 16, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", 1024, 16, &fd), -EINVAL);
    assert_int_equal(cv_ring_create("r", DATA_64K + 8, 16, &fd), -EINVAL);
    assert_int_equal(fd, -1);

    assert_int_equal(cv_ring_create("test-ring", DATA_64K, 16, &fd), 0);
    assert_true(fd >= 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int seals = fcntl(fd, F_GET_SEALS);
    assert_int_equal(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
                     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(ftruncate(fd, st.st_size / 2), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(fd, st.st_size * 2), -1);
    /* Owner read-only, so an unprivileged consumer cannot reopen /proc/self/fd/N for writing. */
    assert_int_equal(st.st_mode & 0777, 0400);
    /* fallocate reserved every page: the file's blocks cover its size. */
    assert_true((uint64_t)st.st_blocks * 512 >= (uint64_t)st.st_size);

    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    const struct cv_ring_header *h = cv_ring_reader_header(r);
    assert_int_equal(h->magic, CV_RING_MAGIC);
    assert_int_equal(h->layout_version, CV_RING_LAYOUT_VERSION);
    assert_int_equal(h->total_size, (uint64_t)st.st_size);
    assert_int_equal(h->data_size, DATA_64K);
    assert_int_equal(h->slot_count, 16);
    assert_int_equal(h->data_offset + h->data_size, h->total_size);
    assert_true(h->slots_offset >= sizeof(struct cv_ring_header) + sizeof(struct cv_ring_params));
    assert_true(h->data_offset - h->slots_offset >= 16 * sizeof(struct cv_ring_slot));
    assert_int_equal(h->data_offset % 64, 0);
    assert_int_equal(atomic_load(&h->head_seq), 1);
    assert_int_equal(atomic_load(&h->generation), 0);
    assert_int_equal(cv_ring_reader_generation(r), 0);
    expect_empty(r);
    cv_ring_reader_close(r);
    close(fd);
}

static void test_open_validates(void **state)
{
    (void)state;
    struct cv_ring_writer *w = NULL;
    struct cv_ring_reader *r = NULL;
    assert_int_equal(cv_ring_writer_open(-1, &w), -EBADF);
    assert_int_equal(cv_ring_reader_open(-1, &r), -EBADF);

    /* Not a ring: an empty file, and one full of zeroes. */
    int junk = memfd_create("junk", MFD_CLOEXEC);
    assert_true(junk >= 0);
    assert_int_equal(cv_ring_reader_open(junk, &r), -EBADMSG);
    assert_int_equal(ftruncate(junk, 1 << 20), 0);
    assert_int_equal(cv_ring_reader_open(junk, &r), -EBADMSG);
    assert_int_equal(cv_ring_writer_open(junk, &w), -EBADMSG);
    assert_null(w);
    assert_null(r);
    close(junk);

    int fd;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    int ro = cv_ring_reopen_readonly(fd);
    assert_true(ro >= 0);
    assert_int_equal(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
    /* A read-only fd cannot be mapped writable, so it cannot make a writer. */
    assert_int_equal(cv_ring_writer_open(ro, &w), -EACCES);
    assert_int_equal(cv_ring_reopen_readonly(-1), -EBADF);
    close(ro);
    close(fd);
}

static void test_order_and_metadata(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_writer_data_size(w), DATA_64K);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);

    expect_empty(r); /* no keyframe yet */
    put(w, 1, 100, 1);
    for (uint64_t s = 2; s <= 10; s++)
        put(w, s, 100 + s * 10, 0);
    get(r, 1, 100, CV_FRAME_KEY);
    for (uint64_t s = 2; s <= 10; s++)
        get(r, s, 100 + s * 10, 0);
    expect_empty(r);
    expect_empty(r);

    /* The writer may not set DISCONT, and zero-length frames are frames. */
    struct cv_frame f = {.flags = CV_FRAME_DISCONT,
                         .track = 11 % 3,
                         .pts = 11 * 3600,
                         .dts = 11 * 3600 - 1,
                         .arrival_ns = 11000};
    assert_int_equal(cv_ring_write(w, &f, NULL, 0), 0);
    get(r, 11, 0, 0);
    assert_int_equal(cv_ring_write(w, &f, NULL, 5), -EINVAL);
    assert_int_equal(cv_ring_reader_skipped(r), 0);
    assert_int_equal(cv_ring_reader_generation(r), 1);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_late_join_at_newest_key(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", 1u << 20, 256, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    /* Five GOPs of ten frames: keyframes at 1, 11, 21, 31, 41. */
    for (uint64_t s = 1; s <= 47; s++)
        put(w, s, 1000 + s, s % 10 == 1);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    get(r, 41, 1041, CV_FRAME_KEY);
    for (uint64_t s = 42; s <= 47; s++)
        get(r, s, 1000 + s, 0);
    expect_empty(r);
    assert_int_equal(cv_ring_reader_skipped(r), 0); /* joining late loses nothing */

    /* A reader opened before any keyframe waits for one: it does not start mid-GOP. */
    int fd2;
    struct cv_ring_writer *w2;
    struct cv_ring_reader *r2;
    assert_int_equal(cv_ring_create("r2", DATA_64K, 16, &fd2), 0);
    assert_int_equal(cv_ring_reader_open(fd2, &r2), 0); /* before the writer, even */
    expect_empty(r2);
    assert_int_equal(cv_ring_writer_open(fd2, &w2), 0);
    put(w2, 1, 10, 0);
    put(w2, 2, 10, 0);
    expect_empty(r2);
    put(w2, 3, 10, 1);
    put(w2, 4, 10, 0);
    get(r2, 3, 10, CV_FRAME_KEY); /* no DISCONT: it never had a position */
    get(r2, 4, 10, 0);
    assert_int_equal(cv_ring_reader_skipped(r2), 0);

    cv_ring_reader_close(r2);
    cv_ring_writer_close(w2);
    close(fd2);
    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_lap_by_slots(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", 1u << 20, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    put(w, 1, 50, 1);
    put(w, 2, 50, 0);
    get(r, 1, 50, CV_FRAME_KEY);
    /* The reader sleeps at 2 while 40 more small frames (keys every 8) go by: it is lapped. */
    for (uint64_t s = 3; s <= 42; s++)
        put(w, s, 50, s % 8 == 1);
    /* Newest keyframe is 41; 2..40 are lost. */
    get(r, 41, 50, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_skipped(r), 41 - 2);
    get(r, 42, 50, 0); /* DISCONT only once */
    expect_empty(r);

    /* Lapped with the newest keyframe itself overwritten: wait for the next keyframe. */
    put(w, 43, 50, 1);
    for (uint64_t s = 44; s <= 43 + 20; s++)
        put(w, s, 50, 0);
    expect_empty(r);
    put(w, 64, 50, 1);
    get(r, 64, 50, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_skipped(r), 39 + (64 - 43));

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_lap_by_data(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    /* Plenty of slots, little data: only the reclaim check can see this lap. */
    assert_int_equal(cv_ring_create("r", DATA_64K, 1024, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    put(w, 1, 8192, 1);
    put(w, 2, 8192, 0);
    get(r, 1, 8192, CV_FRAME_KEY);
    for (uint64_t s = 3; s <= 12; s++) /* 80 KiB more: frame 2's bytes are gone */
        put(w, s, 8192, s == 10);
    get(r, 10, 8192, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_skipped(r), 8);
    get(r, 11, 8192, 0);
    get(r, 12, 8192, 0);
    expect_empty(r);

    /* Exactly at the limit: a frame whose bytes are untouched is still delivered. */
    put(w, 13, 8192, 0);
    for (uint64_t s = 14; s <= 20; s++) /* 7 frames later, 13's bytes are still intact */
        put(w, s, 8192, 0);
    for (uint64_t s = 13; s <= 20; s++)
        get(r, s, 8192, 0);
    assert_int_equal(cv_ring_reader_skipped(r), 8);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_wrap_varying_sizes(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", DATA_64K, 64, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    const struct cv_ring_header *h = cv_ring_reader_header(r);
    const struct cv_ring_slot *slots =
        (const struct cv_ring_slot *)((const uint8_t *)h + h->slots_offset);

    srand(7);
    uint64_t seq = 1, next = 1, lost = 0;
    size_t lens[4096];
    while (seq < 4000) {
        /* Bursts of 1..4 frames between reads, sizes from 1 byte to half the data area. */
        int burst = 1 + rand() % 4;
        for (int i = 0; i < burst; i++, seq++) {
            size_t len = rand() % 4 == 0 ? DATA_64K / 2 - (size_t)(rand() % 64)
                                         : 1 + (size_t)(rand() % 9000);
            lens[seq] = len;
            put(w, seq, len, seq == 1);
            const struct cv_ring_slot *s = &slots[seq & 63];
            assert_int_equal(s->pos % 64, 0);                          /* cache-line aligned */
            assert_true(s->pos % DATA_64K + s->len <= DATA_64K);       /* never split */
            assert_true(atomic_load(&h->reclaim_pos) == s->pos + len); /* published */
        }
        /* Read whatever is still intact; a burst larger than the ring laps the reader. */
        uint8_t buf[DATA_64K];
        struct cv_frame f;
        int rc;
        while ((rc = cv_ring_read(r, &f, buf, sizeof(buf))) == CV_RING_OK) {
            assert_int_equal(f.seq, next);
            assert_int_equal(f.len, lens[f.seq]);
            assert_int_equal(check_payload(buf, f.len, f.seq), 0);
            assert_int_equal(f.flags & CV_FRAME_DISCONT, 0);
            next++;
        }
        assert_int_equal(rc, CV_RING_EMPTY);
        if (next != seq) { /* lost to a data lap: fine only if counted, then wait for a key */
            assert_true(cv_ring_reader_skipped(r) > 0);
            put(w, seq, 10, 1);
            lens[seq] = 10;
            assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), CV_RING_OK);
            assert_int_equal(f.seq, seq);
            assert_int_equal(f.flags, CV_FRAME_KEY | CV_FRAME_DISCONT);
            lost += seq - next; /* every frame from the first lost to the keyframe */
            assert_int_equal(cv_ring_reader_skipped(r), lost);
            next = ++seq;
        }
    }
    /* The data area wrapped many times over. */
    assert_true(atomic_load(&h->write_pos) > 50ull * DATA_64K);
    assert_int_equal(head_of(r), seq);
    assert_true(lost > 0);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_msgsize(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    static uint8_t big[CV_RING_MAX_FRAME + 1];
    struct cv_frame f = {.flags = CV_FRAME_KEY};
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_write(w, &f, big, DATA_64K / 2 + 1), -EMSGSIZE);
    assert_int_equal(cv_ring_write(w, &f, big, DATA_64K / 2), 0);
    cv_ring_writer_close(w);
    close(fd);

    /* In a big ring the absolute cap applies. */
    assert_int_equal(cv_ring_create("r", 16u << 20, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_write(w, &f, big, CV_RING_MAX_FRAME + 1), -EMSGSIZE);
    assert_int_equal(cv_ring_write(w, &f, big, CV_RING_MAX_FRAME), 0);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_nobufs(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    put(w, 1, 100, 1);
    put(w, 2, 1000, 0);
    put(w, 3, 100, 0);
    uint8_t buf[500];
    struct cv_frame f;
    assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), CV_RING_OK);
    assert_int_equal(f.seq, 1);
    assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), -ENOBUFS);
    assert_int_equal(cv_ring_reader_skipped(r), 1);
    assert_int_equal(cv_ring_read(r, &f, buf, sizeof(buf)), CV_RING_OK);
    assert_int_equal(f.seq, 3);
    assert_int_equal(f.flags, CV_FRAME_DISCONT);
    assert_int_equal(check_payload(buf, 100, 3), 0);
    expect_empty(r);
    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void make_info(struct cv_stream_info *info, uint8_t tag)
{
    memset(info, 0, sizeof(*info));
    info->track_count = 2;
    info->tracks[0] = (struct cv_track_info){.kind = CV_TRACK_VIDEO,
                                             .codec = CV_CODEC_H264,
                                             .extradata_len = 30,
                                             .clock_rate = 90000,
                                             .width = 1920,
                                             .height = 1080,
                                             .fps_x100 = 2500};
    memset(info->tracks[0].extradata, tag, 30);
    info->tracks[1] = (struct cv_track_info){.kind = CV_TRACK_AUDIO,
                                             .codec = CV_CODEC_AAC,
                                             .extradata_len = 2,
                                             .clock_rate = 48000,
                                             .channels = 2};
    info->tracks[1].extradata[0] = 0x11;
    info->tracks[1].extradata[1] = tag;
}

static void test_params_seqlock(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    struct cv_stream_info in, out;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);

    memset(&out, 0xee, sizeof(out));
    assert_int_equal(cv_ring_reader_info(r, &out), 0); /* never set */
    assert_int_equal(out.track_count, 0);

    make_info(&in, 0x42);
    assert_int_equal(cv_ring_writer_set_info(w, &in), 0);
    int64_t s1 = cv_ring_reader_info(r, &out);
    assert_true(s1 > 0);
    assert_int_equal(s1 % 2, 0);
    assert_memory_equal(&in, &out, sizeof(in));

    make_info(&in, 0x43);
    assert_int_equal(cv_ring_writer_set_info(w, &in), 0);
    int64_t s2 = cv_ring_reader_info(r, &out);
    assert_true(s2 > s1);
    assert_int_equal(out.tracks[1].extradata[1], 0x43);

    in.track_count = CV_MAX_TRACKS + 1;
    assert_int_equal(cv_ring_writer_set_info(w, &in), -EINVAL);
    in.track_count = 1;
    in.tracks[0].extradata_len = CV_MAX_EXTRADATA + 1;
    assert_int_equal(cv_ring_writer_set_info(w, &in), -EINVAL);
    assert_int_equal(cv_ring_reader_info(r, &out), s2); /* refused updates changed nothing */

    /* A writer killed mid-update leaves the seqlock odd: readers give up, a new writer repairs. */
    cv_ring_writer_close(w);
    struct cv_ring_params *p = mmap(NULL, 4096 * 2, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    p = (struct cv_ring_params *)((uint8_t *)p + sizeof(struct cv_ring_header));
    atomic_store(&p->seq, (uint64_t)s2 + 1);
    assert_int_equal(cv_ring_reader_info(r, &out), -EAGAIN);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    int64_t s3 = cv_ring_reader_info(r, &out);
    assert_int_equal(s3, s2 + 2);
    assert_int_equal(out.track_count, 0); /* the half-written info was cleared */
    /* And a corrupt but consistent one is refused. */
    p->info.track_count = 99;
    assert_int_equal(cv_ring_reader_info(r, &out), -EBADMSG);
    munmap((uint8_t *)p - sizeof(struct cv_ring_header), 4096 * 2);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_generation_change(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", 1u << 20, 64, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    const struct cv_ring_header *h = cv_ring_reader_header(r);
    assert_int_equal(atomic_load(&h->writer_pid), (uint64_t)getpid());
    for (uint64_t s = 1; s <= 10; s++)
        put(w, s, 300, s == 1);
    for (uint64_t s = 1; s <= 5; s++)
        get(r, s, 300, s == 1 ? CV_FRAME_KEY : 0);
    assert_int_equal(cv_ring_reader_generation(r), 1);

    /* The worker restarts. */
    cv_ring_writer_close(w);
    assert_int_equal(atomic_load(&h->writer_pid), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(atomic_load(&h->generation), 2);
    assert_int_equal(atomic_load(&h->gen_start_seq), 11); /* sequence numbers continue */
    assert_int_equal(atomic_load(&h->has_key), 0);
    expect_empty(r); /* old frames 6..10 are not delivered; no keyframe in generation 2 */
    assert_int_equal(cv_ring_reader_generation(r), 2);
    put(w, 11, 300, 0);
    put(w, 12, 300, 0);
    expect_empty(r);
    put(w, 13, 300, 1);
    put(w, 14, 300, 0);
    get(r, 13, 300, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_skipped(r), 13 - 6);
    get(r, 14, 300, 0);
    expect_empty(r);

    /* A reader joining now starts at generation 2's keyframe. */
    struct cv_ring_reader *r2;
    assert_int_equal(cv_ring_reader_open(fd, &r2), 0);
    get(r2, 13, 300, CV_FRAME_KEY);
    cv_ring_reader_close(r2);

    /* A restart while the reader is caught up still marks the discontinuity. */
    cv_ring_writer_close(w);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    put(w, 15, 300, 1);
    get(r, 15, 300, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_skipped(r), 7);
    assert_int_equal(cv_ring_reader_generation(r), 3);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_writer_killed_mid_write(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    put(w, 1, 1000, 1);
    cv_ring_writer_close(w);
    /* Pretend the writer died after publishing reclaim_pos for a 5000-byte frame. */
    struct cv_ring_header *h = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(h != MAP_FAILED);
    uint64_t wp = atomic_load(&h->write_pos);
    atomic_store(&h->reclaim_pos, wp + 64 + 5000);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(atomic_load(&h->write_pos), wp + 64 + 5000); /* resumes past the damage */
    put(w, 2, 100, 1);
    get(r, 2, 100, CV_FRAME_KEY);
    assert_true(atomic_load(&h->reclaim_pos) >= wp + 64 + 5000 + 100);

    /* A header whose positions contradict each other is refused. */
    cv_ring_writer_close(w);
    atomic_store(&h->reclaim_pos, 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), -EBADMSG);
    munmap(h, 4096);
    cv_ring_reader_close(r);
    close(fd);
}

static void test_seek_key(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", 1u << 20, 64, &fd), 0);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0);
    assert_int_equal(cv_ring_reader_seek_key(r), CV_RING_EMPTY);
    for (uint64_t s = 1; s <= 5; s++)
        put(w, s, 100, s == 1);
    assert_int_equal(cv_ring_reader_seek_key(r), 0);
    get(r, 1, 100, CV_FRAME_KEY);
    get(r, 2, 100, 0);
    assert_int_equal(cv_ring_reader_behind(r), 3); /* 3, 4 and 5 written since */
    for (uint64_t s = 6; s <= 12; s++)
        put(w, s, 100, s == 8);
    assert_int_equal(cv_ring_reader_seek_key(r), 0);
    get(r, 8, 100, CV_FRAME_KEY | CV_FRAME_DISCONT);
    assert_int_equal(cv_ring_reader_behind(r), 4);
    for (uint64_t s = 9; s <= 12; s++)
        get(r, s, 100, 0);
    assert_int_equal(cv_ring_reader_behind(r), 0);  /* at the live edge */
    assert_int_equal(cv_ring_reader_skipped(r), 0); /* a seek is not a loss */
    /* Past the newest key: wait for the next one, never go back. */
    assert_int_equal(cv_ring_reader_seek_key(r), CV_RING_EMPTY);
    expect_empty(r);
    put(w, 13, 100, 0);
    expect_empty(r);
    put(w, 14, 100, 1);
    get(r, 14, 100, CV_FRAME_KEY | CV_FRAME_DISCONT);
    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

static void test_readonly_mapping(void **state)
{
    (void)state;
    int fd;
    struct cv_ring_writer *w;
    struct cv_ring_reader *r;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    int ro = cv_ring_reopen_readonly(fd);
    assert_true(ro >= 0);
    assert_true(fcntl(ro, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(cv_ring_writer_open(fd, &w), 0);
    assert_int_equal(cv_ring_reader_open(ro, &r), 0);
    close(ro); /* the reader keeps no fd: its mapping holds the ring */
    put(w, 1, 100, 1);
    get(r, 1, 100, CV_FRAME_KEY);

    /* Neither the reader's mapping nor a new one from the read-only fd can be made writable. */
    void *hp = (void *)cv_ring_reader_header(r);
    assert_int_equal(mprotect(hp, 4096, PROT_READ | PROT_WRITE), -1);
    assert_int_equal(errno, EACCES);
    ro = cv_ring_reopen_readonly(fd);
    assert_true(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
    assert_int_equal(errno, EACCES);
    void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0);
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p, 4096, PROT_READ | PROT_WRITE), -1);
    munmap(p, 4096);
    close(ro);

    cv_ring_reader_close(r);
    cv_ring_writer_close(w);
    close(fd);
}

/* Opens a reader and a writer on fd after poke() damaged its header; both must refuse. */
static void expect_badmsg(int fd, size_t off, const void *val, size_t n)
{
    uint8_t *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    uint8_t saved[16];
    memcpy(saved, m + off, n);
    memcpy(m + off, val, n);
    struct cv_ring_reader *r = NULL;
    struct cv_ring_writer *w = NULL;
    assert_int_equal(cv_ring_reader_open(fd, &r), -EBADMSG);
    assert_int_equal(cv_ring_writer_open(fd, &w), -EBADMSG);
    memcpy(m + off, saved, n);
    assert_int_equal(cv_ring_reader_open(fd, &r), 0); /* repaired: accepted again */
    cv_ring_reader_close(r);
    munmap(m, 4096);
}

static void test_corrupt_header(void **state)
{
    (void)state;
    int fd;
    assert_int_equal(cv_ring_create("r", DATA_64K, 16, &fd), 0);
    uint32_t u32;
    uint64_t u64;
    u32 = 0x12345678;
    expect_badmsg(fd, offsetof(struct cv_ring_header, magic), &u32, 4);
    u32 = CV_RING_LAYOUT_VERSION + 1;
    expect_badmsg(fd, offsetof(struct cv_ring_header, layout_version), &u32, 4);
    u64 = DATA_64K * 2;
    expect_badmsg(fd, offsetof(struct cv_ring_header, data_size), &u64, 8);
    u64 = DATA_64K - 64;
    expect_badmsg(fd, offsetof(struct cv_ring_header, data_size), &u64, 8);
    u32 = 24;
    expect_badmsg(fd, offsetof(struct cv_ring_header, slot_count), &u32, 4);
    u32 = 128; /* a power of two whose slot table would not fit before the data area */
    expect_badmsg(fd, offsetof(struct cv_ring_header, slot_count), &u32, 4);
    u64 = 1u << 30;
    expect_badmsg(fd, offsetof(struct cv_ring_header, data_offset), &u64, 8);
    u64 = 64;
    expect_badmsg(fd, offsetof(struct cv_ring_header, slots_offset), &u64, 8);
    u64 = 1u << 30;
    expect_badmsg(fd, offsetof(struct cv_ring_header, total_size), &u64, 8);

    /* A consistent header in a file of the wrong size (a copy, since the ring is sealed). */
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    int copy = memfd_create("copy", MFD_CLOEXEC);
    assert_int_equal(ftruncate(copy, st.st_size - 4096), 0);
    uint8_t hdr[sizeof(struct cv_ring_header)];
    assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    assert_int_equal(pwrite(copy, hdr, sizeof(hdr), 0), (ssize_t)sizeof(hdr));
    struct cv_ring_reader *r = NULL;
    assert_int_equal(cv_ring_reader_open(copy, &r), -EBADMSG);
    assert_int_equal(ftruncate(copy, st.st_size), 0);
    assert_int_equal(cv_ring_reader_open(copy, &r), 0); /* the same header at the right size */
    cv_ring_reader_close(r);
    close(copy);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_validates),
        cmocka_unit_test(test_open_validates),
        cmocka_unit_test(test_order_and_metadata),
        cmocka_unit_test(test_late_join_at_newest_key),
        cmocka_unit_test(test_lap_by_slots),
        cmocka_unit_test(test_lap_by_data),
        cmocka_unit_test(test_wrap_varying_sizes),
        cmocka_unit_test(test_msgsize),
        cmocka_unit_test(test_nobufs),
        cmocka_unit_test(test_params_seqlock),
        cmocka_unit_test(test_generation_change),
        cmocka_unit_test(test_writer_killed_mid_write),
        cmocka_unit_test(test_seek_key),
        cmocka_unit_test(test_readonly_mapping),
        cmocka_unit_test(test_corrupt_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
