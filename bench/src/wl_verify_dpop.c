/* Workload "verify", DPoP rows: a DPoP-bound access token (cnf.jkt) and
 * its RFC 9449 proof verified together by libsignet, as a resource server
 * does for every request, against two raw OpenSSL verifications (the
 * token's signature and the proof's), the ceiling of any implementation.
 *
 * libsignet runs with its defaults: the jti replay cache is on, so every
 * call needs a proof it has not seen. The proofs (ES256, one client key,
 * fresh jti each, iat = now, ath of the token) are signed before the
 * measurement; their number is set from the speed of one raw ES256
 * verification on this machine (a call verifies at least that), with a
 * margin, so the pool outlasts the budget. Should it run out all the same,
 * the next proof is signed inside the timed call (counted, reported on
 * stderr: it can only make libsignet look slower). */
#include <inttypes.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "common.h"
#include "fixtures.h"
#include "workloads.h"

#define DPOP_HTU "https://api.bench.example/v1/resource"

struct dpop_proofs {
    EVP_PKEY *key;   /* the client's ES256 key */
    char *header;    /* protected header JSON, with the public jwk */
    char *ath;       /* b64url(SHA-256(token)) */
    char jkt[64];    /* RFC 7638 thumbprint of the jwk */
    uint64_t serial; /* jti counter */
    int64_t now;
};

static char *b64url_sha256(const char *data, size_t len)
{
    uint8_t md[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1)
        bench_die("SHA-256 failed");
    return fx_b64url(md, n);
}

/* A fresh P-256 key, its jwk header and thumbprint. */
static void proofs_init(struct dpop_proofs *p)
{
    memset(p, 0, sizeof *p);
    p->now = (int64_t)time(NULL);
    if ((p->key = EVP_EC_gen("P-256")) == NULL)
        bench_die("P-256 key generation failed");
    uint8_t pt[65];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(p->key, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof pt, &n) != 1 ||
        n != 65 || pt[0] != 0x04)
        bench_die("P-256 public point");
    char *x = fx_b64url(pt + 1, 32), *y = fx_b64url(pt + 33, 32);
    char canon[256];
    (void)snprintf(canon, sizeof canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                   x, y);
    char *jkt = b64url_sha256(canon, strlen(canon));
    (void)snprintf(p->jkt, sizeof p->jkt, "%s", jkt);
    char header[512];
    (void)snprintf(header, sizeof header,
                   "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\","
                   "\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}}",
                   x, y);
    if ((p->header = strdup(header)) == NULL)
        bench_die("out of memory");
    free(jkt);
    free(x);
    free(y);
}

static char *proof_next(struct dpop_proofs *p)
{
    char payload[512];
    (void)snprintf(payload, sizeof payload,
                   "{\"jti\":\"bench-%016" PRIx64 "-%08x\",\"htm\":\"GET\",\"htu\":\"%s\","
                   "\"iat\":%" PRId64 ",\"ath\":\"%s\"}",
                   p->serial++, (unsigned)p->now, DPOP_HTU, p->now, p->ath);
    return fx_sign_header(p->key, "ES256", p->header, payload);
}

struct dpop_call {
    signet_verifier *v;
    const char *token;
    size_t len;
    struct dpop_proofs *gen;
    char **pool;
    size_t n, next, late; /* late: proofs signed inside the timed call */
};

/* bench_fn: signet_verify of the token with its proof (scheme DPoP). */
static int dpop_call_verify(void *arg)
{
    struct dpop_call *c = arg;
    char *late = NULL;
    const char *proof;
    if (c->next < c->n) {
        proof = c->pool[c->next++];
    } else {
        proof = late = proof_next(c->gen);
        c->late++;
    }
    signet_verify_opts opts = SIGNET_VERIFY_OPTS_INIT;
    opts.http_method = "GET";
    opts.http_url = DPOP_HTU;
    opts.dpop_proof = proof;
    opts.scheme = "DPoP";
    signet_claims *claims = NULL;
    signet_err err = signet_verify(c->v, c->token, c->len, &opts, &claims);
    free(late);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet_verify (DPoP): %s\n", signet_err_name(err));
        return -1;
    }
    signet_claims_free(claims);
    return 0;
}

struct two_refs {
    struct ossl_ref token, proof;
};

/* bench_fn: the ceiling, the token's signature and the proof's. */
static int two_verifies(void *arg)
{
    struct two_refs *t = arg;
    return ossl_ref_verify(&t->token) == 0 && ossl_ref_verify(&t->proof) == 0 ? 0 : -1;
}

/* How many calls a measurement can make at most: the calls of one case
 * take 1.25 budgets (warm-up + slices), and each verifies an ES256 proof,
 * so it is no faster than one raw ES256 verification. Margin 2. */
static size_t pool_size(struct ossl_ref *proof_ref, double budget_s)
{
    double t0 = bench_now(), t;
    uint64_t n = 0;
    do {
        for (int i = 0; i < 32; i++)
            if (ossl_ref_verify(proof_ref) != 0)
                bench_die("proof reference does not verify");
        n += 32;
    } while ((t = bench_now() - t0) < 0.05);
    double want = 2.0 * 1.25 * budget_s * (double)n / t;
    return want < 1000 ? 1000 : (size_t)want;
}

void wl_verify_dpop(const char *dir, const char *alg, const struct bench_opts *o)
{
    const struct fx_alg *a = fx_alg_find(alg);

    /* The bound token: the fixture's claims plus cnf.jkt, signed by the
     * fixture key (so the JWKS file is the same). */
    struct dpop_proofs gen;
    proofs_init(&gen);
    EVP_PKEY *issuer = fx_load_private(dir, a->stem);
    char *kid = fx_kid(issuer);
    char jti[40];
    (void)snprintf(jti, sizeof jti, "bench-dpop-%" PRId64, gen.now);
    char *claims = fx_payload(gen.now, jti);
    size_t cl = strlen(claims);
    char *bound = malloc(cl + 80);
    if (bound == NULL)
        bench_die("out of memory");
    (void)snprintf(bound, cl + 80, "%.*s,\"cnf\":{\"jkt\":\"%s\"}}", (int)(cl - 1), claims,
                   gen.jkt);
    char *token = fx_sign(issuer, a->alg, kid, bound);
    size_t len = strlen(token);
    gen.ath = b64url_sha256(token, len);

    struct two_refs refs;
    ossl_ref_init(&refs.token, dir, a->alg, a->stem, token, len);
    char *ref_proof = proof_next(&gen);
    if (EVP_PKEY_up_ref(gen.key) != 1)
        bench_die("EVP_PKEY_up_ref");
    ossl_ref_init_key(&refs.proof, gen.key, "ES256", ref_proof, strlen(ref_proof));

    struct dpop_call dc = {0};
    dc.n = pool_size(&refs.proof, o->budget_s);
    if ((dc.pool = calloc(dc.n, sizeof *dc.pool)) == NULL)
        bench_die("out of memory");
    for (size_t i = 0; i < dc.n; i++)
        dc.pool[i] = proof_next(&gen);
    dc.gen = &gen;
    dc.token = token;
    dc.len = len;
    /* A resource server's defaults (replay cache on), with room for the
     * whole pool in the replay cache. */
    dc.v = bench_signet_verifier_dpop(dir, 0, dc.n + 1024);

    char row[48];
    (void)snprintf(row, sizeof row, "%s + DPoP proof", alg);
    struct bench_case cases[2] = {
        {"openssl", two_verifies, &refs, 0},
        {"signet", dpop_call_verify, &dc, 0},
    };
    bench_measure_set(o, "verify", row, cases, 2);
    if (dc.late > 0)
        fprintf(stderr, "verify-dpop %s: the pool of %zu proofs ran out; %zu signed in the "
                        "timed calls\n", alg, dc.n, dc.late);

    for (size_t i = 0; i < dc.n; i++)
        free(dc.pool[i]);
    free(dc.pool);
    signet_verifier_free(dc.v);
    ossl_ref_clear(&refs.proof);
    ossl_ref_clear(&refs.token);
    free(ref_proof);
    free(token);
    free(bound);
    free(claims);
    free(kid);
    EVP_PKEY_free(issuer);
    EVP_PKEY_free(gen.key);
    free(gen.header);
    free(gen.ath);
}
