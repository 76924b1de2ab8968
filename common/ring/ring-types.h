/*
 * The shared-memory ring's layout: a contract between one writer process (a camera's worker)
 * and any number of reader processes (the consumers). Everything here lives in a memfd created by
 * the supervisor; sizes and offsets are pinned by _Static_assert and CV_RING_LAYOUT_VERSION.
 *
 *  +-----------------+------------------+---------------------+----------------------------+
 *  | cv_ring_header  | cv_ring_params   | cv_ring_slot[slots] | data area (data_size bytes)|
 *  +-----------------+------------------+---------------------+----------------------------+
 *
 * Sequence numbers are monotonic for the life of the ring (a restarted writer continues from
 * head_seq), so a reader never mistakes old data for new. Data positions are monotonic byte
 * counters; a frame's bytes live at (pos % data_size), contiguous (the writer wraps to 0 rather
 * than split a frame). See docs/architecture.md for the publication protocol.
 */
#ifndef CV_RING_TYPES_H
#define CV_RING_TYPES_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

#define CV_RING_MAGIC          0x43565249u /* "CVRI" */
#define CV_RING_LAYOUT_VERSION 1u

enum cv_ring_flags {
    CV_FRAME_KEY = 1u << 0,     /* video IDR/IRAP, or any frame of an audio-only stream */
    CV_FRAME_DISCONT = 1u << 1, /* set by the reader: frames were skipped before this one */
};

struct cv_ring_header {
    uint32_t magic;
    uint32_t layout_version;
    uint64_t total_size; /* bytes of the whole mapping */
    uint64_t data_size;  /* bytes of the data area */
    uint32_t slot_count; /* power of two */
    uint32_t reserved0;
    uint64_t slots_offset;
    uint64_t data_offset;

    /* Written only by the writer; everything below is read by readers with acquire loads. */
    _Atomic uint64_t generation;    /* bumped by each writer that opens the ring */
    _Atomic uint64_t gen_start_seq; /* first sequence number written by this generation */
    _Atomic uint64_t head_seq;      /* next sequence number to publish; newest is head_seq-1 */
    _Atomic uint64_t key_seq;       /* newest keyframe's sequence (valid when has_key) */
    _Atomic uint64_t has_key;       /* key_seq belongs to the current generation */
    _Atomic uint64_t write_pos;     /* data position just past the newest frame */
    _Atomic uint64_t reclaim_pos;   /* data below reclaim_pos - data_size may be overwritten */
    _Atomic uint64_t writer_pid;
    uint8_t reserved1[48];
};

/* Codec parameters under their own sequence lock (odd while the writer is changing them). */
struct cv_ring_params {
    _Atomic uint64_t seq;
    struct cv_stream_info info;
};

struct cv_ring_slot {
    _Atomic uint64_t seq; /* sequence number this slot holds, stored last (release) */
    uint64_t pos;         /* data position of the payload */
    uint32_t len;
    uint32_t flags; /* enum cv_ring_flags */
    uint32_t track; /* index into cv_stream_info.tracks */
    uint32_t reserved;
    int64_t pts; /* in the track's clock_rate units */
    int64_t dts;
    uint64_t arrival_ns; /* CLOCK_MONOTONIC when the frame's last byte reached the worker */
};

_Static_assert(sizeof(struct cv_ring_header) == 160, "ring header layout");
_Static_assert(offsetof(struct cv_ring_header, generation) == 48, "ring header layout");
_Static_assert(sizeof(struct cv_ring_slot) == 56, "ring slot layout");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "lock-free 64-bit atomics");

#endif
