/* The children's side of the supervisor contract: see proto/child.h. */
#include "proto/child.h"

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>

int cv_child_init(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

void cv_child_term_ready(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_UNBLOCK, &term, NULL);
}

void cv_child_term_taken(void)
{
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
}
