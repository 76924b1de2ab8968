/*
 * The table of source backends, chosen by URL scheme. Backends built on FFmpeg (testsrc, file)
 * live in camvisor-ffmpeg.so beside the worker and are loaded on first use, so a worker for an
 * rtsp:// camera never loads FFmpeg's codec libraries (see the Makefile and bench/RESULTS.md).
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/base/log.h"
#include "worker/worker.h"

extern const struct cv_source_ops cv_src_rtsp_ops;
extern const struct cv_source_ops cv_src_rtsps_ops;

#define CV_SOURCE_PLUGIN "camvisor-ffmpeg.so"

static const struct {
    const char *scheme;
    const struct cv_source_ops *ops; /* built in, or NULL: look up symbol in the plugin */
    const char *symbol;
} cv_sources[] = {
    {"rtsp", &cv_src_rtsp_ops, NULL},
    {"rtsps", &cv_src_rtsps_ops, NULL},
    {"testsrc", NULL, "cv_src_testsrc_ops"},
    {"file", NULL, "cv_src_file_ops"},
};

/* The plugin stays loaded for the life of the process (one camera, one source). */
void *cv_worker_plugin_symbol(const char *symbol)
{
    char path[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(CV_SOURCE_PLUGIN) - 1);
    if (n <= 0)
        return NULL;
    path[n] = '\0';
    char *slash = strrchr(path, '/');
    if (!slash)
        return NULL;
    memcpy(slash + 1, CV_SOURCE_PLUGIN, sizeof(CV_SOURCE_PLUGIN));
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        cv_err("cannot load %s: %s", path, dlerror());
        return NULL;
    }
    void *sym = dlsym(h, symbol);
    if (!sym)
        cv_err("%s has no %s", path, symbol);
    return sym;
}

const struct cv_source_ops *cv_source_find(const char *url)
{
    const char *colon = strchr(url, ':');
    if (!colon)
        return NULL;
    size_t n = (size_t)(colon - url);
    for (size_t i = 0; i < sizeof(cv_sources) / sizeof(cv_sources[0]); i++) {
        if (strlen(cv_sources[i].scheme) != n || strncmp(url, cv_sources[i].scheme, n) != 0)
            continue;
        return cv_sources[i].ops
                   ? cv_sources[i].ops
                   : (const struct cv_source_ops *)cv_worker_plugin_symbol(cv_sources[i].symbol);
    }
    return NULL;
}
