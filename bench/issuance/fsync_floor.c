/* The disk floor: how long fdatasync takes on the file system that holds
 * the audit log. Every token waits for at least one (group commit shares it
 * among a batch), so no latency percentile can be below this one's.
 *
 *   fsync_floor DIR COUNT      prints "fdatasync_us p50 P p99 P max M" */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = strtol(argv[2], NULL, 10);
    if (n < 10 || n > 100000)
        return 2;
    char path[4096];
    int m = snprintf(path, sizeof path, "%s/fsync_floor.dat", argv[1]);
    if (m < 0 || (size_t)m >= sizeof path)
        return 2;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    double *t = calloc((size_t)n, sizeof *t);
    int rc = fd >= 0 && t != NULL ? 0 : 1;
    /* About one batch of audit records per commit. */
    char rec[2048];
    memset(rec, 'x', sizeof rec);
    for (long i = 0; i < n && rc == 0; i++) {
        struct timespec a, b;
        if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec)
            rc = 1;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (rc == 0 && fdatasync(fd) != 0)
            rc = 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
    }
    if (fd >= 0)
        close(fd);
    (void)unlink(path);
    if (rc != 0) {
        free(t);
        return rc;
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("fdatasync_us p50 %.0f p99 %.0f max %.0f\n", t[n / 2], t[n * 99 / 100], t[n - 1]);
    free(t);
    return 0;
}
