/* The authorization request's parameters and the Cookie header, parsed
 * without a store (authzreq.h). */
#include "signetd/authzreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/oauth_req.h"
#include "store/people.h"
#include "store/store.h"

static int b64url_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return 0;
    }
    return 1;
}

/* Scopes of OpenID Connect itself, never an API's. */
static int oidc_scope(const char *s, size_t n)
{
    static const char *const names[] = {"openid", "profile", "email", "offline_access"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return 1;
    return 0;
}

int sd_cookie_get(const char *header, const char *name, char *out, size_t cap)
{
    if (header == NULL)
        return -1;
    size_t nl = strlen(name);
    const char *p = header;
    while (*p != '\0') {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vlen = len - nl - 1;
            while (vlen > 0 && p[nl + 1 + vlen - 1] == ' ')
                vlen--;
            if (vlen == 0 || vlen >= cap)
                return -1;
            memcpy(out, p + nl + 1, vlen);
            out[vlen] = '\0';
            return 0;
        }
        p += len;
    }
    return -1;
}

int sd_cookie_token(const char *v)
{
    return strlen(v) == 43 && b64url_chars(v, 43);
}

int sd_redirect_registered(const struct sg_client *cl, const char *uri)
{
    return uri != NULL && uri[0] != '\0' && strlen(uri) < SG_PEOPLE_URI_MAX &&
           cl->redirect_uris != NULL && sg_list_contains(cl->redirect_uris, uri);
}

static int copy_param(const struct sg_form *f, const char *name, char *out, size_t cap)
{
    const char *v = sg_form_get(f, name);
    out[0] = '\0';
    if (v == NULL)
        return 0;
    if (strlen(v) >= cap)
        return -1;
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

const char *sd_authz_params(const struct sg_form *f, const struct sg_client *cl,
                            struct sg_authreq *q, char *why, size_t whylen)
{
    if (copy_param(f, "state", q->state, sizeof q->state) != 0) {
        (void)snprintf(why, whylen, "state is too long");
        return "invalid_request";
    }
    const char *rt = sg_form_get(f, "response_type");
    if (rt == NULL || strcmp(rt, "code") != 0) {
        (void)snprintf(why, whylen, "response_type must be code (the code flow is the only one)");
        return "unsupported_response_type";
    }
    if (sg_form_get(f, "request") != NULL) {
        (void)snprintf(why, whylen, "request objects are not supported: use PAR");
        return "request_not_supported";
    }
    const char *cc = sg_form_get(f, "code_challenge");
    const char *ccm = sg_form_get(f, "code_challenge_method");
    if (cc == NULL) {
        (void)snprintf(why, whylen, "PKCE is required: send code_challenge with "
                                    "code_challenge_method=S256");
        return "invalid_request";
    }
    if (ccm == NULL || strcmp(ccm, "S256") != 0) {
        (void)snprintf(why, whylen, "code_challenge_method must be S256");
        return "invalid_request";
    }
    if (strlen(cc) != SG_PEOPLE_HASH_LEN || !b64url_chars(cc, strlen(cc))) {
        (void)snprintf(why, whylen, "code_challenge must be the base64url SHA-256 of the "
                                    "verifier (43 characters)");
        return "invalid_request";
    }
    memcpy(q->code_challenge, cc, SG_PEOPLE_HASH_LEN + 1);
    if (copy_param(f, "scope", q->scope, sizeof q->scope) != 0 ||
        (q->scope[0] != '\0' && !sg_scope_valid(q->scope))) {
        (void)snprintf(why, whylen, "scope must be space-separated scope tokens");
        return "invalid_scope";
    }
    for (const char *p = q->scope; *p != '\0';) {
        size_t n = strcspn(p, " ");
        char word[128];
        if (n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
        }
        if (n >= sizeof word || (!oidc_scope(p, n) && !sg_list_contains(cl->scopes, word))) {
            (void)snprintf(why, whylen, "scope '%.*s' is not allowed for this client",
                           (int)(n > 100 ? 100 : n), p);
            return "invalid_scope";
        }
        p += n;
        while (*p == ' ')
            p++;
    }
    if (copy_param(f, "nonce", q->nonce, sizeof q->nonce) != 0) {
        (void)snprintf(why, whylen, "nonce is too long");
        return "invalid_request";
    }
    if (copy_param(f, "acr_values", q->acr_values, sizeof q->acr_values) != 0) {
        (void)snprintf(why, whylen, "acr_values is too long");
        return "invalid_request";
    }
    if (copy_param(f, "prompt", q->prompt, sizeof q->prompt) != 0) {
        (void)snprintf(why, whylen, "prompt is too long");
        return "invalid_request";
    }
    int none = 0, words = 0;
    for (const char *p = q->prompt; *p != '\0';) {
        size_t n = strcspn(p, " ");
        static const char *const ok[] = {"none", "login", "consent", "select_account"};
        int known = 0;
        for (size_t i = 0; i < 4; i++)
            known |= strlen(ok[i]) == n && strncmp(p, ok[i], n) == 0;
        if (!known) {
            (void)snprintf(why, whylen, "prompt may be none, login, consent or select_account");
            return "invalid_request";
        }
        none |= n == 4 && strncmp(p, "none", 4) == 0;
        words++;
        p += n;
        while (*p == ' ')
            p++;
    }
    if (none && words > 1) {
        (void)snprintf(why, whylen, "prompt=none cannot be combined with another value");
        return "invalid_request";
    }
    q->max_age = -1;
    const char *ma = sg_form_get(f, "max_age");
    if (ma != NULL) {
        char *end = NULL;
        long long v = strtoll(ma, &end, 10);
        if (ma[0] < '0' || ma[0] > '9' || *end != '\0' || v < 0 || v > 100000000LL) {
            (void)snprintf(why, whylen, "max_age must be a non-negative number of seconds");
            return "invalid_request";
        }
        q->max_age = v;
    }
    return NULL;
}
