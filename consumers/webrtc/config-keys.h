/*
 * camvisor-webrtc's section of camvisor.ini, [webrtc] as in go2rtc, declared once next to the code
 * that uses it, like consumers/rtsp/config-keys.h (which says how the table is used): X(key, type,
 * member of struct cv_config, default or NULL). docs/config.md lists the keys.
 */
#ifndef CV_WEBRTC_CONFIG_KEYS_H
#define CV_WEBRTC_CONFIG_KEYS_H

#define CV_WEBRTC_CONFIG_KEYS(X)                                                                   \
    X("listen", LISTEN, webrtc_listen, "0.0.0.0:8555")                                             \
    X("candidates", TEXT, webrtc_candidates, NULL)                                                 \
    X("ice_servers", TEXT, webrtc_ice_servers, NULL)                                               \
    X("certificate", TEXT, webrtc_certificate, NULL)                                               \
    X("max_sessions", COUNT, webrtc_max_sessions, "100")                                           \
    X("max_sessions_per_client", COUNT, webrtc_max_sessions_per_client, "16")

#endif
