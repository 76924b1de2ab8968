/*
 * Admission, the same for every consumer's listener (camvisor-rtsp, camvisor-http, and the next):
 *
 *   cv_listener_*   accepting on the supervisor's socket (fd 4) with libevent; out of
 *                   descriptors, accepting pauses a moment (clients wait in the kernel's
 *                   backlog) instead of spinning on a socket that stays readable
 *   cv_admit_check  whether one more client may come in: max_connections, per client address,
 *                   and the descriptors the feeds' rings need (common/consumer/feed.h)
 *   cv_throttle_*   the login throttle: bad credentials counted per address; at the limit the
 *                   address is locked out for a while
 *
 * The throttle's table is bounded. A new address takes a row that no longer matters, else the
 * one with the fewest failures (the oldest among equals), never a locked one: an attacker's
 * decoys, one bad guess each from other addresses, evict each other, never the address they are
 * meant to set free. When every row is locked, the failures of addresses without a row are
 * counted together in one shared row, and once it locks, every address without a row is locked
 * out until it expires: an attacker with more addresses than rows can then keep newcomers out for
 * a while, but never guess unthrottled.
 *
 * Ownership: plain data inside the consumer's server struct; the listener owns its libevent
 * objects (and fd 4 once opened: LEV_OPT_CLOSE_ON_FREE).
 */
#ifndef CV_CONSUMER_ADMIT_H
#define CV_CONSUMER_ADMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct event;
struct event_base;
struct evconnlistener;
struct cv_consumer;

/* ---- listener ------------------------------------------------------------------------------ */

typedef void (*cv_listener_accept_fn)(void *ctx, int fd, const struct sockaddr *sa,
                                      socklen_t salen);

struct cv_listener {
    struct evconnlistener *l; /* owned */
    struct event *resume_ev;  /* owned */
    const char *name;         /* for the log */
    unsigned pause_ms;
    const uint32_t *conn_count; /* the consumer's, for the log; may be NULL */
    cv_listener_accept_fn accept;
    void *ctx;
};

/* Listens on fd (already bound and listening), disabled until cv_listener_enable(). 0 or
 * -ENOMEM (logged). */
int cv_listener_open(struct cv_listener *li, struct event_base *base, int fd, const char *name,
                     unsigned pause_ms, cv_listener_accept_fn accept, void *ctx);
void cv_listener_enable(struct cv_listener *li);
void cv_listener_close(struct cv_listener *li);

/* ---- connection limits ----------------------------------------------------------------------- */

struct cv_admit_limits {
    uint32_t max_conns;            /* 0 = no limit */
    uint32_t max_conns_per_client; /* 0 = no limit */
};

/* NULL when a client with `from_same_host` connections open may come in, else why not
 * ("max_connections", "max_connections_per_client", "the descriptor limit"). */
const char *cv_admit_check(struct cv_consumer *p, const struct cv_admit_limits *lim,
                           uint32_t conn_count, uint32_t from_same_host);
/* A refusal worth logging now: at most one line a second per *last_ms (a flood of refusals must
 * not become a flood of logs). */
bool cv_admit_log_due(uint64_t *last_ms, uint64_t now_ms);

/*
 * An accepted connection's two events on fd, both persistent: read (added now) and write (added
 * by the caller when it has something queued). 0, or -ENOMEM with neither made (fd untouched).
 */
struct event;
struct event_base;
int cv_admit_conn_events(struct event_base *base, int fd, void (*rd)(int, short, void *),
                         void (*wr)(int, short, void *), void *arg, struct event **rd_ev,
                         struct event **wr_ev);

/* ---- login throttle -------------------------------------------------------------------------- */

#define CV_THROTTLE_ROWS 64

struct cv_throttle_row {
    struct sockaddr_storage addr; /* port zeroed */
    unsigned fails;
    uint64_t window_start_ms, locked_until_ms;
};

struct cv_throttle {
    unsigned max_fails; /* within window_ms: locked out */
    uint64_t window_ms, lock_ms;
    struct cv_throttle_row rows[CV_THROTTLE_ROWS], overflow;
};

void cv_throttle_init(struct cv_throttle *t, unsigned max_fails, uint64_t window_ms,
                      uint64_t lock_ms);
/* How long addr stays locked out (ms), 0 if it is not. */
uint64_t cv_throttle_locked(const struct cv_throttle *t, const struct sockaddr_storage *addr,
                            uint64_t now_ms);

enum cv_throttle_result {
    CV_THROTTLE_COUNTED,       /* one more failure, not locked */
    CV_THROTTLE_LOCKED_NOW,    /* this failure locked the address out */
    CV_THROTTLE_LOCKED_SHARED, /* it locked the shared row: every address without a row */
};
/* Counts one bad login from addr; *fails (may be NULL) gets its count in the window. */
enum cv_throttle_result cv_throttle_fail(struct cv_throttle *t, const struct sockaddr_storage *addr,
                                         uint64_t now_ms, unsigned *fails);

#endif
