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

/* ---- sections and keys -------------------------------------------------------------------- */

enum cv_config_section {
    CV_SEC_SERVER,
    CV_SEC_RTSP,
    CV_SEC_API,
    CV_SEC_WEBRTC,
    CV_SEC_CAMERA,
    CV_SEC_COUNT,
};

static const struct {
    const char *name;
    enum cv_config_kind kind;
} cv_config_sections[CV_SEC_COUNT] = {
    [CV_SEC_SERVER] = {"server", CV_CONFIG_GLOBAL}, [CV_SEC_RTSP] = {"rtsp", CV_CONFIG_GLOBAL},
    [CV_SEC_API] = {"api", CV_CONFIG_GLOBAL},       [CV_SEC_WEBRTC] = {"webrtc", CV_CONFIG_GLOBAL},
    [CV_SEC_CAMERA] = {"camera", CV_CONFIG_CAMERA},
};

enum cv_config_type {
    CV_T_TOKEN,  /* non-empty printable text without spaces */
    CV_T_USER,   /* like a token but may be empty (= unset) and holds no ':' */
    CV_T_SECRET, /* any text; never echoed in a message */
    CV_T_PATH,   /* non-empty text without control characters */
    CV_T_BOOL,
    CV_T_LISTEN,
    CV_T_LOG_LEVEL,
    CV_T_MODE,
    CV_T_TRANSPORT,
    CV_T_HWACCEL,
    CV_T_DURATION,
    CV_T_SIZE,
    CV_T_COUNT, /* a whole number, 1 to 1,000,000 */
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

#define CV_G(sec, key, type, m)                                                                    \
    {                                                                                              \
        sec, key, type, offsetof(struct cv_config, m), sizeof(((struct cv_config *)0)->m)          \
    }
#define CV_C(key, type, m)                                                                         \
    {                                                                                              \
        CV_SEC_CAMERA, key, type, offsetof(struct cv_camera_draft, m),                             \
            sizeof(((struct cv_camera_draft *)0)->m)                                               \
    }

static const struct cv_config_key cv_config_keys[] = {
    CV_G(CV_SEC_SERVER, "user", CV_T_TOKEN, user),
    CV_G(CV_SEC_SERVER, "log_level", CV_T_LOG_LEVEL, log_level),
    CV_G(CV_SEC_SERVER, "cameras_dir", CV_T_PATH, cameras_dir),
    CV_G(CV_SEC_RTSP, "listen", CV_T_LISTEN, rtsp_listen),
    CV_G(CV_SEC_RTSP, "username", CV_T_USER, rtsp_username),
    CV_G(CV_SEC_RTSP, "password", CV_T_SECRET, rtsp_password),
    CV_G(CV_SEC_RTSP, "local_auth", CV_T_BOOL, rtsp_local_auth),
    CV_G(CV_SEC_RTSP, "default_query", CV_T_TOKEN, rtsp_default_query),
    CV_G(CV_SEC_RTSP, "max_connections", CV_T_COUNT, rtsp_limits.max_conns),
    CV_G(CV_SEC_RTSP, "max_connections_per_client", CV_T_COUNT, rtsp_limits.max_conns_per_client),
    CV_G(CV_SEC_RTSP, "request_timeout", CV_T_DURATION, rtsp_limits.request_timeout_ms),
    CV_G(CV_SEC_RTSP, "idle_timeout", CV_T_DURATION, rtsp_limits.idle_timeout_ms),
    CV_G(CV_SEC_API, "listen", CV_T_LISTEN, api_listen),
    CV_G(CV_SEC_API, "username", CV_T_USER, api_username),
    CV_G(CV_SEC_API, "password", CV_T_SECRET, api_password),
    CV_G(CV_SEC_API, "local_auth", CV_T_BOOL, api_local_auth),
    CV_G(CV_SEC_WEBRTC, "listen", CV_T_LISTEN, webrtc_listen),
    CV_C("url", CV_T_URL, url),
    CV_C("name", CV_T_NAME, cam.name),
    CV_C("mode", CV_T_MODE, cam.mode),
    CV_C("idle_timeout", CV_T_DURATION, cam.idle_timeout_ms),
    CV_C("transport", CV_T_TRANSPORT, cam.transport),
    CV_C("hwaccel", CV_T_HWACCEL, cam.hwaccel),
    CV_C("enabled", CV_T_BOOL, cam.enabled),
    CV_C("ring_size", CV_T_SIZE, cam.ring_size),
    CV_C("username", CV_T_USER, username),
    CV_C("password", CV_T_SECRET, password),
    CV_C("password_file", CV_T_PATH, password_file),
};
#define CV_CONFIG_KEY_COUNT (sizeof(cv_config_keys) / sizeof(cv_config_keys[0]))

static const char *const cv_config_mode_names[] = {"always", "on-demand"};
static const char *const cv_config_transport_names[] = {"tcp", "udp"};
static const char *const cv_config_hwaccel_names[] = {"auto", "nvdec", "vaapi", "none"};
static const char *const cv_config_level_names[] = {"debug", "info", "warn", "error"};

/* ---- parser state ------------------------------------------------------------------------- */

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
    int file_errors;
    int section;      /* enum cv_config_section, -1 before any or after a bad one */
    bool section_bad; /* inside a refused section: its keys are ignored */
    int section_line[CV_SEC_COUNT];
    int key_line[CV_CONFIG_KEY_COUNT]; /* where each key was set in this file, 0 if not */
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

__attribute__((format(printf, 4, 5))) static void cv_config_fail(struct cv_config_parser *p, int rc,
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

#define cv_config_err(p, line, ...) cv_config_fail(p, -EINVAL, line, __VA_ARGS__)

static int cv_config_key_index(enum cv_config_section sec, const char *name)
{
    for (size_t i = 0; i < CV_CONFIG_KEY_COUNT; i++)
        if (cv_config_keys[i].section == sec && strcmp(cv_config_keys[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Line where key was set in the current file, 0 if it was not. */
static int cv_config_key_seen(const struct cv_config_parser *p, enum cv_config_section sec,
                              const char *name)
{
    int i = cv_config_key_index(sec, name);
    return i < 0 ? 0 : p->key_line[i];
}

/* ---- paths -------------------------------------------------------------------------------- */

static int cv_config_join(const char *dir, const char *rel, char *out, size_t outlen)
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

static void cv_config_dirname(const char *path, char *out, size_t outlen)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, path, n);
    out[n] = '\0';
}

/* ---- value checks ------------------------------------------------------------------------- */

static bool cv_config_name_ok(const char *s, size_t n)
{
    if (n == 0 || n >= CV_CONFIG_NAME_MAX)
        return false;
    if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

static int cv_config_choice(const char *v, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return (int)i;
    return -1;
}

static int cv_config_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* Digits only, no sign, at most 12 of them (so nothing below can overflow). */
static int cv_config_parse_digits(const char **s, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    size_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++) {
        if (n == 12)
            return -EINVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (n == 0)
        return -EINVAL;
    *s = p;
    *out = v;
    return 0;
}

/* "5", "5s" (seconds) or "500ms"; up to 24 hours. */
static int cv_config_parse_duration(const char *v, uint32_t *out_ms)
{
    uint64_t n;
    if (cv_config_parse_digits(&v, &n) < 0)
        return -EINVAL;
    if (*v == '\0' || strcmp(v, "s") == 0)
        n *= 1000;
    else if (strcmp(v, "ms") != 0)
        return -EINVAL;
    if (n > 86400000u)
        return -EINVAL;
    *out_ms = (uint32_t)n;
    return 0;
}

static int cv_config_parse_count(const char *v, uint32_t *out)
{
    uint64_t n;
    if (cv_config_parse_digits(&v, &n) < 0 || *v != '\0' || n < 1 || n > 1000000)
        return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

/* Bytes with an optional K or M (binary) suffix, within the ring limits. */
static int cv_config_parse_size(const char *v, uint64_t *out)
{
    uint64_t n;
    if (strcmp(v, "auto") == 0) {
        *out = CV_CONFIG_RING_AUTO;
        return 0;
    }
    if (cv_config_parse_digits(&v, &n) < 0)
        return -EINVAL;
    if (*v == 'K' || *v == 'k')
        n <<= 10, v++;
    else if (*v == 'M' || *v == 'm')
        n <<= 20, v++;
    if (*v != '\0' || n < CV_CONFIG_RING_MIN || n > CV_CONFIG_RING_MAX)
        return -EINVAL;
    *out = n;
    return 0;
}

static bool cv_config_host_ok(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_')
            return false;
    return true;
}

/* "host:port", ":port" (every interface), "[v6]:port", or "" (disabled). */
static int cv_config_parse_listen(const char *v, struct cv_listen *l)
{
    struct cv_listen r = {.enabled = true};
    if (*v == '\0') {
        *l = (struct cv_listen){.enabled = false};
        return 0;
    }
    const char *port;
    if (*v == '[') {
        const char *close = strchr(v, ']');
        if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof(r.host))
            return -EINVAL;
        memcpy(r.host, v + 1, (size_t)(close - v - 1));
        struct in6_addr a;
        if (inet_pton(AF_INET6, r.host, &a) != 1)
            return -EINVAL;
        port = close + 2;
    } else {
        const char *colon = strrchr(v, ':');
        if (!colon || memchr(v, ':', (size_t)(colon - v)) ||
            (size_t)(colon - v) >= sizeof(r.host) || !cv_config_host_ok(v, (size_t)(colon - v)))
            return -EINVAL;
        memcpy(r.host, v, (size_t)(colon - v));
        port = colon + 1;
    }
    uint64_t n;
    if (cv_config_parse_digits(&port, &n) < 0 || *port != '\0' || n == 0 || n > 65535)
        return -EINVAL;
    r.port = (uint16_t)n;
    *l = r;
    return 0;
}

/* A camera URL as written: parseable, one of our schemes, shaped as that scheme needs. */
static int cv_config_check_url(const char *v, char *why, size_t whylen)
{
    /* file:/abs/path and file:///abs/path: a path, not an authority, so no URL parse. */
    if (strncmp(v, "file:", 5) == 0) {
        const char *path = v + 5;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
        if (path[0] != '/' || strpbrk(path, " \t")) {
            snprintf(why, whylen, "expected file:/absolute/path (or file:///absolute/path)");
            return -EINVAL;
        }
        return 0;
    }
    struct cv_url u;
    int rc = cv_url_parse(v, &u);
    if (rc == -ENAMETOOLONG)
        snprintf(why, whylen, "a part of it is too long");
    else if (rc < 0)
        snprintf(why, whylen, "not a URL (expected scheme://host/path, without spaces)");
    else if (strcmp(u.scheme, "rtsp") == 0 || strcmp(u.scheme, "rtsps") == 0) {
        if (!u.host[0]) {
            snprintf(why, whylen, "no host");
            rc = -EINVAL;
        }
    } else if (strcmp(u.scheme, "file") == 0) {
        if (u.host[0] || u.has_user || u.path[0] != '/') {
            snprintf(why, whylen, "expected file:///absolute/path");
            rc = -EINVAL;
        }
    } else if (strcmp(u.scheme, "testsrc") == 0) {
        if (u.host[0] || u.has_user) {
            snprintf(why, whylen, "expected testsrc://?options");
            rc = -EINVAL;
        }
    } else {
        snprintf(why, whylen, "unsupported scheme '%s' (expected rtsp, rtsps, file or testsrc)",
                 u.scheme);
        rc = -EINVAL;
    }
    explicit_bzero(&u, sizeof(u));
    return rc;
}

static int cv_config_check_text(enum cv_config_type t, const char *v, size_t size, char *why,
                                size_t whylen)
{
    size_t n = strlen(v);
    if (n >= size) {
        snprintf(why, whylen, "too long (at most %zu bytes)", size - 1);
        return -EINVAL;
    }
    if (n == 0 && (t == CV_T_TOKEN || t == CV_T_PATH)) {
        snprintf(why, whylen, "empty");
        return -EINVAL;
    }
    for (const char *c = v; *c; c++) {
        bool ctl = (unsigned char)*c < 0x20 || *c == 0x7f;
        if (ctl || ((t == CV_T_TOKEN || t == CV_T_USER) && *c == ' ')) {
            snprintf(why, whylen, "spaces and control characters are not allowed");
            return -EINVAL;
        }
        if (t == CV_T_USER && *c == ':') {
            snprintf(why, whylen, "a user name cannot hold ':'");
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- values ------------------------------------------------------------------------------- */

/*
 * ${NAME} and ${NAME:default} from the environment, as go2rtc does; "$$" and a '$' not followed
 * by '{' stay as they are. The result is not expanded again.
 */
static int cv_config_expand(struct cv_config_parser *p, const char *key, const char *in, char *out,
                            size_t outlen)
{
    size_t o = 0;
    for (const char *s = in; *s;) {
        const char *add = s;
        size_t addlen = 1;
        if (s[0] == '$' && s[1] == '$') {
            addlen = 2;
            s += 2;
        } else if (s[0] == '$' && s[1] == '{') {
            const char *name = s + 2, *close = strchr(name, '}');
            if (!close) {
                cv_config_err(p, p->lineno, "unterminated ${ in the value of %s", key);
                return -EINVAL;
            }
            const char *colon = memchr(name, ':', (size_t)(close - name));
            size_t nl = (size_t)((colon ? colon : close) - name);
            char var[128];
            bool ok = nl > 0 && nl < sizeof(var) && !isdigit((unsigned char)name[0]);
            for (size_t i = 0; ok && i < nl; i++)
                ok = isalnum((unsigned char)name[i]) || name[i] == '_';
            if (!ok) {
                cv_config_err(p, p->lineno, "bad variable name '${%.*s}' in the value of %s",
                              (int)(nl > 64 ? 64 : nl), name, key);
                return -EINVAL;
            }
            memcpy(var, name, nl);
            var[nl] = '\0';
            add = getenv(var);
            if (add) {
                addlen = strlen(add);
            } else if (colon) {
                add = colon + 1;
                addlen = (size_t)(close - colon - 1);
            } else {
                cv_config_err(p, p->lineno,
                              "environment variable %s is not set (in the value of %s; "
                              "${%s:default} gives a default)",
                              var, key, var);
                return -EINVAL;
            }
            s = close + 1;
        } else {
            s++;
        }
        if (addlen >= outlen - o) {
            cv_config_err(p, p->lineno,
                          "the value of %s is longer than %zu bytes after ${} expansion", key,
                          outlen - 1);
            return -EINVAL;
        }
        memcpy(out + o, add, addlen);
        o += addlen;
    }
    out[o] = '\0';
    return 0;
}

static void cv_config_set(struct cv_config_parser *p, const struct cv_config_key *k, const char *v)
{
    char *dst = (k->section == CV_SEC_CAMERA ? (char *)&p->cam : (char *)p->cfg) + k->offset;
    const char *sec = cv_config_sections[k->section].name;
    char why[160] = "";
    int rc = 0, i;

    switch (k->type) {
    case CV_T_TOKEN:
    case CV_T_USER:
    case CV_T_SECRET:
    case CV_T_PATH:
        rc = cv_config_check_text(k->type, v, k->size, why, sizeof(why));
        if (rc == 0)
            memcpy(dst, v, strlen(v) + 1);
        break;
    case CV_T_BOOL:
        rc = cv_config_parse_bool(v, (bool *)dst);
        snprintf(why, sizeof(why), "expected true, false, yes, no, 1 or 0");
        break;
    case CV_T_LISTEN:
        rc = cv_config_parse_listen(v, (struct cv_listen *)dst);
        snprintf(why, sizeof(why), "expected host:port, :port, [ipv6]:port or nothing to disable");
        break;
    case CV_T_LOG_LEVEL:
        rc = cv_log_parse_level(v, (enum cv_log_level *)dst);
        snprintf(why, sizeof(why), "expected debug, info, warn or error");
        break;
    case CV_T_MODE:
        i = cv_config_choice(v, cv_config_mode_names, 2);
        rc = i < 0 ? -EINVAL : 0;
        if (i >= 0)
            *(enum cv_camera_mode *)dst = (enum cv_camera_mode)i;
        snprintf(why, sizeof(why), "expected always or on-demand");
        break;
    case CV_T_TRANSPORT:
        i = cv_config_choice(v, cv_config_transport_names, 2);
        rc = i < 0 ? -EINVAL : 0;
        if (i >= 0)
            *(enum cv_transport *)dst = (enum cv_transport)i;
        snprintf(why, sizeof(why), "expected tcp or udp");
        break;
    case CV_T_HWACCEL:
        i = cv_config_choice(v, cv_config_hwaccel_names, 4);
        rc = i < 0 ? -EINVAL : 0;
        if (i >= 0)
            *(enum cv_hwaccel *)dst = (enum cv_hwaccel)i;
        snprintf(why, sizeof(why), "expected auto, nvdec, vaapi or none");
        break;
    case CV_T_DURATION:
        rc = cv_config_parse_duration(v, (uint32_t *)dst);
        snprintf(why, sizeof(why), "expected seconds (5, 5s) or milliseconds (500ms), at most 24h");
        break;
    case CV_T_SIZE:
        rc = cv_config_parse_size(v, (uint64_t *)dst);
        snprintf(why, sizeof(why),
                 "expected auto, or bytes with an optional K or M suffix, 256K to 256M");
        break;
    case CV_T_COUNT:
        rc = cv_config_parse_count(v, (uint32_t *)dst);
        snprintf(why, sizeof(why), "expected a whole number from 1 to 1000000");
        break;
    case CV_T_URL:
        rc = cv_config_check_url(v, why, sizeof(why));
        if (rc == 0)
            rc = cv_config_check_text(k->type, v, k->size, why, sizeof(why));
        if (rc == 0)
            memcpy(dst, v, strlen(v) + 1);
        break;
    case CV_T_NAME:
        rc = cv_config_name_ok(v, strlen(v)) ? 0 : -EINVAL;
        if (rc == 0)
            memcpy(dst, v, strlen(v) + 1);
        snprintf(why, sizeof(why), "use 1 to 63 of A-Z a-z 0-9 . _ -");
        break;
    }
    if (rc == 0)
        return;
    if (k->type == CV_T_SECRET) {
        cv_config_err(p, p->lineno, "bad value for %s in [%s]: %s", k->name, sec, why);
    } else if (k->type == CV_T_URL) {
        char red[256];
        cv_url_redact(v, red, sizeof(red));
        cv_config_err(p, p->lineno, "bad value '%s' for %s in [%s]: %s", red, k->name, sec, why);
    } else {
        cv_config_err(p, p->lineno, "bad value '%.100s' for %s in [%s]: %s", v, k->name, sec, why);
    }
}

/* inih's handler: one "key = value" line, already split, trimmed and comment-stripped. */
static int cv_config_on_key(void *user, const char *section, const char *name, const char *value)
{
    struct cv_config_parser *p = user;
    (void)section; /* ours is p->section: inih never sees a section line */

    if (p->section_bad)
        return 1;
    if (p->section < 0) {
        cv_config_err(p, p->lineno, "key '%.64s' before any [section]", name);
        return 1;
    }
    const char *sec = cv_config_sections[p->section].name;
    int i = cv_config_key_index((enum cv_config_section)p->section, name);
    if (i < 0) {
        cv_config_err(p, p->lineno, "unknown key '%.64s' in [%s]", name, sec);
        return 1;
    }
    const struct cv_config_key *k = &cv_config_keys[i];
    if (p->key_line[i]) {
        cv_config_err(p, p->lineno, "duplicate key '%s' in [%s] (first set at line %d)", name, sec,
                      p->key_line[i]);
        return 1;
    }
    p->key_line[i] = p->lineno;

    int before = p->file_errors;
    size_t vl = strlen(value);
    if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
        cv_config_err(p, p->lineno,
                      "the value of %s is quoted; INI values are taken as written, remove the "
                      "quotes",
                      name);
    } else {
        char buf[CV_CONFIG_MAX_VALUE + 1];
        if (cv_config_expand(p, name, value, buf, sizeof(buf)) == 0)
            cv_config_set(p, k, buf);
        explicit_bzero(buf, sizeof(buf)); /* may have held a secret */
    }
    if (p->file_errors != before && k->section == CV_SEC_SERVER &&
        strcmp(k->name, "cameras_dir") == 0)
        p->cameras_dir_bad = true;
    return 1;
}

/* ---- the line reader ---------------------------------------------------------------------- */

static void cv_config_on_section(struct cv_config_parser *p, const char *s)
{
    p->section = -1;
    p->section_bad = true;
    const char *close = strchr(s, ']');
    const char *rest = close ? close + 1 : "";
    while (isspace((unsigned char)*rest))
        rest++;
    if (!close || (*rest && *rest != ';' && *rest != '#')) {
        cv_config_err(p, p->lineno, "malformed section header (expected [name] alone on its line)");
        return;
    }
    size_t n = (size_t)(close - s - 1);
    for (int i = 0; i < CV_SEC_COUNT; i++) {
        const char *name = cv_config_sections[i].name;
        if (strlen(name) != n || strncmp(s + 1, name, n) != 0 ||
            cv_config_sections[i].kind != p->kind)
            continue;
        if (p->section_line[i]) {
            cv_config_err(p, p->lineno, "duplicate section [%s] (first at line %d)", name,
                          p->section_line[i]);
            return;
        }
        p->section_line[i] = p->lineno;
        p->section = i;
        p->section_bad = false;
        return;
    }
    cv_config_err(p, p->lineno, "unknown section [%.*s]%s", (int)(n > 64 ? 64 : n), s + 1,
                  p->kind == CV_CONFIG_CAMERA ? " (a camera file has only [camera])"
                                              : " (expected server, rtsp, api or webrtc)");
}

static bool cv_config_key_line_ok(const char *s)
{
    const char *eq = strchr(s, '=');
    if (!eq)
        return false;
    const char *end = eq;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    if (end == s)
        return false;
    for (const char *c = s; c < end; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.')
            return false;
    return true;
}

static int cv_config_src_getc(struct cv_config_src *s)
{
    if (!s->fp)
        return s->pos < s->len ? (unsigned char)s->data[s->pos++] : EOF;
    int c = getc(s->fp);
    if (c == EOF && ferror(s->fp))
        s->read_error = true;
    return c;
}

/* What inih gets for a line we handled or refused: an empty line, so its line count stays ours. */
static char *cv_config_blank(char *str)
{
    str[0] = '\n';
    str[1] = '\0';
    return str;
}

/* inih's fgets-style reader: one physical line per call (see the top of this file). */
static char *cv_config_read_line(char *str, int num, void *stream)
{
    struct cv_config_src *s = stream;
    struct cv_config_parser *p = s->p;
    char line[CV_CONFIG_MAX_LINE + 1];
    size_t n = 0;
    bool too_long = false, nul = false;

    int c = cv_config_src_getc(s);
    if (c == EOF || num < 2)
        return NULL;
    p->lineno++;
    for (; c != EOF && c != '\n'; c = cv_config_src_getc(s)) {
        nul = nul || c == '\0';
        if (n < CV_CONFIG_MAX_LINE)
            line[n++] = (char)c;
        else
            too_long = true;
    }
    line[n] = '\0';

    char *start = line, *ret = cv_config_blank(str);
    if (p->lineno == 1 && n >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        start += 3; /* a UTF-8 byte order mark */
    while (isspace((unsigned char)*start))
        start++;
    size_t len = strlen(start);
    if (too_long || len + 2 > (size_t)num) {
        cv_config_err(p, p->lineno, "line too long (more than %d bytes)",
                      too_long ? CV_CONFIG_MAX_LINE : num - 2);
    } else if (nul) {
        cv_config_err(p, p->lineno, "NUL byte in line");
    } else if (*start == '\0' || *start == ';' || *start == '#') {
        /* a comment or a blank line */
    } else if (*start == '[') {
        cv_config_on_section(p, start);
    } else if (!cv_config_key_line_ok(start)) {
        if (!p->section_bad)
            cv_config_err(p, p->lineno, "expected 'key = value', '[section]' or a comment");
    } else {
        memcpy(str, start, len);
        str[len] = '\n';
        str[len + 1] = '\0';
    }
    explicit_bzero(line, sizeof(line)); /* may have held a secret */
    return ret;
}

/* ---- files -------------------------------------------------------------------------------- */

static void cv_config_begin_file(struct cv_config_parser *p, enum cv_config_kind kind,
                                 const char *file)
{
    p->kind = kind;
    p->file = file;
    cv_config_dirname(file, p->dir, sizeof(p->dir));
    p->lineno = 0;
    p->file_errors = 0;
    p->section = -1;
    p->section_bad = false;
    memset(p->section_line, 0, sizeof(p->section_line));
    memset(p->key_line, 0, sizeof(p->key_line));
    explicit_bzero(&p->cam, sizeof(p->cam));
    p->cam.cam.mode = CV_MODE_ALWAYS;
    p->cam.cam.idle_timeout_ms = 5000;
    p->cam.cam.transport = CV_TRANSPORT_TCP;
    p->cam.cam.hwaccel = CV_HWACCEL_AUTO;
    p->cam.cam.enabled = true;
    p->cam.cam.ring_size = CV_CONFIG_RING_AUTO;
}

static void cv_config_parse_src(struct cv_config_parser *p, struct cv_config_src *s)
{
    /*
     * Debian's inih sizes its (stack) line buffer from ini_max_line, 200 by default. Raise it for
     * this call so lines up to our own limit get through whole; the reader refuses longer ones
     * itself and never writes past the size inih passes it. The supervisor parses from one
     * thread, so changing the library's setting for the duration of the call is safe.
     * ini_max_line is Debian's run-time knob (declared in its ini.h); upstream inih only has the
     * compile-time INI_MAX_LINE, so a build against it fails to link rather than splitting lines.
     */
    int saved = ini_max_line;
    ini_max_line = CV_CONFIG_MAX_LINE + 3;
    int rc = ini_parse_stream(cv_config_read_line, s, cv_config_on_key, p);
    ini_max_line = saved;

    if (s->read_error)
        cv_config_fail(p, -EIO, 0, "read error");
    else if (rc == -2)
        cv_config_fail(p, -ENOMEM, 0, "out of memory");
    else if (rc != 0 && p->file_errors == 0)
        cv_config_err(p, rc > 0 ? rc : 0, "syntax error");
}

/* Returns -1 when the file could not be opened as a regular file (the error is recorded). */
static int cv_config_parse_file(struct cv_config_parser *p, enum cv_config_kind kind,
                                const char *path)
{
    cv_config_begin_file(p, kind, path);
    /* O_NONBLOCK: opening a FIFO must not hang the supervisor; it is refused just below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        cv_config_fail(p, -e, 0, "cannot open: %s", strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        cv_config_err(p, 0, "not a regular file");
        close(fd);
        return -1;
    }
    /* A stray 1 GiB file in cameras.d must not block the supervisor for seconds. */
    if (st.st_size > CV_CONFIG_FILE_MAX) {
        cv_config_err(p, 0, "%lld bytes: larger than a config file can be (%d KiB)",
                      (long long)st.st_size, CV_CONFIG_FILE_MAX / 1024);
        close(fd);
        return -1;
    }
    FILE *fp = fdopen(fd, "r");
    if (!fp) {
        close(fd);
        cv_config_fail(p, -ENOMEM, 0, "out of memory");
        return -1;
    }
    struct cv_config_src s = {.p = p, .fp = fp};
    cv_config_parse_src(p, &s);
    fclose(fp);
    return 0;
}

/* password_file: one line, trailing newlines stripped, relative to the camera file's folder. */
static int cv_config_read_secret(struct cv_config_parser *p, int line, const char *file, char *out,
                                 size_t outlen)
{
    char path[CV_CONFIG_PATH_MAX], buf[4096];
    size_t n = 0;
    int rc = -EINVAL;
    if (cv_config_join(p->dir, file, path, sizeof(path)) < 0) {
        cv_config_err(p, line, "password_file path too long");
        return -EINVAL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        cv_config_err(p, line, "cannot open password_file '%s': %s", path, strerror(errno));
        return -EINVAL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        cv_config_err(p, line, "password_file '%s' is not a regular file", path);
        goto out;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cv_config_err(p, line, "cannot read password_file '%s': %s", path, strerror(errno));
            goto out;
        }
        if (r == 0 || (n += (size_t)r) == sizeof(buf))
            break;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (n == 0)
        cv_config_err(p, line, "password_file '%s' is empty", path);
    else if (n >= outlen)
        cv_config_err(p, line, "password_file '%s' holds more than %zu bytes", path, outlen - 1);
    else if (memchr(buf, '\n', n) || memchr(buf, '\r', n) || memchr(buf, '\0', n))
        cv_config_err(p, line, "password_file '%s' must hold a single line", path);
    else {
        memcpy(out, buf, n);
        out[n] = '\0';
        rc = 0;
    }
out:
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

/* Completes the camera file just read: name, credentials into the URL, duplicates; adds it. */
static void cv_config_finish_camera(struct cv_config_parser *p, const char *stem, size_t stemlen)
{
    struct cv_camera_draft *d = &p->cam;
    struct cv_camera_config *c = &d->cam;
    struct cv_config *cfg = p->cfg;
    int sec_line = p->section_line[CV_SEC_CAMERA];
    if (!sec_line) {
        if (p->file_errors == 0)
            cv_config_err(p, 0, "no [camera] section");
        return;
    }
    int name_line = cv_config_key_seen(p, CV_SEC_CAMERA, "name");
    int url_line = cv_config_key_seen(p, CV_SEC_CAMERA, "url");
    int user_line = cv_config_key_seen(p, CV_SEC_CAMERA, "username");
    int pass_line = cv_config_key_seen(p, CV_SEC_CAMERA, "password");
    int pfile_line = cv_config_key_seen(p, CV_SEC_CAMERA, "password_file");

    if (!name_line) {
        if (cv_config_name_ok(stem, stemlen))
            memcpy(c->name, stem, stemlen), c->name[stemlen] = '\0';
        else
            cv_config_err(p, 0,
                          "the file name gives the camera name '%.*s', which is not valid: "
                          "use 1 to 63 of A-Z a-z 0-9 . _ - or set name =",
                          (int)(stemlen > 80 ? 80 : stemlen), stem);
    }
    c->line = name_line ? name_line : sec_line;
    snprintf(c->file, sizeof(c->file), "%s", p->file);
    if (!url_line)
        cv_config_err(p, sec_line, "missing required key 'url' in [camera]");
    if (pass_line && pfile_line)
        cv_config_err(p, pass_line > pfile_line ? pass_line : pfile_line,
                      "password and password_file are both set; keep one");
    if (p->file_errors)
        return;

    char password[CV_CONFIG_CRED_MAX];
    memcpy(password, d->password, sizeof(password));
    if (pfile_line &&
        cv_config_read_secret(p, pfile_line, d->password_file, password, sizeof(password)) < 0)
        goto out;
    if (password[0] && !d->username[0]) {
        cv_config_err(p, pass_line ? pass_line : pfile_line, "a password needs a username");
        goto out;
    }
    if (d->username[0]) {
        struct cv_url u;
        cv_url_parse(d->url, &u); /* checked when the key was read */
        bool rtsp = strcmp(u.scheme, "rtsp") == 0 || strcmp(u.scheme, "rtsps") == 0;
        bool has_user = u.has_user;
        explicit_bzero(&u, sizeof(u));
        if (!rtsp) {
            cv_config_err(p, user_line, "username and password apply only to rtsp and rtsps urls");
            goto out;
        }
        if (has_user) {
            cv_config_err(p, user_line,
                          "the url already holds credentials; keep them there or in "
                          "username/password, not both");
            goto out;
        }
    }
    if (!d->username[0] && strlen(d->url) < sizeof(c->url)) {
        memcpy(c->url, d->url, strlen(d->url) + 1); /* file:, testsrc:, or credentials inline */
    } else if (cv_url_with_credentials(d->url, d->username, password, c->url, sizeof(c->url)) < 0) {
        cv_config_err(p, url_line, "the url is too long once credentials are added (max %d bytes)",
                      CV_CONFIG_URL_MAX - 1);
        goto out;
    }
    cv_url_redact(c->url, c->url_redacted, sizeof(c->url_redacted));

    for (size_t i = 0; i < cfg->camera_count; i++) {
        if (strcmp(cfg->cameras[i].name, c->name) == 0) {
            cv_config_err(p, c->line, "duplicate camera name '%s' (already defined at %s:%d)",
                          c->name, cfg->cameras[i].file, cfg->cameras[i].line);
            goto out;
        }
    }
    if (cfg->camera_count == CV_CONFIG_MAX_CAMERAS) {
        cv_config_err(p, 0, "more than %d cameras", CV_CONFIG_MAX_CAMERAS);
        goto out;
    }
    if ((cfg->camera_count & (cfg->camera_count - 1)) == 0) { /* at 0, 1, 2, 4...: grow */
        size_t n = cfg->camera_count, cap = n ? n * 2 : 1;
        /* Not realloc: the old block holds URLs with passwords and must be wiped, not dropped. */
        struct cv_camera_config *cams = malloc(cap * sizeof(*cams));
        if (!cams) {
            cv_config_fail(p, -ENOMEM, 0, "out of memory");
            goto out;
        }
        if (n) {
            memcpy(cams, cfg->cameras, n * sizeof(*cams));
            explicit_bzero(cfg->cameras, n * sizeof(*cams));
        }
        free(cfg->cameras);
        cfg->cameras = cams;
    }
    cfg->cameras[cfg->camera_count++] = *c;
out:
    explicit_bzero(password, sizeof(password));
}

static bool cv_config_wildcard(const char *host)
{
    return !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

/* Checks across the global file's keys, and resolves the cameras folder. */
static void cv_config_finish_global(struct cv_config_parser *p)
{
    struct cv_config *cfg = p->cfg;
    static const enum cv_config_section auth[] = {CV_SEC_RTSP, CV_SEC_API};
    for (int i = 0; i < 2; i++) {
        const char *user = auth[i] == CV_SEC_RTSP ? cfg->rtsp_username : cfg->api_username;
        const char *pass = auth[i] == CV_SEC_RTSP ? cfg->rtsp_password : cfg->api_password;
        if (!user[0] != !pass[0]) {
            int line = cv_config_key_seen(p, auth[i], user[0] ? "username" : "password");
            cv_config_err(p, line, "[%s] username and password go together: set both or neither",
                          cv_config_sections[auth[i]].name);
        }
    }

    static const enum cv_config_section ls[] = {CV_SEC_RTSP, CV_SEC_API, CV_SEC_WEBRTC};
    const struct cv_listen *l[] = {&cfg->rtsp_listen, &cfg->api_listen, &cfg->webrtc_listen};
    for (int i = 0; i < 3; i++) {
        for (int j = i + 1; j < 3; j++) {
            if (!l[i]->enabled || !l[j]->enabled || l[i]->port != l[j]->port)
                continue;
            if (strcmp(l[i]->host, l[j]->host) != 0 && !cv_config_wildcard(l[i]->host) &&
                !cv_config_wildcard(l[j]->host))
                continue;
            int li = cv_config_key_seen(p, ls[i], "listen");
            int lj = cv_config_key_seen(p, ls[j], "listen");
            cv_config_err(p, li > lj ? li : lj, "[%s] listen and [%s] listen both use port %u",
                          cv_config_sections[ls[i]].name, cv_config_sections[ls[j]].name,
                          (unsigned)l[i]->port);
        }
    }

    char raw[CV_CONFIG_PATH_MAX];
    memcpy(raw, cfg->cameras_dir, sizeof(raw));
    if (cv_config_join(p->dir, raw, cfg->cameras_dir, sizeof(cfg->cameras_dir)) < 0) {
        cv_config_err(p, cv_config_key_seen(p, CV_SEC_SERVER, "cameras_dir"),
                      "cameras folder path too long");
        p->cameras_dir_bad = true;
    }
}

static int cv_config_cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads every <name>.ini of the cameras folder, sorted by name; dot files are skipped. */
static void cv_config_read_cameras(struct cv_config_parser *p, bool explicit_dir, int dir_line)
{
    const char *dirpath = p->cfg->cameras_dir;
    DIR *dir = opendir(dirpath);
    if (!dir) {
        int e = errno;
        if (e != ENOENT || explicit_dir)
            cv_config_fail(p, -e, dir_line, "cannot open the cameras folder '%s': %s", dirpath,
                           strerror(e));
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool oom = false;
    struct dirent *de;
    while (!oom && (de = readdir(dir))) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len <= 4 || strcmp(de->d_name + len - 4, ".ini") != 0)
            continue;
        if (n == CV_CONFIG_MAX_CAMERAS) {
            cv_config_err(p, dir_line, "more than %d files in the cameras folder '%s'",
                          CV_CONFIG_MAX_CAMERAS, dirpath);
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof(*names));
            oom = !nn;
            if (nn)
                names = nn;
        }
        if (!oom && !(names[n] = strdup(de->d_name)))
            oom = true;
        if (!oom)
            n++;
    }
    if (oom)
        cv_config_fail(p, -ENOMEM, 0, "out of memory");
    closedir(dir);
    if (names)
        qsort(names, n, sizeof(*names), cv_config_cmp_names);

    const char *global = p->file;
    for (size_t i = 0; i < n; i++) {
        char path[CV_CONFIG_PATH_MAX];
        p->file = global;
        if (cv_config_join(dirpath, names[i], path, sizeof(path)) < 0) {
            cv_config_err(p, 0, "path of camera file '%s' too long", names[i]);
        } else {
            cv_config_parse_file(p, CV_CONFIG_CAMERA, path);
            cv_config_finish_camera(p, names[i], strlen(names[i]) - 4);
        }
        free(names[i]);
    }
    p->file = global;
    free(names);
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
    snprintf(cfg->cameras_dir, sizeof(cfg->cameras_dir), "cameras.d");
    cfg->rtsp_listen = (struct cv_listen){"0.0.0.0", 8554, true};
    cfg->api_listen = (struct cv_listen){"0.0.0.0", 1984, true};
    cfg->webrtc_listen = (struct cv_listen){"0.0.0.0", 8555, true};
    snprintf(cfg->rtsp_default_query, sizeof(cfg->rtsp_default_query), "video&audio");
    cfg->rtsp_limits = (struct cv_conn_limits){.max_conns = 512,
                                               .max_conns_per_client = 128,
                                               .request_timeout_ms = 10000,
                                               .idle_timeout_ms = 60000};
    if (!path || strlen(path) >= sizeof(cfg->path)) {
        cv_config_err(p, 0, "config path missing or too long");
        return -EINVAL;
    }
    memcpy(cfg->path, path, strlen(path) + 1);
    p->file = cfg->path;
    return 0;
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

int cv_config_load(const char *path, struct cv_config **out, char *err, size_t errlen)
{
    struct cv_config_parser p;
    if (cv_config_start(&p, path, err, errlen) == 0) {
        if (cv_config_parse_file(&p, CV_CONFIG_GLOBAL, p.cfg->path) == 0) {
            int dir_line = cv_config_key_seen(&p, CV_SEC_SERVER, "cameras_dir");
            cv_config_finish_global(&p);
            if (!p.cameras_dir_bad)
                cv_config_read_cameras(&p, dir_line > 0, dir_line);
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

/* ---- queries ------------------------------------------------------------------------------ */

const struct cv_camera_config *cv_config_camera_find(const struct cv_config *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->camera_count; i++)
        if (strcmp(cfg->cameras[i].name, name) == 0)
            return &cfg->cameras[i];
    return NULL;
}

bool cv_config_camera_equal(const struct cv_camera_config *a, const struct cv_camera_config *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->url, b->url) == 0 && a->mode == b->mode &&
           a->idle_timeout_ms == b->idle_timeout_ms && a->transport == b->transport &&
           a->hwaccel == b->hwaccel && a->enabled == b->enabled && a->ring_size == b->ring_size;
}

const char *cv_config_mode_name(enum cv_camera_mode mode)
{
    return (unsigned)mode < 2 ? cv_config_mode_names[mode] : "?";
}

const char *cv_config_transport_name(enum cv_transport transport)
{
    return (unsigned)transport < 2 ? cv_config_transport_names[transport] : "?";
}

const char *cv_config_hwaccel_name(enum cv_hwaccel hwaccel)
{
    return (unsigned)hwaccel < 4 ? cv_config_hwaccel_names[hwaccel] : "?";
}

static const char *cv_config_fmt_listen(const struct cv_listen *l, char *buf, size_t len)
{
    if (!l->enabled)
        snprintf(buf, len, "off");
    else if (strchr(l->host, ':'))
        snprintf(buf, len, "[%s]:%u", l->host, (unsigned)l->port);
    else
        snprintf(buf, len, "%s:%u", l->host, (unsigned)l->port);
    return buf;
}

static const char *cv_config_fmt_size(uint64_t n, char *buf, size_t len)
{
    if (n == CV_CONFIG_RING_AUTO)
        snprintf(buf, len, "auto");
    else if (n % (1u << 20) == 0)
        snprintf(buf, len, "%lluM", (unsigned long long)(n >> 20));
    else if (n % (1u << 10) == 0)
        snprintf(buf, len, "%lluK", (unsigned long long)(n >> 10));
    else
        snprintf(buf, len, "%llu", (unsigned long long)n);
    return buf;
}

void cv_config_print_summary(const struct cv_config *cfg, FILE *fp)
{
    char a[96];
    fprintf(fp, "config   %s\n", cfg->path);
    fprintf(fp, "server   user=%s log_level=%s cameras_dir=%s\n", cfg->user,
            (unsigned)cfg->log_level < 4 ? cv_config_level_names[cfg->log_level] : "?",
            cfg->cameras_dir);
    fprintf(fp, "rtsp     listen=%s auth=%s%s local_auth=%s default_query=%s\n",
            cv_config_fmt_listen(&cfg->rtsp_listen, a, sizeof(a)),
            cfg->rtsp_username[0] ? "user:" : "none", cfg->rtsp_username,
            cfg->rtsp_local_auth ? "yes" : "no", cfg->rtsp_default_query);
    fprintf(fp,
            "rtsp     max_connections=%u max_connections_per_client=%u request_timeout=%ums "
            "idle_timeout=%ums\n",
            cfg->rtsp_limits.max_conns, cfg->rtsp_limits.max_conns_per_client,
            cfg->rtsp_limits.request_timeout_ms, cfg->rtsp_limits.idle_timeout_ms);
    fprintf(fp, "api      listen=%s auth=%s%s local_auth=%s\n",
            cv_config_fmt_listen(&cfg->api_listen, a, sizeof(a)),
            cfg->api_username[0] ? "user:" : "none", cfg->api_username,
            cfg->api_local_auth ? "yes" : "no");
    fprintf(fp, "webrtc   listen=%s\n", cv_config_fmt_listen(&cfg->webrtc_listen, a, sizeof(a)));
    fprintf(fp, "cameras  %zu\n", cfg->camera_count);
    for (size_t i = 0; i < cfg->camera_count; i++) {
        const struct cv_camera_config *c = &cfg->cameras[i];
        fprintf(fp,
                "camera   %s url=%s mode=%s idle_timeout=%ums transport=%s hwaccel=%s "
                "ring_size=%s enabled=%s (%s:%d)\n",
                c->name, c->url_redacted, cv_config_mode_name(c->mode), c->idle_timeout_ms,
                cv_config_transport_name(c->transport), cv_config_hwaccel_name(c->hwaccel),
                cv_config_fmt_size(c->ring_size, a, sizeof(a)), c->enabled ? "yes" : "no", c->file,
                c->line);
    }
}
