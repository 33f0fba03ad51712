#include "common.h"

#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "fixtures.h"

void ossl_ref_init(struct ossl_ref *r, const char *dir, const char *alg, const char *stem,
                   const char *token, size_t token_len)
{
    ossl_ref_init_key(r, fx_load_public(dir, stem), alg, token, token_len);
}

void ossl_ref_init_key(struct ossl_ref *r, EVP_PKEY *pkey, const char *alg, const char *token,
                       size_t token_len)
{
    memset(r, 0, sizeof *r);
    r->alg = alg;
    r->pkey = pkey;
    if (strcmp(alg, "EdDSA") != 0 && (r->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
        bench_die("SHA256 fetch failed");
    const char *dot = memrchr(token, '.', token_len);
    if (dot == NULL)
        bench_die("token has no signature part");
    r->msg = (const uint8_t *)token;
    r->msg_len = (size_t)(dot - token);
    r->raw_sig_len = fx_b64url_decode(dot + 1, token_len - r->msg_len - 1, r->raw_sig,
                                      sizeof r->raw_sig);
    if (strcmp(alg, "ES256") == 0) {
        if (r->raw_sig_len != 64)
            bench_die("ES256 signature is not 64 bytes");
        r->sig_len = fx_es256_der(r->raw_sig, r->sig, sizeof r->sig);
    } else {
        memcpy(r->sig, r->raw_sig, r->raw_sig_len);
        r->sig_len = r->raw_sig_len;
    }
    if ((r->ctx = EVP_MD_CTX_new()) == NULL)
        bench_die("out of memory");
}

void ossl_ref_clear(struct ossl_ref *r)
{
    EVP_MD_CTX_free(r->ctx);
    EVP_MD_free(r->md);
    EVP_PKEY_free(r->pkey);
    memset(r, 0, sizeof *r);
}

static int pss_setup(EVP_PKEY_CTX *pctx, const EVP_MD *md)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                   EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
                   EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1
               ? 0
               : -1;
}

int ossl_ref_verify(void *arg)
{
    struct ossl_ref *r = arg;
    EVP_PKEY_CTX *pctx = NULL;
    if (EVP_DigestVerifyInit(r->ctx, &pctx, r->md, NULL, r->pkey) != 1)
        return -1;
    if (r->alg[0] == 'P' && pss_setup(pctx, r->md) != 0)
        return -1;
    return EVP_DigestVerify(r->ctx, r->sig, r->sig_len, r->msg, r->msg_len) == 1 ? 0 : -1;
}

int ossl_naive_verify(void *arg)
{
    struct ossl_ref *r = arg;
    uint8_t der[80];
    const uint8_t *sig = r->raw_sig;
    size_t sig_len = r->raw_sig_len;
    const EVP_MD *md = r->alg[0] == 'E' && r->alg[1] == 'd' ? NULL : EVP_sha256();
    if (r->alg[0] == 'E' && r->alg[1] == 'S') {
        sig_len = fx_es256_der(r->raw_sig, der, sizeof der);
        sig = der;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    int rc = -1;
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, &pctx, md, NULL, r->pkey) == 1 &&
        (r->alg[0] != 'P' || pss_setup(pctx, md) == 0) &&
        EVP_DigestVerify(ctx, sig, sig_len, r->msg, r->msg_len) == 1)
        rc = 0;
    EVP_MD_CTX_free(ctx);
    return rc;
}

signet_verifier *bench_signet_verifier(const char *dir, size_t token_cache)
{
    return bench_signet_verifier_dpop(dir, token_cache, 0);
}

signet_verifier *bench_signet_verifier_dpop(const char *dir, size_t token_cache,
                                            size_t dpop_replay)
{
    char path[4096];
    int w = snprintf(path, sizeof path, "%s/jwks.json", dir);
    if (w < 0 || (size_t)w >= sizeof path)
        bench_die("path too long");
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    signet_err err = signet_verifier_config_new(&cfg);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_issuer_jwks_file(cfg, FX_ISS, path);
    if (err == SIGNET_OK)
        err = signet_verifier_config_add_audience(cfg, FX_AUD);
    if (err == SIGNET_OK)
        err = signet_verifier_config_allow_alg(cfg, "PS256");
    if (err == SIGNET_OK && token_cache > 0)
        err = signet_verifier_config_set_token_cache(cfg, token_cache);
    if (err == SIGNET_OK && dpop_replay > 65536) /* else the default, 65536 */
        err = signet_verifier_config_set_dpop_replay_cache(cfg, dpop_replay);
    if (err == SIGNET_OK)
        err = signet_verifier_new(cfg, &v);
    signet_verifier_config_free(cfg);
    if (err != SIGNET_OK)
        bench_die("signet verifier: %s", signet_err_name(err));
    return v;
}

int signet_call_verify(void *arg)
{
    struct signet_call *c = arg;
    signet_claims *claims = NULL;
    signet_err err = signet_verify(c->v, c->token, c->len, NULL, &claims);
    if (err != SIGNET_OK) {
        fprintf(stderr, "signet_verify: %s\n", signet_err_name(err));
        return -1;
    }
    signet_claims_free(claims);
    return 0;
}
