#include "signer/policy.h"

#include <jansson.h>
#include <string.h>

#include "common/ipc.h"

/* Depth of nesting, counted on the raw bytes before jansson sees them
 * (jansson itself has no depth limit). Strings are skipped. */
static int depth_ok(const uint8_t *p, size_t n, int max)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"')
            in_str = 1;
        else if (c == '{' || c == '[') {
            if (++depth > max)
                return 0;
        } else if (c == '}' || c == ']')
            depth--;
    }
    return 1;
}

static int get_int(const json_t *obj, const char *name, int64_t *out)
{
    const json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v))
        return -1;
    *out = (int64_t)json_integer_value(v);
    return 0;
}

signet_err sg_policy_check_claims(const uint8_t *claims, size_t len,
                                  const struct sg_policy_limits *limits,
                                  struct sg_policy_info *info)
{
    memset(info, 0, sizeof *info);
    if (len == 0 || len > SG_IPC_MAX_CLAIMS || !depth_ok(claims, len, 8))
        return SIGNET_ERR_POLICY_PAYLOAD;
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)claims, len, JSON_REJECT_DUPLICATES, &jerr);
    signet_err err = SIGNET_OK;
    if (!json_is_object(obj)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    const json_t *iss = json_object_get(obj, "iss");
    if (!json_is_string(iss)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (strcmp(json_string_value(iss), limits->issuer) != 0 ||
        json_string_length(iss) != strlen(limits->issuer)) {
        err = SIGNET_ERR_POLICY_ISSUER;
        goto out;
    }
    int64_t iat = 0, exp = 0, nbf = 0;
    if (get_int(obj, "iat", &iat) != 0 || get_int(obj, "exp", &exp) != 0) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    if (iat > limits->now + limits->skew || iat < limits->now - limits->skew) {
        err = SIGNET_ERR_POLICY_TIME;
        goto out;
    }
    /* exp > iat here, so the unsigned difference is exact: no overflow even
     * for extreme values (an injected clock near the epoch). */
    if (exp <= iat || (uint64_t)exp - (uint64_t)iat > (uint64_t)limits->max_lifetime) {
        err = SIGNET_ERR_POLICY_LIFETIME;
        goto out;
    }
    if (json_object_get(obj, "nbf") != NULL &&
        (get_int(obj, "nbf", &nbf) != 0 || nbf < iat - limits->skew || nbf >= exp)) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    const json_t *jti = json_object_get(obj, "jti");
    size_t jlen = json_is_string(jti) ? json_string_length(jti) : 0;
    if (jlen == 0 || jlen >= sizeof info->jti) {
        err = SIGNET_ERR_POLICY_PAYLOAD;
        goto out;
    }
    const char *j = json_string_value(jti);
    for (size_t i = 0; i < jlen; i++)
        if ((unsigned char)j[i] < 0x21 || (unsigned char)j[i] > 0x7e) {
            err = SIGNET_ERR_POLICY_PAYLOAD;
            goto out;
        }
    memcpy(info->jti, j, jlen + 1);
    info->iat = iat;
    info->exp = exp;
out:
    json_decref(obj);
    return err;
}
