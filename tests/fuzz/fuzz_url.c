/*
 * URL parse, redact, credential insertion and the query-string lookup on any bytes. The input is
 * "url[\nuser[\npass]]". Checked beyond "no crash": a password written once in the URL never
 * appears in its redacted form, and credentials put in by cv_url_with_credentials() come back out
 * of cv_url_parse().
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/base/query.h"
#include "common/base/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The password's text as written: after the first ':' of the userinfo, which ends at the last
 * '@' before the first '/', '?' or '#' after "://". */
static const char *raw_password(const char *url, size_t *len)
{
    const char *s = strstr(url, "://");
    if (!s)
        return NULL;
    s += 3;
    const char *end = s + strcspn(s, "/?#"), *at = NULL;
    for (const char *q = s; q < end; q++)
        if (*q == '@')
            at = q;
    const char *colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
    if (!colon)
        return NULL;
    *len = (size_t)(at - colon - 1);
    return colon + 1;
}

static size_t count(const char *hay, const char *needle, size_t n)
{
    size_t c = 0;
    for (const char *h = hay; (h = memmem(h, strlen(h), needle, n)); h++)
        c++;
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char in[4096];
    if (size >= sizeof(in))
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    char *user = strchr(in, '\n'), *pass = NULL;
    if (user) {
        *user++ = '\0';
        pass = strchr(user, '\n');
        if (pass)
            *pass++ = '\0';
    }

    struct cv_url u;
    cv_url_parse(in, &u);
    /* The query, as testsrc:// reads its options: every key asked for, in a small buffer. */
    const char *q = strchr(in, '?');
    if (q) {
        static const char *const keys[] = {"width", "height", "fps", "gop", "codec", ""};
        char v[16];
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            if (cv_query_get(q + 1, keys[i], v, sizeof(v)) == 0 && strlen(v) >= sizeof(v))
                __builtin_trap(); /* a value reported whole must fit */
    }

    char red[8192], small[24];
    if (cv_url_redact(in, red, sizeof(red)) < 0)
        __builtin_trap();
    cv_url_redact(in, small, sizeof(small));
    if (strlen(small) >= sizeof(small))
        __builtin_trap();
    size_t pl = 0;
    const char *pw = raw_password(in, &pl);
    if (pw && pl >= 4 && !memchr(pw, '*', pl)) {
        char p[4096];
        memcpy(p, pw, pl);
        p[pl] = '\0';
        if (count(in, p, pl) == 1 && count(red, p, pl) != 0)
            __builtin_trap();
    }

    char out[8192];
    if (user && cv_url_with_credentials(in, user, pass, out, sizeof(out)) == 0 && user[0] &&
        strlen(user) < CV_URL_USER_MAX && (!pass || strlen(pass) < CV_URL_USER_MAX)) {
        struct cv_url v;
        if (cv_url_parse(out, &v) < 0 || strcmp(v.user, user) != 0 ||
            strcmp(v.password, pass ? pass : "") != 0 || strcmp(v.host, u.host) != 0 ||
            strcmp(v.path, u.path) != 0 || v.port != u.port)
            __builtin_trap();
    }
    return 0;
}
