/* The cameras a consumer knows: see common/consumer/cameras.h. */
#include "common/consumer/cameras.h"

#include <stdio.h>
#include <string.h>

#include "common/base/log.h"
#include "common/media/media.h"

void cv_cameras_init(struct cv_cameras *t, const struct cv_cameras_ops *ops, void *ctx)
{
    t->have_catalogue = false;
    t->cat.camera_count = 0;
    t->count = 0;
    t->ops = ops;
    t->ctx = ctx;
}

const struct cv_msg_camera_entry *cv_cameras_entry(const struct cv_cameras *t, const char *name)
{
    for (uint32_t i = 0; i < t->cat.camera_count; i++)
        if (strcmp(t->cat.cameras[i].name, name) == 0)
            return &t->cat.cameras[i];
    return NULL;
}

bool cv_cameras_exists(const struct cv_cameras *t, const char *name)
{
    return cv_cameras_entry(t, name) != NULL;
}

static enum cv_codec cv_cameras_first_codec(const struct cv_cameras *t, const char *name,
                                            bool video)
{
    const struct cv_cam *cam = cv_cameras_find(t, name);
    const struct cv_msg_camera_entry *e = cv_cameras_entry(t, name);
    const char *codecs = cam && cam->st.codecs[0] ? cam->st.codecs : e ? e->codecs : "";
    char buf[sizeof(cam->st.codecs)];
    snprintf(buf, sizeof(buf), "%s", codecs);
    for (char *save = NULL, *c = strtok_r(buf, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        int codec = cv_codec_from_name(c);
        bool is_video = codec == CV_CODEC_H264 || codec == CV_CODEC_H265 || codec == CV_CODEC_JPEG;
        if (codec > 0 && is_video == video)
            return (enum cv_codec)codec;
    }
    return CV_CODEC_NONE;
}

enum cv_codec cv_cameras_video_codec(const struct cv_cameras *t, const char *name)
{
    return cv_cameras_first_codec(t, name, true);
}

enum cv_codec cv_cameras_audio_codec(const struct cv_cameras *t, const char *name)
{
    return cv_cameras_first_codec(t, name, false);
}

struct cv_cam *cv_cameras_find(const struct cv_cameras *t, const char *name)
{
    for (uint32_t i = 0; i < t->count; i++)
        if (strcmp(t->cams[i].st.camera, name) == 0)
            return (struct cv_cam *)&t->cams[i];
    return NULL;
}

const struct cv_msg_camera_status *cv_cameras_status(const struct cv_cameras *t, const char *name)
{
    struct cv_cam *cam = cv_cameras_find(t, name);
    return cam && cam->have_status ? &cam->st : NULL;
}

void cv_cameras_on_catalogue(struct cv_cameras *t, const struct cv_msg_catalogue *cat)
{
    /* Who left, named before the catalogue is replaced (the names live in it). */
    char gone[CV_PROTO_MAX_CAMS][CV_NAME_MAX];
    uint32_t ngone = 0;
    for (uint32_t i = 0; i < t->cat.camera_count; i++) {
        bool kept = false;
        for (uint32_t j = 0; j < cat->camera_count && !kept; j++)
            kept = strcmp(t->cat.cameras[i].name, cat->cameras[j].name) == 0;
        if (!kept)
            memcpy(gone[ngone++], t->cat.cameras[i].name, CV_NAME_MAX);
    }
    t->cat = *cat;
    t->have_catalogue = true;
    uint32_t keep = 0;
    for (uint32_t i = 0; i < t->count; i++)
        if (cv_cameras_exists(t, t->cams[i].st.camera))
            t->cams[keep++] = t->cams[i];
    t->count = keep;
    if (cat->log_level <= CV_LOG_ERR)
        cv_log_set_level((enum cv_log_level)cat->log_level);
    cv_dbg("catalogue: %u cameras, %u gone", cat->camera_count, ngone);
    for (uint32_t i = 0; i < ngone && t->ops && t->ops->on_gone; i++)
        t->ops->on_gone(t->ctx, gone[i]);
}

void cv_cameras_on_status(struct cv_cameras *t, const struct cv_msg_camera_status *st)
{
    struct cv_cam *slot = cv_cameras_find(t, st->camera);
    if (!slot && t->count < CV_PROTO_MAX_CAMS) {
        slot = &t->cams[t->count++];
        memset(slot, 0, sizeof(*slot));
    }
    if (!slot) { /* cannot happen while the catalogue is the bound (max_cameras); said if it does */
        cv_warn("camera %s: status table full (%d cameras): status dropped", st->camera,
                CV_PROTO_MAX_CAMS);
        return;
    }
    slot->st = *st;
    slot->have_status = true;
}
