/*
 * Spans of text for the parsers of outside input that read lines and tokens in place, without
 * copying or NUL-terminating (common/net/sdp.c, common/net/sdp-webrtc.c): a [s, e) view into
 * the caller's buffer, valid as long as it is. Comparisons are ASCII case-insensitive, as SDP's
 * tokens are.
 */
#ifndef CV_NET_SPAN_H
#define CV_NET_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

struct cv_span {
    const char *s;
    const char *e;
};

static inline size_t cv_span_len(struct cv_span v)
{
    return (size_t)(v.e - v.s);
}

static inline bool cv_span_is(struct cv_span v, const char *word)
{
    size_t n = strlen(word);
    return cv_span_len(v) == n && strncasecmp(v.s, word, n) == 0;
}

static inline bool cv_span_starts(struct cv_span v, const char *prefix)
{
    size_t n = strlen(prefix);
    return cv_span_len(v) >= n && strncasecmp(v.s, prefix, n) == 0;
}

static inline bool cv_span_ends(struct cv_span v, const char *suffix)
{
    size_t n = strlen(suffix);
    return cv_span_len(v) >= n && strncasecmp(v.e - n, suffix, n) == 0;
}

/* Drops spaces and tabs at both ends, and CRs at the end. */
static inline void cv_span_trim(struct cv_span *v)
{
    while (v->s < v->e && (*v->s == ' ' || *v->s == '\t'))
        v->s++;
    while (v->e > v->s && (v->e[-1] == ' ' || v->e[-1] == '\t' || v->e[-1] == '\r'))
        v->e--;
}

/* Next line of [*p, end) without its CR/LF; false at the end. */
static inline bool cv_span_line(const char **p, const char *end, struct cv_span *line)
{
    if (*p >= end)
        return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    line->s = *p;
    line->e = nl ? nl : end;
    *p = nl ? nl + 1 : end;
    while (line->e > line->s && line->e[-1] == '\r')
        line->e--;
    return true;
}

/* Next token of v separated by any of seps (skipping empty ones); false at the end. */
static inline bool cv_span_token(struct cv_span *v, const char *seps, struct cv_span *tok)
{
    while (v->s < v->e && strchr(seps, *v->s))
        v->s++;
    if (v->s >= v->e)
        return false;
    tok->s = v->s;
    while (v->s < v->e && !strchr(seps, *v->s))
        v->s++;
    tok->e = v->s;
    return true;
}

/* A decimal number of digits only, at most max: true and *out, else false. */
static inline bool cv_span_uint(struct cv_span v, unsigned long max, unsigned long *out)
{
    unsigned long x = 0;
    if (v.s >= v.e)
        return false;
    for (const char *c = v.s; c < v.e; c++) {
        if (*c < '0' || *c > '9')
            return false;
        x = x * 10 + (unsigned long)(*c - '0');
        if (x > max)
            return false;
    }
    *out = x;
    return true;
}

#endif
