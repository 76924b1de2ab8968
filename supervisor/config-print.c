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
           a->hwaccel == b->hwaccel && a->enabled == b->enabled && a->ring_size == b->ring_size &&
           a->transcode_kbps == b->transcode_kbps &&
           a->transcode_size.width == b->transcode_size.width &&
           a->transcode_size.height == b->transcode_size.height;
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

void cv_config_listen_str(const struct cv_listen *l, char *buf, size_t len)
{
    if (!l->enabled)
        snprintf(buf, len, "%s", "");
    else if (strchr(l->host, ':'))
        snprintf(buf, len, "[%s]:%u", l->host, (unsigned)l->port);
    else
        snprintf(buf, len, "%s:%u", l->host, (unsigned)l->port);
}

/* ---- consumer sections as text -------------------------------------------------------------- */

static int cv_config_section_find(const char *name)
{
    for (int s = 0; s < CV_SEC_COUNT; s++)
        if (cv_config_sections[s].kind == CV_CONFIG_GLOBAL && s != CV_SEC_SERVER &&
            strcmp(cv_config_sections[s].name, name) == 0)
            return s;
    return -ENOENT;
}

/* One value of a consumer's section as CV_MSG_SETTINGS carries it (see config.h). */
static void cv_config_value_str(const struct cv_config *cfg, const struct cv_config_key *k,
                                char *out, size_t len)
{
    const char *v = (const char *)cfg + k->offset;
    switch (k->type) {
    case CV_T_BOOL: snprintf(out, len, "%d", *(const bool *)v ? 1 : 0); break;
    case CV_T_LISTEN: cv_config_listen_str((const struct cv_listen *)v, out, len); break;
    case CV_T_DURATION:
    case CV_T_COUNT: snprintf(out, len, "%u", (unsigned)*(const uint32_t *)v); break;
    case CV_T_SIZE: snprintf(out, len, "%llu", (unsigned long long)*(const uint64_t *)v); break;
    case CV_T_TOKEN:
    case CV_T_USER:
    case CV_T_SECRET:
    case CV_T_PATH:
    case CV_T_TEXT: snprintf(out, len, "%s", v); break;
    default: snprintf(out, len, "%s", ""); break; /* no consumer section holds the others */
    }
}

int cv_config_section_values(const struct cv_config *cfg, const char *section,
                             cv_config_emit_fn emit, void *ctx)
{
    int sec = cv_config_section_find(section), n = 0;
    if (sec < 0)
        return sec;
    char value[CV_CONFIG_MAX_VALUE + 1];
    for (size_t i = 0; i < cv_config_key_count; i++) {
        const struct cv_config_key *k = &cv_config_keys[i];
        if ((int)k->section != sec)
            continue;
        cv_config_value_str(cfg, k, value, sizeof(value));
        emit(ctx, k->name, value);
        n++;
    }
    explicit_bzero(value, sizeof(value)); /* may have held a secret */
    return n;
}

const struct cv_listen *cv_config_section_listen(const struct cv_config *cfg, const char *section)
{
    int sec = cv_config_section_find(section);
    int k = sec < 0 ? -1 : cv_config_key_index((enum cv_config_section)sec, "listen");
    if (k < 0 || cv_config_keys[k].type != CV_T_LISTEN)
        return NULL;
    return (const struct cv_listen *)((const char *)cfg + cv_config_keys[k].offset);
}

/* A consumer's section for --check-config: every key, secrets shown only as set or not. */
static void cv_config_print_section(const struct cv_config *cfg, int sec, FILE *fp)
{
    char value[CV_CONFIG_MAX_VALUE + 1];
    int col = 0;
    for (size_t i = 0; i < cv_config_key_count; i++) {
        const struct cv_config_key *k = &cv_config_keys[i];
        if ((int)k->section != sec)
            continue;
        cv_config_value_str(cfg, k, value, sizeof(value));
        if (k->type == CV_T_SECRET && value[0])
            snprintf(value, sizeof(value), "***");
        else if (k->type == CV_T_LISTEN && !value[0])
            snprintf(value, sizeof(value), "off");
        else if (k->type == CV_T_DURATION)
            snprintf(value + strlen(value), sizeof(value) - strlen(value), "ms");
        if (col == 0)
            col = fprintf(fp, "%-8s", cv_config_sections[sec].name);
        else if (col + (int)strlen(k->name) + (int)strlen(value) > 96)
            col = fprintf(fp, "\n%-8s", cv_config_sections[sec].name) - 1;
        col += fprintf(fp, " %s=%s", k->name, value[0] ? value : "none");
    }
    if (col)
        fprintf(fp, "\n");
    explicit_bzero(value, sizeof(value));
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
    for (int sec = 0; sec < CV_SEC_COUNT; sec++)
        if (cv_config_sections[sec].kind == CV_CONFIG_GLOBAL && sec != CV_SEC_SERVER)
            cv_config_print_section(cfg, sec, fp);
    fprintf(fp, "cameras  %zu\n", cfg->camera_count);
    for (size_t i = 0; i < cfg->camera_count; i++) {
        const struct cv_camera_config *c = &cfg->cameras[i];
        fprintf(fp,
                "camera   %s url=%s mode=%s idle_timeout=%ums transport=%s hwaccel=%s "
                "transcode_bitrate=%uk transcode_size=%ux%u ring_size=%s enabled=%s (%s:%d)\n",
                c->name, c->url_redacted, cv_config_mode_name(c->mode), c->idle_timeout_ms,
                cv_config_transport_name(c->transport), cv_config_hwaccel_name(c->hwaccel),
                c->transcode_kbps, c->transcode_size.width, c->transcode_size.height,
                cv_config_fmt_size(c->ring_size, a, sizeof(a)), c->enabled ? "yes" : "no", c->file,
                c->line);
    }
}
