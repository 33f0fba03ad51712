/* Approvals on a device (issue 14): the server's check of the
 * `Signet-Device` proof that signet-authenticator puts on every request
 * (docs/authenticator.md), and the comparison of the number the person
 * typed. A proof is a compact JWS, ES256 only:
 *
 *   header  {"typ":"signet-device+jwt","alg":"ES256","jwk":{kty,crv,x,y}}  (register)
 *           {"typ":"signet-device+jwt","alg":"ES256","kid":"<device id>"}  (afterwards)
 *   claims  {"htm","htu","iat","jti","bh"}
 *
 * where the device id is the RFC 7638 SHA-256 thumbprint of the device's
 * public JWK and bh the base64url SHA-256 of the request body. Pure
 * functions: no store, no clock, no I/O. The replay cache is the caller's:
 * a proof that passes here is accepted only if (device id, jti) was not
 * seen within the window (iat ± skew), and the caller then records it. */
#ifndef SD_DEVICE_H
#define SD_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"
#include "util/thumbprint.h"

#define SD_DEVICE_TYP "signet-device+jwt"
#define SD_DEVICE_HEADER "Signet-Device" /* the HTTP request header */
#define SD_DEVICE_PROOF_MAX 8192u        /* whole compact JWS, bytes */
#define SD_DEVICE_JWK_MAX 1024u          /* a registered JWK's JSON text, bytes */
#define SD_DEVICE_URL_MAX 2048u          /* htu and the expected URL, bytes */
#define SD_DEVICE_JTI_MIN 22u            /* base64url of 16 bytes */
#define SD_DEVICE_JTI_MAX 86u            /* base64url of 64 bytes */
#define SD_DEVICE_SKEW 60                /* seconds either side of now */
#define SD_DEVICE_ID_LEN SG_THUMBPRINT_LEN
/* {"crv":"P-256","kty":"EC","x":"<43>","y":"<43>"}: 124 bytes */
#define SD_DEVICE_JWK_TEXT_MAX 160u

/* What the server expects of the proof on one request. */
struct sd_device_expect {
    const char *htm;      /* the request method, compared exactly ("GET", "POST") */
    const char *htu;      /* the server's own URL for the request, from its configured
                             issuer (never Host); compared with the claim after RFC 3986
                             normalisation (sg_dpop_htu_normalise); no query */
    const uint8_t *body;  /* the request body as received (NULL with body_len 0: none) */
    size_t body_len;
    int64_t now;
    int64_t skew;         /* |iat - now| <= skew; 0 means SD_DEVICE_SKEW; at most a day */
    int registering;      /* 1: POST .../approver/register: the key comes from the
                             header's jwk (kid refused); 0: from device_jwk (jwk refused) */
    const char *device_jwk; /* !registering: the device's public JWK as registered
                               (sd_device_proof.jwk of its registration), JSON text */
    size_t device_jwk_len;
};

/* What a valid proof says. */
struct sd_device_proof {
    char device_id[SD_DEVICE_ID_LEN + 1]; /* RFC 7638 thumbprint, base64url */
    char jti[SD_DEVICE_JTI_MAX + 1];
    int64_t iat;
    /* registering: the public JWK to store, canonical (RFC 7638 member
     * order, kty/crv/x/y only); empty otherwise */
    char jwk[SD_DEVICE_JWK_TEXT_MAX];
};

/* Checks a proof: size (<= SD_DEVICE_PROOF_MAX, no NUL), compact JWS;
 * header members exactly typ, alg and jwk (registering) or kid (not), typ
 * exactly signet-device+jwt, alg exactly ES256 (so no none, HS*, RS*), no
 * crit; the jwk P-256 with exactly kty, crv, x, y (no d), or the kid equal
 * to the thumbprint of device_jwk; the ES256 signature by that key; claims
 * exactly htm, htu, iat, jti, bh with htm == e->htm, htu (no query or
 * fragment) == e->htu, iat an integer within now ± skew, jti 22..86
 * base64url characters (16..64 bytes), bh == base64url(SHA-256(body)).
 * SIGNET_OK fills out. A refusal returns the failed check's error
 * (SIGNET_ERR_TOO_LARGE, _MALFORMED, _NOT_COMPACT_JWS, _BAD_BASE64,
 * _BAD_JSON, _DUPLICATE_MEMBER, _BAD_TYP, _ALG_NOT_ALLOWED,
 * _FORBIDDEN_HEADER, _UNKNOWN_CRIT, _UNSUPPORTED, _UNKNOWN_KID,
 * _BAD_SIGNATURE, _MISSING_CLAIM, _BAD_CLAIM, _EXPIRED, _IAT_IN_FUTURE) and
 * names it in *why (a static sentence quoting nothing of the input); all
 * of them mean 401. SIGNET_ERR_INVALID_ARG (the caller's expectations, or
 * a stored device_jwk that is not a P-256 public JWK) and SIGNET_ERR_NOMEM
 * are the server's own failures (500). out is always initialised. */
SIGNET_WUR signet_err sd_device_proof_verify(const char *jws, size_t len,
                                             const struct sd_device_expect *e,
                                             struct sd_device_proof *out, const char **why);

/* The kid of a proof's header, NOT verified: only to look the device up
 * before sd_device_proof_verify (which checks it against the stored key).
 * kid gets SD_DEVICE_ID_LEN characters and a NUL (cap at least
 * SD_DEVICE_ID_LEN + 1, else SIGNET_ERR_INVALID_ARG). SIGNET_ERR_MALFORMED
 * (or the parse error) when the proof has no kid of SD_DEVICE_ID_LEN
 * base64url characters. */
SIGNET_WUR signet_err sd_device_proof_kid(const char *jws, size_t len, char *kid, size_t cap);

/* An approver's answer, POST /approver/answer's body (the bytes the
 * Signet-Device proof's bh covers): a JSON object of at most 1 KiB with
 * exactly "id" (1..SD_ANSWER_ID_MAX-1 base64url characters), "decision"
 * ("approve", "deny" or "not_me") and "number" (two ASCII digits for
 * approve, "" otherwise). 0 with *out filled, or -1 with *out zeroed and
 * *why saying what is wrong. */
#define SD_ANSWER_ID_MAX 48
enum sd_answer_decision { SD_ANSWER_APPROVE = 1, SD_ANSWER_DENY = 2, SD_ANSWER_NOT_ME = 3 };
struct sd_approval_answer {
    char id[SD_ANSWER_ID_MAX];
    char number[3];
    enum sd_answer_decision decision;
};
int sd_approval_answer_parse(const uint8_t *body, size_t len, struct sd_approval_answer *out,
                             const char **why);

/* 1 when typed and expected are both exactly two ASCII digits and equal
 * (compared in constant time); 0 otherwise, NULL included. */
int sd_device_number_ok(const char *typed, const char *expected);

#endif
