/* Variants of a camera's stream: see supervisor/variants.h. */
#include "supervisor/variants.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "proto/msg.h"

static const struct {
    const char *name;
    bool produced; /* a worker can make it today */
} cv_variants[] = {
    {CV_VARIANT_NATIVE, true},
    {"video", true},
    {"h264", true},
    {"h265", false},
    {"opus", true},
    {"aac", true},
    {"jpeg", true},
    {"raw", false},
};

/* jpeg:WxH or h264:WxH, a scaled picture (frame.jpeg?width=&height=, a transcode of a size):
 * each side 0 (follow the aspect) to 8192, in canonical form (no leading zeros, no sign), so one
 * size is one ring. */
static bool cv_variant_sized_ok(const char *v)
{
    if (strncmp(v, "jpeg:", 5) != 0 && strncmp(v, "h264:", 5) != 0)
        return false;
    const char *p = v + 5;
    for (int side = 0; side < 2; side++) {
        unsigned n = 0, digits = 0;
        if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
            return false;
        while (*p >= '0' && *p <= '9' && digits < 5) {
            n = n * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (!digits || n > 8192 || *p != (side == 0 ? 'x' : '\0'))
            return false;
        p++;
    }
    return strcmp(v + 4, ":0x0") != 0; /* that is the plain one */
}

/* variant is kind, plain or sized ("h264", "h264:640x0"). */
static bool cv_variant_is(const char *variant, const char *kind)
{
    size_t n = strlen(kind);
    return strncmp(variant, kind, n) == 0 && (variant[n] == '\0' || variant[n] == ':');
}

int cv_variant_available(const struct cv_camera_config *cam, const char *variant, char *why,
                         size_t why_len)
{
    if (cv_variant_sized_ok(variant))
        return 0;
    for (size_t i = 0; i < sizeof(cv_variants) / sizeof(cv_variants[0]); i++) {
        if (strcmp(variant, cv_variants[i].name) != 0)
            continue;
        if (cv_variants[i].produced)
            return 0;
        snprintf(why, why_len, "camera %s: variant %s is not produced yet", cam->name, variant);
        return -EOPNOTSUPP;
    }
    snprintf(why, why_len, "unknown variant '%.16s'", variant);
    return -EINVAL;
}

bool cv_variant_transcodes(const struct cv_camera_config *cam, const char *variant,
                           const char *codecs)
{
    if (!cv_variant_is(variant, "h264"))
        return false;
    /* An H.264 camera's h264 with no size passes its stream through: its first video codec
     * (the list is by track, "aac,h264" possible) decides, as in the worker. */
    bool h264_camera = false;
    for (const char *p = codecs; *p;) {
        size_t n = strcspn(p, ",");
        bool video = (n == 4 && (!strncmp(p, "h264", 4) || !strncmp(p, "hevc", 4) ||
                                 !strncmp(p, "h265", 4))) ||
                     (n == 5 && !strncmp(p, "mjpeg", 5));
        if (video) {
            h264_camera = !strncmp(p, "h264", 4);
            break;
        }
        p += n + (p[n] == ',');
    }
    return !h264_camera || variant[4] || cam->transcode_size.width || cam->transcode_size.height;
}

uint64_t cv_variant_ring_bytes(const char *variant, uint64_t camera_ring)
{
    bool pictures = cv_variant_is(variant, "jpeg") || cv_variant_is(variant, "h264");
    return pictures && camera_ring < CV_VARIANT_JPEG_RING ? CV_VARIANT_JPEG_RING : camera_ring;
}
