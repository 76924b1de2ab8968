/* camvisor's version, and the go2rtc API level its HTTP API answers as (GET /api). */
#ifndef CV_VERSION_H
#define CV_VERSION_H

#define CV_VERSION "0.4.0-dev"
/* Home Assistant's go2rtc client accepts 1.9.13 <= version < 2.0.0 (reference/go2rtc.md §4.1);
 * this is the go2rtc release whose API shapes camvisor-http follows. */
#define CV_GO2RTC_API_LEVEL "1.9.14"

#endif
