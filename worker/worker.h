/*
 * A camera's worker: one process per camera. It receives its camera (URL, transport) and its
 * ring from the supervisor, runs one source backend, writes every access unit into the ring and
 * rings the doorbells of the consumer processes subscribed to the camera.
 */
#ifndef CV_WORKER_H
#define CV_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"
#include "proto/msg.h"

struct event_base;
struct cv_worker;

/* A source backend: adding one means adding a file and a line in worker/source.c's table. */
struct cv_source_ops {
    const char *scheme; /* "testsrc", "file", "rtsp", "rtsps" */
    /* Starts ingest on w's event base; *state is the backend's, freed by stop(). */
    int (*start)(struct cv_worker *w, const struct cv_msg_camera *cam, void **state);
    void (*stop)(void *state);
};

const struct cv_source_ops *cv_source_find(const char *url);
/* A symbol of camvisor-ffmpeg.so (loaded on first use, kept loaded); NULL, logged, if absent. */
void *cv_worker_plugin_symbol(const char *symbol);

struct event_base *cv_worker_base(struct cv_worker *w);
const char *cv_worker_camera(const struct cv_worker *w);

/* The stream's tracks and codec parameters; a change is published to the ring at once. */
void cv_worker_set_info(struct cv_worker *w, const struct cv_stream_info *info);
/* One access unit. arrival_ns is CLOCK_MONOTONIC when its last byte arrived. */
void cv_worker_publish(struct cv_worker *w, uint32_t track, const uint8_t *data, size_t len,
                       int64_t pts, int64_t dts, bool key, uint64_t arrival_ns);
/* Connection state for status reports; error (may be NULL) must already be redacted. */
void cv_worker_set_state(struct cv_worker *w, enum cv_worker_state state, const char *error);

/* For the worker's variants (worker/variants.h): the camera's ring (its memfd, to read it), its
 * tracks, and the doorbells of a variant's subscribers (variant: an index, -1 the camera's own). */
int cv_worker_ring_fd(const struct cv_worker *w);
const struct cv_stream_info *cv_worker_info(const struct cv_worker *w);
void cv_worker_ring_bells(struct cv_worker *w, int variant);

#endif
