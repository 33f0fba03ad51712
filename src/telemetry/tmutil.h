/* Small helpers shared by the telemetry modules (not a public API). */
#ifndef SG_TMUTIL_H
#define SG_TMUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Appends a C string (no length prefix, unlike sg_wbuf_put_str). */
void sg_tm_puts(struct sg_wbuf *w, const char *s);
/* Appends formatted text of at most 1 KiB (longer output sets w->err). */
void sg_tm_printf(struct sg_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies s into out (cap bytes) for a log value: at most cap - 1 bytes,
 * with quotes, backslashes and control characters replaced by '?', so a
 * hostile string cannot forge log fields or lines. */
void sg_tm_log_safe(const char *s, char *out, size_t cap);
/* Bounded copy; returns 0, or -1 (and an empty dst) when s does not fit. */
int sg_tm_copy(char *dst, size_t cap, const char *s);
/* Monotonic seconds (CLOCK_MONOTONIC) as a double, for latencies. */
double sg_tm_mono(void);

#endif
