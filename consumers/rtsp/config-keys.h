/*
 * camvisor-rtsp's section of camvisor.ini, declared next to the code that uses it (nginx's habit:
 * every module its own directive table). The supervisor's reader includes this table and checks
 * these keys as strictly as its own (supervisor/config.c); the values reach camvisor-rtsp in
 * its rtsp_settings message (supervisor/roles.c). Header only: the supervisor links none of
 * camvisor-rtsp's code.
 *
 * X(key, type, member of struct cv_config) for every key of [rtsp]; docs/config.md lists them.
 */
#ifndef CV_RTSP_CONFIG_KEYS_H
#define CV_RTSP_CONFIG_KEYS_H

#include "supervisor/config.h"

#define CV_RTSP_CONFIG_KEYS(X)                                                                     \
    X("listen", CV_T_LISTEN, rtsp_listen)                                                          \
    X("username", CV_T_USER, rtsp_username)                                                        \
    X("password", CV_T_SECRET, rtsp_password)                                                      \
    X("local_auth", CV_T_BOOL, rtsp_local_auth)                                                    \
    X("default_query", CV_T_TOKEN, rtsp_default_query)                                             \
    X("max_connections", CV_T_COUNT, rtsp_limits.max_conns)                                        \
    X("max_connections_per_client", CV_T_COUNT, rtsp_limits.max_conns_per_client)                  \
    X("request_timeout", CV_T_DURATION, rtsp_limits.request_timeout_ms)                            \
    X("idle_timeout", CV_T_DURATION, rtsp_limits.idle_timeout_ms)

/* Its defaults: go2rtc's port, its default query, and the listener limits. */
static inline void cv_rtsp_config_defaults(struct cv_config *cfg)
{
    cfg->rtsp_listen = (struct cv_listen){"0.0.0.0", 8554, true};
    snprintf(cfg->rtsp_default_query, sizeof(cfg->rtsp_default_query), "video&audio");
    cfg->rtsp_limits = (struct cv_conn_limits){.max_conns = 512,
                                               .max_conns_per_client = 128,
                                               .request_timeout_ms = 10000,
                                               .idle_timeout_ms = 60000};
}

#endif
