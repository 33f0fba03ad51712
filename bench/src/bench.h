/* signet-bench: the measuring harness shared by every C workload.
 *
 * One measurement = warm up for a quarter of the budget, then call the
 * operation in batches until the wall-clock budget is spent, and report
 * operations per second. Every call must succeed (return 0): a benchmark
 * that measured a rejection path would be meaningless, so a failure stops
 * the program.
 *
 * Results are printed as tab-separated records that bench/report.py turns
 * into Markdown (see bench/README.md, "Record format"). */
#ifndef SG_BENCH_H
#define SG_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct bench_opts {
    double budget_s; /* timed part of one measurement */
    int rep;         /* repetition number, printed with each sample */
};

typedef int (*bench_fn)(void *ctx);

/* One implementation measured by bench_measure_set. */
struct bench_case {
    const char *impl;
    bench_fn fn;
    void *ctx;
    double ops; /* result: operations per second */
};

double bench_now(void);
/* CPU time of the whole process (a single-threaded measurement: time
 * during which the process was not running does not count). */
double bench_cpu_now(void);
/* ops/s of fn over opts->budget_s after a warm-up; exits on any failure. */
double bench_measure(const struct bench_opts *o, const char *what, bench_fn fn, void *ctx);
/* Measures several implementations of the same operation, interleaved:
 * each is warmed up, then the budget of each is cut into BENCH_SLICES
 * slices run round-robin, so that a burst of noise from a neighbour on
 * the machine lands on every implementation alike and ratios between
 * them stay meaningful. Fills cases[i].ops and prints a sample for each,
 * and a cpusample: operations per second of process CPU time, which a
 * neighbour that preempts the benchmark does not disturb. */
#define BENCH_SLICES 10
void bench_measure_set(const struct bench_opts *o, const char *wl, const char *row,
                       struct bench_case *cases, size_t n);
/* Prints one sample record: workload, row, implementation, rep, ops/s. */
void bench_sample(const char *wl, const char *row, const char *impl, int rep, double ops);
/* The same per second of the process's CPU time ("cpusample"). */
void bench_cpu_sample(const char *wl, const char *row, const char *impl, int rep, double ops);
/* Prints "na" for a cell that a peer cannot fill, with the reason. */
void bench_na(const char *wl, const char *row, const char *impl, const char *why);

/* Dies with a message (benchmarks have no recovery path). */
void bench_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Reads a whole file (NUL-terminated); dies on error. */
char *bench_read_file(const char *dir, const char *name, size_t *len);

#endif
