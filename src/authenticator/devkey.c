/* The device key and its proofs. See devkey.h. */
#include "authenticator/devkey.h"

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64url.h"
#include "util/secret.h"
#include "util/sha256.h"

#define P256_LEN 32

signet_err sa_key_generate(EVP_PKEY **out)
{
    *out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return *out != NULL ? SIGNET_OK : SIGNET_ERR_CRYPTO;
}

signet_err sa_key_save(EVP_PKEY *key, const char *path)
{
    /* BIO_s_secmem: the PEM text is wiped when the BIO is freed. */
    BIO *bio = BIO_new(BIO_s_secmem());
    signet_err err = SIGNET_ERR_CRYPTO;
    if (bio == NULL)
        return SIGNET_ERR_NOMEM;
    if (PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) != 1)
        goto out;
    char *pem = NULL;
    long n = BIO_get_mem_data(bio, &pem);
    if (n <= 0 || pem == NULL)
        goto out;
    err = sg_secret_write_file(path, (const uint8_t *)pem, (size_t)n);
out:
    BIO_free(bio);
    return err;
}

static int is_p256(EVP_PKEY *key)
{
    char group[32];
    size_t len = 0;
    return EVP_PKEY_is_a(key, "EC") &&
           EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                          &len) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

signet_err sa_key_load(const char *path, EVP_PKEY **out)
{
    *out = NULL;
    struct sg_secret *pem = NULL;
    signet_err err = sg_secret_read_file(path, SA_KEY_FILE_MAX, &pem);
    if (err != SIGNET_OK)
        return err;
    BIO *bio = BIO_new_mem_buf(pem->data, (int)pem->len);
    if (bio == NULL) {
        err = SIGNET_ERR_NOMEM;
        goto out;
    }
    /* No passphrase callback: an encrypted key is refused, never prompted for. */
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    if (key == NULL) {
        err = SIGNET_ERR_UNSUPPORTED;
        goto out;
    }
    if (!is_p256(key)) {
        EVP_PKEY_free(key);
        err = SIGNET_ERR_UNSUPPORTED;
        goto out;
    }
    *out = key;
out:
    BIO_free(bio);
    sg_secret_free(&pem);
    return err;
}

static signet_err coord_b64(EVP_PKEY *key, const char *param, char *out, size_t cap)
{
    BIGNUM *bn = NULL;
    uint8_t raw[P256_LEN];
    if (EVP_PKEY_get_bn_param(key, param, &bn) != 1)
        return SIGNET_ERR_CRYPTO;
    int n = BN_bn2binpad(bn, raw, sizeof raw);
    BN_free(bn);
    if (n != P256_LEN)
        return SIGNET_ERR_CRYPTO;
    return sg_b64url_encode(raw, sizeof raw, out, cap);
}

/* The public point's coordinates, base64url of 32 bytes each. */
static signet_err coords(EVP_PKEY *key, char x[static 64], char y[static 64])
{
    if (!is_p256(key))
        return SIGNET_ERR_UNSUPPORTED;
    signet_err err = coord_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, x, 64);
    return err != SIGNET_OK ? err : coord_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, y, 64);
}

signet_err sa_key_jwk(EVP_PKEY *key, char text[static SA_JWK_TEXT_MAX],
                      char id[static SG_THUMBPRINT_LEN + 1])
{
    char x[64], y[64];
    text[0] = id[0] = '\0';
    signet_err err = coords(key, x, y);
    if (err != SIGNET_OK)
        return err;
    /* RFC 7638 §3.3: the required members in lexicographic order, no
     * whitespace; this text is also what the thumbprint hashes. */
    int n = snprintf(text, SA_JWK_TEXT_MAX,
                     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (n < 0 || (size_t)n >= SA_JWK_TEXT_MAX)
        return SIGNET_ERR_TOO_LARGE;
    uint8_t digest[32];
    sg_sha256(text, (size_t)n, digest);
    return sg_b64url_encode(digest, sizeof digest, id, SG_THUMBPRINT_LEN + 1);
}

/* ECDSA over SHA-256, the DER signature turned into JOSE's r || s
 * (RFC 7518 §3.4), 64 bytes. */
static signet_err es256_sign(EVP_PKEY *key, const char *msg, size_t len, uint8_t sig[64])
{
    signet_err err = SIGNET_ERR_CRYPTO;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *es = NULL;
    uint8_t der[80];
    size_t der_len = sizeof der;
    if (ctx == NULL)
        return SIGNET_ERR_NOMEM;
    if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) != 1 ||
        EVP_DigestSign(ctx, der, &der_len, (const unsigned char *)msg, len) != 1)
        goto out;
    const unsigned char *p = der;
    es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (es == NULL || p != der + der_len)
        goto out;
    if (BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
        goto out;
    err = SIGNET_OK;
out:
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    return err;
}

/* b64url(text) appended to out at *n (cap bytes). */
static signet_err append_b64(const char *text, size_t len, char *out, size_t cap, size_t *n)
{
    size_t need = sg_b64url_encoded_len(len);
    if (need + 1 > cap - *n)
        return SIGNET_ERR_TOO_LARGE;
    signet_err err = sg_b64url_encode((const uint8_t *)text, len, out + *n, cap - *n);
    if (err == SIGNET_OK)
        *n += need;
    return err;
}

signet_err sa_proof_make(EVP_PKEY *key, const char *device_id, const char *htm,
                         const char *htu, const uint8_t *body, size_t body_len, int64_t iat,
                         char **out)
{
    *out = NULL;
    signet_err err = SIGNET_ERR_NOMEM;
    char *header = NULL, *claims = NULL, *jws = NULL;
    json_t *h = NULL, *c = NULL;
    uint8_t rnd[16], digest[32], sig[64];
    char jti[32], bh[SG_THUMBPRINT_LEN + 1];

    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return SIGNET_ERR_CRYPTO;
    if (sg_b64url_encode(rnd, sizeof rnd, jti, sizeof jti) != SIGNET_OK)
        return SIGNET_ERR_INTERNAL;
    sg_sha256(body != NULL ? body : (const uint8_t *)"", body_len, digest);
    if (sg_b64url_encode(digest, sizeof digest, bh, sizeof bh) != SIGNET_OK)
        return SIGNET_ERR_INTERNAL;

    if (device_id == NULL) {
        char x[64], y[64];
        err = coords(key, x, y);
        if (err != SIGNET_OK)
            goto out;
        /* kty, crv, x, y only: the protocol's registration header */
        h = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}}", "typ", "signet-device+jwt", "alg",
                      "ES256", "jwk", "kty", "EC", "crv", "P-256", "x", x, "y", y);
    } else {
        h = json_pack("{s:s, s:s, s:s}", "typ", "signet-device+jwt", "alg", "ES256", "kid",
                      device_id);
    }
    c = json_pack("{s:s, s:s, s:I, s:s, s:s}", "htm", htm, "htu", htu, "iat", (json_int_t)iat,
                  "jti", jti, "bh", bh);
    err = SIGNET_ERR_NOMEM;
    if (h == NULL || c == NULL)
        goto out;
    header = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    claims = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);
    jws = malloc(SA_PROOF_MAX);
    if (header == NULL || claims == NULL || jws == NULL)
        goto out;
    size_t n = 0;
    err = append_b64(header, strlen(header), jws, SA_PROOF_MAX, &n);
    if (err != SIGNET_OK)
        goto out;
    jws[n++] = '.';
    err = append_b64(claims, strlen(claims), jws, SA_PROOF_MAX, &n);
    if (err != SIGNET_OK)
        goto out;
    err = es256_sign(key, jws, n, sig);
    if (err != SIGNET_OK)
        goto out;
    jws[n++] = '.';
    err = append_b64((const char *)sig, sizeof sig, jws, SA_PROOF_MAX, &n);
    if (err != SIGNET_OK)
        goto out;
    *out = jws;
    jws = NULL;
out:
    free(jws);
    free(header);
    free(claims);
    json_decref(h);
    json_decref(c);
    return err;
}
