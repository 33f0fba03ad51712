/* signetd's request parsing (src/common/oauth_req.c) with hostile inputs:
 * form bodies (RFC 6749 Appendix B, §3.1, §3.2), Basic client
 * authentication (RFC 6749 §2.3.1), scopes (§3.3), the token request as a
 * whole (client_credentials, authorization_code with PKCE, refresh_token,
 * public clients), client assertions (RFC 7523) against fixed vectors,
 * their audience (draft-ietf-oauth-rfc7523bis: the issuer, one string),
 * registration JWKs, and the store's clients and jti replay cache. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/oauth_req.h"
#include "store/store.h"
#include "test_signet_kit.h"

static signet_err form(const char *body, struct sg_form *f)
{
    static const char *const rep[] = {"resource", NULL};
    return sg_form_parse(body, strlen(body), SG_FORM_MAX_BODY, rep, f);
}

static void test_form_decoding(void **state)
{
    (void)state;
    struct sg_form f;
    assert_int_equal(form("a=1&b=x+y%2Bz%3d&c=&d&e=%C3%A9", &f), SIGNET_OK);
    assert_int_equal(f.n, 5);
    assert_string_equal(sg_form_get(&f, "a"), "1");
    assert_string_equal(sg_form_get(&f, "b"), "x y+z=");
    assert_null(sg_form_get(&f, "c")); /* RFC 6749 §3.1: empty = omitted */
    assert_null(sg_form_get(&f, "d"));
    assert_string_equal(sg_form_get(&f, "e"), "\xc3\xa9");
    assert_null(sg_form_get(&f, "zz"));
    sg_form_clear(&f);
    /* Empty segments carry nothing; the empty body is valid. */
    assert_int_equal(form("&&a=1&&", &f), SIGNET_OK);
    assert_int_equal(f.n, 1);
    sg_form_clear(&f);
    assert_int_equal(form("", &f), SIGNET_OK);
    assert_int_equal(f.n, 0);
    sg_form_clear(&f);
    /* Encoded names decode too. */
    assert_int_equal(form("gr%61nt_type=x", &f), SIGNET_OK);
    assert_string_equal(sg_form_get(&f, "grant_type"), "x");
    sg_form_clear(&f);
}

static void test_form_hostile(void **state)
{
    (void)state;
    struct sg_form f;
    static const char *const malformed[] = {
        "a=%", "a=%2", "a=%zz", "a=%g0", "a=%0", "%=1", "a=1&b=%%", "a=%00", "a%00=1",
        "=1", "=", "a=1&=2", "%20=1", "a+b=1", "a%0a=1",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        signet_err err = form(malformed[i], &f);
        if (err != SIGNET_ERR_MALFORMED)
            fail_msg("'%s': %d", malformed[i], err);
        assert_int_equal(f.n, 0);
    }
    /* RFC 6749 §3.2: no parameter twice, except RFC 8707 resource. */
    assert_int_equal(form("a=1&a=2", &f), SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(form("a=1&b=2&a=", &f), SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(form("%61=1&a=2", &f), SIGNET_ERR_DUPLICATE_MEMBER);
    assert_int_equal(form("resource=x:1&resource=x:2", &f), SIGNET_OK);
    assert_int_equal(f.n, 2);
    sg_form_clear(&f);
    /* Size and count caps, one past the limit. */
    char body[4096] = "";
    size_t o = 0;
    for (int i = 0; i < SG_FORM_MAX_PARAMS; i++)
        o += (size_t)snprintf(body + o, sizeof body - o, "%sp%d=1", i ? "&" : "", i);
    assert_int_equal(form(body, &f), SIGNET_OK);
    sg_form_clear(&f);
    (void)snprintf(body + o, sizeof body - o, "&one=more");
    assert_int_equal(form(body, &f), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_form_parse("a=12345", 7, 6, NULL, &f), SIGNET_ERR_TOO_LARGE);
    assert_int_equal(sg_form_parse("a=12345", 7, 7, NULL, &f), SIGNET_OK);
    sg_form_clear(&f);
    /* Exactly len bytes are read: no terminator needed, none past it. */
    assert_int_equal(sg_form_parse("a=1%41", 5, 64, NULL, &f), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_form_parse("a=1&a=1", 3, 64, NULL, &f), SIGNET_OK);
    assert_int_equal(f.n, 1);
    sg_form_clear(&f);
}

static void test_basic(void **state)
{
    (void)state;
    char *id = NULL, *secret = NULL;
    /* "web:s3cret" */
    assert_int_equal(sg_basic_auth_parse("Basic d2ViOnMzY3JldA==", &id, &secret), SIGNET_OK);
    assert_string_equal(id, "web");
    assert_string_equal(secret, "s3cret");
    free(id);
    sg_oauth_free_secret(&secret);
    assert_null(secret);
    /* RFC 6749 §2.3.1: both halves are form-urlencoded: "a%3Ab:p%25w+d". */
    assert_int_equal(sg_basic_auth_parse("bAsIc   YSUzQWI6cCUyNXcrZA==", &id, &secret), SIGNET_OK);
    assert_string_equal(id, "a:b");
    assert_string_equal(secret, "p%w d");
    free(id);
    sg_oauth_free_secret(&secret);
    /* The first colon splits; the secret may hold more: "x:y:z". */
    assert_int_equal(sg_basic_auth_parse("Basic eDp5Ono=", &id, &secret), SIGNET_OK);
    assert_string_equal(secret, "y:z");
    free(id);
    sg_oauth_free_secret(&secret);
    assert_int_equal(sg_basic_auth_parse("Bearer abc", &id, &secret), SIGNET_ERR_UNSUPPORTED);
    assert_int_equal(sg_basic_auth_parse("Basic", &id, &secret), SIGNET_ERR_UNSUPPORTED);
    static const char *const bad[] = {
        "Basic ",             /* empty */
        "Basic eHk=",         /* "xy": no colon */
        "Basic Onk=",         /* ":y": empty id */
        "Basic eDo=",         /* "x:": empty secret */
        "Basic d2ViOnMzY3JldA", /* unpadded */
        "Basic d2ViOnMzY3JldA=", /* wrong padding */
        "Basic d2ViOnMzY3JldB==", /* non-zero trailing bits */
        "Basic d2Vi OnMz",    /* inner space */
        "Basic d2V_OnMz",     /* url alphabet */
        "Basic eDp5JXp6",     /* "x:y%zz": bad escape */
        "Basic eDp5JTAw",     /* "x:y%00": NUL */
        "Basic ====",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        signet_err err = sg_basic_auth_parse(bad[i], &id, &secret);
        if (err != SIGNET_ERR_MALFORMED)
            fail_msg("'%s': %d", bad[i], err);
        assert_null(id);
        assert_null(secret);
    }
    char huge[SG_BASIC_MAX + 16];
    memset(huge, 'A', sizeof huge - 1);
    memcpy(huge, "Basic ", 6);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(sg_basic_auth_parse(huge, &id, &secret), SIGNET_ERR_MALFORMED);
}

static void test_scopes(void **state)
{
    (void)state;
    assert_true(sg_scope_valid("read"));
    assert_true(sg_scope_valid("read write api:x/y!"));
    static const char *const bad[] = {"", " ", "a  b", " a", "a ", "a\"b", "a\\b", "a\tb",
                                      "caf\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sg_scope_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    char g[64], badw[16];
    assert_int_equal(sg_scope_check("write read write", "read write x", g, sizeof g, badw,
                                    sizeof badw), SIGNET_OK);
    assert_string_equal(g, "write read");
    assert_int_equal(sg_scope_check("read admin", "read write", g, sizeof g, badw, sizeof badw),
                     SIGNET_ERR_NOT_FOUND);
    assert_string_equal(badw, "admin");
    assert_string_equal(g, "");
    /* Prefixes and substrings are not scopes. */
    assert_int_equal(sg_scope_check("rea", "read", g, sizeof g, NULL, 0), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_scope_check("read", "reader", g, sizeof g, NULL, 0), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_scope_check("a", "", g, sizeof g, NULL, 0), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_scope_check("a  b", "a b", g, sizeof g, NULL, 0), SIGNET_ERR_MALFORMED);
    assert_int_equal(sg_scope_check("abc def", "abc def", g, 7, NULL, 0), SIGNET_ERR_TOO_LARGE);
    assert_true(sg_list_contains("https://a https://b", "https://b"));
    assert_false(sg_list_contains("https://a https://b", "https://"));
}

static enum sg_oauth_error parse(const char *body, const char *authz, struct sg_token_req *r,
                                 char *why)
{
    return sg_token_req_parse(body, strlen(body), authz, r, why, 400);
}

static void test_token_request(void **state)
{
    (void)state;
    struct sg_token_req r;
    char why[400];
    assert_int_equal(parse("grant_type=client_credentials&scope=a+b&resource=https%3A%2F%2Fx",
                           "Basic d2ViOnMzY3JldA==", &r, why), SG_OAUTH_OK);
    assert_int_equal(r.auth, SG_AUTH_BASIC);
    assert_true(r.basic_tried);
    assert_string_equal(r.client_id, "web");
    assert_string_equal(r.scope, "a b");
    assert_int_equal(r.n_resources, 1);
    sg_token_req_clear(&r);
    assert_int_equal(parse("grant_type=client_credentials&client_id=web&client_secret=x", NULL,
                           &r, why), SG_OAUTH_OK);
    assert_int_equal(r.auth, SG_AUTH_POST);
    assert_null(r.scope);
    sg_token_req_clear(&r);
    struct {
        const char *body, *authz;
        enum sg_oauth_error want;
    } cases[] = {
        {"", NULL, SG_OAUTH_INVALID_REQUEST},
        {"scope=a", "Basic d2ViOnMzY3JldA==", SG_OAUTH_INVALID_REQUEST},
        {"grant_type=", "Basic d2ViOnMzY3JldA==", SG_OAUTH_INVALID_REQUEST},
        {"grant_type=password", "Basic d2ViOnMzY3JldA==", SG_OAUTH_UNSUPPORTED_GRANT_TYPE},
        {"grant_type=client_credentials&grant_type=client_credentials", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials", NULL, SG_OAUTH_INVALID_CLIENT},
        {"grant_type=client_credentials&client_secret=x", NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials&client_id=a&client_secret=x", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials&client_id=other", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials", "Basic eHk=", SG_OAUTH_INVALID_CLIENT},
        {"grant_type=client_credentials", "Digest x", SG_OAUTH_INVALID_CLIENT},
        {"grant_type=client_credentials&scope=a++b", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_SCOPE},
        {"grant_type=client_credentials&resource=relative", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_TARGET},
        {"grant_type=client_credentials&resource=https%3A%2F%2Fa%23f", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_TARGET},
        {"grant_type=client_credentials&audience=a+b", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials&client_assertion=x", NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials&client_assertion_type=urn%3Ax&client_assertion=a.b.c",
         NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3A"
         "client-assertion-type%3Ajwt-bearer&client_assertion=a.b.c",
         NULL, SG_OAUTH_INVALID_CLIENT},
        {"grant_type=client_credentials&client_id=%zz", NULL, SG_OAUTH_INVALID_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum sg_oauth_error e = parse(cases[i].body, cases[i].authz, &r, why);
        if (e != cases[i].want)
            fail_msg("case %zu '%s': %s, wanted %s (%s)", i, cases[i].body,
                     sg_oauth_error_code(e), sg_oauth_error_code(cases[i].want), why);
        assert_true(why[0] != '\0');
        assert_null(r.client_id);
        assert_null(r.secret);
        assert_null(strstr(why, "s3cret"));
        sg_token_req_clear(&r);
    }
    /* Nine resources is one too many. */
    char body[1024] = "grant_type=client_credentials";
    for (int i = 0; i <= SG_OAUTH_MAX_RESOURCES; i++)
        (void)snprintf(body + strlen(body), sizeof body - strlen(body), "&resource=x:%d", i);
    assert_int_equal(parse(body, "Basic d2ViOnMzY3JldA==", &r, why), SG_OAUTH_INVALID_TARGET);
    sg_token_req_clear(&r);
}

/* RFC 7636 Appendix B's verifier. */
#define VERIFIER "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CODE_BODY(v)                                                                          \
    "grant_type=authorization_code&client_id=spa&code=SplxlOBeZQQYbYS6WxSbIA"                \
    "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=" v

static void test_code_grant(void **state)
{
    (void)state;
    struct sg_token_req r;
    char why[400];
    /* A public client: client_id alone. */
    assert_int_equal(parse(CODE_BODY(VERIFIER) "&scope=ignored", NULL, &r, why), SG_OAUTH_OK);
    assert_int_equal(r.grant, SG_GRANT_TYPE_AUTHORIZATION_CODE);
    assert_int_equal(r.auth, SG_AUTH_NONE);
    assert_string_equal(r.client_id, "spa");
    assert_null(r.secret);
    assert_null(r.assertion);
    assert_string_equal(r.code, "SplxlOBeZQQYbYS6WxSbIA");
    assert_string_equal(r.redirect_uri, "https://app.example/cb");
    assert_string_equal(r.code_verifier, VERIFIER);
    assert_null(r.scope); /* RFC 6749 §4.1.3 has none: the code's is what was granted */
    assert_null(r.refresh_token);
    sg_token_req_clear(&r);
    assert_null(r.code);
    /* A confidential one, every method. */
    assert_int_equal(parse("grant_type=authorization_code&code=c&redirect_uri=x%3A%2Fcb"
                           "&code_verifier=" VERIFIER,
                           "Basic d2ViOnMzY3JldA==", &r, why),
                     SG_OAUTH_OK);
    assert_int_equal(r.auth, SG_AUTH_BASIC);
    assert_string_equal(r.client_id, "web");
    sg_token_req_clear(&r);
    assert_int_equal(parse(CODE_BODY(VERIFIER) "&client_secret=x", NULL, &r, why), SG_OAUTH_OK);
    assert_int_equal(r.auth, SG_AUTH_POST);
    sg_token_req_clear(&r);
    /* The verifier's bounds (RFC 7636 §4.1): 43 and 128 are fine. */
    char body[1024], v[200];
    memset(v, 'A', sizeof v);
    v[128] = '\0';
    (void)snprintf(body, sizeof body, "%s%s", CODE_BODY(""), v);
    assert_int_equal(parse(body, NULL, &r, why), SG_OAUTH_OK);
    sg_token_req_clear(&r);
    v[43] = '\0';
    (void)snprintf(body, sizeof body, "%s%s", CODE_BODY(""), v);
    assert_int_equal(parse(body, NULL, &r, why), SG_OAUTH_OK);
    sg_token_req_clear(&r);
    /* Every unreserved character. */
    assert_int_equal(parse(CODE_BODY("azAZ09-._~azAZ09-._~azAZ09-._~azAZ09-._~abc"), NULL, &r,
                           why),
                     SG_OAUTH_OK);
    sg_token_req_clear(&r);
    struct {
        const char *body, *authz;
        enum sg_oauth_error want;
    } cases[] = {
        /* one short, one long */
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX"), NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY(VERIFIER VERIFIER VERIFIER "0123456789"), NULL, SG_OAUTH_INVALID_REQUEST},
        /* outside [A-Za-z0-9-._~]: '+' (a space once decoded), '%2B', '/', '=', UTF-8 */
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX+"), NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX%2B"), NULL,
         SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX%2F"), NULL,
         SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjX="), NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEj%C3%A9"), NULL,
         SG_OAUTH_INVALID_REQUEST},
        /* missing parameters (an empty one is omitted, RFC 6749 §3.1) */
        {"grant_type=authorization_code&client_id=spa&redirect_uri=x&code_verifier=" VERIFIER,
         NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_id=spa&code=&redirect_uri=x&code_verifier="
         VERIFIER,
         NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_id=spa&code=c&code_verifier=" VERIFIER, NULL,
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_id=spa&code=c&redirect_uri=x", NULL,
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_id=spa&code=c&redirect_uri=x&code_verifier=",
         NULL, SG_OAUTH_INVALID_REQUEST},
        /* a code with a space or a control character */
        {"grant_type=authorization_code&client_id=spa&code=a+b&redirect_uri=x&code_verifier="
         VERIFIER,
         NULL, SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_id=spa&code=a%01&redirect_uri=x&code_verifier="
         VERIFIER,
         NULL, SG_OAUTH_INVALID_REQUEST},
        /* duplicates (RFC 6749 §3.2) */
        {CODE_BODY(VERIFIER) "&code=other", NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY(VERIFIER) "&code_verifier=" VERIFIER, NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY(VERIFIER) "&redirect_uri=x", NULL, SG_OAUTH_INVALID_REQUEST},
        {CODE_BODY(VERIFIER) "&client_id=spa", NULL, SG_OAUTH_INVALID_REQUEST},
        /* no client_id and no authentication */
        {"grant_type=authorization_code&code=c&redirect_uri=x&code_verifier=" VERIFIER, NULL,
         SG_OAUTH_INVALID_CLIENT},
        /* two methods, or a secret without its client */
        {CODE_BODY(VERIFIER) "&client_secret=x", "Basic d2ViOnMzY3JldA==",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=authorization_code&client_secret=x&code=c&redirect_uri=x&code_verifier="
         VERIFIER,
         NULL, SG_OAUTH_INVALID_REQUEST},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum sg_oauth_error e = parse(cases[i].body, cases[i].authz, &r, why);
        if (e != cases[i].want)
            fail_msg("case %zu '%s': %s, wanted %s (%s)", i, cases[i].body,
                     sg_oauth_error_code(e), sg_oauth_error_code(cases[i].want), why);
        assert_true(why[0] != '\0');
        assert_null(r.client_id);
        assert_null(r.code);
        assert_null(r.code_verifier);
        assert_null(r.redirect_uri);
        /* A description never quotes a credential. */
        assert_null(strstr(why, "dBjftJeZ4CVP"));
        assert_null(strstr(why, "SplxlOBe"));
        sg_token_req_clear(&r);
    }
}

static void test_refresh_grant(void **state)
{
    (void)state;
    struct sg_token_req r;
    char why[400];
    assert_int_equal(parse("grant_type=refresh_token&client_id=spa&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA",
                           NULL, &r, why),
                     SG_OAUTH_OK);
    assert_int_equal(r.grant, SG_GRANT_TYPE_REFRESH_TOKEN);
    assert_int_equal(r.auth, SG_AUTH_NONE);
    assert_string_equal(r.client_id, "spa");
    assert_string_equal(r.refresh_token, "tGzv3JOkF0XG5Qx2TlKWIA");
    assert_null(r.scope);
    assert_null(r.code);
    sg_token_req_clear(&r);
    assert_null(r.refresh_token);
    /* An optional narrower scope; a confidential client. */
    assert_int_equal(parse("grant_type=refresh_token&refresh_token=t&scope=openid+read",
                           "Basic d2ViOnMzY3JldA==", &r, why),
                     SG_OAUTH_OK);
    assert_int_equal(r.auth, SG_AUTH_BASIC);
    assert_string_equal(r.scope, "openid read");
    sg_token_req_clear(&r);
    struct {
        const char *body;
        enum sg_oauth_error want;
    } cases[] = {
        {"grant_type=refresh_token&client_id=spa", SG_OAUTH_INVALID_REQUEST},
        {"grant_type=refresh_token&client_id=spa&refresh_token=", SG_OAUTH_INVALID_REQUEST},
        {"grant_type=refresh_token&client_id=spa&refresh_token=a+b", SG_OAUTH_INVALID_REQUEST},
        {"grant_type=refresh_token&client_id=spa&refresh_token=t&refresh_token=t",
         SG_OAUTH_INVALID_REQUEST},
        {"grant_type=refresh_token&client_id=spa&refresh_token=t&scope=a++b",
         SG_OAUTH_INVALID_SCOPE},
        {"grant_type=refresh_token&refresh_token=t", SG_OAUTH_INVALID_CLIENT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum sg_oauth_error e = parse(cases[i].body, NULL, &r, why);
        if (e != cases[i].want)
            fail_msg("case %zu '%s': %s, wanted %s (%s)", i, cases[i].body,
                     sg_oauth_error_code(e), sg_oauth_error_code(cases[i].want), why);
        assert_true(why[0] != '\0');
        assert_null(r.client_id);
        assert_null(r.refresh_token);
        sg_token_req_clear(&r);
    }
    /* 256 characters is the cap. */
    char body[600], tok[300];
    memset(tok, 'x', sizeof tok);
    tok[256] = '\0';
    (void)snprintf(body, sizeof body, "grant_type=refresh_token&client_id=spa&refresh_token=%s",
                   tok);
    assert_int_equal(parse(body, NULL, &r, why), SG_OAUTH_OK);
    sg_token_req_clear(&r);
    tok[256] = 'x';
    tok[257] = '\0';
    (void)snprintf(body, sizeof body, "grant_type=refresh_token&client_id=spa&refresh_token=%s",
                   tok);
    assert_int_equal(parse(body, NULL, &r, why), SG_OAUTH_INVALID_REQUEST);
    sg_token_req_clear(&r);
}

/* client_credentials keeps requiring client authentication: client_id
 * alone is no public client there (RFC 6749 §4.4). Other grant types are
 * unsupported_grant_type. */
static void test_grant_types(void **state)
{
    (void)state;
    struct sg_token_req r;
    char why[400];
    assert_int_equal(parse("grant_type=client_credentials&client_id=spa", NULL, &r, why),
                     SG_OAUTH_INVALID_CLIENT);
    assert_null(r.client_id);
    sg_token_req_clear(&r);
    assert_int_equal(parse("grant_type=client_credentials&client_id=web&client_secret=x", NULL,
                           &r, why),
                     SG_OAUTH_OK);
    assert_int_equal(r.grant, SG_GRANT_TYPE_CLIENT_CREDENTIALS);
    sg_token_req_clear(&r);
    static const char *const unsupported[] = {
        "grant_type=password&client_id=spa&username=a&password=b",
        "grant_type=implicit&client_id=spa",
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=spa",
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&client_id=spa",
        "grant_type=Authorization_Code&client_id=spa",
        "grant_type=refresh_token+&client_id=spa&refresh_token=t",
    };
    for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
        enum sg_oauth_error e = parse(unsupported[i], NULL, &r, why);
        if (e != SG_OAUTH_UNSUPPORTED_GRANT_TYPE)
            fail_msg("'%s': %s", unsupported[i], sg_oauth_error_code(e));
        sg_token_req_clear(&r);
    }
    assert_int_equal(parse("grant_type=authorization_code&grant_type=refresh_token&client_id=spa",
                           NULL, &r, why),
                     SG_OAUTH_INVALID_REQUEST);
    sg_token_req_clear(&r);
}

/* Vectors made by PyJWT with the key below (fuzz/corpus/fuzz_token_request
 * holds the same ones), judged at a fixed time. */
static const char jwk[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzz-1\","
    "\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\","
    "\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}";
static const char a_ok[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enotMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9hcy5leGFtcGxlL3QvYS90b2tlbiIsImV4cCI6MTcwMDAwMDA2MCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiJqMSJ9.UbYIx9tw5x6eT5a52WAB9WC4wfm6IMh01zt4aOBt0BMEVqpohBXK1n0HWj6RWcm5Ft2-21Gs5bOKTexVTu2gtA";
static const char a_aud_iss[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enotMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9hcy5leGFtcGxlL3QvYSIsImV4cCI6MTcwMDAwMDA2MCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiJqMSJ9.tRE9Yr_rY8yqsD8MlpBjMVKFn9YpTNVS-zKoNgGjdENmJLT05tpAGT63qAtTMrH-jyxNRvXVDPz7A03rE70vNQ";
static const char a_expired[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enotMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjoiaHR0cHM6Ly9hcy5leGFtcGxlL3QvYS90b2tlbiIsImV4cCI6MTY5OTk5OTkwMCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiJqMSJ9.4etTmLagr9ofB4HYTqgb-35iNTe_G3dC8m3njlM3GvhXGsOVTfNhev7Pn80SIQNakU3Bk-eyEYXBUIuXyL5uyw";
static const char a_aud_array[] = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImZ1enotMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjMSIsInN1YiI6ImMxIiwiYXVkIjpbIngiLCJodHRwczovL2FzLmV4YW1wbGUvdC9hL3Rva2VuIl0sImV4cCI6MTcwMDAwMDA2MCwiaWF0IjoxNzAwMDAwMDAwLCJqdGkiOiJqMSJ9.z-iHUt94e5Allpmzz4CsxHlgLUlUg_NzWzUOwqT8R24GfOLCEfPXFjfB_8YEsopPWCTx0mp8rtrRnRQ6V8CQ3A";

static signet_err verify(const char *a, int64_t now, const char *client, const char **why,
                         struct sg_assertion_info *info)
{
    struct sg_assertion_policy pol = {
        .client_id = client,
        .issuer = "https://as.example/t/a",
        .now = now,
        .skew = 5,
        .max_ahead = 300,
    };
    return sg_assertion_verify(a, strlen(a), jwk, &pol, info, why);
}

static void test_assertions(void **state)
{
    (void)state;
    const char *why = NULL;
    struct sg_assertion_info info;
    char *id = NULL;
    assert_int_equal(sg_assertion_peek(a_ok, strlen(a_ok), &id), SIGNET_OK);
    assert_string_equal(id, "c1");
    free(id);
    assert_int_equal(verify(a_aud_iss, 1700000000, "c1", &why, &info), SIGNET_OK);
    assert_string_equal(info.jti, "j1");
    assert_int_equal(info.exp, 1700000060);
    /* The token endpoint URL as aud (a_ok, a_expired), or in an array with
     * another value: refused (draft-ietf-oauth-rfc7523bis). */
    assert_int_equal(verify(a_ok, 1700000000, "c1", &why, &info), SIGNET_ERR_AUDIENCE_MISMATCH);
    assert_non_null(strstr(why, "issuer identifier"));
    assert_int_equal(verify(a_aud_array, 1700000000, "c1", &why, &info),
                     SIGNET_ERR_AUDIENCE_MISMATCH);
    assert_int_equal(verify(a_expired, 1700000000, "c1", &why, &info),
                     SIGNET_ERR_AUDIENCE_MISMATCH);
    /* exp is 60 s ahead: fine until now > exp + skew. */
    assert_int_equal(verify(a_aud_iss, 1700000064, "c1", &why, &info), SIGNET_OK);
    assert_int_equal(verify(a_aud_iss, 1700000065, "c1", &why, &info), SIGNET_ERR_EXPIRED);
    /* iat in the future beyond the skew; exp too far ahead. */
    assert_int_equal(verify(a_aud_iss, 1699999990, "c1", &why, &info),
                     SIGNET_ERR_IAT_IN_FUTURE);
    assert_int_equal(verify(a_aud_iss, 1699999700, "c1", &why, &info),
                     SIGNET_ERR_LIFETIME_TOO_LONG);
    assert_int_equal(verify(a_aud_iss, 1700000000, "c2", &why, &info),
                     SIGNET_ERR_ISSUER_MISMATCH);
    /* Any change to the signed bytes. */
    char *t = strdup(a_aud_iss);
    assert_non_null(t);
    char *sig = strrchr(t, '.') + 1;
    sig[3] = sig[3] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t, 1700000000, "c1", &why, &info), SIGNET_ERR_BAD_SIGNATURE);
    assert_non_null(strstr(why, "registered key"));
    free(t);
    /* Another registered key (same kid, other point) fails the signature. */
    struct sg_assertion_policy pol = {.client_id = "c1", .issuer = "https://as.example/t/a",
                                      .now = 1700000000, .skew = 5, .max_ahead = 300};
    const char other[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"fuzz-1\","
                         "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                         "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
    assert_int_equal(sg_assertion_verify(a_aud_iss, strlen(a_aud_iss), other, &pol, &info, &why),
                     SIGNET_ERR_BAD_SIGNATURE);
    const char other_kid[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k2\","
                             "\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\","
                             "\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}";
    assert_int_equal(
        sg_assertion_verify(a_aud_iss, strlen(a_aud_iss), other_kid, &pol, &info, &why),
        SIGNET_ERR_KEY_NOT_IN_ISSUER_SET);
    /* An RSA-pinned key refuses an ES256 assertion before any math. */
    const char pinned[] = "{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\","
                          "\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\","
                          "\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}";
    assert_int_not_equal(
        sg_assertion_verify(a_aud_iss, strlen(a_aud_iss), pinned, &pol, &info, &why), SIGNET_OK);
    assert_int_not_equal(verify("a.b.c", 1700000000, "c1", &why, &info), SIGNET_OK);
    assert_int_not_equal(verify("", 1700000000, "c1", &why, &info), SIGNET_OK);
}

#define ISS_A "https://as.example/t/a"
#define ISS_B "https://as.example/t/b"

/* An assertion of client c1 with this aud (stolen reference), signed by k,
 * judged by tenant `issuer`. */
static signet_err judge_aud(EVP_PKEY *k, const char *jwk_text, json_t *aud, const char *issuer)
{
    json_t *c = json_object();
    json_object_set_new(c, "iss", json_string("c1"));
    json_object_set_new(c, "sub", json_string("c1"));
    if (aud != NULL)
        json_object_set(c, "aud", aud);
    json_object_set_new(c, "exp", json_integer(KIT_NOW + 60));
    json_object_set_new(c, "iat", json_integer(KIT_NOW));
    json_object_set_new(c, "jti", json_string("j-aud"));
    json_t *h = json_object();
    json_object_set_new(h, "alg", json_string("ES256"));
    json_object_set_new(h, "kid", json_string("ck"));
    json_object_set_new(h, "typ", json_string("client-authentication+jwt"));
    char *a = kit_sign_json(k, SG_ALG_ES256, h, c);
    struct sg_assertion_policy pol = {
        .client_id = "c1", .issuer = issuer, .now = KIT_NOW, .skew = 5, .max_ahead = 300};
    struct sg_assertion_info info;
    const char *why = NULL;
    signet_err err = sg_assertion_verify(a, strlen(a), jwk_text, &pol, &info, &why);
    free(a);
    return err;
}

/* draft-ietf-oauth-rfc7523bis: aud is the issuer identifier as a single
 * JSON string. One assertion naming two tenants' endpoints (or issuers)
 * was accepted at both (issue 11): now at neither. */
static void test_assertion_audience(void **state)
{
    (void)state;
    EVP_PKEY *k = kit_keygen(KIT_P256);
    json_t *j = kit_jwk(k, "ck");
    char *jwk_text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    json_t *a = json_string(ISS_A);
    assert_int_equal(judge_aud(k, jwk_text, a, ISS_A), SIGNET_OK); /* control */
    assert_int_equal(judge_aud(k, jwk_text, a, ISS_B), SIGNET_ERR_AUDIENCE_MISMATCH);
    json_decref(a);
    json_t *refused[] = {
        json_string(ISS_A "/token"),                  /* the token endpoint URL */
        json_pack("[s]", ISS_A),                      /* an array, even of one */
        json_pack("[s,s]", ISS_A "/token", ISS_B "/token"),
        json_pack("[s,s]", ISS_A, ISS_B),
        json_string(ISS_A "/"),                       /* simple string comparison */
        json_string("HTTPS://as.example/t/a"),
        json_integer(1),
        json_null(),
        NULL,                                         /* no aud at all */
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        assert_int_equal(judge_aud(k, jwk_text, refused[i], ISS_A), SIGNET_ERR_AUDIENCE_MISMATCH);
        assert_int_equal(judge_aud(k, jwk_text, refused[i], ISS_B), SIGNET_ERR_AUDIENCE_MISMATCH);
        json_decref(refused[i]);
    }
    /* An embedded NUL never passes for the issuer (the JSON door refuses
     * it before the comparison could be fooled). */
    a = json_stringn(ISS_A "\0x", sizeof ISS_A + 1);
    assert_int_not_equal(judge_aud(k, jwk_text, a, ISS_A), SIGNET_OK);
    json_decref(a);
    free(jwk_text);
    EVP_PKEY_free(k);
}

static void test_registration_jwk(void **state)
{
    (void)state;
    const char *why = NULL;
    assert_int_equal(sg_client_jwk_check(jwk, strlen(jwk), &why), SIGNET_OK);
    static const char *const bad[] = {
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"d\":\"AAAA\",\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\",\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}",
        "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\",\"x\":\"v7O5wLme_H36vrH8dYoJxkFDUAavuAweb7Pw0L2VYu4\",\"y\":\"VwnCo-O8mzAjsAJiccEsP_AVtkEpxKxZXbcIRptKeFg\"}",
        "[]", "{", "", "{\"kty\":\"EC\",\"kty\":\"EC\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (sg_client_jwk_check(bad[i], strlen(bad[i]), &why) == SIGNET_OK)
            fail_msg("JWK %zu accepted", i);
    assert_int_equal(sg_client_jwk_check(bad[0], strlen(bad[0]), &why), SIGNET_ERR_FORBIDDEN_HEADER);
    assert_non_null(strstr(why, "private"));
}

static struct sg_client secret_client(const char *tenant, const char *id, const char *scopes)
{
    struct sg_client c = {.auth = SG_CLIENT_SECRET, .created_at = 1};
    (void)snprintf(c.tenant, sizeof c.tenant, "%s", tenant);
    (void)snprintf(c.client_id, sizeof c.client_id, "%s", id);
    c.secret_hash = strdup("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    c.scopes = strdup(scopes);
    c.default_scopes = strdup("");
    c.audiences = strdup("https://a");
    return c;
}

/* signetd keeps client rows it has read; a change made through another
 * handle (the CLI, another signetd) must be seen by the very next lookup:
 * a removed client is gone, a re-registered one has its new values. */
static void test_store_client_cache_coherent(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "sg-client-cache"), 0);
    (void)snprintf(path, sizeof path, "%s/s.db", dir);
    struct sg_store *a = NULL, *b = NULL;
    assert_int_equal(sg_store_open(path, 1, &a), SIGNET_OK);
    assert_int_equal(sg_store_open(path, 0, &b), SIGNET_OK);
    struct sg_client c = secret_client("t1", "web", "v0");
    assert_int_equal(sg_store_client_insert(b, &c), SIGNET_OK);
    sg_client_clear(&c);
    struct sg_client got;
    for (int i = 0; i < 2; i++) { /* a miss, then a hit */
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
        assert_string_equal(got.scopes, "v0");
        sg_client_clear(&got);
    }
    for (int i = 1; i <= 150; i++) {
        char v[16];
        (void)snprintf(v, sizeof v, "v%d", i);
        assert_int_equal(sg_store_client_delete(b, "t1", "web"), SIGNET_OK);
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_ERR_NOT_FOUND);
        c = secret_client("t1", "web", v);
        assert_int_equal(sg_store_client_insert(b, &c), SIGNET_OK);
        sg_client_clear(&c);
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
        assert_string_equal(got.scopes, v);
        sg_client_clear(&got);
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
        assert_string_equal(got.scopes, v);
        sg_client_clear(&got);
    }
#define OLD_HASH "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"
    /* Its own replay-cache writes (which do not empty its cache) hide no
     * change by another handle, and its own client change is seen. */
    for (int i = 0; i < 20; i++) {
        char j[16];
        (void)snprintf(j, sizeof j, "j%d", i);
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
        sg_client_clear(&got);
        assert_int_equal(sg_store_jti_use(a, "t1", "web", j, 5000, 1000), SIGNET_OK);
        assert_int_equal(sg_store_dpop_jti_use(a, "t1", j, 5000, 1000, 0), SIGNET_OK);
        assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
        assert_string_equal(got.secret_hash, i == 0 ? OLD_HASH : "h2");
        sg_client_clear(&got);
        if (i == 0) {
            assert_int_equal(sg_store_client_rehash(a, "t1", "web", OLD_HASH, "h2"), SIGNET_OK);
            assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_OK);
            assert_string_equal(got.secret_hash, "h2");
            sg_client_clear(&got);
        }
    }
    assert_int_equal(sg_store_client_delete(b, "t1", "web"), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(a, "t1", "web", "after", 5000, 1000), SIGNET_OK);
    assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_ERR_NOT_FOUND);
    c = secret_client("t1", "web", "again");
    assert_int_equal(sg_store_client_insert(b, &c), SIGNET_OK);
    sg_client_clear(&c);
#undef OLD_HASH
    /* Its own removal too, and many clients (more than it keeps). */
    assert_int_equal(sg_store_client_delete(a, "t1", "web"), SIGNET_OK);
    assert_int_equal(sg_store_client_get(a, "t1", "web", &got), SIGNET_ERR_NOT_FOUND);
    for (int i = 0; i < 300; i++) {
        char id[16];
        (void)snprintf(id, sizeof id, "c%d", i);
        c = secret_client("t2", id, id);
        assert_int_equal(sg_store_client_insert(b, &c), SIGNET_OK);
        sg_client_clear(&c);
    }
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 300; i++) {
            char id[16];
            (void)snprintf(id, sizeof id, "c%d", i);
            assert_int_equal(sg_store_client_get(a, "t2", id, &got), SIGNET_OK);
            assert_string_equal(got.scopes, id);
            assert_string_equal(got.client_id, id);
            sg_client_clear(&got);
        }
    sg_store_close(&b);
    sg_store_close(&a);
}

static void test_store_clients_and_jti(void **state)
{
    (void)state;
    char dir[256], path[320];
    assert_int_equal(sg_test_mkdtemp(dir, sizeof dir, "sg-token-store"), 0);
    (void)snprintf(path, sizeof path, "%s/s.db", dir);
    struct sg_store *s = NULL;
    assert_int_equal(sg_store_open(path, 1, &s), SIGNET_OK);
    assert_int_equal(sg_store_schema_version(s), 6); /* 6: second factors (issue 14) */
    struct sg_client c = {.auth = SG_CLIENT_SECRET, .created_at = 1};
    (void)snprintf(c.tenant, sizeof c.tenant, "t1");
    (void)snprintf(c.client_id, sizeof c.client_id, "web");
    c.secret_hash = strdup("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    c.scopes = strdup("read write");
    c.default_scopes = strdup("read");
    c.audiences = strdup("https://a https://b");
    int64_t v0 = 0, v1 = 0;
    assert_int_equal(sg_store_version(s, &v0), SIGNET_OK);
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    assert_int_equal(sg_store_version(s, &v1), SIGNET_OK);
    assert_true(v1 > v0);
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_ERR_EXISTS);
    (void)snprintf(c.tenant, sizeof c.tenant, "t2"); /* same id, other tenant */
    assert_int_equal(sg_store_client_insert(s, &c), SIGNET_OK);
    sg_client_clear(&c);
    struct sg_client got;
    assert_int_equal(sg_store_client_get(s, "t1", "web", &got), SIGNET_OK);
    assert_string_equal(got.audiences, "https://a https://b");
    assert_int_equal(got.auth, SG_CLIENT_SECRET);
    assert_null(got.jwk);
    sg_client_clear(&got);
    assert_int_equal(sg_store_client_get(s, "t1", "nobody", &got), SIGNET_ERR_NOT_FOUND);
    assert_int_equal(sg_store_client_get(s, "t3", "web", &got), SIGNET_ERR_NOT_FOUND);
    /* A secret client without a hash violates the schema. */
    struct sg_client broken = {.auth = SG_CLIENT_SECRET};
    (void)snprintf(broken.tenant, sizeof broken.tenant, "t1");
    (void)snprintf(broken.client_id, sizeof broken.client_id, "nohash");
    assert_int_not_equal(sg_store_client_insert(s, &broken), SIGNET_OK);
    struct sg_client *list = NULL;
    size_t n = 0;
    assert_int_equal(sg_store_client_list(s, "t1", &list, &n), SIGNET_OK);
    assert_int_equal(n, 1);
    sg_client_list_free(list, n);
    assert_int_equal(sg_store_client_list(s, NULL, &list, &n), SIGNET_OK);
    assert_int_equal(n, 2);
    sg_client_list_free(list, n);
    assert_int_equal(sg_store_client_delete(s, "t1", "web"), SIGNET_OK);
    assert_int_equal(sg_store_client_delete(s, "t1", "web"), SIGNET_ERR_NOT_FOUND);
    /* The replay cache: once per jti until it expires, per client. */
    assert_int_equal(sg_store_jti_use(s, "t1", "c", "j1", 200, 100), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c", "j1", 200, 150), SIGNET_ERR_EXISTS);
    assert_int_equal(sg_store_jti_use(s, "t1", "d", "j1", 200, 150), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t2", "c", "j1", 200, 150), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c", "j1", 300, 201), SIGNET_OK); /* expired */
    assert_int_equal(sg_store_jti_use(s, "t1", "c", "j1", 300, 250), SIGNET_ERR_EXISTS);
    sg_store_close(&s);
    /* It survives a reopen (a restart of signetd). */
    assert_int_equal(sg_store_open(path, 0, &s), SIGNET_OK);
    assert_int_equal(sg_store_jti_use(s, "t1", "c", "j1", 300, 260), SIGNET_ERR_EXISTS);
    sg_store_close(&s);
    sg_test_rmrf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_decoding),
        cmocka_unit_test(test_form_hostile),
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_token_request),
        cmocka_unit_test(test_code_grant),
        cmocka_unit_test(test_refresh_grant),
        cmocka_unit_test(test_grant_types),
        cmocka_unit_test(test_assertions),
        cmocka_unit_test(test_assertion_audience),
        cmocka_unit_test(test_registration_jwk),
        cmocka_unit_test(test_store_clients_and_jti),
        cmocka_unit_test(test_store_client_cache_coherent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
