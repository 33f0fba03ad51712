#include "fixtures.h"

#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

const struct fx_alg fx_algs[FX_NALGS] = {
    {"ES256", "es256"},
    {"EdDSA", "eddsa"},
    {"PS256", "ps256"},
};

const struct fx_alg *fx_alg_find(const char *alg)
{
    for (size_t i = 0; i < FX_NALGS; i++)
        if (strcmp(fx_algs[i].alg, alg) == 0)
            return &fx_algs[i];
    bench_die("unknown alg %s", alg);
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64url(const uint8_t *in, size_t n)
{
    char *out = malloc(n / 3 * 4 + 5);
    if (out == NULL)
        bench_die("out of memory");
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i > 0) {
        uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        if (n - i == 2)
            out[o++] = b64_alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

size_t fx_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = memchr(b64_alphabet, in[i], 64);
        if (p == NULL || in[i] == '\0')
            bench_die("bad base64url in fixture");
        acc = acc << 6 | (uint32_t)(p - b64_alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                bench_die("base64url output too long");
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return o;
}

static char *xstrdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xstrdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        bench_die("format error");
    char *s = malloc((size_t)n + 1);
    if (s == NULL)
        bench_die("out of memory");
    va_start(ap, fmt);
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *fx_payload(int64_t now, const char *jti)
{
    /* RFC 9068 §2.2: iss, exp, aud, sub, client_id, iat, jti, plus the
     * usual optional auth_time, acr, scope and nbf. */
    return xstrdup_printf(
        "{\"iss\":\"%s\",\"sub\":\"user-8c1e6a0f-3d1b-4c6e-9f0a-5b7e2d4c8a91\","
        "\"aud\":\"%s\",\"exp\":%" PRId64 ",\"iat\":%" PRId64 ",\"nbf\":%" PRId64 ","
        "\"jti\":\"%s\",\"client_id\":\"s6BhdRkqt3-bench-client\","
        "\"scope\":\"openid profile email api:read api:write\","
        "\"auth_time\":%" PRId64 ",\"acr\":\"urn:mace:incommon:iap:silver\"}",
        FX_ISS, FX_AUD, now + 3600, now - 10, now - 10, jti, now - 300);
}

char *fx_kid(EVP_PKEY *key)
{
    uint8_t *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    uint8_t md[32];
    unsigned int mdlen = 0;
    if (n <= 0 || EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1)
        bench_die("kid: digest failed");
    OPENSSL_free(der);
    return b64url(md, mdlen);
}

char *fx_sign(EVP_PKEY *key, const char *alg, const char *kid, const char *payload)
{
    return fx_sign_typ(key, alg, "at+jwt", kid, payload);
}

char *fx_sign_typ(EVP_PKEY *key, const char *alg, const char *typ, const char *kid,
                  const char *payload)
{
    char *hjson =
        xstrdup_printf("{\"alg\":\"%s\",\"typ\":\"%s\",\"kid\":\"%s\"}", alg, typ, kid);
    char *token = fx_sign_header(key, alg, hjson, payload);
    free(hjson);
    return token;
}

char *fx_b64url(const uint8_t *in, size_t n)
{
    return b64url(in, n);
}

char *fx_sign_header(EVP_PKEY *key, const char *alg, const char *hjson, const char *payload)
{
    char *h = b64url((const uint8_t *)hjson, strlen(hjson));
    char *p = b64url((const uint8_t *)payload, strlen(payload));
    char *input = xstrdup_printf("%s.%s", h, p);
    const EVP_MD *md = strcmp(alg, "EdDSA") == 0 ? NULL : EVP_sha256();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t sig[1024];
    size_t siglen = sizeof sig;
    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, md, NULL, key) != 1)
        bench_die("sign init failed");
    if (strcmp(alg, "PS256") == 0 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1))
        bench_die("PSS setup failed");
    if (EVP_DigestSign(ctx, sig, &siglen, (const uint8_t *)input, strlen(input)) != 1)
        bench_die("sign failed");
    EVP_MD_CTX_free(ctx);
    uint8_t rs[64];
    const uint8_t *s = sig;
    size_t slen = siglen;
    if (strcmp(alg, "ES256") == 0) {
        /* DER ECDSA-Sig-Value to JOSE r||s (RFC 7518 §3.4). */
        const uint8_t *q = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
        if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), rs, 32) != 32 ||
            BN_bn2binpad(ECDSA_SIG_get0_s(es), rs + 32, 32) != 32)
            bench_die("ECDSA signature conversion failed");
        ECDSA_SIG_free(es);
        s = rs;
        slen = 64;
    }
    char *sb = b64url(s, slen);
    char *token = xstrdup_printf("%s.%s", input, sb);
    free(h);
    free(p);
    free(input);
    free(sb);
    return token;
}

size_t fx_es256_der(const uint8_t *rs, uint8_t *der, size_t cap)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(rs, 32, NULL), *s = BN_bin2bn(rs + 32, 32, NULL);
    if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
        bench_die("ECDSA_SIG failed");
    int n = i2d_ECDSA_SIG(es, NULL);
    if (n <= 0 || (size_t)n > cap)
        bench_die("DER too long");
    uint8_t *p = der;
    (void)i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    return (size_t)n;
}

static char *path_of(const char *dir, const char *stem, const char *suffix)
{
    return xstrdup_printf("%s/%s%s", dir, stem, suffix);
}

static void write_file(const char *path, const char *data)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL || fputs(data, f) == EOF || fclose(f) != 0)
        bench_die("%s: %s", path, strerror(errno));
}

EVP_PKEY *fx_load_private(const char *dir, const char *stem)
{
    char *path = path_of(dir, stem, ".key.pem");
    FILE *f = fopen(path, "rb");
    EVP_PKEY *k = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (k == NULL)
        bench_die("%s: cannot load", path);
    fclose(f);
    free(path);
    return k;
}

EVP_PKEY *fx_load_public(const char *dir, const char *stem)
{
    char *path = path_of(dir, stem, ".pub.pem");
    FILE *f = fopen(path, "rb");
    EVP_PKEY *k = f != NULL ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (k == NULL)
        bench_die("%s: cannot load", path);
    fclose(f);
    free(path);
    return k;
}

static char *bn_param_b64(EVP_PKEY *key, const char *name, size_t pad)
{
    BIGNUM *bn = NULL;
    uint8_t buf[1024];
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        bench_die("key parameter %s missing", name);
    int n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    if (n <= 0)
        bench_die("key parameter %s too long", name);
    return b64url(buf, (size_t)n);
}

/* The public JWK members after kty (no braces). */
static char *jwk_members(EVP_PKEY *key, const char *alg)
{
    if (strcmp(alg, "ES256") == 0) {
        char *x = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        char *y = bn_param_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
        char *m = xstrdup_printf("\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"", x, y);
        free(x);
        free(y);
        return m;
    }
    if (strcmp(alg, "EdDSA") == 0) {
        uint8_t raw[32];
        size_t n = sizeof raw;
        if (EVP_PKEY_get_raw_public_key(key, raw, &n) != 1)
            bench_die("Ed25519 public key");
        char *x = b64url(raw, n);
        char *m = xstrdup_printf("\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"%s\"", x);
        free(x);
        return m;
    }
    char *nn = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_N, 0);
    char *e = bn_param_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
    char *m = xstrdup_printf("\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"", nn, e);
    free(nn);
    free(e);
    return m;
}

static EVP_PKEY *generate(const char *alg)
{
    if (strcmp(alg, "ES256") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (strcmp(alg, "EdDSA") == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
}

void fx_write_all(const char *dir)
{
    int64_t now = (int64_t)time(NULL);
    char *jwks_entries[FX_NALGS];
    for (size_t i = 0; i < FX_NALGS; i++) {
        const struct fx_alg *a = &fx_algs[i];
        EVP_PKEY *key = generate(a->alg);
        if (key == NULL)
            bench_die("%s: key generation failed", a->alg);
        char *kid = fx_kid(key);
        char *payload = fx_payload(now, "rHtb5Q2xT0m8Yc4kLw9NfA");
        char *token = fx_sign(key, a->alg, kid, payload);
        char *path = path_of(dir, a->stem, ".token");
        write_file(path, token);
        free(path);
        /* libjwt 1.10 refuses any typ but "JWT": a twin for it. */
        char *twin = fx_sign_typ(key, a->alg, "JWT", kid, payload);
        path = path_of(dir, a->stem, ".typjwt.token");
        write_file(path, twin);
        free(path);
        free(twin);

        path = path_of(dir, a->stem, ".key.pem");
        FILE *f = fopen(path, "wb");
        if (f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1 ||
            fclose(f) != 0)
            bench_die("%s: cannot write", path);
        free(path);
        path = path_of(dir, a->stem, ".pub.pem");
        f = fopen(path, "wb");
        if (f == NULL || PEM_write_PUBKEY(f, key) != 1 || fclose(f) != 0)
            bench_die("%s: cannot write", path);
        free(path);

        char *members = jwk_members(key, a->alg);
        char *jwk = xstrdup_printf("{%s,\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\"}", members,
                                   kid, a->alg);
        path = path_of(dir, a->stem, ".jwk.json");
        write_file(path, jwk);
        free(path);
        /* signet's per-key members: the key signs for FX_ISS only and has
         * been active since yesterday. */
        jwks_entries[i] = xstrdup_printf(
            "{%s,\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\",\"iss\":\"%s\","
            "\"active_from\":%" PRId64 "}",
            members, kid, a->alg, FX_ISS, now - 86400);
        free(jwk);
        free(members);
        free(token);
        free(payload);
        free(kid);
        EVP_PKEY_free(key);
    }
    char *jwks = xstrdup_printf("{\"keys\":[%s,%s,%s]}\n", jwks_entries[0], jwks_entries[1],
                                jwks_entries[2]);
    char *path = path_of(dir, "jwks", ".json");
    write_file(path, jwks);
    free(path);
    free(jwks);
    for (size_t i = 0; i < FX_NALGS; i++)
        free(jwks_entries[i]);
    char *params = xstrdup_printf("{\"iss\":\"%s\",\"aud\":\"%s\"}\n", FX_ISS, FX_AUD);
    path = path_of(dir, "params", ".json");
    write_file(path, params);
    free(path);
    free(params);
}
