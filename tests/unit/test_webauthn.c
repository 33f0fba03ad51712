/* WebAuthn relying-party verification (src/signetd/webauthn.c), hostile.
 * Real credentials are made here with OpenSSL (ES256 on P-256, Ed25519,
 * RSA 2048 and 3072) and real CBOR with libcbor; every case differs from a
 * valid ceremony in one respect and checks the refusal names that check.
 * The last case runs tests/integration/signetd/softauthn.py (the
 * integration tests' software authenticator) and verifies its output. */
#include "testutil.h"

#include <cbor.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "signetd/webauthn.h"
#include "util/b64url.h"
#include "util/sha256.h"

#define RP_ID "localhost"
#define ORIGIN "http://localhost:8080"
#define FLAGS_REG (SD_WA_FLAG_UP | SD_WA_FLAG_UV | SD_WA_FLAG_AT)
#define FLAGS_GET (SD_WA_FLAG_UP | SD_WA_FLAG_UV)

static const uint8_t CHAL[SD_WA_CHALLENGE_LEN] = {
    0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
    0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x42};
static const uint8_t AAGUID[16] = {0xad, 0xce, 0x00, 0x02, 0x35, 0xbc, 0xc6, 0x0a,
                                   0x64, 0x8b, 0x0b, 0x25, 0xf1, 0xf0, 0x55, 0x03};

enum key_kind { K_ES256, K_EDDSA, K_RS2048, K_RS3072, K_RS1024, K_COUNT };

static EVP_PKEY *keys[K_COUNT];

static int setup(void **state)
{
    (void)state;
    keys[K_ES256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    keys[K_EDDSA] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    keys[K_RS2048] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    keys[K_RS3072] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
    keys[K_RS1024] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    for (int i = 0; i < K_COUNT; i++)
        if (keys[i] == NULL)
            return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < K_COUNT; i++)
        EVP_PKEY_free(keys[i]);
    return 0;
}

/* ---- CBOR and COSE, through libcbor -------------------------------------- */

static void map_put(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
    assert_true(cbor_map_add(m, (struct cbor_pair){.key = cbor_move(k), .value = cbor_move(v)}));
}

/* A COSE label or value: n >= 0 unsigned, otherwise negative. */
static cbor_item_t *cint(int n)
{
    if (n >= 0)
        return n <= 0xff ? cbor_build_uint8((uint8_t)n) : cbor_build_uint16((uint16_t)n);
    unsigned m = (unsigned)(-1 - n);
    return m <= 0xff ? cbor_build_negint8((uint8_t)m) : cbor_build_negint16((uint16_t)m);
}

static size_t serialize(cbor_item_t *it, uint8_t *out, size_t cap)
{
    unsigned char *buf = NULL;
    size_t alloc = 0;
    size_t n = cbor_serialize_alloc(it, &buf, &alloc);
    assert_true(n > 0 && n <= cap);
    memcpy(out, buf, n);
    free(buf);
    cbor_decref(&it);
    return n;
}

static size_t bn_param(EVP_PKEY *k, const char *name, uint8_t *out, int pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, name, &bn), 1);
    int n = pad > 0 ? BN_bn2binpad(bn, out, pad) : BN_bn2bin(bn, out);
    BN_free(bn);
    assert_true(n > 0);
    return (size_t)n;
}

/* Changes to a valid COSE key, one at a time. */
struct cose_mods {
    int crv;          /* non-zero: this crv instead */
    int alg;          /* non-zero: this alg instead */
    int omit_y;       /* EC2 without y */
    int dup_kty;      /* kty twice */
    int add_private;  /* a d parameter (-4) */
};

static size_t cose_key(EVP_PKEY *k, const struct cose_mods *mods, uint8_t *out, size_t cap)
{
    static const struct cose_mods none;
    if (mods == NULL)
        mods = &none;
    cbor_item_t *m = cbor_new_definite_map(8);
    uint8_t a[600], b[600];
    if (EVP_PKEY_is_a(k, "EC")) {
        map_put(m, cint(1), cint(2));
        map_put(m, cint(3), cint(mods->alg ? mods->alg : -7));
        map_put(m, cint(-1), cint(mods->crv ? mods->crv : 1));
        size_t xl = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, a, 32);
        size_t yl = bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, b, 32);
        map_put(m, cint(-2), cbor_build_bytestring(a, xl));
        if (!mods->omit_y)
            map_put(m, cint(-3), cbor_build_bytestring(b, yl));
    } else if (EVP_PKEY_is_a(k, "ED25519")) {
        size_t xl = sizeof a;
        assert_int_equal(EVP_PKEY_get_raw_public_key(k, a, &xl), 1);
        map_put(m, cint(1), cint(1));
        map_put(m, cint(3), cint(mods->alg ? mods->alg : -8));
        map_put(m, cint(-1), cint(mods->crv ? mods->crv : 6));
        map_put(m, cint(-2), cbor_build_bytestring(a, xl));
    } else {
        size_t nl = bn_param(k, OSSL_PKEY_PARAM_RSA_N, a, 0);
        size_t el = bn_param(k, OSSL_PKEY_PARAM_RSA_E, b, 0);
        map_put(m, cint(1), cint(3));
        map_put(m, cint(3), cint(mods->alg ? mods->alg : -257));
        map_put(m, cint(-1), cbor_build_bytestring(a, nl));
        map_put(m, cint(-2), cbor_build_bytestring(b, el));
    }
    if (mods->dup_kty)
        map_put(m, cint(1), cint(2));
    if (mods->add_private)
        map_put(m, cint(-4), cbor_build_bytestring(a, 32));
    return serialize(m, out, cap);
}

/* ---- ceremonies ------------------------------------------------------------ */

struct blob {
    uint8_t p[8192];
    size_t n;
};

static void blob_put(struct blob *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->p);
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void blob_u8(struct blob *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    blob_put(b, &c, 1);
}

/* One ceremony's inputs; zero means the valid default. */
struct ceremony {
    enum key_kind key;
    const char *type;
    const char *challenge_b64; /* instead of CHAL's encoding */
    const uint8_t *challenge;  /* instead of CHAL (32 bytes) */
    const char *origin;
    const char *cd_extra; /* members appended to clientDataJSON */
    const char *cd_raw;   /* the whole clientDataJSON instead */
    const char *rp_id_for_hash;
    int set_flags;        /* non-zero: flags instead of the default */
    unsigned flags;
    uint32_t count;
    size_t cred_id_len; /* 0: 32 */
    const struct cose_mods *cose;
    const uint8_t *cose_raw; /* the COSE key bytes instead */
    size_t cose_raw_len;
    const uint8_t *ext; /* an extensions map (ED is set with it) */
    size_t ext_len;
    size_t ad_trailing; /* zero bytes appended to authData */
    const char *fmt;
    int att_stmt_nonempty;
    int att_extra_member;
    size_t att_trailing;
};

struct built {
    char cd[2048];
    size_t cd_len;
    struct blob ad;
    struct blob att;
    uint8_t cose[1200];
    size_t cose_len;
    uint8_t sig[600];
    size_t sig_len;
};

static void client_data(const struct ceremony *c, const char *def_type, struct built *o)
{
    if (c->cd_raw != NULL) {
        o->cd_len = (size_t)snprintf(o->cd, sizeof o->cd, "%s", c->cd_raw);
        return;
    }
    char chal[64];
    if (c->challenge_b64 != NULL)
        (void)snprintf(chal, sizeof chal, "%s", c->challenge_b64);
    else
        assert_int_equal(sg_b64url_encode(c->challenge ? c->challenge : CHAL, SD_WA_CHALLENGE_LEN,
                                          chal, sizeof chal),
                         SIGNET_OK);
    int n = snprintf(o->cd, sizeof o->cd,
                     "{\"type\":\"%s\",\"challenge\":\"%s\",\"origin\":\"%s\"%s}",
                     c->type ? c->type : def_type, chal, c->origin ? c->origin : ORIGIN,
                     c->cd_extra ? c->cd_extra : "");
    assert_true(n > 0 && (size_t)n < sizeof o->cd);
    o->cd_len = (size_t)n;
}

static void auth_data_head(const struct ceremony *c, unsigned def_flags, struct built *o)
{
    uint8_t h[32];
    const char *rp = c->rp_id_for_hash ? c->rp_id_for_hash : RP_ID;
    sg_sha256(rp, strlen(rp), h);
    blob_put(&o->ad, h, sizeof h);
    unsigned flags = c->set_flags ? c->flags : def_flags;
    if (c->ext != NULL)
        flags |= SD_WA_FLAG_ED;
    blob_u8(&o->ad, flags);
    for (int s = 24; s >= 0; s -= 8)
        blob_u8(&o->ad, (c->count >> s) & 0xff);
}

static void auth_data_tail(const struct ceremony *c, struct built *o)
{
    if (c->ext != NULL)
        blob_put(&o->ad, c->ext, c->ext_len);
    static const uint8_t zeros[16];
    for (size_t i = 0; i < c->ad_trailing; i++)
        blob_put(&o->ad, zeros, 1);
}

/* A registration: clientDataJSON and an attestationObject (fmt none). */
static void build_reg(const struct ceremony *c, struct built *o)
{
    memset(o, 0, sizeof *o);
    client_data(c, "webauthn.create", o);
    auth_data_head(c, FLAGS_REG, o);
    blob_put(&o->ad, AAGUID, sizeof AAGUID);
    size_t id_len = c->cred_id_len ? c->cred_id_len : 32;
    blob_u8(&o->ad, (unsigned)(id_len >> 8));
    blob_u8(&o->ad, (unsigned)(id_len & 0xff));
    for (size_t i = 0; i < id_len; i++)
        blob_u8(&o->ad, (unsigned)((i * 7 + 3) & 0xff));
    if (c->cose_raw != NULL) {
        memcpy(o->cose, c->cose_raw, c->cose_raw_len);
        o->cose_len = c->cose_raw_len;
    } else {
        o->cose_len = cose_key(keys[c->key], c->cose, o->cose, sizeof o->cose);
    }
    blob_put(&o->ad, o->cose, o->cose_len);
    auth_data_tail(c, o);

    cbor_item_t *att = cbor_new_definite_map(4);
    map_put(att, cbor_build_string("fmt"), cbor_build_string(c->fmt ? c->fmt : "none"));
    cbor_item_t *stmt = cbor_new_definite_map(1);
    if (c->att_stmt_nonempty)
        map_put(stmt, cbor_build_string("alg"), cint(-7));
    map_put(att, cbor_build_string("attStmt"), stmt);
    map_put(att, cbor_build_string("authData"), cbor_build_bytestring(o->ad.p, o->ad.n));
    if (c->att_extra_member)
        map_put(att, cbor_build_string("epAtt"), cbor_build_bool(true));
    o->att.n = serialize(att, o->att.p, sizeof o->att.p);
    static const uint8_t zeros[16];
    for (size_t i = 0; i < c->att_trailing; i++)
        blob_put(&o->att, zeros, 1);
}

static size_t sign(EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t *sig, size_t cap)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = EVP_PKEY_is_a(k, "ED25519") ? NULL : EVP_sha256();
    size_t len = cap;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &len, msg, n), 1);
    EVP_MD_CTX_free(ctx);
    return len;
}

/* An assertion: clientDataJSON, authenticatorData and the signature over
 * authenticatorData || SHA-256(clientDataJSON) (§6.3.3), and the stored
 * COSE key of the credential. */
static void build_get(const struct ceremony *c, struct built *o)
{
    memset(o, 0, sizeof *o);
    client_data(c, "webauthn.get", o);
    auth_data_head(c, FLAGS_GET, o);
    auth_data_tail(c, o);
    struct blob msg = o->ad;
    uint8_t cdh[32];
    sg_sha256(o->cd, o->cd_len, cdh);
    blob_put(&msg, cdh, sizeof cdh);
    o->sig_len = sign(keys[c->key], msg.p, msg.n, o->sig, sizeof o->sig);
    o->cose_len = cose_key(keys[c->key], NULL, o->cose, sizeof o->cose);
}

static struct sd_wa_expect expect(int require_uv)
{
    struct sd_wa_expect e = {.rp_id = RP_ID,
                             .origin = ORIGIN,
                             .challenge = CHAL,
                             .challenge_len = sizeof CHAL,
                             .require_uv = require_uv};
    return e;
}

static char why[256];

static signet_err do_reg(const struct ceremony *c, struct sd_wa_credential *cred)
{
    struct built b;
    build_reg(c, &b);
    struct sd_wa_expect e = expect(1);
    why[0] = '\0';
    return sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, b.att.p, b.att.n, cred,
                                     why, sizeof why);
}

static signet_err do_get_built(const struct built *b, int require_uv, uint32_t stored_count,
                               unsigned stored_flags, struct sd_wa_assertion *out)
{
    struct sd_wa_expect e = expect(require_uv);
    why[0] = '\0';
    return sd_wa_verify_assertion(&e, (const uint8_t *)b->cd, b->cd_len, b->ad.p, b->ad.n, b->sig,
                                  b->sig_len, b->cose, b->cose_len, stored_count, stored_flags,
                                  out, why, sizeof why);
}

static signet_err do_get(const struct ceremony *c, uint32_t stored_count, unsigned stored_flags,
                         struct sd_wa_assertion *out)
{
    struct built b;
    build_get(c, &b);
    return do_get_built(&b, 1, stored_count, stored_flags, out);
}

#define REFUSED(call, code, text)                                                                  \
    do {                                                                                           \
        assert_int_equal((call), (code));                                                          \
        if (strstr(why, (text)) == NULL)                                                           \
            fail_msg("why is \"%s\", expected \"%s\"", why, (text));                             \
    } while (0)

/* ---- valid ceremonies, each algorithm -------------------------------------- */

static void valid_for(enum key_kind k, int alg)
{
    struct sd_wa_credential cred;
    struct ceremony c = {.key = k, .count = 7};
    assert_int_equal(do_reg(&c, &cred), SIGNET_OK);
    assert_int_equal(cred.alg, alg);
    assert_int_equal(cred.cred_id_len, 32);
    assert_int_equal(cred.sign_count, 7);
    assert_int_equal(cred.flags, FLAGS_REG);
    assert_string_equal(cred.aaguid, "adce0002-35bc-c60a-648b-0b25f1f05503");
    int alg2 = 0;
    assert_int_equal(sd_wa_cose_alg(cred.cose_key, cred.cose_key_len, &alg2), SIGNET_OK);
    assert_int_equal(alg2, alg);

    /* the assertion is verified against the key registration stored */
    struct built b;
    struct ceremony g = {.key = k, .count = 8};
    build_get(&g, &b);
    assert_int_equal(b.cose_len, cred.cose_key_len);
    assert_memory_equal(b.cose, cred.cose_key, b.cose_len);
    struct sd_wa_assertion out;
    assert_int_equal(do_get_built(&b, 1, cred.sign_count, cred.flags, &out), SIGNET_OK);
    assert_int_equal(out.sign_count, 8);
    assert_int_equal(out.flags, FLAGS_GET);
    assert_false(out.counter_regressed);
    assert_string_equal(why, "");
}

static void test_valid_es256(void **state)
{
    (void)state;
    valid_for(K_ES256, -7);
}

static void test_valid_eddsa(void **state)
{
    (void)state;
    valid_for(K_EDDSA, -8);
}

static void test_valid_rs256(void **state)
{
    (void)state;
    valid_for(K_RS2048, -257); /* through libfido2's rs256_pk */
    valid_for(K_RS3072, -257); /* through OpenSSL: libfido2 takes 2048 bits only */
}

/* ---- clientDataJSON (§7.1 steps 5-10, §7.2 steps 11-14) ---------------------- */

static void test_client_data(void **state)
{
    (void)state;
    struct sd_wa_credential cred;
    struct sd_wa_assertion out;
    struct ceremony c;

    c = (struct ceremony){.type = "webauthn.get"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "type is not webauthn.create");
    c = (struct ceremony){.type = "webauthn.create"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "type is not webauthn.get");

    uint8_t other[SD_WA_CHALLENGE_LEN];
    memcpy(other, CHAL, sizeof other);
    other[31] ^= 1;
    c = (struct ceremony){.challenge = other};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "challenge does not match");
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "challenge does not match");
    char b64[64];
    assert_int_equal(sg_b64url_encode(CHAL, sizeof CHAL - 1, b64, sizeof b64), SIGNET_OK);
    c = (struct ceremony){.challenge_b64 = b64}; /* a prefix: 31 of the 32 bytes */
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "challenge does not match");

    /* non-canonical base64url: padding, a non-zero unused bit, '+', '/' */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_int_equal(sg_b64url_encode(CHAL, sizeof CHAL, b64, sizeof b64), SIGNET_OK);
    char bad[70];
    (void)snprintf(bad, sizeof bad, "%s=", b64);
    c = (struct ceremony){.challenge_b64 = bad};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "challenge is not canonical base64url");
    (void)snprintf(bad, sizeof bad, "%s", b64);
    size_t last = strlen(bad) - 1; /* 32 bytes: 43 characters, the last with 2 unused bits */
    size_t v = (size_t)(strchr(alphabet, bad[last]) - alphabet);
    assert_int_equal(v & 3, 0);
    bad[last] = alphabet[v | 1];
    c = (struct ceremony){.challenge_b64 = bad};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "challenge is not canonical base64url");
    for (size_t i = 0; i < 2; i++) {
        (void)snprintf(bad, sizeof bad, "%s", b64);
        bad[3] = i == 0 ? '+' : '/';
        c = (struct ceremony){.challenge_b64 = bad};
        REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED,
                "challenge is not canonical base64url");
    }

    c = (struct ceremony){.origin = "https://evil"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "origin 'https://evil' is not allowed");
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "origin 'https://evil' is not allowed");
    c = (struct ceremony){.origin = "http://localhost:8080/"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "is not allowed");
    c = (struct ceremony){.origin = "http://LOCALHOST:8080"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "is not allowed");
    /* a quoted origin is cut and made printable */
    char long_origin[240];
    memset(long_origin, 'a', sizeof long_origin - 1);
    long_origin[sizeof long_origin - 1] = '\0';
    memcpy(long_origin, "https://\\u0007", 14);
    c = (struct ceremony){.origin = long_origin};
    assert_int_equal(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM);
    assert_non_null(strstr(why, "origin 'https://?aaa"));
    assert_non_null(strstr(why, "a...' is not allowed"));
    assert_true(strlen(why) < 140);

    c = (struct ceremony){.cd_extra = ",\"crossOrigin\":true"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "crossOrigin is true");
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "crossOrigin is true");
    c = (struct ceremony){.cd_extra = ",\"crossOrigin\":false,\"other\":{\"a\":[1]}"};
    assert_int_equal(do_get(&c, 0, 0, &out), SIGNET_OK);
    c = (struct ceremony){.cd_extra = ",\"crossOrigin\":\"true\""};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "crossOrigin is not a boolean");
    c = (struct ceremony){.cd_extra = ",\"topOrigin\":\"http://localhost:8080\""};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "topOrigin is present");

    c = (struct ceremony){.cd_extra = ",\"type\":\"webauthn.get\""};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "duplicate member in clientDataJSON");
    c = (struct ceremony){.cd_extra = ",\"origin\":\"" ORIGIN "\""};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "duplicate member in clientDataJSON");

    c = (struct ceremony){.cd_raw = "[1]"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "clientDataJSON is not an object");
    c = (struct ceremony){.cd_raw = "{\"type\":\"webauthn.get\",\"origin\":\"" ORIGIN "\"}"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "challenge missing");
    c = (struct ceremony){.cd_raw = "{\"type\":\"webauthn.get\"} "};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "challenge missing");
    c = (struct ceremony){.cd_raw = "{\"type\":\"webauthn.get\""};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "not valid JSON");
    c = (struct ceremony){.type = "webauthn.get\\u0000"}; /* jansson refuses an escaped NUL */
    assert_int_equal(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED);
    c = (struct ceremony){.type = "webauthn.get.and.something.longer"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "type missing, not a string or too long");
    c = (struct ceremony){.cd_extra = ",\"challenge\":7"};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED, "duplicate member");

    /* the parser on its own */
    struct sd_wa_client_data cd;
    static const char ok[] = "{\"type\":\"webauthn.get\",\"challenge\":\"AAEC\","
                             "\"origin\":\"https://a.example\",\"crossOrigin\":true,"
                             "\"topOrigin\":\"https://b.example\"}";
    assert_int_equal(sd_wa_parse_client_data((const uint8_t *)ok, strlen(ok), &cd, why, sizeof why),
                     SIGNET_OK);
    assert_string_equal(cd.type, "webauthn.get");
    assert_int_equal(cd.challenge_len, 3);
    assert_string_equal(cd.origin, "https://a.example");
    assert_true(cd.cross_origin);
    assert_true(cd.has_top_origin);
    uint8_t big[SD_WA_MAX_CLIENT_DATA + 1];
    memset(big, ' ', sizeof big);
    REFUSED(sd_wa_parse_client_data(big, sizeof big, &cd, why, sizeof why), SIGNET_ERR_TOO_LARGE,
            "too large");
}

/* ---- authenticator data checks (§7.1 steps 13-18, §7.2 steps 15-19) ---------- */

static void test_auth_data_checks(void **state)
{
    (void)state;
    struct sd_wa_credential cred;
    struct sd_wa_assertion out;
    struct ceremony c;

    c = (struct ceremony){.rp_id_for_hash = "evil.example"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "rpIdHash does not match the RP ID");
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "rpIdHash does not match the RP ID");

    c = (struct ceremony){.set_flags = 1, .flags = SD_WA_FLAG_UV | SD_WA_FLAG_AT};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "user presence (UP) flag not set");
    c = (struct ceremony){.set_flags = 1, .flags = SD_WA_FLAG_UV};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "user presence (UP) flag not set");

    c = (struct ceremony){.set_flags = 1, .flags = SD_WA_FLAG_UP | SD_WA_FLAG_AT};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "user verification (UV) flag not set");
    c = (struct ceremony){.set_flags = 1, .flags = SD_WA_FLAG_UP};
    REFUSED(do_get(&c, 0, 0, &out), SIGNET_ERR_BAD_CLAIM, "user verification (UV) flag not set");
    /* UV is not required when the relying party does not ask for it */
    struct built b;
    build_get(&c, &b);
    assert_int_equal(do_get_built(&b, 0, 0, 0, &out), SIGNET_OK);

    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_REG | SD_WA_FLAG_BS};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_BAD_CLAIM, "BS set without BE");
    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_GET | SD_WA_FLAG_BS};
    REFUSED(do_get(&c, 0, SD_WA_FLAG_BS, &out), SIGNET_ERR_BAD_CLAIM, "BS set without BE");

    /* a synced passkey: BE and BS, registered and asserted */
    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_REG | SD_WA_FLAG_BE | SD_WA_FLAG_BS};
    assert_int_equal(do_reg(&c, &cred), SIGNET_OK);
    assert_int_equal(cred.flags & (SD_WA_FLAG_BE | SD_WA_FLAG_BS), SD_WA_FLAG_BE | SD_WA_FLAG_BS);
    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_GET | SD_WA_FLAG_BE};
    assert_int_equal(do_get(&c, 0, cred.flags, &out), SIGNET_OK); /* BS may change */

    /* BE changed since registration, both ways (§6.1.3) */
    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_GET | SD_WA_FLAG_BE};
    REFUSED(do_get(&c, 0, FLAGS_REG, &out), SIGNET_ERR_BAD_CLAIM,
            "backup eligibility changed since registration");
    c = (struct ceremony){0};
    REFUSED(do_get(&c, 0, FLAGS_REG | SD_WA_FLAG_BE, &out), SIGNET_ERR_BAD_CLAIM,
            "backup eligibility changed since registration");

    /* AT: required at registration, refused in an assertion */
    c = (struct ceremony){.set_flags = 1, .flags = SD_WA_FLAG_UP | SD_WA_FLAG_UV};
    assert_int_not_equal(do_reg(&c, &cred), SIGNET_OK); /* the key bytes become trailing bytes */
    c = (struct ceremony){.set_flags = 1, .flags = FLAGS_GET | SD_WA_FLAG_AT};
    assert_int_equal(do_get(&c, 0, 0, &out), SIGNET_ERR_MALFORMED);
}

/* ---- signatures (§7.2 steps 20-21) ----------------------------------------- */

static void test_signature(void **state)
{
    (void)state;
    struct sd_wa_assertion out;
    for (enum key_kind k = K_ES256; k <= K_RS3072; k++) {
        struct built b;
        struct ceremony c = {.key = k, .count = 3};
        build_get(&c, &b);
        assert_int_equal(do_get_built(&b, 1, 0, 0, &out), SIGNET_OK);

        struct built t = b;
        t.sig[t.sig_len / 2] ^= 0x01;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        t = b;
        t.sig_len--;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        t = b;
        t.sig_len = 0;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_MALFORMED, "signature is empty");
        t = b;
        t.sig_len = 513;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_MALFORMED, "signature is too long");

        /* authenticatorData changed after signing: the counter, a flag */
        t = b;
        t.ad.p[36] ^= 0x01;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        t = b;
        t.ad.p[32] |= SD_WA_FLAG_BE;
        REFUSED(do_get_built(&t, 1, 0, SD_WA_FLAG_BE, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        /* clientDataJSON changed after signing (whitespace is still valid JSON) */
        t = b;
        t.cd[t.cd_len++] = ' ';
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        /* another key of the same kind */
        t = b;
        EVP_PKEY *other = k == K_ES256   ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")
                          : k == K_EDDSA ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
                                         : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        t.cose_len = cose_key(other, NULL, t.cose, sizeof t.cose);
        EVP_PKEY_free(other);
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_BAD_SIGNATURE,
                "signature does not verify");
        /* truncated authenticatorData at every length */
        for (size_t n = 0; n < b.ad.n; n++) {
            t = b;
            t.ad.n = n;
            REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_MALFORMED, "shorter than 37");
        }
        /* a trailing byte */
        t = b;
        t.ad.p[t.ad.n++] = 0;
        REFUSED(do_get_built(&t, 1, 0, 0, &out), SIGNET_ERR_MALFORMED, "trailing bytes");
    }
    /* a stored key that is not acceptable */
    struct built b;
    struct ceremony c = {0};
    build_get(&c, &b);
    b.cose_len = 3;
    REFUSED(do_get_built(&b, 1, 0, 0, &out), SIGNET_ERR_MALFORMED,
            "stored credential public key is not accepted");
}

/* ---- counters (§6.1.1) ---------------------------------------------------------- */

static void test_counter(void **state)
{
    (void)state;
    static const struct {
        uint32_t stored, got;
        int regressed;
    } t[] = {
        {0, 0, 0},  {0, 1, 0},  {5, 6, 0}, {5, 5, 1}, {5, 4, 1},
        {5, 0, 1},  {UINT32_MAX, 1, 1},    {1, UINT32_MAX, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct sd_wa_assertion out;
        struct ceremony c = {.count = t[i].got};
        assert_int_equal(do_get(&c, t[i].stored, 0, &out), SIGNET_OK);
        assert_int_equal(out.sign_count, t[i].got);
        assert_int_equal(out.counter_regressed, t[i].regressed);
    }
}

/* ---- the attestationObject (§6.5.4, §8.7) ------------------------------------ */

static void test_attestation_object(void **state)
{
    (void)state;
    struct sd_wa_credential cred;
    struct ceremony c;

    c = (struct ceremony){.fmt = "packed"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_UNSUPPORTED, "attestation format is not none");
    c = (struct ceremony){.fmt = "None"};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_UNSUPPORTED, "attestation format is not none");
    c = (struct ceremony){.att_stmt_nonempty = 1};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "attStmt is not an empty map");
    c = (struct ceremony){.att_extra_member = 1};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "unexpected member in attestationObject");
    c = (struct ceremony){.att_trailing = 1};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "trailing bytes after attestationObject");
    c = (struct ceremony){.ad_trailing = 1};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "trailing bytes after authenticator data");

    /* oversize credential id; the largest allowed one */
    c = (struct ceremony){.cred_id_len = SD_WA_MAX_CRED_ID + 1};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_TOO_LARGE, "credential id longer than 1023 bytes");
    c = (struct ceremony){.cred_id_len = SD_WA_MAX_CRED_ID};
    assert_int_equal(do_reg(&c, &cred), SIGNET_OK);
    assert_int_equal(cred.cred_id_len, SD_WA_MAX_CRED_ID);
    assert_int_equal(cred.cred_id[1022], (1022 * 7 + 3) & 0xff);

    /* extensions (ED): one map, parsed past */
    static const uint8_t ext[] = {0xa1, 0x6b, 'c', 'r', 'e', 'd', 'P', 'r',
                                  'o',  't',  'e', 'c', 't', 0x02}; /* {"credProtect": 2} */
    c = (struct ceremony){.ext = ext, .ext_len = sizeof ext};
    assert_int_equal(do_reg(&c, &cred), SIGNET_OK);
    assert_true(cred.flags & SD_WA_FLAG_ED);
    static const uint8_t ext_int_key[] = {0xa1, 0x01, 0x02};
    c = (struct ceremony){.ext = ext_int_key, .ext_len = sizeof ext_int_key};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "extensions are not one well-formed CBOR map");
    static const uint8_t ext_array[] = {0x81, 0x01};
    c = (struct ceremony){.ext = ext_array, .ext_len = sizeof ext_array};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "extensions are not one well-formed CBOR map");

    /* truncated authData at every length, inside a well-formed attestationObject */
    struct built b;
    build_reg(&(struct ceremony){0}, &b);
    struct sd_wa_expect e = expect(1);
    for (size_t n = 0; n < b.ad.n; n++) {
        cbor_item_t *att = cbor_new_definite_map(3);
        map_put(att, cbor_build_string("fmt"), cbor_build_string("none"));
        map_put(att, cbor_build_string("attStmt"), cbor_new_definite_map(0));
        map_put(att, cbor_build_string("authData"), cbor_build_bytestring(b.ad.p, n));
        struct blob a;
        a.n = serialize(att, a.p, sizeof a.p);
        assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, a.p, a.n,
                                                   &cred, why, sizeof why),
                         SIGNET_ERR_MALFORMED);
        struct sd_wa_auth_data ad;
        assert_int_equal(sd_wa_parse_auth_data(b.ad.p, n, &ad, why, sizeof why),
                         SIGNET_ERR_MALFORMED);
    }
    /* the attestationObject truncated at every length */
    for (size_t n = 0; n < b.att.n; n++)
        assert_int_not_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, b.att.p,
                                                       n, &cred, why, sizeof why),
                             SIGNET_OK);
    assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, b.att.p,
                                               b.att.n, &cred, why, sizeof why),
                     SIGNET_OK);

    /* not a map; an indefinite-length map; a non-minimal length */
    static const uint8_t arr[] = {0x80};
    assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, arr, sizeof arr,
                                               &cred, why, sizeof why),
                     SIGNET_ERR_MALFORMED);
    struct blob indef = {.n = 0};
    blob_u8(&indef, 0xbf);
    blob_put(&indef, b.att.p + 1, b.att.n - 1);
    blob_u8(&indef, 0xff);
    assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, indef.p,
                                               indef.n, &cred, why, sizeof why),
                     SIGNET_ERR_MALFORMED);
    struct blob wide = {.n = 0};
    blob_u8(&wide, 0xb8); /* map, one-byte length 3 */
    blob_u8(&wide, 0x03);
    blob_put(&wide, b.att.p + 1, b.att.n - 1);
    assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, wide.p, wide.n,
                                               &cred, why, sizeof why),
                     SIGNET_ERR_MALFORMED);
    /* a map that declares more items than there are bytes (libcbor would
     * allocate for them) */
    static const uint8_t huge[] = {0xbb, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x01};
    assert_int_equal(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, huge,
                                               sizeof huge, &cred, why, sizeof why),
                     SIGNET_ERR_MALFORMED);
    uint8_t big[SD_WA_MAX_ATTESTATION + 1] = {0};
    REFUSED(sd_wa_verify_registration(&e, (const uint8_t *)b.cd, b.cd_len, big, sizeof big, &cred,
                                      why, sizeof why),
            SIGNET_ERR_TOO_LARGE, "too large");
}

/* ---- COSE keys (RFC 9052 §7, RFC 9053, RFC 8230) -------------------------------- */

static void test_cose(void **state)
{
    (void)state;
    uint8_t k[1200];
    size_t n;
    int alg = 0;
    struct sd_wa_credential cred;

    n = cose_key(keys[K_ES256], &(struct cose_mods){.crv = 2}, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);
    struct ceremony c = {.cose = &(struct cose_mods){.crv = 2}};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_UNSUPPORTED, "algorithm is not accepted");
    n = cose_key(keys[K_ES256], &(struct cose_mods){.alg = -35}, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);
    n = cose_key(keys[K_EDDSA], &(struct cose_mods){.crv = 4}, k, sizeof k); /* X25519 */
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);
    n = cose_key(keys[K_RS2048], &(struct cose_mods){.alg = -37}, k, sizeof k); /* PS256 */
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);

    n = cose_key(keys[K_ES256], &(struct cose_mods){.omit_y = 1}, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_MALFORMED);
    c = (struct ceremony){.cose = &(struct cose_mods){.omit_y = 1}};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "not a well-formed COSE key");

    n = cose_key(keys[K_RS1024], NULL, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);
    c = (struct ceremony){.key = K_RS1024};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_UNSUPPORTED, "algorithm is not accepted");

    n = cose_key(keys[K_ES256], &(struct cose_mods){.dup_kty = 1}, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_MALFORMED);
    c = (struct ceremony){.cose = &(struct cose_mods){.dup_kty = 1}};
    REFUSED(do_reg(&c, &cred), SIGNET_ERR_MALFORMED, "not a well-formed COSE key");
    n = cose_key(keys[K_EDDSA], &(struct cose_mods){.add_private = 1}, k, sizeof k);
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_MALFORMED);

    /* valid keys; then trailing bytes, truncation at every length */
    for (enum key_kind kk = K_ES256; kk <= K_RS3072; kk++) {
        n = cose_key(keys[kk], NULL, k, sizeof k);
        assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_OK);
        k[n] = 0;
        assert_int_equal(sd_wa_cose_alg(k, n + 1, &alg), SIGNET_ERR_MALFORMED);
        for (size_t m = 0; m < n; m++)
            assert_int_not_equal(sd_wa_cose_alg(k, m, &alg), SIGNET_OK);
    }

    /* an EC point that is not on P-256 */
    n = cose_key(keys[K_ES256], NULL, k, sizeof k);
    k[n - 1] ^= 0x01; /* the last byte of y */
    assert_int_equal(sd_wa_cose_alg(k, n, &alg), SIGNET_ERR_UNSUPPORTED);

    /* hand-written encodings: a non-minimal integer, a tag, a float, a
     * text-string x */
    static const uint8_t nonmin[] = {0xa1, 0x18, 0x01, 0x02};
    assert_int_equal(sd_wa_cose_alg(nonmin, sizeof nonmin, &alg), SIGNET_ERR_MALFORMED);
    static const uint8_t tagged[] = {0xc1, 0xa1, 0x01, 0x02};
    assert_int_equal(sd_wa_cose_alg(tagged, sizeof tagged, &alg), SIGNET_ERR_MALFORMED);
    static const uint8_t flt[] = {0xa1, 0x01, 0xf9, 0x40, 0x00};
    assert_int_equal(sd_wa_cose_alg(flt, sizeof flt, &alg), SIGNET_ERR_MALFORMED);
    static const uint8_t okp_text_x[] = {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x61, 'x'};
    assert_int_equal(sd_wa_cose_alg(okp_text_x, sizeof okp_text_x, &alg), SIGNET_ERR_MALFORMED);
    static const uint8_t no_kty[] = {0xa1, 0x03, 0x26};
    assert_int_equal(sd_wa_cose_alg(no_kty, sizeof no_kty, &alg), SIGNET_ERR_MALFORMED);
    uint8_t deep[32];
    memset(deep, 0x81, sizeof deep); /* [[[[...]]]] */
    deep[31] = 0x01;
    assert_int_equal(sd_wa_cose_alg(deep, sizeof deep, &alg), SIGNET_ERR_MALFORMED);
    assert_int_equal(sd_wa_cose_alg(k, SD_WA_MAX_COSE_KEY + 1, &alg), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(alg, 0);
}

/* ---- the parser on its own ---------------------------------------------------- */

static void test_parse_auth_data(void **state)
{
    (void)state;
    struct built b;
    build_reg(&(struct ceremony){.count = 0x01020304}, &b);
    struct sd_wa_auth_data ad;
    assert_int_equal(sd_wa_parse_auth_data(b.ad.p, b.ad.n, &ad, why, sizeof why), SIGNET_OK);
    assert_int_equal(ad.sign_count, 0x01020304);
    assert_int_equal(ad.flags, FLAGS_REG);
    assert_true(ad.attested);
    assert_memory_equal(ad.aaguid, AAGUID, 16);
    assert_int_equal(ad.cred_id_len, 32);
    assert_ptr_equal(ad.cred_id, b.ad.p + 37 + 18);
    assert_ptr_equal(ad.cose_key, b.ad.p + 37 + 18 + 32);
    assert_int_equal(ad.cose_key_len, b.ad.n - 37 - 18 - 32);
    /* a COSE key that is not a map */
    uint8_t p[64] = {0};
    p[32] = SD_WA_FLAG_AT;
    p[37 + 17] = 1; /* credential id of one byte */
    p[37 + 19] = 0x01;
    assert_int_equal(sd_wa_parse_auth_data(p, 37 + 20, &ad, why, sizeof why), SIGNET_ERR_MALFORMED);
    uint8_t big[SD_WA_MAX_AUTH_DATA + 1] = {0};
    assert_int_equal(sd_wa_parse_auth_data(big, sizeof big, &ad, why, sizeof why),
                     SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sd_wa_parse_auth_data(big, 37, &ad, why, sizeof why), SIGNET_OK);
    assert_false(ad.attested);
}

/* ---- softauthn.py (the integration tests' authenticator) ----------------------- */

static size_t b64_member(json_t *o, const char *path1, const char *name, uint8_t *out, size_t cap)
{
    json_t *v = path1 ? json_object_get(json_object_get(o, path1), name) : json_object_get(o, name);
    const char *s = json_string_value(v);
    assert_non_null(s);
    size_t n = 0;
    assert_int_equal(sg_b64url_decode(s, strlen(s), out, cap, &n), SIGNET_OK);
    return n;
}

static void test_softauthn(void **state)
{
    (void)state;
    const char *src = getenv("SIGNET_SOURCE_DIR");
    if (src == NULL)
        src = ".";
    char script[512];
    (void)snprintf(script, sizeof script, "%s/tests/integration/signetd/softauthn.py", src);
    FILE *probe = fopen(script, "r");
    if (probe == NULL) {
        fprintf(stderr, "softauthn.py not found: skipped\n");
        skip();
    }
    fclose(probe);
    char get_chal[64], reg_chal[64];
    assert_int_equal(sg_b64url_encode(CHAL, sizeof CHAL, reg_chal, sizeof reg_chal), SIGNET_OK);
    assert_int_equal(sg_b64url_encode(CHAL, sizeof CHAL, get_chal, sizeof get_chal), SIGNET_OK);
    static const char *algs[] = {"ES256", "EdDSA", "RS256"};
    static const int cose[] = {-7, -8, -257};
    for (size_t i = 0; i < 3; i++) {
        char cmd[1024];
        (void)snprintf(cmd, sizeof cmd,
                       "python3 '%s' --demo --rp-id " RP_ID " --origin " ORIGIN
                       " --create-challenge %s --get-challenge %s --alg %s 2>/dev/null",
                       script, reg_chal, get_chal, algs[i]);
        FILE *f = popen(cmd, "r");
        assert_non_null(f);
        static char out[32768];
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = '\0';
        int st = pclose(f);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "python3 or its cryptography package is missing: skipped\n");
            skip();
        }
        json_error_t jerr;
        json_t *doc = json_loads(out, 0, &jerr);
        assert_non_null(doc);
        json_t *reg = json_object_get(doc, "registration");
        json_t *get = json_object_get(doc, "assertion");
        static uint8_t cd[4096], att[8192], ad[4096], sig[1024], id[1100], raw_id[1100];
        size_t cd_len = b64_member(reg, "response", "clientDataJSON", cd, sizeof cd);
        size_t att_len = b64_member(reg, "response", "attestationObject", att, sizeof att);
        size_t id_len = b64_member(reg, NULL, "rawId", raw_id, sizeof raw_id);
        assert_string_equal(json_string_value(json_object_get(reg, "type")), "public-key");
        struct sd_wa_expect e = expect(1);
        struct sd_wa_credential cred;
        why[0] = '\0';
        signet_err err =
            sd_wa_verify_registration(&e, cd, cd_len, att, att_len, &cred, why, sizeof why);
        if (err != SIGNET_OK)
            fail_msg("%s registration: %s", algs[i], why);
        assert_int_equal(cred.alg, cose[i]);
        assert_int_equal(cred.cred_id_len, id_len);
        assert_memory_equal(cred.cred_id, raw_id, id_len);

        cd_len = b64_member(get, "response", "clientDataJSON", cd, sizeof cd);
        size_t ad_len = b64_member(get, "response", "authenticatorData", ad, sizeof ad);
        size_t sig_len = b64_member(get, "response", "signature", sig, sizeof sig);
        id_len = b64_member(get, NULL, "rawId", id, sizeof id);
        assert_memory_equal(id, cred.cred_id, id_len);
        struct sd_wa_assertion as;
        err = sd_wa_verify_assertion(&e, cd, cd_len, ad, ad_len, sig, sig_len, cred.cose_key,
                                     cred.cose_key_len, cred.sign_count, cred.flags, &as, why,
                                     sizeof why);
        if (err != SIGNET_OK)
            fail_msg("%s assertion: %s", algs[i], why);
        assert_int_equal(as.sign_count, cred.sign_count + 1);
        assert_false(as.counter_regressed);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_es256),
        cmocka_unit_test(test_valid_eddsa),
        cmocka_unit_test(test_valid_rs256),
        cmocka_unit_test(test_client_data),
        cmocka_unit_test(test_auth_data_checks),
        cmocka_unit_test(test_signature),
        cmocka_unit_test(test_counter),
        cmocka_unit_test(test_attestation_object),
        cmocka_unit_test(test_cose),
        cmocka_unit_test(test_parse_auth_data),
        cmocka_unit_test(test_softauthn),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
