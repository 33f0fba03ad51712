/* libsignet: one test per validation rule. Every token is signed here with
 * freshly generated keys and differs from a valid token in one respect, so
 * each rejection has exactly one reason, asserted by its code. */
#include <signet/signet.h>

#include "test_signet_kit.h"
#include "testutil.h"

#include "util/thumbprint.h"

#define ISS_A "https://a.example"
#define ISS_B "https://b.example"
#define AUD "api://orders"

struct world {
    EVP_PKEY *a1;  /* P-256, A, scoped to A, active from NOW - 1 day */
    EVP_PKEY *a2;  /* Ed25519, A, no signet metadata */
    EVP_PKEY *a3;  /* RSA, A, JWK alg PS256 */
    EVP_PKEY *a4;  /* P-256, A, retired: active_until NOW - 1 h */
    EVP_PKEY *a9;  /* P-256 in A's set but scoped to B */
    EVP_PKEY *b1;  /* P-256, B */
    EVP_PKEY *x;   /* never published */
    char *jwks_a;
    char *jwks_b;
    char thumb_a1[SG_THUMBPRINT_LEN + 1];
    int64_t now;
    signet_verifier *v;
    int events;
    signet_event last;
    char last_kid[64];
    char last_jti[64];
    char last_thumb[64];
};

static int64_t world_clock(void *ctx)
{
    return ((struct world *)ctx)->now;
}

static void on_event(const signet_event *ev, void *ctx)
{
    struct world *w = ctx;
    w->events++;
    w->last = *ev;
    snprintf(w->last_kid, sizeof w->last_kid, "%s", ev->kid ? ev->kid : "");
    snprintf(w->last_jti, sizeof w->last_jti, "%s", ev->jti ? ev->jti : "");
    snprintf(w->last_thumb, sizeof w->last_thumb, "%s", ev->thumbprint ? ev->thumbprint : "");
    assert_non_null(ev->reason);
}

static json_t *jwk_with(EVP_PKEY *k, const char *kid, const char *iss, int64_t from,
                        int64_t until)
{
    json_t *j = kit_jwk(k, kid);
    json_object_set_new(j, "use", json_string("sig"));
    if (iss != NULL)
        json_object_set_new(j, "iss", json_string(iss));
    if (from != 0)
        json_object_set_new(j, "active_from", json_integer(from));
    if (until != 0)
        json_object_set_new(j, "active_until", json_integer(until));
    return j;
}

static signet_verifier_config *base_config(struct world *w)
{
    signet_verifier_config *cfg = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS_A, w->jwks_a,
                                                                 strlen(w->jwks_a)),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS_B, w->jwks_b,
                                                                 strlen(w->jwks_b)),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, world_clock, w), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_event_callback(cfg, on_event, w), SIGNET_OK);
    return cfg;
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    w->now = KIT_NOW;
    w->a1 = kit_keygen(KIT_P256);
    w->a2 = kit_keygen(KIT_ED25519);
    w->a3 = kit_keygen(KIT_RSA2048);
    w->a4 = kit_keygen(KIT_P256);
    w->a9 = kit_keygen(KIT_P256);
    w->b1 = kit_keygen(KIT_P256);
    w->x = kit_keygen(KIT_P256);
    json_t *a1 = jwk_with(w->a1, "a1", ISS_A, KIT_NOW - 86400, 0);
    json_object_set_new(a1, "alg", json_string("ES256"));
    json_t *a3 = jwk_with(w->a3, "a3", NULL, 0, 0);
    json_object_set_new(a3, "alg", json_string("PS256"));
    json_t *ka[] = {a1, jwk_with(w->a2, "a2", NULL, 0, 0), a3,
                    jwk_with(w->a4, "a4", ISS_A, KIT_NOW - 7 * 86400, KIT_NOW - 3600),
                    jwk_with(w->a9, "a9", ISS_B, KIT_NOW - 86400, 0), NULL};
    json_t *kb[] = {jwk_with(w->b1, "b1", ISS_B, KIT_NOW - 86400, 0), NULL};
    assert_int_equal(sg_jwk_thumbprint(a1, w->thumb_a1), SIGNET_OK);
    w->jwks_a = kit_jwks_text(ka);
    w->jwks_b = kit_jwks_text(kb);
    for (size_t i = 0; ka[i] != NULL; i++)
        json_decref(ka[i]);
    json_decref(kb[0]);
    signet_verifier_config *cfg = base_config(w);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "PS256"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "PS384"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "ES384"), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &w->v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    signet_verifier_free(w->v);
    EVP_PKEY *keys[] = {w->a1, w->a2, w->a3, w->a4, w->a9, w->b1, w->x};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        EVP_PKEY_free(keys[i]);
    free(w->jwks_a);
    free(w->jwks_b);
    free(w);
    return 0;
}

/* Verifies with w->v and returns the code; claims are checked and freed. */
static signet_err check(struct world *w, const char *tok)
{
    signet_claims *c = NULL;
    signet_err err = signet_verify(w->v, tok, strlen(tok), NULL, &c);
    if (err == SIGNET_OK)
        assert_non_null(c);
    else
        assert_null(c);
    signet_claims_free(c);
    return err;
}

/* Signs header/claims (stolen) and verifies. */
static signet_err signed_check(struct world *w, EVP_PKEY *k, enum sg_alg alg, json_t *h,
                               json_t *c)
{
    char *tok = kit_sign_json(k, alg, h, c);
    signet_err err = check(w, tok);
    free(tok);
    return err;
}

static json_t *hdr(const char *alg, const char *kid)
{
    return kit_header(alg, kid);
}

static json_t *clm(void)
{
    return kit_claims(ISS_A, AUD, KIT_NOW - 10);
}

#define EXPECT(w, want, k, alg, h, c) assert_int_equal(signed_check(w, k, alg, h, c), want)

/* ---- the valid baseline -------------------------------------------------- */

static void test_valid_es256_and_claims(void **state)
{
    struct world *w = *state;
    json_t *c = clm();
    json_t *aud = json_array();
    json_array_append_new(aud, json_string("other"));
    json_array_append_new(aud, json_string(AUD));
    json_object_set_new(c, "aud", aud);
    json_object_set_new(c, "n", json_integer(42));
    char *tok = kit_sign_json(w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    signet_claims *cl = NULL;
    uint64_t ok_before = signet_verifier_count(w->v, SIGNET_OK);
    assert_int_equal(signet_verify(w->v, tok, strlen(tok), NULL, &cl), SIGNET_OK);
    assert_int_equal(signet_verifier_count(w->v, SIGNET_OK), ok_before + 1);
    assert_string_equal(signet_claims_issuer(cl), ISS_A);
    assert_string_equal(signet_claims_kid(cl), "a1");
    assert_string_equal(signet_claims_alg(cl), "ES256");
    assert_string_equal(signet_claims_thumbprint(cl), w->thumb_a1);
    const char *s = NULL;
    assert_int_equal(signet_claims_get_string(cl, "sub", &s), SIGNET_OK);
    assert_string_equal(s, "alice");
    assert_int_equal(signet_claims_get_string(cl, "nope", &s), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(signet_claims_get_string(cl, "n", &s), SIGNET_ERR_BAD_CLAIM);
    int64_t n = 0;
    assert_int_equal(signet_claims_get_int(cl, "n", &n), SIGNET_OK);
    assert_int_equal(n, 42);
    assert_int_equal(signet_claims_get_int(cl, "sub", &n), SIGNET_ERR_BAD_CLAIM);
    size_t count = 0;
    assert_int_equal(signet_claims_get_string_array_count(cl, "aud", &count), SIGNET_OK);
    assert_int_equal(count, 2);
    assert_int_equal(signet_claims_get_string_array_item(cl, "aud", 1, &s), SIGNET_OK);
    assert_string_equal(s, AUD);
    assert_int_equal(signet_claims_get_string_array_item(cl, "aud", 2, &s), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(signet_claims_get_string_array_count(cl, "sub", &count), SIGNET_OK);
    assert_int_equal(count, 1);
    assert_int_equal(signet_claims_get_string_array_count(cl, "n", &count), SIGNET_ERR_BAD_CLAIM);
    char *json = NULL;
    assert_int_equal(signet_claims_get_json(cl, "aud", &json), SIGNET_OK);
    assert_string_equal(json, "[\"other\",\"api://orders\"]");
    signet_free(json);
    assert_int_equal(signet_claims_get_json(cl, NULL, &json), SIGNET_OK);
    assert_non_null(strstr(json, "\"sub\":\"alice\""));
    signet_free(json);
    signet_claims_free(cl);
    /* The event names the key but never carries the token. */
    assert_int_equal(w->last.result, SIGNET_OK);
    assert_string_equal(w->last_kid, "a1");
    assert_string_equal(w->last_jti, "jti-1");
    assert_string_equal(w->last_thumb, w->thumb_a1);
    free(tok);
}

static void test_valid_eddsa_and_ps256(void **state)
{
    struct world *w = *state;
    EXPECT(w, SIGNET_OK, w->a2, SG_ALG_EDDSA, hdr("EdDSA", "a2"), clm());
    EXPECT(w, SIGNET_OK, w->a3, SG_ALG_PS256, hdr("PS256", "a3"), clm());
    /* Issuer B's own key for B's own token. */
    EXPECT(w, SIGNET_OK, w->b1, SG_ALG_ES256, hdr("ES256", "b1"),
           kit_claims(ISS_B, AUD, KIT_NOW - 10));
}

/* ---- rule 1: issuer-scoped key lookup ------------------------------------ */

static void test_rule1_key_from_other_issuer(void **state)
{
    struct world *w = *state;
    /* Storm-0558: B's key, B's kid, but iss A. */
    EXPECT(w, SIGNET_ERR_KEY_NOT_IN_ISSUER_SET, w->b1, SG_ALG_ES256, hdr("ES256", "b1"), clm());
    EXPECT(w, SIGNET_ERR_KEY_NOT_IN_ISSUER_SET, w->x, SG_ALG_ES256, hdr("ES256", "zz"), clm());
    EXPECT(w, SIGNET_ERR_KEY_NOT_IN_ISSUER_SET, w->a1, SG_ALG_ES256, hdr("ES256", NULL), clm());
    EXPECT(w, SIGNET_ERR_UNKNOWN_ISSUER, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           kit_claims("https://a.example/", AUD, KIT_NOW));
    json_t *c = clm();
    json_object_del(c, "iss");
    EXPECT(w, SIGNET_ERR_MISSING_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "iss", json_integer(1));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    /* A forged signature under a real kid is a bad signature, not a lookup. */
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"), clm());
}

/* ---- rule 3: alg pinning and forbidden headers --------------------------- */

static void test_rule3_alg(void **state)
{
    struct world *w = *state;
    /* ES384 is allowed, but a1 is P-256 and pinned to ES256. */
    EXPECT(w, SIGNET_ERR_ALG_KEY_MISMATCH, w->a1, SG_ALG_ES256, hdr("ES384", "a1"), clm());
    EXPECT(w, SIGNET_ERR_ALG_KEY_MISMATCH, w->a2, SG_ALG_EDDSA, hdr("ES256", "a2"), clm());
    /* a3 is pinned to PS256 by its JWK alg; PS384 is allowed globally. */
    EXPECT(w, SIGNET_ERR_ALG_KEY_MISMATCH, w->a3, SG_ALG_PS384, hdr("PS384", "a3"), clm());
    /* Outside the allowlist: rejected before any key is looked at. */
    EXPECT(w, SIGNET_ERR_ALG_NOT_ALLOWED, w->a3, SG_ALG_PS512, hdr("PS512", "a3"), clm());
    EXPECT(w, SIGNET_ERR_ALG_NOT_ALLOWED, w->a1, SG_ALG_ES256, hdr("none", "a1"), clm());
    EXPECT(w, SIGNET_ERR_ALG_NOT_ALLOWED, w->a1, SG_ALG_ES256, hdr("HS256", "a1"), clm());
    EXPECT(w, SIGNET_ERR_ALG_NOT_ALLOWED, w->a1, SG_ALG_ES256, hdr("RS256", "a1"), clm());
    EXPECT(w, SIGNET_ERR_ALG_NOT_ALLOWED, w->a1, SG_ALG_ES256, hdr("es256", "a1"), clm());
    json_t *h = hdr("ES256", "a1");
    json_object_del(h, "alg");
    EXPECT(w, SIGNET_ERR_MALFORMED, w->a1, SG_ALG_ES256, h, clm());
}

static void test_rule3_forbidden_headers(void **state)
{
    struct world *w = *state;
    static const char *const names[] = {"jku", "x5u", "jwk", "x5c"};
    for (size_t i = 0; i < 4; i++) {
        json_t *h = hdr("ES256", "a1");
        json_object_set_new(h, names[i], i == 2 ? kit_jwk(w->a1, NULL) : json_string("https://evil"));
        EXPECT(w, SIGNET_ERR_FORBIDDEN_HEADER, w->a1, SG_ALG_ES256, h, clm());
    }
}

static void test_rule3_crit(void **state)
{
    struct world *w = *state;
    json_t *h = hdr("ES256", "a1");
    json_object_set_new(h, "ext", json_true());
    json_object_set_new(h, "crit", json_pack("[s]", "ext"));
    EXPECT(w, SIGNET_ERR_UNKNOWN_CRIT, w->a1, SG_ALG_ES256, h, clm());
    /* Ill-formed crit values. */
    json_t *bad[] = {json_array(), json_string("ext"), json_pack("[i]", 1),
                     json_pack("[s]", "alg"), json_pack("[s]", "absent"),
                     json_pack("[s,s]", "ext", "ext")};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        h = hdr("ES256", "a1");
        json_object_set_new(h, "ext", json_true());
        json_object_set_new(h, "crit", bad[i]);
        EXPECT(w, SIGNET_ERR_MALFORMED, w->a1, SG_ALG_ES256, h, clm());
    }
}

/* ---- rule 4: typ ---------------------------------------------------------- */

static void test_rule4_typ(void **state)
{
    struct world *w = *state;
    static const char *const good[] = {"at+jwt", "AT+JWT", "application/at+jwt",
                                       "Application/At+Jwt"};
    static const char *const bad[] = {"JWT", "jwt", "dpop+jwt", "secevent+jwt",
                                      "application/jwt", "at+jwt ", "application/x/at+jwt", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        json_t *h = hdr("ES256", "a1");
        json_object_set_new(h, "typ", json_string(good[i]));
        EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, h, clm());
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *h = hdr("ES256", "a1");
        json_object_set_new(h, "typ", json_string(bad[i]));
        EXPECT(w, SIGNET_ERR_BAD_TYP, w->a1, SG_ALG_ES256, h, clm());
    }
    json_t *h = hdr("ES256", "a1");
    json_object_del(h, "typ");
    EXPECT(w, SIGNET_ERR_BAD_TYP, w->a1, SG_ALG_ES256, h, clm());
    h = hdr("ES256", "a1");
    json_object_set_new(h, "typ", json_integer(1));
    EXPECT(w, SIGNET_ERR_BAD_TYP, w->a1, SG_ALG_ES256, h, clm());
}

/* ---- rule 5: iss, aud, exp, nbf, iat, lifetime ---------------------------- */

static void test_rule5_audience(void **state)
{
    struct world *w = *state;
    EXPECT(w, SIGNET_ERR_AUDIENCE_MISMATCH, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           kit_claims(ISS_A, "api://other", KIT_NOW));
    json_t *c = clm();
    json_object_set_new(c, "aud", json_array());
    EXPECT(w, SIGNET_ERR_AUDIENCE_MISMATCH, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_del(c, "aud");
    EXPECT(w, SIGNET_ERR_MISSING_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "aud", json_integer(3));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
}

static json_t *times(int64_t iat, int64_t nbf, int64_t exp)
{
    json_t *c = clm();
    json_object_set_new(c, "iat", json_integer(iat));
    json_object_set_new(c, "nbf", json_integer(nbf));
    json_object_set_new(c, "exp", json_integer(exp));
    return c;
}

static void test_rule5_times(void **state)
{
    struct world *w = *state;
    const int64_t t = KIT_NOW;
    /* exp: the skew (60 s) is the only grace. */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), times(t - 600, t - 600, t - 59));
    EXPECT(w, SIGNET_ERR_EXPIRED, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           times(t - 600, t - 600, t - 60));
    /* nbf and iat in the future beyond the skew. */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), times(t + 60, t + 60, t + 600));
    EXPECT(w, SIGNET_ERR_NOT_YET_VALID, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           times(t, t + 61, t + 600));
    EXPECT(w, SIGNET_ERR_IAT_IN_FUTURE, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           times(t + 61, t, t + 600));
    /* Lifetime: at most 86400 s by default. */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), times(t - 10, t - 10, t - 10 + 86400));
    EXPECT(w, SIGNET_ERR_LIFETIME_TOO_LONG, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           times(t - 10, t - 10, t - 9 + 86400));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           times(t, t, t - 1));
    static const char *const req[] = {"exp", "iat"};
    for (size_t i = 0; i < 2; i++) {
        json_t *c = clm();
        json_object_del(c, req[i]);
        EXPECT(w, SIGNET_ERR_MISSING_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
        c = clm();
        json_object_set_new(c, req[i], json_string("1700000000"));
        EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    }
    json_t *c = clm();
    json_object_del(c, "nbf");
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "exp", json_real((double)t + 100.5));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "sub", json_integer(7));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
}

/* ---- rule 6: per-key issuer scope and active window ------------------------ */

static void test_rule6_key_scope(void **state)
{
    struct world *w = *state;
    /* a9 sits in A's set but is B's key. */
    EXPECT(w, SIGNET_ERR_KEY_ISSUER_MISMATCH, w->a9, SG_ALG_ES256, hdr("ES256", "a9"), clm());
    /* a1 became active at NOW - 1 day: a token "issued" before that. */
    const int64_t from = KIT_NOW - 86400;
    w->now = from - 61 + 100; /* so that the token itself is current */
    EXPECT(w, SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           kit_claims(ISS_A, AUD, from - 61));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           kit_claims(ISS_A, AUD, from - 60));
    w->now = KIT_NOW;
    /* a4 retired an hour ago: tokens issued after are refused. */
    w->now = KIT_NOW - 3600 + 100;
    EXPECT(w, SIGNET_ERR_KEY_NOT_ACTIVE_AT_IAT, w->a4, SG_ALG_ES256, hdr("ES256", "a4"),
           kit_claims(ISS_A, AUD, KIT_NOW - 3600 + 61));
    EXPECT(w, SIGNET_OK, w->a4, SG_ALG_ES256, hdr("ES256", "a4"),
           kit_claims(ISS_A, AUD, KIT_NOW - 3600 + 60));
    w->now = KIT_NOW;
}

static void test_rule6_require_metadata(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = base_config(w);
    assert_int_equal(signet_verifier_config_require_key_metadata(cfg, 1), SIGNET_OK);
    signet_verifier *strict = NULL;
    assert_int_equal(signet_verifier_new(cfg, &strict), SIGNET_OK);
    signet_verifier_config_free(cfg);
    signet_verifier *lax = w->v;
    w->v = strict;
    EXPECT(w, SIGNET_ERR_KEY_METADATA_REQUIRED, w->a2, SG_ALG_EDDSA, hdr("EdDSA", "a2"), clm());
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), clm());
    w->v = lax;
    signet_verifier_free(strict);
    EXPECT(w, SIGNET_OK, w->a2, SG_ALG_EDDSA, hdr("EdDSA", "a2"), clm());
}

/* ---- rule 7: strict parsing ------------------------------------------------ */

static void test_rule7_parsing(void **state)
{
    struct world *w = *state;
    char *tok = kit_sign_json(w->a1, SG_ALG_ES256, hdr("ES256", "a1"), clm());
    size_t len = strlen(tok);
    assert_int_equal(check(w, tok), SIGNET_OK);
    char *buf = malloc(len + 8);
    /* Padding, stray characters, standard-alphabet characters. */
    snprintf(buf, len + 8, "%s=", tok);
    assert_int_equal(check(w, buf), SIGNET_ERR_BAD_BASE64);
    snprintf(buf, len + 8, "%s\n", tok);
    assert_int_equal(check(w, buf), SIGNET_ERR_BAD_BASE64);
    snprintf(buf, len + 8, " %s", tok);
    assert_int_equal(check(w, buf), SIGNET_ERR_BAD_BASE64);
    /* Four and two parts. */
    snprintf(buf, len + 8, "%s.", tok);
    assert_int_equal(check(w, buf), SIGNET_ERR_NOT_COMPACT_JWS);
    memcpy(buf, tok, len + 1);
    *strrchr(buf, '.') = '\0';
    assert_int_equal(check(w, buf), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(check(w, "{\"payload\":\"e30\"}"), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(check(w, ""), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(check(w, "a.b.c.d.e"), SIGNET_ERR_NOT_COMPACT_JWS);
    /* Tampered payload and signature. */
    memcpy(buf, tok, len + 1);
    char *dot = strchr(buf, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    signet_err e = check(w, buf);
    assert_true(e == SIGNET_ERR_BAD_SIGNATURE || e == SIGNET_ERR_BAD_JSON ||
                e == SIGNET_ERR_BAD_BASE64);
    memcpy(buf, tok, len + 1);
    buf[len - 5] = buf[len - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(check(w, buf), SIGNET_ERR_BAD_SIGNATURE);
    /* ECDSA signature one byte short. */
    memcpy(buf, tok, len + 1);
    char *sig = strrchr(buf, '.') + 1;
    uint8_t raw[64];
    size_t rl = 0;
    assert_int_equal(sg_b64url_decode(sig, strlen(sig), raw, sizeof raw, &rl), SIGNET_OK);
    assert_int_equal(rl, 64);
    char *short_sig = kit_b64(raw, 63);
    snprintf(sig, len + 8 - (size_t)(sig - buf), "%s", short_sig);
    assert_int_equal(check(w, buf), SIGNET_ERR_BAD_SIGNATURE);
    free(short_sig);
    free(buf);
    free(tok);
}

static void test_rule7_json(void **state)
{
    struct world *w = *state;
    const char *h = "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"a1\"}";
    char claims[512];
    snprintf(claims, sizeof claims,
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"alice\",\"sub\":\"admin\","
             "\"iat\":%lld,\"exp\":%lld}",
             ISS_A, AUD, (long long)KIT_NOW, (long long)KIT_NOW + 60);
    char *tok = kit_sign_raw(w->a1, SG_ALG_ES256, h, claims);
    assert_int_equal(check(w, tok), SIGNET_ERR_DUPLICATE_MEMBER);
    free(tok);
    tok = kit_sign_raw(w->a1, SG_ALG_ES256,
                       "{\"alg\":\"ES256\",\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"a1\"}",
                       "{}");
    assert_int_equal(check(w, tok), SIGNET_ERR_DUPLICATE_MEMBER);
    free(tok);
    /* Depth 16 is fine, 17 is not. */
    char deep[4096];
    for (int depth = 15; depth <= 16; depth++) {
        int n = snprintf(deep, sizeof deep,
                         "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"x\":", ISS_A,
                         AUD, (long long)KIT_NOW, (long long)KIT_NOW + 60);
        for (int i = 0; i < depth; i++)
            deep[n++] = '[';
        for (int i = 0; i < depth; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        deep[n] = '\0';
        tok = kit_sign_raw(w->a1, SG_ALG_ES256, h, deep);
        assert_int_equal(check(w, tok), depth == 15 ? SIGNET_OK : SIGNET_ERR_JSON_TOO_DEEP);
        free(tok);
    }
    /* Oversized: a claim that pushes the token past 16 KiB. */
    char *big = malloc(20000);
    int n = snprintf(big, 20000, "{\"iss\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,\"exp\":%lld,\"pad\":\"",
                     ISS_A, AUD, (long long)KIT_NOW, (long long)KIT_NOW + 60);
    memset(big + n, 'x', 12500);
    snprintf(big + n + 12500, 20000 - (size_t)n - 12500, "\"}");
    tok = kit_sign_raw(w->a1, SG_ALG_ES256, h, big);
    assert_true(strlen(tok) > 16384);
    assert_int_equal(check(w, tok), SIGNET_ERR_TOO_LARGE);
    free(tok);
    free(big);
    /* Claims that are not an object; invalid JSON. */
    tok = kit_sign_raw(w->a1, SG_ALG_ES256, h, "[1]");
    assert_int_equal(check(w, tok), SIGNET_ERR_MALFORMED);
    free(tok);
    tok = kit_sign_raw(w->a1, SG_ALG_ES256, h, "{\"iss\":");
    assert_int_equal(check(w, tok), SIGNET_ERR_BAD_JSON);
    free(tok);
}

/* ---- options, telemetry, config ------------------------------------------- */

static void test_opts(void **state)
{
    struct world *w = *state;
    char *tok = kit_sign_json(w->a1, SG_ALG_ES256, hdr("ES256", "a1"), clm());
    signet_claims *c = NULL;
    signet_verify_opts o = SIGNET_VERIFY_OPTS_INIT;
    assert_int_equal(signet_verify(w->v, tok, strlen(tok), &o, &c), SIGNET_OK);
    signet_claims_free(c);
    /* An older, smaller struct: members beyond size are ignored. */
    signet_verify_opts old = {sizeof(size_t), "GET", "x", "proof-ignored", 7, "DPoP"};
    assert_int_equal(signet_verify(w->v, tok, strlen(tok), &old, &c), SIGNET_OK);
    signet_claims_free(c);
    /* A proof with the Bearer scheme is refused, never ignored (test_dpop.c
     * has the DPoP cases). */
    o.dpop_proof = "eyJ...";
    assert_int_equal(signet_verify(w->v, tok, strlen(tok), &o, &c), SIGNET_ERR_DPOP);
    assert_null(c);
    o.dpop_proof = NULL;
    o.flags = 1;
    assert_int_equal(signet_verify(w->v, tok, strlen(tok), &o, &c), SIGNET_ERR_INVALID_ARG);
    free(tok);
}

static void test_events_and_counters(void **state)
{
    struct world *w = *state;
    int before = w->events;
    uint64_t typ_before = signet_verifier_count(w->v, SIGNET_ERR_BAD_TYP);
    json_t *h = hdr("ES256", "a1");
    json_object_set_new(h, "typ", json_string("JWT"));
    EXPECT(w, SIGNET_ERR_BAD_TYP, w->a1, SG_ALG_ES256, h, clm());
    assert_int_equal(w->events, before + 1);
    assert_int_equal(w->last.result, SIGNET_ERR_BAD_TYP);
    assert_string_equal(w->last_kid, "a1"); /* raw, unverified, for the log */
    assert_int_equal(signet_verifier_count(w->v, SIGNET_ERR_BAD_TYP), typ_before + 1);
    EXPECT(w, SIGNET_ERR_KEY_ISSUER_MISMATCH, w->a9, SG_ALG_ES256, hdr("ES256", "a9"), clm());
    assert_int_equal(w->last.result, SIGNET_ERR_KEY_ISSUER_MISMATCH);
    assert_true(strlen(w->last_thumb) == SG_THUMBPRINT_LEN);
    assert_int_equal(signet_verifier_count(w->v, (signet_err)12345), 0);
}

static void test_config_errors(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = NULL;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_ERR_CONFIG); /* no issuer */
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS_A, w->jwks_a,
                                                                 strlen(w->jwks_a)),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS_A, w->jwks_a,
                                                                 strlen(w->jwks_a)),
                     SIGNET_ERR_EXISTS);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_ERR_CONFIG); /* no audience */
    assert_null(v);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "HS256"), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "none"), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "RS256"), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(signet_verifier_config_set_skew(cfg, -1), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_skew(cfg, 601), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_max_lifetime(cfg, 0), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_typ(cfg, "a/b"), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_typ(cfg, "application/"), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_cache_bounds(cfg, 10, 5), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_url(cfg, "x", "ftp://h/j"),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_add_issuer_discovery(cfg, "not-a-url", NULL),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_disallow_alg(cfg, "ES256"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_disallow_alg(cfg, "EdDSA"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_disallow_alg(cfg, "Ed25519"), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_ERR_CONFIG); /* no alg */
    assert_int_equal(signet_verifier_config_allow_alg(cfg, "ES256"), SIGNET_OK);
    /* A static JWKS that is not one fails at creation. */
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS_B, "{\"keys\":1}", 10),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_ERR_BAD_JWKS);
    assert_null(v);
    signet_verifier_config_free(cfg);
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_file(cfg, ISS_A, "/nonexistent/jwks"),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_ERR_NOT_FOUND);
    signet_verifier_config_free(cfg);
    signet_verifier_config_free(NULL);
    signet_verifier_free(NULL);
    signet_claims_free(NULL);
    assert_non_null(signet_version());
}

static void test_custom_typ_and_skew(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = base_config(w);
    assert_int_equal(signet_verifier_config_set_typ(cfg, "application/example+jwt"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_skew(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_max_lifetime(cfg, 300), SIGNET_OK);
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    signet_verifier *saved = w->v;
    w->v = v;
    json_t *h = hdr("ES256", "a1");
    json_object_set_new(h, "typ", json_string("example+jwt"));
    EXPECT(w, SIGNET_ERR_LIFETIME_TOO_LONG, w->a1, SG_ALG_ES256, h, clm()); /* 600 s > 300 s */
    h = hdr("ES256", "a1");
    json_object_set_new(h, "typ", json_string("example+jwt"));
    EXPECT(w, SIGNET_ERR_EXPIRED, w->a1, SG_ALG_ES256, h, times(KIT_NOW - 100, KIT_NOW - 100, KIT_NOW));
    EXPECT(w, SIGNET_ERR_BAD_TYP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), clm());
    w->v = saved;
    signet_verifier_free(v);
}

/* ---- step-up authentication (RFC 9470) ------------------------------------ */

#define ACR_PHR "urn:signet:acr:phr"
#define ACR_MFA "urn:signet:acr:mfa"

/* A verifier like w->v with step-up requirements (n_acr 0: none; max_age
 * -1: none), installed as w->v; returns the previous one. */
static signet_verifier *stepup_verifier(struct world *w, const char *const *acr, size_t n_acr,
                                        int64_t max_age, size_t token_cache)
{
    signet_verifier_config *cfg = base_config(w);
    if (n_acr > 0)
        assert_int_equal(signet_verifier_config_require_acr(cfg, acr, n_acr), SIGNET_OK);
    if (max_age >= 0)
        assert_int_equal(signet_verifier_config_require_max_age(cfg, max_age), SIGNET_OK);
    if (token_cache > 0)
        assert_int_equal(signet_verifier_config_set_token_cache(cfg, token_cache), SIGNET_OK);
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    signet_verifier *saved = w->v;
    w->v = v;
    return saved;
}

static void restore_verifier(struct world *w, signet_verifier *saved)
{
    signet_verifier_free(w->v);
    w->v = saved;
}

/* clm() with acr (NULL: none) and auth_time (INT64_MIN: none). */
static json_t *auth_clm(const char *acr, int64_t auth_time)
{
    json_t *c = clm();
    if (acr != NULL)
        json_object_set_new(c, "acr", json_string(acr));
    if (auth_time != INT64_MIN)
        json_object_set_new(c, "auth_time", json_integer(auth_time));
    return c;
}

#define NO_AUTH_TIME INT64_MIN
#define STEPUP SIGNET_ERR_INSUFFICIENT_USER_AUTH

static void test_stepup_error_code(void **state)
{
    (void)state;
    assert_int_equal(SIGNET_ERR_INSUFFICIENT_USER_AUTH, 229);
    assert_string_equal(signet_err_name(SIGNET_ERR_INSUFFICIENT_USER_AUTH),
                        "SIGNET_ERR_INSUFFICIENT_USER_AUTH");
    assert_non_null(strstr(signet_strerror(SIGNET_ERR_INSUFFICIENT_USER_AUTH), "RFC 9470"));
}

static void test_stepup_acr(void **state)
{
    struct world *w = *state;
    /* Without a requirement acr is not looked at. */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, NO_AUTH_TIME));
    json_t *c = clm();
    json_object_set_new(c, "acr", json_integer(3));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);

    static const char *const acr[] = {ACR_PHR, ACR_MFA};
    signet_verifier *saved = stepup_verifier(w, acr, 2, -1, 0);
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_PHR, NO_AUTH_TIME));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_MFA, NO_AUTH_TIME));
    /* auth_time is not required by an acr requirement. */
    uint64_t before = signet_verifier_count(w->v, STEPUP);
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm("urn:signet:acr:pwd", NO_AUTH_TIME));
    assert_int_equal(w->last.result, STEPUP);
    assert_int_equal(signet_verifier_count(w->v, STEPUP), before + 1);
    /* No acr at all: the same remedy, the same code (not MISSING_CLAIM). */
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, NO_AUTH_TIME));
    /* Exact match only: no prefix, case folding, or trailing bytes. */
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm("urn:signet:acr:mf", NO_AUTH_TIME));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm("URN:SIGNET:ACR:MFA", NO_AUTH_TIME));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm(ACR_MFA " ", NO_AUTH_TIME));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm("", NO_AUTH_TIME));
    c = clm();
    json_object_set_new(c, "acr", json_stringn(ACR_MFA "\0x", sizeof ACR_MFA + 1));
    /* (a \u0000 never reaches the acr check: the parser refuses it) */
    EXPECT(w, SIGNET_ERR_BAD_JSON, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    /* The wrong type is the issuer's error. */
    c = clm();
    json_object_set_new(c, "acr", json_integer(2));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "acr", json_pack("[s]", ACR_MFA));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);

    /* Every other rule comes first: a token failing one of them and the
     * acr keeps its own error. A forged token says bad signature. */
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm("urn:signet:acr:pwd", NO_AUTH_TIME));
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm(NULL, NO_AUTH_TIME));
    c = auth_clm("urn:signet:acr:pwd", NO_AUTH_TIME);
    json_object_set_new(c, "exp", json_integer(KIT_NOW - 61));
    EXPECT(w, SIGNET_ERR_EXPIRED, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = auth_clm(NULL, NO_AUTH_TIME);
    json_object_set_new(c, "aud", json_string("api://other"));
    EXPECT(w, SIGNET_ERR_AUDIENCE_MISMATCH, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = auth_clm(NULL, NO_AUTH_TIME);
    json_object_set_new(c, "iss", json_string("https://evil.example"));
    EXPECT(w, SIGNET_ERR_UNKNOWN_ISSUER, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    /* ... and the DPoP binding: a bound token as Bearer is a downgrade. */
    c = auth_clm(NULL, NO_AUTH_TIME);
    json_object_set_new(c, "cnf", json_pack("{s:s}", "jkt",
                                            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
    EXPECT(w, SIGNET_ERR_DPOP_DOWNGRADE, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    /* A tampered acr breaks the signature. */
    char *tok = kit_sign_json(w->a1, SG_ALG_ES256, hdr("ES256", "a1"),
                              auth_clm("urn:signet:acr:pwd", NO_AUTH_TIME));
    assert_int_equal(check(w, tok), STEPUP);
    char *dot1 = strchr(tok, '.'), *dot2 = strchr(dot1 + 1, '.');
    json_t *fc = auth_clm(ACR_PHR, NO_AUTH_TIME);
    char *fj = json_dumps(fc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(fc);
    char *forged_payload = kit_b64((const uint8_t *)fj, strlen(fj));
    size_t hl = (size_t)(dot1 - tok) + 1;
    size_t fl = hl + strlen(forged_payload) + strlen(dot2) + 1;
    char *forged = malloc(fl);
    memcpy(forged, tok, hl);
    memcpy(forged + hl, forged_payload, strlen(forged_payload));
    memcpy(forged + hl + strlen(forged_payload), dot2, strlen(dot2) + 1);
    assert_int_equal(check(w, forged), SIGNET_ERR_BAD_SIGNATURE);
    free(forged);
    free(forged_payload);
    free(fj);
    free(tok);
    restore_verifier(w, saved);
}

static void test_stepup_max_age(void **state)
{
    struct world *w = *state;
    const int64_t t = KIT_NOW;
    signet_verifier *saved = stepup_verifier(w, NULL, 0, 300, 0);
    /* now - auth_time <= max_age + skew (60 s). */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 360));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 361));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, 0));
    /* Missing auth_time: step up; acr is not required by max_age. */
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_PHR, NO_AUTH_TIME));
    /* Fractions count as older. */
    json_t *c = clm();
    json_object_set_new(c, "auth_time", json_real((double)(t - 360) - 0.5));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    c = clm();
    json_object_set_new(c, "auth_time", json_real((double)(t - 360) + 0.5));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    /* Not a NumericDate, or in the future beyond the skew: BAD_CLAIM. */
    c = clm();
    json_object_set_new(c, "auth_time", json_string("1700000000"));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), c);
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, -1));
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t + 60));
    EXPECT(w, SIGNET_ERR_BAD_CLAIM, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t + 61));
    /* A forged token with a stale auth_time is still a bad signature. */
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm(NULL, t - 100000));
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm(NULL, NO_AUTH_TIME));
    restore_verifier(w, saved);

    /* max_age 0: only the skew. */
    saved = stepup_verifier(w, NULL, 0, 0, 0);
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 60));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 61));
    restore_verifier(w, saved);

    /* The verified-token cache answers with the age at the time of the
     * call, not at the time of the first verification. */
    saved = stepup_verifier(w, NULL, 0, 300, 16);
    char *tok = kit_sign_json(w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 100));
    assert_int_equal(check(w, tok), SIGNET_OK);
    assert_int_equal(check(w, tok), SIGNET_OK);
    assert_int_equal(w->last.from_cache, 1);
    w->now = t + 261; /* the token (exp t - 10 + 600) is still current */
    assert_int_equal(check(w, tok), STEPUP);
    assert_int_equal(w->last.from_cache, 1);
    w->now = t;
    assert_int_equal(check(w, tok), SIGNET_OK);
    free(tok);
    restore_verifier(w, saved);
}

static void test_stepup_both(void **state)
{
    struct world *w = *state;
    const int64_t t = KIT_NOW;
    static const char *const acr[] = {ACR_MFA};
    signet_verifier *saved = stepup_verifier(w, acr, 1, 600, 0);
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_MFA, t - 600));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_MFA, t - 661));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_PHR, t - 10));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, t - 10));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(ACR_MFA, NO_AUTH_TIME));
    EXPECT(w, STEPUP, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm(NULL, NO_AUTH_TIME));
    EXPECT(w, SIGNET_ERR_BAD_SIGNATURE, w->x, SG_ALG_ES256, hdr("ES256", "a1"),
           auth_clm(ACR_PHR, t - 100000));
    restore_verifier(w, saved);
}

/* The challenge, byte for byte, and every buffer size below it. */
static void expect_challenge(signet_verifier *v, const char *scheme, const char *want)
{
    char buf[1024];
    memset(buf, 'x', sizeof buf);
    assert_int_equal(signet_stepup_challenge(v, scheme, buf, sizeof buf), SIGNET_OK);
    assert_string_equal(buf, want);
    size_t n = strlen(want);
    assert_int_equal(signet_stepup_challenge(v, scheme, buf, n + 1), SIGNET_OK);
    assert_string_equal(buf, want);
    for (size_t cap = 0; cap <= n; cap++) {
        memset(buf, 'x', sizeof buf);
        assert_int_equal(signet_stepup_challenge(v, scheme, buf, cap), SIGNET_ERR_TOO_LARGE);
        if (cap > 0)
            assert_int_equal(buf[0], '\0');
        assert_int_equal(buf[cap], 'x'); /* nothing written past cap */
    }
}

static void test_stepup_challenge(void **state)
{
    struct world *w = *state;
    char buf[512];
    /* No requirement, no step-up challenge. */
    assert_int_equal(signet_stepup_challenge(w->v, NULL, buf, sizeof buf), SIGNET_ERR_CONFIG);
    assert_string_equal(buf, "");

    /* RFC 9470 §3, figure 2 (on one line). */
    static const char *const my[] = {"myACR"};
    signet_verifier *saved = stepup_verifier(w, my, 1, -1, 0);
    expect_challenge(w->v, NULL,
                     "Bearer error=\"insufficient_user_authentication\", "
                     "error_description=\"A different authentication level is required\", "
                     "acr_values=\"myACR\"");
    expect_challenge(w->v, "bearer",
                     "Bearer error=\"insufficient_user_authentication\", "
                     "error_description=\"A different authentication level is required\", "
                     "acr_values=\"myACR\"");
    assert_int_equal(signet_stepup_challenge(w->v, "Basic", buf, sizeof buf),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_stepup_challenge(w->v, "", buf, sizeof buf), SIGNET_ERR_INVALID_ARG);
    restore_verifier(w, saved);

    /* Figure 3. */
    saved = stepup_verifier(w, NULL, 0, 5, 0);
    expect_challenge(w->v, "Bearer",
                     "Bearer error=\"insufficient_user_authentication\", "
                     "error_description=\"More recent authentication is required\", "
                     "max_age=\"5\"");
    restore_verifier(w, saved);

    /* Both, in the configured order of preference; DPoP names its algs. */
    static const char *const two[] = {ACR_PHR, ACR_MFA};
    saved = stepup_verifier(w, two, 2, 0, 0);
    const char *both = "Bearer error=\"insufficient_user_authentication\", "
                       "error_description=\"A different authentication level or more recent "
                       "authentication is required\", "
                       "acr_values=\"urn:signet:acr:phr urn:signet:acr:mfa\", max_age=\"0\"";
    expect_challenge(w->v, NULL, both);
    char dpop[256], want[1024];
    assert_int_equal(signet_dpop_challenge(w->v, SIGNET_OK, dpop, sizeof dpop), SIGNET_OK);
    assert_true(strncmp(dpop, "DPoP algs=\"", 11) == 0);
    assert_true(snprintf(want, sizeof want, "DPoP%s, %s", both + strlen("Bearer"),
                         dpop + strlen("DPoP ")) < (int)sizeof want);
    expect_challenge(w->v, "dpop", want);
    restore_verifier(w, saved);

    /* Quotes and backslashes in an acr value become quoted-pairs. */
    static const char *const odd[] = {"a\"b\\c", "x,y=z"};
    saved = stepup_verifier(w, odd, 2, 31622400, 0);
    expect_challenge(w->v, NULL,
                     "Bearer error=\"insufficient_user_authentication\", "
                     "error_description=\"A different authentication level or more recent "
                     "authentication is required\", "
                     "acr_values=\"a\\\"b\\\\c x,y=z\", max_age=\"31622400\"");
    /* ... and the token's acr is compared unescaped. */
    EXPECT(w, SIGNET_OK, w->a1, SG_ALG_ES256, hdr("ES256", "a1"), auth_clm("a\"b\\c", KIT_NOW));
    restore_verifier(w, saved);
}

static void test_stepup_config_errors(void **state)
{
    (void)state;
    signet_verifier_config *cfg = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    static const char *const ok[] = {ACR_PHR};
    assert_int_equal(signet_verifier_config_require_acr(cfg, ok, 0), SIGNET_ERR_INVALID_ARG);
    const char *many[17];
    for (size_t i = 0; i < 17; i++)
        many[i] = ACR_MFA;
    assert_int_equal(signet_verifier_config_require_acr(cfg, many, 17), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_require_acr(cfg, many, 16), SIGNET_OK);
    char long_acr[257];
    memset(long_acr, 'a', 256);
    long_acr[256] = '\0';
    const char *bad[][1] = {{""}, {"a b"}, {"a\tb"}, {"caf\xc3\xa9"}, {"\x7f"}, {long_acr}, {NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(signet_verifier_config_require_acr(cfg, bad[i], 1),
                         SIGNET_ERR_INVALID_ARG);
    const char *mixed[] = {ACR_MFA, "a b"};
    assert_int_equal(signet_verifier_config_require_acr(cfg, mixed, 2), SIGNET_ERR_INVALID_ARG);
    long_acr[255] = '\0';
    const char *longest[] = {long_acr};
    assert_int_equal(signet_verifier_config_require_acr(cfg, longest, 1), SIGNET_OK);
    assert_int_equal(signet_verifier_config_require_acr(cfg, ok, 1), SIGNET_OK); /* replaces */
    assert_int_equal(signet_verifier_config_require_max_age(cfg, -1), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_require_max_age(cfg, 31622401),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_require_max_age(cfg, 31622400), SIGNET_OK);
    assert_int_equal(signet_verifier_config_require_max_age(cfg, 0), SIGNET_OK);
    signet_verifier_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_es256_and_claims),
        cmocka_unit_test(test_valid_eddsa_and_ps256),
        cmocka_unit_test(test_rule1_key_from_other_issuer),
        cmocka_unit_test(test_rule3_alg),
        cmocka_unit_test(test_rule3_forbidden_headers),
        cmocka_unit_test(test_rule3_crit),
        cmocka_unit_test(test_rule4_typ),
        cmocka_unit_test(test_rule5_audience),
        cmocka_unit_test(test_rule5_times),
        cmocka_unit_test(test_rule6_key_scope),
        cmocka_unit_test(test_rule6_require_metadata),
        cmocka_unit_test(test_rule7_parsing),
        cmocka_unit_test(test_rule7_json),
        cmocka_unit_test(test_opts),
        cmocka_unit_test(test_events_and_counters),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_custom_typ_and_skew),
        cmocka_unit_test(test_stepup_error_code),
        cmocka_unit_test(test_stepup_acr),
        cmocka_unit_test(test_stepup_max_age),
        cmocka_unit_test(test_stepup_both),
        cmocka_unit_test(test_stepup_challenge),
        cmocka_unit_test(test_stepup_config_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
