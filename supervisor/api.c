/*
 * Cameras added, replaced and removed through go2rtc's API (PUT and DELETE /api/streams), on
 * behalf of camvisor-http. The supervisor owns the catalogue, so it is the one that writes it:
 * a camera from the API is the file cameras.d/<name>.ini, validated in memory by the same loader
 * before it is written, written atomically (a temporary file renamed over), and loaded like a
 * SIGHUP reload. So it survives a restart, and a file the API wrote reads like one a person did.
 *
 * A PUT identical to the running definition (URL and credentials) is answered "unchanged" and
 * touches nothing: Home Assistant re-PUTs whenever the URL it reads back (redacted) differs from
 * its own, which it always does for a camera with a password.
 *
 * Files the API did not write are never overwritten or removed: a camera of that name defined in
 * another file (or by a `name =` key) is a conflict the user resolves by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/url.h"
#include "supervisor/config-internal.h"
#include "supervisor/sup.h"

#define CV_API_MARK "; written by camvisor's API (PUT /api/streams): edit freely\n"

static void cv_api_result(struct cv_msg_stream_result *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cv_api_result(struct cv_msg_stream_result *r, int status, const char *fmt, ...)
{
    r->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* cameras.d/<name>.ini: names are [A-Za-z0-9._-] without a leading dot, so no path escapes. */
static int cv_api_path(const struct cv_sup *sup, const char *name, char *out, size_t len)
{
    if (!cv_config_name_ok(name, strlen(name)) || name[0] == '.')
        return -EINVAL;
    char file[CV_NAME_MAX + 8];
    snprintf(file, sizeof(file), "%s.ini", name);
    /* Joined as the loader joins them, so the path compares equal to a camera's `file`. */
    return cv_config_join(sup->cfg->cameras_dir, file, out, len) < 0 ? -ENAMETOOLONG : 0;
}

/* The camera of that name, and whether the API may change it (it is defined in <name>.ini). */
static const struct cv_camera_config *cv_api_find(const struct cv_sup *sup, const char *name,
                                                  const char *path, bool *ours)
{
    const struct cv_camera_config *cam = cv_config_camera_find(sup->cfg, name);
    *ours = cam && strcmp(cam->file, path) == 0;
    return cam;
}

static int cv_api_write_file(const char *path, const char *text, size_t len)
{
    char tmp[CV_CONFIG_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, len);
    int rc = n == (ssize_t)len && fsync(fd) == 0 ? 0 : -EIO;
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    return rc;
}

/* The whole file, to put back if the new one does not load; NULL when there was none. */
static char *cv_api_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    char *buf = malloc(65536);
    *len = buf ? fread(buf, 1, 65535, f) : 0;
    fclose(f);
    return buf;
}

static void cv_api_put(struct cv_sup *sup, const struct cv_msg_stream_put *m,
                       struct cv_msg_stream_result *r)
{
    char path[CV_CONFIG_PATH_MAX], red[CV_CONFIG_URL_MAX];
    cv_url_redact(m->url, red, sizeof(red));
    if (cv_api_path(sup, m->name, path, sizeof(path)) < 0) {
        cv_api_result(r, -EINVAL,
                      "bad stream name: use 1 to 63 of A-Z a-z 0-9 . _ - (no leading .)");
        return;
    }
    bool ours;
    const struct cv_camera_config *cam = cv_api_find(sup, m->name, path, &ours);
    if (cam && strcmp(cam->url, m->url) == 0) {
        cv_api_result(r, 1, "unchanged");
        return;
    }
    if (cam && !ours) {
        cv_api_result(r, -EEXIST, "%s is defined in %s: change it there", m->name, cam->file);
        return;
    }
    for (const char *p = m->url; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) { /* an INI value cannot hold it safely */
            cv_api_result(r, -EINVAL, "the URL has spaces or control characters");
            return;
        }
    }
    char text[CV_CONFIG_URL_MAX + 256];
    int n = snprintf(text, sizeof(text), CV_API_MARK "[camera]\nurl = %s\n", m->url);
    if (n < 0 || (size_t)n >= sizeof(text)) {
        cv_api_result(r, -EINVAL, "the URL is too long");
        return;
    }
    /* Checked by the loader itself before anything is written: a bad URL changes nothing. */
    char err[1024] = "";
    struct cv_config *probe = NULL;
    char fname[CV_NAME_MAX + 8];
    snprintf(fname, sizeof(fname), "%s.ini", m->name);
    if (cv_config_load_buffer(CV_CONFIG_CAMERA, fname, text, (size_t)n, &probe, err, sizeof(err)) <
        0) {
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        cv_api_result(r, -EINVAL, "%s", err);
        return;
    }
    cv_config_free(probe);
    size_t old_len = 0;
    char *old = cv_api_read_file(path, &old_len);
    int rc = cv_api_write_file(path, text, (size_t)n);
    if (rc < 0) {
        free(old);
        cv_api_result(r, -EIO, "cannot write %s: %s", path, strerror(-rc));
        return;
    }
    char rerr[4096] = "";
    if (cv_sup_reload(sup, rerr, sizeof(rerr)) < 0) {
        /* Another file is broken (edited by hand meanwhile): leave things as they were. */
        if (old)
            cv_api_write_file(path, old, old_len);
        else
            unlink(path);
        free(old);
        char *nl = strchr(rerr, '\n');
        if (nl)
            *nl = '\0';
        cv_api_result(r, -EINVAL, "the configuration does not load: %s", rerr);
        return;
    }
    free(old);
    cv_info("camera %s: %s through the API (%s)", m->name, cam ? "replaced" : "added", red);
    cv_api_result(r, 0, "%s", cam ? "replaced" : "added");
}

static void cv_api_delete(struct cv_sup *sup, const struct cv_msg_stream_delete *m,
                          struct cv_msg_stream_result *r)
{
    char path[CV_CONFIG_PATH_MAX];
    if (cv_api_path(sup, m->name, path, sizeof(path)) < 0) {
        cv_api_result(r, 1, "no such stream"); /* go2rtc answers 200 for an unknown name */
        return;
    }
    bool ours;
    const struct cv_camera_config *cam = cv_api_find(sup, m->name, path, &ours);
    if (!cam) {
        cv_api_result(r, 1, "no such stream");
        return;
    }
    if (!ours) {
        cv_api_result(r, -EEXIST, "%s is defined in %s: remove it there", m->name, cam->file);
        return;
    }
    size_t old_len = 0;
    char *old = cv_api_read_file(path, &old_len);
    if (unlink(path) < 0) {
        free(old);
        cv_api_result(r, -EIO, "cannot remove %s: %s", path, strerror(errno));
        return;
    }
    char rerr[4096] = "";
    if (cv_sup_reload(sup, rerr, sizeof(rerr)) < 0) {
        if (old)
            cv_api_write_file(path, old, old_len);
        free(old);
        char *nl = strchr(rerr, '\n');
        if (nl)
            *nl = '\0';
        cv_api_result(r, -EINVAL, "the configuration does not load: %s", rerr);
        return;
    }
    free(old);
    cv_info("camera %s: removed through the API", m->name);
    cv_api_result(r, 0, "removed");
}

void cv_sup_api_handle(struct cv_sup *sup, const struct cv_msg *m, struct cv_msg_stream_result *r)
{
    memset(r, 0, sizeof(*r));
    if (m->type == CV_MSG_STREAM_PUT) {
        r->req_id = m->u.stream_put.req_id;
        cv_api_put(sup, &m->u.stream_put, r);
    } else {
        r->req_id = m->u.stream_delete.req_id;
        cv_api_delete(sup, &m->u.stream_delete, r);
    }
}
