/*
 * The rest of go2rtc's API that Home Assistant, Frigate and go2rtc's own UI call, answered
 * from what camvisor-http knows: /api/config (redacted, always), /api/preload, /api/log and
 * /api/ffmpeg/hardware. What each answer means in camvisor is in docs/http.md.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/json.h"
#include "consumers/http/http.h"

static int cv_http_send_json(struct cv_http_conn *c, struct cv_json *j)
{
    size_t n = 0;
    char *s = cv_json_take(j, &n);
    if (!s)
        return cv_http_respond_text(c, 500, "out of memory");
    return cv_http_respond(c, 200, "application/json", s, n);
}

/*
 * go2rtc returns its YAML file as it is, secrets included (its #2298). camvisor-http has no
 * access to the files (it runs unprivileged) and would not send them if it had: this is the
 * running configuration as YAML, URLs redacted by the supervisor, passwords never present.
 */
static int cv_http_config(struct cv_http_conn *c)
{
    const struct cv_http_srv *srv = c->srv;
    const struct cv_http_settings *set = &srv->set;
    struct cv_json j; /* a growable buffer */
    char line[1400];
    cv_json_init(&j);
#define CV_LINE(...)                                                                               \
    do {                                                                                           \
        int n_ = snprintf(line, sizeof(line), __VA_ARGS__);                                        \
        if (n_ > 0)                                                                                \
            cv_json_raw(&j, line, (size_t)n_ < sizeof(line) ? (size_t)n_ : sizeof(line) - 1);      \
    } while (0)
    CV_LINE("# camvisor's running configuration; secrets are never shown\napi:\n");
    CV_LINE("  username: \"%s\"\n  password: \"%s\"\n", set->username,
            set->password[0] ? "***" : "");
    if (set->token[0])
        CV_LINE("  token: \"***\"\n");
    CV_LINE("  local_auth: %s\n  allow_write: %s\n  origin: \"%s\"\n  base_path: \"%s\"\n",
            set->local_auth ? "true" : "false", set->allow_write ? "true" : "false", set->origin,
            set->base_path);
    CV_LINE("rtsp:\n  listen: \"%s\"\nstreams:\n", set->rtsp_listen);
    for (uint32_t i = 0; i < srv->proc.cams.cat.camera_count; i++) {
        const char *name = srv->proc.cams.cat.cameras[i].name;
        const struct cv_cam *cam = cv_cameras_find(&srv->proc.cams, name);
        CV_LINE("  \"%s\": \"%s\"\n", name, cam ? cam->st.source : "");
    }
#undef CV_LINE
    size_t n = 0;
    char *s = cv_json_take(&j, &n);
    if (!s)
        return cv_http_respond_text(c, 500, "out of memory");
    return cv_http_respond(c, 200, "application/yaml", s, n);
}

/* Every camera with `mode = always` is connected all the time, which is what go2rtc's preload
 * does; on-demand cameras are started by their first viewer. The answer lists none, since this
 * process does not know the modes; PUT and DELETE are accepted for a camera that exists. */
static int cv_http_preload(struct cv_http_conn *c, const char *method,
                           const struct cv_http_args *args)
{
    if (strcmp(method, "GET") == 0) {
        char *b = strdup("{}");
        return b ? cv_http_respond(c, 200, "application/json", b, 2) : -1;
    }
    if (strcmp(method, "PUT") != 0 && strcmp(method, "DELETE") != 0)
        return cv_http_respond_text(c, 405, "method not allowed");
    if (!c->srv->set.allow_write)
        return cv_http_respond_text(c, 403, "writes are disabled ([api] allow_write)");
    const char *src = cv_http_arg(args, "src");
    if (!src || !cv_cameras_exists(&c->srv->proc.cams, src))
        return cv_http_respond_text(c, 404, "stream not found");
    return cv_http_respond(c, 200, "text/plain", NULL, 0);
}

static void cv_http_hardware_source(struct cv_json *j, const char *name, const char *info,
                                    const char *url)
{
    cv_json_obj_open(j);
    cv_json_kv_str(j, "name", name);
    cv_json_kv_str(j, "info", info);
    cv_json_kv_str(j, "url", url);
    cv_json_obj_close(j);
}

/*
 * What transcoding can run on (go2rtc's shape: sources with a name, info and a URL to use it):
 * the devices present, which each worker probes for itself at its first transcode (the CPU
 * always), and, camvisor's own, what each camera's decoder runs on now and why ("in_use").
 */
static int cv_http_hardware(struct cv_http_conn *c)
{
    struct cv_json j;
    cv_json_init(&j);
    cv_json_obj_open(&j);
    cv_json_key(&j, "sources");
    cv_json_arr_open(&j);
    cv_http_hardware_source(&j, "CPU", "software: libavcodec h264/hevc decoders, libx264", "");
    if (access("/dev/nvidiactl", F_OK) == 0)
        cv_http_hardware_source(&j, "NVIDIA", "NVDEC decoding (hwaccel = nvdec or auto)",
                                "ffmpeg:...#hardware=cuda");
    DIR *d = opendir("/dev/dri");
    for (struct dirent *e; d && (e = readdir(d));) {
        if (strncmp(e->d_name, "renderD", 7) != 0)
            continue;
        char info[96];
        snprintf(info, sizeof(info), "VAAPI decoding on /dev/dri/%.20s (hwaccel = vaapi or auto)",
                 e->d_name);
        cv_http_hardware_source(&j, "VAAPI", info, "ffmpeg:...#hardware=vaapi");
    }
    if (d)
        closedir(d);
    cv_json_arr_close(&j);
    cv_json_key(&j, "in_use");
    cv_json_arr_open(&j);
    const struct cv_cameras *cams = &c->srv->proc.cams;
    for (uint32_t i = 0; i < cams->count; i++) {
        if (!cams->cams[i].st.transcode[0])
            continue;
        cv_json_obj_open(&j);
        cv_json_kv_str(&j, "camera", cams->cams[i].st.camera);
        cv_json_kv_str(&j, "transcode", cams->cams[i].st.transcode);
        cv_json_obj_close(&j);
    }
    cv_json_arr_close(&j);
    cv_json_obj_close(&j);
    return cv_http_send_json(c, &j);
}

/*
 * Every camvisor process's CPU time and resident memory, for /metrics: the supervisor (this
 * process's parent) and its children, named as `ps` shows them ("camvisor-worker door").
 * /proc/<pid>/stat and statm stay readable for non-dumpable processes.
 */
void cv_http_metrics_processes(struct cv_json *j)
{
    pid_t sup = getppid();
    DIR *d = opendir("/proc");
    if (!d)
        return;
    long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    static const char head[] = "# TYPE camvisor_process_cpu_seconds_total counter\n"
                               "# TYPE camvisor_process_resident_bytes gauge\n";
    cv_json_raw(j, head, sizeof(head) - 1);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[1024], name[128];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = '\0';
        char *rp = strrchr(buf, ')');
        int ppid = 0;
        unsigned long ut = 0, st = 0;
        if (!rp || sscanf(rp + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid, &ut,
                          &st) != 3)
            continue;
        int pid = atoi(e->d_name);
        if (pid != sup && ppid != sup)
            continue;
        snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "re");
        n = f ? fread(name, 1, sizeof(name) - 1, f) : 0;
        if (f)
            fclose(f);
        name[n] = '\0';
        for (size_t i = 0; i + 1 < n; i++) /* argv joined by spaces */
            if (name[i] == '\0')
                name[i] = ' ';
        char *base = strrchr(name, '/');
        const char *label = base ? base + 1 : name;
        if (pid == sup)
            label = "camvisor";
        else if (strspn(label, "abcdefghijklmnopqrstuvwxyz0123456789-_. ") != strlen(label))
            continue; /* not one of ours, or a name that would break the format */
        unsigned long rss_pages = 0;
        snprintf(path, sizeof(path), "/proc/%s/statm", e->d_name);
        f = fopen(path, "re");
        if (f) {
            if (fscanf(f, "%*u %lu", &rss_pages) != 1)
                rss_pages = 0;
            fclose(f);
        }
        char line[512];
        int k = snprintf(line, sizeof(line),
                         "camvisor_process_cpu_seconds_total{process=\"%s\",pid=\"%d\"} %.2f\n"
                         "camvisor_process_resident_bytes{process=\"%s\",pid=\"%d\"} %lu\n",
                         label, pid, (double)(ut + st) / (double)tick, label, pid,
                         rss_pages * (unsigned long)page);
        if (k > 0 && (size_t)k < sizeof(line))
            cv_json_raw(j, line, (size_t)k);
    }
    closedir(d);
}

int cv_http_api_misc_route(struct cv_http_conn *c, const char *method, const char *path,
                           const struct cv_http_args *args)
{
    bool get = strcmp(method, "GET") == 0;
    if (strcmp(path, "/api/config") == 0)
        return get ? cv_http_config(c)
                   : cv_http_respond_text(c, 405, "the configuration is edited in its files");
    if (strcmp(path, "/api/preload") == 0)
        return cv_http_preload(c, method, args);
    if (strcmp(path, "/api/ffmpeg/hardware") == 0 && get)
        return cv_http_hardware(c);
    if (strcmp(path, "/api/log") == 0) /* camvisor logs to stdout: the journal keeps it */
        return strcmp(method, "DELETE") == 0
                   ? cv_http_respond_text(c, 200, "OK")
                   : cv_http_respond(c, 200, "application/jsonlines", NULL, 0);
    return 1; /* not one of these */
}
