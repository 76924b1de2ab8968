/*
 * The configuration reader's inside, shared by its files (and by nothing else):
 *   config.c         the key tables, error collection, paths, one generation from start to end
 *   config-ini.c     files and lines: our line reader under inih, sections, "key = value"
 *   config-values.c  value types, ${VAR} expansion, password files
 *   config-camera.c  finishing a camera file and the global one, reading cameras.d
 *   config-print.c   queries and the --check-config summary
 */
#ifndef CV_SUP_CONFIG_INTERNAL_H
#define CV_SUP_CONFIG_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "supervisor/config.h"

#define CV_CONFIG_MAX_KEYS 64 /* rows of cv_config_keys (checked at compile time) */

enum cv_config_section {
    CV_SEC_SERVER,
    CV_SEC_RTSP,
    CV_SEC_API,
    CV_SEC_WEBRTC,
    CV_SEC_CAMERA,
    CV_SEC_COUNT,
};

struct cv_config_section_def {
    const char *name;
    enum cv_config_kind kind;
};

enum cv_config_type {
    CV_T_TOKEN,  /* non-empty printable text without spaces */
    CV_T_USER,   /* like a token but may be empty (= unset) and holds no ':' */
    CV_T_SECRET, /* any text; never echoed in a message */
    CV_T_PATH,   /* non-empty text without control characters */
    CV_T_TEXT,   /* text without control characters, may be empty */
    CV_T_BOOL,
    CV_T_LISTEN,
    CV_T_LOG_LEVEL,
    CV_T_MODE,
    CV_T_TRANSPORT,
    CV_T_HWACCEL,
    CV_T_DURATION,
    CV_T_SIZE,
    CV_T_COUNT,   /* a whole number, 1 to 1,000,000 */
    CV_T_BITRATE, /* bits a second with an optional k or M: kbit/s in a uint32_t */
    CV_T_PICSIZE, /* WxH, a side 0 following the aspect ratio: struct cv_pic_size */
    CV_T_URL,
    CV_T_NAME,
};

/* A camera file's keys land here first; credentials are merged into the URL once it is read. */
struct cv_camera_draft {
    struct cv_camera_config cam;
    char url[CV_CONFIG_MAX_VALUE + 1]; /* as written, ${} expanded */
    char username[CV_CONFIG_CRED_MAX];
    char password[CV_CONFIG_CRED_MAX];
    char password_file[CV_CONFIG_PATH_MAX];
};

struct cv_config_key {
    enum cv_config_section section;
    const char *name;
    enum cv_config_type type;
    size_t offset; /* into struct cv_config, or into struct cv_camera_draft for [camera] */
    size_t size;   /* of the destination */
};

extern const struct cv_config_section_def cv_config_sections[CV_SEC_COUNT];
extern const struct cv_config_key cv_config_keys[];
extern const size_t cv_config_key_count;
extern const char *const cv_config_mode_names[];
extern const char *const cv_config_transport_names[];
extern const char *const cv_config_hwaccel_names[];
extern const char *const cv_config_level_names[];

/* One load. Lives on the caller's stack; owns nothing but cfg until it is handed out. */
struct cv_config_parser {
    struct cv_config *cfg; /* the generation being built; freed on failure */
    char *err;             /* caller's buffer, may be NULL */
    size_t errlen, errused;
    int nerr; /* errors found, including those beyond CV_CONFIG_MAX_ERRORS */
    int rc;   /* the first error's code */

    /* The file being read. */
    enum cv_config_kind kind;
    const char *file;             /* for messages; borrowed */
    char dir[CV_CONFIG_PATH_MAX]; /* its folder, for relative paths; "" = working directory */
    int lineno;                   /* of the line inih is processing */
    bool literal; /* a camera file the API wrote (CV_CONFIG_API_MARK): no ${} expansion */
    int file_errors;
    int section;      /* enum cv_config_section, -1 before any or after a bad one */
    bool section_bad; /* inside a refused section: its keys are ignored */
    int section_line[CV_SEC_COUNT];
    int key_line[CV_CONFIG_MAX_KEYS]; /* where each key was set in this file, 0 if not */
    bool cameras_dir_bad;
    struct cv_camera_draft cam;
};

struct cv_config_src {
    struct cv_config_parser *p;
    FILE *fp;         /* borrowed; NULL when reading from data */
    const char *data; /* borrowed */
    size_t len, pos;
    bool read_error;
};

#define cv_config_err(p, line, ...) cv_config_fail(p, -EINVAL, line, __VA_ARGS__)

__attribute__((format(printf, 4, 5))) void cv_config_fail(struct cv_config_parser *p, int rc,
                                                          int line, const char *fmt, ...);
int cv_config_key_index(enum cv_config_section sec, const char *name);
int cv_config_key_seen(const struct cv_config_parser *p, enum cv_config_section sec,
                       const char *name);
int cv_config_join(const char *dir, const char *rel, char *out, size_t outlen);
void cv_config_dirname(const char *path, char *out, size_t outlen);
bool cv_config_name_ok(const char *s, size_t n);
int cv_config_expand(struct cv_config_parser *p, const char *key, const char *in, char *out,
                     size_t outlen);
void cv_config_set(struct cv_config_parser *p, const struct cv_config_key *k, const char *v);
int cv_config_read_secret(struct cv_config_parser *p, int line, const char *file, char *out,
                          size_t outlen);
void cv_config_begin_file(struct cv_config_parser *p, enum cv_config_kind kind, const char *file);
void cv_config_parse_src(struct cv_config_parser *p, struct cv_config_src *s);
int cv_config_parse_file(struct cv_config_parser *p, enum cv_config_kind kind, const char *path);
void cv_config_finish_camera(struct cv_config_parser *p, const char *stem, size_t stemlen);
void cv_config_finish_global(struct cv_config_parser *p);
void cv_config_read_cameras(struct cv_config_parser *p, bool explicit_dir, int dir_line);

#endif
