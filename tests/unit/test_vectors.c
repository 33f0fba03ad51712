/* Standard vectors through libsignet's signature-verification layer
 * (sg_jws_parse + sg_jwk_parse + sg_sig_verify): the RFC 8037 Ed25519 and
 * RFC 7520 ES512 / PS384 JWS examples, and every Project Wycheproof vector
 * of the ECDSA P-256 P1363, Ed25519 and RSA-PSS 3072 files. See
 * tests/vectors/README.md for provenance and the "acceptable" policy. */
#include "test_signet_kit.h"
#include "testutil.h"

#include "jwk.h"
#include "jws.h"

static char *vector_path(const char *rel)
{
    const char *src = getenv("SIGNET_SOURCE_DIR");
    char *p = malloc(1024);
    snprintf(p, 1024, "%s/tests/vectors/%s", src != NULL ? src : ".", rel);
    return p;
}

static json_t *load(const char *rel)
{
    char *p = vector_path(rel);
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    if (j == NULL)
        fail_msg("cannot load %s: %s", p, e.text);
    free(p);
    return j;
}

/* Hex to bytes (vector data is trusted test input). */
static uint8_t *unhex(const char *h, size_t *len)
{
    size_t n = strlen(h);
    assert_int_equal(n % 2, 0);
    uint8_t *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        char b[3] = {h[2 * i], h[2 * i + 1], 0};
        char *end = NULL;
        out[i] = (uint8_t)strtoul(b, &end, 16);
        assert_true(end == b + 2);
    }
    *len = n / 2;
    return out;
}

/* The public half of a JWK: private members removed. */
static json_t *public_jwk(const json_t *key)
{
    json_t *k = json_deep_copy(key);
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        json_object_del(k, priv[i]);
    return k;
}

static signet_err verify_compact(const char *compact, const json_t *jwk)
{
    struct sg_jws jws;
    struct sg_key key;
    enum sg_alg alg;
    signet_err err = sg_jws_parse(compact, strlen(compact), &jws);
    if (err != SIGNET_OK)
        return err;
    err = sg_alg_parse(json_string_value(json_object_get(jws.header, "alg")), &alg);
    if (err == SIGNET_OK)
        err = sg_jwk_parse(jwk, &key);
    if (err == SIGNET_OK) {
        if ((key.algs & SG_ALG_BIT(alg)) == 0)
            err = SIGNET_ERR_ALG_KEY_MISMATCH;
        else
            err = sg_sig_verify(alg, key.pkey, (const uint8_t *)jws.signing_input,
                                jws.signing_input_len, jws.sig, jws.sig_len);
        sg_jwk_key_clear(&key);
    }
    sg_jws_clear(&jws);
    return err;
}

static void check_rfc_example(const char *file, const char *want_alg)
{
    json_t *doc = load(file);
    const json_t *input = json_object_get(doc, "input");
    const char *compact = json_string_value(json_object_get(json_object_get(doc, "output"), "compact"));
    assert_non_null(compact);
    assert_string_equal(json_string_value(json_object_get(input, "alg")), want_alg);
    json_t *jwk = public_jwk(json_object_get(input, "key"));
    /* The full key (with "d") is refused outright. */
    struct sg_key key;
    assert_int_equal(sg_jwk_parse(json_object_get(input, "key"), &key), SIGNET_ERR_BAD_JWKS);

    assert_int_equal(verify_compact(compact, jwk), SIGNET_OK);
    printf("# %s (%s): verifies\n", file, want_alg);
    /* One flipped character in the payload or the signature must fail. */
    size_t n = strlen(compact);
    char *t = strdup(compact);
    char *payload = strchr(t, '.') + 1;
    payload[0] = payload[0] == 'S' ? 'T' : 'S';
    assert_int_equal(verify_compact(t, jwk), SIGNET_ERR_BAD_SIGNATURE);
    memcpy(t, compact, n + 1);
    t[n - 3] = t[n - 3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify_compact(t, jwk), SIGNET_ERR_BAD_SIGNATURE);
    free(t);
    json_decref(jwk);
    json_decref(doc);
}

static void test_rfc8037_ed25519(void **state)
{
    (void)state;
    check_rfc_example("jose-cookbook/curve25519_jws.json", "EdDSA");
}

static void test_rfc7520_es512(void **state)
{
    (void)state;
    check_rfc_example("jose-cookbook/jws_4_3.ecdsa_signature.json", "ES512");
}

static void test_rfc7520_ps384(void **state)
{
    (void)state;
    check_rfc_example("jose-cookbook/jws_4_2.rsa-pss_signature.json", "PS384");
}

/* {"kty":"EC","crv":"P-256","x":..,"y":..} from Wycheproof's "uncompressed". */
static json_t *ec_jwk_from_uncompressed(const json_t *pub)
{
    assert_string_equal(json_string_value(json_object_get(pub, "curve")), "secp256r1");
    size_t n = 0;
    uint8_t *p = unhex(json_string_value(json_object_get(pub, "uncompressed")), &n);
    assert_int_equal(n, 65);
    assert_int_equal(p[0], 4);
    json_t *j = json_object();
    json_object_set_new(j, "kty", json_string("EC"));
    json_object_set_new(j, "crv", json_string("P-256"));
    kit_set_b64(j, "x", p + 1, 32);
    kit_set_b64(j, "y", p + 33, 32);
    free(p);
    return j;
}

static void run_wycheproof(const char *file, enum sg_alg alg)
{
    json_t *doc = load(file);
    const json_t *groups = json_object_get(doc, "testGroups");
    assert_true(json_array_size(groups) > 0);
    size_t total = 0, valid = 0, invalid = 0, acc_yes = 0, acc_no = 0;
    for (size_t g = 0; g < json_array_size(groups); g++) {
        const json_t *grp = json_array_get(groups, g);
        struct sg_key key;
        json_t *jwk = json_incref(json_object_get(grp, "publicKeyJwk"));
        if (jwk == NULL) /* some edge-case key groups carry no JWK: build it */
            jwk = ec_jwk_from_uncompressed(json_object_get(grp, "publicKey"));
        assert_int_equal(sg_jwk_parse(jwk, &key), SIGNET_OK);
        json_decref(jwk);
        assert_true((key.algs & SG_ALG_BIT(alg)) != 0);
        const json_t *tests = json_object_get(grp, "tests");
        for (size_t i = 0; i < json_array_size(tests); i++) {
            const json_t *t = json_array_get(tests, i);
            const char *result = json_string_value(json_object_get(t, "result"));
            size_t ml = 0, sl = 0;
            uint8_t *msg = unhex(json_string_value(json_object_get(t, "msg")), &ml);
            uint8_t *sig = unhex(json_string_value(json_object_get(t, "sig")), &sl);
            signet_err err = sg_sig_verify(alg, key.pkey, msg, ml, sig, sl);
            long long id = (long long)json_integer_value(json_object_get(t, "tcId"));
            if (strcmp(result, "valid") == 0) {
                if (err != SIGNET_OK)
                    fail_msg("%s tcId %lld: valid vector rejected (%s)", file, id,
                             signet_err_name(err));
                valid++;
            } else if (strcmp(result, "invalid") == 0) {
                if (err == SIGNET_OK)
                    fail_msg("%s tcId %lld: invalid vector accepted", file, id);
                invalid++;
            } else {
                assert_string_equal(result, "acceptable");
                printf("# %s tcId %lld acceptable: libsignet %s\n", file, id,
                       err == SIGNET_OK ? "accepts" : "rejects");
                err == SIGNET_OK ? acc_yes++ : acc_no++;
            }
            total++;
            free(msg);
            free(sig);
        }
        sg_jwk_key_clear(&key);
    }
    printf("# %s: %zu vectors, %zu valid accepted, %zu invalid rejected, "
           "acceptable: %zu accepted / %zu rejected\n",
           file, total, valid, invalid, acc_yes, acc_no);
    assert_int_equal(total, (size_t)json_integer_value(json_object_get(doc, "numberOfTests")));
    json_decref(doc);
}

static void test_wycheproof_ecdsa_p256_p1363(void **state)
{
    (void)state;
    run_wycheproof("wycheproof/ecdsa_secp256r1_sha256_p1363_test.json", SG_ALG_ES256);
}

static void test_wycheproof_ed25519(void **state)
{
    (void)state;
    run_wycheproof("wycheproof/ed25519_test.json", SG_ALG_EDDSA);
}

static void test_wycheproof_rsa_pss_3072(void **state)
{
    (void)state;
    run_wycheproof("wycheproof/rsa_pss_3072_sha256_mgf1_32_test.json", SG_ALG_PS256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc8037_ed25519),
        cmocka_unit_test(test_rfc7520_es512),
        cmocka_unit_test(test_rfc7520_ps384),
        cmocka_unit_test(test_wycheproof_ecdsa_p256_p1363),
        cmocka_unit_test(test_wycheproof_ed25519),
        cmocka_unit_test(test_wycheproof_rsa_pss_3072),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
