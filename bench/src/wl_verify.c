/* Workload "verify": one token verified over and over on one thread, by
 * raw OpenSSL (the ceiling), libsignet (every rule on) and the C peers.
 * Python and Node peers run in their own processes (bench/peers/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "common.h"
#include "fixtures.h"
#include "workloads.h"

#ifdef HAVE_CJOSE
#include <cjose/cjose.h>

struct cjose_call {
    cjose_jwk_t *jwk;
    const char *token;
    size_t len;
};

/* cjose_jws_import + cjose_jws_verify: signature only (cjose does not
 * look at claims). */
static int cjose_verify(void *arg)
{
    struct cjose_call *c = arg;
    cjose_err err;
    cjose_jws_t *jws = cjose_jws_import(c->token, c->len, &err);
    if (jws == NULL)
        return -1;
    int ok = cjose_jws_verify(jws, c->jwk, &err);
    cjose_jws_release(jws);
    return ok ? 0 : -1;
}
#endif

#ifdef HAVE_LIBJWT
#include <jwt.h>

struct libjwt_call {
    const unsigned char *pem;
    int pem_len;
    const char *token;
};

/* jwt_decode with the PEM key (its only way to take a key) checks the
 * signature; libjwt 1.10 has no claim validation, so nothing else. */
static int libjwt_verify(void *arg)
{
    struct libjwt_call *c = arg;
    jwt_t *jwt = NULL;
    int rc = jwt_decode(&jwt, c->token, c->pem, c->pem_len);
    int ok = rc == 0 && jwt_get_alg(jwt) == JWT_ALG_ES256;
    jwt_free(jwt);
    return ok ? 0 : -1;
}
#endif

void wl_verify(const char *dir, const char *alg, const struct bench_opts *o)
{
    const struct fx_alg *a = fx_alg_find(alg);
    char name[64];
    (void)snprintf(name, sizeof name, "%s.token", a->stem);
    size_t len = 0;
    char *token = bench_read_file(dir, name, &len);

    struct bench_case cases[8];
    size_t n = 0;
    struct ossl_ref ref;
    ossl_ref_init(&ref, dir, a->alg, a->stem, token, len);
    cases[n++] = (struct bench_case){"openssl", ossl_ref_verify, &ref, 0};
    cases[n++] = (struct bench_case){"openssl-naive", ossl_naive_verify, &ref, 0};
    struct signet_call sc = {bench_signet_verifier(dir, 0), token, len};
    cases[n++] = (struct bench_case){"signet", signet_call_verify, &sc, 0};

#ifdef HAVE_CJOSE
    char *jwk_json = NULL;
    struct cjose_call cc = {NULL, token, len};
    if (strcmp(alg, "EdDSA") == 0) {
        bench_na("verify", alg, "cjose", "cjose 0.6 has no EdDSA");
    } else {
        (void)snprintf(name, sizeof name, "%s.jwk.json", a->stem);
        size_t jlen = 0;
        jwk_json = bench_read_file(dir, name, &jlen);
        cjose_err err;
        if ((cc.jwk = cjose_jwk_import(jwk_json, jlen, &err)) == NULL)
            bench_die("cjose_jwk_import: %s", err.message);
        cases[n++] = (struct bench_case){"cjose", cjose_verify, &cc, 0};
    }
#else
    bench_na("verify", alg, "cjose", "libcjose-dev not installed");
#endif
#ifdef HAVE_LIBJWT
    char *pem = NULL, *twin = NULL;
    struct libjwt_call lc = {0};
    if (strcmp(alg, "ES256") != 0) {
        bench_na("verify", alg, "libjwt", "libjwt 1.10 supports only HS*, RS*, ES*");
    } else {
        (void)snprintf(name, sizeof name, "%s.pub.pem", a->stem);
        size_t plen = 0;
        pem = bench_read_file(dir, name, &plen);
        (void)snprintf(name, sizeof name, "%s.typjwt.token", a->stem);
        twin = bench_read_file(dir, name, NULL);
        lc = (struct libjwt_call){(const unsigned char *)pem, (int)plen, twin};
        cases[n++] = (struct bench_case){"libjwt", libjwt_verify, &lc, 0};
    }
#else
    bench_na("verify", alg, "libjwt", "libjwt-dev not installed");
#endif

    bench_measure_set(o, "verify", alg, cases, n);

#ifdef HAVE_CJOSE
    if (cc.jwk != NULL)
        cjose_jwk_release(cc.jwk);
    free(jwk_json);
#endif
#ifdef HAVE_LIBJWT
    free(pem);
    free(twin);
#endif
    signet_verifier_free(sc.v);
    ossl_ref_clear(&ref);
    free(token);
}
