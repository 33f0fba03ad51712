#include "util/thumbprint.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#include "util/b64url.h"

static const char *str_member(const json_t *jwk, const char *name)
{
    const json_t *v = json_object_get(jwk, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

signet_err sg_jwk_thumbprint(const json_t *jwk, char out[static SG_THUMBPRINT_LEN + 1])
{
    const char *kty = str_member(jwk, "kty");
    if (kty == NULL)
        return SIGNET_ERR_BAD_JWKS;
    /* Members in lexicographic order, each required for its key type. */
    static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
    static const char *const okp[] = {"crv", "kty", "x", NULL};
    static const char *const rsa[] = {"e", "kty", "n", NULL};
    const char *const *names = strcmp(kty, "EC") == 0    ? ec
                               : strcmp(kty, "OKP") == 0 ? okp
                               : strcmp(kty, "RSA") == 0 ? rsa
                                                         : NULL;
    if (names == NULL)
        return SIGNET_ERR_UNSUPPORTED;
    /* The values are base64url or short names: no JSON escaping is needed,
     * and any character that would need it is refused. */
    char buf[2048];
    size_t n = 0;
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *v = str_member(jwk, names[i]);
        if (v == NULL)
            return SIGNET_ERR_BAD_JWKS;
        for (const char *c = v; *c != '\0'; c++)
            if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
                return SIGNET_ERR_BAD_JWKS;
        int w = snprintf(buf + n, sizeof buf - n, "%s\"%s\":\"%s\"", i == 0 ? "{" : ",",
                         names[i], v);
        if (w < 0 || (size_t)w >= sizeof buf - n)
            return SIGNET_ERR_TOO_LARGE;
        n += (size_t)w;
    }
    if (n + 1 >= sizeof buf)
        return SIGNET_ERR_TOO_LARGE;
    buf[n++] = '}';
    uint8_t digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)buf, n, digest);
    return sg_b64url_encode(digest, sizeof digest, out, SG_THUMBPRINT_LEN + 1);
}
