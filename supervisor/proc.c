/*
 * fork + exec of camvisor's children. Everything between fork and exec is async-signal-safe
 * (the supervisor is single-threaded, but libevent or a library could have started a thread).
 *
 * Signals around fork: the supervisor's handlers are libevent's, which write the signal number
 * into a socketpair the supervisor reads. A child between fork and exec still has them, and
 * shares that socketpair: a SIGTERM sent to a just-forked child (a camera restarted twice in a
 * row) once ran the handler in the child, and the supervisor read "SIGTERM" and stopped the
 * whole house. So every signal is blocked across fork; the child puts each handler back to its
 * default before it unblocks anything, and keeps SIGTERM blocked through exec (proto/child.h):
 * whatever arrives before the program is ready stays pending for it.
 */
#include "supervisor/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int cv_proc_cred_lookup(const char *user, struct cv_proc_cred *out)
{
    memset(out, 0, sizeof(*out));
    if (geteuid() != 0)
        return 0; /* not root: children run as we do */
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
        return -ENOENT;
    if (res->pw_uid == 0)
        return 0; /* asked to stay root */
    out->drop = true;
    out->uid = res->pw_uid;
    out->gid = res->pw_gid;
    return 0;
}

/* Puts fd at position target in the child, clearing close-on-exec. */
static int cv_proc_place_fd(int fd, int target)
{
    if (fd == target)
        return fcntl(fd, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/*
 * What a child's environment keeps of ours: the locale and time zone (log time stamps) and the
 * sanitizers' options (tests). Nothing else: the supervisor's environment may hold a camera
 * password that a camera file names as ${CAM_PW}, and a child needs none of it.
 */
static bool cv_proc_env_keep(const char *entry)
{
    static const char *const keep[] = {"TZ=",           "LANG=",          "LC_",
                                       "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS="};
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        if (strncmp(entry, keep[i], strlen(keep[i])) == 0)
            return true;
    return false;
}

#define CV_PROC_ENV_MAX 32

/* The parent's handlers are no use to a child: each back to its default (SIG_IGN stays). */
static void cv_proc_reset_handlers(void)
{
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction sa;
        if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
            continue;
        if (sa.sa_handler == SIG_DFL || sa.sa_handler == SIG_IGN)
            continue;
        sa.sa_handler = SIG_DFL;
        sa.sa_flags = 0;
        sigaction(sig, &sa, NULL);
    }
}

/* Runs with every signal blocked (cv_proc_spawn). */
static _Noreturn void cv_proc_child(const struct cv_proc_spec *spec, pid_t parent,
                                    char *const *envp)
{
    cv_proc_reset_handlers();
    /* SIGPIPE was ignored by the supervisor; a child chooses for itself. */
    signal(SIGPIPE, SIG_DFL);
    /* Move our fds out of the way of 3, 4 and 5 before placing them. */
    int ctl = fcntl(spec->ctl_fd, F_DUPFD_CLOEXEC, 10);
    int lst = spec->listen_fd >= 0 ? fcntl(spec->listen_fd, F_DUPFD_CLOEXEC, 10) : -1;
    int udp = spec->udp_fd >= 0 ? fcntl(spec->udp_fd, F_DUPFD_CLOEXEC, 10) : -1;
    if (ctl < 0 || (spec->listen_fd >= 0 && lst < 0) || (spec->udp_fd >= 0 && udp < 0))
        _exit(126);
    if (cv_proc_place_fd(ctl, CV_CHILD_CTL_FD) < 0)
        _exit(126);
    if (lst >= 0 && cv_proc_place_fd(lst, CV_CHILD_LISTEN_FD) < 0)
        _exit(126);
    if (udp >= 0 && cv_proc_place_fd(udp, CV_CHILD_UDP_FD) < 0)
        _exit(126);

    if (spec->cred && spec->cred->drop) {
        if (setgroups(0, NULL) < 0 || setgid(spec->cred->gid) < 0 || setuid(spec->cred->uid) < 0)
            _exit(126);
    }
    /* After the uid change: changing credentials clears the parent-death signal. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        _exit(126);
    if (getppid() != parent)
        _exit(0); /* the supervisor died before we armed the signal */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit(126);
    /*
     * Our own process group: a terminal's Ctrl-C or timeout(1) signals the supervisor's group,
     * and the supervisor alone decides how its children stop.
     */
    setpgid(0, 0);

    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_SETMASK, &term, NULL);

    /* argv[0] is the bare program name, so ps reads "camvisor-worker front_door". */
    const char *base = strrchr(spec->path, '/');
    char *argv[3] = {(char *)(base ? base + 1 : spec->path), (char *)spec->argv1, NULL};
    execve(spec->path, argv, envp);
    _exit(127);
}

pid_t cv_proc_spawn(const struct cv_proc_spec *spec)
{
    pid_t parent = getpid();
    /* Built before fork: the child may only make async-signal-safe calls. */
    char *envp[CV_PROC_ENV_MAX + 1];
    size_t n = 0;
    for (char **e = environ; *e && n < CV_PROC_ENV_MAX; e++)
        if (cv_proc_env_keep(*e))
            envp[n++] = *e;
    envp[n] = NULL;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid_t pid = fork();
    if (pid == 0)
        cv_proc_child(spec, parent, envp);
    int err = errno;
    /* Ours again: what came meanwhile is delivered now, to the supervisor's handlers. */
    sigprocmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -err : pid;
}

uint32_t cv_proc_backoff_ms(uint32_t quick_deaths, uint32_t random)
{
    /*
     * The first quick death restarts at once (a camera killed by accident is back in well under
     * a second); then 100 ms doubling to 30 s, so a crash loop costs little and still retries.
     */
    if (quick_deaths <= 1)
        return 0;
    uint64_t d = CV_PROC_BACKOFF_MIN;
    for (uint32_t i = 2; i < quick_deaths && d < CV_PROC_BACKOFF_MAX; i++)
        d *= 2;
    if (d > CV_PROC_BACKOFF_MAX)
        d = CV_PROC_BACKOFF_MAX;
    /* ±25 % jitter so cameras that died together do not retry in lockstep. */
    uint64_t span = d / 2;
    d = d - d / 4 + (span ? random % (span + 1) : 0);
    return (uint32_t)(d > CV_PROC_BACKOFF_MAX ? CV_PROC_BACKOFF_MAX : d);
}

const char *cv_proc_describe_status(int wstatus, char *buf, size_t len)
{
    /* 126 and 127 are cv_proc_child's own exits, before the program ran. */
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127)
        snprintf(buf, len, "exit code 127: the program could not be executed");
    else if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 126)
        snprintf(buf, len, "exit code 126: descriptors or credentials could not be set up");
    else if (WIFEXITED(wstatus))
        snprintf(buf, len, "exit code %d", WEXITSTATUS(wstatus));
    else if (WIFSIGNALED(wstatus))
        snprintf(buf, len, "signal %d (%s)%s", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)),
                 WCOREDUMP(wstatus) ? ", core dumped" : "");
    else
        snprintf(buf, len, "status 0x%x", (unsigned)wstatus);
    return buf;
}
