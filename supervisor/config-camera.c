/* Finishing what a file said: a camera (name, credentials, duplicates), the global file, cameras.d.
 */
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

/* Completes the camera file just read: name, credentials into the URL, duplicates; adds it. */
void cv_config_finish_camera(struct cv_config_parser *p, const char *stem, size_t stemlen)
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
    c->api_file = p->literal;
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
void cv_config_finish_global(struct cv_config_parser *p)
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

    if (cfg->max_cameras > CV_CONFIG_CAMERAS_LIMIT)
        cv_config_err(p, cv_config_key_seen(p, CV_SEC_SERVER, "max_cameras"),
                      "[server] max_cameras = %u: at most %d", cfg->max_cameras,
                      CV_CONFIG_CAMERAS_LIMIT);
    char raw[CV_CONFIG_PATH_MAX];
    if (cfg->api_media_dir[0]) {
        memcpy(raw, cfg->api_media_dir, sizeof(raw));
        if (cv_config_join(p->dir, raw, cfg->api_media_dir, sizeof(cfg->api_media_dir)) < 0)
            cv_config_err(p, cv_config_key_seen(p, CV_SEC_API, "media_dir"),
                          "media folder path too long");
    }
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
void cv_config_read_cameras(struct cv_config_parser *p, bool explicit_dir, int dir_line)
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
