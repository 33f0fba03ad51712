/* libsignet's JWK and JWKS parsing: supported key types, hostile members,
 * per-key signet metadata, set-level rules. */
#include "test_signet_kit.h"
#include "testutil.h"

#include "jwk.h"

static signet_err parse_text(const char *text, struct sg_key *k)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    signet_err err = sg_jwk_parse(j, k);
    json_decref(j);
    return err;
}

static signet_err parse_mut(EVP_PKEY *pk, const char *member, json_t *value, struct sg_key *k)
{
    json_t *j = kit_jwk(pk, "k1");
    if (value == NULL)
        json_object_del(j, member);
    else
        json_object_set_new(j, member, value);
    signet_err err = sg_jwk_parse(j, k);
    json_decref(j);
    return err;
}

static void test_key_types(void **state)
{
    (void)state;
    enum kit_kty types[] = {KIT_P256, KIT_P384, KIT_P521, KIT_ED25519, KIT_RSA2048};
    uint32_t want[] = {SG_ALG_BIT(SG_ALG_ES256), SG_ALG_BIT(SG_ALG_ES384),
                       SG_ALG_BIT(SG_ALG_ES512),
                       SG_ALG_BIT(SG_ALG_EDDSA) | SG_ALG_BIT(SG_ALG_ED25519), /* RFC 9864 */
                       SG_ALG_BIT(SG_ALG_PS256) | SG_ALG_BIT(SG_ALG_PS384) |
                           SG_ALG_BIT(SG_ALG_PS512)};
    for (size_t i = 0; i < 5; i++) {
        EVP_PKEY *pk = kit_keygen(types[i]);
        json_t *j = kit_jwk(pk, "k1");
        struct sg_key k;
        assert_int_equal(sg_jwk_parse(j, &k), SIGNET_OK);
        assert_int_equal(k.algs, want[i]);
        assert_string_equal(k.kid, "k1");
        assert_int_equal(EVP_PKEY_eq(k.pkey, pk), 1);
        assert_int_equal(strlen(k.thumbprint), SG_THUMBPRINT_LEN);
        sg_jwk_key_clear(&k);
        json_decref(j);
        EVP_PKEY_free(pk);
    }
}

static void test_rfc7638_thumbprint(void **state)
{
    (void)state;
    /* RFC 7638 §3.1 example key and its thumbprint. */
    const char *jwk =
        "{\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\","
        "\"e\":\"AQAB\",\"alg\":\"RS256\",\"kid\":\"2011-04-29\"}";
    struct sg_key k;
    assert_int_equal(parse_text(jwk, &k), SIGNET_OK);
    assert_string_equal(k.thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    assert_int_equal(k.algs, 0); /* pinned to RS256, which libsignet never verifies */
    sg_jwk_key_clear(&k);
}

static void test_hostile_members(void **state)
{
    (void)state;
    EVP_PKEY *ec = kit_keygen(KIT_P256);
    EVP_PKEY *ed = kit_keygen(KIT_ED25519);
    struct sg_key k;
    /* Private material, wrong use, key_ops without verify. */
    assert_int_equal(parse_mut(ec, "d", json_string("AAAA"), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "use", json_string("enc"), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ec, "use", json_integer(1), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ec, "key_ops", json_pack("[s]", "encrypt"), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ec, "key_ops", json_pack("[s]", "verify"), &k), SIGNET_OK);
    sg_jwk_key_clear(&k);
    assert_int_equal(parse_mut(ec, "key_ops", json_string("verify"), &k), SIGNET_ERR_BAD_JWKS);
    /* kty/crv/coordinates. */
    assert_int_equal(parse_mut(ec, "kty", json_string("oct"), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ec, "kty", NULL, &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "crv", json_string("secp256k1"), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ec, "crv", json_string("P-384"), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "x", json_string("AAAA"), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "y", NULL, &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ed, "crv", json_string("X25519"), &k), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(parse_mut(ed, "x", json_string("AAAA"), &k), SIGNET_ERR_BAD_JWKS);
    /* A point that is not on the curve: y + 1. */
    json_t *j = kit_jwk(ec, "k1");
    uint8_t y[32];
    size_t yl = 0;
    const char *ys = json_string_value(json_object_get(j, "y"));
    assert_int_equal(sg_b64url_decode(ys, strlen(ys), y, sizeof y, &yl), SIGNET_OK);
    y[31] ^= 1;
    kit_set_b64(j, "y", y, 32);
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_ERR_BAD_JWKS);
    json_decref(j);
    /* kid and alg types. */
    assert_int_equal(parse_mut(ec, "kid", json_integer(1), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "kid", json_string(""), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "alg", json_integer(1), &k), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(parse_mut(ec, "alg", json_string("ES384"), &k), SIGNET_OK);
    assert_int_equal(k.algs, 0); /* a P-256 key claiming ES384 serves nothing */
    sg_jwk_key_clear(&k);
    assert_int_equal(parse_mut(ec, "kid", NULL, &k), SIGNET_OK);
    assert_null(k.kid);
    sg_jwk_key_clear(&k);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
}

static void test_rsa_limits(void **state)
{
    (void)state;
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    json_t *j = kit_jwk(small, "r");
    struct sg_key k;
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_ERR_BAD_JWKS);
    json_decref(j);
    EVP_PKEY_free(small);
    EVP_PKEY *rsa = kit_keygen(KIT_RSA2048);
    assert_int_equal(parse_mut(rsa, "e", json_string("AQ"), &k), SIGNET_ERR_BAD_JWKS); /* e = 1 */
    assert_int_equal(parse_mut(rsa, "e", json_string("Ag"), &k), SIGNET_ERR_BAD_JWKS); /* even */
    assert_int_equal(parse_mut(rsa, "n", json_string("AQAB"), &k), SIGNET_ERR_BAD_JWKS);
    EVP_PKEY_free(rsa);
}

static void test_signet_members(void **state)
{
    (void)state;
    EVP_PKEY *ec = kit_keygen(KIT_P256);
    json_t *j = kit_jwk(ec, "k1");
    json_object_set_new(j, "iss", json_string("https://i"));
    json_object_set_new(j, "active_from", json_integer(100));
    json_object_set_new(j, "active_until", json_integer(200));
    struct sg_key k;
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_OK);
    assert_string_equal(k.iss, "https://i");
    assert_true(k.has_active_from && k.has_active_until);
    assert_int_equal(k.active_from, 100);
    assert_int_equal(k.active_until, 200);
    sg_jwk_key_clear(&k);
    json_object_set_new(j, "active_until", json_integer(99));
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_ERR_BAD_JWKS);
    json_object_set_new(j, "active_until", json_string("200"));
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_ERR_BAD_JWKS);
    json_object_del(j, "active_until");
    json_object_set_new(j, "iss", json_integer(1));
    assert_int_equal(sg_jwk_parse(j, &k), SIGNET_ERR_BAD_JWKS);
    json_decref(j);
    EVP_PKEY_free(ec);
}

static signet_err jwks(const char *text, struct sg_keyset **set)
{
    return sg_jwks_parse((const uint8_t *)text, strlen(text), 65536, set);
}

static void test_jwks_sets(void **state)
{
    (void)state;
    EVP_PKEY *a = kit_keygen(KIT_P256);
    EVP_PKEY *b = kit_keygen(KIT_ED25519);
    json_t *ja = kit_jwk(a, "a");
    json_t *jb = kit_jwk(b, "b");
    json_t *junk = json_pack("{s:s,s:s}", "kty", "oct", "kid", "c");
    json_t *keys[] = {ja, jb, junk, NULL};
    char *text = kit_jwks_text(keys);
    struct sg_keyset *set = NULL;
    assert_int_equal(jwks(text, &set), SIGNET_OK);
    assert_int_equal(set->n, 2);
    assert_int_equal(set->skipped, 1);
    assert_non_null(sg_keyset_find(set, "a"));
    assert_non_null(sg_keyset_find(set, "b"));
    assert_null(sg_keyset_find(set, "c"));
    assert_null(sg_keyset_find(set, "A"));
    sg_keyset_unref(sg_keyset_ref(set));
    sg_keyset_unref(set);
    free(text);
    /* Two keys with one kid make the set ambiguous. */
    json_object_set_new(jb, "kid", json_string("a"));
    text = kit_jwks_text(keys);
    assert_int_equal(jwks(text, &set), SIGNET_ERR_BAD_JWKS);
    assert_null(set);
    free(text);
    assert_int_equal(jwks("{\"keys\":[]}", &set), SIGNET_OK);
    assert_int_equal(set->n, 0);
    sg_keyset_unref(set);
    assert_int_equal(jwks("{\"keys\":{}}", &set), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(jwks("[]", &set), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(jwks("{}", &set), SIGNET_ERR_BAD_JWKS);
    assert_int_equal(jwks("{\"keys\":[],\"keys\":[]}", &set), SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(jwks("{\"keys\":[", &set), SIGNET_ERR_BAD_JSON);
    assert_int_equal(sg_jwks_parse((const uint8_t *)"{\"keys\":[]}", 11, 10, &set),
                     SIGNET_ERR_TOO_LARGE);
    /* At most SG_JWKS_MAX_KEYS entries. */
    json_t *arr = json_array();
    for (int i = 0; i <= SG_JWKS_MAX_KEYS; i++)
        json_array_append_new(arr, json_pack("{s:s}", "kty", "oct"));
    json_t *doc = json_pack("{s:o}", "keys", arr);
    char *many = json_dumps(doc, JSON_COMPACT);
    assert_int_equal(jwks(many, &set), SIGNET_ERR_BAD_JWKS);
    free(many);
    json_decref(doc);
    json_decref(ja);
    json_decref(jb);
    json_decref(junk);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_types),
        cmocka_unit_test(test_rfc7638_thumbprint),
        cmocka_unit_test(test_hostile_members),
        cmocka_unit_test(test_rsa_limits),
        cmocka_unit_test(test_signet_members),
        cmocka_unit_test(test_jwks_sets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
