/*
 * An output queue for a non-blocking stream socket: what the socket does not take now waits
 * here, bounded per queue and, through a shared budget, over all the queues of a process. The
 * one scheme for every consumer's client connections (camvisor-rtsp today, camvisor-http next):
 *
 *   cv_outq_writev()  writes what the socket takes at once (nothing when something waits: order)
 *                     and queues the rest; 1 means "queued: wait for writable and flush"
 *   cv_outq_flush()   on writable: 0 all out, 1 still waiting
 *
 * A queue over its own max or the budget's refuses (-ENOBUFS): the caller drops that client,
 * so one stalled viewer cannot hold the process's memory. since_ms tells how long it has been
 * behind, for "too slow for N s" decisions. Nothing here allocates once the buffer has grown to
 * what the client needs; the buffer is compacted before it grows.
 */
#ifndef CV_OUTQ_H
#define CV_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* Bytes queued over every queue that shares it, against max (0 = no limit). */
struct cv_outq_budget {
    size_t used, max;
};

struct cv_outq {
    uint8_t *buf; /* owned */
    size_t off, len, cap;
    size_t max;                    /* bytes this queue may hold */
    struct cv_outq_budget *budget; /* shared, not owned; may be NULL */
    uint64_t since_ms;             /* CLOCK_MONOTONIC ms when it last went from empty to not */
};

void cv_outq_init(struct cv_outq *q, size_t max, struct cv_outq_budget *budget);
static inline bool cv_outq_empty(const struct cv_outq *q)
{
    return q->off == q->len;
}
static inline size_t cv_outq_size(const struct cv_outq *q)
{
    return q->len - q->off;
}
/* 0 all written, 1 some queued, -ENOBUFS over a limit, or the socket's -errno. iov is consumed. */
int cv_outq_writev(struct cv_outq *q, int fd, struct iovec *iov, int iovcnt);
/* 0 empty now, 1 the socket is full again, or the socket's -errno. */
int cv_outq_flush(struct cv_outq *q, int fd);
/*
 * For a writer that is not a plain socket (camvisor-http writes through libwebsockets, one
 * message per writable callback): queues iov whole or not at all (-ENOBUFS over a limit,
 * -ENOMEM), without writing; the caller takes bytes from cv_outq_head() and says how many went
 * with cv_outq_consume(). The head pointer is valid until the next put.
 */
int cv_outq_put(struct cv_outq *q, const struct iovec *iov, int iovcnt);
static inline uint8_t *cv_outq_head(struct cv_outq *q)
{
    return q->buf + q->off;
}
void cv_outq_consume(struct cv_outq *q, size_t n);
/* Forgets what waits (the client is gone) and frees the buffer. */
void cv_outq_free(struct cv_outq *q);

#endif
