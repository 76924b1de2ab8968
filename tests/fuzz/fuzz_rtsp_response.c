/*
 * What the worker's RTSP client does with a camera's bytes: parse responses (skipping interleaved
 * frames), answer WWW-Authenticate challenges, read Session and Transport, and parse a DESCRIBE
 * body as SDP, resolving each track's control URL. Checked beyond "no crash": the Authorization
 * value we would send parses back as credentials that verify, and the SDP we would serve for the
 * parsed tracks parses back into the same codecs.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/rtsp-auth.h"
#include "common/net/rtsp-msg.h"
#include "common/net/rtsp-transport.h"
#include "common/net/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_rtsp_msg msg;
static struct cv_sdp sdp, sdp2;
static struct cv_stream_info si;
static char text[65536];

static void answer_challenges(void)
{
    struct cv_rtsp_challenge c;
    struct cv_rtsp_credentials cr;
    char out[2048];
    uint32_t nc = 0;
    const char *v;

    for (unsigned i = 0; (v = cv_rtsp_msg_header_nth(&msg, "WWW-Authenticate", i)); i++)
        cv_rtsp_auth_challenge_parse(v, &c);
    if (cv_rtsp_auth_challenge_pick(&msg, &c) < 0)
        return;
    int n = cv_rtsp_auth_build(&c, "admin", "pa\"ss", "DESCRIBE", "rtsp://cam/s", &nc, "0a4f113b",
                               out, sizeof(out));
    if (n < 0)
        return;
    if (cv_rtsp_auth_credentials_parse(out, &cr) < 0)
        return; /* e.g. a challenge field too long to fit credentials: not a bug */
    if (cv_rtsp_auth_verify(&cr, "DESCRIBE", c.realm, c.nonce, "admin", "pa\"ss") != 0 &&
        c.scheme == CV_RTSP_AUTH_DIGEST && strlen(c.realm) < sizeof(cr.realm))
        abort();
}

static void describe(void)
{
    char url[1024];
    const char *base = cv_rtsp_msg_header(&msg, "Content-Base");

    if (cv_sdp_parse((const char *)msg.body, msg.body_len, &sdp) < 0)
        return;
    if (sdp.track_count > CV_MAX_TRACKS)
        abort();
    for (unsigned i = 0; i < sdp.track_count; i++)
        cv_sdp_track_url(&sdp, i, base ? base : "rtsp://cam/s", url, sizeof(url));

    /* Serve what we parsed: the same codecs must come back. */
    unsigned sel[CV_MAX_TRACKS];
    memset(&si, 0, sizeof(si));
    si.track_count = sdp.track_count;
    for (unsigned i = 0; i < sdp.track_count; i++) {
        si.tracks[i] = sdp.tracks[i].info;
        sel[i] = i;
    }
    int n = cv_sdp_build(&si, sel, sdp.track_count, 1, text, sizeof(text));
    if (n < 0)
        abort();
    if (cv_sdp_parse(text, (size_t)n, &sdp2) < 0 || sdp2.track_count != sdp.track_count)
        abort();
    for (unsigned i = 0; i < sdp.track_count; i++)
        if (sdp2.tracks[i].info.codec != sdp.tracks[i].info.codec)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;

    /* The camera client's input loop (worker/rtsp-client.c) over a connection's bytes. */
    while (pos < size) {
        char id[128];
        unsigned timeout;
        struct cv_rtsp_transport t;
        struct cv_rtsp_item it;
        const char *v;

        if (cv_rtsp_next_item(data + pos, size - pos, CV_RTSP_MAX_HEADER_BYTES + CV_RTSP_MAX_BODY,
                              &msg, &it) < 0)
            break;
        if (it.size == 0 || it.size > size - pos)
            abort();
        if (it.is_data && (it.data != data + pos + 4 || it.data_len + 4 != it.size))
            abort();
        if (!it.is_data && msg.type == CV_RTSP_RESPONSE) {
            answer_challenges();
            if ((v = cv_rtsp_msg_header(&msg, "Session")))
                cv_rtsp_session_parse(v, id, sizeof(id), &timeout);
            if ((v = cv_rtsp_msg_header(&msg, "Transport")))
                cv_rtsp_transport_parse(v, CV_RTSP_ACCEPT_ANY, &t);
            if (msg.body_len)
                describe();
        }
        pos += it.size;
    }
    return 0;
}
