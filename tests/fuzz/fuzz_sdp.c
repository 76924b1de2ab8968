/*
 * SDP parsing on any bytes, the way the worker reads a camera's DESCRIBE answer, then the SDP our
 * server would build from the result. Checked beyond "no crash": that built SDP parses back into
 * the same tracks (codec, clock of non-Opus tracks, extradata length no larger than before), and
 * control URLs resolve without overflow against bases of several shapes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_sdp sdp, sdp2;
static struct cv_stream_info si;
static char text[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const bases[] = {"rtsp://cam/s", "rtsp://cam/s/", "", "x"};
    unsigned sel[CV_MAX_TRACKS];
    char url[256];

    if (cv_sdp_parse((const char *)data, size, &sdp) < 0)
        return 0;
    if (sdp.track_count > CV_MAX_TRACKS)
        abort();
    memset(&si, 0, sizeof(si));
    si.track_count = sdp.track_count;
    for (unsigned i = 0; i < sdp.track_count; i++) {
        const struct cv_sdp_track *t = &sdp.tracks[i];
        if (t->info.extradata_len > CV_MAX_EXTRADATA || t->control[sizeof(t->control) - 1] != 0)
            abort();
        for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
            if (cv_sdp_track_url(&sdp, i, bases[b], url, sizeof(url)) == 0 &&
                strlen(url) >= sizeof(url))
                abort();
        si.tracks[i] = t->info;
        sel[i] = i;
    }
    int n = cv_sdp_build(&si, sel, sdp.track_count, 1, text, sizeof(text));
    if (n < 0 || (size_t)n != strlen(text))
        abort();
    if (cv_sdp_parse(text, (size_t)n, &sdp2) < 0 || sdp2.track_count != sdp.track_count)
        abort();
    for (unsigned i = 0; i < sdp.track_count; i++) {
        const struct cv_track_info *a = &sdp.tracks[i].info, *b = &sdp2.tracks[i].info;
        if (a->codec != b->codec || a->kind != b->kind ||
            (a->codec != CV_CODEC_OPUS && a->clock_rate != b->clock_rate) ||
            b->extradata_len > a->extradata_len)
            abort();
    }
    return 0;
}
