#include "common/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int level = -1;

static int level_from_env(void)
{
    const char *e = getenv("OMNIDEX_LOG");
    if (!e) return ODX_LOG_INFO;
    if (!strcmp(e, "error")) return ODX_LOG_ERROR;
    if (!strcmp(e, "warn")) return ODX_LOG_WARN;
    if (!strcmp(e, "debug")) return ODX_LOG_DEBUG;
    return ODX_LOG_INFO;
}

int odx_log_level(void)
{
    if (level < 0) level = level_from_env();
    return level;
}

void odx_log_set_level(int l) { level = l; }

void odx_log(int l, const char *fmt, ...)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    if (l > odx_log_level()) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ omnidex %s: %s\n", tm.tm_year + 1900,
            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            names[l < 0 ? 0 : l > 3 ? 3 : l], msg);
}
