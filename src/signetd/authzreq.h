/* The pure parsing of what a browser brings to the authorization endpoint
 * and the pages (authzreq.c): the authorization request's parameters and
 * the Cookie header. No store, no I/O: fuzzed by fuzz_authorize_query and
 * fuzz_cookie. */
#ifndef SD_AUTHZREQ_H
#define SD_AUTHZREQ_H

#include <stddef.h>

struct sg_authreq;
struct sg_client;
struct sg_form;

/* The value of cookie name in a Cookie header (RFC 6265 §5.4) into out,
 * NUL-terminated: 0, or -1 (no header, no such cookie, an empty value or
 * one of cap bytes or more). */
int sd_cookie_get(const char *header, const char *name, char *out, size_t cap);

/* A cookie value signet made: exactly 43 base64url characters. */
int sd_cookie_token(const char *v);

/* uri is one of the client's registered redirect URIs, compared exactly
 * (RFC 9700 §4.1.1): no prefix, no pattern, no normalisation. */
int sd_redirect_registered(const struct sg_client *cl, const char *uri);

/* The authorization request's parameters after the client and its
 * redirect URI (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 7636, RFC 9126):
 * response_type code, no request object, PKCE S256 with a 43-character
 * challenge, scopes the client may ask for (OIDC's own always), state,
 * nonce, acr_values and prompt within their sizes, prompt's words known
 * and none alone, max_age a number of seconds. Fills q's fields of those
 * (max_age -1 when absent). NULL when all hold; otherwise the OAuth error
 * code, with a description in why. */
const char *sd_authz_params(const struct sg_form *f, const struct sg_client *cl,
                            struct sg_authreq *q, char *why, size_t whylen);

#endif
