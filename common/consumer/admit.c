/* Admission: see common/consumer/admit.h. */
#include "common/consumer/admit.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <string.h>

#include "common/base/log.h"
#include "common/base/sockaddr.h"
#include "common/consumer/process.h"

/* ---- listener ------------------------------------------------------------------------------ */

static void cv_listener_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                                  int salen, void *arg)
{
    (void)l;
    struct cv_listener *li = arg;
    li->accept(li->ctx, fd, sa, (socklen_t)(salen > 0 ? salen : 0));
}

/* accept() failed for a reason other than a client that left (libevent filters those). Out of
 * descriptors (or memory), the listening socket stays readable: without a pause the loop would
 * spin on it at 100 % CPU. */
static void cv_listener_error_cb(struct evconnlistener *l, void *arg)
{
    struct cv_listener *li = arg;
    cv_warn("%s: cannot accept a client: %s (%u connections open); pausing %u ms", li->name,
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
            li->conn_count ? *li->conn_count : 0, li->pause_ms);
    evconnlistener_disable(l);
    struct timeval tv = {li->pause_ms / 1000, (li->pause_ms % 1000) * 1000};
    event_add(li->resume_ev, &tv);
}

static void cv_listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct cv_listener *li = arg;
    evconnlistener_enable(li->l);
}

int cv_listener_open(struct cv_listener *li, struct event_base *base, int fd, const char *name,
                     unsigned pause_ms, cv_listener_accept_fn accept, void *ctx)
{
    memset(li, 0, sizeof(*li));
    li->name = name;
    li->pause_ms = pause_ms;
    li->accept = accept;
    li->ctx = ctx;
    li->resume_ev = event_new(base, -1, 0, cv_listener_resume_cb, li);
    li->l = evconnlistener_new(base, cv_listener_accept_cb, li,
                               LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED, -1,
                               fd);
    if (!li->resume_ev || !li->l) {
        cv_err("%s: cannot listen (no listening socket on fd %d?)", name, fd);
        cv_listener_close(li);
        return -ENOMEM;
    }
    evconnlistener_set_error_cb(li->l, cv_listener_error_cb);
    return 0;
}

void cv_listener_enable(struct cv_listener *li)
{
    if (li->l)
        evconnlistener_enable(li->l);
}

void cv_listener_close(struct cv_listener *li)
{
    if (li->l)
        evconnlistener_free(li->l);
    if (li->resume_ev)
        event_free(li->resume_ev);
    li->l = NULL;
    li->resume_ev = NULL;
}

/* ---- connection limits ----------------------------------------------------------------------- */

const char *cv_admit_check(struct cv_consumer *p, const struct cv_admit_limits *lim,
                           uint32_t conn_count, uint32_t from_same_host)
{
    if (lim->max_conns && conn_count >= lim->max_conns)
        return "max_connections";
    if (lim->max_conns_per_client && from_same_host >= lim->max_conns_per_client)
        return "max_connections_per_client";
    /* Clients never take the descriptors the feeds need: a ring or doorbell arriving with
     * SCM_RIGHTS would be dropped by the kernel (common/consumer/feed.h). */
    if (!cv_feed_set_room(&p->feeds, 1, CV_FEED_FDS_SPARE))
        return "the descriptor limit";
    return NULL;
}

bool cv_admit_log_due(uint64_t *last_ms, uint64_t now_ms)
{
    if (*last_ms && now_ms - *last_ms < 1000)
        return false;
    *last_ms = now_ms;
    return true;
}

/* ---- login throttle -------------------------------------------------------------------------- */

void cv_throttle_init(struct cv_throttle *t, unsigned max_fails, uint64_t window_ms,
                      uint64_t lock_ms)
{
    memset(t, 0, sizeof(*t));
    t->max_fails = max_fails;
    t->window_ms = window_ms;
    t->lock_ms = lock_ms;
}

/* How much a row still matters: 0 when it can go (empty, or its window and lock are over), then
 * by its count of failures, a locked row above any other. */
static uint64_t cv_throttle_weight(const struct cv_throttle *t, const struct cv_throttle_row *r,
                                   uint64_t now)
{
    if (r->locked_until_ms > now)
        return UINT64_MAX;
    if (!r->fails || now - r->window_start_ms > t->window_ms)
        return 0;
    return r->fails;
}

static struct cv_throttle_row *cv_throttle_find(const struct cv_throttle *t,
                                                const struct sockaddr_storage *addr)
{
    for (unsigned i = 0; i < CV_THROTTLE_ROWS; i++)
        if (t->rows[i].fails && cv_sockaddr_same_host(&t->rows[i].addr, addr))
            return (struct cv_throttle_row *)&t->rows[i];
    return NULL;
}

uint64_t cv_throttle_locked(const struct cv_throttle *t, const struct sockaddr_storage *addr,
                            uint64_t now_ms)
{
    const struct cv_throttle_row *r = cv_throttle_find(t, addr);
    if (!r)
        r = &t->overflow; /* an address without a row: locked while the shared row is */
    return r->locked_until_ms > now_ms ? r->locked_until_ms - now_ms : 0;
}

enum cv_throttle_result cv_throttle_fail(struct cv_throttle *t, const struct sockaddr_storage *addr,
                                         uint64_t now_ms, unsigned *fails)
{
    struct cv_throttle_row *r = cv_throttle_find(t, addr);
    if (!r) {
        struct cv_throttle_row *victim = NULL;
        uint64_t victim_w = UINT64_MAX;
        for (unsigned i = 0; i < CV_THROTTLE_ROWS; i++) {
            struct cv_throttle_row *v = &t->rows[i];
            uint64_t w = cv_throttle_weight(t, v, now_ms);
            if (!victim || w < victim_w ||
                (w == victim_w && v->window_start_ms < victim->window_start_ms)) {
                victim = v;
                victim_w = w;
            }
        }
        if (victim_w == UINT64_MAX) {
            r = &t->overflow;
        } else {
            *victim = (struct cv_throttle_row){.addr = *addr, .window_start_ms = now_ms};
            cv_sockaddr_set_port(&victim->addr, 0);
            r = victim;
        }
    }
    if (now_ms - r->window_start_ms > t->window_ms) {
        r->window_start_ms = now_ms;
        r->fails = 0;
    }
    r->fails++;
    if (fails)
        *fails = r->fails;
    if (r->fails < t->max_fails)
        return CV_THROTTLE_COUNTED;
    /* Every failure at or over the limit extends the lock: a guesser gains nothing by going on. */
    bool first = r->locked_until_ms <= now_ms;
    r->locked_until_ms = now_ms + t->lock_ms;
    if (!first)
        return CV_THROTTLE_COUNTED;
    return r == &t->overflow ? CV_THROTTLE_LOCKED_SHARED : CV_THROTTLE_LOCKED_NOW;
}

int cv_admit_conn_events(struct event_base *base, int fd, void (*rd)(int, short, void *),
                         void (*wr)(int, short, void *), void *arg, struct event **rd_ev,
                         struct event **wr_ev)
{
    *rd_ev = event_new(base, fd, EV_READ | EV_PERSIST, rd, arg);
    *wr_ev = event_new(base, fd, EV_WRITE | EV_PERSIST, wr, arg);
    if (!*rd_ev || !*wr_ev || event_add(*rd_ev, NULL) < 0) {
        if (*rd_ev)
            event_free(*rd_ev);
        if (*wr_ev)
            event_free(*wr_ev);
        *rd_ev = *wr_ev = NULL;
        return -ENOMEM;
    }
    return 0;
}
