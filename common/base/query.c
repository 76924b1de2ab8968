/* Query strings: see common/base/query.h. */
#include "common/base/query.h"

#include <errno.h>
#include <string.h>

#include "common/base/url.h"

/* The pair at p (after any '&'): its start, its length, its key's length, its value or NULL. */
struct cv_query_pair {
    const char *p, *val;
    size_t len, key_len, val_len;
};

static int cv_query_pair_at(const char *p, struct cv_query_pair *pair)
{
    while (*p == '&')
        p++;
    if (*p == '\0')
        return -ENOENT;
    size_t n = strcspn(p, "&");
    const char *eq = memchr(p, '=', n);
    *pair = (struct cv_query_pair){.p = p,
                                   .len = n,
                                   .key_len = eq ? (size_t)(eq - p) : n,
                                   .val = eq ? eq + 1 : "",
                                   .val_len = eq ? n - (size_t)(eq - p) - 1 : 0};
    return 0;
}

int cv_query_next(const char **cursor, char *key, size_t key_size, char *val, size_t val_size)
{
    struct cv_query_pair q;
    int rc = cv_query_pair_at(*cursor, &q);
    if (rc < 0) {
        *cursor += strlen(*cursor);
        return rc;
    }
    if ((rc = cv_url_pct_decode(q.p, q.key_len, key, key_size)) < 0 ||
        (rc = cv_url_pct_decode(q.val, q.val_len, val, val_size)) < 0)
        return rc;
    *cursor = q.p + q.len;
    return 0;
}

int cv_query_get(const char *query, const char *key, char *out, size_t out_size)
{
    struct cv_query_pair q;
    char k[128];
    for (const char *p = query; cv_query_pair_at(p, &q) == 0; p = q.p + q.len) {
        /* A key that does not decode, or is too long for k[], is not the one asked for. */
        if (cv_url_pct_decode(q.p, q.key_len, k, sizeof(k)) == 0 && strcmp(k, key) == 0)
            return cv_url_pct_decode(q.val, q.val_len, out, out_size);
    }
    return -ENOENT;
}
