/* signet-bench: the C half of `make bench` (bench/run.sh drives it).
 *
 *   signet-bench fixtures DIR
 *   signet-bench verify   DIR ALG REP BUDGET_S
 *   signet-bench verify-dpop DIR ALG REP BUDGET_S  (bound token + DPoP proof)
 *   signet-bench cache    DIR REP BUDGET_S
 *   signet-bench threads  DIR REP BUDGET_S [NTHREADS]
 *   signet-bench loop     DIR ALG SECONDS      (libsignet only, for profilers)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common.h"
#include "fixtures.h"
#include "workloads.h"

static long to_long(const char *s, long lo, long hi)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        bench_die("bad number: %s", s);
    return v;
}

static double to_seconds(const char *s)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v > 0 && v <= 60))
        bench_die("bad duration: %s", s);
    return v;
}

static int usage(void)
{
    fputs("usage: signet-bench fixtures DIR | verify DIR ALG REP BUDGET |"
          " verify-dpop DIR ALG REP BUDGET |"
          " cache DIR REP BUDGET | threads DIR REP BUDGET [N] | loop DIR ALG SECONDS\n",
          stderr);
    return 2;
}

/* A plain loop over signet_verify for callgrind/perf: no timing logic. */
static int profile_loop(const char *dir, const char *alg, double seconds)
{
    const struct fx_alg *a = fx_alg_find(alg);
    char name[64];
    (void)snprintf(name, sizeof name, "%s.token", a->stem);
    size_t len = 0;
    char *token = bench_read_file(dir, name, &len);
    /* BENCH_IMPL=openssl profiles the reference instead; BENCH_TOKEN_CACHE
     * turns the token cache on (every call after the first is a hit). */
    const char *impl = getenv("BENCH_IMPL");
    const char *cache = getenv("BENCH_TOKEN_CACHE");
    struct signet_call c = {bench_signet_verifier(dir, cache != NULL ? 16 : 0), token, len};
    struct ossl_ref ref;
    ossl_ref_init(&ref, dir, a->alg, a->stem, token, len);
    bench_fn fn = signet_call_verify;
    void *ctx = &c;
    if (impl != NULL && strcmp(impl, "openssl") == 0)
        fn = ossl_ref_verify, ctx = &ref;
    if (impl != NULL && strcmp(impl, "openssl-naive") == 0)
        fn = ossl_naive_verify, ctx = &ref;
    const char *iters = getenv("BENCH_ITERS");
    long n = iters != NULL ? to_long(iters, 1, 100000000) : 0;
    double end = bench_now() + seconds;
    for (long i = 0; n > 0 ? i < n : bench_now() < end; i++)
        if (fn(ctx) != 0)
            bench_die("verify failed");
    ossl_ref_clear(&ref);
    signet_verifier_free(c.v);
    free(token);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    const char *cmd = argv[1], *dir = argv[2];
    struct bench_opts o = {0};
    if (strcmp(cmd, "fixtures") == 0 && argc == 3) {
        fx_write_all(dir);
        return 0;
    }
    if (strcmp(cmd, "verify") == 0 && argc == 6) {
        o.rep = (int)to_long(argv[4], 0, 1000);
        o.budget_s = to_seconds(argv[5]);
        wl_verify(dir, argv[3], &o);
        return 0;
    }
    if (strcmp(cmd, "verify-dpop") == 0 && argc == 6) {
        o.rep = (int)to_long(argv[4], 0, 1000);
        o.budget_s = to_seconds(argv[5]);
        wl_verify_dpop(dir, argv[3], &o);
        return 0;
    }
    if (strcmp(cmd, "cache") == 0 && argc == 5) {
        o.rep = (int)to_long(argv[3], 0, 1000);
        o.budget_s = to_seconds(argv[4]);
        wl_cache(dir, &o);
        return 0;
    }
    if (strcmp(cmd, "threads") == 0 && (argc == 5 || argc == 6)) {
        o.rep = (int)to_long(argv[3], 0, 1000);
        o.budget_s = to_seconds(argv[4]);
        wl_threads(dir, &o, argc == 6 ? (int)to_long(argv[5], 2, 8) : 2);
        return 0;
    }
    if (strcmp(cmd, "loop") == 0 && argc == 5)
        return profile_loop(dir, argv[3], to_seconds(argv[4]));
    return usage();
}
