#include "signer/policy.h"

#include <jansson.h>
#include <string.h>

#include "common/ipc.h"
#include "json.h"

/* Claims are shallow; the signer refuses anything nested deeper than this
 * (arrays and objects, the top-level object counting as 1). */
#define POLICY_MAX_DEPTH 8u

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
    json_t *obj = NULL;
    signet_err err = SIGNET_OK;
    if (sg_json_parse_depth(claims, len, SG_IPC_MAX_CLAIMS, POLICY_MAX_DEPTH, &obj) != SIGNET_OK ||
        !json_is_object(obj)) {
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
