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

/* ---- the scan of a connection's bytes ---------------------------------------------------- */

enum {
    CV_HTTP_SCAN_REQ_START, /* the first byte of a request */
    CV_HTTP_SCAN_METHOD,
    CV_HTTP_SCAN_REQ_LINE,   /* the rest of the request line */
    CV_HTTP_SCAN_NAME_START, /* the first byte of a header line */
    CV_HTTP_SCAN_NAME,
    CV_HTTP_SCAN_VALUE,
    CV_HTTP_SCAN_VALUE_CR,
    CV_HTTP_SCAN_END_CR, /* CR of the empty line ending the headers */
    CV_HTTP_SCAN_BODY,
    CV_HTTP_SCAN_ST_BAD,
    CV_HTTP_SCAN_ST_END,
};

#define CV_HTTP_SCAN_CL_MAX (1ull << 62)

void cv_http_scan_init(struct cv_http_scan *s, const char *const *known)
{
    memset(s, 0, sizeof(*s));
    s->state = CV_HTTP_SCAN_REQ_START;
    s->known = known;
}

/*
 * A header name libwebsockets 4.1.6 misreads: it walks its own names a byte at a time, and a name
 * that stops part way along one of them (a proper prefix of it, and not itself one of its names)
 * throws it off: it loses the header line that follows, or the empty line that ends the headers.
 */
static bool cv_http_scan_name_misread(const struct cv_http_scan *s)
{
    if (!s->known || s->nlen >= sizeof(s->name))
        return false; /* longer than any of its names: not a prefix of one */
    bool prefix = false;
    for (const char *const *k = s->known; *k; k++) {
        if (strncmp(*k, s->name, s->nlen) != 0)
            continue;
        if ((*k)[s->nlen] == ':')
            return false; /* one of its header names */
        prefix = true;
    }
    return prefix;
}

/* RFC 9110 5.6.2: the characters of a header name. */
static bool cv_http_scan_tchar(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool cv_http_scan_name_is(const struct cv_http_scan *s, const char *name)
{
    size_t n = strlen(name);
    return s->nlen == n && memcmp(s->name, name, n) == 0;
}

/* A Content-Length value, a byte at a time: OWS, digits without a leading zero, OWS. */
static bool cv_http_scan_cl_byte(struct cv_http_scan *s, uint8_t c)
{
    if (++s->vlen > CV_HTTP_SCAN_CL_VALUE_MAX)
        return false;
    if (c == ' ' || c == '\t') {
        s->cl_done = s->cl_digits;
        return true;
    }
    if (c < '0' || c > '9' || s->cl_done || (s->cl_digits && s->cl == 0))
        return false;
    s->cl = s->cl * 10 + (uint64_t)(c - '0');
    s->cl_digits = true;
    return s->cl <= CV_HTTP_SCAN_CL_MAX;
}

/* A header line is over: what it means for the framing. false when it is refused. */
static bool cv_http_scan_header_done(struct cv_http_scan *s)
{
    if (cv_http_scan_name_is(s, "content-length")) {
        if (s->has_cl || !s->cl_digits)
            return false;
        s->has_cl = true;
    } else if (cv_http_scan_name_is(s, "transfer-encoding")) {
        return false;
    } else if (cv_http_scan_name_is(s, "upgrade")) {
        s->upgrade |= s->has_value; /* libwebsockets does not see an empty one */
    }
    static const struct {
        const char *name;
        uint8_t bit;
    } watched[] = {{"content-length", CV_HTTP_HDR_CONTENT_LENGTH},
                   {"upgrade", CV_HTTP_HDR_UPGRADE},
                   {"host", CV_HTTP_HDR_HOST},
                   {"origin", CV_HTTP_HDR_ORIGIN},
                   {"authorization", CV_HTTP_HDR_AUTHORIZATION}};
    for (size_t i = 0; s->has_value && i < sizeof(watched) / sizeof(watched[0]); i++)
        if (cv_http_scan_name_is(s, watched[i].name))
            s->seen |= watched[i].bit;
    return true;
}

/* The headers are over: the next state, as libwebsockets frames what follows. */
static uint8_t cv_http_scan_headers_done(struct cv_http_scan *s)
{
    if (s->upgrade) /* a WebSocket from here, or a refusal and the end */
        return CV_HTTP_SCAN_ST_END;
    if (!s->has_cl) /* libwebsockets reads the rest as its body; camvisor-http answers, closes */
        return s->body_method ? CV_HTTP_SCAN_ST_END : CV_HTTP_SCAN_REQ_START;
    s->body_left = s->cl;
    return s->cl ? CV_HTTP_SCAN_BODY : CV_HTTP_SCAN_REQ_START;
}

static uint8_t cv_http_scan_byte(struct cv_http_scan *s, uint8_t c)
{
    switch (s->state) {
    case CV_HTTP_SCAN_REQ_START:
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
            return CV_HTTP_SCAN_ST_BAD;
        s->mlen = 0;
        s->has_cl = s->upgrade = false;
        s->seen = 0;
        s->cl = 0;
        /* fall through */
    case CV_HTTP_SCAN_METHOD:
        if (c == ' ' || c == '\r' || c == '\n') {
            if (s->mlen == 7 && memcmp(s->method, "CONNECT", 7) == 0) {
                s->unanswerable = true;
                return CV_HTTP_SCAN_ST_BAD;
            }
            s->body_method = (s->mlen == 3 && memcmp(s->method, "PUT", 3) == 0) ||
                             (s->mlen == 4 && memcmp(s->method, "POST", 4) == 0) ||
                             (s->mlen == 5 && memcmp(s->method, "PATCH", 5) == 0);
            return c == '\n' ? CV_HTTP_SCAN_NAME_START : CV_HTTP_SCAN_REQ_LINE;
        }
        if (s->mlen < sizeof(s->method))
            s->method[s->mlen] = (char)c;
        if (s->mlen < UINT8_MAX)
            s->mlen++;
        return CV_HTTP_SCAN_METHOD;
    case CV_HTTP_SCAN_REQ_LINE: return c == '\n' ? CV_HTTP_SCAN_NAME_START : CV_HTTP_SCAN_REQ_LINE;
    case CV_HTTP_SCAN_NAME_START:
        if (c == '\r')
            return CV_HTTP_SCAN_END_CR;
        if (c == '\n')
            return cv_http_scan_headers_done(s);
        if (!cv_http_scan_tchar(c)) /* whitespace first (obs-fold), a colon, a control */
            return CV_HTTP_SCAN_ST_BAD;
        s->nlen = 0;
        s->vlen = 0;
        s->cl_digits = s->cl_done = s->has_value = false;
        /* fall through */
    case CV_HTTP_SCAN_NAME:
        if (c == ':')
            return cv_http_scan_name_misread(s) ? CV_HTTP_SCAN_ST_BAD : CV_HTTP_SCAN_VALUE;
        if (!cv_http_scan_tchar(c)) /* whitespace before the colon, a line without one */
            return CV_HTTP_SCAN_ST_BAD;
        if (s->nlen < sizeof(s->name))
            s->name[s->nlen] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        if (s->nlen < UINT8_MAX)
            s->nlen++;
        return CV_HTTP_SCAN_NAME;
    case CV_HTTP_SCAN_VALUE:
        if (c == '\r')
            return CV_HTTP_SCAN_VALUE_CR;
        if (c == '\n')
            return cv_http_scan_header_done(s) ? CV_HTTP_SCAN_NAME_START : CV_HTTP_SCAN_ST_BAD;
        if (c == '\0' || (cv_http_scan_name_is(s, "content-length") && !s->has_cl &&
                          !cv_http_scan_cl_byte(s, c)))
            return CV_HTTP_SCAN_ST_BAD;
        s->has_value |= c != ' ' && c != '\t';
        return CV_HTTP_SCAN_VALUE;
    case CV_HTTP_SCAN_VALUE_CR:
        if (c != '\n') /* a bare CR */
            return CV_HTTP_SCAN_ST_BAD;
        return cv_http_scan_header_done(s) ? CV_HTTP_SCAN_NAME_START : CV_HTTP_SCAN_ST_BAD;
    case CV_HTTP_SCAN_END_CR: return c == '\n' ? cv_http_scan_headers_done(s) : CV_HTTP_SCAN_ST_BAD;
    default: return s->state;
    }
}

enum cv_http_scan_result cv_http_scan_feed(struct cv_http_scan *s, const uint8_t *p, size_t n,
                                           size_t *used)
{
    size_t i = 0;
    while (i < n && s->state != CV_HTTP_SCAN_ST_BAD && s->state != CV_HTTP_SCAN_ST_END) {
        if (s->state == CV_HTTP_SCAN_BODY) {
            size_t take = s->body_left < n - i ? (size_t)s->body_left : n - i;
            s->body_left -= take;
            i += take;
            if (s->body_left)
                continue;
            s->state = CV_HTTP_SCAN_REQ_START;
            break; /* a request ends here */
        }
        s->state = cv_http_scan_byte(s, p[i++]);
        if (s->state == CV_HTTP_SCAN_REQ_START)
            break; /* headers without a body: the request ends here */
    }
    if (s->state == CV_HTTP_SCAN_ST_BAD || s->state == CV_HTTP_SCAN_ST_END)
        i = n;
    if (used)
        *used = i;
    return s->state == CV_HTTP_SCAN_ST_BAD   ? CV_HTTP_SCAN_BAD
           : s->state == CV_HTTP_SCAN_ST_END ? CV_HTTP_SCAN_END
                                             : CV_HTTP_SCAN_MORE;
}
