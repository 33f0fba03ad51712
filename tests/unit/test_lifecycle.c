/* Key lifecycle under an injected clock, on a real SoftHSM2 token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#include "common/config.h"
#include "signer/audit.h"
#include "signer/lifecycle.h"
#include "signer/p11.h"
#include "store/keystore.h"
#include "store/store.h"

#define T0 1700000000

struct fx {
    struct sg_test_hsm hsm;
    char dir[256];
    struct sg_config cfg;
    struct sg_lc lc;
    struct sg_store *store;
    struct sg_p11 *p11;
    struct sg_audit *audit;
    char audit_path[300];
    int emergency; /* a revoke happened: its successor skipped pre-publication */
};

static const char *conf_text =
    "[hsm]\nmodule = /unused\n"
    "[keys]\nrotation_period = 600\njwks_max_age = 60\nclock_skew = 30\nmax_token_lifetime = 300\n"
    "[tenant:a]\nissuer = https://a.example/t/a\nalgs = ES256, EdDSA\n"
    "[tenant:b]\nissuer = https://b.example/t/b\nalgs = ES256\n";

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(sg_test_hsm_setup(&f->hsm), 0);
    assert_int_equal(sg_test_mkdtemp(f->dir, sizeof f->dir, "signet-lc"), 0);
    char msg[256] = "";
    signet_err cerr = sg_config_parse_string(conf_text, f->dir, &f->cfg, msg, sizeof msg);
    if (cerr != SIGNET_OK)
        fprintf(stderr, "config: %s\n", msg);
    assert_int_equal(cerr, SIGNET_OK);
    char db[300];
    snprintf(db, sizeof db, "%s/signet.db", f->dir);
    snprintf(f->audit_path, sizeof f->audit_path, "%s/audit.log", f->dir);
    assert_int_equal(sg_keystore_open(db, 1, &f->store), SIGNET_OK);
    struct sg_p11_opts opts;
    sg_test_hsm_opts(&f->hsm, &opts);
    assert_int_equal(sg_p11_open(&opts, f->hsm.user_pin, &f->p11), SIGNET_OK);
    assert_int_equal(sg_audit_open(f->audit_path, &f->audit), SIGNET_OK);
    f->lc.cfg = &f->cfg;
    f->lc.store = f->store;
    f->lc.p11 = f->p11;
    f->lc.audit = f->audit;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    sg_audit_close(&f->audit);
    sg_store_close(&f->store);
    sg_p11_close(&f->p11);
    sg_test_hsm_teardown(&f->hsm);
    sg_test_rmrf(f->dir);
    free(f);
    return 0;
}

static size_t count_state(const struct sg_key *k, size_t n, const char *issuer, const char *alg,
                          enum sg_key_state st)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (k[i].state == st && strcmp(k[i].issuer, issuer) == 0 && strcmp(k[i].alg, alg) == 0)
            c++;
    return c;
}

static int jwks_has(json_t *jwks, const char *kid)
{
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(jwks, "keys"), i, k) {
        if (strcmp(json_string_value(json_object_get(k, "kid")), kid) == 0)
            return 1;
    }
    return 0;
}

/* The invariants that must hold after every step. */
static void check_invariants(struct fx *f, int64_t now)
{
    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_list(f->store, NULL, &keys, &n), SIGNET_OK);
    const int64_t prepub = sg_config_prepublish(&f->cfg);
    const int64_t window = sg_config_retire_window(&f->cfg);
    struct sg_p11_keyinfo *objs = NULL;
    size_t nobj = 0;
    assert_int_equal(sg_p11_list_private(f->p11, &objs, &nobj), SIGNET_OK);
    size_t live_total = 0;
    for (size_t t = 0; t < f->cfg.n_tenants; t++) {
        const struct sg_tenant_cfg *tc = &f->cfg.tenants[t];
        json_t *jwks = NULL;
        assert_int_equal(sg_lifecycle_jwks(&f->lc, tc->issuer, &jwks), SIGNET_OK);
        size_t published = 0;
        for (size_t a = 0; a < tc->n_algs; a++) {
            /* Exactly one ACTIVE and at least one pre-published standby. */
            assert_int_equal(count_state(keys, n, tc->issuer, tc->algs[a], SG_KS_ACTIVE), 1);
            assert_true(count_state(keys, n, tc->issuer, tc->algs[a], SG_KS_PUBLISHED) >= 1);
            assert_int_equal(count_state(keys, n, tc->issuer, tc->algs[a], SG_KS_GENERATING), 0);
            assert_int_equal(count_state(keys, n, tc->issuer, tc->algs[a], SG_KS_PENDING), 0);
        }
        for (size_t i = 0; i < n; i++) {
            const struct sg_key *k = &keys[i];
            if (strcmp(k->issuer, tc->issuer) != 0)
                continue;
            int live = k->state == SG_KS_PUBLISHED || k->state == SG_KS_ACTIVE ||
                       k->state == SG_KS_RETIRED;
            /* JWKS = PUBLISHED u ACTIVE u RETIRED, nothing else. */
            assert_int_equal(jwks_has(jwks, k->kid), live && !k->revoked);
            published += live && !k->revoked;
            int exists = 0;
            for (size_t o = 0; o < nobj; o++)
                exists |= objs[o].id_len == sizeof k->hsm_id &&
                          memcmp(objs[o].id, k->hsm_id, sizeof k->hsm_id) == 0;
            /* Destroyed keys are gone from the token; the others are there. */
            assert_int_equal(exists, k->state != SG_KS_DESTROYED);
            live_total += k->state != SG_KS_DESTROYED;
            if (k->state == SG_KS_DESTROYED && !k->revoked) {
                /* Every token it signed had expired (plus skew) before. */
                assert_true(k->destroyed_at >= k->retired_at + window);
            }
            if (k->activated_at != 0 && k->activated_at != k->published_at && !f->emergency) {
                /* Each successor was published for max-age + skew first;
                 * only an issuer's very first key (nobody could have a
                 * stale set) is activated at publication. */
                assert_true(k->activated_at - k->published_at >= prepub);
            }
            if (k->state == SG_KS_ACTIVE)
                assert_true(now - k->activated_at <= f->cfg.rotation_period + prepub);
        }
        assert_int_equal(json_array_size(json_object_get(jwks, "keys")), published);
        json_decref(jwks);
    }
    /* No private key in the token that the store does not know. */
    assert_int_equal(nobj, live_total);
    free(objs);
    sg_key_list_free(keys, n);
}

static const char *active_kid(struct fx *f, const char *issuer, const char *alg, char *out,
                              size_t cap)
{
    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_list(f->store, issuer, &keys, &n), SIGNET_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (keys[i].state == SG_KS_ACTIVE && strcmp(keys[i].alg, alg) == 0)
            snprintf(out, cap, "%s", keys[i].kid);
    sg_key_list_free(keys, n);
    return out;
}

static void test_bootstrap(void **state)
{
    struct fx *f = *state;
    json_t *report = json_object();
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0, report), SIGNET_OK);
    /* Two tenants, three (issuer, alg) pairs, each: ACTIVE + standby. */
    assert_true(json_array_size(json_object_get(report, "transitions")) >= 3 * 5);
    json_decref(report);
    check_invariants(f, T0);
    /* Idempotent: a second advance at the same time changes nothing. */
    report = json_object();
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0, report), SIGNET_OK);
    assert_int_equal(json_array_size(json_object_get(report, "transitions")), 0);
    json_decref(report);
    /* The keys are real and non-extractable. */
    struct sg_p11_keyinfo *objs = NULL;
    size_t n = 0;
    assert_int_equal(sg_p11_list_private(f->p11, &objs, &n), SIGNET_OK);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        assert_true(objs[i].sensitive);
        assert_false(objs[i].extractable);
        assert_true(objs[i].never_extractable);
    }
    free(objs);
    assert_int_equal(sg_audit_commit(f->audit), SIGNET_OK);
    uint64_t records = 0, bad = 0;
    char why[128];
    assert_int_equal(sg_audit_verify_file(f->audit_path, &records, &bad, why, sizeof why), SIGNET_OK);
    assert_int_equal(records, 3 * 7); /* generating, generated, published, activated + standby's three */
}

/* >= 100 rotations: a verifier refreshing its JWKS cache every max-age
 * always already knows the key that signs "now". */
static void test_many_rotations(void **state)
{
    struct fx *f = *state;
    const char *iss = f->cfg.tenants[0].issuer;
    int64_t now = T0;
    assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
    json_t *cached = NULL;
    int64_t fetched_at = 0;
    char last[64] = "", kid[64];
    int rotations = 0, step = 0;
    while (rotations < 105) {
        now += 23 + (step++ % 31); /* irregular ticks, always < max-age */
        assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
        check_invariants(f, now);
        if (cached == NULL || now - fetched_at >= f->cfg.jwks_max_age) {
            json_decref(cached);
            assert_int_equal(sg_lifecycle_jwks(&f->lc, iss, &cached), SIGNET_OK);
            fetched_at = now;
        }
        active_kid(f, iss, "ES256", kid, sizeof kid);
        assert_true(kid[0] != '\0');
        /* A token signed now verifies against the cached key set. */
        assert_true(jwks_has(cached, kid));
        if (strcmp(kid, last) != 0) {
            if (last[0] != '\0')
                rotations++;
            snprintf(last, sizeof last, "%s", kid);
        }
    }
    json_decref(cached);
    assert_int_equal(sg_audit_commit(f->audit), SIGNET_OK);
    uint64_t records = 0, bad = 0;
    char why[128];
    assert_int_equal(sg_audit_verify_file(f->audit_path, &records, &bad, why, sizeof why), SIGNET_OK);
}

static void test_revoke(void **state)
{
    struct fx *f = *state;
    const char *iss = f->cfg.tenants[1].issuer;
    int64_t now = T0;
    assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
    char victim[64], next[64];
    active_kid(f, iss, "ES256", victim, sizeof victim);
    now += 5; /* the standby is far from pre-published: an emergency ignores that */
    f->emergency = 1;
    assert_int_equal(sg_lifecycle_revoke(&f->lc, victim, now, NULL), SIGNET_OK);
    active_kid(f, iss, "ES256", next, sizeof next);
    assert_true(next[0] != '\0');
    assert_string_not_equal(victim, next);
    json_t *jwks = NULL;
    assert_int_equal(sg_lifecycle_jwks(&f->lc, iss, &jwks), SIGNET_OK);
    assert_false(jwks_has(jwks, victim));
    assert_true(jwks_has(jwks, next));
    json_decref(jwks);
    struct sg_key k;
    assert_int_equal(sg_store_key_by_kid(f->store, victim, &k), SIGNET_OK);
    assert_int_equal(k.state, SG_KS_DESTROYED);
    assert_true(k.revoked);
    bool exists = true;
    assert_int_equal(sg_p11_exists(f->p11, k.hsm_id, &exists), SIGNET_OK);
    assert_false(exists);
    sg_key_clear(&k);
    check_invariants(f, now);
    /* Unknown and already-destroyed kids are refused without change. */
    assert_int_equal(sg_lifecycle_revoke(&f->lc, "no-such-kid", now, NULL), SIGNET_ERR_UNKNOWN_KID);
    assert_int_equal(sg_lifecycle_revoke(&f->lc, victim, now, NULL), SIGNET_ERR_KEY_STATE);
    check_invariants(f, now);
}

static void test_rotate_request_respects_prepublication(void **state)
{
    struct fx *f = *state;
    const char *iss = f->cfg.tenants[1].issuer;
    int64_t now = T0;
    assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
    char before[64], after[64];
    active_kid(f, iss, "ES256", before, sizeof before);
    /* Too early: the standby has not been published for max-age + skew. */
    assert_int_equal(sg_lifecycle_rotate(&f->lc, iss, now + 10, NULL), SIGNET_OK);
    assert_string_equal(active_kid(f, iss, "ES256", after, sizeof after), before);
    /* Once it has, the requested rotation happens. */
    now += sg_config_prepublish(&f->cfg);
    assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
    assert_string_not_equal(active_kid(f, iss, "ES256", after, sizeof after), before);
    check_invariants(f, now);
    assert_int_equal(sg_lifecycle_rotate(&f->lc, "https://unknown.example", now, NULL),
                     SIGNET_ERR_UNKNOWN_ISSUER_CONFIG);
}

/* A GENERATING row (crash between the row and the HSM) is completed or
 * tombstoned; an orphan object never survives. */
static void test_recover_generating(void **state)
{
    struct fx *f = *state;
    int64_t now = T0;
    assert_int_equal(sg_lifecycle_advance(&f->lc, now, NULL), SIGNET_OK);
    /* Row written, nothing in the HSM. */
    struct sg_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.issuer, sizeof k.issuer, "%s", f->cfg.tenants[1].issuer);
    snprintf(k.alg, sizeof k.alg, "ES256");
    memset(k.hsm_id, 0xab, sizeof k.hsm_id);
    k.state = SG_KS_GENERATING;
    k.created_at = now;
    assert_int_equal(sg_store_begin(f->store), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(f->store, &k), SIGNET_OK);
    assert_int_equal(sg_store_commit(f->store), SIGNET_OK);
    /* Row written and the pair generated, but not yet recorded. */
    struct sg_key k2;
    memset(&k2, 0, sizeof k2);
    snprintf(k2.issuer, sizeof k2.issuer, "%s", f->cfg.tenants[1].issuer);
    snprintf(k2.alg, sizeof k2.alg, "ES256");
    memset(k2.hsm_id, 0xcd, sizeof k2.hsm_id);
    k2.state = SG_KS_GENERATING;
    k2.created_at = now;
    assert_int_equal(sg_store_begin(f->store), SIGNET_OK);
    assert_int_equal(sg_store_key_insert(f->store, &k2), SIGNET_OK);
    assert_int_equal(sg_store_commit(f->store), SIGNET_OK);
    char *jwk = NULL, kid[SG_THUMBPRINT_LEN + 1];
    assert_int_equal(sg_p11_generate(f->p11, SG_ALG_ES256, k2.hsm_id, "x", &jwk, kid), SIGNET_OK);
    free(jwk);
    assert_int_equal(sg_lifecycle_advance(&f->lc, now + 1, NULL), SIGNET_OK);
    struct sg_key got;
    assert_int_equal(sg_store_key_by_kid(f->store, kid, &got), SIGNET_OK);
    assert_int_equal(got.state, SG_KS_PUBLISHED);
    sg_key_clear(&got);
    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_list(f->store, NULL, &keys, &n), SIGNET_OK);
    for (size_t i = 0; i < n; i++)
        if (keys[i].id == k.id)
            assert_int_equal(keys[i].state, SG_KS_DESTROYED);
    sg_key_list_free(keys, n);
    check_invariants(f, now + 1);
}

static void test_db_refuses_second_active(void **state)
{
    struct fx *f = *state;
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0, NULL), SIGNET_OK);
    struct sg_key *keys = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_key_list(f->store, f->cfg.tenants[1].issuer, &keys, &n), SIGNET_OK);
    int tried = 0;
    for (size_t i = 0; i < n; i++) {
        if (keys[i].state != SG_KS_PUBLISHED)
            continue;
        keys[i].state = SG_KS_ACTIVE;
        assert_int_equal(sg_store_begin(f->store), SIGNET_OK);
        assert_int_equal(sg_store_key_update(f->store, &keys[i]), SIGNET_ERR_EXISTS);
        sg_store_rollback(f->store);
        tried = 1;
    }
    assert_true(tried);
    sg_key_list_free(keys, n);
    check_invariants(f, T0);
}

/* Shortening rotation_period takes effect for the key already ACTIVE. */
static void test_shorter_period_replans(void **state)
{
    struct fx *f = *state;
    const char *iss = f->cfg.tenants[1].issuer;
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0, NULL), SIGNET_OK);
    char before[64], after[64];
    active_kid(f, iss, "ES256", before, sizeof before);
    f->cfg.rotation_period = 200; /* was 600; the prepublication is 90 */
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0 + 199, NULL), SIGNET_OK);
    assert_string_equal(active_kid(f, iss, "ES256", after, sizeof after), before);
    assert_int_equal(sg_lifecycle_advance(&f->lc, T0 + 200, NULL), SIGNET_OK);
    assert_string_not_equal(active_kid(f, iss, "ES256", after, sizeof after), before);
    check_invariants(f, T0 + 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bootstrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_rotations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate_request_respects_prepublication, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recover_generating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_db_refuses_second_active, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shorter_period_replans, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
