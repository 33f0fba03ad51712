#include "claims.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct signet_claims {
    json_t *claims;
    const char *issuer;     /* these three point into text[] */
    const char *kid;
    const char *thumbprint;
    const char *alg;        /* static */
    char text[];
};

/* Copies s (n bytes and a NUL) to *p and advances it. */
static const char *put_str(char **p, const char *s, size_t n)
{
    char *d = *p;
    memcpy(d, s, n);
    d[n] = '\0';
    *p = d + n + 1;
    return d;
}

signet_err sg_claims_new(json_t *claims, const char *issuer, const char *kid,
                         const char *thumbprint, const char *alg, signet_claims **out)
{
    *out = NULL;
    /* One allocation per verified token: the handle and its strings. The
     * lengths are bounded (issuer 2048, kid 256, thumbprint 43). */
    size_t il = strlen(issuer), kl = strlen(kid), tl = strlen(thumbprint);
    signet_claims *c = malloc(sizeof *c + il + kl + tl + 3);
    if (c == NULL)
        return SIGNET_ERR_NOMEM;
    char *p = c->text;
    c->issuer = put_str(&p, issuer, il);
    c->kid = put_str(&p, kid, kl);
    c->thumbprint = put_str(&p, thumbprint, tl);
    c->claims = claims;
    c->alg = alg;
    *out = c;
    return SIGNET_OK;
}

void signet_claims_free(signet_claims *c)
{
    if (c == NULL)
        return;
    json_decref(c->claims);
    free(c);
}

const char *signet_claims_issuer(const signet_claims *c)
{
    return c->issuer;
}

const char *signet_claims_kid(const signet_claims *c)
{
    return c->kid;
}

const char *signet_claims_thumbprint(const signet_claims *c)
{
    return c->thumbprint;
}

const char *signet_claims_alg(const signet_claims *c)
{
    return c->alg;
}

signet_err signet_claims_get_string(const signet_claims *c, const char *name, const char **out)
{
    *out = NULL;
    const json_t *v = json_object_get(c->claims, name);
    if (v == NULL)
        return SIGNET_ERR_NOT_FOUND;
    if (!json_is_string(v))
        return SIGNET_ERR_BAD_CLAIM;
    *out = json_string_value(v);
    return SIGNET_OK;
}

signet_err signet_claims_get_int(const signet_claims *c, const char *name, int64_t *out)
{
    *out = 0;
    const json_t *v = json_object_get(c->claims, name);
    if (v == NULL)
        return SIGNET_ERR_NOT_FOUND;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return SIGNET_OK;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        /* Only exactly representable integral values. */
        if (isfinite(d) && d == floor(d) && fabs(d) <= 9007199254740992.0) {
            *out = (int64_t)d;
            return SIGNET_OK;
        }
    }
    return SIGNET_ERR_BAD_CLAIM;
}

signet_err signet_claims_get_string_array_count(const signet_claims *c, const char *name,
                                                size_t *count)
{
    *count = 0;
    const json_t *v = json_object_get(c->claims, name);
    if (v == NULL)
        return SIGNET_ERR_NOT_FOUND;
    if (json_is_string(v)) {
        *count = 1;
        return SIGNET_OK;
    }
    if (!json_is_array(v))
        return SIGNET_ERR_BAD_CLAIM;
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_string(json_array_get(v, i)))
            return SIGNET_ERR_BAD_CLAIM;
    *count = json_array_size(v);
    return SIGNET_OK;
}

signet_err signet_claims_get_string_array_item(const signet_claims *c, const char *name, size_t i,
                                               const char **out)
{
    *out = NULL;
    size_t n = 0;
    signet_err err = signet_claims_get_string_array_count(c, name, &n);
    if (err != SIGNET_OK)
        return err;
    if (i >= n)
        return SIGNET_ERR_NOT_FOUND;
    const json_t *v = json_object_get(c->claims, name);
    *out = json_is_string(v) ? json_string_value(v) : json_string_value(json_array_get(v, i));
    return SIGNET_OK;
}

signet_err signet_claims_get_json(const signet_claims *c, const char *name, char **out)
{
    *out = NULL;
    const json_t *v = name == NULL ? c->claims : json_object_get(c->claims, name);
    if (v == NULL)
        return SIGNET_ERR_NOT_FOUND;
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    if (s == NULL)
        return SIGNET_ERR_NOMEM;
    *out = s;
    return SIGNET_OK;
}
