/* libsignet's compact JWS parser, header policy and signature layer, with
 * hostile inputs: truncated, oversized, wrong types, off by one. */
#include "test_signet_kit.h"
#include "testutil.h"

#include "json.h"
#include "jws.h"

static const struct sg_header_policy policy = {SG_ALG_DEFAULT_MASK, "at+jwt"};

static char *compact(const char *header, const char *payload, const char *sig)
{
    char *h = kit_b64((const uint8_t *)header, strlen(header));
    char *p = kit_b64((const uint8_t *)payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + strlen(sig) + 3;
    char *t = malloc(n);
    snprintf(t, n, "%s.%s.%s", h, p, sig);
    free(h);
    free(p);
    return t;
}

static signet_err parse(const char *t)
{
    struct sg_jws jws;
    signet_err err = sg_jws_parse(t, strlen(t), &jws);
    if (err == SIGNET_OK)
        sg_jws_clear(&jws);
    return err;
}

static signet_err header_check(const char *header)
{
    char *t = compact(header, "{}", "");
    struct sg_jws jws;
    enum sg_alg alg;
    const char *kid = NULL;
    signet_err err = sg_jws_parse(t, strlen(t), &jws);
    if (err == SIGNET_OK) {
        err = sg_jws_check_header(&jws, &policy, &alg, &kid);
        sg_jws_clear(&jws);
    }
    free(t);
    return err;
}

static void test_split(void **state)
{
    (void)state;
    char *t = compact("{\"alg\":\"ES256\"}", "{}", "AAAA");
    assert_int_equal(parse(t), SIGNET_OK);
    struct sg_jws jws;
    assert_int_equal(sg_jws_parse(t, strlen(t), &jws), SIGNET_OK);
    assert_int_equal(jws.sig_len, 3);
    assert_int_equal(jws.payload_len, 2);
    assert_int_equal(jws.signing_input_len, (size_t)(strrchr(t, '.') - t));
    sg_jws_clear(&jws);
    /* Truncations of a valid token never parse as something else. */
    size_t last_dot = (size_t)(strrchr(t, '.') - t);
    for (size_t n = 0; n < strlen(t); n++) {
        signet_err err = sg_jws_parse(t, n, &jws);
        if (err == SIGNET_OK)
            sg_jws_clear(&jws);
        if (n <= last_dot) /* fewer than three parts */
            assert_int_equal(err, SIGNET_ERR_NOT_COMPACT_JWS);
        else /* a shorter signature: parses or is non-canonical base64url */
            assert_true(err == SIGNET_OK || err == SIGNET_ERR_BAD_BASE64);
    }
    free(t);
    assert_int_equal(parse("a.b"), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(parse("a.b.c.d"), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(parse("a.b.c.d.e"), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(parse("{\"protected\":\"x\"}"), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(parse(""), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(parse(".."), SIGNET_ERR_MALFORMED); /* empty header */
    assert_int_equal(parse("e30=.e30.AA"), SIGNET_ERR_BAD_BASE64);
    assert_int_equal(parse("W10.e30.AA"), SIGNET_ERR_MALFORMED); /* header [] */
    assert_int_equal(parse("eyJ9.e30.AA"), SIGNET_ERR_BAD_JSON);
}

static void test_size_caps(void **state)
{
    (void)state;
    /* Exactly SG_TOKEN_MAX is allowed, one more is not. */
    char *t = malloc(SG_TOKEN_MAX + 2);
    const char *prefix = "e30.";
    memcpy(t, prefix, 4);
    memset(t + 4, 'A', SG_TOKEN_MAX - 4);
    t[SG_TOKEN_MAX - 4] = '.'; /* payload of 16376 chars, signature "AAA" */
    t[SG_TOKEN_MAX] = '\0';
    struct sg_jws jws;
    assert_int_equal(sg_jws_parse(t, SG_TOKEN_MAX, &jws), SIGNET_OK);
    sg_jws_clear(&jws);
    t[SG_TOKEN_MAX] = 'A';
    t[SG_TOKEN_MAX + 1] = '\0';
    assert_int_equal(sg_jws_parse(t, SG_TOKEN_MAX + 1, &jws), SIGNET_ERR_TOO_LARGE);
    free(t);
    /* A header past SG_HEADER_MAX decoded bytes. */
    char *big = malloc(SG_HEADER_MAX + 64);
    int n = snprintf(big, SG_HEADER_MAX + 64, "{\"alg\":\"ES256\",\"x\":\"");
    memset(big + n, 'y', SG_HEADER_MAX);
    snprintf(big + SG_HEADER_MAX - 2, 64, "\"}");
    assert_int_equal(strlen(big), SG_HEADER_MAX);
    t = compact(big, "{}", "AA");
    assert_int_equal(parse(t), SIGNET_OK);
    free(t);
    big[SG_HEADER_MAX - 2] = 'y';
    snprintf(big + SG_HEADER_MAX - 1, 64, "\"}");
    assert_int_equal(strlen(big), SG_HEADER_MAX + 1);
    t = compact(big, "{}", "AA");
    assert_int_equal(parse(t), SIGNET_ERR_TOO_LARGE);
    free(t);
    free(big);
    /* Signature over SG_SIG_MAX bytes. */
    uint8_t *s = calloc(1, SG_SIG_MAX + 1);
    char *sb = kit_b64(s, SG_SIG_MAX + 1);
    t = compact("{\"alg\":\"ES256\"}", "{}", sb);
    assert_int_equal(parse(t), SIGNET_ERR_TOO_LARGE);
    free(t);
    free(sb);
    free(s);
}

static void test_header_rules(void **state)
{
    (void)state;
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"k\"}"), SIGNET_OK);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}"), SIGNET_OK);
    assert_int_equal(header_check("{\"alg\":\"none\",\"typ\":\"at+jwt\"}"), SIGNET_ERR_ALG_NOT_ALLOWED);
    assert_int_equal(header_check("{\"alg\":\"HS256\",\"typ\":\"at+jwt\"}"), SIGNET_ERR_ALG_NOT_ALLOWED);
    assert_int_equal(header_check("{\"alg\":\"PS256\",\"typ\":\"at+jwt\"}"), SIGNET_ERR_ALG_NOT_ALLOWED);
    assert_int_equal(header_check("{\"alg\":\"ES256 \",\"typ\":\"at+jwt\"}"), SIGNET_ERR_ALG_NOT_ALLOWED);
    assert_int_equal(header_check("{\"alg\":[\"ES256\"],\"typ\":\"at+jwt\"}"), SIGNET_ERR_MALFORMED);
    assert_int_equal(header_check("{\"typ\":\"at+jwt\"}"), SIGNET_ERR_MALFORMED);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":7}"), SIGNET_ERR_MALFORMED);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"\"}"), SIGNET_ERR_MALFORMED);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"jku\":null}"), SIGNET_ERR_FORBIDDEN_HEADER);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"x5c\":[]}"), SIGNET_ERR_FORBIDDEN_HEADER);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"b\":1,\"crit\":[\"b\"]}"), SIGNET_ERR_UNKNOWN_CRIT);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"crit\":[\"b64\"]}"), SIGNET_ERR_MALFORMED);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"JWT\"}"), SIGNET_ERR_BAD_TYP);
    assert_int_equal(header_check("{\"alg\":\"ES256\",\"typ\":\"application/at+jwt\"}"), SIGNET_OK);
    /* A 256-byte kid is fine, 257 is not. */
    char h[512];
    char kid[258];
    memset(kid, 'k', 257);
    kid[256] = '\0';
    snprintf(h, sizeof h, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    assert_int_equal(header_check(h), SIGNET_OK);
    kid[256] = 'k';
    kid[257] = '\0';
    snprintf(h, sizeof h, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    assert_int_equal(header_check(h), SIGNET_ERR_MALFORMED);
}

static void test_json_strict(void **state)
{
    (void)state;
    json_t *j = NULL;
    const char *dup = "{\"a\":1,\"a\":2}";
    assert_int_equal(sg_json_parse((const uint8_t *)dup, strlen(dup), 100, &j), SIGNET_ERR_DUPLICATE_MEMBER);
    const char *trail = "{} x";
    assert_int_equal(sg_json_parse((const uint8_t *)trail, strlen(trail), 100, &j), SIGNET_ERR_BAD_JSON);
    const char *nul = "{\"a\":\"\\u0000\"}";
    assert_int_equal(sg_json_parse((const uint8_t *)nul, strlen(nul), 100, &j), SIGNET_ERR_BAD_JSON);
    assert_int_equal(sg_json_parse((const uint8_t *)"{}", 2, 1, &j), SIGNET_ERR_TOO_LARGE);
    /* Brackets inside strings do not count towards depth. */
    const char *str = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[\"}";
    assert_int_equal(sg_json_check_depth((const uint8_t *)str, strlen(str), 2), SIGNET_OK);
    assert_int_equal(sg_json_check_depth((const uint8_t *)"[[[]]]", 6, 3), SIGNET_OK);
    assert_int_equal(sg_json_check_depth((const uint8_t *)"[[[[]]]]", 8, 3), SIGNET_ERR_JSON_TOO_DEEP);
    assert_int_equal(sg_json_check_depth((const uint8_t *)"]", 1, 3), SIGNET_ERR_BAD_JSON);
    int64_t t = 0;
    json_t *v = json_real(1.5);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_OK);
    assert_int_equal(t, 1);
    assert_int_equal(sg_json_numeric_date(v, 1, &t), SIGNET_OK);
    assert_int_equal(t, 2);
    json_decref(v);
    v = json_integer(-1);
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_ERR_BAD_CLAIM);
    json_decref(v);
    v = json_true();
    assert_int_equal(sg_json_numeric_date(v, 0, &t), SIGNET_ERR_BAD_CLAIM);
    json_decref(v);
}

static void test_sig_layer(void **state)
{
    (void)state;
    EVP_PKEY *ec = kit_keygen(KIT_P256);
    EVP_PKEY *ed = kit_keygen(KIT_ED25519);
    EVP_PKEY *rsa = kit_keygen(KIT_RSA2048);
    EVP_PKEY *p384 = kit_keygen(KIT_P384);
    EVP_PKEY *p521 = kit_keygen(KIT_P521);
    const uint8_t msg[] = "signing input";
    uint8_t sig[512];
    size_t n = kit_sign_bytes(ec, SG_ALG_ES256, msg, sizeof msg, sig, sizeof sig);
    assert_int_equal(n, 64);
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg, sig, n), SIGNET_OK);
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg - 1, sig, n), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg, sig, n - 1), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(sg_sig_verify(SG_ALG_ES384, ec, msg, sizeof msg, sig, n), SIGNET_ERR_ALG_KEY_MISMATCH);
    assert_int_equal(sg_sig_verify(SG_ALG_EDDSA, ec, msg, sizeof msg, sig, n), SIGNET_ERR_ALG_KEY_MISMATCH);
    assert_int_equal(sg_sig_verify(SG_ALG_PS256, ec, msg, sizeof msg, sig, n), SIGNET_ERR_ALG_KEY_MISMATCH);
    /* Psychic signature: r = s = 0; and r = n (the order) for P-256. */
    uint8_t zero[64] = {0};
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg, zero, 64), SIGNET_ERR_BAD_SIGNATURE);
    uint8_t order[64];
    static const uint8_t n256[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                     0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
    memcpy(order, n256, 32);
    memcpy(order + 32, sig + 32, 32);
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg, order, 64), SIGNET_ERR_BAD_SIGNATURE);
    /* r + n would verify on an implementation that reduces r mod n. */
    memcpy(order, sig, 64);
    memset(order + 32, 0xff, 32);
    assert_int_equal(sg_sig_verify(SG_ALG_ES256, ec, msg, sizeof msg, order, 64), SIGNET_ERR_BAD_SIGNATURE);

    n = kit_sign_bytes(p384, SG_ALG_ES384, msg, sizeof msg, sig, sizeof sig);
    assert_int_equal(sg_sig_verify(SG_ALG_ES384, p384, msg, sizeof msg, sig, n), SIGNET_OK);
    n = kit_sign_bytes(p521, SG_ALG_ES512, msg, sizeof msg, sig, sizeof sig);
    assert_int_equal(n, 132);
    assert_int_equal(sg_sig_verify(SG_ALG_ES512, p521, msg, sizeof msg, sig, n), SIGNET_OK);

    n = kit_sign_bytes(ed, SG_ALG_EDDSA, msg, sizeof msg, sig, sizeof sig);
    assert_int_equal(sg_sig_verify(SG_ALG_EDDSA, ed, msg, sizeof msg, sig, n), SIGNET_OK);
    sig[63] ^= 0x80;
    assert_int_equal(sg_sig_verify(SG_ALG_EDDSA, ed, msg, sizeof msg, sig, n), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(sg_sig_verify(SG_ALG_EDDSA, ed, msg, sizeof msg, sig, n + 1), SIGNET_ERR_BAD_SIGNATURE);

    for (enum sg_alg a = SG_ALG_PS256; a <= SG_ALG_PS512; a++) {
        n = kit_sign_bytes(rsa, a, msg, sizeof msg, sig, sizeof sig);
        assert_int_equal(n, 256);
        assert_int_equal(sg_sig_verify(a, rsa, msg, sizeof msg, sig, n), SIGNET_OK);
        /* The hash is part of the algorithm: PS256 signature is not PS384. */
        enum sg_alg other = a == SG_ALG_PS256 ? SG_ALG_PS384 : SG_ALG_PS256;
        assert_int_equal(sg_sig_verify(other, rsa, msg, sizeof msg, sig, n), SIGNET_ERR_BAD_SIGNATURE);
        assert_int_equal(sg_sig_verify(a, rsa, msg, sizeof msg, sig, n - 1), SIGNET_ERR_BAD_SIGNATURE);
    }
    /* PKCS#1 v1.5 (RS256) is not accepted as PS256. */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sl = sizeof sig;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, rsa), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sl, msg, sizeof msg), 1);
    EVP_MD_CTX_free(ctx);
    assert_int_equal(sg_sig_verify(SG_ALG_PS256, rsa, msg, sizeof msg, sig, sl), SIGNET_ERR_BAD_SIGNATURE);
    assert_int_equal(sg_sig_verify(SG_ALG_COUNT, rsa, msg, sizeof msg, sig, sl), SIGNET_ERR_ALG_NOT_ALLOWED);

    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(p521);
}

static void test_alg_names(void **state)
{
    (void)state;
    enum sg_alg a;
    static const char *const ok[] = {"ES256", "ES384", "ES512", "PS256",
                                     "PS384", "PS512", "EdDSA", "Ed25519"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(sg_alg_parse(ok[i], &a), SIGNET_OK);
        assert_string_equal(sg_alg_name(a), ok[i]);
    }
    static const char *const bad[] = {"none", "None", "HS256", "RS256", "es256", "EDDSA", "ed25519", "Ed448", "", "ES256\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(sg_alg_parse(bad[i], &a), SIGNET_ERR_ALG_NOT_ALLOWED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_size_caps),
        cmocka_unit_test(test_header_rules),
        cmocka_unit_test(test_json_strict),
        cmocka_unit_test(test_sig_layer),
        cmocka_unit_test(test_alg_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
