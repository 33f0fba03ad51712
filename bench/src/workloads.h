/* The C workloads of signet-bench (see bench/README.md). Each prints
 * "sample" records for one repetition. */
#ifndef SG_BENCH_WORKLOADS_H
#define SG_BENCH_WORKLOADS_H

#include "bench.h"

void wl_verify(const char *dir, const char *alg, const struct bench_opts *o);
/* DPoP rows of "verify": a bound token and its proof vs two raw verifies. */
void wl_verify_dpop(const char *dir, const char *alg, const struct bench_opts *o);
void wl_cache(const char *dir, const struct bench_opts *o);
void wl_threads(const char *dir, const struct bench_opts *o, int nthreads);

#endif
