/*
 * Supervisor event loop: starts and restarts children, brokers subscriptions (a consumer's
 * doorbell eventfd goes to the camera's worker, the camera's read-only ring goes back to the
 * consumer), starts on-demand cameras on first use and stops them after idle_timeout, reloads
 * config as a diff on SIGHUP and stops everything on SIGTERM.
 *
 * Nothing here blocks: control sockets are non-blocking SOCK_SEQPACKET (a send is all or
 * nothing, and our messages are small enough that a full socket means a stuck child).
 */
#include "supervisor/sup.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/base/clock.h"
#include "common/base/log.h"
#include "common/ring/ring.h"
#include "proto/chan.h"
#include "supervisor/roles.h"
#include "supervisor/variants.h"

#define CV_SUP_STOP_GRACE_MS 4000
#define CV_SUP_SILENT_MS     5000 /* a worker this long without a message is hung */
/*
 * A camera's worker starts at most once in this long, and never while the worker of a camera
 * of the same name that was just removed is still stopping: a burst of PUTs or DELETEs through
 * the API costs that camera one restart a second, whatever the rate, and nothing else.
 */
#define CV_SUP_WORKER_START_GAP_MS 1000
#define CV_SUP_TWIN_POLL_MS        100
/*
 * A consumer gets every camera's status with its settings and catalogue, so that the first
 * answer about a camera already has its source. That many fit the new socket with room to
 * spare (~1 KiB each of its 208 KiB); with more cameras they follow its hello instead.
 */
#define CV_SUP_START_STATUSES 64

static void cv_sup_child_start(struct cv_child *c);
static void cv_sup_status_send(struct cv_sup *sup, const struct cv_cam *cam, struct cv_child *to);
static void cv_sup_watchdog_cb(evutil_socket_t fd, short what, void *arg);
static void cv_sup_child_stop(struct cv_child *c);
static void cv_sup_ctl_cb(evutil_socket_t fd, short what, void *arg);
static void cv_sup_restart_cb(evutil_socket_t fd, short what, void *arg);

static const char *cv_child_name(const struct cv_child *c, char *buf, size_t len)
{
    if (c->def)
        snprintf(buf, len, "%s", c->def->name);
    else
        snprintf(buf, len, "worker %s", c->cam->cfg.name);
    return buf;
}

#define cv_sup_for_each_consumer(sup, c)                                                           \
    for (struct cv_child *c = (sup)->consumers; c < (sup)->consumers + cv_role_count; c++)

static uint32_t cv_sup_random(void)
{
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)cv_clock_mono_ns();
    return r;
}

/*
 * To a child, in order, whatever its socket can take now: the rest waits in c->out. A child
 * that leaves CV_CHAN_QUEUE messages unread is stuck; it is killed (and, like any death,
 * restarted with a fresh state) rather than sent an incomplete picture.
 */
static void cv_sup_send(struct cv_child *c, const struct cv_msg *m, const int *fds, int nfds)
{
    if (c->ctl < 0)
        return;
    char name[96];
    int rc = cv_chan_out_send(&c->out, c->ctl, m, fds, nfds);
    if (rc == 1) {
        event_add(c->wr_ev, NULL);
    } else if (rc == -ENOBUFS) {
        cv_err("%s: pid %d leaves %d control messages unread: stuck, killing it",
               cv_child_name(c, name, sizeof(name)), (int)c->pid, CV_CHAN_QUEUE);
        kill(c->pid, SIGKILL);
    } else if (rc < 0) { /* gone: its death is on the way */
        cv_warn("sending %s to %s failed: %s", cv_msg_type_name(m->type),
                cv_child_name(c, name, sizeof(name)), strerror(-rc));
    }
}

static void cv_sup_wr_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_child *c = arg;
    if (cv_chan_out_flush(&c->out, fd) != 1)
        event_del(c->wr_ev); /* all sent, or the child is gone (its death follows) */
}

/* ---- cameras ----------------------------------------------------------------------------- */

static struct cv_cam *cv_sup_cam_find(struct cv_sup *sup, const char *name)
{
    for (size_t i = 0; i < sup->cam_count; i++)
        if (!sup->cams[i]->removed && strcmp(sup->cams[i]->cfg.name, name) == 0)
            return sup->cams[i];
    return NULL;
}

static void cv_sup_idle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_cam *cam = arg;
    if (cam->demand == 0 && cam->cfg.mode == CV_MODE_ON_DEMAND && cam->worker.wanted) {
        cv_info("camera %s: idle for %u ms, stopping", cam->cfg.name, cam->cfg.idle_timeout_ms);
        cv_sup_child_stop(&cam->worker);
        /* Its ring goes too (the worker's mapping holds it until the worker is gone). The
         * next subscription makes a new one, of the size measured this time. */
        close(cam->ring_fd);
        cam->ring_fd = -1;
    }
}

static int cv_sup_ring_create(struct cv_cam *cam, uint64_t size, int *fd)
{
    int rc = cv_ring_create(cam->cfg.name, size & ~(uint64_t)63, CV_RING_DEFAULT_SLOTS, fd);
    if (rc < 0)
        cv_err("camera %s: cannot create a new %llu-byte ring: %s", cam->cfg.name,
               (unsigned long long)size, strerror(-rc));
    return rc;
}

static struct cv_cam *cv_sup_cam_new(struct cv_sup *sup, const struct cv_camera_config *cfg)
{
    struct cv_cam *cam = calloc(1, sizeof(*cam));
    if (!cam)
        return NULL;
    cam->cfg = *cfg;
    cam->ring_fd = -1;
    cam->pending_ring_fd = -1;
    for (int i = 0; i < CV_SUP_MAX_VARIANTS; i++)
        cam->variants[i].ring_fd = -1;
    /*
     * An auto ring starts at the default and is resized once the stream has been measured. An
     * on-demand camera gets its ring at its first subscription and gives it back when it goes
     * idle: 500 idle on-demand cameras once held 3 GiB of rings.
     */
    cam->ring_bytes =
        cfg->ring_size == CV_CONFIG_RING_AUTO ? CV_CONFIG_RING_DEFAULT : cfg->ring_size;
    if (cfg->mode == CV_MODE_ALWAYS &&
        cv_sup_ring_create(cam, cam->ring_bytes, &cam->ring_fd) < 0) {
        free(cam);
        return NULL;
    }
    cam->worker = (struct cv_child){.sup = sup, .role = CV_ROLE_WORKER, .cam = cam, .ctl = -1};
    cam->worker.timer = evtimer_new(sup->base, cv_sup_restart_cb, &cam->worker);
    cam->idle_ev = evtimer_new(sup->base, cv_sup_idle_cb, cam);
    struct cv_cam **arr = realloc(sup->cams, (sup->cam_count + 1) * sizeof(*arr));
    if (!arr || !cam->worker.timer || !cam->idle_ev) {
        if (arr)
            sup->cams = arr;
        if (cam->worker.timer)
            event_free(cam->worker.timer);
        if (cam->idle_ev)
            event_free(cam->idle_ev);
        if (cam->ring_fd >= 0)
            close(cam->ring_fd);
        free(cam);
        return NULL;
    }
    sup->cams = arr;
    sup->cams[sup->cam_count++] = cam;
    if (cfg->mode == CV_MODE_ALWAYS)
        cv_sup_child_start(&cam->worker);
    return cam;
}

static void cv_sup_variant_free(struct cv_variant_ring *v)
{
    if (v->ring_fd >= 0)
        close(v->ring_fd);
    if (v->stop_ev)
        event_free(v->stop_ev);
    *v = (struct cv_variant_ring){.ring_fd = -1};
}

static void cv_sup_cam_free(struct cv_sup *sup, struct cv_cam *cam)
{
    for (size_t i = 0; i < sup->cam_count; i++) {
        if (sup->cams[i] == cam) {
            sup->cams[i] = sup->cams[--sup->cam_count];
            break;
        }
    }
    event_free(cam->worker.timer);
    event_free(cam->idle_ev);
    if (cam->ring_fd >= 0)
        close(cam->ring_fd);
    if (cam->pending_ring_fd >= 0)
        close(cam->pending_ring_fd);
    for (int i = 0; i < CV_SUP_MAX_VARIANTS; i++)
        cv_sup_variant_free(&cam->variants[i]);
    free(cam);
}

/* ---- subscriptions ----------------------------------------------------------------------- */

static void cv_sup_demand(struct cv_cam *cam, int delta)
{
    cam->demand = (uint32_t)((int)cam->demand + delta);
    if (cam->cfg.mode != CV_MODE_ON_DEMAND)
        return;
    if (cam->demand > 0) {
        event_del(cam->idle_ev);
        if (!cam->worker.wanted)
            cv_sup_child_start(&cam->worker);
    } else {
        struct timeval tv = {cam->cfg.idle_timeout_ms / 1000,
                             (cam->cfg.idle_timeout_ms % 1000) * 1000};
        evtimer_add(cam->idle_ev, &tv);
    }
}

static void cv_sup_send_doorbell(struct cv_sub *s)
{
    struct cv_msg m = {.type = CV_MSG_DOORBELL_ADD};
    m.u.doorbell.id = s->bell_id;
    snprintf(m.u.doorbell.variant, sizeof(m.u.doorbell.variant), "%s",
             s->variant ? s->variant->name : CV_VARIANT_NATIVE);
    cv_sup_send(&s->cam->worker, &m, &s->efd, 1);
}

/* ---- variant rings ----------------------------------------------------------------------- */

static void cv_sup_variant_start(struct cv_cam *cam, struct cv_variant_ring *v)
{
    struct cv_msg m = {.type = CV_MSG_VARIANT_START};
    snprintf(m.u.variant.variant, sizeof(m.u.variant.variant), "%s", v->name);
    cv_sup_send(&cam->worker, &m, &v->ring_fd, 1);
}

static void cv_sup_variant_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_variant_ring *v = arg;
    if (v->demand > 0)
        return;
    struct cv_msg m = {.type = CV_MSG_VARIANT_STOP};
    snprintf(m.u.variant.variant, sizeof(m.u.variant.variant), "%s", v->name);
    cv_sup_send(&v->cam->worker, &m, NULL, 0);
    cv_info("camera %s: variant %s unused for %u ms, stopped", v->cam->cfg.name, v->name,
            CV_SUP_VARIANT_LINGER_MS);
    cv_sup_variant_free(v);
}

/*
 * A transcoding variant not running yet on cam, with [server] max_transcodes running already on
 * every camera together: refused (the consumer passes the reason on and falls back). One that
 * runs takes any number of viewers.
 */
static bool cv_sup_transcode_refused(const struct cv_sup *sup, const struct cv_cam *cam,
                                     const char *name, char *why, size_t why_len)
{
    if (!cv_variant_transcodes(&cam->cfg, name, cam->status.codecs))
        return false;
    uint32_t running = 0;
    for (size_t i = 0; i < sup->cam_count; i++) {
        const struct cv_cam *o = sup->cams[i];
        for (int k = 0; k < CV_SUP_MAX_VARIANTS; k++) {
            const struct cv_variant_ring *v = &o->variants[k];
            if (!v->name[0])
                continue;
            if (o == cam && strcmp(v->name, name) == 0)
                return false;
            running += cv_variant_transcodes(&o->cfg, v->name, o->status.codecs);
        }
    }
    if (running < sup->cfg->max_transcodes)
        return false;
    snprintf(why, why_len,
             "camvisor transcodes at most %u streams at once ([server] max_transcodes)",
             sup->cfg->max_transcodes);
    return true;
}

/* The ring of (cam, name), made (and its production started) at its first subscription. */
static struct cv_variant_ring *cv_sup_variant_get(struct cv_sup *sup, struct cv_cam *cam,
                                                  const char *name)
{
    struct cv_variant_ring *free_slot = NULL;
    int sized = 0;
    for (int i = 0; i < CV_SUP_MAX_VARIANTS; i++) {
        struct cv_variant_ring *v = &cam->variants[i];
        if (v->name[0] && strcmp(v->name, name) == 0)
            return v;
        if (!v->name[0] && !free_slot)
            free_slot = v;
        sized += v->name[0] && strchr(v->name, ':');
    }
    if (!free_slot || (strchr(name, ':') && sized >= CV_SUP_MAX_VARIANTS - CV_SUP_PLAIN_VARIANTS))
        return NULL;
    struct cv_variant_ring *v = free_slot;
    *v = (struct cv_variant_ring){.ring_fd = -1, .cam = cam};
    v->stop_ev = evtimer_new(sup->base, cv_sup_variant_stop_cb, v);
    if (!v->stop_ev ||
        cv_sup_ring_create(cam, cv_variant_ring_bytes(name, cam->ring_bytes), &v->ring_fd) < 0) {
        cv_sup_variant_free(v);
        return NULL;
    }
    snprintf(v->name, sizeof(v->name), "%s", name);
    cv_info("camera %s: variant %s wanted, starting it", cam->cfg.name, name);
    cv_sup_variant_start(cam, v); /* a worker not running yet gets it when it starts */
    return v;
}

static void cv_sup_variant_demand(struct cv_variant_ring *v, int delta)
{
    v->demand = (uint32_t)((int)v->demand + delta);
    if (v->demand > 0) {
        event_del(v->stop_ev);
        return;
    }
    struct timeval tv = {CV_SUP_VARIANT_LINGER_MS / 1000, (CV_SUP_VARIANT_LINGER_MS % 1000) * 1000};
    evtimer_add(v->stop_ev, &tv);
}

/* Unlinks and frees s; the worker forgets its doorbell. */
static void cv_sup_sub_drop(struct cv_sup *sup, struct cv_sub *s)
{
    for (struct cv_sub **pp = &sup->subs; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    struct cv_msg m = {.type = CV_MSG_DOORBELL_DEL};
    m.u.doorbell.id = s->bell_id;
    cv_sup_send(&s->cam->worker, &m, NULL, 0);
    if (s->variant)
        cv_sup_variant_demand(s->variant, -1);
    cv_sup_demand(s->cam, -1);
    close(s->efd);
    free(s);
}

static void cv_sup_reply_subscribed(struct cv_child *c, uint32_t sub_id, int status,
                                    const char *reason, int ring_fd)
{
    struct cv_msg m = {.type = CV_MSG_SUBSCRIBED};
    m.u.subscribed.sub_id = sub_id;
    m.u.subscribed.status = status;
    snprintf(m.u.subscribed.reason, sizeof(m.u.subscribed.reason), "%s", reason);
    cv_sup_send(c, &m, ring_fd >= 0 ? &ring_fd : NULL, ring_fd >= 0 ? 1 : 0);
}

/*
 * The ring hand-over: cam's ring becomes fd (size data bytes), and every subscription to cam is
 * moved onto it. A consumer takes the second SUBSCRIBED for a sub_id it already holds as "same
 * feed, new ring": its viewers stay and see a discontinuity. Takes fd.
 */
static void cv_sup_ring_adopt(struct cv_sup *sup, struct cv_cam *cam, int fd, uint64_t size)
{
    if (cam->ring_fd >= 0)
        close(cam->ring_fd);
    cam->ring_fd = fd;
    cam->ring_bytes = size;
    for (struct cv_sub *s = sup->subs; s; s = s->next) {
        if (s->cam != cam || s->variant)
            continue; /* a variant's subscribers are on the variant's ring */
        int ro = cv_ring_reopen_readonly(fd);
        if (ro < 0)
            continue; /* that consumer stays on the old ring until it resubscribes */
        cv_sup_reply_subscribed(s->consumer, s->sub_id, 0, "ring replaced", ro);
        close(ro);
    }
}

/* The worker found the ring unusable: a new one, for the worker's next start. */
static void cv_sup_ring_rebuild(struct cv_sup *sup, struct cv_cam *cam)
{
    int fd;
    if (cv_sup_ring_create(cam, cam->ring_bytes, &fd) < 0)
        return;
    cv_sup_ring_adopt(sup, cam, fd, cam->ring_bytes);
    cv_warn("camera %s: its ring was unusable: a new one, subscriptions moved onto it",
            cam->cfg.name);
}

/*
 * ring_size = auto. A new viewer starts at the newest keyframe in the ring, and that keyframe is
 * at most one GOP old: what instant start needs is one GOP, plus headroom for a GOP larger than
 * the mean and for a reader a little behind. So, once the stream has been measured (a few status
 * reports, at least two GOPs), the ring holds the largest GOP the worker reported, or one GOP
 * of the mean bitrate, whichever is more, plus 25 % (bench/gop_span.py: a constant-rate camera's
 * largest GOP is 1.03x its mean). A camera whose GOPs later grow (a VBR camera measured at night:
 * scene changes made 3x the mean in a test clip) is caught by the worker's report of its largest
 * recent GOP: past 90 % of the ring, the ring grows to twice that GOP. Until it has, a new viewer
 * may wait for the next keyframe; nothing else is lost.
 * Within the configured limits; the worker moves to the new ring live (CV_MSG_RING) and says when
 * it has; the consumers follow.
 */
#define CV_SUP_RING_GROW_GAP_MS 10000 /* between two growths of one camera's ring */

static uint64_t cv_sup_ring_round(uint64_t want)
{
    want = (want + 0xffff) & ~(uint64_t)0xffff;
    if (want < CV_CONFIG_RING_MIN)
        want = CV_CONFIG_RING_MIN;
    if (want > CV_CONFIG_RING_MAX)
        want = CV_CONFIG_RING_MAX;
    return want;
}

static void cv_sup_ring_move(struct cv_cam *cam, uint64_t want, const char *why)
{
    int fd;
    if (cv_sup_ring_create(cam, want, &fd) < 0)
        return;
    struct cv_msg m = {.type = CV_MSG_RING};
    m.u.ring.size = want;
    cam->pending_ring_fd = fd;
    cam->pending_ring_bytes = want;
    cam->ring_move_ms = cv_clock_mono_ms();
    cv_info("camera %s: %s: ring %llu KiB -> %llu KiB", cam->cfg.name, why,
            (unsigned long long)(cam->ring_bytes >> 10), (unsigned long long)(want >> 10));
    cv_sup_send(&cam->worker, &m, &fd, 1);
}

static void cv_sup_ring_measure(struct cv_cam *cam, const struct cv_msg_status *st)
{
    if (cam->cfg.ring_size != CV_CONFIG_RING_AUTO || cam->pending_ring_fd >= 0 ||
        st->state != CV_STATE_STREAMING || st->gop_ms == 0)
        return;
    char why[96];
    if (cam->ring_sized) {
        /* Growth only: a recent GOP took more than 90 % of the ring. */
        if ((uint64_t)st->gop_bytes * 10 <= cam->ring_bytes * 9 ||
            cv_clock_mono_ms() - cam->ring_move_ms < CV_SUP_RING_GROW_GAP_MS)
            return;
        uint64_t want = cv_sup_ring_round(2ull * st->gop_bytes);
        if (want <= cam->ring_bytes)
            return; /* at the configured limit already */
        snprintf(why, sizeof(why), "a GOP of %u KiB fills over 90 %% of it", st->gop_bytes >> 10);
        cv_sup_ring_move(cam, want, why);
        return;
    }
    cam->measured_bits += st->bitrate;
    cam->measured_reports++;
    if (st->gop_bytes > cam->measured_gop_max)
        cam->measured_gop_max = st->gop_bytes;
    if (cam->measured_reports < 3 || cam->measured_reports * 1000ull < 2ull * st->gop_ms)
        return;
    cam->ring_sized = true; /* sized; from now on it only grows */
    uint64_t bytes_per_s = cam->measured_bits / cam->measured_reports / 8;
    uint64_t gop = bytes_per_s * st->gop_ms / 1000;
    if (gop < cam->measured_gop_max)
        gop = cam->measured_gop_max;
    uint64_t want = cv_sup_ring_round(gop * 5 / 4); /* 1 GOP + 25 % */
    if (want <= cam->ring_bytes && want * 4 >= cam->ring_bytes * 3)
        return; /* within 25 % below: not worth a move */
    snprintf(why, sizeof(why), "%.2f Mbit/s, GOP %u ms", bytes_per_s * 8 / 1e6, st->gop_ms);
    cv_sup_ring_move(cam, want, why);
}

/* The worker writes into the pending ring now: it is the camera's ring. */
static void cv_sup_on_ring_moved(struct cv_sup *sup, struct cv_cam *cam)
{
    if (cam->pending_ring_fd < 0)
        return;
    int fd = cam->pending_ring_fd;
    cam->pending_ring_fd = -1;
    cv_sup_ring_adopt(sup, cam, fd, cam->pending_ring_bytes);
}

/* A worker gone mid-move: the move is off, and measuring starts again with the next one. */
static void cv_sup_ring_forget_pending(struct cv_cam *cam)
{
    if (cam->pending_ring_fd >= 0)
        close(cam->pending_ring_fd);
    cam->pending_ring_fd = -1;
    cam->ring_sized = false;
    cam->measured_bits = 0;
    cam->measured_reports = 0;
    cam->measured_gop_max = 0;
}

static void cv_sup_on_subscribe(struct cv_sup *sup, struct cv_child *c,
                                const struct cv_msg_subscribe *req, int efd)
{
    struct cv_cam *cam = cv_sup_cam_find(sup, req->camera);
    if (!cam) {
        cv_sup_reply_subscribed(c, req->sub_id, -ENOENT, "no such camera", -1);
        close(efd);
        return;
    }
    char why[128];
    int vrc = cv_variant_available(&cam->cfg, req->variant, why, sizeof(why));
    if (vrc < 0) {
        cv_sup_reply_subscribed(c, req->sub_id, vrc, why, -1);
        close(efd);
        return;
    }
    for (struct cv_sub *s = sup->subs; s; s = s->next) {
        if (s->consumer == c && s->sub_id == req->sub_id) {
            cv_sup_reply_subscribed(c, req->sub_id, -EEXIST, "subscription id in use", -1);
            close(efd);
            return;
        }
    }
    if (cam->ring_fd < 0 && cv_sup_ring_create(cam, cam->ring_bytes, &cam->ring_fd) < 0) {
        cv_sup_reply_subscribed(c, req->sub_id, -ENOMEM, "no memory for the camera's ring", -1);
        close(efd);
        return;
    }
    if (cv_sup_transcode_refused(sup, cam, req->variant, why, sizeof(why))) {
        cv_sup_reply_subscribed(c, req->sub_id, -EBUSY, why, -1);
        close(efd);
        return;
    }
    struct cv_variant_ring *v = NULL;
    if (strcmp(req->variant, CV_VARIANT_NATIVE) != 0 &&
        !(v = cv_sup_variant_get(sup, cam, req->variant))) {
        cv_sup_reply_subscribed(c, req->sub_id, -ENOMEM,
                                strchr(req->variant, ':') ? "no room for another picture size"
                                                          : "no room for another variant",
                                -1);
        close(efd);
        return;
    }
    int ro = cv_ring_reopen_readonly(v ? v->ring_fd : cam->ring_fd);
    struct cv_sub *s = ro >= 0 ? calloc(1, sizeof(*s)) : NULL;
    if (!s) {
        cv_err("camera %s: cannot subscribe: %s", cam->cfg.name,
               ro < 0 ? strerror(-ro) : "out of memory");
        cv_sup_reply_subscribed(c, req->sub_id, -ENOMEM, "internal error", -1);
        if (ro >= 0)
            close(ro);
        close(efd);
        return;
    }
    *s = (struct cv_sub){.next = sup->subs,
                         .consumer = c,
                         .cam = cam,
                         .sub_id = req->sub_id,
                         .bell_id = ++sup->next_bell,
                         .variant = v,
                         .efd = efd};
    if (v)
        cv_sup_variant_demand(v, +1);
    sup->subs = s;
    cv_sup_send_doorbell(s);
    cv_sup_reply_subscribed(c, req->sub_id, 0, "", ro);
    close(ro);
    cv_sup_demand(cam, +1);
}

static void cv_sup_on_unsubscribe(struct cv_sup *sup, struct cv_child *c, uint32_t sub_id)
{
    for (struct cv_sub *s = sup->subs; s; s = s->next) {
        if (s->consumer == c && s->sub_id == sub_id) {
            cv_sup_sub_drop(sup, s);
            return;
        }
    }
    /* Unknown ids are normal after a reload removed the camera. */
}

static void cv_sup_drop_subs_where(struct cv_sup *sup, struct cv_child *consumer,
                                   struct cv_cam *cam)
{
    struct cv_sub *s = sup->subs;
    while (s) {
        struct cv_sub *next = s->next;
        if ((consumer && s->consumer == consumer) || (cam && s->cam == cam))
            cv_sup_sub_drop(sup, s);
        s = next;
    }
}

/* ---- children ---------------------------------------------------------------------------- */

/*
 * Consumers that talk to each other (a row's peer: camvisor-http passes WebRTC offers to
 * camvisor-webrtc) get one end of a socket pair each, once both have said HELLO, and a new pair
 * whenever either restarts: the survivor's old end then reads EOF (its pending requests fail) and
 * a new one arrives. The supervisor keeps no end and reads none of what passes between them.
 */
static void cv_sup_connect_peers(struct cv_sup *sup, struct cv_child *c)
{
    cv_sup_for_each_consumer(sup, k) {
        if (k == c || k->pid <= 0 || !k->hello || !cv_role_peers(c->def, k->def))
            continue;
        int sv[2];
        int rc = cv_chan_pair(sv);
        if (rc < 0) {
            cv_err("%s and %s: socketpair: %s", c->def->name, k->def->name, strerror(-rc));
            continue;
        }
        struct cv_msg m = {.type = CV_MSG_PEER};
        m.u.peer.role = k->role;
        cv_sup_send(c, &m, &sv[0], 1);
        m.u.peer.role = c->role;
        cv_sup_send(k, &m, &sv[1], 1);
        close(sv[0]);
        close(sv[1]);
        cv_info("%s and %s: connected", c->def->name, k->def->name);
    }
}

/* Its own section of the configuration, to one consumer: at its start and on every reload. */
static void cv_sup_send_settings_to(struct cv_sup *sup, struct cv_child *c)
{
    struct cv_msg *m = &sup->scratch;
    memset(m, 0, sizeof(*m));
    cv_role_settings(c->def, sup->cfg, m);
    cv_sup_send(c, m, NULL, 0);
    explicit_bzero(m, sizeof(*m)); /* it held the consumer's password */
}

/* [server] max_cameras is at most this, so every camera fits one catalogue: no silent cut. */
_Static_assert(CV_CONFIG_CAMERAS_LIMIT <= CV_PROTO_MAX_CAMS,
               "a catalogue message must hold every camera the config allows");

/* Every camera with its state and codecs, to one consumer. */
static void cv_sup_send_catalogue_to(struct cv_sup *sup, struct cv_child *c)
{
    struct cv_msg *m = &sup->scratch; /* the catalogue is ~35 KiB: not on the stack */
    memset(m, 0, sizeof(*m));
    m->type = CV_MSG_CATALOGUE;
    struct cv_msg_catalogue *cat = &m->u.catalogue;
    for (size_t i = 0; i < sup->cam_count && cat->camera_count < CV_PROTO_MAX_CAMS; i++) {
        const struct cv_cam *cam = sup->cams[i];
        if (cam->removed)
            continue;
        struct cv_msg_camera_entry *e = &cat->cameras[cat->camera_count++];
        snprintf(e->name, sizeof(e->name), "%s", cam->cfg.name);
        e->state = cam->worker.pid > 0 ? cam->status.state : CV_STATE_STOPPED;
        snprintf(e->codecs, sizeof(e->codecs), "%s", cam->status.codecs);
        e->restarts = cam->worker.restarts;
    }
    cat->log_level = sup->cfg->log_level;
    cv_sup_send(c, m, NULL, 0);
}

static void cv_sup_send_catalogue(struct cv_sup *sup)
{
    cv_sup_for_each_consumer(sup, c) {
        cv_sup_send_catalogue_to(sup, c);
    }
}

static void cv_sup_on_worker_ready(struct cv_sup *sup, struct cv_child *c)
{
    struct cv_cam *cam = c->cam;
    struct cv_msg m = {.type = CV_MSG_CAMERA};
    snprintf(m.u.camera.name, sizeof(m.u.camera.name), "%s", cam->cfg.name);
    snprintf(m.u.camera.url, sizeof(m.u.camera.url), "%s", cam->cfg.url);
    m.u.camera.transport = cam->cfg.transport == CV_TRANSPORT_UDP;
    m.u.camera.ring_size = (uint32_t)cam->cfg.ring_size;
    m.u.camera.log_level = sup->cfg->log_level;
    m.u.camera.hwaccel = (uint32_t)cam->cfg.hwaccel;
    m.u.camera.transcode_kbps = cam->cfg.transcode_kbps;
    m.u.camera.transcode_w = cam->cfg.transcode_size.width;
    m.u.camera.transcode_h = cam->cfg.transcode_size.height;
    if (cam->ring_fd < 0 && cv_sup_ring_create(cam, cam->ring_bytes, &cam->ring_fd) < 0) {
        kill(c->pid, SIGKILL); /* nothing to run it on: it dies and restarts with backoff */
        return;
    }
    cv_sup_send(c, &m, &cam->ring_fd, 1);
    for (int i = 0; i < CV_SUP_MAX_VARIANTS; i++) /* before the doorbells that follow them */
        if (cam->variants[i].name[0])
            cv_sup_variant_start(cam, &cam->variants[i]);
    for (struct cv_sub *s = sup->subs; s; s = s->next)
        if (s->cam == cam)
            cv_sup_send_doorbell(s);
}

/* How long a worker must wait before it may start (CV_SUP_WORKER_START_GAP_MS); 0: now. */
static uint64_t cv_sup_worker_hold_ms(struct cv_sup *sup, const struct cv_child *c)
{
    uint64_t now = cv_clock_mono_ms(), hold = 0;
    const char *name = c->cam->cfg.name;
    for (size_t i = 0; i < sup->cam_count; i++) {
        const struct cv_cam *o = sup->cams[i];
        if (o == c->cam) {
            if (c->started_ms && c->started_ms + CV_SUP_WORKER_START_GAP_MS > now)
                hold = c->started_ms + CV_SUP_WORKER_START_GAP_MS - now;
        } else if (o->removed && strcmp(o->cfg.name, name) == 0 && o->worker.pid > 0) {
            /* Its twin, removed and still stopping: two workers of one camera at once. */
            uint64_t t = o->worker.started_ms + CV_SUP_WORKER_START_GAP_MS;
            uint64_t h = t > now ? t - now : CV_SUP_TWIN_POLL_MS;
            if (h > hold)
                hold = h < CV_SUP_TWIN_POLL_MS ? CV_SUP_TWIN_POLL_MS : h;
        }
    }
    return hold;
}

static void cv_sup_child_start(struct cv_child *c)
{
    struct cv_sup *sup = c->sup;
    char name[96], path[PATH_MAX + 32];
    cv_child_name(c, name, sizeof(name));
    c->wanted = true;
    if (c->pid > 0 || sup->stopping)
        return; /* already running (or restarting); the death handler restarts it */
    event_del(c->timer);
    uint64_t hold = c->def ? 0 : cv_sup_worker_hold_ms(sup, c);
    if (hold) { /* the timer starts it then, with the settings of that moment */
        struct timeval tv = {(time_t)(hold / 1000), (suseconds_t)(hold % 1000) * 1000};
        evtimer_add(c->timer, &tv);
        return;
    }

    int sv[2];
    int rc = cv_chan_pair(sv);
    if (rc < 0) {
        cv_err("%s: socketpair: %s", name, strerror(-rc));
        goto retry;
    }
    snprintf(path, sizeof(path), "%s/%s", sup->bindir,
             c->def ? c->def->program : "camvisor-worker");
    struct cv_proc_spec spec = {
        .path = path,
        .argv1 = c->def ? c->def->name : c->cam->cfg.name,
        .ctl_fd = sv[1],
        .listen_fd = c->def ? c->listen_fd : -1,
        .udp_fd = c->def ? c->udp_fd : -1,
        .cred = &sup->cred,
    };
    pid_t pid = cv_proc_spawn(&spec);
    close(sv[1]);
    if (pid < 0) {
        cv_err("%s: cannot start %s: %s", name, path, strerror((int)-pid));
        close(sv[0]);
        goto retry;
    }
    c->pid = pid;
    c->ctl = sv[0];
    c->hello = false;
    c->started_ms = c->heard_ms = cv_clock_mono_ms();
    c->ctl_ev = event_new(sup->base, c->ctl, EV_READ | EV_PERSIST, cv_sup_ctl_cb, c);
    c->wr_ev = event_new(sup->base, c->ctl, EV_WRITE | EV_PERSIST, cv_sup_wr_cb, c);
    event_add(c->ctl_ev, NULL);
    cv_info("%s: started pid %d", name, (int)pid);

    /* The socket is new and empty, so these sends cannot find it full. */
    if (c->def) {
        cv_sup_send_settings_to(sup, c);
        cv_sup_send_catalogue_to(sup, c);
        if (sup->cam_count <= CV_SUP_START_STATUSES) /* more wait for its hello */
            for (size_t i = 0; i < sup->cam_count; i++)
                cv_sup_status_send(sup, sup->cams[i], c);
    } else {
        cv_sup_on_worker_ready(sup, c);
    }
    return;

retry:;
    struct timeval tv = {1, 0};
    evtimer_add(c->timer, &tv);
}

static void cv_sup_restart_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_child *c = arg;
    char name[96];
    if (c->pid > 0 && c->termed) {
        /* Asked to stop CV_SUP_STOP_GRACE_MS ago: hung, or stopped (SIGSTOP) by someone. */
        cv_warn("%s: pid %d did not stop in time, killing", cv_child_name(c, name, sizeof(name)),
                (int)c->pid);
        kill(c->pid, SIGKILL);
    } else if (c->wanted) {
        cv_sup_child_start(c);
    }
}

/* Asks a running child to stop: SIGTERM, then SIGKILL if it is still there after the grace. */
static void cv_sup_child_term(struct cv_child *c)
{
    if (c->pid <= 0 || c->termed)
        return; /* asked already: its deadline is running */
    kill(c->pid, SIGTERM);
    c->termed = true;
    struct timeval tv = {CV_SUP_STOP_GRACE_MS / 1000, (CV_SUP_STOP_GRACE_MS % 1000) * 1000};
    evtimer_add(c->timer, &tv);
}

static void cv_sup_child_stop(struct cv_child *c)
{
    c->wanted = false;
    if (c->termed)
        return;          /* stopping already, its deadline armed */
    event_del(c->timer); /* a start to come */
    cv_sup_child_term(c);
}

static void cv_sup_child_close(struct cv_child *c)
{
    if (c->ctl_ev) {
        event_free(c->ctl_ev);
        c->ctl_ev = NULL;
    }
    if (c->wr_ev) {
        event_free(c->wr_ev);
        c->wr_ev = NULL;
    }
    cv_chan_out_clear(&c->out);
    if (c->ctl >= 0) {
        close(c->ctl);
        c->ctl = -1;
    }
}

static void cv_sup_on_death(struct cv_sup *sup, struct cv_child *c, int wstatus)
{
    char name[96], how[96];
    cv_child_name(c, name, sizeof(name));
    uint64_t ran = cv_clock_mono_ms() - c->started_ms;
    pid_t pid = c->pid;
    bool asked = c->termed; /* we sent it SIGTERM: a stop or a restart we wanted */
    c->pid = 0;
    c->termed = false;
    event_del(c->timer); /* a stop deadline */
    cv_sup_child_close(c);
    if (c->role != CV_ROLE_WORKER) {
        cv_sup_drop_subs_where(sup, c, NULL);
    } else {
        memset(&c->cam->status, 0, sizeof(c->cam->status)); /* the catalogue, below, says so */
        cv_sup_ring_forget_pending(c->cam);
    }

    cv_proc_describe_status(wstatus, how, sizeof(how));
    if (!c->wanted || sup->stopping) {
        cv_info("%s: pid %d stopped (%s)", name, (int)pid, how);
        if (c->role == CV_ROLE_WORKER && c->cam->removed)
            cv_sup_cam_free(sup, c->cam);
        return;
    }
    if (asked) {
        /* A changed camera: not a death, so no backoff and no restart count. */
        cv_info("%s: pid %d stopped (%s) to restart with new settings", name, (int)pid, how);
        struct timeval now = {0, 0};
        evtimer_add(c->timer, &now);
        return;
    }
    if (!c->def && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == CV_CHILD_EXIT_RING_BAD)
        cv_sup_ring_rebuild(sup, c->cam);
    c->quick_deaths = ran >= CV_PROC_HEALTHY_MS ? 0 : c->quick_deaths + 1;
    uint32_t delay = cv_proc_backoff_ms(c->quick_deaths, cv_sup_random());
    c->restarts++;
    if (c->quick_deaths >= CV_PROC_LOOP_DEATHS)
        cv_err("%s: pid %d died (%s) after %llu ms; crash loop, restart #%u in %u ms", name,
               (int)pid, how, (unsigned long long)ran, c->restarts, delay);
    else
        cv_warn("%s: pid %d died (%s) after %llu ms; restart #%u in %u ms", name, (int)pid, how,
                (unsigned long long)ran, c->restarts, delay);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    if (!c->def)
        cv_sup_send_catalogue(sup); /* its camera is stopped now, one restart more */
}

static struct cv_child *cv_sup_child_by_pid(struct cv_sup *sup, pid_t pid)
{
    cv_sup_for_each_consumer(sup, c) {
        if (c->pid == pid)
            return c;
    }
    for (size_t i = 0; i < sup->cam_count; i++)
        if (sup->cams[i]->worker.pid == pid)
            return &sup->cams[i]->worker;
    return NULL;
}

static bool cv_sup_any_running(struct cv_sup *sup)
{
    cv_sup_for_each_consumer(sup, c) {
        if (c->pid > 0)
            return true;
    }
    for (size_t i = 0; i < sup->cam_count; i++)
        if (sup->cams[i]->worker.pid > 0)
            return true;
    return false;
}

static void cv_sup_reap(struct cv_sup *sup)
{
    int wstatus;
    pid_t pid;
    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        struct cv_child *c = cv_sup_child_by_pid(sup, pid);
        if (c)
            cv_sup_on_death(sup, c, wstatus);
    }
    if (sup->stopping && !cv_sup_any_running(sup))
        event_base_loopbreak(sup->base);
}

/* ---- control messages -------------------------------------------------------------------- */

static void cv_sup_status_fill(const struct cv_cam *cam, struct cv_msg *m)
{
    const struct cv_msg_status *st = &cam->status;
    *m = (struct cv_msg){.type = CV_MSG_CAMERA_STATUS};
    struct cv_msg_camera_status *cs = &m->u.camera_status;
    snprintf(cs->camera, sizeof(cs->camera), "%s", cam->cfg.name);
    cs->state = cam->worker.pid > 0 ? st->state : CV_STATE_STOPPED;
    cs->fps_x100 = st->fps_x100;
    cs->bitrate = st->bitrate;
    cs->restarts = cam->worker.restarts;
    cs->frames = st->frames;
    snprintf(cs->codecs, sizeof(cs->codecs), "%s", st->codecs);
    snprintf(cs->error, sizeof(cs->error), "%s", st->error);
    cs->width = st->width;
    cs->height = st->height;
    cs->uptime_ms = st->uptime_ms;
    cs->bytes = st->bytes;
    snprintf(cs->source, sizeof(cs->source), "%s", cam->cfg.url_redacted);
    snprintf(cs->transcode, sizeof(cs->transcode), "%s", st->transcode);
    cs->encoders = st->encoders;
    cs->decoded = st->decoded;
    cs->xcode_skipped = st->xcode_skipped;
    cs->xcode_p50_us = st->xcode_p50_us;
    cs->xcode_p99_us = st->xcode_p99_us;
}

/*
 * A camera's status to the consumers that show it (to: one of them, or NULL for all). Besides
 * the worker's reports, the supervisor sends one when a camera is added or changed and to a
 * consumer that has just said hello: what a client reads of a camera (its source above all)
 * is there from the camera's first moment, not from its worker's first report a second or
 * more later.
 */
static void cv_sup_status_send(struct cv_sup *sup, const struct cv_cam *cam, struct cv_child *to)
{
    if (cam->removed)
        return; /* stopping: the consumers forgot it with the catalogue that left it out */
    struct cv_msg m;
    cv_sup_status_fill(cam, &m);
    cv_sup_for_each_consumer(sup, k) {
        if (k->def->wants_status && (!to || k == to))
            cv_sup_send(k, &m, NULL, 0);
    }
}

static void cv_sup_on_status(struct cv_child *c, const struct cv_msg_status *st)
{
    struct cv_cam *cam = c->cam;
    if (st->state != cam->status.state && st->state == CV_STATE_STREAMING)
        cv_info("camera %s: streaming %s at %.1f fps, %.2f Mbit/s", cam->cfg.name, st->codecs,
                st->fps_x100 / 100.0, st->bitrate / 1e6);
    bool changed = st->state != cam->status.state || strcmp(st->codecs, cam->status.codecs) != 0;
    cam->status = *st;
    cv_sup_ring_measure(cam, st);
    cv_sup_status_send(c->sup, cam, NULL);
    if (changed && !cam->removed) /* what the catalogue says of each camera: rare, sent whole */
        cv_sup_send_catalogue(c->sup);
}

/* A consumer's viewer needs a keyframe (an RTCP PLI/FIR, a new WebRTC peer): ask the worker. */
static void cv_sup_on_keyframe(struct cv_sup *sup, struct cv_child *c, uint32_t sub_id)
{
    for (struct cv_sub *s = sup->subs; s; s = s->next) {
        if (s->consumer == c && s->sub_id == sub_id) {
            struct cv_msg m = {.type = CV_MSG_KEYFRAME};
            if (s->variant)
                snprintf(m.u.keyframe.variant, sizeof(m.u.keyframe.variant), "%s",
                         s->variant->name);
            cv_sup_send(&s->cam->worker, &m, NULL, 0);
            return;
        }
    }
}

static int cv_sup_on_message(void *ctx, struct cv_msg *m, int *fds, int nfds)
{
    struct cv_child *c = ctx;
    struct cv_sup *sup = c->sup;
    char name[96];
    cv_child_name(c, name, sizeof(name));
    int used = 0;
    c->heard_ms = cv_clock_mono_ms();
    switch (m->type) {
    case CV_MSG_HELLO:
        if (m->u.hello.role != (uint32_t)c->role || m->u.hello.pid != (uint32_t)c->pid)
            cv_warn("%s: hello claims role %u pid %u", name, m->u.hello.role, m->u.hello.pid);
        c->hello = true;
        if (c->def)
            cv_sup_connect_peers(sup, c);
        /* Too many cameras for the statuses to go with its settings: it reads now. */
        if (c->def && c->def->wants_status && sup->cam_count > CV_SUP_START_STATUSES)
            for (size_t i = 0; i < sup->cam_count; i++)
                cv_sup_status_send(sup, sup->cams[i], c);
        break;
    case CV_MSG_STATUS:
        if (c->role == CV_ROLE_WORKER)
            cv_sup_on_status(c, &m->u.status);
        break;
    case CV_MSG_SUBSCRIBE:
        if (c->role != CV_ROLE_WORKER && nfds == 1) {
            cv_sup_on_subscribe(sup, c, &m->u.subscribe, fds[0]);
            used = 1;
        } else if (c->role != CV_ROLE_WORKER) {
            /* Its doorbell lost (this process at its descriptor limit): answered, so that the
             * consumer's feed is not left waiting for a ring. */
            cv_warn("%s: subscribe without its doorbell (out of descriptors?): refused", name);
            cv_sup_reply_subscribed(c, m->u.subscribe.sub_id, -EMFILE,
                                    "the supervisor is out of descriptors", -1);
        } else {
            cv_warn("%s: subscribe from a worker, ignored", name);
        }
        break;
    case CV_MSG_UNSUBSCRIBE:
        if (c->role != CV_ROLE_WORKER)
            cv_sup_on_unsubscribe(sup, c, m->u.unsubscribe.sub_id);
        break;
    case CV_MSG_KEYFRAME:
        if (c->role != CV_ROLE_WORKER)
            cv_sup_on_keyframe(sup, c, m->u.keyframe.sub_id);
        break;
    case CV_MSG_RING:
        if (c->role == CV_ROLE_WORKER)
            cv_sup_on_ring_moved(sup, c->cam);
        break;
    case CV_MSG_STREAM_PUT:
    case CV_MSG_STREAM_DELETE:
        if (c->def && c->def->edits_catalogue) {
            struct cv_msg r = {.type = CV_MSG_STREAM_RESULT};
            cv_sup_api_handle(sup, m, &r.u.stream_result);
            cv_sup_send(c, &r, NULL, 0);
        } else {
            cv_warn("%s: %s from a process that may not edit cameras, ignored", name,
                    cv_msg_type_name(m->type));
        }
        break;
    default: cv_warn("%s: unexpected %s message, ignored", name, cv_msg_type_name(m->type)); break;
    }
    return used;
}

static void cv_sup_ctl_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct cv_child *c = arg;
    char name[96];
    struct cv_msg m;
    /* A budget per wake-up: one chatty child cannot starve the others. */
    int rc = cv_chan_drain(fd, &m, cv_sup_on_message, c, 64, cv_child_name(c, name, sizeof(name)));
    if (rc < 0)
        cv_sup_child_close(c); /* closed: the process is exiting; SIGCHLD does the rest */
}

/* ---- listening sockets ------------------------------------------------------------------- */

/* A socket of type (SOCK_STREAM: listening; SOCK_DGRAM: a UDP port, for a row with udp) bound to
 * l. The fd, or a negative errno (logged). */
static int cv_sup_listen(const struct cv_listen *l, int type)
{
    const char *proto = type == SOCK_DGRAM ? "/udp" : "";
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = type,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", l->port);
    int rc = getaddrinfo(l->host[0] ? l->host : NULL, port, &hints, &res);
    if (rc != 0) {
        cv_err("listen %s:%u%s: %s", l->host, l->port, proto, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = socket(res->ai_family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (fd < 0 ||
        (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
        bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
        (type == SOCK_STREAM && listen(fd, 128) < 0)) {
        rc = -errno;
        cv_err("listen %s:%u%s: %s", l->host, l->port, proto, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return rc;
    }
    freeaddrinfo(res);
    return fd;
}

/* Binds what c's row asks for on l (nothing when l is off). 0 or a negative errno (logged). */
static int cv_sup_bind(struct cv_child *c, const struct cv_listen *l)
{
    if (!l->enabled)
        return 0;
    c->listen_fd = cv_sup_listen(l, SOCK_STREAM);
    if (c->listen_fd < 0)
        return c->listen_fd;
    if (c->def->udp && (c->udp_fd = cv_sup_listen(l, SOCK_DGRAM)) < 0) {
        int rc = c->udp_fd;
        close(c->listen_fd);
        c->listen_fd = c->udp_fd = -1;
        return rc;
    }
    return 0;
}

static void cv_sup_unbind(struct cv_child *c)
{
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->udp_fd >= 0)
        close(c->udp_fd);
    c->listen_fd = c->udp_fd = -1;
}

/* ---- reload ------------------------------------------------------------------------------ */

static void cv_sup_cam_remove(struct cv_sup *sup, struct cv_cam *cam)
{
    cv_info("camera %s: removed", cam->cfg.name);
    cam->removed = true;
    cv_sup_drop_subs_where(sup, NULL, cam);
    event_del(cam->idle_ev);
    cv_sup_child_stop(&cam->worker);
    if (cam->worker.pid == 0)
        cv_sup_cam_free(sup, cam);
}

int cv_sup_reload(struct cv_sup *sup, char *err, size_t errlen)
{
    struct cv_config *next = NULL;
    int rc = cv_config_load(sup->cfg_path, &next, err, errlen);
    if (rc < 0) {
        cv_err("reload failed, keeping the running config:");
        char copy[4096];
        snprintf(copy, sizeof(copy), "%s", err ? err : "");
        for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
            cv_err("  %s", line);
        return rc;
    }
    size_t added = 0, removed = 0, changed = 0;

    /* Removed or changed in a way the ring cannot survive. */
    for (size_t i = sup->cam_count; i-- > 0;) {
        struct cv_cam *cam = sup->cams[i];
        if (cam->removed)
            continue;
        const struct cv_camera_config *n = cv_config_camera_find(next, cam->cfg.name);
        if (!n || !n->enabled || n->ring_size != cam->cfg.ring_size) {
            cv_sup_cam_remove(sup, cam);
            removed++;
        }
    }
    for (size_t i = 0; i < next->camera_count; i++) {
        const struct cv_camera_config *n = &next->cameras[i];
        if (!n->enabled)
            continue;
        struct cv_cam *cam = cv_sup_cam_find(sup, n->name);
        if (!cam) {
            if ((cam = cv_sup_cam_new(sup, n))) {
                added++;
                cv_sup_status_send(sup, cam, NULL);
            }
            continue;
        }
        if (cv_config_camera_equal(&cam->cfg, n))
            continue; /* untouched: keeps streaming */
        changed++;
        cam->cfg = *n;
        cv_sup_status_send(sup, cam, NULL); /* its new source */
        cv_info("camera %s: changed, restarting its worker", n->name);
        bool want = n->mode == CV_MODE_ALWAYS || cam->demand > 0;
        if (cam->worker.pid > 0) {
            /* Its death handler restarts it at once with the new settings. */
            cam->worker.quick_deaths = 0;
            cam->worker.wanted = want;
            cv_sup_child_term(&cam->worker);
        } else if (want) {
            cv_sup_child_start(&cam->worker);
        }
        if (!want && cam->demand == 0)
            event_del(cam->idle_ev);
    }

    const struct cv_config *prev = sup->cfg;
    bool moved[CV_SUP_MAX_ROLES] = {false};
    cv_sup_for_each_consumer(sup, c) {
        const struct cv_listen *o = cv_role_listen(c->def, prev), *n = cv_role_listen(c->def, next);
        moved[c - sup->consumers] =
            strcmp(o->host, n->host) != 0 || o->port != n->port || o->enabled != n->enabled;
    }
    cv_config_free(sup->cfg);
    sup->cfg = next;
    cv_log_set_level(next->log_level);

    cv_sup_for_each_consumer(sup, c) {
        if (!moved[c - sup->consumers]) {
            cv_sup_send_settings_to(sup, c);
            cv_sup_send_catalogue_to(sup, c);
            continue;
        }
        cv_info("%s: listen address changed, restarting", c->def->name);
        cv_sup_child_stop(c);
        cv_sup_unbind(c);
        if (cv_sup_bind(c, cv_role_listen(c->def, next)) == 0 && c->listen_fd >= 0) {
            c->wanted = true; /* the death handler restarts it on the new socket */
            if (c->pid == 0)
                cv_sup_child_start(c);
        }
    }
    cv_info("reloaded: %zu added, %zu removed, %zu changed, %zu cameras", added, removed, changed,
            next->camera_count);
    return 0;
}

/* ---- signals and life cycle -------------------------------------------------------------- */

static void cv_sup_begin_stop(struct cv_sup *sup, const char *why)
{
    if (sup->stopping)
        return;
    cv_info("%s: stopping", why);
    sup->stopping = true;
    cv_sup_for_each_consumer(sup, c) {
        cv_sup_child_stop(c);
    }
    for (size_t i = 0; i < sup->cam_count; i++)
        cv_sup_child_stop(&sup->cams[i]->worker); /* each SIGKILLed if still there after 4 s */
    if (!cv_sup_any_running(sup))
        event_base_loopbreak(sup->base);
}

static void cv_sup_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct cv_sup *sup = arg;
    switch (sig) {
    case SIGCHLD: cv_sup_reap(sup); break;
    case SIGHUP:
        cv_info("SIGHUP: reloading %s", sup->cfg_path);
        char err[4096] = "";
        cv_sup_reload(sup, err, sizeof(err));
        break;
    case SIGTERM: cv_sup_begin_stop(sup, "SIGTERM"); break;
    case SIGINT: cv_sup_begin_stop(sup, "SIGINT"); break;
    }
}

int cv_sup_init(struct cv_sup *sup, const char *cfg_path, struct cv_config *cfg)
{
    memset(sup, 0, sizeof(*sup));
    sup->cfg = cfg;
    snprintf(sup->cfg_path, sizeof(sup->cfg_path), "%s", cfg_path);

    /* Children live beside us: build/camvisor next to build/camvisor-worker. */
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -errno;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash)
        *slash = '\0';
    memcpy(sup->bindir, self, sizeof(sup->bindir));

    int rc = cv_proc_cred_lookup(cfg->user, &sup->cred);
    if (rc < 0) {
        cv_err("[server] user = %s: no such user", cfg->user);
        return rc;
    }
    sup->base = event_base_new();
    if (!sup->base)
        return -ENOMEM;
    const int sigs[4] = {SIGCHLD, SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 4; i++) {
        sup->sig_ev[i] = evsignal_new(sup->base, sigs[i], cv_sup_signal_cb, sup);
        if (!sup->sig_ev[i] || evsignal_add(sup->sig_ev[i], NULL) < 0)
            return -ENOMEM;
    }
    signal(SIGPIPE, SIG_IGN);
    if (cv_role_count > CV_SUP_MAX_ROLES)
        return -E2BIG;
    cv_sup_for_each_consumer(sup, c) {
        const struct cv_role_def *def = &cv_roles[c - sup->consumers];
        *c = (struct cv_child){
            .sup = sup, .role = def->role, .def = def, .ctl = -1, .listen_fd = -1, .udp_fd = -1};
        c->timer = evtimer_new(sup->base, cv_sup_restart_cb, c);
        if (!c->timer)
            return -ENOMEM;
    }
    sup->watchdog_ev = event_new(sup->base, -1, EV_PERSIST, cv_sup_watchdog_cb, sup);
    if (!sup->watchdog_ev)
        return -ENOMEM;
    cv_sup_for_each_consumer(sup, c) {
        int brc = cv_sup_bind(c, cv_role_listen(c->def, cfg));
        if (brc < 0)
            return brc;
    }
    return 0;
}

/*
 * A worker reports its status every second. One silent for CV_SUP_SILENT_MS is hung (a
 * deadlock, a blocking call, SIGSTOP): its viewers see nothing and it will not recover by
 * itself, so it is killed and, like any death, restarted.
 */
static void cv_sup_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_sup *sup = arg;
    uint64_t now = cv_clock_mono_ms();
    for (size_t i = 0; i < sup->cam_count; i++) {
        struct cv_child *c = &sup->cams[i]->worker;
        if (c->pid <= 0 || c->termed || now - c->heard_ms < CV_SUP_SILENT_MS)
            continue;
        char name[96];
        cv_warn("%s: pid %d sent nothing for %llu ms (hung or stopped): killing it",
                cv_child_name(c, name, sizeof(name)), (int)c->pid,
                (unsigned long long)(now - c->heard_ms));
        kill(c->pid, SIGKILL);
        c->heard_ms = now; /* one line and one kill; the death handler takes it from here */
    }
}

int cv_sup_run(struct cv_sup *sup)
{
    for (size_t i = 0; i < sup->cfg->camera_count; i++) {
        const struct cv_camera_config *cc = &sup->cfg->cameras[i];
        if (!cc->enabled) {
            cv_info("camera %s: disabled", cc->name);
            continue;
        }
        if (!cv_sup_cam_new(sup, cc))
            return -ENOMEM;
    }
    cv_sup_for_each_consumer(sup, c) {
        if (c->listen_fd < 0)
            continue;
        const struct cv_listen *l = cv_role_listen(c->def, sup->cfg);
        cv_sup_child_start(c);
        cv_info("%s: listening on %s:%u", c->def->name, l->host[0] ? l->host : "0.0.0.0", l->port);
    }
    struct timeval second = {1, 0};
    event_add(sup->watchdog_ev, &second);
    event_base_dispatch(sup->base);
    return 0;
}

void cv_sup_free(struct cv_sup *sup)
{
    while (sup->subs) {
        struct cv_sub *s = sup->subs;
        sup->subs = s->next;
        close(s->efd);
        free(s);
    }
    while (sup->cam_count > 0) {
        struct cv_cam *cam = sup->cams[0];
        cv_sup_child_close(&cam->worker);
        cv_sup_cam_free(sup, cam);
    }
    free(sup->cams);
    cv_sup_for_each_consumer(sup, c) {
        cv_sup_child_close(c);
        if (c->timer)
            event_free(c->timer);
        cv_sup_unbind(c);
    }
    if (sup->watchdog_ev)
        event_free(sup->watchdog_ev);
    for (int i = 0; i < 4; i++)
        if (sup->sig_ev[i])
            event_free(sup->sig_ev[i]);
    if (sup->base)
        event_base_free(sup->base);
    cv_config_free(sup->cfg);
}
