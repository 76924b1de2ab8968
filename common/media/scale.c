/* The size of a scaled picture: see common/media/scale.h. */
#include "common/media/scale.h"

#include <errno.h>
#include <stdint.h>

/* floor(sqrt(n)), in integers: the plugin that shares this file links no libm. */
static uint64_t cv_scale_isqrt(uint64_t n)
{
    uint64_t x = n, y = (x + 1) / 2;
    while (y < x) {
        x = y;
        y = (x + n / x) / 2;
    }
    return x;
}

int cv_scale_fit(unsigned src_w, unsigned src_h, unsigned want_w, unsigned want_h, unsigned *w,
                 unsigned *h)
{
    if (!src_w || !src_h || src_w > CV_SCALE_MAX_SIDE || src_h > CV_SCALE_MAX_SIDE ||
        want_w > CV_SCALE_MAX_SIDE || want_h > CV_SCALE_MAX_SIDE)
        return -EINVAL;
    uint64_t ow = want_w, oh = want_h;
    if (!ow && !oh) {
        ow = src_w;
        oh = src_h;
    } else if (!ow || !oh) {
        /* One side: the other follows, and the whole picture shrinks to fit the source. */
        if (!ow)
            ow = (uint64_t)src_w * oh / src_h;
        else
            oh = (uint64_t)src_h * ow / src_w;
        if (ow > src_w || oh > src_h) {
            ow = src_w;
            oh = src_h;
        }
    } else {
        ow = ow > src_w ? src_w : ow;
        oh = oh > src_h ? src_h : oh;
    }
    if (ow * oh > CV_SCALE_MAX_PIXELS) {
        /* ow'/oh' = ow/oh and ow' * oh' <= the cap: ow'^2 <= cap * ow / oh. */
        uint64_t nw = cv_scale_isqrt((uint64_t)CV_SCALE_MAX_PIXELS * ow / oh);
        oh = nw * oh / ow;
        ow = nw;
    }
    ow &= ~(uint64_t)1;
    oh &= ~(uint64_t)1;
    *w = ow < 2 ? 2 : (unsigned)ow;
    *h = oh < 2 ? 2 : (unsigned)oh;
    return 0;
}
