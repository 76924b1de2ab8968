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
    {CV_VARIANT_NATIVE, true}, {"video", true}, {"h264", false}, {"h265", false},
    {"opus", false},           {"aac", false},  {"jpeg", false}, {"raw", false},
};

int cv_variant_available(const struct cv_camera_config *cam, const char *variant, char *why,
                         size_t why_len)
{
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
