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
#include <stdint.h>

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

/*
 * A client's bytes as libwebsockets reads them, checked before it parses them (rawin.c feeds
 * them). libwebsockets 4.1.6 takes a header name with whitespace before its colon, or a line that
 * starts with whitespace, for an unknown header: `Content-Length : N` then frames no body, and
 * what a front proxy reads as the body of the request runs as a request of its own (request
 * smuggling). The scan follows the framing libwebsockets uses, request after request (a body of
 * Content-Length bytes; after an Upgrade, or a PUT, PATCH or POST without Content-Length, the rest
 * of the connection is not requests any more), so that libwebsockets is given one request per
 * read (see rawin.c), and finds, in the header lines, what RFC 9112 refuses and framing depends
 * on:
 *   - a header name that is not a token followed at once by ':' (whitespace before the colon, a
 *     line starting with whitespace: obs-fold, a line without a colon), an empty line before
 *     the request line;
 *   - a NUL or a CR not followed by LF in a header line;
 *   - Content-Length not all digits, with a leading zero, given twice, or longer than
 *     CV_HTTP_SCAN_CL_VALUE_MAX bytes with its spaces (libwebsockets copies it into 32 bytes and
 *     takes a request whose copy fails for one without a body: what the scan counted as body ran
 *     as requests it never saw);
 *   - a header name libwebsockets misreads (`known`, below): one that begins, and is not, one of
 *     its own names (`X-A`, `Conn`, `Ho`), after which it loses the next header line or the
 *     empty line ending the headers (the next request then merges into this one);
 *   - the method CONNECT (libwebsockets turns the connection into a raw one without timeouts);
 *   - Transfer-Encoding (libwebsockets does not decode a chunked request body: its chunks would
 *     be read as requests).
 * The request line itself is left to libwebsockets.
 */
/* Headers camvisor-http acts on (framing, auth, WebSocket checks) that a request has, with a
 * value, as its scan saw them: libwebsockets 4.1.6 loses the header that follows an unknown one
 * whose name begins a known one's (`X-A: 1` then `Content-Length: 5`: no body for it), so what it
 * reports is compared with this (server.c). */
enum cv_http_scan_hdr {
    CV_HTTP_HDR_CONTENT_LENGTH = 1 << 0,
    CV_HTTP_HDR_UPGRADE = 1 << 1,
    CV_HTTP_HDR_HOST = 1 << 2,
    CV_HTTP_HDR_ORIGIN = 1 << 3,
    CV_HTTP_HDR_AUTHORIZATION = 1 << 4,
};

#define CV_HTTP_SCAN_NAME_MAX     40 /* longer than any of libwebsockets' names */
#define CV_HTTP_SCAN_CL_VALUE_MAX 20 /* a Content-Length value, spaces included */

struct cv_http_scan {
    uint8_t state;
    uint8_t seen;                    /* enum cv_http_scan_hdr of the current request */
    uint8_t nlen;                    /* of name; > sizeof(name) when too long to be ours */
    uint8_t mlen;                    /* of method */
    bool has_cl, cl_digits, cl_done; /* Content-Length seen; its value so far */
    bool upgrade, body_method;       /* Upgrade seen; PUT, PATCH or POST */
    bool has_value;                  /* the header line being read has a value (not OWS) */
    bool unanswerable; /* refused before libwebsockets could call back for it (CONNECT) */
    uint8_t vlen;      /* bytes of the Content-Length value, spaces included */
    char method[8];
    char name[CV_HTTP_SCAN_NAME_MAX]; /* the header name being read, lower case */
    uint64_t cl, body_left;
    /* Borrowed: libwebsockets' own names, lower case, each with its ':' (a header) or ' ' (a
     * method), NULL-terminated, none CV_HTTP_SCAN_NAME_MAX long; NULL: no such check. */
    const char *const *known;
};

enum cv_http_scan_result {
    CV_HTTP_SCAN_MORE = 0, /* nothing wrong so far: feed what comes next */
    CV_HTTP_SCAN_BAD = -1, /* a malformed request: answer 400 and close */
    CV_HTTP_SCAN_END = 1,  /* what follows is not HTTP requests (WebSocket, a body to the end) */
};

/* known: libwebsockets' names (see the struct), or NULL. */
void cv_http_scan_init(struct cv_http_scan *s, const char *const *known);
/* The next bytes of the connection, up to the end of the first request that ends within p[0..n)
 * (*used: how many were scanned, all n when none ends there, or after BAD or END). Once BAD or
 * END, every later call says the same. */
enum cv_http_scan_result cv_http_scan_feed(struct cv_http_scan *s, const uint8_t *p, size_t n,
                                           size_t *used);

#endif
