/*
 * The logger's rate limit: a line repeated past CV_LOG_BURST times in one second is held back
 * and counted, and the count is written once that second is over; other lines are not affected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/base/log.h"

/* Runs fn with stderr going to a file; returns what it wrote (caller frees). */
static char *capture(void (*fn)(void))
{
    FILE *tmp = tmpfile();
    assert_non_null(tmp);
    int saved = dup(STDERR_FILENO);
    dup2(fileno(tmp), STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    long n = ftell(tmp) > 0 ? ftell(tmp) : lseek(fileno(tmp), 0, SEEK_END);
    char *out = calloc(1, (size_t)n + 1);
    assert_non_null(out);
    assert_int_equal(pread(fileno(tmp), out, (size_t)n, 0), n);
    fclose(tmp);
    return out;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Waits for the start of a new wallclock second, so the burst falls inside one. */
static void second_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t s = ts.tv_sec;
    do
        clock_gettime(CLOCK_REALTIME, &ts);
    while (ts.tv_sec == s);
}

static void flood(void)
{
    second_start();
    for (int i = 0; i < 500; i++)
        cv_warn("peer %d: bad packet", i);
    cv_warn("a different line");
    second_start();
    cv_warn("peer %d: bad packet", 1000);
}

static void test_repeated_line_is_held_back(void **state)
{
    (void)state;
    cv_log_init("test", NULL);
    char *out = capture(flood);
    /* 20 of the 500, then the one of the next second. */
    assert_int_equal(count(out, ": bad packet"), 21);
    assert_int_equal(count(out, "a different line"), 1);
    assert_non_null(strstr(out, "(480 more lines like the next one held back)\n"));
    assert_non_null(strstr(out, "peer 1000: bad packet"));
    free(out);
}

static void few(void)
{
    for (int i = 0; i < 10; i++)
        cv_info("line %d", i);
}

static void test_few_lines_all_written(void **state)
{
    (void)state;
    char *out = capture(few);
    assert_int_equal(count(out, "line "), 10);
    assert_null(strstr(out, "held back"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repeated_line_is_held_back),
        cmocka_unit_test(test_few_lines_all_written),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
