#include "util/clock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if SIGNET_TESTING
static char clock_path[512];

void sg_clock_use_file(const char *path)
{
    if (path == NULL || strlen(path) >= sizeof clock_path) {
        clock_path[0] = '\0';
        return;
    }
    memcpy(clock_path, path, strlen(path) + 1);
}

static _Atomic int64_t clock_last; /* the last time read from the file */

/* "now" from the clock file: 1 when one is set and holds a positive integer.
 * A read that finds it empty or unreadable (a test rewriting it in place:
 * the signer's Landlock rule covers that file, not one renamed over it)
 * gives the last time read, never the real clock. */
static int file_now(int64_t *out)
{
    if (clock_path[0] == '\0')
        return 0;
    int fd = open(clock_path, O_RDONLY | O_CLOEXEC);
    char buf[32];
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    long long v = 0;
    if (n > 0) {
        buf[n] = '\0';
        char *end = NULL;
        v = strtoll(buf, &end, 10);
        if (end == buf)
            v = 0;
    }
    if (v > 0)
        clock_last = (int64_t)v;
    else
        v = (long long)clock_last;
    if (v <= 0)
        return 0;
    *out = (int64_t)v;
    return 1;
}
#else
/* A release build has no injected clock. */
static int file_now(int64_t *out)
{
    (void)out;
    return 0;
}
#endif

int64_t sg_clock_now(void)
{
    int64_t now = 0;
    if (file_now(&now))
        return now;
    return (int64_t)time(NULL);
}

uint64_t sg_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
