/* libFuzzer target: the Signet-Device proofs of signet-authenticator
 * (issue 14, src/signetd/device.c). The first byte picks what the rest is:
 *   0  "JWS\nJWK": arbitrary bytes as the proof and as the stored JWK
 *      (sd_device_proof_verify with registering off), the proof also as a
 *      registration and through sd_device_proof_kid;
 *   1  a proof checked against the fixed key below, both ways;
 *   2  "HEADER\nCLAIMS": two texts this harness signs with the fixed key
 *      (ES256, as the device would), so that the claims checks, which sit
 *      behind the signature, see fuzzed input too;
 * and the first bytes also go to sd_device_number_ok, the rest to
 * sd_approval_answer_parse (the signed answer's body: what it takes has
 * every field in its shape, what it refuses leaves nothing and says why). On success the
 * proof's device id, jti and iat must be what the rules allow; every
 * refusal names its check. Seeds in fuzz/corpus/fuzz_device_proof/
 * (fuzz/corpus/gen_device_proof.py, PyJWT). */
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signetd/device.h"
#include "util/b64url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000
#define ISSUER "https://id.example/t/default"
#define BODY "{\"id\":\"a1\",\"number\":\"42\",\"decision\":\"approve\"}"

/* A fixed P-256 key for fuzzing only (published here: it protects nothing). */
static const char fixed_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                                "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7dQIaK8wlV8H4CBU\n"
                                "CDxf0Bc/ZbuJOi+uBU2XqtiloUOhRANCAARwFtIBtKMBnZu2FIDaxC5Csshx1Wvt\n"
                                "Iftyzq0HzXIJMp4L9ch8tXfpKwLjPD7qs3eBPSJjNJryFOaW2UMAgO7X\n"
                                "-----END PRIVATE KEY-----\n";
/* its public JWK (canonical) */
static const char fixed_jwk[] =
    "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"cBbSAbSjAZ2bthSA2sQuQrLIcdVr7SH7cs6tB81yCTI\","
    "\"y\":\"ngv1yHy1d-krAuM8Puqzd4E9ImM0mvIU5pbZQwCA7tc\"}";

static EVP_PKEY *fixed_key(void)
{
    static EVP_PKEY *key;
    if (key == NULL) {
        BIO *b = BIO_new_mem_buf(fixed_pem, (int)sizeof fixed_pem - 1);
        key = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (key == NULL)
            abort();
    }
    return key;
}

static void check_one(const char *jws, size_t len, int registering, const char *jwk,
                      size_t jwk_len)
{
    struct sd_device_expect e = {
        .htm = "POST",
        .htu = registering ? ISSUER "/approver/register" : ISSUER "/approver/answer",
        .body = (const uint8_t *)BODY,
        .body_len = sizeof BODY - 1,
        .now = NOW,
        .skew = SD_DEVICE_SKEW,
        .registering = registering,
        .device_jwk = jwk,
        .device_jwk_len = jwk_len,
    };
    struct sd_device_proof out;
    const char *why = NULL;
    signet_err err = sd_device_proof_verify(jws, len, &e, &out, &why);
    if (why == NULL)
        abort();
    if (err != SIGNET_OK) {
        if (why[0] == '\0' || out.device_id[0] != '\0' || out.jti[0] != '\0')
            abort();
        return;
    }
    size_t jl = strnlen(out.jti, sizeof out.jti);
    if (strnlen(out.device_id, sizeof out.device_id) != SD_DEVICE_ID_LEN ||
        jl < SD_DEVICE_JTI_MIN || jl > SD_DEVICE_JTI_MAX || out.iat < NOW - SD_DEVICE_SKEW ||
        out.iat > NOW + SD_DEVICE_SKEW)
        abort();
    if (registering != (out.jwk[0] != '\0'))
        abort();
    if (registering && strncmp(out.jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31) != 0)
        abort();
}

/* header "." claims "." ES256 signature by the fixed key, into out. */
static size_t sign(const uint8_t *h, size_t hl, const uint8_t *c, size_t cl, char *out,
                   size_t cap)
{
    size_t need = sg_b64url_encoded_len(hl) + sg_b64url_encoded_len(cl) + 2 + 86 + 1;
    if (need > cap || sg_b64url_encode(h, hl, out, cap) != SIGNET_OK)
        return 0;
    size_t n = strlen(out);
    out[n++] = '.';
    if (sg_b64url_encode(c, cl, out + n, cap - n) != SIGNET_OK)
        return 0;
    n += strlen(out + n);
    uint8_t der[80], sig[64];
    size_t dl = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, fixed_key()) != 1 ||
        EVP_DigestSign(ctx, der, &dl, (const uint8_t *)out, n) != 1)
        abort();
    EVP_MD_CTX_free(ctx);
    const uint8_t *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
    if (es == NULL || BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
        abort();
    ECDSA_SIG_free(es);
    out[n++] = '.';
    if (sg_b64url_encode(sig, sizeof sig, out + n, cap - n) != SIGNET_OK)
        return 0;
    return n + strlen(out + n);
}

static void check_answer(const uint8_t *body, size_t len)
{
    struct sd_approval_answer a;
    const char *why = NULL;
    if (sd_approval_answer_parse(body, len, &a, &why) != 0) {
        static const struct sd_approval_answer zero;
        if (why == NULL || memcmp(&a, &zero, sizeof a) != 0)
            abort();
        return;
    }
    size_t id_len = strnlen(a.id, sizeof a.id);
    if (why != NULL || id_len == 0 || id_len == sizeof a.id ||
        strspn(a.id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != id_len)
        abort();
    if (a.decision == SD_ANSWER_APPROVE) {
        if (!sd_device_number_ok(a.number, a.number))
            abort();
    } else if ((a.decision != SD_ANSWER_DENY && a.decision != SD_ANSWER_NOT_ME) ||
               a.number[0] != '\0') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2) {
        char a[3] = {(char)data[0], (char)data[1], '\0'};
        if (sd_device_number_ok(a, "42") && (a[0] != '4' || a[1] != '2'))
            abort();
    }
    if (size == 0)
        return 0;
    unsigned mode = data[0] % 3;
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(rest, '\n', n);
    size_t first = nl != NULL ? (size_t)(nl - rest) : n;
    const char *second = nl != NULL ? nl + 1 : rest + n;
    size_t second_len = n - first - (nl != NULL ? 1 : 0);
    check_answer((const uint8_t *)rest, n);
    if (mode == 0) {
        check_one(rest, first, 0, second, second_len);
        check_one(rest, first, 1, NULL, 0);
        char kid[SD_DEVICE_ID_LEN + 1];
        if (sd_device_proof_kid(rest, first, kid, sizeof kid) == SIGNET_OK &&
            strlen(kid) != SD_DEVICE_ID_LEN)
            abort();
    } else if (mode == 1) {
        check_one(rest, n, 0, fixed_jwk, sizeof fixed_jwk - 1);
        check_one(rest, n, 1, NULL, 0);
    } else if (first <= 4096 && second_len <= 4096) {
        static char jws[SD_DEVICE_PROOF_MAX * 2];
        size_t len = sign((const uint8_t *)rest, first, (const uint8_t *)second, second_len, jws,
                          sizeof jws);
        if (len > 0) {
            check_one(jws, len, 0, fixed_jwk, sizeof fixed_jwk - 1);
            check_one(jws, len, 1, NULL, 0);
        }
    }
    return 0;
}
