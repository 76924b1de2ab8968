/* The JSON writer: see common/base/json.h. */
#include "common/base/json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cv_json_init(struct cv_json *j)
{
    *j = (struct cv_json){0};
}

void cv_json_free(struct cv_json *j)
{
    free(j->buf);
    *j = (struct cv_json){0};
}

bool cv_json_ok(const struct cv_json *j)
{
    return !j->oom;
}

char *cv_json_take(struct cv_json *j, size_t *len)
{
    if (j->oom || !j->buf) {
        cv_json_free(j);
        return NULL;
    }
    char *b = j->buf;
    if (len)
        *len = j->len;
    *j = (struct cv_json){0};
    return b;
}

static bool cv_json_reserve(struct cv_json *j, size_t n)
{
    if (j->oom)
        return false;
    if (j->len + n + 1 <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : 1024;
    while (cap < j->len + n + 1)
        cap *= 2;
    char *b = realloc(j->buf, cap);
    if (!b) {
        j->oom = true;
        return false;
    }
    j->buf = b;
    j->cap = cap;
    return true;
}

void cv_json_raw(struct cv_json *j, const char *s, size_t n)
{
    if (!cv_json_reserve(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void cv_json_ch(struct cv_json *j, char c)
{
    cv_json_raw(j, &c, 1);
}

/* Before a value (or a key): the comma that separates it from the previous one. */
static void cv_json_value(struct cv_json *j)
{
    if (j->need_comma)
        cv_json_ch(j, ',');
    j->need_comma = true;
}

void cv_json_obj_open(struct cv_json *j)
{
    cv_json_value(j);
    cv_json_ch(j, '{');
    j->need_comma = false;
}

void cv_json_obj_close(struct cv_json *j)
{
    cv_json_ch(j, '}');
    j->need_comma = true;
}

void cv_json_arr_open(struct cv_json *j)
{
    cv_json_value(j);
    cv_json_ch(j, '[');
    j->need_comma = false;
}

void cv_json_arr_close(struct cv_json *j)
{
    cv_json_ch(j, ']');
    j->need_comma = true;
}

static void cv_json_escaped(struct cv_json *j, const char *s, size_t n)
{
    cv_json_ch(j, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            cv_json_raw(j, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            cv_json_raw(j, esc, 6);
        } else {
            cv_json_ch(j, (char)c);
        }
    }
    cv_json_ch(j, '"');
}

void cv_json_key(struct cv_json *j, const char *key)
{
    cv_json_value(j);
    cv_json_escaped(j, key, strlen(key));
    cv_json_ch(j, ':');
    j->need_comma = false;
}

void cv_json_strn(struct cv_json *j, const char *s, size_t n)
{
    cv_json_value(j);
    cv_json_escaped(j, s, n);
}

void cv_json_str(struct cv_json *j, const char *s)
{
    if (!s) {
        cv_json_null(j);
        return;
    }
    cv_json_strn(j, s, strlen(s));
}

static void cv_json_printed(struct cv_json *j, const char *s)
{
    cv_json_value(j);
    cv_json_raw(j, s, strlen(s));
}

void cv_json_u64(struct cv_json *j, uint64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRIu64, v);
    cv_json_printed(j, b);
}

void cv_json_i64(struct cv_json *j, int64_t v)
{
    char b[24];
    snprintf(b, sizeof(b), "%" PRId64, v);
    cv_json_printed(j, b);
}

void cv_json_num(struct cv_json *j, double v)
{
    char b[32];
    snprintf(b, sizeof(b), "%.6g", isfinite(v) ? v : 0.0);
    cv_json_printed(j, b);
}

void cv_json_bool(struct cv_json *j, bool v)
{
    cv_json_printed(j, v ? "true" : "false");
}

void cv_json_null(struct cv_json *j)
{
    cv_json_printed(j, "null");
}

void cv_json_kv_str(struct cv_json *j, const char *key, const char *s)
{
    cv_json_key(j, key);
    cv_json_str(j, s);
}

void cv_json_kv_u64(struct cv_json *j, const char *key, uint64_t v)
{
    cv_json_key(j, key);
    cv_json_u64(j, v);
}

void cv_json_kv_num(struct cv_json *j, const char *key, double v)
{
    cv_json_key(j, key);
    cv_json_num(j, v);
}

void cv_json_kv_bool(struct cv_json *j, const char *key, bool v)
{
    cv_json_key(j, key);
    cv_json_bool(j, v);
}
