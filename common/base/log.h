/*
 * One line per event, written with a single write(2) so lines from many processes sharing a
 * pipe or the journal never interleave:
 *
 *     12:00:00.123 INF [worker front_door] connected
 *
 * The level token (DBG/INF/WRN/ERR) is the second field, as go2rtc prints it, so Home
 * Assistant's log scraping maps it the same way.
 */
#ifndef CV_LOG_H
#define CV_LOG_H

#include <stdarg.h>

enum cv_log_level {
    CV_LOG_DBG,
    CV_LOG_INF,
    CV_LOG_WRN,
    CV_LOG_ERR,
};

/* Names this process in every line; both strings are copied. camera may be NULL. */
void cv_log_init(const char *role, const char *camera);
void cv_log_set_level(enum cv_log_level level);
int cv_log_parse_level(const char *s, enum cv_log_level *out);

void cv_log(enum cv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cv_logv(enum cv_log_level level, const char *fmt, va_list ap);

#define cv_dbg(...)  cv_log(CV_LOG_DBG, __VA_ARGS__)
#define cv_info(...) cv_log(CV_LOG_INF, __VA_ARGS__)
#define cv_warn(...) cv_log(CV_LOG_WRN, __VA_ARGS__)
#define cv_err(...)  cv_log(CV_LOG_ERR, __VA_ARGS__)

/*
 * Invariants stay checked in release builds: a broken one logs where it broke and aborts, and the
 * supervisor restarts the process.
 */
#define CV_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            cv_log_assert_failed(#cond, __FILE__, __LINE__);                                       \
    } while (0)

_Noreturn void cv_log_assert_failed(const char *cond, const char *file, int line);

#endif
