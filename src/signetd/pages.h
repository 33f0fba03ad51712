/* The HTML pages people see (issues 13, 14): sign-in (with its second
 * steps), enrolment, account, TOTP set-up, logout confirmation and
 * errors, and the two static assets they use (/assets/signet.js,
 * /assets/signet.css), served by signetd itself.
 * Every value is HTML-escaped; what the script needs travels in data-*
 * attributes of <main id="signet">, never in inline script. Each render
 * sets the answer's status, body, Content-Type and the pages' security
 * headers (r->page = 1: the strict CSP, X-Frame-Options, Referrer-Policy;
 * docs/people.md). */
#ifndef SD_PAGES_H
#define SD_PAGES_H

#include <stddef.h>
#include <stdint.h>

#include "signetd/resp.h"

/* The strict Content-Security-Policy of every page. */
#define SD_PAGE_CSP                                                                           \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "              \
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

/* "/t/<tenant>": the path prefix every page's script posts to. */
struct sd_page_base {
    const char *tenant_path; /* "/t/default" */
    const char *tenant;      /* "default" */
    const char *csrf;        /* the CSRF token for this browser */
};

/* Sign-in: a "Sign in with a passkey" button and conditional UI
 * (an <input autocomplete="username webauthn">), a password as a first
 * step (<details class="password">), and the second steps it leads to
 * (issue 14), hidden until POST /signin/password answers
 * {"next":"second_factor","methods":[...],"token":...}: a
 * <section id="second" hidden> with one wrapper per method
 * (data-method="passkey" | "approval" | "totp": #second-passkey,
 * #second-approval and the #approval panel with #approval-number and
 * #approval-expires, #totpcode and #second-totp). req: the pending
 * authorization request id ("" = sign in to the account page); client:
 * the requesting client's id ("" = none); notice: an optional line shown
 * above the button (e.g. "Sign in again to continue"). */
void sd_page_signin(struct sd_resp *r, const struct sd_page_base *b, const char *req,
                    const char *client, const char *notice);
/* Enrolment: "Create a passkey" for user_name. token: the one-time link's
 * token ("" = adding a passkey to the signed-in account). */
void sd_page_enrol(struct sd_resp *r, const struct sd_page_base *b, const char *user_name,
                   const char *token);
/* A passkey as the account page lists it. */
struct sd_page_passkey {
    const char *label;   /* e.g. the AAGUID or "passkey" */
    const char *kind;    /* "synced" / "device-bound" */
    int64_t created_at;  /* Unix seconds */
    int64_t last_used_at;
};
/* A registered approval device (signet-authenticator) as the account page
 * lists it. */
struct sd_page_device {
    const char *id;       /* the device id: the Remove button's data-device */
    const char *name;     /* what the person called it; NULL/"" = "device" */
    int64_t created_at;   /* Unix seconds */
    int64_t last_used_at; /* 0 = never */
};
/* Everything the account page shows. */
struct sd_page_account_info {
    const char *user_name;
    int64_t auth_time; /* the session's, Unix seconds; 0 = unknown */
    const struct sd_page_passkey *keys;
    size_t n_keys;
    int has_password;
    const struct sd_page_device *devices;
    size_t n_devices;
    int has_totp;
    int mfa_policy;     /* the tenant's SG_MFA_* (common/config.h); 0 = the default */
    const char *issuer; /* the tenant's issuer URL: data-issuer, for the
                         * `signet-authenticator enrol --issuer` line */
};
/* The account page: who is signed in, since when; Passkeys ("Add a
 * passkey"); Password; "Approval devices" (each with a Remove button,
 * class "remove-device" data-device="<id>"; #device-code "Register a
 * device" unless mfa_policy is SG_MFA_PHISHING_RESISTANT, whose sentence
 * says approvals are not accepted); "Authenticator app (TOTP)" when
 * mfa_policy is SG_MFA_ANY or has_totp (#totp-remove, or #totp-setup
 * which opens <base>/account/totp); "Sign out". a NULL: a 500. */
void sd_page_account(struct sd_resp *r, const struct sd_page_base *b,
                     const struct sd_page_account_info *a);
/* GET /account/totp: "Set up an authenticator app" for user_name: the QR
 * code of otpauth_uri as inline SVG (sd_qr_svg; a sentence instead when it
 * cannot be made), secret_b32 in 4-character groups for typing it in, the
 * note that it is shown once, and #totpcode + #totp-confirm (the script
 * posts /account/totp {csrf, code}). The page holds the secret: the
 * caller wipes r->body after sending it. */
void sd_page_totp(struct sd_resp *r, const struct sd_page_base *b, const char *user_name,
                  const char *otpauth_uri, const char *secret_b32);
/* Logout confirmation (RP-initiated logout): a "Sign out" button; the
 * values are posted back as they came. */
void sd_page_logout(struct sd_resp *r, const struct sd_page_base *b, const char *client_id,
                    const char *post_logout_redirect_uri, const char *state);
/* A plain page for a status (400, 403, 404, 410, 500, ...): a title and a
 * sentence saying what is wrong; no link that takes the error further. */
void sd_page_error(struct sd_resp *r, unsigned status, const char *title, const char *detail);
/* GET /assets/<name>: signet.js or signet.css (cacheable, immutable per
 * build); 404 for anything else. */
void sd_page_asset(struct sd_resp *r, const char *name);
/* HTML-escapes src (& < > " ' as entities; control characters dropped)
 * into dst; returns the length, or (size_t)-1 when dst is too small. */
size_t sd_html_escape(char *dst, size_t cap, const char *src);

#if SIGNET_TESTING
/* Test hook: the nth allocation from now on (pages and assets) fails;
 * 0 turns failures off. */
void sd_pages_test_fail_alloc(unsigned nth);
#endif

#endif
