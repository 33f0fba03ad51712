/* Parsing of untrusted OAuth 2.0 token requests, kept free of I/O so the
 * fuzzer and the unit tests drive exactly what signetd runs:
 *   - application/x-www-form-urlencoded bodies (RFC 6749 Appendix B),
 *   - the Basic authorization header (RFC 6749 §2.3.1, RFC 7617),
 *   - scope lists (RFC 6749 §3.3),
 *   - the token request as a whole: client_credentials (RFC 6749 §4.4),
 *     authorization_code with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5) and
 *     refresh_token (RFC 6749 §6), and its client authentication (§2.3),
 *   - client assertions for private_key_jwt (RFC 7523 §3, RFC 7521 §4.2),
 *     through libsignet's strict JWS and JWK layer. */
#ifndef SG_OAUTH_REQ_H
#define SG_OAUTH_REQ_H

#include <stddef.h>
#include <stdint.h>

#include "signet/error.h"

#define SG_FORM_MAX_PARAMS 32
#define SG_FORM_MAX_BODY (64u * 1024u)
#define SG_BASIC_MAX 1024u       /* Authorization header value */
#define SG_OAUTH_ID_MAX 128u     /* client_id */
#define SG_OAUTH_SECRET_MAX 256u /* client_secret */
#define SG_OAUTH_SCOPE_MAX 1024u
#define SG_OAUTH_MAX_RESOURCES 8
#define SG_OAUTH_RESOURCE_MAX 512u
#define SG_JTI_MAX 256u
#define SG_OAUTH_CODE_MAX 256u     /* code */
#define SG_OAUTH_REFRESH_MAX 256u  /* refresh_token */
#define SG_OAUTH_URI_MAX 1024u     /* redirect_uri (people.h SG_PEOPLE_URI_MAX) */
#define SG_PKCE_VERIFIER_MIN 43u   /* RFC 7636 §4.1 */
#define SG_PKCE_VERIFIER_MAX 128u
#define SG_CLIENT_ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct sg_form_param {
    char *name;  /* decoded, NUL-terminated */
    char *value; /* decoded, NUL-terminated (no embedded NUL) */
};

struct sg_form {
    struct sg_form_param p[SG_FORM_MAX_PARAMS];
    size_t n;
};

/* Decodes a form body: '&'-separated name=value pairs, '+' for space,
 * strict %XX escapes. Errors: SIGNET_ERR_TOO_LARGE (len > max_len or more
 * than SG_FORM_MAX_PARAMS pairs), SIGNET_ERR_MALFORMED (bad escape, NUL,
 * empty or non-printable name), SIGNET_ERR_DUPLICATE_MEMBER (a name given
 * twice, RFC 6749 §3.2, unless listed in repeatable, a NULL-terminated
 * list such as {"resource", NULL} for RFC 8707). Values are wiped on clear
 * (they may be secrets). */
SIGNET_WUR signet_err sg_form_parse(const char *body, size_t len, size_t max_len,
                                    const char *const *repeatable, struct sg_form *out);
void sg_form_clear(struct sg_form *f);
/* The first value of name, or NULL. RFC 6749 §3.1: a parameter sent
 * without a value is treated as omitted, so an empty value gives NULL. */
const char *sg_form_get(const struct sg_form *f, const char *name);

/* "Basic <base64(urlencode(id) ':' urlencode(secret))>" (RFC 6749 §2.3.1).
 * The scheme is case-insensitive; the base64 must be canonical. *id and
 * *secret are malloc'd; free the secret with sg_oauth_free_secret. Errors:
 * SIGNET_ERR_UNSUPPORTED (another scheme), SIGNET_ERR_MALFORMED. */
SIGNET_WUR signet_err sg_basic_auth_parse(const char *header, char **id, char **secret);
void sg_oauth_free_secret(char **secret);

/* RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token =
 * 1*( %x21 / %x23-5B / %x5D-7E ). 1 when s is such a list. */
int sg_scope_valid(const char *s);
/* Checks every scope of requested against allowed (both valid lists) and
 * writes the granted list (requested order, duplicates dropped) into
 * granted. SIGNET_ERR_NOT_FOUND names the first unknown scope in bad. */
SIGNET_WUR signet_err sg_scope_check(const char *requested, const char *allowed, char *granted,
                                     size_t cap, char *bad, size_t badcap);
/* 1 when word is one of the space-separated words of list. */
int sg_list_contains(const char *list, const char *word);

enum sg_oauth_error {
    SG_OAUTH_OK = 0,
    SG_OAUTH_INVALID_REQUEST,
    SG_OAUTH_INVALID_CLIENT,
    SG_OAUTH_INVALID_GRANT,
    SG_OAUTH_UNAUTHORIZED_CLIENT,
    SG_OAUTH_UNSUPPORTED_GRANT_TYPE,
    SG_OAUTH_INVALID_SCOPE,
    SG_OAUTH_INVALID_TARGET,
    SG_OAUTH_TEMPORARILY_UNAVAILABLE,
    SG_OAUTH_SERVER_ERROR,
};
/* The RFC 6749 §5.2 / RFC 8707 error code ("invalid_request", ...). */
const char *sg_oauth_error_code(enum sg_oauth_error e);

enum sg_client_auth_kind {
    SG_AUTH_NONE = 0,
    SG_AUTH_BASIC,     /* client_secret_basic */
    SG_AUTH_POST,      /* client_secret_post */
    SG_AUTH_ASSERTION, /* private_key_jwt */
};

enum sg_grant_type {
    SG_GRANT_TYPE_NONE = 0,               /* client authentication alone (PAR, RFC 9126 §2) */
    SG_GRANT_TYPE_CLIENT_CREDENTIALS = 1, /* RFC 6749 §4.4 */
    SG_GRANT_TYPE_AUTHORIZATION_CODE = 2, /* RFC 6749 §4.1.3 with PKCE (RFC 7636) */
    SG_GRANT_TYPE_REFRESH_TOKEN = 3,      /* RFC 6749 §6 */
};

struct sg_token_req {
    enum sg_grant_type grant;
    enum sg_client_auth_kind auth; /* SG_AUTH_NONE: a public client, client_id alone */
    int basic_tried;  /* an Authorization header was sent (WWW-Authenticate) */
    char *client_id;  /* from Basic, client_id, or the assertion's sub (unverified) */
    char *secret;     /* Basic or client_secret_post */
    char *assertion;  /* client_assertion */
    char *scope;      /* NULL: absent (always NULL for authorization_code) */
    char *resources[SG_OAUTH_MAX_RESOURCES]; /* resource (RFC 8707) and audience values */
    size_t n_resources;
    /* authorization_code; code and code_verifier are credentials (wiped) */
    char *code;
    char *redirect_uri;
    char *code_verifier;
    /* refresh_token; a credential (wiped) */
    char *refresh_token;
};

/* Parses a token request: the form body and the Authorization header
 * value (NULL when absent). Checks grant_type (client_credentials,
 * authorization_code, refresh_token; others: unsupported_grant_type), that
 * at most one client authentication method is used (RFC 6749 §2.3), the
 * shape of client_id, scope, resource (absolute URI without fragment) and
 * audience, and (without verifying it) that a client assertion names its
 * client. client_credentials needs client authentication; the other two
 * grants also accept a public client naming itself with client_id alone
 * (auth SG_AUTH_NONE, RFC 6749 §4.1.3, §6). authorization_code needs code,
 * redirect_uri and a code_verifier of 43..128 characters of
 * [A-Za-z0-9-._~] (RFC 7636 §4.1); refresh_token needs refresh_token. On
 * failure returns the error and a description in why (which never quotes a
 * secret, an assertion, a code, a verifier or a refresh token). */
enum sg_oauth_error sg_token_req_parse(const char *body, size_t len, const char *authz,
                                       struct sg_token_req *out, char *why, size_t whylen);
void sg_token_req_clear(struct sg_token_req *r);

/* The client authentication alone of an already parsed form and the
 * Authorization header (NULL when absent), as sg_token_req_parse checks
 * it, for the pushed authorization request endpoint (RFC 9126 §2.1: the
 * token endpoint's methods; a public client names itself with client_id).
 * out->grant is SG_GRANT_TYPE_NONE; only the client fields are set. */
enum sg_oauth_error sg_client_auth_parse(const struct sg_form *f, const char *authz,
                                         struct sg_token_req *out, char *why, size_t whylen);

/* ---- private_key_jwt (RFC 7523) ---------------------------------------- */

/* Algorithms accepted for client assertions. */
#define SG_ASSERTION_ALGS "ES256 EdDSA PS256"

/* The unverified client_id of an assertion: its sub, which must equal its
 * iss (RFC 7523 §3 items 1-2). *client_id is malloc'd. */
SIGNET_WUR signet_err sg_assertion_peek(const char *assertion, size_t len, char **client_id);

struct sg_assertion_policy {
    const char *client_id; /* iss and sub must equal it */
    const char *issuer;    /* the one accepted aud (draft-ietf-oauth-rfc7523bis) */
    int64_t now;
    int64_t skew;               /* tolerance for exp, nbf, iat */
    int64_t max_ahead;          /* exp at most now + max_ahead (+ skew) */
};

struct sg_assertion_info {
    char jti[SG_JTI_MAX + 1];
    int64_t exp;
};

/* Verifies a client assertion against the client's registered public JWK
 * (JSON text) only: strict compact JWS, alg in SG_ASSERTION_ALGS and
 * allowed by the key, typ absent, "JWT" or "client-authentication+jwt",
 * kid (when both carry one) equal to the JWK's, signature, iss = sub =
 * client_id, aud exactly the issuer as a JSON string (not an array, not
 * the token endpoint URL: draft-ietf-oauth-rfc7523bis), exp in
 * (now - skew, now + max_ahead + skew], nbf and iat not in the future, and
 * a jti. Never consults a replay cache: the caller records info->jti.
 * *why gets a static description on failure. */
SIGNET_WUR signet_err sg_assertion_verify(const char *assertion, size_t len, const char *jwk_json,
                                          const struct sg_assertion_policy *pol,
                                          struct sg_assertion_info *info, const char **why);

/* Checks a JWK offered for registration: a public key of a supported type
 * usable with one of SG_ASSERTION_ALGS, without private members (d, p, q,
 * dp, dq, qi, oth, k). *why gets a static description on failure. */
SIGNET_WUR signet_err sg_client_jwk_check(const char *jwk_json, size_t len, const char **why);

#endif
