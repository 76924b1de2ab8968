/* The consumer role table: see supervisor/roles.h. */
#include "supervisor/roles.h"

#include <stdio.h>

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

const struct cv_role_def cv_roles[] = {
    /* camvisor-rtsp wants the status to say why a camera is not there (503 X-Reason). */
    {CV_ROLE_RTSP, "rtsp", "camvisor-rtsp", cv_rtsp_listen, true, cv_rtsp_settings},
};
const size_t cv_role_count = sizeof(cv_roles) / sizeof(cv_roles[0]);
