/*
 * Transport header parsing and formatting (see rtsp-transport.h). A header is a comma-separated
 * list of alternatives in the client's order of preference; each one is "profile;param;param=v".
 * The parser walks it without copying, so it needs no buffer and cannot overrun one.
 */
#include "common/net/rtsp-transport.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A [s, e) view into the header value. */
struct span {
    const char *s;
    const char *e;
};

static void trim(struct span *v)
{
    while (v->s < v->e && (*v->s == ' ' || *v->s == '\t'))
        v->s++;
    while (v->e > v->s && (v->e[-1] == ' ' || v->e[-1] == '\t'))
        v->e--;
}

static bool span_is(struct span v, const char *word)
{
    size_t n = strlen(word);
    return (size_t)(v.e - v.s) == n && strncasecmp(v.s, word, n) == 0;
}

/* Next element up to sep, not splitting inside double quotes; false at the end. */
static bool next_elem(const char **p, const char *end, char sep, struct span *out)
{
    const char *s = *p;
    bool quoted = false;

    if (s >= end)
        return false;
    const char *c = s;
    for (; c < end; c++) {
        if (*c == '"')
            quoted = !quoted;
        else if (*c == sep && !quoted)
            break;
    }
    out->s = s;
    out->e = c;
    *p = c < end ? c + 1 : c;
    trim(out);
    return true;
}

static int parse_num(const char **p, const char *e, unsigned long max, unsigned long *out)
{
    unsigned long v = 0;
    const char *s = *p;
    if (s >= e || *s < '0' || *s > '9')
        return -EBADMSG;
    for (; s < e && *s >= '0' && *s <= '9'; s++) {
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > max)
            return -EBADMSG;
    }
    *p = s;
    *out = v;
    return 0;
}

/* "a" or "a-b"; a lone a means a-(a+1), the RTP/RTCP pair. */
static int parse_pair(struct span v, unsigned long max, unsigned long lo, unsigned long out[2])
{
    const char *p = v.s;
    if (parse_num(&p, v.e, max, &out[0]) < 0 || out[0] < lo)
        return -EBADMSG;
    if (p == v.e) {
        out[1] = out[0] + 1;
        return out[1] <= max ? 0 : -EBADMSG;
    }
    if (*p != '-')
        return -EBADMSG;
    p++;
    if (parse_num(&p, v.e, max, &out[1]) < 0 || out[1] < lo || p != v.e)
        return -EBADMSG;
    return 0;
}

static int parse_ssrc(struct span v, uint32_t *out)
{
    uint32_t x = 0;
    size_t n = (size_t)(v.e - v.s);
    if (n == 0 || n > 8)
        return -EBADMSG;
    for (const char *c = v.s; c < v.e; c++) {
        unsigned d;
        if (*c >= '0' && *c <= '9')
            d = (unsigned)(*c - '0');
        else if ((*c | 0x20) >= 'a' && (*c | 0x20) <= 'f')
            d = (unsigned)((*c | 0x20) - 'a' + 10);
        else
            return -EBADMSG;
        x = x << 4 | d;
    }
    *out = x;
    return 0;
}

static int parse_param(struct span prm, struct cv_rtsp_transport *t)
{
    const char *eq = memchr(prm.s, '=', (size_t)(prm.e - prm.s));
    struct span name = {prm.s, eq ? eq : prm.e}, val = {eq ? eq + 1 : prm.e, prm.e};
    unsigned long pair[2];

    trim(&name);
    trim(&val);
    if (val.e - val.s >= 2 && *val.s == '"' && val.e[-1] == '"') {
        val.s++;
        val.e--;
    }
    if (span_is(name, "unicast")) {
        t->multicast = false;
    } else if (span_is(name, "multicast")) {
        t->multicast = true;
    } else if (span_is(name, "interleaved")) {
        if (parse_pair(val, 255, 0, pair) < 0)
            return -EBADMSG;
        t->interleaved[0] = (uint8_t)pair[0];
        t->interleaved[1] = (uint8_t)pair[1];
        t->has_interleaved = true;
    } else if (span_is(name, "client_port") || span_is(name, "server_port")) {
        bool client = span_is(name, "client_port");
        uint16_t *dst = client ? t->client_port : t->server_port;
        if (parse_pair(val, 65535, 1, pair) < 0)
            return -EBADMSG;
        dst[0] = (uint16_t)pair[0];
        dst[1] = (uint16_t)pair[1];
        if (client)
            t->has_client_port = true;
        else
            t->has_server_port = true;
    } else if (span_is(name, "ssrc")) {
        if (parse_ssrc(val, &t->ssrc) < 0)
            return -EBADMSG;
        t->has_ssrc = true;
    } else if (span_is(name, "mode")) {
        if (span_is(val, "play"))
            t->mode = CV_RTSP_MODE_PLAY;
        else if (span_is(val, "record") || span_is(val, "receive"))
            t->mode = CV_RTSP_MODE_RECORD;
        else
            return -EBADMSG;
    }
    /* destination, source, ttl, layers, port, append: not needed by either end. */
    return 0;
}

static int parse_spec(struct span spec, struct cv_rtsp_transport *t)
{
    const char *p = spec.s;
    struct span elem;

    memset(t, 0, sizeof(*t));
    if (!next_elem(&p, spec.e, ';', &elem))
        return -EBADMSG;
    if (span_is(elem, "RTP/AVP") || span_is(elem, "RTP/AVP/UDP"))
        t->lower = CV_RTSP_LOWER_UDP;
    else if (span_is(elem, "RTP/AVP/TCP"))
        t->lower = CV_RTSP_LOWER_TCP;
    else
        return -EBADMSG;
    while (next_elem(&p, spec.e, ';', &elem))
        if (elem.s < elem.e && parse_param(elem, t) < 0)
            return -EBADMSG;
    if (t->lower == CV_RTSP_LOWER_TCP && t->multicast)
        return -EBADMSG;
    return 0;
}

int cv_rtsp_transport_parse(const char *value, unsigned accept, struct cv_rtsp_transport *t)
{
    const char *p = value, *end = value + strlen(value);
    struct span spec;
    bool any = false;

    while (next_elem(&p, end, ',', &spec)) {
        struct cv_rtsp_transport cand;
        if (spec.s == spec.e || parse_spec(spec, &cand) < 0)
            continue;
        any = true;
        unsigned need = cand.lower == CV_RTSP_LOWER_TCP ? CV_RTSP_ACCEPT_TCP
                        : cand.multicast                ? CV_RTSP_ACCEPT_MULTICAST
                                                        : CV_RTSP_ACCEPT_UDP;
        if (accept & need) {
            *t = cand;
            return 0;
        }
    }
    return any ? -ENOTSUP : -EBADMSG;
}

int cv_rtsp_transport_format(const struct cv_rtsp_transport *t, char *out, size_t size)
{
    size_t n = 0;
    int w;

#define APPEND(...)                                                                                \
    do {                                                                                           \
        w = snprintf(n < size ? out + n : NULL, n < size ? size - n : 0, __VA_ARGS__);             \
        if (w < 0)                                                                                 \
            return -EINVAL;                                                                        \
        n += (size_t)w;                                                                            \
    } while (0)

    APPEND("%s;%s", t->lower == CV_RTSP_LOWER_TCP ? "RTP/AVP/TCP" : "RTP/AVP",
           t->multicast ? "multicast" : "unicast");
    if (t->has_interleaved)
        APPEND(";interleaved=%u-%u", t->interleaved[0], t->interleaved[1]);
    if (t->has_client_port)
        APPEND(";client_port=%u-%u", t->client_port[0], t->client_port[1]);
    if (t->has_server_port)
        APPEND(";server_port=%u-%u", t->server_port[0], t->server_port[1]);
    if (t->has_ssrc)
        APPEND(";ssrc=%08X", (unsigned)t->ssrc);
    if (t->mode == CV_RTSP_MODE_RECORD)
        APPEND(";mode=record");
#undef APPEND
    if (n >= size)
        return -E2BIG;
    return (int)n;
}
