/*
 * The cameras a consumer process knows: the supervisor's catalogue (which cameras exist) and each
 * one's last worker status (why one is not streaming, its size and codecs, for answers and
 * metrics). Every consumer needs the same table, so the process skeleton keeps it
 * (common/consumer/process.h: p->cams) and tells the consumer only what it must act on: a camera
 * that left the catalogue (ops->on_gone), whose viewers the consumer closes.
 *
 * The status table holds the cameras of the catalogue, never more: a status for a camera not in
 * it (a race with a reload) waits in a free row and is pruned by the next catalogue; a full table
 * (cannot happen while max_cameras bounds the catalogue) is said in the log, never silent.
 *
 * Ownership: the table is plain data inside struct cv_consumer; nothing to free.
 */
#ifndef CV_CONSUMER_CAMERAS_H
#define CV_CONSUMER_CAMERAS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/msg.h"

struct cv_cam {
    struct cv_msg_camera_status st; /* its last status; st.camera names it */
    bool have_status;
    uint64_t frames_lost; /* times this process's reader was lapped (ring overruns) */
};

struct cv_cameras_ops {
    /* camera left the catalogue (after its status row went): close its viewers. May be NULL. */
    void (*on_gone)(void *ctx, const char *camera);
};

struct cv_cameras {
    struct cv_msg_catalogue cat; /* the last catalogue */
    bool have_catalogue;
    struct cv_cam cams[CV_PROTO_MAX_CAMS];
    uint32_t count;
    const struct cv_cameras_ops *ops;
    void *ctx;
};

void cv_cameras_init(struct cv_cameras *t, const struct cv_cameras_ops *ops, void *ctx);
/* A new catalogue: cameras that left it are reported gone, their status forgotten, and the log
 * level follows the configuration's. */
void cv_cameras_on_catalogue(struct cv_cameras *t, const struct cv_msg_catalogue *cat);
void cv_cameras_on_status(struct cv_cameras *t, const struct cv_msg_camera_status *st);

bool cv_cameras_exists(const struct cv_cameras *t, const char *name);
/* The camera's catalogue entry, or NULL. */
const struct cv_msg_camera_entry *cv_cameras_entry(const struct cv_cameras *t, const char *name);
/* The camera's row (status, counters), or NULL before its first status. Like strchr(), a row
 * of a const table comes back writable: its counters are the caller's to count. */
struct cv_cam *cv_cameras_find(const struct cv_cameras *t, const char *name);
/* The codec of its first video (or audio) track as its worker last said (the status's or the
 * catalogue's codecs), CV_CODEC_NONE while not known or when it has none: what decides whether
 * a viewer needs a transcode. */
enum cv_codec cv_cameras_video_codec(const struct cv_cameras *t, const char *name);
enum cv_codec cv_cameras_audio_codec(const struct cv_cameras *t, const char *name);
/* Its last status, or NULL before the first. */
const struct cv_msg_camera_status *cv_cameras_status(const struct cv_cameras *t, const char *name);

#endif
