/*
 * Part of camvisor-ffmpeg.so: FFmpeg's own messages become our log lines (warnings and errors
 * only), installed when the worker loads the plugin.
 */
#include <libavutil/log.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/base/log.h"

static void cv_ffmpeg_log(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    if (level > AV_LOG_WARNING || level > av_log_get_level()) /* quieted for a while */
        return;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';
    cv_log(level <= AV_LOG_ERROR ? CV_LOG_ERR : CV_LOG_WRN, "ffmpeg: %s", line);
}

__attribute__((constructor)) static void cv_ffmpeg_log_install(void)
{
    av_log_set_callback(cv_ffmpeg_log);
}
