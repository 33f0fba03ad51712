/* Many threads verifying with one verifier while the issuer's JWKS rotates
 * underneath (served by a loopback HTTP server; a rotator thread forces
 * refreshes while the background thread also runs). Every verdict must be
 * right for every key: the stable key always verifies, a forged signature
 * and an unpublished key never do, rotating keys only as "valid" or "not in
 * the set", or refused by a standby's future window (which refreshes the
 * set: issue 11). Sets expire every 1-2 s, so verifiers keep meeting stale
 * sets, revalidated by the refresh thread, or, without it, by one of them
 * while the others go on. Meant for ASan and TSan (cmake -DSIGNET_TSAN=ON). */
#include <signet/signet.h>

#include <time.h>

#include "test_signet_kit.h"
#include "testutil.h"

#define AUD "rs"
#define WORKERS 4
#define ROUNDS 150
#define ROTATIONS 40
#define NROT 4

struct shared {
    signet_verifier *v;
    char *tok_stable, *tok_unpublished, *tok_forged;
    char *tok_rot[NROT];
    atomic_int wrong;
    atomic_int ok_rot;
    atomic_int done;
    atomic_int verifies;
};

static signet_err run(signet_verifier *v, const char *tok)
{
    signet_claims *c = NULL;
    signet_err err = signet_verify(v, tok, strlen(tok), NULL, &c);
    if ((err == SIGNET_OK) != (c != NULL))
        err = SIGNET_ERR_INTERNAL;
    if (c != NULL && strcmp(signet_claims_kid(c), "") == 0)
        err = SIGNET_ERR_INTERNAL;
    signet_claims_free(c);
    return err;
}

static void *worker(void *arg)
{
    struct shared *s = arg;
    for (int r = 0; r < ROUNDS; r++) {
        if (run(s->v, s->tok_stable) != SIGNET_OK)
            atomic_fetch_add(&s->wrong, 1);
        if (run(s->v, s->tok_unpublished) != SIGNET_ERR_KEY_NOT_IN_ISSUER_SET)
            atomic_fetch_add(&s->wrong, 1);
        if (run(s->v, s->tok_forged) != SIGNET_ERR_BAD_SIGNATURE)
            atomic_fetch_add(&s->wrong, 1);
        for (int i = 0; i < NROT; i++) {
            signet_err e = run(s->v, s->tok_rot[i]);
            if (e == SIGNET_OK)
                atomic_fetch_add(&s->ok_rot, 1);
            else if (e != SIGNET_ERR_KEY_NOT_IN_ISSUER_SET &&
                     e != SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT)
                atomic_fetch_add(&s->wrong, 1);
        }
        atomic_fetch_add(&s->verifies, 3 + NROT);
    }
    return NULL;
}

static char *tok(EVP_PKEY *k, const char *kid, const char *iss)
{
    return kit_sign_json(k, SG_ALG_ES256, kit_header("ES256", kid),
                         kit_claims(iss, AUD, (int64_t)time(NULL) - 5));
}

static void rotate_under_load(int token_cache, int background)
{
    struct kit_http http;
    kit_http_start(&http);
    char issuer[64];
    snprintf(issuer, sizeof issuer, "http://127.0.0.1:%d", http.port);
    EVP_PKEY *stable = kit_keygen(KIT_P256), *x = kit_keygen(KIT_P256);
    EVP_PKEY *rot[NROT];
    json_t *jrot[NROT], *jfuture[NROT];
    char kid[8];
    for (int i = 0; i < NROT; i++) {
        rot[i] = kit_keygen(KIT_P256);
        snprintf(kid, sizeof kid, "r%d", i);
        jrot[i] = kit_jwk(rot[i], kid);
        jfuture[i] = kit_jwk(rot[i], kid);
        json_object_set_new(jfuture[i], "active_from", json_integer((int64_t)time(NULL) + 3600));
    }
    json_t *jstable = kit_jwk(stable, "s");
    /* Sets: {s, r_i} and {s, r_i, r_i+1 as a standby with a future
     * active_from}, cycling. */
    char *sets[2 * NROT];
    for (int i = 0; i < NROT; i++) {
        json_t *one[] = {jstable, jrot[i], NULL};
        json_t *two[] = {jstable, jrot[i], jfuture[(i + 1) % NROT], NULL};
        sets[2 * i] = kit_jwks_text(one);
        sets[2 * i + 1] = kit_jwks_text(two);
    }
    kit_http_route(&http, 0, "/jwks", 200, sets[0], "Cache-Control: max-age=1\r\n");

    struct shared s;
    memset(&s, 0, sizeof s);
    signet_verifier_config *cfg = NULL;
    char *url = kit_url(&http, "/jwks");
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_url(cfg, issuer, url), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_cache_bounds(cfg, 1, 2), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_refresh_cooldown(cfg, 0), SIGNET_OK);
    if (token_cache)
        assert_int_equal(signet_verifier_config_set_token_cache(cfg, 16), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, background), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &s.v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    free(url);

    s.tok_stable = tok(stable, "s", issuer);
    s.tok_unpublished = tok(x, "x", issuer);
    s.tok_forged = tok(x, "s", issuer);
    for (int i = 0; i < NROT; i++) {
        snprintf(kid, sizeof kid, "r%d", i);
        s.tok_rot[i] = tok(rot[i], kid, issuer);
    }
    pthread_t th[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &s), 0);
    /* Rotate while they verify: swap the document, force a refresh. */
    for (int r = 0; r < ROTATIONS; r++) {
        kit_http_route(&http, 0, "/jwks", 200, sets[r % (2 * NROT)], "Cache-Control: max-age=1\r\n");
        assert_int_equal(signet_verifier_refresh(s.v), SIGNET_OK);
        usleep(2000);
    }
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    printf("# %d verifies, %d wrong verdicts, %d rotating-key acceptances (token cache %s, "
           "refresh thread %s)\n",
           atomic_load(&s.verifies), atomic_load(&s.wrong), atomic_load(&s.ok_rot),
           token_cache ? "on" : "off", background ? "on" : "off");
    assert_int_equal(atomic_load(&s.wrong), 0);
    assert_true(atomic_load(&s.ok_rot) > 0);
    assert_int_equal(signet_verifier_count(s.v, SIGNET_ERR_BAD_SIGNATURE), WORKERS * ROUNDS);

    /* After the last rotation only s and the final r keys remain. */
    kit_http_route(&http, 0, "/jwks", 200, sets[0], "Cache-Control: max-age=1\r\n");
    assert_int_equal(signet_verifier_refresh(s.v), SIGNET_OK);
    assert_int_equal(run(s.v, s.tok_rot[0]), SIGNET_OK);
    assert_int_equal(run(s.v, s.tok_rot[2]), SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);

    signet_verifier_free(s.v);
    kit_http_stop(&http);
    free(s.tok_stable);
    free(s.tok_unpublished);
    free(s.tok_forged);
    for (int i = 0; i < NROT; i++) {
        free(s.tok_rot[i]);
        json_decref(jrot[i]);
        json_decref(jfuture[i]);
        EVP_PKEY_free(rot[i]);
    }
    for (int i = 0; i < 2 * NROT; i++)
        free(sets[i]);
    json_decref(jstable);
    EVP_PKEY_free(stable);
    EVP_PKEY_free(x);
}

static void test_rotation_under_load(void **state)
{
    (void)state;
    rotate_under_load(0, 1);
}

static void test_rotation_under_load_without_thread(void **state)
{
    (void)state;
    rotate_under_load(0, 0);
}

static void test_rotation_under_load_with_token_cache(void **state)
{
    (void)state;
    rotate_under_load(1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rotation_under_load),
        cmocka_unit_test(test_rotation_under_load_with_token_cache),
        cmocka_unit_test(test_rotation_under_load_without_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
