/* Configuration values: their types and checks, ${VAR} expansion, password files. */
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
#include "supervisor/config-internal.h"

/* ---- value checks ------------------------------------------------------------------------- */

bool cv_config_name_ok(const char *s, size_t n)
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

/* Bits a second, with an optional k or M (decimal) suffix: 16 kbit/s to 100 Mbit/s, kept in
 * kbit/s. */
static int cv_config_parse_bitrate(const char *v, uint32_t *kbps)
{
    uint64_t n;
    if (cv_config_parse_digits(&v, &n) < 0 || n > 100000000)
        return -EINVAL;
    if (*v == 'k' || *v == 'K')
        n *= 1000, v++;
    else if (*v == 'M' || *v == 'm')
        n *= 1000000, v++;
    if (*v != '\0' || n < 16000 || n > 100000000)
        return -EINVAL;
    *kbps = (uint32_t)(n / 1000);
    return 0;
}

/* WxH, each side 0 to 8192 (0: follows the aspect ratio), even: 4:2:0 pictures. */
static int cv_config_parse_picsize(const char *v, struct cv_pic_size *out)
{
    uint64_t w, h;
    if (cv_config_parse_digits(&v, &w) < 0 || *v++ != 'x' || cv_config_parse_digits(&v, &h) < 0 ||
        *v != '\0' || w > 8192 || h > 8192 || (w | h) & 1)
        return -EINVAL;
    out->width = (uint16_t)w;
    out->height = (uint16_t)h;
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
 * by '{' stay as they are. The result is not expanded again. Not in a file the API wrote
 * (p->literal): the environment is the administrator's, never a network client's to read.
 */
int cv_config_expand(struct cv_config_parser *p, const char *key, const char *in, char *out,
                     size_t outlen)
{
    if (p->literal) { /* what the API wrote is what came over the network, taken as it is */
        size_t n = strlen(in);
        if (n >= outlen) {
            cv_config_err(p, p->lineno, "the value of %s is longer than %zu bytes", key,
                          outlen - 1);
            return -EINVAL;
        }
        memcpy(out, in, n + 1);
        return 0;
    }
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

void cv_config_set(struct cv_config_parser *p, const struct cv_config_key *k, const char *v)
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
    case CV_T_TEXT:
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
    case CV_T_BITRATE:
        rc = cv_config_parse_bitrate(v, (uint32_t *)dst);
        snprintf(why, sizeof(why), "expected bits a second with an optional k or M, 16k to 100M");
        break;
    case CV_T_PICSIZE:
        rc = cv_config_parse_picsize(v, (struct cv_pic_size *)dst);
        snprintf(why, sizeof(why),
                 "expected WIDTHxHEIGHT, even, each 0 (follow the aspect) to 8192");
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

/* password_file: one line, trailing newlines stripped, relative to the camera file's folder. */
int cv_config_read_secret(struct cv_config_parser *p, int line, const char *file, char *out,
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
