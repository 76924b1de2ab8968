/*
 * camvisor: the supervisor. Usage:
 *     camvisor -c etc/camvisor.ini              run
 *     camvisor --check-config -c etc/camvisor.ini   validate and exit (0 valid, 1 invalid)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/base/log.h"
#include "supervisor/config.h"
#include "supervisor/sup.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: camvisor [-c FILE] [--check-config]\n"
                 "  -c, --config FILE   global config (default etc/camvisor.ini);\n"
                 "                      cameras are read from cameras.d/ beside it\n"
                 "  --check-config      validate the config and exit\n");
}

/*
 * A shell's 1024 descriptors are few for a camera server: every camera holds a few in the
 * supervisor and in each consumer that watches it. The soft limit is raised towards the hard one,
 * up to the 65536 of etc/camvisor.service (more would only grow libwebsockets' per-descriptor
 * tables); children inherit it. A lower hard limit is kept, and the API refuses cameras past it.
 */
#define CV_MAIN_NOFILE 65536

static void cv_main_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= CV_MAIN_NOFILE ||
        rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= rl.rlim_max)
        return;
    rlim_t want =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > CV_MAIN_NOFILE ? CV_MAIN_NOFILE : rl.rlim_max;
    cv_info("file descriptors: %llu -> %llu", (unsigned long long)rl.rlim_cur,
            (unsigned long long)want);
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        cv_warn("cannot raise the descriptor limit: %s", strerror(errno));
}

int main(int argc, char **argv)
{
    const char *path = "etc/camvisor.ini";
    int check = 0;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) {
            path = argv[++i];
        } else if (!strcmp(argv[i], "--check-config")) {
            check = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    cv_log_init("camvisor", NULL);

    char err[4096] = "";
    struct cv_config *cfg = NULL;
    if (cv_config_load(path, &cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "camvisor: %s\n", err);
        return 1;
    }
    if (check) {
        cv_config_print_summary(cfg, stdout);
        printf("%s: OK\n", path);
        cv_config_free(cfg);
        return 0;
    }
    cv_log_set_level(cfg->log_level);
    cv_main_raise_nofile();

    struct cv_sup sup;
    int rc = cv_sup_init(&sup, path, cfg); /* sup owns cfg from here */
    if (rc == 0)
        rc = cv_sup_run(&sup);
    cv_sup_free(&sup);
    if (rc < 0) {
        cv_err("exiting: %s", strerror(-rc));
        return 1;
    }
    cv_info("stopped");
    return 0;
}
