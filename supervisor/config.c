/*
 * Configuration reader: the global INI and cameras.d/<name>.ini into one immutable generation.
 *
 * inih does the key = value splitting, but Debian's build has three traps (see
 * /work/shared/reference/environment.md): it splits lines over 200 bytes and parses the rest as a
 * new line, it gives the handler no line number, and an indented line continues the previous
 * value. So every file goes through ini_parse_stream() with our own reader, which
 *   - counts lines (the handler reads the current line number from the parser),
 *   - refuses lines over CV_CONFIG_MAX_LINE bytes and NUL bytes, naming file and line,
 *   - strips leading whitespace, so indentation is never a continuation,
 *   - handles "[section]" lines itself (strictly: no text after the ']') and hands inih an empty
 *     line instead, so sections, their duplicates and unknown ones are checked where they are,
 *   - refuses lines that are not "key = value" (no ':' separator, key of [A-Za-z0-9_.-]).
 * Inline comments stay inih's: a ';' preceded by whitespace starts a comment ("a = b ;c" is "b");
 * a ';' right after a non-space character is part of the value; '#' comments only a whole line.
 *
 * Values are then ${ENV}-expanded and checked against a table of keys per section. All errors
 * are collected (file order) rather than only the first, so --check-config shows them at once.
 */

#include "supervisor/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/url.h"
#include "consumers/http/config-keys.h"
#include "consumers/rtsp/config-keys.h"
#include "consumers/webrtc/config-keys.h"
#include "supervisor/config-internal.h"

#define CV_G(sec, key, type, m)                                                                    \
    {                                                                                              \
        sec, key, type, offsetof(struct cv_config, m), sizeof(((struct cv_config *)0)->m)          \
    }
#define CV_C(key, type, m)                                                                         \
    {                                                                                              \
        CV_SEC_CAMERA, key, type, offsetof(struct cv_camera_draft, m),                             \
            sizeof(((struct cv_camera_draft *)0)->m)                                               \
    }

const struct cv_config_section_def cv_config_sections[CV_SEC_COUNT] = {
    [CV_SEC_SERVER] = {"server", CV_CONFIG_GLOBAL}, [CV_SEC_RTSP] = {"rtsp", CV_CONFIG_GLOBAL},
    [CV_SEC_API] = {"api", CV_CONFIG_GLOBAL},       [CV_SEC_WEBRTC] = {"webrtc", CV_CONFIG_GLOBAL},
    [CV_SEC_CAMERA] = {"camera", CV_CONFIG_CAMERA},
};

const struct cv_config_key cv_config_keys[] = {
    CV_G(CV_SEC_SERVER, "user", CV_T_TOKEN, user),
    CV_G(CV_SEC_SERVER, "log_level", CV_T_LOG_LEVEL, log_level),
    CV_G(CV_SEC_SERVER, "cameras_dir", CV_T_PATH, cameras_dir),
    CV_G(CV_SEC_SERVER, "max_cameras", CV_T_COUNT, max_cameras),
    CV_G(CV_SEC_SERVER, "max_transcodes", CV_T_COUNT, max_transcodes),
    CV_G(CV_SEC_SERVER, "hwaccel", CV_T_HWACCEL, hwaccel),
/* Each consumer's section comes from its own folder. */
#define CV_RTSP_KEY(key, type, m, def)   CV_G(CV_SEC_RTSP, key, CV_T_##type, m),
#define CV_HTTP_KEY(key, type, m, def)   CV_G(CV_SEC_API, key, CV_T_##type, m),
#define CV_WEBRTC_KEY(key, type, m, def) CV_G(CV_SEC_WEBRTC, key, CV_T_##type, m),
    CV_RTSP_CONFIG_KEYS(CV_RTSP_KEY) CV_HTTP_CONFIG_KEYS(CV_HTTP_KEY)
        CV_WEBRTC_CONFIG_KEYS(CV_WEBRTC_KEY)
#undef CV_RTSP_KEY
#undef CV_HTTP_KEY
#undef CV_WEBRTC_KEY
            CV_C("url", CV_T_URL, url),
    CV_C("name", CV_T_NAME, cam.name),
    CV_C("mode", CV_T_MODE, cam.mode),
    CV_C("idle_timeout", CV_T_DURATION, cam.idle_timeout_ms),
    CV_C("transport", CV_T_TRANSPORT, cam.transport),
    CV_C("hwaccel", CV_T_HWACCEL, cam.hwaccel),
    CV_C("transcode_bitrate", CV_T_BITRATE, cam.transcode_kbps),
    CV_C("transcode_size", CV_T_PICSIZE, cam.transcode_size),
    CV_C("enabled", CV_T_BOOL, cam.enabled),
    CV_C("ring_size", CV_T_SIZE, cam.ring_size),
    CV_C("username", CV_T_USER, username),
    CV_C("password", CV_T_SECRET, password),
    CV_C("password_file", CV_T_PATH, password_file),
};
const size_t cv_config_key_count = sizeof(cv_config_keys) / sizeof(cv_config_keys[0]);
_Static_assert(sizeof(cv_config_keys) / sizeof(cv_config_keys[0]) <= CV_CONFIG_MAX_KEYS,
               "raise CV_CONFIG_MAX_KEYS");

/* The consumers' defaults, as they would be written in the file: applied through the same
 * parser as the file's values, so a default can never be a value the file could not hold. */
static const struct {
    enum cv_config_section section;
    const char *key, *value;
} cv_config_defaults[] = {
#define CV_RTSP_DEF(key, type, m, def)   {CV_SEC_RTSP, key, def},
#define CV_HTTP_DEF(key, type, m, def)   {CV_SEC_API, key, def},
#define CV_WEBRTC_DEF(key, type, m, def) {CV_SEC_WEBRTC, key, def},
    CV_RTSP_CONFIG_KEYS(CV_RTSP_DEF) CV_HTTP_CONFIG_KEYS(CV_HTTP_DEF)
        CV_WEBRTC_CONFIG_KEYS(CV_WEBRTC_DEF)
#undef CV_RTSP_DEF
#undef CV_HTTP_DEF
#undef CV_WEBRTC_DEF
};

const char *const cv_config_mode_names[] = {"always", "on-demand"};
const char *const cv_config_transport_names[] = {"tcp", "udp"};
const char *const cv_config_hwaccel_names[] = {"auto", "nvdec", "vaapi", "none"};
const char *const cv_config_level_names[] = {"debug", "info", "warn", "error"};

__attribute__((format(printf, 4, 5))) void cv_config_fail(struct cv_config_parser *p, int rc,
                                                          int line, const char *fmt, ...)
{
    p->file_errors++;
    p->nerr++;
    if (p->rc == 0)
        p->rc = rc;
    if (!p->err || p->errlen == 0 || p->nerr > CV_CONFIG_MAX_ERRORS)
        return;

    char msg[768], whole[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(whole, sizeof(whole), "%s:%d: %s", p->file, line, msg);
    else
        snprintf(whole, sizeof(whole), "%s: %s", p->file, msg);
    for (char *c = whole; *c; c++) /* names and values must not forge lines on a terminal */
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';

    size_t room = p->errlen - p->errused;
    int n = snprintf(p->err + p->errused, room, "%s%s", p->errused ? "\n" : "", whole);
    if (n > 0)
        p->errused += (size_t)n < room ? (size_t)n : room - 1;
}

int cv_config_key_index(enum cv_config_section sec, const char *name)
{
    for (size_t i = 0; i < cv_config_key_count; i++)
        if (cv_config_keys[i].section == sec && strcmp(cv_config_keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Line where key was set in the current file, 0 if it was not. */
int cv_config_key_seen(const struct cv_config_parser *p, enum cv_config_section sec,
                       const char *name)
{
    int i = cv_config_key_index(sec, name);
    return i < 0 ? 0 : p->key_line[i];
}

/* ---- paths -------------------------------------------------------------------------------- */

int cv_config_join(const char *dir, const char *rel, char *out, size_t outlen)
{
    int n;
    if (rel[0] == '/' || dir[0] == '\0')
        n = snprintf(out, outlen, "%s", rel);
    else if (dir[strlen(dir) - 1] == '/')
        n = snprintf(out, outlen, "%s%s", dir, rel);
    else
        n = snprintf(out, outlen, "%s/%s", dir, rel);
    return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

void cv_config_dirname(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

/* ---- generations -------------------------------------------------------------------------- */

static int cv_config_start(struct cv_config_parser *p, const char *path, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->err = err;
    p->errlen = err ? errlen : 0;
    if (p->errlen)
        err[0] = '\0';
    p->file = path ? path : "(null)";
    struct cv_config *cfg = calloc(1, sizeof(*cfg));
    if (!cfg) {
        cv_config_fail(p, -ENOMEM, 0, "out of memory");
        return -ENOMEM;
    }
    p->cfg = cfg;
    snprintf(cfg->user, sizeof(cfg->user), "camvisor");
    cfg->log_level = CV_LOG_INF;
    cfg->max_cameras = CV_CONFIG_CAMERAS_LIMIT;
    cfg->max_transcodes = CV_CONFIG_MAX_TRANSCODES;
    snprintf(cfg->cameras_dir, sizeof(cfg->cameras_dir), "cameras.d");
    if (!path || strlen(path) >= sizeof(cfg->path)) {
        cv_config_err(p, 0, "config path missing or too long");
        return -EINVAL;
    }
    memcpy(cfg->path, path, strlen(path) + 1);
    p->file = cfg->path;
    for (size_t i = 0; i < sizeof(cv_config_defaults) / sizeof(cv_config_defaults[0]); i++) {
        int k = cv_config_key_index(cv_config_defaults[i].section, cv_config_defaults[i].key);
        if (k >= 0 && cv_config_defaults[i].value)
            cv_config_set(p, &cv_config_keys[k], cv_config_defaults[i].value);
    }
    return p->rc;
}

static int cv_config_end(struct cv_config_parser *p, struct cv_config **out)
{
    if (p->nerr > CV_CONFIG_MAX_ERRORS && p->errlen > p->errused + 1) {
        snprintf(p->err + p->errused, p->errlen - p->errused, "\n(%d more errors)",
                 p->nerr - CV_CONFIG_MAX_ERRORS);
    }
    explicit_bzero(&p->cam, sizeof(p->cam));
    if (p->rc < 0) {
        cv_config_free(p->cfg);
        *out = NULL;
        return p->rc;
    }
    *out = p->cfg;
    return 0;
}

/* No silent limit: more enabled cameras than [server] max_cameras is an error of the load. */
static void cv_config_check_count(struct cv_config_parser *p)
{
    size_t enabled = 0;
    for (size_t i = 0; i < p->cfg->camera_count; i++)
        enabled += p->cfg->cameras[i].enabled;
    if (enabled > p->cfg->max_cameras) {
        p->file = p->cfg->path;
        cv_config_err(p, 0,
                      "%zu cameras are enabled, more than [server] max_cameras = %u "
                      "(at most %d)",
                      enabled, p->cfg->max_cameras, CV_CONFIG_CAMERAS_LIMIT);
    }
}

int cv_config_load(const char *path, struct cv_config **out, char *err, size_t errlen)
{
    struct cv_config_parser p;
    if (cv_config_start(&p, path, err, errlen) == 0) {
        if (cv_config_parse_file(&p, CV_CONFIG_GLOBAL, p.cfg->path) == 0) {
            int dir_line = cv_config_key_seen(&p, CV_SEC_SERVER, "cameras_dir");
            cv_config_finish_global(&p);
            if (!p.cameras_dir_bad)
                cv_config_read_cameras(&p, dir_line > 0, dir_line);
            cv_config_check_count(&p);
        }
    }
    return cv_config_end(&p, out);
}

int cv_config_load_buffer(enum cv_config_kind kind, const char *name, const char *data, size_t len,
                          struct cv_config **out, char *err, size_t errlen)
{
    struct cv_config_parser p;
    if (cv_config_start(&p, name, err, errlen) == 0) {
        struct cv_config_src s = {.p = &p, .data = data, .len = data ? len : 0};
        cv_config_begin_file(&p, kind, p.cfg->path);
        cv_config_parse_src(&p, &s);
        if (kind == CV_CONFIG_GLOBAL) {
            cv_config_finish_global(&p);
        } else {
            const char *base = strrchr(p.cfg->path, '/');
            base = base ? base + 1 : p.cfg->path;
            size_t bl = strlen(base);
            if (bl > 4 && strcmp(base + bl - 4, ".ini") == 0)
                bl -= 4;
            cv_config_finish_camera(&p, base, bl);
        }
    }
    return cv_config_end(&p, out);
}

void cv_config_free(struct cv_config *cfg)
{
    if (!cfg)
        return;
    if (cfg->cameras) {
        explicit_bzero(cfg->cameras, cfg->camera_count * sizeof(*cfg->cameras));
        free(cfg->cameras);
    }
    explicit_bzero(cfg, sizeof(*cfg));
    free(cfg);
}
