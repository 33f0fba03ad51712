/* The `Signet-Device` proof of signet-authenticator's requests, checked
 * with libsignet's JOSE code (sg_jws_parse, sg_jwk_parse and its RFC 7638
 * thumbprint, sg_sig_verify, sg_dpop_htu_normalise), and the typed number.
 * See device.h and docs/authenticator.md. */
#include "signetd/device.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "dpop.h"
#include "json.h"
#include "jwk.h"
#include "jws.h"
#include "util/b64url.h"
#include "util/sha256.h"

#define FAIL(code, msg)                                                                       \
    do {                                                                                      \
        err = (code);                                                                         \
        *why = (msg);                                                                         \
        goto out;                                                                             \
    } while (0)

/* 1 when object o has no member but the n names given. */
static int only_members(const json_t *o, const char *const *names, size_t n)
{
    const char *key = NULL;
    const json_t *v = NULL;
    json_object_foreach((json_t *)o, key, v) {
        size_t i = 0;
        while (i < n && strcmp(key, names[i]) != 0)
            i++;
        if (i == n)
            return 0;
    }
    return 1;
}

/* A JSON string without an embedded NUL, its value in *s and length in *n. */
static int plain_string(const json_t *v, const char **s, size_t *n)
{
    if (!json_is_string(v))
        return 0;
    *s = json_string_value(v);
    *n = json_string_length(v);
    return strlen(*s) == *n;
}

static int b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

/* The shape of a device key: an object of exactly kty "EC", crv "P-256",
 * x and y (strings), nothing else (no d, no kid, no alg). 0 when it holds,
 * else a sentence. Parsing it (point on the curve) is sg_jwk_parse's. */
static const char *device_jwk_shape(const json_t *jwk)
{
    static const char *const members[] = {"kty", "crv", "x", "y"};
    if (!json_is_object(jwk))
        return "jwk is not a JSON object";
    if (json_object_get(jwk, "d") != NULL)
        return "jwk contains a private key (d)";
    if (!only_members(jwk, members, sizeof members / sizeof members[0]))
        return "jwk has members other than kty, crv, x and y";
    const json_t *kty = json_object_get(jwk, "kty");
    const json_t *crv = json_object_get(jwk, "crv");
    if (!json_is_string(kty) || strcmp(json_string_value(kty), "EC") != 0 ||
        json_string_length(kty) != 2)
        return "jwk kty must be EC";
    if (!json_is_string(crv) || strcmp(json_string_value(crv), "P-256") != 0 ||
        json_string_length(crv) != 5)
        return "jwk crv must be P-256";
    if (!json_is_string(json_object_get(jwk, "x")) || !json_is_string(json_object_get(jwk, "y")))
        return "jwk x and y must be strings";
    return NULL;
}

/* Parses a device key of the right shape into key (an ES256 key with its
 * thumbprint), and its canonical text into text (may be NULL). */
static signet_err device_key(const json_t *jwk, struct sg_key *key, char *text, size_t cap)
{
    signet_err err = sg_jwk_parse(jwk, key);
    if (err != SIGNET_OK)
        return err == SIGNET_ERR_NOMEM ? err : SIGNET_ERR_UNSUPPORTED;
    if ((key->algs & SG_ALG_BIT(SG_ALG_ES256)) == 0)
        return SIGNET_ERR_UNSUPPORTED;
    if (text != NULL) {
        /* RFC 7638 §3.3 order; x and y are strict base64url of 32 bytes. */
        int n = snprintf(text, cap, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                         json_string_value(json_object_get(jwk, "x")),
                         json_string_value(json_object_get(jwk, "y")));
        if (n < 0 || (size_t)n >= cap)
            return SIGNET_ERR_UNSUPPORTED;
    }
    return SIGNET_OK;
}

/* typ, alg, crit and the header's members; *jwk or *kid set (borrowed). */
static signet_err check_header(const json_t *h, int registering, const json_t **jwk,
                               const char **kid, const char **why)
{
    static const char *const reg_members[] = {"typ", "alg", "jwk"};
    static const char *const kid_members[] = {"typ", "alg", "kid"};
    signet_err err = SIGNET_OK;
    const char *s = NULL;
    size_t n = 0;
    const json_t *typ = json_object_get(h, "typ");
    if (typ == NULL)
        FAIL(SIGNET_ERR_BAD_TYP, "typ header is missing");
    if (!plain_string(typ, &s, &n) || strcmp(s, SD_DEVICE_TYP) != 0)
        FAIL(SIGNET_ERR_BAD_TYP, "typ must be signet-device+jwt");
    const json_t *alg = json_object_get(h, "alg");
    if (alg == NULL)
        FAIL(SIGNET_ERR_ALG_NOT_ALLOWED, "alg header is missing");
    if (!plain_string(alg, &s, &n) || strcmp(s, "ES256") != 0)
        FAIL(SIGNET_ERR_ALG_NOT_ALLOWED, "alg must be ES256");
    if (json_object_get(h, "crit") != NULL)
        FAIL(SIGNET_ERR_UNKNOWN_CRIT, "crit header is not supported");
    if (registering) {
        if (json_object_get(h, "kid") != NULL)
            FAIL(SIGNET_ERR_FORBIDDEN_HEADER, "a registration proof carries jwk, not kid");
        if (!only_members(h, reg_members, sizeof reg_members / sizeof reg_members[0]))
            FAIL(SIGNET_ERR_FORBIDDEN_HEADER, "header has members other than typ, alg and jwk");
        *jwk = json_object_get(h, "jwk");
        if (*jwk == NULL)
            FAIL(SIGNET_ERR_FORBIDDEN_HEADER, "jwk header is missing (registration)");
    } else {
        if (json_object_get(h, "jwk") != NULL)
            FAIL(SIGNET_ERR_FORBIDDEN_HEADER, "a registered device's proof carries kid, not jwk");
        if (!only_members(h, kid_members, sizeof kid_members / sizeof kid_members[0]))
            FAIL(SIGNET_ERR_FORBIDDEN_HEADER, "header has members other than typ, alg and kid");
        const json_t *k = json_object_get(h, "kid");
        if (k == NULL)
            FAIL(SIGNET_ERR_UNKNOWN_KID, "kid header is missing");
        if (!plain_string(k, kid, &n) || n != SD_DEVICE_ID_LEN || !b64url_chars(*kid, n))
            FAIL(SIGNET_ERR_UNKNOWN_KID, "kid is not a device id (a JWK SHA-256 thumbprint)");
    }
out:
    return err;
}

static signet_err check_claims(const json_t *c, const struct sd_device_expect *e,
                               const char *want_url, struct sd_device_proof *out,
                               const char **why)
{
    static const char *const members[] = {"htm", "htu", "iat", "jti", "bh"};
    signet_err err = SIGNET_OK;
    const char *s = NULL;
    size_t n = 0;
    if (!only_members(c, members, sizeof members / sizeof members[0]))
        FAIL(SIGNET_ERR_BAD_CLAIM, "claims other than htm, htu, iat, jti and bh");
    /* jti */
    const json_t *jti = json_object_get(c, "jti");
    if (jti == NULL)
        FAIL(SIGNET_ERR_MISSING_CLAIM, "jti claim is missing");
    uint8_t raw[SD_DEVICE_JTI_MAX];
    size_t raw_len = 0;
    if (!plain_string(jti, &s, &n) || n < SD_DEVICE_JTI_MIN || n > SD_DEVICE_JTI_MAX ||
        sg_b64url_decode(s, n, raw, sizeof raw, &raw_len) != SIGNET_OK || raw_len < 16)
        FAIL(SIGNET_ERR_BAD_CLAIM, "jti must be base64url of 16 to 64 bytes");
    memcpy(out->jti, s, n + 1);
    /* htm */
    const json_t *htm = json_object_get(c, "htm");
    if (htm == NULL)
        FAIL(SIGNET_ERR_MISSING_CLAIM, "htm claim is missing");
    if (!plain_string(htm, &s, &n) || strcmp(s, e->htm) != 0)
        FAIL(SIGNET_ERR_BAD_CLAIM, "htm does not match the request method");
    /* htu */
    const json_t *htu = json_object_get(c, "htu");
    if (htu == NULL)
        FAIL(SIGNET_ERR_MISSING_CLAIM, "htu claim is missing");
    if (!plain_string(htu, &s, &n) || n > SD_DEVICE_URL_MAX)
        FAIL(SIGNET_ERR_BAD_CLAIM, "htu is not a string of at most 2048 bytes");
    if (memchr(s, '?', n) != NULL || memchr(s, '#', n) != NULL)
        FAIL(SIGNET_ERR_BAD_CLAIM, "htu must not have a query or a fragment");
    char got_url[SD_DEVICE_URL_MAX + 1];
    if (sg_dpop_htu_normalise(s, got_url, sizeof got_url) != SIGNET_OK)
        FAIL(SIGNET_ERR_BAD_CLAIM, "htu is not a valid http(s) URL");
    if (strcmp(got_url, want_url) != 0)
        FAIL(SIGNET_ERR_BAD_CLAIM, "htu does not match the request URL");
    /* iat: an integer within now +- skew */
    const json_t *iat = json_object_get(c, "iat");
    if (iat == NULL)
        FAIL(SIGNET_ERR_MISSING_CLAIM, "iat claim is missing");
    if (!json_is_integer(iat))
        FAIL(SIGNET_ERR_BAD_CLAIM, "iat is not an integer");
    int64_t skew = e->skew > 0 ? e->skew : SD_DEVICE_SKEW;
    json_int_t t = json_integer_value(iat);
    if (t < e->now - skew)
        FAIL(SIGNET_ERR_EXPIRED, "iat is too old (more than 60 s before now)");
    if (t > e->now + skew)
        FAIL(SIGNET_ERR_IAT_IN_FUTURE, "iat is in the future (more than 60 s after now)");
    out->iat = (int64_t)t;
    /* bh = base64url(SHA-256(body)) */
    const json_t *bh = json_object_get(c, "bh");
    if (bh == NULL)
        FAIL(SIGNET_ERR_MISSING_CLAIM, "bh claim is missing");
    uint8_t digest[32];
    char want[SG_THUMBPRINT_LEN + 1];
    sg_sha256(e->body != NULL ? e->body : (const uint8_t *)"", e->body_len, digest);
    err = sg_b64url_encode(digest, sizeof digest, want, sizeof want);
    if (err != SIGNET_OK)
        goto out;
    if (!plain_string(bh, &s, &n) || n != SG_THUMBPRINT_LEN ||
        CRYPTO_memcmp(s, want, SG_THUMBPRINT_LEN) != 0)
        FAIL(SIGNET_ERR_BAD_CLAIM, "bh does not match the request body");
out:
    return err;
}

/* The caller's expectations, the expected URL normalised into want_url. */
static int expect_ok(const struct sd_device_expect *e, char *want_url, size_t cap)
{
    if (e == NULL || e->htm == NULL || e->htu == NULL || e->skew < 0 || e->skew > 86400 ||
        e->now < 0 || e->now > (INT64_C(1) << 53) ||
        (e->body == NULL && e->body_len != 0))
        return 0;
    if (!e->registering && (e->device_jwk == NULL || e->device_jwk_len == 0 ||
                            e->device_jwk_len > SD_DEVICE_JWK_MAX))
        return 0;
    return sg_dpop_htu_normalise(e->htu, want_url, cap) == SIGNET_OK;
}

signet_err sd_device_proof_verify(const char *jws, size_t len, const struct sd_device_expect *e,
                                  struct sd_device_proof *out, const char **why)
{
    const char *ignored = NULL;
    if (why == NULL)
        why = &ignored;
    *why = "";
    if (out == NULL)
        return SIGNET_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    char want_url[SD_DEVICE_URL_MAX + 1];
    if (!expect_ok(e, want_url, sizeof want_url)) {
        *why = "the server's expectations are incomplete";
        return SIGNET_ERR_INVALID_ARG;
    }

    signet_err err = SIGNET_OK;
    struct sg_jws parsed;
    struct sg_key key;
    json_t *stored = NULL;
    json_t *claims = NULL;
    const json_t *jwk = NULL;
    const char *kid = NULL;
    memset(&parsed, 0, sizeof parsed);
    memset(&key, 0, sizeof key);

    if (jws == NULL || len == 0)
        FAIL(SIGNET_ERR_MALFORMED, "the device proof is empty");
    if (len > SD_DEVICE_PROOF_MAX)
        FAIL(SIGNET_ERR_TOO_LARGE, "the device proof is larger than 8192 bytes");
    if (memchr(jws, '\0', len) != NULL)
        FAIL(SIGNET_ERR_NOT_COMPACT_JWS, "the device proof is not a compact JWS");
    err = sg_jws_parse(jws, len, &parsed);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK)
        FAIL(err, err == SIGNET_ERR_DUPLICATE_MEMBER ? "the proof header has a duplicate member"
                  : err == SIGNET_ERR_BAD_BASE64     ? "the proof is not strict base64url"
                                                     : "the proof is not a compact JWS");
    err = check_header(parsed.header, e->registering, &jwk, &kid, why);
    if (err != SIGNET_OK)
        goto out;
    if (e->registering) {
        const char *shape = device_jwk_shape(jwk);
        if (shape != NULL)
            FAIL(SIGNET_ERR_UNSUPPORTED, shape);
        err = device_key(jwk, &key, out->jwk, sizeof out->jwk);
        if (err == SIGNET_ERR_NOMEM)
            goto out;
        if (err != SIGNET_OK)
            FAIL(SIGNET_ERR_UNSUPPORTED, "jwk is not a valid P-256 public key");
    } else {
        err = sg_json_parse_depth((const uint8_t *)e->device_jwk, e->device_jwk_len,
                                  SD_DEVICE_JWK_MAX, 1, &stored);
        if (err == SIGNET_ERR_NOMEM)
            goto out;
        if (err != SIGNET_OK || device_jwk_shape(stored) != NULL)
            FAIL(SIGNET_ERR_INVALID_ARG, "the stored device key is not a P-256 public JWK");
        err = device_key(stored, &key, NULL, 0);
        if (err == SIGNET_ERR_NOMEM)
            goto out;
        if (err != SIGNET_OK)
            FAIL(SIGNET_ERR_INVALID_ARG, "the stored device key is not a P-256 public JWK");
        if (strcmp(kid, key.thumbprint) != 0)
            FAIL(SIGNET_ERR_UNKNOWN_KID, "kid is not the registered device's");
    }
    err = sg_sig_verify(SG_ALG_ES256, key.pkey, (const uint8_t *)parsed.signing_input,
                        parsed.signing_input_len, parsed.sig, parsed.sig_len);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK)
        FAIL(SIGNET_ERR_BAD_SIGNATURE, "the proof's signature does not verify with the device key");
    err = sg_json_parse_depth(parsed.payload, parsed.payload_len, SD_DEVICE_PROOF_MAX, 1, &claims);
    if (err == SIGNET_ERR_NOMEM)
        goto out;
    if (err != SIGNET_OK || !json_is_object(claims))
        FAIL(err == SIGNET_ERR_DUPLICATE_MEMBER ? err : SIGNET_ERR_BAD_JSON,
             "the proof's claims are not a flat JSON object without duplicates");
    err = check_claims(claims, e, want_url, out, why);
    if (err != SIGNET_OK)
        goto out;
    memcpy(out->device_id, key.thumbprint, sizeof out->device_id);
out:
    if (err != SIGNET_OK) {
        memset(out, 0, sizeof *out);
        if (err == SIGNET_ERR_NOMEM)
            *why = "out of memory";
    }
    json_decref(claims);
    json_decref(stored);
    sg_jwk_key_clear(&key);
    sg_jws_clear(&parsed);
    return err;
}

signet_err sd_device_proof_kid(const char *jws, size_t len, char *kid, size_t cap)
{
    if (kid == NULL || cap < SD_DEVICE_ID_LEN + 1)
        return SIGNET_ERR_INVALID_ARG;
    kid[0] = '\0';
    if (jws == NULL || len == 0 || len > SD_DEVICE_PROOF_MAX || memchr(jws, '\0', len) != NULL)
        return SIGNET_ERR_MALFORMED;
    struct sg_jws parsed;
    signet_err err = sg_jws_parse(jws, len, &parsed);
    if (err != SIGNET_OK)
        return err;
    const char *s = NULL;
    size_t n = 0;
    if (!plain_string(json_object_get(parsed.header, "kid"), &s, &n) || n != SD_DEVICE_ID_LEN ||
        !b64url_chars(s, n)) {
        err = SIGNET_ERR_MALFORMED;
    } else {
        memcpy(kid, s, n + 1);
    }
    sg_jws_clear(&parsed);
    return err;
}

int sd_device_number_ok(const char *typed, const char *expected)
{
    if (typed == NULL || expected == NULL)
        return 0;
    unsigned bad = 0;
    for (size_t i = 0; i < 2; i++) {
        unsigned t = (unsigned char)typed[i], x = (unsigned char)expected[i];
        /* a NUL ends a string early: then the digit check fails and the
         * loop stops reading that string */
        if (t < '0' || t > '9' || x < '0' || x > '9')
            return 0;
        bad |= t ^ x;
    }
    if (typed[2] != '\0' || expected[2] != '\0')
        return 0;
    return bad == 0;
}

/* o's string member name (no NUL inside, shorter than cap) copied to out. */
static int answer_str(const json_t *o, const char *name, char *out, size_t cap)
{
    const char *s;
    size_t n;
    if (!plain_string(json_object_get(o, name), &s, &n) || n >= cap)
        return -1;
    memcpy(out, s, n + 1);
    return 0;
}

int sd_approval_answer_parse(const uint8_t *body, size_t len, struct sd_approval_answer *out,
                             const char **why)
{
    memset(out, 0, sizeof *out);
    json_t *o = NULL;
    char decision[8];
    *why = "the body must be a JSON object {id, number, decision}";
    if (sg_json_parse(body, len, 1024, &o) != SIGNET_OK || !json_is_object(o) ||
        json_object_size(o) != 3)
        goto bad;
    *why = "id must be the request's id (base64url)";
    if (answer_str(o, "id", out->id, sizeof out->id) != 0 || out->id[0] == '\0' ||
        !b64url_chars(out->id, strlen(out->id)))
        goto bad;
    *why = "decision must be approve, deny or not_me";
    if (answer_str(o, "decision", decision, sizeof decision) != 0)
        goto bad;
    if (strcmp(decision, "approve") == 0)
        out->decision = SD_ANSWER_APPROVE;
    else if (strcmp(decision, "deny") == 0)
        out->decision = SD_ANSWER_DENY;
    else if (strcmp(decision, "not_me") == 0)
        out->decision = SD_ANSWER_NOT_ME;
    else
        goto bad;
    *why = "number must be the two digits shown on the sign-in page (\"\" to deny)";
    if (answer_str(o, "number", out->number, sizeof out->number) != 0)
        goto bad;
    if (out->decision == SD_ANSWER_APPROVE
            ? !sd_device_number_ok(out->number, out->number)
            : out->number[0] != '\0')
        goto bad;
    json_decref(o);
    *why = NULL;
    return 0;
bad:
    json_decref(o);
    memset(out, 0, sizeof *out);
    return -1;
}
