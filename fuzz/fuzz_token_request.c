/* libFuzzer target: the token request parser of signetd. Input: the first
 * line is the Authorization header value (an empty line: none), the rest
 * the form body. Drives form decoding, Basic parsing, request validation
 * of the three grants (client_credentials, authorization_code with PKCE,
 * refresh_token; public clients without authentication),
 * scope checking and, when the request carries a client assertion, its
 * full verification against a fixed registered JWK at a fixed time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/oauth_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public half of the key that signed the seed assertions. */
static const char jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzz-1\","
    "\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\","
    "\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}";

static void check_assertion(const struct sg_token_req *req)
{
    const struct sg_assertion_policy pol = {
        .client_id = req->client_id,
        .issuer = "https://as.example/t/a",
        .now = 1700000000,
        .skew = 60,
        .max_ahead = 300,
    };
    struct sg_assertion_info info;
    const char *why = NULL;
    signet_err err = sg_assertion_verify(req->assertion, strlen(req->assertion), jwk, &pol,
                                         &info, &why);
    if (err == SIGNET_OK) {
        if (info.jti[0] == '\0' || info.exp <= pol.now - pol.skew ||
            info.exp > pol.now + pol.max_ahead + pol.skew)
            abort();
    } else if (why == NULL) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl != NULL ? (size_t)(nl - data) : 0;
    const uint8_t *body = nl != NULL ? nl + 1 : data;
    size_t blen = size - (size_t)(body - data);
    char *authz = NULL;
    if (hlen > 0) {
        authz = malloc(hlen + 1);
        if (authz == NULL)
            return 0;
        memcpy(authz, data, hlen);
        authz[hlen] = '\0';
        if (strlen(authz) != hlen) { /* a header value has no NUL */
            free(authz);
            return 0;
        }
    }
    struct sg_token_req req;
    char why[400];
    enum sg_oauth_error e = sg_token_req_parse((const char *)body, blen, authz, &req, why,
                                               sizeof why);
    if (e == SG_OAUTH_OK) {
        if (req.client_id == NULL)
            abort();
        /* Only the people's grants let a public client go without
         * authentication, and then it sends no credential at all. */
        if (req.auth == SG_AUTH_NONE &&
            (req.grant == SG_GRANT_TYPE_CLIENT_CREDENTIALS || req.secret != NULL))
            abort();
        if ((req.auth == SG_AUTH_ASSERTION) != (req.assertion != NULL))
            abort();
        if ((req.auth == SG_AUTH_BASIC || req.auth == SG_AUTH_POST) && req.secret == NULL)
            abort();
        if (req.grant == SG_GRANT_TYPE_AUTHORIZATION_CODE &&
            (req.code == NULL || req.redirect_uri == NULL || req.code_verifier == NULL ||
             strlen(req.code_verifier) < SG_PKCE_VERIFIER_MIN ||
             strlen(req.code_verifier) > SG_PKCE_VERIFIER_MAX || req.scope != NULL))
            abort();
        if ((req.grant == SG_GRANT_TYPE_REFRESH_TOKEN) != (req.refresh_token != NULL))
            abort();
        if ((req.grant == SG_GRANT_TYPE_AUTHORIZATION_CODE) != (req.code != NULL))
            abort();
        if (req.scope != NULL) {
            char granted[SG_OAUTH_SCOPE_MAX + 1], bad[80];
            if (sg_scope_check(req.scope, req.scope, granted, sizeof granted, bad,
                               sizeof bad) != SIGNET_OK)
                abort(); /* a valid list is a subset of itself */
            if (sg_scope_check(req.scope, "read write", granted, sizeof granted, bad,
                               sizeof bad) == SIGNET_OK &&
                !sg_scope_valid(granted))
                abort();
        }
        if (req.assertion != NULL)
            check_assertion(&req);
    } else {
        if (why[0] == '\0')
            abort(); /* every refusal says why */
        /* The description never quotes a secret back. */
        if (req.secret != NULL || req.assertion != NULL || req.client_id != NULL ||
            req.code != NULL || req.code_verifier != NULL || req.refresh_token != NULL)
            abort();
    }
    sg_token_req_clear(&req);
    free(authz);
    return 0;
}
