/* The clock. Tests inject time through a clock file (config key
 * testing.clock_file): when set, "now" is the integer it holds. */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

void sg_clock_use_file(const char *path); /* NULL: the real clock */
int64_t sg_clock_now(void);
uint64_t sg_clock_mono_ns(void);

#endif
