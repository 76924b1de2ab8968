/* The consumer role table: see supervisor/roles.h. */
#include "supervisor/roles.h"

#include <stdio.h>
#include <string.h>

static const struct cv_listen *cv_rtsp_listen(const struct cv_config *cfg)
{
    return &cfg->rtsp_listen;
}

static void cv_rtsp_settings(const struct cv_config *cfg, struct cv_msg *m)
{
    m->type = CV_MSG_RTSP_SETTINGS;
    struct cv_msg_rtsp_settings *set = &m->u.rtsp_settings;
    snprintf(set->username, sizeof(set->username), "%s", cfg->rtsp_username);
    snprintf(set->password, sizeof(set->password), "%s", cfg->rtsp_password);
    set->local_auth = cfg->rtsp_local_auth;
    snprintf(set->default_query, sizeof(set->default_query), "%s", cfg->rtsp_default_query);
    set->max_conns = cfg->rtsp_limits.max_conns;
    set->max_conns_per_client = cfg->rtsp_limits.max_conns_per_client;
    set->request_timeout_ms = cfg->rtsp_limits.request_timeout_ms;
    set->idle_timeout_ms = cfg->rtsp_limits.idle_timeout_ms;
}

static const struct cv_listen *cv_http_listen(const struct cv_config *cfg)
{
    return &cfg->api_listen;
}

static void cv_http_settings(const struct cv_config *cfg, struct cv_msg *m)
{
    m->type = CV_MSG_HTTP_SETTINGS;
    struct cv_msg_http_settings *set = &m->u.http_settings;
    snprintf(set->username, sizeof(set->username), "%s", cfg->api_username);
    snprintf(set->password, sizeof(set->password), "%s", cfg->api_password);
    snprintf(set->token, sizeof(set->token), "%s", cfg->api_token);
    set->local_auth = cfg->api_local_auth;
    set->allow_write = cfg->api_allow_write;
    snprintf(set->origin, sizeof(set->origin), "%s", cfg->api_origin);
    snprintf(set->base_path, sizeof(set->base_path), "%s", cfg->api_base_path);
    snprintf(set->static_dir, sizeof(set->static_dir), "%s", cfg->api_static_dir);
    set->rtsp_port = cfg->rtsp_listen.enabled ? cfg->rtsp_listen.port : 0;
    if (cfg->rtsp_listen.enabled)
        snprintf(set->rtsp_listen, sizeof(set->rtsp_listen),
                 strchr(cfg->rtsp_listen.host, ':') ? "[%s]:%u" : "%s:%u", cfg->rtsp_listen.host,
                 cfg->rtsp_listen.port);
    set->max_conns = cfg->api_limits.max_conns;
    set->max_conns_per_client = cfg->api_limits.max_conns_per_client;
    set->request_timeout_ms = cfg->api_limits.request_timeout_ms;
    set->idle_timeout_ms = cfg->api_limits.idle_timeout_ms;
}

const struct cv_role_def cv_roles[] = {
    /* camvisor-rtsp wants the status to say why a camera is not there (503 X-Reason). */
    {CV_ROLE_RTSP, "rtsp", "camvisor-rtsp", cv_rtsp_listen, true, cv_rtsp_settings, false},
    /* camvisor-http shows every camera's figures (the UI, /api/cameras, /metrics). */
    {CV_ROLE_HTTP, "http", "camvisor-http", cv_http_listen, true, cv_http_settings, true},
};
const size_t cv_role_count = sizeof(cv_roles) / sizeof(cv_roles[0]);
