#include "bench.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("signet-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* Runs fn until `seconds` have passed; returns the number of calls and the
 * time actually spent. The clock is read once per batch, and the batch
 * grows until a batch takes about a millisecond, so reading it costs
 * nothing measurable even for sub-microsecond operations. */
static uint64_t run_for(double seconds, const char *what, bench_fn fn, void *ctx, double *spent)
{
    uint64_t n = 0, batch = 1;
    double start = bench_now(), now = start;
    while (now - start < seconds) {
        double t0 = now;
        for (uint64_t i = 0; i < batch; i++)
            if (fn(ctx) != 0)
                bench_die("%s: operation failed", what);
        n += batch;
        now = bench_now();
        if (now - t0 < 1e-3 && batch < (UINT64_C(1) << 20))
            batch *= 2;
    }
    *spent = now - start;
    return n;
}

double bench_measure(const struct bench_opts *o, const char *what, bench_fn fn, void *ctx)
{
    double spent = 0;
    (void)run_for(o->budget_s / 4, what, fn, ctx, &spent);
    uint64_t n = run_for(o->budget_s, what, fn, ctx, &spent);
    return (double)n / spent;
}

void bench_measure_set(const struct bench_opts *o, const char *wl, const char *row,
                       struct bench_case *cases, size_t n)
{
    uint64_t ops[16] = {0};
    double spent[16] = {0}, cpu[16] = {0};
    if (n > 16)
        bench_die("too many cases");
    for (size_t i = 0; i < n; i++) {
        double ignored = 0;
        (void)run_for(o->budget_s / 4, cases[i].impl, cases[i].fn, cases[i].ctx, &ignored);
    }
    for (int s = 0; s < BENCH_SLICES; s++) {
        for (size_t i = 0; i < n; i++) {
            double t = 0, c0 = bench_cpu_now();
            ops[i] += run_for(o->budget_s / BENCH_SLICES, cases[i].impl, cases[i].fn,
                              cases[i].ctx, &t);
            cpu[i] += bench_cpu_now() - c0;
            spent[i] += t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        cases[i].ops = (double)ops[i] / spent[i];
        bench_sample(wl, row, cases[i].impl, o->rep, cases[i].ops);
        bench_cpu_sample(wl, row, cases[i].impl, o->rep, (double)ops[i] / cpu[i]);
    }
}

void bench_cpu_sample(const char *wl, const char *row, const char *impl, int rep, double ops)
{
    printf("cpusample\t%s\t%s\t%s\t%d\t%.1f\n", wl, row, impl, rep, ops);
    fflush(stdout);
}

void bench_sample(const char *wl, const char *row, const char *impl, int rep, double ops)
{
    printf("sample\t%s\t%s\t%s\t%d\t%.1f\n", wl, row, impl, rep, ops);
    fflush(stdout);
}

void bench_na(const char *wl, const char *row, const char *impl, const char *why)
{
    printf("na\t%s\t%s\t%s\t%s\n", wl, row, impl, why);
    fflush(stdout);
}

char *bench_read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path)
        bench_die("path too long: %s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        bench_die("%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        bench_die("out of memory");
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            char *nb = realloc(buf, cap);
            if (nb == NULL)
                bench_die("out of memory");
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    if (ferror(f))
        bench_die("%s: read error", path);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}
