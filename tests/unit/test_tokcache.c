/* libsignet's verified-token cache gives exactly the verdicts of a full
 * verification. Two verifiers share a JWKS file and an injected clock, one
 * with the cache and one without; every token of a mixed set (valid,
 * expiring, not yet valid, wrong audience, forged, from a retired key, from
 * a key that is later removed or replaced under the same kid) is verified by
 * both at several times and JWKS states, twice by the cached one so that
 * the second call can be a hit. Results, claims and key identity must be
 * equal every time, and the cache must really have answered some calls. */
#include <signet/signet.h>

#include <time.h>

#include "test_signet_kit.h"
#include "testutil.h"

#define ISS "https://issuer.example"
#define AUD "api://orders"
#define NTOK 14

struct env {
    char dir[256];
    char path[320];
    EVP_PKEY *k1, *k1b, *k2, *old;
    char *tokens[NTOK];
    int64_t now;
    int from_cache; /* of the last decision of the cached verifier */
    unsigned long hits;
    signet_verifier *cached, *plain;
};

static int64_t env_clock(void *ctx)
{
    return ((struct env *)ctx)->now;
}

static void on_event(const signet_event *ev, void *ctx)
{
    struct env *e = ctx;
    e->from_cache = ev->from_cache;
    e->hits += ev->from_cache != 0;
}

static json_t *jwk_scoped(EVP_PKEY *k, const char *kid, int64_t from, int64_t until)
{
    json_t *j = kit_jwk(k, kid);
    json_object_set_new(j, "iss", json_string(ISS));
    json_object_set_new(j, "active_from", json_integer(from));
    if (until != 0)
        json_object_set_new(j, "active_until", json_integer(until));
    return j;
}

/* Writes the JWKS file: k1 (or its replacement k1b under the same kid), k2,
 * and the retired key "old" (active until an hour ago). */
static void write_jwks(struct env *e, int with_k1, int k1_replaced)
{
    json_t *keys[4] = {NULL, NULL, NULL, NULL};
    size_t n = 0;
    if (with_k1)
        keys[n++] = jwk_scoped(k1_replaced ? e->k1b : e->k1, "k1", KIT_NOW - 86400, 0);
    keys[n++] = jwk_scoped(e->k2, "k2", KIT_NOW - 86400, 0);
    keys[n++] = jwk_scoped(e->old, "old", KIT_NOW - 7 * 86400, KIT_NOW - 3600);
    char *text = kit_jwks_text(keys);
    FILE *f = fopen(e->path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    for (size_t i = 0; i < n; i++)
        json_decref(keys[i]);
}

static signet_verifier *make_verifier(struct env *e, size_t cache)
{
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_file(cfg, ISS, e->path), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, env_clock, e), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    if (cache > 0) {
        assert_int_equal(signet_verifier_config_set_token_cache(cfg, cache), SIGNET_OK);
        assert_int_equal(signet_verifier_config_set_event_callback(cfg, on_event, e), SIGNET_OK);
    }
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    return v;
}

static char *token(EVP_PKEY *k, const char *kid, int64_t iat, int64_t lifetime, const char *aud,
                   int64_t nbf, const char *jti)
{
    json_t *c = kit_claims(ISS, aud, iat);
    json_object_set_new(c, "exp", json_integer(iat + lifetime));
    json_object_set_new(c, "nbf", json_integer(nbf));
    json_object_set_new(c, "jti", json_string(jti));
    return kit_sign_json(k, SG_ALG_ES256, kit_header("ES256", kid), c);
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof *e);
    assert_non_null(e);
    assert_int_equal(sg_test_mkdtemp(e->dir, sizeof e->dir, "signet-tokcache"), 0);
    snprintf(e->path, sizeof e->path, "%s/jwks.json", e->dir);
    e->k1 = kit_keygen(KIT_P256);
    e->k1b = kit_keygen(KIT_P256);
    e->k2 = kit_keygen(KIT_P256);
    e->old = kit_keygen(KIT_P256);
    e->now = KIT_NOW;
    size_t n = 0;
    e->tokens[n++] = token(e->k1, "k1", KIT_NOW, 600, AUD, KIT_NOW, "t-valid-k1");
    e->tokens[n++] = token(e->k2, "k2", KIT_NOW, 600, AUD, KIT_NOW, "t-valid-k2");
    e->tokens[n++] = token(e->k1, "k1", KIT_NOW - 500, 600, AUD, KIT_NOW - 500, "t-expiring");
    e->tokens[n++] = token(e->k2, "k2", KIT_NOW, 3600, AUD, KIT_NOW + 300, "t-nbf-later");
    e->tokens[n++] = token(e->k2, "k2", KIT_NOW, 600, "api://other", KIT_NOW, "t-wrong-aud");
    e->tokens[n++] = token(e->k2, "k2", KIT_NOW + 200, 600, AUD, KIT_NOW + 200, "t-iat-later");
    e->tokens[n++] = token(e->k1, "k1", KIT_NOW, 2 * 86400, AUD, KIT_NOW, "t-too-long");
    e->tokens[n++] = token(e->old, "old", KIT_NOW, 600, AUD, KIT_NOW, "t-retired-key");
    e->tokens[n++] = token(e->old, "old", KIT_NOW - 7200, 86400, AUD, KIT_NOW - 7200, "t-old-ok");
    e->tokens[n++] = token(e->k2, "k1", KIT_NOW, 600, AUD, KIT_NOW, "t-forged-k1");
    e->tokens[n++] = token(e->k1b, "k1", KIT_NOW, 600, AUD, KIT_NOW, "t-k1-replacement");
    e->tokens[n++] = token(e->k2, "k9", KIT_NOW, 600, AUD, KIT_NOW, "t-unknown-kid");
    /* The same claims as the first token but another signature: distinct
     * cache keys for one claims set. */
    e->tokens[n++] = token(e->k2, "k2", KIT_NOW, 600, AUD, KIT_NOW, "t-valid-k1");
    /* A tampered copy of the first token (last signature character). */
    char *t = strdup(e->tokens[0]);
    size_t len = strlen(t);
    t[len - 2] = t[len - 2] == 'A' ? 'B' : 'A';
    e->tokens[n++] = t;
    assert_int_equal(n, NTOK);
    write_jwks(e, 1, 0);
    /* A small cache: 14 tokens cycle through 4 entries, so eviction runs. */
    e->cached = make_verifier(e, 4);
    e->plain = make_verifier(e, 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    signet_verifier_free(e->cached);
    signet_verifier_free(e->plain);
    for (size_t i = 0; i < NTOK; i++)
        free(e->tokens[i]);
    EVP_PKEY_free(e->k1);
    EVP_PKEY_free(e->k1b);
    EVP_PKEY_free(e->k2);
    EVP_PKEY_free(e->old);
    sg_test_rmrf(e->dir);
    free(e);
    return 0;
}

static void assert_same_claims(const signet_claims *a, const signet_claims *b)
{
    assert_string_equal(signet_claims_issuer(a), signet_claims_issuer(b));
    assert_string_equal(signet_claims_kid(a), signet_claims_kid(b));
    assert_string_equal(signet_claims_thumbprint(a), signet_claims_thumbprint(b));
    assert_string_equal(signet_claims_alg(a), signet_claims_alg(b));
    char *ja = NULL, *jb = NULL;
    assert_int_equal(signet_claims_get_json(a, NULL, &ja), SIGNET_OK);
    assert_int_equal(signet_claims_get_json(b, NULL, &jb), SIGNET_OK);
    assert_string_equal(ja, jb);
    signet_free(ja);
    signet_free(jb);
}

/* Every token, cached verifier twice and plain once: identical outcomes. */
static void compare_all(struct env *e)
{
    for (size_t i = 0; i < NTOK; i++) {
        const char *t = e->tokens[i];
        signet_claims *want = NULL, *first = NULL, *second = NULL;
        signet_err w = signet_verify(e->plain, t, strlen(t), NULL, &want);
        signet_err r1 = signet_verify(e->cached, t, strlen(t), NULL, &first);
        signet_err r2 = signet_verify(e->cached, t, strlen(t), NULL, &second);
        if (r1 != w || r2 != w)
            fail_msg("token %zu at now=%lld: uncached %s, cached %s then %s", i,
                     (long long)e->now, signet_err_name(w), signet_err_name(r1),
                     signet_err_name(r2));
        if (w == SIGNET_OK) {
            assert_same_claims(want, first);
            assert_same_claims(want, second);
        } else {
            assert_null(first);
            assert_null(second);
        }
        signet_claims_free(want);
        signet_claims_free(first);
        signet_claims_free(second);
    }
}

static void test_cached_verdicts_equal_uncached(void **state)
{
    struct env *e = *state;
    /* Across the lifetimes: before nbf, inside, around exp +- skew. */
    static const int64_t times[] = {0, 1, 150, 299, 301, 360, 599, 620, 659, 660, 700, 3000};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        e->now = KIT_NOW + times[i];
        compare_all(e);
    }
    assert_true(e->hits > 0);
}

static void test_key_removal_and_replacement_honoured(void **state)
{
    struct env *e = *state;
    e->now = KIT_NOW + 10;
    compare_all(e);
    const char *t = e->tokens[0];
    signet_claims *c = NULL;
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_OK);
    signet_claims_free(c);
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 1);
    signet_claims_free(c);

    /* k1 leaves the set: its tokens fail at once, cached or not. */
    write_jwks(e, 0, 0);
    assert_int_equal(signet_verifier_refresh(e->cached), SIGNET_OK);
    assert_int_equal(signet_verifier_refresh(e->plain), SIGNET_OK);
    compare_all(e);
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c),
                     SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);

    /* Another key under the same kid: the cached verdict for the old key's
     * token is not reused (thumbprint differs); the signature decides. */
    write_jwks(e, 1, 1);
    assert_int_equal(signet_verifier_refresh(e->cached), SIGNET_OK);
    assert_int_equal(signet_verifier_refresh(e->plain), SIGNET_OK);
    compare_all(e);
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(e->from_cache, 0);
    const char *nt = e->tokens[10]; /* signed by the replacement */
    assert_int_equal(signet_verify(e->cached, nt, strlen(nt), NULL, &c), SIGNET_OK);
    signet_claims_free(c);

    /* And back: the original key returns, its token verifies again. */
    write_jwks(e, 1, 0);
    assert_int_equal(signet_verifier_refresh(e->cached), SIGNET_OK);
    assert_int_equal(signet_verifier_refresh(e->plain), SIGNET_OK);
    compare_all(e);
}

static void test_entry_never_outlives_exp(void **state)
{
    struct env *e = *state;
    const char *t = e->tokens[2]; /* exp = NOW + 100, skew 60 */
    signet_claims *c = NULL;
    e->now = KIT_NOW;
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_OK);
    signet_claims_free(c);
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 1);
    signet_claims_free(c);
    /* Past exp but within the skew: valid, yet no longer from the cache. */
    e->now = KIT_NOW + 120;
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_OK);
    assert_int_equal(e->from_cache, 0);
    signet_claims_free(c);
    e->now = KIT_NOW + 160;
    assert_int_equal(signet_verify(e->cached, t, strlen(t), NULL, &c), SIGNET_ERR_EXPIRED);
    assert_int_equal(e->from_cache, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cached_verdicts_equal_uncached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_removal_and_replacement_honoured, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_entry_never_outlives_exp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
