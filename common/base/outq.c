/* Output queues for non-blocking stream sockets: see common/base/outq.h. */
#include "common/base/outq.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/base/clock.h"

void cv_outq_init(struct cv_outq *q, size_t max, struct cv_outq_budget *budget)
{
    *q = (struct cv_outq){.max = max, .budget = budget};
}

static bool cv_outq_fits(const struct cv_outq *q, size_t n)
{
    return cv_outq_size(q) + n <= q->max &&
           !(q->budget && q->budget->max && q->budget->used + n > q->budget->max);
}

static int cv_outq_add(struct cv_outq *q, const void *p, size_t n)
{
    if (!cv_outq_fits(q, n))
        return -ENOBUFS;
    if (cv_outq_empty(q)) {
        q->off = q->len = 0;
        q->since_ms = cv_clock_mono_ms();
    }
    if (q->len + n > q->cap && q->off > 0) { /* compact first; grow only if that is not enough */
        memmove(q->buf, q->buf + q->off, q->len - q->off);
        q->len -= q->off;
        q->off = 0;
    }
    if (q->len + n > q->cap) {
        size_t cap = q->cap ? q->cap : 65536;
        while (cap < q->len + n)
            cap *= 2;
        uint8_t *b = realloc(q->buf, cap);
        if (!b)
            return -ENOMEM;
        q->buf = b;
        q->cap = cap;
    }
    memcpy(q->buf + q->len, p, n);
    q->len += n;
    if (q->budget)
        q->budget->used += n;
    return 0;
}

static void cv_outq_sent(struct cv_outq *q, size_t n)
{
    q->off += n;
    if (q->budget)
        q->budget->used -= n;
}

int cv_outq_writev(struct cv_outq *q, int fd, struct iovec *iov, int iovcnt)
{
    while (cv_outq_empty(q) && iovcnt > 0) {
        int batch = iovcnt > IOV_MAX ? IOV_MAX : iovcnt;
        ssize_t n = writev(fd, iov, batch);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                break;
            return -errno;
        }
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) { /* step past what went out */
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0 && n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
            break; /* the socket is full */
        }
    }
    bool queued = false;
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        int rc = cv_outq_add(q, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0)
            return rc;
        queued = true;
    }
    return queued ? 1 : 0;
}

int cv_outq_flush(struct cv_outq *q, int fd)
{
    while (!cv_outq_empty(q)) {
        ssize_t n = write(fd, q->buf + q->off, q->len - q->off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 1;
            return -errno;
        }
        cv_outq_sent(q, (size_t)n);
    }
    q->off = q->len = 0;
    return 0;
}

int cv_outq_put(struct cv_outq *q, const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (!cv_outq_fits(q, total))
        return -ENOBUFS;
    size_t before = cv_outq_size(q);
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len == 0)
            continue;
        int rc = cv_outq_add(q, iov[i].iov_base, iov[i].iov_len);
        if (rc < 0) { /* out of memory half way: take back what went in (compaction kept it) */
            if (q->budget)
                q->budget->used -= cv_outq_size(q) - before;
            q->len = q->off + before;
            return rc;
        }
    }
    return 0;
}

void cv_outq_consume(struct cv_outq *q, size_t n)
{
    if (n > cv_outq_size(q))
        n = cv_outq_size(q);
    cv_outq_sent(q, n);
    if (cv_outq_empty(q))
        q->off = q->len = 0;
}

void cv_outq_free(struct cv_outq *q)
{
    if (q->budget)
        q->budget->used -= cv_outq_size(q);
    free(q->buf);
    *q = (struct cv_outq){0};
}
