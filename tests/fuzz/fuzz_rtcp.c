/*
 * RTCP compound packets on any bytes (common/net/rtcp.c): what a browser sends camvisor-webrtc
 * (receiver reports, NACK, PLI, FIR) and a camera sends the worker (SR, BYE). Checked beyond "no
 * crash": counts stay within their arrays, and what parsed is the same whether the bytes come
 * alone or with more packets after them (a later sub-packet never changes an earlier one).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/net/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_rtcp_info a, b;
static uint8_t twice[8192];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int ra = cv_rtcp_parse(data, size, &a);
    if (a.rr_count > CV_RTCP_MAX_RR || a.nack_count > CV_RTCP_MAX_NACK)
        abort();
    if (ra < 0 || size * 2 > sizeof(twice))
        return 0;
    memcpy(twice, data, size);
    memcpy(twice + size, data, size);
    if (cv_rtcp_parse(twice, 2 * size, &b) != 0)
        abort(); /* two valid compounds back to back are one valid compound */
    if (b.has_sr != a.has_sr || (a.has_sr && memcmp(&a.sr, &b.sr, sizeof(a.sr)) != 0) ||
        b.wants_keyframe != a.wants_keyframe || b.bye != a.bye ||
        b.rr_count + b.rr_dropped != 2 * (a.rr_count + a.rr_dropped) ||
        b.nack_count + b.nack_dropped != 2 * (a.nack_count + a.nack_dropped))
        abort();
    return 0;
}
