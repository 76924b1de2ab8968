/*
 * The supervisor's state: the running config generation, one entry per camera (its ring, its
 * worker, who subscribes to it), the consumer processes, and the subscriptions that connect them.
 * It does no media work and parses no network input; every message from a child is untrusted.
 */
#ifndef CV_SUP_H
#define CV_SUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/chan.h"
#include "proto/msg.h"
#include "supervisor/config.h"
#include "supervisor/proc.h"

struct event;
struct event_base;
struct cv_sup;
struct cv_cam;
struct cv_role_def;

#define CV_SUP_MAX_ROLES 8

/* One supervised child process slot, which outlives the processes that fill it. */
struct cv_child {
    struct cv_sup *sup;
    enum cv_role role;
    struct cv_cam *cam;            /* workers: the camera (not owned); NULL for consumers */
    const struct cv_role_def *def; /* consumers: their row of cv_roles; NULL for workers */
    int listen_fd;                 /* consumers: their listening socket, owned; -1 if none */
    int udp_fd;                    /* consumers whose row asks: a UDP socket, owned; -1 if none */
    pid_t pid;                     /* 0 when not running */
    int ctl;                       /* our end of its control socket, owned; -1 when not running */
    struct event *ctl_ev;          /* owned */
    struct event *wr_ev;           /* owned: waits for the socket to take what out holds */
    struct cv_chan_out out;        /* messages it has not read yet: never dropped (proto/chan.h) */
    struct event *timer;           /* owned: restart backoff, or the deadline after a SIGTERM */
    uint64_t started_ms;
    uint64_t heard_ms; /* its last message (or its start): workers report every second */
    uint32_t quick_deaths;
    uint32_t restarts;
    bool wanted; /* should run; cleared before we stop it on purpose */
    bool hello;  /* it has introduced itself */
    bool termed; /* sent SIGTERM: SIGKILL when the timer fires first */
};

/*
 * A (camera, variant) ring other than the camera's own, while someone subscribes to it. Made at
 * the first subscription; the worker is told to produce it; a few seconds after the last
 * subscription goes, the worker is told to stop and the ring is freed.
 */
struct cv_variant_ring {
    char name[CV_VARIANT_MAX]; /* "" = free slot */
    int ring_fd;               /* read-write memfd, owned */
    uint32_t demand;           /* its subscriptions */
    struct event *stop_ev;     /* owned: the linger after the last one leaves */
    struct cv_cam *cam;        /* back pointer for stop_ev */
};

#define CV_SUP_MAX_VARIANTS 8
/* Slots sized variants (jpeg:WxH) may not take: four MJPEG clients of four sizes once took every
 * slot, and the camera's plain snapshot (Home Assistant's thumbnail) got 503. */
#define CV_SUP_PLAIN_VARIANTS    2
#define CV_SUP_VARIANT_LINGER_MS 3000 /* a variant lives on this long after its last viewer */

struct cv_cam {
    struct cv_camera_config cfg; /* copy from the generation that created or changed it */
    int ring_fd;                 /* read-write memfd, owned */
    uint64_t ring_bytes;         /* its data size, as created (a broken header is not asked) */
    int pending_ring_fd;         /* owned: the ring the worker is moving to, or -1 */
    uint64_t pending_ring_bytes;
    bool ring_sized;        /* ring_size = auto: measured; from then on it only grows */
    uint64_t ring_move_ms;  /* when the last move was asked for */
    uint64_t measured_bits; /* ... sum of the reported bitrates so far */
    uint32_t measured_reports;
    uint32_t measured_gop_max; /* ... the largest GOP reported so far, bytes */
    struct cv_child worker;
    uint32_t demand;             /* live subscriptions */
    struct event *idle_ev;       /* owned: on-demand stop timer */
    struct cv_msg_status status; /* last report from the worker */
    bool removed;
    struct cv_variant_ring variants[CV_SUP_MAX_VARIANTS];
};

struct cv_sub {
    struct cv_sub *next;
    struct cv_child *consumer;       /* not owned */
    struct cv_cam *cam;              /* not owned */
    uint32_t sub_id;                 /* chosen by the consumer */
    uint32_t bell_id;                /* chosen by us, names the doorbell to the worker */
    struct cv_variant_ring *variant; /* not owned: NULL for the camera's own ring */
    int efd;                         /* the consumer's doorbell eventfd, owned */
};

struct cv_sup {
    struct event_base *base; /* owned */
    struct cv_config *cfg;   /* current generation, owned */
    char cfg_path[1024];
    char bindir[PATH_MAX];
    struct cv_proc_cred cred;
    struct cv_cam **cams; /* owned array of owned cameras */
    size_t cam_count;
    struct cv_child consumers[CV_SUP_MAX_ROLES]; /* one per row of cv_roles, in its order */
    struct cv_sub *subs;                         /* owned list */
    uint32_t next_bell;
    bool stopping;
    struct event *sig_ev[4];   /* owned */
    struct event *watchdog_ev; /* owned: finds workers that stopped reporting */
    struct cv_msg scratch;     /* one outgoing catalogue at a time (17 KiB) */
};

int cv_sup_init(struct cv_sup *sup, const char *cfg_path, struct cv_config *cfg);
/* Loads the configuration again and applies the difference (SIGHUP, the API). 0, or the
 * loader's error with every problem in err (the running configuration is kept). */
int cv_sup_reload(struct cv_sup *sup, char *err, size_t errlen);
/* supervisor/api.c: a STREAM_PUT or STREAM_DELETE from camvisor-http, answered in r. */
void cv_sup_api_handle(struct cv_sup *sup, const struct cv_msg *m, struct cv_msg_stream_result *r);
int cv_sup_run(struct cv_sup *sup);
void cv_sup_free(struct cv_sup *sup);

#endif
