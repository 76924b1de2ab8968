/*
 * The INI reader and every value parser behind it, fed through the same line reader the files
 * go through (cv_config_load_buffer). The first byte picks the file kind: even for the global
 * file, odd for a camera file; the rest is the file's text.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/base/url.h"
#include "supervisor/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum cv_config_kind kind = data[0] & 1 ? CV_CONFIG_CAMERA : CV_CONFIG_GLOBAL;
    char err[2048];
    struct cv_config *cfg = NULL;
    int rc = cv_config_load_buffer(kind, "fuzz/cam.ini", (const char *)data + 1, size - 1, &cfg,
                                   err, sizeof(err));
    if (rc < 0) {
        if (cfg || !err[0] || strlen(err) >= sizeof(err))
            __builtin_trap();
        return 0;
    }
    /* What loads is whole: a camera file gives exactly one camera with a usable URL. */
    if (kind == CV_CONFIG_CAMERA && cfg->camera_count != 1)
        __builtin_trap();
    for (size_t i = 0; i < cfg->camera_count; i++) {
        const struct cv_camera_config *c = &cfg->cameras[i];
        struct cv_url u;
        if (!c->name[0])
            __builtin_trap();
        if (strncmp(c->url, "file:", 5) == 0) { /* a path, not a URL: must be absolute */
            const char *path = c->url + 5;
            if (strncmp(path, "//", 2) == 0)
                path += 2;
            if (path[0] != '/' || !c->url_redacted[0])
                __builtin_trap();
            continue;
        }
        if (cv_url_parse(c->url, &u) < 0)
            __builtin_trap();
        /* A password in the effective URL never survives into the redacted one. */
        if (u.password[0] && !strstr(c->url_redacted, ":***@"))
            __builtin_trap();
        if (c->ring_size != CV_CONFIG_RING_AUTO &&
            (c->ring_size < CV_CONFIG_RING_MIN || c->ring_size > CV_CONFIG_RING_MAX))
            __builtin_trap();
    }
    cv_config_free(cfg);
    return 0;
}
