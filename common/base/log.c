/*
 * Process-wide logger. The identity ("worker front_door") is set once at start-up; it is this
 * process's own state, never shared with another process.
 */
#include "common/base/log.h"

#include <errno.h>
#include <stdbool.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * Rate limit: a line whose format string was already written CV_LOG_BURST times in the current
 * second is counted instead of written, and the count is reported once that second is over.
 * A client that triggers an error line per packet (or a listener out of descriptors) must not
 * fill the disk: one looping line once wrote 180 MB in 10 s. Keyed by the format's address, so
 * the same message about different peers counts as one.
 */
#define CV_LOG_BURST 20
#define CV_LOG_SLOTS 16

struct cv_log_slot {
    const char *fmt;
    time_t second;
    unsigned written, dropped;
};

static struct {
    char ident[96];
    enum cv_log_level level;
    struct cv_log_slot slots[CV_LOG_SLOTS];
} cv_log_state = {.ident = "camvisor", .level = CV_LOG_INF};

static const char *const cv_log_names[] = {"DBG", "INF", "WRN", "ERR"};

void cv_log_init(const char *role, const char *camera)
{
    if (camera && camera[0])
        snprintf(cv_log_state.ident, sizeof(cv_log_state.ident), "%s %s", role, camera);
    else
        snprintf(cv_log_state.ident, sizeof(cv_log_state.ident), "%s", role);
}

void cv_log_set_level(enum cv_log_level level)
{
    cv_log_state.level = level;
}

int cv_log_parse_level(const char *s, enum cv_log_level *out)
{
    static const char *const words[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, words[i]) == 0) {
            *out = (enum cv_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void cv_log_write(enum cv_log_level level, const struct timespec *tsp, const char *fmt,
                         va_list ap)
{
    char line[1024];
    struct timespec ts = *tsp;
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);

    int n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s [%s] ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, cv_log_names[level], cv_log_state.ident);
    if (n < 0)
        n = 0;
    if ((size_t)n < sizeof(line)) {
        int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
        if (m > 0)
            n += m;
    }
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    /* Control characters from the network must not forge log lines. */
    for (int i = 0; i < n; i++)
        if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
            line[i] = '?';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

static void cv_log_writef(enum cv_log_level level, const struct timespec *ts, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cv_log_write(level, ts, fmt, ap);
    va_end(ap);
}

/* True when this line may be written; reports what a finished second held back. */
static bool cv_log_admit(enum cv_log_level level, const struct timespec *ts, const char *fmt)
{
    struct cv_log_slot *slot = NULL, *oldest = &cv_log_state.slots[0];
    for (int i = 0; i < CV_LOG_SLOTS; i++) {
        struct cv_log_slot *s = &cv_log_state.slots[i];
        if (s->fmt == fmt) {
            slot = s;
            break;
        }
        if (s->second < oldest->second)
            oldest = s;
    }
    if (!slot) {
        slot = oldest; /* a format unseen for longest gives way; its count is lost, not wrong */
        *slot = (struct cv_log_slot){.fmt = fmt, .second = ts->tv_sec};
    }
    if (slot->second != ts->tv_sec) {
        if (slot->dropped)
            cv_log_writef(level, ts, "(%u more lines like the next one held back)", slot->dropped);
        slot->second = ts->tv_sec;
        slot->written = slot->dropped = 0;
    }
    if (slot->written >= CV_LOG_BURST) {
        slot->dropped++;
        return false;
    }
    slot->written++;
    return true;
}

void cv_logv(enum cv_log_level level, const char *fmt, va_list ap)
{
    if (level < cv_log_state.level)
        return;
    int saved_errno = errno;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (cv_log_admit(level, &ts, fmt))
        cv_log_write(level, &ts, fmt, ap);
    errno = saved_errno;
}

void cv_log(enum cv_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cv_logv(level, fmt, ap);
    va_end(ap);
}

void cv_log_assert_failed(const char *cond, const char *file, int line)
{
    void *frames[32];
    cv_log(CV_LOG_ERR, "assertion failed: %s at %s:%d", cond, file, line);
    int n = backtrace(frames, 32);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
    abort();
}
