/*
 * Fragmented MP4 for MSE, progressive MP4 and HLS (camvisor-http: one muxer per (camera,
 * variant), fed the ring's frames once, its bytes fanned out to every viewer, STYLE.md 5: mux
 * once), and for any other consumer that writes MP4 (a recorder): it is the mux layer's, linked
 * by whoever needs it. Built on libavformat's mov muxer (empty_moov + default_base_moof, and a
 * flush after every frame so each frame is its own moof+mdat: frag_keyframe alone would hold a
 * fragment, and so the first picture, for a whole GOP). Browsers' MSE takes no G.711 in MP4, so, as
 * go2rtc does, PCMA/PCMU is re-encoded here as FLAC (flac.h); AAC and Opus go as they come.
 *
 *   cv_fmp4_open(info)    -> the init segment (ftyp+moov) and the MSE MIME type with its RFC 6381
 *                            codecs string ("video/mp4; codecs=\"avc1.64001F,mp4a.40.2\"")
 *   cv_fmp4_write(frame)  -> one fragment (moof+mdat) for that frame, or nothing (a track that is
 *                            not muxed, or a frame before its track's first keyframe)
 *   cv_fmp4_discontinuity -> the next frames' timestamps are shifted so the output timeline
 *                            continues (camera reconnect, worker restart, frames lost): a player
 *                            never sees time go backwards or jump
 *
 * Each fragment says where its tfdt (baseMediaDecodeTime, 64-bit big endian) lies, so that a
 * viewer that joins later can have its copy rebased to start near 0, as go2rtc's player expects,
 * without a muxer per viewer.
 *
 * Input is untrusted (a camera's parameter sets reach it through the worker): hostile extradata
 * or frames give an error, never a crash (tests/fuzz/fuzz_fmp4.c).
 *
 * Ownership: the muxer owns its libavformat context and its output buffers; the pointers it
 * hands out (init segment, MIME, fragment data) stay valid until the next call that changes them
 * (cv_fmp4_write for fragments) or cv_fmp4_close.
 */
#ifndef CV_MUX_FMP4_H
#define CV_MUX_FMP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"
#include "common/ring/ring.h"

struct cv_fmp4;

struct cv_fmp4_frag {
    const uint8_t *data; /* moof+mdat; valid until the next cv_fmp4_write or cv_fmp4_close */
    size_t len;
    bool key;             /* a video keyframe (or an audio frame of an audio-only stream) */
    uint32_t out_track;   /* 0-based track index in the init segment */
    uint32_t timescale;   /* of that track */
    uint64_t decode_time; /* the baseMediaDecodeTime written, in timescale units */
    uint64_t duration;    /* of this fragment's samples, in timescale units */
    size_t tfdt_off;      /* offset in data of the 8-byte baseMediaDecodeTime */
};

/*
 * A muxer for the tracks of info that MSE can play: the first H.264 or H.265 video track and one
 * audio track, the first of the first codec in the order AAC ("mp4a.40.N"), Opus ("opus"), PCMA,
 * PCMU (both as FLAC, "flac") that can be muxed: an AAC track whose AudioSpecificConfig does not
 * parse, Opus of more than 2 channels, G.711 at a rate outside 1-48 kHz are passed over rather
 * than the whole stream refused. At least one video track is needed (-EINVAL otherwise, and for
 * a malformed info); -ENOTSUP when no video track can be muxed; -EBADMSG for video parameter
 * sets that are missing or do not parse.
 */
int cv_fmp4_open(struct cv_fmp4 **out, const struct cv_stream_info *info);
void cv_fmp4_close(struct cv_fmp4 *m);
/* Names the muxer in its log lines ("front_door/main"); copied. Default "fmp4". */
void cv_fmp4_set_name(struct cv_fmp4 *m, const char *name);

const uint8_t *cv_fmp4_init(const struct cv_fmp4 *m, size_t *len);
/* "video/mp4; codecs=\"avc1.64001F\"" */
const char *cv_fmp4_mime(const struct cv_fmp4 *m);
/* Just the codecs list, "avc1.64001F,mp4a.40.2" (go2rtc's `mse` reply carries the MIME). */
const char *cv_fmp4_codecs(const struct cv_fmp4 *m);
/* Output track of ring track `track`, or -1 when that track is not muxed. */
int cv_fmp4_out_track(const struct cv_fmp4 *m, uint32_t track);
uint32_t cv_fmp4_track_count(const struct cv_fmp4 *m);
uint32_t cv_fmp4_timescale(const struct cv_fmp4 *m, uint32_t out_track);

/*
 * One ring frame (payload as common/media/media.h describes). 1 with *frag filled, 0 when the
 * frame produced no fragment, or a negative errno (the muxer is then unusable: close it).
 * Output decode times of a track are the sum of the durations before them, so they never go
 * back or jump whatever the input timestamps do; a duration is the input's last dts step (the
 * previous one when that step is implausible). Video waits for a keyframe at the start, after a
 * discontinuity and after a malformed frame (dropped); audio waits for the video.
 * G.711 is cut into 20 ms FLAC frames: a packet gives the fragment of the frames it completes
 * (none, one, or more: one fragment, several samples), and its duration counts their samples;
 * a hole in its timestamps of up to a second (packets lost) is filled with silence.
 */
int cv_fmp4_write(struct cv_fmp4 *m, const struct cv_frame *fr, const uint8_t *data,
                  struct cv_fmp4_frag *frag);
/* The next frame of each track continues at its last decode time + last duration. */
void cv_fmp4_discontinuity(struct cv_fmp4 *m);

/* Writes the 8-byte big-endian value at frag data + tfdt_off of a copy (a viewer's rebase). */
void cv_fmp4_set_decode_time(uint8_t *frag_copy, size_t tfdt_off, uint64_t decode_time);

#endif
