/*
 * RTSP/1.0 message framing (see rtsp-msg.h): the incremental request/response parser, the
 * interleaved-data check, and the small header and request-URI parsers both RTSP ends need
 * (camera URLs with credentials are common/base/url.h's job). Input comes from the network; nothing
 * here trusts a length or a terminator it did not check itself.
 */
#include "common/net/rtsp-msg.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "common/base/url.h"

/* RFC 7230 tchar: what a method or header name may contain. */
static bool is_tchar(uint8_t c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t';
}

/* Copies n bytes plus a NUL into the message's string area; NULL when it is full. */
static const char *strbuf_put(struct cv_rtsp_msg *m, const uint8_t *s, size_t n)
{
    if (n + 1 > sizeof(m->strbuf) - m->str_used)
        return NULL;
    char *dst = m->strbuf + m->str_used;
    memcpy(dst, s, n);
    dst[n] = '\0';
    m->str_used += n + 1;
    return dst;
}

/* Parses 1..max_digits decimal digits, the whole of [s, s+n), into *out. */
static int parse_uint(const uint8_t *s, size_t n, unsigned max_digits, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > max_digits)
        return -EBADMSG;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EBADMSG;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *const method_names[] = {
    [CV_RTSP_OPTIONS] = "OPTIONS",
    [CV_RTSP_DESCRIBE] = "DESCRIBE",
    [CV_RTSP_SETUP] = "SETUP",
    [CV_RTSP_PLAY] = "PLAY",
    [CV_RTSP_PAUSE] = "PAUSE",
    [CV_RTSP_TEARDOWN] = "TEARDOWN",
    [CV_RTSP_GET_PARAMETER] = "GET_PARAMETER",
    [CV_RTSP_SET_PARAMETER] = "SET_PARAMETER",
    [CV_RTSP_ANNOUNCE] = "ANNOUNCE",
    [CV_RTSP_RECORD] = "RECORD",
};

enum cv_rtsp_method cv_rtsp_method_from_str(const char *s)
{
    /* Methods are case-sensitive (RFC 2326 6.1). */
    for (size_t i = 1; i < sizeof(method_names) / sizeof(method_names[0]); i++)
        if (strcmp(s, method_names[i]) == 0)
            return (enum cv_rtsp_method)i;
    return CV_RTSP_UNKNOWN;
}

const char *cv_rtsp_method_str(enum cv_rtsp_method method)
{
    if ((size_t)method >= sizeof(method_names) / sizeof(method_names[0]) || method == 0)
        return "UNKNOWN";
    return method_names[method];
}

const char *cv_rtsp_status_reason(int status)
{
    static const struct {
        int code;
        const char *reason;
    } reasons[] = {
        {100, "Continue"},
        {200, "OK"},
        {301, "Moved Permanently"},
        {302, "Moved Temporarily"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {408, "Request Timeout"},
        {413, "Request Entity Too Large"},
        {414, "Request-URI Too Large"},
        {415, "Unsupported Media Type"},
        {451, "Parameter Not Understood"},
        {453, "Not Enough Bandwidth"},
        {454, "Session Not Found"},
        {455, "Method Not Valid in This State"},
        {457, "Invalid Range"},
        {459, "Aggregate Operation Not Allowed"},
        {460, "Only Aggregate Operation Allowed"},
        {461, "Unsupported Transport"},
        {431, "Request Header Fields Too Large"}, /* RFC 6585, as RTSP 2.0 (RFC 7826) has it */
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {503, "Service Unavailable"},
        {505, "RTSP Version Not Supported"},
    };
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (reasons[i].code == status)
            return reasons[i].reason;
    return "Unknown";
}

/* A header line or start line may hold printable bytes, HT and UTF-8; no CR, NUL or DEL. */
static bool line_is_clean(const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
            return false;
    return true;
}

/* Version token: 0 for RTSP/1.0, -EPROTONOSUPPORT for another well-formed RTSP/HTTP version. */
static int check_version(const uint8_t *s, size_t n)
{
    if (n == 8 && memcmp(s, "RTSP/1.0", 8) == 0)
        return 0;
    if (n == 8 && (memcmp(s, "RTSP/", 5) == 0 || memcmp(s, "HTTP/", 5) == 0) && s[5] >= '0' &&
        s[5] <= '9' && s[6] == '.' && s[7] >= '0' && s[7] <= '9')
        return -EPROTONOSUPPORT;
    if (n == 6 && (memcmp(s, "HTTP/2", 6) == 0 || memcmp(s, "RTSP/2", 6) == 0))
        return -EPROTONOSUPPORT;
    return -EBADMSG;
}

static int parse_start_line(struct cv_rtsp_msg *m, const uint8_t *s, size_t n)
{
    size_t sp1, sp2;
    int rc;

    if (!line_is_clean(s, n))
        return -EBADMSG;
    for (sp1 = 0; sp1 < n && s[sp1] != ' '; sp1++)
        ;
    if (sp1 == 0 || sp1 == n)
        return -EBADMSG;

    if (memchr(s, '/', sp1) != NULL) {
        /* Status line: version SP 3DIGIT [SP reason]. A method never holds '/'. */
        uint64_t code;
        m->type = CV_RTSP_RESPONSE;
        if (!(m->version = strbuf_put(m, s, sp1)))
            return -E2BIG;
        rc = check_version(s, sp1);
        if (rc == -EBADMSG)
            return rc;
        if (n < sp1 + 4 || (n > sp1 + 4 && s[sp1 + 4] != ' '))
            return -EBADMSG;
        if (parse_uint(s + sp1 + 1, 3, 3, &code) < 0 || code < 100)
            return -EBADMSG;
        m->status = (int)code;
        size_t r = n > sp1 + 4 ? sp1 + 5 : n;
        if (!(m->reason = strbuf_put(m, s + r, n - r)))
            return -E2BIG;
        return rc;
    }

    /* Request line: method SP uri SP version, single spaces, nothing else. */
    m->type = CV_RTSP_REQUEST;
    for (size_t i = 0; i < sp1; i++)
        if (!is_tchar(s[i]))
            return -EBADMSG;
    for (sp2 = sp1 + 1; sp2 < n && s[sp2] != ' '; sp2++)
        if (s[sp2] <= 0x20 || s[sp2] >= 0x7f)
            return -EBADMSG;
    if (sp2 == sp1 + 1 || sp2 == n || memchr(s + sp2 + 1, ' ', n - sp2 - 1) != NULL)
        return -EBADMSG;
    if (!(m->method_str = strbuf_put(m, s, sp1)) ||
        !(m->uri = strbuf_put(m, s + sp1 + 1, sp2 - sp1 - 1)) ||
        !(m->version = strbuf_put(m, s + sp2 + 1, n - sp2 - 1)))
        return -E2BIG;
    m->method = (uint8_t)cv_rtsp_method_from_str(m->method_str);
    return check_version(s + sp2 + 1, n - sp2 - 1);
}

static int parse_header_line(struct cv_rtsp_msg *m, const uint8_t *s, size_t n, bool *have_length)
{
    size_t colon, vs, ve, ne;

    if (is_ws(s[0]))
        return -EBADMSG; /* obsolete line folding: ambiguous, so refused */
    if (!line_is_clean(s, n))
        return -EBADMSG;
    for (colon = 0; colon < n && s[colon] != ':'; colon++)
        ;
    if (colon == n)
        return -EBADMSG;
    for (ne = colon; ne > 0 && is_ws(s[ne - 1]); ne--)
        ;
    if (ne == 0)
        return -EBADMSG;
    for (size_t i = 0; i < ne; i++)
        if (!is_tchar(s[i]))
            return -EBADMSG;
    for (vs = colon + 1; vs < n && is_ws(s[vs]); vs++)
        ;
    for (ve = n; ve > vs && is_ws(s[ve - 1]); ve--)
        ;
    if (m->header_count >= CV_RTSP_MAX_HEADERS)
        return -E2BIG;

    struct cv_rtsp_header *h = &m->headers[m->header_count];
    if (!(h->name = strbuf_put(m, s, ne)) || !(h->value = strbuf_put(m, s + vs, ve - vs)))
        return -E2BIG;
    m->header_count++;

    if (strcasecmp(h->name, "Content-Length") == 0) {
        uint64_t v;
        if (*have_length)
            return -EBADMSG; /* two lengths: which one frames the body is ambiguous */
        *have_length = true;
        /* A long run of digits is too big rather than malformed; leading zeros stay legal. */
        size_t digits = ve - vs;
        for (size_t i = vs; i < ve; i++)
            if (s[i] < '0' || s[i] > '9')
                return -EBADMSG;
        while (digits > 1 && s[ve - digits] == '0')
            digits--;
        if (digits == 0 || digits > 7)
            return digits == 0 ? -EBADMSG : -E2BIG;
        if (parse_uint(s + ve - digits, digits, 7, &v) < 0)
            return -EBADMSG;
        if (v > CV_RTSP_MAX_BODY)
            return -E2BIG;
        m->content_length = (size_t)v;
    } else if (strcasecmp(h->name, "CSeq") == 0) {
        uint64_t v;
        if (m->has_cseq || parse_uint(s + vs, ve - vs, 10, &v) < 0 || v > UINT32_MAX)
            return -EBADMSG;
        m->cseq = (uint32_t)v;
        m->has_cseq = true;
    }
    return 0;
}

int cv_rtsp_msg_parse(const uint8_t *buf, size_t len, struct cv_rtsp_msg *m, size_t *consumed)
{
    size_t start = 0, pos, hdr_end = 0;
    bool have_length = false, first = true;
    int rc, version_rc = 0;

    /* Blank lines between messages are allowed (some clients send CRLF keep-alives). */
    while (start < len && (buf[start] == '\r' || buf[start] == '\n'))
        start++;
    if (start > CV_RTSP_MAX_HEADER_BYTES)
        return -E2BIG;

    /* Find the blank line that ends the header block before parsing anything. */
    for (pos = start; pos < len; pos++) {
        if (pos - start >= CV_RTSP_MAX_HEADER_BYTES)
            return -E2BIG;
        if (buf[pos] != '\n')
            continue;
        if (pos + 1 < len && buf[pos + 1] == '\n') {
            hdr_end = pos + 2;
            break;
        }
        if (pos + 2 < len && buf[pos + 1] == '\r' && buf[pos + 2] == '\n') {
            hdr_end = pos + 3;
            break;
        }
    }
    if (hdr_end == 0)
        return len - start >= CV_RTSP_MAX_HEADER_BYTES ? -E2BIG : -EAGAIN;
    if (hdr_end - start > CV_RTSP_MAX_HEADER_BYTES)
        return -E2BIG;

    memset(m, 0, offsetof(struct cv_rtsp_msg, strbuf));
    for (pos = start; pos < hdr_end;) {
        const uint8_t *nl = memchr(buf + pos, '\n', hdr_end - pos);
        size_t line_len = (size_t)(nl - (buf + pos));
        size_t next = pos + line_len + 1;
        if (line_len > 0 && buf[pos + line_len - 1] == '\r')
            line_len--;
        if (line_len == 0)
            break; /* the terminating blank line */
        if (first) {
            rc = parse_start_line(m, buf + pos, line_len);
            if (rc == -EPROTONOSUPPORT)
                version_rc = rc; /* keep parsing so the caller sees the headers */
            else if (rc < 0)
                return rc;
            first = false;
        } else if ((rc = parse_header_line(m, buf + pos, line_len, &have_length)) < 0) {
            return rc;
        }
        pos = next;
    }
    if (version_rc < 0)
        return version_rc;

    if (len - hdr_end < m->content_length)
        return -EAGAIN;
    m->body_len = m->content_length;
    m->body = m->body_len ? buf + hdr_end : NULL;
    *consumed = hdr_end + m->body_len;
    return 0;
}

const char *cv_rtsp_msg_header_nth(const struct cv_rtsp_msg *m, const char *name, unsigned n)
{
    for (unsigned i = 0; i < m->header_count && i < CV_RTSP_MAX_HEADERS; i++)
        if (strcasecmp(m->headers[i].name, name) == 0 && n-- == 0)
            return m->headers[i].value;
    return NULL;
}

const char *cv_rtsp_msg_header(const struct cv_rtsp_msg *m, const char *name)
{
    return cv_rtsp_msg_header_nth(m, name, 0);
}

int cv_rtsp_interleaved(const uint8_t *buf, size_t len, uint8_t *channel, uint16_t *plen)
{
    if (len == 0)
        return -EAGAIN;
    if (buf[0] != '$')
        return -ENOMSG;
    if (len < 4)
        return -EAGAIN;
    *channel = buf[1];
    *plen = (uint16_t)((buf[2] << 8) | buf[3]);
    return 0;
}

int cv_rtsp_next_item(const uint8_t *buf, size_t len, size_t max_msg, struct cv_rtsp_msg *m,
                      struct cv_rtsp_item *it)
{
    uint16_t plen;
    int rc = cv_rtsp_interleaved(buf, len, &it->channel, &plen);
    if (rc == 0) {
        if (len < 4 + (size_t)plen)
            return -EAGAIN;
        it->is_data = true;
        it->data = buf + 4;
        it->data_len = plen;
        it->size = 4 + (size_t)plen;
        return 0;
    }
    if (rc == -EAGAIN)
        return rc;
    size_t used = 0;
    rc = cv_rtsp_msg_parse(buf, len < max_msg ? len : max_msg, m, &used);
    if (rc == -EAGAIN)
        return len >= max_msg ? -EMSGSIZE : -EAGAIN;
    if (rc < 0)
        return rc;
    it->is_data = false;
    it->data = NULL;
    it->data_len = 0;
    it->size = used;
    return 0;
}

/* Copies [s, s+n) as a string into out; -E2BIG when it does not fit. */
static int copy_str(char *out, size_t size, const char *s, size_t n)
{
    if (n + 1 > size)
        return -E2BIG;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static const char *skip_ws(const char *s)
{
    while (is_ws((uint8_t)*s))
        s++;
    return s;
}

int cv_rtsp_session_parse(const char *value, char *id, size_t id_size, unsigned *timeout)
{
    const char *p = skip_ws(value), *e;
    size_t n;

    *timeout = 0;
    for (e = p; *e && *e != ';' && !is_ws((uint8_t)*e); e++)
        if ((uint8_t)*e < 0x21 || (uint8_t)*e > 0x7e)
            return -EBADMSG;
    n = (size_t)(e - p);
    if (n == 0)
        return -EBADMSG;
    if (copy_str(id, id_size, p, n) < 0)
        return -E2BIG;

    for (p = skip_ws(e); *p == ';'; p = skip_ws(e)) {
        p = skip_ws(p + 1);
        for (e = p; *e && *e != ';'; e++)
            ;
        if (strncasecmp(p, "timeout", 7) == 0) {
            const char *v = skip_ws(p + 7);
            uint64_t t;
            if (*v != '=')
                return -EBADMSG;
            v = skip_ws(v + 1);
            size_t vn = strspn(v, "0123456789");
            if (parse_uint((const uint8_t *)v, vn, 6, &t) < 0)
                return -EBADMSG;
            *timeout = (unsigned)t;
        }
    }
    return *p == '\0' ? 0 : -EBADMSG;
}

/* npt-time: "now", seconds with an optional fraction, or h:mm:ss[.frac]. */
static int parse_npt_time(const char **pp, double *out)
{
    const char *p = *pp;
    double v = 0, part = 0;
    unsigned fields = 0;

    if (strncasecmp(p, "now", 3) == 0) {
        *pp = p + 3;
        *out = -1;
        return 0;
    }
    for (;;) {
        size_t n = strspn(p, "0123456789");
        uint64_t u;
        if (n == 0 || n > 9 || parse_uint((const uint8_t *)p, n, 9, &u) < 0)
            return -EBADMSG;
        part = (double)u;
        p += n;
        if (*p != ':' || ++fields > 2)
            break;
        v = (v + part) * 60;
        p++;
    }
    v += part;
    if (*p == '.') {
        double scale = 0.1;
        p++;
        for (unsigned i = 0; *p >= '0' && *p <= '9'; p++, i++, scale /= 10)
            if (i < 9)
                v += (*p - '0') * scale;
    }
    *pp = p;
    *out = v;
    return 0;
}

int cv_rtsp_range_parse(const char *value, double *start, double *end)
{
    const char *p = skip_ws(value);

    if (strncasecmp(p, "npt", 3) != 0)
        return strchr(p, '=') ? -ENOTSUP : -EBADMSG;
    p = skip_ws(p + 3);
    if (*p != '=')
        return -EBADMSG;
    p = skip_ws(p + 1);
    *start = -1;
    *end = -1;
    if (*p != '-' && parse_npt_time(&p, start) < 0)
        return -EBADMSG;
    p = skip_ws(p);
    if (*p != '-')
        return -EBADMSG;
    p = skip_ws(p + 1);
    if (*p && *p != ';' && parse_npt_time(&p, end) < 0)
        return -EBADMSG;
    p = skip_ws(p);
    return (*p == '\0' || *p == ';') ? 0 : -EBADMSG;
}

int cv_rtsp_url_split(const char *uri, char *path, size_t path_size, char *query, size_t query_size)
{
    const char *p = uri, *q, *e;
    int rc;

    for (const char *c = uri; *c; c++)
        if ((uint8_t)*c <= 0x20 || (uint8_t)*c >= 0x7f)
            return -EBADMSG;
    /* Absolute URI: skip scheme and authority. */
    const char *scheme_end = strstr(p, "://");
    if (scheme_end && (size_t)(scheme_end - p) == strspn(p, "abcdefghijklmnopqrstuvwxyz"
                                                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ+.-")) {
        p = scheme_end + 3;
        p += strcspn(p, "/?#");
    }
    e = p + strcspn(p, "?#");
    q = *e == '?' ? e + 1 : e;
    while (p < e && *p == '/')
        p++;
    while (e > p && e[-1] == '/')
        e--;
    if (path && (rc = cv_url_pct_decode(p, (size_t)(e - p), path, path_size)) < 0)
        return rc;
    if (query && copy_str(query, query_size, q, strcspn(q, "#")) < 0)
        return -E2BIG;
    return 0;
}
