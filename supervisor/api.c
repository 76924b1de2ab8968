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
 * What the API may not do:
 *  - touch a file it did not write. Its files start with CV_CONFIG_API_MARK; any other file, and
 *    a camera defined under another file name (a `name =` key), is the administrator's: a PUT or
 *    DELETE of it is refused (409) with the same answer whatever the URL, so that the answer
 *    tells nothing of the password in it, and without the file's path;
 *  - expand ${VAR}: the config loader reads the API's files literally (config-values.c);
 *  - open any file of the host: a file: source must lie inside [api] media_dir (none by default);
 *  - add cameras past [server] max_cameras.
 * Answers carry no path of the host: details go to the log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/base/log.h"
#include "common/base/query.h"
#include "common/base/url.h"
#include "supervisor/config-internal.h"
#include "supervisor/sup.h"

#define CV_API_MARK                                                                                \
    CV_CONFIG_API_MARK                                                                             \
    " (PUT /api/streams). Its values are taken literally (no ${VAR}).\n"                           \
    "; Edits are kept until the next PUT; remove these lines to make the file yours alone.\n"
#define CV_API_HANDS_OFF "%s is defined in a camera file written by hand: change it there"

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

/*
 * 1: path is a file the API wrote; 0: there is no such file; -1: a file of somebody else's (a
 * link or anything not a regular file included); a negative errno other than -EPERM when it
 * cannot be told (out of descriptors: never taken for somebody else's file).
 */
static int cv_api_file_owner(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0 && errno == ENOENT)
        return 0;
    if (fd < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOMEM || errno == EIO))
        return -errno;
    if (fd < 0)
        return -1;
    char head[sizeof(CV_CONFIG_API_MARK) - 1];
    struct stat st;
    bool ours = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                read(fd, head, sizeof(head)) == (ssize_t)sizeof(head) &&
                memcmp(head, CV_CONFIG_API_MARK, sizeof(head)) == 0;
    close(fd);
    return ours ? 1 : -1;
}

/*
 * The camera of that name (NULL when none), and whether the API may change it: it is defined
 * in <name>.ini, which the API wrote, or there is neither such a camera nor such a file.
 */
static const struct cv_camera_config *cv_api_find(const struct cv_sup *sup, const char *name,
                                                  const char *path, bool *ours, int *err)
{
    const struct cv_camera_config *cam = cv_config_camera_find(sup->cfg, name);
    int owner = cv_api_file_owner(path);
    *err = owner < -1 ? owner : 0;
    *ours = cam ? cam->api_file && strcmp(cam->file, path) == 0 && owner == 1 : owner >= 0;
    return cam;
}

/*
 * Descriptors for one camera more: its ring, a pending ring, its worker's control socket, variant
 * rings and its viewers' doorbells, with the supervisor's own reserve kept (reloads read files).
 * Past that, a camera the API adds could not start, and every other camera's next viewer would
 * be refused for want of a descriptor.
 */
#define CV_API_FDS_PER_CAMERA 16
#define CV_API_FDS_RESERVE    64

static int cv_api_fd_room(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -EMFILE; /* not even one descriptor for that */
    size_t open_fds = 0;
    while (readdir(d))
        open_fds++;
    closedir(d);
    return open_fds + CV_API_FDS_PER_CAMERA + CV_API_FDS_RESERVE > rl.rlim_cur ? -EMFILE : 0;
}

static size_t cv_api_enabled_count(const struct cv_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->camera_count; i++)
        n += cfg->cameras[i].enabled;
    return n;
}

/*
 * A file: source from the API: an absolute path to a file inside [api] media_dir, after
 * symbolic links are resolved. Anything else could open any file the supervisor's account can
 * read (/etc/shadow, /dev/urandom) and restart forever on it.
 */
static int cv_api_file_source_ok(const struct cv_sup *sup, const char *url,
                                 struct cv_msg_stream_result *r)
{
    const char *path = url + strlen("file:");
    if (strncmp(path, "//", 2) == 0)
        path += 2;
    if (!sup->cfg->api_media_dir[0]) {
        cv_api_result(r, -EACCES,
                      "file: sources are refused through the API unless "
                      "[api] media_dir is set");
        return -EACCES;
    }
    char dir[PATH_MAX], real[PATH_MAX];
    if (path[0] != '/' || !realpath(sup->cfg->api_media_dir, dir) || !realpath(path, real)) {
        cv_api_result(r, -EACCES,
                      "file: sources must name an existing file inside "
                      "[api] media_dir");
        return -EACCES;
    }
    size_t n = strlen(dir);
    struct stat st;
    if (strncmp(real, dir, n) != 0 || (real[n] != '/' && dir[n - 1] != '/') ||
        stat(real, &st) < 0 || !S_ISREG(st.st_mode)) {
        cv_api_result(r, -EACCES,
                      "file: sources must name an existing file inside "
                      "[api] media_dir");
        return -EACCES;
    }
    return 0;
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

/*
 * A test pattern is encoded by its worker: through the API, at most 1280x720 at 30 fps and
 * 4 Mbit/s (~10 % of a core each here). One PUT of a 3840x2160, 60 fps pattern kept a core busy,
 * and max_cameras of them the whole machine. A camera file written by hand may ask for more.
 */
#define CV_API_TESTSRC_PIXELS  (1280 * 720)
#define CV_API_TESTSRC_FPS     30
#define CV_API_TESTSRC_BITRATE 4000000

static long cv_api_query_num(const char *query, const char *key, long dflt)
{
    char v[24];
    if (!query || cv_query_get(query, key, v, sizeof(v)) < 0)
        return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 0 ? LONG_MAX : n;
}

static int cv_api_testsrc_ok(const char *url, struct cv_msg_stream_result *r)
{
    const char *q = strchr(url, '?');
    q = q ? q + 1 : NULL;
    long w = cv_api_query_num(q, "width", 640), h = cv_api_query_num(q, "height", 360);
    long fps = cv_api_query_num(q, "fps", 25), rate = cv_api_query_num(q, "bitrate", 1000000);
    if (w > 4096 || h > 4096 || w * h > CV_API_TESTSRC_PIXELS || fps > CV_API_TESTSRC_FPS ||
        rate > CV_API_TESTSRC_BITRATE) {
        cv_api_result(r, -EINVAL,
                      "a test pattern through the API is at most 1280x720, 30 fps, 4 Mbit/s");
        return -EINVAL;
    }
    return 0;
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
    int err;
    const struct cv_camera_config *cam = cv_api_find(sup, m->name, path, &ours, &err);
    if (err < 0) {
        cv_err("camera %s: cannot read %s: %s", m->name, path, strerror(-err));
        cv_api_result(r, err, "cannot read the camera's file: %s", strerror(-err));
        return;
    }
    if (!ours) { /* before comparing URLs: the answer must not depend on the password */
        cv_api_result(r, -EEXIST, CV_API_HANDS_OFF, m->name);
        return;
    }
    if (cam && strcmp(cam->url, m->url) == 0) {
        cv_api_result(r, 1, "unchanged");
        return;
    }
    if ((!cam || !cam->enabled) && cv_api_enabled_count(sup->cfg) >= sup->cfg->max_cameras) {
        cv_api_result(r, -ENOSPC, "camvisor holds at most %u cameras ([server] max_cameras)",
                      sup->cfg->max_cameras);
        return;
    }
    if ((!cam || !cam->enabled) && cv_api_fd_room() < 0) {
        cv_warn("camera %s: not added: the supervisor is short of file descriptors "
                "(raise LimitNOFILE / ulimit -n)",
                m->name);
        cv_api_result(r, -EMFILE, "camvisor is out of file descriptors for another camera");
        return;
    }
    if (strncmp(m->url, "file:", 5) == 0 && cv_api_file_source_ok(sup, m->url, r) < 0)
        return;
    if (strncmp(m->url, "testsrc:", 8) == 0 && cv_api_testsrc_ok(m->url, r) < 0)
        return;
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
    char why[1024] = "";
    struct cv_config *probe = NULL;
    char fname[CV_NAME_MAX + 8];
    snprintf(fname, sizeof(fname), "%s.ini", m->name);
    if (cv_config_load_buffer(CV_CONFIG_CAMERA, fname, text, (size_t)n, &probe, why, sizeof(why)) <
        0) {
        char *nl = strchr(why, '\n');
        if (nl)
            *nl = '\0';
        cv_api_result(r, -EINVAL, "%s", why);
        return;
    }
    cv_config_free(probe);
    size_t old_len = 0;
    char *old = cv_api_read_file(path, &old_len);
    int rc = cv_api_write_file(path, text, (size_t)n);
    if (rc < 0) {
        free(old);
        cv_err("camera %s: cannot write %s: %s", m->name, path, strerror(-rc));
        cv_api_result(r, -EIO, "cannot write the camera's file: %s", strerror(-rc));
        return;
    }
    char rerr[4096] = "";
    if (cv_sup_reload(sup, rerr, sizeof(rerr)) < 0) {
        /* Another file is broken (edited by hand meanwhile): leave things as they were. The
         * reload logged why, with the files' paths, which the answer does not show. */
        if (old)
            cv_api_write_file(path, old, old_len);
        else
            unlink(path);
        free(old);
        cv_api_result(r, -EINVAL, "the configuration does not load (the log says why)");
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
    int err;
    const struct cv_camera_config *cam = cv_api_find(sup, m->name, path, &ours, &err);
    if (err < 0) {
        cv_err("camera %s: cannot read %s: %s", m->name, path, strerror(-err));
        cv_api_result(r, err, "cannot read the camera's file: %s", strerror(-err));
        return;
    }
    if (!cam) {
        cv_api_result(r, 1, "no such stream");
        return;
    }
    if (!ours) {
        cv_api_result(r, -EEXIST, CV_API_HANDS_OFF, m->name);
        return;
    }
    size_t old_len = 0;
    char *old = cv_api_read_file(path, &old_len);
    if (unlink(path) < 0) {
        int e = errno;
        free(old);
        cv_err("camera %s: cannot remove %s: %s", m->name, path, strerror(e));
        cv_api_result(r, -EIO, "cannot remove the camera's file: %s", strerror(e));
        return;
    }
    char rerr[4096] = "";
    if (cv_sup_reload(sup, rerr, sizeof(rerr)) < 0) {
        if (old)
            cv_api_write_file(path, old, old_len);
        free(old);
        cv_api_result(r, -EINVAL, "the configuration does not load (the log says why)");
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
