/* libFuzzer target: the authorization endpoint's parsing of a request
 * (src/signetd/signin.c sd_oidc_authorize), without a store: the query
 * through sg_form_parse exactly as parse_src does (SD_PEOPLE_MAX_BODY, no
 * repeatable parameter), then sd_redirect_registered on its redirect_uri
 * and sd_authz_params (src/signetd/authzreq.c).
 *
 * Input: "<redirect_uris>\n<scopes>\n<query>", the client's registered
 * redirect URIs and allowed scopes (space-separated lists, as the store
 * holds them; a line "-" is a NULL list) and the query string, cut at its
 * first NUL as signetd gets it. Without two newlines the whole input is the
 * query, for a default client.
 *
 * Properties checked (abort on violation), against independent checks:
 *   - sd_redirect_registered is true exactly when redirect_uri is byte-equal
 *     to one entry of the list (and then fits sg_authreq's redirect_uri);
 *   - on success: response_type is code, no request object, code_challenge
 *     is the query's, 43 base64url characters, method S256; state, nonce,
 *     acr_values, prompt and scope are the query's (or "" when absent),
 *     terminated within their arrays; every scope is OIDC's own or the
 *     client's; prompt's words are known and none comes alone; max_age is
 *     -1 when absent, else the query's digits, 0..100000000;
 *   - on refusal: one of the four OAuth error codes, a non-empty, terminated
 *     description, and state terminated (the error redirect echoes it):
 *     the query's state whenever that one fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/oauth_req.h"
#include "signetd/authzreq.h"
#include "signetd/signin.h"
#include "store/model.h"
#include "store/people.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WHY_LEN 300 /* as sd_oidc_authorize */
#define FILL 0xa5   /* q starts as garbage: what the parser fills must be terminated by it */

static const char default_redirects[] =
    "https://app.example/cb https://app.example/cb?x=1 http://127.0.0.1:8080/cb";
static const char default_scopes[] = "read write api:admin";

/* word is one of the space-separated entries of list (empty entries too). */
static int listed(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list;;) {
        const char *sp = strchr(p, ' ');
        size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (n == wl && memcmp(p, word, n) == 0)
            return 1;
        if (sp == NULL)
            return 0;
        p = sp + 1;
    }
}

static int b64url(const char *s)
{
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int terminated(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

/* field holds the query's value of name, or "" when it has none. */
static void same_param(const struct sg_form *f, const char *name, const char *field, size_t cap)
{
    const char *v = sg_form_get(f, name);
    if (!terminated(field, cap) || strcmp(field, v != NULL ? v : "") != 0)
        abort();
}

static void check_scope(const char *scope, const struct sg_client *cl)
{
    static const char *const oidc[] = {"openid", "profile", "email", "offline_access"};
    if (scope[0] == '\0')
        return;
    if (!sg_scope_valid(scope))
        abort();
    char copy[SG_PEOPLE_SCOPE_MAX];
    memcpy(copy, scope, strlen(scope) + 1);
    for (char *w = copy; w != NULL;) {
        char *sp = strchr(w, ' ');
        if (sp != NULL)
            *sp = '\0';
        int ok = cl->scopes != NULL && listed(cl->scopes, w);
        for (size_t i = 0; i < sizeof oidc / sizeof oidc[0]; i++)
            ok |= strcmp(w, oidc[i]) == 0;
        if (!ok)
            abort();
        w = sp != NULL ? sp + 1 : NULL;
    }
}

static void check_prompt(const struct sg_authreq *q)
{
    static const char *const known[] = {"none", "login", "consent", "select_account"};
    const char *prompt = q->prompt;
    char copy[sizeof q->prompt];
    memcpy(copy, prompt, strlen(prompt) + 1);
    size_t words = 0;
    int none = 0;
    for (char *w = copy; w != NULL;) {
        char *sp = strchr(w, ' ');
        if (sp != NULL)
            *sp = '\0';
        if (w[0] != '\0') { /* trailing or doubled spaces between words */
            int ok = 0;
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                ok |= strcmp(w, known[i]) == 0;
            if (!ok)
                abort();
            none |= strcmp(w, "none") == 0;
            words++;
        }
        w = sp != NULL ? sp + 1 : NULL;
    }
    if (prompt[0] == ' ' || (none && words != 1))
        abort();
    /* sd_oidc_authorize looks for none with strstr. */
    if ((strstr(prompt, "none") != NULL) != none)
        abort();
}

static void check_accepted(const struct sg_form *f, const struct sg_client *cl,
                           const struct sg_authreq *q)
{
    const char *rt = sg_form_get(f, "response_type");
    const char *ccm = sg_form_get(f, "code_challenge_method");
    if (rt == NULL || strcmp(rt, "code") != 0 || sg_form_get(f, "request") != NULL || ccm == NULL ||
        strcmp(ccm, "S256") != 0)
        abort();
    same_param(f, "code_challenge", q->code_challenge, sizeof q->code_challenge);
    if (strlen(q->code_challenge) != SG_PEOPLE_HASH_LEN || !b64url(q->code_challenge))
        abort();
    same_param(f, "state", q->state, sizeof q->state);
    same_param(f, "nonce", q->nonce, sizeof q->nonce);
    same_param(f, "acr_values", q->acr_values, sizeof q->acr_values);
    same_param(f, "prompt", q->prompt, sizeof q->prompt);
    same_param(f, "scope", q->scope, sizeof q->scope);
    check_scope(q->scope, cl);
    check_prompt(q);
    const char *ma = sg_form_get(f, "max_age");
    if (ma == NULL) {
        if (q->max_age != -1)
            abort();
        return;
    }
    if (q->max_age < 0 || q->max_age > 100000000)
        abort();
    int64_t v = 0;
    for (const char *p = ma; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            abort();
        if (v <= 100000000)
            v = v * 10 + (*p - '0');
    }
    if (v != q->max_age)
        abort();
}

static void check_refused(const struct sg_form *f, const struct sg_authreq *q, const char *code,
                          const char *why)
{
    static const char *const codes[] = {"invalid_request", "unsupported_response_type",
                                        "request_not_supported", "invalid_scope"};
    int known = 0;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        known |= strcmp(code, codes[i]) == 0;
    if (!known || !terminated(why, WHY_LEN) || why[0] == '\0' ||
        !terminated(q->state, sizeof q->state))
        abort();
    const char *state = sg_form_get(f, "state");
    if (state != NULL && strlen(state) < sizeof q->state && strcmp(q->state, state) != 0)
        abort();
}

/* The line at *p (up to '\n'), NUL-terminated in place; NULL for "-". */
static char *line(char **p)
{
    char *s = *p, *nl = strchr(s, '\n');
    *nl = '\0';
    *p = nl + 1;
    return strcmp(s, "-") == 0 ? NULL : s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * SD_PEOPLE_MAX_BODY)
        return 0;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    struct sg_client cl;
    memset(&cl, 0, sizeof cl);
    memcpy(cl.client_id, "app", sizeof "app");
    cl.grants = SG_GRANT_AUTHORIZATION_CODE;
    cl.redirect_uris = (char *)default_redirects;
    cl.scopes = (char *)default_scopes;
    char *query = buf;
    char *nl = strchr(buf, '\n');
    if (nl != NULL && strchr(nl + 1, '\n') != NULL) {
        cl.redirect_uris = line(&query);
        cl.scopes = line(&query);
    }

    struct sg_form f;
    memset(&f, 0, sizeof f);
    if (sg_form_parse(query, strlen(query), SD_PEOPLE_MAX_BODY, NULL, &f) != SIGNET_OK)
        goto out;
    if (f.n > SG_FORM_MAX_PARAMS)
        abort();

    const char *ru = sg_form_get(&f, "redirect_uri");
    int reg = sd_redirect_registered(&cl, ru);
    int want = ru != NULL && ru[0] != '\0' && cl.redirect_uris != NULL &&
               listed(cl.redirect_uris, ru) && strlen(ru) < SG_PEOPLE_URI_MAX;
    if (reg != want)
        abort();

    struct sg_authreq q;
    char why[WHY_LEN];
    memset(&q, FILL, sizeof q);
    memset(why, FILL, sizeof why);
    const char *code = sd_authz_params(&f, &cl, &q, why, sizeof why);
    if (code == NULL)
        check_accepted(&f, &cl, &q);
    else
        check_refused(&f, &q, code, why);
out:
    sg_form_clear(&f);
    free(buf);
    return 0;
}
