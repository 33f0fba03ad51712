/* private_key_jwt and DPoP load: precomputes token request bodies, each with
 * its own client assertion (RFC 7523, ES256, unique jti), or DPoP proofs
 * (RFC 9449, ES256, unique jti), before the run.
 *
 *   assertions keygen KEY.pem JWK.json
 *   assertions make KEY.pem CLIENT_ID AUDIENCE COUNT JTI_PREFIX OUT
 *   assertions dpop KEY.pem HTU NONCE COUNT JTI_PREFIX OUT
 *
 * keygen makes a P-256 key (the client's) and its public JWK for `signet
 * client add --jwk`. make writes COUNT lines, each a complete
 * application/x-www-form-urlencoded body: grant_type, client_assertion_type
 * and a client_assertion with iss = sub = CLIENT_ID, aud = AUDIENCE (the
 * issuer identifier, draft-ietf-oauth-rfc7523bis), iat = now, exp = now + 240 s,
 * jti = JTI_PREFIX-N.
 * dpop writes COUNT lines, each a DPoP header value: typ dpop+jwt, the
 * key's public JWK, htm POST, htu HTU, iat = now, jti = JTI_PREFIX-N and
 * nonce NONCE (the server's DPoP-Nonce; "-": none). */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void b64url(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16;
        if (i + 1 < n)
            v |= (unsigned)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

/* The P-256 public point, base64url x and y (32 bytes each). */
static int coords(EVP_PKEY *k, char bx64[64], char by64[64])
{
    unsigned char x[32] = {0}, y[32] = {0};
    BIGNUM *bx = NULL, *by = NULL;
    int ok = EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
             EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
             BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32;
    BN_free(bx);
    BN_free(by);
    b64url(x, 32, bx64);
    b64url(y, 32, by64);
    return ok;
}

static int keygen(const char *pem_path, const char *jwk_path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    if (k == NULL)
        return 1;
    char bx64[64], by64[64];
    int ok = coords(k, bx64, by64);
    FILE *f = ok ? fopen(pem_path, "we") : NULL;
    ok = f != NULL && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) == 1;
    if (f != NULL)
        fclose(f);
    f = ok ? fopen(jwk_path, "we") : NULL;
    ok = f != NULL &&
         fprintf(f, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"alg\":\"ES256\"}\n",
                 bx64, by64) > 0;
    if (f != NULL)
        fclose(f);
    EVP_PKEY_free(k);
    return ok ? 0 : 1;
}

/* ES256 over "header.payload": DER from OpenSSL, r||s for JOSE (RFC 7518 §3.4). */
static int sign_es256(EVP_MD_CTX *md, EVP_PKEY *k, const char *input, char *out64)
{
    unsigned char der[128];
    size_t dlen = sizeof der;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(md, der, &dlen, (const unsigned char *)input, strlen(input)) != 1)
        return -1;
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (sig == NULL)
        return -1;
    unsigned char rs[64];
    int ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, 32) == 32 &&
             BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    if (!ok)
        return -1;
    b64url(rs, sizeof rs, out64);
    return 0;
}

static int make(const char *pem_path, const char *client_id, const char *aud, long count,
                const char *prefix, const char *out_path)
{
    FILE *f = fopen(pem_path, "re");
    EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    FILE *out = k != NULL ? fopen(out_path, "we") : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (out == NULL || md == NULL) {
        EVP_PKEY_free(k);
        EVP_MD_CTX_free(md);
        return 1;
    }
    static const char header[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\"}";
    char h64[64];
    b64url((const unsigned char *)header, sizeof header - 1, h64);
    long long now = (long long)time(NULL);
    int rc = 0;
    for (long i = 0; i < count && rc == 0; i++) {
        char claims[1024], c64[1400], input[1500], sig64[100];
        int n = snprintf(claims, sizeof claims,
                         "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":\"%s\",\"iat\":%lld,"
                         "\"exp\":%lld,\"jti\":\"%s-%ld\"}",
                         client_id, client_id, aud, now, now + 240, prefix, i);
        if (n < 0 || (size_t)n >= sizeof claims) {
            rc = 1;
            break;
        }
        b64url((const unsigned char *)claims, (size_t)n, c64);
        n = snprintf(input, sizeof input, "%s.%s", h64, c64);
        if (n < 0 || (size_t)n >= sizeof input || sign_es256(md, k, input, sig64) != 0) {
            rc = 1;
            break;
        }
        if (fprintf(out,
                    "grant_type=client_credentials&client_assertion_type=urn%%3Aietf%%3Aparams"
                    "%%3Aoauth%%3Aclient-assertion-type%%3Ajwt-bearer&client_assertion=%s.%s\n",
                    input, sig64) < 0)
            rc = 1;
    }
    if (fclose(out) != 0)
        rc = 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

/* DPoP proofs, one per line (a fresh jti each, as a client makes them). */
static int dpop(const char *pem_path, const char *htu, const char *nonce, long count,
                const char *prefix, const char *out_path)
{
    FILE *f = fopen(pem_path, "re");
    EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f != NULL)
        fclose(f);
    char bx64[64], by64[64];
    FILE *out = k != NULL && coords(k, bx64, by64) ? fopen(out_path, "we") : NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (out == NULL || md == NULL) {
        if (out != NULL)
            fclose(out);
        EVP_PKEY_free(k);
        EVP_MD_CTX_free(md);
        return 1;
    }
    char header[400], h64[600];
    int n = snprintf(header, sizeof header,
                     "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\","
                     "\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}}",
                     bx64, by64);
    int rc = n < 0 || (size_t)n >= sizeof header;
    if (rc == 0)
        b64url((const unsigned char *)header, (size_t)n, h64);
    char nonce_member[200] = "";
    if (rc == 0 && strcmp(nonce, "-") != 0) {
        n = snprintf(nonce_member, sizeof nonce_member, ",\"nonce\":\"%s\"", nonce);
        rc = n < 0 || (size_t)n >= sizeof nonce_member;
    }
    long long now = (long long)time(NULL);
    for (long i = 0; i < count && rc == 0; i++) {
        char claims[1024], c64[1400], input[2100], sig64[100];
        n = snprintf(claims, sizeof claims,
                     "{\"jti\":\"%s-%ld\",\"htm\":\"POST\",\"htu\":\"%s\",\"iat\":%lld%s}",
                     prefix, i, htu, now, nonce_member);
        if (n < 0 || (size_t)n >= sizeof claims) {
            rc = 1;
            break;
        }
        b64url((const unsigned char *)claims, (size_t)n, c64);
        n = snprintf(input, sizeof input, "%s.%s", h64, c64);
        if (n < 0 || (size_t)n >= sizeof input || sign_es256(md, k, input, sig64) != 0) {
            rc = 1;
            break;
        }
        if (fprintf(out, "%s.%s\n", input, sig64) < 0)
            rc = 1;
    }
    if (fclose(out) != 0)
        rc = 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "keygen") == 0)
        return keygen(argv[2], argv[3]);
    if (argc == 8 && strcmp(argv[1], "make") == 0) {
        long count = strtol(argv[5], NULL, 10);
        if (count <= 0)
            return 2;
        return make(argv[2], argv[3], argv[4], count, argv[6], argv[7]);
    }
    if (argc == 8 && strcmp(argv[1], "dpop") == 0) {
        long count = strtol(argv[5], NULL, 10);
        if (count <= 0)
            return 2;
        return dpop(argv[2], argv[3], argv[4], count, argv[6], argv[7]);
    }
    fprintf(stderr, "usage: assertions keygen KEY.pem JWK.json\n"
                    "       assertions make KEY.pem CLIENT_ID AUDIENCE COUNT JTI_PREFIX OUT\n"
                    "       assertions dpop KEY.pem HTU NONCE COUNT JTI_PREFIX OUT\n");
    return 2;
}
