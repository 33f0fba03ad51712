#include "jwk.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "util/b64url.h"

#define SG_RSA_MIN_BITS 2048
#define SG_RSA_MAX_BITS 8192

static const char *str_member(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A base64url member decoded into buf (cap bytes), length within [min, max]. */
static signet_err b64_member(const json_t *jwk, const char *name, uint8_t *buf, size_t cap,
                             size_t min, size_t max, size_t *len)
{
    const json_t *v = json_object_get(jwk, name);
    if (!json_is_string(v))
        return SIGNET_ERR_BAD_JWKS;
    if (sg_b64url_decode(json_string_value(v), json_string_length(v), buf, cap, len) !=
            SIGNET_OK ||
        *len < min || *len > max)
        return SIGNET_ERR_BAD_JWKS;
    return SIGNET_OK;
}

static signet_err pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    signet_err err = SIGNET_ERR_BAD_JWKS;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *check = NULL;
    EVP_PKEY *pkey = NULL;
    if (params == NULL || ctx == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    if (EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        goto out;
    /* An EC point must be on its curve and not at infinity; on the curves
     * signet takes (P-256/384/521: cofactor 1) that also puts it in the
     * prime-order group, so the quick check is complete and the full one
     * (a scalar multiplication by the order) would only cost a third of a
     * DPoP proof's verification. Other key types get the full check. */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (check == NULL || (strcmp(type, "EC") == 0 ? EVP_PKEY_public_check_quick(check)
                                                  : EVP_PKEY_public_check(check)) != 1)
        goto out;
    *out = pkey;
    pkey = NULL;
    err = SIGNET_OK;
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return err;
}

static signet_err parse_ec(const json_t *jwk, struct sg_key *k)
{
    const char *crv = str_member(jwk, "crv");
    const char *group = NULL;
    size_t len = 0;
    if (crv == NULL)
        return SIGNET_ERR_BAD_JWKS;
    if (strcmp(crv, "P-256") == 0) {
        group = "prime256v1", len = 32, k->algs = SG_ALG_BIT(SG_ALG_ES256);
    } else if (strcmp(crv, "P-384") == 0) {
        group = "secp384r1", len = 48, k->algs = SG_ALG_BIT(SG_ALG_ES384);
    } else if (strcmp(crv, "P-521") == 0) {
        group = "secp521r1", len = 66, k->algs = SG_ALG_BIT(SG_ALG_ES512);
    } else {
        return SIGNET_ERR_UNSUPPORTED;
    }
    /* RFC 7518 §6.2.1.2: x and y are exactly the coordinate size. */
    uint8_t pub[1 + 2 * 66];
    size_t xl = 0, yl = 0;
    signet_err err = b64_member(jwk, "x", pub + 1, 66, len, len, &xl);
    if (err == SIGNET_OK)
        err = b64_member(jwk, "y", pub + 1 + len, 66, len, len, &yl);
    if (err != SIGNET_OK)
        return err;
    pub[0] = 0x04; /* uncompressed point */
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return SIGNET_ERR_NOMEM;
    if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * len) != 1)
        err = SIGNET_ERR_NOMEM;
    else
        err = pkey_fromdata("EC", bld, &k->pkey);
    OSSL_PARAM_BLD_free(bld);
    k->kty = SG_KTY_EC;
    return err;
}

static signet_err parse_rsa(const json_t *jwk, struct sg_key *k)
{
    uint8_t n[SG_RSA_MAX_BITS / 8 + 1], e[8];
    size_t nl = 0, el = 0;
    signet_err err = b64_member(jwk, "n", n, sizeof n, SG_RSA_MIN_BITS / 8, sizeof n, &nl);
    if (err == SIGNET_OK)
        err = b64_member(jwk, "e", e, sizeof e, 1, sizeof e, &el);
    if (err != SIGNET_OK)
        return err;
    BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL);
    BIGNUM *be = BN_bin2bn(e, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bn == NULL || be == NULL || bld == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    /* At least 2048 bits (RFC 7518 §3.5); e odd and > 1. */
    if (BN_num_bits(bn) < SG_RSA_MIN_BITS || BN_num_bits(bn) > SG_RSA_MAX_BITS ||
        !BN_is_odd(be) || BN_is_one(be)) {
        err = SIGNET_ERR_BAD_JWKS;
        goto out;
    }
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    err = pkey_fromdata("RSA", bld, &k->pkey);
    k->kty = SG_KTY_RSA;
    k->algs = SG_ALG_BIT(SG_ALG_PS256) | SG_ALG_BIT(SG_ALG_PS384) | SG_ALG_BIT(SG_ALG_PS512);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return err;
}

static signet_err parse_okp(const json_t *jwk, struct sg_key *k)
{
    const char *crv = str_member(jwk, "crv");
    int type = 0;
    size_t len = 0;
    if (crv == NULL)
        return SIGNET_ERR_BAD_JWKS;
    if (strcmp(crv, "Ed25519") == 0)
        type = EVP_PKEY_ED25519, len = 32;
    else if (strcmp(crv, "Ed448") == 0)
        type = EVP_PKEY_ED448, len = 57;
    else
        return SIGNET_ERR_UNSUPPORTED; /* X25519/X448 are not signature keys */
    uint8_t x[57];
    size_t xl = 0;
    signet_err err = b64_member(jwk, "x", x, sizeof x, len, len, &xl);
    if (err != SIGNET_OK)
        return err;
    k->pkey = EVP_PKEY_new_raw_public_key(type, NULL, x, xl);
    if (k->pkey == NULL)
        return SIGNET_ERR_BAD_JWKS;
    k->kty = SG_KTY_OKP;
    /* RFC 9864: "Ed25519" names EdDSA with this curve alone. */
    k->algs = SG_ALG_BIT(SG_ALG_EDDSA) |
              (type == EVP_PKEY_ED25519 ? SG_ALG_BIT(SG_ALG_ED25519) : 0u);
    return SIGNET_OK;
}

static signet_err parse_usage(const json_t *jwk)
{
    /* Private key material has no business in a published set. */
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_object_get(jwk, priv[i]) != NULL)
            return SIGNET_ERR_BAD_JWKS;
    const json_t *use = json_object_get(jwk, "use");
    if (use != NULL && (!json_is_string(use) || strcmp(json_string_value(use), "sig") != 0))
        return SIGNET_ERR_UNSUPPORTED;
    const json_t *ops = json_object_get(jwk, "key_ops");
    if (ops != NULL) {
        if (!json_is_array(ops))
            return SIGNET_ERR_BAD_JWKS;
        int verify = 0;
        for (size_t i = 0; i < json_array_size(ops); i++) {
            const char *op = json_string_value(json_array_get(ops, i));
            if (op == NULL)
                return SIGNET_ERR_BAD_JWKS;
            verify |= strcmp(op, "verify") == 0;
        }
        if (!verify)
            return SIGNET_ERR_UNSUPPORTED;
    }
    return SIGNET_OK;
}

/* signet's per-key scope: iss, active_from, active_until. */
static signet_err parse_signet_members(const json_t *jwk, struct sg_key *k)
{
    const json_t *iss = json_object_get(jwk, "iss");
    if (iss != NULL) {
        if (!json_is_string(iss) || json_string_length(iss) == 0)
            return SIGNET_ERR_BAD_JWKS;
        k->iss = strdup(json_string_value(iss));
        if (k->iss == NULL)
            return SIGNET_ERR_NOMEM;
    }
    const json_t *from = json_object_get(jwk, "active_from");
    if (from != NULL) {
        if (sg_json_numeric_date(from, 0, &k->active_from) != SIGNET_OK)
            return SIGNET_ERR_BAD_JWKS;
        k->has_active_from = true;
    }
    const json_t *until = json_object_get(jwk, "active_until");
    if (until != NULL) {
        if (sg_json_numeric_date(until, 0, &k->active_until) != SIGNET_OK)
            return SIGNET_ERR_BAD_JWKS;
        k->has_active_until = true;
    }
    if (k->has_active_from && k->has_active_until && k->active_until < k->active_from)
        return SIGNET_ERR_BAD_JWKS;
    return SIGNET_OK;
}

void sg_jwk_key_clear(struct sg_key *k)
{
    if (k->ctx_pool != NULL) {
        sg_ctx_pool_clear(k->ctx_pool);
        free(k->ctx_pool);
    }
    free(k->kid);
    free(k->iss);
    EVP_PKEY_free(k->pkey);
    memset(k, 0, sizeof *k);
}

signet_err sg_jwk_parse(const json_t *jwk, struct sg_key *out)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(jwk))
        return SIGNET_ERR_BAD_JWKS;
    signet_err err = parse_usage(jwk);
    if (err != SIGNET_OK)
        return err;
    const char *kty = str_member(jwk, "kty");
    if (kty == NULL)
        return SIGNET_ERR_BAD_JWKS;
    if (strcmp(kty, "EC") == 0)
        err = parse_ec(jwk, out);
    else if (strcmp(kty, "RSA") == 0)
        err = parse_rsa(jwk, out);
    else if (strcmp(kty, "OKP") == 0)
        err = parse_okp(jwk, out);
    else
        err = SIGNET_ERR_UNSUPPORTED;
    if (err != SIGNET_OK)
        goto out;
    const json_t *alg = json_object_get(jwk, "alg");
    if (alg != NULL) {
        enum sg_alg a;
        if (!json_is_string(alg)) {
            err = SIGNET_ERR_BAD_JWKS;
            goto out;
        }
        /* RFC 7517 §4.4: the key is for this algorithm only. */
        if (sg_alg_parse(json_string_value(alg), &a) == SIGNET_OK)
            out->algs &= SG_ALG_BIT(a);
        else
            out->algs = 0;
    }
    const json_t *kid = json_object_get(jwk, "kid");
    if (kid != NULL) {
        if (!json_is_string(kid) || json_string_length(kid) == 0 ||
            json_string_length(kid) > SG_KID_MAX) {
            err = SIGNET_ERR_BAD_JWKS;
            goto out;
        }
        out->kid = strdup(json_string_value(kid));
        if (out->kid == NULL) {
            err = SIGNET_ERR_NOMEM;
            goto out;
        }
    }
    err = parse_signet_members(jwk, out);
    if (err != SIGNET_OK)
        goto out;
    err = sg_jwk_thumbprint(jwk, out->thumbprint);
    if (err != SIGNET_OK)
        goto out;
    out->ctx_pool = malloc(sizeof *out->ctx_pool);
    if (out->ctx_pool == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < SG_CTX_POOL_SLOTS; i++)
        atomic_init(&out->ctx_pool->slot[i], NULL);
out:
    if (err != SIGNET_OK) {
        sg_jwk_key_clear(out);
        ERR_clear_error();
    }
    return err;
}

struct sg_keyset *sg_keyset_ref(struct sg_keyset *set)
{
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    return set;
}

void sg_keyset_unref(struct sg_keyset *set)
{
    if (set == NULL || atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < set->n; i++)
        sg_jwk_key_clear(&set->keys[i]);
    free(set->keys);
    free(set);
}

const struct sg_key *sg_keyset_find(const struct sg_keyset *set, const char *kid)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->keys[i].kid != NULL && strcmp(set->keys[i].kid, kid) == 0)
            return &set->keys[i];
    return NULL;
}

/* Two entries with the same kid make lookups ambiguous: refuse the set. */
static int duplicate_kids(const json_t *keys)
{
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const char *a = str_member(json_array_get(keys, i), "kid");
        for (size_t j = 0; a != NULL && j < i; j++) {
            const char *b = str_member(json_array_get(keys, j), "kid");
            if (b != NULL && strcmp(a, b) == 0)
                return 1;
        }
    }
    return 0;
}

signet_err sg_jwks_parse(const uint8_t *data, size_t len, size_t max_len, struct sg_keyset **out)
{
    *out = NULL;
    json_t *doc = NULL;
    struct sg_keyset *set = NULL;
    signet_err err = sg_json_parse(data, len, max_len, &doc);
    if (err != SIGNET_OK)
        goto out;
    const json_t *keys = json_object_get(doc, "keys");
    if (!json_is_object(doc) || !json_is_array(keys) ||
        json_array_size(keys) > SG_JWKS_MAX_KEYS || duplicate_kids(keys)) {
        err = SIGNET_ERR_BAD_JWKS;
        goto out;
    }
    set = calloc(1, sizeof *set);
    if (set == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    atomic_init(&set->refs, 1);
    size_t n = json_array_size(keys);
    set->keys = calloc(n == 0 ? 1 : n, sizeof *set->keys);
    if (set->keys == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        signet_err kerr = sg_jwk_parse(json_array_get(keys, i), &set->keys[set->n]);
        if (kerr == SIGNET_ERR_NOMEM) {
            err = kerr;
            goto out;
        }
        if (kerr != SIGNET_OK)
            set->skipped++;
        else
            set->n++;
    }
    *out = set;
    set = NULL;
out:
    sg_keyset_unref(set);
    json_decref(doc);
    return err;
}
