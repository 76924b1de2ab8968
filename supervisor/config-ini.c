/* Configuration files and lines: our line reader under inih (see config.c), sections, keys. */
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
        /* a comment or a blank line; the first one may say the API wrote the file */
        if (p->lineno == 1 && p->kind == CV_CONFIG_CAMERA &&
            strncmp(start, CV_CONFIG_API_MARK, strlen(CV_CONFIG_API_MARK)) == 0)
            p->literal = true;
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

void cv_config_begin_file(struct cv_config_parser *p, enum cv_config_kind kind, const char *file)
{
    p->kind = kind;
    p->file = file;
    cv_config_dirname(file, p->dir, sizeof(p->dir));
    p->lineno = 0;
    p->literal = false;
    p->file_errors = 0;
    p->section = -1;
    p->section_bad = false;
    memset(p->section_line, 0, sizeof(p->section_line));
    memset(p->key_line, 0, sizeof(p->key_line));
    explicit_bzero(&p->cam, sizeof(p->cam));
    p->cam.cam.mode = CV_MODE_ALWAYS;
    p->cam.cam.idle_timeout_ms = 5000;
    p->cam.cam.transport = CV_TRANSPORT_TCP;
    p->cam.cam.hwaccel = p->cfg->hwaccel; /* [server] hwaccel, read before any camera file */
    p->cam.cam.enabled = true;
    p->cam.cam.ring_size = CV_CONFIG_RING_AUTO;
}

void cv_config_parse_src(struct cv_config_parser *p, struct cv_config_src *s)
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
int cv_config_parse_file(struct cv_config_parser *p, enum cv_config_kind kind, const char *path)
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
