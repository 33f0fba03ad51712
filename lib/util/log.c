#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_component = "signet";
static enum sg_log_level log_min = SG_LOG_INFO;

void sg_log_init(const char *component, enum sg_log_level min_level)
{
    log_component = component;
    log_min = min_level;
}

void sg_log(enum sg_log_level level, const char *event, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < log_min)
        return;
    struct timespec ts;
    struct tm tm;
    char when[32] = "";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL)
        (void)strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char line[1024];
    int n = snprintf(line, sizeof line, "ts=%s level=%s comp=%s event=%s", when, names[level],
                     log_component, event);
    if (n > 0 && (size_t)n < sizeof line && fmt != NULL && fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        line[n++] = ' ';
        (void)vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "%s\n", line);
}
