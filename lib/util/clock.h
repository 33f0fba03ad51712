/* The clock. Tests inject time through a clock file (config key
 * testing.clock_file): when set, "now" is the integer it holds. Only a
 * testing build (SIGNET_TESTING=1) has the clock file: in a release build
 * sg_clock_use_file is an empty macro and "now" is always the real clock. */
#ifndef SG_CLOCK_H
#define SG_CLOCK_H

#include <stdint.h>

#if SIGNET_TESTING
void sg_clock_use_file(const char *path); /* NULL: the real clock */
#else
#define sg_clock_use_file(path) ((void)(path))
#endif
int64_t sg_clock_now(void);
uint64_t sg_clock_mono_ns(void);

#endif
