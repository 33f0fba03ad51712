#include "common/oauth_req.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "jwk.h"
#include "jws.h"
#include "util/hex.h"
#include "util/secret.h"

/* ---- form bodies --------------------------------------------------------- */

/* Decodes n bytes of one form component into a fresh string. */
static signet_err form_decode(const char *s, size_t n, char **out)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        return SIGNET_ERR_NOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi = i + 2 < n ? sg_hex_digit((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < n ? sg_hex_digit((unsigned char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                sg_wipe(d, n + 1);
                free(d);
                return SIGNET_ERR_MALFORMED;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0') {
            sg_wipe(d, n + 1);
            free(d);
            return SIGNET_ERR_MALFORMED;
        }
        d[o++] = c;
    }
    d[o] = '\0';
    *out = d;
    return SIGNET_OK;
}

static void free_wiped(char **p)
{
    if (*p != NULL) {
        sg_wipe(*p, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void sg_form_clear(struct sg_form *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->p[i].name);
        free_wiped(&f->p[i].value);
    }
    memset(f, 0, sizeof *f);
}

static int name_ok(const char *n)
{
    if (n[0] == '\0')
        return 0;
    for (const unsigned char *c = (const unsigned char *)n; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return 0;
    return 1;
}

static int listed(const char *const *list, const char *name)
{
    for (size_t i = 0; list != NULL && list[i] != NULL; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

signet_err sg_form_parse(const char *body, size_t len, size_t max_len,
                         const char *const *repeatable, struct sg_form *out)
{
    memset(out, 0, sizeof *out);
    if (len > max_len || len > SG_FORM_MAX_BODY)
        return SIGNET_ERR_TOO_LARGE;
    signet_err err = SIGNET_OK;
    size_t start = 0;
    while (start <= len && err == SIGNET_OK) {
        const char *amp = start < len ? memchr(body + start, '&', len - start) : NULL;
        size_t end = amp != NULL ? (size_t)(amp - body) : len;
        size_t seg = end - start;
        if (seg > 0) { /* empty segments ("a=1&&b=2", a trailing '&') carry nothing */
            if (out->n == SG_FORM_MAX_PARAMS) {
                err = SIGNET_ERR_TOO_LARGE;
                break;
            }
            const char *s = body + start;
            const char *eq = memchr(s, '=', seg);
            size_t nlen = eq != NULL ? (size_t)(eq - s) : seg;
            struct sg_form_param *p = &out->p[out->n];
            err = form_decode(s, nlen, &p->name);
            if (err == SIGNET_OK) {
                err = eq != NULL ? form_decode(eq + 1, seg - nlen - 1, &p->value)
                                 : form_decode("", 0, &p->value);
                if (err != SIGNET_OK) {
                    free(p->name);
                    p->name = NULL;
                }
            }
            if (err != SIGNET_OK)
                break;
            out->n++;
            if (!name_ok(p->name)) {
                err = SIGNET_ERR_MALFORMED;
                break;
            }
            for (size_t i = 0; i + 1 < out->n; i++)
                if (strcmp(out->p[i].name, p->name) == 0 && !listed(repeatable, p->name))
                    err = SIGNET_ERR_DUPLICATE_MEMBER;
        }
        if (amp == NULL)
            break;
        start = end + 1;
    }
    if (err != SIGNET_OK)
        sg_form_clear(out);
    return err;
}

const char *sg_form_get(const struct sg_form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->p[i].name, name) == 0)
            return f->p[i].value[0] != '\0' ? f->p[i].value : NULL;
    return NULL;
}

/* ---- Basic authorization ------------------------------------------------- */

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 with padding (RFC 4648 §4), canonical: the length is a
 * multiple of 4 and the unused bits of the last quantum are zero. */
static signet_err b64std_decode(const char *s, size_t n, uint8_t *out, size_t cap,
                                size_t *out_len)
{
    if (n == 0 || n % 4 != 0)
        return SIGNET_ERR_MALFORMED;
    size_t pad = 0;
    if (s[n - 1] == '=')
        pad = s[n - 2] == '=' ? 2 : 1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (size_t j = 0; j < 4; j++) {
            v[j] = b64val(s[i + j]);
            if (v[j] < 0) {
                if (i + 4 == n && s[i + j] == '=' && j >= 4 - pad)
                    v[j] = 0;
                else
                    return SIGNET_ERR_MALFORMED;
            }
        }
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        size_t take = i + 4 == n ? 3 - pad : 3;
        if (i + 4 == n && ((pad == 1 && (q & 0xff) != 0) || (pad == 2 && (q & 0xffff) != 0)))
            return SIGNET_ERR_MALFORMED;
        if (o + take > cap)
            return SIGNET_ERR_MALFORMED;
        for (size_t j = 0; j < take; j++)
            out[o++] = (uint8_t)(q >> (16 - 8 * j));
    }
    *out_len = o;
    return SIGNET_OK;
}

void sg_oauth_free_secret(char **secret)
{
    free_wiped(secret);
}

signet_err sg_basic_auth_parse(const char *header, char **id, char **secret)
{
    *id = NULL;
    *secret = NULL;
    size_t n = strlen(header);
    if (n > SG_BASIC_MAX)
        return SIGNET_ERR_MALFORMED;
    if (n < 6 || strncasecmp(header, "Basic", 5) != 0 || (header[5] != ' ' && header[5] != '\t'))
        return SIGNET_ERR_UNSUPPORTED;
    const char *b = header + 6;
    while (*b == ' ' || *b == '\t')
        b++;
    size_t blen = strlen(b);
    while (blen > 0 && (b[blen - 1] == ' ' || b[blen - 1] == '\t'))
        blen--;
    uint8_t raw[SG_BASIC_MAX];
    size_t rlen = 0;
    signet_err err = b64std_decode(b, blen, raw, sizeof raw - 1, &rlen);
    if (err != SIGNET_OK)
        goto out;
    const uint8_t *colon = memchr(raw, ':', rlen);
    if (colon == NULL || colon == raw) {
        err = SIGNET_ERR_MALFORMED;
        goto out;
    }
    size_t idlen = (size_t)(colon - raw);
    /* RFC 6749 §2.3.1: both halves are form-urlencoded before joining. */
    err = form_decode((const char *)raw, idlen, id);
    if (err == SIGNET_OK)
        err = form_decode((const char *)colon + 1, rlen - idlen - 1, secret);
    if (err == SIGNET_OK && ((*id)[0] == '\0' || (*secret)[0] == '\0'))
        err = SIGNET_ERR_MALFORMED;
out:
    sg_wipe(raw, sizeof raw);
    if (err != SIGNET_OK) {
        free(*id);
        *id = NULL;
        free_wiped(secret);
    }
    return err;
}

/* ---- scopes -------------------------------------------------------------- */

static int scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int sg_scope_valid(const char *s)
{
    if (s == NULL || s[0] == '\0' || strlen(s) > SG_OAUTH_SCOPE_MAX)
        return 0;
    int prev_space = 1;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (*c == ' ') {
            if (prev_space)
                return 0; /* leading or double space */
            prev_space = 1;
        } else if (scope_char(*c)) {
            prev_space = 0;
        } else {
            return 0;
        }
    }
    return !prev_space; /* no trailing space */
}

static int word_in(const char *list, const char *w, size_t wlen)
{
    const char *p = list;
    while (p != NULL && *p != '\0') {
        const char *sp = strchr(p, ' ');
        size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (n == wlen && memcmp(p, w, n) == 0)
            return 1;
        p = sp != NULL ? sp + 1 : NULL;
    }
    return 0;
}

int sg_list_contains(const char *list, const char *word)
{
    return list != NULL && word != NULL && word_in(list, word, strlen(word));
}

signet_err sg_scope_check(const char *requested, const char *allowed, char *granted, size_t cap,
                          char *bad, size_t badcap)
{
    if (cap == 0)
        return SIGNET_ERR_INVALID_ARG;
    granted[0] = '\0';
    if (bad != NULL && badcap > 0)
        bad[0] = '\0';
    if (!sg_scope_valid(requested))
        return SIGNET_ERR_MALFORMED;
    size_t o = 0;
    const char *p = requested;
    while (p != NULL) {
        const char *sp = strchr(p, ' ');
        size_t n = sp != NULL ? (size_t)(sp - p) : strlen(p);
        if (!word_in(allowed != NULL ? allowed : "", p, n)) {
            if (bad != NULL && badcap > 0)
                (void)snprintf(bad, badcap, "%.*s", (int)(n < 64 ? n : 64), p);
            granted[0] = '\0';
            return SIGNET_ERR_NOT_FOUND;
        }
        granted[o] = '\0';
        if (!word_in(granted, p, n)) {
            if (o + (o > 0) + n + 1 > cap) {
                granted[0] = '\0';
                return SIGNET_ERR_TOO_LARGE;
            }
            if (o > 0)
                granted[o++] = ' ';
            memcpy(granted + o, p, n);
            o += n;
            granted[o] = '\0';
        }
        p = sp != NULL ? sp + 1 : NULL;
    }
    return SIGNET_OK;
}

/* ---- the token request --------------------------------------------------- */

const char *sg_oauth_error_code(enum sg_oauth_error e)
{
    switch (e) {
    case SG_OAUTH_OK: return "ok";
    case SG_OAUTH_INVALID_REQUEST: return "invalid_request";
    case SG_OAUTH_INVALID_CLIENT: return "invalid_client";
    case SG_OAUTH_INVALID_GRANT: return "invalid_grant";
    case SG_OAUTH_UNAUTHORIZED_CLIENT: return "unauthorized_client";
    case SG_OAUTH_UNSUPPORTED_GRANT_TYPE: return "unsupported_grant_type";
    case SG_OAUTH_INVALID_SCOPE: return "invalid_scope";
    case SG_OAUTH_INVALID_TARGET: return "invalid_target";
    case SG_OAUTH_TEMPORARILY_UNAVAILABLE: return "temporarily_unavailable";
    case SG_OAUTH_SERVER_ERROR: return "server_error";
    }
    return "server_error";
}

void sg_token_req_clear(struct sg_token_req *r)
{
    free(r->client_id);
    free_wiped(&r->secret);
    free_wiped(&r->assertion);
    free(r->scope);
    for (size_t i = 0; i < r->n_resources; i++)
        free(r->resources[i]);
    free_wiped(&r->code);
    free(r->redirect_uri);
    free_wiped(&r->code_verifier);
    free_wiped(&r->refresh_token);
    memset(r, 0, sizeof *r);
}

/* client_id: RFC 6749 Appendix A.1, VSCHAR (printable ASCII), bounded. */
static int client_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > SG_OAUTH_ID_MAX)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c < 0x20 || *c > 0x7e)
            return 0;
    return 1;
}

static int visible_ascii(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (*c < 0x21 || *c > 0x7e)
            return 0;
    return 1;
}

/* RFC 8707 §2: an absolute URI (scheme ":" ...) without a fragment. */
static int resource_ok(const char *s)
{
    if (!visible_ascii(s, SG_OAUTH_RESOURCE_MAX) || strchr(s, '#') != NULL)
        return 0;
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s || colon[1] == '\0')
        return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (const char *c = s; c < colon; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '+' || *c == '-' || *c == '.'))
            return 0;
    return 1;
}

#define WHY(...) (void)snprintf(why, whylen, __VA_ARGS__)

static enum sg_oauth_error collect_resources(const struct sg_form *f, struct sg_token_req *out,
                                             char *why, size_t whylen)
{
    for (size_t i = 0; i < f->n; i++) {
        const char *name = f->p[i].name, *v = f->p[i].value;
        int is_resource = strcmp(name, "resource") == 0;
        if (!is_resource && strcmp(name, "audience") != 0)
            continue;
        if (v[0] == '\0')
            continue;
        if (is_resource ? !resource_ok(v) : !visible_ascii(v, SG_OAUTH_RESOURCE_MAX)) {
            WHY(is_resource ? "resource must be an absolute URI without a fragment (RFC 8707)"
                            : "audience must be printable ASCII without spaces");
            return is_resource ? SG_OAUTH_INVALID_TARGET : SG_OAUTH_INVALID_REQUEST;
        }
        if (out->n_resources == SG_OAUTH_MAX_RESOURCES) {
            WHY("at most %d resource and audience values", SG_OAUTH_MAX_RESOURCES);
            return SG_OAUTH_INVALID_TARGET;
        }
        out->resources[out->n_resources] = strdup(v);
        if (out->resources[out->n_resources] == NULL) {
            WHY("out of memory");
            return SG_OAUTH_SERVER_ERROR;
        }
        out->n_resources++;
    }
    return SG_OAUTH_OK;
}

/* RFC 7636 §4.1: code-verifier = 43*128unreserved, unreserved = ALPHA /
 * DIGIT / "-" / "." / "_" / "~". */
static int verifier_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < SG_PKCE_VERIFIER_MIN || n > SG_PKCE_VERIFIER_MAX)
        return 0;
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_' || *c == '~'))
            return 0;
    return 1;
}

/* A required parameter of the grant: present, printable ASCII without
 * spaces, at most max characters, copied into *out. The description names
 * the parameter, never its value. */
static enum sg_oauth_error take_param(const struct sg_form *f, const char *name, size_t max,
                                      char **out, char *why, size_t whylen)
{
    const char *v = sg_form_get(f, name);
    if (v == NULL) {
        WHY("missing %s", name);
        return SG_OAUTH_INVALID_REQUEST;
    }
    if (!visible_ascii(v, max)) {
        WHY("%s must be 1 to %zu printable characters", name, max);
        return SG_OAUTH_INVALID_REQUEST;
    }
    *out = strdup(v);
    if (*out == NULL) {
        WHY("out of memory");
        return SG_OAUTH_SERVER_ERROR;
    }
    return SG_OAUTH_OK;
}

/* The parameters of the authorization_code and refresh_token grants. */
static enum sg_oauth_error grant_params(const struct sg_form *f, struct sg_token_req *out,
                                        char *why, size_t whylen)
{
    enum sg_oauth_error e = SG_OAUTH_OK;
    if (out->grant == SG_GRANT_TYPE_AUTHORIZATION_CODE) {
        e = take_param(f, "code", SG_OAUTH_CODE_MAX, &out->code, why, whylen);
        if (e == SG_OAUTH_OK)
            e = take_param(f, "redirect_uri", SG_OAUTH_URI_MAX, &out->redirect_uri, why, whylen);
        if (e == SG_OAUTH_OK && sg_form_get(f, "code_verifier") == NULL) {
            /* signet issues codes only with a code_challenge (S256). */
            WHY("missing code_verifier (PKCE, RFC 7636, is required)");
            e = SG_OAUTH_INVALID_REQUEST;
        }
        if (e == SG_OAUTH_OK && !verifier_ok(sg_form_get(f, "code_verifier"))) {
            WHY("code_verifier must be %u to %u characters of A-Z a-z 0-9 - . _ ~ "
                "(RFC 7636 section 4.1)",
                SG_PKCE_VERIFIER_MIN, SG_PKCE_VERIFIER_MAX);
            e = SG_OAUTH_INVALID_REQUEST;
        }
        if (e == SG_OAUTH_OK)
            e = take_param(f, "code_verifier", SG_PKCE_VERIFIER_MAX, &out->code_verifier, why,
                           whylen);
    } else if (out->grant == SG_GRANT_TYPE_REFRESH_TOKEN) {
        e = take_param(f, "refresh_token", SG_OAUTH_REFRESH_MAX, &out->refresh_token, why,
                       whylen);
    }
    return e;
}

/* The client authentication of a request (RFC 6749 §2.3) whose grant,
 * out->grant, is already known (SG_GRANT_TYPE_NONE: a pushed authorization
 * request, which a public client may send naming itself). */
static enum sg_oauth_error parse_auth(const struct sg_form *f, const char *authz,
                                      struct sg_token_req *out, char *why, size_t whylen)
{
    const char *body_id = sg_form_get(f, "client_id");
    const char *body_secret = sg_form_get(f, "client_secret");
    const char *assertion = sg_form_get(f, "client_assertion");
    const char *atype = sg_form_get(f, "client_assertion_type");
    if (body_id != NULL && !client_id_ok(body_id)) {
        WHY("client_id must be 1 to %u printable characters", SG_OAUTH_ID_MAX);
        return SG_OAUTH_INVALID_REQUEST;
    }
    /* RFC 6749 §2.3: exactly one authentication method per request. */
    int methods = (authz != NULL) + (body_secret != NULL) + (assertion != NULL || atype != NULL);
    if (methods > 1) {
        WHY("more than one client authentication method was used");
        return SG_OAUTH_INVALID_REQUEST;
    }
    out->basic_tried = authz != NULL;
    if (authz != NULL) {
        signet_err err = sg_basic_auth_parse(authz, &out->client_id, &out->secret);
        if (err != SIGNET_OK) {
            WHY(err == SIGNET_ERR_UNSUPPORTED ? "only the Basic authorization scheme is supported"
                                              : "malformed Basic authorization header");
            return SG_OAUTH_INVALID_CLIENT;
        }
        if (!client_id_ok(out->client_id) || strlen(out->secret) > SG_OAUTH_SECRET_MAX) {
            WHY("malformed Basic authorization header");
            return SG_OAUTH_INVALID_CLIENT;
        }
        if (body_id != NULL && strcmp(body_id, out->client_id) != 0) {
            WHY("client_id differs from the authenticated client");
            return SG_OAUTH_INVALID_REQUEST;
        }
        out->auth = SG_AUTH_BASIC;
    } else if (body_secret != NULL) {
        if (body_id == NULL) {
            WHY("client_secret needs client_id");
            return SG_OAUTH_INVALID_REQUEST;
        }
        if (strlen(body_secret) > SG_OAUTH_SECRET_MAX) {
            WHY("client_secret too long");
            return SG_OAUTH_INVALID_CLIENT;
        }
        out->client_id = strdup(body_id);
        out->secret = strdup(body_secret);
        out->auth = SG_AUTH_POST;
    } else if (assertion != NULL || atype != NULL) {
        if (atype == NULL || assertion == NULL) {
            WHY("client_assertion and client_assertion_type go together");
            return SG_OAUTH_INVALID_REQUEST;
        }
        if (strcmp(atype, SG_CLIENT_ASSERTION_TYPE) != 0) {
            WHY("client_assertion_type must be " SG_CLIENT_ASSERTION_TYPE);
            return SG_OAUTH_INVALID_REQUEST;
        }
        signet_err err = sg_assertion_peek(assertion, strlen(assertion), &out->client_id);
        if (err != SIGNET_OK) {
            WHY("client_assertion is not a JWT whose iss and sub name the client");
            return SG_OAUTH_INVALID_CLIENT;
        }
        if (!client_id_ok(out->client_id)) {
            WHY("client_assertion names an invalid client_id");
            return SG_OAUTH_INVALID_CLIENT;
        }
        if (body_id != NULL && strcmp(body_id, out->client_id) != 0) {
            WHY("client_id differs from the client_assertion's subject");
            return SG_OAUTH_INVALID_CLIENT;
        }
        out->assertion = strdup(assertion);
        out->auth = SG_AUTH_ASSERTION;
    } else if (out->grant != SG_GRANT_TYPE_CLIENT_CREDENTIALS && body_id != NULL) {
        /* A public client (RFC 6749 §2.1) names itself (§4.1.3, §6);
         * whether it may is the client registry's to say. */
        out->client_id = strdup(body_id);
        out->auth = SG_AUTH_NONE;
    } else if (out->grant != SG_GRANT_TYPE_CLIENT_CREDENTIALS) {
        WHY("client_id is required (or client authentication: client_secret_basic, "
            "client_secret_post or private_key_jwt)");
        return SG_OAUTH_INVALID_CLIENT;
    } else {
        WHY("client authentication is required (client_secret_basic, client_secret_post or "
            "private_key_jwt)");
        return SG_OAUTH_INVALID_CLIENT;
    }
    if (out->client_id == NULL ||
        ((out->auth == SG_AUTH_BASIC || out->auth == SG_AUTH_POST) && out->secret == NULL) ||
        (out->auth == SG_AUTH_ASSERTION && out->assertion == NULL)) {
        WHY("out of memory");
        return SG_OAUTH_SERVER_ERROR;
    }
    return SG_OAUTH_OK;
}

static enum sg_oauth_error parse_form(const struct sg_form *f, const char *authz,
                                      struct sg_token_req *out, char *why, size_t whylen)
{
    const char *grant = sg_form_get(f, "grant_type");
    if (grant == NULL) {
        WHY("missing grant_type");
        return SG_OAUTH_INVALID_REQUEST;
    }
    if (strcmp(grant, "client_credentials") == 0) {
        out->grant = SG_GRANT_TYPE_CLIENT_CREDENTIALS;
    } else if (strcmp(grant, "authorization_code") == 0) {
        out->grant = SG_GRANT_TYPE_AUTHORIZATION_CODE;
    } else if (strcmp(grant, "refresh_token") == 0) {
        out->grant = SG_GRANT_TYPE_REFRESH_TOKEN;
    } else {
        WHY("grant_type must be client_credentials, authorization_code or refresh_token");
        return SG_OAUTH_UNSUPPORTED_GRANT_TYPE;
    }
    enum sg_oauth_error e = parse_auth(f, authz, out, why, whylen);
    if (e != SG_OAUTH_OK)
        return e;
    e = grant_params(f, out, why, whylen);
    if (e != SG_OAUTH_OK)
        return e;
    /* RFC 6749 §4.1.3 defines no scope for a code exchange: the code's
     * scope is what was granted, so a scope sent with it is ignored. */
    const char *scope =
        out->grant != SG_GRANT_TYPE_AUTHORIZATION_CODE ? sg_form_get(f, "scope") : NULL;
    if (scope != NULL) {
        if (!sg_scope_valid(scope)) {
            WHY("scope must be space-separated scope tokens (RFC 6749 section 3.3)");
            return SG_OAUTH_INVALID_SCOPE;
        }
        out->scope = strdup(scope);
        if (out->scope == NULL) {
            WHY("out of memory");
            return SG_OAUTH_SERVER_ERROR;
        }
    }
    return collect_resources(f, out, why, whylen);
}

enum sg_oauth_error sg_token_req_parse(const char *body, size_t len, const char *authz,
                                       struct sg_token_req *out, char *why, size_t whylen)
{
    static const char *const repeatable[] = {"resource", NULL};
    memset(out, 0, sizeof *out);
    if (whylen > 0)
        why[0] = '\0';
    struct sg_form f;
    signet_err err = sg_form_parse(body, len, SG_FORM_MAX_BODY, repeatable, &f);
    if (err != SIGNET_OK) {
        WHY("%s", err == SIGNET_ERR_DUPLICATE_MEMBER
                      ? "a parameter was sent more than once (RFC 6749 section 3.2)"
                  : err == SIGNET_ERR_TOO_LARGE ? "too many parameters"
                                                : "malformed form body (bad %-escape, NUL or "
                                                  "empty parameter name)");
        return SG_OAUTH_INVALID_REQUEST;
    }
    enum sg_oauth_error e = parse_form(&f, authz, out, why, whylen);
    sg_form_clear(&f);
    if (e != SG_OAUTH_OK) {
        int basic = out->basic_tried;
        sg_token_req_clear(out);
        out->basic_tried = basic;
    }
    return e;
}

enum sg_oauth_error sg_client_auth_parse(const struct sg_form *f, const char *authz,
                                         struct sg_token_req *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    if (whylen > 0)
        why[0] = '\0';
    out->grant = SG_GRANT_TYPE_NONE;
    enum sg_oauth_error e = parse_auth(f, authz, out, why, whylen);
    if (e != SG_OAUTH_OK) {
        int basic = out->basic_tried;
        sg_token_req_clear(out);
        out->basic_tried = basic;
    }
    return e;
}

#undef WHY

/* ---- client assertions --------------------------------------------------- */

static uint32_t assertion_algs(void)
{
    return SG_ALG_BIT(SG_ALG_ES256) | SG_ALG_BIT(SG_ALG_EDDSA) | SG_ALG_BIT(SG_ALG_ED25519) |
           SG_ALG_BIT(SG_ALG_PS256);
}

static signet_err payload_json(const struct sg_jws *jws, json_t **out)
{
    signet_err err = sg_json_parse(jws->payload, jws->payload_len, SG_TOKEN_MAX, out);
    if (err != SIGNET_OK)
        return err;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return SIGNET_ERR_MALFORMED;
    }
    return SIGNET_OK;
}

signet_err sg_assertion_peek(const char *assertion, size_t len, char **client_id)
{
    *client_id = NULL;
    struct sg_jws jws;
    signet_err err = sg_jws_parse(assertion, len, &jws);
    if (err != SIGNET_OK)
        return err;
    json_t *claims = NULL;
    err = payload_json(&jws, &claims);
    if (err == SIGNET_OK) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        const char *sub = json_string_value(json_object_get(claims, "sub"));
        if (iss == NULL || sub == NULL || strcmp(iss, sub) != 0 ||
            strlen(sub) != json_string_length(json_object_get(claims, "sub")))
            err = SIGNET_ERR_MALFORMED;
        else if ((*client_id = strdup(sub)) == NULL)
            err = SIGNET_ERR_NOMEM;
    }
    json_decref(claims);
    sg_jws_clear(&jws);
    return err;
}

static int typ_ok(const json_t *header)
{
    const json_t *t = json_object_get(header, "typ");
    if (t == NULL)
        return 1;
    const char *v = json_string_value(t);
    if (v == NULL)
        return 0;
    if (strncasecmp(v, "application/", 12) == 0)
        v += 12;
    /* Never an access token or another typed JWT: only a plain JWT or the
     * explicit client-authentication type (RFC 7523bis). */
    return strcasecmp(v, "JWT") == 0 || strcasecmp(v, "client-authentication+jwt") == 0;
}

/* draft-ietf-oauth-rfc7523bis: the audience is the issuer identifier
 * of the authorization server, as a JSON string (not an array, not even of
 * one), and nothing else: not the token endpoint URL. So an assertion is
 * good for one server (one tenant) only, and never for a second audience
 * listed beside it. Simple string comparison (RFC 3986 §6.2.1). */
static int aud_ok(const json_t *aud, const struct sg_assertion_policy *pol)
{
    if (!json_is_string(aud) || pol->issuer == NULL)
        return 0;
    return json_string_length(aud) == strlen(pol->issuer) &&
           strcmp(json_string_value(aud), pol->issuer) == 0;
}

static signet_err check_claims(const json_t *c, const struct sg_assertion_policy *pol,
                               struct sg_assertion_info *info, const char **why)
{
    const char *iss = json_string_value(json_object_get(c, "iss"));
    const char *sub = json_string_value(json_object_get(c, "sub"));
    if (iss == NULL || sub == NULL || strcmp(iss, pol->client_id) != 0 ||
        strcmp(sub, pol->client_id) != 0) {
        *why = "client_assertion iss and sub must both be the client_id";
        return SIGNET_ERR_ISSUER_MISMATCH;
    }
    if (!aud_ok(json_object_get(c, "aud"), pol)) {
        *why = "client_assertion aud must be the issuer identifier, as a single string";
        return SIGNET_ERR_AUDIENCE_MISMATCH;
    }
    int64_t exp = 0, t = 0;
    const json_t *e = json_object_get(c, "exp");
    if (e == NULL || sg_json_numeric_date(e, 0, &exp) != SIGNET_OK) {
        *why = "client_assertion needs a numeric exp";
        return SIGNET_ERR_MISSING_CLAIM;
    }
    if (exp <= pol->now - pol->skew) {
        *why = "client_assertion has expired";
        return SIGNET_ERR_EXPIRED;
    }
    if (exp > pol->now + pol->max_ahead + pol->skew) {
        *why = "client_assertion exp is too far in the future";
        return SIGNET_ERR_LIFETIME_TOO_LONG;
    }
    const json_t *nbf = json_object_get(c, "nbf");
    if (nbf != NULL && (sg_json_numeric_date(nbf, 0, &t) != SIGNET_OK || t > pol->now + pol->skew)) {
        *why = "client_assertion is not valid yet (nbf)";
        return SIGNET_ERR_NOT_YET_VALID;
    }
    const json_t *iat = json_object_get(c, "iat");
    if (iat != NULL && (sg_json_numeric_date(iat, 0, &t) != SIGNET_OK || t > pol->now + pol->skew)) {
        *why = "client_assertion iat is in the future";
        return SIGNET_ERR_IAT_IN_FUTURE;
    }
    const json_t *jti = json_object_get(c, "jti");
    const char *j = json_string_value(jti);
    if (j == NULL || !visible_ascii(j, SG_JTI_MAX) || strlen(j) != json_string_length(jti)) {
        *why = "client_assertion needs a jti of 1 to 256 printable characters";
        return SIGNET_ERR_MISSING_CLAIM;
    }
    memcpy(info->jti, j, strlen(j) + 1);
    info->exp = exp;
    return SIGNET_OK;
}

static signet_err load_jwk(const char *jwk_json, size_t len, struct sg_key *key, const char **why)
{
    json_t *doc = NULL;
    signet_err err = sg_json_parse((const uint8_t *)jwk_json, len, 8192, &doc);
    if (err != SIGNET_OK) {
        *why = "the JWK is not valid JSON";
        return err;
    }
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    for (size_t i = 0; i < sizeof priv / sizeof priv[0]; i++)
        if (json_object_get(doc, priv[i]) != NULL) {
            json_decref(doc);
            *why = "the JWK contains private key members: register the public key only";
            return SIGNET_ERR_FORBIDDEN_HEADER;
        }
    err = sg_jwk_parse(doc, key);
    json_decref(doc);
    if (err != SIGNET_OK) {
        *why = "the JWK is not a supported public signature key (EC P-256, Ed25519 or RSA >= 2048)";
        return err;
    }
    if ((key->algs & assertion_algs()) == 0) {
        sg_jwk_key_clear(key);
        *why = "the JWK cannot be used with ES256, EdDSA, Ed25519 or PS256";
        return SIGNET_ERR_ALG_NOT_ALLOWED;
    }
    return SIGNET_OK;
}

signet_err sg_client_jwk_check(const char *jwk_json, size_t len, const char **why)
{
    struct sg_key key;
    signet_err err = load_jwk(jwk_json, len, &key, why);
    if (err == SIGNET_OK)
        sg_jwk_key_clear(&key);
    return err;
}

signet_err sg_assertion_verify(const char *assertion, size_t len, const char *jwk_json,
                               const struct sg_assertion_policy *pol,
                               struct sg_assertion_info *info, const char **why)
{
    memset(info, 0, sizeof *info);
    *why = "client_assertion is not a compact JWS";
    struct sg_key key;
    memset(&key, 0, sizeof key);
    json_t *claims = NULL;
    struct sg_jws jws;
    signet_err err = sg_jws_parse(assertion, len, &jws);
    if (err != SIGNET_OK)
        return err;
    err = load_jwk(jwk_json, strlen(jwk_json), &key, why);
    if (err != SIGNET_OK) {
        *why = "the client's registered key is unusable";
        goto out;
    }
    struct sg_header_policy hp = {.allowed_algs = assertion_algs() & key.algs, .typ = NULL};
    enum sg_alg alg;
    const char *kid = NULL;
    err = sg_jws_check_header(&jws, &hp, &alg, &kid);
    if (err != SIGNET_OK) {
        *why = err == SIGNET_ERR_ALG_NOT_ALLOWED
                   ? "client_assertion alg is not allowed for the registered key"
                   : "client_assertion header is not acceptable";
        goto out;
    }
    if (!typ_ok(jws.header)) {
        err = SIGNET_ERR_BAD_TYP;
        *why = "client_assertion typ must be absent, JWT or client-authentication+jwt";
        goto out;
    }
    if (kid != NULL && key.kid != NULL && strcmp(kid, key.kid) != 0) {
        err = SIGNET_ERR_KEY_NOT_IN_ISSUER_SET;
        *why = "client_assertion is signed with a key that is not registered for this client";
        goto out;
    }
    err = sg_sig_verify(alg, key.pkey, (const uint8_t *)jws.signing_input, jws.signing_input_len,
                        jws.sig, jws.sig_len);
    if (err != SIGNET_OK) {
        err = SIGNET_ERR_BAD_SIGNATURE;
        *why = "client_assertion signature does not verify with the client's registered key";
        goto out;
    }
    err = payload_json(&jws, &claims);
    if (err != SIGNET_OK) {
        *why = "client_assertion claims are not a JSON object";
        goto out;
    }
    err = check_claims(claims, pol, info, why);
out:
    json_decref(claims);
    sg_jwk_key_clear(&key);
    sg_jws_clear(&jws);
    ERR_clear_error();
    return err;
}
