/*
 * The scan of a client's bytes (consumers/http/request.c, cv_http_scan) on any bytes, read as
 * libwebsockets would read them: the first byte is the size of each read (0: all at once), the
 * rest the connection. Checked beyond "no crash": each call uses at least one byte and no more
 * than it was given; BAD and END are final; the same bytes scanned all at once and in reads of
 * that size give the same result and the same request ends (where the reads given to
 * libwebsockets stop), so that how a client splits its bytes changes nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "consumers/http/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CV_FUZZ_ENDS 256

/* Some of libwebsockets' names, as camvisor-http hands them to its scans. */
static const char *const cv_fuzz_known[] = {
    "get ",     "post ",          "host:",         "connection:", "content-length:",
    "upgrade:", "authorization:", "x-auth-token:", "accept:",     "accept-encoding:",
    "origin:",  "cache-control:", "content-type:", NULL};

/* Scans p in reads of step bytes: the result and the offsets where a read stopped short (a
 * request ended), at most CV_FUZZ_ENDS of them. */
static enum cv_http_scan_result cv_fuzz_scan(const uint8_t *p, size_t n, size_t step, size_t *ends,
                                             size_t *nends)
{
    struct cv_http_scan s;
    cv_http_scan_init(&s, cv_fuzz_known);
    enum cv_http_scan_result r = CV_HTTP_SCAN_MORE;
    size_t off = 0;
    *nends = 0;
    while (off < n) {
        size_t piece = n - off < step ? n - off : step;
        while (piece) {
            size_t used = 0;
            enum cv_http_scan_result r2 = cv_http_scan_feed(&s, p + off, piece, &used);
            if (used < 1 || used > piece)
                abort();
            if (r != CV_HTTP_SCAN_MORE && r2 != r) /* BAD and END stay */
                abort();
            r = r2;
            off += used;
            piece -= used;
            if (piece && *nends < CV_FUZZ_ENDS) /* stopped short: a request ended there */
                ends[(*nends)++] = off;
        }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = data[0] ? data[0] : SIZE_MAX;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    static size_t ends_a[CV_FUZZ_ENDS], ends_b[CV_FUZZ_ENDS];
    size_t na, nb;
    enum cv_http_scan_result a = cv_fuzz_scan(p, n, SIZE_MAX, ends_a, &na);
    enum cv_http_scan_result b = cv_fuzz_scan(p, n, step, ends_b, &nb);
    if (a != b)
        abort();
    /* A request end found in reads of any size is one found all at once (where a read ends
     * exactly at a request's end, it is not seen as one: b may list fewer). */
    for (size_t i = 0, j = 0; na < CV_FUZZ_ENDS && i < nb; i++) {
        while (j < na && ends_a[j] < ends_b[i])
            j++;
        if (j == na || ends_a[j] != ends_b[i])
            abort();
    }
    return 0;
}
