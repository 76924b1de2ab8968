/*
 * The consumer processes the supervisor runs: one row each. Adding camvisor-http or
 * camvisor-webrtc is a row here (and its folder under consumers/); naming, starting, reaping,
 * reloading and stopping them is the same code for every row (supervisor/sup.c).
 */
#ifndef CV_SUP_ROLES_H
#define CV_SUP_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/msg.h"
#include "supervisor/config.h"

struct cv_role_def {
    enum cv_role role;   /* what its HELLO must say */
    const char *name;    /* "rtsp": its name in the log and its argv[1] */
    const char *program; /* "camvisor-rtsp", in the supervisor's own folder */
    /* The address it serves; not enabled (empty `listen`) means the process is not run. Its
     * socket is bound by the supervisor and handed over as fd 4, so a restart refuses nobody. */
    const struct cv_listen *(*listen)(const struct cv_config *cfg);
    /* It is sent every worker's status each second (CV_MSG_CAMERA_STATUS). */
    bool wants_status;
    /* Its settings message (its section's keys), sent at its start and on every reload. */
    void (*settings)(const struct cv_config *cfg, struct cv_msg *m);
    /* It may add and remove cameras (STREAM_PUT/DELETE: go2rtc's PUT /api/streams). */
    bool edits_catalogue;
};

extern const struct cv_role_def cv_roles[];
extern const size_t cv_role_count;

#endif
