/* Workload "threads": throughput of 1 and 2 verifying threads. libsignet
 * uses one verifier shared by the threads (as a server would); raw OpenSSL
 * gives each thread its own parsed key and context (the most favourable
 * setup for it), showing what the box itself can do on 2 threads.
 *
 * The threads count their own operations; the main thread sleeps through
 * the warm-up, then reads the counters at the start and the end of the
 * budget, so the figure is aggregate operations per second of wall clock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "common.h"
#include "fixtures.h"
#include "workloads.h"

#define MAX_THREADS 8

struct worker {
    _Alignas(64) atomic_uint_fast64_t ops;
    bench_fn fn;
    void *ctx;
    atomic_int *stop;
    pthread_barrier_t *start;
    int failed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    while (!atomic_load_explicit(w->stop, memory_order_relaxed)) {
        if (w->fn(w->ctx) != 0) {
            w->failed = 1;
            break;
        }
        atomic_fetch_add_explicit(&w->ops, 1, memory_order_relaxed);
    }
    return NULL;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static uint64_t total(struct worker *w, int n)
{
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += atomic_load_explicit(&w[i].ops, memory_order_relaxed);
    return sum;
}

/* n threads call fn(ctxs[i]) for warm + dur seconds; returns the operations
 * completed during dur and adds dur's actual length to *spent. */
static uint64_t run_threads(int n, bench_fn fn, void **ctxs, double warm, double dur,
                            double *spent)
{
    struct worker w[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    pthread_barrier_t start;
    atomic_int stop;
    atomic_init(&stop, 0);
    if (pthread_barrier_init(&start, NULL, (unsigned)n + 1) != 0)
        bench_die("barrier");
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof w[i]);
        atomic_init(&w[i].ops, 0);
        w[i].fn = fn;
        w[i].ctx = ctxs[i];
        w[i].stop = &stop;
        w[i].start = &start;
        if (pthread_create(&tid[i], NULL, work, &w[i]) != 0)
            bench_die("pthread_create");
    }
    pthread_barrier_wait(&start);
    sleep_s(warm);
    uint64_t c0 = total(w, n);
    double t0 = bench_now();
    sleep_s(dur);
    uint64_t c1 = total(w, n);
    double t1 = bench_now();
    atomic_store(&stop, 1);
    for (int i = 0; i < n; i++) {
        pthread_join(tid[i], NULL);
        if (w[i].failed)
            bench_die("a verifying thread failed");
    }
    pthread_barrier_destroy(&start);
    *spent += t1 - t0;
    return c1 - c0;
}

struct config {
    const char *row, *impl;
    int n;
    bench_fn fn;
    void **ctxs;
    uint64_t ops;
    double spent;
};

/* Like bench_measure_set: one warm-up each, then slices round-robin. Each
 * slice starts its threads afresh and lets them run 10 ms before counting. */
static void measure_configs(const struct bench_opts *o, struct config *c, size_t n)
{
    double ignored = 0;
    for (size_t i = 0; i < n; i++)
        (void)run_threads(c[i].n, c[i].fn, c[i].ctxs, o->budget_s / 4, 0.01, &ignored);
    for (int s = 0; s < BENCH_SLICES / 2; s++)
        for (size_t i = 0; i < n; i++)
            c[i].ops += run_threads(c[i].n, c[i].fn, c[i].ctxs, 0.01,
                                    o->budget_s / (BENCH_SLICES / 2), &c[i].spent);
    for (size_t i = 0; i < n; i++)
        bench_sample("threads", c[i].row, c[i].impl, o->rep, (double)c[i].ops / c[i].spent);
}

void wl_threads(const char *dir, const struct bench_opts *o, int nthreads)
{
    if (nthreads < 2 || nthreads > MAX_THREADS)
        bench_die("threads: 2..%d", MAX_THREADS);
    size_t len = 0;
    char *token = bench_read_file(dir, "es256.token", &len);
    struct ossl_ref refs[MAX_THREADS];
    void *ref_ctx[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        ossl_ref_init(&refs[i], dir, "ES256", "es256", token, len);
        ref_ctx[i] = &refs[i];
    }
    /* One verifier shared by every thread; a per-thread call record. */
    signet_verifier *v = bench_signet_verifier(dir, 0);
    signet_verifier *vc = bench_signet_verifier(dir, 1024);
    struct signet_call calls[MAX_THREADS], hits[MAX_THREADS];
    void *call_ctx[MAX_THREADS], *hit_ctx[MAX_THREADS];
    for (int i = 0; i < nthreads; i++) {
        calls[i] = (struct signet_call){v, token, len};
        hits[i] = (struct signet_call){vc, token, len};
        call_ctx[i] = &calls[i];
        hit_ctx[i] = &hits[i];
    }
    char tn[32];
    (void)snprintf(tn, sizeof tn, "t%d", nthreads);
    struct config c[] = {
        {"openssl", "t1", 1, ossl_ref_verify, ref_ctx, 0, 0},
        {"openssl", tn, nthreads, ossl_ref_verify, ref_ctx, 0, 0},
        {"signet", "t1", 1, signet_call_verify, call_ctx, 0, 0},
        {"signet", tn, nthreads, signet_call_verify, call_ctx, 0, 0},
        {"signet-hit", "t1", 1, signet_call_verify, hit_ctx, 0, 0},
        {"signet-hit", tn, nthreads, signet_call_verify, hit_ctx, 0, 0},
    };
    measure_configs(o, c, sizeof c / sizeof c[0]);
    signet_verifier_free(v);
    signet_verifier_free(vc);
    for (int i = 0; i < nthreads; i++)
        ossl_ref_clear(&refs[i]);
    free(token);
}
