/* People's endpoints (issue 13, docs/people.md): the sign-in and
 * enrolment pages and their WebAuthn ceremonies, browser sessions and
 * their cookies, CSRF, the account page and logout (signin.c); the
 * authorization endpoint, PAR and userinfo (oidc.c). http.c routes every
 * path below to sd_people_endpoint, with the request as struct
 * sd_people_in. */
#ifndef SD_SIGNIN_H
#define SD_SIGNIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "signet/error.h"
#include "signetd/resp.h"
#include "store/people.h"

struct sd_ctx;
struct sg_config;
struct sg_tenant_cfg;

#define SD_PEOPLE_MAX_BODY (32u * 1024u)
#define SD_PEOPLE_MAX_QUERY 8192u

enum sd_people_route {
    SD_P_NONE = 0,
    SD_P_AUTHORIZE, /* /authorize */
    SD_P_PAR,       /* /par */
    SD_P_SIGNIN,    /* /signin */
    SD_P_OPTIONS,   /* /webauthn/options */
    SD_P_ENROL,     /* /enrol */
    SD_P_ACCOUNT,   /* /account */
    SD_P_LOGOUT,    /* /logout */
    SD_P_USERINFO,  /* /userinfo */
    SD_P_PASSWORD,  /* /signin/password: a password, the first of two steps */
    SD_P_SET_PASSWORD, /* /account/password */
    /* Second steps and approver devices (mfa.c, issue 14). */
    SD_P_APPROVAL,          /* /signin/approval */
    SD_P_APPROVAL_STATUS,   /* /signin/approval/status */
    SD_P_TOTP,              /* /signin/totp */
    SD_P_ACCOUNT_TOTP,      /* /account/totp */
    SD_P_ACCOUNT_DEVICE,    /* /account/device */
    SD_P_APPROVER_REGISTER, /* /approver/register (signet-authenticator) */
    SD_P_APPROVER_PENDING,  /* /approver/pending */
    SD_P_APPROVER_ANSWER,   /* /approver/answer */
};

/* The route of "/<rest>" under a tenant, or SD_P_NONE. */
enum sd_people_route sd_people_route_of(const char *rest);
/* 1 when the route's POST body is a form (PAR, userinfo), 0 when JSON. */
int sd_people_form_body(enum sd_people_route r);

struct sd_people_in {
    const char *method;
    const char *query;  /* raw, %-escapes as sent; "" when none */
    const char *body;   /* "" when none */
    size_t len;
    const char *cookie; /* the Cookie header, or NULL */
    const char *origin; /* the Origin header, or NULL */
    const char *authz;  /* the Authorization header, or NULL */
    const char *device; /* the Signet-Device header (an approver's proof), or NULL */
    /* The header [server] location_header names (a trusted proxy's coarse
     * location of the client), or NULL when unset or not configured. */
    const char *location;
};

void sd_people_endpoint(struct sd_ctx *c, const struct sg_config *cfg,
                        const struct sg_tenant_cfg *t, enum sd_people_route route,
                        const struct sd_people_in *in, struct sd_resp *r);

/* ---- shared by signin.c and oidc.c ---------------------------------------- */

/* The tenant's live session from the request's cookie (SIGNET_ERR_NOT_FOUND
 * when none). */
SIGNET_WUR signet_err sd_session_of(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                    const char *cookie, struct sg_session *out);
/* 1 when the session meets the request: no prompt=login, auth_time within
 * max_age (-1: any), its acr meets acr_values (signet's values only). */
int sd_session_satisfies(const struct sg_session *s, const struct sg_authreq *q, int64_t now);
/* Issues a code for the session and the validated request and writes the
 * redirect to the client (code, state, iss) into location. */
SIGNET_WUR signet_err sd_oidc_code_redirect(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                            const struct sg_authreq *q,
                                            const struct sg_session *s, char *location,
                                            size_t cap);
/* The authorization endpoint and PAR (oidc.c). */
void sd_oidc_authorize(struct sd_ctx *c, const struct sg_config *cfg,
                       const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                       struct sd_resp *r);
void sd_oidc_par(struct sd_ctx *c, const struct sg_config *cfg, const struct sg_tenant_cfg *t,
                 const struct sd_people_in *in, struct sd_resp *r);
void sd_oidc_userinfo(struct sd_ctx *c, const struct sg_config *cfg,
                      const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                      struct sd_resp *r);

/* ---- the kit of the people's JSON endpoints (signin.c), for mfa.c --------- */

/* The request's body as a JSON object, or NULL. */
json_t *sd_people_body(const struct sd_people_in *in);
/* The string member name of o into out: 0, or -1 when it is missing (and
 * required), not a string, holds a NUL or does not fit. */
int sd_people_str(const json_t *o, const char *name, int required, char *out, size_t cap);
/* The request's CSRF token and Origin are this tenant's page's (1), or not
 * (0, with why). */
int sd_people_csrf_ok(const struct sg_tenant_cfg *t, const struct sd_people_in *in,
                      const char *token, const char **why);
/* The page's CSRF token into out (setting the browser's CSRF cookie when it
 * has none). 0, or -1. */
int sd_people_page_csrf(const struct sd_people_in *in, struct sd_resp *r, char out[44]);
/* A JSON answer (o is stolen; NULL: 500), and {"location": ...}. */
void sd_people_answer(struct sd_resp *r, unsigned status, json_t *o);
void sd_people_location(struct sd_resp *r, const char *location);
/* A new session for user_id (a new id: any session of the browser ends),
 * its cookie set on r. */
SIGNET_WUR signet_err sd_people_session_start(struct sd_ctx *c, const struct sg_tenant_cfg *t,
                                              const struct sd_people_in *in,
                                              const char *user_id, const char *acr,
                                              const char *amr, struct sd_resp *r,
                                              struct sg_session *out);
/* Where a sign-in goes on: the pending request req's redirect with a code
 * ("" = none: the account page). 0, or -1 when the request is gone. */
int sd_people_finish(struct sd_ctx *c, const struct sg_tenant_cfg *t, const char *req,
                     const struct sg_session *s, char *location, size_t cap);

/* Helpers. */
/* base64url(SHA-256(s)) into out (SG_PEOPLE_HASH_LEN + 1). */
void sd_people_hash(const char *s, size_t n, char out[SG_PEOPLE_HASH_LEN + 1]);
/* n random bytes as base64url into out. -1 on failure. */
int sd_people_random(size_t n, char *out, size_t cap);
/* The issuer's origin (scheme://host[:port]) and host (the RP ID). */
int sd_issuer_origin(const struct sg_tenant_cfg *t, char *origin, size_t ocap, char *host,
                     size_t hcap);
/* Appends "?name=value" (or "&...") to the URI in buf, the value
 * %-encoded (RFC 3986 unreserved characters kept). -1 when it does not fit. */
int sd_people_append_param(char *buf, size_t cap, const char *name, const char *value);
/* An OAuth-style JSON error answer. */
void sd_people_json_error(struct sd_resp *r, unsigned status, const char *code,
                          const char *why);

#endif
