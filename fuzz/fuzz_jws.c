/* libFuzzer target: the compact JWS parser, header policy and the whole
 * signet_verify() decision against a fixed static JWKS (one P-256 key,
 * kid "f1", issuer "https://fuzz.example") with a fixed clock. Seeds in
 * fuzz/corpus/fuzz_jws/ are real tokens for that key and hostile variants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jws.h"
#include "signet/signet.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char jwks[] =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"f1\",\"alg\":\"ES256\","
    "\"x\":\"DWq4CLDKNwfnkae9_hUMZobiCUYvlBBuhoqFpZLKbLo\","
    "\"y\":\"ZZvMkeSNXi7E9bjmhs_r-7d2m0KVmwPKbUyTL82mQPg\","
    "\"iss\":\"https://fuzz.example\",\"active_from\":1699000000},"
    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"f2\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

static signet_verifier *verifier;

static int64_t fuzz_clock(void *ctx)
{
    (void)ctx;
    return 1700000000;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signet_verifier_config *cfg = NULL;
    if (signet_verifier_config_new(&cfg) != SIGNET_OK ||
        signet_verifier_config_add_issuer_jwks_json(cfg, "https://fuzz.example", jwks,
                                                    sizeof jwks - 1) != SIGNET_OK ||
        signet_verifier_config_add_audience(cfg, "api://fuzz") != SIGNET_OK ||
        signet_verifier_config_set_clock(cfg, fuzz_clock, NULL) != SIGNET_OK ||
        signet_verifier_config_set_background_refresh(cfg, 0) != SIGNET_OK ||
        signet_verifier_config_set_token_cache(cfg, 8) != SIGNET_OK ||
        signet_verifier_new(cfg, &verifier) != SIGNET_OK)
        abort();
    signet_verifier_config_free(cfg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser and header policy on their own... */
    struct sg_jws jws;
    if (sg_jws_parse((const char *)data, size, &jws) == SIGNET_OK) {
        static const struct sg_header_policy pol = {0x7f, "at+jwt"};
        enum sg_alg alg;
        const char *kid = NULL;
        if (sg_jws_check_header(&jws, &pol, &alg, &kid) == SIGNET_OK && kid != NULL &&
            strlen(kid) > 256)
            abort();
        sg_jws_clear(&jws);
    }
    /* ...and the whole decision, including the claims getters. */
    signet_claims *c = NULL;
    signet_err err = signet_verify(verifier, (const char *)data, size, NULL, &c);
    if ((err == SIGNET_OK) != (c != NULL))
        abort();
    if (c != NULL) {
        const char *s = NULL;
        int64_t i = 0;
        size_t n = 0;
        char *json = NULL;
        if (signet_claims_get_string(c, "sub", &s) == SIGNET_OK && s == NULL)
            abort();
        (void)!signet_claims_get_int(c, "exp", &i);
        if (signet_claims_get_string_array_count(c, "aud", &n) == SIGNET_OK && n == 0)
            abort();
        if (signet_claims_get_json(c, NULL, &json) == SIGNET_OK)
            signet_free(json);
        signet_claims_free(c);
    }
    return 0;
}
