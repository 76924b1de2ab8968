/*
 * A JSON writer for API answers: a growable buffer, strings escaped (RFC 8259), numbers
 * printed, commas placed by the caller's structure (cv_json_key/cv_json_sep). Out of memory
 * is sticky: the buffer says so once at the end (cv_json_ok), so builders need no checks.
 *
 * Ownership: the writer owns buf; cv_json_free() releases it, cv_json_take() hands it over.
 */
#ifndef CV_JSON_H
#define CV_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cv_json {
    char *buf; /* owned, NUL-terminated while ok */
    size_t len, cap;
    bool oom;
    bool need_comma; /* a value was written at this nesting level */
};

void cv_json_init(struct cv_json *j);
void cv_json_free(struct cv_json *j);
/* The text (NUL-terminated) and its length; ownership goes to the caller (free()). */
char *cv_json_take(struct cv_json *j, size_t *len);
bool cv_json_ok(const struct cv_json *j);

void cv_json_obj_open(struct cv_json *j);  /* {  (a value: takes a comma if one is due) */
void cv_json_obj_close(struct cv_json *j); /* } */
void cv_json_arr_open(struct cv_json *j);
void cv_json_arr_close(struct cv_json *j);
void cv_json_key(struct cv_json *j, const char *key); /* "key": (the value follows) */
void cv_json_str(struct cv_json *j, const char *s);   /* a string value; NULL is null */
void cv_json_strn(struct cv_json *j, const char *s, size_t n);
void cv_json_u64(struct cv_json *j, uint64_t v);
void cv_json_i64(struct cv_json *j, int64_t v);
void cv_json_num(struct cv_json *j, double v); /* %.3g-ish, never NaN/inf (written as 0) */
void cv_json_bool(struct cv_json *j, bool v);
void cv_json_null(struct cv_json *j);
/* Raw text appended as is (no comma logic): for text built elsewhere, already JSON. */
void cv_json_raw(struct cv_json *j, const char *s, size_t n);

/* "key": value shorthands */
void cv_json_kv_str(struct cv_json *j, const char *key, const char *s);
void cv_json_kv_u64(struct cv_json *j, const char *key, uint64_t v);
void cv_json_kv_num(struct cv_json *j, const char *key, double v);
void cv_json_kv_bool(struct cv_json *j, const char *key, bool v);

#endif
