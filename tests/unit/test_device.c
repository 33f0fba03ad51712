/* Device proofs (issue 14, src/signetd/device.c), hostile. Every proof is
 * made independently of signet-authenticator's signing code: with OpenSSL
 * directly (test_signet_kit.h: EVP_DigestSign, DER -> r||s by hand) over
 * header and claims texts written here, and, when python3 has PyJWT, by
 * tests/integration/authenticator/device_proof.py. One case per rule:
 * the good proofs (kid and registration), htm, htu, bh, iat +-61 s, jti,
 * typ, alg (none, HS256, ES384), kid of another key, jwk with d (and of
 * another curve, or with extra members), header and claim members,
 * signature bit flips, truncation, oversized input; the unverified kid;
 * the typed number. */
#include "test_signet_kit.h"
#include "testutil.h"

#include <openssl/sha.h>
#include <sys/wait.h>

#include "signetd/device.h"

#define NOW KIT_NOW
#define ISSUER "https://id.example/t/default"
#define HTU ISSUER "/approver/answer"
#define BODY "{\"id\":\"a1\",\"number\":\"42\",\"decision\":\"approve\"}"
#define JTI "AAECAwQFBgcICQoLDA0ODw" /* 16 bytes */

struct world {
    EVP_PKEY *dev;   /* the registered device key (P-256) */
    EVP_PKEY *other; /* another P-256 key */
    EVP_PKEY *p384;
    char jwk[256];   /* dev's public JWK, canonical text */
    char id[64];     /* its thumbprint, computed here */
    char other_jwk[256];
    char other_id[64];
    char bh[64];     /* b64url(SHA-256(BODY)) */
};

static struct world *W;

static void b64(const uint8_t *p, size_t n, char *out, size_t cap)
{
    assert_int_equal(sg_b64url_encode(p, n, out, cap), SIGNET_OK);
}

/* The canonical JWK text and its RFC 7638 thumbprint, with OpenSSL's SHA256. */
static void jwk_of(EVP_PKEY *k, char *jwk, size_t cap, char *id, size_t idcap)
{
    json_t *j = kit_jwk(k, NULL);
    int n = snprintf(jwk, cap, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     json_string_value(json_object_get(j, "crv")),
                     json_string_value(json_object_get(j, "x")),
                     json_string_value(json_object_get(j, "y")));
    assert_true(n > 0 && (size_t)n < cap);
    uint8_t d[32];
    SHA256((const uint8_t *)jwk, (size_t)n, d);
    b64(d, sizeof d, id, idcap);
    json_decref(j);
}

static int setup(void **state)
{
    (void)state;
    W = calloc(1, sizeof *W);
    W->dev = kit_keygen(KIT_P256);
    W->other = kit_keygen(KIT_P256);
    W->p384 = kit_keygen(KIT_P384);
    jwk_of(W->dev, W->jwk, sizeof W->jwk, W->id, sizeof W->id);
    jwk_of(W->other, W->other_jwk, sizeof W->other_jwk, W->other_id, sizeof W->other_id);
    uint8_t d[32];
    SHA256((const uint8_t *)BODY, strlen(BODY), d);
    b64(d, sizeof d, W->bh, sizeof W->bh);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(W->dev);
    EVP_PKEY_free(W->other);
    EVP_PKEY_free(W->p384);
    free(W);
    return 0;
}

static struct sd_device_expect expect_kid(void)
{
    struct sd_device_expect e = {
        .htm = "POST",
        .htu = HTU,
        .body = (const uint8_t *)BODY,
        .body_len = strlen(BODY),
        .now = NOW,
        .skew = SD_DEVICE_SKEW,
        .registering = 0,
        .device_jwk = W->jwk,
        .device_jwk_len = strlen(W->jwk),
    };
    return e;
}

static struct sd_device_expect expect_reg(void)
{
    struct sd_device_expect e = expect_kid();
    e.htu = ISSUER "/approver/register";
    e.registering = 1;
    e.device_jwk = NULL;
    e.device_jwk_len = 0;
    return e;
}

/* Claims text: htm, htu, iat (NOW + dt), jti, bh, then extra members. */
static char *claims(const char *htm, const char *htu, long dt, const char *bh, const char *extra)
{
    char *s = malloc(4096);
    (void)snprintf(s, 4096,
                   "{\"htm\":\"%s\",\"htu\":\"%s\",\"iat\":%lld,\"jti\":\"" JTI "\",\"bh\":\"%s\"%s}",
                   htm, htu, (long long)(NOW + dt), bh, extra != NULL ? extra : "");
    return s;
}

static char *kid_header(const char *kid)
{
    char *s = malloc(512);
    (void)snprintf(s, 512, "{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"%s\"}", kid);
    return s;
}

static char *jwk_header(const char *jwk)
{
    char *s = malloc(1024);
    (void)snprintf(s, 1024, "{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", jwk);
    return s;
}

/* Signs header and claims texts with key (ES256 through OpenSSL); frees both. */
static char *sign(EVP_PKEY *key, char *header, char *payload)
{
    char *tok = kit_sign_raw(key, SG_ALG_ES256, header, payload);
    free(header);
    free(payload);
    return tok;
}

static signet_err check(const char *proof, const struct sd_device_expect *e,
                        struct sd_device_proof *out, const char **why)
{
    *why = NULL;
    signet_err err = sd_device_proof_verify(proof, strlen(proof), e, out, why);
    assert_non_null(*why);
    if (err != SIGNET_OK) {
        assert_true((*why)[0] != '\0'); /* every refusal names its check */
        assert_string_equal(out->device_id, "");
    }
    return err;
}

/* The result of checking a kid proof with these claims (signed by dev). */
static signet_err kid_case(char *claims_text, const char **why)
{
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    char *p = sign(W->dev, kid_header(W->id), claims_text);
    signet_err err = check(p, &e, &out, why);
    free(p);
    return err;
}

static void test_good_kid(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    const char *why = NULL;
    char *p = sign(W->dev, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_OK);
    assert_string_equal(out.device_id, W->id);
    assert_string_equal(out.jti, JTI);
    assert_int_equal(out.iat, NOW);
    assert_string_equal(out.jwk, "");
    char kid[SD_DEVICE_ID_LEN + 1];
    assert_int_equal(sd_device_proof_kid(p, strlen(p), kid, sizeof kid), SIGNET_OK);
    assert_string_equal(kid, W->id);
    assert_int_equal(sd_device_proof_kid(p, strlen(p), kid, SD_DEVICE_ID_LEN),
                     SIGNET_ERR_INVALID_ARG);
    free(p);
    /* +-60 s is inside the window; an equivalent URL is the same htu */
    assert_int_equal(kid_case(claims("POST", HTU, 60, W->bh, NULL), &why), SIGNET_OK);
    assert_int_equal(kid_case(claims("POST", HTU, -60, W->bh, NULL), &why), SIGNET_OK);
    assert_int_equal(kid_case(claims("POST", "HTTPS://ID.EXAMPLE:443/t/default/approver/answer",
                                     0, W->bh, NULL),
                              &why),
                     SIGNET_OK);
    /* GET: bh of the empty body */
    uint8_t d[32];
    char empty_bh[64];
    SHA256((const uint8_t *)"", 0, d);
    b64(d, sizeof d, empty_bh, sizeof empty_bh);
    e.htm = "GET";
    e.htu = ISSUER "/approver/pending";
    e.body = NULL;
    e.body_len = 0;
    p = sign(W->dev, kid_header(W->id), claims("GET", ISSUER "/approver/pending", 0, empty_bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_OK);
    free(p);
}

static void test_good_registration(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_reg();
    struct sd_device_proof out;
    const char *why = NULL;
    char *p = sign(W->dev, jwk_header(W->jwk), claims("POST", ISSUER "/approver/register", 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_OK);
    assert_string_equal(out.device_id, W->id);
    assert_string_equal(out.jwk, W->jwk);
    /* members in another order: the stored text is still canonical */
    json_t *j = kit_jwk(W->dev, NULL);
    char reordered[512];
    (void)snprintf(reordered, sizeof reordered, "{\"y\":\"%s\",\"x\":\"%s\",\"kty\":\"EC\",\"crv\":\"P-256\"}",
                   json_string_value(json_object_get(j, "y")),
                   json_string_value(json_object_get(j, "x")));
    json_decref(j);
    free(p);
    p = sign(W->dev, jwk_header(reordered), claims("POST", ISSUER "/approver/register", 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_OK);
    assert_string_equal(out.jwk, W->jwk);
    assert_string_equal(out.device_id, W->id);
    /* what registration stored checks the next proofs */
    struct sd_device_expect k = expect_kid();
    k.device_jwk = reordered;
    k.device_jwk_len = strlen(reordered);
    free(p);
    p = sign(W->dev, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &k, &out, &why), SIGNET_OK);
    free(p);
}

static void test_request_binding(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(kid_case(claims("GET", HTU, 0, W->bh, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    assert_non_null(strstr(why, "htm"));
    assert_int_equal(kid_case(claims("post", HTU, 0, W->bh, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", ISSUER "/approver/pending", 0, W->bh, NULL), &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_non_null(strstr(why, "htu"));
    assert_int_equal(kid_case(claims("POST", "https://id.example/t/other/approver/answer", 0, W->bh,
                                     NULL),
                              &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", "http://id.example/t/default/approver/answer", 0,
                                     W->bh, NULL),
                              &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", HTU "?x=1", 0, W->bh, NULL), &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", HTU "#f", 0, W->bh, NULL), &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", "", 0, W->bh, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    /* bh: another body, the empty body's hash, not a hash */
    uint8_t d[32];
    char other[64];
    SHA256((const uint8_t *)BODY " ", strlen(BODY) + 1, d);
    b64(d, sizeof d, other, sizeof other);
    assert_int_equal(kid_case(claims("POST", HTU, 0, other, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    assert_non_null(strstr(why, "bh"));
    SHA256((const uint8_t *)"", 0, d);
    b64(d, sizeof d, other, sizeof other);
    assert_int_equal(kid_case(claims("POST", HTU, 0, other, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", HTU, 0, "", NULL), &why), SIGNET_ERR_BAD_CLAIM);
    /* the server's body differs from what was signed */
    struct sd_device_expect e = expect_kid();
    e.body_len -= 1;
    struct sd_device_proof out;
    char *p = sign(W->dev, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_ERR_BAD_CLAIM);
    free(p);
}

static void test_time_and_jti(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(kid_case(claims("POST", HTU, -61, W->bh, NULL), &why), SIGNET_ERR_EXPIRED);
    assert_int_equal(kid_case(claims("POST", HTU, 61, W->bh, NULL), &why),
                     SIGNET_ERR_IAT_IN_FUTURE);
    assert_int_equal(kid_case(claims("POST", HTU, -100000, W->bh, NULL), &why), SIGNET_ERR_EXPIRED);
    char text[1024];
    /* iat not an integer */
    (void)snprintf(text, sizeof text,
                   "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%lld.5,\"jti\":\"" JTI
                   "\",\"bh\":\"%s\"}",
                   (long long)NOW, W->bh);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_BAD_CLAIM);
    (void)snprintf(text, sizeof text,
                   "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":\"%lld\",\"jti\":\"" JTI
                   "\",\"bh\":\"%s\"}",
                   (long long)NOW, W->bh);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_BAD_CLAIM);
    /* missing claims */
    (void)snprintf(text, sizeof text,
                   "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%lld,\"bh\":\"%s\"}",
                   (long long)NOW, W->bh);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_MISSING_CLAIM);
    assert_non_null(strstr(why, "jti"));
    (void)snprintf(text, sizeof text,
                   "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"jti\":\"" JTI "\",\"bh\":\"%s\"}",
                   W->bh);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_MISSING_CLAIM);
    (void)snprintf(text, sizeof text,
                   "{\"htu\":\"" HTU "\",\"iat\":%lld,\"jti\":\"" JTI "\",\"bh\":\"%s\"}",
                   (long long)NOW, W->bh);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_MISSING_CLAIM);
    (void)snprintf(text, sizeof text,
                   "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%lld,\"jti\":\"" JTI "\"}",
                   (long long)NOW);
    assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_MISSING_CLAIM);
    /* jti: 15 bytes, not base64url, a number, 65 bytes */
    static const char *const bad_jti[] = {"\"AAECAwQFBgcICQoLDA0O\"", "\"AAECAwQFBgcICQoLDA0O+w\"",
                                          "\"AAECAwQFBgcICQoLDA0O/w\"", "1234",
                                          "\"" JTI JTI JTI JTI "A\""};
    for (size_t i = 0; i < sizeof bad_jti / sizeof bad_jti[0]; i++) {
        (void)snprintf(text, sizeof text,
                       "{\"htm\":\"POST\",\"htu\":\"" HTU "\",\"iat\":%lld,\"jti\":%s,\"bh\":\"%s\"}",
                       (long long)NOW, bad_jti[i], W->bh);
        assert_int_equal(kid_case(strdup(text), &why), SIGNET_ERR_BAD_CLAIM);
    }
    /* an extra claim, a duplicate one, a nested object */
    assert_int_equal(kid_case(claims("POST", HTU, 0, W->bh, ",\"nonce\":\"x\""), &why),
                     SIGNET_ERR_BAD_CLAIM);
    assert_int_equal(kid_case(claims("POST", HTU, 0, W->bh, ",\"htm\":\"POST\""), &why),
                     SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(kid_case(claims("POST", HTU, 0, W->bh, ",\"x\":{}"), &why),
                     SIGNET_ERR_BAD_JSON);
}

static void test_header(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    const char *why = NULL;
    char h[1024];
    /* @ stands for the kid (the registered device's id, or 42 characters of it) */
    struct {
        const char *header;
        signet_err want;
    } cases[] = {
        {"{\"typ\":\"JWT\",\"alg\":\"ES256\",\"kid\":\"@\"}", SIGNET_ERR_BAD_TYP},
        {"{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"kid\":\"@\"}", SIGNET_ERR_BAD_TYP},
        {"{\"typ\":\"application/signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@\"}",
         SIGNET_ERR_BAD_TYP},
        {"{\"typ\":\"Signet-Device+JWT\",\"alg\":\"ES256\",\"kid\":\"@\"}", SIGNET_ERR_BAD_TYP},
        {"{\"alg\":\"ES256\",\"kid\":\"@\"}", SIGNET_ERR_BAD_TYP},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES384\",\"kid\":\"@\"}",
         SIGNET_ERR_ALG_NOT_ALLOWED},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"es256\",\"kid\":\"@\"}",
         SIGNET_ERR_ALG_NOT_ALLOWED},
        {"{\"typ\":\"signet-device+jwt\",\"kid\":\"@\"}", SIGNET_ERR_ALG_NOT_ALLOWED},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@\",\"crit\":[\"b64\"]}",
         SIGNET_ERR_UNKNOWN_CRIT},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@\",\"x5u\":\"https://e\"}",
         SIGNET_ERR_FORBIDDEN_HEADER},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@\",\"cty\":\"x\"}",
         SIGNET_ERR_FORBIDDEN_HEADER},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@\",\"kid\":\"x\"}",
         SIGNET_ERR_DUPLICATE_MEMBER},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":\"@!\"}",
         SIGNET_ERR_UNKNOWN_KID},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\",\"kid\":1}", SIGNET_ERR_UNKNOWN_KID},
        {"{\"typ\":\"signet-device+jwt\",\"alg\":\"ES256\"}", SIGNET_ERR_UNKNOWN_KID},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *at = strchr(cases[i].header, '@');
        if (at == NULL) {
            (void)snprintf(h, sizeof h, "%s", cases[i].header);
        } else {
            int cut = at[1] == '!'; /* 42 characters of the id */
            (void)snprintf(h, sizeof h, "%.*s%.*s%s", (int)(at - cases[i].header), cases[i].header,
                           (int)strlen(W->id) - cut, W->id, at + 1 + cut);
        }
        char *p = sign(W->dev, strdup(h), claims("POST", HTU, 0, W->bh, NULL));
        signet_err got = check(p, &e, &out, &why);
        if (got != cases[i].want)
            fail_msg("case %zu (%s): %d (%s), wanted %d", i, h, got, why, cases[i].want);
        free(p);
    }
    /* a jwk in a registered device's proof; a kid in a registration */
    char *p = sign(W->dev, jwk_header(W->jwk), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_ERR_FORBIDDEN_HEADER);
    free(p);
    struct sd_device_expect r = expect_reg();
    p = sign(W->dev, kid_header(W->id), claims("POST", ISSUER "/approver/register", 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_FORBIDDEN_HEADER);
    free(p);
}

static void test_alg_none_and_hs256(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    const char *why = NULL;
    char h[512];
    char *c = claims("POST", HTU, 0, W->bh, NULL);
    char *cb = kit_b64((const uint8_t *)c, strlen(c));
    /* alg none, unsigned */
    (void)snprintf(h, sizeof h, "{\"typ\":\"signet-device+jwt\",\"alg\":\"none\",\"kid\":\"%s\"}", W->id);
    char *hb = kit_b64((const uint8_t *)h, strlen(h));
    char tok[8192];
    (void)snprintf(tok, sizeof tok, "%s.%s.", hb, cb);
    assert_int_equal(check(tok, &e, &out, &why), SIGNET_ERR_ALG_NOT_ALLOWED);
    free(hb);
    /* HS256 keyed with the public JWK text (the classic confusion) */
    (void)snprintf(h, sizeof h, "{\"typ\":\"signet-device+jwt\",\"alg\":\"HS256\",\"kid\":\"%s\"}", W->id);
    hb = kit_b64((const uint8_t *)h, strlen(h));
    char si[6000];
    int n = snprintf(si, sizeof si, "%s.%s", hb, cb);
    uint8_t mac[32];
    unsigned mlen = 0;
    HMAC(EVP_sha256(), W->jwk, (int)strlen(W->jwk), (const uint8_t *)si, (size_t)n, mac, &mlen);
    char *mb = kit_b64(mac, mlen);
    (void)snprintf(tok, sizeof tok, "%s.%s", si, mb);
    assert_int_equal(check(tok, &e, &out, &why), SIGNET_ERR_ALG_NOT_ALLOWED);
    free(mb);
    free(hb);
    free(cb);
    free(c);
}

static void test_keys(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    const char *why = NULL;
    /* another key's proof, naming itself: not the registered device */
    char *p = sign(W->other, kid_header(W->other_id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_ERR_UNKNOWN_KID);
    free(p);
    /* another key's proof naming the registered device */
    p = sign(W->other, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &e, &out, &why), SIGNET_ERR_BAD_SIGNATURE);
    free(p);

    struct sd_device_expect r = expect_reg();
    const char *reg_htu = ISSUER "/approver/register";
    /* jwk with d: a private key sent over the wire is refused */
    BIGNUM *dbn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(W->dev, OSSL_PKEY_PARAM_PRIV_KEY, &dbn), 1);
    uint8_t draw[32];
    assert_int_equal(BN_bn2binpad(dbn, draw, 32), 32);
    BN_free(dbn);
    char db[64], priv[512];
    b64(draw, 32, db, sizeof db);
    (void)snprintf(priv, sizeof priv, "%.*s,\"d\":\"%s\"}", (int)strlen(W->jwk) - 1, W->jwk, db);
    p = sign(W->dev, jwk_header(priv), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    assert_non_null(strstr(why, "private"));
    free(p);
    /* extra members, another curve, another key type, a point off the curve */
    char extra[512];
    (void)snprintf(extra, sizeof extra, "%.*s,\"kid\":\"k\"}", (int)strlen(W->jwk) - 1, W->jwk);
    p = sign(W->dev, jwk_header(extra), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    free(p);
    char p384[512], p384_id[64];
    jwk_of(W->p384, p384, sizeof p384, p384_id, sizeof p384_id);
    char *t = kit_sign_raw(W->p384, SG_ALG_ES384, "{}", "{}");
    free(t);
    p = sign(W->dev, jwk_header(p384), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    free(p);
    p = sign(W->dev, jwk_header("{\"kty\":\"oct\",\"k\":\"AAAA\"}"),
             claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    free(p);
    char off[512];
    json_t *j = kit_jwk(W->dev, NULL);
    (void)snprintf(off, sizeof off, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
                   json_string_value(json_object_get(j, "x")),
                   json_string_value(json_object_get(j, "x")));
    json_decref(j);
    p = sign(W->dev, jwk_header(off), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    free(p);
    p = sign(W->dev, jwk_header("\"x\""), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_UNSUPPORTED);
    free(p);
    /* a registration proof signed by another key than its jwk */
    p = sign(W->other, jwk_header(W->jwk), claims("POST", reg_htu, 0, W->bh, NULL));
    assert_int_equal(check(p, &r, &out, &why), SIGNET_ERR_BAD_SIGNATURE);
    free(p);
    /* a stored key that is no P-256 public JWK is the caller's error */
    struct sd_device_expect s = expect_kid();
    s.device_jwk = priv;
    s.device_jwk_len = strlen(priv);
    p = sign(W->dev, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(check(p, &s, &out, &why), SIGNET_ERR_INVALID_ARG);
    s.device_jwk = "{";
    s.device_jwk_len = 1;
    assert_int_equal(check(p, &s, &out, &why), SIGNET_ERR_INVALID_ARG);
    s.device_jwk = NULL;
    s.device_jwk_len = 0;
    assert_int_equal(check(p, &s, &out, &why), SIGNET_ERR_INVALID_ARG);
    s = expect_kid();
    s.htu = "not a url";
    assert_int_equal(check(p, &s, &out, &why), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sd_device_proof_verify(p, strlen(p), NULL, &out, &why), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sd_device_proof_verify(p, strlen(p), &s, NULL, &why), SIGNET_ERR_INVALID_ARG);
    free(p);
}

static void test_signature_and_bytes(void **state)
{
    (void)state;
    struct sd_device_expect e = expect_kid();
    struct sd_device_proof out;
    const char *why = NULL;
    char *p = sign(W->dev, kid_header(W->id), claims("POST", HTU, 0, W->bh, NULL));
    size_t n = strlen(p);
    const char *dot = strrchr(p, '.');
    size_t sig_at = (size_t)(dot - p) + 1;
    /* a bit flipped in each signature character (staying base64url) */
    for (size_t i = sig_at; i < n; i++) {
        char *q = strdup(p);
        q[i] = q[i] == 'A' ? 'B' : 'A';
        signet_err got = check(q, &e, &out, &why);
        assert_true(got == SIGNET_ERR_BAD_SIGNATURE || got == SIGNET_ERR_BAD_BASE64);
        free(q);
    }
    /* and in the payload: the signature no longer covers it */
    char *q = strdup(p);
    q[sig_at - 10] = q[sig_at - 10] == 'A' ? 'B' : 'A';
    signet_err got = check(q, &e, &out, &why);
    assert_true(got == SIGNET_ERR_BAD_SIGNATURE || got == SIGNET_ERR_BAD_BASE64);
    free(q);
    /* every truncation fails */
    for (size_t len = 0; len < n; len++) {
        char *t = strndup(p, len);
        assert_int_not_equal(check(t, &e, &out, &why), SIGNET_OK);
        free(t);
    }
    /* a NUL inside, a fourth part, a JSON serialisation */
    q = strdup(p);
    q[5] = '\0';
    assert_int_equal(sd_device_proof_verify(q, n, &e, &out, &why), SIGNET_ERR_NOT_COMPACT_JWS);
    free(q);
    size_t cap = n + 3;
    q = malloc(cap);
    (void)snprintf(q, cap, "%s.x", p);
    assert_int_equal(check(q, &e, &out, &why), SIGNET_ERR_NOT_COMPACT_JWS);
    free(q);
    assert_int_equal(check("{\"payload\":\"\"}", &e, &out, &why), SIGNET_ERR_NOT_COMPACT_JWS);
    assert_int_equal(sd_device_proof_verify(NULL, 0, &e, &out, &why), SIGNET_ERR_MALFORMED);
    /* oversized: 8193 bytes, and a huge claims object under the cap refused by content */
    char *big = malloc(SD_DEVICE_PROOF_MAX + 2);
    memset(big, 'A', SD_DEVICE_PROOF_MAX + 1);
    big[SD_DEVICE_PROOF_MAX + 1] = '\0';
    assert_int_equal(check(big, &e, &out, &why), SIGNET_ERR_TOO_LARGE);
    memcpy(big, p, n); /* a valid proof padded past the cap */
    assert_int_equal(check(big, &e, &out, &why), SIGNET_ERR_TOO_LARGE);
    free(big);
    char pad[3000];
    memset(pad, 'a', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    char longurl[3100];
    (void)snprintf(longurl, sizeof longurl, ISSUER "/%s", pad);
    assert_int_equal(kid_case(claims("POST", longurl, 0, W->bh, NULL), &why), SIGNET_ERR_BAD_CLAIM);
    free(p);
    /* the unverified kid */
    char kid[SD_DEVICE_ID_LEN + 1];
    assert_int_equal(sd_device_proof_kid("a.b.c", 5, kid, sizeof kid), SIGNET_ERR_BAD_BASE64);
    p = sign(W->dev, jwk_header(W->jwk), claims("POST", HTU, 0, W->bh, NULL));
    assert_int_equal(sd_device_proof_kid(p, strlen(p), kid, sizeof kid), SIGNET_ERR_MALFORMED);
    assert_string_equal(kid, "");
    free(p);
}

static void test_number(void **state)
{
    (void)state;
    assert_true(sd_device_number_ok("42", "42"));
    assert_true(sd_device_number_ok("07", "07"));
    assert_false(sd_device_number_ok("42", "24"));
    assert_false(sd_device_number_ok("43", "42"));
    assert_false(sd_device_number_ok("7", "07"));
    assert_false(sd_device_number_ok("4", "4"));
    assert_false(sd_device_number_ok("", ""));
    assert_false(sd_device_number_ok("420", "42"));
    assert_false(sd_device_number_ok("42", "420"));
    assert_false(sd_device_number_ok("42 ", "42"));
    assert_false(sd_device_number_ok(" 42", "42"));
    assert_false(sd_device_number_ok("4a", "4a"));
    assert_false(sd_device_number_ok("\xd9\xa4\xd9\xa2", "42")); /* Arabic-Indic digits */
    assert_false(sd_device_number_ok(NULL, "42"));
    assert_false(sd_device_number_ok("42", NULL));
}

/* Proofs made by PyJWT + cryptography (device_proof.py). */
static void test_pyjwt(void **state)
{
    (void)state;
    const char *src = getenv("SIGNET_SOURCE_DIR");
    char cmd[1024];
    (void)snprintf(cmd, sizeof cmd,
                   "cd '%s' && for py in python3 /usr/bin/python3; do "
                   "$py -c 'import jwt, cryptography' 2>/dev/null && exec $py "
                   "tests/integration/authenticator/device_proof.py '" ISSUER "' '" BODY "' %lld; "
                   "done; exit 77",
                   src != NULL ? src : ".", (long long)NOW);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    int st = pclose(f);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
        fprintf(stderr, "python3 with PyJWT is missing: skipped\n");
        skip();
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    const char *jwk = json_string_value(json_object_get(doc, "jwk"));
    const char *id = json_string_value(json_object_get(doc, "thumbprint"));
    assert_non_null(jwk);
    struct sd_device_expect r = expect_reg();
    struct sd_device_expect k = expect_kid();
    k.device_jwk = jwk;
    k.device_jwk_len = strlen(jwk);
    struct sd_device_proof out;
    const char *why = NULL;
    const char *reg = json_string_value(json_object_get(doc, "register"));
    assert_int_equal(check(reg, &r, &out, &why), SIGNET_OK);
    assert_string_equal(out.device_id, id); /* the thumbprint Python computed */
    assert_string_equal(out.jwk, jwk);
    const char *good = json_string_value(json_object_get(doc, "answer"));
    assert_int_equal(check(good, &k, &out, &why), SIGNET_OK);
    assert_string_equal(out.device_id, id);
    static const struct {
        const char *name;
        signet_err want;
        int registering;
    } bad[] = {
        {"register_with_d", SIGNET_ERR_UNSUPPORTED, 1}, {"hs256", SIGNET_ERR_ALG_NOT_ALLOWED, 0},
        {"none", SIGNET_ERR_ALG_NOT_ALLOWED, 0},       {"old", SIGNET_ERR_EXPIRED, 0},
        {"future", SIGNET_ERR_IAT_IN_FUTURE, 0},       {"no_jti", SIGNET_ERR_MISSING_CLAIM, 0},
        {"wrong_htu", SIGNET_ERR_BAD_CLAIM, 0},        {"wrong_htm", SIGNET_ERR_BAD_CLAIM, 0},
        {"wrong_bh", SIGNET_ERR_BAD_CLAIM, 0},         {"typ_jwt", SIGNET_ERR_BAD_TYP, 0},
        {"bit_flip", SIGNET_ERR_BAD_SIGNATURE, 0},     {"other_key", SIGNET_ERR_BAD_SIGNATURE, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = json_string_value(json_object_get(doc, bad[i].name));
        assert_non_null(p);
        signet_err got = check(p, bad[i].registering ? &r : &k, &out, &why);
        if (got != bad[i].want)
            fail_msg("PyJWT %s: %d (%s), wanted %d", bad[i].name, got, why, bad[i].want);
    }
    json_decref(doc);
}

/* The signed answer's body: exactly id, decision and number, in their
 * shapes; anything else is refused with a reason and leaves nothing. */
static void test_answer_parse(void **state)
{
    (void)state;
    struct sd_approval_answer a;
    const char *why = NULL;
#define ANSWER(s) sd_approval_answer_parse((const uint8_t *)(s), strlen(s), &a, &why)
    assert_int_equal(ANSWER("{\"id\":\"aB-_9\",\"number\":\"07\",\"decision\":\"approve\"}"), 0);
    assert_string_equal(a.id, "aB-_9");
    assert_string_equal(a.number, "07");
    assert_int_equal(a.decision, SD_ANSWER_APPROVE);
    assert_null(why);
    assert_int_equal(ANSWER("{\"decision\":\"deny\",\"number\":\"\",\"id\":\"x\"}"), 0);
    assert_int_equal(a.decision, SD_ANSWER_DENY);
    assert_int_equal(ANSWER("{\"id\":\"x\",\"number\":\"\",\"decision\":\"not_me\"}"), 0);
    assert_int_equal(a.decision, SD_ANSWER_NOT_ME);
    static const char *const bad[] = {
        "",
        "[]",
        "{\"id\":\"x\",\"number\":\"42\"}",
        "{\"id\":\"x\",\"number\":\"42\",\"decision\":\"approve\",\"extra\":1}",
        "{\"id\":\"\",\"number\":\"42\",\"decision\":\"approve\"}",
        "{\"id\":\"a b\",\"number\":\"42\",\"decision\":\"approve\"}",
        "{\"id\":\"a\\u0000b\",\"number\":\"42\",\"decision\":\"approve\"}",
        "{\"id\":7,\"number\":\"42\",\"decision\":\"approve\"}",
        "{\"id\":\"x\",\"number\":\"4\",\"decision\":\"approve\"}",
        "{\"id\":\"x\",\"number\":\"423\",\"decision\":\"approve\"}",
        "{\"id\":\"x\",\"number\":\"4x\",\"decision\":\"approve\"}",
        "{\"id\":\"x\",\"number\":42,\"decision\":\"approve\"}",
        "{\"id\":\"x\",\"number\":\"42\",\"decision\":\"deny\"}",
        "{\"id\":\"x\",\"number\":\"\",\"decision\":\"yes\"}",
        "{\"id\":\"x\",\"number\":\"\",\"decision\":\"approved\"}",
        "{\"id\":\"x\",\"id\":\"y\",\"number\":\"\",\"decision\":\"deny\"}",
        ("{\"id\":\"0123456789012345678901234567890123456789012345678\",\"number\":\"\","
         "\"decision\":\"deny\"}"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = NULL;
        memset(&a, 0x5a, sizeof a);
        assert_int_equal(ANSWER(bad[i]), -1);
        assert_non_null(why);
        assert_string_equal(a.id, "");
        assert_int_equal(a.decision, 0);
    }
#undef ANSWER
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_kid),
        cmocka_unit_test(test_good_registration),
        cmocka_unit_test(test_request_binding),
        cmocka_unit_test(test_time_and_jti),
        cmocka_unit_test(test_header),
        cmocka_unit_test(test_alg_none_and_hs256),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_signature_and_bytes),
        cmocka_unit_test(test_number),
        cmocka_unit_test(test_answer_parse),
        cmocka_unit_test(test_pyjwt),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
