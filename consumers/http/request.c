/* Request details camvisor-http reads itself: see consumers/http/request.h. */
#include "consumers/http/request.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/media/scale.h"

void cv_http_args_init(struct cv_http_args *a)
{
    a->count = 0;
    a->overflow = false;
}

int cv_http_args_add(struct cv_http_args *a, const char *frag, size_t len)
{
    const char *eq = memchr(frag, '=', len);
    size_t klen = eq ? (size_t)(eq - frag) : len, vlen = eq ? len - klen - 1 : 0;
    if (a->count == CV_HTTP_ARGS_MAX || klen >= sizeof(a->a[0].key) ||
        vlen >= sizeof(a->a[0].val) || memchr(frag, '\0', len)) {
        a->overflow = true;
        return -E2BIG;
    }
    memcpy(a->a[a->count].key, frag, klen);
    a->a[a->count].key[klen] = '\0';
    if (vlen)
        memcpy(a->a[a->count].val, eq + 1, vlen);
    a->a[a->count].val[vlen] = '\0';
    a->a[a->count].has_val = eq != NULL;
    a->count++;
    return 0;
}

const char *cv_http_arg(const struct cv_http_args *a, const char *key)
{
    for (unsigned i = 0; i < a->count; i++)
        if (strcmp(a->a[i].key, key) == 0)
            return a->a[i].val;
    return NULL;
}

const char *cv_http_req_strip_base(const char *base, const char *path)
{
    size_t n = strlen(base);
    while (n && base[n - 1] == '/')
        n--;
    if (n == 0)
        return path;
    if (strncmp(path, base, n) != 0 || (path[n] != '/' && path[n] != '\0'))
        return NULL;
    return path[n] ? path + n : "/";
}

const char *cv_http_req_static_name(const char *path, const char **mime)
{
    static const struct {
        const char *ext, *mime;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    if (path[0] != '/')
        return NULL;
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (!name[0] || name[0] == '.' || strspn(name, ok) != strlen(name) || strlen(name) > 128)
        return NULL;
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(dot, types[i].ext) == 0) {
            *mime = types[i].mime;
            return name;
        }
    }
    return NULL;
}

/* The host part of "scheme://host:port/...", "host:port", "[v6]:port": its start and length. */
static const char *cv_http_req_host_of(const char *s, bool url, size_t *len)
{
    if (url) {
        const char *o = strstr(s, "://");
        s = o ? o + 3 : s;
    }
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        *len = close ? (size_t)(close - s) + 1 : strlen(s);
    } else {
        *len = strcspn(s, url ? ":/" : ":");
    }
    return s;
}

bool cv_http_req_origin_ok(const char *allowed, const char *origin, const char *host)
{
    if (strcmp(allowed, "*") == 0 || !origin || !origin[0])
        return true;
    if (allowed[0])
        return strcmp(origin, allowed) == 0;
    if (!host || !host[0])
        return false;
    size_t on, hn;
    const char *o = cv_http_req_host_of(origin, true, &on);
    const char *h = cv_http_req_host_of(host, false, &hn);
    return on == hn && on > 0 && strncasecmp(o, h, on) == 0;
}

int cv_http_req_jpeg_variant(const char *width, const char *height, unsigned cam_w, unsigned cam_h,
                             char *out, size_t len)
{
    unsigned wh[2] = {0, 0};
    const char *v[2] = {width, height};
    for (int i = 0; i < 2; i++) {
        if (!v[i] || !v[i][0])
            continue;
        if (v[i][0] < '0' || v[i][0] > '9')
            return -EINVAL;
        char *end;
        unsigned long n = strtoul(v[i], &end, 10);
        if (*end || n == 0 || n > CV_SCALE_MAX_SIDE)
            return -EINVAL;
        wh[i] = (unsigned)n;
    }
    /* The picture the worker will make of it (common/media/scale.h): whatever was asked, one
     * ring per picture. The camera's own size is its plain `jpeg`. */
    unsigned w, h, own_w, own_h;
    if ((wh[0] || wh[1]) && cv_scale_fit(cam_w, cam_h, wh[0], wh[1], &w, &h) == 0 &&
        cv_scale_fit(cam_w, cam_h, 0, 0, &own_w, &own_h) == 0) {
        wh[0] = w == own_w && h == own_h ? 0 : w;
        wh[1] = w == own_w && h == own_h ? 0 : h;
    }
    int n = wh[0] || wh[1] ? snprintf(out, len, "jpeg:%ux%u", wh[0], wh[1])
                           : snprintf(out, len, "jpeg");
    return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}
