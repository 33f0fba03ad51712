/* Workload "cache": repeated validation with libsignet's opt-in
 * verified-token cache (signet_verifier_config_set_token_cache), against
 * raw OpenSSL verifying the same signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "common.h"
#include "fixtures.h"
#include "workloads.h"

#define HOT_SET 1000   /* distinct tokens in the "working set" row */
#define MISS_SET 4000  /* distinct tokens cycled through a 1000-entry cache */

struct token_ring {
    signet_verifier *v;
    char **tokens;
    size_t *lens;
    size_t n, next;
};

static int ring_verify(void *arg)
{
    struct token_ring *r = arg;
    struct signet_call c = {r->v, r->tokens[r->next], r->lens[r->next]};
    r->next = (r->next + 1) % r->n;
    return signet_call_verify(&c);
}

/* n distinct ES256 tokens (different jti) from the fixture key. */
static void make_tokens(const char *dir, struct token_ring *r, size_t n)
{
    EVP_PKEY *key = fx_load_private(dir, "es256");
    char *kid = fx_kid(key);
    int64_t now = (int64_t)time(NULL);
    r->tokens = calloc(n, sizeof *r->tokens);
    r->lens = calloc(n, sizeof *r->lens);
    if (r->tokens == NULL || r->lens == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < n; i++) {
        char jti[32];
        (void)snprintf(jti, sizeof jti, "bench-jti-%08zu", i);
        char *payload = fx_payload(now, jti);
        r->tokens[i] = fx_sign(key, "ES256", kid, payload);
        r->lens[i] = strlen(r->tokens[i]);
        free(payload);
    }
    r->n = n;
    r->next = 0;
    free(kid);
    EVP_PKEY_free(key);
}

static void free_tokens(struct token_ring *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->tokens[i]);
    free(r->tokens);
    free(r->lens);
}

void wl_cache(const char *dir, const struct bench_opts *o)
{
    size_t len = 0;
    char *token = bench_read_file(dir, "es256.token", &len);
    struct ossl_ref ref;
    ossl_ref_init(&ref, dir, "ES256", "es256", token, len);
    struct signet_call plain = {bench_signet_verifier(dir, 0), token, len};
    struct signet_call hit = {bench_signet_verifier(dir, 1024), token, len};
    struct token_ring hot = {.v = bench_signet_verifier(dir, 4096)};
    struct token_ring miss = {.v = bench_signet_verifier(dir, 1000)};
    make_tokens(dir, &hot, HOT_SET);
    make_tokens(dir, &miss, MISS_SET);
    /* Fill the working-set cache first, so that its row measures hits only
     * (the warm-up of a quick run is shorter than 1000 verifications). */
    for (size_t i = 0; i < HOT_SET; i++)
        if (ring_verify(&hot) != 0)
            bench_die("filling the token cache failed");

    struct bench_case cases[] = {
        {"openssl", ossl_ref_verify, &ref, 0},
        {"signet", signet_call_verify, &plain, 0},
        {"signet-hit", signet_call_verify, &hit, 0},
        {"signet-hit-1000", ring_verify, &hot, 0},
        {"signet-miss", ring_verify, &miss, 0},
    };
    bench_measure_set(o, "cache", "ES256", cases, sizeof cases / sizeof cases[0]);

    signet_verifier_free(plain.v);
    signet_verifier_free(hit.v);
    signet_verifier_free(hot.v);
    signet_verifier_free(miss.v);
    free_tokens(&hot);
    free_tokens(&miss);
    ossl_ref_clear(&ref);
    free(token);
}
