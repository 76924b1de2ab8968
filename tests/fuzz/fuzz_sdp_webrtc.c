/*
 * WebRTC offer parsing on any bytes, then what the server does with an offer: the codec choice
 * for a High-profile H.264 camera track and an Opus track on every m-line, and the answer. Checked
 * beyond "no crash": counts stay within their bounds and strings terminated; choices made by
 * cv_webrtc_sdp_choose() are never -EINVAL to the answer builder; an answer fits 64 KiB, is
 * refused one byte short, parses back with one m-line per offered one (same mids, nothing we
 * accepted rejected, never sendrecv/recvonly), and choosing again on it lands on the same
 * payload types.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/sdp-webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_webrtc_sdp_offer offer, back;
static struct cv_track_info tracks[2];
static char text[65536];

static const struct cv_webrtc_sdp_candidate cands[] = {
    {"192.0.2.1", 8555, false},
    {"192.0.2.1", 8555, true},
};

static const struct cv_webrtc_sdp_local local = {
    .ice_ufrag = "fuzz",
    .ice_pwd = "fuzzfuzzfuzzfuzzfuzzfuzz",
    .fingerprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:"
                   "99:AA:BB:CC:DD:EE:FF",
    .cname = "fuzz",
    .stream_id = "fuzz",
    .session_id = 1,
    .candidates = cands,
    .candidate_count = 2,
};

static void setup_tracks(void)
{
    static const uint8_t sps[] = {0, 0, 0, 4, 0x67, 0x64, 0x00, 0x28};
    tracks[0].kind = CV_TRACK_VIDEO;
    tracks[0].codec = CV_CODEC_H264;
    tracks[0].clock_rate = 90000;
    memcpy(tracks[0].extradata, sps, sizeof(sps));
    tracks[0].extradata_len = sizeof(sps);
    tracks[1].kind = CV_TRACK_AUDIO;
    tracks[1].codec = CV_CODEC_OPUS;
    tracks[1].clock_rate = 48000;
    tracks[1].channels = 2;
}

static void check_media(const struct cv_webrtc_sdp_media *m)
{
    if (m->format_count > CV_WEBRTC_SDP_MAX_FORMATS ||
        m->extmap_count > CV_WEBRTC_SDP_MAX_EXTMAPS || m->mid[sizeof(m->mid) - 1] ||
        m->media[sizeof(m->media) - 1] || m->proto[sizeof(m->proto) - 1] ||
        m->fmt0[sizeof(m->fmt0) - 1] || m->transport.ice_ufrag[CV_WEBRTC_SDP_MAX_ICE] ||
        m->transport.ice_pwd[CV_WEBRTC_SDP_MAX_ICE] ||
        m->transport.fingerprint_len > sizeof(m->transport.fingerprint))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cv_webrtc_sdp_choice choices[CV_WEBRTC_SDP_MAX_MEDIA], again;
    struct cv_webrtc_sdp_send send[CV_WEBRTC_SDP_MAX_MEDIA];

    if (!tracks[0].codec)
        setup_tracks();
    if (cv_webrtc_sdp_parse((const char *)data, size, &offer) < 0)
        return 0;
    if (offer.media_count > CV_WEBRTC_SDP_MAX_MEDIA || offer.bundle_count > CV_WEBRTC_SDP_MAX_MEDIA)
        abort();
    memset(send, 0, sizeof(send));
    for (unsigned i = 0; i < offer.media_count; i++) {
        const struct cv_webrtc_sdp_media *m = &offer.media[i];
        check_media(m);
        for (unsigned t = 0; t < 2; t++) {
            int err = cv_webrtc_sdp_choose(m, &tracks[t], &choices[i]);
            if (choices[i].why[sizeof(choices[i].why) - 1] || (err == 0) != choices[i].ok)
                abort();
            if (err == 0) {
                send[i] = (struct cv_webrtc_sdp_send){&choices[i], 1000 + 2 * i, 1001 + 2 * i, ~0u};
                break;
            }
        }
    }
    int n = cv_webrtc_sdp_answer(&offer, send, offer.media_count, &local, text, sizeof(text));
    if (n == -EPROTO || n == -ERANGE)
        return 0;
    if (n < 0 || (size_t)n != strlen(text))
        abort();
    if (cv_webrtc_sdp_answer(&offer, send, offer.media_count, &local, text, (size_t)n) != -E2BIG)
        abort();
    n = cv_webrtc_sdp_answer(&offer, send, offer.media_count, &local, text, sizeof(text));
    if (cv_webrtc_sdp_parse(text, (size_t)n, &back) < 0 || back.media_count != offer.media_count ||
        !back.ice_lite)
        abort();
    for (unsigned i = 0; i < offer.media_count; i++) {
        const struct cv_webrtc_sdp_media *b = &back.media[i];
        if (strcmp(b->mid, offer.media[i].mid) != 0)
            abort();
        if (!send[i].choice) {
            if (!b->rejected)
                abort();
            continue;
        }
        if (b->rejected || b->transport.setup != CV_WEBRTC_SDP_SETUP_PASSIVE ||
            (b->direction != CV_WEBRTC_SDP_SENDONLY && b->direction != CV_WEBRTC_SDP_INACTIVE))
            abort();
        unsigned t = choices[i].codec == CV_CODEC_H264 ? 0 : 1;
        if (cv_webrtc_sdp_choose(b, &tracks[t], &again) < 0 || again.pt != choices[i].pt ||
            again.has_rtx != choices[i].has_rtx ||
            (again.has_rtx && again.rtx_pt != choices[i].rtx_pt))
            abort();
    }
    return 0;
}
