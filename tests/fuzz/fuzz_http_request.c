/*
 * camvisor-http's own reading of requests (consumers/http/request.c) on any bytes: the input is
 * split at newlines into a base path, a request path, an Origin, a Host, a width, a height and
 * the query, whose '&'-separated fragments are added as libwebsockets hands them over. Checked
 * beyond "no crash": a stripped path is a suffix of the path (or "/"), a www/ name is a plain
 * name of the path, every kept pair is NUL-terminated within its field, a jpeg variant is
 * canonical and, for a camera of known size, never larger than it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cv_http_args args;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *field[7] = {"", "", "", "", "", "", ""};
    char *p = buf;
    for (int i = 0; i < 7 && p; i++) {
        field[i] = p;
        p = i < 6 ? strchr(p, '\n') : NULL;
        if (p)
            *p++ = '\0';
    }
    const char *base = field[0], *path = field[1];
    const char *rel = cv_http_req_strip_base(base, path);
    if (rel && strcmp(rel, "/") != 0 &&
        (rel < path || rel > path + strlen(path) || strcmp(rel, path + (rel - path)) != 0))
        abort();
    const char *mime = NULL;
    const char *name = cv_http_req_static_name(path, &mime);
    if (name && (!mime || name[0] == '.' || strchr(name, '/') ||
                 (strcmp(name, "index.html") != 0 && strcmp(name, path + 1) != 0)))
        abort();
    (void)cv_http_req_origin_ok("", field[2], field[3]);
    (void)cv_http_req_origin_ok(field[3], field[2], field[3]);
    char v[16];
    for (unsigned cam = 0; cam < 3; cam++) { /* size unknown, 320x240, 8K */
        static const unsigned sizes[3][2] = {{0, 0}, {320, 240}, {7680, 4320}};
        unsigned cw = sizes[cam][0], ch = sizes[cam][1], w = 0, h = 0;
        if (cv_http_req_jpeg_variant(field[4], field[5], cw, ch, v, sizeof(v)) != 0 ||
            strcmp(v, "jpeg") == 0)
            continue;
        if (strncmp(v, "jpeg:", 5) != 0 || strlen(v) > 14 || sscanf(v + 5, "%ux%u", &w, &h) != 2 ||
            (cw && (w > cw || h > ch || !w || !h)))
            abort();
    }
    cv_http_args_init(&args);
    /* The query is the rest of the input (NULs included), when the input has a seventh line. */
    const char *q = field[6];
    size_t qlen = q >= buf && q <= buf + size ? size - (size_t)(q - buf) : 0;
    while (qlen) {
        const char *amp = memchr(q, '&', qlen);
        size_t n = amp ? (size_t)(amp - q) : qlen;
        cv_http_args_add(&args, q, n);
        q += n + (amp != NULL);
        qlen -= n + (amp != NULL);
    }
    if (args.count > CV_HTTP_ARGS_MAX)
        abort();
    for (unsigned i = 0; i < args.count; i++)
        if (!memchr(args.a[i].key, '\0', sizeof(args.a[i].key)) ||
            !memchr(args.a[i].val, '\0', sizeof(args.a[i].val)))
            abort();
    (void)cv_http_arg(&args, "src");
    free(buf);
    return 0;
}
