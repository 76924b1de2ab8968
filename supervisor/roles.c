/* The consumer role table: see supervisor/roles.h. */
#include "supervisor/roles.h"

#include <stdio.h>
#include <string.h>

const struct cv_role_def cv_roles[] = {
    /* camvisor-rtsp wants the status to say why a camera is not there (503 X-Reason). */
    {CV_ROLE_RTSP, "rtsp", "camvisor-rtsp", "rtsp", true, false, false, CV_ROLE_SUPERVISOR},
    /* camvisor-http shows every camera's figures (the UI, /api/cameras, /metrics). */
    {CV_ROLE_HTTP, "http", "camvisor-http", "api", true, true, false, CV_ROLE_SUPERVISOR},
    /* camvisor-webrtc: media on a UDP port of its own; offers come from camvisor-http. */
    {CV_ROLE_WEBRTC, "webrtc", "camvisor-webrtc", "webrtc", false, false, true, CV_ROLE_HTTP},
};
const size_t cv_role_count = sizeof(cv_roles) / sizeof(cv_roles[0]);

static const struct cv_listen cv_role_off = {"", 0, false};

const struct cv_listen *cv_role_listen(const struct cv_role_def *r, const struct cv_config *cfg)
{
    const struct cv_listen *l = cv_config_section_listen(cfg, r->section);
    return l ? l : &cv_role_off;
}

static void cv_role_add(void *ctx, const char *key, const char *value)
{
    struct cv_msg_settings *set = ctx;
    if (set->count >= CV_PROTO_MAX_SETTINGS || strlen(key) >= CV_PROTO_SETTING_KEY ||
        strlen(value) >= CV_PROTO_SETTING_VALUE)
        return; /* cannot happen with today's tables: tests/unit/test_config.c checks */
    struct cv_msg_setting *it = &set->items[set->count++];
    memcpy(it->key, key, strlen(key) + 1);
    memcpy(it->value, value, strlen(value) + 1);
}

void cv_role_settings(const struct cv_role_def *r, const struct cv_config *cfg, struct cv_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->type = CV_MSG_SETTINGS;
    struct cv_msg_settings *set = &m->u.settings;
    cv_config_section_values(cfg, r->section, cv_role_add, set);
    for (size_t i = 0; i < cv_role_count; i++) {
        if (&cv_roles[i] == r)
            continue;
        char key[CV_PROTO_SETTING_KEY], addr[96];
        snprintf(key, sizeof(key), "%s.listen", cv_roles[i].name);
        cv_config_listen_str(cv_role_listen(&cv_roles[i], cfg), addr, sizeof(addr));
        cv_role_add(set, key, addr);
    }
}

bool cv_role_peers(const struct cv_role_def *a, const struct cv_role_def *b)
{
    return a != b && ((a->peer != CV_ROLE_SUPERVISOR && a->peer == b->role) ||
                      (b->peer != CV_ROLE_SUPERVISOR && b->peer == a->role));
}
