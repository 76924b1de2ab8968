/*
 * The variants a worker writes besides the camera's own stream, each into a ring of its own and
 * only while some consumer subscribes (supervisor/variants.h names them):
 *   video          the camera's video tracks, passed through (a viewer that wants no audio)
 *   jpeg[:WxH]     its first video track as JPEG pictures, at most CV_VARIANTS_JPEG_FPS a second
 *   h264[:WxH]     its first video track as H.264 (transcoded; passed through from an H.264
 *                  camera when no size is asked), and its audio tracks as they are
 *   opus, aac      its video tracks as they are, and its first audio track in that codec
 *                  (transcoded inline, frame by frame: cheap; passed through when it is already)
 * Every transcoding variant takes its pictures from the camera's one decoder (worker/xcode.h),
 * which reads the camera's ring with a cursor of its own and runs while any of them runs.
 *
 * Internal to camvisor-worker: worker/main.c owns the set and feeds it.
 */
#ifndef CV_WORKER_VARIANTS_H
#define CV_WORKER_VARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ring/ring.h"
#include "proto/msg.h"
#include "worker/worker.h"
#include "worker/xcode.h"

#define CV_VARIANTS_MAX         8   /* as the supervisor's CV_SUP_MAX_VARIANTS */
#define CV_VARIANTS_JPEG_FPS    15  /* a jpeg ring's most pictures a second: MJPEG, snapshots */
#define CV_VARIANTS_LAT_SAMPLES 128 /* pictures whose transcode latency a status reports */

struct event;

/* The camera's one decoder, shared by the transcoding variants. */
struct cv_variants_dec {
    const struct cv_xcode_dec_ops *ops; /* from the plugin, once a transcoder first starts */
    void *state;                        /* owned by ops; NULL with nobody to decode for */
    struct cv_ring_reader *in;          /* owned: its cursor on the camera's ring */
    int src_track;                      /* the camera track it decodes; -1 none */
    struct cv_track_info src_params;    /* that track's parameters when state was opened */
    char path[192];                     /* what it decodes on and why, as last logged */
    uint64_t skip_until_ns; /* after a ring move: frames that came up to here were read */
    uint64_t last_in_ns;    /* arrival of the last frame read */
    uint64_t started_ns;    /* when its cursor was opened */
    uint64_t decoded;       /* access units decoded */
    uint64_t skipped;       /* frames skipped to catch up with the camera */
    uint64_t skip_logged_ns;
    bool need_key;  /* it skipped: nothing decodes before a keyframe */
    bool caught_up; /* it has reached the live edge since its cursor opened */
};

struct cv_variant_out {
    char name[CV_VARIANT_MAX];   /* "" = free slot */
    struct cv_ring_writer *ring; /* owned */
    int fd;                      /* owned */
    int map[CV_MAX_TRACKS];      /* camera track -> this ring's track passed through, -1 none */
    struct cv_stream_info info;  /* this ring's tracks */
    bool info_set;               /* written to the ring (an encoder's track: after its first) */
    const struct cv_xcode_enc_ops *kind; /* the encoder it would use; NULL for `video` */
    const struct cv_xcode_enc_ops *enc;  /* kind while it transcodes; NULL passing through */
    void *enc_state;                     /* owned by enc */
    struct cv_xcode_enc_params params;
    unsigned max_fps;     /* pictures a second at most; 0: every picture */
    bool audio;           /* the camera's audio tracks go along, passed through */
    bool live;            /* every picture is encoded (not only the one at the live edge) */
    bool force_key;       /* the next picture as a keyframe: a new viewer, a PLI */
    bool catchup_pending; /* pass-through: started, its catch-up not run yet */
    int64_t last_out_pts;
    bool have_out;
    uint64_t started_ns, published_ns; /* when it started; its last picture (0: none yet) */
    uint64_t decoded_at_start;         /* the decoder's count when it started */
    uint64_t encoded, drops, drop_logged_ns;
    enum cv_codec audio_to; /* opus, aac: the codec its audio is made into; NONE for the others */
    void *astate;           /* owned by the set's audio ops while the audio is transcoded */
    int asrc;               /* the camera audio track transcoded, -1 none */
    struct cv_track_info asrc_params;         /* its parameters when astate was opened */
    int aout;                                 /* the transcoded audio's track in this ring */
    uint32_t lat_us[CV_VARIANTS_LAT_SAMPLES]; /* camera frame in -> picture out, the last ones */
    unsigned lat_count, lat_next;
};

struct cv_variants {
    struct cv_worker *w; /* not owned */
    struct cv_variant_out v[CV_VARIANTS_MAX];
    struct cv_variants_dec dec;
    struct event *catchup_ev; /* owned: runs the catch-ups of pass-through variants started */
    struct event *xcode_ev;   /* owned: a slice of transcoding, once per loop turn while due */
    uint8_t *buf;             /* owned: a frame read for the decoder (CV_RING_MAX_FRAME) */
    const struct cv_xcode_audio_ops *aops; /* from the plugin, once an audio variant starts */
    enum cv_xcode_hw hw;                   /* the camera's hwaccel */
    unsigned bitrate;        /* the camera's transcode_bitrate (bits/s), 0 the encoder's choice */
    unsigned size_w, size_h; /* its transcode_size: a plain h264 variant's (0: the camera's) */
};

int cv_variants_init(struct cv_variants *vs, struct cv_worker *w);
void cv_variants_fini(struct cv_variants *vs);
/* The camera's settings for transcoders (from its CV_MSG_CAMERA). */
void cv_variants_configure(struct cv_variants *vs, const struct cv_msg_camera *cam);

/* Starts writing a variant into the ring fd (owned from here); refusals are logged. */
void cv_variants_start(struct cv_variants *vs, const char *name, int fd);
/* Stops it; the index it had (its doorbells are gone with it), or -1. */
int cv_variants_stop(struct cv_variants *vs, const char *name);
int cv_variants_index(const struct cv_variants *vs, const char *name);

/* The camera's tracks changed / a frame went into its ring / it moved to a new ring. */
void cv_variants_set_info(struct cv_variants *vs, const struct cv_stream_info *info);
void cv_variants_publish(struct cv_variants *vs, const struct cv_frame *f, const uint8_t *data);
void cv_variants_ring_moved(struct cv_variants *vs);

/* A keyframe as soon as possible: in variant (NULL or "": every encoding one). A viewer that
 * joins a running variant gets one the same way. */
void cv_variants_keyframe(struct cv_variants *vs, const char *variant);

/* The transcoding figures of a status report. */
void cv_variants_status(const struct cv_variants *vs, struct cv_msg_status *st);

#endif
