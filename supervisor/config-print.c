/* Queries on a generation, and the summary --check-config prints. */
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
    fprintf(fp,
            "api      listen=%s auth=%s%s%s local_auth=%s allow_write=%s origin=%s base_path=%s\n",
            cv_config_fmt_listen(&cfg->api_listen, a, sizeof(a)),
            cfg->api_username[0] ? "user:" : "none", cfg->api_username,
            cfg->api_token[0] ? " token" : "", cfg->api_local_auth ? "yes" : "no",
            cfg->api_allow_write ? "yes" : "no", cfg->api_origin[0] ? cfg->api_origin : "same-host",
            cfg->api_base_path[0] ? cfg->api_base_path : "/");
    fprintf(fp,
            "api      max_connections=%u max_connections_per_client=%u request_timeout=%ums "
            "idle_timeout=%ums\n",
            cfg->api_limits.max_conns, cfg->api_limits.max_conns_per_client,
            cfg->api_limits.request_timeout_ms, cfg->api_limits.idle_timeout_ms);
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
