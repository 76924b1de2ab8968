/*
 * The output queue every consumer's connections use (common/base/outq.c), on a real socket pair
 * with a small buffer: written at once while the socket takes it, queued in order after, bounded
 * per queue and by the process's budget, flushed when the reader catches up.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/outq.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
}

static void test_order_and_flush(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct cv_outq_budget budget = {.max = 1 << 20};
    struct cv_outq q;
    cv_outq_init(&q, 512 << 10, &budget);
    static uint8_t data[256 << 10], got[256 << 10];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 7);
    size_t sent = 0, chunk = 1000;
    int queued_once = 0;
    while (sent < sizeof(data)) { /* many small writes, like one frame's packets */
        size_t n = sizeof(data) - sent < chunk ? sizeof(data) - sent : chunk;
        struct iovec iov = {data + sent, n};
        int rc = cv_outq_writev(&q, sv[0], &iov, 1);
        assert_true(rc == 0 || rc == 1);
        queued_once |= rc == 1;
        sent += n;
    }
    assert_true(queued_once);
    assert_int_equal(budget.used, cv_outq_size(&q));
    assert_true(q.since_ms > 0);
    size_t have = 0;
    while (have < sizeof(got)) {
        ssize_t r = read(sv[1], got + have, sizeof(got) - have);
        if (r > 0)
            have += (size_t)r;
        int f = cv_outq_flush(&q, sv[0]);
        assert_true(f == 0 || f == 1);
    }
    assert_memory_equal(data, got, sizeof(data)); /* in order, nothing lost or doubled */
    assert_true(cv_outq_empty(&q));
    assert_int_equal(budget.used, 0);
    cv_outq_free(&q);
    close(sv[0]);
    close(sv[1]);
}

static void test_limits(void **state)
{
    (void)state;
    int sv[2];
    pair(sv);
    struct cv_outq_budget budget = {.max = 96 << 10};
    struct cv_outq a, b;
    cv_outq_init(&a, 64 << 10, &budget);
    cv_outq_init(&b, 64 << 10, &budget);
    static uint8_t blob[200 << 10];
    /* Fill the socket, then queue up to the queue's own max. */
    struct iovec iov = {blob, sizeof(blob)};
    assert_int_equal(cv_outq_writev(&a, sv[0], &iov, 1), -ENOBUFS);
    cv_outq_free(&a);
    assert_int_equal(budget.used, 0); /* a dropped client gives its bytes back */
    cv_outq_init(&a, 64 << 10, &budget);
    struct iovec small = {blob, 60 << 10};
    assert_true(cv_outq_writev(&a, sv[0], &small, 1) >= 0);
    assert_true(budget.used <= 60 << 10);
    /* A second queue on the same budget: refused once the process total would pass 96 KiB. */
    int sv2[2];
    pair(sv2);
    struct iovec fill = {blob, 200 << 10};
    int rc = cv_outq_writev(&b, sv2[0], &fill, 1);
    assert_int_equal(rc, -ENOBUFS);
    cv_outq_free(&a);
    cv_outq_free(&b);
    assert_int_equal(budget.used, 0);
    close(sv[0]);
    close(sv[1]);
    close(sv2[0]);
    close(sv2[1]);
}

/* Records for a writer that is not a socket (camvisor-http): whole or nothing, in order. */
static void test_put_consume(void **state)
{
    (void)state;
    struct cv_outq_budget budget = {.max = 100};
    struct cv_outq q;
    cv_outq_init(&q, 64, &budget);
    char a[10] = "0123456789", b[30];
    memset(b, 'b', sizeof(b));
    struct iovec v[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
    assert_int_equal(cv_outq_put(&q, v, 2), 0);
    assert_int_equal(cv_outq_size(&q), 40);
    assert_int_equal(budget.used, 40);
    /* 40 + 40 > 64: refused whole, nothing of it queued. */
    assert_int_equal(cv_outq_put(&q, v, 2), -ENOBUFS);
    assert_int_equal(cv_outq_size(&q), 40);
    assert_memory_equal(cv_outq_head(&q), a, 10);
    cv_outq_consume(&q, 10);
    assert_int_equal(budget.used, 30);
    assert_int_equal(cv_outq_head(&q)[0], 'b');
    cv_outq_consume(&q, 1000); /* more than there is: all of it */
    assert_true(cv_outq_empty(&q));
    assert_int_equal(budget.used, 0);
    assert_int_equal(cv_outq_put(&q, v, 1), 0);
    assert_memory_equal(cv_outq_head(&q), a, 10);
    cv_outq_free(&q);
    assert_int_equal(budget.used, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_flush),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_put_consume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
