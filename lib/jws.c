#include "jws.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "util/b64url.h"

void sg_jws_clear(struct sg_jws *jws)
{
    json_decref(jws->header);
    free(jws->payload);
    free(jws->sig);
    memset(jws, 0, sizeof *jws);
}

/* Decodes one base64url part of at most max decoded bytes into buf. */
static signet_err decode_into(const char *s, size_t n, size_t max, uint8_t *buf, size_t *out_len)
{
    size_t cap = sg_b64url_decoded_max(n);
    if (cap > max)
        return SIGNET_ERR_TOO_LARGE;
    signet_err err = sg_b64url_decode(s, n, buf, cap, out_len);
    if (err != SIGNET_OK)
        return err == SIGNET_ERR_TOO_LARGE ? SIGNET_ERR_TOO_LARGE : SIGNET_ERR_BAD_BASE64;
    return SIGNET_OK;
}

/* The same into a fresh buffer. */
static signet_err decode_part(const char *s, size_t n, size_t max, uint8_t **out, size_t *out_len)
{
    size_t cap = sg_b64url_decoded_max(n);
    if (cap > max)
        return SIGNET_ERR_TOO_LARGE;
    uint8_t *buf = malloc(cap == 0 ? 1 : cap);
    if (buf == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = decode_into(s, n, max, buf, out_len);
    if (err != SIGNET_OK) {
        free(buf);
        return err;
    }
    *out = buf;
    return SIGNET_OK;
}

signet_err sg_jws_parse(const char *token, size_t len, struct sg_jws *out)
{
    memset(out, 0, sizeof *out);
    if (len > SG_TOKEN_MAX)
        return SIGNET_ERR_TOO_LARGE;
    if (len == 0)
        return SIGNET_ERR_NOT_COMPACT_JWS;
    /* JSON serialization (RFC 7515 §7.2) is not accepted. */
    if (token[0] == '{')
        return SIGNET_ERR_NOT_COMPACT_JWS;
    /* Exactly two dots: a JWE has five parts. */
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 != NULL ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
        return SIGNET_ERR_NOT_COMPACT_JWS;
    size_t dots[2] = {(size_t)(d1 - token), (size_t)(d2 - token)};

    signet_err err = SIGNET_OK;
    uint8_t hdr[SG_HEADER_MAX]; /* only needed until it is parsed */
    size_t hdr_len = 0;
    err = decode_into(token, dots[0], SG_HEADER_MAX, hdr, &hdr_len);
    if (err != SIGNET_OK)
        goto out;
    if (hdr_len == 0) {
        err = SIGNET_ERR_MALFORMED;
        goto out;
    }
    err = sg_json_parse(hdr, hdr_len, SG_HEADER_MAX, &out->header);
    if (err != SIGNET_OK)
        goto out;
    if (!json_is_object(out->header)) {
        err = SIGNET_ERR_MALFORMED;
        goto out;
    }
    err = decode_part(token + dots[0] + 1, dots[1] - dots[0] - 1, SG_TOKEN_MAX, &out->payload,
                      &out->payload_len);
    if (err != SIGNET_OK)
        goto out;
    err = decode_part(token + dots[1] + 1, len - dots[1] - 1, SG_SIG_MAX, &out->sig,
                      &out->sig_len);
    if (err != SIGNET_OK)
        goto out;
    out->signing_input = token;
    out->signing_input_len = dots[1];
out:
    if (err != SIGNET_OK)
        sg_jws_clear(out);
    return err;
}

/* Header parameters registered by RFC 7515 §4.1; crit must not list them. */
static int registered_header(const char *name)
{
    static const char *const names[] = {"alg", "jku", "jwk", "kid", "x5u", "x5c",
                                        "x5t", "x5t#S256", "typ", "cty", "crit"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static signet_err check_crit(const json_t *header)
{
    const json_t *crit = json_object_get(header, "crit");
    if (crit == NULL)
        return SIGNET_OK;
    /* RFC 7515 §4.1.11: a non-empty array of distinct names of header
     * parameters that are present and not defined by the JWS spec. */
    if (!json_is_array(crit) || json_array_size(crit) == 0)
        return SIGNET_ERR_MALFORMED;
    for (size_t i = 0; i < json_array_size(crit); i++) {
        const json_t *e = json_array_get(crit, i);
        if (!json_is_string(e))
            return SIGNET_ERR_MALFORMED;
        const char *name = json_string_value(e);
        if (registered_header(name) || json_object_get(header, name) == NULL)
            return SIGNET_ERR_MALFORMED;
        for (size_t j = 0; j < i; j++)
            if (strcmp(name, json_string_value(json_array_get(crit, j))) == 0)
                return SIGNET_ERR_MALFORMED;
    }
    /* No extension is understood, so any critical one is unknown. */
    return SIGNET_ERR_UNKNOWN_CRIT;
}

static int typ_matches(const char *got, const char *want)
{
    /* RFC 7515 §4.1.9: "application/" may be omitted when no other '/'
     * appears; media types compare case-insensitively. */
    static const char prefix[] = "application/";
    if (strncasecmp(got, prefix, sizeof prefix - 1) == 0 &&
        strchr(got + sizeof prefix - 1, '/') == NULL)
        got += sizeof prefix - 1;
    return strcasecmp(got, want) == 0;
}

signet_err sg_jws_check_header(const struct sg_jws *jws, const struct sg_header_policy *pol,
                               enum sg_alg *alg, const char **kid)
{
    *kid = NULL;
    const json_t *a = json_object_get(jws->header, "alg");
    if (!json_is_string(a))
        return SIGNET_ERR_MALFORMED;
    signet_err err = sg_alg_parse(json_string_value(a), alg);
    if (err != SIGNET_OK)
        return err;
    if ((pol->allowed_algs & SG_ALG_BIT(*alg)) == 0)
        return SIGNET_ERR_ALG_NOT_ALLOWED;
    /* Keys come only from the issuer's configured set, never the token. */
    static const char *const forbidden[] = {"jku", "x5u", "jwk", "x5c"};
    for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++)
        if (json_object_get(jws->header, forbidden[i]) != NULL)
            return SIGNET_ERR_FORBIDDEN_HEADER;
    err = check_crit(jws->header);
    if (err != SIGNET_OK)
        return err;
    if (pol->typ != NULL) {
        const json_t *t = json_object_get(jws->header, "typ");
        if (!json_is_string(t) || !typ_matches(json_string_value(t), pol->typ))
            return SIGNET_ERR_BAD_TYP;
    }
    const json_t *k = json_object_get(jws->header, "kid");
    if (k != NULL) {
        if (!json_is_string(k) || json_string_length(k) == 0 || json_string_length(k) > 256)
            return SIGNET_ERR_MALFORMED;
        *kid = json_string_value(k);
    }
    return SIGNET_OK;
}

/* ---- signatures ---------------------------------------------------------- */

struct ec_params {
    size_t len;           /* bytes per coordinate / scalar */
    int bits;             /* EVP_PKEY_get_bits of the key */
    const uint8_t *order; /* the group order n, big-endian, len bytes */
};

/* Group orders (SEC 2 §2.4.2, §2.5.1, §2.6.1). */
static const uint8_t order_p256[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};
static const uint8_t order_p384[48] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73};
static const uint8_t order_p521[66] = {
    0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01, 0x48, 0xf7, 0x09,
    0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f, 0xb7, 0x1e, 0x91, 0x38,
    0x64, 0x09};

static const struct ec_params ec_p256 = {32, 256, order_p256};
static const struct ec_params ec_p384 = {48, 384, order_p384};
static const struct ec_params ec_p521 = {66, 521, order_p521};

/* 1 <= x <= n-1 for a big-endian scalar x of exactly len bytes. */
static int scalar_in_range(const uint8_t *x, const uint8_t *n, size_t len)
{
    int nonzero = 0;
    for (size_t i = 0; i < len; i++)
        nonzero |= x[i];
    return nonzero != 0 && memcmp(x, n, len) < 0;
}

/* One DER INTEGER (X.690 §8.3) holding the unsigned big-endian x: leading
 * zero bytes dropped, one 0x00 added when the top bit is set. */
static size_t der_integer(const uint8_t *x, size_t len, uint8_t *out)
{
    while (len > 1 && x[0] == 0)
        x++, len--;
    size_t pad = (x[0] & 0x80) != 0;
    out[0] = 0x02;
    out[1] = (uint8_t)(len + pad);
    out[2] = 0x00;
    memcpy(out + 2 + pad, x, len);
    return 2 + pad + len;
}

/* JOSE r||s (RFC 7518 §3.4) to the DER ECDSA-Sig-Value OpenSSL expects
 * (RFC 3279 §2.2.3), written straight into der (at least 2 * len + 9
 * bytes). r and s are in [1, n-1], so each INTEGER has 1..len+1 content
 * bytes and, for P-521, the SEQUENCE needs the long length form. */
static signet_err ecdsa_to_der(const struct ec_params *p, const uint8_t *sig, size_t sig_len,
                               uint8_t *der, size_t *der_len)
{
    if (sig_len != 2 * p->len)
        return SIGNET_ERR_BAD_SIGNATURE;
    if (!scalar_in_range(sig, p->order, p->len) ||
        !scalar_in_range(sig + p->len, p->order, p->len))
        return SIGNET_ERR_BAD_SIGNATURE;
    uint8_t body[2 * (2 + 66 + 1)];
    size_t n = der_integer(sig, p->len, body);
    n += der_integer(sig + p->len, p->len, body + n);
    size_t h = 0;
    der[h++] = 0x30;
    if (n >= 0x80)
        der[h++] = 0x81; /* n < 256: one length byte follows */
    der[h++] = (uint8_t)n;
    memcpy(der + h, body, n);
    *der_len = h + n;
    return SIGNET_OK;
}

signet_err sg_digests_init(struct sg_digests *d)
{
    d->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    d->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
    d->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
    if (d->sha256 == NULL || d->sha384 == NULL || d->sha512 == NULL) {
        sg_digests_clear(d);
        ERR_clear_error();
        return SIGNET_ERR_CRYPTO;
    }
    return SIGNET_OK;
}

void sg_digests_clear(struct sg_digests *d)
{
    EVP_MD_free(d->sha256);
    EVP_MD_free(d->sha384);
    EVP_MD_free(d->sha512);
    memset(d, 0, sizeof *d);
}

signet_err sg_sig_verify(enum sg_alg alg, EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                         const uint8_t *sig, size_t sig_len)
{
    return sg_sig_verify_md(alg, pkey, NULL, NULL, msg, msg_len, sig, sig_len);
}

/* One verification context for one key and algorithm. ECDSA and RSA-PSS
 * hash with md and verify the digest with pkey, a context initialised once
 * (EVP_PKEY_verify_init, digest and padding set) and reused: OpenSSL 3 spends
 * about 2% of an ES256 verification in EVP_DigestVerifyInit, a key export
 * and algorithm fetch it does again on every call. Ed25519/Ed448 have no
 * prehash form, so EdDSA verifies with EVP_DigestVerify on md. */
struct sg_vctx {
    enum sg_alg alg;
    EVP_PKEY *key;      /* the key pkey was made for (not owned): a check */
    EVP_MD_CTX *md;
    EVP_PKEY_CTX *pkey; /* NULL for EdDSA */
};

static void vctx_free(struct sg_vctx *v)
{
    if (v == NULL)
        return;
    EVP_MD_CTX_free(v->md);
    EVP_PKEY_CTX_free(v->pkey);
    free(v);
}

static struct sg_vctx *vctx_new(enum sg_alg alg, EVP_PKEY *key, const EVP_MD *md, int rsa)
{
    struct sg_vctx *v = calloc(1, sizeof *v);
    if (v == NULL)
        return NULL;
    v->alg = alg;
    v->key = key;
    v->md = EVP_MD_CTX_new();
    if (v->md == NULL)
        goto fail;
    if (alg == SG_ALG_EDDSA || alg == SG_ALG_ED25519)
        return v;
    v->pkey = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (v->pkey == NULL || EVP_PKEY_verify_init(v->pkey) != 1 ||
        EVP_PKEY_CTX_set_signature_md(v->pkey, md) != 1)
        goto fail;
    /* RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. */
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(v->pkey, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(v->pkey, md) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(v->pkey, RSA_PSS_SALTLEN_DIGEST) != 1))
        goto fail;
    return v;
fail:
    vctx_free(v);
    return NULL;
}

void sg_ctx_pool_clear(struct sg_ctx_pool *pool)
{
    for (size_t i = 0; i < SG_CTX_POOL_SLOTS; i++)
        vctx_free(atomic_exchange(&pool->slot[i], NULL));
}

/* A context of this pool for alg, or a new one. Every context in a pool
 * was made for the pool's key; one made for another algorithm (an RSA key
 * without a JWK alg serves PS256, PS384 and PS512) is dropped. */
static struct sg_vctx *pool_take(struct sg_ctx_pool *pool, enum sg_alg alg, EVP_PKEY *key,
                                 const EVP_MD *md, int rsa)
{
    for (size_t i = 0; pool != NULL && i < SG_CTX_POOL_SLOTS; i++) {
        if (atomic_load_explicit(&pool->slot[i], memory_order_relaxed) == NULL)
            continue;
        struct sg_vctx *v = atomic_exchange_explicit(&pool->slot[i], NULL, memory_order_acquire);
        if (v != NULL && v->alg == alg && v->key == key)
            return v;
        vctx_free(v);
    }
    return vctx_new(alg, key, md, rsa);
}

/* Keeps v for the next call when there is room, else frees it. */
static void pool_put(struct sg_ctx_pool *pool, struct sg_vctx *v)
{
    for (size_t i = 0; pool != NULL && i < SG_CTX_POOL_SLOTS; i++) {
        struct sg_vctx *expected = NULL;
        if (atomic_compare_exchange_strong_explicit(&pool->slot[i], &expected, v,
                                                    memory_order_release, memory_order_relaxed))
            return;
    }
    vctx_free(v);
}

/* 1 when sig is a valid signature of msg under v's key, 0 when it is not,
 * -1 on an OpenSSL failure. */
static int vctx_verify(struct sg_vctx *v, const EVP_MD *md, const uint8_t *msg, size_t msg_len,
                       const uint8_t *sig, size_t sig_len)
{
    if (v->pkey == NULL) { /* EdDSA: a used context keeps its key, check it */
        EVP_PKEY_CTX *pctx = NULL;
        if (EVP_DigestVerifyInit(v->md, &pctx, NULL, NULL, v->key) != 1 ||
            EVP_PKEY_CTX_get0_pkey(pctx) != v->key)
            return -1;
        return EVP_DigestVerify(v->md, sig, sig_len, msg, msg_len) == 1;
    }
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_DigestInit_ex2(v->md, md, NULL) != 1 || EVP_DigestUpdate(v->md, msg, msg_len) != 1 ||
        EVP_DigestFinal_ex(v->md, digest, &dlen) != 1)
        return -1;
    return EVP_PKEY_verify(v->pkey, sig, sig_len, digest, dlen) == 1;
}

signet_err sg_sig_verify_md(enum sg_alg alg, EVP_PKEY *pkey, const struct sg_digests *mds,
                            struct sg_ctx_pool *pool, const uint8_t *msg, size_t msg_len,
                            const uint8_t *sig, size_t sig_len)
{
    const EVP_MD *md = NULL;
    const EVP_MD *fetched = NULL; /* saves OpenSSL 3 an implicit fetch per call */
    const struct ec_params *ec = NULL;
    int rsa = 0;
    switch (alg) {
    case SG_ALG_ES256: md = EVP_sha256(); fetched = mds ? mds->sha256 : NULL; ec = &ec_p256; break;
    case SG_ALG_ES384: md = EVP_sha384(); fetched = mds ? mds->sha384 : NULL; ec = &ec_p384; break;
    case SG_ALG_ES512: md = EVP_sha512(); fetched = mds ? mds->sha512 : NULL; ec = &ec_p521; break;
    case SG_ALG_PS256: md = EVP_sha256(); fetched = mds ? mds->sha256 : NULL; rsa = 1; break;
    case SG_ALG_PS384: md = EVP_sha384(); fetched = mds ? mds->sha384 : NULL; rsa = 1; break;
    case SG_ALG_PS512: md = EVP_sha512(); fetched = mds ? mds->sha512 : NULL; rsa = 1; break;
    case SG_ALG_EDDSA:
    case SG_ALG_ED25519: break;
    case SG_ALG_COUNT:
    default: return SIGNET_ERR_ALG_NOT_ALLOWED;
    }
    if (fetched != NULL)
        md = fetched;
    /* The key's own type decides, whatever the caller believed. */
    if (ec != NULL) {
        if (!EVP_PKEY_is_a(pkey, "EC") || EVP_PKEY_get_bits(pkey) != ec->bits)
            return SIGNET_ERR_ALG_KEY_MISMATCH;
    } else if (rsa) {
        if (!EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_get_bits(pkey) < 2048)
            return SIGNET_ERR_ALG_KEY_MISMATCH;
        if (sig_len != (size_t)EVP_PKEY_get_size(pkey)) /* RFC 8017 §8.1.2 step 1 */
            return SIGNET_ERR_BAD_SIGNATURE;
    } else {
        size_t want = EVP_PKEY_is_a(pkey, "ED25519") ? 64 : EVP_PKEY_is_a(pkey, "ED448") ? 114 : 0;
        if (want == 0 || (alg == SG_ALG_ED25519 && want != 64))
            return SIGNET_ERR_ALG_KEY_MISMATCH;
        if (sig_len != want)
            return SIGNET_ERR_BAD_SIGNATURE;
    }

    uint8_t der[2 * (2 + 66 + 1) + 3];
    size_t der_len = 0;
    if (ec != NULL) {
        signet_err err = ecdsa_to_der(ec, sig, sig_len, der, &der_len);
        if (err != SIGNET_OK)
            return err;
        sig = der;
        sig_len = der_len;
    }
    struct sg_vctx *v = pool_take(pool, alg, pkey, md, rsa);
    int ok = v != NULL ? vctx_verify(v, md, msg, msg_len, sig, sig_len) : -1;
    signet_err err = ok == 1 ? SIGNET_OK : ok == 0 ? SIGNET_ERR_BAD_SIGNATURE : SIGNET_ERR_CRYPTO;
    /* Only a context that just verified cleanly goes back to the pool. */
    if (err == SIGNET_OK)
        pool_put(pool, v);
    else
        vctx_free(v);
    if (err != SIGNET_OK)
        ERR_clear_error(); /* the error queue is per thread: leave it empty */
    return err;
}
