/*
 * URL splitting, credential insertion and redaction (see url.h for the contracts).
 *
 * The parser follows RFC 3986's generic syntax closely enough for camera URLs and the way
 * FFmpeg's av_url_split() reads them (userinfo up to the last '@' of the authority), and is
 * stricter where FFmpeg is lax: control characters, spaces, bad escapes and bad ports are
 * errors here rather than surprises at connect time.
 *
 * Redaction works on the text, not on a parse, so that it also masks URLs that do not parse:
 * it must be safe on anything a user, a camera or a peer could hand us.
 */
#include "common/base/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/base/hex.h"

/* ---- small helpers ------------------------------------------------------------------------ */

static bool cv_url_is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool cv_url_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool cv_url_is_unreserved(char c)
{
    return cv_url_is_alpha(c) || cv_url_is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Length of the scheme at the start of s ([A-Za-z][A-Za-z0-9+.-]*), 0 when there is none. */
static size_t cv_url_scheme_len(const char *s)
{
    if (!cv_url_is_alpha(s[0]))
        return 0;
    size_t n = 1;
    while (cv_url_is_alpha(s[n]) || cv_url_is_digit(s[n]) || s[n] == '+' || s[n] == '-' ||
           s[n] == '.')
        n++;
    return n;
}

int cv_url_pct_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            int h = n - i >= 3 ? cv_hex_value(s[i + 1]) : -1;
            int l = n - i >= 3 ? cv_hex_value(s[i + 2]) : -1;
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -EBADMSG;
            c = (char)(h << 4 | l);
            i += 2;
        }
        if (o + 1 >= size)
            return -E2BIG;
        out[o++] = c;
    }
    if (size == 0)
        return -E2BIG;
    out[o] = '\0';
    return 0;
}

/* Userinfo: cv_url_pct_decode() with this file's error codes. */
static int cv_url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    int rc = cv_url_pct_decode(s, n, out, outlen);
    return rc == -E2BIG ? -ENAMETOOLONG : rc < 0 ? -EINVAL : 0;
}

static int cv_url_copy(const char *s, size_t n, char *out, size_t outlen)
{
    if (n >= outlen)
        return -ENAMETOOLONG;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

uint16_t cv_url_default_port(const char *scheme)
{
    if (strcmp(scheme, "rtsp") == 0)
        return 554;
    if (strcmp(scheme, "rtsps") == 0)
        return 322;
    return 0;
}

/* ---- parse -------------------------------------------------------------------------------- */

static int cv_url_parse_host(const char *s, const char *end, struct cv_url *u)
{
    const char *p = s;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close)
            return -EINVAL;
        char v6[64];
        int rc = cv_url_copy(p + 1, (size_t)(close - p - 1), v6, sizeof(v6));
        if (rc < 0)
            return -EINVAL;
        struct in6_addr a;
        if (inet_pton(AF_INET6, v6, &a) != 1)
            return -EINVAL;
        memcpy(u->host, v6, strlen(v6) + 1);
        u->ipv6 = true;
        p = close + 1;
    } else {
        while (p < end && *p != ':') {
            if (!cv_url_is_unreserved(*p))
                return -EINVAL;
            p++;
        }
        int rc = cv_url_copy(s, (size_t)(p - s), u->host, sizeof(u->host));
        if (rc < 0)
            return rc;
    }
    if (p == end)
        return 0;
    if (*p != ':')
        return -EINVAL;
    p++;
    if (p == end) /* "host:" : an empty port means the default (RFC 3986 3.2.3) */
        return 0;
    unsigned long port = 0;
    for (; p < end; p++) {
        if (!cv_url_is_digit(*p))
            return -EINVAL;
        port = port * 10 + (unsigned long)(*p - '0');
        if (port > 65535)
            return -EINVAL;
    }
    if (port == 0)
        return -EINVAL;
    u->port = (uint16_t)port;
    u->has_port = true;
    return 0;
}

int cv_url_parse(const char *url, struct cv_url *u)
{
    memset(u, 0, sizeof(*u));
    if (!url)
        return -EINVAL;
    for (const char *q = url; *q; q++)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f)
            return -EINVAL;

    size_t sl = cv_url_scheme_len(url);
    if (sl == 0 || strncmp(url + sl, "://", 3) != 0)
        return -EINVAL;
    if (sl >= sizeof(u->scheme))
        return -ENAMETOOLONG;
    for (size_t i = 0; i < sl; i++)
        u->scheme[i] = (char)(url[i] >= 'A' && url[i] <= 'Z' ? url[i] - 'A' + 'a' : url[i]);

    const char *auth = url + sl + 3;
    const char *auth_end = auth + strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *q = auth; q < auth_end; q++)
        if (*q == '@')
            at = q;

    int rc;
    const char *host = auth;
    if (at) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        const char *user_end = colon ? colon : at;
        rc = cv_url_decode(auth, (size_t)(user_end - auth), u->user, sizeof(u->user));
        if (rc == 0 && colon)
            rc = cv_url_decode(colon + 1, (size_t)(at - colon - 1), u->password,
                               sizeof(u->password));
        if (rc < 0)
            goto fail;
        u->has_user = true;
        u->has_password = colon != NULL;
        host = at + 1;
    }
    rc = cv_url_parse_host(host, auth_end, u);
    if (rc < 0)
        goto fail;
    if (!u->has_port)
        u->port = cv_url_default_port(u->scheme);
    rc = cv_url_copy(auth_end, strlen(auth_end), u->path, sizeof(u->path));
    if (rc < 0)
        goto fail;
    return 0;

fail:
    /* Leave no half-decoded secret behind in the caller's struct. */
    memset(u, 0, sizeof(*u));
    return rc;
}

/* ---- redact ------------------------------------------------------------------------------- */

/* A bounded output buffer that remembers whether anything was cut off. */
struct cv_url_out {
    char *buf;
    size_t cap, len;
    bool cut;
};

static void cv_url_put(struct cv_url_out *o, const char *s, size_t n)
{
    if (o->cap == 0) {
        o->cut = o->cut || n > 0;
        return;
    }
    size_t room = o->cap - 1 - o->len;
    if (n > room) {
        n = room;
        o->cut = true;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void cv_url_puts(struct cv_url_out *o, const char *s)
{
    cv_url_put(o, s, strlen(s));
}

static bool cv_url_secret_param(const char *k, size_t n)
{
    static const char *const names[] = {"password", "passwd", "pass", "pwd", "token", "secret"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncasecmp(k, names[i], n) == 0)
            return true;
    return false;
}

/* Copies path/query/fragment text, masking the values of secret-looking query parameters. */
static void cv_url_put_tail(struct cv_url_out *o, const char *s)
{
    const char *q = strchr(s, '?');
    if (!q) {
        cv_url_puts(o, s);
        return;
    }
    cv_url_put(o, s, (size_t)(q - s + 1));
    const char *p = q + 1;
    const char *frag = p + strcspn(p, "#");
    while (p < frag) {
        const char *end = p;
        while (end < frag && *end != '&' && *end != ';')
            end++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq && cv_url_secret_param(p, (size_t)(eq - p))) {
            cv_url_put(o, p, (size_t)(eq - p + 1));
            cv_url_puts(o, "***");
        } else {
            cv_url_put(o, p, (size_t)(end - p));
        }
        if (end < frag)
            cv_url_put(o, end, 1);
        p = end + 1;
    }
    cv_url_puts(o, frag);
}

int cv_url_redact(const char *url, char *out, size_t outlen)
{
    struct cv_url_out o = {.buf = out, .cap = outlen};
    if (outlen > 0)
        out[0] = '\0';
    if (!url)
        return 0;

    size_t sl = cv_url_scheme_len(url);
    if (sl == 0 || strncmp(url + sl, "://", 3) != 0) {
        /* Not a URL we understand: anything with an '@' may hide "user:pass@". */
        if (strchr(url, '@'))
            cv_url_puts(&o, "***");
        else
            cv_url_put_tail(&o, url);
        return o.cut ? -ENOSPC : 0;
    }
    cv_url_put(&o, url, sl + 3);

    const char *rest = url + sl + 3;
    const char *auth_end = rest + strcspn(rest, "/?#");
    const char *at = NULL;
    for (const char *q = rest; q < auth_end; q++)
        if (*q == '@')
            at = q;

    const char *tail = rest;
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (colon) {
            cv_url_put(&o, rest, (size_t)(colon - rest));
            cv_url_puts(&o, ":***@");
        } else {
            cv_url_put(&o, rest, (size_t)(at - rest + 1));
        }
        tail = at + 1;
    } else {
        /*
         * No '@' in the authority, but one further on after a ':' ("rtsp://u:pa/ss@host"): an
         * unencoded '/' in a password. Mask everything up to that '@' rather than guess.
         */
        const char *last = strrchr(auth_end, '@');
        if (last && memchr(rest, ':', (size_t)(last - rest))) {
            cv_url_puts(&o, "***@");
            tail = last + 1;
        }
    }
    cv_url_put_tail(&o, tail);
    return o.cut ? -ENOSPC : 0;
}

/* ---- build -------------------------------------------------------------------------------- */

static void cv_url_put_encoded(struct cv_url_out *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        if (cv_url_is_unreserved(*s)) {
            cv_url_put(o, s, 1);
        } else {
            unsigned char c = (unsigned char)*s;
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            cv_url_put(o, e, 3);
        }
    }
}

int cv_url_with_credentials(const char *url, const char *user, const char *password, char *out,
                            size_t outlen)
{
    struct cv_url u;
    struct cv_url_out o = {.buf = out, .cap = outlen};
    int rc = 0;
    if (outlen > 0)
        out[0] = '\0';

    rc = cv_url_parse(url, &u);
    if (rc < 0)
        goto out;
    bool has_user = user && user[0];
    bool has_pass = password && password[0];
    if (!has_user && has_pass) {
        rc = -EINVAL;
        goto out;
    }
    if (has_user && u.has_user) {
        rc = -EEXIST;
        goto out;
    }
    size_t sl = strlen(u.scheme);
    cv_url_put(&o, url, sl + 3);
    if (has_user) {
        cv_url_put_encoded(&o, user);
        if (has_pass) {
            cv_url_puts(&o, ":");
            cv_url_put_encoded(&o, password);
        }
        cv_url_puts(&o, "@");
    }
    cv_url_puts(&o, url + sl + 3);
    if (o.cut)
        rc = -ENOSPC;

out:
    memset(&u, 0, sizeof(u));
    if (rc < 0 && outlen > 0)
        memset(out, 0, outlen);
    return rc;
}
