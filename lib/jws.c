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
#include "util/hex.h"

static const char *const alg_names[SG_ALG_COUNT] = {
    [SG_ALG_ES256] = "ES256", [SG_ALG_ES384] = "ES384", [SG_ALG_ES512] = "ES512",
    [SG_ALG_PS256] = "PS256", [SG_ALG_PS384] = "PS384", [SG_ALG_PS512] = "PS512",
    [SG_ALG_EDDSA] = "EdDSA",
};

signet_err sg_jws_alg_from_name(const char *name, enum sg_alg *out)
{
    for (unsigned i = 0; i < SG_ALG_COUNT; i++) {
        if (strcmp(name, alg_names[i]) == 0) {
            *out = (enum sg_alg)i;
            return SIGNET_OK;
        }
    }
    return SIGNET_ERR_ALG_NOT_ALLOWED;
}

const char *sg_jws_alg_name(enum sg_alg alg)
{
    return (unsigned)alg < SG_ALG_COUNT ? alg_names[alg] : "?";
}

void sg_jws_clear(struct sg_jws *jws)
{
    json_decref(jws->header);
    free(jws->payload);
    free(jws->sig);
    memset(jws, 0, sizeof *jws);
}

/* Decodes one base64url part into a fresh buffer of at most max bytes. */
static signet_err decode_part(const char *s, size_t n, size_t max, uint8_t **out, size_t *out_len)
{
    size_t cap = sg_b64url_decoded_max(n);
    if (cap > max)
        return SIGNET_ERR_TOO_LARGE;
    uint8_t *buf = malloc(cap == 0 ? 1 : cap);
    if (buf == NULL)
        return SIGNET_ERR_NOMEM;
    signet_err err = sg_b64url_decode(s, n, buf, cap, out_len);
    if (err != SIGNET_OK) {
        free(buf);
        return err == SIGNET_ERR_TOO_LARGE ? SIGNET_ERR_TOO_LARGE : SIGNET_ERR_BAD_BASE64;
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
    size_t dots[2], ndots = 0;
    for (size_t i = 0; i < len; i++) {
        if (token[i] != '.')
            continue;
        if (ndots == 2) /* a JWE has five parts */
            return SIGNET_ERR_NOT_COMPACT_JWS;
        dots[ndots++] = i;
    }
    if (ndots != 2)
        return SIGNET_ERR_NOT_COMPACT_JWS;

    signet_err err = SIGNET_OK;
    uint8_t *hdr = NULL;
    size_t hdr_len = 0;
    err = decode_part(token, dots[0], SG_HEADER_MAX, &hdr, &hdr_len);
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
    free(hdr);
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
    signet_err err = sg_jws_alg_from_name(json_string_value(a), alg);
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
    size_t len;        /* bytes per coordinate / scalar */
    int bits;          /* EVP_PKEY_get_bits of the key */
    const char *order; /* the group order n, hex, big-endian, len bytes */
};

static const struct ec_params ec_p256 = {
    32, 256, "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"};
static const struct ec_params ec_p384 = {
    48, 384,
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"};
static const struct ec_params ec_p521 = {
    66, 521,
    "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148"
    "f709a5d03bb5c9b8899c47aebb6fb71e91386409"};

/* 1 <= x <= n-1 for a big-endian scalar x of exactly len bytes. */
static int scalar_in_range(const uint8_t *x, const uint8_t *n, size_t len)
{
    int nonzero = 0;
    for (size_t i = 0; i < len; i++)
        nonzero |= x[i];
    return nonzero != 0 && memcmp(x, n, len) < 0;
}

/* JOSE r||s (RFC 7518 §3.4) to the DER ECDSA-Sig-Value OpenSSL expects. */
static signet_err ecdsa_to_der(const struct ec_params *p, const uint8_t *sig, size_t sig_len,
                               uint8_t **der, size_t *der_len)
{
    uint8_t order[66];
    if (sig_len != 2 * p->len)
        return SIGNET_ERR_BAD_SIGNATURE;
    if (sg_hex_decode(p->order, strlen(p->order), order, p->len) != SIGNET_OK)
        return SIGNET_ERR_INTERNAL;
    if (!scalar_in_range(sig, order, p->len) || !scalar_in_range(sig + p->len, order, p->len))
        return SIGNET_ERR_BAD_SIGNATURE;
    signet_err err = SIGNET_ERR_NOMEM;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)p->len, NULL);
    BIGNUM *s = BN_bin2bn(sig + p->len, (int)p->len, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    unsigned char *buf = NULL;
    int n = i2d_ECDSA_SIG(es, &buf);
    if (n <= 0)
        goto out;
    *der = buf;
    *der_len = (size_t)n;
    err = SIGNET_OK;
out:
    ECDSA_SIG_free(es);
    return err;
}

signet_err sg_sig_verify(enum sg_alg alg, EVP_PKEY *pkey, const uint8_t *msg, size_t msg_len,
                         const uint8_t *sig, size_t sig_len)
{
    const EVP_MD *md = NULL;
    const struct ec_params *ec = NULL;
    int rsa = 0;
    switch (alg) {
    case SG_ALG_ES256: md = EVP_sha256(); ec = &ec_p256; break;
    case SG_ALG_ES384: md = EVP_sha384(); ec = &ec_p384; break;
    case SG_ALG_ES512: md = EVP_sha512(); ec = &ec_p521; break;
    case SG_ALG_PS256: md = EVP_sha256(); rsa = 1; break;
    case SG_ALG_PS384: md = EVP_sha384(); rsa = 1; break;
    case SG_ALG_PS512: md = EVP_sha512(); rsa = 1; break;
    case SG_ALG_EDDSA: break;
    case SG_ALG_COUNT:
    default: return SIGNET_ERR_ALG_NOT_ALLOWED;
    }
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
        if (want == 0)
            return SIGNET_ERR_ALG_KEY_MISMATCH;
        if (sig_len != want)
            return SIGNET_ERR_BAD_SIGNATURE;
    }

    signet_err err = SIGNET_ERR_BAD_SIGNATURE;
    uint8_t *der = NULL;
    size_t der_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    if (ctx == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    if (ec != NULL) {
        err = ecdsa_to_der(ec, sig, sig_len, &der, &der_len);
        if (err != SIGNET_OK)
            goto out;
        sig = der;
        sig_len = der_len;
        err = SIGNET_ERR_BAD_SIGNATURE;
    }
    if (EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) != 1) {
        err = SIGNET_ERR_CRYPTO;
        goto out;
    }
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1)) {
        err = SIGNET_ERR_CRYPTO;
        goto out;
    }
    if (EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1)
        err = SIGNET_OK;
out:
    if (err != SIGNET_OK)
        ERR_clear_error(); /* the error queue is per thread: leave it empty */
    OPENSSL_free(der);
    EVP_MD_CTX_free(ctx);
    return err;
}
