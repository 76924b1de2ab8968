/* The table of source backends, chosen by URL scheme. */
#include <string.h>

#include "worker/worker.h"

extern const struct cv_source_ops cv_src_testsrc_ops;
extern const struct cv_source_ops cv_src_file_ops;
extern const struct cv_source_ops cv_src_rtsp_ops;
extern const struct cv_source_ops cv_src_rtsps_ops;

static const struct cv_source_ops *const cv_sources[] = {
    &cv_src_testsrc_ops,
    &cv_src_file_ops,
    &cv_src_rtsp_ops,
    &cv_src_rtsps_ops,
};

const struct cv_source_ops *cv_source_find(const char *url)
{
    const char *colon = strchr(url, ':');
    if (!colon)
        return NULL;
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(cv_sources) / sizeof(cv_sources[0]); i++)
        if (strlen(cv_sources[i]->scheme) == n && strncmp(url, cv_sources[i]->scheme, n) == 0)
            return cv_sources[i];
    return NULL;
}

int cv_query_get(const char *query, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = query;
    while (p && *p) {
        const char *end = strchr(p, '&');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = n - klen - 1;
            if (vlen >= outlen)
                vlen = outlen - 1;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p = end ? end + 1 : NULL;
    }
    return -2; /* -ENOENT */
}
