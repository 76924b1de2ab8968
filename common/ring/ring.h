/*
 * Shared-memory frame ring: one writer that never waits, any number of readers in other
 * processes that never see a torn frame.
 *
 * Ownership: cv_ring_create() returns a memfd the caller owns. Writer and reader handles own their
 * mapping, released by cv_ring_writer_close()/cv_ring_reader_close(); they keep no fd (the mapping
 * alone keeps the memfd alive), so the caller may close its fd once the handle is open.
 */
#ifndef CV_RING_H
#define CV_RING_H

#include <stddef.h>
#include <stdint.h>

#include "common/ring/ring-types.h"

#define CV_RING_DEFAULT_DATA  (6u << 20) /* 2 GOPs of 8 Mbit/s with 2 s GOPs, plus slack */
#define CV_RING_DEFAULT_SLOTS 1024u
#define CV_RING_MAX_FRAME     (4u << 20)

struct cv_ring_writer;
struct cv_ring_reader;

struct cv_frame {
    uint64_t seq;
    uint32_t len;
    uint32_t flags;
    uint32_t track;
    int64_t pts;
    int64_t dts;
    uint64_t arrival_ns;
};

/*
 * Creates and fully reserves (fallocate) a ring; *fd_out is a read-write memfd, sealed against
 * resizing. data_size: a multiple of 64, at least 4096; slot_count: a power of two >= 2. -EINVAL
 * otherwise.
 */
int cv_ring_create(const char *name, size_t data_size, uint32_t slot_count, int *fd_out);
/* A read-only fd to the same ring, for consumers: its mappings can never be made writable. */
int cv_ring_reopen_readonly(int fd);

int cv_ring_writer_open(int fd, struct cv_ring_writer **out);
void cv_ring_writer_close(struct cv_ring_writer *w);
int cv_ring_writer_set_info(struct cv_ring_writer *w, const struct cv_stream_info *info);
/*
 * Publishes one frame. Never blocks. f->seq is ignored (assigned here); f->flags may carry
 * CV_FRAME_KEY. Returns 0, or -EMSGSIZE for a frame larger than the ring can hold.
 */
int cv_ring_write(struct cv_ring_writer *w, const struct cv_frame *f, const void *data, size_t len);
/* Bytes the writer's data area holds. */
uint64_t cv_ring_writer_data_size(const struct cv_ring_writer *w);

enum cv_ring_read_result {
    CV_RING_OK = 0,    /* a frame was copied */
    CV_RING_EMPTY = 1, /* nothing new yet */
};

int cv_ring_reader_open(int fd, struct cv_ring_reader **out);
/*
 * A second cursor on r's mapping (no new mapping), positioned as a newly opened reader: at the
 * newest keyframe. What a consumer uses to send a new viewer the frames since that keyframe while
 * the live reader stays where it is. Close it before r.
 */
int cv_ring_reader_clone(const struct cv_ring_reader *r, struct cv_ring_reader **out);
void cv_ring_reader_close(struct cv_ring_reader *r);
/*
 * Copies the next frame into buf (cap bytes). Returns CV_RING_OK, CV_RING_EMPTY, -ENOBUFS if cap
 * is too small (the frame is skipped and counted), or another negative errno. After a lap, a torn
 * read or a writer restart the reader resumes at the newest keyframe and the returned frame has
 * CV_FRAME_DISCONT set; until a keyframe exists it returns CV_RING_EMPTY.
 */
int cv_ring_read(struct cv_ring_reader *r, struct cv_frame *f, void *buf, size_t cap);
/*
 * Moves to the newest keyframe (what a new viewer wants). Returns 0, or CV_RING_EMPTY while there
 * is none it may move to: a reader already past the newest keyframe waits for the next one, since
 * no sequence number is delivered twice. Frames passed over are not counted as skipped.
 */
int cv_ring_reader_seek_key(struct cv_ring_reader *r);
/* Copies the codec parameters; returns their sequence (0 = never set) or a negative errno. */
int64_t cv_ring_reader_info(struct cv_ring_reader *r, struct cv_stream_info *info);
/* The parameters' current sequence, one atomic load: compare before paying for a copy. */
uint64_t cv_ring_reader_info_seq(const struct cv_ring_reader *r);
uint64_t cv_ring_reader_skipped(const struct cv_ring_reader *r); /* frames lost to laps/tears */
/* Frames published after the one last read: 0 when the reader is at the live edge. */
uint64_t cv_ring_reader_behind(const struct cv_ring_reader *r);
uint64_t cv_ring_reader_generation(const struct cv_ring_reader *r);
const struct cv_ring_header *cv_ring_reader_header(const struct cv_ring_reader *r);

#endif
