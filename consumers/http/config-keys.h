/*
 * camvisor-http's section of camvisor.ini, [api] as in go2rtc, declared next to the code that
 * uses it (like consumers/rtsp/config-keys.h). The supervisor's reader includes this table and
 * checks the keys as strictly as its own; the values reach camvisor-http in its http_settings
 * message (supervisor/roles.c). Header only.
 *
 * X(key, type, member of struct cv_config) for every key of [api]; docs/config.md lists them.
 */
#ifndef CV_HTTP_CONFIG_KEYS_H
#define CV_HTTP_CONFIG_KEYS_H

#include <stdio.h>

#include "supervisor/config.h"

#define CV_HTTP_CONFIG_KEYS(X)                                                                     \
    X("listen", CV_T_LISTEN, api_listen)                                                           \
    X("username", CV_T_USER, api_username)                                                         \
    X("password", CV_T_SECRET, api_password)                                                       \
    X("token", CV_T_SECRET, api_token)                                                             \
    X("local_auth", CV_T_BOOL, api_local_auth)                                                     \
    X("allow_write", CV_T_BOOL, api_allow_write)                                                   \
    X("origin", CV_T_TOKEN, api_origin)                                                            \
    X("base_path", CV_T_PATH, api_base_path)                                                       \
    X("static_dir", CV_T_PATH, api_static_dir)                                                     \
    X("media_dir", CV_T_PATH, api_media_dir)                                                       \
    X("max_connections", CV_T_COUNT, api_limits.max_conns)                                         \
    X("max_connections_per_client", CV_T_COUNT, api_limits.max_conns_per_client)                   \
    X("request_timeout", CV_T_DURATION, api_limits.request_timeout_ms)                             \
    X("idle_timeout", CV_T_DURATION, api_limits.idle_timeout_ms)

/* go2rtc's port and its permissive defaults (writes allowed, loopback trusted), plus limits. */
static inline void cv_http_config_defaults(struct cv_config *cfg)
{
    cfg->api_listen = (struct cv_listen){"0.0.0.0", 1984, true};
    cfg->api_allow_write = true;
    cfg->api_limits = (struct cv_conn_limits){.max_conns = 1024,
                                              .max_conns_per_client = 128,
                                              .request_timeout_ms = 10000,
                                              .idle_timeout_ms = 60000};
}

#endif
