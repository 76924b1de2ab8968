/*
 * The size of a scaled picture (the `jpeg:WxH` variants): what was asked for, fitted to the
 * source. One rule, used where the picture is made (worker/xcode-jpeg.c, with the decoded size)
 * and where it is asked for (camvisor-http, with the camera's reported size, so that every request
 * that comes to the same picture subscribes to the same ring).
 *
 *   - 0 for a side: that side follows the source's aspect ratio; both 0: the source's size.
 *   - Never larger than the source: a side asked larger is the source's (both sides given: each
 *     on its own; one side given: the whole picture, so the aspect ratio stays). Scaling a
 *     320x240 camera up to 8192x8192 showed nothing more, cost 200 MB and seconds a picture.
 *   - At most CV_SCALE_MAX_PIXELS, the aspect ratio kept: the decoder already holds the source's
 *     pictures; the scaled copy, the encoder's buffers and a JPEG that must fit one ring frame
 *     (CV_RING_MAX_FRAME) stay bounded whatever the camera.
 *   - Even sides of at least 2 (4:2:0).
 */
#ifndef CV_MEDIA_SCALE_H
#define CV_MEDIA_SCALE_H

#define CV_SCALE_MAX_SIDE   8192u
#define CV_SCALE_MAX_PIXELS (3840u * 2160u)

/* The output size for a source of src_w x src_h asked as want_w x want_h (0: see above). -EINVAL
 * when the source's size is not known (0) or a side is over CV_SCALE_MAX_SIDE. */
int cv_scale_fit(unsigned src_w, unsigned src_h, unsigned want_w, unsigned want_h, unsigned *w,
                 unsigned *h);

#endif
