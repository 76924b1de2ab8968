/* The consumer role table: see supervisor/roles.h. */
#include "supervisor/roles.h"

#include <stdio.h>

static const struct cv_listen *cv_rtsp_listen(const struct cv_config *cfg)
{
    return &cfg->rtsp_listen;
}

static void cv_rtsp_settings(const struct cv_config *cfg, struct cv_msg_catalogue *cat)
{
    snprintf(cat->username, sizeof(cat->username), "%s", cfg->rtsp_username);
    snprintf(cat->password, sizeof(cat->password), "%s", cfg->rtsp_password);
    cat->local_auth = cfg->rtsp_local_auth;
    snprintf(cat->default_query, sizeof(cat->default_query), "%s", cfg->rtsp_default_query);
    cat->max_conns = cfg->rtsp_limits.max_conns;
    cat->max_conns_per_client = cfg->rtsp_limits.max_conns_per_client;
    cat->request_timeout_ms = cfg->rtsp_limits.request_timeout_ms;
    cat->idle_timeout_ms = cfg->rtsp_limits.idle_timeout_ms;
}

const struct cv_role_def cv_roles[] = {
    {CV_ROLE_RTSP, "rtsp", "camvisor-rtsp", cv_rtsp_listen, cv_rtsp_settings},
};
const size_t cv_role_count = sizeof(cv_roles) / sizeof(cv_roles[0]);
