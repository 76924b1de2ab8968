/*
 * The consumer processes the supervisor runs: one row each. Adding a consumer is a row here, its
 * section's keys in its folder (consumers/<name>/config-keys.h) and its folder under consumers/;
 * naming, binding, starting, reaping, reloading, configuring and stopping them is the same code
 * for every row (supervisor/sup.c), which names no protocol.
 */
#ifndef CV_SUP_ROLES_H
#define CV_SUP_ROLES_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/msg.h"
#include "supervisor/config.h"

struct cv_role_def {
    enum cv_role role;   /* what its HELLO must say */
    const char *name;    /* "rtsp": its name in the log, its argv[1], "<name>.listen" to others */
    const char *program; /* "camvisor-rtsp", in the supervisor's own folder */
    /* Its section of camvisor.ini: its `listen` address (not enabled, empty `listen`, means the
     * process is not run; the socket is bound by the supervisor and handed over as fd 4, so a
     * restart refuses nobody) and its settings (CV_MSG_SETTINGS, at its start and each reload). */
    const char *section;
    /* It is sent every worker's status each second (CV_MSG_CAMERA_STATUS). */
    bool wants_status;
    /* It may add and remove cameras (STREAM_PUT/DELETE: go2rtc's PUT /api/streams). */
    bool edits_catalogue;
    /* It also gets a UDP socket bound to the same address, as fd 5 (WebRTC's media port). */
    bool udp;
    /* Another consumer it talks to directly: each gets one end of a socket pair (CV_MSG_PEER)
     * once both have said HELLO, and again after either restarts. CV_ROLE_SUPERVISOR: none. */
    enum cv_role peer;
};

extern const struct cv_role_def cv_roles[];
extern const size_t cv_role_count;

/* The row's listen address in cfg (never NULL: a row without one is a programming error that
 * the role table's unit test catches). */
const struct cv_listen *cv_role_listen(const struct cv_role_def *r, const struct cv_config *cfg);
/* Its settings message: its section's keys, and every other row's address as "<name>.listen". */
void cv_role_settings(const struct cv_role_def *r, const struct cv_config *cfg, struct cv_msg *m);
/* Whether rows a and b are each other's peers (either names the other). */
bool cv_role_peers(const struct cv_role_def *a, const struct cv_role_def *b);

#endif
