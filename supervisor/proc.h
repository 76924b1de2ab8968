/*
 * Child processes of the supervisor: fork + exec with a fixed descriptor layout, privilege drop,
 * parent-death signal, and the restart policy (at once after a healthy run, else exponential
 * backoff with jitter, forever).
 *
 * The descriptor layout, the blocked SIGTERM and what a child does with them are the contract in
 * proto/child.h. Children get a clean environment: nothing of the supervisor's (where a
 * `${CAM_PW}` password may live) but the variables in cv_proc_env_keep.
 */
#ifndef CV_SUP_PROC_H
#define CV_SUP_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/child.h"

#define CV_PROC_HEALTHY_MS  3000u /* a run this long resets the backoff */
#define CV_PROC_BACKOFF_MIN 100u
#define CV_PROC_BACKOFF_MAX 30000u
#define CV_PROC_LOOP_DEATHS 5u /* quick deaths in a row before we call it a crash loop */

struct cv_proc_cred {
    bool drop; /* started as root: switch to uid/gid before exec */
    uid_t uid;
    gid_t gid;
};

struct cv_proc_spec {
    const char *path;  /* program to exec */
    const char *argv1; /* role shown by ps, e.g. the camera name; may be NULL */
    int ctl_fd;        /* child's end of the control socket (becomes fd 3) */
    int listen_fd;     /* becomes fd 4, or -1 */
    int udp_fd;        /* becomes fd 5, or -1 */
    const struct cv_proc_cred *cred;
};

/* Forks and execs. Returns the pid or a negative errno. The caller keeps ownership of its fds. */
pid_t cv_proc_spawn(const struct cv_proc_spec *spec);

/* Resolves the user to run children as. Returns 0 or a negative errno. */
int cv_proc_cred_lookup(const char *user, struct cv_proc_cred *out);

/*
 * Restart policy. quick_deaths counts consecutive deaths before CV_PROC_HEALTHY_MS of run time;
 * returns the delay before the next start, in milliseconds (0 = at once).
 */
uint32_t cv_proc_backoff_ms(uint32_t quick_deaths, uint32_t random);

/* "exit code 3" / "signal 9 (Killed)" into buf. */
const char *cv_proc_describe_status(int wstatus, char *buf, size_t len);

#endif
