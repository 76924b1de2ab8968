/*
 * camvisor-rtsp's section of camvisor.ini, declared once, next to the code that uses it (nginx's
 * habit: every module its own directive table): X(key, type, member of the supervisor's
 * struct cv_config, default as it would be written in the file, or NULL for none).
 *
 * The supervisor's reader turns this table into rows of its key table (CV_T_<type>) and checks
 * the keys as strictly as its own, applies the defaults through the same parser, and sends the
 * section to camvisor-rtsp as text (CV_MSG_SETTINGS, supervisor/roles.c), which reads it into its
 * own struct (consumers/rtsp/main.c). Pure data: it includes nothing, and the supervisor links
 * none of camvisor-rtsp's code. docs/config.md lists the keys.
 */
#ifndef CV_RTSP_CONFIG_KEYS_H
#define CV_RTSP_CONFIG_KEYS_H

#define CV_RTSP_CONFIG_KEYS(X)                                                                     \
    X("listen", LISTEN, rtsp_listen, "0.0.0.0:8554")                                               \
    X("username", USER, rtsp_username, NULL)                                                       \
    X("password", SECRET, rtsp_password, NULL)                                                     \
    X("local_auth", BOOL, rtsp_local_auth, "false")                                                \
    X("default_query", TOKEN, rtsp_default_query, "video&audio")                                   \
    X("max_connections", COUNT, rtsp_limits.max_conns, "512")                                      \
    X("max_connections_per_client", COUNT, rtsp_limits.max_conns_per_client, "128")                \
    X("request_timeout", DURATION, rtsp_limits.request_timeout_ms, "10s")                          \
    X("idle_timeout", DURATION, rtsp_limits.idle_timeout_ms, "60s")

#endif
