/*
 * camvisor-http's section of camvisor.ini, [api] as in go2rtc, declared once next to the code
 * that uses it, like consumers/rtsp/config-keys.h (which says how the table is used): X(key,
 * type, member of struct cv_config, default or NULL). docs/config.md lists the keys.
 */
#ifndef CV_HTTP_CONFIG_KEYS_H
#define CV_HTTP_CONFIG_KEYS_H

/* go2rtc's port and its permissive defaults (writes allowed, loopback trusted), plus limits. */
#define CV_HTTP_CONFIG_KEYS(X)                                                                     \
    X("listen", LISTEN, api_listen, "0.0.0.0:1984")                                                \
    X("username", USER, api_username, NULL)                                                        \
    X("password", SECRET, api_password, NULL)                                                      \
    X("token", SECRET, api_token, NULL)                                                            \
    X("local_auth", BOOL, api_local_auth, "false")                                                 \
    X("allow_write", BOOL, api_allow_write, "true")                                                \
    X("origin", TOKEN, api_origin, NULL)                                                           \
    X("base_path", PATH, api_base_path, NULL)                                                      \
    X("static_dir", PATH, api_static_dir, NULL)                                                    \
    X("media_dir", PATH, api_media_dir, NULL)                                                      \
    X("max_connections", COUNT, api_limits.max_conns, "1024")                                      \
    X("max_connections_per_client", COUNT, api_limits.max_conns_per_client, "128")                 \
    X("request_timeout", DURATION, api_limits.request_timeout_ms, "10s")                           \
    X("idle_timeout", DURATION, api_limits.idle_timeout_ms, "60s")

#endif
