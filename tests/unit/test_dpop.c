/* DPoP (RFC 9449), hostile: one case per §4.3 rule of the proof checker
 * (lib/dpop.c), the htu normalisation table, stateless nonces, the replay
 * cache (also under threads), and libsignet's resource-server decision:
 * each downgrade, a replayed proof, a stolen bound token used with another
 * key, the nonce flow, the fail-closed rule, the Authorization parser and
 * the challenge. Every proof is signed here with fresh keys and differs
 * from a valid one in one respect. */
#include <signet/signet.h>

#include "test_signet_kit.h"
#include "testutil.h"

#include <openssl/sha.h>

#include "dpop.h"
#include "util/thumbprint.h"

#define ISS "https://as.example"
#define AUD "api://orders"
#define URL "https://rs.example/api/orders"
#define NOW KIT_NOW

struct world {
    EVP_PKEY *issuer;  /* P-256, signs access tokens, kid "a1" */
    EVP_PKEY *client;  /* P-256: the DPoP key tokens are bound to */
    EVP_PKEY *thief;   /* P-256: someone else's key */
    EVP_PKEY *ed;      /* Ed25519 */
    EVP_PKEY *rsa;     /* RSA 2048 */
    EVP_PKEY *p384;    /* P-384: ES384 is not a default DPoP alg */
    char *jwks;
    char jkt_client[SG_THUMBPRINT_LEN + 1];
    int64_t now;
    char last_reason[160];
    signet_err last_result;
};

static int64_t world_clock(void *ctx)
{
    return ((struct world *)ctx)->now;
}

static void on_event(const signet_event *ev, void *ctx)
{
    struct world *w = ctx;
    w->last_result = ev->result;
    snprintf(w->last_reason, sizeof w->last_reason, "%s", ev->reason);
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    w->now = NOW;
    w->issuer = kit_keygen(KIT_P256);
    w->client = kit_keygen(KIT_P256);
    w->thief = kit_keygen(KIT_P256);
    w->ed = kit_keygen(KIT_ED25519);
    w->rsa = kit_keygen(KIT_RSA2048);
    w->p384 = kit_keygen(KIT_P384);
    json_t *k = kit_jwk(w->issuer, "a1");
    json_t *keys[] = {k, NULL};
    w->jwks = kit_jwks_text(keys);
    json_decref(k);
    json_t *cj = kit_jwk(w->client, NULL);
    assert_int_equal(sg_jwk_thumbprint(cj, w->jkt_client), SIGNET_OK);
    json_decref(cj);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    EVP_PKEY_free(w->issuer);
    EVP_PKEY_free(w->client);
    EVP_PKEY_free(w->thief);
    EVP_PKEY_free(w->ed);
    EVP_PKEY_free(w->rsa);
    EVP_PKEY_free(w->p384);
    free(w->jwks);
    free(w);
    return 0;
}

/* ---- proofs --------------------------------------------------------------- */

static json_t *phdr(EVP_PKEY *k, const char *alg)
{
    json_t *h = json_object();
    json_object_set_new(h, "typ", json_string("dpop+jwt"));
    json_object_set_new(h, "alg", json_string(alg));
    json_object_set_new(h, "jwk", kit_jwk(k, NULL));
    return h;
}

static int jti_counter;

static json_t *pclm(const char *htm, const char *htu, int64_t iat, const char *token)
{
    json_t *c = json_object();
    char jti[32];
    snprintf(jti, sizeof jti, "jti-%d", ++jti_counter);
    json_object_set_new(c, "jti", json_string(jti));
    json_object_set_new(c, "htm", json_string(htm));
    json_object_set_new(c, "htu", json_string(htu));
    json_object_set_new(c, "iat", json_integer(iat));
    if (token != NULL) {
        char ath[SG_THUMBPRINT_LEN + 1];
        assert_int_equal(sg_dpop_ath(token, strlen(token), ath), SIGNET_OK);
        json_object_set_new(c, "ath", json_string(ath));
    }
    return c;
}

/* The default valid proof for GET URL at NOW, for token (NULL: none). */
static char *proof(EVP_PKEY *k, const char *token)
{
    return kit_sign_json(k, SG_ALG_ES256, phdr(k, "ES256"), pclm("GET", URL, NOW, token));
}

static struct sg_dpop_expect expect(const char *token)
{
    struct sg_dpop_expect e = {
        .method = "GET",
        .url = URL,
        .now = NOW,
        .max_age = 300,
        .skew = 60,
        .access_token = token,
        .access_token_len = token != NULL ? strlen(token) : 0,
    };
    return e;
}

static const char *last_why;

static char *jwk_text(EVP_PKEY *k)
{
    json_t *j = kit_jwk(k, NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* sg_dpop_check with the default expectations; the proof is freed. */
static signet_err chk(char *p, const char *token)
{
    struct sg_dpop_expect e = expect(token);
    struct sg_dpop_proof out;
    signet_err err = sg_dpop_check(p, strlen(p), &e, &out, &last_why);
    sg_dpop_proof_clear(&out);
    free(p);
    return err;
}

/* Rejected by the rule whose sentence contains `word`. */
#define REJECT(p, token, word)                                              \
    do {                                                                    \
        assert_int_equal(chk((p), (token)), SIGNET_ERR_DPOP);               \
        if (strstr(last_why, (word)) == NULL)                               \
            fail_msg("why \"%s\" does not name \"%s\"", last_why, (word));  \
    } while (0)

static void test_valid_proof(void **state)
{
    struct world *w = *state;
    char *p = proof(w->client, "tok");
    struct sg_dpop_expect e = expect("tok");
    struct sg_dpop_proof out;
    const char *why = NULL;
    assert_int_equal(sg_dpop_check(p, strlen(p), &e, &out, &why), SIGNET_OK);
    assert_string_equal(out.jkt, w->jkt_client);
    assert_string_equal(out.alg, "ES256");
    assert_int_equal(out.iat, NOW);
    assert_non_null(out.jti);
    assert_null(out.nonce);
    sg_dpop_proof_clear(&out);
    free(p);
    /* EdDSA and PS256 are default proof algorithms too. */
    assert_int_equal(chk(kit_sign_json(w->ed, SG_ALG_EDDSA, phdr(w->ed, "EdDSA"),
                                       pclm("GET", URL, NOW, "tok")), "tok"),
                     SIGNET_OK);
    assert_int_equal(chk(kit_sign_json(w->rsa, SG_ALG_PS256, phdr(w->rsa, "PS256"),
                                       pclm("GET", URL, NOW, "tok")), "tok"),
                     SIGNET_OK);
    /* RFC 9864: "Ed25519" names EdDSA with an Ed25519 key, and only that. */
    assert_int_equal(chk(kit_sign_json(w->ed, SG_ALG_EDDSA, phdr(w->ed, "Ed25519"),
                                       pclm("GET", URL, NOW, "tok")), "tok"),
                     SIGNET_OK);
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "Ed25519"),
                         pclm("GET", URL, NOW, "tok")),
           "tok", "alg does not match");
    /* At the token endpoint: no access token, no ath. */
    assert_int_equal(chk(proof(w->client, NULL), NULL), SIGNET_OK);
}

/* §4.3 step 2: a single well-formed compact JWS. */
static void test_rule_compact_jws(void **state)
{
    struct world *w = *state;
    REJECT(strdup(""), "tok", "empty");
    REJECT(strdup("a.b"), "tok", "compact JWS");
    REJECT(strdup("a.b.c.d.e"), "tok", "compact JWS");
    REJECT(strdup("{\"payload\":\"x\"}"), "tok", "compact JWS");
    char *p = proof(w->client, "tok");
    size_t n = strlen(p);
    char *padded = malloc(n + 2);
    memcpy(padded, p, n);
    memcpy(padded + n, "=", 2);
    REJECT(padded, "tok", "base64url");
    /* two proofs in one header value (a list) */
    char *two = malloc(2 * n + 3);
    snprintf(two, 2 * n + 3, "%s, %s", p, p);
    REJECT(two, "tok", "compact JWS");
    free(p);
    char *big = malloc(SG_DPOP_PROOF_MAX + 2);
    memset(big, 'A', SG_DPOP_PROOF_MAX + 1);
    big[SG_DPOP_PROOF_MAX + 1] = '\0';
    REJECT(big, "tok", "larger");
    /* duplicate members, header and payload */
    char *jwk = jwk_text(w->client);
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s,\"typ\":\"dpop+jwt\"}", jwk);
    REJECT(kit_sign_raw(w->client, SG_ALG_ES256, hdr, "{\"jti\":\"x\"}"), "tok", "duplicate");
    snprintf(hdr, sizeof hdr, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":%s}", jwk);
    char body[512];
    snprintf(body, sizeof body,
             "{\"jti\":\"a\",\"htm\":\"GET\",\"htu\":\"%s\",\"iat\":%lld,\"htm\":\"POST\"}", URL,
             (long long)NOW);
    REJECT(kit_sign_raw(w->client, SG_ALG_ES256, hdr, body), NULL, "duplicate");
    REJECT(kit_sign_raw(w->client, SG_ALG_ES256, hdr, "[1]"), NULL, "JSON object");
    free(jwk);
}

/* §4.3 steps 3-4: typ. */
static void test_rule_typ(void **state)
{
    struct world *w = *state;
    const char *bad[] = {"JWT", "DPOP+JWT", "application/dpop+jwt", "dpop+jwt ", "at+jwt"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *h = phdr(w->client, "ES256");
        json_object_set_new(h, "typ", json_string(bad[i]));
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
               "typ");
    }
    json_t *h = phdr(w->client, "ES256");
    json_object_del(h, "typ");
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
           "typ");
}

/* §4.3 step 5: alg asymmetric, not none, in the allowlist. */
static void test_rule_alg(void **state)
{
    struct world *w = *state;
    const char *bad[] = {"none", "HS256", "RS256", "es256", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *h = phdr(w->client, bad[i]);
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
               "alg");
    }
    /* alg none with an empty signature */
    char *jwk = jwk_text(w->client);
    char hdr[1024];
    snprintf(hdr, sizeof hdr, "{\"typ\":\"dpop+jwt\",\"alg\":\"none\",\"jwk\":%s}", jwk);
    free(jwk);
    char *h64 = kit_b64((const uint8_t *)hdr, strlen(hdr));
    json_t *cj = pclm("GET", URL, NOW, "tok");
    char *c = json_dumps(cj, JSON_COMPACT);
    json_decref(cj);
    char *c64 = kit_b64((const uint8_t *)c, strlen(c));
    char none[4096];
    snprintf(none, sizeof none, "%s.%s.", h64, c64);
    REJECT(strdup(none), "tok", "alg");
    free(h64);
    free(c);
    free(c64);
    /* ES384 is a real algorithm but not a default DPoP one */
    REJECT(kit_sign_json(w->p384, SG_ALG_ES384, phdr(w->p384, "ES384"),
                         pclm("GET", URL, NOW, "tok")),
           "tok", "allowed");
    /* alg missing */
    json_t *h = phdr(w->client, "ES256");
    json_object_del(h, "alg");
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok", "alg");
    /* alg that does not fit the jwk: EdDSA header, P-256 key */
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "EdDSA"),
                         pclm("GET", URL, NOW, "tok")),
           "tok", "alg does not match");
    /* a caller's narrower list */
    char *p = proof(w->client, "tok");
    struct sg_dpop_expect e = expect("tok");
    const char *only[] = {"EdDSA"};
    e.algs = only;
    e.n_algs = 1;
    struct sg_dpop_proof out;
    assert_int_equal(sg_dpop_check(p, strlen(p), &e, &out, &last_why), SIGNET_ERR_DPOP);
    sg_dpop_proof_clear(&out);
    free(p);
}

/* §4.3 steps 6-7: the jwk header, public only, and the signature by it. */
static void test_rule_jwk_and_signature(void **state)
{
    struct world *w = *state;
    json_t *h = phdr(w->client, "ES256");
    json_object_del(h, "jwk");
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok", "jwk");
    h = phdr(w->client, "ES256");
    json_object_set_new(h, "jwk", json_string("not an object"));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok", "jwk");
    /* private members: each alone */
    const char *priv[] = {"d", "p", "q", "dp", "dq", "qi", "k"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++) {
        h = phdr(w->client, "ES256");
        json_object_set_new(json_object_get(h, "jwk"), priv[i], json_string("AQAB"));
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
               "private");
    }
    /* a symmetric key */
    h = phdr(w->client, "ES256");
    json_t *oct = json_object();
    json_object_set_new(oct, "kty", json_string("oct"));
    json_object_set_new(h, "jwk", oct);
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
           "symmetric");
    /* a point that is not on the curve */
    h = phdr(w->client, "ES256");
    json_t *jwk = json_object_get(h, "jwk");
    json_object_set(jwk, "y", json_object_get(jwk, "x"));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
           "valid public");
    /* key from elsewhere */
    const char *other[] = {"jku", "x5u", "x5c"};
    for (size_t i = 0; i < 3; i++) {
        h = phdr(w->client, "ES256");
        json_object_set_new(h, other[i], json_string("https://evil.example/k"));
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
               "jwk header only");
    }
    h = phdr(w->client, "ES256");
    json_object_set_new(h, "crit", json_pack("[s]", "x"));
    json_object_set_new(h, "x", json_true());
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok", "crit");
    /* signed by another key than the one in jwk */
    REJECT(kit_sign_json(w->thief, SG_ALG_ES256, phdr(w->client, "ES256"),
                         pclm("GET", URL, NOW, "tok")),
           "tok", "signature");
    /* a flipped signature byte */
    char *p = proof(w->client, "tok");
    size_t n = strlen(p);
    p[n - 5] = p[n - 5] == 'A' ? 'B' : 'A';
    REJECT(p, "tok", "signature");
}

/* §4.3 step 3 (required claims) with jti, htm, htu. */
static void test_rule_claims(void **state)
{
    struct world *w = *state;
    const char *names[] = {"jti", "htm", "htu", "iat"};
    for (size_t i = 0; i < 4; i++) {
        json_t *c = pclm("GET", URL, NOW, "tok");
        json_object_del(c, names[i]);
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok",
               "missing");
    }
    json_t *c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "jti", json_integer(7));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "jti");
    c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "jti", json_string(""));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "jti");
    char longjti[SG_DPOP_JTI_MAX + 2];
    memset(longjti, 'j', sizeof longjti - 1);
    longjti[sizeof longjti - 1] = '\0';
    c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "jti", json_string(longjti));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "jti");
    longjti[SG_DPOP_JTI_MAX] = '\0'; /* exactly the cap: fine */
    c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "jti", json_string(longjti));
    assert_int_equal(chk(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c),
                         "tok"),
                     SIGNET_OK);
}

/* §4.3 step 8: htm exactly. */
static void test_rule_htm(void **state)
{
    struct world *w = *state;
    const char *bad[] = {"get", "POST", "GET ", "G"};
    for (size_t i = 0; i < 4; i++)
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                             pclm(bad[i], URL, NOW, "tok")),
               "tok", "htm");
}

/* §4.3 step 9: htu against the request URL, normalised. */
static void test_rule_htu(void **state)
{
    struct world *w = *state;
    const char *same[] = {
        URL,
        "HTTPS://RS.Example/api/orders",
        "https://rs.example:443/api/orders",
        "https://rs.example:/api/orders",
        "https://rs.example/api/./orders",
        "https://rs.example/api/x/../orders",
        "https://rs.example/%61pi/orders",
        "https://rs.example/api/orders?x=1",
        "https://rs.example/api/orders#frag",
    };
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
        assert_int_equal(chk(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                                           pclm("GET", same[i], NOW, "tok")),
                             "tok"),
                         SIGNET_OK);
    const char *other[] = {
        "https://rs.example/api/orders/", "https://rs.example/API/orders",
        "http://rs.example/api/orders",   "https://rs.example:8443/api/orders",
        "https://rs.example.evil/api/orders", "https://rs.example/api/orders%2F",
    };
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                             pclm("GET", other[i], NOW, "tok")),
               "tok", "htu does not match");
    const char *invalid[] = {
        "https://user@rs.example/api/orders", "https://u:p@rs.example/api/orders",
        "ftp://rs.example/api/orders",        "rs.example/api/orders",
        "https:///api/orders",                "https://rs.example/api/orders\x01",
        "https://rs.example/a pi/orders",     "https://rs.example/api/%zzorders",
        "https://rs.example:99999/api/orders", "",
    };
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                             pclm("GET", invalid[i], NOW, "tok")),
               "tok", "htu is not");
    json_t *c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "htu", json_integer(1));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "htu");
}

/* §4.3 step 11: the iat window [now - 300, now + skew]. */
static void test_rule_iat(void **state)
{
    struct world *w = *state;
    assert_int_equal(chk(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                                       pclm("GET", URL, NOW - 300, "tok")),
                         "tok"),
                     SIGNET_OK);
    assert_int_equal(chk(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                                       pclm("GET", URL, NOW + 60, "tok")),
                         "tok"),
                     SIGNET_OK);
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                         pclm("GET", URL, NOW - 301, "tok")),
           "tok", "too old");
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                         pclm("GET", URL, NOW + 61, "tok")),
           "tok", "future");
    json_t *c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "iat", json_string("1700000000"));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok",
           "NumericDate");
}

/* §4.3 step 12 (first half): ath with a token, none without. */
static void test_rule_ath(void **state)
{
    struct world *w = *state;
    REJECT(proof(w->client, NULL), "tok", "ath claim is missing");
    REJECT(proof(w->client, "another token"), "tok", "ath does not match");
    REJECT(proof(w->client, "tok"), NULL, "ath claim present");
    json_t *c = pclm("GET", URL, NOW, NULL);
    json_object_set_new(c, "ath", json_integer(5));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "ath");
    /* a nonce claim is shape-checked here, judged by the caller */
    c = pclm("GET", URL, NOW, "tok");
    json_object_set_new(c, "nonce", json_integer(5));
    REJECT(kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"), c), "tok", "nonce");
}

/* ---- htu normalisation table ---------------------------------------------- */

static void test_htu_table(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"https://rs.example", "https://rs.example/"},
        {"HTTP://RS.EXAMPLE:80/", "http://rs.example/"},
        {"http://rs.example:443/", "http://rs.example:443/"},
        {"https://rs.example:80/", "https://rs.example:80/"},
        {"https://rs.example:00443/a", "https://rs.example/a"},
        {"https://rs.example/a/b/c/./../../g", "https://rs.example/a/g"},
        {"https://rs.example/mid/content=5/../6", "https://rs.example/mid/6"},
        {"https://rs.example/../../a", "https://rs.example/a"},
        {"https://rs.example/a/..", "https://rs.example/"},
        {"https://rs.example/a/.", "https://rs.example/a/"},
        {"https://rs.example/%7euser/%2fx%2F", "https://rs.example/~user/%2Fx%2F"},
        {"https://rs.example/%41/%2e%2E/b", "https://rs.example/b"},
        {"https://rs.example/%41%2e%2E/b", "https://rs.example/A../b"},
        {"https://rs.example/a%20b", "https://rs.example/a%20b"},
        {"https://rs.example?q", "https://rs.example/"},
        {"https://rs.example#f", "https://rs.example/"},
        {"https://[2001:DB8::1]:8443/x", "https://[2001:db8::1]:8443/x"},
        {"https://127.0.0.1:443/x?y#z", "https://127.0.0.1/x"},
    };
    char out[SG_DPOP_URL_MAX + 1];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        signet_err err = sg_dpop_htu_normalise(ok[i].in, out, sizeof out);
        if (err != SIGNET_OK || strcmp(out, ok[i].out) != 0)
            fail_msg("%s -> %s (%d), want %s", ok[i].in, out, err, ok[i].out);
    }
    static const char *const bad[] = {
        "", "https:", "https://", "https://@rs.example/", "https://a@rs.example/",
        "mailto:a@b", "file:///etc/passwd", "javascript://x/", "https://rs.example:0/",
        "https://rs.example:65536/", "https://rs.example:8a/", "https://[::1/",
        "https://rs.example/a\\b", "https://rs.example/%", "https://rs.example/%4",
        "https://rs.example/%g1", "https://r%41s.example/", "https://rs.example/a b",
        "https://rs.example/\xc3\xa9", "https://rs.example/a[b]", "http ://rs.example/",
        " https://rs.example/", "https://rs.example/\t",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sg_dpop_htu_normalise(bad[i], out, sizeof out) == SIGNET_OK)
            fail_msg("accepted %s as %s", bad[i], out);
    char tiny[8];
    assert_int_equal(sg_dpop_htu_normalise("https://rs.example/", tiny, sizeof tiny),
                     SIGNET_ERR_TOO_LARGE);
    char *huge = malloc(SG_DPOP_URL_MAX + 20);
    memcpy(huge, "https://a/", 10);
    memset(huge + 10, 'a', SG_DPOP_URL_MAX);
    huge[SG_DPOP_URL_MAX + 10] = '\0';
    assert_int_equal(sg_dpop_htu_normalise(huge, out, sizeof out), SIGNET_ERR_TOO_LARGE);
    free(huge);
}

/* ---- nonces ----------------------------------------------------------------- */

static void test_nonce(void **state)
{
    (void)state;
    uint8_t key[32], other[32];
    memset(key, 7, sizeof key);
    memset(other, 8, sizeof other);
    char n[SG_DPOP_NONCE_MAX];
    assert_int_equal(sg_dpop_nonce_make(key, NOW, 60, n), SIGNET_OK);
    assert_true(strlen(n) > 40 && strlen(n) < SG_DPOP_NONCE_MAX);
    assert_true(sg_dpop_nonce_valid(key, NOW, 60, n));
    assert_true(sg_dpop_nonce_valid(key, NOW + 60, 60, n));   /* the next step */
    assert_false(sg_dpop_nonce_valid(key, NOW + 120, 60, n)); /* two steps on */
    assert_false(sg_dpop_nonce_valid(key, NOW - 60, 60, n));  /* from the future */
    assert_false(sg_dpop_nonce_valid(other, NOW, 60, n));
    assert_false(sg_dpop_nonce_valid(key, NOW, 30, n)); /* another step size */
    char t[SG_DPOP_NONCE_MAX];
    memcpy(t, n, sizeof t);
    t[20] = t[20] == 'A' ? 'B' : 'A';
    assert_false(sg_dpop_nonce_valid(key, NOW, 60, t));
    assert_false(sg_dpop_nonce_valid(key, NOW, 60, ""));
    assert_false(sg_dpop_nonce_valid(key, NOW, 60, NULL));
    assert_false(sg_dpop_nonce_valid(key, NOW, 0, n));
    /* the same key and time give the same nonce (several nodes agree) */
    char n2[SG_DPOP_NONCE_MAX];
    assert_int_equal(sg_dpop_nonce_make(key, NOW + 1, 60, n2), SIGNET_OK);
    assert_true(strcmp(n, n2) == 0 || (NOW + 1) / 60 != NOW / 60);
}

/* ---- replay cache ------------------------------------------------------------- */

static void rkey(uint8_t k[32], unsigned i)
{
    char s[32];
    snprintf(s, sizeof s, "k%u", i);
    SHA256((const unsigned char *)s, strlen(s), k);
}

static void test_replay_cache(void **state)
{
    (void)state;
    struct sg_dpop_replay *r = NULL;
    assert_int_equal(sg_dpop_replay_new(0, &r), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_dpop_replay_new(16, &r), SIGNET_OK);
    uint8_t k[32];
    rkey(k, 1);
    assert_int_equal(sg_dpop_replay_check(r, k, NOW, NOW + 301), SIGNET_OK);
    assert_int_equal(sg_dpop_replay_check(r, k, NOW + 300, NOW + 601), SIGNET_ERR_DPOP_REPLAY);
    /* expired: the iat window rejects it anyway, the slot is free again */
    assert_int_equal(sg_dpop_replay_check(r, k, NOW + 301, NOW + 602), SIGNET_OK);
    /* bounded: fill with live entries, then fail closed, never forget one */
    unsigned ok = 0, busy = 0;
    for (unsigned i = 2; i < 200; i++) {
        rkey(k, i);
        signet_err err = sg_dpop_replay_check(r, k, NOW + 301, NOW + 900);
        assert_true(err == SIGNET_OK || err == SIGNET_ERR_BUSY);
        ok += err == SIGNET_OK;
        busy += err == SIGNET_ERR_BUSY;
    }
    assert_true(ok >= 16 && ok <= 40); /* 2 x 16 slots, rounded to buckets */
    assert_true(busy > 0);
    for (unsigned i = 2; i < 200; i++) {
        rkey(k, i);
        signet_err err = sg_dpop_replay_check(r, k, NOW + 302, NOW + 900);
        assert_true(err == SIGNET_ERR_DPOP_REPLAY || err == SIGNET_ERR_BUSY);
    }
    sg_dpop_replay_free(r);
}

#define RT_THREADS 4
#define RT_KEYS 4000

struct rt_arg {
    struct sg_dpop_replay *r;
    atomic_uint *accepted;
};

static void *rt_worker(void *p)
{
    struct rt_arg *a = p;
    uint8_t k[32];
    for (unsigned i = 0; i < RT_KEYS; i++) {
        rkey(k, i);
        if (sg_dpop_replay_check(a->r, k, NOW, NOW + 301) == SIGNET_OK)
            atomic_fetch_add(a->accepted, 1);
    }
    return NULL;
}

/* Threads racing on the same keys: each key is accepted exactly once. */
static void test_replay_cache_threads(void **state)
{
    (void)state;
    struct sg_dpop_replay *r = NULL;
    assert_int_equal(sg_dpop_replay_new(65536, &r), SIGNET_OK);
    atomic_uint accepted;
    atomic_init(&accepted, 0);
    struct rt_arg a = {r, &accepted};
    pthread_t t[RT_THREADS];
    for (int i = 0; i < RT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, rt_worker, &a), 0);
    for (int i = 0; i < RT_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&accepted), RT_KEYS);
    sg_dpop_replay_free(r);
}

/* ---- libsignet's resource-server decision ------------------------------------ */

static signet_verifier_config *rs_config(struct world *w)
{
    signet_verifier_config *cfg = NULL;
    assert_int_equal(signet_verifier_config_new(&cfg), SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_issuer_jwks_json(cfg, ISS, w->jwks,
                                                                 strlen(w->jwks)),
                     SIGNET_OK);
    assert_int_equal(signet_verifier_config_add_audience(cfg, AUD), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_clock(cfg, world_clock, w), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_background_refresh(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_event_callback(cfg, on_event, w), SIGNET_OK);
    return cfg;
}

static signet_verifier *rs_new(const struct world *w, signet_verifier_config *cfg)
{
    (void)w;
    signet_verifier *v = NULL;
    assert_int_equal(signet_verifier_new(cfg, &v), SIGNET_OK);
    signet_verifier_config_free(cfg);
    return v;
}

/* An access token, bound to jkt (NULL: unbound). */
static char *token(struct world *w, const char *jkt)
{
    json_t *c = kit_claims(ISS, AUD, w->now - 10);
    if (jkt != NULL)
        json_object_set_new(c, "cnf", json_pack("{s:s}", "jkt", jkt));
    return kit_sign_json(w->issuer, SG_ALG_ES256, kit_header("ES256", "a1"), c);
}

static signet_err rs(signet_verifier *v, const char *tok, const char *scheme, const char *pf)
{
    signet_verify_opts o = SIGNET_VERIFY_OPTS_INIT;
    o.http_method = "GET";
    o.http_url = URL;
    o.dpop_proof = pf;
    o.scheme = scheme;
    signet_claims *c = NULL;
    signet_err err = signet_verify(v, tok, strlen(tok), &o, &c);
    if (err == SIGNET_OK)
        assert_non_null(c);
    else
        assert_null(c);
    signet_claims_free(c);
    return err;
}

static void test_rs_bound_token(void **state)
{
    struct world *w = *state;
    signet_verifier *v = rs_new(w, rs_config(w));
    char *tok = token(w, w->jkt_client);
    char *p = proof(w->client, tok);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    free(p);
    p = proof(w->client, tok); /* the scheme is case-insensitive */
    assert_int_equal(rs(v, tok, "dpop", p), SIGNET_OK);
    free(p);
    signet_verifier_free(v);
    free(tok);
}

static void test_rs_downgrades(void **state)
{
    struct world *w = *state;
    signet_verifier *v = rs_new(w, rs_config(w));
    char *bound = token(w, w->jkt_client);
    char *plain = token(w, NULL);
    char *p;
    /* a bound token presented as Bearer, with or without a proof */
    assert_int_equal(rs(v, bound, NULL, NULL), SIGNET_ERR_DPOP_DOWNGRADE);
    assert_int_equal(rs(v, bound, "Bearer", NULL), SIGNET_ERR_DPOP_DOWNGRADE);
    assert_string_equal(w->last_reason, "a DPoP-bound token (cnf) was presented with the Bearer scheme");
    p = proof(w->client, bound);
    assert_int_equal(rs(v, bound, "Bearer", p), SIGNET_ERR_DPOP_DOWNGRADE);
    free(p);
    /* an unbound token presented as DPoP, even with a good proof */
    p = proof(w->client, plain);
    assert_int_equal(rs(v, plain, "DPoP", p), SIGNET_ERR_DPOP_DOWNGRADE);
    free(p);
    /* an unbound token as Bearer with a proof: refused, never skipped */
    p = proof(w->client, plain);
    assert_int_equal(rs(v, plain, "Bearer", p), SIGNET_ERR_DPOP);
    free(p);
    /* control: the unbound token as Bearer alone is fine */
    assert_int_equal(rs(v, plain, NULL, NULL), SIGNET_OK);
    assert_int_equal(rs(v, plain, "Bearer", NULL), SIGNET_OK);
    /* DPoP without a proof; an unknown scheme */
    assert_int_equal(rs(v, bound, "DPoP", NULL), SIGNET_ERR_DPOP);
    assert_int_equal(rs(v, bound, "MAC", NULL), SIGNET_ERR_INVALID_ARG);
    /* a cnf that binds to something else than a jkt */
    json_t *c = kit_claims(ISS, AUD, w->now - 10);
    json_object_set_new(c, "cnf", json_pack("{s:s}", "x5t#S256", "abc"));
    char *mtls = kit_sign_json(w->issuer, SG_ALG_ES256, kit_header("ES256", "a1"), c);
    p = proof(w->client, mtls);
    assert_int_equal(rs(v, mtls, "DPoP", p), SIGNET_ERR_DPOP_BINDING);
    assert_int_equal(rs(v, mtls, "Bearer", NULL), SIGNET_ERR_DPOP_DOWNGRADE);
    free(p);
    free(mtls);
    free(bound);
    free(plain);
    signet_verifier_free(v);
}

static void test_rs_stolen_token_and_replay(void **state)
{
    struct world *w = *state;
    signet_verifier *v = rs_new(w, rs_config(w));
    char *tok = token(w, w->jkt_client);
    /* the thief has the token but not the client's key */
    char *p = proof(w->thief, tok);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_BINDING);
    assert_string_equal(w->last_reason, "the DPoP proof key does not match the token's cnf.jkt");
    free(p);
    /* ... nor can it reuse a proof made for another token */
    p = proof(w->client, tok);
    char *tok2 = kit_sign_json(w->issuer, SG_ALG_ES256, kit_header("ES256", "a1"),
                               json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:s,s:{s:s}}", "iss", ISS, "sub",
                                         "mallory", "aud", AUD, "iat", (json_int_t)(w->now - 10),
                                         "nbf", (json_int_t)(w->now - 10), "exp",
                                         (json_int_t)(w->now + 600), "jti", "other", "cnf",
                                         "jkt", w->jkt_client));
    assert_int_equal(rs(v, tok2, "DPoP", p), SIGNET_ERR_DPOP);
    assert_non_null(strstr(w->last_reason, "ath"));
    /* a proof for another URL or method */
    signet_verify_opts o = SIGNET_VERIFY_OPTS_INIT;
    o.http_method = "POST";
    o.http_url = URL;
    o.dpop_proof = p;
    o.scheme = "DPoP";
    signet_claims *cl = NULL;
    assert_int_equal(signet_verify(v, tok, strlen(tok), &o, &cl), SIGNET_ERR_DPOP);
    assert_non_null(strstr(w->last_reason, "htm"));
    o.http_method = "GET";
    o.http_url = "https://rs.example/api/admin";
    assert_int_equal(signet_verify(v, tok, strlen(tok), &o, &cl), SIGNET_ERR_DPOP);
    assert_non_null(strstr(w->last_reason, "htu"));
    /* the real request, once; then its replay */
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_REPLAY);
    assert_string_equal(w->last_reason, "the DPoP proof jti was already used (replay)");
    assert_int_equal(signet_verifier_count(v, SIGNET_ERR_DPOP_REPLAY), 1);
    /* still a replay within the window, refused by iat after it */
    w->now += 300;
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_REPLAY);
    w->now += 2;
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP);
    w->now = NOW;
    free(p);
    free(tok);
    free(tok2);
    signet_verifier_free(v);
}

static void test_rs_fail_closed(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_replay_cache(cfg, 0), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    char *plain = token(w, NULL);
    char *p = proof(w->client, tok);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_UNPROTECTED);
    assert_int_equal(rs(v, plain, NULL, NULL), SIGNET_OK); /* Bearer is unaffected */
    signet_verifier_free(v);
    /* the explicit opt-out: accepted, and a replay is not detected */
    cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_replay_cache(cfg, 0), SIGNET_OK);
    assert_int_equal(signet_verifier_config_allow_dpop_unprotected(cfg, 1), SIGNET_OK);
    v = rs_new(w, cfg);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    signet_verifier_free(v);
    free(p);
    free(tok);
    free(plain);
}

static char *proof_with_nonce(struct world *w, EVP_PKEY *k, const char *tok, const char *nonce)
{
    json_t *c = pclm("GET", URL, w->now, tok);
    if (nonce != NULL)
        json_object_set_new(c, "nonce", json_string(nonce));
    return kit_sign_json(k, SG_ALG_ES256, phdr(k, "ES256"), c);
}

static void test_rs_nonce_flow(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_nonce_key(cfg, NULL, 5), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_nonce_key(cfg, NULL, 60), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_dpop_replay_cache(cfg, 0), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    /* 1. no nonce: use_dpop_nonce, with a challenge and a fresh nonce */
    char *p = proof_with_nonce(w, w->client, tok, NULL);
    signet_err err = rs(v, tok, "DPoP", p);
    assert_int_equal(err, SIGNET_ERR_DPOP_NONCE);
    free(p);
    char chal[256];
    assert_int_equal(signet_dpop_challenge(v, err, chal, sizeof chal), SIGNET_OK);
    assert_string_equal(chal, "DPoP error=\"use_dpop_nonce\", algs=\"ES256 PS256 EdDSA Ed25519\"");
    char nonce[128];
    assert_int_equal(signet_verifier_dpop_nonce(v, nonce, 8), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(signet_verifier_dpop_nonce(v, nonce, sizeof nonce), SIGNET_OK);
    /* 2. the retry with the nonce */
    p = proof_with_nonce(w, w->client, tok, nonce);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    free(p);
    /* 3. a made-up nonce, a stale one */
    p = proof_with_nonce(w, w->client, tok, "bm90LWEtbm9uY2U");
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_NONCE);
    free(p);
    w->now += 130;
    char *tok2 = token(w, w->jkt_client);
    p = proof_with_nonce(w, w->client, tok2, nonce);
    assert_int_equal(rs(v, tok2, "DPoP", p), SIGNET_ERR_DPOP_NONCE);
    assert_non_null(strstr(w->last_reason, "stale"));
    free(p);
    w->now = NOW;
    /* a verifier with another random key does not accept this one's nonce */
    cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_nonce_key(cfg, NULL, 60), SIGNET_OK);
    signet_verifier *v2 = rs_new(w, cfg);
    p = proof_with_nonce(w, w->client, tok, nonce);
    assert_int_equal(rs(v2, tok, "DPoP", p), SIGNET_ERR_DPOP_NONCE);
    free(p);
    signet_verifier_free(v2);
    /* a shared key: two RS instances agree */
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    signet_verifier *s[2];
    for (int i = 0; i < 2; i++) {
        cfg = rs_config(w);
        assert_int_equal(signet_verifier_config_set_dpop_nonce_key(cfg, key, 60), SIGNET_OK);
        s[i] = rs_new(w, cfg);
    }
    assert_int_equal(signet_verifier_dpop_nonce(s[0], nonce, sizeof nonce), SIGNET_OK);
    p = proof_with_nonce(w, w->client, tok, nonce);
    assert_int_equal(rs(s[1], tok, "DPoP", p), SIGNET_OK);
    free(p);
    signet_verifier_free(s[0]);
    signet_verifier_free(s[1]);
    /* no built-in source: no nonce to hand out */
    cfg = rs_config(w);
    signet_verifier *plain = rs_new(w, cfg);
    assert_int_equal(signet_verifier_dpop_nonce(plain, nonce, sizeof nonce), SIGNET_ERR_CONFIG);
    signet_verifier_free(plain);
    signet_verifier_free(v);
    free(tok);
    free(tok2);
}

static int nonce_fn(const char *nonce, void *ctx)
{
    return nonce != NULL && strcmp(nonce, (const char *)ctx) == 0;
}

static void test_rs_nonce_fn(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_nonce_fn(cfg, nonce_fn, "n-42"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_dpop_replay_cache(cfg, 0), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    char *p = proof_with_nonce(w, w->client, tok, "n-41");
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_NONCE);
    free(p);
    p = proof_with_nonce(w, w->client, tok, "n-42");
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    free(p);
    signet_verifier_free(v);
    free(tok);
}

static void test_rs_config(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_dpop_algs(cfg, "ES256,HS256"),
                     SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(signet_verifier_config_set_dpop_algs(cfg, "none"), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(signet_verifier_config_set_dpop_algs(cfg, ""), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_algs(cfg, "ES256,"), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_window(cfg, 0), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_window(cfg, 3601), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_replay_cache(cfg, SG_DPOP_REPLAY_MAX + 1u),
                     SIGNET_ERR_INVALID_ARG);
    assert_int_equal(signet_verifier_config_set_dpop_algs(cfg, "EdDSA"), SIGNET_OK);
    assert_int_equal(signet_verifier_config_set_dpop_window(cfg, 60), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    char *p = proof(w->client, tok); /* ES256: not allowed here */
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP);
    assert_non_null(strstr(w->last_reason, "allowed"));
    free(p);
    p = kit_sign_json(w->client, SG_ALG_ES256, phdr(w->client, "ES256"),
                      pclm("GET", URL, NOW - 61, tok));
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP); /* the 60 s window */
    free(p);
    char chal[128];
    assert_int_equal(signet_dpop_challenge(v, SIGNET_ERR_DPOP, chal, sizeof chal), SIGNET_OK);
    assert_string_equal(chal, "DPoP error=\"invalid_dpop_proof\", algs=\"EdDSA\"");
    assert_int_equal(signet_dpop_challenge(v, SIGNET_ERR_EXPIRED, chal, sizeof chal), SIGNET_OK);
    assert_string_equal(chal, "DPoP error=\"invalid_token\", algs=\"EdDSA\"");
    assert_int_equal(signet_dpop_challenge(v, SIGNET_OK, chal, sizeof chal), SIGNET_OK);
    assert_string_equal(chal, "DPoP algs=\"EdDSA\"");
    assert_int_equal(signet_dpop_challenge(v, SIGNET_ERR_DPOP, chal, 10), SIGNET_ERR_TOO_LARGE);
    assert_string_equal(chal, "");
    free(tok);
    signet_verifier_free(v);
}

/* The verified-token cache answers the token part only: the binding is
 * decided on every call. */
static void test_rs_token_cache(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_token_cache(cfg, 16), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    char *p = proof(w->client, tok);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_OK);
    assert_int_equal(rs(v, tok, NULL, NULL), SIGNET_ERR_DPOP_DOWNGRADE);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_REPLAY);
    free(p);
    p = proof(w->thief, tok);
    assert_int_equal(rs(v, tok, "DPoP", p), SIGNET_ERR_DPOP_BINDING);
    free(p);
    free(tok);
    signet_verifier_free(v);
}

#define VT_THREADS 4

struct vt_arg {
    signet_verifier *v;
    const char *tok;
    const char *proof;
    atomic_uint *ok;
    atomic_uint *replay;
};

static void *vt_worker(void *p)
{
    struct vt_arg *a = p;
    signet_verify_opts o = SIGNET_VERIFY_OPTS_INIT;
    o.http_method = "GET";
    o.http_url = URL;
    o.dpop_proof = a->proof;
    o.scheme = "DPoP";
    for (int i = 0; i < 50; i++) {
        signet_claims *c = NULL;
        signet_err err = signet_verify(a->v, a->tok, strlen(a->tok), &o, &c);
        signet_claims_free(c);
        if (err == SIGNET_OK)
            atomic_fetch_add(a->ok, 1);
        else if (err == SIGNET_ERR_DPOP_REPLAY)
            atomic_fetch_add(a->replay, 1);
    }
    return NULL;
}

/* The same proof from four threads at once: exactly one is accepted. */
static void test_rs_threads(void **state)
{
    struct world *w = *state;
    signet_verifier_config *cfg = rs_config(w);
    assert_int_equal(signet_verifier_config_set_event_callback(cfg, NULL, NULL), SIGNET_OK);
    signet_verifier *v = rs_new(w, cfg);
    char *tok = token(w, w->jkt_client);
    char *p = proof(w->client, tok);
    atomic_uint ok, replay;
    atomic_init(&ok, 0);
    atomic_init(&replay, 0);
    struct vt_arg a = {v, tok, p, &ok, &replay};
    pthread_t t[VT_THREADS];
    for (int i = 0; i < VT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, vt_worker, &a), 0);
    for (int i = 0; i < VT_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&ok), 1);
    assert_int_equal(atomic_load(&replay), VT_THREADS * 50 - 1);
    free(p);
    free(tok);
    signet_verifier_free(v);
}

/* ---- proof keys seen before ------------------------------------------------ */

static struct sg_dpop_keys *test_keys;

/* chk with the key cache in the expectations. */
static signet_err chk_cached(char *p, const char *token)
{
    struct sg_dpop_expect e = expect(token);
    e.keys = test_keys;
    struct sg_dpop_proof out;
    signet_err err = sg_dpop_check(p, strlen(p), &e, &out, &last_why);
    sg_dpop_proof_clear(&out);
    free(p);
    return err;
}

#define REJECT_CACHED(p, token, word)                                       \
    do {                                                                    \
        assert_int_equal(chk_cached((p), (token)), SIGNET_ERR_DPOP);        \
        if (strstr(last_why, (word)) == NULL)                               \
            fail_msg("why \"%s\" does not name \"%s\"", last_why, (word)); \
    } while (0)

/* A cached key decides exactly what a fresh import would: a proof signed by
 * another key, a jwk with members beyond the thumbprint's (use, alg) that
 * pin it differently, a point off the curve: each still refused, with the
 * client's key cached under the same thumbprint. One slot, three keys
 * taking turns: every proof still verifies. */
static void test_proof_key_cache(void **state)
{
    struct world *w = *state;
    assert_int_equal(sg_dpop_keys_new(0, &test_keys), SIGNET_ERR_INVALID_ARG);
    assert_int_equal(sg_dpop_keys_new(1, &test_keys), SIGNET_OK);
    for (int i = 0; i < 3; i++) {
        char *p = proof(w->client, "tok");
        struct sg_dpop_expect e = expect("tok");
        e.keys = test_keys;
        struct sg_dpop_proof out;
        assert_int_equal(sg_dpop_check(p, strlen(p), &e, &out, &last_why), SIGNET_OK);
        assert_string_equal(out.jkt, w->jkt_client);
        sg_dpop_proof_clear(&out);
        free(p);
    }
    assert_int_equal(sg_dpop_keys_hits(test_keys), 2); /* imported once */
    REJECT_CACHED(kit_sign_json(w->thief, SG_ALG_ES256, phdr(w->client, "ES256"),
                                pclm("GET", URL, NOW, "tok")),
                  "tok", "signature");
    char *p = proof(w->client, "tok");
    size_t n = strlen(p);
    p[n - 5] = p[n - 5] == 'A' ? 'B' : 'A';
    REJECT_CACHED(p, "tok", "signature");
    const unsigned long hits = sg_dpop_keys_hits(test_keys);
    json_t *h = phdr(w->client, "ES256");
    json_object_set_new(json_object_get(h, "jwk"), "use", json_string("enc"));
    REJECT_CACHED(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
                  "valid public");
    h = phdr(w->client, "ES256");
    json_object_set_new(json_object_get(h, "jwk"), "alg", json_string("ES384"));
    REJECT_CACHED(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
                  "alg does not match");
    h = phdr(w->client, "ES256");
    json_t *jwk = json_object_get(h, "jwk");
    json_object_set(jwk, "y", json_object_get(jwk, "x"));
    REJECT_CACHED(kit_sign_json(w->client, SG_ALG_ES256, h, pclm("GET", URL, NOW, "tok")), "tok",
                  "valid public");
    /* With members beyond the thumbprint's that change nothing: accepted,
     * imported afresh. */
    h = phdr(w->client, "ES256");
    json_object_set_new(json_object_get(h, "jwk"), "use", json_string("sig"));
    assert_int_equal(chk_cached(kit_sign_json(w->client, SG_ALG_ES256, h,
                                              pclm("GET", URL, NOW, "tok")), "tok"),
                     SIGNET_OK);
    /* The point off the curve has another thumbprint; the rest were never
     * looked up: none of them came from the cache. */
    assert_int_equal(sg_dpop_keys_hits(test_keys), hits);
    for (int i = 0; i < 6; i++) {
        EVP_PKEY *k = i % 3 == 0 ? w->client : i % 3 == 1 ? w->ed : w->rsa;
        enum sg_alg a = i % 3 == 0 ? SG_ALG_ES256 : i % 3 == 1 ? SG_ALG_EDDSA : SG_ALG_PS256;
        const char *name = i % 3 == 0 ? "ES256" : i % 3 == 1 ? "EdDSA" : "PS256";
        assert_int_equal(chk_cached(kit_sign_json(k, a, phdr(k, name),
                                                  pclm("GET", URL, NOW, "tok")), "tok"),
                         SIGNET_OK);
    }
    /* A key cached for EdDSA is not good for ES256 (alg/key mismatch). */
    REJECT_CACHED(kit_sign_json(w->ed, SG_ALG_EDDSA, phdr(w->ed, "ES256"),
                                pclm("GET", URL, NOW, "tok")),
                  "tok", "alg does not match");
    sg_dpop_keys_free(test_keys);
    test_keys = NULL;
}

#define KT_THREADS 4
struct kt_arg {
    struct world *w;
    char *proofs[3];
    atomic_uint ok;
};

static void *kt_worker(void *arg)
{
    struct kt_arg *a = arg;
    for (int i = 0; i < 60; i++) {
        const char *p = a->proofs[i % 3];
        struct sg_dpop_expect e = expect("tok");
        e.keys = test_keys;
        struct sg_dpop_proof out;
        const char *why = NULL;
        if (sg_dpop_check(p, strlen(p), &e, &out, &why) == SIGNET_OK)
            atomic_fetch_add(&a->ok, 1u);
        sg_dpop_proof_clear(&out);
    }
    return NULL;
}

/* Threads sharing a two-slot cache over three keys: entries are replaced
 * while others verify with them (ASan: no use after free); every proof
 * verifies. */
static void test_proof_key_cache_threads(void **state)
{
    struct world *w = *state;
    assert_int_equal(sg_dpop_keys_new(2, &test_keys), SIGNET_OK);
    struct kt_arg a = {.w = w};
    atomic_init(&a.ok, 0);
    a.proofs[0] = proof(w->client, "tok");
    a.proofs[1] = kit_sign_json(w->ed, SG_ALG_EDDSA, phdr(w->ed, "EdDSA"),
                                pclm("GET", URL, NOW, "tok"));
    a.proofs[2] = kit_sign_json(w->thief, SG_ALG_ES256, phdr(w->thief, "ES256"),
                                pclm("GET", URL, NOW, "tok"));
    pthread_t t[KT_THREADS];
    for (int i = 0; i < KT_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, kt_worker, &a), 0);
    for (int i = 0; i < KT_THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&a.ok), KT_THREADS * 60);
    for (int i = 0; i < 3; i++)
        free(a.proofs[i]);
    sg_dpop_keys_free(test_keys);
    test_keys = NULL;
}

/* ---- Authorization header ----------------------------------------------------- */

static void test_parse_authorization(void **state)
{
    (void)state;
    static const struct {
        const char *in, *scheme, *token;
    } ok[] = {
        {"Bearer abc.def.ghi", "Bearer", "abc.def.ghi"},
        {"DPoP abc.def.ghi", "DPoP", "abc.def.ghi"},
        {"dpop a-b_c~d+e/f==", "dpop", "a-b_c~d+e/f=="},
        {"BEARER x", "BEARER", "x"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        const char *s = NULL, *t = NULL;
        size_t sl = 0, tl = 0;
        assert_int_equal(signet_parse_authorization(ok[i].in, strlen(ok[i].in), &s, &sl, &t, &tl),
                         SIGNET_OK);
        assert_int_equal(sl, strlen(ok[i].scheme));
        assert_memory_equal(s, ok[i].scheme, sl);
        assert_int_equal(tl, strlen(ok[i].token));
        assert_memory_equal(t, ok[i].token, tl);
    }
    static const char *const bad[] = {
        "", "Bearer", "Bearer ", "Bearer  abc", " Bearer abc", "Bearer abc ", "Bearer\tabc",
        "Bearer abc def", "Bearer a=b", "Bearer =abc", "Bearer abc,", "DPoP abc, DPoP def",
        "Bearer abc\r\n", "Bearer ab\"c", "Bear3r abc", "Bearer abc==x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *s = NULL, *t = NULL;
        size_t sl = 0, tl = 0;
        signet_err err = signet_parse_authorization(bad[i], strlen(bad[i]), &s, &sl, &t, &tl);
        if (err != SIGNET_ERR_MALFORMED)
            fail_msg("\"%s\": %s", bad[i], signet_err_name(err));
        assert_null(s);
        assert_null(t);
    }
    const char *s = NULL, *t = NULL;
    size_t sl = 0, tl = 0;
    assert_int_equal(signet_parse_authorization("Basic dXNlcjpwYXNz", 18, &s, &sl, &t, &tl),
                     SIGNET_ERR_UNSUPPORTED);
    /* an embedded NUL is part of the value and refused */
    assert_int_equal(signet_parse_authorization("Bearer ab\0cd", 12, &s, &sl, &t, &tl),
                     SIGNET_ERR_MALFORMED);
    char *big = malloc(20000);
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', 20000 - 7);
    assert_int_equal(signet_parse_authorization(big, 20000, &s, &sl, &t, &tl),
                     SIGNET_ERR_TOO_LARGE);
    free(big);
}

static void test_error_names(void **state)
{
    (void)state;
    assert_string_equal(signet_err_name(SIGNET_ERR_DPOP_NONCE), "SIGNET_ERR_DPOP_NONCE");
    assert_string_equal(signet_err_name(SIGNET_ERR_DPOP_REPLAY), "SIGNET_ERR_DPOP_REPLAY");
    assert_string_equal(signet_err_name(SIGNET_ERR_DPOP_BINDING), "SIGNET_ERR_DPOP_BINDING");
    assert_string_equal(signet_err_name(SIGNET_ERR_DPOP_DOWNGRADE), "SIGNET_ERR_DPOP_DOWNGRADE");
    assert_string_equal(signet_err_name(SIGNET_ERR_DPOP_UNPROTECTED),
                        "SIGNET_ERR_DPOP_UNPROTECTED");
    assert_int_equal(SIGNET_ERR_DPOP_UNPROTECTED, 228);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_proof),
        cmocka_unit_test(test_rule_compact_jws),
        cmocka_unit_test(test_rule_typ),
        cmocka_unit_test(test_rule_alg),
        cmocka_unit_test(test_rule_jwk_and_signature),
        cmocka_unit_test(test_rule_claims),
        cmocka_unit_test(test_rule_htm),
        cmocka_unit_test(test_rule_htu),
        cmocka_unit_test(test_rule_iat),
        cmocka_unit_test(test_rule_ath),
        cmocka_unit_test(test_htu_table),
        cmocka_unit_test(test_nonce),
        cmocka_unit_test(test_replay_cache),
        cmocka_unit_test(test_replay_cache_threads),
        cmocka_unit_test(test_rs_bound_token),
        cmocka_unit_test(test_rs_downgrades),
        cmocka_unit_test(test_rs_stolen_token_and_replay),
        cmocka_unit_test(test_rs_fail_closed),
        cmocka_unit_test(test_rs_nonce_flow),
        cmocka_unit_test(test_rs_nonce_fn),
        cmocka_unit_test(test_rs_config),
        cmocka_unit_test(test_rs_token_cache),
        cmocka_unit_test(test_rs_threads),
        cmocka_unit_test(test_proof_key_cache),
        cmocka_unit_test(test_proof_key_cache_threads),
        cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_error_names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
