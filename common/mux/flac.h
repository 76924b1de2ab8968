/*
 * G.711 to FLAC for the fMP4 muxer (fmp4.c): browsers' MSE plays no G.711 in MP4, so, as go2rtc
 * does, PCMA/PCMU is expanded to 16-bit PCM and re-encoded, losslessly, as FLAC (libavcodec's
 * encoder) at the camera's rate and channel count. One transcoder per muxer, so per camera, never
 * per viewer (STYLE.md 5).
 *
 * Framing: fixed FLAC frames of CV_FLAC_FRAME_MS (20 ms, 160 samples at 8 kHz: what one RTP packet
 * of G.711 usually holds), cut from the samples pushed whatever the packet sizes. A smaller block
 * is worse for FLAC's prediction and overhead, a larger one adds its length to the latency (the
 * encoder's default, ~105 ms, would hold audio back by up to that); 20 ms adds at most 20 ms, and
 * the muxer makes one fragment of each packet that completes one or more frames.
 *
 * Ownership: the transcoder owns its encoder, frame and packet; a packet handed to the callback is
 * valid only during the call.
 */
#ifndef CV_MUX_FLAC_H
#define CV_MUX_FLAC_H

#include <stddef.h>
#include <stdint.h>

#include "common/media/media.h"

#define CV_FLAC_FRAME_MS     20
#define CV_FLAC_STREAMINFO   34 /* the STREAMINFO block, what the 'dfLa' box holds */
#define CV_FLAC_MAX_CHANNELS 8

struct cv_flac;
struct AVPacket;

/* Called with each FLAC frame encoded (duration cv_flac_frame_size samples); <0 stops the push. */
typedef int (*cv_flac_out_fn)(void *ctx, struct AVPacket *pkt);

/*
 * law: CV_CODEC_PCMA or CV_CODEC_PCMU; rate 1000..48000 Hz (G.711 is 8 kHz; some cameras say 16);
 * channels 1..8. -EINVAL for anything else, -ENOTSUP when libavcodec has no FLAC encoder or refuses
 * these parameters.
 */
int cv_flac_open(struct cv_flac **out, enum cv_codec law, uint32_t rate, unsigned channels);
void cv_flac_close(struct cv_flac *f);
/* The 34-byte STREAMINFO block (the encoder's extradata). */
const uint8_t *cv_flac_streaminfo(const struct cv_flac *f);
unsigned cv_flac_frame_size(const struct cv_flac *f);

/*
 * `silence` samples of silence, then `samples` samples of G.711 (interleaved, one byte per channel
 * per sample: g711 holds samples * channels bytes). Each FLAC frame completed goes to out before
 * this returns; the rest waits for the next push. Returns the number of frames given to out, or a
 * negative errno (the transcoder is then unusable).
 */
int cv_flac_push(struct cv_flac *f, const uint8_t *g711, size_t samples, size_t silence,
                 cv_flac_out_fn out, void *ctx);

#endif
