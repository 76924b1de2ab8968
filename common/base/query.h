/*
 * Query strings ("k=v&k2&k3=v3"), the one parser of the tree: go2rtc's filters in an RTSP URL
 * (?video=h264&audio=aac), testsrc:// options, and the HTTP API's parameters to come.
 */
#ifndef CV_QUERY_H
#define CV_QUERY_H

#include <stddef.h>

/*
 * Each call copies the next key and value (value "" when there is no '='), %XX-decoded, and
 * advances *cursor. Returns 0, -ENOENT at the end, -E2BIG when a key or value does not fit,
 * -EBADMSG for a bad escape (or an escaped NUL).
 */
int cv_query_next(const char **cursor, char *key, size_t key_size, char *val, size_t val_size);

/*
 * The value of the first `key` in query, decoded into out. 0, -ENOENT when absent, -E2BIG when
 * the value does not fit, -EBADMSG for a bad escape in it. Other pairs are not judged.
 */
int cv_query_get(const char *query, const char *key, char *out, size_t out_size);

#endif
