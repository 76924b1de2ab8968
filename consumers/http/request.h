/*
 * What camvisor-http reads of a request beyond what libwebsockets parses: the query pairs, the
 * path under [api] base_path, the name of a www/ file, a WebSocket's Origin against the Host,
 * and snapshot sizes. Pure functions of outside input, no libwebsockets, so they are unit
 * tested and fuzzed on their own (tests/fuzz/fuzz_http_request.c).
 */
#ifndef CV_HTTP_REQUEST_H
#define CV_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define CV_HTTP_ARGS_MAX 16
#define CV_HTTP_ARG_MAX  1100 /* a value: a URL (CV_URL_MAX) with room to spare */

/* The query: libwebsockets splits and %-decodes it; each "key=value" fragment is added here. */
struct cv_http_args {
    unsigned count;
    struct {
        char key[32];
        char val[CV_HTTP_ARG_MAX];
        bool has_val;
    } a[CV_HTTP_ARGS_MAX];
    bool overflow; /* more pairs, or a longer one, than fit: answered 400 */
};

void cv_http_args_init(struct cv_http_args *a);
/* One decoded fragment ("key=value", "key", ""); -E2BIG (and overflow set) when it does not fit. */
int cv_http_args_add(struct cv_http_args *a, const char *frag, size_t len);
/* The first value of key, or NULL. */
const char *cv_http_arg(const struct cv_http_args *a, const char *key);

/* The path with base ("" or "/prefix", trailing slashes ignored) taken off: a suffix of path
 * or "/"; NULL when path is not under base. */
const char *cv_http_req_strip_base(const char *base, const char *path);
/* The www/ file a path names ("/" is index.html): plain names of [A-Za-z0-9._-], no leading
 * dot; its MIME type in *mime. NULL when it is not such a name or has an unknown extension. */
const char *cv_http_req_static_name(const char *path, const char **mime);
/* A browser's Origin against [api] origin: "*" any, a value exactly it, "" the request's Host
 * (any port: go2rtc's rule). No Origin (not a browser) is allowed. */
bool cv_http_req_origin_ok(const char *allowed, const char *origin, const char *host);
/* frame.jpeg's width and height (each absent, or 1..8192) as the worker's variant name, for a
 * camera of cam_w x cam_h: the size the worker will make (common/media/scale.h: never past the
 * camera's, bounded), so every request for one picture names one ring: "jpeg" for the camera's
 * own size, else "jpeg:WxH". With the camera's size unknown (0), as asked: "jpeg:WxH" with 0 for
 * an absent side. -EINVAL for anything else. */
int cv_http_req_jpeg_variant(const char *width, const char *height, unsigned cam_w, unsigned cam_h,
                             char *out, size_t len);

#endif
