#include "telemetry/tmutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/strconv.h"

void sg_tm_puts(struct sg_wbuf *w, const char *s)
{
    sg_wbuf_put_bytes(w, s, strlen(s));
}

void sg_tm_printf(struct sg_wbuf *w, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        if (w->err == SIGNET_OK)
            w->err = SIGNET_ERR_INTERNAL;
        return;
    }
    sg_wbuf_put_bytes(w, tmp, (size_t)n);
}

void sg_tm_log_safe(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    if (cap == 0)
        return;
    for (; s != NULL && s[i] != '\0' && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    out[i] = '\0';
}

int sg_tm_copy(char *dst, size_t cap, const char *s)
{
    return sg_copy_str(dst, cap, s);
}

double sg_tm_mono(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
