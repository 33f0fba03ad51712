/* libFuzzer target: the signer's own check of the claims it is asked to sign
 * (src/signer/policy.c).
 *
 * Input: an 11-byte header choosing the limits, then the claims.
 *   byte 0      issuer (low 2 bits); bit 7: a huge max lifetime
 *   bytes 1-2   skew (u16 BE, mod 601: the config allows at most 600 s)
 *   bytes 3-6   max lifetime (u32 BE)
 *   bytes 7-10  now = 1700000000 + (int32 BE)
 *
 * Properties checked on success (abort on violation), against an
 * independent parse of the claims with jansson:
 *   - an object without duplicate members, nesting depth <= 8;
 *   - iss is a string equal to the limits' issuer (same length, no NUL);
 *   - iat and exp are integers equal to what the policy reported,
 *     |iat - now| <= skew and 0 < exp - iat <= max lifetime;
 *   - nbf, when present, is an integer in [iat - skew, exp);
 *   - jti is a string of 1..128 characters in 0x21..0x7e, the reported one.
 * On failure: one of the four policy errors, and nothing reported. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ipc.h"
#include "signer/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HEADER_LEN 11

static const char *const issuers[] = {
    "https://issuer.example",
    "https://issuer.example/tenants/a",
    "https://\xc3\xa9x.example", /* U+00E9: escaped and raw forms must agree */
    "http://127.0.0.1:8080",
};

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int depth(const json_t *v)
{
    int deepest = 0;
    if (json_is_object(v)) {
        const char *key;
        const json_t *member;
        json_object_foreach((json_t *)v, key, member) {
            int d = depth(member);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            int d = depth(item);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

static int64_t int_member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        abort();
    return (int64_t)json_integer_value(v);
}

static void check_accepted(const uint8_t *claims, size_t len, const struct sg_policy_limits *lim,
                           const struct sg_policy_info *info)
{
    if (len == 0 || len > SG_IPC_MAX_CLAIMS)
        abort();
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)claims, len, JSON_REJECT_DUPLICATES, &jerr); /* lint: allow independent oracle, not the door under test */
    if (!json_is_object(obj) || depth(obj) > 8)
        abort();

    const json_t *iss = json_object_get(obj, "iss");
    if (!json_is_string(iss) || json_string_length(iss) != strlen(lim->issuer) ||
        memcmp(json_string_value(iss), lim->issuer, strlen(lim->issuer)) != 0)
        abort();

    int64_t iat = int_member(obj, "iat"), exp = int_member(obj, "exp");
    if (iat != info->iat || exp != info->exp)
        abort();
    if (iat < lim->now - lim->skew || iat > lim->now + lim->skew)
        abort();
    if (exp <= iat || exp - iat > lim->max_lifetime)
        abort();
    if (json_object_get(obj, "nbf") != NULL) {
        int64_t nbf = int_member(obj, "nbf");
        if (nbf < iat - lim->skew || nbf >= exp)
            abort();
    }

    const json_t *jti = json_object_get(obj, "jti");
    if (!json_is_string(jti))
        abort();
    size_t jlen = json_string_length(jti);
    const char *j = json_string_value(jti);
    if (jlen == 0 || jlen > 128 || strlen(info->jti) != jlen || memcmp(info->jti, j, jlen) != 0)
        abort();
    for (size_t i = 0; i < jlen; i++)
        if ((unsigned char)j[i] < 0x21 || (unsigned char)j[i] > 0x7e)
            abort();
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER_LEN)
        return 0;
    struct sg_policy_limits lim = {
        .issuer = issuers[data[0] & 3],
        .skew = (int64_t)(((unsigned)data[1] << 8 | data[2]) % 601),
        .max_lifetime = (data[0] & 0x80) != 0 ? INT64_MAX / 1000 : (int64_t)be32(data + 3),
        .now = 1700000000 + (int64_t)(int32_t)be32(data + 7),
    };
    const uint8_t *claims = data + HEADER_LEN;
    size_t len = size - HEADER_LEN;

    struct sg_policy_info info;
    memset(&info, 0xa5, sizeof info);
    signet_err err = sg_policy_check_claims(claims, len, &lim, &info);
    if (err == SIGNET_OK) {
        check_accepted(claims, len, &lim, &info);
        return 0;
    }
    if (err != SIGNET_ERR_POLICY_PAYLOAD && err != SIGNET_ERR_POLICY_ISSUER &&
        err != SIGNET_ERR_POLICY_TIME && err != SIGNET_ERR_POLICY_LIFETIME)
        abort();
    if (info.jti[0] != '\0' || info.iat != 0 || info.exp != 0)
        abort(); /* a refusal reports nothing */
    return 0;
}
