/*
 * The shared-memory frame ring (layout in common/ring/ring-types.h, API in common/ring/ring.h).
 *
 * One writer publishes frames and never waits; readers in other processes copy frames out and
 * re-validate after the copy, so a frame the writer overwrote while it was being copied is
 * dropped, never delivered. Publication protocol, in the order the writer does it:
 *
 *   1. slot.seq = 0                    the slot's old frame is no longer valid
 *   2. reclaim_pos = end of new frame  data below reclaim_pos - data_size may now change
 *   3. release fence                   (1) and (2) are visible before any byte below changes
 *   4. copy payload, fill slot fields
 *   5. slot.seq = seq        (release) the slot is complete
 *   6. key_seq / has_key, write_pos
 *   7. head_seq = seq + 1    (release) readers may now read seq
 *
 * A reader loads slot.seq (acquire), copies metadata and payload, issues an acquire fence, then
 * re-checks slot.seq and reclaim_pos: if it saw any byte of step 4, the fence pairing guarantees
 * it also sees step 1 or 2 and drops the copy. It also re-checks the generation, since a restarted
 * writer reuses the sequence number its killed predecessor never published. Everything the reader
 * uses for bounds (geometry, slot pos/len) is copied and validated before use, so a broken ring can
 * cost frames but never make a reader touch memory outside its mapping.
 */
#include "common/ring/ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/log.h"

/* Readers in other processes share these atomics: they must be lock-free, hence address-free. */
_Static_assert(ATOMIC_LONG_LOCK_FREE == 2 || ATOMIC_LLONG_LOCK_FREE == 2,
               "64-bit atomics must be lock-free to work across processes");

#define CV_RING_ALIGN       64u   /* slots, data area and each frame start on a cache line */
#define CV_RING_PAGE        4096u /* total_size is a whole number of pages */
#define CV_RING_MIN_DATA    4096u
#define CV_RING_MAX_DATA    (1ull << 32)
#define CV_RING_MAX_SLOTS   (1u << 20)
#define CV_RING_MAX_RESYNC  8    /* cv_ring_read gives up (EMPTY) after this many lost races */
#define CV_RING_INFO_TRIES  1000 /* cv_ring_reader_info spins this often on a busy seqlock */
#define CV_RING_PARAMS_OFFS sizeof(struct cv_ring_header)

struct cv_ring_layout {
    uint64_t slots_offset;
    uint64_t data_offset;
    uint64_t total_size;
};

struct cv_ring_writer {
    uint8_t *base; /* PROT_READ|PROT_WRITE mapping of the whole ring: owned, munmap'd by close */
    size_t map_size;
    struct cv_ring_header *hdr; /* these four point into base */
    struct cv_ring_params *params;
    struct cv_ring_slot *slots;
    uint8_t *data;
    /* Private copies of validated geometry and of the state only this writer changes. */
    uint64_t data_size;
    uint32_t slot_mask;
    uint64_t head;        /* next sequence number to publish */
    uint64_t write_pos;   /* data position just past the newest frame */
    uint64_t reclaim_pos; /* highest reclaim_pos published, never lowered */
    uint64_t params_seq;  /* even: the seqlock's value between updates */
};

struct cv_ring_reader {
    const uint8_t *base; /* PROT_READ mapping of the whole ring: owned, munmap'd by close */
    size_t map_size;
    const struct cv_ring_header *hdr; /* these four point into base */
    const struct cv_ring_params *params;
    const struct cv_ring_slot *slots;
    const uint8_t *data;
    /* Geometry copied at open and validated: never re-read from memory another process writes. */
    uint64_t data_size;
    uint32_t slot_count;
    uint32_t slot_mask;

    uint64_t gen;       /* generation this reader last synchronised with */
    uint64_t gen_start; /* that generation's first sequence number */
    uint64_t next_seq;  /* next sequence to deliver (once a keyframe was found) */
    uint64_t min_key;   /* while need_key: the oldest keyframe worth jumping to */
    uint64_t skipped;
    bool delivered;   /* a frame was returned (or refused, -ENOBUFS): losses count from here */
    bool need_key;    /* waiting for a keyframe >= min_key */
    bool count_skips; /* the pending jump loses frames (lap, tear, restart), not a seek */
    bool discont;     /* the next delivered frame carries CV_FRAME_DISCONT */
    bool borrowed;    /* a clone: base belongs to the reader it was cloned from */
};

static uint64_t cv_ring_align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

static bool cv_ring_is_pow2(uint32_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/*
 * The one place the layout is computed: create writes it, both opens compare against it. The data
 * area ends exactly at the end of the file (a whole number of pages), so data_size, data_offset
 * and total_size pin each other down.
 */
static struct cv_ring_layout cv_ring_layout_for(uint64_t data_size, uint32_t slot_count)
{
    struct cv_ring_layout l;
    l.slots_offset =
        cv_ring_align_up(CV_RING_PARAMS_OFFS + sizeof(struct cv_ring_params), CV_RING_ALIGN);
    uint64_t slots_end = l.slots_offset + (uint64_t)slot_count * sizeof(struct cv_ring_slot);
    l.total_size = cv_ring_align_up(slots_end + data_size, CV_RING_PAGE);
    l.data_offset = l.total_size - data_size; /* a multiple of 64, since data_size is */
    return l;
}

static bool cv_ring_geometry_ok(uint64_t data_size, uint32_t slot_count)
{
    return data_size >= CV_RING_MIN_DATA && data_size <= CV_RING_MAX_DATA &&
           data_size % CV_RING_ALIGN == 0 && cv_ring_is_pow2(slot_count) && slot_count >= 2 &&
           slot_count <= CV_RING_MAX_SLOTS;
}

/*
 * Checks the immutable part of a mapped header against itself and the file size. Returns 0 or
 * -EBADMSG; on success *data_size and *slot_count hold the validated geometry.
 */
static int cv_ring_check_header(const volatile struct cv_ring_header *h, uint64_t file_size,
                                uint64_t *data_size, uint32_t *slot_count)
{
    uint64_t ds = h->data_size;
    uint32_t sc = h->slot_count;
    if (h->magic != CV_RING_MAGIC || h->layout_version != CV_RING_LAYOUT_VERSION)
        return -EBADMSG;
    if (!cv_ring_geometry_ok(ds, sc))
        return -EBADMSG;
    struct cv_ring_layout l = cv_ring_layout_for(ds, sc);
    if (h->slots_offset != l.slots_offset || h->data_offset != l.data_offset ||
        h->total_size != l.total_size || file_size != l.total_size)
        return -EBADMSG;
    *data_size = ds;
    *slot_count = sc;
    return 0;
}

/* Maps fd whole and validates it. On success the caller owns *base (munmap *size bytes). */
static int cv_ring_map(int fd, int prot, void **base, size_t *size, uint64_t *data_size,
                       uint32_t *slot_count)
{
    struct stat st;
    if (fd < 0)
        return -EBADF;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (st.st_size < (off_t)sizeof(struct cv_ring_header))
        return -EBADMSG;

    /*
     * The writer maps every page now: it writes them all on its first lap anyway, and taking a
     * fault per 4 KiB instead made a 21 kB frame's copy into the ring cost ~110 us instead of
     * ~11 on this project's VM for the first lap after each worker start (bench/ingest_cost.c
     * without its pre-touch). A reader only ever touches what it reads.
     */
    int flags = MAP_SHARED | ((prot & PROT_WRITE) ? MAP_POPULATE : 0);
    void *p = mmap(NULL, (size_t)st.st_size, prot, flags, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    int rc = cv_ring_check_header(p, (uint64_t)st.st_size, data_size, slot_count);
    if (rc < 0)
        goto err_unmap;
    *base = p;
    *size = (size_t)st.st_size;
    return 0;

err_unmap:
    munmap(p, (size_t)st.st_size);
    return rc;
}

int cv_ring_create(const char *name, size_t data_size, uint32_t slot_count, int *fd_out)
{
    if (!name || !name[0] || !fd_out || !cv_ring_geometry_ok(data_size, slot_count))
        return -EINVAL;
    struct cv_ring_layout l = cv_ring_layout_for(data_size, slot_count);
    int rc;

    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)l.total_size) < 0) {
        rc = -errno;
        goto err_close;
    }
    /* Back every page now: a writer touching an unbacked page later would die of SIGBUS. */
    if (fallocate(fd, 0, 0, (off_t)l.total_size) < 0) {
        rc = -errno;
        goto err_close;
    }

    struct cv_ring_header *h = mmap(NULL, l.total_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        rc = -errno;
        goto err_close;
    }
    /* The memfd starts zeroed: slots hold seq 0 (never valid), params seq 0 (never set). */
    h->magic = CV_RING_MAGIC;
    h->layout_version = CV_RING_LAYOUT_VERSION;
    h->total_size = l.total_size;
    h->data_size = data_size;
    h->slot_count = slot_count;
    h->slots_offset = l.slots_offset;
    h->data_offset = l.data_offset;
    atomic_store_explicit(&h->generation, 0, memory_order_relaxed);
    atomic_store_explicit(&h->gen_start_seq, 1, memory_order_relaxed);
    atomic_store_explicit(&h->head_seq, 1, memory_order_relaxed); /* 0 means "none" */
    munmap(h, l.total_size);

    /* Nobody may shrink the file under a reader's mapping (that would SIGBUS the reader). */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
        rc = -errno;
        goto err_close;
    }
    /*
     * Reopening /proc/self/fd/N checks the inode's mode, not the fd's: with 0400 a consumer running
     * as an unprivileged user cannot turn its read-only fd into a writable one. (Root can.)
     */
    if (fchmod(fd, 0400) < 0) {
        rc = -errno;
        goto err_close;
    }
    *fd_out = fd;
    return 0;

err_close:
    close(fd);
    return rc;
}

int cv_ring_reopen_readonly(int fd)
{
    char path[64];
    if (fd < 0)
        return -EBADF;
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    return ro < 0 ? -errno : ro;
}

/* ---- writer ---------------------------------------------------------------------------------- */

int cv_ring_writer_open(int fd, struct cv_ring_writer **out)
{
    void *base;
    size_t size;
    uint64_t data_size;
    uint32_t slot_count;
    int rc;

    if (!out)
        return -EINVAL;
    rc = cv_ring_map(fd, PROT_READ | PROT_WRITE, &base, &size, &data_size, &slot_count);
    if (rc < 0)
        return rc;

    struct cv_ring_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        rc = -ENOMEM;
        goto err_unmap;
    }
    w->base = base;
    w->map_size = size;
    w->hdr = base;
    struct cv_ring_layout l = cv_ring_layout_for(data_size, slot_count);
    w->params = (struct cv_ring_params *)(w->base + CV_RING_PARAMS_OFFS);
    w->slots = (struct cv_ring_slot *)(w->base + l.slots_offset);
    w->data = w->base + l.data_offset;
    w->data_size = data_size;
    w->slot_mask = slot_count - 1;

    struct cv_ring_header *h = w->hdr;
    w->head = atomic_load_explicit(&h->head_seq, memory_order_acquire);
    w->write_pos = atomic_load_explicit(&h->write_pos, memory_order_relaxed);
    w->reclaim_pos = atomic_load_explicit(&h->reclaim_pos, memory_order_relaxed);
    if (w->head == 0 || w->reclaim_pos < w->write_pos) {
        rc = -EBADMSG;
        goto err_free;
    }
    /*
     * A writer killed between steps 2 and 7 may have changed bytes up to reclaim_pos that no slot
     * describes; start there so reclaim_pos never goes backwards.
     */
    w->write_pos = w->reclaim_pos;

    /* A writer killed inside set_info left the seqlock odd: readers would spin forever. */
    w->params_seq = atomic_load_explicit(&w->params->seq, memory_order_relaxed);
    if (w->params_seq & 1) {
        memset(&w->params->info, 0, sizeof(w->params->info));
        w->params_seq++;
        atomic_store_explicit(&w->params->seq, w->params_seq, memory_order_release);
    }

    /* New generation: everything below is published by the generation store (release). */
    uint64_t gen = atomic_load_explicit(&h->generation, memory_order_relaxed);
    atomic_store_explicit(&h->has_key, 0, memory_order_relaxed);
    atomic_store_explicit(&h->gen_start_seq, w->head, memory_order_relaxed);
    atomic_store_explicit(&h->write_pos, w->write_pos, memory_order_relaxed);
    atomic_store_explicit(&h->writer_pid, (uint64_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&h->generation, gen + 1, memory_order_release);
    *out = w;
    return 0;

err_free:
    free(w);
err_unmap:
    munmap(base, size);
    return rc;
}

void cv_ring_writer_close(struct cv_ring_writer *w)
{
    if (!w)
        return;
    atomic_store_explicit(&w->hdr->writer_pid, 0, memory_order_relaxed);
    munmap(w->base, w->map_size);
    free(w);
}

int cv_ring_writer_set_info(struct cv_ring_writer *w, const struct cv_stream_info *info)
{
    if (!w || !info || info->track_count > CV_MAX_TRACKS)
        return -EINVAL;
    for (uint32_t i = 0; i < info->track_count; i++)
        if (info->tracks[i].extradata_len > CV_MAX_EXTRADATA)
            return -EINVAL;

    /* Seqlock: odd, fence, body, even (release). Same pairing argument as the slots. */
    atomic_store_explicit(&w->params->seq, w->params_seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    memcpy(&w->params->info, info, sizeof(*info));
    w->params_seq += 2;
    atomic_store_explicit(&w->params->seq, w->params_seq, memory_order_release);
    return 0;
}

int cv_ring_write(struct cv_ring_writer *w, const struct cv_frame *f, const void *data, size_t len)
{
    if (!w || !f || (!data && len))
        return -EINVAL;
    /* Half the data area at most, so the ring always holds the newest frame whole. */
    if (len > w->data_size / 2 || len > CV_RING_MAX_FRAME)
        return -EMSGSIZE;

    struct cv_ring_header *h = w->hdr;
    uint64_t seq = w->head;
    uint64_t pos = cv_ring_align_up(w->write_pos, CV_RING_ALIGN);
    uint64_t off = pos % w->data_size;
    if (off + len > w->data_size) {
        /* Never split a frame: skip to the next wrap boundary. */
        pos += w->data_size - off;
        off = 0;
    }
    uint64_t end = pos + len;
    CV_ASSERT(off + len <= w->data_size); /* a frame past the data area would corrupt readers */
    struct cv_ring_slot *s = &w->slots[seq & w->slot_mask];

    /* Steps 1-3 of the protocol at the top of this file. */
    atomic_store_explicit(&s->seq, 0, memory_order_relaxed);
    if (end > w->reclaim_pos) {
        w->reclaim_pos = end;
        atomic_store_explicit(&h->reclaim_pos, end, memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_release);

    if (len)
        memcpy(w->data + off, data, len);
    s->pos = pos;
    s->len = (uint32_t)len;
    s->flags = f->flags & CV_FRAME_KEY; /* DISCONT is the reader's to set */
    s->track = f->track;
    s->reserved = 0;
    s->pts = f->pts;
    s->dts = f->dts;
    s->arrival_ns = f->arrival_ns;
    atomic_store_explicit(&s->seq, seq, memory_order_release);

    if (f->flags & CV_FRAME_KEY) {
        atomic_store_explicit(&h->key_seq, seq, memory_order_relaxed);
        atomic_store_explicit(&h->has_key, 1, memory_order_release);
    }
    w->write_pos = end;
    w->head = seq + 1;
    atomic_store_explicit(&h->write_pos, end, memory_order_relaxed);
    atomic_store_explicit(&h->head_seq, seq + 1, memory_order_release);
    return 0;
}

uint64_t cv_ring_writer_data_size(const struct cv_ring_writer *w)
{
    return w->data_size;
}

/* ---- reader ---------------------------------------------------------------------------------- */

int cv_ring_reader_open(int fd, struct cv_ring_reader **out)
{
    void *base;
    size_t size;
    uint64_t data_size;
    uint32_t slot_count;
    int rc;

    if (!out)
        return -EINVAL;
    /* PROT_READ whatever the fd allows: a consumer has no business writing the ring. */
    rc = cv_ring_map(fd, PROT_READ, &base, &size, &data_size, &slot_count);
    if (rc < 0)
        return rc;

    struct cv_ring_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        munmap(base, size);
        return -ENOMEM;
    }
    r->base = base;
    r->map_size = size;
    r->hdr = base;
    r->data_size = data_size;
    r->slot_count = slot_count;
    r->slot_mask = slot_count - 1;
    /* Offsets were checked against the layout computed from data_size and slot_count. */
    struct cv_ring_layout l = cv_ring_layout_for(data_size, slot_count);
    r->params = (const struct cv_ring_params *)(r->base + CV_RING_PARAMS_OFFS);
    r->slots = (const struct cv_ring_slot *)(r->base + l.slots_offset);
    r->data = r->base + l.data_offset;

    r->gen = atomic_load_explicit(&r->hdr->generation, memory_order_acquire);
    r->gen_start = atomic_load_explicit(&r->hdr->gen_start_seq, memory_order_relaxed);
    r->need_key = true;
    r->min_key = r->gen_start;
    *out = r;
    return 0;
}

int cv_ring_reader_clone(const struct cv_ring_reader *r, struct cv_ring_reader **out)
{
    if (!r || !out)
        return -EINVAL;
    struct cv_ring_reader *c = malloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = *r;
    c->borrowed = true;
    /* Positioned as a new reader is: at the newest keyframe of the current generation. */
    c->gen = atomic_load_explicit(&c->hdr->generation, memory_order_acquire);
    c->gen_start = atomic_load_explicit(&c->hdr->gen_start_seq, memory_order_relaxed);
    c->need_key = true;
    c->min_key = c->gen_start;
    c->next_seq = 0;
    c->skipped = 0;
    c->delivered = c->count_skips = c->discont = false;
    *out = c;
    return 0;
}

void cv_ring_reader_close(struct cv_ring_reader *r)
{
    if (!r)
        return;
    if (!r->borrowed)
        munmap((void *)r->base, r->map_size);
    free(r);
}

/*
 * Notices a writer restart. Frames of the old generation still unread are dropped (a restarted
 * worker's stream does not continue the old one) and the reader waits for a keyframe of the new
 * generation.
 */
static void cv_ring_reader_check_gen(struct cv_ring_reader *r)
{
    uint64_t g = atomic_load_explicit(&r->hdr->generation, memory_order_acquire);
    if (g == r->gen)
        return;
    r->gen = g;
    r->gen_start = atomic_load_explicit(&r->hdr->gen_start_seq, memory_order_relaxed);
    uint64_t min = r->gen_start;
    if (r->delivered) {
        r->discont = true;
        if (r->next_seq > min)
            min = r->next_seq;
    }
    r->min_key = min;
    r->need_key = true;
    r->count_skips = true;
}

/*
 * A read at next_seq was lost (lap, tear, impossible slot): count it, and wait for a keyframe after
 * it. Frames between it and that keyframe are counted when the reader jumps.
 */
static void cv_ring_reader_lost(struct cv_ring_reader *r)
{
    if (r->delivered) { /* before the first frame nothing is lost to the caller */
        r->skipped++;
        r->discont = true;
    }
    r->next_seq++;
    r->need_key = true;
    r->count_skips = true;
    r->min_key = r->next_seq;
}

/* Jumps to the newest keyframe if it is >= min_key. Returns false while there is none. */
static bool cv_ring_reader_find_key(struct cv_ring_reader *r)
{
    if (!atomic_load_explicit(&r->hdr->has_key, memory_order_acquire))
        return false;
    uint64_t k = atomic_load_explicit(&r->hdr->key_seq, memory_order_relaxed);
    if (k < r->gen_start || k < r->min_key)
        return false;
    if (r->delivered && k > r->next_seq) {
        if (r->count_skips)
            r->skipped += k - r->next_seq;
        r->discont = true;
    }
    r->next_seq = k;
    r->need_key = false;
    return true;
}

/* Slot metadata as it was at one instant, if the re-check after the copy agrees. */
static void cv_ring_copy_slot(const struct cv_ring_slot *s, struct cv_ring_slot *m)
{
    /* volatile: each field is read exactly once, so a value checked is the value used. */
    const volatile struct cv_ring_slot *vs = s;
    m->pos = vs->pos;
    m->len = vs->len;
    m->flags = vs->flags;
    m->track = vs->track;
    m->pts = vs->pts;
    m->dts = vs->dts;
    m->arrival_ns = vs->arrival_ns;
}

/* After the acquire fence: is what was copied from seq's slot (and its data) still intact? */
static bool cv_ring_still_valid(const struct cv_ring_reader *r, const struct cv_ring_slot *s,
                                uint64_t seq, uint64_t pos)
{
    if (atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
        return false;
    /* Bytes below reclaim_pos - data_size may have changed while we copied. */
    uint64_t reclaim = atomic_load_explicit(&r->hdr->reclaim_pos, memory_order_relaxed);
    return pos + r->data_size >= reclaim;
}

int cv_ring_read(struct cv_ring_reader *r, struct cv_frame *f, void *buf, size_t cap)
{
    if (!r || !f || (!buf && cap))
        return -EINVAL;

    for (int attempt = 0; attempt < CV_RING_MAX_RESYNC; attempt++) {
        cv_ring_reader_check_gen(r);
        if (r->need_key && !cv_ring_reader_find_key(r))
            return CV_RING_EMPTY;

        uint64_t seq = r->next_seq;
        uint64_t head = atomic_load_explicit(&r->hdr->head_seq, memory_order_acquire);
        if (seq >= head)
            return CV_RING_EMPTY;
        if (seq + r->slot_count <= head) {
            cv_ring_reader_lost(r); /* lapped: the slot already holds a newer frame */
            continue;
        }

        const struct cv_ring_slot *s = &r->slots[seq & r->slot_mask];
        if (atomic_load_explicit(&s->seq, memory_order_acquire) != seq) {
            cv_ring_reader_lost(r);
            continue;
        }
        struct cv_ring_slot m;
        cv_ring_copy_slot(s, &m);
        uint64_t off = m.pos % r->data_size;
        bool sane = m.len <= r->data_size && off + m.len <= r->data_size;
        bool fits = m.len <= cap;
        if (sane && fits)
            memcpy(buf, r->data + off, m.len);
        atomic_thread_fence(memory_order_acquire);
        if (!cv_ring_still_valid(r, s, seq, m.pos) || !sane) {
            /* A consistent but impossible slot is a broken writer: treated as a lost frame. */
            cv_ring_reader_lost(r);
            continue;
        }
        /*
         * A writer that restarted since the check at the top may have reused seq for a frame of
         * its own stream (its predecessor died before publishing it). The slot's acquire load
         * makes the new generation visible here; go round and treat it as a restart.
         */
        if (atomic_load_explicit(&r->hdr->generation, memory_order_relaxed) != r->gen)
            continue;
        if (!fits) {
            r->skipped++;
            r->discont = true;
            r->delivered = true;
            r->next_seq = seq + 1;
            return -ENOBUFS;
        }

        f->seq = seq;
        f->len = m.len;
        f->flags = (m.flags & CV_FRAME_KEY) | (r->discont ? CV_FRAME_DISCONT : 0);
        f->track = m.track;
        f->pts = m.pts;
        f->dts = m.dts;
        f->arrival_ns = m.arrival_ns;
        r->discont = false;
        r->delivered = true;
        r->next_seq = seq + 1;
        return CV_RING_OK;
    }
    /* The writer keeps overtaking this reader; the caller polls again later. */
    return CV_RING_EMPTY;
}

int cv_ring_reader_seek_key(struct cv_ring_reader *r)
{
    if (!r)
        return -EINVAL;
    cv_ring_reader_check_gen(r);
    if (!r->need_key) {
        /*
         * A deliberate seek loses nothing, so it is not counted. A reader already past the newest
         * keyframe cannot go back (no seq is delivered twice): it waits for the next one.
         */
        r->need_key = true;
        r->count_skips = false;
        r->min_key = r->next_seq;
    }
    return cv_ring_reader_find_key(r) ? 0 : CV_RING_EMPTY;
}

int64_t cv_ring_reader_info(struct cv_ring_reader *r, struct cv_stream_info *info)
{
    if (!r || !info)
        return -EINVAL;
    for (int i = 0; i < CV_RING_INFO_TRIES; i++) {
        uint64_t s1 = atomic_load_explicit(&r->params->seq, memory_order_acquire);
        if (s1 & 1)
            continue; /* the writer is mid-update: a few hundred ns */
        memcpy(info, (const void *)&r->params->info, sizeof(*info));
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&r->params->seq, memory_order_relaxed) != s1)
            continue;
        if (info->track_count > CV_MAX_TRACKS)
            return -EBADMSG;
        for (uint32_t t = 0; t < info->track_count; t++)
            if (info->tracks[t].extradata_len > CV_MAX_EXTRADATA)
                return -EBADMSG;
        if (s1 > INT64_MAX)
            return -EBADMSG;
        return (int64_t)s1;
    }
    return -EAGAIN;
}

uint64_t cv_ring_reader_info_seq(const struct cv_ring_reader *r)
{
    return atomic_load_explicit(&r->params->seq, memory_order_acquire);
}

uint64_t cv_ring_reader_behind(const struct cv_ring_reader *r)
{
    uint64_t head = atomic_load_explicit(&r->hdr->head_seq, memory_order_acquire);
    return head > r->next_seq ? head - r->next_seq : 0;
}

uint64_t cv_ring_reader_skipped(const struct cv_ring_reader *r)
{
    return r->skipped;
}

uint64_t cv_ring_reader_generation(const struct cv_ring_reader *r)
{
    return r->gen;
}

const struct cv_ring_header *cv_ring_reader_header(const struct cv_ring_reader *r)
{
    return r->hdr;
}
